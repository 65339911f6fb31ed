package tls

import (
	"encoding/binary"
	"strconv"
)

// Direction says which way bytes travel.
type Direction uint8

// Directions.
const (
	ToServer Direction = 0
	ToClient Direction = 1
)

// Event is an anomaly found in the flow.
type Event uint8

// Events, named as Suricata names them.
const (
	EventInvalidSSLv2Header Event = iota
	EventInvalidTLSHeader
	EventInvalidRecordVersion
	EventInvalidRecordType
	EventInvalidHandshakeMessage
	EventInvalidCertificate
	EventCertificateInvalidLength
	EventErrorMessageEncountered
	EventInvalidSSLRecord
	EventHeartbeatMessage
	EventOverflowHeartbeatMessage
	EventInvalidHeartbeatMessage
	EventDataleakHeartbeatMismatch
	EventMultipleSNIExtensions
	EventInvalidSNIType
	EventInvalidSNILength
	EventHandshakeInvalidLength
	EventTooManyRecordsInPacket
	EventCertificateInvalidDER
	EventInvalidAlertMessage
	numEvents
)

var eventNames = [numEvents]string{
	EventInvalidSSLv2Header:        "tls.invalid_sslv2_header",
	EventInvalidTLSHeader:          "tls.invalid_tls_header",
	EventInvalidRecordVersion:      "tls.invalid_record_version",
	EventInvalidRecordType:         "tls.invalid_record_type",
	EventInvalidHandshakeMessage:   "tls.invalid_handshake_message",
	EventInvalidCertificate:        "tls.invalid_certificate",
	EventCertificateInvalidLength:  "tls.certificate_invalid_length",
	EventErrorMessageEncountered:   "tls.error_message_encountered",
	EventInvalidSSLRecord:          "tls.invalid_ssl_record",
	EventHeartbeatMessage:          "tls.heartbeat_message",
	EventOverflowHeartbeatMessage:  "tls.overflow_heartbeat_message",
	EventInvalidHeartbeatMessage:   "tls.invalid_heartbeat_message",
	EventDataleakHeartbeatMismatch: "tls.dataleak_heartbeat_mismatch",
	EventMultipleSNIExtensions:     "tls.multiple_sni_extensions",
	EventInvalidSNIType:            "tls.invalid_sni_type",
	EventInvalidSNILength:          "tls.invalid_sni_length",
	EventHandshakeInvalidLength:    "tls.handshake_invalid_length",
	EventTooManyRecordsInPacket:    "tls.too_many_records_in_packet",
	EventCertificateInvalidDER:     "tls.certificate_invalid_der",
	EventInvalidAlertMessage:       "tls.invalid_alert_message",
}

// String returns Suricata's name of the event.
func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "tls.unknown_event_" + strconv.Itoa(int(e))
}

// EventByName returns the event called name ("tls.invalid_sni_type" or
// "invalid_sni_type").
func EventByName(name string) (Event, bool) {
	for i, n := range eventNames {
		if n == name || n[4:] == name {
			return Event(i), true
		}
	}
	return 0, false
}

// Events is a set of events.
type Events uint32

// Has reports whether e is in the set.
func (s Events) Has(e Event) bool { return s&(1<<e) != 0 }

// Record content types.
const (
	RecordChangeCipherSpec = 20
	RecordAlert            = 21
	RecordHandshake        = 22
	RecordApplicationData  = 23
	RecordHeartbeat        = 24
)

// Handshake message types parsed here.
const (
	HandshakeClientHello = 1
	HandshakeServerHello = 2
	HandshakeCertificate = 11
)

// Protocol versions.
const (
	VersionSSL2  uint16 = 0x0002
	VersionSSL3  uint16 = 0x0300
	VersionTLS10 uint16 = 0x0301
	VersionTLS11 uint16 = 0x0302
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// Limits.
const (
	// MaxRecordLen is the largest record accepted: 2^14 plus the 2048 bytes
	// of expansion TLS 1.2 allows for ciphertext.
	MaxRecordLen = 1<<14 + 2048
	// DefaultMaxHandshakeLen bounds one handshake message (certificate
	// chains are the big ones).
	DefaultMaxHandshakeLen = 1 << 18
	// DefaultMaxCertificates bounds the certificates parsed per flow.
	DefaultMaxCertificates = 10
)

// State is how far a direction has got.
type State uint8

// States.
const (
	StateHandshake State = iota // cleartext records so far
	StateEncrypted              // after ChangeCipherSpec, application data or a TLS 1.3 ServerHello
	StateFailed                 // not TLS (or broken): the rest of the direction is ignored
)

// Options tune a Parser; the zero value selects the defaults.
type Options struct {
	MaxHandshakeLen int // 0: DefaultMaxHandshakeLen
	MaxCertificates int // 0: DefaultMaxCertificates; <0: do not parse certificates
}

// Stats counts what a parser did.
type Stats struct {
	Records      uint64
	Handshakes   uint64 // handshake messages
	Certificates uint64 // certificates parsed with crypto/x509 (each allocates)
}

// direction is the record and handshake reassembly state of one direction.
type direction struct {
	state  State
	hdr    [5]byte
	hdrN   int
	body   []byte // partial record body
	hs     []byte // partial handshake message(s)
	nrec   int    // records in the current Feed call
	sawAny bool
}

// Parser parses one TLS flow. See the package doc.
type Parser struct {
	ClientHello  ClientHello
	ServerHello  ServerHello
	Certificates []Certificate
	// Events accumulates the anomalies of the flow.
	Events Events
	Stats  Stats

	opts    Options
	dir     [2]direction
	scratch []uint16
	hexbuf  []byte
}

// NewParser returns a parser for one flow.
func NewParser(opts Options) *Parser {
	if opts.MaxHandshakeLen <= 0 {
		opts.MaxHandshakeLen = DefaultMaxHandshakeLen
	}
	if opts.MaxCertificates == 0 {
		opts.MaxCertificates = DefaultMaxCertificates
	}
	return &Parser{opts: opts}
}

// Reset clears the parser for a new flow, keeping its buffers.
func (p *Parser) Reset() {
	p.ClientHello.reset()
	p.ServerHello.reset()
	for i := range p.Certificates {
		p.Certificates[i] = Certificate{}
	}
	p.Certificates = p.Certificates[:0]
	p.Events = 0
	p.Stats = Stats{}
	for i := range p.dir {
		d := &p.dir[i]
		*d = direction{body: d.body[:0], hs: d.hs[:0]}
	}
}

func (p *Parser) event(e Event) { p.Events |= 1 << e }

// State returns the state of a direction.
func (p *Parser) State(dir Direction) State { return p.dir[dir&1].state }

// Encrypted reports whether both directions carry only encrypted data (or
// were given up): the parser has nothing more to learn from the flow.
func (p *Parser) Encrypted() bool {
	return p.dir[0].state != StateHandshake && p.dir[1].state != StateHandshake
}

// Version returns the negotiated version: the server's selected version
// (supported_versions for TLS 1.3), else the ServerHello version, else 0.
func (p *Parser) Version() uint16 {
	if p.ServerHello.Present {
		if p.ServerHello.SelectedVersion != 0 {
			return p.ServerHello.SelectedVersion
		}
		return p.ServerHello.Version
	}
	return 0
}

// VersionString returns Suricata's name of a version ("TLS 1.2", "TLSv1",
// "UNDETERMINED" for 0).
func VersionString(v uint16) string {
	switch v {
	case VersionSSL2:
		return "SSLv2"
	case VersionSSL3:
		return "SSLv3"
	case VersionTLS10:
		return "TLSv1"
	case VersionTLS11:
		return "TLS 1.1"
	case VersionTLS12:
		return "TLS 1.2"
	case VersionTLS13:
		return "TLS 1.3"
	case 0:
		return "UNDETERMINED"
	}
	if v>>8 == 0x7f {
		return "TLS 1.3 draft-" + strconv.Itoa(int(v&0xff))
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// maxRecordsPerFeed is Suricata's "too many records in packet" threshold.
const maxRecordsPerFeed = 255

// Feed hands the parser the next chunk of direction dir, in stream order.
// It consumes all of data and returns len(data); a direction that turned
// out not to be TLS (State StateFailed) ignores the rest of its bytes.
func (p *Parser) Feed(dir Direction, data []byte) (consumed int) {
	consumed = len(data)
	d := &p.dir[dir&1]
	d.nrec = 0
	for len(data) > 0 && d.state != StateFailed {
		if d.hdrN < 5 {
			if d.hdrN == 0 && !d.sawAny && data[0]&0x80 != 0 {
				// SSLv2 record header: not parsed here.
				d.state = StateFailed
				break
			}
			n := copy(d.hdr[d.hdrN:], data)
			d.hdrN += n
			data = data[n:]
			if d.hdrN < 5 {
				break
			}
			if !p.checkHeader(d) {
				d.state = StateFailed
				break
			}
			d.sawAny = true
			d.body = d.body[:0]
		}
		need := int(binary.BigEndian.Uint16(d.hdr[3:]))
		if len(d.body) == 0 && len(data) >= need {
			p.record(dir, d, data[:need:need])
			data = data[need:]
			d.hdrN = 0
			continue
		}
		n := min(need-len(d.body), len(data))
		d.body = append(d.body, data[:n]...)
		data = data[n:]
		if len(d.body) == need {
			p.record(dir, d, d.body)
			d.body = d.body[:0]
			d.hdrN = 0
		}
	}
	return consumed
}

// checkHeader validates a complete record header.
func (p *Parser) checkHeader(d *direction) bool {
	typ := d.hdr[0]
	if typ < RecordChangeCipherSpec || typ > RecordHeartbeat {
		p.event(EventInvalidRecordType)
		return false
	}
	if d.hdr[1] != 3 || d.hdr[2] > 4 {
		p.event(EventInvalidRecordVersion)
		return false
	}
	if int(binary.BigEndian.Uint16(d.hdr[3:])) > MaxRecordLen {
		p.event(EventInvalidSSLRecord)
		return false
	}
	return true
}

// record handles one complete record.
func (p *Parser) record(dir Direction, d *direction, body []byte) {
	p.Stats.Records++
	d.nrec++
	if d.nrec == maxRecordsPerFeed+1 {
		p.event(EventTooManyRecordsInPacket)
	}
	switch d.hdr[0] {
	case RecordChangeCipherSpec:
		d.state = StateEncrypted
	case RecordAlert:
		if d.state == StateEncrypted {
			return
		}
		if len(body) != 2 {
			p.event(EventInvalidAlertMessage)
			return
		}
		if body[0] == 2 { // fatal
			p.event(EventErrorMessageEncountered)
		}
	case RecordApplicationData:
		d.state = StateEncrypted
	case RecordHeartbeat:
		p.event(EventHeartbeatMessage)
		if d.state == StateEncrypted {
			return
		}
		if len(body) < 3 {
			p.event(EventInvalidHeartbeatMessage)
			return
		}
		// type(1) payload_length(2) payload padding(>= 16)
		if 3+int(binary.BigEndian.Uint16(body[1:]))+16 > len(body) {
			p.event(EventOverflowHeartbeatMessage)
		}
	case RecordHandshake:
		if d.state == StateEncrypted {
			return // encrypted Finished
		}
		p.handshakes(dir, d, body)
	}
}

// handshakes splits a handshake record into messages, keeping a partial
// message for the next record.
func (p *Parser) handshakes(dir Direction, d *direction, body []byte) {
	buf := body
	if len(d.hs) > 0 {
		d.hs = append(d.hs, body...)
		buf = d.hs
	}
	for len(buf) >= 4 && d.state == StateHandshake {
		n := int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3])
		if n > p.opts.MaxHandshakeLen {
			p.event(EventHandshakeInvalidLength)
			d.state = StateFailed
			d.hs = d.hs[:0]
			return
		}
		if len(buf) < 4+n {
			break
		}
		p.handshake(dir, d, buf[0], buf[4:4+n:4+n])
		buf = buf[4+n:]
	}
	if d.state != StateHandshake {
		d.hs = d.hs[:0]
		return
	}
	// Keep what is left (a partial message) at the start of d.hs.
	if len(d.hs) > 0 {
		d.hs = d.hs[:copy(d.hs, buf)]
	} else {
		d.hs = append(d.hs, buf...)
	}
}

// handshake handles one complete handshake message.
func (p *Parser) handshake(dir Direction, d *direction, typ byte, msg []byte) {
	p.Stats.Handshakes++
	switch typ {
	case HandshakeClientHello:
		if dir != ToServer {
			p.event(EventInvalidHandshakeMessage)
			return
		}
		p.parseClientHello(msg)
	case HandshakeServerHello:
		if dir != ToClient {
			p.event(EventInvalidHandshakeMessage)
			return
		}
		p.parseServerHello(msg)
		if p.ServerHello.Present && !p.ServerHello.HelloRetry && p.Version() >= VersionTLS13 {
			// Everything the server sends after its TLS 1.3 ServerHello
			// is encrypted.
			d.state = StateEncrypted
		}
	case HandshakeCertificate:
		if dir == ToClient {
			p.parseCertificates(msg)
		}
	case 0, 3, 4, 5, 6, 8, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 67, 254:
		// known messages without inspection buffers
	default:
		p.event(EventInvalidHandshakeMessage)
	}
}
