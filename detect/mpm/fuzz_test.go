package mpm

import "testing"

// fuzzPatterns decodes a pattern set from the fuzzer's bytes: each pattern is
// a header byte (low 4 bits: length-1, bit 4: nocase) followed by its bytes.
func fuzzPatterns(spec []byte) []Pattern {
	var pats []Pattern
	for len(spec) > 0 && len(pats) < 64 {
		h := spec[0]
		spec = spec[1:]
		n := min(int(h&15)+1, len(spec))
		if n == 0 {
			break
		}
		pats = append(pats, Pattern{ID: uint32(len(pats))*7919 + 3, Bytes: spec[:n], NoCase: h&16 != 0})
		spec = spec[n:]
	}
	return pats
}

func FuzzMatcher(f *testing.F) {
	f.Add([]byte("\x01he\x02she\x12HIS\x03hers"), []byte("ushers HIS"), uint8(0))
	f.Add([]byte("\x00a\x10A\x01ab\x11AB\x02abc"), []byte("xAbCabcaB"), uint8(2))
	f.Add([]byte("\x02\x00\xff\x00\x12\x00\xff\x00\x00\x00"), []byte("\x00\xff\x00\x00\x00\xff"), uint8(1))
	f.Add([]byte("\x0fabcdefghijklmnop"), []byte("abc"), uint8(0))
	f.Add([]byte("\x03GET \x13get \x09User-Agent"), []byte("GET /x HTTP/1.1\r\nuser-agent: y\r\n"), uint8(3))
	f.Fuzz(func(t *testing.T, spec, data []byte, dense uint8) {
		pats := fuzzPatterns(spec)
		m, err := compile(pats, int(dense&7))
		if err != nil {
			t.Fatal(err)
		}
		check(t, pats, m, m.NewScratch(), data)
	})
}
