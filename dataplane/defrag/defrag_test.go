package defrag

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// The Sturges/Novak fragment set (as in Suricata's defrag tests): nine
// originals, then seven overlapping in every direction, then the last.
var novak = []struct {
	c        byte
	off, len int
}{
	{'A', 0, 24}, {'B', 32, 16}, {'C', 48, 24}, {'D', 80, 8}, {'E', 104, 16},
	{'F', 120, 24}, {'G', 144, 16}, {'H', 160, 16}, {'I', 176, 8},
	{'J', 8, 32}, {'K', 48, 24}, {'L', 72, 24}, {'M', 96, 24}, {'N', 128, 8},
	{'O', 152, 8}, {'P', 160, 8}, {'Q', 176, 16},
}

// What each host sees, one letter per 8 bytes (Suricata's expected results;
// bsd-right per this package's definition).
var novakWant = map[Policy]string{
	PolicyBSD:      "AAAJJBCCCLLLMMMFFFGGHHIQ",
	PolicyLinux:    "AAAJJBKKKLLLMMMFFFGGPHQQ",
	PolicyWindows:  "AAAJBBCCCLLLMEEFFFGGHHIQ",
	PolicySolaris:  "AAAJBBCCCLLLMMMFFFGGHHIQ",
	PolicyFirst:    "AAAJBBCCCLDLMEEFFFGGHHIQ",
	PolicyLast:     "AJJJJBKKKLLLMMMFNFGOPHQQ",
	PolicyBSDRight: "AJJJBBCCCLLLMEEFFFGGHHQQ",
}

func expand(s string) []byte {
	var b []byte
	for i := range len(s) {
		b = append(b, fill(s[i], 8)...)
	}
	return b
}

func TestSturgesNovak(t *testing.T) {
	for pol, want := range novakWant {
		for _, v6 := range []bool{false, true} {
			name := pol.String() + map[bool]string{false: "/ipv4", true: "/ipv6"}[v6]
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, Config{DefaultPolicy: pol})
				var got []byte
				overlaps := 0
				for i, f := range novak {
					mf := i != len(novak)-1
					var lt packet.LinkType
					var frame []byte
					if v6 {
						lt, frame = packet.LinkIPv6, ipv6Frag(1, f.off, mf, 1, nil, fill(f.c, f.len))
					} else {
						lt, frame = packet.LinkIPv4, ipv4Frag(1, f.off, mf, 1, fill(f.c, f.len))
					}
					got = h.feed(lt, frame)
					ov := h.has(decode.EvIPv4FragOverlap) || h.has(decode.EvIPv6FragOverlap)
					if i < 9 && ov {
						t.Fatalf("fragment %c: overlap event on an original fragment", f.c)
					}
					if ov {
						overlaps++
					}
					if mf && got != nil {
						t.Fatalf("fragment %c completed the datagram early", f.c)
					}
				}
				if got == nil {
					t.Fatal("not reassembled")
				}
				if overlaps != 8 { // the seven overlapping ones and Q (over I)
					t.Errorf("overlap events on %d fragments, want 8", overlaps)
				}
				hl := 20
				if v6 {
					hl = 40
					if n := binary.BigEndian.Uint16(got[4:]); n != 192 {
						t.Errorf("payload length %d, want 192", n)
					}
					if got[6] != 1 {
						t.Errorf("next header %d, want 1", got[6])
					}
				} else if n := binary.BigEndian.Uint16(got[2:]); n != 212 {
					t.Errorf("total length %d, want 212", n)
				}
				if len(got) != hl+192 {
					t.Fatalf("frame length %d, want %d", len(got), hl+192)
				}
				if !bytes.Equal(got[hl:], expand(want)) {
					t.Errorf("payload\n got %q\nwant %q", got[hl:], expand(want))
				}
				if h.r.Pending() != 0 {
					t.Errorf("%d trackers left", h.r.Pending())
				}
			})
		}
	}
}

func TestInOrderAndReverse(t *testing.T) {
	for _, rev := range []bool{false, true} {
		h := newHarness(t, Config{})
		frames := [][]byte{
			ipv4Frag(12, 0, true, 1, fill('A', 8)),
			ipv4Frag(12, 8, true, 1, fill('B', 8)),
			ipv4Frag(12, 16, false, 1, fill('C', 3)),
		}
		if rev {
			frames[0], frames[2] = frames[2], frames[0]
		}
		var got []byte
		for i, f := range frames {
			got = h.feed(packet.LinkIPv4, f)
			if (got != nil) != (i == 2) {
				t.Fatalf("rev=%v: fragment %d: reassembled=%v", rev, i, got != nil)
			}
		}
		if binary.BigEndian.Uint16(got[2:]) != 39 || len(got) != 39 {
			t.Fatalf("length: header %d frame %d, want 39", binary.BigEndian.Uint16(got[2:]), len(got))
		}
		if got[6] != 0 || got[7] != 0 {
			t.Errorf("flags/offset not cleared: %x %x", got[6], got[7])
		}
		if ipChecksum(got[:20]) != 0 {
			t.Errorf("bad header checksum")
		}
		want := append(append(fill('A', 8), fill('B', 8)...), fill('C', 3)...)
		if !bytes.Equal(got[20:], want) {
			t.Errorf("payload %q", got[20:])
		}
		o := h.out
		if o.Origin != packet.OriginDefrag || o.Num != 3 || o.LinkType != packet.LinkIPv4 || o.TimeNs != h.ns {
			t.Errorf("out fields: origin %v num %d lt %d ts %d", o.Origin, o.Num, o.LinkType, o.TimeNs)
		}
		if h.r.Stats.Reassembled4 != 1 || h.r.Stats.Fragments4 != 3 || h.r.Stats.Overlaps != 0 {
			t.Errorf("stats %+v", h.r.Stats)
		}
	}
}

// tcpSegment builds a TCP header (no options) with payload.
func tcpSegment(sport, dport uint16, flags uint8, payload []byte) []byte {
	b := make([]byte, 20+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	b[12] = 5 << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 8192)
	copy(b[20:], payload)
	return b
}

// A duplicated first fragment with a different TCP header: which header a
// host uses depends on its policy; the output must follow it.
func TestOverlappingFirstFragmentHeader(t *testing.T) {
	orig := tcpSegment(1000, 80, packet.TCPAck, []byte("GET /index.html HTTP/1.0"))[:32]
	evil := tcpSegment(1000, 31337, packet.TCPAck, []byte("GET /evil.cgi?x HTTP/1.0"))[:32]
	tail := []byte("\r\n\r\n")
	for _, tc := range []struct {
		pol  Policy
		port uint16
	}{{PolicyFirst, 80}, {PolicyBSD, 80}, {PolicyWindows, 80}, {PolicyLinux, 31337}, {PolicyLast, 31337}} {
		h := newHarness(t, Config{DefaultPolicy: tc.pol})
		h.feed(packet.LinkIPv4, ipv4Frag(7, 0, true, packet.ProtoTCP, orig))
		h.feed(packet.LinkIPv4, ipv4Frag(7, 0, true, packet.ProtoTCP, evil))
		if !h.has(decode.EvIPv4FragOverlap) {
			t.Errorf("%v: no overlap event", tc.pol)
		}
		got := h.feed(packet.LinkIPv4, ipv4Frag(7, 32, false, packet.ProtoTCP, tail))
		if got == nil {
			t.Fatalf("%v: not reassembled", tc.pol)
		}
		var p packet.Packet
		p = packet.Packet{Data: got, LinkType: packet.LinkIPv4}
		decode.NewDecoder(decode.Options{}).Decode(&p)
		if !p.IsTCP() || p.DstPort != tc.port || p.Flags&packet.FlagFragment != 0 {
			t.Errorf("%v: reassembled tcp=%v dport %d flags %#x, want port %d", tc.pol, p.IsTCP(), p.DstPort, p.Flags, tc.port)
		}
		if p.PayloadLen != 16 {
			t.Errorf("%v: payload len %d, want 16", tc.pol, p.PayloadLen)
		}
	}
}

// Tiny 8-byte fragments delivered out of order and duplicated.
func TestTinyOutOfOrderDuplicates(t *testing.T) {
	seg := tcpSegment(1234, 80, packet.TCPPsh|packet.TCPAck, []byte("attack-string-in-tiny-frags!")) // 48 bytes
	h := newHarness(t, Config{})
	order := []int{3, 0, 5, 1, 1, 4, 2, 0}
	var got []byte
	for i, k := range order {
		off := k * 8
		got = h.feed(packet.LinkIPv4, ipv4Frag(99, off, off+8 < len(seg), packet.ProtoTCP, seg[off:off+8]))
		if got != nil && i != len(order)-2 {
			t.Fatalf("completed at step %d", i)
		}
		if got != nil {
			break
		}
	}
	if got == nil {
		t.Fatal("not reassembled")
	}
	if !bytes.Equal(got[20:], seg) {
		t.Fatalf("payload mismatch")
	}
	if h.r.Stats.Overlaps != 1 {
		t.Errorf("overlaps %d, want 1 (the duplicate)", h.r.Stats.Overlaps)
	}
	// The late duplicate of fragment 0 starts a new datagram that never completes.
	if h.feed(packet.LinkIPv4, ipv4Frag(99, 0, true, packet.ProtoTCP, seg[:8])) != nil || h.r.Pending() != 1 {
		t.Errorf("late duplicate: pending %d", h.r.Pending())
	}
}

func TestIPv6ExtensionHeadersAndVLAN(t *testing.T) {
	// hop-by-hop (PadN) and destination options before the fragment header.
	unfrag := []ext{{0, []byte{1, 4, 0, 0, 0, 0}}, {60, []byte{1, 4, 0, 0, 0, 0}}}
	seg := tcpSegment(5555, 443, packet.TCPSyn, fill('x', 44)) // 64 bytes
	h := newHarness(t, Config{})
	f1 := ether(ipv6Frag(0xabcdef, 0, true, packet.ProtoTCP, unfrag, seg[:32]), 10)
	f2 := ether(ipv6Frag(0xabcdef, 32, false, packet.ProtoTCP, unfrag, seg[32:]), 10)
	// Same datagram id on another VLAN: a different datagram.
	f2other := ether(ipv6Frag(0xabcdef, 32, false, packet.ProtoTCP, unfrag, seg[32:]), 11)
	if h.feed(packet.LinkEthernet, f1) != nil || h.feed(packet.LinkEthernet, f2other) != nil {
		t.Fatal("early reassembly")
	}
	got := h.feed(packet.LinkEthernet, f2)
	if got == nil {
		t.Fatal("not reassembled")
	}
	l3 := 18
	want := 16 + len(seg)
	if n := int(binary.BigEndian.Uint16(got[l3+4:])); n != want || len(got) != l3+40+want {
		t.Fatalf("payload length %d frame %d, want %d", n, len(got), want)
	}
	if got[l3+6] != 0 || got[l3+40] != 60 || got[l3+48] != packet.ProtoTCP {
		t.Errorf("next header chain %d -> %d -> %d, want 0 -> 60 -> 6", got[l3+6], got[l3+40], got[l3+48])
	}
	var p packet.Packet
	p = packet.Packet{Data: got, LinkType: packet.LinkEthernet}
	decode.NewDecoder(decode.Options{Checksums: false}).Decode(&p)
	if !p.IsTCP() || p.DstPort != 443 || p.VLANCount != 1 || p.VLAN[0] != 10 || p.PayloadLen != 44 || p.Flags&packet.FlagMalformed != 0 {
		t.Errorf("decoded: tcp=%v dport=%d vlan=%v payload=%d flags=%#x", p.IsTCP(), p.DstPort, p.VLAN, p.PayloadLen, p.Flags)
	}
	if h.r.Pending() != 1 {
		t.Errorf("pending %d, want 1 (VLAN 11 datagram)", h.r.Pending())
	}
}

func TestIPv6NoExtHeadersNextHeader(t *testing.T) {
	h := newHarness(t, Config{})
	seg := tcpSegment(1, 2, packet.TCPSyn, fill('y', 12))
	h.feed(packet.LinkIPv6, ipv6Frag(5, 0, true, packet.ProtoTCP, nil, seg[:16]))
	got := h.feed(packet.LinkIPv6, ipv6Frag(5, 16, false, packet.ProtoTCP, nil, seg[16:]))
	if got == nil || got[6] != packet.ProtoTCP || !bytes.Equal(got[40:], seg) {
		t.Fatalf("reassembled %x", got)
	}
}

func TestIPv6InvalidLength(t *testing.T) {
	h := newHarness(t, Config{})
	h.feed(packet.LinkIPv6, ipv6Frag(5, 0, true, 17, nil, fill('a', 13)))
	if !h.has(decode.EvIPv6FragInvalidLength) || h.r.Stats.InvalidLength != 1 || h.r.Pending() != 0 {
		t.Errorf("invalid length not flagged: %+v", h.r.Stats)
	}
}

func TestTooLarge(t *testing.T) {
	h := newHarness(t, Config{})
	h.feed(packet.LinkIPv4, ipv4Frag(1, 8183*8, false, 1, fill('A', 71)))
	if !h.has(decode.EvIPv4FragPktTooLarge) || h.r.Pending() != 0 {
		t.Error("ipv4 too large not flagged")
	}
	h.feed(packet.LinkIPv6, ipv6Frag(1, 65528, false, 17, nil, fill('A', 16)))
	if !h.has(decode.EvIPv6FragPktTooLarge) || h.r.Pending() != 0 {
		t.Error("ipv6 too large not flagged")
	}
	if h.r.Stats.TooLarge != 2 {
		t.Errorf("TooLarge %d", h.r.Stats.TooLarge)
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, Config{Timeout: 30 * time.Second})
	h.feed(packet.LinkIPv4, ipv4Frag(3, 0, true, 1, fill('A', 8)))
	h.ns += int64(31 * time.Second)
	if h.feed(packet.LinkIPv4, ipv4Frag(3, 8, false, 1, fill('B', 8))) != nil {
		t.Fatal("reassembled across a timeout")
	}
	if h.r.Stats.Timeouts != 1 || h.r.Pending() != 1 {
		t.Fatalf("timeouts %d pending %d", h.r.Stats.Timeouts, h.r.Pending())
	}
	// Within the timeout, the datagram completes.
	h.ns += int64(29 * time.Second)
	if h.feed(packet.LinkIPv4, ipv4Frag(3, 0, true, 1, fill('A', 8))) == nil {
		t.Fatal("not reassembled within the timeout")
	}
	h.feed(packet.LinkIPv4, ipv4Frag(4, 0, true, 1, fill('A', 8)))
	if n := h.r.Expire(h.ns + int64(30*time.Second)); n != 0 {
		t.Errorf("expired %d at exactly the timeout", n)
	}
	if n := h.r.Expire(h.ns + int64(31*time.Second)); n != 1 || h.r.Pending() != 0 {
		t.Errorf("Expire: %d, pending %d", n, h.r.Pending())
	}
}

func TestMemcapAndLimits(t *testing.T) {
	cfg := Config{Memcap: 1 << 16, MaxTrackers: 1000}
	h := newHarness(t, cfg)
	drops := 0
	for id := 0; id < 200; id++ {
		h.feed(packet.LinkIPv4, ipv4Frag(uint16(id), 0, true, 17, fill('m', 1400)))
		if h.has(evV4Ignored) {
			drops++
		}
		if h.r.MemUsed() > cfg.Memcap {
			t.Fatalf("memory %d above memcap %d", h.r.MemUsed(), cfg.Memcap)
		}
	}
	if drops == 0 || h.r.Stats.MemcapDrops != uint64(drops) {
		t.Errorf("memcap drops %d, events %d", h.r.Stats.MemcapDrops, drops)
	}
	// After the timeout, memory is reused for new datagrams.
	h.ns += int64(61 * time.Second)
	h.feed(packet.LinkIPv4, ipv4Frag(5000, 0, true, 17, fill('m', 1400)))
	if got := h.feed(packet.LinkIPv4, ipv4Frag(5000, 1400, false, 17, fill('n', 8))); got == nil {
		t.Errorf("no reassembly after timeouts freed memory (%+v)", h.r.Stats)
	}

	// Trackers full.
	h = newHarness(t, Config{MaxTrackers: 2})
	for id := 0; id < 3; id++ {
		h.feed(packet.LinkIPv4, ipv4Frag(uint16(id), 0, true, 17, fill('a', 8)))
	}
	if h.r.Stats.TrackersFull != 1 || !h.has(evV4Ignored) {
		t.Errorf("trackers full: %+v", h.r.Stats)
	}
	// Max fragments per datagram.
	h = newHarness(t, Config{MaxFrags: 4})
	for i := 0; i < 5; i++ {
		h.feed(packet.LinkIPv4, ipv4Frag(1, i*8, true, 17, fill('a', 8)))
	}
	if h.r.Stats.TooManyFrags != 1 || !h.has(evV4Ignored) {
		t.Errorf("max frags: %+v", h.r.Stats)
	}
}

func TestPastTheEndIgnored(t *testing.T) {
	h := newHarness(t, Config{})
	h.feed(packet.LinkIPv4, ipv4Frag(8, 8, false, 17, fill('b', 8)))
	h.feed(packet.LinkIPv4, ipv4Frag(8, 16, true, 17, fill('c', 8)))
	if !h.has(evV4Ignored) {
		t.Error("fragment past the announced end not ignored")
	}
	got := h.feed(packet.LinkIPv4, ipv4Frag(8, 0, true, 17, fill('a', 8)))
	if got == nil || len(got) != 36 {
		t.Fatalf("reassembled %d bytes", len(got))
	}
}

func TestHostPolicy(t *testing.T) {
	var tbl PolicyTable
	if err := tbl.AddOS("windows", []string{"2.2.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.AddOS("linux", []string{"2.2.2.2", "2001:db8::/32"}); err != nil {
		t.Fatal(err)
	}
	if p, ok := tbl.Lookup(netip.MustParseAddr("2.2.2.2")); !ok || p != PolicyLinux {
		t.Errorf("2.2.2.2 -> %v %v", p, ok)
	}
	if p, ok := tbl.Lookup(netip.MustParseAddr("2.2.9.9")); !ok || p != PolicyWindows {
		t.Errorf("2.2.9.9 -> %v %v", p, ok)
	}
	if _, ok := tbl.Lookup(netip.MustParseAddr("9.9.9.9")); ok {
		t.Error("9.9.9.9 matched")
	}
	if err := tbl.Add("10.0.0.0/33", PolicyBSD); err == nil {
		t.Error("bad prefix accepted")
	}
	for name, want := range map[string]Policy{"hpux10": PolicyBSD, "irix": PolicyBSD, "old-linux": PolicyLinux,
		"vista": PolicyWindows, "windows2k3": PolicyWindows, "hpux11": PolicyFirst, "macos": PolicyFirst,
		"old-solaris": PolicyFirst, "Solaris": PolicySolaris, "bsd-right": PolicyBSDRight, "last": PolicyLast} {
		if p, err := ParsePolicy(name); err != nil || p != want {
			t.Errorf("ParsePolicy(%q) = %v, %v; want %v", name, p, err, want)
		}
	}
	if _, err := ParsePolicy("os2"); err == nil || !strings.Contains(err.Error(), "os2") {
		t.Errorf("unknown policy error: %v", err)
	}
	// The Linux host (2.2.2.2) gets the last K data, not C.
	h := newHarness(t, Config{HostPolicy: tbl.Lookup})
	h.feed(packet.LinkIPv4, ipv4Frag(1, 0, true, 1, fill('C', 16)))
	h.feed(packet.LinkIPv4, ipv4Frag(1, 0, true, 1, fill('K', 16)))
	got := h.feed(packet.LinkIPv4, ipv4Frag(1, 16, false, 1, fill('Z', 8)))
	if got == nil || got[20] != 'K' {
		t.Errorf("host policy not applied: %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Timeout: -1}, {MaxFrags: -1}, {MaxTrackers: -5}, {DefaultPolicy: 42}, {Memcap: 100}} {
		if _, err := New(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestNotAFragment(t *testing.T) {
	h := newHarness(t, Config{})
	if h.feed(packet.LinkIPv4, ipv4Frag(1, 0, false, 17, fill('a', 8))) != nil || h.r.Stats.Fragments4 != 0 {
		t.Error("non-fragment processed")
	}
	// IPv6 atomic fragment: a normal packet.
	if h.feed(packet.LinkIPv6, ipv6Frag(1, 0, false, 17, nil, fill('a', 8))) != nil || h.r.Stats.Fragments6 != 0 {
		t.Error("atomic fragment processed")
	}
}

func TestEventsRegistered(t *testing.T) {
	if decode.EventName(evV4Ignored) != "ipv4.frag_ignored" || decode.EventName(evV6Ignored) != "ipv6.frag_ignored" {
		t.Errorf("events %d=%q %d=%q", evV4Ignored, decode.EventName(evV4Ignored), evV6Ignored, decode.EventName(evV6Ignored))
	}
}
