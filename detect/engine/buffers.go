package engine

import (
	"fmt"
	"sort"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/detect/rules"
)

// Inspection buffers.
//
// Every content-like keyword (content, pcre, isdataat, byte_*, bsize, ...)
// inspects one buffer: the packet payload (pkt_data), a raw header
// (ipv4.hdr, tcp.hdr, ...) or an application-layer buffer (http.uri,
// dns.query, tls.sni, ...). A rule selects the buffer with a sticky-buffer
// keyword (`http.uri; content:"x";`), with a legacy content modifier
// (`content:"x"; http_uri;`), or with a pcre buffer flag (/U). Buffers are
// registered once, below; each has the direction its data flows in and the
// application protocols that provide it.
//
// The app layer hands the buffers of the transaction being inspected to
// Thread.InspectApp through the AppState interface. A signature whose
// buffer is absent does not match.

// BufferID names an inspection buffer.
type BufferID uint8

// Direction is the flow direction a buffer's data travels in.
type Direction uint8

const (
	DirToServer Direction = 1 << iota // client to server (request)
	DirToClient                       // server to client (response)
	DirBoth     = DirToServer | DirToClient
)

func (d Direction) String() string {
	switch d {
	case DirToServer:
		return "to_server"
	case DirToClient:
		return "to_client"
	case DirBoth:
		return "both"
	}
	return "none"
}

// ProtoMask is a set of flow.AppProto values (bit n = AppProto n).
type ProtoMask uint64

func protoMask(ps ...flow.AppProto) ProtoMask {
	var m ProtoMask
	for _, p := range ps {
		m |= 1 << p
	}
	return m
}

// Has reports whether p is in the set.
func (m ProtoMask) Has(p flow.AppProto) bool { return p < 64 && m&(1<<p) != 0 }

// BufferInfo describes a registered buffer.
type BufferInfo struct {
	ID   BufferID
	Name string // sticky-buffer keyword (Suricata 7+ name)
	// Dir is the direction whose data the buffer holds.
	Dir Direction
	// Protos are the app protocols that fill it; 0 for packet buffers.
	Protos ProtoMask
	// Multi: the buffer has several instances per transaction (one per
	// DNS query, per certificate, per header, ...); a rule matches when
	// one instance matches.
	Multi bool
	// Priority is the fast-pattern priority (lower wins), as Suricata's
	// buffer priorities: 2 for app-layer and header buffers, 3 for
	// pkt_data and http.method.
	Priority int
}

// Packet buffers.
const (
	BufPktData   BufferID = iota // packet payload ("pkt_data")
	BufIPv4Hdr                   // ipv4.hdr: the IPv4 header with options
	BufIPv6Hdr                   // ipv6.hdr: the IPv6 header with extension headers
	BufTCPHdr                    // tcp.hdr: the TCP header with options
	BufUDPHdr                    // udp.hdr: the 8-byte UDP header
	BufICMPv4Hdr                 // icmpv4.hdr
	BufICMPv6Hdr                 // icmpv6.hdr
	// BufBase64Data is the output of the signature's last base64_decode
	// (base64_data); it is inspected as part of the buffer holding the
	// base64_decode, never fed by the app layer.
	BufBase64Data
	numPacketBuffers
)

// firstAppBuffer is the first app-layer buffer's ID.
const firstAppBuffer = numPacketBuffers

var (
	buffers      []BufferInfo
	bufferByName = map[string]BufferID{}
)

var (
	protoHTTP  = protoMask(flow.AppProtoHTTP1, flow.AppProtoHTTP2)
	protoDNS   = protoMask(flow.AppProtoDNS)
	protoTLS   = protoMask(flow.AppProtoTLS)
	protoSSH   = protoMask(flow.AppProtoSSH)
	protoFiles = protoMask(flow.AppProtoHTTP1, flow.AppProtoHTTP2, flow.AppProtoSMTP, flow.AppProtoFTP,
		flow.AppProtoFTPData, flow.AppProtoSMB, flow.AppProtoNFS)
)

func addBuffer(name string, dir Direction, protos ProtoMask, multi bool, prio int, aliases ...string) BufferID {
	id := BufferID(len(buffers))
	buffers = append(buffers, BufferInfo{ID: id, Name: name, Dir: dir, Protos: protos, Multi: multi, Priority: prio})
	bufferByName[name] = id
	for _, a := range aliases {
		bufferByName[a] = id
	}
	return id
}

// App-layer buffers with a fixed ID the engine refers to.
var (
	BufHTTPURI          BufferID
	BufHTTPURIRaw       BufferID
	BufHTTPRequestBody  BufferID
	BufHTTPResponseBody BufferID
	BufFileData         BufferID
)

func init() {
	for _, b := range []struct {
		name string
		dir  Direction
	}{{"pkt_data", DirBoth}, {"ipv4.hdr", DirBoth}, {"ipv6.hdr", DirBoth}, {"tcp.hdr", DirBoth},
		{"udp.hdr", DirBoth}, {"icmpv4.hdr", DirBoth}, {"icmpv6.hdr", DirBoth}, {"base64_data", DirBoth}} {
		prio := 2
		if b.name == "pkt_data" {
			prio = 3
		}
		addBuffer(b.name, b.dir, 0, false, prio)
	}
	if len(buffers) != int(numPacketBuffers) {
		panic("engine: packet buffer table out of order")
	}
	ts, tc, both := DirToServer, DirToClient, DirBoth
	// HTTP request
	BufHTTPURI = addBuffer("http.uri", ts, protoHTTP, false, 2)
	BufHTTPURIRaw = addBuffer("http.uri.raw", ts, protoHTTP, false, 2)
	addBuffer("http.method", ts, protoHTTP, false, 3)
	addBuffer("http.request_line", ts, protoHTTP, false, 2, "http_request_line")
	addBuffer("http.host", ts, protoHTTP, false, 2)
	addBuffer("http.host.raw", ts, protoHTTP, false, 2)
	addBuffer("http.user_agent", ts, protoHTTP, false, 2)
	BufHTTPRequestBody = addBuffer("http.request_body", ts, protoHTTP, false, 2)
	addBuffer("http.accept", ts, protoHTTP, false, 2, "http_accept")
	addBuffer("http.accept_enc", ts, protoHTTP, false, 2, "http_accept_enc")
	addBuffer("http.accept_lang", ts, protoHTTP, false, 2, "http_accept_lang")
	addBuffer("http.referer", ts, protoHTTP, false, 2, "http_referer")
	addBuffer("http.request_header", ts, protoHTTP, true, 2)
	addBuffer("http2.header_name", both, protoMask(flow.AppProtoHTTP2), true, 2)
	// HTTP both directions
	addBuffer("http.header", both, protoHTTP, false, 2)
	addBuffer("http.header.raw", both, protoHTTP, false, 2)
	addBuffer("http.header_names", both, protoHTTP, false, 2, "http_header_names")
	addBuffer("http.cookie", both, protoHTTP, false, 2)
	addBuffer("http.content_type", both, protoHTTP, false, 2, "http_content_type")
	addBuffer("http.content_len", both, protoHTTP, false, 2, "http_content_len")
	addBuffer("http.start", both, protoHTTP, false, 2, "http_start")
	addBuffer("http.protocol", both, protoHTTP, false, 2, "http_protocol")
	addBuffer("http.connection", both, protoHTTP, false, 2, "http_connection")
	// HTTP response
	addBuffer("http.stat_code", tc, protoHTTP, false, 2)
	addBuffer("http.stat_msg", tc, protoHTTP, false, 2)
	addBuffer("http.response_line", tc, protoHTTP, false, 2, "http_response_line")
	addBuffer("http.server", tc, protoHTTP, false, 2, "http_server")
	addBuffer("http.location", tc, protoHTTP, false, 2, "http_location")
	addBuffer("http.response_header", tc, protoHTTP, true, 2)
	// Files (HTTP bodies, SMTP attachments, FTP data, SMB, NFS)
	// http.response_body is file.data, as in Suricata (one buffer: the
	// pcre /Q flag and http_server_body name it too).
	BufFileData = addBuffer("file.data", both, protoFiles, true, 2, "file_data", "http.response_body")
	BufHTTPResponseBody = BufFileData
	addBuffer("file.name", both, protoFiles, true, 2)
	addBuffer("file.magic", both, protoFiles, true, 2)
	// DNS
	// dns.query is the request's query name, as in Suricata 7, which the
	// rule sets are written for (Suricata 8 also inspects it in responses).
	addBuffer("dns.query", ts, protoDNS, true, 2, "dns_query")
	addBuffer("dns.query.name", both, protoDNS, true, 2)
	addBuffer("dns.queries.rrname", both, protoDNS, true, 2)
	addBuffer("dns.answers.rrname", tc, protoDNS, true, 2)
	addBuffer("dns.authorities.rrname", tc, protoDNS, true, 2)
	addBuffer("dns.additionals.rrname", tc, protoDNS, true, 2)
	addBuffer("dns.answer.name", tc, protoDNS, true, 2)
	addBuffer("dns.response.rrname", tc, protoDNS, true, 2)
	// TLS
	addBuffer("tls.sni", ts, protoTLS, false, 2, "tls_sni")
	addBuffer("tls.cert_subject", tc, protoTLS, false, 2, "tls_cert_subject")
	addBuffer("tls.cert_issuer", tc, protoTLS, false, 2, "tls_cert_issuer")
	addBuffer("tls.cert_serial", tc, protoTLS, false, 2, "tls_cert_serial")
	addBuffer("tls.cert_fingerprint", tc, protoTLS, false, 2, "tls_cert_fingerprint")
	addBuffer("tls.certs", tc, protoTLS, true, 2)
	addBuffer("tls.subjectaltname", tc, protoTLS, true, 2)
	addBuffer("tls.alpn", both, protoTLS, true, 2)
	addBuffer("ja3.hash", ts, protoTLS, false, 2, "ja3_hash")
	addBuffer("ja3.string", ts, protoTLS, false, 2, "ja3_string")
	addBuffer("ja3s.hash", tc, protoTLS, false, 2, "ja3s_hash")
	addBuffer("ja3s.string", tc, protoTLS, false, 2, "ja3s_string")
	addBuffer("ja4.hash", ts, protoTLS, false, 2, "ja4_hash")
	// SSH
	addBuffer("ssh.proto", both, protoSSH, false, 2, "ssh_proto")
	addBuffer("ssh.software", both, protoSSH, false, 2, "ssh_software")
	addBuffer("ssh.hassh", ts, protoSSH, false, 2, "ssh_hassh")
	addBuffer("ssh.hassh.string", ts, protoSSH, false, 2, "ssh_hassh_string")
	addBuffer("ssh.hassh.server", tc, protoSSH, false, 2, "ssh_hassh_server")
	addBuffer("ssh.hassh.server.string", tc, protoSSH, false, 2, "ssh_hassh_server_string")
	// SMTP, FTP, SMB, DCERPC, Kerberos, SIP
	addBuffer("smtp.helo", ts, protoMask(flow.AppProtoSMTP), false, 2)
	addBuffer("smtp.mail_from", ts, protoMask(flow.AppProtoSMTP), false, 2)
	addBuffer("smtp.rcpt_to", ts, protoMask(flow.AppProtoSMTP), true, 2)
	addBuffer("ftp.command", ts, protoMask(flow.AppProtoFTP), false, 2)
	addBuffer("ftp.command_data", ts, protoMask(flow.AppProtoFTP), false, 2)
	addBuffer("smb.named_pipe", ts, protoMask(flow.AppProtoSMB), false, 2)
	addBuffer("smb.share", ts, protoMask(flow.AppProtoSMB), false, 2)
	addBuffer("dce_stub_data", both, protoMask(flow.AppProtoDCERPC, flow.AppProtoSMB), false, 2)
	addBuffer("krb5.cname", ts, protoMask(flow.AppProtoKRB5), true, 2, "krb5_cname")
	addBuffer("krb5.sname", ts, protoMask(flow.AppProtoKRB5), true, 2, "krb5_sname")
	addBuffer("sip.method", ts, protoMask(flow.AppProtoSIP), false, 2)
	addBuffer("sip.uri", ts, protoMask(flow.AppProtoSIP), false, 2)
	if len(buffers) > 255 {
		panic("engine: too many buffers")
	}

	for _, bi := range buffers {
		id := bi.ID
		if id == BufBase64Data {
			continue // registered with base64_decode
		}
		setup := func(b *builder, o rules.Option) error {
			if err := noValue(o); err != nil {
				return err
			}
			b.switchBuffer(id)
			return nil
		}
		for name, bid := range bufferByName {
			if bid == id {
				register(&keyword{name: name, setup: setup})
			}
		}
	}
	// Legacy content modifiers: they move the preceding pkt_data content
	// into their buffer.
	for mod, target := range legacyModifiers {
		id, ok := bufferByName[target]
		if !ok {
			panic("engine: legacy modifier " + mod + " names unknown buffer " + target)
		}
		register(&keyword{name: mod, modifier: true, setup: func(b *builder, o rules.Option) error {
			if err := noValue(o); err != nil {
				return err
			}
			return b.moveContent(mod, id)
		}})
	}
	register(&keyword{name: "uricontent", setup: func(b *builder, o rules.Option) error {
		if err := setupContent(b, o); err != nil {
			return err
		}
		return b.moveContent("uricontent", BufHTTPURI)
	}})
}

// legacyModifiers maps the content modifiers to their buffer.
var legacyModifiers = map[string]string{
	"http_uri":         "http.uri",
	"http_raw_uri":     "http.uri.raw",
	"http_method":      "http.method",
	"http_header":      "http.header",
	"http_raw_header":  "http.header.raw",
	"http_cookie":      "http.cookie",
	"http_user_agent":  "http.user_agent",
	"http_host":        "http.host",
	"http_raw_host":    "http.host.raw",
	"http_client_body": "http.request_body",
	"http_server_body": "file.data",
	"http_stat_code":   "http.stat_code",
	"http_stat_msg":    "http.stat_msg",
}

// pcreBufferFlags maps the pcre buffer modifiers to their buffer.
var pcreBufferFlags = map[byte]string{
	'U': "http.uri",
	'I': "http.uri.raw",
	'P': "http.request_body",
	'Q': "file.data",
	'H': "http.header",
	'D': "http.header.raw",
	'M': "http.method",
	'C': "http.cookie",
	'S': "http.stat_code",
	'Y': "http.stat_msg",
	'V': "http.user_agent",
	'W': "http.host",
	'Z': "http.host.raw",
}

// Buffers returns the registered buffers, by ID.
func Buffers() []BufferInfo { return buffers }

// LookupBuffer returns the buffer a sticky-buffer keyword selects.
func LookupBuffer(name string) (BufferID, bool) {
	id, ok := bufferByName[name]
	return id, ok
}

// NumBuffers is the number of registered buffers; IDs are below it.
func NumBuffers() int { return len(buffers) }

func (id BufferID) String() string {
	if int(id) < len(buffers) {
		return buffers[id].Name
	}
	return fmt.Sprintf("buffer(%d)", id)
}

// appProtoNames maps rule-header and app-layer-protocol names to protocols.
var appProtoNames = map[string]ProtoMask{
	"http":      protoHTTP,
	"http1":     protoMask(flow.AppProtoHTTP1),
	"http2":     protoMask(flow.AppProtoHTTP2),
	"dns":       protoDNS,
	"tls":       protoTLS,
	"ssl":       protoTLS,
	"smtp":      protoMask(flow.AppProtoSMTP),
	"ftp":       protoMask(flow.AppProtoFTP),
	"ftp-data":  protoMask(flow.AppProtoFTPData),
	"ssh":       protoSSH,
	"smb":       protoMask(flow.AppProtoSMB),
	"dcerpc":    protoMask(flow.AppProtoDCERPC),
	"nfs":       protoMask(flow.AppProtoNFS),
	"imap":      protoMask(flow.AppProtoIMAP),
	"pop3":      protoMask(flow.AppProtoPOP3),
	"krb5":      protoMask(flow.AppProtoKRB5),
	"dhcp":      protoMask(flow.AppProtoDHCP),
	"snmp":      protoMask(flow.AppProtoSNMP),
	"sip":       protoMask(flow.AppProtoSIP),
	"rdp":       protoMask(flow.AppProtoRDP),
	"mqtt":      protoMask(flow.AppProtoMQTT),
	"modbus":    protoMask(flow.AppProtoModbus),
	"dnp3":      protoMask(flow.AppProtoDNP3),
	"enip":      protoMask(flow.AppProtoENIP),
	"ntp":       protoMask(flow.AppProtoNTP),
	"tftp":      protoMask(flow.AppProtoTFTP),
	"ike":       protoMask(flow.AppProtoIKE),
	"quic":      protoMask(flow.AppProtoQUIC),
	"rfb":       protoMask(flow.AppProtoRFB),
	"telnet":    protoMask(flow.AppProtoTelnet),
	"pgsql":     protoMask(flow.AppProtoPgSQL),
	"ldap":      protoMask(flow.AppProtoLDAP),
	"websocket": protoMask(flow.AppProtoWebSocket),
	"failed":    protoMask(flow.AppProtoFailed),
}

// appProtoTransport is the transport an app protocol in a rule header
// implies (for signature grouping).
func appProtoTransport(name string) protoSet {
	switch name {
	case "dns", "dhcp", "snmp", "sip", "ntp", "tftp", "ike", "quic", "krb5", "nfs", "smb", "dcerpc":
		if name == "dhcp" || name == "ntp" || name == "tftp" || name == "ike" || name == "quic" {
			return protoUDP
		}
		return protoTCPUDP
	}
	return protoTCP
}

// AppProtoNames returns the protocol names rule headers accept beyond the
// transport ones, sorted.
func AppProtoNames() []string {
	out := make([]string, 0, len(appProtoNames))
	for k := range appProtoNames {
		if k != "failed" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// AppState supplies the application-layer data of the transaction a
// packet belongs to. The app layer implements it; Thread.InspectApp calls
// it during inspection only, so the returned slices need to stay valid
// until InspectApp returns. Implementations must not allocate.
type AppState interface {
	// Buffer returns instance i of buffer id (i is 0 for single-instance
	// buffers; for multi-instance ones, i counts up until ok is false).
	Buffer(id BufferID, i int) (data []byte, ok bool)
	// Field returns a numeric transaction field (dns.opcode, tls.version,
	// ...), ok false when the transaction has none.
	Field(id FieldID) (v uint64, ok bool)
}

// BufferSet is a ready-made AppState: a slot per buffer and field, filled
// by the caller before InspectApp and cleared with Reset. It allocates
// only while growing to the largest transaction seen.
type BufferSet struct {
	bufs   [][][]byte
	fields [numFields]uint64
	has    [numFields]bool
}

// Reset removes all buffers and fields, keeping the storage.
func (s *BufferSet) Reset() {
	for i := range s.bufs {
		s.bufs[i] = s.bufs[i][:0]
	}
	s.has = [numFields]bool{}
}

// Add appends one instance of buffer id. data is referenced, not copied.
func (s *BufferSet) Add(id BufferID, data []byte) {
	if int(id) >= len(s.bufs) {
		if int(id) >= len(buffers) {
			return
		}
		n := make([][][]byte, len(buffers))
		copy(n, s.bufs)
		s.bufs = n
	}
	s.bufs[id] = append(s.bufs[id], data)
}

// SetField sets a numeric field.
func (s *BufferSet) SetField(id FieldID, v uint64) {
	if id < numFields {
		s.fields[id], s.has[id] = v, true
	}
}

// Buffer implements AppState.
func (s *BufferSet) Buffer(id BufferID, i int) ([]byte, bool) {
	if s == nil || int(id) >= len(s.bufs) || i < 0 || i >= len(s.bufs[id]) {
		return nil, false
	}
	return s.bufs[id][i], true
}

// Field implements AppState.
func (s *BufferSet) Field(id FieldID) (uint64, bool) {
	if s == nil || id >= numFields || !s.has[id] {
		return 0, false
	}
	return s.fields[id], true
}

// FieldID names a numeric app-layer field.
type FieldID uint8

const (
	FieldDNSOpcode      FieldID = iota // DNS header opcode
	FieldDNSRRType                     // rrtype of the query (dns.rrtype)
	FieldTLSVersion                    // TLS record/handshake version (0x0303 ...)
	FieldSSLVersions                   // bit set of SSL/TLS versions seen (ssl_version), see sslVersionBits
	FieldSSLState                      // bit set of handshake states seen (ssl_state), see sslStateBits
	FieldTLSCertExpired                // 1 when the server certificate has expired
	FieldTLSCertValid                  // 1 when the server certificate is valid now
	FieldAppEvents                     // reserved: app-layer event bits
	FieldDNSRcode                      // DNS header rcode of the message in the packet's direction (dns.rcode)
	numFields
)
