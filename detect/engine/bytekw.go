package engine

import (
	"math/bits"
	"strconv"
	"strings"

	"github.com/vigil-ids/vigil/detect/rules"
)

// byte_test, byte_jump, byte_extract and byte_math, with Suricata's
// semantics (detect-bytetest.c, detect-bytejump.c, detect-byte-extract.c,
// detect-bytemath.c). They are steps of the current buffer's inspection
// list. byte_extract and byte_math store a value in a signature variable
// that later keywords of the same signature may use as their offset,
// value, depth, distance or within.

// maxSigVars is the most byte_extract/byte_math variables one signature
// may define.
const maxSigVars = 8

// byteOpKind is which byte keyword a step is.
type byteOpKind uint8

const (
	byteTest byteOpKind = iota
	byteJump
	byteExtract
	byteMath
)

// Number formats.
const (
	numBinary uint8 = iota
	numDec
	numHex
	numOct
)

// valRef is a keyword argument that is either a constant or a variable.
type valRef struct {
	v   int64
	idx int8 // variable index + 1; 0 = constant
}

func (t *Thread) val(r valRef) int64 {
	if r.idx > 0 {
		return int64(t.vars[r.idx-1])
	}
	return r.v
}

// byteOp is a compiled byte keyword.
type byteOp struct {
	kind     byteOpKind
	nbytes   int
	nbRef    valRef // byte_jump: byte count from a variable (idx > 0)
	offset   valRef
	relative bool
	little   bool
	format   uint8
	bitmask  uint64
	shift    uint8
	// byte_test
	op    byte // '<', '>', '=', 'L' (<=), 'G' (>=), '&', '^'
	neg   bool
	value valRef
	// byte_jump / byte_extract
	multiplier    uint64
	align         uint64 // byte_jump align: 4; byte_extract: 2 or 4
	fromBeginning bool
	fromEnd       bool
	postOffset    int64
	// byte_extract / byte_math result variable index
	result int
	// byte_math
	mathOp byte // '+', '-', '*', '/', 'l' (<<), 'r' (>>)
	rvalue valRef
	// strAll: string format with 0 bytes: parse to the first non-digit.
	strAll bool
}

// extract reads nbytes at buf[pos:] as the operation's format. ok is false
// when the bytes are not there or not a number.
func (o *byteOp) extract(buf []byte, pos, nbytes int) (uint64, bool) {
	if pos < 0 || nbytes > len(buf)-pos {
		return 0, false
	}
	b := buf[pos : pos+nbytes]
	var v uint64
	if o.format == numBinary {
		if o.little {
			for i := len(b) - 1; i >= 0; i-- {
				v = v<<8 | uint64(b[i])
			}
		} else {
			for _, c := range b {
				v = v<<8 | uint64(c)
			}
		}
	} else {
		var ok bool
		v, ok = parseStringNum(b, o.format)
		if !ok {
			return 0, false
		}
	}
	if o.bitmask != 0 {
		v &= o.bitmask
		if v != 0 {
			v >>= o.shift
		}
	}
	return v, true
}

// parseStringNum parses the leading number of b as strtoull would (leading
// white space, optional '+', optional 0x for hex) and fails when there are
// no digits.
func parseStringNum(b []byte, format uint8) (uint64, bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' || b[i] == '\v' || b[i] == '\f') {
		i++
	}
	if i < len(b) && b[i] == '+' {
		i++
	}
	base := uint64(10)
	switch format {
	case numHex:
		base = 16
		if i+1 < len(b) && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') && i+2 < len(b) && hexDigit(b[i+2]) >= 0 {
			i += 2
		}
	case numOct:
		base = 8
	}
	var v uint64
	n := 0
	for ; i < len(b); i++ {
		d := hexDigit(b[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		hi, lo := bits.Mul64(v, base)
		if hi != 0 || lo+uint64(d) < lo {
			return 0, false // out of range, as strtoull's ERANGE
		}
		v = lo + uint64(d)
		n++
	}
	return v, n > 0
}

func hexDigit(c byte) int {
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

// runByte evaluates a byte keyword on buf; true means it matched (and for
// byte_jump, byte_extract and byte_math, t.bufOff has moved).
func (t *Thread) runByte(o *byteOp, buf []byte) bool {
	base := 0
	if o.relative {
		base = t.bufOff
	}
	pos64 := int64(base) + t.val(o.offset)
	if pos64 < 0 || pos64 > int64(len(buf)) {
		return false
	}
	pos := int(pos64)
	nb := o.nbytes
	if o.nbRef.idx > 0 {
		n := t.val(o.nbRef)
		lim := int64(8)
		if o.format != numBinary {
			lim = 23
		}
		// byte_test reads at least one byte; byte_jump with 0 bytes
		// jumps by 0.
		if n < 0 || n > lim || (n == 0 && o.kind == byteTest) {
			return false
		}
		nb = int(n)
	}
	var v uint64
	if nb > 0 {
		var ok bool
		if v, ok = o.extract(buf, pos, nb); !ok {
			return false
		}
	} else if o.strAll {
		var ok bool
		if v, ok = parseStringNum(buf[pos:], o.format); !ok {
			return false
		}
		if o.bitmask != 0 {
			v &= o.bitmask
			if v != 0 {
				v >>= o.shift
			}
		}
	}
	switch o.kind {
	case byteTest:
		want := uint64(t.val(o.value))
		var m bool
		switch o.op {
		case '<':
			m = v < want
		case '>':
			m = v > want
		case '=':
			m = v == want
		case 'L':
			m = v <= want
		case 'G':
			m = v >= want
		case '&':
			m = v&want != 0
		case '^':
			m = v^want != 0
		}
		return m != o.neg
	case byteJump:
		v *= o.multiplier
		if o.align != 0 && v%o.align != 0 {
			v += o.align - v%o.align
		}
		if v > 1<<40 {
			return false
		}
		var jump int64
		switch {
		case o.fromBeginning:
			jump = int64(v)
		case o.fromEnd:
			jump = int64(len(buf)) + int64(v)
		default:
			jump = int64(pos) + int64(nb) + int64(v)
		}
		jump += o.postOffset
		if jump < 0 || jump > int64(len(buf)) {
			return false
		}
		t.bufOff = int(jump)
		return true
	case byteExtract:
		if o.multiplier > 1 {
			v *= o.multiplier
		}
		if o.align != 0 && v%o.align != 0 {
			v += o.align - v%o.align
		}
		t.vars[o.result] = v
		t.bufOff = pos + o.nbytes
		return true
	case byteMath:
		r := uint64(t.val(o.rvalue))
		switch o.mathOp {
		case '+':
			v += r
		case '-':
			v -= r
		case '*':
			v *= r
		case '/':
			if r == 0 {
				return false
			}
			v /= r
		case 'l':
			if r >= 64 {
				v = 0
			} else {
				v <<= r
			}
		case 'r':
			if r >= 64 {
				v = 0
			} else {
				v >>= r
			}
		}
		t.vars[o.result] = v
		t.bufOff = pos + o.nbytes
		return true
	}
	return false
}

// --- parsing ---

// varIndex returns the index of a variable defined earlier in the rule.
func (b *builder) varIndex(name string) (int, bool) {
	for i, n := range b.varNames {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// defineVar adds a byte_extract/byte_math result variable.
func (b *builder) defineVar(name string) (int, error) {
	if !validVarName(name) || (name[0] >= '0' && name[0] <= '9') || name[0] == '-' {
		return 0, errFmt("invalid variable name %q", name)
	}
	if i, ok := b.varIndex(name); ok {
		return i, nil
	}
	if len(b.varNames) >= maxSigVars {
		return 0, errFmt("too many variables (max %d per rule)", maxSigVars)
	}
	b.varNames = append(b.varNames, name)
	return len(b.varNames) - 1, nil
}

// parseValRef parses a number (decimal, or hex with 0x) in [lo, hi] or the
// name of a variable defined earlier in the rule.
func (b *builder) parseValRef(what, s string, lo, hi int64) (valRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return valRef{}, errFmt("missing %s", what)
	}
	if c := s[0]; c >= '0' && c <= '9' || c == '-' || c == '+' {
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return valRef{}, errFmt("invalid %s %q", what, s)
		}
		if n < lo || n > hi {
			return valRef{}, errFmt("%s %d out of range [%d, %d]", what, n, lo, hi)
		}
		return valRef{v: n}, nil
	}
	i, ok := b.varIndex(s)
	if !ok {
		return valRef{}, errFmt("%s: unknown variable %q (define it with byte_extract or byte_math first)", what, s)
	}
	return valRef{idx: int8(i + 1)}, nil
}

func parseBitmask(o *byteOp, v string) error {
	v = strings.TrimSpace(v)
	n, err := strconv.ParseUint(v, 0, 64)
	if err != nil || n == 0 {
		return errFmt("invalid bitmask %q", v)
	}
	o.bitmask = n
	o.shift = uint8(bits.TrailingZeros64(n))
	return nil
}

func parseFormat(s string) (uint8, bool) {
	switch s {
	case "dec":
		return numDec, true
	case "hex":
		return numHex, true
	case "oct":
		return numOct, true
	}
	return 0, false
}

// addByteStep appends a byte keyword to the current list.
func (b *builder) addByteStep(o *byteOp) {
	l := b.relList(o.relative)
	if o.relative {
		if j := prevMatch(*l, len(*l)); j >= 0 {
			(*l)[j].flags |= fRelativeNext
		}
	}
	st := step{kind: stepByte, bop: o}
	if o.relative {
		st.flags |= fRelative
	}
	*l = append(*l, st)
}

// checkNbytes validates the byte count for the format.
func checkNbytes(kw string, o *byteOp, allowZero bool) error {
	if o.nbytes == 0 && allowZero {
		return nil
	}
	if o.format != numBinary {
		if o.nbytes < 1 || o.nbytes > 23 {
			return errFmt("%s: %d bytes out of range for a string number (1-23)", kw, o.nbytes)
		}
		return nil
	}
	if o.nbytes < 1 || o.nbytes > 8 {
		return errFmt("%s: %d bytes out of range (1-8)", kw, o.nbytes)
	}
	return nil
}

// commonOpt handles the options byte_test, byte_jump and byte_extract
// share; it reports whether it knew the option.
func commonOpt(o *byteOp, word string, parts []string, i *int, endianSet *bool) (bool, error) {
	switch word {
	case "relative":
		o.relative = true
	case "big", "little":
		if *endianSet {
			return true, errFmt("endianness given twice")
		}
		*endianSet = true
		o.little = word == "little"
	case "dce":
		return true, errFmt("dce is only valid with the dcerpc application layer, which Vigil does not parse")
	case "string":
		if o.format == numBinary {
			o.format = numDec
		}
		if *i+1 < len(parts) {
			if f, ok := parseFormat(strings.ToLower(parts[*i+1])); ok {
				o.format = f
				*i++
			}
		}
	case "hex", "dec", "oct":
		f, _ := parseFormat(word)
		o.format = f
	default:
		if strings.HasPrefix(word, "bitmask") {
			return true, parseBitmask(o, strings.TrimSpace(word[len("bitmask"):]))
		}
		return false, nil
	}
	return true, nil
}

// setupByteTest parses "byte_test:N,[!]OP,VALUE,OFFSET[,options]".
func setupByteTest(b *builder, o rules.Option) error {
	parts := splitTrim(o.Value)
	if len(parts) < 4 {
		return errFmt("invalid value %q (want nbytes,operator,value,offset[,options])", o.Value)
	}
	op := &byteOp{kind: byteTest}
	// The byte count is a number or (Suricata 7+) a byte_extract/byte_math
	// variable; a variable's value must be in range at match time.
	nb, err := b.parseValRef("byte count", parts[0], 0, 23)
	if err != nil {
		return err
	}
	if nb.idx != 0 {
		op.nbRef = nb
	} else {
		op.nbytes = int(nb.v)
	}
	ops := strings.ReplaceAll(parts[1], " ", "")
	if strings.HasPrefix(ops, "!") {
		op.neg = true
		ops = ops[1:]
	}
	switch ops {
	case "<", ">", "=", "&", "^":
		op.op = ops[0]
	case "<=":
		op.op = 'L'
	case ">=":
		op.op = 'G'
	case "":
		if op.neg {
			op.op, op.neg = '=', true
			break
		}
		fallthrough
	default:
		return errFmt("invalid operator %q (want <, >, =, <=, >=, &, ^, optionally negated with !)", parts[1])
	}
	if op.value, err = b.parseValRef("value", parts[2], 0, 1<<63-1); err != nil {
		// byte_test values may be full 64-bit.
		u, uerr := strconv.ParseUint(strings.TrimSpace(parts[2]), 0, 64)
		if uerr != nil {
			return err
		}
		op.value = valRef{v: int64(u)}
	}
	if op.offset, err = b.parseValRef("offset", parts[3], -(1 << 31), 1<<31-1); err != nil {
		return err
	}
	endian := false
	for i := 4; i < len(parts); i++ {
		w := strings.ToLower(parts[i])
		known, err := commonOpt(op, w, parts, &i, &endian)
		if err != nil {
			return err
		}
		if !known {
			return errFmt("unknown option %q", parts[i])
		}
	}
	// A string byte_test with 0 bytes reads the number up to the first
	// non-digit, as Suricata's strtoull on the remaining buffer.
	op.strAll = op.nbytes == 0 && op.nbRef.idx == 0 && op.format != numBinary
	if op.nbRef.idx == 0 {
		if err := checkNbytes("byte_test", op, op.strAll); err != nil {
			return err
		}
	}
	if op.offset.idx == 0 && op.offset.v < 0 && !op.relative {
		return errFmt("negative offset %d needs relative", op.offset.v)
	}
	b.addByteStep(op)
	return nil
}

// setupByteJump parses "byte_jump:N,OFFSET[,options]".
func setupByteJump(b *builder, o rules.Option) error {
	parts := splitTrim(o.Value)
	if len(parts) < 2 {
		return errFmt("invalid value %q (want nbytes,offset[,options])", o.Value)
	}
	op := &byteOp{kind: byteJump, multiplier: 1}
	var err error
	nb, err := b.parseValRef("byte count", parts[0], 0, 23)
	if err != nil {
		return err
	}
	if nb.idx != 0 {
		// byte_jump:VAR,...: the byte count is the variable's value.
		op.nbRef = nb
	} else {
		op.nbytes = int(nb.v)
	}
	if op.offset, err = b.parseValRef("offset", parts[1], -(1 << 31), 1<<31-1); err != nil {
		return err
	}
	endian := false
	for i := 2; i < len(parts); i++ {
		w := strings.ToLower(parts[i])
		known, err := commonOpt(op, w, parts, &i, &endian)
		if err != nil {
			return err
		}
		if known {
			continue
		}
		switch {
		case w == "align":
			op.align = 4
		case w == "from_beginning":
			op.fromBeginning = true
		case w == "from_end":
			op.fromEnd = true
		case strings.HasPrefix(w, "multiplier"):
			if op.multiplier, err = parseMultiplier(w, parts[i]); err != nil {
				return err
			}
		case strings.HasPrefix(w, "post_offset"):
			p, err := strconv.ParseInt(strings.TrimSpace(w[len("post_offset"):]), 10, 32)
			if err != nil {
				return errFmt("invalid post_offset %q", parts[i])
			}
			op.postOffset = p
		default:
			return errFmt("unknown option %q", parts[i])
		}
	}
	if op.fromBeginning && op.fromEnd {
		return errFmt("from_beginning and from_end cannot be combined")
	}
	if nb.idx == 0 {
		if err := checkNbytes("byte_jump", op, true); err != nil {
			return err
		}
	}
	b.addByteStep(op)
	return nil
}

// setupByteExtract parses "byte_extract:N,OFFSET,NAME[,options]".
func setupByteExtract(b *builder, o rules.Option) error {
	parts := splitTrim(o.Value)
	if len(parts) < 3 {
		return errFmt("invalid value %q (want nbytes,offset,name[,options])", o.Value)
	}
	op := &byteOp{kind: byteExtract, multiplier: 1}
	n, err := strconv.Atoi(parts[0])
	if err != nil {
		return errFmt("invalid byte count %q", parts[0])
	}
	op.nbytes = n
	if op.offset, err = b.parseValRef("offset", parts[1], -(1 << 31), 1<<31-1); err != nil {
		return err
	}
	endian := false
	for i := 3; i < len(parts); i++ {
		w := strings.ToLower(parts[i])
		known, err := commonOpt(op, w, parts, &i, &endian)
		if err != nil {
			return err
		}
		if known {
			continue
		}
		switch {
		case strings.HasPrefix(w, "multiplier"):
			if op.multiplier, err = parseMultiplier(w, parts[i]); err != nil {
				return err
			}
		case strings.HasPrefix(w, "align"):
			a := strings.TrimSpace(w[len("align"):])
			if a != "2" && a != "4" {
				return errFmt("invalid align %q (want 2 or 4)", parts[i])
			}
			op.align = uint64(a[0] - '0')
		default:
			return errFmt("unknown option %q", parts[i])
		}
	}
	if err := checkNbytes("byte_extract", op, false); err != nil {
		return err
	}
	if op.result, err = b.defineVar(parts[2]); err != nil {
		return err
	}
	b.addByteStep(op)
	return nil
}

// setupByteMath parses "byte_math:bytes N, offset O, oper OP, rvalue V,
// result NAME[, relative][, endian big|little][, string dec|hex|oct]
// [, bitmask M]".
func setupByteMath(b *builder, o rules.Option) error {
	op := &byteOp{kind: byteMath}
	seen := map[string]bool{}
	var result string
	for _, p := range splitTrim(o.Value) {
		key, val, _ := strings.Cut(p, " ")
		key = strings.ToLower(key)
		val = strings.TrimSpace(val)
		if seen[key] {
			return errFmt("%s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "bytes":
			var n int
			n, err = strconv.Atoi(val)
			if err != nil || n < 1 || n > 10 {
				return errFmt("invalid bytes %q (want 1-10)", val)
			}
			op.nbytes = n
		case "offset":
			op.offset, err = b.parseValRef("offset", val, -65535, 65535)
		case "oper":
			switch val {
			case "+", "-", "*", "/":
				op.mathOp = val[0]
			case "<<":
				op.mathOp = 'l'
			case ">>":
				op.mathOp = 'r'
			default:
				return errFmt("invalid oper %q (want +, -, *, /, << or >>)", val)
			}
		case "rvalue":
			op.rvalue, err = b.parseValRef("rvalue", val, 0, 1<<32-1)
		case "result":
			result = val
		case "relative":
			op.relative = true
		case "endian":
			switch val {
			case "big":
			case "little":
				op.little = true
			case "dce":
				return errFmt("dce is only valid with the dcerpc application layer, which Vigil does not parse")
			default:
				return errFmt("invalid endian %q (want big or little)", val)
			}
		case "dce":
			return errFmt("dce is only valid with the dcerpc application layer, which Vigil does not parse")
		case "string":
			f, ok := parseFormat(val)
			if !ok {
				return errFmt("invalid string format %q (want dec, hex or oct)", val)
			}
			op.format = f
		case "bitmask":
			err = parseBitmask(op, val)
		default:
			return errFmt("unknown option %q", p)
		}
		if err != nil {
			return err
		}
	}
	for _, k := range []string{"bytes", "offset", "oper", "rvalue", "result"} {
		if !seen[k] {
			return errFmt("missing %s", k)
		}
	}
	if op.format == numBinary && op.nbytes > 4 {
		return errFmt("bytes %d out of range without string (1-4)", op.nbytes)
	}
	var err error
	if op.result, err = b.defineVar(result); err != nil {
		return err
	}
	b.addByteStep(op)
	return nil
}

func splitTrim(v string) []string {
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func init() {
	register(&keyword{name: "byte_test", setup: setupByteTest})
	register(&keyword{name: "byte_jump", setup: setupByteJump})
	register(&keyword{name: "byte_extract", setup: setupByteExtract})
	register(&keyword{name: "byte_math", setup: setupByteMath})
}

// parseMultiplier reads byte_jump's and byte_extract's "multiplier N"
// (w is the lower-cased option, raw the option as written).
func parseMultiplier(w, raw string) (uint64, error) {
	m, err := strconv.ParseUint(strings.TrimSpace(w[len("multiplier"):]), 10, 16)
	if err != nil || m == 0 {
		return 0, errFmt("invalid multiplier %q", raw)
	}
	return m, nil
}
