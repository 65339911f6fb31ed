// Package pipeline wires the stages of the packet path together and owns the
// threads that run them. Stages never start goroutines of their own.
//
// This file holds the single runmode: one goroutine runs capture, decode,
// flow, detection and output to completion for each batch. The workers and
// autofp runmodes (DESIGN.md, "Threads") build on the same Stages.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/reject"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/detect/engine"
	"github.com/vigil-ids/vigil/detect/rules"
	"github.com/vigil-ids/vigil/output"
	"github.com/vigil-ids/vigil/output/pipe"
	"github.com/vigil-ids/vigil/pipeline/ring"
)

// Options choose how a pipeline treats packets.
type Options struct {
	// BatchSize is the number of packets per batch (default 64).
	BatchSize int
	// IPS applies drop/reject verdicts (inline or --simulate-ips); in IDS
	// mode drop rules only alert.
	IPS bool
	// FlowExpireIntervalNs is how often, in packet time, timed-out flows are
	// swept (default one second).
	FlowExpireIntervalNs int64
	// FlowRecords writes an EVE "flow" record for every flow that ends
	// (needs Stages.EVE).
	FlowRecords bool
	// NoAlertRecords leaves alerts out of EVE (eve-log types without
	// alert); fast.log still gets them.
	NoAlertRecords bool
	// TaggedPackets writes an EVE "packet" record for every packet the tag
	// keyword selects (eve-log alert "tagged-packets: yes").
	TaggedPackets bool
	// RawChunk is how many bytes of acknowledged stream data raw stream
	// inspection waits for in IDS mode before it inspects them (Suricata's
	// stream.reassembly.toserver-chunk-size, default 2560), unless the app
	// layer triggers it, the depth is reached or the direction closes.
	RawChunk int
	// HTTPRecords, DNSRecords, TLSRecords and AnomalyRecords write those
	// EVE record types (eve-log types: http, dns, tls, anomaly).
	HTTPRecords, DNSRecords, TLSRecords, AnomalyRecords bool
	// DropRecords writes an EVE "drop" record for every packet dropped or
	// rejected inline (eve-log type drop); DropFlowsStart writes only the
	// first of each flow direction (drop "flows: start", Suricata's
	// default) and DropAlerts adds the alert of the signature that dropped
	// the packet (drop "alerts: yes").
	DropRecords, DropFlowsStart, DropAlerts bool
	// MaxLatencyNs, when not 0 (inline only), is how old a packet may be
	// (capture time to inspection, by the kernel's receive timestamp) before
	// the worker counts itself behind and applies FailOpen to it: forward it
	// uninspected (fail-open) or drop it (fail-closed, reason "overload").
	// Sources that stamp packets when they read them (AF_XDP, DPDK) never
	// look behind here: their rings fill and the kernel or NIC drops,
	// which their capture counters show.
	MaxLatencyNs int64
	FailOpen     bool
}

// Counters are what one pipeline thread counts. Every packet that enters is
// accounted for: Packets + Reassembled = IP + NotIP, and an IP packet either
// has a flow or is counted in NoFlow (the flow table's Stats say why).
type Counters struct {
	Packets     uint64 // packets taken from the source
	Reassembled uint64 // IP datagrams reassembled from fragments (inspected as extra packets)
	Bytes       uint64 // captured bytes
	IP          uint64 // packets with an IPv4 or IPv6 header decoded
	NotIP       uint64 // packets with no IP layer (ARP, LLDP, unknown link types)
	Malformed   uint64 // packets whose decoding stopped at a malformed layer
	NoFlow      uint64 // IP packets that got no flow (memcap, emergency)
	Inspected   uint64 // packets that went through detection
	Alerts      uint64 // alert records written
	Dropped     uint64 // packets given a drop/reject verdict (IPS)
	// DroppedBy counts Dropped by reason (packet.DropReason).
	DroppedBy [packet.NumDropReasons]uint64
	// FlowPassed counts packets not inspected because a pass signature
	// or policy passed their flow earlier.
	FlowPassed uint64
	// Rejected counts packets given a reject verdict inline; RejectSent
	// the resets and unreachables sent for them, RejectFailed those the
	// source could not send (or cannot: no inject support), RejectNoReply
	// those not sent because nothing answers such a packet (a RST, an ICMP
	// error, a broadcast source).
	Rejected, RejectSent, RejectFailed, RejectNoReply uint64
	// OverloadPassed and OverloadDropped count packets a worker that fell
	// behind (Options.MaxLatencyNs) forwarded uninspected or dropped.
	OverloadPassed, OverloadDropped uint64
	FlowsExpired                    uint64 // flows ended by timeout
	FlowsReplaced                   uint64 // flows the flow table ended itself (key reused after timeout, port reuse, memcap reclaim)
	FlowsAtEnd                      uint64 // flows still open when input ended
	PseudoPackets                   uint64 // flow-end pseudo packets inspected (stream data and transactions left)
	Tagged                          uint64 // tagged packets logged (EVE "packet" records)
	OutputErrors                    uint64 // records that could not be written
	SourceFailures                  uint64 // source errors other than end of input
}

// Stages are the per-thread stage objects a pipeline thread runs. Each is
// owned by exactly one thread.
type Stages struct {
	Source  capture.Source
	Decoder *decode.Decoder
	// Defrag reassembles IP fragments; nil turns reassembly off.
	Defrag *defrag.Reassembler
	Flows  *flow.Table
	// Stream tracks TCP sessions and reassembles them; nil turns stream
	// tracking off (TCP packets are inspected one by one).
	Stream *stream.Tracker
	// App is the application layer; nil turns it off. With Stream, it
	// must be the tracker's Consumer (stream.Config.Consumer).
	App *applayer.Layer
	// Detect is nil when detection is disabled.
	Detect *engine.Thread
	// EVE and Fast are nil when that output is off.
	EVE  *output.EVE
	Fast *output.FastLog
	// Pipes get chosen app-layer fields as lines (see PipeFields).
	Pipes []*pipe.Pipe
	// Bypass hands flows that need no more inspection to the kernel (or
	// bypasses them locally); nil turns flow bypass off (bypass.go).
	Bypass *Bypasser
}

// PipeFields are the field names output pipes can ask for.
var PipeFields = []string{
	"http.uri", "http.host", "http.method", "http.user_agent", "http.referer",
	"http.content_type", "http.stat_code", "http.server", "http.location",
	"dns.query", "dns.answer.name", "tls.sni", "tls.subject", "tls.issuerdn",
	"tls.fingerprint", "ja3.hash", "ja3s.hash", "ja4.hash",
}

// Single runs every stage on the calling goroutine.
type Single struct {
	Stages
	Opts     Options
	Counters Counters
	// AlertsBySig counts alerts per signature (indexed by Signature.Num),
	// for the end-of-run summary. Sized by Run.
	AlertsBySig []uint64
	// Progress, if set, is called after each batch (from this goroutine).
	Progress func(c *Counters)

	alert       output.AlertInfo
	flowInfo    output.FlowInfo
	reassembled packet.Packet // the defragmenter's output, valid until its next Process
	flowRec     output.FlowRecord
	nextExpire  int64
	onExpire    func(*flow.Flow) // bound once: no closure per sweep
	onRaw       func(*stream.Session, stream.Dir, []byte)
	anomaly     output.AnomalyInfo
	pseudo      packet.Packet // flow-end pseudo packet
	ending      *flow.Flow    // flow whose end is being processed (onRaw)
	endDone     [2]bool       // pseudo packet of that direction inspected
	bypassRule  bool          // a bypass-keyword signature matched the current packet
	rejectBuf   [reject.MaxFrameLen]byte
	bypassEnded bool // the flow being ended was bypassed (logFlow)

	batches   uint64                     // batches processed (maybeFlush)
	lastFlush int64                      // wall clock of the last output flush
	liveIdle  bool                       // autofp over live sources: expire flows by the clock when idle
	pub       publisher                  // counters for the management thread
	in        *ring.MPSC[*packet.Packet] // autofp: packets from the receivers
}

// FlowEnded is the flow table's OnEnd callback (flow.Config.OnEnd): the
// table ended a flow on its own while looking up a packet.
func (s *Single) FlowEnded(f *flow.Flow) {
	s.Counters.FlowsReplaced++
	s.endFlow(f, "timeout")
}

// endFlow finishes a flow that ends: the stream's last data goes to the
// app layer and, with the transactions left, to detection on pseudo
// packets (pkt_src "stream (flow timeout)"), the app layer's last records
// are written, its state freed, and the flow record written.
func (s *Single) endFlow(f *flow.Flow, reason string) {
	s.bypassFlowEnd(f)
	if s.App != nil {
		s.App.Begin(nil, f)
	}
	s.ending, s.endDone = f, [2]bool{}
	if s.Stream != nil && f.StreamSession != 0 {
		if s.onRaw == nil {
			s.onRaw = s.rawAtEnd
		}
		s.Stream.FlowEnd(f, s.onRaw)
	}
	if s.App != nil && s.Detect != nil && s.App.Pending(f) {
		for d := 0; d < 2; d++ {
			if !s.endDone[d] {
				s.inspectPseudo(f, d, nil)
			}
		}
	}
	s.ending = nil
	if s.App != nil {
		s.App.FlowEnding(f)
		if !s.endDone[0] && !s.endDone[1] {
			s.pseudo = packet.Packet{Origin: packet.OriginFlowTimeout, Flags: packet.FlagPseudo}
		}
		s.pseudo.TimeNs = f.LastNs
		s.writeRecords(&s.pseudo)
		s.App.Release(f)
	}
	s.logFlow(f, reason)
}

// rawAtEnd is the stream tracker's FlowEnd callback: data of direction dir
// that raw inspection has not seen yet.
func (s *Single) rawAtEnd(_ *stream.Session, dir stream.Dir, data []byte) {
	f := s.ending
	if f == nil || s.Detect == nil {
		return
	}
	s.inspectPseudo(f, int(dir)&1, data)
}

// inspectPseudo runs detection on a pseudo packet of direction d (0 to
// server) of flow f carrying the stream data raw (may be nil) and the
// flow's transactions.
func (s *Single) inspectPseudo(f *flow.Flow, d int, raw []byte) {
	p := &s.pseudo
	*p = packet.Packet{}
	p.Origin = packet.OriginFlowTimeout
	p.TimeNs = f.LastNs
	p.IPProto = f.Key.Proto
	p.Flags = packet.FlagPseudo | packet.FlagEstablished
	if f.Key.SrcAddr().Is4() {
		p.Flags |= packet.FlagIPv4
	} else {
		p.Flags |= packet.FlagIPv6
	}
	switch f.Key.Proto {
	case packet.ProtoTCP:
		p.Flags |= packet.FlagTCP
	case packet.ProtoUDP:
		p.Flags |= packet.FlagUDP
	}
	c, sv := f.Key.SrcAddr(), f.Key.DstAddr()
	cp, sp := f.Key.SrcPort, f.Key.DstPort
	if d == 0 {
		p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = c, sv, cp, sp
		p.Flags |= packet.FlagToServer
	} else {
		p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = sv, c, sp, cp
		p.Flags |= packet.FlagToClient
	}
	p.VLAN = f.Key.VLAN
	for p.VLANCount < packet.MaxVLAN && p.VLAN[p.VLANCount] != 0 {
		p.VLANCount++
	}
	p.PayloadOff, p.L3Off, p.L4Off = -1, -1, -1
	s.endDone[d] = true
	s.Counters.PseudoPackets++
	s.detect(p, f, raw)
}

// logFlow writes the EVE flow record of an ended flow.
func (s *Single) logFlow(f *flow.Flow, reason string) {
	if !s.Opts.FlowRecords || s.EVE == nil {
		return
	}
	r := &s.flowRec
	s.fillFlow(f)
	r.FlowInfo = s.flowInfo
	r.EndNs = f.LastNs
	r.VLAN, r.VLANCount = f.Key.VLAN, 0
	for r.VLANCount < packet.MaxVLAN && r.VLAN[r.VLANCount] != 0 {
		r.VLANCount++
	}
	r.State = f.State.String()
	r.Bypass, r.BypassedPkts, r.BypassedBytes = "", [2]uint64{}, [2]uint64{}
	if s.bypassEnded {
		r.State = "bypassed"
		e := &s.Bypass.ended
		r.Bypass, r.BypassedPkts, r.BypassedBytes = e.kind, e.pkts, e.bytes
	}
	r.Reason = reason
	r.Alerted = f.Alerted
	r.AppProto = f.AppProto.String()
	r.TCPFlagsTS, r.TCPFlagsTC = f.TCPFlagsToServer, f.TCPFlagsToClient
	if err := s.EVE.Flow(f.ID, r); err != nil {
		s.Counters.OutputErrors++
	}
}

// Run processes the source until it ends, ctx is cancelled or an error
// occurs. It flushes the outputs before returning. The error is nil at the
// normal end of input.
func (s *Single) Run(ctx context.Context, sigs []*engine.Signature) error {
	s.prepare(sigs)
	b := packet.NewBatch(s.Opts.BatchSize)
	var runErr error
	for {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		err := s.Source.Next(b)
		if s.Opts.MaxLatencyNs > 0 && s.Opts.IPS && len(b.Pkts) > 0 {
			s.shed(b, time.Now().UnixNano())
		}
		for _, p := range b.Pkts {
			if p.Flags&packet.FlagOverload == 0 {
				s.process(p)
			}
		}
		s.Source.Done(b)
		if len(b.Pkts) == 0 && err == nil {
			// A live source with nothing to read: time still passes,
			// and what was written must reach the files.
			s.idle(time.Now().UnixNano())
			s.flushIdle()
		} else {
			s.maybeFlush()
		}
		s.publishIfAsked()
		if s.Progress != nil {
			s.Progress(&s.Counters)
		}
		if err != nil {
			if !errors.Is(err, capture.ErrEndOfInput) {
				s.Counters.SourceFailures++
				runErr = err
			}
			break
		}
	}
	return s.finish(runErr)
}

// idle sweeps timed-out flows and fragments by the wall clock when a live
// source had no packet (packet time stands still then). Clock steps
// backwards are ignored.
func (s *Single) idle(nowNs int64) {
	if nowNs < s.nextExpire {
		return
	}
	if s.onExpire == nil {
		s.onExpire = func(f *flow.Flow) {
			s.Counters.FlowsExpired++
			s.endFlow(f, "timeout")
		}
	}
	s.bypassSync()
	s.Flows.Expire(nowNs, s.onExpire)
	if s.Defrag != nil {
		s.Defrag.Expire(nowNs)
	}
	s.nextExpire = nowNs + s.Opts.FlowExpireIntervalNs
}

// prepare sets defaults and sizes the per-signature alert counts.
func (s *Single) prepare(sigs []*engine.Signature) {
	if s.Opts.BatchSize <= 0 {
		s.Opts.BatchSize = packet.DefaultBatchSize
	}
	if s.Opts.FlowExpireIntervalNs <= 0 {
		s.Opts.FlowExpireIntervalNs = 1e9
	}
	maxNum := 0
	for _, sig := range sigs {
		if sig.Num >= maxNum {
			maxNum = sig.Num + 1
		}
	}
	s.AlertsBySig = make([]uint64, maxNum)
}

// finish ends the flows still open, flushes the outputs and publishes the
// final counters.
func (s *Single) finish(runErr error) error {
	s.Flows.Flush(func(f *flow.Flow) {
		s.Counters.FlowsAtEnd++
		s.endFlow(f, "shutdown")
	})
	if ferr := s.flushOutputs(); ferr != nil && runErr == nil {
		runErr = ferr
	}
	s.pub.publish(s.fillSnapshot)
	return runErr
}

// runInbound is an autofp worker's loop: it inspects the decoded packets
// its receivers queue, gives each slot back to its receiver, and ends when
// its ring is closed and drained. It does not watch ctx: the runner closes
// the ring once the receivers stopped, so every queued packet is inspected.
func (s *Single) runInbound(sigs []*engine.Signature, receivers []*Receiver) error {
	s.prepare(sigs)
	buf := make([]*packet.Packet, s.Opts.BatchSize)
	for {
		n := s.in.DequeueBatch(buf)
		if n == 0 {
			// Idle: wake up now and then to answer stats requests,
			// flush the outputs and (live) expire flows by the clock.
			ctx, cancel := context.WithTimeout(context.Background(), idleWake)
			err := s.in.Wait(ctx)
			cancel()
			if errors.Is(err, ring.ErrClosed) {
				break
			}
			if s.liveIdle {
				s.idle(time.Now().UnixNano())
			}
			s.flushIdle()
			s.publishIfAsked()
			continue
		}
		for _, p := range buf[:n] {
			s.inspect(p)
			receivers[p.Queue].giveBack(p)
		}
		clear(buf[:n])
		s.maybeFlush()
		s.publishIfAsked()
		if s.Progress != nil {
			s.Progress(&s.Counters)
		}
	}
	return s.finish(nil)
}

// idleWake is how long an idle autofp worker sleeps between checks.
const idleWake = 200 * time.Millisecond

// flushEvery is how often a busy thread hands its buffered records to
// the files, so that alerts do not wait for a full buffer.
const flushEvery = int64(time.Second)

// maybeFlush flushes the outputs when flushEvery has passed (the clock is
// read once every 16 batches).
func (s *Single) maybeFlush() {
	s.batches++
	if s.batches&15 != 0 {
		return
	}
	if now := time.Now().UnixNano(); now-s.lastFlush >= flushEvery {
		s.lastFlush = now
		if err := s.flushOutputs(); err != nil {
			s.Counters.OutputErrors++
		}
	}
}

// flushIdle flushes the outputs of an idle thread.
func (s *Single) flushIdle() {
	s.lastFlush = time.Now().UnixNano()
	if err := s.flushOutputs(); err != nil {
		s.Counters.OutputErrors++
	}
}

func (s *Single) flushOutputs() error {
	var first error
	if s.EVE != nil {
		if err := s.EVE.Flush(); err != nil {
			first = fmt.Errorf("eve.json: %w", err)
		}
	}
	if s.Fast != nil {
		if err := s.Fast.Flush(); err != nil && first == nil {
			first = fmt.Errorf("fast.log: %w", err)
		}
	}
	return first
}

// process runs one captured packet through decode, defragmentation, flow,
// detection and output. A fragment that completes a datagram is inspected
// first, then the reassembled packet (pkt_src "defrag"), as Suricata does.
func (s *Single) process(p *packet.Packet) {
	c := &s.Counters
	c.Packets++
	c.Bytes += uint64(len(p.Data))
	s.Decoder.Decode(p)
	// Defragment first: overlap and length events land on the fragment
	// before detection sees it.
	done := p.Flags&packet.FlagFragment != 0 && s.Defrag != nil && s.Defrag.Process(p, &s.reassembled)
	s.inspect(p)
	if done {
		r := &s.reassembled
		// Suricata's reassembled packet has no pcap_cnt of its own.
		r.Num = 0
		c.Reassembled++
		s.Decoder.Decode(r)
		s.inspect(r)
		// The datagram's verdict is that of the fragment that completed
		// it (the only one still held).
		if r.Verdict == packet.VerdictDrop || r.Verdict == packet.VerdictReject {
			p.Verdict, p.DropReason = packet.VerdictDrop, r.DropReason
			if r.Verdict == packet.VerdictReject {
				s.reject(r, p)
			}
		}
	}
	if p.Verdict == packet.VerdictReject {
		s.reject(p, p)
	}
}

// shed applies the fail policy to the packets of b that waited longer than
// Options.MaxLatencyNs since the kernel received them: they are marked
// FlagOverload and not processed, and forwarded (fail-open) or dropped.
func (s *Single) shed(b *packet.Batch, nowNs int64) {
	c := &s.Counters
	for _, p := range b.Pkts {
		if p.TimeNs <= 0 || nowNs-p.TimeNs <= s.Opts.MaxLatencyNs {
			continue
		}
		p.Flags |= packet.FlagOverload
		c.Packets++
		c.Bytes += uint64(len(p.Data))
		if s.Opts.FailOpen {
			c.OverloadPassed++
			continue
		}
		p.Verdict, p.DropReason = packet.VerdictDrop, packet.DropReasonOverload
		c.OverloadDropped++
		c.Dropped++
		c.DroppedBy[packet.DropReasonOverload]++
	}
}

// reject sends the resets or ICMP unreachables of a rejected packet p
// through the source (capture.Injector) as Suricata's respond-reject does:
// to the source (reject, rejectsrc), the destination (rejectdst) or both.
// lent is the batch packet the frames answer for (p itself, or the
// fragment that completed a reassembled p). p's verdict stays a reject.
func (s *Single) reject(p, lent *packet.Packet) {
	c := &s.Counters
	c.Rejected++
	t := p.Reject
	if t == 0 {
		t = packet.RejectToSource
	}
	inj, _ := s.Source.(capture.Injector)
	for _, toSource := range [2]bool{true, false} {
		if toSource && t&packet.RejectToSource == 0 || !toSource && t&packet.RejectToDest == 0 {
			continue
		}
		n, err := reject.Build(s.rejectBuf[:], p, toSource)
		switch {
		case errors.Is(err, reject.ErrNoReply):
			c.RejectNoReply++
			continue
		case err != nil || inj == nil:
			c.RejectFailed++
			continue
		}
		if err := inj.Inject(lent, toSource, s.rejectBuf[:n]); err != nil {
			c.RejectFailed++
			continue
		}
		c.RejectSent++
	}
}

// inspect runs a decoded packet through flow tracking, detection and output.
func (s *Single) inspect(p *packet.Packet) {
	c := &s.Counters
	if p.Flags&packet.FlagMalformed != 0 {
		c.Malformed++
	}
	var f *flow.Flow
	if p.IsIP() {
		c.IP++
		if p.TimeNs >= s.nextExpire {
			if s.nextExpire != 0 {
				if s.onExpire == nil {
					s.onExpire = func(f *flow.Flow) {
						s.Counters.FlowsExpired++
						s.endFlow(f, "timeout")
					}
				}
				s.bypassSync()
				s.Flows.Expire(p.TimeNs, s.onExpire)
				if s.Defrag != nil {
					s.Defrag.Expire(p.TimeNs)
				}
			}
			s.nextExpire = p.TimeNs + s.Opts.FlowExpireIntervalNs
		}
		f = s.Flows.Lookup(p)
		if f == nil {
			c.NoFlow++
		}
	} else {
		c.NotIP++
	}
	var sess *stream.Session
	if f != nil {
		if s.bypassSeen(p, f) {
			return
		}
		if f.Action == flow.ActionDrop && s.Opts.IPS && p.Flags&packet.FlagPseudo == 0 {
			// The flow was dropped (a signature or an exception policy):
			// its packets are dropped before stream tracking, which
			// would only hold data that never arrives.
			p.Verdict = packet.VerdictDrop
			p.DropReason = packet.DropReasonFlowDrop
			if f.ActionByPolicy {
				p.DropReason = packet.DropReasonExceptionFlowDrop
			}
			s.noteDrop(p, f, nil)
			return
		}
		if s.App != nil {
			s.App.Begin(p, f)
		}
		if s.Stream != nil && p.IsTCP() {
			sess = s.Stream.Process(p, f)
			if sess != nil {
				s.Flows.SetState(f, sess.State.FlowState())
			}
			if p.Flags&packet.FlagModified != 0 {
				decode.FixTCPChecksum(p)
			}
		} else if s.App != nil && p.IsUDP() {
			s.App.UDP(p, f)
		}
	}
	dir := stream.ToServer
	if p.Flags&packet.FlagToClient != 0 {
		dir = stream.ToClient
	}
	if s.Detect == nil || s.skipDetect(p, f) {
		if sess != nil && s.Detect != nil {
			sess.RawConsume(dir, sess.RawPending(dir))
		}
		if p.NumEvents > 0 && s.Opts.AnomalyRecords && s.EVE != nil {
			s.packetAnomalies(p, f)
		}
		if s.App != nil && f != nil {
			s.App.Views(p, f)
			s.writeRecords(p)
			s.App.Done(f)
		}
		s.bypassCheck(p, f, sess)
		return
	}
	var raw []byte
	if sess != nil {
		raw, _ = sess.RawData(dir)
		if len(raw) > 0 && !s.Stream.Config().Inline && !s.rawReady(p, f, sess, dir, len(raw)) {
			raw = nil
		}
		if s.App != nil {
			if enc, pol := s.App.Encrypted(f); enc && pol != applayer.EncryptionFull {
				// Encrypted TLS: no raw stream inspection of ciphertext.
				sess.RawConsume(dir, sess.RawPending(dir))
				raw = nil
			}
		}
	}
	c.Inspected++
	if sess != nil {
		cs, ok1 := sess.Size(stream.ToServer)
		ss, ok2 := sess.Size(stream.ToClient)
		s.Detect.SetStreamSize(uint64(cs), uint64(ss), ok1 || ok2)
	}
	s.detect(p, f, raw)
	if p.NumEvents > 0 && s.Opts.AnomalyRecords && s.EVE != nil {
		s.packetAnomalies(p, f)
	}
	if sess != nil && len(raw) > 0 {
		sess.RawConsume(dir, sess.RawPending(dir))
	}
	if s.App != nil && f != nil {
		s.writeRecords(p)
		s.App.Done(f)
	}
	s.bypassCheck(p, f, sess)
}

// skipDetect decides, before detection, whether p is inspected at all:
// inline, a packet the stream engine dropped (an exception policy) and
// every packet of a flow a signature or a policy dropped are dropped
// without inspection; a packet of a flow a pass signature or policy passed
// is not inspected (Suricata's flow actions). Stream tracking and the app
// layer have seen the packet already, so records and counters stay
// complete.
func (s *Single) skipDetect(p *packet.Packet, f *flow.Flow) bool {
	if s.Opts.IPS && p.Verdict == packet.VerdictDrop && p.Flags&packet.FlagPseudo == 0 {
		if p.DropReason == packet.DropReasonNone {
			p.DropReason = packet.DropReasonStreamError
		}
		s.noteDrop(p, f, nil)
		return true
	}
	if f == nil {
		return false
	}
	switch f.Action {
	case flow.ActionDrop:
		// Inline, inspect dropped the packet already; a pseudo packet of
		// a dropped flow is not inspected either.
		return true
	case flow.ActionPass:
		s.Counters.FlowPassed++
		return true
	}
	return false
}

// noteDrop counts a packet dropped or rejected inline and writes its EVE
// drop record (when asked for; with DropFlowsStart only the first of each
// flow direction). sig is the signature that dropped it, nil for a flow or
// policy drop.
func (s *Single) noteDrop(p *packet.Packet, f *flow.Flow, sig *engine.Signature) {
	c := &s.Counters
	c.Dropped++
	c.DroppedBy[p.DropReason]++
	if !s.Opts.DropRecords || s.EVE == nil {
		return
	}
	var flowID uint64
	if f != nil {
		flowID = f.ID
		if s.Opts.DropFlowsStart {
			bit := flow.DropLoggedToServer
			if p.Flags&packet.FlagToClient != 0 {
				bit = flow.DropLoggedToClient
			}
			if f.DropLogged&bit != 0 {
				return
			}
			f.DropLogged |= bit
		}
	}
	var a *output.AlertInfo
	if sig != nil && s.Opts.DropAlerts {
		s.fillAlert(sig, sig.Action, p)
		s.alert.HasTx, s.alert.Stream = false, false
		a = &s.alert
	}
	if err := s.EVE.Drop(p, flowID, a); err != nil {
		c.OutputErrors++
	}
}

// rawReady decides whether n bytes of acknowledged raw stream data of dir
// are inspected on packet p now (IDS mode), or wait for more.
func (s *Single) rawReady(p *packet.Packet, f *flow.Flow, sess *stream.Session, dir stream.Dir, n int) bool {
	chunk := s.Opts.RawChunk
	if chunk <= 0 {
		chunk = 2560
	}
	trig := s.App != nil && s.App.RawTrigger(f, int(dir))
	return trig || n >= chunk || sess.DepthReached(dir) ||
		p.TCPFlags&(packet.TCPFin|packet.TCPRst) != 0 || sess.State > stream.StateEstablished
}

// detect runs detection on p (a captured or a pseudo packet) with the
// stream data raw and the transactions the app layer has for it, and
// writes the alerts.
func (s *Single) detect(p *packet.Packet, f *flow.Flow, raw []byte) {
	c := &s.Counters
	var views []*applayer.View
	if s.App != nil && f != nil {
		views = s.App.Views(p, f)
	}
	s.Detect.SetStream(raw, p.Flags&packet.FlagStreamData != 0)
	var matches []engine.Match
	var first *applayer.View
	if len(views) > 0 {
		first = views[0]
		matches = s.Detect.InspectApp(p, f, first)
	} else {
		matches = s.Detect.InspectApp(p, f, nil)
	}
	s.emit(p, f, matches, first, raw)
	for i := 1; i < len(views); i++ {
		s.emit(p, f, s.Detect.InspectTx(p, f, views[i]), views[i], raw)
	}
	if s.Opts.TaggedPackets && s.EVE != nil && s.Detect.Tagged() && p.Flags&packet.FlagPseudo == 0 {
		var flowID uint64
		if f != nil {
			flowID = f.ID
		}
		c.Tagged++
		if err := s.EVE.TaggedPacket(p, flowID); err != nil {
			c.OutputErrors++
		}
	}
	// A bypass signature bypasses its flow even when it does not alert
	// (bypass; noalert;).
	if s.Detect.BypassMatched() && p.Flags&packet.FlagPseudo == 0 {
		s.bypassRule = true
	}
	// A match on stream or transaction data decides for the flow: pass
	// stops detection on it, drop (inline only) drops its later packets.
	if fa := s.Detect.FlowAction(); f != nil && p.Flags&packet.FlagPseudo == 0 &&
		(fa == flow.ActionPass || (fa == flow.ActionDrop && s.Opts.IPS)) {
		f.Action, f.ActionByPolicy = fa, false
	}
	// The verdict holds even when no alert is written (noalert, suppress).
	verdict := s.Detect.Verdict()
	if s.Opts.IPS && (verdict == packet.VerdictDrop || verdict == packet.VerdictReject) && p.Flags&packet.FlagPseudo == 0 {
		p.Verdict = verdict
		p.DropReason = packet.DropReasonRules
		if verdict == packet.VerdictReject {
			p.Reject = s.Detect.RejectTarget()
		}
		s.noteDrop(p, f, s.Detect.DropSignature())
	}
}

// emit writes the alerts of matches; v is the transaction they inspected
// (nil for none), raw the stream data given to detection.
func (s *Single) emit(p *packet.Packet, f *flow.Flow, matches []engine.Match, v *applayer.View, raw []byte) {
	if len(matches) == 0 {
		return
	}
	c := &s.Counters
	var flowID uint64
	if f != nil {
		flowID = f.ID
		f.Alerted = true
		s.fillFlow(f)
		s.alert.Flow = &s.flowInfo
		s.alert.AppProto = f.AppProto.String()
	} else {
		s.alert.Flow = nil
		s.alert.AppProto = ""
	}
	for i := range matches {
		m := &matches[i]
		sig := m.Sig
		s.fillAlert(sig, m.Action, p)
		a := &s.alert
		a.Stream = m.Stream || p.Flags&packet.FlagPseudo != 0
		a.HasTx, a.TxID = false, 0
		if m.Tx && v != nil && v.HasTx {
			a.HasTx, a.TxID = true, v.TxID
		}
		s.fillApp(a, m, v, raw)
		s.AlertsBySig[sig.Num]++
		if sig.Bypass() && p.Flags&packet.FlagPseudo == 0 {
			s.bypassRule = true
		}
		c.Alerts++
		if s.EVE != nil && !s.Opts.NoAlertRecords {
			if err := s.EVE.Alert(p, flowID, a); err != nil {
				c.OutputErrors++
			}
		}
		if s.Fast != nil {
			if err := s.Fast.Alert(p, a); err != nil {
				c.OutputErrors++
			}
		}
	}
}

// writeRecords writes the app layer's EVE records of the current packet.
func (s *Single) writeRecords(p *packet.Packet) {
	if s.App == nil {
		return
	}
	recs := s.App.Records()
	if len(s.Pipes) > 0 {
		for i := range recs {
			s.pipeRecord(p, &recs[i])
		}
	}
	if s.EVE == nil || len(recs) == 0 {
		return
	}
	for i := range recs {
		if err := s.writeRecord(p, &recs[i]); err != nil {
			s.Counters.OutputErrors++
		}
	}
}

// fillAlert describes sig for the writers. Action follows Suricata: in IPS
// mode a match whose action (the rule's, or a rate_filter's new_action) is
// drop or reject writes "blocked", everything else "allowed".
func (s *Single) fillAlert(sig *engine.Signature, act rules.Action, p *packet.Packet) {
	a := &s.alert
	reject := act == rules.ActionReject || act == rules.ActionRejectSrc || act == rules.ActionRejectDst || act == rules.ActionRejectBoth
	drop := act == rules.ActionDrop || reject
	a.Action = output.AlertAction(drop, reject, s.Opts.IPS)
	a.Drop = drop
	a.GID, a.SID, a.Rev = sig.GID, sig.SID, sig.Rev
	a.Signature = sig.Msg
	a.Category = sig.ClassDesc
	a.Severity = sig.Priority
	a.Metadata = nil
	if sig.Rule != nil {
		a.Metadata = sig.Rule.Metadata
	}
}

// fillFlow copies the flow's state for the alert's flow object.
func (s *Single) fillFlow(f *flow.Flow) {
	fi := &s.flowInfo
	fi.SrcIP, fi.DstIP = f.Key.SrcAddr(), f.Key.DstAddr()
	fi.SrcPort, fi.DstPort, fi.Proto = f.Key.SrcPort, f.Key.DstPort, f.Key.Proto
	fi.PktsToServer, fi.PktsToClient = f.PktsToServer, f.PktsToClient
	fi.BytesToServer, fi.BytesToClient = f.BytesToServer, f.BytesToClient
	fi.StartNs = f.StartNs
}

// fillApp adds the transaction's app-layer object to an alert that
// inspected it (Suricata writes the http/dns/tls object of the alert's
// transaction), and the stream data a stream match matched.
func (s *Single) fillApp(a *output.AlertInfo, m *engine.Match, v *applayer.View, raw []byte) {
	a.HTTP, a.DNS, a.TLS = nil, nil, nil
	a.StreamData = nil
	if m.Stream {
		a.StreamData = raw
	}
	if v == nil {
		return
	}
	switch {
	case v.HTTP != nil:
		a.HTTP = v.HTTP
	case v.DNS != nil:
		a.DNS = v.DNS
	case v.TLS != nil:
		a.TLS = v.TLS
	}
}

// writeRecord writes one app-layer record: endpoints in the flow's
// orientation, the current packet's time.
func (s *Single) writeRecord(p *packet.Packet, r *applayer.Record) error {
	f := r.Flow
	s.fillFlow(f)
	fi := &s.flowInfo
	switch {
	case r.Kind == applayer.RecordHTTP && s.Opts.HTTPRecords:
		return s.EVE.HTTP(p, f.ID, fi, r.HTTP)
	case r.Kind == applayer.RecordDNS && s.Opts.DNSRecords:
		return s.EVE.DNS(p, f.ID, fi, r.DNS, r.TxID)
	case r.Kind == applayer.RecordTLS && s.Opts.TLSRecords:
		return s.EVE.TLS(p, f.ID, fi, r.TLS)
	case r.Kind == applayer.RecordAnomaly && s.Opts.AnomalyRecords && r.Event != "":
		a := &s.anomaly
		*a = output.AnomalyInfo{Type: output.AnomalyAppLayer, Event: r.Event, Layer: output.LayerProtoParser,
			AppProto: r.Proto.String(), TxID: r.TxID, HasTx: r.HasTx}
		return s.EVE.Anomaly(p, f.ID, a)
	}
	return nil
}

// packetAnomalies writes an EVE anomaly record per decoder or stream
// event of p (the EVE config decides which types are written).
func (s *Single) packetAnomalies(p *packet.Packet, f *flow.Flow) {
	var flowID uint64
	if f != nil {
		flowID = f.ID
	}
	a := &s.anomaly
	for i := uint8(0); i < p.NumEvents; i++ {
		id := p.Events[i]
		name := decode.EventName(id)
		if name == "" {
			continue
		}
		*a = output.AnomalyInfo{Type: output.AnomalyDecode, Event: name}
		switch {
		case id >= stream.EventBase && int(id) < int(stream.EventBase)+stream.NumEvents:
			a.Type = output.AnomalyStream
		case id < decode.FirstExternalEvent:
			a.Event = decodeEventNames[id]
		}
		if err := s.EVE.Anomaly(p, flowID, a); err != nil {
			s.Counters.OutputErrors++
		}
	}
}

// decodeEventNames are the decoder events as EVE names them
// ("decoder.ipv4.trunc_pkt"), built once.
var decodeEventNames = func() []string {
	n := make([]string, decode.FirstExternalEvent)
	for i := range n {
		if name := decode.EventName(packet.EventID(i)); name != "" {
			n[i] = "decoder." + name
		}
	}
	return n
}()

// pipeRecord sends the fields of an app-layer record that pipes asked for.
func (s *Single) pipeRecord(p *packet.Packet, r *applayer.Record) {
	ts, id := p.TimeNs, r.Flow.ID
	send := func(field string, v []byte) {
		if len(v) == 0 {
			return
		}
		for _, pp := range s.Pipes {
			if pp.Wants(field) {
				pp.Send(field, v, ts, id)
			}
		}
	}
	switch r.Kind {
	case applayer.RecordHTTP:
		tx := r.HTTP
		send("http.uri", tx.URIRaw())
		send("http.host", tx.Host())
		send("http.method", tx.Method())
		send("http.user_agent", tx.Request.Header("User-Agent"))
		send("http.referer", tx.Request.Header("Referer"))
		send("http.content_type", tx.Response.Header("Content-Type"))
		send("http.stat_code", tx.StatCode())
		send("http.server", tx.Response.Header("Server"))
		send("http.location", tx.Response.Header("Location"))
	case applayer.RecordDNS:
		m := r.DNS
		if !m.Response() {
			for i := range m.Questions {
				send("dns.query", m.Questions[i].Name)
			}
		}
		for i := range m.Answers {
			send("dns.answer.name", m.Answers[i].Name)
		}
	case applayer.RecordTLS:
		t := r.TLS
		send("tls.sni", t.ClientHello.SNI)
		if t.ClientHello.Present {
			send("ja3.hash", t.ClientHello.JA3Hash[:])
			send("ja4.hash", t.ClientHello.JA4[:])
		}
		if t.ServerHello.Present {
			send("ja3s.hash", t.ServerHello.JA3SHash[:])
		}
		if len(t.Certificates) > 0 {
			c := &t.Certificates[0]
			send("tls.subject", strBytes(c.Subject))
			send("tls.issuerdn", strBytes(c.Issuer))
			send("tls.fingerprint", strBytes(c.Fingerprint))
		}
	}
}

func strBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
