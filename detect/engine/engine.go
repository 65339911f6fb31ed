// Package engine is Vigil's detection engine: it compiles parsed rules
// (package detect/rules) into signatures, orders them as Suricata does,
// groups them by IP protocol, builds one multi-pattern prefilter
// (package detect/mpm) per group over each signature's fast pattern, and
// evaluates the candidates the prefilter reports, plus the signatures that
// have no usable fast pattern, against each packet.
//
// # Structure
//
// Each rule option is compiled by a keyword from a registry (keywords.go).
// A keyword either sets a header property of the signature, adds a packet
// matcher (dsize, ttl, flags, flow ...), or adds a step to the inspection
// list of the current buffer (content, isdataat, pcre). Today the only
// buffer is the packet payload (pkt_data); buffers are indexed so that
// app-layer buffers can be added as further lists with their own sticky
// buffer keywords.
//
// # Concurrency and allocation
//
// An Engine is immutable after Compile and may be shared by any number of
// workers. Each worker owns a Thread (NewThread), which holds all per-packet
// scratch: the prefilter scratch, the candidate list and the alert queue.
// Thread.Inspect allocates nothing.
package engine

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/mpm"
	"github.com/vigil-ids/vigil/detect/rules"
)

// DefaultPacketAlertMax is Suricata's default packet-alert-max: the most
// alerts one packet carries.
const DefaultPacketAlertMax = 15

// DefaultInspectionRecursionLimit bounds the work of one signature's buffer
// inspection (Suricata's detect.inspection-recursion-limit default).
const DefaultInspectionRecursionLimit = 3000

// Config tunes compilation and inspection.
type Config struct {
	// PacketAlertMax is the most alerts returned for one packet (default
	// 15, as Suricata). Further alerts are counted in
	// Counters.AlertsDiscarded.
	PacketAlertMax int
	// InspectionRecursionLimit bounds the number of inspection steps
	// (including backtracking retries) one signature may take on one
	// buffer; past it the signature does not match. Default 3000.
	InspectionRecursionLimit int
	// Thresholds are the threshold.config entries (threshold,
	// event_filter, suppress, rate_filter) applied to the signatures they
	// select.
	Thresholds []rules.ThresholdEntry
}

func (c *Config) setDefaults() {
	if c.PacketAlertMax <= 0 {
		c.PacketAlertMax = DefaultPacketAlertMax
	}
	if c.InspectionRecursionLimit <= 0 {
		c.InspectionRecursionLimit = DefaultInspectionRecursionLimit
	}
}

// Signature is a compiled rule.
type Signature struct {
	// Num is the signature's internal number: its position in the engine's
	// order (action order, then priority, then sid). Alerts of one packet
	// are reported by ascending Num.
	Num       int
	Action    rules.Action
	GID       uint32
	SID       uint32
	Rev       uint32
	Msg       string
	Classtype string
	ClassDesc string
	Priority  int
	// Rule is the parsed rule the signature was compiled from.
	Rule *rules.Rule

	proto protoSet
	flow  flowMatch
	// pkt holds the packet matchers (dsize, ttl, flags, ...), run before
	// the buffers are inspected.
	pkt []packetMatcher
	// bufs holds the inspection list of each buffer (only bufPktData now).
	bufs [numBuffers][]step
	// fast is the prefilter pattern, nil when the signature has none and
	// is evaluated for every packet of its groups.
	fast *mpm.Pattern
	// needsPayload: the signature inspects pkt_data, so it cannot match a
	// packet without payload.
	needsPayload bool
	hasPcre      bool
	// payloadReq: dsize requires a non-empty payload (Suricata's
	// SIG_MASK_REQUIRE_PAYLOAD from dsize).
	payloadReq bool
	// hdrBufs: some header sticky buffer (ipv4.hdr, tcp.hdr, ...) is used.
	hdrBufs bool

	// flow state: flowbits and flowint tests and changes
	fbRead, fbWrite []flowbitOp
	fiRead, fiWrite []flowintOp
	noalert         bool
	flowKw          []*flowCountMatch
	// thresholding
	thr      *thrSpec
	suppress []suppressSpec
}

// NoAlert reports whether the signature never alerts (flowbits:noalert or
// noalert): it only sets flow state or applies its action.
func (s *Signature) NoAlert() bool { return s.noalert }

// HasPrefilter reports whether the signature has a fast pattern, and so is
// evaluated only for packets whose payload contains it.
func (s *Signature) HasPrefilter() bool { return s.fast != nil }

// FastPattern returns the signature's prefilter pattern (nil if none) and
// whether it is case-insensitive.
func (s *Signature) FastPattern() ([]byte, bool) {
	if s.fast == nil {
		return nil, false
	}
	return s.fast.Bytes, s.fast.NoCase
}

// Group identifies a signature group: packets are dispatched to exactly one
// group by their transport protocol.
type Group uint8

const (
	GroupTCP   Group = iota // TCP header decoded
	GroupUDP                // UDP header decoded
	GroupICMP               // ICMPv4 or ICMPv6 header decoded
	GroupOther              // any other IP packet
	GroupNonIP              // no IP header (only pkthdr signatures)
	numGroups
)

var groupNames = [...]string{"tcp", "udp", "icmp", "other-ip", "non-ip"}

func (g Group) String() string {
	if int(g) < len(groupNames) {
		return groupNames[g]
	}
	return fmt.Sprintf("group(%d)", g)
}

// signatureGroup holds the signatures that may match packets of one group.
type signatureGroup struct {
	sigs      []uint32 // nums of all signatures of the group, ascending
	prefilter *mpm.Matcher
	nPrefilt  int      // signatures reached through the prefilter
	always    []uint32 // nums evaluated for every packet, ascending
	always0   []uint32 // subset of always not needing payload, ascending
}

// GroupStats describes one signature group.
type GroupStats struct {
	Group        Group
	Signatures   int // signatures in the group
	Prefiltered  int // of which have a fast pattern
	NonPrefilter int // of which are evaluated for every packet
	MpmBytes     int // memory of the group's prefilter automaton
}

// Engine is a compiled rule set, shared read-only by all workers.
type Engine struct {
	cfg    Config
	sigs   []*Signature // by Num
	groups [numGroups]signatureGroup
	// maxCands is the largest possible candidate count of a group, the
	// capacity of a thread's candidate list.
	maxCands int
	hasPcre  bool
	// bitNames and intNames are the flowbit and flowint names, by number.
	bitNames []string
	intNames []string
}

// Flowbits returns the flowbit names the rule set uses, by number.
func (e *Engine) Flowbits() []string { return e.bitNames }

// Signatures returns the compiled signatures in engine order (by Num).
// The slice must not be modified.
func (e *Engine) Signatures() []*Signature { return e.sigs }

// Config returns the configuration the engine was compiled with, with
// defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Groups describes the signature groups.
func (e *Engine) Groups() []GroupStats {
	out := make([]GroupStats, 0, numGroups)
	for i := range e.groups {
		g := &e.groups[i]
		gs := GroupStats{Group: Group(i), Signatures: len(g.sigs), Prefiltered: g.nPrefilt, NonPrefilter: len(g.always)}
		if g.prefilter != nil {
			gs.MpmBytes = g.prefilter.MemBytes()
		}
		out = append(out, gs)
	}
	return out
}

// Compile builds an engine from parsed rules. A rule that cannot be compiled
// is left out with an error (a *rules.Error naming its file, line and
// keyword); the others load. nil rules are ignored.
func Compile(rs []*rules.Rule, cfg Config) (*Engine, []error) {
	cfg.setDefaults()
	var errs []error
	sigs := make([]*Signature, 0, len(rs))
	cc := newCompileCtx()
	for _, r := range rs {
		if r == nil {
			continue
		}
		s, err := compileRule(r, cc)
		if err == errRequiresUnmet {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sigs = append(sigs, s)
	}
	sigs, dupErrs := dedupe(sigs)
	errs = append(errs, dupErrs...)
	applyThresholdConfig(sigs, cfg.Thresholds)

	// Suricata's signature order: action (pass, drop, reject, alert),
	// then flowbits use (setters before checkers), then flowint use, then
	// priority (1 first), then sid; load order breaks remaining ties.
	slices.SortStableFunc(sigs, func(a, b *Signature) int {
		if c := cmp.Compare(actionOrder(a.Action), actionOrder(b.Action)); c != 0 {
			return c
		}
		if c := cmp.Compare(varClass(len(b.fbRead) > 0, len(b.fbWrite) > 0), varClass(len(a.fbRead) > 0, len(a.fbWrite) > 0)); c != 0 {
			return c
		}
		if c := cmp.Compare(varClass(len(b.fiRead) > 0, len(b.fiWrite) > 0), varClass(len(a.fiRead) > 0, len(a.fiWrite) > 0)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.SID, b.SID)
	})
	e0hasPcre := false
	for i, s := range sigs {
		s.Num = i
		if s.fast != nil {
			s.fast.ID = uint32(i)
		}
		e0hasPcre = e0hasPcre || s.hasPcre
	}
	e := &Engine{cfg: cfg, sigs: sigs, hasPcre: e0hasPcre, bitNames: cc.bitNames, intNames: cc.intNames}
	for gi := range e.groups {
		g := &e.groups[gi]
		var pats []mpm.Pattern
		for _, s := range sigs {
			if !s.proto.inGroup(Group(gi)) {
				continue
			}
			g.sigs = append(g.sigs, uint32(s.Num))
			if s.fast != nil {
				pats = append(pats, *s.fast)
				continue
			}
			g.always = append(g.always, uint32(s.Num))
			if !s.needsPayload {
				g.always0 = append(g.always0, uint32(s.Num))
			}
		}
		if len(pats) > 0 {
			m, err := mpm.Compile(pats)
			if err != nil {
				// Cannot happen for patterns we built (non-empty, unique
				// IDs); fall back to evaluating them all rather than
				// losing them.
				errs = append(errs, fmt.Errorf("engine: prefilter for group %s: %w", Group(gi), err))
				for _, p := range pats {
					g.always = append(g.always, p.ID)
				}
				slices.Sort(g.always)
			} else {
				g.prefilter = m
				g.nPrefilt = len(pats)
			}
		}
		e.maxCands = max(e.maxCands, len(g.sigs))
	}
	return e, errs
}

// actionOrder is Suricata's default action-order: pass, drop, reject, alert.
func actionOrder(a rules.Action) int {
	switch a {
	case rules.ActionPass:
		return 0
	case rules.ActionDrop:
		return 1
	case rules.ActionReject, rules.ActionRejectSrc, rules.ActionRejectDst, rules.ActionRejectBoth:
		return 2
	}
	return 3
}

// dedupe keeps one signature per gid:sid as Suricata does: a later rule
// with a higher rev replaces the earlier one without error; a later rule
// with the same or a lower rev is reported and left out.
func dedupe(sigs []*Signature) ([]*Signature, []error) {
	type key struct{ gid, sid uint32 }
	idx := make(map[key]int, len(sigs))
	keep := make([]bool, len(sigs))
	var errs []error
	for i, s := range sigs {
		k := key{s.GID, s.SID}
		j, ok := idx[k]
		if !ok {
			idx[k] = i
			keep[i] = true
			continue
		}
		old := sigs[j]
		if s.Rev > old.Rev {
			// A later revision replaces the earlier one silently, as in
			// Suricata.
			keep[j], keep[i] = false, true
			idx[k] = i
			continue
		}
		errs = append(errs, &rules.Error{File: s.Rule.File, Line: s.Rule.Line, Keyword: "sid",
			Msg: fmt.Sprintf("duplicate signature gid:%d sid:%d (rev %d), keeping rev %d from %s:%d",
				s.GID, s.SID, s.Rev, old.Rev, fileName(old.Rule.File), old.Rule.Line)})
	}
	out := sigs[:0]
	for i, s := range sigs {
		if keep[i] {
			out = append(out, s)
		}
	}
	return out, errs
}

func fileName(f string) string {
	if f == "" {
		return "<rule>"
	}
	return f
}

// NewThread returns the per-worker detection state for e. A Thread is used
// by one goroutine at a time.
func (e *Engine) NewThread() *Thread {
	t := &Thread{
		e:     e,
		cands: make([]uint32, 0, e.maxCands),
		hits:  make([]uint32, 0, e.maxCands),
		out:   make([]Match, 0, e.cfg.PacketAlertMax),
		thr:   make(map[thrKey]thrState),
	}
	if e.hasPcre {
		t.pcreBuf = make([]byte, 0, 2*65536)
	}
	for i := range e.groups {
		if m := e.groups[i].prefilter; m != nil {
			t.scratch[i] = m.NewScratch()
		}
	}
	return t
}

// groupOf returns the group of an IP packet.
func groupOf(p *packet.Packet) Group {
	switch {
	case p.Flags&packet.FlagTCP != 0:
		return GroupTCP
	case p.Flags&packet.FlagUDP != 0:
		return GroupUDP
	case p.Flags&(packet.FlagICMPv4|packet.FlagICMPv6) != 0:
		return GroupICMP
	case p.Flags&(packet.FlagIPv4|packet.FlagIPv6) == 0:
		return GroupNonIP
	}
	// The transport header did not decode (too short, bad length): the
	// packet still belongs to its IP protocol's group, as Suricata's
	// p->proto does, so decode-event rules for that protocol see it.
	if p.Flags&packet.FlagFragment == 0 {
		switch p.IPProto {
		case packet.ProtoTCP:
			return GroupTCP
		case packet.ProtoUDP:
			return GroupUDP
		case packet.ProtoICMP, packet.ProtoICMPv6:
			return GroupICMP
		}
	}
	return GroupOther
}
