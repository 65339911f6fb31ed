package dns

import (
	"encoding/binary"
	"strconv"
)

// Direction says which way a message travels.
type Direction uint8

// Directions.
const (
	ToServer Direction = 0 // client -> server (requests)
	ToClient Direction = 1 // server -> client (responses)
)

// Event is an anomaly found in a message.
type Event uint8

// Events, named as Suricata names them (Event.String).
const (
	EventMalformedData Event = iota
	EventNotRequest
	EventNotResponse
	EventZFlagSet
	EventInvalidOpcode
	EventNameTooLong
	EventInfiniteLoop
	EventTooManyLabels
	EventInvalidAdditionals
	EventInvalidAuthorities
	numEvents
)

var eventNames = [numEvents]string{
	EventMalformedData:      "dns.malformed_data",
	EventNotRequest:         "dns.not_request",
	EventNotResponse:        "dns.not_response",
	EventZFlagSet:           "dns.z_flag_set",
	EventInvalidOpcode:      "dns.invalid_opcode",
	EventNameTooLong:        "dns.name_too_long",
	EventInfiniteLoop:       "dns.infinite_loop",
	EventTooManyLabels:      "dns.too_many_labels",
	EventInvalidAdditionals: "dns.invalid_additionals",
	EventInvalidAuthorities: "dns.invalid_authorities",
}

// String returns Suricata's name of the event ("dns.malformed_data").
func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "dns.unknown_event_" + strconv.Itoa(int(e))
}

// EventByName returns the event called name ("dns.z_flag_set" or
// "z_flag_set").
func EventByName(name string) (Event, bool) {
	for i, n := range eventNames {
		if n == name || n[4:] == name {
			return Event(i), true
		}
	}
	return 0, false
}

// Events is a set of events.
type Events uint16

// Has reports whether e is in the set.
func (s Events) Has(e Event) bool { return s&(1<<e) != 0 }

func (s *Events) add(e Event) { *s |= 1 << e }

// Limits, as Suricata applies them.
const (
	MaxNameLen = 1025 // longer names are truncated (dns.name_too_long)
	MaxLabels  = 255  // labels plus pointers per name (dns.too_many_labels)
	// StepsPerByte bounds the work of name decompression: a message may
	// take StepsPerByte*len+4096 label and pointer steps over all its
	// names, then it is malformed. Real messages use under 1 per byte;
	// crafted pointer chains (every name walking 255 pointers) would cost
	// about 40 steps per byte without it.
	StepsPerByte = 8
	HeaderLen    = 12
)

// Record types with a decoded rdata.
const (
	TypeA     uint16 = 1
	TypeNS    uint16 = 2
	TypeCNAME uint16 = 5
	TypeSOA   uint16 = 6
	TypeNULL  uint16 = 10
	TypePTR   uint16 = 12
	TypeMX    uint16 = 15
	TypeTXT   uint16 = 16
	TypeAAAA  uint16 = 28
	TypeSRV   uint16 = 33
	TypeOPT   uint16 = 41
)

// Header flag bits.
const (
	FlagQR uint16 = 0x8000
	FlagAA uint16 = 0x0400
	FlagTC uint16 = 0x0200
	FlagRD uint16 = 0x0100
	FlagRA uint16 = 0x0080
	FlagZ  uint16 = 0x0040
	FlagAD uint16 = 0x0020
	FlagCD uint16 = 0x0010
)

// Question is one entry of the question section.
type Question struct {
	Name  []byte // decoded dotted name (dns.query)
	Type  uint16
	Class uint16

	name nameRef
}

// Record is one resource record (answer, authority or additional).
// Which fields are set depends on Type:
//
//	A, AAAA:          Data = the address bytes (4 / 16 expected)
//	CNAME, PTR, NS:   Target
//	MX:               Pref, Target (exchange)
//	SRV:              Pref (priority), Weight, Port, Target
//	SOA:              Target (mname), RName, Serial, Refresh, Retry, Expire, Minimum
//	TXT:              Data = one character-string (a record per string)
//	others (OPT ...): Data = the raw rdata
type Record struct {
	Name  []byte // owner name (dns.answer.name)
	Type  uint16
	Class uint16 // for OPT: the requestor's UDP payload size
	TTL   uint32 // for OPT: extended rcode and flags
	Data  []byte

	Target, RName []byte
	Pref          uint16
	Weight, Port  uint16

	Serial, Refresh, Retry, Expire, Minimum uint32

	name, target, rname nameRef
}

// nameRef locates a decoded name in the parser's name buffer; the slices in
// Question and Record are set from it once the message is complete (the
// buffer may move while it grows).
type nameRef struct{ off, n int32 }

// Message is a parsed DNS message. See the package doc for ownership.
type Message struct {
	ID          uint16
	Flags       uint16
	QDCount     uint16 // counts as announced in the header
	ANCount     uint16
	NSCount     uint16
	ARCount     uint16
	Questions   []Question
	Answers     []Record
	Authorities []Record
	Additionals []Record
	Events      Events
	// Len is the message length in bytes (without the TCP length prefix).
	Len int
}

// Response reports whether QR is set.
func (m *Message) Response() bool { return m.Flags&FlagQR != 0 }

// Opcode returns the 4-bit opcode (dns.opcode).
func (m *Message) Opcode() uint8 { return uint8(m.Flags>>11) & 0xf }

// Rcode returns the 4-bit header rcode (dns.rcode).
func (m *Message) Rcode() uint8 { return uint8(m.Flags & 0xf) }

// ParseError says why and where a message could not be parsed completely.
// What was parsed before the error stays in the Message.
type ParseError struct {
	Section string // "header", "question", "answer", "authority", "additional"
	Index   int    // entry index in the section
	Offset  int    // byte offset in the message
	Reason  string
}

func (e *ParseError) Error() string {
	return "dns: " + e.Section + " " + strconv.Itoa(e.Index) + " at offset " +
		strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Handler receives the messages parsed from a TCP stream.
type Handler interface {
	DNSMessage(dir Direction, m *Message, err error)
}

// Stats counts what a parser saw.
type Stats struct {
	Messages  uint64
	Malformed uint64 // messages with a ParseError
	Events    [numEvents]uint64
}

// Parser parses DNS messages; see the package doc.
type Parser struct {
	Stats Stats

	handler Handler
	msg     Message
	names   []byte
	err     ParseError
	tcp     [2][]byte // pending bytes of a split TCP message, per direction
	// Pointer positions followed by the name being decoded: an open-
	// addressing set, emptied by bumping gen.
	seenPos [512]int32
	seenGen [512]uint32
	gen     uint32
	// budget is what is left of the message's name-decoding steps.
	budget int
}

// NewParser returns a parser. h receives messages parsed by Feed; it may be
// nil when only ParseUDP is used.
func NewParser(h Handler) *Parser {
	return &Parser{handler: h, names: make([]byte, 0, 512)}
}

// ParseUDP parses one message (a UDP payload). It always returns the
// message, with what could be parsed and its events; err is a *ParseError
// when the message is malformed.
func (p *Parser) ParseUDP(dir Direction, payload []byte) (*Message, error) {
	return p.parse(dir, payload)
}

// Feed hands the parser the next chunk of a TCP stream in direction dir.
// Every complete message is parsed and passed to the handler; a message
// split across chunks is kept (copied) until its last byte arrives. Feed
// consumes all of data and returns len(data).
func (p *Parser) Feed(dir Direction, data []byte) (consumed int) {
	consumed = len(data)
	d := dir & 1
	for len(data) > 0 {
		pend := p.tcp[d]
		if len(pend) > 0 {
			if len(pend) < 2 {
				p.tcp[d] = append(pend, data[0])
				data = data[1:]
				continue
			}
			want := 2 + int(binary.BigEndian.Uint16(pend))
			n := min(want-len(pend), len(data))
			pend = append(pend, data[:n]...)
			data = data[n:]
			if len(pend) == want {
				p.deliver(dir, pend[2:])
				pend = pend[:0]
			}
			p.tcp[d] = pend
			continue
		}
		if len(data) >= 2 {
			want := 2 + int(binary.BigEndian.Uint16(data))
			if len(data) >= want {
				p.deliver(dir, data[2:want])
				data = data[want:]
				continue
			}
		}
		p.tcp[d] = append(pend, data...)
		break
	}
	return consumed
}

func (p *Parser) deliver(dir Direction, msg []byte) {
	m, err := p.parse(dir, msg)
	if p.handler != nil {
		p.handler.DNSMessage(dir, m, err)
	}
}

// Reset forgets pending TCP bytes (for a parser reused on a new flow).
func (p *Parser) Reset() {
	p.tcp[0] = p.tcp[0][:0]
	p.tcp[1] = p.tcp[1][:0]
}

// Pending returns how many bytes of a split TCP message wait in direction
// dir.
func (p *Parser) Pending(dir Direction) int { return len(p.tcp[dir&1]) }

func (p *Parser) fail(section string, index, off int, reason string) *ParseError {
	p.err = ParseError{Section: section, Index: index, Offset: off, Reason: reason}
	return &p.err
}

// parse decodes msg into p.msg.
func (p *Parser) parse(dir Direction, msg []byte) (*Message, error) {
	m := &p.msg
	m.Questions = m.Questions[:0]
	m.Answers = m.Answers[:0]
	m.Authorities = m.Authorities[:0]
	m.Additionals = m.Additionals[:0]
	m.Events = 0
	m.Len = len(msg)
	p.names = p.names[:0]
	p.Stats.Messages++

	if len(msg) < HeaderLen {
		m.ID, m.Flags, m.QDCount, m.ANCount, m.NSCount, m.ARCount = 0, 0, 0, 0, 0, 0
		m.Events.add(EventMalformedData)
		return p.finish(p.fail("header", 0, 0, "message shorter than the 12-byte header"))
	}
	be := binary.BigEndian
	m.ID = be.Uint16(msg[0:])
	m.Flags = be.Uint16(msg[2:])
	m.QDCount = be.Uint16(msg[4:])
	m.ANCount = be.Uint16(msg[6:])
	m.NSCount = be.Uint16(msg[8:])
	m.ARCount = be.Uint16(msg[10:])

	if m.Flags&FlagZ != 0 {
		m.Events.add(EventZFlagSet)
	}
	if op := m.Opcode(); op == 3 || op > 6 {
		m.Events.add(EventInvalidOpcode)
	}
	if dir == ToServer && m.Response() {
		m.Events.add(EventNotRequest)
	} else if dir == ToClient && !m.Response() {
		m.Events.add(EventNotResponse)
	}

	p.budget = StepsPerByte*len(msg) + 4096
	off := HeaderLen
	for i := 0; i < int(m.QDCount); i++ {
		ref, end, reason := p.decodeName(msg, off)
		if reason != "" {
			m.Events.add(EventMalformedData)
			return p.finish(p.fail("question", i, off, reason))
		}
		if end+4 > len(msg) {
			m.Events.add(EventMalformedData)
			return p.finish(p.fail("question", i, end, "type and class cut short"))
		}
		m.Questions = append(m.Questions, Question{
			Type:  be.Uint16(msg[end:]),
			Class: be.Uint16(msg[end+2:]),
			name:  ref,
		})
		off = end + 4
	}
	var perr *ParseError
	off, perr = p.records(msg, off, int(m.ANCount), &m.Answers, "answer")
	if perr != nil {
		m.Events.add(EventMalformedData)
		return p.finish(perr)
	}
	off, perr = p.records(msg, off, int(m.NSCount), &m.Authorities, "authority")
	if perr != nil {
		m.Events.add(EventInvalidAuthorities)
		return p.finish(perr)
	}
	_, perr = p.records(msg, off, int(m.ARCount), &m.Additionals, "additional")
	if perr != nil {
		m.Events.add(EventInvalidAdditionals)
		return p.finish(perr)
	}
	return p.finish(nil)
}

// finish turns name references into slices and counts.
func (p *Parser) finish(perr *ParseError) (*Message, error) {
	m := &p.msg
	for i := range m.Questions {
		q := &m.Questions[i]
		q.Name = p.nameBytes(q.name)
	}
	for _, rs := range [3][]Record{m.Answers, m.Authorities, m.Additionals} {
		for i := range rs {
			r := &rs[i]
			r.Name = p.nameBytes(r.name)
			r.Target = p.nameBytes(r.target)
			r.RName = p.nameBytes(r.rname)
		}
	}
	for e := Event(0); e < numEvents; e++ {
		if m.Events.Has(e) {
			p.Stats.Events[e]++
		}
	}
	if perr != nil {
		p.Stats.Malformed++
		return m, perr
	}
	return m, nil
}

func (p *Parser) nameBytes(r nameRef) []byte {
	if r.off < 0 {
		return nil
	}
	return p.names[r.off : r.off+r.n : r.off+r.n]
}

var noName = nameRef{off: -1}

// records parses count resource records starting at off.
func (p *Parser) records(msg []byte, off, count int, dst *[]Record, section string) (int, *ParseError) {
	be := binary.BigEndian
	for i := 0; i < count; i++ {
		ref, end, reason := p.decodeName(msg, off)
		if reason != "" {
			return off, p.fail(section, i, off, reason)
		}
		if end+10 > len(msg) {
			return off, p.fail(section, i, end, "type, class, ttl and rdlength cut short")
		}
		rr := Record{
			Type:   be.Uint16(msg[end:]),
			Class:  be.Uint16(msg[end+2:]),
			TTL:    be.Uint32(msg[end+4:]),
			name:   ref,
			target: noName,
			rname:  noName,
		}
		rdlen := int(be.Uint16(msg[end+8:]))
		rdOff := end + 10
		if rdOff+rdlen > len(msg) {
			return off, p.fail(section, i, end+8, "rdlength runs past the end of the message")
		}
		rdata := msg[rdOff : rdOff+rdlen : rdOff+rdlen]
		if reason := p.rdata(msg, rdOff, rdata, &rr, dst); reason != "" {
			return off, p.fail(section, i, rdOff, reason)
		}
		off = rdOff + rdlen
	}
	return off, nil
}

// rdata decodes the rdata of rr (at rdOff in msg) and appends the record(s).
func (p *Parser) rdata(msg []byte, rdOff int, rdata []byte, rr *Record, dst *[]Record) string {
	be := binary.BigEndian
	end := rdOff + len(rdata)
	// name decodes a name that must lie within the rdata.
	name := func(at int) (nameRef, int, string) {
		ref, e, reason := p.decodeName(msg[:end], at)
		return ref, e, reason
	}
	switch rr.Type {
	case TypeCNAME, TypePTR, TypeNS:
		ref, _, reason := name(rdOff)
		if reason != "" {
			return reason
		}
		rr.target = ref
	case TypeMX:
		if len(rdata) < 3 {
			return "MX rdata shorter than 3 bytes"
		}
		rr.Pref = be.Uint16(rdata)
		ref, _, reason := name(rdOff + 2)
		if reason != "" {
			return reason
		}
		rr.target = ref
	case TypeSRV:
		if len(rdata) < 7 {
			return "SRV rdata shorter than 7 bytes"
		}
		rr.Pref = be.Uint16(rdata)
		rr.Weight = be.Uint16(rdata[2:])
		rr.Port = be.Uint16(rdata[4:])
		ref, _, reason := name(rdOff + 6)
		if reason != "" {
			return reason
		}
		rr.target = ref
	case TypeSOA:
		ref, e, reason := name(rdOff)
		if reason != "" {
			return reason
		}
		rr.target = ref
		ref, e, reason = name(e)
		if reason != "" {
			return reason
		}
		rr.rname = ref
		if e+20 > end {
			return "SOA counters cut short"
		}
		rr.Serial = be.Uint32(msg[e:])
		rr.Refresh = be.Uint32(msg[e+4:])
		rr.Retry = be.Uint32(msg[e+8:])
		rr.Expire = be.Uint32(msg[e+12:])
		rr.Minimum = be.Uint32(msg[e+16:])
	case TypeTXT:
		if len(rdata) == 0 {
			return "empty TXT rdata"
		}
		for len(rdata) > 0 {
			n := int(rdata[0])
			if 1+n > len(rdata) {
				return "TXT string runs past the rdata"
			}
			r := *rr
			r.Data = rdata[1 : 1+n : 1+n]
			*dst = append(*dst, r)
			rdata = rdata[1+n:]
		}
		return ""
	default:
		rr.Data = rdata
	}
	if rr.Data == nil && (rr.Type == TypeA || rr.Type == TypeAAAA) {
		rr.Data = rdata
	}
	*dst = append(*dst, *rr)
	return ""
}

// decodeName decodes the name at off in msg into p.names. It returns the
// reference, the offset just after the name in the original position, and
// a reason when the name cannot be decoded. Recoverable anomalies (loop
// after a pointer, too many labels after a pointer, a name too long) are
// recorded as events on p.msg and the name is truncated.
func (p *Parser) decodeName(msg []byte, off int) (nameRef, int, string) {
	start := len(p.names)
	pos := off
	after := -1 // offset after the first pointer, once one was followed
	p.gen++
	if p.gen == 0 {
		p.seenGen = [len(p.seenGen)]uint32{}
		p.gen = 1
	}
	steps := 0
	truncated := false
	for {
		if pos >= len(msg) {
			p.names = p.names[:start]
			return noName, 0, "name runs past the end of the message"
		}
		l := int(msg[pos])
		switch l & 0xc0 {
		case 0x00:
			if l == 0 {
				pos++
				goto done
			}
			if pos+1+l > len(msg) {
				p.names = p.names[:start]
				return noName, 0, "label runs past the end of the message"
			}
			if !truncated {
				if len(p.names) > start {
					p.names = append(p.names, '.')
				}
				p.names = append(p.names, msg[pos+1:pos+1+l]...)
				if len(p.names)-start > MaxNameLen {
					p.names = p.names[:start+MaxNameLen]
					truncated = true
					p.msg.Events.add(EventNameTooLong)
					if after >= 0 {
						goto done
					}
				}
			}
			pos += 1 + l
		case 0xc0:
			if pos+2 > len(msg) {
				p.names = p.names[:start]
				return noName, 0, "compression pointer cut short"
			}
			target := int(binary.BigEndian.Uint16(msg[pos:]) & 0x3fff)
			if target >= len(msg) {
				p.names = p.names[:start]
				return noName, 0, "compression pointer beyond the message"
			}
			if target == pos {
				// A pointer to itself.
				p.msg.Events.add(EventInfiniteLoop)
				if after >= 0 {
					goto done
				}
				p.names = p.names[:start]
				return noName, 0, "compression pointer loop"
			}
			if p.seen(pos) {
				p.msg.Events.add(EventInfiniteLoop)
				if after >= 0 {
					goto done
				}
				p.names = p.names[:start]
				return noName, 0, "compression pointer loop"
			}
			if after < 0 {
				after = pos + 2
			}
			pos = target
		default:
			p.names = p.names[:start]
			return noName, 0, "reserved label type (0x40 or 0x80)"
		}
		steps++
		p.budget--
		if p.budget < 0 {
			p.names = p.names[:start]
			return noName, 0, "name decompression exceeds the message's step budget"
		}
		if steps > MaxLabels {
			p.msg.Events.add(EventTooManyLabels)
			if after >= 0 {
				goto done
			}
			p.names = p.names[:start]
			return noName, 0, "more than 255 labels"
		}
	}
done:
	end := pos
	if after >= 0 {
		end = after
	}
	return nameRef{off: int32(start), n: int32(len(p.names) - start)}, end, ""
}

// seen adds the position of a compression pointer to the set of the name
// being decoded and reports whether it was already there (a loop). A name
// follows at most MaxLabels+1 pointers, so the set never fills.
func (p *Parser) seen(pos int) bool {
	h := (uint32(pos) * 2654435761) >> 23 // 9 bits
	for p.seenGen[h] == p.gen {
		if p.seenPos[h] == int32(pos) {
			return true
		}
		h = (h + 1) & (uint32(len(p.seenPos)) - 1)
	}
	p.seenGen[h] = p.gen
	p.seenPos[h] = int32(pos)
	return false
}
