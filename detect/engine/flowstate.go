package engine

import (
	"strconv"
	"strings"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/detect/rules"
)

// Flowbits and flowints live in the flow (flow.DetectState). The engine
// numbers the names a rule set uses at compile time; flowbit numbers below
// inlineBits sit in the flow's fixed array, the others in a slice the engine
// allocates the first time a flow sets one (counted in
// Counters.FlowStateAllocs), so that ET Open's several hundred names fit
// without making every flow large.

// inlineBits is the number of flowbits stored in flow.DetectState.Bits.
const inlineBits = 256

// compileCtx is state shared by the rules of one Compile call.
type compileCtx struct {
	bits     map[string]uint32
	bitNames []string
	ints     map[string]uint32
	intNames []string
	xbits    map[string]uint32
}

func newCompileCtx() *compileCtx {
	return &compileCtx{bits: map[string]uint32{}, ints: map[string]uint32{}}
}

func (c *compileCtx) bit(name string) uint32 {
	if id, ok := c.bits[name]; ok {
		return id
	}
	id := uint32(len(c.bitNames))
	c.bits[name] = id
	c.bitNames = append(c.bitNames, name)
	return id
}

func (c *compileCtx) intVar(name string) uint32 {
	if id, ok := c.ints[name]; ok {
		return id
	}
	id := uint32(len(c.intNames))
	c.ints[name] = id
	c.intNames = append(c.intNames, name)
	return id
}

// fbCmd is a flowbits command.
type fbCmd uint8

// bitCommands are the commands flowbits and xbits share.
var bitCommands = map[string]fbCmd{
	"set": fbSet, "unset": fbUnset, "toggle": fbToggle, "isset": fbIsset, "isnotset": fbIsnotset,
}

const (
	fbSet fbCmd = iota
	fbUnset
	fbToggle
	fbIsset
	fbIsnotset
)

// flowbitOp is one flowbits keyword. For isset/isnotset, any=true means the
// names were joined with '|' (one of them must satisfy the test), otherwise
// all of them must ('&' or a single name).
type flowbitOp struct {
	cmd fbCmd
	ids []uint32
	any bool
}

// Order classes of Suricata's flowbits/flowint signature ordering: signatures
// that only write come first, then those that write and read, then those
// that only read, then those that use none.
const (
	varNone    int8 = 1
	varRead    int8 = 2
	varSetRead int8 = 3
	varSet     int8 = 4
)

func varClass(read, write bool) int8 {
	switch {
	case read && write:
		return varSetRead
	case write:
		return varSet
	case read:
		return varRead
	}
	return varNone
}

func validVarName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		switch n[i] {
		case ' ', '\t', ',', ';', '"', '|', '&':
			return false
		}
	}
	return true
}

// setupFlowbits parses "flowbits:noalert", "flowbits:CMD,NAME" where NAME is
// a name, names joined with '&' (all) or, for isset/isnotset, with '|' (any).
func setupFlowbits(b *builder, o rules.Option) error {
	v := strings.TrimSpace(o.Value)
	cmdS, names, hasNames := strings.Cut(v, ",")
	cmdS = strings.ToLower(strings.TrimSpace(cmdS))
	names = strings.TrimSpace(names)
	if cmdS == "noalert" {
		if hasNames {
			return errFmt("noalert takes no name")
		}
		b.sig.noalert = true
		return nil
	}
	var op flowbitOp
	cmd, ok := bitCommands[cmdS]
	switch {
	case cmdS == "":
		return errFmt("missing command (want set, unset, toggle, isset, isnotset or noalert)")
	case !ok:
		return errFmt("unknown command %q (want set, unset, toggle, isset, isnotset or noalert)", cmdS)
	}
	op.cmd = cmd
	if names == "" {
		return errFmt("%s needs a flowbit name", cmdS)
	}
	hasOr, hasAnd := strings.Contains(names, "|"), strings.Contains(names, "&")
	if hasOr && hasAnd {
		return errFmt("cannot mix '|' and '&' in %q", names)
	}
	sep := "&"
	if hasOr {
		if op.cmd != fbIsset && op.cmd != fbIsnotset {
			return errFmt("'|' (or) is only valid with isset and isnotset, not %s", cmdS)
		}
		sep = "|"
		op.any = true
	}
	for _, n := range strings.Split(names, sep) {
		n = strings.TrimSpace(n)
		if !validVarName(n) {
			return errFmt("invalid flowbit name %q", n)
		}
		op.ids = append(op.ids, b.cc.bit(n))
	}
	if op.cmd == fbIsset || op.cmd == fbIsnotset {
		b.sig.fbRead = append(b.sig.fbRead, op)
	} else {
		b.sig.fbWrite = append(b.sig.fbWrite, op)
	}
	return nil
}

// fiOp is a flowint operation.
type fiOp uint8

const (
	fiAssign fiOp = iota // =
	fiAdd                // +
	fiSub                // -
	fiEq                 // ==
	fiNe                 // !=
	fiLt                 // <
	fiLe                 // <=
	fiGt                 // >
	fiGe                 // >=
	fiIsset              // isset
	fiNotset             // notset / isnotset
)

// flowintOp is one flowint keyword: variable id, operation and operand (a
// constant, or another variable when isVar).
type flowintOp struct {
	id    uint32
	op    fiOp
	val   uint32
	ref   uint32
	isVar bool
}

func (o *flowintOp) modifies() bool { return o.op <= fiSub }

// setupFlowint parses "flowint:NAME,OP[,VALUE]".
func setupFlowint(b *builder, o rules.Option) error {
	parts := strings.Split(o.Value, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if len(parts) < 2 || len(parts) > 3 {
		return errFmt("invalid value %q (want name,operator[,value])", o.Value)
	}
	if !validVarName(parts[0]) {
		return errFmt("invalid flowint name %q", parts[0])
	}
	fo := flowintOp{id: b.cc.intVar(parts[0])}
	ops := map[string]fiOp{"=": fiAssign, "+": fiAdd, "-": fiSub, "==": fiEq, "!=": fiNe,
		"<": fiLt, "<=": fiLe, ">": fiGt, ">=": fiGe, "isset": fiIsset, "notset": fiNotset, "isnotset": fiNotset}
	op, ok := ops[strings.ToLower(parts[1])]
	if !ok {
		return errFmt("unknown operator %q", parts[1])
	}
	fo.op = op
	if op == fiIsset || op == fiNotset {
		if len(parts) == 3 {
			return errFmt("%s takes no value", parts[1])
		}
	} else {
		if len(parts) != 3 || parts[2] == "" {
			return errFmt("operator %s needs a value", parts[1])
		}
		if n, err := strconv.ParseUint(parts[2], 10, 32); err == nil {
			fo.val = uint32(n)
		} else if c := parts[2][0]; c >= '0' && c <= '9' || c == '-' || c == '+' {
			return errFmt("invalid value %q (want 0-4294967295 or a flowint name)", parts[2])
		} else if validVarName(parts[2]) {
			fo.isVar = true
			fo.ref = b.cc.intVar(parts[2])
		} else {
			return errFmt("invalid value %q", parts[2])
		}
	}
	if fo.modifies() {
		b.sig.fiWrite = append(b.sig.fiWrite, fo)
	} else {
		b.sig.fiRead = append(b.sig.fiRead, fo)
	}
	return nil
}

// bitIsSet reports whether flowbit id is set on f (false without a flow).
func bitIsSet(f *flow.Flow, id uint32) bool {
	if f == nil {
		return false
	}
	if id < inlineBits {
		return f.Detect.Bits[id>>6]&(1<<(id&63)) != 0
	}
	w := int(id-inlineBits) >> 6
	if w >= len(f.Detect.MoreBits) {
		return false
	}
	return f.Detect.MoreBits[w]&(1<<(id&63)) != 0
}

// writeBit sets (v) or clears flowbit id on f.
func (t *Thread) writeBit(f *flow.Flow, id uint32, v bool) {
	var word *uint64
	if id < inlineBits {
		word = &f.Detect.Bits[id>>6]
	} else {
		w := int(id-inlineBits) >> 6
		if w >= len(f.Detect.MoreBits) {
			if !v {
				return
			}
			n := (len(t.e.bitNames) - inlineBits + 63) >> 6
			if n <= w {
				n = w + 1
			}
			nb := make([]uint64, n)
			copy(nb, f.Detect.MoreBits)
			f.Detect.MoreBits = nb
			t.c.FlowStateAllocs++
		}
		word = &f.Detect.MoreBits[w]
	}
	if v {
		*word |= 1 << (id & 63)
	} else {
		*word &^= 1 << (id & 63)
	}
}

// flowbitsMatch evaluates the signature's isset/isnotset tests.
func flowbitsMatch(s *Signature, f *flow.Flow) bool {
	for i := range s.fbRead {
		op := &s.fbRead[i]
		want := op.cmd == fbIsset
		if op.any {
			ok := false
			for _, id := range op.ids {
				if bitIsSet(f, id) == want {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
			continue
		}
		for _, id := range op.ids {
			if bitIsSet(f, id) != want {
				return false
			}
		}
	}
	return true
}

func intGet(f *flow.Flow, id uint32) (uint32, bool) {
	if f == nil || int(id) >= len(f.Detect.Ints) {
		return 0, false
	}
	v := f.Detect.Ints[id]
	return v.Value, v.Set
}

// flowintMatch evaluates the signature's flowint tests.
func flowintMatch(s *Signature, f *flow.Flow) bool {
	for i := range s.fiRead {
		op := &s.fiRead[i]
		cur, set := intGet(f, op.id)
		switch op.op {
		case fiIsset:
			if !set {
				return false
			}
			continue
		case fiNotset:
			if set {
				return false
			}
			continue
		}
		if !set {
			return false
		}
		target := op.val
		if op.isVar {
			v, ok := intGet(f, op.ref)
			if !ok {
				return false
			}
			target = v
		}
		var ok bool
		switch op.op {
		case fiEq:
			ok = cur == target
		case fiNe:
			ok = cur != target
		case fiLt:
			ok = cur < target
		case fiLe:
			ok = cur <= target
		case fiGt:
			ok = cur > target
		case fiGe:
			ok = cur >= target
		}
		if !ok {
			return false
		}
	}
	return true
}

// postMatch applies a matched signature's flowbit and flowint changes.
func (t *Thread) postMatch(s *Signature, f *flow.Flow) {
	if f == nil {
		return
	}
	for i := range s.fbWrite {
		op := &s.fbWrite[i]
		for _, id := range op.ids {
			switch op.cmd {
			case fbSet:
				t.writeBit(f, id, true)
			case fbUnset:
				t.writeBit(f, id, false)
			case fbToggle:
				t.writeBit(f, id, !bitIsSet(f, id))
			}
		}
	}
	for i := range s.fiWrite {
		op := &s.fiWrite[i]
		val := op.val
		if op.isVar {
			v, ok := intGet(f, op.ref)
			if !ok {
				continue
			}
			val = v
		}
		if int(op.id) >= len(f.Detect.Ints) {
			n := len(t.e.intNames)
			if n <= int(op.id) {
				n = int(op.id) + 1
			}
			ni := make([]flow.FlowInt, n)
			copy(ni, f.Detect.Ints)
			f.Detect.Ints = ni
			t.c.FlowStateAllocs++
		}
		fi := &f.Detect.Ints[op.id]
		switch op.op {
		case fiAssign:
			fi.Value = val
		case fiAdd:
			if fi.Set {
				fi.Value += val
			} else {
				fi.Value = val
			}
		case fiSub:
			if fi.Set {
				fi.Value -= val
			} else {
				fi.Value = 0
			}
		}
		fi.Set = true
	}
}
