package engine

import (
	"slices"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
)

// The rules of suricata-verify's dns/dns-rcode, plus the name form.
func TestDNSRcode(t *testing.T) {
	e := compile(t,
		`alert dns any any -> any any (dns.rcode:3; flow:to_client; sid:1; rev:1;)`,
		`alert dns any any -> any any (dns.rcode:!2; flow:to_client; sid:2; rev:1;)`,
		`alert dns any any -> any any (dns.rcode:3; flow:to_server; sid:3; rev:1;)`,
		`alert dns any any -> any any (dns.rcode:NXDOMAIN; sid:4;)`,
		`alert dns any any -> any any (dns.rcode:!servfail; sid:5;)`,
		`alert dns any any -> any any (dns.rcode:1-4; sid:6;)`,
	)
	dns := &flow.Flow{AppProto: flow.AppProtoDNS}
	s := &BufferSet{}
	s.SetField(FieldDNSRcode, 3)
	if got := appAlerts(t, e, appPkt("", true), dns, s); !slices.Equal(got, []uint32{1, 2, 4, 5, 6}) {
		t.Errorf("response rcode 3: got %v", got)
	}
	if got := appAlerts(t, e, appPkt("", false), dns, s); !slices.Equal(got, []uint32{3, 4, 5, 6}) {
		t.Errorf("request rcode 3: got %v", got)
	}
	s.SetField(FieldDNSRcode, 2)
	if got := appAlerts(t, e, appPkt("", true), dns, s); !slices.Equal(got, []uint32{6}) {
		t.Errorf("response rcode 2: got %v", got)
	}
	// No rcode known: no numeric match, negated included.
	if got := appAlerts(t, e, appPkt("", true), dns, &BufferSet{}); len(got) != 0 {
		t.Errorf("no rcode: got %v", got)
	}
	for _, bad := range []string{"", "!", "256", "bogus", "4-2"} {
		_, errs := Compile(parse(t, `alert dns any any -> any any (dns.rcode:`+bad+`; sid:9;)`), Config{})
		if len(errs) == 0 {
			t.Errorf("dns.rcode:%q: no error", bad)
		}
	}
}

// Every DNS keyword of Suricata 8 loads: the sticky buffers as
// multi-instance buffers, the numeric ones as fields.
func TestDNSKeywordsLoad(t *testing.T) {
	for _, kw := range []string{"dns.query", "dns_query", "dns.query.name", "dns.queries.rrname", "dns.answers.rrname",
		"dns.authorities.rrname", "dns.additionals.rrname", "dns.answer.name", "dns.response.rrname"} {
		id, ok := LookupBuffer(kw)
		if !ok {
			t.Errorf("%s: not a buffer", kw)
			continue
		}
		if !buffers[id].Multi || !buffers[id].Protos.Has(flow.AppProtoDNS) {
			t.Errorf("%s: multi %v protos %b", kw, buffers[id].Multi, buffers[id].Protos)
		}
	}
	compile(t,
		`alert dns any any -> any any (dns.query.name; content:"x"; sid:1;)`,
		`alert dns any any -> any any (dns.rrtype:AAAA; sid:2;)`,
		`alert dns any any -> any any (dns.opcode:!0; sid:3;)`,
	)
}
