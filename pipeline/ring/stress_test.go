package ring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stressItems is how many items each producer sends in the stress tests.
func stressItems(t *testing.T) int {
	if testing.Short() {
		return 50_000
	}
	return 1_000_000
}

// item encodes the producer in the top 16 bits and its sequence number below.
func item(producer, seq int) uint64 { return uint64(producer)<<48 | uint64(seq) }

// producerMode is how a stress producer enqueues.
type producerMode int

const (
	modeSpin      producerMode = iota // Enqueue, Gosched while full
	modeBatchSpin                     // EnqueueBatch, Gosched while full
	modeWait                          // EnqueueWait
	modeBatchWait                     // EnqueueBatchWait
)

func (m producerMode) String() string {
	return [...]string{"spin", "batch-spin", "wait", "batch-wait"}[m]
}

// consumerMode is how the stress consumer dequeues.
type consumerMode int

const (
	consSpin      consumerMode = iota // Dequeue, Gosched while empty
	consBatchSpin                     // DequeueBatch, Gosched while empty
	consWait                          // DequeueWait
)

func (m consumerMode) String() string { return [...]string{"spin", "batch-spin", "wait"}[m] }

// stress runs producers goroutines that each send n items through r, then
// close it, while the consumer checks that every producer's items arrive
// exactly once and in order. A lost wake-up shows up as the deadline.
func stress(t *testing.T, r Ring[uint64], producers, n int, pm producerMode, cm consumerMode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	perr := make(chan error, producers)
	for p := range producers {
		wg.Go(func() {
			batch := make([]uint64, 0, 37)
			flush := func() error {
				switch pm {
				case modeBatchSpin:
					for done := 0; done < len(batch); {
						k := r.EnqueueBatch(batch[done:])
						if k == 0 {
							if ctx.Err() != nil {
								return ctx.Err()
							}
							runtime.Gosched()
						}
						done += k
					}
				case modeBatchWait:
					if k, err := r.EnqueueBatchWait(ctx, batch); err != nil {
						return fmt.Errorf("EnqueueBatchWait: %d of %d: %w", k, len(batch), err)
					}
				}
				batch = batch[:0]
				return nil
			}
			for i := range n {
				v := item(p, i)
				switch pm {
				case modeSpin:
					for !r.Enqueue(v) {
						if ctx.Err() != nil {
							perr <- ctx.Err()
							return
						}
						runtime.Gosched()
					}
				case modeWait:
					if err := r.EnqueueWait(ctx, v); err != nil {
						perr <- fmt.Errorf("producer %d item %d: %w", p, i, err)
						return
					}
				default:
					// Vary the batch length so runs wrap at every offset.
					batch = append(batch, v)
					if len(batch) == 1+i%cap(batch) {
						if err := flush(); err != nil {
							perr <- err
							return
						}
					}
				}
			}
			if err := flush(); err != nil {
				perr <- err
			}
		})
	}
	go func() {
		wg.Wait()
		r.Close()
	}()

	next := make([]int, producers)
	out := make([]uint64, 64)
	total := 0
	check := func(vals []uint64) {
		for _, v := range vals {
			p, seq := int(v>>48), int(v&(1<<48-1))
			if p >= producers {
				t.Fatalf("item %#x from unknown producer", v)
			}
			if seq != next[p] {
				t.Fatalf("producer %d: got item %d, want %d (lost, duplicated or reordered)", p, seq, next[p])
			}
			next[p]++
			total++
		}
	}
loop:
	for {
		switch cm {
		case consSpin:
			v, ok := r.Dequeue()
			if ok {
				out[0] = v
				check(out[:1])
				continue
			}
		case consBatchSpin:
			if k := r.DequeueBatch(out[:1+total%len(out)]); k > 0 {
				check(out[:k])
				continue
			}
		case consWait:
			k, err := r.DequeueWait(ctx, out[:1+total%len(out)])
			if errors.Is(err, ErrClosed) {
				break loop
			}
			if err != nil {
				t.Fatalf("DequeueWait after %d items: %v (producers at %v)", total, err, next)
			}
			check(out[:k])
			continue
		}
		// Spinning consumer on an empty ring.
		if r.Closed() {
			// Drain what producers published before Close.
			if v, ok := r.Dequeue(); ok {
				out[0] = v
				check(out[:1])
				continue
			}
			if r.Len() == 0 {
				break loop
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("consumer: %v after %d items (producers at %v)", ctx.Err(), total, next)
		}
		runtime.Gosched()
	}
	close(perr)
	for err := range perr {
		t.Fatal(err)
	}
	for p, got := range next {
		if got != n {
			t.Errorf("producer %d: received %d of %d items", p, got, n)
		}
	}
	if r.Len() != 0 {
		t.Errorf("Len = %d after drain", r.Len())
	}
}

func TestStressSPSC(t *testing.T) {
	n := stressItems(t)
	for _, c := range []struct {
		capacity int
		busy     int
		pm       producerMode
		cm       consumerMode
	}{
		{1024, 0, modeSpin, consSpin},
		{1024, 0, modeBatchSpin, consBatchSpin},
		{256, 1000, modeWait, consWait},
		{4, 0, modeWait, consWait}, // parks on almost every item
		{64, 0, modeBatchWait, consWait},
	} {
		t.Run(fmt.Sprintf("cap%d-busy%d-%v-%v", c.capacity, c.busy, c.pm, c.cm), func(t *testing.T) {
			r, err := NewSPSC[uint64](c.capacity, Options{BusyPoll: c.busy})
			if err != nil {
				t.Fatal(err)
			}
			items := n
			if c.capacity == 4 {
				items = n / 4 // each item is a park/wake round trip
			}
			stress(t, r, 1, items, c.pm, c.cm)
		})
	}
}

func TestStressMPSC(t *testing.T) {
	n := stressItems(t)
	for _, c := range []struct {
		producers int
		capacity  int
		busy      int
		pm        producerMode
		cm        consumerMode
	}{
		{1, 1024, 0, modeSpin, consSpin},
		{1, 256, 1000, modeWait, consWait},
		{4, 1024, 0, modeSpin, consSpin},
		{4, 1024, 0, modeBatchSpin, consBatchSpin},
		{4, 256, 1000, modeWait, consWait},
		{4, 64, 0, modeBatchWait, consWait},
		{4, 4, 0, modeWait, consWait}, // producers park on a full ring all the time
	} {
		name := fmt.Sprintf("p%d-cap%d-busy%d-%v-%v", c.producers, c.capacity, c.busy, c.pm, c.cm)
		t.Run(name, func(t *testing.T) {
			r, err := NewMPSC[uint64](c.capacity, Options{BusyPoll: c.busy})
			if err != nil {
				t.Fatal(err)
			}
			items := n
			if c.capacity == 4 {
				items = n / 4
			}
			stress(t, r, c.producers, items, c.pm, c.cm)
		})
	}
}

// TestMPSCCloseRace closes the ring while producers are enqueuing: every
// Enqueue that returned true must be delivered, nothing else.
func TestMPSCCloseRace(t *testing.T) {
	rounds := 200
	if raceEnabled || testing.Short() {
		rounds = 30
	}
	for round := range rounds {
		r, err := NewMPSC[uint64](64, Options{})
		if err != nil {
			t.Fatal(err)
		}
		const producers = 4
		var sent [producers]atomic.Int64
		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				items := []uint64{0, 0, 0}
				for i := 0; ; {
					if i%2 == 0 {
						if !r.Enqueue(item(p, i)) {
							if r.Closed() {
								return
							}
							runtime.Gosched()
							continue
						}
						i++
					} else {
						for k := range items {
							items[k] = item(p, i+k)
						}
						k := r.EnqueueBatch(items)
						if k == 0 {
							if r.Closed() {
								return
							}
							runtime.Gosched()
							continue
						}
						i += k
					}
					sent[p].Store(int64(i))
				}
			})
		}
		go func() {
			time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
			r.Close()
		}()
		var next [producers]int64
		out := make([]uint64, 16)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			k, err := r.DequeueWait(ctx, out)
			if errors.Is(err, ErrClosed) {
				break
			}
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			for _, v := range out[:k] {
				p, seq := v>>48, int64(v&(1<<48-1))
				if seq != next[p] {
					t.Fatalf("round %d: producer %d: got %d, want %d", round, p, seq, next[p])
				}
				next[p]++
			}
		}
		cancel()
		wg.Wait()
		for p := range producers {
			if next[p] != sent[p].Load() {
				t.Fatalf("round %d: producer %d: %d enqueued, %d received", round, p, sent[p].Load(), next[p])
			}
		}
	}
}
