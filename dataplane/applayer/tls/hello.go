package tls

import "encoding/binary"

// Extension types read here.
const (
	ExtServerName          uint16 = 0
	ExtSupportedGroups     uint16 = 10
	ExtECPointFormats      uint16 = 11
	ExtSignatureAlgorithms uint16 = 13
	ExtALPN                uint16 = 16
	ExtSupportedVersions   uint16 = 43
	ExtKeyShare            uint16 = 51
)

// ClientHello holds the fields of the client's hello. Slices point into
// a buffer the parser owns (valid until Reset or the next ClientHello).
type ClientHello struct {
	Present             bool
	Version             uint16 // legacy_version
	Random              [32]byte
	SessionID           []byte
	CipherSuites        []uint16
	Compression         []byte
	Extensions          []uint16 // extension types in wire order
	SNI                 []byte   // first host_name of server_name
	SupportedVersions   []uint16
	ALPN                [][]byte
	SupportedGroups     []uint16
	ECPointFormats      []byte
	SignatureAlgorithms []uint16
	KeyShare            bool // key_share extension present

	JA3     []byte   // JA3 string
	JA3Hash [32]byte // lower-case hex MD5 of JA3
	JA4     [36]byte // "t13d1516h2_8daaf6152771_e5627efa2ab1"

	raw []byte
}

func (c *ClientHello) reset() {
	*c = ClientHello{
		SessionID: c.SessionID[:0], CipherSuites: c.CipherSuites[:0], Compression: c.Compression[:0],
		Extensions: c.Extensions[:0], SupportedVersions: c.SupportedVersions[:0], ALPN: c.ALPN[:0],
		SupportedGroups: c.SupportedGroups[:0], ECPointFormats: c.ECPointFormats[:0],
		SignatureAlgorithms: c.SignatureAlgorithms[:0], JA3: c.JA3[:0], raw: c.raw[:0],
	}
}

// ServerHello holds the fields of the server's hello.
type ServerHello struct {
	Present         bool
	Version         uint16 // legacy_version
	Random          [32]byte
	SessionID       []byte
	CipherSuite     uint16
	Compression     uint8
	Extensions      []uint16
	SelectedVersion uint16 // supported_versions (TLS 1.3), 0 when absent
	ALPN            []byte
	HelloRetry      bool // HelloRetryRequest (TLS 1.3)

	JA3S     []byte
	JA3SHash [32]byte

	raw []byte
}

func (s *ServerHello) reset() {
	*s = ServerHello{SessionID: s.SessionID[:0], Extensions: s.Extensions[:0], JA3S: s.JA3S[:0], raw: s.raw[:0]}
}

// helloRetryRandom is the Random of a HelloRetryRequest (RFC 8446 4.1.3).
var helloRetryRandom = [32]byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// reader reads big-endian fields; any short read sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// vec8 and vec16 read a vector with a 1- or 2-byte length.
func (r *reader) vec8() []byte  { return r.bytes(int(r.u8())) }
func (r *reader) vec16() []byte { return r.bytes(int(r.u16())) }

func appendU16s(dst []uint16, b []byte) ([]uint16, bool) {
	if len(b)%2 != 0 {
		return dst, false
	}
	for i := 0; i < len(b); i += 2 {
		dst = append(dst, binary.BigEndian.Uint16(b[i:]))
	}
	return dst, true
}

// parseClientHello parses a ClientHello body. A second ClientHello (after a
// HelloRetryRequest) replaces the first.
func (p *Parser) parseClientHello(msg []byte) {
	c := &p.ClientHello
	c.reset()
	c.raw = append(c.raw, msg...) // own copy: SNI, ALPN, session id point here
	r := reader{b: c.raw}
	c.Version = r.u16()
	copy(c.Random[:], r.bytes(32))
	c.SessionID = r.vec8()
	cs := r.vec16()
	c.Compression = r.vec8()
	if r.bad {
		p.event(EventHandshakeInvalidLength)
		return
	}
	var ok bool
	if c.CipherSuites, ok = appendU16s(c.CipherSuites, cs); !ok {
		p.event(EventHandshakeInvalidLength)
		return
	}
	if len(r.b) > 0 {
		exts := r.vec16()
		if r.bad || len(r.b) != 0 {
			p.event(EventHandshakeInvalidLength)
			return
		}
		if !p.clientExtensions(exts) {
			p.event(EventHandshakeInvalidLength)
			return
		}
	}
	c.Present = true
	p.ja3(c)
	p.ja4(c)
}

func (p *Parser) clientExtensions(b []byte) bool {
	c := &p.ClientHello
	r := reader{b: b}
	sniSeen := false
	for len(r.b) > 0 {
		typ := r.u16()
		data := r.vec16()
		if r.bad {
			return false
		}
		c.Extensions = append(c.Extensions, typ)
		e := reader{b: data}
		var ok = true
		switch typ {
		case ExtServerName:
			if sniSeen {
				p.event(EventMultipleSNIExtensions)
				continue
			}
			sniSeen = true
			p.sni(data)
		case ExtSupportedVersions:
			c.SupportedVersions, ok = appendU16s(c.SupportedVersions, e.vec8())
		case ExtSupportedGroups:
			c.SupportedGroups, ok = appendU16s(c.SupportedGroups, e.vec16())
		case ExtECPointFormats:
			c.ECPointFormats = e.vec8()
		case ExtSignatureAlgorithms:
			c.SignatureAlgorithms, ok = appendU16s(c.SignatureAlgorithms, e.vec16())
		case ExtKeyShare:
			c.KeyShare = true
		case ExtALPN:
			list := reader{b: e.vec16()}
			for len(list.b) > 0 && !list.bad {
				if name := list.vec8(); !list.bad {
					c.ALPN = append(c.ALPN, name)
				}
			}
			ok = !list.bad
		}
		if e.bad || !ok {
			return false
		}
	}
	return true
}

// sni reads the server_name extension (RFC 6066 3).
func (p *Parser) sni(data []byte) {
	r := reader{b: data}
	list := r.vec16()
	if r.bad || len(r.b) != 0 {
		p.event(EventInvalidSNILength)
		return
	}
	l := reader{b: list}
	for len(l.b) > 0 {
		typ := l.u8()
		name := l.vec16()
		if l.bad {
			p.event(EventInvalidSNILength)
			return
		}
		if typ != 0 {
			p.event(EventInvalidSNIType)
			continue
		}
		if p.ClientHello.SNI == nil {
			p.ClientHello.SNI = name
		}
	}
}

// parseServerHello parses a ServerHello body.
func (p *Parser) parseServerHello(msg []byte) {
	s := &p.ServerHello
	s.reset()
	s.raw = append(s.raw, msg...)
	r := reader{b: s.raw}
	s.Version = r.u16()
	copy(s.Random[:], r.bytes(32))
	s.SessionID = r.vec8()
	s.CipherSuite = r.u16()
	s.Compression = r.u8()
	if r.bad {
		p.event(EventHandshakeInvalidLength)
		return
	}
	s.HelloRetry = s.Random == helloRetryRandom
	if len(r.b) > 0 {
		exts := reader{b: r.vec16()}
		if r.bad || len(r.b) != 0 {
			p.event(EventHandshakeInvalidLength)
			return
		}
		for len(exts.b) > 0 {
			typ := exts.u16()
			data := exts.vec16()
			if exts.bad {
				p.event(EventHandshakeInvalidLength)
				return
			}
			s.Extensions = append(s.Extensions, typ)
			e := reader{b: data}
			switch typ {
			case ExtSupportedVersions:
				s.SelectedVersion = e.u16()
			case ExtALPN:
				list := reader{b: e.vec16()}
				s.ALPN = list.vec8()
				e.bad = e.bad || list.bad
			}
			if e.bad {
				p.event(EventHandshakeInvalidLength)
				return
			}
		}
	}
	s.Present = true
	p.ja3s(s)
}
