package applayer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	ctls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"github.com/vigil-ids/vigil/internal/testtls"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/engine"
)

func selfSigned(tb testing.TB, cn string) ctls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Vigil Test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return ctls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsHandshake runs a TLS 1.2 handshake between crypto/tls endpoints over
// net.Pipe and returns what each side sent (the client's stream, the
// server's stream).
func tlsHandshake(tb testing.TB, sni string) (toServer, toClient []byte) {
	tb.Helper()
	ts, tc, err := testtls.Record(testtls.Options{Version: ctls.VersionTLS12, ServerName: sni, Cert: selfSigned(tb, sni),
		ClientALPN: []string{"h2", "http/1.1"}})
	if err != nil {
		tb.Fatalf("handshake: %v", err)
	}
	return ts, tc
}

// clientHello returns the first TLS record the client sends.
func clientHello(tb testing.TB, ts []byte) []byte {
	tb.Helper()
	if len(ts) < 5 {
		tb.Fatalf("client stream of %d bytes", len(ts))
	}
	return ts[:5+int(binary.BigEndian.Uint16(ts[3:]))]
}

func TestTLSClientHello(t *testing.T) {
	ts, tc := tlsHandshake(t, "www.example.test")
	hello := clientHello(t, ts)
	// Split the hello at every position: detection waits for the record
	// header, then the parser takes it in pieces.
	for i := 1; i < len(hello); i += 7 {
		l := New(Config{})
		c := newConn(t, l, nil, packet.ProtoTCP, 40000, 443)
		c.packet(1, 0, hello[:i])
		v, _ := c.packet(1, 0, hello[i:])
		if c.f.AppProto != flow.AppProtoTLS {
			t.Fatalf("split %d: AppProto %v, want tls", i, c.f.AppProto)
		}
		if len(v) != 1 || v[0].Proto != flow.AppProtoTLS || v[0].TLS == nil {
			t.Fatalf("split %d: views %v", i, v)
		}
		wantBuf(t, v[0], "tls.sni", "www.example.test")
		if h, ok := buf(t, v[0], "ja3.hash"); !ok || len(h) == 0 {
			t.Fatalf("split %d: ja3.hash %q %v", i, h, ok)
		}
		if s, ok := buf(t, v[0], "ja3.string"); !ok || !bytes.HasPrefix([]byte(s), []byte("771,")) {
			t.Fatalf("split %d: ja3.string %q", i, s)
		}
		if a, ok := v[0].Buffer(bufID(t, "tls.alpn"), 1); !ok || string(a) != "http/1.1" {
			t.Fatalf("split %d: tls.alpn[1] = %q", i, a)
		}
		if st, ok := v[0].Field(engine.FieldSSLState); !ok || st != 1 {
			t.Fatalf("split %d: ssl_state %d %v", i, st, ok)
		}
	}

	// The whole handshake: the record comes once the server's certificate
	// is seen, and the flow goes encrypted.
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 443)
	var recs []Record
	_, r := c.packet(1, 0, ts)
	recs = append(recs, r...)
	v, r := c.packet(0, 1, tc)
	recs = append(recs, r...)
	if len(v) != 1 {
		t.Fatalf("full handshake: %d views", len(v))
	}
	wantBuf(t, v[0], "tls.sni", "www.example.test")
	if s, ok := buf(t, v[0], "tls.cert_subject"); !ok || !bytes.Contains([]byte(s), []byte("CN=www.example.test")) {
		t.Errorf("tls.cert_subject = %q %v", s, ok)
	}
	if ver, ok := v[0].Field(engine.FieldTLSVersion); !ok || ver != 0x0303 {
		t.Errorf("tls version field %#x %v", ver, ok)
	}
	if n := countKind(recs, RecordTLS); n != 1 {
		t.Fatalf("%d tls records, want 1: %+v", n, recs)
	}
	if enc, _ := l.Encrypted(c.f); !enc {
		t.Errorf("Encrypted = false after a finished handshake")
	}
	if l.Stats.Encrypted != 1 || l.Stats.TLSHandshake != 1 {
		t.Errorf("stats %+v", l.Stats)
	}
	// Encrypted data after the handshake is consumed and not parsed.
	junk := bytes.Repeat([]byte{0x17, 0x03, 0x03, 0x00, 0x10}, 20)
	if n := c.data(0, junk); n != len(junk) {
		t.Fatalf("encrypted data: consumed %d of %d", n, len(junk))
	}
	l.FlowEnding(c.f)
	if n := len(l.Records()); n != 0 {
		t.Fatalf("FlowEnding after a logged handshake: %d records", n)
	}
	l.Release(c.f)
}

func TestTLSFlowEndLogsHello(t *testing.T) {
	ts, _ := tlsHandshake(t, "only.hello.test")
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 443)
	_, r := c.packet(1, 0, clientHello(t, ts))
	if len(r) != 0 {
		t.Fatalf("records on the hello alone: %+v", r)
	}
	l.FlowEnding(c.f)
	recs := l.Records()
	if len(recs) != 1 || recs[0].Kind != RecordTLS || string(recs[0].TLS.ClientHello.SNI) != "only.hello.test" {
		t.Fatalf("FlowEnding records %+v", recs)
	}
	l.Release(c.f)
}

func TestNoTLS(t *testing.T) {
	ts, _ := tlsHandshake(t, "x.test")
	l := New(Config{NoTLS: true})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 443)
	c.packet(1, 0, clientHello(t, ts))
	if c.f.AppProto != flow.AppProtoFailed {
		t.Fatalf("AppProto %v with TLS disabled, want failed", c.f.AppProto)
	}
}

func serializeDNS(tb testing.TB, d *layers.DNS) []byte {
	tb.Helper()
	b := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(b, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		tb.Fatalf("serialize dns: %v", err)
	}
	return bytes.Clone(b.Bytes())
}

func dnsPair(tb testing.TB, id uint16, name string, rcode layers.DNSResponseCode) (q, r []byte) {
	question := layers.DNSQuestion{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}
	q = serializeDNS(tb, &layers.DNS{ID: id, RD: true, OpCode: layers.DNSOpCodeQuery, Questions: []layers.DNSQuestion{question}})
	resp := &layers.DNS{ID: id, QR: true, RD: true, RA: true, ResponseCode: rcode, Questions: []layers.DNSQuestion{question}}
	if rcode == layers.DNSResponseCodeNoErr {
		resp.Answers = []layers.DNSResourceRecord{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: net.IPv4(192, 0, 2, 7)}}
	}
	return q, serializeDNS(tb, resp)
}

func TestDNSUDP(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoUDP, 53000, 53)
	q, r := dnsPair(t, 0x4242, "www.example.org", layers.DNSResponseCodeNXDomain)

	p := c.udp(0, q)
	if c.f.AppProto != flow.AppProtoDNS {
		t.Fatalf("AppProto %v, want dns", c.f.AppProto)
	}
	v := l.Views(p, c.f)
	if len(v) != 1 {
		t.Fatalf("query: %d views", len(v))
	}
	wantBuf(t, v[0], "dns.query", "www.example.org")
	if op, ok := v[0].Field(engine.FieldDNSOpcode); !ok || op != 0 {
		t.Errorf("query opcode %d %v", op, ok)
	}
	if rc, ok := v[0].Field(engine.FieldDNSRcode); !ok || rc != 0 {
		t.Errorf("query rcode %d %v", rc, ok)
	}
	if rt, ok := v[0].Field(engine.FieldDNSRRType); !ok || rt != 1 {
		t.Errorf("query rrtype %d %v", rt, ok)
	}
	recs := l.Records()
	if len(recs) != 1 || recs[0].Kind != RecordDNS || recs[0].TxID != 0 || recs[0].DNS.ID != 0x4242 {
		t.Fatalf("query records %+v", recs)
	}
	l.Done(c.f)

	p = c.udp(1, r)
	v = l.Views(p, c.f)
	if len(v) != 1 {
		t.Fatalf("response: %d views", len(v))
	}
	noBuf(t, v[0], "dns.query")
	wantBuf(t, v[0], "dns.queries.rrname", "www.example.org")
	if rc, ok := v[0].Field(engine.FieldDNSRcode); !ok || rc != 3 {
		t.Errorf("response rcode %d %v, want 3 (NXDOMAIN)", rc, ok)
	}
	recs = l.Records()
	if len(recs) != 1 || !recs[0].DNS.Response() || recs[0].TxID != 0 {
		t.Fatalf("response records %+v", recs)
	}
	l.Done(c.f)

	// The next query is transaction 1; an opcode other than 0 is seen.
	q2 := serializeDNS(t, &layers.DNS{ID: 9, OpCode: layers.DNSOpCodeStatus, Questions: []layers.DNSQuestion{{Name: []byte("a.b"), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN}}})
	p = c.udp(0, q2)
	v = l.Views(p, c.f)
	if len(v) != 1 {
		t.Fatalf("second query: %d views", len(v))
	}
	if op, _ := v[0].Field(engine.FieldDNSOpcode); op != 2 {
		t.Errorf("opcode %d, want 2", op)
	}
	if recs = l.Records(); len(recs) != 1 || recs[0].TxID != 1 {
		t.Fatalf("second query records %+v", recs)
	}
	// A packet without a DNS message: no views.
	c.begin(1)
	if v = l.Views(c.pkts[1], c.f); len(v) != 0 {
		t.Fatalf("packet without payload: %d views", len(v))
	}
	if l.Stats.DNSMessages != 3 {
		t.Errorf("Stats.DNSMessages = %d", l.Stats.DNSMessages)
	}
}

func TestUDPNotDNS(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoUDP, 40000, 9999)
	c.udp(0, []byte("hello, this is not a dns message"))
	if c.f.AppProto != flow.AppProtoUnknown {
		t.Fatalf("after one direction: %v, want unknown", c.f.AppProto)
	}
	c.udp(0, []byte("still not dns, same direction......"))
	if c.f.AppProto != flow.AppProtoUnknown {
		t.Fatalf("after one direction twice: %v, want unknown", c.f.AppProto)
	}
	c.udp(1, []byte("the answer is not dns either......"))
	if c.f.AppProto != flow.AppProtoFailed {
		t.Fatalf("after both directions: %v, want failed", c.f.AppProto)
	}
	// A DNS message later does not revive the flow.
	q, _ := dnsPair(t, 1, "x.y", layers.DNSResponseCodeNoErr)
	p := c.udp(0, q)
	if v := l.Views(p, c.f); len(v) != 0 || c.f.AppProto != flow.AppProtoFailed {
		t.Fatalf("dns after failed: %d views, proto %v", len(v), c.f.AppProto)
	}
	// A large non-DNS datagram fails the flow at once.
	c2 := newConn(t, l, nil, packet.ProtoUDP, 40001, 9999)
	c2.udp(0, bytes.Repeat([]byte{'x'}, 600))
	if c2.f.AppProto != flow.AppProtoFailed {
		t.Fatalf("600-byte datagram: %v, want failed", c2.f.AppProto)
	}
}

func TestDNSTCPSplit(t *testing.T) {
	q, r := dnsPair(t, 0x77, "split.example", layers.DNSResponseCodeNoErr)
	tq := append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)
	tr := append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...)
	for i := 1; i < len(tq); i++ {
		l := New(Config{})
		c := newConn(t, l, nil, packet.ProtoTCP, 40000, 53)
		var recs []Record
		_, rr := c.packet(1, 0, tq[:i])
		recs = append(recs, rr...)
		v, rr := c.packet(1, 0, tq[i:])
		recs = append(recs, rr...)
		if c.f.AppProto != flow.AppProtoDNS {
			t.Fatalf("split %d: AppProto %v", i, c.f.AppProto)
		}
		if len(c.pend[0]) != 0 {
			t.Fatalf("split %d: %d bytes unconsumed", i, len(c.pend[0]))
		}
		if len(v) != 1 {
			t.Fatalf("split %d: %d views", i, len(v))
		}
		wantBuf(t, v[0], "dns.query", "split.example")
		if len(recs) != 1 || recs[0].Kind != RecordDNS {
			t.Fatalf("split %d: records %+v", i, recs)
		}
		// The next to-server packet (which acknowledges the response)
		// shows the query again, for to-server signatures, then the
		// response it made the parser see.
		v, rr = c.packet(0, 1, tr)
		if len(v) != 2 || len(rr) != 1 || !rr[0].DNS.Response() || rr[0].TxID != 0 {
			t.Fatalf("split %d: response views %d records %+v", i, len(v), rr)
		}
		wantBuf(t, v[0], "dns.query", "split.example")
		wantBuf(t, v[1], "dns.answer.name", "split.example")
	}
}

// TestGapBeforeDetection: a hole in a direction whose protocol is not
// known yet ends detection there; with both directions so, the flow is
// failed.
func TestGapBeforeDetection(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	c.begin(1)
	c.data(0, []byte("GE")) // detection needs more
	l.Gap(nil, 0, 100)
	if st := l.peek(c.f); !st.done[0] || c.f.AppProto != flow.AppProtoUnknown {
		t.Fatalf("after gap to server: done %v proto %v", st.done, c.f.AppProto)
	}
	c.begin(0)
	c.data(1, []byte("HT"))
	l.Gap(nil, 1, 10)
	if c.f.AppProto != flow.AppProtoFailed {
		t.Fatalf("gaps in both directions: AppProto %v, want failed", c.f.AppProto)
	}
	if l.Stats.Gaps != 2 {
		t.Errorf("Stats.Gaps = %d", l.Stats.Gaps)
	}
}

// TestGapHTTPBody: a hole in the middle of a response body is given to
// the parser; the transaction still completes and is logged.
func TestGapHTTPBody(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	c.packet(1, 0, []byte(httpReq))
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
	c.packet(0, 1, []byte(resp+"abcdef"))
	c.begin(0)
	l.Gap(nil, 1, 99990)
	c.data(1, []byte("wxyz"))
	v := c.views(0)
	recs := l.Records()
	l.Done(c.f)
	if len(v) == 0 {
		t.Fatalf("no views after the gap")
	}
	if countKind(recs, RecordHTTP) != 1 {
		t.Fatalf("records after the body completed over a gap: %+v", recs)
	}
	// Gaps of any size in any direction and state do not panic.
	for _, n := range []uint32{1, 65535, 65536, 65537, 1 << 20} {
		c.begin(0)
		l.Gap(nil, 0, n)
		l.Gap(nil, 1, n)
		c.data(0, []byte("GET / HTTP/1.1\r\n\r\n"))
		c.views(0)
		l.Done(c.f)
	}
	l.FlowEnding(c.f)
	l.Release(c.f)
}
