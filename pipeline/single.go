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

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/engine"
	"github.com/vigil-ids/vigil/detect/rules"
	"github.com/vigil-ids/vigil/output"
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
}

// Counters are what one pipeline thread counts. Every packet that enters is
// accounted for: Packets + Reassembled = IP + NotIP, and an IP packet either
// has a flow or is counted in NoFlow (the flow table's Stats say why).
type Counters struct {
	Packets        uint64 // packets taken from the source
	Reassembled    uint64 // IP datagrams reassembled from fragments (inspected as extra packets)
	Bytes          uint64 // captured bytes
	IP             uint64 // packets with an IPv4 or IPv6 header decoded
	NotIP          uint64 // packets with no IP layer (ARP, LLDP, unknown link types)
	Malformed      uint64 // packets whose decoding stopped at a malformed layer
	NoFlow         uint64 // IP packets that got no flow (memcap, emergency)
	Inspected      uint64 // packets that went through detection
	Alerts         uint64 // alert records written
	Dropped        uint64 // packets given a drop/reject verdict (IPS)
	FlowsExpired   uint64 // flows ended by timeout
	FlowsReplaced  uint64 // flows the flow table ended itself (key reused after timeout, port reuse, memcap reclaim)
	FlowsAtEnd     uint64 // flows still open when input ended
	OutputErrors   uint64 // records that could not be written
	SourceFailures uint64 // source errors other than end of input
}

// Stages are the per-thread stage objects a pipeline thread runs. Each is
// owned by exactly one thread.
type Stages struct {
	Source  capture.Source
	Decoder *decode.Decoder
	// Defrag reassembles IP fragments; nil turns reassembly off.
	Defrag *defrag.Reassembler
	Flows  *flow.Table
	// Detect is nil when detection is disabled.
	Detect *engine.Thread
	// EVE and Fast are nil when that output is off.
	EVE  *output.EVE
	Fast *output.FastLog
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
}

// FlowEnded is the flow table's OnEnd callback (flow.Config.OnEnd): the
// table ended a flow on its own while looking up a packet.
func (s *Single) FlowEnded(f *flow.Flow) {
	s.Counters.FlowsReplaced++
	s.logFlow(f, "timeout")
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
	r.Reason = reason
	r.Alerted = f.Alerted
	r.TCPFlagsTS, r.TCPFlagsTC = f.TCPFlagsToServer, f.TCPFlagsToClient
	if err := s.EVE.Flow(f.ID, r); err != nil {
		s.Counters.OutputErrors++
	}
}

// Run processes the source until it ends, ctx is cancelled or an error
// occurs. It flushes the outputs before returning. The error is nil at the
// normal end of input.
func (s *Single) Run(ctx context.Context, sigs []*engine.Signature) error {
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
	b := packet.NewBatch(s.Opts.BatchSize)
	var runErr error
	for {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		err := s.Source.Next(b)
		for _, p := range b.Pkts {
			s.process(p)
		}
		s.Source.Done(b)
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
	s.Flows.Flush(func(f *flow.Flow) {
		s.Counters.FlowsAtEnd++
		s.logFlow(f, "shutdown")
	})
	if ferr := s.flushOutputs(); ferr != nil && runErr == nil {
		runErr = ferr
	}
	return runErr
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
						s.logFlow(f, "timeout")
					}
				}
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
	if s.Detect == nil {
		return
	}
	c.Inspected++
	matches := s.Detect.Inspect(p, f)
	// The verdict holds even when no alert is written (noalert, suppress).
	verdict := s.Detect.Verdict()
	if s.Opts.IPS && (verdict == packet.VerdictDrop || verdict == packet.VerdictReject) {
		p.Verdict = verdict
		c.Dropped++
	}
	if len(matches) == 0 {
		return
	}
	var flowID uint64
	if f != nil {
		flowID = f.ID
	}
	if f != nil {
		f.Alerted = true
		s.fillFlow(f)
		s.alert.Flow = &s.flowInfo
	} else {
		s.alert.Flow = nil
	}
	for i := range matches {
		sig := matches[i].Sig
		s.fillAlert(sig, matches[i].Action, p)
		s.AlertsBySig[sig.Num]++
		c.Alerts++
		if s.EVE != nil {
			if err := s.EVE.Alert(p, flowID, &s.alert); err != nil {
				c.OutputErrors++
			}
		}
		if s.Fast != nil {
			if err := s.Fast.Alert(p, &s.alert); err != nil {
				c.OutputErrors++
			}
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
