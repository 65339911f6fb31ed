package afpacket

import (
	"errors"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// Errors of Inject, wrapped in an *Error.
var (
	// ErrForeignPacket: Inject was given a packet this source did not
	// capture (another source's, or one the engine made up).
	ErrForeignPacket = errors.New("packet not captured by this source")
	// ErrEmptyFrame: Inject was given no bytes to send.
	ErrEmptyFrame = errors.New("empty frame")
)

// InjectStats count the frames given to Inject.
type InjectStats struct {
	Injected      uint64 // frames sent
	InjectedBytes uint64 // their bytes
	// Errors counts frames that were not sent (also in Stats().TxDrops).
	Errors uint64
}

var _ capture.Injector = (*Source)(nil)

// Inject sends frame, a complete Ethernet frame such as the reset or ICMP
// unreachable of a reject verdict (package reject), with one write on a
// packet socket. frame is read during the call only: the caller keeps it.
//
// Where it goes:
//
//   - Copy mode (IPS or tap, a bridge of Interface and CopyInterface):
//     toSource sends out of Interface, where p arrived, toward its sender;
//     otherwise out of CopyInterface, toward p's destination, as a
//     forwarded packet would go.
//   - Capture only (IDS): both go out of Interface, the one the source
//     sniffs, as Suricata in IDS mode sends rejects out of the sniffing
//     interface. That reaches the hosts only where the interface can
//     transmit toward them: a bridge device (capture on br0 with Promisc,
//     the bridge delivers the frame by MAC address), a switch port that
//     accepts frames from the sensor; on a pure SPAN/tap port the frames
//     go nowhere. A reset toward a destination that already received p
//     carries a stale sequence number and is ignored (RFC 5961), so in
//     IDS mode only the reset toward the source is dependable.
//
// The frames are not captured again: a packet socket does not see its own
// frames, and copy mode ignores outgoing frames on both interfaces.
//
// p must be a packet of this source still lent out (not yet through Done);
// it only tells which source the frame belongs to. Errors are *Error values
// naming the interface, wrapping the errno of the write (EMSGSIZE: frame
// above the MTU, ENETDOWN ...) or ErrClosed, ErrForeignPacket,
// ErrEmptyFrame; every frame not sent is counted in InjectStats.Errors and
// Stats().TxDrops. Inject may run concurrently with Next and Done (it
// takes no lock they hold) and allocates nothing when it succeeds.
func (s *Source) Inject(p *packet.Packet, toSource bool, frame []byte) error {
	if len(frame) == 0 {
		s.injErrs.Add(1)
		return &Error{Interface: s.ifname, Op: "Inject", Err: ErrEmptyFrame}
	}
	if p == nil || !s.r.owns(p.Handle) {
		s.injErrs.Add(1)
		return &Error{Interface: s.ifname, Op: "Inject", Err: ErrForeignPacket}
	}
	s.injMu.RLock()
	if s.injDown {
		s.injMu.RUnlock()
		s.injErrs.Add(1)
		return &Error{Interface: s.ifname, Op: "Inject", Err: ErrClosed}
	}
	fd, ifname := s.fd, s.ifname
	if !toSource && s.tx != nil {
		fd, ifname = s.tx.fd, s.tx.ifname
	}
	e := writeFrame(fd, frame)
	s.injMu.RUnlock()
	if e != 0 {
		s.injErrs.Add(1)
		return &Error{Interface: ifname, Op: "inject (write on packet socket)", Err: e}
	}
	s.injected.Add(1)
	s.injBytes.Add(uint64(len(frame)))
	return nil
}

// writeFrame sends frame on packet socket fd (bound to its interface).
func writeFrame(fd int, frame []byte) unix.Errno {
	for {
		n, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if int(n) != len(frame) {
			return unix.EIO
		}
		return 0
	}
}

// InjectStats returns the counters of Inject.
func (s *Source) InjectStats() InjectStats {
	return InjectStats{Injected: s.injected.Load(), InjectedBytes: s.injBytes.Load(), Errors: s.injErrs.Load()}
}
