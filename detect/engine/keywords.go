package engine

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/mpm"
	"github.com/vigil-ids/vigil/detect/rules"
)

// keyword compiles one rule option into the signature under construction.
// Setup returns an error describing the problem without location; the
// caller wraps it into a *rules.Error naming file, line and keyword.
type keyword struct {
	name  string
	setup func(b *builder, o rules.Option) error
	// modifier: the keyword modifies the preceding content and its errors
	// read "content: ...".
	modifier bool
}

// registry maps option names to their keyword. Keywords not in it are
// reported as unsupported and the rule is skipped.
var registry = map[string]*keyword{}

func register(k *keyword) { registry[k.name] = k }

// errFmt is shorthand for fmt.Errorf in keyword setups.
var errFmt = fmt.Errorf

// builder is the state of one rule's compilation.
type builder struct {
	rule *rules.Rule
	sig  *Signature
	cc   *compileCtx
	// cur is the index in sig.bufs of the current sticky buffer's list,
	// -1 for pkt_data before any list exists.
	cur int
	// explicitBuf: the current buffer was named by a sticky-buffer keyword
	// (transforms may follow).
	explicitBuf bool
	// lastList and lastContent locate the last content: its list's index
	// in sig.bufs and its index in that list; lastContent -1 when the
	// current buffer has none yet.
	lastList    int
	lastContent int
	fastSet     bool
	seen        map[string]bool // single-use keywords already given
	varNames    []string        // byte_extract / byte_math variables, by index
	// b64List is the index in sig.bufs of the base64_data list, -1 if none.
	b64List int
}

// findList returns the index in sig.bufs of the untransformed list of
// buffer id, appending an empty one when there is none.
func (b *builder) findList(id BufferID) int {
	for i := range b.sig.bufs {
		if bl := &b.sig.bufs[i]; bl.id == id && len(bl.xf) == 0 {
			return i
		}
	}
	b.sig.bufs = append(b.sig.bufs, bufList{id: id})
	return len(b.sig.bufs) - 1
}

// curList returns the current sticky buffer's list.
func (b *builder) curList() *bufList {
	if b.cur < 0 {
		b.cur = b.findList(BufPktData)
	}
	return &b.sig.bufs[b.cur]
}

// list returns the steps of the current sticky buffer, where new
// inspection keywords go.
func (b *builder) list() *[]step { return &b.curList().steps }

// relList returns the list a relative inspection keyword (byte_*,
// isdataat) goes to: with no sticky buffer named, the list of the last
// content, which a legacy modifier (uricontent, http_uri, ...) may have
// moved out of pkt_data, as Suricata attaches relative keywords to the
// list of the previous content; else the current list.
func (b *builder) relList(relative bool) *[]step {
	if relative && !b.explicitBuf && b.lastContent >= 0 && b.lastList != b.cur {
		return &b.sig.bufs[b.lastList].steps
	}
	return b.list()
}

// content returns the content the modifier keyword applies to.
func (b *builder) content(kw string) (*step, error) {
	if b.lastContent < 0 {
		return nil, errFmt("%s needs a preceding content option", kw)
	}
	return &b.sig.bufs[b.lastList].steps[b.lastContent], nil
}

// once fails when a single-use keyword is given twice.
func (b *builder) once(kw string) error {
	if b.seen[kw] {
		return errFmt("%s given more than once", kw)
	}
	b.seen[kw] = true
	return nil
}

// prevMatchIndex returns the index of the last content or pcre step in the
// current list before index i, or -1.
func (b *builder) prevMatchIndex(i int) int {
	return prevMatch(*b.list(), i)
}

func prevMatch(l []step, i int) int {
	for j := i - 1; j >= 0; j-- {
		if l[j].kind == stepContent || l[j].kind == stepPcre {
			return j
		}
	}
	return -1
}

// switchBuffer makes id the current sticky buffer.
func (b *builder) switchBuffer(id BufferID) {
	b.cur = b.findList(id)
	b.explicitBuf = id != BufPktData
	b.lastList, b.lastContent = b.cur, -1
	for i, st := range b.sig.bufs[b.cur].steps {
		if st.kind == stepContent {
			b.lastContent = i
		}
	}
}

// moveContent implements a legacy content modifier (http_uri, ...): the
// preceding pkt_data content moves to buffer id.
func (b *builder) moveContent(kw string, id BufferID) error {
	if b.lastContent < 0 {
		return errFmt("%s needs a preceding content option", kw)
	}
	src := &b.sig.bufs[b.lastList]
	if src.id != BufPktData || len(src.xf) > 0 {
		return errFmt("%s cannot modify a content of sticky buffer %s", kw, src.id)
	}
	if b.lastContent != len(src.steps)-1 {
		return errFmt("%s must follow its content directly (other inspection keywords come between)", kw)
	}
	st := src.steps[b.lastContent]
	src.steps = src.steps[:b.lastContent]
	di := b.findList(id)
	b.sig.bufs[di].steps = append(b.sig.bufs[di].steps, st)
	b.lastList, b.lastContent = di, len(b.sig.bufs[di].steps)-1
	return nil
}

// compileRule turns one parsed rule into a signature.
func compileRule(r *rules.Rule, cc *compileCtx) (*Signature, error) {
	fail := func(kw, msg string) error {
		return &rules.Error{File: r.File, Line: r.Line, Keyword: kw, Msg: msg}
	}
	ps, ok := parseProto(r.Proto)
	var alproto ProtoMask
	if !ok {
		alproto, ok = appProtoNames[strings.ToLower(r.Proto)]
		if !ok || r.Proto == "failed" {
			return nil, fail("", fmt.Sprintf("unsupported protocol %q", r.Proto))
		}
		ps = appProtoTransport(strings.ToLower(r.Proto))
	}
	if r.SID == 0 {
		return nil, fail("sid", "rule has no sid")
	}
	gid := r.GID
	if gid == 0 {
		gid = 1
	}
	s := &Signature{
		Action: r.Action, GID: gid, SID: r.SID, Rev: r.Rev,
		Msg: r.Msg, Classtype: r.Classtype, ClassDesc: r.ClassDesc, Priority: r.Priority,
		Rule: r, proto: ps, alproto: alproto,
	}
	if s.Priority <= 0 {
		s.Priority = 3
	}
	b := &builder{rule: r, sig: s, cc: cc, cur: -1, lastContent: -1, b64List: -1, seen: map[string]bool{}}
	for _, o := range r.Options {
		name := strings.ToLower(o.Name)
		k := registry[name]
		if k == nil {
			if rules.KnownKeyword(name) {
				return nil, fail(name, fmt.Sprintf("unsupported keyword %q", name))
			}
			return nil, fail(name, fmt.Sprintf("unknown keyword %q", name))
		}
		if err := k.setup(b, o); err != nil {
			if err == errRequiresUnmet {
				return nil, err
			}
			prefix := name
			if k.modifier {
				prefix = "content"
			}
			return nil, fail(name, prefix+": "+err.Error())
		}
	}
	if kw, err := b.finish(); err != nil {
		return nil, fail(kw, kw+": "+err.Error())
	}
	return s, nil
}

// finish validates content windows, settles the app protocol and
// direction the buffers imply, marks relative chains and picks the fast
// pattern.
func (b *builder) finish() (string, error) {
	s := b.sig
	if kw, err := checkAbsent(s); err != nil {
		return kw, err
	}
	for bi := range s.bufs {
		l := s.bufs[bi].steps
		for i := range l {
			st := &l[i]
			if st.kind != stepContent {
				continue
			}
			plen := uint32(len(st.pat))
			if st.flags&fStartsWith != 0 {
				if st.flags&(fOffset|fDepth|fDistance|fWithin) != 0 {
					return "content", errors.New("startswith cannot be combined with depth, offset, distance or within")
				}
				st.flags |= fDepth
				st.depth = plen
				st.rawDepth = plen
			} else if st.flags&fDepth != 0 {
				if st.rawDepth < plen && st.vref[1] == 0 {
					return "content", errFmt("depth %d is smaller than the content length %d", st.rawDepth, plen)
				}
				st.depth = st.rawDepth + st.offset
			}
			if st.flags&fWithin != 0 && st.within < int32(plen) && st.vref[3] == 0 {
				return "content", errFmt("within %d is smaller than the content length %d, so it can never match", st.within, plen)
			}
			if st.fpLen > 0 && uint32(st.fpOff)+uint32(st.fpLen) > plen {
				return "content", errFmt("fast_pattern %d,%d is past the end of the %d-byte content", st.fpOff, st.fpLen, plen)
			}
		}
		markRelative(l)
	}
	// Drop lists left empty (a sticky buffer with no keyword after it is
	// an error, as in Suricata).
	for i := range s.bufs {
		bl := &s.bufs[i]
		if len(bl.steps) == 0 {
			if bl.id == BufPktData && len(bl.xf) == 0 || bl.absent != absentNone {
				continue
			}
			return bl.id.String(), errFmt("sticky buffer %s has no inspection keyword after it", bl.id)
		}
	}
	s.bufs = slices.DeleteFunc(s.bufs, func(bl bufList) bool { return len(bl.steps) == 0 && bl.absent == absentNone })
	// Link base64_decode steps to the base64_data list.
	for i := range s.bufs {
		if s.bufs[i].id != BufBase64Data {
			continue
		}
		for j := range s.bufs {
			for k := range s.bufs[j].steps {
				if st := &s.bufs[j].steps[k]; st.kind == stepBase64 {
					st.b64.steps = s.bufs[i].steps
				}
			}
		}
	}

	// App protocol and direction the buffers imply.
	var dir Direction
	for i := range s.bufs {
		bl := &s.bufs[i]
		info := &buffers[bl.id]
		if bl.id == BufPktData && len(bl.xf) == 0 {
			s.needsPayload = true
		}
		if info.Protos != 0 {
			if s.alproto == 0 {
				s.alproto = info.Protos
			} else if s.alproto&info.Protos == 0 {
				return bl.id.String(), errFmt("buffer %s is not available for protocol %s", bl.id, b.rule.Proto)
			} else {
				s.alproto &= info.Protos
			}
			s.appBufs = true
		}
		if info.Dir != DirBoth {
			dir |= info.Dir
		}
	}
	if s.alproto != 0 && s.proto == protoIP {
		s.proto = protoTCPUDP
	}
	flowDir := Direction(0)
	if s.flow.require&packet.FlagToServer != 0 {
		flowDir = DirToServer
	} else if s.flow.require&packet.FlagToClient != 0 {
		flowDir = DirToClient
	}
	switch {
	case dir == DirBoth:
		// Request and response buffers: the transaction is complete on
		// the response side, where Suricata inspects such rules.
		dir = DirToClient
		if flowDir == DirToServer {
			return "flow", errFmt("rule inspects response buffers but flow requires to_server")
		}
	case dir != 0 && flowDir != 0 && dir != flowDir:
		return "flow", errFmt("rule inspects %s buffers but flow requires %s", dir, flowDir)
	case dir == 0:
		dir = flowDir
	}
	s.dir = dir
	s.payloadMode = payloadModeOf(s)

	// Fast pattern: the content marked fast_pattern; else, among the
	// non-negated contents of the buffers of best (lowest) priority, the
	// longest, then the strongest (Suricata's rules). A negated content
	// never filters.
	bestList, best := -1, -1
	var bestPrio, bestLen, bestStrength int
	for li := range s.bufs {
		bl := &s.bufs[li]
		if bl.id == BufBase64Data || bl.absent != absentNone {
			continue
		}
		prio := buffers[bl.id].Priority
		for i := range bl.steps {
			st := &bl.steps[i]
			if st.kind != stepContent {
				continue
			}
			if st.flags&fFastPattern != 0 {
				bestList, best = li, i
				goto chosen
			}
			if st.flags&fNegated != 0 {
				continue
			}
			n := len(st.pat)
			if st.fpLen > 0 {
				n = st.fpLen
			}
			str := patternStrength(st.pat)
			if best < 0 || prio < bestPrio || prio == bestPrio && (n > bestLen || n == bestLen && str > bestStrength) {
				bestList, best, bestPrio, bestLen, bestStrength = li, i, prio, n, str
			}
		}
	}
chosen:
	if best >= 0 && s.bufs[bestList].steps[best].flags&fNegated == 0 {
		st := &s.bufs[bestList].steps[best]
		pat := st.pat
		if st.fpLen > 0 {
			pat = pat[st.fpOff : st.fpOff+st.fpLen]
		}
		s.fast = &mpm.Pattern{Bytes: pat, NoCase: st.flags&fNocase != 0}
		s.fastList = bestList
	}
	return "", nil
}

// markRelative sets, on each content or pcre that a later keyword is
// relative to, fRelativeNext (and fWithinNext when that keyword is a
// content with within), so inspection records positions and retries.
func markRelative(l []step) {
	for i := range l {
		l[i].flags &^= fRelativeNext | fWithinNext
	}
	for i := range l {
		st := &l[i]
		rel := false
		switch st.kind {
		case stepContent:
			rel = st.relative()
		case stepIsdataat, stepPcre, stepByte, stepBase64:
			rel = st.flags&fRelative != 0
		}
		if !rel {
			continue
		}
		if j := prevMatch(l, i); j >= 0 {
			l[j].flags |= fRelativeNext
			if st.kind == stepContent && st.flags&fWithin != 0 {
				l[j].flags |= fWithinNext
			}
		}
	}
}

// patternStrength is Suricata's PatternStrength: a byte's first
// occurrence scores 3 (letter), 4 (other printable, NUL, 0x01, 0xff) or 6;
// repeats score 1.
func patternStrength(p []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range p {
		if seen[c] {
			n++
			continue
		}
		seen[c] = true
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			n += 3
		case c >= 0x20 && c < 0x7f || c == 0 || c == 1 || c == 0xff:
			n += 4
		default:
			n += 6
		}
	}
	return n
}

func init() {
	// Rule metadata: the parser has taken these into rules.Rule already.
	for _, n := range []string{"msg", "sid", "rev", "gid", "classtype", "priority", "metadata", "reference"} {
		register(&keyword{name: n, setup: func(*builder, rules.Option) error { return nil }})
	}
	register(&keyword{name: "target", setup: setupTarget})
	register(&keyword{name: "flow", setup: setupFlow})

	register(&keyword{name: "content", setup: setupContent})
	register(&keyword{name: "nocase", setup: setupNocase, modifier: true})
	register(&keyword{name: "rawbytes", setup: setupRawbytes, modifier: true})
	register(&keyword{name: "depth", setup: setupDepth, modifier: true})
	register(&keyword{name: "offset", setup: setupOffset, modifier: true})
	register(&keyword{name: "distance", setup: setupDistance, modifier: true})
	register(&keyword{name: "within", setup: setupWithin, modifier: true})
	register(&keyword{name: "fast_pattern", setup: setupFastPattern, modifier: true})
	register(&keyword{name: "startswith", setup: setupStartsWith, modifier: true})
	register(&keyword{name: "endswith", setup: setupEndsWith, modifier: true})
	register(&keyword{name: "isdataat", setup: setupIsdataat})
	register(&keyword{name: "pcre", setup: setupPcre})

	register(&keyword{name: "dsize", setup: func(b *builder, o rules.Option) error {
		if err := b.once("dsize"); err != nil {
			return err
		}
		u, err := parseUint(o.Value, 65535)
		if err != nil {
			return err
		}
		b.sig.pkt = append(b.sig.pkt, &dsizeMatch{u})
		// As Suricata's SignatureCreateMask: these forms need payload, so
		// "dsize:!9" or "dsize:>0" never match an empty packet.
		switch u.mode {
		case uintNe, uintGt, uintGe, uintRange, uintNegRange:
			b.sig.payloadReq = true
		case uintEq:
			b.sig.payloadReq = u.lo > 0
		}
		return nil
	}})
	register(&keyword{name: "ttl", setup: func(b *builder, o rules.Option) error {
		u, err := parseUint(o.Value, 255)
		if err != nil {
			return err
		}
		b.sig.pkt = append(b.sig.pkt, &ttlMatch{u})
		return nil
	}})
	register(&keyword{name: "itype", setup: func(b *builder, o rules.Option) error {
		u, err := parseUint(o.Value, 255)
		if err != nil {
			return err
		}
		b.sig.pkt = append(b.sig.pkt, &icmpMatch{u: u})
		return nil
	}})
	register(&keyword{name: "icode", setup: func(b *builder, o rules.Option) error {
		u, err := parseUint(o.Value, 255)
		if err != nil {
			return err
		}
		b.sig.pkt = append(b.sig.pkt, &icmpMatch{u: u, code: true})
		return nil
	}})
	register(&keyword{name: "ip_proto", setup: func(b *builder, o rules.Option) error {
		u, err := parseIPProto(o.Value)
		if err != nil {
			return err
		}
		b.sig.pkt = append(b.sig.pkt, &ipProtoMatch{u})
		return nil
	}})
	register(&keyword{name: "flags", setup: setupTCPFlags})
	register(&keyword{name: "tcp.flags", setup: setupTCPFlags})
	register(&keyword{name: "sameip", setup: func(b *builder, o rules.Option) error {
		if o.HasValue && strings.TrimSpace(o.Value) != "" {
			return errFmt("takes no value")
		}
		b.sig.pkt = append(b.sig.pkt, sameIPMatch{})
		return nil
	}})
}

func setupTCPFlags(b *builder, o rules.Option) error {
	{
		if err := b.once("flags"); err != nil {
			return err
		}
		m, err := parseFlags(o.Value)
		if err != nil {
			return err
		}
		b.sig.pkt = append(b.sig.pkt, m)
		return nil
	}
}

func setupTarget(b *builder, o rules.Option) error {
	switch strings.TrimSpace(o.Value) {
	case "src_ip", "dest_ip":
		return nil
	}
	return errFmt("must be src_ip or dest_ip, not %q", o.Value)
}

func setupFlow(b *builder, o rules.Option) error {
	if err := b.once("flow"); err != nil {
		return err
	}
	f, err := parseFlow(o.Value)
	if err != nil {
		return err
	}
	b.sig.flow = f
	return nil
}

func setupContent(b *builder, o rules.Option) error {
	pat, neg, err := rules.DecodeContent(o.Value)
	if err != nil {
		return err
	}
	if len(pat) == 0 {
		return errFmt("empty pattern")
	}
	if len(pat) > 65535 {
		return errFmt("pattern of %d bytes is too long (max 65535)", len(pat))
	}
	st := step{kind: stepContent, pat: pat}
	if neg {
		st.flags |= fNegated
	}
	l := b.list()
	*l = append(*l, st)
	b.lastList, b.lastContent = b.cur, len(*l)-1
	return nil
}

func noValue(o rules.Option) error {
	if o.HasValue && strings.TrimSpace(o.Value) != "" {
		return errFmt("%s takes no value", o.Name)
	}
	return nil
}

func setupNocase(b *builder, o rules.Option) error {
	if err := noValue(o); err != nil {
		return err
	}
	st, err := b.content("nocase")
	if err != nil {
		return err
	}
	if st.flags&fNocase != 0 {
		return errFmt("nocase given twice for the same content")
	}
	st.flags |= fNocase
	for i, c := range st.pat {
		st.pat[i] = lower[c]
	}
	return nil
}

func setupRawbytes(b *builder, o rules.Option) error {
	if err := noValue(o); err != nil {
		return err
	}
	_, err := b.content("rawbytes")
	return err
}

// parseNum parses a modifier's integer value in [lo, hi].
func parseNum(kw, v string, lo, hi int64) (int64, error) {
	v = strings.TrimSpace(v)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errFmt("invalid %s value %q", kw, v)
	}
	if n < lo || n > hi {
		return 0, errFmt("%s %d out of range [%d, %d]", kw, n, lo, hi)
	}
	return n, nil
}

func absoluteModifier(b *builder, kw string, flag uint16) (*step, error) {
	st, err := b.content(kw)
	if err != nil {
		return nil, err
	}
	if st.flags&flag != 0 {
		return nil, errFmt("%s given twice for the same content", kw)
	}
	if st.relative() {
		return nil, errFmt("cannot use %s with distance or within on the same content", kw)
	}
	if st.flags&fStartsWith != 0 {
		return nil, errFmt("cannot use %s with startswith", kw)
	}
	return st, nil
}

// varModifier handles a content modifier whose value names a
// byte_extract/byte_math variable: it records the variable in slot k of
// the step's vref and reports whether it did.
func (b *builder) varModifier(st *step, k int, v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || v[0] >= '0' && v[0] <= '9' || v[0] == '-' || v[0] == '+' {
		return false
	}
	i, ok := b.varIndex(v)
	if !ok {
		return false
	}
	st.vref[k] = int8(i + 1)
	return true
}

func setupDepth(b *builder, o rules.Option) error {
	st, err := absoluteModifier(b, "depth", fDepth)
	if err != nil {
		return err
	}
	if b.varModifier(st, 1, o.Value) {
		st.flags |= fDepth
		return nil
	}
	v := strings.TrimSpace(o.Value)
	if v == "0" {
		return errFmt("depth 0 is invalid")
	}
	n, err := parseNum("depth", v, 1, 65535)
	if err != nil {
		return err
	}
	st.flags |= fDepth
	st.rawDepth = uint32(n)
	return nil
}

func setupOffset(b *builder, o rules.Option) error {
	st, err := absoluteModifier(b, "offset", fOffset)
	if err != nil {
		return err
	}
	if b.varModifier(st, 0, o.Value) {
		st.flags |= fOffset
		return nil
	}
	n, err := parseNum("offset", o.Value, 0, 65535)
	if err != nil {
		return err
	}
	st.flags |= fOffset
	st.offset = uint32(n)
	return nil
}

func relativeModifier(b *builder, kw string, flag uint16) (*step, error) {
	st, err := b.content(kw)
	if err != nil {
		return nil, err
	}
	if st.flags&flag != 0 {
		return nil, errFmt("%s given twice for the same content", kw)
	}
	if st.flags&(fDepth|fOffset) != 0 {
		return nil, errFmt("cannot use %s with depth or offset on the same content", kw)
	}
	if st.flags&fStartsWith != 0 {
		return nil, errFmt("cannot use %s with startswith", kw)
	}
	// Mark the keyword this content is relative to.
	if j := prevMatch(b.sig.bufs[b.lastList].steps, b.lastContent); j >= 0 {
		prev := &b.sig.bufs[b.lastList].steps[j]
		prev.flags |= fRelativeNext
		if flag == fWithin {
			prev.flags |= fWithinNext
		}
	}
	return st, nil
}

func setupDistance(b *builder, o rules.Option) error {
	st, err := relativeModifier(b, "distance", fDistance)
	if err != nil {
		return err
	}
	if b.varModifier(st, 2, o.Value) {
		st.flags |= fDistance
		return nil
	}
	n, err := parseNum("distance", o.Value, -65535, 65535)
	if err != nil {
		return err
	}
	st.flags |= fDistance
	st.distance = int32(n)
	return nil
}

func setupWithin(b *builder, o rules.Option) error {
	st, err := relativeModifier(b, "within", fWithin)
	if err != nil {
		return err
	}
	if b.varModifier(st, 3, o.Value) {
		st.flags |= fWithin
		return nil
	}
	v := strings.TrimSpace(o.Value)
	if v == "0" {
		return errFmt("within 0 is invalid")
	}
	n, err := parseNum("within", v, 1, 65535)
	if err != nil {
		return err
	}
	st.flags |= fWithin
	st.within = int32(n)
	return nil
}

func setupFastPattern(b *builder, o rules.Option) error {
	st, err := b.content("fast_pattern")
	if err != nil {
		return err
	}
	if b.fastSet {
		return errFmt("fast_pattern given for more than one content")
	}
	v := strings.TrimSpace(o.Value)
	switch {
	case v == "" || v == "only":
	default:
		os, ls, ok := strings.Cut(v, ",")
		if !ok {
			return errFmt("invalid fast_pattern value %q (want only or offset,length)", v)
		}
		off, err := parseNum("fast_pattern offset", os, 0, 65535)
		if err != nil {
			return err
		}
		n, err := parseNum("fast_pattern length", ls, 1, 65535)
		if err != nil {
			return err
		}
		st.fpOff, st.fpLen = int(off), int(n)
	}
	b.fastSet = true
	st.flags |= fFastPattern
	return nil
}

func setupStartsWith(b *builder, o rules.Option) error {
	if err := noValue(o); err != nil {
		return err
	}
	st, err := b.content("startswith")
	if err != nil {
		return err
	}
	if st.flags&fStartsWith != 0 {
		return errFmt("startswith given twice for the same content")
	}
	if st.flags&(fOffset|fDepth|fDistance|fWithin) != 0 {
		return errFmt("startswith cannot be combined with depth, offset, distance or within")
	}
	st.flags |= fStartsWith
	return nil
}

func setupEndsWith(b *builder, o rules.Option) error {
	if err := noValue(o); err != nil {
		return err
	}
	st, err := b.content("endswith")
	if err != nil {
		return err
	}
	if st.flags&fEndsWith != 0 {
		return errFmt("endswith given twice for the same content")
	}
	st.flags |= fEndsWith
	return nil
}

// setupIsdataat parses "isdataat:[!]N[,relative]".
func setupIsdataat(b *builder, o rules.Option) error {
	parts := rules.SplitArgs(o.Value)
	if len(parts) == 0 || len(parts) > 2 {
		return errFmt("invalid value %q (want [!]N[,relative])", o.Value)
	}
	st := step{kind: stepIsdataat}
	v := parts[0]
	if strings.HasPrefix(v, "!") {
		st.flags |= fNegated
		v = strings.TrimSpace(v[1:])
	}
	if i, ok := b.varIndex(strings.TrimSpace(v)); ok {
		st.vref[0] = int8(i + 1)
	} else {
		n, err := parseNum("isdataat", v, 0, 65535)
		if err != nil {
			return err
		}
		st.dataat = uint32(n)
	}
	if len(parts) == 2 {
		switch strings.TrimSpace(parts[1]) {
		case "relative":
			st.flags |= fRelative
		case "rawbytes":
		default:
			return errFmt("unknown option %q (want relative)", parts[1])
		}
	}
	l := b.relList(st.flags&fRelative != 0)
	if st.flags&fRelative != 0 {
		if j := prevMatch(*l, len(*l)); j >= 0 {
			(*l)[j].flags |= fRelativeNext
		}
	}
	*l = append(*l, st)
	return nil
}
