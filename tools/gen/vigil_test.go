package gen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	vigilOnce sync.Once
	vigilBin  string
	vigilErr  error
	tmpRoot   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// buildVigil builds ./cmd/vigil once per test run.
func buildVigil(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs cmd/vigil")
	}
	vigilOnce.Do(func() {
		tmpRoot, vigilErr = os.MkdirTemp("", "vgen-test-")
		if vigilErr != nil {
			return
		}
		vigilBin = filepath.Join(tmpRoot, "vigil")
		out, err := exec.Command("go", "build", "-o", vigilBin, "github.com/vigil-ids/vigil/cmd/vigil").CombinedOutput()
		if err != nil {
			vigilErr = fmt.Errorf("go build cmd/vigil: %v\n%s", err, out)
		}
	})
	if vigilErr != nil {
		t.Fatal(vigilErr)
	}
	return vigilBin
}

// eveRecord is what the tests read of an EVE line.
type eveRecord struct {
	EventType string `json:"event_type"`
	SrcIP     string `json:"src_ip"`
	SrcPort   uint16 `json:"src_port"`
	DestIP    string `json:"dest_ip"`
	DestPort  uint16 `json:"dest_port"`
	Alert     *struct {
		SID int `json:"signature_id"`
	} `json:"alert"`
	HTTP *struct {
		URL string `json:"url"`
	} `json:"http"`
	DNS *struct {
		Type    string `json:"type"`
		Queries []struct {
			RRName string `json:"rrname"`
		} `json:"queries"`
	} `json:"dns"`
	TLS *struct {
		SNI string `json:"sni"`
	} `json:"tls"`
}

// runVigil runs vigil on pcap with rules (and config cfg, if any) and
// returns the EVE records.
func runVigil(t *testing.T, pcap, rules, cfg string) []eveRecord {
	t.Helper()
	bin := buildVigil(t)
	dir := t.TempDir()
	args := []string{"-S", rules, "-r", pcap, "-l", dir, "--quiet"}
	if cfg != "" {
		args = append([]string{"-c", cfg}, args...)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("vigil %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	f, err := os.Open(filepath.Join(dir, "eve.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []eveRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r eveRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("eve.json: %v", err)
		}
		recs = append(recs, r)
	}
	return recs
}

// clientOfRecord finds which end of an EVE record is a known client.
func clientOfRecord(r eveRecord, known map[tupleKey]bool) (tupleKey, bool) {
	for _, k := range []tupleKey{{mustAddr(r.SrcIP), r.SrcPort}, {mustAddr(r.DestIP), r.DestPort}} {
		if known[k] {
			return k, true
		}
	}
	return tupleKey{}, false
}

func mustAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// checkAlerts compares vigil's alerts with expect (per planted flow:
// should its rule alert): an alert on every flow expected, on no other.
func checkAlerts(t *testing.T, recs []eveRecord, m *Manifest, expect func(*PlantRecord) bool, label string) {
	t.Helper()
	planted := map[tupleKey]*PlantRecord{}
	all := map[tupleKey]bool{}
	for _, p := range m.Planted {
		k := tupleKey{netip.MustParseAddr(p.SrcIP), p.SrcPort}
		planted[k] = p
		all[k] = true
	}
	hits := map[tupleKey]int{}
	for _, r := range recs {
		if r.EventType != "alert" {
			continue
		}
		k, ok := clientOfRecord(r, all)
		if !ok || planted[k].SID != r.Alert.SID {
			t.Errorf("%s: alert sid %d on %s:%d -> %s:%d, not a planted flow of that rule", label, r.Alert.SID, r.SrcIP, r.SrcPort, r.DestIP, r.DestPort)
			continue
		}
		hits[k]++
	}
	yes, no := 0, 0
	for k, p := range planted {
		want := expect(p)
		if (hits[k] > 0) != want {
			t.Errorf("%s: flow %d %s %s: %d alerts, expected an alert: %v", label, p.Flow, p.Place, p.Variant, hits[k], want)
		}
		if want {
			yes++
		} else {
			no++
		}
	}
	t.Logf("%s: %d planted flows, %d must alert, %d must not", label, len(planted), yes, no)
}

// web-mix: vigil alerts on every planted flow and no other, and its HTTP,
// DNS and TLS records hold the manifest's URIs, query names and SNIs.
func TestVigilOnWebMix(t *testing.T) {
	dir := t.TempDir()
	sc := loadScenario(t, "web-mix", 2000)
	pcap, m := writeScenario(t, sc, dir, "web.pcap")
	rules := filepath.Join(dir, "web.rules")
	if err := os.WriteFile(rules, []byte(Rules(sc)), 0o644); err != nil {
		t.Fatal(err)
	}
	recs := runVigil(t, pcap, rules, "")
	checkAlerts(t, recs, m, func(p *PlantRecord) bool { return p.ExpectAlert }, "web-mix")
	clients := map[tupleKey]bool{}
	for _, f := range m.Flows {
		clients[tupleKey{netip.MustParseAddr(f.SrcIP), f.SrcPort}] = true
	}
	type vals struct{ uris, queries, sni []string }
	got := map[tupleKey]*vals{}
	for _, r := range recs {
		k, ok := clientOfRecord(r, clients)
		if !ok {
			continue
		}
		v := got[k]
		if v == nil {
			v = &vals{}
			got[k] = v
		}
		switch {
		case r.EventType == "http" && r.HTTP != nil:
			v.uris = append(v.uris, r.HTTP.URL)
		case r.EventType == "dns" && r.DNS != nil && r.DNS.Type == "request":
			for _, q := range r.DNS.Queries {
				v.queries = append(v.queries, q.RRName)
			}
		case r.EventType == "tls" && r.TLS != nil:
			v.sni = append(v.sni, r.TLS.SNI)
		}
	}
	n := 0
	for _, f := range m.Flows {
		v := got[tupleKey{netip.MustParseAddr(f.SrcIP), f.SrcPort}]
		if v == nil {
			v = &vals{}
		}
		var sni []string
		if f.SNI != "" {
			sni = []string{f.SNI}
		}
		if !slices.Equal(v.uris, f.URIs) || !slices.Equal(v.queries, f.Queries) || !slices.Equal(v.sni, sni) {
			t.Errorf("flow %d (%s): vigil records %+v, manifest uris %v queries %v sni %q", f.Flow, f.App, *v, f.URIs, f.Queries, f.SNI)
		}
		n += len(v.uris) + len(v.queries) + len(v.sni)
	}
	if n < 1500 {
		t.Fatalf("only %d application values compared", n)
	}
}

// evasion-suite under Vigil's default policy (bsd): an alert on exactly
// the planted flows the manifest expects; and under each other policy
// (set with host-os-policy, which cmd/vigil gives to both the stream
// tracker and the defragmenter), an alert exactly where ids_seen_by lists
// that policy.
func TestVigilOnEvasionSuite(t *testing.T) {
	dir := t.TempDir()
	sc := loadScenario(t, "evasion-suite", 0)
	pcap, m := writeScenario(t, sc, dir, "ev.pcap")
	rules := filepath.Join(dir, "ev.rules")
	if err := os.WriteFile(rules, []byte(Rules(sc)), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(m.Planted) < 80 {
		t.Fatalf("%d planted flows", len(m.Planted))
	}
	checkAlerts(t, runVigil(t, pcap, rules, ""), m, func(p *PlantRecord) bool { return p.ExpectAlert }, "bsd (default)")
	for _, pol := range StreamPolicies[1:] {
		cfg := filepath.Join(dir, pol+".yaml")
		if err := os.WriteFile(cfg, []byte("host-os-policy:\n  "+pol+": [\"0.0.0.0/0\", \"::/0\"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		checkAlerts(t, runVigil(t, pcap, rules, cfg), m, func(p *PlantRecord) bool {
			return slices.Contains(p.IDSSeenBy, pol)
		}, pol)
	}
}
