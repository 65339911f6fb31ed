package tls

import (
	"testing"
)

// FuzzTLS feeds the input to both directions of a parser, split at a
// fuzzed point, and checks it never panics, consumes everything, and that
// a split does not change what is parsed from a client stream.
func FuzzTLS(f *testing.F) {
	c12, c13 := captures(f)
	f.Add(c12.toServer, c12.toClient, uint16(7))
	f.Add(c13.toServer, c13.toClient, uint16(300))
	f.Add(clientHello(0x0303, []uint16{0x1301}, []ext{{0, sniExt("a", "b")}, {ExtALPN, vec16(vec8([]byte("h2")))}}), []byte{RecordAlert, 3, 3, 0, 2, 2, 40}, uint16(3))
	f.Add(handshakeRecord(HandshakeCertificate, []byte{0, 0, 5, 0, 0, 2, 0x30, 0}), []byte{RecordHeartbeat, 3, 3, 0, 3, 1, 0x40, 0}, uint16(1))
	f.Fuzz(func(t *testing.T, toServer, toClient []byte, split uint16) {
		p := NewParser(Options{MaxCertificates: 2})
		s := min(int(split), len(toServer))
		if n := p.Feed(ToServer, toServer[:s]) + p.Feed(ToServer, toServer[s:]); n != len(toServer) {
			t.Fatalf("consumed %d of %d", n, len(toServer))
		}
		s = min(int(split), len(toClient))
		p.Feed(ToClient, toClient[:s])
		p.Feed(ToClient, toClient[s:])
		_ = summary(p)

		// The same client stream in one piece gives the same ClientHello.
		q := NewParser(Options{MaxCertificates: 2})
		q.Feed(ToServer, toServer)
		if string(q.ClientHello.JA3) != string(p.ClientHello.JA3) || q.ClientHello.JA4 != p.ClientHello.JA4 ||
			string(q.ClientHello.SNI) != string(p.ClientHello.SNI) {
			t.Fatalf("split changed the result: %q vs %q", q.ClientHello.JA3, p.ClientHello.JA3)
		}
	})
}
