package decode

import (
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// IPv6 next-header values.
const (
	nhHopByHop = 0
	nhICMP     = 1
	nhIPIP     = 4
	nhTCP      = 6
	nhUDP      = 17
	nhIPv6     = 41
	nhRouting  = 43
	nhFragment = 44
	nhGRE      = 47
	nhESP      = 50
	nhAH       = 51
	nhICMPv6   = 58
	nhNone     = 59
	nhDestOpts = 60
	nhMobility = 135
	nhHIP      = 139
	nhShim6    = 140
	nhSCTP     = 132
)

func (d *Decoder) decodeIPv6(p *packet.Packet, off int) {
	data := p.Data
	avail := len(data) - off
	if avail < 40 {
		d.invalid(p, EvIPv6PktTooSmall)
		return
	}
	h := data[off:]
	if h[0]>>4 != 6 {
		d.invalid(p, EvIPv6WrongIPVersion)
		return
	}
	d.Stats.IPv6++
	p.Flags |= packet.FlagIPv6
	p.L3Off = off
	p.L3Len = 40
	vtf := be32(h)
	p.TOS = uint8(vtf >> 20)
	p.IPv6Flow = vtf & 0xfffff
	plen := int(be16(h[4:]))
	p.IPProto = h[6]
	p.TTL = h[7]
	p.SrcIP = netip.AddrFrom16([16]byte(h[8:24]))
	p.DstIP = netip.AddrFrom16([16]byte(h[24:40]))
	if avail < 40+plen {
		p.IPLen = avail
		d.invalid(p, EvIPv6TruncPkt)
		return
	}
	p.IPLen = 40 + plen
	d.ipv6ExtHeaders(p, off, plen)
}

// ipv6ExtHeaders walks the extension headers after the fixed header at off
// (payload length plen) and hands the upper layer to its decoder.
func (d *Decoder) ipv6ExtHeaders(p *packet.Packet, off, plen int) {
	b := p.Data[off+40 : off+40+plen]
	nh := p.IPProto
	pos := 0
	frag := false // first fragment: decode what is complete, quietly
	var hh, rh, fh, ah bool
	dstopts := 0
	for {
		rem := len(b) - pos
		// done sets the transport protocol and the end of the IPv6
		// headers at the current position.
		p.IPProto = nh
		p.L3Len = 40 + pos
		switch nh {
		case nhTCP:
			d.decodeTCP(p, off+40+pos, rem, frag)
			return
		case nhUDP:
			d.decodeUDP(p, off+40+pos, rem, frag)
			return
		case nhICMPv6:
			d.decodeICMPv6(p, off+40+pos, rem, frag)
			return
		case nhNone:
			p.IPv6Exts |= packet.ExtNone
			if rem > 0 {
				d.event(p, EvIPv6DataAfterNoneHeader)
			}
			d.Stats.OtherL4++
			p.PayloadOff, p.PayloadLen = off+40+pos, rem
			return
		}
		isExt := nh == nhHopByHop || nh == nhDestOpts || nh == nhRouting || nh == nhFragment ||
			nh == nhAH || nh == nhESP || nh == nhMobility || nh == nhHIP || nh == nhShim6
		if isExt && rem < 2 {
			if frag {
				p.PayloadOff, p.PayloadLen = off+40+pos, rem
				return
			}
			d.invalid(p, EvIPv6TruncExtHdr)
			return
		}
		switch nh {
		case nhHopByHop, nhDestOpts:
			hl := (int(b[pos+1]) + 1) * 8
			if hl > rem {
				if frag {
					p.PayloadOff, p.PayloadLen = off+40+pos, rem
					return
				}
				d.invalid(p, EvIPv6TruncExtHdr)
				return
			}
			skip := false
			if nh == nhHopByHop {
				p.IPv6Exts |= packet.ExtHopByHop
				if hh {
					d.event(p, EvIPv6ExtHdrDuplHH)
					skip = true
				}
				hh = true
			} else {
				p.IPv6Exts |= packet.ExtDestOpts
				if dstopts >= 2 {
					d.event(p, EvIPv6ExtHdrDuplDH)
					skip = true
				}
				dstopts++
			}
			if !skip {
				d.ipv6Options(p, b[pos+2:pos+hl], nh == nhHopByHop)
			}
			nh = b[pos]
			pos += hl
		case nhRouting:
			hl := 8 + int(b[pos+1])*8
			if hl > rem {
				if frag {
					p.PayloadOff, p.PayloadLen = off+40+pos, rem
					return
				}
				d.invalid(p, EvIPv6TruncExtHdr)
				return
			}
			p.IPv6Exts |= packet.ExtRouting
			if rh {
				d.event(p, EvIPv6ExtHdrDuplRH)
			} else if b[pos+2] == 0 {
				d.event(p, EvIPv6RHType0)
			}
			rh = true
			nh = b[pos]
			pos += hl
		case nhFragment:
			if rem < 8 {
				d.invalid(p, EvIPv6TruncExtHdr)
				return
			}
			if b[pos+1] != 0 {
				d.event(p, EvIPv6FHNonZeroReservedField)
			}
			p.IPv6Exts |= packet.ExtFragment
			if fh {
				d.event(p, EvIPv6ExtHdrDuplFH)
				nh = b[pos]
				pos += 8
				continue
			}
			fh = true
			fo := be16(b[pos+2:])
			p.Flags |= packet.FlagIPv6Frag
			p.FragOff = fo & 0xfff8
			p.FragMF = fo&1 != 0
			p.IPID = be32(b[pos+4:])
			nh = b[pos]
			pos += 8
			if p.FragOff == 0 && !p.FragMF {
				// Atomic fragment: nothing to reassemble.
				d.event(p, EvIPv6ExtHdrUselessFH)
				continue
			}
			p.Flags |= packet.FlagFragment
			d.Stats.Frag6++
			if p.FragOff != 0 {
				p.IPProto = nh
				p.L3Len = 40 + pos
				p.PayloadOff, p.PayloadLen = off+40+pos, len(b)-pos
				return
			}
			frag = true
		case nhAH:
			hl := (int(b[pos+1]) + 2) * 4
			if hl > rem {
				if frag {
					p.PayloadOff, p.PayloadLen = off+40+pos, rem
					return
				}
				d.invalid(p, EvIPv6TruncExtHdr)
				return
			}
			if b[pos+2] != 0 || b[pos+3] != 0 {
				d.event(p, EvIPv6ExtHdrAHResNotNull)
			}
			p.IPv6Exts |= packet.ExtAH
			if ah {
				d.event(p, EvIPv6ExtHdrDuplAH)
			}
			ah = true
			nh = b[pos]
			pos += hl
		case nhESP:
			// The rest is encrypted: ESP header and payload.
			p.IPv6Exts |= packet.ExtESP
			d.Stats.ESP++
			p.PayloadOff, p.PayloadLen = off+40+pos, rem
			return
		case nhMobility, nhHIP, nhShim6:
			hl := 8 + int(b[pos+1])*8
			if hl > rem {
				if frag {
					p.PayloadOff, p.PayloadLen = off+40+pos, rem
					return
				}
				d.invalid(p, EvIPv6TruncExtHdr)
				return
			}
			switch nh {
			case nhMobility:
				p.IPv6Exts |= packet.ExtMobility
			case nhHIP:
				p.IPv6Exts |= packet.ExtHIP
			default:
				p.IPv6Exts |= packet.ExtShim6
			}
			nh = b[pos]
			pos += hl
		case nhIPIP:
			// IPv4 in IPv6: a tunnel, checked but not decoded.
			if !frag {
				if rem < 20 {
					d.event(p, EvIPv6IPv4InIPv6TooSmall)
				} else if b[pos]>>4 != 4 {
					d.event(p, EvIPv6IPv4InIPv6WrongVersion)
				}
			}
			d.Stats.OtherL4++
			p.PayloadOff, p.PayloadLen = off+40+pos, rem
			return
		case nhIPv6:
			if !frag {
				if rem < 40 {
					d.event(p, EvIPv6IPv6InIPv6TooSmall)
				} else if b[pos]>>4 != 6 {
					d.event(p, EvIPv6IPv6InIPv6WrongVersion)
				}
			}
			d.Stats.OtherL4++
			p.PayloadOff, p.PayloadLen = off+40+pos, rem
			return
		case nhICMP:
			d.event(p, EvIPv6ICMPv4)
			d.Stats.OtherL4++
			p.PayloadOff, p.PayloadLen = off+40+pos, rem
			return
		case nhGRE:
			d.Stats.GRE++
			if frag {
				p.PayloadOff, p.PayloadLen = off+40+pos, rem
				return
			}
			d.decodeGRE(p, off+40+pos, rem)
			return
		case nhSCTP:
			d.countOtherL4(nh)
			p.PayloadOff, p.PayloadLen = off+40+pos, rem
			return
		default:
			d.event(p, EvIPv6UnknownNextHeader)
			d.Stats.OtherL4++
			p.PayloadOff, p.PayloadLen = off+40+pos, rem
			return
		}
	}
}

// IPv6 option types in hop-by-hop and destination options headers.
const (
	ip6OptPad1  = 0x00
	ip6OptPadN  = 0x01
	ip6OptRA    = 0x05
	ip6OptJumbo = 0xc2
	ip6OptHAO   = 0xc9
)

// ipv6Options walks the TLV options of a hop-by-hop or destination options
// header (opts excludes the next-header and length bytes).
func (d *Decoder) ipv6Options(p *packet.Packet, opts []byte, hop bool) {
	pad, other := 0, 0
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == ip6OptPad1 {
			pad++
			i++
			continue
		}
		if i+1 >= len(opts) {
			d.event(p, EvIPv6ExtHdrInvalidOptLen)
			break
		}
		ol := int(opts[i+1])
		if i+2+ol > len(opts) {
			d.event(p, EvIPv6ExtHdrInvalidOptLen)
			break
		}
		bad := false
		switch t {
		case ip6OptPadN:
			pad++
			if ol == 0 {
				d.event(p, EvIPv6ZeroLenPadN)
			}
		case ip6OptRA:
			bad = ol < 2
			other++
		case ip6OptJumbo:
			bad = ol < 4
		case ip6OptHAO:
			bad = ol < 16
			other++
		default:
			if hop {
				d.event(p, EvIPv6HopOptsUnknownOpt)
			} else {
				d.event(p, EvIPv6DstOptsUnknownOpt)
			}
			other++
		}
		if bad {
			d.event(p, EvIPv6ExtHdrInvalidOptLen)
			break
		}
		i += 2 + ol
	}
	if pad > 0 && other == 0 {
		if hop {
			d.event(p, EvIPv6HopOptsOnlyPadding)
		} else {
			d.event(p, EvIPv6DstOptsOnlyPadding)
		}
	}
}
