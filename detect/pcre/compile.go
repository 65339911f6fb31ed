package pcre

// Compilation of the AST into a program for the backtracking VM.

const (
	opByte       uint8 = iota // a: byte
	opByteFold                // a: lower-case byte, compared with the subject lower-cased
	opString                  // lits[a:a+b]
	opStringFold              // lits[a:a+b] (lower case)
	opSet                     // sets[a]
	opRepeat                  // sets[a] repeated b..c (c<0: unbounded); mode: greedy/lazy/possessive
	opSplit                   // try a, on failure b
	opJmp                     // go to a
	opSave                    // slots[a] = pos (undone on backtracking)
	opAssert                  // mode: assertion kind
	opBackref                 // group a; mode 1: caseless
	opAtomic                  // open an atomic group
	opLook                    // open a look-around; mode: barrier kind; b: continuation after its opCut
	opBack                    // move back a bytes (lookbehind alternative start)
	opCut                     // close the innermost atomic group / look-around
	opCheckProg               // if slots[a] == pos (empty iteration) go to b
	opMatch
)

// Barrier kinds (stack entries opened by opAtomic and opLook).
const (
	bAtomic uint8 = iota
	bLookPos
	bLookNeg
)

type inst struct {
	op   uint8
	mode uint8
	a    int32
	b    int32
	c    int32
	next int32 // opRepeat: the byte the next instruction needs, or -1
}

// hints records, for each single-byte repeat followed by an exact literal,
// the byte the literal starts with: backtracking then skips the positions
// where the literal cannot match.
func (c *compiler) hints() {
	for i := range c.prog {
		in := &c.prog[i]
		if in.op != opRepeat {
			continue
		}
		in.next = -1
		if i+1 >= len(c.prog) {
			continue
		}
		switch nx := c.prog[i+1]; nx.op {
		case opByte:
			in.next = nx.a
		case opString:
			in.next = int32(c.lits[nx.a])
		}
	}
}

// maxProg bounds the program size (counted repeats of groups are expanded).
// PCRE's own compiled-size limit (64K code units with the default link
// size) is of the same order.
const maxProg = 1 << 15

type compiler struct {
	prog   []inst
	sets   [][256]bool
	setIdx map[[256]bool]int32
	lits   []byte
	nregs  int
	ncap   int
	tooBig bool
}

func (c *compiler) emit(in inst) int {
	if len(c.prog) >= maxProg {
		c.tooBig = true
		return len(c.prog) - 1
	}
	c.prog = append(c.prog, in)
	return len(c.prog) - 1
}

func (c *compiler) set(s *[256]bool) int32 {
	if i, ok := c.setIdx[*s]; ok {
		return i
	}
	i := int32(len(c.sets))
	c.sets = append(c.sets, *s)
	c.setIdx[*s] = i
	return i
}

func litSet(n *node) *[256]bool {
	if n.kind == ndSet {
		return n.set
	}
	var s [256]bool
	s[n.b] = true
	if n.fold {
		s[n.b-0x20] = true
	}
	return &s
}

func (c *compiler) compile(n *node) {
	if c.tooBig {
		return
	}
	switch n.kind {
	case ndEmpty:
	case ndLit:
		if n.fold {
			c.emit(inst{op: opByteFold, a: int32(n.b)})
		} else {
			c.emit(inst{op: opByte, a: int32(n.b)})
		}
	case ndSet:
		c.emit(inst{op: opSet, a: c.set(n.set)})
	case ndConcat:
		c.concat(n.subs)
	case ndAlt:
		var jumps []int
		for i, alt := range n.subs {
			if i == len(n.subs)-1 {
				c.compile(alt)
				break
			}
			s := c.emit(inst{op: opSplit})
			c.compile(alt)
			jumps = append(jumps, c.emit(inst{op: opJmp}))
			c.prog[s].a, c.prog[s].b = int32(s+1), int32(len(c.prog))
		}
		for _, j := range jumps {
			c.prog[j].a = int32(len(c.prog))
		}
	case ndCap:
		c.emit(inst{op: opSave, a: int32(2 * n.idx)})
		c.compile(n.subs[0])
		c.emit(inst{op: opSave, a: int32(2*n.idx + 1)})
	case ndRepeat:
		c.repeat(n)
	case ndAssert:
		c.emit(inst{op: opAssert, mode: n.akind})
	case ndLook:
		kind := bLookPos
		if n.neg {
			kind = bLookNeg
		}
		l := c.emit(inst{op: opLook, mode: kind})
		if n.behind {
			alts := []*node{n.subs[0]}
			if n.subs[0].kind == ndAlt {
				alts = n.subs[0].subs
			}
			var jumps []int
			for i, alt := range alts {
				s := -1
				if i < len(alts)-1 {
					s = c.emit(inst{op: opSplit})
				}
				if l := fixedLen(alt); l > 0 {
					c.emit(inst{op: opBack, a: int32(l)})
				}
				c.compile(alt)
				if s >= 0 {
					jumps = append(jumps, c.emit(inst{op: opJmp}))
					c.prog[s].a, c.prog[s].b = int32(s+1), int32(len(c.prog))
				}
			}
			for _, j := range jumps {
				c.prog[j].a = int32(len(c.prog))
			}
		} else {
			c.compile(n.subs[0])
		}
		c.emit(inst{op: opCut})
		c.prog[l].b = int32(len(c.prog))
	case ndAtomic:
		c.emit(inst{op: opAtomic, mode: bAtomic})
		c.compile(n.subs[0])
		c.emit(inst{op: opCut})
	case ndBackref:
		var fold uint8
		if n.fold {
			fold = 1
		}
		c.emit(inst{op: opBackref, a: int32(n.idx), mode: fold})
	case ndKeep:
		c.emit(inst{op: opSave, a: 0})
	}
}

// concat compiles a sequence, merging runs of literal bytes into strings.
func (c *compiler) concat(subs []*node) {
	for i := 0; i < len(subs); {
		if subs[i].kind != ndLit {
			c.compile(subs[i])
			i++
			continue
		}
		// cur: -1 undecided (no letter yet), 0 exact, 1 caseless.
		cur := -1
		j := i
		for ; j < len(subs) && subs[j].kind == ndLit; j++ {
			m := -1
			if isLetter(subs[j].b) {
				m = 0
				if subs[j].fold {
					m = 1
				}
			}
			if m >= 0 && cur >= 0 && m != cur {
				break
			}
			if m >= 0 {
				cur = m
			}
		}
		if j-i == 1 {
			c.compile(subs[i])
			i = j
			continue
		}
		off := len(c.lits)
		for _, s := range subs[i:j] {
			c.lits = append(c.lits, s.b) // caseless literals are stored lower-cased
		}
		op := opString
		if cur == 1 {
			op = opStringFold
		}
		c.emit(inst{op: op, a: int32(off), b: int32(j - i)})
		i = j
	}
}

func nullable(n *node) bool {
	switch n.kind {
	case ndLit, ndSet:
		return false
	case ndConcat:
		for _, s := range n.subs {
			if !nullable(s) {
				return false
			}
		}
		return true
	case ndAlt:
		for _, s := range n.subs {
			if nullable(s) {
				return true
			}
		}
		return false
	case ndCap, ndAtomic:
		return nullable(n.subs[0])
	case ndRepeat:
		return n.min == 0 || nullable(n.subs[0])
	}
	return true
}

func (c *compiler) repeat(n *node) {
	sub := n.subs[0]
	if n.max == 0 {
		return
	}
	if n.min == 1 && n.max == 1 {
		c.compile(sub)
		return
	}
	if sub.kind == ndLit || sub.kind == ndSet {
		c.emit(inst{op: opRepeat, a: c.set(litSet(sub)), b: int32(n.min), c: int32(n.max), mode: n.mode})
		return
	}
	if n.mode == repPossessive {
		c.emit(inst{op: opAtomic, mode: bAtomic})
	}
	lazy := n.mode == repLazy
	for i := 0; i < n.min && !c.tooBig; i++ {
		c.compile(sub)
	}
	if n.max < 0 {
		c.star(sub, lazy)
	} else {
		var exits []int
		for i := n.min; i < n.max && !c.tooBig; i++ {
			exits = append(exits, c.emit(inst{op: opSplit}))
			c.compile(sub)
		}
		end := int32(len(c.prog))
		for _, s := range exits {
			if lazy {
				c.prog[s].a, c.prog[s].b = end, int32(s+1)
			} else {
				c.prog[s].a, c.prog[s].b = int32(s+1), end
			}
		}
	}
	if n.mode == repPossessive {
		c.emit(inst{op: opCut})
	}
}

// star compiles sub* ; an iteration that matches the empty string ends the
// loop, as in PCRE.
func (c *compiler) star(sub *node, lazy bool) {
	check := nullable(sub)
	reg := 0
	if check {
		reg = 2*(c.ncap+1) + c.nregs
		c.nregs++
	}
	l := c.emit(inst{op: opSplit})
	if check {
		c.emit(inst{op: opSave, a: int32(reg)})
	}
	c.compile(sub)
	cp := -1
	if check {
		cp = c.emit(inst{op: opCheckProg, a: int32(reg)})
	}
	c.emit(inst{op: opJmp, a: int32(l)})
	end := int32(len(c.prog))
	if cp >= 0 {
		c.prog[cp].b = end
	}
	if lazy {
		c.prog[l].a, c.prog[l].b = end, int32(l+1)
	} else {
		c.prog[l].a, c.prog[l].b = int32(l+1), end
	}
}

// first adds to set every byte a match of n can start with and reports
// whether n can match the empty string (then what follows n matters too).
func first(n *node, set *[256]bool) bool {
	switch n.kind {
	case ndLit, ndSet:
		s := litSet(n)
		for i, v := range s {
			if v {
				set[i] = true
			}
		}
		return false
	case ndConcat:
		for _, s := range n.subs {
			if !first(s, set) {
				return false
			}
		}
		return true
	case ndAlt:
		any := false
		for _, s := range n.subs {
			if first(s, set) {
				any = true
			}
		}
		return any
	case ndCap, ndAtomic:
		return first(n.subs[0], set)
	case ndRepeat:
		if n.max == 0 {
			return true
		}
		return first(n.subs[0], set) || n.min == 0
	case ndBackref:
		for i := range set {
			set[i] = true
		}
		return true
	}
	return true
}

// leading returns the first node a match must start with, looking through
// groups and concatenations.
func startsWith(n *node, akind uint8) bool {
	switch n.kind {
	case ndAssert:
		return n.akind == akind
	case ndConcat:
		return len(n.subs) > 0 && startsWith(n.subs[0], akind)
	case ndAlt:
		for _, s := range n.subs {
			if !startsWith(s, akind) {
				return false
			}
		}
		return true
	case ndCap, ndAtomic:
		return startsWith(n.subs[0], akind)
	}
	return false
}

// required returns the longest literal every match contains, and whether
// it is to be compared without case.
func required(n *node) (lit []byte, fold bool) {
	var items []*node
	var flatten func(n *node)
	flatten = func(n *node) {
		switch n.kind {
		case ndConcat:
			for _, s := range n.subs {
				flatten(s)
			}
		case ndCap, ndAtomic:
			if n.subs[0].kind == ndConcat || n.subs[0].kind == ndLit {
				items = append(items, nil) // a group boundary ends a run (\K, captures are fine but keep it simple)
				flatten(n.subs[0])
				items = append(items, nil)
				return
			}
			items = append(items, n)
		default:
			items = append(items, n)
		}
	}
	flatten(n)
	var best []byte
	bestFold := false
	for i := 0; i < len(items); {
		if items[i] == nil || items[i].kind != ndLit {
			i++
			continue
		}
		var run []byte
		f := false
		j := i
		for ; j < len(items) && items[j] != nil && items[j].kind == ndLit; j++ {
			run = append(run, items[j].b)
			if items[j].fold {
				f = true
			}
		}
		if len(run) > len(best) {
			best, bestFold = run, f
		}
		i = j
	}
	if bestFold {
		for i := range best {
			best[i] = lower(best[i])
		}
	}
	return best, bestFold
}

// leadingRepeat returns the set of a pattern that starts with an unbounded
// single-byte repeat S{m,} (greedy, lazy or possessive), outside any
// capture. If the match attempt at p fails and data[p] is in S, the attempt
// at p+1 fails too (S{m,} at p can take data[p] and then end wherever it
// ends from p+1; the rest of the pattern does not depend on the start), so
// Find skips the whole run of S bytes after a failed start.
func leadingRepeat(n *node) *[256]bool {
	for n.kind == ndConcat && len(n.subs) > 0 {
		n = n.subs[0]
	}
	if n.kind == ndRepeat && n.max < 0 && (n.subs[0].kind == ndSet || n.subs[0].kind == ndLit) {
		return litSet(n.subs[0])
	}
	return nil
}
