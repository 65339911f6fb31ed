package engine

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/rules"
)

var testParser = &rules.Parser{}

// parse parses rule lines (line numbers from 1) in file "t.rules".
func parse(t testing.TB, lines ...string) []*rules.Rule {
	t.Helper()
	var rs []*rules.Rule
	for i, l := range lines {
		r, err := testParser.ParseRule(l, "t.rules", i+1)
		if err != nil {
			t.Fatalf("parse %q: %v", l, err)
		}
		rs = append(rs, r)
	}
	return rs
}

func compile(t testing.TB, lines ...string) *Engine {
	t.Helper()
	e, errs := Compile(parse(t, lines...), Config{})
	for _, err := range errs {
		t.Errorf("compile: %v", err)
	}
	return e
}

type pkt struct {
	proto    uint8 // packet.ProtoTCP etc.
	v6       bool
	src, dst string
	sp, dp   uint16
	payload  string
	flags    uint32 // extra packet flags (flow bits)
	tcpFlags uint8
	ttl      uint8
	itype    uint8
	icode    uint8
	origin   packet.Origin
}

// build makes a decoded packet by hand: a zeroed header area followed by
// the payload, offsets and fields set as the decoder would.
func (q pkt) build() *packet.Packet {
	const hdr = 54
	data := make([]byte, hdr+len(q.payload))
	copy(data[hdr:], q.payload)
	src, dst := q.src, q.dst
	if src == "" {
		src = "10.0.0.1"
	}
	if dst == "" {
		dst = "10.0.0.2"
	}
	p := &packet.Packet{
		Data: data, WireLen: len(data), Flags: q.flags,
		SrcIP: netip.MustParseAddr(src), DstIP: netip.MustParseAddr(dst),
		SrcPort: q.sp, DstPort: q.dp, IPProto: q.proto, TTL: q.ttl,
		L3Off: 14, L4Off: 34, PayloadOff: hdr, PayloadLen: len(q.payload),
		TCPFlags: q.tcpFlags, ICMPType: q.itype, ICMPCode: q.icode, Origin: q.origin,
	}
	if p.SrcIP.Is4() {
		p.Flags |= packet.FlagIPv4
	} else {
		p.Flags |= packet.FlagIPv6
	}
	switch q.proto {
	case packet.ProtoTCP:
		p.Flags |= packet.FlagTCP
	case packet.ProtoUDP:
		p.Flags |= packet.FlagUDP
	case packet.ProtoICMP:
		p.Flags |= packet.FlagICMPv4
	case packet.ProtoICMPv6:
		p.Flags |= packet.FlagICMPv6
	}
	return p
}

func tcp(payload string) pkt {
	return pkt{proto: packet.ProtoTCP, sp: 1234, dp: 80, payload: payload, ttl: 64}
}

func sids(ms []Match) []uint32 {
	out := []uint32{}
	for _, m := range ms {
		out = append(out, m.Sig.SID)
	}
	return out
}

// alerts compiles the rules, inspects one packet and returns the sids.
func alerts(t *testing.T, q pkt, lines ...string) []uint32 {
	t.Helper()
	e := compile(t, lines...)
	th := e.NewThread()
	got := sids(th.Inspect(q.build(), nil))
	// The prefilter must never change the result.
	if want := fullEval(e, th, q.build()); !slices.Equal(got, want) && th.Verdict() == packet.VerdictForward && !th.Passed() {
		t.Errorf("prefiltered result %v differs from full evaluation %v", got, want)
	}
	return got
}

// fullEval evaluates every signature without the prefilter (reference for
// differential tests), ignoring pass/drop/alert-max handling.
func fullEval(e *Engine, th *Thread, p *packet.Packet) []uint32 {
	out := []uint32{}
	if !p.IsIP() {
		return out
	}
	for _, s := range e.sigs {
		if s.noalert || s.thr != nil || len(s.suppress) > 0 {
			continue // alerting depends on state, not only on the packet
		}
		if s.proto.inGroup(groupOf(p)) && th.matchSig(s, p, nil, p.Payload()) {
			out = append(out, s.SID)
		}
	}
	return out
}

func rule(opts string) string {
	return "alert tcp any any -> any any (msg:\"t\"; " + opts + " sid:1;)"
}

func expectMatch(t *testing.T, opts, payload string, want bool) {
	t.Helper()
	got := alerts(t, tcp(payload), rule(opts))
	if (len(got) == 1) != want {
		t.Errorf("rule (%s) on %q: matched=%v, want %v", opts, payload, len(got) == 1, want)
	}
}

func TestContent(t *testing.T) {
	cases := []struct {
		opts    string
		payload string
		want    bool
	}{
		{`content:"abc";`, "xxabcxx", true},
		{`content:"abc";`, "xxabxcx", false},
		{`content:"ABC";`, "xxabcxx", false},
		{`content:"ABC"; nocase;`, "xxabcxx", true},
		{`content:"|41 42|C"; nocase;`, "zzabc", true},
		{`content:"abc"; depth:3;`, "abcxx", true},
		{`content:"abc"; depth:3;`, "xabc", false},
		{`content:"abc"; depth:4;`, "xabc", true},
		{`content:"abc"; offset:1;`, "abcabc", true},
		{`content:"abc"; offset:1;`, "abcab", false},
		{`content:"abc"; offset:2; depth:3;`, "xxabc", true},
		{`content:"abc"; offset:2; depth:3;`, "xxxabc", false},
		{`content:"abc"; depth:3; offset:2;`, "xxabc", true}, // depth counts from offset in any order
		{`content:"a"; content:"b"; distance:2;`, "ab--b", true},
		{`content:"a"; content:"b"; distance:2;`, "ab-b", true},
		{`content:"a"; content:"b"; distance:2;`, "abb", false},
		{`content:"a"; content:"b"; within:2;`, "a-b", true},
		{`content:"a"; content:"b"; within:2;`, "a--b", false},
		{`content:"a"; content:"bc"; distance:1; within:3;`, "a-bc", true},
		{`content:"a"; content:"bc"; distance:1; within:3;`, "a--bc", true}, // within counts from the previous match end, plus distance
		{`content:"a"; content:"bc"; distance:1; within:3;`, "a---bc", false},
		{`content:"cd"; content:"ab"; distance:-4; within:2;`, "abcd", true},
		{`content:"cd"; content:"ab"; distance:-10; within:2;`, "abcd", true}, // clamped to start
		{`content:"b"; distance:1;`, "b-b", true},                             // relative to buffer start
		{`content:"b"; distance:1;`, "bb", true},
		{`content:"b"; distance:1;`, "b", false},
		// Backtracking: the first "a" is not followed by "b" within 1, a
		// later one is.
		{`content:"a"; content:"b"; distance:0; within:1;`, "a-a-ab", true},
		{`content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1;`, "ab-abc", true},
		{`content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1;`, "ab-ab-c", false},
		// Distance only: later occurrences cannot help (no retry), and
		// none is needed.
		{`content:"a"; content:"b"; distance:3;`, "a-ab--b", true},
		// Negated contents.
		{`content:!"evil";`, "good stuff", true},
		{`content:!"evil";`, "very evil", false},
		{`content:"GET"; content:!"evil";`, "GET good", true},
		{`content:"GET"; content:!"evil";`, "GET evil", false},
		{`content:!"evil"; depth:4;`, "xevil", true},
		{`content:!"evil"; depth:4;`, "evilx", false},
		{`content:!"evil"; offset:2;`, "evil", true},
		{`content:!"EVIL"; nocase;`, "an evil", false},
		{`content:"a"; content:!"b"; within:2;`, "ab", false},
		{`content:"a"; content:!"b"; within:2;`, "ab a-", true}, // retried at the second "a"
		{`content:"a"; content:!"b"; distance:0; within:1;`, "ax", true},
		{`content:"a"; content:!"b"; distance:5;`, "a-----b", false},
		{`content:"a"; content:!"b"; distance:5;`, "a----b", true},
		// startswith / endswith.
		{`content:"GET"; startswith;`, "GET /", true},
		{`content:"GET"; startswith;`, " GET /", false},
		{`content:"abc"; endswith;`, "xxabc", true},
		{`content:"abc"; endswith;`, "abcabc", true}, // second occurrence is at the end
		{`content:"abc"; endswith;`, "xxabcx", false},
		{`content:!"abc"; endswith;`, "abcx", true},
		{`content:!"abc"; endswith;`, "xabc", false},
		{`content:"GET"; startswith; content:"1.1"; endswith;`, "GET / HTTP/1.1", true},
		{`content:"ab"; startswith; endswith;`, "ab", true},
		{`content:"ab"; startswith; endswith;`, "abab", false},
		// rawbytes is accepted.
		{`content:"abc"; rawbytes;`, "abc", true},
		// Binary content.
		{`content:"|00 01 02|";`, "x\x00\x01\x02", true},
	}
	for _, c := range cases {
		expectMatch(t, c.opts, c.payload, c.want)
	}
}

func TestNoPayload(t *testing.T) {
	// Content rules (even negated-only ones) never match an empty payload,
	// as in Suricata; header-only rules do.
	if got := alerts(t, tcp(""), rule(`content:!"x";`)); len(got) != 0 {
		t.Errorf("negated content matched empty payload")
	}
	if got := alerts(t, tcp(""), rule(`flow:stateless;`)); len(got) != 1 {
		t.Errorf("header-only rule did not match empty payload")
	}
	if got := alerts(t, tcp(""), rule(`dsize:0;`)); len(got) != 1 {
		t.Errorf("dsize:0 did not match empty payload")
	}
}

func TestFastPatternChoice(t *testing.T) {
	e := compile(t,
		rule(`content:"ab"; content:"longest"; content:"mid";`),
		strings.Replace(rule(`content:"ab"; fast_pattern; content:"longest";`), "sid:1", "sid:2", 1),
		strings.Replace(rule(`content:!"negated-long"; content:"x";`), "sid:1", "sid:3", 1),
		strings.Replace(rule(`content:!"only-negated";`), "sid:1", "sid:4", 1),
		strings.Replace(rule(`content:"abcdef"; fast_pattern:2,3;`), "sid:1", "sid:5", 1),
		strings.Replace(rule(`content:"ABC"; nocase; fast_pattern:only;`), "sid:1", "sid:6", 1),
		strings.Replace(rule(`content:"x"; content:!"neg"; fast_pattern;`), "sid:1", "sid:7", 1),
		strings.Replace(rule(`dsize:>5;`), "sid:1", "sid:8", 1),
	)
	want := map[uint32]string{1: "longest", 2: "ab", 3: "x", 4: "", 5: "cde", 6: "abc", 7: "", 8: ""}
	for _, s := range e.Signatures() {
		fp, nocase := s.FastPattern()
		if string(fp) != want[s.SID] {
			t.Errorf("sid %d: fast pattern %q, want %q", s.SID, fp, want[s.SID])
		}
		if s.SID == 6 && !nocase {
			t.Errorf("sid 6: fast pattern should be nocase")
		}
		if s.HasPrefilter() != (want[s.SID] != "") {
			t.Errorf("sid %d: HasPrefilter=%v", s.SID, s.HasPrefilter())
		}
	}
	// The chopped fast pattern still requires the whole content.
	th := e.NewThread()
	if got := sids(th.Inspect(tcp("zzcdezz").build(), nil)); slices.Contains(got, 5) {
		t.Errorf("sid 5 matched on its fast pattern alone")
	}
	if got := sids(th.Inspect(tcp("abcdef").build(), nil)); !slices.Contains(got, 5) {
		t.Errorf("sid 5 did not match")
	}
	gs := groupTotals(e)
	if gs[GroupTCP].Signatures != 8 || gs[GroupTCP].Prefiltered != 5 || gs[GroupTCP].NonPrefilter != 3 {
		t.Errorf("tcp group stats %+v", gs[GroupTCP])
	}
	if gs[GroupUDP].Signatures != 0 {
		t.Errorf("udp group stats %+v", gs[GroupUDP])
	}
}

func TestProtocols(t *testing.T) {
	mk := func(proto string) string {
		return "alert " + proto + " any any -> any any (msg:\"p\"; sid:1;)"
	}
	udp := pkt{proto: packet.ProtoUDP, sp: 53, dp: 53}
	icmp4 := pkt{proto: packet.ProtoICMP}
	icmp6 := pkt{proto: packet.ProtoICMPv6, v6: true, src: "2001:db8::1", dst: "2001:db8::2"}
	gre := pkt{proto: 47}
	sctp := pkt{proto: packet.ProtoSCTP}
	cases := []struct {
		proto string
		q     pkt
		want  bool
	}{
		{"ip", tcp("x"), true}, {"ip", udp, true}, {"ip", icmp4, true}, {"ip", icmp6, true}, {"ip", gre, true},
		{"tcp", tcp("x"), true}, {"tcp", udp, false}, {"tcp-pkt", tcp("x"), true}, {"tcp-stream", tcp("x"), true},
		{"udp", udp, true}, {"udp", tcp("x"), false},
		{"icmp", icmp4, true}, {"icmp", icmp6, true}, {"icmp", tcp("x"), false},
		{"icmpv4", icmp4, true}, {"icmpv4", icmp6, false},
		{"icmpv6", icmp6, true}, {"icmpv6", icmp4, false},
		{"sctp", sctp, true}, {"sctp", gre, false},
	}
	for _, c := range cases {
		got := alerts(t, c.q, mk(c.proto))
		if (len(got) == 1) != c.want {
			t.Errorf("proto %s on ipproto %d: matched=%v want %v", c.proto, c.q.proto, len(got) == 1, c.want)
		}
	}
	// Non-IP packets are never matched.
	e := compile(t, mk("ip"))
	p := tcp("x").build()
	p.Flags &^= packet.FlagIPv4
	if got := e.NewThread().Inspect(p, nil); len(got) != 0 {
		t.Errorf("non-IP packet matched")
	}
}

func TestAddressesPorts(t *testing.T) {
	cases := []struct {
		hdr  string
		q    pkt
		want bool
	}{
		{"10.0.0.1 any -> 10.0.0.2 80", tcp("x"), true},
		{"10.0.0.2 any -> 10.0.0.1 80", tcp("x"), false},
		{"10.0.0.0/24 any -> any any", tcp("x"), true},
		{"!10.0.0.0/24 any -> any any", tcp("x"), false},
		{"[!10.0.0.1,10.0.0.0/8] any -> any any", tcp("x"), false},
		{"any any -> any 80", tcp("x"), true},
		{"any any -> any !80", tcp("x"), false},
		{"any any -> any [1:79,81:]", tcp("x"), false},
		{"any any -> any [80:90]", tcp("x"), true},
		{"any 1234 -> any any", tcp("x"), true},
		{"any 80 -> any any", tcp("x"), false},
		// Bidirectional: both orientations.
		{"10.0.0.2 80 <> 10.0.0.1 any", tcp("x"), true},
		{"10.0.0.1 any <> 10.0.0.2 80", tcp("x"), true},
		{"10.0.0.2 any <> 10.0.0.3 any", tcp("x"), false},
		{"any 80 <> any 1234", tcp("x"), true},
		{"any 81 <> any any", tcp("x"), false},
	}
	for _, c := range cases {
		r := "alert tcp " + c.hdr + " (msg:\"a\"; sid:1;)"
		got := alerts(t, c.q, r)
		if (len(got) == 1) != c.want {
			t.Errorf("%s: got %v, want match=%v", c.hdr, got, c.want)
		}
	}
	// A bidirectional rule matching both ways alerts once.
	q := tcp("x")
	q.src, q.dst = "10.0.0.5", "10.0.0.5"
	q.sp, q.dp = 80, 80
	if got := alerts(t, q, "alert tcp 10.0.0.5 80 <> 10.0.0.5 80 (msg:\"b\"; sid:1;)"); len(got) != 1 {
		t.Errorf("bidirectional rule alerted %d times", len(got))
	}
	// Port sets do not match packets without ports.
	if got := alerts(t, pkt{proto: packet.ProtoICMP}, "alert ip any any -> any 80 (msg:\"c\"; sid:1;)"); len(got) != 0 {
		t.Errorf("port rule matched ICMP")
	}
	// IPv6 addresses.
	q6 := tcp("x")
	q6.src, q6.dst = "2001:db8::1", "2001:db8::2"
	if got := alerts(t, q6, "alert tcp 2001:db8::/32 any -> !2001:db8::1 any (msg:\"d\"; sid:1;)"); len(got) != 1 {
		t.Errorf("IPv6 rule did not match")
	}
}

func TestFlow(t *testing.T) {
	ts, tc, est := packet.FlagToServer, packet.FlagToClient, packet.FlagEstablished
	cases := []struct {
		flow  string
		flags uint32
		want  bool
	}{
		{"to_server", ts, true}, {"to_server", tc, false}, {"from_client", ts, true},
		{"to_client", tc, true}, {"from_server", tc, true}, {"from_server", ts, false},
		{"established", ts | est, true}, {"established", ts, false}, {"established", packet.FlagNoFlow, false},
		{"not_established", ts, true}, {"not_established", ts | est, false},
		{"stateless", 0, true}, {"stateless", ts | est, true},
		{"established,to_server", ts | est, true}, {"established,to_server", tc | est, false},
		{"to_server, established", ts, false},
		{"to_client,not_established", tc, true},
		{"established,to_server,only_stream", ts | est, true},
		{"established,no_stream", ts | est, true},
		{"to_server", 0, false}, // no flow: no direction
	}
	for _, c := range cases {
		q := tcp("x")
		q.flags = c.flags
		got := alerts(t, q, rule("flow:"+c.flow+";"))
		if (len(got) == 1) != c.want {
			t.Errorf("flow:%s on flags %#x: matched=%v want %v", c.flow, c.flags, len(got) == 1, c.want)
		}
	}
	q := tcp("x")
	q.origin = packet.OriginDefrag
	if got := alerts(t, q, rule("flow:only_frag;")); len(got) != 1 {
		t.Errorf("only_frag did not match a reassembled packet")
	}
	if got := alerts(t, q, rule("flow:no_frag;")); len(got) != 0 {
		t.Errorf("no_frag matched a reassembled packet")
	}
}

func TestPacketKeywords(t *testing.T) {
	type tc struct {
		opts string
		q    pkt
		want bool
	}
	syn := tcp("")
	syn.tcpFlags = packet.TCPSyn
	synack := tcp("")
	synack.tcpFlags = packet.TCPSyn | packet.TCPAck
	synece := tcp("")
	synece.tcpFlags = packet.TCPSyn | packet.TCPEce | packet.TCPCwr
	none := tcp("")
	icmp := pkt{proto: packet.ProtoICMP, itype: 8, icode: 0}
	icmpUnreach := pkt{proto: packet.ProtoICMP, itype: 3, icode: 13}
	icmp6 := pkt{proto: packet.ProtoICMPv6, src: "2001:db8::1", dst: "2001:db8::2", itype: 128}
	same := tcp("")
	same.dst = "10.0.0.1"
	ttl1 := tcp("")
	ttl1.ttl = 1
	cases := []tc{
		{"dsize:5;", tcp("12345"), true}, {"dsize:5;", tcp("1234"), false},
		{"dsize:<5;", tcp("1234"), true}, {"dsize:<5;", tcp("12345"), false},
		{"dsize:>5;", tcp("123456"), true}, {"dsize:>5;", tcp("12345"), false},
		{"dsize:3<>6;", tcp("12345"), true}, {"dsize:3<>6;", tcp("123"), false}, {"dsize:3<>6;", tcp("123456"), false},
		{"dsize:=4;", tcp("1234"), true}, {"dsize:!4;", tcp("1234"), false}, {"dsize:>=4;", tcp("1234"), true},
		{"dsize:<=3;", tcp("1234"), false},
		{"ttl:64;", tcp(""), true}, {"ttl:<2;", ttl1, true}, {"ttl:<2;", tcp(""), false}, {"ttl:>63;", tcp(""), true},
		{"ttl:60-70;", tcp(""), true}, {"ttl:64-70;", tcp(""), false},
		{"flags:S;", syn, true}, {"flags:S;", synack, false}, {"flags:S+;", synack, true}, {"flags:+S;", synack, true},
		{"flags:SA;", synack, true}, {"flags:*SF;", synack, true}, {"flags:*RF;", synack, false},
		{"flags:!S;", synack, false}, {"flags:!R;", synack, true}, {"flags:!SR;", synack, true},
		{"flags:S,CE;", synece, true}, {"flags:S,12;", synece, true}, {"flags:S;", synece, false},
		{"flags:0;", none, true}, {"flags:0;", syn, false},
		{"flags:S;", pkt{proto: packet.ProtoUDP}, false},
		{"itype:8;", icmp, true}, {"itype:3;", icmp, false}, {"itype:>2;", icmpUnreach, true},
		{"itype:2<>8;", icmpUnreach, true}, {"itype:2<>8;", icmp, false},
		{"itype:8; icode:0;", icmp, true}, {"icode:13;", icmpUnreach, true}, {"icode:>13;", icmpUnreach, false},
		{"itype:128;", icmp6, true},
		{"itype:8;", tcp(""), false},
		{"ip_proto:6;", tcp(""), true}, {"ip_proto:tcp;", tcp(""), true}, {"ip_proto:!6;", tcp(""), false},
		{"ip_proto:<7;", tcp(""), true}, {"ip_proto:>6;", tcp(""), false}, {"ip_proto:udp;", tcp(""), false},
		{"sameip;", same, true}, {"sameip;", tcp(""), false},
		// isdataat
		{"isdataat:4;", tcp("12345"), true}, {"isdataat:5;", tcp("12345"), false},
		{"isdataat:!5;", tcp("12345"), true}, {"isdataat:!4;", tcp("12345"), false},
		{`content:"12"; isdataat:3,relative;`, tcp("12345"), true},
		{`content:"12"; isdataat:4,relative;`, tcp("12345"), false},
		{`content:"45"; isdataat:!1,relative;`, tcp("12345"), true},
		{`content:"34"; isdataat:!1,relative;`, tcp("12345"), false},
	}
	for _, c := range cases {
		r := "alert ip any any -> any any (msg:\"k\"; " + c.opts + " sid:1;)"
		got := alerts(t, c.q, r)
		if (len(got) == 1) != c.want {
			t.Errorf("%s: matched=%v want %v", c.opts, len(got) == 1, c.want)
		}
	}
	// dsize never matches pseudo packets.
	q := tcp("12345")
	q.origin = packet.OriginStream
	if got := alerts(t, q, rule("dsize:5;")); len(got) != 0 {
		t.Errorf("dsize matched a stream pseudo packet")
	}
}

func TestPcre(t *testing.T) {
	cases := []struct {
		opts    string
		payload string
		want    bool
	}{
		{`pcre:"/ab+c/";`, "xabbbc", true},
		{`pcre:"/ab+c/";`, "xac", false},
		{`pcre:"/AB+C/i";`, "xabbbc", true},
		{`pcre:"/^GET/";`, "GET /", true},
		{`pcre:"/^GET/";`, " GET /", false},
		{`pcre:!"/evil/";`, "good", true},
		{`pcre:!"/evil/";`, "evil", false},
		{`content:"user="; pcre:"/^[a-z]{3}$/R";`, "user=bob", true},
		{`content:"user="; pcre:"/^[a-z]{3}$/R";`, "user=bobby", false},
		{`content:"user="; pcre:"/^[a-z]{3}/R";`, "x=abc user=12 user=abc", false}, // no retry of content: pcre R is not within
		{`pcre:"/a.c/";`, "a\nc", false},
		{`pcre:"/a.c/s";`, "a\nc", true},
		{`pcre:"/^b/m";`, "a\nb", true},
		{`pcre:"/a b # comment\n c/x";`, "abc", true},
		{`pcre:"/\xff\x00/";`, "x\xff\x00", true},
		{`pcre:"/^.{3}$/";`, "\xc3\xa9x", true}, // bytes, not UTF-8 runes
		{`pcre:"/^.{2}$/";`, "\xc3\xa9", true},
		{`pcre:"/\d+/A";`, "12ab", true},
		{`pcre:"/\d+/A";`, "ab12", false},
		// relative keywords after a pcre, with retry of the pcre.
		{`pcre:"/a\d/"; content:"z"; distance:0; within:1;`, "a1-a2z", true},
		{`pcre:"/a\d/"; content:"z"; distance:0; within:1;`, "a1-a2-", false},
		{`pcre:"/a\d/"; content:"z"; distance:0; within:1;`, "\xffa1-a2z", true},
	}
	for _, c := range cases {
		expectMatch(t, c.opts, c.payload, c.want)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		rule string
		want string
	}{
		{rule(`content:"a"; pcre:"/\\p{L}/";`), `t.rules:1: pcre: pcre: offset 0: unsupported`},
		{rule(`content:"a"; pcre:"/(?R)/";`), `unsupported`},
		{rule(`content:"a"; pcre:"/a/K";`), `pcre: unknown modifier "K"`},
		{rule(`http.uri; pcre:"/a/H";`), `buffer modifier selects http.header inside sticky buffer http.uri`},
		{rule(`content:"abc"; depth:0;`), `t.rules:1: content: depth 0 is invalid`},
		{rule(`content:"abc"; depth:2;`), `content: depth 2 is smaller than the content length 3`},
		{rule(`content:"abc"; within:2;`), `within 2 is smaller than the content length 3`},
		{rule(`depth:3;`), `content: depth needs a preceding content option`},
		{rule(`content:"a"; depth:3; distance:1;`), `cannot use distance with depth or offset`},
		{rule(`content:"a"; within:3; offset:1;`), `cannot use offset with distance or within`},
		{rule(`content:"a"; depth:x;`), `invalid depth value "x"`},
		{rule(`content:"a"; startswith; offset:1;`), `cannot use offset with startswith`},
		{rule(`content:"a"; fast_pattern; content:"b"; fast_pattern;`), `fast_pattern given for more than one content`},
		{rule(`content:"abc"; fast_pattern:2,5;`), `fast_pattern 2,5 is past the end`},
		{rule(`content:"a"; asn1:oversize_length 100;`), `t.rules:1: unsupported keyword "asn1"`},
		{rule(`content:"a"; ftpbounce;`), `t.rules:1: unsupported keyword "ftpbounce"`},
		{rule(`xbits:set,a,track ip_host;`), `xbits: unknown track "ip_host"`},
		{rule(`xbits:set,a,track ip_src,expire 0;`), `xbits: invalid expire "0"`},
		{rule(`content:"a"; stream_size:sideways,>,1;`), `stream_size: invalid side "sideways"`},
		{rule(`content:"a"; http.uri;`), `sticky buffer http.uri has no inspection keyword after it`},
		{rule(`http.uri; to_lowercase; content:"a"; to_uppercase;`), `transforms must directly follow the sticky buffer`},
		{rule(`content:"a"; to_lowercase;`), `transforms need a sticky buffer`},
		{rule(`http.uri; content:"a"; http_header;`), `http_header cannot modify a content of sticky buffer http.uri`},
		{rule(`flow:to_server; http.stat_code; content:"200";`), `rule inspects to_client buffers but flow requires to_server`},
		{rule(`http.uri; content:"a"; dns.query; content:"b";`), `buffer dns.query is not available for protocol tcp`},
		{"alert dns any any -> any any (msg:\"h\"; http.uri; content:\"a\"; sid:1;)", `buffer http.uri is not available for protocol dns`},
		{rule(`bsize:5;`), `bsize: needs a sticky buffer`},
		{rule(`app-layer-protocol:gopher;`), `unknown protocol "gopher"`},
		{rule(`http.uri; xor:"abc"; content:"a";`), `key must be an even number`},
		{rule(`base64_data; content:"a";`), `needs a base64_decode before it`},
		{rule(`content:"a"; byte_test:9,>,2,0;`), `byte_test: 9 bytes out of range`},
		{rule(`content:"a"; byte_test:1,>,2,0,dce;`), `dce is only valid`},
		{rule(`content:"a"; byte_jump:2,0,from_beginning,from_end;`), `from_beginning and from_end cannot be combined`},
		{rule(`content:"a"; byte_test:1,>,x,0;`), `unknown variable "x"`},
		{rule(`content:"a"; byte_test:cnt,>,1,0;`), `byte_test: byte count: unknown variable "cnt"`},
		{rule(`content:"a"; byte_test:24,>,1,0,string;`), `byte count 24 out of range`},
		{rule(`content:"a"; byte_math:bytes 1, offset 0, oper %, rvalue 1, result r;`), `invalid oper`},
		{rule(`content:"a"; byte_math:bytes 1, offset 0, oper +, rvalue 1;`), `missing result`},
		{rule(`flowbits:set,a|b;`), `'|' (or) is only valid with isset and isnotset`},
		{rule(`flowbits:frob,a;`), `unknown command "frob"`},
		{rule(`flowint:cnt,~,1;`), `unknown operator "~"`},
		{rule(`decode-event:ipv4.no_such_event;`), `unknown decoder event`},
		{rule(`ipopts:bogus;`), `unknown IP option`},
		{rule(`fragbits:X;`), `invalid fragment bit`},
		{rule(`ipv4-csum:maybe;`), `want valid or invalid`},
		{rule(`threshold:type limit, track by_src, count 1;`), `missing parameter "seconds"`},
		{rule(`threshold:type limit, track by_src, count 1, seconds 1; detection_filter:track by_src, count 1, seconds 1;`), `only one threshold`},
		{rule(`requires: version 8;`), `invalid version requirement`},
		{rule(`flow:to_server,to_client;`), `flow: cannot combine "to_server" and "to_client"`},
		{rule(`flow:established,stateless;`), `flow: cannot combine`},
		{rule(`flow:sideways;`), `flow: unknown option "sideways"`},
		{rule(`dsize:5<>3;`), `dsize: invalid range`},
		{rule(`dsize:70000;`), `dsize: value 70000 out of range`},
		{rule(`dsize:1; dsize:2;`), `dsize given more than once`},
		{rule(`ttl:abc;`), `ttl: invalid number "abc"`},
		{rule(`flags:SX;`), `flags: invalid flag 'X'`},
		{rule(`isdataat:1,sideways;`), `isdataat: unknown option`},
		{rule(`target:nowhere;`), `target: must be src_ip or dest_ip`},
		{"alert gopher any any -> any any (msg:\"h\"; sid:1;)", `t.rules:1: unsupported protocol "gopher"`},
	}
	for _, c := range cases {
		rs := parse(t, c.rule)
		e, errs := Compile(rs, Config{})
		if len(errs) != 1 {
			t.Errorf("%s: got errors %v, want one containing %q", c.rule, errs, c.want)
			continue
		}
		if !strings.Contains(errs[0].Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.rule, errs[0], c.want)
		}
		var re *rules.Error
		if !errorsAs(errs[0], &re) || re.Line != 1 || re.File != "t.rules" {
			t.Errorf("%s: error %#v is not a located *rules.Error", c.rule, errs[0])
		}
		if len(e.Signatures()) != 0 {
			t.Errorf("%s: failed rule was loaded", c.rule)
		}
	}
	// Good rules load next to bad ones.
	rs := parse(t, rule(`content:"a";`), strings.Replace(rule(`content:"a"; depth:0;`), "sid:1", "sid:2", 1))
	e, errs := Compile(rs, Config{})
	if len(errs) != 1 || len(e.Signatures()) != 1 || e.Signatures()[0].SID != 1 {
		t.Errorf("mixed rules: %d errors, %d signatures", len(errs), len(e.Signatures()))
	}
}

func errorsAs(err error, target **rules.Error) bool {
	re, ok := err.(*rules.Error)
	if ok {
		*target = re
	}
	return ok
}

func TestDuplicateSID(t *testing.T) {
	rs := parse(t,
		`alert tcp any any -> any any (msg:"old"; content:"a"; sid:7; rev:1;)`,
		`alert tcp any any -> any any (msg:"new"; content:"a"; sid:7; rev:2;)`,
		`alert tcp any any -> any any (msg:"other gid"; content:"a"; sid:7; gid:3;)`,
	)
	e, errs := Compile(rs, Config{})
	// A higher rev replaces the earlier rule silently (Suricata).
	if len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if len(e.Signatures()) != 2 {
		t.Fatalf("%d signatures", len(e.Signatures()))
	}
	for _, s := range e.Signatures() {
		if s.GID == 1 && s.Msg != "new" {
			t.Errorf("kept %q, want the higher rev", s.Msg)
		}
	}
	// The same or a lower rev later is an error; the first stays.
	rs = parse(t,
		`alert tcp any any -> any any (msg:"first"; content:"a"; sid:7; rev:2;)`,
		`alert tcp any any -> any any (msg:"same"; content:"a"; sid:7; rev:2;)`,
		`alert tcp any any -> any any (msg:"lower"; content:"a"; sid:7; rev:1;)`,
	)
	e, errs = Compile(rs, Config{})
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "t.rules:2: duplicate signature gid:1 sid:7") ||
		!strings.Contains(errs[1].Error(), "t.rules:3: duplicate signature gid:1 sid:7") {
		t.Fatalf("errors %v", errs)
	}
	if len(e.Signatures()) != 1 || e.Signatures()[0].Msg != "first" {
		t.Fatalf("kept %v", e.Signatures())
	}
}

func TestOrderAndActions(t *testing.T) {
	lines := []string{
		`alert tcp any any -> any any (msg:"a9"; content:"x"; sid:9;)`,
		`alert tcp any any -> any any (msg:"a5 prio1"; content:"x"; priority:1; sid:5;)`,
		`alert tcp any any -> any any (msg:"a3"; content:"x"; sid:3;)`,
		`drop tcp any any -> any any (msg:"d20"; content:"x"; sid:20;)`,
		`reject tcp any any -> any any (msg:"r30"; content:"y"; sid:30;)`,
		`pass tcp any any -> any any (msg:"p40"; content:"pass"; sid:40;)`,
		`alert tcp any any -> any any (msg:"hdr"; flow:stateless; sid:50;)`,
	}
	e := compile(t, lines...)
	var order []uint32
	for i, s := range e.Signatures() {
		if s.Num != i {
			t.Errorf("sid %d has Num %d at index %d", s.SID, s.Num, i)
		}
		order = append(order, s.SID)
	}
	if want := []uint32{40, 20, 30, 5, 3, 9, 50}; !slices.Equal(order, want) {
		t.Errorf("signature order %v, want %v", order, want)
	}
	th := e.NewThread()
	got := sids(th.Inspect(tcp("x").build(), nil))
	if want := []uint32{20, 5, 3, 9, 50}; !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	if th.Verdict() != packet.VerdictDrop || th.Passed() {
		t.Errorf("verdict %v passed %v, want drop", th.Verdict(), th.Passed())
	}
	got = sids(th.Inspect(tcp("x y").build(), nil))
	if want := []uint32{20, 30, 5, 3, 9, 50}; !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	if th.Verdict() != packet.VerdictReject {
		t.Errorf("verdict %v, want reject", th.Verdict())
	}
	// A pass stops detection: nothing after it alerts, no drop.
	got = sids(th.Inspect(tcp("x y pass").build(), nil))
	if len(got) != 0 || !th.Passed() || th.Verdict() != packet.VerdictForward {
		t.Errorf("pass: alerts %v passed %v verdict %v", got, th.Passed(), th.Verdict())
	}
	// The verdict and pass state are per packet.
	got = sids(th.Inspect(tcp("nothing").build(), nil))
	if !slices.Equal(got, []uint32{50}) || th.Passed() || th.Verdict() != packet.VerdictForward {
		t.Errorf("plain packet: alerts %v passed %v verdict %v", got, th.Passed(), th.Verdict())
	}
	c := th.Counters()
	if c.Packets != 4 || c.Passes != 1 || c.Drops != 2 || c.Alerts != 5+6+1 {
		t.Errorf("counters %+v", c)
	}
}

func TestPacketAlertMax(t *testing.T) {
	var lines []string
	for i := 1; i <= 20; i++ {
		lines = append(lines, fmt.Sprintf(`alert tcp any any -> any any (msg:"m"; content:"x"; sid:%d;)`, i))
	}
	lines = append(lines, `drop tcp any any -> any any (msg:"last drop"; content:"x"; priority:9; sid:100;)`)
	rs := parse(t, lines...)
	e, errs := Compile(rs, Config{PacketAlertMax: 5})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	th := e.NewThread()
	got := sids(th.Inspect(tcp("x").build(), nil))
	if want := []uint32{100, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	c := th.Counters()
	if c.Alerts != 5 || c.AlertsDiscarded != 16 || c.Evaluations != 21 || c.Candidates != 21 {
		t.Errorf("counters %+v", c)
	}
	// Default is 15.
	e2 := compile(t, lines...)
	if n := len(e2.NewThread().Inspect(tcp("x").build(), nil)); n != DefaultPacketAlertMax {
		t.Errorf("default max: %d alerts", n)
	}
	// A drop signature whose alert is discarded still drops.
	lines2 := append([]string{}, lines[:20]...)
	lines2 = append(lines2, `drop tcp any any -> any any (msg:"d"; content:"x"; sid:200;)`)
	e3, _ := Compile(parse(t, lines2...), Config{PacketAlertMax: 1})
	_ = e3
	th3 := e3.NewThread()
	th3.Inspect(tcp("x").build(), nil)
	if th3.Verdict() != packet.VerdictDrop {
		t.Errorf("verdict %v", th3.Verdict())
	}
}

func TestCounters(t *testing.T) {
	e := compile(t,
		rule(`content:"aaa";`),
		strings.Replace(rule(`content:"bbb";`), "sid:1", "sid:2", 1),
		strings.Replace(rule(`flow:stateless;`), "sid:1", "sid:3", 1),
	)
	th := e.NewThread()
	th.Inspect(tcp("aaa").build(), nil)
	c := th.Counters()
	if c.Packets != 1 || c.Candidates != 1 || c.Evaluations != 2 || c.Alerts != 2 {
		t.Errorf("counters %+v", c)
	}
}

// groupTotals sums the group statistics of each transport group over the
// direction groups of packets with a flow direction... for rules without
// a direction, each direction group holds them all, so it reports the
// to_server group.
func groupTotals(e *Engine) []GroupStats {
	var out []GroupStats
	for _, g := range e.Groups() {
		if g.Dir == "to_server" {
			out = append(out, g)
		}
	}
	return out
}

// PCRE features Go's regexp lacks work in rules (detect/pcre).
func TestPcrePCREOnlyFeatures(t *testing.T) {
	for _, tc := range []struct {
		payload, rule string
		want          bool
	}{
		{"key=abcabc;", `pcre:"/=(abc)\1;/";`, true}, // back-reference
		{"key=abcabd;", `pcre:"/=(abc)\1;/";`, false},
		{"user=admin&pass=x", `pcre:"/(?<=user=)admin/";`, true}, // look-behind
		{"name=admin&pass=x", `pcre:"/(?<=user=)admin/";`, false},
		{"GET /x.php HTTP/1.1", `pcre:"/\/[a-z]+\.php(?!\?)/";`, true}, // negative look-ahead
		{"GET /x.php?a HTTP/1.1", `pcre:"/\/[a-z]+\.php(?!\?)/";`, false},
		{"aaaab", `pcre:"/(?>a+)b/";`, true},              // atomic group
		{"aaaa", `pcre:"/a++a/";`, false},                 // possessive: never matches
		{"LINE\n", `pcre:"/LINE$/";`, true},               // $ before a final newline
		{"LINE\n", `pcre:"/LINE$/E";`, false},             // ... not with E
		{"\xff\xfe\x00\x01", `pcre:"/^\xff\xfe/";`, true}, // bytes, not UTF-8
	} {
		got := alerts(t, tcp(tc.payload), `alert tcp any any -> any any (msg:"p"; `+tc.rule+` sid:1;)`)
		if (len(got) == 1) != tc.want {
			t.Errorf("%q on %q: alerts %v, want match=%v", tc.rule, tc.payload, got, tc.want)
		}
	}
}

// Content-less address-list rules go through the address index; the
// result equals evaluating every signature.
func TestAddressIndex(t *testing.T) {
	var lines []string
	r := rand.New(rand.NewPCG(7, 9))
	ip := func() string { return fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(256)) }
	for i := 0; i < 300; i++ {
		list := []string{ip(), ip(), ip() + "/30"}
		switch i % 4 {
		case 0:
			lines = append(lines, fmt.Sprintf(`alert ip [%s] any -> any any (msg:"src list"; sid:%d;)`, strings.Join(list, ","), i+1))
		case 1:
			lines = append(lines, fmt.Sprintf(`alert tcp any any -> [%s] any (msg:"dst list"; sid:%d;)`, strings.Join(list, ","), i+1))
		case 2:
			lines = append(lines, fmt.Sprintf(`alert ip [%s] any -> [10.0.0.0/8] any (msg:"both"; sid:%d;)`, strings.Join(list, ","), i+1))
		case 3:
			lines = append(lines, fmt.Sprintf(`alert tcp [%s] any -> any any (msg:"needs payload"; dsize:>0; sid:%d;)`, strings.Join(list, ","), i+1))
		}
	}
	lines = append(lines,
		`alert ip ![10.0.0.0/8] any -> any any (msg:"wide: stays on the every-packet list"; sid:1001;)`,
		`alert ip [2001:db8::1,2001:db8::2] any -> any any (msg:"v6 list"; sid:1002;)`,
		`alert ip [10.1.1.1] any <> [10.2.2.2] any (msg:"bidirectional"; sid:1003;)`,
	)
	e := compile(t, lines...)
	indexed := 0
	for gi := range e.groups {
		for di := range e.groups[gi] {
			g := e.groups[gi][di].base
			indexed += g.srcIdx.n + g.dstIdx.n
		}
	}
	if indexed < 300 {
		t.Errorf("only %d signature entries indexed", indexed)
	}
	th := e.NewThread()
	hits := 0
	for i := 0; i < 3000; i++ {
		q := tcp("")
		if i%2 == 0 {
			q.payload = "x"
		}
		q.src, q.dst = ip(), ip()
		if i%50 == 0 {
			q.src = "2001:db8::2"
			q.dst = "2001:db8::9"
		}
		if i%97 == 0 {
			q.src, q.dst = "10.2.2.2", "10.1.1.1"
		}
		p := q.build()
		got := sids(th.Inspect(p, nil))
		want := fullEval(e, th, q.build())
		if !slices.Equal(got, want) {
			t.Fatalf("packet %s -> %s: index gives %v, full evaluation %v", q.src, q.dst, got, want)
		}
		hits += len(got)
	}
	if hits == 0 {
		t.Errorf("no packet matched: the test proves nothing")
	}
}
