//go:build dpdk

package dpdk

/*
#include <stdint.h>
#include "vigil_dpdk.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Burst limits.
const (
	DefaultBurst = packet.DefaultBatchSize
	MaxBurst     = 1024
)

// Options open one Source: one rx queue of one port.
type Options struct {
	// Port is the device name ("net_pcap0", "0000:3b:00.0") or decimal
	// port id. If ConfigurePort has not set the port up, Open does, with
	// one queue pair and RxDesc, TxDesc and Promisc below; such a port is
	// closed when its last Source closes.
	Port string
	// Queue is the rx queue this Source receives on (and, in IPS mode, the
	// tx queue of PeerPort it transmits on).
	Queue int
	// BurstSize is the most packets one rte_eth_rx_burst asks for (default
	// DefaultBurst, at most MaxBurst); a batch smaller than it limits the
	// burst to its capacity.
	BurstSize int
	// RxDesc, TxDesc and Promisc configure a port Open sets up itself
	// (PeerPort too); for a port already configured they must be zero
	// (false) or agree with its configuration.
	RxDesc, TxDesc int
	Promisc        bool
	// PeerPort turns on IPS mode: Done transmits packets whose verdict is
	// VerdictForward or VerdictBypass on this port's tx queue Queue and
	// frees the others. Empty: IDS mode, Done frees every packet.
	PeerPort string
}

// IPSStats count what Done did with packets in IPS mode.
type IPSStats struct {
	Forwarded    uint64 // transmitted on the peer port (rte_eth_tx_burst took them)
	VerdictDrops uint64 // not forwarded: VerdictDrop or VerdictReject
	TxDrops      uint64 // forwarded but the peer's tx queue did not take them: freed
}

// lease is a batch lent out by Next and the number of slots filled.
type lease struct {
	b *packet.Batch
	n int
}

// Source receives packets from one rx queue of a DPDK port. It implements
// capture.Source; one goroutine uses it at a time, and a batch is used
// with one Source only. Up to four batches may be out at once without
// allocating.
//
// Packets: Data is the frame inside its mbuf (rte_pktmbuf_mtod, no copy),
// Handle is the struct rte_mbuf pointer, WireLen is the mbuf's pkt_len,
// LinkType is Ethernet, TimeNs is one CLOCK_REALTIME reading per burst,
// Num counts packets 1, 2, ... per Source, Queue is Options.Queue, Origin
// OriginWire.
//
// Ownership: the mbufs are the Source's from rte_eth_rx_burst until Done,
// which frees them (rte_pktmbuf_free_bulk) or, in IPS mode, passes the
// forwarded ones to the peer port's tx queue (the driver frees them after
// sending). Data must not be used after Done; the bytes may be modified in
// place before Done (inline normalization), and those changes are sent.
//
// Multi-segment mbufs (frames longer than the pool's data room, when the
// driver chains them) are not linearized: the Source frees them at receive
// time and counts them in Stats().InvalidDrops. Size the pool's DataRoom to
// the MTU to avoid them.
type Source struct {
	port  *Port
	peer  *Port
	queue int
	burst int

	q    *C.struct_vigil_queue
	pkts []C.struct_vigil_pkt // over q.pkts (C memory)
	fwd  []C.uintptr_t        // over q.fwd
	rel  []C.uintptr_t        // over q.rel

	lent   []lease
	num    uint64
	stats  capture.Stats
	ips    IPSStats
	inj    InjectStats
	closed bool
}

var _ capture.Source = (*Source)(nil)

// Open opens a Source on opts.Port's rx queue opts.Queue.
func Open(opts Options) (*Source, error) {
	if err := ealReady(); err != nil {
		return nil, err
	}
	burst := opts.BurstSize
	if burst == 0 {
		burst = DefaultBurst
	}
	if burst < 1 || burst > MaxBurst {
		return nil, fmt.Errorf("dpdk: port %s: burst size %d outside 1..%d", opts.Port, burst, MaxBurst)
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()

	port, err := openPortLocked(opts.Port, opts)
	if err != nil {
		return nil, err
	}
	s := &Source{port: port, queue: opts.Queue, burst: burst}
	// On failure, release what this call took.
	fail := func(err error) (*Source, error) {
		s.releaseLocked()
		return nil, err
	}
	if opts.Queue < 0 || opts.Queue >= port.queues {
		return fail(fmt.Errorf("dpdk: port %s: queue %d outside 0..%d", port.name, opts.Queue, port.queues-1))
	}
	if port.rxUsers[opts.Queue] != nil {
		return fail(fmt.Errorf("dpdk: port %s rx queue %d: %w", port.name, opts.Queue, ErrQueueInUse))
	}
	port.rxUsers[opts.Queue] = s
	peerID, hasPeer := uint16(0), 0
	if opts.PeerPort != "" {
		peer, err := openPortLocked(opts.PeerPort, opts)
		if err != nil {
			return fail(err)
		}
		if opts.Queue >= peer.queues {
			if peer.usersLocked() == 0 && peer.implicit {
				peer.closeLocked()
			}
			return fail(fmt.Errorf("dpdk: peer port %s has %d queues, no tx queue %d for port %s", peer.name, peer.queues, opts.Queue, port.name))
		}
		if peer.txUsers[opts.Queue] != nil {
			if peer.usersLocked() == 0 && peer.implicit {
				peer.closeLocked()
			}
			return fail(fmt.Errorf("dpdk: peer port %s tx queue %d: %w", peer.name, opts.Queue, ErrQueueInUse))
		}
		peer.txUsers[opts.Queue] = s
		s.peer = peer
		peerID, hasPeer = peer.id, 1
	}
	s.q = C.vigil_queue_new(C.uint16_t(port.id), C.uint16_t(opts.Queue), C.uint16_t(peerID), C.int(hasPeer), C.uint16_t(burst))
	if s.q == nil {
		return fail(fmt.Errorf("dpdk: port %s queue %d: allocating burst arrays: out of memory", port.name, opts.Queue))
	}
	s.pkts = unsafe.Slice(s.q.pkts, burst)
	s.fwd = unsafe.Slice(s.q.fwd, burst)
	s.rel = unsafe.Slice(s.q.rel, burst)
	s.lent = make([]lease, 0, 4)
	return s, nil
}

// openPortLocked returns the configured port name, configuring it with
// one queue pair from opts if nobody did.
func openPortLocked(name string, opts Options) (*Port, error) {
	id, err := resolvePort(name)
	if err != nil {
		return nil, err
	}
	p := registry.ports[id]
	if p == nil {
		return configureLocked(name, PortConfig{Queues: 1, RxDesc: opts.RxDesc, TxDesc: opts.TxDesc, Promisc: opts.Promisc}, true)
	}
	if opts.RxDesc != 0 && opts.RxDesc != p.reqRx && opts.RxDesc != p.rxDesc ||
		opts.TxDesc != 0 && opts.TxDesc != p.reqTx && opts.TxDesc != p.txDesc {
		return nil, fmt.Errorf("dpdk: port %s is configured with %d rx / %d tx descriptors, Options ask for %d / %d",
			p.name, p.rxDesc, p.txDesc, opts.RxDesc, opts.TxDesc)
	}
	if opts.Promisc && !p.promisc {
		return nil, fmt.Errorf("dpdk: port %s is configured without promiscuous mode, Options ask for it", p.name)
	}
	return p, nil
}

// releaseLocked gives back the queues s holds and closes implicitly
// configured ports left without users.
func (s *Source) releaseLocked() {
	for _, p := range []*Port{s.port, s.peer} {
		if p == nil {
			continue
		}
		for i := range p.rxUsers {
			if p.rxUsers[i] == s {
				p.rxUsers[i] = nil
			}
			if p.txUsers[i] == s {
				p.txUsers[i] = nil
			}
		}
	}
	for _, p := range []*Port{s.port, s.peer} {
		if p != nil && p.implicit && !p.closed && p.usersLocked() == 0 {
			p.closeLocked()
		}
	}
	if s.q != nil {
		C.vigil_queue_free(s.q)
		s.q = nil
	}
	s.pkts, s.fwd, s.rel = nil, nil, nil
}

// Port returns the port the Source receives on.
func (s *Source) Port() *Port { return s.port }

// Peer returns the port forwarded packets go to (nil in IDS mode).
func (s *Source) Peer() *Port { return s.peer }

// Queue returns the rx queue number.
func (s *Source) Queue() int { return s.queue }

// Next receives one burst into b: up to min(BurstSize, b.Cap()) packets,
// with a single cgo call. It never blocks: when the queue is empty b is
// empty and the error nil (a poll-mode source never ends; the caller spins
// or backs off). If b still holds packets of an earlier Next, they are
// given back first as Done would. Next allocates nothing.
func (s *Source) Next(b *packet.Batch) error {
	if s.closed {
		b.Reset()
		return fmt.Errorf("dpdk: port %s queue %d: Next: %w", s.port.name, s.queue, ErrClosed)
	}
	s.Done(b)
	max := b.Cap()
	if max == 0 {
		return fmt.Errorf("dpdk: port %s queue %d: Next: batch has no packet slots", s.port.name, s.queue)
	}
	if max > s.burst {
		max = s.burst
	}
	q := s.q
	before := q.multiseg
	n := int(C.vigil_rx(q, C.uint16_t(max)))
	if d := uint64(q.multiseg - before); d != 0 {
		s.stats.InvalidDrops += d
	}
	if n == 0 {
		return nil
	}
	ts := int64(q.time_ns)
	queue := uint16(s.queue)
	var bytes uint64
	for i := 0; i < n; i++ {
		cp := &s.pkts[i]
		p := b.Slot(i)
		s.num++
		// Zeroed in place, then filled: a composite literal would
		// build the 300-byte struct on the stack and copy it.
		*p = packet.Packet{}
		p.Data = unsafe.Slice((*byte)(cp.data), int(cp.len))
		p.WireLen = int(cp.pkt_len)
		p.TimeNs = ts
		p.LinkType = packet.LinkEthernet
		p.Num = s.num
		p.Queue = queue
		p.Handle = uint64(cp.handle)
		bytes += uint64(cp.len)
	}
	b.SetLen(n)
	s.stats.Packets += uint64(n)
	s.stats.Bytes += bytes
	s.lent = append(s.lent, lease{b: b, n: n})
	return nil
}

// Done gives the mbufs of b back: in IDS mode all are freed; in IPS mode
// packets with VerdictForward or VerdictBypass are transmitted on the peer
// port and the rest freed, in one cgo call per burst. A batch this Source
// did not lend (or already got back) is only reset. After Done b is empty.
// Done allocates nothing.
func (s *Source) Done(b *packet.Batch) {
	idx := -1
	for i := range s.lent {
		if s.lent[i].b == b {
			idx = i
			break
		}
	}
	if idx < 0 {
		b.Reset()
		return
	}
	n := s.lent[idx].n
	last := len(s.lent) - 1
	s.lent[idx] = s.lent[last]
	s.lent[last] = lease{}
	s.lent = s.lent[:last]
	b.Reset()
	if s.q == nil {
		return
	}
	nf, nr := 0, 0
	for i := 0; i < n; i++ {
		p := b.Slot(i)
		h := C.uintptr_t(p.Handle)
		if s.peer != nil && (p.Verdict == packet.VerdictForward || p.Verdict == packet.VerdictBypass) {
			s.fwd[nf] = h
			nf++
		} else {
			s.rel[nr] = h
			nr++
		}
		// The frame is the Source's again: no dangling view on it.
		p.Data = nil
		p.Handle = 0
	}
	if s.peer != nil {
		s.ips.VerdictDrops += uint64(nr)
	}
	q := s.q
	unsent := q.tx_unsent
	if nf > 0 {
		mu := &s.peer.txMu[s.queue]
		mu.Lock()
		sent := C.vigil_done(q, C.uint16_t(nf), C.uint16_t(nr))
		mu.Unlock()
		s.ips.Forwarded += uint64(sent)
		s.ips.TxDrops += uint64(q.tx_unsent - unsent)
		return
	}
	C.vigil_done(q, 0, C.uint16_t(nr))
}

// Stats returns the Source's counters. Packets and Bytes are what Next
// handed out; InvalidDrops counts multi-segment mbufs dropped. The port's
// own losses (rte_eth_stats_get: imissed + ierrors + rx_nombuf since
// ConfigurePort) are not per queue on most devices, so they go into
// KernelDrops of the queue-0 Source only; summing the Sources of a port
// counts them once. Truncated is always 0 (an mbuf holds the whole frame).
// TxDrops counts forwarded packets the tx queue did not take
// (IPSStats.TxDrops) and frames Inject could not send (InjectStats.Errors).
func (s *Source) Stats() capture.Stats {
	st := s.stats
	st.TxDrops = s.ips.TxDrops + s.inj.Errors
	if s.queue == 0 && !s.closed {
		registry.mu.Lock()
		ps, err := s.port.statsLocked()
		registry.mu.Unlock()
		if err == nil {
			st.KernelDrops = ps.Dropped()
		}
	}
	return st
}

// IPSStats returns the forwarding counters (all zero in IDS mode).
func (s *Source) IPSStats() IPSStats { return s.ips }

// Close frees the mbufs of batches still lent out (their packets must not
// be used any more; in IPS mode they count as VerdictDrops), releases the
// queue and closes ports Open configured itself once nothing uses them.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	for len(s.lent) > 0 {
		b := s.lent[0].b
		for i := 0; i < s.lent[0].n; i++ {
			b.Slot(i).Verdict = packet.VerdictDrop
		}
		s.Done(b)
	}
	if s.q != nil {
		s.stats.KernelDrops = s.Stats().KernelDrops
	}
	s.closed = true
	registry.mu.Lock()
	s.releaseLocked()
	registry.mu.Unlock()
	return nil
}
