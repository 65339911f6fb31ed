// Package pcre is a PCRE-compatible backtracking regular expression engine
// for the detection engine's pcre keyword.
//
// It implements the PCRE syntax Suricata rules use, in PCRE's byte mode (no
// UTF-8): look-ahead and look-behind, back-references (also caseless),
// atomic groups, possessive and lazy quantifiers, \G, \K, \Q..\E, named
// groups, inline options and POSIX classes, with PCRE's leftmost-first,
// backtracking semantics. Unicode properties, recursion, conditionals,
// callouts, branch reset groups and backtracking verbs are rejected at
// compile time with the offset of the construct.
//
// A pattern compiles into a program for a backtracking VM that keeps its
// choice points on an explicit stack in a per-thread Scratch, so deep
// patterns cannot overflow the Go stack and a warm Scratch makes Find
// allocation free. Like PCRE's match_limit and depth limit, a Scratch bounds
// the work per start position and the backtracking depth; Find then reports
// no match and Scratch.LimitHit is true.
//
// Start positions are skipped with the set of bytes a match can start with
// (bytes.IndexByte when it is a single byte); a literal every match contains
// is looked for once before searching; anchored patterns are tried at one
// position only.
package pcre

import (
	"bytes"
	"fmt"
)

// Flags are the PCRE compile options, named after their letters in a
// Suricata pcre value.
type Flags uint32

const (
	Caseless      Flags = 1 << iota // i: ASCII letters match either case
	DotAll                          // s: . matches \n too
	Multiline                       // m: ^ and $ match at internal newlines
	Extended                        // x: white space and #-comments are ignored
	Anchored                        // A: the match must start at the start offset
	DollarEndOnly                   // E: $ matches only at the very end
	Ungreedy                        // G (Suricata) / U (PCRE): quantifiers are lazy unless followed by ?
)

// Default limits, as Suricata configures PCRE (pcre.match-limit and
// pcre.match-limit-recursion).
const (
	DefaultMatchLimit = 3500
	DefaultDepthLimit = 1500
)

// DefaultWorkLimit bounds the total work of one Find (VM instructions plus
// bytes scanned by repeats and back-references, over all start positions).
// PCRE's limits are per start position, so a pattern that does a lot of
// work at every position of a long buffer would otherwise be unbounded;
// this cap keeps one Find in the low milliseconds.
const DefaultWorkLimit = 10_000_000

// Regexp is a compiled pattern. It is immutable and safe for concurrent use;
// matching state lives in a Scratch.
type Regexp struct {
	pattern string
	flags   Flags
	prog    []inst
	sets    [][256]bool
	lits    []byte
	ncap    int
	nslots  int
	names   map[string]int

	anchorBegin bool       // every match starts at offset 0
	anchorG     bool       // every match starts at the start offset
	anchorLine  bool       // every match starts at offset 0 or after a \n
	lead        *[256]bool // see leadingRepeat
	useFirst    bool       // a match starts with a byte in firstSet
	firstByte   int        // >= 0: the only byte a match can start with
	firstSet    [256]bool
	req         []byte // a literal every match contains
	reqFold     bool
}

// Compile parses pattern (PCRE syntax, without the /.../ delimiters) with
// the given options.
func Compile(pattern string, flags Flags) (*Regexp, error) {
	ast, p, err := parse(pattern, flags)
	if err != nil {
		return nil, err
	}
	c := &compiler{ncap: p.ncap, setIdx: make(map[[256]bool]int32)}
	c.compile(ast)
	c.emit(inst{op: opMatch})
	c.hints()
	if c.tooBig {
		return nil, &Error{Offset: 0, Msg: fmt.Sprintf("pattern too large: more than %d instructions after expanding counted repeats", maxProg)}
	}
	re := &Regexp{
		pattern:   pattern,
		flags:     flags,
		prog:      c.prog,
		sets:      c.sets,
		lits:      c.lits,
		ncap:      p.ncap,
		nslots:    2*(p.ncap+1) + c.nregs,
		names:     p.names,
		firstByte: -1,
	}
	re.anchorBegin = startsWith(ast, asBeginText)
	re.anchorG = flags&Anchored != 0 || startsWith(ast, asStartOffset)
	re.anchorLine = startsWith(ast, asBeginLine)
	re.lead = leadingRepeat(ast)
	if !first(ast, &re.firstSet) {
		n, last := 0, 0
		for i, v := range re.firstSet {
			if v {
				n++
				last = i
			}
		}
		if n < 256 {
			re.useFirst = true
			if n == 1 {
				re.firstByte = last
			}
		}
	}
	re.req, re.reqFold = required(ast)
	return re, nil
}

// MustCompile is Compile for patterns known to be valid; it panics on error.
func MustCompile(pattern string, flags Flags) *Regexp {
	re, err := Compile(pattern, flags)
	if err != nil {
		panic(err)
	}
	return re
}

// String returns the pattern.
func (re *Regexp) String() string { return re.pattern }

// NumGroups returns the number of capturing groups.
func (re *Regexp) NumGroups() int { return re.ncap }

// GroupIndex returns the number of the named group, or -1.
func (re *Regexp) GroupIndex(name string) int {
	if i, ok := re.names[name]; ok {
		return i
	}
	return -1
}

// Scratch is the per-thread matching state: the backtracking stack and the
// capture slots. It grows to the largest need of the patterns used with it
// and is then reused without allocating. A Scratch is not safe for
// concurrent use.
type Scratch struct {
	stack      []entry
	slots      []int
	matchLimit int
	depthLimit int
	workLimit  int
	budget     int
	limitHit   bool
	last       *Regexp
	ok         bool
}

// NewScratch returns a Scratch with Suricata's default limits.
func NewScratch() *Scratch {
	return &Scratch{matchLimit: DefaultMatchLimit, depthLimit: DefaultDepthLimit, workLimit: DefaultWorkLimit}
}

// SetWorkLimit sets the total work allowed per Find (see
// DefaultWorkLimit). A value <= 0 means no limit.
func (s *Scratch) SetWorkLimit(work int) { s.workLimit = work }

// SetLimits sets the match limit (backtracking steps per start position,
// like PCRE's match_limit) and the depth limit (entries on the backtracking
// stack, like PCRE's recursion/depth limit). A value <= 0 means no limit.
func (s *Scratch) SetLimits(match, depth int) {
	s.matchLimit, s.depthLimit = match, depth
}

// LimitHit reports whether the last Find stopped because a limit was
// exceeded (it then returned no match).
func (s *Scratch) LimitHit() bool { return s.limitHit }

// Group returns the span of capture group i (0 is the whole match) of the
// last successful Find of re with s. ok is false when that Find failed, i is
// out of range or the group did not take part in the match.
func (re *Regexp) Group(s *Scratch, i int) (start, end int, ok bool) {
	if !s.ok || s.last != re || i < 0 || i > re.ncap {
		return -1, -1, false
	}
	a, b := s.slots[2*i], s.slots[2*i+1]
	if a < 0 || b < 0 {
		return -1, -1, false
	}
	return a, b, true
}

// Find searches data[from:] and returns the first match PCRE would report
// for start offset from: start positions are tried left to right, and at
// each the first alternative that leads to success wins. Anchors keep their
// meaning relative to data: ^ and \A match at offset 0 only, \G at from, and
// lookbehind may inspect bytes before from.
func (re *Regexp) Find(data []byte, from int, s *Scratch) (start, end int, ok bool) {
	s.limitHit, s.ok, s.last = false, false, re
	s.budget = s.workLimit
	if s.budget <= 0 {
		s.budget = int(^uint(0) >> 1)
	}
	n := len(data)
	if from < 0 || from > n {
		return -1, -1, false
	}
	if cap(s.slots) < re.nslots {
		s.slots = make([]int, re.nslots)
	}
	s.slots = s.slots[:re.nslots]
	if len(re.req) > 0 {
		if re.reqFold {
			if indexFold(data[from:], re.req) < 0 {
				return -1, -1, false
			}
		} else if bytes.Index(data[from:], re.req) < 0 {
			return -1, -1, false
		}
	}
	last := n
	switch {
	case re.anchorG:
		last = from
	case re.anchorBegin:
		if from != 0 {
			return -1, -1, false
		}
		last = 0
	}
	for at := from; at <= last; at++ {
		if re.useFirst {
			if at >= n {
				break
			}
			if re.firstByte >= 0 {
				i := bytes.IndexByte(data[at:], byte(re.firstByte))
				if i < 0 {
					break
				}
				at += i
			} else {
				for at < n && !re.firstSet[data[at]] {
					at++
				}
				if at >= n {
					break
				}
			}
			if at > last {
				break
			}
		}
		if re.anchorLine && at > 0 && data[at-1] != '\n' {
			i := bytes.IndexByte(data[at:], '\n')
			if i < 0 || at+i+1 > last {
				break
			}
			at += i + 1
			if re.useFirst && (at >= n || !re.firstSet[data[at]]) {
				at-- // let the loop's first-byte scan find the next candidate
				continue
			}
		}
		switch re.exec(s, data, from, at) {
		case 1:
			s.ok = true
			return s.slots[0], s.slots[1], true
		case -1:
			s.limitHit = true
			return -1, -1, false
		}
		if re.lead != nil {
			for at < n && re.lead[data[at]] {
				at++
			}
		}
	}
	return -1, -1, false
}

// Match reports whether data[from:] contains a match.
func (re *Regexp) Match(data []byte, from int, s *Scratch) bool {
	_, _, ok := re.Find(data, from, s)
	return ok
}

// indexFold returns the index of lit (lower case) in data compared without
// ASCII case, or -1.
func indexFold(data, lit []byte) int {
	c0 := lit[0]
	up := c0
	if c0 >= 'a' && c0 <= 'z' {
		up = c0 - 0x20
	}
	nl, nu := -2, -2 // next position of c0 / up at or after i (-2: unknown, -1: none)
	if up == c0 {
		nu = -1
	}
	for i := 0; i+len(lit) <= len(data); {
		if nl != -1 && nl < i {
			nl = bytes.IndexByte(data[i:], c0)
			if nl >= 0 {
				nl += i
			}
		}
		if nu != -1 && nu < i {
			nu = bytes.IndexByte(data[i:], up)
			if nu >= 0 {
				nu += i
			}
		}
		j := nl
		if j < 0 || (nu >= 0 && nu < j) {
			j = nu
		}
		if j < 0 || j+len(lit) > len(data) {
			return -1
		}
		if eqFold(data[j+1:j+len(lit)], lit[1:]) {
			return j
		}
		i = j + 1
	}
	return -1
}

func eqFold(a, lowerLit []byte) bool {
	for i, c := range lowerLit {
		if lower(a[i]) != c {
			return false
		}
	}
	return true
}

// Anchored reports whether every match must start at the start offset of
// the subject (\A, ^ without multiline, \G or the A flag), so a caller that
// retries a search from a later offset can stop after the first try.
func (re *Regexp) Anchored() bool { return re.anchorBegin || re.anchorG }
