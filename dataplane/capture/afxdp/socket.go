//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds every raw AF_XDP syscall the package makes. The hot-path
// ones (sendto, recvfrom, ppoll) return a bare unix.Errno so that no error
// value is boxed per call.

// OpError describes a failed operation on an AF_XDP socket or its
// interface: which operation, on which interface and queue, and the errno
// (errors.Is(err, unix.EOPNOTSUPP) works through it).
type OpError struct {
	Op        string // "socket", "setsockopt XDP_UMEM_REG", "mmap fill ring", "bind", ...
	Interface string
	Queue     uint32
	Err       error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("afxdp: %s: %s queue %d: %v", e.Op, e.Interface, e.Queue, e.Err)
}

// Unwrap returns the errno or underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// Sentinel errors.
var (
	// ErrClosed is returned by Next after Close.
	ErrClosed = errors.New("afxdp: source closed")
	// ErrInvalidOptions wraps every rejection of Options by Open.
	ErrInvalidOptions = errors.New("afxdp: invalid options")
)

// xdpUmemReg is struct xdp_umem_reg (kernel >= 6.8 size; older kernels
// accept the prefix, see xsk_setsockopt).
type xdpUmemReg struct {
	Addr          uint64
	Len           uint64
	ChunkSize     uint32
	Headroom      uint32
	Flags         uint32
	TxMetadataLen uint32
}

// xdpStatistics is struct xdp_statistics (all six counters).
type xdpStatistics struct {
	RxDropped            uint64
	RxInvalidDescs       uint64
	TxInvalidDescs       uint64
	RxRingFull           uint64
	RxFillRingEmptyDescs uint64
	TxRingEmptyDescs     uint64
}

// xdpRingOffset and xdpMmapOffsets are struct xdp_ring_offset and
// struct xdp_mmap_offsets (with the flags field, kernel >= 5.4).
type xdpRingOffset struct {
	Producer, Consumer, Desc, Flags uint64
}

type xdpMmapOffsets struct {
	Rx, Tx, Fr, Cr xdpRingOffset
}

// setsockopt XDP_MAX_TX_SKB_BUDGET (kernel >= 6.17); older kernels refuse
// it and copy-mode TX then sends at most 32 frames per sendto.
const xdpMaxTxSkbBudget = 9

func getsockopt(fd, level, name int, p unsafe.Pointer, size uintptr) (uintptr, error) {
	l := uint32(size)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return uintptr(l), nil
}

func setsockopt(fd, level, name int, p unsafe.Pointer, size uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(p), size, 0)
	if e != 0 {
		return e
	}
	return nil
}

func setsockoptU32(fd, level, name int, v uint32) error {
	return setsockopt(fd, level, name, unsafe.Pointer(&v), 4)
}

// readStatistics returns XDP_STATISTICS of fd.
func readStatistics(fd int) (xdpStatistics, error) {
	var st xdpStatistics
	n, err := getsockopt(fd, unix.SOL_XDP, unix.XDP_STATISTICS, unsafe.Pointer(&st), unsafe.Sizeof(st))
	if err == nil && n < unsafe.Sizeof(st) {
		// An old kernel that returns only the v1 fields folds
		// rx_ring_full into rx_dropped; nothing is lost.
		st.RxRingFull, st.RxFillRingEmptyDescs, st.TxRingEmptyDescs = 0, 0, 0
	}
	return st, err
}

// wakeTx is sendto(fd, NULL, 0, MSG_DONTWAIT): in copy mode it transmits
// what the TX ring holds (up to the socket's TX budget), in zero-copy mode
// it kicks the driver.
func wakeTx(fd int) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	return e
}

// wakeRx is recvfrom(fd, NULL, 0, MSG_DONTWAIT): it busy-polls the queue's
// NAPI context when busy polling is on, and wakes a zero-copy driver that
// waits for fill-ring entries.
func wakeRx(fd int) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	return e
}

// ppoll waits for events on fds for at most ts.
func ppoll(fds []unix.PollFd, ts *unix.Timespec) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	return int(r), e
}

// sockConfig says how to build one AF_XDP socket.
type sockConfig struct {
	ifname  string
	ifindex int
	queue   uint32
	side    uint8

	// UMEM registration, only for the socket that owns the UMEM.
	umem      []byte
	frameSize uint32
	headroom  uint32
	sharedFD  int // >= 0: bind with XDP_SHARED_UMEM to this socket's UMEM

	fillSize, compSize, rxSize, txSize uint32 // 0: no such ring (fill and RX: a TX-only socket)
	zeroCopy                           bool   // bind flag XDP_ZEROCOPY, else XDP_COPY
	// noNeedWakeup binds without XDP_USE_NEED_WAKEUP: the kernel never
	// asks for a syscall, so every TX kick is a sendto.
	noNeedWakeup bool

	busyPoll     bool
	busyPollUsec int
	busyBudget   int
}

// xsk is one bound AF_XDP socket and its four rings.
type xsk struct {
	fd      int
	ifname  string
	ifindex int
	queue   uint32
	side    uint8

	fill  ring // producer: us
	comp  ring // consumer: us
	rx    ring // consumer: us
	tx    ring // producer: us (bridge only)
	hasTx bool
	// alwaysKick: bound without need_wakeup, so kick does not wait for
	// the kernel to ask.
	alwaysKick bool

	// fillQuota is how many frames this socket's fill ring may hold; the
	// bridge splits the UMEM between its two sockets.
	fillQuota int
	inFill    int // frames on the fill ring or taken from it by the kernel and not yet read from RX

	zeroCopy bool
	busyPoll bool
	busyErr  error // why busy polling was refused, if it was asked for

	maps [][]byte // ring mappings
}

func (c *sockConfig) fail(op string, err error) error {
	return &OpError{Op: op, Interface: c.ifname, Queue: c.queue, Err: err}
}

// openSocket creates, configures, maps and binds one AF_XDP socket. On
// error nothing is left open.
func openSocket(c *sockConfig) (_ *xsk, err error) {
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, c.fail("socket(AF_XDP)", err)
	}
	x := &xsk{fd: fd, ifname: c.ifname, ifindex: c.ifindex, queue: c.queue, side: c.side}
	defer func() {
		if err != nil {
			x.close()
		}
	}()

	if c.sharedFD < 0 {
		reg := xdpUmemReg{
			Addr:      uint64(uintptr(unsafe.Pointer(&c.umem[0]))),
			Len:       uint64(len(c.umem)),
			ChunkSize: c.frameSize,
			Headroom:  c.headroom,
		}
		if err := setsockopt(fd, unix.SOL_XDP, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
			return nil, c.fail("setsockopt XDP_UMEM_REG", err)
		}
	}
	// Every socket of a shared UMEM bound to another device or queue needs
	// its own fill and completion ring.
	for _, o := range []struct {
		name string
		opt  int
		n    uint32
	}{
		{"XDP_UMEM_FILL_RING", unix.XDP_UMEM_FILL_RING, c.fillSize},
		{"XDP_UMEM_COMPLETION_RING", unix.XDP_UMEM_COMPLETION_RING, c.compSize},
		{"XDP_RX_RING", unix.XDP_RX_RING, c.rxSize},
		{"XDP_TX_RING", unix.XDP_TX_RING, c.txSize},
	} {
		if o.n == 0 {
			continue
		}
		if err := setsockoptU32(fd, unix.SOL_XDP, o.opt, o.n); err != nil {
			return nil, c.fail(fmt.Sprintf("setsockopt %s %d", o.name, o.n), err)
		}
	}
	var off xdpMmapOffsets
	if _, err := getsockopt(fd, unix.SOL_XDP, unix.XDP_MMAP_OFFSETS, unsafe.Pointer(&off), unsafe.Sizeof(off)); err != nil {
		return nil, c.fail("getsockopt XDP_MMAP_OFFSETS", err)
	}
	if c.fillSize > 0 {
		if err := x.mapRing(c, &x.fill, "fill ring", unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, c.fillSize, addrEntrySize, true); err != nil {
			return nil, err
		}
	}
	if err := x.mapRing(c, &x.comp, "completion ring", unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, c.compSize, addrEntrySize, false); err != nil {
		return nil, err
	}
	if c.rxSize > 0 {
		if err := x.mapRing(c, &x.rx, "rx ring", unix.XDP_PGOFF_RX_RING, off.Rx, c.rxSize, descEntrySize, false); err != nil {
			return nil, err
		}
	}
	if c.txSize > 0 {
		if err := x.mapRing(c, &x.tx, "tx ring", unix.XDP_PGOFF_TX_RING, off.Tx, c.txSize, descEntrySize, true); err != nil {
			return nil, err
		}
		x.hasTx = true
		// Let one sendto move the whole TX ring in copy mode (default
		// 32 frames per call). Best effort: kernels before 6.17 refuse.
		_ = setsockoptU32(fd, unix.SOL_XDP, xdpMaxTxSkbBudget, c.txSize)
	}

	if c.busyPoll {
		x.busyErr = enableBusyPoll(fd, c.busyPollUsec, c.busyBudget)
		x.busyPoll = x.busyErr == nil
		if x.busyErr != nil {
			x.busyErr = c.fail("busy poll", x.busyErr)
		}
	}

	sa := &unix.SockaddrXDP{Ifindex: uint32(c.ifindex), QueueID: c.queue}
	if c.sharedFD >= 0 {
		// The mode (copy or zero-copy) and need_wakeup are inherited
		// from the UMEM owner; the kernel refuses flags here.
		sa.Flags = unix.XDP_SHARED_UMEM
		sa.SharedUmemFD = uint32(c.sharedFD)
	} else {
		if !c.noNeedWakeup {
			sa.Flags = unix.XDP_USE_NEED_WAKEUP
		}
		x.alwaysKick = c.noNeedWakeup
		if c.zeroCopy {
			sa.Flags |= unix.XDP_ZEROCOPY
		} else {
			sa.Flags |= unix.XDP_COPY
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, c.fail(bindOp(sa.Flags), err)
	}
	var xopts uint32
	if _, err := getsockopt(fd, unix.SOL_XDP, unix.XDP_OPTIONS, unsafe.Pointer(&xopts), 4); err != nil {
		return nil, c.fail("getsockopt XDP_OPTIONS", err)
	}
	x.zeroCopy = xopts&unix.XDP_OPTIONS_ZEROCOPY != 0
	return x, nil
}

func bindOp(flags uint16) string {
	switch {
	case flags&unix.XDP_SHARED_UMEM != 0:
		return "bind (XDP_SHARED_UMEM)"
	case flags&unix.XDP_ZEROCOPY != 0:
		return "bind (XDP_ZEROCOPY)"
	}
	return "bind (XDP_COPY)"
}

// enableBusyPoll turns on preferred busy polling; on any refusal it turns
// it back off and returns the reason.
func enableBusyPoll(fd, usec, budget int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PREFER_BUSY_POLL, 1); err != nil {
		return fmt.Errorf("setsockopt SO_PREFER_BUSY_POLL: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BUSY_POLL, usec); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PREFER_BUSY_POLL, 0)
		return fmt.Errorf("setsockopt SO_BUSY_POLL %d: %w", usec, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BUSY_POLL_BUDGET, budget); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BUSY_POLL, 0)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PREFER_BUSY_POLL, 0)
		return fmt.Errorf("setsockopt SO_BUSY_POLL_BUDGET %d: %w", budget, err)
	}
	return nil
}

func (x *xsk) mapRing(c *sockConfig, r *ring, name string, pgoff int64, off xdpRingOffset, n uint32, entry uint64, producer bool) error {
	size := off.Desc + uint64(n)*entry
	mem, err := unix.Mmap(x.fd, pgoff, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return c.fail("mmap "+name, err)
	}
	x.maps = append(x.maps, mem)
	initRing(r, unsafe.Pointer(&mem[0]), off.Producer, off.Consumer, off.Flags, off.Desc, n, producer)
	return nil
}

// close closes the socket and unmaps its rings. The kernel keeps the UMEM
// pinned until the last socket using it is released.
func (x *xsk) close() error {
	var err error
	if x.fd >= 0 {
		err = unix.Close(x.fd)
		x.fd = -1
	}
	for _, m := range x.maps {
		if e := unix.Munmap(m); e != nil && err == nil {
			err = e
		}
	}
	x.maps = nil
	return err
}

// sockError returns and clears the socket's pending error (SO_ERROR), set
// for example to ENETDOWN when its device is unregistered.
func (x *xsk) sockError() error {
	if x.fd < 0 {
		return nil
	}
	v, err := unix.GetsockoptInt(x.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return &OpError{Op: "getsockopt SO_ERROR", Interface: x.ifname, Queue: x.queue, Err: err}
	}
	if v != 0 {
		return &OpError{Op: "socket error", Interface: x.ifname, Queue: x.queue, Err: unix.Errno(v)}
	}
	return nil
}
