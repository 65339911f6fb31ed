// Package profiles is Vigil's configuration: the schema (Config), its
// loading with viper from layers (a built-in profile < a vigil.yaml <
// VIGIL_* environment variables < --set), the built-in profiles sized for
// the machine they run on (Profiles, ProfileYAML), and the mapping of a
// Suricata suricata.yaml onto the schema (IsSuricataYAML, FromSuricata).
//
// Load is the entry point. Unknown keys are errors naming the closest
// valid key, with the file and line; bad values name the key and the
// value. (*Config).Settings gives the typed values the engine wiring
// reads. Tree is a raw YAML document, as a suricata.yaml is read (with its
// include: files and --set overrides) before it is mapped.
package profiles

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Tree is a configuration document: nested maps (string keys), lists and
// scalar strings, as YAML gives them.
type Tree struct {
	root map[string]any
	// File is the main file the tree was loaded from ("" for none).
	File string
}

// NewTree returns an empty configuration.
func NewTree() *Tree { return &Tree{root: map[string]any{}} }

// maxIncludeDepth bounds include: chains (a file including itself).
const maxIncludeDepth = 8

// LoadFile reads a YAML configuration file. Top-level `include:` entries
// (a file name or a list of them, relative to the including file) are
// merged in first; keys of the including file win.
func LoadFile(path string) (*Tree, error) {
	root, err := loadYAML(path, 0)
	if err != nil {
		return nil, err
	}
	return &Tree{root: root, File: path}, nil
}

func loadYAML(path string, depth int) (map[string]any, error) {
	if depth > maxIncludeDepth {
		return nil, fmt.Errorf("%s: include nesting deeper than %d", path, maxIncludeDepth)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc := map[string]any{}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	if doc == nil {
		doc = map[string]any{}
	}
	inc, ok := doc["include"]
	if !ok {
		return doc, nil
	}
	delete(doc, "include")
	var files []string
	switch v := inc.(type) {
	case string:
		files = []string{v}
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s: include: expected file names, found %T", path, x)
			}
			files = append(files, s)
		}
	default:
		return nil, fmt.Errorf("%s: include: expected a file name or a list, found %T", path, inc)
	}
	merged := map[string]any{}
	for _, f := range files {
		if !filepath.IsAbs(f) {
			f = filepath.Join(filepath.Dir(path), f)
		}
		sub, err := loadYAML(f, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s: include: %w", path, err)
		}
		mergeInto(merged, sub)
	}
	mergeInto(merged, doc)
	return merged, nil
}

// mergeInto copies src over dst, merging nested maps.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// Get returns the value at a dotted path ("outputs.1.eve-log.filename");
// numeric parts index lists.
func (t *Tree) Get(path string) (any, bool) {
	var cur any = t.root
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Set stores a scalar at a dotted path, creating maps on the way, as
// Suricata's --set does. A numeric part indexes an existing list.
func (t *Tree) Set(path, value string) error {
	parts := strings.Split(path, ".")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("--set %s: empty key part", path)
		}
	}
	var cur any = t.root
	for i, part := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[part] = value
				return nil
			}
			next, ok := c[part]
			if !ok || next == nil {
				// A numeric next part under a missing key cannot be a list
				// we know the shape of: make a map, as Suricata's conf tree does.
				next = map[string]any{}
				c[part] = next
			}
			if _, isScalar := next.(string); isScalar {
				next = map[string]any{}
				c[part] = next
			}
			cur = next
		case []any:
			idx, err := strconv.Atoi(part)
			if err != nil || idx < 0 || idx >= len(c) {
				return fmt.Errorf("--set %s: %q is not an index of the list at that key", path, part)
			}
			if last {
				c[idx] = value
				return nil
			}
			cur = c[idx]
		default:
			return fmt.Errorf("--set %s: key %q is below a value that is not a map", path, strings.Join(parts[:i], "."))
		}
	}
	return nil
}

// String returns the scalar at path as a string.
func (t *Tree) String(path string) (string, bool) {
	v, ok := t.Get(path)
	if !ok || v == nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case int, int64, float64, bool:
		return fmt.Sprint(x), true
	}
	return "", false
}

// Bool returns the boolean at path (yes/no, true/false, on/off, 1/0), or def
// when the key is absent. A value that is not a boolean is an error.
func (t *Tree) Bool(path string, def bool) (bool, error) {
	s, ok := t.String(path)
	if !ok {
		return def, nil
	}
	b, ok := ParseBool(s)
	if !ok {
		return def, fmt.Errorf("%s: %q is not a boolean (yes/no)", path, s)
	}
	return b, nil
}

// Int returns the integer at path, or def when absent.
func (t *Tree) Int(path string, def int) (int, error) {
	s, ok := t.String(path)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def, fmt.Errorf("%s: %q is not an integer", path, s)
	}
	return n, nil
}

// Map returns the map at path.
func (t *Tree) Map(path string) (map[string]any, bool) {
	v, ok := t.Get(path)
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// List returns the list at path.
func (t *Tree) List(path string) ([]any, bool) {
	v, ok := t.Get(path)
	if !ok {
		return nil, false
	}
	l, ok := v.([]any)
	return l, ok
}

// ParseBool reads YAML 1.1 style booleans as Suricata does.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "on", "1", "y":
		return true, true
	case "no", "false", "off", "0", "n":
		return false, true
	}
	return false, false
}
