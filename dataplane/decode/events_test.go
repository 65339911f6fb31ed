package decode

import (
	"os"
	"regexp"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

func TestEventNames(t *testing.T) {
	seen := map[string]bool{}
	for id := EvNone + 1; id < NumDecoderEvents; id++ {
		n := EventName(id)
		if n == "" || seen[n] {
			t.Fatalf("event %d: name %q empty or duplicate", id, n)
		}
		seen[n] = true
		if got, ok := EventByName(n); !ok || got != id {
			t.Fatalf("EventByName(%q) = %d, %v; want %d", n, got, ok, id)
		}
	}
	if EventName(EvIPv4TruncPkt) != "ipv4.trunc_pkt" || EventName(EvTCPOptInvalidLen) != "tcp.opt_invalid_len" ||
		EventName(EvIPv6ExtHdrDuplFH) != "ipv6.exthdr_dupl_fh" {
		t.Fatal("names do not match Suricata's")
	}
	if _, ok := EventByName("ipv4.no_such_event"); ok {
		t.Fatal("unknown name resolved")
	}
	if EventName(EvNone) != "" || EventName(999) != "" {
		t.Fatal("unused ids have names")
	}
}

// Every decode-event name of Suricata's decoder-events.rules is defined.
func TestEventsCoverSuricataRules(t *testing.T) {
	const path = "/work/shared/rules/suricata-events/decoder-events.rules"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("rules not available: %v", err)
	}
	ms := regexp.MustCompile(`decode-event:\s*([a-z0-9_.]+)\s*;`).FindAllSubmatch(b, -1)
	if len(ms) < 100 {
		t.Fatalf("only %d decode-event keywords in %s", len(ms), path)
	}
	for _, m := range ms {
		if _, ok := EventByName(string(m[1])); !ok {
			t.Errorf("decode-event:%s is not defined", m[1])
		}
	}
}

func TestRegisterEvents(t *testing.T) {
	if err := RegisterEvents(10, "x.y"); err == nil {
		t.Fatal("registration in the decoder range accepted")
	}
	const base packet.EventID = 5000
	if err := RegisterEvents(base, "test.one", "test.two"); err != nil {
		t.Fatal(err)
	}
	if EventName(base+1) != "test.two" {
		t.Fatalf("EventName = %q", EventName(base+1))
	}
	if id, ok := EventByName("test.one"); !ok || id != base {
		t.Fatalf("EventByName = %d %v", id, ok)
	}
	if err := RegisterEvents(base+1, "test.three"); err == nil {
		t.Fatal("id registered twice")
	}
	if err := RegisterEvents(base+10, "ipv4.trunc_pkt"); err == nil {
		t.Fatal("decoder name registered again")
	}
}
