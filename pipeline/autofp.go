package pipeline

import (
	"context"
	"errors"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/pipeline/ring"
)

// Route chooses how an autofp receiver spreads packets over workers.
type Route uint8

const (
	// RouteFlowHash sends both directions of a flow to the same worker
	// (the symmetric flow hash modulo the worker count). The default.
	RouteFlowHash Route = iota
	// RouteIPVersion sends IPv4 to the first half of the workers and
	// IPv6 to the second (each half by flow hash), so that one protocol's
	// load cannot starve the other's workers.
	RouteIPVersion
)

// Receiver is an autofp capture thread. It reads its source, decodes and
// defragments every packet (as Suricata's receive/decode threads do, so a
// reassembled datagram is routed by its own flow), copies each packet into
// a slot of its pool and hands the slot to the worker its flow hashes to.
// Workers give slots back to the receiver's free ring when they are done.
//
// Copying is what lets the receiver give the source its frames back at
// once (Source.Done) whatever the workers do: autofp is for pcap files and
// single-queue IDS sources. It cannot return inline verdicts to the source
// (the packet is gone when the worker decides), so inline capture runs in
// the workers runmode.
//
// Nothing is lost silently: with an offline source (Live false) a receiver
// whose worker is behind waits (RingStats.Waits); with a live source it
// drops the packet and counts it (RingStats.Full).
type Receiver struct {
	Source  capture.Source
	Decoder *decode.Decoder
	// Defrag reassembles fragments before routing; nil turns it off.
	Defrag *defrag.Reassembler
	// Live makes a full worker drop (and count) instead of wait.
	Live bool
	// BatchSize is the source batch size (default packet.DefaultBatchSize).
	BatchSize int
	// Route is the routing rule between the receiver and the workers.
	Route Route
	// FlowExpireIntervalNs is how often (packet time) the defragmenter's
	// timed-out datagrams are swept (default one second).
	FlowExpireIntervalNs int64

	id       int
	workers  []*Single
	free     *ring.MPSC[*packet.Packet] // slots workers gave back
	pool     []packet.Packet
	bufs     [][]byte           // bufs[i] is pool[i]'s data buffer
	pending  [][]*packet.Packet // per worker, slots to enqueue at batch end
	one      [1]*packet.Packet
	reasm    packet.Packet
	counters Counters
	ring     RingStats
	nextExp  int64
	pub      publisher
}

func (r *Receiver) publisher() *publisher { return &r.pub }

func (r *Receiver) fillSnapshot(dst *Snapshot) {
	*dst = Snapshot{Counters: r.counters, Ring: r.ring}
	if r.Source != nil {
		dst.Capture = r.Source.Stats()
	}
	if r.Decoder != nil {
		dst.Decode = r.Decoder.Stats
	}
	if r.Defrag != nil {
		dst.Defrag = r.Defrag.Stats
	}
}

// setup allocates the receiver's slot pool: poolSize packets, each with a
// buffer that starts at 2 KiB and grows (once) to the largest packet it
// has carried, so the steady state allocates nothing.
func (r *Receiver) setup(id int, workers []*Single, poolSize int) error {
	r.id = id
	r.workers = workers
	if r.BatchSize <= 0 {
		r.BatchSize = packet.DefaultBatchSize
	}
	if r.FlowExpireIntervalNs <= 0 {
		r.FlowExpireIntervalNs = 1e9
	}
	free, err := ring.NewMPSC[*packet.Packet](poolSize, ring.Options{})
	if err != nil {
		return err
	}
	r.free = free
	n := free.Cap()
	r.pool = make([]packet.Packet, n)
	r.bufs = make([][]byte, n)
	for i := range r.pool {
		r.bufs[i] = make([]byte, 0, 2048)
		r.free.Enqueue(&r.pool[i])
	}
	r.pending = make([][]*packet.Packet, len(workers))
	for i := range r.pending {
		r.pending[i] = make([]*packet.Packet, 0, 2*r.BatchSize)
	}
	return nil
}

// giveBack returns a slot to its receiver (called by workers).
func (r *Receiver) giveBack(p *packet.Packet) { r.free.Enqueue(p) }

// run reads the source to its end (or ctx's) and returns the source's
// error (nil at the end of input).
func (r *Receiver) run(ctx context.Context) error {
	b := packet.NewBatch(r.BatchSize)
	var runErr error
	for {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		err := r.Source.Next(b)
		for _, p := range b.Pkts {
			r.receive(ctx, p)
		}
		r.Source.Done(b)
		r.flush(ctx)
		if r.pub.want.Load() {
			r.pub.publish(r.fillSnapshot)
		}
		if err != nil {
			if !errors.Is(err, capture.ErrEndOfInput) {
				r.counters.SourceFailures++
				runErr = err
			}
			break
		}
	}
	r.pub.publish(r.fillSnapshot)
	return runErr
}

// receive decodes and defragments one packet and routes it (and the
// datagram it completes).
func (r *Receiver) receive(ctx context.Context, p *packet.Packet) {
	c := &r.counters
	c.Packets++
	c.Bytes += uint64(len(p.Data))
	r.Decoder.Decode(p)
	if r.Defrag != nil && p.TimeNs >= r.nextExp {
		if r.nextExp != 0 {
			r.Defrag.Expire(p.TimeNs)
		}
		r.nextExp = p.TimeNs + r.FlowExpireIntervalNs
	}
	done := p.Flags&packet.FlagFragment != 0 && r.Defrag != nil && r.Defrag.Process(p, &r.reasm)
	r.route(ctx, p)
	if done {
		q := &r.reasm
		q.Num = 0
		c.Reassembled++
		r.Decoder.Decode(q)
		r.route(ctx, q)
	}
}

// worker picks the worker for p.
func (r *Receiver) worker(p *packet.Packet) int {
	n := len(r.workers)
	if n == 1 {
		return 0
	}
	var h uint32
	if k, ok := flow.KeyFromPacket(p); ok {
		h = flow.Hash(&k)
	}
	if r.Route == RouteIPVersion && n >= 2 {
		half := n / 2
		if p.IsIPv6() {
			return half + int(h%uint32(n-half))
		}
		return int(h % uint32(half))
	}
	return int(h % uint32(n))
}

// route copies p into a free slot and queues it for its worker.
func (r *Receiver) route(ctx context.Context, p *packet.Packet) {
	slot, ok := r.free.Dequeue()
	if !ok {
		if r.Live {
			r.ring.Full++
			return
		}
		// Every slot is with the workers: hand over what is pending and
		// wait for one to come back.
		r.flush(ctx)
		r.ring.Waits++
		if n, err := r.free.DequeueWait(ctx, r.one[:]); n == 0 || err != nil {
			r.ring.Full++
			return
		}
		slot = r.one[0]
	}
	idx := int((uintptrOf(slot) - uintptrOf(&r.pool[0])) / packetSize)
	buf := r.bufs[idx]
	if cap(buf) < len(p.Data) {
		buf = make([]byte, 0, len(p.Data))
		r.bufs[idx] = buf
	}
	buf = append(buf[:0], p.Data...)
	*slot = *p
	slot.Data = buf
	slot.Queue = uint16(r.id)
	w := r.worker(p)
	r.pending[w] = append(r.pending[w], slot)
	if len(r.pending[w]) == cap(r.pending[w]) {
		r.flushWorker(ctx, w)
	}
}

// flush hands every pending slot to its worker.
func (r *Receiver) flush(ctx context.Context) {
	for w := range r.pending {
		if len(r.pending[w]) > 0 {
			r.flushWorker(ctx, w)
		}
	}
}

func (r *Receiver) flushWorker(ctx context.Context, w int) {
	q := r.pending[w]
	in := r.workers[w].in
	n := in.EnqueueBatch(q)
	r.ring.Enqueued += uint64(n)
	if n < len(q) {
		rest := q[n:]
		if r.Live {
			r.ring.Full += uint64(len(rest))
			for _, s := range rest {
				r.free.Enqueue(s)
			}
		} else {
			r.ring.Waits++
			m, _ := in.EnqueueBatchWait(ctx, rest)
			r.ring.Enqueued += uint64(m)
			for _, s := range rest[m:] { // ctx ended while waiting
				r.ring.Full++
				r.free.Enqueue(s)
			}
		}
	}
	clear(q)
	r.pending[w] = q[:0]
}

var packetSize = unsafe.Sizeof(packet.Packet{})

func uintptrOf(p *packet.Packet) uintptr { return uintptr(unsafe.Pointer(p)) }
