package rules

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Classification is one "config classification:" entry.
type Classification struct {
	Name     string // short name as used by classtype, lower case
	Desc     string
	Priority int
}

// Classifications is the content of a classification.config file.
type Classifications struct {
	m     map[string]Classification
	order []string
}

// Lookup returns the description and priority of classtype name
// (case-insensitive).
func (c *Classifications) Lookup(name string) (desc string, prio int, ok bool) {
	if c == nil {
		return "", 0, false
	}
	e, ok := c.m[strings.ToLower(name)]
	return e.Desc, e.Priority, ok
}

// All returns the classifications in file order.
func (c *Classifications) All() []Classification {
	out := make([]Classification, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, c.m[n])
	}
	return out
}

// Len returns the number of classifications.
func (c *Classifications) Len() int { return len(c.m) }

// The classification.config that ships with Suricata (etc/ in the Suricata
// source, by the OISF; copied from /work/shared/rules/suricata-events/etc).
// It is the Emerging Threats Open rule set's file plus the
// inappropriate-content class. Data, not code.
//
//go:embed classification.config
var stockClassificationConfig string

var (
	defaultClassesOnce sync.Once
	defaultClasses     *Classifications
)

// DefaultClassifications returns Suricata's stock classification.config.
// The result is shared and must not be modified.
func DefaultClassifications() *Classifications {
	defaultClassesOnce.Do(func() {
		c, err := ParseClassifications(strings.NewReader(stockClassificationConfig), "classification.config")
		if err != nil {
			panic("rules: embedded classification.config: " + err.Error())
		}
		defaultClasses = c
	})
	return defaultClasses
}

// LoadClassifications reads a classification.config file.
func LoadClassifications(path string) (*Classifications, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseClassifications(f, path)
}

// ParseClassifications reads classification.config lines
// ("config classification: shortname,description,priority"). Comments (#)
// and blank lines are skipped. Bad lines are reported, joined, in the error
// (each a *Error with file:line); the good lines are still returned. A name
// defined twice keeps its last definition.
func ParseClassifications(r io.Reader, name string) (*Classifications, error) {
	c := &Classifications{m: make(map[string]Classification)}
	var errs []error
	err := eachConfigLine(r, func(line int, text string) {
		rest, ok := cutDirective(text, "classification")
		if !ok {
			errs = append(errs, &Error{File: name, Line: line, Msg: fmt.Sprintf("expected \"config classification: name,description,priority\", got %s", clip(text))})
			return
		}
		first := strings.IndexByte(rest, ',')
		last := strings.LastIndexByte(rest, ',')
		if first < 0 || first == last {
			errs = append(errs, &Error{File: name, Line: line, Msg: fmt.Sprintf("classification %s: want name,description,priority", clip(rest))})
			return
		}
		cname := strings.ToLower(strings.TrimSpace(rest[:first]))
		desc := strings.TrimSpace(rest[first+1 : last])
		ptext := strings.TrimSpace(rest[last+1:])
		if !validVarName(cname) {
			errs = append(errs, &Error{File: name, Line: line, Msg: fmt.Sprintf("invalid classification name %q", cname)})
			return
		}
		prio, err := strconv.Atoi(ptext)
		if err != nil || prio < 0 || prio > 255 {
			errs = append(errs, &Error{File: name, Line: line, Msg: fmt.Sprintf("classification %q: invalid priority %q", cname, ptext)})
			return
		}
		if _, dup := c.m[cname]; !dup {
			c.order = append(c.order, cname)
		}
		c.m[cname] = Classification{Name: cname, Desc: desc, Priority: prio}
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return c, errors.Join(errs...)
}

// References is the content of a reference.config file: reference system
// name to URL prefix.
type References struct {
	m map[string]string
}

// Lookup returns the URL prefix of reference system typ (case-insensitive).
func (r *References) Lookup(typ string) (url string, ok bool) {
	if r == nil {
		return "", false
	}
	url, ok = r.m[strings.ToLower(typ)]
	return url, ok
}

// Len returns the number of reference systems.
func (r *References) Len() int { return len(r.m) }

// LoadReferences reads a reference.config file.
func LoadReferences(path string) (*References, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseReferences(f, path)
}

// ParseReferences reads reference.config lines ("config reference: type
// url"). Errors are reported as for ParseClassifications.
func ParseReferences(rd io.Reader, name string) (*References, error) {
	refs := &References{m: make(map[string]string)}
	var errs []error
	err := eachConfigLine(rd, func(line int, text string) {
		rest, ok := cutDirective(text, "reference")
		if !ok {
			errs = append(errs, &Error{File: name, Line: line, Msg: fmt.Sprintf("expected \"config reference: type url\", got %s", clip(text))})
			return
		}
		typ, url, ok := strings.Cut(rest, " ")
		if !ok {
			typ, url, ok = strings.Cut(rest, "\t")
		}
		typ, url = strings.TrimSpace(typ), strings.TrimSpace(url)
		if !ok || typ == "" || url == "" || !validVarName(typ) {
			errs = append(errs, &Error{File: name, Line: line, Msg: fmt.Sprintf("reference %s: want \"type url\"", clip(rest))})
			return
		}
		refs.m[strings.ToLower(typ)] = url
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return refs, errors.Join(errs...)
}

// cutDirective matches "config <what>: rest" (white space allowed around
// the words and the colon) and returns rest, trimmed.
func cutDirective(text, what string) (string, bool) {
	rest, ok := cutWord(text, "config")
	if !ok {
		return "", false
	}
	rest, ok = cutWord(rest, what)
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, ":") {
		return "", false
	}
	return strings.TrimSpace(rest[1:]), true
}

// cutWord removes the word w (case-insensitive) from the start of s, after
// leading white space; the word must end at a non-word character.
func cutWord(s, w string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	if len(s) < len(w) || !strings.EqualFold(s[:len(w)], w) {
		return "", false
	}
	rest := s[len(w):]
	if rest != "" {
		c := rest[0]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return "", false
		}
	}
	return rest, true
}

// eachConfigLine calls fn for every logical line of a config file, with
// comments and blank lines skipped, "\" continuations joined, and the line
// number of the first physical line.
func eachConfigLine(r io.Reader, fn func(line int, text string)) error {
	return eachLogicalLine(r, func(line int, text string) error {
		t := strings.TrimSpace(text)
		if t == "" || t[0] == '#' {
			return nil
		}
		fn(line, t)
		return nil
	})
}

// eachLogicalLine reads r line by line with no limit on line length, joins
// lines ending in "\" with the next one (the backslash removed) and calls fn
// with each joined line and the number of its first physical line. Lines
// that start a comment ('#' after optional white space) are never continued.
func eachLogicalLine(r io.Reader, fn func(line int, text string) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	lineNo := 0
	startLine := 0
	var pending strings.Builder
	continuing := false
	for {
		raw, err := br.ReadString('\n')
		if len(raw) == 0 && err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
		lineNo++
		text := strings.TrimRight(raw, " \t\r\n")
		if !continuing {
			t := strings.TrimLeft(text, " \t")
			if t == "" || t[0] == '#' {
				if err == io.EOF {
					break
				}
				continue
			}
			startLine = lineNo
		}
		if strings.HasSuffix(text, "\\") && err != io.EOF {
			pending.WriteString(text[:len(text)-1])
			continuing = true
			continue
		}
		var full string
		if continuing {
			pending.WriteString(text)
			full = pending.String()
			pending.Reset()
			continuing = false
		} else {
			full = text
		}
		if ferr := fn(startLine, full); ferr != nil {
			return ferr
		}
		if err == io.EOF {
			break
		}
	}
	if continuing {
		// The file ended on a continued line: hand over what there is.
		return fn(startLine, pending.String())
	}
	return nil
}
