package profiles

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	small  = Machine{CPUs: 2, MemoryBytes: 4 << 30}
	medium = Machine{CPUs: 8, MemoryBytes: 24 << 30}
	big    = Machine{CPUs: 64, MemoryBytes: 256 << 30}
)

func mustLoad(t *testing.T, opts LoadOptions) *Config {
	t.Helper()
	if opts.Machine == nil {
		m := medium
		opts.Machine = &m
	}
	cfg, err := Load(opts)
	if err != nil {
		t.Fatalf("Load(%+v): %v", opts, err)
	}
	return cfg
}

func loadErr(t *testing.T, opts LoadOptions) string {
	t.Helper()
	if opts.Machine == nil {
		m := medium
		opts.Machine = &m
	}
	_, err := Load(opts)
	if err == nil {
		t.Fatalf("Load(%+v): no error", opts)
	}
	return err.Error()
}

func TestEveryProfileLoadsAndValidates(t *testing.T) {
	for _, p := range Profiles() {
		for _, m := range []Machine{small, medium, big} {
			cfg := mustLoad(t, LoadOptions{Profile: p.Name, Machine: &m})
			if cfg.Profile != p.Name {
				t.Errorf("%s: Profile %q", p.Name, cfg.Profile)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("%s on %v: %v", p.Name, m, err)
			}
			if cfg.Machine != m {
				t.Errorf("%s: machine %v, want %v", p.Name, cfg.Machine, m)
			}
			for _, l := range []CPUList{cfg.CPU.Management, cfg.CPU.Receive, cfg.CPU.Worker, cfg.CPU.Verdict} {
				cpus, err := l.CPUs()
				if err != nil || cpus[len(cpus)-1] >= m.CPUs {
					t.Errorf("%s on %v: cpu list %q (%v)", p.Name, m, l, err)
				}
			}
			if p.Description == "" || strings.Contains(p.Description, "\n") {
				t.Errorf("%s: description %q", p.Name, p.Description)
			}
		}
	}
	if _, err := Load(LoadOptions{Profile: "ids-afxpd", Machine: &small}); err == nil ||
		!strings.Contains(err.Error(), `did you mean "ids-afxdp"`) {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestSizing(t *testing.T) {
	type want struct {
		workers                          Count
		worker                           CPUList
		flow, hash, stream, reasm, defrg uint64
		rings, xdpRing, frames           Count
		queues                           string
		blocks                           Count
		mempool                          Count
	}
	for _, tc := range []struct {
		m Machine
		w want
	}{
		{Machine{2, 4 << 30}, want{2, "0-1", 128 << 20, 65536, 64 << 20, 256 << 20, 32 << 20, 1024, 2048, 4096, "0:1", 8, 16383}},
		{Machine{8, 4 << 30}, want{7, "1-7", 128 << 20, 65536, 64 << 20, 256 << 20, 32 << 20, 1024, 2048, 4096, "0:6", 8, 32767}},
		{Machine{8, 24 << 30}, want{7, "1-7", 768 << 20, 262144, 384 << 20, 1536 << 20, 192 << 20, 4096, 4096, 8192, "0:6", 8, 131071}},
		{Machine{64, 24 << 30}, want{63, "1-63", 768 << 20, 262144, 384 << 20, 1536 << 20, 192 << 20, 4096, 4096, 8192, "0:62", 8, 1048575}},
		{Machine{64, 256 << 30}, want{63, "1-63", 4 << 30, 1 << 21, 2 << 30, 8 << 30, 1 << 30, 8192, 4096, 8192, "0:62", 8, 1048575}},
		{Machine{2, 256 << 30}, want{2, "0-1", 4 << 30, 1 << 21, 2 << 30, 8 << 30, 1 << 30, 8192, 4096, 8192, "0:1", 64, 65535}},
		{Machine{1, 1 << 30}, want{1, "0", 32 << 20, 16384, 64 << 20, 256 << 20, 32 << 20, 1024, 2048, 4096, "0", 8, 8191}},
	} {
		m := tc.m
		c := mustLoad(t, LoadOptions{Profile: "ids-afpacket", Machine: &m})
		got := want{c.Workers, c.CPU.Worker, uint64(c.Flow.Memcap), uint64(c.Flow.HashSize), uint64(c.Stream.Memcap),
			uint64(c.Stream.Reassembly.Memcap), uint64(c.Defrag.Memcap), c.Rings.Size, c.Capture.AFXDP.RingSize,
			c.Capture.AFXDP.Frames, c.Capture.NFQueue.Queues, c.Capture.AFPacket.Blocks, c.Capture.DPDK.MempoolSize}
		if got != tc.w {
			t.Errorf("%v:\n got %+v\nwant %+v", m, got, tc.w)
		}
		if c.CPU.Management != "0" || c.CPU.Receive != tc.w.worker || c.CPU.Verdict != tc.w.worker {
			t.Errorf("%v: cpu sets %+v", m, c.CPU)
		}
		// IPS doubles the UMEM frames (rx + fill, tx + completion).
		ips := mustLoad(t, LoadOptions{Profile: "ips-afxdp-bridge", Machine: &m})
		if ips.Capture.AFXDP.Frames != 4*ips.Capture.AFXDP.RingSize {
			t.Errorf("%v: ips frames %d, ring %d", m, ips.Capture.AFXDP.Frames, ips.Capture.AFXDP.RingSize)
		}
	}
	// Single runmode: one worker on CPU 1 (management keeps CPU 0).
	c := mustLoad(t, LoadOptions{Profile: "lab-single", Machine: &big})
	if c.Workers != 1 || c.CPU.Worker != "1" || c.Flow.Memcap != 32<<20 {
		t.Errorf("lab-single: workers %d, cpu %q, flow memcap %v", c.Workers, c.CPU.Worker, c.Flow.Memcap)
	}
	// Explicit values are kept; "all" expands; a CPU beyond the machine is an error.
	c = mustLoad(t, LoadOptions{Profile: "ids-afxdp", Machine: &medium,
		Sets: []string{"workers=3", "cpu.worker=all", "flow.memcap=1gb", "flow.hash-size=auto"}})
	if c.Workers != 3 || c.CPU.Worker != "0-7" || c.CPU.Receive != "1-3" || c.Flow.Memcap != 1<<30 || c.Flow.HashSize != 1<<19 {
		t.Errorf("explicit: %d %q %q %v %d", c.Workers, c.CPU.Worker, c.CPU.Receive, c.Flow.Memcap, c.Flow.HashSize)
	}
	if e := loadErr(t, LoadOptions{Profile: "ids-afxdp", Machine: &small, Sets: []string{"cpu.worker=1-3"}}); !strings.Contains(e, "cpu.worker: CPU 3 is not on this machine") {
		t.Errorf("cpu beyond machine: %s", e)
	}
	if e := loadErr(t, LoadOptions{Machine: &small, Sets: []string{"defrag.timeout=auto"}}); !strings.Contains(e, "defrag.timeout") {
		t.Errorf("auto on a duration: %s", e)
	}
	if e := loadErr(t, LoadOptions{Machine: &small, Sets: []string{"outputs.stats.interval=0s", "outputs.stats.enabled=yes"}}); !strings.Contains(e, "outputs.stats.interval") {
		t.Errorf("zero interval: %s", e)
	}
}

func TestMachineString(t *testing.T) {
	if s := medium.String(); s != "8 CPUs, 24 GiB" {
		t.Errorf("%q", s)
	}
	m, err := ThisMachine()
	if err != nil {
		t.Fatal(err)
	}
	if m.CPUs < 1 || m.MemoryBytes < 64<<20 {
		t.Errorf("this machine: %+v", m)
	}
	if n, err := memTotal([]byte("MemFree: 1 kB\nMemTotal:  16314004 kB\n")); err != nil || n != 16314004<<10 {
		t.Errorf("memTotal: %d %v", n, err)
	}
	if _, err := memTotal([]byte("MemFree: 1 kB\n")); err == nil {
		t.Error("no MemTotal: want an error")
	}
}

// TestDefaultYAMLIsComplete: every key of the default configuration is in
// the schema, and every key of the schema is in the default configuration.
func TestDefaultYAMLIsComplete(t *testing.T) {
	docs, err := builtinDocs()
	if err != nil {
		t.Fatal(err)
	}
	var inFile []string
	var walk func(prefix string, n *schemaNode, v any)
	walk = func(prefix string, n *schemaNode, v any) {
		m, _ := v.(map[string]any)
		for k, sub := range m {
			c := n.children[k]
			if c == nil {
				t.Errorf("pcap-offline.yaml: unknown key %s", join(prefix, k))
				continue
			}
			if c.kind == kindSection {
				walk(join(prefix, k), c, sub)
				continue
			}
			inFile = append(inFile, join(prefix, k))
		}
	}
	walk("", schema(), docs[DefaultProfile].data)
	slices.Sort(inFile)
	keys := Keys()
	slices.Sort(keys)
	if !slices.Equal(inFile, keys) {
		t.Errorf("default yaml keys differ from the schema:\n file %v\n schema %v", inFile, keys)
	}
	// Every overlay holds known keys only.
	for name, d := range docs {
		if err := d.layer().check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The default profile equals DefaultSettings (with the stock vars).
	s := mustLoad(t, LoadOptions{}).Settings()
	def := DefaultSettings()
	if s.AddrVars["HOME_NET"] != "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]" || s.PortVars["ORACLE_PORTS"] != "1521" {
		t.Errorf("vars %v %v", s.AddrVars, s.PortVars)
	}
	s.AddrVars, s.PortVars = nil, nil
	if !reflect.DeepEqual(s, def) {
		t.Errorf("pcap-offline settings\n %+v\nwant DefaultSettings\n %+v", s, def)
	}
}

func TestEnvNamesUnique(t *testing.T) {
	seen := map[string]string{}
	for _, k := range Keys() {
		e := EnvName(k)
		if other, ok := seen[e]; ok {
			t.Errorf("%s and %s share %s", k, other, e)
		}
		seen[e] = k
		if schema().lookup(k).kind == kindList {
			continue
		}
		if got, err := envKey(e); schema().lookup(k).kind == kindLeaf && (err != nil || got != k) {
			t.Errorf("envKey(%s) = %q, %v; want %s", e, got, err, k)
		}
	}
}

func TestProfileYAMLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, p := range Profiles() {
		for _, m := range []Machine{small, big} {
			out, err := ProfileYAMLFor(p.Name, m)
			if err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
			text := string(out)
			if !strings.HasPrefix(text, "# Vigil profile "+p.Name+": ") || !strings.Contains(text, m.String()) {
				t.Errorf("%s: header %q", p.Name, strings.SplitN(text, "\n", 4)[:3])
			}
			if l := autoLine.FindString(text); l != "" {
				t.Errorf("%s: auto left in the resolved YAML: %q", p.Name, l)
			}
			f := filepath.Join(dir, p.Name+".yaml")
			if err := os.WriteFile(f, out, 0o644); err != nil {
				t.Fatal(err)
			}
			if IsSuricataYAML(f) {
				t.Errorf("%s: a profile's YAML looks like a suricata.yaml", p.Name)
			}
			fromFile := mustLoad(t, LoadOptions{File: f, Machine: &m})
			direct := mustLoad(t, LoadOptions{Profile: p.Name, Machine: &m})
			if !reflect.DeepEqual(fromFile, direct) {
				t.Errorf("%s on %v: the printed YAML loads differently:\n file   %+v\n direct %+v", p.Name, m, fromFile, direct)
			}
			// It is the profile, not the default with the profile's name.
			if p.Name != DefaultProfile {
				def := mustLoad(t, LoadOptions{Machine: &m})
				def.Profile = p.Name
				if reflect.DeepEqual(def, direct) {
					t.Errorf("%s equals pcap-offline", p.Name)
				}
			}
		}
	}
	// A suricata.yaml written out as a vigil.yaml loads the same.
	sur := mustLoad(t, LoadOptions{File: "testdata/suricata-8.0.6.yaml", Machine: &big})
	y, err := sur.YAML()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "from-suricata.yaml")
	os.WriteFile(f, y, 0o644)
	back := mustLoad(t, LoadOptions{File: f, Machine: &big})
	sur.Ignored, sur.SuricataFile = nil, false
	if !reflect.DeepEqual(back, sur) {
		t.Errorf("suricata.yaml as vigil.yaml:\n %+v\nwant\n %+v", back, sur)
	}
	if e := loadErr(t, LoadOptions{File: writeFile(t, "p.yaml", "profile: ids-afxdpp\n")}); !strings.Contains(e, `p.yaml:1: unknown profile "ids-afxdpp" (did you mean "ids-afxdp"?`) {
		t.Errorf("unknown profile in a file: %s", e)
	}
	// Comments of the default survive.
	out, _ := ProfileYAMLFor("ips-nfqueue", small)
	for _, want := range []string{"# Inline prevention.", "queues: \"0:1\"", "bypass-mark: 0x1", "enabled: yes", "\n\nstream:\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ips-nfqueue YAML lacks %q", want)
		}
	}
}

var autoLine = regexp.MustCompile(`(?m)^ *(workers|memcap|hash-size|blocks|frames|ring-size|size|queues|rx-descriptors|tx-descriptors|mempool-size|management|receive|worker|verdict): "?(auto|all)"?`)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnknownKeys(t *testing.T) {
	f := writeFile(t, "vigil.yaml", "profile: ids-afpacket\nstream:\n  reasembly:\n    depth: 2mb\nthreshold-file: /etc/t.conf\n")
	e := loadErr(t, LoadOptions{File: f})
	for _, want := range []string{
		f + `:3: unknown key "stream.reasembly.depth" (did you mean "stream.reassembly.depth"?)`,
		f + `:5: unknown key "threshold-file" (did you mean "detect.threshold-file"?)`,
	} {
		if !strings.Contains(e, want) {
			t.Errorf("error\n%s\nlacks\n%s", e, want)
		}
	}
	if strings.Index(e, ":3:") > strings.Index(e, ":5:") {
		t.Errorf("errors not in file order: %s", e)
	}
	for _, tc := range []struct {
		opts LoadOptions
		want string
	}{
		{LoadOptions{Profile: "pcap-offline", Sets: []string{"stream.memcap=1gb", "stream.memcp=1gb"}}, `--set stream.memcp: unknown key "stream.memcp" (did you mean "stream.memcap"?)`},
		{LoadOptions{Profile: "pcap-offline", Sets: []string{"outputs.eve.typs=alert"}}, `unknown key "outputs.eve.typs" (did you mean "outputs.eve.types"?)`},
		{LoadOptions{Environ: []string{"PATH=/bin", "VIGIL_STREAM_MEMCP=1gb"}}, `environment: unknown variable VIGIL_STREAM_MEMCP (did you mean VIGIL_STREAM_MEMCAP?)`},
		{LoadOptions{File: writeFile(t, "p.yaml", "outputs:\n  pipes:\n    - name: a\n      feilds: [dns.query]\n      socket: /x\n")},
			`:4: unknown key "outputs.pipes.0.feilds" (did you mean "outputs.pipes.0.fields"?)`},
		{LoadOptions{File: writeFile(t, "c.yaml", "capture:\n  afxdp:\n    ring-sise: 64\n")}, `did you mean "capture.afxdp.ring-size"?`},
	} {
		if e := loadErr(t, tc.opts); !strings.Contains(e, tc.want) {
			t.Errorf("%+v:\n got %s\nwant %s", tc.opts, e, tc.want)
		}
	}
}

func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		opts LoadOptions
		want string
	}{
		{LoadOptions{File: writeFile(t, "v.yaml", "flow:\n  memcap: 1gb\nstream:\n  memcap: lots\n")}, `v.yaml:4: stream.memcap: "lots" is not a size (like 64mb)`},
		{LoadOptions{Sets: []string{"stream.midstream=perhaps"}}, `--set stream.midstream: stream.midstream: "perhaps" is not a boolean`},
		{LoadOptions{Environ: []string{"VIGIL_WORKERS=many"}}, `environment VIGIL_WORKERS: workers: "many" is not a number or auto`},
		{LoadOptions{Sets: []string{"runmode=fast"}}, `runmode: "fast" is not single, workers or autofp`},
		{LoadOptions{Sets: []string{"capture.afxdp.ring-size=1000"}}, `capture.afxdp.ring-size: 1000 is not a power of two`},
		{LoadOptions{Sets: []string{"capture.nfqueue.queues=3:1"}}, `capture.nfqueue.queues: "3:1" is not a queue number or range`},
		{LoadOptions{Sets: []string{"ips.bridge=[eth1]", "ips.enabled=yes"}}, `ips.bridge: ["eth1"]: want two different interfaces`},
		{LoadOptions{Sets: []string{"host-os-policy.beos=[10.0.0.0/8]"}}, `host-os-policy: "beos" is not bsd`},
		{LoadOptions{Sets: []string{"host-os-policy.linux=[10.0.0.0/33]"}}, `host-os-policy.linux: "10.0.0.0/33" is not an address`},
		{LoadOptions{File: writeFile(t, "s.yaml", "stream: 5\n")}, `s.yaml:1: stream: "5" where a section is expected`},
		{LoadOptions{Sets: []string{"prometheus.listen=9101"}}, `prometheus.listen: "9101" is not host:port`},
		{LoadOptions{Sets: []string{"capture.backend=nfqueue"}}, `ips.enabled: no with backend nfqueue`},
	} {
		if e := loadErr(t, tc.opts); !strings.Contains(e, tc.want) {
			t.Errorf("%+v:\n got %s\nwant %s", tc.opts, e, tc.want)
		}
	}
}

func TestLayerPrecedence(t *testing.T) {
	f := writeFile(t, "vigil.yaml", "stream:\n  memcap: 100mb\ncapture:\n  interfaces: eth1,eth2\ndetect:\n  vars:\n    address-groups:\n      My_Net: 10.1.0.0/16\n")
	env := []string{"VIGIL_STREAM_MEMCAP=200mb", "VIGIL_DETECT_VARS_ADDRESS_GROUPS_HOME_NET=[10.0.0.0/8]", "OTHER=1"}
	set := []string{"stream.memcap=300mb", "capture.interfaces=[eth3, eth4]"}
	for _, tc := range []struct {
		opts   LoadOptions
		memcap Size
		ifaces []string
	}{
		{LoadOptions{}, 64 << 20, []string{}},
		{LoadOptions{File: f}, 100 << 20, []string{"eth1", "eth2"}},
		{LoadOptions{File: f, Environ: env}, 200 << 20, []string{"eth1", "eth2"}},
		{LoadOptions{File: f, Environ: env, Sets: set}, 300 << 20, []string{"eth3", "eth4"}},
		{LoadOptions{Environ: env, Sets: set[1:]}, 200 << 20, []string{"eth3", "eth4"}},
	} {
		c := mustLoad(t, tc.opts)
		if c.Stream.Memcap != tc.memcap || !slices.Equal(c.Capture.Interfaces, tc.ifaces) {
			t.Errorf("%+v: memcap %v, interfaces %q", tc.opts, c.Stream.Memcap, c.Capture.Interfaces)
		}
	}
	c := mustLoad(t, LoadOptions{File: f, Environ: env})
	vars := c.Detect.Vars.AddressGroups
	if vars["My_Net"] != "10.1.0.0/16" || vars["HOME_NET"] != "[10.0.0.0/8]" || vars["EXTERNAL_NET"] != "!$HOME_NET" {
		t.Errorf("vars (names keep their case, merge by name): %v", vars)
	}
	// The profile: --profile > --set > environment > file > default.
	pf := writeFile(t, "p.yaml", "profile: ids-afxdp\n")
	for _, tc := range []struct {
		opts LoadOptions
		want string
	}{
		{LoadOptions{File: pf}, "ids-afxdp"},
		{LoadOptions{File: pf, Environ: []string{"VIGIL_PROFILE=ips-nfqueue"}}, "ips-nfqueue"},
		{LoadOptions{File: pf, Environ: []string{"VIGIL_PROFILE=ips-nfqueue"}, Sets: []string{"profile=ips-dpdk"}}, "ips-dpdk"},
		{LoadOptions{File: pf, Sets: []string{"profile=ips-dpdk"}, Profile: "lab-single"}, "lab-single"},
	} {
		c := mustLoad(t, tc.opts)
		if c.Profile != tc.want {
			t.Errorf("%+v: profile %s, want %s", tc.opts, c.Profile, tc.want)
		}
		info, _ := profileInfo(tc.want)
		base := mustLoad(t, LoadOptions{Profile: info.Name})
		if c.Capture.Backend != base.Capture.Backend || c.Runmode != base.Runmode {
			t.Errorf("%+v: backend %s runmode %s, profile has %s %s", tc.opts, c.Capture.Backend, c.Runmode, base.Capture.Backend, base.Runmode)
		}
	}
	// A bridge of two capture interfaces needs no ips.bridge.
	c = mustLoad(t, LoadOptions{Profile: "ips-afxdp-bridge", Sets: []string{"capture.interfaces=eth1,eth2"}})
	if !slices.Equal(c.IPS.Bridge, []string{"eth1", "eth2"}) || !c.IPS.Enabled {
		t.Errorf("bridge %q", c.IPS.Bridge)
	}
	// A pipe command string runs with sh -c.
	pp := writeFile(t, "pipe.yaml", "outputs:\n  pipes:\n    - name: ua\n      fields: http.user_agent,dns.query\n      command: logger -t vigil\n      queue: 1mb\n")
	s := mustLoad(t, LoadOptions{File: pp}).Settings()
	if len(s.Pipes) != 1 || !slices.Equal(s.Pipes[0].Command, []string{"/bin/sh", "-c", "logger -t vigil"}) ||
		!slices.Equal(s.Pipes[0].Fields, []string{"http.user_agent", "dns.query"}) || s.Pipes[0].QueueBytes != 1<<20 {
		t.Errorf("pipes %+v", s.Pipes)
	}
}

func TestConfigSettings(t *testing.T) {
	c := mustLoad(t, LoadOptions{Sets: []string{
		"detect.rule-path=/r", "detect.rule-files=[a.rules, /abs/b.rules]", "outputs.eve.types=[alert, dns]",
		"outputs.eve.http.dump-all-headers=request", "host-os-policy.linux=[10.0.0.0/8]", "host-os-policy.windows=[]",
		"stream.reassembly.depth=0", "app-layer.protocols.tls.ja3-fingerprints=yes", "defrag.policy=linux",
		"flow.timeouts.tcp.established=1h",
	}})
	s := c.Settings()
	if !slices.Equal(s.RuleFiles, []string{"/r/a.rules", "/abs/b.rules"}) {
		t.Errorf("rule files %q", s.RuleFiles)
	}
	if !s.EVE.Alerts || !s.EVE.DNS || s.EVE.HTTP || s.EVE.FlowRecords || !s.EVE.HTTPDumpRequest || s.EVE.HTTPDumpResponse || s.EVE.JA3 != "yes" {
		t.Errorf("eve %+v", s.EVE)
	}
	if !reflect.DeepEqual(s.Stream.HostOSPolicy, map[string][]string{"linux": {"10.0.0.0/8"}}) || s.Stream.Depth != 0 {
		t.Errorf("stream %+v", s.Stream)
	}
	if s.Defrag.Policy != "linux" || s.Flow.TCP.Established != time.Hour || s.Flow.UDP.New != 30*time.Second {
		t.Errorf("defrag %+v flow %+v", s.Defrag, s.Flow)
	}
}
