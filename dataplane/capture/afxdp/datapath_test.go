//go:build linux

package afxdp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// fakeFrame is a frame of n bytes (at least 8) numbered seq.
func fakeFrame(seq uint32, n int) []byte {
	f := make([]byte, n)
	binary.BigEndian.PutUint32(f, seq)
	for i := 4; i < n; i++ {
		f[i] = byte(seq*7) + byte(i)
	}
	return f
}

func audit(t testing.TB, s *Source) {
	t.Helper()
	if err := s.u.audit(); err != nil {
		t.Fatal(err)
	}
	fc := s.Frames()
	if fc.Free+fc.Fill+fc.Held+fc.Tx != fc.Total {
		t.Fatalf("frame counts do not add up: %+v", fc)
	}
	inFill := 0
	for i := 0; i < s.nsock; i++ {
		inFill += s.socks[i].inFill
	}
	if inFill != fc.Fill {
		t.Fatalf("per-socket fill counts %d, frames in fill %d", inFill, fc.Fill)
	}
}

func TestOptionsValidation(t *testing.T) {
	sharedMap := &ebpf.Map{}
	for _, o := range []Options{
		{},
		{Interface: "x", RingSize: 100},
		{Interface: "x", FrameSize: 3000},
		{Interface: "x", FrameSize: 1024},
		{Interface: "x", Headroom: 400},
		{Interface: "x", Mode: "fast"},
		{Interface: "x", XDPMode: "offload"},
		{Interface: "x", RingSize: 64, BatchSize: 65},
		{Interface: "x", RingSize: 64, NumFrames: 100, BatchSize: 64},
		{Interface: "x", PeerInterface: "x"},
		{Interface: "x", PeerInterface: "y", XSKMap: &ebpf.Map{}},
		{Interface: "x", PeerInterface: "y", XSKMap: sharedMap, PeerXSKMap: sharedMap},
	} {
		if _, err := o.withDefaults(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: got %v, want ErrInvalidOptions", o, err)
		}
	}
	if _, err := (Options{Interface: "x", PeerInterface: "y", XSKMap: sharedMap, PeerXSKMap: sharedMap, PeerXSKMapOffset: 64}).withDefaults(); err != nil {
		t.Errorf("one map with the peer keyed apart: %v", err)
	}
	o, err := Options{Interface: "a", PeerInterface: "b"}.withDefaults()
	if err != nil || o.NumFrames != 4*DefaultRingSize || o.FrameSize != DefaultFrameSize || o.Mode != ModeAuto ||
		o.XDPMode != XDPModeAuto || o.PollTimeout != DefaultPollTimeout || o.BatchSize != packet.DefaultBatchSize {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
}

// TestFakeIDS: frames the kernel delivers come out of Next intact, go
// back to the fill ring with Done, and the ring indices wrap around 2^32.
func TestFakeIDS(t *testing.T) {
	s, k := newFakeSource(t, 1, 64, 16, 8, ^uint32(0)-20)
	b := packet.NewBatch(8)
	var seq uint32
	for round := 0; round < 500; round++ {
		n := 1 + round%12
		var sent [][]byte
		for i := 0; i < n; i++ {
			f := fakeFrame(seq, 60+int(seq)%1400)
			seq++
			if k.receive(0, f) {
				sent = append(sent, f)
			}
		}
		var got [][]byte
		for {
			if err := s.Next(b); err != nil {
				t.Fatal(err)
			}
			if len(b.Pkts) == 0 {
				break
			}
			if len(b.Pkts) > 8 {
				t.Fatalf("batch of %d > BatchSize 8", len(b.Pkts))
			}
			for _, p := range b.Pkts {
				checkPacket(t, s, p)
				got = append(got, bytes.Clone(p.Data))
				p.Verdict = packet.VerdictDrop // ignored in IDS mode
			}
			s.Done(b)
			audit(t, s)
		}
		if len(got) != len(sent) {
			t.Fatalf("round %d: got %d frames, sent %d", round, len(got), len(sent))
		}
		for i := range got {
			if !bytes.Equal(got[i], sent[i]) {
				t.Fatalf("round %d frame %d differs", round, i)
			}
		}
	}
	fc := s.Frames()
	if fc.Held != 0 || fc.Tx != 0 || fc.Fill != 64 {
		t.Fatalf("IDS frames not all back on the fill ring: %+v", fc)
	}
	c := s.Counters()
	if c.Packets != uint64(seq) || c.BadDescs != 0 || c.Forwarded != 0 {
		t.Fatalf("counters %+v after %d frames", c, seq)
	}
}

// TestFakeBridge: forwarded frames leave on the other side's TX ring as
// they are, dropped ones are recycled, a full TX ring drops and counts,
// and completions return frames.
func TestFakeBridge(t *testing.T) {
	s, k := newFakeSource(t, 2, 128, 16, 16, 0)
	b := packet.NewBatch(16)

	// Side 0 -> 1 forward, then 1 -> 0.
	for side := 0; side < 2; side++ {
		f := fakeFrame(uint32(100+side), 200)
		if !k.receive(side, f) {
			t.Fatal("fake kernel had no buffer")
		}
		if err := s.Next(b); err != nil || len(b.Pkts) != 1 {
			t.Fatalf("Next: %v, %d packets", err, len(b.Pkts))
		}
		p := b.Pkts[0]
		if s.Side(p) != side || p.Queue != uint16(side) {
			t.Fatalf("packet from side %d: Side %d Queue %d", side, s.Side(p), p.Queue)
		}
		p.Data[10] ^= 0xff    // the engine rewrites in place; the rewrite is sent
		p.Data = p.Data[:150] // and may shorten the frame
		s.Done(b)
		if fc := s.Frames(); fc.Tx != 1 {
			t.Fatalf("frames %+v, want one on a TX ring", fc)
		}
		if n := k.transmit(t, 1-side, 100); n != 1 {
			t.Fatalf("side %d transmitted %d frames", 1-side, n)
		}
		want := bytes.Clone(f[:150])
		want[10] ^= 0xff
		if !bytes.Equal(k.socks[1-side].lastSent, want) {
			t.Fatalf("side %d sent %x, want %x", 1-side, k.socks[1-side].lastSent, want)
		}
		s.Next(b) // reaps the completion
		if fc := s.Frames(); fc.Tx != 0 || fc.Held != 0 {
			t.Fatalf("frames %+v after completion", fc)
		}
		audit(t, s)
	}

	// Drop and reject verdicts never reach a TX ring.
	for i := 0; i < 4; i++ {
		k.receive(0, fakeFrame(uint32(i), 64))
	}
	s.Next(b)
	for i, p := range b.Pkts {
		p.Verdict = []packet.Verdict{packet.VerdictDrop, packet.VerdictReject, packet.VerdictBypass, packet.VerdictForward}[i]
	}
	s.Done(b)
	if n := k.transmit(t, 1, 100); n != 2 {
		t.Fatalf("transmitted %d frames, want 2 (bypass and forward)", n)
	}

	// Fill side 1's TX ring (16) without the kernel draining it: the
	// rest is counted as TxRingFull and recycled.
	for i := 0; i < 40; i++ {
		k.receive(0, fakeFrame(uint32(i), 64))
		s.Next(b)
		s.Done(b)
		audit(t, s)
	}
	c := s.Counters()
	if c.TxRingFull != 40-16 || s.Frames().Tx != 16 {
		t.Fatalf("TxRingFull %d, frames %+v; want 24 dropped and 16 on the ring", c.TxRingFull, s.Frames())
	}
	k.transmit(t, 1, 100)
	s.Next(b)
	c = s.Counters()
	if fc := s.Frames(); fc.Tx != 0 || fc.Held != 0 || fc.Free+fc.Fill != 128 {
		t.Fatalf("frames %+v", fc)
	}
	if c.Packets != c.Forwarded+c.VerdictDrops+c.TxRingFull || c.VerdictDrops != 2 || c.Forwarded != 2+2+16 {
		t.Fatalf("counters %+v", c)
	}
	if c.Sockets[0].TxFrames != 1 || c.Sockets[1].TxFrames != 1+2+16 || c.Sockets[0].RxPackets != 1+4+40 {
		t.Fatalf("per-socket counters %+v", c.Sockets)
	}
}

// TestFakeBadDescriptors: descriptors that do not name a frame the kernel
// got from this socket are counted and ignored, never trusted.
func TestFakeBadDescriptors(t *testing.T) {
	s, k := newFakeSource(t, 2, 64, 16, 16, 0)
	b := packet.NewBatch(16)
	k.receive(0, fakeFrame(1, 100))
	s.Next(b)
	held := b.Pkts[0].Handle
	s.Done(b) // on side 1's TX ring now

	k.injectRx(0, s.u.size+4096, 60)                                    // outside the UMEM
	k.injectRx(0, held, 60)                                             // a frame on a TX ring
	k.injectRx(1, *s.socks[0].fill.addr(s.socks[0].fill.local - 1), 60) // a frame on the other side's fill ring
	// A frame from side 0's fill ring with a length past its end: the
	// frame is recovered, the packet dropped.
	a, _ := k.takeBuffer(k.socks[0])
	k.injectRx(0, a+xdpPacketHeadroom, uint32(s.fmask+1))
	k.injectCompletion(1, held+1<<40) // garbage completion
	k.injectCompletion(0, held)       // completion on the wrong socket
	if err := s.Next(b); err != nil || len(b.Pkts) != 0 {
		t.Fatalf("Next: %v with %d packets", err, len(b.Pkts))
	}
	c := s.Counters()
	if c.BadDescs != 6 || c.InvalidDrops != 6 || c.Packets != 1 {
		t.Fatalf("counters %+v, want 6 bad descriptors", c)
	}
	audit(t, s)
	if fc := s.Frames(); fc.Tx != 1 {
		t.Fatalf("the frame on the TX ring moved: %+v", fc)
	}
	// Done twice: the second time is the caller's bug, counted.
	k.receive(0, fakeFrame(2, 100))
	s.Next(b)
	saved := append([]*packet.Packet(nil), b.Pkts...)
	s.Done(b)
	b.Pkts = saved
	s.Done(b)
	if c := s.Counters(); c.BadDone != 1 {
		t.Fatalf("BadDone %d, want 1", c.BadDone)
	}
	audit(t, s)
}

// TestFakeFillRingEmpty: with every frame held by the engine, the kernel
// has no buffer and drops; the frames come back with Done.
func TestFakeFillRingEmpty(t *testing.T) {
	s, k := newFakeSource(t, 1, 32, 32, 16, 0)
	b1, b2 := packet.NewBatch(16), packet.NewBatch(16)
	for i := 0; i < 40; i++ {
		k.receive(0, fakeFrame(uint32(i), 64))
	}
	if k.socks[0].rxDropped != 8 {
		t.Fatalf("kernel dropped %d, want 8", k.socks[0].rxDropped)
	}
	s.Next(b1)
	s.Next(b2)
	if len(b1.Pkts)+len(b2.Pkts) != 32 || s.Frames().Held != 32 {
		t.Fatalf("%d+%d packets, frames %+v", len(b1.Pkts), len(b2.Pkts), s.Frames())
	}
	if k.receive(0, fakeFrame(99, 64)) {
		t.Fatal("kernel found a buffer while the engine holds every frame")
	}
	s.Done(b2)
	s.Done(b1)
	if fc := s.Frames(); fc.Fill != 32 {
		t.Fatalf("frames %+v", fc)
	}
}

// TestFakeOutstandingBatches: several batches may be out at once and come
// back in any order.
func TestFakeOutstandingBatches(t *testing.T) {
	s, k := newFakeSource(t, 2, 256, 64, 8, 0)
	bs := []*packet.Batch{packet.NewBatch(8), packet.NewBatch(8), packet.NewBatch(8)}
	for i := 0; i < 24; i++ {
		k.receive(i%2, fakeFrame(uint32(i), 64))
	}
	for _, b := range bs {
		s.Next(b)
		if len(b.Pkts) != 8 {
			t.Fatalf("got %d packets", len(b.Pkts))
		}
	}
	if s.Frames().Held != 24 {
		t.Fatalf("frames %+v", s.Frames())
	}
	s.Done(bs[1])
	s.Done(bs[2])
	s.Done(bs[0])
	k.transmit(t, 0, 100)
	k.transmit(t, 1, 100)
	s.Next(bs[0])
	if fc := s.Frames(); fc.Held != 0 || fc.Tx != 0 || k.socks[0].sent+k.socks[1].sent != 24 {
		t.Fatalf("frames %+v, sent %d+%d", fc, k.socks[0].sent, k.socks[1].sent)
	}
	audit(t, s)
}

func TestClosedSource(t *testing.T) {
	s, _ := newFakeSource(t, 1, 64, 16, 8, 0)
	s.closed = true
	b := packet.NewBatch(8)
	if err := s.Next(b); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}
