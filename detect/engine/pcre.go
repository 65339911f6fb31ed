package engine

import (
	"strings"

	"github.com/vigil-ids/vigil/detect/pcre"
	"github.com/vigil-ids/vigil/detect/rules"
)

// pcre keywords run on detect/pcre, a backtracking engine with PCRE's
// semantics (look-around, back-references, atomic groups, possessive
// quantifiers) in byte mode, as Suricata compiles its patterns, and with
// PCRE's match limits: a search that hits them counts as no match and is
// counted in Counters.PcreLimitHits.

type pcreStep struct {
	re       *pcre.Regexp
	anchored bool // cannot match past the start of the subject (no retry)
}

// setupPcre parses `pcre:[!]"/regex/flags"`.
func setupPcre(b *builder, o rules.Option) error {
	v := strings.TrimSpace(o.Value)
	st := step{kind: stepPcre}
	if strings.HasPrefix(v, "!") {
		st.flags |= fNegated
		v = strings.TrimSpace(v[1:])
	}
	s, err := rules.Unquote(v)
	if err != nil {
		return err
	}
	pat, flags, mods, err := pcre.ParseValue(s)
	if err != nil {
		return errFmt("pattern must be written as \"/regex/flags\": %v", err)
	}
	target := -1 // buffer a modifier selects
	for i := 0; i < len(mods); i++ {
		switch c := mods[i]; c {
		case 'R':
			st.flags |= fRelative
		case 'B', 'O':
			// rawbytes / match-limit override: nothing to do.
		case 'U', 'H', 'P', 'M', 'C', 'D', 'S', 'Y', 'V', 'W', 'Z', 'I', 'Q':
			name := pcreBufferFlags[c]
			id := bufferByName[name]
			if target >= 0 && BufferID(target) != id {
				return errFmt("modifiers %q select two buffers", mods)
			}
			target = int(id)
		case ' ':
		default:
			return errFmt("unknown modifier %q in %q", string(c), s)
		}
	}
	re, err := pcre.Compile(pat, flags)
	if err != nil {
		return errFmt("%v", err)
	}
	st.pcre = &pcreStep{re: re, anchored: re.Anchored()}
	l := b.list()
	if target >= 0 {
		if cl := b.curList(); cl.id != BufPktData && cl.id != BufferID(target) {
			return errFmt("buffer modifier selects %s inside sticky buffer %s", BufferID(target), cl.id)
		}
		li := b.findList(BufferID(target))
		l = &b.sig.bufs[li].steps
	}
	*l = append(*l, st)
	b.sig.hasPcre = true
	return nil
}

// pcreFind searches window for the step's regex and returns the match's
// start and end offsets in window.
func (t *Thread) pcreFind(ps *pcreStep, window []byte, _ bool) (bool, int, int) {
	ms, me, ok := ps.re.Find(window, 0, t.pcre)
	if !ok && t.pcre.LimitHit() {
		t.c.PcreLimitHits++
	}
	return ok, ms, me
}

// inspectPcre is the pcre branch of inspect (Suricata semantics: a relative
// pcre starts at the end of the previous match; when later keywords are
// relative to it and fail, the pcre is retried after its last match start).
func (t *Thread) inspectPcre(list []step, i int, buf []byte) int {
	s := &list[i]
	last := i == len(list)-1
	base := 0
	if s.flags&fRelative != 0 {
		base = t.bufOff
		if base > len(buf) {
			return 0
		}
	}
	prevBufOff := t.bufOff
	if s.flags&fNegated != 0 {
		ok, _, _ := t.pcreFind(s.pcre, buf[base:], false)
		if ok {
			return 0
		}
		if last {
			return 1
		}
		return t.inspect(list, i+1, buf)
	}
	needPos := s.flags&fRelativeNext != 0
	start := base
	for {
		ok, ms, me := t.pcreFind(s.pcre, buf[start:], needPos)
		if !ok {
			return 0
		}
		if !needPos {
			if last {
				return 1
			}
			return t.inspect(list, i+1, buf)
		}
		t.bufOff = start + me
		if last {
			return 1
		}
		r := t.inspect(list, i+1, buf)
		if r != 0 {
			return r
		}
		t.bufOff = prevBufOff
		if s.pcre.anchored {
			return 0
		}
		start = start + ms + 1
		if start > len(buf) {
			return 0
		}
		t.budget--
		if t.budget <= 0 {
			return -1
		}
	}
}
