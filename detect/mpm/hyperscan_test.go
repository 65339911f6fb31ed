//go:build hyperscan

package mpm

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func hsScanSorted(m *HSMatcher, data []byte, s *HSScratch) []uint32 {
	got := slices.Clone(m.Scan(data, s))
	slices.Sort(got)
	return got
}

func hsCheck(t testing.TB, pats []Pattern, m *HSMatcher, s *HSScratch, data []byte) {
	t.Helper()
	want := naive(pats, data)
	got := hsScanSorted(m, data, s)
	if !slices.Equal(got, want) {
		t.Fatalf("hyperscan Scan mismatch\npatterns=%s\ndata=%q\ngot  %v\nwant %v", fmtPats(pats), data, got, want)
	}
}

func TestHyperscanBasic(t *testing.T) {
	pats := []Pattern{
		{ID: 1, Bytes: []byte("he")},
		{ID: 2, Bytes: []byte("she")},
		{ID: 3, Bytes: []byte("HIS"), NoCase: true},
		{ID: 4, Bytes: []byte("hers")},
		{ID: 5, Bytes: []byte("he")}, // same group as 1
		{ID: 6, Bytes: []byte("\x00\xff|\\(")},
		{ID: 7, Bytes: []byte("Hers")}, // case-sensitive: must not match "hers"
	}
	m, err := CompileHyperscan(pats)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Len() != len(pats) || m.MemBytes() <= 0 {
		t.Fatalf("Len %d MemBytes %d", m.Len(), m.MemBytes())
	}
	s, err := m.NewScratch()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, d := range []string{"", "ushers", "hIs", "x\x00\xff|\\(y", "HERS", "nothing here", "shehishershe"} {
		hsCheck(t, pats, m, s, []byte(d))
	}
	if got := hsScanSorted(m, []byte("ushers"), s); !slices.Equal(got, []uint32{1, 2, 4, 5}) {
		t.Fatalf("ushers: got %v", got)
	}
}

func TestHyperscanErrorsAndEmpty(t *testing.T) {
	if _, err := CompileHyperscan([]Pattern{{ID: 1, Bytes: nil}}); !errors.Is(err, ErrEmptyPattern) {
		t.Fatalf("empty pattern: %v", err)
	}
	if _, err := CompileHyperscan([]Pattern{{ID: 1, Bytes: []byte("a")}, {ID: 1, Bytes: []byte("b")}}); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("duplicate id: %v", err)
	}
	m, err := CompileHyperscan(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewScratch()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Scan([]byte("abc"), s); len(got) != 0 {
		t.Fatalf("empty set matched %v", got)
	}
	m.Close()
	if _, err := m.NewScratch(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("NewScratch after Close: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Scan on a closed matcher did not panic")
		}
	}()
	m.Scan([]byte("abc"), s)
}

func TestHyperscanRandomSets(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphas := [][]byte{[]byte("ab"), []byte("abcAB"), []byte("abcdefghijXYZ0\x00\xff")}
	var bin []byte
	for i := 0; i < 256; i++ {
		bin = append(bin, byte(i))
	}
	alphas = append(alphas, bin)
	iters := 400
	if testing.Short() {
		iters = 50
	}
	for it := 0; it < iters; it++ {
		alpha := alphas[it%len(alphas)]
		pats := randSet(r, 1+r.IntN(40), alpha, 1+r.IntN(12))
		m, err := CompileHyperscan(pats)
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.NewScratch()
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 8; k++ {
			hsCheck(t, pats, m, s, randData(r, pats, alpha, r.IntN(64)))
		}
		s.Close()
		m.Close()
	}
}

// TestHyperscanETOpen checks that Hyperscan and our matcher agree on the
// real rule set and payloads.
func TestHyperscanETOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	loadETOpen(t)
	for _, set := range []struct {
		name string
		pats []Pattern
	}{{"fast", etFast}, {"all", etAll}} {
		hm, err := CompileHyperscan(set.pats)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Compile(set.pats)
		if err != nil {
			t.Fatal(err)
		}
		hs, _ := hm.NewScratch()
		s := m.NewScratch()
		for i, p := range etPayloads {
			if got, want := hsScanSorted(hm, p, hs), scanSorted(m, p, s); !slices.Equal(got, want) {
				t.Fatalf("%s payload %d: hyperscan %v, ours %v", set.name, i, got, want)
			}
		}
		hm.Close()
	}
}

func TestHyperscanScanAllocs(t *testing.T) {
	_, data := synthetic(100)
	pats, _ := synthetic(100)
	m, err := CompileHyperscan(pats)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := m.NewScratch()
	if len(m.Scan(data, s)) == 0 {
		t.Fatal("synthetic data should match")
	}
	if a := testing.AllocsPerRun(100, func() { m.Scan(data, s) }); a != 0 {
		t.Fatalf("Scan allocates %v times per run", a)
	}
	runtime.KeepAlive(m)
}

func BenchmarkHyperscanETOpenFast(b *testing.B) {
	loadETOpen(b)
	m, err := CompileHyperscan(etFast)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := m.NewScratch()
	b.SetBytes(etBytes)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range etPayloads {
			m.Scan(p, s)
		}
	}
}

// FuzzHyperscan checks HSMatcher against the reference and against Matcher
// on fuzzer-chosen pattern sets and data (the pattern encoding is
// FuzzMatcher's).
func FuzzHyperscan(f *testing.F) {
	f.Add([]byte("\x01he\x02she\x12HIS\x03hers"), []byte("ushers HIS"))
	f.Add([]byte("\x00a\x10A\x01ab\x11AB\x02abc"), []byte("xAbCabcaB"))
	f.Add([]byte("\x02\x00\xff\x00\x12\x00\xff\x00\x00\x00"), []byte("\x00\xff\x00\x00\x00\xff"))
	f.Add([]byte("\x03GET \x13get \x09User-Agent"), []byte("GET /x HTTP/1.1\r\nuser-agent: y\r\n"))
	f.Add([]byte("\x02a\\(\x12.*?\x01$^"), []byte("xa\\(.*?$^"))
	f.Fuzz(func(t *testing.T, spec, data []byte) {
		pats := fuzzPatterns(spec)
		hm, err := CompileHyperscan(pats)
		if err != nil {
			t.Fatal(err)
		}
		defer hm.Close()
		hs, err := hm.NewScratch()
		if err != nil {
			t.Fatal(err)
		}
		defer hs.Close()
		hsCheck(t, pats, hm, hs, data)
		m, err := Compile(pats)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := hsScanSorted(hm, data, hs), scanSorted(m, data, m.NewScratch()); !slices.Equal(got, want) {
			t.Fatalf("hyperscan %v, ours %v", got, want)
		}
	})
}
