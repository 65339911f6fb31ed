package engine

import (
	"errors"
	"strconv"
	"strings"

	"github.com/vigil-ids/vigil/detect/rules"
)

// The requires keyword ("requires: feature X, version >= 7.0.3") lets a
// rule state what engine it needs. A rule whose requirements are not met
// is skipped silently, as Suricata does. Vigil implements the Suricata 8
// rule language, so it answers version checks as Suricata 8.0.0 would; it
// claims no optional features.

// SuricataVersion is the Suricata version Vigil's rule language matches,
// for "requires: version".
var SuricataVersion = [3]int{8, 0, 0}

// errRequiresUnmet marks a rule whose requires keyword is not satisfied.
var errRequiresUnmet = errors.New("requirements not met")

func setupRequires(b *builder, o rules.Option) error {
	v := strings.TrimSpace(o.Value)
	if v == "" {
		return errFmt("missing value")
	}
	met := true
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		kind, rest, _ := strings.Cut(part, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToLower(kind) {
		case "feature":
			if rest == "" {
				return errFmt("feature needs a name")
			}
			met = false
		case "version":
			ok, err := versionSatisfied(rest)
			if err != nil {
				return err
			}
			met = met && ok
		default:
			return errFmt("unknown requirement %q (want feature or version)", part)
		}
	}
	if !met {
		return errRequiresUnmet
	}
	return nil
}

// versionSatisfied evaluates "OP X[.Y[.Z]]" terms, all of which must hold
// ("version >= 7 < 9").
func versionSatisfied(s string) (bool, error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f)%2 != 0 {
		// allow "OPX.Y" without a space
		f = nil
		for _, t := range strings.Fields(s) {
			i := strings.IndexAny(t, "0123456789")
			if i > 0 {
				f = append(f, t[:i], t[i:])
			} else {
				f = append(f, t)
			}
		}
		if len(f) == 0 || len(f)%2 != 0 {
			return false, errFmt("invalid version requirement %q (want OP X.Y.Z)", s)
		}
	}
	ok := true
	for i := 0; i < len(f); i += 2 {
		var want [3]int
		for j, c := range strings.SplitN(f[i+1], ".", 3) {
			n, err := strconv.Atoi(c)
			if err != nil || n < 0 {
				return false, errFmt("invalid version %q", f[i+1])
			}
			want[j] = n
		}
		c := 0
		for j := 0; j < 3 && c == 0; j++ {
			switch {
			case SuricataVersion[j] < want[j]:
				c = -1
			case SuricataVersion[j] > want[j]:
				c = 1
			}
		}
		switch f[i] {
		case ">=":
			ok = ok && c >= 0
		case ">":
			ok = ok && c > 0
		case "<=":
			ok = ok && c <= 0
		case "<":
			ok = ok && c < 0
		case "=", "==":
			ok = ok && c == 0
		default:
			return false, errFmt("invalid version operator %q", f[i])
		}
	}
	return ok, nil
}

func init() {
	register(&keyword{name: "requires", setup: setupRequires})
}
