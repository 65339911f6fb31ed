package engine

import (
	"strings"

	"github.com/vigil-ids/vigil/detect/rules"
)

// base64_decode decodes base64 from the current buffer (at an offset,
// optionally relative to the previous match, up to a byte count) into
// thread scratch; the keywords after base64_data then inspect the decoded
// bytes, as part of the inspection of the buffer holding the
// base64_decode (Suricata's semantics). Decoding is lenient as
// Suricata's: it stops at padding or the first byte outside the
// alphabet, and ignores a trailing partial quantum.

type b64Op struct {
	bytes    uint32 // most input bytes to decode; 0 = all
	offset   uint32
	relative bool
	steps    []step // the base64_data list (set by finish), nil if none
}

var b64val = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(a); i++ {
		t[a[i]] = int8(i)
	}
	return t
}()

// decodeBase64 appends the decoding of src to dst.
func decodeBase64(dst, src []byte) []byte {
	var q uint32
	n := 0
	for _, c := range src {
		v := b64val[c]
		if v < 0 {
			if c == ' ' || c == '\r' || c == '\n' || c == '\t' {
				continue
			}
			break
		}
		q = q<<6 | uint32(v)
		n++
		if n == 4 {
			dst = append(dst, byte(q>>16), byte(q>>8), byte(q))
			q, n = 0, 0
		}
	}
	switch n {
	case 2:
		dst = append(dst, byte(q>>4))
	case 3:
		dst = append(dst, byte(q>>10), byte(q>>2))
	}
	return dst
}

// runBase64 decodes per op from buf and runs the base64_data list on the
// result; it reports a match.
func (t *Thread) runBase64(op *b64Op, buf []byte) bool {
	start := uint64(op.offset)
	if op.relative {
		start += uint64(t.bufOff)
	}
	if start >= uint64(len(buf)) {
		return false
	}
	src := buf[start:]
	if op.bytes > 0 && uint64(len(src)) > uint64(op.bytes) {
		src = src[:op.bytes]
	}
	t.b64buf = decodeBase64(t.b64buf[:0], src)
	if len(t.b64buf) == 0 {
		return false
	}
	if len(op.steps) == 0 {
		return true
	}
	saved := t.bufOff
	t.bufOff = 0
	r := t.inspect(op.steps, 0, t.b64buf)
	t.bufOff = saved
	return r == 1
}

func setupBase64Decode(b *builder, o rules.Option) error {
	if err := b.once("base64_decode"); err != nil {
		return err
	}
	op := &b64Op{}
	if strings.TrimSpace(o.Value) != "" {
		for _, part := range rules.SplitArgs(o.Value) {
			part = strings.TrimSpace(part)
			k, v, _ := strings.Cut(part, " ")
			v = strings.TrimSpace(v)
			switch strings.ToLower(k) {
			case "bytes":
				n, err := parseNum("bytes", v, 1, 1<<20)
				if err != nil {
					return err
				}
				op.bytes = uint32(n)
			case "offset":
				n, err := parseNum("offset", v, 0, 1<<20)
				if err != nil {
					return err
				}
				op.offset = uint32(n)
			case "relative":
				op.relative = true
			default:
				return errFmt("unknown option %q (want bytes N, offset N, relative)", part)
			}
		}
	}
	if b.curList().id == BufBase64Data {
		return errFmt("cannot decode base64_data again")
	}
	st := step{kind: stepBase64, b64: op}
	if op.relative {
		st.flags |= fRelative
	}
	l := b.list()
	*l = append(*l, st)
	return nil
}

func init() {
	register(&keyword{name: "base64_decode", setup: setupBase64Decode})
	register(&keyword{name: "base64_data", setup: func(b *builder, o rules.Option) error {
		if err := noValue(o); err != nil {
			return err
		}
		if !b.seen["base64_decode"] {
			return errFmt("needs a base64_decode before it")
		}
		b.switchBuffer(BufBase64Data)
		b.explicitBuf = false
		return nil
	}})
}
