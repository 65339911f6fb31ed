package rules

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

const etDir = "/work/shared/rules/et-open"

func etFiles(t testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(etDir, "*.rules"))
	if len(files) == 0 {
		t.Skip("ET Open rule set not present in " + etDir)
	}
	return files
}

// errorKind reduces an error message to its kind, for a summary.
func errorKind(err error) string {
	e, ok := AsError(err)
	if !ok {
		return err.Error()
	}
	msg := e.Msg
	if i := strings.IndexAny(msg, "\"0123456789"); i > 0 {
		msg = msg[:i]
	}
	if e.Keyword != "" {
		return "[" + e.Keyword + "] " + msg
	}
	return msg
}

// TestETOpenCorpus parses every rule of the Emerging Threats Open set: they
// are valid Suricata rules, so all must parse and no keyword may be unknown.
func TestETOpenCorpus(t *testing.T) {
	files := etFiles(t)
	var p Parser
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	rules, errs := p.ParseFiles(files...)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	var ms2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms2)
	t.Logf("heap retained by the parsed rules: %.1f MB", float64(ms2.HeapAlloc-ms0.HeapAlloc)/(1<<20))
	kinds := map[string]int{}
	for _, e := range errs {
		kinds[errorKind(e)]++
	}
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%6d  %s", n, k))
	}
	sort.Strings(ks)
	t.Logf("ET Open: %d files, %d rules parsed, %d errors, %v, %.1f MB allocated",
		len(files), len(rules), len(errs), elapsed, float64(ms1.TotalAlloc-ms0.TotalAlloc)/(1<<20))
	for _, k := range ks {
		t.Logf("error kind: %s", k)
	}
	for i, e := range errs {
		if i >= 20 {
			break
		}
		t.Errorf("%v", e)
	}
	// Every content value must decode and every pcre/flowbits value must be
	// a single option (no value swallowed its neighbour).
	contents, bad := 0, 0
	for _, r := range rules {
		for _, o := range r.Options {
			switch o.Name {
			case "content", "uricontent":
				contents++
				if _, _, err := DecodeContent(o.Value); err != nil {
					bad++
					if bad < 10 {
						t.Errorf("%s:%d: %v", r.File, r.Line, err)
					}
				}
			case "threshold":
				if _, err := ParseThresholdOption(o.Value); err != nil {
					t.Errorf("%s:%d: %v", r.File, r.Line, err)
				}
			case "detection_filter":
				if _, err := ParseDetectionFilterOption(o.Value); err != nil {
					t.Errorf("%s:%d: %v", r.File, r.Line, err)
				}
			case "msg", "sid", "rev", "classtype", "pcre", "flowbits", "metadata":
				if strings.Contains(o.Value, "; sid:") {
					t.Errorf("%s:%d: %s value swallowed other options: %s", r.File, r.Line, o.Name, o.Value)
				}
			}
		}
	}
	t.Logf("%d content values decoded, %d failed", contents, bad)
	runtime.KeepAlive(rules)
	if len(rules) < 24827 {
		t.Errorf("parsed %d rules, want at least 24827", len(rules))
	}
}

func BenchmarkETOpenCorpus(b *testing.B) {
	files := etFiles(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var p Parser
		rules, errs := p.ParseFiles(files...)
		if len(errs) != 0 || len(rules) == 0 {
			b.Fatalf("%d rules, %d errors", len(rules), len(errs))
		}
	}
}

// TestSuricataEventRules parses the rule files that ship with Suricata
// (decoder, stream and app-layer events).
func TestSuricataEventRules(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/rules/suricata-events/*.rules")
	if len(files) == 0 {
		t.Skip("Suricata event rules not present")
	}
	var p Parser
	rules, errs := p.ParseFiles(files...)
	for _, e := range errs {
		t.Error(e)
	}
	if len(rules) < 400 {
		t.Errorf("only %d rules", len(rules))
	}
}
