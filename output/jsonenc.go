package output

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"unicode/utf8"
)

// jsonBuf is an append-only JSON encoder over a reused byte slice. It keeps
// no state besides the bytes: whether a member needs a leading comma is
// decided from the last byte written (an object or array that was just
// opened ends in '{' or '['; every complete value ends in something else).
//
// Keys passed to the key-taking methods are trusted constants written as
// they are; every value string goes through escaping.
type jsonBuf struct {
	b []byte
}

const hexDigits = "0123456789abcdef"

// sep writes the comma that separates members, unless the enclosing object
// or array was just opened.
func (j *jsonBuf) sep() {
	if n := len(j.b); n > 0 {
		if c := j.b[n-1]; c != '{' && c != '[' {
			j.b = append(j.b, ',')
		}
	}
}

// key writes `"key":` with the separator before it.
func (j *jsonBuf) key(k string) {
	j.sep()
	j.b = append(j.b, '"')
	j.b = append(j.b, k...)
	j.b = append(j.b, '"', ':')
}

// dynKey writes a key that comes from input, escaped.
func (j *jsonBuf) dynKey(k string) {
	j.sep()
	j.b = appendJSONString(j.b, k)
	j.b = append(j.b, ':')
}

func (j *jsonBuf) openObject(k string) {
	j.key(k)
	j.b = append(j.b, '{')
}

func (j *jsonBuf) openArray(k string) {
	j.key(k)
	j.b = append(j.b, '[')
}

func (j *jsonBuf) closeObject() { j.b = append(j.b, '}') }
func (j *jsonBuf) closeArray()  { j.b = append(j.b, ']') }

func (j *jsonBuf) str(k, v string) {
	j.key(k)
	j.b = appendJSONString(j.b, v)
}

// bytes writes a string value given as bytes from the wire, escaped as
// appendJSONBytes does.
func (j *jsonBuf) bytes(k string, v []byte) {
	j.key(k)
	j.b = appendJSONBytes(j.b, v)
}

// boolean writes true or false.
func (j *jsonBuf) boolean(k string, v bool) {
	j.key(k)
	if v {
		j.b = append(j.b, "true"...)
	} else {
		j.b = append(j.b, "false"...)
	}
}

// appendBytesElem appends a string given as bytes to the open array.
func (j *jsonBuf) appendBytesElem(v []byte) {
	j.sep()
	j.b = appendJSONBytes(j.b, v)
}

// openObjectElem opens an object as the next element of the open array.
func (j *jsonBuf) openObjectElem() {
	j.sep()
	j.b = append(j.b, '{')
}

func (j *jsonBuf) uint(k string, v uint64) {
	j.key(k)
	j.b = strconv.AppendUint(j.b, v, 10)
}

func (j *jsonBuf) int(k string, v int64) {
	j.key(k)
	j.b = strconv.AppendInt(j.b, v, 10)
}

// appendUintElem appends an unsigned integer to the open array.
func (j *jsonBuf) appendUintElem(v uint64) {
	j.sep()
	j.b = strconv.AppendUint(j.b, v, 10)
}

// appendStringElem appends a string to the open array.
func (j *jsonBuf) appendStringElem(v string) {
	j.sep()
	j.b = appendJSONString(j.b, v)
}

// base64 writes v as a standard, padded base64 string.
func (j *jsonBuf) base64(k string, v []byte) {
	j.key(k)
	j.b = append(j.b, '"')
	j.b = base64.StdEncoding.AppendEncode(j.b, v)
	j.b = append(j.b, '"')
}

// printable writes v as a string in which every byte that is not printable
// ASCII (0x20-0x7e), a line feed or a carriage return is replaced by '.',
// the way Suricata writes payload_printable.
func (j *jsonBuf) printable(k string, v []byte) {
	j.key(k)
	j.b = append(j.b, '"')
	for _, c := range v {
		switch {
		case c == '"' || c == '\\':
			j.b = append(j.b, '\\', c)
		case c == '\n':
			j.b = append(j.b, '\\', 'n')
		case c == '\r':
			j.b = append(j.b, '\\', 'r')
		case c >= 0x20 && c <= 0x7e:
			j.b = append(j.b, c)
		default:
			j.b = append(j.b, '.')
		}
	}
	j.b = append(j.b, '"')
}

// ip writes an address in Suricata's text form (see appendIP).
func (j *jsonBuf) ip(k string, a netip.Addr) {
	j.key(k)
	j.b = append(j.b, '"')
	j.b = appendIP(j.b, a)
	j.b = append(j.b, '"')
}

// jsonEscape says how each byte below 0x80 is written inside a JSON string:
// 0 as it is, 'u' as \u00XX, any other value v as a backslash followed by v.
var jsonEscape = [128]byte{
	0x00: 'u', 0x01: 'u', 0x02: 'u', 0x03: 'u', 0x04: 'u', 0x05: 'u', 0x06: 'u', 0x07: 'u',
	0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'u', 0x0c: 'f', 0x0d: 'r', 0x0e: 'u', 0x0f: 'u',
	0x10: 'u', 0x11: 'u', 0x12: 'u', 0x13: 'u', 0x14: 'u', 0x15: 'u', 0x16: 'u', 0x17: 'u',
	0x18: 'u', 0x19: 'u', 0x1a: 'u', 0x1b: 'u', 0x1c: 'u', 0x1d: 'u', 0x1e: 'u', 0x1f: 'u',
	'"': '"', '\\': '\\',
}

// appendJSONString appends s as a quoted JSON string. Quote and backslash
// are escaped with a backslash, control characters as \b \t \n \f \r or
// \u00xx, as Suricata's JSON builder does. A string that is not valid UTF-8
// is written the way Suricata writes such byte strings: every byte of 0x80
// or above becomes the four characters \xNN (the backslash itself escaped
// in the JSON text), so the output is always valid JSON and keeps the
// original bytes recognisable.
func appendJSONString(b []byte, s string) []byte {
	return appendJSONText(b, s, utf8.ValidString(s))
}

// appendJSONBytes is appendJSONString for bytes from the wire.
func appendJSONBytes(b []byte, s []byte) []byte {
	return appendJSONText(b, s, utf8.Valid(s))
}

// appendJSONText does the work of appendJSONString and appendJSONBytes;
// valid says whether s is valid UTF-8.
func appendJSONText[T ~string | ~[]byte](b []byte, s T, valid bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			if valid {
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, '\\', '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
			continue
		}
		e := jsonEscape[c]
		if e == 0 {
			continue
		}
		b = append(b, s[start:i]...)
		if e == 'u' {
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		} else {
			b = append(b, '\\', e)
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendIP appends an address the way Suricata prints it: IPv4 in dotted
// decimal, IPv6 as eight groups of four lower-case hex digits with no
// compression ("2001:0db8:0000:0000:0000:0000:0000:0001"). An IPv4-mapped
// IPv6 address stays in the IPv6 form, as it arrived in an IPv6 header.
// An invalid address appends nothing.
func appendIP(b []byte, a netip.Addr) []byte {
	switch {
	case a.Is4():
		return a.AppendTo(b)
	case a.Is6():
		x := a.As16()
		for i := 0; i < 16; i += 2 {
			if i > 0 {
				b = append(b, ':')
			}
			b = append(b, hexDigits[x[i]>>4], hexDigits[x[i]&0xf], hexDigits[x[i+1]>>4], hexDigits[x[i+1]&0xf])
		}
	}
	return b
}

// appendPadded appends v in decimal, left-padded with zeros to width digits.
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

// AppendJSONBytes appends v as a quoted JSON string escaped exactly as EVE
// escapes wire bytes (invalid UTF-8 as \\xNN), for other writers of
// EVE-style lines (output/pipe).
func AppendJSONBytes(b, v []byte) []byte { return appendJSONBytes(b, v) }
