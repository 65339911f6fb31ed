package engine

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/vigil-ids/vigil/detect/pcre"
	"github.com/vigil-ids/vigil/detect/rules"
)

// Transforms rewrite a sticky buffer before it is inspected
// (`http.uri; to_lowercase; content:"/admin";`). They must directly follow
// the sticky-buffer keyword, apply in rule order, and also feed the
// prefilter: the fast pattern of a transformed buffer is searched in the
// transformed bytes. Output goes to per-thread scratch that grows to the
// largest buffer seen and is then reused, so inspection stays
// allocation-free once warm.

type xformKind uint8

const (
	xfLower xformKind = iota
	xfUpper
	xfStripWS
	xfCompressWS
	xfURLDecode
	xfDotPrefix
	xfMD5
	xfSHA1
	xfSHA256
	xfXor
	xfHeaderLower
	xfStripPseudo
	xfPcre
	xfDomain
	xfTLD
)

var xformNames = map[string]xformKind{
	"to_lowercase":         xfLower,
	"to_uppercase":         xfUpper,
	"strip_whitespace":     xfStripWS,
	"compress_whitespace":  xfCompressWS,
	"url_decode":           xfURLDecode,
	"dotprefix":            xfDotPrefix,
	"to_md5":               xfMD5,
	"to_sha1":              xfSHA1,
	"to_sha256":            xfSHA256,
	"xor":                  xfXor,
	"header_lowercase":     xfHeaderLower,
	"strip_pseudo_headers": xfStripPseudo,
	"pcrexform":            xfPcre,
	"domain":               xfDomain,
	"tld":                  xfTLD,
}

// transform is one compiled transform.
type transform struct {
	kind xformKind
	key  []byte       // xor key
	re   *pcre.Regexp // pcrexform: the buffer becomes the first capture group (or the whole match)
	src  string       // pcrexform's pattern, for deduplication
	psl  *suffixList  // domain, tld: the Public Suffix List (publicsuffix.go)
}

// key identifies a transform for buffer-variant deduplication.
func (x transform) id() string {
	if x.kind == xfXor {
		return "xor:" + hex.EncodeToString(x.key)
	}
	if x.kind == xfPcre {
		return "pcrexform:" + x.src
	}
	for n, k := range xformNames {
		if k == x.kind {
			return n
		}
	}
	return "?"
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// apply writes the transform of src into dst[:0] and returns it. src and
// dst must not overlap.
func (x *transform) apply(dst, src []byte, ps *pcre.Scratch) []byte {
	dst = dst[:0]
	switch x.kind {
	case xfPcre:
		// As Suricata: the first capture group if the pattern has one,
		// else the whole match; no match leaves an empty buffer.
		ms, me, ok := x.re.Find(src, 0, ps)
		if !ok {
			return dst
		}
		if x.re.NumGroups() > 0 {
			gs, ge, gok := x.re.Group(ps, 1)
			if !gok {
				return dst
			}
			ms, me = gs, ge
		}
		dst = append(dst, src[ms:me]...)
	case xfDomain, xfTLD:
		return x.psl.apply(dst, src, x.kind == xfTLD)
	case xfLower:
		for _, c := range src {
			dst = append(dst, lower[c])
		}
	case xfUpper:
		for _, c := range src {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
		}
	case xfStripWS:
		for _, c := range src {
			if !isSpace(c) {
				dst = append(dst, c)
			}
		}
	case xfCompressWS:
		// A run of white space becomes its first character.
		for i, c := range src {
			if isSpace(c) && i > 0 && isSpace(src[i-1]) {
				continue
			}
			dst = append(dst, c)
		}
	case xfURLDecode:
		// %XX becomes the byte, '+' a space; an invalid escape is kept.
		for i := 0; i < len(src); i++ {
			c := src[i]
			if c == '+' {
				dst = append(dst, ' ')
				continue
			}
			if c == '%' && i+2 < len(src) {
				h, ok1 := unhex(src[i+1])
				l, ok2 := unhex(src[i+2])
				if ok1 && ok2 {
					dst = append(dst, h<<4|l)
					i += 2
					continue
				}
			}
			dst = append(dst, c)
		}
	case xfDotPrefix:
		dst = append(dst, '.')
		dst = append(dst, src...)
	case xfMD5:
		sum := md5.Sum(src)
		dst = append(dst, sum[:]...)
	case xfSHA1:
		sum := sha1.Sum(src)
		dst = append(dst, sum[:]...)
	case xfSHA256:
		sum := sha256.Sum256(src)
		dst = append(dst, sum[:]...)
	case xfXor:
		for i, c := range src {
			dst = append(dst, c^x.key[i%len(x.key)])
		}
	case xfHeaderLower:
		// Lower-case each header name: the bytes from a line's start up
		// to its first ':'.
		inName := true
		for _, c := range src {
			switch {
			case c == '\n':
				inName = true
			case inName && c == ':' && len(dst) > 0 && dst[len(dst)-1] != '\n':
				inName = false
			case inName:
				c = lower[c]
			}
			dst = append(dst, c)
		}
	case xfStripPseudo:
		// Drop the lines that start with ':' (HTTP/2 pseudo-headers).
		for len(src) > 0 {
			line := src
			n := len(src)
			for i, c := range src {
				if c == '\n' {
					line, n = src[:i+1], i+1
					break
				}
			}
			if line[0] != ':' {
				dst = append(dst, line...)
			}
			src = src[n:]
		}
	}
	return dst
}

// setupTransform adds a transform to the current sticky buffer.
func setupTransform(b *builder, o rules.Option) error {
	kind := xformNames[strings.ToLower(o.Name)]
	x := transform{kind: kind}
	if kind == xfXor {
		v, err := rules.Unquote(strings.TrimSpace(o.Value))
		if err != nil {
			return err
		}
		v = strings.TrimSpace(v)
		if len(v) == 0 || len(v)%2 != 0 || len(v) > 510 {
			return errFmt("key must be an even number (2-510) of hex digits, got %q", v)
		}
		k, err := hex.DecodeString(v)
		if err != nil {
			return errFmt("key %q is not hex", v)
		}
		x.key = k
	} else if kind == xfPcre {
		v, err := rules.Unquote(strings.TrimSpace(o.Value))
		if err != nil {
			return err
		}
		// Written without slashes or flags, as Suricata's pcrexform takes it.
		if x.re, err = pcre.Compile(v, 0); err != nil {
			return err
		}
		x.src = v
		b.sig.hasPcre = true
	} else if err := noValue(o); err != nil {
		return err
	} else if kind == xfDomain || kind == xfTLD {
		if x.psl, err = publicSuffixList(); err != nil {
			return err
		}
	}
	if !b.explicitBuf {
		return errFmt("transforms need a sticky buffer before them")
	}
	bl := b.curList()
	if bl.id == BufBase64Data {
		return errFmt("transforms cannot apply to base64_data")
	}
	if len(bl.steps) > 0 {
		return errFmt("transforms must directly follow the sticky buffer (%s already has inspection keywords)", bl.id)
	}
	bl.xf = append(bl.xf, x)
	return nil
}

func init() {
	for n := range xformNames {
		register(&keyword{name: n, setup: setupTransform})
	}
}
