package gen

import "math/bits"

// rng is a small deterministic pseudo-random generator (SplitMix64). Its
// sequence depends only on the seed, never on the Go version, so a scenario
// and a seed give the same bytes everywhere.
type rng struct{ s uint64 }

// mix64 is SplitMix64's output function: a strong 64-bit mixer.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func newRNG(seed uint64) rng { return rng{s: mix64(seed + 0x9e3779b97f4a7c15)} }

func (r *rng) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

func (r *rng) u32() uint32 { return uint32(r.u64() >> 32) }

// intn returns a value in [0, n); 0 when n <= 0. It scales a 64-bit
// draw by multiplication (Lemire) rather than dividing; the bias is below
// n/2^64.
func (r *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// between returns a value in [lo, hi] (lo when hi <= lo).
func (r *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.intn(hi-lo+1)
}

// float returns a value in [0, 1).
func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

// Filler tables: generated bodies (HTTP text, encrypted-looking TLS
// records, bulk data) are read from these at a per-message offset, so a
// body of any size costs no memory and no allocation.
const (
	tableBits = 16
	tableSize = 1 << tableBits
	tableMask = tableSize - 1
)

var (
	randTable [tableSize]byte // uniformly random bytes
	textTable [tableSize]byte // lowercase HTML-like text
)

// words feed host names, paths and body text. All lowercase ASCII letters,
// so no generated name or text contains a planted marker that has an
// uppercase letter or a digit.
var words = [...]string{
	"alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo", "jasper",
	"kernel", "lumen", "meadow", "nectar", "orbit", "pebble", "quartz", "raven", "summit", "timber",
	"umber", "velvet", "willow", "xenon", "yonder", "zephyr", "amber", "basalt", "cobalt", "dune",
	"estuary", "falcon", "garnet", "heron", "island", "juniper", "kestrel", "lagoon", "marble", "nimbus",
	"ocean", "prairie", "quill", "ridge", "sierra", "tundra", "upland", "valley", "wander", "yarrow",
	"news", "shop", "mail", "docs", "media", "static", "api", "blog", "cdn", "login",
}

var tlds = [...]string{"example.com", "example.net", "example.org", "test.example"}

var userAgents = [...]string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	"curl/8.5.0",
	"Wget/1.21.3",
}

func init() {
	r := newRNG(0x5649474c) // "VIGL"
	for i := 0; i < tableSize; i += 8 {
		v := r.u64()
		for j := 0; j < 8; j++ {
			randTable[i+j] = byte(v >> (8 * j))
		}
	}
	// Text: paragraphs of words.
	i := 0
	put := func(s string) {
		for k := 0; k < len(s) && i < tableSize; k++ {
			textTable[i] = s[k]
			i++
		}
	}
	for i < tableSize {
		put("<p>")
		n := 8 + r.intn(24)
		for w := 0; w < n; w++ {
			if w > 0 {
				put(" ")
			}
			put(words[r.intn(len(words))])
		}
		put(".</p>\n")
	}
}

// fillFrom copies len(dst) bytes of table t starting at offset off
// (wrapping around).
func fillFrom(dst []byte, t *[tableSize]byte, off uint32) {
	o := int(off & tableMask)
	for len(dst) > 0 {
		n := copy(dst, t[o:])
		dst = dst[n:]
		o = 0
	}
}
