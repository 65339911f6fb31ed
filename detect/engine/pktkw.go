package engine

import (
	"encoding/binary"
	"strings"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/rules"
)

// Packet header keywords (IP, TCP, ICMP fields, decoder events, checksums)
// and the header sticky buffers.

func init() {
	register(&keyword{name: "flowbits", setup: setupFlowbits})
	register(&keyword{name: "flowint", setup: setupFlowint})
	register(&keyword{name: "threshold", setup: setupThreshold})
	register(&keyword{name: "detection_filter", setup: setupDetectionFilter})
	register(&keyword{name: "noalert", setup: func(b *builder, o rules.Option) error {
		if err := noValue(o); err != nil {
			return err
		}
		b.sig.noalert = true
		return nil
	}})
	// prefilter: marks the keyword Suricata should prefilter on; Vigil's
	// prefilter is the fast pattern only, so it has no effect on results.
	register(&keyword{name: "prefilter", setup: func(b *builder, o rules.Option) error {
		return noValue(o)
	}})
	register(&keyword{name: "decode-event", setup: setupDecodeEvent})
	register(&keyword{name: "ipopts", setup: setupIPOpts})
	register(&keyword{name: "fragbits", setup: setupFragbits})
	register(&keyword{name: "fragoffset", setup: setupFragoffset})
	for _, n := range []string{"window", "tcp.window"} {
		register(&keyword{name: n, setup: setupWindow})
	}
	for _, n := range []string{"seq", "tcp.seq", "ack", "tcp.ack"} {
		register(&keyword{name: n, setup: setupSeqAck})
	}
	for _, n := range []string{"icmp_id", "icmp_seq"} {
		register(&keyword{name: n, setup: setupICMPIDSeq})
	}
	register(&keyword{name: "tcp.mss", setup: func(b *builder, o rules.Option) error {
		u, err := parseUint(o.Value, 65535)
		if err != nil {
			return err
		}
		b.sig.pkt = append(b.sig.pkt, &mssMatch{u})
		return nil
	}})
	for _, n := range []string{"ipv4-csum", "tcpv4-csum", "tcpv6-csum", "udpv4-csum", "udpv6-csum", "icmpv4-csum", "icmpv6-csum"} {
		register(&keyword{name: n, setup: setupCsum})
	}
}

// decode-event: a decoder event was raised for the packet.
type eventMatch struct{ id packet.EventID }

func (m *eventMatch) match(p *packet.Packet) bool { return p.HasEvent(m.id) }

func setupDecodeEvent(b *builder, o rules.Option) error {
	name := strings.ToLower(strings.TrimSpace(o.Value))
	name = strings.TrimPrefix(name, "decoder.")
	if name == "" {
		return errFmt("missing event name")
	}
	id, ok := decode.EventByName(name)
	if !ok {
		return errFmt("unknown decoder event %q", name)
	}
	b.sig.pkt = append(b.sig.pkt, &eventMatch{id})
	return nil
}

// ipopts: an IPv4 option of the given type is present.
type ipoptsMatch struct{ mask uint32 }

func (m *ipoptsMatch) match(p *packet.Packet) bool {
	return p.Flags&packet.FlagIPv4 != 0 && p.IPv4Opts&m.mask != 0
}

var ipoptNames = map[string]uint8{
	"rr": decode.IPOptRR, "eol": decode.IPOptEOL, "nop": decode.IPOptNOP, "ts": decode.IPOptTS,
	"sec": decode.IPOptSEC, "esec": decode.IPOptESEC, "lsrr": decode.IPOptLSRR, "ssrr": decode.IPOptSSRR,
	"satid": decode.IPOptSID, "qs": decode.IPOptQS, "cipso": decode.IPOptCIPSO, "rtralt": decode.IPOptRTRALT,
}

func setupIPOpts(b *builder, o rules.Option) error {
	v := strings.ToLower(strings.TrimSpace(o.Value))
	if v == "any" {
		b.sig.pkt = append(b.sig.pkt, &ipoptsMatch{^uint32(0)})
		return nil
	}
	t, ok := ipoptNames[v]
	if !ok {
		return errFmt("unknown IP option %q (want rr, eol, nop, ts, sec, esec, lsrr, ssrr, satid or any)", v)
	}
	b.sig.pkt = append(b.sig.pkt, &ipoptsMatch{decode.IPOptBit(t)})
	return nil
}

// fragbits: the IPv4 flag bits M (more fragments), D (don't fragment) and
// R (reserved), with the modifiers of the flags keyword.
type fragbitsMatch struct {
	bits, ignore uint8
	mod          byte
}

const (
	fragR uint8 = 4
	fragD uint8 = 2
	fragM uint8 = 1
)

func (m *fragbitsMatch) match(p *packet.Packet) bool {
	if p.Flags&packet.FlagIPv4 == 0 {
		return false
	}
	var f uint8
	if p.FragMF {
		f |= fragM
	}
	if p.IPv4DF {
		f |= fragD
	}
	if p.IPv4RF {
		f |= fragR
	}
	f &^= m.ignore
	switch m.mod {
	case '+':
		return f&m.bits == m.bits
	case '*':
		return f&m.bits != 0
	case '!':
		return f&m.bits == 0
	}
	return f == m.bits
}

func fragBit(c byte) (uint8, bool) {
	switch c {
	case 'M', 'm':
		return fragM, true
	case 'D', 'd':
		return fragD, true
	case 'R', 'r':
		return fragR, true
	}
	return 0, false
}

func setupFragbits(b *builder, o rules.Option) error {
	if err := b.once("fragbits"); err != nil {
		return err
	}
	m := &fragbitsMatch{}
	bitsPart, maskPart, hasMask := strings.Cut(strings.TrimSpace(o.Value), ",")
	bitsPart = strings.TrimSpace(bitsPart)
	for i := 0; i < len(bitsPart); i++ {
		c := bitsPart[i]
		switch c {
		case '+', '*', '!':
			if m.mod != 0 {
				return errFmt("more than one modifier in %q", bitsPart)
			}
			m.mod = c
		case ' ', '\t':
		default:
			bit, ok := fragBit(c)
			if !ok {
				return errFmt("invalid fragment bit %q in %q (want M, D or R)", c, bitsPart)
			}
			m.bits |= bit
		}
	}
	if m.bits == 0 {
		return errFmt("no fragment bits given in %q", o.Value)
	}
	if hasMask {
		maskPart = strings.TrimSpace(maskPart)
		for i := 0; i < len(maskPart); i++ {
			bit, ok := fragBit(maskPart[i])
			if !ok {
				return errFmt("invalid fragment bit %q in mask %q", maskPart[i], maskPart)
			}
			m.ignore |= bit
		}
	}
	b.sig.pkt = append(b.sig.pkt, m)
	return nil
}

// fragoffset: the fragment offset as Suricata reads it: the IPv4 header
// field (8-byte units), or the IPv6 fragment header's offset in bytes.
type fragoffMatch struct{ u uintMatch }

func (m *fragoffMatch) match(p *packet.Packet) bool {
	switch {
	case p.Flags&packet.FlagIPv4 != 0:
		return m.u.match(uint64(p.FragOff / 8))
	case p.Flags&packet.FlagIPv6 != 0:
		if p.Flags&packet.FlagIPv6Frag == 0 {
			return false
		}
		return m.u.match(uint64(p.FragOff))
	}
	return false
}

func setupFragoffset(b *builder, o rules.Option) error {
	v := strings.TrimSpace(o.Value)
	if v == "" {
		return errFmt("missing value")
	}
	var u uintMatch
	var err error
	switch v[0] {
	case '!', '<', '>':
		u, err = parseUint(v[:1]+strings.TrimSpace(v[1:]), 65535)
	default:
		u, err = parseUint(v, 65535)
		if err == nil && u.mode != uintEq {
			err = errFmt("invalid value %q (want [!|<|>]N)", v)
		}
	}
	if err != nil {
		return err
	}
	b.sig.pkt = append(b.sig.pkt, &fragoffMatch{u})
	return nil
}

// window: TCP window size.
type windowMatch struct{ u uintMatch }

func (m *windowMatch) match(p *packet.Packet) bool {
	return p.Flags&packet.FlagTCP != 0 && m.u.match(uint64(p.TCPWindow))
}

func setupWindow(b *builder, o rules.Option) error {
	u, err := parseUint(o.Value, 65535)
	if err != nil {
		return err
	}
	b.sig.pkt = append(b.sig.pkt, &windowMatch{u})
	return nil
}

// seq / ack: TCP sequence and acknowledgement numbers.
type seqAckMatch struct {
	u   uintMatch
	ack bool
}

func (m *seqAckMatch) match(p *packet.Packet) bool {
	if p.Flags&packet.FlagTCP == 0 {
		return false
	}
	if m.ack {
		return m.u.match(uint64(p.TCPAck))
	}
	return m.u.match(uint64(p.TCPSeq))
}

func setupSeqAck(b *builder, o rules.Option) error {
	u, err := parseUint(o.Value, 1<<32-1)
	if err != nil {
		return err
	}
	b.sig.pkt = append(b.sig.pkt, &seqAckMatch{u: u, ack: strings.HasSuffix(o.Name, "ack")})
	return nil
}

// icmp_id / icmp_seq: identifier and sequence number of ICMP echo
// (and, for ICMPv4, timestamp, information and address mask) messages.
type icmpIDSeqMatch struct {
	u   uintMatch
	seq bool
}

func (m *icmpIDSeqMatch) match(p *packet.Packet) bool {
	switch {
	case p.Flags&packet.FlagICMPv4 != 0:
		switch p.ICMPType {
		case 0, 8, 13, 14, 15, 16, 17, 18:
		default:
			return false
		}
	case p.Flags&packet.FlagICMPv6 != 0:
		if p.ICMPType != 128 && p.ICMPType != 129 {
			return false
		}
	default:
		return false
	}
	o := p.L4Off + 4
	if m.seq {
		o += 2
	}
	if o < 0 || o+2 > len(p.Data) {
		return false
	}
	return m.u.match(uint64(binary.BigEndian.Uint16(p.Data[o:])))
}

func setupICMPIDSeq(b *builder, o rules.Option) error {
	v := strings.TrimSpace(o.Value)
	v = strings.Trim(v, "\"")
	u, err := parseUint(v, 65535)
	if err != nil {
		return err
	}
	b.sig.pkt = append(b.sig.pkt, &icmpIDSeqMatch{u: u, seq: o.Name == "icmp_seq"})
	return nil
}

// tcp.mss: the MSS option value (no match without the option).
type mssMatch struct{ u uintMatch }

func (m *mssMatch) match(p *packet.Packet) bool {
	return p.Flags&packet.FlagTCP != 0 && p.Flags&packet.FlagTCPMSS != 0 && m.u.match(uint64(p.TCPMSS))
}

// Checksum keywords: valid / invalid. The decoder validates checksums (unless
// told not to, -k none) and flags bad ones; with validation off every
// checksum counts as valid, as Suricata's PKT_IGNORE_CHECKSUM makes
// "valid" match and "invalid" not.
type csumMatch struct {
	need    uint32 // packet flags that select the header (IPv4|TCP, ...)
	bad     uint32 // flag saying the checksum is wrong
	invalid bool
}

func (m *csumMatch) match(p *packet.Packet) bool {
	if p.Flags&m.need != m.need {
		return false
	}
	return (p.Flags&m.bad != 0) == m.invalid
}

func setupCsum(b *builder, o rules.Option) error {
	v := strings.ToLower(strings.Trim(strings.TrimSpace(o.Value), "\""))
	m := &csumMatch{bad: packet.FlagL4CsumBad}
	switch v {
	case "valid":
	case "invalid":
		m.invalid = true
	default:
		return errFmt("invalid value %q (want valid or invalid)", o.Value)
	}
	switch o.Name {
	case "ipv4-csum":
		m.need, m.bad = packet.FlagIPv4, packet.FlagIPv4CsumBad
	case "tcpv4-csum":
		m.need = packet.FlagIPv4 | packet.FlagTCP
	case "tcpv6-csum":
		m.need = packet.FlagIPv6 | packet.FlagTCP
	case "udpv4-csum":
		m.need = packet.FlagIPv4 | packet.FlagUDP
	case "udpv6-csum":
		m.need = packet.FlagIPv6 | packet.FlagUDP
	case "icmpv4-csum":
		m.need = packet.FlagICMPv4
	case "icmpv6-csum":
		m.need = packet.FlagICMPv6
	}
	b.sig.pkt = append(b.sig.pkt, m)
	return nil
}

// flowCountMatch: flow.pkts / flow.bytes (and the older flow.pkts_toserver,
// ... forms): the flow's packet or byte count in one direction, or either.
// Counts include the current packet. No flow, no match.
type flowCountMatch struct {
	u     uintMatch
	bytes bool
	dir   int8 // 1 toserver, 2 toclient, 3 either
}

func (m *flowCountMatch) matchFlow(f *flow.Flow) bool {
	if f == nil {
		return false
	}
	ts, tc := f.PktsToServer, f.PktsToClient
	if m.bytes {
		ts, tc = f.BytesToServer, f.BytesToClient
	}
	switch m.dir {
	case 1:
		return m.u.match(ts)
	case 2:
		return m.u.match(tc)
	}
	return m.u.match(ts) || m.u.match(tc)
}

func setupFlowCount(b *builder, o rules.Option) error {
	m := &flowCountMatch{bytes: strings.HasPrefix(o.Name, "flow.bytes")}
	v := strings.TrimSpace(o.Value)
	switch {
	case strings.HasSuffix(o.Name, "_toserver"):
		m.dir = 1
	case strings.HasSuffix(o.Name, "_toclient"):
		m.dir = 2
	default:
		d, rest, ok := strings.Cut(v, ",")
		if !ok {
			return errFmt("invalid value %q (want toserver|toclient|either,VALUE)", v)
		}
		switch strings.ToLower(strings.TrimSpace(d)) {
		case "toserver":
			m.dir = 1
		case "toclient":
			m.dir = 2
		case "either":
			m.dir = 3
		default:
			return errFmt("invalid direction %q (want toserver, toclient or either)", d)
		}
		v = rest
	}
	u, err := parseUint(v, 1<<63-1)
	if err != nil {
		return err
	}
	m.u = u
	b.sig.flowKw = append(b.sig.flowKw, m)
	return nil
}

// icmpv6.mtu: the MTU of an ICMPv6 Packet Too Big message.
type icmpv6MTUMatch struct{ u uintMatch }

func (m *icmpv6MTUMatch) match(p *packet.Packet) bool {
	if p.Flags&packet.FlagICMPv6 == 0 || p.ICMPType != 2 || p.ICMPCode != 0 {
		return false
	}
	o := p.L4Off + 4
	if o < 0 || o+4 > len(p.Data) {
		return false
	}
	return m.u.match(uint64(binary.BigEndian.Uint32(p.Data[o:])))
}

func init() {
	for _, n := range []string{"flow.pkts", "flow.bytes", "flow.pkts_toserver", "flow.pkts_toclient", "flow.bytes_toserver", "flow.bytes_toclient"} {
		register(&keyword{name: n, setup: setupFlowCount})
	}
	register(&keyword{name: "icmpv6.mtu", setup: func(b *builder, o rules.Option) error {
		u, err := parseUint(o.Value, 1<<32-1)
		if err != nil {
			return err
		}
		b.sig.pkt = append(b.sig.pkt, &icmpv6MTUMatch{u})
		return nil
	}})
}
