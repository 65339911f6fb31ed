package gen

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

func digest(frames []frame) [32]byte {
	h := sha256.New()
	var ts [8]byte
	for _, f := range frames {
		binary.LittleEndian.PutUint64(ts[:], uint64(f.ts))
		h.Write(ts[:])
		h.Write(f.data)
	}
	return [32]byte(h.Sum(nil))
}

// Same scenario and seed, same bytes; another seed, other bytes.
func TestDeterministic(t *testing.T) {
	for _, name := range []string{"web-mix", "evasion-suite"} {
		a, ma := generate(t, loadScenario(t, name, 300))
		b, mb := generate(t, loadScenario(t, name, 300))
		if digest(a) != digest(b) || len(a) != len(b) {
			t.Fatalf("%s: two runs differ (%d and %d frames)", name, len(a), len(b))
		}
		if len(ma.Planted) != len(mb.Planted) || len(ma.Flows) != 300 {
			t.Fatalf("%s: manifests differ or flows missing: %d/%d planted, %d flows", name, len(ma.Planted), len(mb.Planted), len(ma.Flows))
		}
		sc := loadScenario(t, name, 300)
		sc.Seed++
		c, _ := generate(t, sc)
		if digest(a) == digest(c) {
			t.Fatalf("%s: seed change did not change the traffic", name)
		}
	}
}

// Every frame of every bundled scenario decodes cleanly with valid
// checksums, timestamps only grow, and the IPv6 share is near the
// scenario's.
func TestFramesDecodeWithValidChecksums(t *testing.T) {
	for _, name := range List() {
		t.Run(name, func(t *testing.T) {
			flows := 400
			if name == "syn-flood" || name == "dns-flood" {
				flows = 5000
			}
			sc := loadScenario(t, name, flows)
			frames, m := generate(t, sc)
			d := decode.NewDecoder(decode.Options{Checksums: true})
			var last int64
			v6 := map[tupleKey]bool{}
			frags := 0
			for i, f := range frames {
				if f.ts <= last {
					t.Fatalf("frame %d: timestamp %d not after %d", i+1, f.ts, last)
				}
				last = f.ts
				p := decodeFrame(d, f.data)
				if p.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad|packet.FlagMalformed) != 0 {
					t.Fatalf("frame %d: bad checksum or malformed (flags %#x, events %v)", i+1, p.Flags, events(p))
				}
				if p.Flags&packet.FlagFragment != 0 {
					frags++
					continue
				}
				if ev := events(p); len(ev) > 0 {
					t.Fatalf("frame %d: decoder events %v", i+1, ev)
				}
				if !p.IsTCP() && !p.IsUDP() {
					t.Fatalf("frame %d: neither TCP nor UDP", i+1)
				}
				if p.IsIPv6() {
					v6[tupleKey{p.SrcIP, p.SrcPort}] = true
				}
				if len(f.data) > ethLen+1500 {
					t.Fatalf("frame %d: %d bytes, above a 1500-byte MTU", i+1, len(f.data))
				}
			}
			if name != "evasion-suite" && frags > 0 {
				t.Fatalf("%d fragments in a scenario without frag variants", frags)
			}
			n6 := 0
			for _, fr := range m.Flows {
				if netip.MustParseAddr(fr.SrcIP).Is6() {
					n6++
				}
			}
			want := sc.IPv6Share * float64(len(m.Flows))
			if float64(n6) < want*0.7-5 || float64(n6) > want*1.3+5 {
				t.Fatalf("%d IPv6 flows of %d, want about %.0f", n6, len(m.Flows), want)
			}
			t.Logf("%d frames, %d flows (%d IPv6), %d fragments", len(frames), len(m.Flows), n6, frags)
		})
	}
}

// tcpSide is what a checker knows of one direction of a connection.
type tcpSide struct {
	next    uint32
	synSeen bool
	finSeen bool
}

// Ordinary (unplanted) TCP connections follow the protocol exactly: a
// three-way handshake, every segment at the sender's next sequence number
// and acknowledging all the peer sent, FIN from both sides and a last ACK;
// flows are interleaved.
func TestTCPConversationsAreConsistent(t *testing.T) {
	sc := loadScenario(t, "web-mix", 600)
	frames, m := generate(t, sc)
	planted := map[tupleKey]bool{}
	for _, p := range m.Planted {
		planted[tupleKey{netip.MustParseAddr(p.SrcIP), p.SrcPort}] = true
	}
	servers := map[uint16]bool{80: true, 443: true, 5002: true, 53: true, 5001: true}
	type conn struct {
		side   [2]tcpSide
		closed bool
		frames int
	}
	conns := map[tupleKey]*conn{}
	d := decode.NewDecoder(decode.Options{Checksums: true})
	switches, prev := 0, tupleKey{}
	for i, f := range frames {
		p := decodeFrame(d, f.data)
		k := clientKey(p, servers)
		if k != prev {
			switches++
			prev = k
		}
		if !p.IsTCP() || planted[k] {
			continue
		}
		c := conns[k]
		dir := 0
		if p.SrcPort == 80 || p.SrcPort == 443 || p.SrcPort == 5002 {
			dir = 1
		}
		fl := p.TCPFlags
		if c == nil {
			if fl != packet.TCPSyn || dir != 0 {
				t.Fatalf("frame %d: connection %v starts with flags %#x, not a client SYN", i+1, k, fl)
			}
			c = &conn{}
			conns[k] = c
			c.side[0] = tcpSide{next: p.TCPSeq + 1, synSeen: true}
			continue
		}
		c.frames++
		if c.closed {
			t.Fatalf("frame %d: packet after the connection %v closed", i+1, k)
		}
		s, r := &c.side[dir], &c.side[1-dir]
		if fl&packet.TCPSyn != 0 {
			if dir != 1 || fl != packet.TCPSyn|packet.TCPAck || s.synSeen || p.TCPAck != r.next {
				t.Fatalf("frame %d: bad SYN/ACK on %v", i+1, k)
			}
			*s = tcpSide{next: p.TCPSeq + 1, synSeen: true}
			continue
		}
		if fl&packet.TCPAck == 0 {
			t.Fatalf("frame %d: segment without ACK on %v", i+1, k)
		}
		if p.TCPSeq != s.next {
			t.Fatalf("frame %d: %v dir %d: seq %d, want %d", i+1, k, dir, p.TCPSeq, s.next)
		}
		if p.TCPAck != r.next {
			t.Fatalf("frame %d: %v dir %d: ack %d, want %d (all the peer sent)", i+1, k, dir, p.TCPAck, r.next)
		}
		s.next += uint32(p.PayloadLen)
		if fl&packet.TCPFin != 0 {
			if s.finSeen {
				t.Fatalf("frame %d: second FIN on %v", i+1, k)
			}
			s.finSeen = true
			s.next++
		}
		if s.finSeen && r.finSeen && fl == packet.TCPAck && p.PayloadLen == 0 && dir == 0 {
			c.closed = true
		}
	}
	open := 0
	for k, c := range conns {
		if !c.closed {
			open++
			t.Errorf("connection %v did not close (%d frames)", k, c.frames)
		}
	}
	if len(conns) < 300 {
		t.Fatalf("only %d TCP connections checked", len(conns))
	}
	if switches < len(frames)/4 {
		t.Fatalf("flows hardly interleaved: %d flow switches in %d frames", switches, len(frames))
	}
	t.Logf("%d TCP connections, %d frames, %d flow switches", len(conns), len(frames), switches)
}

// The manifest lists every flow once with unique 5-tuples and the planted
// flows at the scenario's places.
func TestManifest(t *testing.T) {
	sc := loadScenario(t, "web-mix", 1000)
	_, m := generate(t, sc)
	if len(m.Flows) != 1000 {
		t.Fatalf("%d flows in the manifest, want 1000", len(m.Flows))
	}
	seen := map[string]bool{}
	for _, f := range m.Flows {
		k := fmt.Sprintf("%s|%d", f.SrcIP, f.SrcPort)
		if seen[k] {
			t.Fatalf("client endpoint %s:%d used twice", f.SrcIP, f.SrcPort)
		}
		seen[k] = true
	}
	want := map[string]int{PlaceHTTPURI: 5, PlaceHTTPBody: 2, PlaceDNSQuery: 3, PlaceTLSSNI: 3, PlaceTCPPayload: 2}
	got := map[string]int{}
	for _, p := range m.Planted {
		got[p.Place]++
		if !p.ExpectAlert || !p.TargetSees || p.Variant != "plain" {
			t.Errorf("planted flow %d: %+v", p.Flow, p)
		}
		fr := m.Flows[p.Flow]
		if fr.Flow != p.Flow || fr.SrcIP != p.SrcIP || fr.SrcPort != p.SrcPort {
			t.Errorf("planted flow %d does not match its flow record %+v", p.Flow, fr)
		}
		var vals []string
		switch p.Place {
		case PlaceHTTPURI:
			vals = fr.URIs[:1]
		case PlaceDNSQuery:
			vals = fr.Queries[:1]
		case PlaceTLSSNI:
			vals = []string{fr.SNI}
		}
		for _, v := range vals {
			if !bytes.Contains([]byte(v), []byte(p.Marker)) {
				t.Errorf("planted flow %d: %s value %q lacks the marker", p.Flow, p.Place, v)
			}
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d flows planted at %s, want %d", got[k], k, n)
		}
	}
	if len(m.Rules) != 5 || m.Rules[0].SID != SIDBase {
		t.Fatalf("rules: %+v", m.Rules)
	}
	if !slices.IsSortedFunc(m.Flows, func(a, b *FlowRecord) int { return a.Flow - b.Flow }) {
		t.Fatal("flows not sorted")
	}
}

// Steady-state generation allocates nothing per frame.
func TestNextAllocatesNothing(t *testing.T) {
	for _, name := range []string{"web-mix", "evasion-suite", "syn-flood", "dns-flood", "tls-heavy"} {
		g := benchGen(t, name)
		buf := make([]byte, MaxFrameLen)
		for i := 0; i < 100000; i++ {
			if _, _, err := g.Next(buf); err != nil {
				t.Fatal(err)
			}
		}
		allocs := testing.AllocsPerRun(20000, func() {
			if _, _, err := g.Next(buf); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame", name, allocs)
		}
	}
}
