package engine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// protoSet is a rule's header protocol.
type protoSet uint8

const (
	protoIP protoSet = iota
	protoTCP
	protoUDP
	protoICMP // ICMPv4 or ICMPv6
	protoICMPv4
	protoICMPv6
	protoSCTP
	protoPkthdr // every packet, IP or not
	protoIPv4   // any IPv4 packet
	protoIPv6   // any IPv6 packet
	protoTCPUDP // TCP or UDP (app-layer protocols carried over both)
)

// parseProto maps a rule header protocol to a protoSet.
func parseProto(name string) (protoSet, bool) {
	switch name {
	case "ip":
		return protoIP, true
	case "tcp", "tcp-pkt", "tcp-stream":
		return protoTCP, true
	case "udp":
		return protoUDP, true
	case "icmp":
		return protoICMP, true
	case "icmpv4":
		return protoICMPv4, true
	case "icmpv6":
		return protoICMPv6, true
	case "sctp":
		return protoSCTP, true
	case "pkthdr":
		return protoPkthdr, true
	case "ipv4", "ip4":
		return protoIPv4, true
	case "ipv6", "ip6":
		return protoIPv6, true
	}
	return 0, false
}

func (ps protoSet) inGroup(g Group) bool {
	switch ps {
	case protoPkthdr:
		return true
	case protoIP, protoIPv4, protoIPv6:
		return g != GroupNonIP
	case protoTCP:
		return g == GroupTCP
	case protoUDP:
		return g == GroupUDP
	case protoTCPUDP:
		return g == GroupTCP || g == GroupUDP
	case protoICMP, protoICMPv4, protoICMPv6:
		return g == GroupICMP
	case protoSCTP:
		return g == GroupOther
	}
	return false
}

func (ps protoSet) matches(p *packet.Packet) bool {
	switch ps {
	case protoIP:
		return p.Flags&(packet.FlagIPv4|packet.FlagIPv6) != 0
	case protoPkthdr:
		return true
	case protoIPv4:
		return p.Flags&packet.FlagIPv4 != 0
	case protoIPv6:
		return p.Flags&packet.FlagIPv6 != 0
	case protoTCP:
		return p.Flags&packet.FlagTCP != 0 || brokenL4(p, packet.ProtoTCP)
	case protoUDP:
		return p.Flags&packet.FlagUDP != 0 || brokenL4(p, packet.ProtoUDP)
	case protoTCPUDP:
		return p.Flags&(packet.FlagTCP|packet.FlagUDP) != 0
	case protoICMP:
		return p.Flags&(packet.FlagICMPv4|packet.FlagICMPv6) != 0 || brokenL4(p, packet.ProtoICMP) || brokenL4(p, packet.ProtoICMPv6)
	case protoICMPv4:
		return p.Flags&packet.FlagICMPv4 != 0 || brokenL4(p, packet.ProtoICMP)
	case protoICMPv6:
		return p.Flags&packet.FlagICMPv6 != 0 || brokenL4(p, packet.ProtoICMPv6)
	case protoSCTP:
		return p.IPProto == packet.ProtoSCTP && p.Flags&(packet.FlagTCP|packet.FlagUDP|packet.FlagICMPv4|packet.FlagICMPv6) == 0
	}
	return false
}

// flowMatch is the compiled flow keyword.
type flowMatch struct {
	require uint32 // packet flag bits that must be set
	forbid  uint32 // packet flag bits that must be clear
	frag    int8   // +1 only_frag (reassembled from fragments), -1 no_frag, 0 either
	stream  int8   // +1 only_stream, -1 no_stream, 0 the signature's default
}

func (f *flowMatch) match(p *packet.Packet) bool {
	if p.Flags&f.require != f.require || p.Flags&f.forbid != 0 {
		return false
	}
	switch f.frag {
	case 1:
		return p.Origin == packet.OriginDefrag
	case -1:
		return p.Origin != packet.OriginDefrag
	}
	return true
}

// parseFlow parses the flow keyword's comma-separated options.
func parseFlow(v string) (flowMatch, error) {
	var f flowMatch
	var dir, state, stream, frag string
	set := func(slot *string, name, what string) error {
		if *slot == name {
			return fmt.Errorf("%q given twice", name)
		}
		if *slot != "" {
			return fmt.Errorf("cannot combine %q and %q (both set the %s)", *slot, name, what)
		}
		*slot = name
		return nil
	}
	if strings.TrimSpace(v) == "" {
		return f, fmt.Errorf("needs at least one option")
	}
	for _, o := range strings.Split(v, ",") {
		o = strings.ToLower(strings.TrimSpace(o))
		var err error
		switch o {
		case "to_server", "from_client":
			err = set(&dir, o, "direction")
			f.require |= packet.FlagToServer
		case "to_client", "from_server":
			err = set(&dir, o, "direction")
			f.require |= packet.FlagToClient
		case "established":
			err = set(&state, o, "state")
			f.require |= packet.FlagEstablished
		case "not_established":
			err = set(&state, o, "state")
			f.forbid |= packet.FlagEstablished
		case "stateless":
			err = set(&state, o, "state")
		case "only_stream":
			err = set(&stream, o, "stream mode")
			f.stream = 1
		case "no_stream":
			err = set(&stream, o, "stream mode")
			f.stream = -1
		case "only_frag":
			err = set(&frag, o, "fragment mode")
			f.frag = 1
		case "no_frag":
			err = set(&frag, o, "fragment mode")
			f.frag = -1
		case "":
			err = fmt.Errorf("empty option")
		default:
			err = fmt.Errorf("unknown option %q", o)
		}
		if err != nil {
			return f, err
		}
	}
	if f.require&(packet.FlagToServer|packet.FlagToClient) == packet.FlagToServer|packet.FlagToClient {
		return f, fmt.Errorf("cannot match both directions")
	}
	return f, nil
}

// packetMatcher is a keyword that inspects the packet's headers.
type packetMatcher interface {
	match(p *packet.Packet) bool
}

// uintMode is the comparison of a numeric keyword (Suricata's DetectUint).
type uintMode uint8

const (
	uintEq uintMode = iota
	uintNe
	uintLt
	uintLe
	uintGt
	uintGe
	uintRange    // lo < x < hi
	uintNegRange // x <= lo || x >= hi
)

type uintMatch struct {
	mode   uintMode
	lo, hi uint64
}

func (u uintMatch) match(x uint64) bool {
	switch u.mode {
	case uintEq:
		return x == u.lo
	case uintNe:
		return x != u.lo
	case uintLt:
		return x < u.lo
	case uintLe:
		return x <= u.lo
	case uintGt:
		return x > u.lo
	case uintGe:
		return x >= u.lo
	case uintRange:
		return x > u.lo && x < u.hi
	case uintNegRange:
		return x <= u.lo || x >= u.hi
	}
	return false
}

// parseUint parses "N", "=N", "!N", "<N", "<=N", ">N", ">=N", "A<>B",
// "A-B" and "!A-B" with values up to limit.
func parseUint(v string, limit uint64) (uintMatch, error) {
	s := strings.TrimSpace(v)
	num := func(t string) (uint64, error) {
		t = strings.TrimSpace(t)
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid number %q", t)
		}
		if n > limit {
			return 0, fmt.Errorf("value %d out of range (max %d)", n, limit)
		}
		return n, nil
	}
	rng := func(t string, mode uintMode) (uintMatch, error) {
		sep, w := strings.Index(t, "<>"), 2
		if sep < 0 {
			sep, w = strings.Index(t, "-"), 1
		}
		a, err := num(t[:sep])
		if err != nil {
			return uintMatch{}, err
		}
		b, err := num(t[sep+w:])
		if err != nil {
			return uintMatch{}, err
		}
		if a >= b {
			return uintMatch{}, fmt.Errorf("invalid range %q: the lower bound must be below the upper", t)
		}
		return uintMatch{mode: mode, lo: a, hi: b}, nil
	}
	if s == "" {
		return uintMatch{}, fmt.Errorf("empty value")
	}
	switch {
	case strings.HasPrefix(s, "!="):
		n, err := num(s[2:])
		return uintMatch{mode: uintNe, lo: n}, err
	case strings.HasPrefix(s, "!"):
		t := strings.TrimSpace(s[1:])
		if strings.Contains(t, "<>") || strings.Contains(t, "-") {
			return rng(t, uintNegRange)
		}
		n, err := num(t)
		return uintMatch{mode: uintNe, lo: n}, err
	case strings.HasPrefix(s, "<="):
		n, err := num(s[2:])
		return uintMatch{mode: uintLe, lo: n}, err
	case strings.HasPrefix(s, ">="):
		n, err := num(s[2:])
		return uintMatch{mode: uintGe, lo: n}, err
	case strings.HasPrefix(s, "<") && !strings.HasPrefix(s, "<>"):
		n, err := num(s[1:])
		return uintMatch{mode: uintLt, lo: n}, err
	case strings.HasPrefix(s, ">"):
		n, err := num(s[1:])
		return uintMatch{mode: uintGt, lo: n}, err
	case strings.HasPrefix(s, "="):
		n, err := num(s[1:])
		return uintMatch{mode: uintEq, lo: n}, err
	case strings.Contains(s, "<>") || strings.Contains(s, "-"):
		return rng(s, uintRange)
	}
	n, err := num(s)
	return uintMatch{mode: uintEq, lo: n}, err
}

// dsize: payload size of a real (not pseudo) packet.
type dsizeMatch struct{ u uintMatch }

func (m *dsizeMatch) match(p *packet.Packet) bool {
	if p.Origin == packet.OriginStream || p.Origin == packet.OriginFlowTimeout {
		return false
	}
	n := p.PayloadLen
	if n < 0 {
		n = 0
	}
	return m.u.match(uint64(n))
}

// ttl: IPv4 TTL or IPv6 hop limit.
type ttlMatch struct{ u uintMatch }

func (m *ttlMatch) match(p *packet.Packet) bool {
	return p.Flags&(packet.FlagIPv4|packet.FlagIPv6) != 0 && m.u.match(uint64(p.TTL))
}

// itype / icode: ICMPv4 or ICMPv6 type and code.
type icmpMatch struct {
	u    uintMatch
	code bool
}

func (m *icmpMatch) match(p *packet.Packet) bool {
	if p.Flags&(packet.FlagICMPv4|packet.FlagICMPv6) == 0 {
		return false
	}
	if m.code {
		return m.u.match(uint64(p.ICMPCode))
	}
	return m.u.match(uint64(p.ICMPType))
}

// ip_proto: the transport protocol number.
type ipProtoMatch struct{ u uintMatch }

func (m *ipProtoMatch) match(p *packet.Packet) bool {
	return p.Flags&(packet.FlagIPv4|packet.FlagIPv6) != 0 && m.u.match(uint64(p.IPProto))
}

// ipProtoNames are the protocol names ip_proto accepts (IANA keywords as in
// /etc/protocols).
var ipProtoNames = map[string]uint8{
	"hopopt": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipv4": 4, "ipencap": 4, "st": 5, "tcp": 6,
	"egp": 8, "igp": 9, "pup": 12, "udp": 17, "hmp": 20, "xns-idp": 22, "rdp": 27,
	"iso-tp4": 29, "dccp": 33, "xtp": 36, "ddp": 37, "idpr-cmtp": 38, "ipv6": 41,
	"ipv6-route": 43, "ipv6-frag": 44, "idrp": 45, "rsvp": 46, "gre": 47, "esp": 50,
	"ah": 51, "skip": 57, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
	"rspf": 73, "vmtp": 81, "eigrp": 88, "ospf": 89, "ospfigp": 89, "ax.25": 93, "ipip": 94,
	"etherip": 97, "encap": 98, "pim": 103, "ipcomp": 108, "vrrp": 112, "l2tp": 115,
	"isis": 124, "sctp": 132, "fc": 133, "mobility-header": 135, "udplite": 136,
	"mpls-in-ip": 137, "manet": 138, "hip": 139, "shim6": 140, "wesp": 141, "rohc": 142,
}

func parseIPProto(v string) (uintMatch, error) {
	s := strings.TrimSpace(v)
	prefix := ""
	for _, p := range []string{"!", "<", ">"} {
		if strings.HasPrefix(s, p) {
			prefix, s = p, strings.TrimSpace(s[1:])
			break
		}
	}
	if n, ok := ipProtoNames[strings.ToLower(s)]; ok {
		s = strconv.Itoa(int(n))
	}
	return parseUint(prefix+s, 255)
}

// flags: TCP flags with Suricata's modifiers.
type flagsMatch struct {
	bits   uint8
	ignore uint8 // mask of bits to ignore
	mod    byte  // 0 (exact), '+', '*' or '!'
}

func (m *flagsMatch) match(p *packet.Packet) bool {
	if p.Flags&packet.FlagTCP == 0 {
		return false
	}
	f := p.TCPFlags &^ m.ignore
	switch m.mod {
	case '+':
		return f&m.bits == m.bits
	case '*':
		return f&m.bits != 0
	case '!':
		return f&m.bits != m.bits
	}
	return f == m.bits
}

func tcpFlagBit(c byte) (uint8, bool) {
	switch c {
	case 'F', 'f':
		return packet.TCPFin, true
	case 'S', 's':
		return packet.TCPSyn, true
	case 'R', 'r':
		return packet.TCPRst, true
	case 'P', 'p':
		return packet.TCPPsh, true
	case 'A', 'a':
		return packet.TCPAck, true
	case 'U', 'u':
		return packet.TCPUrg, true
	case 'C', 'c', '1':
		return packet.TCPCwr, true
	case 'E', 'e', '2':
		return packet.TCPEce, true
	}
	return 0, false
}

func parseFlags(v string) (*flagsMatch, error) {
	m := &flagsMatch{}
	s := strings.TrimSpace(v)
	flagPart, maskPart, hasMask := strings.Cut(s, ",")
	flagPart = strings.TrimSpace(flagPart)
	if flagPart == "" {
		return nil, fmt.Errorf("no flags given")
	}
	zero := false
	for i := 0; i < len(flagPart); i++ {
		c := flagPart[i]
		switch c {
		case '+', '*', '!':
			if m.mod != 0 && m.mod != c {
				return nil, fmt.Errorf("more than one modifier in %q", flagPart)
			}
			m.mod = c
		case '0':
			zero = true
		case ' ', '\t':
		default:
			b, ok := tcpFlagBit(c)
			if !ok {
				return nil, fmt.Errorf("invalid flag %q in %q", c, flagPart)
			}
			m.bits |= b
		}
	}
	if zero && m.bits != 0 {
		return nil, fmt.Errorf("flag 0 (no flags) cannot be combined with other flags")
	}
	if !zero && m.bits == 0 {
		return nil, fmt.Errorf("no flags given in %q", flagPart)
	}
	if hasMask {
		maskPart = strings.TrimSpace(maskPart)
		if maskPart == "" {
			return nil, fmt.Errorf("empty mask")
		}
		for i := 0; i < len(maskPart); i++ {
			b, ok := tcpFlagBit(maskPart[i])
			if !ok {
				return nil, fmt.Errorf("invalid flag %q in mask %q", maskPart[i], maskPart)
			}
			m.ignore |= b
		}
	}
	return m, nil
}

// sameip: source and destination address are equal.
type sameIPMatch struct{}

func (sameIPMatch) match(p *packet.Packet) bool {
	return p.Flags&(packet.FlagIPv4|packet.FlagIPv6) != 0 && p.SrcIP == p.DstIP
}

// brokenL4 reports whether p is an unfragmented IP packet of protocol proto
// whose transport header did not decode.
func brokenL4(p *packet.Packet, proto uint8) bool {
	return p.IPProto == proto &&
		p.Flags&(packet.FlagIPv4|packet.FlagIPv6) != 0 &&
		p.Flags&(packet.FlagTCP|packet.FlagUDP|packet.FlagICMPv4|packet.FlagICMPv6|packet.FlagFragment) == 0
}
