package mpm

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// Pattern is one string to look for.
type Pattern struct {
	ID     uint32 // caller's id, reported on match; unique within one Compile call
	Bytes  []byte // the string; must not be empty
	NoCase bool   // match ASCII letters case-insensitively
}

// Errors returned by Compile (wrapped with the offending pattern's index and ID).
var (
	ErrEmptyPattern = errors.New("mpm: empty pattern")
	ErrDuplicateID  = errors.New("mpm: duplicate pattern ID")
	ErrTooLarge     = errors.New("mpm: pattern set too large")
)

const (
	outFlag   = 1 << 31 // set in a transition when the target state has output
	stateMask = outFlag - 1
	noState   = ^uint32(0)
	root      = 0

	// denseBudget bounds the bytes spent on full transition rows. States
	// beyond the budget (the deepest ones, in breadth-first order) use sparse
	// goto edges plus a failure link.
	denseBudget = 32 << 20
)

// Matcher is a compiled pattern set. It is immutable after Compile and safe
// for concurrent use by any number of goroutines, each with its own Scratch.
type Matcher struct {
	npat    int
	classes [256]uint8 // input byte -> class; upper-case letters share their lower-case class
	nc      int        // number of classes
	shift   uint       // row stride is 1<<shift >= nc transitions

	// A transition value is the target state id shifted left by shift (so
	// a dense target's value is the offset of its row), with outFlag set
	// when the target has output.
	//
	// Dense part: states [0, denseN) have full rows; the row of the state
	// with value v is dense[v : v+nc]. denseLim = denseN << shift.
	denseN   uint32
	denseLim uint32
	dense    []uint32

	// Sparse part: a state s >= denseN, i = s-denseN, has goto edges
	// edgeClass/edgeTo[edgeOff[i]:edgeOff[i+1]] and a failure link fail[i]
	// (a transition value without outFlag).
	edgeOff   []uint32
	edgeClass []uint8
	edgeTo    []uint32
	fail      []uint32

	// Skip filter. States with value <= shallowLim have depth <= 1. From
	// such a state, positions k where no pattern can start (pair
	// data[k],data[k+1] is not the start of a pattern of length >= 2 and
	// data[k] is not a 1-byte pattern) are skipped without running the
	// automaton. pair has a bit for every byte pair (any case) that starts a
	// pattern, and for every pair whose first byte is a 1-byte pattern;
	// one has a bit for every byte that is a 1-byte pattern. useSkip is off
	// when the filter would pass too often to pay.
	useSkip    bool
	shallowLim uint32
	pair       *[1024]uint64
	one        [4]uint64

	// Output: state s owns groups outGroup[outOff[s]:outOff[s+1]] and its
	// failure chain continues reporting at outLink[s] (noState at the end).
	outOff   []uint32
	outGroup []uint32
	outLink  []uint32

	// Groups: patterns with identical bytes and case mode share a group.
	// A case-sensitive group is verified against exact bytes at the match
	// end; groupExact[g] is nil for a case-insensitive group.
	groupExact [][]byte
	groupIDOff []uint32 // ids of group g: ids[groupIDOff[g]:groupIDOff[g+1]]
	ids        []uint32

	// single is set when the whole set is one case-sensitive string (any
	// number of IDs): Scan uses bytes.Index instead of the automaton.
	single []byte
}

// Scratch is per-goroutine scan state. Create it with Matcher.NewScratch and
// reuse it for every Scan; it must not be used by two goroutines at once.
type Scratch struct {
	stamp []uint32 // per group: generation in which it was last reported
	gen   uint32
	out   []uint32
}

// Len returns the number of patterns compiled into m.
func (m *Matcher) Len() int { return m.npat }

// MemBytes returns the memory the compiled automaton occupies, in bytes.
func (m *Matcher) MemBytes() int {
	n := 512 + len(m.dense)*4 + len(m.edgeOff)*4 + len(m.edgeClass) + len(m.edgeTo)*4 +
		len(m.fail)*4 + len(m.outOff)*4 + len(m.outGroup)*4 + len(m.outLink)*4 +
		len(m.groupIDOff)*4 + len(m.ids)*4 + len(m.groupExact)*24
	if m.pair != nil {
		n += len(m.pair) * 8
	}
	for _, e := range m.groupExact {
		n += len(e)
	}
	return n
}

// NewScratch returns scan state sized for m.
func (m *Matcher) NewScratch() *Scratch {
	return &Scratch{
		stamp: make([]uint32, len(m.groupExact)),
		out:   make([]uint32, 0, len(m.ids)),
	}
}

func fold(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}

func foldBytes(b []byte) []byte {
	f := make([]byte, len(b))
	for i, c := range b {
		f[i] = fold(c)
	}
	return f
}

type group struct {
	folded []byte
	exact  []byte // nil when case-insensitive
	ids    []uint32
}

// Compile builds a matcher for patterns. It fails on an empty pattern or a
// repeated ID. The patterns' bytes are copied; the caller may reuse them.
func Compile(patterns []Pattern) (*Matcher, error) {
	return compile(patterns, 0)
}

// compile is Compile with an optional cap on the number of dense states
// (0: decided by denseBudget), so tests can exercise the sparse part.
func compile(patterns []Pattern, maxDense int) (*Matcher, error) {
	groups, err := groupPatterns(patterns)
	if err != nil {
		return nil, err
	}
	m := &Matcher{npat: len(patterns)}
	m.groupExact = make([][]byte, len(groups))
	m.groupIDOff = make([]uint32, len(groups)+1)
	m.ids = make([]uint32, 0, len(patterns))
	for g := range groups {
		m.groupExact[g] = groups[g].exact
		m.groupIDOff[g] = uint32(len(m.ids))
		m.ids = append(m.ids, groups[g].ids...)
	}
	m.groupIDOff[len(groups)] = uint32(len(m.ids))

	if len(groups) == 1 && groups[0].exact != nil {
		m.single = groups[0].exact
	}
	if err := m.build(groups, maxDense); err != nil {
		return nil, err
	}
	return m, nil
}

// groupPatterns validates patterns and groups those with identical bytes and
// case mode, in order of first appearance.
func groupPatterns(patterns []Pattern) ([]group, error) {
	// Group identical strings with identical case mode.
	seen := make(map[uint32]int, len(patterns))
	byKey := make(map[string]int, len(patterns))
	var groups []group
	for i, p := range patterns {
		if len(p.Bytes) == 0 {
			return nil, fmt.Errorf("%w: pattern %d (id %d)", ErrEmptyPattern, i, p.ID)
		}
		if j, dup := seen[p.ID]; dup {
			return nil, fmt.Errorf("%w: id %d used by patterns %d and %d", ErrDuplicateID, p.ID, j, i)
		}
		seen[p.ID] = i
		folded := foldBytes(p.Bytes)
		var key string
		if p.NoCase {
			key = "i" + string(folded)
		} else {
			key = "s" + string(p.Bytes)
		}
		g, ok := byKey[key]
		if !ok {
			g = len(groups)
			byKey[key] = g
			ng := group{folded: folded}
			if !p.NoCase {
				ng.exact = bytes.Clone(p.Bytes)
			}
			groups = append(groups, ng)
		}
		groups[g].ids = append(groups[g].ids, p.ID)
	}
	if len(groups) >= int(stateMask) {
		return nil, fmt.Errorf("%w: %d distinct patterns", ErrTooLarge, len(groups))
	}
	return groups, nil
}

// build constructs the trie, the byte classes, failure links, the dense rows
// and the sparse edges.
func (m *Matcher) build(groups []group, maxDense int) error {
	// Byte classes: every folded byte used by some pattern gets its own
	// class; all unused bytes share class 0. Two used bytes can never be
	// merged in an Aho-Corasick automaton (their goto edges differ at the
	// node where one of them is used), so this is the minimal partition.
	var used [256]bool
	for _, g := range groups {
		for _, c := range g.folded {
			used[c] = true
		}
	}
	var clsOf [256]uint8
	nc := 1
	for b := 0; b < 256; b++ {
		if used[b] {
			clsOf[b] = uint8(nc)
			nc++
		}
	}
	// Folded strings never contain A-Z, so at most 230 bytes are used and
	// nc <= 231 fits a uint8 class id.
	for b := 0; b < 256; b++ {
		m.classes[b] = clsOf[fold(byte(b))]
	}
	m.nc = nc

	// Trie from the sorted distinct folded strings: insertion in sorted
	// order means each string's new nodes hang off the path of the longest
	// common prefix with its predecessor.
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(groups[a].folded, groups[b].folded) })

	parent := []uint32{noState}
	label := []uint8{0}
	depth := []uint32{0}
	nodeOf := make([]uint32, len(groups)) // group -> trie node (creation numbering)
	var path []uint32                     // path[d] = node at depth d+1 of the previous string
	var prev []byte
	for _, g := range order {
		s := groups[g].folded
		lcp := 0
		for lcp < len(s) && lcp < len(prev) && s[lcp] == prev[lcp] {
			lcp++
		}
		path = path[:lcp]
		for d := lcp; d < len(s); d++ {
			p := uint32(root)
			if d > 0 {
				p = path[d-1]
			}
			if len(parent) >= int(stateMask) {
				return fmt.Errorf("%w: more than %d states", ErrTooLarge, stateMask)
			}
			n := uint32(len(parent))
			parent = append(parent, p)
			label = append(label, clsOf[s[d]])
			depth = append(depth, uint32(d+1))
			path = append(path, n)
		}
		if len(s) == 0 {
			nodeOf[g] = root
		} else {
			nodeOf[g] = path[len(s)-1]
		}
		prev = s
	}
	n := len(parent)

	// Renumber breadth-first (stable counting sort by depth keeps siblings
	// in class order, since creation order visits them in sorted order).
	maxDepth := uint32(0)
	for _, d := range depth {
		maxDepth = max(maxDepth, d)
	}
	cnt := make([]uint32, maxDepth+2)
	for _, d := range depth {
		cnt[d+1]++
	}
	for d := 1; d < len(cnt); d++ {
		cnt[d] += cnt[d-1]
	}
	newID := make([]uint32, n)
	for v := 0; v < n; v++ {
		newID[v] = cnt[depth[v]]
		cnt[depth[v]]++
	}
	bParent := make([]uint32, n)
	bLabel := make([]uint8, n)
	for v := 0; v < n; v++ {
		id := newID[v]
		bLabel[id] = label[v]
		if v == root {
			bParent[id] = noState
		} else {
			bParent[id] = newID[parent[v]]
		}
	}
	parent, label, depth = nil, nil, nil

	// Children in CSR form, sorted by class (BFS order preserves it).
	childOff := make([]uint32, n+1)
	for v := 1; v < n; v++ {
		childOff[bParent[v]+1]++
	}
	for v := 1; v <= n; v++ {
		childOff[v] += childOff[v-1]
	}
	child := make([]uint32, n)
	fill := slices.Clone(childOff[:n])
	for v := 1; v < n; v++ {
		p := bParent[v]
		child[fill[p]] = uint32(v)
		fill[p]++
	}
	fill = nil

	// Output ownership.
	ownCnt := make([]uint32, n+1)
	for g := range groups {
		ownCnt[newID[nodeOf[g]]+1]++
	}
	for v := 1; v <= n; v++ {
		ownCnt[v] += ownCnt[v-1]
	}
	m.outOff = ownCnt
	m.outGroup = make([]uint32, len(groups))
	pos := slices.Clone(ownCnt[:n])
	for g := range groups {
		s := newID[nodeOf[g]]
		m.outGroup[pos[s]] = uint32(g)
		pos[s]++
	}
	pos = nil

	// Dense/sparse split.
	shift := uint(0)
	for 1<<shift < nc {
		shift++
	}
	m.shift = shift
	if uint64(n)<<shift >= outFlag {
		return fmt.Errorf("%w: %d states with %d byte classes", ErrTooLarge, n, nc)
	}
	rowBytes := 4 << shift
	denseN := n
	if n*rowBytes > denseBudget {
		denseN = max(1, denseBudget/rowBytes)
	}
	if maxDense > 0 {
		denseN = min(denseN, maxDense)
	}
	m.denseN = uint32(denseN)
	m.denseLim = uint32(denseN) << shift
	m.dense = make([]uint32, denseN<<shift)
	sp := n - denseN
	m.fail = make([]uint32, sp)
	m.edgeOff = make([]uint32, sp+1)
	m.edgeClass = make([]uint8, 0, sp)
	m.edgeTo = make([]uint32, 0, sp)
	m.outLink = make([]uint32, n)

	// One pass in BFS order computes each state's failure link and then its
	// transitions (without outFlag). The failure target of v is
	// delta(fail(parent), label): fail(parent) is shallower than v's
	// parent, so its row or edges are already complete. A dense row is the
	// failure target's row (shallower, complete) with the state's own
	// children written over it. A second pass sets outFlag once all output
	// links are known.
	failOf := make([]uint32, n)
	m.outLink[root] = noState
	stride := 1 << shift
	for s := uint32(0); s < uint32(n); s++ {
		f := uint32(root)
		if s != root {
			if p := bParent[s]; p != root {
				f = m.next(failOf[p]<<shift, bLabel[s]) >> shift
			}
			if m.outOff[f] != m.outOff[f+1] {
				m.outLink[s] = f
			} else {
				m.outLink[s] = m.outLink[f]
			}
		}
		failOf[s] = f
		kids := child[childOff[s]:childOff[s+1]]
		if s < uint32(denseN) {
			row := m.dense[int(s)*stride : int(s+1)*stride]
			if s != root {
				copy(row, m.dense[int(f)*stride:int(f+1)*stride])
			} // else: make() zeroed the root row, and 0 is the root.
			for _, k := range kids {
				row[bLabel[k]] = k << shift
			}
		} else {
			i := s - uint32(denseN)
			m.fail[i] = f << shift
			m.edgeOff[i] = uint32(len(m.edgeTo))
			for _, k := range kids {
				m.edgeClass = append(m.edgeClass, bLabel[k])
				m.edgeTo = append(m.edgeTo, k<<shift)
			}
			m.edgeOff[i+1] = uint32(len(m.edgeTo))
		}
	}
	hasOut := func(s uint32) bool { return m.outOff[s] != m.outOff[s+1] || m.outLink[s] != noState }
	for i, v := range m.dense {
		if hasOut(v >> shift) {
			m.dense[i] = v | outFlag
		}
	}
	for i, v := range m.edgeTo {
		if hasOut(v >> shift) {
			m.edgeTo[i] = v | outFlag
		}
	}
	m.edgeClass = slices.Clip(m.edgeClass)
	m.edgeTo = slices.Clip(m.edgeTo)

	m.buildSkip(groups, childOff)
	return nil
}

// skipMaxPass is the largest fraction of byte pairs (by count of distinct
// pairs) the skip filter may accept and still be used. Above it, nearly
// every position would start the automaton anyway.
const skipMaxPass = 0.3

// buildSkip fills the pair filter. States of depth <= 1 are the root and
// its children, ids 0..childOff[1] in BFS order.
func (m *Matcher) buildSkip(groups []group, childOff []uint32) {
	var pair [1024]uint64
	set := func(a, b byte) {
		x := uint(a)<<8 | uint(b)
		pair[x>>6] |= 1 << (x & 63)
	}
	variants := func(c byte) []byte {
		if 'a' <= c && c <= 'z' {
			return []byte{c, c - ('a' - 'A')}
		}
		return []byte{c}
	}
	for _, g := range groups {
		f := g.folded
		if len(f) == 1 {
			for _, a := range variants(f[0]) {
				m.one[a>>6] |= 1 << (a & 63)
				for b := 0; b < 256; b++ {
					set(a, byte(b))
				}
			}
			continue
		}
		for _, a := range variants(f[0]) {
			for _, b := range variants(f[1]) {
				set(a, b)
			}
		}
	}
	cnt := 0
	for _, w := range pair {
		cnt += bits.OnesCount64(w)
	}
	if float64(cnt) > skipMaxPass*65536 {
		return
	}
	m.useSkip = true
	m.pair = &pair
	m.shallowLim = childOff[1] << m.shift
}

// next returns the transition value from the state with value v (no
// outFlag) on class c, following failure links through sparse states.
func (m *Matcher) next(v uint32, c uint8) uint32 {
	for v >= m.denseLim {
		i := v>>m.shift - m.denseN
		lo, hi := m.edgeOff[i], m.edgeOff[i+1]
		for j := lo; j < hi; j++ {
			if m.edgeClass[j] == c {
				return m.edgeTo[j]
			}
		}
		v = m.fail[i]
	}
	return m.dense[v+uint32(c)]
}
