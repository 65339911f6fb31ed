package profiles

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// stock is Suricata 8.0.6's suricata.yaml (see its header).
const stock = "testdata/suricata-8.0.6.yaml"

func TestSuricataStockYAML(t *testing.T) {
	if !IsSuricataYAML(stock) {
		t.Fatal("the stock suricata.yaml is not recognised")
	}
	c := mustLoad(t, LoadOptions{File: stock})
	if !c.SuricataFile || c.Profile != "pcap-offline" {
		t.Errorf("SuricataFile %v, profile %s", c.SuricataFile, c.Profile)
	}
	d := &c.Detect
	if d.Vars.AddressGroups["HOME_NET"] != "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]" || d.Vars.PortGroups["ORACLE_PORTS"] != "1521" ||
		d.Vars.PortGroups["SIP_PORTS"] != "[5060, 5061]" || len(d.Vars.AddressGroups) != 15 {
		t.Errorf("vars %v %v", d.Vars.AddressGroups, d.Vars.PortGroups)
	}
	if d.RulePath != "/var/lib/suricata/rules" || !slices.Equal(d.RuleFiles, []string{"suricata.rules"}) ||
		d.ClassificationFile != "/etc/suricata/classification.config" || d.ReferenceConfig != "/etc/suricata/reference.config" ||
		d.ThresholdFile != "" || d.Profile != "medium" || d.PacketAlertMax != 15 || d.MPM != "auto" {
		t.Errorf("detect %+v", d)
	}
	o := &c.Outputs
	if o.LogDir != "/var/log/suricata/" || !o.EVE.Enabled || o.EVE.Filename != "eve.json" ||
		!slices.Equal(o.EVE.Types, []string{"alert", "anomaly", "http", "dns", "tls", "flow"}) ||
		!o.EVE.Alert.TaggedPackets || !o.EVE.HTTP.Extended || !o.EVE.TLS.Extended || !o.Fast.Enabled ||
		!o.Stats.Enabled || !o.Stats.EVE || o.Stats.Interval != 8*time.Second || o.Stats.Filename != "stats.log" {
		t.Errorf("outputs %+v", o)
	}
	if c.Stream.Memcap != 64<<20 || c.Stream.Reassembly.Memcap != 256<<20 || c.Stream.Reassembly.Depth != 1<<20 || c.Stream.Inline != "auto" {
		t.Errorf("stream %+v", c.Stream)
	}
	if !reflect.DeepEqual(c.HostOSPolicy, map[string][]string{"windows": {"0.0.0.0/0"}}) {
		t.Errorf("host-os-policy %v", c.HostOSPolicy)
	}
	if c.Flow.Memcap != 128<<20 || c.Flow.HashSize != 65536 || c.Flow.Prealloc != 10000 || c.Flow.EmergencyRecovery != 30 ||
		c.Flow.Timeouts.TCP.Established != 600*time.Second || c.Flow.Timeouts.TCP.EmergencyClosed != 10*time.Second ||
		c.Flow.Timeouts.UDP.Bypassed != 100*time.Second {
		t.Errorf("flow %+v", c.Flow)
	}
	if c.Defrag.Memcap != 32<<20 || c.Defrag.Timeout != 60*time.Second || c.Defrag.Trackers != 65535 || c.Defrag.MaxFrags != 1024 {
		t.Errorf("defrag %+v", c.Defrag)
	}
	a := &c.AppLayer.Protocols
	if !a.HTTP.Enabled || !a.DNS.Enabled || !a.TLS.Enabled || a.HTTP.RequestBodyLimit != 100<<10 || a.HTTP.ResponseBodyLimit != 100<<10 {
		t.Errorf("app-layer %+v", a)
	}
	for _, want := range []string{"logging", "af-packet", "af-xdp", "dpdk", "nfq", "pcap", "threading.cpu-affinity",
		"outputs.2.tls-store", "outputs.1.eve-log.types.13.smb", "outputs.1.eve-log.types.9.websocket",
		"outputs.1.eve-log.xff", "outputs.0.fast.append", "app-layer.protocols.smb", "stream.checksum-validation",
		"defrag.max-frags", "detect.thresholds", "suricata-version", "heartbeat"} {
		if !slices.Contains(c.Ignored, want) {
			t.Errorf("ignored keys lack %s", want)
		}
	}
	for _, k := range c.Ignored {
		for _, used := range []string{"vars", "rule-files", "default-log-dir", "stream.memcap", "flow.memcap", "flow-timeouts",
			"host-os-policy", "outputs.1.eve-log.types.0", "outputs.1.eve-log.enabled", "app-layer.protocols.http.enabled",
			"app-layer.protocols.dns", "defrag.memcap", "stats.interval", "outputs.5.stats.enabled"} {
			if k == used || strings.HasPrefix(used, k+".") {
				t.Errorf("%s is mapped but listed as ignored (%s)", used, k)
			}
		}
	}
	if !slices.IsSortedFunc(c.Ignored, func(a, b string) int {
		if naturalLess(a, b) {
			return -1
		}
		return 1
	}) {
		t.Errorf("ignored keys not sorted: %v", c.Ignored)
	}

	// FromSuricata on the tree gives the same, and so does Tree.Settings.
	tree, err := LoadFile(stock)
	if err != nil {
		t.Fatal(err)
	}
	fc, ign, err := FromSuricata(tree)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ign, c.Ignored) || fc.Stream != c.Stream || fc.Outputs.LogDir != c.Outputs.LogDir {
		t.Errorf("FromSuricata differs from Load")
	}
	s, err := tree.Settings()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Ignored, ign) || !slices.Equal(s.RuleFiles, []string{"/var/lib/suricata/rules/suricata.rules"}) ||
		s.Stream.HostOSPolicy["windows"][0] != "0.0.0.0/0" || !s.Stats.EVE || s.Flow.Memcap != 128<<20 {
		t.Errorf("settings %+v", s)
	}
}

// The interface section of the backend in use is mapped; the others are
// ignored.
func TestSuricataCaptureSections(t *testing.T) {
	c := mustLoad(t, LoadOptions{File: stock, Profile: "ids-afpacket"})
	ap := c.Capture.AFPacket
	if !slices.Equal(c.Capture.Interfaces, []string{"eth0"}) || ap.FanoutGroup != 99 || ap.Fanout != "hash" || !ap.Defrag || c.IPS.Enabled {
		t.Errorf("af-packet: interfaces %q, %+v", c.Capture.Interfaces, ap)
	}
	if slices.Contains(c.Ignored, "af-packet") || !slices.Contains(c.Ignored, "af-xdp") {
		t.Errorf("ignored %v", c.Ignored)
	}

	ips := writeFile(t, "ips.yaml", `%YAML 1.1
---
af-packet:
  - interface: eth1
    cluster-id: 97
    cluster-type: cluster_qm
    copy-mode: ips
    copy-iface: eth2
    block-size: 65536
    block-timeout: 20
    tpacket-v3: no
  - interface: eth2
    cluster-id: 97
    cluster-type: cluster_qm
    copy-mode: ips
    copy-iface: eth1
    block-size: 131072
  - interface: default
    defrag: no
threading:
  set-cpu-affinity: yes
  cpu-affinity:
    - management-cpu-set:
        cpu: [ 0 ]
    - worker-cpu-set:
        cpu: [ "2-3", 5 ]
        threads: 3
runmode: workers
`)
	c = mustLoad(t, LoadOptions{File: ips, Profile: "ids-afpacket"})
	ap = c.Capture.AFPacket
	if !slices.Equal(c.Capture.Interfaces, []string{"eth1", "eth2"}) || !slices.Equal(c.IPS.Bridge, []string{"eth1", "eth2"}) ||
		!c.IPS.Enabled || ap.CopyMode != "ips" || ap.FanoutGroup != 97 || ap.Fanout != "qm" || ap.Defrag ||
		ap.BlockSize != 65536 || ap.BlockTimeout != 20*time.Millisecond {
		t.Errorf("af-packet ips: %q %q %+v", c.Capture.Interfaces, c.IPS.Bridge, ap)
	}
	if c.CPU.Management != "0" || c.CPU.Worker != "2-3,5" || c.Workers != 3 || c.Runmode != "workers" {
		t.Errorf("threading: %+v workers %d runmode %s", c.CPU, c.Workers, c.Runmode)
	}
	if want := []string{"af-packet.0.tpacket-v3", "af-packet.1.block-size"}; !slices.Equal(c.Ignored, want) {
		t.Errorf("ignored %q, want %q", c.Ignored, want)
	}

	nfq := writeFile(t, "nfq.yaml", "%YAML 1.1\n---\nnfq:\n  mode: repeat\n  repeat-mark: 0x10\n  repeat-mask: 0x10\n  bypass-mark: 2\n  bypass-mask: 2\n  fail-open: no\n  batchcount: 20\n")
	c = mustLoad(t, LoadOptions{File: nfq, Profile: "ips-nfqueue"})
	q := c.Capture.NFQueue
	if q.VerdictMode != "repeat" || q.Mark != 16 || q.Mask != 16 || q.BypassMark != 2 || q.FailOpen || q.Queues != "0:6" {
		t.Errorf("nfq %+v", q)
	}
	if !slices.Equal(c.Ignored, []string{"nfq.batchcount"}) {
		t.Errorf("ignored %q", c.Ignored)
	}

	c = mustLoad(t, LoadOptions{File: stock, Profile: "ips-dpdk"})
	if !slices.Equal(c.Capture.DPDK.Ports, []string{"0000:3b:00.0"}) || !slices.Equal(c.Capture.DPDK.EALArgs, []string{"--proc-type=primary"}) ||
		c.IPS.Enabled || c.Capture.DPDK.RxDescriptors != 4096 {
		t.Errorf("dpdk %+v ips %v", c.Capture.DPDK, c.IPS.Enabled)
	}

	xdp := writeFile(t, "xdp.yaml", "%YAML 1.1\n---\naf-xdp:\n  - interface: ens1\n    force-xdp-mode: skb\n    force-bind-mode: zero\n    busy-poll-time: 50\n  - interface: default\n")
	c = mustLoad(t, LoadOptions{File: xdp, Profile: "ids-afxdp"})
	x := c.Capture.AFXDP
	if !slices.Equal(c.Capture.Interfaces, []string{"ens1"}) || x.XDPMode != "generic" || x.Mode != "zerocopy" || x.BusyPollTime != 50*time.Microsecond {
		t.Errorf("af-xdp %q %+v", c.Capture.Interfaces, x)
	}
}

func TestSuricataOutputs(t *testing.T) {
	f := writeFile(t, "s.yaml", `%YAML 1.1
---
stats:
  enabled: no
outputs:
  - eve-log:
      enabled: yes
      filename: alerts.json
      types:
        - alert:
            payload: yes
            metadata: no
            http-body: yes
        - http:
            dump-all-headers: both
            custom: [Accept]
        - dns:
            enabled: no
        - anomaly:
            enabled: yes
            types:
              decode: yes
        - stats
        - smtp
  - eve-log:
      enabled: yes
      filename: second.json
  - pipe:
      enabled: yes
      fields: [dns.query]
      command: [/usr/bin/logger, -t, vigil]
stream:
  memcap-policy: drop-packet
  bypass: yes
app-layer:
  protocols:
    tls:
      encryption-handling: bypass
      ja3-fingerprints: yes
    dns:
      udp:
        enabled: no
      tcp:
        enabled: no
    http:
      enabled: detection-only
`)
	c := mustLoad(t, LoadOptions{File: f})
	e := c.Outputs.EVE
	if e.Filename != "alerts.json" || !slices.Equal(e.Types, []string{"alert", "http", "anomaly"}) || !e.Alert.Payload ||
		e.Alert.Metadata || e.HTTP.DumpAllHeaders != "both" || !e.Anomaly.Decode || c.Outputs.Fast.Enabled ||
		c.Outputs.Stats.Enabled || c.Outputs.Stats.EVE {
		t.Errorf("eve %+v fast %v stats %+v", e, c.Outputs.Fast.Enabled, c.Outputs.Stats)
	}
	if len(c.Outputs.Pipes) != 1 || c.Outputs.Pipes[0].Name != "pipe1" || !slices.Equal([]string(c.Outputs.Pipes[0].Command), []string{"/usr/bin/logger", "-t", "vigil"}) {
		t.Errorf("pipes %+v", c.Outputs.Pipes)
	}
	if c.Stream.MemcapPolicy != "drop-flow" || !c.Bypass.Enabled || !slices.Equal(c.Bypass.Triggers, []string{"stream-depth"}) {
		t.Errorf("stream %+v bypass %+v", c.Stream, c.Bypass)
	}
	p := c.AppLayer.Protocols
	if p.TLS.EncryptionHandling != "bypass" || p.TLS.JA3Fingerprints != "yes" || p.DNS.Enabled || !p.HTTP.Enabled {
		t.Errorf("app-layer %+v", p)
	}
	want := []string{"outputs.0.eve-log.types.0.alert.http-body", "outputs.0.eve-log.types.1.http.custom",
		"outputs.0.eve-log.types.5.smtp", "outputs.1.eve-log.filename"}
	if !slices.Equal(c.Ignored, want) {
		t.Errorf("ignored\n %q\nwant\n %q", c.Ignored, want)
	}
	s := c.Settings()
	if s.EVE.DNS || !s.EVE.HTTPDumpRequest || !s.EVE.AnomalyDecode || s.EVE.FlowRecords || !s.EVE.Alerts || !s.EVE.Anomaly {
		t.Errorf("settings eve %+v", s.EVE)
	}
}

func TestSuricataSets(t *testing.T) {
	// --set on a suricata.yaml names Suricata keys.
	c := mustLoad(t, LoadOptions{File: stock, Sets: []string{"stream.inline=yes", "outputs.1.eve-log.types.2.anomaly.types.stream=yes",
		"packet-alert-max=0", "threshold-file=/t.conf"}})
	if c.Stream.Inline != "yes" || !c.Outputs.EVE.Anomaly.Stream || c.Detect.PacketAlertMax != 15 || c.Detect.ThresholdFile != "/t.conf" {
		t.Errorf("sets on the stock file: inline %s anomaly %+v alert-max %d threshold %q", c.Stream.Inline, c.Outputs.EVE.Anomaly, c.Detect.PacketAlertMax, c.Detect.ThresholdFile)
	}
	// Without a file, Suricata keys make the --sets Suricata's (what
	// suricata-verify passes); Vigil keys alone are Vigil's.
	c = mustLoad(t, LoadOptions{Sets: []string{"stream.midstream=true", "threshold-file=/x", "stats.decoder-events=true", "packet-alert-max=32"}})
	if !c.SuricataFile || !c.Stream.Midstream || c.Detect.ThresholdFile != "/x" || c.Detect.PacketAlertMax != 32 ||
		!slices.Equal(c.Ignored, []string{"stats"}) {
		t.Errorf("suricata sets: %v %v %q %d %q", c.SuricataFile, c.Stream.Midstream, c.Detect.ThresholdFile, c.Detect.PacketAlertMax, c.Ignored)
	}
	c = mustLoad(t, LoadOptions{Sets: []string{"stream.midstream=true", "detect.threshold-file=/x"}})
	if c.SuricataFile || !c.Stream.Midstream || c.Detect.ThresholdFile != "/x" {
		t.Errorf("vigil sets: %v %v %q", c.SuricataFile, c.Stream.Midstream, c.Detect.ThresholdFile)
	}
	// Bad Suricata values name the Suricata key.
	for _, tc := range []struct{ set, want string }{
		{"packet-alert-max=lots", `packet-alert-max: "lots" is not an integer`},
		{"stream.memcap=lots", `--set: stream.memcap: stream.memcap: "lots" is not a size`},
		{"stream.inline=maybe", `stream.inline: "maybe" is not auto, yes or no`},
		{"flow-timeouts.tcp.new=soon", `--set: flow-timeouts.tcp.new: flow.timeouts.tcp.new: "soon" is not a duration`},
	} {
		if e := loadErr(t, LoadOptions{Sets: []string{"threshold-file=/x", tc.set}}); !strings.Contains(e, tc.want) {
			t.Errorf("%s: %s\nwant %s", tc.set, e, tc.want)
		}
	}
	if e := loadErr(t, LoadOptions{File: stock, Sets: []string{"stream.memcap=lots"}}); !strings.Contains(e, stock+": stream.memcap: stream.memcap: \"lots\"") {
		t.Errorf("file error: %s", e)
	}
}

func TestIsSuricataYAML(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{"%YAML 1.1\n---\nstream:\n  midstream: true\n", true},
		{"outputs:\n  - fast:\n      enabled: yes\n", true},
		{"vars:\n  address-groups:\n    HOME_NET: any\n", true},
		{"default-log-dir: /tmp\n", true},
		{"stream:\n  midstream: true\n", false},
		{"outputs:\n  eve:\n    enabled: no\n", false},
		{"profile: ids-afxdp\nthreshold-file: /x\n", false},
		{"[not a map", false},
		{"", false},
	} {
		if got := IsSuricataYAML(writeFile(t, "f.yaml", tc.body)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.body, got, tc.want)
		}
	}
	if IsSuricataYAML("/nonexistent/suricata.yaml") {
		t.Error("a missing file is not a suricata.yaml")
	}
}

// No configuration at all gives exactly the engine's defaults.
func TestEmptyTreeIsDefaultSettings(t *testing.T) {
	s, err := NewTree().Settings()
	if err != nil {
		t.Fatal(err)
	}
	if def := DefaultSettings(); !reflect.DeepEqual(s, def) {
		t.Errorf("empty tree\n %+v\nwant\n %+v", s, def)
	}
}

// Drop records, the midstream exception policy and Suricata's built-in
// flow timeouts (a suricata.yaml without flow-timeouts).
func TestSuricataDropMidstreamTimeouts(t *testing.T) {
	f := writeFile(t, "suricata.yaml", `%YAML 1.1
---
exception-policy: auto
outputs:
  - eve-log:
      enabled: yes
      types:
        - alert
        - drop:
            alerts: yes
            flows: all
`)
	c := mustLoad(t, LoadOptions{File: f})
	s := c.Settings()
	if !s.EVE.Drop || !s.EVE.DropAlerts || s.EVE.DropFlowsStart || !slices.Equal(c.Outputs.EVE.Types, []string{"alert", "drop"}) {
		t.Errorf("drop settings %+v types %v", s.EVE, c.Outputs.EVE.Types)
	}
	if c.Stream.MidstreamPolicy != "auto" {
		t.Errorf("midstream-policy %q from exception-policy auto", c.Stream.MidstreamPolicy)
	}
	if s.Flow.TCP.Closed != 10*time.Second || s.Flow.TCP.New != 30*time.Second || s.Flow.UDP.Established != 300*time.Second {
		t.Errorf("built-in timeouts not applied: tcp %+v udp %+v", s.Flow.TCP, s.Flow.UDP)
	}

	f = writeFile(t, "suricata.yaml", `%YAML 1.1
---
exception-policy: drop-packet
stream:
  midstream-policy: pass-flow
flow-timeouts:
  tcp:
    closed: 20
outputs:
  - eve-log:
      enabled: yes
      types:
        - drop
`)
	c = mustLoad(t, LoadOptions{File: f})
	s = c.Settings()
	if c.Stream.MidstreamPolicy != "pass-flow" || !s.EVE.DropFlowsStart || s.EVE.DropAlerts {
		t.Errorf("midstream-policy %q, drop %+v", c.Stream.MidstreamPolicy, s.EVE)
	}
	if s.Flow.TCP.Closed != 20*time.Second || s.Flow.TCP.New != 60*time.Second {
		t.Errorf("flow-timeouts given: tcp %+v", s.Flow.TCP)
	}

	f = writeFile(t, "suricata.yaml", "%YAML 1.1\n---\nstream:\n  midstream-policy: sometimes\n")
	if _, err := Load(LoadOptions{File: f}); err == nil || !strings.Contains(err.Error(), "midstream-policy") {
		t.Errorf("bad midstream-policy: %v", err)
	}
}
