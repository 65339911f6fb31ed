package gen

import "encoding/binary"

// Header sizes.
const (
	ethLen    = 14
	ipv4Len   = 20
	ipv6Len   = 40
	frag6Len  = 8
	tcpLen    = 20
	tcpSynLen = 28 // with MSS, NOP, NOP, SACK-permitted
	udpLen    = 8
)

// IP protocol numbers.
const (
	protoTCP   = 6
	protoUDP   = 17
	protoFrag6 = 44
)

// TCP flags.
const (
	flFIN = 0x01
	flSYN = 0x02
	flRST = 0x04
	flPSH = 0x08
	flACK = 0x10
	flURG = 0x20
)

// MaxFrameLen is the largest frame the generator writes (a 1500-byte IP
// packet in an Ethernet II frame, plus room for a jumbo MSS up to 9000).
// Buffers given to Next must be at least this long.
const MaxFrameLen = 9216

// csum accumulates the ones-complement sum of b (RFC 1071) into acc, b
// starting at an even offset of the checksummed data. 32-bit words are
// added into a 64-bit accumulator: 2^16 = 1 (mod 0xffff), so the folded
// result is the 16-bit sum.
func csum(acc uint64, b []byte) uint64 {
	for len(b) >= 8 {
		acc += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	if len(b) >= 4 {
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

// fold folds an accumulator to 16 bits (not complemented).
func fold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}

// csumUpdate32 returns the checksum hc after a 32-bit field changed from
// old to new (RFC 1624, equation 3: HC' = ~(~HC + ~m + m')).
func csumUpdate32(hc uint16, old, new uint32) uint16 {
	acc := uint64(^hc) + uint64(^uint16(old>>16)) + uint64(^uint16(old)) + uint64(uint16(new>>16)) + uint64(uint16(new))
	return ^fold(acc)
}

// putEth writes an Ethernet II header.
func putEth(b []byte, dst, src *[6]byte, etherType uint16) {
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:], etherType)
}

// ipHdr describes the IP header of one packet.
type ipHdr struct {
	v6       bool
	src, dst *[16]byte // IPv4 addresses in the first 4 bytes
	proto    uint8
	ttl      uint8
	id       uint32 // IPv4: low 16 bits; IPv6: fragment header id
	df       bool
	frag     bool // write a fragment (IPv4 offset/MF, IPv6 fragment header)
	fragOff  int  // byte offset of this fragment (multiple of 8)
	mf       bool
}

// ipLen is the IP header length of h (IPv6 with its fragment header).
func (h *ipHdr) len() int {
	if !h.v6 {
		return ipv4Len
	}
	if h.frag {
		return ipv6Len + frag6Len
	}
	return ipv6Len
}

// put writes the IP header for a payload of plen bytes and returns its
// length.
func (h *ipHdr) put(b []byte, plen int) int {
	if !h.v6 {
		b[0] = 0x45
		b[1] = 0
		binary.BigEndian.PutUint16(b[2:], uint16(ipv4Len+plen))
		binary.BigEndian.PutUint16(b[4:], uint16(h.id))
		var fo uint16
		if h.df {
			fo = 0x4000
		}
		if h.frag {
			fo |= uint16(h.fragOff / 8)
			if h.mf {
				fo |= 0x2000
			}
		}
		binary.BigEndian.PutUint16(b[6:], fo)
		b[8] = h.ttl
		b[9] = h.proto
		b[10], b[11] = 0, 0
		copy(b[12:16], h.src[:4])
		copy(b[16:20], h.dst[:4])
		binary.BigEndian.PutUint16(b[10:], ^fold(csum(0, b[:ipv4Len])))
		return ipv4Len
	}
	binary.BigEndian.PutUint32(b[0:], 6<<28)
	n := ipv6Len
	if h.frag {
		binary.BigEndian.PutUint16(b[4:], uint16(frag6Len+plen))
		b[6] = protoFrag6
	} else {
		binary.BigEndian.PutUint16(b[4:], uint16(plen))
		b[6] = h.proto
	}
	b[7] = h.ttl
	copy(b[8:24], h.src[:])
	copy(b[24:40], h.dst[:])
	if h.frag {
		f := b[40:48]
		f[0] = h.proto
		f[1] = 0
		v := uint16(h.fragOff/8) << 3
		if h.mf {
			v |= 1
		}
		binary.BigEndian.PutUint16(f[2:], v)
		binary.BigEndian.PutUint32(f[4:], h.id)
		n += frag6Len
	}
	return n
}

// pseudoSum is the checksum accumulator of the TCP/UDP pseudo header.
func pseudoSum(v6 bool, src, dst *[16]byte, proto uint8, l4len int) uint64 {
	var acc uint64
	if v6 {
		acc = csum(acc, src[:])
		acc = csum(acc, dst[:])
	} else {
		acc = csum(acc, src[:4])
		acc = csum(acc, dst[:4])
	}
	return acc + uint64(proto) + uint64(l4len)
}

// putTCP writes a TCP header (20 bytes, or 28 with the SYN options) and
// returns its length. The checksum is left zero.
func putTCP(b []byte, sport, dport uint16, seq, ack uint32, flags uint8, win, urg uint16, synOpts bool, mss uint16) int {
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[8:], ack)
	n := tcpLen
	if synOpts {
		n = tcpSynLen
	}
	b[12] = byte(n/4) << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], win)
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[18:], urg)
	if synOpts {
		b[20], b[21] = 2, 4 // MSS
		binary.BigEndian.PutUint16(b[22:], mss)
		b[24], b[25] = 1, 1 // NOP NOP
		b[26], b[27] = 4, 2 // SACK permitted
	}
	return n
}

// putUDP writes a UDP header for a payload of plen bytes; the checksum is
// left zero.
func putUDP(b []byte, sport, dport uint16, plen int) int {
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(udpLen+plen))
	b[6], b[7] = 0, 0
	return udpLen
}

// finishL4 computes the TCP or UDP checksum of the segment l4 in place.
func finishL4(l4 []byte, v6 bool, src, dst *[16]byte, proto uint8) {
	acc := pseudoSum(v6, src, dst, proto, len(l4))
	c := ^fold(csum(acc, l4))
	if proto == protoUDP {
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[6:], c)
		return
	}
	binary.BigEndian.PutUint16(l4[16:], c)
}
