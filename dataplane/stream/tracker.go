// Package stream tracks TCP sessions and reassembles their data.
//
// A Tracker follows each TCP flow through Suricata's state machine
// (three-way, split and simultaneous handshakes, FIN and RST teardown,
// sequence, acknowledgement, window and timestamp checks), raises
// Suricata's stream events on the packets, and reassembles each direction
// in sequence order, resolving overlapping data with the target-based
// policy of the receiving host.
//
// Reassembled data goes two ways: to a Consumer (the application layer),
// which reads it like a socket and says how much it consumed, and to raw
// stream inspection (Session.RawData / RawConsume). In IDS mode data is
// exposed once the receiver acknowledged it; in inline mode (Config.Inline)
// as soon as it is in order.
//
// Memory: payload bytes are copied once, into per-direction buffers taken
// from a pool bounded by Config.ReassemblyMemcap; sessions are pooled and
// bounded by Config.Memcap. Processing an in-order segment allocates
// nothing once the pools are warm. A Tracker is not safe for concurrent
// use: each worker owns one, as it owns its flow table.
//
// Wiring: call Process for each decoded TCP packet after flow.Table.Lookup
// (it needs the packet's direction flags); the session's handle lives in
// flow.Flow.StreamSession. Call FlowEnd for every flow the table ends (its
// OnEnd, Expire and Flush callbacks), before the flow's memory is reused,
// or the session stays allocated. When Session.DepthReached is true in both
// directions, or the session has FlagPassFlow, the caller may bypass the
// flow.
package stream

import (
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Tracker holds the TCP sessions of one worker.
type Tracker struct {
	cfg      Config
	sessions []*Session // handle-1 -> session
	free     []uint32   // free handles
	pool     bufPool
	scratch  []byte
	stats    Stats
}

// NewTracker returns a Tracker for cfg (zero fields take defaults).
func NewTracker(cfg Config) (*Tracker, error) {
	if registerErr != nil {
		return nil, registerErr
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	t := &Tracker{cfg: cfg, scratch: make([]byte, 65536)}
	t.pool.memcap = cfg.ReassemblyMemcap
	return t, nil
}

// Config returns the configuration in use, defaults filled in.
func (t *Tracker) Config() Config { return t.cfg }

// Stats returns the counters.
func (t *Tracker) Stats() Stats {
	st := t.stats
	st.ReassemblyMem = t.pool.inUse
	return st
}

// Session returns the live session of f, or nil.
func (t *Tracker) Session(f *flow.Flow) *Session {
	if f == nil {
		return nil
	}
	h := f.StreamSession
	if h == 0 || int(h) > len(t.sessions) {
		return nil
	}
	s := t.sessions[h-1]
	if !s.inUse || s.FlowID != f.ID {
		return nil
	}
	return s
}

func (t *Tracker) event(p *packet.Packet, e packet.EventID) {
	t.stats.Events[e-EventBase]++
	if p != nil {
		p.SetEvent(e)
	}
}

func (t *Tracker) invalid(p *packet.Packet, e packet.EventID) {
	t.stats.Invalid++
	if e != 0 {
		t.event(p, e)
	}
}

// memcapHit applies the memcap exception policy (s may be nil when the
// session itself could not be created).
func (t *Tracker) memcapHit(s *Session, p *packet.Packet, session bool) {
	if session {
		t.stats.SessionMemcap++
	} else {
		t.stats.ReassemblyMemcap++
	}
	pol := t.cfg.MemcapPolicy
	t.stats.MemcapByPolicy[pol]++
	var fl uint32
	switch pol {
	case ExceptionDropFlow:
		fl = FlagDropFlow
		if p != nil {
			p.Verdict = packet.VerdictDrop
			p.DropReason = packet.DropReasonStreamMemcap
		}
	case ExceptionPassFlow:
		fl = FlagPassFlow
	case ExceptionBypass:
		fl = FlagPassFlow | FlagBypass
		if p != nil {
			p.Verdict = packet.VerdictBypass
		}
	}
	if s != nil {
		s.Flags |= fl
	}
}

// alloc takes a session for f, or returns nil when Memcap is reached.
func (t *Tracker) alloc(f *flow.Flow, p *packet.Packet) *Session {
	if (t.stats.Active+1)*SessionSize > t.cfg.Memcap {
		return nil
	}
	var s *Session
	if n := len(t.free); n > 0 {
		s = t.sessions[t.free[n-1]-1]
		t.free = t.free[:n-1]
	} else {
		s = &Session{t: t, handle: uint32(len(t.sessions) + 1)}
		t.sessions = append(t.sessions, s)
	}
	s.inUse = true
	s.FlowID = f.ID
	f.StreamSession = s.handle
	t.stats.Active++
	t.stats.Sessions++
	t.stats.SessionMem = t.stats.Active * SessionSize
	if p.Flags&packet.FlagToClient != 0 {
		s.Client, s.Server = p.DstIP, p.SrcIP
	} else {
		s.Client, s.Server = p.SrcIP, p.DstIP
	}
	s.Policy = [2]Policy{PolicyBSD, PolicyBSD}
	if hp := t.cfg.HostPolicy; hp != nil {
		s.Policy[ToServer] = hp(s.Server)
		s.Policy[ToClient] = hp(s.Client)
	}
	return s
}

// FlowEnd ends the session of f: the consumer gets every byte still in
// order (unacknowledged data included, gaps crossed), raw gets what raw
// inspection has not seen yet (for pseudo packets with pkt_src "stream
// (flow timeout)"; the slice is valid during the call only; raw may be
// nil), and the session's memory goes back to the pools. Call it for every
// flow that ends, before the flow's memory is reused.
func (t *Tracker) FlowEnd(f *flow.Flow, raw func(s *Session, dir Dir, data []byte)) {
	s := t.Session(f)
	if s == nil {
		return
	}
	f.StreamSession = 0
	if s.Flags&FlagPassFlow == 0 {
		for d := ToServer; d <= ToClient; d++ {
			t.deliver(s, d, nil, true)
			if raw != nil && s.RawPending(d) > 0 {
				if data, _ := s.RawData(d); len(data) > 0 {
					raw(s, d, data)
				}
			}
		}
	}
	t.releaseHalf(&s.half[0])
	t.releaseHalf(&s.half[1])
	*s = Session{t: t, handle: s.handle, half: s.half}
	t.free = append(t.free, s.handle)
	t.stats.Active--
	t.stats.SessionMem = t.stats.Active * SessionSize
	t.stats.ReassemblyMem = t.pool.inUse
}

// Process runs one decoded TCP packet of flow f (after the flow lookup,
// which set its direction flags) through the session's state machine and
// reassembly, raising events on p. It returns the session, or nil when the
// packet has none (not TCP, no handshake seen and midstream pickup off,
// memcap). A session marked DropFlow sets p.Verdict to drop; one marked
// PassFlow is no longer tracked.
//
// For a packet with a session it also sets packet.FlagEstablished from the
// TCP state, as Suricata's flow:established follows the session: from the
// packet after the one that completes the handshake to the session's end,
// FIN and RST packets included (the flow table's own view ends at the first
// FIN). The handshake's final ACK is not established: Suricata decides
// before the stream engine moves the session on. A session picked up mid
// stream is established from its first packet.
func (t *Tracker) Process(p *packet.Packet, f *flow.Flow) *Session {
	before := StateNone
	if f != nil {
		if s := t.Session(f); s != nil {
			before = s.State
		}
	}
	s := t.process(p, f)
	if s != nil {
		if s.State >= StateEstablished && (before >= StateEstablished || s.Flags&FlagMidstream != 0) {
			p.Flags |= packet.FlagEstablished
		} else {
			p.Flags &^= packet.FlagEstablished
		}
	}
	return s
}

func (t *Tracker) process(p *packet.Packet, f *flow.Flow) *Session {
	if p == nil || f == nil || !p.IsTCP() {
		return nil
	}
	dir := ToServer
	if p.Flags&packet.FlagToClient != 0 {
		dir = ToClient
	}
	s := t.Session(f)
	if s != nil {
		if s.Flags&FlagDropFlow != 0 {
			p.Verdict = packet.VerdictDrop
			p.DropReason = packet.DropReasonExceptionFlowDrop
			return s
		}
		if s.Flags&FlagPassFlow != 0 {
			if s.Flags&FlagBypass != 0 {
				p.Verdict = packet.VerdictBypass
			}
			return s
		}
	}
	fl := p.TCPFlags
	if fl&packet.TCPAck == 0 && p.TCPAck != 0 && fl&packet.TCPRst == 0 {
		t.event(p, EvPktBrokenAck)
	}
	if fl&(packet.TCPSyn|packet.TCPFin) == packet.TCPSyn|packet.TCPFin {
		t.invalid(p, EvFinSyn)
		return s
	}
	if s == nil {
		return t.start(p, f, dir)
	}
	t.handle(s, p, dir)
	if s.Flags&FlagPassFlow == 0 {
		final := s.State == StateClosed
		t.deliver(s, dir, p, final)
		t.deliver(s, dir^1, p, final)
	}
	return s
}

// Packet field helpers.
func payloadLen(p *packet.Packet) uint32 {
	if p.PayloadLen <= 0 {
		return 0
	}
	return uint32(p.PayloadLen)
}

// window returns the packet's window, scaled when scaling is in use and
// the packet is not a SYN.
func (s *Session) window(p *packet.Packet, h *half) uint32 {
	w := uint32(p.TCPWindow)
	if s.Flags&FlagWScale != 0 && p.TCPFlags&packet.TCPSyn == 0 {
		w <<= h.wscale
	}
	return w
}

// synOptions records the options of a SYN or SYN/ACK in h.
func synOptions(h *half, p *packet.Packet) {
	h.hasWS = p.Flags&packet.FlagTCPWScale != 0
	h.wscale = p.TCPWScale
	if h.wscale > 14 {
		h.wscale = 14
	}
	h.tsOK = p.Flags&packet.FlagTCPTS != 0
	if h.tsOK {
		h.tsVal = p.TCPTSVal
	}
	h.window = uint32(p.TCPWindow)
}

// negotiate sets the session options both SYNs agreed on.
func (s *Session) negotiate(c, sv *half) {
	if c.hasWS && sv.hasWS {
		s.Flags |= FlagWScale
	} else {
		c.wscale, sv.wscale = 0, 0
	}
	if c.tsOK && sv.tsOK {
		s.Flags |= FlagTimestamps
	}
}

// midstreamPolicy applies Config.MidstreamPolicy to p, a packet of flow f
// that has no session because its start was not seen. The decision is kept
// on the flow (flow.Action), which has no session to carry it.
func (t *Tracker) midstreamPolicy(p *packet.Packet, f *flow.Flow) {
	pol := t.cfg.MidstreamPolicy
	t.stats.MidstreamByPolicy[pol]++
	switch pol {
	case ExceptionDropFlow:
		p.Verdict = packet.VerdictDrop
		p.DropReason = packet.DropReasonStreamMidstream
		f.Action, f.ActionByPolicy = flow.ActionDrop, true
	case ExceptionPassFlow:
		f.Action, f.ActionByPolicy = flow.ActionPass, true
	case ExceptionBypass:
		p.Verdict = packet.VerdictBypass
		f.Action, f.ActionByPolicy = flow.ActionPass, true
	}
}

// start handles the first packet of a flow without a session.
func (t *Tracker) start(p *packet.Packet, f *flow.Flow, dir Dir) *Session {
	fl := p.TCPFlags
	syn, ack := fl&packet.TCPSyn != 0, fl&packet.TCPAck != 0
	switch {
	case fl&packet.TCPRst != 0:
		t.stats.NoSession++
		t.event(p, EvRstButNoSession)
		return nil
	case syn && !ack:
	case syn && ack:
		if !t.cfg.Midstream {
			t.stats.NoSession++
			t.midstreamPolicy(p, f)
			return nil
		}
	default:
		if !t.cfg.Midstream {
			t.stats.NoSession++
			if fl&packet.TCPFin != 0 {
				t.event(p, EvFinButNoSession)
			}
			t.midstreamPolicy(p, f)
			return nil
		}
	}
	s := t.alloc(f, p)
	if s == nil {
		t.memcapHit(nil, p, true)
		return nil
	}
	h, r := &s.half[dir], &s.half[dir^1]
	seq, n := p.TCPSeq, payloadLen(p)
	switch {
	case syn && !ack:
		s.State = StateSynSent
		synOptions(h, p)
		h.isn, h.seen, h.synCount = seq, true, 1
		h.nextSeq = seq + 1
		if p.Flags&packet.FlagTCPSACKOK != 0 {
			s.Flags |= FlagSACK // provisional: cleared if the SYN/ACK lacks it
		}
		if n > 0 { // TCP Fast Open: data on the SYN
			s.Flags |= FlagTFO
			h.tfoLen = n
			h.nextSeq += n
			t.insert(s, dir, p, seq+1, p.Payload())
		}
	case syn && ack: // SYN/ACK picked up mid-handshake
		s.State = StateSynRecv
		s.Flags |= FlagMidstream
		t.stats.Midstream++
		synOptions(h, p)
		h.isn, h.seen, h.synCount = seq, true, 1
		h.nextSeq = seq + 1
		r.isn, r.nextSeq = p.TCPAck-1, p.TCPAck
		r.lastAck, r.ackSeen = p.TCPAck, true
		r.hasWS, r.wscale = h.hasWS, 0 // the SYN's options are unknown
	default: // mid-stream pickup
		s.State = StateEstablished
		s.Flags |= FlagMidstream
		t.stats.Midstream++
		h.isn, h.nextSeq, h.seen = seq-1, seq, true
		h.lastAck = seq
		h.window = uint32(p.TCPWindow)
		if ack {
			r.isn, r.nextSeq = p.TCPAck-1, p.TCPAck
			r.lastAck, r.ackSeen = p.TCPAck, true
		}
		if p.Flags&packet.FlagTCPTS != 0 {
			h.tsOK, h.tsVal = true, p.TCPTSVal
		}
		t.established(s, p, dir)
		t.deliver(s, dir, p, s.State == StateClosed)
		t.deliver(s, dir^1, p, s.State == StateClosed)
	}
	return s
}

// handle dispatches a packet of an existing session by state.
func (t *Tracker) handle(s *Session, p *packet.Packet, dir Dir) {
	if s.State == StateClosed {
		return
	}
	if s.State == StateSynSent && !synSentEchoOK(s, p, dir) {
		// A packet from the server that echoes a timestamp the client
		// never sent is no answer to the SYN (an injected RST or FIN, as
		// in the "linux evasion" of Suricata bug 3286): Suricata raises
		// pkt_invalid_timestamp and ignores it in SYN_SENT.
		t.invalid(p, EvPktInvalidTimestamp)
		return
	}
	if p.TCPFlags&packet.TCPRst != 0 {
		t.rst(s, p, dir)
		return
	}
	switch s.State {
	case StateSynSent:
		t.synSent(s, p, dir)
	case StateSynRecv:
		t.synRecv(s, p, dir)
	default:
		t.established(s, p, dir)
	}
}

// synSentEchoOK checks the timestamp echo of a server packet in SYN_SENT
// against the client's SYN: equal, or absent (0).
func synSentEchoOK(s *Session, p *packet.Packet, dir Dir) bool {
	if dir != ToClient || p.Flags&packet.FlagTCPTS == 0 {
		return true
	}
	c, ecr := &s.half[ToServer], p.TCPTSEcr
	if c.tsOK {
		return c.tsVal == 0 || ecr == 0 || ecr == c.tsVal
	}
	return ecr == 0
}

// synFlood counts a SYN or SYN/ACK transmission and raises the flood event
// once the count passes Config.MaxSynQueued.
func (t *Tracker) synFlood(h *half, p *packet.Packet, ev packet.EventID) {
	if h.synCount < 0xffff {
		h.synCount++
	}
	if int(h.synCount) > t.cfg.MaxSynQueued+1 {
		t.event(p, ev)
	}
}

func (t *Tracker) synSent(s *Session, p *packet.Packet, dir Dir) {
	fl := p.TCPFlags
	syn, ack := fl&packet.TCPSyn != 0, fl&packet.TCPAck != 0
	c, sv := &s.half[ToServer], &s.half[ToClient]
	seq := p.TCPSeq
	switch {
	case dir == ToClient && syn && ack:
		if s.Flags&Flag4WHS != 0 {
			t.invalid(p, Ev3WHSSynAckInWrongDirection)
			return
		}
		if p.TCPAck != c.isn+1 && p.TCPAck != c.isn+1+c.tfoLen {
			t.invalid(p, Ev3WHSSynAckWithWrongAck)
			return
		}
		if c.tfoLen > 0 && p.TCPAck == c.isn+1 {
			t.event(p, Ev3WHSSynAckTFODataIgnored)
			t.dropTFO(s, c)
		}
		synOptions(sv, p)
		sv.isn, sv.nextSeq, sv.seen, sv.synCount = seq, seq+1, true, 1
		c.lastAck, c.ackSeen = p.TCPAck, true
		s.negotiate(c, sv)
		if p.Flags&packet.FlagTCPSACKOK == 0 {
			s.Flags &^= FlagSACK
		}
		s.State = StateSynRecv
	case dir == ToClient && syn: // simultaneous open / split handshake
		synOptions(sv, p)
		sv.isn, sv.nextSeq, sv.seen, sv.synCount = seq, seq+1, true, 1
		s.Flags |= Flag4WHS
	case dir == ToServer && syn && ack:
		if s.Flags&Flag4WHS == 0 {
			t.invalid(p, Ev3WHSSynAckInWrongDirection)
			return
		}
		if p.TCPAck != sv.isn+1 {
			t.invalid(p, Ev4WHSSynAckWithWrongAck)
			return
		}
		if seq != c.isn {
			t.invalid(p, Ev4WHSSynAckWithWrongSyn)
			return
		}
		sv.lastAck, sv.ackSeen = p.TCPAck, true
		c.hasWS = p.Flags&packet.FlagTCPWScale != 0
		if c.hasWS {
			c.wscale = min(p.TCPWScale, 14)
		}
		s.negotiate(c, sv)
		s.State = StateSynRecv
	case dir == ToServer && syn:
		t.synFlood(c, p, Ev3WHSSynFlood)
		if seq != c.isn {
			// A new attempt with another ISN replaces the first (as
			// Suricata does in SYN_SENT).
			t.dropTFO(s, c)
			c.isn, c.nextSeq, c.tfoLen = seq, seq+1, 0
			synOptions(c, p)
		}
	case dir == ToServer && ack && t.cfg.AsyncOneside:
		if seq != c.nextSeq {
			t.invalid(p, Ev3WHSAsyncWrongSeq)
			return
		}
		s.State = StateEstablished
		s.Flags |= FlagAsync
		t.stats.Async++
		sv.isn, sv.nextSeq = p.TCPAck-1, p.TCPAck
		t.established(s, p, dir)
	default:
		t.invalid(p, 0)
	}
}

// dropTFO forgets data queued from a SYN whose data the server did not
// take.
func (t *Tracker) dropTFO(s *Session, c *half) {
	if c.tfoLen == 0 {
		return
	}
	if c.buf != nil {
		t.pool.put(c.buf)
	}
	segs := c.segs[:0]
	c.started, c.buf, c.segs, c.depthHit = false, nil, segs, false
	c.nextSeq -= c.tfoLen
	c.tfoLen = 0
	s.Flags &^= FlagTFO
}

func (t *Tracker) synRecv(s *Session, p *packet.Packet, dir Dir) {
	fl := p.TCPFlags
	syn, ack := fl&packet.TCPSyn != 0, fl&packet.TCPAck != 0
	c, sv := &s.half[ToServer], &s.half[ToClient]
	seq, n := p.TCPSeq, payloadLen(p)
	four := s.Flags&Flag4WHS != 0
	switch {
	case syn && ack && dir == ToClient && four:
		// Simultaneous open: each side answers the other's SYN.
		if p.TCPAck != c.nextSeq || seq != sv.isn {
			t.invalid(p, Ev4WHSSynAckWithWrongAck)
			return
		}
		c.lastAck, c.ackSeen = p.TCPAck, true
		s.State = StateEstablished
	case syn && ack && dir == ToClient:
		t.synFlood(sv, p, Ev3WHSSynAckFlood)
		if p.TCPAck != c.lastAck {
			t.invalid(p, Ev3WHSSynAckResendWithDifferentAck)
		} else if seq != sv.isn {
			t.invalid(p, Ev3WHSSynAckResendWithDiffSeq)
		}
	case syn && ack: // to server
		if !four {
			t.invalid(p, Ev3WHSSynAckToServerOnSynRecv)
		}
	case syn && dir == ToServer:
		t.synFlood(c, p, Ev3WHSSynFlood)
		if seq != c.isn {
			t.invalid(p, Ev3WHSSynResendDiffSeqOnSynRecv)
		}
	case syn:
		if !four || seq != sv.isn {
			t.invalid(p, Ev3WHSSynToClientOnSynRecv)
		}
	case !ack:
		t.invalid(p, 0)
	case four && dir == ToClient: // completes a split handshake
		if seq != sv.nextSeq {
			t.invalid(p, Ev4WHSWrongSeq)
			return
		}
		if p.TCPAck != c.nextSeq {
			t.invalid(p, Ev4WHSInvalidAck)
			return
		}
		s.State = StateEstablished
		t.established(s, p, dir)
	case four || dir == ToClient:
		t.invalid(p, Ev3WHSAckInWrongDir)
	default: // the client's ACK
		seqOK, ackOK := seq == c.nextSeq, p.TCPAck == sv.nextSeq
		if s.Flags&FlagMidstream != 0 && !c.seen {
			seqOK = seqGEQ(seq, c.nextSeq) && seqLT(seq, c.nextSeq+sv.window+1)
		}
		switch {
		case !seqOK && n > 0:
			t.invalid(p, Ev3WHSAckDataInject)
		case !seqOK && !ackOK:
			t.invalid(p, Ev3WHSWrongSeqWrongAck)
		case !ackOK:
			t.invalid(p, Ev3WHSRightSeqWrongAckEvasion)
		case !seqOK:
			t.invalid(p, 0)
		default:
			c.seen = true
			s.State = StateEstablished
			t.established(s, p, dir)
		}
	}
}

// stateEvents are the events of a state for: data or ACK out of window,
// FIN out of window, invalid ACK.
func stateEvents(st State, fin bool) (window, invalidAck packet.EventID) {
	switch st {
	case StateFinWait1:
		if fin {
			return EvFin1FinWrongSeq, EvFin1InvalidAck
		}
		return EvFin1AckWrongSeq, EvFin1InvalidAck
	case StateFinWait2:
		if fin {
			return EvFin2FinWrongSeq, EvFin2InvalidAck
		}
		return EvFin2AckWrongSeq, EvFin2InvalidAck
	case StateClosing:
		return EvClosingAckWrongSeq, EvClosingInvalidAck
	case StateCloseWait:
		if fin {
			return EvCloseWaitFinOutOfWindow, EvCloseWaitInvalidAck
		}
		return EvCloseWaitAckOutOfWindow, EvCloseWaitInvalidAck
	case StateLastAck:
		return EvLastAckAckWrongSeq, EvLastAckInvalidAck
	case StateTimeWait:
		return EvTimeWaitAckWrongSeq, EvTimeWaitInvalidAck
	}
	if fin {
		return EvFinOutOfWindow, EvFinInvalidAck
	}
	return EvEstPacketOutOfWindow, EvEstInvalidAck
}

// synInEstablished handles a SYN or SYN/ACK after the handshake.
func (t *Tracker) synInEstablished(s *Session, p *packet.Packet, dir Dir) {
	ack := p.TCPFlags&packet.TCPAck != 0
	c, sv := &s.half[ToServer], &s.half[ToClient]
	switch {
	case s.State != StateEstablished:
		t.invalid(p, EvShutdownSynResend)
	case dir == ToServer && ack:
		t.invalid(p, EvEstSynAckToServer)
	case dir == ToServer:
		if p.TCPSeq == c.isn {
			t.invalid(p, EvEstSynResend)
		} else {
			t.invalid(p, EvEstSynResendDiffSeq)
		}
	case ack:
		if p.TCPAck != c.isn+1+c.tfoLen && p.TCPAck != c.isn+1 {
			t.invalid(p, EvEstSynAckResendWithDifferentAck)
		} else if p.TCPSeq != sv.isn {
			t.invalid(p, EvEstSynAckResendWithDiffSeq)
		} else {
			t.invalid(p, EvEstSynAckResend)
		}
	default:
		t.invalid(p, EvEstSynToClient)
	}
}

// established handles a non-SYN, non-RST packet from the handshake's end
// on: checks, data, acknowledgement and the closing states.
func (t *Tracker) established(s *Session, p *packet.Packet, dir Dir) {
	fl := p.TCPFlags
	if fl&packet.TCPSyn != 0 {
		t.synInEstablished(s, p, dir)
		return
	}
	h, r := &s.half[dir], &s.half[dir^1]
	seq, n := p.TCPSeq, payloadLen(p)
	fin, ack := fl&packet.TCPFin != 0, fl&packet.TCPAck != 0
	winEv, ackEv := stateEvents(s.State, fin)
	async := s.Flags&FlagAsync != 0
	// Timestamps (PAWS, RFC 7323 5.3).
	if s.Flags&FlagTimestamps != 0 {
		if p.Flags&packet.FlagTCPTS == 0 || (h.tsOK && seqLT(p.TCPTSVal, h.tsVal)) {
			t.invalid(p, EvPktInvalidTimestamp)
			return
		}
	}
	// The ACK may not cover data the peer could not have sent: beyond what
	// was seen of it (the sensor may have missed segments) and beyond the
	// window this side offered.
	if ack && r.seen && !async && ackBeyond(p.TCPAck, r, h) {
		t.event(p, EvPktInvalidAck)
		t.invalid(p, ackEv)
		return
	}
	// Sequence inside the receiver's window.
	if (n > 0 || fin) && h.ackSeen && (r.seen || s.Flags&FlagMidstream == 0) && !async {
		// Right of the window the receiver offered (a zero window still
		// takes a one-byte probe), or so far left of the acknowledged data
		// that it cannot be a retransmission.
		right := h.lastAck + max(r.window, 1)
		tooOld := seqLT(seq+n+r.window+(1<<16), h.lastAck)
		if seqGT(seq, right) || tooOld {
			t.invalid(p, winEv)
			return
		}
	}
	if n > 0 {
		switch {
		case h.ackSeen && seqLEQ(seq+n, h.lastAck):
			t.stats.Retransmission++
			t.event(p, EvPktSpuriousRetransmission)
		case seqLT(seq, h.nextSeq) && seqLEQ(seq+n, h.nextSeq):
			t.stats.Retransmission++
			t.event(p, EvPktRetransmission)
		}
	}
	// Accept.
	if p.Flags&packet.FlagTCPTS != 0 && (!h.tsOK || seqGEQ(p.TCPTSVal, h.tsVal)) {
		h.tsOK, h.tsVal = true, p.TCPTSVal
	}
	h.seen = true
	if ack && (!r.ackSeen || seqGT(p.TCPAck, r.lastAck)) {
		r.lastAck, r.ackSeen = p.TCPAck, true
		if seqGT(p.TCPAck, r.nextSeq) { // acknowledges data the sensor missed
			r.nextSeq = p.TCPAck
		}
	}
	h.window = s.window(p, h)
	if n > 0 {
		t.insert(s, dir, p, seq, p.Payload())
	}
	end := seq + n
	if fin {
		if !h.finSent {
			h.finSent, h.finSeq = true, end
		}
		end++
	}
	if !h.seen || seqGT(end, h.nextSeq) {
		h.nextSeq = end
	}
	if fin && s.State == StateEstablished {
		s.closer = dir
		if dir == ToServer {
			s.State = StateFinWait1
		} else {
			s.State = StateCloseWait
		}
	}
	if s.State != StateEstablished {
		s.State = closingState(s)
	}
}

// closingState derives the state of a closing session from which FINs were
// sent and acknowledged.
func closingState(s *Session) State {
	cl, op := &s.half[s.closer], &s.half[s.closer^1]
	clAcked := cl.ackSeen && seqGT(cl.lastAck, cl.finSeq)
	opFin := op.finSent
	opAcked := opFin && op.ackSeen && seqGT(op.lastAck, op.finSeq)
	if s.closer == ToServer {
		switch {
		case clAcked && opAcked:
			return StateClosed
		case clAcked && opFin:
			return StateTimeWait
		case clAcked:
			return StateFinWait2
		case opFin && opAcked:
			return StateClosing
		case opFin:
			return StateClosing
		}
		return StateFinWait1
	}
	switch {
	case opAcked && clAcked:
		return StateClosed
	case opAcked:
		return StateLastAck
	case opFin:
		return StateLastAck
	}
	return StateCloseWait
}

// rst handles a RST: it closes the session if the receiver would accept
// it under its policy.
func (t *Tracker) rst(s *Session, p *packet.Packet, dir Dir) {
	h, r := &s.half[dir], &s.half[dir^1]
	seq, n := p.TCPSeq, payloadLen(p)
	ack := p.TCPFlags&packet.TCPAck != 0
	if p.Flags&packet.FlagTCPAuth != 0 {
		// The receiver checks the MD5/AO signature and drops a forged
		// RST; we cannot check it, so such a RST does not end the
		// session (Suricata security ticket 4710).
		t.invalid(p, EvSuspectedRstInject)
		return
	}
	if ack && r.seen && s.Flags&FlagAsync == 0 && ackBeyond(p.TCPAck, r, h) {
		t.invalid(p, EvRstInvalidAck)
		return
	}
	if s.Flags&FlagTimestamps != 0 && p.Flags&packet.FlagTCPTS != 0 && h.tsOK && seqLT(p.TCPTSVal, h.tsVal) {
		t.invalid(p, EvPktInvalidTimestamp)
		return
	}
	valid := true
	switch {
	case s.State == StateSynSent && dir == ToClient && !s.half[ToClient].seen:
		// Refusal of the SYN: it must acknowledge it.
		valid = ack && p.TCPAck == r.nextSeq
	case s.State == StateSynSent && dir == ToServer:
		// Suricata closes a SYN_SENT session on a client RST only when
		// it carries the SYN's own sequence number, a zero window and
		// ack isn+1; other client RSTs are ignored (no event), so an
		// evader cannot end the session before the server answers.
		if !(seq == h.isn && p.TCPWindow == 0 && p.TCPAck == h.isn+1) {
			return
		}
	case h.seen && s.Flags&FlagAsync == 0:
		win := r.window
		valid = rstSeqValid(s.Policy[dir], seq, int(n), h.nextSeq, h.lastAck, win)
	}
	if !valid {
		t.invalid(p, EvSuspectedRstInject)
		return
	}
	if n > 0 && h.started || n > 0 && s.State >= StateEstablished {
		t.insert(s, dir, p, seq, p.Payload())
	}
	s.Flags |= FlagRst
	s.State = StateClosed
}

// ackBeyond reports whether ack acknowledges data the peer r cannot have
// sent: past both what was seen of it and the window h offered it.
func ackBeyond(ack uint32, r, h *half) bool {
	if !seqGT(ack, r.nextSeq) {
		return false
	}
	edge := r.nextSeq
	if r.ackSeen {
		edge = r.lastAck
	}
	return seqGT(ack, edge+h.window)
}
