package output

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/applayer/dns"
	"github.com/vigil-ids/vigil/dataplane/applayer/http"
	"github.com/vigil-ids/vigil/dataplane/applayer/tls"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

const (
	goldenTCPHeader = `{"timestamp":"2009-11-24T21:26:03.604227+0100","flow_id":77,"pcap_cnt":42,"event_type":"%s","src_ip":"5.6.6.7","src_port":1234,"dest_ip":"1.2.3.4","dest_port":80,"proto":"TCP","ip_v":4,"pkt_src":"wire/pcap"`
	goldenUDPHeader = `{"timestamp":"2009-11-24T21:26:03.604227+0100","flow_id":5,"pcap_cnt":7,"event_type":"dns","src_ip":"10.0.0.1","src_port":5353,"dest_ip":"10.0.0.2","dest_port":53,"proto":"UDP","ip_v":4,"pkt_src":"wire/pcap"`
)

// header is the common header of a record in the flow's orientation
// (clientFlow), pktHeader in tcp4Packet's own (server -> client).
func header(kind string) string { return strings.Replace(goldenTCPHeader, "%s", kind, 1) }

func pktHeader(kind string) string {
	return strings.Replace(header(kind), `"src_ip":"5.6.6.7","src_port":1234,"dest_ip":"1.2.3.4","dest_port":80`,
		`"src_ip":"1.2.3.4","src_port":80,"dest_ip":"5.6.6.7","dest_port":1234`, 1)
}

const (
	httpReq  = "GET /index.php?x=1 HTTP/1.1\r\nHost: WWW.Example.COM:8080\r\nUser-Agent: curl/8.0\r\nReferer: http://a/\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n"
	httpResp = "HTTP/1.1 302 Found\r\nContent-Type: text/html; charset=UTF-8\r\nLocation: /new\r\nContent-Range: bytes 0-4/100\r\nContent-Length: 5\r\n\r\nhello"

	goldenHTTPObject = `"http":{"hostname":"www.example.com","http_port":8080,"url":"/index.php?x=1","http_user_agent":"curl/8.0","xff":"10.0.0.9","http_content_type":"text/html","content_range":{"raw":"bytes 0-4/100","start":0,"end":4,"size":100},"http_refer":"http://a/","http_method":"GET","protocol":"HTTP/1.1","status":302,"redirect":"/new","length":5}`
)

// checkLine parses a record with encoding/json and compares its top-level
// keys with keys (when given).
func checkLine(t *testing.T, line string, keys []string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("record is not valid JSON: %v\n%s", err, line)
	}
	if keys != nil {
		if got := objectKeys(t, []byte(line)); !reflect.DeepEqual(got, keys) {
			t.Errorf("keys:\n got %v\nwant %v", got, keys)
		}
	}
	return m
}

func TestHTTPRecord(t *testing.T) {
	p := tcp4Packet(t, nil) // a server -> client packet: the record still shows the client as src
	tx := httpTx(t, httpReq, httpResp)
	got := record(t, EVEConfig{}, func(e *EVE) error { return e.HTTP(p, 77, &clientFlow, tx) })
	want := header("http") + `,"tx_id":0,` + goldenHTTPObject + `}`
	if got != want {
		t.Fatalf("http record:\n got %s\nwant %s", got, want)
	}
	checkLine(t, got, []string{"timestamp", "flow_id", "pcap_cnt", "event_type", "src_ip", "src_port",
		"dest_ip", "dest_port", "proto", "ip_v", "pkt_src", "tx_id", "http"})
	keys := objectKeys(t, subObject(t, []byte(got), "http"))
	wantKeys := []string{"hostname", "http_port", "url", "http_user_agent", "xff", "http_content_type",
		"content_range", "http_refer", "http_method", "protocol", "status", "redirect", "length"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("http keys %v, want %v", keys, wantKeys)
	}

	// Basic mode; headers dumped.
	got = record(t, EVEConfig{HTTPBasic: true, HTTPRequestHeaders: true, HTTPResponseHeaders: true},
		func(e *EVE) error { return e.HTTP(p, 77, &clientFlow, tx) })
	want = header("http") + `,"tx_id":0,"http":{"hostname":"www.example.com","http_port":8080,"url":"/index.php?x=1","http_user_agent":"curl/8.0","xff":"10.0.0.9","http_content_type":"text/html","content_range":{"raw":"bytes 0-4/100","start":0,"end":4,"size":100},` +
		`"request_headers":[{"name":"Host","value":"WWW.Example.COM:8080"},{"name":"User-Agent","value":"curl/8.0"},{"name":"Referer","value":"http://a/"},{"name":"X-Forwarded-For","value":"10.0.0.9"}],` +
		`"response_headers":[{"name":"Content-Type","value":"text/html; charset=UTF-8"},{"name":"Location","value":"/new"},{"name":"Content-Range","value":"bytes 0-4/100"},{"name":"Content-Length","value":"5"}]}}`
	if got != want {
		t.Fatalf("http basic record:\n got %s\nwant %s", got, want)
	}
	checkLine(t, got, nil)
}

// TestHTTPHostnameIPv6 follows suricata-verify's http-ipv6 test, which
// expects http.hostname "[::1]" for "Host: [::1]".
func TestHTTPHostnameIPv6(t *testing.T) {
	p := tcp4Packet(t, nil)
	tx := httpTx(t, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	got := record(t, EVEConfig{}, func(e *EVE) error { return e.HTTP(p, 77, &clientFlow, tx) })
	want := header("http") + `,"tx_id":0,"http":{"hostname":"[::1]","url":"/","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":0}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestHTTPEscapingAndOddValues(t *testing.T) {
	p := tcp4Packet(t, nil)
	// Invalid UTF-8 in the URI, quotes, backslashes and a tab in headers,
	// a status code with trailing garbage, no Host.
	tx := httpTx(t, "GET /a\xff\"b\\c HTTP/1.0\r\nUser-Agent: x\"y\\z\tw\xc3\xa9\r\n\r\n",
		"HTTP/1.0 404abc Nope\r\nLocation: /\x01\r\nContent-Length: 2\r\n\r\nno")
	got := record(t, EVEConfig{}, func(e *EVE) error { return e.HTTP(p, 77, nil, tx) })
	m := checkLine(t, got, nil)
	h := m["http"].(map[string]any)
	if h["url"] != `/a\xff"b\c` {
		t.Errorf("url %q", h["url"])
	}
	if h["http_user_agent"] != "x\"y\\z\twé" {
		t.Errorf("user agent %q", h["http_user_agent"])
	}
	if h["status"] != 404.0 || h["redirect"] != "/\x01" || h["length"] != 2.0 {
		t.Errorf("status/redirect/length: %v %q %v", h["status"], h["redirect"], h["length"])
	}
	if _, ok := h["hostname"]; ok {
		t.Errorf("hostname without a Host header: %v", h["hostname"])
	}
	// fi nil: the packet's own orientation.
	if m["src_ip"] != "1.2.3.4" || m["src_port"] != 80.0 {
		t.Errorf("fi nil should use the packet's endpoints: %v:%v", m["src_ip"], m["src_port"])
	}
	if !strings.Contains(got, `"url":"/a\\xff\"b\\c"`) {
		t.Errorf("raw escaping of url wrong: %s", got)
	}
}

func TestStatusValue(t *testing.T) {
	for in, want := range map[string]uint32{"200": 200, " 301": 301, "+204x": 204, "abc": 0, "": 0,
		"99999999999999999999999": ^uint32(0), "4294967297": 1} {
		if got := statusValue([]byte(in)); got != want {
			t.Errorf("statusValue(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	type r struct {
		s, e, z int64
		ok      bool
	}
	for in, want := range map[string]r{
		"bytes 0-4/100":                  {0, 4, 100, true},
		"bytes 10-20/*":                  {10, 20, -1, true},
		"bytes */100":                    {-1, -1, 100, true},
		"  bytes  5-5/6 ":                {5, 5, 6, true},
		"bytes */*":                      {0, 0, 0, false},
		"bytes 5-4/10":                   {0, 0, 0, false},
		"bits 0-4/100":                   {0, 0, 0, false},
		"bytes0-4/100":                   {0, 0, 0, false},
		"bytes 0-4":                      {0, 0, 0, false},
		"bytes 0-4/10x":                  {0, 0, 0, false},
		"bytes -4/10":                    {0, 0, 0, false},
		"bytes 0-99999999999999999999/1": {0, 0, 0, false},
	} {
		s, e, z, ok := parseContentRange([]byte(in))
		if (r{s, e, z, ok}) != want {
			t.Errorf("parseContentRange(%q) = %d %d %d %v, want %+v", in, s, e, z, ok, want)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-4/100", "bytes */100", "bytes 1-2/*", "bytes 9223372036854775807-9223372036854775807/1", "", "bytes"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		s, e, z, ok := parseContentRange(v)
		if ok && (s < -1 || e < -1 || z < -1 || (s >= 0 && e < s)) {
			t.Fatalf("%q: %d %d %d", v, s, e, z)
		}
	})
}

func TestHTTPHeaderCut(t *testing.T) {
	long := strings.Repeat("v", 3000)
	tx := httpTx(t, "GET / HTTP/1.1\r\nHost: h\r\nX-Long: "+long+"\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n")
	got := record(t, EVEConfig{HTTPRequestHeaders: true}, func(e *EVE) error { return e.HTTP(tcp4Packet(t, nil), 1, nil, tx) })
	var m struct {
		HTTP struct {
			Req []struct{ Name, Value string } `json:"request_headers"`
			Res []any                          `json:"response_headers"`
		} `json:"http"`
	}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.HTTP.Req) != 2 || len(m.HTTP.Req[1].Value) != maxHeaderValue {
		t.Fatalf("request headers %+v", m.HTTP.Req)
	}
	if m.HTTP.Res != nil {
		t.Errorf("response_headers written though not configured")
	}
	if c := cutHeader([]byte("ab\x00cd"), 10); string(c) != "ab" {
		t.Errorf("cutHeader at NUL: %q", c)
	}
}

func dnsResponse(t testing.TB) *dns.Message {
	return dnsMessage(t, &layers.DNS{ID: 0x1234, QR: true, RD: true, RA: true,
		Questions: []layers.DNSQuestion{{Name: []byte("www.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
		Answers: []layers.DNSResourceRecord{
			{Name: []byte("www.example.com"), Type: layers.DNSTypeCNAME, Class: layers.DNSClassIN, TTL: 300, CNAME: []byte("web.example.com")},
			{Name: []byte("web.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: net.IP{93, 184, 216, 34}},
			{Name: []byte("web.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: net.IP{93, 184, 216, 35}},
		},
		Authorities: []layers.DNSResourceRecord{{Name: []byte("example.com"), Type: layers.DNSTypeSOA, Class: layers.DNSClassIN, TTL: 3600,
			SOA: layers.DNSSOA{MName: []byte("ns.example.com"), RName: []byte("admin.example.com"), Serial: 1, Refresh: 2, Retry: 3, Expire: 4, Minimum: 5}}},
	})
}

const goldenDNSResponse = `"dns":{"version":3,"type":"response","tx_id":3,"id":4660,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"www.example.com","rrtype":"A"}],"answers":[{"rrname":"www.example.com","rrtype":"CNAME","ttl":300,"rdata":"web.example.com"},{"rrname":"web.example.com","rrtype":"A","ttl":60,"rdata":"93.184.216.34"},{"rrname":"web.example.com","rrtype":"A","ttl":60,"rdata":"93.184.216.35"}],"grouped":{"CNAME":["web.example.com"],"A":["93.184.216.34","93.184.216.35"]},"authorities":[{"rrname":"example.com","rrtype":"SOA","ttl":3600,"soa":{"mname":"ns.example.com","rname":"admin.example.com","serial":1,"refresh":2,"retry":3,"expire":4,"minimum":5}}]}`

func TestDNSRecord(t *testing.T) {
	u := udp4Packet(t, nil)
	m := dnsResponse(t)
	got := record(t, EVEConfig{}, func(e *EVE) error { return e.DNS(u, 5, nil, m, 3) })
	want := goldenUDPHeader + "," + goldenDNSResponse + "}"
	if got != want {
		t.Fatalf("dns response:\n got %s\nwant %s", got, want)
	}
	checkLine(t, got, []string{"timestamp", "flow_id", "pcap_cnt", "event_type", "src_ip", "src_port",
		"dest_ip", "dest_port", "proto", "ip_v", "pkt_src", "dns"})

	// Only one format at a time.
	got = record(t, EVEConfig{DNSFormats: DNSDetailed}, func(e *EVE) error { return e.DNS(u, 5, nil, m, 3) })
	if !strings.Contains(got, `"answers":[`) || strings.Contains(got, `"grouped"`) {
		t.Errorf("detailed only: %s", got)
	}
	got = record(t, EVEConfig{DNSFormats: DNSGrouped}, func(e *EVE) error { return e.DNS(u, 5, nil, m, 3) })
	if strings.Contains(got, `"answers"`) || !strings.Contains(got, `"grouped":{`) {
		t.Errorf("grouped only: %s", got)
	}
	if got = record(t, EVEConfig{DNSNoResponses: true}, func(e *EVE) error { return e.DNS(u, 5, nil, m, 3) }); got != "" {
		t.Errorf("responses off, still written: %s", got)
	}

	// A request, written in the flow's orientation (client is src) even
	// when the packet runs the other way.
	q := dnsMessage(t, &layers.DNS{ID: 7, RD: true,
		Questions: []layers.DNSQuestion{{Name: []byte("example.org"), Type: layers.DNSTypeAAAA, Class: layers.DNSClassIN}}})
	fi := FlowInfo{SrcIP: u.DstIP, DstIP: u.SrcIP, SrcPort: 40000, DstPort: 53, Proto: packet.ProtoUDP}
	got = record(t, EVEConfig{}, func(e *EVE) error { return e.DNS(u, 5, &fi, q, 0) })
	want = `{"timestamp":"2009-11-24T21:26:03.604227+0100","flow_id":5,"pcap_cnt":7,"event_type":"dns","src_ip":"10.0.0.2","src_port":40000,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","ip_v":4,"pkt_src":"wire/pcap","dns":{"version":3,"type":"request","tx_id":0,"id":7,"flags":"100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"example.org","rrtype":"AAAA"}]}}`
	if got != want {
		t.Fatalf("dns request:\n got %s\nwant %s", got, want)
	}
	if got = record(t, EVEConfig{DNSNoRequests: true}, func(e *EVE) error { return e.DNS(u, 5, &fi, q, 0) }); got != "" {
		t.Errorf("requests off, still written: %s", got)
	}
}

// dnsWire builds a message by hand: header, then sections as given.
func dnsWire(id, flags, qd, an, ns, ar uint16, body ...[]byte) []byte {
	b := append(u16b(id), u16b(flags)...)
	for _, v := range []uint16{qd, an, ns, ar} {
		b = append(b, u16b(v)...)
	}
	for _, x := range body {
		b = append(b, x...)
	}
	return b
}

func dnsName(labels ...string) []byte {
	var b []byte
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func rr(name []byte, typ uint16, ttl uint32, rdata []byte) []byte {
	b := append([]byte(nil), name...)
	b = append(b, u16b(typ)...)
	b = append(b, 0, 1)
	b = append(b, byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl))
	b = append(b, u16b(uint16(len(rdata)))...)
	return append(b, rdata...)
}

func TestDNSRecordTypesAndEscaping(t *testing.T) {
	u := udp4Packet(t, nil)
	qname := dnsName("b\xffd", "ex\"am")
	txt := []byte("\x05hi\"\\\x01\x03\xfe\xfe\xfe") // two strings, the second not UTF-8
	srv := append(append(u16b(10), u16b(20)...), append(u16b(5060), dnsName("sip", "ex")...)...)
	sshfp := []byte{1, 2, 0xab, 0xcd}
	opt := append(append(u16b(10), u16b(2)...), 0xbe, 0xef) // cookie-ish option
	wire := dnsWire(9, 0x8583, 1, 5, 0, 2,
		qname, u16b(16), u16b(1),
		rr(qname, 16, 1, txt),
		rr(qname, 33, 2, srv),
		rr(qname, 44, 3, sshfp),
		rr(qname, 28, 4, []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
		rr(qname, 99, 5, []byte("raw")), // SPF: no rdata logged
		rr([]byte{0}, 41, 0, nil),       // OPT without options: left out
		rr([]byte{0}, 41, 0x8000, opt),  // OPT with one option
	)
	m := rawDNS(t, dns.ToClient, wire)
	got := record(t, EVEConfig{}, func(e *EVE) error { return e.DNS(u, 5, nil, m, 1) })
	want := goldenUDPHeader + `,"dns":{"version":3,"type":"response","tx_id":1,"id":9,"flags":"8583","qr":true,"aa":true,"rd":true,"ra":true,"opcode":0,"rcode":"NXDOMAIN",` +
		`"queries":[{"rrname":"b\\xffd.ex\"am","rrtype":"TXT"}],` +
		`"answers":[{"rrname":"b\\xffd.ex\"am","rrtype":"TXT","ttl":1,"rdata":"hi\"\\\u0001"},{"rrname":"b\\xffd.ex\"am","rrtype":"TXT","ttl":1,"rdata":"\\xfe\\xfe\\xfe"},` +
		`{"rrname":"b\\xffd.ex\"am","rrtype":"SRV","ttl":2,"srv":{"priority":10,"weight":20,"port":5060,"name":"sip.ex"}},` +
		`{"rrname":"b\\xffd.ex\"am","rrtype":"SSHFP","ttl":3,"sshfp":{"fingerprint":"ab:cd","algo":1,"type":2}},` +
		`{"rrname":"b\\xffd.ex\"am","rrtype":"AAAA","ttl":4,"rdata":"2001:0db8:0000:0000:0000:0000:0000:0001"},` +
		`{"rrname":"b\\xffd.ex\"am","rrtype":"SPF","ttl":5}],` +
		`"grouped":{"TXT":["hi\"\\\u0001","\\xfe\\xfe\\xfe"],"SRV":[{"priority":10,"weight":20,"port":5060,"name":"sip.ex"}],"SSHFP":[{"fingerprint":"ab:cd","algo":1,"type":2}],"AAAA":["2001:0db8:0000:0000:0000:0000:0000:0001"]},` +
		`"additionals":[{"rrname":"","rrtype":"OPT","ttl":32768,"opt":[{"code":10,"data":"beef"}]}]}}`
	if got != want {
		t.Fatalf("dns types:\n got %s\nwant %s", got, want)
	}
	checkLine(t, got, nil)

	// No questions: Suricata logs nothing.
	m = rawDNS(t, dns.ToClient, dnsWire(1, 0x8180, 0, 0, 0, 0))
	if got = record(t, EVEConfig{}, func(e *EVE) error { return e.DNS(u, 5, nil, m, 0) }); got != "" {
		t.Errorf("message without questions written: %s", got)
	}
}

const goldenTLS12 = `"tls":{"subject":"C=US, O=Vigil Test, CN=test.example","issuerdn":"C=US, O=Vigil Test, CN=test.example","serial":"00:80:A1:B2:C3:D4:E5:F6:07:18","fingerprint":"4a:cb:83:f0:ac:d4:14:84:62:9c:1f:56:bb:25:19:64:e7:a2:48:62","sni":"test.example","version":"TLS 1.2","notbefore":"2024-01-02T03:04:05","notafter":"2034-01-02T03:04:05"}`

func TestTLSRecord(t *testing.T) {
	p := tcp4Packet(t, nil)
	t12, t13 := tlsParsers(t)
	got := record(t, EVEConfig{}, func(e *EVE) error { return e.TLS(p, 77, &clientFlow, t12) })
	want := header("tls") + "," + goldenTLS12 + "}"
	if got != want {
		t.Fatalf("tls 1.2:\n got %s\nwant %s", got, want)
	}
	checkLine(t, got, []string{"timestamp", "flow_id", "pcap_cnt", "event_type", "src_ip", "src_port",
		"dest_ip", "dest_port", "proto", "ip_v", "pkt_src", "tls"})

	// TLS 1.3 hides the certificate.
	got = record(t, EVEConfig{}, func(e *EVE) error { return e.TLS(p, 77, &clientFlow, t13) })
	if want = header("tls") + `,"tls":{"sni":"test.example","version":"TLS 1.3"}}`; got != want {
		t.Fatalf("tls 1.3:\n got %s\nwant %s", got, want)
	}

	// Fingerprints when the engine computes them, after notafter.
	got = record(t, EVEConfig{JA3: true, JA4: true}, func(e *EVE) error { return e.TLS(p, 77, &clientFlow, t12) })
	obj := subObject(t, []byte(got), "tls")
	keys := objectKeys(t, obj)
	wantKeys := []string{"subject", "issuerdn", "serial", "fingerprint", "sni", "version", "notbefore",
		"notafter", "ja3", "ja3s", "ja4"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("tls keys %v, want %v", keys, wantKeys)
	}
	var v struct {
		JA3  struct{ Hash, String string } `json:"ja3"`
		JA3S struct{ Hash, String string } `json:"ja3s"`
		JA4  string                        `json:"ja4"`
	}
	if err := json.Unmarshal(obj, &v); err != nil {
		t.Fatal(err)
	}
	if v.JA3.Hash != string(t12.ClientHello.JA3Hash[:]) || v.JA3.String != string(t12.ClientHello.JA3) ||
		v.JA3S.Hash != string(t12.ServerHello.JA3SHash[:]) || v.JA3S.String != string(t12.ServerHello.JA3S) ||
		v.JA4 != string(t12.ClientHello.JA4[:]) || len(v.JA4) != 36 {
		t.Errorf("fingerprints %+v", v)
	}

	// Basic.
	got = record(t, EVEConfig{TLSBasic: true}, func(e *EVE) error { return e.TLS(p, 77, &clientFlow, t12) })
	if want = header("tls") + `,"tls":{"subject":"C=US, O=Vigil Test, CN=test.example","issuerdn":"C=US, O=Vigil Test, CN=test.example"}}`; got != want {
		t.Fatalf("tls basic:\n got %s\nwant %s", got, want)
	}

	// Custom: certificate, chain and ALPNs; ja3 asked but not computed.
	var custom TLSField
	for _, n := range []string{"SNI", "certificate", "chain", "client_alpns", "server_alpns", "ja3"} {
		f, ok := ParseTLSField(n)
		if !ok {
			t.Fatalf("ParseTLSField(%q) failed", n)
		}
		custom |= f
	}
	if _, ok := ParseTLSField("nope"); ok {
		t.Error("ParseTLSField accepted an unknown name")
	}
	got = record(t, EVEConfig{TLSCustom: custom}, func(e *EVE) error { return e.TLS(p, 77, &clientFlow, t12) })
	var c struct {
		TLS map[string]json.RawMessage `json:"tls"`
	}
	if err := json.Unmarshal([]byte(got), &c); err != nil {
		t.Fatal(err)
	}
	keys = objectKeys(t, subObject(t, []byte(got), "tls"))
	if want := []string{"sni", "certificate", "chain", "client_alpns", "server_alpns"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("custom keys %v, want %v", keys, want)
	}
	if string(c.TLS["client_alpns"]) != `["h2","http/1.1"]` || string(c.TLS["server_alpns"]) != `["h2"]` {
		t.Errorf("alpns %s %s", c.TLS["client_alpns"], c.TLS["server_alpns"])
	}
	var cert string
	var chain []string
	json.Unmarshal(c.TLS["certificate"], &cert)
	json.Unmarshal(c.TLS["chain"], &chain)
	if len(chain) != 1 || cert != chain[0] || !strings.HasPrefix(cert, "MII") {
		t.Errorf("certificate %q chain %q", cert, chain)
	}
}

func TestTLSSessionResumed(t *testing.T) {
	p := tcp4Packet(t, nil)
	sid := bytes.Repeat([]byte{0xaa}, 32)
	tp := tls.NewParser(tls.Options{})
	tp.Feed(tls.ToServer, rawClientHello(sid, "resume.example"))
	tp.Feed(tls.ToClient, rawServerHello(sid))
	got := record(t, EVEConfig{}, func(e *EVE) error { return e.TLS(p, 77, &clientFlow, tp) })
	if want := header("tls") + `,"tls":{"session_resumed":true,"sni":"resume.example","version":"TLS 1.2"}}`; got != want {
		t.Fatalf("resumed:\n got %s\nwant %s", got, want)
	}
	// A new session id from the server: not resumed.
	tp = tls.NewParser(tls.Options{})
	tp.Feed(tls.ToServer, rawClientHello(sid, ""))
	tp.Feed(tls.ToClient, rawServerHello(bytes.Repeat([]byte{0xbb}, 32)))
	got = record(t, EVEConfig{}, func(e *EVE) error { return e.TLS(p, 77, &clientFlow, tp) })
	if want := header("tls") + `,"tls":{"version":"TLS 1.2"}}`; got != want {
		t.Fatalf("not resumed:\n got %s\nwant %s", got, want)
	}
}

func TestAnomalyRecords(t *testing.T) {
	p := tcp4Packet(t, nil)
	all := EVEConfig{AnomalyDecode: true, AnomalyStream: true}
	cases := []struct {
		name string
		cfg  EVEConfig
		a    AnomalyInfo
		want string // "" for nothing written
	}{
		{"decode", all, AnomalyInfo{Type: AnomalyDecode, Event: "decoder.ipv4.trunc_pkt"},
			pktHeader("anomaly") + `,"anomaly":{"type":"decode","event":"decoder.ipv4.trunc_pkt"}}`},
		{"stream", all, AnomalyInfo{Type: AnomalyStream, Event: "stream.reassembly_depth_reached"},
			pktHeader("anomaly") + `,"anomaly":{"type":"stream","event":"stream.reassembly_depth_reached"}}`},
		{"applayer-tx", EVEConfig{}, AnomalyInfo{Type: AnomalyAppLayer, Event: "request_field_too_long", Layer: LayerProtoParser,
			AppProto: "http", HasTx: true, TxID: 4},
			pktHeader("anomaly") + `,"tx_id":4,"anomaly":{"app_proto":"http","type":"applayer","event":"request_field_too_long","layer":"proto_parser"}}`},
		{"applayer-detect", EVEConfig{}, AnomalyInfo{Type: AnomalyAppLayer, Event: "applayer_mismatch_protocol_both_directions",
			Layer: LayerProtoDetect},
			pktHeader("anomaly") + `,"anomaly":{"app_proto":"unknown","type":"applayer","event":"applayer_mismatch_protocol_both_directions","layer":"proto_detect"}}`},
		{"unknown-code", all, AnomalyInfo{Type: AnomalyDecode, Code: 321},
			pktHeader("anomaly") + `,"anomaly":{"type":"unknown","code":321}}`},
		{"escaped-event", all, AnomalyInfo{Type: AnomalyStream, Event: "odd\"\xff"},
			pktHeader("anomaly") + `,"anomaly":{"type":"stream","event":"odd\"\\xff"}}`},
		{"decode-off-by-default", EVEConfig{}, AnomalyInfo{Type: AnomalyDecode, Event: "decoder.ipv4.trunc_pkt"}, ""},
		{"stream-off-by-default", EVEConfig{}, AnomalyInfo{Type: AnomalyStream, Event: "stream.pkt_invalid_ack"}, ""},
		{"applayer-off", EVEConfig{AnomalyNoAppLayer: true}, AnomalyInfo{Type: AnomalyAppLayer, Event: "x"}, ""},
	}
	for _, c := range cases {
		got := record(t, c.cfg, func(e *EVE) error { return e.Anomaly(p, 77, &c.a) })
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
			continue
		}
		if got != "" {
			checkLine(t, got, nil)
		}
	}
	e := NewEVE(io.Discard, EVEConfig{})
	if err := e.Anomaly(p, 1, &AnomalyInfo{Type: "bogus", Event: "x"}); err == nil {
		t.Error("bad anomaly type accepted")
	}
	if err := e.Anomaly(nil, 1, &AnomalyInfo{}); err == nil {
		t.Error("nil packet accepted")
	}
}

func TestAlertWithAppObjects(t *testing.T) {
	p := tcp4Packet(t, nil)
	base := AlertInfo{GID: 1, SID: 2, Rev: 3, Signature: "app", Category: "c", Severity: 2,
		HasTx: true, TxID: 3, Flow: &clientFlow}
	alertHead := pktHeader("alert") + `,"tx_id":3,"alert":{"action":"allowed","gid":1,"signature_id":2,"rev":3,"signature":"app","category":"c","severity":2}`
	flowObj := `"flow":{"pkts_toserver":0,"pkts_toclient":0,"bytes_toserver":0,"bytes_toclient":0,"start":"2009-11-24T21:26:03.604227+0100","src_ip":"5.6.6.7","dest_ip":"1.2.3.4","src_port":1234,"dest_port":80}`

	a := base
	a.AppProto = "http"
	a.HTTP = httpTx(t, httpReq, httpResp)
	// Basic http records: alerts still carry the extended fields.
	got := record(t, EVEConfig{HTTPBasic: true}, func(e *EVE) error { return e.Alert(p, 77, &a) })
	want := alertHead + "," + goldenHTTPObject + `,"app_proto":"http","direction":"to_client",` + flowObj + "}"
	if got != want {
		t.Fatalf("alert+http:\n got %s\nwant %s", got, want)
	}
	checkLine(t, got, []string{"timestamp", "flow_id", "pcap_cnt", "event_type", "src_ip", "src_port",
		"dest_ip", "dest_port", "proto", "ip_v", "pkt_src", "tx_id", "alert", "http", "app_proto", "direction", "flow"})

	a = base
	a.AppProto = "dns"
	a.DNS = dnsResponse(t)
	got = record(t, EVEConfig{}, func(e *EVE) error { return e.Alert(p, 77, &a) })
	want = alertHead + "," + goldenDNSResponse + `,"app_proto":"dns","direction":"to_client",` + flowObj + "}"
	if got != want {
		t.Fatalf("alert+dns:\n got %s\nwant %s", got, want)
	}

	t12, _ := tlsParsers(t)
	a = base
	a.AppProto = "tls"
	a.TLS = t12
	got = record(t, EVEConfig{TLSBasic: true}, func(e *EVE) error { return e.Alert(p, 77, &a) })
	want = alertHead + "," + goldenTLS12 + `,"app_proto":"tls","direction":"to_client",` + flowObj + "}"
	if got != want {
		t.Fatalf("alert+tls:\n got %s\nwant %s", got, want)
	}

	// Without a transaction or a flow, no app object.
	a.HasTx = false
	if got = record(t, EVEConfig{}, func(e *EVE) error { return e.Alert(p, 77, &a) }); strings.Contains(got, `"tls":{`) {
		t.Errorf("app object without HasTx: %s", got)
	}
	a.HasTx = true
	if got = record(t, EVEConfig{}, func(e *EVE) error { return e.Alert(p, 0, &a) }); strings.Contains(got, `"tls":{`) {
		t.Errorf("app object without a flow: %s", got)
	}
}

func TestAppRecordsErrors(t *testing.T) {
	p := tcp4Packet(t, nil)
	e := NewEVE(io.Discard, EVEConfig{})
	if e.HTTP(nil, 1, nil, &http.Tx{}) == nil || e.HTTP(p, 1, nil, nil) == nil {
		t.Error("HTTP accepted nil")
	}
	if e.DNS(p, 1, nil, nil, 0) == nil || e.TLS(p, 1, nil, nil) == nil {
		t.Error("DNS/TLS accepted nil")
	}
	e.Close()
	if e.HTTP(p, 1, nil, &http.Tx{}) != ErrClosed || e.DNS(p, 1, nil, &dns.Message{}, 0) != ErrClosed ||
		e.TLS(p, 1, nil, tls.NewParser(tls.Options{})) != ErrClosed || e.Anomaly(p, 1, &AnomalyInfo{}) != ErrClosed {
		t.Error("closed writer did not return ErrClosed")
	}
}

// TestAppRecordsDoNotAllocate proves that writing every new record type
// allocates nothing once the buffers are warm.
func TestAppRecordsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	p := tcp4Packet(t, nil)
	u := udp4Packet(t, nil)
	tx := httpTx(t, httpReq, httpResp)
	m := dnsResponse(t)
	t12, _ := tlsParsers(t)
	an := AnomalyInfo{Type: AnomalyAppLayer, Event: "request_field_too_long", Layer: LayerProtoParser, AppProto: "http", HasTx: true}
	alert := AlertInfo{GID: 1, SID: 2, Rev: 3, Signature: "s", HasTx: true, AppProto: "http", HTTP: tx, Flow: &clientFlow}
	e := NewEVE(io.Discard, EVEConfig{HTTPRequestHeaders: true, HTTPResponseHeaders: true, JA3: true, JA4: true,
		TLSCustom: 0, AnomalyDecode: true, BufferSize: 8 << 10})
	run := map[string]func() error{
		"HTTP":    func() error { return e.HTTP(p, 1, &clientFlow, tx) },
		"DNS":     func() error { return e.DNS(u, 1, nil, m, 0) },
		"TLS":     func() error { return e.TLS(p, 1, &clientFlow, t12) },
		"Anomaly": func() error { return e.Anomaly(p, 1, &an) },
		"Alert":   func() error { return e.Alert(p, 1, &alert) },
	}
	for name, f := range run {
		for i := 0; i < 50; i++ {
			f()
		}
		if n := testing.AllocsPerRun(1000, func() {
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s allocates %.2f times per record", name, n)
		}
	}
}

func BenchmarkEVEHTTP(b *testing.B) {
	p := tcp4Packet(b, nil)
	tx := httpTx(b, httpReq, httpResp)
	e := NewEVE(io.Discard, EVEConfig{})
	b.ReportAllocs()
	for b.Loop() {
		e.HTTP(p, 1, &clientFlow, tx)
	}
}

func BenchmarkEVEDNS(b *testing.B) {
	u := udp4Packet(b, nil)
	m := dnsResponse(b)
	e := NewEVE(io.Discard, EVEConfig{})
	b.ReportAllocs()
	for b.Loop() {
		e.DNS(u, 1, nil, m, 0)
	}
}

func BenchmarkEVETLS(b *testing.B) {
	p := tcp4Packet(b, nil)
	t12, _ := tlsParsers(b)
	e := NewEVE(io.Discard, EVEConfig{JA3: true, JA4: true})
	b.ReportAllocs()
	for b.Loop() {
		e.TLS(p, 1, &clientFlow, t12)
	}
}

func BenchmarkEVEAnomaly(b *testing.B) {
	p := tcp4Packet(b, nil)
	a := AnomalyInfo{Type: AnomalyAppLayer, Event: "request_field_too_long", Layer: LayerProtoParser, AppProto: "http"}
	e := NewEVE(io.Discard, EVEConfig{})
	b.ReportAllocs()
	for b.Loop() {
		e.Anomaly(p, 1, &a)
	}
}
