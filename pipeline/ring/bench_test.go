package ring

import (
	"context"
	"runtime"
	"sync"
	"testing"
)

// Benchmarks: "same" runs enqueue and dequeue on one goroutine (the cost of
// the operations without cache-line transfer); "cross" runs producers on
// other goroutines (cores) and the consumer on the benchmark goroutine. One
// op is one item; batch benchmarks move 32 items per call and report ns/op
// per item too.

const benchCap = 4096 // the autofp ring size (Runner.RingSize default)

type benchRing interface {
	Enqueue(*pkt) bool
	EnqueueBatch([]*pkt) int
	EnqueueWait(context.Context, *pkt) error
	Dequeue() (*pkt, bool)
	DequeueBatch([]*pkt) int
	DequeueWait(context.Context, []*pkt) (int, error)
	Close()
}

func newBench(b *testing.B, multi bool, busy int) benchRing {
	if multi {
		r, err := NewMPSC[*pkt](benchCap, Options{BusyPoll: busy})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	r, err := NewSPSC[*pkt](benchCap, Options{BusyPoll: busy})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchSame(b *testing.B, multi bool) {
	b.Run("single", func(b *testing.B) {
		r := newBench(b, multi, 0)
		p := &pkt{}
		b.ReportAllocs()
		for b.Loop() {
			r.Enqueue(p)
			r.Dequeue()
		}
	})
	b.Run("batch32", func(b *testing.B) {
		r := newBench(b, multi, 0)
		in, out := make([]*pkt, 32), make([]*pkt, 32)
		for i := range in {
			in[i] = &pkt{}
		}
		b.ReportAllocs()
		for b.Loop() {
			r.EnqueueBatch(in)
			r.DequeueBatch(out)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*32), "ns/item")
	})
}

// benchCross moves b.N items from producers goroutines to the consumer.
func benchCross(b *testing.B, multi bool, producers, batch int, wait bool) {
	r := newBench(b, multi, 1000)
	ctx := context.Background()
	per := b.N / producers
	total := per * producers
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range producers {
		wg.Go(func() {
			p := &pkt{}
			items := make([]*pkt, batch)
			for i := range items {
				items[i] = p
			}
			for sent := 0; sent < per; {
				switch {
				case batch > 1:
					k := r.EnqueueBatch(items[:min(batch, per-sent)])
					if k == 0 {
						runtime.Gosched()
					}
					sent += k
				case wait:
					if r.EnqueueWait(ctx, p) != nil {
						return
					}
					sent++
				default:
					if r.Enqueue(p) {
						sent++
					} else {
						runtime.Gosched()
					}
				}
			}
		})
	}
	out := make([]*pkt, max(batch, 1))
	for got := 0; got < total; {
		switch {
		case wait:
			n, err := r.DequeueWait(ctx, out)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		case batch > 1:
			if n := r.DequeueBatch(out); n > 0 {
				got += n
			} else {
				runtime.Gosched()
			}
		default:
			if _, ok := r.Dequeue(); ok {
				got++
			} else {
				runtime.Gosched()
			}
		}
	}
	wg.Wait()
	r.Close()
}

func BenchmarkSPSC(b *testing.B) {
	benchSame(b, false)
	b.Run("cross/single", func(b *testing.B) { benchCross(b, false, 1, 1, false) })
	b.Run("cross/batch32", func(b *testing.B) { benchCross(b, false, 1, 32, false) })
	b.Run("cross/wait", func(b *testing.B) { benchCross(b, false, 1, 1, true) })
}

func BenchmarkMPSC(b *testing.B) {
	benchSame(b, true)
	for _, p := range []int{1, 4} {
		name := map[int]string{1: "cross-1p", 4: "cross-4p"}[p]
		b.Run(name+"/single", func(b *testing.B) { benchCross(b, true, p, 1, false) })
		b.Run(name+"/batch32", func(b *testing.B) { benchCross(b, true, p, 32, false) })
		b.Run(name+"/wait", func(b *testing.B) { benchCross(b, true, p, 1, true) })
	}
}

// BenchmarkChan is the baseline: a buffered Go channel of the same capacity.
func BenchmarkChan(b *testing.B) {
	b.Run("same/single", func(b *testing.B) {
		c := make(chan *pkt, benchCap)
		p := &pkt{}
		b.ReportAllocs()
		for b.Loop() {
			c <- p
			<-c
		}
	})
	b.Run("cross/single", func(b *testing.B) {
		c := make(chan *pkt, benchCap)
		b.ReportAllocs()
		b.ResetTimer()
		go func() {
			p := &pkt{}
			for range b.N {
				c <- p
			}
		}()
		for range b.N {
			<-c
		}
	})
}
