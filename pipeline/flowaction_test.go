package pipeline

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
)

// ipsHarness is a bypass-less harness in inline mode that writes drop
// records (flows: all unless start is asked for).
func ipsHarness(t *testing.T, ips bool, midstream stream.ExceptionPolicy, start bool, rules ...string) *bypHarness {
	t.Helper()
	h := newBypHarness(t, bypSetup{rules: rules, stream: stream.Config{Inline: ips, MidstreamPolicy: midstream}})
	h.s.Bypass = nil
	h.s.Opts.IPS = ips
	h.s.Opts.DropRecords = true
	h.s.Opts.DropAlerts = true
	h.s.Opts.DropFlowsStart = start
	return h
}

// records returns the EVE records of one event type.
func records(t *testing.T, h *bypHarness, eventType string) []map[string]any {
	t.Helper()
	if err := h.s.EVE.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.eve.String()), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("eve line %q: %v", line, err)
		}
		if ev["event_type"] == eventType {
			out = append(out, ev)
		}
	}
	return out
}

// A firewall ruleset as Suricata runs one: the handshake passes on a
// packet-level pass rule, an app-layer pass rule passes the whole flow,
// everything else is dropped. The handshake's final ACK is not yet
// "established" (flow:not_established matches it).
func TestPassRulePassesFlow(t *testing.T) {
	h := ipsHarness(t, true, stream.ExceptionDropFlow, false,
		`pass tcp any any <> any 80 (flow:not_established; sid:1;)`,
		`pass http any any -> any any (flow:established; http.uri; content:"/allowed"; sid:2;)`,
		`drop ip any any -> any any (msg:"drop all else"; flow:stateless; sid:3;)`)
	ok := h.tcp("10.0.0.1:40000", "10.0.0.2:80", 0)
	for i, p := range []*packet.Packet{ok.send(true, fSYN, nil), ok.send(false, fSYN|fACK, nil), ok.send(true, fACK, nil)} {
		if p.Verdict != packet.VerdictForward || p.Flags&packet.FlagEstablished != 0 {
			t.Fatalf("handshake packet %d: verdict %d, established %v", i+1, p.Verdict, p.Flags&packet.FlagEstablished != 0)
		}
	}
	ok.data(true, "GET /allowed HTTP/1.1\r\nHost: x\r\n\r\n")
	ok.data(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
	for _, p := range []*packet.Packet{ok.send(true, fACK|fFIN, nil), ok.send(false, fACK|fFIN, nil), ok.send(true, fACK, nil)} {
		if p.Verdict != packet.VerdictForward {
			t.Fatalf("packet of a passed flow: verdict %d", p.Verdict)
		}
	}
	if n := h.alerts(3); n != 0 {
		t.Errorf("drop-all rule alerted %d times on a passed flow", n)
	}
	if h.s.Counters.FlowPassed == 0 {
		t.Errorf("no packet counted as passed by its flow: %+v", h.s.Counters)
	}

	// Another URI: the established packets are dropped, each one by sid 3.
	bad := h.tcp("10.0.0.1:40001", "10.0.0.2:80", 0)
	bad.handshake()
	seg := bad.send(true, fACK|fPSH, []byte("GET /other HTTP/1.1\r\nHost: x\r\n\r\n"))
	if seg.Verdict != packet.VerdictDrop || seg.DropReason != packet.DropReasonRules {
		t.Fatalf("request of a flow not passed: verdict %d reason %q", seg.Verdict, seg.DropReason)
	}
	if n := h.alerts(3); n != 1 {
		t.Errorf("drop-all rule alerted %d times, want 1", n)
	}
	drops := records(t, h, "drop")
	if len(drops) != 1 {
		t.Fatalf("%d drop records, want 1: %v", len(drops), drops)
	}
	d := drops[0]["drop"].(map[string]any)
	if d["reason"] != "rules" || d["psh"] != true || d["len"] == nil || d["tcpseq"] == nil {
		t.Errorf("drop record %v", d)
	}
	if a, _ := drops[0]["alert"].(map[string]any); a == nil || a["signature_id"] != float64(3) || a["action"] != "blocked" {
		t.Errorf("drop record's alert %v", drops[0]["alert"])
	}
}

// A drop rule matching transaction data drops the flow: every later packet
// is dropped with reason "flow drop" and not inspected again; flows: start
// writes one drop record per direction.
func TestDropRuleDropsFlow(t *testing.T) {
	h := ipsHarness(t, true, stream.ExceptionDropFlow, true,
		`drop http any any -> any any (msg:"bad uri"; http.uri; content:"/evil"; sid:7;)`)
	c := h.tcp("10.0.0.1:40010", "10.0.0.2:80", 0)
	c.handshake()
	seg := c.send(true, fACK|fPSH, []byte("GET /evil HTTP/1.1\r\nHost: x\r\n\r\n"))
	if seg.Verdict != packet.VerdictDrop || seg.DropReason != packet.DropReasonRules {
		t.Fatalf("request: verdict %d reason %q", seg.Verdict, seg.DropReason)
	}
	var later []*packet.Packet
	later = append(later, c.send(false, fACK, nil), c.send(true, fACK|fPSH, []byte("more")), c.send(false, fACK|fPSH, []byte("HTTP/1.1 200 OK\r\n\r\n")))
	for i, p := range later {
		if p.Verdict != packet.VerdictDrop || p.DropReason != packet.DropReasonFlowDrop {
			t.Errorf("later packet %d: verdict %d reason %q", i, p.Verdict, p.DropReason)
		}
	}
	if n := h.alerts(7); n != 1 {
		t.Errorf("%d alerts, want 1", n)
	}
	c1 := h.s.Counters
	if c1.Dropped != 4 || c1.DroppedBy[packet.DropReasonRules] != 1 || c1.DroppedBy[packet.DropReasonFlowDrop] != 3 {
		t.Errorf("drop counters %d %v", c1.Dropped, c1.DroppedBy)
	}
	drops := records(t, h, "drop")
	if len(drops) != 2 {
		t.Fatalf("flows: start wrote %d drop records, want one per direction", len(drops))
	}
	if r := drops[1]["drop"].(map[string]any)["reason"]; r != "flow drop" {
		t.Errorf("second record's reason %v", r)
	}

	// In IDS mode the same rule only alerts and the flow goes on.
	ids := ipsHarness(t, false, stream.ExceptionIgnore, false,
		`drop http any any -> any any (msg:"bad uri"; http.uri; content:"/evil"; sid:7;)`)
	c = ids.tcp("10.0.0.1:40011", "10.0.0.2:80", 0)
	c.handshake()
	seg, _ = c.data(true, "GET /evil HTTP/1.1\r\nHost: x\r\n\r\n")
	p := c.send(false, fACK|fPSH, []byte("HTTP/1.1 200 OK\r\n\r\n"))
	if seg.Verdict != packet.VerdictForward || p.Verdict != packet.VerdictForward || ids.alerts(7) != 1 {
		t.Errorf("IDS: verdicts %d %d, alerts %d", seg.Verdict, p.Verdict, ids.alerts(7))
	}
	if n := len(records(t, ids, "drop")); n != 0 {
		t.Errorf("IDS wrote %d drop records", n)
	}
}

// A TCP flow whose start was not seen: inline with midstream-policy
// drop-flow its first packet is dropped ("stream midstream") and the rest
// of the flow too ("exception policy flow drop"), without detection.
func TestMidstreamPolicyDropFlow(t *testing.T) {
	h := ipsHarness(t, true, stream.ExceptionDropFlow, false,
		`alert tcp any any -> any any (msg:"any data"; content:"data"; sid:9;)`)
	c := h.tcp("10.0.0.1:40020", "10.0.0.2:80", 0)
	first := c.send(true, fACK|fPSH, []byte("data one"))
	second := c.send(false, fACK, nil)
	third := c.send(true, fACK|fPSH, []byte("data two"))
	if first.Verdict != packet.VerdictDrop || first.DropReason != packet.DropReasonStreamMidstream {
		t.Errorf("first packet: verdict %d reason %q", first.Verdict, first.DropReason)
	}
	for _, p := range []*packet.Packet{second, third} {
		if p.Verdict != packet.VerdictDrop || p.DropReason != packet.DropReasonExceptionFlowDrop {
			t.Errorf("later packet: verdict %d reason %q", p.Verdict, p.DropReason)
		}
	}
	if n := h.alerts(9); n != 0 {
		t.Errorf("dropped midstream packets were inspected: %d alerts", n)
	}
	st := h.s.Stream.Stats()
	if st.MidstreamByPolicy[stream.ExceptionDropFlow] != 1 {
		t.Errorf("midstream policy counters %v", st.MidstreamByPolicy)
	}
	var reasons []string
	for _, d := range records(t, h, "drop") {
		reasons = append(reasons, d["drop"].(map[string]any)["reason"].(string))
	}
	if strings.Join(reasons, ",") != "stream midstream,exception policy flow drop,exception policy flow drop" {
		t.Errorf("drop reasons %v", reasons)
	}

	// ignore (IDS mode): the packets are inspected one by one.
	ids := ipsHarness(t, false, stream.ExceptionIgnore, false,
		`alert tcp any any -> any any (msg:"any data"; content:"data"; sid:9;)`)
	c = ids.tcp("10.0.0.1:40021", "10.0.0.2:80", 0)
	c.send(true, fACK|fPSH, []byte("data one"))
	if n := ids.alerts(9); n != 1 || ids.s.Counters.Dropped != 0 {
		t.Errorf("IDS midstream: %d alerts, %d dropped", n, ids.s.Counters.Dropped)
	}
}

// A closing TCP flow stays established (timeouts) until the last FIN is
// on its way, as the session's state says.
func TestFlowStateFollowsSession(t *testing.T) {
	h := ipsHarness(t, false, stream.ExceptionIgnore, false, `alert tcp any any -> any any (content:"zz"; sid:1;)`)
	c := h.tcp("10.0.0.1:40030", "10.0.0.2:80", 0)
	c.handshake()
	c.data(true, "hello")
	fin := c.send(false, fACK|fFIN, nil)
	f := h.s.Flows.Lookup(fin) // the same flow (a lookup of an old packet only updates counters)
	if f == nil || f.State != flow.StateEstablished {
		t.Fatalf("after the server's FIN: state %v", f.State)
	}
	c.send(true, fACK, nil)
	c.send(true, fACK|fFIN, nil)
	last := c.send(false, fACK, nil)
	if f = h.s.Flows.Lookup(last); f.State != flow.StateClosed {
		t.Errorf("after both FINs: state %v", f.State)
	}
}

// A bypass rule that does not alert still bypasses its flow.
func TestNoAlertBypassRule(t *testing.T) {
	h := newBypHarness(t, bypSetup{rules: []string{`alert tcp any any -> any any (content:"BIGFILE"; bypass; noalert; sid:4;)`},
		triggers: BypassTriggers{Rule: true}})
	c := h.tcp("10.0.0.1:40040", "10.0.0.2:80", 0)
	c.handshake()
	c.data(false, "BIGFILE follows")
	if n := h.s.Bypass.Stats().Triggered[TriggerRule]; n != 1 {
		t.Errorf("noalert bypass rule bypassed %d flows, want 1", n)
	}
	if n := h.alerts(4); n != 0 {
		t.Errorf("noalert rule alerted %d times", n)
	}
}
