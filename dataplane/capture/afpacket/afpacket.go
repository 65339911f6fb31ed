// Package afpacket is the Linux AF_PACKET capture source: a TPACKET_V3
// receive ring per socket, optional PACKET_FANOUT groups to spread flows
// over several sources, and an inline "copy" mode that forwards the
// packets the engine lets through out of a peer interface (a software
// bridge for IPS, as Suricata's af-packet copy-mode).
//
// # Ownership
//
// Packets returned by Source.Next point into the mmapped ring blocks, in
// place: no copy. A block is the source's (TP_STATUS_USER) from the moment
// the kernel retires it until every packet handed out of it came back
// through Source.Done; then it goes back to the kernel (TP_STATUS_KERNEL).
// Packets may come back in any batch and in any order, and the caller may
// keep several batches out at once: a batch may span blocks, and a block
// may be spread over batches. The reader reads blocks strictly in ring
// order, so a block still held stops the reader when the ring wraps around
// to it; until it comes back Next returns empty batches and the kernel
// drops what does not fit (Stats.KernelDrops). Hold less than NumBlocks
// blocks' worth of packets.
//
// After Close, the ring is unmapped: no packet Data of the source may be
// touched any more.
//
// # Copy mode
//
// Done sends the frames straight from the ring with sendmmsg on a packet
// socket bound to the peer interface. The frames are sent as captured, so
// the bridged interfaces (and veth peers) need checksum offload, TSO/GSO
// and GRO off (ethtool -K IF tx off tso off gso off gro off), as for
// Suricata's copy mode: otherwise frames arrive with partial checksums or
// larger than the MTU (those fail to send: CopyStats.SendErrors). The
// receive socket ignores frames sent out of its own interface
// (PACKET_IGNORE_OUTGOING), so the peer source's forwards are not captured
// again.
//
// # Injection
//
// Source implements capture.Injector: Inject sends frames of the engine's
// own (the resets and ICMP unreachables of reject verdicts, package
// reject) out of the capture interface toward p's sender, and in copy mode
// out of the copy interface toward p's destination (see Inject).
//
// # VLAN tags
//
// The kernel takes the outer 802.1Q/802.1ad tag out of every received frame
// and reports it beside the frame (tp_vlan_tci, TP_STATUS_VLAN_VALID). The
// source asks for 4 bytes of headroom per frame (PACKET_RESERVE) and puts
// the tag back in place, so Data holds the bytes that were on the wire and
// WireLen counts the tag. Copy mode forwards the frame with its tag.
//
// # Threads
//
// Next and Done are called by one goroutine at a time (they may be
// different goroutines if the caller orders them, e.g. hands batches over a
// channel). Stats, KernelStats, CopyStats and Close may be called from any
// goroutine; Close wakes a Next that waits in poll.
package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// Defaults used for zero Options fields.
const (
	DefaultBlockSize    = 256 << 10
	DefaultNumBlocks    = 64
	DefaultBlockTimeout = 10 * time.Millisecond
	DefaultPollTimeout  = 100 * time.Millisecond
	// MaxSnapLen is the largest SnapLen accepted.
	MaxSnapLen = 256 << 10
)

// Fanout modes (Options.FanoutMode).
const (
	// FanoutHash spreads packets by the kernel's flow hash, with IP
	// fragments reassembled first (PACKET_FANOUT_FLAG_DEFRAG) so all
	// fragments of a datagram land on the same source. The default.
	FanoutHash = "hash"
	// FanoutLB hands packets to the members in turn (round robin).
	FanoutLB = "lb"
	// FanoutCPU picks the member by the CPU that received the packet.
	FanoutCPU = "cpu"
)

// Copy modes (Options.CopyMode).
const (
	// CopyIPS forwards, in Done, each packet whose Verdict is
	// VerdictForward or VerdictBypass out of CopyInterface; VerdictDrop and
	// VerdictReject packets are not forwarded (CopyStats.Dropped).
	CopyIPS = "ips"
	// CopyTap forwards every packet, whatever its verdict.
	CopyTap = "tap"
)

// Options configure a Source. Only Interface is required.
type Options struct {
	// Interface is the name of the interface to capture on, in the network
	// namespace of the thread that calls Open.
	Interface string
	// Queue is the value given to Packet.Queue (the worker this source
	// feeds, e.g. the member number in a fanout group).
	Queue uint16

	// FanoutGroup joins the socket to this PACKET_FANOUT group id; 0 means
	// no fanout. Sources of one group must be on the same interface and use
	// the same mode and flags (the kernel refuses others with EINVAL): give
	// each interface its own group id. Hash mode is symmetric (both
	// directions of a connection reach the same source; checked by
	// TestLiveFanout on Linux 6.18).
	FanoutGroup uint16
	// FanoutMode is FanoutHash (default, also ""), FanoutLB or FanoutCPU.
	FanoutMode string
	// NoDefrag leaves out PACKET_FANOUT_FLAG_DEFRAG in hash mode, so the
	// source sees IP fragments as they were on the wire. Copy mode always
	// leaves it out: a reassembled datagram could not be forwarded.
	NoDefrag bool

	// BlockSize is the size of one ring block in bytes, a multiple of the
	// page size (default DefaultBlockSize). A frame longer than a block
	// minus its headers is truncated.
	BlockSize int
	// NumBlocks is the number of ring blocks, at least 2 (default
	// DefaultNumBlocks).
	NumBlocks int
	// SnapLen, when > 0, truncates each frame to at most SnapLen bytes (a
	// one-instruction classic BPF filter "ret #SnapLen"); WireLen keeps the
	// full length and Stats.Truncated counts such packets. 0 captures whole
	// frames. A re-inserted VLAN tag comes on top of SnapLen. TPACKET_V3
	// has no fixed frame size, so there is no separate FrameSize. Not
	// allowed in copy mode.
	SnapLen int
	// BlockTimeout is how long the kernel fills a block before it hands it
	// over even if it is not full (tp_retire_blk_tov), in whole
	// milliseconds, at most 65535 ms (default DefaultBlockTimeout). The
	// kernel rounds it up to its timer tick (4 ms at HZ=250). It bounds the
	// capture latency at low packet rates, and in copy mode it is the delay
	// a lone packet may see per direction.
	BlockTimeout time.Duration
	// Promisc puts the interface in promiscuous mode while the source is
	// open (PACKET_MR_PROMISC membership).
	Promisc bool
	// PollTimeout is how long Next waits for a block when the ring is
	// empty (default DefaultPollTimeout; negative: do not wait). When the
	// wait ends without packets Next returns nil and an EMPTY batch, so the
	// caller's loop gets control back regularly for housekeeping (flow
	// timeouts, stats) even when no traffic comes.
	PollTimeout time.Duration
	// IgnoreOutgoing leaves out the packets the host sends on Interface
	// (PACKET_IGNORE_OUTGOING). Copy mode always sets it, so the frames the
	// peer source forwards out of this interface are not captured again.
	IgnoreOutgoing bool

	// CopyMode is "" (capture only), CopyIPS or CopyTap.
	CopyMode string
	// CopyInterface is the interface packets are forwarded to in copy
	// mode. For the other direction, open a second Source on
	// CopyInterface with CopyInterface set to this Interface.
	CopyInterface string
}

// KernelStats are the kernel's counters for the receive socket
// (PACKET_STATISTICS, tpacket_stats_v3), summed over every read (the kernel
// resets them on each read).
type KernelStats struct {
	Packets     uint64 // packets that passed the socket's filter, including dropped ones
	Drops       uint64 // packets lost because the ring was full
	FreezeQueue uint64 // times the ring was frozen because the next block was still held
}

// Source captures from one interface through a TPACKET_V3 ring. It
// implements capture.Source.
//
// Packets get Data (pointing into the ring; see the package doc), WireLen
// (tp_len, plus 4 when a VLAN tag was put back), TimeNs (the kernel's
// receive time stamp), LinkType (from the interface's ARPHRD type), Num
// (1-based count of packets this source delivered), Queue
// (Options.Queue), Handle (the ring block it lives in, tagged with the
// source) and Origin OriginWire. Every other field is zero.
type Source struct {
	ifname  string
	ifindex int
	link    packet.LinkType
	fd      int // receive socket
	efd     int // eventfd that wakes a Next blocked in ppoll when Close runs
	mem     []byte
	wait    bool // PollTimeout >= 0
	pollTS  unix.Timespec
	pfds    [2]unix.PollFd
	r       *ring
	tx      *copier // nil unless copy mode

	mu        sync.Mutex // held by Next and Done, and by Close
	closing   atomic.Bool
	closed    bool
	errClosed error

	packets, bytes, truncated, invalid atomic.Uint64

	// Inject: injMu is read-held while a frame is sent on fd or tx.fd;
	// teardown write-holds it to close them (injDown).
	injMu                       sync.RWMutex
	injDown                     bool
	injected, injBytes, injErrs atomic.Uint64

	statsMu  sync.Mutex // guards fd for getsockopt against Close, and ktotal
	fdOpen   bool
	kstat    unix.TpacketStatsV3
	kstatLen uint32
	ktotal   KernelStats
}

var _ capture.Source = (*Source)(nil)

// sourceTags numbers sources so that a Handle names one source's block.
var sourceTags atomic.Uint32

// Open creates the receive socket on opts.Interface, sets up and maps its
// ring, joins the fanout group and, in copy mode, opens the sending socket
// on opts.CopyInterface. Sockets live in the network namespace of the
// calling thread. Errors are *Error values naming the interface and the
// step that failed.
func Open(opts Options) (*Source, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Source{ifname: o.Interface, fd: -1, efd: -1, kstatLen: unix.SizeofTpacketStatsV3}
	s.errClosed = &Error{Interface: o.Interface, Op: "Next", Err: ErrClosed}
	ok := false
	defer func() {
		if !ok {
			s.teardown()
		}
	}()

	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, s.fail("socket AF_PACKET", err)
	}
	s.fd, s.fdOpen = fd, true
	s.ifindex, s.link, err = interfaceInfo(fd, o.Interface)
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, s.fail("setsockopt PACKET_VERSION TPACKET_V3", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, vlanReserve); err != nil {
		return nil, s.fail("setsockopt PACKET_RESERVE", err)
	}
	if o.SnapLen > 0 {
		ins := unix.SockFilter{Code: 0x06, K: uint32(o.SnapLen)} // BPF_RET|BPF_K: accept SnapLen bytes
		prog := unix.SockFprog{Len: 1, Filter: &ins}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
			return nil, s.fail("setsockopt SO_ATTACH_FILTER (snap length)", err)
		}
	}
	if o.IgnoreOutgoing {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			return nil, s.fail("setsockopt PACKET_IGNORE_OUTGOING", err)
		}
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(o.BlockSize),
		Block_nr:       uint32(o.NumBlocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(o.BlockSize / frameSize * o.NumBlocks),
		Retire_blk_tov: uint32(o.BlockTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, s.fail(fmt.Sprintf("setsockopt PACKET_RX_RING (%d blocks of %d bytes)", o.NumBlocks, o.BlockSize), err)
	}
	s.mem, err = unix.Mmap(fd, 0, o.BlockSize*o.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, s.fail("mmap ring", err)
	}
	if o.Promisc {
		mreq := unix.PacketMreq{Ifindex: int32(s.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, s.fail("setsockopt PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC", err)
		}
	}
	// Bound late, with the ring in place: the socket receives nothing
	// before this (it was created with protocol 0).
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: s.ifindex}); err != nil {
		return nil, s.fail("bind", err)
	}
	if o.FanoutGroup != 0 {
		arg := int(o.FanoutGroup) | int(fanoutTypeFlags(o))<<16
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return nil, s.fail(fmt.Sprintf("setsockopt PACKET_FANOUT (group %d, mode %s)", o.FanoutGroup, o.FanoutMode), err)
		}
	}
	s.efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, s.fail("eventfd", err)
	}
	if o.CopyMode != "" {
		s.tx, err = newCopier(o.CopyMode, o.CopyInterface)
		if err != nil {
			return nil, err
		}
	}

	s.r = newRing(s.mem, o.BlockSize, o.NumBlocks, s.link, o.Queue, sourceTags.Add(1))
	s.wait = o.PollTimeout >= 0
	s.pollTS = unix.NsecToTimespec(int64(o.PollTimeout))
	s.pfds[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}
	s.pfds[1] = unix.PollFd{Fd: int32(s.efd), Events: unix.POLLIN}
	ok = true
	return s, nil
}

// frameSize is tp_frame_size. TPACKET_V3 packs frames of any length into a
// block, so it only has to satisfy the kernel's checks.
const frameSize = 2048

func (o Options) withDefaults() (Options, error) {
	bad := func(field, why string) (Options, error) {
		return o, &Error{Interface: o.Interface, Op: "option " + field, Err: fmt.Errorf("%w: %s", ErrOption, why)}
	}
	if o.Interface == "" {
		return bad("Interface", "no interface given")
	}
	page := os.Getpagesize()
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.BlockSize < page || o.BlockSize%page != 0 || o.BlockSize < frameSize {
		return bad("BlockSize", fmt.Sprintf("%d is not a positive multiple of the page size %d", o.BlockSize, page))
	}
	if o.NumBlocks == 0 {
		o.NumBlocks = DefaultNumBlocks
	}
	if o.NumBlocks < 2 || int64(o.NumBlocks)*int64(o.BlockSize) > 1<<32 {
		return bad("NumBlocks", fmt.Sprintf("%d blocks of %d bytes: need at least 2 and at most 4 GiB in all", o.NumBlocks, o.BlockSize))
	}
	if o.SnapLen < 0 || o.SnapLen > MaxSnapLen {
		return bad("SnapLen", fmt.Sprintf("%d is outside 0..%d", o.SnapLen, MaxSnapLen))
	}
	if o.BlockTimeout == 0 {
		o.BlockTimeout = DefaultBlockTimeout
	}
	if o.BlockTimeout < time.Millisecond || o.BlockTimeout > 65535*time.Millisecond {
		return bad("BlockTimeout", fmt.Sprintf("%v is outside 1ms..65535ms", o.BlockTimeout))
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = DefaultPollTimeout
	}
	switch o.FanoutMode {
	case "":
		o.FanoutMode = FanoutHash
	case FanoutHash, FanoutLB, FanoutCPU:
	default:
		return bad("FanoutMode", fmt.Sprintf("%q is not one of hash, lb, cpu", o.FanoutMode))
	}
	switch o.CopyMode {
	case "":
		if o.CopyInterface != "" {
			return bad("CopyInterface", "set without a CopyMode")
		}
	case CopyIPS, CopyTap:
		if o.CopyInterface == "" || o.CopyInterface == o.Interface {
			return bad("CopyInterface", fmt.Sprintf("copy mode %s needs a peer interface other than %q", o.CopyMode, o.Interface))
		}
		if o.SnapLen != 0 {
			return bad("SnapLen", "copy mode must capture whole frames to forward them")
		}
		o.IgnoreOutgoing = true
		o.NoDefrag = true
	default:
		return bad("CopyMode", fmt.Sprintf("%q is not one of \"\", ips, tap", o.CopyMode))
	}
	return o, nil
}

// fanoutTypeFlags gives the upper 16 bits of the PACKET_FANOUT argument.
func fanoutTypeFlags(o Options) uint16 {
	var t uint16
	switch o.FanoutMode {
	case FanoutLB:
		t = unix.PACKET_FANOUT_LB
	case FanoutCPU:
		t = unix.PACKET_FANOUT_CPU
	default:
		t = unix.PACKET_FANOUT_HASH
		if !o.NoDefrag {
			t |= unix.PACKET_FANOUT_FLAG_DEFRAG
		}
	}
	if o.IgnoreOutgoing {
		// A fanout group delivers through its own hook, which ignores
		// the members' PACKET_IGNORE_OUTGOING.
		t |= unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING
	}
	return t
}

// interfaceInfo returns the index and link type of interface name.
func interfaceInfo(fd int, name string) (int, packet.LinkType, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, 0, &Error{Interface: name, Op: "interface name", Err: err}
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, 0, &Error{Interface: name, Op: "ioctl SIOCGIFINDEX", Err: err}
	}
	index := int(ifr.Uint32())
	ifr, _ = unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, 0, &Error{Interface: name, Op: "ioctl SIOCGIFHWADDR", Err: err}
	}
	hatype := ifr.Uint16() // sa_family of ifr_hwaddr
	link, ok := linkTypeOf(hatype)
	if !ok {
		return 0, 0, &Error{Interface: name, Op: "link type", Err: fmt.Errorf("%w: ARPHRD type %d has no supported link type", ErrOption, hatype)}
	}
	return index, link, nil
}

// linkTypeOf maps an ARPHRD_ interface type to the link type of the frames
// a SOCK_RAW packet socket reads on it.
func linkTypeOf(hatype uint16) (packet.LinkType, bool) {
	switch hatype {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK, unix.ARPHRD_IEEE802:
		return packet.LinkEthernet, true
	case unix.ARPHRD_NONE, unix.ARPHRD_RAWIP, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6,
		unix.ARPHRD_SIT, unix.ARPHRD_PPP:
		// No link-layer header: the frame starts with the IP header.
		return packet.LinkRaw, true
	}
	return 0, false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// fail wraps a syscall error for the capture interface.
func (s *Source) fail(op string, err error) error {
	return &Error{Interface: s.ifname, Op: op, Err: err}
}

// Next fills b with the packets the ring has ready, up to b.Cap(). When
// the ring is empty it waits up to PollTimeout for a block; if none comes
// it returns nil with an empty batch (len(b.Pkts) == 0), which is not an
// error: the caller does its housekeeping and calls Next again.
//
// If b still holds packets of this source, Next first gives them back as
// Done would. It returns an *Error wrapping ErrClosed after Close, and one
// wrapping ErrInterfaceDown and the errno when the interface went down (the
// source stays usable; capture resumes when the interface is up again).
func (s *Source) Next(b *packet.Batch) error {
	if len(b.Pkts) > 0 {
		s.Done(b)
	}
	b.Reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.closing.Load() {
		return s.errClosed
	}
	if b.Cap() == 0 {
		return &Error{Interface: s.ifname, Op: "Next", Err: errors.New("batch has no packet slots")}
	}
	n := s.r.fill(b, 0)
	if n == 0 && s.wait {
		if err := s.poll(); err != nil {
			return err
		}
		n = s.r.fill(b, 0)
	}
	b.SetLen(n)
	s.drainCounters()
	return nil
}

// poll waits until the kernel hands over a block, PollTimeout passes, the
// socket reports an error or Close wakes it.
func (s *Source) poll() error {
	s.pfds[0].Revents, s.pfds[1].Revents = 0, 0
	_, err := unix.Ppoll(s.pfds[:], &s.pollTS, nil)
	if err != nil {
		if err == unix.EINTR {
			return nil
		}
		return &Error{Interface: s.ifname, Op: "ppoll", Err: err}
	}
	if s.closing.Load() {
		return s.errClosed
	}
	if s.pfds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		e, gerr := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if gerr != nil {
			return &Error{Interface: s.ifname, Op: "getsockopt SO_ERROR", Err: gerr}
		}
		switch errno := unix.Errno(e); {
		case errno == unix.ENETDOWN:
			return &Error{Interface: s.ifname, Op: "receive", Err: fmt.Errorf("%w: %w", ErrInterfaceDown, errno)}
		case errno != 0:
			return &Error{Interface: s.ifname, Op: "receive", Err: errno}
		}
	}
	return nil
}

// drainCounters moves the ring's counters to the ones Stats reads.
func (s *Source) drainCounters() {
	r := s.r
	if r.packets != 0 {
		s.packets.Add(r.packets)
		s.bytes.Add(r.bytes)
		r.packets, r.bytes = 0, 0
	}
	if r.truncated != 0 {
		s.truncated.Add(r.truncated)
		r.truncated = 0
	}
	if r.invalid != 0 {
		s.invalid.Add(r.invalid)
		r.invalid = 0
	}
}

// Done gives the packets of b back to the source and empties b. In copy
// mode it first forwards them out of the copy interface as their verdicts
// say (see CopyIPS, CopyTap), in one sendmmsg call per up to 256 packets.
// A ring block returns to the kernel when the last packet lent from it
// comes back. Packets of other sources and packets the engine made up
// (Handle 0) are ignored. After Close, Done only empties b.
func (s *Source) Done(b *packet.Batch) {
	s.mu.Lock()
	if !s.closed {
		if s.tx != nil {
			s.tx.forward(s.r, b.Pkts)
		}
		for _, p := range b.Pkts {
			s.r.done(p.Handle)
		}
	}
	s.mu.Unlock()
	b.Reset()
}

// Stats returns the source's counters; KernelDrops comes from the
// kernel's PACKET_STATISTICS, read now and added up (see KernelStats).
// TxDrops counts frames copy mode was to forward but could not
// (CopyStats.SendErrors and Oversize) and frames Inject could not send
// (InjectStats.Errors).
func (s *Source) Stats() capture.Stats {
	k := s.KernelStats()
	st := capture.Stats{
		Packets:      s.packets.Load(),
		Bytes:        s.bytes.Load(),
		KernelDrops:  k.Drops,
		Truncated:    s.truncated.Load(),
		InvalidDrops: s.invalid.Load(),
		TxDrops:      s.injErrs.Load(),
	}
	if s.tx != nil {
		st.TxDrops += s.tx.sendErrs.Load() + s.tx.oversize.Load()
	}
	return st
}

// KernelStats reads PACKET_STATISTICS and returns the totals since Open.
// After Close it returns the totals read at Close.
func (s *Source) KernelStats() KernelStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.fdOpen {
		s.readKernelStats()
	}
	return s.ktotal
}

// readKernelStats adds the kernel's counters since the last read to ktotal.
// It does not allocate: the buffers live in s.
func (s *Source) readKernelStats() {
	s.kstatLen = unix.SizeofTpacketStatsV3
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_PACKET, unix.PACKET_STATISTICS,
		uintptr(unsafe.Pointer(&s.kstat)), uintptr(unsafe.Pointer(&s.kstatLen)), 0)
	if e != 0 {
		return
	}
	s.ktotal.Packets += uint64(s.kstat.Packets)
	s.ktotal.Drops += uint64(s.kstat.Drops)
	s.ktotal.FreezeQueue += uint64(s.kstat.Freeze_q_cnt)
}

// CopyStats returns the copy-mode counters (zero when not in copy mode).
func (s *Source) CopyStats() CopyStats {
	if s.tx == nil {
		return CopyStats{}
	}
	return s.tx.stats()
}

// LinkType returns the link type of the packets (from the interface's
// ARPHRD type).
func (s *Source) LinkType() packet.LinkType { return s.link }

// Interface returns the capture interface's name.
func (s *Source) Interface() string { return s.ifname }

// Close unmaps the ring and closes the sockets. A Next waiting in poll
// returns ErrClosed; Close waits for it. Packets still out become invalid
// (their Data points into the unmapped ring): stop using them first. A
// second Close returns an error wrapping ErrClosed.
func (s *Source) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		return &Error{Interface: s.ifname, Op: "Close", Err: ErrClosed}
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(s.efd, one[:]) // wake a Next in ppoll
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.teardown()
}

// teardown releases what Open set up, reporting the first failure.
func (s *Source) teardown() error {
	var first error
	note := func(op string, err error) {
		if err != nil && first == nil {
			first = &Error{Interface: s.ifname, Op: op, Err: err}
		}
	}
	s.injMu.Lock() // waits for an Inject in progress
	s.injDown = true
	if s.tx != nil {
		if err := s.tx.close(); err != nil && first == nil {
			first = err
		}
	}
	if s.mem != nil {
		note("munmap ring", unix.Munmap(s.mem))
		s.mem = nil
	}
	s.statsMu.Lock()
	if s.fdOpen {
		s.readKernelStats()
		note("close socket", unix.Close(s.fd))
		s.fdOpen = false
	}
	s.statsMu.Unlock()
	s.injMu.Unlock()
	if s.efd >= 0 {
		note("close eventfd", unix.Close(s.efd))
		s.efd = -1
	}
	return first
}
