package gen

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// A few cells of the published tables, written out independently of the
// code's row strings.
func TestPolicyTableCells(t *testing.T) {
	shape := func(name string) Shape {
		for _, s := range Shapes {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no shape %s", name)
		return Shape{}
	}
	tcp := []struct {
		policy, shape string
		newWins       bool
	}{
		{"bsd", "before-after", true}, {"bsd", "same", false}, {"bsd", "same-start-longer", false},
		{"linux", "same-start-longer", true}, {"linux", "same", false}, {"old-linux", "same", true},
		{"solaris", "before-inside", false}, {"solaris", "after-after", true}, {"hpux11", "before-same-end", true},
		{"first", "before-after", false}, {"vista", "before-after", false}, {"last", "inside", true},
		{"windows", "before-inside", true}, {"macos", "after-after", false}, {"irix", "same-start-shorter", false},
	}
	for _, c := range tcp {
		if got := tcpNewWins(c.policy, shape(c.shape)); got != c.newWins {
			t.Errorf("tcp %s %s: new wins %v, want %v", c.policy, c.shape, got, c.newWins)
		}
	}
	frag := []struct {
		policy, shape string
		newWins       bool
	}{
		{"bsd", "before-inside", true}, {"bsd", "same", false}, {"linux", "same", true}, {"linux", "after-after", false},
		{"windows", "before-after", true}, {"windows", "before-same-end", false}, {"solaris", "before-same-end", true},
		{"first", "before-after", false}, {"last", "inside", true}, {"bsd-right", "after-after", true}, {"bsd-right", "same", false},
	}
	for _, c := range frag {
		if got := fragNewWins(c.policy, shape(c.shape)); got != c.newWins {
			t.Errorf("frag %s %s: new wins %v, want %v", c.policy, c.shape, got, c.newWins)
		}
	}
	// Every OS policy has a defrag policy; the two truth sides of a shape
	// split the policies between them.
	for _, p := range StreamPolicies {
		if fp, ok := FragPolicyOf(p); !ok || !slices.Contains(FragPolicies, fp) {
			t.Errorf("no defrag policy for %s", p)
		}
	}
	for _, v := range Variants() {
		if v.Kind != KindOverlap && v.Kind != KindFrag || v.NewReal {
			continue
		}
		other, _ := LookupVariant(strings.TrimSuffix(v.Name, "-old") + "-new")
		for _, p := range StreamPolicies {
			if v.TargetSees(p) == other.TargetSees(p) {
				t.Errorf("%s and %s agree under %s", v.Name, other.Name, p)
			}
		}
	}
}

// The decoy keeps the ones-complement sum of any buffer it replaces the
// marker in, at even and odd offsets.
func TestDecoyIsChecksumNeutral(t *testing.T) {
	for _, m := range []string{"VGN-HTTPURI-ATTACK", "EVIL1234", "abcdefghXYZ", "A1-B2-C3-D4"} {
		d, err := makeDecoy([]byte(m))
		if err != nil {
			t.Fatal(m, err)
		}
		if bytes.Equal(d, []byte(m)) || len(d) != len(m) {
			t.Fatalf("%s: decoy %q", m, d)
		}
		for _, c := range d {
			if !isAlnum(c) && c != '-' {
				t.Fatalf("%s: decoy %q has %q", m, d, c)
			}
		}
		for off := 0; off < 4; off++ {
			a := bytes.Repeat([]byte{0x5a}, 64)
			b := bytes.Clone(a)
			copy(a[off+10:], m)
			copy(b[off+10:], d)
			if fold(csum(0, a)) != fold(csum(0, b)) {
				t.Fatalf("%s at offset %d: sums differ", m, off)
			}
		}
	}
	if _, err := makeDecoy([]byte("--------")); err == nil {
		t.Fatal("a marker without letters got a decoy")
	}
}

// plantedFrames returns the frames of each planted flow, by flow number.
func plantedFrames(t *testing.T, frames []frame, m *Manifest) map[int][]int {
	t.Helper()
	byKey := map[tupleKey]int{}
	for _, p := range m.Planted {
		byKey[tupleKey{netip.MustParseAddr(p.SrcIP), p.SrcPort}] = p.Flow
	}
	out := map[int][]int{}
	d := decode.NewDecoder(decode.Options{})
	for i, f := range frames {
		p := decodeFrame(d, f.data)
		if p.Flags&packet.FlagFragment != 0 && p.L4Len == 0 {
			// A later fragment: attribute by addresses and IP ID to the
			// flow of its first fragment.
			for k, fl := range byKey {
				if k.ip == p.SrcIP {
					out[fl] = append(out[fl], i)
				}
			}
			continue
		}
		for _, k := range []tupleKey{{p.SrcIP, p.SrcPort}, {p.DstIP, p.DstPort}} {
			if fl, ok := byKey[k]; ok {
				out[fl] = append(out[fl], i)
			}
		}
	}
	return out
}

func evasionRun(t *testing.T) ([]frame, *Manifest, map[int][]int) {
	t.Helper()
	frames, m := generate(t, loadScenario(t, "evasion-suite", 0))
	return frames, m, plantedFrames(t, frames, m)
}

// Each frag variant, put through Vigil's defragmenter under every defrag
// policy, gives a datagram with a valid transport checksum (the decoy is
// checksum-neutral) that holds the marker exactly when the variant's table
// says the policy keeps the real fragment.
func TestFragVariantsAgainstDefrag(t *testing.T) {
	frames, m, pf := evasionRun(t)
	checked := 0
	for _, pl := range m.Planted {
		v, _ := LookupVariant(pl.Variant)
		if v.Kind != KindFrag {
			continue
		}
		for _, pol := range FragPolicies {
			r, err := defrag.New(defrag.Config{DefaultPolicy: defrag.Policy(mustDefragPolicy(t, pol))})
			if err != nil {
				t.Fatal(err)
			}
			d := decode.NewDecoder(decode.Options{Checksums: true})
			var got *packet.Packet
			nfrag := 0
			for _, i := range pf[pl.Flow] {
				p := decodeFrame(d, frames[i].data)
				if p.Flags&packet.FlagFragment == 0 {
					continue
				}
				nfrag++
				var out packet.Packet
				if r.Process(p, &out) {
					out.Data = bytes.Clone(out.Data)
					d.Decode(&out)
					got = &out
				}
			}
			if got == nil {
				t.Fatalf("flow %d %s under %s: %d fragments never reassembled", pl.Flow, pl.Variant, pol, nfrag)
			}
			if got.Flags&(packet.FlagL4CsumBad|packet.FlagIPv4CsumBad|packet.FlagMalformed) != 0 {
				t.Fatalf("flow %d %s under %s: reassembled datagram has a bad checksum (flags %#x)", pl.Flow, pl.Variant, pol, got.Flags)
			}
			has := bytes.Contains(got.Payload(), []byte(pl.Marker))
			want := fragNewWins(pol, Shapes[v.Shape]) == v.NewReal
			if has != want {
				t.Errorf("flow %d %s under defrag %s: marker present %v, want %v", pl.Flow, pl.Variant, pol, has, want)
			}
			checked++
		}
		// The manifest's lists follow the OS-to-defrag mapping.
		for _, os := range StreamPolicies {
			fp, _ := FragPolicyOf(os)
			if slices.Contains(pl.SeenBy, os) != (fragNewWins(fp, Shapes[v.Shape]) == v.NewReal) {
				t.Errorf("flow %d %s: seen_by %v wrong for %s (defrag %s)", pl.Flow, pl.Variant, pl.SeenBy, os, fp)
			}
		}
	}
	if checked < 36*len(FragPolicies) {
		t.Fatalf("only %d frag variant/policy pairs checked", checked)
	}
}

func mustDefragPolicy(t *testing.T, name string) defrag.Policy {
	if name == "bsd-right" {
		return defrag.PolicyBSDRight
	}
	p, err := defrag.ParsePolicy(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TTL variants: the frames the manifest lists as expired carry the decoy
// with TTL (hop limit) equal to the hops to the target; every other frame
// of the run has the normal TTL 64.
func TestTTLVariants(t *testing.T) {
	frames, m, pf := evasionRun(t)
	expired := map[uint64]*PlantRecord{}
	for _, pl := range m.Planted {
		v, _ := LookupVariant(pl.Variant)
		isTTL := v.Kind == KindTTL || v.Kind == KindTTLAfter
		if isTTL != (len(pl.ExpiredFrames) == 1) {
			t.Fatalf("flow %d %s: expired frames %v", pl.Flow, pl.Variant, pl.ExpiredFrames)
		}
		for _, n := range pl.ExpiredFrames {
			expired[n] = pl
		}
		if isTTL && (!pl.TargetSees || pl.ExpectAlert != v.IDSSees("bsd")) {
			t.Errorf("flow %d %s: target_sees %v expect_alert %v", pl.Flow, pl.Variant, pl.TargetSees, pl.ExpectAlert)
		}
		if !isTTL {
			continue
		}
		// The real segment follows (ttl) or precedes (ttl-after) the decoy
		// over the same sequence range.
		idx := slices.Index(pf[pl.Flow], int(pl.ExpiredFrames[0]-1))
		other := idx + 1
		if v.Kind == KindTTLAfter {
			other = idx - 1
		}
		d := decode.NewDecoder(decode.Options{})
		dec := decodeFrame(d, frames[pf[pl.Flow][idx]].data)
		real := decodeFrame(decode.NewDecoder(decode.Options{}), frames[pf[pl.Flow][other]].data)
		if dec.TCPSeq != real.TCPSeq || dec.PayloadLen != real.PayloadLen ||
			bytes.Contains(dec.Payload(), []byte(pl.Marker)) || !bytes.Contains(real.Payload(), []byte(pl.Marker)) {
			t.Errorf("flow %d %s: decoy seq %d len %d, real seq %d len %d", pl.Flow, pl.Variant, dec.TCPSeq, dec.PayloadLen, real.TCPSeq, real.PayloadLen)
		}
	}
	d := decode.NewDecoder(decode.Options{})
	for i, f := range frames {
		p := decodeFrame(d, f.data)
		want := uint8(64)
		if expired[uint64(i+1)] != nil {
			want = uint8(m.Hops)
		}
		if p.TTL != want {
			t.Fatalf("frame %d: TTL %d, want %d", i+1, p.TTL, want)
		}
	}
}

// Urgent variant: one segment with URG whose urgent pointer (BSD style:
// one past the urgent byte) points at a byte inside the marker; taking
// that byte out gives the marker back.
func TestUrgentVariant(t *testing.T) {
	frames, m, pf := evasionRun(t)
	n := 0
	for _, pl := range m.Planted {
		if pl.Variant != "urgent" {
			continue
		}
		n++
		d := decode.NewDecoder(decode.Options{Checksums: true})
		urg := 0
		for _, i := range pf[pl.Flow] {
			p := decodeFrame(d, frames[i].data)
			if p.TCPFlags&packet.TCPUrg == 0 {
				continue
			}
			urg++
			pay := p.Payload()
			u := int(p.TCPUrgent)
			if u < 1 || u > len(pay) {
				t.Fatalf("flow %d: urgent pointer %d outside the %d-byte payload", pl.Flow, u, len(pay))
			}
			if bytes.Contains(pay, []byte(pl.Marker)) {
				t.Fatalf("flow %d: urgent segment carries the marker whole", pl.Flow)
			}
			inline := append(bytes.Clone(pay[:u-1]), pay[u:]...)
			if !bytes.Contains(inline, []byte(pl.Marker)) {
				t.Fatalf("flow %d: without the urgent byte the payload lacks the marker: %q", pl.Flow, inline)
			}
		}
		if urg != 1 || pl.ExpectAlert || !pl.TargetSees {
			t.Fatalf("flow %d: %d urgent segments, expect_alert %v, target_sees %v", pl.Flow, urg, pl.ExpectAlert, pl.TargetSees)
		}
	}
	if n != 4 {
		t.Fatalf("%d urgent flows, want 4", n)
	}
}

// Overlap variants: exactly two data segments overlap, their common range
// holds the marker in one and the decoy in the other, and the segment
// order puts the overlapping pair first (queued out of order at the
// target).
func TestOverlapVariantsLayout(t *testing.T) {
	frames, m, pf := evasionRun(t)
	n := 0
	for _, pl := range m.Planted {
		v, _ := LookupVariant(pl.Variant)
		if v.Kind != KindOverlap {
			continue
		}
		n++
		d := decode.NewDecoder(decode.Options{Checksums: true})
		type seg struct {
			seq  uint32
			data []byte
		}
		var segs []seg
		for _, i := range pf[pl.Flow] {
			p := decodeFrame(d, frames[i].data)
			if p.IsTCP() && p.PayloadLen > 0 && p.SrcIP == netip.MustParseAddr(pl.SrcIP) && p.SrcPort == pl.SrcPort {
				segs = append(segs, seg{p.TCPSeq, bytes.Clone(p.Payload())})
			}
		}
		// The planted message's segments come first on the client side.
		old, nw := segs[0], segs[1]
		realSeg, decoySeg := old, nw
		if v.NewReal {
			realSeg, decoySeg = nw, old
		}
		if !bytes.Contains(realSeg.data, []byte(pl.Marker)) || bytes.Contains(decoySeg.data, []byte(pl.Marker)) {
			t.Errorf("flow %d %s: real/decoy segments wrong", pl.Flow, pl.Variant)
		}
		s := Shapes[v.Shape]
		dStart := int32(nw.seq-old.seq) / 8
		oEnd, nEnd := int32(old.seq)+int32(len(old.data)), int32(nw.seq)+int32(len(nw.data))
		dEnd := (nEnd - oEnd) / 8
		if dStart != int32(s.NewStart-s.OldStart) || dEnd != int32(s.NewEnd-s.OldEnd) {
			t.Errorf("flow %d %s: start delta %d end delta %d, shape %+v", pl.Flow, pl.Variant, dStart, dEnd, s)
		}
	}
	if n != 18+2*3 {
		t.Fatalf("%d overlap flows, want %d", n, 18+2*3)
	}
}
