//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// TxOptions configure OpenTx.
type TxOptions struct {
	// Interface and QueueID are where frames leave (in copy mode the
	// device's TX queue QueueID, bypassing the qdisc layer).
	Interface string
	QueueID   uint32
	// Frames is the number of UMEM frames (default 2*RingSize): how many
	// frames can be in flight between Send and their completion.
	Frames int
	// FrameSize is the UMEM frame size, a power of two from 2048 to the
	// page size (default 2048); it bounds the frame length Send takes.
	FrameSize int
	// RingSize is the TX ring size, a power of two (default
	// DefaultRingSize). The completion ring holds every frame.
	RingSize int
	// Mode is ModeAuto (default: zero-copy where the driver supports it,
	// else copy), ModeZeroCopy or ModeCopy, as Options.Mode. A zero-copy
	// socket takes over the queue's buffers: do not use it on a queue
	// that must keep receiving for the kernel stack.
	Mode string
	// NoNeedWakeup binds without XDP_USE_NEED_WAKEUP: Send then calls
	// sendto after every batch. By default it calls sendto only when the
	// kernel asks - and always in copy mode, which transmits only inside
	// sendto.
	NoNeedWakeup bool
	// StallTimeout is how long Send waits for the kernel to give back a
	// frame when none is free before it fails with ETIMEDOUT (default
	// DefaultStallTimeout).
	StallTimeout time.Duration
}

// DefaultStallTimeout is TxOptions.StallTimeout's default.
const DefaultStallTimeout = 2 * time.Second

// TxStats are a Tx's counters.
type TxStats struct {
	Sent          uint64 // frames put on the TX ring
	Bytes         uint64 // their bytes
	RingFullWaits uint64 // times Send found no free frame or TX slot and waited for completions
	Refused       uint64 // frames Send returned an error for (empty, larger than a frame); nothing sent
	Errors        uint64 // sendto calls that failed (ENETDOWN, ENXIO, ...), not counting back-pressure
	Wakeups       uint64 // sendto calls
	// Frames the kernel took but did not send: dropped by the device in
	// copy mode (sendto EBUSY), or invalid descriptors (never, for the
	// ones Send writes).
	DeviceDrops  uint64
	InvalidDescs uint64
	// Lost are frames still on the TX ring when Close gave up waiting.
	Lost uint64
}

// Tx is a transmit-only AF_XDP socket for traffic generators: a UMEM, a
// TX ring and a completion ring on one interface queue, no RX ring and no
// XDP program. It is built from the same rings, frame allocator and kick
// logic as a Source (it is a Source with one TX-only socket, driven by
// Send). A Tx is used by one goroutine; Stats may be called from any.
type Tx struct {
	s       *Source
	x       *xsk
	stall   time.Duration
	sent    atomic.Uint64
	bytes   atomic.Uint64
	waits   atomic.Uint64
	refused atomic.Uint64
}

// OpenTx creates the UMEM and the socket and binds it to
// opts.Interface/QueueID.
func OpenTx(opts TxOptions) (*Tx, error) {
	o := opts
	bad := func(format string, a ...any) (*Tx, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, a...))
	}
	if o.Interface == "" {
		return bad("no Interface")
	}
	if o.RingSize == 0 {
		o.RingSize = DefaultRingSize
	}
	if o.RingSize < 8 || o.RingSize > 1<<20 || o.RingSize&(o.RingSize-1) != 0 {
		return bad("RingSize %d is not a power of two in [8, 1<<20]", o.RingSize)
	}
	if o.Frames == 0 {
		o.Frames = 2 * o.RingSize
	}
	if o.Frames < 8 || o.Frames > 1<<24 {
		return bad("Frames %d not in [8, 1<<24]", o.Frames)
	}
	if o.FrameSize == 0 {
		o.FrameSize = DefaultFrameSize
	}
	if o.FrameSize < 2048 || o.FrameSize > unix.Getpagesize() || o.FrameSize&(o.FrameSize-1) != 0 {
		return bad("FrameSize %d is not a power of two in [2048, page size %d]", o.FrameSize, unix.Getpagesize())
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	switch o.Mode {
	case "", ModeAuto:
		t, err := openTx(o, true)
		if err == nil || !errors.Is(err, unix.EOPNOTSUPP) {
			return t, err
		}
		t, err2 := openTx(o, false)
		if err2 != nil {
			return nil, err2
		}
		t.s.fallback = err
		return t, nil
	case ModeZeroCopy:
		return openTx(o, true)
	case ModeCopy:
		return openTx(o, false)
	}
	return bad("Mode %q (want auto, zerocopy or copy)", o.Mode)
}

func openTx(o TxOptions, zeroCopy bool) (_ *Tx, err error) {
	ifi, err := net.InterfaceByName(o.Interface)
	if err != nil {
		return nil, &OpError{Op: "look up interface", Interface: o.Interface, Queue: o.QueueID, Err: err}
	}
	s := &Source{opts: Options{Interface: o.Interface, QueueID: o.QueueID, NumFrames: o.Frames, FrameSize: o.FrameSize,
		RingSize: o.RingSize, BatchSize: 1, PollTimeout: -1}, nsock: 1, batch: 1, timeout: -1}
	size := o.Frames * o.FrameSize
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, &OpError{Op: fmt.Sprintf("mmap UMEM of %d bytes", size), Interface: o.Interface, Queue: o.QueueID, Err: err}
	}
	s.u = newUmemAccounting(mem, uint64(o.FrameSize))
	s.fmask = uint64(o.FrameSize) - 1
	for i := range s.socks {
		s.socks[i].fd = -1
	}
	defer func() {
		if err != nil {
			s.teardown()
		}
	}()
	x, err := openSocket(&sockConfig{
		ifname: o.Interface, ifindex: ifi.Index, queue: o.QueueID,
		umem: mem, frameSize: uint32(o.FrameSize), sharedFD: -1,
		// The kernel wants a fill ring with every UMEM; nothing is
		// ever put on it (no RX ring, no XDP program).
		fillSize: 8, compSize: pow2(o.Frames), txSize: uint32(o.RingSize),
		zeroCopy: zeroCopy, noNeedWakeup: o.NoNeedWakeup,
	})
	if err != nil {
		return nil, err
	}
	s.socks[0] = *x
	s.mode = ModeCopy
	if x.zeroCopy {
		s.mode = ModeZeroCopy
	} else {
		// Copy mode transmits only inside sendto: kick every batch
		// (the kernel keeps need_wakeup set there anyway).
		s.socks[0].alwaysKick = true
	}
	s.xdpMode = XDPModeNone
	s.maxKicks = o.RingSize/32 + 2
	return &Tx{s: s, x: &s.socks[0], stall: o.StallTimeout}, nil
}

// Mode returns ModeZeroCopy or ModeCopy: how the socket is bound.
func (t *Tx) Mode() string { return t.s.mode }

// FallbackReason returns why TxOptions.Mode "auto" ended in copy mode (the
// zero-copy bind error), or nil.
func (t *Tx) FallbackReason() error { return t.s.fallback }

// MaxFrame is the longest frame Send takes (the UMEM frame size).
func (t *Tx) MaxFrame() int { return int(t.s.fmask + 1) }

// Frames says where the UMEM frames are (Free or Tx). Call it from the
// Tx's goroutine.
func (t *Tx) Frames() FrameCounts { return t.s.u.counts() }

// Send copies frames, in order, into free UMEM frames, posts them on the
// TX ring in one batch (the producer index is published once, after the
// descriptors are written) and kicks the kernel with sendto when it asks
// for it; completed frames are reaped back to the free list on the way.
// The caller keeps frames: Send has copied them when it returns. When no
// frame or TX slot is free it kicks, reaps and waits (yield, then short
// sleeps, counted in RingFullWaits) - back-pressure is waited out, not
// reported - for at most StallTimeout without progress.
//
// It returns how many frames were queued. With n < len(frames) the error
// (an *OpError naming the interface) is about frames[n]: EMSGSIZE when it
// is empty or longer than MaxFrame (nothing of it was sent; the caller may
// go on with frames[n+1:]), ETIMEDOUT after a stall, ErrClosed after
// Close, or the errno of a failed sendto (ENETDOWN, ...; frames[:n] stay
// queued and go with the next kick). Send allocates nothing when it
// succeeds.
func (t *Tx) Send(frames [][]byte) (int, error) {
	s, x := t.s, t.x
	if s.closed {
		return 0, &OpError{Op: "send", Interface: x.ifname, Queue: x.queue, Err: ErrClosed}
	}
	s.reap(x)
	n := 0
	var bytes, waits uint64
	var stalled time.Time
	spins := 0
	var err error
	for n < len(frames) {
		f := frames[n]
		if len(f) == 0 || uint64(len(f)) > s.fmask+1 {
			t.refused.Add(1)
			err = &OpError{Op: fmt.Sprintf("send frame of %d bytes (1 to %d)", len(f), s.fmask+1),
				Interface: x.ifname, Queue: x.queue, Err: unix.EMSGSIZE}
			break
		}
		if s.postCopy(x, f) {
			n++
			bytes += uint64(len(f))
			spins = 0
			continue
		}
		// No free frame or no TX slot: hand the kernel what is queued and
		// take back what it has finished with.
		x.tx.submit()
		if e := s.kick(x); e != 0 {
			err = &OpError{Op: "sendto", Interface: x.ifname, Queue: x.queue, Err: e}
			break
		}
		s.reap(x)
		if len(s.u.free) > 0 && x.tx.freeSlots(1) > 0 {
			continue
		}
		waits++
		if spins == 0 {
			stalled = time.Now()
		} else if time.Since(stalled) > t.stall {
			err = &OpError{Op: fmt.Sprintf("send: no TX completion for %v", t.stall), Interface: x.ifname, Queue: x.queue, Err: unix.ETIMEDOUT}
			break
		}
		if spins++; spins < 8 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
	if n > 0 {
		x.tx.submit()
		if e := s.kick(x); e != 0 && err == nil {
			err = &OpError{Op: "sendto", Interface: x.ifname, Queue: x.queue, Err: e}
		}
		s.reap(x)
		t.sent.Add(uint64(n))
		t.bytes.Add(bytes)
		s.ctr.sock[0].txFrames.Add(uint64(n))
	}
	if waits > 0 {
		t.waits.Add(waits)
	}
	return n, err
}

// Flush waits up to d for the kernel to take every frame on the TX ring,
// kicking it as needed; it reports whether the ring is empty.
func (t *Tx) Flush(d time.Duration) bool {
	s, x := t.s, t.x
	if s.closed {
		return false
	}
	deadline := time.Now().Add(d)
	for x.tx.pending() != 0 {
		if s.kick(x) != 0 || !time.Now().Before(deadline) {
			return false
		}
		s.reap(x)
		if x.tx.pending() != 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	s.reap(x)
	return true
}

// Stats returns the counters; safe from any goroutine.
func (t *Tx) Stats() TxStats {
	c := t.s.Counters()
	st := TxStats{
		Sent: t.sent.Load(), Bytes: t.bytes.Load(), RingFullWaits: t.waits.Load(), Refused: t.refused.Load(),
		Errors: c.TxErrors, Wakeups: c.TxWakeups,
	}
	for _, k := range c.Sockets {
		st.DeviceDrops += k.TxDeviceDrops
		st.InvalidDescs += k.TxInvalidDescs
		st.Lost += k.TxLost
	}
	return st
}

// Close waits up to DrainTimeout for the frames still on the TX ring to
// be taken by the kernel (the rest are counted in Lost), then closes the
// socket and unmaps the UMEM.
func (t *Tx) Close() error { return t.s.Close() }
