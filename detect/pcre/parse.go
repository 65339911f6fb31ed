package pcre

import (
	"fmt"
	"strconv"
)

// AST produced by the parser and consumed by the compiler.

type nodeKind uint8

const (
	ndEmpty   nodeKind = iota
	ndLit              // one byte; fold: ASCII letter matched without case
	ndSet              // one byte out of a set
	ndConcat           // subs in sequence
	ndAlt              // subs as alternatives, first that succeeds wins
	ndCap              // capturing group idx around subs[0]
	ndRepeat           // subs[0] repeated min..max (max<0: unbounded)
	ndAssert           // zero-width assertion akind
	ndLook             // look-around: behind, neg, subs[0]
	ndAtomic           // atomic group (?>subs[0])
	ndBackref          // back-reference to group idx, fold: caseless
	ndKeep             // \K: reset the reported match start
)

// Repeat modes.
const (
	repGreedy uint8 = iota
	repLazy
	repPossessive
)

// Assertion kinds.
const (
	asBeginText    uint8 = iota // \A, ^ without m
	asBeginLine                 // ^ with m
	asEndText                   // \z, $ with E
	asEndTextOptNL              // \Z, $ without m/E
	asEndLine                   // $ with m
	asWordB                     // \b
	asNotWordB                  // \B
	asStartOffset               // \G
)

type node struct {
	kind     nodeKind
	b        byte
	fold     bool
	behind   bool
	neg      bool
	mode     uint8
	akind    uint8
	set      *[256]bool
	subs     []*node
	idx      int
	min, max int
	name     string // unresolved named back-reference
	quote    bool   // ndConcat from \Q..\E: a quantifier applies to its last byte
	off      int    // offset in the pattern, for messages
}

// Inline option bits (the subset that can change inside a pattern).
const (
	optI uint8 = 1 << iota
	optM
	optS
	optX
	optU
)

const (
	maxNesting   = 200
	maxRepeatArg = 65535
)

type parser struct {
	src       string
	i         int
	opts      uint8
	dollarEnd bool
	ncap      int
	totalCaps int
	names     map[string]int
	refs      []*node // back-references to resolve once all groups are known
}

// Error is a compile error: the byte offset in the pattern and what is wrong.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("pcre: offset %d: %s", e.Offset, e.Msg) }

func (p *parser) errf(off int, format string, args ...any) error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func parse(src string, flags Flags) (*node, *parser, error) {
	p := &parser{src: src}
	if flags&Caseless != 0 {
		p.opts |= optI
	}
	if flags&Multiline != 0 {
		p.opts |= optM
	}
	if flags&DotAll != 0 {
		p.opts |= optS
	}
	if flags&Extended != 0 {
		p.opts |= optX
	}
	if flags&Ungreedy != 0 {
		p.opts |= optU
	}
	p.dollarEnd = flags&DollarEndOnly != 0
	p.totalCaps = countCaps(src)
	n, err := p.parseAlt(0)
	if err != nil {
		return nil, nil, err
	}
	if p.i < len(p.src) {
		// Only an unmatched ')' stops the top level early.
		return nil, nil, p.errf(p.i, "unmatched closing parenthesis")
	}
	for _, r := range p.refs {
		if r.name != "" {
			idx, ok := p.names[r.name]
			if !ok {
				return nil, nil, p.errf(r.off, "reference to non-existent subpattern %q", r.name)
			}
			r.idx = idx
		}
		if r.idx < 1 || r.idx > p.ncap {
			return nil, nil, p.errf(r.off, "reference to non-existent subpattern %d", r.idx)
		}
	}
	return n, p, nil
}

// countCaps counts capturing groups ahead of parsing, to tell \12 as a
// back-reference from \12 as an octal escape the way PCRE does.
func countCaps(s string) int {
	n := 0
	inClass := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 < len(s) && s[i+1] == 'Q' {
				j := i + 2
				for j+1 < len(s) && !(s[j] == '\\' && s[j+1] == 'E') {
					j++
				}
				i = j + 1
				continue
			}
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if i+1 < len(s) && s[i+1] == '^' {
				i++
			}
			if i+1 < len(s) && s[i+1] == ']' {
				i++
			}
		case c == '(':
			if i+1 >= len(s) || s[i+1] != '?' {
				if i+1 >= len(s) || s[i+1] != '*' {
					n++
				}
				continue
			}
			r := s[i+2:]
			if len(r) > 0 && (r[0] == '\'' || (r[0] == '<' && len(r) > 1 && r[1] != '=' && r[1] != '!') || (len(r) > 1 && r[0] == 'P' && r[1] == '<')) {
				n++
			}
		}
	}
	return n
}

func (p *parser) more() bool { return p.i < len(p.src) }

// skipX skips white space and #-comments in extended mode.
func (p *parser) skipX() {
	if p.opts&optX == 0 {
		return
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		if isXSpace(c) {
			p.i++
			continue
		}
		if c == '#' {
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.i++
			}
			continue
		}
		return
	}
}

func isXSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func (p *parser) parseAlt(depth int) (*node, error) {
	if depth > maxNesting {
		return nil, p.errf(p.i, "parentheses are too deeply nested (limit %d)", maxNesting)
	}
	var alts []*node
	start := p.i
	for {
		seq, err := p.parseSeq(depth)
		if err != nil {
			return nil, err
		}
		alts = append(alts, seq)
		if p.more() && p.src[p.i] == '|' {
			p.i++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{kind: ndAlt, subs: alts, off: start}, nil
}

func (p *parser) parseSeq(depth int) (*node, error) {
	var items []*node
	start := p.i
	for {
		p.skipX()
		if !p.more() || p.src[p.i] == '|' || p.src[p.i] == ')' {
			break
		}
		atomOff := p.i
		atom, err := p.parseAtom(depth)
		if err != nil {
			return nil, err
		}
		p.skipX()
		if atom == nil {
			// Option setting, comment or \E: nothing to repeat.
			if q, _, _, _ := p.peekQuant(); q {
				return nil, p.errf(p.i, "quantifier does not follow a repeatable item")
			}
			continue
		}
		atom, err = p.parseQuant(atom, atomOff, p.src[atomOff] == '(')
		if err != nil {
			return nil, err
		}
		if atom.kind == ndConcat && atom.quote {
			items = append(items, atom.subs...) // \Q..\E literal runs
		} else {
			items = append(items, atom)
		}
	}
	switch len(items) {
	case 0:
		return &node{kind: ndEmpty, off: start}, nil
	case 1:
		return items[0], nil
	}
	return &node{kind: ndConcat, subs: items, off: start}, nil
}

// peekQuant reports whether a quantifier starts at p.i, with its bounds and
// its length in bytes.
func (p *parser) peekQuant() (ok bool, min, max, n int) {
	if !p.more() {
		return false, 0, 0, 0
	}
	switch p.src[p.i] {
	case '*':
		return true, 0, -1, 1
	case '+':
		return true, 1, -1, 1
	case '?':
		return true, 0, 1, 1
	case '{':
		return p.braces(p.i)
	}
	return false, 0, 0, 0
}

// braces parses {n}, {n,} or {n,m} at i. Anything else is not a
// quantifier (PCRE then treats '{' as a literal).
func (p *parser) braces(i int) (ok bool, min, max, n int) {
	s := p.src
	j := i + 1
	d0 := j
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == d0 || j >= len(s) {
		return false, 0, 0, 0
	}
	min = atoiSat(s[d0:j])
	if s[j] == '}' {
		return true, min, min, j + 1 - i
	}
	if s[j] != ',' {
		return false, 0, 0, 0
	}
	j++
	d1 := j
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j >= len(s) || s[j] != '}' {
		return false, 0, 0, 0
	}
	if j == d1 {
		return true, min, -1, j + 1 - i
	}
	return true, min, atoiSat(s[d1:j]), j + 1 - i
}

func atoiSat(s string) int {
	if len(s) > 7 {
		return 1 << 30
	}
	v, _ := strconv.Atoi(s)
	return v
}

func (p *parser) parseQuant(atom *node, atomOff int, group bool) (*node, error) {
	ok, min, max, n := p.peekQuant()
	if !ok {
		return atom, nil
	}
	qoff := p.i
	if min > maxRepeatArg || max > maxRepeatArg {
		return nil, p.errf(qoff, "number too big in {} quantifier (limit %d)", maxRepeatArg)
	}
	if max >= 0 && max < min {
		return nil, p.errf(qoff, "numbers out of order in {} quantifier")
	}
	p.i += n
	mode := repGreedy
	if p.opts&optU != 0 {
		mode = repLazy
	}
	if p.more() {
		switch p.src[p.i] {
		case '?':
			if mode == repLazy {
				mode = repGreedy
			} else {
				mode = repLazy
			}
			p.i++
		case '+':
			mode = repPossessive
			p.i++
		}
	}
	zeroWidth := atom.kind == ndLook || group && (atom.kind == ndAssert || atom.kind == ndKeep || atom.kind == ndEmpty)
	switch {
	case zeroWidth:
		// A repeated zero-width item matches at most once: it is optional
		// with a zero minimum.
		if min == 0 {
			atom = &node{kind: ndEmpty, off: atomOff}
		}
		p.skipX()
		if q, _, _, _ := p.peekQuant(); q {
			return nil, p.errf(p.i, "quantifier does not follow a repeatable item")
		}
		return atom, nil
	case atom.kind == ndAssert || atom.kind == ndKeep:
		return nil, p.errf(qoff, "quantifier does not follow a repeatable item")
	case atom.kind == ndConcat && atom.quote:
		// \Q..\E run: the quantifier applies to its last byte only.
		last := atom.subs[len(atom.subs)-1]
		atom.subs[len(atom.subs)-1] = &node{kind: ndRepeat, subs: []*node{last}, min: min, max: max, mode: mode, off: atomOff}
		p.skipX()
		if q, _, _, _ := p.peekQuant(); q {
			return nil, p.errf(p.i, "quantifier does not follow a repeatable item")
		}
		return atom, nil
	}
	p.skipX()
	if q, _, _, _ := p.peekQuant(); q {
		return nil, p.errf(p.i, "quantifier does not follow a repeatable item")
	}
	return &node{kind: ndRepeat, subs: []*node{atom}, min: min, max: max, mode: mode, off: atomOff}, nil
}

func (p *parser) lit(c byte, off int) *node {
	if p.opts&optI != 0 && isLetter(c) {
		return &node{kind: ndLit, b: lower(c), fold: true, off: off}
	}
	return &node{kind: ndLit, b: c, off: off}
}

func (p *parser) parseAtom(depth int) (*node, error) {
	off := p.i
	c := p.src[p.i]
	switch c {
	case '(':
		return p.parseGroup(depth)
	case '[':
		p.i++
		set, err := p.parseClass(off)
		if err != nil {
			return nil, err
		}
		return &node{kind: ndSet, set: set, off: off}, nil
	case '.':
		p.i++
		var set [256]bool
		for b := range set {
			set[b] = b != '\n' || p.opts&optS != 0
		}
		return &node{kind: ndSet, set: &set, off: off}, nil
	case '^':
		p.i++
		if p.opts&optM != 0 {
			return &node{kind: ndAssert, akind: asBeginLine, off: off}, nil
		}
		return &node{kind: ndAssert, akind: asBeginText, off: off}, nil
	case '$':
		p.i++
		switch {
		case p.opts&optM != 0:
			return &node{kind: ndAssert, akind: asEndLine, off: off}, nil
		case p.dollarEnd:
			return &node{kind: ndAssert, akind: asEndText, off: off}, nil
		}
		return &node{kind: ndAssert, akind: asEndTextOptNL, off: off}, nil
	case '\\':
		return p.parseEscapeAtom()
	case '*', '+', '?':
		return nil, p.errf(off, "quantifier does not follow a repeatable item")
	case '{':
		if ok, _, _, _ := p.braces(p.i); ok {
			return nil, p.errf(off, "quantifier does not follow a repeatable item")
		}
	}
	p.i++
	return p.lit(c, off), nil
}

// parseGroup parses from '(' to the matching ')'. It returns nil for
// option settings and comments.
func (p *parser) parseGroup(depth int) (*node, error) {
	off := p.i
	p.i++
	if !p.more() {
		return nil, p.errf(off, "missing closing parenthesis")
	}
	if p.src[p.i] == '*' {
		return nil, p.errf(off, "unsupported (*VERB) or start-of-pattern option")
	}
	if p.src[p.i] != '?' {
		p.ncap++
		idx := p.ncap
		sub, err := p.groupBody(depth, off)
		if err != nil {
			return nil, err
		}
		return &node{kind: ndCap, idx: idx, subs: []*node{sub}, off: off}, nil
	}
	p.i++
	if !p.more() {
		return nil, p.errf(off, "unrecognized character after (?")
	}
	c := p.src[p.i]
	switch c {
	case '#':
		for p.more() && p.src[p.i] != ')' {
			p.i++
		}
		if !p.more() {
			return nil, p.errf(off, "missing ) after (?# comment")
		}
		p.i++
		return nil, nil
	case ':':
		p.i++
		return p.groupBody(depth, off)
	case '>':
		p.i++
		sub, err := p.groupBody(depth, off)
		if err != nil {
			return nil, err
		}
		return &node{kind: ndAtomic, subs: []*node{sub}, off: off}, nil
	case '=', '!':
		p.i++
		return p.look(depth, off, false, c == '!')
	case '<':
		if p.i+1 < len(p.src) && (p.src[p.i+1] == '=' || p.src[p.i+1] == '!') {
			neg := p.src[p.i+1] == '!'
			p.i += 2
			return p.look(depth, off, true, neg)
		}
		p.i++
		return p.namedGroup(depth, off, '>')
	case '\'':
		p.i++
		return p.namedGroup(depth, off, '\'')
	case 'P':
		if p.i+1 < len(p.src) {
			switch p.src[p.i+1] {
			case '<':
				p.i += 2
				return p.namedGroup(depth, off, '>')
			case '=':
				p.i += 2
				name, err := p.name(')')
				if err != nil {
					return nil, err
				}
				n := &node{kind: ndBackref, name: name, fold: p.opts&optI != 0, off: off}
				p.refs = append(p.refs, n)
				return n, nil
			case '>':
				return nil, p.errf(off, "unsupported recursion (?P>name)")
			}
		}
		return nil, p.errf(off, "unrecognized character after (?P")
	case '|':
		return nil, p.errf(off, "unsupported branch reset group (?|...)")
	case '(':
		return nil, p.errf(off, "unsupported conditional group (?(...)...)")
	case 'C':
		return nil, p.errf(off, "unsupported callout (?C...)")
	case 'R', '&', '+':
		return nil, p.errf(off, "unsupported recursion or subroutine call")
	}
	if c >= '0' && c <= '9' || c == '-' && p.i+1 < len(p.src) && p.src[p.i+1] >= '0' && p.src[p.i+1] <= '9' {
		return nil, p.errf(off, "unsupported recursion or subroutine call")
	}
	// Option letters: (?imsxU-imsxU) or (?imsxU-imsxU:...).
	on, neg := true, false
	opts := p.opts
	for p.more() {
		c := p.src[p.i]
		var bit uint8
		switch c {
		case 'i':
			bit = optI
		case 'm':
			bit = optM
		case 's':
			bit = optS
		case 'x':
			bit = optX
		case 'U':
			bit = optU
		case '-':
			if neg {
				return nil, p.errf(p.i, "invalid option setting: second '-'")
			}
			neg, on = true, false
			p.i++
			continue
		case ')':
			p.i++
			p.opts = opts
			return nil, nil
		case ':':
			p.i++
			saved := p.opts
			p.opts = opts
			sub, err := p.groupBodyKeep(depth, off)
			p.opts = saved
			return sub, err
		default:
			return nil, p.errf(p.i, "unsupported or unrecognized option letter %q in (?...)", string(c))
		}
		if on {
			opts |= bit
		} else {
			opts &^= bit
		}
		p.i++
	}
	return nil, p.errf(off, "missing closing parenthesis")
}

func (p *parser) look(depth, off int, behind, neg bool) (*node, error) {
	sub, err := p.groupBody(depth, off)
	if err != nil {
		return nil, err
	}
	if behind {
		if err := checkFixed(sub, p); err != nil {
			return nil, err
		}
	}
	return &node{kind: ndLook, behind: behind, neg: neg, subs: []*node{sub}, off: off}, nil
}

func (p *parser) name(term byte) (string, error) {
	start := p.i
	for p.more() && (isWord(p.src[p.i])) {
		p.i++
	}
	if p.i == start || !p.more() || p.src[p.i] != term {
		return "", p.errf(start, "invalid or unterminated group name")
	}
	if p.src[start] >= '0' && p.src[start] <= '9' {
		return "", p.errf(start, "group name must not start with a digit")
	}
	name := p.src[start:p.i]
	p.i++
	return name, nil
}

func (p *parser) namedGroup(depth, off int, term byte) (*node, error) {
	name, err := p.name(term)
	if err != nil {
		return nil, err
	}
	if _, dup := p.names[name]; dup {
		return nil, p.errf(off, "two named subpatterns have the same name %q", name)
	}
	p.ncap++
	idx := p.ncap
	if p.names == nil {
		p.names = make(map[string]int)
	}
	p.names[name] = idx
	sub, err := p.groupBody(depth, off)
	if err != nil {
		return nil, err
	}
	return &node{kind: ndCap, idx: idx, subs: []*node{sub}, off: off}, nil
}

// groupBody parses alternatives up to ')' with option changes scoped to the
// group.
func (p *parser) groupBody(depth, off int) (*node, error) {
	saved := p.opts
	n, err := p.groupBodyKeep(depth, off)
	p.opts = saved
	return n, err
}

func (p *parser) groupBodyKeep(depth, off int) (*node, error) {
	n, err := p.parseAlt(depth + 1)
	if err != nil {
		return nil, err
	}
	if !p.more() || p.src[p.i] != ')' {
		return nil, p.errf(off, "missing closing parenthesis")
	}
	p.i++
	return n, nil
}

// fixedLen returns the length every match of n has, or -1.
func fixedLen(n *node) int {
	switch n.kind {
	case ndEmpty, ndAssert, ndLook, ndKeep:
		return 0
	case ndLit, ndSet:
		return 1
	case ndConcat:
		t := 0
		for _, s := range n.subs {
			l := fixedLen(s)
			if l < 0 {
				return -1
			}
			t += l
		}
		return t
	case ndAlt:
		l := fixedLen(n.subs[0])
		for _, s := range n.subs[1:] {
			if fixedLen(s) != l {
				return -1
			}
		}
		return l
	case ndCap, ndAtomic:
		return fixedLen(n.subs[0])
	case ndRepeat:
		if n.min != n.max {
			return -1
		}
		l := fixedLen(n.subs[0])
		if l < 0 {
			return -1
		}
		return l * n.min
	}
	return -1
}

// checkFixed verifies PCRE's lookbehind rule: each top-level alternative has
// a fixed length.
func checkFixed(n *node, p *parser) error {
	alts := []*node{n}
	if n.kind == ndAlt {
		alts = n.subs
	}
	for _, a := range alts {
		if fixedLen(a) < 0 {
			return p.errf(a.off, "lookbehind assertion is not fixed length")
		}
	}
	return nil
}
