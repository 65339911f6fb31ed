package pipeline

import (
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/output"
)

// Snapshot is everything one pipeline thread counts, copied at one moment
// by that thread. A management thread sums the snapshots of all threads
// (Add) and names them (Counters).
type Snapshot struct {
	Counters Counters
	Capture  capture.Stats
	Decode   decode.Stats
	Defrag   defrag.Stats
	Flow     flow.Stats
	Stream   stream.Stats
	App      applayer.Stats
	// Bypass counts flow bypass (zero when it is off).
	Bypass BypassStats
	// Ring counts what the autofp receive side dropped or waited for
	// (zero in other runmodes).
	Ring RingStats
	// EVELost counts records lost by this thread's EVE writer.
	EVELost uint64
	// Output counts the output stage (routing.alerts-to-output-stage);
	// the management thread fills it in, threads leave it zero.
	Output output.StageStats
}

// RingStats are the autofp hand-over counters of a receive thread.
type RingStats struct {
	Enqueued uint64 // packets handed to a worker's ring
	Full     uint64 // packets dropped because the worker's ring or packet pool was full (live sources)
	Waits    uint64 // times an offline receiver waited for a full worker
}

// Add adds o to s: every counter is summed, except fields named Max* and
// Emergency, which take the larger value (they are not additive).
func (s *Snapshot) Add(o *Snapshot) {
	addValue(reflect.ValueOf(s).Elem(), reflect.ValueOf(o).Elem(), "")
}

func addValue(dst, src reflect.Value, name string) {
	switch dst.Kind() {
	case reflect.Struct:
		t := dst.Type()
		for i := 0; i < dst.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			addValue(dst.Field(i), src.Field(i), t.Field(i).Name)
		}
	case reflect.Array:
		for i := 0; i < dst.Len(); i++ {
			addValue(dst.Index(i), src.Index(i), name)
		}
	case reflect.Uint64, reflect.Uint32, reflect.Uint, reflect.Uint16, reflect.Uint8:
		if strings.HasPrefix(name, "Max") {
			if src.Uint() > dst.Uint() {
				dst.SetUint(src.Uint())
			}
			return
		}
		dst.SetUint(dst.Uint() + src.Uint())
	case reflect.Int64, reflect.Int:
		dst.SetInt(dst.Int() + src.Int())
	case reflect.Bool:
		dst.SetBool(dst.Bool() || src.Bool())
	}
}

// publisher lets a management thread ask the owning thread for a snapshot
// without a lock on the packet path: the owner checks one atomic flag per
// batch and copies its counters only when asked.
type publisher struct {
	want atomic.Bool
	seq  atomic.Uint64 // snapshots published so far
	mu   sync.Mutex
	snap Snapshot
}

// request asks for a new snapshot and returns the sequence number to wait
// past.
func (p *publisher) request() uint64 {
	seq := p.seq.Load()
	p.want.Store(true)
	return seq
}

// read copies the last published snapshot.
func (p *publisher) read(dst *Snapshot) {
	p.mu.Lock()
	*dst = p.snap
	p.mu.Unlock()
}

// publish stores a snapshot filled by fill (called by the owner).
func (p *publisher) publish(fill func(*Snapshot)) {
	p.mu.Lock()
	fill(&p.snap)
	p.mu.Unlock()
	p.want.Store(false)
	p.seq.Add(1)
}

// Counters lists the snapshot's counters under Suricata's stats names
// where Suricata has one ("capture.kernel_drops", "decoder.pkts",
// "tcp.reassembly_gap", "ips.blocked", ...), with Vigil's own counters in
// the same sections and a "pipeline" section for the hand-over between
// threads. Counters sharing a prefix are adjacent (output.EVE.WriteStats
// nests them). dst is reused.
func (s *Snapshot) CounterList(dst []output.Counter) []output.Counter {
	dst = dst[:0]
	add := func(name string, v uint64) { dst = append(dst, output.Counter{Name: name, Value: v}) }
	c, cp, d := &s.Counters, &s.Capture, &s.Decode
	add("capture.kernel_packets", cp.Packets+cp.KernelDrops)
	add("capture.kernel_drops", cp.KernelDrops)
	add("capture.truncated", cp.Truncated)
	add("capture.invalid", cp.InvalidDrops)
	add("capture.tx_drops", cp.TxDrops)
	add("capture.uninspected", cp.Uninspected)

	add("decoder.pkts", d.Packets)
	add("decoder.bytes", d.Bytes)
	add("decoder.invalid", d.Invalid)
	add("decoder.ipv4", d.IPv4)
	add("decoder.ipv6", d.IPv6)
	add("decoder.ethernet", d.Ethernet)
	add("decoder.raw", d.Raw)
	add("decoder.null", d.Null)
	add("decoder.sll", d.SLL)
	add("decoder.tcp", d.TCP)
	add("decoder.udp", d.UDP)
	add("decoder.sctp", d.SCTP)
	add("decoder.icmpv4", d.ICMPv4)
	add("decoder.icmpv6", d.ICMPv6)
	add("decoder.ppp", d.PPP)
	add("decoder.pppoe", d.PPPoE)
	add("decoder.vlan", d.VLAN)
	add("decoder.other_l3", d.OtherL3)
	add("decoder.unknown_linktype", d.UnknownLT)
	avg := uint64(0)
	if d.Packets > 0 {
		avg = d.Bytes / d.Packets
	}
	add("decoder.avg_pkt_size", avg)
	for i, n := range d.Events {
		if n > 0 {
			add("decoder.event."+decode.EventName(decodeEventID(i)), n)
		}
	}

	f := &s.Flow
	add("flow.total", f.Created)
	add("flow.active", f.Active)
	add("flow.memcap", f.MemcapDrops)
	add("flow.emerg_mode_entered", f.EmergencyEntries)
	add("flow.no_flow.not_ip", f.NoFlowNotIP)
	add("flow.no_flow.no_l4", f.NoFlowNoL4)
	add("flow.no_flow.icmp_error", f.NoFlowICMPError)
	add("flow.end.state.new", f.ExpiredNew)
	add("flow.end.state.established", f.ExpiredEstablished)
	add("flow.end.state.closed", f.ExpiredClosed)
	add("flow.end.reused", f.Reused)
	add("flow.end.shutdown", f.Flushed)

	// Suricata's flow_bypassed names, then Vigil's.
	bp := &s.Bypass
	add("flow_bypassed.local_pkts", bp.LocalPkts)
	add("flow_bypassed.local_bytes", bp.LocalBytes)
	add("flow_bypassed.local_capture_pkts", bp.LocalCapturePkts)
	add("flow_bypassed.local_capture_bytes", bp.LocalCaptureBytes)
	add("flow_bypassed.closed", bp.Closed)
	add("flow_bypassed.pkts", bp.Pkts)
	add("flow_bypassed.bytes", bp.Bytes)
	add("flow_bypassed.capture", bp.Capture)
	add("flow_bypassed.local", bp.Local)
	add("flow_bypassed.active", bp.Active)
	add("flow_bypassed.map_full", bp.MapFull)
	add("flow_bypassed.errors", bp.Errors)
	add("flow_bypassed.fin_rst", bp.FinRst)
	for t, n := range bp.Triggered {
		add("flow_bypassed.trigger."+BypassTrigger(t).String(), n)
	}

	g := &s.Defrag
	add("defrag.ipv4.fragments", g.Fragments4)
	add("defrag.ipv4.reassembled", g.Reassembled4)
	add("defrag.ipv6.fragments", g.Fragments6)
	add("defrag.ipv6.reassembled", g.Reassembled6)
	add("defrag.max_trackers_reached", g.TrackersFull)
	add("defrag.max_frags_reached", g.TooManyFrags)
	add("defrag.memcap_exception", g.MemcapDrops)
	add("defrag.timeouts", g.Timeouts)
	add("defrag.overlaps", g.Overlaps)
	add("defrag.too_large", g.TooLarge)
	add("defrag.invalid_length", g.InvalidLength)
	add("defrag.ignored", g.Ignored)

	t := &s.Stream
	add("tcp.sessions", t.Sessions)
	add("tcp.active_sessions", t.Active)
	add("tcp.ssn_memcap_drop", t.SessionMemcap)
	add("tcp.pseudo", c.PseudoPackets)
	add("tcp.midstream_pickups", t.Midstream)
	for pol, n := range t.MidstreamByPolicy {
		if n > 0 {
			add("tcp.midstream_exception_policy."+strings.ReplaceAll(stream.ExceptionPolicy(pol).String(), "-", "_"), n)
		}
	}
	add("tcp.async", t.Async)
	add("tcp.no_session", t.NoSession)
	add("tcp.invalid", t.Invalid)
	add("tcp.segments", t.Segments)
	add("tcp.bytes", t.Bytes)
	add("tcp.retransmission", t.Retransmission)
	add("tcp.segment_memcap_drop", t.ReassemblyMemcap)
	add("tcp.stream_depth_reached", t.DepthReached)
	add("tcp.reassembly_gap", t.Gaps)
	add("tcp.reassembly_gap_bytes", t.GapBytes)
	add("tcp.overlap", t.Overlaps)
	add("tcp.overlap_diff_data", t.OverlapDiff)
	add("tcp.memuse", t.SessionMem)
	add("tcp.reassembly_memuse", t.ReassemblyMem)
	for i, n := range t.Events {
		if n > 0 {
			add("stream."+strings.TrimPrefix(decode.EventName(stream.EventBase+decodeEventID(i)), "stream."), n)
		}
	}

	add("detect.alert", c.Alerts)
	add("detect.tagged_packets", c.Tagged)
	add("detect.inspected", c.Inspected)
	add("detect.flow_passed", c.FlowPassed)

	a := &s.App
	for p, n := range a.Detected {
		if n > 0 {
			add("app_layer.flow."+flow.AppProto(p).String(), n)
		}
	}
	add("app_layer.tx.http", a.HTTPTxs)
	add("app_layer.tx.dns", a.DNSMessages)
	add("app_layer.tls_handshakes", a.TLSHandshake)
	add("app_layer.tls_encrypted", a.Encrypted)
	add("app_layer.error.dns.parser", a.DNSErrors)
	add("app_layer.gaps", a.Gaps)
	add("app_layer.views_dropped", a.ViewsDropped)

	add("ips.blocked", c.Dropped)
	add("ips.rejected", c.Rejected)
	add("ips.reject_sent", c.RejectSent)
	add("ips.reject_failed", c.RejectFailed)
	add("ips.reject_no_reply", c.RejectNoReply)
	add("ips.overload_passed", c.OverloadPassed)
	add("ips.overload_dropped", c.OverloadDropped)
	for r, n := range c.DroppedBy {
		if n > 0 && r != int(packet.DropReasonNone) {
			add("ips.drop_reason."+strings.ReplaceAll(packet.DropReason(r).String(), " ", "_"), n)
		}
	}
	add("pipeline.packets", c.Packets)
	add("pipeline.bytes", c.Bytes)
	add("pipeline.reassembled", c.Reassembled)
	add("pipeline.malformed", c.Malformed)
	add("pipeline.no_flow", c.NoFlow)
	add("pipeline.source_failures", c.SourceFailures)
	add("pipeline.output_errors", c.OutputErrors)
	add("pipeline.eve_lost", s.EVELost)
	add("pipeline.output_stage.writes", s.Output.Writes)
	add("pipeline.output_stage.bytes", s.Output.Bytes)
	add("pipeline.output_stage.waits", s.Output.Waits)
	add("pipeline.output_stage.errors", s.Output.Errors)
	add("pipeline.output_stage.max_queued", s.Output.MaxQueued)
	add("pipeline.ring.enqueued", s.Ring.Enqueued)
	add("pipeline.ring.full_drops", s.Ring.Full)
	add("pipeline.ring.waits", s.Ring.Waits)
	return dst
}

func decodeEventID(i int) packet.EventID { return packet.EventID(i) }

// fillSnapshot copies this thread's counters (called by the thread itself).
func (s *Single) fillSnapshot(dst *Snapshot) {
	dst.Counters = s.Counters
	if s.Source != nil {
		dst.Capture = s.Source.Stats()
	}
	if s.Decoder != nil {
		dst.Decode = s.Decoder.Stats
	}
	if s.Defrag != nil {
		dst.Defrag = s.Defrag.Stats
	}
	if s.Flows != nil {
		dst.Flow = s.Flows.Stats()
	}
	if s.Stream != nil {
		dst.Stream = s.Stream.Stats()
	}
	if s.App != nil {
		dst.App = s.App.Stats
	}
	if s.Bypass != nil {
		dst.Bypass = s.Bypass.Stats()
	}
	if s.EVE != nil {
		dst.EVELost = s.EVE.Lost()
	}
}

// publishIfAsked answers a management thread's request for a snapshot
// (one atomic load when nobody asks).
func (s *Single) publishIfAsked() {
	if s.pub.want.Load() {
		s.pub.publish(s.fillSnapshot)
	}
}

func (s *Single) publisher() *publisher { return &s.pub }

// Snapshot copies the counters this thread published last. Safe from any
// goroutine; after Run returned it is exact.
func (s *Single) Snapshot(dst *Snapshot) { s.pub.read(dst) }
