package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/profiles"
)

func runCmd(f func([]string, io.Writer, io.Writer) int, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := f(args, &out, &errb)
	return out.String(), errb.String(), code
}

var (
	configCheck = configCheckCommand
	profilesCmd = profilesCommand
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "vigil.yaml")
	os.WriteFile(good, []byte("profile: ids-afpacket\ncapture:\n  interfaces: [eth1]\n"), 0o644)
	out, errs, code := runCmd(configCheck, "check", good)
	if code != 0 || !strings.HasPrefix(out, good+": ok\n") || !strings.Contains(out, "profile ids-afpacket, backend afpacket, runmode workers") {
		t.Errorf("good file: code %d\n%s%s", code, out, errs)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("profile: ids-afpacket\nstream:\n  reasembly:\n    depth: 2mb\n"), 0o644)
	out, errs, code = runCmd(configCheck, "check", bad)
	if code != 1 || out != "" || !strings.Contains(errs, bad+`:3: unknown key "stream.reasembly.depth" (did you mean "stream.reassembly.depth"?)`) {
		t.Errorf("bad file: code %d\n%s%s", code, out, errs)
	}

	// --set and --profile apply; a bad --set value is an error.
	out, errs, code = runCmd(configCheck, "check", good, "--profile", "lab-single", "--set=workers=1")
	if code != 0 || !strings.Contains(out, "profile lab-single") {
		t.Errorf("--profile: code %d\n%s%s", code, out, errs)
	}
	_, errs, code = runCmd(configCheck, "check", good, "--set", "workers=lots")
	if code != 1 || !strings.Contains(errs, `--set workers: workers: "lots" is not a number or auto`) {
		t.Errorf("bad --set: code %d %s", code, errs)
	}

	// A suricata.yaml: ok, and the keys Vigil ignores.
	sur := filepath.Join(dir, "suricata.yaml")
	os.WriteFile(sur, []byte("%YAML 1.1\n---\nstream:\n  midstream: true\nlogging:\n  default-log-level: info\noutputs:\n  - fast:\n      enabled: yes\n  - pcap-log:\n      enabled: no\n"), 0o644)
	out, errs, code = runCmd(configCheck, "check", sur)
	want := sur + ": ok\n" + sur + ": read as a suricata.yaml on profile pcap-offline; 2 keys ignored:\n  logging\n  outputs.1.pcap-log\n"
	if code != 0 || out != want {
		t.Errorf("suricata.yaml: code %d\n%s\nwant\n%s%s", code, out, want, errs)
	}
	// The stock suricata.yaml of the profiles tests.
	out, errs, code = runCmd(configCheck, "check", "../../profiles/testdata/suricata-8.0.6.yaml")
	if code != 0 || !strings.Contains(out, "  af-packet\n") || strings.Contains(out, "  vars") {
		t.Errorf("stock suricata.yaml: code %d\n%s%s", code, out, errs)
	}

	for _, args := range [][]string{{"check"}, {"check", good, good}, {"check", good, "--bogus"}, {"check", good, "--set"}} {
		if _, _, code := runCmd(configCheck, args...); code != 2 {
			t.Errorf("%q: code %d, want 2 (usage)", args, code)
		}
	}
	if _, errs, code := runCmd(configCheck, "check", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(errs, "missing.yaml") {
		t.Errorf("missing file: code %d %s", code, errs)
	}
}

func TestProfilesCommand(t *testing.T) {
	out, _, code := runCmd(profilesCmd)
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	for _, p := range profiles.Profiles() {
		if !strings.Contains(out, p.Name+"  ") || !strings.Contains(out, p.Description) {
			t.Errorf("list lacks %s:\n%s", p.Name, out)
		}
	}
	out, errs, code := runCmd(profilesCmd, "show", "ips-nfqueue", "--cpus", "4", "--memory=16gb")
	if code != 0 || !strings.HasPrefix(out, "# Vigil profile ips-nfqueue:") || !strings.Contains(out, "4 CPUs, 16 GiB") ||
		!strings.Contains(out, "\nworkers: 3\n") || !strings.Contains(out, `queues: "0:2"`) {
		t.Errorf("show: code %d\n%s%s", code, out, errs)
	}
	// The printed profile passes config check and loads as the profile.
	f := filepath.Join(t.TempDir(), "vigil.yaml")
	os.WriteFile(f, []byte(out), 0o644)
	m := profiles.Machine{CPUs: 4, MemoryBytes: 16 << 30}
	fromFile, err := profiles.Load(profiles.LoadOptions{File: f, Machine: &m})
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := profiles.Load(profiles.LoadOptions{Profile: "ips-nfqueue", Machine: &m})
	if fromFile.Workers != direct.Workers || fromFile.Capture.NFQueue != direct.Capture.NFQueue || fromFile.Flow != direct.Flow {
		t.Errorf("printed profile loads differently")
	}

	_, errs, code = runCmd(profilesCmd, "show", "ids-afxpd")
	if code != 1 || !strings.Contains(errs, `unknown profile "ids-afxpd" (did you mean "ids-afxdp"?`) {
		t.Errorf("unknown profile: code %d %s", code, errs)
	}
	for _, args := range [][]string{{"show"}, {"bogus"}, {"show", "a", "b"}, {"show", "lab-single", "--cpus", "0"}, {"show", "lab-single", "--memory", "lots"}} {
		if _, _, code := runCmd(profilesCmd, args...); code != 2 {
			t.Errorf("%q: code %d, want 2", args, code)
		}
	}
}
