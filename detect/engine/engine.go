// Package engine is Vigil's detection engine: it compiles parsed rules
// (package detect/rules) into signatures, orders them as Suricata does,
// groups them by transport protocol and packet direction, and TCP and UDP
// groups further by the server-side port of their rules (portGroups),
// builds one multi-pattern prefilter (package detect/mpm) per group and
// inspection buffer over the signatures' fast patterns, and evaluates the candidates
// the prefilters report, plus the signatures that have no usable fast
// pattern, against each packet.
//
// # Structure
//
// Each rule option is compiled by a keyword from a registry (keywords.go).
// A keyword either sets a header property of the signature, adds a packet
// matcher (dsize, ttl, flags, flow ...), or adds a step to the inspection
// list of a buffer (content, isdataat, pcre, byte_*, bsize, ...).
//
// Buffers (buffers.go) are the packet payload (pkt_data), raw headers
// (ipv4.hdr, tcp.hdr, ...) and the app-layer buffers (http.uri, dns.query,
// tls.sni, ...), each registered with its direction and app protocols. A
// rule selects one with a sticky-buffer keyword, a legacy content modifier
// (http_uri, ...) or a pcre buffer flag (/U, /H, ...), optionally followed
// by transforms (transforms.go). App-layer rules (alert http ..., or any
// rule inspecting an app-layer buffer) require the flow's app protocol
// (flow.Flow.AppProto); the app layer hands the buffers of the current
// transaction to Thread.InspectApp through the AppState interface. A
// signature whose buffer or protocol is absent does not match.
//
// # Concurrency and allocation
//
// An Engine is immutable after Compile and may be shared by any number of
// workers. Each worker owns a Thread (NewThread), which holds all per-packet
// scratch: the prefilter scratch, the candidate list, the transform
// scratch and the alert queue. Thread.Inspect and Thread.InspectApp
// allocate nothing once warm.
package engine

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/mpm"
	"github.com/vigil-ids/vigil/detect/pcre"
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

	// noDirSplit puts every signature in one group per transport
	// protocol, as before groups were split by direction (for measuring
	// what the split saves).
	noDirSplit bool
	// noPortSplit keeps TCP and UDP groups whole instead of splitting
	// them by server-side port (for measuring what port groups save).
	noPortSplit bool
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
	// bufs holds the inspection lists, one per buffer (and transform
	// chain) the signature inspects, in order of first use.
	bufs []bufList
	// fast is the prefilter pattern, nil when the signature has none and
	// is evaluated for every packet of its groups; fastList is the index
	// in bufs of the list it comes from.
	fast     *mpm.Pattern
	fastList int
	// needsPayload: the signature inspects pkt_data, so it cannot match a
	// packet without payload.
	needsPayload bool
	hasPcre      bool
	// payloadReq: dsize requires a non-empty payload (Suricata's
	// SIG_MASK_REQUIRE_PAYLOAD from dsize).
	payloadReq bool
	// alproto is the set of app protocols the flow must have been
	// detected as (rule header protocol, app-layer buffers); 0 for none.
	alproto ProtoMask
	// appBufs: some list inspects an app-layer buffer.
	appBufs bool
	// alprotoKw holds app-layer-protocol keywords.
	alprotoKw []alprotoMatch
	// fields holds numeric app-layer field tests (tls.version, ...).
	fields []fieldMatch
	// dir is the direction the signature inspects (0: either), from flow
	// and its buffers.
	dir Direction
	// payloadMode says whether pkt_data inspection sees the packet
	// payload, the reassembled stream, or both (see payloadModeOf).
	payloadMode     payloadMode
	inspectsPayload bool // some list inspects pkt_data
	// streamSize holds stream_size tests (Thread.SetStreamSize).
	streamSize []*streamSizeMatch
	// bypass / tag requests, recorded for the pipeline.
	bypass bool
	tag    bool
	tags   []tagSpec
	// flowAge holds flow.age tests.
	flowAge []*flowAgeMatch

	// flow state: flowbits and flowint tests and changes
	fbRead, fbWrite []flowbitOp
	fiRead, fiWrite []flowintOp
	xbRead, xbWrite []xbitOp
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

// Packet directions, for signature grouping: packets without a flow
// direction, to the server, to the client.
const (
	dirGroupNone = iota
	dirGroupToServer
	dirGroupToClient
	numDirGroups
)

var dirGroupNames = [numDirGroups]string{"none", "to_server", "to_client"}

// groupPrefilter is the multi-pattern matcher over one buffer variant of
// a signature group.
type groupPrefilter struct {
	variant int
	id      BufferID
	xf      []transform
	m       *mpm.Matcher
	n       int // patterns
}

// signatureGroup holds the signatures that may match packets of one
// transport group and direction.
type signatureGroup struct {
	sigs     []uint32 // nums of all signatures of the group, ascending
	pf       []groupPrefilter
	nPrefilt int      // signatures reached through a prefilter
	always   []uint32 // nums evaluated for every packet, ascending
	always0  []uint32 // subset of always not needing payload, ascending
	// srcIdx and dstIdx prefilter content-less signatures by the packet's
	// source and destination address (ipindex.go); disjoint from always.
	srcIdx, dstIdx addrIndex
}

// portGroups splits the signatures of one transport group and direction
// by the server-side port of their rules (Suricata's port groups): base
// holds the signatures whose rule allows any port there (and
// bidirectional ones); the port-restricted rest goes to the subgroup of
// each elementary port interval, subs[i] covering ports starts[i] up to
// starts[i+1]-1. Intervals with the same signature set share one
// subgroup (one prefilter, address index and always list). A packet
// inspects base and the subgroup of its server-side port; the sets are
// disjoint. Keeping the any-port signatures out of the subgroups means
// their (large) prefilters exist once, not once per port set.
type portGroups struct {
	base   *signatureGroup
	starts []uint16
	subs   []*signatureGroup
	nsub   int // distinct subgroups
	nsigs  int // signatures in base and the subgroups
}

// sub returns the subgroup for server-side port p (nil if none).
func (pg *portGroups) sub(p uint16) *signatureGroup {
	if len(pg.starts) == 0 {
		return nil
	}
	i, found := slices.BinarySearch(pg.starts, p)
	if !found {
		i--
	}
	return pg.subs[i]
}

// GroupStats describes one signature group.
type GroupStats struct {
	Group        Group
	Dir          string // "none", "to_server" or "to_client"
	Signatures   int    // signatures in the group
	Prefiltered  int    // fast patterns in its prefilters (a signature counts once per port subgroup holding it)
	NonPrefilter int    // signatures evaluated for every packet (likewise)
	MpmBytes     int    // memory of the group's prefilter automata
	// PortGroups is the number of distinct port subgroups (TCP and UDP).
	PortGroups int
	// Prefilters counts the fast patterns per buffer (with transforms).
	Prefilters map[string]int
}

// Engine is a compiled rule set, shared read-only by all workers.
type Engine struct {
	cfg    Config
	sigs   []*Signature // by Num
	groups [numGroups][numDirGroups]portGroups
	// variants are the distinct (buffer, transforms) pairs inspected.
	variants []string
	// maxCands is the largest possible candidate count of a group, the
	// capacity of a thread's candidate list.
	maxCands int
	hasPcre  bool
	// bitNames and intNames are the flowbit and flowint names, by number.
	bitNames []string
	intNames []string
	// xbits is the host/ip-pair bit store shared by all threads.
	xbits *xbitStore
	// hasTag: some signature has a tag keyword; hostTags holds the host
	// tags (tag.go).
	hasTag   bool
	hostTags hostTags
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
	out := make([]GroupStats, 0, numGroups*numDirGroups)
	for i := range e.groups {
		for d := range e.groups[i] {
			pg := &e.groups[i][d]
			gs := GroupStats{Group: Group(i), Dir: dirGroupNames[d], Signatures: pg.nsigs, PortGroups: pg.nsub,
				Prefilters: map[string]int{}}
			seen := map[*signatureGroup]bool{}
			for _, g := range append([]*signatureGroup{pg.base}, pg.subs...) {
				if g == nil || seen[g] {
					continue
				}
				seen[g] = true
				gs.Prefiltered += g.nPrefilt
				gs.NonPrefilter += len(g.always)
				for _, pf := range g.pf {
					gs.MpmBytes += pf.m.MemBytes()
					gs.Prefilters[e.variants[pf.variant]] += pf.n
				}
			}
			out = append(out, gs)
		}
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
		if c := cmp.Compare(varClass(len(b.xbRead) > 0, len(b.xbWrite) > 0), varClass(len(a.xbRead) > 0, len(a.xbWrite) > 0)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.SID, b.SID)
	})
	e0hasPcre, e0hasTag := false, false
	for i, s := range sigs {
		s.Num = i
		if s.fast != nil {
			s.fast.ID = uint32(i)
		}
		e0hasPcre = e0hasPcre || s.hasPcre
		e0hasTag = e0hasTag || len(s.tags) > 0
	}
	e := &Engine{cfg: cfg, sigs: sigs, hasPcre: e0hasPcre, hasTag: e0hasTag, bitNames: cc.bitNames, intNames: cc.intNames,
		xbits: &xbitStore{bits: map[xbitKey]int64{}}}
	e.hostTags.m = map[netip.Addr]*tagState{}
	variantIdx := map[string]int{}
	for _, s := range sigs {
		for i := range s.bufs {
			bl := &s.bufs[i]
			k := bl.variantKey()
			v, ok := variantIdx[k]
			if !ok {
				v = len(e.variants)
				variantIdx[k] = v
				e.variants = append(e.variants, k)
			}
			bl.variant = v
		}
	}
	shared := map[string]*mpm.Matcher{}
	for gi := range e.groups {
		for di := range e.groups[gi] {
			errs = append(errs, e.buildGroup(Group(gi), di, shared)...)
		}
	}
	return e, errs
}

// inDirGroup reports whether a signature inspecting direction d belongs
// to direction group dg.
func inDirGroup(d Direction, dg int) bool {
	switch d {
	case DirToServer:
		return dg == dirGroupToServer
	case DirToClient:
		return dg == dirGroupToClient
	}
	return true
}

// buildGroup fills one signature group and compiles its prefilters, one
// per buffer variant holding fast patterns.
//
// Groups often hold the same patterns for a buffer (a signature for TCP
// and UDP, or for either direction, is in several groups): shared maps
// such pattern sets to their matcher so each is built once.
func (e *Engine) buildGroup(gi Group, di int, shared map[string]*mpm.Matcher) []error {
	pg := &e.groups[gi][di]
	var members []uint32
	for _, s := range e.sigs {
		if e.cfg.noDirSplit {
			if !s.proto.inGroup(gi) || di != dirGroupNone {
				continue
			}
		} else if !s.proto.inGroup(gi) || !inDirGroup(s.dir, di) {
			continue
		} else if di == dirGroupNone && s.alproto != 0 {
			// App-layer signatures need a flow, so a direction.
			continue
		}
		members = append(members, uint32(s.Num))
	}
	pg.nsigs = len(members)
	base := members
	var limited []uint32
	if (gi == GroupTCP || gi == GroupUDP) && !e.cfg.noDirSplit && !e.cfg.noPortSplit {
		base = nil
		for _, num := range members {
			if ps := e.serverPorts(e.sigs[num], di); ps == nil {
				base = append(base, num)
			} else {
				limited = append(limited, num)
			}
		}
	}
	pg.base = &signatureGroup{}
	errs := e.fillGroup(pg.base, gi, di, base, shared)
	if len(limited) == 0 {
		return errs
	}
	// Elementary intervals: every range start and every range end + 1.
	bounds := []uint16{0}
	for _, num := range limited {
		for _, r := range e.serverPorts(e.sigs[num], di).Ranges() {
			bounds = append(bounds, r[0])
			if r[1] < 0xffff {
				bounds = append(bounds, r[1]+1)
			}
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	sets := make([][]uint32, len(bounds))
	for _, num := range limited {
		for _, r := range e.serverPorts(e.sigs[num], di).Ranges() {
			lo, _ := slices.BinarySearch(bounds, r[0])
			hi := len(bounds)
			if r[1] < 0xffff {
				hi, _ = slices.BinarySearch(bounds, r[1]+1)
			}
			for i := lo; i < hi; i++ {
				sets[i] = append(sets[i], num) // limited is ascending
			}
		}
	}
	byKey := map[string]*signatureGroup{}
	for i, set := range sets {
		key := make([]byte, 0, 4*len(set))
		for _, num := range set {
			key = binary.LittleEndian.AppendUint32(key, num)
		}
		g, ok := byKey[string(key)]
		if !ok {
			g = &signatureGroup{}
			if len(set) > 0 {
				errs = append(errs, e.fillGroup(g, gi, di, set, shared)...)
			}
			byKey[string(key)] = g
			pg.nsub++
		}
		if len(pg.subs) > 0 && pg.subs[len(pg.subs)-1] == g {
			continue // same set as the previous interval: extend it
		}
		pg.starts = append(pg.starts, bounds[i])
		pg.subs = append(pg.subs, g)
	}
	e.maxCands = max(e.maxCands, len(base)+len(limited))
	return errs
}

// serverPorts returns the port set of signature s that a packet of
// direction group di is looked up by (the destination ports, or the
// source ports for to_client), or nil when the signature may match any
// port there (any, or a bidirectional rule).
func (e *Engine) serverPorts(s *Signature, di int) *rules.PortSet {
	r := s.Rule
	if r.Bidirectional {
		return nil
	}
	ps := &r.DstPorts
	if di == dirGroupToClient {
		ps = &r.SrcPorts
	}
	if ps.IsAny() {
		return nil
	}
	return ps
}

// fillGroup fills signature group g with the signatures nums (ascending)
// and compiles its prefilters.
func (e *Engine) fillGroup(g *signatureGroup, gi Group, di int, nums []uint32, shared map[string]*mpm.Matcher) []error {
	var errs []error
	pats := map[int][]mpm.Pattern{}
	var order []int
	for _, num := range nums {
		s := e.sigs[num]
		g.sigs = append(g.sigs, num)
		if s.fast != nil {
			v := s.bufs[s.fastList].variant
			if _, ok := pats[v]; !ok {
				order = append(order, v)
			}
			pats[v] = append(pats[v], *s.fast)
			continue
		}
		g.always = append(g.always, uint32(s.Num))
	}
	// Address lists without content get an address index as prefilter.
	g.always, g.srcIdx, g.dstIdx = e.splitAddrIndexed(g.always)
	for _, num := range g.always {
		if !e.sigs[num].needsPayload {
			g.always0 = append(g.always0, num)
		}
	}
	slices.Sort(order)
	for _, v := range order {
		ps := pats[v]
		key := make([]byte, 0, 4+4*len(ps))
		key = binary.LittleEndian.AppendUint32(key, uint32(v))
		for _, p := range ps {
			key = binary.LittleEndian.AppendUint32(key, p.ID)
		}
		m, ok := shared[string(key)]
		var err error
		if !ok {
			m, err = mpm.Compile(ps)
			if err == nil {
				shared[string(key)] = m
			}
		}
		if err != nil {
			// Cannot happen for patterns we built (non-empty, unique
			// IDs); fall back to evaluating them all rather than losing
			// them.
			errs = append(errs, fmt.Errorf("engine: prefilter for group %s/%s buffer %s: %w", gi, dirGroupNames[di], e.variants[v], err))
			for _, p := range ps {
				g.always = append(g.always, p.ID)
				if !e.sigs[p.ID].needsPayload {
					g.always0 = append(g.always0, p.ID)
				}
			}
			slices.Sort(g.always)
			slices.Sort(g.always0)
			continue
		}
		s0 := e.sigs[ps[0].ID]
		bl := &s0.bufs[s0.fastList]
		g.pf = append(g.pf, groupPrefilter{variant: v, id: bl.id, xf: bl.xf, m: m, n: len(ps)})
		g.nPrefilt += len(ps)
	}
	e.maxCands = max(e.maxCands, len(g.sigs))
	return errs
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
		mark:  make([]uint32, len(e.sigs)),
	}
	if e.hasPcre {
		t.pcre = pcre.NewScratch()
	}
	// One prefilter scratch serves every matcher (the matchers are used
	// one after another): make it for the largest.
	var big *mpm.Matcher
	for i := range e.groups {
		for d := range e.groups[i] {
			pg := &e.groups[i][d]
			for _, g := range append([]*signatureGroup{pg.base}, pg.subs...) {
				for _, pf := range g.pf {
					if big == nil || pf.m.Len() > big.Len() {
						big = pf.m
					}
				}
			}
		}
	}
	if big != nil {
		t.scratch = big.NewScratch()
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
