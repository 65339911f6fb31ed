package evasion

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/defrag"
)

const udpPort = 7777

const (
	ruleDatagram  = `alert udp any any -> any 7777 (msg:"attack in datagram"; content:"EVILSTRING"; sid:10;)`
	ruleOverlap4  = `alert ip any any -> any any (msg:"ipv4 fragment overlap"; decode-event:ipv4.frag_overlap; sid:11;)`
	ruleOverlap6  = `alert ip any any -> any any (msg:"ipv6 fragment overlap"; decode-event:ipv6.frag_overlap; sid:12;)`
	datagramLen   = 64 // UDP header and payload: eight 8-byte fragment blocks
	attackBodyOff = 24 // offset of the attack string in the datagram body
)

// udpBody returns a UDP datagram (header and payload) whose payload holds
// the attack string at attackBodyOff, with the checksum left zero.
func udpBody(sport uint16) []byte {
	b := make([]byte, datagramLen)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], udpPort)
	binary.BigEndian.PutUint16(b[4:], datagramLen)
	copy(b[8:], strings.Repeat("a", attackBodyOff-8)+attack+strings.Repeat("b", datagramLen-attackBodyOff-len(attack)))
	return b
}

// setUDPChecksum fills the checksum of body as sent from src to dst.
func setUDPChecksum(body []byte, src, dst netip.Addr) {
	body[6], body[7] = 0, 0
	var sum uint32
	for _, a := range [][]byte{src.AsSlice(), dst.AsSlice()} {
		for i := 0; i < len(a); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(a[i:]))
		}
	}
	sum += 17 + uint32(len(body))
	c := csum16(body, sum)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(body[6:], c)
}

// fragFrame builds an Ethernet frame with one IPv4 or IPv6 fragment of a
// UDP datagram: data at byte offset off (a multiple of 8), more fragments
// following when mf.
func fragFrame(src, dst netip.Addr, id uint32, off int, mf bool, data []byte) []byte {
	var b []byte
	if src.Is4() {
		b = append(b, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00)
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(data)))
		binary.BigEndian.PutUint16(h[4:], uint16(id))
		fo := uint16(off / 8)
		if mf {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:], fo)
		h[8], h[9] = 64, 17
		s4, d4 := src.As4(), dst.As4()
		copy(h[12:], s4[:])
		copy(h[16:], d4[:])
		binary.BigEndian.PutUint16(h[10:], csum16(h, 0))
		b = append(b, h...)
	} else {
		b = append(b, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd)
		h := make([]byte, 48)
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(8+len(data)))
		h[6], h[7] = 44, 64 // next header: fragment
		s6, d6 := src.As16(), dst.As16()
		copy(h[8:], s6[:])
		copy(h[24:], d6[:])
		fh := h[40:]
		fh[0] = 17
		fo := uint16(off/8) << 3
		if mf {
			fo |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], id)
		b = append(b, h...)
	}
	return append(b, data...)
}

// The overlap shapes in datagram body offsets (multiples of 8); every
// overlap covers part of the attack string at 24..34.
var fragShapes = []overlapShape{
	{"same start, new ends before old", 24, 40, 24, 32},
	{"same start, new ends after old", 24, 32, 24, 40},
	{"same start, same end", 24, 40, 24, 40},
	{"new starts before, ends inside old", 32, 48, 16, 40},
	{"new starts before, ends after old", 24, 32, 16, 40},
	{"new starts before, ends with old", 24, 40, 16, 40},
	{"new starts after, ends after old", 16, 32, 24, 40},
	{"new starts after, ends inside old", 16, 48, 24, 32},
	{"new starts after, ends with old", 16, 40, 24, 40},
}

// fragNewWins is the expected resolution, from the policy descriptions
// (Novak, "Target-Based Fragmentation Reassembly", 2005; the results of
// Suricata's Sturges/Novak defrag tests): which host keeps the later
// fragment's bytes where it overlaps an earlier one.
//
//   - bsd: when the later fragment starts before the earlier one.
//   - linux: when it starts before or at the same offset.
//   - windows: when it starts before and ends after the earlier one.
//   - solaris: when it starts before and ends with or after it.
//   - first: never. last: always.
//   - bsd-right (Vigil's own; Suricata has none): when it ends after it.
func fragNewWins(policy string, s overlapShape) bool {
	switch policy {
	case "bsd":
		return s.newOff < s.oldOff
	case "linux":
		return s.newOff <= s.oldOff
	case "windows":
		return s.newOff < s.oldOff && s.newEnd > s.oldEnd
	case "solaris":
		return s.newOff < s.oldOff && s.newEnd >= s.oldEnd
	case "first":
		return false
	case "last":
		return true
	case "bsd-right":
		return s.newEnd > s.oldEnd
	}
	panic("unknown policy " + policy)
}

var allFragPolicies = []string{"bsd", "linux", "windows", "solaris", "first", "last", "bsd-right"}

// Case 5: the attack split over IPv4 and IPv6 fragments, sent out of order,
// with and without an overlap carrying different data, for every policy
// (each its own destination host): the rule fires on the reassembled
// datagram (pkt_src "defrag") iff the policy's reassembly holds the
// attack, never on a fragment, and the overlap event is raised once per
// overlapping datagram.
func TestFragmentOverlapPolicies(t *testing.T) {
	tr := &traffic{}
	pol := map[netip.Addr]defrag.Policy{}
	type key struct {
		srv  string
		port int
	}
	type tc struct {
		desc    string
		want    bool
		overlap bool
	}
	cases := map[key]tc{}
	port := uint16(20000)
	id := uint32(0x100)
	for _, fam := range []string{"ipv4", "ipv6"} {
		cli := client4
		if fam == "ipv6" {
			cli = client6
		}
		for i, name := range allFragPolicies {
			p, err := defrag.ParsePolicy(name)
			if err != nil {
				t.Fatal(err)
			}
			srv := netip.AddrFrom4([4]byte{10, 0, 2, byte(i + 1)})
			if fam == "ipv6" {
				srv = netip.MustParseAddr("2001:db8:2::").Next()
				for j := 0; j < i; j++ {
					srv = srv.Next()
				}
			}
			pol[srv] = p

			// No overlap: eight 8-byte fragments, last first.
			port++
			id++
			body := udpBody(port)
			setUDPChecksum(body, cli, srv)
			for off := datagramLen - 8; off >= 0; off -= 8 {
				tr.add(fragFrame(cli, srv, id, off, off+8 < datagramLen, body[off:off+8]))
			}
			cases[key{srv.String(), int(port)}] = tc{fam + " " + name + ": reversed fragments", true, false}

			for _, sh := range fragShapes {
				for _, evilIsNew := range []bool{false, true} {
					port++
					id++
					lo, hi := max(sh.oldOff, sh.newOff), min(sh.oldEnd, sh.newEnd)
					evil := udpBody(port)
					benign := append([]byte(nil), evil...)
					for j := max(lo, attackBodyOff); j < min(hi, attackBodyOff+len(attack)); j++ {
						benign[j] = 'Z'
					}
					want := fragNewWins(name, sh) == evilIsNew
					// The checksum is that of the datagram the host keeps.
					if want {
						setUDPChecksum(evil, cli, srv)
						copy(benign[6:8], evil[6:8])
					} else {
						setUDPChecksum(benign, cli, srv)
						copy(evil[6:8], benign[6:8])
					}
					oldData, newData := evil, benign
					if evilIsNew {
						oldData, newData = benign, evil
					}
					start, end := min(sh.oldOff, sh.newOff), max(sh.oldEnd, sh.newEnd)
					// Out of order: the tail first, then the two
					// overlapping fragments, the head (offset 0) last.
					tr.add(fragFrame(cli, srv, id, end, false, evil[end:]))
					tr.add(fragFrame(cli, srv, id, sh.oldOff, true, oldData[sh.oldOff:sh.oldEnd]))
					tr.add(fragFrame(cli, srv, id, sh.newOff, true, newData[sh.newOff:sh.newEnd]))
					tr.add(fragFrame(cli, srv, id, 0, true, evil[:start]))
					where := map[bool]string{false: "first", true: "second"}[evilIsNew]
					cases[key{srv.String(), int(port)}] = tc{fam + " " + name + ": " + sh.name + ", attack in the " + where + " copy", want, true}
				}
			}
		}
	}
	res := rig{rules: []string{ruleDatagram, ruleOverlap4, ruleOverlap6}, defragPolicy: pol}.run(t, tr)
	fired, overlaps := map[key]int{}, map[key]int{}
	for _, a := range res.alerts {
		switch a.SID {
		case 10:
			k := key{a.server(), a.clientPort()}
			fired[k]++
			if a.PktSrc != "defrag" || !strings.Contains(a.Payload, attack) {
				t.Errorf("datagram alert not on the reassembled packet: %s", a.Raw)
			}
		case 11, 12:
			// Fragments after the first carry no ports: find the
			// datagram by destination and frame.
			overlaps[key{a.server(), 0}]++
		default:
			t.Errorf("unexpected alert: %s", a.Raw)
		}
	}
	perServer := map[string]int{}
	for k, c := range cases {
		want := 0
		if c.want {
			want = 1
		}
		if fired[k] != want {
			t.Errorf("%s: rule fired %d times, want %d", c.desc, fired[k], want)
		}
		if c.overlap {
			perServer[k.srv]++
		}
	}
	for srv, n := range perServer {
		if got := overlaps[key{srv, 0}]; got != n {
			t.Errorf("server %s: %d fragment overlap events for %d overlapping datagrams", srv, got, n)
		}
	}
	st := res.single.Defrag.Stats
	if st.Reassembled4+st.Reassembled6 != uint64(len(cases)) || res.single.Defrag.Pending() != 0 {
		t.Errorf("reassembled %d+%d datagrams of %d, %d pending", st.Reassembled4, st.Reassembled6, len(cases), res.single.Defrag.Pending())
	}
	t.Logf("%d datagrams over %d policies, %d overlap shapes, 2 families", len(cases), len(allFragPolicies), len(fragShapes))
}
