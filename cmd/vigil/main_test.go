package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// runVigil runs the command in-process and returns stdout, stderr and the
// exit code.
func runVigil(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func readEVE(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("eve.json line is not JSON: %v: %s", err, sc.Text())
		}
		evs = append(evs, m)
	}
	return evs
}

// TestSampleEndToEnd is `make run`: the bundled capture against the bundled
// rules gives exactly the alerts the sample was built to contain.
func TestSampleEndToEnd(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runVigil(t, "-S", "../../testdata/sample.rules", "-r", "../../testdata/sample.pcap", "-l", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if stderr != "" {
		t.Errorf("unexpected stderr: %s", stderr)
	}
	evs := readEVE(t, filepath.Join(dir, "eve.json"))
	got := map[float64]int{}
	for _, ev := range evs {
		if ev["event_type"] != "alert" {
			continue
		}
		alert := ev["alert"].(map[string]any)
		got[alert["signature_id"].(float64)]++
		for _, k := range []string{"timestamp", "flow_id", "pcap_cnt", "src_ip", "dest_ip", "proto", "pkt_src"} {
			if _, ok := ev[k]; !ok {
				t.Errorf("alert %v lacks %q: %v", alert["signature_id"], k, ev)
			}
		}
	}
	// One flow record per flow (5 TCP sessions, 2 DNS exchanges, 1 ping
	// flow); the 6 that raised alerts say so.
	flows, alerted := 0, 0
	for _, ev := range evs {
		if ev["event_type"] == "flow" {
			flows++
			if ev["flow"].(map[string]any)["alerted"] == true {
				alerted++
			}
		}
	}
	if flows != 8 || alerted != 6 {
		t.Errorf("flow records: %d (want 8), alerted %d (want 6)", flows, alerted)
	}
	want := map[float64]int{2100498: 1, 1000001: 1, 1000002: 1, 1000003: 1, 1000004: 1, 1000005: 1, 1000006: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alerts by sid = %v, want %v\nstdout:\n%s", got, want, stdout)
	}
	fast, err := os.ReadFile(filepath.Join(dir, "fast.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(fast), "\n"); n != 7 {
		t.Errorf("fast.log has %d lines, want 7:\n%s", n, fast)
	}
	if !strings.Contains(stdout, "7 alerts") || !strings.Contains(stdout, "GPL ATTACK_RESPONSE id check returned root") {
		t.Errorf("summary lacks the alert count or signatures:\n%s", stdout)
	}
}

// The VLAN-tagged and IPv6 alerts carry their fields.
func TestSampleAlertFields(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runVigil(t, "--quiet", "-S", "../../testdata/sample.rules", "-r", "../../testdata/sample.pcap", "-l", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	bySID := map[float64]map[string]any{}
	for _, ev := range readEVE(t, filepath.Join(dir, "eve.json")) {
		if ev["event_type"] == "alert" {
			bySID[ev["alert"].(map[string]any)["signature_id"].(float64)] = ev
		}
	}
	if ev := bySID[1000006]; ev == nil || !reflect.DeepEqual(ev["vlan"], []any{20.0}) {
		t.Errorf("SQL injection alert should carry vlan [20]: %v", ev)
	}
	if ev := bySID[1000005]; ev == nil || ev["src_ip"] != "2001:0db8:0000:0000:0000:0000:0000:0010" || ev["proto"] != "TCP" {
		t.Errorf("IPv6 alert fields wrong: %v", ev)
	}
	if ev := bySID[1000004]; ev == nil || ev["proto"] != "ICMP" {
		t.Errorf("ICMP alert fields wrong: %v", ev)
	}
	if ev := bySID[2100498]; ev == nil || ev["src_port"] != 80.0 || ev["alert"].(map[string]any)["category"] != "Potentially Bad Traffic" {
		t.Errorf("testmyids alert fields wrong: %v", ev)
	}
}

func TestBadRuleReportedOthersLoad(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "x.rules")
	body := "alert tcp any any -> any any (msg:\"ok\"; content:\"uid=0|28|root|29|\"; sid:1;)\n" +
		"alert http any any -> any any (msg:\"typo\"; http_urii; sid:2;)\n"
	if err := os.WriteFile(rules, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runVigil(t, "-S", rules, "-r", "../../testdata/sample.pcap", "-l", dir)
	if code != 0 {
		t.Fatalf("one bad rule must not stop the run: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, rules+":2:") || !strings.Contains(stderr, `"http_urii"`) {
		t.Errorf("error should name file, line and keyword: %s", stderr)
	}
	if !strings.Contains(stdout, "1 rules loaded, 1 failed") {
		t.Errorf("summary: %s", stdout)
	}
	_, stderr, code = runVigil(t, "--init-errors-fatal", "-S", rules, "-r", "../../testdata/sample.pcap", "-l", dir)
	if code == 0 {
		t.Errorf("--init-errors-fatal with a bad rule must fail; stderr: %s", stderr)
	}
}

func TestTestConfigFlag(t *testing.T) {
	stdout, stderr, code := runVigil(t, "-T", "-S", "../../testdata/sample.rules")
	if code != 0 || !strings.Contains(stdout, "8 rules loaded, 0 failed") {
		t.Errorf("-T: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestCorruptPcapNamesOffset(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../testdata/sample.pcap")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runVigil(t, "--quiet", "-S", "../../testdata/sample.rules", "-r", cut, "-l", dir)
	if code == 0 || !strings.Contains(stderr, "cut.pcap") || !strings.Contains(stderr, "offset") {
		t.Errorf("truncated pcap: exit %d, stderr %q", code, stderr)
	}
	// Everything before the damage was still processed.
	n := 0
	for _, ev := range readEVE(t, filepath.Join(dir, "eve.json")) {
		if ev["event_type"] == "alert" {
			n++
		}
	}
	if n < 6 {
		t.Errorf("only %d alerts written before the truncated record", n)
	}
}

func TestSuricataConfigAndSet(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "suricata.yaml")
	// HOME_NET narrowed so that the DNS rule ($HOME_NET any -> any 53) no longer fires;
	// fast.log turned off.
	body := "%YAML 1.1\n---\nvars:\n  address-groups:\n    HOME_NET: \"[10.0.0.0/8]\"\n    EXTERNAL_NET: \"!$HOME_NET\"\noutputs:\n  - fast:\n      enabled: no\n      filename: fast.log\n  - eve-log:\n      enabled: yes\n      filename: alerts.json\n      types:\n        - alert:\n            payload-printable: yes\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runVigil(t, "--quiet", "-c", cfg, "--set", "outputs.1.eve-log.filename=renamed.json", "-S", "../../testdata/sample.rules", "-r", "../../testdata/sample.pcap", "-l", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "fast.log")); err == nil {
		t.Errorf("fast.log written although disabled")
	}
	var sids []int
	printable := 0
	for _, ev := range readEVE(t, filepath.Join(dir, "renamed.json")) {
		if ev["event_type"] == "alert" {
			sids = append(sids, int(ev["alert"].(map[string]any)["signature_id"].(float64)))
			if _, ok := ev["payload_printable"]; ok {
				printable++
			}
		}
	}
	// Alerts on a packet without payload (a transaction inspected on the
	// acknowledging packet) have no payload to print.
	if printable == 0 {
		t.Errorf("payload_printable missing although configured")
	}
	sort.Ints(sids)
	for _, s := range sids {
		if s == 1000003 || s == 1000004 || s == 1000001 {
			t.Errorf("sid %d fired although HOME_NET excludes its addresses: %v", s, sids)
		}
	}
	if len(sids) == 0 {
		t.Errorf("no alerts at all")
	}
}

func TestArgs(t *testing.T) {
	a, err := parseArgs([]string{"-rfile.pcap", "-S", "a.rules", "-s", "b.rules", "--set", "x.y=1", "--set=z=2", "-k", "none", "--simulate-ips", "-vv"})
	if err != nil {
		t.Fatal(err)
	}
	if a.pcap != "file.pcap" || a.exclusiveRules[0] != "a.rules" || a.extraRules[0] != "b.rules" ||
		!reflect.DeepEqual(a.sets, []string{"x.y=1", "z=2"}) || a.checksum != "none" || !a.simulateIPS || a.verbose != 2 {
		t.Errorf("parsed %+v", a)
	}
	for _, bad := range [][]string{{"-r"}, {"--bogus"}, {"-k", "maybe"}, {"--set", "novalue"}, {"-T=1"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("%v: expected an error", bad)
		}
	}
}

// An output pipe gets the chosen app-layer fields as lines; an unknown
// field is a configuration error naming it.
func TestOutputPipe(t *testing.T) {
	dir := t.TempDir()
	lines := filepath.Join(dir, "lines.txt")
	cfg := filepath.Join(dir, "v.yaml")
	body := "outputs:\n  - eve-log:\n      enabled: yes\n      types:\n        - alert\n        - http\n  - pipe:\n      enabled: yes\n      name: f\n      fields: [http.user_agent, dns.query]\n      command: \"cat > " + lines + "\"\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runVigil(t, "--quiet", "-c", cfg, "-S", "../../testdata/sample.rules", "-r", "../../testdata/sample.pcap", "-l", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(lines)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"http.user_agent\tcurl/8.5.0\n", "dns.query\tevil-c2.example.net\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("pipe output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "http.host") {
		t.Errorf("pipe got a field it did not ask for:\n%s", got)
	}
	bad := strings.Replace(body, "dns.query", "dns.qeury", 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runVigil(t, "--quiet", "-c", cfg, "-S", "../../testdata/sample.rules", "-r", "../../testdata/sample.pcap", "-l", dir)
	if code == 0 || !strings.Contains(stderr, `unknown field "dns.qeury"`) {
		t.Errorf("unknown field: exit %d, stderr %s", code, stderr)
	}
}

// Packets selected by the tag keyword are written as EVE "packet" records.
func TestTaggedPacketsLogged(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "tag.rules")
	rule := `alert http any any -> any any (msg:"tag the session"; http.uri; content:"/testmyids"; tag:session,3,packets; sid:99;)` + "\n"
	if err := os.WriteFile(rules, []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runVigil(t, "--quiet", "-S", rules, "-r", "../../testdata/sample.pcap", "-l", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	alerts, tagged := 0, 0
	for _, ev := range readEVE(t, filepath.Join(dir, "eve.json")) {
		switch ev["event_type"] {
		case "alert":
			alerts++
		case "packet":
			tagged++
			if _, ok := ev["packet"].(string); !ok {
				t.Errorf("packet record without the packet: %v", ev)
			}
		}
	}
	if alerts != 1 || tagged != 3 {
		t.Errorf("%d alerts (want 1), %d tagged packet records (want 3)", alerts, tagged)
	}
}

// --cpuprofile writes a Go CPU profile of the run.
func TestCPUProfileFlag(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.prof")
	_, stderr, code := runVigil(t, "--quiet", "--cpuprofile", prof, "-S", "../../testdata/sample.rules", "-r", "../../testdata/sample.pcap", "-l", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Fatalf("no profile written: %v", err)
	}
}

// Every runmode finds the same alerts on the sample, and the management
// thread writes stats.log and EVE stats records that count every packet.
func TestRunmodesAndStats(t *testing.T) {
	var want string
	for _, mode := range []string{"single", "workers", "autofp"} {
		dir := t.TempDir()
		var out, errb strings.Builder
		if code := run([]string{"-S", "../../testdata/sample.rules", "-r", "../../testdata/sample.pcap", "-l", dir, "--runmode", mode}, &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d: %s", mode, code, errb.String())
		}
		eve, err := os.ReadFile(filepath.Join(dir, "eve.json"))
		if err != nil {
			t.Fatal(err)
		}
		var alerts []string
		var pkts uint64
		for _, line := range strings.Split(strings.TrimSpace(string(eve)), "\n") {
			var rec struct {
				EventType string `json:"event_type"`
				PcapCnt   int    `json:"pcap_cnt"`
				Alert     struct {
					SID int `json:"signature_id"`
				} `json:"alert"`
				Stats struct {
					Decoder struct {
						Pkts uint64 `json:"pkts"`
					} `json:"decoder"`
				} `json:"stats"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: %v: %s", mode, err, line)
			}
			switch rec.EventType {
			case "alert":
				alerts = append(alerts, fmt.Sprintf("%d/%d", rec.Alert.SID, rec.PcapCnt))
			case "stats":
				pkts = rec.Stats.Decoder.Pkts
			}
		}
		sort.Strings(alerts)
		got := strings.Join(alerts, " ")
		if want == "" {
			want = got
		}
		if len(alerts) != 7 || got != want {
			t.Errorf("%s: alerts %s, want 7 as single's %s", mode, got, want)
		}
		if pkts != 58 {
			t.Errorf("%s: final stats record counts %d packets, want 58", mode, pkts)
		}
		log, err := os.ReadFile(filepath.Join(dir, "stats.log"))
		if err != nil || !strings.Contains(string(log), "decoder.pkts") {
			t.Errorf("%s: stats.log: %v\n%s", mode, err, log)
		}
	}
}

// With routing.alerts-to-output-stage one output thread writes the files:
// the records are the same as when the workers write them, in every
// runmode, and the stage's counters show it did the writing.
func TestOutputStage(t *testing.T) {
	records := func(dir string) ([]string, map[string]any) {
		var recs []string
		var stage map[string]any
		for _, ev := range readEVE(t, filepath.Join(dir, "eve.json")) {
			if ev["event_type"] == "stats" {
				st := ev["stats"].(map[string]any)
				stage, _ = st["pipeline"].(map[string]any)["output_stage"].(map[string]any)
				continue
			}
			delete(ev, "timestamp")
			b, _ := json.Marshal(ev)
			recs = append(recs, string(b))
		}
		sort.Strings(recs)
		return recs, stage
	}
	for _, mode := range []string{"single", "workers", "autofp"} {
		direct, staged := t.TempDir(), t.TempDir()
		for _, c := range []struct {
			dir  string
			sets []string
		}{{direct, []string{"--set", "routing.alerts-to-output-stage=no"}}, {staged, []string{"--set", "routing.alerts-to-output-stage=yes"}}} {
			args := append([]string{"-S", "../../testdata/sample.rules", "-r", "../../testdata/sample.pcap", "-l", c.dir, "--runmode", mode}, c.sets...)
			if _, stderr, code := runVigil(t, args...); code != 0 {
				t.Fatalf("%s: exit %d: %s", mode, code, stderr)
			}
		}
		a, st0 := records(direct)
		b, st := records(staged)
		if strings.Join(a, "\n") != strings.Join(b, "\n") || len(a) == 0 {
			t.Errorf("%s: %d records direct, %d through the stage, or they differ", mode, len(a), len(b))
		}
		if st == nil || st["writes"].(float64) == 0 || st["errors"].(float64) != 0 {
			t.Errorf("%s: output stage counters %v", mode, st)
		}
		if st0 != nil && st0["writes"].(float64) != 0 {
			t.Errorf("%s: no stage asked for, but it wrote: %v", mode, st0)
		}
		fa, _ := os.ReadFile(filepath.Join(direct, "fast.log"))
		fb, _ := os.ReadFile(filepath.Join(staged, "fast.log"))
		if bytes.Count(fa, []byte("\n")) != bytes.Count(fb, []byte("\n")) || len(fa) == 0 {
			t.Errorf("%s: fast.log %d vs %d bytes", mode, len(fa), len(fb))
		}
	}
}
