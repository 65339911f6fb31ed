// Package nfqueue is the inline capture source for netfilter queues
// (iptables -j NFQUEUE): the kernel holds each queued packet until Vigil
// gives it a verdict. It speaks nfnetlink_queue over a raw NETLINK_NETFILTER
// socket, with no C library.
//
// One Source binds one queue number; open one per worker, e.g. for every
// queue of ParseQueues("0:3") with the rule
//
//	iptables -A FORWARD -j NFQUEUE --queue-balance 0:3
//
// (the kernel spreads flows over the queues by a symmetric hash of the IP
// addresses, so both directions of a connection reach the same worker).
//
// # Verdicts
//
// Done gives every packet of the batch a verdict from Packet.Verdict:
//
//   - VerdictForward: by Options.VerdictMode. "accept" lets the packet
//     continue with the next netfilter hook (NF_ACCEPT). "repeat" sets the
//     mark (mark = old &^ Mask | Mark) and runs the same hook again
//     (NF_REPEAT), so the rest of the chain applies; the queueing rule must
//     then skip marked packets, or they would come back forever:
//
//     iptables -A FORWARD -m mark ! --mark 0x1/0x1 -j NFQUEUE --queue-num 0
//
//     "route" hands the packet to another queue, Options.RouteQueue
//     (NF_QUEUE), for a further program to judge.
//
//   - VerdictDrop and VerdictReject: NF_DROP. The reset or ICMP error of
//     a reject is a packet of its own, which the engine builds (package
//     reject) and sends with Inject before Done.
//
//   - VerdictBypass: as Forward, and the mark additionally becomes
//     mark &^ BypassMask | BypassMark. With connmark the ruleset can then
//     stop queueing the rest of the flow:
//
//     iptables -t mangle -A PREROUTING -j CONNMARK --restore-mark --mask 0x2
//     iptables -A FORWARD -m mark --mark 0x2/0x2 -j ACCEPT
//     iptables -A FORWARD -j NFQUEUE --queue-num 0
//     iptables -t mangle -A POSTROUTING -m mark --mark 0x2/0x2 -j CONNMARK --save-mark --mask 0x2
//
// A packet whose bytes the engine rewrote (packet.FlagModified) goes back
// with its new payload (Packet.Data, checksums already fixed by the
// engine). Runs of equal verdicts go out as one NFQNL_MSG_VERDICT_BATCH
// message where that is safe (the batch is the oldest one lent out, so
// "every id up to N" means exactly the run), single verdicts otherwise; all
// of a batch's verdicts leave in one write (more only when they exceed the
// socket's send buffer).
//
// # Loss counting
//
// The kernel numbers the packets of a queue 1, 2, 3, ... (the packet id)
// when it is about to put them into the socket, and puts them there in
// order. What happens to a packet it cannot queue (nfnetlink_queue.c,
// __nfqnl_enqueue_packet, Linux 3.x to 6.18):
//
//   - queue full (MaxLen packets waiting for a verdict): no id; dropped and
//     counted in the proc table's queue_dropped, or with fail-open accepted
//     and counted nowhere;
//   - socket buffer full: the id is used; dropped and counted in
//     user_dropped, or with fail-open accepted and counted nowhere;
//   - either way the receiver only sees ENOBUFS, once for any number of
//     packets (Counters.ENOBUFS).
//
// So the source counts every lost packet exactly from the proc table
// (/proc/net/netfilter/nfnetlink_queue: queue_dropped + user_dropped, in
// Stats().KernelDrops) and every packet let through uninspected from the
// ids missing between the packets it receives, plus those numbered after
// the last one received and not waiting in the socket (Stats().Uninspected,
// Counters.IDGaps). A packet fail-open accepts over the queue length limit
// has no id and no counter, so with FailOpen the source lifts that limit
// (to 2^32-1): the socket receive buffer, RecvBuffer, bounds what waits,
// and everything over it is numbered. Without /proc the missing ids are
// the KernelDrops. Sent through the NFQUEUE rule = Packets + InvalidDrops
// (malformed messages) + KernelDrops + Uninspected, exactly, except for
// packets the kernel could not even build a message for (out of memory)
// or dropped because their conntrack entry was dying, which it counts
// nowhere.
//
// # Ownership
//
// Next receives into buffers the Source owns (recvmmsg, several messages per
// call) and points Packet.Data at each packet's payload inside them, in
// place. The packets and their bytes stay the caller's until it passes the
// batch to Done; the engine may rewrite Data in place meanwhile (and set
// FlagModified). Several batches may be out at once; each holds its buffer.
// The kernel keeps every packet of a batch queued until Done; packets still
// out when the Source is closed are dropped by the kernel.
//
// # Housekeeping
//
// Next waits at most Options.PollTimeout for traffic (default
// DefaultPollTimeout), then returns nil with an empty batch, so a worker
// gets to run flow timeouts and stats even on an idle queue. Close may be
// called from another goroutine; a waiting Next then returns ErrClosed.
//
// # Namespaces
//
// The netlink socket and Inject's raw sockets belong to the network
// namespace of the thread that calls Open. To serve a queue in another namespace, lock the OS thread,
// setns(CLONE_NEWNET) into it, Open, and setns back.
package nfqueue

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// VerdictMode says what VerdictForward means (see the package doc).
type VerdictMode string

// Verdict modes.
const (
	ModeAccept VerdictMode = "accept" // NF_ACCEPT
	ModeRepeat VerdictMode = "repeat" // NF_REPEAT with Mark set
	ModeRoute  VerdictMode = "route"  // NF_QUEUE to RouteQueue
)

// Defaults.
const (
	// DefaultPollTimeout is how long Next waits on an idle queue before it
	// returns an empty batch, when Options.PollTimeout is 0.
	DefaultPollTimeout = 100 * time.Millisecond
	// DefaultRecvBatch is how many messages one recvmmsg call takes at
	// most, when Options.RecvBatch is 0.
	DefaultRecvBatch = 64

	msgOverhead  = 1024      // receive slot room for headers and attributes besides the payload
	maxSendChunk = 256 << 10 // verdict bytes per write at most
	wantSndBuf   = 1 << 20
)

// Options configure a Source. The zero value binds queue 0 in accept mode.
type Options struct {
	// Queue is the queue number to bind (iptables --queue-num).
	Queue uint16
	// MaxLen is how many packets the kernel holds waiting for a verdict
	// before it drops further ones (NFQA_CFG_QUEUE_MAXLEN). 0 keeps the
	// kernel default, 1024. With FailOpen it is not used: see FailOpen.
	MaxLen uint32
	// CopyRange is how many bytes of each packet are copied to user space;
	// 0 or above MaxCopyRange means MaxCopyRange. Shorter packets arrive
	// truncated (Packet.WireLen tells the real length) but are forwarded
	// whole.
	CopyRange uint32
	// FailOpen makes the kernel accept packets it cannot queue instead of
	// dropping them (NFQA_CFG_F_FAIL_OPEN); Stats().Uninspected counts
	// them (see "Loss counting" in the package doc). The kernel counts
	// and numbers none of the packets it accepts over the queue length
	// limit, so with FailOpen the source sets that limit to its maximum
	// and MaxLen is not used: the socket receive buffer (RecvBuffer; size
	// it for the backlog to hold) is the limit, and a packet that does not
	// fit consumes a packet id, which the source sees missing. In route mode FailOpen also sets
	// NF_VERDICT_FLAG_QUEUE_BYPASS, so a missing reader on RouteQueue does
	// not drop routed packets.
	FailOpen bool
	// GSO asks for GSO super-packets whole (NFQA_CFG_F_GSO) instead of the
	// kernel segmenting them before queueing, which is costly and drops
	// the whole super-packet if it fails. Packets may then exceed the MTU
	// and carry SkbCsumNotReady (Meta.SkbInfo).
	GSO bool
	// RecvBuffer is the socket receive buffer in bytes. It is set with
	// SO_RCVBUFFORCE (root, CAP_NET_ADMIN: above net.core.rmem_max), falling
	// back to SO_RCVBUF. 0 keeps the system default. A small buffer
	// overflows under load: the kernel then drops (KernelDrops).
	RecvBuffer int
	// VerdictMode is what VerdictForward does: ModeAccept (default),
	// ModeRepeat or ModeRoute.
	VerdictMode VerdictMode
	// Mark and Mask set the packet mark on forwarded packets:
	// mark = old &^ Mask | Mark. Repeat mode needs them (default 1/1, as
	// Suricata); accept and route mode apply them when Mask is nonzero.
	// Mask 0 with a nonzero Mark means Mask = Mark. Mark may not have bits
	// outside Mask.
	Mark, Mask uint32
	// BypassMark and BypassMask are applied on top on VerdictBypass, so the
	// ruleset can skip the rest of the flow with connmark (package doc).
	// Both 0: bypass only forwards. BypassMask 0 means BypassMask =
	// BypassMark.
	BypassMark, BypassMask uint32
	// RouteQueue is the queue that forwarded packets are handed to in
	// route mode ("route to another queue"). A nonzero RouteQueue turns
	// accept mode (or an empty VerdictMode) into route mode; routing to
	// queue 0 needs VerdictMode ModeRoute. It must differ from Queue, and
	// conflicts with repeat mode.
	RouteQueue uint16
	// PollTimeout bounds how long Next waits on an idle queue; it then
	// returns nil with an empty batch. 0 means DefaultPollTimeout; a
	// negative value waits until traffic or Close.
	PollTimeout time.Duration
	// RecvBatch is how many messages one recvmmsg call takes at most (also
	// capped by the batch size); 0 means DefaultRecvBatch. Each slot holds
	// CopyRange bytes plus headers.
	RecvBatch int
}

func (o Options) normalize() (Options, error) {
	bad := func(format string, a ...any) (Options, error) {
		return o, &OpError{Queue: o.Queue, Op: "options", Err: fmt.Errorf("%w: "+format, append([]any{ErrOptions}, a...)...)}
	}
	if o.VerdictMode == "" || (o.VerdictMode == ModeAccept && o.RouteQueue != 0) {
		o.VerdictMode = ModeAccept
		if o.RouteQueue != 0 {
			o.VerdictMode = ModeRoute
		}
	}
	switch o.VerdictMode {
	case ModeAccept, ModeRoute:
	case ModeRepeat:
		if o.Mark == 0 && o.Mask == 0 {
			o.Mark, o.Mask = 1, 1
		}
		if o.Mark == 0 {
			return bad("repeat mode needs a nonzero Mark: the queueing rule must skip packets that carry it, or they loop")
		}
	default:
		return bad("VerdictMode %q: want %q, %q or %q", o.VerdictMode, ModeAccept, ModeRepeat, ModeRoute)
	}
	if o.Mask == 0 {
		o.Mask = o.Mark
	}
	if o.Mark&^o.Mask != 0 {
		return bad("Mark %#x has bits outside Mask %#x", o.Mark, o.Mask)
	}
	if o.BypassMask == 0 {
		o.BypassMask = o.BypassMark
	}
	if o.BypassMark&^o.BypassMask != 0 {
		return bad("BypassMark %#x has bits outside BypassMask %#x", o.BypassMark, o.BypassMask)
	}
	if o.VerdictMode == ModeRepeat && o.RouteQueue != 0 {
		return bad("RouteQueue %d set in repeat mode: a packet is either repeated or routed", o.RouteQueue)
	}
	if o.VerdictMode == ModeRoute && o.RouteQueue == o.Queue {
		return bad("RouteQueue %d is the queue itself", o.RouteQueue)
	}
	if o.CopyRange == 0 || o.CopyRange > MaxCopyRange {
		o.CopyRange = MaxCopyRange
	}
	if o.RecvBuffer < 0 {
		return bad("RecvBuffer %d is negative", o.RecvBuffer)
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = DefaultPollTimeout
	}
	if o.RecvBatch <= 0 {
		o.RecvBatch = DefaultRecvBatch
	}
	if o.RecvBatch > 1024 {
		o.RecvBatch = 1024
	}
	return o, nil
}

// Meta is what the kernel reported about a queued packet besides its bytes.
type Meta struct {
	ID         uint32 // packet id (Packet.Handle)
	HWProtocol uint16 // EtherType of the payload: 0x0800 IPv4, 0x86dd IPv6
	Hook       uint8  // netfilter hook the packet was queued from (Hook*)
	Mark       uint32 // packet mark when queued
	InDev      uint32 // input interface index, 0 if none
	OutDev     uint32 // output interface index, 0 if none
	PhysInDev  uint32 // bridge port the packet came in on, 0 if none
	PhysOutDev uint32 // bridge port it goes out on, 0 if none
	SkbInfo    uint32 // Skb* bits
	CapLen     uint32 // original length when the payload was truncated, else 0
}

// Counters are a Source's own counters, cumulative since Open. Every packet
// handed out by Next lands in exactly one of Accepted, Dropped, Repeated,
// Routed and Bypassed when its batch comes back through Done.
type Counters struct {
	Received uint64 // packets handed out by Next
	Bytes    uint64 // their captured bytes

	Accepted uint64 // forwarded with NF_ACCEPT
	Dropped  uint64 // VerdictDrop / VerdictReject (or an unknown verdict): NF_DROP
	Repeated uint64 // forwarded with NF_REPEAT and the mark
	Routed   uint64 // forwarded with NF_QUEUE to RouteQueue
	Bypassed uint64 // VerdictBypass (forwarded per mode, with the bypass mark)
	Modified uint64 // verdicts that carried a rewritten payload
	// ModifyFailed counts rewritten packets whose new payload could not be
	// sent (captured truncated, or longer than MaxCopyRange); they got
	// their verdict without it.
	ModifyFailed uint64

	SingleVerdicts uint64 // NFQNL_MSG_VERDICT messages sent
	BatchVerdicts  uint64 // NFQNL_MSG_VERDICT_BATCH messages sent
	Writes         uint64 // write calls that carried verdicts
	Recvs          uint64 // recvmmsg calls that returned messages

	// VerdictErrors counts packets whose verdict could not be written
	// (the kernel keeps them queued until the socket closes, then drops
	// them).
	VerdictErrors uint64
	// VerdictNacks counts error replies of the kernel to verdict messages
	// (unknown packet id: e.g. the interface went down and the kernel
	// dropped its queued packets).
	VerdictNacks uint64
	ENOBUFS      uint64 // receive overruns: the kernel dropped messages for lack of socket buffer
	ParseErrors  uint64 // malformed or unexpected messages
	// InvalidDrops counts packet messages that could not be turned into a
	// packet (no payload, malformed) but had an id: they were dropped.
	InvalidDrops uint64
	Truncated    uint64 // packets captured shorter than they are (CopyRange)

	// IDGaps counts packet ids the kernel numbered but never delivered:
	// packets it could not put into the socket buffer (dropped, or with
	// FailOpen accepted uninspected). See "Loss counting".
	IDGaps uint64

	Injected      uint64 // frames sent by Inject
	InjectedBytes uint64 // their bytes
	InjectErrors  uint64 // frames Inject could not send (also Stats().TxDrops)
}

type counters struct {
	received, bytes                                   atomic.Uint64
	accepted, dropped, repeated, routed, bypassed     atomic.Uint64
	modified, modifyFailed                            atomic.Uint64
	single, batch, writes, recvs                      atomic.Uint64
	verdictErrors, verdictNacks, enobufs, parseErrors atomic.Uint64
	invalidDrops, truncated                           atomic.Uint64
	injected, injectedBytes, injectErrors             atomic.Uint64
}

// rbuf is one receive buffer: RecvBatch slots of slotSize bytes, each the
// target of one recvmmsg message.
type rbuf struct {
	data []byte
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	slot int
	n    int // datagrams received by the last recvmmsg
	refs int // batches holding packets that point into data
}

func newRbuf(slots, slot int) *rbuf {
	r := &rbuf{
		data: make([]byte, slots*slot),
		hdrs: make([]unix.Mmsghdr, slots),
		iovs: make([]unix.Iovec, slots),
		slot: slot,
	}
	for i := range r.hdrs {
		r.iovs[i].Base = &r.data[i*slot]
		r.iovs[i].SetLen(slot)
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}
	return r
}

// datagram returns the bytes of the i-th received datagram.
func (r *rbuf) datagram(i int) []byte {
	n := int(r.hdrs[i].Len)
	if n > r.slot {
		n = r.slot
	}
	off := i * r.slot
	return r.data[off : off+n : off+n]
}

// lease records a batch lent out by Next: the buffer its packets point
// into, and per packet the metadata and (in Done) the verdict.
type lease struct {
	b    *packet.Batch
	buf  *rbuf
	n    int
	meta []Meta
	vd   []vdec
}

// errIdle: the poll timeout passed without traffic.
var errIdle = errors.New("idle")

// Source is a netfilter queue bound to one queue number. It implements
// capture.Source. Next, Done and Meta belong to one goroutine; Stats,
// Counters and Close may be called from any.
//
// Packets get Data (the payload, an IPv4 or IPv6 packet, in the receive
// buffer), WireLen (the packet's length, above len(Data) when truncated by
// CopyRange), TimeNs (the kernel's receive timestamp when it has one, else
// the time of the read), LinkType packet.LinkRaw, Num (1-based count of
// packets handed out), Queue, Handle (the kernel's packet id) and Origin
// OriginWire. Meta has the rest.
type Source struct {
	opts   Options
	queue  uint16
	portid uint32
	file   *os.File
	rc     syscall.RawConn

	slotSize int
	bufs     []*rbuf
	cur      *rbuf // buffer holding the unread datagrams
	curMsg   int   // next datagram of cur to read
	curOff   int   // offset of the next message inside it
	lent     []*lease
	free     []*lease
	num      uint64
	now      int64 // time of the last read, for packets without a timestamp

	sbuf     []byte // verdict messages waiting to be written
	sbufPkts int    // packets they cover
	sendMax  int
	seq      uint32

	// recvmmsg/write arguments and results, for the RawConn callbacks
	// (method values made once, so calls allocate nothing).
	rcvHdrs []unix.Mmsghdr
	rcvN    int
	rcvErr  unix.Errno
	sndErr  unix.Errno
	tryFn   func(uintptr) bool
	waitFn  func(uintptr) bool
	sendFn  func(uintptr) bool

	ctr    counters
	closed atomic.Bool

	// Packet id accounting (see "Loss counting"), guarded by acctMu: fill
	// updates it once per call, flush holds it across the verdict write
	// and the update of verdicted, Stats and Close read it together with
	// the proc table, so they never see the kernel's queue and these
	// counts at different moments.
	acctMu     sync.Mutex
	idKnown    bool   // lastID is the kernel's id_sequence (else the first id sets it)
	lastID     uint32 // id of the last packet message received
	idGaps     uint64 // ids numbered but never received before lastID
	delivered  uint64 // packet messages with an id received
	verdicted  uint64 // packets whose verdict the kernel took
	closeDrops uint64 // packets left in the socket at Close (dropped by the kernel)
	closeTrail uint64 // FailOpen: packets passed after the last one received, at Close
	// steadySeq and steadyTrail remember the last steady reading that
	// counted packets passed after the last one received: the ids
	// (steadySeq-steadyTrail, steadySeq]. Until the next steady reading
	// those still beyond lastID stay counted, so the total does not dip.
	steadySeq   uint32
	steadyTrail uint64

	raw rawSockets // Inject's sockets

	procMu   sync.Mutex
	procFd   int
	procBuf  []byte
	procLast procQueue
}

// Open binds queue opts.Queue in the calling thread's network namespace and
// configures it (copy mode, length, flags). It fails when another socket
// holds the queue (EPERM), the process lacks CAP_NET_ADMIN, or the kernel
// lacks nfnetlink_queue or a requested flag.
func Open(opts Options) (*Source, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	q := o.Queue
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, &OpError{Queue: q, Op: "socket(AF_NETLINK, NETLINK_NETFILTER)", Err: err}
	}
	procFd := -1
	owned := false
	defer func() {
		if !owned {
			unix.Close(fd)
			if procFd >= 0 {
				unix.Close(procFd)
			}
		}
	}()
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, &OpError{Queue: q, Op: "bind netlink socket", Err: err}
	}
	// Error replies then carry only the header of the failed message, not
	// a whole rewritten payload. Old kernels lack it; nothing depends on it.
	_ = unix.SetsockoptInt(fd, solNetlink, netlinkCapAck, 1)
	if o.RecvBuffer > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, o.RecvBuffer); err != nil {
			if err2 := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.RecvBuffer); err2 != nil {
				return nil, &OpError{Queue: q, Op: fmt.Sprintf("setsockopt SO_RCVBUF %d", o.RecvBuffer), Err: err2}
			}
		}
	}
	// A large send buffer lets one write carry a whole batch of verdicts.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, wantSndBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, wantSndBuf)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, &OpError{Queue: q, Op: "getsockname", Err: err}
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return nil, &OpError{Queue: q, Op: "getsockname", Err: unix.EAFNOSUPPORT}
	}
	if fd2, err := unix.Open(procPath, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		procFd = fd2
	}

	var flags, mask uint32
	if o.FailOpen {
		flags |= cfgFFailOpen
		mask |= cfgFFailOpen
	}
	if o.GSO {
		flags |= cfgFGSO
		mask |= cfgFGSO
	}
	const cfgSeq = 1
	maxLen := o.MaxLen
	if o.FailOpen {
		// Over this limit the kernel accepts packets without numbering
		// or counting them; over the socket buffer it numbers them.
		maxLen = ^uint32(0)
	}
	cfg := appendConfig(nil, cfgSeq, q, o.CopyRange, maxLen, flags, mask)
	if _, e := write(uintptr(fd), cfg); e != 0 {
		return nil, &OpError{Queue: q, Op: "send bind request", Err: e}
	}
	idSeq, err := checkBind(fd, cfgSeq, q, nl.Pid, procFd)
	if err != nil {
		return nil, err
	}
	s, err := newSource(fd, o, nl.Pid, procFd)
	owned = true // newSource owns fd and procFd now, also when it fails
	if err != nil {
		return nil, err
	}
	// A new queue instance numbers packets from 1: the ids the kernel
	// uses from now on follow idSeq (0 unless a packet came already).
	s.idKnown, s.lastID = true, idSeq
	s.raw.open(o) // in this thread's namespace, as the queue
	return s, nil
}

// checkBind finds out whether the bind request succeeded and returns the
// queue's id_sequence (the last packet id used). The kernel
// handles it inside our write, so an error reply is already queued on the
// socket when write returns; on success it sends nothing (we asked for no
// acknowledgement, which packets could overtake). The proc table then
// confirms the queue is ours.
func checkBind(fd int, seq uint32, q uint16, portid uint32, procFd int) (uint32, error) {
	var buf [512]byte
	n, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err == nil && n >= nlmsgHdrLen {
		msg, h, _, perr := nextMessage(buf[:n], 0)
		if perr == nil && h.Type == nlmsgError {
			code, req, ok := nlError(msg)
			if ok && code != 0 && (req.Seq == seq || req.Seq == 0) {
				e := unix.Errno(-code)
				op := "bind"
				switch e {
				case unix.EPERM:
					op = "bind: queue held by another socket, or CAP_NET_ADMIN missing"
				case unix.EOPNOTSUPP:
					op = "bind: kernel does not support the requested flags (fail-open, GSO)"
				case unix.EBUSY:
					op = "bind: queue already bound"
				}
				return 0, &OpError{Queue: q, Op: op, Err: e}
			}
		}
	} else if err != nil && err != unix.EAGAIN {
		return 0, &OpError{Queue: q, Op: "recvfrom (bind reply)", Err: err}
	}
	if procFd < 0 {
		return 0, nil
	}
	data, err := readAll(procFd, make([]byte, 0, 4096))
	if err != nil {
		return 0, &OpError{Queue: q, Op: "read " + procPath, Err: err}
	}
	pq, found := parseProcQueues(data, q)
	if !found {
		return 0, &OpError{Queue: q, Op: "bind: queue missing from " + procPath, Err: unix.ENOENT}
	}
	if pq.portid != portid {
		return 0, &OpError{Queue: q, Op: fmt.Sprintf("bind: queue held by netlink port %d, we are %d", pq.portid, portid), Err: unix.EBUSY}
	}
	return uint32(pq.idSequence), nil
}

// readAll reads a proc file from offset 0 into buf.
func readAll(fd int, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, cap(buf)+4096)...)[:len(buf)]
		}
		n, err := unix.Pread(fd, buf[len(buf):cap(buf)], int64(len(buf)))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// newSource wraps a configured socket. It takes ownership of fd and procFd
// (closing them on failure). Tests use it with a socketpair in place of the
// kernel.
func newSource(fd int, o Options, portid uint32, procFd int) (*Source, error) {
	s := &Source{opts: o, queue: o.Queue, portid: portid, procFd: procFd}
	s.raw.fd4, s.raw.fd6, s.raw.err4, s.raw.err6 = -1, -1, errNoRaw, errNoRaw
	sndbuf, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		sndbuf = 212992
	}
	maxMsg := verdictMsgLen(true, MaxCopyRange)
	s.sendMax = sndbuf - 512
	if s.sendMax > maxSendChunk {
		s.sendMax = maxSendChunk
	}
	if s.sendMax < maxMsg {
		s.sendMax = maxMsg
	}
	s.sbuf = make([]byte, 0, s.sendMax+maxMsg)
	s.slotSize = align4(int(o.CopyRange)+msgOverhead+7) &^ 7
	s.tryFn = s.recvTry
	s.waitFn = s.recvWait
	s.sendFn = s.sendOnce
	s.file = os.NewFile(uintptr(fd), fmt.Sprintf("nfqueue%d", o.Queue))
	if s.file == nil {
		unix.Close(fd)
		s.closeProc()
		return nil, &OpError{Queue: o.Queue, Op: "wrap socket", Err: unix.EBADF}
	}
	rc, err := s.file.SyscallConn()
	if err != nil {
		s.file.Close()
		s.closeProc()
		return nil, &OpError{Queue: o.Queue, Op: "wrap socket", Err: err}
	}
	s.rc = rc
	s.cur = newRbuf(o.RecvBatch, s.slotSize)
	s.bufs = append(s.bufs, s.cur)
	return s, nil
}

// Queue returns the queue number the source is bound to.
func (s *Source) Queue() uint16 { return s.queue }

func (s *Source) recvTry(fd uintptr) bool {
	s.rcvN, s.rcvErr = recvmmsg(fd, s.rcvHdrs)
	return true
}

func (s *Source) recvWait(fd uintptr) bool {
	s.rcvN, s.rcvErr = recvmmsg(fd, s.rcvHdrs)
	return s.rcvErr != unix.EAGAIN
}

func (s *Source) sendOnce(fd uintptr) bool {
	_, s.sndErr = write(fd, s.sbuf)
	return true
}

// Next fills b with the packets of the next messages from the kernel,
// waiting up to PollTimeout for the first one. It returns nil with an empty
// batch when the queue stayed idle that long, ErrClosed after Close, and an
// *OpError when receiving fails. Receive overruns (ENOBUFS: the kernel
// dropped messages) are counted, not returned. b must not hold packets that
// have not been through Done.
func (s *Source) Next(b *packet.Batch) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.leaseOf(b) >= 0 {
		return &OpError{Queue: s.queue, Op: "next", Err: ErrBatchOutstanding}
	}
	b.Reset()
	if b.Cap() == 0 {
		return nil
	}
	var deadline time.Time
	for {
		if s.cur != nil && s.curMsg < s.cur.n {
			n := s.fill(b)
			if len(s.sbuf) > 0 {
				s.flush()
			}
			if n > 0 {
				return nil
			}
			continue
		}
		vlen := s.opts.RecvBatch
		if b.Cap() < vlen {
			vlen = b.Cap()
		}
		err := s.recv(s.pickBuffer(), vlen, &deadline)
		switch {
		case err == nil:
		case err == errIdle:
			return nil
		case err == unix.ENOBUFS:
			s.ctr.enobufs.Add(1)
		default:
			return err
		}
	}
}

// pickBuffer returns a receive buffer no batch holds.
func (s *Source) pickBuffer() *rbuf {
	if s.cur != nil && s.cur.refs == 0 {
		return s.cur
	}
	for _, r := range s.bufs {
		if r.refs == 0 {
			return r
		}
	}
	r := newRbuf(s.opts.RecvBatch, s.slotSize)
	s.bufs = append(s.bufs, r)
	return r
}

// recv receives up to vlen datagrams into buf, waiting until deadline
// (set on the first wait of a Next call) when none is there.
func (s *Source) recv(buf *rbuf, vlen int, deadline *time.Time) error {
	s.rcvHdrs = buf.hdrs[:vlen]
	if err := s.rc.Read(s.tryFn); err != nil {
		return s.ioErr("recvmmsg", err)
	}
	if s.rcvErr == unix.EAGAIN {
		timed := s.opts.PollTimeout > 0
		if timed {
			if deadline.IsZero() {
				*deadline = time.Now().Add(s.opts.PollTimeout)
			}
			if err := s.file.SetReadDeadline(*deadline); err != nil {
				return s.ioErr("set read deadline", err)
			}
		}
		err := s.rc.Read(s.waitFn)
		if timed {
			_ = s.file.SetReadDeadline(time.Time{})
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return errIdle
			}
			return s.ioErr("recvmmsg", err)
		}
	}
	switch s.rcvErr {
	case 0:
	case unix.ENOBUFS:
		return unix.ENOBUFS
	default:
		return s.ioErr("recvmmsg", s.rcvErr)
	}
	buf.n = s.rcvN
	s.cur, s.curMsg, s.curOff = buf, 0, 0
	s.now = time.Now().UnixNano()
	s.ctr.recvs.Add(1)
	return nil
}

func (s *Source) ioErr(op string, err error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return &OpError{Queue: s.queue, Op: op, Err: err}
}

// fill turns the unread messages of s.cur into packets of b until b is full
// or the datagrams are used up, and returns how many it handed out.
func (s *Source) fill(b *packet.Batch) int {
	var l *lease
	if n := len(s.free); n > 0 {
		l, s.free = s.free[n-1], s.free[:n-1]
	} else {
		l = &lease{}
	}
	if cap(l.meta) < b.Cap() {
		l.meta = make([]Meta, b.Cap())
		l.vd = make([]vdec, b.Cap())
	}
	l.meta, l.vd = l.meta[:b.Cap()], l.vd[:b.Cap()]

	buf := s.cur
	n := 0
	var bytes, trunc, parseErr, invalid, nacks, overruns uint64
	var a pktAttrs
	ids := idTrack{last: s.lastID, known: s.idKnown}
	for n < b.Cap() && s.curMsg < buf.n {
		dg := buf.datagram(s.curMsg)
		if s.curOff >= len(dg) {
			s.curMsg++
			s.curOff = 0
			continue
		}
		msg, h, next, err := nextMessage(dg, s.curOff)
		s.curOff = next
		if err != nil && err != errMsgLen {
			parseErr++
			continue
		}
		switch h.Type {
		case typePacket:
			perr := parsePacket(msg, &a)
			if a.hasID && a.queue == s.queue {
				ids.see(a.id)
			}
			if err == nil && perr == nil && a.queue == s.queue {
				p := b.Slot(n)
				wire := len(a.payload)
				if int64(a.capLen) > int64(wire) {
					wire = int(a.capLen)
					trunc++
				}
				ts := s.now
				if a.hasTS {
					ts = int64(a.tsSec)*1e9 + int64(a.tsUsec)*1e3
				}
				s.num++
				*p = packet.Packet{
					Data:     a.payload,
					WireLen:  wire,
					TimeNs:   ts,
					LinkType: packet.LinkRaw,
					Num:      s.num,
					Queue:    s.queue,
					Handle:   uint64(a.id),
					Origin:   packet.OriginWire,
				}
				l.meta[n] = Meta{
					ID: a.id, HWProtocol: a.hwProto, Hook: a.hook, Mark: a.mark,
					InDev: a.inDev, OutDev: a.outDev, PhysInDev: a.physInDev, PhysOutDev: a.physOutDev,
					SkbInfo: a.skbInfo, CapLen: a.capLen,
				}
				bytes += uint64(len(a.payload))
				n++
				continue
			}
			parseErr++
			if a.hasID && a.queue == s.queue {
				// The kernel holds the packet; it must not wait forever.
				s.addVerdict(false, &vdec{code: nfDrop}, a.id, nil, 1)
				invalid++
			}
		case nlmsgError:
			code, _, ok := nlError(msg)
			if !ok {
				parseErr++
			} else if code != 0 {
				nacks++
			}
		case nlmsgOverrun:
			overruns++
		case nlmsgNoop, nlmsgDone:
		default:
			parseErr++
		}
	}
	if s.curMsg < buf.n && s.curOff >= len(buf.datagram(s.curMsg)) {
		s.curMsg++
		s.curOff = 0
	}
	if ids.delivered > 0 {
		s.acctMu.Lock()
		s.lastID, s.idKnown = ids.last, true
		s.idGaps += ids.gaps
		s.delivered += ids.delivered
		s.acctMu.Unlock()
	}
	if n > 0 {
		l.b, l.buf, l.n = b, buf, n
		buf.refs++
		s.lent = append(s.lent, l)
		b.SetLen(n)
	} else {
		s.free = append(s.free, l)
	}
	s.ctr.received.Add(uint64(n))
	s.ctr.bytes.Add(bytes)
	if trunc > 0 {
		s.ctr.truncated.Add(trunc)
	}
	if parseErr > 0 {
		s.ctr.parseErrors.Add(parseErr)
	}
	if invalid > 0 {
		s.ctr.invalidDrops.Add(invalid)
	}
	if nacks > 0 {
		s.ctr.verdictNacks.Add(nacks)
	}
	if overruns > 0 {
		s.ctr.enobufs.Add(overruns)
	}
	return n
}

// idTrack follows the packet ids of the messages one fill call reads.
type idTrack struct {
	last      uint32
	known     bool
	gaps      uint64
	delivered uint64
}

// see notes a packet message with id. The kernel numbers the packets of a
// queue 1, 2, 3, ... as it puts them into the socket, in order; an id
// missing before this one belongs to a packet it could not put there.
func (t *idTrack) see(id uint32) {
	if t.known {
		if d := id - t.last - 1; d < 1<<31 { // else a repeat: ignore
			t.gaps += uint64(d)
		}
	}
	t.last, t.known = id, true
	t.delivered++
}

func (s *Source) leaseOf(b *packet.Batch) int {
	for i, l := range s.lent {
		if l.b == b {
			return i
		}
	}
	return -1
}

// Meta returns the kernel's metadata of the i-th packet of b, a batch
// filled by Next and not yet returned with Done (the zero Meta otherwise).
func (s *Source) Meta(b *packet.Batch, i int) Meta {
	li := s.leaseOf(b)
	if li < 0 || i < 0 || i >= s.lent[li].n {
		return Meta{}
	}
	return s.lent[li].meta[i]
}

// Counters returns a snapshot of the source's counters.
func (s *Source) Counters() Counters {
	c := &s.ctr
	return Counters{
		Received: c.received.Load(), Bytes: c.bytes.Load(),
		Accepted: c.accepted.Load(), Dropped: c.dropped.Load(), Repeated: c.repeated.Load(),
		Routed: c.routed.Load(), Bypassed: c.bypassed.Load(),
		Modified: c.modified.Load(), ModifyFailed: c.modifyFailed.Load(),
		SingleVerdicts: c.single.Load(), BatchVerdicts: c.batch.Load(),
		Writes: c.writes.Load(), Recvs: c.recvs.Load(),
		VerdictErrors: c.verdictErrors.Load(), VerdictNacks: c.verdictNacks.Load(),
		ENOBUFS: c.enobufs.Load(), ParseErrors: c.parseErrors.Load(),
		InvalidDrops: c.invalidDrops.Load(), Truncated: c.truncated.Load(),
		IDGaps:   s.gaps(),
		Injected: c.injected.Load(), InjectedBytes: c.injectedBytes.Load(), InjectErrors: c.injectErrors.Load(),
	}
}

func (s *Source) gaps() uint64 {
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	return s.idGaps
}

// Stats returns the capture counters (see "Loss counting" in the package
// doc). KernelDrops is the kernel's count of packets it dropped instead of
// queueing (queue_dropped and user_dropped of
// /proc/net/netfilter/nfnetlink_queue, or the missing packet ids where the
// table cannot be read), plus the packets left unread in the socket at
// Close. Uninspected (FailOpen) counts the packets the kernel numbered and
// let through without delivering them. InvalidDrops counts malformed packet
// messages dropped and packets whose verdict could not be written; TxDrops
// the frames Inject could not send.
//
// Stats may run concurrently with Next and Done. Packets the kernel let
// through after the last one received are counted only from a steady
// reading of the queue (two readings of the proc table alike); while
// packets keep coming they are counted as soon as a later packet arrives.
func (s *Source) Stats() capture.Stats {
	c := &s.ctr
	st := capture.Stats{
		Packets:      c.received.Load(),
		Bytes:        c.bytes.Load(),
		Truncated:    c.truncated.Load(),
		InvalidDrops: c.invalidDrops.Load() + c.verdictErrors.Load(),
		TxDrops:      c.injectErrors.Load(),
	}
	s.acctMu.Lock()
	pq, live, steady := s.readProcSteady(2)
	trail := s.closeTrail
	if live {
		trail = 0
		switch {
		case steady:
			_, trail = s.unreadLocked(pq)
			s.steadySeq, s.steadyTrail = uint32(pq.idSequence), trail
		case s.steadyTrail > 0 && s.idKnown:
			// Not steady: keep the ids counted last time that are still
			// past the last packet received (the others are gaps or
			// were received since).
			if past := s.steadySeq - s.lastID; past < 1<<31 {
				trail = min(uint64(past), s.steadyTrail)
			}
		}
	}
	gaps, closeDrops := s.idGaps, s.closeDrops
	s.acctMu.Unlock()
	kd := pq.dropped + pq.userDropped
	if s.opts.FailOpen {
		st.Uninspected = gaps + trail
	} else if kd < gaps {
		kd = gaps // no proc table: the missing ids are the packets lost
	}
	st.KernelDrops = kd + closeDrops
	return st
}

// unreadLocked splits the packets the kernel numbered after the last one
// received (id_sequence - lastID) into those still in the socket buffer
// (queued, not yet delivered: the queue's count minus the packets received
// and not yet judged) and those it could not deliver.
func (s *Source) unreadLocked(pq procQueue) (inSocket, lost uint64) {
	if !s.idKnown {
		return 0, 0
	}
	after := uint32(pq.idSequence) - s.lastID
	if after >= 1<<31 {
		return 0, 0
	}
	held := s.delivered - s.verdicted
	if pq.waiting > held {
		inSocket = pq.waiting - held
	}
	if uint64(after) > inSocket {
		lost = uint64(after) - inSocket
	}
	return inSocket, lost
}

// readProcSteady reads the proc table until two readings agree on the
// queue's length and last id (at most tries+1 readings), so that no packet
// was queued while the line was printed. steady reports whether they did.
func (s *Source) readProcSteady(tries int) (pq procQueue, live, steady bool) {
	pq, live = s.readProc()
	for i := 0; live && i < tries; i++ {
		next, ok := s.readProc()
		if !ok {
			return pq, true, false
		}
		if next.waiting == pq.waiting && next.idSequence == pq.idSequence {
			return next, true, true
		}
		pq = next
	}
	return pq, live, false
}

// readProc returns the queue's line of the proc table and true, or the
// last one read and false when the table cannot be read now (after Close,
// or without /proc).
func (s *Source) readProc() (procQueue, bool) {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	if s.procFd < 0 {
		return s.procLast, false
	}
	data, err := readAll(s.procFd, s.procBuf)
	s.procBuf = data[:0]
	if err != nil {
		return s.procLast, false
	}
	pq, ok := parseProcQueues(data, s.queue)
	if !ok || pq.portid != s.portid {
		return s.procLast, false
	}
	s.procLast = pq
	return pq, true
}

func (s *Source) closeProc() {
	s.procMu.Lock()
	if s.procFd >= 0 {
		unix.Close(s.procFd)
		s.procFd = -1
	}
	s.procMu.Unlock()
}

// Close unbinds the queue and closes the socket; the kernel drops the
// packets still waiting for a verdict (also those of batches not yet
// returned with Done). A Next waiting in another goroutine returns
// ErrClosed. Stats keeps reporting the last values. Close is idempotent.
//
// The packets still in the socket buffer, which the kernel drops then, are
// counted in KernelDrops (and, with FailOpen, packets it let through after
// the last one received in Uninspected), from a last reading of the proc
// table; packets that arrive while Close runs are not counted.
func (s *Source) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.acctMu.Lock()
	if pq, live, _ := s.readProcSteady(4); live { // final kernel counts
		s.closeDrops, s.closeTrail = s.unreadLocked(pq)
	}
	s.acctMu.Unlock()
	s.closeProc()
	s.raw.close()
	if err := s.file.Close(); err != nil {
		return &OpError{Queue: s.queue, Op: "close", Err: err}
	}
	return nil
}

var _ capture.Source = (*Source)(nil)
