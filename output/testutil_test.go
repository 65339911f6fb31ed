package output

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// cet is the fixed zone the golden lines use (+0100).
var cet = time.FixedZone("CET", 3600)

// goldenTime is 2009-11-24T21:26:03.604227+0100.
var goldenTime = time.Date(2009, 11, 24, 21, 26, 3, 604227000, cet).UnixNano()

// serialize builds a frame from gopacket layers, fixing lengths and checksums.
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
	macA = net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	macB = net.HardwareAddr{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
)

// tcp4Packet is 1.2.3.4:80 -> 5.6.6.7:1234 carrying payload, as the
// decoder would fill it in.
func tcp4Packet(t testing.TB, payload []byte) *packet.Packet {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP{1, 2, 3, 4}, DstIP: net.IP{5, 6, 6, 7}}
	tcp := &layers.TCP{SrcPort: 80, DstPort: 1234, Seq: 1, Ack: 1, ACK: true, PSH: true, Window: 512}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	data := serialize(t, eth, ip, tcp, gopacket.Payload(payload))
	return &packet.Packet{
		Data: data, WireLen: len(data), TimeNs: goldenTime, LinkType: packet.LinkEthernet, Num: 42,
		Flags:     packet.FlagIPv4 | packet.FlagTCP | packet.FlagToClient | packet.FlagEstablished,
		EtherType: 0x0800, L3Off: 14, L3Len: 20, IPLen: len(data) - 14,
		SrcIP: netip.MustParseAddr("1.2.3.4"), DstIP: netip.MustParseAddr("5.6.6.7"),
		TTL: 64, IPProto: packet.ProtoTCP, L4Off: 34, L4Len: 20, SrcPort: 80, DstPort: 1234,
		TCPFlags: packet.TCPAck | packet.TCPPsh, PayloadOff: 54, PayloadLen: len(payload),
	}
}

// udp4Packet is 10.0.0.1:5353 -> 10.0.0.2:53 with the payload.
func udp4Packet(t testing.TB, payload []byte) *packet.Packet {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	data := serialize(t, eth, ip, udp, gopacket.Payload(payload))
	return &packet.Packet{
		Data: data, WireLen: len(data), TimeNs: goldenTime, LinkType: packet.LinkEthernet, Num: 7,
		Flags: packet.FlagIPv4 | packet.FlagUDP, EtherType: 0x0800, L3Off: 14, L3Len: 20,
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		IPProto: packet.ProtoUDP, L4Off: 34, L4Len: 8, SrcPort: 5353, DstPort: 53,
		PayloadOff: 42, PayloadLen: len(payload),
	}
}

// icmp4VLANPacket is an echo request 192.168.1.2 -> 192.168.1.1 in QinQ
// VLANs 100 (outer) and 200.
func icmp4VLANPacket(t testing.TB) *packet.Packet {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q}
	v1 := &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q}
	v2 := &layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4,
		SrcIP: net.IP{192, 168, 1, 2}, DstIP: net.IP{192, 168, 1, 1}}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}
	data := serialize(t, eth, v1, v2, ip, icmp, gopacket.Payload("ping"))
	return &packet.Packet{
		Data: data, WireLen: len(data), TimeNs: goldenTime, LinkType: packet.LinkEthernet, Num: 3,
		Flags: packet.FlagIPv4 | packet.FlagICMPv4 | packet.FlagToServer,
		VLAN:  [packet.MaxVLAN]uint16{100, 200}, VLANCount: 2, EtherType: 0x0800,
		L3Off: 22, L3Len: 20, SrcIP: netip.MustParseAddr("192.168.1.2"), DstIP: netip.MustParseAddr("192.168.1.1"),
		IPProto: packet.ProtoICMP, L4Off: 42, L4Len: 8, ICMPType: 8, ICMPCode: 0, ICMPID: 1, ICMPSeq: 1,
		PayloadOff: 50, PayloadLen: 4,
	}
}

// icmp6Packet is an echo request 2001:db8::1 -> fe80::202:b3ff:fe1e:8329.
func icmp6Packet(t testing.TB) *packet.Packet {
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::202:b3ff:fe1e:8329")
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	echo := &layers.ICMPv6Echo{Identifier: 9, SeqNumber: 1}
	data := serialize(t, eth, ip, icmp, echo)
	return &packet.Packet{
		Data: data, WireLen: len(data), TimeNs: goldenTime, LinkType: packet.LinkEthernet, Num: 11,
		Flags: packet.FlagIPv6 | packet.FlagICMPv6 | packet.FlagNoFlow, EtherType: 0x86dd,
		L3Off: 14, L3Len: 40, SrcIP: src, DstIP: dst, IPProto: packet.ProtoICMPv6,
		L4Off: 54, L4Len: 8, ICMPType: 128, ICMPCode: 0, PayloadOff: 62, PayloadLen: 0,
	}
}

// tcp6Packet is [2001:db8::10]:51000 -> [2001:db8:0:1::80]:80 carrying
// payload, raw IP link type.
func tcp6Packet(t testing.TB, payload []byte) *packet.Packet {
	src, dst := netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8:0:1::80")
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	tcp := &layers.TCP{SrcPort: 51000, DstPort: 80, Seq: 1, Ack: 1, ACK: true, PSH: true, Window: 512}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	data := serialize(t, ip, tcp, gopacket.Payload(payload))
	return &packet.Packet{
		Data: data, WireLen: len(data), TimeNs: goldenTime, LinkType: packet.LinkRaw, Num: 5,
		Origin: packet.OriginStream,
		Flags:  packet.FlagIPv6 | packet.FlagTCP | packet.FlagToServer | packet.FlagEstablished,
		L3Off:  0, L3Len: 40, SrcIP: src, DstIP: dst, IPProto: packet.ProtoTCP,
		L4Off: 40, L4Len: 20, SrcPort: 51000, DstPort: 80, PayloadOff: 60, PayloadLen: len(payload),
	}
}

// arpPacket is a frame without an IP layer (an alert on a decoder event).
func arpPacket(t testing.TB) *packet.Packet {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
		SourceHwAddress: macA, SourceProtAddress: []byte{10, 0, 0, 1},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}}
	data := serialize(t, eth, arp)
	return &packet.Packet{
		Data: data, WireLen: len(data), TimeNs: goldenTime, LinkType: packet.LinkEthernet, Num: 9,
		EtherType: 0x0806, Flags: packet.FlagNoFlow,
	}
}
