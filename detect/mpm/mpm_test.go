package mpm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// naive is the reference: for each pattern, is it anywhere in data?
func naive(patterns []Pattern, data []byte) []uint32 {
	var out []uint32
	fd := foldBytes(data)
	for _, p := range patterns {
		var found bool
		if p.NoCase {
			found = bytes.Contains(fd, foldBytes(p.Bytes))
		} else {
			found = bytes.Contains(data, p.Bytes)
		}
		if found {
			out = append(out, p.ID)
		}
	}
	slices.Sort(out)
	return out
}

// naiveAll is the reference for ScanFunc: every (id, end) occurrence.
func naiveAll(patterns []Pattern, data []byte) []string {
	var out []string
	fd := foldBytes(data)
	for _, p := range patterns {
		hay, needle := data, p.Bytes
		if p.NoCase {
			hay, needle = fd, foldBytes(p.Bytes)
		}
		for i := 0; i+len(needle) <= len(hay); i++ {
			if bytes.Equal(hay[i:i+len(needle)], needle) {
				out = append(out, fmt.Sprintf("%d@%d", p.ID, i+len(needle)))
			}
		}
	}
	slices.Sort(out)
	return out
}

func scanSorted(m *Matcher, data []byte, s *Scratch) []uint32 {
	got := slices.Clone(m.Scan(data, s))
	slices.Sort(got)
	return got
}

func scanFuncAll(m *Matcher, data []byte) []string {
	var out []string
	last := 0
	m.ScanFunc(data, func(id uint32, end int) bool {
		if end < last {
			panic("ScanFunc ends not in order")
		}
		last = end
		out = append(out, fmt.Sprintf("%d@%d", id, end))
		return true
	})
	slices.Sort(out)
	return out
}

// check compares Scan and ScanFunc with the references and reports the
// first difference.
func check(t testing.TB, patterns []Pattern, m *Matcher, s *Scratch, data []byte) {
	t.Helper()
	want := naive(patterns, data)
	got := scanSorted(m, data, s)
	if !slices.Equal(got, want) {
		t.Fatalf("Scan mismatch\npatterns=%s\ndata=%q\ngot  %v\nwant %v", fmtPats(patterns), data, got, want)
	}
	if seen := map[uint32]bool{}; true {
		for _, id := range got {
			if seen[id] {
				t.Fatalf("id %d reported twice", id)
			}
			seen[id] = true
		}
	}
	wantAll := naiveAll(patterns, data)
	gotAll := scanFuncAll(m, data)
	if !slices.Equal(gotAll, wantAll) {
		t.Fatalf("ScanFunc mismatch\npatterns=%s\ndata=%q\ngot  %v\nwant %v", fmtPats(patterns), data, gotAll, wantAll)
	}
}

func fmtPats(ps []Pattern) string {
	var b bytes.Buffer
	for _, p := range ps {
		fmt.Fprintf(&b, "{%d %q nocase=%v} ", p.ID, p.Bytes, p.NoCase)
	}
	return b.String()
}

func TestBasic(t *testing.T) {
	pats := []Pattern{
		{ID: 1, Bytes: []byte("he")},
		{ID: 2, Bytes: []byte("she")},
		{ID: 3, Bytes: []byte("his")},
		{ID: 4, Bytes: []byte("hers")},
		{ID: 5, Bytes: []byte("HERS"), NoCase: true},
		{ID: 6, Bytes: []byte("HERS")},
		{ID: 700000, Bytes: []byte("hers")}, // same bytes and mode as 4
		{ID: 8, Bytes: []byte{0, 0xff, 'x'}},
		{ID: 9, Bytes: []byte("x")},
	}
	m, err := Compile(pats)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != len(pats) {
		t.Fatalf("Len = %d", m.Len())
	}
	s := m.NewScratch()
	for _, d := range []string{"", "ushers", "USHERS", "uShErS", "hi\x00\xffx", "his hers HERS", "h", "zzzz", "x"} {
		check(t, pats, m, s, []byte(d))
	}
	got := scanSorted(m, []byte("ushers"), s)
	if want := []uint32{1, 2, 4, 5, 700000}; !slices.Equal(got, want) {
		t.Fatalf("ushers: got %v want %v", got, want)
	}
	got = scanSorted(m, []byte("USHERS"), s)
	if want := []uint32{5, 6}; !slices.Equal(got, want) {
		t.Fatalf("USHERS: got %v want %v", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	if _, err := Compile([]Pattern{{ID: 1, Bytes: []byte("a")}, {ID: 2}}); !errors.Is(err, ErrEmptyPattern) {
		t.Fatalf("empty pattern: err = %v", err)
	}
	_, err := Compile([]Pattern{{ID: 1, Bytes: []byte("a")}, {ID: 1, Bytes: []byte("b")}})
	if !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("duplicate id: err = %v", err)
	}
	m, err := Compile(nil)
	if err != nil {
		t.Fatalf("empty set: %v", err)
	}
	if got := m.Scan([]byte("anything"), m.NewScratch()); len(got) != 0 {
		t.Fatalf("empty set matched %v", got)
	}
	m.ScanFunc([]byte("anything"), func(uint32, int) bool { t.Fatal("empty set reported"); return false })
}

func TestSingle(t *testing.T) {
	for _, pats := range [][]Pattern{
		{{ID: 3, Bytes: []byte("abab")}},
		{{ID: 3, Bytes: []byte("abab")}, {ID: 4, Bytes: []byte("abab")}},
		{{ID: 3, Bytes: []byte("AbAb"), NoCase: true}},
		{{ID: 3, Bytes: []byte("a")}},
	} {
		m, err := Compile(pats)
		if err != nil {
			t.Fatal(err)
		}
		s := m.NewScratch()
		for _, d := range []string{"", "a", "aba", "abab", "ababab", "xxABABxx", "zabazababz"} {
			check(t, pats, m, s, []byte(d))
		}
	}
}

func TestScanFuncStop(t *testing.T) {
	pats := []Pattern{{ID: 1, Bytes: []byte("a")}, {ID: 2, Bytes: []byte("b")}}
	m, _ := Compile(pats)
	n := 0
	m.ScanFunc([]byte("ababab"), func(uint32, int) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("ScanFunc called %d times after stop, want 3", n)
	}
}

// randSet makes patterns over a small alphabet so they overlap, share
// prefixes and suffixes, and come in case twins.
func randSet(r *rand.Rand, n int, alpha []byte, maxLen int) []Pattern {
	pats := make([]Pattern, 0, n)
	ids := r.Perm(n * 10)
	for i := 0; i < n; i++ {
		var b []byte
		switch {
		case i > 0 && r.IntN(4) == 0: // derived from an earlier pattern
			src := pats[r.IntN(len(pats))].Bytes
			lo := r.IntN(len(src))
			hi := lo + 1 + r.IntN(len(src)-lo)
			b = slices.Clone(src[lo:hi])
			if r.IntN(2) == 0 {
				b = append(b, alpha[r.IntN(len(alpha))])
			}
		case i > 0 && r.IntN(5) == 0: // case twin
			b = slices.Clone(pats[r.IntN(len(pats))].Bytes)
			for j := range b {
				if r.IntN(2) == 0 && b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
		default:
			b = make([]byte, 1+r.IntN(maxLen))
			for j := range b {
				b[j] = alpha[r.IntN(len(alpha))]
			}
		}
		pats = append(pats, Pattern{ID: uint32(ids[i]) * 977, Bytes: b, NoCase: r.IntN(2) == 0})
	}
	return pats
}

func randData(r *rand.Rand, pats []Pattern, alpha []byte, n int) []byte {
	d := make([]byte, 0, n)
	for len(d) < n {
		if len(pats) > 0 && r.IntN(6) == 0 {
			p := pats[r.IntN(len(pats))].Bytes
			for _, c := range p {
				if r.IntN(3) == 0 && c >= 'a' && c <= 'z' {
					c -= 'a' - 'A'
				}
				d = append(d, c)
			}
			continue
		}
		d = append(d, alpha[r.IntN(len(alpha))])
	}
	return d[:n]
}

func TestRandomSets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphas := [][]byte{
		[]byte("ab"),
		[]byte("abcAB"),
		[]byte("abcdefghijXYZ0\x00\xff"),
	}
	var bin []byte
	for i := 0; i < 256; i++ {
		bin = append(bin, byte(i))
	}
	alphas = append(alphas, bin)
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	nSkip := 0
	defer func() {
		// Both scan loops must have been exercised.
		if nSkip == 0 {
			t.Errorf("skip filter used in %d of %d sets", nSkip, iters)
		}
	}()
	for it := 0; it < iters; it++ {
		alpha := alphas[it%len(alphas)]
		pats := randSet(r, 1+r.IntN(40), alpha, 1+r.IntN(12))
		m, err := Compile(pats)
		if err != nil {
			t.Fatal(err)
		}
		s := m.NewScratch()
		skipped := m.useSkip
		for k := 0; k < 8; k++ {
			d := randData(r, pats, alpha, r.IntN(64))
			check(t, pats, m, s, d)
			if skipped {
				// The same data without the skip filter.
				m.useSkip = false
				check(t, pats, m, s, d)
				m.useSkip = true
			}
		}
		if skipped {
			nSkip++
		}
	}
}

// TestSparseStates forces the dense/sparse split with a tiny budget so the
// sparse path (edges plus failure links) is covered by the reference test.
func TestSparseStates(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alpha := []byte("abcABC\x00")
	for it := 0; it < 1000; it++ {
		pats := randSet(r, 1+r.IntN(30), alpha, 1+r.IntN(10))
		m, err := compileBudget(pats, 1+r.IntN(8))
		if err != nil {
			t.Fatal(err)
		}
		s := m.NewScratch()
		for k := 0; k < 8; k++ {
			check(t, pats, m, s, randData(r, pats, alpha, r.IntN(80)))
		}
	}
}

func TestScratchReuseAcrossMatchers(t *testing.T) {
	small, _ := Compile([]Pattern{{ID: 1, Bytes: []byte("a")}, {ID: 2, Bytes: []byte("b")}})
	var pats []Pattern
	for i := 0; i < 100; i++ {
		pats = append(pats, Pattern{ID: uint32(i), Bytes: []byte(fmt.Sprintf("p%03d", i))})
	}
	big, _ := Compile(pats)
	s := small.NewScratch()
	check(t, pats, big, s, []byte("p001p050p099xx"))
	got := scanSorted(small, []byte("ab"), s)
	if !slices.Equal(got, []uint32{1, 2}) {
		t.Fatalf("got %v", got)
	}
}

func TestGenerationWrap(t *testing.T) {
	pats := []Pattern{{ID: 1, Bytes: []byte("ab")}, {ID: 2, Bytes: []byte("cd")}}
	m, _ := Compile(pats)
	s := m.NewScratch()
	s.gen = ^uint32(0) - 2
	for i := 0; i < 6; i++ {
		check(t, pats, m, s, []byte("xxabcd"))
		check(t, pats, m, s, []byte("cd"))
	}
}

func TestScanAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pats := randSet(r, 200, []byte("abcdefgh"), 8)
	m, err := Compile(pats)
	if err != nil {
		t.Fatal(err)
	}
	single, _ := Compile(pats[:1])
	data := randData(r, pats, []byte("abcdefgh"), 4096)
	s := m.NewScratch()
	s1 := single.NewScratch()
	if n := testing.AllocsPerRun(100, func() {
		m.Scan(data, s)
		single.Scan(data, s1)
	}); n != 0 {
		t.Fatalf("Scan allocates %v per run", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		m.ScanFunc(data, func(uint32, int) bool { return true })
	}); n != 0 {
		t.Fatalf("ScanFunc allocates %v per run", n)
	}
}

func compileBudget(pats []Pattern, maxDense int) (*Matcher, error) { return compile(pats, maxDense) }

// TestNoSkipFilter covers a set whose start pairs are too dense for the skip
// filter (many 1-byte patterns).
func TestNoSkipFilter(t *testing.T) {
	var pats []Pattern
	for i := 0; i < 120; i++ {
		pats = append(pats, Pattern{ID: uint32(i), Bytes: []byte{byte(i * 2)}, NoCase: i%3 == 0})
	}
	pats = append(pats, Pattern{ID: 1000, Bytes: []byte("\x02\x04\x06")}, Pattern{ID: 1001, Bytes: []byte("ab"), NoCase: true})
	m, err := Compile(pats)
	if err != nil {
		t.Fatal(err)
	}
	if m.useSkip {
		t.Fatal("skip filter enabled for a dense set")
	}
	r := rand.New(rand.NewPCG(9, 9))
	s := m.NewScratch()
	for k := 0; k < 200; k++ {
		d := make([]byte, r.IntN(40))
		for j := range d {
			d[j] = byte(r.IntN(256))
		}
		check(t, pats, m, s, d)
	}
	check(t, pats, m, s, []byte("xx\x02\x04\x06AB"))
}
