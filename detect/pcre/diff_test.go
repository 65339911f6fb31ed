package pcre

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// Differential testing against Go's regexp on the syntax both accept with
// the same meaning. Go's non-POSIX matching is leftmost-first, like PCRE.
// The generator avoids the known semantic differences: $ is compiled with
// DollarEndOnly (Go's $ is \z), unbounded or counted repeats of a group get
// a body that cannot match empty (PCRE and Go differ on empty iterations),
// inputs are ASCII without \v (Go's \s lacks it) and without a newline
// before the end when multiline.

// chooser supplies generator decisions: from a PRNG, or from fuzz bytes.
type chooser interface{ n(k int) int }

type randChooser struct{ r *rand.Rand }

func (c randChooser) n(k int) int { return c.r.Intn(k) }

type byteChooser struct {
	b []byte
	i int
}

func (c *byteChooser) n(k int) int {
	if c.i >= len(c.b) {
		return 0
	}
	v := int(c.b[c.i]) % k
	c.i++
	return v
}

var (
	diffAtoms   = []string{"a", "b", "c", "1", " ", "_", `\.`, ".", `\d`, `\w`, `\s`, `\D`, `\W`, `[ab]`, `[^a]`, `[a-c1]`, `[^\d ]`, `\x61`, `[[:alpha:]]`}
	diffAsserts = []string{"^", "$", `\A`, `\z`, `\b`, `\B`}
	diffQuants  = []string{"?", "??", "*", "*?", "+", "+?", "{2}", "{1,2}", "{0,2}?", "{2,}", "{1,3}"}
)

// gen returns a pattern and whether it can match the empty string.
func gen(c chooser, depth int) (string, bool) {
	p, n, _ := gen1(c, depth)
	return p, n
}

// gen1 also reports whether the pattern is a single quantifiable item.
func gen1(c chooser, depth int) (string, bool, bool) {
	k := c.n(10)
	if depth > 3 {
		k = c.n(4)
	}
	switch {
	case k < 3:
		return diffAtoms[c.n(len(diffAtoms))], false, true
	case k == 3:
		return diffAsserts[c.n(len(diffAsserts))], true, false
	case k < 6: // concatenation
		a, na := gen(c, depth+1)
		b, nb := gen(c, depth+1)
		return a + b, na && nb, false
	case k == 6: // alternation
		a, na := gen(c, depth+1)
		b, nb := gen(c, depth+1)
		return "(?:" + a + "|" + b + ")", na || nb, true
	case k == 7: // group
		a, na := gen(c, depth+1)
		if c.n(2) == 0 {
			return "(" + a + ")", na, true
		}
		return "(?:" + a + ")", na, true
	default: // quantified
		a, na, single := gen1(c, depth+1)
		q := diffQuants[c.n(len(diffQuants))]
		if na && q[0] != '?' {
			q = "?"
		}
		if !single {
			a = "(?:" + a + ")"
		}
		return a + q, na || q[0] == '?' || q[0] == '*' || strings.HasPrefix(q, "{0"), false
	}
}

func genInput(c chooser) string {
	const alpha = "ab1 _.\nA"
	n := c.n(12)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(alpha[c.n(len(alpha))])
	}
	return b.String()
}

// compareWithGo reports a difference between this package and Go's regexp
// for pattern pat (with optional (?i)/(?s) prefix) on input.
func compareWithGo(t *testing.T, pat string, prefix string, in string, s *Scratch) {
	t.Helper()
	goRe, err := regexp.Compile(prefix + pat)
	if err != nil {
		return // not in the common subset
	}
	var flags Flags = DollarEndOnly
	if strings.Contains(prefix, "i") {
		flags |= Caseless
	}
	if strings.Contains(prefix, "s") {
		flags |= DotAll
	}
	re, err := Compile(pat, flags)
	if err != nil {
		t.Fatalf("Compile(%q, %v): %v (Go accepts it)", pat, flags, err)
	}
	want := goRe.FindSubmatchIndex([]byte(in))
	st, en, ok := re.Find([]byte(in), 0, s)
	if s.LimitHit() {
		return
	}
	if (want != nil) != ok || ok && (want[0] != st || want[1] != en) {
		t.Fatalf("pattern %q prefix %q input %q: got [%d,%d] %v, Go %v", pat, prefix, in, st, en, ok, want)
	}
	if !ok {
		return
	}
	diffMatched++
	if re.NumGroups() != goRe.NumSubexp() {
		t.Fatalf("pattern %q: %d groups, Go %d", pat, re.NumGroups(), goRe.NumSubexp())
	}
	for g := 1; g <= re.NumGroups(); g++ {
		gs, ge, gok := re.Group(s, g)
		ws, we := want[2*g], want[2*g+1]
		if gok != (ws >= 0) || gok && (gs != ws || ge != we) {
			t.Fatalf("pattern %q prefix %q input %q: group %d = [%d,%d] %v, Go [%d,%d]", pat, prefix, in, g, gs, ge, gok, ws, we)
		}
	}
}

// diffMatched counts comparisons where both engines matched.
var diffMatched int

var prefixes = []string{"", "(?i)", "(?s)", "(?is)"}

func TestDifferential(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	c := randChooser{r}
	s := NewScratch()
	s.SetLimits(1e6, 1e6)
	n := 6000 // 48,000 comparisons; the fuzz target explores further
	if testing.Short() {
		n = 1000
	}
	for i := 0; i < n; i++ {
		pat, _ := gen(c, 0)
		prefix := prefixes[r.Intn(len(prefixes))]
		for j := 0; j < 8; j++ {
			compareWithGo(t, pat, prefix, genInput(c), s)
		}
	}
	if diffMatched < n {
		t.Fatalf("only %d of %d comparisons matched: the generator is too weak", diffMatched, n*8)
	}
	t.Logf("%d comparisons, %d with a match", n*8, diffMatched)
}

func FuzzDifferential(f *testing.F) {
	f.Add([]byte{8, 6, 1, 2, 3}, "aab", uint8(0))
	f.Add([]byte{4, 7, 0, 1, 9, 5, 5}, "ab ab", uint8(1))
	f.Add([]byte{9, 9, 9, 9, 9, 9, 3, 3}, "a.b\n1", uint8(2))
	f.Add([]byte{6, 6, 6, 0, 4, 8, 2, 7, 7}, "__A1", uint8(3))
	f.Fuzz(func(t *testing.T, choices []byte, in string, pf uint8) {
		if len(choices) > 64 || len(in) > 64 {
			return
		}
		for i := 0; i < len(in); i++ {
			if in[i] >= 0x80 || in[i] == '\v' {
				return
			}
		}
		c := &byteChooser{b: choices}
		pat, _ := gen(c, 0)
		s := NewScratch()
		s.SetLimits(1e6, 1e6)
		compareWithGo(t, pat, prefixes[int(pf)%len(prefixes)], in, s)
	})
}
