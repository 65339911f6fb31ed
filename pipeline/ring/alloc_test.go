package ring

import (
	"context"
	"testing"
)

type pkt struct{ n int }

// TestNoAllocs checks that the per-packet operations allocate nothing, for
// pointer items as the pipeline uses them.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	p := &pkt{}
	in := make([]*pkt, 32)
	for i := range in {
		in[i] = p
	}
	out := make([]*pkt, 32)
	s, _ := NewSPSC[*pkt](256, Options{})
	m, _ := NewMPSC[*pkt](256, Options{})
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"SPSC single", func() { s.Enqueue(p); s.Dequeue() }},
		{"SPSC batch", func() { s.EnqueueBatch(in); s.DequeueBatch(out) }},
		{"SPSC wait", func() { s.EnqueueWait(ctx, p); s.DequeueWait(ctx, out) }},
		{"SPSC batch wait", func() { s.EnqueueBatchWait(ctx, in); s.DequeueWait(ctx, out) }},
		{"SPSC full/empty", func() {
			for s.Enqueue(p) {
			}
			s.EnqueueBatch(in)
			for s.DequeueBatch(out) > 0 {
			}
			s.Dequeue()
		}},
		{"MPSC single", func() { m.Enqueue(p); m.Dequeue() }},
		{"MPSC batch", func() { m.EnqueueBatch(in); m.DequeueBatch(out) }},
		{"MPSC wait", func() { m.EnqueueWait(ctx, p); m.DequeueWait(ctx, out) }},
		{"MPSC batch wait", func() { m.EnqueueBatchWait(ctx, in); m.DequeueWait(ctx, out) }},
		{"MPSC full/empty", func() {
			for m.Enqueue(p) {
			}
			m.EnqueueBatch(in)
			for m.DequeueBatch(out) > 0 {
			}
			m.Dequeue()
		}},
		{"Len", func() { _ = s.Len() + m.Len() }},
	} {
		if a := testing.AllocsPerRun(1000, c.f); a != 0 {
			t.Errorf("%s: %v allocations per run", c.name, a)
		}
	}
}

// TestNoAllocsParked checks that the park/wake path allocates nothing
// either: two goroutines ping-pong one item through two rings with
// BusyPoll 0, so every hand-off parks the receiver and wakes it.
func TestNoAllocsParked(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ping, _ := NewSPSC[*pkt](4, Options{})
	pong, _ := NewMPSC[*pkt](4, Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]*pkt, 1)
		for {
			if _, err := ping.DequeueWait(ctx, buf); err != nil {
				return
			}
			if pong.EnqueueWait(ctx, buf[0]) != nil {
				return
			}
		}
	}()
	p := &pkt{}
	buf := make([]*pkt, 1)
	a := testing.AllocsPerRun(2000, func() {
		if err := ping.EnqueueWait(ctx, p); err != nil {
			t.Fatal(err)
		}
		if n, err := pong.DequeueWait(ctx, buf); n != 1 || err != nil {
			t.Fatal(n, err)
		}
	})
	cancel()
	ping.Close()
	<-done
	if a != 0 {
		t.Errorf("park/wake round trip: %v allocations per run", a)
	}
}
