package bypass

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// XDP return codes.
const (
	xdpAborted  = 0
	xdpDrop     = 1
	xdpPass     = 2
	xdpTx       = 3
	xdpRedirect = 4
)

func xdpActionName(a uint32) string {
	switch a {
	case xdpAborted:
		return "XDP_ABORTED"
	case xdpDrop:
		return "XDP_DROP"
	case xdpPass:
		return "XDP_PASS"
	case xdpTx:
		return "XDP_TX"
	case xdpRedirect:
		return "XDP_REDIRECT"
	}
	return "?"
}

// requireBPF skips the test when it cannot load BPF programs.
func requireBPF(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF, CAP_NET_ADMIN) to load the XDP program")
	}
}

// newTestProgram loads the program and maps without attaching them.
func newTestProgram(t testing.TB, o Options) *Program {
	t.Helper()
	requireBPF(t)
	p, err := newProgram(o)
	if errors.Is(err, unix.EPERM) {
		t.Skipf("cannot load BPF: %v", err)
	}
	if err != nil {
		t.Fatalf("newProgram: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// run runs the program once on frame with BPF_PROG_TEST_RUN (ingress
// interface: the namespace's loopback device, queue 0).
func run(t testing.TB, p *Program, frame []byte) uint32 {
	t.Helper()
	ret, err := p.objs.VigilBypass.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
	}
	return ret
}

// frameSpec describes a test frame.
type frameSpec struct {
	key      FlowKey
	vlans    []uint16 // tags outermost first (overrides key.VLAN when set)
	outerAD  bool     // outer tag uses TPID 0x88a8
	tcpFlags uint8    // packet.TCP* bits (TCP only; ACK is added unless RST)
	payload  int
	fragMF   bool   // IPv4 more-fragments
	fragOff  uint16 // IPv4 fragment offset in 8-byte units
	hopByHop bool   // IPv6 hop-by-hop extension header before L4
	ipOpts   bool   // IPv4 with a 4-byte NOP option block (IHL 6)
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

// buildFrame serializes f with gopacket.
func buildFrame(t testing.TB, f frameSpec) []byte {
	t.Helper()
	k := f.key
	vlans := f.vlans
	if vlans == nil {
		for _, v := range k.VLAN {
			if v != 0 {
				vlans = append(vlans, v)
			}
		}
	}
	var ls []gopacket.SerializableLayer
	etherType := layers.EthernetTypeIPv4
	if k.Src.Is6() {
		etherType = layers.EthernetTypeIPv6
	}
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB}
	ls = append(ls, eth)
	next := &eth.EthernetType
	for i, v := range vlans {
		if i == 0 && f.outerAD {
			*next = layers.EthernetTypeQinQ
		} else {
			*next = layers.EthernetTypeDot1Q
		}
		d := &layers.Dot1Q{VLANIdentifier: v}
		ls = append(ls, d)
		next = &d.Type
	}
	*next = etherType

	var netLayer gopacket.NetworkLayer
	if k.Src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocol(k.Proto),
			SrcIP: k.Src.AsSlice(), DstIP: k.Dst.AsSlice(), Id: 1234, FragOffset: f.fragOff}
		if f.fragMF {
			ip.Flags |= layers.IPv4MoreFragments
		}
		if f.ipOpts {
			ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		}
		netLayer = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(k.Proto),
			SrcIP: k.Src.AsSlice(), DstIP: k.Dst.AsSlice()}
		netLayer = ip
		ls = append(ls, ip)
	}
	switch k.Proto {
	case packet.ProtoTCP:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(k.SrcPort), DstPort: layers.TCPPort(k.DstPort),
			Seq: 1000, Ack: 2000, Window: 65535,
			FIN: f.tcpFlags&packet.TCPFin != 0, SYN: f.tcpFlags&packet.TCPSyn != 0,
			RST: f.tcpFlags&packet.TCPRst != 0, PSH: f.tcpFlags&packet.TCPPsh != 0,
			ACK: f.tcpFlags&packet.TCPRst == 0}
		tcp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, tcp)
	case packet.ProtoUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(k.SrcPort), DstPort: layers.UDPPort(k.DstPort)}
		udp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, udp)
	}
	pl := make([]byte, f.payload)
	for i := range pl {
		pl[i] = byte(i)
	}
	ls = append(ls, gopacket.Payload(pl))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize %+v: %v", f, err)
	}
	b := buf.Bytes()
	if f.hopByHop {
		b = insertHopByHop(b, 14+4*len(vlans))
	}
	return append([]byte(nil), b...)
}

// insertHopByHop puts an 8-byte hop-by-hop header (PadN) after the IPv6
// header at l3 and fixes next header and payload length.
func insertHopByHop(b []byte, l3 int) []byte {
	ext := []byte{b[l3+6], 0, 1, 4, 0, 0, 0, 0}
	out := append([]byte(nil), b[:l3+40]...)
	out = append(out, ext...)
	out = append(out, b[l3+40:]...)
	out[l3+6] = 0
	binary.BigEndian.PutUint16(out[l3+4:], binary.BigEndian.Uint16(out[l3+4:])+8)
	return out
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func tcpKey4() FlowKey {
	return FlowKey{Src: mustAddr("10.1.0.1"), Dst: mustAddr("10.2.0.2"), SrcPort: 40000, DstPort: 80, Proto: packet.ProtoTCP}
}

func udpKey6() FlowKey {
	return FlowKey{Src: mustAddr("2001:db8::1"), Dst: mustAddr("2001:db8::2"), SrcPort: 5353, DstPort: 53, Proto: packet.ProtoUDP}
}

func mustStats(t testing.TB, p *Program) Stats {
	t.Helper()
	s, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
