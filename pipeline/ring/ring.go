// Package ring provides bounded lock-free rings that move values (in Vigil:
// *packet.Packet) between the threads of a pipeline: SPSC for one producer
// and one consumer (autofp capture thread -> worker), MPSC for several
// producers and one consumer.
//
// # Layout
//
// Capacity is a power of two (New* rounds up) so a position maps to a slot
// with a mask. Positions are uint64 counters that never wrap in practice
// (2^63 items). The consumer's index and the producers' index live on
// separate cache lines: groups of fields that different threads write are
// separated by 128 bytes of padding (CacheLinePad), two 64-byte lines,
// because x86's adjacent-line prefetcher fetches lines in aligned pairs and
// would otherwise make neighbours false-share. A third group holds the
// parking flags, which both sides read on every call and write only when
// one of them goes to sleep.
//
// # Memory ordering
//
// All index and sequence accesses use sync/atomic, which in Go is
// sequentially consistent. A producer writes its slots with plain stores and
// then publishes them with one atomic store (SPSC: the tail index; MPSC: the
// header of the run of slots it reserved); the consumer reads the slots only
// after an atomic load has observed that publication, so the slot writes
// happen before the reads (Go memory model). In the other direction the
// consumer clears the slots it took and then publishes its head index with
// one atomic store per call, and a producer writes a slot only after it
// loaded a head beyond the slot's previous use.
//
// # Slot clearing
//
// The consumer overwrites every slot it takes with the zero value of T
// before it releases the slot. A ring therefore never keeps a packet (or
// whatever T points to) reachable after it was dequeued: the garbage
// collector does not see stale pointers, and a pooled packet is referenced
// only by whoever dequeued it. This costs one store per item.
//
// # Ownership
//
// Enqueue passes ownership of the value (for a pointer, of the object it
// points to) to the ring when it returns true; from then on the producer
// must not touch it. Dequeue passes ownership to the consumer. When Enqueue
// returns false the producer still owns the value and must count the drop
// (for packets: return the frame to its source and count it in the
// source's or the pipeline's stats). Batch calls transfer the first n items
// they report and leave the rest with the caller.
//
// # Waiting
//
// Enqueue, EnqueueBatch, Dequeue and DequeueBatch never block. The *Wait
// variants first re-check the ring Options.BusyPoll times (calling
// runtime.Gosched every 64 checks), then park on a channel. The parked
// side sets a "sleeping" flag and re-checks the ring before it sleeps; the
// other side, after publishing, loads the flag (one atomic load on its fast
// path) and only when it is set does it send a token on a one-slot channel.
// Because Go's atomics are sequentially consistent, either the sleeper sees
// the new item or the publisher sees the flag, so no wake-up is lost. An
// idle waiter uses no CPU.
//
// # Close
//
// Close marks the ring closed by setting the top bit of the producers'
// index. From then on Enqueue returns false and the *Wait producer calls
// return ErrClosed. Every Enqueue that returned true before or while Close
// ran is still delivered: the consumer's Dequeue calls keep returning items
// until the ring is empty, and only then do DequeueWait and Wait return
// ErrClosed. Close wakes every parked producer and the parked consumer.
//
// # Concurrency
//
// SPSC: Enqueue*, EnqueueWait* are called by one producer goroutine at a
// time; Dequeue*, DequeueWait and Wait by one consumer goroutine at a time.
// MPSC: any number of goroutines may call the Enqueue* methods concurrently;
// the Dequeue* methods and Wait belong to one consumer at a time. On both,
// Close, Closed, Len and Cap may be called from any goroutine.
//
// Nothing in this package allocates after New*, and no method starts a
// goroutine.
package ring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
)

// CacheLinePad is the number of bytes of padding between the groups of
// fields that different threads write (two 64-byte cache lines).
const CacheLinePad = 128

// MinCapacity and MaxCapacity bound the capacity of a ring.
const (
	MinCapacity = 2
	MaxCapacity = 1 << 30
)

// closedBit is set in the producers' index by Close.
const closedBit = uint64(1) << 63

// spinYield is how often a busy-polling waiter calls runtime.Gosched.
const spinYield = 64

// ErrClosed is returned by the waiting calls once the ring is closed (for
// the consumer: closed and drained).
var ErrClosed = errors.New("ring: closed")

// ErrCapacity is wrapped by the constructors when the capacity is out of
// range.
var ErrCapacity = errors.New("ring: capacity out of range")

// Options tune a ring.
type Options struct {
	// BusyPoll is how many times a waiting call re-checks the ring before
	// it parks its goroutine. 0 parks at once (lowest CPU use, a wake-up
	// costs a channel hand-off, a few microseconds); a few thousand keeps
	// a pinned worker responsive under steady traffic at the price of
	// spinning that long when traffic stops.
	BusyPoll int
}

type pad [CacheLinePad]byte

// roundCapacity checks capacity and rounds it up to a power of two.
func roundCapacity(kind string, capacity int) (uint64, error) {
	if capacity < MinCapacity || capacity > MaxCapacity {
		return 0, fmt.Errorf("ring: new %s: capacity %d not in [%d, %d]: %w",
			kind, capacity, MinCapacity, MaxCapacity, ErrCapacity)
	}
	c := uint64(1)
	for c < uint64(capacity) {
		c <<= 1
	}
	return c, nil
}

// parking is the state the two sides use to sleep and wake each other. It
// sits on its own cache lines: both sides load the flags on every call, and
// each writes them only when it parks.
type parking struct {
	_            pad
	consSleeping atomic.Uint32 // 1 while the consumer is (about to be) parked on wake
	prodSleepers atomic.Int32  // producers (about to be) parked on space
	_            pad
	wake         chan struct{} // one slot: producer -> parked consumer
	space        chan struct{} // one slot: consumer -> a parked producer
	done         chan struct{} // closed by Close
	busyPoll     int
}

func (p *parking) init(o Options) {
	p.wake = make(chan struct{}, 1)
	p.space = make(chan struct{}, 1)
	p.done = make(chan struct{})
	p.busyPoll = max(o.BusyPoll, 0)
}

// wakeConsumer is called by a producer that published items and saw the
// consumer's sleeping flag set. Only the producer that clears the flag
// sends, so at most one token is in flight per sleep.
func (p *parking) wakeConsumer() {
	if p.consSleeping.CompareAndSwap(1, 0) {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// signalSpace is called by the consumer after it freed slots while a
// producer sleeps, and by a producer that got space after sleeping while
// others still sleep (passing the baton on).
func (p *parking) signalSpace() {
	select {
	case p.space <- struct{}{}:
	default:
	}
}

// consumerRing is what the consumer's wait loop needs of a ring. The methods
// are called by the consumer only.
type consumerRing interface {
	// readable reports whether the next item has been published.
	readable() bool
	// drainState reports whether the ring is closed and whether every
	// item enqueued before the close has been taken.
	drainState() (closed, drained bool)
}

// waitReadable blocks until the consumer can take an item (nil), the ring is
// closed and drained (ErrClosed) or ctx is done (ctx.Err()).
func waitReadable[R consumerRing](ctx context.Context, r R, p *parking) error {
	spins := 0
	for {
		if r.readable() {
			return nil
		}
		closed, drained := r.drainState()
		if drained {
			return ErrClosed
		}
		if closed {
			// MPSC: a producer reserved slots before Close and has not
			// published them yet; it is between two instructions.
			runtime.Gosched()
			continue
		}
		if spins < p.busyPoll {
			spins++
			if spins%spinYield == 0 {
				runtime.Gosched()
			}
			continue
		}
		p.consSleeping.Store(1)
		if r.readable() {
			p.consSleeping.Store(0)
			return nil
		}
		select {
		case <-p.wake:
		case <-p.done:
		case <-ctx.Done():
			p.consSleeping.Store(0)
			return ctx.Err()
		}
		p.consSleeping.Store(0)
	}
}

// producerRing is what a producer's wait loop needs of a ring.
type producerRing interface {
	// writable reports whether at least one slot is free.
	writable() bool
	// Closed reports whether Close was called.
	Closed() bool
}

// waitWritable blocks until a slot is free (nil), the ring is closed
// (ErrClosed) or ctx is done (ctx.Err()).
func waitWritable[R producerRing](ctx context.Context, r R, p *parking) error {
	spins := 0
	for {
		if r.Closed() {
			return ErrClosed
		}
		if r.writable() {
			return nil
		}
		if spins < p.busyPoll {
			spins++
			if spins%spinYield == 0 {
				runtime.Gosched()
			}
			continue
		}
		p.prodSleepers.Add(1)
		if r.writable() || r.Closed() {
			p.prodSleepers.Add(-1)
			continue
		}
		select {
		case <-p.space:
		case <-p.done:
		case <-ctx.Done():
			p.prodSleepers.Add(-1)
			return ctx.Err()
		}
		p.prodSleepers.Add(-1)
	}
}

// passBaton is called by a producer that slept and then enqueued: if other
// producers still sleep, one of them gets a token to re-check the ring.
func (p *parking) passBaton() {
	if p.prodSleepers.Load() > 0 {
		p.signalSpace()
	}
}

// closeRing sets the closed bit in the producers' index idx and wakes every
// sleeper. It reports whether this call closed the ring.
func (p *parking) closeRing(idx *atomic.Uint64) bool {
	if idx.Or(closedBit)&closedBit != 0 {
		return false
	}
	close(p.done)
	return true
}

// occupancy returns tail-head clamped to [0, capacity]; head must have been
// loaded before tail.
func occupancy(head, tail, capacity uint64) int {
	tail &^= closedBit
	if tail <= head {
		return 0
	}
	return int(min(tail-head, capacity))
}
