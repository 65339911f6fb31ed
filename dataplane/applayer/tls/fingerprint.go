package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"slices"
	"strconv"
)

// IsGREASE reports whether v is a GREASE value (RFC 8701: 0x0a0a, 0x1a1a,
// ... 0xfafa), which JA3 and JA4 leave out.
func IsGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

const hexLower = "0123456789abcdef"

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexLower[c>>4], hexLower[c&0xf])
	}
	return dst
}

// appendDashList appends the non-GREASE values in decimal, joined by '-'.
func appendDashList(dst []byte, vs []uint16) []byte {
	first := true
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if !first {
			dst = append(dst, '-')
		}
		first = false
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	return dst
}

// ja3 computes "SSLVersion,Ciphers,Extensions,EllipticCurves,ECPointFormats"
// and its MD5.
func (p *Parser) ja3(c *ClientHello) {
	b := c.JA3[:0]
	b = strconv.AppendUint(b, uint64(c.Version), 10)
	b = append(b, ',')
	b = appendDashList(b, c.CipherSuites)
	b = append(b, ',')
	b = appendDashList(b, c.Extensions)
	b = append(b, ',')
	b = appendDashList(b, c.SupportedGroups)
	b = append(b, ',')
	for i, f := range c.ECPointFormats {
		if i > 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(f), 10)
	}
	c.JA3 = b
	sum := md5.Sum(b)
	appendHex(c.JA3Hash[:0], sum[:])
}

// ja3s computes "SSLVersion,Cipher,Extensions" and its MD5.
func (p *Parser) ja3s(s *ServerHello) {
	b := s.JA3S[:0]
	b = strconv.AppendUint(b, uint64(s.Version), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(s.CipherSuite), 10)
	b = append(b, ',')
	b = appendDashList(b, s.Extensions)
	s.JA3S = b
	sum := md5.Sum(b)
	appendHex(s.JA3SHash[:0], sum[:])
}

func ja4Version(v uint16) string {
	switch v {
	case VersionTLS13:
		return "13"
	case VersionTLS12:
		return "12"
	case VersionTLS11:
		return "11"
	case VersionTLS10:
		return "10"
	case VersionSSL3:
		return "s3"
	case VersionSSL2:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func count2(dst []byte, n int) []byte {
	n = min(n, 99)
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendHex4List appends values as 4-digit lower-case hex joined by ','.
func appendHex4List(dst []byte, vs []uint16) []byte {
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, hexLower[v>>12], hexLower[v>>8&0xf], hexLower[v>>4&0xf], hexLower[v&0xf])
	}
	return dst
}

// ja4 computes the FoxIO JA4 client fingerprint (TCP).
func (p *Parser) ja4(c *ClientHello) {
	out := c.JA4[:0]
	out = append(out, 't')
	ver := c.Version
	if len(c.SupportedVersions) > 0 {
		ver = 0
		for _, v := range c.SupportedVersions {
			if !IsGREASE(v) && v > ver {
				ver = v
			}
		}
	}
	out = append(out, ja4Version(ver)...)
	if slices.Contains(c.Extensions, ExtServerName) {
		out = append(out, 'd')
	} else {
		out = append(out, 'i')
	}

	// Cipher suites without GREASE, sorted.
	sc := p.scratch[:0]
	for _, v := range c.CipherSuites {
		if !IsGREASE(v) {
			sc = append(sc, v)
		}
	}
	out = count2(out, len(sc))
	nciphers := len(sc)
	next := 0
	for _, v := range c.Extensions {
		if !IsGREASE(v) {
			next++
		}
	}
	out = count2(out, next)
	if len(c.ALPN) > 0 && len(c.ALPN[0]) > 0 {
		a := c.ALPN[0]
		f, l := a[0], a[len(a)-1]
		if isAlnum(f) && isAlnum(l) {
			out = append(out, f, l)
		} else {
			out = append(out, hexLower[f>>4], hexLower[l&0xf])
		}
	} else {
		out = append(out, '0', '0')
	}
	out = append(out, '_')

	h := p.hexbuf[:0]
	slices.Sort(sc)
	if nciphers == 0 {
		out = append(out, "000000000000"...)
	} else {
		h = appendHex4List(h, sc)
		sum := sha256.Sum256(h)
		out = appendHex(out, sum[:6])
	}
	out = append(out, '_')

	// Extensions without GREASE, SNI and ALPN, sorted; then the signature
	// algorithms in wire order.
	sc = sc[:0]
	for _, v := range c.Extensions {
		if !IsGREASE(v) && v != ExtServerName && v != ExtALPN {
			sc = append(sc, v)
		}
	}
	if len(sc) == 0 {
		out = append(out, "000000000000"...)
	} else {
		slices.Sort(sc)
		h = appendHex4List(h[:0], sc)
		if len(c.SignatureAlgorithms) > 0 {
			h = append(h, '_')
			h = appendHex4List(h, c.SignatureAlgorithms)
		}
		sum := sha256.Sum256(h)
		out = appendHex(out, sum[:6])
	}
	p.scratch = sc
	p.hexbuf = h
	_ = out // written in place into c.JA4 (36 bytes exactly)
}
