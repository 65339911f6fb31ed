package pipe

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
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

// jsonEscape says how each byte below 0x80 is written inside a JSON
// string: 0 as it is, 'u' as \u00XX, any other value v as a backslash
// followed by v (the same rules as EVE's encoder).
var jsonEscape = [128]byte{
	0x00: 'u', 0x01: 'u', 0x02: 'u', 0x03: 'u', 0x04: 'u', 0x05: 'u', 0x06: 'u', 0x07: 'u',
	0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'u', 0x0c: 'f', 0x0d: 'r', 0x0e: 'u', 0x0f: 'u',
	0x10: 'u', 0x11: 'u', 0x12: 'u', 0x13: 'u', 0x14: 'u', 0x15: 'u', 0x16: 'u', 0x17: 'u',
	0x18: 'u', 0x19: 'u', 0x1a: 'u', 0x1b: 'u', 0x1c: 'u', 0x1d: 'u', 0x1e: 'u', 0x1f: 'u',
	'"': '"', '\\': '\\',
}

// appendJSONBytes appends v as a quoted JSON string, escaped as EVE
// escapes strings: quote and backslash with a backslash, control
// characters as \b \t \n \f \r or \u00xx; when v is not valid UTF-8, every
// byte of 0x80 or above becomes the characters \xNN (the backslash escaped
// in the JSON text).
func appendJSONBytes(b []byte, v []byte) []byte {
	b = append(b, '"')
	valid := utf8.Valid(v)
	start := 0
	for i, c := range v {
		if c >= 0x80 {
			if valid {
				continue
			}
			b = append(b, v[start:i]...)
			b = append(b, '\\', '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
			continue
		}
		e := jsonEscape[c]
		if e == 0 {
			continue
		}
		b = append(b, v[start:i]...)
		if e == 'u' {
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		} else {
			b = append(b, '\\', e)
		}
		start = i + 1
	}
	b = append(b, v[start:]...)
	return append(b, '"')
}

// appendJSONField appends a field name as a JSON string; names that passed
// validation need no escaping, anything else is escaped like a value.
func appendJSONField(b []byte, f string) []byte {
	for i := 0; i < len(f); i++ {
		if c := f[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return appendJSONBytes(b, []byte(f)) // rare: allocation acceptable
		}
	}
	b = append(b, '"')
	b = append(b, f...)
	return append(b, '"')
}

// appendJSON appends one "json" line.
func appendJSON(b []byte, field string, value []byte, tsNs int64, flowID uint64, loc *time.Location) []byte {
	b = append(b, `{"timestamp":"`...)
	b = appendISOTime(b, tsNs, loc)
	b = append(b, `","field":`...)
	b = appendJSONField(b, field)
	b = append(b, `,"value":`...)
	b = appendJSONBytes(b, value)
	if flowID != 0 {
		b = append(b, `,"flow_id":`...)
		b = strconv.AppendUint(b, flowID, 10)
	}
	return append(b, '}', '\n')
}

// appendISOTime appends the time as EVE writes timestamps:
// "2009-11-24T21:26:03.604227+0100" (local time of loc, microseconds,
// numeric UTC offset without a colon).
func appendISOTime(b []byte, ns int64, loc *time.Location) []byte {
	t := time.Unix(0, ns).In(loc)
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = appendPadded(b, year, 4)
	b = append(b, '-')
	b = appendPadded(b, int(month), 2)
	b = append(b, '-')
	b = appendPadded(b, day, 2)
	b = append(b, 'T')
	b = appendPadded(b, hour, 2)
	b = append(b, ':')
	b = appendPadded(b, min, 2)
	b = append(b, ':')
	b = appendPadded(b, sec, 2)
	b = append(b, '.')
	b = appendPadded(b, t.Nanosecond()/1000, 6)
	_, off := t.Zone()
	if off < 0 {
		b = append(b, '-')
		off = -off
	} else {
		b = append(b, '+')
	}
	off /= 60
	b = appendPadded(b, off/60, 2)
	return appendPadded(b, off%60, 2)
}

// appendPadded appends v (non-negative here) in decimal, left-padded with
// zeros to width digits.
func appendPadded(b []byte, v, width int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var tmp [20]byte
	i := len(tmp)
	for v >= 10 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	tmp[i] = byte('0' + v)
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}
