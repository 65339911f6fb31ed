package profiles

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// LoadOptions say where a configuration comes from. Layers, later ones
// winning: the built-in profile < File < Environ (VIGIL_*) < Sets.
type LoadOptions struct {
	// Profile is the built-in profile to start from. Empty: the profile
	// key of the Sets, Environ or File, else pcap-offline.
	Profile string
	// File is a vigil.yaml or a suricata.yaml (IsSuricataYAML tells them
	// apart; a suricata.yaml is mapped by FromSuricata's rules).
	File string
	// Sets are "key=value" overrides with dotted keys. A value starting
	// with '[' or '{' is YAML ("[eth1, eth2]"); a list may also be given
	// as "eth1,eth2". With a suricata.yaml the keys are Suricata's and
	// apply to that file before it is mapped (--set stream.inline=yes);
	// so do they when there is neither File nor Profile and one of them
	// is not a Vigil key (Suricata's command line without -c, as
	// suricata-verify runs it).
	Sets []string
	// Environ is the environment ("NAME=value", as os.Environ gives it).
	// Only VIGIL_* variables are read; each names a key (see EnvName).
	Environ []string
	// Machine is what auto values are sized for; nil reads this machine.
	Machine *Machine
}

// DefaultProfile is the profile used when none is named.
const DefaultProfile = "pcap-offline"

// layer is one source of raw values, before merging.
type layer struct {
	data  map[string]any
	pos   func(key string) (string, int) // origin of a key, for errors
	order func(key string) []string      // map keys in file order (nil: sorted)
}

func (l *layer) check() error {
	order := l.order
	if order == nil {
		order = func(string) []string { return nil }
	}
	return checkLayer(l.data, l.pos, order)
}

// Load builds a configuration from its layers, resolves auto values for
// the machine and validates the result. Errors name the layer (file and
// line, variable, or --set) and the key.
func Load(opts LoadOptions) (*Config, error) { return load(opts, nil) }

// load is Load; a non-nil tree is a suricata.yaml already read, with its
// --set overrides applied (FromSuricata).
func load(opts LoadOptions, tree *Tree) (*Config, error) {
	var m Machine
	if opts.Machine != nil {
		m = *opts.Machine
	} else {
		var err error
		if m, err = ThisMachine(); err != nil {
			return nil, err
		}
	}
	env, err := envLayer(opts.Environ)
	if err != nil {
		return nil, err
	}

	// The file (or Suricata-style --set keys) as a layer of Vigil keys.
	var file, sets *layer
	where := "" // origin of a suricata.yaml's keys in errors
	switch {
	case tree != nil:
		opts.Sets = nil
	case opts.File != "" && IsSuricataYAML(opts.File):
		if tree, err = LoadFile(opts.File); err != nil {
			return nil, err
		}
		where = opts.File
	case opts.File != "":
		if file, err = fileLayer(opts.File); err != nil {
			return nil, err
		}
	case opts.Profile == "" && !allVigilKeys(opts.Sets):
		tree = NewTree()
		where = "--set"
	}
	if tree != nil {
		for _, kv := range opts.Sets { // Suricata keys, on the file
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("--set %q: expected key=value", kv)
			}
			if err := tree.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
				return nil, err
			}
		}
	} else if sets, err = setLayer(opts.Sets); err != nil {
		return nil, err
	}

	name, from := opts.Profile, "--profile"
	for _, l := range []*layer{sets, env, file} {
		if name == "" && l != nil {
			if p, ok := l.data["profile"].(string); ok && p != "" {
				name = p
				from, _ = l.pos("profile")
			}
		}
	}
	if name == "" {
		name = DefaultProfile
	}
	base, over, err := profileLayers(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}

	var ignored []string
	if tree != nil {
		backend := "pcap"
		for _, l := range []*layer{env, over, base} {
			if l == nil {
				continue
			}
			if c, ok := l.data["capture"].(map[string]any); ok {
				if b, ok := c["backend"].(string); ok {
					backend = b
					break
				}
			}
		}
		if file, ignored, err = suricataLayer(tree, backend, where); err != nil {
			return nil, err
		}
		// A suricata.yaml's vars are the whole story, as in Suricata:
		// the engine's built-in defaults fill in the rest.
		for _, l := range []*layer{base, over} {
			if l != nil {
				if d, ok := l.data["detect"].(map[string]any); ok {
					delete(d, "vars")
				}
			}
		}
	}

	layers := []*layer{base, over, file, env, sets}
	var errs []error
	for _, l := range layers {
		if l != nil {
			if err := l.check(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	v := viper.New()
	for _, l := range []*layer{base, over, file} {
		if l != nil {
			if err := v.MergeConfigMap(deepCopy(l.data).(map[string]any)); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range []*layer{env, sets} {
		if l == nil {
			continue
		}
		for _, kv := range flatten("", l.data) {
			v.Set(kv.key, kv.value)
		}
	}
	cfg := &Config{}
	err = v.UnmarshalExact(cfg, viper.DecodeHook(mapstructure.DecodeHookFuncType(decodeHook)),
		func(dc *mapstructure.DecoderConfig) { dc.WeaklyTypedInput = false })
	if err != nil {
		return nil, decodeError(err)
	}
	restoreNames(cfg, layers)
	normalize(reflect.ValueOf(cfg).Elem())
	cfg.Profile = name
	cfg.Ignored = ignored
	cfg.SuricataFile = tree != nil
	if err := cfg.resolve(m); err != nil {
		return nil, configError(opts.File, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, configError(opts.File, err)
	}
	return cfg, nil
}

func configError(file string, err error) error {
	if file == "" {
		return err
	}
	return fmt.Errorf("%s: %w", file, err)
}

// decodeError rewrites a mapstructure error as "key: problem".
func decodeError(err error) error {
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		return fmt.Errorf("%s: %v", de.Name(), de.Unwrap())
	}
	return err
}

// allVigilKeys says whether every --set names a Vigil key.
func allVigilKeys(sets []string) bool {
	for _, kv := range sets {
		k, _, _ := strings.Cut(kv, "=")
		n := schema().lookup(strings.TrimSpace(k))
		if n == nil || n.kind == kindSection || n.kind == kindList {
			return false
		}
	}
	return true
}

// setLayer reads --set key=value pairs.
func setLayer(sets []string) (*layer, error) {
	l := &layer{data: map[string]any{}}
	origin := map[string]string{}
	for _, kv := range sets {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: expected key=value", kv)
		}
		k = strings.TrimSpace(k)
		if k == "" || strings.Contains(k, "..") || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
			return nil, fmt.Errorf("--set %q: empty key part", kv)
		}
		value, err := parseValue(k, strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("--set %s: %w", k, err)
		}
		putPath(l.data, k, value)
		origin[k] = "--set " + k
	}
	l.pos = func(key string) (string, int) {
		if o, ok := origin[key]; ok {
			return o, 0
		}
		for k, o := range origin { // a key below or above the one at fault
			if strings.HasPrefix(k, key+".") || strings.HasPrefix(key, k+".") {
				return o, 0
			}
		}
		return "--set", 0
	}
	return l, nil
}

// envLayer reads the VIGIL_* variables of an environment.
func envLayer(environ []string) (*layer, error) {
	l := &layer{data: map[string]any{}}
	origin := map[string]string{}
	var names []string
	values := map[string]string{}
	for _, e := range environ {
		name, val, ok := strings.Cut(e, "=")
		if !ok || !strings.HasPrefix(name, "VIGIL_") {
			continue
		}
		names = append(names, name)
		values[name] = val
	}
	if len(names) == 0 {
		return nil, nil
	}
	sort.Strings(names)
	for _, name := range names {
		key, err := envKey(name)
		if err != nil {
			return nil, err
		}
		value, err := parseValue(key, strings.TrimSpace(values[name]))
		if err != nil {
			return nil, fmt.Errorf("environment: %s: %w", name, err)
		}
		putPath(l.data, key, value)
		origin[key] = "environment " + name
	}
	l.pos = func(key string) (string, int) {
		if o, ok := origin[key]; ok {
			return o, 0
		}
		return "environment", 0
	}
	return l, nil
}

// parseValue reads a --set or environment value for a key: for a list or
// map key, YAML when it starts with '[' or '{' ("[eth1, eth2]"); else the
// string itself (a rule variable "[10.0.0.0/8]" stays a string).
func parseValue(key, s string) (any, error) {
	n := schema().lookup(key)
	structured := n != nil && (n.kind != kindLeaf || n.typ == typeStrings || n.typ == typeCommand || n.typ == typeCPUList)
	if structured && (strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{")) {
		var v any
		if err := yaml.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("%q is not a YAML list or map: %v", s, err)
		}
		return normalizeYAML(v), nil
	}
	return s, nil
}

// putPath stores v at a dotted key, making maps on the way (and replacing
// a value that stands where a map must go).
func putPath(m map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

type keyValue struct {
	key   string
	value any
}

// flatten lists the leaves of a nested map as dotted keys.
func flatten(prefix string, m map[string]any) []keyValue {
	var out []keyValue
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := join(prefix, k)
		if sub, ok := m[k].(map[string]any); ok && len(sub) > 0 {
			out = append(out, flatten(key, sub)...)
			continue
		}
		out = append(out, keyValue{key, m[k]})
	}
	return out
}

// yamlDoc is a parsed YAML file with its key positions.
type yamlDoc struct {
	name  string
	data  map[string]any
	lines map[string]int      // dotted key -> line
	order map[string][]string // dotted key of a map -> its keys in order
}

// parseYAMLDoc parses a YAML document whose root is a map.
func parseYAMLDoc(name string, src []byte) (*yamlDoc, error) {
	d := &yamlDoc{name: name, data: map[string]any{}, lines: map[string]int{}, order: map[string][]string{}}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(root.Content) == 0 {
		return d, nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the file must be a map of keys", name, top.Line)
	}
	d.index("", top)
	var v any
	if err := top.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	d.data, _ = normalizeYAML(v).(map[string]any)
	return d, nil
}

func (d *yamlDoc) index(prefix string, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			key := join(prefix, k.Value)
			d.lines[key] = k.Line
			d.order[prefix] = append(d.order[prefix], k.Value)
			d.index(key, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			key := join(prefix, fmt.Sprint(i))
			d.lines[key] = e.Line
			d.index(key, e)
		}
	}
}

func (d *yamlDoc) layer() *layer {
	return &layer{
		data: d.data,
		pos: func(key string) (string, int) {
			for k := key; k != ""; {
				if line, ok := d.lines[k]; ok {
					return fmt.Sprintf("%s:%d", d.name, line), line
				}
				i := strings.LastIndexByte(k, '.')
				if i < 0 {
					break
				}
				k = k[:i]
			}
			return d.name, 0
		},
		order: func(key string) []string { return d.order[key] },
	}
}

// fileLayer reads a vigil.yaml.
func fileLayer(path string) (*layer, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := parseYAMLDoc(path, src)
	if err != nil {
		return nil, err
	}
	return d.layer(), nil
}

// normalizeYAML turns map[any]any (non-string YAML keys) into
// map[string]any, recursively.
func normalizeYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeYAML(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalizeYAML(e)
		}
		return x
	}
	return v
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// restoreNames gives the names of free-form maps (rule variables) back
// the case they were written in: viper folds keys to lower case, rule
// variables are case-sensitive.
func restoreNames(cfg *Config, layers []*layer) {
	root := reflect.ValueOf(cfg).Elem()
	for _, k := range Keys() {
		n := schema().lookup(k)
		if n.kind != kindMap {
			continue
		}
		names := map[string]string{}
		for _, l := range layers {
			if l == nil {
				continue
			}
			if sub, ok := getPath(l.data, k).(map[string]any); ok {
				for name := range sub {
					names[strings.ToLower(name)] = name
				}
			}
		}
		f := fieldByKey(root, k)
		if !f.IsValid() || f.Len() == 0 {
			continue
		}
		out := reflect.MakeMapWithSize(f.Type(), f.Len())
		it := f.MapRange()
		for it.Next() {
			name := it.Key().String()
			if orig, ok := names[name]; ok {
				name = orig
			}
			out.SetMapIndex(reflect.ValueOf(name).Convert(f.Type().Key()), it.Value())
		}
		f.Set(out)
	}
}

// getPath returns the value at a dotted key of a nested map.
func getPath(m map[string]any, key string) any {
	var cur any = m
	for _, p := range strings.Split(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// fieldByKey finds the struct field of a dotted key (sections only).
func fieldByKey(root reflect.Value, key string) reflect.Value {
	v := root
	n := schema()
	for _, p := range strings.Split(key, ".") {
		c, ok := n.children[p]
		if !ok || v.Kind() != reflect.Struct {
			return reflect.Value{}
		}
		v = v.Field(c.index[0])
		n = c
	}
	return v
}

// normalize replaces nil slices and maps by empty ones, so that a loaded
// Config compares equal however its lists were written.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := 0; i < v.Len(); i++ {
			normalize(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		it := v.MapRange()
		for it.Next() {
			if e := it.Value(); e.Kind() == reflect.Slice && e.IsNil() {
				v.SetMapIndex(it.Key(), reflect.MakeSlice(e.Type(), 0, 0))
			}
		}
	}
}
