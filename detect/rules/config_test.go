package rules

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestDefaultClassifications(t *testing.T) {
	c := DefaultClassifications()
	if c.Len() != 43 {
		t.Errorf("%d classifications, want 43", c.Len())
	}
	for _, tt := range []struct {
		name, desc string
		prio       int
	}{
		{"not-suspicious", "Not Suspicious Traffic", 3},
		{"bad-unknown", "Potentially Bad Traffic", 2},
		{"trojan-activity", "A Network Trojan was detected", 1},
		{"tcp-connection", "A TCP connection was detected", 4},
		{"TROJAN-ACTIVITY", "A Network Trojan was detected", 1},
		{"inappropriate-content", "Inappropriate Content was Detected", 1},
	} {
		desc, prio, ok := c.Lookup(tt.name)
		if !ok || desc != tt.desc || prio != tt.prio {
			t.Errorf("Lookup(%q) = %q, %d, %v", tt.name, desc, prio, ok)
		}
	}
	if _, _, ok := c.Lookup("nope"); ok {
		t.Error("unknown classification found")
	}
	if all := c.All(); len(all) != 43 || all[0].Name != "not-suspicious" {
		t.Errorf("All: %d, first %+v", len(all), all[0])
	}
	var nilC *Classifications
	if _, _, ok := nilC.Lookup("x"); ok {
		t.Error("nil Classifications found something")
	}
}

func TestParseClassifications(t *testing.T) {
	src := "# comment\n" +
		"config classification: a,Desc A,1\n" +
		"  config   classification :b , Desc, with, commas , 2 \n" +
		"config classification: c,Desc C\n" +
		"config classification: d,Desc D,x\n" +
		"config reference: url http://\n" +
		"config classification: bad name,Desc,1\n" +
		"config classification: a,Redefined,3\n"
	c, err := ParseClassifications(strings.NewReader(src), "class.config")
	if c == nil || c.Len() != 2 {
		t.Fatalf("got %v", c)
	}
	if d, p, _ := c.Lookup("b"); d != "Desc, with, commas" || p != 2 {
		t.Errorf("b: %q %d", d, p)
	}
	if d, p, _ := c.Lookup("a"); d != "Redefined" || p != 3 {
		t.Errorf("a: %q %d", d, p)
	}
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`class.config:4: classification "c,Desc C": want name,description,priority`,
		`class.config:5: classification "d": invalid priority "x"`,
		`class.config:6: expected "config classification: name,description,priority"`,
		`class.config:7: invalid classification name "bad name"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.File != "class.config" {
		t.Errorf("error is not an *Error: %T", err)
	}
	if _, err := LoadClassifications("/nonexistent/classification.config"); err == nil {
		t.Error("missing file accepted")
	}
	if c, err := LoadClassifications("/work/shared/rules/et-open/classification.config"); err == nil && c.Len() != 42 {
		t.Errorf("ET classification.config: %d entries", c.Len())
	}
}

func TestParseReferences(t *testing.T) {
	src := "# config reference: system URL\n" +
		"config reference: cve       https://cve.mitre.org/cgi-bin/cvename.cgi?name=\n" +
		"config reference: bid\t    https://www.securityfocus.com/bid/\n" +
		"config reference: McAfee    https://vil.nai.com/vil/content/v_\n" +
		"config reference: broken\n" +
		"config classification: x,y,1\n"
	r, err := ParseReferences(strings.NewReader(src), "reference.config")
	if r.Len() != 3 {
		t.Errorf("%d references", r.Len())
	}
	if u, ok := r.Lookup("CVE"); !ok || u != "https://cve.mitre.org/cgi-bin/cvename.cgi?name=" {
		t.Errorf("cve: %q", u)
	}
	if u, ok := r.Lookup("mcafee"); !ok || u != "https://vil.nai.com/vil/content/v_" {
		t.Errorf("mcafee: %q", u)
	}
	if u, ok := r.Lookup("bid"); !ok || u != "https://www.securityfocus.com/bid/" {
		t.Errorf("bid: %q", u)
	}
	if err == nil || !strings.Contains(err.Error(), `reference.config:5: reference "broken": want "type url"`) ||
		!strings.Contains(err.Error(), `reference.config:6: expected "config reference: type url"`) {
		t.Errorf("error %v", err)
	}
	if r, err := LoadReferences("/work/shared/rules/suricata-events/etc/reference.config"); err == nil && r.Len() == 0 {
		t.Error("stock reference.config gave nothing")
	}
}

func TestParseThresholds(t *testing.T) {
	src := "# threshold.config\n" +
		"threshold gen_id 1, sig_id 100, type limit, track by_src, count 1, seconds 60\n" +
		"event_filter gen_id 1, sig_id 101, type both, track by_dst, count 5, seconds 30\n" +
		"suppress gen_id 1, sig_id 102\n" +
		"suppress gen_id 1, sig_id 103, track by_either, ip $HOME_NET\n" +
		"suppress gen_id 1, sig_id 104, track by_src, ip [1.2.3.4, 5.6.7.0/24]\n" +
		"rate_filter gen_id 1, sig_id 105, track by_rule, count 10, seconds 1, new_action drop, timeout 30\n" +
		"threshold sig_id 106, gen_id 2, seconds 5, count 3, track by_both, type threshold\n" +
		"threshold gen_id 0, sig_id 0, type limit, track by_flow, count 1, seconds 60\n" +
		"suppress gen_id 1, sig_id 107, \\\n  track by_dst, ip 10.0.0.1\n" +
		// errors
		"threshold gen_id 1, sig_id 200, type limit, track by_src, count 1\n" +
		"threshold gen_id 1, sig_id 201, type sometimes, track by_src, count 1, seconds 1\n" +
		"suppress gen_id 1, sig_id 202, track by_rule, ip 1.2.3.4\n" +
		"suppress gen_id 1, sig_id 203, track by_src\n" +
		"suppress gen_id 1, sig_id 204, track by_src, ip $NOPE\n" +
		"rate_filter gen_id 1, sig_id 205, track by_src, count 1, seconds 1, new_action explode, timeout 1\n" +
		"limit gen_id 1, sig_id 206\n" +
		"threshold gen_id 1, sig_id x, type limit, track by_src, count 1, seconds 1\n" +
		"threshold gen_id 1, sig_id 207, type limit, type both, track by_src, count 1, seconds 1\n" +
		"threshold gen_id 1, sig_id 208, type limit, track by_src, count 1, seconds 1, color red\n" +
		"threshold gen_id 1, sig_id 209, type limit, track by_src, count 0, seconds 1\n" +
		"suppress gen_id 1, sig_id 210,, track by_src, ip 1.2.3.4\n" +
		"suppress gen_id 1\n"
	var p Parser
	entries, errs := p.ParseThresholds(strings.NewReader(src), "threshold.config")
	if len(entries) != 9 {
		t.Fatalf("%d entries: %+v", len(entries), entries)
	}
	e := entries[0]
	if e.Kind != KindThreshold || e.GID != 1 || e.SID != 100 || e.Type != TypeLimit || e.Track != TrackBySrc ||
		e.Count != 1 || e.Seconds != 60 || e.File != "threshold.config" || e.Line != 2 {
		t.Errorf("entry 0: %+v", e)
	}
	if e := entries[1]; e.Kind != KindEventFilter || e.Type != TypeBoth || e.Track != TrackByDst || e.Count != 5 {
		t.Errorf("entry 1: %+v", e)
	}
	if e := entries[2]; e.Kind != KindSuppress || e.SID != 102 || e.Track != TrackNone || !e.IP.IsAny() {
		t.Errorf("entry 2: %+v", e)
	}
	if e := entries[3]; e.Track != TrackByEither || !e.IP.Contains(netip.MustParseAddr("10.0.0.1")) || e.IP.Contains(netip.MustParseAddr("8.8.8.8")) {
		t.Errorf("entry 3: %+v", e)
	}
	if e := entries[4]; !e.IP.Contains(netip.MustParseAddr("5.6.7.8")) || e.IP.Contains(netip.MustParseAddr("1.2.3.5")) {
		t.Errorf("entry 4: %+v", e)
	}
	if e := entries[5]; e.Kind != KindRateFilter || e.Track != TrackByRule || e.NewAction != "drop" || e.Timeout != 30 || e.Count != 10 {
		t.Errorf("entry 5: %+v", e)
	}
	if e := entries[6]; e.GID != 2 || e.SID != 106 || e.Type != TypeThreshold || e.Track != TrackByBoth || e.Seconds != 5 {
		t.Errorf("entry 6: %+v", e)
	}
	if e := entries[7]; e.GID != 0 || e.SID != 0 || e.Track != TrackByFlow {
		t.Errorf("entry 7: %+v", e)
	}
	if e := entries[8]; e.Line != 10 || e.Track != TrackByDst || !e.IP.Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Errorf("entry 8: %+v", e)
	}
	wantErrs := []string{
		`threshold.config:12: threshold: missing parameter "seconds"`,
		`threshold.config:13: threshold: type: "sometimes" is not limit, threshold, both or backoff`,
		`threshold.config:14: suppress: track: "by_rule" is not valid for suppress`,
		`threshold.config:15: suppress: track and ip must be given together`,
		`threshold.config:16: suppress: ip: undefined address variable "$NOPE"`,
		`threshold.config:17: rate_filter: new_action: "explode" is not alert, drop, pass, log, sdrop or reject`,
		`threshold.config:18: unknown directive "limit"`,
		`threshold.config:19: threshold: sig_id: invalid number "x"`,
		`threshold.config:20: threshold: parameter "type" given twice`,
		`threshold.config:21: threshold: unknown parameter "color"`,
		`threshold.config:22: threshold: count must be at least 1`,
		`threshold.config:23: suppress: empty parameter`,
		`threshold.config:24: suppress: missing parameter "sig_id"`,
	}
	if len(errs) != len(wantErrs) {
		t.Errorf("%d errors, want %d", len(errs), len(wantErrs))
	}
	for i := 0; i < len(errs) && i < len(wantErrs); i++ {
		if !strings.HasPrefix(errs[i].Error(), wantErrs[i]) {
			t.Errorf("error %d:\n got  %q\n want %q", i, errs[i].Error(), wantErrs[i])
		}
	}
	if _, errs := p.LoadThresholds("/nonexistent/threshold.config"); len(errs) != 1 {
		t.Error("missing file accepted")
	}
}

func TestThresholdOptions(t *testing.T) {
	e, err := ParseThresholdOption("type limit, track by_src, count 1, seconds 60")
	if err != nil || e.Kind != KindThreshold || e.Type != TypeLimit || e.Track != TrackBySrc || e.Count != 1 || e.Seconds != 60 {
		t.Errorf("%+v %v", e, err)
	}
	e, err = ParseDetectionFilterOption("track by_dst, count 5, seconds 10")
	if err != nil || e.Kind != KindDetectionFilter || e.Track != TrackByDst || e.Count != 5 || e.Seconds != 10 {
		t.Errorf("%+v %v", e, err)
	}
	for _, bad := range []string{"", "type limit, track by_src, count 1", "gen_id 1, type limit, track by_src, count 1, seconds 1"} {
		if _, err := ParseThresholdOption(bad); err == nil {
			t.Errorf("threshold %q accepted", bad)
		}
	}
	if _, err := ParseDetectionFilterOption("type limit, track by_src, count 1, seconds 1"); err == nil {
		t.Error("detection_filter with type accepted")
	}
	if KindRateFilter.String() != "rate_filter" || TypeBoth.String() != "both" || TrackByEither.String() != "by_either" {
		t.Error("names")
	}
}
