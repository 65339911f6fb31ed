package decode

import "github.com/vigil-ids/vigil/dataplane/packet"

// TCP option kinds.
const (
	tcpOptEOL    = 0
	tcpOptNOP    = 1
	tcpOptMSS    = 2
	tcpOptWS     = 3
	tcpOptSACKOK = 4
	tcpOptSACK   = 5
	tcpOptTS     = 8
	tcpOptMD5    = 19
	tcpOptAO     = 29
	tcpOptTFO    = 34
	tcpOptExp1   = 253
	tcpOptExp2   = 254
)

// pseudoSum returns the ones' complement sum of the IPv4 or IPv6 pseudo
// header for an upper-layer message of length n and protocol proto.
func pseudoSum(p *packet.Packet, proto uint8, n int) uint64 {
	h := p.Data[p.L3Off:]
	var acc uint64
	if p.Flags&packet.FlagIPv6 != 0 {
		acc = sum(h[8:40], 0)
	} else {
		acc = sum(h[12:20], 0)
	}
	return acc + uint64(proto) + uint64(n)
}

// l4CsumCheck validates the checksum of the L4 message b (checksum field
// included).
func (d *Decoder) l4CsumCheck(p *packet.Packet, proto uint8, b []byte) {
	if !csumOK(sum(b, pseudoSum(p, proto, len(b)))) {
		p.Flags |= packet.FlagL4CsumBad
		d.Stats.L4CsumBad++
	}
}

// decodeTCP decodes the TCP segment of n bytes at off. frag is set for a
// first fragment: a header that is not complete is then left undecoded
// without an event, and the checksum is not checked.
func (d *Decoder) decodeTCP(p *packet.Packet, off, n int, frag bool) {
	b := p.Data[off : off+n]
	if n < 20 {
		if frag {
			p.PayloadOff, p.PayloadLen = off, n
			return
		}
		d.invalid(p, EvTCPPktTooSmall)
		return
	}
	hlen := int(b[12]>>4) * 4
	if hlen < 20 {
		// Suricata computes the options length as an unsigned byte,
		// hlen-20, which wraps past the 40-byte maximum.
		d.invalid(p, EvTCPInvalidOptLen)
		return
	}
	if n < hlen {
		if frag {
			p.PayloadOff, p.PayloadLen = off, n
			return
		}
		d.invalid(p, EvTCPHLenTooSmall)
		return
	}
	d.Stats.TCP++
	p.Flags |= packet.FlagTCP
	p.L4Off, p.L4Len = off, hlen
	p.SrcPort = be16(b[0:])
	p.DstPort = be16(b[2:])
	p.TCPSeq = be32(b[4:])
	p.TCPAck = be32(b[8:])
	p.TCPFlags = b[13]
	p.TCPWindow = be16(b[14:])
	p.TCPUrgent = be16(b[18:])
	if hlen > 20 {
		d.tcpOptions(p, b[20:hlen])
	}
	p.PayloadOff, p.PayloadLen = off+hlen, n-hlen
	if d.opts.Checksums && !frag {
		d.l4CsumCheck(p, packet.ProtoTCP, b)
	}
}

// tcpOptions walks the TCP options, filling the option fields and flags and
// raising tcp.opt_invalid_len / tcp.opt_duplicate as Suricata does.
func (d *Decoder) tcpOptions(p *packet.Packet, o []byte) {
	var sackSeen bool
	for len(o) > 0 {
		t := o[0]
		if t == tcpOptEOL {
			break
		}
		if t == tcpOptNOP {
			o = o[1:]
			continue
		}
		if len(o) < 2 {
			break
		}
		ol := int(o[1])
		if ol < 2 || ol > len(o) {
			d.event(p, EvTCPOptInvalidLen)
			return
		}
		opt := o[:ol]
		switch t {
		case tcpOptMSS:
			if ol != 4 {
				d.event(p, EvTCPOptInvalidLen)
			} else if p.Flags&packet.FlagTCPMSS != 0 {
				d.event(p, EvTCPOptDuplicate)
			} else {
				p.Flags |= packet.FlagTCPMSS
				p.TCPMSS = be16(opt[2:])
			}
		case tcpOptWS:
			if ol != 3 {
				d.event(p, EvTCPOptInvalidLen)
			} else if p.Flags&packet.FlagTCPWScale != 0 {
				d.event(p, EvTCPOptDuplicate)
			} else {
				p.Flags |= packet.FlagTCPWScale
				p.TCPWScale = opt[2]
			}
		case tcpOptSACKOK:
			if ol != 2 {
				d.event(p, EvTCPOptInvalidLen)
			} else if p.Flags&packet.FlagTCPSACKOK != 0 {
				d.event(p, EvTCPOptDuplicate)
			} else {
				p.Flags |= packet.FlagTCPSACKOK
			}
		case tcpOptSACK:
			if ol != 2 && (ol < 10 || ol > 34 || (ol-2)%8 != 0) {
				d.event(p, EvTCPOptInvalidLen)
			} else if sackSeen {
				d.event(p, EvTCPOptDuplicate)
			} else {
				sackSeen = true
				if ol >= 10 {
					p.Flags |= packet.FlagTCPSACK
				}
			}
		case tcpOptTS:
			if ol != 10 {
				d.event(p, EvTCPOptInvalidLen)
			} else if p.Flags&packet.FlagTCPTS != 0 {
				d.event(p, EvTCPOptDuplicate)
			} else {
				p.Flags |= packet.FlagTCPTS
				p.TCPTSVal = be32(opt[2:])
				p.TCPTSEcr = be32(opt[6:])
			}
		case tcpOptTFO:
			if ol != 2 && (ol < 6 || ol > 18 || (ol-2)&1 != 0) {
				d.event(p, EvTCPOptInvalidLen)
			} else if p.Flags&packet.FlagTCPTFO != 0 {
				d.event(p, EvTCPOptDuplicate)
			} else {
				p.Flags |= packet.FlagTCPTFO
			}
		case tcpOptExp1, tcpOptExp2:
			// Experimental option: TFO before it had its own kind
			// when it carries magic 0xf989 (RFC 7413).
			if ol == 4 || ol == 12 {
				if be16(opt[2:]) == 0xf989 {
					if p.Flags&packet.FlagTCPTFO != 0 {
						d.event(p, EvTCPOptDuplicate)
					} else {
						p.Flags |= packet.FlagTCPTFO
					}
				}
			} else {
				d.event(p, EvTCPOptInvalidLen)
			}
		case tcpOptMD5:
			if ol != 18 {
				d.event(p, EvTCPOptInvalidLen)
			} else {
				p.Flags |= packet.FlagTCPAuth
			}
		case tcpOptAO:
			if ol < 4 {
				d.event(p, EvTCPOptInvalidLen)
			} else {
				p.Flags |= packet.FlagTCPAuth
			}
		}
		o = o[ol:]
	}
}

// decodeUDP decodes the UDP datagram of n bytes (the IP payload) at off.
func (d *Decoder) decodeUDP(p *packet.Packet, off, n int, frag bool) {
	b := p.Data[off : off+n]
	if n < 8 {
		if frag {
			p.PayloadOff, p.PayloadLen = off, n
			return
		}
		d.invalid(p, EvUDPHLenTooSmall)
		return
	}
	ulen := int(be16(b[4:]))
	if !frag {
		if n < ulen {
			d.invalid(p, EvUDPPktTooSmall)
			return
		}
		if ulen < 8 {
			d.invalid(p, EvUDPLenInvalid)
			return
		}
	}
	d.Stats.UDP++
	p.Flags |= packet.FlagUDP
	p.L4Off, p.L4Len = off, 8
	p.SrcPort = be16(b[0:])
	p.DstPort = be16(b[2:])
	plen := n - 8
	if ulen >= 8 && ulen-8 < plen {
		plen = ulen - 8
	}
	p.PayloadOff, p.PayloadLen = off+8, plen
	if d.opts.Checksums && !frag {
		c := be16(b[6:])
		if c == 0 && p.Flags&packet.FlagIPv4 != 0 {
			return // IPv4: no checksum was computed
		}
		d.l4CsumCheck(p, packet.ProtoUDP, b[:ulen])
	}
}
