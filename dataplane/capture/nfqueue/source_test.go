package nfqueue

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

func TestNextFillsPackets(t *testing.T) {
	s, k := newFake(t, Options{Queue: 7})
	k.sendRaw(packetMsg(pkt{queue: 7, id: 11, payload: ipPayload(1, 60), mark: 0x42, inDev: 3, outDev: 4,
		ts: true, tsSec: 1700000000, tsUsec: 123456, hook: HookForward, skbInfo: SkbCsumNotReady}))
	k.sendRaw(packetMsg(pkt{queue: 7, id: 12, payload: ipPayload(2, 64), capLen: 1500}))
	k.note(11, 12)
	b := packet.NewBatch(8)
	before := time.Now().UnixNano()
	if err := s.Next(b); err != nil {
		t.Fatalf("Next: %v", err)
	}
	if len(b.Pkts) != 2 {
		t.Fatalf("got %d packets, want 2", len(b.Pkts))
	}
	p := b.Pkts[0]
	if !bytes.Equal(p.Data, ipPayload(1, 60)) || p.WireLen != 60 || p.LinkType != packet.LinkRaw ||
		p.Num != 1 || p.Queue != 7 || p.Handle != 11 || p.Origin != packet.OriginWire {
		t.Errorf("packet 0: len %d wire %d link %d num %d queue %d handle %d", len(p.Data), p.WireLen, p.LinkType, p.Num, p.Queue, p.Handle)
	}
	if want := int64(1700000000)*1e9 + 123456*1e3; p.TimeNs != want {
		t.Errorf("packet 0 time %d, want %d", p.TimeNs, want)
	}
	m := s.Meta(b, 0)
	if m != (Meta{ID: 11, HWProtocol: 0x0800, Hook: HookForward, Mark: 0x42, InDev: 3, OutDev: 4, SkbInfo: SkbCsumNotReady}) {
		t.Errorf("meta 0 = %+v", m)
	}
	p = b.Pkts[1]
	if len(p.Data) != 64 || p.WireLen != 1500 || p.Num != 2 || p.Handle != 12 {
		t.Errorf("packet 1: len %d wire %d num %d handle %d", len(p.Data), p.WireLen, p.Num, p.Handle)
	}
	if p.TimeNs < before || p.TimeNs > time.Now().UnixNano() {
		t.Errorf("packet 1 without timestamp got time %d, want the read time", p.TimeNs)
	}
	if cap(b.Pkts[0].Data) != len(b.Pkts[0].Data) {
		t.Errorf("Data capacity %d beyond its length %d: appending would overwrite the next message", cap(b.Pkts[0].Data), len(b.Pkts[0].Data))
	}
	s.Done(b)
	if len(b.Pkts) != 0 {
		t.Errorf("Done left %d packets in the batch", len(b.Pkts))
	}
	vs := k.readVerdicts()
	if len(vs) != 1 || !vs[0].batch || vs[0].id != 12 || vs[0].code != nfAccept || vs[0].hasMark {
		t.Fatalf("verdicts %+v, want one batch accept up to 12", vs)
	}
	if len(k.queued) != 0 {
		t.Errorf("ids left without verdict: %v", k.queued)
	}
	st := s.Stats()
	if st.Packets != 2 || st.Bytes != 124 || st.Truncated != 1 || st.KernelDrops != 0 || st.InvalidDrops != 0 {
		t.Errorf("stats %+v", st)
	}
	c := s.Counters()
	if c.Received != 2 || c.Accepted != 2 || c.BatchVerdicts != 1 || c.SingleVerdicts != 0 || c.Writes != 1 || c.Truncated != 1 {
		t.Errorf("counters %+v", c)
	}
}

// runVerdicts queues len(vs) packets, gives them the verdicts (and flags),
// and returns what the kernel got per id plus the messages.
func runVerdicts(t *testing.T, o Options, marks []uint32, vs []packet.Verdict, flags []uint32) (*Source, *fakeKernel, []gotVerdict, []uint32) {
	t.Helper()
	s, k := newFake(t, o)
	ids := make([]uint32, len(vs))
	for i := range vs {
		k.nextID++
		ids[i] = k.nextID
		var mark uint32
		if marks != nil {
			mark = marks[i]
		}
		k.sendRaw(packetMsg(pkt{queue: o.Queue, id: ids[i], payload: ipPayload(i, 40), mark: mark}))
		k.note(ids[i])
	}
	b := packet.NewBatch(len(vs))
	if err := s.Next(b); err != nil || len(b.Pkts) != len(vs) {
		t.Fatalf("Next: %v, %d packets", err, len(b.Pkts))
	}
	for i, p := range b.Pkts {
		p.Verdict = vs[i]
		if flags != nil {
			p.Flags |= flags[i]
		}
	}
	s.Done(b)
	got := k.readVerdicts()
	if len(k.queued) != 0 {
		t.Fatalf("ids left without verdict: %v", k.queued)
	}
	return s, k, got, ids
}

func TestVerdictRunsAccept(t *testing.T) {
	F, D, R, B := packet.VerdictForward, packet.VerdictDrop, packet.VerdictReject, packet.VerdictBypass
	vs := []packet.Verdict{F, F, D, R, D, F, B, B, F, F, packet.Verdict(9)}
	flags := make([]uint32, len(vs))
	flags[9] = packet.FlagModified
	s, k, got, ids := runVerdicts(t, Options{Queue: 1, BypassMark: 0x2}, nil, vs, flags)
	want := []uint32{nfAccept, nfAccept, nfDrop, nfDrop, nfDrop, nfAccept, nfAccept, nfAccept, nfAccept, nfAccept, nfDrop}
	for i, id := range ids {
		v := k.final[id]
		if v.code != want[i] {
			t.Errorf("packet %d (id %d): verdict %d, want %d", i, id, v.code, want[i])
		}
		bypass := vs[i] == B
		if v.hasMark != bypass || (bypass && v.mark != 0x2) {
			t.Errorf("packet %d: mark %v %#x, want bypass mark only on bypass", i, v.hasMark, v.mark)
		}
		if (i == 9) != (v.payload != nil) {
			t.Errorf("packet %d: payload %v", i, v.payload != nil)
		}
	}
	// Runs: [F F] [D R D] [F] [B B] [F] [F modified] [unknown->drop]
	if len(got) != 7 {
		t.Errorf("%d messages, want 7: %+v", len(got), got)
	}
	if k.writes != 1 {
		t.Errorf("%d writes for one batch, want 1", k.writes)
	}
	if !bytes.Equal(k.final[ids[9]].payload, ipPayload(9, 40)) {
		t.Errorf("modified payload not sent back as is")
	}
	c := s.Counters()
	if c.Accepted != 5 || c.Dropped != 4 || c.Bypassed != 2 || c.Modified != 1 || c.BatchVerdicts != 3 || c.SingleVerdicts != 4 {
		t.Errorf("counters %+v", c)
	}
}

func TestVerdictRepeatMarks(t *testing.T) {
	F, D, B := packet.VerdictForward, packet.VerdictDrop, packet.VerdictBypass
	marks := []uint32{0, 0, 0x100, 0x100, 0x101, 0, 0xf0}
	vs := []packet.Verdict{F, F, F, F, F, D, B}
	o := Options{Queue: 3, VerdictMode: ModeRepeat, Mark: 0x1, Mask: 0x1, BypassMark: 0x20, BypassMask: 0x30}
	s, k, got, ids := runVerdicts(t, o, marks, vs, nil)
	wantMark := []uint32{0x1, 0x1, 0x101, 0x101, 0x101, 0, 0xe1}
	for i, id := range ids {
		v := k.final[id]
		if vs[i] == D {
			if v.code != nfDrop {
				t.Errorf("packet %d: code %d, want drop", i, v.code)
			}
			continue
		}
		if v.code != nfRepeat || !v.hasMark || v.mark != wantMark[i] {
			t.Errorf("packet %d: code %d mark %v %#x, want repeat with %#x", i, v.code, v.hasMark, v.mark, wantMark[i])
		}
	}
	// Runs by mark: [1 1] [101 101 101] [drop] [bypass]
	if len(got) != 4 {
		t.Errorf("%d messages, want 4: %+v", len(got), got)
	}
	c := s.Counters()
	if c.Repeated != 5 || c.Dropped != 1 || c.Bypassed != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestVerdictRoute(t *testing.T) {
	F, D := packet.VerdictForward, packet.VerdictDrop
	for _, failOpen := range []bool{false, true} {
		s, k, _, ids := runVerdicts(t, Options{Queue: 2, VerdictMode: ModeRoute, RouteQueue: 9, FailOpen: failOpen}, nil, []packet.Verdict{F, D, F}, nil)
		want := uint32(nfQueue | 9<<16)
		if failOpen {
			want |= 0x8000
		}
		if k.final[ids[0]].code != want || k.final[ids[2]].code != want || k.final[ids[1]].code != nfDrop {
			t.Errorf("fail-open %v: codes %#x %#x %#x, want %#x", failOpen, k.final[ids[0]].code, k.final[ids[1]].code, k.final[ids[2]].code, want)
		}
		if c := s.Counters(); c.Routed != 2 || c.Dropped != 1 {
			t.Errorf("counters %+v", c)
		}
	}
}

// With two batches out, the younger one must not use batch verdicts: "every
// id up to N" would take the older batch's packets too.
func TestOutstandingBatches(t *testing.T) {
	s, k := newFake(t, Options{Queue: 5})
	b1, b2 := packet.NewBatch(4), packet.NewBatch(4)
	k.queuePkts(4, 50)
	if err := s.Next(b1); err != nil || len(b1.Pkts) != 4 {
		t.Fatalf("Next b1: %v %d", err, len(b1.Pkts))
	}
	k.queuePkts(4, 50)
	if err := s.Next(b2); err != nil || len(b2.Pkts) != 4 {
		t.Fatalf("Next b2: %v %d", err, len(b2.Pkts))
	}
	if err := s.Next(b1); !errors.Is(err, ErrBatchOutstanding) {
		t.Errorf("Next on a lent batch: %v, want ErrBatchOutstanding", err)
	}
	// Data of b1 must survive the second receive.
	for i, p := range b1.Pkts {
		if !bytes.Equal(p.Data, ipPayload(i+1, 50)) {
			t.Fatalf("b1 packet %d overwritten by the next receive", i)
		}
	}
	for _, p := range b2.Pkts {
		p.Verdict = packet.VerdictDrop
	}
	s.Done(b2)
	vs := k.readVerdicts()
	if len(vs) != 4 {
		t.Fatalf("younger batch: %d messages, want 4 singles: %+v", len(vs), vs)
	}
	for _, v := range vs {
		if v.batch || v.code != nfDrop {
			t.Errorf("younger batch verdict %+v", v)
		}
	}
	s.Done(b1)
	vs = k.readVerdicts()
	if len(vs) != 1 || !vs[0].batch || vs[0].id != 4 || vs[0].code != nfAccept {
		t.Errorf("older batch verdicts %+v, want one batch accept up to 4", vs)
	}
	for id := uint32(1); id <= 8; id++ {
		want := uint32(nfAccept)
		if id > 4 {
			want = nfDrop
		}
		if k.final[id].code != want {
			t.Errorf("id %d: verdict %d, want %d", id, k.final[id].code, want)
		}
	}
}

// One datagram may carry several messages; what does not fit the batch is
// handed out by the next Next.
func TestSeveralMessagesPerDatagram(t *testing.T) {
	s, k := newFake(t, Options{Queue: 0})
	var dg []byte
	for id := uint32(1); id <= 6; id++ {
		dg = append(dg, packetMsg(pkt{id: id, payload: ipPayload(int(id), 33)})...)
		for len(dg)%4 != 0 {
			dg = append(dg, 0)
		}
		k.note(id)
	}
	k.sendRaw(dg)
	k.nextID = 6
	b1, b2 := packet.NewBatch(4), packet.NewBatch(4)
	if err := s.Next(b1); err != nil || len(b1.Pkts) != 4 {
		t.Fatalf("Next: %v %d", err, len(b1.Pkts))
	}
	if err := s.Next(b2); err != nil || len(b2.Pkts) != 2 {
		t.Fatalf("Next: %v %d", err, len(b2.Pkts))
	}
	if b2.Pkts[0].Handle != 5 || !bytes.Equal(b2.Pkts[1].Data, ipPayload(6, 33)) {
		t.Errorf("second batch starts at handle %d", b2.Pkts[0].Handle)
	}
	s.Done(b1)
	s.Done(b2)
	k.readVerdicts()
	if len(k.queued) != 0 {
		t.Errorf("ids left: %v", k.queued)
	}
	// The buffer is free again: a new receive works.
	k.queuePkts(2, 20)
	if err := s.Next(b1); err != nil || len(b1.Pkts) != 2 || b1.Pkts[0].Handle != 7 {
		t.Fatalf("Next after reuse: %v %d", err, len(b1.Pkts))
	}
	s.Done(b1)
	k.readVerdicts()
}

func TestInvalidMessages(t *testing.T) {
	s, k := newFake(t, Options{Queue: 4, CopyRange: 128})
	// No payload (copy mode not set): dropped at once, counted.
	k.sendRaw(packetMsg(pkt{queue: 4, id: 1}))
	k.note(1)
	// Error reply to a verdict.
	er := ne.AppendUint32(nil, 36)
	er = ne.AppendUint16(er, nlmsgError)
	er = ne.AppendUint16(er, 0)
	er = ne.AppendUint32(er, 0)
	er = ne.AppendUint32(er, 0)
	er = ne.AppendUint32(er, uint32(0xffffffff-uint32(unix.ENOENT)+1))
	er = appendHeader(er, typeVerdict, nlmFRequest, 77, 4)[:36]
	k.sendRaw(er)
	// Garbage, a message of an unknown type, a packet for another queue.
	k.sendRaw([]byte{1, 2, 3})
	k.sendRaw(appendHeader(nil, 0x1234, 0, 0, 4)[:16])
	k.sendRaw(packetMsg(pkt{queue: 5, id: 99, payload: ipPayload(0, 20)}))
	// Longer than the receive slot (CopyRange 128 + overhead): truncated
	// datagram, but its id is readable, so it gets dropped.
	k.sendRaw(packetMsg(pkt{queue: 4, id: 2, payload: ipPayload(0, 4000)}))
	k.note(2)
	// A good one.
	k.sendRaw(packetMsg(pkt{queue: 4, id: 3, payload: ipPayload(3, 20)}))
	k.note(3)
	b := packet.NewBatch(8)
	if err := s.Next(b); err != nil {
		t.Fatalf("Next: %v", err)
	}
	if len(b.Pkts) != 1 || b.Pkts[0].Handle != 3 {
		t.Fatalf("got %d packets, want only id 3", len(b.Pkts))
	}
	vs := k.readVerdicts()
	if len(vs) != 2 || vs[0].code != nfDrop || vs[1].code != nfDrop || vs[0].batch || vs[1].batch {
		t.Errorf("immediate verdicts %+v, want single drops for ids 1 and 2", vs)
	}
	s.Done(b)
	k.readVerdicts()
	if len(k.queued) != 0 {
		t.Errorf("ids left: %v", k.queued)
	}
	c := s.Counters()
	if c.InvalidDrops != 2 || c.VerdictNacks != 1 || c.ParseErrors != 5 || c.Received != 1 {
		t.Errorf("counters %+v", c)
	}
	if st := s.Stats(); st.InvalidDrops != 2 || st.Packets != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestModifiedPayload(t *testing.T) {
	s, k := newFake(t, Options{Queue: 1})
	k.sendRaw(packetMsg(pkt{queue: 1, id: 1, payload: ipPayload(1, 30)}))
	k.sendRaw(packetMsg(pkt{queue: 1, id: 2, payload: ipPayload(2, 30), capLen: 3000}))
	k.sendRaw(packetMsg(pkt{queue: 1, id: 3, payload: ipPayload(3, 30)}))
	k.note(1, 2, 3)
	b := packet.NewBatch(4)
	if err := s.Next(b); err != nil || len(b.Pkts) != 3 {
		t.Fatalf("Next: %v", err)
	}
	for _, p := range b.Pkts {
		p.Data[10] ^= 0xff
		p.Flags |= packet.FlagModified
	}
	b.Pkts[2].Data = b.Pkts[2].Data[:20] // shortened by the engine
	b.Pkts = b.Pkts[:1]                  // a stage dropped packets from the list: they still get verdicts
	s.Done(b)
	k.readVerdicts()
	want1 := ipPayload(1, 30)
	want1[10] ^= 0xff
	if !bytes.Equal(k.final[1].payload, want1) {
		t.Errorf("id 1 payload %x, want %x", k.final[1].payload, want1)
	}
	if k.final[2].payload != nil {
		t.Errorf("truncated packet sent back with a %d-byte payload: the kernel would cut it", len(k.final[2].payload))
	}
	if len(k.final[3].payload) != 20 {
		t.Errorf("id 3 payload %d bytes, want 20", len(k.final[3].payload))
	}
	if c := s.Counters(); c.Modified != 2 || c.ModifyFailed != 1 || c.Accepted != 3 {
		t.Errorf("counters %+v", c)
	}
}

func TestPollTimeout(t *testing.T) {
	s, k := newFake(t, Options{PollTimeout: 30 * time.Millisecond})
	b := packet.NewBatch(4)
	for i := 0; i < 2; i++ {
		start := time.Now()
		if err := s.Next(b); err != nil {
			t.Fatalf("Next: %v", err)
		}
		if len(b.Pkts) != 0 {
			t.Fatalf("idle Next returned %d packets", len(b.Pkts))
		}
		if d := time.Since(start); d < 25*time.Millisecond || d > 2*time.Second {
			t.Errorf("idle Next took %v, want about 30ms", d)
		}
	}
	s.Done(b) // an empty batch: nothing to do
	// Traffic after a timeout is received at once.
	k.queuePkts(1, 20)
	start := time.Now()
	if err := s.Next(b); err != nil || len(b.Pkts) != 1 {
		t.Fatalf("Next after idle: %v, %d packets", err, len(b.Pkts))
	}
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Errorf("Next with a packet waiting took %v", d)
	}
	s.Done(b)
}

func TestCloseWakesNext(t *testing.T) {
	s, _ := newFake(t, Options{PollTimeout: -1})
	errc := make(chan error, 1)
	go func() {
		b := packet.NewBatch(4)
		errc <- s.Next(b)
	}()
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close: %v, want ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Next still waiting 3s after Close")
	}
	if err := s.Next(packet.NewBatch(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Next on closed source: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Done after Close cannot deliver: the packets are counted, not lost silently.
func TestDoneAfterCloseCounts(t *testing.T) {
	s, k := newFake(t, Options{})
	k.queuePkts(3, 20)
	b := packet.NewBatch(4)
	if err := s.Next(b); err != nil || len(b.Pkts) != 3 {
		t.Fatalf("Next: %v", err)
	}
	s.Close()
	s.Done(b)
	if c := s.Counters(); c.VerdictErrors != 3 {
		t.Errorf("VerdictErrors %d, want 3", c.VerdictErrors)
	}
	if st := s.Stats(); st.InvalidDrops != 3 {
		t.Errorf("Stats.InvalidDrops %d, want 3", st.InvalidDrops)
	}
}

// A batch of verdicts bigger than one write is split, in order.
func TestLargeVerdictsSplit(t *testing.T) {
	s, k := newFake(t, Options{RecvBatch: 64})
	k.queuePkts(64, 9000)
	b := packet.NewBatch(64)
	if err := s.Next(b); err != nil || len(b.Pkts) != 64 {
		t.Fatalf("Next: %v %d", err, len(b.Pkts))
	}
	for _, p := range b.Pkts {
		p.Flags |= packet.FlagModified
	}
	s.Done(b)
	k.readVerdicts()
	if len(k.queued) != 0 {
		t.Fatalf("ids left: %v", k.queued)
	}
	if k.writes < 2 {
		t.Errorf("%d writes for 576 KB of payloads, want it split", k.writes)
	}
	if c := s.Counters(); c.Writes != uint64(k.writes) || c.Modified != 64 || c.VerdictErrors != 0 {
		t.Errorf("counters %+v (kernel saw %d writes)", c, k.writes)
	}
}

func TestOptionsNormalize(t *testing.T) {
	o, err := Options{VerdictMode: ModeRepeat}.normalize()
	if err != nil || o.Mark != 1 || o.Mask != 1 || o.CopyRange != MaxCopyRange || o.PollTimeout != DefaultPollTimeout || o.RecvBatch != DefaultRecvBatch {
		t.Errorf("repeat defaults: %+v %v", o, err)
	}
	o, err = Options{BypassMark: 4, Mark: 8}.normalize()
	if err != nil || o.BypassMask != 4 || o.Mask != 8 || o.VerdictMode != ModeAccept {
		t.Errorf("mask defaults: %+v %v", o, err)
	}
	o, err = Options{Queue: 1, RouteQueue: 2}.normalize()
	if err != nil || o.VerdictMode != ModeRoute {
		t.Errorf("RouteQueue set: mode %q %v, want route", o.VerdictMode, err)
	}
	o, err = Options{Queue: 1, VerdictMode: ModeRoute}.normalize()
	if err != nil || o.VerdictMode != ModeRoute || o.RouteQueue != 0 {
		t.Errorf("route to queue 0: %+v %v", o, err)
	}
	for _, bad := range []Options{
		{VerdictMode: ModeRepeat, RouteQueue: 3},
		{VerdictMode: "bounce"},
		{VerdictMode: ModeRepeat, Mask: 1},
		{Mark: 3, Mask: 1},
		{BypassMark: 3, BypassMask: 2},
		{VerdictMode: ModeRoute, Queue: 4, RouteQueue: 4},
		{RecvBuffer: -1},
	} {
		_, err := bad.normalize()
		var oe *OpError
		if !errors.Is(err, ErrOptions) || !errors.As(err, &oe) {
			t.Errorf("%+v: error %v, want ErrOptions in an OpError", bad, err)
		}
	}
}

func TestParseProc(t *testing.T) {
	text := []byte("    0  12345     0 2 65531     0     0        0  1\n" +
		"    3 -4000     2 2  0x40     0     0        0  1\n" +
		"    7 4242     5 2 65531    17     3     1234  1\n")
	pq, ok := parseProcQueues(text, 7)
	if !ok || pq.portid != 4242 || pq.waiting != 5 || pq.dropped != 17 || pq.userDropped != 3 || pq.idSequence != 1234 {
		t.Errorf("queue 7: %+v %v", pq, ok)
	}
	if _, ok := parseProcQueues(text, 3); ok {
		t.Errorf("malformed line for queue 3 accepted")
	}
	if _, ok := parseProcQueues(text, 1); ok {
		t.Errorf("absent queue 1 found")
	}
}

// The per-packet path (receive, fill, verdict, write) allocates nothing.
func TestZeroAllocs(t *testing.T) {
	s, k := newFake(t, Options{Queue: 2, VerdictMode: ModeRepeat, BypassMark: 2})
	b := packet.NewBatch(32)
	var msgs [][]byte
	for i := 0; i < 32; i++ {
		msgs = append(msgs, packetMsg(pkt{queue: 2, id: uint32(i + 1), payload: ipPayload(i, 100+i), mark: uint32(i % 3)}))
	}
	drain := make([]byte, 1<<20)
	id := uint32(0)
	run := func() {
		for _, m := range msgs {
			id++
			be.PutUint32(m[nlmsgHdrLen+nfgenHdrLen+nlaHdrLen:], id)
			unix.Write(k.fd, m)
		}
		for got := 0; got < len(msgs); {
			if err := s.Next(b); err != nil {
				t.Fatalf("Next: %v", err)
			}
			for i, p := range b.Pkts {
				p.Verdict = packet.Verdict(i % 4)
				if i%7 == 0 {
					p.Flags |= packet.FlagModified
				}
			}
			got += len(b.Pkts)
			s.Done(b)
		}
		for {
			if _, err := unix.Read(k.fd, drain); err != nil {
				break
			}
		}
	}
	run() // warm up: leases, buffers
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Errorf("%.1f allocations per batch of 32, want 0", n)
	}
	if c := s.Counters(); c.VerdictErrors != 0 || c.ParseErrors != 0 || c.Received != 52*32 {
		t.Errorf("counters %+v", c)
	}
}

// BenchmarkNextDone measures a batch of 64 through Next and Done against the
// socketpair kernel: receive, fill, verdict messages, write.
func BenchmarkNextDone(b *testing.B) {
	for _, mode := range []struct {
		name  string
		split bool
	}{{"batch-verdicts", false}, {"single-verdicts", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s, k := newFake(b, Options{Queue: 1})
			bt := packet.NewBatch(64)
			var msgs [][]byte
			for i := 0; i < 64; i++ {
				msgs = append(msgs, packetMsg(pkt{queue: 1, id: uint32(i + 1), payload: ipPayload(i, 1200)}))
			}
			drain := make([]byte, 1<<20)
			id := uint32(0)
			b.ReportAllocs()
			b.SetBytes(64 * 1200)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, m := range msgs {
					id++
					be.PutUint32(m[nlmsgHdrLen+nfgenHdrLen+nlaHdrLen:], id)
					unix.Write(k.fd, m)
				}
				for got := 0; got < len(msgs); {
					if err := s.Next(bt); err != nil {
						b.Fatalf("Next: %v", err)
					}
					if mode.split {
						for j, p := range bt.Pkts {
							p.Verdict = packet.Verdict(j % 2)
						}
					}
					got += len(bt.Pkts)
					s.Done(bt)
				}
				for {
					if _, err := unix.Read(k.fd, drain); err != nil {
						break
					}
				}
			}
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
