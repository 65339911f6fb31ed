package engine

import (
	"strconv"
	"strings"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/rules"
)

// App-layer keywords that are not buffers: app-layer-protocol, numeric
// transaction fields (tls.version, ssl_version, ssl_state, dns.opcode,
// dns.rcode, dns.rrtype, tls.cert_expired, tls.cert_valid), buffer lengths (bsize,
// urilen), base64_decode / base64_data, and keywords that are accepted and
// recorded without an effect on matching yet (stream_size, bypass,
// flow.age).

// alprotoMatch is app-layer-protocol:[!]name.
type alprotoMatch struct {
	mask ProtoMask
	neg  bool
}

func (m *alprotoMatch) match(f *flow.Flow) bool {
	// As Suricata: no match until the protocol is known, also negated.
	if f == nil || f.AppProto == flow.AppProtoUnknown {
		return false
	}
	return m.mask.Has(f.AppProto) != m.neg
}

func setupAppLayerProtocol(b *builder, o rules.Option) error {
	parts := rules.SplitArgs(o.Value)
	if len(parts) == 0 || len(parts) > 2 || parts[0] == "" {
		return errFmt("invalid value %q (want [!]protocol[,mode])", o.Value)
	}
	name := strings.ToLower(strings.TrimSpace(parts[0]))
	m := alprotoMatch{}
	if strings.HasPrefix(name, "!") {
		m.neg = true
		name = strings.TrimSpace(name[1:])
	}
	mask, ok := appProtoNames[name]
	if !ok {
		return errFmt("unknown protocol %q", name)
	}
	m.mask = mask
	if len(parts) == 2 {
		switch strings.ToLower(strings.TrimSpace(parts[1])) {
		case "final", "original", "either", "to_server", "to_client", "direction":
			// One app protocol per flow here: all modes read it.
		default:
			return errFmt("unknown mode %q (want final, original, either, to_server, to_client or direction)", parts[1])
		}
	}
	b.sig.alprotoKw = append(b.sig.alprotoKw, m)
	return nil
}

// fieldMatch compares a numeric transaction field.
type fieldMatch struct {
	id   FieldID
	u    uintMatch
	mask uint64 // bit-set fields: match when any (or, with all, every) bit is set
	all  bool
	neg  bool
}

func (m *fieldMatch) match(v uint64) bool {
	if m.mask != 0 {
		var ok bool
		if m.all {
			ok = v&m.mask == m.mask
		} else {
			ok = v&m.mask != 0
		}
		return ok != m.neg
	}
	return m.u.match(v)
}

// TLS/SSL version numbers as on the wire.
var tlsVersionNames = map[string]uint64{
	"sslv2": 0x0200, "sslv3": 0x0300, "tls1.0": 0x0301, "tls1.1": 0x0302, "tls1.2": 0x0303, "tls1.3": 0x0304,
	"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304,
}

// sslVersionBits are the bits of FieldSSLVersions (ssl_version).
var sslVersionBits = map[string]uint64{
	"sslv2": 1, "sslv3": 2, "tls1.0": 4, "tls1.1": 8, "tls1.2": 16, "tls1.3": 32,
}

// sslStateBits are the bits of FieldSSLState (ssl_state).
var sslStateBits = map[string]uint64{
	"client_hello": 1, "server_hello": 2, "client_keyx": 4, "server_keyx": 8, "unknown": 16,
}

func setupTLSVersion(b *builder, o rules.Option) error {
	v := strings.ToLower(strings.Trim(strings.TrimSpace(o.Value), "\""))
	n, ok := tlsVersionNames[v]
	if !ok {
		x, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 16)
		if err != nil || !strings.HasPrefix(v, "0x") {
			return errFmt("invalid version %q (want 1.0, 1.1, 1.2, 1.3, sslv3 or 0xNNNN)", o.Value)
		}
		n = x
	}
	b.sig.fields = append(b.sig.fields, fieldMatch{id: FieldTLSVersion, u: uintMatch{mode: uintEq, lo: n}})
	return nil
}

// setupBitField parses ssl_version ("sslv3,tls1.0", "!sslv2") and
// ssl_state ("client_hello|server_hello", "!client_hello").
func setupBitField(id FieldID, names map[string]uint64, sep string, all bool) func(b *builder, o rules.Option) error {
	return func(b *builder, o rules.Option) error {
		v := strings.TrimSpace(o.Value)
		if v == "" {
			return errFmt("missing value")
		}
		m := fieldMatch{id: id, all: all}
		for _, part := range strings.Split(v, sep) {
			part = strings.ToLower(strings.TrimSpace(part))
			neg := strings.HasPrefix(part, "!")
			part = strings.TrimPrefix(part, "!")
			bit, ok := names[part]
			if !ok {
				return errFmt("unknown value %q", part)
			}
			if neg {
				// A negated name is its own test: none of it.
				b.sig.fields = append(b.sig.fields, fieldMatch{id: id, mask: bit, neg: true})
				continue
			}
			m.mask |= bit
		}
		if m.mask != 0 {
			b.sig.fields = append(b.sig.fields, m)
		}
		return nil
	}
}

func setupUintField(id FieldID, limit uint64) func(b *builder, o rules.Option) error {
	return func(b *builder, o rules.Option) error {
		u, err := parseUint(o.Value, limit)
		if err != nil {
			return err
		}
		b.sig.fields = append(b.sig.fields, fieldMatch{id: id, u: u})
		return nil
	}
}

// dnsRRTypes are the names dns.rrtype accepts besides numbers.
var dnsRRTypes = map[string]uint64{
	"a": 1, "ns": 2, "cname": 5, "soa": 6, "ptr": 12, "mx": 15, "txt": 16, "aaaa": 28,
	"srv": 33, "naptr": 35, "ds": 43, "rrsig": 46, "nsec": 47, "dnskey": 48, "https": 65, "svcb": 64,
	"any": 255, "axfr": 252, "null": 10, "hinfo": 13, "caa": 257,
}

func setupDNSRRType(b *builder, o rules.Option) error {
	v := strings.TrimSpace(o.Value)
	if n, ok := dnsRRTypes[strings.ToLower(v)]; ok {
		v = strconv.FormatUint(n, 10)
	}
	u, err := parseUint(v, 65535)
	if err != nil {
		return err
	}
	b.sig.fields = append(b.sig.fields, fieldMatch{id: FieldDNSRRType, u: u})
	return nil
}

// dnsRcodes are the names dns.rcode accepts besides numbers (RFC 1035,
// 2136, 8490), upper or lower case.
var dnsRcodes = map[string]uint64{
	"noerror": 0, "formerr": 1, "servfail": 2, "nxdomain": 3, "notimp": 4, "refused": 5,
	"yxdomain": 6, "yxrrset": 7, "nxrrset": 8, "notauth": 9, "notzone": 10, "dsotypeni": 11,
}

// setupDNSRcode parses dns.rcode:[!]N, [!]N-M (the uint syntax) or
// [!]NAME (nxdomain, servfail, ...).
func setupDNSRcode(b *builder, o rules.Option) error {
	v := strings.TrimSpace(o.Value)
	neg := strings.HasPrefix(v, "!")
	name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(v, "!")))
	if n, ok := dnsRcodes[name]; ok {
		v = strconv.FormatUint(n, 10)
		if neg {
			v = "!" + v
		}
	}
	u, err := parseUint(v, 255)
	if err != nil {
		return err
	}
	b.sig.fields = append(b.sig.fields, fieldMatch{id: FieldDNSRcode, u: u})
	return nil
}

func setupCertFlag(id FieldID) func(b *builder, o rules.Option) error {
	return func(b *builder, o rules.Option) error {
		if err := noValue(o); err != nil {
			return err
		}
		b.sig.fields = append(b.sig.fields, fieldMatch{id: id, u: uintMatch{mode: uintEq, lo: 1}})
		return nil
	}
}

// setupBsize: bsize:<uint> on the current sticky buffer's length.
func setupBsize(b *builder, o rules.Option) error {
	u, err := parseUint(o.Value, 1<<32-1)
	if err != nil {
		return err
	}
	bl := b.curList()
	if bl.id == BufPktData && len(bl.xf) == 0 && !b.explicitBuf {
		return errFmt("needs a sticky buffer before it")
	}
	bl.steps = append(bl.steps, step{kind: stepLen, num: u})
	return nil
}

// setupUrilen: urilen:<uint>[,norm|raw] on http.uri (or http.uri.raw).
func setupUrilen(b *builder, o rules.Option) error {
	parts := rules.SplitArgs(o.Value)
	if len(parts) == 0 || len(parts) > 2 {
		return errFmt("invalid value %q (want N, <N, >N, N<>M [,norm|raw])", o.Value)
	}
	id := BufHTTPURI
	if len(parts) == 2 {
		switch strings.ToLower(strings.TrimSpace(parts[1])) {
		case "norm":
		case "raw":
			id = BufHTTPURIRaw
		default:
			return errFmt("unknown option %q (want norm or raw)", parts[1])
		}
	}
	u, err := parseUint(parts[0], 65535)
	if err != nil {
		return err
	}
	li := b.findList(id)
	b.sig.bufs[li].steps = append(b.sig.bufs[li].steps, step{kind: stepLen, num: u})
	return nil
}

// setupStreamSize parses stream_size:<server|client|both|either>,<op>,<n>.
// Matching needs the reassembled stream's sequence progress, which
// detection does not receive yet: a signature using it loads but does not
// match (documented limitation, never a false alert).
func setupStreamSize(b *builder, o rules.Option) error {
	parts := rules.SplitArgs(o.Value)
	if len(parts) != 3 {
		return errFmt("invalid value %q (want server|client|both|either,OP,N)", o.Value)
	}
	m := &streamSizeMatch{}
	switch strings.ToLower(strings.TrimSpace(parts[0])) {
	case "server":
		m.side = 1
	case "client":
		m.side = 0
	case "both":
		m.side = 2
	case "either":
		m.side = 3
	default:
		return errFmt("invalid side %q (want server, client, both or either)", parts[0])
	}
	m.op = strings.TrimSpace(parts[1])
	switch m.op {
	case "<", ">", "=", "!=", "<=", ">=":
	default:
		return errFmt("invalid operator %q (want <, >, =, !=, <= or >=)", parts[1])
	}
	n, err := strconv.ParseUint(strings.TrimSpace(parts[2]), 10, 32)
	if err != nil {
		return errFmt("invalid size %q", parts[2])
	}
	m.n = n
	if b.sig.proto != protoTCP && b.sig.proto != protoIP {
		return errFmt("needs a TCP rule")
	}
	b.sig.streamSize = append(b.sig.streamSize, m)
	return nil
}

// streamSizeMatch is stream_size: how far the client's (side 0), the
// server's (1), both (2) or either (3) sequence numbers advanced since
// their ISN, compared with n (Thread.SetStreamSize supplies them).
type streamSizeMatch struct {
	side uint8
	op   string
	n    uint64
}

func (m *streamSizeMatch) cmp(v uint64) bool {
	switch m.op {
	case "<":
		return v < m.n
	case ">":
		return v > m.n
	case "=":
		return v == m.n
	case "!=":
		return v != m.n
	case "<=":
		return v <= m.n
	}
	return v >= m.n
}

func (m *streamSizeMatch) match(sz *streamSize) bool {
	if !sz.ok {
		return false
	}
	c, s := m.cmp(sz.client), m.cmp(sz.server)
	switch m.side {
	case 0:
		return c
	case 1:
		return s
	case 2:
		return c && s
	}
	return c || s
}

// flow.age: seconds since the flow's first packet.
type flowAgeMatch struct{ u uintMatch }

func (m *flowAgeMatch) matchFlow(f *flow.Flow, p *packet.Packet) bool {
	if f == nil {
		return false
	}
	age := (p.TimeNs - f.StartNs) / 1e9
	if age < 0 {
		age = 0
	}
	return m.u.match(uint64(age))
}

// Bypass reports whether the signature asks for its flow to be bypassed
// (bypass keyword): the pipeline acts on it once flow bypass exists.
func (s *Signature) Bypass() bool { return s.bypass }

// Tag reports whether the signature has a tag keyword: its alerts tag the
// packets that follow (see Thread.Tagged).
func (s *Signature) Tag() bool { return s.tag }

// AppProtos returns the app protocols the signature requires (0: none).
func (s *Signature) AppProtos() ProtoMask { return s.alproto }

// Direction returns the direction the signature inspects (0: either).
func (s *Signature) Direction() Direction { return s.dir }

// InspectedBuffers returns the names of the buffers the signature
// inspects, with transforms ("dns.query|dotprefix").
func (s *Signature) InspectedBuffers() []string {
	out := make([]string, 0, len(s.bufs))
	for i := range s.bufs {
		out = append(out, s.bufs[i].variantKey())
	}
	return out
}

// setupTLSValueMatch handles the older value forms tls.subject:"text" and
// tls.issuerdn:"text" (a case-sensitive substring of the certificate's
// subject or issuer, "!" to negate): a content on that buffer, leaving the
// current sticky buffer as it was.
func setupTLSValueMatch(target string) func(b *builder, o rules.Option) error {
	return func(b *builder, o rules.Option) error {
		pat, neg, err := rules.DecodeContent(o.Value)
		if err != nil {
			return err
		}
		if len(pat) == 0 {
			return errFmt("empty value")
		}
		li := b.findList(bufferByName[target])
		st := step{kind: stepContent, pat: pat}
		if neg {
			st.flags |= fNegated
		}
		b.sig.bufs[li].steps = append(b.sig.bufs[li].steps, st)
		return nil
	}
}

func init() {
	register(&keyword{name: "tls.subject", setup: setupTLSValueMatch("tls.cert_subject")})
	register(&keyword{name: "tls.issuerdn", setup: setupTLSValueMatch("tls.cert_issuer")})
	register(&keyword{name: "app-layer-protocol", setup: setupAppLayerProtocol})
	register(&keyword{name: "tls.version", setup: setupTLSVersion})
	register(&keyword{name: "ssl_version", setup: setupBitField(FieldSSLVersions, sslVersionBits, ",", false)})
	register(&keyword{name: "ssl_state", setup: setupBitField(FieldSSLState, sslStateBits, "|", false)})
	register(&keyword{name: "dns.opcode", setup: setupUintField(FieldDNSOpcode, 15)})
	register(&keyword{name: "dns.rrtype", setup: setupDNSRRType})
	register(&keyword{name: "dns.rcode", setup: setupDNSRcode})
	register(&keyword{name: "tls.cert_expired", setup: setupCertFlag(FieldTLSCertExpired)})
	register(&keyword{name: "tls_cert_expired", setup: setupCertFlag(FieldTLSCertExpired)})
	register(&keyword{name: "tls.cert_valid", setup: setupCertFlag(FieldTLSCertValid)})
	register(&keyword{name: "tls_cert_valid", setup: setupCertFlag(FieldTLSCertValid)})
	register(&keyword{name: "bsize", setup: setupBsize})
	register(&keyword{name: "urilen", setup: setupUrilen})
	register(&keyword{name: "stream_size", setup: setupStreamSize})
	register(&keyword{name: "bypass", setup: func(b *builder, o rules.Option) error {
		if err := noValue(o); err != nil {
			return err
		}
		b.sig.bypass = true
		return nil
	}})
	register(&keyword{name: "flow.age", setup: func(b *builder, o rules.Option) error {
		u, err := parseUint(o.Value, 1<<32-1)
		if err != nil {
			return err
		}
		b.sig.flowAge = append(b.sig.flowAge, &flowAgeMatch{u})
		return nil
	}})
}
