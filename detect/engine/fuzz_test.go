package engine

import (
	"slices"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/pcre"
	"github.com/vigil-ids/vigil/detect/rules"
)

var fuzzRuleOpts = []string{
	`content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:2;`,
	`content:"ab"; nocase; depth:10; content:!"cd"; within:4;`,
	`content:"x"; offset:3; content:"y"; distance:-2; within:3; isdataat:!2,relative;`,
	`content:"GET"; startswith; content:"1.1"; endswith;`,
	`content:!"zz"; endswith; content:"z";`,
	`pcre:"/a[^b]{2,5}b/i"; content:"q"; distance:0; within:3;`,
	`content:"ab"; pcre:"/^c+/R"; content:"d"; distance:0;`,
	`content:"ab"; pcre:!"/x$/R";`,
	`dsize:<50; content:"k";`,
	`isdataat:10; isdataat:!20;`,
	`content:"aaaa"; fast_pattern:1,2; content:"aaa"; within:5;`,
	`content:"a"; byte_test:1,>,0x40,0,relative; byte_jump:1,0,relative,bitmask 0x07; content:"b"; distance:0;`,
	`byte_extract:1,0,n; content:"c"; offset:n; byte_math:bytes 1, offset 0, oper *, rvalue n, result r, relative; byte_test:2,<,r,-1,relative,little;`,
	`content:"d"; byte_jump:2,0,relative,string,dec,post_offset -1; isdataat:1,relative;`,
	`byte_extract:1,1,len; content:"e"; distance:len; within:4; byte_test:3,=,123,0,relative,string,hex;`,
	`content:"f"; byte_jump:0,0,relative,from_end,post_offset -3; pcre:"/^..f/R";`,
	`byte_extract:1,0,n,bitmask 0x07; content:"g"; byte_test:n,>,5,0,relative,string,dec;`,
}

func fuzzEngine(t testing.TB) *Engine {
	var lines []string
	for i, o := range fuzzRuleOpts {
		lines = append(lines, "alert tcp any any -> any any (msg:\"f\"; "+o+" sid:"+itoa(i+1)+";)")
	}
	e, errs := Compile(parse(t, lines...), Config{PacketAlertMax: 1000})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	return e
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// FuzzInspect runs a fixed rule set over arbitrary payloads: no panics, and
// the prefiltered result equals a full evaluation of every signature.
func FuzzInspect(f *testing.F) {
	for _, s := range []string{"", "a-a-ab-abc", "abXXcd xyz", "GET / HTTP/1.1", "zz z", "aXXbq", "abccd", "aaaaaaa",
		"\xff\x00ab\x80c", "k"} {
		f.Add([]byte(s))
	}
	e := fuzzEngine(f)
	th := e.NewThread()
	ref := e.NewThread()
	f.Fuzz(func(t *testing.T, payload []byte) {
		q := tcp(string(payload))
		p := q.build()
		got := sids(th.Inspect(p, nil))
		slices.Sort(got)
		want := fullEval(e, ref, p)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("payload %q: prefilter %v, full %v", payload, got, want)
		}
	})
}

// FuzzCompileRule compiles arbitrary rule options (through the rule parser)
// and inspects a few payloads with the result: compilation errors are fine,
// panics and prefilter/full-evaluation disagreements are not.
func FuzzCompileRule(f *testing.F) {
	for _, o := range fuzzRuleOpts {
		f.Add(o, []byte("a-a-ab-abc GET x y"))
	}
	for _, o := range []string{
		`content:"abc"; depth:0;`, `flags:S+,12;`, `dsize:1<>9;`, `ttl:!3-9;`, `itype:>3; icode:<2;`,
		`ip_proto:!tcp;`, `flow:established,to_server,no_stream;`, `fast_pattern;`,
		`content:"a"; fast_pattern:0,1; nocase;`, `pcre:"/(?i)x/smxGA";`, `isdataat:!1,relative;`,
		`content:"|00 ff|"; within:2;`, `content:"a"; distance:-65535;`,
		`flowbits:set,a|b;`, `flowbits:isset,a&b; flowbits:noalert;`, `flowint:x,+,y;`, `flowint:x,>=,4294967295;`,
		`threshold:type both, track by_both, count 2, seconds 1;`, `detection_filter:track by_flow, count 1, seconds 0;`,
		`byte_test:23,!&,1,-5,relative,string,oct,bitmask 0xff;`, `byte_jump:8,2147483647,align,multiplier 65535;`,
		`byte_extract:4,0,v,little; byte_jump:v,0; content:"a"; depth:v; offset:v;`,
		`byte_math:bytes 10, offset 0, oper >>, rvalue 99, result r, string hex; isdataat:r;`,
		`ipv4.hdr; content:"E"; tcp.hdr; byte_test:1,=,0,0; udp.hdr; isdataat:7;`, `decode-event:ipv4.trunc_pkt;`,
		`fragbits:*MDR,D; fragoffset:!0; ipopts:any; window:!0; seq:>1; ack:<2; icmp_id:1; icmp_seq:2; tcp.mss:<1;`,
		`requires: version >= 6 < 99, feature foo;`, `flow.pkts:either,>1; flow.bytes_toserver:<5;`,
		`content:"a"; base64_decode:relative; base64_data; content:"x";`, `content:"a"; byte_test:0,>,9,0,string,dec;`,
		`byte_math:bytes 1, offset 0, oper -, rvalue 40, result n; byte_test:n,&,1,1,little; tag:host,2,bytes,src;`,
		`stream_size:both,>=,1; flow.age:<10; bypass; tag:session,5,packets;`,
		`xbits:set,a,track ip_pair,expire 5; xbits:isnotset,a,track ip_src;`,
		`content:"/a"; http_uri; content:"b"; http_uri; distance:0; pcre:"/x/UR"; urilen:<9;`,
		`http.uri; to_lowercase; content:"a"; bsize:>1; dns.query; content:"b";`,
		`http.referer; absent: or_else; content:!"x"; http.user_agent; absent;`, `dns.rcode:!nxdomain; dns.rcode:1-4;`,
		`dns.query; domain; content:"a.io"; endswith; tls.sni; tld; content:"io";`,
	} {
		f.Add(o, []byte("abc\x00\xff"))
	}
	f.Fuzz(func(t *testing.T, opts string, payload []byte) {
		text := "alert ip any any -> any any (msg:\"f\"; " + opts + " sid:1;)"
		r, err := testParser.ParseRule(text, "f.rules", 1)
		if err != nil {
			return
		}
		r2, err := testParser.ParseRule("alert tcp any any <> any any (msg:\"g\"; "+opts+" sid:2;)", "f.rules", 2)
		if err != nil {
			return
		}
		e, _ := Compile([]*rules.Rule{r, r2}, Config{})
		th := e.NewThread()
		ref := e.NewThread()
		for _, q := range []pkt{tcp(string(payload)), {proto: packet.ProtoUDP, payload: string(payload)}, {proto: packet.ProtoICMP, payload: string(payload)}} {
			q.flags = packet.FlagToServer | packet.FlagEstablished
			p := q.build()
			var got []uint32
			for _, m := range th.Inspect(p, nil) {
				if m.Sig.thr == nil && len(m.Sig.suppress) == 0 {
					got = append(got, m.Sig.SID)
				}
			}
			slices.Sort(got)
			want := fullEval(e, ref, p)
			slices.Sort(want)
			if len(got) != len(want) || !slices.Equal(got, want) {
				t.Fatalf("rule %q payload %q: prefilter %v, full %v", opts, payload, got, want)
			}
		}
	})
}

var fuzzAppOpts = []string{
	`http.uri; content:"/a"; content:"b"; distance:0; within:3; bsize:<20;`,
	`content:"/A"; http_uri; nocase; content:"POST"; http_method; pcre:"/^\/a/U";`,
	`http.uri; to_lowercase; url_decode; content:"/a b";`,
	`http.host; dotprefix; content:".ex"; http.header; header_lowercase; content:"x-y:";`,
	`dns.query; dotprefix; content:".b"; endswith; dns.queries.rrname; strip_whitespace; compress_whitespace; content:"q";`,
	`http.user_agent; to_md5; bsize:16; http.cookie; xor:"0102"; content:"|60|";`,
	`file.data; content:"b64="; base64_decode:bytes 8, offset 0, relative; base64_data; content:"hi";`,
	`http.request_body; content:"a"; isdataat:2,relative; byte_test:1,>,0x30,0,relative; urilen:>1;`,
	`tls.sni; to_uppercase; content:"EX"; fast_pattern; pkt_data; content:"a";`,
	`http.header_names; strip_pseudo_headers; to_sha256; content:"|00|"; tls.version:1.2;`,
	`app-layer-protocol:!dns; http.start; content:"GET"; startswith;`,
}

// FuzzInspectApp compiles arbitrary app-layer rule options and inspects a
// packet whose transaction carries the fuzzed bytes in every buffer a rule
// can name: no panics, and the prefiltered result equals full evaluation.
func FuzzInspectApp(f *testing.F) {
	for _, o := range fuzzAppOpts {
		f.Add(o, []byte("/a b/x POST ex YjY0PWFoaQ== q"), true)
	}
	f.Add(`http.uri; content:"a";`, []byte{}, false)
	f.Add(`dns.query; pcre:"/^[a-z]+$/";`, []byte("\xff\x00"), true)
	f.Fuzz(func(t *testing.T, opts string, data []byte, toServer bool) {
		var rs []*rules.Rule
		for i, hdr := range []string{"alert http any any -> any any", "alert tcp any any -> any any", "alert dns any any -> any any"} {
			r, err := testParser.ParseRule(hdr+" (msg:\"f\"; "+opts+" sid:"+itoa(i+1)+";)", "f.rules", i+1)
			if err != nil {
				return
			}
			rs = append(rs, r)
		}
		e, _ := Compile(rs, Config{PacketAlertMax: 100})
		set := &BufferSet{}
		for id := firstAppBuffer; int(id) < NumBuffers(); id++ {
			set.Add(id, data)
			if buffers[id].Multi {
				set.Add(id, data[len(data)/2:])
			}
		}
		set.SetField(FieldTLSVersion, 0x0303)
		th := e.NewThread()
		q := tcp(string(data))
		q.flags = packet.FlagToClient
		if toServer {
			q.flags = packet.FlagToServer
		}
		p := q.build()
		for _, proto := range []flow.AppProto{flow.AppProtoHTTP1, flow.AppProtoDNS, flow.AppProtoUnknown} {
			fl := &flow.Flow{AppProto: proto}
			got := sids(th.InspectApp(p, fl, set))
			th.app = set
			var want []uint32
			for _, s := range e.sigs {
				if th.matchSig(s, p, fl, p.Payload()) {
					want = append(want, s.SID)
				}
			}
			th.app = nil
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("rule %q data %q proto %d: prefilter %v, full %v", opts, data, proto, got, want)
			}
		}
	})
}

// FuzzTransformsAndBase64 runs every transform and the base64 decoder on
// arbitrary input: no panics, and the outputs keep their invariants.
func FuzzTransformsAndBase64(f *testing.F) {
	for _, s := range []string{"", "AbC %41+%zz", " a\t\tb \r\n", ":path: /\r\nHost: x\r\n", "YWJj\nZA==", "%", "%4", "\xff\x00"} {
		f.Add([]byte(s))
	}
	var xs []transform
	for _, k := range xformNames {
		x := transform{kind: k}
		if k == xfXor {
			x.key = []byte{0x5a, 0x01, 0xff}
		}
		if k == xfPcre {
			x.re = pcre.MustCompile(`(?i)([a-z]+)\d*`, 0)
		}
		xs = append(xs, x)
	}
	ps := pcre.NewScratch()
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, x := range xs {
			out := x.apply(nil, in, ps)
			switch x.kind {
			case xfLower, xfUpper, xfXor, xfHeaderLower:
				if len(out) != len(in) {
					t.Fatalf("%s changed the length: %d -> %d", x.id(), len(in), len(out))
				}
			case xfStripWS, xfCompressWS, xfURLDecode, xfStripPseudo, xfPcre:
				if len(out) > len(in) {
					t.Fatalf("%s grew the input: %d -> %d", x.id(), len(in), len(out))
				}
			case xfDotPrefix:
				if len(out) != len(in)+1 || out[0] != '.' {
					t.Fatalf("dotprefix: %q", out)
				}
			case xfMD5, xfSHA1, xfSHA256:
				if len(out) != map[xformKind]int{xfMD5: 16, xfSHA1: 20, xfSHA256: 32}[x.kind] {
					t.Fatalf("%s: digest length %d", x.id(), len(out))
				}
			}
		}
		d := decodeBase64(nil, in)
		if len(d) > len(in)*3/4+2 {
			t.Fatalf("base64 output %d bytes from %d", len(d), len(in))
		}
	})
}
