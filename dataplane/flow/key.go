// Package flow tracks connections: the flow key, a seeded symmetric hash, and
// a flow table with per-protocol timeouts on packet time, a memory cap with
// an emergency mode, and stable flow ids for EVE.
//
// A Table belongs to one worker (one goroutine); it takes no locks. Flows live
// in a pool that grows in chunks up to the memcap and is reused: once the pool
// is warm, neither Lookup of a known flow nor creation of a new one allocates.
package flow

import (
	"encoding/binary"
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Address families of a Key.
const (
	Family4 uint8 = 4
	Family6 uint8 = 6
)

// Key identifies one connection in one direction: Src is the sender of the
// packet it was taken from (or, for a Flow's Key, the client).
//
// ICMP is keyed the way Suricata keys it: the ports hold the message type
// (SrcPort) and the type of its counterpart (DstPort: echo request 8 <-> echo
// reply 0, and so on; 0 when the type has none). A request and its reply are
// therefore the two directions of one key; the echo id is not part of it.
type Key struct {
	// Src and Dst are the addresses, IPv4 in IPv4-mapped form
	// (::ffff:a.b.c.d); Family tells the two apart.
	Src, Dst [16]byte
	// SrcPort and DstPort are the TCP, UDP or SCTP ports; for ICMP the type
	// and the counterpart type; 0 for other protocols.
	SrcPort, DstPort uint16
	// VLAN holds the packet's VLAN ids, outermost first, 0 where absent.
	VLAN [packet.MaxVLAN]uint16
	// Proto is the IP protocol number.
	Proto uint8
	// Family is Family4 or Family6.
	Family uint8
}

// SrcAddr returns the source address.
func (k *Key) SrcAddr() netip.Addr { return k.addr(&k.Src) }

// DstAddr returns the destination address.
func (k *Key) DstAddr() netip.Addr { return k.addr(&k.Dst) }

func (k *Key) addr(a *[16]byte) netip.Addr {
	if k.Family == Family4 {
		return netip.AddrFrom4([4]byte{a[12], a[13], a[14], a[15]})
	}
	return netip.AddrFrom16(*a)
}

// Reverse returns the key of the opposite direction.
func (k Key) Reverse() Key {
	k.Src, k.Dst = k.Dst, k.Src
	k.SrcPort, k.DstPort = k.DstPort, k.SrcPort
	return k
}

// sameConn reports whether a and b are the same connection in either
// direction.
func sameConn(a, b *Key) bool {
	if a.Proto != b.Proto || a.Family != b.Family || a.VLAN != b.VLAN {
		return false
	}
	if a.Src == b.Src && a.Dst == b.Dst && a.SrcPort == b.SrcPort && a.DstPort == b.DstPort {
		return true
	}
	return a.Src == b.Dst && a.Dst == b.Src && a.SrcPort == b.DstPort && a.DstPort == b.SrcPort
}

// keyKind is what keyFromPacket found.
type keyKind uint8

const (
	keyOK        keyKind = iota // a key of the packet's own connection
	keyICMPError                // an ICMPv4 error: the key of the connection it reports on; never creates a flow
	keyNotIP                    // no usable IP header
	keyNoL4                     // TCP/UDP/ICMP by protocol number but that header was not decoded
	keyICMPNoEmb                // an ICMPv4 error message without a usable embedded TCP/UDP header
)

// KeyFromPacket returns the flow key of a decoded packet, with the packet's
// source as Src. It reports false for packets that have no flow: no IP header,
// a TCP/UDP/ICMP protocol number whose header was not decoded (a non-first
// fragment, a truncated header), and ICMPv4 error messages. The exception is
// an ICMPv4 destination unreachable that carries the IPv4 and TCP/UDP header
// of the datagram it reports on: its key is that connection's (as Suricata
// does, so the error is seen as part of that flow).
func KeyFromPacket(p *packet.Packet) (Key, bool) {
	var k Key
	kind := keyFromPacket(p, &k)
	return k, kind == keyOK || kind == keyICMPError
}

func keyFromPacket(p *packet.Packet, k *Key) keyKind {
	if p.Flags&(packet.FlagIPv4|packet.FlagIPv6) == 0 || !p.SrcIP.IsValid() || !p.DstIP.IsValid() {
		return keyNotIP
	}
	v4 := p.SrcIP.Is4()
	if v4 != p.DstIP.Is4() {
		return keyNotIP
	}
	k.VLAN = p.VLAN
	if p.VLANCount < packet.MaxVLAN {
		for i := int(p.VLANCount); i < packet.MaxVLAN; i++ {
			k.VLAN[i] = 0
		}
	}
	k.Proto = p.IPProto
	switch p.IPProto {
	case packet.ProtoTCP:
		if p.Flags&packet.FlagTCP == 0 {
			return keyNoL4
		}
		k.SrcPort, k.DstPort = p.SrcPort, p.DstPort
	case packet.ProtoUDP:
		if p.Flags&packet.FlagUDP == 0 {
			return keyNoL4
		}
		k.SrcPort, k.DstPort = p.SrcPort, p.DstPort
	case packet.ProtoSCTP:
		k.SrcPort, k.DstPort = p.SrcPort, p.DstPort
	case packet.ProtoICMP:
		if p.Flags&packet.FlagICMPv4 == 0 || !v4 {
			return keyNoL4
		}
		if icmp4IsError(p.ICMPType) {
			if p.ICMPType == icmp4DestUnreach && embeddedKey(p, k) {
				return keyICMPError
			}
			return keyICMPNoEmb
		}
		k.SrcPort, k.DstPort = uint16(p.ICMPType), uint16(icmp4Counterpart(p.ICMPType))
	case packet.ProtoICMPv6:
		if p.Flags&packet.FlagICMPv6 == 0 || v4 {
			return keyNoL4
		}
		k.SrcPort, k.DstPort = uint16(p.ICMPType), uint16(icmp6Counterpart(p.ICMPType))
	default:
		k.SrcPort, k.DstPort = 0, 0
	}
	k.Src, k.Dst = p.SrcIP.As16(), p.DstIP.As16()
	if v4 {
		k.Family = Family4
	} else {
		k.Family = Family6
	}
	return keyOK
}

const icmp4DestUnreach = 3

// icmp4IsError reports whether an ICMPv4 type is an error message (these
// never start a flow): destination unreachable, source quench, redirect,
// time exceeded, parameter problem.
func icmp4IsError(t uint8) bool {
	switch t {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

// icmp4Counterpart returns the type answering t (and the reverse), 0 if none.
func icmp4Counterpart(t uint8) uint8 {
	switch t {
	case 8:
		return 0 // echo -> echo reply
	case 0:
		return 8
	case 13:
		return 14 // timestamp
	case 14:
		return 13
	case 15:
		return 16 // information
	case 16:
		return 15
	case 10:
		return 9 // router solicitation -> advertisement
	case 9:
		return 10
	case 17:
		return 18 // address mask
	case 18:
		return 17
	}
	return 0
}

// icmp6Counterpart returns the ICMPv6 type answering t (and the reverse), 0
// if none.
func icmp6Counterpart(t uint8) uint8 {
	switch t {
	case 128:
		return 129 // echo
	case 129:
		return 128
	case 135:
		return 136 // neighbor solicitation / advertisement
	case 136:
		return 135
	case 133:
		return 134 // router solicitation / advertisement
	case 134:
		return 133
	case 130:
		return 131 // MLD query / report
	case 131:
		return 130
	case 139:
		return 140 // node information query / reply
	case 140:
		return 139
	case 144:
		return 145 // home agent address discovery
	case 145:
		return 144
	case 146:
		return 147 // mobile prefix solicitation / advertisement
	case 147:
		return 146
	case 148:
		return 149 // certification path solicitation / advertisement
	case 149:
		return 148
	case 151:
		return 152 // multicast router advertisement / solicitation
	case 152:
		return 151
	case 157:
		return 158 // duplicate address request / confirmation
	case 158:
		return 157
	}
	return 0
}

// embeddedKey reads the IPv4 header and the TCP/UDP ports an ICMPv4 error
// carries after its 8-byte header, and fills k with that connection's key
// (Src is the original sender). It reports false when they are absent,
// truncated or not TCP/UDP.
func embeddedKey(p *packet.Packet, k *Key) bool {
	d := p.Data
	if p.L4Off < 0 || p.L4Off > len(d) || len(d)-p.L4Off < 8+20 {
		return false
	}
	ip := d[p.L4Off+8:]
	if ip[0]>>4 != 4 {
		return false
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl+4 {
		return false
	}
	proto := ip[9]
	if proto != packet.ProtoTCP && proto != packet.ProtoUDP {
		return false
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
		return false // a non-first fragment has no transport header
	}
	k.Src = [16]byte{10: 0xff, 11: 0xff, 12: ip[12], 13: ip[13], 14: ip[14], 15: ip[15]}
	k.Dst = [16]byte{10: 0xff, 11: 0xff, 12: ip[16], 13: ip[17], 14: ip[18], 15: ip[19]}
	k.SrcPort = binary.BigEndian.Uint16(ip[ihl:])
	k.DstPort = binary.BigEndian.Uint16(ip[ihl+2:])
	k.Proto = proto
	k.Family = Family4
	return true
}
