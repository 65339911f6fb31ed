package decode

import "github.com/vigil-ids/vigil/dataplane/packet"

// ICMPv4 types with checks (RFC 792 and successors).
const (
	icmpEchoReply      = 0
	icmpDestUnreach    = 3
	icmpSourceQuench   = 4
	icmpRedirect       = 5
	icmpEcho           = 8
	icmpRouterAdvert   = 9
	icmpTimeExceeded   = 11
	icmpParamProb      = 12
	icmpTimestamp      = 13
	icmpTimestampReply = 14
	icmpInfoRequest    = 15
	icmpInfoReply      = 16
	icmpAddress        = 17
	icmpAddressReply   = 18
)

// decodeICMPv4 decodes the ICMPv4 message of n bytes at off, with
// Suricata's checks of known types and codes.
func (d *Decoder) decodeICMPv4(p *packet.Packet, off, n int, frag bool) {
	b := p.Data[off : off+n]
	if n < 8 {
		if frag {
			p.PayloadOff, p.PayloadLen = off, n
			return
		}
		d.invalid(p, EvICMPv4PktTooSmall)
		return
	}
	d.Stats.ICMPv4++
	p.Flags |= packet.FlagICMPv4
	p.L4Off, p.L4Len = off, 8
	t, c := b[0], b[1]
	p.ICMPType, p.ICMPCode = t, c
	hlen := 8
	switch t {
	case icmpEchoReply, icmpEcho, icmpInfoRequest, icmpInfoReply, icmpAddress, icmpAddressReply:
		p.ICMPID, p.ICMPSeq = be16(b[4:]), be16(b[6:])
		if c != 0 {
			d.event(p, EvICMPv4UnknownCode)
		}
	case icmpTimestamp, icmpTimestampReply:
		p.ICMPID, p.ICMPSeq = be16(b[4:]), be16(b[6:])
		if c != 0 {
			d.event(p, EvICMPv4UnknownCode)
		}
		if n < 8+12 {
			d.event(p, EvICMPv4IPv4TruncPkt)
		} else {
			hlen += 12
		}
	case icmpDestUnreach:
		if c > 15 {
			d.event(p, EvICMPv4UnknownCode)
		} else if n > 8 && !frag {
			d.icmpv4Embedded(p, b[8:])
		}
	case icmpSourceQuench, icmpParamProb:
		if c != 0 {
			d.event(p, EvICMPv4UnknownCode)
		} else if n > 8 && !frag {
			d.icmpv4Embedded(p, b[8:])
		}
	case icmpRedirect:
		if c > 3 {
			d.event(p, EvICMPv4UnknownCode)
		} else if n > 8 && !frag {
			d.icmpv4Embedded(p, b[8:])
		}
	case icmpTimeExceeded:
		if c > 1 {
			d.event(p, EvICMPv4UnknownCode)
		} else if n > 8 && !frag {
			d.icmpv4Embedded(p, b[8:])
		}
	case icmpRouterAdvert:
		// number of addresses * address entry size (in 32-bit words)
		adv := int(b[4]) * int(b[5]) * 4
		if n < 8+adv {
			d.event(p, EvICMPv4IPv4TruncPkt)
		} else {
			hlen += adv
		}
	default:
		d.event(p, EvICMPv4UnknownType)
	}
	p.PayloadOff, p.PayloadLen = off+hlen, n-hlen
	if d.opts.Checksums && !frag && !csumOK(sum(b, 0)) {
		p.Flags |= packet.FlagL4CsumBad
		d.Stats.L4CsumBad++
	}
}

// icmpv4Embedded checks the IPv4 header an ICMPv4 error quotes.
func (d *Decoder) icmpv4Embedded(p *packet.Packet, b []byte) {
	if len(b) < 20 {
		d.event(p, EvICMPv4IPv4TruncPkt)
		return
	}
	if b[0]>>4 != 4 {
		d.event(p, EvICMPv4IPv4UnknownVer)
	}
}

// ICMPv6 types with checks (RFC 4443 and the IANA registry).
const (
	icmp6DstUnreach   = 1
	icmp6PacketTooBig = 2
	icmp6TimeExceeded = 3
	icmp6ParamProb    = 4
	icmp6EchoRequest  = 128
	icmp6EchoReply    = 129
	icmp6MLDQuery     = 130
	icmp6MLDReport    = 131
	icmp6MLDReduction = 132
	icmp6RouterRenum  = 138
	icmp6NIQuery      = 139
	icmp6NIReply      = 140
	icmp6MobileExp    = 150
	icmp6MCRouterAdv  = 151
	icmp6MCRouterSol  = 152
	icmp6MCRouterTerm = 153
	icmp6RPLControl   = 155
)

// decodeICMPv6 decodes the ICMPv6 message of n bytes at off, with
// Suricata's checks of known types and codes.
func (d *Decoder) decodeICMPv6(p *packet.Packet, off, n int, frag bool) {
	b := p.Data[off : off+n]
	if n < 8 {
		if frag {
			p.PayloadOff, p.PayloadLen = off, n
			return
		}
		d.invalid(p, EvICMPv6PktTooSmall)
		return
	}
	d.Stats.ICMPv6++
	p.Flags |= packet.FlagICMPv6
	p.L4Off = off
	t, c := b[0], b[1]
	p.ICMPType, p.ICMPCode = t, c
	full := false // the header is 8 bytes; else 4 and the rest is payload
	switch {
	case t == icmp6DstUnreach || t == icmp6PacketTooBig || t == icmp6TimeExceeded || t == icmp6ParamProb:
		var maxCode uint8
		switch t {
		case icmp6DstUnreach:
			maxCode = 6
		case icmp6TimeExceeded:
			maxCode = 1
		case icmp6ParamProb:
			maxCode = 2
		}
		if c > maxCode {
			d.event(p, EvICMPv6UnknownCode)
		} else {
			full = true
			if !frag {
				d.icmpv6Embedded(p, b[8:])
			}
		}
	case t == icmp6EchoRequest || t == icmp6EchoReply:
		if c != 0 {
			d.event(p, EvICMPv6UnknownCode)
		} else {
			p.ICMPID, p.ICMPSeq = be16(b[4:]), be16(b[6:])
			full = true
		}
	case t == icmp6MLDQuery || t == icmp6MLDReport || t == icmp6MLDReduction:
		if c != 0 {
			d.event(p, EvICMPv6UnknownCode)
		}
		if p.TTL != 1 {
			d.event(p, EvICMPv6MLDMessageWithInvalidHL)
		}
	case t == icmp6RouterRenum:
		if c > 2 && c != 255 {
			d.event(p, EvICMPv6UnknownCode)
		}
	case t == icmp6NIQuery || t == icmp6NIReply:
		if c > 2 {
			d.event(p, EvICMPv6UnknownCode)
		}
	case t == icmp6MobileExp || t == icmp6MCRouterAdv || t == icmp6MCRouterSol || t == icmp6MCRouterTerm:
		// no code checks
	case t == icmp6RPLControl:
		if (c > 3 && c < 128) || c > 132 {
			d.event(p, EvICMPv6UnknownCode)
		}
	case t >= 133 && t <= 159:
		// ND (133-137), inverse ND, MLDv2, mobility, SEND, FMIPv6,
		// locator update, DAR/DAC, MPL: code 0 only.
		if c != 0 {
			d.event(p, EvICMPv6UnknownCode)
		}
	case (t > 4 && t < 100) || (t >= 102 && t < 127) || (t >= 160 && t < 200) || t >= 202:
		d.event(p, EvICMPv6UnassignedType)
	case (t >= 100 && t < 102) || (t >= 200 && t < 202):
		d.event(p, EvICMPv6ExperimentationType)
	default: // 0, 127
		d.event(p, EvICMPv6UnknownType)
	}
	if full {
		p.L4Len = 8
	} else {
		p.L4Len = 4
	}
	p.PayloadOff, p.PayloadLen = off+p.L4Len, n-p.L4Len
	if d.opts.Checksums && !frag {
		d.l4CsumCheck(p, packet.ProtoICMPv6, b)
	}
}

// icmpv6Embedded checks the IPv6 header an ICMPv6 error quotes.
func (d *Decoder) icmpv6Embedded(p *packet.Packet, b []byte) {
	if len(b) < 40 {
		d.event(p, EvICMPv6IPv6TruncPkt)
		return
	}
	if b[0]>>4 != 6 {
		d.event(p, EvICMPv6IPv6UnknownVersion)
	}
}
