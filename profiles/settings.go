package profiles

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Settings are the typed values the engine reads, from a Config
// ((*Config).Settings) or a suricata.yaml tree ((*Tree).Settings).
type Settings struct {
	// AddrVars and PortVars are vars.address-groups and vars.port-groups.
	// Nil means "use the defaults of Suricata's stock suricata.yaml".
	AddrVars map[string]string
	PortVars map[string]string

	// RuleFiles are the rule files named by the config (default-rule-path
	// joined to each of rule-files).
	RuleFiles []string

	ClassificationFile string // "" = built-in stock classification.config
	ReferenceFile      string
	ThresholdFile      string

	// PacketAlertMax is how many alerts one packet may raise (Suricata's
	// packet-alert-max, default 15).
	PacketAlertMax int

	// LogDir is default-log-dir ("" when not set).
	LogDir string

	EVE  EVESettings
	Fast FastSettings

	Stream   StreamSettings
	AppLayer AppLayerSettings

	// Pipes are the outputs' pipe entries (Vigil's own output type).
	Pipes []PipeSettings

	Flow   FlowSettings
	Defrag DefragSettings
	Stats  StatsSettings

	// Ignored lists, for a suricata.yaml, the dotted keys of the file
	// that Vigil does not use (see FromSuricata), so that `vigil -T` and
	// `vigil config check` can say so.
	Ignored []string
}

// EVESettings are the eve-log output options Vigil honours.
type EVESettings struct {
	Enabled  bool
	Filename string
	// Alert record options (types: - alert: {payload: yes, ...}).
	Payload          bool
	PayloadPrintable bool
	Packet           bool
	Metadata         bool
	Flow             bool // alert.flow object (default yes)
	// FlowRecords writes "flow" records when flows end (types: - flow).
	FlowRecords bool
	// TaggedPackets writes "packet" records for tagged packets (alert
	// option tagged-packets, default yes as in Suricata's suricata.yaml).
	TaggedPackets bool
	// Ethernet, PcapFile and Verdict add "ether", "pcap_filename" and
	// (alerts) "verdict" to records.
	Ethernet, PcapFile, Verdict bool
	// Alerts, HTTP, DNS, TLS and Anomaly say which other record types
	// the types list names (all on without a config file).
	Alerts, HTTP, DNS, TLS, Anomaly bool
	// HTTPExtended (http: extended, default yes), HTTPDumpRequest /
	// HTTPDumpResponse (dump-all-headers).
	HTTPExtended                      bool
	HTTPDumpRequest, HTTPDumpResponse bool
	// DNSRequests and DNSResponses (dns: requests / responses, default
	// yes).
	DNSRequests, DNSResponses bool
	// TLSExtended (tls: extended, default yes).
	TLSExtended bool
	// AnomalyDecode, AnomalyStream and AnomalyAppLayer are the anomaly
	// types (decode and stream off, applayer on by default).
	AnomalyDecode, AnomalyStream, AnomalyAppLayer bool
	// Drop writes drop records (types: - drop); DropAlerts adds the
	// dropping rule's alert, DropFlowsStart keeps only the first drop of
	// each flow direction (flows: start).
	Drop, DropAlerts, DropFlowsStart bool
	// JA3 and JA4 are app-layer.protocols.tls.ja3-fingerprints /
	// ja4-fingerprints (default off; "auto" turns them on when a rule
	// uses them).
	JA3, JA4 string
}

// PipeSettings describe one output pipe: chosen app-layer fields as
// lines to a Unix socket or a command.
//
//	outputs:
//	  - pipe:
//	      enabled: yes
//	      name: useragents
//	      fields: [http.user_agent, dns.query]
//	      socket: /run/vigil/fields.sock   # or command: "logger -t vigil"
//	      format: text                     # or json
//	      queue: 1mb
type PipeSettings struct {
	Name       string
	Fields     []string
	Socket     string
	Datagram   bool
	Command    []string
	Format     string
	QueueBytes int
}

// FlowSettings are the flow table's settings (flow, flow.timeouts).
type FlowSettings struct {
	Memcap            uint64
	HashSize          int
	Prealloc          int
	EmergencyRecovery int
	// Timeouts per protocol class: default, tcp, udp, icmp.
	Default, TCP, UDP, ICMP Timeouts
}

// DefragSettings are IP fragment reassembly's settings.
type DefragSettings struct {
	Memcap   uint64
	Timeout  time.Duration
	Trackers int
	MaxFrags int
	// Policy is the overlap policy of hosts host-os-policy does not name.
	Policy string
	// HostOSPolicy is host-os-policy, as for the stream.
	HostOSPolicy map[string][]string
}

// StatsSettings are the periodic counters' outputs.
type StatsSettings struct {
	Enabled  bool // stats.log
	Interval time.Duration
	Filename string
	EVE      bool // stats records in EVE
}

// FastSettings are the fast.log output options.
type FastSettings struct {
	Enabled  bool
	Filename string
}

// DefaultSettings are the settings with no configuration file (the
// pcap-offline profile's, with Suricata's built-in rule variables).
func DefaultSettings() *Settings {
	to := func(n, e, c, b, en, ee, ec, eb int) Timeouts {
		s := time.Second
		return Timeouts{time.Duration(n) * s, time.Duration(e) * s, time.Duration(c) * s, time.Duration(b) * s,
			time.Duration(en) * s, time.Duration(ee) * s, time.Duration(ec) * s, time.Duration(eb) * s}
	}
	return &Settings{
		LogDir: ".",
		Flow: FlowSettings{Memcap: 128 << 20, HashSize: 65536, Prealloc: 10000, EmergencyRecovery: 30,
			Default: to(30, 300, 0, 100, 10, 100, 0, 50), TCP: to(60, 600, 60, 100, 5, 100, 10, 50),
			UDP: to(30, 300, 0, 100, 10, 100, 0, 50), ICMP: to(30, 300, 0, 100, 10, 100, 0, 50)},
		Defrag:         DefragSettings{Memcap: 32 << 20, Timeout: 60 * time.Second, Trackers: 65535, MaxFrags: 1024, Policy: "bsd"},
		Stats:          StatsSettings{Enabled: true, EVE: true, Interval: 8 * time.Second, Filename: "stats.log"},
		PacketAlertMax: 15,
		EVE: EVESettings{Enabled: true, Filename: "eve.json", Metadata: true, Flow: true, FlowRecords: true,
			Alerts: true, TaggedPackets: true, HTTP: true, DNS: true, TLS: true, Anomaly: true, HTTPExtended: true,
			DNSRequests: true, DNSResponses: true, TLSExtended: true, AnomalyAppLayer: true, DropFlowsStart: true, JA3: "auto", JA4: "auto"},
		Fast:     FastSettings{Enabled: true, Filename: "fast.log"},
		Stream:   defaultStream(),
		AppLayer: defaultAppLayer(),
	}
}

func stringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = strings.TrimSpace(x)
		case nil:
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// Settings reads the typed settings out of a suricata.yaml tree: it maps
// the tree with FromSuricata and returns the Config's Settings, with the
// keys the mapping did not use in Ignored. Errors name the key.
func (t *Tree) Settings() (*Settings, error) {
	cfg, ignored, err := FromSuricata(t)
	if err != nil {
		return nil, err
	}
	s := cfg.Settings()
	s.Ignored = ignored
	return s, nil
}

// Settings returns the engine settings of a loaded configuration. Rule
// files are joined to detect.rule-path; empty rule variable groups and
// host-os-policy are nil ("the built-in defaults").
func (c *Config) Settings() *Settings {
	s := &Settings{
		RuleFiles:          nil,
		ClassificationFile: c.Detect.ClassificationFile,
		ReferenceFile:      c.Detect.ReferenceConfig,
		ThresholdFile:      c.Detect.ThresholdFile,
		PacketAlertMax:     c.Detect.PacketAlertMax,
		LogDir:             c.Outputs.LogDir,
		Ignored:            append([]string(nil), c.Ignored...),
	}
	if len(c.Detect.Vars.AddressGroups) > 0 {
		s.AddrVars = maps.Clone(c.Detect.Vars.AddressGroups)
	}
	if len(c.Detect.Vars.PortGroups) > 0 {
		s.PortVars = maps.Clone(c.Detect.Vars.PortGroups)
	}
	for _, f := range c.Detect.RuleFiles {
		if c.Detect.RulePath != "" && !filepath.IsAbs(f) {
			f = filepath.Join(c.Detect.RulePath, f)
		}
		s.RuleFiles = append(s.RuleFiles, f)
	}

	e, ev := &s.EVE, &c.Outputs.EVE
	has := func(t string) bool { return slices.Contains(ev.Types, t) }
	*e = EVESettings{
		Enabled: ev.Enabled, Filename: ev.Filename,
		Payload: ev.Alert.Payload, PayloadPrintable: ev.Alert.PayloadPrintable, Packet: ev.Alert.Packet,
		Metadata: ev.Alert.Metadata, Flow: ev.Alert.Flow, TaggedPackets: ev.Alert.TaggedPackets,
		Ethernet: ev.Ethernet, PcapFile: ev.PcapFile, Verdict: ev.Alert.Verdict,
		FlowRecords: has("flow"), Alerts: has("alert"), HTTP: has("http"), DNS: has("dns"), TLS: has("tls"), Anomaly: has("anomaly"),
		HTTPExtended:     ev.HTTP.Extended,
		HTTPDumpRequest:  ev.HTTP.DumpAllHeaders == "both" || ev.HTTP.DumpAllHeaders == "request",
		HTTPDumpResponse: ev.HTTP.DumpAllHeaders == "both" || ev.HTTP.DumpAllHeaders == "response",
		DNSRequests:      ev.DNS.Requests, DNSResponses: ev.DNS.Responses,
		TLSExtended:   ev.TLS.Extended,
		AnomalyDecode: ev.Anomaly.Decode, AnomalyStream: ev.Anomaly.Stream, AnomalyAppLayer: ev.Anomaly.AppLayer,
		Drop: has("drop"), DropAlerts: ev.Drop.Alerts, DropFlowsStart: ev.Drop.Flows != "all",
		JA3: c.AppLayer.Protocols.TLS.JA3Fingerprints, JA4: c.AppLayer.Protocols.TLS.JA4Fingerprints,
	}
	s.Fast = FastSettings{Enabled: c.Outputs.Fast.Enabled, Filename: c.Outputs.Fast.Filename}
	s.Stats = StatsSettings{Enabled: c.Outputs.Stats.Enabled, Interval: c.Outputs.Stats.Interval,
		Filename: c.Outputs.Stats.Filename, EVE: c.Outputs.Stats.EVE}

	var hostOS map[string][]string
	for name, nets := range c.HostOSPolicy {
		if len(nets) == 0 {
			continue
		}
		if hostOS == nil {
			hostOS = map[string][]string{}
		}
		hostOS[name] = append([]string(nil), nets...)
	}
	st := &c.Stream
	s.Stream = StreamSettings{
		Memcap: uint64(st.Memcap), ReassemblyMemcap: uint64(st.Reassembly.Memcap), Depth: int64(st.Reassembly.Depth),
		Midstream: st.Midstream, AsyncOneside: st.AsyncOneside, Inline: st.Inline, MemcapPolicy: st.MemcapPolicy,
		MidstreamPolicy: st.MidstreamPolicy,
		HostOSPolicy:    hostOS,
	}
	p := &c.AppLayer.Protocols
	s.AppLayer = AppLayerSettings{HTTP: p.HTTP.Enabled, DNS: p.DNS.Enabled, TLS: p.TLS.Enabled,
		TLSEncryption: p.TLS.EncryptionHandling, RequestBodyLimit: int(p.HTTP.RequestBodyLimit),
		ResponseBodyLimit: int(p.HTTP.ResponseBodyLimit)}
	for _, pc := range c.Outputs.Pipes {
		s.Pipes = append(s.Pipes, PipeSettings{Name: pc.Name, Fields: append([]string(nil), pc.Fields...),
			Socket: pc.Socket, Datagram: pc.Datagram, Command: append([]string(nil), pc.Command...),
			Format: pc.Format, QueueBytes: int(pc.Queue)})
	}
	f := &c.Flow
	s.Flow = FlowSettings{Memcap: uint64(f.Memcap), HashSize: int(f.HashSize), Prealloc: f.Prealloc,
		EmergencyRecovery: f.EmergencyRecovery, Default: f.Timeouts.Default, TCP: f.Timeouts.TCP,
		UDP: f.Timeouts.UDP, ICMP: f.Timeouts.ICMP}
	d := &c.Defrag
	s.Defrag = DefragSettings{Memcap: uint64(d.Memcap), Timeout: d.Timeout, Trackers: d.Trackers,
		MaxFrags: d.MaxFrags, Policy: d.Policy, HostOSPolicy: hostOS}
	return s
}
