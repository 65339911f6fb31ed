package decode

import "github.com/vigil-ids/vigil/dataplane/packet"

// PPP protocol numbers.
const (
	pppIPv4    uint16 = 0x0021
	pppIPv6    uint16 = 0x0057
	pppVJComp  uint16 = 0x002d
	pppVJUComp uint16 = 0x002f
)

// pppUnsupported reports PPP protocols Suricata knows but does not decode
// (they raise ppp.unsup_proto rather than ppp.wrong_type).
// pppControl reports the PPP control protocols a session carries as a
// matter of course (LCP, PAP, CHAP, IPCP, IPV6CP, CCP, LQM, CBCP,
// compressed datagrams, CDPCP); Suricata 7.0.12+ raises no event for them.
func pppControl(proto uint16) bool {
	switch proto {
	case 0x8021, 0x8057, 0xc021, 0xc023, 0xc223, 0x80fd, 0xc025, 0xc029, 0x00fd, 0x8207:
		return true
	}
	return false
}

func pppUnsupported(proto uint16) bool {
	switch proto {
	case pppVJComp, 0x002b /* IPX */, 0x0023 /* OSI */, 0x0025 /* NS */, 0x0027, /* DECnet */
		0x0029 /* AppleTalk */, 0x0031 /* bridging PDU */, 0x0033 /* ST-II */, 0x0035, /* Vines */
		0x0201 /* 802.1d hello */, 0x0231 /* Luxcom */, 0x0233 /* Sigma */, 0x0281, 0x0283, /* MPLS */
		0x8021 /* IPCP */, 0x8023, 0x8025, 0x8027, 0x8029, 0x802b, 0x8033, 0x8035,
		0x8057 /* IPV6CP */, 0x8281 /* MPLSCP */, 0xc021 /* LCP */, 0xc023, /* PAP */
		0xc025 /* LQM */, 0xc223 /* CHAP */ :
		return true
	}
	return false
}

// decodePPP decodes a PPP frame at off: an optional HDLC address/control
// pair (0xff 0x03), then a 1- or 2-byte protocol field.
func (d *Decoder) decodePPP(p *packet.Packet, off int) {
	data := p.Data
	if len(data)-off < 1 {
		d.invalid(p, EvPPPPktTooSmall)
		return
	}
	d.Stats.PPP++
	if data[off] == 0xff {
		off += 2
	}
	if len(data)-off < 1 {
		d.invalid(p, EvPPPPktTooSmall)
		return
	}
	var proto uint16
	if data[off]&0x01 != 0 { // protocol field compression: one byte
		proto = uint16(data[off])
		off++
	} else {
		if len(data)-off < 2 {
			d.invalid(p, EvPPPPktTooSmall)
			return
		}
		proto = be16(data[off:])
		off += 2
	}
	d.decodePPPProto(p, proto, off)
}

// decodePPPProto decodes the PPP payload at off for protocol proto.
func (d *Decoder) decodePPPProto(p *packet.Packet, proto uint16, off int) {
	rem := len(p.Data) - off
	switch proto {
	case pppIPv4:
		if rem < 20 {
			d.invalid(p, EvPPPIP4PktTooSmall)
			return
		}
		p.EtherType = EtherTypeIPv4
		d.decodeIPv4(p, off)
	case pppIPv6:
		if rem < 40 {
			d.invalid(p, EvPPPIP6PktTooSmall)
			return
		}
		p.EtherType = EtherTypeIPv6
		d.decodeIPv6(p, off)
	case pppVJUComp:
		if rem < 20 {
			d.invalid(p, EvPPPVJUPktTooSmall)
			return
		}
		if p.Data[off]>>4 == 4 {
			p.EtherType = EtherTypeIPv4
			d.decodeIPv4(p, off)
		}
	default:
		if pppControl(proto) {
			// Link, authentication and network control protocols are
			// normal on a PPP link: nothing to decode, nothing to report.
			return
		}
		if pppUnsupported(proto) {
			d.event(p, EvPPPUnsupProto)
		} else {
			d.event(p, EvPPPWrongType)
		}
	}
}

// decodePPPoESession decodes a PPPoE session header (RFC 2516) at off and
// the PPP frame it carries.
func (d *Decoder) decodePPPoESession(p *packet.Packet, off int) {
	data := p.Data
	// ver/type(1) code(1) session(2) length(2) protocol(1 or 2)
	if len(data)-off < 7 {
		d.invalid(p, EvPPPoEPktTooSmall)
		return
	}
	d.Stats.PPPoE++
	plen := int(be16(data[off+4:]))
	off += 6
	if plen == 0 {
		return
	}
	var proto uint16
	if data[off]&0x01 != 0 {
		proto = uint16(data[off])
		off++
	} else {
		if len(data)-off < 2 {
			d.invalid(p, EvPPPoEPktTooSmall)
			return
		}
		proto = be16(data[off:])
		off += 2
	}
	d.decodePPPProto(p, proto, off)
}

// PPPoE discovery codes.
const (
	pppoePADI = 0x09
	pppoePADO = 0x07
	pppoePADR = 0x19
	pppoePADS = 0x65
	pppoePADT = 0xa7
)

// decodePPPoEDiscovery checks a PPPoE discovery header and its tags.
func (d *Decoder) decodePPPoEDiscovery(p *packet.Packet, off int) {
	data := p.Data
	if len(data)-off < 6 {
		d.invalid(p, EvPPPoEPktTooSmall)
		return
	}
	d.Stats.PPPoE++
	switch data[off+1] {
	case pppoePADI, pppoePADO, pppoePADR, pppoePADS, pppoePADT:
	default:
		d.event(p, EvPPPoEWrongCode)
	}
	plen := int(be16(data[off+4:]))
	tags := data[off+6:]
	if plen > len(tags) {
		d.invalid(p, EvPPPoEMalformedTags)
		return
	}
	tags = tags[:plen]
	for len(tags) > 0 {
		if len(tags) < 4 {
			d.invalid(p, EvPPPoEMalformedTags)
			return
		}
		tl := int(be16(tags[2:]))
		if 4+tl > len(tags) {
			d.invalid(p, EvPPPoEMalformedTags)
			return
		}
		tags = tags[4+tl:]
	}
}
