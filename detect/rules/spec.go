// Package rules reads the Suricata/Snort rule language: rule files, their
// header (action, protocol, addresses, ports, direction) and options, the
// address and port variables they use, and the classification.config,
// reference.config and threshold.config files that go with them.
//
// The package describes rules (a RuleSpec-like Rule); it does not decide
// what a keyword means at match time. Package detect/engine compiles a Rule
// into something that runs.
package rules

import "fmt"

// Action is a rule's action.
type Action uint8

const (
	ActionAlert Action = iota
	ActionPass
	ActionDrop
	ActionReject    // reject: RST/ICMP to the source
	ActionRejectSrc // rejectsrc
	ActionRejectDst // rejectdst
	ActionRejectBoth
)

var actionNames = [...]string{"alert", "pass", "drop", "reject", "rejectsrc", "rejectdst", "rejectboth"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// Option is one "name:value;" (or bare "name;") of a rule, in rule order.
// Value is as written between ':' and ';' with surrounding white space
// removed and escapes (\; \" \\ \:) still in place, so that each keyword's
// own parser sees exactly what the author wrote.
type Option struct {
	Name     string // keyword name, lower case as written ("content", "http.uri", "nocase")
	Value    string // raw value; "" when HasValue is false
	HasValue bool
}

// Rule is one parsed rule.
type Rule struct {
	// Where it came from.
	File string // file name as given to the loader ("" for rules from a string)
	Line int    // 1-based line the rule starts on
	Raw  string // the rule text (continuation lines joined)

	Action Action
	// Proto is the header protocol, lower case: "ip", "tcp", "udp", "icmp",
	// "icmpv4", "icmpv6", "sctp", "pkthdr", "tcp-pkt", "tcp-stream", or an
	// application protocol ("http", "dns", "tls", "http1", ...).
	Proto string

	Src      AddrSet
	SrcPorts PortSet
	Dst      AddrSet
	DstPorts PortSet
	// Bidirectional is true for "<>": the rule also matches with source and
	// destination swapped.
	Bidirectional bool

	Options []Option

	// Fields every rule has, taken from the options while parsing.
	Msg       string // msg, unescaped
	SID       uint32
	Rev       uint32 // 0 when absent
	GID       uint32 // 1 when absent
	Classtype string // "" when absent
	// Priority is the priority keyword if present, else the classtype's
	// priority from classification.config, else 3.
	Priority  int
	ClassDesc string // the classtype's description ("" when none)
	Metadata  []string
	Reference []string
}

// AddrSet is a set of IP addresses (IPv4 and IPv6) built from a rule's
// address field, after variables, lists, ranges and negations are resolved.
// The zero AddrSet is "any".
type AddrSet struct {
	limited bool         // false: any address (the zero value)
	v4      []span[u32]  // sorted, disjoint, non-adjacent; used when limited
	v6      []span[u128] // likewise, for IPv6 (IPv4-mapped addresses included)
	text    string
}

// PortSet is a set of ports from a rule's port field. The zero PortSet is
// "any".
type PortSet struct {
	limited bool        // false: any port (the zero value)
	ranges  []span[u16] // sorted, disjoint, non-adjacent; used when limited
	text    string
}

// Error is a problem with a rule or config line. Its text is
// "file:line: message", the form operators grep for.
type Error struct {
	File    string
	Line    int
	Keyword string // the keyword at fault, if any
	Msg     string
	// Warning is set when the problem did not stop the rule from loading
	// (a duplicate sid with a higher rev, which replaces the earlier rule).
	Warning bool
}

func (e *Error) Error() string {
	loc := e.File
	if loc == "" {
		loc = "<rule>"
	}
	return fmt.Sprintf("%s:%d: %s", loc, e.Line, e.Msg)
}
