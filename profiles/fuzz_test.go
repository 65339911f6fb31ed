package profiles

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoadVigilYAML feeds arbitrary bytes to Load as a vigil.yaml (or,
// when they look like one, a suricata.yaml): it must return a valid
// Config or an error, never panic.
func FuzzLoadVigilYAML(f *testing.F) {
	f.Add([]byte("profile: ids-afxdp\nstream:\n  memcap: 1gb\n"))
	f.Add([]byte("stream:\n  reasembly:\n    depth: 2mb\n"))
	f.Add([]byte("outputs:\n  pipes:\n    - name: a\n      fields: [dns.query]\n      socket: /x\n"))
	f.Add([]byte("detect:\n  vars:\n    address-groups:\n      HOME_NET: '[10.0.0.0/8]'\n1: 2\n"))
	f.Add([]byte("cpu:\n  worker: [0, 2-3]\nworkers: auto\ncapture:\n  nfqueue:\n    queues: 0:3\n"))
	f.Add([]byte("%YAML 1.1\n---\noutputs:\n  - eve-log:\n      enabled: yes\n      types: [alert, {http: {extended: no}}]\n"))
	f.Add([]byte("af-packet:\n  - interface: eth0\n    copy-iface: eth1\n    copy-mode: ips\n"))
	if src, err := os.ReadFile(stock); err == nil {
		f.Add(src)
	}
	dir := f.TempDir()
	m := small
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, prof := range []string{"", "ids-afpacket"} {
			c, err := Load(LoadOptions{File: p, Profile: prof, Machine: &m})
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				continue
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Load returned an invalid config: %v", err)
			}
			_ = c.Settings()
		}
	})
}

// FuzzSetValue feeds arbitrary --set pairs and environment values to Load.
func FuzzSetValue(f *testing.F) {
	f.Add("stream.memcap", "64mb")
	f.Add("capture.interfaces", "[eth1, eth2]")
	f.Add("detect.vars.address-groups.HOME_NET", "[10.0.0.0/8]")
	f.Add("outputs.1.eve-log.types.2.anomaly.types.stream", "yes")
	f.Add("cpu.worker", "0-3,7")
	f.Add("flow.timeouts.tcp.new", "1e300")
	m := small
	f.Fuzz(func(t *testing.T, key, value string) {
		if strings.ContainsAny(key, "=\x00") {
			return
		}
		for _, opts := range []LoadOptions{
			{Sets: []string{key + "=" + value}, Machine: &m},
			{Profile: "ids-afxdp", Sets: []string{key + "=" + value}, Machine: &m},
			{Environ: []string{EnvName(key) + "=" + value}, Machine: &m},
		} {
			if c, err := Load(opts); err == nil {
				if err := c.Validate(); err != nil {
					t.Fatalf("%+v: invalid config: %v", opts, err)
				}
			}
		}
	})
}

// FuzzConvertLeaf checks that a leaf value that converts, renders back to
// the same value.
func FuzzConvertLeaf(f *testing.F) {
	for _, s := range []string{"64mb", "1.5 GiB", "auto", "0-3,7", "30s", "1h2m", "0x10", "yes", "[a, b]", "1e30", "inf"} {
		f.Add(s)
	}
	types := []reflect.Type{typeSize, typeCount, typeCPUList, typeDuration, typeStrings, reflect.TypeOf(true),
		reflect.TypeOf(0), reflect.TypeOf(uint32(0))}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			v, err := convertLeaf(typ, s)
			if err != nil {
				continue
			}
			rv := reflect.ValueOf(v)
			if (typ == typeSize && v == AutoSize) || (typ == typeCount && v == AutoCount) || (typ == typeCPUList && (v == CPUList("auto") || v == CPUList("all"))) {
				continue
			}
			n := leafNode(rv)
			var back any
			if err := n.Decode(&back); err != nil {
				t.Fatalf("%v %q: rendered %q does not decode: %v", typ, s, n.Value, err)
			}
			if back2, ok := back.([]any); ok && typ == typeStrings {
				back = back2
			}
			v2, err := convertLeaf(typ, back)
			if err != nil {
				t.Fatalf("%v %q: rendered %#v does not convert back: %v", typ, s, back, err)
			}
			if typ == typeCPUList {
				a, _ := v.(CPUList).CPUs()
				b, _ := v2.(CPUList).CPUs()
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("%q: cpus %v then %v", s, a, b)
				}
				continue
			}
			if typ == typeDuration || typ == typeSize {
				// Rendering rounds nothing: whole units or the exact number.
				if !reflect.DeepEqual(v, v2) {
					t.Fatalf("%v %q: %v then %v (rendered %q)", typ, s, v, v2, n.Value)
				}
				continue
			}
			if !reflect.DeepEqual(v, v2) {
				t.Fatalf("%v %q: %#v then %#v", typ, s, v, v2)
			}
		}
	})
}
