package http

// span locates bytes in a Message's arena; end == 0 with off == 0 is "absent"
// only together with the has flag of the field that uses it.
type span struct{ off, end int32 }

func (s span) len() int { return int(s.end - s.off) }

type header struct {
	name, value span
	count       int32 // occurrences merged into this entry
}

// Message is one side of a transaction: a request or a response. Its byte
// slices alias buffers the parser reuses; they are valid until the
// transaction is recycled (Parser.Recycle) or the parser is Reset.
type Message struct {
	arena []byte   // line parts, names, values, built buffers
	raw   []byte   // header lines as received (http.header.raw)
	hdrs  []header // merged header table, first-occurrence order
	body  []byte   // inspected body, at most the body limit

	line, proto         span
	start, block, names span // built at headers end (and after trailers)
	zin                 []byte

	// ContentLength is the parsed Content-Length, -1 if absent or invalid.
	ContentLength int64
	// BodyLen counts body bytes seen on the wire (after de-chunking, before
	// decompression), including bytes beyond the inspection limit.
	BodyLen int64
	// Chunked is set when the body used chunked transfer coding.
	Chunked bool
	// BodyTruncated is set when the body was cut at the inspection limit
	// or by a gap or a decompression limit.
	BodyTruncated bool
	// Gap is set when stream data of this message was lost.
	Gap bool
	// Truncated is set when the message ended before it was complete
	// (stream end or gap).
	Truncated bool

	started, headersDone, complete bool
	hasLine, hasProto              bool
	enc                            [maxLayers]uint8
	nenc                           uint8
	zdone                          bool
	reps                           int32
}

const maxLayers = 4

func (m *Message) reset() {
	*m = Message{
		arena: m.arena[:0], raw: m.raw[:0], hdrs: m.hdrs[:0],
		body: m.body[:0], zin: m.zin[:0], ContentLength: -1,
	}
}

func (m *Message) get(s span) []byte {
	if s.end <= s.off {
		return m.arena[s.off:s.off:s.off]
	}
	return m.arena[s.off:s.end:s.end]
}

func (m *Message) put(b []byte) span {
	off := len(m.arena)
	m.arena = append(m.arena, b...)
	return span{int32(off), int32(len(m.arena))}
}

// Started reports whether any of the message was seen.
func (m *Message) Started() bool { return m.started }

// HeadersDone reports whether the line and headers are complete.
func (m *Message) HeadersDone() bool { return m.headersDone }

// Complete reports whether the message (with its body) is complete.
func (m *Message) Complete() bool { return m.complete }

// Line is the request or status line without its terminator.
func (m *Message) Line() []byte {
	if !m.hasLine {
		return nil
	}
	return m.get(m.line)
}

// Protocol is the protocol string ("HTTP/1.1"), nil if absent.
func (m *Message) Protocol() []byte {
	if !m.hasProto {
		return nil
	}
	return m.get(m.proto)
}

// Header returns the value of the named header (case-insensitive), nil if
// absent. Repeated headers are joined with ", " as libhtp does.
func (m *Message) Header(name string) []byte {
	for i := range m.hdrs {
		if equalFold(m.get(m.hdrs[i].name), name) {
			return m.get(m.hdrs[i].value)
		}
	}
	return nil
}

// NumHeaders is the number of distinct headers.
func (m *Message) NumHeaders() int { return len(m.hdrs) }

// HeaderAt returns the i-th distinct header, in first-occurrence order.
func (m *Message) HeaderAt(i int) (name, value []byte) {
	h := &m.hdrs[i]
	return m.get(h.name), m.get(h.value)
}

// HeaderBlock is Suricata's http.header buffer: "Name: value\r\n" per
// header (Cookie in requests and Set-Cookie in responses left out), and a
// final "\r\n". Nil before the headers are complete.
func (m *Message) HeaderBlock() []byte {
	if !m.headersDone {
		return nil
	}
	return m.get(m.block)
}

// HeaderNames is Suricata's http.header_names buffer: "\r\n", then
// "Name\r\n" per header, then "\r\n". Nil before the headers are complete.
func (m *Message) HeaderNames() []byte {
	if !m.headersDone {
		return nil
	}
	return m.get(m.names)
}

// HeaderRaw is the header section as received (http.header.raw), up to
// the header size limit, including the empty line that ends it.
func (m *Message) HeaderRaw() []byte {
	if !m.started {
		return nil
	}
	return m.raw
}

// Start is Suricata's http.start: the line, "\r\n" and the raw header
// section. Nil before the headers are complete.
func (m *Message) Start() []byte {
	if !m.headersDone {
		return nil
	}
	return m.get(m.start)
}

// Body is the inspected body: de-chunked and decompressed, at most the
// configured body limit.
func (m *Message) Body() []byte { return m.body }

// Tx is an HTTP transaction: a request and its response. A transaction
// created for a response without a request has an empty Request.
type Tx struct {
	// ID numbers the flow's transactions from 0, as Suricata does.
	ID uint64
	// Events raised while parsing this transaction.
	Events Events

	Request  Message
	Response Message

	method, uriRaw, uri, host, hostRaw span
	statCode, statMsg                  span
	hasURI, hasHost, hasHostRaw        bool
	hasStatus                          bool
	// Status is the numeric response status, -1 if absent or invalid.
	Status int
	// Port is the port from the URI authority or else the Host header, -1
	// if none.
	Port int
	// ProtoNum is the request protocol: 9 for HTTP/0.9 (no protocol),
	// 10 or 11 for HTTP/1.0 and 1.1, -1 when unparsable.
	ProtoNum int
	// RespProtoNum is the same for the response.
	RespProtoNum  int
	continueSeen  bool
	connectTunnel bool
}

func (tx *Tx) reset(id uint64) {
	tx.Request.reset()
	tx.Response.reset()
	req, resp := tx.Request, tx.Response
	*tx = Tx{ID: id, Request: req, Response: resp, Status: -1, Port: -1, ProtoNum: -1, RespProtoNum: -1}
}

// Complete reports whether both the request and the response are complete.
func (tx *Tx) Complete() bool { return tx.Request.complete && tx.Response.complete }

// Method is the request method (http.method), nil if absent.
func (tx *Tx) Method() []byte {
	if !tx.Request.hasLine {
		return nil
	}
	return tx.Request.get(tx.method)
}

// URIRaw is the request target as sent (http.uri.raw).
func (tx *Tx) URIRaw() []byte {
	if !tx.hasURI {
		return nil
	}
	return tx.Request.get(tx.uriRaw)
}

// URI is the normalized request URI (http.uri): path decoded and
// normalized as libhtp's IDS personality does in Suricata's default
// configuration, then "?" and the query as sent, then "#" and the decoded
// fragment.
func (tx *Tx) URI() []byte {
	if !tx.hasURI {
		return nil
	}
	return tx.Request.get(tx.uri)
}

// Host is the normalized host name (http.host): from an absolute URI's
// authority, else from the Host header; lower case, port and trailing dots
// removed.
func (tx *Tx) Host() []byte {
	if !tx.hasHost {
		return nil
	}
	return tx.Request.get(tx.host)
}

// HostRaw is http.host.raw: the absolute URI's host name as sent, else the
// Host header value as sent.
func (tx *Tx) HostRaw() []byte {
	if !tx.hasHostRaw {
		return nil
	}
	return tx.Request.get(tx.hostRaw)
}

// StatCode is the status code as sent (http.stat_code), nil if absent.
func (tx *Tx) StatCode() []byte {
	if !tx.hasStatus {
		return nil
	}
	return tx.Response.get(tx.statCode)
}

// StatMsg is the status text (http.stat_msg), nil if absent.
func (tx *Tx) StatMsg() []byte {
	if !tx.hasStatus {
		return nil
	}
	return tx.Response.get(tx.statMsg)
}

// Buffer names a detection buffer of a transaction.
type Buffer uint8

// Detection buffers, named after Suricata's sticky buffers.
const (
	BufURI                 Buffer = iota // http.uri
	BufURIRaw                            // http.uri.raw
	BufMethod                            // http.method
	BufProtocol                          // http.protocol (request)
	BufRequestLine                       // http.request_line
	BufHost                              // http.host
	BufHostRaw                           // http.host.raw
	BufUserAgent                         // http.user_agent
	BufHeader                            // http.header (request)
	BufHeaderRaw                         // http.header.raw (request)
	BufHeaderNames                       // http.header_names (request)
	BufCookie                            // http.cookie (request Cookie)
	BufContentType                       // http.content_type (request)
	BufContentLen                        // http.content_len (request)
	BufReferer                           // http.referer
	BufAccept                            // http.accept
	BufAcceptEnc                         // http.accept_enc
	BufAcceptLang                        // http.accept_lang
	BufConnection                        // http.connection (request)
	BufStart                             // http.start (request)
	BufRequestBody                       // http.request_body
	BufStatCode                          // http.stat_code
	BufStatMsg                           // http.stat_msg
	BufResponseLine                      // http.response_line
	BufResponseProtocol                  // http.protocol (response)
	BufResponseHeader                    // http.header (response)
	BufResponseHeaderRaw                 // http.header.raw (response)
	BufResponseHeaderNames               // http.header_names (response)
	BufResponseCookie                    // http.cookie (response Set-Cookie)
	BufResponseContentType               // http.content_type (response)
	BufResponseContentLen                // http.content_len (response)
	BufResponseConnection                // http.connection (response)
	BufResponseStart                     // http.start (response)
	BufResponseBody                      // http.response_body
	BufServer                            // http.server
	BufLocation                          // http.location
	NumBuffers
)

// Buffer returns the named buffer's bytes, nil when the transaction does
// not have it (yet).
func (tx *Tx) Buffer(b Buffer) []byte {
	q, r := &tx.Request, &tx.Response
	switch b {
	case BufURI:
		return tx.URI()
	case BufURIRaw:
		return tx.URIRaw()
	case BufMethod:
		return tx.Method()
	case BufProtocol:
		return q.Protocol()
	case BufRequestLine:
		return q.Line()
	case BufHost:
		return tx.Host()
	case BufHostRaw:
		return tx.HostRaw()
	case BufUserAgent:
		return q.Header("User-Agent")
	case BufHeader:
		return q.HeaderBlock()
	case BufHeaderRaw:
		return q.HeaderRaw()
	case BufHeaderNames:
		return q.HeaderNames()
	case BufCookie:
		return q.Header("Cookie")
	case BufContentType:
		return q.Header("Content-Type")
	case BufContentLen:
		return q.Header("Content-Length")
	case BufReferer:
		return q.Header("Referer")
	case BufAccept:
		return q.Header("Accept")
	case BufAcceptEnc:
		return q.Header("Accept-Encoding")
	case BufAcceptLang:
		return q.Header("Accept-Language")
	case BufConnection:
		return q.Header("Connection")
	case BufStart:
		return q.Start()
	case BufRequestBody:
		return q.Body()
	case BufStatCode:
		return tx.StatCode()
	case BufStatMsg:
		return tx.StatMsg()
	case BufResponseLine:
		return r.Line()
	case BufResponseProtocol:
		return r.Protocol()
	case BufResponseHeader:
		return r.HeaderBlock()
	case BufResponseHeaderRaw:
		return r.HeaderRaw()
	case BufResponseHeaderNames:
		return r.HeaderNames()
	case BufResponseCookie:
		return r.Header("Set-Cookie")
	case BufResponseContentType:
		return r.Header("Content-Type")
	case BufResponseContentLen:
		return r.Header("Content-Length")
	case BufResponseConnection:
		return r.Header("Connection")
	case BufResponseStart:
		return r.Start()
	case BufResponseBody:
		return r.Body()
	case BufServer:
		return r.Header("Server")
	case BufLocation:
		return r.Header("Location")
	}
	return nil
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x != y && lower(x) != lower(y) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 32
	}
	return c
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

func trimLWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}
