package engine

import "testing"

// Rules are sorted into Suricata's rule types by their keywords.
func TestPayloadModeOf(t *testing.T) {
	cases := []struct {
		rule string
		want payloadMode
	}{
		{`alert tcp any any -> any any (content:"GET"; sid:1;)`, payloadStream},
		{`alert tcp any any -> any any (content:"GET"; depth:3; sid:1;)`, payloadPktStream},
		{`alert tcp-pkt any any -> any any (content:"GET"; sid:1;)`, payloadPkt},
		{`alert tcp-stream any any -> any any (content:"GET"; depth:3; sid:1;)`, payloadStream},
		{`alert tcp any any -> any any (dsize:>3; content:"GET"; sid:1;)`, payloadPkt},
		// A header keyword requires the packet: with plain content both
		// (tcp-fastopen-07: flags:S with data on the SYN), with anchored
		// content the packet only.
		{`alert tcp any any -> any any (flags:S; content:"GET"; sid:1;)`, payloadPktStream},
		{`alert tcp any any -> any any (ttl:64; content:"GET"; depth:3; sid:1;)`, payloadPkt},
		{`alert tcp any any -> any any (flow:only_stream; flags:S; content:"GET"; sid:1;)`, payloadStream},
	}
	for _, c := range cases {
		e := compile(t, c.rule)
		if got := e.Signatures()[0].payloadMode; got != c.want {
			t.Errorf("%s: mode %d, want %d", c.rule, got, c.want)
		}
	}
}
