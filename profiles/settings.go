package profiles

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Settings are the typed values the engine reads from a configuration tree.
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

	// Ignored lists top-level keys of the file that Vigil does not read yet,
	// so that `vigil -T` can say so.
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

// FastSettings are the fast.log output options.
type FastSettings struct {
	Enabled  bool
	Filename string
}

// known top-level keys: the ones Settings reads, and the ones of a stock
// suricata.yaml whose defaults Vigil already matches or that configure
// features that are not built yet (listed in Ignored).
var readKeys = map[string]bool{
	"vars": true, "default-rule-path": true, "rule-files": true,
	"classification-file": true, "reference-config-file": true, "threshold-file": true,
	"packet-alert-max": true, "default-log-dir": true, "outputs": true,
	"stream": true, "host-os-policy": true, "app-layer": true,
}

// DefaultSettings are the settings with no configuration file.
func DefaultSettings() *Settings {
	return &Settings{
		PacketAlertMax: 15,
		EVE: EVESettings{Enabled: true, Filename: "eve.json", Metadata: true, Flow: true, FlowRecords: true,
			Alerts: true, TaggedPackets: true, HTTP: true, DNS: true, TLS: true, Anomaly: true, HTTPExtended: true,
			DNSRequests: true, DNSResponses: true, TLSExtended: true, AnomalyAppLayer: true, JA3: "auto", JA4: "auto"},
		Fast:     FastSettings{Enabled: true, Filename: "fast.log"},
		Stream:   defaultStream(),
		AppLayer: defaultAppLayer(),
	}
}

// Settings reads the typed settings out of the tree. Errors name the key.
func (t *Tree) Settings() (*Settings, error) {
	s := DefaultSettings()
	var err error
	if m, ok := t.Map("vars.address-groups"); ok {
		s.AddrVars = stringMap(m)
	}
	if m, ok := t.Map("vars.port-groups"); ok {
		s.PortVars = stringMap(m)
	}
	base, _ := t.String("default-rule-path")
	if l, ok := t.List("rule-files"); ok {
		for _, x := range l {
			name, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("rule-files: entry %v is not a file name", x)
			}
			if base != "" && !filepath.IsAbs(name) {
				name = filepath.Join(base, name)
			}
			s.RuleFiles = append(s.RuleFiles, name)
		}
	}
	s.ClassificationFile, _ = t.String("classification-file")
	s.ReferenceFile, _ = t.String("reference-config-file")
	s.ThresholdFile, _ = t.String("threshold-file")
	s.LogDir, _ = t.String("default-log-dir")
	if s.PacketAlertMax, err = t.Int("packet-alert-max", 15); err != nil {
		return nil, err
	}
	// Suricata treats 0 as "use the default"; so do we.
	if s.PacketAlertMax == 0 {
		s.PacketAlertMax = 15
	}
	if s.PacketAlertMax < 1 || s.PacketAlertMax > 65535 {
		return nil, fmt.Errorf("packet-alert-max: %d is outside 1..65535", s.PacketAlertMax)
	}
	if err := t.readStream(s); err != nil {
		return nil, err
	}
	if err := t.readAppLayer(s); err != nil {
		return nil, err
	}
	if v, ok := t.String("app-layer.protocols.tls.ja3-fingerprints"); ok {
		s.EVE.JA3 = strings.ToLower(v)
	}
	if v, ok := t.String("app-layer.protocols.tls.ja4-fingerprints"); ok {
		s.EVE.JA4 = strings.ToLower(v)
	}
	if l, ok := t.List("outputs"); ok {
		// A config with an outputs section decides which outputs run.
		s.EVE.Enabled, s.Fast.Enabled = false, false
		for i := range l {
			if err := t.readOutput(s, i); err != nil {
				return nil, err
			}
		}
	}
	for k := range t.root {
		if !readKeys[k] {
			s.Ignored = append(s.Ignored, k)
		}
	}
	sort.Strings(s.Ignored)
	return s, nil
}

func (t *Tree) readOutput(s *Settings, i int) error {
	prefix := fmt.Sprintf("outputs.%d", i)
	m, ok := t.Map(prefix)
	if !ok {
		return nil
	}
	for name := range m {
		key := prefix + "." + name
		enabled, err := t.Bool(key+".enabled", false)
		if err != nil {
			return err
		}
		switch name {
		case "eve-log":
			s.EVE.Enabled = enabled
			if f, ok := t.String(key + ".filename"); ok && f != "" {
				s.EVE.Filename = f
			}
			types, _ := t.List(key + ".types")
			e := &s.EVE
			e.FlowRecords, e.Alerts, e.HTTP, e.DNS, e.TLS, e.Anomaly = false, false, false, false, false, false
			for j, ty := range types {
				var name string
				switch v := ty.(type) {
				case string:
					name = v
				case map[string]any:
					for k := range v {
						name = k
					}
				}
				tkey := fmt.Sprintf("%s.types.%d.%s", key, j, name)
				switch name {
				case "flow":
					e.FlowRecords = true
				case "alert":
					e.Alerts = true
				case "http":
					e.HTTP = true
					if e.HTTPExtended, err = t.Bool(tkey+".extended", true); err != nil {
						return err
					}
					if v, ok := t.String(tkey + ".dump-all-headers"); ok {
						v = strings.ToLower(v)
						e.HTTPDumpRequest = v == "both" || v == "request"
						e.HTTPDumpResponse = v == "both" || v == "response"
					}
				case "dns":
					e.DNS = true
					if e.DNSRequests, err = t.Bool(tkey+".requests", true); err != nil {
						return err
					}
					if e.DNSResponses, err = t.Bool(tkey+".responses", true); err != nil {
						return err
					}
				case "tls":
					e.TLS = true
					if e.TLSExtended, err = t.Bool(tkey+".extended", true); err != nil {
						return err
					}
				case "anomaly":
					if e.Anomaly, err = t.Bool(tkey+".enabled", true); err != nil {
						return err
					}
					if e.AnomalyDecode, err = t.Bool(tkey+".types.decode", false); err != nil {
						return err
					}
					if e.AnomalyStream, err = t.Bool(tkey+".types.stream", false); err != nil {
						return err
					}
					if e.AnomalyAppLayer, err = t.Bool(tkey+".types.applayer", true); err != nil {
						return err
					}
				}
			}
			for j, ty := range types {
				tkey := fmt.Sprintf("%s.types.%d.alert", key, j)
				if _, isMap := ty.(map[string]any); !isMap {
					continue
				}
				if _, ok := t.Get(tkey); !ok {
					continue
				}
				if s.EVE.Payload, err = t.Bool(tkey+".payload", false); err != nil {
					return err
				}
				if s.EVE.PayloadPrintable, err = t.Bool(tkey+".payload-printable", false); err != nil {
					return err
				}
				if s.EVE.Packet, err = t.Bool(tkey+".packet", false); err != nil {
					return err
				}
				if s.EVE.Metadata, err = t.Bool(tkey+".metadata", true); err != nil {
					return err
				}
				if s.EVE.Flow, err = t.Bool(tkey+".flow", true); err != nil {
					return err
				}
				if s.EVE.TaggedPackets, err = t.Bool(tkey+".tagged-packets", true); err != nil {
					return err
				}
			}
		case "pipe":
			if !enabled {
				continue
			}
			ps := PipeSettings{}
			ps.Name, _ = t.String(key + ".name")
			if ps.Name == "" {
				ps.Name = fmt.Sprintf("pipe%d", len(s.Pipes)+1)
			}
			if l, ok := t.List(key + ".fields"); ok {
				for _, x := range l {
					f, ok := x.(string)
					if !ok {
						return fmt.Errorf("%s.fields: entry %v is not a field name", key, x)
					}
					ps.Fields = append(ps.Fields, f)
				}
			}
			ps.Socket, _ = t.String(key + ".socket")
			if ps.Datagram, err = t.Bool(key+".datagram", false); err != nil {
				return err
			}
			if l, ok := t.List(key + ".command"); ok {
				for _, x := range l {
					ps.Command = append(ps.Command, fmt.Sprint(x))
				}
			} else if c, ok := t.String(key + ".command"); ok && c != "" {
				ps.Command = []string{"/bin/sh", "-c", c}
			}
			ps.Format, _ = t.String(key + ".format")
			q, err := t.size(key+".queue", 0)
			if err != nil {
				return err
			}
			ps.QueueBytes = int(q)
			s.Pipes = append(s.Pipes, ps)
		case "fast":
			s.Fast.Enabled = enabled
			if f, ok := t.String(key + ".filename"); ok && f != "" {
				s.Fast.Filename = f
			}
		}
	}
	return nil
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
