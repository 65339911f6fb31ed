package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	ctls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/vigil-ids/vigil/internal/testtls"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// capture is a recorded TLS connection.
type tlsCapture struct {
	toServer, toClient []byte
	certDER            []byte
}

var (
	capOnce sync.Once
	cap12   tlsCapture
	cap13   tlsCapture
	capErr  error
)

func testCert() (ctls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return ctls.Certificate{}, nil, err
	}
	serial, _ := new(big.Int).SetString("80a1b2c3d4e5f60718", 16) // high bit set: DER adds 0x00
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Country: []string{"US"}, Organization: []string{"Vigil Test"}, CommonName: "test.example"},
		NotBefore:    time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:     time.Date(2034, 1, 2, 3, 4, 5, 0, time.UTC),
		DNSNames:     []string{"test.example"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return ctls.Certificate{}, nil, err
	}
	return ctls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der, nil
}

// record runs a real crypto/tls handshake over a pipe and records both
// directions.
func record(version uint16) (tlsCapture, error) {
	cert, der, err := testCert()
	if err != nil {
		return tlsCapture{}, err
	}
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	ts, tc, err := testtls.Record(testtls.Options{Version: version, ServerName: "test.example", Cert: cert, Roots: pool,
		ClientALPN: []string{"h2", "http/1.1"}, ServerALPN: []string{"h2"}, AppData: true})
	if err != nil {
		return tlsCapture{}, err
	}
	return tlsCapture{toServer: ts, toClient: tc, certDER: der}, nil
}

func captures(t testing.TB) (tlsCapture, tlsCapture) {
	capOnce.Do(func() {
		cap12, capErr = record(ctls.VersionTLS12)
		if capErr == nil {
			cap13, capErr = record(ctls.VersionTLS13)
		}
	})
	if capErr != nil {
		t.Fatal(capErr)
	}
	return cap12, cap13
}

// summary renders what a parser found, for comparisons.
func summary(p *Parser) string {
	var b strings.Builder
	c, s := &p.ClientHello, &p.ServerHello
	fmt.Fprintf(&b, "ch=%v v=%x sni=%q ciphers=%x exts=%v sv=%x alpn=%q groups=%v pf=%v sig=%x ks=%v ja3=%s/%s ja4=%s\n",
		c.Present, c.Version, c.SNI, c.CipherSuites, c.Extensions, c.SupportedVersions, c.ALPN, c.SupportedGroups,
		c.ECPointFormats, c.SignatureAlgorithms, c.KeyShare, c.JA3, c.JA3Hash[:], c.JA4[:])
	fmt.Fprintf(&b, "sh=%v v=%x sel=%x cipher=%x exts=%v alpn=%q ja3s=%s/%s\n",
		s.Present, s.Version, s.SelectedVersion, s.CipherSuite, s.Extensions, s.ALPN, s.JA3S, s.JA3SHash[:])
	for _, x := range p.Certificates {
		fmt.Fprintf(&b, "cert subj=%q iss=%q serial=%s fp=%s nb=%s na=%s err=%v\n",
			x.Subject, x.Issuer, x.Serial, x.Fingerprint, FormatTime(x.NotBefore), FormatTime(x.NotAfter), x.Err)
	}
	fmt.Fprintf(&b, "state=%d/%d events=%b version=%s", p.State(ToServer), p.State(ToClient), p.Events, VersionString(p.Version()))
	return b.String()
}

func feedAll(p *Parser, c tlsCapture) {
	p.Feed(ToServer, c.toServer)
	p.Feed(ToClient, c.toClient)
}

func TestTLS12Handshake(t *testing.T) {
	c12, _ := captures(t)
	p := NewParser(Options{})
	feedAll(p, c12)
	ch := &p.ClientHello
	if !ch.Present || string(ch.SNI) != "test.example" || ch.Version != VersionTLS12 {
		t.Fatalf("client hello: %s", summary(p))
	}
	if len(ch.ALPN) != 2 || string(ch.ALPN[0]) != "h2" || string(ch.ALPN[1]) != "http/1.1" {
		t.Errorf("alpn %q", ch.ALPN)
	}
	if len(ch.CipherSuites) == 0 || len(ch.SupportedGroups) == 0 || len(ch.SignatureAlgorithms) == 0 || len(ch.ECPointFormats) == 0 {
		t.Errorf("client hello lists: %s", summary(p))
	}
	sh := &p.ServerHello
	if !sh.Present || sh.Version != VersionTLS12 || sh.SelectedVersion != 0 || string(sh.ALPN) != "h2" {
		t.Errorf("server hello: %s", summary(p))
	}
	if VersionString(p.Version()) != "TLS 1.2" {
		t.Errorf("version %s", VersionString(p.Version()))
	}
	if len(p.Certificates) != 1 {
		t.Fatalf("%d certificates", len(p.Certificates))
	}
	x := p.Certificates[0]
	sum := sha1.Sum(c12.certDER)
	var fp []string
	for _, b := range sum {
		fp = append(fp, hex.EncodeToString([]byte{b}))
	}
	if x.Err != nil || x.Subject != "C=US, O=Vigil Test, CN=test.example" || x.Issuer != x.Subject ||
		x.Serial != "00:80:A1:B2:C3:D4:E5:F6:07:18" || x.Fingerprint != strings.Join(fp, ":") ||
		FormatTime(x.NotBefore) != "2024-01-02T03:04:05" || FormatTime(x.NotAfter) != "2034-01-02T03:04:05" ||
		string(x.DER) != string(c12.certDER) {
		t.Errorf("certificate: %+v", x)
	}
	if !p.Encrypted() || p.Events != 0 {
		t.Errorf("end state: %s", summary(p))
	}
	// JA3 is consistent with the parsed fields and JA3S with the server's.
	if !strings.HasPrefix(string(ch.JA3), "771,") || len(ch.JA3Hash) != 32 {
		t.Errorf("ja3 %s", ch.JA3)
	}
	if want := fmt.Sprintf("771,%d,", sh.CipherSuite); !strings.HasPrefix(string(sh.JA3S), want) {
		t.Errorf("ja3s %s", sh.JA3S)
	}
	if !strings.HasPrefix(string(ch.JA4[:]), "t13d") { // Go offers TLS 1.3 in supported_versions? only if MaxVersion allows
		if !strings.HasPrefix(string(ch.JA4[:]), "t12d") {
			t.Errorf("ja4 %s", ch.JA4)
		}
	}
}

func TestTLS13Handshake(t *testing.T) {
	_, c13 := captures(t)
	p := NewParser(Options{})
	feedAll(p, c13)
	if !p.ClientHello.Present || !p.ClientHello.KeyShare || string(p.ClientHello.SNI) != "test.example" {
		t.Fatalf("client hello: %s", summary(p))
	}
	if p.ServerHello.SelectedVersion != VersionTLS13 || VersionString(p.Version()) != "TLS 1.3" {
		t.Errorf("server hello: %s", summary(p))
	}
	if len(p.Certificates) != 0 {
		t.Errorf("TLS 1.3 certificates are encrypted, got %d", len(p.Certificates))
	}
	if !p.Encrypted() || p.Events != 0 {
		t.Errorf("end state: %s", summary(p))
	}
	if !strings.HasPrefix(string(p.ClientHello.JA4[:]), "t13d") || !strings.Contains(string(p.ClientHello.JA4[:]), "h2_") {
		t.Errorf("ja4 %s", p.ClientHello.JA4)
	}
}

func TestSplitEveryByte(t *testing.T) {
	c12, c13 := captures(t)
	for _, c := range []tlsCapture{c12, c13} {
		ref := NewParser(Options{})
		feedAll(ref, c)
		want := summary(ref)
		p := NewParser(Options{})
		for _, dir := range []Direction{ToServer, ToClient} {
			stream := c.toServer
			if dir == ToClient {
				stream = c.toClient
			}
			for i := 0; i <= len(stream); i++ {
				p.Reset()
				if dir == ToClient {
					p.Feed(ToServer, c.toServer)
				}
				if n := p.Feed(dir, stream[:i]) + p.Feed(dir, stream[i:]); n != len(stream) {
					t.Fatalf("consumed %d", n)
				}
				if dir == ToServer {
					p.Feed(ToClient, c.toClient)
				}
				if got := summary(p); got != want {
					t.Fatalf("dir %d split at %d:\n%s\nwant\n%s", dir, i, got, want)
				}
			}
		}
		// One byte at a time.
		p.Reset()
		for i := range c.toServer {
			p.Feed(ToServer, c.toServer[i:i+1])
		}
		for i := range c.toClient {
			p.Feed(ToClient, c.toClient[i:i+1])
		}
		if got := summary(p); got != want {
			t.Fatalf("byte at a time:\n%s\nwant\n%s", got, want)
		}
	}
}

// reframe rewrites the cleartext handshake records at the start of a
// stream into records of at most size bytes (1 << 14: all messages in one
// record); the rest of the stream is kept.
func reframe(t *testing.T, stream []byte, size int) []byte {
	var hs []byte
	i := 0
	for i+5 <= len(stream) && stream[i] == RecordHandshake {
		n := int(binary.BigEndian.Uint16(stream[i+3:]))
		hs = append(hs, stream[i+5:i+5+n]...)
		i += 5 + n
	}
	if len(hs) == 0 {
		t.Fatal("no handshake records")
	}
	var out []byte
	for len(hs) > 0 {
		n := min(size, len(hs))
		out = append(out, RecordHandshake, 3, 3, byte(n>>8), byte(n))
		out = append(out, hs[:n]...)
		hs = hs[n:]
	}
	return append(out, stream[i:]...)
}

func TestHandshakeAcrossRecords(t *testing.T) {
	c12, _ := captures(t)
	ref := NewParser(Options{})
	feedAll(ref, c12)
	want := summary(ref)
	for _, size := range []int{1, 3, 7, 100, 1 << 14} {
		c := tlsCapture{toServer: reframe(t, c12.toServer, size), toClient: reframe(t, c12.toClient, size)}
		p := NewParser(Options{})
		feedAll(p, c)
		if size == 1 {
			// Hundreds of one-byte records in one chunk.
			if !p.Events.Has(EventTooManyRecordsInPacket) {
				t.Errorf("size 1: events %s", eventList(p.Events))
			}
			p.Events &^= 1 << EventTooManyRecordsInPacket
		}
		if got := summary(p); got != want {
			t.Errorf("record size %d:\n%s\nwant\n%s", size, got, want)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	c12, c13 := captures(t)
	p := NewParser(Options{MaxCertificates: -1})
	run := func() {
		p.Reset()
		feedAll(p, c13)
		p.Reset()
		p.Feed(ToServer, c12.toServer[:100])
		p.Feed(ToServer, c12.toServer[100:])
		p.Feed(ToClient, c12.toClient)
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%v allocs per run", n)
	}
	if !p.ClientHello.Present || !p.ServerHello.Present {
		t.Fatal("nothing parsed")
	}
}

func BenchmarkHandshake13(b *testing.B) {
	_, c13 := captures(b)
	p := NewParser(Options{})
	b.ReportAllocs()
	b.SetBytes(int64(len(c13.toServer) + len(c13.toClient)))
	for b.Loop() {
		p.Reset()
		feedAll(p, c13)
	}
}

func BenchmarkHandshake12NoCerts(b *testing.B) {
	c12, _ := captures(b)
	p := NewParser(Options{MaxCertificates: -1})
	b.ReportAllocs()
	b.SetBytes(int64(len(c12.toServer) + len(c12.toClient)))
	for b.Loop() {
		p.Reset()
		feedAll(p, c12)
	}
}

func BenchmarkHandshake12Certs(b *testing.B) {
	c12, _ := captures(b)
	p := NewParser(Options{})
	b.ReportAllocs()
	for b.Loop() {
		p.Reset()
		feedAll(p, c12)
	}
}
