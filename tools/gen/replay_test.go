package gen

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/internal/testpcap"
)

func addToAddr(a netip.Addr, n uint32) netip.Addr {
	if a.Is4() {
		b := a.As4()
		binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(b[:])+n)
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	binary.BigEndian.PutUint32(b[12:], binary.BigEndian.Uint32(b[12:])+n)
	return netip.AddrFrom16(b)
}

// Replaying a capture three times gives three copies whose client
// addresses have the loop number added, servers untouched, checksums
// valid, timestamps increasing.
func TestReplayRewritesClientsPerLoop(t *testing.T) {
	dir := t.TempDir()
	src, m := writeScenario(t, loadScenario(t, "evasion-suite", 0), dir, "in.pcap")
	clients := map[netip.Addr]bool{}
	servers := map[netip.Addr]bool{}
	for _, f := range m.Flows {
		clients[netip.MustParseAddr(f.SrcIP)] = true
		servers[netip.MustParseAddr(f.DestIP)] = true
	}
	for _, mode := range []struct {
		name string
		pfx  netip.Prefix
		v6   bool // IPv6 clients are rewritten too
	}{{"learned", netip.Prefix{}, true}, {"prefix", netip.MustParsePrefix("10.10.0.0/16"), false}} {
		t.Run(mode.name, func(t *testing.T) {
			r, err := NewReplayer(src, ReplayOptions{Loops: 3, Clients: mode.pfx})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, mode.name+".pcap")
			frames, _, err := WriteCapture(r, out)
			if err != nil {
				t.Fatal(err)
			}
			orig := testpcap.Frames(t, src)
			got := testpcap.Frames(t, out)
			if int(frames) != 3*len(orig) || len(got) != len(orig)*3 {
				t.Fatalf("%d frames written, %d read, want %d", frames, len(got), 3*len(orig))
			}
			d := decode.NewDecoder(decode.Options{Checksums: true})
			var last int64
			for i, f := range got {
				loop := uint32(i / len(orig))
				if f.TimeNs <= last {
					t.Fatalf("frame %d: time %d not after %d", i+1, f.TimeNs, last)
				}
				last = f.TimeNs
				p := &packet.Packet{Data: f.Data, LinkType: packet.LinkEthernet}
				d.Decode(p)
				o := &packet.Packet{Data: orig[i%len(orig)].Data, LinkType: packet.LinkEthernet}
				decode.NewDecoder(decode.Options{}).Decode(o)
				if p.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad|packet.FlagMalformed) != 0 {
					t.Fatalf("frame %d (loop %d): bad checksum after rewriting (flags %#x)", i+1, loop, p.Flags)
				}
				for _, pair := range [][2]netip.Addr{{o.SrcIP, p.SrcIP}, {o.DstIP, p.DstIP}} {
					was, now := pair[0], pair[1]
					want := was
					if clients[was] && (was.Is4() || mode.v6) {
						want = addToAddr(was, loop)
					}
					if servers[was] && now != was {
						t.Fatalf("frame %d: server %s rewritten to %s", i+1, was, now)
					}
					if now != want {
						t.Fatalf("frame %d (loop %d): %s became %s, want %s", i+1, loop, was, now, want)
					}
				}
			}
			if st := r.Stats(); st.Rewritten == 0 || st.NoIP != 0 || st.Short != 0 {
				t.Fatalf("rewrite stats %+v", st)
			}
		})
	}
}

// learnClients finds exactly the scenario's clients.
func TestReplayLearnsClients(t *testing.T) {
	dir := t.TempDir()
	src, m := writeScenario(t, loadScenario(t, "web-mix", 300), dir, "in.pcap")
	var frames [][]byte
	for _, f := range testpcap.Frames(t, src) {
		frames = append(frames, f.Data)
	}
	got := learnClients(frames)
	want := map[netip.Addr]bool{}
	for _, f := range m.Flows {
		want[netip.MustParseAddr(f.SrcIP)] = true
	}
	if len(got) != len(want) {
		t.Fatalf("learned %d clients, want %d", len(got), len(want))
	}
	for a := range want {
		if !got[a] {
			t.Fatalf("client %s not learned", a)
		}
	}
}

// Replaying allocates nothing per frame.
func TestReplayAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	src, _ := writeScenario(t, loadScenario(t, "web-mix", 100), dir, "in.pcap")
	r, err := NewReplayer(src, ReplayOptions{Loops: -1})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxFrameLen)
	allocs := testing.AllocsPerRun(50000, func() {
		if _, _, err := r.NextFrame(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per replayed frame", allocs)
	}
}

func BenchmarkReplayNextFrame(b *testing.B) {
	dir := b.TempDir()
	g := benchGen(b, "web-mix")
	path := filepath.Join(dir, "in.pcap")
	if _, _, err := WriteCapture(&countSource{src: g, left: 20000}, path); err != nil {
		b.Fatal(err)
	}
	r, err := NewReplayer(path, ReplayOptions{Loops: -1})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, MaxFrameLen)
	for i := 0; i < 20000; i++ { // past the first loop, which is not rewritten
		r.NextFrame(buf)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := r.NextFrame(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewriteFrame(b *testing.B) {
	g := benchGen(b, "web-mix")
	buf := make([]byte, MaxFrameLen)
	n, _, _ := g.Next(buf)
	f := buf[:n]
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		RewriteFrame(f, 1, true, false)
	}
}

// countSource stops a source after left frames.
type countSource struct {
	src  FrameSource
	left int
}

func (c *countSource) NextFrame(buf []byte) (int, int64, error) {
	if c.left == 0 {
		return 0, 0, errEOF
	}
	c.left--
	return c.src.NextFrame(buf)
}

// FuzzRewriteFrame: any bytes; never a panic; a frame that decodes as a
// complete TCP/UDP packet with valid checksums keeps them valid, with both
// addresses moved by add.
func FuzzRewriteFrame(f *testing.F) {
	sc := loadScenario(f, "evasion-suite", 0)
	g, err := New(sc, Options{})
	if err != nil {
		f.Fatal(err)
	}
	buf := make([]byte, MaxFrameLen)
	for i := 0; i < 400; i++ {
		n, _, err := g.Next(buf)
		if err != nil {
			break
		}
		if i%20 == 0 {
			f.Add(bytes.Clone(buf[:n]), uint32(i))
		}
	}
	// A VLAN-tagged UDP frame and junk.
	vl := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0, 0, 5, 8, 0}
	n, _, _ := g.Next(buf)
	f.Add(append(vl, buf[ethLen:n]...), uint32(7))
	f.Add([]byte{1, 2, 3}, uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, add uint32) {
		before := &packet.Packet{Data: bytes.Clone(b), LinkType: packet.LinkEthernet}
		decode.NewDecoder(decode.Options{Checksums: true}).Decode(before)
		learnClients([][]byte{b, b})
		out := bytes.Clone(b)
		RewriteFrame(out, add, true, true)
		ok := before.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad|packet.FlagMalformed|packet.FlagFragment) == 0 &&
			(before.IsTCP() || before.IsUDP()) && before.NumEvents == 0
		if !ok {
			return
		}
		after := &packet.Packet{Data: out, LinkType: packet.LinkEthernet}
		decode.NewDecoder(decode.Options{Checksums: true}).Decode(after)
		if after.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad) != 0 {
			t.Fatalf("checksum broken by rewriting (+%d): flags %#x", add, after.Flags)
		}
		if after.SrcIP != addToAddr(before.SrcIP, add) || after.DstIP != addToAddr(before.DstIP, add) {
			t.Fatalf("addresses %s %s became %s %s (+%d)", before.SrcIP, before.DstIP, after.SrcIP, after.DstIP, add)
		}
	})
}

// Prebuild loops the first frames of a scenario with rewritten clients.
func TestPrebuild(t *testing.T) {
	g := benchGen(t, "web-mix")
	r, err := Prebuild(g, 1000, ReplayOptions{Loops: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 1000 || g.Frames() != 1000 {
		t.Fatalf("prebuilt %d frames, generator made %d", r.Len(), g.Frames())
	}
	buf := make([]byte, MaxFrameLen)
	d := decode.NewDecoder(decode.Options{Checksums: true})
	var first []netip.Addr
	for i := 0; i < 3000; i++ {
		n, _, err := r.NextFrame(buf)
		if err != nil {
			t.Fatal(err)
		}
		p := &packet.Packet{Data: buf[:n], LinkType: packet.LinkEthernet}
		d.Decode(p)
		if p.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad) != 0 {
			t.Fatalf("frame %d: bad checksum", i)
		}
		if i < 1000 {
			first = append(first, p.SrcIP)
		} else if loop := uint32(i / 1000); p.SrcIP != first[i%1000] && p.SrcIP != addToAddr(first[i%1000], loop) {
			t.Fatalf("frame %d: source %s, was %s", i, p.SrcIP, first[i%1000])
		}
	}
	if _, _, err := r.NextFrame(buf); err != errEOF {
		t.Fatalf("after 3 loops: %v", err)
	}
}
