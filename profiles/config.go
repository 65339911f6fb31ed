package profiles

import "time"

// Config is Vigil's configuration: the schema of a vigil.yaml and of the
// built-in profiles. Keys are kebab-case and, where Suricata has the same
// setting, carry Suricata's name. The complete commented default is the
// pcap-offline profile (`vigil profiles show pcap-offline`).
//
// Load returns a Config with every "auto" resolved for a Machine and every
// value checked (Validate); the engine reads it, or the older Settings view
// of it ((*Config).Settings).
type Config struct {
	// Profile is the built-in profile the configuration starts from
	// (pcap-offline when not set). In a file it picks the base profile
	// unless --profile does.
	Profile string `mapstructure:"profile"`
	// Runmode is single, workers or autofp (see DESIGN.md, Threads).
	Runmode string `mapstructure:"runmode"`
	// Workers is the number of worker threads, or auto.
	Workers Count `mapstructure:"workers"`

	Capture CaptureConfig `mapstructure:"capture"`
	IPS     IPSConfig     `mapstructure:"ips"`
	CPU     CPUConfig     `mapstructure:"cpu"`
	Rings   RingsConfig   `mapstructure:"rings"`
	Routing RoutingConfig `mapstructure:"routing"`
	Flow    FlowConfig    `mapstructure:"flow"`
	Stream  StreamConfig  `mapstructure:"stream"`
	Defrag  DefragConfig  `mapstructure:"defrag"`
	// HostOSPolicy maps an OS policy name (bsd, linux, windows, ...) to
	// the addresses and networks of hosts that reassemble that way, for
	// both IP fragments and TCP streams (Suricata's host-os-policy).
	HostOSPolicy map[string][]string `mapstructure:"host-os-policy"`
	AppLayer     AppLayerConfig      `mapstructure:"app-layer"`
	Detect       DetectConfig        `mapstructure:"detect"`
	Outputs      OutputsConfig       `mapstructure:"outputs"`
	Bypass       BypassConfig        `mapstructure:"bypass"`
	Prometheus   PrometheusConfig    `mapstructure:"prometheus"`

	// Machine is the machine the auto values were resolved for.
	Machine Machine `mapstructure:"-"`
	// Ignored lists, for a configuration read from a suricata.yaml, the
	// dotted keys of that file Vigil does not use, sorted.
	Ignored []string `mapstructure:"-"`
	// SuricataFile is true when the configuration came from a
	// suricata.yaml (or from Suricata-style --set keys alone).
	SuricataFile bool `mapstructure:"-"`
}

// CaptureConfig says where packets come from.
type CaptureConfig struct {
	// Backend is pcap (files, -r), afpacket, afxdp, nfqueue or dpdk.
	Backend string `mapstructure:"backend"`
	// Interfaces are the network interfaces (or DPDK ports) to capture
	// from; -i on the command line sets them.
	Interfaces []string `mapstructure:"interfaces"`
	// BatchSize is the number of packets a source hands over at once.
	BatchSize int `mapstructure:"batch-size"`

	AFPacket AFPacketConfig `mapstructure:"afpacket"`
	AFXDP    AFXDPConfig    `mapstructure:"afxdp"`
	NFQueue  NFQueueConfig  `mapstructure:"nfqueue"`
	DPDK     DPDKConfig     `mapstructure:"dpdk"`
}

// AFPacketConfig configures AF_PACKET (TPACKET_V3) capture.
type AFPacketConfig struct {
	BlockSize    Size          `mapstructure:"block-size"`    // ring block size (a power of two, >= 4kb)
	Blocks       Count         `mapstructure:"blocks"`        // blocks per socket ring, or auto
	BlockTimeout time.Duration `mapstructure:"block-timeout"` // a block is handed over after this even if not full
	// Fanout is the PACKET_FANOUT mode spreading packets over the workers'
	// sockets: hash (by flow, Suricata's cluster_flow), cpu, qm, lb or none.
	Fanout      string `mapstructure:"fanout"`
	FanoutGroup int    `mapstructure:"fanout-group"` // Suricata's cluster-id
	// Defrag lets the kernel reassemble fragments before the fanout hash.
	Defrag bool `mapstructure:"defrag"`
	// CopyMode is none, tap (forward everything to the peer interface)
	// or ips (forward what is not dropped); the peers are ips.bridge.
	CopyMode string `mapstructure:"copy-mode"`
}

// AFXDPConfig configures AF_XDP capture.
type AFXDPConfig struct {
	// Mode is the socket bind mode: auto (zero-copy, else copy),
	// zerocopy or copy.
	Mode string `mapstructure:"mode"`
	// XDPMode is how the XDP program attaches: auto (native, else
	// generic), native or generic.
	XDPMode   string `mapstructure:"xdp-mode"`
	Frames    Count  `mapstructure:"frames"`     // UMEM frames per queue, or auto
	FrameSize Size   `mapstructure:"frame-size"` // 2kb or 4kb
	RingSize  Count  `mapstructure:"ring-size"`  // descriptors per ring (power of two), or auto
	BusyPoll  bool   `mapstructure:"busy-poll"`  // SO_PREFER_BUSY_POLL
	// BusyPollTime (SO_BUSY_POLL) and BusyPollBudget
	// (SO_BUSY_POLL_BUDGET) apply when BusyPoll is on.
	BusyPollTime   time.Duration `mapstructure:"busy-poll-time"`
	BusyPollBudget int           `mapstructure:"busy-poll-budget"`
}

// NFQueueConfig configures netfilter queue capture (inline by nature).
type NFQueueConfig struct {
	// Queues is one queue number ("0"), a range ("0:3", one per worker)
	// or auto (0 to workers-1).
	Queues string `mapstructure:"queues"`
	// FailOpen asks the kernel to accept packets when a queue is full
	// (NFQA_CFG_F_FAIL_OPEN) instead of dropping them.
	FailOpen bool `mapstructure:"fail-open"`
	// VerdictMode is accept (NF_ACCEPT) or repeat (NF_REPEAT with Mark
	// set, so the ruleset can tell inspected packets).
	VerdictMode string `mapstructure:"verdict-mode"`
	Mark        uint32 `mapstructure:"mark"`
	Mask        uint32 `mapstructure:"mask"`
	// BypassMark/BypassMask mark a bypassed flow's packets so the ruleset
	// can accept the rest of the flow in the kernel (0: no mark bypass).
	BypassMark uint32 `mapstructure:"bypass-mark"`
	BypassMask uint32 `mapstructure:"bypass-mask"`
	// MaxLen is the queue length in packets (NFQA_CFG_QUEUE_MAXLEN).
	MaxLen int `mapstructure:"max-len"`
}

// DPDKConfig configures DPDK capture.
type DPDKConfig struct {
	// EALArgs are passed to rte_eal_init as they are ("--proc-type=primary",
	// "-a", "0000:3b:00.0", ...).
	EALArgs []string `mapstructure:"eal-args"`
	// Ports are the DPDK ports to capture from: PCI addresses or vdev
	// names. Empty: capture.interfaces.
	Ports         []string `mapstructure:"ports"`
	RxDescriptors Count    `mapstructure:"rx-descriptors"` // per queue, or auto
	TxDescriptors Count    `mapstructure:"tx-descriptors"` // per queue, or auto
	MempoolSize   Count    `mapstructure:"mempool-size"`   // mbufs per port (2^n-1 is best), or auto
}

// IPSConfig switches inline prevention on.
type IPSConfig struct {
	// Enabled: verdicts are enforced (drop and reject rules drop).
	Enabled bool `mapstructure:"enabled"`
	// FailPolicy is what happens to traffic when Vigil cannot inspect
	// it (overload, exit): fail-open forwards it, fail-closed drops it.
	FailPolicy string `mapstructure:"fail-policy"`
	// MaxLatency is how long a packet may wait between the kernel's
	// receive timestamp and inspection before its worker counts as
	// behind and applies FailPolicy to it; 0 turns the check off.
	MaxLatency time.Duration `mapstructure:"max-latency"`
	// Bridge names the two interfaces of a bump in the wire: what comes
	// in on one goes out on the other. Empty: the two capture.interfaces.
	Bridge []string `mapstructure:"bridge"`
}

// CPUConfig pins threads to CPU sets: each a CPU list ("1-7") or auto.
type CPUConfig struct {
	Management CPUList `mapstructure:"management"` // flow timeouts, counters, heartbeat
	Receive    CPUList `mapstructure:"receive"`    // capture threads (autofp)
	Worker     CPUList `mapstructure:"worker"`     // workers
	Verdict    CPUList `mapstructure:"verdict"`    // verdict threads (IPS, autofp)
}

// RingsConfig sizes the single-producer single-consumer rings between
// stages (autofp).
type RingsConfig struct {
	Size     Count `mapstructure:"size"` // slots (a power of two), or auto
	BusyPoll bool  `mapstructure:"busy-poll"`
}

// RoutingConfig says how packets and events move between stages.
type RoutingConfig struct {
	// By is how autofp picks a packet's worker: flow-hash (symmetric, both
	// directions to one worker) or ip-version.
	By string `mapstructure:"by"`
	// AlertsToOutputStage hands events to one output thread instead of
	// every worker writing its own.
	AlertsToOutputStage bool `mapstructure:"alerts-to-output-stage"`
}

// FlowConfig configures the flow table.
type FlowConfig struct {
	Memcap            Size         `mapstructure:"memcap"`    // or auto
	HashSize          Count        `mapstructure:"hash-size"` // buckets, or auto
	Prealloc          int          `mapstructure:"prealloc"`
	EmergencyRecovery int          `mapstructure:"emergency-recovery"` // percent
	Timeouts          FlowTimeouts `mapstructure:"timeouts"`
}

// FlowTimeouts are the idle timeouts per protocol class.
type FlowTimeouts struct {
	Default Timeouts `mapstructure:"default"`
	TCP     Timeouts `mapstructure:"tcp"`
	UDP     Timeouts `mapstructure:"udp"`
	ICMP    Timeouts `mapstructure:"icmp"`
}

// Timeouts are Suricata's flow-timeouts of one protocol class.
type Timeouts struct {
	New                  time.Duration `mapstructure:"new"`
	Established          time.Duration `mapstructure:"established"`
	Closed               time.Duration `mapstructure:"closed"`
	Bypassed             time.Duration `mapstructure:"bypassed"`
	EmergencyNew         time.Duration `mapstructure:"emergency-new"`
	EmergencyEstablished time.Duration `mapstructure:"emergency-established"`
	EmergencyClosed      time.Duration `mapstructure:"emergency-closed"`
	EmergencyBypassed    time.Duration `mapstructure:"emergency-bypassed"`
}

// StreamConfig configures TCP tracking and reassembly (Suricata's names).
type StreamConfig struct {
	Memcap Size `mapstructure:"memcap"` // or auto
	// MemcapPolicy is ignore, drop-flow, pass-flow or bypass.
	MemcapPolicy string `mapstructure:"memcap-policy"`
	Midstream    bool   `mapstructure:"midstream"`
	// MidstreamPolicy applies to a TCP flow whose start was not seen when
	// midstream is off: auto (drop-flow inline, ignore otherwise, as
	// Suricata's exception-policy auto), ignore, drop-flow, pass-flow or
	// bypass.
	MidstreamPolicy string `mapstructure:"midstream-policy"`
	AsyncOneside    bool   `mapstructure:"async-oneside"`
	// Inline is auto (inline when ips.enabled), yes or no.
	Inline     string           `mapstructure:"inline"`
	Reassembly ReassemblyConfig `mapstructure:"reassembly"`
}

// ReassemblyConfig bounds stream reassembly.
type ReassemblyConfig struct {
	Memcap Size `mapstructure:"memcap"` // or auto
	Depth  Size `mapstructure:"depth"`  // per direction; 0 = unlimited
}

// DefragConfig configures IP fragment reassembly.
type DefragConfig struct {
	Memcap   Size          `mapstructure:"memcap"` // or auto
	Timeout  time.Duration `mapstructure:"timeout"`
	Trackers int           `mapstructure:"trackers"`  // datagrams under reassembly at once
	MaxFrags int           `mapstructure:"max-frags"` // fragments per datagram
	// Policy is the overlap policy of hosts host-os-policy does not name.
	Policy string `mapstructure:"policy"`
}

// AppLayerConfig holds the application protocol switches.
type AppLayerConfig struct {
	Protocols ProtocolsConfig `mapstructure:"protocols"`
}

// ProtocolsConfig lists the parsers Vigil has.
type ProtocolsConfig struct {
	HTTP HTTPConfig   `mapstructure:"http"`
	DNS  SwitchConfig `mapstructure:"dns"`
	TLS  TLSConfig    `mapstructure:"tls"`
}

// SwitchConfig turns one parser on or off.
type SwitchConfig struct {
	Enabled bool `mapstructure:"enabled"`
}

// HTTPConfig configures the HTTP parser.
type HTTPConfig struct {
	Enabled           bool `mapstructure:"enabled"`
	RequestBodyLimit  Size `mapstructure:"request-body-limit"`
	ResponseBodyLimit Size `mapstructure:"response-body-limit"`
}

// TLSConfig configures the TLS parser.
type TLSConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// EncryptionHandling is default (inspect the handshake, then track
	// only), bypass (bypass the flow once encrypted) or full (keep
	// inspecting encrypted data).
	EncryptionHandling string `mapstructure:"encryption-handling"`
	// JA3Fingerprints and JA4Fingerprints are yes, no or auto (on when a
	// loaded rule uses them).
	JA3Fingerprints string `mapstructure:"ja3-fingerprints"`
	JA4Fingerprints string `mapstructure:"ja4-fingerprints"`
}

// DetectConfig configures rules and detection.
type DetectConfig struct {
	// RulePath is the directory relative rule file names are found in
	// (Suricata's default-rule-path).
	RulePath  string     `mapstructure:"rule-path"`
	RuleFiles []string   `mapstructure:"rule-files"`
	Vars      VarsConfig `mapstructure:"vars"`
	// ClassificationFile, ReferenceConfig and ThresholdFile: "" is the
	// built-in classification.config, none, and none.
	ClassificationFile string `mapstructure:"classification-file"`
	ReferenceConfig    string `mapstructure:"reference-config"`
	ThresholdFile      string `mapstructure:"threshold-file"`
	// PacketAlertMax is how many alerts one packet may raise.
	PacketAlertMax int `mapstructure:"packet-alert-max"`
	// Profile is Suricata's detect.profile: low, medium, high.
	Profile string `mapstructure:"profile"`
	// MPM is the multi-pattern matcher: auto, ac (Vigil's Aho-Corasick)
	// or hs (Hyperscan, when built with it).
	MPM string `mapstructure:"mpm"`
}

// VarsConfig are the rule variables ($HOME_NET, $HTTP_PORTS, ...).
type VarsConfig struct {
	AddressGroups map[string]string `mapstructure:"address-groups"`
	PortGroups    map[string]string `mapstructure:"port-groups"`
}

// OutputsConfig says where events go.
type OutputsConfig struct {
	// LogDir is the directory of output files (-l overrides it).
	LogDir string       `mapstructure:"log-dir"`
	EVE    EVEConfig    `mapstructure:"eve"`
	Fast   FastConfig   `mapstructure:"fast"`
	Stats  StatsConfig  `mapstructure:"stats"`
	Pipes  []PipeConfig `mapstructure:"pipes"`
}

// EVEConfig configures EVE JSON output (Suricata's eve-log).
type EVEConfig struct {
	Enabled  bool   `mapstructure:"enabled"`
	Filename string `mapstructure:"filename"`
	// Types are the record types written: alert, anomaly, http, dns, tls,
	// flow, drop.
	Types []string `mapstructure:"types"`
	// Ethernet adds the frame's MAC addresses ("ether") to every record;
	// PcapFile adds the name of the capture file read ("pcap_filename").
	Ethernet bool       `mapstructure:"ethernet"`
	PcapFile bool       `mapstructure:"pcap-file"`
	Alert    EVEAlert   `mapstructure:"alert"`
	HTTP     EVEHTTP    `mapstructure:"http"`
	DNS      EVEDNS     `mapstructure:"dns"`
	TLS      EVETLS     `mapstructure:"tls"`
	Anomaly  EVEAnomaly `mapstructure:"anomaly"`
	Drop     EVEDrop    `mapstructure:"drop"`
}

// EVEDrop are the options of drop records (packets dropped inline).
type EVEDrop struct {
	// Alerts adds the alert of the signature that dropped the packet.
	Alerts bool `mapstructure:"alerts"`
	// Flows is start (the first drop of each flow direction only,
	// Suricata's default) or all.
	Flows string `mapstructure:"flows"`
}

// EVEAlert are the options of alert records.
type EVEAlert struct {
	Payload          bool `mapstructure:"payload"`
	PayloadPrintable bool `mapstructure:"payload-printable"`
	Packet           bool `mapstructure:"packet"`
	Metadata         bool `mapstructure:"metadata"`
	Flow             bool `mapstructure:"flow"`
	TaggedPackets    bool `mapstructure:"tagged-packets"`
	// Verdict adds the packet's final verdict ("verdict": {"action"}).
	Verdict bool `mapstructure:"verdict"`
}

// EVEHTTP are the options of http records.
type EVEHTTP struct {
	Extended bool `mapstructure:"extended"`
	// DumpAllHeaders is none, request, response or both.
	DumpAllHeaders string `mapstructure:"dump-all-headers"`
}

// EVEDNS are the options of dns records.
type EVEDNS struct {
	Requests  bool `mapstructure:"requests"`
	Responses bool `mapstructure:"responses"`
}

// EVETLS are the options of tls records.
type EVETLS struct {
	Extended bool `mapstructure:"extended"`
}

// EVEAnomaly picks the anomaly record classes.
type EVEAnomaly struct {
	Decode   bool `mapstructure:"decode"`
	Stream   bool `mapstructure:"stream"`
	AppLayer bool `mapstructure:"applayer"`
}

// FastConfig configures fast.log.
type FastConfig struct {
	Enabled  bool   `mapstructure:"enabled"`
	Filename string `mapstructure:"filename"`
}

// StatsConfig configures the periodic counters.
type StatsConfig struct {
	Enabled  bool          `mapstructure:"enabled"` // write stats.log
	Interval time.Duration `mapstructure:"interval"`
	Filename string        `mapstructure:"filename"`
	EVE      bool          `mapstructure:"eve"` // write "stats" records to EVE
}

// PipeConfig is one output pipe: chosen app-layer fields as lines to a
// Unix socket or a command.
type PipeConfig struct {
	Name     string   `mapstructure:"name"`
	Fields   []string `mapstructure:"fields"`
	Socket   string   `mapstructure:"socket"`
	Datagram bool     `mapstructure:"datagram"`
	// Command is the program and its arguments; one string is run
	// with /bin/sh -c.
	Command Command `mapstructure:"command"`
	Format  string  `mapstructure:"format"` // text or json
	Queue   Size    `mapstructure:"queue"`
}

// Command is a command line: a list is the program and its arguments, one
// string becomes ["/bin/sh", "-c", string].
type Command []string

// BypassConfig configures flow bypass: flows Vigil no longer needs to
// inspect are forwarded (or dropped from capture) in the kernel.
type BypassConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Triggers are what bypasses a flow: stream-depth (both directions
	// past stream.reassembly.depth), tls-encrypted (TLS after the
	// handshake) and rule (the bypass keyword).
	Triggers []string `mapstructure:"triggers"`
	// FailOpenOnExit leaves the XDP program forwarding when Vigil exits.
	FailOpenOnExit bool `mapstructure:"fail-open-on-exit"`
}

// PrometheusConfig serves the counters for Prometheus.
type PrometheusConfig struct {
	// Listen is the address of the /metrics endpoint ("127.0.0.1:9101");
	// empty: off.
	Listen string `mapstructure:"listen"`
}
