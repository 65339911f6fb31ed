// Package tls parses the cleartext part of TLS connections (SSLv3 to TLS
// 1.3) from the two byte streams of a TCP flow: the record layer, the
// handshake messages ClientHello, ServerHello and Certificate (TLS <= 1.2,
// where it travels in clear), and the point where the connection becomes
// encrypted. It computes the JA3, JA3S and JA4 fingerprints.
//
// # Use
//
//	p := tls.NewParser()
//	p.Feed(tls.ToServer, chunk) // as the stream hands data, in order
//	p.Feed(tls.ToClient, chunk)
//	if p.ClientHello.Present { sni := p.ClientHello.SNI ... }
//	if p.Encrypted() { /* nothing more to inspect: bypass candidate */ }
//
// A Parser holds the state of one flow and is not safe for concurrent use.
// Records and handshake messages may be split at any byte across Feed calls;
// several handshake messages may share a record and one message may span
// several records. Complete records are parsed in place; only a record or
// handshake message split across chunks is copied (into buffers the parser
// keeps and reuses).
//
// # Ownership and allocation
//
// Everything a Parser exposes (ClientHello, ServerHello, Certificates, the
// fingerprint strings) is owned by it and stays valid until Reset. Parsing
// records, hellos and computing JA3/JA3S/JA4 allocates nothing once the
// parser's buffers have grown. Certificates are the exception: each one is
// copied and parsed with crypto/x509, which allocates, once per certificate
// (Stats.Certificates counts them); Options.MaxCertificates bounds it.
//
// # Detection buffers
//
//	tls.sni              ClientHello.SNI
//	tls.version          Version() / VersionString
//	tls.subject          Certificates[0].Subject
//	tls.issuerdn         Certificates[0].Issuer
//	tls.cert_serial      Certificates[0].Serial
//	tls.cert_fingerprint Certificates[0].Fingerprint
//	tls.certs            Certificates[i].DER
//	ja3.hash, ja3.string     ClientHello.JA3Hash, ClientHello.JA3
//	ja3s.hash, ja3s.string   ServerHello.JA3SHash, ServerHello.JA3S
//	ja4.hash                 ClientHello.JA4
//
// # EVE tls record (Suricata's field names and formats)
//
//	"subject":     "C=US, O=Example, CN=www.example.com" (RDNs in certificate
//	               order, ", " between RDNs, " + " inside a multi-valued RDN)
//	"issuerdn":    same format, for the issuer
//	"serial":      "0A:1B:..." upper-case hex of the DER serial bytes
//	"fingerprint": "ab:cd:..." lower-case hex of the certificate's SHA-1
//	"sni":         the server name
//	"version":     "SSLv2", "SSLv3", "TLSv1", "TLS 1.1", "TLS 1.2", "TLS 1.3",
//	               "UNDETERMINED" (VersionString)
//	"notbefore", "notafter": "2006-01-02T15:04:05" (UTC, FormatTime)
//	"ja3":  {"hash", "string"}   "ja3s": {"hash", "string"}
//	"ja4":  "t13d1516h2_8daaf6152771_e5627efa2ab1"
//
// # Events
//
// Suricata's app-layer event names (tls-events.rules), accumulated per flow
// in Parser.Events; Event.String returns the name.
//
// Events not raised yet: tls.invalid_sslv2_header, tls.invalid_tls_header,
// tls.dataleak_heartbeat_mismatch and the fine-grained certificate events
// (certificate_invalid_version, _serial, _algorithmidentifier, _x509name,
// _date, _extensions, _subject, _issuer, _validity): a certificate that
// crypto/x509 rejects raises tls.certificate_invalid_der.
//
// Not handled: SSLv2 records (a direction starting with an SSLv2 record
// header is not parsed: StateFailed, no event), DTLS, QUIC, client
// certificates (only the server's chain is kept).
package tls
