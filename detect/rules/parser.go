package rules

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Parser reads rules. Its zero value is ready to use, with Suricata's
// default variables and stock classifications. Set the fields before the
// first call and do not change them afterwards: resolved address and port
// fields are cached. A Parser is safe for concurrent use.
type Parser struct {
	// Vars holds the $VARIABLES for address and port fields; nil means
	// DefaultVars().
	Vars *Vars
	// Classes resolves classtype; nil means DefaultClassifications().
	Classes *Classifications

	once      sync.Once
	mu        sync.Mutex
	vars      *Vars
	classes   *Classifications
	addrCache map[string]AddrSet
	portCache map[string]PortSet
}

func (p *Parser) init() {
	p.once.Do(func() {
		p.vars = p.Vars
		if p.vars == nil {
			p.vars = DefaultVars()
		}
		p.classes = p.Classes
		if p.classes == nil {
			p.classes = DefaultClassifications()
		}
		p.addrCache = make(map[string]AddrSet)
		p.portCache = make(map[string]PortSet)
	})
}

// Addr resolves an address field with the parser's variables (cached).
func (p *Parser) Addr(text string) (AddrSet, error) {
	p.init()
	p.mu.Lock()
	s, ok := p.addrCache[text]
	p.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := ParseAddrSet(text, p.vars)
	if err != nil {
		return AddrSet{}, err
	}
	p.mu.Lock()
	if len(p.addrCache) < 1<<16 {
		p.addrCache[text] = s
	}
	p.mu.Unlock()
	return s, nil
}

// Port resolves a port field with the parser's variables (cached).
func (p *Parser) Port(text string) (PortSet, error) {
	p.init()
	p.mu.Lock()
	s, ok := p.portCache[text]
	p.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := ParsePortSet(text, p.vars)
	if err != nil {
		return PortSet{}, err
	}
	p.mu.Lock()
	if len(p.portCache) < 1<<16 {
		p.portCache[text] = s
	}
	p.mu.Unlock()
	return s, nil
}

func parseAction(s string) (Action, bool) {
	for i, n := range actionNames {
		if s == n {
			return Action(i), true
		}
	}
	return 0, false
}

// ParseRule parses one rule. file and line say where it came from; they go
// into the Rule and into errors, which are always of type *Error.
func (p *Parser) ParseRule(text, file string, line int) (*Rule, error) {
	p.init()
	fail := func(kw, format string, args ...any) (*Rule, error) {
		return nil, &Error{File: file, Line: line, Keyword: kw, Msg: fmt.Sprintf(format, args...)}
	}
	raw := strings.TrimSpace(text)
	if raw == "" {
		return fail("", "empty rule")
	}
	open := strings.IndexByte(raw, '(')
	if open < 0 {
		return fail("", "rule has no options: missing \"(\"")
	}
	if raw[len(raw)-1] != ')' {
		return fail("", "rule options must end with \")\"")
	}
	fields, err := headerFields(raw[:open])
	if err != nil {
		return fail("", "%v", err)
	}
	if len(fields) != 7 {
		return fail("", "invalid rule header %s: want \"action protocol src_addr src_port direction dst_addr dst_port\", got %d fields", clip(strings.TrimSpace(raw[:open])), len(fields))
	}
	r := &Rule{File: file, Line: line, Raw: raw, GID: 1}
	act, ok := parseAction(fields[0])
	if !ok {
		return fail("", "unknown action %q (want alert, pass, drop, reject, rejectsrc, rejectdst or rejectboth)", fields[0])
	}
	r.Action = act
	if !validProto(fields[1]) {
		return fail("", "invalid protocol %q", fields[1])
	}
	r.Proto = strings.ToLower(fields[1])
	switch fields[4] {
	case "->":
	case "<>":
		r.Bidirectional = true
	case "<-":
		return fail("", "direction \"<-\" is not supported: write \"->\" with source and destination swapped")
	default:
		return fail("", "invalid direction %q (want \"->\" or \"<>\")", fields[4])
	}
	if r.Src, err = p.Addr(fields[2]); err != nil {
		return fail("", "source address: %v", err)
	}
	if r.SrcPorts, err = p.Port(fields[3]); err != nil {
		return fail("", "source port: %v", err)
	}
	if r.Dst, err = p.Addr(fields[5]); err != nil {
		return fail("", "destination address: %v", err)
	}
	if r.DstPorts, err = p.Port(fields[6]); err != nil {
		return fail("", "destination port: %v", err)
	}

	opts, kw, err := splitOptions(raw[open+1 : len(raw)-1])
	if err != nil {
		return fail(kw, "%v", err)
	}
	r.Options = opts
	var haveSID, haveRev, haveGID, haveMsg, havePrio, haveClass bool
	for i := range opts {
		o := &opts[i]
		if !KnownKeyword(o.Name) {
			return fail(o.Name, "unknown keyword %q", o.Name)
		}
		switch o.Name {
		case "msg":
			if haveMsg {
				return fail(o.Name, "duplicate \"msg\" keyword")
			}
			haveMsg = true
			if r.Msg, err = Unquote(o.Value); err != nil {
				return fail(o.Name, "msg: %v", err)
			}
		case "sid", "rev", "gid":
			v, err := parseUint32(o.Value)
			if err != nil {
				return fail(o.Name, "%s: %v", o.Name, err)
			}
			switch o.Name {
			case "sid":
				if haveSID {
					return fail(o.Name, "duplicate \"sid\" keyword")
				}
				if v == 0 {
					return fail(o.Name, "sid: 0 is not a valid signature id")
				}
				haveSID, r.SID = true, v
			case "rev":
				if haveRev {
					return fail(o.Name, "duplicate \"rev\" keyword")
				}
				haveRev, r.Rev = true, v
			case "gid":
				if haveGID {
					return fail(o.Name, "duplicate \"gid\" keyword")
				}
				haveGID, r.GID = true, v
			}
		case "classtype":
			if haveClass {
				return fail(o.Name, "duplicate \"classtype\" keyword")
			}
			haveClass = true
			name, err := Unquote(o.Value)
			if err != nil {
				return fail(o.Name, "classtype: %v", err)
			}
			name = strings.TrimSpace(name)
			desc, prio, ok := p.classes.Lookup(name)
			if !ok {
				return fail(o.Name, "unknown classtype %q", name)
			}
			r.Classtype = strings.ToLower(name)
			r.ClassDesc = desc
			if !havePrio {
				r.Priority = prio
			}
		case "priority":
			if havePrio {
				return fail(o.Name, "duplicate \"priority\" keyword")
			}
			v, err := Unquote(o.Value)
			if err == nil {
				var n int
				n, err = strconv.Atoi(strings.TrimSpace(v))
				if err == nil && (n < 1 || n > 255) {
					err = fmt.Errorf("%d is outside 1-255", n)
				}
				if err == nil {
					r.Priority = n
				}
			}
			if err != nil {
				return fail(o.Name, "priority: invalid value %q (want 1-255)", o.Value)
			}
			havePrio = true
		case "metadata":
			if !o.HasValue || strings.TrimSpace(o.Value) == "" {
				return fail(o.Name, "metadata: missing value")
			}
			for _, m := range SplitArgs(o.Value) {
				if m != "" {
					r.Metadata = append(r.Metadata, m)
				}
			}
		case "reference":
			v := strings.TrimSpace(o.Value)
			if !o.HasValue || v == "" {
				return fail(o.Name, "reference: missing value")
			}
			if strings.IndexByte(v, ',') < 0 {
				return fail(o.Name, "reference: %s is not \"type,id\"", clip(v))
			}
			r.Reference = append(r.Reference, v)
		}
	}
	if !haveSID {
		return fail("sid", "rule has no sid")
	}
	if !havePrio && !haveClass {
		r.Priority = 3
	}
	return r, nil
}

func parseUint32(v string) (uint32, error) {
	s := strings.TrimSpace(v)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" {
		return 0, fmt.Errorf("missing value")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid number %s", clip(v))
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("number %s out of range", clip(v))
	}
	return uint32(n), nil
}

func validProto(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// headerFields splits a rule header on white space, keeping bracketed lists
// ("[1.2.3.4, 5.6.7.8]") whole.
func headerFields(h string) ([]string, error) {
	fields := make([]string, 0, 7)
	depth := 0
	start := -1
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced \"]\" in rule header")
			}
		case (c == ' ' || c == '\t' || c == '\n' || c == '\r') && depth == 0:
			if start >= 0 {
				fields = append(fields, h[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced \"[\" in rule header")
	}
	if start >= 0 {
		fields = append(fields, h[start:])
	}
	return fields, nil
}

// splitOptions splits the text between a rule's parentheses into options.
// Every option ends with ';', as in Suricata (which rejects a rule whose
// last option lacks it). See valueEnd for where a value ends. On error it
// also returns the keyword concerned, if known.
func splitOptions(s string) ([]Option, string, error) {
	n := strings.Count(s, ";")
	opts := make([]Option, 0, n)
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return opts, "", nil
		}
		// option name
		start := i
		for i < len(s) && s[i] != ':' && s[i] != ';' {
			i++
		}
		name := strings.TrimRight(s[start:i], " \t\r\n")
		if name == "" {
			if i < len(s) && s[i] == ';' {
				return nil, "", fmt.Errorf("empty option (stray \";\") at %s", clip(s[start:]))
			}
			return nil, "", fmt.Errorf("option without a name at %s", clip(s[start:]))
		}
		if !validKeywordName(name) {
			return nil, "", fmt.Errorf("invalid option name %s", clip(name))
		}
		name = lowerASCII(name)
		if i >= len(s) {
			return nil, name, fmt.Errorf("option %q: no terminating \";\" found", name)
		}
		if s[i] == ';' {
			opts = append(opts, Option{Name: name})
			i++
			continue
		}
		// value after ':'
		vstart := i + 1
		end := valueEnd(s, vstart)
		if end < 0 {
			return nil, name, fmt.Errorf("option %q: no terminating \";\" found", name)
		}
		i = end
		opts = append(opts, Option{Name: name, Value: strings.TrimSpace(s[vstart:i]), HasValue: true})
		i++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func validKeywordName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases n, without allocating when it already is.
func lowerASCII(n string) string {
	for i := 0; i < len(n); i++ {
		if c := n[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(n)
		}
	}
	return n
}

// valueEnd returns the index of the ';' that ends the option value starting
// at s[start], or -1. As in Suricata, that is the first ';' not preceded by
// a backslash. In addition, when the value so delimited opens a double
// quote it does not close (msg:"a;b"), the value extends to the first ';'
// after the closing quote, so semicolons may appear inside quotes. Quotes
// are not otherwise special: pcre:"/["']x/" stays one value, as in Suricata.
func valueEnd(s string, start int) int {
	end := -1
	for i := start; i < len(s); i++ {
		if s[i] == ';' && (i == start || s[i-1] != '\\') {
			end = i
			break
		}
	}
	v := s[start:]
	if end >= 0 {
		v = s[start:end]
	}
	if !opensUnclosedQuote(v) {
		return end
	}
	inQuote := false
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				return i
			}
		}
	}
	return end
}

// opensUnclosedQuote reports whether v, after white space and an optional
// '!', starts with '"' and does not end with an unescaped '"'.
func opensUnclosedQuote(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) > 0 && v[0] == '!' {
		v = strings.TrimSpace(v[1:])
	}
	if len(v) == 0 || v[0] != '"' {
		return false
	}
	if len(v) < 2 || v[len(v)-1] != '"' {
		return true
	}
	bs := 0
	for i := len(v) - 2; i > 0 && v[i] == '\\'; i-- {
		bs++
	}
	return bs%2 == 1
}
