package evasion

import (
	"math/rand"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
)

var (
	client4 = netip.MustParseAddr("10.0.0.1")
	server4 = netip.MustParseAddr("10.0.0.2")
	client6 = netip.MustParseAddr("2001:db8::1")
	server6 = netip.MustParseAddr("2001:db8::2")
)

const (
	ruleStream  = `alert tcp any any -> any 80 (msg:"attack in stream"; content:"EVILSTRING"; sid:1;)`
	rulePkt     = `alert tcp-pkt any any -> any 80 (msg:"attack in one packet"; content:"EVILSTRING"; sid:2;)`
	ruleOverlap = `alert tcp any any -> any any (msg:"overlap with different data"; stream-event:reassembly_overlap_different_data; sid:3;)`
	ruleGap     = `alert tcp any any -> any any (msg:"sequence gap"; stream-event:reassembly_seq_gap; sid:4;)`
)

// split cuts s into n pieces of near-equal length, each with its offset.
func split(s string, n int) (offs []int, parts []string) {
	for i := 0; i < n; i++ {
		a, b := i*len(s)/n, (i+1)*len(s)/n
		offs = append(offs, a)
		parts = append(parts, s[a:b])
	}
	return offs, parts
}

// Case 1: the attack string cut into 2..10 tiny segments, sent in order,
// reversed and shuffled: the stream rule fires exactly once per
// connection, with the reassembled stream as payload; the packet rule
// never does (no segment holds the string).
func TestTinySegments(t *testing.T) {
	tr := &traffic{}
	type key struct {
		srv  string
		port int
	}
	want := map[key]string{}
	rng := rand.New(rand.NewSource(42))
	port := uint16(20000)
	for _, fam := range []struct{ cli, srv netip.Addr }{{client4, server4}, {client6, server6}} {
		for n := 2; n <= 10; n++ {
			for _, order := range []string{"in-order", "reversed", "shuffled"} {
				offs, parts := split(attack, n)
				idx := make([]int, n)
				for i := range idx {
					idx[i] = i
				}
				switch order {
				case "reversed":
					slices.Reverse(idx)
				case "shuffled":
					for slices.IsSorted(idx) {
						rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
					}
				}
				port++
				c := newConn(t, tr, fam.cli, fam.srv, port)
				c.handshake()
				for _, i := range idx {
					c.data(offs[i], parts[i])
				}
				c.ack(len(attack))
				c.close(len(attack))
				want[key{fam.srv.String(), int(port)}] = order
			}
		}
	}
	res := rig{rules: []string{ruleStream, rulePkt}}.run(t, tr)
	if n := len(res.bySID(2)); n != 0 {
		t.Errorf("tcp-pkt rule fired %d times on tiny segments:\n%s", n, res.dump())
	}
	got := map[key]int{}
	for _, a := range res.bySID(1) {
		got[key{a.server(), a.clientPort()}]++
		if a.Stream != 1 || !strings.Contains(a.Payload, attack) {
			t.Errorf("stream alert without stream:1 and the reassembled attack as payload: %s", a.Raw)
		}
		if a.PktSrc != "wire/pcap" && a.PktSrc != "stream (flow timeout)" {
			t.Errorf("unexpected pkt_src: %s", a.Raw)
		}
	}
	for k, order := range want {
		if got[k] != 1 {
			t.Errorf("%s port %d (%s): stream rule fired %d times, want 1", k.srv, k.port, order, got[k])
		}
	}
	if len(res.bySID(1)) != len(want) {
		t.Errorf("%d stream alerts for %d connections:\n%s", len(res.bySID(1)), len(want), res.dump())
	}
}

// overlapShape is one way a retransmitted segment ("new") can overlap one
// already queued ("old"), in byte offsets of the stream (ends exclusive).
type overlapShape struct {
	name           string
	oldOff, oldEnd int
	newOff, newEnd int
}

// The shapes of Novak's table (the attack string sits at offsets 10..20 of
// a 30-byte stream; every overlap covers some of it).
var tcpShapes = []overlapShape{
	{"same start, new ends before old", 10, 20, 10, 15},
	{"same start, new ends after old", 10, 15, 10, 20},
	{"same start, same end", 10, 20, 10, 20},
	{"new starts before, ends inside old", 12, 22, 8, 16},
	{"new starts before, ends after old", 12, 16, 8, 20},
	{"new starts before, ends with old", 12, 20, 8, 20},
	{"new starts after, ends after old", 8, 14, 12, 20},
	{"new starts after, ends inside old", 8, 20, 12, 16},
	{"new starts after, ends with old", 8, 20, 12, 20},
}

// tcpNewWins is the expected resolution, written from the policy
// descriptions (Novak, "Target-Based TCP Stream Reassembly", 2007, as
// Suricata's stream-tcp-list.c applies it), one sentence per policy:
//
//   - first, vista: the first data received always stands.
//   - last: the latest data always wins.
//   - bsd, macos, windows, hpux10, irix: a segment that starts before the
//     queued one wins over it; otherwise the queued data stands.
//   - linux: as bsd, and also a segment that starts with the queued one
//     and reaches further wins.
//   - old-linux: as bsd, and also a segment that starts with the queued
//     one and ends with or after it wins.
//   - solaris, hpux11: a segment that ends with or after the queued one
//     wins, unless it starts after the queued one and ends exactly with
//     it; a segment that ends before the queued one never wins.
func tcpNewWins(policy string, s overlapShape) bool {
	sameStart, before, after := s.newOff == s.oldOff, s.newOff < s.oldOff, s.newOff > s.oldOff
	endsBefore, endsAfter := s.newEnd < s.oldEnd, s.newEnd > s.oldEnd
	switch policy {
	case "first", "vista":
		return false
	case "last":
		return true
	case "bsd", "macos", "windows", "hpux10", "irix":
		return before
	case "linux":
		return before || (sameStart && endsAfter)
	case "old-linux":
		return before || (sameStart && !endsBefore)
	case "solaris", "hpux11":
		return (sameStart && !endsBefore) || (before && !endsBefore) || (after && endsAfter)
	}
	panic("unknown policy " + policy)
}

// allTCPPolicies is stream.ParsePolicy's list of names.
var allTCPPolicies = []string{"first", "last", "bsd", "linux", "old-linux", "windows", "vista", "solaris", "hpux10", "hpux11", "irix", "macos"}

// overlapStreams returns the attack stream and its benign twin: the same
// bytes except that every byte of [lo, hi) inside the attack string is 'Z'.
func overlapStreams(lo, hi int) (evil, benign []byte) {
	evil = []byte("aaaaaaaaaa" + attack + "bbbbbbbbbb")
	benign = append([]byte(nil), evil...)
	for i := lo; i < hi; i++ {
		if i >= 10 && i < 20 {
			benign[i] = 'Z'
		}
	}
	return evil, benign
}

// Case 2: overlapping segments with different data, for every policy and
// every overlap shape, once with the attack in the first copy and once in
// the retransmission. Each policy belongs to its own server (HostPolicy), so
// one run also checks that the policy is chosen per destination.
func TestOverlapPolicies(t *testing.T) {
	tr := &traffic{}
	pol := map[netip.Addr]stream.Policy{}
	servers := map[string]string{} // server address -> policy name
	type key struct {
		srv  string
		port int
	}
	type tc struct {
		policy, shape string
		evilIsNew     bool
		want          bool
	}
	cases := map[key]tc{}
	port := uint16(30000)
	for i, name := range allTCPPolicies {
		p, err := stream.ParsePolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		srv := netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)})
		pol[srv] = p
		servers[srv.String()] = name
		for _, sh := range tcpShapes {
			for _, evilIsNew := range []bool{false, true} {
				lo, hi := max(sh.oldOff, sh.newOff), min(sh.oldEnd, sh.newEnd)
				evil, benign := overlapStreams(lo, hi)
				oldData, newData := evil, benign
				if evilIsNew {
					oldData, newData = benign, evil
				}
				start, end := min(sh.oldOff, sh.newOff), max(sh.oldEnd, sh.newEnd)
				port++
				c := newConn(t, tr, client4, srv, port)
				c.handshake()
				c.data(0, string(evil[:start]))
				c.data(sh.oldOff, string(oldData[sh.oldOff:sh.oldEnd]))
				c.data(sh.newOff, string(newData[sh.newOff:sh.newEnd]))
				c.data(end, string(evil[end:]))
				c.ack(len(evil))
				c.close(len(evil))
				cases[key{srv.String(), int(port)}] = tc{name, sh.name, evilIsNew, tcpNewWins(name, sh) == evilIsNew}
			}
		}
	}
	res := rig{rules: []string{ruleStream, ruleOverlap}, streamPolicy: pol}.run(t, tr)
	fired := map[key]int{}
	events := map[key]int{}
	for _, a := range res.alerts {
		k := key{a.server(), a.clientPort()}
		if _, ok := cases[k]; !ok {
			t.Errorf("alert on an unknown connection: %s", a.Raw)
			continue
		}
		switch a.SID {
		case 1:
			fired[k]++
			if a.Stream != 1 || !strings.Contains(a.Payload, attack) {
				t.Errorf("stream alert payload does not hold the attack: %s", a.Raw)
			}
		case 3:
			events[k]++
		default:
			t.Errorf("unexpected alert: %s", a.Raw)
		}
	}
	for k, c := range cases {
		want := 0
		if c.want {
			want = 1
		}
		if fired[k] != want {
			t.Errorf("policy %s (server %s), %s, attack in the %s copy: stream rule fired %d times, want %d",
				c.policy, k.srv, c.shape, map[bool]string{false: "first", true: "second"}[c.evilIsNew], fired[k], want)
		}
		if events[k] != 1 {
			t.Errorf("policy %s, %s: reassembly_overlap_different_data raised %d times, want 1", c.policy, c.shape, events[k])
		}
	}
	t.Logf("%d overlap cases over %d policies and %d shapes", len(cases), len(allTCPPolicies), len(tcpShapes))
}

// Case 3: a segment never sent but acknowledged by the server. The data on
// either side of the hole must not be joined: "EVIL" + "ING" must not match
// "EVILING", the full string must not match, and reassembly_seq_gap is
// raised once.
func TestGapNoFalseMatch(t *testing.T) {
	tr := &traffic{}
	c := newConn(t, tr, client4, server4, 40000)
	c.handshake()
	c.data(0, "EVIL")
	// "STR" at offset 4 is lost.
	c.data(7, "ING")
	c.ack(10)
	c.data(10, " tail")
	c.ack(15)
	c.close(15)
	res := rig{rules: []string{
		ruleStream, ruleGap,
		`alert tcp any any -> any 80 (msg:"joined across the gap"; content:"EVILING"; sid:5;)`,
		`alert tcp any any -> any 80 (msg:"data before the gap"; content:"EVIL"; sid:6;)`,
		`alert tcp any any -> any 80 (msg:"data after the gap"; content:"ING tail"; sid:7;)`,
	}}.run(t, tr)
	for _, sid := range []int{1, 5} {
		if n := len(res.bySID(sid)); n != 0 {
			t.Errorf("sid %d matched across the gap %d times:\n%s", sid, n, res.dump())
		}
	}
	if n := len(res.bySID(4)); n != 1 {
		t.Errorf("reassembly_seq_gap alerts: %d, want 1:\n%s", n, res.dump())
	}
	if n := len(res.bySID(6)); n != 1 {
		t.Errorf("data before the gap: %d alerts, want 1:\n%s", n, res.dump())
	}
	if n := len(res.bySID(7)); n != 1 {
		t.Errorf("data after the gap: %d alerts, want 1:\n%s", n, res.dump())
	}
}

// Case 4: after the server acknowledged the data, a retransmission with
// different bytes at the same sequence numbers cannot change what was
// exposed, whatever the policy (even "last"); the retransmission carries
// reassembly_overlap_different_data.
func TestRetransmissionAfterAck(t *testing.T) {
	for _, policy := range []string{"bsd", "last", "linux", "solaris"} {
		for _, evilFirst := range []bool{true, false} {
			first, second := attack, "BENIGNDATA"
			if !evilFirst {
				first, second = second, first
			}
			tr := &traffic{}
			c := newConn(t, tr, client4, server4, 41000)
			c.handshake()
			c.data(0, first)
			c.ack(len(first))
			retrans := c.data(0, second)
			c.ack(len(first))
			c.data(len(first), "more")
			c.ack(len(first) + 4)
			c.close(len(first) + 4)
			p, _ := stream.ParsePolicy(policy)
			res := rig{rules: []string{ruleStream, ruleOverlap}, streamPolicy: map[netip.Addr]stream.Policy{server4: p}}.run(t, tr)
			want := 0
			if evilFirst {
				want = 1
			}
			if n := len(res.bySID(1)); n != want {
				t.Errorf("%s, first copy %q then %q: stream rule fired %d times, want %d:\n%s", policy, first, second, n, want, res.dump())
			}
			ev := res.bySID(3)
			if len(ev) != 1 || ev[0].PcapCnt != retrans+1 {
				t.Errorf("%s: overlap event alerts %d, want 1 on the retransmission (pcap_cnt %d):\n%s", policy, len(ev), retrans+1, res.dump())
			}
			if !slices.Contains(res.src.events[retrans], "stream.reassembly_overlap_different_data") {
				t.Errorf("%s: retransmission events %v", policy, res.src.events[retrans])
			}
		}
	}
}

// Case 6: inline mode with a drop rule: the packet that completes the
// attack string in the stream is dropped, the ones before are not.
func TestInlineDropCompletingPacket(t *testing.T) {
	for _, order := range []string{"in-order", "reversed"} {
		tr := &traffic{}
		c := newConn(t, tr, client4, server4, 42000)
		c.handshake()
		offs, parts := split(attack, 4)
		idx := []int{0, 1, 2, 3}
		if order == "reversed" {
			slices.Reverse(idx)
		}
		var sent []int
		for _, i := range idx {
			// Inline, data is inspected once in order: no ACK is needed.
			sent = append(sent, c.data(offs[i], parts[i]))
		}
		completing := sent[len(sent)-1]
		res := rig{rules: []string{`drop tcp any any -> any 80 (msg:"drop attack"; content:"EVILSTRING"; sid:20;)`}, inline: true}.run(t, tr)
		for i := 0; i < completing; i++ {
			if res.src.verdicts[i] != packet.VerdictForward {
				t.Errorf("%s: frame %d (before the attack is complete) has verdict %v", order, i+1, res.src.verdicts[i])
			}
		}
		if res.src.verdicts[completing] != packet.VerdictDrop {
			t.Errorf("%s: completing frame %d has verdict %v, want drop:\n%s", order, completing+1, res.src.verdicts[completing], res.dump())
		}
		al := res.bySID(20)
		if len(al) == 0 || al[0].PcapCnt != completing+1 || al[0].Action != "blocked" || al[0].Stream != 1 {
			t.Errorf("%s: alerts:\n%s", order, res.dump())
		}
		if len(al) != 1 {
			t.Errorf("%s: drop rule alerted %d times, want 1:\n%s", order, len(al), res.dump())
		}
	}
}

// Case 4, partly exposed: a retransmission that covers acknowledged bytes
// and new ones. The acknowledged bytes stand; the new ones are taken. The
// attack appears only if the exposed prefix is "EVIL": "EVIL" acked, then
// "XXXXSTRING" at offset 0 gives "EVILSTRING"; "GOOD" acked, then
// "EVILSTRING" at offset 0 gives "GOODSTRING".
func TestRetransmissionStraddlingAck(t *testing.T) {
	for _, tc := range []struct {
		first, retrans string
		want           int
	}{
		{"EVIL", "XXXXSTRING", 1},
		{"GOOD", attack, 0},
	} {
		for _, policy := range []string{"bsd", "last", "solaris"} {
			tr := &traffic{}
			c := newConn(t, tr, client4, server4, 41500)
			c.handshake()
			c.data(0, tc.first)
			c.ack(len(tc.first))
			retrans := c.data(0, tc.retrans)
			c.ack(len(tc.retrans))
			c.close(len(tc.retrans))
			p, _ := stream.ParsePolicy(policy)
			res := rig{rules: []string{ruleStream, ruleOverlap}, streamPolicy: map[netip.Addr]stream.Policy{server4: p}}.run(t, tr)
			n := len(res.bySID(1))
			if n != tc.want {
				t.Errorf("%s: %q acked, then %q: stream rule fired %d times, want %d:\n%s", policy, tc.first, tc.retrans, n, tc.want, res.dump())
			}
			if ev := res.bySID(3); len(ev) != 1 || ev[0].PcapCnt != retrans+1 {
				t.Errorf("%s: %q then %q: want one overlap event on frame %d:\n%s", policy, tc.first, tc.retrans, retrans+1, res.dump())
			}
		}
	}
}

// Inline, a retransmission with different bytes over data already
// inspected and forwarded is normalized: the packet is rewritten to carry
// the bytes detection saw (Suricata's inline mode), with a valid checksum,
// so a host that takes the last copy cannot receive the attack unseen.
func TestInlineOverlapNormalized(t *testing.T) {
	tr := &traffic{}
	c := newConn(t, tr, client4, server4, 42500)
	c.handshake()
	c.data(0, "BENIGNDATA")
	retrans := c.data(0, attack)
	c.close(10)
	last, _ := stream.ParsePolicy("last")
	res := rig{rules: []string{
		`drop tcp any any -> any 80 (msg:"drop attack"; content:"EVILSTRING"; sid:20;)`,
		`drop tcp-pkt any any -> any 80 (msg:"drop attack packet"; content:"EVILSTRING"; sid:21;)`,
		ruleOverlap,
	}, inline: true, streamPolicy: map[netip.Addr]stream.Policy{server4: last}}.run(t, tr)
	if n := len(res.bySID(20)) + len(res.bySID(21)); n != 0 {
		t.Errorf("the attack was inspected after normalization:\n%s", res.dump())
	}
	if ev := res.bySID(3); len(ev) != 1 || ev[0].PcapCnt != retrans+1 {
		t.Errorf("want one overlap event on frame %d:\n%s", retrans+1, res.dump())
	}
	f := tr.frames[retrans]
	if !strings.Contains(string(f), "BENIGNDATA") || strings.Contains(string(f), attack) {
		t.Errorf("retransmission not normalized: %q", f[len(f)-10:])
	}
	p := &packet.Packet{Data: f, WireLen: len(f), LinkType: packet.LinkEthernet}
	decode.NewDecoder(decode.Options{Checksums: true}).Decode(p)
	if !p.IsTCP() || p.Flags&packet.FlagL4CsumBad != 0 {
		t.Errorf("normalized retransmission has a bad TCP checksum (flags %#x)", p.Flags)
	}
	if res.src.verdicts[retrans] != packet.VerdictForward {
		t.Errorf("normalized retransmission verdict %v", res.src.verdicts[retrans])
	}
}

// An attack string whose first part the server acknowledged before the
// second part was sent: the most ordinary TCP traffic. The stream holds
// "EVILSTRING", so the stream rule must fire once.
//
// In IDS mode raw stream inspection waits, as Suricata's
// StreamTcpReassembleRawCheckLimit does, until the acknowledged data not
// yet inspected reaches the chunk size (2560 bytes), the app layer
// triggers it, the depth is reached or the direction closes; inspecting
// each acknowledged piece alone would miss this attack.
func TestAckSplitsAttack(t *testing.T) {
	tr := &traffic{}
	c := newConn(t, tr, client4, server4, 43000)
	c.handshake()
	c.data(0, "EVIL")
	c.ack(4)
	c.data(4, "STRING")
	c.ack(10)
	c.close(10)
	res := rig{rules: []string{ruleStream, `alert tcp any any -> any 80 (msg:"first part"; content:"EVIL"; sid:8;)`}}.run(t, tr)
	if len(res.bySID(8)) != 1 {
		t.Fatalf("first part not inspected once:\n%s", res.dump())
	}
	if n := len(res.bySID(1)); n != 1 {
		t.Errorf("stream rule fired %d times, want 1:\n%s", n, res.dump())
	}
}
