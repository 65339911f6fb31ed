//go:build dpdk

package dpdk

import (
	"bytes"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/reject"
)

// TestInjectIPS: a bridge Source on devInjA (peer devInjB) rejects every
// other packet. The unreachables reject.Build makes go out of devInjA
// toward the sender and out of devInjB toward the destination, before the
// packets Done forwards; the tx pcap files show both, in order.
func TestInjectIPS(t *testing.T) {
	needEAL(t)
	s, err := Open(Options{Port: devInjA, PeerPort: devInjB, BurstSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dec := decode.NewDecoder(decode.Options{})
	var buf [reject.MaxFrameLen]byte
	var wantA, wantB [][]byte
	in := framesN(nInj, 7)
	b := packet.NewBatch(16)
	g := 0
	rejected := 0
	deadline := time.Now().Add(10 * time.Second)
	var stale *packet.Packet
	for g < nInj && time.Now().Before(deadline) {
		if err := s.Next(b); err != nil {
			t.Fatal(err)
		}
		var fwd [][]byte
		for _, p := range b.Pkts {
			if !bytes.Equal(p.Data, in[g]) {
				t.Fatalf("packet %d differs from the file", g)
			}
			g++
			if g%2 == 1 {
				p.Verdict = packet.VerdictForward
				fwd = append(fwd, append([]byte(nil), p.Data...))
				continue
			}
			dec.Decode(p)
			p.Verdict, p.Reject = packet.VerdictReject, packet.RejectBoth
			rejected++
			for _, toSource := range []bool{true, false} {
				n, err := reject.Build(buf[:], p, toSource)
				if err != nil {
					t.Fatalf("packet %d: Build: %v", g-1, err)
				}
				if err := s.Inject(p, toSource, buf[:n]); err != nil {
					t.Fatalf("packet %d: Inject: %v", g-1, err)
				}
				if toSource {
					wantA = append(wantA, append([]byte(nil), buf[:n]...))
				} else {
					wantB = append(wantB, append([]byte(nil), buf[:n]...))
				}
			}
			stale = p
		}
		// Done forwards after the injections of the batch.
		wantB = append(wantB, fwd...)
		s.Done(b)
	}
	if g != nInj {
		t.Fatalf("received %d of %d packets", g, nInj)
	}
	// A packet given back with Done, one never lent, an empty frame.
	if err := s.Inject(stale, true, buf[:60]); !errors.Is(err, ErrForeignPacket) {
		t.Errorf("Inject after Done: %v, want ErrForeignPacket", err)
	}
	if err := s.Inject(&packet.Packet{}, true, buf[:60]); !errors.Is(err, ErrForeignPacket) {
		t.Errorf("Inject of a made-up packet: %v, want ErrForeignPacket", err)
	}
	st, inj, ips := s.Stats(), s.InjectStats(), s.IPSStats()
	if inj.Injected != uint64(2*rejected) || inj.Errors != 2 || st.TxDrops != 2 {
		t.Errorf("InjectStats %+v, TxDrops %d; want %d injected, 2 errors", inj, st.TxDrops, 2*rejected)
	}
	if ips.Forwarded != uint64(nInj-rejected) || ips.VerdictDrops != uint64(rejected) || ips.TxDrops != 0 {
		t.Errorf("IPSStats %+v", ips)
	}
	if n := s.Port().Pool().InUse() + s.Peer().Pool().InUse(); n != 0 {
		t.Errorf("%d mbufs still in use", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Inject(stale, true, buf[:60]); !errors.Is(err, ErrClosed) {
		t.Errorf("Inject after Close: %v, want ErrClosed", err)
	}
	for _, c := range []struct {
		file string
		want [][]byte
	}{{"inj_a_out.pcap", wantA}, {"inj_b_out.pcap", wantB}} {
		got := readPcap(t, filepath.Join(testDir, c.file))
		if len(got) != len(c.want) {
			t.Errorf("%s: %d frames, want %d", c.file, len(got), len(c.want))
			continue
		}
		for i := range got {
			if !bytes.Equal(got[i], c.want[i]) {
				t.Errorf("%s: frame %d differs", c.file, i)
				break
			}
		}
	}
	t.Logf("rejected %d of %d: %d frames toward the sources, %d out of the peer", rejected, nInj, len(wantA), len(wantB))
}

// TestInjectIDS: without a peer both directions go out of the port itself.
func TestInjectIDS(t *testing.T) {
	needEAL(t)
	s, err := Open(Options{Port: devInjIDS, BurstSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dec := decode.NewDecoder(decode.Options{})
	var buf [reject.MaxFrameLen]byte
	var want [][]byte
	b := packet.NewBatch(32)
	got, _ := collect(t, s, b, nInj, func(i int, p *packet.Packet) {
		dec.Decode(p)
		for _, toSource := range []bool{true, false} {
			n, err := reject.Build(buf[:], p, toSource)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if err := s.Inject(p, toSource, buf[:n]); err != nil {
				t.Fatalf("Inject: %v", err)
			}
			want = append(want, append([]byte(nil), buf[:n]...))
		}
	})
	if got != nInj {
		t.Fatalf("received %d of %d", got, nInj)
	}
	if inj := s.InjectStats(); inj.Injected != 2*nInj || inj.Errors != 0 {
		t.Errorf("InjectStats %+v", inj)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out := readPcap(t, filepath.Join(testDir, "inj_ids_out.pcap"))
	if len(out) != len(want) {
		t.Fatalf("%d frames out, want %d", len(out), len(want))
	}
	for i := range out {
		if !bytes.Equal(out[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

var injPorts struct {
	once sync.Once
	err  error
}

// injSource opens a bridge Source on the net_null inject ports (configured
// once, never closed: closing releases a virtual device for good).
func injSource(tb testing.TB) *Source {
	tb.Helper()
	needEAL(tb)
	injPorts.once.Do(func() {
		if _, injPorts.err = ConfigurePort(devInjNullA, PortConfig{}); injPorts.err == nil {
			_, injPorts.err = ConfigurePort(devInjNullB, PortConfig{})
		}
	})
	if injPorts.err != nil {
		tb.Fatal(injPorts.err)
	}
	s, err := Open(Options{Port: devInjNullA, PeerPort: devInjNullB, BurstSize: 8})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestInjectNoAllocs(t *testing.T) {
	s := injSource(t)
	defer s.Close()
	b := packet.NewBatch(8)
	if err := s.Next(b); err != nil || len(b.Pkts) == 0 {
		t.Fatalf("Next: %v, %d packets", err, len(b.Pkts))
	}
	p := b.Pkts[0]
	frame := make([]byte, 60)
	if err := s.Inject(p, true, nil); !errors.Is(err, ErrFrameSize) {
		t.Errorf("empty frame: %v, want ErrFrameSize", err)
	}
	allocs := testing.AllocsPerRun(500, func() {
		if err := s.Inject(p, true, frame); err != nil {
			t.Fatal(err)
		}
		if err := s.Inject(p, false, frame); err != nil {
			t.Fatal(err)
		}
	})
	s.Done(b)
	if allocs != 0 {
		t.Errorf("Inject allocates %.1f times per pair", allocs)
	}
	if inj := s.InjectStats(); inj.Injected < 1000 || inj.Errors != 1 {
		t.Errorf("InjectStats %+v", inj)
	}
	if n := s.Port().Pool().InUse() + s.Peer().Pool().InUse(); n != 0 {
		t.Errorf("%d mbufs in use after the injections", n)
	}
}

// BenchmarkInject: one 60-byte frame into net_null's tx queue (mbuf
// allocation, copy, tx burst of one, under the queue's mutex).
func BenchmarkInject(b *testing.B) {
	s := injSource(b)
	defer s.Close()
	bt := packet.NewBatch(8)
	if err := s.Next(bt); err != nil || len(bt.Pkts) == 0 {
		b.Fatalf("Next: %v", err)
	}
	p := bt.Pkts[0]
	frame := make([]byte, 60)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Inject(p, true, frame); err != nil {
			b.Fatal(err)
		}
	}
	bt.Pkts[0] = p
	s.Done(bt)
}
