package profiles

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// suricataOnlyKeys are top-level keys of a suricata.yaml that a vigil.yaml
// does not have.
var suricataOnlyKeys = map[string]bool{
	"vars": true, "default-rule-path": true, "rule-files": true, "classification-file": true,
	"reference-config-file": true, "threshold-file": true, "packet-alert-max": true,
	"default-log-dir": true, "af-packet": true, "af-xdp": true, "nfq": true, "nflog": true,
	"pcap": true, "pcap-file": true, "flow-timeouts": true, "threading": true, "logging": true,
	"mpm-algo": true, "spm-algo": true, "include": true, "suricata-version": true,
	"max-pending-packets": true, "stats": true, "dpdk": true, "netmap": true, "pfring": true,
	"ipfw": true, "napatech": true, "profiling": true, "coredump": true, "host-mode": true,
	"unix-command": true, "legacy": true, "engine-analysis": true, "pcre": true, "vlan": true,
	"livedev": true, "decoder": true, "host": true, "exception-policy": true, "datasets": true,
	"security": true, "plugins": true, "heartbeat": true, "asn1-max-frames": true, "detect-engine": true,
}

// IsSuricataYAML says whether a file is a suricata.yaml rather than a
// vigil.yaml: it starts with a %YAML directive; or it has no top-level key
// only Vigil has (profile, workers, ips, cpu, rings, routing, bypass,
// prometheus, outputs as a map) and one only Suricata has (vars,
// rule-files, af-packet, default-log-dir, ...) or its outputs are a list
// (Suricata's "- eve-log:" entries). A file that cannot be read or parsed
// is not one (Load then reports why).
func IsSuricataYAML(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	if bytes.HasPrefix(bytes.TrimLeft(data, "\ufeff \t\r\n"), []byte("%YAML")) {
		return true
	}
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return false
	}
	// A key only Vigil has makes it a vigil.yaml (one with a Suricata
	// key by mistake then gets "unknown key, did you mean").
	for k, v := range top {
		if vigilOnlyKeys[k] || k == "outputs" && isMap(v) {
			return false
		}
	}
	for k, v := range top {
		if suricataOnlyKeys[k] {
			return true
		}
		if _, isList := v.([]any); isList && k == "outputs" {
			return true
		}
	}
	return false
}

// vigilOnlyKeys are top-level keys of a vigil.yaml a suricata.yaml does
// not have.
var vigilOnlyKeys = map[string]bool{"profile": true, "workers": true, "ips": true, "cpu": true,
	"rings": true, "routing": true, "bypass": true, "prometheus": true}

// FromSuricata maps a suricata.yaml (with its --set overrides applied) onto
// Vigil's configuration, on top of the pcap-offline profile sized for this
// machine. It maps vars, rule files, classification/reference/threshold
// files, default-log-dir, outputs (eve-log types and options, fast, stats,
// Vigil's pipe), stats, stream, host-os-policy, the app-layer switches of
// the parsers Vigil has, defrag, flow and flow-timeouts, detect (profile,
// packet-alert-max, mpm-algo), runmode, threading (cpu-affinity sets) and
// the interface section of the capture backend in use (af-packet, af-xdp,
// nfq or dpdk: interface names, cluster-id and cluster-type as the fanout,
// copy-mode and copy-iface as the IPS bridge). ignored lists the keys of
// the file it did not use, sorted; a key whose whole subtree is unused is
// listed alone ("logging").
func FromSuricata(tree *Tree) (*Config, []string, error) {
	cfg, err := load(LoadOptions{}, tree)
	if err != nil {
		return nil, nil, err
	}
	return cfg, cfg.Ignored, nil
}

// surMapper maps one Suricata tree onto Vigil keys.
type surMapper struct {
	t       *Tree
	backend string
	out     map[string]any    // Vigil keys
	origin  map[string]string // Vigil key -> Suricata key it came from
	used    map[string]bool   // Suricata keys read (a key covers its subtree)
	seen    map[string]bool   // sections read whose keys are listed one by one
}

// suricataLayer maps a tree onto a layer of Vigil keys for the capture
// backend in use, and lists the keys it ignored.
// where names the origin in errors ("" for none: the caller names it).
func suricataLayer(t *Tree, backend, where string) (*layer, []string, error) {
	s := &surMapper{t: t, backend: backend, out: map[string]any{}, origin: map[string]string{}, used: map[string]bool{}, seen: map[string]bool{}}
	for _, f := range []func() error{s.detect, s.outputs, s.stream, s.appLayer, s.flowDefrag, s.threading, s.capture} {
		if err := f(); err != nil {
			return nil, nil, err
		}
	}
	l := &layer{
		data: s.out,
		pos: func(key string) (string, int) {
			for k := key; k != ""; {
				if o, ok := s.origin[k]; ok {
					if where == "" {
						return o, 0
					}
					return where + ": " + o, 0
				}
				i := strings.LastIndexByte(k, '.')
				if i < 0 {
					break
				}
				k = k[:i]
			}
			if where == "" {
				return "suricata.yaml", 0
			}
			return where, 0
		},
	}
	return l, s.ignored(), nil
}

// get reads a Suricata key and marks it used.
func (s *surMapper) get(key string) (any, bool) {
	v, ok := s.t.Get(key)
	if ok {
		s.used[key] = true
	}
	return v, ok
}

// str reads a scalar Suricata key and marks it used.
func (s *surMapper) str(key string) (string, bool) {
	v, ok := s.t.String(key)
	if ok {
		s.used[key] = true
	}
	return v, ok
}

// set stores a Vigil key that Suricata key from gave.
func (s *surMapper) set(vkey string, v any, from string) {
	putPath(s.out, vkey, v)
	s.origin[vkey] = from
}

// copy maps a scalar Suricata key onto a Vigil key when it is present.
func (s *surMapper) copy(skey, vkey string) {
	if v, ok := s.str(skey); ok {
		s.set(vkey, strings.TrimSpace(v), skey)
	}
}

// boolean reads a yes/no Suricata key; the error names the key.
func (s *surMapper) boolean(key string) (value, present bool, err error) {
	v, ok := s.str(key)
	if !ok {
		return false, false, nil
	}
	b, ok := ParseBool(v)
	if !ok {
		return false, true, fmt.Errorf("%s: %q is not a boolean (yes/no)", key, v)
	}
	return b, true, nil
}

// copyBool maps a yes/no key.
func (s *surMapper) copyBool(skey, vkey string) error {
	b, ok, err := s.boolean(skey)
	if ok && err == nil {
		s.set(vkey, b, skey)
	}
	return err
}

func (s *surMapper) detect() error {
	for _, g := range []string{"address-groups", "port-groups"} {
		if m, ok := s.t.Map("vars." + g); ok {
			s.used["vars."+g] = true
			s.set("detect.vars."+g, anyMap(stringMap(m)), "vars."+g)
		}
	}
	s.copy("default-rule-path", "detect.rule-path")
	if l, ok := s.t.List("rule-files"); ok {
		s.used["rule-files"] = true
		files := make([]any, 0, len(l))
		for _, x := range l {
			name, ok := x.(string)
			if !ok {
				return fmt.Errorf("rule-files: entry %v is not a file name", x)
			}
			files = append(files, name)
		}
		s.set("detect.rule-files", files, "rule-files")
	}
	s.copy("classification-file", "detect.classification-file")
	s.copy("reference-config-file", "detect.reference-config")
	s.copy("threshold-file", "detect.threshold-file")
	if v, ok := s.str("packet-alert-max"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("packet-alert-max: %q is not an integer", v)
		}
		if n == 0 { // Suricata: 0 means the default
			n = 15
		}
		if n < 1 || n > 65535 {
			return fmt.Errorf("packet-alert-max: %d is outside 1..65535", n)
		}
		s.set("detect.packet-alert-max", n, "packet-alert-max")
	}
	if v, ok := s.t.String("detect.profile"); ok {
		if v = strings.ToLower(strings.TrimSpace(v)); v == "low" || v == "medium" || v == "high" {
			s.used["detect.profile"] = true
			s.set("detect.profile", v, "detect.profile")
		}
	}
	if v, ok := s.t.String("mpm-algo"); ok {
		mpm := map[string]string{"auto": "auto", "ac": "ac", "ac-bs": "ac", "ac-ks": "ac", "hs": "hs"}[strings.ToLower(strings.TrimSpace(v))]
		if mpm != "" {
			s.used["mpm-algo"] = true
			s.set("detect.mpm", mpm, "mpm-algo")
		}
	}
	s.copy("runmode", "runmode")
	return nil
}

func (s *surMapper) outputs() error {
	s.copy("default-log-dir", "outputs.log-dir")
	statsOn := true
	if b, ok, err := s.boolean("stats.enabled"); err != nil {
		return err
	} else if ok {
		statsOn = b
	}
	if v, ok := s.str("stats.interval"); ok {
		s.set("outputs.stats.interval", strings.TrimSpace(v), "stats.interval")
	}
	l, ok := s.t.List("outputs")
	if !ok {
		if !statsOn {
			s.set("outputs.stats.enabled", false, "stats.enabled")
			s.set("outputs.stats.eve", false, "stats.enabled")
		}
		return nil
	}
	// A config with an outputs section decides which outputs run.
	s.set("outputs.eve.enabled", false, "outputs")
	s.set("outputs.fast.enabled", false, "outputs")
	s.set("outputs.stats.enabled", false, "outputs")
	s.set("outputs.stats.eve", false, "outputs")
	var pipes []any
	eveSeen := false
	for i := range l {
		prefix := fmt.Sprintf("outputs.%d", i)
		m, ok := s.t.Map(prefix)
		if !ok {
			continue
		}
		for name := range m {
			key := prefix + "." + name
			switch name {
			case "eve-log", "fast", "stats", "pipe":
			default:
				continue
			}
			s.seen[key] = true
			enabled, _, err := s.boolean(key + ".enabled")
			if err != nil {
				return err
			}
			switch name {
			case "eve-log":
				if eveSeen || !enabled {
					if !enabled {
						s.used[key+".enabled"] = true
					}
					continue // Vigil writes one EVE file: the first enabled one
				}
				eveSeen = true
				if err := s.eve(key); err != nil {
					return err
				}
			case "fast":
				s.set("outputs.fast.enabled", enabled, key+".enabled")
				if f, ok := s.str(key + ".filename"); ok && f != "" {
					s.set("outputs.fast.filename", f, key+".filename")
				}
			case "stats":
				s.set("outputs.stats.enabled", enabled && statsOn, key+".enabled")
				if f, ok := s.str(key + ".filename"); ok && f != "" {
					s.set("outputs.stats.filename", f, key+".filename")
				}
			case "pipe":
				if !enabled {
					continue
				}
				p, err := s.pipe(key, len(pipes))
				if err != nil {
					return err
				}
				pipes = append(pipes, p)
			}
		}
	}
	if pipes != nil {
		s.set("outputs.pipes", pipes, "outputs")
	}
	if !statsOn {
		s.set("outputs.stats.enabled", false, "stats.enabled")
		s.set("outputs.stats.eve", false, "stats.enabled")
	}
	return nil
}

// eveTypes are the EVE record types Vigil writes.
var eveTypes = map[string]bool{"alert": true, "anomaly": true, "http": true, "dns": true, "tls": true, "flow": true, "drop": true}

func (s *surMapper) eve(key string) error {
	s.set("outputs.eve.enabled", true, key+".enabled")
	if f, ok := s.str(key + ".filename"); ok && f != "" {
		s.set("outputs.eve.filename", f, key+".filename")
	}
	for _, o := range []string{"ethernet", "pcap-file"} {
		if err := s.copyBool(key+"."+o, "outputs.eve."+o); err != nil {
			return err
		}
	}
	if v, ok := s.t.String(key + ".filetype"); ok {
		if ft := strings.ToLower(strings.TrimSpace(v)); ft == "regular" || ft == "file" || ft == "" {
			s.used[key+".filetype"] = true
		}
	}
	types, _ := s.t.List(key + ".types")
	list := []any{}
	for j, ty := range types {
		var name string
		switch v := ty.(type) {
		case string:
			name = v
		case map[string]any:
			if len(v) != 1 {
				continue
			}
			for k := range v {
				name = k
			}
		}
		entry := fmt.Sprintf("%s.types.%d", key, j)
		tkey := entry + "." + name
		if _, isString := ty.(string); isString {
			tkey = entry
		}
		if name == "stats" {
			s.used[tkey] = true
			s.set("outputs.stats.eve", true, tkey)
			continue
		}
		if !eveTypes[name] {
			continue
		}
		if isMap(ty) {
			s.seen[tkey] = true
			if v, _ := s.t.Get(tkey); v == nil {
				s.used[tkey] = true
			}
		} else {
			s.used[entry] = true // a bare "- flow"
		}
		on, present, err := s.boolean(tkey + ".enabled")
		if err != nil {
			return err
		}
		on = on || !present
		switch name {
		case "alert":
			for _, o := range []string{"payload", "payload-printable", "packet", "metadata", "flow", "tagged-packets", "verdict"} {
				if err = s.copyBool(tkey+"."+o, "outputs.eve.alert."+o); err != nil {
					return err
				}
			}
		case "http":
			if err = s.copyBool(tkey+".extended", "outputs.eve.http.extended"); err != nil {
				return err
			}
			if v, ok := s.t.String(tkey + ".dump-all-headers"); ok {
				v = strings.ToLower(strings.TrimSpace(v))
				if v == "" || v == "no" {
					v = "none"
				}
				if v == "none" || v == "both" || v == "request" || v == "response" {
					s.used[tkey+".dump-all-headers"] = true
					s.set("outputs.eve.http.dump-all-headers", v, tkey+".dump-all-headers")
				}
			}
		case "dns":
			for _, o := range []string{"requests", "responses"} {
				if err = s.copyBool(tkey+"."+o, "outputs.eve.dns."+o); err != nil {
					return err
				}
			}
		case "tls":
			if err = s.copyBool(tkey+".extended", "outputs.eve.tls.extended"); err != nil {
				return err
			}
		case "drop":
			if err = s.copyBool(tkey+".alerts", "outputs.eve.drop.alerts"); err != nil {
				return err
			}
			// Suricata: flows "all" logs every drop, anything else (or
			// nothing) only the first of each flow direction.
			if v, ok := s.str(tkey + ".flows"); ok {
				f := "start"
				if strings.EqualFold(strings.TrimSpace(v), "all") {
					f = "all"
				}
				s.set("outputs.eve.drop.flows", f, tkey+".flows")
			} else {
				s.set("outputs.eve.drop.flows", "start", tkey)
			}
		case "anomaly":
			if v, _ := s.t.Get(tkey + ".types"); v == nil {
				s.used[tkey+".types"] = true
			}
			for _, o := range []string{"decode", "stream", "applayer"} {
				if err = s.copyBool(tkey+".types."+o, "outputs.eve.anomaly."+o); err != nil {
					return err
				}
			}
		}
		if on {
			list = append(list, name)
		}
	}
	if len(types) == 0 {
		s.used[key+".types"] = true
	}
	s.set("outputs.eve.types", list, key+".types")
	return nil
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

func (s *surMapper) pipe(key string, n int) (map[string]any, error) {
	p := map[string]any{}
	name, _ := s.str(key + ".name")
	if name == "" {
		name = fmt.Sprintf("pipe%d", n+1)
	}
	p["name"] = name
	if l, ok := s.t.List(key + ".fields"); ok {
		s.used[key+".fields"] = true
		fields := []any{}
		for _, x := range l {
			f, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s.fields: entry %v is not a field name", key, x)
			}
			fields = append(fields, f)
		}
		p["fields"] = fields
	}
	for _, k := range []string{"socket", "format", "queue"} {
		if v, ok := s.str(key + "." + k); ok {
			p[k] = v
		}
	}
	if b, ok, err := s.boolean(key + ".datagram"); err != nil {
		return nil, err
	} else if ok {
		p["datagram"] = b
	}
	if v, ok := s.get(key + ".command"); ok && v != nil {
		p["command"] = v
	}
	return p, nil
}

func (s *surMapper) stream() error {
	s.copy("stream.memcap", "stream.memcap")
	s.copy("stream.reassembly.memcap", "stream.reassembly.memcap")
	s.copy("stream.reassembly.depth", "stream.reassembly.depth")
	if err := s.copyBool("stream.midstream", "stream.midstream"); err != nil {
		return err
	}
	if err := s.copyBool("stream.async-oneside", "stream.async-oneside"); err != nil {
		return err
	}
	if v, ok := s.str("stream.inline"); ok {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "auto" {
			b, ok := ParseBool(v)
			if !ok {
				return fmt.Errorf("stream.inline: %q is not auto, yes or no", v)
			}
			v = "no"
			if b {
				v = "yes"
			}
		}
		s.set("stream.inline", v, "stream.inline")
	}
	for _, k := range []string{"stream.memcap-policy", "stream.reassembly.memcap-policy"} {
		if v, ok := s.str(k); ok {
			v = strings.ToLower(strings.TrimSpace(v))
			switch v {
			case "ignore", "drop-flow", "pass-flow", "bypass":
			case "drop-packet", "reject":
				v = "drop-flow"
			case "auto":
				v = "ignore"
			default:
				return fmt.Errorf("%s: %q is not ignore, drop-flow, pass-flow, bypass, drop-packet or reject", k, v)
			}
			s.set("stream.memcap-policy", v, k)
		}
	}
	// stream.midstream-policy, or the global exception-policy when it is
	// not set (Suricata's master switch; auto means drop-flow inline).
	for _, k := range []string{"stream.midstream-policy", "exception-policy"} {
		v, ok := s.str(k)
		if !ok {
			continue
		}
		v = strings.ToLower(strings.TrimSpace(v))
		switch v {
		case "auto", "ignore", "drop-flow", "pass-flow", "bypass":
		case "drop-packet", "reject":
			v = "drop-flow"
		case "pass-packet":
			v = "ignore"
		default:
			return fmt.Errorf("%s: %q is not auto, ignore, drop-flow, pass-flow, bypass, drop-packet, pass-packet or reject", k, v)
		}
		s.set("stream.midstream-policy", v, k)
		break
	}
	if b, ok, err := s.boolean("stream.bypass"); err != nil {
		return err
	} else if ok && b {
		s.set("bypass.enabled", true, "stream.bypass")
		s.set("bypass.triggers", []any{"stream-depth"}, "stream.bypass")
	}
	if m, ok := s.t.Map("host-os-policy"); ok {
		s.used["host-os-policy"] = true
		pol := map[string]any{}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			v := m[name]
			l, ok := v.([]any)
			if !ok {
				if v == nil {
					continue
				}
				return fmt.Errorf("host-os-policy.%s: want a list of addresses", name)
			}
			var addrs []any
			for _, x := range l {
				a, ok := x.(string)
				if !ok {
					return fmt.Errorf("host-os-policy.%s: entry %v is not an address", name, x)
				}
				addrs = append(addrs, strings.TrimSpace(a))
			}
			if len(addrs) > 0 {
				pol[name] = addrs
			}
		}
		s.set("host-os-policy", pol, "host-os-policy")
	}
	return nil
}

func (s *surMapper) appLayer() error {
	for _, p := range []string{"http", "dns", "tls"} {
		on, ok, err := s.protoEnabled(p)
		if err != nil {
			return err
		}
		if ok {
			s.set("app-layer.protocols."+p+".enabled", on, "app-layer.protocols."+p+".enabled")
		}
	}
	tls := "app-layer.protocols.tls."
	if v, ok := s.str(tls + "encryption-handling"); ok {
		v = strings.ToLower(strings.TrimSpace(v))
		switch v {
		case "default", "bypass", "full":
		default:
			return fmt.Errorf("%sencryption-handling: %q is not default, bypass or full", tls, v)
		}
		s.set("app-layer.protocols.tls.encryption-handling", v, tls+"encryption-handling")
	}
	for _, k := range []string{"ja3-fingerprints", "ja4-fingerprints"} {
		if v, ok := s.str(tls + k); ok {
			v = strings.ToLower(strings.TrimSpace(v))
			if b, ok := ParseBool(v); ok {
				v = map[bool]string{true: "yes", false: "no"}[b]
			}
			s.set("app-layer.protocols.tls."+k, v, tls+k)
		}
	}
	for _, k := range []string{"request-body-limit", "response-body-limit"} {
		s.copy("app-layer.protocols.http.libhtp.default-config."+k, "app-layer.protocols.http."+k)
	}
	return nil
}

// protoEnabled reads app-layer.protocols.NAME.enabled (yes, no, or
// detection-only, which Vigil treats as yes); DNS also has per-transport
// switches (dns.tcp.enabled, dns.udp.enabled): either on keeps it on.
func (s *surMapper) protoEnabled(name string) (on, present bool, err error) {
	path := "app-layer.protocols." + name + ".enabled"
	v, ok := s.str(path)
	if !ok {
		if name == "dns" {
			u, uok, err := s.boolean("app-layer.protocols.dns.udp.enabled")
			if err != nil {
				return false, false, err
			}
			c, cok, err := s.boolean("app-layer.protocols.dns.tcp.enabled")
			if err != nil {
				return false, false, err
			}
			if !uok && !cok {
				return false, false, nil
			}
			return (u || !uok) || (c || !cok), true, nil
		}
		return false, false, nil
	}
	if strings.EqualFold(strings.TrimSpace(v), "detection-only") {
		return true, true, nil
	}
	b, ok := ParseBool(v)
	if !ok {
		return false, true, fmt.Errorf("%s: %q is not yes, no or detection-only", path, v)
	}
	return b, true, nil
}

// suricataBuiltinTimeouts are Suricata's compiled-in flow timeouts in
// seconds (flow-private.h), used when a suricata.yaml has no
// flow-timeouts section.
var suricataBuiltinTimeouts = map[string]map[string]int{
	"default": {"new": 30, "established": 300, "closed": 0, "bypassed": 100,
		"emergency-new": 10, "emergency-established": 100, "emergency-closed": 0, "emergency-bypassed": 50},
	"tcp": {"new": 30, "established": 300, "closed": 10, "bypassed": 100,
		"emergency-new": 10, "emergency-established": 100, "emergency-closed": 5, "emergency-bypassed": 50},
	"udp": {"new": 30, "established": 300, "closed": 0, "bypassed": 100,
		"emergency-new": 10, "emergency-established": 100, "emergency-closed": 0, "emergency-bypassed": 50},
	"icmp": {"new": 30, "established": 300, "closed": 0, "bypassed": 100,
		"emergency-new": 10, "emergency-established": 100, "emergency-closed": 0, "emergency-bypassed": 50},
}

func (s *surMapper) flowDefrag() error {
	s.copy("flow.memcap", "flow.memcap")
	s.copy("flow.hash-size", "flow.hash-size")
	s.copy("flow.prealloc", "flow.prealloc")
	s.copy("flow.emergency-recovery", "flow.emergency-recovery")
	if v, _ := s.t.Get("flow-timeouts"); v == nil && s.t.File != "" {
		// A suricata.yaml without flow-timeouts runs on Suricata's
		// built-in timeouts, not on those of its default suricata.yaml
		// (which Vigil's profiles use, as do Suricata-style --set keys
		// without a file): TCP flows close after 10 s.
		for proto, t := range suricataBuiltinTimeouts {
			for state, secs := range t {
				putPath(s.out, "flow.timeouts."+proto+"."+state, fmt.Sprintf("%ds", secs))
			}
		}
	}
	for _, proto := range []string{"default", "tcp", "udp", "icmp"} {
		for _, state := range []string{"new", "established", "closed", "bypassed",
			"emergency-new", "emergency-established", "emergency-closed", "emergency-bypassed"} {
			s.copy("flow-timeouts."+proto+"."+state, "flow.timeouts."+proto+"."+state)
		}
	}
	s.copy("defrag.memcap", "defrag.memcap")
	s.copy("defrag.timeout", "defrag.timeout")
	s.copy("defrag.trackers", "defrag.trackers")
	return nil
}

// threading maps cpu-affinity sets when set-cpu-affinity is on (Suricata
// 8's map of sets, or Suricata 7's list of one-key maps).
func (s *surMapper) threading() error {
	on, _, err := s.boolean("threading.set-cpu-affinity")
	if err != nil || !on {
		return err
	}
	sets := map[string]string{}
	if m, ok := s.t.Map("threading.cpu-affinity"); ok {
		for k := range m {
			sets[k] = "threading.cpu-affinity." + k
		}
	} else if l, ok := s.t.List("threading.cpu-affinity"); ok {
		for i, e := range l {
			if m, ok := e.(map[string]any); ok {
				for k := range m {
					sets[k] = fmt.Sprintf("threading.cpu-affinity.%d.%s", i, k)
				}
			}
		}
	}
	for set, vkey := range map[string]string{"management-cpu-set": "cpu.management", "receive-cpu-set": "cpu.receive",
		"worker-cpu-set": "cpu.worker", "verdict-cpu-set": "cpu.verdict"} {
		path, ok := sets[set]
		if !ok {
			continue
		}
		if v, ok := s.get(path + ".cpu"); ok {
			s.set(vkey, v, path+".cpu")
		}
		if set == "worker-cpu-set" {
			s.copy(path+".threads", "workers")
		}
	}
	return nil
}

// capture maps the interface section of the backend in use.
func (s *surMapper) capture() error {
	switch s.backend {
	case "afpacket":
		return s.ifaceList("af-packet", map[string]func(skey string, v string) error{
			"cluster-id": func(k, v string) error { s.set("capture.afpacket.fanout-group", v, k); return nil },
			"cluster-type": func(k, v string) error {
				f := map[string]string{"cluster_flow": "hash", "cluster_rollover": "hash", "cluster_cpu": "cpu",
					"cluster_qm": "qm", "cluster_random": "lb"}[strings.ToLower(v)]
				if f == "" {
					return fmt.Errorf("%s: %q is not supported (cluster_flow, cluster_cpu, cluster_qm, cluster_random)", k, v)
				}
				s.set("capture.afpacket.fanout", f, k)
				return nil
			},
			"defrag":        func(k, v string) error { s.set("capture.afpacket.defrag", v, k); return nil },
			"block-size":    func(k, v string) error { s.set("capture.afpacket.block-size", v, k); return nil },
			"block-timeout": func(k, v string) error { s.set("capture.afpacket.block-timeout", withUnit(v, "ms"), k); return nil },
			"threads":       func(k, v string) error { s.set("workers", v, k); return nil },
			"copy-mode":     s.copyMode("capture.afpacket.copy-mode"),
		})
	case "afxdp":
		return s.ifaceList("af-xdp", map[string]func(string, string) error{
			"force-xdp-mode": func(k, v string) error {
				m := map[string]string{"drv": "native", "skb": "generic", "none": "auto"}[strings.ToLower(v)]
				if m == "" {
					return fmt.Errorf("%s: %q is not drv, skb or none", k, v)
				}
				s.set("capture.afxdp.xdp-mode", m, k)
				return nil
			},
			"force-bind-mode": func(k, v string) error {
				m := map[string]string{"zero": "zerocopy", "copy": "copy", "none": "auto"}[strings.ToLower(v)]
				if m == "" {
					return fmt.Errorf("%s: %q is not zero, copy or none", k, v)
				}
				s.set("capture.afxdp.mode", m, k)
				return nil
			},
			"enable-busy-poll": func(k, v string) error { s.set("capture.afxdp.busy-poll", v, k); return nil },
			"busy-poll-time":   func(k, v string) error { s.set("capture.afxdp.busy-poll-time", withUnit(v, "us"), k); return nil },
			"busy-poll-budget": func(k, v string) error { s.set("capture.afxdp.busy-poll-budget", v, k); return nil },
			"threads":          func(k, v string) error { s.set("workers", v, k); return nil },
		})
	case "dpdk":
		if m, ok := s.t.Map("dpdk.eal-params"); ok {
			s.used["dpdk.eal-params"] = true
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			args := []any{}
			for _, k := range keys {
				vals := []any{m[k]}
				if l, ok := m[k].([]any); ok {
					vals = l
				}
				for _, v := range vals {
					if v == nil {
						args = append(args, "--"+k)
					} else {
						args = append(args, fmt.Sprintf("--%s=%v", k, v))
					}
				}
			}
			s.set("capture.dpdk.eal-args", args, "dpdk.eal-params")
		}
		return s.ifaceList("dpdk.interfaces", map[string]func(string, string) error{
			"rx-descriptors": func(k, v string) error { s.set("capture.dpdk.rx-descriptors", v, k); return nil },
			"tx-descriptors": func(k, v string) error { s.set("capture.dpdk.tx-descriptors", v, k); return nil },
			"mempool-size":   func(k, v string) error { s.set("capture.dpdk.mempool-size", v, k); return nil },
			"threads":        func(k, v string) error { s.set("workers", v, k); return nil },
			"copy-mode":      s.copyMode(""),
		})
	case "nfqueue":
		if v, ok := s.t.String("nfq.mode"); ok {
			if m := strings.ToLower(strings.TrimSpace(v)); m == "accept" || m == "repeat" {
				s.used["nfq.mode"] = true
				s.set("capture.nfqueue.verdict-mode", m, "nfq.mode")
			}
		}
		s.copy("nfq.repeat-mark", "capture.nfqueue.mark")
		s.copy("nfq.repeat-mask", "capture.nfqueue.mask")
		s.copy("nfq.bypass-mark", "capture.nfqueue.bypass-mark")
		s.copy("nfq.bypass-mask", "capture.nfqueue.bypass-mask")
		return s.copyBool("nfq.fail-open", "capture.nfqueue.fail-open")
	}
	return nil
}

// copyMode maps copy-mode ips|tap|none; vkey is the backend's own
// copy-mode key ("" when it has none).
func (s *surMapper) copyMode(vkey string) func(string, string) error {
	return func(k, v string) error {
		v = strings.ToLower(v)
		switch v {
		case "ips", "tap", "none":
		default:
			return fmt.Errorf("%s: %q is not ips, tap or none", k, v)
		}
		if vkey != "" {
			s.set(vkey, v, k)
		}
		s.set("ips.enabled", v == "ips", k)
		return nil
	}
}

// ifaceList maps a Suricata interface list (af-packet:, af-xdp:,
// dpdk.interfaces:): the names become capture.interfaces (DPDK:
// capture.dpdk.ports), copy-iface pairs the IPS bridge, and the options of
// the "default" entry, then of the first named entry, map through opts.
// Options of later entries that differ from the first's are ignored.
func (s *surMapper) ifaceList(section string, opts map[string]func(skey, v string) error) error {
	l, ok := s.t.List(section)
	if !ok {
		return nil
	}
	var names []any
	first, def := -1, -1
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["interface"].(string)
		s.used[fmt.Sprintf("%s.%d.interface", section, i)] = name != ""
		switch {
		case name == "default":
			def = i
		case name != "":
			names = append(names, name)
			if first < 0 {
				first = i
			}
		}
	}
	apply := func(i int) error {
		prefix := fmt.Sprintf("%s.%d", section, i)
		m, _ := s.t.Map(prefix)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := opts[k]
			if !ok {
				continue
			}
			v, ok := s.str(prefix + "." + k)
			if !ok {
				continue
			}
			if err := f(prefix+"."+k, strings.TrimSpace(v)); err != nil {
				return err
			}
		}
		return nil
	}
	if def >= 0 {
		if err := apply(def); err != nil {
			return err
		}
	}
	if first >= 0 {
		if err := apply(first); err != nil {
			return err
		}
	}
	ifaceKey := "capture.interfaces"
	if section == "dpdk.interfaces" {
		ifaceKey = "capture.dpdk.ports"
	}
	if len(names) > 0 {
		s.set(ifaceKey, names, section)
	}
	// copy-iface: the bridge peer of the first interface.
	if first >= 0 {
		k := fmt.Sprintf("%s.%d.copy-iface", section, first)
		if peer, ok := s.str(k); ok && peer != "" && peer != "none" {
			a, _ := l[first].(map[string]any)["interface"].(string)
			s.set("ips.bridge", []any{a, peer}, k)
		}
	}
	// Later entries: what agrees with the first entry (or is the bridge's
	// reverse direction) is used; the rest stays in the ignored list.
	if first >= 0 {
		fm, _ := l[first].(map[string]any)
		a, _ := fm["interface"].(string)
		for i := first + 1; i < len(l); i++ {
			m, ok := l[i].(map[string]any)
			if !ok || m["interface"] == "default" {
				continue
			}
			for k, v := range m {
				key := fmt.Sprintf("%s.%d.%s", section, i, k)
				switch {
				case k == "interface":
				case k == "copy-iface" && fmt.Sprint(v) == a:
					s.used[key] = true
				case opts[k] != nil && fmt.Sprint(v) == fmt.Sprint(fm[k]):
					s.used[key] = true
				}
			}
		}
	}
	return nil
}

// ignored lists the Suricata keys the mapping did not read: a key whose
// subtree is wholly unused stands for it. A list entry that is a map of
// one key ("- tls-store: ...") is named by that key.
func (s *surMapper) ignored() []string {
	keys, _ := s.collect("", s.t.root)
	sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
	return keys
}

// naturalLess orders dotted keys with their numeric parts as numbers
// ("types.2" before "types.10").
func naturalLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

// isName says whether a list entry is a plain name (letters, digits, '-',
// '_'), as Suricata's "- flow" entries are.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (s *surMapper) collect(path string, v any) ([]string, bool) {
	if path != "" && s.used[path] {
		return nil, false
	}
	type child struct {
		path string
		v    any
	}
	var children []child
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			children = append(children, child{join(path, k), x[k]})
		}
	case []any:
		for i, e := range x {
			p := join(path, strconv.Itoa(i))
			if m, ok := e.(map[string]any); ok && len(m) == 1 && !s.used[p] {
				for k, ev := range m {
					children = append(children, child{p + "." + k, ev})
				}
				continue
			}
			if name, ok := e.(string); ok && isName(name) && !s.used[p] {
				// "- websocket" names itself as "- websocket:" would.
				children = append(children, child{p + "." + name, nil})
				continue
			}
			children = append(children, child{p, e})
		}
	default:
		return nil, true
	}
	if len(children) == 0 {
		return nil, true
	}
	var keys []string
	all := true
	for _, c := range children {
		ks, unused := s.collect(c.path, c.v)
		if unused {
			keys = append(keys, c.path)
		} else {
			keys = append(keys, ks...)
			all = false
		}
	}
	if all && path != "" && !s.seen[path] {
		return nil, true
	}
	return keys, false
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// withUnit gives a bare number Suricata's unit for the key ("10" -> "10ms").
func withUnit(v, unit string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v + unit
	}
	return v
}
