package profiles

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIncludeAndSet(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "default.yaml", "vars:\n  address-groups:\n    HOME_NET: \"[1.2.3.0/24]\"\n    EXTERNAL_NET: any\npacket-alert-max: 10\n")
	main := write(t, dir, "suricata.yaml", "%YAML 1.1\n---\ninclude: default.yaml\nvars:\n  address-groups:\n    HOME_NET: \"[5.6.7.0/24]\"\noutputs:\n  - fast:\n      enabled: yes\n      filename: f.log\n  - eve-log:\n      enabled: yes\n      types:\n        - alert:\n            payload: yes\n        - http\nstream:\n  midstream: true\n  reassembly:\n    depth: 2mb\nlogging:\n  default-log-level: notice\n")
	tr, err := LoadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Set("packet-alert-max", "32"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Set("outputs.1.eve-log.filename", "x.json"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Set("threshold-file", "/tmp/t.config"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Set("outputs.7.eve-log.enabled", "no"); err == nil {
		t.Error("index past the list must be an error")
	}
	s, err := tr.Settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.AddrVars["HOME_NET"] != "[5.6.7.0/24]" || s.AddrVars["EXTERNAL_NET"] != "any" {
		t.Errorf("vars: included file's keys should merge, including file's win: %v", s.AddrVars)
	}
	if s.PacketAlertMax != 32 || s.ThresholdFile != "/tmp/t.config" {
		t.Errorf("--set not applied: %+v", s)
	}
	if !s.EVE.Enabled || s.EVE.Filename != "x.json" || !s.EVE.Payload || s.EVE.Packet {
		t.Errorf("eve settings %+v", s.EVE)
	}
	if !s.Fast.Enabled || s.Fast.Filename != "f.log" {
		t.Errorf("fast settings %+v", s.Fast)
	}
	if !reflect.DeepEqual(s.Ignored, []string{"logging"}) {
		t.Errorf("ignored keys %v", s.Ignored)
	}
	if !s.Stream.Midstream || s.Stream.Depth != 2<<20 || s.Stream.Memcap != 64<<20 || s.Stream.Inline != "auto" {
		t.Errorf("stream settings %+v", s.Stream)
	}
}

func TestBadValuesNameTheKey(t *testing.T) {
	tr := NewTree()
	_ = tr.Set("packet-alert-max", "lots")
	if _, err := tr.Settings(); err == nil || !strings.Contains(err.Error(), "packet-alert-max") {
		t.Errorf("got %v", err)
	}
	dir := t.TempDir()
	p := write(t, dir, "a.yaml", "include: a.yaml\n")
	if _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), "include") {
		t.Errorf("include loop: %v", err)
	}
	p = write(t, dir, "b.yaml", "outputs: [\n")
	if _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), "b.yaml") {
		t.Errorf("bad yaml: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	s, err := NewTree().Settings()
	if err != nil {
		t.Fatal(err)
	}
	if !s.EVE.Enabled || !s.Fast.Enabled || s.PacketAlertMax != 15 || s.AddrVars != nil {
		t.Errorf("defaults %+v", s)
	}
}
