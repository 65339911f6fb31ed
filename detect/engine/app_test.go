package engine

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/pcre"
)

// appPkt is a to_server TCP packet of an established HTTP flow.
func appPkt(payload string, toClient bool) *packet.Packet {
	q := tcp(payload)
	q.flags = packet.FlagToServer | packet.FlagEstablished
	if toClient {
		q.flags = packet.FlagToClient | packet.FlagEstablished
		q.sp, q.dp = 80, 1234
	}
	return q.build()
}

func buf(name string) BufferID {
	id, ok := LookupBuffer(name)
	if !ok {
		panic("no buffer " + name)
	}
	return id
}

// httpSet returns a BufferSet with the given buffers (name, value pairs).
func httpSet(kv ...string) *BufferSet {
	s := &BufferSet{}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Add(buf(kv[i]), []byte(kv[i+1]))
	}
	return s
}

// appAlerts inspects one packet with app state and returns the sids; it
// also checks the prefiltered result against evaluating every signature.
func appAlerts(t *testing.T, e *Engine, p *packet.Packet, f *flow.Flow, app AppState) []uint32 {
	t.Helper()
	th := e.NewThread()
	got := sids(th.InspectApp(p, f, app))
	var full []uint32
	th.app = app
	for _, s := range e.sigs {
		if th.matchSig(s, p, f, p.Payload()) {
			full = append(full, s.SID)
		}
	}
	th.app = nil
	if !slices.Equal(got, full) && !(len(got) == 0 && len(full) == 0) {
		t.Errorf("prefiltered %v differs from full evaluation %v", got, full)
	}
	return got
}

func httpFlow() *flow.Flow { return &flow.Flow{AppProto: flow.AppProtoHTTP1} }

func TestStickyAndModifierForms(t *testing.T) {
	e := compile(t,
		`alert http any any -> any any (msg:"sticky"; flow:to_server; http.uri; content:"/admin"; nocase; http.method; content:"POST"; sid:1;)`,
		`alert http any any -> any any (msg:"modifier"; flow:to_server; content:"/ADMIN"; http_uri; nocase; content:"POST"; http_method; sid:2;)`,
		`alert tcp any any -> any any (msg:"uricontent"; uricontent:"/admin"; sid:3;)`,
		`alert http any any -> any any (msg:"pcre U"; pcre:"/^\/admin\b/U"; sid:4;)`,
		`alert http any any -> any any (msg:"header"; http.header; content:"X-Evil|3a|"; sid:5;)`,
	)
	p := appPkt("", false)
	app := httpSet("http.uri", "/admin/x", "http.method", "POST", "http.header", "Host: a\r\nX-Evil: 1\r\n")
	if got := appAlerts(t, e, p, httpFlow(), app); !slices.Equal(got, []uint32{1, 2, 3, 4, 5}) {
		t.Errorf("got %v, want all five", got)
	}
	// Same buffers, method GET: the method rules do not match.
	app = httpSet("http.uri", "/admin/x", "http.method", "GET")
	if got := appAlerts(t, e, p, httpFlow(), app); !slices.Equal(got, []uint32{3, 4}) {
		t.Errorf("GET: got %v, want [3 4]", got)
	}
	// No app state, or the flow not (yet) HTTP: nothing matches.
	if got := appAlerts(t, e, p, httpFlow(), nil); len(got) != 0 {
		t.Errorf("no app state: got %v", got)
	}
	app = httpSet("http.uri", "/admin/x", "http.method", "POST")
	if got := appAlerts(t, e, p, &flow.Flow{}, app); len(got) != 0 {
		t.Errorf("unknown app proto: got %v", got)
	}
	if got := appAlerts(t, e, p, &flow.Flow{AppProto: flow.AppProtoDNS}, app); len(got) != 0 {
		t.Errorf("dns flow: got %v", got)
	}
	if got := appAlerts(t, e, p, nil, app); len(got) != 0 {
		t.Errorf("no flow: got %v", got)
	}
	// Both forms compile to the same buffers.
	for _, s := range e.Signatures() {
		switch s.SID {
		case 1, 2:
			if b := s.InspectedBuffers(); !slices.Equal(b, []string{"http.uri", "http.method"}) {
				t.Errorf("sid %d inspects %v", s.SID, b)
			}
			if s.AppProtos() != protoHTTP || s.Direction() != DirToServer {
				t.Errorf("sid %d: protos %b dir %v", s.SID, s.AppProtos(), s.Direction())
			}
		case 3:
			if s.AppProtos() != protoHTTP || s.Direction() != DirToServer {
				t.Errorf("uricontent: protos %b dir %v (want http, to_server)", s.AppProtos(), s.Direction())
			}
		}
	}
}

func TestBufferRelativeChainsAfterModifiers(t *testing.T) {
	e := compile(t,
		`alert http any any -> any any (msg:"r"; content:"/a"; http_uri; content:"b.php"; http_uri; distance:1; within:6; content:"zz"; sid:1;)`)
	app := httpSet("http.uri", "/a/b.php")
	if got := appAlerts(t, e, appPkt("xxzz", false), httpFlow(), app); !slices.Equal(got, []uint32{1}) {
		t.Errorf("got %v, want [1]", got)
	}
	app = httpSet("http.uri", "/a/xxxxxxb.php")
	if got := appAlerts(t, e, appPkt("xxzz", false), httpFlow(), app); len(got) != 0 {
		t.Errorf("within exceeded: got %v", got)
	}
	// pkt_data content still required
	app = httpSet("http.uri", "/a/b.php")
	if got := appAlerts(t, e, appPkt("xx", false), httpFlow(), app); len(got) != 0 {
		t.Errorf("payload lacks zz: got %v", got)
	}
}

func TestMultiInstanceBuffer(t *testing.T) {
	e := compile(t,
		`alert dns any any -> any any (msg:"q"; dns.query; content:"evil.example"; endswith; sid:1;)`,
		`alert dns any any -> any any (msg:"dot"; dns.query; dotprefix; content:".evil.example"; endswith; sid:2;)`,
		`alert udp any any -> any any (msg:"rr"; dns.queries.rrname; bsize:8; sid:3;)`,
	)
	q := pkt{proto: packet.ProtoUDP, sp: 5353, dp: 53, flags: packet.FlagToServer}
	f := &flow.Flow{AppProto: flow.AppProtoDNS}
	s := &BufferSet{}
	s.Add(buf("dns.query"), []byte("good.example"))
	s.Add(buf("dns.query"), []byte("evil.example"))
	s.Add(buf("dns.queries.rrname"), []byte("a.b.c.de"))
	if got := appAlerts(t, e, q.build(), f, s); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("got %v, want [1 2 3]", got)
	}
	s.Reset()
	s.Add(buf("dns.query"), []byte("notevil.example"))
	if got := appAlerts(t, e, q.build(), f, s); !slices.Equal(got, []uint32{1}) {
		t.Errorf("dotprefix: got %v, want [1]", got)
	}
	// dns.query is a request buffer: a response packet does not reach it.
	q.flags = packet.FlagToClient
	if got := appAlerts(t, e, q.build(), f, s); len(got) != 0 {
		t.Errorf("to_client: got %v", got)
	}
}

func TestTransforms(t *testing.T) {
	sum := md5.Sum([]byte("abc"))
	cases := []struct {
		x        transform
		in, want string
	}{
		{transform{kind: xfLower}, "AbC-Z", "abc-z"},
		{transform{kind: xfUpper}, "aBc-z", "ABC-Z"},
		{transform{kind: xfStripWS}, " a \tb\r\nc ", "abc"},
		{transform{kind: xfCompressWS}, "a  \t b\n\nc ", "a b\nc "},
		{transform{kind: xfURLDecode}, "%2Fa+b%zz%4", "/a b%zz%4"},
		{transform{kind: xfDotPrefix}, "example.com", ".example.com"},
		{transform{kind: xfMD5}, "abc", string(sum[:])},
		{transform{kind: xfXor, key: []byte{0x01, 0x02}}, "\x01\x02\x03", "\x00\x00\x02"},
		{transform{kind: xfHeaderLower}, "Host: A\r\nX-Y: B:C\r\n", "host: A\r\nx-y: B:C\r\n"},
		{transform{kind: xfStripPseudo}, ":method: GET\r\nhost: a\r\n:path: /\r\nx: y", "host: a\r\nx: y"},
		{transform{kind: xfLower}, "", ""},
		{transform{kind: xfStripPseudo}, ":", ""},
		{transform{kind: xfPcre, re: pcre.MustCompile(`id=(\d+)`, 0)}, "a?id=42&b", "42"},
		{transform{kind: xfPcre, re: pcre.MustCompile(`[a-z]+\d`, 0)}, "--abc1--", "abc1"},
		{transform{kind: xfPcre, re: pcre.MustCompile(`zz`, 0)}, "abc", ""},
	}
	ps := pcre.NewScratch()
	for _, c := range cases {
		if got := string(c.x.apply(nil, []byte(c.in), ps)); got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.x.id(), c.in, got, c.want)
		}
	}
	// sha256 against a known digest
	x := transform{kind: xfSHA256}
	if got := hex.EncodeToString(x.apply(nil, []byte("abc"), ps)); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("sha256 = %s", got)
	}
	// Transforms in rules, chained, also feeding the prefilter.
	e := compile(t,
		`alert http any any -> any any (msg:"l"; http.uri; to_lowercase; content:"/admin"; sid:1;)`,
		`alert http any any -> any any (msg:"md5"; http.user_agent; to_md5; content:"|`+hex.EncodeToString(sum[:])+`|"; sid:2;)`,
		`alert http any any -> any any (msg:"chain"; http.uri; url_decode; strip_whitespace; to_uppercase; content:"/A/B"; sid:3;)`,
		`alert http any any -> any any (msg:"plain"; http.uri; content:"/admin"; sid:4;)`,
	)
	app := httpSet("http.uri", "/ADMIN%20/a%20/b", "http.user_agent", "abc")
	if got := appAlerts(t, e, appPkt("", false), httpFlow(), app); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("got %v, want [1 2 3]", got)
	}
	// pcrexform in a rule: the capture group becomes the buffer.
	ep := compile(t, `alert http any any -> any any (msg:"px"; http.uri; pcrexform:"id=([0-9]+)"; content:"1337"; startswith; endswith; sid:9;)`)
	if got := appAlerts(t, ep, appPkt("", false), httpFlow(), httpSet("http.uri", "/x?id=1337&y=2")); !slices.Equal(got, []uint32{9}) {
		t.Errorf("pcrexform: got %v, want [9]", got)
	}
	if got := appAlerts(t, ep, appPkt("", false), httpFlow(), httpSet("http.uri", "/x?id=13370")); len(got) != 0 {
		t.Errorf("pcrexform on other id: got %v", got)
	}
	app = httpSet("http.uri", "/a%20/b")
	if got := appAlerts(t, e, appPkt("", false), httpFlow(), app); !slices.Equal(got, []uint32{3}) {
		t.Errorf("got %v, want [3]", got)
	}
}

func TestBsizeUrilen(t *testing.T) {
	e := compile(t,
		`alert http any any -> any any (msg:"b"; http.uri; content:"/x"; bsize:2; sid:1;)`,
		`alert http any any -> any any (msg:"u"; urilen:>5; sid:2;)`,
		`alert http any any -> any any (msg:"ur"; urilen:3<>10,raw; sid:3;)`,
	)
	if got := appAlerts(t, e, appPkt("", false), httpFlow(), httpSet("http.uri", "/x")); !slices.Equal(got, []uint32{1}) {
		t.Errorf("got %v, want [1]", got)
	}
	if got := appAlerts(t, e, appPkt("", false), httpFlow(), httpSet("http.uri", "/x/abcd", "http.uri.raw", "/x%2fabcd")); !slices.Equal(got, []uint32{2, 3}) {
		t.Errorf("got %v, want [2 3]", got)
	}
}

func TestFastPatternBufferPriority(t *testing.T) {
	e := compile(t,
		// an http buffer beats a longer pkt_data content
		`alert http any any -> any any (msg:"a"; content:"a much longer payload pattern"; http.uri; content:"/zz"; sid:1;)`,
		// http.method has pkt_data's priority: the longer content wins
		`alert http any any -> any any (msg:"b"; http.method; content:"POST"; content:"longer one"; sid:2;)`,
		// fast_pattern on a non-payload buffer
		`alert http any any -> any any (msg:"c"; http.uri; content:"/long/uri/path"; http.host; content:"h"; fast_pattern; sid:3;)`,
	)
	want := map[uint32]string{1: "/zz", 2: "longer one", 3: "h"}
	for _, s := range e.Signatures() {
		fp, _ := s.FastPattern()
		if string(fp) != want[s.SID] {
			t.Errorf("sid %d: fast pattern %q, want %q", s.SID, fp, want[s.SID])
		}
	}
	// The host prefilter only makes sid 3 a candidate when the host has "h".
	th := e.NewThread()
	th.InspectApp(appPkt("", false), httpFlow(), httpSet("http.uri", "/long/uri/path", "http.host", "xyz"))
	if c := th.Counters(); c.Evaluations != 0 {
		t.Errorf("evaluations %d, want 0 (no fast pattern present)", c.Evaluations)
	}
	got := sids(th.InspectApp(appPkt("", false), httpFlow(), httpSet("http.uri", "/long/uri/path", "http.host", "h")))
	if !slices.Equal(got, []uint32{3}) {
		t.Errorf("got %v, want [3]", got)
	}
}

func TestDirectionGroups(t *testing.T) {
	e := compile(t,
		`alert tcp any any -> any any (msg:"ts"; flow:to_server; content:"a"; sid:1;)`,
		`alert tcp any any -> any any (msg:"tc"; flow:to_client; content:"a"; sid:2;)`,
		`alert tcp any any -> any any (msg:"any"; content:"a"; sid:3;)`,
		`alert http any any -> any any (msg:"resp"; http.stat_code; content:"404"; sid:4;)`,
	)
	th := e.NewThread()
	if got := sids(th.InspectApp(appPkt("a", false), httpFlow(), httpSet("http.stat_code", "404"))); !slices.Equal(got, []uint32{1, 3}) {
		t.Errorf("to_server: got %v", got)
	}
	if got := sids(th.InspectApp(appPkt("a", true), httpFlow(), httpSet("http.stat_code", "404"))); !slices.Equal(got, []uint32{2, 3, 4}) {
		t.Errorf("to_client: got %v", got)
	}
	if got := sids(th.Inspect(tcp("a").build(), nil)); !slices.Equal(got, []uint32{3}) {
		t.Errorf("no direction: got %v", got)
	}
	if c := th.Counters(); c.Evaluations != 2+3+1 {
		t.Errorf("evaluations %d, want 6 (each packet only its direction's signatures)", c.Evaluations)
	}
}

func TestAppLayerProtocolAndFields(t *testing.T) {
	e := compile(t,
		`alert tcp any any -> any any (msg:"alp"; app-layer-protocol:http; sid:1;)`,
		`alert tcp any any -> any any (msg:"!alp"; app-layer-protocol:!tls; sid:2;)`,
		`alert tls any any -> any any (msg:"v"; tls.version:1.2; sid:3;)`,
		`alert tls any any -> any any (msg:"st"; ssl_state:client_hello; ssl_version:tls1.2,tls1.3; sid:4;)`,
		`alert dns any any -> any any (msg:"op"; dns.opcode:!0; sid:5;)`,
		`alert tcp any any -> any any (msg:"ss"; stream_size:server,>,10; sid:6;)`,
		`alert tcp any any -> any any (msg:"byp"; content:"z"; bypass; sid:7;)`,
	)
	p := appPkt("z", false)
	if got := appAlerts(t, e, p, httpFlow(), nil); !slices.Equal(got, []uint32{1, 2, 7}) {
		t.Errorf("http: got %v", got)
	}
	if got := appAlerts(t, e, p, &flow.Flow{}, nil); !slices.Equal(got, []uint32{7}) {
		t.Errorf("unknown proto: got %v (app-layer-protocol must not match yet)", got)
	}
	s := &BufferSet{}
	s.SetField(FieldTLSVersion, 0x0303)
	s.SetField(FieldSSLState, 1)
	s.SetField(FieldSSLVersions, 32)
	if got := appAlerts(t, e, p, &flow.Flow{AppProto: flow.AppProtoTLS}, s); !slices.Equal(got, []uint32{3, 4, 7}) {
		t.Errorf("tls: got %v", got)
	}
	s.Reset()
	s.SetField(FieldDNSOpcode, 4)
	if got := appAlerts(t, e, p, &flow.Flow{AppProto: flow.AppProtoDNS}, s); !slices.Equal(got, []uint32{2, 5, 7}) {
		t.Errorf("dns: got %v", got)
	}
	for _, sig := range e.Signatures() {
		if sig.Bypass() != (sig.SID == 7) {
			t.Errorf("sid %d: Bypass %v", sig.SID, sig.Bypass())
		}
	}
}

func TestBase64(t *testing.T) {
	e := compile(t,
		`alert tcp any any -> any any (msg:"b64"; content:"auth="; base64_decode:bytes 12, relative; base64_data; content:"admin:"; startswith; sid:1;)`,
		`alert tcp any any -> any any (msg:"b64 only"; content:"x"; base64_decode; sid:2;)`,
	)
	// "admin:secret" = YWRtaW46c2VjcmV0
	if got := alerts(t, tcp("auth=YWRtaW46c2VjcmV0"), e.sigs[0].Rule.Raw, e.sigs[1].Rule.Raw); !slices.Equal(got, []uint32{1}) {
		t.Errorf("got %v, want [1]", got)
	}
	if got := sids(e.NewThread().Inspect(tcp("auth=dXNlcjpzZWNyZXQ=").build(), nil)); len(got) != 0 {
		t.Errorf("user:secret matched: %v", got)
	}
	for _, c := range []struct{ in, want string }{
		{"YWJj", "abc"}, {"YWI=", "ab"}, {"YQ==", "a"}, {"YW Jj", "abc"}, {"YWJj!YWJj", "abc"}, {"", ""}, {"Y", ""},
	} {
		if got := string(decodeBase64(nil, []byte(c.in))); got != c.want {
			t.Errorf("decodeBase64(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestByteTestStringAll(t *testing.T) {
	expectMatch(t, `content:"len="; byte_test:0,>,4000,0,relative,string,dec;`, "len=5000x", true)
	expectMatch(t, `content:"len="; byte_test:0,>,4000,0,relative,string,dec;`, "len=300x", false)
	expectMatch(t, `content:"len="; byte_test:0,>,4000,0,relative,string,dec;`, "len=x", false)
}

func TestInspectAppZeroAlloc(t *testing.T) {
	e := compile(t,
		`alert http any any -> any any (msg:"1"; flow:to_server; http.uri; to_lowercase; content:"/admin"; http.host; dotprefix; content:".example"; sid:1;)`,
		`alert http any any -> any any (msg:"2"; http.user_agent; content:"curl"; pcre:"/curl\/\d/"; sid:2;)`,
		`alert dns any any -> any any (msg:"3"; dns.query; content:"evil"; sid:3;)`,
		`alert tcp any any -> any any (msg:"4"; content:"GET"; sid:4;)`,
	)
	th := e.NewThread()
	p := appPkt("GET / HTTP/1.1", false)
	f := httpFlow()
	s := httpSet("http.uri", "/ADMIN/x", "http.host", "www.example.com", "http.user_agent", "curl/8.0")
	if got := sids(th.InspectApp(p, f, s)); !slices.Equal(got, []uint32{1, 2, 4}) {
		t.Fatalf("got %v", got)
	}
	uri, host, ua := []byte("/ADMIN/x"), []byte("www.example.com"), []byte("curl/8.0")
	idURI, idHost, idUA := buf("http.uri"), buf("http.host"), buf("http.user_agent")
	n := testing.AllocsPerRun(200, func() {
		s.Reset()
		s.Add(idURI, uri)
		s.Add(idHost, host)
		s.Add(idUA, ua)
		th.InspectApp(p, f, s)
	})
	if n != 0 {
		t.Errorf("InspectApp allocates %v per packet", n)
	}
}

func BenchmarkInspectApp(b *testing.B) {
	var lines []string
	for i := 0; i < 500; i++ {
		lines = append(lines,
			fmt.Sprintf(`alert http any any -> any any (msg:"u%d"; flow:to_server; http.uri; content:"/path%d/"; http.host; content:"host%d"; sid:%d;)`, i, i, i, 10000+i),
			fmt.Sprintf(`alert dns any any -> any any (msg:"d%d"; dns.query; dotprefix; content:".domain%d.example"; endswith; sid:%d;)`, i, i, 20000+i))
	}
	e := compile(b, lines...)
	th := e.NewThread()
	p := appPkt("GET /path7/index.html HTTP/1.1\r\nHost: host7\r\n\r\n", false)
	f := httpFlow()
	s := httpSet("http.uri", "/path7/index.html", "http.host", "host7", "http.user_agent", "Mozilla/5.0")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		th.InspectApp(p, f, s)
	}
	if got := sids(th.InspectApp(p, f, s)); !slices.Equal(got, []uint32{10007}) {
		b.Fatalf("got %v", got)
	}
}

func TestXbits(t *testing.T) {
	e := compile(t,
		`alert tcp any any -> any any (msg:"set"; content:"login"; xbits:set,seen,track ip_src,expire 10; noalert; sid:1;)`,
		`alert tcp any any -> any any (msg:"check"; content:"data"; xbits:isset,seen,track ip_src; sid:2;)`,
		`alert tcp any any -> any any (msg:"pair"; content:"login"; xbits:set,pair,track ip_pair; noalert; sid:3;)`,
		`alert tcp any any -> any any (msg:"pair check"; content:"back"; xbits:isset,pair,track ip_pair; sid:4;)`,
		`alert tcp any any -> any any (msg:"not"; content:"data"; xbits:isnotset,seen,track ip_src; sid:5;)`,
		`alert tcp any any -> any any (msg:"unset"; content:"logout"; xbits:unset,seen,track ip_src; noalert; sid:6;)`,
	)
	// Two threads: xbits are shared across workers.
	th1, th2 := e.NewThread(), e.NewThread()
	at := func(q pkt, sec int64) *packet.Packet {
		p := q.build()
		p.TimeNs = sec * 1e9
		return p
	}
	a := tcp("data")
	if got := sids(th1.Inspect(at(a, 0), nil)); !slices.Equal(got, []uint32{5}) {
		t.Errorf("before set: got %v", got)
	}
	th1.Inspect(at(tcp("login"), 1), nil)
	if got := sids(th2.Inspect(at(a, 2), nil)); !slices.Equal(got, []uint32{2}) {
		t.Errorf("after set, other thread: got %v", got)
	}
	// Another source host does not have the bit.
	other := tcp("data")
	other.src = "10.9.9.9"
	if got := sids(th2.Inspect(at(other, 2), nil)); !slices.Equal(got, []uint32{5}) {
		t.Errorf("other host: got %v", got)
	}
	// ip_pair matches the reverse direction.
	back := tcp("back")
	back.src, back.dst = "10.0.0.2", "10.0.0.1"
	if got := sids(th2.Inspect(at(back, 3), nil)); !slices.Equal(got, []uint32{4}) {
		t.Errorf("pair reverse: got %v", got)
	}
	// Expiry after 10 s.
	if got := sids(th1.Inspect(at(a, 12), nil)); !slices.Equal(got, []uint32{5}) {
		t.Errorf("after expiry: got %v", got)
	}
	th1.Inspect(at(tcp("login"), 20), nil)
	th1.Inspect(at(tcp("logout"), 21), nil)
	if got := sids(th1.Inspect(at(a, 22), nil)); !slices.Equal(got, []uint32{5}) {
		t.Errorf("after unset: got %v", got)
	}
}

// TestXbitsConcurrentThreads shares one engine between workers that set and
// test xbits at the same time (run with -race). Workers use disjoint
// source addresses, so each must see what a lone worker sees.
func TestXbitsConcurrentThreads(t *testing.T) {
	lines := []string{
		`alert tcp any any -> any any (msg:"set"; content:"s"; xbits:set,x,track ip_src; noalert; sid:1;)`,
		`alert tcp any any -> any any (msg:"chk"; content:"c"; xbits:isset,x,track ip_src; sid:2;)`,
		`alert tcp any any -> any any (msg:"tog"; content:"t"; xbits:toggle,y,track ip_pair,expire 1; noalert; sid:3;)`,
	}
	work := func(e *Engine, w int) int {
		th := e.NewThread()
		n := 0
		for i := 0; i < 500; i++ {
			q := tcp([]string{"s", "c", "t"}[i%3])
			q.src = fmt.Sprintf("10.0.%d.%d", w, i%7)
			p := q.build()
			p.TimeNs = int64(i) * 1e6
			n += len(th.Inspect(p, nil))
		}
		return n
	}
	want := work(compile(t, lines...), 0)
	if want == 0 {
		t.Fatal("reference run has no alerts")
	}
	e := compile(t, lines...)
	done := make(chan int)
	for w := 0; w < 4; w++ {
		go func(w int) { done <- work(e, w) }(w)
	}
	for w := 0; w < 4; w++ {
		if got := <-done; got != want {
			t.Errorf("a worker saw %d alerts, want %d", got, want)
		}
	}
}

func TestNilBufferSet(t *testing.T) {
	e := compile(t, `alert http any any -> any any (msg:"u"; http.uri; content:"/a"; sid:1;)`)
	var s *BufferSet
	if got := sids(e.NewThread().InspectApp(appPkt("", false), httpFlow(), s)); len(got) != 0 {
		t.Errorf("nil BufferSet matched %v", got)
	}
}

func TestTLSValueKeywords(t *testing.T) {
	e := compile(t,
		`alert tls any any -> any any (msg:"s"; tls.subject:"CN=evil"; sid:1;)`,
		`alert tls any any -> any any (msg:"i"; tls.issuerdn:!"Let's Encrypt"; sid:2;)`,
		`alert tls any any -> any any (msg:"sni"; tls.sni; content:"x"; tls.subject:"O=Acme"; content:"y"; within:5; sid:3;)`,
	)
	s := httpSet("tls.cert_subject", "C=US, O=Acme, CN=evil.example", "tls.cert_issuer", "Some CA", "tls.sni", "ax.yz")
	// A response packet; the transaction also holds the request's SNI, so
	// sid 3 (request and response buffers) is inspected here.
	p := appPkt("", true)
	if got := appAlerts(t, e, p, &flow.Flow{AppProto: flow.AppProtoTLS}, s); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("got %v, want [1 2 3]", got)
	}
	s = httpSet("tls.cert_subject", "CN=good", "tls.cert_issuer", "Let's Encrypt R3", "tls.sni", "ax.yz")
	if got := appAlerts(t, e, p, &flow.Flow{AppProto: flow.AppProtoTLS}, s); len(got) != 0 {
		t.Errorf("got %v, want none", got)
	}
	// sid 3's second content stays in tls.sni: the value keyword does not
	// switch the sticky buffer.
	for _, sig := range e.Signatures() {
		if sig.SID == 3 {
			if b := sig.InspectedBuffers(); !slices.Equal(b, []string{"tls.sni", "tls.cert_subject"}) {
				t.Errorf("sid 3 buffers %v", b)
			}
		}
	}
}

// stream_size compares the session's sequence progress given with
// SetStreamSize; without a session it never matches.
func TestStreamSize(t *testing.T) {
	e := compile(t,
		`alert tcp any any -> any any (msg:"srv"; stream_size:server,<,1111; sid:1;)`,
		`alert tcp any any -> any any (msg:"cli"; stream_size:client,>=,100; sid:2;)`,
		`alert tcp any any -> any any (msg:"both"; stream_size:both,>,50; sid:3;)`,
		`alert tcp any any -> any any (msg:"either"; stream_size:either,=,7; sid:4;)`,
	)
	th := e.NewThread()
	run := func(c, s uint64, ok bool) []uint32 {
		p := appPkt("x", false)
		th.SetStreamSize(c, s, ok)
		var got []uint32
		for _, m := range th.Inspect(p, httpFlow()) {
			got = append(got, m.Sig.SID)
		}
		return got
	}
	if got := run(200, 60, true); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("client 200, server 60: %v", got)
	}
	if got := run(7, 2000, true); !slices.Equal(got, []uint32{4}) {
		t.Errorf("client 7, server 2000: %v", got)
	}
	if got := run(200, 60, false); len(got) != 0 {
		t.Errorf("no session: %v", got)
	}
	// The sizes apply to one inspection only.
	p := appPkt("x", false)
	if got := th.Inspect(p, httpFlow()); len(got) != 0 {
		t.Errorf("sizes leaked into the next packet: %v", got)
	}
}

// A relative byte_extract after a legacy uricontent inspects the URI, as
// Suricata attaches relative keywords to the list of the previous content
// (suricata-verify UriTestSig28).
func TestRelativeAfterLegacyModifier(t *testing.T) {
	e := compile(t,
		`alert tcp any any -> any any (msg:"legacy"; uricontent:"this"; byte_extract:1,2,one,string,dec,relative; uricontent:"ring"; distance:one; sid:1;)`,
		`alert tcp any any -> any any (msg:"modifier"; content:"this"; http_uri; isdataat:5,relative; sid:2;)`,
		`alert tcp any any -> any any (msg:"too far"; content:"this"; http_uri; isdataat:50,relative; sid:3;)`,
	)
	p := appPkt("unrelated payload", false)
	set := httpSet("http.uri", "/this_b5ig_string_now_in_http")
	if got := appAlerts(t, e, p, httpFlow(), set); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("got %v, want [1 2]", got)
	}
	set = httpSet("http.uri", "/this_b7ig_string_now_in_http")
	if got := appAlerts(t, e, p, httpFlow(), set); !slices.Equal(got, []uint32{2}) {
		t.Errorf("wrong extracted distance: got %v, want [2]", got)
	}
}
