package engine

import (
	"slices"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
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
		got := sids(th.Inspect(p))
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
			got := sids(th.Inspect(p))
			slices.Sort(got)
			want := fullEval(e, ref, p)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("rule %q payload %q: prefilter %v, full %v", opts, payload, got, want)
			}
		}
	})
}
