package engine

import (
	"fmt"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /=.-"

func randWord(r *rand.Rand, lo, hi int) string {
	n := lo + r.IntN(hi-lo+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func quoteContent(s string) string {
	// Escape what the rule language cannot hold literally.
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', ';', '\\', '|', ':':
			fmt.Fprintf(&b, "|%02x|", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// randomRules builds n content rules with assorted modifiers plus header-only
// and packet-keyword rules, as a realistic mixed set.
func randomRules(seed uint64, n int) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	var lines []string
	sid := 1
	for i := 0; i < n; i++ {
		var opts []string
		c1 := randWord(r, 4, 10)
		opts = append(opts, fmt.Sprintf(`content:"%s";`, quoteContent(c1)))
		switch r.IntN(6) {
		case 0:
			opts = append(opts, "nocase;")
		case 1:
			opts = append(opts, fmt.Sprintf("depth:%d;", len(c1)+r.IntN(50)))
		case 2:
			opts = append(opts, fmt.Sprintf("offset:%d;", r.IntN(10)))
		}
		if r.IntN(3) == 0 {
			c2 := randWord(r, 2, 6)
			opts = append(opts, fmt.Sprintf(`content:"%s"; distance:0; within:%d;`, quoteContent(c2), len(c2)+r.IntN(20)))
		}
		if r.IntN(5) == 0 {
			opts = append(opts, fmt.Sprintf(`content:!"%s";`, quoteContent(randWord(r, 3, 6))))
		}
		if r.IntN(10) == 0 {
			opts = append(opts, `pcre:"/[a-z]{3}\d/i";`)
		}
		if r.IntN(4) == 0 {
			opts = append(opts, "flow:established,to_server;")
		}
		proto, port := "tcp", "any"
		switch r.IntN(4) {
		case 0:
			proto = "udp"
		case 1:
			port = fmt.Sprint(r.IntN(1000))
		}
		lines = append(lines, fmt.Sprintf(`alert %s any any -> any %s (msg:"r%d"; %s sid:%d;)`,
			proto, port, i, strings.Join(opts, " "), sid))
		sid++
	}
	hdr := []string{"flow:established,to_client;", "dsize:>1300;", "flags:S,12;", "ttl:<5;", "itype:8;", "dsize:0;", "sameip;", "isdataat:1400;"}
	for i := 0; i < n/20; i++ {
		lines = append(lines, fmt.Sprintf(`alert ip any any -> any any (msg:"h%d"; %s sid:%d;)`, i, hdr[i%len(hdr)], sid))
		sid++
	}
	return lines
}

// randomPackets builds HTTP-like payloads of random words, a few of them
// carrying fast patterns of e's signatures so that the prefilter reports
// candidates (most of which then fail full evaluation or match).
func randomPackets(e *Engine, seed uint64, n int) []*packet.Packet {
	r := rand.New(rand.NewPCG(seed, 2))
	sigs := e.Signatures()
	var ps []*packet.Packet
	for i := 0; i < n; i++ {
		var b strings.Builder
		b.WriteString("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n")
		for b.Len() < 200+r.IntN(1200) {
			b.WriteString(randWord(r, 3, 12))
			b.WriteByte(' ')
			if r.IntN(30) == 0 {
				if fp, _ := sigs[r.IntN(len(sigs))].FastPattern(); fp != nil {
					b.Write(fp)
				}
			}
		}
		q := tcp(b.String())
		q.dp = uint16(r.IntN(1000))
		q.flags = packet.FlagToServer | packet.FlagEstablished
		if r.IntN(3) == 0 {
			q.proto = packet.ProtoUDP
		}
		ps = append(ps, q.build())
	}
	return ps
}

func TestInspectZeroAlloc(t *testing.T) {
	e := compile(t, randomRules(1, 2000)...)
	if len(e.Signatures()) != 2100 {
		t.Fatalf("%d signatures", len(e.Signatures()))
	}
	th := e.NewThread()
	ps := randomPackets(e, 3, 64)
	var alertsSeen int
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		alertsSeen += len(th.Inspect(ps[i%len(ps)], nil))
		i++
	})
	if allocs != 0 {
		t.Errorf("Inspect allocates %.2f times per packet", allocs)
	}
	c := th.Counters()
	if c.Evaluations == 0 || c.Candidates == 0 || c.Alerts == 0 {
		t.Errorf("the set does not exercise the engine: %+v", c)
	}
	t.Logf("counters over %d packets: %+v", c.Packets, c)
}

// TestPrefilterDifferential checks that the prefilter never changes the
// outcome: for random rules and packets, Inspect reports exactly the
// signatures a full evaluation of every signature finds.
func TestPrefilterDifferential(t *testing.T) {
	rules := randomRules(5, 500)
	e, errs := Compile(parse(t, rules...), Config{PacketAlertMax: 10000})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	th := e.NewThread()
	ref := e.NewThread()
	r := rand.New(rand.NewPCG(9, 9))
	sigs := e.Signatures()
	matched := 0
	for i := 0; i < 300; i++ {
		// Payloads made of fragments of the rule contents, so that rules do
		// match.
		var b strings.Builder
		for j := 0; j < 20; j++ {
			s := sigs[r.IntN(len(sigs))]
			if fp, _ := s.FastPattern(); fp != nil {
				b.Write(fp)
			}
			b.WriteString(randWord(r, 0, 3))
		}
		q := tcp(b.String())
		q.flags = packet.FlagToServer | packet.FlagEstablished
		if i%2 == 0 {
			q.flags = 0
		}
		q.dp = uint16(r.IntN(1000))
		p := q.build()
		got := sids(th.Inspect(p, nil))
		slices.Sort(got)
		want := fullEval(e, ref, p)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("packet %d: prefilter %v, full %v", i, got, want)
		}
		matched += len(got)
	}
	if matched == 0 {
		t.Fatal("no rule matched: the test proves nothing")
	}
	t.Logf("%d alerts compared", matched)
}

func BenchmarkInspect(b *testing.B) {
	e, errs := Compile(parse(b, randomRules(1, 2000)...), Config{})
	if len(errs) != 0 {
		b.Fatal(errs)
	}
	th := e.NewThread()
	ps := randomPackets(e, 3, 256)
	var bytes int64
	for _, p := range ps {
		bytes += int64(p.PayloadLen)
	}
	b.SetBytes(bytes / int64(len(ps)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		th.Inspect(ps[i%len(ps)], nil)
	}
	c := th.Counters()
	b.ReportMetric(float64(c.Candidates)/float64(c.Packets), "cands/pkt")
	b.ReportMetric(float64(c.Evaluations)/float64(c.Packets), "evals/pkt")
}

func BenchmarkCompile2000(b *testing.B) {
	rs := parse(b, randomRules(1, 2000)...)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, errs := Compile(rs, Config{}); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

// statefulRules use the keywords that keep state or need more than the
// payload: flowbits, flowint, thresholds, byte keywords, header buffers.
var statefulRules = []string{
	`alert tcp any any -> any any (msg:"set"; content:"GET"; flowbits:set,seen_get; flowbits:noalert; sid:1;)`,
	`alert tcp any any -> any any (msg:"isset"; content:"HTTP"; flowbits:isset,seen_get; sid:2;)`,
	`alert tcp any any -> any any (msg:"or"; flowbits:isset,a|seen_get; flowint:n,+,1; sid:3;)`,
	`alert tcp any any -> any any (msg:"int"; flowint:n,>,3; threshold:type limit, track by_src, count 2, seconds 60; sid:4;)`,
	`alert tcp any any -> any any (msg:"df"; content:"HTTP"; detection_filter:track by_flow, count 2, seconds 60; sid:5;)`,
	`alert tcp any any -> any any (msg:"bytes"; content:"GET "; byte_extract:1,0,c,relative; byte_test:1,>,0x20,0,relative; byte_jump:1,0,relative,bitmask 0x03; byte_math:bytes 1, offset 0, oper +, rvalue c, result r, relative; sid:6;)`,
	`alert tcp any any -> any any (msg:"hdr"; tcp.hdr; content:"|50|"; offset:12; depth:1; ipv4.hdr; content:"|45|"; depth:1; sid:7;)`,
	`alert tcp any any -> any any (msg:"pkt"; seq:>0; window:>0; tcpv4-csum:valid; ipv4-csum:valid; fragbits:!M; flow.pkts:either,>0; sid:8;)`,
	`drop tcp any any -> any any (msg:"rate"; content:"HTTP"; sid:9;)`,
}

func TestInspectZeroAllocStateful(t *testing.T) {
	entries := thresholdEntries(t, "rate_filter gen_id 1, sig_id 9, track by_rule, count 3, seconds 10, new_action alert, timeout 1\nsuppress gen_id 1, sig_id 2, track by_src, ip 10.9.9.9\n")
	e, errs := Compile(parse(t, statefulRules...), Config{Thresholds: entries})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	th := e.NewThread()
	var ps []*packet.Packet
	for _, pl := range []string{"GET /a HTTP/1.1", "HTTP/1.1 200 OK", "GET  x", "data"} {
		p := tcp(pl).build()
		p.Data[14] = 0x45
		p.Data[34+12] = 0x50
		p.L3Len, p.L4Len = 20, 20
		p.TCPSeq, p.TCPWindow = 1, 100
		ps = append(ps, p)
	}
	f := &flow.Flow{ID: 1, PktsToServer: 1}
	// Warm up: the flow's flowint storage and the threshold counters are
	// created once.
	for i := 0; i < 16; i++ {
		ps[i%len(ps)].TimeNs = int64(i) * 1e8
		th.Inspect(ps[i%len(ps)], f)
	}
	i := 16
	alertsSeen := 0
	allocs := testing.AllocsPerRun(2000, func() {
		p := ps[i%len(ps)]
		p.TimeNs = int64(i) * 1e8
		alertsSeen += len(th.Inspect(p, f))
		i++
	})
	if allocs != 0 {
		t.Errorf("Inspect allocates %.2f times per packet", allocs)
	}
	if alertsSeen == 0 {
		t.Error("no alerts: the set does not exercise the engine")
	}
	seen := map[uint32]bool{}
	for _, p := range ps {
		for _, m := range th.Inspect(p, f) {
			seen[m.Sig.SID] = true
		}
	}
	for _, sid := range []uint32{3, 6, 7, 8, 9} {
		if !seen[sid] {
			t.Errorf("sid %d never alerted", sid)
		}
	}
	t.Logf("counters: %+v", th.Counters())
}

func BenchmarkInspectStateful(b *testing.B) {
	e, errs := Compile(parse(b, statefulRules...), Config{})
	if len(errs) != 0 {
		b.Fatal(errs)
	}
	th := e.NewThread()
	p := tcp("GET /a HTTP/1.1").build()
	p.Data[14], p.Data[34+12] = 0x45, 0x50
	p.L3Len, p.L4Len = 20, 20
	f := &flow.Flow{ID: 1}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.TimeNs = int64(i) * 1e6
		th.Inspect(p, f)
	}
}
