package flow

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

func randKey(r *rand.Rand) Key {
	var k Key
	if r.IntN(4) == 0 {
		k.Family = Family6
		for i := range k.Src {
			k.Src[i] = byte(r.Uint32())
			k.Dst[i] = byte(r.Uint32())
		}
	} else {
		k.Family = Family4
		k.Src[10], k.Src[11], k.Dst[10], k.Dst[11] = 0xff, 0xff, 0xff, 0xff
		a, b := r.Uint32(), r.Uint32()
		k.Src[12], k.Src[13], k.Src[14], k.Src[15] = byte(a>>24), byte(a>>16), byte(a>>8), byte(a)
		k.Dst[12], k.Dst[13], k.Dst[14], k.Dst[15] = byte(b>>24), byte(b>>16), byte(b>>8), byte(b)
	}
	k.SrcPort, k.DstPort = uint16(r.Uint32()), uint16(r.Uint32())
	k.Proto = []uint8{packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP, packet.ProtoSCTP}[r.IntN(4)]
	if r.IntN(8) == 0 {
		k.VLAN[0] = uint16(r.IntN(4096))
	}
	return k
}

func TestHashSymmetric(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		k := randKey(r)
		if i%3 == 0 {
			k.Dst = k.Src // same address both sides: ports decide the order
		}
		rev := k.Reverse()
		seed := r.Uint64()
		if Hash(&k) != Hash(&rev) || HashSeed(&k, seed) != HashSeed(&rev, seed) {
			t.Fatalf("hash of %+v differs from its reverse", k)
		}
	}
}

func TestHashFromPacketsSymmetric(t *testing.T) {
	a := pkt("192.0.2.1", "198.51.100.7", packet.ProtoTCP, 51000, 443)
	b := pkt("198.51.100.7", "192.0.2.1", packet.ProtoTCP, 443, 51000)
	ka, ok1 := KeyFromPacket(a)
	kb, ok2 := KeyFromPacket(b)
	if !ok1 || !ok2 || Hash(&ka) != Hash(&kb) {
		t.Fatalf("ok %v %v hashes %#x %#x", ok1, ok2, Hash(&ka), Hash(&kb))
	}
	if ka != kb.Reverse() {
		t.Errorf("keys %+v and %+v are not reverses", ka, kb)
	}
}

// chiSquare hashes n keys from gen into m buckets and returns the chi-square
// statistic of the bucket counts against a uniform distribution, and the
// largest bucket.
func chiSquare(n, m int, gen func(i int) Key, seed uint64) (float64, int) {
	counts := make([]int, m)
	for i := 0; i < n; i++ {
		k := gen(i)
		counts[HashSeed(&k, seed)&uint32(m-1)]++
	}
	e := float64(n) / float64(m)
	var chi float64
	maxc := 0
	for _, c := range counts {
		d := float64(c) - e
		chi += d * d / e
		if c > maxc {
			maxc = c
		}
	}
	return chi, maxc
}

func TestHashDistribution(t *testing.T) {
	const n, m = 1 << 20, 1 << 16
	dof := float64(m - 1)
	bound := 6 * math.Sqrt(2*dof) // six standard deviations
	r := rand.New(rand.NewPCG(3, 4))
	keys := map[string]func(i int) Key{
		"random": func(int) Key { return randKey(r) },
		// One client scanning ports of one server.
		"ports": func(i int) Key {
			k := randKeyFixed()
			k.SrcPort, k.DstPort = uint16(i), uint16(i>>16)+80
			return k
		},
		// Sequential clients of one service.
		"hosts": func(i int) Key {
			k := randKeyFixed()
			k.Src[13], k.Src[14], k.Src[15] = byte(i>>16), byte(i>>8), byte(i)
			k.SrcPort = 40000
			return k
		},
	}
	for name, gen := range keys {
		for _, seed := range []uint64{DefaultSeed, 0, 1, 0xdeadbeef} {
			chi, maxc := chiSquare(n, m, gen, seed)
			t.Logf("%s seed %#x: chi-square %.0f (dof %.0f, bound ±%.0f), max bucket %d (mean %d)", name, seed, chi, dof, bound, maxc, n/m)
			if math.Abs(chi-dof) > bound {
				t.Errorf("%s seed %#x: chi-square %.0f, want %.0f ± %.0f", name, seed, chi, dof, bound)
			}
			if maxc > 4*n/m {
				t.Errorf("%s seed %#x: a bucket got %d keys (mean %d)", name, seed, maxc, n/m)
			}
		}
	}
}

func randKeyFixed() Key {
	k := Key{Family: Family4, Proto: packet.ProtoTCP}
	k.Src = [16]byte{10: 0xff, 11: 0xff, 12: 10, 13: 0, 14: 0, 15: 1}
	k.Dst = [16]byte{10: 0xff, 11: 0xff, 12: 10, 13: 0, 14: 0, 15: 2}
	return k
}

// TestHashAvalanche: flipping any one input bit flips about half of the 32
// output bits.
func TestHashAvalanche(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const trials = 2000
	var total, n float64
	worst := 32.0
	flip := func(k *Key, bit int) {
		switch {
		case bit < 128:
			k.Src[bit/8] ^= 1 << (bit % 8)
		case bit < 256:
			k.Dst[(bit-128)/8] ^= 1 << (bit % 8)
		case bit < 272:
			k.SrcPort ^= 1 << (bit - 256)
		case bit < 288:
			k.DstPort ^= 1 << (bit - 272)
		case bit < 300:
			k.VLAN[0] ^= 1 << (bit - 288)
		default:
			k.Proto ^= 1 << (bit - 300)
		}
	}
	for bit := 0; bit < 308; bit++ {
		var sum float64
		for i := 0; i < trials; i++ {
			k := randKey(r)
			k.Family = Family6
			h1 := HashSeed(&k, 99)
			flip(&k, bit)
			h2 := HashSeed(&k, 99)
			sum += float64(bits.OnesCount32(h1 ^ h2))
		}
		avg := sum / trials
		total += avg
		n++
		worst = math.Min(worst, avg)
		if avg < 14 || avg > 18 {
			t.Errorf("input bit %d flips %.2f output bits on average, want about 16", bit, avg)
		}
	}
	t.Logf("avalanche: mean %.2f bits, weakest input bit %.2f", total/n, worst)
}

func TestHashSeedMatters(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	same := 0
	for i := 0; i < 10000; i++ {
		k := randKey(r)
		if HashSeed(&k, 1) == HashSeed(&k, 2) {
			same++
		}
	}
	if same > 2 {
		t.Errorf("%d of 10000 keys hash alike under two seeds", same)
	}
	tb := newTable(t, Config{Seed: 77})
	p := pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1, 2)
	tb.Lookup(p)
	k, _ := KeyFromPacket(p)
	if p.FlowHash != HashSeed(&k, 77) {
		t.Errorf("FlowHash %#x, HashSeed %#x", p.FlowHash, HashSeed(&k, 77))
	}
}

func BenchmarkHash(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	keys := make([]Key, 1024)
	for i := range keys {
		keys[i] = randKey(r)
	}
	b.ReportAllocs()
	var sink uint32
	for i := 0; b.Loop(); i++ {
		sink += HashSeed(&keys[i&1023], 42)
	}
	_ = sink
}
