// Package reject builds the frames of a reject verdict: a TCP reset for a
// TCP packet, an ICMP or ICMPv6 destination unreachable for anything else,
// as Suricata's respond-reject does (rules with reject, rejectsrc,
// rejectdst, rejectboth).
//
// Build writes one reply frame for one target into a buffer the caller
// owns; the inline source that captured the packet sends it
// (capture.Injector). A reject for both ends is two calls:
//
//	var buf [reject.MaxFrameLen]byte
//	if p.Reject&packet.RejectToSource != 0 || p.Reject == 0 {
//		if n, err := reject.Build(buf[:], p, true); err == nil {
//			src.(capture.Injector).Inject(p, true, buf[:n])
//		}
//	}
//	if p.Reject&packet.RejectToDest != 0 { ... Build(buf[:], p, false) ... Inject(p, false, ...) }
//
// # What is sent
//
// TCP (the packet's TCP header was decoded): a 20-byte RST|ACK segment
// without options, window copied from p, in a 20-byte IPv4 header (TOS 0,
// ID 0, no DF, TTL 64) or a 40-byte IPv6 header (class 0, flow label 0,
// hop limit 64), as Suricata's libnet builder:
//
//   - toward the source (addresses and ports swapped): if p carries an
//     ACK, seq = p's ack and ack = p's seq + segment length; if not (a
//     SYN), seq = 0 and ack = p's seq + segment length (RFC 793 section 3.4).
//     The segment length counts the payload plus one for SYN and one for
//     FIN, as RFC 793 defines it; Suricata adds a fixed 1 when ack is 0
//     and nothing for FIN otherwise, which differs only for segments that
//     carry a FIN or lack both SYN and ACK. Vigil tests the ACK flag where
//     Suricata tests the ack number for 0.
//   - toward the destination (same direction as p): seq = p's seq, ack =
//     p's ack, same ports.
//
// In an established connection the reset's sequence number is then exactly
// what the receiver expects next, which a Linux stack (RFC 5961) requires.
//
// Anything else: ICMPv4 type 3 (destination unreachable) code 10 (host
// administratively prohibited), or ICMPv6 type 1 code 1 (administratively
// prohibited), as Suricata sends; Builder.Unreachable chooses port
// unreachable instead (the default of iptables' REJECT, which a connected
// UDP socket reports as ECONNREFUSED; Linux reports Suricata's codes as
// EHOSTUNREACH and EACCES). The message quotes the original IP packet from
// its IP header on, as much as the RFCs allow and the capture holds: the
// ICMPv4 datagram stays within 576 bytes (RFC 1812 4.3.2.3: 548 bytes
// quoted, at least the header and 8 bytes of RFC 792 when captured), the
// ICMPv6 packet within the IPv6 minimum MTU of 1280 (RFC 4443 2.4(c):
// 1232 bytes quoted).
//
// Toward the destination of a non-TCP packet, Suricata (rejectdst,
// rejectboth) sends the same unreachable with the packet's own addresses,
// source to destination, quoting the packet; Vigil does the same. A Linux
// destination matches an ICMP error against packets it sent itself, so it
// ignores this one; it is sent for parity with Suricata.
//
// Link layer: as p's. Ethernet (packet.LinkEthernet): toward the source the
// MAC addresses are swapped, toward the destination kept; VLAN tags (up to
// packet.MaxVLAN, 802.1Q, 802.1ad or 0x9100) are copied; frames are padded
// to the 60-byte Ethernet minimum. Raw IP (LinkRaw, LinkIPv4, LinkIPv6, as
// NFQUEUE gives): the frame is the IP packet. Other link types and
// encapsulations between Ethernet and IP (PPPoE) give ErrUnsupported.
//
// # What is never answered
//
// Build returns an error wrapping ErrNoReply, with the reason, for packets
// that must not get a reply (RFC 1122 3.2.2 and 4.2.2.13, RFC 4443 2.4(e)):
// non-IP packets, TCP resets, ICMP and ICMPv6 error messages, fragments
// other than the first, packets whose source is a multicast, broadcast or
// unspecified address or whose destination is a multicast or broadcast
// address (IP or Ethernet), tunnel inner packets and packets the engine
// made up (packet.FlagPseudo), as Suricata skips tunnel packets.
//
// Build allocates nothing and keeps nothing: p and its Data are only read
// during the call, and dst must not overlap p.Data.
package reject

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Sizes of what Build writes.
const (
	// DefaultTTL is the IPv4 TTL and IPv6 hop limit of replies (Suricata's).
	DefaultTTL = 64
	// MaxLinkHeader is the longest link header Build writes: Ethernet with
	// packet.MaxVLAN tags.
	MaxLinkHeader = 14 + 4*packet.MaxVLAN
	// MaxICMPv4Len is the longest ICMPv4 reply datagram (RFC 1812).
	MaxICMPv4Len = 576
	// MaxICMPv6Len is the longest ICMPv6 reply packet (RFC 4443, the IPv6
	// minimum MTU).
	MaxICMPv6Len = 1280
	// MaxFrameLen is the largest frame Build writes: a buffer of this size
	// always suffices.
	MaxFrameLen = MaxLinkHeader + MaxICMPv6Len

	minEthFrame = 60 // Ethernet minimum frame without FCS
)

// Unreachable selects the ICMP code of non-TCP rejects.
type Unreachable uint8

const (
	// AdminProhibited is Suricata's choice: ICMPv4 code 10 (host
	// administratively prohibited), ICMPv6 code 1 (administratively
	// prohibited).
	AdminProhibited Unreachable = iota
	// PortUnreachable is iptables REJECT's default: ICMPv4 code 3, ICMPv6
	// code 4.
	PortUnreachable
)

// Builder holds the choices Build leaves at Suricata's defaults. The zero
// Builder builds what Suricata sends.
type Builder struct {
	// TTL is the IPv4 TTL / IPv6 hop limit; 0 means DefaultTTL.
	TTL uint8
	// Unreachable is the ICMP code of non-TCP rejects.
	Unreachable Unreachable
}

// Sentinel errors, for errors.Is. Build wraps them with the reason.
var (
	// ErrNoReply: the packet must not be answered (a reset, an ICMP error,
	// a non-first fragment, a broadcast or multicast source ...).
	ErrNoReply = errors.New("reject: packet must not be answered")
	// ErrUnsupported: a reply cannot be built for the packet's link layer
	// or encapsulation.
	ErrUnsupported = errors.New("reject: cannot build a reply")
	// ErrShortBuffer: dst is smaller than the reply (MaxFrameLen is always
	// enough).
	ErrShortBuffer = errors.New("reject: destination buffer too small")
)

// reasonError wraps a sentinel with the reason. The values are made once,
// so returning them allocates nothing.
type reasonError struct {
	kind   error
	reason string
}

func (e *reasonError) Error() string { return e.kind.Error() + ": " + e.reason }
func (e *reasonError) Unwrap() error { return e.kind }

var (
	errNotIP        = &reasonError{ErrNoReply, "not an IP packet"}
	errPseudo       = &reasonError{ErrNoReply, "packet made up by the engine"}
	errTunnel       = &reasonError{ErrNoReply, "inner packet of a tunnel"}
	errFragment     = &reasonError{ErrNoReply, "fragment other than the first"}
	errRST          = &reasonError{ErrNoReply, "TCP reset"}
	errICMPError    = &reasonError{ErrNoReply, "ICMP error message"}
	errICMPUnknown  = &reasonError{ErrNoReply, "ICMP message type not captured"}
	errSrcAddr      = &reasonError{ErrNoReply, "multicast, broadcast or unspecified source address"}
	errDstAddr      = &reasonError{ErrNoReply, "multicast or broadcast destination address"}
	errSrcMAC       = &reasonError{ErrNoReply, "multicast source MAC address"}
	errDstMAC       = &reasonError{ErrNoReply, "broadcast or multicast destination MAC address"}
	errLinkType     = &reasonError{ErrUnsupported, "link type not Ethernet or raw IP"}
	errEncap        = &reasonError{ErrUnsupported, "headers between Ethernet and IP other than VLAN tags"}
	errHeaders      = &reasonError{ErrUnsupported, "IP or TCP header not complete in the frame"}
	errShortBuf     = &reasonError{ErrShortBuffer, "reply does not fit"}
	errRawLinkFrame = &reasonError{ErrUnsupported, "raw IP frame whose IP header is not at offset 0"}
)

// Build writes into dst the reply frame of a reject of p toward its source
// (toSource) or its destination, with Suricata's choices (the zero
// Builder), and returns its length. p must have been decoded (package
// decode). See the package doc for what is built and refused.
func Build(dst []byte, p *packet.Packet, toSource bool) (int, error) {
	var b Builder
	return b.Build(dst, p, toSource)
}

// Build is the package-level Build with b's choices.
func (b *Builder) Build(dst []byte, p *packet.Packet, toSource bool) (int, error) {
	if err := check(p); err != nil {
		return 0, err
	}
	link, err := linkHeaderLen(p)
	if err != nil {
		return 0, err
	}
	v6 := p.Flags&packet.FlagIPv6 != 0
	ipHdr := 20
	if v6 {
		ipHdr = 40
	}
	tcp := p.Flags&packet.FlagTCP != 0
	var l4len, quoted int
	if tcp {
		l4len = 20
	} else {
		quoted = quoteLen(p, v6)
		l4len = 8 + quoted
	}
	n := link + ipHdr + l4len
	frame := n
	if p.LinkType == packet.LinkEthernet && frame < minEthFrame {
		frame = minEthFrame
	}
	if len(dst) < frame {
		return 0, errShortBuf
	}
	out := dst[:frame]
	if p.LinkType == packet.LinkEthernet {
		writeEthernet(out, p, link, toSource)
	}
	ip := out[link : link+ipHdr]
	l4 := out[link+ipHdr : n]
	src, dstAddr := p.SrcIP, p.DstIP
	if toSource {
		src, dstAddr = dstAddr, src
	}
	ttl := b.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	var proto uint8
	if tcp {
		proto = packet.ProtoTCP
		writeRST(l4, p, toSource)
	} else if v6 {
		proto = packet.ProtoICMPv6
		l4[0], l4[1] = 1, 1 // destination unreachable, administratively prohibited
		if b.Unreachable == PortUnreachable {
			l4[1] = 4
		}
		clear(l4[2:8])
		copy(l4[8:], p.Data[p.L3Off:p.L3Off+quoted])
	} else {
		proto = packet.ProtoICMP
		l4[0], l4[1] = 3, 10 // destination unreachable, host administratively prohibited
		if b.Unreachable == PortUnreachable {
			l4[1] = 3
		}
		clear(l4[2:8])
		copy(l4[8:], p.Data[p.L3Off:p.L3Off+quoted])
	}
	if v6 {
		writeIPv6(ip, src, dstAddr, proto, len(l4), ttl)
	} else {
		writeIPv4(ip, src, dstAddr, proto, len(l4), ttl)
	}
	// Checksums: TCP and ICMPv6 over the pseudo header, ICMPv4 over the
	// message alone.
	var acc uint64
	if proto != packet.ProtoICMP {
		acc = pseudoSum(ip, v6, proto, len(l4))
	}
	ck := 16 // TCP checksum offset
	if !tcp {
		ck = 2
	}
	l4[ck], l4[ck+1] = 0, 0
	binary.BigEndian.PutUint16(l4[ck:], ^fold(sum(l4, acc)))
	clear(out[n:]) // Ethernet padding
	return frame, nil
}

// check refuses the packets that must not be answered.
func check(p *packet.Packet) error {
	if p.Flags&(packet.FlagIPv4|packet.FlagIPv6) == 0 || !p.SrcIP.IsValid() || !p.DstIP.IsValid() {
		return errNotIP
	}
	if p.Flags&packet.FlagPseudo != 0 {
		return errPseudo
	}
	if p.Origin == packet.OriginTunnel {
		return errTunnel
	}
	if p.FragOff != 0 {
		return errFragment
	}
	if badSource(p.SrcIP) {
		return errSrcAddr
	}
	if groupDest(p.DstIP) {
		return errDstAddr
	}
	if p.Flags&packet.FlagTCP != 0 {
		if p.TCPFlags&packet.TCPRst != 0 {
			return errRST
		}
		if p.L4Off < p.L3Off || p.L4Off+20 > len(p.Data) {
			return errHeaders
		}
		return nil
	}
	switch p.IPProto {
	case packet.ProtoICMP:
		if p.Flags&packet.FlagIPv6 != 0 {
			return nil // ICMPv4 inside IPv6: not an ICMPv6 error
		}
		t, ok := icmpType(p)
		if !ok {
			return errICMPUnknown
		}
		switch t {
		case 3, 4, 5, 11, 12: // unreachable, source quench, redirect, time exceeded, parameter problem
			return errICMPError
		}
	case packet.ProtoICMPv6:
		if p.Flags&packet.FlagIPv6 == 0 {
			return nil
		}
		t, ok := icmpType(p)
		if !ok {
			return errICMPUnknown
		}
		if t < 128 { // RFC 4443 2.1: error messages have types 0..127
			return errICMPError
		}
	}
	return nil
}

// icmpType returns the ICMP type of p: decoded, or read from the first
// byte after the IP headers when decoding stopped before it.
func icmpType(p *packet.Packet) (uint8, bool) {
	if p.Flags&(packet.FlagICMPv4|packet.FlagICMPv6) != 0 {
		return p.ICMPType, true
	}
	off := p.L3Off + p.L3Len
	if p.L3Len <= 0 || off >= len(p.Data) {
		return 0, false
	}
	return p.Data[off], true
}

// badSource reports a source that must not be answered: multicast,
// limited broadcast or unspecified.
func badSource(a netip.Addr) bool {
	if a.Is4() {
		b := a.As4()
		return b[0]&0xf0 == 0xe0 || b == [4]byte{255, 255, 255, 255} || b == [4]byte{}
	}
	return a.IsMulticast() || a.IsUnspecified()
}

// groupDest reports a multicast or limited broadcast destination.
func groupDest(a netip.Addr) bool {
	if a.Is4() {
		b := a.As4()
		return b[0]&0xf0 == 0xe0 || b == [4]byte{255, 255, 255, 255}
	}
	return a.IsMulticast()
}

// linkHeaderLen checks p's link layer and returns the length of the link
// header the reply gets (that of p: Ethernet with its VLAN tags, or none).
func linkHeaderLen(p *packet.Packet) (int, error) {
	switch p.LinkType {
	case packet.LinkRaw, packet.LinkIPv4, packet.LinkIPv6:
		if p.L3Off != 0 {
			return 0, errRawLinkFrame
		}
		return 0, nil
	case packet.LinkEthernet:
	default:
		return 0, errLinkType
	}
	d := p.Data
	if p.L3Off < 14 || p.L3Off > MaxLinkHeader || len(d) < p.L3Off || (p.L3Off-14)%4 != 0 {
		return 0, errEncap
	}
	if d[6]&1 != 0 {
		return 0, errSrcMAC
	}
	if d[0]&1 != 0 {
		return 0, errDstMAC
	}
	// Between the MAC addresses and the IP header: VLAN tags (TPID, TCI),
	// then the EtherType of the IP version.
	for off := 12; off < p.L3Off-2; off += 4 {
		switch binary.BigEndian.Uint16(d[off:]) {
		case 0x8100, 0x88a8, 0x9100:
		default:
			return 0, errEncap
		}
	}
	et := binary.BigEndian.Uint16(d[p.L3Off-2:])
	if (p.Flags&packet.FlagIPv6 != 0 && et != 0x86dd) || (p.Flags&packet.FlagIPv6 == 0 && et != 0x0800) {
		return 0, errEncap
	}
	return p.L3Off, nil
}

// writeEthernet copies p's link header, swapping the MAC addresses toward
// the source.
func writeEthernet(out []byte, p *packet.Packet, n int, toSource bool) {
	d := p.Data
	if toSource {
		copy(out[0:6], d[6:12])
		copy(out[6:12], d[0:6])
	} else {
		copy(out[0:12], d[0:12])
	}
	copy(out[12:n], d[12:n])
}

// ipTotalLen returns the length of p's IP packet as its header states it.
func ipTotalLen(p *packet.Packet, v6 bool) int {
	h := p.Data[p.L3Off:]
	if v6 {
		return 40 + int(binary.BigEndian.Uint16(h[4:]))
	}
	return int(binary.BigEndian.Uint16(h[2:]))
}

// quoteLen is how many bytes of p, from its IP header on, an unreachable
// quotes: the whole IP packet as far as captured, within the RFC limit.
func quoteLen(p *packet.Packet, v6 bool) int {
	q := ipTotalLen(p, v6)
	if avail := len(p.Data) - p.L3Off; q > avail {
		q = avail
	}
	limit := MaxICMPv4Len - 20 - 8
	if v6 {
		limit = MaxICMPv6Len - 40 - 8
	}
	if q > limit {
		q = limit
	}
	return q
}

// writeRST writes the 20-byte RST|ACK segment answering p's TCP segment.
func writeRST(t []byte, p *packet.Packet, toSource bool) {
	v6 := p.Flags&packet.FlagIPv6 != 0
	var seq, ack uint32
	sport, dport := p.SrcPort, p.DstPort
	if toSource {
		sport, dport = dport, sport
		seglen := ipTotalLen(p, v6) - p.L3Len - p.L4Len
		if seglen < 0 {
			seglen = 0
		}
		if p.TCPFlags&packet.TCPSyn != 0 {
			seglen++
		}
		if p.TCPFlags&packet.TCPFin != 0 {
			seglen++
		}
		if p.TCPFlags&packet.TCPAck != 0 {
			seq = p.TCPAck
		}
		ack = p.TCPSeq + uint32(seglen)
	} else {
		seq, ack = p.TCPSeq, p.TCPAck
	}
	be := binary.BigEndian
	be.PutUint16(t[0:], sport)
	be.PutUint16(t[2:], dport)
	be.PutUint32(t[4:], seq)
	be.PutUint32(t[8:], ack)
	t[12] = 5 << 4
	t[13] = packet.TCPRst | packet.TCPAck
	be.PutUint16(t[14:], p.TCPWindow)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
}

func writeIPv4(h []byte, src, dst netip.Addr, proto uint8, l4len int, ttl uint8) {
	be := binary.BigEndian
	h[0], h[1] = 0x45, 0
	be.PutUint16(h[2:], uint16(20+l4len))
	h[4], h[5], h[6], h[7] = 0, 0, 0, 0 // ID 0, no flags, offset 0
	h[8], h[9] = ttl, proto
	h[10], h[11] = 0, 0
	s, d := src.As4(), dst.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	be.PutUint16(h[10:], ^fold(sum(h[:20], 0)))
}

func writeIPv6(h []byte, src, dst netip.Addr, proto uint8, l4len int, hops uint8) {
	be := binary.BigEndian
	be.PutUint32(h[0:], 6<<28)
	be.PutUint16(h[4:], uint16(l4len))
	h[6], h[7] = proto, hops
	s, d := src.As16(), dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
}

// pseudoSum is the ones' complement sum of the pseudo header of the IP
// header h for an upper-layer message of n bytes.
func pseudoSum(h []byte, v6 bool, proto uint8, n int) uint64 {
	if v6 {
		return sum(h[8:40], 0) + uint64(proto) + uint64(n)
	}
	return sum(h[12:20], 0) + uint64(proto) + uint64(n)
}

// sum adds b to a ones' complement accumulator as big-endian 16-bit words
// (an odd last byte padded with zero).
func sum(b []byte, acc uint64) uint64 {
	for len(b) >= 8 {
		acc += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces an accumulator to 16 bits.
func fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}
