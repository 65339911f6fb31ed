package defrag

import (
	"encoding/binary"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// FuzzReassembler reads the input as a sequence of 6-byte fragment
// descriptions (flags, offset, length, id, fill, time step) and feeds the
// fragments they describe; a description whose flags say "raw" feeds the
// rest of the input as one frame instead. Invariants: no panic, memory
// within the memcap, and every reassembled frame decodes as a whole,
// unfragmented IP packet whose length fields match the frame.
func FuzzReassembler(f *testing.F) {
	// In order, reversed, overlapping, IPv6, VLAN, raw garbage.
	f.Add([]byte{0x02, 0, 4, 1, 'a', 0, 0x00, 1, 4, 1, 'b', 0})
	f.Add([]byte{0x00, 1, 4, 1, 'b', 0, 0x02, 0, 4, 1, 'a', 0})
	f.Add([]byte{0x02, 0, 6, 1, 'a', 0, 0x02, 1, 6, 1, 'j', 0, 0x12, 0, 3, 1, 'k', 0, 0x00, 5, 2, 1, 'z', 0})
	f.Add([]byte{0x03, 0, 4, 2, 'a', 0, 0x01, 1, 4, 2, 'b', 0})
	f.Add([]byte{0x06, 0, 4, 3, 'a', 0, 0x04, 1, 4, 3, 'b', 0x80})
	f.Add([]byte{0x08, 0x45, 0, 0, 28, 0, 1, 0x20, 0, 64, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := Config{Memcap: 1 << 17, MaxTrackers: 8, MaxFrags: 16}
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dec := decode.NewDecoder(decode.Options{})
		var p, out packet.Packet
		now := int64(1e9)
		feed := func(lt packet.LinkType, frame []byte) {
			p = packet.Packet{Data: frame, LinkType: lt, TimeNs: now}
			dec.Decode(&p)
			if r.Process(&p, &out) {
				checkOutput(t, &out)
			}
			if r.MemUsed() > cfg.Memcap {
				t.Fatalf("memory %d above memcap %d", r.MemUsed(), cfg.Memcap)
			}
		}
		for len(in) >= 6 {
			d := in[:6]
			fl := d[0]
			if fl&0x08 != 0 {
				feed(packet.LinkRaw, in[1:])
				return
			}
			mf := fl&0x02 != 0
			v6 := fl&0x01 != 0
			off := int(d[1]) * 8
			if fl&0x10 != 0 {
				off += 4 // not a multiple of 8: impossible on the wire, checks bounds
				off &^= 7
			}
			n := int(d[2]) * 4
			id := d[3] & 7
			data := fill(d[4], n)
			now += int64(d[5]) * 1e9
			var frame []byte
			var lt packet.LinkType
			if v6 {
				var ext []ext
				if fl&0x20 != 0 {
					ext = append(ext, struct {
						typ  uint8
						body []byte
					}{0, []byte{1, 4}})
				}
				frame, lt = ipv6Frag(uint32(id), off, mf, d[4]&0x3f, ext, data), packet.LinkIPv6
			} else {
				frame, lt = ipv4Frag(uint16(id), off, mf, d[4]&0x3f, data), packet.LinkIPv4
			}
			if fl&0x04 != 0 {
				frame, lt = ether(frame, uint16(d[5]&3)), packet.LinkEthernet
			}
			feed(lt, frame)
			in = in[6:]
		}
	})
}

func checkOutput(t *testing.T, out *packet.Packet) {
	if out.Origin != packet.OriginDefrag {
		t.Fatalf("origin %v", out.Origin)
	}
	var q packet.Packet
	q = packet.Packet{Data: out.Data, LinkType: out.LinkType}
	decode.NewDecoder(decode.Options{Checksums: true}).Decode(&q)
	if !q.IsIP() {
		t.Fatalf("reassembled frame is not IP: %x", out.Data)
	}
	if q.Flags&packet.FlagFragment != 0 {
		t.Fatalf("reassembled frame is still a fragment: %x", out.Data)
	}
	l3 := q.L3Off
	if q.IsIPv4() {
		if q.Flags&packet.FlagIPv4CsumBad != 0 {
			t.Fatalf("bad IPv4 checksum: %x", out.Data)
		}
		if int(binary.BigEndian.Uint16(out.Data[l3+2:])) != len(out.Data)-l3 {
			t.Fatalf("IPv4 total length does not match the frame")
		}
	} else if int(binary.BigEndian.Uint16(out.Data[l3+4:]))+40 != len(out.Data)-l3 {
		t.Fatalf("IPv6 payload length does not match the frame")
	}
	if q.IPv6Exts&packet.ExtFragment != 0 {
		t.Fatalf("fragment header left in: %x", out.Data)
	}
}
