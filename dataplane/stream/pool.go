package stream

import "math/bits"

// Buffer size classes: powers of two from minBufSize up.
const (
	minBufShift = 11 // 2 KiB
	minBufSize  = 1 << minBufShift
	numClasses  = 31 - minBufShift // up to 1 GiB
)

// bufPool hands out reassembly buffers of power-of-two sizes, bounded by a
// memcap that counts every buffer it holds, in use or free. Freed buffers
// are kept for reuse; when the memcap is reached, free buffers of other
// sizes are given back to the Go runtime to make room.
type bufPool struct {
	free   [numClasses][][]byte
	held   uint64 // bytes of all buffers allocated and not yet dropped
	inUse  uint64 // bytes handed out
	memcap uint64
}

// class returns the size class able to hold n bytes.
func class(n int) int {
	if n <= minBufSize {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// get returns a buffer of at least n bytes (len == cap == class size), or
// nil when the memcap does not allow one.
func (p *bufPool) get(n int) []byte {
	c := class(n)
	if c >= numClasses {
		return nil
	}
	if l := len(p.free[c]); l > 0 {
		b := p.free[c][l-1]
		p.free[c][l-1] = nil
		p.free[c] = p.free[c][:l-1]
		p.inUse += uint64(len(b))
		return b
	}
	size := uint64(minBufSize) << c
	if p.held+size > p.memcap {
		p.trim()
		if p.held+size > p.memcap {
			return nil
		}
	}
	p.held += size
	p.inUse += size
	return make([]byte, size)
}

// put takes a buffer back.
func (p *bufPool) put(b []byte) {
	if cap(b) == 0 {
		return
	}
	b = b[:cap(b)]
	c := class(len(b))
	p.inUse -= uint64(len(b))
	p.free[c] = append(p.free[c], b)
}

// trim drops every free buffer.
func (p *bufPool) trim() {
	for c := range p.free {
		for i, b := range p.free[c] {
			p.held -= uint64(len(b))
			p.free[c][i] = nil
		}
		p.free[c] = p.free[c][:0]
	}
}
