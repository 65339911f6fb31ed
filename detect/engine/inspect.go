package engine

import "bytes"

// bufList is a signature's inspection list for one buffer: the buffer,
// its transforms, and the keywords to run on it in rule order.
type bufList struct {
	id    BufferID
	xf    []transform
	steps []step
	// variant is the engine-wide index of (id, xf), set by Compile.
	variant int
	// absent is the list's absent keyword (absent.go): absentNone, or
	// absentOnly / absentOrElse, which match when the buffer is missing.
	absent uint8
}

// variantKey identifies a buffer with its transform chain.
func (bl *bufList) variantKey() string {
	if len(bl.xf) == 0 {
		return bl.id.String()
	}
	k := bl.id.String()
	for _, x := range bl.xf {
		k += "|" + x.id()
	}
	return k
}

// stepKind is the kind of an inspection step.
type stepKind uint8

const (
	stepContent stepKind = iota
	stepIsdataat
	stepPcre
	stepByte   // byte_test, byte_jump, byte_extract, byte_math
	stepLen    // bsize / urilen: the buffer's length
	stepBase64 // base64_decode: decode into scratch and run the base64_data list
)

// Step flags.
const (
	fOffset       uint16 = 1 << iota // offset set
	fDepth                           // depth set (or startswith)
	fDistance                        // distance set (relative)
	fWithin                          // within set (relative)
	fNegated                         // content:!"..." / isdataat:! / pcre:!
	fNocase                          // nocase
	fStartsWith                      // startswith
	fEndsWith                        // endswith
	fWithinNext                      // the next content/pcre has within relative to this one: retry on failure
	fRelativeNext                    // some later keyword is relative to this one
	fFastPattern                     // fast_pattern given on this content
	fRelative                        // isdataat/pcre: relative to the previous match
)

// step is one inspection keyword of a buffer list, in rule order.
type step struct {
	kind  stepKind
	flags uint16
	// content
	pat      []byte // the pattern; lower-cased when fNocase
	offset   uint32
	depth    uint32 // absolute end of the search window (offset+depth as written); 0 = none
	rawDepth uint32 // depth as written
	distance int32
	within   int32
	fpOff    int // fast_pattern:o,l chop; fpLen 0 = whole pattern
	fpLen    int
	// isdataat
	dataat uint32
	// pcre
	pcre *pcreStep
	// byte keywords
	bop *byteOp
	// bsize / urilen
	num uintMatch
	// base64_decode
	b64 *b64Op
	// vref holds variables used instead of the constant offset, depth,
	// distance, within (content) or dataat (isdataat, in vref[0]):
	// variable index + 1, 0 when the constant applies.
	vref [4]int8
}

func (s *step) relative() bool { return s.flags&(fDistance|fWithin) != 0 }

// isSingle is Suricata's DETECT_CONTENT_IS_SINGLE: the content takes part
// in no relative chain and has no window of its own.
func (s *step) isSingle() bool {
	return s.flags&(fDistance|fWithin|fRelativeNext|fDepth|fOffset) == 0
}

// lower is the ASCII lower-case table used for nocase search.
var lower = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		t[i] = c
	}
	return t
}()

// indexFold returns the index of the first occurrence of pat (already
// lower-case) in b, ignoring ASCII case, or -1.
func indexFold(b, pat []byte) int {
	m := len(pat)
	if m == 0 {
		return 0
	}
	first := pat[0]
	for i := 0; i+m <= len(b); i++ {
		if lower[b[i]] != first {
			continue
		}
		j := 1
		for j < m && lower[b[i+j]] == pat[j] {
			j++
		}
		if j == m {
			return i
		}
	}
	return -1
}

// inspect evaluates list[i:] against buf with Suricata's content
// inspection semantics, backtracking over earlier content occurrences when
// a later content relative to them (with within) fails. It returns 1 for a
// match, 0 for no match, -1 for "no match and no point in retrying earlier
// keywords". t.bufOff is the end of the previous match.
func (t *Thread) inspect(list []step, i int, buf []byte) int {
	t.budget--
	if t.budget <= 0 {
		return -1
	}
	s := &list[i]
	last := i == len(list)-1
	blen := uint32(len(buf))
	switch s.kind {
	case stepContent:
		sOffset, sDepth, sDistance, sWithin := s.offset, s.depth, s.distance, s.within
		if s.vref != [4]int8{} {
			if r := s.vref[0]; r > 0 {
				sOffset = uint32(min(t.vars[r-1], 1<<20))
			}
			if r := s.vref[1]; r > 0 {
				sDepth = uint32(min(t.vars[r-1], 1<<20))
			}
			if s.flags&fDepth != 0 {
				sDepth += sOffset
			}
			if r := s.vref[2]; r > 0 {
				sDistance = int32(min(t.vars[r-1], 1<<20))
			}
			if r := s.vref[3]; r > 0 {
				sWithin = int32(min(t.vars[r-1], 1<<20))
			}
		}
		plen := uint32(len(s.pat))
		var prevOffset uint32
		prevBufOff := uint32(t.bufOff)
		for {
			depth := blen
			var offset uint32
			if s.relative() {
				offset = prevBufOff
				var distance int32
				if s.flags&fDistance != 0 {
					distance = sDistance
					if distance < 0 && uint32(-distance) > offset {
						offset = 0
					} else {
						offset = uint32(int64(offset) + int64(distance))
					}
				}
				if s.flags&fWithin != 0 {
					lim := int64(prevBufOff) + int64(sWithin) + int64(distance)
					// A negative limit wraps in Suricata's unsigned
					// arithmetic and ends up as the buffer length.
					if lim >= 0 && int64(depth) > lim {
						depth = uint32(lim)
					}
				}
			} else {
				if sDepth != 0 {
					depth = sDepth
				}
				offset = sOffset
			}
			if prevOffset != 0 {
				offset = prevOffset
			}
			if depth > blen {
				depth = blen
			}
			if offset > depth || depth == 0 {
				if s.flags&fNegated != 0 {
					goto match
				}
				return 0
			}
			window := buf[offset:depth]
			found := -1
			if s.flags&fEndsWith != 0 && depth < blen {
				found = -1
			} else if plen > uint32(len(window)) {
				found = -1
			} else if s.flags&fNocase != 0 {
				found = indexFold(window, s.pat)
			} else {
				found = bytes.Index(window, s.pat)
			}
			if found < 0 {
				if s.flags&fNegated == 0 {
					if !s.relative() {
						return -1 // independent of earlier matches: fatal
					}
					return 0
				}
				goto match
			}
			matchEnd := offset + uint32(found) + plen
			if s.flags&fNegated != 0 {
				if s.flags&fEndsWith != 0 && matchEnd != blen {
					goto match
				}
				if s.isSingle() {
					return -1
				}
				return 0
			}
			t.bufOff = int(matchEnd)
			if s.flags&fEndsWith == 0 || matchEnd == blen {
				if last {
					return 1
				}
				r := t.inspect(list, i+1, buf)
				if r != 0 {
					return r
				}
				if s.flags&fWithinNext == 0 {
					return -1
				}
			}
			// Retry from the byte after this occurrence's start.
			prevOffset = matchEnd - (plen - 1)
		}

	case stepIsdataat:
		at := s.dataat
		if r := s.vref[0]; r > 0 {
			at = uint32(min(t.vars[r-1], 1<<20))
		}
		if s.flags&fRelative != 0 {
			if uint64(t.bufOff)+uint64(at) > uint64(blen) {
				if s.flags&fNegated != 0 {
					goto match
				}
				return -1
			}
			if s.flags&fNegated != 0 {
				return 0
			}
			goto match
		}
		if at < blen {
			if s.flags&fNegated != 0 {
				return -1
			}
			goto match
		}
		if s.flags&fNegated != 0 {
			goto match
		}
		return -1

	case stepPcre:
		return t.inspectPcre(list, i, buf)

	case stepByte:
		if !t.runByte(s.bop, buf) {
			return 0
		}
		goto match

	case stepLen:
		if !s.num.match(uint64(len(buf))) {
			return -1
		}
		goto match

	case stepBase64:
		if !t.runBase64(s.b64, buf) {
			return 0
		}
		goto match
	}
	return 0

match:
	if last {
		return 1
	}
	return t.inspect(list, i+1, buf)
}
