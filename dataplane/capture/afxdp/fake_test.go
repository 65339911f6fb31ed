//go:build linux

package afxdp

import (
	"sync/atomic"
	"testing"
	"unsafe"
)

// A fake kernel: the rings of a Source built over Go memory instead of
// socket mappings, with the test playing the kernel's side. It lets the
// ring arithmetic, the frame accounting and the bridge routing be tested
// without root, fuzzed, and measured for allocations.

// Ring memory layout of the fake: producer at 0, consumer at 64, flags at
// 128, entries from 192 (the kernel puts them on separate cache lines too).
const (
	fakeProd  = 0
	fakeCons  = 64
	fakeFlags = 128
	fakeDesc  = 192
)

type fakeRing struct {
	mem  []uint64 // backing store, 8-byte aligned
	base unsafe.Pointer
	r    ring // the kernel's view: its own local/cached indices
}

// newFakeRing makes ring memory for n entries of entry bytes with both
// indices starting at start (to test wraparound of the uint32 indices),
// and initialises user's ring over it.
func newFakeRing(user *ring, n uint32, entry uint64, start uint32, userProduces bool) *fakeRing {
	f := &fakeRing{mem: make([]uint64, (fakeDesc+uint64(n)*entry)/8)}
	f.base = unsafe.Pointer(&f.mem[0])
	*(*uint32)(unsafe.Add(f.base, fakeProd)) = start
	*(*uint32)(unsafe.Add(f.base, fakeCons)) = start
	initRing(user, f.base, fakeProd, fakeCons, fakeFlags, fakeDesc, n, userProduces)
	initRing(&f.r, f.base, fakeProd, fakeCons, fakeFlags, fakeDesc, n, !userProduces)
	return f
}

type fakeSock struct {
	fill, comp, rx, tx *fakeRing
	pool               []uint64 // addresses the kernel took from the fill ring and holds
	rxDropped          uint64   // no buffer (fill ring empty)
	rxRingFull         uint64
	sent               uint64 // frames transmitted
	sentBytes          uint64
	lastSent           []byte // the last frame transmitted (slice of the UMEM)
}

type fakeKernel struct {
	s     *Source
	socks [2]*fakeSock
}

// newFakeSource builds a Source with nsock (1: IDS, 2: bridge) sockets
// over fake rings. Ring indices start at start.
func newFakeSource(tb testing.TB, nsock, numFrames, ringSize, batch int, start uint32) (*Source, *fakeKernel) {
	tb.Helper()
	o := Options{Interface: "fake0", NumFrames: numFrames, RingSize: ringSize, BatchSize: batch, PollTimeout: -1}
	if nsock == 2 {
		o.PeerInterface = "fake1"
	}
	o, err := o.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	s := &Source{opts: o, bridge: nsock == 2, nsock: nsock, batch: o.BatchSize, timeout: o.PollTimeout,
		mode: ModeCopy, xdpMode: XDPModeNone}
	mem := make([]byte, o.NumFrames*o.FrameSize)
	s.u = newUmemAccounting(mem, uint64(o.FrameSize))
	s.fmask = uint64(o.FrameSize) - 1
	k := &fakeKernel{s: s}
	quota := o.NumFrames / nsock
	if nsock == 2 {
		quota = (o.NumFrames - o.BatchSize) / 2 // as open: BatchSize frames stay free for Inject
	}
	for i := 0; i < nsock; i++ {
		x := &s.socks[i]
		*x = xsk{fd: -1, ifname: [2]string{"fake0", "fake1"}[i], queue: uint32(i), side: uint8(i), fillQuota: quota}
		fs := &fakeSock{}
		fs.fill = newFakeRing(&x.fill, pow2(quota), addrEntrySize, start, true)
		fs.comp = newFakeRing(&x.comp, pow2(2*ringSize), addrEntrySize, start, false)
		fs.rx = newFakeRing(&x.rx, uint32(ringSize), descEntrySize, start, false)
		if nsock == 2 {
			fs.tx = newFakeRing(&x.tx, uint32(ringSize), descEntrySize, start, true)
			x.hasTx = true
		}
		k.socks[i] = fs
	}
	s.start()
	return s, k
}

// takeBuffer is the kernel taking a buffer for a received packet: from its
// pool, else from the fill ring.
func (k *fakeKernel) takeBuffer(fs *fakeSock) (uint64, bool) {
	if n := len(fs.pool); n > 0 {
		a := fs.pool[n-1]
		fs.pool = fs.pool[:n-1]
		return a, true
	}
	r := &fs.fill.r
	if r.available() == 0 {
		return 0, false
	}
	a := *r.addr(r.local)
	r.local++
	r.release()
	return a, true
}

// receive is the kernel delivering frame on side: copy it into a buffer
// (after the 256-byte XDP headroom) and post an RX descriptor. It returns
// false when the packet was dropped (no buffer, or RX ring full).
func (k *fakeKernel) receive(side int, frame []byte) bool {
	fs := k.socks[side]
	a, ok := k.takeBuffer(fs)
	if !ok {
		fs.rxDropped++
		return false
	}
	rx := &fs.rx.r
	if rx.freeSlots(1) == 0 {
		fs.rxRingFull++
		fs.pool = append(fs.pool, a)
		return false
	}
	base := a &^ k.s.fmask
	data := base + xdpPacketHeadroom
	copy(k.s.u.mem[data:], frame)
	d := rx.desc(rx.local)
	d.Addr, d.Len, d.Options = data, uint32(len(frame)), 0
	rx.local++
	rx.submit()
	return true
}

// injectRx posts a raw RX descriptor, as a misbehaving kernel could.
func (k *fakeKernel) injectRx(side int, addr uint64, ln uint32) bool {
	rx := &k.socks[side].rx.r
	if rx.freeSlots(1) == 0 {
		return false
	}
	d := rx.desc(rx.local)
	d.Addr, d.Len = addr, ln
	rx.local++
	rx.submit()
	return true
}

// transmit is the kernel sending up to max descriptors of side's TX ring
// and posting them on the completion ring. It checks each descriptor the
// way the kernel does.
func (k *fakeKernel) transmit(tb testing.TB, side int, max int) int {
	fs := k.socks[side]
	tx, comp := &fs.tx.r, &fs.comp.r
	n := 0
	for n < max && tx.available() > 0 && comp.freeSlots(1) > 0 {
		d := tx.desc(tx.local)
		tx.local++
		off := d.Addr & k.s.fmask
		if d.Addr >= k.s.u.size || off+uint64(d.Len) > k.s.fmask+1 || d.Len == 0 {
			tb.Fatalf("side %d: invalid TX descriptor addr %#x len %d", side, d.Addr, d.Len)
		}
		fs.lastSent = k.s.u.mem[d.Addr : d.Addr+uint64(d.Len)]
		fs.sent++
		fs.sentBytes += uint64(d.Len)
		*comp.addr(comp.local) = d.Addr
		comp.local++
		n++
	}
	tx.release()
	comp.submit()
	return n
}

// injectCompletion posts a raw completion address.
func (k *fakeKernel) injectCompletion(side int, addr uint64) {
	comp := &k.socks[side].comp.r
	if comp.freeSlots(1) == 0 {
		return
	}
	*comp.addr(comp.local) = addr
	comp.local++
	comp.submit()
}

// setNeedWakeup sets or clears a ring's need_wakeup flag as the kernel
// does.
func setNeedWakeup(f *fakeRing, on bool) {
	var v uint32
	if on {
		v = ringNeedWakeup
	}
	atomic.StoreUint32((*uint32)(unsafe.Add(f.base, fakeFlags)), v)
}
