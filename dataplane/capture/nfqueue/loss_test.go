package nfqueue

import (
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Missing packet ids are the packets the kernel numbered but could not
// deliver: kernel drops, or with FailOpen packets passed uninspected.
// (Without a proc table, as with the fake kernel, they are all there is.)
func TestIDGapsCounted(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		s, k := newFake(t, Options{Queue: 3, FailOpen: failOpen})
		s.idKnown, s.lastID = true, 0 // a new queue: ids start at 1
		for _, id := range []uint32{3, 4, 7, 7, 8, 10} {
			k.sendRaw(packetMsg(pkt{queue: 3, id: id, payload: ipPayload(int(id), 40)}))
		}
		// A malformed message with an id still uses its id.
		k.sendRaw(packetMsg(pkt{queue: 3, id: 12, payload: nil}))
		b := packet.NewBatch(16)
		if err := s.Next(b); err != nil {
			t.Fatal(err)
		}
		s.Done(b)
		c, st := s.Counters(), s.Stats()
		// Missing: 1, 2, 5, 6, 9, 11.
		if c.IDGaps != 6 {
			t.Errorf("failOpen=%v: IDGaps %d, want 6", failOpen, c.IDGaps)
		}
		wantDrops, wantUninspected := uint64(6), uint64(0)
		if failOpen {
			wantDrops, wantUninspected = 0, 6
		}
		if st.KernelDrops != wantDrops || st.Uninspected != wantUninspected || st.Packets != 6 || st.InvalidDrops != 1 {
			t.Errorf("failOpen=%v: stats %+v, want kernel drops %d uninspected %d", failOpen, st, wantDrops, wantUninspected)
		}
	}
}

// Without the kernel's id_sequence the first id received is the baseline.
func TestIDGapsBaseline(t *testing.T) {
	s, k := newFake(t, Options{Queue: 1})
	for _, id := range []uint32{1000, 1001, 1003} {
		k.sendRaw(packetMsg(pkt{queue: 1, id: id, payload: ipPayload(int(id), 40)}))
	}
	b := packet.NewBatch(4)
	if err := s.Next(b); err != nil {
		t.Fatal(err)
	}
	s.Done(b)
	if c := s.Counters(); c.IDGaps != 1 {
		t.Errorf("IDGaps %d, want 1", c.IDGaps)
	}
	// Ids wrap around after 2^32-1.
	s2, k2 := newFake(t, Options{Queue: 1})
	for _, id := range []uint32{0xfffffffe, 0xffffffff, 1} {
		k2.sendRaw(packetMsg(pkt{queue: 1, id: id, payload: ipPayload(int(id), 40)}))
	}
	if err := s2.Next(b); err != nil {
		t.Fatal(err)
	}
	s2.Done(b)
	if c := s2.Counters(); c.IDGaps != 1 { // id 0 follows 0xffffffff: missing
		t.Errorf("IDGaps across the wrap %d, want 1", c.IDGaps)
	}
}

// unreadLocked splits the ids after the last one received into packets in
// the socket and packets lost.
func TestUnreadSplit(t *testing.T) {
	s := &Source{idKnown: true, lastID: 100, delivered: 50, verdicted: 45}
	// 5 held by the engine; the kernel has 12 waiting: 7 in the socket;
	// it numbered up to 110: 10 after the last, 3 of them lost.
	in, lost := s.unreadLocked(procQueue{waiting: 12, idSequence: 110})
	if in != 7 || lost != 3 {
		t.Errorf("in socket %d, lost %d; want 7, 3", in, lost)
	}
	in, lost = s.unreadLocked(procQueue{waiting: 5, idSequence: 100})
	if in != 0 || lost != 0 {
		t.Errorf("nothing after the last: %d, %d", in, lost)
	}
	s.idKnown = false
	if in, lost := s.unreadLocked(procQueue{waiting: 12, idSequence: 110}); in != 0 || lost != 0 {
		t.Errorf("unknown baseline: %d, %d", in, lost)
	}
}
