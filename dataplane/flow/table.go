package flow

import (
	"math/rand/v2"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Stats are a table's counters. Every flow created ends exactly once, so
// Created == Active + ExpiredNew + ExpiredEstablished + ExpiredClosed +
// Reused + Flushed.
type Stats struct {
	Active  uint64 // flows live now
	Created uint64 // flows created

	// Flows that timed out, by their state at that moment (whether Expire,
	// the emergency reclaim or a Lookup of their key found them).
	ExpiredNew, ExpiredEstablished, ExpiredClosed uint64
	// Reused counts closed TCP flows ended because a new SYN reused their ports.
	Reused uint64
	// Flushed counts flows ended by Flush.
	Flushed uint64

	// Packets that got no flow (packet.FlagNoFlow), by reason.
	NoFlowNotIP     uint64 // no IP header
	NoFlowNoL4      uint64 // TCP/UDP/ICMP header not decoded (truncated, non-first fragment)
	NoFlowICMPError uint64 // ICMPv4 error not matching a live flow (errors never create one)
	MemcapDrops     uint64 // the flow cap forbade a new flow, even after reclaiming

	// EmergencyEntries counts switches into emergency mode (pool full);
	// Emergency tells whether the table is in it now.
	EmergencyEntries uint64
	Emergency        bool

	// Collisions counts hash-chain entries a lookup passed over that were
	// not its flow; MaxChain is the longest chain a lookup has walked.
	Collisions uint64
	MaxChain   uint64

	// Allocated is the pool size so far; MaxFlows its cap.
	Allocated uint64
	MaxFlows  uint64
}

const (
	chunkShift = 10
	chunkSize  = 1 << chunkShift
	numLists   = int(numProtos) * int(numStates)
	listFree   = 0xff
	// reclaimBudget bounds the timeout-list steps one Lookup may spend
	// reclaiming flows when the pool is full.
	reclaimBudget = 256
)

type tlist struct{ head, tail uint32 }

// Table is a flow table: one per worker, used by one goroutine at a time.
type Table struct {
	cfg      Config
	seed     uint64
	timeouts [2][numLists]uint64 // ns; [1] = emergency
	buckets  []uint32            // chain heads (index+1)
	mask     uint32
	chunks   [][]Flow
	maxFlows uint32
	alloc    uint32 // slots allocated
	free     uint32 // free list head (index+1)
	lists    [numLists]tlist
	seq      uint64 // last flow sequence number handed out
	stats    Stats
}

func listIndex(p Proto, s State) uint8 { return uint8(p)*uint8(numStates) + uint8(s) }

// NewTable builds a table from cfg (zero fields take their defaults) and
// preallocates cfg.Prealloc flows.
func NewTable(cfg Config) (*Table, error) {
	maxFlows, hashSize, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	t := &Table{
		cfg:      cfg,
		seed:     cfg.Seed,
		buckets:  make([]uint32, hashSize),
		mask:     uint32(hashSize - 1),
		maxFlows: uint32(maxFlows),
	}
	if t.seed == 0 {
		t.seed = rand.Uint64() | 1
	}
	for _, tc := range [...]struct {
		p Proto
		t *Timeouts
	}{{ProtoTCP, &cfg.TCP}, {ProtoUDP, &cfg.UDP}, {ProtoICMP, &cfg.ICMP}, {ProtoOther, &cfg.Default}} {
		t.timeouts[0][listIndex(tc.p, StateNew)] = uint64(tc.t.New)
		t.timeouts[0][listIndex(tc.p, StateEstablished)] = uint64(tc.t.Established)
		t.timeouts[0][listIndex(tc.p, StateClosed)] = uint64(tc.t.Closed)
		t.timeouts[1][listIndex(tc.p, StateNew)] = uint64(tc.t.EmergencyNew)
		t.timeouts[1][listIndex(tc.p, StateEstablished)] = uint64(tc.t.EmergencyEstablished)
		t.timeouts[1][listIndex(tc.p, StateClosed)] = uint64(tc.t.EmergencyClosed)
	}
	t.stats.MaxFlows = uint64(maxFlows)
	for t.alloc < uint32(cfg.Prealloc) {
		t.grow()
	}
	return t, nil
}

// Seed returns the hash seed the table uses (for HashSeed).
func (t *Table) Seed() uint64 { return t.seed }

// MaxFlows returns the flow cap derived from Memcap / MaxFlows.
func (t *Table) MaxFlows() int { return int(t.maxFlows) }

// Len returns the number of live flows.
func (t *Table) Len() int { return int(t.stats.Active) }

// Stats returns the counters.
func (t *Table) Stats() Stats { return t.stats }

// Emergency reports whether the table is in emergency mode (shortened
// timeouts because the pool was full).
func (t *Table) Emergency() bool { return t.stats.Emergency }

func (t *Table) flow(i uint32) *Flow {
	i--
	return &t.chunks[i>>chunkShift][i&(chunkSize-1)]
}

// grow adds a chunk of slots to the pool and the free list; it reports false
// when the cap is reached.
func (t *Table) grow() bool {
	if t.alloc >= t.maxFlows {
		return false
	}
	n := t.maxFlows - t.alloc
	if n > chunkSize {
		n = chunkSize
	}
	c := make([]Flow, n)
	base := t.alloc
	t.chunks = append(t.chunks, c)
	t.alloc += n
	// Push in reverse so slots come out of the free list in index order.
	for i := int(n) - 1; i >= 0; i-- {
		f := &c[i]
		f.self = base + uint32(i) + 1
		f.list = listFree
		f.hnext = t.free
		t.free = f.self
	}
	t.stats.Allocated = uint64(t.alloc)
	return true
}

// Lookup finds or creates the flow of a decoded packet, updates its counters,
// times and state, and marks the packet: p.FlowHash, exactly one of
// FlagToServer / FlagToClient, and FlagEstablished when the flow is
// established. It returns nil and sets FlagNoFlow when the packet has no
// flow (see KeyFromPacket) or the flow cap forbids a new one even after
// reclaiming timed-out flows. Packet times drive all timeouts.
func (t *Table) Lookup(p *packet.Packet) *Flow {
	p.Flags &^= packet.FlagToServer | packet.FlagToClient | packet.FlagEstablished | packet.FlagNoFlow
	var k Key
	kind := keyFromPacket(p, &k)
	switch kind {
	case keyNotIP:
		return t.noFlow(p, &t.stats.NoFlowNotIP)
	case keyNoL4:
		return t.noFlow(p, &t.stats.NoFlowNoL4)
	case keyICMPNoEmb:
		return t.noFlow(p, &t.stats.NoFlowICMPError)
	}
	h := HashSeed(&k, t.seed)
	p.FlowHash = h
	now := p.TimeNs

	f := t.find(&k, h)
	if f != nil {
		if t.timedOut(f, now) {
			t.countExpired(f)
			t.end(f, ReasonTimeout, t.cfg.OnEnd)
			f = nil
		} else if kind == keyOK && f.Proto == ProtoTCP && f.TCP.isReuse(p.TCPFlags, p.TCPSeq) {
			t.stats.Reused++
			t.end(f, ReasonTimeout, t.cfg.OnEnd)
			f = nil
		}
	}
	if f == nil {
		if kind == keyICMPError {
			return t.noFlow(p, &t.stats.NoFlowICMPError)
		}
		if f = t.create(&k, h, p); f == nil {
			return t.noFlow(p, &t.stats.MemcapDrops)
		}
	}
	t.update(f, &k, p, kind)
	return f
}

func (t *Table) noFlow(p *packet.Packet, counter *uint64) *Flow {
	*counter++
	p.Flags |= packet.FlagNoFlow
	return nil
}

// find walks the bucket chain of h for k's connection.
func (t *Table) find(k *Key, h uint32) *Flow {
	var walked uint64
	for i := t.buckets[h&t.mask]; i != 0; {
		f := t.flow(i)
		walked++
		if f.hash == h && sameConn(&f.Key, k) {
			t.stats.Collisions += walked - 1
			if walked > t.stats.MaxChain {
				t.stats.MaxChain = walked
			}
			return f
		}
		i = f.hnext
	}
	t.stats.Collisions += walked
	if walked > t.stats.MaxChain {
		t.stats.MaxChain = walked
	}
	return nil
}

func (t *Table) timeout(f *Flow) uint64 {
	e := 0
	if t.stats.Emergency {
		e = 1
	}
	return t.timeouts[e][f.list]
}

// expired reports whether more than d ns passed from last to now.
func expired(last, now int64, d uint64) bool {
	return now > last && uint64(now)-uint64(last) > d
}

func (t *Table) timedOut(f *Flow, now int64) bool {
	return expired(f.LastNs, now, t.timeout(f))
}

func (t *Table) countExpired(f *Flow) {
	switch f.State {
	case StateEstablished:
		t.stats.ExpiredEstablished++
	case StateClosed:
		t.stats.ExpiredClosed++
	default:
		t.stats.ExpiredNew++
	}
}

// create takes a slot for a new flow of key k (packet direction) and links
// it in. It returns nil when the cap forbids it.
func (t *Table) create(k *Key, h uint32, p *packet.Packet) *Flow {
	now := p.TimeNs
	if t.free == 0 && !t.grow() {
		if !t.stats.Emergency {
			t.stats.Emergency = true
			t.stats.EmergencyEntries++
		}
		t.sweep(now, reclaimBudget, t.cfg.OnEnd)
		if t.free == 0 {
			return nil
		}
	}
	idx := t.free
	f := t.flow(idx)
	t.free = f.hnext
	*f = Flow{self: idx}

	f.Key = *k
	if k.Proto == packet.ProtoTCP && p.TCPFlags&(packet.TCPSyn|packet.TCPAck) == packet.TCPSyn|packet.TCPAck {
		// The first packet is the server's SYN/ACK: its receiver is the client.
		f.Key = k.Reverse()
	}
	f.Proto = protoOf(k.Proto)
	f.StartNs, f.LastNs = now, now
	if f.Proto == ProtoICMP {
		f.ICMPType, f.ICMPCode = p.ICMPType, p.ICMPCode
	}
	t.seq++
	if t.seq >= 1<<45 {
		t.seq = 1
	}
	f.ID = t.seq<<8 | uint64(t.cfg.Shard)

	f.hash = h
	b := &t.buckets[h&t.mask]
	f.hnext = *b
	*b = idx
	t.enqueue(f, listIndex(f.Proto, StateNew), now)
	t.stats.Created++
	t.stats.Active++
	return f
}

// update applies packet p (key k, packet direction) to its flow f.
func (t *Table) update(f *Flow, k *Key, p *packet.Packet, kind keyKind) {
	var toServer bool
	if kind == keyICMPError {
		// The error comes from whoever received the datagram: its direction
		// is that of its outer addresses.
		toServer = p.SrcIP.As16() == f.Key.Src
	} else {
		toServer = k.Src == f.Key.Src && k.SrcPort == f.Key.SrcPort
	}
	n := uint64(len(p.Data))
	if toServer {
		f.PktsToServer++
		f.BytesToServer += n
		p.Flags |= packet.FlagToServer
	} else {
		f.PktsToClient++
		f.BytesToClient += n
		p.Flags |= packet.FlagToClient
	}
	if p.TimeNs > f.LastNs {
		f.LastNs = p.TimeNs
	}

	state := f.State
	if kind == keyOK {
		switch f.Proto {
		case ProtoTCP:
			if toServer {
				f.TCPFlagsToServer |= p.TCPFlags
			} else {
				f.TCPFlagsToClient |= p.TCPFlags
			}
			f.TCP.Update(p.TCPFlags, p.TCPSeq, toServer)
			// A flow with a stream session gets its state from the
			// session (SetState); the flags decide for the others.
			if f.StreamSession == 0 {
				switch f.TCP.State {
				case TCPEstablished:
					state = StateEstablished
				case TCPClosed:
					state = StateClosed
				}
			}
		default:
			if f.Proto == ProtoICMP && !toServer {
				f.RespICMPType, f.RespICMPCode, f.HasResp = p.ICMPType, p.ICMPCode, true
			}
			if toServer {
				f.seen |= seenToServer
			} else {
				f.seen |= seenToClient
			}
			if state == StateNew && f.seen == seenToServer|seenToClient {
				state = StateEstablished
			}
		}
	}
	if state != f.State {
		f.State = state
		t.unlink(f)
		t.enqueue(f, listIndex(f.Proto, state), f.LastNs)
	}
	if f.State == StateEstablished {
		p.Flags |= packet.FlagEstablished
	}
}

// SetState sets the life stage of f, a live flow of this table, and moves
// it to that stage's timeout list. The pipeline calls it for TCP flows the
// stream engine tracks, whose state follows the session as Suricata's
// does: new until the handshake completes, established until the last FIN
// is on its way (LAST_ACK, TIME_WAIT, CLOSED), closed after.
func (t *Table) SetState(f *Flow, s State) {
	if f == nil || f.State == s || f.list == listFree || s >= numStates {
		return
	}
	f.State = s
	t.unlink(f)
	t.enqueue(f, listIndex(f.Proto, s), f.LastNs)
}

// enqueue appends f to timeout list l.
func (t *Table) enqueue(f *Flow, l uint8, now int64) {
	f.list = l
	f.queuedNs = now
	tl := &t.lists[l]
	f.tnext = 0
	f.tprev = tl.tail
	if tl.tail != 0 {
		t.flow(tl.tail).tnext = f.self
	} else {
		tl.head = f.self
	}
	tl.tail = f.self
}

// unlink removes f from its timeout list.
func (t *Table) unlink(f *Flow) {
	tl := &t.lists[f.list]
	if f.tprev != 0 {
		t.flow(f.tprev).tnext = f.tnext
	} else {
		tl.head = f.tnext
	}
	if f.tnext != 0 {
		t.flow(f.tnext).tprev = f.tprev
	} else {
		tl.tail = f.tprev
	}
	f.tprev, f.tnext = 0, 0
}

// end hands f to fn with its reason set, then frees its slot.
func (t *Table) end(f *Flow, r Reason, fn func(*Flow)) {
	f.Reason = r
	if fn != nil {
		fn(f)
	}
	// Unhook from the hash chain.
	b := &t.buckets[f.hash&t.mask]
	if *b == f.self {
		*b = f.hnext
	} else {
		for i := *b; i != 0; {
			g := t.flow(i)
			if g.hnext == f.self {
				g.hnext = f.hnext
				break
			}
			i = g.hnext
		}
	}
	t.unlink(f)
	self := f.self
	*f = Flow{self: self, list: listFree, hnext: t.free}
	t.free = self
	t.stats.Active--
}

// sweep ends timed-out flows, visiting each timeout list from its oldest
// entry. A list's entries are in queue-time order and share one timeout, so
// a list is done at its first entry queued less than a timeout ago; an entry
// that was queued long ago but saw packets since is queued again at its last
// packet time. budget < 0 means no bound on the steps taken.
func (t *Table) sweep(now int64, budget int, fn func(*Flow)) int {
	e := 0
	if t.stats.Emergency {
		e = 1
	}
	ended := 0
	for l := range t.lists {
		d := t.timeouts[e][l]
		for t.lists[l].head != 0 && budget != 0 {
			f := t.flow(t.lists[l].head)
			if !expired(f.queuedNs, now, d) {
				break
			}
			budget--
			if expired(f.LastNs, now, d) {
				t.countExpired(f)
				t.end(f, ReasonTimeout, fn)
				ended++
			} else {
				t.unlink(f)
				t.enqueue(f, uint8(l), f.LastNs)
			}
		}
	}
	return ended
}

// Expire ends every flow whose timeout has passed at packet time nowNs,
// handing each to fn (may be nil) before its slot is reused, and leaves
// emergency mode once enough of the pool is free again. It returns the
// number of flows ended. Its cost is that number plus the number of lists
// (plus flows requeued after new packets), not the table size: call it, for
// example, once per second of packet time. fn must not call the table.
func (t *Table) Expire(nowNs int64, fn func(*Flow)) int {
	n := t.sweep(nowNs, -1, fn)
	t.checkRecovery()
	return n
}

// checkRecovery leaves emergency mode when at least EmergencyRecovery percent
// of the cap is free.
func (t *Table) checkRecovery() {
	if !t.stats.Emergency {
		return
	}
	free := uint64(t.maxFlows) - t.stats.Active
	if free*100 >= uint64(t.maxFlows)*uint64(t.cfg.EmergencyRecovery) {
		t.stats.Emergency = false
	}
}

// Flush ends every live flow (end of input), handing each to fn (may be
// nil) in pool order, which depends only on the input, not on the seed.
func (t *Table) Flush(fn func(*Flow)) int {
	n := 0
	for _, c := range t.chunks {
		for i := range c {
			f := &c[i]
			if f.list == listFree {
				continue
			}
			t.end(f, ReasonShutdown, fn)
			t.stats.Flushed++
			n++
		}
	}
	t.stats.Emergency = false
	return n
}
