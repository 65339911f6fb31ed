package pipeline

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
)

// A flood of a million half-open connections (SYNs from distinct
// addresses and ports, a microsecond apart) through the whole pipeline
// stays within the flow table's and the stream tracker's caps, and the
// counters say where every packet went: each SYN either got a flow or is
// counted in flow.memcap, and each flow either got a TCP session or is
// counted in tcp.ssn_memcap_drop.
func TestHalfOpenFloodPipeline(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	const maxFlows, maxSessions = 20_000, 5_000
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{192, 168, 1, 1}}
	tcp := &layers.TCP{SrcPort: 1024, DstPort: 80, SYN: true, Seq: 1, Window: 1024}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	frame := append([]byte(nil), buf.Bytes()...)

	flows, err := flow.NewTable(flow.Config{MaxFlows: maxFlows, Prealloc: 1000})
	if err != nil {
		t.Fatal(err)
	}
	app := applayer.New(applayer.Config{})
	tracker, err := stream.NewTracker(stream.Config{Consumer: app, Memcap: maxSessions * stream.SessionSize})
	if err != nil {
		t.Fatal(err)
	}
	s := &Single{Stages: Stages{Decoder: decode.NewDecoder(decode.Options{}), Flows: flows, Stream: tracker, App: app}}
	s.prepare(nil)
	var p packet.Packet
	for i := 0; i < n; i++ {
		// 10.x.y.z:port, a distinct 4-tuple per packet.
		binary.BigEndian.PutUint32(frame[26:], 0x0a000000|uint32(i/50000))
		binary.BigEndian.PutUint16(frame[34:], uint16(1024+i%50000))
		p = packet.Packet{Data: frame, WireLen: len(frame), TimeNs: 1e18 + int64(i)*1000, LinkType: packet.LinkEthernet, Num: uint64(i + 1)}
		s.process(&p)
	}
	var snap Snapshot
	s.fillSnapshot(&snap)
	values := map[string]uint64{}
	for _, c := range snap.CounterList(nil) {
		values[c.Name] = c.Value
	}
	t.Logf("flow.total %d flow.active %d flow.memcap %d tcp.sessions %d tcp.ssn_memcap_drop %d tcp.memuse %d",
		values["flow.total"], values["flow.active"], values["flow.memcap"], values["tcp.sessions"], values["tcp.ssn_memcap_drop"], values["tcp.memuse"])
	if values["pipeline.packets"] != uint64(n) {
		t.Fatalf("pipeline.packets %d, want %d", values["pipeline.packets"], n)
	}
	if snap.Flow.Active > maxFlows || snap.Flow.Allocated > maxFlows {
		t.Errorf("flow table holds %d flows (allocated %d), cap %d", snap.Flow.Active, snap.Flow.Allocated, maxFlows)
	}
	if snap.Stream.SessionMem > maxSessions*stream.SessionSize || snap.Stream.Active > maxSessions {
		t.Errorf("stream holds %d sessions, %d bytes; cap %d sessions", snap.Stream.Active, snap.Stream.SessionMem, maxSessions)
	}
	// Every SYN: a new flow, or a flow-memcap drop.
	if values["flow.total"]+values["flow.memcap"] != uint64(n) || values["pipeline.no_flow"] != values["flow.memcap"] {
		t.Errorf("flows %d + memcap drops %d != %d packets (no_flow %d)", values["flow.total"], values["flow.memcap"], n, values["pipeline.no_flow"])
	}
	// Every flow: a session, or a session-memcap drop.
	if values["tcp.sessions"]+values["tcp.ssn_memcap_drop"] != values["flow.total"] {
		t.Errorf("sessions %d + ssn_memcap_drop %d != flows %d", values["tcp.sessions"], values["tcp.ssn_memcap_drop"], values["flow.total"])
	}
	if values["flow.memcap"] == 0 || values["tcp.ssn_memcap_drop"] == 0 {
		t.Errorf("the caps were never hit: the test does not test them")
	}
}
