package ring

import (
	"context"
	"sync/atomic"
)

// runHdr describes the run of positions a producer reserved starting at the
// cell's position. A producer reserves a run [p, p+n) with one
// compare-and-swap on the tail, writes the values, stores n and then
// publishes the run by storing seq = p+1. seq still holds the start+1 of an
// older run (or 0) until then, which can never equal p+1.
type runHdr struct {
	seq atomic.Uint64 // p+1 once the run starting at p is published
	n   uint64        // the run's length; valid once seq is published
}

// MPSC is a bounded ring for any number of producer goroutines and one
// consumer goroutine at a time (see the package doc for ownership, ordering,
// waiting and Close).
//
// A producer reserves a run of positions with one compare-and-swap on the
// shared tail (after checking the consumer's published head for room),
// copies its values into the slots and publishes the whole run with one
// atomic store in the run's header. A single Enqueue is a run of one, so a
// call costs two atomic read-modify-writes whatever its length. The
// consumer follows the runs in position order, reading one header per run,
// clears the slots it took and publishes its head once per call. A producer
// that is slow to publish its run delays only the consumer's view of the
// runs after it, never other producers. Items of one producer come out in
// the order it enqueued them; a batch comes out as one contiguous run;
// items of different producers interleave in reservation order.
type MPSC[T any] struct {
	_ pad
	// Producers' group: the reservation index, | closedBit once closed.
	tail atomic.Uint64
	_    pad
	// Consumer's group.
	headPub atomic.Uint64 // consumer's head, published after the slots before it were cleared
	head    uint64        // next position to read (consumer only)
	runEnd  uint64        // positions [head, runEnd) are known published (consumer only)
	// Parking flags (own cache lines) and read-only fields.
	parking
	buf  []T
	runs []runHdr
	mask uint64
	size uint64
	_    pad
}

// NewMPSC returns an empty multi-producer single-consumer ring holding at
// least capacity items (rounded up to a power of two, at least MinCapacity,
// at most MaxCapacity; otherwise the error wraps ErrCapacity).
func NewMPSC[T any](capacity int, opts Options) (*MPSC[T], error) {
	c, err := roundCapacity("MPSC", capacity)
	if err != nil {
		return nil, err
	}
	r := &MPSC[T]{buf: make([]T, c), runs: make([]runHdr, c), mask: c - 1, size: c}
	r.parking.init(opts)
	return r, nil
}

// Cap returns the number of slots.
func (r *MPSC[T]) Cap() int { return int(r.size) }

// Len returns the number of items reserved by producers and not yet taken
// by the consumer, as a snapshot that may be stale by the time it returns.
func (r *MPSC[T]) Len() int {
	h := r.headPub.Load()
	return occupancy(h, r.tail.Load(), r.size)
}

// Closed reports whether Close was called.
func (r *MPSC[T]) Closed() bool { return r.tail.Load()&closedBit != 0 }

// Close closes the ring (see the package doc). It may be called from any
// goroutine, more than once, also while producers are enqueuing: an Enqueue
// that reserved its slots before Close is delivered, later ones fail.
func (r *MPSC[T]) Close() { r.closeRing(&r.tail) }

// reserve reserves up to want positions and returns the first and how many
// (0 when the ring is full or closed).
func (r *MPSC[T]) reserve(want int) (pos uint64, n int) {
	for {
		pos = r.tail.Load()
		if pos&closedBit != 0 {
			return 0, 0
		}
		// Positions below headPub are taken and their slots cleared.
		used := int64(pos - r.headPub.Load())
		if used < 0 {
			continue // pos is stale: others reserved and the consumer took them
		}
		free := int64(r.size) - used
		if free <= 0 {
			return 0, 0
		}
		n = int(min(int64(want), free))
		if r.tail.CompareAndSwap(pos, pos+uint64(n)) {
			return pos, n
		}
	}
}

// publish makes the run [pos, pos+n) visible to the consumer.
func (r *MPSC[T]) publish(pos uint64, n int) {
	h := &r.runs[pos&r.mask]
	h.n = uint64(n)
	h.seq.Store(pos + 1)
	if r.consSleeping.Load() != 0 {
		r.wakeConsumer()
	}
}

// Enqueue appends v. It returns false, leaving v with the caller, when the
// ring is full or closed. Safe for concurrent producers.
func (r *MPSC[T]) Enqueue(v T) bool {
	pos, n := r.reserve(1)
	if n == 0 {
		return false
	}
	r.buf[pos&r.mask] = v
	r.publish(pos, 1)
	return true
}

// EnqueueBatch appends as many leading items as there is room for, as one
// contiguous run (no other producer's items interleave with them), and
// returns how many it took (0 when full or closed); items[n:] stay with the
// caller. The ring does not keep a reference to items. Safe for concurrent
// producers.
func (r *MPSC[T]) EnqueueBatch(items []T) int {
	if len(items) == 0 {
		return 0
	}
	pos, n := r.reserve(len(items))
	if n == 0 {
		return 0
	}
	i := pos & r.mask
	c := copy(r.buf[i:], items[:n])
	copy(r.buf, items[c:n])
	r.publish(pos, n)
	return n
}

// writable is called by a producer's wait loop.
func (r *MPSC[T]) writable() bool {
	used := int64(r.tail.Load()&^closedBit - r.headPub.Load())
	return used < int64(r.size)
}

// EnqueueWait appends v, waiting while the ring is full (see Options). It
// returns ErrClosed if the ring is or gets closed, or ctx.Err(); on error
// the caller still owns v. Safe for concurrent producers.
func (r *MPSC[T]) EnqueueWait(ctx context.Context, v T) error {
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

// EnqueueBatchWait appends all of items, waiting for room as needed; items
// may be split into several runs, with other producers' items between them.
// It returns how many items it appended; when that is less than len(items)
// the error is ErrClosed or ctx.Err() and items[n:] stay with the caller.
// Safe for concurrent producers.
func (r *MPSC[T]) EnqueueBatchWait(ctx context.Context, items []T) (int, error) {
	done := 0
	for slept := false; ; slept = true {
		done += r.EnqueueBatch(items[done:])
		if done == len(items) {
			if slept {
				r.passBaton()
			}
			return done, nil
		}
		if err := waitWritable(ctx, r, &r.parking); err != nil {
			return done, err
		}
	}
}

// published returns how many positions from head the consumer may take,
// following published runs until it knows of at least want.
func (r *MPSC[T]) published(want int) int {
	for int(r.runEnd-r.head) < want {
		p := r.runEnd
		h := &r.runs[p&r.mask]
		if h.seq.Load() != p+1 {
			break
		}
		r.runEnd = p + h.n
	}
	return int(r.runEnd - r.head)
}

// release publishes the consumer's new head h and wakes a sleeping producer.
func (r *MPSC[T]) release(h uint64) {
	r.head = h
	r.headPub.Store(h)
	if r.prodSleepers.Load() != 0 {
		r.signalSpace()
	}
}

// Dequeue takes the oldest published item. ok is false when the ring is
// empty or the oldest reserved run is not yet published. Consumer only.
func (r *MPSC[T]) Dequeue() (v T, ok bool) {
	if r.published(1) < 1 {
		return v, false
	}
	h := r.head
	slot := &r.buf[h&r.mask]
	v = *slot
	var zero T
	*slot = zero
	r.release(h + 1)
	return v, true
}

// DequeueBatch moves up to len(out) of the oldest published items into out
// and returns how many (0 when none). It stops at the first run that is
// reserved but not yet published. Consumer only.
func (r *MPSC[T]) DequeueBatch(out []T) int {
	n := min(len(out), r.published(len(out)))
	if n <= 0 {
		return 0
	}
	h := r.head
	i := h & r.mask
	c := copy(out[:n], r.buf[i:])
	copy(out[c:n], r.buf)
	clear(r.buf[i : i+uint64(c)])
	clear(r.buf[:n-c])
	r.release(h + uint64(n))
	return n
}

// readable and drainState are called by the consumer's wait loop.
func (r *MPSC[T]) readable() bool { return r.published(1) > 0 }

func (r *MPSC[T]) drainState() (closed, drained bool) {
	t := r.tail.Load()
	closed = t&closedBit != 0
	return closed, closed && t&^closedBit == r.head
}

// Wait blocks until an item can be dequeued (nil), the ring is closed and
// drained (ErrClosed), or ctx is done (ctx.Err()). Consumer only.
func (r *MPSC[T]) Wait(ctx context.Context) error {
	return waitReadable(ctx, r, &r.parking)
}

// DequeueWait is DequeueBatch that waits while the ring is empty. It
// returns n > 0 and nil, or 0 and ErrClosed (closed and drained) or
// ctx.Err(); an empty out returns 0, nil at once. Items present are
// returned even when ctx is already done.
// Consumer only.
func (r *MPSC[T]) DequeueWait(ctx context.Context, out []T) (int, error) {
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
