package decode

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// ip4 builds an IPv4 header (with opts, a multiple of 4 bytes) around l4.
func ip4(proto byte, opts, l4 []byte) []byte {
	h := make([]byte, 20+len(opts))
	h[0] = 0x40 | byte(len(h)/4)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(l4)))
	h[8] = 64
	h[9] = proto
	copy(h[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	copy(h[20:], opts)
	binary.BigEndian.PutUint16(h[10:], ^fold(sum(h, 0)))
	return append(h, l4...)
}

// ip6 builds an IPv6 header with next header nh around rest.
func ip6(nh byte, rest []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(rest)))
	h[6] = nh
	h[7] = 1
	h[8], h[23] = 0x20, 1
	h[24], h[39] = 0x20, 2
	return append(h, rest...)
}

// tcpHdr builds a TCP header with the given data offset (in 32-bit words)
// and options.
func tcpHdr(doff int, opts []byte) []byte {
	h := make([]byte, 20, 20+len(opts))
	binary.BigEndian.PutUint16(h[0:], 1000)
	binary.BigEndian.PutUint16(h[2:], 80)
	h[12] = byte(doff << 4)
	h[13] = packet.TCPAck
	return append(h, opts...)
}

func udpHdr(length int, payload []byte) []byte {
	h := []byte{0, 53, 0, 53, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[4:], uint16(length))
	return append(h, payload...)
}

func eth(et uint16, rest ...[]byte) []byte {
	h := make([]byte, 14)
	h[0] = 2
	binary.BigEndian.PutUint16(h[12:], et)
	return append(h, bytes.Join(rest, nil)...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// ext builds an IPv6 extension header of 8*(lenField+1) bytes with next
// header nh and the given body (padded with zeros).
func ext(nh byte, lenField byte, body []byte) []byte {
	h := make([]byte, 8*(int(lenField)+1))
	h[0] = nh
	h[1] = lenField
	copy(h[2:], body)
	return h
}

func fragHdr(nh byte, reserved byte, offMF uint16, id uint32) []byte {
	h := make([]byte, 8)
	h[0], h[1] = nh, reserved
	binary.BigEndian.PutUint16(h[2:], offMF)
	binary.BigEndian.PutUint32(h[4:], id)
	return h
}

func TestMalformed(t *testing.T) {
	okUDP := udpHdr(8, nil)
	cases := []struct {
		name      string
		lt        packet.LinkType
		data      []byte
		ev        packet.EventID
		malformed bool
	}{
		// Link layers.
		{"eth short", packet.LinkEthernet, make([]byte, 10), EvEthernetPktTooSmall, true},
		{"eth unknown type", packet.LinkEthernet, eth(0x1234, make([]byte, 30)), EvEthernetUnknownEtherType, false},
		{"vlan short", packet.LinkEthernet, eth(0x8100, []byte{0, 1}), EvVLANHeaderTooSmall, true},
		{"vlan unknown type", packet.LinkEthernet, eth(0x8100, []byte{0, 1, 0x12, 0x34}, make([]byte, 20)), EvVLANUnknownType, false},
		{"vlan too many", packet.LinkEthernet, eth(0x8100, []byte{0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x81, 0, 0, 4, 0x08, 0}, ip4(17, nil, okUDP)), EvVLANTooManyLayers, true},
		{"sll short", packet.LinkLinuxSLL, make([]byte, 15), EvSLLPktTooSmall, true},
		{"sll2 short", packet.LinkLinuxSLL2, make([]byte, 19), EvSLLPktTooSmall, true},
		{"null short", packet.LinkNull, []byte{2, 0}, EvLTNullPktTooSmall, true},
		{"null unsupported", packet.LinkNull, cat([]byte{99, 0, 0, 0}, ip4(17, nil, okUDP)), EvLTNullUnsupportedType, true},
		{"raw version 5", packet.LinkRaw, append([]byte{0x50}, make([]byte, 30)...), EvIPRawInvalidIPVersion, true},
		{"raw short", packet.LinkRaw, []byte{0x45, 0}, EvIPv4PktTooSmall, true},
		{"ppp short", packet.LinkPPP, []byte{0xff, 0x03}, EvPPPPktTooSmall, true},
		{"ppp wrong type", packet.LinkPPP, []byte{0xff, 0x03, 0x12, 0x34, 0, 0}, EvPPPWrongType, false},
		{"ppp unsupported (IPX)", packet.LinkPPP, []byte{0xff, 0x03, 0x00, 0x2b, 0, 0}, EvPPPUnsupProto, false},
		{"ppp ip4 short", packet.LinkPPP, []byte{0xff, 0x03, 0x00, 0x21, 0x45, 0}, EvPPPIP4PktTooSmall, true},
		{"ppp ip6 short", packet.LinkPPP, []byte{0x00, 0x57, 0x60, 0}, EvPPPIP6PktTooSmall, true},
		{"ppp vju short", packet.LinkPPP, []byte{0x00, 0x2f, 0x45}, EvPPPVJUPktTooSmall, true},
		{"pppoe short", packet.LinkEthernet, eth(0x8864, []byte{0x11, 0, 0, 1}), EvPPPoEPktTooSmall, true},
		{"pppoe disc wrong code", packet.LinkEthernet, eth(0x8863, []byte{0x11, 0x42, 0, 0, 0, 0}), EvPPPoEWrongCode, false},
		{"pppoe disc bad tags", packet.LinkEthernet, eth(0x8863, []byte{0x11, 0x09, 0, 0, 0, 6, 1, 1, 0, 9, 0, 0}), EvPPPoEMalformedTags, true},

		// IPv4.
		{"ipv4 short", packet.LinkIPv4, make([]byte, 19), EvIPv4PktTooSmall, true},
		{"ipv4 wrong version", packet.LinkIPv4, ip6(59, nil), EvIPv4WrongIPVersion, true},
		{"ipv4 hlen small", packet.LinkIPv4, func() []byte { b := ip4(17, nil, okUDP); b[0] = 0x44; return b }(), EvIPv4HLenTooSmall, true},
		{"ipv4 iplen < hlen", packet.LinkIPv4, func() []byte { b := ip4(17, nil, okUDP); b[3] = 19; return b }(), EvIPv4IPLenSmallerThanHLen, true},
		{"ipv4 truncated", packet.LinkIPv4, ip4(17, nil, okUDP)[:25], EvIPv4TruncPkt, true},
		{"ipv4 opt len too big", packet.LinkIPv4, ip4(17, []byte{0x07, 0xff, 4, 0}, okUDP), EvIPv4OptInvalidLen, true},
		{"ipv4 opt len 1", packet.LinkIPv4, ip4(17, []byte{0x94, 0x01, 0, 0}, okUDP), EvIPv4OptInvalidLen, true},
		{"ipv4 opt eol required", packet.LinkIPv4, ip4(17, []byte{1, 1, 1, 0x94}, okUDP), EvIPv4OptEOLRequired, false},
		{"ipv4 opt duplicate", packet.LinkIPv4, ip4(17, []byte{0x94, 4, 0, 0, 0x94, 4, 0, 0}, okUDP), EvIPv4OptDuplicate, false},
		{"ipv4 opt rr malformed", packet.LinkIPv4, ip4(17, []byte{0x07, 7, 5, 0, 0, 0, 0, 0}, okUDP), EvIPv4OptMalformed, false},
		{"ipv4 opt ts malformed", packet.LinkIPv4, ip4(17, []byte{0x44, 8, 4, 0, 0, 0, 0, 0}, okUDP), EvIPv4OptMalformed, false},
		{"ipv4 opt rtralt bad len", packet.LinkIPv4, ip4(17, []byte{0x94, 3, 0, 0}, okUDP), EvIPv4OptInvalidLen, false},
		{"ipv4 opt qs bad len", packet.LinkIPv4, ip4(17, []byte{0x19, 4, 0, 0}, okUDP), EvIPv4OptInvalidLen, false},
		{"ipv4 opt cipso bad tag", packet.LinkIPv4, ip4(17, []byte{0x86, 12, 0, 0, 0, 1, 9, 6, 0, 0, 0, 0}, okUDP), EvIPv4OptMalformed, false},
		{"ipv4 opt unknown", packet.LinkIPv4, ip4(17, []byte{0x9e, 4, 0, 0}, okUDP), EvIPv4OptInvalid, false},
		{"ipv4 with icmpv6", packet.LinkIPv4, ip4(58, nil, make([]byte, 8)), EvIPv4ICMPv6, true},

		// TCP.
		{"tcp short", packet.LinkIPv4, ip4(6, nil, make([]byte, 10)), EvTCPPktTooSmall, true},
		{"tcp hlen > data", packet.LinkIPv4, ip4(6, nil, tcpHdr(15, nil)), EvTCPHLenTooSmall, true},
		{"tcp offset < 5", packet.LinkIPv4, ip4(6, nil, tcpHdr(4, nil)), EvTCPInvalidOptLen, true},
		{"tcp opt len 0", packet.LinkIPv4, ip4(6, nil, tcpHdr(6, []byte{2, 0, 0, 0})), EvTCPOptInvalidLen, false},
		{"tcp opt len past end", packet.LinkIPv4, ip4(6, nil, tcpHdr(6, []byte{1, 2, 8, 0})), EvTCPOptInvalidLen, false},
		{"tcp mss bad len", packet.LinkIPv4, ip4(6, nil, tcpHdr(6, []byte{2, 3, 5, 0})), EvTCPOptInvalidLen, false},
		{"tcp ws bad len", packet.LinkIPv4, ip4(6, nil, tcpHdr(6, []byte{3, 4, 5, 0})), EvTCPOptInvalidLen, false},
		{"tcp sack bad len", packet.LinkIPv4, ip4(6, nil, tcpHdr(8, []byte{5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})), EvTCPOptInvalidLen, false},
		{"tcp ts bad len", packet.LinkIPv4, ip4(6, nil, tcpHdr(7, []byte{8, 8, 0, 0, 0, 0, 0, 0})), EvTCPOptInvalidLen, false},
		{"tcp mss duplicate", packet.LinkIPv4, ip4(6, nil, tcpHdr(7, []byte{2, 4, 5, 0xb4, 2, 4, 5, 0xb4})), EvTCPOptDuplicate, false},
		{"tcp ws duplicate", packet.LinkIPv4, ip4(6, nil, tcpHdr(7, []byte{3, 3, 1, 3, 3, 1, 0, 0})), EvTCPOptDuplicate, false},

		// UDP.
		{"udp short", packet.LinkIPv4, ip4(17, nil, make([]byte, 4)), EvUDPHLenTooSmall, true},
		{"udp len > data", packet.LinkIPv4, ip4(17, nil, udpHdr(100, nil)), EvUDPPktTooSmall, true},
		{"udp len < 8", packet.LinkIPv4, ip4(17, nil, udpHdr(4, nil)), EvUDPLenInvalid, true},

		// ICMPv4.
		{"icmp short", packet.LinkIPv4, ip4(1, nil, []byte{8, 0, 0, 0}), EvICMPv4PktTooSmall, true},
		{"icmp unknown type", packet.LinkIPv4, ip4(1, nil, []byte{99, 0, 0, 0, 0, 0, 0, 0}), EvICMPv4UnknownType, false},
		{"icmp echo bad code", packet.LinkIPv4, ip4(1, nil, []byte{8, 5, 0, 0, 0, 0, 0, 0}), EvICMPv4UnknownCode, false},
		{"icmp unreach bad code", packet.LinkIPv4, ip4(1, nil, []byte{3, 16, 0, 0, 0, 0, 0, 0}), EvICMPv4UnknownCode, false},
		{"icmp unreach short ip", packet.LinkIPv4, ip4(1, nil, cat([]byte{3, 1, 0, 0, 0, 0, 0, 0}, make([]byte, 10))), EvICMPv4IPv4TruncPkt, false},
		{"icmp unreach ip version", packet.LinkIPv4, ip4(1, nil, cat([]byte{11, 0, 0, 0, 0, 0, 0, 0}, ip6(59, nil))), EvICMPv4IPv4UnknownVer, false},
		{"icmp timestamp short", packet.LinkIPv4, ip4(1, nil, []byte{13, 0, 0, 0, 0, 0, 0, 0, 1}), EvICMPv4IPv4TruncPkt, false},

		// IPv6.
		{"ipv6 short", packet.LinkIPv6, make([]byte, 39), EvIPv6PktTooSmall, true},
		{"ipv6 wrong version", packet.LinkIPv6, ip4(17, nil, make([]byte, 30)), EvIPv6WrongIPVersion, true},
		{"ipv6 truncated", packet.LinkIPv6, ip6(17, okUDP)[:44], EvIPv6TruncPkt, true},
		{"ipv6 exthdr trunc", packet.LinkIPv6, ip6(0, []byte{17, 3, 1, 4, 0, 0, 0, 0}), EvIPv6TruncExtHdr, true},
		{"ipv6 exthdr 1 byte", packet.LinkIPv6, ip6(43, []byte{17}), EvIPv6TruncExtHdr, true},
		{"ipv6 dupl hh", packet.LinkIPv6, ip6(0, cat(ext(0, 0, []byte{5, 2, 0, 0, 1, 0}), ext(17, 0, []byte{5, 2, 0, 0, 1, 0}), okUDP)), EvIPv6ExtHdrDuplHH, false},
		{"ipv6 dupl dh", packet.LinkIPv6, ip6(60, cat(ext(60, 0, []byte{5, 2, 0, 0, 1, 0}), ext(60, 0, []byte{5, 2, 0, 0, 1, 0}), ext(17, 0, []byte{5, 2, 0, 0, 1, 0}), okUDP)), EvIPv6ExtHdrDuplDH, false},
		{"ipv6 rh type 0", packet.LinkIPv6, ip6(43, cat(ext(17, 0, []byte{0, 0}), okUDP)), EvIPv6RHType0, false},
		{"ipv6 dupl rh", packet.LinkIPv6, ip6(43, cat(ext(43, 0, []byte{2, 0}), ext(17, 0, []byte{2, 0}), okUDP)), EvIPv6ExtHdrDuplRH, false},
		{"ipv6 dupl fh", packet.LinkIPv6, ip6(44, cat(fragHdr(44, 0, 0, 1), fragHdr(17, 0, 0, 2), okUDP)), EvIPv6ExtHdrDuplFH, false},
		{"ipv6 fh reserved", packet.LinkIPv6, ip6(44, cat(fragHdr(17, 1, 8, 1), okUDP)), EvIPv6FHNonZeroReservedField, false},
		{"ipv6 fh trunc", packet.LinkIPv6, ip6(44, []byte{17, 0, 0, 0}), EvIPv6TruncExtHdr, true},
		{"ipv6 ah reserved", packet.LinkIPv6, ip6(51, cat([]byte{17, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, okUDP)), EvIPv6ExtHdrAHResNotNull, false},
		{"ipv6 dupl ah", packet.LinkIPv6, ip6(51, cat([]byte{51, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, okUDP)), EvIPv6ExtHdrDuplAH, false},
		{"ipv6 data after none", packet.LinkIPv6, ip6(59, []byte{1, 2, 3}), EvIPv6DataAfterNoneHeader, false},
		{"ipv6 unknown nh", packet.LinkIPv6, ip6(200, []byte{1, 2, 3}), EvIPv6UnknownNextHeader, false},
		{"ipv6 with icmpv4", packet.LinkIPv6, ip6(1, make([]byte, 8)), EvIPv6ICMPv4, false},
		{"ipv6 zero len padn", packet.LinkIPv6, ip6(0, cat(ext(17, 0, []byte{5, 2, 0, 0, 1, 0}), okUDP)), EvIPv6ZeroLenPadN, false},
		{"ipv6 hop only padding", packet.LinkIPv6, ip6(0, cat(ext(17, 0, []byte{1, 4, 0, 0, 0, 0}), okUDP)), EvIPv6HopOptsOnlyPadding, false},
		{"ipv6 dst only padding", packet.LinkIPv6, ip6(60, cat(ext(17, 0, []byte{0, 0, 0, 0, 0, 0}), okUDP)), EvIPv6DstOptsOnlyPadding, false},
		{"ipv6 hop unknown opt", packet.LinkIPv6, ip6(0, cat(ext(17, 0, []byte{0x3e, 4, 0, 0, 0, 0}), okUDP)), EvIPv6HopOptsUnknownOpt, false},
		{"ipv6 dst unknown opt", packet.LinkIPv6, ip6(60, cat(ext(17, 0, []byte{0x3e, 4, 0, 0, 0, 0}), okUDP)), EvIPv6DstOptsUnknownOpt, false},
		{"ipv6 opt len past hdr", packet.LinkIPv6, ip6(0, cat(ext(17, 0, []byte{1, 9, 0, 0, 0, 0}), okUDP)), EvIPv6ExtHdrInvalidOptLen, false},
		{"ipv6 ra short", packet.LinkIPv6, ip6(0, cat(ext(17, 0, []byte{5, 1, 0, 1, 1, 0}), okUDP)), EvIPv6ExtHdrInvalidOptLen, false},
		{"ipv4 in ipv6 short", packet.LinkIPv6, ip6(4, make([]byte, 10)), EvIPv6IPv4InIPv6TooSmall, false},
		{"ipv4 in ipv6 version", packet.LinkIPv6, ip6(4, make([]byte, 20)), EvIPv6IPv4InIPv6WrongVersion, false},
		{"ipv6 in ipv6 short", packet.LinkIPv6, ip6(41, make([]byte, 10)), EvIPv6IPv6InIPv6TooSmall, false},
		{"ipv6 in ipv6 version", packet.LinkIPv6, ip6(41, ip4(17, nil, make([]byte, 20))), EvIPv6IPv6InIPv6WrongVersion, false},

		// ICMPv6.
		{"icmp6 short", packet.LinkIPv6, ip6(58, []byte{128, 0, 0}), EvICMPv6PktTooSmall, true},
		{"icmp6 echo bad code", packet.LinkIPv6, ip6(58, []byte{128, 1, 0, 0, 0, 0, 0, 0}), EvICMPv6UnknownCode, false},
		{"icmp6 unreach bad code", packet.LinkIPv6, ip6(58, []byte{1, 7, 0, 0, 0, 0, 0, 0}), EvICMPv6UnknownCode, false},
		{"icmp6 unassigned", packet.LinkIPv6, ip6(58, []byte{50, 0, 0, 0, 0, 0, 0, 0}), EvICMPv6UnassignedType, false},
		{"icmp6 experimental", packet.LinkIPv6, ip6(58, []byte{200, 0, 0, 0, 0, 0, 0, 0}), EvICMPv6ExperimentationType, false},
		{"icmp6 unknown type", packet.LinkIPv6, ip6(58, []byte{0, 0, 0, 0, 0, 0, 0, 0}), EvICMPv6UnknownType, false},
		{"icmp6 unreach short ip", packet.LinkIPv6, ip6(58, cat([]byte{1, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 12))), EvICMPv6IPv6TruncPkt, false},
		{"icmp6 unreach ip version", packet.LinkIPv6, ip6(58, cat([]byte{3, 0, 0, 0, 0, 0, 0, 0}, ip4(17, nil, make([]byte, 20)))), EvICMPv6IPv6UnknownVersion, false},
		{"icmp6 ns bad code", packet.LinkIPv6, ip6(58, []byte{135, 3, 0, 0, 0, 0, 0, 0}), EvICMPv6UnknownCode, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, d := decodeFrame(t, c.lt, c.data)
			if !p.HasEvent(c.ev) {
				names := []string{}
				for _, e := range p.Events[:p.NumEvents] {
					names = append(names, EventName(e))
				}
				t.Fatalf("event %s not raised; got %v", EventName(c.ev), names)
			}
			if d.Stats.Events[c.ev] == 0 {
				t.Fatalf("event %s not counted", EventName(c.ev))
			}
			if got := p.Flags&packet.FlagMalformed != 0; got != c.malformed {
				t.Fatalf("FlagMalformed = %v, want %v", got, c.malformed)
			}
			if c.malformed && d.Stats.Invalid != 1 {
				t.Fatalf("Invalid counter %d", d.Stats.Invalid)
			}
		})
	}
}

// A truncated IPv4 packet keeps its addresses but gets no L4.
func TestTruncatedKeepsL3(t *testing.T) {
	b := ip4(6, nil, tcpHdr(5, nil))
	p, _ := decodeFrame(t, packet.LinkIPv4, b[:30])
	if !p.IsIPv4() || p.IsTCP() || p.SrcIP.String() != "10.0.0.1" || p.IPLen != 30 || p.PayloadLen != 0 {
		t.Fatalf("flags %#x src %v iplen %d", p.Flags, p.SrcIP, p.IPLen)
	}
}

// Hop-by-hop, routing (type 2), destination options, AH, then TCP: every
// header is walked and recorded.
func TestIPv6ExtensionChain(t *testing.T) {
	chain := cat(
		ext(43, 0, []byte{5, 2, 0, 0, 1, 0}),       // hop-by-hop: router alert
		ext(60, 2, []byte{2, 1}),                   // routing type 2, 24 bytes
		ext(51, 0, []byte{0xc9 - 0xc9 + 1, 4}),     // dest opts: PadN(4)... only padding
		[]byte{6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2}, // AH, 12 bytes
		tcpHdr(5, nil), []byte("xyz"))
	p, _ := decodeFrame(t, packet.LinkIPv6, ip6(0, chain))
	want := packet.ExtHopByHop | packet.ExtRouting | packet.ExtDestOpts | packet.ExtAH
	if p.IPv6Exts != want || !p.IsTCP() || p.IPProto != 6 || p.L3Len != 40+8+24+8+12 || string(p.Payload()) != "xyz" {
		t.Fatalf("exts %#x tcp %v proto %d l3len %d payload %q", p.IPv6Exts, p.IsTCP(), p.IPProto, p.L3Len, p.Payload())
	}
	if !p.HasEvent(EvIPv6DstOptsOnlyPadding) || p.HasEvent(EvIPv6RHType0) {
		t.Fatalf("events %v", p.Events[:p.NumEvents])
	}
	// ESP stops the walk.
	p, _ = decodeFrame(t, packet.LinkIPv6, ip6(50, make([]byte, 24)))
	if p.IPv6Exts != packet.ExtESP || p.IPProto != 50 || p.PayloadLen != 24 || p.NumEvents != 0 {
		t.Fatalf("esp exts %#x proto %d payload %d", p.IPv6Exts, p.IPProto, p.PayloadLen)
	}
}

// PPP control protocols (LCP, IPCP, CCP, ...) are normal traffic: no event.
func TestPPPControlProtocolsRaiseNothing(t *testing.T) {
	d := NewDecoder(Options{})
	for _, proto := range []uint16{0xc021, 0x8021, 0x8057, 0x80fd, 0xc223} {
		frame := []byte{0xff, 0x03, byte(proto >> 8), byte(proto), 1, 2, 3, 4}
		p := &packet.Packet{Data: frame, WireLen: len(frame), LinkType: packet.LinkPPP}
		d.Decode(p)
		if p.NumEvents != 0 {
			t.Errorf("PPP protocol %#04x raised %v", proto, p.Events[:p.NumEvents])
		}
	}
}
