package profiles

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// schemaKind says what a key holds.
type schemaKind uint8

const (
	kindLeaf    schemaKind = iota // one value (convertLeaf)
	kindSection                   // a struct: fixed child keys
	kindMap                       // free-form names to leaf values (vars, host-os-policy)
	kindList                      // a list of sections (outputs.pipes)
)

// schemaNode is one key of the Config schema.
type schemaNode struct {
	key      string // dotted, "" for the root
	kind     schemaKind
	typ      reflect.Type
	children map[string]*schemaNode // kindSection
	order    []string               // children in struct order
	elem     *schemaNode            // kindMap: the value; kindList: the section
	index    []int                  // field index in the parent struct
}

// schema is the Config key tree, built once from the struct tags.
var schema = sync.OnceValue(func() *schemaNode {
	return buildSchema("", reflect.TypeOf(Config{}), nil)
})

func buildSchema(key string, t reflect.Type, index []int) *schemaNode {
	n := &schemaNode{key: key, typ: t, index: index}
	switch {
	case isLeafType(t):
		n.kind = kindLeaf
	case t.Kind() == reflect.Struct:
		n.kind = kindSection
		n.children = map[string]*schemaNode{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			n.children[tag] = buildSchema(join(key, tag), f.Type, []int{i})
			n.order = append(n.order, tag)
		}
	case t.Kind() == reflect.Map:
		n.kind = kindMap
		n.elem = buildSchema(join(key, "<name>"), t.Elem(), nil)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		n.kind = kindList
		n.elem = buildSchema(key, t.Elem(), nil)
	default:
		panic(fmt.Sprintf("profiles: schema key %s: type %v has no decoding", key, t))
	}
	return n
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// lookup finds the schema node of a dotted key; names of free-form maps
// and list indices match anything.
func (n *schemaNode) lookup(key string) *schemaNode {
	cur := n
	for _, part := range strings.Split(key, ".") {
		switch cur.kind {
		case kindSection:
			c, ok := cur.children[part]
			if !ok {
				return nil
			}
			cur = c
		case kindMap:
			cur = cur.elem
		case kindList:
			if _, err := strconv.Atoi(part); err != nil {
				return nil
			}
			cur = cur.elem
		default:
			return nil
		}
	}
	return cur
}

// leafKeys lists every settable key below n in struct order: leaves, free
// maps (as the map key) and lists of sections (as the list key).
func (n *schemaNode) leafKeys() []string {
	var out []string
	var walk func(*schemaNode)
	walk = func(s *schemaNode) {
		if s.kind != kindSection {
			out = append(out, s.key)
			return
		}
		for _, name := range s.order {
			walk(s.children[name])
		}
	}
	walk(n)
	return out
}

// Keys returns every key of the schema, dotted, in the order of the
// default configuration: the keys a vigil.yaml, VIGIL_* variable or --set
// may name. A free-form map (detect.vars.address-groups, host-os-policy)
// and the list outputs.pipes appear once, under their own key.
func Keys() []string { return schema().leafKeys() }

// EnvName is the environment variable of a key: VIGIL_ and the key in
// upper case with '.' and '-' as '_' (stream.reassembly.memcap is
// VIGIL_STREAM_REASSEMBLY_MEMCAP). A name in a free-form map follows its
// map's variable as it is: VIGIL_DETECT_VARS_ADDRESS_GROUPS_HOME_NET.
func EnvName(key string) string {
	return "VIGIL_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

type envTable struct {
	leaves map[string]string // variable -> key
	maps   []string          // keys of free-form maps, longest variable first
}

// envKeys maps variable names back to keys. Since '_' stands for '.', '-'
// and '_', a variable is resolved against the known keys; the schema has
// no two keys with one variable (TestEnvNamesUnique).
var envKeys = sync.OnceValue(func() envTable {
	t := envTable{leaves: map[string]string{}}
	for _, k := range Keys() {
		n := schema().lookup(k)
		if n.kind == kindList {
			continue // a list of sections is not one value
		}
		t.leaves[EnvName(k)] = k
		if n.kind == kindMap {
			t.maps = append(t.maps, k)
		}
	}
	sort.Slice(t.maps, func(i, j int) bool { return len(t.maps[i]) > len(t.maps[j]) })
	return t
})

// envKey resolves one VIGIL_* variable to a key.
func envKey(name string) (string, error) {
	t := envKeys()
	if k, ok := t.leaves[name]; ok {
		if schema().lookup(k).kind == kindMap {
			return "", fmt.Errorf("environment: %s: set one name of %s at a time (%s_NAME)", name, k, name)
		}
		return k, nil
	}
	for _, m := range t.maps {
		prefix := EnvName(m) + "_"
		if rest, ok := strings.CutPrefix(name, prefix); ok && rest != "" {
			return m + "." + rest, nil
		}
	}
	best, _ := closest(name, mapKeys(t.leaves))
	return "", fmt.Errorf("environment: unknown variable %s (did you mean %s?)", name, best)
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// levenshtein is the edit distance of two strings (bytes).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// closest returns the candidate nearest to s by edit distance (the first
// of equals, candidates being in a stable order).
func closest(s string, candidates []string) (string, int) {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := levenshtein(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

// suggest names the valid key closest to an unknown one. A key whose last
// part is right but which sits in the wrong section ("threshold-file" for
// "detect.threshold-file") is found by its ending; otherwise the nearest
// key by edit distance wins, among the keys of the section it is in and
// among all keys.
func suggest(unknown string, section *schemaNode, sectionPrefix string) string {
	all := Keys()
	for _, k := range all {
		if strings.HasSuffix(k, "."+unknown) {
			return k
		}
	}
	var local []string
	for _, k := range section.leafKeys() {
		local = append(local, sectionPrefix+strings.TrimPrefix(k, section.key+"."))
	}
	if section.key == "" {
		local = nil
	}
	best, d := closest(unknown, all)
	if l, ld := closest(unknown, local); l != "" && ld <= d {
		best = l
	}
	return best
}

// firstLeaf extends a key to the first leaf below its value, as the value
// appears in the file ("reasembly" holding {depth: 1mb} gives
// "reasembly.depth").
func firstLeaf(key string, v any, order func(string) []string) string {
	for {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			return key
		}
		keys := order(key)
		if len(keys) == 0 {
			keys = make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
		}
		k := keys[0]
		key, v = key+"."+k, m[k]
	}
}

// layerError is one problem of a layer, with the position it came from.
type layerError struct {
	where string // "vigil.yaml:12", "--set stream.memcap", ...
	line  int
	msg   string
}

// checkLayer walks one layer's raw values against the schema: unknown
// keys are errors naming the closest valid key, and every value must
// convert to its key's type. pos names a key's origin ("vigil.yaml:12")
// and gives its line (0 when unknown); order gives a map's keys in file
// order. All problems are returned, in file order.
func checkLayer(data map[string]any, pos func(key string) (string, int), order func(key string) []string) error {
	var errs []layerError
	add := func(key, msg string) {
		w, line := pos(key)
		errs = append(errs, layerError{where: w, line: line, msg: msg})
	}
	var walk func(n *schemaNode, prefix string, m map[string]any)
	walk = func(n *schemaNode, prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := m[k]
			key := join(prefix, k)
			c, ok := n.children[k]
			if !ok {
				full := firstLeaf(key, v, order)
				add(key, fmt.Sprintf("unknown key %q (did you mean %q?)", full, suggest(full, n, join(prefix, ""))))
				continue
			}
			checkValue(c, key, v, walk, add)
		}
	}
	walk(schema(), "", data)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].line < errs[j].line })
	var out []error
	for _, e := range errs {
		out = append(out, fmt.Errorf("%s: %s", e.where, e.msg))
	}
	return errors.Join(out...)
}

func checkValue(c *schemaNode, key string, v any, walk func(*schemaNode, string, map[string]any), add func(key, msg string)) {
	switch c.kind {
	case kindSection:
		switch sub := v.(type) {
		case map[string]any:
			walk(c, key, sub)
		case nil:
		default:
			add(key, fmt.Sprintf("%s: %s where a section is expected (keys: %s)", key, describe(v), strings.Join(c.order, ", ")))
		}
	case kindMap:
		switch sub := v.(type) {
		case map[string]any:
			for name, ev := range sub {
				if _, err := convertLeaf(c.elem.typ, ev); err != nil {
					add(key+"."+name, fmt.Sprintf("%s.%s: %v", key, name, err))
				}
			}
		case nil:
		default:
			add(key, fmt.Sprintf("%s: %s where a map of names is expected", key, describe(v)))
		}
	case kindList:
		switch sub := v.(type) {
		case []any:
			for i, e := range sub {
				ek := fmt.Sprintf("%s.%d", key, i)
				em, ok := e.(map[string]any)
				if !ok {
					add(ek, fmt.Sprintf("%s: %s where a section is expected", ek, describe(e)))
					continue
				}
				walk(c.elem, ek, em)
			}
		case nil:
		default:
			add(key, fmt.Sprintf("%s: %s where a list of sections is expected", key, describe(v)))
		}
	default:
		if _, err := convertLeaf(c.typ, v); err != nil {
			add(key, fmt.Sprintf("%s: %v", key, err))
		}
	}
}
