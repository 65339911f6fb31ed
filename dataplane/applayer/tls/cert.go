package tls

import (
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"
)

// Certificate is one certificate of the server's chain, with the fields
// Suricata logs and matches (formats in the package doc).
type Certificate struct {
	DER         []byte // tls.certs
	Subject     string
	Issuer      string
	Serial      string
	Fingerprint string
	NotBefore   time.Time
	NotAfter    time.Time
	// Err is set when the certificate could not be parsed; the other
	// fields except DER and Fingerprint are then empty.
	Err error
}

// TimeLayout is the layout of EVE's notbefore and notafter.
const TimeLayout = "2006-01-02T15:04:05"

// FormatTime formats t as EVE's notbefore/notafter (UTC).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// parseCertificates reads a Certificate message (TLS <= 1.2 layout:
// certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>).
func (p *Parser) parseCertificates(msg []byte) {
	if len(msg) < 3 {
		p.event(EventCertificateInvalidLength)
		return
	}
	total := int(msg[0])<<16 | int(msg[1])<<8 | int(msg[2])
	list := msg[3:]
	if total != len(list) {
		p.event(EventCertificateInvalidLength)
		return
	}
	if p.opts.MaxCertificates < 0 {
		return
	}
	for len(list) > 0 {
		if len(list) < 3 {
			p.event(EventCertificateInvalidLength)
			return
		}
		n := int(list[0])<<16 | int(list[1])<<8 | int(list[2])
		if n == 0 || 3+n > len(list) {
			p.event(EventCertificateInvalidLength)
			return
		}
		if len(p.Certificates) >= p.opts.MaxCertificates {
			return
		}
		p.Certificates = append(p.Certificates, p.parseCertificate(list[3:3+n]))
		list = list[3+n:]
	}
}

func (p *Parser) parseCertificate(der []byte) Certificate {
	p.Stats.Certificates++
	c := Certificate{DER: append([]byte(nil), der...)}
	sum := sha1.Sum(c.DER)
	c.Fingerprint = colonHex(sum[:], hexLower)
	x, err := x509.ParseCertificate(c.DER)
	if err != nil {
		p.event(EventCertificateInvalidDER)
		c.Err = fmt.Errorf("tls: certificate %d: %w", len(p.Certificates), err)
		return c
	}
	var subj, iss pkix.RDNSequence
	if _, err := asn1.Unmarshal(x.RawSubject, &subj); err != nil {
		p.event(EventInvalidCertificate)
	}
	if _, err := asn1.Unmarshal(x.RawIssuer, &iss); err != nil {
		p.event(EventInvalidCertificate)
	}
	c.Subject = formatRDN(subj)
	c.Issuer = formatRDN(iss)
	if raw, ok := rawSerial(x.RawTBSCertificate); ok {
		c.Serial = colonHex(raw, "0123456789ABCDEF")
	}
	c.NotBefore = x.NotBefore
	c.NotAfter = x.NotAfter
	return c
}

func colonHex(b []byte, digits string) string {
	if len(b) == 0 {
		return ""
	}
	out := make([]byte, 0, len(b)*3-1)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

// attrNames are the short names used for distinguished name attributes.
var attrNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.15":                   "businessCategory",
	"2.5.4.17":                   "postalCode",
	"2.5.4.42":                   "givenName",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
}

// formatRDN renders a name in certificate order: "C=US, O=Example, CN=x",
// with " + " between the attributes of a multi-valued RDN.
func formatRDN(seq pkix.RDNSequence) string {
	var b strings.Builder
	for i, rdn := range seq {
		if i > 0 {
			b.WriteString(", ")
		}
		for j, atv := range rdn {
			if j > 0 {
				b.WriteString(" + ")
			}
			oid := atv.Type.String()
			if n, ok := attrNames[oid]; ok {
				b.WriteString(n)
			} else {
				b.WriteString(oid)
			}
			b.WriteByte('=')
			switch v := atv.Value.(type) {
			case string:
				b.WriteString(v)
			case []byte:
				b.WriteString(colonHex(v, hexLower))
			default:
				fmt.Fprint(&b, v)
			}
		}
	}
	return b.String()
}

// derElem reads one DER element: tag, content, rest.
func derElem(b []byte) (tag byte, content, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	tag = b[0]
	n := int(b[1])
	off := 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return 0, nil, nil, false
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		off += k
	}
	if off+n > len(b) {
		return 0, nil, nil, false
	}
	return tag, b[off : off+n], b[off+n:], true
}

// rawSerial returns the content bytes of the serialNumber INTEGER of a
// TBSCertificate, as they are encoded (a leading 0x00 kept).
func rawSerial(tbs []byte) ([]byte, bool) {
	tag, body, _, ok := derElem(tbs)
	if !ok || tag != 0x30 {
		return nil, false
	}
	tag, content, rest, ok := derElem(body)
	if ok && tag == 0xa0 { // [0] EXPLICIT version
		tag, content, _, ok = derElem(rest)
	}
	if !ok || tag != 0x02 {
		return nil, false
	}
	return content, true
}
