package dns

import (
	"bytes"
	"testing"
)

// FuzzDNS parses the input as a UDP message in both directions and as a
// TCP stream fed in two chunks, and checks the invariants: no panic, names
// within the limits, a ParseError for every failure.
func FuzzDNS(f *testing.F) {
	f.Add(query(f), uint8(0))
	f.Add(response(f), uint8(3))
	f.Add(framed(response(f), query(f)), uint8(40))
	f.Add(msg(1, 0, 1, 0, 0, 0, []byte{1, 'a', 0xc0, 16, 0xc0, 12}, qtail), uint8(5))
	f.Add(msg(1, 0x8000, 1, 1, 0, 0, []byte("\x01a\x00"), qtail, []byte{0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 1, 0, 22, 0xc0, 12, 0xc0, 12}, bytes.Repeat([]byte{0}, 20)), uint8(1))
	f.Add(msg(1, 0x8000, 0, 1, 0, 0, []byte{0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 4, 1, 'a', 1, 'b'}), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		p := NewParser(&recorderNop{})
		for _, dir := range []Direction{ToServer, ToClient} {
			m, err := p.ParseUDP(dir, b)
			if m == nil {
				t.Fatal("nil message")
			}
			if err == nil && len(b) < HeaderLen {
				t.Fatal("short message without error")
			}
			if err != nil {
				if _, ok := err.(*ParseError); !ok {
					t.Fatalf("error type %T", err)
				}
				if m.Events == 0 {
					t.Fatal("error without event")
				}
			}
			for _, q := range m.Questions {
				if len(q.Name) > MaxNameLen {
					t.Fatalf("name of %d bytes", len(q.Name))
				}
			}
			for _, rs := range [][]Record{m.Answers, m.Authorities, m.Additionals} {
				for i := range rs {
					if len(rs[i].Name) > MaxNameLen || len(rs[i].Target) > MaxNameLen || len(rs[i].RName) > MaxNameLen {
						t.Fatal("name too long")
					}
					AppendRData(nil, &rs[i])
				}
			}
		}
		s := int(split)
		if s > len(b) {
			s = len(b)
		}
		if n := p.Feed(ToClient, b[:s]) + p.Feed(ToClient, b[s:]); n != len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
	})
}
