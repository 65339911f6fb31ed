package http

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
)

// content codings
const (
	encGzip uint8 = iota + 1
	encDeflate
)

func (p *Parser) limit(dir Dir) int {
	if dir == ToServer {
		return p.cfg.RequestBodyLimit
	}
	return p.cfg.ResponseBodyLimit
}

// setupDecoding reads Content-Encoding into the message's layer list.
func (p *Parser) setupDecoding(dir Dir, tx *Tx, m *Message) {
	m.nenc = 0
	if dir == ToServer && !p.cfg.DecompressRequests {
		return
	}
	ce := m.Header("Content-Encoding")
	if ce == nil {
		return
	}
	for len(ce) > 0 {
		i := bytes.IndexByte(ce, ',')
		tok := ce
		if i >= 0 {
			tok, ce = ce[:i], ce[i+1:]
		} else {
			ce = nil
		}
		tok = trimLWS(tok)
		var e uint8
		switch {
		case len(tok) == 0, equalFold(tok, "identity"):
			continue
		case equalFold(tok, "gzip"), equalFold(tok, "x-gzip"):
			e = encGzip
		case equalFold(tok, "deflate"), equalFold(tok, "x-deflate"):
			e = encDeflate
		default:
			tx.Events.Add(EventAbnormalCEHeader)
			continue
		}
		if int(m.nenc) >= p.cfg.LayerLimit {
			tx.Events.Add(EventTooManyEncodingLayers)
			continue
		}
		m.enc[m.nenc] = e
		m.nenc++
	}
}

// bodyData takes de-chunked body bytes of dir's current message.
func (p *Parser) bodyData(dir Dir, b []byte) {
	tx := p.side[dir].tx
	if tx == nil || len(b) == 0 {
		return
	}
	m := msg(tx, dir)
	m.BodyLen += int64(len(b))
	lim := p.limit(dir)
	if m.nenc == 0 {
		room := lim - len(m.body)
		if len(b) > room {
			b = b[:room]
			m.BodyTruncated = true
		}
		m.body = append(m.body, b...)
		return
	}
	if m.zdone {
		m.BodyTruncated = true
		return
	}
	// Compressed input is kept up to the limit and decoded when the body
	// ends or the limit is reached: Go's inflaters cannot suspend on a
	// short input.
	room := lim - len(m.zin)
	if len(b) >= room {
		m.zin = append(m.zin, b[:room]...)
		p.decode(tx, m, lim)
		if len(b) > room {
			m.BodyTruncated = true
		}
		return
	}
	m.zin = append(m.zin, b...)
}

// decodeBeforeGap decodes what was kept of a compressed body before data
// was lost: the bytes after the hole cannot be decompressed.
func (p *Parser) decodeBeforeGap(dir Dir, tx *Tx, m *Message) {
	if m.nenc > 0 && !m.zdone {
		p.decode(tx, m, p.limit(dir))
	}
}

func (p *Parser) flushDecoding(dir Dir, tx *Tx, m *Message) {
	if m.nenc > 0 && !m.zdone && len(m.zin) > 0 {
		p.decode(tx, m, p.limit(dir))
	}
}

// decode runs the content-coding layers over the kept input, outermost
// (last listed) first, and keeps up to lim bytes of the result as the body.
func (p *Parser) decode(tx *Tx, m *Message, lim int) {
	m.zdone = true
	in := m.zin
	for k := int(m.nenc) - 1; k >= 0; k-- {
		buf := &p.zbuf[k&1]
		out, err := p.inflate((*buf)[:0], in, m.enc[k])
		*buf = out[:0]
		switch {
		case errors.Is(err, errLimit):
			// libhtp: a bomb is output past the limit at a ratio to the
			// message's compressed size above BombRatio
			if len(out)/max(len(m.zin), 1) > p.cfg.BombRatio {
				tx.Events.Add(EventCompressionBomb)
			}
			m.BodyTruncated = true
		case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
			tx.Events.Add(EventGzipDecompressionFailed)
			if len(out) == 0 {
				// libhtp passes undecodable data through as it is
				out = append(out, in...)
				*buf = out[:0]
				k = 0
			}
		}
		in = out
	}
	if len(in) > lim {
		in = in[:lim]
		m.BodyTruncated = true
	}
	m.body = append(m.body[:0], in...)
}

var errLimit = errors.New("http: decompression output limit reached")

// inflate decodes src (gzip, or zlib/raw deflate) and appends the output
// to dst, at most BombLimit bytes.
func (p *Parser) inflate(dst, src []byte, enc uint8) ([]byte, error) {
	p.br.Reset(src)
	var r io.Reader
	if enc == encGzip {
		if err := p.gz.Reset(&p.br); err != nil {
			return dst, err
		}
		r = &p.gz
	} else {
		if len(src) >= 2 && src[0]&0x0f == 8 && src[0]>>4 <= 7 && (uint16(src[0])<<8|uint16(src[1]))%31 == 0 {
			p.br.Reset(src[2:]) // zlib wrapper; the checksum is not verified
		}
		if p.fl == nil {
			p.fl = flate.NewReader(&p.br)
		} else if err := p.fl.(flate.Resetter).Reset(&p.br, nil); err != nil {
			return dst, err
		}
		r = p.fl
	}
	max := p.cfg.BombLimit
	for {
		if len(dst) == max {
			return dst, errLimit
		}
		if cap(dst) == len(dst) {
			n := 2*cap(dst) + 4096
			if n > max {
				n = max
			}
			nd := make([]byte, len(dst), n)
			copy(nd, dst)
			dst = nd
		}
		end := cap(dst)
		if end > max {
			end = max
		}
		n, err := r.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
