//go:build linux

package afxdp

import (
	"sync/atomic"
	"unsafe"
)

// ringNeedWakeup is XDP_RING_NEED_WAKEUP: the kernel sets it in a ring's
// flags word when it will not look at the ring again until user space makes
// a syscall (recvfrom/poll for the fill ring, sendto for the TX ring).
const ringNeedWakeup = 1

// A ring is one of the four single-producer/single-consumer rings the
// kernel shares with user space. The producer and consumer indices are
// free-running uint32 counters; entry i lives at slot i&mask.
//
// Ordering (as libxdp's xsk.h): the side that consumes loads the other
// side's producer index with acquire semantics before reading entries, and
// publishes its consumer index with a release store after it is done with
// them; the side that produces loads the consumer index with acquire
// semantics before overwriting slots, and publishes its producer index with
// a release store after the entries are written. Go's sync/atomic loads and
// stores are sequentially consistent, which includes both.
//
// A ring value is used by one goroutine (the Source's); only the kernel runs
// concurrently with it.
type ring struct {
	producer *uint32
	consumer *uint32
	flags    *uint32
	descs    unsafe.Pointer // first entry
	mask     uint32
	size     uint32

	// local is our own index: the next slot to write (producer rings) or
	// to read (consumer rings). It is published with release().
	local uint32
	// cached is our last view of the other side's index: the kernel's
	// consumer (producer rings) or producer (consumer rings).
	cached uint32
}

// initRing sets up r over ring memory: the indices and flags word at the
// given offsets, entries at desc. size must be a power of two. local and
// cached start from the indices found in memory (zero on a new socket).
func initRing(r *ring, base unsafe.Pointer, prodOff, consOff, flagsOff, descOff uint64, size uint32, producerSide bool) {
	r.producer = (*uint32)(unsafe.Add(base, prodOff))
	r.consumer = (*uint32)(unsafe.Add(base, consOff))
	r.flags = (*uint32)(unsafe.Add(base, flagsOff))
	r.descs = unsafe.Add(base, descOff)
	r.size = size
	r.mask = size - 1
	if producerSide {
		r.local = atomic.LoadUint32(r.producer)
		r.cached = atomic.LoadUint32(r.consumer)
	} else {
		r.local = atomic.LoadUint32(r.consumer)
		r.cached = atomic.LoadUint32(r.producer)
	}
}

// Producer side (fill and TX rings).

// freeSlots returns how many entries can be written now, refreshing the
// cached consumer index from the kernel when fewer than want are known to
// be free.
func (r *ring) freeSlots(want uint32) uint32 {
	free := r.size - (r.local - r.cached)
	if free >= want {
		return free
	}
	r.cached = atomic.LoadUint32(r.consumer) // acquire
	return r.size - (r.local - r.cached)
}

// pending returns how many produced entries the kernel has not consumed
// yet, as of a fresh look at its consumer index.
func (r *ring) pending() uint32 {
	r.cached = atomic.LoadUint32(r.consumer)
	return r.local - r.cached
}

// submit publishes every entry written since the last submit.
func (r *ring) submit() {
	atomic.StoreUint32(r.producer, r.local) // release
}

// needWakeup reports whether the kernel asked for a syscall on this ring.
func (r *ring) needWakeup() bool {
	return atomic.LoadUint32(r.flags)&ringNeedWakeup != 0
}

// Consumer side (RX and completion rings).

// available returns how many entries can be read, refreshing the cached
// producer index when none are known.
func (r *ring) available() uint32 {
	n := r.cached - r.local
	if n != 0 {
		return n
	}
	r.cached = atomic.LoadUint32(r.producer) // acquire
	return r.cached - r.local
}

// release publishes that every entry read so far may be reused.
func (r *ring) release() {
	atomic.StoreUint32(r.consumer, r.local) // release
}

// Entry access. Fill and completion rings hold uint64 UMEM addresses; RX
// and TX rings hold xdp_desc {addr u64, len u32, options u32}.

// xdpDesc is struct xdp_desc.
type xdpDesc struct {
	Addr    uint64
	Len     uint32
	Options uint32
}

const (
	addrEntrySize = 8
	descEntrySize = 16
)

func (r *ring) addr(i uint32) *uint64 {
	return (*uint64)(unsafe.Add(r.descs, uintptr(i&r.mask)*addrEntrySize))
}

func (r *ring) desc(i uint32) *xdpDesc {
	return (*xdpDesc)(unsafe.Add(r.descs, uintptr(i&r.mask)*descEntrySize))
}
