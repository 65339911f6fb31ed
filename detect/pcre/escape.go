package pcre

// Escapes, character classes and byte sets.

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isWord(c byte) bool   { return isLetter(c) || isDigit(c) || c == '_' }
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 0x20
	}
	return c
}
func isHex(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }
func hexVal(c byte) int {
	if isDigit(c) {
		return int(c - '0')
	}
	return int(c|0x20-'a') + 10
}

// Named sets: \d \w \s \h \v and POSIX classes.
func setOf(pred func(c byte) bool) *[256]bool {
	var s [256]bool
	for i := range s {
		s[i] = pred(byte(i))
	}
	return &s
}

func isSpace(c byte) bool  { return c == ' ' || c >= '\t' && c <= '\r' }
func isHSpace(c byte) bool { return c == ' ' || c == '\t' || c == 0xa0 }
func isVSpace(c byte) bool { return c >= '\n' && c <= '\r' || c == 0x85 }

var posixClasses = map[string]func(c byte) bool{
	"alpha":  isLetter,
	"digit":  isDigit,
	"alnum":  func(c byte) bool { return isLetter(c) || isDigit(c) },
	"upper":  func(c byte) bool { return c >= 'A' && c <= 'Z' },
	"lower":  func(c byte) bool { return c >= 'a' && c <= 'z' },
	"space":  isSpace,
	"blank":  func(c byte) bool { return c == ' ' || c == '\t' },
	"punct":  func(c byte) bool { return c > ' ' && c < 0x7f && !isLetter(c) && !isDigit(c) },
	"print":  func(c byte) bool { return c >= ' ' && c < 0x7f },
	"graph":  func(c byte) bool { return c > ' ' && c < 0x7f },
	"cntrl":  func(c byte) bool { return c < ' ' || c == 0x7f },
	"xdigit": isHex,
	"word":   isWord,
	"ascii":  func(c byte) bool { return c < 0x80 },
}

// escape is one parsed backslash sequence.
type escape struct {
	isSet bool
	c     byte
	set   *[256]bool
}

// classEscape parses a backslash sequence that stands for one byte or a set
// of bytes, with p.i just after the backslash. ok=false means the sequence
// is something else (the caller decides); p.i is then unchanged.
func (p *parser) classEscape(inClass bool) (e escape, ok bool, err error) {
	off := p.i - 1
	if !p.more() {
		return e, false, p.errf(off, "\\ at end of pattern")
	}
	c := p.src[p.i]
	neg := c >= 'A' && c <= 'Z'
	var pred func(byte) bool
	switch c | 0x20 {
	case 'd':
		pred = isDigit
	case 'w':
		pred = isWord
	case 's':
		pred = isSpace
	case 'h':
		pred = isHSpace
	case 'v':
		pred = isVSpace
	}
	if pred != nil {
		p.i++
		s := setOf(pred)
		if neg {
			for i := range s {
				s[i] = !s[i]
			}
		}
		return escape{isSet: true, set: s}, true, nil
	}
	p.i++
	switch c {
	case 'a':
		return escape{c: 7}, true, nil
	case 'e':
		return escape{c: 27}, true, nil
	case 'f':
		return escape{c: '\f'}, true, nil
	case 'n':
		return escape{c: '\n'}, true, nil
	case 'r':
		return escape{c: '\r'}, true, nil
	case 't':
		return escape{c: '\t'}, true, nil
	case 'b':
		if inClass {
			return escape{c: 8}, true, nil
		}
	case 'c':
		if !p.more() || p.src[p.i] >= 0x80 {
			return e, false, p.errf(off, "\\c at end of pattern or followed by a non-ASCII byte")
		}
		x := p.src[p.i]
		if x >= 'a' && x <= 'z' {
			x -= 0x20
		}
		p.i++
		return escape{c: x ^ 0x40}, true, nil
	case 'x':
		if p.more() && p.src[p.i] == '{' {
			j := p.i + 1
			v := 0
			for j < len(p.src) && isHex(p.src[j]) {
				v = v*16 + hexVal(p.src[j])
				if v > 0xff {
					return e, false, p.errf(off, "character code point value in \\x{} is too large (byte mode)")
				}
				j++
			}
			if j == p.i+1 || j >= len(p.src) || p.src[j] != '}' {
				return e, false, p.errf(off, "malformed \\x{...} escape")
			}
			p.i = j + 1
			return escape{c: byte(v)}, true, nil
		}
		v := 0
		for k := 0; k < 2 && p.more() && isHex(p.src[p.i]); k++ {
			v = v*16 + hexVal(p.src[p.i])
			p.i++
		}
		return escape{c: byte(v)}, true, nil
	case 'o':
		if !p.more() || p.src[p.i] != '{' {
			return e, false, p.errf(off, "missing opening brace after \\o")
		}
		j := p.i + 1
		v := 0
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '7' {
			v = v*8 + int(p.src[j]-'0')
			if v > 0xff {
				return e, false, p.errf(off, "character code point value in \\o{} is too large (byte mode)")
			}
			j++
		}
		if j == p.i+1 || j >= len(p.src) || p.src[j] != '}' {
			return e, false, p.errf(off, "malformed \\o{...} escape")
		}
		p.i = j + 1
		return escape{c: byte(v)}, true, nil
	case '0':
		v := 0
		for k := 0; k < 2 && p.more() && p.src[p.i] >= '0' && p.src[p.i] <= '7'; k++ {
			v = v*8 + int(p.src[p.i]-'0')
			p.i++
		}
		return escape{c: byte(v)}, true, nil
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if !inClass {
			break // back-reference or octal: decided by the caller
		}
		if c >= '8' {
			return e, false, p.errf(off, "\\%c is not an octal escape inside a class", c)
		}
		p.i--
		return escape{c: p.octal()}, true, nil
	case 'p', 'P':
		return e, false, p.errf(off, "unsupported \\%c{...} Unicode property", c)
	case 'X':
		return e, false, p.errf(off, "unsupported \\X extended grapheme cluster")
	case 'C':
		return e, false, p.errf(off, "unsupported \\C single code unit")
	case 'N', 'R':
		if inClass {
			return e, false, p.errf(off, "escape \\%c is not allowed in a character class", c)
		}
	case 'u', 'U', 'l', 'L':
		return e, false, p.errf(off, "PCRE does not support \\%c", c)
	default:
		if isLetter(c) || isDigit(c) {
			if inClass {
				return e, false, p.errf(off, "unrecognized escape \\%c in character class", c)
			}
			break
		}
		return escape{c: c}, true, nil // escaped metacharacter or other byte
	}
	p.i--
	return e, false, nil
}

// octal reads up to three octal digits at p.i (at least one is there).
func (p *parser) octal() byte {
	v := 0
	for k := 0; k < 3 && p.more() && p.src[p.i] >= '0' && p.src[p.i] <= '7'; k++ {
		v = v*8 + int(p.src[p.i]-'0')
		p.i++
	}
	return byte(v)
}

// parseEscapeAtom parses a backslash sequence outside a class.
func (p *parser) parseEscapeAtom() (*node, error) {
	off := p.i
	p.i++
	e, ok, err := p.classEscape(false)
	if err != nil {
		return nil, err
	}
	if ok {
		if e.isSet {
			return &node{kind: ndSet, set: e.set, off: off}, nil
		}
		return p.lit(e.c, off), nil
	}
	c := p.src[p.i]
	p.i++
	fold := p.opts&optI != 0
	switch c {
	case 'b':
		return &node{kind: ndAssert, akind: asWordB, off: off}, nil
	case 'B':
		return &node{kind: ndAssert, akind: asNotWordB, off: off}, nil
	case 'A':
		return &node{kind: ndAssert, akind: asBeginText, off: off}, nil
	case 'Z':
		return &node{kind: ndAssert, akind: asEndTextOptNL, off: off}, nil
	case 'z':
		return &node{kind: ndAssert, akind: asEndText, off: off}, nil
	case 'G':
		return &node{kind: ndAssert, akind: asStartOffset, off: off}, nil
	case 'K':
		return &node{kind: ndKeep, off: off}, nil
	case 'N':
		if p.more() && p.src[p.i] == '{' {
			return nil, p.errf(off, "unsupported \\N{name}")
		}
		return &node{kind: ndSet, set: setOf(func(c byte) bool { return c != '\n' }), off: off}, nil
	case 'R':
		// (?>\r\n|\n|\x0b|\f|\r|\x85)
		crlf := &node{kind: ndConcat, subs: []*node{{kind: ndLit, b: '\r'}, {kind: ndLit, b: '\n'}}}
		one := &node{kind: ndSet, set: setOf(isVSpace)}
		return &node{kind: ndAtomic, subs: []*node{{kind: ndAlt, subs: []*node{crlf, one}}}, off: off}, nil
	case 'Q':
		var lits []*node
		for p.more() {
			if p.src[p.i] == '\\' && p.i+1 < len(p.src) && p.src[p.i+1] == 'E' {
				p.i += 2
				break
			}
			lits = append(lits, p.lit(p.src[p.i], p.i))
			p.i++
		}
		switch len(lits) {
		case 0:
			return nil, nil
		case 1:
			return lits[0], nil
		}
		return &node{kind: ndConcat, subs: lits, off: off, quote: true}, nil
	case 'E':
		return nil, nil
	case 'g':
		return p.gRef(off, fold)
	case 'k':
		if !p.more() {
			return nil, p.errf(off, "\\k is not followed by a name")
		}
		var term byte
		switch p.src[p.i] {
		case '<':
			term = '>'
		case '\'':
			term = '\''
		case '{':
			term = '}'
		default:
			return nil, p.errf(off, "\\k is not followed by a braced, angle-bracketed, or quoted name")
		}
		p.i++
		name, err := p.name(term)
		if err != nil {
			return nil, err
		}
		n := &node{kind: ndBackref, name: name, fold: fold, off: off}
		p.refs = append(p.refs, n)
		return n, nil
	}
	if c >= '1' && c <= '9' {
		start := p.i - 1
		j := start
		for j < len(p.src) && isDigit(p.src[j]) && j-start < 6 {
			j++
		}
		n := atoiSat(p.src[start:j])
		if n < 10 || n <= p.totalCaps {
			p.i = j
			r := &node{kind: ndBackref, idx: n, fold: fold, off: off}
			p.refs = append(p.refs, r)
			return r, nil
		}
		if c >= '8' {
			return nil, p.errf(off, "reference to non-existent subpattern %d", n)
		}
		p.i = start
		return p.lit(p.octal(), off), nil
	}
	return nil, p.errf(off, "unrecognized escape \\%c", c)
}

// gRef parses \g forms after "\g": \gN \g-N \g{N} \g{-N} \g{name}.
// \g<...> and \g'...' are subroutine calls, which are unsupported.
func (p *parser) gRef(off int, fold bool) (*node, error) {
	if !p.more() {
		return nil, p.errf(off, "\\g is not followed by a number or name")
	}
	braced := false
	switch p.src[p.i] {
	case '<', '\'':
		return nil, p.errf(off, "unsupported subroutine call \\g<...>")
	case '{':
		braced = true
		p.i++
	}
	neg := false
	if p.more() && (p.src[p.i] == '-' || p.src[p.i] == '+') {
		if p.src[p.i] == '+' {
			return nil, p.errf(off, "unsupported relative forward reference \\g+N")
		}
		neg = true
		p.i++
	}
	start := p.i
	for p.more() && isDigit(p.src[p.i]) && p.i-start < 6 {
		p.i++
	}
	r := &node{kind: ndBackref, fold: fold, off: off}
	if p.i == start {
		if !braced || neg {
			return nil, p.errf(off, "\\g is not followed by a number or name")
		}
		name, err := p.name('}')
		if err != nil {
			return nil, err
		}
		r.name = name
		p.refs = append(p.refs, r)
		return r, nil
	}
	n := atoiSat(p.src[start:p.i])
	if braced {
		if !p.more() || p.src[p.i] != '}' {
			return nil, p.errf(off, "missing } after \\g{")
		}
		p.i++
	}
	if neg {
		n = p.ncap + 1 - n
		if n < 1 {
			return nil, p.errf(off, "relative reference \\g-N points before the first group")
		}
	}
	if n == 0 {
		return nil, p.errf(off, "a back-reference number must not be zero")
	}
	r.idx = n
	p.refs = append(p.refs, r)
	return r, nil
}

// parseClass parses a class after '['; off is the offset of '['.
func (p *parser) parseClass(off int) (*[256]bool, error) {
	var set [256]bool
	neg := false
	if p.more() && p.src[p.i] == '^' {
		neg = true
		p.i++
	}
	first := true
	quote := false
	// next returns one class element: a byte, or a set.
	next := func() (e escape, err error) {
		for {
			if !p.more() {
				return e, p.errf(off, "missing terminating ] for character class")
			}
			if quote {
				if p.src[p.i] == '\\' && p.i+1 < len(p.src) && p.src[p.i+1] == 'E' {
					p.i += 2
					quote = false
					continue
				}
				c := p.src[p.i]
				p.i++
				return escape{c: c}, nil
			}
			c := p.src[p.i]
			if c != '\\' {
				p.i++
				return escape{c: c}, nil
			}
			if p.i+1 < len(p.src) {
				switch p.src[p.i+1] {
				case 'Q':
					p.i += 2
					quote = true
					continue
				case 'E':
					p.i += 2
					continue
				}
			}
			p.i++
			e, ok, err := p.classEscape(true)
			if err != nil {
				return e, err
			}
			if !ok {
				return e, p.errf(p.i-1, "unrecognized escape \\%c in character class", p.src[p.i])
			}
			return e, nil
		}
	}
	for {
		if !p.more() {
			return nil, p.errf(off, "missing terminating ] for character class")
		}
		if p.src[p.i] == '\\' && p.i+1 < len(p.src) {
			switch {
			case p.src[p.i+1] == 'E':
				p.i += 2
				quote = false
				continue
			case p.src[p.i+1] == 'Q' && !quote:
				p.i += 2
				quote = true
				continue
			}
		}
		c := p.src[p.i]
		if !quote && c == ']' && !first {
			p.i++
			break
		}
		if !quote && c == ']' && first {
			// A ']' first in the class is a literal.
			p.i++
			first = false
			if err := p.classRangeFrom(']', &set, next); err != nil {
				return nil, err
			}
			continue
		}
		first = false
		if !quote && c == '[' && p.i+1 < len(p.src) {
			switch p.src[p.i+1] {
			case ':':
				if done, err := p.posix(&set); err != nil {
					return nil, err
				} else if done {
					continue
				}
			case '.', '=':
				if end := indexFrom(p.src, p.i+2, string(p.src[p.i+1])+"]"); end >= 0 {
					return nil, p.errf(p.i, "POSIX collating elements are not supported")
				}
			}
		}
		e, err := next()
		if err != nil {
			return nil, err
		}
		if e.isSet {
			for i, v := range e.set {
				if v {
					set[i] = true
				}
			}
			continue
		}
		if err := p.classRangeFrom(e.c, &set, next); err != nil {
			return nil, err
		}
	}
	if p.opts&optI != 0 {
		for c := 'a'; c <= 'z'; c++ {
			if set[c] || set[c-0x20] {
				set[c], set[c-0x20] = true, true
			}
		}
	}
	if neg {
		for i := range set {
			set[i] = !set[i]
		}
	}
	return &set, nil
}

// classRangeFrom adds lo, or the range lo-hi when a '-' and an end byte
// follow.
func (p *parser) classRangeFrom(lo byte, set *[256]bool, next func() (escape, error)) error {
	if p.i+1 < len(p.src) && p.src[p.i] == '-' && p.src[p.i+1] != ']' {
		save := p.i
		p.i++
		if p.src[p.i] == '[' && p.i+1 < len(p.src) && p.src[p.i+1] == ':' {
			p.i = save // "[a-[:digit:]]": '-' is a literal
			set[lo] = true
			return nil
		}
		e, err := next()
		if err != nil {
			return err
		}
		if e.isSet {
			// "[a-\d]": '-' is a literal.
			set[lo], set['-'] = true, true
			for i, v := range e.set {
				if v {
					set[i] = true
				}
			}
			return nil
		}
		if e.c < lo {
			return p.errf(save, "range out of order in character class")
		}
		for c := int(lo); c <= int(e.c); c++ {
			set[c] = true
		}
		return nil
	}
	set[lo] = true
	return nil
}

func indexFrom(s string, from int, sub string) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i - from
		}
	}
	return -1
}

// posix parses [:name:] or [:^name:] at p.i. done=false means it is not a
// POSIX class (the '[' is then an ordinary byte).
func (p *parser) posix(set *[256]bool) (done bool, err error) {
	j := p.i + 2
	neg := false
	if j < len(p.src) && p.src[j] == '^' {
		neg = true
		j++
	}
	start := j
	for j < len(p.src) && p.src[j] >= 'a' && p.src[j] <= 'z' {
		j++
	}
	if j+1 >= len(p.src) || p.src[j] != ':' || p.src[j+1] != ']' {
		return false, nil
	}
	pred, ok := posixClasses[p.src[start:j]]
	if !ok {
		return false, p.errf(p.i, "unknown POSIX class name %q", p.src[start:j])
	}
	for i := range set {
		if pred(byte(i)) != neg {
			set[i] = true
		}
	}
	p.i = j + 2
	return true, nil
}
