package pipe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// unescapeText reverses the "text" value escaping, failing on anything the
// escaper never writes.
func unescapeText(s string) ([]byte, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			if c == '\n' || c == '\t' || c < 0x20 || c == 0x7f {
				return nil, fmt.Errorf("raw byte %#x at %d", c, i)
			}
			b = append(b, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("lone backslash at %d", i)
		}
		i++
		switch s[i] {
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case '\\':
			b = append(b, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("short \\x at %d", i)
			}
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+3], "%02x", &v); err != nil {
				return nil, fmt.Errorf("bad \\x at %d: %v", i, err)
			}
			b = append(b, v)
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape %q at %d", s[i], i)
		}
	}
	return b, nil
}

func TestTextEscaping(t *testing.T) {
	cases := []struct {
		value string
		want  string
	}{
		{"Mozilla/5.0 (X11)", `Mozilla/5.0 (X11)`},
		{"", ``},
		{"a\nb", `a\nb`},
		{"evil\nhttp.user_agent\tinjected", `evil\nhttp.user_agent\tinjected`},
		{"cr\rlf\r\n", `cr\x0dlf\x0d\n`},
		{`back\slash`, `back\\slash`},
		{`\x41`, `\\x41`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"esc\x1b[31m", `esc\x1b[31m`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{"caf\u00e9 \u4e2d", "caf\u00e9 \u4e2d"},                                 // printable UTF-8 kept
		{"nel\u0085ls\u2028ps\u2029", `nel\xc2\x85ls\xe2\x80\xa8ps\xe2\x80\xa9`}, // Unicode line breaks
		{"nb\u00a0sp", `nb\xc2\xa0sp`},
		{"\ufffd", "\ufffd"},               // an encoded U+FFFD is valid and printable
		{"trunc\xe4\xb8", `trunc\xe4\xb8`}, // cut multi-byte sequence
	}
	for _, c := range cases {
		got := string(appendText(nil, "http.user_agent", []byte(c.value)))
		want := "http.user_agent\t" + c.want + "\n"
		if got != want {
			t.Errorf("value %q:\n got %q\nwant %q", c.value, got, want)
		}
		if strings.Count(got, "\n") != 1 || strings.Count(got, "\t") != 1 {
			t.Errorf("value %q: line %q has extra newline or tab", c.value, got)
		}
		back, err := unescapeText(c.want)
		if err != nil || string(back) != c.value {
			t.Errorf("value %q: unescape %q = %q, %v", c.value, c.want, back, err)
		}
	}
}

func TestTextEscapesHostileField(t *testing.T) {
	got := string(appendText(nil, "a\nb\tc\\", []byte("v")))
	if want := "a\\nb\\tc\\\\\tv\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestJSONLine(t *testing.T) {
	loc := time.FixedZone("", 3600)
	ts := time.Date(2009, 11, 24, 21, 26, 3, 604227999, loc).UnixNano()
	got := string(appendJSON(nil, "dns.query", []byte("ex\"am\nple\x01.com"), ts, 1234567, loc))
	want := `{"timestamp":"2009-11-24T21:26:03.604227+0100","field":"dns.query","value":"ex\"am\nple\u0001.com","flow_id":1234567}` + "\n"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	got = string(appendJSON(nil, "tls.sni", []byte("a\xffb"), 0, 0, time.UTC))
	want = `{"timestamp":"1970-01-01T00:00:00.000000+0000","field":"tls.sni","value":"a\\xffb"}` + "\n"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	neg := time.FixedZone("", -(9*3600 + 30*60))
	got = string(appendJSON(nil, "x.y", nil, 0, 0, neg))
	if !strings.Contains(got, `"1969-12-31T14:30:00.000000-0930"`) {
		t.Fatalf("negative offset: %s", got)
	}
}

func checkJSONLine(t *testing.T, field string, value []byte, line []byte) {
	t.Helper()
	if bytes.IndexByte(line, '\n') != len(line)-1 {
		t.Fatalf("line %q: newline not only at the end", line)
	}
	var rec struct {
		Timestamp string  `json:"timestamp"`
		Field     string  `json:"field"`
		Value     string  `json:"value"`
		FlowID    *uint64 `json:"flow_id"`
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	if rec.Field != field && utf8.ValidString(field) {
		t.Fatalf("field %q decoded as %q", field, rec.Field)
	}
	want := string(value)
	if !utf8.Valid(value) {
		var b strings.Builder
		for _, c := range value {
			if c >= 0x80 {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
		want = b.String()
	}
	if rec.Value != want {
		t.Fatalf("value %q decoded as %q, want %q", value, rec.Value, want)
	}
}

func FuzzFormat(f *testing.F) {
	f.Add("http.user_agent", []byte("Mozilla/5.0"), int64(1258994763604227000), uint64(7))
	f.Add("dns.query", []byte("a\nb\tc\\d\x00\x7f"), int64(0), uint64(0))
	f.Add("tls.sni", []byte("\xff\xfe\xe4\xb8"), int64(-1), uint64(1<<63))
	f.Add("a\nb", []byte("caf\u00e9\u2028\u0085"), int64(1<<62), uint64(1))
	f.Add("ja3.hash", []byte(`"quoted" \u0041`), int64(-1<<62), uint64(0))
	f.Fuzz(func(t *testing.T, field string, value []byte, ts int64, flow uint64) {
		line := appendText(nil, field, value)
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("text line %q: newline not only at the end", line)
		}
		tab := bytes.IndexByte(line, '\t')
		if tab < 0 || bytes.IndexByte(line[tab+1:], '\t') >= 0 {
			t.Fatalf("text line %q: want exactly one tab", line)
		}
		gotField, err := unescapeText(string(line[:tab]))
		if err != nil || string(gotField) != field {
			t.Fatalf("text field %q: got %q, %v", field, gotField, err)
		}
		gotValue, err := unescapeText(string(line[tab+1 : len(line)-1]))
		if err != nil || !bytes.Equal(gotValue, value) {
			t.Fatalf("text value %q: got %q, %v", value, gotValue, err)
		}
		for _, r := range string(line[:len(line)-1]) {
			if r == utf8.RuneError || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029 {
				// RuneError here can only be an encoded U+FFFD, which
				// must have been valid in the input.
				if r != utf8.RuneError || !bytes.Contains(value, []byte("\ufffd")) {
					t.Fatalf("text line %q contains %U", line, r)
				}
			}
		}
		checkJSONLine(t, field, value, appendJSON(nil, field, value, ts, flow, time.UTC))
	})
}
