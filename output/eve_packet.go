package output

import "github.com/vigil-ids/vigil/dataplane/packet"

// TaggedPacket writes a "packet" record for a packet the tag keyword
// selected (Suricata's eve-log alert option "tagged-packets: yes"): the
// header of the packet and the frame in base64 with its link type.
func (e *EVE) TaggedPacket(p *packet.Packet, flowID uint64) error {
	if e.s.closed {
		return ErrClosed
	}
	if p == nil {
		return errNilAlert
	}
	e.begin(p, flowID, "packet")
	e.packetFields(p)
	return e.end()
}

// packetFields writes "packet" (the frame in base64) and "packet_info".
func (e *EVE) packetFields(p *packet.Packet) {
	j := &e.s.j
	j.base64("packet", p.Data)
	j.openObject("packet_info")
	j.uint("linktype", uint64(p.LinkType))
	j.str("linktype_name", linkTypeName(p.LinkType))
	j.closeObject()
}
