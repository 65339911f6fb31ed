package output

import (
	"io"
	"net/netip"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// EVEConfig selects the optional parts of EVE records. The zero value
// writes Suricata's default alert record without payload or packet.
type EVEConfig struct {
	// Payload adds "payload": the packet's L4 payload in base64
	// (Suricata's alert option "payload: yes").
	Payload bool
	// PayloadPrintable adds "payload_printable": the payload with every
	// byte that is not printable ASCII, CR or LF shown as '.'
	// ("payload-printable: yes").
	PayloadPrintable bool
	// PayloadLength adds "payload_length" ("payload-length: yes").
	PayloadLength bool
	// Packet adds "packet" (the captured frame in base64) and
	// "packet_info" {"linktype", "linktype_name"} ("packet: yes").
	Packet bool
	// Metadata adds alert.metadata from the rule's metadata keyword
	// ("metadata: yes", Suricata's default).
	Metadata bool
	// NoFlow leaves out alert.flow (Suricata's alert option "flow: no";
	// the flow object is written by default).
	NoFlow bool
	// SensorName, when set, is written last as "host" (Suricata's
	// sensor-name).
	SensorName string
	// Location is the time zone of timestamps; nil means time.Local, the
	// process's zone, as Suricata uses.
	Location *time.Location
	// BufferSize is how many bytes of records are kept before they are
	// written; 0 means DefaultBufferSize.
	BufferSize int

	// HTTPBasic writes only the basic http fields (Suricata's http
	// "extended: no"); the zero value gives the extended set that
	// Suricata's default suricata.yaml turns on.
	HTTPBasic bool
	// HTTPRequestHeaders and HTTPResponseHeaders add "request_headers" /
	// "response_headers" arrays to http records (Suricata's
	// "dump-all-headers: request|response|both").
	HTTPRequestHeaders, HTTPResponseHeaders bool

	// DNSNoRequests and DNSNoResponses turn off dns records of requests
	// or responses (Suricata's dns "requests: no" / "responses: no").
	DNSNoRequests, DNSNoResponses bool
	// DNSFormats selects how answers are written (Suricata's dns
	// "formats"); 0 means both DNSDetailed and DNSGrouped, the default.
	DNSFormats DNSFormat

	// TLSBasic writes only subject, issuerdn and session_resumed
	// (Suricata's tls "extended: no"); the zero value gives the extended
	// set of Suricata's default suricata.yaml.
	TLSBasic bool
	// TLSCustom, when not 0, selects the tls fields to write instead
	// (Suricata's tls "custom: [...]"); it overrides TLSBasic.
	TLSCustom TLSField
	// JA3 and JA4 say the engine computes these fingerprints (Suricata's
	// app-layer.protocols.tls.ja3-fingerprints / ja4-fingerprints, which
	// by default are on only when a loaded rule uses them): tls.ja3,
	// tls.ja3s and tls.ja4 are written only when the matching one is set.
	JA3, JA4 bool

	// AnomalyDecode and AnomalyStream turn on anomaly records for decoder
	// and stream events; AnomalyNoAppLayer turns off those for
	// application-layer events (Suricata's anomaly "types": decode and
	// stream are off by default, applayer on).
	AnomalyDecode, AnomalyStream, AnomalyNoAppLayer bool

	// Ethernet adds "ether": {"src_mac", "dest_mac"} of an Ethernet
	// frame to every packet record (Suricata's eve-log "ethernet: yes").
	Ethernet bool
	// PcapFilename, when set, is written as "pcap_filename" in every
	// record (eve-log "pcap-file: yes", when reading a file).
	PcapFilename string
	// Verdict adds "verdict": {"action"} to alerts: "alert" in IDS mode,
	// "drop" or "reject" when the packet was (alert option "verdict").
	Verdict bool
}

// EVE writes EVE JSON records, one per line. It is used by one goroutine.
type EVE struct {
	s   lineSink
	cfg EVEConfig
	loc *time.Location
	md  []mdEntry // scratch for grouping alert metadata, reused
	// scratch holds a value formatted before it is escaped (dns rdata),
	// reused.
	scratch []byte
}

// NewEVE returns an EVE writer that writes to w. Records are buffered:
// call Flush to hand them to w. Close flushes but does not close w.
func NewEVE(w io.Writer, cfg EVEConfig) *EVE {
	e := &EVE{cfg: cfg, loc: cfg.Location}
	if e.loc == nil {
		e.loc = time.Local
	}
	e.s.init(w, "eve", "", cfg.BufferSize)
	return e
}

// OpenEVE opens path for appending, creating it if it does not exist, and
// returns an EVE writer for it. Close flushes and closes the file.
func OpenEVE(path string, cfg EVEConfig) (*EVE, error) {
	f, err := openAppend(path, "eve")
	if err != nil {
		return nil, err
	}
	e := NewEVE(f, cfg)
	e.s.c = f
	e.s.target = path
	return e, nil
}

// Flush writes the buffered records.
func (e *EVE) Flush() error {
	if e.s.closed {
		return ErrClosed
	}
	return e.s.flush()
}

// Close flushes the buffered records and, for a writer from OpenEVE,
// closes the file. Later calls of the writer's methods return ErrClosed.
func (e *EVE) Close() error { return e.s.close() }

// Lost returns how many records were dropped because writing them failed.
func (e *EVE) Lost() uint64 { return e.s.lost }

// begin opens a record and writes the header every event type starts
// with, in Suricata's order: timestamp, flow_id, pcap_cnt, event_type,
// vlan, then for IP packets src_ip, src_port, dest_ip, dest_port, proto,
// ip_v, icmp_type, icmp_code, and last pkt_src.
//
// flowID 0 means the packet has no flow: flow_id is left out. Ports are
// written for TCP, UDP and SCTP only; ICMP type and code for ICMPv4 and
// ICMPv6 packets whose header was decoded. For a packet without an IP
// layer (an alert on a decoder event) only the fields that do not need
// one are written.
func (e *EVE) begin(p *packet.Packet, flowID uint64, eventType string) {
	j := &e.s.j
	j.b = append(j.b, '{')
	j.key("timestamp")
	j.b = append(j.b, '"')
	j.b = appendISOTime(j.b, p.TimeNs, e.loc)
	j.b = append(j.b, '"')
	if flowID != 0 {
		j.uint("flow_id", flowID)
	}
	if p.Num != 0 {
		j.uint("pcap_cnt", p.Num)
	}
	j.str("event_type", eventType)
	e.vlanArray(&p.VLAN, p.VLANCount)
	if p.IsIP() {
		proto := p.IPProto
		e.endpoints(p.SrcIP, p.DstIP, p.SrcPort, p.DstPort, proto, ipVersion(p))
		if (proto == packet.ProtoICMP && p.IsICMPv4()) || (proto == packet.ProtoICMPv6 && p.IsICMPv6()) {
			j.uint("icmp_type", uint64(p.ICMPType))
			j.uint("icmp_code", uint64(p.ICMPCode))
		}
	}
	j.str("pkt_src", p.Origin.String())
	e.commonOptions(p)
}

// commonOptions writes the per-record options every event type carries:
// "ether" (eve-log ethernet) and "pcap_filename" (pcap-file).
func (e *EVE) commonOptions(p *packet.Packet) {
	j := &e.s.j
	if e.cfg.Ethernet && p.LinkType == packet.LinkEthernet && p.Flags&packet.FlagPseudo == 0 && len(p.Data) >= 14 {
		j.openObject("ether")
		j.key("src_mac")
		j.b = appendMAC(j.b, p.Data[6:12])
		j.key("dest_mac")
		j.b = appendMAC(j.b, p.Data[0:6])
		j.closeObject()
	}
	if e.cfg.PcapFilename != "" {
		j.str("pcap_filename", e.cfg.PcapFilename)
	}
}

// appendMAC writes a quoted aa:bb:cc:dd:ee:ff.
func appendMAC(b, mac []byte) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i, c := range mac {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexd[c>>4], hexd[c&15])
	}
	return append(b, '"')
}

// beginFlow is begin for records of application-layer transactions,
// which Suricata writes in the flow's orientation (client is src): the
// addresses and ports come from fi, the rest of the header from p. With fi
// nil it is begin.
func (e *EVE) beginFlow(p *packet.Packet, flowID uint64, fi *FlowInfo, eventType string) {
	if fi == nil || !fi.SrcIP.IsValid() {
		e.begin(p, flowID, eventType)
		return
	}
	j := &e.s.j
	j.b = append(j.b, '{')
	j.key("timestamp")
	j.b = append(j.b, '"')
	j.b = appendISOTime(j.b, p.TimeNs, e.loc)
	j.b = append(j.b, '"')
	if flowID != 0 {
		j.uint("flow_id", flowID)
	}
	if p.Num != 0 {
		j.uint("pcap_cnt", p.Num)
	}
	j.str("event_type", eventType)
	e.vlanArray(&p.VLAN, p.VLANCount)
	ipv := uint64(6)
	if fi.SrcIP.Is4() {
		ipv = 4
	}
	e.endpoints(fi.SrcIP, fi.DstIP, fi.SrcPort, fi.DstPort, fi.Proto, ipv)
	j.str("pkt_src", p.Origin.String())
	e.commonOptions(p)
}

// end closes the record, adding the fields Suricata appends to every
// record, and accounts for it.
func (e *EVE) end() error {
	j := &e.s.j
	if e.cfg.SensorName != "" {
		j.str("host", e.cfg.SensorName)
	}
	j.b = append(j.b, '}', '\n')
	return e.s.endRecord()
}

// vlanArray writes "vlan" with the first n of the tags (nothing for none).
func (e *EVE) vlanArray(vlan *[packet.MaxVLAN]uint16, n uint8) {
	if n == 0 {
		return
	}
	j := &e.s.j
	j.openArray("vlan")
	for i := 0; i < int(min(n, packet.MaxVLAN)); i++ {
		j.appendUintElem(uint64(vlan[i]))
	}
	j.closeArray()
}

// endpoints writes src_ip, src_port, dest_ip, dest_port (ports for TCP,
// UDP and SCTP only), proto and ip_v (when not 0), the fields every record
// with addresses shares.
func (e *EVE) endpoints(src, dst netip.Addr, sport, dport uint16, proto uint8, ipv uint64) {
	j := &e.s.j
	ports := hasPorts(proto)
	if src.IsValid() {
		j.ip("src_ip", src)
	}
	if ports {
		j.uint("src_port", uint64(sport))
	}
	if dst.IsValid() {
		j.ip("dest_ip", dst)
	}
	if ports {
		j.uint("dest_port", uint64(dport))
	}
	j.str("proto", eveProto(proto))
	if ipv != 0 {
		j.uint("ip_v", ipv)
	}
}

// ipVersion is the EVE ip_v of a packet: the version of the addresses it
// carries, 0 if it has none.
func ipVersion(p *packet.Packet) uint64 {
	switch {
	case p.SrcIP.Is4():
		return 4
	case p.SrcIP.Is6():
		return 6
	case p.IsIPv6():
		return 6
	case p.IsIPv4():
		return 4
	}
	return 0
}

// payloadOf returns the packet's L4 payload, or nil when the payload
// offsets do not lie inside the captured frame.
func payloadOf(p *packet.Packet) []byte {
	off, n := p.PayloadOff, p.PayloadLen
	if n <= 0 || off < 0 || off > len(p.Data) || n > len(p.Data)-off {
		return nil
	}
	return p.Data[off : off+n]
}
