package stream

import (
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// discard consumes everything.
type discard struct{ n int }

func (d *discard) Data(s *Session, dir Dir, data []byte) int { d.n += len(data); return len(data) }
func (d *discard) Gap(s *Session, dir Dir, n uint32)         {}

// inOrder prepares an established session and returns a step function
// that sends one 1400-byte in-order segment and the receiver's ACK, with
// raw inspection keeping up.
func inOrder(tb testing.TB, cfg Config) func() {
	cfg.Consumer = &discard{}
	cfg.Depth = -1
	tr, err := NewTracker(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	f := &flow.Flow{ID: 1}
	for _, p := range []*packet.Packet{
		mkpkt(ToServer, S, cli, 0, ""),
		mkpkt(ToClient, SA, srv, cli+1, ""),
		mkpkt(ToServer, A, cli+1, srv+1, ""),
	} {
		tr.Process(p, f)
	}
	payload := make([]byte, 1400)
	data := mkpkt(ToServer, PA, 0, srv+1, string(payload))
	ackp := mkpkt(ToClient, A, srv+1, 0, "")
	seq := uint32(cli + 1)
	return func() {
		data.TCPSeq = seq
		data.NumEvents = 0
		s := tr.Process(data, f)
		seq += 1400
		ackp.TCPAck = seq
		ackp.NumEvents = 0
		tr.Process(ackp, f)
		if n := s.RawPending(ToServer); n > 0 {
			s.RawConsume(ToServer, n)
		}
	}
}

func TestInOrderNoAllocs(t *testing.T) {
	for _, inline := range []bool{false, true} {
		step := inOrder(t, Config{Inline: inline})
		for i := 0; i < 100; i++ { // warm the pools
			step()
		}
		if a := testing.AllocsPerRun(1000, step); a != 0 {
			t.Fatalf("inline=%v: %v allocations per segment", inline, a)
		}
	}
}

func BenchmarkInOrderSegment(b *testing.B) {
	for _, mode := range []struct {
		name   string
		inline bool
	}{{"ids", false}, {"inline", true}} {
		b.Run(mode.name, func(b *testing.B) {
			step := inOrder(b, Config{Inline: mode.inline})
			for i := 0; i < 100; i++ {
				step()
			}
			b.ReportAllocs()
			b.SetBytes(1400)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
		})
	}
}

// BenchmarkOutOfOrder: segments arrive in reverse pairs.
func BenchmarkOutOfOrder(b *testing.B) {
	tr, _ := NewTracker(Config{Consumer: &discard{}, Depth: -1})
	f := &flow.Flow{ID: 1}
	for _, p := range []*packet.Packet{
		mkpkt(ToServer, S, cli, 0, ""),
		mkpkt(ToClient, SA, srv, cli+1, ""),
		mkpkt(ToServer, A, cli+1, srv+1, ""),
	} {
		tr.Process(p, f)
	}
	d1 := mkpkt(ToServer, PA, 0, srv+1, string(make([]byte, 1000)))
	d2 := mkpkt(ToServer, PA, 0, srv+1, string(make([]byte, 1000)))
	ackp := mkpkt(ToClient, A, srv+1, 0, "")
	seq := uint32(cli + 1)
	b.ReportAllocs()
	b.SetBytes(2000)
	for i := 0; i < b.N; i++ {
		d2.TCPSeq, d1.TCPSeq = seq+1000, seq
		s := tr.Process(d2, f)
		tr.Process(d1, f)
		seq += 2000
		ackp.TCPAck = seq
		tr.Process(ackp, f)
		s.RawConsume(ToServer, s.RawPending(ToServer))
	}
}
