package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/rules"
)

func ruleSID(sid int, opts string) string {
	return fmt.Sprintf("alert tcp any any -> any any (msg:\"t%d\"; %s sid:%d;)", sid, opts, sid)
}

// run inspects payloads in order on one flow and returns the sids per packet.
func run(t *testing.T, e *Engine, f *flow.Flow, payloads ...string) [][]uint32 {
	t.Helper()
	th := e.NewThread()
	var out [][]uint32
	for _, pl := range payloads {
		got := sids(th.Inspect(tcp(pl).build(), f))
		slices.Sort(got)
		out = append(out, got)
	}
	return out
}

func TestFlowbitsSameAndLaterPackets(t *testing.T) {
	// The checker has a lower sid than the setter: Suricata orders setters
	// first, so it alerts on the same packet.
	e := compile(t,
		ruleSID(1, `content:"login"; flowbits:isset,user;`),
		ruleSID(2, `content:"user"; flowbits:set,user; flowbits:noalert;`),
		ruleSID(3, `content:"x"; flowbits:isnotset,user;`),
		ruleSID(4, `content:"bye"; flowbits:unset,user;`),
		ruleSID(5, `content:"t"; flowbits:toggle,tg;`),
		ruleSID(6, `content:"q"; flowbits:isset,tg;`),
	)
	f := &flow.Flow{}
	got := run(t, e, f, "x", "user login x", "login", "bye", "login x", "t", "q", "tq", "q")
	want := [][]uint32{{3}, {1}, {1}, {4}, {3}, {5}, {6}, {5}, {}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Without a flow nothing is set and isset never matches.
	got = run(t, e, nil, "user login x")
	if fmt.Sprint(got) != "[[3]]" {
		t.Fatalf("nil flow: got %v", got)
	}
	// Setters are ordered before checkers.
	s := e.Signatures()
	if s[0].SID != 2 || s[len(s)-1].SID != 3 && s[len(s)-1].SID != 6 && s[len(s)-1].SID != 1 {
		t.Errorf("order %v", sigOrder(e))
	}
}

func sigOrder(e *Engine) []uint32 {
	var out []uint32
	for _, s := range e.Signatures() {
		out = append(out, s.SID)
	}
	return out
}

func TestFlowbitsOrAnd(t *testing.T) {
	e := compile(t,
		ruleSID(1, `content:"a"; flowbits:set,fa; flowbits:noalert;`),
		ruleSID(2, `content:"b"; flowbits:set,fb; flowbits:noalert;`),
		ruleSID(3, `content:"?"; flowbits:isset,fa|fb;`),
		ruleSID(4, `content:"?"; flowbits:isset,fa&fb;`),
		ruleSID(5, `content:"?"; flowbits:isnotset,fa|fb;`),
		ruleSID(6, `content:"c"; flowbits:set,fa&fb; flowbits:noalert;`),
	)
	got := run(t, e, &flow.Flow{}, "?", "a", "?", "b", "?")
	want := [][]uint32{{5}, {}, {3, 5}, {}, {3, 4}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got = run(t, e, &flow.Flow{}, "c", "?")
	if fmt.Sprint(got) != "[[] [3 4]]" {
		t.Fatalf("set a&b: got %v", got)
	}
}

func TestFlowbitsManyNames(t *testing.T) {
	// More names than the flow's inline bits: the rest live in a slice
	// allocated once per flow.
	var lines []string
	for i := 0; i < 300; i++ {
		lines = append(lines, ruleSID(i+1, fmt.Sprintf(`content:"s%d|3b|"; flowbits:set,b%d; flowbits:noalert;`, i, i)))
	}
	lines = append(lines, ruleSID(1000, `content:"check"; flowbits:isset,b299;`), ruleSID(1001, `content:"check"; flowbits:isset,b3;`))
	e := compile(t, lines...)
	th := e.NewThread()
	f := &flow.Flow{}
	if got := sids(th.Inspect(tcp("check").build(), f)); len(got) != 0 {
		t.Fatalf("before: %v", got)
	}
	th.Inspect(tcp("s299;").build(), f)
	th.Inspect(tcp("s298;").build(), f)
	if got := sids(th.Inspect(tcp("check").build(), f)); !slices.Equal(got, []uint32{1000}) {
		t.Fatalf("after: %v", got)
	}
	if th.Counters().FlowStateAllocs != 1 || len(f.Detect.MoreBits) == 0 {
		t.Errorf("allocs %d, MoreBits %d", th.Counters().FlowStateAllocs, len(f.Detect.MoreBits))
	}
}

func TestFlowint(t *testing.T) {
	e := compile(t,
		ruleSID(1, `content:"n"; flowint:cnt,+,1; flowint:noalert_dummy,notset; noalert;`),
		ruleSID(2, `content:"?"; flowint:cnt,>=,3;`),
		ruleSID(3, `content:"?"; flowint:cnt,isset;`),
		ruleSID(4, `content:"?"; flowint:cnt,notset;`),
		ruleSID(5, `content:"r"; flowint:cnt,=,0; noalert;`),
		ruleSID(6, `content:"?"; flowint:cnt,==,0;`),
		ruleSID(7, `content:"m"; flowint:max,=,2; noalert;`),
		ruleSID(8, `content:"?"; flowint:cnt,>,max;`),
	)
	got := run(t, e, &flow.Flow{}, "?", "n", "?", "n n", "n", "?", "m", "?", "r", "?")
	want := [][]uint32{{4}, {}, {3}, {}, {}, {2, 3}, {}, {2, 3, 8}, {}, {3, 6}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// thrRun inspects n packets (src, dst from the arguments) one second apart
// and returns how many alerted and the actions of the alerts.
func thrRun(t *testing.T, e *Engine, n int, src func(i int) string, gap int64) (int, []rules.Action) {
	t.Helper()
	th := e.NewThread()
	f := &flow.Flow{ID: 9}
	count := 0
	var acts []rules.Action
	for i := 0; i < n; i++ {
		q := tcp("x")
		if src != nil {
			q.src = src(i)
		}
		p := q.build()
		p.TimeNs = 1_000_000_000_000 + int64(i)*gap
		ms := th.Inspect(p, f)
		count += len(ms)
		for _, m := range ms {
			acts = append(acts, m.Action)
		}
	}
	return count, acts
}

func TestThresholdKeyword(t *testing.T) {
	cases := []struct {
		opts string
		n    int
		gap  int64
		want int
	}{
		{`threshold:type limit, track by_src, count 2, seconds 60;`, 10, 1e9, 2},
		{`threshold:type limit, track by_src, count 2, seconds 3;`, 10, 1e9, 6}, // windows at 0,4,8: 2+2+2
		{`threshold:type threshold, track by_rule, count 3, seconds 60;`, 10, 1e9, 3},
		{`threshold:type threshold, track by_rule, count 1, seconds 60;`, 5, 1e9, 5},
		{`threshold:type both, track by_dst, count 3, seconds 60;`, 10, 1e9, 1},
		{`detection_filter:track by_src, count 3, seconds 60;`, 10, 1e9, 7},
		// backoff alerts at count, count*mult, ... (Suricata's docs).
		{`threshold:type backoff, track by_flow, count 2, multiplier 3;`, 20, 1e9, 3},   // 2, 6, 18
		{`threshold:type backoff, track by_flow, count 1, multiplier 10;`, 120, 1e9, 3}, // 1, 10, 100
		{`threshold:type backoff, track by_flow, count 5, multiplier 5;`, 30, 1e9, 2},   // 5, 25
		{`threshold:type backoff, track by_flow, count 2, multiplier 10;`, 19, 1e9, 1},  // 2 (detect-flow-pkts-either)
	}
	for _, c := range cases {
		e := compile(t, rule(`content:"x"; `+c.opts))
		if got, _ := thrRun(t, e, c.n, nil, c.gap); got != c.want {
			t.Errorf("%s: %d alerts, want %d", c.opts, got, c.want)
		}
	}
	// by_src counts each source on its own.
	e := compile(t, rule(`content:"x"; threshold:type limit, track by_src, count 1, seconds 60;`))
	got, _ := thrRun(t, e, 10, func(i int) string { return fmt.Sprintf("10.0.0.%d", i%3+1) }, 1e9)
	if got != 3 {
		t.Errorf("by_src with 3 sources: %d alerts, want 3", got)
	}
}

func thresholdEntries(t *testing.T, text string) []rules.ThresholdEntry {
	t.Helper()
	es, errs := testParser.ParseThresholds(strings.NewReader(text), "threshold.config")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	return es
}

func TestThresholdConfig(t *testing.T) {
	mk := func(cfg string, lines ...string) *Engine {
		e, errs := Compile(parse(t, lines...), Config{Thresholds: thresholdEntries(t, cfg)})
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		return e
	}
	// Suppress by source: 10.0.0.1 silenced, 10.0.0.2 not.
	e := mk("suppress gen_id 1, sig_id 1, track by_src, ip 10.0.0.1\n", rule(`content:"x";`))
	got, _ := thrRun(t, e, 10, func(i int) string { return fmt.Sprintf("10.0.0.%d", i%2+1) }, 1e9)
	if got != 5 {
		t.Errorf("suppress by_src: %d alerts, want 5", got)
	}
	// Suppress without track silences everything, but a drop still drops.
	e = mk("suppress gen_id 1, sig_id 1\n", `drop tcp any any -> any any (content:"x"; sid:1;)`)
	th := e.NewThread()
	if ms := th.Inspect(tcp("x").build(), nil); len(ms) != 0 || th.Verdict() != packet.VerdictDrop {
		t.Errorf("suppressed drop: %d alerts, verdict %v", len(ms), th.Verdict())
	}
	// A config threshold overrides the rule's own.
	e = mk("threshold gen_id 1, sig_id 1, type limit, track by_rule, count 3, seconds 60\n",
		rule(`content:"x"; threshold:type limit, track by_rule, count 1, seconds 60;`))
	if got, _ := thrRun(t, e, 10, nil, 1e9); got != 3 {
		t.Errorf("override: %d alerts, want 3", got)
	}
	// A global entry leaves rules with their own threshold alone.
	e = mk("event_filter gen_id 0, sig_id 0, type limit, track by_rule, count 2, seconds 60\n",
		ruleSID(1, `content:"x"; threshold:type limit, track by_rule, count 1, seconds 60;`), ruleSID(2, `content:"x";`))
	th = e.NewThread()
	n1, n2 := 0, 0
	for i := 0; i < 5; i++ {
		for _, m := range th.Inspect(tcp("x").build(), nil) {
			if m.Sig.SID == 1 {
				n1++
			} else {
				n2++
			}
		}
	}
	if n1 != 1 || n2 != 2 {
		t.Errorf("global event_filter: sid1 %d (want 1), sid2 %d (want 2)", n1, n2)
	}
	// rate_filter: over count matches in seconds, the action changes for
	// timeout seconds.
	e = mk("rate_filter gen_id 1, sig_id 1, track by_rule, count 3, seconds 60, new_action drop, timeout 5\n",
		rule(`content:"x";`))
	n, acts := thrRun(t, e, 12, nil, 1e9)
	var s strings.Builder
	for _, a := range acts {
		s.WriteString(a.String()[:1])
	}
	// 3 alerts, then drop from second 3 until the timeout (5 s) has
	// passed; the packet ending the timeout alerts, and since the window
	// (60 s) still holds, the next one enables the new action again.
	if n != 12 || s.String() != "aaaddddddadd" {
		t.Errorf("rate_filter actions %s (%d)", s.String(), n)
	}
	// rate_filter drop -> alert (new_action alert on a drop rule).
	e = mk("rate_filter gen_id 1, sig_id 1, track by_flow, count 3, seconds 60, new_action alert, timeout 1000\n",
		`drop tcp any any -> any any (content:"x"; sid:1;)`)
	_, acts = thrRun(t, e, 6, nil, 1e9)
	if fmt.Sprint(acts) != "[drop drop drop alert alert alert]" {
		t.Errorf("rate_filter alert: %v", acts)
	}
}

func TestDsizeNeedsPayload(t *testing.T) {
	e := compile(t, ruleSID(1, `dsize:!9;`), ruleSID(2, `dsize:<10;`), ruleSID(3, `dsize:0;`), ruleSID(4, `dsize:>=0;`))
	th := e.NewThread()
	if got := sids(th.Inspect(tcp("").build(), nil)); !slices.Equal(got, []uint32{2, 3}) {
		t.Errorf("empty packet: %v, want [2 3]", got)
	}
	if got := sids(th.Inspect(tcp("0123456789").build(), nil)); !slices.Equal(got, []uint32{1, 4}) {
		t.Errorf("10 bytes: %v, want [1 4]", got)
	}
}

func TestRequires(t *testing.T) {
	e, errs := Compile(parse(t,
		ruleSID(1, `content:"x"; requires: version >= 7;`),
		ruleSID(2, `content:"x"; requires: version >= 9;`),
		ruleSID(3, `content:"x"; requires: feature lua;`),
		ruleSID(4, `content:"x"; requires: version >= 7.0.3 < 9;`),
	), Config{})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := sigOrder(e); !slices.Equal(got, []uint32{1, 4}) {
		t.Errorf("loaded %v, want [1 4]", got)
	}
}

func TestPacketHeaderKeywords(t *testing.T) {
	base := func() *packet.Packet {
		p := tcp("payload").build()
		p.TCPSeq, p.TCPAck, p.TCPWindow = 1000, 2000, 512
		p.Flags |= packet.FlagTCPMSS
		p.TCPMSS = 1460
		p.FragMF, p.IPv4DF = false, true
		p.IPv4Opts = decode.IPOptBit(decode.IPOptRR)
		return p
	}
	cases := []struct {
		opts string
		mod  func(p *packet.Packet)
		want bool
	}{
		{`seq:1000;`, nil, true},
		{`tcp.seq:1001;`, nil, false},
		{`ack:2000;`, nil, true},
		{`tcp.ack:>1999;`, nil, true},
		{`window:512;`, nil, true},
		{`window:!512;`, nil, false},
		{`tcp.window:<100;`, nil, false},
		{`tcp.mss:1460;`, nil, true},
		{`tcp.mss:<536;`, nil, false},
		{`tcp.mss:1460;`, func(p *packet.Packet) { p.Flags &^= packet.FlagTCPMSS }, false},
		{`tcp.flags:S;`, func(p *packet.Packet) { p.TCPFlags = packet.TCPSyn }, true},
		{`ipopts:rr;`, nil, true},
		{`ipopts:ts;`, nil, false},
		{`ipopts:any;`, func(p *packet.Packet) { p.IPv4Opts = 0 }, false},
		{`fragbits:D;`, nil, true},
		{`fragbits:M;`, nil, false},
		{`fragbits:*MD;`, nil, true},
		{`fragbits:!M;`, nil, true},
		{`fragbits:+D;`, func(p *packet.Packet) { p.FragMF = true }, true},
		{`fragbits:D;`, func(p *packet.Packet) { p.FragMF = true }, false},
		{`fragoffset:0;`, nil, true},
		{`fragoffset:>0;`, func(p *packet.Packet) { p.FragOff = 1480 }, true},
		{`fragoffset:185;`, func(p *packet.Packet) { p.FragOff = 1480 }, true},
		{`ipv4-csum:valid;`, nil, true},
		{`ipv4-csum:invalid;`, func(p *packet.Packet) { p.Flags |= packet.FlagIPv4CsumBad }, true},
		{`tcpv4-csum:invalid;`, nil, false},
		{`tcpv4-csum:invalid;`, func(p *packet.Packet) { p.Flags |= packet.FlagL4CsumBad }, true},
		{`tcpv6-csum:valid;`, nil, false},
		{`decode-event:ipv4.opt_invalid_len;`, func(p *packet.Packet) { p.SetEvent(decode.EvIPv4OptInvalidLen) }, true},
		{`decode-event:ipv4.opt_invalid_len;`, nil, false},
		{`tag:session,10,packets;`, nil, true},
		{`prefilter; ttl:64;`, nil, true},
	}
	for _, c := range cases {
		e := compile(t, rule(c.opts))
		p := base()
		if c.mod != nil {
			c.mod(p)
		}
		got := len(e.NewThread().Inspect(p, nil)) == 1
		if got != c.want {
			t.Errorf("%s: matched=%v, want %v", c.opts, got, c.want)
		}
	}
}

func TestICMPKeywords(t *testing.T) {
	q := pkt{proto: packet.ProtoICMP, itype: 8, payload: "ping"}
	p := q.build()
	p.L4Len = 8
	p.Data[p.L4Off] = 8
	copy(p.Data[p.L4Off+4:], []byte{0x12, 0x34, 0x00, 0x07})
	for _, c := range []struct {
		opts string
		want bool
	}{
		{`icmp_id:4660;`, true}, {`icmp_id:1;`, false}, {`icmp_seq:7;`, true}, {`icmp_seq:!7;`, false},
		{`icmpv4.hdr; content:"|08 00|"; depth:2;`, true}, {`icmpv6.hdr; content:"|08|";`, false},
	} {
		e := compile(t, "alert icmp any any -> any any (msg:\"i\"; "+c.opts+" sid:1;)")
		if got := len(e.NewThread().Inspect(p, nil)) == 1; got != c.want {
			t.Errorf("%s: matched=%v, want %v", c.opts, got, c.want)
		}
	}
	// icmpv6.mtu on Packet Too Big.
	q6 := pkt{proto: packet.ProtoICMPv6, src: "2001:db8::1", dst: "2001:db8::2", itype: 2, payload: "x"}
	p6 := q6.build()
	copy(p6.Data[p6.L4Off+4:], []byte{0, 0, 0x04, 0xd0}) // 1232
	e := compile(t, `alert ipv6 any any -> any any (msg:"m"; icmpv6.mtu:<1280; sid:1;)`)
	if len(e.NewThread().Inspect(p6, nil)) != 1 {
		t.Error("icmpv6.mtu:<1280 did not match 1232")
	}
}

func TestHeaderBuffers(t *testing.T) {
	p := tcp("data").build()
	p.Flags |= packet.FlagIPv4
	p.L3Len, p.L4Len = 20, 20
	p.Data[14] = 0x45
	p.Data[14+8] = 64                        // TTL
	copy(p.Data[34+12:], []byte{0x50, 0x18}) // data offset, flags
	for _, c := range []struct {
		opts string
		want bool
	}{
		{`ipv4.hdr; content:"|45|"; depth:1;`, true},
		{`ipv4.hdr; content:"|40|"; offset:8; depth:1;`, true},
		{`ipv4.hdr; content:"data";`, false},
		{`ipv6.hdr; content:"|45|";`, false},
		{`tcp.hdr; content:"|50 18|"; offset:12; depth:2;`, true},
		{`tcp.hdr; byte_test:1,=,0x50,12;`, true},
		{`udp.hdr; content:"|00|";`, false},
		{`tcp.hdr; content:"|50|"; pkt_data; content:"data"; startswith;`, true},
	} {
		e := compile(t, rule(c.opts))
		if got := len(e.NewThread().Inspect(p, nil)) == 1; got != c.want {
			t.Errorf("%s: matched=%v, want %v", c.opts, got, c.want)
		}
	}
}

func TestPktHdrAndIPProtos(t *testing.T) {
	e := compile(t,
		`alert pkthdr any any -> any any (msg:"e"; decode-event:ipv4.pkt_too_small; sid:1;)`,
		`alert ipv4 any any -> any any (msg:"4"; sid:2;)`,
		`alert ipv6 any any -> any any (msg:"6"; sid:3;)`,
		`alert tcp any any -> any any (msg:"t"; decode-event:tcp.pkt_too_small; sid:4;)`,
	)
	th := e.NewThread()
	// A non-IP packet with a decoder event reaches pkthdr rules only.
	nonIP := &packet.Packet{Data: make([]byte, 20)}
	nonIP.SetEvent(decode.EvIPv4PktTooSmall)
	if got := sids(th.Inspect(nonIP, nil)); !slices.Equal(got, []uint32{1}) {
		t.Errorf("non-IP: %v", got)
	}
	if got := sids(th.Inspect(tcp("x").build(), nil)); !slices.Equal(got, []uint32{2}) {
		t.Errorf("ipv4 tcp: %v", got)
	}
	q := tcp("x")
	q.src, q.dst = "2001:db8::1", "2001:db8::2"
	if got := sids(th.Inspect(q.build(), nil)); !slices.Equal(got, []uint32{3}) {
		t.Errorf("ipv6 tcp: %v", got)
	}
	// A TCP packet whose header did not decode is still a tcp packet.
	bad := &packet.Packet{Data: make([]byte, 40), Flags: packet.FlagIPv4 | packet.FlagMalformed, IPProto: packet.ProtoTCP,
		SrcIP: netip.MustParseAddr("1.1.1.1"), DstIP: netip.MustParseAddr("2.2.2.2")}
	bad.SetEvent(decode.EvTCPPktTooSmall)
	if got := sids(th.Inspect(bad, nil)); !slices.Equal(got, []uint32{2, 4}) {
		t.Errorf("broken tcp: %v, want [2 4]", got)
	}
}

func TestFlowCounts(t *testing.T) {
	e := compile(t,
		ruleSID(1, `flow.pkts:toserver,=3;`),
		ruleSID(2, `flow.bytes:either,>1000;`),
		ruleSID(3, `flow.pkts_toclient:>0;`),
	)
	th := e.NewThread()
	f := &flow.Flow{PktsToServer: 3, BytesToClient: 2000}
	if got := sids(th.Inspect(tcp("x").build(), f)); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("got %v, want [1 2]", got)
	}
	if got := sids(th.Inspect(tcp("x").build(), nil)); len(got) != 0 {
		t.Errorf("no flow: %v", got)
	}
}
