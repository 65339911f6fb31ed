package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// The domain and tld transforms (Suricata 8) reduce a host name to its
// registrable domain ("www.bbc.co.uk" -> "bbc.co.uk") or to its public
// suffix ("co.uk"), following the Public Suffix List (publicsuffix.org)
// as Suricata does (its psl crate builds in the whole list, ICANN and
// private sections). The list is about 250 KB, so Vigil does not embed
// it: it is read once, when the first rule using domain or tld is
// compiled, from the operating system's copy (Debian/Ubuntu/Fedora
// package "publicsuffix"), or from a file or reader given to
// LoadPublicSuffixList / SetPublicSuffixList. A rule using the transforms
// fails to load, saying so, when no list can be found.
//
// Matching follows the list's algorithm: the rule with the most labels
// wins, "*." rules match any one label, "!" exception rules take
// priority, and a name no rule matches has its last label as suffix.
// Labels compare ASCII case-insensitively. The transform output keeps
// the input's bytes (and a trailing dot, if any); it is empty when the
// name is itself a public suffix (no registrable domain) or malformed
// (empty, or with an empty label).

// PublicSuffixPaths are the files tried, in order, when a rule first
// needs the Public Suffix List and none was set.
var PublicSuffixPaths = []string{
	"/usr/share/publicsuffix/public_suffix_list.dat",
	"/usr/share/publicsuffix/effective_tld_names.dat",
	"/etc/vigil/public_suffix_list.dat",
}

// Rule kinds of a suffix list entry (bits).
const (
	pslNormal    uint8 = 1 << iota // "co.uk"
	pslWildcard                    // "*.ck" is stored under "ck"
	pslException                   // "!www.ck" is stored under "www.ck"
)

// suffixList is a parsed Public Suffix List: rule kinds by lower-case
// suffix without the "*." or "!" marks.
type suffixList struct {
	rules map[string]uint8
}

var (
	pslMu  sync.Mutex
	pslCur *suffixList
)

// ErrNoPublicSuffixList is returned when domain or tld is used and no
// Public Suffix List could be loaded.
var ErrNoPublicSuffixList = errors.New("no public suffix list")

// parseSuffixList reads the list's text format: one rule a line, "//"
// comments, blank lines ignored; only the first word of a line counts.
func parseSuffixList(r io.Reader, name string) (*suffixList, error) {
	l := &suffixList{rules: make(map[string]uint8, 10000)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "//") {
			continue
		}
		if i := strings.IndexAny(s, " \t"); i >= 0 {
			s = s[:i]
		}
		s = strings.ToLower(s)
		kind := pslNormal
		switch {
		case strings.HasPrefix(s, "!"):
			kind, s = pslException, s[1:]
		case strings.HasPrefix(s, "*."):
			kind, s = pslWildcard, s[2:]
		}
		if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") ||
			strings.Contains(s, "*") || strings.Contains(s, "!") {
			return nil, fmt.Errorf("%s:%d: invalid public suffix rule %q", name, line, sc.Text())
		}
		l.rules[s] |= kind
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line, err)
	}
	if len(l.rules) == 0 {
		return nil, fmt.Errorf("%s: no public suffix rules", name)
	}
	return l, nil
}

// SetPublicSuffixList replaces the Public Suffix List with the rules read
// from r (the publicsuffix.org text format); name is used in errors.
// Engines compiled before keep the list they were compiled with.
func SetPublicSuffixList(r io.Reader, name string) error {
	l, err := parseSuffixList(r, name)
	if err != nil {
		return err
	}
	pslMu.Lock()
	pslCur = l
	pslMu.Unlock()
	return nil
}

// LoadPublicSuffixList reads the Public Suffix List from a file.
func LoadPublicSuffixList(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("public suffix list: %w", err)
	}
	defer f.Close()
	return SetPublicSuffixList(f, path)
}

// publicSuffixList returns the current list, loading it from
// PublicSuffixPaths the first time.
func publicSuffixList() (*suffixList, error) {
	pslMu.Lock()
	defer pslMu.Unlock()
	if pslCur != nil {
		return pslCur, nil
	}
	var errs []string
	for _, p := range PublicSuffixPaths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		l, err := parseSuffixList(f, p)
		f.Close()
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		pslCur = l
		return l, nil
	}
	msg := fmt.Sprintf("%v: none readable of %s (install the publicsuffix package or load one with LoadPublicSuffixList)",
		ErrNoPublicSuffixList, strings.Join(PublicSuffixPaths, ", "))
	if len(errs) > 0 {
		msg += "; " + strings.Join(errs, "; ")
	}
	return nil, errors.New(msg)
}

// maxDomainName bounds the names the transforms look up (a DNS name is at
// most 253 bytes); longer input yields an empty buffer.
const maxDomainName = 1024

// split returns the start offsets in name of its public suffix and of its
// registrable domain (-1 when the name has none). lname is name in lower
// case, used for the lookups; both exclude a trailing dot.
func (l *suffixList) split(lname []byte) (suffix, domain int) {
	n := len(lname)
	if n == 0 || lname[0] == '.' {
		return -1, -1
	}
	// Walk the label boundaries from the right. best is the start of the
	// longest matching rule's suffix; the default rule "*" matches the
	// last label.
	best := -1
	prev := n    // start of the previous (shorter) candidate suffix
	var pk uint8 // rule kinds of lname[prev:]
	for i := n - 1; i >= -1; i-- {
		if i >= 0 && lname[i] != '.' {
			continue
		}
		start := i + 1
		if start == prev || start >= n {
			return -1, -1 // empty label
		}
		k := l.rules[string(lname[start:])]
		if k&pslException != 0 {
			// The exception's parent is the suffix, whatever else matches.
			best = prev
			break
		}
		if k&pslNormal != 0 || pk&pslWildcard != 0 || best < 0 {
			// A rule, a wildcard over the parent, or the default rule
			// "*" for the last label.
			best = start
		}
		prev, pk = start, k
	}
	if best <= 0 {
		return max(best, 0), -1
	}
	// The registrable domain adds the label before the suffix.
	d := best - 1 // the dot before the suffix
	for d > 0 && lname[d-1] != '.' {
		d--
	}
	if d == best-1 {
		return best, -1 // empty label
	}
	return best, d
}

// apply writes the registrable domain (tld false) or the public
// suffix (tld true) of src into dst[:0].
func (l *suffixList) apply(dst, src []byte, tld bool) []byte {
	dst = dst[:0]
	name := src
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if l == nil || len(name) == 0 || len(name) > maxDomainName {
		return dst
	}
	for _, c := range name {
		dst = append(dst, lower[c])
	}
	suffix, domain := l.split(dst)
	if domain < 0 {
		// As Suricata: no registrable domain, no output (tld included).
		return dst[:0]
	}
	start := domain
	if tld {
		start = suffix
	}
	return append(dst[:0], src[start:]...)
}
