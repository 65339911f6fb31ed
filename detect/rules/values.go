package rules

import (
	"errors"
	"fmt"
	"strings"
)

// isRuleEscape reports whether c may follow '\' in a rule option value:
// the characters that would otherwise end or delimit it.
func isRuleEscape(c byte) bool {
	return c == ';' || c == '"' || c == '\\' || c == ':'
}

// Unquote strips the double quotes around an option value, if it has them,
// and resolves the escapes \; \" \\ and \:. Other backslash sequences (as
// in "\d" inside a msg) are kept as written, as Suricata does. A value that
// opens a quote must close it, and nothing may follow the closing quote.
func Unquote(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		end := closingQuote(v)
		if end < 0 {
			return "", fmt.Errorf("missing closing quote in %s", clip(v))
		}
		if rest := strings.TrimSpace(v[end+1:]); rest != "" {
			return "", fmt.Errorf("unexpected %s after closing quote", clip(rest))
		}
		v = v[1:end]
	}
	if strings.IndexByte(v, '\\') < 0 {
		return v, nil
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) && isRuleEscape(v[i+1]) {
			i++
			c = v[i]
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// closingQuote returns the index of the unescaped '"' that closes the quote
// opened at v[0], or -1.
func closingQuote(v string) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// clip quotes s for an error message, shortened when long.
func clip(s string) string {
	const max = 60
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// DecodeContent decodes a content (or uricontent, or similar pattern) value
// as written in a rule: an optional leading '!' (negation), then a quoted
// string of literal bytes and |hex| sections ("|0d 0a|", spaces optional
// between digits). Outside hex sections \; \" \\ and \: are the only escapes.
func DecodeContent(v string) (pattern []byte, negated bool, err error) {
	v = strings.TrimSpace(v)
	if len(v) > 0 && v[0] == '!' {
		negated = true
		v = strings.TrimSpace(v[1:])
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, negated, fmt.Errorf("content %s must be enclosed in double quotes", clip(v))
	}
	// The final quote must not be escaped: count the backslashes before it.
	bs := 0
	for i := len(v) - 2; i > 0 && v[i] == '\\'; i-- {
		bs++
	}
	if bs%2 == 1 {
		return nil, negated, fmt.Errorf("content %s: missing closing quote", clip(v))
	}
	body := v[1 : len(v)-1]
	out := make([]byte, 0, len(body))
	inHex := false
	hexStart := 0
	var nib byte
	haveNib := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inHex {
			switch {
			case c == '|':
				if haveNib {
					return nil, negated, fmt.Errorf("content %s: odd number of hex digits in |%s|", clip(v), body[hexStart:i])
				}
				inHex = false
			case c == ' ' || c == '\t':
			case hexVal(c) >= 0:
				if haveNib {
					out = append(out, nib<<4|byte(hexVal(c)))
					haveNib = false
				} else {
					nib = byte(hexVal(c))
					haveNib = true
				}
			default:
				return nil, negated, fmt.Errorf("content %s: invalid character %q in hex section", clip(v), c)
			}
			continue
		}
		switch c {
		case '|':
			inHex = true
			hexStart = i + 1
		case '\\':
			if i+1 >= len(body) || !isRuleEscape(body[i+1]) {
				if i+1 >= len(body) {
					return nil, negated, fmt.Errorf("content %s: trailing backslash", clip(v))
				}
				return nil, negated, fmt.Errorf("content %s: invalid escape \"\\%c\" (only \\; \\\" \\\\ \\: are allowed)", clip(v), body[i+1])
			}
			i++
			out = append(out, body[i])
		case '"':
			return nil, negated, fmt.Errorf("content %s: unescaped double quote inside the pattern", clip(v))
		default:
			out = append(out, c)
		}
	}
	if inHex {
		return nil, negated, fmt.Errorf("content %s: unterminated hex section (missing \"|\")", clip(v))
	}
	if len(out) == 0 {
		return nil, negated, errors.New("content: empty pattern")
	}
	return out, negated, nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// SplitArgs splits an option value on commas that are outside double quotes
// (and not escaped), trimming white space around each part. An empty or
// all-blank value gives no parts; empty parts between commas are kept as "".
func SplitArgs(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, strings.TrimSpace(v[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}
