package decode

import "github.com/vigil-ids/vigil/dataplane/packet"

// GRE (RFC 1701/2784, and RFC 2637's enhanced GRE for PPTP) is validated
// the way Suricata's decoder does, raising its gre.* events, but not
// decapsulated: the GRE header and what it carries stay the payload.
//
// Header: flags byte C R K S s Recur(3), then flags(5) version(3) — for
// version 1 the top bit of the second byte is A (ack present) — then the
// protocol type.

const (
	greHdrLen = 4
	protoGRE  = 47 // IP protocol number

	greFlagChecksum = 0x80 // C
	greFlagRouting  = 0x40 // R
	greFlagKey      = 0x20 // K
	greFlagSeq      = 0x10 // S
	greFlagSSR      = 0x08 // s (strict source route)
	greRecurMask    = 0x07

	greVersionMask = 0x07
	greV1FlagsMask = 0x78 // reserved flag bits of the second byte
	greV1FlagAck   = 0x80 // A (version 1)

	greProtoPPP = 0x880b
)

// decodeGRE validates the GRE header in b[off:off+n] and sets the payload
// to it. It reports whether the header is valid; an invalid one raises
// its event and marks the packet malformed (Suricata's invalid events).
func (d *Decoder) decodeGRE(p *packet.Packet, off, n int) bool {
	p.PayloadOff, p.PayloadLen = off, n
	if n < greHdrLen || off+n > len(p.Data) {
		d.invalid(p, EvGREPktTooSmall)
		return false
	}
	g := p.Data[off : off+n]
	flags, ver := g[0], g[1]
	hlen := greHdrLen
	switch ver & greVersionMask {
	case 0:
		if flags&greRecurMask != 0 {
			d.invalid(p, EvGREVersion0Recur)
			return false
		}
		if ver&greV1FlagsMask != 0 {
			d.invalid(p, EvGREVersion0Flags)
			return false
		}
		if flags&greFlagKey != 0 {
			hlen += 4
		}
		if flags&greFlagSeq != 0 {
			hlen += 4
		}
		if flags&(greFlagChecksum|greFlagRouting) != 0 {
			hlen += 4 // checksum and offset
		}
		if hlen > n {
			d.invalid(p, EvGREVersion0HdrTooBig)
			return false
		}
		if flags&greFlagRouting != 0 {
			// Source route entries: address family (2), SRE offset (1),
			// SRE length (1), then the entry; family 0 with length 0 ends
			// the list.
			for {
				if hlen+4 > n {
					d.invalid(p, EvGREVersion0MalformedSREHdr)
					return false
				}
				af, sl := be16(g[hlen:]), int(g[hlen+3])
				hlen += 4
				if af == 0 && sl == 0 {
					break
				}
				hlen += sl
				if hlen > n {
					d.invalid(p, EvGREVersion0MalformedSREHdr)
					return false
				}
			}
		}
	case 1:
		switch {
		case flags&greFlagChecksum != 0:
			d.invalid(p, EvGREVersion1Chksum)
			return false
		case flags&greFlagRouting != 0:
			d.invalid(p, EvGREVersion1Route)
			return false
		case flags&greFlagSSR != 0:
			d.invalid(p, EvGREVersion1SSR)
			return false
		case flags&greRecurMask != 0:
			d.invalid(p, EvGREVersion1Recur)
			return false
		case ver&greV1FlagsMask != 0:
			d.invalid(p, EvGREVersion1Flags)
			return false
		case be16(g[2:]) != greProtoPPP:
			d.invalid(p, EvGREVersion1WrongProtocol)
			return false
		case flags&greFlagKey == 0:
			d.invalid(p, EvGREVersion1NoKey)
			return false
		}
		hlen += 4 // key: payload length and call ID
		if flags&greFlagSeq != 0 {
			hlen += 4
		}
		if ver&greV1FlagAck != 0 {
			hlen += 4
		}
		if hlen > n {
			d.invalid(p, EvGREVersion1HdrTooBig)
			return false
		}
	default:
		d.invalid(p, EvGREWrongVersion)
		return false
	}
	return true
}
