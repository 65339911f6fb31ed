package output

import (
	"errors"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// FlowRecord is an ended flow as EVE's "flow" event shows it.
type FlowRecord struct {
	FlowInfo        // orientation (client is src) and counters
	EndNs     int64 // time of the flow's last packet
	VLAN      [packet.MaxVLAN]uint16
	VLANCount uint8
	State     string // "new", "established", "closed"
	Reason    string // "timeout", "shutdown", "forced"
	Alerted   bool
	AppProto  string // "" when none was detected
	// TCP flags seen from the client, from the server, and together
	// (TCP flows only).
	TCPFlagsTS, TCPFlagsTC uint8
	// Bypass is how the flow was bypassed: "capture" (the kernel carried
	// it), "local" (user space stopped inspecting it) or "" (not).
	// Bypassed holds, for a capture bypass, the packets and bytes the
	// kernel carried (to server, to client), included in the totals.
	Bypass                      string
	BypassedPkts, BypassedBytes [2]uint64
}

var errNilFlow = errors.New("output: eve: flow: nil record")

// Flow writes a "flow" record for flow id, in Suricata 8's layout: the
// common header (timestamp is the flow's start, addresses and ports in the
// flow's orientation), then "flow" {pkts_toserver, pkts_toclient,
// bytes_toserver, bytes_toclient, start, end, age, state, reason, alerted}
// and, for TCP, "tcp" {tcp_flags, tcp_flags_ts, tcp_flags_tc and a key per
// flag seen}.
func (e *EVE) Flow(id uint64, r *FlowRecord) error {
	if e.s.closed {
		return ErrClosed
	}
	if r == nil {
		return errNilFlow
	}
	j := &e.s.j
	j.b = append(j.b, '{')
	j.key("timestamp")
	j.b = append(j.b, '"')
	j.b = appendISOTime(j.b, r.StartNs, e.loc)
	j.b = append(j.b, '"')
	if id != 0 {
		j.uint("flow_id", id)
	}
	j.str("event_type", "flow")
	e.vlanArray(&r.VLAN, r.VLANCount)
	var ipv uint64
	if r.SrcIP.Is4() {
		ipv = 4
	} else if r.SrcIP.IsValid() {
		ipv = 6
	}
	e.endpoints(r.SrcIP, r.DstIP, r.SrcPort, r.DstPort, r.Proto, ipv)
	if r.AppProto != "" {
		j.str("app_proto", r.AppProto)
	}
	j.openObject("flow")
	j.uint("pkts_toserver", r.PktsToServer)
	j.uint("pkts_toclient", r.PktsToClient)
	j.uint("bytes_toserver", r.BytesToServer)
	j.uint("bytes_toclient", r.BytesToClient)
	if r.Bypass == "capture" {
		j.openObject("bypassed")
		j.uint("pkts_toserver", r.BypassedPkts[0])
		j.uint("pkts_toclient", r.BypassedPkts[1])
		j.uint("bytes_toserver", r.BypassedBytes[0])
		j.uint("bytes_toclient", r.BypassedBytes[1])
		j.closeObject()
	}
	j.key("start")
	j.b = append(j.b, '"')
	j.b = appendISOTime(j.b, r.StartNs, e.loc)
	j.b = append(j.b, '"')
	j.key("end")
	j.b = append(j.b, '"')
	j.b = appendISOTime(j.b, r.EndNs, e.loc)
	j.b = append(j.b, '"')
	// age: whole seconds between the start and end seconds, as Suricata.
	age := r.EndNs/1e9 - r.StartNs/1e9
	if age < 0 {
		age = 0
	}
	j.int("age", age)
	j.str("state", r.State)
	if r.Bypass != "" {
		j.str("bypass", r.Bypass)
	}
	j.str("reason", r.Reason)
	j.key("alerted")
	if r.Alerted {
		j.b = append(j.b, "true"...)
	} else {
		j.b = append(j.b, "false"...)
	}
	j.closeObject()
	if r.Proto == packet.ProtoTCP {
		all := r.TCPFlagsTS | r.TCPFlagsTC
		j.openObject("tcp")
		j.key("tcp_flags")
		j.b = appendHexByte(j.b, all)
		j.key("tcp_flags_ts")
		j.b = appendHexByte(j.b, r.TCPFlagsTS)
		j.key("tcp_flags_tc")
		j.b = appendHexByte(j.b, r.TCPFlagsTC)
		for i, name := range tcpFlagNames {
			if all&(1<<i) != 0 {
				j.key(name)
				j.b = append(j.b, "true"...)
			}
		}
		j.str("state", r.State)
		j.closeObject()
	}
	return e.end()
}

// tcpFlagNames are EVE's keys for the TCP flag bits, lowest bit first.
var tcpFlagNames = [8]string{"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"}

// appendHexByte appends a quoted two-digit lower-case hex byte ("1b").
func appendHexByte(b []byte, v uint8) []byte {
	const digits = "0123456789abcdef"
	return append(b, '"', digits[v>>4], digits[v&15], '"')
}
