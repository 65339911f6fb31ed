package pcre

import (
	"fmt"
	"strings"
)

// ParseValue splits the value of Suricata's pcre keyword, "/pattern/mods"
// (without the surrounding quotes and the optional leading '!'), into the
// pattern, the PCRE compile flags among the modifiers (i s m x A E G) and
// the remaining Suricata modifiers (R U I P Q H D M C S Y B O V W Z L ...),
// which the caller interprets.
func ParseValue(v string) (pattern string, flags Flags, mods string, err error) {
	if len(v) < 2 || v[0] != '/' {
		return "", 0, "", fmt.Errorf("pcre: value %q does not start with /", v)
	}
	end := strings.LastIndexByte(v, '/')
	if end == 0 {
		return "", 0, "", fmt.Errorf("pcre: value %q has no closing /", v)
	}
	var rest []byte
	for i := end + 1; i < len(v); i++ {
		switch c := v[i]; c {
		case 'i':
			flags |= Caseless
		case 's':
			flags |= DotAll
		case 'm':
			flags |= Multiline
		case 'x':
			flags |= Extended
		case 'A':
			flags |= Anchored
		case 'E':
			flags |= DollarEndOnly
		case 'G':
			flags |= Ungreedy
		default:
			rest = append(rest, c)
		}
	}
	return v[1:end], flags, string(rest), nil
}
