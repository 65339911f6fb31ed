package ring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime returns the CPU time (user + system) the process used so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage(RUSAGE_SELF): %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleWaitCPU parks a consumer on an empty ring for 500 ms and checks
// that the process used almost no CPU meanwhile: a consumer that spun would
// use the whole 500 ms of one core.
func TestIdleWaitCPU(t *testing.T) {
	const idle = 500 * time.Millisecond
	for _, busy := range []int{0, 10_000} {
		t.Run(fmt.Sprintf("busy%d", busy), func(t *testing.T) { idleWait(t, busy, idle) })
	}
}

func idleWait(t *testing.T, busy int, idle time.Duration) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(t, 64, Options{BusyPoll: busy})
		runtime.GC() // keep the collector out of the measurement
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		defer cancel()
		before := cpuTime(t)
		_, err := r.DequeueWait(ctx, make([]uint64, 8))
		wall := time.Since(start)
		used := cpuTime(t) - before
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("DequeueWait on idle ring: %v", err)
		}
		if wall < idle {
			t.Fatalf("DequeueWait returned after %v, before the %v deadline", wall, idle)
		}
		t.Logf("BusyPoll %d: waited %v, process CPU %v", busy, wall.Round(time.Millisecond), used)
		if used > idle/10 {
			t.Errorf("BusyPoll %d: process used %v of CPU during a %v idle wait (limit %v)", busy, used, wall, idle/10)
		}
	})
}

// TestIdleProducerWaitCPU does the same for a producer parked on a full ring.
func TestIdleProducerWaitCPU(t *testing.T) {
	const idle = 500 * time.Millisecond
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(t, 2, Options{BusyPoll: 1000})
		r.Enqueue(1)
		r.Enqueue(2)
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		defer cancel()
		before := cpuTime(t)
		err := r.EnqueueWait(ctx, 3)
		used := cpuTime(t) - before
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("EnqueueWait on full ring: %v", err)
		}
		t.Logf("process CPU %v during %v", used, idle)
		if used > idle/10 {
			t.Errorf("process used %v of CPU during a %v producer wait", used, idle)
		}
	})
}

// TestPingPong bounces one item between two goroutines through a pair of
// rings with BusyPoll 0, so every hand-off races a producer's publish with
// the consumer going to sleep. Only one item is ever in flight, so a lost
// wake-up stalls both sides until the deadline.
func TestPingPong(t *testing.T) {
	rounds := 200_000
	if testing.Short() || raceEnabled {
		rounds = 20_000
	}
	for _, pair := range []struct {
		name     string
		ping     Ring[uint64]
		pong     Ring[uint64]
		batchOut int
	}{
		{"SPSC", mustSPSC(t, 2), mustSPSC(t, 2), 1},
		{"MPSC", mustMPSC(t, 2), mustMPSC(t, 2), 4},
	} {
		t.Run(pair.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			echo := make(chan error, 1)
			go func() {
				buf := make([]uint64, pair.batchOut)
				for {
					n, err := pair.ping.DequeueWait(ctx, buf)
					if err != nil {
						if errors.Is(err, ErrClosed) {
							err = nil
						}
						echo <- err
						return
					}
					for _, v := range buf[:n] {
						if err := pair.pong.EnqueueWait(ctx, v+1); err != nil {
							echo <- err
							return
						}
					}
				}
			}()
			buf := make([]uint64, pair.batchOut)
			for i := range rounds {
				if err := pair.ping.EnqueueWait(ctx, uint64(2*i)); err != nil {
					t.Fatalf("round %d: ping: %v", i, err)
				}
				n, err := pair.pong.DequeueWait(ctx, buf)
				if err != nil {
					t.Fatalf("round %d: pong: %v (lost wake-up?)", i, err)
				}
				if n != 1 || buf[0] != uint64(2*i+1) {
					t.Fatalf("round %d: got %v", i, buf[:n])
				}
			}
			pair.ping.Close()
			if err := <-echo; err != nil {
				t.Fatalf("echo side: %v", err)
			}
		})
	}
}

func mustSPSC(t testing.TB, c int) Ring[uint64] { return kinds[0].new(t, c, Options{}) }
func mustMPSC(t testing.TB, c int) Ring[uint64] { return kinds[1].new(t, c, Options{}) }

// TestFullRingHandoff keeps a capacity-2 ring full: the consumer takes one
// item as soon as the producer has refilled the ring, so every take races
// the producer going to sleep in EnqueueWait. A lost wake-up leaves the
// producer asleep next to a free slot until the deadline.
func TestFullRingHandoff(t *testing.T) {
	items := 200_000
	if testing.Short() || raceEnabled {
		items = 20_000
	}
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(t, 2, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		perr := make(chan error, 1)
		go func() {
			for i := range items {
				if err := r.EnqueueWait(ctx, uint64(i)); err != nil {
					perr <- fmt.Errorf("EnqueueWait item %d: %w", i, err)
					return
				}
			}
			perr <- nil
		}()
		for i := range items {
			for r.Len() < min(2, items-i) {
				if ctx.Err() != nil {
					t.Fatalf("item %d: producer did not refill the ring: %v (lost wake-up?)", i, ctx.Err())
				}
				runtime.Gosched()
			}
			v, ok := r.Dequeue()
			if !ok || v != uint64(i) {
				t.Fatalf("Dequeue = %d, %v; want %d", v, ok, i)
			}
		}
		if err := <-perr; err != nil {
			t.Fatal(err)
		}
	})
}
