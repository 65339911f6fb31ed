package pcre

import (
	"strings"
	"testing"
)

type tcase struct {
	pat    string
	flags  Flags
	in     string
	from   int
	s, e   int   // -1: no match
	groups []int // optional: start,end pairs for groups 1..n (-1,-1 unset)
}

// Expected results follow PCRE2's documented semantics (pcre2pattern,
// pcre2api start_offset), worked out by hand.
var cases = []tcase{
	// lookbehind
	{pat: `(?<=foo)bar`, in: "foobar", s: 3, e: 6},
	{pat: `(?<=foo)bar`, in: "fobar", s: -1},
	{pat: `(?<!foo)bar`, in: "foobar", s: -1},
	{pat: `(?<!foo)bar`, in: "xbar", s: 1, e: 4},
	{pat: `(?<=ab|c)d`, in: "abd", s: 2, e: 3},
	{pat: `(?<=ab|c)d`, in: "cd", s: 1, e: 2},
	{pat: `(?<=ab|c)d`, in: "bd", s: -1},
	{pat: `(?<=a)b`, in: "ab", from: 1, s: 1, e: 2}, // lookbehind sees bytes before the start offset
	{pat: `(?<=^|,)x`, in: "a,x", s: 2, e: 3},
	{pat: `(?<![a-z])\d+`, in: "a12 34", s: 2, e: 3},
	{pat: `(?<=\d{3})x`, in: "12x123x", s: 6, e: 7},
	// lookahead
	{pat: `foo(?=bar)`, in: "foobar", s: 0, e: 3},
	{pat: `foo(?!bar)`, in: "foobar", s: -1},
	{pat: `foo(?!bar)`, in: "foobaz", s: 0, e: 3},
	{pat: `(?=(\w+))\w`, in: "abc", s: 0, e: 1, groups: []int{0, 3}},
	{pat: `(?!(a))b`, in: "b", s: 0, e: 1, groups: []int{-1, -1}},
	{pat: `^(?=.*\d)(?=.*[a-z]).{4}$`, in: "ab1c", s: 0, e: 4},
	{pat: `^(?=.*\d)(?=.*[a-z]).{4}$`, in: "abcd", s: -1},
	// back-references
	{pat: `(a)\1`, in: "aa", s: 0, e: 2},
	{pat: `(a)\1`, in: "aA", s: -1},
	{pat: `(a)\1`, flags: Caseless, in: "aA", s: 0, e: 2},
	{pat: `(?i)(abc)\1`, in: "xabcABC", s: 1, e: 7},
	{pat: `(\w+)\s+\1`, in: "say hello hello", s: 4, e: 15, groups: []int{4, 9}},
	{pat: `(a)?b\1`, in: "b", s: -1}, // unset group never matches
	{pat: `(?<x>ab)\k<x>`, in: "abab", s: 0, e: 4},
	{pat: `(?P<y>a)(?P=y)`, in: "aa", s: 0, e: 2},
	{pat: `(?'z'a)\g{z}\k{z}\k'z'`, in: "aaaa", s: 0, e: 4},
	{pat: `(a)(b)\g{-1}\g1\g{2}`, in: "abbab", s: 0, e: 5},
	{pat: `(a|b)\1+`, in: "abbb", s: 1, e: 4},
	// atomic groups and possessive quantifiers
	{pat: `(?>a+)b`, in: "aaab", s: 0, e: 4},
	{pat: `(?>a+)ab`, in: "aaab", s: -1},
	{pat: `(?>a|ab)c`, in: "abc", s: -1},
	{pat: `(?:a|ab)c`, in: "abc", s: 0, e: 3},
	{pat: `a++b`, in: "aaab", s: 0, e: 4},
	{pat: `a++ab`, in: "aaab", s: -1},
	{pat: `\d++5`, in: "12345", s: -1},
	{pat: `[a-z]*+z`, in: "xyz", s: -1},
	{pat: `(?:ab)++ab`, in: "ababab", s: -1},
	{pat: `(?:ab)*+c`, in: "ababc", s: 0, e: 5},
	{pat: `a?+a`, in: "a", s: -1},
	{pat: `a{1,3}+a`, in: "aaaa", s: 0, e: 4},
	{pat: `(?>(a+))b`, in: "aab", s: 0, e: 3, groups: []int{0, 2}},
	// lazy quantifiers
	{pat: `a+?`, in: "aaa", s: 0, e: 1},
	{pat: `<.+?>`, in: "<a><b>", s: 0, e: 3},
	{pat: `a{2,}?`, in: "aaaa", s: 0, e: 2},
	{pat: `(ab)*?c`, in: "ababc", s: 0, e: 5},
	{pat: `(ab){1,3}?`, in: "ababab", s: 0, e: 2},
	{pat: `a+`, flags: Ungreedy, in: "aaa", s: 0, e: 1},
	{pat: `a+?`, flags: Ungreedy, in: "aaa", s: 0, e: 3},
	{pat: `(?U)a+`, in: "aaa", s: 0, e: 1},
	// anchors and the start offset
	{pat: `\Gab`, in: "xxab", from: 2, s: 2, e: 4},
	{pat: `\Gab`, in: "xxab", from: 0, s: -1},
	{pat: `\Gab`, in: "xxabab", from: 1, s: -1},
	{pat: `ab`, flags: Anchored, in: "xab", s: -1},
	{pat: `ab`, flags: Anchored, in: "xab", from: 1, s: 1, e: 3},
	{pat: `^ab`, in: "abab", from: 2, s: -1},
	{pat: `\Aab`, in: "abab", from: 2, s: -1},
	{pat: `^ab`, flags: Multiline, in: "x\nab", s: 2, e: 4},
	{pat: `(?m)^`, in: "a\n", from: 1, s: -1}, // no ^ after a final newline
	{pat: `(?m)^b`, in: "a\nb", from: 1, s: 2, e: 3},
	{pat: `abc$`, in: "abc\n", s: 0, e: 3},
	{pat: `abc$`, flags: DollarEndOnly, in: "abc\n", s: -1},
	{pat: `abc$`, flags: DollarEndOnly | Multiline, in: "abc\n", s: 0, e: 3},
	{pat: `abc$`, in: "abc\nx", s: -1},
	{pat: `abc$`, flags: Multiline, in: "abc\nx", s: 0, e: 3},
	{pat: `abc\Z`, in: "abc\n", s: 0, e: 3},
	{pat: `abc\Z`, in: "abc\n\n", s: -1},
	{pat: `abc\z`, in: "abc\n", s: -1},
	{pat: `abc\z`, in: "abc", s: 0, e: 3},
	{pat: `\bfoo\b`, in: "a foo b", s: 2, e: 5},
	{pat: `\bfoo\b`, in: "afoo", s: -1},
	{pat: `\Boo\B`, in: "food", s: 1, e: 3},
	// option scoping
	{pat: `a(?i)b`, in: "aB", s: 0, e: 2},
	{pat: `a(?i)b`, in: "AB", s: -1},
	{pat: `(a(?i)b)c`, in: "aBc", s: 0, e: 3},
	{pat: `(a(?i)b)c`, in: "aBC", s: -1},
	{pat: `(?i:a)b`, in: "Ab", s: 0, e: 2},
	{pat: `(?i:a)b`, in: "AB", s: -1},
	{pat: `(a(?i)b|c)`, in: "C", s: 0, e: 1}, // the change carries into later alternatives
	{pat: `(?i)a(?-i)b`, in: "AB", s: -1},
	{pat: `(?i)a(?-i)b`, in: "Ab", s: 0, e: 2},
	{pat: `(?s).`, in: "\n", s: 0, e: 1},
	{pat: `.`, in: "\n", s: -1},
	{pat: `(?s:.)(?-s:.)`, in: "\n\n", s: -1},
	{pat: `(?x) a b # c`, in: "ab", s: 0, e: 2},
	{pat: "a b # comment\n c", flags: Extended, in: "abc", s: 0, e: 3},
	{pat: `[ ]`, flags: Extended, in: "a b", s: 1, e: 2},
	{pat: `[^a]`, flags: Caseless, in: "A", s: -1},
	{pat: `[a-c]+`, flags: Caseless, in: "xAbC", s: 1, e: 4},
	// escapes and classes
	{pat: `\x41\101\x{42}\o{103}`, in: "AABC", s: 0, e: 4},
	{pat: `\0\x0\cA\e`, in: "\x00\x00\x01\x1b", s: 0, e: 4},
	{pat: `\Qa.b\E+`, in: "a.bb", s: 0, e: 4},
	{pat: `\Qa.b`, in: "axb", s: -1},
	{pat: `[\Q]\E]`, in: "]", s: 0, e: 1},
	{pat: `[[:digit:]]+`, in: "ab123", s: 2, e: 5},
	{pat: `[[:^alpha:]]`, in: "ab1", s: 2, e: 3},
	{pat: `[]a]+`, in: "x]a]", s: 1, e: 4},
	{pat: `[^]a]`, in: "]ab", s: 2, e: 3},
	{pat: `[a-]+`, in: "-a-", s: 0, e: 3},
	{pat: `[\d-z]+`, in: "1-z", s: 0, e: 3},
	{pat: `[\x00-\x1f]`, in: "ab\x05", s: 2, e: 3},
	{pat: `[\b]`, in: "a\x08", s: 1, e: 2},
	{pat: `\h+\v`, in: "a \t\xa0\n", s: 1, e: 5},
	{pat: `\s`, in: "a\x0b", s: 1, e: 2},
	{pat: `a\Rb`, in: "a\r\nb", s: 0, e: 4},
	{pat: `a\Rb`, in: "a\rb", s: 0, e: 3},
	{pat: `\N+`, in: "ab\ncd", s: 0, e: 2},
	{pat: `\xff+`, in: "a\xff\xff", s: 1, e: 3},
	{pat: `a{,3}`, in: "a{,3}", s: 0, e: 5}, // not a quantifier in PCRE: literal
	{pat: `x{2}`, in: "xxx", s: 0, e: 2},
	{pat: `\12`, in: "a\nb", s: 1, e: 2}, // octal: no 12 groups
	{pat: `\;\"\/`, in: `;"/`, s: 0, e: 3},
	{pat: `(?#comment)ab`, in: "ab", s: 0, e: 2},
	{pat: `foo\Kbar`, in: "foobar", s: 3, e: 6},
	// empty iterations end a loop
	{pat: `(a*)*b`, in: "b", s: 0, e: 1},
	{pat: `(a|)*b`, in: "aab", s: 0, e: 3},
	{pat: `(?:a?)+?b`, in: "aab", s: 0, e: 3},
	{pat: `(a*)+$`, in: "aa", s: 0, e: 2},
	// leftmost-first
	{pat: `(a|ab)(c|bcd)(d*)`, in: "abcd", s: 0, e: 4, groups: []int{0, 1, 1, 4, 4, 4}},
	{pat: `a|ab`, in: "ab", s: 0, e: 1},
	{pat: `(a+)(b+)?`, in: "aab", s: 0, e: 3, groups: []int{0, 2, 2, 3}},
	{pat: `(a)|b`, in: "b", s: 0, e: 1, groups: []int{-1, -1}},
	{pat: `(?:(a)|b)+`, in: "ab", s: 0, e: 2, groups: []int{0, 1}}, // PCRE keeps the last set value
	{pat: ``, in: "", s: 0, e: 0},
	// start-position skipping must not lose matches
	{pat: `[^&]*(?:\x60|\x24)`, in: "a&b$", s: 2, e: 4},
	{pat: `[^&]*(?:\x60|\x24)`, in: "ab&&$", s: 4, e: 5},
	{pat: `\w+?x`, in: "ab cx", s: 3, e: 5},
	{pat: `a*+b`, in: "aac aab", s: 4, e: 7},
	{pat: `.*(?<=c)d`, in: "ab\ncd", s: 3, e: 5},
	{pat: `(?m)^ab`, in: "xab\nzab\nab", s: 8, e: 10},
	{pat: `(?m)^b`, in: "ab\n", s: -1},
	{pat: `(?m)^[a-c]`, in: "xx\nzz\nc", s: 6, e: 7},
	{pat: `(?m)^$`, in: "a\n\nb", s: 2, e: 2},
	{pat: `(?i)abc|xyz`, in: "__XyZ", s: 2, e: 5},
	{pat: `(?i)ba{2,}c`, in: "baacBAAAC", s: 0, e: 4},
	{pat: `\d+\.\d+`, in: "v 10.25", s: 2, e: 7},
	{pat: `x*`, in: "abc", from: 3, s: 3, e: 3},
}

func TestCases(t *testing.T) {
	s := NewScratch()
	for _, c := range cases {
		re, err := Compile(c.pat, c.flags)
		if err != nil {
			t.Errorf("Compile(%q, %v): %v", c.pat, c.flags, err)
			continue
		}
		st, en, ok := re.Find([]byte(c.in), c.from, s)
		if c.s < 0 {
			if ok {
				t.Errorf("%q flags %v on %q from %d: got match [%d,%d], want none", c.pat, c.flags, c.in, c.from, st, en)
			}
			continue
		}
		if !ok || st != c.s || en != c.e {
			t.Errorf("%q flags %v on %q from %d: got [%d,%d] %v, want [%d,%d] (limit hit %v)", c.pat, c.flags, c.in, c.from, st, en, ok, c.s, c.e, s.LimitHit())
			continue
		}
		for g := 0; g*2 < len(c.groups); g++ {
			gs, ge, gok := re.Group(s, g+1)
			ws, we := c.groups[2*g], c.groups[2*g+1]
			if ws < 0 {
				if gok {
					t.Errorf("%q on %q: group %d = [%d,%d], want unset", c.pat, c.in, g+1, gs, ge)
				}
			} else if !gok || gs != ws || ge != we {
				t.Errorf("%q on %q: group %d = [%d,%d] %v, want [%d,%d]", c.pat, c.in, g+1, gs, ge, gok, ws, we)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct{ pat, want string }{
		{`ab\p{L}`, "offset 2: unsupported \\p{...}"},
		{`\PL`, "offset 0: unsupported \\P{...}"},
		{`a(?R)`, "offset 1: unsupported recursion"},
		{`(a)(?1)`, "offset 3: unsupported recursion"},
		{`(?(1)a|b)`, "offset 0: unsupported conditional"},
		{`(?C1)a`, "unsupported callout"},
		{`(*UTF)a`, "unsupported (*VERB)"},
		{`(?|a)`, "branch reset"},
		{`\X`, "unsupported \\X"},
		{`\C`, "unsupported \\C"},
		{`x(?<=a+)b`, "offset 5: lookbehind assertion is not fixed length"},
		{`(?<=a|bc?)b`, "lookbehind assertion is not fixed length"},
		{`(a)(?<=\1)`, "not fixed length"},
		{`a{3,2}`, "offset 1: numbers out of order"},
		{`a{70000}`, "number too big"},
		{`[b-a]`, "offset 2: range out of order"},
		{`(ab`, "offset 0: missing closing parenthesis"},
		{`ab)`, "offset 2: unmatched closing parenthesis"},
		{`*a`, "offset 0: quantifier does not follow a repeatable item"},
		{`a**`, "quantifier does not follow"},
		{`^*`, "quantifier does not follow"},
		{`(a)\2`, "non-existent subpattern 2"},
		{`\k<nope>`, "non-existent subpattern \"nope\""},
		{`(?<n>a)(?<n>b)`, "same name"},
		{`[abc`, "offset 0: missing terminating ]"},
		{`[[:foo:]]`, "unknown POSIX class"},
		{`ab\`, "offset 2: \\ at end of pattern"},
		{`\x{100}`, "too large"},
		{`\y`, "unrecognized escape \\y"},
		{`(?z)`, "unrecognized option letter"},
		{`(?#abc`, "missing )"},
		{`\g{0}`, "must not be zero"},
		{`((a|b){1000}){1000}`, "pattern too large"},
		{strings.Repeat("(", 300), "too deeply nested"},
	} {
		_, err := Compile(c.pat, 0)
		if err == nil {
			t.Errorf("Compile(%q) succeeded, want error containing %q", c.pat, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "pcre: offset ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%q) error %q, want it to contain %q", c.pat, err, c.want)
		}
	}
}

func TestLimits(t *testing.T) {
	re := MustCompile(`(a+)+\d`, 0)
	data := []byte(strings.Repeat("a", 40))
	s := NewScratch()
	if _, _, ok := re.Find(data, 0, s); ok || !s.LimitHit() {
		t.Fatalf("catastrophic pattern: ok=%v limitHit=%v, want no match with the limit hit", ok, s.LimitHit())
	}
	// The limit resets on the next Find.
	if _, _, ok := re.Find([]byte("aa1"), 0, s); !ok || s.LimitHit() {
		t.Fatalf("after a limit hit: ok=%v limitHit=%v", ok, s.LimitHit())
	}
	// Depth: a group iterated many times keeps one choice point per iteration.
	deep := MustCompile(`^(?:a|b)*c`, 0)
	long := []byte(strings.Repeat("ab", 2000) + "c")
	if _, _, ok := deep.Find(long, 0, s); ok || !s.LimitHit() {
		t.Fatalf("deep pattern: ok=%v limitHit=%v, want the depth limit hit", ok, s.LimitHit())
	}
	s.SetLimits(0, 0)
	if st, en, ok := deep.Find(long, 0, s); !ok || st != 0 || en != len(long) || s.LimitHit() {
		t.Fatalf("unlimited deep pattern: [%d,%d] %v hit %v", st, en, ok, s.LimitHit())
	}
	// The work limit bounds a Find whatever the per-position limits.
	w := NewScratch()
	w.SetLimits(0, 0)
	w.SetWorkLimit(100000)
	if _, _, ok := re.Find(data, 0, w); ok || !w.LimitHit() {
		t.Fatalf("work limit: ok=%v limitHit=%v, want the limit hit", ok, w.LimitHit())
	}
	slow := MustCompile(`(?:\w*\s)*\d`, 0) // scans the rest of the data at every step and start
	text := []byte(strings.Repeat("word ", 2000))
	if _, _, ok := slow.Find(text, 0, w); ok || !w.LimitHit() {
		t.Fatalf("work limit on long data: ok=%v limitHit=%v", ok, w.LimitHit())
	}
	// A simple repeat keeps one entry whatever its length.
	simple := MustCompile(`^a*b`, 0)
	s2 := NewScratch()
	big := []byte(strings.Repeat("a", 100000) + "b")
	if _, en, ok := simple.Find(big, 0, s2); !ok || en != len(big) {
		t.Fatalf("long simple repeat: end %d ok %v hit %v", en, ok, s2.LimitHit())
	}
}

func TestGroupAfterFailure(t *testing.T) {
	re := MustCompile(`(a)(b)?`, 0)
	s := NewScratch()
	if _, _, ok := re.Find([]byte("xa"), 0, s); !ok {
		t.Fatal("no match")
	}
	if st, en, ok := re.Group(s, 1); !ok || st != 1 || en != 2 {
		t.Fatalf("group 1 = %d,%d,%v", st, en, ok)
	}
	if _, _, ok := re.Group(s, 2); ok {
		t.Fatal("group 2 should be unset")
	}
	if _, _, ok := re.Group(s, 3); ok {
		t.Fatal("group 3 does not exist")
	}
	if re.NumGroups() != 2 {
		t.Fatalf("NumGroups = %d", re.NumGroups())
	}
	other := MustCompile(`q`, 0)
	other.Find([]byte("q"), 0, s)
	if _, _, ok := re.Group(s, 1); ok {
		t.Fatal("Group must not report another regexp's match")
	}
	if _, _, ok := re.Find([]byte("zz"), 0, s); ok {
		t.Fatal("unexpected match")
	}
	if _, _, ok := re.Group(s, 0); ok {
		t.Fatal("Group after a failed Find must fail")
	}
	if _, _, ok := re.Find([]byte("a"), 5, s); ok {
		t.Fatal("from beyond the data must not match")
	}
}

func TestNamedIndex(t *testing.T) {
	re := MustCompile(`(?<a>x)(y)(?P<b>z)`, 0)
	if re.GroupIndex("a") != 1 || re.GroupIndex("b") != 3 || re.GroupIndex("c") != -1 {
		t.Fatalf("GroupIndex: %d %d %d", re.GroupIndex("a"), re.GroupIndex("b"), re.GroupIndex("c"))
	}
}

func TestAllocs(t *testing.T) {
	pats := []string{`(?i)(\w+)\s+\1`, `(?<=foo)bar(?!baz)`, `(?>a+)b|c+?d`, `<OBJECT\s+[^>]*classid\s*=\s*[\x22\x27]?\s*clsid\s*\x3a`, `^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$`}
	data := []byte("xx foo foo barbaz foobarqux <object  a classid = 'clsid:1 aaab 1.2.3.4")
	s := NewScratch()
	for _, p := range pats {
		re := MustCompile(p, Caseless)
		re.Find(data, 0, s) // warm up
		allocs := testing.AllocsPerRun(200, func() {
			re.Find(data, 0, s)
			re.Find(data, 3, s)
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations per Find, want 0", p, allocs)
		}
	}
}
