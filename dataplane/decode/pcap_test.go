package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// TestSharedPcaps decodes every frame of the shared capture files: no
// panic, offsets within the frame, and plausible counts.
func TestSharedPcaps(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/pcaps/*.pcap*")
	if len(files) == 0 {
		t.Skip("no shared pcaps")
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			frames, lts, err := readCapture(name)
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			var lt packet.LinkType
			next := func() ([]byte, error) {
				if i == len(frames) {
					return nil, io.EOF
				}
				i++
				lt = lts[i-1]
				return frames[i-1], nil
			}
			d := NewDecoder(Options{Checksums: true})
			for {
				data, err := next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after %d packets: %v", d.Stats.Packets, err)
				}
				p := &packet.Packet{Data: data, WireLen: len(data), LinkType: lt}
				d.Decode(p)
				checkInvariants(t, p)
			}
			s := &d.Stats
			ip := s.IPv4 + s.IPv6
			l4 := s.TCP + s.UDP + s.ICMPv4 + s.ICMPv6
			t.Logf("link %d: %d packets, ipv4 %d ipv6 %d tcp %d udp %d icmp %d/%d frag %d/%d invalid %d csum bad ip %d l4 %d",
				lt, s.Packets, s.IPv4, s.IPv6, s.TCP, s.UDP, s.ICMPv4, s.ICMPv6, s.Frag4, s.Frag6, s.Invalid, s.IPv4CsumBad, s.L4CsumBad)
			for id, n := range s.Events {
				if n > 0 {
					t.Logf("  event %s: %d", EventName(packet.EventID(id)), n)
				}
			}
			if s.Packets == 0 || ip == 0 || l4 == 0 {
				t.Fatalf("no IP traffic decoded: %+v", s)
			}
			if ip > s.Packets || l4 > ip {
				t.Fatalf("counts do not add up: packets %d ip %d l4 %d", s.Packets, ip, l4)
			}
			// Real captures are mostly well formed.
			if s.Invalid*10 > s.Packets {
				t.Fatalf("%d of %d packets malformed", s.Invalid, s.Packets)
			}
		})
	}
}

// readCapture reads all frames of a pcap or pcapng file with their link
// types. (gopacket's pcapgo needs a module this repository does not carry,
// so the test has its own small reader.)
func readCapture(name string) ([][]byte, []packet.LinkType, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, nil, err
	}
	if len(b) < 24 {
		return nil, nil, fmt.Errorf("%s: too short for a capture header", name)
	}
	var frames [][]byte
	var lts []packet.LinkType
	switch m := binary.LittleEndian.Uint32(b); m {
	case 0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1:
		var bo binary.ByteOrder = binary.LittleEndian
		if m == 0xd4c3b2a1 || m == 0x4d3cb2a1 {
			bo = binary.BigEndian
		}
		lt := packet.LinkType(bo.Uint32(b[20:]) & 0xffff)
		for off := 24; off < len(b); {
			if len(b)-off < 16 {
				break // the file ends inside a record header
			}
			n := int(bo.Uint32(b[off+8:]))
			if n > len(b)-off-16 {
				break // the file ends inside a record
			}
			frames = append(frames, b[off+16:off+16+n])
			lts = append(lts, lt)
			off += 16 + n
		}
	case 0x0a0d0d0a:
		var bo binary.ByteOrder = binary.LittleEndian
		var ifaces []packet.LinkType
		for off := 0; off+12 <= len(b); {
			typ := bo.Uint32(b[off:])
			if typ == 0x0a0d0d0a {
				if binary.LittleEndian.Uint32(b[off+8:]) == 0x1a2b3c4d {
					bo = binary.LittleEndian
				} else {
					bo = binary.BigEndian
				}
				ifaces = ifaces[:0]
			}
			blen := int(bo.Uint32(b[off+4:]))
			if blen < 12 || blen > len(b)-off {
				return nil, nil, fmt.Errorf("%s: bad block length %d at %d", name, blen, off)
			}
			blk := b[off : off+blen]
			switch typ {
			case 1: // interface description
				ifaces = append(ifaces, packet.LinkType(bo.Uint16(blk[8:])))
			case 6: // enhanced packet
				id := int(bo.Uint32(blk[8:]))
				n := int(bo.Uint32(blk[20:]))
				if id >= len(ifaces) || 28+n > blen {
					return nil, nil, fmt.Errorf("%s: bad enhanced packet block at %d", name, off)
				}
				frames = append(frames, blk[28:28+n])
				lts = append(lts, ifaces[id])
			case 3: // simple packet
				if len(ifaces) == 0 {
					return nil, nil, fmt.Errorf("%s: simple packet block without interface at %d", name, off)
				}
				frames = append(frames, blk[12:blen-4])
				lts = append(lts, ifaces[0])
			}
			off += blen
		}
	default:
		return nil, nil, fmt.Errorf("%s: unknown capture format (magic %#x)", name, m)
	}
	return frames, lts, nil
}
