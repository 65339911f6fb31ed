package rules

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ParseFile reads a rule file. See ParseReader.
func (p *Parser) ParseFile(path string) ([]*Rule, []error) {
	var st ruleSet
	p.parseFileInto(&st, path)
	return st.rules, st.errs
}

// ParseFiles reads several rule files as one set: duplicates are found
// across files as within one (see ParseReader).
func (p *Parser) ParseFiles(paths ...string) ([]*Rule, []error) {
	var st ruleSet
	for _, path := range paths {
		p.parseFileInto(&st, path)
	}
	return st.rules, st.errs
}

// ParseReader reads rules, one per line, from r; name is the file name used
// in Rule.File and in errors. A line ending in "\" continues on the next
// line (Rule.Line is the first). Blank lines and comments ('#' as the first
// non-blank character, so commented-out rules too) are skipped. A bad rule
// gives one *Error and the others still load.
//
// A rule with the (gid, sid) of a rule already loaded is a duplicate, and
// handled as Suricata does: when its rev is not higher it is dropped with
// an *Error ("duplicate signature sid 123 (first at file:line)"); when its
// rev is higher it replaces the earlier rule, in the earlier rule's place,
// and the *Error reporting it has Warning set.
func (p *Parser) ParseReader(r io.Reader, name string) ([]*Rule, []error) {
	var st ruleSet
	p.parseInto(&st, r, name)
	return st.rules, st.errs
}

// ruleSet collects rules while loading, detecting duplicate (gid, sid).
type ruleSet struct {
	rules []*Rule
	errs  []error
	index map[[2]uint32]int // (gid, sid) -> position in rules
}

func (st *ruleSet) add(r *Rule) {
	if st.index == nil {
		st.index = make(map[[2]uint32]int)
	}
	key := [2]uint32{r.GID, r.SID}
	i, dup := st.index[key]
	if !dup {
		st.index[key] = len(st.rules)
		st.rules = append(st.rules, r)
		return
	}
	first := st.rules[i]
	id := fmt.Sprintf("sid %d", r.SID)
	if r.GID != 1 {
		id = fmt.Sprintf("gid %d sid %d", r.GID, r.SID)
	}
	e := &Error{File: r.File, Line: r.Line, Keyword: "sid"}
	if r.Rev > first.Rev {
		e.Warning = true
		e.Msg = fmt.Sprintf("duplicate signature %s (first at %s:%d): rev %d replaces rev %d", id, first.File, first.Line, r.Rev, first.Rev)
		st.rules[i] = r
	} else {
		e.Msg = fmt.Sprintf("duplicate signature %s (first at %s:%d)", id, first.File, first.Line)
	}
	st.errs = append(st.errs, e)
}

func (p *Parser) parseFileInto(st *ruleSet, path string) {
	f, err := os.Open(path)
	if err != nil {
		st.errs = append(st.errs, err)
		return
	}
	defer f.Close()
	p.parseInto(st, f, path)
}

func (p *Parser) parseInto(st *ruleSet, r io.Reader, name string) {
	ioErr := eachLogicalLine(r, func(line int, text string) error {
		rule, err := p.ParseRule(text, name, line)
		if err != nil {
			st.errs = append(st.errs, err)
			return nil
		}
		st.add(rule)
		return nil
	})
	if ioErr != nil {
		st.errs = append(st.errs, fmt.Errorf("%s: %w", name, ioErr))
	}
}

// AsError returns err as an *Error when it is one (or wraps one).
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
