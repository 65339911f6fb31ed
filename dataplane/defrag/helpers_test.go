package defrag

import (
	"encoding/binary"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

var (
	src4 = [4]byte{1, 1, 1, 1}
	dst4 = [4]byte{2, 2, 2, 2}
)

// ipv4Frag builds a raw IPv4 fragment: offset in bytes (multiple of 8).
func ipv4Frag(id uint16, off int, mf bool, proto uint8, data []byte) []byte {
	b := make([]byte, 20+len(data))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], id)
	fo := uint16(off / 8)
	if mf {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], fo)
	b[8] = 64
	b[9] = proto
	copy(b[12:], src4[:])
	copy(b[16:], dst4[:])
	binary.BigEndian.PutUint16(b[10:], ipChecksum(b[:20]))
	copy(b[20:], data)
	return b
}

// ipv6Frag builds a raw IPv6 fragment. unfrag is a chain of unfragmentable
// extension headers given as (type, body) pairs, in order; nh is the next
// header after the fragment header.
func ipv6Frag(id uint32, off int, mf bool, nh uint8, unfrag []ext, data []byte) []byte {
	var exts []byte
	first := uint8(44)
	for i, e := range unfrag {
		if i == 0 {
			first = e.typ
		}
		next := uint8(44)
		if i+1 < len(unfrag) {
			next = unfrag[i+1].typ
		}
		h := make([]byte, 8)
		h[0] = next
		copy(h[2:], e.body)
		exts = append(exts, h...)
	}
	b := make([]byte, 40+len(exts)+8+len(data))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
	b[6] = first
	b[7] = 64
	for i := 0; i < 16; i++ {
		b[8+i] = 1
		b[24+i] = 2
	}
	copy(b[40:], exts)
	fh := b[40+len(exts):]
	fh[0] = nh
	fo := uint16(off)
	if mf {
		fo |= 1
	}
	binary.BigEndian.PutUint16(fh[2:], fo)
	binary.BigEndian.PutUint32(fh[4:], id)
	copy(fh[8:], data)
	return b
}

type ext struct {
	typ  uint8
	body []byte // up to 6 bytes of options (padded to one 8-byte unit)
}

// ether wraps an IP packet in Ethernet, with VLAN tags if given.
func ether(ip []byte, vlans ...uint16) []byte {
	b := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	for _, v := range vlans {
		b = append(b, 0x81, 0x00, byte(v>>8), byte(v))
	}
	et := uint16(0x0800)
	if ip[0]>>4 == 6 {
		et = 0x86dd
	}
	b = append(b, byte(et>>8), byte(et))
	return append(b, ip...)
}

// harness decodes frames and feeds them to a Reassembler.
type harness struct {
	t   testing.TB
	r   *Reassembler
	dec *decode.Decoder
	in  packet.Packet
	out packet.Packet
	num uint64
	ns  int64
}

func newHarness(t testing.TB, cfg Config) *harness {
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, r: r, dec: decode.NewDecoder(decode.Options{Checksums: true}), ns: 1_000_000_000}
}

// feed processes one frame; it returns the reassembled frame (a copy) or nil.
func (h *harness) feed(lt packet.LinkType, frame []byte) []byte {
	h.num++
	h.in = packet.Packet{Data: frame, WireLen: len(frame), LinkType: lt, Num: h.num, TimeNs: h.ns}
	h.dec.Decode(&h.in)
	if !h.r.Process(&h.in, &h.out) {
		return nil
	}
	return append([]byte(nil), h.out.Data...)
}

func (h *harness) has(e packet.EventID) bool { return h.in.HasEvent(e) }

func fill(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

var (
	decodeEvV6Overlap  = decode.EvIPv6FragOverlap
	decodeEvV6TooLarge = decode.EvIPv6FragPktTooLarge
)
