// Package http parses HTTP/1.x for detection and logging. A Parser belongs
// to one TCP connection; the stream engine feeds it reassembled data per
// direction in arbitrary chunks, as a socket reader would receive it, and
// takes completed transactions (request and response with their detection
// buffers and events) off it in order.
//
// Behaviour follows libhtp as Suricata configures it by default (the IDS
// personality with lowercase conversion turned off, 100 KiB body limits,
// 18000-byte field limit), and events carry Suricata's names.
//
// Ownership: Feed never keeps a reference to the data it is given; every
// byte a transaction exposes is a copy in buffers the parser reuses after
// the transaction is recycled.
package http

import (
	"bytes"
	"compress/gzip"
	"io"
	"sync"
)

// Dir is a direction of the connection.
type Dir uint8

const (
	// ToServer carries requests.
	ToServer Dir = 0
	// ToClient carries responses.
	ToClient Dir = 1
)

// Defaults as in Suricata's suricata.yaml / libhtp.
const (
	DefaultBodyLimit   = 100 << 10 // request-body-limit, response-body-limit
	DefaultFieldLimit  = 18000     // libhtp hard field limit (one line)
	DefaultHeaderLimit = 64 << 10  // raw header section kept per message
	DefaultMaxHeaders  = 1024      // libhtp number of headers limit
	DefaultLayerLimit  = 2         // decompression layers (compression-layer-limit)
	DefaultBombLimit   = 1 << 20   // decompressed bytes before the bomb check
	DefaultBombRatio   = 2048      // decompressed:compressed ratio of a bomb
	DefaultMaxTxs      = 512       // transactions held per connection (max-tx)
	maxHeaderReps      = 64        // libhtp HTP_MAX_HEADERS_REPETITIONS
)

// Config sets a parser's limits. Zero fields take the defaults.
type Config struct {
	RequestBodyLimit  int // request body bytes kept for inspection
	ResponseBodyLimit int // response body bytes kept for inspection
	FieldLimit        int // longest request/status/header line kept
	HeaderLimit       int // raw header section bytes kept per message
	MaxHeaders        int // distinct headers per message
	LayerLimit        int // content-encoding layers decoded
	BombLimit         int // output per decompression layer before stopping
	BombRatio         int // ratio above which a stopped layer is a bomb
	// MaxTxs bounds the transactions a parser holds (not yet popped). A
	// request beyond it stops parsing of the connection's requests: the
	// rest of that direction is consumed unparsed and the last transaction
	// gets unknown_error.
	MaxTxs int
	// DecompressRequests also decodes Content-Encoding of request bodies
	// (responses are always decoded).
	DecompressRequests bool
}

func (c *Config) fill() {
	if c.RequestBodyLimit <= 0 {
		c.RequestBodyLimit = DefaultBodyLimit
	}
	if c.ResponseBodyLimit <= 0 {
		c.ResponseBodyLimit = DefaultBodyLimit
	}
	if c.FieldLimit <= 0 {
		c.FieldLimit = DefaultFieldLimit
	}
	if c.HeaderLimit <= 0 {
		c.HeaderLimit = DefaultHeaderLimit
	}
	if c.MaxHeaders <= 0 {
		c.MaxHeaders = DefaultMaxHeaders
	}
	if c.LayerLimit <= 0 {
		c.LayerLimit = DefaultLayerLimit
	}
	if c.LayerLimit > maxLayers {
		c.LayerLimit = maxLayers
	}
	if c.BombLimit <= 0 {
		c.BombLimit = DefaultBombLimit
	}
	if c.BombRatio <= 0 {
		c.BombRatio = DefaultBombRatio
	}
	if c.MaxTxs <= 0 {
		c.MaxTxs = DefaultMaxTxs
	}
}

// parse states of one direction
const (
	stLine      uint8 = iota // waiting for a request or status line
	stHeaders                // header lines
	stBody                   // Content-Length body, remaining bytes
	stChunkLen               // chunk size line
	stChunkData              // chunk data, remaining bytes
	stChunkEnd               // CRLF after chunk data
	stTrailers               // trailer lines
	stBodyClose              // body until the connection closes
	stTunnel                 // not HTTP any more (CONNECT, Upgrade)
	stIgnore                 // parsing stopped: data consumed unparsed
)

type side struct {
	state     uint8
	resync    bool // after a gap: skip to a plausible start line
	closed    bool
	tooLong   bool // current line passed the field limit
	line      []byte
	tail      []byte
	tx        *Tx
	remaining int64
	// afterReq is 1 + the ID of the request that completed last on this
	// (ToServer) side, while no new request line has started; 0 if none.
	afterReq uint64
}

// Parser parses one connection. The zero value is not ready: use
// NewParser or AcquireParser.
type Parser struct {
	cfg  Config
	side [2]side
	txs  []*Tx // in progress or complete, oldest first
	free []*Tx
	next uint64

	// ServerPort is the connection's server TCP port, 0 if unknown; when
	// set, a Host port that differs raises
	// request_server_port_tcp_port_mismatch.
	ServerPort int

	// decompression state, reused
	br   bytes.Reader
	gz   gzip.Reader
	fl   io.ReadCloser
	zbuf [2][]byte
}

// NewParser returns a parser with cfg's limits (nil: defaults).
func NewParser(cfg *Config) *Parser {
	p := &Parser{}
	if cfg != nil {
		p.cfg = *cfg
	}
	p.cfg.fill()
	return p
}

var parserPool = sync.Pool{New: func() any { return &Parser{} }}

// AcquireParser takes a parser from a process-wide pool and configures it.
func AcquireParser(cfg *Config) *Parser {
	p := parserPool.Get().(*Parser)
	p.Reset()
	p.cfg = Config{}
	if cfg != nil {
		p.cfg = *cfg
	}
	p.cfg.fill()
	return p
}

// ReleaseParser resets p and returns it to the pool. Transactions taken
// from p must not be used afterwards.
func ReleaseParser(p *Parser) {
	p.Reset()
	parserPool.Put(p)
}

// Reset readies p for a new connection, keeping its buffers and config.
func (p *Parser) Reset() {
	for _, tx := range p.txs {
		p.free = append(p.free, tx)
	}
	clear(p.txs)
	p.txs = p.txs[:0]
	for d := range p.side {
		s := &p.side[d]
		*s = side{line: s.line[:0], tail: s.tail[:0]}
	}
	p.next = 0
	p.ServerPort = 0
}

// Txs returns the transactions the parser holds, oldest first: in progress,
// and complete ones not yet taken with Pop. The slice is valid until the
// next call on p.
func (p *Parser) Txs() []*Tx { return p.txs }

// Pop removes and returns the oldest transaction if it is complete (both
// request and response), else nil. Give it back with Recycle when done.
func (p *Parser) Pop() *Tx {
	if len(p.txs) == 0 || !p.txs[0].Complete() {
		return nil
	}
	tx := p.txs[0]
	copy(p.txs, p.txs[1:])
	p.txs[len(p.txs)-1] = nil
	p.txs = p.txs[:len(p.txs)-1]
	return tx
}

// Recycle returns a transaction taken with Pop for reuse; its buffers
// are overwritten by later transactions.
func (p *Parser) Recycle(tx *Tx) {
	if tx != nil {
		p.free = append(p.free, tx)
	}
}

func (p *Parser) newTx() *Tx {
	var tx *Tx
	if n := len(p.free); n > 0 {
		tx = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	} else {
		tx = new(Tx)
	}
	tx.reset(p.next)
	p.next++
	p.txs = append(p.txs, tx)
	if p.side[ToClient].closed {
		tx.Response.complete = true // no response can come any more
	}
	return tx
}

// Feed parses the next bytes of one direction. data may be any split of
// the stream, down to single bytes; Feed keeps copies of what it needs.
// With gap set, len(data) bytes of the stream were lost here and data's
// content is ignored: a body of known length skips them, elsewhere the
// direction resynchronizes on the next request or status line.
//
// It returns how many bytes it consumed: all of them, unless the
// connection stopped being HTTP (CONNECT tunnel, protocol upgrade), in
// which case the rest belongs to another parser.
func (p *Parser) Feed(dir Dir, data []byte, gap bool) (consumed int) {
	dir &= 1
	s := &p.side[dir]
	if s.state == stTunnel || s.closed {
		return 0
	}
	if gap {
		p.gap(dir, int64(len(data)))
		return len(data)
	}
	n := 0
	for n < len(data) {
		switch s.state {
		case stTunnel:
			return n
		case stBody, stChunkData:
			take := len(data) - n
			if int64(take) > s.remaining {
				take = int(s.remaining)
			}
			p.bodyData(dir, data[n:n+take])
			n += take
			s.remaining -= int64(take)
			if s.remaining == 0 {
				if s.state == stBody {
					p.finishMessage(dir)
				} else {
					s.state = stChunkEnd
				}
			}
		case stBodyClose:
			p.bodyData(dir, data[n:])
			n = len(data)
		case stIgnore:
			return len(data)
		case stLine:
			if dir == ToClient && len(s.line) == 0 && !s.resync && p.start09() {
				continue
			}
			fallthrough
		default:
			k, line, ok := p.takeLine(s, data[n:])
			n += k
			if !ok {
				return n
			}
			p.onLine(dir, line)
			s.line = s.line[:0]
			s.tail = s.tail[:0]
			s.tooLong = false
		}
	}
	return n
}

// tailKeep is how many bytes of the end of an over-long line are kept
// (after the first FieldLimit-tailKeep bytes), so that the protocol at the
// end of a request line survives truncation.
const tailKeep = 32

// takeLine collects one line. It returns the bytes consumed and, once the
// line is complete, the line without its LF (and CR).
func (p *Parser) takeLine(s *side, data []byte) (int, []byte, bool) {
	i := bytes.IndexByte(data, '\n')
	chunk := data
	if i >= 0 {
		chunk = data[:i]
	}
	limit := p.cfg.FieldLimit
	if i >= 0 && len(s.line) == 0 && !s.tooLong {
		if l := trimCR(chunk); len(l) <= limit {
			return i + 1, l, true // whole line in data: no copy
		}
	}
	// One byte more than the limit: a CR that a later LF ends the line
	// with does not count.
	room := limit + 1 - len(s.line)
	if room < 0 {
		room = 0
	}
	if len(chunk) > room {
		s.line = append(s.line, chunk[:room]...)
		s.tooLong = true
	} else {
		s.line = append(s.line, chunk...)
	}
	s.tail = appendTail(s.tail, chunk)
	if i < 0 {
		return len(data), nil, false
	}
	return i + 1, p.finishLine(s), true
}

// finishLine returns the collected line without its CR, cut to the field
// limit as the first bytes and the last tailKeep bytes when it is longer.
func (p *Parser) finishLine(s *side) []byte {
	limit := p.cfg.FieldLimit
	line := trimCR(s.line)
	if len(line) > limit {
		s.tooLong = true
	}
	if !s.tooLong {
		return line
	}
	t := trimCR(s.tail)
	if len(t) > tailKeep {
		t = t[len(t)-tailKeep:]
	}
	if limit < 2*tailKeep {
		t = t[:0]
	}
	if len(line) > limit-len(t) {
		line = line[:limit-len(t)]
	}
	line = append(line, t...)
	s.line = line
	return line
}

func appendTail(t, b []byte) []byte {
	const keep = tailKeep + 1 // and a CR
	if len(b) >= keep {
		return append(t[:0], b[len(b)-keep:]...)
	}
	t = append(t, b...)
	if len(t) > keep {
		n := copy(t, t[len(t)-keep:])
		t = t[:n]
	}
	return t
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

func (p *Parser) onLine(dir Dir, line []byte) {
	s := &p.side[dir]
	switch s.state {
	case stLine:
		if len(trimLWS(line)) == 0 {
			// Empty lines between messages are skipped, but one right
			// after a request's body is data the request did not
			// announce: libhtp takes it as more body and raises
			// request_body_unexpected, once per transaction.
			if dir == ToServer && s.afterReq != 0 {
				if tx := p.txByID(s.afterReq - 1); tx != nil {
					tx.Events.Add(EventRequestBodyUnexpected)
				}
			}
			return
		}
		if dir == ToServer {
			s.afterReq = 0
			if s.resync && !looksLikeRequest(line) {
				return
			}
			s.resync = false
			if len(p.txs) >= p.cfg.MaxTxs {
				p.txs[len(p.txs)-1].Events.Add(EventUnknownError)
				s.state = stIgnore
				return
			}
			p.requestLine(line, s.tooLong)
		} else {
			if s.resync && !hasPrefixFold(line, "HTTP/") {
				return
			}
			s.resync = false
			p.statusLine(line, s.tooLong)
		}
	case stHeaders:
		tx := s.tx
		m := msg(tx, dir)
		if len(line) == 0 {
			appendRaw(m, p.cfg.HeaderLimit, "\r\n")
			p.headersDone(dir)
			return
		}
		p.headerLine(dir, tx, m, line, s.tooLong, false)
	case stChunkLen:
		p.chunkLen(dir, line)
	case stChunkEnd:
		s.state = stChunkLen
		if len(trimLWS(line)) != 0 {
			// data where the CRLF after a chunk belongs: treat it as the
			// next size line, as lenient servers do
			p.chunkLen(dir, line)
		}
	case stTrailers:
		tx := s.tx
		m := msg(tx, dir)
		if len(line) == 0 {
			buildBuffers(m, dir)
			p.finishMessage(dir)
			return
		}
		p.headerLine(dir, tx, m, line, s.tooLong, true)
	}
}

func msg(tx *Tx, dir Dir) *Message {
	if dir == ToServer {
		return &tx.Request
	}
	return &tx.Response
}

func appendRaw(m *Message, limit int, s string) {
	if len(m.raw)+len(s) <= limit {
		m.raw = append(m.raw, s...)
	}
}

func appendRawBytes(m *Message, limit int, b []byte) {
	if room := limit - len(m.raw); room > 0 {
		if len(b) > room {
			b = b[:room]
		}
		m.raw = append(m.raw, b...)
	}
}

// looksLikeRequest accepts a line that starts with a method token and a
// space, as the start of a request after lost data.
func looksLikeRequest(line []byte) bool {
	i := 0
	for i < len(line) && i < 32 && isToken(line[i]) {
		i++
	}
	return i > 0 && i < len(line) && line[i] == ' ' && bytes.Contains(line[i:], []byte(" HTTP/"))
}

func isToken(c byte) bool {
	if c <= 32 || c >= 127 {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return false
	}
	return true
}

func (p *Parser) requestLine(line []byte, tooLong bool) {
	s := &p.side[ToServer]
	tx := p.newTx()
	s.tx = tx
	m := &tx.Request
	m.started = true
	if tooLong {
		tx.Events.Add(EventRequestFieldTooLong)
	}
	m.hasLine = true
	m.line = m.put(line)
	l := m.get(m.line)
	base := m.line.off

	i := 0
	if i < len(l) && isSpace(l[i]) {
		tx.Events.Add(EventRequestLineLeadingWhitespace)
		for i < len(l) && isSpace(l[i]) {
			i++
		}
	}
	ms := i
	for i < len(l) && !isSpace(l[i]) {
		i++
	}
	tx.method = span{base + int32(ms), base + int32(i)}
	for j := ms; j < i; j++ {
		if !isToken(l[j]) {
			tx.Events.Add(EventRequestLineInvalid)
			break
		}
	}
	if i < len(l) && l[i] != ' ' {
		tx.Events.Add(EventMethodDelimNonCompliant)
	}
	for i < len(l) && isSpace(l[i]) {
		i++
	}
	rest := l[i:]
	if len(rest) == 0 {
		// method only
		tx.Events.Add(EventRequestLineIncomplete)
		tx.ProtoNum = 9
		tx.Events.Add(EventRequestLineMissingProtocol)
		p.finishMessage(ToServer)
		return
	}
	// The protocol is the last word if it looks like HTTP; otherwise the
	// URI is the first word and anything after it an invalid protocol.
	us, ue := i, len(l)
	ps, pe := -1, -1
	k := len(l)
	for k > i && !isSpace(l[k-1]) {
		k--
	}
	if k > i && hasPrefixFold(l[k:], "HTTP") {
		ps, pe = k, len(l)
		ue = k
		for ue > us && isSpace(l[ue-1]) {
			ue--
		}
		if ue < len(l) && l[ue] != ' ' {
			tx.Events.Add(EventURIDelimNonCompliant)
		}
	} else {
		ue = us
		for ue < len(l) && !isSpace(l[ue]) {
			ue++
		}
		if ue < len(l) {
			if l[ue] != ' ' {
				tx.Events.Add(EventURIDelimNonCompliant)
			}
			q := ue
			for q < len(l) && isSpace(l[q]) {
				q++
			}
			if q < len(l) {
				ps, pe = q, len(l)
			}
		}
	}
	tx.hasURI = true
	tx.uriRaw = span{base + int32(us), base + int32(ue)}
	if ps >= 0 {
		m.hasProto = true
		m.proto = span{base + int32(ps), base + int32(pe)}
		tx.ProtoNum = protoNum(l[ps:pe])
		if tx.ProtoNum < 0 {
			tx.Events.Add(EventRequestLineInvalid)
		}
	} else {
		tx.ProtoNum = 9
		tx.Events.Add(EventRequestLineMissingProtocol)
	}
	p.parseURI(tx)
	if tx.ProtoNum == 9 {
		m.headersDone = true
		buildBuffers(m, ToServer)
		p.finishMessage(ToServer)
		return
	}
	s.state = stHeaders
}

// protoNum parses "HTTP/x.y": 10, 11, 9 for 0.9, other versions as
// 10*major+minor; -1 when it is not an HTTP version.
func protoNum(b []byte) int {
	if len(b) != 8 || !hasPrefixFold(b, "HTTP/") || b[6] != '.' {
		return -1
	}
	a, c := b[5], b[7]
	if a < '0' || a > '9' || c < '0' || c > '9' {
		return -1
	}
	return int(a-'0')*10 + int(c-'0')
}

func (p *Parser) statusLine(line []byte, tooLong bool) {
	s := &p.side[ToClient]
	tx := s.tx // set when a 1xx response preceded this one
	if tx == nil && p.start09() {
		p.bodyData(ToClient, line)
		p.bodyData(ToClient, crlf)
		return
	}
	for _, t := range p.txs {
		if tx != nil {
			break
		}
		if !t.Response.started {
			tx = t
			break
		}
	}
	if tx == nil {
		if len(p.txs) >= p.cfg.MaxTxs {
			p.txs[len(p.txs)-1].Events.Add(EventUnknownError)
			s.state = stIgnore
			return
		}
		tx = p.newTx()
		tx.Events.Add(EventUnableToMatchResponseToRequest)
		tx.Request.complete = true
	}
	s.tx = tx
	m := &tx.Response
	m.started = true
	if tooLong {
		tx.Events.Add(EventResponseFieldTooLong)
	}
	m.hasLine = true
	m.line = m.put(line)
	l := m.get(m.line)
	base := m.line.off
	i := 0
	for i < len(l) && isSpace(l[i]) {
		i++
	}
	ps := i
	for i < len(l) && !isSpace(l[i]) {
		i++
	}
	m.hasProto = true
	m.proto = span{base + int32(ps), base + int32(i)}
	tx.RespProtoNum = protoNum(l[ps:i])
	if !hasPrefixFold(l[ps:i], "HTTP") {
		// Not a status line: libhtp treats the data as a body.
		tx.Events.Add(EventResponseInvalidProtocol)
		m.headersDone = true
		s.state = stBodyClose
		p.setupDecoding(ToClient, tx, m)
		p.bodyData(ToClient, line)
		p.bodyData(ToClient, crlf)
		return
	}
	if tx.RespProtoNum < 0 {
		tx.Events.Add(EventResponseInvalidProtocol)
	}
	for i < len(l) && isSpace(l[i]) {
		i++
	}
	cs := i
	for i < len(l) && !isSpace(l[i]) {
		i++
	}
	ce := i
	for i < len(l) && isSpace(l[i]) {
		i++
	}
	tx.hasStatus = true
	tx.statCode = span{base + int32(cs), base + int32(ce)}
	tx.statMsg = span{base + int32(i), base + int32(len(l))}
	code := l[cs:ce]
	tx.Status = -1
	if len(code) == 3 && isDigit(code[0]) && isDigit(code[1]) && isDigit(code[2]) {
		tx.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
		if tx.Status < 100 {
			tx.Status = -1
		}
	}
	if tx.Status < 0 {
		tx.Events.Add(EventResponseInvalidStatus)
	}
	s.state = stHeaders
}

var crlf = []byte("\r\n")

// start09 starts the response of the oldest transaction waiting for one
// when its request was HTTP/0.9: such a response is a bare body until the
// connection ends.
func (p *Parser) start09() bool {
	for _, t := range p.txs {
		if t.Response.started {
			continue
		}
		if t.ProtoNum != 9 || !t.Request.hasLine {
			return false
		}
		s := &p.side[ToClient]
		s.tx = t
		t.Response.started = true
		t.Response.headersDone = true
		s.state = stBodyClose
		return true
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (p *Parser) headerLine(dir Dir, tx *Tx, m *Message, line []byte, tooLong, trailer bool) {
	if !trailer || len(m.raw) > 0 {
		appendRawBytes(m, p.cfg.HeaderLimit, line)
		appendRaw(m, p.cfg.HeaderLimit, "\r\n")
	}
	if tooLong {
		tx.Events.Add(pick(dir, EventRequestFieldTooLong, EventResponseFieldTooLong))
	}
	if line[0] == ' ' || line[0] == '\t' {
		// obs-fold: continues the previous header
		if len(m.hdrs) == 0 || m.reps < 0 {
			tx.Events.Add(pick(dir, EventInvalidRequestFieldFolding, EventInvalidResponseFieldFolding))
			line = trimLWS(line)
			if len(line) == 0 {
				return
			}
		} else {
			v := trimLWS(line)
			if len(v) > 0 {
				h := &m.hdrs[m.reps]
				extend(m, &h.value, " ", v)
			}
			return
		}
	}
	colon := bytes.IndexByte(line, ':')
	var name, value []byte
	if colon < 0 {
		// libhtp keeps such a line as a header with an empty name
		tx.Events.Add(pick(dir, EventRequestFieldMissingColon, EventResponseFieldMissingColon))
		name, value = nil, trimLWS(line)
	} else {
		name, value = line[:colon], trimLWS(line[colon+1:])
		// whitespace before the colon is tolerated but invalid
		n := len(name)
		for n > 0 && (name[n-1] == ' ' || name[n-1] == '\t') {
			n--
		}
		if n != len(name) || n == 0 {
			tx.Events.Add(pick(dir, EventRequestHeaderInvalid, EventResponseHeaderInvalid))
		}
		name = name[:n]
		for _, c := range name {
			if !isToken(c) {
				tx.Events.Add(pick(dir, EventRequestHeaderInvalid, EventResponseHeaderInvalid))
				break
			}
		}
	}
	for i := range m.hdrs {
		h := &m.hdrs[i]
		if !equalFold(m.get(h.name), string(name)) {
			continue
		}
		if h.count == 1 {
			tx.Events.Add(pick(dir, EventRequestHeaderRepetition, EventResponseHeaderRepetition))
		}
		if h.count >= maxHeaderReps {
			m.reps = -1
			return
		}
		h.count++
		m.reps = int32(i)
		if equalFold(name, "content-length") {
			a, b := parseContentLength(m.get(h.value)), parseContentLength(value)
			if a < 0 || b < 0 || a != b {
				tx.Events.Add(pick(dir, EventDuplicateContentLengthFieldInRequest, EventDuplicateContentLengthFieldInResponse))
			}
			return
		}
		extend(m, &h.value, ", ", value)
		return
	}
	if len(m.hdrs) >= p.cfg.MaxHeaders {
		tx.Events.Add(pick(dir, EventRequestTooManyHeaders, EventResponseTooManyHeaders))
		m.reps = -1
		return
	}
	m.hdrs = append(m.hdrs, header{name: m.put(name), value: m.put(value), count: 1})
	m.reps = int32(len(m.hdrs) - 1)
}

// extend appends sep and v to the value at s, moving it to the arena's end
// first if something was stored after it.
func extend(m *Message, s *span, sep string, v []byte) {
	if int(s.end) != len(m.arena) {
		off := len(m.arena)
		m.arena = append(m.arena, m.arena[s.off:s.end]...)
		*s = span{int32(off), int32(len(m.arena))}
	}
	m.arena = append(m.arena, sep...)
	m.arena = append(m.arena, v...)
	s.end = int32(len(m.arena))
}

func pick(dir Dir, req, resp Event) Event {
	if dir == ToServer {
		return req
	}
	return resp
}

// parseContentLength parses digits with surrounding whitespace as libhtp
// does; -1 when invalid.
func parseContentLength(b []byte) int64 {
	b = trimLWS(b)
	if len(b) == 0 {
		return -1
	}
	var v int64
	for _, c := range b {
		if !isDigit(c) {
			return -1
		}
		if v > (1<<62)/10 {
			return -1
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

// buildBuffers builds http.start, http.header and http.header_names.
func buildBuffers(m *Message, dir Dir) {
	skip := "cookie"
	if dir == ToClient {
		skip = "set-cookie"
	}
	off := len(m.arena)
	for i := range m.hdrs {
		h := &m.hdrs[i]
		if equalFold(m.get(h.name), skip) {
			continue
		}
		m.arena = append(m.arena, m.arena[h.name.off:h.name.end]...)
		m.arena = append(m.arena, ": "...)
		m.arena = append(m.arena, m.arena[h.value.off:h.value.end]...)
		m.arena = append(m.arena, "\r\n"...)
	}
	m.arena = append(m.arena, "\r\n"...)
	m.block = span{int32(off), int32(len(m.arena))}
	off = len(m.arena)
	m.arena = append(m.arena, "\r\n"...)
	for i := range m.hdrs {
		h := &m.hdrs[i]
		m.arena = append(m.arena, m.arena[h.name.off:h.name.end]...)
		m.arena = append(m.arena, "\r\n"...)
	}
	m.arena = append(m.arena, "\r\n"...)
	m.names = span{int32(off), int32(len(m.arena))}
	off = len(m.arena)
	if m.hasLine {
		m.arena = append(m.arena, m.arena[m.line.off:m.line.end]...)
		m.arena = append(m.arena, "\r\n"...)
	}
	m.arena = append(m.arena, m.raw...)
	m.start = span{int32(off), int32(len(m.arena))}
}

func (p *Parser) headersDone(dir Dir) {
	s := &p.side[dir]
	tx := s.tx
	m := msg(tx, dir)
	m.headersDone = true
	m.reps = 0
	buildBuffers(m, dir)

	te := m.Header("Transfer-Encoding")
	cl := m.Header("Content-Length")
	chunked := false
	if te != nil {
		switch {
		case equalFold(trimLWS(te), "chunked"):
			chunked = true
		case containsTokenFold(te, "chunked"):
			chunked = true
			if dir == ToClient {
				tx.Events.Add(EventResponseAbnormalTransferEncoding)
			} else {
				tx.Events.Add(EventInvalidTransferEncodingValueInRequest)
			}
		case !equalFold(trimLWS(te), "identity"):
			tx.Events.Add(pick(dir, EventInvalidTransferEncodingValueInRequest, EventInvalidTransferEncodingValueInResponse))
		}
	}
	if cl != nil {
		m.ContentLength = parseContentLength(cl)
		if m.ContentLength < 0 {
			tx.Events.Add(pick(dir, EventInvalidContentLengthFieldInRequest, EventInvalidContentLengthFieldInResponse))
		}
	}

	if dir == ToServer {
		p.checkHost(tx)
		p.setupDecoding(dir, tx, m)
		switch {
		case chunked:
			m.Chunked = true
			s.state = stChunkLen
		case m.ContentLength > 0:
			s.state = stBody
			s.remaining = m.ContentLength
		default:
			p.finishMessage(dir)
		}
		return
	}

	// responses
	if tx.Status >= 100 && tx.Status < 200 {
		if tx.Status == 101 {
			m.complete = true
			p.tunnel()
			return
		}
		// 1xx interim response: the real one follows in the same tx.
		if tx.continueSeen {
			tx.Events.Add(Event100ContinueAlreadySeen)
		}
		tx.continueSeen = true
		m.reset()
		s.state = stLine
		tx.hasStatus = false
		tx.Status = -1
		tx.RespProtoNum = -1
		m.started = true
		return
	}
	if equalFold(tx.Method(), "CONNECT") && tx.Status >= 200 && tx.Status < 300 {
		m.complete = true
		p.tunnel()
		return
	}
	if equalFold(tx.Method(), "HEAD") || tx.Status == 204 || tx.Status == 304 {
		p.finishMessage(dir)
		return
	}
	p.setupDecoding(dir, tx, m)
	switch {
	case chunked:
		if tx.RespProtoNum >= 0 && tx.RespProtoNum < 11 {
			tx.Events.Add(EventResponseChunkedOldProto)
		}
		m.Chunked = true
		s.state = stChunkLen
	case m.ContentLength == 0:
		p.finishMessage(dir)
	case m.ContentLength > 0:
		s.state = stBody
		s.remaining = m.ContentLength
	default:
		s.state = stBodyClose
	}
}

// tunnel ends HTTP parsing of the connection after a successful CONNECT
// or a protocol switch.
func (p *Parser) tunnel() {
	for d := range p.side {
		s := &p.side[d]
		if s.tx != nil {
			m := msg(s.tx, Dir(d))
			if !m.complete {
				p.finishMessage(Dir(d))
			}
		}
		s.state = stTunnel
	}
	for _, tx := range p.txs {
		tx.Request.complete = true
		tx.Response.complete = true
	}
}

func containsTokenFold(b []byte, tok string) bool {
	for len(b) > 0 {
		i := bytes.IndexByte(b, ',')
		part := b
		if i >= 0 {
			part, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		part = trimLWS(part)
		if j := bytes.IndexByte(part, ';'); j >= 0 {
			part = trimLWS(part[:j])
		}
		if equalFold(part, tok) {
			return true
		}
	}
	return false
}

func (p *Parser) chunkLen(dir Dir, line []byte) {
	s := &p.side[dir]
	tx := s.tx
	l := trimLWS(line)
	i := 0
	var v int64
	for i < len(l) && isHex(l[i]) {
		if v > 1<<40 {
			break
		}
		v = v<<4 | int64(unhex(l[i]))
		i++
	}
	rest := trimLWS(l[i:])
	bad := i == 0 || v > 1<<40
	if !bad && len(rest) > 0 {
		if rest[0] == ';' {
			tx.Events.Add(pick(dir, EventRequestChunkExtension, EventResponseChunkExtension))
		} else {
			bad = true
		}
	}
	if bad {
		// The body cannot be followed any further.
		tx.Events.Add(pick(dir, EventInvalidRequestChunkLen, EventInvalidResponseChunkLen))
		m := msg(tx, dir)
		m.Truncated = true
		p.finishMessage(dir)
		s.resync = true
		return
	}
	if v == 0 {
		s.state = stTrailers
		return
	}
	s.state = stChunkData
	s.remaining = v
}

func isHex(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') }

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// finishMessage completes the current message of dir.
func (p *Parser) finishMessage(dir Dir) {
	s := &p.side[dir]
	tx := s.tx
	s.state = stLine
	s.remaining = 0
	s.tx = nil
	if tx == nil {
		return
	}
	m := msg(tx, dir)
	p.flushDecoding(dir, tx, m)
	m.complete = true
	if dir == ToServer {
		s.afterReq = tx.ID + 1
	}
}

// txByID finds a transaction still held by the parser.
func (p *Parser) txByID(id uint64) *Tx {
	for _, tx := range p.txs {
		if tx.ID == id {
			return tx
		}
	}
	return nil
}

// Close tells the parser that dir's stream ended. A body delimited by the
// connection's end completes; anything partial completes truncated. After
// ToClient closes, requests still waiting for a response complete without
// one.
func (p *Parser) Close(dir Dir) {
	dir &= 1
	s := &p.side[dir]
	if s.closed {
		return
	}
	if len(s.line) > 0 || s.tooLong {
		switch s.state {
		case stLine, stHeaders, stTrailers, stChunkLen, stChunkEnd:
			p.onLine(dir, p.finishLine(s))
		}
		s.line = s.line[:0]
		s.tail = s.tail[:0]
		s.tooLong = false
	}
	if s.tx != nil {
		m := msg(s.tx, dir)
		if s.state != stBodyClose {
			m.Truncated = true
			if !m.headersDone && m.hasLine {
				m.headersDone = true
				buildBuffers(m, dir)
			}
		}
		p.finishMessage(dir)
	}
	s.closed = true
	p.completeClosed()
}

// completeClosed completes the parts of all transactions whose direction
// has ended: no more data will come for them.
func (p *Parser) completeClosed() {
	q, r := p.side[ToServer].closed, p.side[ToClient].closed
	for _, tx := range p.txs {
		if q {
			tx.Request.complete = true
		}
		if r {
			tx.Response.complete = true
		}
	}
}

// gap handles n lost bytes in dir.
func (p *Parser) gap(dir Dir, n int64) {
	s := &p.side[dir]
	if n <= 0 {
		return
	}
	switch s.state {
	case stBody, stChunkData:
		m := msg(s.tx, dir)
		m.Gap = true
		m.BodyTruncated = true
		p.decodeBeforeGap(dir, s.tx, m)
		if n < s.remaining {
			s.remaining -= n
			m.BodyLen += n
			return
		}
		m.BodyLen += s.remaining
		if s.state == stBody && n == s.remaining {
			p.finishMessage(dir)
			return
		}
	case stBodyClose:
		m := msg(s.tx, dir)
		m.Gap = true
		m.BodyTruncated = true
		m.BodyLen += n
		p.decodeBeforeGap(dir, s.tx, m)
		return
	case stTunnel:
		return
	}
	if s.tx != nil {
		m := msg(s.tx, dir)
		m.Gap = true
		m.Truncated = true
		if !m.headersDone && m.hasLine {
			m.headersDone = true
			buildBuffers(m, dir)
		}
		p.finishMessage(dir)
	}
	s.line = s.line[:0]
	s.tooLong = false
	s.state = stLine
	s.resync = true
}
