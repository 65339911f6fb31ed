package stream_test

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
)

type collect struct{ got [2][]byte }

func (c *collect) Data(s *stream.Session, d stream.Dir, b []byte) int {
	c.got[d] = append(c.got[d], b...)
	return len(b)
}
func (c *collect) Gap(s *stream.Session, d stream.Dir, n uint32) {}

// frame builds an Ethernet/IPv4/TCP frame with gopacket.
func frame(t *testing.T, toServer bool, syn, ack, fin, psh bool, seq, ackn uint32, data string, opts ...layers.TCPOption) []byte {
	t.Helper()
	c, s := net.IPv4(192, 168, 1, 10), net.IPv4(192, 168, 1, 20)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: c, DstIP: s}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: seq, Ack: ackn, SYN: syn, ACK: ack, FIN: fin, PSH: psh, Window: 64240, Options: opts}
	if !toServer {
		ip.SrcIP, ip.DstIP = s, c
		tcp.SrcPort, tcp.DstPort = 80, 40000
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(data)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecodeFlowStream runs serialized frames through the decoder, the flow
// table and the tracker, with window scaling and timestamps negotiated.
func TestDecodeFlowStream(t *testing.T) {
	col := &collect{}
	tr, err := stream.NewTracker(stream.Config{Consumer: col})
	if err != nil {
		t.Fatal(err)
	}
	fcfg := flow.DefaultConfig()
	fcfg.Seed = 1
	tab, err := flow.NewTable(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	dec := decode.NewDecoder(decode.Options{})
	tsOpt := func(v, e uint32) layers.TCPOption {
		b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v), byte(e >> 24), byte(e >> 16), byte(e >> 8), byte(e)}
		return layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: b}
	}
	ws := layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}}
	frames := [][]byte{
		frame(t, true, true, false, false, false, 100, 0, "", ws, tsOpt(1, 0)),
		frame(t, false, true, true, false, false, 900, 101, "", ws, tsOpt(50, 1)),
		frame(t, true, false, true, false, false, 101, 901, "", tsOpt(2, 50)),
		frame(t, true, false, true, false, true, 101, 901, "GET /x HTTP/1.1\r\n\r\n", tsOpt(3, 50)),
		frame(t, false, false, true, false, true, 901, 120, "HTTP/1.1 204 No Content\r\n\r\n", tsOpt(51, 3)),
		frame(t, true, false, true, true, false, 120, 928, "", tsOpt(4, 51)),
		frame(t, false, false, true, true, false, 928, 121, "", tsOpt(52, 4)),
		frame(t, true, false, true, false, false, 121, 929, "", tsOpt(5, 52)),
	}
	var s *stream.Session
	var f *flow.Flow
	for i, b := range frames {
		p := &packet.Packet{Data: b, WireLen: len(b), LinkType: packet.LinkEthernet, TimeNs: int64(i+1) * 1e6}
		dec.Decode(p)
		if !p.IsTCP() {
			t.Fatalf("frame %d not decoded as TCP", i)
		}
		f = tab.Lookup(p)
		s = tr.Process(p, f)
		if s == nil {
			t.Fatalf("frame %d: no session", i)
		}
		for j := uint8(0); j < p.NumEvents; j++ {
			if n := stream.EventName(p.Events[j]); n != "" {
				t.Fatalf("frame %d: event %s", i, n)
			}
		}
	}
	if s.State != stream.StateClosed || s.Flags&stream.FlagWScale == 0 || s.Flags&stream.FlagTimestamps == 0 {
		t.Fatalf("state %v flags %x", s.State, s.Flags)
	}
	if string(col.got[stream.ToServer]) != "GET /x HTTP/1.1\r\n\r\n" || string(col.got[stream.ToClient]) != "HTTP/1.1 204 No Content\r\n\r\n" {
		t.Fatalf("streams %q %q", col.got[0], col.got[1])
	}
	tr.FlowEnd(f, nil)
	if tr.Stats().Active != 0 {
		t.Fatal("session not released")
	}
}
