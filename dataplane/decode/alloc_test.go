package decode

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

type benchFrame struct {
	name string
	lt   packet.LinkType
	data []byte
}

func benchFrames(t testing.TB) []benchFrame {
	payload := make([]byte, 512)
	tcp := tcpv4Frame(t, payload)

	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q}
	vlan := &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv6}
	hbh := &layers.IPv6HopByHop{}
	hbh.NextHeader = layers.IPProtocolUDP
	hbh.Options = []*layers.IPv6HopByHopOption{{OptionType: 5, OptionLength: 2, OptionData: []byte{0, 0}}, {OptionType: 0}, {OptionType: 0}}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6HopByHop, SrcIP: v6A, DstIP: v6B, HopByHop: hbh}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip6)
	udp6 := serialize(t, eth, vlan, ip6, udp, gopacket.Payload(make([]byte, 128)))

	eth4 := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: v4A, DstIP: v4B}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}
	icmpFrame := serialize(t, eth4, ip4, icmp, gopacket.Payload(make([]byte, 56)))

	return []benchFrame{
		{"eth-ipv4-tcp", packet.LinkEthernet, tcp},
		{"eth-vlan-ipv6-hbh-udp", packet.LinkEthernet, udp6},
		{"eth-ipv4-icmp", packet.LinkEthernet, icmpFrame},
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	for _, f := range benchFrames(t) {
		for _, csum := range []bool{false, true} {
			d := NewDecoder(Options{Checksums: csum})
			p := &packet.Packet{Data: f.data, LinkType: f.lt}
			allocs := testing.AllocsPerRun(1000, func() { d.Decode(p) })
			if allocs != 0 {
				t.Errorf("%s (checksums %v): %v allocations per packet", f.name, csum, allocs)
			}
			if p.Flags&packet.FlagMalformed != 0 || p.NumEvents != 0 || p.PayloadLen == 0 {
				t.Errorf("%s: decoded badly: flags %#x events %d", f.name, p.Flags, p.NumEvents)
			}
		}
	}
	// Malformed input allocates nothing either.
	d := NewDecoder(Options{Checksums: true})
	p := &packet.Packet{Data: ip6(0, []byte{17, 3, 1, 4, 0, 0, 0, 0}), LinkType: packet.LinkIPv6}
	if a := testing.AllocsPerRun(1000, func() { d.Decode(p) }); a != 0 {
		t.Errorf("malformed IPv6: %v allocations per packet", a)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, f := range benchFrames(b) {
		for _, csum := range []bool{false, true} {
			name := f.name
			if csum {
				name += "/csum"
			}
			b.Run(name, func(b *testing.B) {
				d := NewDecoder(Options{Checksums: csum})
				p := &packet.Packet{Data: f.data, LinkType: f.lt}
				b.ReportAllocs()
				b.SetBytes(int64(len(f.data)))
				for b.Loop() {
					d.Decode(p)
				}
			})
		}
	}
}
