package engine

import (
	"net/netip"

	"slices"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/mpm"
	"github.com/vigil-ids/vigil/detect/pcre"
	"github.com/vigil-ids/vigil/detect/rules"
)

// Match is one alert of a packet.
type Match struct {
	Sig *Signature
	// Action is the action that applies: the signature's, or the
	// new_action of a rate_filter that is in effect.
	Action rules.Action
	// Stream: the signature matched the reassembled stream data given
	// with SetStream, not the packet's own payload.
	Stream bool
	// Tx: the signature inspected the app-layer transaction given to
	// InspectApp/InspectTx (it alerts once per transaction).
	Tx bool
}

// Counters are a thread's detection counters. They only grow.
type Counters struct {
	Packets         uint64 // packets given to Inspect
	Candidates      uint64 // signatures the prefilter reported
	Evaluations     uint64 // signatures fully evaluated (candidates plus non-prefilter ones)
	Alerts          uint64 // alerts returned by Inspect
	AlertsDiscarded uint64 // alerts over PacketAlertMax, not returned
	Passes          uint64 // packets on which a pass signature matched
	Drops           uint64 // packets given a drop or reject verdict
	// FlowStateAllocs counts allocations of per-flow flowbit/flowint
	// storage beyond the flow's inline bits (once per flow and kind).
	FlowStateAllocs uint64
	// Suppressed counts matches whose alert thresholding or noalert
	// withheld.
	Suppressed uint64
	// PcreLimitHits counts pcre searches stopped by the match limits
	// (Suricata's pcre match-limit): they count as no match.
	PcreLimitHits uint64
	// Tagged counts packets reported as tagged (Thread.Tagged);
	// TagsDropped counts tags not recorded because a tag table was full.
	Tagged, TagsDropped uint64
}

// Thread is one worker's detection state: scratch reused for every packet.
type Thread struct {
	e       *Engine
	scratch *mpm.Scratch // prefilter scratch, shared by all matchers
	cands   []uint32     // signatures to evaluate for the current packet
	hits    []uint32     // signatures that matched the current packet
	out     []Match

	verdict packet.Verdict
	passed  bool
	// flowAction is what the current packet's matches decided for its
	// flow; reject the targets of its reject signatures; dropSig the
	// signature that set the drop or reject verdict.
	flowAction flow.Action
	reject     packet.RejectTarget
	dropSig    *Signature
	bypass     bool // a matching signature has the bypass keyword
	nAlerts    int  // alerts returned for the current packet (PacketAlertMax)
	// inspection state of the current buffer
	bufOff int // Suricata's det_ctx->buffer_offset: end of the last match
	budget int // remaining inspection steps for the current signature
	// vars are the current signature's byte_extract/byte_math values.
	vars [maxSigVars]uint64
	// pcre is the backtracking state of the pcre engine (see pcre.go).
	pcre *pcre.Scratch
	// thr holds threshold counters (threshold.go).
	thr map[thrKey]thrState
	// app is the app-layer state of the packet being inspected; txs its
	// per-transaction match memory (nil when app has none); txOnly
	// restricts an inspection to transaction signatures (InspectTx).
	app    AppState
	txs    *TxState
	txOnly bool
	// stream is the reassembled stream input of the next inspection
	// (SetStream); cleared after each.
	stream streamInput
	ssize  streamSize
	// mark[num] == gen when signature num is already a candidate of the
	// current packet.
	mark []uint32
	gen  uint32
	// xbuf is the transform scratch (two buffers used alternately);
	// b64buf holds base64_decode output.
	xbuf   [2][]byte
	b64buf []byte
	// tagged: the current packet is tagged; sessTags holds the session
	// tags of the thread's flows by flow ID (tag.go).
	tagged   bool
	sessTags map[uint64]*tagState

	c Counters
}

// Counters returns the thread's counters so far.
func (t *Thread) Counters() Counters { return t.c }

// Verdict is the verdict detection reached for the last inspected packet:
// packet.VerdictDrop when a drop signature matched, packet.VerdictReject
// when a reject signature did, packet.VerdictForward otherwise. The
// pipeline applies it only in IPS mode. Drop and reject signatures are
// applied even when their alert is discarded by PacketAlertMax, and not at
// all when a pass signature ordered before them matched.
func (t *Thread) Verdict() packet.Verdict { return t.verdict }

// Passed reports whether a pass signature matched the last inspected packet
// (detection stopped there; the pipeline may stop inspecting its flow).
func (t *Thread) Passed() bool { return t.passed }

// FlowAction is what the last inspected packet's matches decided for its
// whole flow, as Suricata applies a rule's action to the flow when the rule
// matched on stream or transaction data: flow.ActionPass after such a pass
// signature (no more detection on the flow), flow.ActionDrop after such a
// drop or reject signature (every later packet dropped when inline), and
// flow.ActionNone for packet-level matches. The pipeline keeps it on the
// flow.
func (t *Thread) FlowAction() flow.Action { return t.flowAction }

// RejectTarget is whom the last inspected packet's reject signatures answer
// (valid when Verdict is packet.VerdictReject): reject and rejectsrc the
// source, rejectdst the destination, rejectboth both.
func (t *Thread) RejectTarget() packet.RejectTarget { return t.reject }

// BypassMatched reports whether a signature with the bypass keyword matched
// the last inspected packet, including noalert and suppressed ones (a
// "bypass; noalert;" rule exists only to bypass).
func (t *Thread) BypassMatched() bool { return t.bypass }

// DropSignature is the signature whose drop or reject action set the last
// inspected packet's verdict (the first in signature order, a reject
// overriding a drop), even when its alert was withheld; nil when the
// verdict is forward. EVE drop records name it (drop alerts: yes).
func (t *Thread) DropSignature() *Signature { return t.dropSig }

// Inspect runs detection on one decoded packet without app-layer data;
// see InspectApp.
func (t *Thread) Inspect(p *packet.Packet, f *flow.Flow) []Match {
	return t.InspectApp(p, f, nil)
}

// InspectApp runs detection on one decoded packet and returns its alerts
// in Suricata's order (by signature Num), at most Config.PacketAlertMax.
// f is the packet's flow (nil when it has none): flowbits and flowints
// are read and written there, in signature order, so a signature that
// sets a bit is seen by a later one checking it on the same packet. app
// supplies the app-layer buffers and fields of the packet's transaction
// (nil when there are none): signatures inspecting an absent buffer do
// not match. A matching pass signature stops detection: signatures
// ordered after it do not alert and the pass itself is not returned.
// Thresholds, suppressions and rate_filters apply to each match in order.
// The slice is owned by t and valid until the next call. InspectApp
// allocates nothing once the thread's transform scratch has grown to the
// largest buffer (flow state storage past the inline bits is allocated
// once per flow, see Counters.FlowStateAllocs).
func (t *Thread) InspectApp(p *packet.Packet, f *flow.Flow, app AppState) []Match {
	t.c.Packets++
	t.out = t.out[:0]
	t.nAlerts = 0
	t.verdict = packet.VerdictForward
	t.passed = false
	t.flowAction = flow.ActionNone
	t.reject = 0
	t.dropSig = nil
	t.bypass = false
	t.tagged = false
	if t.e.hasTag {
		t.checkTags(p, f)
	}
	return t.run(p, f, app)
}

// InspectTx runs only the transaction signatures (those inspecting
// app-layer buffers or fields) on one more transaction of the packet last
// given to InspectApp, as Suricata inspects every transaction a packet
// updated. It returns the alerts of this transaction only, in signature
// order; PacketAlertMax counts the alerts of InspectApp and every InspectTx
// of the packet together, and the verdict accumulates. Call it after
// InspectApp for the same packet.
func (t *Thread) InspectTx(p *packet.Packet, f *flow.Flow, app AppState) []Match {
	t.out = t.out[:0]
	if t.passed {
		return t.out
	}
	t.txOnly = true
	out := t.run(p, f, app)
	t.txOnly = false
	return out
}

// SetStream gives the next InspectApp the reassembled stream data of the
// packet's direction that is ready for raw inspection (nil: none), and
// says whether the packet's own payload was taken into that stream
// (packet.FlagStreamData), in which case stream-only signatures do not
// inspect it as a packet. It applies to one InspectApp (and the InspectTx
// calls that follow it) only.
func (t *Thread) SetStream(data []byte, stateful bool) {
	t.stream = streamInput{data: data, stateful: stateful}
}

// SetStreamSize gives the next InspectApp the TCP session's stream sizes
// for stream_size: how far the client's and the server's sequence numbers
// advanced since their ISNs (stream.Session.Size). ok false: the packet
// has no session, and stream_size does not match. It applies to one
// InspectApp (and the InspectTx calls that follow it) only.
func (t *Thread) SetStreamSize(client, server uint64, ok bool) {
	t.ssize = streamSize{client: client, server: server, ok: ok}
}

type streamSize struct {
	client, server uint64
	ok             bool
}

// TxState remembers which signatures alerted on one app-layer
// transaction, so that each alerts once per transaction (Suricata's
// per-transaction detect state). The app layer keeps one per transaction
// and hands it over through an AppState that implements TxStater.
type TxState struct{ done []uint32 }

// Reset forgets every signature (for a recycled transaction).
func (s *TxState) Reset() { s.done = s.done[:0] }

func (s *TxState) has(num uint32) bool {
	for _, n := range s.done {
		if n == num {
			return true
		}
	}
	return false
}

// TxStater is implemented by an AppState that carries its transaction's
// TxState.
type TxStater interface{ TxState() *TxState }

// isTx reports whether s inspects app-layer transaction data.
func (s *Signature) isTx() bool { return s.appBufs || len(s.fields) > 0 }

// run is the body of InspectApp and InspectTx.
func (t *Thread) run(p *packet.Packet, f *flow.Flow, app AppState) []Match {
	t.hits = t.hits[:0]
	t.app = app
	t.txs = nil
	if ts, ok := app.(TxStater); ok {
		t.txs = ts.TxState()
	}
	defer func() { t.app, t.txs = nil, nil }()
	e := t.e
	if !t.txOnly {
		defer func() { t.stream, t.ssize = streamInput{}, streamSize{} }()
	}
	gi := groupOf(p)
	di := dirGroupNone
	switch {
	case p.Flags&packet.FlagToServer != 0:
		di = dirGroupToServer
	case p.Flags&packet.FlagToClient != 0:
		di = dirGroupToClient
	}
	if e.cfg.noDirSplit {
		di = dirGroupNone
	}
	pg := &e.groups[gi][di]
	if pg.nsigs == 0 {
		return t.out
	}
	payload := p.Payload()
	t.gen++
	if t.gen == 0 {
		clear(t.mark)
		t.gen = 1
	}
	// The server-side port: the source port of to_client packets, the
	// destination port otherwise (see portGroups).
	port := p.DstPort
	if di == dirGroupToClient {
		port = p.SrcPort
	}
	cands := t.collect(pg.base, p, payload, t.cands[:0])
	sub := pg.sub(port)
	if sub != nil {
		cands = t.collect(sub, p, payload, cands)
	}
	if sd := t.stream.data; len(sd) > 0 {
		cands = t.collect(pg.base, p, sd, cands)
		if sub != nil {
			cands = t.collect(sub, p, sd, cands)
		}
	}
	slices.Sort(cands)
	t.cands = cands
	pseudo := p.Flags&packet.FlagPseudo != 0
	for _, num := range cands {
		s := e.sigs[num]
		tx := s.isTx()
		if t.txOnly && !tx {
			continue
		}
		// A pseudo packet (flow end) carries no packet of its own: only
		// stream and transaction signatures inspect it (Suricata's
		// "real packet" requirement of the others).
		if pseudo && !tx && !(s.inspectsPayload && s.payloadMode != payloadPkt) {
			continue
		}
		if tx && t.txs != nil && t.txs.has(num) {
			continue
		}
		t.c.Evaluations++
		if ok, viaStream := t.evalSig(s, p, f, payload); ok {
			if tx && t.txs != nil {
				t.txs.done = append(t.txs.done, num)
			}
			h := num
			if viaStream {
				h |= hitStream
			}
			t.hits = append(t.hits, h)
			t.postMatch(s, f)
			if len(s.xbWrite) > 0 {
				t.xbitsWrite(s, p)
			}
		}
	}
	if len(t.hits) == 0 {
		return t.out
	}
	max := e.cfg.PacketAlertMax
	wasForward := t.verdict == packet.VerdictForward
	for _, h := range t.hits {
		num := h &^ hitStream
		s := e.sigs[num]
		res, act, silent := t.threshold(s, p, f)
		if res == thrDrop {
			t.c.Suppressed++
			continue
		}
		// A match on stream or transaction data decides for the flow.
		flowScoped := h&hitStream != 0 || (s.isTx() && t.app != nil)
		switch act {
		case rules.ActionPass:
			t.passed = true
			t.c.Passes++
			if flowScoped {
				t.flowAction = flow.ActionPass
			}
		case rules.ActionDrop:
			if t.verdict == packet.VerdictForward {
				t.verdict = packet.VerdictDrop
				t.dropSig = s
			}
			if flowScoped {
				t.flowAction = flow.ActionDrop
			}
		case rules.ActionReject, rules.ActionRejectSrc, rules.ActionRejectDst, rules.ActionRejectBoth:
			if t.verdict != packet.VerdictReject {
				t.dropSig = s
			}
			t.verdict = packet.VerdictReject
			switch act {
			case rules.ActionRejectDst:
				t.reject |= packet.RejectToDest
			case rules.ActionRejectBoth:
				t.reject |= packet.RejectBoth
			default:
				t.reject |= packet.RejectToSource
			}
			if flowScoped {
				t.flowAction = flow.ActionDrop
			}
		}
		if t.passed {
			break
		}
		if s.bypass {
			t.bypass = true
		}
		if res == thrSilent || silent || s.noalert {
			t.c.Suppressed++
			continue
		}
		if len(s.tags) > 0 {
			t.applyTags(s, p, f)
		}
		if t.nAlerts < max {
			t.out = append(t.out, Match{Sig: s, Action: act, Stream: h&hitStream != 0, Tx: s.isTx() && t.app != nil})
			t.nAlerts++
			t.c.Alerts++
		} else {
			t.c.AlertsDiscarded++
		}
	}
	if wasForward && t.verdict != packet.VerdictForward {
		t.c.Drops++
	}
	return t.out
}

// hitStream marks an entry of Thread.hits that matched on stream data.
const hitStream = 1 << 31

// evalSig evaluates s on the packet payload and/or the stream data given
// with SetStream, as the signature's payloadMode says; viaStream reports
// that the stream data matched.
func (t *Thread) evalSig(s *Signature, p *packet.Packet, f *flow.Flow, payload []byte) (ok, viaStream bool) {
	st := &t.stream
	if s.payloadMode == payloadPkt || !s.inspectsPayload || (st.data == nil && !st.stateful) {
		return t.matchSig(s, p, f, payload), false
	}
	if len(st.data) > 0 && t.matchSig(s, p, f, st.data) {
		return true, true
	}
	if s.payloadMode == payloadPktStream || !st.stateful {
		return t.matchSig(s, p, f, payload), false
	}
	return false, false
}

// collect appends to cands the signatures of g to evaluate for p: the
// prefilter hits, the always list and the address-index hits, each once.
func (t *Thread) collect(g *signatureGroup, p *packet.Packet, payload []byte, cands []uint32) []uint32 {
	if len(g.sigs) == 0 {
		return cands
	}
	e := t.e
	for k := range g.pf {
		pf := &g.pf[k]
		multi := buffers[pf.id].Multi
		for inst := 0; ; inst++ {
			buf, ok := t.rawBuffer(pf.id, inst, p, payload)
			if !ok {
				break
			}
			if len(pf.xf) > 0 {
				buf = t.transform(pf.xf, buf)
			}
			if len(buf) > 0 {
				ids := pf.m.Scan(buf, t.scratch)
				t.c.Candidates += uint64(len(ids))
				for _, id := range ids {
					if t.mark[id] != t.gen {
						t.mark[id] = t.gen
						cands = append(cands, id)
					}
				}
			}
			if !multi {
				break
			}
		}
	}
	always := g.always0
	if len(payload) > 0 {
		always = g.always
	}
	for _, num := range always {
		if t.mark[num] != t.gen {
			t.mark[num] = t.gen
			cands = append(cands, num)
		}
	}
	for side := 0; side < 2; side++ {
		ix, a := &g.srcIdx, p.SrcIP
		if side == 1 {
			ix, a = &g.dstIdx, p.DstIP
		}
		for _, num := range ix.lookup(a) {
			if t.mark[num] == t.gen || (len(payload) == 0 && e.sigs[num].needsPayload) {
				continue
			}
			t.mark[num] = t.gen
			cands = append(cands, num)
		}
	}
	return cands
}

// matchSig evaluates one signature fully: protocol, addresses and ports
// (both orientations for "<>"), flow, packet matchers, then the buffers.
func (t *Thread) matchSig(s *Signature, p *packet.Packet, f *flow.Flow, payload []byte) bool {
	if !s.proto.matches(p) {
		return false
	}
	r := s.Rule
	if !headerMatch(r, p.SrcIP, p.DstIP, p.SrcPort, p.DstPort, p) &&
		!(r.Bidirectional && headerMatch(r, p.DstIP, p.SrcIP, p.DstPort, p.SrcPort, p)) {
		return false
	}
	if !s.flow.match(p) {
		return false
	}
	switch s.dir {
	case DirToServer:
		if p.Flags&packet.FlagToServer == 0 {
			return false
		}
	case DirToClient:
		if p.Flags&packet.FlagToClient == 0 {
			return false
		}
	}
	if s.alproto != 0 && (f == nil || !s.alproto.Has(f.AppProto)) {
		return false
	}
	if s.payloadReq && p.PayloadLen <= 0 {
		return false
	}
	for _, m := range s.pkt {
		if !m.match(p) {
			return false
		}
	}
	for _, m := range s.flowKw {
		if !m.matchFlow(f) {
			return false
		}
	}
	if len(s.fbRead) > 0 && !flowbitsMatch(s, f) {
		return false
	}
	if len(s.fiRead) > 0 && !flowintMatch(s, f) {
		return false
	}
	if len(s.xbRead) > 0 && !t.xbitsMatch(s, p) {
		return false
	}
	for _, m := range s.streamSize {
		if !m.match(&t.ssize) {
			return false
		}
	}
	for _, m := range s.flowAge {
		if !m.matchFlow(f, p) {
			return false
		}
	}
	for i := range s.alprotoKw {
		if !s.alprotoKw[i].match(f) {
			return false
		}
	}
	if len(s.fields) > 0 {
		if t.app == nil {
			return false
		}
		for i := range s.fields {
			v, ok := t.app.Field(s.fields[i].id)
			if !ok || !s.fields[i].match(v) {
				return false
			}
		}
	}
	for li := range s.bufs {
		bl := &s.bufs[li]
		if bl.id == BufBase64Data {
			continue
		}
		if !t.inspectList(bl, p, payload) {
			return false
		}
	}
	return true
}

// inspectList runs one inspection list on its buffer (each instance of a
// multi-instance buffer until one matches).
func (t *Thread) inspectList(bl *bufList, p *packet.Packet, payload []byte) bool {
	multi := buffers[bl.id].Multi
	for inst := 0; ; inst++ {
		buf, ok := t.rawBuffer(bl.id, inst, p, payload)
		if !ok {
			// A missing buffer matches only with absent (absent.go).
			return inst == 0 && bl.absent != absentNone
		}
		if bl.absent == absentOnly {
			return false
		}
		if len(bl.xf) > 0 {
			buf = t.transform(bl.xf, buf)
		}
		// An app-layer buffer that is present but empty (a header with
		// no value) is inspected too: bsize:0 and negated content match
		// it, as in Suricata. An empty packet payload is not.
		if len(buf) > 0 || bl.id >= BufBase64Data {
			t.bufOff = 0
			t.budget = t.e.cfg.InspectionRecursionLimit
			if t.inspect(bl.steps, 0, buf) == 1 {
				return true
			}
		}
		if !multi {
			return false
		}
	}
}

// rawBuffer returns instance inst of buffer id for packet p.
func (t *Thread) rawBuffer(id BufferID, inst int, p *packet.Packet, payload []byte) ([]byte, bool) {
	switch {
	case id == BufPktData:
		return payload, inst == 0
	case id < BufBase64Data:
		if inst != 0 {
			return nil, false
		}
		b := headerBuffer(p, id)
		return b, len(b) > 0
	case id == BufBase64Data:
		return nil, false
	}
	if t.app == nil {
		return nil, false
	}
	return t.app.Buffer(id, inst)
}

// transform applies a transform chain to buf into thread scratch.
func (t *Thread) transform(xf []transform, buf []byte) []byte {
	k := 0
	for i := range xf {
		out := xf[i].apply(t.xbuf[k], buf, t.pcre)
		t.xbuf[k] = out
		buf = out
		k ^= 1
	}
	return buf
}

// headerBuffer returns the raw header bytes a header sticky buffer
// inspects, or nil when the packet has no such header.
func headerBuffer(p *packet.Packet, b BufferID) []byte {
	var off, n int
	switch b {
	case BufIPv4Hdr:
		if p.Flags&packet.FlagIPv4 == 0 {
			return nil
		}
		off, n = p.L3Off, p.L3Len
	case BufIPv6Hdr:
		if p.Flags&packet.FlagIPv6 == 0 {
			return nil
		}
		off, n = p.L3Off, p.L3Len
	case BufTCPHdr:
		if p.Flags&packet.FlagTCP == 0 {
			return nil
		}
		off, n = p.L4Off, p.L4Len
	case BufUDPHdr:
		if p.Flags&packet.FlagUDP == 0 {
			return nil
		}
		off, n = p.L4Off, 8
	case BufICMPv4Hdr:
		if p.Flags&packet.FlagICMPv4 == 0 {
			return nil
		}
		off, n = p.L4Off, p.L4Len
	case BufICMPv6Hdr:
		if p.Flags&packet.FlagICMPv6 == 0 {
			return nil
		}
		off, n = p.L4Off, p.L4Len
	default:
		return nil
	}
	if off < 0 || n <= 0 || off >= len(p.Data) {
		return nil
	}
	if off+n > len(p.Data) {
		n = len(p.Data) - off
	}
	return p.Data[off : off+n]
}

// headerMatch checks a rule's addresses and ports with the packet's source
// and destination given (possibly swapped, for "<>").
func headerMatch(r *rules.Rule, src, dst netip.Addr, sp, dp uint16, p *packet.Packet) bool {
	if !r.Src.IsAny() && !r.Src.Contains(src) {
		return false
	}
	if !r.Dst.IsAny() && !r.Dst.Contains(dst) {
		return false
	}
	spAny, dpAny := r.SrcPorts.IsAny(), r.DstPorts.IsAny()
	if spAny && dpAny {
		return true
	}
	if !hasPorts(p) {
		return false
	}
	if !spAny && !r.SrcPorts.Contains(sp) {
		return false
	}
	if !dpAny && !r.DstPorts.Contains(dp) {
		return false
	}
	return true
}

func hasPorts(p *packet.Packet) bool {
	return p.Flags&(packet.FlagTCP|packet.FlagUDP) != 0 ||
		(p.IPProto == packet.ProtoSCTP && p.Flags&(packet.FlagICMPv4|packet.FlagICMPv6) == 0 && p.L4Off > 0)
}
