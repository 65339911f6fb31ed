package profiles

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// YAML writes the configuration as a complete vigil.yaml: every key, in
// the order and with the comments of the default configuration.
func (c *Config) YAML() ([]byte, error) {
	return c.yaml(fmt.Sprintf("Vigil configuration (profile %s, sized for %s).", c.Profile, c.Machine))
}

func (c *Config) yaml(header string) ([]byte, error) {
	var tmpl yaml.Node
	src, err := builtinFS.ReadFile("builtin/" + DefaultProfile + ".yaml")
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(src, &tmpl); err != nil {
		return nil, err
	}
	body := render(reflect.ValueOf(c).Elem(), schema(), tmpl.Content[0])
	head := commentBlock(header)
	// Keep the template's explanation after its first paragraph.
	if _, rest, ok := strings.Cut(tmpl.HeadComment, "\n#\n"); ok {
		head += "\n#\n" + rest
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: head, Content: []*yaml.Node{body}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return spaceSections(buf.Bytes()), nil
}

// spaceSections puts a blank line before each top-level key (and the
// comment above it), as a hand-written file has.
func spaceSections(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	out := make([]string, 0, len(lines)+64)
	body := false // past the file's head comment
	for i, l := range lines {
		top := l != "" && l[0] != ' ' && l[0] != '-'
		if top && !strings.HasPrefix(l, "#") {
			// A top-level key: space it, and the comment block right above it.
			j := len(out)
			for j > 0 && strings.HasPrefix(out[j-1], "#") && body {
				j--
			}
			if body && j > 0 && out[j-1] != "" {
				out = append(out[:j], append([]string{""}, out[j:]...)...)
			}
			body = true
		}
		if !body && i > 0 && l != "" && !strings.HasPrefix(l, "#") {
			body = true
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}

func commentBlock(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = "#"
		} else {
			lines[i] = "# " + l
		}
	}
	return strings.Join(lines, "\n")
}

// render builds the YAML node of value v (schema node n), keeping the
// key order and comments of the template node t where it has the key.
func render(v reflect.Value, n *schemaNode, t *yaml.Node) *yaml.Node {
	switch n.kind {
	case kindSection:
		out := &yaml.Node{Kind: yaml.MappingNode}
		keyNodes, valNodes := templatePairs(t)
		var order []string
		seen := map[string]bool{}
		if t != nil && t.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(t.Content); i += 2 {
				if k := t.Content[i].Value; n.children[k] != nil {
					order = append(order, k)
					seen[k] = true
				}
			}
		}
		for _, k := range n.order {
			if !seen[k] {
				order = append(order, k)
			}
		}
		for _, k := range order {
			c := n.children[k]
			kn := &yaml.Node{Kind: yaml.ScalarNode, Value: k}
			if tk := keyNodes[k]; tk != nil {
				kn.HeadComment, kn.LineComment, kn.FootComment = tk.HeadComment, tk.LineComment, tk.FootComment
			}
			out.Content = append(out.Content, kn, render(v.Field(c.index[0]), c, valNodes[k]))
		}
		copyComments(out, t)
		return out
	case kindMap:
		out := &yaml.Node{Kind: yaml.MappingNode}
		keyNodes, valNodes := templatePairs(t)
		names := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			names = append(names, k.String())
		}
		sort.Strings(names)
		pos := map[string]int{}
		if t != nil {
			for i := 0; i+1 < len(t.Content); i += 2 {
				pos[t.Content[i].Value] = i/2 + 1
			}
		}
		sort.SliceStable(names, func(i, j int) bool {
			pi, pj := pos[names[i]], pos[names[j]]
			switch {
			case pi != 0 && pj != 0:
				return pi < pj
			case pi != 0 || pj != 0:
				return pi != 0
			}
			return false
		})
		for _, name := range names {
			kn := &yaml.Node{Kind: yaml.ScalarNode, Value: name}
			if tk := keyNodes[name]; tk != nil {
				kn.HeadComment, kn.LineComment = tk.HeadComment, tk.LineComment
			}
			val := v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key()))
			out.Content = append(out.Content, kn, render(val, n.elem, valNodes[name]))
		}
		if len(names) == 0 {
			out.Style = yaml.FlowStyle
		}
		copyComments(out, t)
		return out
	case kindList:
		out := &yaml.Node{Kind: yaml.SequenceNode}
		for i := 0; i < v.Len(); i++ {
			out.Content = append(out.Content, render(v.Index(i), n.elem, nil))
		}
		if v.Len() == 0 {
			out.Style = yaml.FlowStyle
		}
		copyComments(out, t)
		return out
	}
	out := leafNode(v)
	copyComments(out, t)
	return out
}

// templatePairs indexes a template mapping's key and value nodes.
func templatePairs(t *yaml.Node) (keys, vals map[string]*yaml.Node) {
	keys, vals = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	if t == nil || t.Kind != yaml.MappingNode {
		return keys, vals
	}
	for i := 0; i+1 < len(t.Content); i += 2 {
		keys[t.Content[i].Value] = t.Content[i]
		vals[t.Content[i].Value] = t.Content[i+1]
	}
	return keys, vals
}

func copyComments(out, t *yaml.Node) {
	if t == nil {
		return
	}
	out.HeadComment, out.LineComment, out.FootComment = t.HeadComment, t.LineComment, t.FootComment
	if out.Kind == yaml.SequenceNode && t.Kind == yaml.SequenceNode && t.Style == yaml.FlowStyle {
		out.Style = yaml.FlowStyle
	}
}

// leafNode writes one value as YAML that reads back to the same value.
func leafNode(v reflect.Value) *yaml.Node {
	str := func(s string) *yaml.Node {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
		if yaml11Special(s) {
			n.Style = yaml.DoubleQuotedStyle
		}
		return n
	}
	switch v.Type() {
	case typeSize:
		return str(Size(v.Uint()).String())
	case typeCount:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: Count(v.Int()).String()}
	case typeDuration:
		return str(formatDuration(time.Duration(v.Int())))
	case typeStrings, typeCommand:
		out := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := 0; i < v.Len(); i++ {
			out.Content = append(out.Content, str(v.Index(i).String()))
		}
		return out
	}
	switch v.Kind() {
	case reflect.Bool:
		s := "no"
		if v.Bool() {
			s = "yes"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Value: s}
	case reflect.String:
		return str(v.String())
	case reflect.Int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}
	case reflect.Uint32:
		s := strconv.FormatUint(v.Uint(), 10)
		if v.Uint() != 0 {
			s = "0x" + strconv.FormatUint(v.Uint(), 16)
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: s}
	case reflect.Float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v.Float(), 'g', -1, 64)}
	}
	return str(fmt.Sprint(v.Interface()))
}

// yaml11Special says whether a YAML 1.1 reader (Suricata's, PyYAML) would
// take the plain string for something else: a boolean word, or digits and
// colons (sexagesimal "0:3").
func yaml11Special(s string) bool {
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~":
		return true
	}
	return s != "" && strings.Trim(s, "0123456789:._") == "" && strings.ContainsAny(s, ":")
}
