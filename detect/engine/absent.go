package engine

import (
	"strings"

	"github.com/vigil-ids/vigil/detect/rules"
)

// The absent keyword (Suricata 8) tests that a sticky buffer is missing
// from the transaction:
//
//	http.referer; absent;                           only when there is no Referer
//	http.referer; absent: or_else; content:!"x";    no Referer, or one without "x"
//
// A buffer is absent when the app layer supplies no instance of it (an
// empty instance is present). Plain `absent` matches only a missing buffer
// and the list may hold nothing else; `absent: or_else` also matches a
// present buffer on which the list's other keywords match, so it needs at
// least one of them. Without absent, a list on a missing buffer never
// matches, negated content included. As in Suricata, a content of such a
// list cannot be the fast pattern (the signature would be skipped when
// the buffer is missing), and contents of absent lists are not prefilter
// candidates.

const (
	absentNone   uint8 = iota
	absentOnly         // absent: the buffer must be missing
	absentOrElse       // absent: or_else: missing, or the list matches
)

func setupAbsent(b *builder, o rules.Option) error {
	mode := absentOnly
	switch v := strings.ToLower(strings.TrimSpace(o.Value)); v {
	case "":
	case "or_else":
		mode = absentOrElse
	default:
		return errFmt("invalid value %q (want nothing or or_else)", o.Value)
	}
	if !b.explicitBuf {
		return errFmt("needs a sticky buffer before it")
	}
	bl := b.curList()
	if bl.id < firstAppBuffer {
		return errFmt("cannot apply to %s (only app-layer buffers can be absent)", bl.id)
	}
	if bl.absent != absentNone {
		return errFmt("given more than once for %s", bl.id)
	}
	bl.absent = mode
	return nil
}

// checkAbsent validates the absent keyword of each list once the rule is
// complete (Suricata's rules: plain absent excludes other tests of the
// buffer, or_else requires one, and neither goes with fast_pattern).
func checkAbsent(s *Signature) (string, error) {
	for i := range s.bufs {
		bl := &s.bufs[i]
		switch bl.absent {
		case absentNone:
			continue
		case absentOnly:
			if len(bl.steps) > 0 {
				return "absent", errFmt("%s is only tested for absence and cannot have other keywords (use absent: or_else)", bl.id)
			}
		case absentOrElse:
			if len(bl.steps) == 0 {
				return "absent", errFmt("absent: or_else on %s needs another keyword to test the buffer with", bl.id)
			}
		}
		for j := range bl.steps {
			if st := &bl.steps[j]; st.kind == stepContent && st.flags&fFastPattern != 0 {
				return "fast_pattern", errFmt("cannot be used on %s, which has absent", bl.id)
			}
		}
	}
	return "", nil
}

func init() {
	register(&keyword{name: "absent", setup: setupAbsent})
}
