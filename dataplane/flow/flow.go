package flow

// State is the life stage of a flow; it selects the timeout that applies.
type State uint8

const (
	StateNew         State = iota // not (yet) established
	StateEstablished              // TCP handshake done; other protocols: both sides sent
	StateClosed                   // TCP FIN or RST seen
	numStates
)

// String gives the EVE flow.state value.
func (s State) String() string {
	switch s {
	case StateEstablished:
		return "established"
	case StateClosed:
		return "closed"
	}
	return "new"
}

// Proto is the protocol class of a flow: it selects the timeout settings.
type Proto uint8

const (
	ProtoOther Proto = iota // any other IP protocol (SCTP, GRE, ESP, ...)
	ProtoTCP
	ProtoUDP
	ProtoICMP // ICMPv4 and ICMPv6
	numProtos
)

// String names the class as Suricata's flow-timeouts section does.
func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	}
	return "default"
}

func protoOf(ipProto uint8) Proto {
	switch ipProto {
	case 6:
		return ProtoTCP
	case 17:
		return ProtoUDP
	case 1, 58:
		return ProtoICMP
	}
	return ProtoOther
}

// Reason says why a flow ended; it is set just before the flow is handed to
// an Expire, Flush or Config.OnEnd callback.
type Reason uint8

const (
	ReasonNone     Reason = iota // still live
	ReasonTimeout                // its timeout passed (also: TCP port reuse of a closed flow)
	ReasonShutdown               // Flush at end of input
)

// String gives the EVE flow.reason value.
func (r Reason) String() string {
	switch r {
	case ReasonTimeout:
		return "timeout"
	case ReasonShutdown:
		return "shutdown"
	}
	return ""
}

// DetectState is per-flow detection state kept in the flow itself. The
// detection engine numbers flowbits and flowints; flowbit n below 256 is
// Bits[n/64] & (1 << (n%64)), flowbit n from 256 up is in MoreBits
// ((n-256)/64), which the engine allocates the first time the flow sets such
// a bit. Ints holds the flowint variables (index = variable number),
// allocated the first time the flow sets one.
type DetectState struct {
	Bits     [4]uint64
	MoreBits []uint64
	Ints     []FlowInt
}

// FlowInt is one flowint variable of a flow.
type FlowInt struct {
	Value uint32
	Set   bool
}

// Flow is the state of one connection. A *Flow that Lookup returns stays
// valid until the flow ends (it is handed to an Expire, Flush or OnEnd
// callback); after that its memory is reused for another flow.
type Flow struct {
	// ID is the EVE flow_id: unique among the flows of a run (per table
	// shard, see Config.Shard), fixed for the flow's life, below 2^53 and
	// never 0.
	ID uint64
	// Key is the key as first seen, client side as Src.
	Key Key
	// Proto is the protocol class (timeouts).
	Proto Proto
	// State is the life stage.
	State State
	// Reason is why the flow ended (ReasonNone while it is live).
	Reason Reason
	// TCP tracks the TCP handshake (TCP flows only).
	TCP TCPTracker
	// TCPFlagsToServer and TCPFlagsToClient are the union of the TCP flags
	// seen in each direction (EVE tcp_flags_ts / tcp_flags_tc).
	TCPFlagsToServer, TCPFlagsToClient uint8
	// ICMPType and ICMPCode are those of the flow's first packet (ICMP
	// flows); RespICMPType and RespICMPCode those of the latest packet to
	// the client, valid when HasResp is set.
	ICMPType, ICMPCode         uint8
	RespICMPType, RespICMPCode uint8
	HasResp                    bool
	// StartNs and LastNs are the packet times of the first and the latest
	// packet (LastNs never goes backwards).
	StartNs, LastNs int64
	// Packet and byte counts per direction; bytes are captured frame bytes,
	// link layer included, as Suricata counts them.
	PktsToServer, PktsToClient   uint64
	BytesToServer, BytesToClient uint64
	// Detect is detection state kept with the flow.
	Detect DetectState
	// StreamSession is the stream tracker's handle of the flow's TCP
	// session (package stream); 0 when it has none.
	StreamSession uint32
	// AppProto is the application protocol the app layer detected on the
	// flow; AppProtoUnknown until it has. Rules for an app-layer protocol
	// (alert http ..., app-layer-protocol:) match only once it is set.
	AppProto AppProto
	// Alerted is set by the pipeline when a packet of the flow raised an
	// alert (EVE flow.alerted).
	Alerted bool
	// Action is what a signature or an exception policy decided for every
	// later packet of the flow (ActionNone until something did); see Action.
	Action Action
	// ActionByPolicy is set when Action came from an exception policy
	// (stream midstream or memcap) rather than a signature.
	ActionByPolicy bool
	// DropLogged has DropLoggedToServer / DropLoggedToClient set once an
	// EVE drop record was written for the direction (drop flows: start).
	DropLogged uint8
	// AppState is the app layer's handle of the flow's parser state
	// (package applayer); 0 when it has none.
	AppState uint32

	// Table bookkeeping. Indexes are slot+1, 0 meaning none.
	hash     uint32
	self     uint32 // own index
	hnext    uint32 // next in hash chain, or in the free list
	tprev    uint32 // timeout list links
	tnext    uint32
	list     uint8 // timeout list (listIndex), listFree when not in use
	seen     uint8 // seenToServer | seenToClient
	queuedNs int64 // time the flow was (re)queued on its timeout list
}

// Action is a decision about all later packets of a flow, as Suricata's
// flow actions: a pass signature matching on stream or transaction data (or
// a pass-flow exception policy) stops detection on the flow, a drop
// signature matching there (or a drop-flow exception policy) drops every
// later packet when inline. Packets keep going through stream tracking and
// the app layer, so records and counters stay complete.
type Action uint8

const (
	ActionNone Action = iota
	ActionPass        // no more detection on the flow
	ActionDrop        // drop every later packet (inline)
)

// Bits of Flow.DropLogged.
const (
	DropLoggedToServer uint8 = 1 << iota
	DropLoggedToClient
)

const (
	seenToServer uint8 = 1 << iota
	seenToClient
)

// AppProto is an application-layer protocol, as the app layer detects it
// and as rule headers and app-layer-protocol name it.
type AppProto uint8

// Application protocols. AppProtoFailed means detection gave up on the
// flow.
const (
	AppProtoUnknown AppProto = iota
	AppProtoHTTP1
	AppProtoHTTP2
	AppProtoDNS
	AppProtoTLS
	AppProtoSMTP
	AppProtoFTP
	AppProtoFTPData
	AppProtoSSH
	AppProtoSMB
	AppProtoDCERPC
	AppProtoNFS
	AppProtoIMAP
	AppProtoPOP3
	AppProtoKRB5
	AppProtoDHCP
	AppProtoSNMP
	AppProtoSIP
	AppProtoRDP
	AppProtoMQTT
	AppProtoModbus
	AppProtoDNP3
	AppProtoENIP
	AppProtoNTP
	AppProtoTFTP
	AppProtoIKE
	AppProtoQUIC
	AppProtoRFB
	AppProtoTelnet
	AppProtoPgSQL
	AppProtoLDAP
	AppProtoWebSocket
	AppProtoFailed
)

var appProtoNames = [...]string{
	AppProtoUnknown: "", AppProtoHTTP1: "http", AppProtoHTTP2: "http2", AppProtoDNS: "dns",
	AppProtoTLS: "tls", AppProtoSMTP: "smtp", AppProtoFTP: "ftp", AppProtoFTPData: "ftp-data",
	AppProtoSSH: "ssh", AppProtoSMB: "smb", AppProtoDCERPC: "dcerpc", AppProtoNFS: "nfs",
	AppProtoIMAP: "imap", AppProtoPOP3: "pop3", AppProtoKRB5: "krb5", AppProtoDHCP: "dhcp",
	AppProtoSNMP: "snmp", AppProtoSIP: "sip", AppProtoRDP: "rdp", AppProtoMQTT: "mqtt",
	AppProtoModbus: "modbus", AppProtoDNP3: "dnp3", AppProtoENIP: "enip", AppProtoNTP: "ntp",
	AppProtoTFTP: "tftp", AppProtoIKE: "ike", AppProtoQUIC: "quic", AppProtoRFB: "rfb",
	AppProtoTelnet: "telnet", AppProtoPgSQL: "pgsql", AppProtoLDAP: "ldap",
	AppProtoWebSocket: "websocket", AppProtoFailed: "failed",
}

// String returns the protocol's name as EVE writes app_proto ("http",
// "dns", "tls", "failed"); "" for AppProtoUnknown.
func (a AppProto) String() string {
	if int(a) < len(appProtoNames) {
		return appProtoNames[a]
	}
	return ""
}
