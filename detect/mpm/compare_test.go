package mpm

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	cfac "github.com/cloudflare/ahocorasick"
	pdac "github.com/petar-dambovaliev/aho-corasick"
)

// Side-by-side comparison of multi-pattern matchers on the ET Open content
// set over the TCP/UDP payloads of the shared pcaps:
//
//	go test [-tags hyperscan] -run '^$' -bench Compare -benchmem ./detect/mpm
//
// Every engine computes the same thing as Matcher.Scan: the IDs of the
// patterns that occur in the payload, each once, honouring per-pattern
// nocase. TestCompareAgree checks that they do. The Go libraries have no
// per-pattern case mode, so their adapters do the extra work that needs, and
// that work is timed:
//
//   - cloudflare/ahocorasick is case-sensitive only and Match reports each
//     matching dictionary index once (no positions). The adapter compiles
//     the distinct case-folded strings, folds each payload into a buffer
//     before matching, and confirms a case-sensitive pattern whose folded
//     string matched with bytes.Contains on the original payload.
//   - petar-dambovaliev/aho-corasick has a global AsciiCaseInsensitive
//     option and reports every occurrence with its position (standard match
//     kind, overlapping iterator, DFA). The adapter compiles the distinct
//     folded strings case-insensitively, so payloads need no folding, and
//     checks a case-sensitive pattern's exact bytes at the match position.
//
// Both adapters deduplicate with a generation stamp per group, like Scratch.

// cmpSet is a pattern set prepared for the library adapters: the distinct
// folded strings, and for each the groups (case mode + ids) that share it.
type cmpSet struct {
	dict      [][]byte
	dictGroup [][]int // dict index -> groups
	exact     [][]byte
	ids       [][]uint32
}

func newCmpSet(pats []Pattern) (*cmpSet, error) {
	groups, err := groupPatterns(pats)
	if err != nil {
		return nil, err
	}
	cs := &cmpSet{}
	idx := map[string]int{}
	for g, gr := range groups {
		k, ok := idx[string(gr.folded)]
		if !ok {
			k = len(cs.dict)
			idx[string(gr.folded)] = k
			cs.dict = append(cs.dict, gr.folded)
			cs.dictGroup = append(cs.dictGroup, nil)
		}
		cs.dictGroup[k] = append(cs.dictGroup[k], g)
		cs.exact = append(cs.exact, gr.exact)
		cs.ids = append(cs.ids, gr.ids)
	}
	return cs, nil
}

// cmpScratch deduplicates group reports within one scan.
type cmpScratch struct {
	stamp []uint32
	gen   uint32
	out   []uint32
	buf   []byte
}

func (cs *cmpSet) newScratch() *cmpScratch {
	return &cmpScratch{stamp: make([]uint32, len(cs.exact))}
}

func (s *cmpScratch) begin() {
	s.out = s.out[:0]
	s.gen++
	if s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
}

var foldTable = func() (t [256]byte) {
	for i := range t {
		t[i] = fold(byte(i))
	}
	return
}()

// cmpEngine builds a scan function for a pattern set. The function returns
// the matching IDs (owned by the engine until its next call).
type cmpEngine struct {
	name  string
	build func(pats []Pattern) (func([]byte) []uint32, error)
}

var cmpEngines = []cmpEngine{
	{"ours", func(pats []Pattern) (func([]byte) []uint32, error) {
		m, err := Compile(pats)
		if err != nil {
			return nil, err
		}
		s := m.NewScratch()
		return func(d []byte) []uint32 { return m.Scan(d, s) }, nil
	}},
	{"cloudflare", func(pats []Pattern) (func([]byte) []uint32, error) {
		cs, err := newCmpSet(pats)
		if err != nil {
			return nil, err
		}
		m := cfac.NewMatcher(cs.dict)
		s := cs.newScratch()
		return func(d []byte) []uint32 {
			s.begin()
			s.buf = s.buf[:0]
			for _, c := range d {
				s.buf = append(s.buf, foldTable[c])
			}
			for _, k := range m.Match(s.buf) {
				for _, g := range cs.dictGroup[k] {
					if ex := cs.exact[g]; ex == nil || bytes.Contains(d, ex) {
						s.out = append(s.out, cs.ids[g]...)
					}
				}
			}
			return s.out
		}, nil
	}},
	{"petar", func(pats []Pattern) (func([]byte) []uint32, error) {
		cs, err := newCmpSet(pats)
		if err != nil {
			return nil, err
		}
		b := pdac.NewAhoCorasickBuilder(pdac.Opts{AsciiCaseInsensitive: true, MatchKind: pdac.StandardMatch, DFA: true})
		ac := b.BuildByte(cs.dict)
		s := cs.newScratch()
		return func(d []byte) []uint32 {
			s.begin()
			it := ac.IterOverlappingByte(d)
			for mt := it.Next(); mt != nil; mt = it.Next() {
				for _, g := range cs.dictGroup[mt.Pattern()] {
					if s.stamp[g] == s.gen {
						continue
					}
					if ex := cs.exact[g]; ex != nil && !bytes.Equal(d[mt.Start():mt.End()], ex) {
						continue
					}
					s.stamp[g] = s.gen
					s.out = append(s.out, cs.ids[g]...)
				}
			}
			return s.out
		}, nil
	}},
}

type cmpCorpus struct {
	name string
	pats func() []Pattern
}

var cmpCorpora = []cmpCorpus{
	{"etopen-fast", func() []Pattern { return etFast }},
	{"etopen-all", func() []Pattern { return etAll }},
}

// cmpBuilt caches the last built engine so the repeated calls of one
// sub-benchmark (b.N ramp-up) do not rebuild it; only one is kept because
// cloudflare's automaton takes gigabytes.
var cmpBuilt struct {
	key  string
	scan func([]byte) []uint32
}

func cmpGet(tb testing.TB, e cmpEngine, c cmpCorpus) func([]byte) []uint32 {
	key := e.name + "/" + c.name
	if cmpBuilt.key == key {
		return cmpBuilt.scan
	}
	cmpBuilt.key, cmpBuilt.scan = "", nil
	scan, err := e.build(c.pats())
	if err != nil {
		tb.Fatalf("%s: %v", key, err)
	}
	cmpBuilt.key, cmpBuilt.scan = key, scan
	return scan
}

func BenchmarkCompare(b *testing.B) {
	loadETOpen(b)
	for _, e := range cmpEngines {
		b.Run(e.name, func(b *testing.B) {
			for _, c := range cmpCorpora {
				b.Run(c.name, func(b *testing.B) {
					scan := cmpGet(b, e, c)
					b.SetBytes(etBytes)
					b.ReportAllocs()
					hits := 0
					for b.Loop() {
						for _, p := range etPayloads {
							hits += len(scan(p))
						}
					}
					b.ReportMetric(float64(hits)/float64(b.N)/float64(len(etPayloads)), "hits/payload")
				})
			}
		})
	}
}

// TestCompareAgree checks that every engine in the comparison reports the
// same IDs as ours on a sample of the real payloads, so the benchmark
// compares equal work.
func TestCompareAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("short: builds every engine on the full ET Open set")
	}
	loadETOpen(t)
	// Subsets keep the test affordable, smaller under -race (which slows
	// the library builds tenfold); the benchmark uses the full sets.
	patStep, payStep := 4, 7
	if raceOn {
		patStep, payStep = 16, 29
	}
	var sample [][]byte
	for i := 0; i < len(etPayloads); i += payStep {
		sample = append(sample, etPayloads[i])
	}
	for _, c := range cmpCorpora {
		var sub []Pattern
		for i, p := range c.pats() {
			if i%patStep == 0 {
				sub = append(sub, p)
			}
		}
		c := cmpCorpus{fmt.Sprintf("%s-sub%d", c.name, patStep), func() []Pattern { return sub }}
		ref := cmpGet(t, cmpEngines[0], c)
		want := make([][]uint32, len(sample))
		total := 0
		for i, p := range sample {
			want[i] = slices.Sorted(slices.Values(ref(p)))
			total += len(want[i])
		}
		if total == 0 {
			t.Fatalf("%s: no pattern matched any sampled payload", c.name)
		}
		for _, e := range cmpEngines[1:] {
			scan := cmpGet(t, e, c)
			for i, p := range sample {
				if got := slices.Sorted(slices.Values(scan(p))); !slices.Equal(got, want[i]) {
					t.Fatalf("%s/%s payload %d: got %v, ours %v", e.name, c.name, i, got, want[i])
				}
			}
		}
	}
	cmpBuilt.key, cmpBuilt.scan = "", nil
}
