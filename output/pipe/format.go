package pipe

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-ids/vigil/output"
)

const hexDigits = "0123456789abcdef"

// textPlain marks the ASCII bytes a "text" line writes as they are:
// printable ASCII except the backslash.
var textPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '\\'
	}
	return t
}()

// appendText appends "<field>\t<value>\n" with both escaped (see the
// package comment).
func appendText(b []byte, field string, value []byte) []byte {
	for i := 0; i < len(field); i++ {
		c := field[i]
		if textPlain[c] {
			b = append(b, c)
		} else {
			b = appendTextByte(b, c)
		}
	}
	b = append(b, '\t')
	b = appendTextValue(b, value)
	return append(b, '\n')
}

// appendTextValue appends v escaped for a "text" line.
func appendTextValue(b []byte, v []byte) []byte {
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if textPlain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			// An invalid byte decodes as (RuneError, 1) and is escaped alone;
			// a valid sequence is kept if printable, else escaped byte by byte.
			r, size := utf8.DecodeRune(v[i:])
			if size > 1 && unicode.IsPrint(r) {
				i += size
				continue
			}
			b = append(b, v[start:i]...)
			for _, x := range v[i : i+size] {
				b = appendTextByte(b, x)
			}
			i += size
			start = i
			continue
		}
		b = append(b, v[start:i]...)
		b = appendTextByte(b, c)
		i++
		start = i
	}
	return append(b, v[start:]...)
}

func appendTextByte(b []byte, c byte) []byte {
	switch c {
	case '\n':
		return append(b, '\\', 'n')
	case '\t':
		return append(b, '\\', 't')
	case '\\':
		return append(b, '\\', '\\')
	}
	return append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendJSONField appends a field name as a JSON string; names that passed
// validation need no escaping, anything else is escaped like a value.
func appendJSONField(b []byte, f string) []byte {
	for i := 0; i < len(f); i++ {
		if c := f[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return output.AppendJSONBytes(b, []byte(f)) // rare: allocation acceptable
		}
	}
	b = append(b, '"')
	b = append(b, f...)
	return append(b, '"')
}

// appendJSON appends one "json" line.
func appendJSON(b []byte, field string, value []byte, tsNs int64, flowID uint64, loc *time.Location) []byte {
	b = append(b, `{"timestamp":"`...)
	b = output.AppendTimestamp(b, tsNs, loc)
	b = append(b, `","field":`...)
	b = appendJSONField(b, field)
	b = append(b, `,"value":`...)
	b = output.AppendJSONBytes(b, value)
	if flowID != 0 {
		b = append(b, `,"flow_id":`...)
		b = strconv.AppendUint(b, flowID, 10)
	}
	return append(b, '}', '\n')
}
