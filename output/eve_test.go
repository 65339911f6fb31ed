package output

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

var gplRoot = AlertInfo{
	Action: ActionAllowed, GID: 1, SID: 2100498, Rev: 7,
	Signature: "GPL ATTACK_RESPONSE id check returned root",
	Category:  "Potentially Bad Traffic", Severity: 2,
}

type eveCase struct {
	name   string
	cfg    EVEConfig
	pkt    func(t testing.TB) *packet.Packet
	flowID uint64
	alert  AlertInfo
	golden string         // {{PACKET}} stands for the frame in base64
	checks map[string]any // dotted path -> value after encoding/json decoding
	keys   []string       // expected top-level keys, in order
	absent []string       // top-level keys that must not be there
}

var eveCases = []eveCase{
	{
		name:   "tcp4-flow",
		pkt:    func(t testing.TB) *packet.Packet { return tcp4Packet(t, []byte("uid=0(root)")) },
		flowID: 1234567890123456,
		alert:  gplRoot,
		golden: `{"timestamp":"2009-11-24T21:26:03.604227+0100","flow_id":1234567890123456,"pcap_cnt":42,"event_type":"alert","src_ip":"1.2.3.4","src_port":80,"dest_ip":"5.6.6.7","dest_port":1234,"proto":"TCP","ip_v":4,"pkt_src":"wire/pcap","alert":{"action":"allowed","gid":1,"signature_id":2100498,"rev":7,"signature":"GPL ATTACK_RESPONSE id check returned root","category":"Potentially Bad Traffic","severity":2},"direction":"to_client"}`,
		checks: map[string]any{"flow_id": 1234567890123456.0, "src_port": 80.0, "dest_ip": "5.6.6.7",
			"alert.signature_id": 2100498.0, "alert.category": "Potentially Bad Traffic", "direction": "to_client"},
		keys: []string{"timestamp", "flow_id", "pcap_cnt", "event_type", "src_ip", "src_port", "dest_ip",
			"dest_port", "proto", "ip_v", "pkt_src", "alert", "direction"},
		absent: []string{"payload", "packet", "vlan", "icmp_type", "tx_id"},
	},
	{
		name:   "udp4-noflow-payload",
		cfg:    EVEConfig{Payload: true, PayloadPrintable: true, PayloadLength: true},
		pkt:    func(t testing.TB) *packet.Packet { return udp4Packet(t, []byte("hi\x00\r\n\"\\\x7f\xff")) },
		alert:  AlertInfo{Action: ActionBlocked, GID: 1, SID: 1000001, Rev: 3, Signature: "LOCAL udp test", Severity: 3},
		golden: `{"timestamp":"2009-11-24T21:26:03.604227+0100","pcap_cnt":7,"event_type":"alert","src_ip":"10.0.0.1","src_port":5353,"dest_ip":"10.0.0.2","dest_port":53,"proto":"UDP","ip_v":4,"pkt_src":"wire/pcap","alert":{"action":"blocked","gid":1,"signature_id":1000001,"rev":3,"signature":"LOCAL udp test","category":"","severity":3},"payload":"aGkADQoiXH//","payload_length":9,"payload_printable":"hi.\r\n\"\\..","stream":0}`,
		checks: map[string]any{"payload_printable": "hi.\r\n\"\\..", "alert.action": "blocked", "alert.category": "", "stream": 0.0},
		absent: []string{"flow_id", "direction"},
	},
	{
		name:   "icmp4-vlan",
		pkt:    icmp4VLANPacket,
		flowID: 77,
		alert: AlertInfo{GID: 1, SID: 2100366, Rev: 8, Signature: "GPL ICMP PING *NIX",
			Category: "Misc activity", Severity: 3},
		golden: `{"timestamp":"2009-11-24T21:26:03.604227+0100","flow_id":77,"pcap_cnt":3,"event_type":"alert","vlan":[100,200],"src_ip":"192.168.1.2","dest_ip":"192.168.1.1","proto":"ICMP","ip_v":4,"icmp_type":8,"icmp_code":0,"pkt_src":"wire/pcap","alert":{"action":"allowed","gid":1,"signature_id":2100366,"rev":8,"signature":"GPL ICMP PING *NIX","category":"Misc activity","severity":3},"direction":"to_server"}`,
		checks: map[string]any{"vlan": []any{100.0, 200.0}, "icmp_type": 8.0, "icmp_code": 0.0, "proto": "ICMP"},
		absent: []string{"src_port", "dest_port"},
	},
	{
		name: "icmp6-packet",
		cfg:  EVEConfig{Payload: true, PayloadPrintable: true, Packet: true},
		pkt:  icmp6Packet,
		alert: AlertInfo{GID: 1, SID: 3000001, Rev: 1, Signature: "LOCAL ICMPv6 echo",
			Category: "Misc activity", Severity: 3},
		golden: `{"timestamp":"2009-11-24T21:26:03.604227+0100","pcap_cnt":11,"event_type":"alert","src_ip":"2001:0db8:0000:0000:0000:0000:0000:0001","dest_ip":"fe80:0000:0000:0000:0202:b3ff:fe1e:8329","proto":"IPv6-ICMP","ip_v":6,"icmp_type":128,"icmp_code":0,"pkt_src":"wire/pcap","alert":{"action":"allowed","gid":1,"signature_id":3000001,"rev":1,"signature":"LOCAL ICMPv6 echo","category":"Misc activity","severity":3},"stream":0,"packet":"{{PACKET}}","packet_info":{"linktype":1,"linktype_name":"EN10MB"}}`,
		checks: map[string]any{"ip_v": 6.0, "proto": "IPv6-ICMP", "packet_info.linktype": 1.0,
			"packet_info.linktype_name": "EN10MB"},
		absent: []string{"payload", "payload_printable", "src_port"},
	},
	{
		name: "tcp6-stream-metadata",
		cfg: EVEConfig{Payload: true, PayloadPrintable: true, PayloadLength: true, Metadata: true,
			SensorName: "sensor1"},
		pkt:    func(t testing.TB) *packet.Packet { return tcp6Packet(t, []byte("GET / HTTP/1.0\r\n")) },
		flowID: 99,
		alert: AlertInfo{GID: 1, SID: 2000001, Rev: 2, Signature: `ET POLICY "quoted" \ back`,
			Category: "Potential Corporate Privacy Violation", Severity: 1,
			Metadata: []string{"created_at 2010_09_23", "updated_at 2019_07_26", "Tag one", "tag two",
				"  former_category  POLICY", "novalue", "", "tag three"},
			Stream: true, HasTx: true, TxID: 0, AppProto: "http"},
		golden: `{"timestamp":"2009-11-24T21:26:03.604227+0100","flow_id":99,"pcap_cnt":5,"event_type":"alert","src_ip":"2001:0db8:0000:0000:0000:0000:0000:0010","src_port":51000,"dest_ip":"2001:0db8:0000:0001:0000:0000:0000:0080","dest_port":80,"proto":"TCP","ip_v":6,"pkt_src":"stream","tx_id":0,"alert":{"action":"allowed","gid":1,"signature_id":2000001,"rev":2,"signature":"ET POLICY \"quoted\" \\ back","category":"Potential Corporate Privacy Violation","severity":1,"metadata":{"created_at":["2010_09_23"],"former_category":["POLICY"],"tag":["three","two","one"],"updated_at":["2019_07_26"]}},"app_proto":"http","direction":"to_server","payload":"R0VUIC8gSFRUUC8xLjANCg==","payload_length":16,"payload_printable":"GET / HTTP/1.0\r\n","stream":1,"host":"sensor1"}`,
		checks: map[string]any{"alert.signature": `ET POLICY "quoted" \ back`, "alert.metadata.tag": []any{"three", "two", "one"},
			"tx_id": 0.0, "app_proto": "http", "stream": 1.0, "host": "sensor1", "pkt_src": "stream"},
		keys: []string{"timestamp", "flow_id", "pcap_cnt", "event_type", "src_ip", "src_port", "dest_ip",
			"dest_port", "proto", "ip_v", "pkt_src", "tx_id", "alert", "app_proto", "direction", "payload",
			"payload_length", "payload_printable", "stream", "host"},
	},
	{
		name: "non-ip-decoder-event",
		cfg:  EVEConfig{Payload: true, PayloadPrintable: true, Packet: true},
		pkt:  arpPacket,
		alert: AlertInfo{GID: 1, SID: 2200000, Rev: 1, Signature: "SURICATA ARP invalid",
			Category: "Generic Protocol Command Decode", Severity: 3},
		golden: `{"timestamp":"2009-11-24T21:26:03.604227+0100","pcap_cnt":9,"event_type":"alert","pkt_src":"wire/pcap","alert":{"action":"allowed","gid":1,"signature_id":2200000,"rev":1,"signature":"SURICATA ARP invalid","category":"Generic Protocol Command Decode","severity":3},"packet":"{{PACKET}}","packet_info":{"linktype":1,"linktype_name":"EN10MB"}}`,
		absent: []string{"src_ip", "dest_ip", "proto", "ip_v", "stream", "payload", "direction"},
	},
	{
		name:   "gre-named-proto",
		pkt:    func(t testing.TB) *packet.Packet { return otherProtoPacket(47) },
		flowID: 5,
		alert:  AlertInfo{GID: 1, SID: 10, Rev: 1, Signature: "gre", Severity: 3},
		golden: `{"timestamp":"2009-11-24T21:26:03.604227+0100","flow_id":5,"event_type":"alert","src_ip":"10.1.1.1","dest_ip":"10.2.2.2","proto":"GRE","ip_v":4,"pkt_src":"defrag","alert":{"action":"allowed","gid":1,"signature_id":10,"rev":1,"signature":"gre","category":"","severity":3},"direction":"to_client"}`,
		absent: []string{"src_port", "pcap_cnt"},
	},
	{
		name:   "unnamed-proto-number",
		pkt:    func(t testing.TB) *packet.Packet { return otherProtoPacket(200) },
		alert:  AlertInfo{GID: 1, SID: 11, Rev: 1, Signature: "p200", Severity: 3},
		golden: `{"timestamp":"2009-11-24T21:26:03.604227+0100","event_type":"alert","src_ip":"10.1.1.1","dest_ip":"10.2.2.2","proto":"200","ip_v":4,"pkt_src":"defrag","alert":{"action":"allowed","gid":1,"signature_id":11,"rev":1,"signature":"p200","category":"","severity":3}}`,
	},
}

func otherProtoPacket(proto uint8) *packet.Packet {
	return &packet.Packet{
		TimeNs: goldenTime, LinkType: packet.LinkRaw, Origin: packet.OriginDefrag,
		Flags: packet.FlagIPv4, SrcIP: netip.MustParseAddr("10.1.1.1"), DstIP: netip.MustParseAddr("10.2.2.2"),
		IPProto: proto, SrcPort: 9, DstPort: 9,
	}
}

func writeOne(t *testing.T, c eveCase) (string, *packet.Packet) {
	t.Helper()
	var out bytes.Buffer
	cfg := c.cfg
	cfg.Location = cet
	e := NewEVE(&out, cfg)
	p := c.pkt(t)
	a := c.alert
	if err := e.Alert(p, c.flowID, &a); err != nil {
		t.Fatalf("Alert: %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("record reached the writer before Flush")
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s := out.String()
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Fatalf("want exactly one newline-terminated line, got %q", s)
	}
	return strings.TrimSuffix(s, "\n"), p
}

func TestEVEAlertGolden(t *testing.T) {
	for _, c := range eveCases {
		t.Run(c.name, func(t *testing.T) {
			got, p := writeOne(t, c)
			want := strings.ReplaceAll(c.golden, "{{PACKET}}", base64.StdEncoding.EncodeToString(p.Data))
			if got != want {
				t.Errorf("record mismatch\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func TestEVEAlertParsesWithExpectedValues(t *testing.T) {
	for _, c := range eveCases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := writeOne(t, c)
			var m map[string]any
			if err := json.Unmarshal([]byte(got), &m); err != nil {
				t.Fatalf("not valid JSON: %v\n%s", err, got)
			}
			// Fields every alert carries.
			for _, k := range []string{"timestamp", "event_type", "pkt_src", "alert"} {
				if _, ok := m[k]; !ok {
					t.Errorf("missing %q", k)
				}
			}
			if m["event_type"] != "alert" || m["timestamp"] != "2009-11-24T21:26:03.604227+0100" {
				t.Errorf("event_type/timestamp = %v/%v", m["event_type"], m["timestamp"])
			}
			for path, want := range c.checks {
				v, ok := lookup(m, path)
				if !ok {
					t.Errorf("%s missing", path)
					continue
				}
				if fmt.Sprint(v) != fmt.Sprint(want) {
					t.Errorf("%s = %#v, want %#v", path, v, want)
				}
			}
			for _, k := range c.absent {
				if _, ok := m[k]; ok {
					t.Errorf("%q present, want absent", k)
				}
			}
			if c.keys != nil {
				if keys := topKeys(t, got); strings.Join(keys, ",") != strings.Join(c.keys, ",") {
					t.Errorf("key order\n got: %v\nwant: %v", keys, c.keys)
				}
			}
		})
	}
}

func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// topKeys returns the top-level keys of a JSON object in document order.
func topKeys(t *testing.T, s string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestEVEPktSrcAndDirection(t *testing.T) {
	for _, tc := range []struct {
		origin packet.Origin
		flags  uint32
		want   string
		dir    string
	}{
		{packet.OriginWire, packet.FlagToServer, "wire/pcap", "to_server"},
		{packet.OriginDefrag, packet.FlagToClient, "defrag", "to_client"},
		{packet.OriginStream, 0, "stream", "to_client"},
		{packet.OriginFlowTimeout, packet.FlagToServer, "stream (flow timeout)", "to_server"},
		{packet.OriginTunnel, packet.FlagToServer, "tunnel", "to_server"},
	} {
		var out bytes.Buffer
		e := NewEVE(&out, EVEConfig{Location: cet})
		p := tcp4Packet(t, nil)
		p.Origin = tc.origin
		p.Flags = packet.FlagIPv4 | packet.FlagTCP | tc.flags
		if err := e.Alert(p, 1, &gplRoot); err != nil {
			t.Fatal(err)
		}
		e.Flush()
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["pkt_src"] != tc.want || m["direction"] != tc.dir {
			t.Errorf("origin %d flags %#x: pkt_src %v direction %v, want %s %s", tc.origin, tc.flags, m["pkt_src"], m["direction"], tc.want, tc.dir)
		}
	}
}

func TestEVEMalformedPacketDoesNotPanic(t *testing.T) {
	cfg := EVEConfig{Payload: true, PayloadPrintable: true, PayloadLength: true, Packet: true, Metadata: true}
	e := NewEVE(io.Discard, cfg)
	base := tcp4Packet(t, []byte("abc"))
	bad := []func(p *packet.Packet){
		func(p *packet.Packet) { p.PayloadOff = len(p.Data) + 10 },
		func(p *packet.Packet) { p.PayloadOff = -5 },
		func(p *packet.Packet) { p.PayloadLen = 1 << 30 },
		func(p *packet.Packet) { p.PayloadOff, p.PayloadLen = 1<<62, 1<<62 },
		func(p *packet.Packet) { p.Data = nil },
		func(p *packet.Packet) { p.VLANCount = 200 },
		func(p *packet.Packet) { p.SrcIP, p.DstIP = netip.Addr{}, netip.Addr{} },
		func(p *packet.Packet) { p.Flags = packet.FlagIPv6 | packet.FlagTCP },
		func(p *packet.Packet) { p.Origin = 250; p.LinkType = 9999 },
	}
	for i, mut := range bad {
		p := *base
		mut(&p)
		var out bytes.Buffer
		e = NewEVE(&out, cfg)
		if err := e.Alert(&p, 3, &gplRoot); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		e.Flush()
		if !json.Valid(bytes.TrimSpace(out.Bytes())) {
			t.Errorf("case %d: invalid JSON: %s", i, out.Bytes())
		}
	}
	if err := e.Alert(nil, 0, &gplRoot); err == nil {
		t.Error("nil packet: want error")
	}
	if err := e.Alert(base, 0, nil); err == nil {
		t.Error("nil alert: want error")
	}
}

func TestTimestampFormats(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		loc  *time.Location
		iso  string
		fast string
	}{
		{time.Date(2009, 11, 24, 21, 26, 3, 604227999, cet), cet, "2009-11-24T21:26:03.604227+0100", "11/24/2009-21:26:03.604227"},
		{time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC), time.UTC, "2024-01-02T03:04:05.000006+0000", "01/02/2024-03:04:05.000006"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), time.FixedZone("NST", -(3*3600 + 30*60)), "2024-01-01T23:34:05.000000-0330", "01/01/2024-23:34:05.000000"},
		{time.Unix(0, 0), time.UTC, "1970-01-01T00:00:00.000000+0000", "01/01/1970-00:00:00.000000"},
		{time.Unix(-1, 999999000), time.UTC, "1969-12-31T23:59:59.999999+0000", "12/31/1969-23:59:59.999999"},
	} {
		ns := tc.t.UnixNano()
		if got := string(appendISOTime(nil, ns, tc.loc)); got != tc.iso {
			t.Errorf("iso %v: got %s want %s", tc.t, got, tc.iso)
		}
		if got := string(appendFastTime(nil, ns, tc.loc)); got != tc.fast {
			t.Errorf("fast %v: got %s want %s", tc.t, got, tc.fast)
		}
	}
}

func TestAppendIP(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4":        "1.2.3.4",
		"0.0.0.0":        "0.0.0.0",
		"::":             "0000:0000:0000:0000:0000:0000:0000:0000",
		"::1":            "0000:0000:0000:0000:0000:0000:0000:0001",
		"2001:DB8::ABCD": "2001:0db8:0000:0000:0000:0000:0000:abcd",
		"::ffff:1.2.3.4": "0000:0000:0000:0000:0000:ffff:0102:0304",
		"fe80::1%eth0":   "fe80:0000:0000:0000:0000:0000:0000:0001",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	} {
		if got := string(appendIP(nil, netip.MustParseAddr(in))); got != want {
			t.Errorf("%s: got %s want %s", in, got, want)
		}
	}
	if got := appendIP(nil, netip.Addr{}); len(got) != 0 {
		t.Errorf("invalid addr: got %q", got)
	}
}

func TestProtoNames(t *testing.T) {
	for n, want := range map[uint8]string{0: "HOPOPT", 1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 41: "IPv6",
		47: "GRE", 50: "ESP", 58: "IPv6-ICMP", 89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP", 136: "UDPLite",
		143: "Ethernet", 144: "144", 255: "255"} {
		if got := eveProto(n); got != want {
			t.Errorf("proto %d: got %q want %q", n, got, want)
		}
	}
	if len(protoNames) != 144 {
		t.Errorf("protoNames has %d entries, want 144 (0-143)", len(protoNames))
	}
}

func TestMetadataGrouping(t *testing.T) {
	var out bytes.Buffer
	e := NewEVE(&out, EVEConfig{Metadata: true, Location: cet})
	a := gplRoot
	a.Metadata = []string{"B 1", "a 2", "b 3", "A 4", "c x y  z", "\tc\t5", "bad", " ", "k "}
	if err := e.Alert(tcp4Packet(t, nil), 0, &a); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	var m struct {
		Alert struct {
			Metadata json.RawMessage `json:"metadata"`
		} `json:"alert"`
	}
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	// Reverse order of appearance, stable case-insensitive sort by key,
	// runs of equal keys named by their first key. "\tc\t5" has no space
	// separator (the tab is not one), so it is skipped like "bad".
	want := `{"A":["4","2"],"b":["3","1"],"c":["x y  z"]}`
	if string(m.Alert.Metadata) != want {
		t.Errorf("metadata\n got: %s\nwant: %s", m.Alert.Metadata, want)
	}

	// No valid entry: no metadata object at all.
	out.Reset()
	a.Metadata = []string{"novalue", ""}
	e.Alert(tcp4Packet(t, nil), 0, &a)
	e.Flush()
	if bytes.Contains(out.Bytes(), []byte("metadata")) {
		t.Errorf("metadata written for entries without values: %s", out.Bytes())
	}
	// Disabled in the config: never written.
	var out2 bytes.Buffer
	e2 := NewEVE(&out2, EVEConfig{})
	a.Metadata = []string{"k v"}
	e2.Alert(tcp4Packet(t, nil), 0, &a)
	e2.Flush()
	if bytes.Contains(out2.Bytes(), []byte("metadata")) {
		t.Errorf("metadata written while disabled: %s", out2.Bytes())
	}
}

func TestAlertAction(t *testing.T) {
	for _, tc := range []struct {
		drop, reject, ips bool
		want              string
	}{
		{false, false, false, "allowed"}, {false, false, true, "allowed"},
		{true, false, false, "allowed"}, {true, false, true, "blocked"},
		{true, true, false, "blocked"}, {false, true, true, "blocked"},
	} {
		if got := AlertAction(tc.drop, tc.reject, tc.ips); got != tc.want {
			t.Errorf("AlertAction(%v,%v,%v) = %s, want %s", tc.drop, tc.reject, tc.ips, got, tc.want)
		}
	}
}

func TestEVEBuffersWholeLinesAndFlushesAtLimit(t *testing.T) {
	var w recordingWriter
	e := NewEVE(&w, EVEConfig{BufferSize: 1024, Location: cet})
	p := tcp4Packet(t, nil)
	for i := 0; i < 50; i++ {
		if err := e.Alert(p, uint64(i+1), &gplRoot); err != nil {
			t.Fatal(err)
		}
	}
	if len(w.writes) == 0 {
		t.Fatal("nothing written although the buffer limit was passed many times")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for i, wr := range w.writes {
		if len(wr) == 0 || wr[len(wr)-1] != '\n' {
			t.Fatalf("write %d does not end at a record boundary", i)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(wr, []byte("\n")), []byte("\n")) {
			if !json.Valid(line) {
				t.Fatalf("write %d holds invalid line %s", i, line)
			}
			lines++
		}
	}
	if lines != 50 {
		t.Errorf("got %d records, want 50", lines)
	}
}

type recordingWriter struct{ writes [][]byte }

func (r *recordingWriter) Write(b []byte) (int, error) {
	r.writes = append(r.writes, append([]byte(nil), b...))
	return len(b), nil
}

// flakyWriter accepts the first limit bytes of the failing write, then
// errors; after fail writes it recovers.
type flakyWriter struct {
	buf   bytes.Buffer
	fail  int
	limit int
}

var errDiskFull = errors.New("no space left on device")

func (f *flakyWriter) Write(b []byte) (int, error) {
	if f.fail > 0 {
		f.fail--
		n := min(f.limit, len(b))
		f.buf.Write(b[:n])
		return n, errDiskFull
	}
	return f.buf.Write(b)
}

func TestEVEWriteErrorIsReturnedAndRecovered(t *testing.T) {
	fw := &flakyWriter{fail: 1, limit: 100}
	e := NewEVE(fw, EVEConfig{Location: cet})
	p := tcp4Packet(t, nil)
	for i := 0; i < 3; i++ {
		if err := e.Alert(p, 1, &gplRoot); err != nil {
			t.Fatal(err)
		}
	}
	err := e.Flush()
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Flush error = %v, want it to wrap %v", err, errDiskFull)
	}
	if !strings.Contains(err.Error(), "eve") {
		t.Errorf("error %q does not say which writer", err)
	}
	if e.Lost() != 3 {
		t.Errorf("Lost = %d, want 3 (first record was cut at 100 bytes)", e.Lost())
	}
	// The writer recovers: the next records land on lines of their own.
	for i := 0; i < 2; i++ {
		if err := e.Alert(p, 2, &gplRoot); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatalf("Flush after recovery: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(fw.buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want the broken one plus 2: %q", len(lines), fw.buf.String())
	}
	if json.Valid([]byte(lines[0])) || len(lines[0]) != 100 {
		t.Errorf("first line should be the 100-byte fragment, got %q", lines[0])
	}
	for _, l := range lines[1:] {
		if !json.Valid([]byte(l)) {
			t.Errorf("line after recovery is not valid JSON: %s", l)
		}
	}
}

func TestEVEWriteErrorAtRecordLimit(t *testing.T) {
	fw := &flakyWriter{fail: 1 << 30}
	e := NewEVE(fw, EVEConfig{BufferSize: 10})
	err := e.Alert(tcp4Packet(t, nil), 1, &gplRoot)
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Alert error = %v, want wrapped disk full", err)
	}
	if e.Lost() != 1 {
		t.Errorf("Lost = %d, want 1", e.Lost())
	}
}

func TestOpenEVEAppendsAndCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	for round := 0; round < 2; round++ {
		e, err := OpenEVE(path, EVEConfig{Location: cet})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Alert(tcp4Packet(t, nil), uint64(round+1), &gplRoot); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := e.Alert(tcp4Packet(t, nil), 1, &gplRoot); !errors.Is(err, ErrClosed) {
			t.Fatalf("Alert after Close = %v, want ErrClosed", err)
		}
		if err := e.Flush(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Flush after Close = %v, want ErrClosed", err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"flow_id":1,`) || !strings.Contains(lines[1], `"flow_id":2,`) {
		t.Errorf("file does not hold both rounds in order: %s", data)
	}
	bad := filepath.Join(t.TempDir(), "missing", "eve.json")
	if _, err := OpenEVE(bad, EVEConfig{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("OpenEVE on a missing directory: err = %v, want one naming %s", err, bad)
	}
}

// The alert's flow object carries the flow's orientation and counters, and
// is left out without a flow or with NoFlow.
func TestEVEAlertFlowObject(t *testing.T) {
	fi := &FlowInfo{
		SrcIP: netip.MustParseAddr("5.6.6.7"), DstIP: netip.MustParseAddr("1.2.3.4"), SrcPort: 1234, DstPort: 80,
		Proto: packet.ProtoTCP, PktsToServer: 3, PktsToClient: 2, BytesToServer: 300, BytesToClient: 200, StartNs: goldenTime,
	}
	a := gplRoot
	a.Flow = fi
	for _, tc := range []struct {
		flowID uint64
		noFlow bool
		want   bool
	}{{7, false, true}, {0, false, false}, {7, true, false}} {
		var out bytes.Buffer
		e := NewEVE(&out, EVEConfig{Location: cet, NoFlow: tc.noFlow})
		if err := e.Alert(tcp4Packet(t, []byte("x")), tc.flowID, &a); err != nil {
			t.Fatal(err)
		}
		e.Flush()
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		f, ok := m["flow"].(map[string]any)
		if ok != tc.want {
			t.Fatalf("flow id %d NoFlow %v: flow object present %v, want %v: %s", tc.flowID, tc.noFlow, ok, tc.want, out.Bytes())
		}
		if !ok {
			continue
		}
		want := map[string]any{"pkts_toserver": 3.0, "pkts_toclient": 2.0, "bytes_toserver": 300.0, "bytes_toclient": 200.0,
			"start": "2009-11-24T21:26:03.604227+0100", "src_ip": "5.6.6.7", "dest_ip": "1.2.3.4", "src_port": 1234.0, "dest_port": 80.0}
		for k, v := range want {
			if f[k] != v {
				t.Errorf("flow.%s = %v, want %v", k, f[k], v)
			}
		}
	}
}

// A flow record has Suricata's layout and parses as JSON.
func TestEVEFlowRecord(t *testing.T) {
	var out bytes.Buffer
	e := NewEVE(&out, EVEConfig{Location: cet})
	r := &FlowRecord{
		FlowInfo: FlowInfo{
			SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 80,
			Proto: packet.ProtoTCP, PktsToServer: 6, PktsToClient: 5, BytesToServer: 600, BytesToClient: 5000, StartNs: goldenTime,
		},
		EndNs: goldenTime + 2_500_000_000, State: "closed", Reason: "timeout", Alerted: true,
		TCPFlagsTS: packet.TCPSyn | packet.TCPAck | packet.TCPFin, TCPFlagsTC: packet.TCPSyn | packet.TCPAck | packet.TCPPsh,
		VLAN: [packet.MaxVLAN]uint16{7}, VLANCount: 1,
	}
	if err := e.Flow(99, r); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	if m["event_type"] != "flow" || m["flow_id"] != 99.0 || m["timestamp"] != "2009-11-24T21:26:03.604227+0100" ||
		m["src_port"] != 40000.0 || m["proto"] != "TCP" || m["ip_v"] != 4.0 {
		t.Errorf("header: %s", out.Bytes())
	}
	f := m["flow"].(map[string]any)
	want := map[string]any{"pkts_toserver": 6.0, "pkts_toclient": 5.0, "bytes_toserver": 600.0, "bytes_toclient": 5000.0,
		"end": "2009-11-24T21:26:06.104227+0100", "age": 3.0, "state": "closed", "reason": "timeout", "alerted": true}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("flow.%s = %v, want %v", k, f[k], v)
		}
	}
	tcp := m["tcp"].(map[string]any)
	if tcp["tcp_flags"] != "1b" || tcp["tcp_flags_ts"] != "13" || tcp["tcp_flags_tc"] != "1a" || tcp["syn"] != true || tcp["rst"] != nil {
		t.Errorf("tcp: %v", tcp)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = e.Flow(99, r) }); allocs != 0 && !raceEnabled {
		t.Errorf("Flow allocates %v", allocs)
	}
}
