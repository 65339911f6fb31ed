package decode

import (
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// IPv4 option types (RFC 791 and later). Packet.IPv4Opts has bit
// IPOptBit(type) set for each option type seen.
const (
	IPOptEOL    uint8 = 0x00
	IPOptNOP    uint8 = 0x01
	IPOptRR     uint8 = 0x07
	IPOptQS     uint8 = 0x19
	IPOptTS     uint8 = 0x44
	IPOptSEC    uint8 = 0x82
	IPOptLSRR   uint8 = 0x83
	IPOptESEC   uint8 = 0x85
	IPOptCIPSO  uint8 = 0x86
	IPOptSID    uint8 = 0x88
	IPOptSSRR   uint8 = 0x89
	IPOptRTRALT uint8 = 0x94
)

// IPOptBit is the bit of Packet.IPv4Opts for option type t (its number
// modulo 32, so the options above each have their own bit).
func IPOptBit(t uint8) uint32 { return 1 << (t & 31) }

func (d *Decoder) decodeIPv4(p *packet.Packet, off int) {
	data := p.Data
	avail := len(data) - off
	if avail < 20 {
		d.invalid(p, EvIPv4PktTooSmall)
		return
	}
	h := data[off:]
	if h[0]>>4 != 4 {
		d.invalid(p, EvIPv4WrongIPVersion)
		return
	}
	hlen := int(h[0]&0x0f) * 4
	if hlen < 20 {
		d.invalid(p, EvIPv4HLenTooSmall)
		return
	}
	iplen := int(be16(h[2:]))
	if iplen < hlen {
		d.invalid(p, EvIPv4IPLenSmallerThanHLen)
		return
	}
	d.Stats.IPv4++
	p.Flags |= packet.FlagIPv4
	p.L3Off = off
	p.TOS = h[1]
	p.IPID = uint32(be16(h[4:]))
	fo := be16(h[6:])
	p.IPv4RF = fo&0x8000 != 0
	p.IPv4DF = fo&0x4000 != 0
	p.FragMF = fo&0x2000 != 0
	p.FragOff = (fo & 0x1fff) * 8
	p.TTL = h[8]
	p.IPProto = h[9]
	p.SrcIP = netip.AddrFrom4([4]byte(h[12:16]))
	p.DstIP = netip.AddrFrom4([4]byte(h[16:20]))
	if avail < iplen {
		p.L3Len = min(hlen, avail)
		p.IPLen = avail
		d.invalid(p, EvIPv4TruncPkt)
		return
	}
	p.L3Len = hlen
	p.IPLen = iplen
	if d.opts.Checksums && !csumOK(sum(h[:hlen], 0)) {
		p.Flags |= packet.FlagIPv4CsumBad
		d.Stats.IPv4CsumBad++
	}
	if hlen > 20 && !d.ipv4Options(p, h[20:hlen]) {
		p.Flags |= packet.FlagMalformed
		return
	}

	l4off, l4len := off+hlen, iplen-hlen
	frag := p.FragMF || p.FragOff != 0
	if frag {
		p.Flags |= packet.FlagFragment
		d.Stats.Frag4++
		if p.FragOff != 0 {
			p.PayloadOff, p.PayloadLen = l4off, l4len
			return
		}
	}
	switch p.IPProto {
	case packet.ProtoTCP:
		d.decodeTCP(p, l4off, l4len, frag)
	case packet.ProtoUDP:
		d.decodeUDP(p, l4off, l4len, frag)
	case packet.ProtoICMP:
		d.decodeICMPv4(p, l4off, l4len, frag)
	case packet.ProtoICMPv6:
		d.Stats.OtherL4++
		p.PayloadOff, p.PayloadLen = l4off, l4len
		d.invalid(p, EvIPv4ICMPv6)
	case protoGRE:
		d.Stats.GRE++
		if frag {
			// A first fragment's GRE header may be cut: defrag's
			// reassembled packet is validated instead.
			p.PayloadOff, p.PayloadLen = l4off, l4len
			return
		}
		d.decodeGRE(p, l4off, l4len)
	default:
		d.countOtherL4(p.IPProto)
		p.PayloadOff, p.PayloadLen = l4off, l4len
	}
}

func (d *Decoder) countOtherL4(proto uint8) {
	switch proto {
	case packet.ProtoSCTP:
		d.Stats.SCTP++
	case protoGRE:
		d.Stats.GRE++
	case 50:
		d.Stats.ESP++
	default:
		d.Stats.OtherL4++
	}
}

// ipv4Options walks the IPv4 options, recording their types in p.IPv4Opts
// and raising Suricata's events. It returns false when an option length is
// invalid, which makes the whole packet invalid.
func (d *Decoder) ipv4Options(p *packet.Packet, o []byte) bool {
	var seen uint32 // options stored once (duplicate detection)
	// As Suricata: an options area that is not a multiple of 8 bytes
	// raises ipv4.opt_pad_required (a warning; decoding goes on).
	if len(o)%8 != 0 {
		d.event(p, EvIPv4OptPadRequired)
	}
	for len(o) > 0 {
		t := o[0]
		p.IPv4Opts |= IPOptBit(t)
		if t == IPOptEOL {
			break
		}
		if t == IPOptNOP {
			o = o[1:]
			continue
		}
		if len(o) < 2 {
			d.event(p, EvIPv4OptEOLRequired)
			break
		}
		ol := int(o[1])
		if ol > len(o) || ol < 2 {
			d.event(p, EvIPv4OptInvalidLen)
			return false
		}
		opt := o[:ol]
		switch t {
		case IPOptTS, IPOptRR, IPOptQS, IPOptSEC, IPOptLSRR, IPOptCIPSO, IPOptSID, IPOptSSRR, IPOptRTRALT:
			bit := IPOptBit(t)
			if seen&bit != 0 {
				d.event(p, EvIPv4OptDuplicate)
				break
			}
			if d.validateIPv4Opt(p, opt) {
				seen |= bit
			}
		default:
			d.event(p, EvIPv4OptInvalid)
		}
		o = o[ol:]
	}
	return true
}

// validateIPv4Opt checks one option of a known type (opt includes type and
// length bytes; len(opt) >= 2) and raises the event for what is wrong.
func (d *Decoder) validateIPv4Opt(p *packet.Packet, opt []byte) bool {
	ol := len(opt)
	switch opt[0] {
	case IPOptRR, IPOptLSRR, IPOptSSRR:
		// type, len, pointer, addresses: the 1-based pointer points past
		// type+len+ptr, moves in 4-byte steps, and stays within len+1.
		if ol < 3 {
			d.event(p, EvIPv4OptInvalidLen)
			return false
		}
		ptr := int(opt[2])
		if ptr < 4 || ptr%4 != 0 || ptr > ol+1 {
			d.event(p, EvIPv4OptMalformed)
			return false
		}
	case IPOptTS:
		// type, len, pointer, overflow|flag, records of 4 (timestamp)
		// or 8 (address+timestamp) bytes (RFC 781).
		if ol < 5 {
			d.event(p, EvIPv4OptInvalidLen)
			return false
		}
		ptr := int(opt[2])
		if ptr < 5 {
			d.event(p, EvIPv4OptMalformed)
			return false
		}
		rec := 4
		if f := opt[3] & 0x0f; f == 1 || f == 3 {
			rec = 8
		}
		if (ptr-5)%rec != 0 || ptr > ol+1 {
			d.event(p, EvIPv4OptMalformed)
			return false
		}
	case IPOptQS:
		if ol < 8 {
			d.event(p, EvIPv4OptInvalidLen)
			return false
		}
	case IPOptSEC:
		if ol < 3 {
			d.event(p, EvIPv4OptInvalidLen)
			return false
		}
	case IPOptSID, IPOptRTRALT:
		if ol != 4 {
			d.event(p, EvIPv4OptInvalidLen)
			return false
		}
	case IPOptCIPSO:
		return d.validateCIPSO(p, opt)
	}
	return true
}

// validateCIPSO checks a CIPSO option: type, len, 4-byte DOI, then tags of
// type, length and data.
func (d *Decoder) validateCIPSO(p *packet.Packet, opt []byte) bool {
	if len(opt) < 10 {
		d.event(p, EvIPv4OptInvalidLen)
		return false
	}
	tags := opt[6:]
	for len(tags) > 0 {
		if len(tags) < 2 {
			d.event(p, EvIPv4OptMalformed)
			return false
		}
		tt, tl := tags[0], int(tags[1])
		switch tt {
		case 1, 2, 5, 6, 7:
			if tl < 4 || tl > len(tags) {
				d.event(p, EvIPv4OptMalformed)
				return false
			}
			// The alignment octet is 0, except for tag type 7.
			if tt != 7 && tags[2] != 0 {
				d.event(p, EvIPv4OptMalformed)
				return false
			}
			tags = tags[tl:]
		default: // 0 is reserved; others are unknown
			d.event(p, EvIPv4OptMalformed)
			return false
		}
	}
	return true
}
