//go:build linux

package afxdp

import "fmt"

// Where a UMEM frame is. Every frame is in exactly one place at any time;
// umem keeps a state byte per frame and a count per place, and every move
// goes through umem.move, which checks the frame is where the caller says.
const (
	locFree uint8 = iota + 1 // on the free list, owned by user space, idle
	locFill                  // posted to a fill ring; the kernel may have taken it and be filling it, or it may sit in the RX ring unread
	locHeld                  // read from an RX ring and lent to the engine in a batch
	locTx                    // posted to a TX ring; in flight until it comes back on a completion ring
	numLocs
)

// State byte of a frame: location | side<<sideShift | frameOwn.
const (
	sideShift = 4
	// frameOwn marks a frame on a TX ring that carries a frame of our own
	// (Inject, Tx.Send) rather than a forwarded packet, so that a device
	// drop of it is counted against the right total. umem.move clears it.
	frameOwn uint8 = 1 << 5
)

// umem is the packet buffer area and its frame allocator. Frames are
// FrameSize-aligned chunks; a frame's index is its base address >> shift.
// Addresses inside a frame (the kernel adds headroom) map to the same
// index. Used by the Source's goroutine only.
type umem struct {
	mem       []byte
	size      uint64 // len(mem)
	frameSize uint64
	shift     uint
	state     []uint8
	free      []uint64 // stack of frame base addresses
	count     [numLocs]int
}

func newUmemAccounting(mem []byte, frameSize uint64) *umem {
	u := &umem{mem: mem, size: uint64(len(mem)), frameSize: frameSize}
	for uint64(1)<<u.shift < frameSize {
		u.shift++
	}
	n := int(u.size / frameSize)
	u.state = make([]uint8, n)
	u.free = make([]uint64, 0, n)
	for i := n - 1; i >= 0; i-- {
		u.state[i] = locFree
		u.free = append(u.free, uint64(i)<<u.shift)
	}
	u.count[locFree] = n
	return u
}

// frames returns the number of frames.
func (u *umem) frames() int { return len(u.state) }

// index maps a UMEM address to its frame index; ok is false when addr is
// outside the UMEM.
func (u *umem) index(addr uint64) (idx uint64, ok bool) {
	if addr >= u.size {
		return 0, false
	}
	return addr >> u.shift, true
}

// is reports whether frame idx is at loc on side.
func (u *umem) is(idx uint64, loc, side uint8) bool {
	return u.state[idx]&^frameOwn == loc|side<<sideShift
}

func (u *umem) loc(idx uint64) uint8  { return u.state[idx] & (1<<sideShift - 1) }
func (u *umem) side(idx uint64) uint8 { return u.state[idx] >> sideShift & 1 }

// markOwn flags frame idx (just moved to a TX ring) as one of our own.
func (u *umem) markOwn(idx uint64) { u.state[idx] |= frameOwn }

// own reports whether frame idx carries a frame of our own.
func (u *umem) own(idx uint64) bool { return u.state[idx]&frameOwn != 0 }

// move records that frame idx went to loc (on side).
func (u *umem) move(idx uint64, loc, side uint8) {
	u.count[u.loc(idx)]--
	u.count[loc]++
	u.state[idx] = loc | side<<sideShift
}

// pushFree puts frame idx on the free list.
func (u *umem) pushFree(idx uint64) {
	u.move(idx, locFree, 0)
	u.free = append(u.free, idx<<u.shift)
}

// popFree takes a frame base address off the free list; the caller moves
// the frame to its new place.
func (u *umem) popFree() (uint64, bool) {
	n := len(u.free)
	if n == 0 {
		return 0, false
	}
	a := u.free[n-1]
	u.free = u.free[:n-1]
	return a, true
}

// FrameCounts says where a Source's UMEM frames are. Free+Fill+Held+Tx is
// always Total.
type FrameCounts struct {
	Total int // frames in the UMEM
	Free  int // on the free list
	Fill  int // on a fill ring, or with the kernel / in an RX ring not yet read
	Held  int // lent to the engine (in batches not yet given back with Done)
	Tx    int // on a TX ring or in flight, until reaped from a completion ring
}

func (u *umem) counts() FrameCounts {
	return FrameCounts{
		Total: len(u.state),
		Free:  u.count[locFree],
		Fill:  u.count[locFill],
		Held:  u.count[locHeld],
		Tx:    u.count[locTx],
	}
}

// audit recounts the state table and cross-checks it with the counters and
// the free list. It is O(frames): for tests and debugging, not the packet
// path.
func (u *umem) audit() error {
	var c [numLocs]int
	for i, s := range u.state {
		l := s & (1<<sideShift - 1)
		if l < locFree || l >= numLocs {
			return fmt.Errorf("frame %d: bad state %#x", i, s)
		}
		c[l]++
	}
	if c != u.count {
		return fmt.Errorf("state table counts %v, counters %v", c[1:], u.count[1:])
	}
	if len(u.free) != c[locFree] {
		return fmt.Errorf("free list holds %d frames, %d are free", len(u.free), c[locFree])
	}
	seen := make(map[uint64]bool, len(u.free))
	for _, a := range u.free {
		idx, ok := u.index(a)
		if !ok || a&(u.frameSize-1) != 0 || seen[a] || u.state[idx] != locFree {
			return fmt.Errorf("free list entry %#x: outside, unaligned, duplicate or not free", a)
		}
		seen[a] = true
	}
	return nil
}
