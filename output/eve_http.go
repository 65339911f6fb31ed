package output

import (
	"errors"

	"github.com/vigil-ids/vigil/dataplane/applayer/http"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Longest header name and value Suricata copies into request_headers /
// response_headers (MAX_SIZE_HEADER_NAME and MAX_SIZE_HEADER_VALUE, each
// less its terminating NUL).
const (
	maxHeaderName  = 256 - 1
	maxHeaderValue = 2048 - 1
)

var errNilHTTP = errors.New("output: eve: http: nil packet or transaction")

// HTTP writes an "http" record for transaction tx of flow flowID, in
// Suricata 8's layout: the common header in the flow's orientation (fi;
// the packet's when fi is nil), "tx_id", then the "http" object:
//
//	basic:    hostname, http_port, url, http_user_agent, xff,
//	          http_content_type, content_range {raw, start, end, size}
//	extended: http_refer, http_method, protocol, status, redirect, length
//	headers:  request_headers, response_headers [{name, value}] (when
//	          EVEConfig.HTTPRequestHeaders / HTTPResponseHeaders)
//
// Every field is written only when the transaction has it, except length,
// which is always there in extended mode.
func (e *EVE) HTTP(p *packet.Packet, flowID uint64, fi *FlowInfo, tx *http.Tx) error {
	if e.s.closed {
		return ErrClosed
	}
	if p == nil || tx == nil {
		return errNilHTTP
	}
	e.beginFlow(p, flowID, fi, "http")
	j := &e.s.j
	j.uint("tx_id", tx.ID)
	j.openObject("http")
	e.httpBasic(tx)
	if !e.cfg.HTTPBasic {
		e.httpExtended(tx)
	}
	if e.cfg.HTTPRequestHeaders {
		e.httpHeaders("request_headers", &tx.Request)
	}
	if e.cfg.HTTPResponseHeaders {
		e.httpHeaders("response_headers", &tx.Response)
	}
	j.closeObject()
	return e.end()
}

// httpObject writes the "http" object of an alert: basic and extended
// fields whatever the http record's configuration, as Suricata's alert
// output does.
func (e *EVE) httpObject(tx *http.Tx) {
	j := &e.s.j
	j.openObject("http")
	e.httpBasic(tx)
	e.httpExtended(tx)
	j.closeObject()
}

// httpBasic writes the fields Suricata logs in every http record.
func (e *EVE) httpBasic(tx *http.Tx) {
	j := &e.s.j
	if h := tx.Host(); h != nil {
		j.bytes("hostname", h)
	}
	// Only a port given in the URI or the Host header, whatever the
	// connection's port (libhtp's request_port_number).
	if tx.Port >= 0 {
		j.uint("http_port", uint64(tx.Port))
	}
	if u := tx.URIRaw(); u != nil {
		j.bytes("url", u)
	}
	q := &tx.Request
	if q.HeadersDone() {
		if v := q.Header("User-Agent"); v != nil {
			j.bytes("http_user_agent", v)
		}
		if v := q.Header("X-Forwarded-For"); v != nil {
			j.bytes("xff", v)
		}
	}
	r := &tx.Response
	if r.HeadersDone() {
		if v := r.Header("Content-Type"); v != nil {
			// Up to the first ';': the media type without parameters.
			for i, c := range v {
				if c == ';' {
					v = v[:i]
					break
				}
			}
			j.bytes("http_content_type", v)
		}
		if v := r.Header("Content-Range"); v != nil {
			j.openObject("content_range")
			j.bytes("raw", v)
			if start, end, size, ok := parseContentRange(v); ok {
				if start >= 0 {
					j.uint("start", uint64(start))
				}
				if end >= 0 {
					j.uint("end", uint64(end))
				}
				if size >= 0 {
					j.uint("size", uint64(size))
				}
			}
			j.closeObject()
		}
	}
}

// httpExtended writes the fields of Suricata's extended http logging.
func (e *EVE) httpExtended(tx *http.Tx) {
	j := &e.s.j
	q := &tx.Request
	if q.HeadersDone() {
		if v := q.Header("Referer"); v != nil {
			j.bytes("http_refer", v)
		}
	}
	if m := tx.Method(); m != nil {
		j.bytes("http_method", m)
	}
	if pr := q.Protocol(); pr != nil {
		j.bytes("protocol", pr)
	}
	if sc := tx.StatCode(); sc != nil {
		j.uint("status", uint64(statusValue(sc)))
		if tx.Response.HeadersDone() {
			if v := tx.Response.Header("Location"); v != nil {
				j.bytes("redirect", v)
			}
		}
	}
	length := tx.Response.BodyLen
	if length < 0 {
		length = 0
	}
	j.uint("length", uint64(length))
}

// httpHeaders writes a message's headers as [{"name", "value"}], names
// and values cut as Suricata cuts them (at a NUL byte, and at 255 and
// 2047 bytes). Nothing is written for a message without headers.
func (e *EVE) httpHeaders(key string, m *http.Message) {
	n := m.NumHeaders()
	if n == 0 || !m.HeadersDone() {
		return
	}
	j := &e.s.j
	j.openArray(key)
	for i := 0; i < n; i++ {
		name, value := m.HeaderAt(i)
		j.openObjectElem()
		j.bytes("name", cutHeader(name, maxHeaderName))
		j.bytes("value", cutHeader(value, maxHeaderValue))
		j.closeObject()
	}
	j.closeArray()
}

// cutHeader returns v up to its first NUL byte and at most max bytes, as
// Suricata's copy into a C string leaves it.
func cutHeader(v []byte, max int) []byte {
	if len(v) > max {
		v = v[:max]
	}
	for i, c := range v {
		if c == 0 {
			return v[:i]
		}
	}
	return v
}

// statusValue is the "status" Suricata writes: the status code read as
// strtoul does (leading blanks and an optional '+' skipped, then the
// decimal digits; 0 when there are none) and stored in an unsigned int.
func statusValue(sc []byte) uint32 {
	i := 0
	for i < len(sc) && (sc[i] == ' ' || (sc[i] >= '\t' && sc[i] <= '\r')) {
		i++
	}
	if i < len(sc) && sc[i] == '+' {
		i++
	}
	var v uint64
	for ; i < len(sc) && sc[i] >= '0' && sc[i] <= '9'; i++ {
		d := uint64(sc[i] - '0')
		if v > (^uint64(0)-d)/10 {
			return ^uint32(0) // ULONG_MAX truncated
		}
		v = v*10 + d
	}
	return uint32(v)
}

// parseContentRange parses a Content-Range value, "bytes START-END/SIZE"
// where START-END or SIZE may be "*" (RFC 9110 14.4). A "*" gives -1.
func parseContentRange(v []byte) (start, end, size int64, ok bool) {
	const unit = "bytes"
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	if len(v)-i < len(unit) || string(v[i:i+len(unit)]) != unit {
		return 0, 0, 0, false
	}
	i += len(unit)
	sp := i
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	if i == sp {
		return 0, 0, 0, false
	}
	start, end = -1, -1
	if i < len(v) && v[i] == '*' {
		i++
	} else {
		var okS, okE bool
		start, i, okS = parseDecimal(v, i)
		if !okS || i >= len(v) || v[i] != '-' {
			return 0, 0, 0, false
		}
		end, i, okE = parseDecimal(v, i+1)
		if !okE || end < start {
			return 0, 0, 0, false
		}
	}
	if i >= len(v) || v[i] != '/' {
		return 0, 0, 0, false
	}
	i++
	size = -1
	if i < len(v) && v[i] == '*' {
		i++
	} else {
		var okZ bool
		size, i, okZ = parseDecimal(v, i)
		if !okZ {
			return 0, 0, 0, false
		}
	}
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	if i != len(v) || (start < 0 && size < 0) {
		return 0, 0, 0, false
	}
	return start, end, size, true
}

// parseDecimal reads a non-negative decimal number at v[i:] that fits an
// int64.
func parseDecimal(v []byte, i int) (n int64, next int, ok bool) {
	s := i
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		d := int64(v[i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, i, false
		}
		n = n*10 + d
	}
	return n, i, i > s
}
