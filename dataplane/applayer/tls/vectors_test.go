package tls

import (
	"encoding/binary"
	"strings"
	"testing"
)

type ext struct {
	typ  uint16
	data []byte
}

func u16s(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func vec16(b []byte) []byte { return append(u16s(uint16(len(b))), b...) }
func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }

// handshakeRecord wraps a handshake message body in a message and a record.
func handshakeRecord(typ byte, body []byte) []byte {
	msg := append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{RecordHandshake, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

func clientHello(version uint16, ciphers []uint16, exts []ext) []byte {
	b := u16s(version)
	b = append(b, make([]byte, 32)...) // random
	b = append(b, 0)                   // session id
	b = append(b, vec16(u16s(ciphers...))...)
	b = append(b, 1, 0) // compression: null
	var e []byte
	for _, x := range exts {
		e = append(e, u16s(x.typ)...)
		e = append(e, vec16(x.data)...)
	}
	if exts != nil {
		b = append(b, vec16(e)...)
	}
	return handshakeRecord(HandshakeClientHello, b)
}

func sniExt(names ...string) []byte {
	var l []byte
	for _, n := range names {
		l = append(l, 0)
		l = append(l, vec16([]byte(n))...)
	}
	return vec16(l)
}

// TestJA3Vector checks the example of the JA3 README:
// 769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0
// -> ada70206e40642a3e4461f35503241d5, with GREASE values added (left out).
func TestJA3Vector(t *testing.T) {
	rec := clientHello(769,
		[]uint16{0x0a0a, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4},
		[]ext{
			{0x1a1a, nil},
			{ExtServerName, sniExt("example.com")},
			{ExtSupportedGroups, vec16(u16s(0x2a2a, 23, 24, 25))},
			{ExtECPointFormats, vec8([]byte{0})},
		})
	p := NewParser(Options{})
	p.Feed(ToServer, rec)
	c := &p.ClientHello
	if string(c.JA3) != "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0" {
		t.Errorf("ja3 string %s", c.JA3)
	}
	if string(c.JA3Hash[:]) != "ada70206e40642a3e4461f35503241d5" {
		t.Errorf("ja3 hash %s", c.JA3Hash)
	}
	if string(c.SNI) != "example.com" || p.Events != 0 {
		t.Errorf("sni %q events %b", c.SNI, p.Events)
	}
}

// TestJA4Vector rebuilds the ClientHello of the JA4 README example
// (t13d1516h2_8daaf6152771_e5627efa2ab1): 15 ciphers, 16 extensions
// including SNI and ALPN h2, signature algorithms in wire order, plus
// GREASE values that JA4 leaves out.
func TestJA4Vector(t *testing.T) {
	ciphers := []uint16{0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	alpn := vec16(append(vec8([]byte("h2")), vec8([]byte("http/1.1"))...))
	exts := []ext{
		{0x4a4a, nil},
		{0x001b, []byte{2, 0, 2}}, {ExtServerName, sniExt("example.com")}, {0x0023, nil},
		{ExtSupportedVersions, vec8(u16s(0x5a5a, 0x0304, 0x0303))},
		{ExtSignatureAlgorithms, vec16(u16s(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601))},
		{0x0005, []byte{1, 0, 0, 0, 0}}, {0x0012, nil}, {ExtALPN, alpn}, {ExtSupportedGroups, vec16(u16s(0x001d, 0x0017))},
		{0xff01, []byte{0}}, {0x002d, []byte{1, 1}}, {ExtKeyShare, vec16(append(u16s(0x001d, 1), 0))}, {0x4469, nil},
		{ExtECPointFormats, vec8([]byte{0})}, {0x0017, nil}, {0x0015, make([]byte, 10)},
		{0x6a6a, []byte{0}},
	}
	p := NewParser(Options{})
	p.Feed(ToServer, clientHello(0x0303, ciphers, exts))
	if got := string(p.ClientHello.JA4[:]); got != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("ja4 %s\n%s", got, summary(p))
	}
	if !p.ClientHello.KeyShare || p.Events != 0 {
		t.Errorf("%s", summary(p))
	}
}

func TestJA4Edges(t *testing.T) {
	// No SNI, no ALPN, no extensions, no ciphers.
	p := NewParser(Options{})
	p.Feed(ToServer, clientHello(0x0301, nil, nil))
	if got := string(p.ClientHello.JA4[:]); got != "t10i000000_000000000000_000000000000" {
		t.Errorf("empty hello: %s", got)
	}
	// ALPN with non-alphanumeric first/last bytes uses hex digits.
	p = NewParser(Options{})
	p.Feed(ToServer, clientHello(0x0303, []uint16{0x002f}, []ext{{ExtALPN, vec16(vec8([]byte{0xab, 'x', 0xcd}))}}))
	if got := string(p.ClientHello.JA4[:4+6]); got != "t12i0101ad" {
		t.Errorf("alpn hex: %s", p.ClientHello.JA4)
	}
}

func TestEvents(t *testing.T) {
	hb := func(payloadLen uint16, total int) []byte {
		body := append([]byte{1}, u16s(payloadLen)...)
		body = append(body, make([]byte, total-3)...)
		return append([]byte{RecordHeartbeat, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	ch := clientHello(0x0303, []uint16{0x002f}, nil)
	cases := []struct {
		name   string
		dir    Direction
		data   []byte
		events []Event
		failed bool
	}{
		{"record type", ToServer, []byte{0x17 + 10, 3, 3, 0, 1, 0}, []Event{EventInvalidRecordType}, true},
		{"record version", ToServer, []byte{RecordHandshake, 2, 0, 0, 1, 0}, []Event{EventInvalidRecordVersion}, true},
		{"record too long", ToServer, []byte{RecordApplicationData, 3, 3, 0xff, 0xff}, []Event{EventInvalidSSLRecord}, true},
		{"http", ToServer, []byte("GET / HTTP/1.1\r\n"), []Event{EventInvalidRecordType}, true},
		{"sslv2", ToServer, []byte{0x80, 0x2e, 0x01, 0x00, 0x02}, nil, true},
		{"multiple sni", ToServer, clientHello(0x0303, []uint16{1}, []ext{{0, sniExt("a")}, {0, sniExt("b")}}), []Event{EventMultipleSNIExtensions}, false},
		{"sni type", ToServer, clientHello(0x0303, []uint16{1}, []ext{{0, vec16(append([]byte{1}, vec16([]byte("a"))...))}}), []Event{EventInvalidSNIType}, false},
		{"sni length", ToServer, clientHello(0x0303, []uint16{1}, []ext{{0, append(u16s(9), 0, 0, 1, 'a')}}), []Event{EventInvalidSNILength}, false},
		{"hello cut", ToServer, handshakeRecord(HandshakeClientHello, []byte{3, 3, 1}), []Event{EventHandshakeInvalidLength}, false},
		{"extension cut", ToServer, clientHello(0x0303, []uint16{1}, []ext{{10, []byte{0, 5, 0}}}), []Event{EventHandshakeInvalidLength}, false},
		{"client hello to client", ToClient, ch, []Event{EventInvalidHandshakeMessage}, false},
		{"unknown handshake", ToServer, handshakeRecord(99, nil), []Event{EventInvalidHandshakeMessage}, false},
		{"huge handshake", ToServer, []byte{RecordHandshake, 3, 3, 0, 4, 11, 0x7f, 0, 0}, []Event{EventHandshakeInvalidLength}, true},
		{"alert", ToClient, []byte{RecordAlert, 3, 3, 0, 2, 2, 40}, []Event{EventErrorMessageEncountered}, false},
		{"alert warning", ToClient, []byte{RecordAlert, 3, 3, 0, 2, 1, 0}, nil, false},
		{"alert length", ToClient, []byte{RecordAlert, 3, 3, 0, 3, 2, 40, 0}, []Event{EventInvalidAlertMessage}, false},
		{"heartbeat", ToServer, hb(3, 3+3+16), []Event{EventHeartbeatMessage}, false},
		{"heartbleed", ToServer, hb(0x4000, 3+16), []Event{EventHeartbeatMessage, EventOverflowHeartbeatMessage}, false},
		{"heartbeat short", ToServer, []byte{RecordHeartbeat, 3, 3, 0, 1, 1}, []Event{EventHeartbeatMessage, EventInvalidHeartbeatMessage}, false},
		{"cert length", ToClient, handshakeRecord(HandshakeCertificate, []byte{0, 0, 9, 0, 0, 1, 0}), []Event{EventCertificateInvalidLength}, false},
		{"cert der", ToClient, handshakeRecord(HandshakeCertificate, []byte{0, 0, 5, 0, 0, 2, 0x30, 0}), []Event{EventCertificateInvalidDER}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewParser(Options{})
			p.Feed(c.dir, c.data)
			var want Events
			for _, e := range c.events {
				want |= 1 << e
			}
			if p.Events != want {
				t.Errorf("events %s, want %s", eventList(p.Events), eventList(want))
			}
			if (p.State(c.dir) == StateFailed) != c.failed {
				t.Errorf("state %d", p.State(c.dir))
			}
		})
	}
}

func TestTooManyRecords(t *testing.T) {
	var b []byte
	for range 300 {
		b = append(b, RecordAlert, 3, 3, 0, 2, 1, 0)
	}
	p := NewParser(Options{})
	p.Feed(ToClient, b)
	if !p.Events.Has(EventTooManyRecordsInPacket) {
		t.Errorf("events %s", eventList(p.Events))
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
		if got, ok := EventByName(e.String()); !ok || got != e {
			t.Errorf("%v", e)
		}
	}
}

func TestVersionString(t *testing.T) {
	for v, want := range map[uint16]string{0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3", 0: "UNDETERMINED", 0x7f1c: "TLS 1.3 draft-28"} {
		if got := VersionString(v); got != want {
			t.Errorf("%x: %s", v, got)
		}
	}
}
