//go:build hyperscan

package mpm

import (
	"fmt"
	"strings"

	gohs "github.com/flier/gohs/hyperscan"
)

// With -tags hyperscan the comparison also runs Hyperscan, twice:
//
//   - "hyperscan" is HSMatcher (this package's own cgo binding): literal
//     API, per-pattern HS_FLAG_CASELESS and HS_FLAG_SINGLEMATCH, match
//     callback in C; it has Matcher's semantics natively.
//   - "gohs" is the same database through github.com/flier/gohs: the
//     patterns become regular expressions with every non-alphanumeric byte
//     hex-escaped (gohs's literal API needs the extra build tag
//     hyperscan_v54), and every match calls back into Go through a
//     cgo.Handle created per scan. It shows what the binding costs.
func init() {
	cmpEngines = append(cmpEngines,
		cmpEngine{"hyperscan", func(pats []Pattern) (func([]byte) []uint32, error) {
			m, err := CompileHyperscan(pats)
			if err != nil {
				return nil, err
			}
			s, err := m.NewScratch()
			if err != nil {
				return nil, err
			}
			return func(d []byte) []uint32 { return m.Scan(d, s) }, nil
		}},
		cmpEngine{"gohs", buildGohs},
	)
}

// hsExpr writes b as a Hyperscan regular expression matching it literally.
func hsExpr(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return sb.String()
}

func buildGohs(pats []Pattern) (func([]byte) []uint32, error) {
	groups, err := groupPatterns(pats)
	if err != nil {
		return nil, err
	}
	hp := make([]*gohs.Pattern, len(groups))
	for g, gr := range groups {
		b, f := gr.exact, gohs.SingleMatch
		if b == nil {
			b, f = gr.folded, f|gohs.Caseless
		}
		hp[g] = gohs.NewPattern(hsExpr(b), f)
		hp[g].Id = g
	}
	db, err := gohs.NewBlockDatabase(hp...)
	if err != nil {
		return nil, fmt.Errorf("gohs: %w", err)
	}
	sc, err := gohs.NewScratch(db)
	if err != nil {
		return nil, fmt.Errorf("gohs: %w", err)
	}
	var out []uint32
	handler := func(id uint, from, to uint64, flags uint, ctx interface{}) error {
		out = append(out, groups[id].ids...)
		return nil
	}
	return func(d []byte) []uint32 {
		out = out[:0]
		if len(d) > 0 { // gohs rejects an empty buffer
			if err := db.Scan(d, sc, handler, nil); err != nil {
				panic(err)
			}
		}
		return out
	}, nil
}
