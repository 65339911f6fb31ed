package output

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/vigil-ids/vigil/dataplane/applayer/tls"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// TLSField is a set of tls record fields for Suricata's custom tls
// logging (EVEConfig.TLSCustom).
type TLSField uint32

// TLS fields, in the order a record writes them.
const (
	TLSSubject        TLSField = 1 << iota // "subject"
	TLSIssuer                              // "issuerdn"
	TLSSessionResumed                      // "session_resumed"
	TLSSerial                              // "serial"
	TLSFingerprint                         // "fingerprint"
	TLSSNI                                 // "sni"
	TLSVersion                             // "version"
	TLSNotBefore                           // "notbefore"
	TLSNotAfter                            // "notafter"
	TLSCertificate                         // "certificate": the server certificate, base64 DER
	TLSChain                               // "chain": every server certificate, base64 DER
	TLSJA3                                 // "ja3" {hash, string} (needs EVEConfig.JA3)
	TLSJA3S                                // "ja3s" {hash, string} (needs EVEConfig.JA3)
	TLSJA4                                 // "ja4" (needs EVEConfig.JA4)
	TLSClientALPNs                         // "client_alpns": the ClientHello's ALPN list
	TLSServerALPNs                         // "server_alpns": the ALPN the server chose
)

// tlsExtended is what Suricata's extended tls logging writes.
const tlsExtended = TLSSubject | TLSIssuer | TLSSessionResumed | TLSSerial | TLSFingerprint |
	TLSSNI | TLSVersion | TLSNotBefore | TLSNotAfter | TLSJA3 | TLSJA3S | TLSJA4

// tlsBasic is what Suricata's basic tls logging writes.
const tlsBasic = TLSSubject | TLSIssuer | TLSSessionResumed

// tlsFieldNames are the names Suricata's tls "custom" list uses.
var tlsFieldNames = [...]struct {
	name string
	f    TLSField
}{
	{"subject", TLSSubject}, {"issuer", TLSIssuer}, {"session_resumed", TLSSessionResumed},
	{"serial", TLSSerial}, {"fingerprint", TLSFingerprint}, {"sni", TLSSNI},
	{"version", TLSVersion}, {"not_before", TLSNotBefore}, {"not_after", TLSNotAfter},
	{"certificate", TLSCertificate}, {"chain", TLSChain}, {"ja3", TLSJA3}, {"ja3s", TLSJA3S},
	{"ja4", TLSJA4}, {"client_alpns", TLSClientALPNs}, {"server_alpns", TLSServerALPNs},
}

// ParseTLSField returns the field a name of Suricata's tls "custom" list
// stands for ("subject", "issuer", "not_before", "ja3s", ...; case is
// ignored).
func ParseTLSField(name string) (TLSField, bool) {
	for _, f := range tlsFieldNames {
		if strings.EqualFold(f.name, name) {
			return f.f, true
		}
	}
	return 0, false
}

var errNilTLS = errors.New("output: eve: tls: nil packet or parser")

// TLS writes a "tls" record for the TLS flow parsed by t, in the flow's
// orientation (fi; the packet's when fi is nil), with Suricata 8's fields
// in its order: subject, issuerdn, session_resumed, serial, fingerprint,
// sni, version, notbefore, notafter, then (custom logging only)
// certificate and chain, then ja3, ja3s, ja4, and (custom only)
// client_alpns, server_alpns. Which of them appear depends on
// EVEConfig.TLSBasic, TLSCustom, JA3 and JA4, and on what the flow showed:
// certificate fields come from the server's first certificate when it
// could be parsed.
//
// Suricata writes the record once per flow, when the handshake is done,
// and only if it saw a certificate, a resumed session or a TLS 1.3
// handshake (which hides the certificate): choosing the moment is the
// caller's part.
func (e *EVE) TLS(p *packet.Packet, flowID uint64, fi *FlowInfo, t *tls.Parser) error {
	if e.s.closed {
		return ErrClosed
	}
	if p == nil || t == nil {
		return errNilTLS
	}
	fields := tlsExtended
	switch {
	case e.cfg.TLSCustom != 0:
		fields = e.cfg.TLSCustom
	case e.cfg.TLSBasic:
		fields = tlsBasic
	}
	e.beginFlow(p, flowID, fi, "tls")
	e.tlsObject(t, fields)
	return e.end()
}

// tlsObject writes the "tls" object with the given fields.
func (e *EVE) tlsObject(t *tls.Parser, fields TLSField) {
	if !e.cfg.JA3 {
		fields &^= TLSJA3 | TLSJA3S
	}
	if !e.cfg.JA4 {
		fields &^= TLSJA4
	}
	j := &e.s.j
	j.openObject("tls")
	var cert *tls.Certificate
	if len(t.Certificates) > 0 && t.Certificates[0].Err == nil {
		cert = &t.Certificates[0]
	}
	if cert != nil && fields&TLSSubject != 0 {
		j.str("subject", cert.Subject)
	}
	if cert != nil && fields&TLSIssuer != 0 {
		j.str("issuerdn", cert.Issuer)
	}
	if fields&TLSSessionResumed != 0 && cert == nil && tlsResumed(t) {
		j.boolean("session_resumed", true)
	}
	if cert != nil && fields&TLSSerial != 0 && cert.Serial != "" {
		j.str("serial", cert.Serial)
	}
	if cert != nil && fields&TLSFingerprint != 0 && cert.Fingerprint != "" {
		j.str("fingerprint", cert.Fingerprint)
	}
	if fields&TLSSNI != 0 && t.ClientHello.Present && len(t.ClientHello.SNI) > 0 {
		j.bytes("sni", t.ClientHello.SNI)
	}
	if fields&TLSVersion != 0 {
		j.str("version", tls.VersionString(t.Version()))
	}
	if cert != nil && fields&TLSNotBefore != 0 && cert.NotBefore.Unix() != 0 && !cert.NotBefore.IsZero() {
		j.key("notbefore")
		j.b = append(j.b, '"')
		j.b = cert.NotBefore.UTC().AppendFormat(j.b, tls.TimeLayout)
		j.b = append(j.b, '"')
	}
	if cert != nil && fields&TLSNotAfter != 0 && cert.NotAfter.Unix() != 0 && !cert.NotAfter.IsZero() {
		j.key("notafter")
		j.b = append(j.b, '"')
		j.b = cert.NotAfter.UTC().AppendFormat(j.b, tls.TimeLayout)
		j.b = append(j.b, '"')
	}
	if fields&TLSCertificate != 0 && len(t.Certificates) > 0 {
		j.base64("certificate", t.Certificates[0].DER)
	}
	if fields&TLSChain != 0 && len(t.Certificates) > 0 {
		j.openArray("chain")
		for i := range t.Certificates {
			j.sep()
			j.b = append(j.b, '"')
			j.b = base64.StdEncoding.AppendEncode(j.b, t.Certificates[i].DER)
			j.b = append(j.b, '"')
		}
		j.closeArray()
	}
	if fields&TLSJA3 != 0 && t.ClientHello.Present {
		j.openObject("ja3")
		j.key("hash")
		j.b = append(j.b, '"')
		j.b = append(j.b, t.ClientHello.JA3Hash[:]...)
		j.b = append(j.b, '"')
		j.bytes("string", t.ClientHello.JA3)
		j.closeObject()
	}
	if fields&TLSJA3S != 0 && t.ServerHello.Present {
		j.openObject("ja3s")
		j.key("hash")
		j.b = append(j.b, '"')
		j.b = append(j.b, t.ServerHello.JA3SHash[:]...)
		j.b = append(j.b, '"')
		j.bytes("string", t.ServerHello.JA3S)
		j.closeObject()
	}
	if fields&TLSJA4 != 0 && t.ClientHello.Present {
		j.bytes("ja4", t.ClientHello.JA4[:])
	}
	if fields&TLSClientALPNs != 0 && t.ClientHello.Present && len(t.ClientHello.ALPN) > 0 {
		j.openArray("client_alpns")
		for _, a := range t.ClientHello.ALPN {
			j.appendBytesElem(a)
		}
		j.closeArray()
	}
	if fields&TLSServerALPNs != 0 && t.ServerHello.Present && len(t.ServerHello.ALPN) > 0 {
		j.openArray("server_alpns")
		j.appendBytesElem(t.ServerHello.ALPN)
		j.closeArray()
	}
	j.closeObject()
}

// tlsResumed reports whether the flow resumed a session by session id, as
// Suricata decides it: the ServerHello echoes the client's non-empty
// session id, and the handshake is not TLS 1.3 (whose ServerHello echoes
// the id for middlebox compatibility and which Suricata logs without a
// certificate instead).
func tlsResumed(t *tls.Parser) bool {
	sh, ch := &t.ServerHello, &t.ClientHello
	if !sh.Present || !ch.Present || sh.HelloRetry || len(sh.SessionID) == 0 {
		return false
	}
	if t.Version() >= tls.VersionTLS13 {
		return false
	}
	return bytes.Equal(sh.SessionID, ch.SessionID)
}
