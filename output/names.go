package output

import (
	"strconv"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// protoNames are the IANA protocol-number keywords Suricata uses for EVE
// "proto" and the fast.log {proto} field. Numbers past the end of the table
// have no name: EVE writes the number, fast.log writes PROTO:NNN.
var protoNames = [...]string{
	"HOPOPT", "ICMP", "IGMP", "GGP", "IP-in-IP", "ST", "TCP", "CBT", // 0-7
	"EGP", "IGP", "BBN-RCC-MON", "NVP-II", "PUP", "ARGUS", "EMCON", "XNET", // 8-15
	"CHAOS", "UDP", "MUX", "DCN-MEAS", "HMP", "PRM", "XNS-IDP", "TRUNK-1", // 16-23
	"TRUNK-2", "LEAF-1", "LEAF-2", "RDP", "IRTP", "ISO-TP4", "NETBLT", "MFE-NSP", // 24-31
	"MERIT-INP", "DCCP", "3PC", "IDPR", "XTP", "DDP", "IDPR-CMTP", "TP++", // 32-39
	"IL", "IPv6", "SDRP", "IPv6-Route", "IPv6-Frag", "IDRP", "RSVP", "GRE", // 40-47
	"DSR", "BNA", "ESP", "AH", "I-NLSP", "SwIPe", "NARP", "MOBILE", // 48-55
	"TLSP", "SKIP", "IPv6-ICMP", "IPv6-NoNxt", "IPv6-Opts", "Any", "CFTP", "Any", // 56-63
	"SAT-EXPAK", "KRYPTOLAN", "RVD", "IPPC", "Any", "SAT-MON", "VISA", "IPCU", // 64-71
	"CPNX", "CPHB", "WSN", "PVP", "BR-SAT-MON", "SUN-ND", "WB-MON", "WB-EXPAK", // 72-79
	"ISO-IP", "VMTP", "SECURE-VMTP", "VINES", "TTP", "NSFNET-IGP", "DGP", "TCF", // 80-87
	"EIGRP", "OSPF", "Sprite-RPC", "LARP", "MTP", "AX.25", "OS", "MICP", // 88-95
	"SCC-SP", "ETHERIP", "ENCAP", "Any", "GMTP", "IFMP", "PNNI", "PIM", // 96-103
	"ARIS", "SCPS", "QNX", "A/N", "IPComp", "SNP", "Compaq-Peer", "IPX-in-IP", // 104-111
	"VRRP", "PGM", "Any", "L2TP", "DDX", "IATP", "STP", "SRP", // 112-119
	"UTI", "SMP", "SM", "PTP", "IS-IS", "FIRE", "CRTP", "CRUDP", // 120-127
	"SSCOPMCE", "IPLT", "SPS", "PIPE", "SCTP", "FC", "RSVP-E2E-IGNORE", "Mobility", // 128-135
	"UDPLite", "MPLS-in-IP", "manet", "HIP", "Shim6", "WESP", "ROHC", "Ethernet", // 136-143
}

// protoNumStrings holds the decimal form of every protocol number, so the
// EVE writer can name an unknown protocol without allocating.
var protoNumStrings = func() (s [256]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// protoName returns the name Suricata gives IP protocol n, or "" if none.
func protoName(n uint8) string {
	if int(n) < len(protoNames) {
		return protoNames[n]
	}
	return ""
}

// eveProto is the EVE "proto" value: the protocol's name, or its number.
func eveProto(n uint8) string {
	if s := protoName(n); s != "" {
		return s
	}
	return protoNumStrings[n]
}

// hasPorts reports whether Suricata logs ports for IP protocol n.
func hasPorts(n uint8) bool {
	return n == packet.ProtoTCP || n == packet.ProtoUDP || n == packet.ProtoSCTP
}

// linkTypeName is the EVE packet_info.linktype_name Suricata 8 writes for a
// link type, "n/a" for one it has no name for.
func linkTypeName(lt packet.LinkType) string {
	switch lt {
	case packet.LinkNull:
		return "NULL"
	case packet.LinkEthernet:
		return "EN10MB"
	case packet.LinkPPP:
		return "PPP"
	case 14: // LINKTYPE_RAW2 (OpenBSD raw IP)
		return "RAW2"
	case packet.LinkRaw:
		return "RAW"
	case 104: // LINKTYPE_C_HDLC
		return "C_HDLC"
	case packet.LinkLinuxSLL:
		return "LINUX_SLL"
	case packet.LinkIPv4:
		return "IPv4"
	case packet.LinkIPv6:
		return "IPv6"
	case packet.LinkLinuxSLL2:
		return "LINUX_SLL2"
	case 778: // Suricata's GRE-over-IP pseudo link type
		return "GRE_RAW"
	}
	return "n/a"
}
