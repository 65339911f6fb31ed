package nfqueue

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

func fuzzSeeds(f *testing.F) {
	a := packetMsg(pkt{id: 1, payload: ipPayload(1, 40), mark: 3, inDev: 2, ts: true, tsSec: 1, capLen: 90, skbInfo: 2})
	b := packetMsg(pkt{id: 2, payload: []byte{0x60, 0, 0}})
	two := append(append([]byte(nil), a...), 0, 0, 0, 0)[:align4(len(a))]
	two = append(two, b...)
	f.Add(a)
	f.Add(two)
	f.Add(a[:len(a)-7])
	f.Add(packetMsg(pkt{id: 5}))
	f.Add(packetMsg(pkt{queue: 1, id: 5, payload: []byte{1}}))
	f.Add(packetMsg(pkt{noHdr: true, payload: []byte{1}}))
	f.Add(appendVerdict(nil, true, 1, 0, nfAccept, 4, true, 1, nil))
	f.Add([]byte{})
	f.Add([]byte{16, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
}

// inside reports whether sub lies within buf.
func inside(sub, buf []byte) bool {
	if len(sub) == 0 {
		return true
	}
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	b := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return s >= b && s+uintptr(len(sub)) <= b+uintptr(len(buf))
}

// FuzzParsePacket runs the message walker and the packet parser over
// arbitrary datagrams: no panic, no endless loop, slices inside the input,
// and a clean parse always has an id and a payload.
func FuzzParsePacket(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, dg []byte) {
		var a pktAttrs
		for off, iter := 0, 0; off < len(dg); iter++ {
			if iter > len(dg) {
				t.Fatalf("no progress at offset %d", off)
			}
			msg, h, next, err := nextMessage(dg, off)
			if next <= off || next > len(dg) {
				t.Fatalf("next %d after %d (len %d)", next, off, len(dg))
			}
			off = next
			if err != nil && err != errMsgLen {
				continue
			}
			if !inside(msg, dg) || (err == nil && len(msg) != int(h.Len)) {
				t.Fatalf("message slice out of place")
			}
			perr := parsePacket(msg, &a)
			if !inside(a.payload, msg) {
				t.Fatalf("payload outside its message")
			}
			if perr == nil && (!a.hasID || len(a.payload) == 0) {
				t.Fatalf("clean parse without id or payload: %+v", a)
			}
			if len(a.payload) > 0 && cap(a.payload) != len(a.payload) {
				t.Fatalf("payload capacity reaches past it")
			}
			nlError(msg)
		}
	})
}

// FuzzSource feeds arbitrary datagrams to a Source through the socketpair
// kernel and checks the promises of Next and Done: every packet handed out
// and every packet message with a readable id of this queue gets exactly
// one verdict, and nothing else does.
func FuzzSource(f *testing.F) {
	fuzzSeeds(f)
	// One source for all inputs of a worker: each input is used up before
	// the next, and the checks use counter differences.
	s, k := newFake(f, Options{Queue: 0, CopyRange: 1024, PollTimeout: time.Microsecond, RecvBatch: 4})
	f.Fuzz(func(t *testing.T, dg []byte) {
		if len(dg) == 0 || len(dg) > 4096 {
			return
		}
		c0 := s.Counters()
		if _, err := unix.Write(k.fd, dg); err != nil {
			t.Fatalf("write: %v", err)
		}
		// Every id the Source could legitimately answer: packet messages
		// of queue 0 whose header parses.
		owed := map[uint32]int{}
		var a pktAttrs
		for off := 0; off < len(dg); {
			msg, h, next, err := nextMessage(dg, off)
			off = next
			if (err != nil && err != errMsgLen) || h.Type != typePacket {
				continue
			}
			parsePacket(msg, &a)
			if a.hasID && a.queue == 0 {
				owed[a.id]++
			}
		}
		b := packet.NewBatch(3)
		handed := 0
		for {
			if err := s.Next(b); err != nil {
				t.Fatalf("Next: %v", err)
			}
			if len(b.Pkts) == 0 {
				break // idle: the datagram is used up
			}
			for i, p := range b.Pkts {
				if !inside(p.Data, s.cur.data) {
					t.Fatalf("Data outside the receive buffer")
				}
				// Alternate so that no run forms: only singles, which
				// the check below can attribute.
				if i%2 == 0 {
					p.Flags |= packet.FlagModified
				} else {
					p.Verdict = packet.VerdictDrop
				}
			}
			handed += len(b.Pkts)
			s.Done(b)
			if s.curMsg >= s.cur.n {
				break
			}
		}
		vs := k.readAll(t)
		seen := map[uint32]int{}
		for _, v := range vs {
			if v.batch {
				t.Fatalf("batch verdict despite alternating verdicts")
			}
			seen[v.id]++
		}
		for id, n := range seen {
			if n > owed[id] {
				t.Fatalf("id %d got %d verdicts, %d packet messages carry it", id, n, owed[id])
			}
		}
		c := s.Counters()
		rcv, inv := c.Received-c0.Received, c.InvalidDrops-c0.InvalidDrops
		if uint64(handed) != rcv || rcv+inv != uint64(len(vs)) {
			t.Fatalf("handed %d, received %d, invalid %d, %d verdicts", handed, rcv, inv, len(vs))
		}
		if c.Accepted-c0.Accepted+c.Dropped-c0.Dropped != rcv {
			t.Fatalf("verdict counters do not add up: %+v", c)
		}
	})
}

// readAll reads the pending verdicts without the queue emulation (fuzzed
// ids need not be in order).
func (k *fakeKernel) readAll(t testing.TB) []gotVerdict {
	var all []gotVerdict
	for {
		n, err := unix.Read(k.fd, k.rbuf)
		if err != nil {
			return all
		}
		vs, err := parseVerdicts(k.rbuf[:n])
		if err != nil {
			t.Fatalf("bad verdict datagram: %v", err)
		}
		all = append(all, vs...)
	}
}
