//go:build linux

// Package afxdp is the AF_XDP capture source: packets arrive in a UMEM
// (a user-space memory area registered with the kernel) through an
// AF_XDP socket bound to one receive queue of an interface, and the engine
// reads them in place, with no copy onto the Go heap and no allocation per
// packet.
//
// # Modes
//
// IDS (Options.PeerInterface empty): one socket on Interface/QueueID.
// Done puts every frame back on the fill ring, whatever the verdict.
//
// Bridge (Options.PeerInterface set, or OpenBridge): bump-in-the-wire IPS
// between two interfaces A (Interface) and B (PeerInterface). One Source
// owns two sockets, one per interface, sharing one UMEM (the second socket
// binds with XDP_SHARED_UMEM to the first; kernel >= 5.10 allows it across
// devices). Next returns packets from both sides (alternating which side
// is read first); Done sends each VerdictForward/VerdictBypass frame to
// the other side's TX ring - the same UMEM frame, no copy - and returns
// VerdictDrop/VerdictReject frames to the free list. Side(p) tells which
// interface a packet came from. One Source, one goroutine, one frame
// allocator: no locks. A multi-queue NIC pair needs one bridge Source per
// queue pair.
//
// # Frames
//
// Every UMEM frame is in exactly one place (FrameCounts): the free list, a
// fill ring (including frames the kernel took from it and frames waiting
// in an RX ring), held by the engine (in a batch between Next and Done), or
// a TX ring (until the kernel gives it back on the completion ring). Fill
// rings and completion rings are sized so they can never overflow; each
// socket's fill ring is kept topped up to its quota from the free list at
// every Next and Done: all frames in IDS mode; in a bridge, half each of
// all but BatchSize frames, which stay free for Inject.
//
// # Ownership
//
// Next fills the batch with packets whose Data is the frame itself, a
// slice over the UMEM mapping (cap(Data) == len(Data)). The engine owns
// those bytes - it may read them and rewrite them in place, and may
// shorten Data; it must not move Data elsewhere - until it hands the batch
// back with Done, which transmits len(Data) bytes from the packet's Handle
// (its UMEM address) in bridge mode. After Done, and after Close, nothing
// may touch Data. Batches may be returned in any order; a Source is used by
// one goroutine (Stats and Counters may be called from any goroutine).
//
// # XDP program
//
// By default the Source loads a small XDP program (bpf/xsk_redirect.c)
// that redirects each packet to the XSKMAP entry of its receive queue and
// passes packets of queues without a socket to the kernel stack, and
// attaches it with a bpf_link (detached when the last Source of this
// process on that interface closes, or when the process dies). Sources on
// several queues of one interface share one program and map.
//
// When Options.XSKMap is set, the Source loads and attaches nothing: it
// only inserts its socket into that map at key QueueID (the kernel removes
// it when the socket closes). The map's owner - the XDP flow-bypass
// program - must be attached to the interface and redirect with
// bpf_redirect_map(&map, ctx->rx_queue_index, ...). A bridge then needs
// PeerXSKMap for the peer interface too; one map shared by both
// interfaces works only if the owner's program keys them apart (the peer
// socket goes in at PeerQueueID + PeerXSKMapOffset), since a socket only
// accepts packets from its own device and queue.
//
// # Injection
//
// A bridge implements capture.Injector: Inject copies a frame of the
// engine's (a TCP reset, an ICMP unreachable) into a free UMEM frame and
// posts it on the TX ring of the side p arrived on (toSource) or of the
// other side. In IDS mode Inject fails with ErrInjectNeedsBridge.
//
// # Transmit-only sockets
//
// OpenTx opens a Tx: one AF_XDP socket with a TX ring and no RX ring, no
// XDP program, for traffic generators. Send copies frames into its UMEM.
//
// # Counters
//
// Stats().KernelDrops is the sum over the sockets of the kernel's
// XDP_STATISTICS rx_dropped + rx_ring_full: rx_dropped counts packets the
// kernel dropped because the fill ring was empty (copy mode) or the packet
// did not fit in a frame, rx_ring_full those dropped because the RX ring
// was full. rx_fill_ring_empty_descs and tx_ring_empty_descs count events,
// not packets (in zero-copy mode the driver drops and counts when the fill
// ring is empty), and are reported in Counters only. InvalidDrops is
// rx_invalid_descs + descriptors the kernel returned that did not name a
// frame of ours (Counters.BadDescs).
//
// Stats().TxDrops counts every frame a bridge was told to forward, or
// Inject to send, that did not leave: TxRingFull (the peer TX ring had no
// room even after a wakeup: counted and dropped, never waited for),
// TxDeviceDrops (the device refused the frame in copy mode, for example
// because the peer is down), the kernel's tx_invalid_descs (never, for
// the descriptors this package writes), TxLost (frames still on a TX ring
// when Close gave up sending them) and InjectDrops (Inject calls that
// sent nothing, and injected frames lost in one of the ways above).
// Forwarded counts the packets that left (put on the peer's TX ring and
// not dropped there), Injected the injected frames that left. So in a
// bridge every packet is accounted for:
//
//	Packets = Forwarded + VerdictDrops + (TxDrops - InjectDrops)
//
// (+ BadDone never, for a correct caller), and without injection
// Packets = Forwarded + VerdictDrops + TxDrops.
package afxdp

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Socket modes (Options.Mode, Source.Mode).
const (
	ModeAuto     = "auto"     // try zero-copy, fall back to copy when the driver does not support it
	ModeZeroCopy = "zerocopy" // XDP_ZEROCOPY or fail
	ModeCopy     = "copy"     // XDP_COPY
)

// Defaults for zero Options fields.
const (
	DefaultFrameSize   = 2048
	DefaultRingSize    = 2048
	DefaultPollTimeout = 100 * time.Millisecond
	DefaultBusyPollUs  = 20
	// DrainTimeout is how long Close waits for the kernel to take the
	// frames left on a TX ring.
	DrainTimeout = 200 * time.Millisecond

	// xdpPacketHeadroom is XDP_PACKET_HEADROOM: the kernel places packet
	// data this far into a frame (plus Options.Headroom).
	xdpPacketHeadroom = 256
	minPacketRoom     = 1518 // Ethernet frame of MTU 1500 with a VLAN tag
)

// Options configure Open.
type Options struct {
	// Interface is the interface to receive on (side A of a bridge).
	Interface string
	// QueueID is its receive queue.
	QueueID uint32

	// NumFrames is the number of UMEM frames (default: 2*RingSize, twice
	// that for a bridge). The UMEM is NumFrames*FrameSize bytes, pinned by
	// the kernel (RLIMIT_MEMLOCK applies without CAP_IPC_LOCK).
	NumFrames int
	// FrameSize is the UMEM frame size, a power of two from 2048 to the
	// page size (default 2048). Packets longer than FrameSize - 256 -
	// Headroom are dropped by the kernel (counted in KernelDrops).
	FrameSize int
	// Headroom is extra space the kernel leaves in front of each packet,
	// beyond its own 256 bytes (default 0).
	Headroom int
	// RingSize is the size of the RX and TX rings, a power of two
	// (default 2048). Fill and completion rings are sized from NumFrames.
	RingSize int
	// BatchSize is the most packets one Next returns (default
	// packet.DefaultBatchSize; never more than the batch's Cap).
	BatchSize int

	// Mode is ModeAuto (default), ModeZeroCopy or ModeCopy.
	Mode string
	// XDPMode is how the redirect program is attached: XDPModeAuto
	// (default: driver, else generic), XDPModeDriver or XDPModeGeneric.
	// Ignored when XSKMap is set.
	XDPMode string
	// XSKMap, when set, is the XSKMAP of an XDP program another package
	// owns and has attached to Interface: the Source inserts its socket at
	// key QueueID and loads nothing (see the package doc).
	XSKMap *ebpf.Map

	// BusyPoll asks for preferred busy polling (SO_PREFER_BUSY_POLL,
	// SO_BUSY_POLL, SO_BUSY_POLL_BUDGET = BatchSize). When the kernel
	// refuses, the Source runs without it (Source.BusyPoll reports false
	// and why). With busy polling Next spins in recvfrom while idle
	// instead of sleeping in poll. For it to pay off the operator sets
	// the device's napi_defer_hard_irqs and gro_flush_timeout.
	BusyPoll bool
	// BusyPollUsec is SO_BUSY_POLL (default DefaultBusyPollUs).
	BusyPollUsec int

	// PollTimeout is how long Next waits for packets. When nothing arrives
	// in that time it returns nil with an empty batch, so the caller's
	// loop can do housekeeping (flow timeouts, stats) on an idle link.
	// 0 means DefaultPollTimeout; negative means never wait.
	PollTimeout time.Duration

	// PeerInterface makes the Source a bridge between Interface and
	// PeerInterface (queue PeerQueueID); see the package doc.
	PeerInterface string
	PeerQueueID   uint32
	// PeerXSKMap is XSKMap for PeerInterface (required in a bridge when
	// XSKMap is set). It may be the same map as XSKMap when the owner's
	// program keys the two interfaces apart: the peer socket goes in at
	// key PeerQueueID + PeerXSKMapOffset.
	PeerXSKMap       *ebpf.Map
	PeerXSKMapOffset uint32
}

// SocketStats are one socket's kernel counters (XDP_STATISTICS).
type SocketStats struct {
	Interface string
	Queue     uint32

	// Counted by the Source.
	RxPackets      uint64 // packets read from this socket's RX ring
	TxFrames       uint64 // frames put on this socket's TX ring (bridge: forwarded and injected; Tx: sent)
	TxDeviceDrops  uint64 // of those, dropped by the device at transmit (copy mode)
	OwnDeviceDrops uint64 // of the device drops, frames of our own (Inject, Tx.Send)
	TxLost         uint64 // frames left on the TX ring, never consumed, when the socket closed

	// XDP_STATISTICS.
	RxDropped       uint64 // fill ring empty (copy mode) or packet larger than a frame
	RxInvalidDescs  uint64
	TxInvalidDescs  uint64
	RxRingFull      uint64
	RxFillRingEmpty uint64 // times the fill ring was found empty (events)
	TxRingEmpty     uint64 // times the TX ring was found empty (events)
}

// Counters are a Source's detailed counters; Stats is their summary.
type Counters struct {
	capture.Stats

	Forwarded     uint64 // bridge: packets put on the peer's TX ring and not dropped there
	VerdictDrops  uint64 // bridge: frames dropped by VerdictDrop/VerdictReject
	TxRingFull    uint64 // bridge: frames dropped because the peer TX ring stayed full
	TxDeviceDrops uint64 // bridge, copy mode: frames a device dropped at transmit (sendto EBUSY), forwarded or injected
	TxLost        uint64 // frames left on a TX ring, never consumed, when Close gave up sending them
	TxErrors      uint64 // sendto calls that failed otherwise (ENETDOWN, ENXIO, ...); frames stay queued
	Injected      uint64 // bridge: frames Inject put on a TX ring and not dropped there
	InjectDrops   uint64 // frames Inject was given that did not leave (also in TxDrops)
	RxWakeups     uint64 // recvfrom calls (fill ring need_wakeup, busy polling)
	TxWakeups     uint64 // sendto calls (TX ring need_wakeup)
	Polls         uint64 // ppoll calls while idle
	BadDescs      uint64 // RX or completion descriptors not naming a frame the kernel had from us
	BadDone       uint64 // packets given to Done whose frame was not lent out (caller error; ignored)

	FillRingEmpty uint64 // sum of SocketStats.RxFillRingEmpty
	TxRingEmpty   uint64 // sum of SocketStats.TxRingEmpty
	Sockets       []SocketStats
}

// counters are updated once per batch by the Source's goroutine and read by
// Stats from any goroutine.
type counters struct {
	packets, bytes                      atomic.Uint64
	forwarded, verdictDrops, txRingFull atomic.Uint64
	txErrors                            atomic.Uint64
	injected, injectFailed              atomic.Uint64
	rxWakeups, txWakeups, polls         atomic.Uint64
	badDescs, badDone                   atomic.Uint64
	sock                                [2]sockCounters
}

type sockCounters struct {
	rxPackets, txFrames, txDeviceDrops atomic.Uint64
	ownDeviceDrops                     atomic.Uint64
	// Frames found on the TX ring, never consumed, at Close: ours and
	// forwarded ones.
	lostOwn, lostFwd atomic.Uint64
}

// Source is an AF_XDP capture source (IDS) or bridge (IPS). It implements
// capture.Source; see the package doc for ownership and modes.
type Source struct {
	opts   Options
	bridge bool
	nsock  int
	socks  [2]xsk
	u      *umem
	fmask  uint64 // FrameSize-1

	mode     string
	xdpMode  string
	fallback error // why ModeAuto ended in copy mode
	progs    [2]*program
	busy     bool
	batch    int
	timeout  time.Duration
	maxKicks int

	num     uint64
	turn    int
	pollFds [2]unix.PollFd
	ts      unix.Timespec
	err     error // sticky, returned by Next
	closed  bool

	ctr     counters
	statsMu sync.Mutex // Close vs Counters
	final   []SocketStats
}

var _ capture.Source = (*Source)(nil)

// OpenBridge opens a bridge between interfaces a and b (queue
// opts.QueueID on a, opts.PeerQueueID on b): the pair constructor, the
// same as Open with Interface a and PeerInterface b.
func OpenBridge(a, b string, opts Options) (*Source, error) {
	opts.Interface, opts.PeerInterface = a, b
	return Open(opts)
}

// Open creates the UMEM and socket(s), binds them, attaches the redirect
// program (unless XSKMap is given) and fills the fill ring(s).
func Open(opts Options) (*Source, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	switch o.Mode {
	case ModeZeroCopy:
		return open(o, true)
	case ModeCopy:
		return open(o, false)
	}
	s, err := open(o, true)
	if err == nil || !errors.Is(err, unix.EOPNOTSUPP) {
		return s, err
	}
	s, err2 := open(o, false)
	if err2 != nil {
		return nil, err2
	}
	s.fallback = err
	return s, nil
}

func (o Options) withDefaults() (Options, error) {
	bad := func(format string, a ...any) (Options, error) {
		return o, fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, a...))
	}
	if o.Interface == "" {
		return bad("no Interface")
	}
	if o.PeerInterface == o.Interface && o.PeerQueueID == o.QueueID {
		return bad("PeerInterface %s queue %d is the Interface itself", o.PeerInterface, o.PeerQueueID)
	}
	if o.RingSize == 0 {
		o.RingSize = DefaultRingSize
	}
	if o.RingSize < 8 || o.RingSize > 1<<20 || o.RingSize&(o.RingSize-1) != 0 {
		return bad("RingSize %d is not a power of two in [8, 1<<20]", o.RingSize)
	}
	socks := 1
	if o.PeerInterface != "" {
		socks = 2
	}
	if o.NumFrames == 0 {
		o.NumFrames = 2 * o.RingSize * socks
	}
	if o.BatchSize == 0 {
		o.BatchSize = packet.DefaultBatchSize
	}
	if o.BatchSize < 1 || o.BatchSize > o.RingSize {
		return bad("BatchSize %d not in [1, RingSize %d]", o.BatchSize, o.RingSize)
	}
	if o.NumFrames < 2*o.BatchSize*socks || o.NumFrames > 1<<24 {
		return bad("NumFrames %d not in [%d, 1<<24]", o.NumFrames, 2*o.BatchSize*socks)
	}
	if o.FrameSize == 0 {
		o.FrameSize = DefaultFrameSize
	}
	if o.FrameSize < 2048 || o.FrameSize > unix.Getpagesize() || o.FrameSize&(o.FrameSize-1) != 0 {
		return bad("FrameSize %d is not a power of two in [2048, page size %d]", o.FrameSize, unix.Getpagesize())
	}
	if o.Headroom < 0 || o.FrameSize-xdpPacketHeadroom-o.Headroom < minPacketRoom {
		return bad("Headroom %d leaves less than %d bytes of a %d-byte frame", o.Headroom, minPacketRoom, o.FrameSize)
	}
	switch o.Mode {
	case "":
		o.Mode = ModeAuto
	case ModeAuto, ModeZeroCopy, ModeCopy:
	default:
		return bad("Mode %q (want auto, zerocopy or copy)", o.Mode)
	}
	switch o.XDPMode {
	case "":
		o.XDPMode = XDPModeAuto
	case XDPModeAuto, XDPModeDriver, XDPModeGeneric:
	default:
		return bad("XDPMode %q (want auto, driver or generic)", o.XDPMode)
	}
	if socks == 2 && (o.XSKMap == nil) != (o.PeerXSKMap == nil) {
		return bad("a bridge needs both XSKMap and PeerXSKMap, or neither")
	}
	if socks == 2 && o.XSKMap != nil && o.XSKMap == o.PeerXSKMap && o.QueueID == o.PeerQueueID+o.PeerXSKMapOffset {
		return bad("XSKMap and PeerXSKMap are one map and both sockets would take key %d (set PeerXSKMapOffset)", o.QueueID)
	}
	if o.BusyPollUsec == 0 {
		o.BusyPollUsec = DefaultBusyPollUs
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = DefaultPollTimeout
	}
	return o, nil
}

func pow2(n int) uint32 {
	p := uint32(1)
	for int(p) < n {
		p <<= 1
	}
	return p
}

// open builds the whole Source once; on error everything is undone.
func open(o Options, zeroCopy bool) (_ *Source, err error) {
	s := &Source{opts: o, bridge: o.PeerInterface != "", batch: o.BatchSize, timeout: o.PollTimeout}
	s.nsock = 1
	if s.bridge {
		s.nsock = 2
	}
	names := [2]string{o.Interface, o.PeerInterface}
	queues := [2]uint32{o.QueueID, o.PeerQueueID}
	maps := [2]*ebpf.Map{o.XSKMap, o.PeerXSKMap}
	keys := [2]uint32{o.QueueID, o.PeerQueueID + o.PeerXSKMapOffset}
	var ifindex [2]int
	for i := 0; i < s.nsock; i++ {
		ifi, err := net.InterfaceByName(names[i])
		if err != nil {
			return nil, &OpError{Op: "look up interface", Interface: names[i], Queue: queues[i], Err: err}
		}
		ifindex[i] = ifi.Index
	}

	size := o.NumFrames * o.FrameSize
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

	quota := o.NumFrames / s.nsock
	if s.bridge {
		quota = (o.NumFrames - o.BatchSize) / 2 // BatchSize frames stay free for Inject
	}
	for i := 0; i < s.nsock; i++ {
		c := &sockConfig{
			ifname: names[i], ifindex: ifindex[i], queue: queues[i], side: uint8(i),
			umem: mem, frameSize: uint32(o.FrameSize), headroom: uint32(o.Headroom), sharedFD: -1,
			fillSize: pow2(quota), compSize: uint32(o.RingSize), rxSize: uint32(o.RingSize),
			zeroCopy: zeroCopy, busyPoll: o.BusyPoll, busyPollUsec: o.BusyPollUsec, busyBudget: o.BatchSize,
		}
		if s.bridge {
			c.txSize = uint32(o.RingSize)
			c.compSize = pow2(2 * o.RingSize)
		}
		if i == 1 {
			c.sharedFD = s.socks[0].fd
		}
		x, err := openSocket(c)
		if err != nil {
			return nil, err
		}
		x.fillQuota = quota
		s.socks[i] = *x
	}
	s.mode = ModeCopy
	if s.socks[0].zeroCopy {
		s.mode = ModeZeroCopy
	}
	s.busy = o.BusyPoll
	for i := 0; i < s.nsock; i++ {
		s.busy = s.busy && s.socks[i].busyPoll
	}

	// The XDP side: our own program, or the caller's map.
	s.xdpMode = XDPModeNone
	for i := 0; i < s.nsock; i++ {
		x := &s.socks[i]
		m, key := maps[i], keys[i]
		if m == nil {
			key = x.queue
			p, err := acquireProgram(x.ifname, x.ifindex, o.XDPMode)
			if err != nil {
				return nil, err
			}
			s.progs[i] = p
			s.xdpMode = p.mode
			if x.queue >= p.entries {
				return nil, &OpError{Op: "insert socket into XSKMAP", Interface: x.ifname, Queue: x.queue,
					Err: fmt.Errorf("queue beyond the map's %d entries", p.entries)}
			}
			m = p.objs.Xsks
		}
		if err := insertSocket(m, x.ifname, x.queue, key, x.fd); err != nil {
			return nil, err
		}
	}

	s.start()
	return s, nil
}

// start readies the packet path once the sockets and rings exist: poll
// set, kick budget, and the first fill of the fill rings.
func (s *Source) start() {
	s.maxKicks = s.opts.RingSize/32 + 2
	for i := 0; i < s.nsock; i++ {
		s.pollFds[i] = unix.PollFd{Fd: int32(s.socks[i].fd), Events: unix.POLLIN}
	}
	s.service()
}

// Mode returns ModeZeroCopy or ModeCopy: how the socket(s) are bound.
func (s *Source) Mode() string { return s.mode }

// FallbackReason returns why Options.Mode "auto" ended in copy mode (the
// zero-copy bind error), or nil.
func (s *Source) FallbackReason() error { return s.fallback }

// XDPMode returns how the redirect program is attached (XDPModeDriver or
// XDPModeGeneric), or XDPModeNone when Options.XSKMap was given.
func (s *Source) XDPMode() string { return s.xdpMode }

// BusyPoll reports whether busy polling is on, and if it was asked for but
// refused, why.
func (s *Source) BusyPoll() (bool, error) {
	if s.busy || !s.opts.BusyPoll {
		return s.busy, nil
	}
	for i := 0; i < s.nsock; i++ {
		if s.socks[i].busyErr != nil {
			return false, s.socks[i].busyErr
		}
	}
	return false, nil
}

// Bridge reports whether the Source is a bridge.
func (s *Source) Bridge() bool { return s.bridge }

// Side returns 0 when p, a packet of a batch not yet given back, arrived
// on Options.Interface, 1 when it arrived on PeerInterface, and -1 when
// its frame is not lent out.
func (s *Source) Side(p *packet.Packet) int {
	idx, ok := s.u.index(p.Handle)
	if !ok || s.u.loc(idx) != locHeld {
		return -1
	}
	return int(s.u.side(idx))
}

// Frames says where the UMEM frames are. Call it from the Source's
// goroutine.
func (s *Source) Frames() FrameCounts { return s.u.counts() }

// Stats returns the summary counters (see the package doc for what each
// field includes). Safe from any goroutine.
func (s *Source) Stats() capture.Stats { return s.Counters().Stats }

// Counters returns all counters, reading the kernel's XDP_STATISTICS of
// each socket. Safe from any goroutine.
func (s *Source) Counters() Counters {
	c := Counters{
		Forwarded:    s.ctr.forwarded.Load(),
		VerdictDrops: s.ctr.verdictDrops.Load(),
		TxRingFull:   s.ctr.txRingFull.Load(),
		TxErrors:     s.ctr.txErrors.Load(),
		RxWakeups:    s.ctr.rxWakeups.Load(),
		TxWakeups:    s.ctr.txWakeups.Load(),
		Polls:        s.ctr.polls.Load(),
		BadDescs:     s.ctr.badDescs.Load(),
		BadDone:      s.ctr.badDone.Load(),
	}
	c.Packets = s.ctr.packets.Load()
	c.Bytes = s.ctr.bytes.Load()
	s.statsMu.Lock()
	if s.closed {
		c.Sockets = append([]SocketStats(nil), s.final...)
	} else {
		c.Sockets = s.kernelStats()
	}
	s.statsMu.Unlock()
	c.InvalidDrops = c.BadDescs
	injected := s.ctr.injected.Load()
	var fwdLost, invalid uint64
	failed := s.ctr.injectFailed.Load()
	c.InjectDrops = failed
	for i, k := range c.Sockets {
		c.TxDeviceDrops += k.TxDeviceDrops
		c.TxLost += k.TxLost
		c.KernelDrops += k.RxDropped + k.RxRingFull
		c.InvalidDrops += k.RxInvalidDescs
		invalid += k.TxInvalidDescs
		c.FillRingEmpty += k.RxFillRingEmpty
		c.TxRingEmpty += k.TxRingEmpty
		own := k.OwnDeviceDrops + s.ctr.sock[i].lostOwn.Load()
		c.InjectDrops += own
		injected -= min(injected, own)
		fwdLost += k.TxDeviceDrops - k.OwnDeviceDrops + s.ctr.sock[i].lostFwd.Load()
	}
	// An invalid TX descriptor cannot be told apart; it is counted as a
	// forwarded frame lost (this package never writes one).
	fwdLost += invalid
	c.Forwarded -= min(c.Forwarded, fwdLost)
	c.Injected = injected
	c.TxDrops = c.TxRingFull + c.TxDeviceDrops + c.TxLost + invalid + failed
	return c
}

// kernelStats returns each socket's counters with its XDP_STATISTICS
// (statsMu held). A failed read leaves the kernel counters zero; it cannot
// fail on a bound socket.
func (s *Source) kernelStats() []SocketStats {
	out := make([]SocketStats, 0, s.nsock)
	for i := 0; i < s.nsock; i++ {
		x := &s.socks[i]
		var st xdpStatistics
		if x.fd >= 0 {
			st, _ = readStatistics(x.fd)
		}
		sc := &s.ctr.sock[i]
		out = append(out, SocketStats{
			Interface: x.ifname, Queue: x.queue,
			RxPackets: sc.rxPackets.Load(), TxFrames: sc.txFrames.Load(), TxDeviceDrops: sc.txDeviceDrops.Load(),
			OwnDeviceDrops: sc.ownDeviceDrops.Load(), TxLost: sc.lostOwn.Load() + sc.lostFwd.Load(),
			RxDropped: st.RxDropped, RxInvalidDescs: st.RxInvalidDescs, TxInvalidDescs: st.TxInvalidDescs,
			RxRingFull: st.RxRingFull, RxFillRingEmpty: st.RxFillRingEmptyDescs, TxRingEmpty: st.TxRingEmptyDescs,
		})
	}
	return out
}

// Close gives the kernel up to DrainTimeout to send what the TX rings
// still hold (frames it never takes are counted in TxLost), closes the
// sockets, detaches the program if this was its last user, and unmaps the
// UMEM. Packets of batches not given back must not be touched afterwards.
// Close must not run concurrently with Next or Done.
func (s *Source) Close() error {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.closed {
		return nil
	}
	for i := 0; i < s.nsock; i++ {
		s.drainTx(&s.socks[i], DrainTimeout)
	}
	s.final = s.kernelStats()
	s.closed = true
	return s.teardown()
}

func (s *Source) teardown() error {
	var errs []error
	for i := range s.socks {
		if s.socks[i].fd >= 0 || s.socks[i].maps != nil {
			if err := s.socks[i].close(); err != nil {
				errs = append(errs, &OpError{Op: "close socket", Interface: s.socks[i].ifname, Queue: s.socks[i].queue, Err: err})
			}
		}
	}
	for i, p := range s.progs {
		if p != nil {
			if err := p.release(); err != nil {
				errs = append(errs, err)
			}
			s.progs[i] = nil
		}
	}
	if s.u != nil && s.u.mem != nil {
		if err := unix.Munmap(s.u.mem); err != nil {
			errs = append(errs, &OpError{Op: "munmap UMEM", Interface: s.opts.Interface, Queue: s.opts.QueueID, Err: err})
		}
		s.u.mem = nil
	}
	return errors.Join(errs...)
}
