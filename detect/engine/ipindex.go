package engine

import (
	"net/netip"
	"slices"

	"github.com/vigil-ids/vigil/detect/rules"
)

// Signatures without a fast pattern would be evaluated for every packet of
// their group. Most of them are address lists (Tor exit nodes, block lists,
// C&C hosts: `alert ip [1.2.3.4,5.6.7.8,...] any -> $HOME_NET any`). The
// address index is their prefilter, like Suricata's IP-only engine: each
// such signature is indexed by the narrower of its source and destination
// address sets, and a packet's candidates are the signatures whose indexed
// set holds its source (source index) or destination (destination index)
// address. Full evaluation then checks everything else.

// Index limits: a signature whose narrower side covers more than
// maxIndexedV4 IPv4 addresses, or whose ranges would be spread over more
// than maxIntervalsPerSig elementary intervals, stays on the every-packet
// list (it would match most packets anyway).
const (
	maxIndexedV4       = 1 << 24
	maxIntervalsPerSig = 4096
)

// u128 is an address as a 128-bit number (IPv4: low 32 bits).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) next() (u128, bool) {
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi != ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return a, false
}

// familyIndex is one address family's index: elementary intervals
// [starts[i], starts[i+1]) and the signatures covering each.
type familyIndex struct {
	starts []u128
	sigs   [][]uint32
}

// addrIndex indexes signatures by one address of the packet.
type addrIndex struct {
	v4, v6 familyIndex
	n      int // signatures indexed
}

type indexEntry struct {
	num    uint32
	ranges []rules.AddrRange
}

func keyOf(a netip.Addr) (u128, bool) {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}, false
	}
	b := a.As16()
	var k u128
	for i := 0; i < 8; i++ {
		k.hi = k.hi<<8 | uint64(b[i])
		k.lo = k.lo<<8 | uint64(b[8+i])
	}
	return k, true
}

// lookup returns the signatures whose indexed set holds a (nil if none).
func (ix *addrIndex) lookup(a netip.Addr) []uint32 {
	if ix.n == 0 || !a.IsValid() {
		return nil
	}
	k, v6 := keyOf(a)
	f := &ix.v4
	if v6 {
		f = &ix.v6
	}
	// Last interval starting at or before k.
	i, found := slices.BinarySearchFunc(f.starts, k, func(s, t u128) int {
		switch {
		case s.less(t):
			return -1
		case t.less(s):
			return 1
		}
		return 0
	})
	if !found {
		i--
	}
	if i < 0 || i >= len(f.sigs) {
		return nil
	}
	return f.sigs[i]
}

// build fills one family's index from the entries' ranges of that family.
// It returns the entries it had to leave out (too spread).
func (f *familyIndex) build(es []indexEntry, v6 bool) map[uint32]bool {
	var bounds []u128
	for _, e := range es {
		for _, r := range e.ranges {
			if r.V6 != v6 {
				continue
			}
			lo, hi := u128{r.LoHi, r.Lo}, u128{r.HiHi, r.Hi}
			bounds = append(bounds, lo)
			if n, ok := hi.next(); ok {
				bounds = append(bounds, n)
			}
		}
	}
	if len(bounds) == 0 {
		return nil
	}
	slices.SortFunc(bounds, func(a, b u128) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	})
	bounds = slices.Compact(bounds)
	f.starts = bounds
	f.sigs = make([][]uint32, len(bounds))
	find := func(k u128) int {
		i, _ := slices.BinarySearchFunc(bounds, k, func(s, t u128) int {
			switch {
			case s.less(t):
				return -1
			case t.less(s):
				return 1
			}
			return 0
		})
		return i
	}
	dropped := map[uint32]bool{}
	for _, e := range es {
		var spans [][2]int
		total := 0
		for _, r := range e.ranges {
			if r.V6 != v6 {
				continue
			}
			lo := find(u128{r.LoHi, r.Lo})
			end := len(bounds)
			if n, ok := (u128{r.HiHi, r.Hi}).next(); ok {
				end = find(n)
			}
			spans = append(spans, [2]int{lo, end})
			total += end - lo
		}
		if total > maxIntervalsPerSig {
			dropped[e.num] = true
			continue
		}
		for _, sp := range spans {
			for i := sp[0]; i < sp[1]; i++ {
				f.sigs[i] = append(f.sigs[i], e.num)
			}
		}
	}
	return dropped
}

// coverage is the number of addresses in rs, saturating for IPv6 ranges
// wider than maxIndexedV4.
func coverage(rs []rules.AddrRange) uint64 {
	var n uint64
	for _, r := range rs {
		if r.V6 {
			if r.LoHi != r.HiHi || r.Hi-r.Lo > maxIndexedV4 {
				return ^uint64(0)
			}
			n += r.Hi - r.Lo + 1
			continue
		}
		n += r.Hi - r.Lo + 1
	}
	return n
}

// splitAddrIndexed moves the signatures of always that an address index can
// serve into a source and a destination index, and returns what is left.
func (e *Engine) splitAddrIndexed(always []uint32) (rest []uint32, src, dst addrIndex) {
	var srcE, dstE []indexEntry
	for _, num := range always {
		s := e.sigs[num]
		r := s.Rule
		if r == nil || r.Bidirectional {
			rest = append(rest, num)
			continue
		}
		sr, sok := r.Src.Ranges()
		dr, dok := r.Dst.Ranges()
		sc, dc := ^uint64(0), ^uint64(0)
		if sok {
			sc = coverage(sr)
		}
		if dok {
			dc = coverage(dr)
		}
		switch {
		case sok && sc <= dc && sc <= maxIndexedV4:
			srcE = append(srcE, indexEntry{num, sr})
		case dok && dc <= maxIndexedV4:
			dstE = append(dstE, indexEntry{num, dr})
		default:
			rest = append(rest, num)
		}
	}
	// A signature too spread to index stays on the every-packet list and
	// the index is rebuilt without it, so the two stay disjoint (removing
	// entries only merges intervals: the loop ends).
	fill := func(ix *addrIndex, es []indexEntry) {
		for {
			*ix = addrIndex{}
			drop := ix.v4.build(es, false)
			for k := range ix.v6.build(es, true) {
				if drop == nil {
					drop = map[uint32]bool{}
				}
				drop[k] = true
			}
			if len(drop) == 0 {
				ix.n = len(es)
				return
			}
			keep := make([]indexEntry, 0, len(es))
			for _, en := range es {
				if drop[en.num] {
					rest = append(rest, en.num)
				} else {
					keep = append(keep, en)
				}
			}
			es = keep
		}
	}
	fill(&src, srcE)
	fill(&dst, dstE)
	slices.Sort(rest)
	rest = slices.Compact(rest)
	return rest, src, dst
}
