package ring

import (
	"context"
	"sync/atomic"
)

// SPSC is a bounded ring for exactly one producer goroutine and one consumer
// goroutine at a time (see the package doc for ownership, ordering, waiting
// and Close). The producer publishes with one atomic compare-and-swap of the
// tail per call (single or batch) and reads the consumer's head only when its
// cached copy says the ring is full; the consumer symmetrically.
type SPSC[T any] struct {
	_ pad
	// Consumer's group: written by the consumer only.
	head      atomic.Uint64 // next position to read; published after the slots are cleared
	chead     uint64        // consumer's own copy of head
	tailCache uint64        // last tail the consumer loaded (without closedBit)
	_         pad
	// Producer's group: written by the producer (tail also by Close).
	tail      atomic.Uint64 // next position to write, | closedBit once closed
	ptail     uint64        // producer's own copy of tail (without closedBit)
	headCache uint64        // last head the producer loaded
	// Parking flags (own cache lines) and read-only fields.
	parking
	buf  []T
	mask uint64
	size uint64
	_    pad
}

// NewSPSC returns an empty single-producer single-consumer ring holding at
// least capacity items (rounded up to a power of two, at least MinCapacity,
// at most MaxCapacity; otherwise the error wraps ErrCapacity).
func NewSPSC[T any](capacity int, opts Options) (*SPSC[T], error) {
	c, err := roundCapacity("SPSC", capacity)
	if err != nil {
		return nil, err
	}
	r := &SPSC[T]{buf: make([]T, c), mask: c - 1, size: c}
	r.parking.init(opts)
	return r, nil
}

// Cap returns the number of slots.
func (r *SPSC[T]) Cap() int { return int(r.size) }

// Len returns the number of items in the ring. Called by anyone else than
// the consumer it is a snapshot that may be stale by the time it returns.
func (r *SPSC[T]) Len() int {
	h := r.head.Load()
	return occupancy(h, r.tail.Load(), r.size)
}

// Closed reports whether Close was called.
func (r *SPSC[T]) Closed() bool { return r.tail.Load()&closedBit != 0 }

// Close closes the ring (see the package doc). It may be called from any
// goroutine, more than once.
func (r *SPSC[T]) Close() { r.closeRing(&r.tail) }

// freeSlots returns how many slots the producer may fill, loading the head
// only when the cached copy shows fewer than want free.
func (r *SPSC[T]) freeSlots(want int) int {
	free := int(r.size - (r.ptail - r.headCache))
	if free < want {
		r.headCache = r.head.Load()
		free = int(r.size - (r.ptail - r.headCache))
	}
	return free
}

// publish makes positions [t, t+n) visible to the consumer. It fails only
// when the ring was closed, and then clears the slots it had written.
func (r *SPSC[T]) publish(t uint64, n int) bool {
	if !r.tail.CompareAndSwap(t, t+uint64(n)) {
		i := t & r.mask
		c := min(uint64(n), r.size-i)
		clear(r.buf[i : i+c])
		clear(r.buf[:uint64(n)-c])
		return false
	}
	r.ptail = t + uint64(n)
	if r.consSleeping.Load() != 0 {
		r.wakeConsumer()
	}
	return true
}

// Enqueue appends v. It returns false, leaving v with the caller, when the
// ring is full or closed. Producer only.
func (r *SPSC[T]) Enqueue(v T) bool {
	if r.freeSlots(1) < 1 {
		return false
	}
	t := r.ptail
	r.buf[t&r.mask] = v
	return r.publish(t, 1)
}

// EnqueueBatch appends as many leading items as there is room for and
// returns how many it took (0 when full or closed); items[n:] stay with the
// caller. The ring does not keep a reference to items. Producer only.
func (r *SPSC[T]) EnqueueBatch(items []T) int {
	n := min(len(items), r.freeSlots(len(items)))
	if n <= 0 {
		return 0
	}
	t := r.ptail
	i := t & r.mask
	c := copy(r.buf[i:], items[:n])
	copy(r.buf, items[c:n])
	if !r.publish(t, n) {
		return 0
	}
	return n
}

// writable is called by the producer's wait loop.
func (r *SPSC[T]) writable() bool { return r.freeSlots(1) > 0 }

// EnqueueWait appends v, waiting while the ring is full (see Options). It
// returns ErrClosed if the ring is or gets closed, or ctx.Err(); on error
// the caller still owns v. Producer only.
func (r *SPSC[T]) EnqueueWait(ctx context.Context, v T) error {
	for slept := false; ; slept = true {
		if r.Enqueue(v) {
			if slept {
				r.passBaton()
			}
			return nil
		}
		if err := waitWritable(ctx, r, &r.parking); err != nil {
			return err
		}
	}
}

// EnqueueBatchWait appends all of items, waiting for room as needed. It
// returns how many items it appended; when that is less than len(items)
// the error is ErrClosed or ctx.Err() and items[n:] stay with the caller.
// Producer only.
func (r *SPSC[T]) EnqueueBatchWait(ctx context.Context, items []T) (int, error) {
	done := 0
	for {
		done += r.EnqueueBatch(items[done:])
		if done == len(items) {
			return done, nil
		}
		if err := waitWritable(ctx, r, &r.parking); err != nil {
			return done, err
		}
	}
}

// available returns how many items the consumer may take, loading the tail
// only when the cached copy shows fewer than want.
func (r *SPSC[T]) available(want int) int {
	avail := int(r.tailCache - r.chead)
	if avail < want {
		r.tailCache = r.tail.Load() &^ closedBit
		avail = int(r.tailCache - r.chead)
	}
	return avail
}

// release publishes the consumer's new head h and wakes a sleeping producer.
func (r *SPSC[T]) release(h uint64) {
	r.chead = h
	r.head.Store(h)
	if r.prodSleepers.Load() != 0 {
		r.signalSpace()
	}
}

// Dequeue takes the oldest item. ok is false when the ring is empty.
// Consumer only.
func (r *SPSC[T]) Dequeue() (v T, ok bool) {
	if r.available(1) < 1 {
		return v, false
	}
	h := r.chead
	slot := &r.buf[h&r.mask]
	v = *slot
	var zero T
	*slot = zero
	r.release(h + 1)
	return v, true
}

// DequeueBatch moves up to len(out) of the oldest items into out and returns
// how many (0 when empty). Consumer only.
func (r *SPSC[T]) DequeueBatch(out []T) int {
	n := min(len(out), r.available(len(out)))
	if n <= 0 {
		return 0
	}
	h := r.chead
	i := h & r.mask
	c := copy(out[:n], r.buf[i:])
	copy(out[c:n], r.buf)
	clear(r.buf[i : i+uint64(c)])
	clear(r.buf[:n-c])
	r.release(h + uint64(n))
	return n
}

// readable and drainState are called by the consumer's wait loop.
func (r *SPSC[T]) readable() bool { return r.available(1) > 0 }

func (r *SPSC[T]) drainState() (closed, drained bool) {
	t := r.tail.Load()
	closed = t&closedBit != 0
	return closed, closed && t&^closedBit == r.chead
}

// Wait blocks until an item can be dequeued (nil), the ring is closed and
// drained (ErrClosed), or ctx is done (ctx.Err()). Consumer only.
func (r *SPSC[T]) Wait(ctx context.Context) error {
	return waitReadable(ctx, r, &r.parking)
}

// DequeueWait is DequeueBatch that waits while the ring is empty. It
// returns n > 0 and nil, or 0 and ErrClosed (closed and drained) or
// ctx.Err(); an empty out returns 0, nil at once. Items present are
// returned even when ctx is already done.
// Consumer only.
func (r *SPSC[T]) DequeueWait(ctx context.Context, out []T) (int, error) {
	if len(out) == 0 {
		return 0, nil
	}
	for {
		if n := r.DequeueBatch(out); n > 0 {
			return n, nil
		}
		if err := r.Wait(ctx); err != nil {
			return 0, err
		}
	}
}
