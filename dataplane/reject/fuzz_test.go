package reject

import (
	"errors"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// FuzzBuild decodes random bytes as a frame of a fuzzed link type, builds
// both replies and checks that Build never panics and that every reply it
// builds decodes, with correct checksums, as what it must be.
//
//	go test -run '^$' -fuzz FuzzBuild -fuzztime 3m ./dataplane/reject/
func FuzzBuild(f *testing.F) {
	seeds := []frameSpec{
		{link: packet.LinkEthernet, tcp: &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true, Seq: 9}},
		{link: packet.LinkEthernet, vlans: []uint16{1, 2}, v6: true, tcp: &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, Seq: 9, Ack: 10}, payload: []byte("abc")},
		{link: packet.LinkRaw, payload: []byte("udp payload")},
		{link: packet.LinkRaw, v6: true, payload: make([]byte, 1300)},
		{link: packet.LinkEthernet, icmp4: &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, payload: []byte("echo")},
		{link: packet.LinkRaw, v6: true, icmp6: &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, payload: []byte{0, 1, 0, 1}},
		{link: packet.LinkEthernet, payload: make([]byte, 700), ip4: func(ip *layers.IPv4) { ip.Flags = layers.IPv4MoreFragments }},
	}
	for _, s := range seeds {
		f.Add(uint8(s.link), s.build(f))
	}
	f.Add(uint8(packet.LinkIPv4), []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	dec := decode.NewDecoder(decode.Options{})
	check := decode.NewDecoder(decode.Options{Checksums: true})
	buf := make([]byte, MaxFrameLen)
	f.Fuzz(func(t *testing.T, lt uint8, data []byte) {
		links := [...]packet.LinkType{packet.LinkEthernet, packet.LinkRaw, packet.LinkIPv4, packet.LinkIPv6, packet.LinkLinuxSLL, packet.LinkNull}
		link := links[int(lt)%len(links)]
		p := &packet.Packet{Data: data, WireLen: len(data), LinkType: link}
		dec.Decode(p)
		orig := append([]byte(nil), data...)
		for _, toSource := range []bool{true, false} {
			for _, code := range []Unreachable{AdminProhibited, PortUnreachable} {
				b := Builder{Unreachable: code}
				n, err := b.Build(buf, p, toSource)
				if err != nil {
					if !errors.Is(err, ErrNoReply) && !errors.Is(err, ErrUnsupported) {
						t.Fatalf("unexpected error %v", err)
					}
					continue
				}
				if string(data) != string(orig) {
					t.Fatal("Build modified the packet")
				}
				verify(t, check, p, buf[:n], toSource)
			}
		}
	})
}

// verify decodes a reply and checks it against the packet it answers.
func verify(t *testing.T, d *decode.Decoder, p *packet.Packet, frame []byte, toSource bool) {
	t.Helper()
	r := &packet.Packet{Data: frame, WireLen: len(frame), LinkType: p.LinkType}
	d.Decode(r)
	if r.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad) != 0 {
		t.Fatalf("reply has a bad checksum: flags %#x\n%x", r.Flags, frame)
	}
	if r.IsIPv4() != p.IsIPv4() || r.IsIPv6() != p.IsIPv6() {
		t.Fatalf("reply IP version differs: flags %#x, packet %#x", r.Flags, p.Flags)
	}
	src, dst := p.SrcIP, p.DstIP
	if toSource {
		src, dst = dst, src
	}
	if r.SrcIP != src || r.DstIP != dst || r.TTL != DefaultTTL {
		t.Fatalf("reply %v -> %v ttl %d, want %v -> %v", r.SrcIP, r.DstIP, r.TTL, src, dst)
	}
	if r.VLANCount != p.VLANCount || r.VLAN != p.VLAN {
		t.Fatalf("VLANs %v/%d, want %v/%d", r.VLAN, r.VLANCount, p.VLAN, p.VLANCount)
	}
	if p.IsTCP() {
		if !r.IsTCP() || r.TCPFlags != packet.TCPRst|packet.TCPAck || r.PayloadLen != 0 {
			t.Fatalf("TCP reply: flags %#x tcp %#x payload %d", r.Flags, r.TCPFlags, r.PayloadLen)
		}
		sp, dp := p.SrcPort, p.DstPort
		if toSource {
			sp, dp = dp, sp
		}
		if r.SrcPort != sp || r.DstPort != dp {
			t.Fatalf("ports %d -> %d, want %d -> %d", r.SrcPort, r.DstPort, sp, dp)
		}
		return
	}
	if p.IsIPv6() {
		if !r.IsICMPv6() || r.ICMPType != 1 || r.IPLen > MaxICMPv6Len {
			t.Fatalf("ICMPv6 reply: flags %#x type %d len %d", r.Flags, r.ICMPType, r.IPLen)
		}
	} else if !r.IsICMPv4() || r.ICMPType != 3 || r.IPLen > MaxICMPv4Len {
		t.Fatalf("ICMPv4 reply: flags %#x type %d len %d", r.Flags, r.ICMPType, r.IPLen)
	}
	// The quote is the start of the original IP packet.
	q := r.Data[r.L4Off+8 : r.L3Off+r.IPLen]
	if string(q) != string(p.Data[p.L3Off:p.L3Off+len(q)]) {
		t.Fatal("quoted bytes differ from the original")
	}
}
