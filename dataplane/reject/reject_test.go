package reject

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xaa}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xbb}
	ip4A = net.IP{10, 1, 0, 1}
	ip4B = net.IP{10, 2, 0, 2}
	ip6A = net.ParseIP("fd00:1::a")
	ip6B = net.ParseIP("fd00:2::b")
)

// frameSpec describes a test packet from A to B.
type frameSpec struct {
	link    packet.LinkType // LinkEthernet or LinkRaw
	vlans   []uint16        // 802.1Q tags (outer first), Ethernet only
	v6      bool
	tcp     *layers.TCP // nil: UDP
	icmp4   *layers.ICMPv4
	icmp6   *layers.ICMPv6
	payload []byte
	src     net.IP // override the source address
	dst     net.IP // override the destination address
	dstMAC  net.HardwareAddr
	srcMAC  net.HardwareAddr
	ip4     func(*layers.IPv4) // last changes to the IPv4 header
}

// build serializes the spec with correct lengths and checksums.
func (f frameSpec) build(t testing.TB) []byte {
	t.Helper()
	var ls []gopacket.SerializableLayer
	var net gopacket.NetworkLayer
	if f.link == packet.LinkEthernet {
		eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
		if f.srcMAC != nil {
			eth.SrcMAC = f.srcMAC
		}
		if f.dstMAC != nil {
			eth.DstMAC = f.dstMAC
		}
		et := layers.EthernetTypeIPv4
		if f.v6 {
			et = layers.EthernetTypeIPv6
		}
		if len(f.vlans) > 0 {
			eth.EthernetType = layers.EthernetTypeDot1Q
			ls = append(ls, eth)
			for i, id := range f.vlans {
				next := layers.EthernetTypeDot1Q
				if i == len(f.vlans)-1 {
					next = et
				}
				ls = append(ls, &layers.Dot1Q{VLANIdentifier: id, Type: next})
			}
		} else {
			eth.EthernetType = et
			ls = append(ls, eth)
		}
	}
	proto := layers.IPProtocolUDP
	switch {
	case f.tcp != nil:
		proto = layers.IPProtocolTCP
	case f.icmp4 != nil:
		proto = layers.IPProtocolICMPv4
	case f.icmp6 != nil:
		proto = layers.IPProtocolICMPv6
	}
	src, dst := ip4A, ip4B
	if f.v6 {
		src, dst = ip6A, ip6B
	}
	if f.src != nil {
		src = f.src
	}
	if f.dst != nil {
		dst = f.dst
	}
	if f.v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 50, NextHeader: proto, SrcIP: src, DstIP: dst, TrafficClass: 0x20, FlowLabel: 0x12345}
		ls = append(ls, ip)
		net = ip
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 50, Protocol: proto, SrcIP: src, DstIP: dst, Id: 0x4321, Flags: layers.IPv4DontFragment, TOS: 0x20}
		if f.ip4 != nil {
			f.ip4(ip)
		}
		ls = append(ls, ip)
		net = ip
	}
	switch {
	case f.tcp != nil:
		f.tcp.SetNetworkLayerForChecksum(net)
		ls = append(ls, f.tcp)
	case f.icmp4 != nil:
		ls = append(ls, f.icmp4)
	case f.icmp6 != nil:
		f.icmp6.SetNetworkLayerForChecksum(net)
		ls = append(ls, f.icmp6)
	default:
		u := &layers.UDP{SrcPort: 40000, DstPort: 53}
		u.SetNetworkLayerForChecksum(net)
		ls = append(ls, u)
	}
	ls = append(ls, gopacket.Payload(f.payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// decoded decodes frame with Vigil's decoder.
func decoded(t testing.TB, link packet.LinkType, frame []byte) *packet.Packet {
	t.Helper()
	p := &packet.Packet{Data: frame, WireLen: len(frame), LinkType: link}
	decode.NewDecoder(decode.Options{Checksums: true}).Decode(p)
	return p
}

// reply builds the reply to spec's packet and decodes it with gopacket.
func reply(t *testing.T, f frameSpec, toSource bool, b *Builder) (gopacket.Packet, []byte, *packet.Packet) {
	t.Helper()
	frame := f.build(t)
	p := decoded(t, f.link, frame)
	if !p.IsIP() {
		t.Fatalf("test packet did not decode: flags %#x events %v", p.Flags, p.Events[:p.NumEvents])
	}
	buf := make([]byte, MaxFrameLen)
	if b == nil {
		b = &Builder{}
	}
	n, err := b.Build(buf, p, toSource)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	out := buf[:n]
	first := layers.LayerTypeEthernet
	if f.link != packet.LinkEthernet {
		first = layers.LayerTypeIPv4
		if f.v6 {
			first = layers.LayerTypeIPv6
		}
	}
	gp := gopacket.NewPacket(out, first, gopacket.Default)
	if el := gp.ErrorLayer(); el != nil {
		t.Fatalf("reply does not decode: %v\n%x", el.Error(), out)
	}
	return gp, out, p
}

// checkLinkAndIP checks the link and IP headers of a reply.
func checkLinkAndIP(t *testing.T, f frameSpec, gp gopacket.Packet, out []byte, toSource bool, proto layers.IPProtocol, l4len int) {
	t.Helper()
	src, dst := ip4A, ip4B
	if f.v6 {
		src, dst = ip6A, ip6B
	}
	smac, dmac := macA, macB
	if toSource {
		src, dst = dst, src
		smac, dmac = dmac, smac
	}
	iplen := 20 + l4len
	if f.v6 {
		iplen = 40 + l4len
	}
	if f.link == packet.LinkEthernet {
		eth, _ := gp.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if eth == nil {
			t.Fatal("no Ethernet layer")
		}
		if !bytes.Equal(eth.SrcMAC, smac) || !bytes.Equal(eth.DstMAC, dmac) {
			t.Errorf("MACs %v -> %v, want %v -> %v", eth.SrcMAC, eth.DstMAC, smac, dmac)
		}
		var tags []uint16
		for _, l := range gp.Layers() {
			if q, ok := l.(*layers.Dot1Q); ok {
				tags = append(tags, q.VLANIdentifier)
			}
		}
		if len(tags) != len(f.vlans) || (len(tags) > 0 && !equalU16(tags, f.vlans)) {
			t.Errorf("VLAN tags %v, want %v", tags, f.vlans)
		}
		want := 14 + 4*len(f.vlans) + iplen
		if want < 60 {
			want = 60
		}
		if len(out) != want {
			t.Errorf("frame length %d, want %d", len(out), want)
		}
	} else if len(out) != iplen {
		t.Errorf("frame length %d, want %d", len(out), iplen)
	}
	if f.v6 {
		ip, _ := gp.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		if ip == nil {
			t.Fatal("no IPv6 layer")
		}
		if !ip.SrcIP.Equal(src) || !ip.DstIP.Equal(dst) || ip.HopLimit != 64 || ip.NextHeader != proto ||
			ip.Length != uint16(l4len) || ip.TrafficClass != 0 || ip.FlowLabel != 0 {
			t.Errorf("IPv6 %v -> %v hops %d next %v len %d class %d flow %d", ip.SrcIP, ip.DstIP, ip.HopLimit, ip.NextHeader, ip.Length, ip.TrafficClass, ip.FlowLabel)
		}
		return
	}
	ip, _ := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip == nil {
		t.Fatal("no IPv4 layer")
	}
	if !ip.SrcIP.Equal(src) || !ip.DstIP.Equal(dst) || ip.TTL != 64 || ip.Protocol != proto ||
		int(ip.Length) != iplen || ip.IHL != 5 || ip.TOS != 0 || ip.Id != 0 || ip.Flags != 0 || ip.FragOffset != 0 {
		t.Errorf("IPv4 %v -> %v ttl %d proto %v len %d ihl %d tos %d id %d flags %v", ip.SrcIP, ip.DstIP, ip.TTL, ip.Protocol, ip.Length, ip.IHL, ip.TOS, ip.Id, ip.Flags)
	}
	if err, res := ip.VerifyChecksum(); err != nil || !res.Valid {
		t.Errorf("IPv4 header checksum %#x, want %#x (%v)", res.Actual, res.Correct, err)
	}
}

func equalU16(a, b []uint16) bool {
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

func TestTCPReset(t *testing.T) {
	const seq, ack = 1000000, 3000000000
	type tcase struct {
		name           string
		tcp            layers.TCP
		payload        int
		wantSeq        uint32 // toward the source
		wantAck        uint32
		wantDstAck     uint32 // toward the destination
		wantDstSeq     uint32
		wantSrcWindow  uint16
		wantLinuxValid bool
	}
	cases := []tcase{
		{name: "syn", tcp: layers.TCP{SYN: true, Seq: seq, Window: 64240},
			wantSeq: 0, wantAck: seq + 1, wantDstSeq: seq, wantDstAck: 0},
		{name: "data", tcp: layers.TCP{ACK: true, PSH: true, Seq: seq, Ack: ack, Window: 502}, payload: 100,
			wantSeq: ack, wantAck: seq + 100, wantDstSeq: seq, wantDstAck: ack},
		{name: "fin", tcp: layers.TCP{ACK: true, FIN: true, Seq: seq, Ack: ack, Window: 1000}, payload: 10,
			wantSeq: ack, wantAck: seq + 11, wantDstSeq: seq, wantDstAck: ack},
		{name: "synack", tcp: layers.TCP{SYN: true, ACK: true, Seq: 0xffffffff, Ack: ack, Window: 65535},
			wantSeq: ack, wantAck: 0, wantDstSeq: 0xffffffff, wantDstAck: ack},
		{name: "ack-zero-with-flag", tcp: layers.TCP{ACK: true, Seq: seq, Ack: 0, Window: 7},
			wantSeq: 0, wantAck: seq, wantDstSeq: seq, wantDstAck: 0},
	}
	links := []struct {
		name  string
		link  packet.LinkType
		vlans []uint16
	}{
		{"eth", packet.LinkEthernet, nil},
		{"vlan", packet.LinkEthernet, []uint16{100}},
		{"qinq", packet.LinkEthernet, []uint16{10, 20, 30}},
		{"raw", packet.LinkRaw, nil},
	}
	for _, c := range cases {
		for _, l := range links {
			for _, v6 := range []bool{false, true} {
				for _, toSource := range []bool{true, false} {
					name := c.name + "/" + l.name
					if v6 {
						name += "/v6"
					}
					if toSource {
						name += "/tosrc"
					} else {
						name += "/todst"
					}
					t.Run(name, func(t *testing.T) {
						tcp := c.tcp
						tcp.SrcPort, tcp.DstPort = 40001, 443
						tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}
						f := frameSpec{link: l.link, vlans: l.vlans, v6: v6, tcp: &tcp, payload: make([]byte, c.payload)}
						gp, out, _ := reply(t, f, toSource, nil)
						proto := layers.IPProtocolTCP
						checkLinkAndIP(t, f, gp, out, toSource, proto, 20)
						rt, _ := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
						if rt == nil {
							t.Fatal("no TCP layer")
						}
						sport, dport := layers.TCPPort(40001), layers.TCPPort(443)
						wantSeq, wantAck := c.wantDstSeq, c.wantDstAck
						if toSource {
							sport, dport = dport, sport
							wantSeq, wantAck = c.wantSeq, c.wantAck
						}
						if rt.SrcPort != sport || rt.DstPort != dport || rt.Seq != wantSeq || rt.Ack != wantAck {
							t.Errorf("TCP %d -> %d seq %d ack %d, want %d -> %d seq %d ack %d", rt.SrcPort, rt.DstPort, rt.Seq, rt.Ack, sport, dport, wantSeq, wantAck)
						}
						if !rt.RST || !rt.ACK || rt.SYN || rt.FIN || rt.PSH || rt.URG || rt.ECE || rt.CWR || rt.DataOffset != 5 || len(rt.Options) != 0 || len(rt.Payload) != 0 {
							t.Errorf("TCP flags/offset: rst %v ack %v syn %v fin %v psh %v offset %d opts %d payload %d", rt.RST, rt.ACK, rt.SYN, rt.FIN, rt.PSH, rt.DataOffset, len(rt.Options), len(rt.Payload))
						}
						if rt.Window != c.tcp.Window || rt.Urgent != 0 {
							t.Errorf("window %d urgent %d, want %d 0", rt.Window, rt.Urgent, c.tcp.Window)
						}
						var nl gopacket.NetworkLayer = gp.NetworkLayer()
						rt.SetNetworkLayerForChecksum(nl)
						if err, res := rt.VerifyChecksum(); err != nil || !res.Valid {
							t.Errorf("TCP checksum %#x, want %#x (%v)", res.Actual, res.Correct, err)
						}
						// Vigil's own decoder agrees (checksums on).
						rp := decoded(t, f.link, out)
						if !rp.IsTCP() || rp.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad|packet.FlagMalformed) != 0 || rp.TCPFlags != packet.TCPRst|packet.TCPAck {
							t.Errorf("Vigil decodes the reply with flags %#x tcp flags %#x", rp.Flags, rp.TCPFlags)
						}
						// A reset is never answered.
						if _, err := Build(make([]byte, MaxFrameLen), rp, true); !errors.Is(err, ErrNoReply) {
							t.Errorf("Build on the reset itself: %v, want ErrNoReply", err)
						}
					})
				}
			}
		}
	}
}

func TestUnreachable(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, link := range []packet.LinkType{packet.LinkEthernet, packet.LinkRaw} {
			for _, size := range []int{0, 5, 100, 1400} {
				for _, toSource := range []bool{true, false} {
					for _, code := range []Unreachable{AdminProhibited, PortUnreachable} {
						f := frameSpec{link: link, v6: v6, payload: bytes.Repeat([]byte{0x5a}, size)}
						if link == packet.LinkEthernet {
							f.vlans = []uint16{7}
						}
						name := "v4"
						if v6 {
							name = "v6"
						}
						t.Run(name, func(t *testing.T) {
							orig := f.build(t)
							gp, out, p := reply(t, f, toSource, &Builder{Unreachable: code})
							ipStart := p.L3Off
							origIP := orig[ipStart : ipStart+p.IPLen] // without Ethernet padding
							limit := 548
							if v6 {
								limit = 1232
							}
							wantQuote := min(len(origIP), limit)
							proto := layers.IPProtocolICMPv4
							if v6 {
								proto = layers.IPProtocolICMPv6
							}
							checkLinkAndIP(t, f, gp, out, toSource, proto, 8+wantQuote)
							var quoted []byte
							if v6 {
								ic, _ := gp.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
								if ic == nil {
									t.Fatal("no ICMPv6 layer")
								}
								wantCode := uint8(1)
								if code == PortUnreachable {
									wantCode = 4
								}
								if ic.TypeCode.Type() != 1 || ic.TypeCode.Code() != wantCode {
									t.Errorf("ICMPv6 %v, want 1/%d", ic.TypeCode, wantCode)
								}
								ic.SetNetworkLayerForChecksum(gp.NetworkLayer())
								if err, res := ic.VerifyChecksum(); err != nil || !res.Valid {
									t.Errorf("ICMPv6 checksum %#x, want %#x (%v)", res.Actual, res.Correct, err)
								}
								// Contents: type, code, checksum; the
								// unused word leads the payload.
								rest := append(append([]byte(nil), ic.Contents[4:]...), ic.Payload...)
								if !bytes.Equal(rest[:4], []byte{0, 0, 0, 0}) {
									t.Errorf("unused word %x", rest[:4])
								}
								quoted = rest[4:]
							} else {
								ic, _ := gp.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
								if ic == nil {
									t.Fatal("no ICMPv4 layer")
								}
								wantCode := uint8(10)
								if code == PortUnreachable {
									wantCode = 3
								}
								if ic.TypeCode.Type() != 3 || ic.TypeCode.Code() != wantCode || ic.Id != 0 || ic.Seq != 0 {
									t.Errorf("ICMPv4 %v id %d seq %d, want 3/%d", ic.TypeCode, ic.Id, ic.Seq, wantCode)
								}
								if err, res := ic.VerifyChecksum(); err != nil || !res.Valid {
									t.Errorf("ICMPv4 checksum %#x, want %#x (%v)", res.Actual, res.Correct, err)
								}
								quoted = ic.Payload
								if ipLen := 20 + 8 + len(quoted); ipLen > 576 {
									t.Errorf("ICMPv4 datagram of %d bytes, above 576", ipLen)
								}
							}
							if !bytes.Equal(quoted, origIP[:wantQuote]) {
								t.Errorf("quoted %d bytes differ from the original's first %d", len(quoted), wantQuote)
							}
							rp := decoded(t, f.link, out)
							if rp.Flags&(packet.FlagIPv4CsumBad|packet.FlagL4CsumBad) != 0 || (!rp.IsICMPv4() && !rp.IsICMPv6()) {
								t.Errorf("Vigil decodes the reply with flags %#x", rp.Flags)
							}
							if _, err := Build(make([]byte, MaxFrameLen), rp, true); !errors.Is(err, ErrNoReply) {
								t.Errorf("Build on the unreachable itself: %v, want ErrNoReply", err)
							}
						})
					}
				}
			}
		}
	}
}

// TestEchoAnswered: an ICMP echo request (not an error) gets an unreachable.
func TestEchoAnswered(t *testing.T) {
	f := frameSpec{link: packet.LinkEthernet, icmp4: &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 2}, payload: []byte("ping")}
	gp, _, _ := reply(t, f, true, nil)
	if ic, _ := gp.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ic == nil || ic.TypeCode.Type() != 3 {
		t.Fatalf("echo request answered with %v", gp)
	}
	f6 := frameSpec{link: packet.LinkRaw, v6: true, icmp6: &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, payload: []byte{0, 1, 0, 2, 'p'}}
	gp, _, _ = reply(t, f6, true, nil)
	if ic, _ := gp.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ic == nil || ic.TypeCode.Type() != 1 {
		t.Fatalf("echo request answered with %v", gp)
	}
}

func TestNoReply(t *testing.T) {
	tcp := func(rst bool) *layers.TCP {
		return &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, RST: rst, Seq: 5, Ack: 6}
	}
	frag := func(ip *layers.IPv4) { ip.Flags = 0; ip.FragOffset = 100 }
	cases := []struct {
		name string
		f    frameSpec
	}{
		{"tcp-rst", frameSpec{link: packet.LinkEthernet, tcp: tcp(true)}},
		{"tcp-rst-v6", frameSpec{link: packet.LinkRaw, v6: true, tcp: tcp(true)}},
		{"icmp-unreach", frameSpec{link: packet.LinkEthernet, icmp4: &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, payload: make([]byte, 28)}},
		{"icmp-time-exceeded", frameSpec{link: packet.LinkRaw, icmp4: &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(11, 0)}, payload: make([]byte, 28)}},
		{"icmp-redirect", frameSpec{link: packet.LinkRaw, icmp4: &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(5, 1)}, payload: make([]byte, 28)}},
		{"icmp6-packet-too-big", frameSpec{link: packet.LinkEthernet, v6: true, icmp6: &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(2, 0)}, payload: make([]byte, 52)}},
		{"icmp6-unreach", frameSpec{link: packet.LinkRaw, v6: true, icmp6: &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}, payload: make([]byte, 52)}},
		{"fragment", frameSpec{link: packet.LinkEthernet, payload: make([]byte, 40), ip4: frag}},
		{"multicast-src", frameSpec{link: packet.LinkRaw, src: net.IP{224, 0, 0, 1}}},
		{"broadcast-src", frameSpec{link: packet.LinkRaw, src: net.IP{255, 255, 255, 255}}},
		{"unspecified-src", frameSpec{link: packet.LinkRaw, src: net.IP{0, 0, 0, 0}}},
		{"multicast-dst", frameSpec{link: packet.LinkRaw, dst: net.IP{239, 1, 2, 3}}},
		{"broadcast-dst", frameSpec{link: packet.LinkRaw, dst: net.IP{255, 255, 255, 255}}},
		{"multicast-src-v6", frameSpec{link: packet.LinkRaw, v6: true, src: net.ParseIP("ff02::1")}},
		{"unspecified-src-v6", frameSpec{link: packet.LinkRaw, v6: true, src: net.ParseIP("::")}},
		{"multicast-dst-v6", frameSpec{link: packet.LinkEthernet, v6: true, dst: net.ParseIP("ff02::1")}},
		{"broadcast-mac", frameSpec{link: packet.LinkEthernet, dstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}},
		{"multicast-mac", frameSpec{link: packet.LinkEthernet, dstMAC: net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}}},
		{"multicast-src-mac", frameSpec{link: packet.LinkEthernet, srcMAC: net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}}},
	}
	buf := make([]byte, MaxFrameLen)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := decoded(t, c.f.link, c.f.build(t))
			if !p.IsIP() {
				t.Fatalf("test packet did not decode")
			}
			for _, toSource := range []bool{true, false} {
				n, err := Build(buf, p, toSource)
				if !errors.Is(err, ErrNoReply) || n != 0 {
					t.Errorf("toSource=%v: Build = %d, %v; want ErrNoReply", toSource, n, err)
				}
			}
		})
	}
	// An IPv6 non-first fragment.
	v6 := frameSpec{link: packet.LinkRaw, v6: true}.build(t)
	fragHdr := []byte{17, 0, 0x00, 0x10 | 0x01, 0, 0, 0, 9} // next UDP, offset 2 (16 bytes), M=1, id 9
	pkt := append(append(append([]byte(nil), v6[:40]...), fragHdr...), v6[40:]...)
	pkt[6] = 44
	pkt[4], pkt[5] = 0, byte(len(pkt)-40)
	p := decoded(t, packet.LinkRaw, pkt)
	if _, err := Build(buf, p, true); !errors.Is(err, ErrNoReply) || p.FragOff == 0 {
		t.Errorf("IPv6 fragment offset %d: Build %v, want ErrNoReply", p.FragOff, err)
	}
	// Not IP, made up, tunnel.
	arp := make([]byte, 42)
	copy(arp, macB)
	copy(arp[6:], macA)
	arp[12], arp[13] = 0x08, 0x06
	if _, err := Build(buf, decoded(t, packet.LinkEthernet, arp), true); !errors.Is(err, ErrNoReply) {
		t.Errorf("ARP: %v, want ErrNoReply", err)
	}
	udp := decoded(t, packet.LinkRaw, frameSpec{link: packet.LinkRaw}.build(t))
	udp.Flags |= packet.FlagPseudo
	if _, err := Build(buf, udp, true); !errors.Is(err, ErrNoReply) {
		t.Errorf("pseudo packet: %v, want ErrNoReply", err)
	}
	udp = decoded(t, packet.LinkRaw, frameSpec{link: packet.LinkRaw}.build(t))
	udp.Origin = packet.OriginTunnel
	if _, err := Build(buf, udp, true); !errors.Is(err, ErrNoReply) {
		t.Errorf("tunnel packet: %v, want ErrNoReply", err)
	}
	// A first fragment is answered.
	first := decoded(t, packet.LinkEthernet, frameSpec{link: packet.LinkEthernet, payload: make([]byte, 40), ip4: func(ip *layers.IPv4) { ip.Flags = layers.IPv4MoreFragments }}.build(t))
	if first.Flags&packet.FlagFragment == 0 {
		t.Fatal("first fragment not flagged")
	}
	if _, err := Build(buf, first, true); err != nil {
		t.Errorf("first fragment: %v", err)
	}
}

func TestUnsupportedAndShortBuffer(t *testing.T) {
	buf := make([]byte, MaxFrameLen)
	// Linux cooked capture: no link header to build.
	raw := frameSpec{link: packet.LinkRaw}.build(t)
	sll := append(make([]byte, 16), raw...)
	sll[14], sll[15] = 0x08, 0x00
	p := decoded(t, packet.LinkLinuxSLL, sll)
	if !p.IsIP() {
		t.Fatal("SLL packet did not decode")
	}
	if _, err := Build(buf, p, true); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SLL: %v, want ErrUnsupported", err)
	}
	// PPPoE between Ethernet and IP.
	pppoe := append([]byte{}, macB...)
	pppoe = append(pppoe, macA...)
	pppoe = append(pppoe, 0x88, 0x64, 0x11, 0, 0, 1, byte((len(raw)+2)>>8), byte(len(raw)+2), 0x00, 0x21)
	pppoe = append(pppoe, raw...)
	p = decoded(t, packet.LinkEthernet, pppoe)
	if !p.IsIP() {
		t.Fatal("PPPoE packet did not decode")
	}
	if _, err := Build(buf, p, true); !errors.Is(err, ErrUnsupported) {
		t.Errorf("PPPoE: %v, want ErrUnsupported", err)
	}
	// Too small a buffer.
	tcp := &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, Seq: 5, Ack: 6}
	p = decoded(t, packet.LinkEthernet, frameSpec{link: packet.LinkEthernet, tcp: tcp}.build(t))
	if _, err := Build(buf[:59], p, true); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("59-byte buffer: %v, want ErrShortBuffer", err)
	}
	if n, err := Build(buf[:60], p, true); err != nil || n != 60 {
		t.Errorf("60-byte buffer: %d, %v", n, err)
	}
	// The error names the reason.
	_, err := Build(buf, decoded(t, packet.LinkRaw, frameSpec{link: packet.LinkRaw, tcp: &layers.TCP{RST: true}}.build(t)), true)
	if err == nil || err.Error() != "reject: packet must not be answered: TCP reset" {
		t.Errorf("error text %q", err)
	}
}

// packetsForAllocs returns decoded TCP and UDP packets.
func packetsForAllocs(t testing.TB) []*packet.Packet {
	tcp := &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, PSH: true, Seq: 5, Ack: 6, Window: 100}
	return []*packet.Packet{
		decoded(t, packet.LinkEthernet, frameSpec{link: packet.LinkEthernet, vlans: []uint16{5}, tcp: tcp, payload: make([]byte, 200)}.build(t)),
		decoded(t, packet.LinkRaw, frameSpec{link: packet.LinkRaw, v6: true, payload: make([]byte, 1400)}.build(t)),
		decoded(t, packet.LinkEthernet, frameSpec{link: packet.LinkEthernet, payload: make([]byte, 300)}.build(t)),
	}
}

func TestBuildAllocatesNothing(t *testing.T) {
	pkts := packetsForAllocs(t)
	buf := make([]byte, MaxFrameLen)
	rst := decoded(t, packet.LinkRaw, frameSpec{link: packet.LinkRaw, tcp: &layers.TCP{RST: true}}.build(t))
	allocs := testing.AllocsPerRun(200, func() {
		for _, p := range pkts {
			if _, err := Build(buf, p, true); err != nil {
				t.Fatal(err)
			}
			if _, err := Build(buf, p, false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Build(buf, rst, true); err == nil {
			t.Fatal("reset answered")
		}
	})
	if allocs != 0 {
		t.Errorf("Build allocates %.1f times per round", allocs)
	}
}

func BenchmarkBuild(b *testing.B) {
	pkts := packetsForAllocs(b)
	names := []string{"tcp-rst-vlan", "icmp6-1400", "icmp4-300"}
	buf := make([]byte, MaxFrameLen)
	for i, p := range pkts {
		b.Run(names[i], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(buf, p, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
