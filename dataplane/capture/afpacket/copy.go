package afpacket

import (
	"sync/atomic"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// sendBatch is the most frames one sendmmsg call carries.
const sendBatch = 256

// CopyStats count what copy mode did with the packets given back by Done.
// Every packet handed out lands in exactly one of Forwarded, Dropped,
// Oversize or SendErrors.
type CopyStats struct {
	Forwarded      uint64 // packets sent out of the copy interface
	ForwardedBytes uint64 // their bytes
	Dropped        uint64 // not forwarded: verdict drop or reject (ips mode)
	Oversize       uint64 // not forwarded: the ring holds only part of the frame
	SendErrors     uint64 // not forwarded: sendmmsg refused the frame
	SendCalls      uint64 // sendmmsg system calls made
	// LastSendError is the most recent sendmmsg failure (an *Error naming
	// the copy interface and wrapping the errno), nil if none.
	LastSendError error
}

// copier forwards frames out of the copy interface through an AF_PACKET
// socket bound to it (protocol 0: it receives nothing), straight from the
// receive ring with sendmmsg: the frames are not copied in user space.
type copier struct {
	tap    bool
	ifname string
	fd     int
	msgs   [sendBatch]unix.Mmsghdr
	iovs   [sendBatch]unix.Iovec
	n      int // frames queued in msgs

	forwarded, fwdBytes, dropped, oversize, sendErrs, calls atomic.Uint64
	lastErrno                                               atomic.Uintptr
}

func newCopier(mode, ifname string) (*copier, error) {
	c := &copier{tap: mode == CopyTap, ifname: ifname, fd: -1}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Interface: ifname, Op: "socket AF_PACKET (copy)", Err: err}
	}
	c.fd = fd
	index, _, err := interfaceInfo(fd, ifname)
	if err != nil {
		c.close()
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0, Ifindex: index}); err != nil {
		c.close()
		return nil, &Error{Interface: ifname, Op: "bind (copy)", Err: err}
	}
	for i := range c.msgs {
		c.msgs[i].Hdr.Iov = &c.iovs[i]
		c.msgs[i].Hdr.Iovlen = 1
	}
	return c, nil
}

// forward sends the packets of pkts that belong to r and that the mode and
// their verdicts let through. It must run before their blocks are given
// back: the frames are read from the ring during the call.
func (c *copier) forward(r *ring, pkts []*packet.Packet) {
	var dropped, oversize uint64
	for _, p := range pkts {
		if !r.owns(p.Handle) {
			continue
		}
		if !c.tap && (p.Verdict == packet.VerdictDrop || p.Verdict == packet.VerdictReject) {
			dropped++
			continue
		}
		if len(p.Data) == 0 || len(p.Data) < p.WireLen {
			oversize++
			continue
		}
		c.iovs[c.n].Base = &p.Data[0]
		c.iovs[c.n].SetLen(len(p.Data))
		c.n++
		if c.n == sendBatch {
			c.flush()
		}
	}
	c.flush()
	if dropped != 0 {
		c.dropped.Add(dropped)
	}
	if oversize != 0 {
		c.oversize.Add(oversize)
	}
}

// flush sends the queued frames. A frame the kernel refuses is counted in
// SendErrors and skipped; the ones after it are still sent.
func (c *copier) flush() {
	var sent, bytes, errs, calls uint64
	for i := 0; i < c.n; {
		calls++
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(c.fd),
			uintptr(unsafe.Pointer(&c.msgs[i])), uintptr(c.n-i), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || r == 0 {
			if e == 0 {
				e = unix.EIO
			}
			c.lastErrno.Store(uintptr(e))
			errs++
			i++
			continue
		}
		for j := i; j < i+int(r); j++ {
			bytes += uint64(c.msgs[j].Len)
		}
		sent += uint64(r)
		i += int(r)
	}
	for i := 0; i < c.n; i++ {
		c.iovs[i].Base = nil
	}
	c.n = 0
	if calls != 0 {
		c.calls.Add(calls)
	}
	if sent != 0 {
		c.forwarded.Add(sent)
		c.fwdBytes.Add(bytes)
	}
	if errs != 0 {
		c.sendErrs.Add(errs)
	}
}

func (c *copier) stats() CopyStats {
	st := CopyStats{
		Forwarded:      c.forwarded.Load(),
		ForwardedBytes: c.fwdBytes.Load(),
		Dropped:        c.dropped.Load(),
		Oversize:       c.oversize.Load(),
		SendErrors:     c.sendErrs.Load(),
		SendCalls:      c.calls.Load(),
	}
	if e := c.lastErrno.Load(); e != 0 {
		st.LastSendError = &Error{Interface: c.ifname, Op: "sendmmsg (copy)", Err: unix.Errno(e)}
	}
	return st
}

func (c *copier) close() error {
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	if err != nil {
		return &Error{Interface: c.ifname, Op: "close copy socket", Err: err}
	}
	return nil
}
