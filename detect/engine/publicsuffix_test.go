package engine

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
)

// testPSL is a small list with each kind of rule.
const testPSL = `// comment
// ===BEGIN ICANN DOMAINS===
com
io
uk
co.uk
jp
*.kawasaki.jp
!city.kawasaki.jp
*.ck
!www.ck
// ===BEGIN PRIVATE DOMAINS===
github.io
`

func TestPublicSuffixSplit(t *testing.T) {
	l, err := parseSuffixList(strings.NewReader(testPSL), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, domain, tld string }{
		{"suricata.io", "suricata.io", "io"},
		{"www.suricata.io", "suricata.io", "io"},
		{"WWW.BBC.co.uk", "BBC.co.uk", "co.uk"},
		{"bbc.co.uk", "bbc.co.uk", "co.uk"},
		{"co.uk", "", ""}, // a public suffix has no registrable domain
		{"uk", "", ""},
		{"example.net", "example.net", "net"}, // default rule "*"
		{"a.b.example.net", "example.net", "net"},
		{"foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp", "bar.kawasaki.jp"}, // wildcard
		{"bar.kawasaki.jp", "", ""},
		{"x.city.kawasaki.jp", "city.kawasaki.jp", "kawasaki.jp"}, // exception
		{"www.ck", "www.ck", "ck"},
		{"a.b.ck", "a.b.ck", "b.ck"},
		{"user.github.io", "user.github.io", "github.io"},
		{"example.com.", "example.com.", "com."}, // trailing dot kept
		{"", "", ""},
		{".", "", ""},
		{".com", "", ""},
		{"a..com", "", ""},
		{"example.com..", "", ""},
	} {
		if got := string(l.apply(nil, []byte(tc.in), false)); got != tc.domain {
			t.Errorf("domain(%q) = %q, want %q", tc.in, got, tc.domain)
		}
		if got := string(l.apply(nil, []byte(tc.in), true)); got != tc.tld {
			t.Errorf("tld(%q) = %q, want %q", tc.in, got, tc.tld)
		}
	}
	for _, bad := range []string{"", "// only\n", "*.*.x\n", "a..b\n", ".x\n"} {
		if _, err := parseSuffixList(strings.NewReader(bad), "bad"); err == nil {
			t.Errorf("list %q: no error", bad)
		}
	}
}

// withPSL makes the test list current for the test's duration.
func withPSL(t *testing.T) {
	t.Helper()
	pslMu.Lock()
	old := pslCur
	pslMu.Unlock()
	if err := SetPublicSuffixList(strings.NewReader(testPSL), "test"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pslMu.Lock(); pslCur = old; pslMu.Unlock() })
}

// The rules of suricata-verify's domain-keyword.
var domainRules = []string{
	`alert dns any any -> any any (msg:"dns suricata"; dns.query; domain; content:"suricata.io"; startswith; endswith; sid:1; rev:1;)`,
	`alert dns any any -> any any (msg:"dns bbc"; dns.query; domain; content:"bbc.co.uk"; startswith; endswith; sid:2; rev:1;)`,
	`alert dns any any -> any any (msg:"dns suricata"; dns.query; tld; content:"io"; startswith; endswith; sid:3; rev:1;)`,
	`alert dns any any -> any any (msg:"dns bbc"; dns.query; tld; content:"co.uk"; startswith; endswith; sid:4; rev:1;)`,
}

func TestDomainTLDTransforms(t *testing.T) {
	withPSL(t)
	e := compile(t, domainRules...)
	dns := &flow.Flow{AppProto: flow.AppProtoDNS}
	p := appPkt("", false)
	q := func(names ...string) *BufferSet {
		s := &BufferSet{}
		for _, n := range names {
			s.Add(buf("dns.query"), []byte(n))
		}
		return s
	}
	for _, tc := range []struct {
		names []string
		want  []uint32
	}{
		{[]string{"www.suricata.io"}, []uint32{1, 3}},
		{[]string{"news.bbc.co.uk"}, []uint32{2, 4}},
		{[]string{"suricata.io.evil.com"}, nil},
		{[]string{"co.uk"}, nil},
		{[]string{"x.example.com", "www.bbc.co.uk"}, []uint32{2, 4}},
	} {
		got := appAlerts(t, e, p, dns, q(tc.names...))
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%v: got %v, want %v", tc.names, got, tc.want)
		}
	}
	th := e.NewThread()
	set := q("www.bbc.co.uk", "suricata.io")
	th.InspectApp(p, dns, set)
	if n := testing.AllocsPerRun(100, func() { th.InspectApp(p, dns, set) }); n != 0 {
		t.Errorf("domain/tld inspection: %v allocs per packet", n)
	}
}

func TestDomainNeedsList(t *testing.T) {
	pslMu.Lock()
	old, oldPaths := pslCur, PublicSuffixPaths
	pslCur, PublicSuffixPaths = nil, []string{t.TempDir() + "/missing.dat"}
	pslMu.Unlock()
	t.Cleanup(func() { pslMu.Lock(); pslCur, PublicSuffixPaths = old, oldPaths; pslMu.Unlock() })
	_, errs := Compile(parse(t, domainRules[0]), Config{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "no public suffix list") {
		t.Fatalf("errors %v, want one about the missing public suffix list", errs)
	}
	path := t.TempDir() + "/psl.dat"
	if err := os.WriteFile(path, []byte(testPSL), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := LoadPublicSuffixList(path); err != nil {
		t.Fatal(err)
	}
	if _, errs := Compile(parse(t, domainRules...), Config{}); len(errs) != 0 {
		t.Fatalf("after LoadPublicSuffixList: %v", errs)
	}
}

// The system's list, when installed, gives the answers Suricata's psl
// crate gives for common names.
func TestSystemPublicSuffixList(t *testing.T) {
	var l *suffixList
	for _, p := range PublicSuffixPaths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		l, err = parseSuffixList(f, p)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if l == nil {
		t.Skip("no system public suffix list")
	}
	for _, tc := range []struct{ in, domain, tld string }{
		{"www.suricata.io", "suricata.io", "io"},
		{"www.bbc.co.uk", "bbc.co.uk", "co.uk"},
		{"user.github.io", "user.github.io", "github.io"},
		{"a.b.c.example.com", "example.com", "com"},
	} {
		if got := string(l.apply(nil, []byte(tc.in), false)); got != tc.domain {
			t.Errorf("domain(%q) = %q, want %q", tc.in, got, tc.domain)
		}
		if got := string(l.apply(nil, []byte(tc.in), true)); got != tc.tld {
			t.Errorf("tld(%q) = %q, want %q", tc.in, got, tc.tld)
		}
	}
}

func BenchmarkDomainTransform(b *testing.B) {
	l, err := parseSuffixList(strings.NewReader(testPSL), "test")
	if err != nil {
		b.Fatal(err)
	}
	in := []byte("mail.news.bbc.co.uk")
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		dst = l.apply(dst, in, false)
	}
}

// FuzzPublicSuffix: any input gives a suffix of itself (or nothing), and
// the domain ends with the tld.
func FuzzPublicSuffix(f *testing.F) {
	l, err := parseSuffixList(strings.NewReader(testPSL), "test")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"www.bbc.co.uk", "x.city.kawasaki.jp", "a.b.ck", "co.uk", "a..b", ".", "example.com.", "\xff.\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d := l.apply(nil, in, false)
		tld := l.apply(nil, in, true)
		if !strings.HasSuffix(string(in), string(d)) || !strings.HasSuffix(string(d), string(tld)) {
			t.Fatalf("%q: domain %q tld %q", in, d, tld)
		}
		if (len(d) == 0) != (len(tld) == 0) || len(d) > 0 && len(d) <= len(tld) {
			t.Fatalf("%q: domain %q tld %q", in, d, tld)
		}
	})
}
