package decode

import (
	"encoding/binary"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// sum adds b to a ones' complement accumulator as a sequence of big-endian
// 16-bit words (an odd last byte is padded with zero). 32-bit words are
// added into a 64-bit accumulator, which is equivalent modulo 0xffff and
// cannot overflow for any IP packet.
func sum(b []byte, acc uint64) uint64 {
	for len(b) >= 32 {
		acc += uint64(binary.BigEndian.Uint32(b)) +
			uint64(binary.BigEndian.Uint32(b[4:])) +
			uint64(binary.BigEndian.Uint32(b[8:])) +
			uint64(binary.BigEndian.Uint32(b[12:])) +
			uint64(binary.BigEndian.Uint32(b[16:])) +
			uint64(binary.BigEndian.Uint32(b[20:])) +
			uint64(binary.BigEndian.Uint32(b[24:])) +
			uint64(binary.BigEndian.Uint32(b[28:]))
		b = b[32:]
	}
	for len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces a ones' complement accumulator to 16 bits.
func fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = (acc & 0xffff) + (acc >> 16)
	}
	return uint16(acc)
}

// csumOK reports whether data whose checksum field is included sums to
// 0xffff (a correct Internet checksum).
func csumOK(acc uint64) bool { return fold(acc) == 0xffff }

// FixTCPChecksum recomputes the TCP checksum of p in place after its
// payload was rewritten (inline stream normalization, packet.FlagModified).
// The segment is the TCP header and the captured payload; nothing is done
// when they are not complete in the frame.
func FixTCPChecksum(p *packet.Packet) {
	if p.Flags&packet.FlagTCP == 0 || p.L3Off < 0 || p.L4Off < 0 || p.PayloadOff < p.L4Off {
		return
	}
	end := p.PayloadOff + p.PayloadLen
	if end > len(p.Data) || p.L4Off+18 > end {
		return
	}
	seg := p.Data[p.L4Off:end]
	seg[16], seg[17] = 0, 0
	binary.BigEndian.PutUint16(seg[16:], ^fold(sum(seg, pseudoSum(p, packet.ProtoTCP, len(seg)))))
}
