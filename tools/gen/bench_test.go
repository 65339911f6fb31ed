package gen

import (
	"errors"
	"io"
	"testing"
)

// benchScenario returns a bundled scenario made endless.
func benchGen(b testing.TB, name string) *Generator {
	sc, err := Load(name)
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(sc, Options{Endless: true})
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func benchNext(b *testing.B, g *Generator) {
	buf := make([]byte, MaxFrameLen)
	for i := 0; i < 200000; i++ { // warm the flow pool
		if _, _, err := g.Next(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for i := 0; i < b.N; i++ {
		n, _, err := g.Next(buf)
		if err != nil && !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
		bytes += int64(n)
	}
	b.SetBytes(bytes / int64(max(b.N, 1)))
}

func BenchmarkNextWebMix(b *testing.B)   { benchNext(b, benchGen(b, "web-mix")) }
func BenchmarkNextSYNFlood(b *testing.B) { benchNext(b, benchGen(b, "syn-flood")) }
func BenchmarkNextDNSFlood(b *testing.B) { benchNext(b, benchGen(b, "dns-flood")) }
func BenchmarkNextUDP64(b *testing.B) {
	sc, err := Parse([]byte("mix: {udp: {weight: 1, datagrams: 1000, size: 22}}\nconcurrency: 16\n"), "udp64")
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(sc, Options{Endless: true})
	if err != nil {
		b.Fatal(err)
	}
	benchNext(b, g)
}

var errEOF = io.EOF
