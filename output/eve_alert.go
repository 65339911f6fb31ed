package output

import (
	"errors"
	"net/netip"
	"slices"

	"github.com/vigil-ids/vigil/dataplane/applayer/dns"
	"github.com/vigil-ids/vigil/dataplane/applayer/http"
	"github.com/vigil-ids/vigil/dataplane/applayer/tls"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Alert actions as EVE writes alert.action.
const (
	ActionAllowed = "allowed"
	ActionBlocked = "blocked"
)

// AlertInfo is what detection found, independent of the engine's types.
// The strings are not retained after the call that writes them.
type AlertInfo struct {
	// Action is "allowed" or "blocked" (see AlertAction); "" is written
	// as "allowed".
	Action string
	// GID, SID and Rev identify the rule.
	GID, SID, Rev uint32
	// Signature is the rule's msg.
	Signature string
	// Category is the description of the rule's classtype; "" when the
	// rule has none (EVE writes "", fast.log "(null)", as Suricata does).
	Category string
	// Severity is the rule's priority.
	Severity int
	// Metadata holds the rule's raw metadata entries, "key value" each.
	// EVE groups them into alert.metadata {"key": ["value", ...]} with the
	// keys sorted case-insensitively, as Suricata does. Entries without a
	// value are skipped.
	Metadata []string
	// Drop says the rule's action drops the packet (drop or reject); it
	// gives fast.log's "[Drop] " (IPS) or "[wDrop] " (IDS) prefix.
	Drop bool
	// Stream says the rule matched on reassembled stream or application
	// layer state; for TCP, EVE writes "stream":1 with the payload.
	Stream bool
	// StreamData, when not nil, is the reassembled stream data the rule
	// matched: EVE writes it as the payload instead of the packet's own
	// (as Suricata does for stream matches).
	StreamData []byte
	// HasTx says the alert belongs to an application-layer transaction;
	// TxID is then written as "tx_id".
	HasTx bool
	TxID  uint64
	// AppProto is the flow's application protocol ("http", "dns", ...),
	// written as "app_proto" when the packet has a flow; "" for none.
	AppProto string
	// Flow, when not nil and the packet has a flow, is written as the
	// alert's "flow" object (EVEConfig.Flow turns it off).
	Flow *FlowInfo
	// HTTP, DNS and TLS are the application-layer state of the alert's
	// transaction (HasTx). When the packet has a flow, the one that is
	// not nil is written after the "alert" object, as Suricata's alert
	// output does: "http" with the basic and extended fields, "dns" as
	// the dns record's object (tx_id is TxID), "tls" with the extended
	// fields (ja3/ja4 as EVEConfig.JA3/JA4 allow).
	HTTP *http.Tx
	DNS  *dns.Message
	TLS  *tls.Parser
}

// FlowInfo is the state of an alert's flow as EVE's alert.flow object
// shows it: the flow's own orientation (client is src) and its counters
// including the alerting packet.
type FlowInfo struct {
	SrcIP, DstIP                 netip.Addr
	SrcPort, DstPort             uint16
	Proto                        uint8
	PktsToServer, PktsToClient   uint64
	BytesToServer, BytesToClient uint64
	StartNs                      int64
}

// AlertAction returns the EVE alert.action Suricata writes for a rule
// whose action drops (drop) or rejects (reject) the packet, in IPS or IDS
// mode: a reject is "blocked" in either mode, a drop only in IPS mode.
func AlertAction(drop, reject, ips bool) string {
	if reject || (drop && ips) {
		return ActionBlocked
	}
	return ActionAllowed
}

var errNilAlert = errors.New("output: eve: alert: nil packet or alert info")

// Alert writes an "alert" record for packet p. flowID is the flow's id
// (0: the packet has no flow, flow_id, app_proto and direction are left
// out). The record's fields and their order are Suricata 8's.
func (e *EVE) Alert(p *packet.Packet, flowID uint64, a *AlertInfo) error {
	if e.s.closed {
		return ErrClosed
	}
	if p == nil || a == nil {
		return errNilAlert
	}
	e.begin(p, flowID, "alert")
	j := &e.s.j
	if a.HasTx {
		j.uint("tx_id", a.TxID)
	}
	e.alertObject(a)

	ip := p.IsIP()
	if ip && flowID != 0 && a.HasTx {
		switch {
		case a.HTTP != nil:
			e.httpObject(a.HTTP)
		case a.DNS != nil:
			e.dnsObject(a.DNS, a.TxID)
		case a.TLS != nil:
			e.tlsObject(a.TLS, tlsExtended)
		}
	}
	if ip && flowID != 0 {
		if a.AppProto != "" {
			j.str("app_proto", a.AppProto)
		}
		if p.Flags&packet.FlagToServer != 0 {
			j.str("direction", "to_server")
		} else {
			j.str("direction", "to_client")
		}
	}

	if ip && flowID != 0 && a.Flow != nil && !e.cfg.NoFlow {
		e.flowObject(a.Flow)
	}

	if ip && (e.cfg.Payload || e.cfg.PayloadPrintable || e.cfg.PayloadLength) {
		pl := payloadOf(p)
		if a.StreamData != nil {
			pl = a.StreamData
		}
		if e.cfg.Payload && len(pl) > 0 {
			j.base64("payload", pl)
		}
		if e.cfg.PayloadLength {
			j.uint("payload_length", uint64(len(pl)))
		}
		if e.cfg.PayloadPrintable && len(pl) > 0 {
			j.printable("payload_printable", pl)
		}
		stream := uint64(0)
		if a.Stream && p.IPProto == packet.ProtoTCP {
			stream = 1
		}
		j.uint("stream", stream)
	}

	if e.cfg.Packet {
		e.packetFields(p)
	}
	if e.cfg.Verdict {
		j.openObject("verdict")
		switch p.Verdict {
		case packet.VerdictDrop:
			j.str("action", "drop")
		case packet.VerdictReject:
			// Suricata's names: reject answers the source ("to_client"),
			// rejectdst the destination ("to_server").
			j.str("action", "drop")
			switch p.Reject {
			case packet.RejectToDest:
				j.str("reject-target", "to_server")
			case packet.RejectBoth:
				j.str("reject-target", "both")
			default:
				j.str("reject-target", "to_client")
			}
			j.openArray("reject")
			if p.IsTCP() {
				j.appendStringElem("tcp-reset")
			} else {
				j.appendStringElem("icmp-prohib")
			}
			j.closeArray()
		case packet.VerdictBypass:
			j.str("action", "pass")
		default:
			j.str("action", "alert")
		}
		j.closeObject()
	}
	return e.end()
}

// flowObject writes an alert's "flow" object, as Suricata's alert.flow.
func (e *EVE) flowObject(f *FlowInfo) {
	j := &e.s.j
	j.openObject("flow")
	j.uint("pkts_toserver", f.PktsToServer)
	j.uint("pkts_toclient", f.PktsToClient)
	j.uint("bytes_toserver", f.BytesToServer)
	j.uint("bytes_toclient", f.BytesToClient)
	j.key("start")
	j.b = append(j.b, '"')
	j.b = appendISOTime(j.b, f.StartNs, e.loc)
	j.b = append(j.b, '"')
	if f.SrcIP.IsValid() {
		j.ip("src_ip", f.SrcIP)
	}
	if f.DstIP.IsValid() {
		j.ip("dest_ip", f.DstIP)
	}
	if hasPorts(f.Proto) {
		j.uint("src_port", uint64(f.SrcPort))
		j.uint("dest_port", uint64(f.DstPort))
	}
	j.closeObject()
}

// alertObject writes the "alert" object.
func (e *EVE) alertObject(a *AlertInfo) {
	j := &e.s.j
	j.openObject("alert")
	action := a.Action
	if action == "" {
		action = ActionAllowed
	}
	j.str("action", action)
	j.uint("gid", uint64(a.GID))
	j.uint("signature_id", uint64(a.SID))
	j.uint("rev", uint64(a.Rev))
	j.str("signature", a.Signature)
	j.str("category", a.Category)
	j.int("severity", int64(a.Severity))
	if e.cfg.Metadata && len(a.Metadata) > 0 {
		e.metadata(a.Metadata)
	}
	j.closeObject()
}

// mdEntry is one parsed "key value" metadata entry.
type mdEntry struct{ key, value string }

// metadata writes alert.metadata the way Suricata prepares it for a rule:
// each entry is split at its first space (leading blanks of key and value
// skipped; entries with an empty key or value dropped), the entries are
// put in reverse order of appearance and stably sorted by key ignoring
// ASCII case, and runs of equal keys become one array named by the first
// key of the run.
func (e *EVE) metadata(raw []string) {
	md := e.md[:0]
	for i := len(raw) - 1; i >= 0; i-- {
		if k, v, ok := splitMetadata(raw[i]); ok {
			md = append(md, mdEntry{k, v})
		}
	}
	e.md = md
	if len(md) == 0 {
		return
	}
	// Stable and in place: no allocation.
	slices.SortStableFunc(md, func(a, b mdEntry) int { return foldCompare(a.key, b.key) })
	j := &e.s.j
	j.openObject("metadata")
	for i := 0; i < len(md); {
		j.dynKey(md[i].key)
		j.b = append(j.b, '[')
		k := i
		for ; k < len(md) && foldCompare(md[i].key, md[k].key) == 0; k++ {
			j.appendStringElem(md[k].value)
		}
		j.closeArray()
		i = k
	}
	j.closeObject()
}

// splitMetadata splits a raw "key value" entry.
func splitMetadata(s string) (key, value string, ok bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	s = s[i:]
	sp := -1
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			sp = i
			break
		}
	}
	if sp <= 0 {
		return "", "", false
	}
	key, value = s[:sp], s[sp+1:]
	i = 0
	for i < len(value) && (value[i] == ' ' || value[i] == '\t') {
		i++
	}
	value = value[i:]
	if value == "" {
		return "", "", false
	}
	return key, value, true
}

// foldCompare compares two strings ignoring ASCII case, like strcasecmp.
func foldCompare(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
