package ring

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// Ring is the method set both ring types share; the tests run against it.
type Ring[T any] interface {
	Enqueue(v T) bool
	EnqueueBatch(items []T) int
	EnqueueWait(ctx context.Context, v T) error
	EnqueueBatchWait(ctx context.Context, items []T) (int, error)
	Dequeue() (T, bool)
	DequeueBatch(out []T) int
	DequeueWait(ctx context.Context, out []T) (int, error)
	Wait(ctx context.Context) error
	Len() int
	Cap() int
	Close()
	Closed() bool
}

var (
	_ Ring[*int] = (*SPSC[*int])(nil)
	_ Ring[*int] = (*MPSC[*int])(nil)
)

type kind struct {
	name  string
	multi bool // several producers allowed
	new   func(t testing.TB, capacity int, o Options) Ring[uint64]
}

var kinds = []kind{
	{"SPSC", false, func(t testing.TB, c int, o Options) Ring[uint64] {
		r, err := NewSPSC[uint64](c, o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}},
	{"MPSC", true, func(t testing.TB, c int, o Options) Ring[uint64] {
		r, err := NewMPSC[uint64](c, o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}},
}

func forKinds(t *testing.T, f func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

func TestCapacity(t *testing.T) {
	for _, c := range []struct{ in, want int }{{2, 2}, {3, 4}, {4, 4}, {5, 8}, {1000, 1024}, {1 << 20, 1 << 20}} {
		s, err := NewSPSC[int](c.in, Options{})
		if err != nil || s.Cap() != c.want {
			t.Errorf("NewSPSC(%d): cap %v, err %v; want %d", c.in, s.Cap(), err, c.want)
		}
		m, err := NewMPSC[int](c.in, Options{})
		if err != nil || m.Cap() != c.want {
			t.Errorf("NewMPSC(%d): cap %v, err %v; want %d", c.in, m.Cap(), err, c.want)
		}
	}
	for _, c := range []int{-1, 0, 1, MaxCapacity + 1} {
		if _, err := NewSPSC[int](c, Options{}); !errors.Is(err, ErrCapacity) {
			t.Errorf("NewSPSC(%d) err = %v, want ErrCapacity", c, err)
		}
		if _, err := NewMPSC[int](c, Options{}); !errors.Is(err, ErrCapacity) {
			t.Errorf("NewMPSC(%d) err = %v, want ErrCapacity", c, err)
		}
	}
}

// TestPadding checks that the indices different threads write are at least
// CacheLinePad bytes apart.
func TestPadding(t *testing.T) {
	var s SPSC[*int]
	if d := unsafe.Offsetof(s.tail) - unsafe.Offsetof(s.tailCache); d < CacheLinePad {
		t.Errorf("SPSC consumer group to tail: %d bytes", d)
	}
	if d := unsafe.Offsetof(s.parking) + unsafe.Offsetof(s.parking.consSleeping) - unsafe.Offsetof(s.headCache); d < CacheLinePad {
		t.Errorf("SPSC producer group to parking flags: %d bytes", d)
	}
	if d := unsafe.Offsetof(s.buf) - (unsafe.Offsetof(s.parking) + unsafe.Offsetof(s.parking.prodSleepers)); d < CacheLinePad {
		t.Errorf("SPSC parking flags to read-only fields: %d bytes", d)
	}
	if unsafe.Offsetof(s.head) < CacheLinePad {
		t.Errorf("SPSC head at offset %d, no leading padding", unsafe.Offsetof(s.head))
	}
	var m MPSC[*int]
	if d := unsafe.Offsetof(m.headPub) - unsafe.Offsetof(m.tail); d < CacheLinePad {
		t.Errorf("MPSC tail to head: %d bytes", d)
	}
	if d := unsafe.Offsetof(m.parking) + unsafe.Offsetof(m.parking.consSleeping) - unsafe.Offsetof(m.runEnd); d < CacheLinePad {
		t.Errorf("MPSC consumer group to parking flags: %d bytes", d)
	}
}

func TestFIFOSingle(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(t, 8, Options{})
		if _, ok := r.Dequeue(); ok {
			t.Fatal("Dequeue on empty ring succeeded")
		}
		next, want := uint64(0), uint64(0)
		// Run several laps with varying fill levels.
		for round := range 50 {
			fill := round%8 + 1
			for range fill {
				if !r.Enqueue(next) {
					t.Fatalf("round %d: Enqueue(%d) failed with Len %d", round, next, r.Len())
				}
				next++
			}
			if r.Len() != fill {
				t.Fatalf("round %d: Len = %d, want %d", round, r.Len(), fill)
			}
			for range fill {
				v, ok := r.Dequeue()
				if !ok || v != want {
					t.Fatalf("round %d: Dequeue = %d,%v want %d", round, v, ok, want)
				}
				want++
			}
		}
		for i := range 8 {
			if !r.Enqueue(uint64(i)) {
				t.Fatalf("Enqueue %d of 8 failed", i)
			}
		}
		if r.Enqueue(99) {
			t.Fatal("Enqueue on full ring succeeded")
		}
		if r.Len() != 8 {
			t.Fatalf("Len = %d on full ring", r.Len())
		}
	})
}

func TestFIFOBatch(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(t, 16, Options{})
		in := make([]uint64, 32)
		out := make([]uint64, 32)
		next, want := uint64(0), uint64(0)
		for round := range 200 {
			size := round%13 + 1
			for i := range size {
				in[i] = next + uint64(i)
			}
			n := r.EnqueueBatch(in[:size])
			free := 16 - r.Len() + n
			if n != min(size, free) {
				t.Fatalf("round %d: EnqueueBatch(%d) = %d with %d free", round, size, n, free)
			}
			next += uint64(n)
			m := r.DequeueBatch(out[:round%7+1])
			for i := range m {
				if out[i] != want {
					t.Fatalf("round %d: out[%d] = %d, want %d", round, i, out[i], want)
				}
				want++
			}
		}
		for {
			m := r.DequeueBatch(out)
			if m == 0 {
				break
			}
			for i := range m {
				if out[i] != want {
					t.Fatalf("drain: got %d, want %d", out[i], want)
				}
				want++
			}
		}
		if want != next {
			t.Fatalf("received %d items, sent %d", want, next)
		}
		if n := r.EnqueueBatch(nil); n != 0 {
			t.Fatalf("EnqueueBatch(nil) = %d", n)
		}
		if n := r.DequeueBatch(nil); n != 0 {
			t.Fatalf("DequeueBatch(nil) = %d", n)
		}
	})
}

// TestSlotsCleared checks that a dequeued pointer is no longer held by the
// ring, in single and batch mode, including across the wrap-around.
func TestSlotsCleared(t *testing.T) {
	vals := make([]*int, 8)
	for i := range vals {
		vals[i] = new(int)
	}
	s, _ := NewSPSC[*int](4, Options{})
	m, _ := NewMPSC[*int](4, Options{})
	out := make([]*int, 3)
	// The test keeps both rings empty between steps, so every slot that
	// ever held a pointer must be nil again.
	check := func(step string) {
		t.Helper()
		for i, v := range s.buf {
			if v != nil {
				t.Fatalf("%s: SPSC slot %d still holds a taken pointer", step, i)
			}
		}
		for i, v := range m.buf {
			if v != nil {
				t.Fatalf("%s: MPSC cell %d still holds a taken pointer", step, i)
			}
		}
	}
	for round := range 6 {
		s.EnqueueBatch(vals[:3])
		m.EnqueueBatch(vals[:3])
		s.DequeueBatch(out)
		m.DequeueBatch(out)
		check("batch")
		s.Enqueue(vals[round])
		m.Enqueue(vals[round])
		s.Dequeue()
		m.Dequeue()
		check("single")
	}
}

func TestClose(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		ctx := context.Background()
		r := k.new(t, 8, Options{})
		for i := range 5 {
			r.Enqueue(uint64(i))
		}
		if r.Closed() {
			t.Fatal("Closed before Close")
		}
		r.Close()
		r.Close() // idempotent
		if !r.Closed() {
			t.Fatal("not Closed after Close")
		}
		if r.Enqueue(9) {
			t.Fatal("Enqueue after Close succeeded")
		}
		if n := r.EnqueueBatch([]uint64{9, 9}); n != 0 {
			t.Fatalf("EnqueueBatch after Close = %d", n)
		}
		if err := r.EnqueueWait(ctx, 9); !errors.Is(err, ErrClosed) {
			t.Fatalf("EnqueueWait after Close: %v", err)
		}
		if n, err := r.EnqueueBatchWait(ctx, []uint64{9}); n != 0 || !errors.Is(err, ErrClosed) {
			t.Fatalf("EnqueueBatchWait after Close: %d, %v", n, err)
		}
		if r.Len() != 5 {
			t.Fatalf("Len after Close = %d, want 5", r.Len())
		}
		out := make([]uint64, 3)
		var got []uint64
		for {
			n, err := r.DequeueWait(ctx, out)
			if errors.Is(err, ErrClosed) {
				break
			}
			if err != nil || n == 0 {
				t.Fatalf("DequeueWait: %d, %v", n, err)
			}
			got = append(got, out[:n]...)
		}
		if len(got) != 5 {
			t.Fatalf("drained %v, want 0..4", got)
		}
		for i, v := range got {
			if v != uint64(i) {
				t.Fatalf("drained %v, want 0..4", got)
			}
		}
		if err := r.Wait(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("Wait on drained closed ring: %v", err)
		}
		// The failed enqueues must not have left anything in the ring.
		if v, ok := r.Dequeue(); ok {
			t.Fatalf("Dequeue after drain returned %d", v)
		}
	})
}

// TestCloseWakes checks that Close wakes a parked consumer and parked
// producers.
func TestCloseWakes(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r := k.new(t, 2, Options{})
		errc := make(chan error, 1)
		go func() {
			_, err := r.DequeueWait(ctx, make([]uint64, 4))
			errc <- err
		}()
		time.Sleep(50 * time.Millisecond)
		r.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("parked consumer got %v, want ErrClosed", err)
		}

		r = k.new(t, 2, Options{})
		r.Enqueue(1)
		r.Enqueue(2)
		producers := 1
		if k.multi {
			producers = 3
		}
		perrc := make(chan error, producers)
		for range producers {
			go func() { perrc <- r.EnqueueWait(ctx, 3) }()
		}
		time.Sleep(50 * time.Millisecond)
		r.Close()
		for range producers {
			if err := <-perrc; !errors.Is(err, ErrClosed) {
				t.Fatalf("parked producer got %v, want ErrClosed", err)
			}
		}
	})
}

func TestContextCancel(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(t, 2, Options{BusyPoll: 100})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if _, err := r.DequeueWait(ctx, make([]uint64, 1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("DequeueWait on empty ring: %v", err)
		}
		r.Enqueue(1)
		r.Enqueue(2)
		if err := r.EnqueueWait(ctx, 3); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("EnqueueWait on full ring: %v", err)
		}
		n, err := r.EnqueueBatchWait(ctx, []uint64{3, 4})
		if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("EnqueueBatchWait on full ring: %d, %v", n, err)
		}
		// Items present are delivered even with a done context.
		out := make([]uint64, 4)
		if n, err := r.DequeueWait(ctx, out); n != 2 || err != nil || out[0] != 1 || out[1] != 2 {
			t.Fatalf("DequeueWait with done ctx: %d %v %v", n, err, out[:n])
		}
	})
}

// TestWakeUp checks that a parked consumer is woken by Enqueue and a parked
// producer by Dequeue.
func TestWakeUp(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r := k.new(t, 2, Options{})
		got := make(chan uint64, 1)
		go func() {
			out := make([]uint64, 1)
			if n, err := r.DequeueWait(ctx, out); n == 1 && err == nil {
				got <- out[0]
			}
			close(got)
		}()
		time.Sleep(50 * time.Millisecond) // let it park
		start := time.Now()
		r.Enqueue(42)
		if v := <-got; v != 42 {
			t.Fatalf("woken consumer got %d", v)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("consumer woke after %v", d)
		}

		r.Enqueue(1)
		r.Enqueue(2)
		perr := make(chan error, 1)
		go func() { perr <- r.EnqueueWait(ctx, 3) }()
		time.Sleep(50 * time.Millisecond)
		if v, ok := r.Dequeue(); !ok || v != 1 {
			t.Fatalf("Dequeue = %d, %v", v, ok)
		}
		if err := <-perr; err != nil {
			t.Fatalf("parked producer: %v", err)
		}
		for _, want := range []uint64{2, 3} {
			if v, ok := r.Dequeue(); !ok || v != want {
				t.Fatalf("Dequeue = %d,%v want %d", v, ok, want)
			}
		}
	})
}

// TestDequeuedCollectable checks with the garbage collector itself that a
// ring which stays alive does not keep a dequeued object reachable.
func TestDequeuedCollectable(t *testing.T) {
	s, _ := NewSPSC[*[64]byte](8, Options{})
	m, _ := NewMPSC[*[64]byte](8, Options{})
	freed := make(chan string, 4)
	fill := func() {
		a, b, c, d := new([64]byte), new([64]byte), new([64]byte), new([64]byte)
		runtime.AddCleanup(a, func(s string) { freed <- s }, "SPSC single")
		runtime.AddCleanup(b, func(s string) { freed <- s }, "SPSC batch")
		runtime.AddCleanup(c, func(s string) { freed <- s }, "MPSC single")
		runtime.AddCleanup(d, func(s string) { freed <- s }, "MPSC batch")
		s.Enqueue(a)
		s.EnqueueBatch([]*[64]byte{b})
		m.Enqueue(c)
		m.EnqueueBatch([]*[64]byte{d})
		s.Dequeue()
		s.DequeueBatch(make([]*[64]byte, 2))
		m.Dequeue()
		m.DequeueBatch(make([]*[64]byte, 2))
	}
	fill()
	got := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for len(got) < 4 {
		runtime.GC()
		select {
		case s := <-freed:
			got[s] = true
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("objects still reachable after dequeue; freed only %v", got)
		}
	}
	runtime.KeepAlive(s)
	runtime.KeepAlive(m)
}
