package applayer

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
)

func (r probeResult) String() string {
	switch r {
	case probeNeedMore:
		return "need-more"
	case probeFound:
		return "found"
	case probeFailed:
		return "failed"
	}
	return "probeResult(?)"
}

func checkProbe(t *testing.T, name string, data []byte, tcp bool, sp, dp uint16, wantP flow.AppProto, wantR probeResult) {
	t.Helper()
	p, r := probe(data, tcp, sp, dp)
	if p != wantP || r != wantR {
		t.Errorf("%s: probe(%q, tcp=%v, %d->%d) = %v/%v, want %v/%v", name, trunc(data), tcp, sp, dp, p, r, wantP, wantR)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// flipCase alternates letter case so matching must be case-insensitive.
func flipCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		if i%2 == 0 && c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestProbeHTTPMethods(t *testing.T) {
	for _, m := range httpMethods {
		for _, form := range []string{m, strings.ToLower(m), flipCase(m)} {
			checkProbe(t, "space", []byte(form+" /x HTTP/1.1\r\n"), true, 40000, 8080, flow.AppProtoHTTP1, probeFound)
			checkProbe(t, "tab", []byte(form+"\t/x HTTP/1.0\r\n"), true, 40000, 8080, flow.AppProtoHTTP1, probeFound)
			// Exactly the method: the separator is still to come.
			checkProbe(t, "bare", []byte(form), true, 40000, 8080, flow.AppProtoUnknown, probeNeedMore)
			// Every proper prefix waits for more.
			for i := 1; i < len(form); i++ {
				checkProbe(t, "prefix", []byte(form[:i]), true, 40000, 8080, flow.AppProtoUnknown, probeNeedMore)
			}
			// A method followed by anything but a space or tab is not HTTP
			// (unless that makes a longer method, as with "BCOPY" vs "COPY"
			// it cannot: every method is followed by a letter that breaks it).
			checkProbe(t, "glued", []byte(form+"Z /x"), true, 40000, 8080, flow.AppProtoUnknown, probeFailed)
		}
	}
	// UDP gets the same content rules.
	checkProbe(t, "udp", []byte("GET / HTTP/1.1\r\n"), false, 40000, 80, flow.AppProtoHTTP1, probeFound)
}

func TestProbeHTTPResponse(t *testing.T) {
	for _, s := range []string{"HTTP/1.1 200 OK\r\n", "http/1.0 404 Not Found\r\n", "HtTp/", "HTTP/0.9"} {
		checkProbe(t, "response", []byte(s), true, 80, 40000, flow.AppProtoHTTP1, probeFound)
	}
	for i := 1; i < len("HTTP/"); i++ {
		checkProbe(t, "response prefix", []byte("HTTP/"[:i]), true, 80, 40000, flow.AppProtoUnknown, probeNeedMore)
	}
	checkProbe(t, "HTTPS", []byte("HTTPS/1.1 200"), true, 80, 40000, flow.AppProtoUnknown, probeFailed)
}

func TestProbeText(t *testing.T) {
	for _, s := range []string{
		"SSH-2.0-OpenSSH_9.6\r\n", "220 smtp.example.com ESMTP\r\n", "EHLO example.com\r\n",
		"* OK IMAP4rev1\r\n", "+OK POP3\r\n", "hello world", "GETS / HTTP/1.1", " GET / HTTP/1.1",
		"\r\nGET / HTTP/1.1", "G E T", "POSTGET", "Z", "\x00",
	} {
		checkProbe(t, "text", []byte(s), true, 40000, 8080, flow.AppProtoUnknown, probeFailed)
	}
	// Empty data cannot be judged.
	checkProbe(t, "empty", nil, true, 40000, 80, flow.AppProtoUnknown, probeNeedMore)
}

func TestProbeTLS(t *testing.T) {
	for v := byte(0); v <= 4; v++ {
		rec := []byte{0x16, 0x03, v, 0x00, 0x30, 0x01}
		checkProbe(t, "tls record", rec, true, 40000, 8443, flow.AppProtoTLS, probeFound)
		checkProbe(t, "tls record 3 bytes", rec[:3], true, 40000, 8443, flow.AppProtoTLS, probeFound)
		checkProbe(t, "tls on any port", rec, true, 1, 2, flow.AppProtoTLS, probeFound)
	}
	checkProbe(t, "tls 1 byte", []byte{0x16}, true, 40000, 443, flow.AppProtoUnknown, probeNeedMore)
	checkProbe(t, "tls 2 bytes", []byte{0x16, 0x03}, true, 40000, 443, flow.AppProtoUnknown, probeNeedMore)
	checkProbe(t, "tls bad major", []byte{0x16, 0x02}, true, 40000, 443, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "tls minor 5", []byte{0x16, 0x03, 0x05, 0, 4}, true, 40000, 443, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "tls app data", []byte{0x17, 0x03, 0x03, 0, 4}, true, 40000, 443, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "tls alert", []byte{0x15, 0x03, 0x03, 0, 2}, true, 40000, 443, flow.AppProtoUnknown, probeFailed)

	// SSLv2-framed ClientHello: 2-byte length with the high bit, msg type 1,
	// version 2.0 or 3.x.
	for _, ver := range [][2]byte{{0x00, 0x02}, {0x03, 0x00}, {0x03, 0x01}, {0x03, 0x03}} {
		h := []byte{0x80, 0x2e, 0x01, ver[0], ver[1], 0x00, 0x15}
		checkProbe(t, "sslv2 hello", h, true, 40000, 443, flow.AppProtoTLS, probeFound)
		for i := 1; i < 5; i++ {
			checkProbe(t, "sslv2 prefix", h[:i], true, 40000, 443, flow.AppProtoUnknown, probeNeedMore)
		}
	}
	checkProbe(t, "sslv2 not hello", []byte{0x80, 0x2e, 0x04, 0x00, 0x02}, true, 40000, 443, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "sslv2 bad version", []byte{0x80, 0x2e, 0x01, 0x01, 0x00}, true, 40000, 443, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "sslv2 bad minor", []byte{0x80, 0x2e, 0x01, 0x03, 0x07}, true, 40000, 443, flow.AppProtoUnknown, probeFailed)
}

// dnsTCPQuery returns a length-prefixed DNS query for name.
func dnsTCPQuery(id uint16, name string) []byte {
	m := dnsQuery(id, name)
	out := binary.BigEndian.AppendUint16(nil, uint16(len(m)))
	return append(out, m...)
}

// dnsQuery builds a standard query (RD set) for an A record by hand.
func dnsQuery(id uint16, name string) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x01, 0x00)             // RD
	b = append(b, 0, 1, 0, 0, 0, 0, 0, 0) // qd=1
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, 0, 1, 0, 1)
}

func TestProbeDNSTCP(t *testing.T) {
	q := dnsTCPQuery(0x1234, "example.com")
	checkProbe(t, "dns dport 53", q, true, 40000, 53, flow.AppProtoDNS, probeFound)
	checkProbe(t, "dns sport 53", q, true, 53, 40000, flow.AppProtoDNS, probeFound)
	// No port 53: no pattern, no DNS.
	checkProbe(t, "dns other port", q, true, 40000, 5353, flow.AppProtoUnknown, probeFailed)
	// DNS over TCP is a TCP thing: UDP payloads are judged by probeDNSUDP.
	checkProbe(t, "dns udp", q, false, 40000, 53, flow.AppProtoUnknown, probeFailed)
	for i := 1; i < 14; i++ {
		checkProbe(t, "dns prefix", q[:i], true, 40000, 53, flow.AppProtoUnknown, probeNeedMore)
	}

	bad := func(mut func(b []byte)) []byte {
		b := bytes.Clone(q)
		mut(b)
		return b
	}
	checkProbe(t, "dns short length", bad(func(b []byte) { b[0], b[1] = 0, 11 }), true, 40000, 53, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "dns no question", bad(func(b []byte) { b[7] = 0 }), true, 40000, 53, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "dns 65 questions", bad(func(b []byte) { b[7] = 65 }), true, 40000, 53, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "dns opcode 7", bad(func(b []byte) { b[4] |= 7 << 3 }), true, 40000, 53, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "dns query with answers", bad(func(b []byte) { b[9] = 1 }), true, 40000, 53, flow.AppProtoUnknown, probeFailed)
	checkProbe(t, "dns response with answers", bad(func(b []byte) { b[4] |= 0x80; b[9] = 1 }), true, 53, 40000, flow.AppProtoDNS, probeFound)
	checkProbe(t, "dns 513 additionals", bad(func(b []byte) { b[12], b[13] = 2, 1 }), true, 40000, 53, flow.AppProtoUnknown, probeFailed)

	// HTTP on port 53 is still HTTP: content first.
	checkProbe(t, "http on 53", []byte("GET / HTTP/1.1\r\n"), true, 40000, 53, flow.AppProtoHTTP1, probeFound)
}

func TestProbeDNSUDP(t *testing.T) {
	q := dnsQuery(7, "a.example")
	if !probeDNSUDP(q, 5353, 53) {
		t.Errorf("probeDNSUDP(query) = false")
	}
	if probeDNSUDP(q, 137, 137) {
		t.Errorf("probeDNSUDP(query on NetBIOS name service port) = true")
	}
	if probeDNSUDP(q[:11], 5353, 53) {
		t.Errorf("probeDNSUDP(11 bytes) = true")
	}
	if probeDNSUDP([]byte("this is not a dns message at all"), 5353, 53) {
		t.Errorf("probeDNSUDP(text) = true")
	}
}

func TestProbeRandomBinary(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	b := make([]byte, 256)
	for i := 0; i < 2000; i++ {
		rng.Read(b)
		// Keep away from the patterns (and from bytes that could start
		// an SSLv2 header or a method): a leading byte 0x00..0x0f that
		// is not 0x16... is not any protocol's.
		b[0] = byte(rng.Intn(0x10))
		checkProbe(t, "random", b, true, 40000, 8080, flow.AppProtoUnknown, probeFailed)
	}
	// Any random input of probeMax bytes or more is judged, never "more".
	big := make([]byte, probeMax)
	for i := 0; i < 2000; i++ {
		rng.Read(big)
		n := probeMax + rng.Intn(64)
		data := append(big[:probeMax:probeMax], make([]byte, n-probeMax)...)
		if _, r := probe(data, true, 53, 53); r == probeNeedMore {
			t.Fatalf("probe(%d random bytes) = need-more (first bytes % x)", len(data), data[:16])
		}
	}
	// Random short inputs never panic.
	for i := 0; i < 20000; i++ {
		n := rng.Intn(20)
		rng.Read(b[:n])
		probe(b[:n], rng.Intn(2) == 0, uint16(rng.Intn(2)*53), 53)
	}
}

// TestProbeGivesUpAtMax: Layer.Data consumes nothing while probing needs
// more bytes, and a direction whose first bytes match nothing is given up
// on (all consumed). No pattern is longer than 16 bytes, so probe itself
// never asks for more at probeMax bytes (checked in TestProbeRandomBinary).
func TestProbeGivesUpAtMax(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, 6, 40000, 8080)
	c.begin(0)
	for i := 0; i < 3; i++ {
		// "GET" needs more: nothing is consumed.
		if n := l.Data(nil, 0, []byte("GET")); n != 0 {
			t.Fatalf("Data(GET) consumed %d, want 0", n)
		}
	}
	if c.f.AppProto != flow.AppProtoUnknown {
		t.Fatalf("AppProto = %v after a bare method", c.f.AppProto)
	}
	// Garbage of probeMax bytes: failed for the direction.
	junk := bytes.Repeat([]byte{0x01}, probeMax)
	if n := l.Data(nil, 0, junk); n != len(junk) {
		t.Fatalf("Data(junk) consumed %d, want %d", n, len(junk))
	}
	st := l.peek(c.f)
	if !st.done[0] || st.proto != flow.AppProtoUnknown {
		t.Fatalf("after junk: done=%v proto=%v", st.done, st.proto)
	}
}
