package engine

import (
	"slices"
	"strings"
	"testing"
)

// The rules of suricata-verify's detect-absent-negated-content.
var absentRules = []string{
	`alert http any any -> any any (msg:"uri"; flow:established,to_server; http.uri; bsize:1; content:"/"; sid:1;)`,
	`alert http any any -> any any (msg:"neg no absent"; flow:established,to_server; http.uri; bsize:1; content:"/"; http.referer; content:!"example"; sid:5;)`,
	`alert http any any -> any any (msg:"or_else neg content"; flow:established,to_server; http.uri; bsize:1; content:"/"; http.referer; absent: or_else; content:!"example"; sid:6;)`,
	`alert http any any -> any any (msg:"or_else neg pcre"; flow:established,to_server; http.uri; bsize:1; content:"/"; http.referer; absent: or_else ; pcre:!"/example/"; sid:7;)`,
	`alert http any any -> any any (msg:"absent"; flow:established,to_server; http.uri; bsize:1; content:"/"; http.referer; absent; sid:8;)`,
	`alert http any any -> any any (msg:"absent alone"; flow:established,to_server; http.referer; absent; sid:9;)`,
	`alert http any any -> any any (msg:"or_else pos"; flow:established,to_server; http.uri; bsize:1; content:"/"; http.referer; absent: or_else; content:"example"; sid:10;)`,
	`alert http any any -> any any (msg:"ua"; flow:established,to_server; http.user_agent; content:"foo"; content:!"bar"; sid:20;)`,
	`alert http any any -> any any (msg:"ua or_else neg"; flow:established,to_server; http.user_agent; absent: or_else; content:!"bar"; sid:21;)`,
	`alert http any any -> any any (msg:"ua absent"; flow:established,to_server; http.user_agent; absent; sid:22;)`,
	`alert http any any -> any any (msg:"ua or_else pos"; flow:established,to_server; http.user_agent; absent: or_else; content:"foo"; sid:23;)`,
}

func TestAbsent(t *testing.T) {
	e := compile(t, absentRules...)
	p := appPkt("", false)
	for _, tc := range []struct {
		name string
		set  *BufferSet
		want []uint32
	}{
		// The verify test's traffic: no Referer header.
		{"no referer", httpSet("http.uri", "/", "http.user_agent", "foo"), []uint32{1, 6, 7, 8, 9, 10, 20, 21, 23}},
		{"referer with example", httpSet("http.uri", "/", "http.user_agent", "foo", "http.referer", "http://example.com/"), []uint32{1, 10, 20, 21, 23}},
		{"other referer", httpSet("http.uri", "/", "http.user_agent", "foo", "http.referer", "http://x/"), []uint32{1, 5, 6, 7, 20, 21, 23}},
		// An empty instance is present: absent does not match it, a
		// negated content does (suricata-verify detect-bsize-0: an empty
		// User-Agent matches content:!"u" and bsize:0).
		{"empty referer", httpSet("http.uri", "/", "http.user_agent", "foo", "http.referer", ""), []uint32{1, 5, 6, 7, 20, 21, 23}},
		{"no ua", httpSet("http.uri", "/", "http.referer", "x"), []uint32{1, 5, 6, 7, 21, 22, 23}},
	} {
		if got := appAlerts(t, e, p, httpFlow(), tc.set); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// Contents of absent lists are never the fast pattern.
	for _, s := range e.Signatures() {
		if fp, ok := s.FastPattern(); ok && (s.SID == 9 || string(fp) == "example" && s.SID == 10) {
			t.Errorf("sid %d: fast pattern %q from an absent list", s.SID, fp)
		}
	}
}

func TestAbsentErrors(t *testing.T) {
	for _, tc := range []struct{ rule, msg string }{
		{`alert http any any -> any any (http.referer; absent; content:"x"; sid:1;)`, "only tested for absence"},
		{`alert http any any -> any any (http.referer; absent: or_else; sid:1;)`, "needs another keyword"},
		{`alert http any any -> any any (http.referer; absent: or_else; content:"x"; fast_pattern; sid:1;)`, "absent"},
		{`alert http any any -> any any (absent; sid:1;)`, "sticky buffer"},
		{`alert tcp any any -> any any (tcp.hdr; absent; sid:1;)`, "only app-layer"},
		{`alert http any any -> any any (http.referer; absent: maybe; content:"x"; sid:1;)`, "or_else"},
		{`alert http any any -> any any (http.referer; absent; absent; sid:1;)`, "more than once"},
	} {
		_, errs := Compile(parse(t, tc.rule), Config{})
		if len(errs) == 0 {
			t.Errorf("%s: no error", tc.rule)
			continue
		}
		if !strings.Contains(errs[0].Error(), tc.msg) {
			t.Errorf("%s: error %q does not mention %q", tc.rule, errs[0], tc.msg)
		}
	}
}

func TestAbsentZeroAlloc(t *testing.T) {
	e := compile(t, absentRules...)
	th := e.NewThread()
	p := appPkt("", false)
	f := httpFlow()
	set := httpSet("http.uri", "/", "http.user_agent", "foo")
	th.InspectApp(p, f, set)
	if n := testing.AllocsPerRun(100, func() { th.InspectApp(p, f, set) }); n != 0 {
		t.Errorf("InspectApp with absent lists: %v allocs per packet", n)
	}
}
