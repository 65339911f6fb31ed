package engine

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/vigil-ids/vigil/detect/rules"
)

// pcre is compiled with Go's RE2 engine when the pattern only uses features
// RE2 has; other patterns (back-references, look-around, possessive
// quantifiers, \Z, ...) are reported as "unsupported pcre feature" until a
// PCRE-compatible engine exists.
//
// Byte semantics: Suricata runs PCRE in byte mode, while Go's regexp
// decodes UTF-8. Patterns are compiled with every byte >= 0x80 turned into
// the rune of the same value (so \xff means the byte 0xff), and a buffer
// holding bytes >= 0x80 is transcoded the same way into thread scratch
// before matching; offsets are mapped back. Every byte is then exactly one
// character, as in PCRE.

type pcreStep struct {
	re       *regexp.Regexp
	anchored bool // cannot match past the start of the subject (no retry)
}

// latin1 converts bytes to a string of the runes with the same values.
func latin1(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// stripExtended removes PCRE "x" mode white space and #-comments outside
// character classes.
func stripExtended(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			b.WriteByte(p[i+1])
			i++
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is literal.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			continue
		case c == '#':
			for i < len(p) && p[i] != '\n' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
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
	if len(s) < 2 || s[0] != '/' {
		return errFmt("pattern must be written as \"/regex/flags\", got %q", s)
	}
	end := strings.LastIndexByte(s, '/')
	if end == 0 {
		return errFmt("missing closing / in %q", s)
	}
	pat, mods := s[1:end], s[end+1:]
	var goFlags strings.Builder
	anchor := false
	extended := false
	for i := 0; i < len(mods); i++ {
		switch c := mods[i]; c {
		case 'i', 's', 'm':
			goFlags.WriteByte(c)
		case 'x':
			extended = true
		case 'G':
			goFlags.WriteByte('U')
		case 'A':
			anchor = true
		case 'E':
			// Go's $ without m already matches only at the very end.
		case 'R':
			st.flags |= fRelative
		case 'B', 'O':
			// rawbytes / match-limit override: nothing to do.
		case 'U', 'H', 'P', 'M', 'C', 'D', 'K', 'S', 'Y', 'V', 'W', 'Z', 'I', 'Q':
			return errFmt("http buffer modifier %q is not supported yet", string(c))
		case ' ':
		default:
			return errFmt("unknown modifier %q in %q", string(c), s)
		}
	}
	if extended {
		pat = stripExtended(pat)
	}
	pat = latin1(pat)
	if anchor {
		pat = `\A(?:` + pat + `)`
	}
	if f := goFlags.String(); f != "" {
		pat = "(?" + f + ")" + pat
	}
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return errFmt("unsupported pcre feature: %v", err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return errFmt("unsupported pcre feature: %v", err)
	}
	cre, err := regexp.Compile(pat)
	if err != nil {
		return errFmt("unsupported pcre feature: %v", err)
	}
	st.pcre = &pcreStep{re: cre, anchored: prog.StartCond()&syntax.EmptyBeginText != 0}
	l := b.list()
	if st.flags&fRelative != 0 {
		if j := b.prevMatchIndex(len(*l)); j >= 0 {
			(*l)[j].flags |= fRelativeNext
		}
	}
	*l = append(*l, st)
	b.sig.hasPcre = true
	return nil
}

// pcreFind searches window for the step's regex. With needPos it returns
// the match's start and end offsets in window; without, only whether there
// is a match (which allocates nothing).
func (t *Thread) pcreFind(ps *pcreStep, window []byte, needPos bool) (bool, int, int) {
	hi := false
	for _, c := range window {
		if c >= 0x80 {
			hi = true
			break
		}
	}
	subj := window
	if hi {
		subj = t.pcreBuf[:0]
		for _, c := range window {
			if c < 0x80 {
				subj = append(subj, c)
			} else {
				subj = utf8.AppendRune(subj, rune(c))
			}
		}
		t.pcreBuf = subj
	}
	if !needPos {
		return ps.re.Match(subj), 0, 0
	}
	loc := ps.re.FindIndex(subj)
	if loc == nil {
		return false, 0, 0
	}
	if hi {
		return true, utf8.RuneCount(subj[:loc[0]]), utf8.RuneCount(subj[:loc[1]])
	}
	return true, loc[0], loc[1]
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
