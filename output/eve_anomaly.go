package output

import (
	"errors"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Anomaly types (AnomalyInfo.Type).
const (
	AnomalyDecode   = "decode"   // a decoder event of the packet
	AnomalyStream   = "stream"   // a TCP stream event
	AnomalyAppLayer = "applayer" // an application-layer parser event
)

// Application-layer anomaly layers (AnomalyInfo.Layer), as Suricata names
// the stage that raised the event.
const (
	LayerProtoDetect = "proto_detect" // protocol detection (packet level)
	LayerProtoParser = "proto_parser" // a transaction's parser events
	LayerParser      = "parser"       // parser events not tied to a transaction
)

// AnomalyInfo describes one anomaly record.
type AnomalyInfo struct {
	// Type is AnomalyDecode, AnomalyStream or AnomalyAppLayer.
	Type string
	// Event is the event's name as Suricata spells it in its event tables
	// ("decoder.ipv4.trunc_pkt", "stream.reassembly_depth_reached", the
	// app-layer parser's name of the event). An empty Event writes
	// Suricata's record for an event it has no name for: "type":"unknown"
	// with "code".
	Event string
	// Layer is the app-layer stage (LayerProtoParser, ...); applayer only.
	Layer string
	// Code is the event's number, written only when Event is empty.
	Code int
	// AppProto is the flow's application protocol; applayer only.
	AppProto string
	// HasTx says the event belongs to transaction TxID, written as the
	// header's "tx_id".
	HasTx bool
	TxID  uint64
}

var (
	errNilAnomaly     = errors.New("output: eve: anomaly: nil packet or anomaly info")
	errAnomalyBadType = errors.New("output: eve: anomaly: type must be \"decode\", \"stream\" or \"applayer\"")
)

// Anomaly writes an "anomaly" record for packet p, in the packet's
// orientation as Suricata writes them: the common header (with "tx_id"
// when a.HasTx), then "anomaly":
//
//	decode, stream: {"type", "event"}
//	applayer:       {"app_proto", "type", "event", "layer"}
//
// Records of a type the configuration turns off (EVEConfig.AnomalyDecode,
// AnomalyStream, AnomalyNoAppLayer; Suricata logs only applayer anomalies
// by default) are not written and the call returns nil.
func (e *EVE) Anomaly(p *packet.Packet, flowID uint64, a *AnomalyInfo) error {
	if e.s.closed {
		return ErrClosed
	}
	if p == nil || a == nil {
		return errNilAnomaly
	}
	switch a.Type {
	case AnomalyDecode:
		if !e.cfg.AnomalyDecode {
			return nil
		}
	case AnomalyStream:
		if !e.cfg.AnomalyStream {
			return nil
		}
	case AnomalyAppLayer:
		if e.cfg.AnomalyNoAppLayer {
			return nil
		}
	default:
		return errAnomalyBadType
	}
	e.begin(p, flowID, "anomaly")
	j := &e.s.j
	if a.HasTx {
		j.uint("tx_id", a.TxID)
	}
	j.openObject("anomaly")
	app := a.Type == AnomalyAppLayer
	if app {
		j.str("app_proto", appProtoName(a.AppProto))
	}
	if a.Event != "" {
		j.str("type", a.Type)
		j.str("event", a.Event)
	} else {
		j.str("type", "unknown")
		j.int("code", int64(a.Code))
	}
	if app && a.Layer != "" {
		j.str("layer", a.Layer)
	}
	j.closeObject()
	return e.end()
}

// appProtoName is the name Suricata writes for a flow's app protocol:
// "unknown" when none was recognised.
func appProtoName(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
