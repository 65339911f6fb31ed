package flow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// distinctPackets returns n packets of n distinct TCP/UDP connections (IPv4
// and IPv6), as the decoder would leave them.
func distinctPackets(n int, seed uint64) []packet.Packet {
	r := rand.New(rand.NewPCG(seed, seed))
	ps := make([]packet.Packet, n)
	for i := range ps {
		p := &ps[i]
		p.Data = make([]byte, 100)
		if i%4 == 3 {
			var a, b [16]byte
			a[0], b[0] = 0x20, 0x20
			for j := 1; j < 16; j++ {
				a[j], b[j] = byte(r.Uint32()), byte(r.Uint32())
			}
			a[15], a[14] = byte(i), byte(i>>8)
			p.SrcIP, p.DstIP = netip.AddrFrom16(a), netip.AddrFrom16(b)
			p.Flags = packet.FlagIPv6
		} else {
			p.SrcIP = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			p.DstIP = netip.AddrFrom4([4]byte{192, 168, byte(r.Uint32()), byte(r.Uint32())})
			p.Flags = packet.FlagIPv4
		}
		if i%2 == 0 {
			p.IPProto, p.Flags = packet.ProtoTCP, p.Flags|packet.FlagTCP
			p.TCPFlags = packet.TCPSyn
		} else {
			p.IPProto, p.Flags = packet.ProtoUDP, p.Flags|packet.FlagUDP
		}
		p.SrcPort, p.DstPort = uint16(1024+r.IntN(60000)), 53
	}
	return ps
}

func TestLookupAllocsExisting(t *testing.T) {
	tb := newTable(t, Config{MaxFlows: 1024})
	ps := distinctPackets(512, 1)
	for i := range ps {
		if tb.Lookup(&ps[i]) == nil {
			t.Fatal("refused")
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		p := &ps[i%len(ps)]
		i++
		p.TimeNs += 1000
		if tb.Lookup(p) == nil {
			panic("lost flow")
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup of an existing flow: %v allocs/op", allocs)
	}
	if tb.Stats().Created != 512 {
		t.Fatalf("created %d", tb.Stats().Created)
	}
}

func TestLookupAllocsNewWarm(t *testing.T) {
	const n = 2048
	tb := newTable(t, Config{MaxFlows: n, Prealloc: n})
	ps := distinctPackets(n, 2)
	i := 0
	created := tb.Stats().Created
	allocs := testing.AllocsPerRun(3*n, func() {
		if i == n {
			tb.Flush(nil)
			i = 0
		}
		if tb.Lookup(&ps[i]) == nil {
			panic("refused")
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("Lookup creating a flow from a warm pool: %v allocs/op", allocs)
	}
	if tb.Stats().Created-created < 3*n {
		t.Fatalf("only %d flows created", tb.Stats().Created-created)
	}
	// Expire with timeouts passing, and the emergency reclaim path, do not
	// allocate either.
	now := int64(0)
	allocs = testing.AllocsPerRun(100, func() {
		now += 1000 * sec
		for j := 0; j < 64; j++ {
			ps[j].TimeNs = now
			tb.Lookup(&ps[j])
		}
		tb.Expire(now+700*sec, nil)
	})
	if allocs != 0 {
		t.Fatalf("Expire: %v allocs/op", allocs)
	}
}

func TestPoolGrowsOnlyToCap(t *testing.T) {
	tb := newTable(t, Config{MaxFlows: 3000, Prealloc: 10})
	if got := tb.Stats().Allocated; got != chunkSize {
		t.Fatalf("preallocated %d, want one chunk (%d)", got, chunkSize)
	}
	ps := distinctPackets(3100, 3)
	refused := 0
	for i := range ps {
		if tb.Lookup(&ps[i]) == nil {
			refused++
		}
	}
	st := tb.Stats()
	if st.Allocated != 3000 || st.Active != 3000 || refused != 100 || st.MemcapDrops != 100 {
		t.Fatalf("allocated %d active %d refused %d drops %d", st.Allocated, st.Active, refused, st.MemcapDrops)
	}
	if err := tb.check(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLookupExisting looks up known flows: 1024 flows (cache-resident)
// and 65536 flows (bucket and flow mostly cache misses).
func BenchmarkLookupExisting(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 16} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			tb, err := NewTable(Config{MaxFlows: n, Prealloc: n, HashSize: n, Seed: 9})
			if err != nil {
				b.Fatal(err)
			}
			ps := distinctPackets(n, 4)
			for i := range ps {
				if tb.Lookup(&ps[i]) == nil {
					b.Fatal("refused")
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := &ps[i&(n-1)]
				i++
				if tb.Lookup(p) == nil {
					b.Fatal("lost flow")
				}
			}
		})
	}
}

func BenchmarkLookupNew(b *testing.B) {
	const n = 1 << 16
	tb, err := NewTable(Config{MaxFlows: n, Prealloc: n, HashSize: n, Seed: 9})
	if err != nil {
		b.Fatal(err)
	}
	ps := distinctPackets(n, 5)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == n {
			b.StopTimer()
			tb.Flush(nil)
			i = 0
			b.StartTimer()
		}
		if tb.Lookup(&ps[i]) == nil {
			b.Fatal("refused")
		}
		i++
	}
}

// BenchmarkExpire measures ending flows by timeout (per flow ended).
func BenchmarkExpire(b *testing.B) {
	const n = 1 << 16
	tb, err := NewTable(Config{MaxFlows: n, Prealloc: n, HashSize: n, Seed: 9})
	if err != nil {
		b.Fatal(err)
	}
	ps := distinctPackets(n, 6)
	b.ReportAllocs()
	ended := 0
	now := int64(0)
	for b.Loop() {
		if ended == 0 {
			b.StopTimer()
			now += 10000 * sec
			for i := range ps {
				ps[i].TimeNs = now
				tb.Lookup(&ps[i])
			}
			ended = n
			b.StartTimer()
		}
		// End flows in slices of 64, as a per-second sweep would.
		ended -= tb.sweep(now+1000*sec, 64, nil)
	}
}
