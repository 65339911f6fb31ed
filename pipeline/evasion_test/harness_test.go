package evasion

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/detect/engine"
	"github.com/vigil-ids/vigil/detect/rules"
	"github.com/vigil-ids/vigil/output"
	"github.com/vigil-ids/vigil/pipeline"
)

// attack is the string every rule of these tests looks for.
const attack = "EVILSTRING"

// memSource is a capture.Source over frames held in memory. Done records
// each packet's verdict and events, indexed by frame (Num-1), so tests can
// check what the pipeline decided for a given frame.
type memSource struct {
	frames   [][]byte
	times    []int64
	pos      int
	verdicts []packet.Verdict
	events   [][]string
	stats    capture.Stats
}

func newMemSource(frames [][]byte, times []int64) *memSource {
	return &memSource{frames: frames, times: times,
		verdicts: make([]packet.Verdict, len(frames)), events: make([][]string, len(frames))}
}

func (m *memSource) Next(b *packet.Batch) error {
	n := 0
	for n < b.Cap() && m.pos < len(m.frames) {
		p := b.Slot(n)
		d := m.frames[m.pos]
		*p = packet.Packet{Data: d, WireLen: len(d), TimeNs: m.times[m.pos], LinkType: packet.LinkEthernet, Num: uint64(m.pos + 1)}
		m.stats.Packets++
		m.stats.Bytes += uint64(len(d))
		m.pos++
		n++
	}
	b.SetLen(n)
	if m.pos == len(m.frames) {
		return capture.ErrEndOfInput
	}
	return nil
}

func (m *memSource) Done(b *packet.Batch) {
	for _, p := range b.Pkts {
		i := int(p.Num) - 1
		if i < 0 || i >= len(m.frames) {
			continue
		}
		m.verdicts[i] = p.Verdict
		for j := uint8(0); j < p.NumEvents; j++ {
			m.events[i] = append(m.events[i], decode.EventName(p.Events[j]))
		}
	}
	b.Reset()
}

func (m *memSource) Stats() capture.Stats { return m.stats }
func (m *memSource) Close() error         { return nil }

// traffic accumulates frames with increasing timestamps (1 ms apart).
type traffic struct {
	frames [][]byte
	times  []int64
}

func (tr *traffic) add(f []byte) int {
	tr.frames = append(tr.frames, f)
	tr.times = append(tr.times, 1_700_000_000_000_000_000+int64(len(tr.frames))*1e6)
	return len(tr.frames) - 1
}

// TCP flags for tcpFrame.
const (
	fFIN = 1 << iota
	fSYN
	fRST
	fPSH
	fACK
)

// tcpFrame builds an Ethernet/IP/TCP frame with valid checksums.
func tcpFrame(t testing.TB, src, dst netip.Addr, sport, dport uint16, seq, ack uint32, flags int, payload []byte) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack,
		FIN: flags&fFIN != 0, SYN: flags&fSYN != 0, RST: flags&fRST != 0, PSH: flags&fPSH != 0, ACK: flags&fACK != 0,
		Window: 65535}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var ip gopacket.SerializableLayer
	if src.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		if err := tcp.SetNetworkLayerForChecksum(ip4); err != nil {
			t.Fatal(err)
		}
		ip = ip4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		if err := tcp.SetNetworkLayerForChecksum(ip6); err != nil {
			t.Fatal(err)
		}
		ip = ip6
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// conn writes one TCP connection's packets into a traffic. Offsets of data
// are relative to the client's first data byte.
type conn struct {
	t          testing.TB
	tr         *traffic
	cli, srv   netip.Addr
	cport      uint16
	sport      uint16
	cisn, sisn uint32
}

func newConn(t testing.TB, tr *traffic, cli, srv netip.Addr, cport uint16) *conn {
	// Sequence numbers near the wrap, so the tests cover serial arithmetic.
	return &conn{t: t, tr: tr, cli: cli, srv: srv, cport: cport, sport: 80,
		cisn: 0xffffffff - uint32(cport)%7, sisn: 0x10000000 + uint32(cport)}
}

func (c *conn) toServer(seq, ack uint32, flags int, payload []byte) int {
	return c.tr.add(tcpFrame(c.t, c.cli, c.srv, c.cport, c.sport, seq, ack, flags, payload))
}

func (c *conn) toClient(seq, ack uint32, flags int, payload []byte) int {
	return c.tr.add(tcpFrame(c.t, c.srv, c.cli, c.sport, c.cport, seq, ack, flags, payload))
}

// handshake writes SYN, SYN/ACK, ACK.
func (c *conn) handshake() {
	c.toServer(c.cisn, 0, fSYN, nil)
	c.toClient(c.sisn, c.cisn+1, fSYN|fACK, nil)
	c.toServer(c.cisn+1, c.sisn+1, fACK, nil)
}

// data writes a client segment carrying payload at offset off; it returns
// the frame's index.
func (c *conn) data(off int, payload string) int {
	return c.toServer(c.cisn+1+uint32(off), c.sisn+1, fACK|fPSH, []byte(payload))
}

// ack writes the server's acknowledgement of the client's first n bytes.
func (c *conn) ack(n int) int {
	return c.toClient(c.sisn+1, c.cisn+1+uint32(n), fACK, nil)
}

// close writes an orderly close after n bytes of client data: client FIN,
// server FIN/ACK, client ACK.
func (c *conn) close(n int) {
	c.toServer(c.cisn+1+uint32(n), c.sisn+1, fFIN|fACK, nil)
	c.toClient(c.sisn+1, c.cisn+2+uint32(n), fFIN|fACK, nil)
	c.toServer(c.cisn+2+uint32(n), c.sisn+2, fACK, nil)
}

// rig is one pipeline configuration.
type rig struct {
	rules []string
	// streamPolicy gives the TCP reassembly policy of a server; nil: bsd.
	streamPolicy map[netip.Addr]stream.Policy
	// defragPolicy gives the IP reassembly policy of a destination; nil:
	// bsd for every host.
	defragPolicy map[netip.Addr]defrag.Policy
	// inline: stream inline mode and IPS verdicts.
	inline bool
}

// alert is the part of an EVE alert record the tests check.
type alert struct {
	SID      int
	Action   string
	SrcIP    string
	DestIP   string
	SrcPort  int
	DestPort int
	PktSrc   string
	PcapCnt  int // 0 when absent
	Stream   int // -1 when absent
	Payload  string
	Raw      string
}

// clientPort returns the port of the alert's flow that is not the
// server's (servers use ports below 10000, clients 20000 and above).
func (a alert) clientPort() int {
	if a.DestPort < 10000 {
		return a.SrcPort
	}
	return a.DestPort
}

// server returns the address of the alert's flow's server, in netip's
// form (EVE writes IPv6 addresses fully expanded).
func (a alert) server() string {
	s := a.SrcIP
	if a.DestPort < 10000 {
		s = a.DestIP
	}
	if ad, err := netip.ParseAddr(s); err == nil {
		return ad.String()
	}
	return s
}

// result is what one run produced.
type result struct {
	alerts []alert
	src    *memSource
	single *pipeline.Single
	eve    string
}

func (r *result) bySID(sid int) []alert {
	var out []alert
	for _, a := range r.alerts {
		if a.SID == sid {
			out = append(out, a)
		}
	}
	return out
}

// run sends the traffic through a pipeline.Single configured by rg.
func (rg rig) run(t testing.TB, tr *traffic) *result {
	t.Helper()
	rp := &rules.Parser{Vars: rules.DefaultVars(), Classes: rules.DefaultClassifications()}
	var rs []*rules.Rule
	for i, text := range rg.rules {
		r, err := rp.ParseRule(text, "evasion.rules", i+1)
		if err != nil {
			t.Fatalf("rule %d %q: %v", i+1, text, err)
		}
		rs = append(rs, r)
	}
	eng, errs := engine.Compile(rs, engine.Config{})
	if len(errs) > 0 {
		t.Fatalf("compile: %v", errs)
	}
	fcfg := flow.DefaultConfig()
	fcfg.Seed = 1
	flows, err := flow.NewTable(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	app := applayer.New(applayer.Config{})
	scfg := stream.Config{Consumer: app, Inline: rg.inline}
	if rg.streamPolicy != nil {
		m := rg.streamPolicy
		scfg.HostPolicy = func(a netip.Addr) stream.Policy {
			if p, ok := m[a]; ok {
				return p
			}
			return stream.PolicyBSD
		}
	}
	tracker, err := stream.NewTracker(scfg)
	if err != nil {
		t.Fatal(err)
	}
	dcfg := defrag.Config{}
	if rg.defragPolicy != nil {
		m := rg.defragPolicy
		dcfg.HostPolicy = func(a netip.Addr) (defrag.Policy, bool) {
			p, ok := m[a]
			return p, ok
		}
	}
	reasm, err := defrag.New(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	var eve bytes.Buffer
	src := newMemSource(tr.frames, tr.times)
	s := &pipeline.Single{
		Stages: pipeline.Stages{
			Source:  src,
			Decoder: decode.NewDecoder(decode.Options{Checksums: true}),
			Defrag:  reasm,
			Flows:   flows,
			Stream:  tracker,
			App:     app,
			Detect:  eng.NewThread(),
			EVE:     output.NewEVE(&eve, output.EVEConfig{Payload: true}),
		},
		Opts: pipeline.Options{IPS: rg.inline},
	}
	if err := s.Run(context.Background(), eng.Signatures()); err != nil {
		t.Fatalf("run: %v", err)
	}
	res := &result{src: src, single: s, eve: eve.String()}
	sc := bufio.NewScanner(strings.NewReader(eve.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var rec struct {
			EventType string `json:"event_type"`
			SrcIP     string `json:"src_ip"`
			DestIP    string `json:"dest_ip"`
			SrcPort   int    `json:"src_port"`
			DestPort  int    `json:"dest_port"`
			PktSrc    string `json:"pkt_src"`
			PcapCnt   int    `json:"pcap_cnt"`
			Stream    *int   `json:"stream"`
			Payload   string `json:"payload"`
			Alert     struct {
				SID    int    `json:"signature_id"`
				Action string `json:"action"`
			} `json:"alert"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("eve line %q: %v", line, err)
		}
		if rec.EventType != "alert" {
			continue
		}
		pl, err := base64.StdEncoding.DecodeString(rec.Payload)
		if err != nil {
			t.Fatalf("eve payload %q: %v", rec.Payload, err)
		}
		a := alert{SID: rec.Alert.SID, Action: rec.Alert.Action, SrcIP: rec.SrcIP, DestIP: rec.DestIP,
			SrcPort: rec.SrcPort, DestPort: rec.DestPort, PktSrc: rec.PktSrc, PcapCnt: rec.PcapCnt,
			Stream: -1, Payload: string(pl), Raw: line}
		if rec.Stream != nil {
			a.Stream = *rec.Stream
		}
		res.alerts = append(res.alerts, a)
	}
	if int(s.Counters.Alerts) != len(res.alerts) {
		t.Fatalf("counters say %d alerts, eve holds %d", s.Counters.Alerts, len(res.alerts))
	}
	return res
}

// dump lists the alerts for a failure message.
func (r *result) dump() string {
	var b strings.Builder
	for _, a := range r.alerts {
		fmt.Fprintf(&b, "  sid %d %s:%d -> %s:%d pkt_src %q pcap_cnt %d stream %d payload %q\n",
			a.SID, a.SrcIP, a.SrcPort, a.DestIP, a.DestPort, a.PktSrc, a.PcapCnt, a.Stream, a.Payload)
	}
	return b.String()
}

// csum16 is the Internet checksum of b with an initial sum.
func csum16(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
