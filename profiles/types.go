package profiles

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes. In YAML it is written as Suricata writes sizes
// ("64mb", "1 GiB", "512kb", or a plain number of bytes). Where a key's
// comment says so, "auto" is accepted and Load replaces it by a value
// computed from the Machine (see Machine for the formulas); a loaded Config
// holds no AutoSize.
type Size uint64

// AutoSize is the value "auto" of a Size before Load resolves it.
const AutoSize Size = math.MaxUint64

// Bytes returns the size as a byte count.
func (s Size) Bytes() uint64 { return uint64(s) }

// String writes the size in the largest unit that divides it exactly
// ("64mb", "1gb", "1500"), or "auto".
func (s Size) String() string {
	if s == AutoSize {
		return "auto"
	}
	n := uint64(s)
	for _, u := range []struct {
		suf string
		m   uint64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatUint(n/u.m, 10) + u.suf
		}
	}
	return strconv.FormatUint(n, 10)
}

// Count is a number that may be "auto" where a key's comment says so (worker
// counts, ring and descriptor counts); Load resolves it from the Machine.
type Count int

// AutoCount is the value "auto" of a Count before Load resolves it.
const AutoCount Count = -1

// String gives the number, or "auto".
func (c Count) String() string {
	if c == AutoCount {
		return "auto"
	}
	return strconv.Itoa(int(c))
}

// CPUList is a set of CPUs as Linux writes them: "0", "1-7", "0,2,4-6",
// or "all"; "auto" before Load resolves it from the Machine. A loaded
// Config holds a concrete list ("all" is expanded).
type CPUList string

// CPUs returns the CPU numbers of the list, ascending, without repeats.
// "all" and "auto" have no numbers here (Load expands them).
func (l CPUList) CPUs() ([]int, error) {
	s := strings.TrimSpace(string(l))
	if s == "" {
		return nil, fmt.Errorf("empty CPU list")
	}
	var seen [maxCPUs]bool
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a CPU list (like 0 or 1-7 or 0,2,4-6)", string(l))
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
			if err != nil || b < a {
				return nil, fmt.Errorf("%q is not a CPU list (like 0 or 1-7 or 0,2,4-6)", string(l))
			}
		}
		if b >= maxCPUs {
			return nil, fmt.Errorf("%q: CPU %d is beyond the %d CPUs Linux supports", string(l), b, maxCPUs)
		}
		for c := a; c <= b; c++ {
			seen[c] = true
		}
	}
	var out []int
	for c, ok := range seen {
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// maxCPUs is Linux's largest CONFIG_NR_CPUS.
const maxCPUs = 8192

// formatCPUs writes CPU numbers (ascending) as a list with ranges: "0,2-5".
func formatCPUs(cpus []int) CPUList {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return CPUList(b.String())
}

// cpuRange is the list lo-hi.
func cpuRange(lo, hi int) CPUList {
	if lo == hi {
		return CPUList(strconv.Itoa(lo))
	}
	return CPUList(fmt.Sprintf("%d-%d", lo, hi))
}

// formatDuration writes a duration in seconds when it is whole seconds
// ("30s", "0s"), else in Go's notation ("20µs" is written "20us").
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strings.ReplaceAll(d.String(), "µ", "u")
}

var (
	typeSize     = reflect.TypeOf(Size(0))
	typeCount    = reflect.TypeOf(Count(0))
	typeCPUList  = reflect.TypeOf(CPUList(""))
	typeDuration = reflect.TypeOf(time.Duration(0))
	typeStrings  = reflect.TypeOf([]string(nil))
	typeCommand  = reflect.TypeOf(Command(nil))
)

// scalarString gives a YAML scalar (string, number, bool) as text; ok is
// false for maps and lists.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		if x {
			return "yes", true
		}
		return "no", true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// isLeafType says whether convertLeaf decodes values of type t (everything
// a key can hold except sections, lists of sections and free-form maps).
func isLeafType(t reflect.Type) bool {
	switch t {
	case typeSize, typeCount, typeCPUList, typeDuration, typeStrings, typeCommand:
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Int, reflect.Uint32, reflect.Float64:
		return true
	}
	return false
}

// convertLeaf turns a raw value (from YAML, an environment variable or
// --set) into a value of type t. The error says what the value should look
// like; the caller adds the key.
func convertLeaf(t reflect.Type, v any) (any, error) {
	switch t {
	case typeStrings:
		return toStrings(v)
	case typeCommand:
		if s, ok := v.(string); ok {
			if strings.TrimSpace(s) == "" {
				return Command{}, nil
			}
			return Command{"/bin/sh", "-c", s}, nil
		}
		l, err := toStrings(v)
		return Command(l), err
	case typeSize:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s is not a size (like 64mb)", describe(v))
		}
		if strings.EqualFold(strings.TrimSpace(s), "auto") {
			return AutoSize, nil
		}
		n, err := ParseSize(s)
		if err != nil {
			return nil, err
		}
		if n == uint64(AutoSize) {
			return nil, fmt.Errorf("%q is too large", s)
		}
		return Size(n), nil
	case typeCount:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s is not a number or auto", describe(v))
		}
		s = strings.TrimSpace(s)
		if strings.EqualFold(s, "auto") {
			return AutoCount, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a number or auto", s)
		}
		return Count(n), nil
	case typeCPUList:
		switch x := v.(type) {
		case []any: // Suricata style: [ 0, "2-3" ]
			parts := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := scalarString(e)
				if !ok {
					return nil, fmt.Errorf("%s is not a CPU list", describe(v))
				}
				parts = append(parts, strings.TrimSpace(s))
			}
			v = strings.Join(parts, ",")
		}
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s is not a CPU list (like 1-7)", describe(v))
		}
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "auto" || s == "all" {
			return CPUList(s), nil
		}
		if _, err := CPUList(s).CPUs(); err != nil {
			return nil, err
		}
		return CPUList(s), nil
	case typeDuration:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s is not a duration (like 30s)", describe(v))
		}
		return parseDuration(s)
	}
	switch t.Kind() {
	case reflect.Bool:
		s, ok := scalarString(v)
		if ok {
			if b, ok := ParseBool(s); ok {
				return b, nil
			}
		}
		return nil, fmt.Errorf("%s is not a boolean (yes or no)", describe(v))
	case reflect.String:
		if v == nil {
			return "", nil
		}
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s is not a single value", describe(v))
		}
		return reflect.ValueOf(s).Convert(t).Interface(), nil
	case reflect.Int:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s is not an integer", describe(v))
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return reflect.ValueOf(n).Convert(t).Interface(), nil
	case reflect.Uint32:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s is not a 32-bit number", describe(v))
		}
		n, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a 32-bit number (decimal or 0x hex)", s)
		}
		return reflect.ValueOf(uint32(n)).Convert(t).Interface(), nil
	case reflect.Float64:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s is not a number", describe(v))
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	}
	return nil, fmt.Errorf("no conversion to %v", t)
}

// parseDuration reads "30s", "1m30s", "500ms", "20us", or a bare number of
// seconds ("60", as Suricata writes timeouts).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > float64(math.MaxInt64/int64(time.Second)) {
			return 0, fmt.Errorf("%q is not a duration (like 30s)", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (like 30s)", s)
	}
	return d, nil
}

// toStrings reads a list of names: a YAML list of scalars, or one string
// with comma-separated entries ("eth1,eth2"); null is the empty list.
func toStrings(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return []string{}, nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := scalarString(e)
			if !ok {
				return nil, fmt.Errorf("list entry %s is not a single value", describe(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalarString(v)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", describe(v))
	}
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// describe names a raw value in an error message.
func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a section (map)"
	case []any:
		return "a list"
	case nil:
		return "an empty value"
	}
	s, _ := scalarString(v)
	return strconv.Quote(s)
}

// decodeHook is the mapstructure hook viper decodes with: every leaf type
// goes through convertLeaf, so that a file, an environment variable and a
// --set value are read the same way.
func decodeHook(from, to reflect.Type, data any) (any, error) {
	if !isLeafType(to) {
		return data, nil
	}
	if data == nil && to.Kind() != reflect.Slice && to.Kind() != reflect.String {
		return data, nil
	}
	return convertLeaf(to, data)
}
