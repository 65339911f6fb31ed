package rules

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func mustRule(t *testing.T, p *Parser, text string) *Rule {
	t.Helper()
	r, err := p.ParseRule(text, "t.rules", 7)
	if err != nil {
		t.Fatalf("ParseRule(%q): %v", text, err)
	}
	return r
}

func TestParseRuleHeader(t *testing.T) {
	var p Parser
	tests := []struct {
		rule   string
		action Action
		proto  string
		bidir  bool
		src    string
		sp     string
		dst    string
		dp     string
	}{
		{`alert tcp any any -> any any (sid:1;)`, ActionAlert, "tcp", false, "any", "any", "any", "any"},
		{`drop http $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (sid:1;)`, ActionDrop, "http", false, "$HOME_NET", "any", "$EXTERNAL_NET", "$HTTP_PORTS"},
		{`pass udp 10.0.0.0/8 53 <> any any (sid:1;)`, ActionPass, "udp", true, "10.0.0.0/8", "53", "any", "any"},
		{`reject TCP [1.2.3.4, 5.6.7.8] [80, 443] -> any any (sid:1;)`, ActionReject, "tcp", false, "[1.2.3.4, 5.6.7.8]", "[80, 443]", "any", "any"},
		{`rejectsrc tcp-pkt any any -> any any (sid:1;)`, ActionRejectSrc, "tcp-pkt", false, "any", "any", "any", "any"},
		{`rejectdst ip any any -> any any (sid:1;)`, ActionRejectDst, "ip", false, "any", "any", "any", "any"},
		{"rejectboth\ticmp\tany any\t->  any any   (sid:1;)   ", ActionRejectBoth, "icmp", false, "any", "any", "any", "any"},
		{`alert http1:request_complete any any -> any any (sid:1;)`, ActionAlert, "http1:request_complete", false, "any", "any", "any", "any"},
	}
	for _, tt := range tests {
		r := mustRule(t, &p, tt.rule)
		if r.Action != tt.action || r.Proto != tt.proto || r.Bidirectional != tt.bidir {
			t.Errorf("%q: got action %v proto %q bidir %v", tt.rule, r.Action, r.Proto, r.Bidirectional)
		}
		if r.Src.String() != tt.src || r.SrcPorts.String() != tt.sp || r.Dst.String() != tt.dst || r.DstPorts.String() != tt.dp {
			t.Errorf("%q: got %s %s -> %s %s", tt.rule, r.Src.String(), r.SrcPorts.String(), r.Dst.String(), r.DstPorts.String())
		}
		if r.File != "t.rules" || r.Line != 7 || r.Raw != strings.TrimSpace(tt.rule) {
			t.Errorf("%q: location %s:%d raw %q", tt.rule, r.File, r.Line, r.Raw)
		}
	}
	r := mustRule(t, &p, `alert tcp $HOME_NET any -> $EXTERNAL_NET [80,8080] (sid:1;)`)
	if !r.Src.Contains(netip.MustParseAddr("10.1.2.3")) || r.Src.Contains(netip.MustParseAddr("8.8.8.8")) {
		t.Error("$HOME_NET resolved wrongly")
	}
	if r.Dst.Contains(netip.MustParseAddr("10.1.2.3")) || !r.Dst.Contains(netip.MustParseAddr("8.8.8.8")) {
		t.Error("$EXTERNAL_NET resolved wrongly")
	}
	if !r.DstPorts.Contains(8080) || r.DstPorts.Contains(81) || !r.SrcPorts.IsAny() {
		t.Error("ports resolved wrongly")
	}
}

func TestParseRuleOptions(t *testing.T) {
	var p Parser
	r := mustRule(t, &p, `alert http any any -> any any (msg:"ET TEST \"quoted\" a\;b c\:d e\\f (paren)"; flow:established,to_server; `+
		`http.uri; content:"/a|3b|b\;c"; nocase; pcre:"/^["']?x(y)/Ri"; content:"a;b"; `+
		`reference:url,example.com/x; reference: cve,2020-1234 ; classtype:trojan-activity; `+
		`metadata: created_at 2020_01_01, former_category MALWARE; metadata:tag x; sid:2000001; rev:3;   )`)
	if want := `ET TEST "quoted" a;b c:d e\f (paren)`; r.Msg != want {
		t.Errorf("msg %q, want %q", r.Msg, want)
	}
	if r.SID != 2000001 || r.Rev != 3 || r.GID != 1 {
		t.Errorf("sid %d rev %d gid %d", r.SID, r.Rev, r.GID)
	}
	if r.Classtype != "trojan-activity" || r.Priority != 1 || r.ClassDesc != "A Network Trojan was detected" {
		t.Errorf("classtype %q prio %d desc %q", r.Classtype, r.Priority, r.ClassDesc)
	}
	if want := []string{"url,example.com/x", "cve,2020-1234"}; !reflect.DeepEqual(r.Reference, want) {
		t.Errorf("reference %q", r.Reference)
	}
	if want := []string{"created_at 2020_01_01", "former_category MALWARE", "tag x"}; !reflect.DeepEqual(r.Metadata, want) {
		t.Errorf("metadata %q", r.Metadata)
	}
	want := []Option{
		{"msg", `"ET TEST \"quoted\" a\;b c\:d e\\f (paren)"`, true},
		{"flow", "established,to_server", true},
		{"http.uri", "", false},
		{"content", `"/a|3b|b\;c"`, true},
		{"nocase", "", false},
		{"pcre", `"/^["']?x(y)/Ri"`, true},
		{"content", `"a;b"`, true},
		{"reference", "url,example.com/x", true},
		{"reference", "cve,2020-1234", true},
		{"classtype", "trojan-activity", true},
		{"metadata", "created_at 2020_01_01, former_category MALWARE", true},
		{"metadata", "tag x", true},
		{"sid", "2000001", true},
		{"rev", "3", true},
	}
	if !reflect.DeepEqual(r.Options, want) {
		for i := range r.Options {
			t.Logf("%d: %+v", i, r.Options[i])
		}
		t.Errorf("options differ")
	}
}

func TestParseRulePriority(t *testing.T) {
	var p Parser
	for _, tt := range []struct {
		rule string
		prio int
		cls  string
	}{
		{`alert ip any any -> any any (sid:1;)`, 3, ""},
		{`alert ip any any -> any any (classtype:attempted-admin; sid:1;)`, 1, "attempted-admin"},
		{`alert ip any any -> any any (classtype:not-suspicious; sid:1;)`, 3, "not-suspicious"},
		{`alert ip any any -> any any (priority:2; classtype:attempted-admin; sid:1;)`, 2, "attempted-admin"},
		{`alert ip any any -> any any (classtype:attempted-admin; priority:4; sid:1;)`, 4, "attempted-admin"},
		{`alert ip any any -> any any (priority:"7"; sid:1;)`, 7, ""},
		{`alert ip any any -> any any (classtype:Attempted-Admin; sid:1;)`, 1, "attempted-admin"},
		{`alert ip any any -> any any (gid:3; sid:"5"; rev:0;)`, 3, ""},
	} {
		r := mustRule(t, &p, tt.rule)
		if r.Priority != tt.prio || r.Classtype != tt.cls {
			t.Errorf("%s: priority %d classtype %q, want %d %q", tt.rule, r.Priority, r.Classtype, tt.prio, tt.cls)
		}
	}
	r := mustRule(t, &p, `alert ip any any -> any any (gid:3; sid:"5"; rev:0;)`)
	if r.GID != 3 || r.SID != 5 {
		t.Errorf("gid %d sid %d", r.GID, r.SID)
	}
	custom, err := ParseClassifications(strings.NewReader("config classification: mine,My Class,9\n"), "c.config")
	if err != nil {
		t.Fatal(err)
	}
	p2 := Parser{Classes: custom}
	r = mustRule(t, &p2, `alert ip any any -> any any (classtype:mine; sid:1;)`)
	if r.Priority != 9 || r.ClassDesc != "My Class" {
		t.Errorf("custom classification: %d %q", r.Priority, r.ClassDesc)
	}
	if _, err := p2.ParseRule(`alert ip any any -> any any (classtype:trojan-activity; sid:1;)`, "x", 1); err == nil {
		t.Error("classtype missing from custom classifications accepted")
	}
}

// TestParseRuleErrors checks every error form: the text carries file:line
// and names the keyword or field at fault.
func TestParseRuleErrors(t *testing.T) {
	var p Parser
	tests := []struct {
		rule    string
		keyword string // Error.Keyword
		want    string // substring of the message
	}{
		{``, "", "empty rule"},
		{`alert tcp any any -> any any`, "", `missing "("`},
		{`alert tcp any any -> any any (sid:1;`, "", `end with ")"`},
		{`alert tcp any any -> any (sid:1;)`, "", "got 6 fields"},
		{`alert tcp any any -> any any any (sid:1;)`, "", "got 8 fields"},
		{`alert tcp [1.2.3.4 any -> any any (sid:1;)`, "", `unbalanced "["`},
		{`warn tcp any any -> any any (sid:1;)`, "", `unknown action "warn"`},
		{`alert t/cp any any -> any any (sid:1;)`, "", `invalid protocol "t/cp"`},
		{`alert tcp any any <- any any (sid:1;)`, "", `"<-" is not supported`},
		{`alert tcp any any => any any (sid:1;)`, "", `invalid direction "=>"`},
		{`alert tcp $NOPE any -> any any (sid:1;)`, "", `source address: undefined address variable "$NOPE"`},
		{`alert tcp any $NOPE -> any any (sid:1;)`, "", `source port: undefined port variable "$NOPE"`},
		{`alert tcp any any -> 1.2.3.400 any (sid:1;)`, "", `destination address: invalid IP address "1.2.3.400"`},
		{`alert tcp any any -> any 70000 (sid:1;)`, "", `destination port: port "70000" out of range`},
		{`alert tcp !any any -> any any (sid:1;)`, "", `matches no address`},
		{`alert tcp any any -> any any (msg:"x"; sid:1)`, "sid", `option "sid": no terminating ";" found`},
		{`alert tcp any any -> any any (msg:"x"; nocase)`, "nocase", `no terminating ";"`},
		{`alert tcp any any -> any any (msg:"x; sid:1;)`, "msg", `msg: missing closing quote`},
		{`alert tcp any any -> any any (msg:"x"; http_urii; sid:1;)`, "http_urii", `unknown keyword "http_urii"`},
		{`alert tcp any any -> any any (msg:"x"; Http_Urii:1; sid:1;)`, "http_urii", `unknown keyword "http_urii"`},
		{`alert tcp any any -> any any (msg:"x"; ;sid:1;)`, "", `stray ";"`},
		{`alert tcp any any -> any any (msg:"x"; :1; sid:1;)`, "", `option without a name`},
		{`alert tcp any any -> any any (bad name:1; sid:1;)`, "", `invalid option name "bad name"`},
		{`alert tcp any any -> any any (msg:"x";)`, "sid", `rule has no sid`},
		{`alert tcp any any -> any any (sid:0;)`, "sid", `sid: 0 is not a valid signature id`},
		{`alert tcp any any -> any any (sid:abc;)`, "sid", `sid: invalid number "abc"`},
		{`alert tcp any any -> any any (sid:;)`, "sid", `sid: missing value`},
		{`alert tcp any any -> any any (sid:99999999999;)`, "sid", `out of range`},
		{`alert tcp any any -> any any (sid:1; sid:2;)`, "sid", `duplicate "sid"`},
		{`alert tcp any any -> any any (sid:1; rev:1; rev:2;)`, "rev", `duplicate "rev"`},
		{`alert tcp any any -> any any (sid:1; gid:1; gid:2;)`, "gid", `duplicate "gid"`},
		{`alert tcp any any -> any any (msg:"a"; msg:"b"; sid:1;)`, "msg", `duplicate "msg"`},
		{`alert tcp any any -> any any (classtype:foo-bar; sid:1;)`, "classtype", `unknown classtype "foo-bar"`},
		{`alert tcp any any -> any any (classtype:bad-unknown; classtype:bad-unknown; sid:1;)`, "classtype", `duplicate "classtype"`},
		{`alert tcp any any -> any any (priority:0; sid:1;)`, "priority", `priority: invalid value "0"`},
		{`alert tcp any any -> any any (priority:high; sid:1;)`, "priority", `priority: invalid value "high"`},
		{`alert tcp any any -> any any (priority:1; priority:2; sid:1;)`, "priority", `duplicate "priority"`},
		{`alert tcp any any -> any any (metadata; sid:1;)`, "metadata", `metadata: missing value`},
		{`alert tcp any any -> any any (reference:; sid:1;)`, "reference", `reference: missing value`},
		{`alert tcp any any -> any any (reference:cve; sid:1;)`, "reference", `is not "type,id"`},
		{`alert tcp any any -> any any (msg:"a" b; sid:1;)`, "msg", `unexpected "b" after closing quote`},
	}
	for _, tt := range tests {
		_, err := p.ParseRule(tt.rule, "rules/x.rules", 12)
		if err == nil {
			t.Errorf("%q: no error", tt.rule)
			continue
		}
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%q: error %T, want *Error", tt.rule, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "rules/x.rules:12: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\n got  %q\n want rules/x.rules:12: ...%s...", tt.rule, err.Error(), tt.want)
		}
		if e.Keyword != tt.keyword {
			t.Errorf("%q: keyword %q, want %q", tt.rule, e.Keyword, tt.keyword)
		}
	}
	// The exact form operators grep for.
	_, err := p.ParseRule(`alert tcp any any -> any any (content:"x"; http_urii; sid:1;)`, "rules/x.rules", 12)
	if err == nil || err.Error() != `rules/x.rules:12: unknown keyword "http_urii"` {
		t.Errorf("got %v", err)
	}
	_, err = p.ParseRule(`alert tcp any any -> any any (sid:1; foo;)`, "", 1)
	if err == nil || err.Error() != `<rule>:1: unknown keyword "foo"` {
		t.Errorf("got %v", err)
	}
}

func TestKnownKeyword(t *testing.T) {
	for _, k := range []string{"content", "http.uri", "http_uri", "HTTP_URI", "dns.query", "dns_query",
		"tls.sni", "tls_sni", "file.data", "file_data", "pkt_data", "flowbits", "byte_test", "ja3.hash",
		"app-layer-event", "http.request_body", "fast_pattern", "threshold", "detection_filter", "to_sha256"} {
		if !KnownKeyword(k) {
			t.Errorf("KnownKeyword(%q) = false", k)
		}
	}
	for _, k := range []string{"", "http_urii", "contents", "http.url", "snort_only", "resp"} {
		if KnownKeyword(k) {
			t.Errorf("KnownKeyword(%q) = true", k)
		}
	}
	if n := len(Keywords()); n < 300 {
		t.Errorf("only %d keywords", n)
	}
}

func TestParseReader(t *testing.T) {
	src := "# a comment\n" +
		"\n" +
		"   # indented comment\n" +
		"#alert tcp any any -> any any (msg:\"disabled\"; sid:9;)\n" +
		"alert tcp any any -> any any (msg:\"one\"; sid:1; rev:1;)\n" +
		"alert tcp any any -> any any (msg:\"two\"; \\\n" +
		"   content:\"x\"; \\\n" +
		"   sid:2;)\r\n" +
		"alert tcp any any -> any any (msg:\"bad\"; nosuchkw; sid:3;)\n" +
		"alert tcp any any -> any any (msg:\"dup\"; sid:1; rev:1;)\n" +
		"alert tcp any any -> any any (msg:\"four\"; sid:4;)\n" +
		"alert tcp any any -> any any (msg:\"other gid\"; gid:2; sid:1;)\n" +
		"alert tcp any any -> any any (msg:\"newer\"; sid:4; rev:2;)\n" +
		"  alert tcp any any -> any any (msg:\"indented\"; sid:5;)"
	var p Parser
	rules, errs := p.ParseReader(strings.NewReader(src), "x.rules")
	var msgs []string
	for _, r := range rules {
		msgs = append(msgs, r.Msg)
	}
	if want := []string{"one", "two", "newer", "other gid", "indented"}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("rules %q, want %q", msgs, want)
	}
	if rules[1].Line != 6 || rules[1].Raw != `alert tcp any any -> any any (msg:"two";    content:"x";    sid:2;)` {
		t.Errorf("continued rule: line %d raw %q", rules[1].Line, rules[1].Raw)
	}
	if rules[2].Line != 13 || rules[4].Line != 14 {
		t.Errorf("lines %d %d", rules[2].Line, rules[4].Line)
	}
	wantErrs := []string{
		`x.rules:9: unknown keyword "nosuchkw"`,
		`x.rules:10: duplicate signature sid 1 (first at x.rules:5)`,
		`x.rules:13: duplicate signature sid 4 (first at x.rules:11): rev 2 replaces rev 0`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors %v", errs)
	}
	for i, e := range errs {
		if e.Error() != wantErrs[i] {
			t.Errorf("error %d: %q, want %q", i, e.Error(), wantErrs[i])
		}
	}
	if e, _ := AsError(errs[2]); !e.Warning {
		t.Error("replacement by newer rev is not a warning")
	}
	if e, _ := AsError(errs[1]); e.Warning {
		t.Error("dropped duplicate is a warning")
	}
}

func TestParseFiles(t *testing.T) {
	dir := t.TempDir()
	a := dir + "/a.rules"
	b := dir + "/b.rules"
	writeFile(t, a, "alert tcp any any -> any any (msg:\"a\"; sid:1;)\n")
	writeFile(t, b, "alert tcp any any -> any any (msg:\"b\"; sid:1;)\nalert tcp any any -> any any (msg:\"c\"; sid:2;)\n")
	var p Parser
	rules, errs := p.ParseFiles(a, b, dir+"/missing.rules")
	if len(rules) != 2 || rules[0].Msg != "a" || rules[1].Msg != "c" || rules[0].File != a {
		t.Errorf("rules %+v", rules)
	}
	if len(errs) != 2 || errs[0].Error() != b+":1: duplicate signature sid 1 (first at "+a+":1)" ||
		!strings.Contains(errs[1].Error(), "missing.rules") {
		t.Errorf("errors %v", errs)
	}
}

func TestParseReaderLongLine(t *testing.T) {
	long := `alert tcp any any -> any any (msg:"` + strings.Repeat("x", 200000) + `"; sid:1;)`
	var p Parser
	rules, errs := p.ParseReader(strings.NewReader(long+"\n"), "long.rules")
	if len(errs) != 0 || len(rules) != 1 || len(rules[0].Msg) != 200000 {
		t.Fatalf("%d rules, errors %v", len(rules), errs)
	}
}

func BenchmarkParseRule(b *testing.B) {
	const rule = `alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"ET MALWARE Win32/Example CnC Checkin"; flow:established,to_server; http.method; content:"POST"; http.uri; content:"/gate.php"; endswith; http.header_names; content:!"Referer"; http.request_body; content:"id="; depth:3; pcre:"/^id=[a-f0-9]{32}&os=/P"; reference:url,example.com/analysis; classtype:trojan-activity; sid:2030001; rev:2; metadata:affected_product Windows_XP_Vista_7_8_10_Server_32_64_Bit, attack_target Client_Endpoint, created_at 2020_04_01, deployment Perimeter, signature_severity Major, updated_at 2020_04_01;)`
	var p Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(rule)))
	for i := 0; i < b.N; i++ {
		if _, err := p.ParseRule(rule, "b.rules", 1); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParserConcurrent parses with one Parser from several goroutines (run
// with -race): the lazy setup and the field caches are shared.
func TestParserConcurrent(t *testing.T) {
	var p Parser
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 200; i++ {
				_, err := p.ParseRule(`alert tcp [$HOME_NET,!10.0.0.`+string(rune('0'+i%10))+`] any -> $EXTERNAL_NET [80,`+string(rune('1'+g))+`] (msg:"x"; classtype:bad-unknown; sid:1;)`, "c.rules", i)
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
