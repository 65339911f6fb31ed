//go:build linux

package afxdp

import (
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// fakeStep delivers one batch worth of frames, runs Next and Done, and
// lets the fake kernel transmit and complete what the bridge forwarded.
func fakeStep(tb testing.TB, s *Source, k *fakeKernel, b *packet.Batch, frame []byte) {
	for i := 0; i < b.Cap(); i++ {
		k.receive(i%s.nsock, frame)
	}
	if err := s.Next(b); err != nil || len(b.Pkts) != b.Cap() {
		tb.Fatalf("Next: %v, %d packets", err, len(b.Pkts))
	}
	for i, p := range b.Pkts {
		if i%8 == 0 {
			p.Verdict = packet.VerdictDrop
		}
	}
	s.Done(b)
	if s.bridge {
		k.transmit(tb, 0, 1<<20)
		k.transmit(tb, 1, 1<<20)
	}
}

// TestNoAllocs: the packet path (Next, Done, completion reaping, fill ring
// refill, bridge forwarding) allocates nothing.
func TestNoAllocs(t *testing.T) {
	for _, nsock := range []int{1, 2} {
		s, k := newFakeSource(t, nsock, 1024, 256, 64, 0)
		b := packet.NewBatch(64)
		frame := fakeFrame(1, 60)
		fakeStep(t, s, k, b, frame)
		if a := testing.AllocsPerRun(500, func() { fakeStep(t, s, k, b, frame) }); a != 0 {
			t.Errorf("%d socket(s): %.1f allocations per batch", nsock, a)
		}
		audit(t, s)
	}
}

// BenchmarkNextDone measures the user-space cost of one 64-packet batch
// (fake kernel included, which copies each 60-byte frame in).
func BenchmarkNextDone(b *testing.B) {
	for _, c := range []struct {
		name  string
		nsock int
	}{{"ids", 1}, {"bridge", 2}} {
		b.Run(c.name, func(b *testing.B) {
			s, k := newFakeSource(b, c.nsock, 4096, 1024, 64, 0)
			batch := packet.NewBatch(64)
			frame := fakeFrame(1, 60)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fakeStep(b, s, k, batch, frame)
			}
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
