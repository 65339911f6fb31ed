package pipeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/engine"
	"github.com/vigil-ids/vigil/detect/rules"
	"github.com/vigil-ids/vigil/output"
)

// fragments splits an Ethernet/IPv4/UDP datagram carrying payload into
// IPv4 fragments of at most size payload bytes each.
func fragments(t *testing.T, payload []byte, size int) [][]byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x4242, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 4000, DstPort: 5000}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	whole := buf.Bytes()
	body := whole[20:] // UDP header + payload
	eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	var out [][]byte
	for off := 0; off < len(body); off += size {
		end := min(off+size, len(body))
		h := append([]byte(nil), whole[:20]...)
		binary.BigEndian.PutUint16(h[2:], uint16(20+end-off))
		fo := uint16(off / 8)
		if end < len(body) {
			fo |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(h[6:], fo)
		h[10], h[11] = 0, 0
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(h[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
		frame := append(append(append([]byte(nil), eth...), h...), body[off:end]...)
		out = append(out, frame)
	}
	return out
}

// An attack string split across fragments is found in the reassembled
// datagram, which is logged with pkt_src "defrag".
func TestDefragmentedAttackIsDetected(t *testing.T) {
	p := &rules.Parser{}
	r, err := p.ParseRule(`alert udp any any -> any 5000 (msg:"split attack"; content:"ATTACK-STRING-SPLIT"; sid:7;)`, "t.rules", 1)
	if err != nil {
		t.Fatal(err)
	}
	eng, errs := engine.Compile([]*rules.Rule{r}, engine.Config{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	flows, _ := flow.NewTable(flow.DefaultConfig())
	reasm, err := defrag.New(defrag.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var eve bytes.Buffer
	s := &Single{Stages: Stages{
		Decoder: decode.NewDecoder(decode.Options{Checksums: true}),
		Defrag:  reasm, Flows: flows, Detect: eng.NewThread(),
		EVE: output.NewEVE(&eve, output.EVEConfig{}),
	}}
	s.AlertsBySig = make([]uint64, len(eng.Signatures()))
	payload := []byte("xxxxxxxxxxxxxxxxxxxxATTACK-STRING-SPLITxxxxxxxxxxxxxxxx")
	frags := fragments(t, payload, 16)
	if len(frags) < 3 {
		t.Fatalf("only %d fragments", len(frags))
	}
	for i, f := range frags {
		s.process(&packet.Packet{Data: f, WireLen: len(f), LinkType: packet.LinkEthernet, TimeNs: int64(i+1) * 1e6, Num: uint64(i + 1)})
	}
	s.EVE.Flush()
	if s.Counters.Reassembled != 1 || s.Counters.Alerts != 1 {
		t.Fatalf("reassembled %d, alerts %d; eve: %s", s.Counters.Reassembled, s.Counters.Alerts, eve.String())
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(eve.String())), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["pkt_src"] != "defrag" || ev["dest_port"] != 5000.0 {
		t.Errorf("alert record %v", ev)
	}
	if _, ok := ev["pcap_cnt"]; ok {
		t.Errorf("reassembled packet should have no pcap_cnt: %v", ev)
	}

	// Without reassembly the same fragments raise nothing.
	s2 := &Single{Stages: Stages{Decoder: decode.NewDecoder(decode.Options{}), Flows: flows, Detect: eng.NewThread()}}
	s2.AlertsBySig = make([]uint64, 1)
	for i, f := range frags {
		s2.process(&packet.Packet{Data: f, WireLen: len(f), LinkType: packet.LinkEthernet, TimeNs: int64(i+1) * 1e6})
	}
	if s2.Counters.Alerts != 0 {
		t.Errorf("fragments alone alerted %d times", s2.Counters.Alerts)
	}
}
