//go:build linux

package afxdp

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Injection errors (wrapped in an *OpError that names the interface).
var (
	// ErrInjectNeedsBridge: an IDS Source has no transmit side; frames can
	// only be injected by a bridge.
	ErrInjectNeedsBridge = errors.New("afxdp: injecting a frame needs a bridge (Options.PeerInterface)")
	// ErrNotHeld: the packet given to Inject does not belong to a batch of
	// this Source that is still out (not given back with Done).
	ErrNotHeld = errors.New("afxdp: packet's frame is not lent out by this source")
)

var _ capture.Injector = (*Source)(nil)

// Inject sends frame out of the bridge side p arrived on (toSource) or out
// of the other side (see capture.Injector). It copies frame into a free
// UMEM frame (a bridge keeps BatchSize frames back from its fill rings for
// this), posts it on that side's TX ring and kicks the kernel; frame stays
// the caller's. p must be a packet of a batch of this Source not yet given
// back with Done. A frame that could not be queued - no bridge, p not
// held, empty or larger than a UMEM frame, no free frame or TX slot even
// after reaping completions - is counted in Stats().TxDrops
// (Counters.InjectDrops) and the error, an *OpError naming the interface,
// wraps ErrInjectNeedsBridge, ErrNotHeld, ErrClosed, unix.EMSGSIZE or
// unix.ENOBUFS. A queued frame the device then drops is counted there
// too. Inject allocates nothing when it succeeds. Like Next and Done, it
// is called from the Source's goroutine.
func (s *Source) Inject(p *packet.Packet, toSource bool, frame []byte) error {
	fail := func(ifname string, queue uint32, err error) error {
		s.ctr.injectFailed.Add(1)
		return &OpError{Op: "inject frame", Interface: ifname, Queue: queue, Err: err}
	}
	if s.closed {
		return fail(s.opts.Interface, s.opts.QueueID, ErrClosed)
	}
	if !s.bridge {
		return fail(s.opts.Interface, s.opts.QueueID, ErrInjectNeedsBridge)
	}
	side := s.Side(p)
	if side < 0 {
		return fail(s.opts.Interface, s.opts.QueueID, ErrNotHeld)
	}
	if !toSource {
		side ^= 1
	}
	x := &s.socks[side]
	if len(frame) == 0 || uint64(len(frame)) > s.fmask+1 {
		return fail(x.ifname, x.queue, unix.EMSGSIZE)
	}
	if !s.postCopy(x, frame) {
		// Take back what the kernel has sent (both sockets share the
		// UMEM), let it drain this ring, and look once more.
		for i := 0; i < s.nsock; i++ {
			s.reap(&s.socks[i])
		}
		x.tx.submit()
		s.kick(x)
		if !s.postCopy(x, frame) {
			return fail(x.ifname, x.queue, unix.ENOBUFS)
		}
	}
	x.tx.submit()
	s.kick(x)
	s.ctr.injected.Add(1)
	s.ctr.sock[side].txFrames.Add(1)
	return nil
}
