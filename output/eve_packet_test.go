package output

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

func TestTaggedPacket(t *testing.T) {
	var buf bytes.Buffer
	e := NewEVE(&buf, EVEConfig{})
	p := &packet.Packet{Data: []byte{1, 2, 3, 4}, LinkType: packet.LinkEthernet, Num: 9, TimeNs: 1e18,
		Flags: packet.FlagIPv4 | packet.FlagUDP | packet.FlagToServer, SrcIP: netip.MustParseAddr("10.0.0.1"),
		DstIP: netip.MustParseAddr("10.0.0.2"), SrcPort: 1, DstPort: 2, IPProto: packet.ProtoUDP}
	if err := e.TaggedPacket(p, 77); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if m["event_type"] != "packet" || m["flow_id"] != float64(77) || m["pcap_cnt"] != float64(9) ||
		m["packet"] != base64.StdEncoding.EncodeToString(p.Data) || m["src_ip"] != "10.0.0.1" {
		t.Fatalf("record %s", buf.Bytes())
	}
	if pi, _ := m["packet_info"].(map[string]any); pi["linktype"] != float64(1) {
		t.Fatalf("packet_info %v", m["packet_info"])
	}
}
