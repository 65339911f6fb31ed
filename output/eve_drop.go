package output

import (
	"encoding/binary"
	"errors"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

var errNilDrop = errors.New("output: eve: drop: nil packet")

// Drop writes a "drop" record for packet p, which the engine dropped or
// rejected inline (Suricata's eve-log "drop" type): the common header,
// then "drop" with the IP header's fields (IPv4: len, tos, ttl, ipid;
// IPv6: len, tc, hoplimit, flowlbl), the transport's (TCP: tcpseq, tcpack,
// tcpwin, syn, ack, psh, rst, urg, fin, tcpres, tcpurgp; UDP: udplen; ICMP
// echo: icmp_id, icmp_seq), read from the headers as captured, and "reason" (p.DropReason's name). a, when not
// nil, is the alert of the signature that dropped the packet (drop
// "alerts: yes"), written as the record's "alert" object.
func (e *EVE) Drop(p *packet.Packet, flowID uint64, a *AlertInfo) error {
	if e.s.closed {
		return ErrClosed
	}
	if p == nil {
		return errNilDrop
	}
	e.begin(p, flowID, "drop")
	j := &e.s.j
	j.openObject("drop")
	d := p.Data
	switch {
	case p.IsIPv4() && p.L3Off+20 <= len(d):
		j.uint("len", uint64(binary.BigEndian.Uint16(d[p.L3Off+2:])))
		j.uint("tos", uint64(p.TOS))
		j.uint("ttl", uint64(p.TTL))
		j.uint("ipid", uint64(p.IPID))
	case p.IsIPv6() && p.L3Off+40 <= len(d):
		j.uint("len", uint64(binary.BigEndian.Uint16(d[p.L3Off+4:])))
		j.uint("tc", uint64(p.TOS))
		j.uint("hoplimit", uint64(p.TTL))
		j.uint("flowlbl", uint64(p.IPv6Flow))
	}
	switch {
	case p.IsTCP() && p.L4Off+20 <= len(d):
		h := d[p.L4Off:]
		f := h[13]
		j.uint("tcpseq", uint64(binary.BigEndian.Uint32(h[4:])))
		j.uint("tcpack", uint64(binary.BigEndian.Uint32(h[8:])))
		j.uint("tcpwin", uint64(binary.BigEndian.Uint16(h[14:])))
		j.boolean("syn", f&packet.TCPSyn != 0)
		j.boolean("ack", f&packet.TCPAck != 0)
		j.boolean("psh", f&packet.TCPPsh != 0)
		j.boolean("rst", f&packet.TCPRst != 0)
		j.boolean("urg", f&packet.TCPUrg != 0)
		j.boolean("fin", f&packet.TCPFin != 0)
		j.uint("tcpres", uint64(h[12]&0x0f))
		j.uint("tcpurgp", uint64(binary.BigEndian.Uint16(h[18:])))
	case p.IsUDP() && p.L4Off+8 <= len(d):
		j.uint("udplen", uint64(binary.BigEndian.Uint16(d[p.L4Off+4:])))
	case (p.IsICMPv4() || p.IsICMPv6()) && isEcho(p):
		j.uint("icmp_id", uint64(p.ICMPID))
		j.uint("icmp_seq", uint64(p.ICMPSeq))
	}
	if r := p.DropReason; r != packet.DropReasonNone {
		j.str("reason", r.String())
	}
	j.closeObject()
	if a != nil {
		e.alertObject(a)
	}
	return e.end()
}

// isEcho reports whether p is an ICMP or ICMPv6 echo request or reply.
func isEcho(p *packet.Packet) bool {
	if p.IsICMPv4() {
		return p.ICMPType == 0 || p.ICMPType == 8
	}
	return p.ICMPType == 128 || p.ICMPType == 129
}
