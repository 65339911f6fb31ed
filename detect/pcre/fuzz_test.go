package pcre

import (
	"strings"
	"testing"
)

// FuzzCompileFind compiles arbitrary patterns with arbitrary flags and runs
// them on arbitrary data under the default limits: it must never panic or
// hang, and what it reports must be consistent.
func FuzzCompileFind(f *testing.F) {
	seeds := []string{
		`(?<=foo)bar`, `(?<!a|bc)d`, `(a)\1`, `(?i)(ab)\1`, `(?>a+)b`, `a++b`, `a*?b`, `\Gab`, `abc$`, `\Z`, `\z`,
		`(?<n>x)\k<n>`, `(?P<y>a)(?P=y)`, `\g{-1}`, `(a)(b)\g{-1}`, `\Qa.b\E+`, `[[:alpha:]\d-]`, `[]a-]`, `[^\x00-\x1f]`,
		`(?x) a b #c`, `(?i:a)b`, `(a(?i)b|c)`, `(a*)*b`, `(a|)*b`, `(a+)+b`, `\bfoo\B`, `foo\Kbar`, `a\Rb`, `x{2,3}?`,
		`^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$`, `<OBJECT\s+[^>]*classid\s*=\s*[\x22\x27]?\s*clsid\s*\x3a`, `(?=(\w+))\w`,
		`(?!(a))b`, `\x{41}\101\o{102}\cA\e\0`, `(?#c)a`, `a{,3}`, `(?:$)?`, `(?m)^a$`, `(?s).+`, `\p{L}`, `(?R)`,
	}
	for i, p := range seeds {
		f.Add(p, uint32(i), []byte("foobar abab aAbB 1.2.3.4 <object classid='clsid:x'>\n\r\nxyz"), uint8(i%5))
	}
	f.Fuzz(func(t *testing.T, pat string, flags uint32, data []byte, from uint8) {
		if len(pat) > 512 || len(data) > 4096 {
			return
		}
		fl := Flags(flags) & (Caseless | DotAll | Multiline | Extended | Anchored | DollarEndOnly | Ungreedy)
		re, err := Compile(pat, fl)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pcre: offset ") {
				t.Fatalf("Compile(%q) error without an offset: %v", pat, err)
			}
			return
		}
		s := NewScratch()
		fr := int(from)
		if fr > len(data) {
			fr = len(data)
		}
		st, en, ok := re.Find(data, fr, s)
		if ok {
			if st < 0 || en > len(data) || en < fr {
				t.Fatalf("%q on %q from %d: match [%d,%d] out of range", pat, data, fr, st, en)
			}
			if !strings.Contains(pat, `\K`) && (st < fr || st > en) {
				t.Fatalf("%q on %q from %d: match [%d,%d] starts outside [from,end]", pat, data, fr, st, en)
			}
			for g := 0; g <= re.NumGroups(); g++ {
				gs, ge, gok := re.Group(s, g)
				if gok && (gs < 0 || ge > len(data)) {
					t.Fatalf("%q: group %d [%d,%d] out of range", pat, g, gs, ge)
				}
			}
		} else if s.LimitHit() && st != -1 {
			t.Fatalf("limit hit but a position was returned")
		}
		// Deterministic: the same call gives the same answer.
		st2, en2, ok2 := re.Find(data, fr, s)
		if st2 != st || en2 != en || ok2 != ok {
			t.Fatalf("%q: second Find gave [%d,%d] %v, first [%d,%d] %v", pat, st2, en2, ok2, st, en, ok)
		}
	})
}
