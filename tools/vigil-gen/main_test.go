package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/tools/gen"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestList(t *testing.T) {
	out, _, code := runCLI(t, "--list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, n := range []string{"web-mix", "dns-flood", "tls-heavy", "evasion-suite", "syn-flood"} {
		if !strings.Contains(out, n) {
			t.Errorf("--list lacks %s:\n%s", n, out)
		}
	}
	out, _, code = runCLI(t, "--list-variants")
	if code != 0 || !strings.Contains(out, "overlap-before-after-new") || !strings.Contains(out, "urgent") {
		t.Fatalf("--list-variants (exit %d):\n%s", code, out)
	}
}

// -w, --manifest and --rules write a capture, a manifest that matches it
// and the rules; pcapng by the name.
func TestWriteScenario(t *testing.T) {
	dir := t.TempDir()
	pcap, man, rules := filepath.Join(dir, "o.pcapng"), filepath.Join(dir, "m.json"), filepath.Join(dir, "r.rules")
	out, errs, code := runCLI(t, "--scenario", "web-mix", "--flows", "300", "--seed", "9", "-w", pcap, "--manifest", man, "--rules", rules)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m, err := gen.ReadManifest(man)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Flows) != 300 || m.Seed != 9 || len(m.Planted) != 15 || !strings.Contains(out, "wrote "+itoa(m.Frames)+" frames") {
		t.Fatalf("manifest: %d flows, seed %d, %d planted; output %q", len(m.Flows), m.Seed, len(m.Planted), out)
	}
	b, _ := os.ReadFile(pcap)
	if len(b) < 4 || !bytes.Equal(b[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Fatal("not a pcapng file")
	}
	r, _ := os.ReadFile(rules)
	if strings.Count(string(r), "\nalert ") != 5 {
		t.Fatalf("rules:\n%s", r)
	}
	// --count bounds a written capture.
	if out, errs, code := runCLI(t, "--scenario", "syn-flood", "--count", "100", "-w", filepath.Join(dir, "s.pcap")); code != 0 || !strings.Contains(out, "wrote 100 frames") {
		t.Fatalf("--count: exit %d, %s %s", code, out, errs)
	}
	// Replay three loops.
	in := filepath.Join(dir, "s.pcap")
	if out, errs, code := runCLI(t, "--replay", in, "--loops", "3", "-w", filepath.Join(dir, "r.pcap")); code != 0 || !strings.Contains(out, "wrote 300 frames") {
		t.Fatalf("--replay: exit %d, %s %s", code, out, errs)
	}
}

func itoa(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Errors name what is wrong and exit non-zero.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "nope", "-w", "x.pcap"}, `scenario "nope"`},
		{[]string{"-w"}, "flag needs an argument"},
		{[]string{}, "nothing to do"},
		{[]string{"-i", "vgen-no-such-if", "--count", "1"}, "vgen-no-such-if"},
		{[]string{"-i", "vxa-no-such-if", "--via", "afxdp", "--count", "1"}, "vxa-no-such-if"},
		{[]string{"-i", "lo", "--via", "dpdk", "--count", "1"}, "--via"},
		{[]string{"-i", "lo", "--via", "afxdp", "--xdp-mode", "fast", "--count", "1"}, "--xdp-mode"},
		{[]string{"-i", "lo", "--pps", "fast", "--count", "1"}, "--pps"},
		{[]string{"--replay", "/nonexistent.pcap", "-w", "x.pcap"}, "nonexistent"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-w", "x.pcap", "-i", "lo"}, "not both"},
		{[]string{"--replay", "x.pcap", "--loops", "0", "-w", "y.pcap"}, "without end"},
	} {
		_, errs, code := runCLI(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "1000": 1000, "1.5M": 1.5e6, "10G": 1e10, "250k": 250e3} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-5", "1T"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}
