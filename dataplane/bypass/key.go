package bypass

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// FlowKey identifies one direction of a TCP or UDP flow the way the XDP
// program sees it: addresses, ports, protocol and up to two VLAN IDs. Add
// and Delete act on both directions of the flow; the map holds one entry per
// direction.
type FlowKey struct {
	Src, Dst         netip.Addr // both IPv4 or both IPv6 (IPv4-mapped IPv6 addresses are IPv6)
	SrcPort, DstPort uint16
	Proto            uint8     // packet.ProtoTCP or packet.ProtoUDP
	VLAN             [2]uint16 // outer and inner VLAN ID (low 12 bits); 0 = no tag
}

// Reverse returns the key of the other direction of the flow.
func (k FlowKey) Reverse() FlowKey {
	return FlowKey{
		Src: k.Dst, Dst: k.Src, SrcPort: k.DstPort, DstPort: k.SrcPort,
		Proto: k.Proto, VLAN: k.VLAN,
	}
}

// Is6 reports whether the key is an IPv6 key.
func (k FlowKey) Is6() bool { return k.Src.Is6() }

// String formats the key as "proto src:port -> dst:port vlan [o i]".
func (k FlowKey) String() string {
	return fmt.Sprintf("proto %d %s -> %s vlan %v", k.Proto,
		netip.AddrPortFrom(k.Src, k.SrcPort), netip.AddrPortFrom(k.Dst, k.DstPort), k.VLAN)
}

// valid reports whether the kernel program can ever build this key.
func (k FlowKey) valid() bool {
	if k.Proto != packet.ProtoTCP && k.Proto != packet.ProtoUDP {
		return false
	}
	if k.VLAN[0] > 0x0fff || k.VLAN[1] > 0x0fff {
		return false
	}
	return (k.Src.Is4() && k.Dst.Is4()) || (k.Src.Is6() && k.Dst.Is6())
}

// KeyFromPacket builds the key of p's direction from its decoded fields. It
// reports false for packets the kernel program never matches: not TCP or UDP
// over IPv4/IPv6, IP fragments, IPv6 packets with extension headers, more
// than two VLAN tags, or a packet that went through a tunnel decoder (the
// program keys on the outer headers only).
func KeyFromPacket(p *packet.Packet) (FlowKey, bool) {
	if p.Flags&(packet.FlagTCP|packet.FlagUDP) == 0 || p.Flags&packet.FlagFragment != 0 {
		return FlowKey{}, false
	}
	if p.Flags&packet.FlagIPv6 != 0 && p.IPv6Exts != 0 {
		return FlowKey{}, false
	}
	if p.VLANCount > 2 || p.Origin == packet.OriginTunnel || p.LinkType != packet.LinkEthernet {
		return FlowKey{}, false
	}
	k := FlowKey{
		Src: p.SrcIP, Dst: p.DstIP, SrcPort: p.SrcPort, DstPort: p.DstPort, Proto: p.IPProto,
	}
	for i := uint8(0); i < p.VLANCount; i++ {
		k.VLAN[i] = p.VLAN[i] & 0x0fff
	}
	if !k.valid() {
		return FlowKey{}, false
	}
	return k, true
}

// Key layouts of struct flow_key_v4 / flow_key_v6 (bpf/bypass.c): ports in
// network byte order, VLAN IDs in host byte order, padding zero.
const (
	keySizeV4  = 20
	keySizeV6  = 44
	maxKeySize = keySizeV6
)

// keyBuf holds an encoded key of either family.
type keyBuf [maxKeySize]byte

// encode writes k into b in the kernel's layout and returns the key size.
// k must be valid.
func (b *keyBuf) encode(k FlowKey) int {
	*b = keyBuf{}
	if k.Src.Is4() {
		s, d := k.Src.As4(), k.Dst.As4()
		copy(b[0:4], s[:])
		copy(b[4:8], d[:])
		b.encodeTail(8, k)
		return keySizeV4
	}
	s, d := k.Src.As16(), k.Dst.As16()
	copy(b[0:16], s[:])
	copy(b[16:32], d[:])
	b.encodeTail(32, k)
	return keySizeV6
}

func (b *keyBuf) encodeTail(off int, k FlowKey) {
	binary.BigEndian.PutUint16(b[off:], k.SrcPort)
	binary.BigEndian.PutUint16(b[off+2:], k.DstPort)
	binary.NativeEndian.PutUint16(b[off+4:], k.VLAN[0])
	binary.NativeEndian.PutUint16(b[off+6:], k.VLAN[1])
	b[off+8] = k.Proto
}

// decodeKey reads a key of size keySizeV4 or keySizeV6 from raw.
func decodeKey(raw []byte) FlowKey {
	var k FlowKey
	var off int
	if len(raw) == keySizeV4 {
		k.Src = netip.AddrFrom4([4]byte(raw[0:4]))
		k.Dst = netip.AddrFrom4([4]byte(raw[4:8]))
		off = 8
	} else {
		k.Src = netip.AddrFrom16([16]byte(raw[0:16]))
		k.Dst = netip.AddrFrom16([16]byte(raw[16:32]))
		off = 32
	}
	k.SrcPort = binary.BigEndian.Uint16(raw[off:])
	k.DstPort = binary.BigEndian.Uint16(raw[off+2:])
	k.VLAN[0] = binary.NativeEndian.Uint16(raw[off+4:])
	k.VLAN[1] = binary.NativeEndian.Uint16(raw[off+6:])
	k.Proto = raw[off+8]
	return k
}

func putU64(b []byte, v uint64) { binary.NativeEndian.PutUint64(b, v) }
func getU64(b []byte) uint64    { return binary.NativeEndian.Uint64(b) }
