package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxNesting bounds list nesting plus variable expansion depth, so that
// hostile input cannot exhaust the stack.
const maxNesting = 64

// setAlgebra is what the shared list/negation/variable grammar needs from a
// concrete set type (address sets and port sets).
type setAlgebra[S any] struct {
	kind string // "address" or "port", for messages
	all  func() S
	// add appends the ranges of b to acc, which the caller owns (nil to
	// start); the result is not normalized until norm.
	add  func(acc, b S) S
	norm func(S) S
	sub  func(a, b S) S
	leaf func(tok string) (S, error)
	// lookup finds a variable's value.
	lookup func(name string) (string, bool)
}

// groupParser parses the grammar shared by address and port fields:
//
//	expr := "any" | leaf | "$" NAME | "!" expr | "[" expr { "," expr } "]"
//
// A list is the union of its non-negated elements (everything when it has
// none) minus the union of its negated elements; "!x" alone is the
// complement of x. Variables expand to their value, parsed the same way.
type groupParser[S any] struct {
	alg   *setAlgebra[S]
	stack []string // variables being expanded, for loop detection
}

func (g *groupParser[S]) parse(s string, depth int) (S, error) {
	var zero S
	if depth > maxNesting {
		return zero, fmt.Errorf("nested too deeply (more than %d levels)", maxNesting)
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return zero, errors.New("empty " + g.alg.kind)
	case s[0] == '!':
		rest := strings.TrimSpace(s[1:])
		if strings.EqualFold(rest, "any") {
			return zero, fmt.Errorf("%q matches no %s", s, g.alg.kind)
		}
		x, err := g.parse(rest, depth+1)
		if err != nil {
			return zero, err
		}
		return g.alg.sub(g.alg.all(), x), nil
	case s[0] == '[':
		items, err := splitList(s)
		if err != nil {
			return zero, err
		}
		var pos, neg S
		havePos, haveNeg := false, false
		for _, it := range items {
			it = strings.TrimSpace(it)
			if it == "" {
				return zero, fmt.Errorf("empty element in list %q", s)
			}
			negated := false
			if it[0] == '!' {
				negated = true
				it = strings.TrimSpace(it[1:])
				if strings.EqualFold(it, "any") {
					return zero, fmt.Errorf("\"!any\" in list %q matches no %s", s, g.alg.kind)
				}
			}
			x, err := g.parse(it, depth+1)
			if err != nil {
				return zero, err
			}
			// Collect first and merge once: lists can hold thousands of
			// addresses.
			if negated {
				neg, haveNeg = g.alg.add(neg, x), true
			} else {
				pos, havePos = g.alg.add(pos, x), true
			}
		}
		if havePos {
			pos = g.alg.norm(pos)
		} else {
			pos = g.alg.all()
		}
		if haveNeg {
			pos = g.alg.sub(pos, g.alg.norm(neg))
		}
		return pos, nil
	case s[0] == '$':
		name := s[1:]
		if !validVarName(name) {
			return zero, fmt.Errorf("invalid variable name %q", s)
		}
		for i, n := range g.stack {
			if n == name {
				chain := append(append([]string(nil), g.stack[i:]...), name)
				return zero, fmt.Errorf("variable loop: $%s", strings.Join(chain, " -> $"))
			}
		}
		val, ok := g.alg.lookup(name)
		if !ok {
			return zero, fmt.Errorf("undefined %s variable \"$%s\"", g.alg.kind, name)
		}
		g.stack = append(g.stack, name)
		x, err := g.parse(val, depth+1)
		g.stack = g.stack[:len(g.stack)-1]
		if err != nil {
			return zero, fmt.Errorf("in $%s (%q): %w", name, val, err)
		}
		return x, nil
	case strings.EqualFold(s, "any"):
		return g.alg.all(), nil
	}
	return g.alg.leaf(s)
}

func validVarName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// splitList splits "[a,[b,c],d]" into its top-level elements. s must start
// with '[' and its matching ']' must be the last character.
func splitList(s string) ([]string, error) {
	depth := 0
	var items []string
	start := 1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced \"]\" in %q", s)
			}
			if depth == 0 {
				if i != len(s)-1 {
					return nil, fmt.Errorf("unexpected %q after \"]\" in %q", s[i+1:], s)
				}
				items = append(items, s[start:i])
				return items, nil
			}
		case ',':
			if depth == 1 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	return nil, fmt.Errorf("missing \"]\" in %q", s)
}

// ipSet is the working form of an address set.
type ipSet struct {
	v4 []span[u32]
	v6 []span[u128]
}

var addrAlgebra = setAlgebra[ipSet]{
	kind: "address",
	all:  func() ipSet { return ipSet{allV4, allV6} },
	add: func(acc, b ipSet) ipSet {
		return ipSet{append(acc.v4, b.v4...), append(acc.v6, b.v6...)}
	},
	norm: func(a ipSet) ipSet {
		return ipSet{normalize(a.v4), normalize(a.v6)}
	},
	sub: func(a, b ipSet) ipSet {
		return ipSet{subtract(a.v4, b.v4), subtract(a.v6, b.v6)}
	},
	leaf: parseAddrLeaf,
}

func v4of(a netip.Addr) u32 {
	b := a.As4()
	return u32(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}

func v6of(a netip.Addr) u128 {
	b := a.As16()
	var x u128
	for i := 0; i < 8; i++ {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	return x
}

func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q: zones are not allowed", s)
	}
	return a, nil
}

// parseAddrLeaf parses one address, CIDR block ("10.0.0.0/8", "2001:db8::/32",
// "10.0.0.0/255.0.0.0") or range ("10.0.0.1-10.0.0.9").
func parseAddrLeaf(tok string) (ipSet, error) {
	if i := strings.IndexByte(tok, '-'); i >= 0 {
		a, err := parseIP(strings.TrimSpace(tok[:i]))
		if err != nil {
			return ipSet{}, fmt.Errorf("in range %q: %w", tok, err)
		}
		b, err := parseIP(strings.TrimSpace(tok[i+1:]))
		if err != nil {
			return ipSet{}, fmt.Errorf("in range %q: %w", tok, err)
		}
		if a.Is4() != b.Is4() {
			return ipSet{}, fmt.Errorf("range %q mixes IPv4 and IPv6", tok)
		}
		if b.Less(a) {
			return ipSet{}, fmt.Errorf("range %q: start is above end", tok)
		}
		if a.Is4() {
			return ipSet{v4: []span[u32]{{v4of(a), v4of(b)}}}, nil
		}
		return ipSet{v6: []span[u128]{{v6of(a), v6of(b)}}}, nil
	}
	if i := strings.IndexByte(tok, '/'); i >= 0 {
		a, err := parseIP(tok[:i])
		if err != nil {
			return ipSet{}, err
		}
		m := tok[i+1:]
		var bits int
		if strings.IndexByte(m, '.') >= 0 {
			if !a.Is4() {
				return ipSet{}, fmt.Errorf("invalid netmask in %q: dotted masks are for IPv4 only", tok)
			}
			mask, err := netip.ParseAddr(m)
			if err != nil || !mask.Is4() {
				return ipSet{}, fmt.Errorf("invalid netmask in %q", tok)
			}
			mv := uint32(v4of(mask))
			ones := 0
			for ones < 32 && mv&(1<<(31-ones)) != 0 {
				ones++
			}
			if ones < 32 && mv<<ones != 0 {
				return ipSet{}, fmt.Errorf("invalid netmask in %q: not contiguous", tok)
			}
			bits = ones
		} else {
			n, err := strconv.Atoi(m)
			if err != nil || n < 0 || n > a.BitLen() || m == "" || m[0] == '+' || m[0] == '-' {
				return ipSet{}, fmt.Errorf("invalid prefix length in %q", tok)
			}
			bits = n
		}
		p := netip.PrefixFrom(a, bits).Masked()
		lo := p.Addr()
		if a.Is4() {
			l := uint32(v4of(lo))
			h := l | uint32((uint64(1)<<(32-bits))-1)
			return ipSet{v4: []span[u32]{{u32(l), u32(h)}}}, nil
		}
		l := v6of(lo)
		h := l
		host := 128 - bits
		switch {
		case host >= 64:
			h.lo = ^uint64(0)
			if host == 128 {
				h.hi = ^uint64(0)
			} else {
				h.hi |= (uint64(1) << (host - 64)) - 1
			}
		default:
			h.lo |= (uint64(1) << host) - 1
		}
		return ipSet{v6: []span[u128]{{l, h}}}, nil
	}
	a, err := parseIP(tok)
	if err != nil {
		return ipSet{}, err
	}
	if a.Is4() {
		x := v4of(a)
		return ipSet{v4: []span[u32]{{x, x}}}, nil
	}
	x := v6of(a)
	return ipSet{v6: []span[u128]{{x, x}}}, nil
}

// ParseAddrSet parses an address field ("any", "10.0.0.0/8", "![$HOME_NET,
// 2001:db8::/32]", ...) with the variables in vars (nil: no variables).
func ParseAddrSet(text string, vars *Vars) (AddrSet, error) {
	alg := addrAlgebra
	alg.lookup = vars.LookupAddr
	g := groupParser[ipSet]{alg: &alg}
	s, err := g.parse(text, 0)
	if err != nil {
		return AddrSet{}, err
	}
	if len(s.v4) == 0 && len(s.v6) == 0 {
		return AddrSet{}, fmt.Errorf("address %q matches no address", text)
	}
	text = strings.TrimSpace(text)
	if len(s.v4) == 1 && s.v4[0] == allV4[0] && len(s.v6) == 1 && s.v6[0] == allV6[0] {
		return AddrSet{text: text}, nil
	}
	return AddrSet{limited: true, v4: s.v4, v6: s.v6, text: text}, nil
}

// Contains reports whether a is in the set. It does not allocate. IPv4-mapped
// IPv6 addresses are IPv6 addresses here; an invalid Addr is in no set but
// "any".
func (s *AddrSet) Contains(a netip.Addr) bool {
	if !s.limited {
		return true
	}
	if a.Is4() {
		return find(s.v4, v4of(a))
	}
	if a.Is6() {
		return find(s.v6, v6of(a))
	}
	return false
}

// IsAny reports whether the set holds every address.
func (s *AddrSet) IsAny() bool { return !s.limited }

// String returns the field as written in the rule ("any" for the zero set).
func (s AddrSet) String() string {
	if s.text == "" {
		return "any"
	}
	return s.text
}

// Prefixes returns the set as a minimal list of CIDR blocks, IPv4 first.
// For "any" it returns 0.0.0.0/0 and ::/0.
func (s *AddrSet) Prefixes() []netip.Prefix {
	v4, v6 := s.v4, s.v6
	if !s.limited {
		v4, v6 = allV4, allV6
	}
	var out []netip.Prefix
	for _, r := range v4 {
		lo, hi := uint64(r.lo), uint64(r.hi)
		for lo <= hi {
			// largest block aligned at lo that fits in [lo,hi]
			size := uint64(1)
			bits := 32
			for bits > 0 {
				next := size << 1
				if lo&(next-1) != 0 || lo+next-1 > hi {
					break
				}
				size = next
				bits--
			}
			a := uint32(lo)
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits))
			lo += size
		}
	}
	for _, r := range v6 {
		lo := r.lo
		for {
			bits := 128
			// grow while lo is aligned and the block stays within hi
			for bits > 0 {
				host := 129 - bits // host bits of the doubled block
				if !alignedV6(lo, host) {
					break
				}
				end := lastOfBlock(lo, host)
				if r.hi.less(end) {
					break
				}
				bits--
			}
			out = append(out, netip.PrefixFrom(addrFromU128(lo), bits))
			end := lastOfBlock(lo, 128-bits)
			if end == r.hi {
				break
			}
			lo, _ = end.succ()
		}
	}
	return out
}

func alignedV6(x u128, host int) bool {
	switch {
	case host >= 128:
		return x.hi == 0 && x.lo == 0
	case host >= 64:
		return x.lo == 0 && x.hi&((uint64(1)<<(host-64))-1) == 0
	default:
		return x.lo&((uint64(1)<<host)-1) == 0
	}
}

func lastOfBlock(x u128, host int) u128 {
	switch {
	case host >= 128:
		return u128{^uint64(0), ^uint64(0)}
	case host >= 64:
		return u128{x.hi | (uint64(1)<<(host-64) - 1), ^uint64(0)}
	default:
		return u128{x.hi, x.lo | (uint64(1)<<host - 1)}
	}
}

func addrFromU128(x u128) netip.Addr {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(x.hi >> (8 * i))
		b[15-i] = byte(x.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

var portAlgebra = setAlgebra[[]span[u16]]{
	kind: "port",
	all:  func() []span[u16] { return allPorts },
	add:  func(acc, b []span[u16]) []span[u16] { return append(acc, b...) },
	norm: normalize[u16],
	sub:  subtract[u16],
	leaf: parsePortLeaf,
}

func parsePortNum(s, tok string) (u16, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("invalid port %q", tok)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("invalid port %q", tok)
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, fmt.Errorf("port %q out of range 0-65535", tok)
	}
	return u16(n), nil
}

// parsePortLeaf parses "80", "80:90", "1024:" or ":1023".
func parsePortLeaf(tok string) ([]span[u16], error) {
	i := strings.IndexByte(tok, ':')
	if i < 0 {
		p, err := parsePortNum(tok, tok)
		if err != nil {
			return nil, err
		}
		return []span[u16]{{p, p}}, nil
	}
	lo, hi := u16(0), u16(0xffff)
	var err error
	l, h := strings.TrimSpace(tok[:i]), strings.TrimSpace(tok[i+1:])
	if l == "" && h == "" {
		return nil, fmt.Errorf("invalid port range %q", tok)
	}
	if l != "" {
		if lo, err = parsePortNum(l, tok); err != nil {
			return nil, err
		}
	}
	if h != "" {
		if hi, err = parsePortNum(h, tok); err != nil {
			return nil, err
		}
	}
	if hi < lo {
		return nil, fmt.Errorf("port range %q: start is above end", tok)
	}
	return []span[u16]{{lo, hi}}, nil
}

// ParsePortSet parses a port field ("any", "80", "[1024:,!8080]",
// "$HTTP_PORTS", ...) with the variables in vars (nil: no variables).
func ParsePortSet(text string, vars *Vars) (PortSet, error) {
	alg := portAlgebra
	alg.lookup = vars.LookupPort
	g := groupParser[[]span[u16]]{alg: &alg}
	s, err := g.parse(text, 0)
	if err != nil {
		return PortSet{}, err
	}
	if len(s) == 0 {
		return PortSet{}, fmt.Errorf("port %q matches no port", text)
	}
	text = strings.TrimSpace(text)
	if len(s) == 1 && s[0] == allPorts[0] {
		return PortSet{text: text}, nil
	}
	return PortSet{limited: true, ranges: s, text: text}, nil
}

// Contains reports whether port p is in the set. It does not allocate.
func (s *PortSet) Contains(p uint16) bool {
	if !s.limited {
		return true
	}
	return find(s.ranges, u16(p))
}

// IsAny reports whether the set holds every port.
func (s *PortSet) IsAny() bool { return !s.limited }

// String returns the field as written in the rule ("any" for the zero set).
func (s PortSet) String() string {
	if s.text == "" {
		return "any"
	}
	return s.text
}

// Ranges returns the set as sorted, disjoint inclusive ranges [lo, hi].
func (s *PortSet) Ranges() [][2]uint16 {
	if !s.limited {
		return [][2]uint16{{0, 0xffff}}
	}
	out := make([][2]uint16, len(s.ranges))
	for i, r := range s.ranges {
		out[i] = [2]uint16{uint16(r.lo), uint16(r.hi)}
	}
	return out
}

// AddrRange is an inclusive range of addresses of one family as 128-bit
// numbers: an IPv4 address is in the low 32 bits of Lo/Hi (LoHi, HiHi 0).
type AddrRange struct {
	V6   bool
	LoHi uint64 // high 64 bits of the first address (IPv6)
	Lo   uint64 // low 64 bits of the first address
	HiHi uint64 // high 64 bits of the last address (IPv6)
	Hi   uint64 // low 64 bits of the last address
}

// Ranges returns the set as sorted, disjoint ranges (IPv4 first), and
// false for "any". The engine builds address indexes from them.
func (s *AddrSet) Ranges() ([]AddrRange, bool) {
	if !s.limited {
		return nil, false
	}
	out := make([]AddrRange, 0, len(s.v4)+len(s.v6))
	for _, r := range s.v4 {
		out = append(out, AddrRange{Lo: uint64(r.lo), Hi: uint64(r.hi)})
	}
	for _, r := range s.v6 {
		out = append(out, AddrRange{V6: true, LoHi: r.lo.hi, Lo: r.lo.lo, HiHi: r.hi.hi, Hi: r.hi.lo})
	}
	return out, true
}
