package pipeline

// Flow bypass: a flow the engine no longer needs to inspect is handed to
// the XDP program (dataplane/bypass), which forwards (bridge) or drops
// (IDS copy) its packets in the kernel, before they reach a capture socket.
//
// Each worker owns a Bypasser (Stages.Bypass). It keeps the bypass state of
// the worker's flows keyed by flow ID, so the flow table needs no field of
// its own, and talks to the kernel through FlowBypass (*bypass.Program; a
// fake in tests). The pipeline calls it at five points:
//
//   - every packet with a flow (Bypasser.packet): a packet of a bypassed
//     flow is counted and goes on with VerdictBypass, without stream,
//     app-layer or detection work. A FIN from both sides or an RST ends the
//     kernel bypass: the kernel's counters are added to the flow and the
//     map entries deleted (the program sends FIN/RST segments to user space
//     for this reason).
//   - after inspection (Single.bypassCheck): the triggers. Stream depth
//     reached in both directions, a matching signature with the bypass
//     keyword, a matching pass signature, a TLS flow gone encrypted, the
//     stream memcap exception policy "bypass". The flow goes to the kernel
//     (Add); when the program cannot match its packets (tunnels, fragments,
//     IPv6 extension headers, ICMP) or there is no kernel program (NFQUEUE
//     with a bypass mark, pcap files), it is bypassed locally: its packets
//     still arrive and are only counted. When the kernel map is full the flow
//     stays inspected in user space and the miss is counted.
//   - before every flow timeout sweep (Bypasser.sync): the kernel counters
//     of each bypassed flow are read; the packets and bytes handled in the
//     kernel since the last read are added to the flow record and its last
//     packet time moves to the kernel's last-seen time, so the flow table
//     times a bypassed flow out on its ordinary timeouts, counted from the
//     last packet the kernel forwarded.
//   - when a flow ends (timeout, replacement, shutdown: Bypasser.flowEnd):
//     the final counters are added and the kernel entries deleted, before
//     the flow record is written (its state is then "bypassed").
//   - the management thread's snapshot (BypassStats, "flow_bypassed.*").

import (
	"errors"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/bypass"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
)

// FlowBypass is the kernel side of flow bypass as a worker uses it: the
// flow map of the XDP program. *bypass.Program implements it; it must be
// safe for use by several workers at once.
type FlowBypass interface {
	// Add puts both directions of k into the kernel map; bypass.ErrMapFull
	// when there is no room.
	Add(k bypass.FlowKey) error
	// Delete removes both directions of k.
	Delete(k bypass.FlowKey) error
	// CountersByDirection reads the kernel's counters of k's direction
	// and of the reverse one; bypass.ErrNoFlow when neither is there.
	CountersByDirection(k bypass.FlowKey) (fwd, rev bypass.Counters, err error)
}

// BypassTrigger names what bypassed a flow.
type BypassTrigger uint8

// Bypass triggers.
const (
	TriggerStreamDepth     BypassTrigger = iota // reassembly depth reached in both directions
	TriggerRule                                 // a matching signature with the bypass keyword
	TriggerPassRule                             // a matching pass signature
	TriggerTLSEncrypted                         // the TLS flow is encrypted and not inspected further
	TriggerExceptionPolicy                      // the stream memcap exception policy is bypass
	numBypassTriggers
)

var bypassTriggerNames = [numBypassTriggers]string{"stream_depth", "rule", "pass_rule", "tls_encrypted", "exception_policy"}

// String returns the trigger's name in the stats ("stream_depth", ...).
func (t BypassTrigger) String() string {
	if t < numBypassTriggers {
		return bypassTriggerNames[t]
	}
	return "unknown"
}

// BypassTriggers switches the triggers on (profiles: bypass.triggers).
type BypassTriggers struct {
	StreamDepth     bool // stream-depth
	Rule            bool // rule: the bypass keyword
	PassRule        bool // rule: pass signatures
	TLSEncrypted    bool // tls-encrypted, or encryption-handling: bypass
	ExceptionPolicy bool // stream.memcap-policy: bypass
}

// BypassOptions configure a worker's Bypasser.
type BypassOptions struct {
	// Kernel is the XDP program's flow map. Nil: every bypass is local
	// (the flow's packets still reach the worker and are only counted), as
	// with NFQUEUE, whose bypass is the verdict's netfilter mark, and pcap
	// files.
	Kernel FlowBypass
	// Triggers are the triggers in force.
	Triggers BypassTriggers
	// ExpectedFlows sizes the flow state up front (default 1024), so that
	// bypassing allocates nothing until that many flows are bypassed at
	// once.
	ExpectedFlows int
}

// BypassStats are a worker's bypass counters (Snapshot.Bypass), listed as
// "flow_bypassed.*". Flows are counted once, when they are bypassed.
type BypassStats struct {
	// Flows bypassed, by trigger (flow_bypassed.trigger.*).
	Triggered [numBypassTriggers]uint64
	Capture   uint64 // flows handed to the kernel program
	Local     uint64 // flows bypassed in user space only (no program, or a key it cannot match)
	MapFull   uint64 // flows the kernel map had no room for: kept inspected in user space
	Errors    uint64 // kernel map operations that failed otherwise (Add: the flow is kept inspected)
	Active    uint64 // flows bypassed now
	Closed    uint64 // bypassed flows that ended
	FinRst    uint64 // kernel bypasses ended by a FIN from both sides or an RST
	// Pkts and Bytes are what the kernel forwarded or dropped for bypassed
	// flows (frame bytes, link layer included), added to their flows.
	Pkts, Bytes uint64
	// LocalPkts and LocalBytes count packets of locally bypassed flows
	// that reached the worker (not inspected).
	LocalPkts, LocalBytes uint64
	// LocalCapturePkts and LocalCaptureBytes count packets of flows in the
	// kernel map that still reached the worker: FIN/RST segments, packets
	// already queued to the socket when the flow was added, and those the
	// program does not parse (fragments).
	LocalCapturePkts, LocalCaptureBytes uint64
}

// Bypass state of a flow.
const (
	bypassLocal   uint8 = iota + 1 // bypassed, packets still arrive
	bypassCapture                  // in the kernel map
	bypassRefused                  // the kernel map refused it: inspected as usual
)

// bypassEnd is how an ended flow was bypassed (EVE flow "bypass",
// "bypassed").
type bypassEnd struct {
	kind        string
	pkts, bytes [2]uint64
}

// bypassFlow is the bypass state of one flow of the worker.
type bypassFlow struct {
	f     *flow.Flow
	key   bypass.FlowKey // client -> server direction
	state uint8
	fin   uint8 // directions that sent a FIN since the bypass (1: to server, 2: to client)
	// pkts and bytes are the kernel counters (to server, to client)
	// already added to the flow.
	pkts, bytes [2]uint64
	// totPkts and totBytes are all the kernel carried for the flow (the
	// EVE flow record's "bypassed").
	totPkts, totBytes [2]uint64
	inKernel          bool // the kernel carried the flow at some point
}

// Bypasser is one worker's flow bypass: the triggers, the state of the
// worker's bypassed flows, and the counters. It is owned by its worker (not
// safe for concurrent use); the FlowBypass it uses is shared.
type Bypasser struct {
	opts  BypassOptions
	flows map[uint64]bypassFlow // by flow ID
	stats BypassStats
	// err is the last kernel map error other than a full map.
	err error
	// ended describes the bypass of the flow flowEnd last reported.
	ended bypassEnd
}

// NewBypasser returns a worker's Bypasser.
func NewBypasser(o BypassOptions) *Bypasser {
	if o.ExpectedFlows <= 0 {
		o.ExpectedFlows = 1024
	}
	return &Bypasser{opts: o, flows: make(map[uint64]bypassFlow, o.ExpectedFlows)}
}

// Stats returns the counters (read by the owning worker's snapshot).
func (b *Bypasser) Stats() BypassStats { return b.stats }

// LastError returns the last kernel map error other than a full map (nil
// if none); each one is also counted in BypassStats.Errors.
func (b *Bypasser) LastError() error { return b.err }

// Bypassed reports whether the flow with this ID is bypassed now, and
// whether the kernel program handles its packets.
func (b *Bypasser) Bypassed(flowID uint64) (bypassed, inKernel bool) {
	e, ok := b.flows[flowID]
	if !ok || e.state == bypassRefused {
		return false, false
	}
	return true, e.state == bypassCapture
}

// Trigger bypasses p's flow f for reason t (whether or not t is switched
// on in the options) unless it is bypassed already or the kernel refused
// it before. p sets the key and, if it carries VerdictForward, gets
// VerdictBypass. It reports whether the flow is bypassed now; false means
// it stays inspected (kernel map full or failing).
func (b *Bypasser) Trigger(p *packet.Packet, f *flow.Flow, t BypassTrigger) bool {
	if e, ok := b.flows[f.ID]; ok {
		return e.state != bypassRefused
	}
	e := bypassFlow{f: f, state: bypassLocal}
	if b.opts.Kernel != nil {
		if k, ok := bypass.KeyFromPacket(p); ok {
			if p.Flags&packet.FlagToClient != 0 {
				k = k.Reverse()
			}
			e.key = k
			switch err := b.opts.Kernel.Add(k); {
			case err == nil:
				e.state, e.inKernel = bypassCapture, true
			case errors.Is(err, bypass.ErrMapFull):
				b.stats.MapFull++
				e.state = bypassRefused
			default:
				b.stats.Errors++
				b.err = err
				e.state = bypassRefused
			}
		}
	}
	b.flows[f.ID] = e
	if e.state == bypassRefused {
		return false
	}
	if e.state == bypassCapture {
		b.stats.Capture++
	} else {
		b.stats.Local++
	}
	if t < numBypassTriggers {
		b.stats.Triggered[t]++
	}
	b.stats.Active++
	if p.Verdict == packet.VerdictForward {
		p.Verdict = packet.VerdictBypass
	}
	return true
}

// packet handles a packet of flow f before inspection. It reports true
// when f is bypassed: the packet is counted and given VerdictBypass, and
// the caller does no more with it. A FIN from both sides or an RST ends a
// kernel bypass (the rest of the flow is bypassed locally).
func (b *Bypasser) packet(p *packet.Packet, f *flow.Flow) bool {
	if len(b.flows) == 0 {
		return false
	}
	e, ok := b.flows[f.ID]
	if !ok || e.state == bypassRefused {
		return false
	}
	n := uint64(len(p.Data))
	if e.state == bypassCapture {
		b.stats.LocalCapturePkts++
		b.stats.LocalCaptureBytes += n
		if p.IsTCP() && p.TCPFlags&(packet.TCPFin|packet.TCPRst) != 0 {
			if p.TCPFlags&packet.TCPFin != 0 {
				if p.Flags&packet.FlagToClient != 0 {
					e.fin |= 2
				} else {
					e.fin |= 1
				}
			}
			if p.TCPFlags&packet.TCPRst != 0 || e.fin == 3 {
				b.release(&e)
				e.state = bypassLocal
				b.stats.FinRst++
			}
			b.flows[f.ID] = e
		}
	} else {
		b.stats.LocalPkts++
		b.stats.LocalBytes += n
	}
	if p.Verdict == packet.VerdictForward {
		p.Verdict = packet.VerdictBypass
	}
	return true
}

// merge adds the kernel's counters of e's flow since the last merge to the
// flow and moves its last packet time to the kernel's last-seen time. It
// reports false when the kernel has no entry for the flow any more.
func (b *Bypasser) merge(e *bypassFlow) bool {
	fwd, rev, err := b.opts.Kernel.CountersByDirection(e.key)
	if err != nil {
		if !errors.Is(err, bypass.ErrNoFlow) {
			b.stats.Errors++
			b.err = err
			return true
		}
		return false
	}
	f := e.f
	for d, c := range [2]*bypass.Counters{&fwd, &rev} {
		// Counters only grow while the entry lives; a smaller value is an
		// entry re-created meanwhile: take it whole.
		dp, db := c.Packets-e.pkts[d], c.Bytes-e.bytes[d]
		if c.Packets < e.pkts[d] || c.Bytes < e.bytes[d] {
			dp, db = c.Packets, c.Bytes
		}
		e.pkts[d], e.bytes[d] = c.Packets, c.Bytes
		e.totPkts[d] += dp
		e.totBytes[d] += db
		if d == 0 {
			f.PktsToServer += dp
			f.BytesToServer += db
		} else {
			f.PktsToClient += dp
			f.BytesToClient += db
		}
		b.stats.Pkts += dp
		b.stats.Bytes += db
		if c.Packets > 0 && !c.LastSeen.IsZero() {
			if ns := c.LastSeen.UnixNano(); ns > f.LastNs {
				f.LastNs = ns
			}
		}
	}
	return true
}

// release adds e's final kernel counters to its flow and deletes its
// kernel entries.
func (b *Bypasser) release(e *bypassFlow) {
	b.merge(e)
	if err := b.opts.Kernel.Delete(e.key); err != nil {
		b.stats.Errors++
		b.err = err
	}
}

// sync brings every kernel-bypassed flow of the worker up to date with the
// kernel's counters (call it before each flow timeout sweep). Cost: two
// map lookups per kernel-bypassed flow.
func (b *Bypasser) sync() {
	if b.opts.Kernel == nil {
		return
	}
	for id, e := range b.flows {
		if e.state != bypassCapture {
			continue
		}
		if !b.merge(&e) {
			// The entry is gone (deleted from outside): the flow's
			// packets reach the worker again, bypassed locally.
			e.state = bypassLocal
		}
		b.flows[id] = e
	}
}

// flowEnd forgets f as it ends: a kernel bypass is released (final counters
// added to f, entries deleted). It reports whether f was bypassed.
func (b *Bypasser) flowEnd(f *flow.Flow) bool {
	if len(b.flows) == 0 {
		return false
	}
	e, ok := b.flows[f.ID]
	if !ok {
		return false
	}
	delete(b.flows, f.ID)
	if e.state == bypassRefused {
		return false
	}
	if e.state == bypassCapture {
		b.release(&e)
	}
	b.ended = bypassEnd{kind: "local"}
	if e.inKernel {
		b.ended = bypassEnd{kind: "capture", pkts: e.totPkts, bytes: e.totBytes}
	}
	b.stats.Active--
	b.stats.Closed++
	return true
}

// bypassCheck looks for bypass triggers on p, a packet of flow f that was
// just tracked and inspected; sess is its TCP session (nil if none).
func (s *Single) bypassCheck(p *packet.Packet, f *flow.Flow, sess *stream.Session) {
	rule := s.bypassRule
	s.bypassRule = false
	b := s.Bypass
	if b == nil || f == nil || p.Flags&packet.FlagPseudo != 0 ||
		p.Verdict == packet.VerdictDrop || p.Verdict == packet.VerdictReject {
		return
	}
	t := &b.opts.Triggers
	switch {
	case p.Verdict == packet.VerdictBypass:
		// Set by the stream tracker: memcap exception policy bypass.
		if t.ExceptionPolicy {
			b.Trigger(p, f, TriggerExceptionPolicy)
		}
	case rule && t.Rule:
		b.Trigger(p, f, TriggerRule)
	case t.PassRule && (s.Detect != nil && s.Detect.Passed() || f.Action == flow.ActionPass && !f.ActionByPolicy):
		b.Trigger(p, f, TriggerPassRule)
	case t.StreamDepth && sess != nil && sess.DepthReached(stream.ToServer) && sess.DepthReached(stream.ToClient):
		b.Trigger(p, f, TriggerStreamDepth)
	case t.TLSEncrypted && s.App != nil && f.AppProto == flow.AppProtoTLS:
		if enc, pol := s.App.Encrypted(f); enc && pol != applayer.EncryptionFull {
			b.Trigger(p, f, TriggerTLSEncrypted)
		}
	}
}

// bypassSeen is the per-packet hook: true when p's flow is bypassed and p
// needs no inspection.
func (s *Single) bypassSeen(p *packet.Packet, f *flow.Flow) bool {
	return s.Bypass != nil && s.Bypass.packet(p, f)
}

// bypassSync runs before each flow timeout sweep.
func (s *Single) bypassSync() {
	if s.Bypass != nil {
		s.Bypass.sync()
	}
}

// bypassFlowEnd runs first when a flow ends; logFlow reads the result.
func (s *Single) bypassFlowEnd(f *flow.Flow) {
	s.bypassEnded = s.Bypass != nil && s.Bypass.flowEnd(f)
}
