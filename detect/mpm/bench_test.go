package mpm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

const sharedDir = "/work/shared"

var (
	contentRE  = regexp.MustCompile(`content:\s*(!?)\s*"((?:[^"\\]|\\.)*)"`)
	nocaseRE   = regexp.MustCompile(`(^|;)\s*nocase\s*;`)
	fastPatRE  = regexp.MustCompile(`(^|;)\s*fast_pattern\s*[;:]`)
	ruleSIDRE  = regexp.MustCompile(`\bsid\s*:\s*(\d+)`)
	etOnce     sync.Once
	etFast     []Pattern // one fast pattern per rule
	etAll      []Pattern // every non-negated content
	etPayloads [][]byte
	etBytes    int64
)

// decodeContent turns a rule content string (|hex| blocks and backslash
// escapes) into bytes.
func decodeContent(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '|':
			j := strings.IndexByte(s[i+1:], '|')
			if j < 0 {
				return nil, fmt.Errorf("unterminated hex block in %q", s)
			}
			h := strings.Join(strings.Fields(s[i+1:i+1+j]), "")
			b, err := hex.DecodeString(h)
			if err != nil {
				return nil, fmt.Errorf("bad hex block in %q: %v", s, err)
			}
			out = append(out, b...)
			i += j + 1
		case '\\':
			if i+1 < len(s) {
				i++
			}
			out = append(out, s[i])
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// loadETOpen extracts content patterns from the ET Open rules and payloads
// from the shared pcaps.
func loadETOpen(tb testing.TB) {
	etOnce.Do(func() {
		files, _ := filepath.Glob(filepath.Join(sharedDir, "rules/et-open/*.rules"))
		nextID := uint32(0)
		for _, fn := range files {
			f, err := os.Open(fn)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || line[0] == '#' {
					continue
				}
				if !ruleSIDRE.MatchString(line) {
					continue
				}
				ms := contentRE.FindAllStringSubmatchIndex(line, -1)
				var best, fast *Pattern
				for k, mm := range ms {
					if mm[3] > mm[2] { // negated
						continue
					}
					b, err := decodeContent(line[mm[4]:mm[5]])
					if err != nil || len(b) == 0 {
						continue
					}
					end := len(line)
					if k+1 < len(ms) {
						end = ms[k+1][0]
					}
					mods := line[mm[1]:end]
					p := Pattern{ID: nextID, Bytes: b, NoCase: nocaseRE.MatchString(mods)}
					nextID++
					etAll = append(etAll, p)
					q := &etAll[len(etAll)-1]
					if fastPatRE.MatchString(mods) {
						fast = q
					}
					if best == nil || len(b) > len(best.Bytes) {
						best = q
					}
				}
				if fast != nil {
					best = fast
				}
				if best != nil {
					etFast = append(etFast, *best)
				}
			}
			f.Close()
		}
		pcaps, _ := filepath.Glob(filepath.Join(sharedDir, "pcaps/*.pcap*"))
		for _, fn := range pcaps {
			etPayloads = append(etPayloads, readPayloads(fn)...)
		}
		for _, p := range etPayloads {
			etBytes += int64(len(p))
		}
	})
	if len(etFast) == 0 || len(etPayloads) == 0 {
		tb.Skipf("ET Open rules or pcaps not found under %s", sharedDir)
	}
}

// readPayloads returns the TCP and UDP payloads of a pcap or pcapng file.
// (pcapgo would need golang.org/x/net, which the module does not require, so
// the test reads the two container formats itself; gopacket decodes.)
func readPayloads(fn string) [][]byte {
	data, err := os.ReadFile(fn)
	if err != nil {
		return nil
	}
	var out [][]byte
	add := func(frame []byte, lt layers.LinkType) {
		pkt := gopacket.NewPacket(frame, lt, gopacket.NoCopy)
		if tl := pkt.TransportLayer(); tl != nil && len(tl.LayerPayload()) > 0 {
			out = append(out, bytes.Clone(tl.LayerPayload()))
		}
	}
	if len(data) >= 24 && binary.LittleEndian.Uint32(data) == 0x0a0d0d0a {
		// pcapng (little-endian sections only; enough for the shared files).
		var ifLink []layers.LinkType
		for off := 0; off+12 <= len(data); {
			typ := binary.LittleEndian.Uint32(data[off:])
			blen := int(binary.LittleEndian.Uint32(data[off+4:]))
			if blen < 12 || off+blen > len(data) {
				break
			}
			body := data[off+8 : off+blen-4]
			switch typ {
			case 0x0a0d0d0a:
				ifLink = ifLink[:0]
			case 1: // interface description
				if len(body) >= 2 {
					ifLink = append(ifLink, layers.LinkType(binary.LittleEndian.Uint16(body)))
				}
			case 6: // enhanced packet
				if len(body) >= 20 {
					ifc := int(binary.LittleEndian.Uint32(body))
					capLen := int(binary.LittleEndian.Uint32(body[12:]))
					if ifc < len(ifLink) && 20+capLen <= len(body) {
						add(body[20:20+capLen], ifLink[ifc])
					}
				}
			}
			off += blen
		}
		return out
	}
	if len(data) < 24 {
		return nil
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil
	}
	lt := layers.LinkType(bo.Uint32(data[20:]) & 0xffff)
	for off := 24; off+16 <= len(data); {
		capLen := int(bo.Uint32(data[off+8:]))
		off += 16
		if capLen > len(data)-off {
			break
		}
		add(data[off:off+capLen], lt)
		off += capLen
	}
	return out
}

// TestETOpen checks the real rule set against the reference on real
// payloads and logs size and compile time.
func TestETOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	loadETOpen(t)
	t.Logf("corpus: %d TCP/UDP payloads, %d bytes", len(etPayloads), etBytes)
	for _, set := range []struct {
		name string
		pats []Pattern
	}{{"fast", etFast}, {"all", etAll}} {
		start := time.Now()
		m, err := Compile(set.pats)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		t.Logf("ET Open %s: %d patterns, %d states (%d dense), %d classes, compile %v, MemBytes %.1f MB",
			set.name, m.Len(), len(m.outLink), m.denseN, m.nc, el, float64(m.MemBytes())/(1<<20))
		s := m.NewScratch()
		// The reference is slow on the full sets: check a sample of payloads.
		for i := 0; i < len(etPayloads); i += 97 {
			got := scanSorted(m, etPayloads[i], s)
			want := naive(set.pats, etPayloads[i])
			if !equalU32(got, want) {
				t.Fatalf("payload %d: got %v want %v", i, got, want)
			}
		}
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func benchScan(b *testing.B, m *Matcher, payloads [][]byte, total int64) {
	s := m.NewScratch()
	for _, p := range payloads {
		m.Scan(p, s)
	}
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		for _, p := range payloads {
			hits += len(m.Scan(p, s))
		}
	}
	b.ReportMetric(float64(hits)/float64(b.N)/float64(len(payloads)), "hits/payload")
}

func BenchmarkETOpenFast(b *testing.B) {
	loadETOpen(b)
	m, err := Compile(etFast)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(m.MemBytes())/(1<<20), "MB")
	benchScan(b, m, etPayloads, etBytes)
}

func BenchmarkETOpenAll(b *testing.B) {
	loadETOpen(b)
	m, err := Compile(etAll)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(m.MemBytes())/(1<<20), "MB")
	benchScan(b, m, etPayloads, etBytes)
}

func BenchmarkCompileETOpenFast(b *testing.B) {
	loadETOpen(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(etFast); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileETOpenAll(b *testing.B) {
	loadETOpen(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(etAll); err != nil {
			b.Fatal(err)
		}
	}
}

// synthetic builds a set of n HTTP-ish and binary patterns and a 64 KiB
// buffer of text-like traffic. Whole patterns are embedded only in the last
// 4 KiB, so the scan cannot stop early before it has seen most of the data.
func synthetic(n int) ([]Pattern, []byte) {
	r := rand.New(rand.NewPCG(7, 8))
	words := []string{"GET ", "POST ", "HTTP/1.1", "User-Agent: ", "Host: ", ".php?", "cmd=", "/admin", "Mozilla/5.0", "Content-Type"}
	pats := make([]Pattern, n)
	for i := range pats {
		var b []byte
		if r.IntN(4) == 0 {
			b = make([]byte, 3+r.IntN(6))
			for j := range b {
				b[j] = byte(r.IntN(256))
			}
		} else {
			b = []byte(words[r.IntN(len(words))])
			for k := 0; k < 1+r.IntN(12); k++ {
				b = append(b, byte('a'+r.IntN(26)))
			}
		}
		pats[i] = Pattern{ID: uint32(i), Bytes: b, NoCase: r.IntN(3) == 0}
	}
	data := make([]byte, 0, 64<<10)
	for len(data) < 64<<10 {
		if len(data) > 60<<10 && r.IntN(200) == 0 {
			data = append(data, pats[r.IntN(n)].Bytes...)
		} else if r.IntN(10) == 0 {
			data = append(data, words[r.IntN(len(words))]...)
		} else {
			data = append(data, byte(' '+r.IntN(95)))
		}
	}
	return pats, data[:64<<10]
}

func BenchmarkSynthetic(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			pats, data := synthetic(n)
			m, err := Compile(pats)
			if err != nil {
				b.Fatal(err)
			}
			benchScan(b, m, [][]byte{data}, int64(len(data)))
		})
	}
}
