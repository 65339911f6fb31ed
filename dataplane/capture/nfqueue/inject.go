package nfqueue

import (
	"errors"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// ErrBadFrame: Inject was given bytes that are not an IPv4 or IPv6 packet
// with a complete header.
var ErrBadFrame = errors.New("nfqueue: frame is not an IP packet")

// errNoRaw: the source was not opened with Open (no raw sockets).
var errNoRaw = errors.New("nfqueue: no raw socket for Inject (source not opened with Open)")

// ipv6HdrIncl is IPV6_HDRINCL (linux/in6.h), which x/sys/unix lacks.
const ipv6HdrIncl = 36

// rawSockets are Inject's raw IP sockets, opened with the queue so they
// live in its network namespace.
type rawSockets struct {
	mu         sync.RWMutex // read-held while sending; close write-holds it
	fd4, fd6   int          // -1 if not open
	err4, err6 error        // why a socket could not be opened
	closed     bool
}

// open creates the raw sockets: AF_INET/IPPROTO_RAW (IP_HDRINCL implied)
// and AF_INET6/IPPROTO_RAW with IPV6_HDRINCL, marked with o.Mark when the
// source marks its verdicts. A failure is kept for Inject to report.
func (r *rawSockets) open(o Options) {
	r.fd4, r.err4 = rawSocket(unix.AF_INET, o)
	r.fd6, r.err6 = rawSocket(unix.AF_INET6, o)
}

func rawSocket(family int, o Options) (int, error) {
	name := "socket(AF_INET, SOCK_RAW, IPPROTO_RAW)"
	if family == unix.AF_INET6 {
		name = "socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)"
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return -1, &OpError{Queue: o.Queue, Op: "inject: " + name, Err: err}
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, ipv6HdrIncl, 1); err != nil {
			unix.Close(fd)
			return -1, &OpError{Queue: o.Queue, Op: "inject: setsockopt IPV6_HDRINCL", Err: err}
		}
	}
	if o.Mask != 0 && o.Mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(o.Mark)); err != nil {
			unix.Close(fd)
			return -1, &OpError{Queue: o.Queue, Op: "inject: setsockopt SO_MARK", Err: err}
		}
	}
	return fd, nil
}

func (r *rawSockets) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	for _, fd := range []*int{&r.fd4, &r.fd6} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

var _ capture.Injector = (*Source)(nil)

// Inject sends frame, a complete IPv4 or IPv6 packet such as the reset or
// ICMP unreachable of a reject verdict (package reject builds them for
// packet.LinkRaw), through a raw IP socket (IP_HDRINCL / IPV6_HDRINCL) to
// the destination address in its header. The kernel routes it as a packet
// the host sends (OUTPUT and POSTROUTING hooks): toSource and p are not
// needed to choose the way out (the pipeline passes them for the
// capture.Injector contract). frame is read during the call only.
//
// The raw sockets are opened with the queue (Open), in its network
// namespace. In repeat mode (and whenever Mark and Mask are set) they carry
// SO_MARK = Mark, so a queueing rule that skips marked packets
// (-m mark ! --mark Mark/Mask, as repeat mode needs anyway) does not queue
// the injected packets again when the ruleset queues locally generated
// traffic too (OUTPUT). In accept mode they carry no mark: an OUTPUT rule
// that queues would hand them to the engine, which never answers a reset or
// an ICMP error, so they do not loop.
//
// Errors are *OpError values naming the queue and the step (socket
// creation at Open, sendto) and wrapping the errno, or ErrBadFrame,
// ErrClosed; every frame not sent is counted in Counters.InjectErrors and
// Stats().TxDrops. Inject may be called from any goroutine and allocates
// nothing when it succeeds.
func (s *Source) Inject(p *packet.Packet, toSource bool, frame []byte) error {
	if err := s.inject(frame); err != nil {
		s.ctr.injectErrors.Add(1)
		return err
	}
	s.ctr.injected.Add(1)
	s.ctr.injectedBytes.Add(uint64(len(frame)))
	return nil
}

func (s *Source) inject(frame []byte) error {
	v6 := false
	switch {
	case len(frame) >= 20 && frame[0]>>4 == 4 && int(frame[0]&0xf)*4 <= len(frame):
	case len(frame) >= 40 && frame[0]>>4 == 6:
		v6 = true
	default:
		return &OpError{Queue: s.queue, Op: "inject", Err: ErrBadFrame}
	}
	r := &s.raw
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return ErrClosed
	}
	var e unix.Errno
	if v6 {
		if r.fd6 < 0 {
			return r.err6
		}
		var sa unix.RawSockaddrInet6
		sa.Family = unix.AF_INET6
		copy(sa.Addr[:], frame[24:40])
		e = sendto(r.fd6, frame, unsafe.Pointer(&sa), unix.SizeofSockaddrInet6)
	} else {
		if r.fd4 < 0 {
			return r.err4
		}
		var sa unix.RawSockaddrInet4
		sa.Family = unix.AF_INET
		copy(sa.Addr[:], frame[16:20])
		e = sendto(r.fd4, frame, unsafe.Pointer(&sa), unix.SizeofSockaddrInet4)
	}
	if e != 0 {
		return &OpError{Queue: s.queue, Op: "inject: sendto on raw socket", Err: e}
	}
	return nil
}

// sendto sends b to the socket address at sa (n bytes); it retries on
// EINTR.
func sendto(fd int, b []byte, sa unsafe.Pointer, n uintptr) unix.Errno {
	for {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, uintptr(sa), n)
		if e != unix.EINTR {
			return e
		}
	}
}
