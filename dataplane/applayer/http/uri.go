package http

// URI and host normalization, following libhtp with Suricata's default
// settings: the IDS personality (backslashes become slashes, encoded
// separators are decoded, repeated slashes are compressed, %u encoding is
// decoded, UTF-8 is folded to single bytes with a best-fit map, invalid
// %-encoding is preserved) with lowercase conversion turned off, and no
// double decoding (a double-encoded path raises double_encoded_uri).

func (p *Parser) parseURI(tx *Tx) {
	m := &tx.Request
	raw := m.get(tx.uriRaw)
	// absolute form: scheme "://" authority path
	var auth []byte
	rest := raw
	if i := schemeEnd(raw); i > 0 {
		rest = raw[i+3:]
		j := 0
		for j < len(rest) && rest[j] != '/' && rest[j] != '?' && rest[j] != '#' {
			j++
		}
		auth, rest = rest[:j], rest[j:]
	} else if equalFold(tx.Method(), "CONNECT") && len(raw) > 0 && raw[0] != '/' {
		auth, rest = raw, nil
	}
	path, query, frag := rest, []byte(nil), []byte(nil)
	hasQ, hasF := false, false
	for i, c := range rest {
		if c == '?' || c == '#' {
			path = rest[:i]
			tail := rest[i:]
			if c == '?' {
				hasQ = true
				query = tail[1:]
				for j, d := range query {
					if d == '#' {
						hasF = true
						frag = query[j+1:]
						query = query[:j]
						break
					}
				}
			} else {
				hasF = true
				frag = tail[1:]
			}
			break
		}
	}
	if auth != nil {
		host, port, ok := splitHostPort(auth)
		if host != nil {
			tx.hasHostRaw = true
			tx.hostRaw = subspan(m, tx.uriRaw, raw, host)
			if !validHost(host) {
				tx.Events.Add(EventRequestURIHostInvalid)
			}
			tx.hasHost = true
			tx.host = normHost(m, host)
		}
		if !ok {
			tx.Events.Add(EventInvalidServerPortInRequest)
		} else if port >= 0 {
			tx.Port = port
		}
	}
	// normalized URI
	off := len(m.arena)
	if len(path) == 0 && auth != nil {
		m.arena = append(m.arena, '/')
	} else {
		var double bool
		m.arena, double = decodePath(m.arena, path)
		if double {
			tx.Events.Add(EventDoubleEncodedURI)
		}
		m.arena = append(m.arena[:off], utf8BestFit(m.arena[off:])...)
		n := removeDotSegments(m.arena[off:])
		m.arena = m.arena[:off+n]
	}
	if hasQ {
		m.arena = append(m.arena, '?')
		m.arena = append(m.arena, query...)
	}
	if hasF {
		m.arena = append(m.arena, '#')
		m.arena = urlDecode(m.arena, frag)
	}
	tx.uri = span{int32(off), int32(len(m.arena))}
}

// subspan returns the span of sub, a subslice of b which is stored at s.
func subspan(m *Message, s span, b, sub []byte) span {
	if len(sub) == 0 {
		return span{s.off, s.off}
	}
	// sub was resliced from b, whose capacity ends where b does
	off := cap(b) - cap(sub)
	if off < 0 || off+len(sub) > len(b) || &b[off] != &sub[0] {
		return m.put(sub)
	}
	return span{s.off + int32(off), s.off + int32(off+len(sub))}
}

func schemeEnd(b []byte) int {
	for i := 0; i+2 < len(b); i++ {
		c := b[i]
		if c == ':' {
			if i > 0 && b[i+1] == '/' && b[i+2] == '/' {
				return i
			}
			return -1
		}
		if !(('a' <= lower(c) && lower(c) <= 'z') || (i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.'))) {
			return -1
		}
	}
	return -1
}

// splitHostPort splits [userinfo@]host[:port]. port is -1 when absent; ok
// is false for an invalid port.
func splitHostPort(a []byte) (host []byte, port int, ok bool) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == '@' {
			a = a[i+1:]
			break
		}
	}
	host, port, ok = a, -1, true
	end := len(a)
	if len(a) > 0 && a[0] == '[' {
		j := 0
		for j < len(a) && a[j] != ']' {
			j++
		}
		if j == len(a) {
			return a, -1, true // validHost rejects it
		}
		host = a[:j+1]
		end = j + 1
	} else {
		for j := 0; j < len(a); j++ {
			if a[j] == ':' {
				host, end = a[:j], j
				break
			}
		}
	}
	if end < len(a) {
		if a[end] != ':' {
			return host, -1, false
		}
		ps := trimLWS(a[end+1:])
		if len(ps) == 0 {
			return host, -1, true
		}
		v := 0
		for _, c := range ps {
			if !isDigit(c) || v > 65535 {
				return host, -1, false
			}
			v = v*10 + int(c-'0')
		}
		if v == 0 || v > 65535 {
			return host, -1, false
		}
		port = v
	}
	return host, port, ok
}

func validHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		if h[len(h)-1] != ']' || len(h) < 3 {
			return false
		}
		for _, c := range h[1 : len(h)-1] {
			if !(isHex(c) || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	label := 0
	for i, c := range h {
		switch {
		case c == '.':
			if label == 0 && i != len(h)-1 {
				return false
			}
			label = 0
		case isDigit(c) || ('a' <= lower(c) && lower(c) <= 'z') || c == '-' || c == '_':
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// normHost stores host lowercased with trailing dots removed.
func normHost(m *Message, h []byte) span {
	for len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	off := len(m.arena)
	for _, c := range h {
		m.arena = append(m.arena, lower(c))
	}
	return span{int32(off), int32(len(m.arena))}
}

// checkHost takes the host from the Host header when the URI had none and
// raises the host events.
func (p *Parser) checkHost(tx *Tx) {
	m := &tx.Request
	hv := m.Header("Host")
	if hv == nil {
		if tx.ProtoNum >= 11 {
			tx.Events.Add(EventMissingHostHeader)
		}
		return
	}
	var hi int
	for i := range m.hdrs {
		if equalFold(m.get(m.hdrs[i].name), "host") {
			hi = i
			break
		}
	}
	vs := m.hdrs[hi].value
	host, port, ok := splitHostPort(trimLWS(hv))
	if !ok {
		tx.Events.Add(EventInvalidAuthorityPort)
	}
	if !validHost(host) {
		tx.Events.Add(EventRequestHeaderHostInvalid)
	}
	if tx.hasHost {
		// absolute URI: the Host header must agree
		uh := m.get(tx.host)
		h := host
		for len(h) > 0 && h[len(h)-1] == '.' {
			h = h[:len(h)-1]
		}
		if !equalFoldBytes(uh, h) {
			tx.Events.Add(EventHostHeaderAmbiguous)
		}
		if port >= 0 && tx.Port >= 0 && port != tx.Port {
			tx.Events.Add(EventHostHeaderAmbiguous)
		}
	} else {
		tx.hasHostRaw = true
		tx.hostRaw = vs
		tx.hasHost = true
		tx.host = normHost(m, host)
		if port >= 0 {
			tx.Port = port
		}
	}
	if p.ServerPort > 0 && port >= 0 && port != p.ServerPort {
		tx.Events.Add(EventRequestServerPortTCPPortMismatch)
	}
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// decodePath appends the decoded path to dst: %XX and %uXXXX decoded,
// invalid escapes kept as sent, backslashes turned into slashes and runs of
// slashes compressed. double reports an escape that decodes to '%'
// followed by another valid escape.
func decodePath(dst, src []byte) (out []byte, double bool) {
	prevSlash := false
	for i := 0; i < len(src); {
		c := src[i]
		i++
		if c == '%' {
			switch {
			case i < len(src) && (src[i] == 'u' || src[i] == 'U') && i+4 < len(src)+0 && isHex4(src[i+1:]):
				v := int(unhex(src[i+1]))<<12 | int(unhex(src[i+2]))<<8 | int(unhex(src[i+3]))<<4 | int(unhex(src[i+4]))
				i += 5
				c = bestFit(v)
			case i+1 < len(src) && isHex(src[i]) && isHex(src[i+1]):
				c = unhex(src[i])<<4 | unhex(src[i+1])
				i += 2
				if c == '%' && startsEscape(src[i:]) {
					double = true
				}
			}
		}
		if c == '\\' {
			c = '/'
		}
		if c == '/' {
			if prevSlash {
				continue
			}
			prevSlash = true
		} else {
			prevSlash = false
		}
		dst = append(dst, c)
	}
	return dst, double
}

func isHex4(b []byte) bool {
	return len(b) >= 4 && isHex(b[0]) && isHex(b[1]) && isHex(b[2]) && isHex(b[3])
}

func startsEscape(b []byte) bool {
	if len(b) >= 2 && isHex(b[0]) && isHex(b[1]) {
		return true
	}
	return len(b) >= 5 && (b[0] == 'u' || b[0] == 'U') && isHex4(b[1:])
}

// bestFit maps a code point to one byte: itself below 0x100, the ASCII
// counterpart of a full-width form, '?' otherwise (libhtp's replacement
// byte).
func bestFit(v int) byte {
	switch {
	case v < 0x100:
		return byte(v)
	case v >= 0xff01 && v <= 0xff5e:
		return byte(v - 0xff01 + 0x21)
	}
	return '?'
}

// utf8BestFit folds valid multi-byte UTF-8 sequences to one byte each
// with bestFit, in place; invalid sequences are left as they are.
func utf8BestFit(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); {
		c := b[r]
		n, v := 0, 0
		switch {
		case c >= 0xc2 && c <= 0xdf:
			n, v = 2, int(c&0x1f)
		case c >= 0xe0 && c <= 0xef:
			n, v = 3, int(c&0x0f)
		case c >= 0xf0 && c <= 0xf4:
			n, v = 4, int(c&0x07)
		}
		if n > 0 && r+n <= len(b) {
			ok := true
			for k := 1; k < n; k++ {
				if b[r+k]&0xc0 != 0x80 {
					ok = false
					break
				}
				v = v<<6 | int(b[r+k]&0x3f)
			}
			if ok && !(n == 3 && v < 0x800) && !(n == 4 && (v < 0x10000 || v > 0x10ffff)) && !(v >= 0xd800 && v <= 0xdfff) {
				b[w] = bestFit(v)
				w++
				r += n
				continue
			}
		}
		b[w] = c
		w++
		r++
	}
	return b[:w]
}

// removeDotSegments applies RFC 3986 section 5.2.4 to b in place and
// returns the new length.
func removeDotSegments(b []byte) int {
	w := 0 // output length
	r := 0
	for r < len(b) {
		in := b[r:]
		switch {
		case hasPrefix(in, "../"):
			r += 3
		case hasPrefix(in, "./"):
			r += 2
		case hasPrefix(in, "/./"):
			r += 2
		case string(in) == "/.":
			b[r+1] = '/'
			r++
		case hasPrefix(in, "/../"):
			r += 3
			w = popSegment(b, w)
		case string(in) == "/..":
			r += 2
			b[r] = '/'
			w = popSegment(b, w)
		case string(in) == "." || string(in) == "..":
			r = len(b)
		default:
			// move the first segment: "/" then up to the next "/"
			j := r
			if b[j] == '/' {
				j++
			}
			for j < len(b) && b[j] != '/' {
				j++
			}
			w += copy(b[w:], b[r:j])
			r = j
		}
	}
	return w
}

func popSegment(b []byte, w int) int {
	for w > 0 && b[w-1] != '/' {
		w--
	}
	if w > 0 {
		w--
	}
	return w
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

// urlDecode appends src to dst with %XX escapes decoded.
func urlDecode(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '%' && i+2 < len(src)+0 && isHex(src[i+1]) && isHex(src[i+2]) {
			c = unhex(src[i+1])<<4 | unhex(src[i+2])
			i += 2
		}
		dst = append(dst, c)
	}
	return dst
}
