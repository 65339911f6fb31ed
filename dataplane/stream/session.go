package stream

import (
	"bytes"
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Dir is a direction of a session.
type Dir uint8

const (
	ToServer Dir = iota // client to server
	ToClient            // server to client
)

// String names the direction as EVE does.
func (d Dir) String() string {
	if d == ToClient {
		return "to_client"
	}
	return "to_server"
}

// State is a TCP session state, with Suricata's names.
type State uint8

const (
	StateNone State = iota
	StateSynSent
	StateSynRecv
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateTimeWait
	StateLastAck
	StateCloseWait
	StateClosing
	StateClosed
)

var stateNames = [...]string{"none", "syn_sent", "syn_recv", "established", "fin_wait1",
	"fin_wait2", "time_wait", "last_ack", "close_wait", "closing", "closed"}

// String gives the EVE tcp.state value.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// FlowState is the life stage of the flow of a session in state s, as
// Suricata moves a TCP flow's state with its session: new during the
// handshake, established from then on while either side can still send
// (FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, CLOSING), closed once the last FIN is
// out (LAST_ACK, TIME_WAIT, CLOSED). Timeouts follow it.
func (s State) FlowState() flow.State {
	switch s {
	case StateNone, StateSynSent, StateSynRecv:
		return flow.StateNew
	case StateLastAck, StateTimeWait, StateClosed:
		return flow.StateClosed
	}
	return flow.StateEstablished
}

// Session flags (Session.Flags).
const (
	FlagMidstream     uint32 = 1 << iota // picked up without the handshake
	FlagAsync                            // only one direction is seen
	Flag4WHS                             // split (four-way) handshake: SYN, SYN, SYN/ACK, ACK
	FlagTimestamps                       // both sides use TCP timestamps
	FlagWScale                           // both sides use window scaling
	FlagSACK                             // both sides permit SACK
	FlagTFO                              // data on the client SYN (TCP Fast Open)
	FlagRst                              // closed by a valid RST
	FlagDropFlow                         // memcap policy drop-flow applied: drop every packet of the flow
	FlagPassFlow                         // memcap policy pass-flow/bypass applied: stop inspecting
	FlagBypass                           // memcap policy bypass applied
	FlagDepthToServer                    // reassembly depth reached, to server
	FlagDepthToClient                    // reassembly depth reached, to client
)

// seg is the sequence range of one stored segment, as received (end
// exclusive). Its bytes are in the direction's buffer.
type seg struct{ seq, end uint32 }

// half is one direction of a session: the TCP state of its sender and the
// reassembly of the data it sends.
type half struct {
	// TCP state of the sender.
	isn      uint32 // initial sequence number (or first seen, midstream)
	nextSeq  uint32 // highest seq+len(+SYN/FIN) sent
	lastAck  uint32 // highest acknowledgement the peer sent for this data
	window   uint32 // receive window the sender advertises (scaled)
	wscale   uint8  // window scale the sender announced
	hasWS    bool
	tsOK     bool
	tsVal    uint32 // latest timestamp value the sender sent
	seen     bool   // a packet of this direction was seen
	ackSeen  bool   // lastAck is valid
	finSent  bool
	finSeq   uint32 // sequence number of the FIN
	synCount uint16 // SYN or SYN/ACK transmissions
	tfoLen   uint32 // data length on the SYN (TFO)

	// Reassembly.
	started  bool
	hasDepth bool
	depthHit bool
	rawGap   bool
	start    uint32 // sequence number of stream offset 0
	depthSeq uint32 // first sequence number beyond the depth
	base     uint32 // sequence number of buf[0]
	buf      []byte // pooled; bytes of segs in [base, base+len(buf))
	segs     []seg  // stored segments sorted by seq
	contig   uint32 // data in [base, contig) is all present
	appNext  uint32 // next byte for the consumer
	rawNext  uint32 // next byte for raw inspection
	frozen   uint32 // bytes before it were exposed and can no longer change
	rawGapSt uint32 // raw inspection must skip [rawGapSt, rawGapEnd)
	rawGapEn uint32
	rawFloor uint32 // raw inspection never looks before it (start, gap ends)
	gaps     uint32
}

// Session is the TCP state of one flow.
type Session struct {
	// State is the TCP state.
	State State
	// Flags holds Flag* bits.
	Flags uint32
	// FlowID is the flow_id of the flow the session belongs to.
	FlowID uint64
	// Client and Server are the endpoints' addresses (client: the sender of
	// the to-server direction), used for the per-host policy.
	Client, Server netip.Addr
	// Policy is the reassembly policy of each direction's receiver:
	// Policy[ToServer] is the server's.
	Policy [2]Policy
	// User is for the consumer's own per-session state (an app-layer
	// parser); the tracker clears it when the session ends.
	User any

	half   [2]half
	t      *Tracker
	handle uint32 // index+1 in the tracker
	inUse  bool
	closer Dir // direction of the first FIN
}

// DepthReached reports whether reassembly depth was reached in dir: no more
// data of it is reassembled and the caller may bypass the flow.
func (s *Session) DepthReached(dir Dir) bool { return s.half[dir&1].depthHit }

// Gaps returns how many gaps (lost data) direction dir had.
func (s *Session) Gaps(dir Dir) uint32 { return s.half[dir&1].gaps }

// NextSeq returns the next sequence number the sender of dir will use, as
// far as the tracker knows, and whether one is known.
func (s *Session) NextSeq(dir Dir) (uint32, bool) {
	h := &s.half[dir&1]
	return h.nextSeq, h.seen
}

// Size returns how far direction dir's sequence numbers have advanced
// since its initial sequence number (next expected sequence number minus
// ISN, SYN and FIN included), as Suricata's stream_size keyword compares;
// ok is false when the direction has not been seen.
func (s *Session) Size(dir Dir) (size uint32, ok bool) {
	h := &s.half[dir&1]
	return h.nextSeq - h.isn, h.seen
}

// offset gives the stream offset of a sequence number of h.
func (h *half) offset(seq uint32) uint64 { return uint64(seq - h.start) }

// RawData returns the data of dir available to raw stream inspection and
// the stream offset of its first byte. In IDS mode it is data acknowledged
// by the receiver and not yet marked inspected with RawConsume; in inline
// mode it is the data in order so far, starting up to Config.InlineWindow
// bytes before the first byte not yet inspected. The slice is valid until
// the next call on the tracker.
func (s *Session) RawData(dir Dir) ([]byte, uint64) {
	h := &s.half[dir&1]
	if !h.started || h.buf == nil {
		return nil, 0
	}
	st := h.rawNext
	if w := uint32(s.t.cfg.InlineWindow); s.t.cfg.Inline && w > 0 {
		st = seqMax(seqMax(h.base, h.rawFloor), h.rawNext-w)
		if seqGT(st, h.rawNext) { // window reaches before the stream start
			st = seqMax(h.base, h.rawFloor)
		}
	}
	end := h.frozen
	if h.rawGap {
		end = seqMin(end, h.rawGapSt)
	}
	if !seqLT(st, end) {
		return nil, h.offset(h.rawNext)
	}
	return h.buf[st-h.base : end-h.base], h.offset(st)
}

// RawConsume marks the first n bytes after the last inspected one of dir
// as inspected (n counts from the first byte not yet inspected, not from
// the start of what RawData returned).
func (s *Session) RawConsume(dir Dir, n int) {
	h := &s.half[dir&1]
	if n <= 0 || !h.started {
		return
	}
	end := h.frozen
	if h.rawGap {
		end = seqMin(end, h.rawGapSt)
	}
	avail := int(end - h.rawNext)
	if !seqLT(h.rawNext, end) {
		avail = 0
	}
	if n > avail {
		n = avail
	}
	h.rawNext += uint32(n)
	if h.rawGap && h.rawNext == h.rawGapSt {
		h.rawNext, h.rawFloor = h.rawGapEn, h.rawGapEn
		h.rawGap = false
	}
	s.t.compact(s, h)
}

// RawPending returns how many bytes of dir wait for raw inspection.
func (s *Session) RawPending(dir Dir) int {
	h := &s.half[dir&1]
	if !h.started {
		return 0
	}
	end := h.frozen
	if h.rawGap {
		end = seqMin(end, h.rawGapSt)
	}
	if !seqLT(h.rawNext, end) {
		return 0
	}
	return int(end - h.rawNext)
}

// startReassembly begins the stream of h at sequence number seq.
func (h *half) startReassembly(seq uint32, depth int64) {
	h.started = true
	h.start, h.base, h.contig = seq, seq, seq
	h.appNext, h.rawNext, h.frozen, h.rawFloor = seq, seq, seq, seq
	h.hasDepth = depth >= 0 && depth < 1<<31
	if h.hasDepth {
		h.depthSeq = seq + uint32(depth)
	}
}

// segEnd returns the end of the highest stored segment (base if none).
func (h *half) segEnd() uint32 {
	e := h.base
	for _, sg := range h.segs {
		e = seqMax(e, sg.end)
	}
	return e
}

// updateContig extends contig over the stored segments.
func (h *half) updateContig() {
	for _, sg := range h.segs {
		if seqGT(sg.seq, h.contig) {
			break
		}
		if seqGT(sg.end, h.contig) {
			h.contig = sg.end
		}
	}
}

// addSeg records a segment's range, keeping segs sorted; an exact duplicate
// is not recorded twice.
func (h *half) addSeg(seq, end uint32) {
	i := len(h.segs)
	for i > 0 && seqGT(h.segs[i-1].seq, seq) {
		i--
	}
	if i > 0 && h.segs[i-1].seq == seq && h.segs[i-1].end == end {
		return
	}
	h.segs = append(h.segs, seg{})
	copy(h.segs[i+1:], h.segs[i:])
	h.segs[i] = seg{seq, end}
}

// insert takes one segment's data into reassembly. It reports whether the
// data was stored (false: memory refused it).
func (t *Tracker) insert(s *Session, dir Dir, p *packet.Packet, seq uint32, data []byte) bool {
	h := &s.half[dir]
	if len(data) == 0 {
		return true
	}
	if !h.started {
		h.startReassembly(h.isn+1, t.cfg.Depth)
	}
	end := seq + uint32(len(data))
	// Depth.
	if h.hasDepth {
		if !seqLT(seq, h.depthSeq) {
			t.depth(s, dir, p)
			return true
		}
		if seqGT(end, h.depthSeq) {
			data = data[:h.depthSeq-seq]
			end = h.depthSeq
			t.depth(s, dir, p)
		}
	}
	p.Flags |= packet.FlagStreamData
	// Data already exposed cannot change: compare what is still kept.
	if seqLT(seq, h.frozen) {
		n := uint32(len(data))
		if seqLT(h.frozen, end) {
			n = h.frozen - seq
		}
		if seqLT(end, h.base) || end == h.base {
			t.event(p, EvReassemblySegmentBeforeBaseSeq)
		}
		if h.buf != nil && t.differs(h, seq, seq+n, data[:n]) {
			t.stats.OverlapDiff++
			t.event(p, EvReassemblyOverlapDifferentData)
			if t.cfg.Inline {
				// What was inspected and forwarded stands: the packet
				// is rewritten to carry it (Suricata's inline
				// normalization), so the host cannot see other bytes.
				t.normalize(h, seq, seq+n, data[:n])
				p.Flags |= packet.FlagModified
			}
		}
		data = data[n:]
		seq += n
		if len(data) == 0 {
			return true
		}
	}
	// Room.
	need := int(end - h.base)
	if need > t.cfg.MaxBuffer {
		p.Flags &^= packet.FlagStreamData
		t.memcapHit(s, p, false)
		return false
	}
	if need > len(h.buf) {
		nb := t.pool.get(need)
		if nb == nil {
			p.Flags &^= packet.FlagStreamData
			t.memcapHit(s, p, false)
			return false
		}
		if h.buf != nil {
			copy(nb, h.buf[:h.segEnd()-h.base])
			t.pool.put(h.buf)
		}
		h.buf = nb
	}
	// Overlaps, resolved by the receiver's policy into scratch.
	if cap(t.scratch) < len(data) {
		t.scratch = make([]byte, len(data))
	}
	buf := t.scratch[:len(data)]
	copy(buf, data)
	overlap, diff := false, false
	pol := s.Policy[dir]
	for _, sg := range h.segs {
		if !seqLT(sg.seq, end) {
			break
		}
		if !seqGT(sg.end, seq) {
			continue
		}
		overlap = true
		os, oe := seqMax(sg.seq, seq), seqMin(sg.end, end)
		old := h.buf[os-h.base : oe-h.base]
		nw := buf[os-seq : oe-seq]
		if !bytes.Equal(old, nw) {
			diff = true
			if !newDataWins(pol, seq, end, sg.seq, sg.end) {
				copy(nw, old)
			}
		}
	}
	if overlap {
		t.stats.Overlaps++
	}
	if diff {
		t.stats.OverlapDiff++
		t.event(p, EvReassemblyOverlapDifferentData)
		if t.cfg.Inline {
			// Inline: the packet carries the bytes detection sees.
			copy(data, buf)
			p.Flags |= packet.FlagModified
		}
	}
	copy(h.buf[seq-h.base:], buf)
	h.addSeg(seq, end)
	h.updateContig()
	t.stats.Segments++
	t.stats.Bytes += uint64(len(data))
	t.stats.ReassemblyMem = t.pool.inUse
	return true
}

// depth marks direction dir as having reached the reassembly depth.
func (t *Tracker) depth(s *Session, dir Dir, p *packet.Packet) {
	h := &s.half[dir]
	if h.depthHit {
		return
	}
	h.depthHit = true
	if dir == ToServer {
		s.Flags |= FlagDepthToServer
	} else {
		s.Flags |= FlagDepthToClient
	}
	t.stats.DepthReached++
	t.event(p, EvReassemblyDepthReached)
}

// readyLimit returns the sequence number up to which data of h may be
// exposed to the consumer and to raw inspection.
func (t *Tracker) readyLimit(s *Session, h *half, final bool) uint32 {
	if final || t.cfg.Inline || s.Flags&FlagAsync != 0 {
		return h.contig
	}
	if !h.ackSeen || !seqGT(h.lastAck, h.base) {
		return h.base
	}
	return seqMin(h.contig, h.lastAck)
}

// deliver exposes the data of direction dir that is ready: gives it to the
// consumer, detects gaps, and releases what everyone is done with. final
// delivers everything in order regardless of acknowledgements, and crosses
// gaps up to the last stored segment (flow end).
func (t *Tracker) deliver(s *Session, dir Dir, p *packet.Packet, final bool) {
	h := &s.half[dir]
	if !h.started {
		return
	}
	for rounds := 0; rounds < 1+len(h.segs); rounds++ {
		lim := t.readyLimit(s, h, final)
		if seqGT(lim, h.frozen) {
			h.frozen = lim
		}
		if t.cfg.NoRaw {
			h.rawNext = seqMax(h.rawNext, h.frozen)
		}
		if seqLT(h.appNext, lim) {
			if c := t.cfg.Consumer; c != nil && s.Flags&FlagPassFlow == 0 {
				data := h.buf[h.appNext-h.base : lim-h.base]
				n := c.Data(s, dir, data)
				if n < 0 {
					n = 0
				} else if n > len(data) {
					n = len(data)
				}
				h.appNext += uint32(n)
			} else {
				h.appNext = lim
			}
		}
		// A gap: the consumer has everything in order, yet the receiver
		// acknowledged more (or the flow ends with data queued after a hole).
		if h.appNext != h.contig || h.contig != lim {
			break
		}
		gapEnd, ok := t.gapEnd(h, final)
		if !ok {
			break
		}
		n := gapEnd - h.contig
		h.gaps++
		t.stats.Gaps++
		t.stats.GapBytes += uint64(n)
		if p != nil {
			t.event(p, EvReassemblySeqGap)
		}
		if c := t.cfg.Consumer; c != nil && s.Flags&FlagPassFlow == 0 {
			c.Gap(s, dir, n)
		}
		if seqLT(h.rawNext, h.contig) {
			if h.rawGap { // a second gap before raw inspection caught up: skip to it
				h.rawNext, h.rawFloor = h.rawGapEn, h.rawGapEn
			}
			h.rawGap, h.rawGapSt, h.rawGapEn = true, h.contig, gapEnd
		} else {
			h.rawNext, h.rawFloor = gapEnd, gapEnd
		}
		h.contig, h.appNext, h.frozen = gapEnd, gapEnd, gapEnd
		h.updateContig()
	}
	t.compact(s, h)
}

// gapEnd returns where a gap at h.contig ends, if there is one.
func (t *Tracker) gapEnd(h *half, final bool) (uint32, bool) {
	next, haveNext := uint32(0), false
	for _, sg := range h.segs {
		if seqGT(sg.seq, h.contig) {
			next, haveNext = sg.seq, true
			break
		}
	}
	if final {
		return next, haveNext
	}
	if !h.ackSeen {
		return 0, false
	}
	acked := h.lastAck
	if h.finSent && seqGT(acked, h.finSeq) {
		acked = h.finSeq
	}
	if h.hasDepth && seqGT(acked, h.depthSeq) {
		acked = h.depthSeq
	}
	if !seqGT(acked, h.contig) {
		return 0, false
	}
	if haveNext && seqLT(next, acked) {
		return next, true
	}
	return acked, true
}

// compact releases the data of h that the consumer and raw inspection are
// done with, moving what is left to the front of the buffer, and returns an
// empty buffer to the pool.
func (t *Tracker) compact(s *Session, h *half) {
	if !h.started {
		return
	}
	rel := seqMin(h.appNext, h.rawNext)
	if t.cfg.Inline && !t.cfg.NoRaw {
		keep := h.rawNext - uint32(t.cfg.InlineWindow)
		if seqLT(keep, h.base) || seqLT(h.rawNext, keep) {
			keep = h.base
		}
		rel = seqMin(rel, keep)
	}
	if !seqGT(rel, h.base) {
		return
	}
	end := h.segEnd()
	k := 0
	for _, sg := range h.segs {
		if seqGT(sg.end, rel) {
			h.segs[k] = sg
			k++
		}
	}
	h.segs = h.segs[:k]
	if !seqLT(rel, end) {
		h.base = rel
		if h.buf != nil {
			t.pool.put(h.buf)
			h.buf = nil
			t.stats.ReassemblyMem = t.pool.inUse
		}
		return
	}
	n := rel - h.base
	if int(n) < len(h.buf)/2 {
		return
	}
	copy(h.buf, h.buf[n:end-h.base])
	h.base = rel
}

// differs reports whether data, for [seq, end), differs from the stored
// segments' bytes where they cover it.
func (t *Tracker) differs(h *half, seq, end uint32, data []byte) bool {
	diff := false
	h.overlaps(seq, end, func(os, oe uint32) bool {
		diff = !bytes.Equal(h.buf[os-h.base:oe-h.base], data[os-seq:oe-seq])
		return !diff
	})
	return diff
}

// release gives the session's buffers back.
func (t *Tracker) releaseHalf(h *half) {
	if h.buf != nil {
		t.pool.put(h.buf)
	}
	segs := h.segs[:0]
	*h = half{segs: segs}
}

// normalize overwrites data (stream bytes [seq, end)) with the bytes the
// stream keeps for that range, where it still has them.
func (t *Tracker) normalize(h *half, seq, end uint32, data []byte) {
	h.overlaps(seq, end, func(os, oe uint32) bool {
		copy(data[os-seq:oe-seq], h.buf[os-h.base:oe-h.base])
		return true
	})
}

// overlaps calls fn with each range [os, oe) where a stored segment of h
// overlaps [seq, end) (clipped to what the buffer still holds), in order,
// until fn returns false.
func (h *half) overlaps(seq, end uint32, fn func(os, oe uint32) bool) {
	for _, sg := range h.segs {
		if !seqLT(sg.seq, end) {
			break
		}
		os, oe := seqMax(seqMax(sg.seq, seq), h.base), seqMin(sg.end, end)
		if !seqLT(os, oe) {
			continue
		}
		if !fn(os, oe) {
			return
		}
	}
}
