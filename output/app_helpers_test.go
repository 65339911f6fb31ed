package output

import (
	"bytes"
	"crypto/ed25519"
	ctls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"github.com/vigil-ids/vigil/internal/testtls"
	"math/big"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/applayer/dns"
	"github.com/vigil-ids/vigil/dataplane/applayer/http"
	"github.com/vigil-ids/vigil/dataplane/applayer/tls"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// clientFlow is the flow of tcp4Packet seen from its client: 5.6.6.7:1234
// -> 1.2.3.4:80 (tcp4Packet is a server -> client packet).
var clientFlow = FlowInfo{
	SrcIP: netip.MustParseAddr("5.6.6.7"), DstIP: netip.MustParseAddr("1.2.3.4"),
	SrcPort: 1234, DstPort: 80, Proto: packet.ProtoTCP, StartNs: goldenTime,
}

// httpTx parses a request and its response and returns the transaction.
func httpTx(t testing.TB, req, resp string) *http.Tx {
	t.Helper()
	p := http.NewParser(nil)
	p.Feed(http.ToServer, []byte(req), false)
	p.Feed(http.ToClient, []byte(resp), false)
	tx := p.Pop()
	if tx == nil {
		t.Fatalf("http parser gave no complete transaction for %q / %q", req, resp)
	}
	return tx
}

// dnsMessage serializes d and parses it back with the dns parser. The
// message stays valid until the next parse on a parser, so each call uses
// its own.
func dnsMessage(t testing.TB, d *layers.DNS) *dns.Message {
	t.Helper()
	wire := serialize(t, d)
	dir := dns.ToServer
	if d.QR {
		dir = dns.ToClient
	}
	m, err := dns.NewParser(nil).ParseUDP(dir, wire)
	if err != nil {
		t.Fatalf("parse dns: %v", err)
	}
	return m
}

// rawDNS parses a hand-built message.
func rawDNS(t testing.TB, dir dns.Direction, wire []byte) *dns.Message {
	t.Helper()
	m, err := dns.NewParser(nil).ParseUDP(dir, wire)
	if err != nil {
		t.Fatalf("parse dns: %v", err)
	}
	return m
}

// tlsRec is a recorded TLS connection.
type tlsRec struct {
	toServer, toClient []byte
	der                []byte
}

var (
	tlsOnce sync.Once
	tls12   tlsRec
	tls13   tlsRec
	tlsErr  error
)

// goldenCert is a self-signed Ed25519 certificate built from a fixed seed:
// Ed25519 signatures are deterministic, so its DER (and fingerprint) are
// the same on every run.
func goldenCert() (ctls.Certificate, []byte, error) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	serial, _ := new(big.Int).SetString("80a1b2c3d4e5f60718", 16)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"Vigil Test"},
			CommonName: "test.example"},
		NotBefore: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:  time.Date(2034, 1, 2, 3, 4, 5, 0, time.UTC),
		DNSNames:  []string{"test.example"},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return ctls.Certificate{}, nil, err
	}
	return ctls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der, nil
}

// recordTLS runs a crypto/tls handshake over a pipe and records both
// directions.
func recordTLS(version uint16) (tlsRec, error) {
	cert, der, err := goldenCert()
	if err != nil {
		return tlsRec{}, err
	}
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	ts, tc, err := testtls.Record(testtls.Options{Version: version, ServerName: "test.example", Cert: cert, Roots: pool,
		ClientALPN: []string{"h2", "http/1.1"}, ServerALPN: []string{"h2"}, AppData: true})
	if err != nil {
		return tlsRec{}, err
	}
	return tlsRec{toServer: ts, toClient: tc, der: der}, nil
}

// tlsParsers returns parsers fed with a TLS 1.2 and a TLS 1.3 handshake.
func tlsParsers(t testing.TB) (*tls.Parser, *tls.Parser) {
	t.Helper()
	tlsOnce.Do(func() {
		tls12, tlsErr = recordTLS(ctls.VersionTLS12)
		if tlsErr == nil {
			tls13, tlsErr = recordTLS(ctls.VersionTLS13)
		}
	})
	if tlsErr != nil {
		t.Fatal(tlsErr)
	}
	feed := func(r tlsRec) *tls.Parser {
		p := tls.NewParser(tls.Options{})
		p.Feed(tls.ToServer, r.toServer)
		p.Feed(tls.ToClient, r.toClient)
		return p
	}
	return feed(tls12), feed(tls13)
}

// Hand-built hellos, for session resumption.
func u16b(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func tlsHandshakeRecord(typ byte, body []byte) []byte {
	hs := append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append(append([]byte{22, 3, 1}, u16b(uint16(len(hs)))...), hs...)
}

func rawClientHello(sessionID []byte, sni string) []byte {
	body := append(u16b(0x0303), make([]byte, 32)...)
	body = append(body, byte(len(sessionID)))
	body = append(body, sessionID...)
	body = append(body, 0, 2, 0xc0, 0x2f) // one cipher suite
	body = append(body, 1, 0)             // null compression
	var exts []byte
	if sni != "" {
		name := append([]byte{0}, append(u16b(uint16(len(sni))), sni...)...)
		list := append(u16b(uint16(len(name))), name...)
		exts = append(append(u16b(0), u16b(uint16(len(list)))...), list...)
	}
	body = append(body, u16b(uint16(len(exts)))...)
	body = append(body, exts...)
	return tlsHandshakeRecord(1, body)
}

func rawServerHello(sessionID []byte) []byte {
	body := append(u16b(0x0303), bytes.Repeat([]byte{1}, 32)...)
	body = append(body, byte(len(sessionID)))
	body = append(body, sessionID...)
	body = append(body, 0xc0, 0x2f, 0) // cipher, compression
	body = append(body, 0, 0)          // no extensions
	return tlsHandshakeRecord(2, body)
}

// record renders one record through a fresh writer.
func record(t testing.TB, cfg EVEConfig, write func(e *EVE) error) string {
	t.Helper()
	var out bytes.Buffer
	cfg.Location = cet
	e := NewEVE(&out, cfg)
	if err := write(e); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// topKeys returns the top-level keys of a JSON object in order.
func objectKeys(t testing.TB, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("bad JSON: %v: %s", err, raw)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("bad JSON: %v: %s", err, raw)
		}
	}
	return keys
}

// subObject returns the raw JSON of the member key of the object raw.
func subObject(t testing.TB, raw []byte, key string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("bad JSON: %v: %s", err, raw)
	}
	return m[key]
}
