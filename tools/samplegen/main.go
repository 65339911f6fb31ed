// Command samplegen writes testdata/sample.pcap, the capture `make run`
// analyses: a few minutes of small, deterministic, made-up traffic (TCP
// sessions with handshakes, HTTP, DNS, ICMP, IPv6, VLAN) with a handful of
// attacks that testdata/sample.rules detects. Same program, same bytes.
//
// Usage: go run ./tools/samplegen -o testdata/sample.pcap
package main

import (
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

func main() {
	out := flag.String("o", "testdata/sample.pcap", "output pcap file")
	copies := flag.Int("copies", 1, "repeat the sample's traffic this many times, each copy from other client addresses and ports (for benchmarks)")
	flag.Parse()
	if *copies < 1 || *copies > 1<<20 {
		fmt.Fprintf(os.Stderr, "samplegen: -copies %d: expected 1..%d\n", *copies, 1<<20)
		os.Exit(2)
	}
	if err := write(*out, *copies); err != nil {
		fmt.Fprintf(os.Stderr, "samplegen: %v\n", err)
		os.Exit(1)
	}
}

// gen accumulates frames with a packet clock.
type gen struct {
	w   *pcapfile.Writer
	now int64 // ns
	err error
}

var (
	macClient = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	macServer = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

func (g *gen) emit(ls ...gopacket.SerializableLayer) {
	if g.err != nil {
		return
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		g.err = err
		return
	}
	data := buf.Bytes()
	g.err = g.w.WritePacket(g.now, data, len(data))
	g.now += 1_000_000 // 1 ms between frames
}

// endpoint pair of one conversation.
type conv struct {
	cIP, sIP     net.IP
	cPort, sPort uint16
	vlan         uint16
	cSeq, sSeq   uint32
}

func (g *gen) l2(c *conv, fromClient bool, l3 layers.EthernetType) []gopacket.SerializableLayer {
	src, dst := macClient, macServer
	if !fromClient {
		src, dst = dst, src
	}
	if c.vlan != 0 {
		return []gopacket.SerializableLayer{
			&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: c.vlan, Type: l3},
		}
	}
	return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: l3}}
}

func (g *gen) ip(c *conv, fromClient bool, proto layers.IPProtocol) ([]gopacket.SerializableLayer, gopacket.NetworkLayer) {
	src, dst := c.cIP, c.sIP
	if !fromClient {
		src, dst = dst, src
	}
	if src.To4() != nil {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.To4(), DstIP: dst.To4(), Flags: layers.IPv4DontFragment}
		return append(g.l2(c, fromClient, layers.EthernetTypeIPv4), ip), ip
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src, DstIP: dst}
	return append(g.l2(c, fromClient, layers.EthernetTypeIPv6), ip), ip
}

func (g *gen) tcp(c *conv, fromClient bool, syn, ack, psh, fin bool, payload []byte) {
	ls, nl := g.ip(c, fromClient, layers.IPProtocolTCP)
	t := &layers.TCP{SYN: syn, ACK: ack, PSH: psh, FIN: fin, Window: 64240}
	if fromClient {
		t.SrcPort, t.DstPort, t.Seq, t.Ack = layers.TCPPort(c.cPort), layers.TCPPort(c.sPort), c.cSeq, c.sSeq
	} else {
		t.SrcPort, t.DstPort, t.Seq, t.Ack = layers.TCPPort(c.sPort), layers.TCPPort(c.cPort), c.sSeq, c.cSeq
	}
	if !ack {
		t.Ack = 0
	}
	if syn {
		t.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}
	}
	if err := t.SetNetworkLayerForChecksum(nl); err != nil {
		g.err = err
		return
	}
	ls = append(ls, t)
	if len(payload) > 0 {
		ls = append(ls, gopacket.Payload(payload))
	}
	g.emit(ls...)
	n := uint32(len(payload))
	if syn || fin {
		n++
	}
	if fromClient {
		c.cSeq += n
	} else {
		c.sSeq += n
	}
}

// session plays a full TCP conversation: handshake, request, response, close.
func (g *gen) session(c *conv, request, response string) {
	g.tcp(c, true, true, false, false, false, nil)
	g.tcp(c, false, true, true, false, false, nil)
	g.tcp(c, true, false, true, false, false, nil)
	g.tcp(c, true, false, true, true, false, []byte(request))
	g.tcp(c, false, false, true, false, false, nil)
	if response != "" {
		g.tcp(c, false, false, true, true, false, []byte(response))
		g.tcp(c, true, false, true, false, false, nil)
	}
	g.tcp(c, true, false, true, false, true, nil)
	g.tcp(c, false, false, true, false, true, nil)
	g.tcp(c, true, false, true, false, false, nil)
	g.now += 200_000_000
}

func (g *gen) udp(c *conv, fromClient bool, payload []byte) {
	ls, nl := g.ip(c, fromClient, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: layers.UDPPort(c.cPort), DstPort: layers.UDPPort(c.sPort)}
	if !fromClient {
		u.SrcPort, u.DstPort = u.DstPort, u.SrcPort
	}
	if err := u.SetNetworkLayerForChecksum(nl); err != nil {
		g.err = err
		return
	}
	g.emit(append(ls, u, gopacket.Payload(payload))...)
}

func dnsQuery(id uint16, name string, answer net.IP) []byte {
	d := &layers.DNS{ID: id, RD: true, OpCode: layers.DNSOpCodeQuery,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	if answer != nil {
		d.QR, d.RA = true, true
		d.Answers = []layers.DNSResourceRecord{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 300, IP: answer}}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic(err) // static input: cannot fail
	}
	return append([]byte(nil), buf.Bytes()...)
}

func (g *gen) ping(c *conv, seq uint16, payload string) {
	for _, fromClient := range []bool{true, false} {
		ls, _ := g.ip(c, fromClient, layers.IPProtocolICMPv4)
		typ := uint8(layers.ICMPv4TypeEchoRequest)
		if !fromClient {
			typ = layers.ICMPv4TypeEchoReply
		}
		ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 0x4242, Seq: seq}
		g.emit(append(ls, ic, gopacket.Payload(payload))...)
	}
}

func write(path string, copies int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := pcapfile.NewWriter(f, packet.LinkEthernet, 65535, false)
	if err != nil {
		f.Close()
		return err
	}
	// 2026-01-15 09:00:00 UTC
	g := &gen{w: w, now: 1768467600 * 1_000_000_000}
	for i := 0; i < copies && g.err == nil; i++ {
		g.traffic(i)
	}
	if g.err != nil {
		f.Close()
		return g.err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// traffic writes one copy of the sample conversations; copy i > 0 uses
// other client addresses and ports so that every copy is a distinct flow.
func (g *gen) traffic(i int) {
	vary := func(ip string) net.IP {
		a := net.ParseIP(ip)
		if i == 0 {
			return a
		}
		b := append(net.IP(nil), a...)
		b[len(b)-2] ^= byte(i >> 8)
		b[len(b)-1] ^= byte(i)
		return b
	}
	port := func(p uint16) uint16 { return p + uint16(i%8000) }
	client := vary("192.168.1.10")
	web := net.ParseIP("203.0.113.80")

	// 1. An ordinary web page.
	g.session(&conv{cIP: client, sIP: web, cPort: port(51000), sPort: 80, cSeq: 1000, sSeq: 5000},
		"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\n\r\n<html><p>welcome</p></html>")
	// 2. The classic testmyids response: a server answers with `id` output.
	g.session(&conv{cIP: client, sIP: web, cPort: port(51001), sPort: 80, cSeq: 2000, sSeq: 9000},
		"GET /testmyids HTTP/1.1\r\nHost: testmynids.example\r\nUser-Agent: curl/8.5.0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 39\r\n\r\nuid=0(root) gid=0(root) groups=0(root)\n")
	// 3. A scanner's user agent and a path traversal attempt.
	g.session(&conv{cIP: vary("198.51.100.23"), sIP: net.ParseIP("192.168.1.20"), cPort: port(40404), sPort: 8080, cSeq: 77, sSeq: 88},
		"GET /../../etc/passwd HTTP/1.1\r\nHost: intranet\r\nUser-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine)\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	// 4. DNS lookups, one of a name on a block list.
	dns := &conv{cIP: client, sIP: net.ParseIP("192.168.1.1"), cPort: port(53535), sPort: 53}
	g.udp(dns, true, dnsQuery(0x1111, "www.example.com", nil))
	g.udp(dns, false, dnsQuery(0x1111, "www.example.com", net.ParseIP("203.0.113.80")))
	dns2 := &conv{cIP: client, sIP: net.ParseIP("192.168.1.1"), cPort: port(53536), sPort: 53}
	g.udp(dns2, true, dnsQuery(0x2222, "evil-c2.example.net", nil))
	g.udp(dns2, false, dnsQuery(0x2222, "evil-c2.example.net", net.ParseIP("198.51.100.66")))
	// 5. Pings, one with a payload a covert-channel rule looks for.
	icmp := &conv{cIP: client, sIP: net.ParseIP("203.0.113.1")}
	g.ping(icmp, 1, "abcdefghijklmnopqrstuvwabcdefghi")
	g.ping(icmp, 2, "EXFIL:c2VjcmV0cw==")
	// 6. IPv6 web request with a shell command in the URI.
	g.session(&conv{cIP: vary("2001:db8::10"), sIP: net.ParseIP("2001:db8:1::80"), cPort: port(52000), sPort: 80, cSeq: 300, sSeq: 400},
		"GET /cgi-bin/status?cmd=/bin/sh%20-c%20id HTTP/1.1\r\nHost: [2001:db8:1::80]\r\n\r\n",
		"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
	// 7. A VLAN-tagged session to a database port with a SQL injection.
	g.session(&conv{cIP: vary("10.20.0.5"), sIP: net.ParseIP("10.20.0.9"), cPort: port(49999), sPort: 80, vlan: 20, cSeq: 1, sSeq: 1},
		"GET /item?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\r\nHost: shop\r\n\r\n",
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
}
