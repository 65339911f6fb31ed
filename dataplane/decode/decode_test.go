package decode

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// serialize builds a frame from gopacket layers with lengths and checksums
// fixed.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	macA = net.HardwareAddr{0, 1, 2, 3, 4, 5}
	macB = net.HardwareAddr{0, 6, 7, 8, 9, 10}
	v4A  = net.IP{192, 0, 2, 1}
	v4B  = net.IP{198, 51, 100, 7}
	v6A  = net.ParseIP("2001:db8::1")
	v6B  = net.ParseIP("2001:db8:ffff::2")
)

func decodeFrame(t testing.TB, lt packet.LinkType, data []byte) (*packet.Packet, *Decoder) {
	t.Helper()
	d := NewDecoder(Options{Checksums: true})
	p := &packet.Packet{Data: data, WireLen: len(data), LinkType: lt}
	d.Decode(p)
	checkInvariants(t, p)
	return p, d
}

// checkInvariants fails when an offset of p points outside Data.
func checkInvariants(t testing.TB, p *packet.Packet) {
	t.Helper()
	n := len(p.Data)
	if p.L3Off < 0 || p.L3Len < 0 || p.L3Off+p.L3Len > n {
		t.Fatalf("L3 %d+%d outside %d bytes", p.L3Off, p.L3Len, n)
	}
	if p.IsIP() && (p.IPLen < p.L3Len || p.L3Off+p.IPLen > n) {
		t.Fatalf("IPLen %d (L3 %d+%d) outside %d bytes", p.IPLen, p.L3Off, p.L3Len, n)
	}
	if p.L4Off < 0 || p.L4Len < 0 || p.L4Off+p.L4Len > n {
		t.Fatalf("L4 %d+%d outside %d bytes", p.L4Off, p.L4Len, n)
	}
	if p.PayloadOff < 0 || p.PayloadLen < 0 || p.PayloadOff+p.PayloadLen > n {
		t.Fatalf("payload %d+%d outside %d bytes", p.PayloadOff, p.PayloadLen, n)
	}
	if p.IsIP() && p.PayloadLen > 0 && p.PayloadOff+p.PayloadLen > p.L3Off+p.IPLen {
		t.Fatalf("payload %d+%d past IP end %d", p.PayloadOff, p.PayloadLen, p.L3Off+p.IPLen)
	}
	if int(p.VLANCount) > packet.MaxVLAN || int(p.NumEvents) > packet.MaxEvents {
		t.Fatalf("VLANCount %d NumEvents %d", p.VLANCount, p.NumEvents)
	}
}

func wantNoEvents(t *testing.T, p *packet.Packet) {
	t.Helper()
	if p.NumEvents != 0 {
		names := make([]string, 0, p.NumEvents)
		for _, e := range p.Events[:p.NumEvents] {
			names = append(names, EventName(e))
		}
		t.Fatalf("unexpected events %v", names)
	}
	if p.Flags&packet.FlagMalformed != 0 {
		t.Fatalf("FlagMalformed set")
	}
}

func tcpv4Frame(t testing.TB, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 61, TOS: 0x28, Id: 0x1234, Flags: layers.IPv4DontFragment,
		Protocol: layers.IPProtocolTCP, SrcIP: v4A, DstIP: v4B}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 0x01020304, Ack: 0x0a0b0c0d, PSH: true, ACK: true,
		Window: 501, Urgent: 0,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 100, 0, 0, 0, 200}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		}}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, eth, ip, tcp, gopacket.Payload(payload))
}

func TestEthernetIPv4TCP(t *testing.T) {
	payload := []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n")
	data := tcpv4Frame(t, payload)
	p, d := decodeFrame(t, packet.LinkEthernet, data)
	wantNoEvents(t, p)
	if !p.IsIPv4() || !p.IsTCP() || p.IsIPv6() || p.IsUDP() {
		t.Fatalf("flags %#x", p.Flags)
	}
	if p.EtherType != 0x0800 || p.L3Off != 14 || p.L3Len != 20 || p.IPLen != len(data)-14 {
		t.Fatalf("L3 ethertype %#x off %d len %d iplen %d", p.EtherType, p.L3Off, p.L3Len, p.IPLen)
	}
	if p.SrcIP != netip.MustParseAddr("192.0.2.1") || p.DstIP != netip.MustParseAddr("198.51.100.7") {
		t.Fatalf("addresses %v %v", p.SrcIP, p.DstIP)
	}
	if p.TTL != 61 || p.TOS != 0x28 || p.IPID != 0x1234 || !p.IPv4DF || p.IPv4RF || p.FragMF || p.FragOff != 0 || p.IPProto != 6 {
		t.Fatalf("ipv4 fields ttl %d tos %#x id %#x df %v proto %d", p.TTL, p.TOS, p.IPID, p.IPv4DF, p.IPProto)
	}
	if p.Flags&packet.FlagFragment != 0 {
		t.Fatal("not a fragment")
	}
	if p.L4Off != 34 || p.L4Len != 40 || p.SrcPort != 40000 || p.DstPort != 80 {
		t.Fatalf("L4 off %d len %d ports %d %d", p.L4Off, p.L4Len, p.SrcPort, p.DstPort)
	}
	if p.TCPSeq != 0x01020304 || p.TCPAck != 0x0a0b0c0d || p.TCPFlags != packet.TCPPsh|packet.TCPAck || p.TCPWindow != 501 {
		t.Fatalf("tcp seq %#x ack %#x flags %#x win %d", p.TCPSeq, p.TCPAck, p.TCPFlags, p.TCPWindow)
	}
	want := packet.FlagTCPMSS | packet.FlagTCPSACKOK | packet.FlagTCPTS | packet.FlagTCPWScale
	if p.Flags&want != want || p.Flags&(packet.FlagTCPSACK|packet.FlagTCPTFO) != 0 {
		t.Fatalf("option flags %#x", p.Flags)
	}
	if p.TCPMSS != 1460 || p.TCPWScale != 7 || p.TCPTSVal != 100 || p.TCPTSEcr != 200 {
		t.Fatalf("options mss %d ws %d ts %d/%d", p.TCPMSS, p.TCPWScale, p.TCPTSVal, p.TCPTSEcr)
	}
	if !bytes.Equal(p.Payload(), payload) || p.PayloadOff != 74 {
		t.Fatalf("payload at %d %q", p.PayloadOff, p.Payload())
	}
	if p.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad) != 0 {
		t.Fatalf("checksums reported bad: %#x", p.Flags)
	}
	if d.Stats.Packets != 1 || d.Stats.Ethernet != 1 || d.Stats.IPv4 != 1 || d.Stats.TCP != 1 || d.Stats.Invalid != 0 {
		t.Fatalf("stats %+v", d.Stats)
	}

	// Corrupt the TCP payload, then the IP header checksum.
	bad := append([]byte(nil), data...)
	bad[len(bad)-1] ^= 0xff
	p, d = decodeFrame(t, packet.LinkEthernet, bad)
	if p.Flags&packet.FlagL4CsumBad == 0 || p.Flags&packet.FlagIPv4CsumBad != 0 || d.Stats.L4CsumBad != 1 {
		t.Fatalf("bad TCP checksum not seen: %#x", p.Flags)
	}
	bad = append([]byte(nil), data...)
	bad[14+10] ^= 0x01
	p, _ = decodeFrame(t, packet.LinkEthernet, bad)
	if p.Flags&packet.FlagIPv4CsumBad == 0 {
		t.Fatalf("bad IPv4 checksum not seen: %#x", p.Flags)
	}
	// Without checksum validation nothing is flagged.
	nd := NewDecoder(Options{})
	q := &packet.Packet{Data: bad, LinkType: packet.LinkEthernet}
	nd.Decode(q)
	if q.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad) != 0 {
		t.Fatalf("checksums checked with Checksums off")
	}
}

func TestEthernetPaddingIgnored(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: v4A, DstIP: v4B}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	data := serialize(t, eth, ip, udp, gopacket.Payload("ab"))
	data = append(data, make([]byte, 60-len(data))...) // Ethernet minimum frame padding
	p, _ := decodeFrame(t, packet.LinkEthernet, data)
	wantNoEvents(t, p)
	if !p.IsUDP() || p.IPLen != 30 || string(p.Payload()) != "ab" || p.SrcPort != 5353 || p.DstPort != 53 || p.L4Len != 8 {
		t.Fatalf("udp iplen %d payload %q ports %d %d", p.IPLen, p.Payload(), p.SrcPort, p.DstPort)
	}
	if p.Flags&packet.FlagL4CsumBad != 0 {
		t.Fatal("udp checksum reported bad")
	}
}

func TestVLANIPv6HopByHopUDP(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeQinQ}
	outer := &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q}
	inner := &layers.Dot1Q{VLANIdentifier: 200, Priority: 3, Type: layers.EthernetTypeIPv6}
	hbh := &layers.IPv6HopByHop{}
	hbh.NextHeader = layers.IPProtocolUDP
	hbh.Options = []*layers.IPv6HopByHopOption{{OptionType: 5, OptionLength: 2, OptionData: []byte{0, 0}}, {OptionType: 0}, {OptionType: 0}}
	ip := &layers.IPv6{Version: 6, TrafficClass: 0xb8, FlowLabel: 0x12345, HopLimit: 9,
		NextHeader: layers.IPProtocolIPv6HopByHop, SrcIP: v6A, DstIP: v6B, HopByHop: hbh}
	udp := &layers.UDP{SrcPort: 1234, DstPort: 4789}
	udp.SetNetworkLayerForChecksum(ip)
	data := serialize(t, eth, outer, inner, ip, udp, gopacket.Payload("hello"))
	p, d := decodeFrame(t, packet.LinkEthernet, data)
	wantNoEvents(t, p)
	if p.VLANCount != 2 || p.VLAN[0] != 100 || p.VLAN[1] != 200 || p.EtherType != 0x86dd {
		t.Fatalf("vlan %v count %d ethertype %#x", p.VLAN, p.VLANCount, p.EtherType)
	}
	if !p.IsIPv6() || p.L3Off != 22 || p.L3Len != 48 || p.IPProto != 17 || p.IPv6Exts != packet.ExtHopByHop {
		t.Fatalf("ipv6 off %d len %d proto %d exts %#x", p.L3Off, p.L3Len, p.IPProto, p.IPv6Exts)
	}
	if p.TOS != 0xb8 || p.IPv6Flow != 0x12345 || p.TTL != 9 || p.SrcIP != netip.MustParseAddr("2001:db8::1") {
		t.Fatalf("ipv6 fields tc %#x flow %#x hl %d src %v", p.TOS, p.IPv6Flow, p.TTL, p.SrcIP)
	}
	if !p.IsUDP() || p.L4Off != 70 || p.SrcPort != 1234 || p.DstPort != 4789 || string(p.Payload()) != "hello" {
		t.Fatalf("udp off %d ports %d %d payload %q", p.L4Off, p.SrcPort, p.DstPort, p.Payload())
	}
	if p.Flags&packet.FlagL4CsumBad != 0 {
		t.Fatal("udp6 checksum reported bad")
	}
	if d.Stats.VLAN != 2 || d.Stats.IPv6 != 1 || d.Stats.UDP != 1 {
		t.Fatalf("stats %+v", d.Stats)
	}
}

func TestICMP(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: v4A, DstIP: v4B}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 0x4242, Seq: 7}
	data := serialize(t, eth, ip, icmp, gopacket.Payload("pingpingping"))
	p, _ := decodeFrame(t, packet.LinkEthernet, data)
	wantNoEvents(t, p)
	if !p.IsICMPv4() || p.ICMPType != 8 || p.ICMPCode != 0 || p.ICMPID != 0x4242 || p.ICMPSeq != 7 ||
		p.L4Off != 34 || p.L4Len != 8 || string(p.Payload()) != "pingpingping" {
		t.Fatalf("icmp type %d code %d id %#x seq %d payload %q", p.ICMPType, p.ICMPCode, p.ICMPID, p.ICMPSeq, p.Payload())
	}
	if p.Flags&packet.FlagL4CsumBad != 0 {
		t.Fatal("icmp checksum reported bad")
	}
	data[34+8] ^= 1 // first payload byte (the frame also has Ethernet padding)
	if p, _ = decodeFrame(t, packet.LinkEthernet, data); p.Flags&packet.FlagL4CsumBad == 0 {
		t.Fatal("bad icmp checksum not seen")
	}

	eth6 := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: v6A, DstIP: v6B}
	icmp6 := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
	icmp6.SetNetworkLayerForChecksum(ip6)
	echo := &layers.ICMPv6Echo{Identifier: 0x99, SeqNumber: 3}
	data = serialize(t, eth6, ip6, icmp6, echo, gopacket.Payload("x6"))
	p, _ = decodeFrame(t, packet.LinkEthernet, data)
	wantNoEvents(t, p)
	if !p.IsICMPv6() || p.ICMPType != 128 || p.ICMPID != 0x99 || p.ICMPSeq != 3 || p.L4Len != 8 || string(p.Payload()) != "x6" {
		t.Fatalf("icmp6 type %d id %#x seq %d payload %q", p.ICMPType, p.ICMPID, p.ICMPSeq, p.Payload())
	}
	if p.Flags&packet.FlagL4CsumBad != 0 {
		t.Fatal("icmp6 checksum reported bad")
	}
	// MLD query with a hop limit other than 1.
	ip6.HopLimit = 64
	mld := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(130, 0)}
	mld.SetNetworkLayerForChecksum(ip6)
	data = serialize(t, eth6, ip6, mld, gopacket.Payload(make([]byte, 20)))
	p, _ = decodeFrame(t, packet.LinkEthernet, data)
	if !p.HasEvent(EvICMPv6MLDMessageWithInvalidHL) {
		t.Fatal("mld hop limit event missing")
	}
}

func TestIPv4Fragments(t *testing.T) {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 77, Flags: layers.IPv4MoreFragments,
		Protocol: layers.IPProtocolUDP, SrcIP: v4A, DstIP: v4B}
	// First fragment: UDP header complete, datagram continues elsewhere.
	udphdr := []byte{0x30, 0x39, 0x00, 0x35, 0x01, 0x00, 0x00, 0x00}
	data := serialize(t, ip, gopacket.Payload(append(udphdr, make([]byte, 16)...)))
	p, _ := decodeFrame(t, packet.LinkIPv4, data)
	wantNoEvents(t, p)
	if p.Flags&packet.FlagFragment == 0 || !p.FragMF || p.FragOff != 0 || p.IPID != 77 {
		t.Fatalf("first fragment flags %#x mf %v off %d", p.Flags, p.FragMF, p.FragOff)
	}
	if !p.IsUDP() || p.SrcPort != 12345 || p.DstPort != 53 || p.PayloadLen != 16 {
		t.Fatalf("first fragment udp %v ports %d %d payload %d", p.IsUDP(), p.SrcPort, p.DstPort, p.PayloadLen)
	}
	// Later fragment: no L4, the payload is the fragment data.
	ip.Flags = 0
	ip.FragOffset = 3 // 24 bytes
	data = serialize(t, ip, gopacket.Payload("0123456789"))
	p, d := decodeFrame(t, packet.LinkIPv4, data)
	wantNoEvents(t, p)
	if p.Flags&packet.FlagFragment == 0 || p.FragMF || p.FragOff != 24 || p.IsUDP() || p.L4Len != 0 {
		t.Fatalf("later fragment flags %#x off %d", p.Flags, p.FragOff)
	}
	if p.PayloadOff != 20 || string(p.Payload()) != "0123456789" || d.Stats.Frag4 != 1 {
		t.Fatalf("later fragment payload at %d %q", p.PayloadOff, p.Payload())
	}
}

func TestIPv6Fragment(t *testing.T) {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment, SrcIP: v6A, DstIP: v6B}
	fr := &layers.IPv6Fragment{NextHeader: layers.IPProtocolTCP, FragmentOffset: 10, Identification: 0xdeadbeef}
	data := serialize(t, ip, fr, gopacket.Payload("fragment-data"))
	p, d := decodeFrame(t, packet.LinkRaw, data)
	wantNoEvents(t, p)
	want := packet.FlagIPv6 | packet.FlagIPv6Frag | packet.FlagFragment
	if p.Flags&want != want || p.IsTCP() || p.FragOff != 80 || p.FragMF || p.IPID != 0xdeadbeef {
		t.Fatalf("flags %#x off %d id %#x", p.Flags, p.FragOff, p.IPID)
	}
	if p.IPProto != 6 || p.L3Len != 48 || p.IPv6Exts != packet.ExtFragment || string(p.Payload()) != "fragment-data" {
		t.Fatalf("proto %d l3len %d exts %#x payload %q", p.IPProto, p.L3Len, p.IPv6Exts, p.Payload())
	}
	if d.Stats.Frag6 != 1 || d.Stats.Raw != 1 {
		t.Fatalf("stats %+v", d.Stats)
	}
	// Atomic fragment: decoded through, with exthdr_useless_fh.
	fr.FragmentOffset = 0
	fr.NextHeader = layers.IPProtocolUDP
	udp := &layers.UDP{SrcPort: 1, DstPort: 2}
	udp.SetNetworkLayerForChecksum(ip)
	data = serialize(t, ip, fr, udp, gopacket.Payload("z"))
	p, _ = decodeFrame(t, packet.LinkIPv6, data)
	if !p.HasEvent(EvIPv6ExtHdrUselessFH) || !p.IsUDP() || p.Flags&packet.FlagFragment != 0 || string(p.Payload()) != "z" {
		t.Fatalf("atomic fragment flags %#x payload %q", p.Flags, p.Payload())
	}
}

func TestLinkTypes(t *testing.T) {
	ipPkt := func() []byte {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: v4A, DstIP: v4B}
		udp := &layers.UDP{SrcPort: 7, DstPort: 9}
		udp.SetNetworkLayerForChecksum(ip)
		return serialize(t, ip, udp, gopacket.Payload("data"))
	}()
	ip6Pkt := func() []byte {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: v6A, DstIP: v6B}
		udp := &layers.UDP{SrcPort: 7, DstPort: 9}
		udp.SetNetworkLayerForChecksum(ip)
		return serialize(t, ip, udp, gopacket.Payload("data"))
	}()
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	le32 := func(v uint32) []byte { b := make([]byte, 4); binary.LittleEndian.PutUint32(b, v); return b }
	be32b := func(v uint32) []byte { b := make([]byte, 4); binary.BigEndian.PutUint32(b, v); return b }
	sll := func(proto uint16) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)
		binary.BigEndian.PutUint16(h[14:], proto)
		return h
	}
	sll2 := func(proto uint16) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], proto)
		binary.BigEndian.PutUint16(h[8:], 1)
		return h
	}
	pppoe := func(ppp []byte, payload []byte) []byte {
		h := []byte{0x11, 0x00, 0x12, 0x34, 0, 0}
		binary.BigEndian.PutUint16(h[4:], uint16(len(ppp)+len(payload)))
		return cat(h, ppp, payload)
	}
	ethHdr := func(et uint16) []byte {
		h := make([]byte, 14)
		copy(h, macB)
		copy(h[6:], macA)
		binary.BigEndian.PutUint16(h[12:], et)
		return h
	}
	cases := []struct {
		name string
		lt   packet.LinkType
		data []byte
		v6   bool
	}{
		{"raw4", packet.LinkRaw, ipPkt, false},
		{"raw6", packet.LinkRaw, ip6Pkt, true},
		{"ipv4", packet.LinkIPv4, ipPkt, false},
		{"ipv6", packet.LinkIPv6, ip6Pkt, true},
		{"sll4", packet.LinkLinuxSLL, cat(sll(0x0800), ipPkt), false},
		{"sll6", packet.LinkLinuxSLL, cat(sll(0x86dd), ip6Pkt), true},
		{"sll2", packet.LinkLinuxSLL2, cat(sll2(0x0800), ipPkt), false},
		{"null-le", packet.LinkNull, cat(le32(2), ipPkt), false},
		{"null-be", packet.LinkNull, cat(be32b(2), ipPkt), false},
		{"null6-24", packet.LinkNull, cat(le32(24), ip6Pkt), true},
		{"null6-28", packet.LinkNull, cat(le32(28), ip6Pkt), true},
		{"null6-30", packet.LinkNull, cat(le32(30), ip6Pkt), true},
		{"loop", packet.LinkLoop, cat(be32b(2), ipPkt), false},
		{"loop6", packet.LinkLoop, cat(be32b(24), ip6Pkt), true},
		{"ppp-hdlc", packet.LinkPPP, cat([]byte{0xff, 0x03, 0x00, 0x21}, ipPkt), false},
		{"ppp-pfc", packet.LinkPPP, cat([]byte{0x57}, ip6Pkt), true},
		{"pppoe", packet.LinkEthernet, cat(ethHdr(0x8864), pppoe([]byte{0x00, 0x21}, ipPkt)), false},
		{"pppoe6", packet.LinkEthernet, cat(ethHdr(0x8864), pppoe([]byte{0x00, 0x57}, ip6Pkt)), true},
		{"vlan9100", packet.LinkEthernet, cat(ethHdr(0x9100), []byte{0x00, 0x05, 0x08, 0x00}, ipPkt), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := decodeFrame(t, c.lt, c.data)
			wantNoEvents(t, p)
			if c.v6 != p.IsIPv6() || c.v6 == p.IsIPv4() || !p.IsUDP() || p.SrcPort != 7 || p.DstPort != 9 || string(p.Payload()) != "data" {
				t.Fatalf("flags %#x ports %d %d payload %q", p.Flags, p.SrcPort, p.DstPort, p.Payload())
			}
			if p.Flags&packet.FlagL4CsumBad != 0 {
				t.Fatal("checksum reported bad")
			}
		})
	}
}

func TestTCPOptionsSACKAndTFO(t *testing.T) {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: v4A, DstIP: v4B}
	tcp := &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true, Options: []layers.TCPOption{
		{OptionType: layers.TCPOptionKindSACK, OptionLength: 18, OptionData: make([]byte, 16)},
		{OptionType: 34, OptionLength: 10, OptionData: make([]byte, 8)},
	}}
	tcp.SetNetworkLayerForChecksum(ip)
	p, _ := decodeFrame(t, packet.LinkIPv4, serialize(t, ip, tcp))
	wantNoEvents(t, p)
	if p.Flags&(packet.FlagTCPSACK|packet.FlagTCPTFO) != packet.FlagTCPSACK|packet.FlagTCPTFO {
		t.Fatalf("flags %#x", p.Flags)
	}
	// Experimental-kind TFO with the RFC 7413 magic.
	tcp.Options = []layers.TCPOption{{OptionType: 254, OptionLength: 4, OptionData: []byte{0xf9, 0x89}}}
	p, _ = decodeFrame(t, packet.LinkIPv4, serialize(t, ip, tcp))
	wantNoEvents(t, p)
	if p.Flags&packet.FlagTCPTFO == 0 {
		t.Fatalf("experimental TFO not seen, flags %#x", p.Flags)
	}
}

func TestIPv4Options(t *testing.T) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: v4A, DstIP: v4B,
		Options: []layers.IPv4Option{
			{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}},          // router alert
			{OptionType: 0x07, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, // record route
			{OptionType: 0x01}, {OptionType: 0x01}, {OptionType: 0x01}, {OptionType: 0x01}, {OptionType: 0x01},
		}}
	udp := &layers.UDP{SrcPort: 7, DstPort: 9}
	udp.SetNetworkLayerForChecksum(ip)
	p, _ := decodeFrame(t, packet.LinkIPv4, serialize(t, ip, udp))
	wantNoEvents(t, p)
	want := IPOptBit(IPOptRTRALT) | IPOptBit(IPOptRR) | IPOptBit(IPOptNOP)
	if p.IPv4Opts&want != want || p.L3Len != 36 || !p.IsUDP() {
		t.Fatalf("opts %#x l3len %d", p.IPv4Opts, p.L3Len)
	}
	// 12 bytes of options: not a multiple of 8, which Suricata flags
	// (ipv4.opt_pad_required) while decoding on.
	ip.Options = ip.Options[:3]
	p, _ = decodeFrame(t, packet.LinkIPv4, serialize(t, ip, udp))
	if !p.HasEvent(EvIPv4OptPadRequired) || p.Flags&packet.FlagMalformed != 0 || !p.IsUDP() || p.L3Len != 32 {
		t.Fatalf("12-byte options: events %v flags %#x l3len %d", p.Events[:p.NumEvents], p.Flags, p.L3Len)
	}
}

// TCP MD5 (kind 19) and TCP-AO (kind 29) options set FlagTCPAuth.
func TestTCPAuthOptions(t *testing.T) {
	for _, o := range []layers.TCPOption{
		{OptionType: 19, OptionLength: 18, OptionData: make([]byte, 16)},
		{OptionType: 29, OptionLength: 16, OptionData: make([]byte, 14)},
	} {
		eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: v4A, DstIP: v4B}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, RST: true, ACK: true, Options: []layers.TCPOption{o}}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		p, _ := decodeFrame(t, packet.LinkEthernet, serialize(t, eth, ip, tcp))
		if p.Flags&packet.FlagTCPAuth == 0 {
			t.Errorf("option kind %d: FlagTCPAuth not set", o.OptionType)
		}
		wantNoEvents(t, p)
	}
	p, _ := decodeFrame(t, packet.LinkEthernet, tcpv4Frame(t, nil))
	if p.Flags&packet.FlagTCPAuth != 0 {
		t.Errorf("FlagTCPAuth without the option")
	}
}
