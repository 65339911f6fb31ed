package dns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/vigil-ids/vigil/internal/testpcap"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func serialize(t testing.TB, d *layers.DNS) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func query(t testing.TB) []byte {
	return serialize(t, &layers.DNS{
		ID: 0x1234, RD: true, OpCode: layers.DNSOpCodeQuery,
		Questions: []layers.DNSQuestion{
			{Name: []byte("www.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN},
			{Name: []byte("example.org"), Type: layers.DNSTypeAAAA, Class: layers.DNSClassIN},
		},
	})
}

func response(t testing.TB) []byte {
	return serialize(t, &layers.DNS{
		ID: 0x1234, QR: true, RD: true, RA: true, OpCode: layers.DNSOpCodeQuery,
		ResponseCode: layers.DNSResponseCodeNoErr,
		Questions: []layers.DNSQuestion{
			{Name: []byte("www.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN},
		},
		Answers: []layers.DNSResourceRecord{
			{Name: []byte("www.example.com"), Type: layers.DNSTypeCNAME, Class: layers.DNSClassIN, TTL: 300, CNAME: []byte("web.example.com")},
			{Name: []byte("web.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: net.IPv4(93, 184, 216, 34)},
			{Name: []byte("web.example.com"), Type: layers.DNSTypeAAAA, Class: layers.DNSClassIN, TTL: 60, IP: net.ParseIP("2001:db8::1")},
			{Name: []byte("example.com"), Type: layers.DNSTypeMX, Class: layers.DNSClassIN, TTL: 10, MX: layers.DNSMX{Preference: 5, Name: []byte("mail.example.com")}},
			{Name: []byte("example.com"), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN, TTL: 10, TXTs: [][]byte{[]byte("v=spf1 -all"), []byte("hello")}},
			{Name: []byte("_sip._tcp.example.com"), Type: layers.DNSTypeSRV, Class: layers.DNSClassIN, TTL: 10, SRV: layers.DNSSRV{Priority: 1, Weight: 2, Port: 5060, Name: []byte("sip.example.com")}},
			{Name: []byte("4.3.2.1.in-addr.arpa"), Type: layers.DNSTypePTR, Class: layers.DNSClassIN, TTL: 10, PTR: []byte("host.example.com")},
		},
		Authorities: []layers.DNSResourceRecord{
			{Name: []byte("example.com"), Type: layers.DNSTypeNS, Class: layers.DNSClassIN, TTL: 3600, NS: []byte("ns1.example.com")},
			{Name: []byte("example.com"), Type: layers.DNSTypeSOA, Class: layers.DNSClassIN, TTL: 3600, SOA: layers.DNSSOA{
				MName: []byte("ns1.example.com"), RName: []byte("hostmaster.example.com"), Serial: 2024010101, Refresh: 7200, Retry: 900, Expire: 1209600, Minimum: 300}},
		},
		Additionals: []layers.DNSResourceRecord{
			{Name: []byte(""), Type: layers.DNSTypeOPT, Class: 1232, TTL: 0},
		},
	})
}

func mustParse(t *testing.T, p *Parser, dir Direction, b []byte) *Message {
	t.Helper()
	m, err := p.ParseUDP(dir, b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

func TestQuery(t *testing.T) {
	p := NewParser(nil)
	m := mustParse(t, p, ToServer, query(t))
	if m.ID != 0x1234 || m.Response() || m.Opcode() != 0 || m.Flags != FlagRD || m.Events != 0 {
		t.Fatalf("header: id %x flags %x events %b", m.ID, m.Flags, m.Events)
	}
	if len(m.Questions) != 2 {
		t.Fatalf("questions %d", len(m.Questions))
	}
	want := []struct {
		name string
		typ  uint16
	}{{"www.example.com", TypeA}, {"example.org", TypeAAAA}}
	for i, w := range want {
		q := m.Questions[i]
		if string(q.Name) != w.name || q.Type != w.typ || q.Class != 1 {
			t.Errorf("question %d: %q %d %d", i, q.Name, q.Type, q.Class)
		}
	}
	// The same message to the client is "not a response".
	m = mustParse(t, p, ToClient, query(t))
	if !m.Events.Has(EventNotResponse) || m.Events.Has(EventNotRequest) {
		t.Errorf("events %b", m.Events)
	}
}

func TestResponse(t *testing.T) {
	p := NewParser(nil)
	m := mustParse(t, p, ToClient, response(t))
	if !m.Response() || m.Rcode() != 0 || m.Events != 0 {
		t.Fatalf("flags %x events %b", m.Flags, m.Events)
	}
	var got []string
	for _, r := range m.Answers {
		line := fmt.Sprintf("%s %s %d", r.Name, AppendRRType(nil, r.Type), r.TTL)
		if s, ok := AppendRData(nil, &r); ok {
			line += " " + string(s)
		}
		switch r.Type {
		case TypeMX:
			line += fmt.Sprintf(" pref=%d", r.Pref)
		case TypeSRV:
			line += fmt.Sprintf(" srv=%d/%d/%d/%s", r.Pref, r.Weight, r.Port, r.Target)
		}
		got = append(got, line)
	}
	want := []string{
		"www.example.com CNAME 300 web.example.com",
		"web.example.com A 60 93.184.216.34",
		"web.example.com AAAA 60 2001:0db8:0000:0000:0000:0000:0000:0001",
		"example.com MX 10 mail.example.com pref=5",
		"example.com TXT 10 v=spf1 -all",
		"example.com TXT 10 hello",
		"_sip._tcp.example.com SRV 10 srv=1/2/5060/sip.example.com",
		"4.3.2.1.in-addr.arpa PTR 10 host.example.com",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("answers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(m.Authorities) != 2 {
		t.Fatalf("authorities %d", len(m.Authorities))
	}
	ns, soa := m.Authorities[0], m.Authorities[1]
	if ns.Type != TypeNS || string(ns.Target) != "ns1.example.com" {
		t.Errorf("NS %q", ns.Target)
	}
	if soa.Type != TypeSOA || string(soa.Target) != "ns1.example.com" || string(soa.RName) != "hostmaster.example.com" ||
		soa.Serial != 2024010101 || soa.Refresh != 7200 || soa.Retry != 900 || soa.Expire != 1209600 || soa.Minimum != 300 {
		t.Errorf("SOA %+v", soa)
	}
	if len(m.Additionals) != 1 || m.Additionals[0].Type != TypeOPT || m.Additionals[0].Class != 1232 || len(m.Additionals[0].Name) != 0 {
		t.Errorf("additionals %+v", m.Additionals)
	}
	if s := string(AppendFlags(nil, m.Flags)); s != "8180" {
		t.Errorf("flags %s", s)
	}
	if s := string(AppendRcode(nil, 3)); s != "NXDOMAIN" {
		t.Errorf("rcode %s", s)
	}
	// A response sent to the server is "not a request".
	m = mustParse(t, p, ToServer, response(t))
	if !m.Events.Has(EventNotRequest) {
		t.Errorf("events %b", m.Events)
	}
}

// msg builds a message from a header and raw body bytes.
func msg(id, flags, qd, an, ns, ar uint16, body ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	for _, v := range []uint16{flags, qd, an, ns, ar} {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	for _, x := range body {
		b = append(b, x...)
	}
	return b
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

var (
	qtail  = []byte{0, 1, 0, 1}                    // type A, class IN
	rrHead = []byte{0, 1, 0, 1, 0, 0, 0, 60, 0, 4} // A IN ttl 60 rdlen 4
)

func TestCompression(t *testing.T) {
	// question www.example.com at 12; answer name = pointer to 16
	// ("example.com"), CNAME rdata = "cdn" + pointer to 12.
	q := []byte("\x03www\x07example\x03com\x00")
	ans := append([]byte{0xc0, 16}, 0, 5, 0, 1, 0, 0, 0, 1, 0, 6)
	ans = append(ans, "\x03cdn\xc0\x0c"...)
	b := msg(1, 0x8180, 1, 1, 0, 0, q, qtail, ans)
	p := NewParser(nil)
	m := mustParse(t, p, ToClient, b)
	if string(m.Questions[0].Name) != "www.example.com" {
		t.Errorf("question %q", m.Questions[0].Name)
	}
	a := m.Answers[0]
	if string(a.Name) != "example.com" || string(a.Target) != "cdn.www.example.com" {
		t.Errorf("answer %q -> %q", a.Name, a.Target)
	}
}

func TestMalformed(t *testing.T) {
	q := []byte("\x03www\x07example\x03com\x00")
	labels := bytes.Repeat([]byte("\x01a"), 300)
	long := bytes.Repeat(append([]byte{63}, bytes.Repeat([]byte("x"), 63)...), 17)
	cases := []struct {
		name   string
		dir    Direction
		b      []byte
		events []Event
		err    bool
	}{
		{"short header", ToServer, []byte{1, 2, 3}, []Event{EventMalformedData}, true},
		{"question cut", ToServer, msg(1, 0, 1, 0, 0, 0, q[:6]), []Event{EventMalformedData}, true},
		{"question type cut", ToServer, msg(1, 0, 1, 0, 0, 0, q, []byte{0}), []Event{EventMalformedData}, true},
		{"qdcount too high", ToServer, msg(1, 0, 2, 0, 0, 0, q, qtail), []Event{EventMalformedData}, true},
		{"z flag", ToServer, msg(1, FlagZ, 1, 0, 0, 0, q, qtail), []Event{EventZFlagSet}, false},
		{"invalid opcode", ToServer, msg(1, 3<<11, 1, 0, 0, 0, q, qtail), []Event{EventInvalidOpcode}, false},
		{"opcode 15", ToServer, msg(1, 15<<11, 1, 0, 0, 0, q, qtail), []Event{EventInvalidOpcode}, false},
		{"reserved label type", ToServer, msg(1, 0, 1, 0, 0, 0, []byte{0x40, 0}, qtail), []Event{EventMalformedData}, true},
		{"pointer beyond", ToServer, msg(1, 0, 1, 0, 0, 0, []byte{0xc0, 0xff}, qtail), []Event{EventMalformedData}, true},
		{"pointer to itself", ToServer, msg(1, 0, 1, 0, 0, 0, []byte{0xc0, 12}, qtail), []Event{EventInfiniteLoop, EventMalformedData}, true},
		// question at 12: "a" then pointer to 16; at 16: pointer to 12 -> loop after following one pointer: the
		// name ends where the first pointer did, as in Suricata.
		{"pointer loop", ToServer, msg(1, 0, 1, 0, 0, 0, []byte{1, 'a', 0xc0, 16, 0xc0, 12}, qtail), []Event{EventInfiniteLoop}, false},
		{"too many labels", ToServer, msg(1, 0, 1, 0, 0, 0, labels, []byte{0}, qtail), []Event{EventTooManyLabels, EventMalformedData}, true},
		{"name too long", ToServer, msg(1, 0, 1, 0, 0, 0, long, []byte{0}, qtail), []Event{EventNameTooLong}, false},
		{"rdlength past end", ToClient, msg(1, 0x8000, 1, 1, 0, 0, q, qtail, []byte{0xc0, 12}, rrHead, []byte{1, 2}), []Event{EventMalformedData}, true},
		{"bad authority", ToClient, msg(1, 0x8000, 1, 0, 1, 0, q, qtail, []byte{0xc0, 12, 0, 1}), []Event{EventInvalidAuthorities}, true},
		{"bad additional", ToClient, msg(1, 0x8000, 1, 0, 0, 1, q, qtail, []byte{0xc0}), []Event{EventInvalidAdditionals}, true},
		{"mx short", ToClient, msg(1, 0x8000, 0, 1, 0, 0, []byte{0, 0, 15, 0, 1, 0, 0, 0, 1, 0, 2, 0, 1}), []Event{EventMalformedData}, true},
		{"txt overrun", ToClient, msg(1, 0x8000, 0, 1, 0, 0, []byte{0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 5, 'a'}), []Event{EventMalformedData}, true},
		{"soa short", ToClient, msg(1, 0x8000, 0, 1, 0, 0, []byte{0, 0, 6, 0, 1, 0, 0, 0, 1, 0, 4, 0, 0, 0, 1}), []Event{EventMalformedData}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewParser(nil)
			m, err := p.ParseUDP(c.dir, c.b)
			if (err != nil) != c.err {
				t.Fatalf("err = %v, want error %v", err, c.err)
			}
			var pe *ParseError
			if err != nil && (!errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "dns: ")) {
				t.Errorf("error %T %v", err, err)
			}
			var want Events
			for _, e := range c.events {
				want.add(e)
			}
			if m.Events != want {
				t.Errorf("events %s, want %s (err %v)", eventList(m.Events), eventList(want), err)
			}
		})
	}
}

func TestNameTooLongTruncates(t *testing.T) {
	long := bytes.Repeat(append([]byte{63}, bytes.Repeat([]byte("x"), 63)...), 17)
	p := NewParser(nil)
	m, err := p.ParseUDP(ToServer, msg(1, 0, 1, 0, 0, 0, long, []byte{0}, qtail))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Questions) != 1 || len(m.Questions[0].Name) != MaxNameLen || m.Questions[0].Type != 1 {
		t.Fatalf("name len %d", len(m.Questions[0].Name))
	}
}

func eventList(s Events) string {
	var out []string
	for e := Event(0); e < numEvents; e++ {
		if s.Has(e) {
			out = append(out, e.String())
		}
	}
	return strings.Join(out, ",")
}

func TestEventNames(t *testing.T) {
	for e := Event(0); e < numEvents; e++ {
		got, ok := EventByName(e.String())
		if !ok || got != e {
			t.Errorf("%v", e)
		}
	}
	if _, ok := EventByName("z_flag_set"); !ok {
		t.Error("short name")
	}
}

func TestEVEString(t *testing.T) {
	if s := string(AppendEVEString(nil, []byte("a.b"))); s != "a.b" {
		t.Error(s)
	}
	if s := string(AppendEVEString(nil, []byte{0xf0, 0xf1, 'a'})); s != `\xf0\xf1a` {
		t.Error(s)
	}
	if s := string(AppendEVEString(nil, []byte("é"))); s != "é" {
		t.Error(s)
	}
}

// recorder collects TCP messages as strings.
type recorder struct{ got []string }

func (r *recorder) DNSMessage(dir Direction, m *Message, err error) {
	var b strings.Builder
	fmt.Fprintf(&b, "dir=%d id=%x flags=%x ev=%b err=%v", dir, m.ID, m.Flags, m.Events, err != nil)
	for _, q := range m.Questions {
		fmt.Fprintf(&b, " q=%s/%d", q.Name, q.Type)
	}
	for _, a := range m.Answers {
		rd, _ := AppendRData(nil, &a)
		fmt.Fprintf(&b, " a=%s/%d/%s", a.Name, a.Type, rd)
	}
	r.got = append(r.got, b.String())
}

func framed(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

func TestTCPSplitEveryByte(t *testing.T) {
	stream := framed(response(t), response(t)[:5], response(t))
	ref := &recorder{}
	NewParser(ref).Feed(ToClient, stream)
	if len(ref.got) != 3 {
		t.Fatalf("%d messages", len(ref.got))
	}
	for i := 0; i <= len(stream); i++ {
		for _, j := range []int{i, i + 1, i + 7, len(stream)} {
			if j < i || j > len(stream) {
				continue
			}
			r := &recorder{}
			p := NewParser(r)
			for _, chunk := range [][]byte{stream[:i], stream[i:j], stream[j:]} {
				if n := p.Feed(ToClient, chunk); n != len(chunk) {
					t.Fatalf("consumed %d of %d", n, len(chunk))
				}
			}
			if strings.Join(r.got, "\n") != strings.Join(ref.got, "\n") {
				t.Fatalf("split %d/%d:\n%s\nwant\n%s", i, j, strings.Join(r.got, "\n"), strings.Join(ref.got, "\n"))
			}
			if p.Pending(ToClient) != 0 {
				t.Fatalf("pending %d", p.Pending(ToClient))
			}
		}
	}
	// One byte at a time, and the other direction is independent.
	r := &recorder{}
	p := NewParser(r)
	q := framed(query(t))
	for k := range stream {
		p.Feed(ToClient, stream[k:k+1])
		if k < len(q) {
			p.Feed(ToServer, q[k:k+1])
		}
	}
	if len(r.got) != 4 || !strings.HasPrefix(r.got[0], "dir=0") {
		t.Fatalf("byte at a time: %q", r.got)
	}
}

func TestSharedPcaps(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/pcaps/*.pcap*")
	if len(files) == 0 {
		t.Skip("no shared pcaps")
	}
	total := 0
	for _, f := range files {
		pkts := testpcap.L4Packets(t, f)
		p := NewParser(nil)
		n, queries := 0, 0
		for _, k := range pkts {
			if k.Proto != 17 || (k.SPort != 53 && k.DPort != 53) || len(k.Payload) == 0 {
				continue
			}
			dir := ToServer
			if k.SPort == 53 {
				dir = ToClient
			}
			m, err := p.ParseUDP(dir, k.Payload)
			if err != nil {
				t.Errorf("%s: message %d: %v", filepath.Base(f), n, err)
			}
			if m.Events&^(1<<EventZFlagSet) != 0 {
				t.Errorf("%s: message %d: events %s", filepath.Base(f), n, eventList(m.Events))
			}
			n++
			queries += len(m.Questions)
		}
		t.Logf("%s: %d DNS messages, %d questions", filepath.Base(f), n, queries)
		total += n
	}
	if total == 0 {
		t.Error("no DNS messages in the shared pcaps")
	}
}

func TestNoAllocs(t *testing.T) {
	p := NewParser(&recorderNop{})
	resp := response(t)
	q := query(t)
	stream := framed(resp, q)
	run := func() {
		p.ParseUDP(ToClient, resp)
		p.ParseUDP(ToServer, q)
		p.Feed(ToClient, stream[:7])
		p.Feed(ToClient, stream[7:])
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("%v allocs per run", n)
	}
}

type recorderNop struct{ n int }

func (r *recorderNop) DNSMessage(Direction, *Message, error) { r.n++ }

func BenchmarkParseResponse(b *testing.B) {
	p := NewParser(nil)
	resp := response(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(resp)))
	for b.Loop() {
		if _, err := p.ParseUDP(ToClient, resp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFeedTCP(b *testing.B) {
	p := NewParser(&recorderNop{})
	stream := framed(response(b), query(b))
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		p.Feed(ToClient, stream[:9])
		p.Feed(ToClient, stream[9:])
	}
}

// worstCase builds a 64 KiB message whose questions all point into a
// chain of 310 compression pointers hidden in the label bytes of the first
// question (pointers reach only the first 16 KiB): every question name
// walks to the label limit.
func worstCase() []byte {
	const labels = 10
	var q0 []byte
	slot := func(j, m int) int { return HeaderLen + 64*j + 1 + 2*m }
	for j := 0; j < labels; j++ {
		q0 = append(q0, 63)
		for m := 0; m < 31; m++ {
			next := slot(j, m+1)
			if m == 30 {
				next = slot(j+1, 0)
			}
			if j == labels-1 && m == 30 {
				next = HeaderLen + 64*labels // the root byte ending q0
			}
			q0 = append(q0, 0xc0|byte(next>>8), byte(next))
		}
		q0 = append(q0, 'x')
	}
	q0 = append(q0, 0, 0, 1, 0, 1)
	body := q0
	n := 1
	for HeaderLen+len(body)+6 <= 65535 {
		body = append(body, 0xc0|byte(slot(0, 0)>>8), byte(slot(0, 0)), 0, 1, 0, 1)
		n++
	}
	return msg(1, 0, uint16(n), 0, 0, 0, body)
}

func TestWorstCase(t *testing.T) {
	p := NewParser(nil)
	m, _ := p.ParseUDP(ToServer, worstCase())
	// The budget stops the decoding long before the ~10900 questions.
	if !m.Events.Has(EventTooManyLabels) || !m.Events.Has(EventMalformedData) || len(m.Questions) > 65535*StepsPerByte/255+20 {
		t.Fatalf("events %s, %d questions", eventList(m.Events), len(m.Questions))
	}
}

func BenchmarkWorstCase(b *testing.B) {
	p := NewParser(nil)
	w := worstCase()
	b.ReportAllocs()
	b.SetBytes(int64(len(w)))
	for b.Loop() {
		p.ParseUDP(ToServer, w)
	}
}
