//go:build linux

package afxdp

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// checkIdentity checks the bridge's accounting: every packet received is
// forwarded, dropped by verdict, or a transmit drop that is not an
// injection's.
func checkIdentity(t testing.TB, c Counters) {
	t.Helper()
	if c.Packets != c.Forwarded+c.VerdictDrops+c.TxDrops-c.InjectDrops {
		t.Fatalf("packets %d != forwarded %d + verdict drops %d + tx drops %d - inject drops %d; %+v",
			c.Packets, c.Forwarded, c.VerdictDrops, c.TxDrops, c.InjectDrops, c)
	}
}

// TestFakeInject: Inject copies the frame onto the TX ring of the side p
// came from (toSource) or of the other side, the caller keeps its buffer,
// and every failure is an error that wraps its cause and is counted.
func TestFakeInject(t *testing.T) {
	s, k := newFakeSource(t, 2, 128, 16, 16, 0)
	b := packet.NewBatch(16)
	if fc := s.Frames(); fc.Free != 16 || fc.Fill != 112 {
		t.Fatalf("frames %+v: want BatchSize (16) kept free for Inject", fc)
	}
	for side := 0; side < 2; side++ {
		if !k.receive(side, fakeFrame(uint32(side), 100)) {
			t.Fatal("no buffer")
		}
		if err := s.Next(b); err != nil || len(b.Pkts) != 1 {
			t.Fatalf("Next: %v, %d", err, len(b.Pkts))
		}
		p := b.Pkts[0]
		back, fwd := fakeFrame(uint32(10+side), 54), fakeFrame(uint32(20+side), 1500)
		if err := s.Inject(p, true, back); err != nil {
			t.Fatal(err)
		}
		if err := s.Inject(p, false, fwd); err != nil {
			t.Fatal(err)
		}
		want := [2][]byte{}
		want[side], want[side^1] = bytes.Clone(back), bytes.Clone(fwd)
		back[0], fwd[0] = 0xee, 0xee // the caller's buffers are its own again
		for out := 0; out < 2; out++ {
			if n := k.transmit(t, out, 10); n != 1 || !bytes.Equal(k.socks[out].lastSent, want[out]) {
				t.Fatalf("packet from side %d: side %d sent %d frames, last %x", side, out, n, k.socks[out].lastSent)
			}
		}
		p.Verdict = packet.VerdictDrop
		s.Done(b)
		audit(t, s)
	}
	c := s.Counters()
	if c.Injected != 4 || c.InjectDrops != 0 || c.TxDrops != 0 || c.VerdictDrops != 2 {
		t.Fatalf("counters %+v", c)
	}
	checkIdentity(t, c)

	// Failures.
	k.receive(0, fakeFrame(1, 100))
	s.Next(b)
	p := b.Pkts[0]
	var stale packet.Packet
	for _, c := range []struct {
		p     *packet.Packet
		frame []byte
		want  error
	}{
		{&stale, fakeFrame(1, 60), ErrNotHeld},
		{p, nil, unix.EMSGSIZE},
		{p, make([]byte, 2049), unix.EMSGSIZE},
	} {
		if err := s.Inject(c.p, true, c.frame); !errors.Is(err, c.want) {
			t.Fatalf("Inject: %v, want %v", err, c.want)
		}
	}
	// Without a kernel that transmits, the reserve runs out: ENOBUFS.
	var nobufs int
	for i := 0; i < 40; i++ {
		if err := s.Inject(p, false, fakeFrame(uint32(i), 60)); err != nil {
			if !errors.Is(err, unix.ENOBUFS) {
				t.Fatal(err)
			}
			nobufs++
		}
	}
	if nobufs == 0 {
		t.Fatal("40 injections without transmit never ran out of frames")
	}
	s.Done(b) // p is forwarded to side 1, whose TX ring the injections filled
	c = s.Counters()
	if c.InjectDrops != uint64(3+nobufs) || c.TxRingFull != 1 || c.TxDrops != c.InjectDrops+1 || c.Injected != 4+uint64(40-nobufs) {
		t.Fatalf("after %d ENOBUFS: %+v", nobufs, c)
	}
	checkIdentity(t, c)
	k.transmit(t, 1, 100)
	s.Next(b)
	audit(t, s)
	if fc := s.Frames(); fc.Tx != 0 {
		t.Fatalf("frames %+v", fc)
	}

	// IDS: no transmit side.
	ids, ki := newFakeSource(t, 1, 64, 16, 8, 0)
	ki.receive(0, fakeFrame(1, 60))
	ids.Next(b)
	if err := ids.Inject(b.Pkts[0], true, fakeFrame(2, 60)); !errors.Is(err, ErrInjectNeedsBridge) {
		t.Fatalf("IDS Inject: %v", err)
	}
	ids.Done(b)
	if st := ids.Stats(); st.TxDrops != 1 {
		t.Fatalf("IDS stats %+v", st)
	}
}

// TestInjectNoAllocs: a successful Inject allocates nothing.
func TestInjectNoAllocs(t *testing.T) {
	s, k := newFakeSource(t, 2, 256, 64, 32, 0)
	b := packet.NewBatch(32)
	k.receive(0, fakeFrame(1, 60))
	s.Next(b)
	p := b.Pkts[0]
	frame := fakeFrame(9, 54)
	step := func() {
		if err := s.Inject(p, true, frame); err != nil {
			t.Fatal(err)
		}
		k.transmit(t, 0, 10)
	}
	step()
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Fatalf("%.1f allocations per Inject", a)
	}
	s.Done(b)
	audit(t, s)
}

// TestLiveInject: in a bridge, a frame injected toward the source of a
// packet arrives in the client's namespace, one injected toward its
// destination in the server's; both cost no packet its forwarding.
func TestLiveInject(t *testing.T) {
	requireLive(t)
	for _, xdpMode := range []string{XDPModeDriver, XDPModeGeneric} {
		t.Run(xdpMode, func(t *testing.T) {
			n := newBridgeNet(t)
			s, err := OpenBridge(n.a, n.b, Options{XDPMode: xdpMode, PollTimeout: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			cliMAC, srvMAC := mac(t, n.cliNS, n.cli), mac(t, n.srvNS, n.srv)
			toCli := udpTestFrame(t, srvMAC, cliMAC, 900001, 7001, 40)
			toSrv := udpTestFrame(t, cliMAC, srvMAC, 900002, 7002, 40)
			var injectErr atomic.Value
			eng := runEngine(t, s, func(p *packet.Packet) packet.Verdict {
				if seq, ok := testSeq(p.Data); ok && seq == 7 {
					for _, c := range []struct {
						toSource bool
						frame    []byte
					}{{true, toCli}, {false, toSrv}} {
						if err := s.Inject(p, c.toSource, c.frame); err != nil {
							injectErr.Store(err)
						}
					}
				}
				return packet.VerdictForward
			}, true)
			cliRx, srvRx := rxSocket(t, n.cliNS, n.cli), rxSocket(t, n.srvNS, n.srv)
			trigger := udpTestFrame(t, cliMAC, srvMAC, 7, 7000, 40)
			sendPaced(t, rawSocket(t, n.cliNS, n.cli), [][]byte{trigger}, 0, 0)
			atCli, atSrv := readTestFrames(cliRx, 1, time.Second), readTestFrames(srvRx, 2, time.Second)
			eng.halt(t)
			if err := injectErr.Load(); err != nil {
				t.Fatalf("Inject: %v", err)
			}
			has := func(got [][]byte, f []byte) bool {
				for _, g := range got {
					if bytes.Equal(g, f) {
						return true
					}
				}
				return false
			}
			if len(atCli) != 1 || !has(atCli, toCli) {
				t.Fatalf("client received %d test frames, want the injected one", len(atCli))
			}
			if len(atSrv) != 2 || !has(atSrv, toSrv) || !has(atSrv, trigger) {
				t.Fatalf("server received %d test frames, want the trigger and the injected one", len(atSrv))
			}
			c := s.Counters()
			if c.Injected != 2 || c.InjectDrops != 0 || c.TxDrops != 0 {
				t.Fatalf("counters %+v", c)
			}
			checkIdentity(t, c)
		})
	}
}

// TestFakeTxLostAtClose: frames still on a TX ring when Close gives up on
// them (here: a kernel that never transmits) are counted as lost, the
// forwarded ones and the injected ones apart, and the accounting holds.
func TestFakeTxLostAtClose(t *testing.T) {
	s, k := newFakeSource(t, 2, 128, 16, 16, 0)
	b := packet.NewBatch(16)
	for i := 0; i < 5; i++ {
		k.receive(0, fakeFrame(uint32(i), 80))
	}
	s.Next(b)
	if err := s.Inject(b.Pkts[0], true, fakeFrame(99, 60)); err != nil {
		t.Fatal(err)
	}
	s.Done(b) // 5 forwarded to side 1, 1 injected toward side 0
	for i := 0; i < s.nsock; i++ {
		s.drainTx(&s.socks[i], 0) // what Close does first
	}
	c := s.Counters()
	if c.TxLost != 6 || c.Forwarded != 0 || c.Injected != 0 || c.InjectDrops != 1 || c.TxDrops != 6 ||
		c.Sockets[0].TxLost != 1 || c.Sockets[1].TxLost != 5 {
		t.Fatalf("counters %+v", c)
	}
	checkIdentity(t, c)
}

// BenchmarkInject measures one Inject of a 54-byte frame (a TCP reset),
// with the fake kernel transmitting it.
func BenchmarkInject(b *testing.B) {
	s, k := newFakeSource(b, 2, 256, 64, 32, 0)
	batch := packet.NewBatch(32)
	k.receive(0, fakeFrame(1, 60))
	s.Next(batch)
	p := batch.Pkts[0]
	frame := fakeFrame(9, 54)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		toSource := i%2 == 0 // side 0, where p came from; else side 1
		if err := s.Inject(p, toSource, frame); err != nil {
			b.Fatal(err)
		}
		k.transmit(b, i%2, 10)
	}
}
