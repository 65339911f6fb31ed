package output

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// A drop record carries the IP and TCP header fields, the reason and (drop
// alerts: yes) the alert of the rule that dropped the packet; UDP records
// carry udplen; the record allocates nothing once the buffer has grown.
func TestEVEDropRecord(t *testing.T) {
	var buf bytes.Buffer
	e := NewEVE(&buf, EVEConfig{Location: cet})
	p := tcp4Packet(t, []byte("hello"))
	p.Verdict, p.DropReason = packet.VerdictDrop, packet.DropReasonFlowDrop
	a := &AlertInfo{Action: ActionBlocked, GID: 1, SID: 3, Signature: "drop all", Severity: 3}
	if err := e.Drop(p, 7, a); err != nil {
		t.Fatal(err)
	}
	u := udp4Packet(t, []byte("x"))
	u.DropReason = packet.DropReasonRules
	if err := e.Drop(u, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal(lines[0], &rec); err != nil {
		t.Fatal(err)
	}
	d := rec["drop"].(map[string]any)
	want := map[string]any{"len": 45.0, "tos": 0.0, "ttl": 64.0, "tcpseq": 1.0, "tcpack": 1.0, "tcpwin": 512.0,
		"syn": false, "ack": true, "psh": true, "rst": false, "urg": false, "fin": false, "tcpres": 0.0,
		"tcpurgp": 0.0, "reason": "flow drop"}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("drop.%s = %v, want %v", k, d[k], v)
		}
	}
	if rec["event_type"] != "drop" || rec["flow_id"] != 7.0 {
		t.Errorf("header %v", rec)
	}
	if al := rec["alert"].(map[string]any); al["signature_id"] != 3.0 || al["action"] != "blocked" {
		t.Errorf("alert %v", al)
	}
	rec = nil
	if err := json.Unmarshal(lines[1], &rec); err != nil {
		t.Fatal(err)
	}
	if d := rec["drop"].(map[string]any); d["udplen"] != 9.0 || d["reason"] != "rules" || rec["alert"] != nil {
		t.Errorf("udp drop record %s", lines[1])
	}
	if n := testing.AllocsPerRun(100, func() { _ = e.Drop(p, 7, a); buf.Reset(); _ = e.Flush() }); n != 0 {
		t.Errorf("Drop allocates %.1f times", n)
	}
}
