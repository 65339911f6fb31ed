//go:build dpdk

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// The binary under test is built with DPDK (go test -tags dpdk builds this
// file).
func init() { liveBuildTags = append(liveBuildTags, "dpdk") }

// dpdkTrafficFrames builds the frames of the DPDK test: the same series as
// the live tests (pings, a TCP session carrying the marker, marked,
// drop-marked and unmarked UDP) between client and server.
func dpdkTrafficFrames(t *testing.T, client, server string) [][]byte {
	t.Helper()
	cMAC := net.HardwareAddr{0x02, 0x76, 0x6c, 0, 0, 1}
	sMAC := net.HardwareAddr{0x02, 0x76, 0x6c, 0, 0, 2}
	cIP, sIP := net.ParseIP(client).To4(), net.ParseIP(server).To4()
	var frames [][]byte
	id := uint16(0)
	build := func(toServer bool, l4 gopacket.SerializableLayer, proto layers.IPProtocol, payload []byte) {
		src, dst, smac, dmac := cIP, sIP, cMAC, sMAC
		if !toServer {
			src, dst, smac, dmac = sIP, cIP, sMAC, cMAC
		}
		id++
		eth := &layers.Ethernet{SrcMAC: smac, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Id: id, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: src, DstIP: dst}
		switch l := l4.(type) {
		case *layers.TCP:
			l.SetNetworkLayerForChecksum(ip)
		case *layers.UDP:
			l.SetNetworkLayerForChecksum(ip)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, l4, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, append([]byte(nil), buf.Bytes()...))
	}
	for seq := 1; seq <= livePings; seq++ {
		pl := []byte(fmt.Sprintf("VLIVE-PING %04d vigil end-to-end", seq))
		build(true, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x7676, Seq: uint16(seq)},
			layers.IPProtocolICMPv4, pl)
		build(false, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: 0x7676, Seq: uint16(seq)},
			layers.IPProtocolICMPv4, pl)
	}
	// TCP: handshake, the marker and 4 more segments, acknowledged, FIN.
	const cport = 40702
	cs, ss := uint32(1000), uint32(5000)
	tcp := func(toServer bool, syn, ack, psh, fin bool, data []byte) {
		sp, dp, seq, an := layers.TCPPort(cport), layers.TCPPort(portTCP), cs, ss
		if !toServer {
			sp, dp, seq, an = dp, sp, ss, cs
		}
		build(toServer, &layers.TCP{SrcPort: sp, DstPort: dp, Seq: seq, Ack: an, SYN: syn, ACK: ack, PSH: psh, FIN: fin, Window: 65535},
			layers.IPProtocolTCP, data)
		adv := uint32(len(data))
		if syn || fin {
			adv++
		}
		if toServer {
			cs += adv
		} else {
			ss += adv
		}
	}
	tcp(true, true, false, false, false, nil)
	tcp(false, true, true, false, false, nil)
	tcp(true, false, true, false, false, nil)
	tcp(true, false, true, true, false, []byte("VLIVE-TCP-MARK "+strings.Repeat("x", 1000)))
	for i := 0; i < 4; i++ {
		tcp(true, false, true, true, false, []byte(strings.Repeat(string(rune('a'+i)), 1400)))
		tcp(false, false, true, false, false, nil)
	}
	tcp(true, false, true, false, true, nil)
	tcp(false, false, true, false, true, nil)
	tcp(true, false, true, false, false, nil)
	for _, s := range []struct {
		port   int
		marker string
	}{{portUDPMark, "VLIVE-UDP-MARK"}, {portUDPDrop, "VLIVE-DROP-MARK"}, {portUDPPlain, "plain"}} {
		for i := 0; i < liveUDPCount; i++ {
			build(true, &layers.UDP{SrcPort: layers.UDPPort(41000 + s.port), DstPort: layers.UDPPort(s.port)}, layers.IPProtocolUDP,
				udpPayload(s.marker, i))
		}
	}
	return frames
}

// TestLiveDPDK: vigil --dpdk with a vigil.yaml whose EAL arguments create a
// net_pcap virtual device reading a capture of the test's traffic; the
// alerts, the packet count and the counters must be those of the capture.
func TestLiveDPDK(t *testing.T) {
	if testing.Short() {
		t.Skip("live end-to-end test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("live DPDK test needs root (the EAL's memory and device setup)")
	}
	dir := t.TempDir()
	const client, server = "10.213.7.1", "10.213.7.2"
	frames := dpdkTrafficFrames(t, client, server)
	in := filepath.Join(dir, "in.pcap")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	w, err := pcapfile.NewWriter(bw, packet.LinkEthernet, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().UnixNano()
	for i, fr := range frames {
		if err := w.WritePacket(ts+int64(i)*int64(time.Millisecond), fr, len(fr)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "vigil.yaml")
	// One worker: net_pcap has one queue pair (vigil asks for a queue per
	// worker and does not cap that at the port's maximum).
	yaml := fmt.Sprintf(`workers: 1
capture:
  dpdk:
    eal-args: ["-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--vdev=net_pcap0,rx_pcap=%s"]
    ports: [net_pcap0]
`, in)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	v := startVigil(t, "", "--dpdk", "-c", cfg, "-S", writeLiveRules(t, dir))
	v.waitReady()
	r := finish(t, v, liveWant(false))
	checkAlerts(t, r, liveWant(false), false, client, server)
	checkNoLoss(t, r)
	if n := statNum(r.final, "pipeline.packets"); n != int64(len(frames)) {
		t.Errorf("pipeline.packets = %d, want the %d frames of the capture", n, len(frames))
	}
	if _, _, n := summaryCounts(t, r.summary); n != len(frames) {
		t.Errorf("summary counts %d packets, want %d", n, len(frames))
	}
	if !strings.Contains(r.summary, "vigil: net_pcap0: ") {
		t.Errorf("summary does not name the port net_pcap0:\n%s", r.summary)
	}
	if n := statNum(r.final, "tcp.sessions"); n != 1 {
		t.Errorf("tcp.sessions = %d, want 1", n)
	}
	if n := statNum(r.final, "ips.blocked"); n != 0 {
		t.Errorf("one port (IDS): ips.blocked = %d, want 0", n)
	}
}
