package gen

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The five bundled scenarios load, and --list names them.
func TestBundledScenarios(t *testing.T) {
	want := []string{"dns-flood", "evasion-suite", "syn-flood", "tls-heavy", "web-mix"}
	if got := List(); !slices.Equal(got, want) {
		t.Fatalf("List() = %v, want %v", got, want)
	}
	for _, n := range want {
		sc, err := Load(n)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Name != n || sc.Description == "" {
			t.Errorf("%s: name %q, description %q", n, sc.Name, sc.Description)
		}
	}
	// A file path works too.
	b, _ := Bundled("web-mix")
	path := filepath.Join(t.TempDir(), "mine.yaml")
	os.WriteFile(path, append(b, []byte("\nconcurrency: 7\n")...), 0o644)
	if _, err := Load(path); err == nil {
		t.Fatal("duplicate key accepted")
	}
	os.WriteFile(path, []byte(strings.Replace(string(b), "concurrency: 64", "concurrency: 7", 1)), 0o644)
	sc, err := Load(path)
	if err != nil || sc.Concurrency != 7 {
		t.Fatalf("load from file: %v, concurrency %d", err, sc.Concurrency)
	}
}

// Errors name the key at fault.
func TestScenarioErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"flowz: 3", "flowz"},
		{"mix: {http: {weight: -1}}", "mix.http.weight"},
		{"clients: 10.0.0.0/33", "clients"},
		{"servers6: 10.0.0.0/8", "servers6"},
		{"ipv6_share: 2", "ipv6_share"},
		{"mss: 100", "mss"},
		{"packet_gap: soon", "packet_gap"},
		{"mix: {http: {weight: 1, requests: 5-x}}", "range"},
		{"target: {policy: beos}", "target.policy"},
		{"plant: [{place: smtp}]", "plant[0]: place"},
		{"plant: [{place: http-uri, marker: lowercase-only}]", "uppercase"},
		{"plant: [{place: http-uri, marker: 'HAS SPACE 1'}]", "not allowed"},
		{"plant: [{place: dns-query, variants: [tiny]}]", "does not apply"},
		{"plant: [{place: http-uri, variants: [overlap-nope-old]}]", "variant"},
		{"plant: [{place: tcp-payload, marker: 'Mozilla/5.0'}]", "occurs in"},
		{"flows: 10\nplant: [{place: http-uri, flows: 11}]", "flows"},
		{"plant: [{place: http-uri, marker: VGN-AAAA-11}, {place: tcp-payload, marker: VGN-AAAA-11-B}]", "contains marker"},
	} {
		_, err := Parse([]byte(c.yaml), "t")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to mention %q", c.yaml, err, c.want)
		}
	}
}

// Range takes N, LO-HI and {min, max, log}; log draws stay in range and
// lean low.
func TestRangeForms(t *testing.T) {
	sc, err := Parse([]byte("mix: {http: {weight: 1, requests: 4, request_body: 10-20, response_body: {min: 10, max: 100000, log: true}}}"), "t")
	if err != nil {
		t.Fatal(err)
	}
	h := sc.Mix.HTTP
	if h.Requests != (Range{4, 4, false}) || h.RequestBody != (Range{10, 20, false}) || !h.ResponseBody.Log {
		t.Fatalf("ranges %+v %+v %+v", h.Requests, h.RequestBody, h.ResponseBody)
	}
	r := newRNG(1)
	below := 0
	for i := 0; i < 10000; i++ {
		v := h.ResponseBody.draw(&r)
		if v < 10 || v > 100000 {
			t.Fatalf("draw %d outside the range", v)
		}
		if v < 1000 {
			below++
		}
	}
	// log-uniform: P(v < 1000) = log(100)/log(10000) = 0.5
	if below < 4500 || below > 5500 {
		t.Fatalf("%d of 10000 log draws below 1000, want about 5000", below)
	}
}

// FuzzParseScenario: any YAML; never a panic; a scenario that parses
// generates its first frames without panicking.
func FuzzParseScenario(f *testing.F) {
	for _, n := range List() {
		b, _ := Bundled(n)
		f.Add(b)
	}
	f.Add([]byte("flows: 3\nconcurrency: 1\nmix: {syn: {weight: 1}}\n"))
	f.Add([]byte("plant: [{place: dns-query, variants: [all], at: [0]}]\nflows: 40\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := Parse(b, "fuzz")
		if err != nil {
			return
		}
		sc.Flows = min(sc.Flows, 2000)
		sc.Concurrency = min(sc.Concurrency, 64)
		g, err := New(sc, Options{Manifest: true})
		if err != nil {
			return
		}
		buf := make([]byte, MaxFrameLen)
		for i := 0; i < 300; i++ {
			if _, _, err := g.Next(buf); err != nil {
				if !errors.Is(err, io.EOF) && !strings.HasPrefix(err.Error(), "gen: flow") {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
		}
	})
}
