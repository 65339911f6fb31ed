package decode

import (
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// fuzzDecode decodes data as link type lt with checksums on and checks the
// offset invariants.
func fuzzDecode(t *testing.T, lt packet.LinkType, data []byte) {
	d := NewDecoder(Options{Checksums: true})
	p := &packet.Packet{Data: data, WireLen: len(data), LinkType: lt}
	d.Decode(p)
	checkInvariants(t, p)
	for _, e := range p.Events[:p.NumEvents] {
		if e == EvNone || e >= NumDecoderEvents {
			t.Fatalf("bad event id %d", e)
		}
	}
	if d.Stats.Packets != 1 {
		t.Fatalf("packets %d", d.Stats.Packets)
	}
}

func seedIPv4(f *testing.F) [][]byte {
	return [][]byte{
		ip4(6, nil, cat(tcpHdr(8, []byte{2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1}), []byte("payload"))),
		ip4(6, nil, tcpHdr(11, []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 34, 2, 0, 0})),
		ip4(17, []byte{0x94, 4, 0, 0, 0x07, 7, 4, 0, 0, 0, 0, 1}, udpHdr(12, []byte("abcd"))),
		ip4(17, []byte{0x44, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0}, udpHdr(8, nil)),
		ip4(17, []byte{0x86, 12, 0, 0, 0, 1, 1, 6, 0, 0, 0, 0}, udpHdr(8, nil)),
		ip4(1, nil, cat([]byte{3, 3, 0, 0, 0, 0, 0, 0}, ip4(17, nil, udpHdr(8, nil)))),
		ip4(1, nil, []byte{8, 0, 0, 0, 0, 1, 0, 2, 'x'}),
		ip4(1, nil, []byte{9, 0, 0, 0, 2, 2, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}),
		func() []byte { b := ip4(17, nil, udpHdr(8, []byte("frag"))); b[6] = 0x20; return b }(),
		func() []byte { b := ip4(6, nil, []byte("later")); b[7] = 3; return b }(),
		ip4(47, nil, []byte{0, 0, 0x08, 0}),
	}
}

func seedIPv6(f *testing.F) [][]byte {
	return [][]byte{
		ip6(6, cat(tcpHdr(5, nil), []byte("p"))),
		ip6(0, cat(ext(60, 0, []byte{5, 2, 0, 0, 1, 0}), ext(43, 0, []byte{0xc9, 16}), ext(44, 0, []byte{2, 0}), fragHdr(51, 0, 1, 7), []byte{17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, udpHdr(8, nil))),
		ip6(44, cat(fragHdr(6, 0, 64, 9), []byte("data"))),
		ip6(58, []byte{128, 0, 0, 0, 0, 1, 0, 1}),
		ip6(58, cat([]byte{1, 0, 0, 0, 0, 0, 0, 0}, ip6(17, udpHdr(8, nil)))),
		ip6(58, []byte{130, 0, 0, 0, 0, 0, 0, 0}),
		ip6(50, make([]byte, 16)),
		ip6(59, nil),
		ip6(135, cat(ext(17, 0, nil), udpHdr(8, nil))),
		ip6(4, ip4(17, nil, udpHdr(8, nil))),
	}
}

func FuzzEthernet(f *testing.F) {
	for _, s := range seedIPv4(f) {
		f.Add(eth(0x0800, s))
		f.Add(eth(0x8100, []byte{0, 10, 0x81, 0, 0, 20, 0x08, 0}, s))
		f.Add(eth(0x8864, []byte{0x11, 0, 0, 1, 0, byte(len(s) + 2), 0, 0x21}, s))
	}
	for _, s := range seedIPv6(f) {
		f.Add(eth(0x86dd, s))
		f.Add(eth(0x88a8, []byte{0, 10, 0x86, 0xdd}, s))
	}
	f.Add(eth(0x8863, []byte{0x11, 0x09, 0, 0, 0, 8, 1, 1, 0, 0, 1, 2, 0, 0}))
	f.Add(eth(0x0806, make([]byte, 28)))
	f.Add(eth(0x0030, make([]byte, 46)))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, packet.LinkEthernet, data) })
}

func FuzzIPv4(f *testing.F) {
	for _, s := range seedIPv4(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, packet.LinkIPv4, data)
		fuzzDecode(t, packet.LinkRaw, data)
	})
}

func FuzzIPv6(f *testing.F) {
	for _, s := range seedIPv6(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, packet.LinkIPv6, data) })
}

func FuzzSLL(f *testing.F) {
	hdr := func(proto byte) []byte {
		h := make([]byte, 16)
		h[3], h[5], h[14], h[15] = 1, 6, proto>>4<<4, 0
		return h
	}
	for _, s := range seedIPv4(f) {
		h := hdr(0)
		h[14], h[15] = 0x08, 0x00
		f.Add(uint8(0), cat(h, s))
		h2 := make([]byte, 20)
		h2[0], h2[1] = 0x08, 0x00
		f.Add(uint8(1), cat(h2, s))
		f.Add(uint8(2), cat([]byte{2, 0, 0, 0}, s))
		f.Add(uint8(3), cat([]byte{0xff, 0x03, 0x00, 0x21}, s))
	}
	for _, s := range seedIPv6(f) {
		h := hdr(0)
		h[14], h[15] = 0x86, 0xdd
		f.Add(uint8(0), cat(h, s))
		f.Add(uint8(2), cat([]byte{0, 0, 0, 30}, s))
	}
	lts := []packet.LinkType{packet.LinkLinuxSLL, packet.LinkLinuxSLL2, packet.LinkNull, packet.LinkPPP, packet.LinkLoop}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		fuzzDecode(t, lts[int(which)%len(lts)], data)
	})
}
