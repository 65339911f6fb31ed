// Package decode turns captured frames into decoded packets: it fills the
// offsets and header fields of packet.Packet in place, from the link layer to
// TCP/UDP/ICMP, and raises Suricata's decoder events. It allocates nothing
// per packet.
//
// Malformed input never panics. A layer that cannot be decoded raises an
// event, leaves what was validly decoded before it in the packet, sets
// packet.FlagMalformed and stops decoding.
//
// Fragments: an IP fragment gets packet.FlagFragment. A non-first fragment
// carries no L4 header: PayloadOff/PayloadLen are the fragment's data. A first
// fragment whose L4 header is complete gets the L4 fields and flag (FlagTCP,
// ...) as well, so flow tracking must skip packets with FlagFragment (the
// reassembled packet is decoded again by defrag); its checksum is not checked.
//
// Tunnels (GRE, IP-in-IP, Teredo, VXLAN, MPLS, ...) are not decoded: the
// outer packet is, and the tunnel is its payload.
package decode

import (
	"encoding/binary"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Options configure a Decoder.
type Options struct {
	// Checksums validates the IPv4 header, TCP, UDP, ICMPv4 and ICMPv6
	// checksums and sets packet.FlagIPv4CsumBad / packet.FlagL4CsumBad
	// (Suricata's -k none turns this off).
	Checksums bool
}

// Stats are the counters of one Decoder. They are plain fields: a decoder
// belongs to one worker; a management thread sums copies with Add.
type Stats struct {
	Packets uint64 // packets given to Decode
	Bytes   uint64 // captured bytes of those packets
	Invalid uint64 // packets that ended with FlagMalformed

	Ethernet  uint64 // Ethernet frames
	Eth8023   uint64 // 802.3 frames (length field instead of EtherType), not decoded further
	VLAN      uint64 // VLAN tags (802.1Q, 802.1ad, 0x9100)
	SLL       uint64 // Linux cooked v1 and v2
	Null      uint64 // BSD Null / OpenBSD Loop
	Raw       uint64 // raw IP link types
	PPP       uint64 // PPP frames
	PPPoE     uint64 // PPPoE session and discovery frames
	OtherL3   uint64 // known non-IP EtherTypes (ARP, MPLS, ...), not decoded
	UnknownLT uint64 // packets with a link type this decoder does not know

	IPv4    uint64
	IPv6    uint64
	Frag4   uint64 // IPv4 fragments
	Frag6   uint64 // IPv6 fragments
	TCP     uint64
	UDP     uint64
	ICMPv4  uint64
	ICMPv6  uint64
	SCTP    uint64
	GRE     uint64
	ESP     uint64
	OtherL4 uint64 // any other IP protocol

	IPv4CsumBad uint64 // IPv4 header checksums found wrong
	L4CsumBad   uint64 // TCP/UDP/ICMP checksums found wrong

	// Events counts raised decoder events by id.
	Events [NumDecoderEvents]uint64
}

// Add adds o's counters to s.
func (s *Stats) Add(o *Stats) {
	s.Packets += o.Packets
	s.Bytes += o.Bytes
	s.Invalid += o.Invalid
	s.Ethernet += o.Ethernet
	s.Eth8023 += o.Eth8023
	s.VLAN += o.VLAN
	s.SLL += o.SLL
	s.Null += o.Null
	s.Raw += o.Raw
	s.PPP += o.PPP
	s.PPPoE += o.PPPoE
	s.OtherL3 += o.OtherL3
	s.UnknownLT += o.UnknownLT
	s.IPv4 += o.IPv4
	s.IPv6 += o.IPv6
	s.Frag4 += o.Frag4
	s.Frag6 += o.Frag6
	s.TCP += o.TCP
	s.UDP += o.UDP
	s.ICMPv4 += o.ICMPv4
	s.ICMPv6 += o.ICMPv6
	s.SCTP += o.SCTP
	s.GRE += o.GRE
	s.ESP += o.ESP
	s.OtherL4 += o.OtherL4
	s.IPv4CsumBad += o.IPv4CsumBad
	s.L4CsumBad += o.L4CsumBad
	for i := range s.Events {
		s.Events[i] += o.Events[i]
	}
}

// Decoder decodes packets. It is not safe for concurrent use: give each
// worker its own.
type Decoder struct {
	opts Options
	// Stats are this decoder's counters; read them from the owning worker
	// (or copy them there and Add them elsewhere).
	Stats Stats
}

// NewDecoder returns a decoder with the given options.
func NewDecoder(opts Options) *Decoder {
	return &Decoder{opts: opts}
}

// EtherTypes the decoder knows.
const (
	EtherTypeIPv4         uint16 = 0x0800
	EtherTypeARP          uint16 = 0x0806
	EtherTypeRARP         uint16 = 0x8035
	EtherTypeVLAN         uint16 = 0x8100 // 802.1Q
	EtherTypeQinQ         uint16 = 0x88a8 // 802.1ad
	EtherTypeQinQ9100     uint16 = 0x9100 // pre-standard QinQ
	EtherTypeIPv6         uint16 = 0x86dd
	EtherTypePPPoEDisc    uint16 = 0x8863
	EtherTypePPPoESession uint16 = 0x8864
	EtherTypeMPLSUnicast  uint16 = 0x8847
	EtherTypeMPLSMulti    uint16 = 0x8848
	EtherTypeBridge       uint16 = 0x6558 // transparent Ethernet bridging
	EtherTypeERSPAN       uint16 = 0x88be
	EtherTypeERSPAN3      uint16 = 0x22eb
	EtherType8021AH       uint16 = 0x88e7
	EtherTypeDCE          uint16 = 0x8903
	EtherTypeNSH          uint16 = 0x894f
	EtherTypeVNTag        uint16 = 0x8926
	EtherTypeLoop         uint16 = 0x9000
)

// maxVLANLayers is how many VLAN tags Suricata accepts before raising
// vlan.too_many_layers; packet.MaxVLAN of them are recorded.
const maxVLANLayers = 3

// Decode decodes p from p.LinkType onwards. It first clears what an earlier
// decode may have set (packet.ResetDecoded).
func (d *Decoder) Decode(p *packet.Packet) {
	p.ResetDecoded()
	d.Stats.Packets++
	d.Stats.Bytes += uint64(len(p.Data))
	switch p.LinkType {
	case packet.LinkEthernet:
		d.decodeEthernet(p)
	case packet.LinkRaw:
		d.Stats.Raw++
		d.decodeRaw(p, 0)
	case packet.LinkIPv4:
		d.Stats.Raw++
		d.decodeIPv4(p, 0)
	case packet.LinkIPv6:
		d.Stats.Raw++
		d.decodeIPv6(p, 0)
	case packet.LinkLinuxSLL:
		d.decodeSLL(p)
	case packet.LinkLinuxSLL2:
		d.decodeSLL2(p)
	case packet.LinkNull:
		d.decodeNull(p, false)
	case packet.LinkLoop:
		d.decodeNull(p, true)
	case packet.LinkPPP:
		d.decodePPP(p, 0)
	default:
		d.Stats.UnknownLT++
		p.Flags |= packet.FlagMalformed
	}
	if p.Flags&packet.FlagMalformed != 0 {
		d.Stats.Invalid++
	}
}

// event records a decoder event on p and counts it.
func (d *Decoder) event(p *packet.Packet, e packet.EventID) {
	p.SetEvent(e)
	d.Stats.Events[e]++
}

// invalid records an event that stops decoding.
func (d *Decoder) invalid(p *packet.Packet, e packet.EventID) {
	d.event(p, e)
	p.Flags |= packet.FlagMalformed
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// Who handed an EtherType to decodeEtherType: decides which "unknown type"
// event is raised.
const (
	parentEthernet = iota
	parentVLAN
	parentSLL
)

func (d *Decoder) decodeEthernet(p *packet.Packet) {
	if len(p.Data) < 14 {
		d.invalid(p, EvEthernetPktTooSmall)
		return
	}
	d.Stats.Ethernet++
	d.decodeEtherType(p, be16(p.Data[12:]), 14, parentEthernet)
}

// decodeEtherType decodes what follows an EtherType field at off, walking
// VLAN tags.
func (d *Decoder) decodeEtherType(p *packet.Packet, et uint16, off int, parent int) {
	data := p.Data
	layers := 0
	for {
		switch et {
		case EtherTypeIPv4:
			p.EtherType = et
			d.decodeIPv4(p, off)
			return
		case EtherTypeIPv6:
			p.EtherType = et
			d.decodeIPv6(p, off)
			return
		case EtherTypeVLAN, EtherTypeQinQ, EtherTypeQinQ9100:
			if len(data)-off < 4 {
				d.invalid(p, EvVLANHeaderTooSmall)
				return
			}
			layers++
			if layers > maxVLANLayers {
				d.invalid(p, EvVLANTooManyLayers)
				return
			}
			d.Stats.VLAN++
			if int(p.VLANCount) < packet.MaxVLAN {
				p.VLAN[p.VLANCount] = be16(data[off:]) & 0x0fff
				p.VLANCount++
			}
			et = be16(data[off+2:])
			off += 4
			parent = parentVLAN
		case EtherTypePPPoESession:
			d.decodePPPoESession(p, off)
			return
		case EtherTypePPPoEDisc:
			d.decodePPPoEDiscovery(p, off)
			return
		case EtherTypeARP, EtherTypeRARP, EtherTypeMPLSUnicast, EtherTypeMPLSMulti,
			EtherTypeBridge, EtherTypeERSPAN, EtherTypeERSPAN3, EtherType8021AH,
			EtherTypeDCE, EtherTypeNSH, EtherTypeVNTag, EtherTypeLoop:
			// Known, not decoded here (ARP) or a tunnel treated as payload.
			p.EtherType = et
			d.Stats.OtherL3++
			return
		default:
			if et <= 1500 {
				// 802.3 length field (LLC/SNAP follows) or an SLL
				// pseudo protocol (802.2, Novell 802.3): no IP here.
				d.Stats.Eth8023++
				return
			}
			if parent == parentVLAN {
				d.event(p, EvVLANUnknownType)
			} else {
				d.event(p, EvEthernetUnknownEtherType)
			}
			return
		}
	}
}

func (d *Decoder) decodeSLL(p *packet.Packet) {
	// packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
	if len(p.Data) < 16 {
		d.invalid(p, EvSLLPktTooSmall)
		return
	}
	d.Stats.SLL++
	d.decodeEtherType(p, be16(p.Data[14:]), 16, parentSLL)
}

func (d *Decoder) decodeSLL2(p *packet.Packet) {
	// protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
	if len(p.Data) < 20 {
		d.invalid(p, EvSLLPktTooSmall)
		return
	}
	d.Stats.SLL++
	d.decodeEtherType(p, be16(p.Data[0:]), 20, parentSLL)
}

// BSD address family values that mean IPv6 in Null/Loop headers (NetBSD/
// OpenBSD, FreeBSD, Darwin).
const (
	afInet       = 2
	afInet6BSD   = 24
	afInet6FBSD  = 28
	afInet6Darwn = 30
)

func (d *Decoder) decodeNull(p *packet.Packet, networkOrder bool) {
	if len(p.Data) < 4 {
		d.invalid(p, EvLTNullPktTooSmall)
		return
	}
	d.Stats.Null++
	var af uint32
	if networkOrder {
		af = be32(p.Data)
	} else {
		// Host order of the capturing machine, which we do not know:
		// the family is small, so a value above 0xffff was written
		// big-endian.
		af = binary.LittleEndian.Uint32(p.Data)
		if af > 0xffff {
			af = be32(p.Data)
		}
	}
	switch af {
	case afInet:
		p.EtherType = EtherTypeIPv4
		d.decodeIPv4(p, 4)
	case afInet6BSD, afInet6FBSD, afInet6Darwn:
		p.EtherType = EtherTypeIPv6
		d.decodeIPv6(p, 4)
	default:
		d.invalid(p, EvLTNullUnsupportedType)
	}
}

// decodeRaw decodes raw IP, the version taken from the first nibble.
func (d *Decoder) decodeRaw(p *packet.Packet, off int) {
	if len(p.Data)-off < 20 {
		d.invalid(p, EvIPv4PktTooSmall)
		return
	}
	switch p.Data[off] >> 4 {
	case 4:
		p.EtherType = EtherTypeIPv4
		d.decodeIPv4(p, off)
	case 6:
		p.EtherType = EtherTypeIPv6
		d.decodeIPv6(p, off)
	default:
		d.invalid(p, EvIPRawInvalidIPVersion)
	}
}
