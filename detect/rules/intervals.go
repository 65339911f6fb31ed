package rules

import "sort"

// Interval arithmetic shared by address (IPv4, IPv6) and port sets. A set is
// a slice of inclusive ranges, sorted by lo and disjoint, with no two ranges
// adjacent (they are merged). The point types implement point[T].

type point[T any] interface {
	comparable
	less(T) bool
	// succ returns the next value and false when the value is the maximum.
	succ() (T, bool)
	// pred returns the previous value and false when the value is the minimum.
	pred() (T, bool)
}

type span[T point[T]] struct{ lo, hi T }

// normalize sorts rs and merges overlapping and adjacent ranges in place.
func normalize[T point[T]](rs []span[T]) []span[T] {
	if len(rs) < 2 {
		return rs
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].lo.less(rs[j].lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		next, ok := last.hi.succ()
		if !ok {
			// last already reaches the maximum: it covers r.
			continue
		}
		if !next.less(r.lo) { // r.lo <= last.hi+1: overlapping or adjacent
			if last.hi.less(r.hi) {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// subtract returns a minus b; both normalized. The result is a new slice.
func subtract[T point[T]](a, b []span[T]) []span[T] {
	out := make([]span[T], 0, len(a))
	j := 0
	for _, r := range a {
		lo, hi := r.lo, r.hi
		alive := true
		// skip b ranges entirely below lo
		for j < len(b) && b[j].hi.less(lo) {
			j++
		}
		k := j
		for alive && k < len(b) && !hi.less(b[k].lo) {
			// b[k] overlaps [lo,hi]
			if lo.less(b[k].lo) {
				p, _ := b[k].lo.pred()
				out = append(out, span[T]{lo, p})
			}
			if b[k].hi.less(hi) {
				n, _ := b[k].hi.succ()
				lo = n
				k++
			} else {
				alive = false
			}
		}
		if alive {
			out = append(out, span[T]{lo, hi})
		}
	}
	return out
}

// find reports whether x is in the normalized set rs, by binary search.
func find[T point[T]](rs []span[T], x T) bool {
	lo, hi := 0, len(rs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs[m].hi.less(x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(rs) && !x.less(rs[lo].lo)
}

// u16 is a port number.
type u16 uint16

func (a u16) less(b u16) bool { return a < b }
func (a u16) succ() (u16, bool) {
	if a == 0xffff {
		return a, false
	}
	return a + 1, true
}
func (a u16) pred() (u16, bool) {
	if a == 0 {
		return a, false
	}
	return a - 1, true
}

// u32 is an IPv4 address in host order.
type u32 uint32

func (a u32) less(b u32) bool { return a < b }
func (a u32) succ() (u32, bool) {
	if a == 0xffffffff {
		return a, false
	}
	return a + 1, true
}
func (a u32) pred() (u32, bool) {
	if a == 0 {
		return a, false
	}
	return a - 1, true
}

// u128 is an IPv6 address as two big-endian halves.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }
func (a u128) succ() (u128, bool) {
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi == ^uint64(0) {
		return a, false
	}
	return u128{a.hi + 1, 0}, true
}
func (a u128) pred() (u128, bool) {
	if a.lo != 0 {
		return u128{a.hi, a.lo - 1}, true
	}
	if a.hi == 0 {
		return a, false
	}
	return u128{a.hi - 1, ^uint64(0)}, true
}

var (
	allPorts = []span[u16]{{0, 0xffff}}
	allV4    = []span[u32]{{0, 0xffffffff}}
	allV6    = []span[u128]{{u128{}, u128{^uint64(0), ^uint64(0)}}}
)
