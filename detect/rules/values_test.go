package rules

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestUnquote(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{`"abc"`, "abc", ""},
		{`  "abc"  `, "abc", ""},
		{`abc`, "abc", ""},
		{`""`, "", ""},
		{`"a\;b\"c\\d\:e"`, `a;b"c\d:e`, ""},
		{`a\;b`, "a;b", ""},
		{`"UA (^IE[\d\s])"`, `UA (^IE[\d\s])`, ""}, // unknown escapes kept, as Suricata does
		{`"semi;colon"`, "semi;colon", ""},
		{`"ends with backslash\\"`, `ends with backslash\`, ""},
		{`"open`, "", "missing closing quote"},
		{`"escaped close\"`, "", "missing closing quote"},
		{`"a" b`, "", `unexpected "b" after closing quote`},
		{`"a""b"`, "", `unexpected "\"b\""`},
	} {
		got, err := Unquote(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Unquote(%q): error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Unquote(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeContent(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []byte
		neg  bool
	}{
		{`"abc"`, []byte("abc"), false},
		{` "abc" `, []byte("abc"), false},
		{`!"abc"`, []byte("abc"), true},
		{`! "abc"`, []byte("abc"), true},
		{`"|41 42|"`, []byte("AB"), false},
		{`"|4142|"`, []byte("AB"), false},
		{`"|4 1|"`, []byte("A"), false},
		{`"a|0d 0a|b|00|"`, []byte("a\r\nb\x00"), false},
		{`"|ff FE|"`, []byte{0xff, 0xfe}, false},
		{`"x||y"`, []byte("xy"), false},
		{`"a\;b\"c\\d\:e"`, []byte(`a;b"c\d:e`), false},
		{`"semi;colon"`, []byte("semi;colon"), false},
		{`"|3b|"`, []byte(";"), false},
		{`"  spaced  "`, []byte("  spaced  "), false},
		{`"\\"`, []byte(`\`), false},
	} {
		got, neg, err := DecodeContent(tt.in)
		if err != nil || !bytes.Equal(got, tt.want) || neg != tt.neg {
			t.Errorf("DecodeContent(%q) = %q, %v, %v; want %q, %v", tt.in, got, neg, err, tt.want, tt.neg)
		}
	}
	for _, tt := range []struct{ in, err string }{
		{`abc`, "must be enclosed in double quotes"},
		{`"abc`, "must be enclosed in double quotes"},
		{`"`, "must be enclosed in double quotes"},
		{``, "must be enclosed in double quotes"},
		{`!`, "must be enclosed in double quotes"},
		{`""`, "empty pattern"},
		{`"||"`, "empty pattern"},
		{`"abc\"`, "missing closing quote"},
		{`"|414|"`, "odd number of hex digits"},
		{`"|41 4|"`, "odd number of hex digits"},
		{`"|41"`, "unterminated hex section"},
		{`"|4g|"`, `invalid character 'g' in hex section`},
		{`"a\xb"`, `invalid escape "\x"`},
		{`"a\nb"`, `invalid escape "\n"`},
		{`"a"b"`, "unescaped double quote"},
	} {
		_, _, err := DecodeContent(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("DecodeContent(%q): error %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"a", []string{"a"}},
		{"set,foo", []string{"set", "foo"}},
		{" isset , ET.x ", []string{"isset", "ET.x"}},
		{`type limit, track by_src,count 1 , seconds 60`, []string{"type limit", "track by_src", "count 1", "seconds 60"}},
		{`"a,b",c`, []string{`"a,b"`, "c"}},
		{`a\,b,c`, []string{`a\,b`, "c"}},
		{`a,,b,`, []string{"a", "", "b", ""}},
		{`"unterminated,x`, []string{`"unterminated,x`}},
	} {
		if got := SplitArgs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
