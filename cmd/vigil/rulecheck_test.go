package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const checkRules = `alert http any any -> any any (msg:"uri"; flow:to_server; http.uri; content:"/a"; sid:1;)
alert dns any any -> any any (msg:"q"; dns.query; dotprefix; content:".evil"; endswith; sid:2;)
alert tcp any any -> any any (msg:"x1"; content:"a"; ftpbounce; sid:3;)
alert tcp any any -> any any (msg:"x2"; content:"b"; ftpbounce; sid:4;)
alert tcp any any -> any any (msg:"asn"; content:"a"; asn1:oversize_length 10; sid:5;)
alert gopher any any -> any any (msg:"g"; sid:6;)
alert tcp any any -> any any (msg:"ok"; content:"b"; sid:7;)
`

func writeRules(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.rules")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRulesCheck(t *testing.T) {
	f := writeRules(t, checkRules)
	stdout, stderr, code := runVigil(t, "rules", "check", "-S", f)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"vigil: rules: 3 loaded, 4 failed (42.86% loaded) from 1 files",
		"vigil: load time ",
		"MiB RSS",
		"keyword -> rules it blocks (top 3):",
		"       2  ftpbounce\n       1  asn1\n       1  protocol gopher\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	// Each failing rule on stderr with file:line.
	for _, want := range []string{f + `:3: unsupported keyword "ftpbounce"`, f + `:6: unsupported protocol "gopher"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// --top and --quiet
	stdout, stderr, code = runVigil(t, "rules", "check", "--top", "1", "--quiet", "-S", f)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "(top 1):\n       2  ftpbounce\n") || strings.Contains(stdout, "asn1") {
		t.Errorf("--top 1 output:\n%s", stdout)
	}
	// --init-errors-fatal turns failures into exit 1, the report still
	// printed.
	stdout, stderr, code = runVigil(t, "rules", "check", "--init-errors-fatal", "-S", f)
	if code != 1 || !strings.Contains(stderr, "4 rule errors and --init-errors-fatal") || !strings.Contains(stdout, "3 loaded, 4 failed") {
		t.Errorf("fatal: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// All good: exit 0 even with the flag.
	ok := writeRules(t, "alert tcp any any -> any any (msg:\"ok\"; content:\"b\"; sid:7;)\n")
	stdout, _, code = runVigil(t, "rules", "check", "--init-errors-fatal", "-S", ok)
	if code != 0 || !strings.Contains(stdout, "1 loaded, 0 failed (100.00% loaded)") || strings.Contains(stdout, "blocks") {
		t.Errorf("clean: exit %d\n%s", code, stdout)
	}
}

func TestRulesCheckUsage(t *testing.T) {
	if _, _, code := runVigil(t, "rules"); code != exitUsage {
		t.Errorf("bare `rules`: exit %d, want %d", code, exitUsage)
	}
	if _, stderr, code := runVigil(t, "rules", "lint"); code != exitUsage || !strings.Contains(stderr, `unknown rules command "lint"`) {
		t.Errorf("rules lint: exit %d %q", code, stderr)
	}
	if _, stderr, code := runVigil(t, "rules", "check", "-r", "x.pcap"); code != exitUsage || !strings.Contains(stderr, "rule and configuration options only") {
		t.Errorf("rules check -r: exit %d %q", code, stderr)
	}
	if _, stderr, code := runVigil(t, "rules", "check", "--top", "x"); code != exitUsage || !strings.Contains(stderr, "--top") {
		t.Errorf("--top x: exit %d %q", code, stderr)
	}
	if stdout, _, code := runVigil(t, "rules", "check", "--help"); code != 0 || !strings.Contains(stdout, "usage: vigil rules check") {
		t.Errorf("--help: exit %d %q", code, stdout)
	}
}

func TestTestConfigReport(t *testing.T) {
	f := writeRules(t, checkRules)
	stdout, _, code := runVigil(t, "-T", "-S", f)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"configuration OK: 3 rules loaded, 4 failed", "vigil: rules: 3 loaded, 4 failed", "2  ftpbounce"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("-T output lacks %q:\n%s", want, stdout)
		}
	}
}
