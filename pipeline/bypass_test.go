package pipeline

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/bypass"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/detect/engine"
	"github.com/vigil-ids/vigil/detect/rules"
	"github.com/vigil-ids/vigil/output"
)

// *bypass.Program is what the engine gives the workers.
var _ FlowBypass = (*bypass.Program)(nil)

// bypFakeKernel stands in for the XDP program's flow map: a bounded set of
// flows with per-direction counters the test advances as if the kernel
// had forwarded packets.
type bypFakeKernel struct {
	mu      sync.Mutex
	cap     int
	m       map[bypass.FlowKey]*[2]bypass.Counters // by the key given to Add
	adds    int
	deletes int
	addErr  error // Add fails with this when set
}

func newBypFakeKernel(capacity int) *bypFakeKernel {
	return &bypFakeKernel{cap: capacity, m: map[bypass.FlowKey]*[2]bypass.Counters{}}
}

// find returns the entry of k in either orientation; rev says k is the
// reverse of the key it was added with.
func (k *bypFakeKernel) find(key bypass.FlowKey) (c *[2]bypass.Counters, added bypass.FlowKey, rev bool) {
	if c := k.m[key]; c != nil {
		return c, key, false
	}
	if c := k.m[key.Reverse()]; c != nil {
		return c, key.Reverse(), true
	}
	return nil, bypass.FlowKey{}, false
}

func (k *bypFakeKernel) Add(key bypass.FlowKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.adds++
	if k.addErr != nil {
		return k.addErr
	}
	if c, _, _ := k.find(key); c != nil {
		return nil
	}
	if len(k.m) >= k.cap {
		return bypass.ErrMapFull
	}
	now := time.Now()
	k.m[key] = &[2]bypass.Counters{{LastSeen: now}, {LastSeen: now}}
	return nil
}

func (k *bypFakeKernel) Delete(key bypass.FlowKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.deletes++
	if _, added, _ := k.find(key); added.Src.IsValid() {
		delete(k.m, added)
	}
	return nil
}

func (k *bypFakeKernel) CountersByDirection(key bypass.FlowKey) (fwd, rev bypass.Counters, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, _, r := k.find(key)
	if c == nil {
		return fwd, rev, bypass.ErrNoFlow
	}
	if r {
		return c[1], c[0], nil
	}
	return c[0], c[1], nil
}

// forward counts packets the kernel handled for the flow whose client ->
// server key is key (toServer picks the direction), last one at `at`.
func (k *bypFakeKernel) forward(t testing.TB, key bypass.FlowKey, toServer bool, pkts, bytes uint64, at time.Time) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	c, _, rev := k.find(key)
	if c == nil {
		t.Fatalf("kernel: %v not bypassed", key)
	}
	d := 0
	if toServer == rev {
		d = 1
	}
	c[d].Packets += pkts
	c[d].Bytes += bytes
	c[d].LastSeen = at
}

func (k *bypFakeKernel) has(key bypass.FlowKey) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, _, _ := k.find(key)
	return c != nil
}

// bypHarness is a single-thread pipeline with flow bypass, fed packets
// built in the test.
type bypHarness struct {
	t    testing.TB
	s    *Single
	k    *bypFakeKernel
	eve  bytes.Buffer
	sigs []*engine.Signature
	now  int64 // packet time, ns
	num  uint64
}

type bypSetup struct {
	rules    []string
	triggers BypassTriggers
	kernel   *bypFakeKernel // nil: local bypass only
	stream   stream.Config
	flow     *flow.Config
	app      applayer.Config
}

func newBypHarness(t testing.TB, o bypSetup) *bypHarness {
	t.Helper()
	h := &bypHarness{t: t, k: o.kernel, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()}
	p := &rules.Parser{Vars: rules.DefaultVars(), Classes: rules.DefaultClassifications()}
	var rs []*rules.Rule
	for i, text := range o.rules {
		r, err := p.ParseRule(text, "bypass.rules", i+1)
		if err != nil {
			t.Fatalf("rule %q: %v", text, err)
		}
		rs = append(rs, r)
	}
	eng, errs := engine.Compile(rs, engine.Config{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	fcfg := flow.DefaultConfig()
	if o.flow != nil {
		fcfg = *o.flow
	}
	h.s = &Single{}
	fcfg.OnEnd = func(f *flow.Flow) { h.s.FlowEnded(f) }
	flows, err := flow.NewTable(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	app := applayer.New(o.app)
	scfg := o.stream
	scfg.Consumer = app
	tracker, err := stream.NewTracker(scfg)
	if err != nil {
		t.Fatal(err)
	}
	bo := BypassOptions{Triggers: o.triggers}
	if o.kernel != nil {
		bo.Kernel = o.kernel
	}
	h.s.Stages = Stages{
		Decoder: decode.NewDecoder(decode.Options{Checksums: true}),
		Flows:   flows, Stream: tracker, App: app, Detect: eng.NewThread(),
		EVE:    output.NewEVE(&h.eve, output.EVEConfig{}),
		Bypass: NewBypasser(bo),
	}
	h.s.Opts.FlowRecords = true
	h.s.Opts.RawChunk = 1 // inspect acknowledged stream data at once
	h.sigs = eng.Signatures()
	h.s.prepare(h.sigs)
	h.s.nextExpire = h.now + int64(time.Second)
	return h
}

// process runs one frame through the pipeline at the harness's time and
// advances the time by step.
func (h *bypHarness) process(frame []byte, step time.Duration) *packet.Packet {
	h.num++
	p := &packet.Packet{Data: frame, WireLen: len(frame), LinkType: packet.LinkEthernet, TimeNs: h.now, Num: h.num}
	h.s.process(p)
	h.now += int64(step)
	return p
}

// alerts returns how many alerts signature sid raised.
func (h *bypHarness) alerts(sid uint32) uint64 {
	for _, s := range h.sigs {
		if s.SID == sid {
			return h.s.AlertsBySig[s.Num]
		}
	}
	h.t.Fatalf("no signature %d", sid)
	return 0
}

// flowRecords ends the run and returns the EVE flow records by client port.
func (h *bypHarness) flowRecords() map[uint16]map[string]any {
	h.t.Helper()
	if err := h.s.finish(nil); err != nil {
		h.t.Fatal(err)
	}
	out := map[uint16]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(h.eve.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			h.t.Fatalf("eve line %q: %v", line, err)
		}
		if ev["event_type"] == "flow" {
			out[uint16(ev["src_port"].(float64))] = ev
		}
	}
	return out
}

// bypTCP is one TCP connection the test plays, both sides.
type bypTCP struct {
	h          *bypHarness
	cli, srv   netip.AddrPort
	vlan       uint16
	cseq, sseq uint32
	// pkts and bytes count the frames the pipeline was given, per
	// direction (0: to server).
	pkts, bytes [2]uint64
}

func (h *bypHarness) tcp(cli, srv string, vlan uint16) *bypTCP {
	return &bypTCP{h: h, cli: netip.MustParseAddrPort(cli), srv: netip.MustParseAddrPort(srv), vlan: vlan,
		cseq: 1000, sseq: 50000}
}

// key is the flow's client -> server bypass key.
func (c *bypTCP) key() bypass.FlowKey {
	return bypass.FlowKey{Src: c.cli.Addr(), Dst: c.srv.Addr(), SrcPort: c.cli.Port(), DstPort: c.srv.Port(),
		Proto: packet.ProtoTCP, VLAN: [2]uint16{c.vlan, 0}}
}

const (
	fSYN = 1 << iota
	fACK
	fFIN
	fRST
	fPSH
)

// send plays one segment and returns the packet as the pipeline left it.
func (c *bypTCP) send(toServer bool, flags int, payload []byte) *packet.Packet {
	t := c.h.t
	t.Helper()
	src, dst := c.cli, c.srv
	seq, ack := c.cseq, c.sseq
	if !toServer {
		src, dst = c.srv, c.cli
		seq, ack = c.sseq, c.cseq
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, Window: 65535,
		SYN: flags&fSYN != 0, ACK: flags&fACK != 0, FIN: flags&fFIN != 0, RST: flags&fRST != 0, PSH: flags&fPSH != 0}
	if tcp.ACK {
		tcp.Ack = ack
	}
	var ls []gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	ls = append(ls, eth)
	var l3 layers.EthernetType
	var nl gopacket.NetworkLayer
	if src.Addr().Is4() {
		l3 = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		nl = ip
	} else {
		l3 = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		nl = ip
	}
	if c.vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: c.vlan, Type: l3})
	} else {
		eth.EthernetType = l3
	}
	ls = append(ls, nl.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
	if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	frame := append([]byte(nil), buf.Bytes()...)
	adv := uint32(len(payload))
	if tcp.SYN || tcp.FIN {
		adv++
	}
	d := 1
	if toServer {
		c.cseq += adv
		d = 0
	} else {
		c.sseq += adv
	}
	c.pkts[d]++
	c.bytes[d] += uint64(len(frame))
	return c.h.process(frame, time.Millisecond)
}

func (c *bypTCP) handshake() {
	c.send(true, fSYN, nil)
	c.send(false, fSYN|fACK, nil)
	c.send(true, fACK, nil)
}

// data sends payload in one direction, the peer's ACK and a pure ACK of
// the sender (in IDS mode the acknowledged data is inspected on the next
// packet of its direction); it returns the data segment and that last
// packet.
func (c *bypTCP) data(toServer bool, payload string) (seg, next *packet.Packet) {
	seg = c.send(toServer, fACK|fPSH, []byte(payload))
	c.send(!toServer, fACK, nil)
	next = c.send(toServer, fACK, nil)
	return seg, next
}

func tcpRule(msg, content, extra string, sid int) string {
	return `alert tcp any any -> any any (msg:"` + msg + `"; content:"` + content + `"; ` + extra + `sid:` + itoa(sid) + `;)`
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

func num(ev map[string]any, path ...string) uint64 {
	var cur any = ev
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return 1<<64 - 1
		}
		cur = m[p]
	}
	f, ok := cur.(float64)
	if !ok {
		return 1<<64 - 1
	}
	return uint64(f)
}

// A bypass-keyword rule bypasses its flow: the kernel gets the flow's
// client -> server key, later packets that still reach the worker are
// counted and not inspected, another flow is still inspected, a FIN from
// both sides releases the kernel entry, and the flow record adds the
// kernel's packets and bytes to those the worker saw. IPv4, IPv6 and a
// VLAN-tagged flow.
func TestBypassRuleTrigger(t *testing.T) {
	for _, c := range []struct {
		name     string
		cli, srv string
		vlan     uint16
	}{
		{"ipv4", "10.1.0.1:40000", "10.1.0.2:80", 0},
		{"ipv6", "[fd00::1]:40000", "[fd00::2]:80", 0},
		{"vlan", "10.1.0.1:40000", "10.1.0.2:80", 42},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := newBypFakeKernel(16)
			h := newBypHarness(t, bypSetup{
				rules: []string{
					tcpRule("bypass me", "BYPASS-ME", "bypass; ", 1),
					tcpRule("still inspected", "ALERT-ME", "", 2),
				},
				triggers: BypassTriggers{Rule: true},
				kernel:   k,
			})
			b := h.s.Bypass
			a := h.tcp(c.cli, c.srv, c.vlan)
			a.handshake()
			seg, ack := a.data(true, "GET /BYPASS-ME HTTP/1.0\r\n\r\n")
			if h.alerts(1) != 1 {
				t.Fatalf("bypass rule alerted %d times", h.alerts(1))
			}
			st := b.Stats()
			if st.Triggered[TriggerRule] != 1 || st.Capture != 1 || st.Active != 1 || k.adds != 1 {
				t.Fatalf("after the trigger: %+v, kernel adds %d", st, k.adds)
			}
			if !k.has(a.key()) {
				t.Fatalf("kernel has no entry for %v: %v", a.key(), k.m)
			}
			if _, ok := k.m[a.key()]; !ok {
				t.Errorf("kernel key not in client -> server orientation: %v", k.m)
			}
			if seg.Verdict != packet.VerdictBypass && ack.Verdict != packet.VerdictBypass {
				t.Errorf("triggering packet verdicts %v/%v, want one VerdictBypass", seg.Verdict, ack.Verdict)
			}
			inspected := h.s.Counters.Inspected

			// Packets of the bypassed flow that still reach the worker:
			// counted, not inspected, forwarded with VerdictBypass.
			p, _ := a.data(false, "HTTP/1.0 200 OK\r\n\r\nALERT-ME")
			if h.alerts(2) != 0 {
				t.Errorf("bypassed flow was inspected: sid 2 alerted")
			}
			if h.s.Counters.Inspected != inspected {
				t.Errorf("inspected %d more packets of the bypassed flow", h.s.Counters.Inspected-inspected)
			}
			if p.Verdict != packet.VerdictBypass {
				t.Errorf("verdict %v, want VerdictBypass", p.Verdict)
			}
			if st := b.Stats(); st.LocalCapturePkts != 3 || st.LocalCaptureBytes == 0 {
				t.Errorf("local capture packets %d bytes %d, want 3", st.LocalCapturePkts, st.LocalCaptureBytes)
			}

			// Another flow is inspected as usual.
			o := h.tcp(strings.Replace(c.cli, "40000", "40001", 1), c.srv, c.vlan)
			o.handshake()
			o.data(true, "GET /ALERT-ME HTTP/1.0\r\n\r\n")
			if h.alerts(2) != 1 {
				t.Errorf("other flow: sid 2 alerted %d times, want 1", h.alerts(2))
			}

			// The kernel forwards most of the download.
			h.now += int64(time.Second)
			k.forward(t, a.key(), false, 1000, 1_514_000, time.Unix(0, h.now))
			k.forward(t, a.key(), true, 500, 33_000, time.Unix(0, h.now))

			// FIN from the server alone keeps the kernel entry; the
			// client's FIN ends it.
			a.send(false, fFIN|fACK, nil)
			if !k.has(a.key()) || b.Stats().FinRst != 0 {
				t.Fatalf("one FIN ended the kernel bypass")
			}
			a.send(true, fFIN|fACK, nil)
			if k.has(a.key()) {
				t.Fatalf("both FINs seen, kernel entry still there")
			}
			st = b.Stats()
			if st.FinRst != 1 || st.Pkts != 1500 || st.Bytes != 1_547_000 || k.deletes != 1 {
				t.Errorf("after FIN/FIN: %+v, deletes %d", st, k.deletes)
			}
			// The last ACK still arrives, bypassed locally now.
			a.send(false, fACK, nil)
			if st := b.Stats(); st.LocalPkts != 1 {
				t.Errorf("local packets %d, want 1", st.LocalPkts)
			}

			recs := h.flowRecords()
			r := recs[a.cli.Port()]
			if r == nil {
				t.Fatalf("no flow record for the bypassed flow: %s", h.eve.String())
			}
			fl := r["flow"].(map[string]any)
			if got, want := num(fl, "pkts_toserver"), a.pkts[0]+500; got != want {
				t.Errorf("pkts_toserver %d, want %d (worker %d + kernel 500)", got, want, a.pkts[0])
			}
			if got, want := num(fl, "pkts_toclient"), a.pkts[1]+1000; got != want {
				t.Errorf("pkts_toclient %d, want %d", got, want)
			}
			if got, want := num(fl, "bytes_toserver"), a.bytes[0]+33_000; got != want {
				t.Errorf("bytes_toserver %d, want %d", got, want)
			}
			if got, want := num(fl, "bytes_toclient"), a.bytes[1]+1_514_000; got != want {
				t.Errorf("bytes_toclient %d, want %d", got, want)
			}
			if fl["state"] != "bypassed" || fl["bypass"] != "capture" {
				t.Errorf("flow state %v bypass %v, want bypassed by capture", fl["state"], fl["bypass"])
			}
			if bp, _ := fl["bypassed"].(map[string]any); bp == nil || num(bp, "pkts_toserver") != 500 || num(bp, "pkts_toclient") != 1000 ||
				num(bp, "bytes_toserver") != 33_000 || num(bp, "bytes_toclient") != 1_514_000 {
				t.Errorf("flow.bypassed %v, want the kernel's counters", fl["bypassed"])
			}
			if or := recs[o.cli.Port()]; or == nil || or["flow"].(map[string]any)["state"] == "bypassed" {
				t.Errorf("other flow record %v", or)
			}
			if st := b.Stats(); st.Active != 0 || st.Closed != 1 {
				t.Errorf("at the end: %+v", st)
			}
			// The counters reach the stats names.
			var snap Snapshot
			h.s.Snapshot(&snap)
			list := map[string]uint64{}
			for _, cn := range snap.CounterList(nil) {
				list[cn.Name] = cn.Value
			}
			if list["flow_bypassed.trigger.rule"] != 1 || list["flow_bypassed.pkts"] != 1500 || list["flow_bypassed.closed"] != 1 ||
				list["flow_bypassed.local_capture_pkts"] == 0 || list["flow_bypassed.fin_rst"] != 1 {
				t.Errorf("stats: %v", list)
			}
		})
	}
}

// An RST ends the kernel bypass at once.
func TestBypassRSTEnds(t *testing.T) {
	k := newBypFakeKernel(4)
	h := newBypHarness(t, bypSetup{rules: []string{tcpRule("b", "BYPASS-ME", "bypass; ", 1)},
		triggers: BypassTriggers{Rule: true}, kernel: k})
	a := h.tcp("10.2.0.1:1234", "10.2.0.2:80", 0)
	a.handshake()
	a.data(true, "BYPASS-ME")
	if !k.has(a.key()) {
		t.Fatal("not bypassed")
	}
	a.send(false, fRST, nil)
	if k.has(a.key()) || h.s.Bypass.Stats().FinRst != 1 {
		t.Fatalf("RST did not end the kernel bypass: %+v", h.s.Bypass.Stats())
	}
}

// Stream depth reached in one direction does not bypass; in both it does.
func TestBypassStreamDepth(t *testing.T) {
	k := newBypFakeKernel(4)
	h := newBypHarness(t, bypSetup{triggers: BypassTriggers{StreamDepth: true}, kernel: k,
		stream: stream.Config{Depth: 64}})
	a := h.tcp("10.3.0.1:1234", "10.3.0.2:80", 0)
	a.handshake()
	a.data(true, strings.Repeat("c", 100))
	a.data(true, strings.Repeat("c", 100))
	if st := h.s.Bypass.Stats(); st.Capture != 0 {
		t.Fatalf("bypassed with one direction at depth: %+v", st)
	}
	a.data(false, strings.Repeat("s", 100))
	a.data(false, strings.Repeat("s", 100))
	st := h.s.Bypass.Stats()
	if st.Triggered[TriggerStreamDepth] != 1 || st.Capture != 1 || !k.has(a.key()) {
		t.Fatalf("stream depth in both directions: %+v", st)
	}
}

// A matching pass signature bypasses its flow.
func TestBypassPassRule(t *testing.T) {
	k := newBypFakeKernel(4)
	h := newBypHarness(t, bypSetup{
		rules:    []string{`pass tcp any any -> any 8443 (content:"TRUSTED"; sid:3;)`, tcpRule("x", "ALERT-ME", "", 4)},
		triggers: BypassTriggers{PassRule: true}, kernel: k})
	a := h.tcp("10.4.0.1:1234", "10.4.0.2:8443", 0)
	a.handshake()
	a.data(true, "TRUSTED ALERT-ME")
	st := h.s.Bypass.Stats()
	if st.Triggered[TriggerPassRule] != 1 || !k.has(a.key()) {
		t.Fatalf("pass rule: %+v", st)
	}
	// With the trigger off, a pass signature bypasses nothing.
	h2 := newBypHarness(t, bypSetup{rules: []string{`pass tcp any any -> any 8443 (content:"TRUSTED"; sid:3;)`},
		triggers: BypassTriggers{Rule: true}, kernel: newBypFakeKernel(4)})
	b := h2.tcp("10.4.0.1:1234", "10.4.0.2:8443", 0)
	b.handshake()
	b.data(true, "TRUSTED")
	if st := h2.s.Bypass.Stats(); st.Capture+st.Local != 0 {
		t.Errorf("pass-rule trigger off, flow bypassed: %+v", st)
	}
}

// The stream memcap exception policy "bypass" bypasses the flow that hit
// the memcap.
func TestBypassExceptionPolicy(t *testing.T) {
	k := newBypFakeKernel(4)
	h := newBypHarness(t, bypSetup{triggers: BypassTriggers{ExceptionPolicy: true}, kernel: k,
		stream: stream.Config{Memcap: stream.SessionSize, MemcapPolicy: stream.ExceptionBypass}})
	a := h.tcp("10.5.0.1:1234", "10.5.0.2:80", 0)
	a.handshake()
	c := h.tcp("10.5.0.1:1235", "10.5.0.2:80", 0)
	syn := c.send(true, fSYN, nil)
	st := h.s.Bypass.Stats()
	if st.Triggered[TriggerExceptionPolicy] != 1 || !k.has(c.key()) || k.has(a.key()) {
		t.Fatalf("memcap bypass: %+v", st)
	}
	if syn.Verdict != packet.VerdictBypass {
		t.Errorf("verdict %v", syn.Verdict)
	}
}

// A TLS flow is bypassed once its traffic is encrypted.
func TestBypassTLSEncrypted(t *testing.T) {
	chunks := tlsConversation(t)
	for _, pol := range []applayer.EncryptionPolicy{applayer.EncryptionDefault, applayer.EncryptionFull} {
		k := newBypFakeKernel(4)
		h := newBypHarness(t, bypSetup{triggers: BypassTriggers{TLSEncrypted: true}, kernel: k,
			app: applayer.Config{Encryption: pol}})
		a := h.tcp("10.6.0.1:1234", "10.6.0.2:443", 0)
		a.handshake()
		for _, ch := range chunks {
			if h.s.Bypass.Stats().Capture > 0 {
				break
			}
			a.data(ch.toServer, string(ch.data))
		}
		st := h.s.Bypass.Stats()
		if pol == applayer.EncryptionFull {
			if st.Capture != 0 {
				t.Errorf("encryption-handling full: flow bypassed")
			}
			continue
		}
		if st.Triggered[TriggerTLSEncrypted] != 1 || !k.has(a.key()) {
			t.Errorf("TLS: %+v, app %+v", st, h.s.App.Stats)
		}
	}
}

type tlsChunk struct {
	toServer bool
	data     []byte
}

// tlsConversation runs a TLS handshake and one exchange of application
// data over a pipe and returns what each side wrote, in order.
func tlsConversation(t *testing.T) []tlsChunk {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bypass.test"},
		DNSNames: []string{"bypass.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	var mu sync.Mutex
	var chunks []tlsChunk
	cp, sp := net.Pipe()
	rec := func(c net.Conn, toServer bool) net.Conn {
		return &recConn{Conn: c, fn: func(b []byte) {
			mu.Lock()
			chunks = append(chunks, tlsChunk{toServer, append([]byte(nil), b...)})
			mu.Unlock()
		}}
	}
	srv := tls.Server(rec(sp, false), &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12})
	cli := tls.Client(rec(cp, true), &tls.Config{InsecureSkipVerify: true, ServerName: "bypass.test", MaxVersion: tls.VersionTLS12})
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(srv, buf); err != nil {
			done <- err
			return
		}
		_, err := srv.Write([]byte("world"))
		done <- err
	}()
	if _, err := cli.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(cli, buf); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cp.Close()
	sp.Close()
	mu.Lock()
	defer mu.Unlock()
	return chunks
}

type recConn struct {
	net.Conn
	fn func([]byte)
}

func (c *recConn) Write(b []byte) (int, error) {
	c.fn(b)
	return c.Conn.Write(b)
}

// A full kernel map leaves the flow inspected and counts the miss once.
func TestBypassMapFull(t *testing.T) {
	k := newBypFakeKernel(1)
	h := newBypHarness(t, bypSetup{rules: []string{tcpRule("b", "BYPASS-ME", "bypass; ", 1), tcpRule("a", "ALERT-ME", "", 2)},
		triggers: BypassTriggers{Rule: true}, kernel: k})
	a := h.tcp("10.7.0.1:1000", "10.7.0.2:80", 0)
	a.handshake()
	a.data(true, "BYPASS-ME")
	c := h.tcp("10.7.0.1:1001", "10.7.0.2:80", 0)
	c.handshake()
	c.data(true, "BYPASS-ME")
	st := h.s.Bypass.Stats()
	if st.MapFull != 1 || st.Capture != 1 || st.Active != 1 || k.has(c.key()) {
		t.Fatalf("map full: %+v", st)
	}
	c.data(true, "BYPASS-ME again ALERT-ME")
	if h.alerts(2) != 1 {
		t.Errorf("flow refused by the full map is not inspected (sid 2: %d alerts)", h.alerts(2))
	}
	if st := h.s.Bypass.Stats(); st.MapFull != 1 || k.adds != 2 {
		t.Errorf("refused flow retried: %+v, adds %d", st, k.adds)
	}
	// Other kernel errors also keep the flow inspected.
	k.addErr = errors.New("bpf: EPERM")
	d := h.tcp("10.7.0.1:1002", "10.7.0.2:80", 0)
	d.handshake()
	d.data(true, "BYPASS-ME")
	if st := h.s.Bypass.Stats(); st.Errors != 1 || h.s.Bypass.LastError() == nil {
		t.Errorf("Add error: %+v", st)
	}
	recs := h.flowRecords()
	if fl := recs[c.cli.Port()]["flow"].(map[string]any); fl["state"] == "bypassed" {
		t.Errorf("refused flow logged as bypassed")
	}
}

// Without a kernel program the bypass is local: packets still arrive and
// are counted, not inspected.
func TestBypassLocal(t *testing.T) {
	h := newBypHarness(t, bypSetup{rules: []string{tcpRule("b", "BYPASS-ME", "bypass; ", 1), tcpRule("a", "ALERT-ME", "", 2)},
		triggers: BypassTriggers{Rule: true}})
	a := h.tcp("10.8.0.1:1000", "10.8.0.2:80", 0)
	a.handshake()
	a.data(true, "BYPASS-ME")
	p, _ := a.data(true, "ALERT-ME")
	st := h.s.Bypass.Stats()
	if st.Local != 1 || st.Capture != 0 || st.LocalPkts != 3 || h.alerts(2) != 0 || p.Verdict != packet.VerdictBypass {
		t.Fatalf("local bypass: %+v, sid 2 alerts %d, verdict %v", st, h.alerts(2), p.Verdict)
	}
	recs := h.flowRecords()
	if fl := recs[a.cli.Port()]["flow"].(map[string]any); fl["state"] != "bypassed" || fl["bypass"] != "local" || fl["bypassed"] != nil || num(fl, "pkts_toserver") != a.pkts[0] {
		t.Errorf("flow record %v", fl)
	}
}

// A bypassed flow lives as long as the kernel forwards its packets: the
// flow table times it out on its ordinary timeout counted from the
// kernel's last packet, and the record carries the kernel's counters.
func TestBypassTimeoutFollowsKernel(t *testing.T) {
	fc := flow.DefaultConfig()
	fc.TCP = flow.Timeouts{New: 10 * time.Second, Established: 10 * time.Second, Closed: 10 * time.Second,
		EmergencyNew: time.Second, EmergencyEstablished: time.Second, EmergencyClosed: time.Second}
	k := newBypFakeKernel(4)
	h := newBypHarness(t, bypSetup{rules: []string{tcpRule("b", "BYPASS-ME", "bypass; ", 1)},
		triggers: BypassTriggers{Rule: true}, kernel: k, flow: &fc})
	a := h.tcp("10.9.0.1:1000", "10.9.0.2:80", 0)
	a.handshake()
	a.data(true, "BYPASS-ME")
	start := h.now
	// Other traffic drives the sweeps (every second of packet time).
	tick := h.tcp("10.9.0.1:2000", "10.9.0.2:80", 0)
	tick.handshake()
	step := func(until int64) {
		for h.now < until {
			tick.send(true, fACK, nil)
			h.now += int64(500 * time.Millisecond)
		}
	}
	for i := 1; i <= 4; i++ {
		// The kernel keeps forwarding: 8 s of user-space silence each.
		h.now = start + int64(i)*int64(8*time.Second)
		k.forward(t, a.key(), false, 100, 150_000, time.Unix(0, h.now))
		step(h.now + int64(time.Second))
	}
	if h.s.Counters.FlowsExpired != 0 || !k.has(a.key()) {
		t.Fatalf("bypassed flow timed out while the kernel forwarded it (expired %d)", h.s.Counters.FlowsExpired)
	}
	last := h.now
	step(last + int64(12*time.Second))
	if h.s.Counters.FlowsExpired != 1 || k.has(a.key()) {
		t.Fatalf("idle bypassed flow: expired %d, kernel entry %v", h.s.Counters.FlowsExpired, k.has(a.key()))
	}
	h.s.EVE.Flush()
	var rec map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.eve.String()), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["event_type"] == "flow" && num(ev, "src_port") == 1000 {
			rec = ev
		}
	}
	if rec == nil {
		t.Fatalf("no flow record: %s", h.eve.String())
	}
	fl := rec["flow"].(map[string]any)
	if num(fl, "pkts_toclient") != a.pkts[1]+400 || num(fl, "bytes_toclient") != a.bytes[1]+600_000 || fl["reason"] != "timeout" {
		t.Errorf("flow record %v", fl)
	}
	end, err := time.Parse("2006-01-02T15:04:05.000000-0700", fl["end"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(0, start+4*int64(8*time.Second)); !end.Equal(want) {
		t.Errorf("flow end %v, want the kernel's last packet %v", end, want)
	}
}

// The per-packet path of a bypassed flow, the trigger check of an
// inspected one and the kernel sync allocate nothing.
func TestBypassZeroAlloc(t *testing.T) {
	k := newBypFakeKernel(4)
	h := newBypHarness(t, bypSetup{rules: []string{tcpRule("b", "BYPASS-ME", "bypass; ", 1)},
		triggers: BypassTriggers{Rule: true, StreamDepth: true, TLSEncrypted: true, PassRule: true}, kernel: k})
	a := h.tcp("10.10.0.1:1000", "10.10.0.2:80", 0)
	a.handshake()
	a.data(true, "BYPASS-ME")
	o := h.tcp("10.10.0.1:1001", "10.10.0.2:80", 0)
	o.handshake()
	bypassed := a.send(false, fACK|fPSH, []byte("payload of a bypassed flow"))
	inspected := o.send(true, fACK|fPSH, []byte("payload of an inspected flow"))
	frames := [][]byte{append([]byte(nil), bypassed.Data...), append([]byte(nil), inspected.Data...)}
	var p packet.Packet
	for i := 0; i < 10; i++ {
		for _, f := range frames {
			p = packet.Packet{Data: f, WireLen: len(f), LinkType: packet.LinkEthernet, TimeNs: h.now}
			h.s.process(&p)
		}
		h.s.Bypass.sync()
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, f := range frames {
			p = packet.Packet{Data: f, WireLen: len(f), LinkType: packet.LinkEthernet, TimeNs: h.now}
			h.s.process(&p)
		}
		h.s.Bypass.sync()
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per bypassed + inspected packet and sync", allocs)
	}
}

// BenchmarkBypassedPacket compares a packet of a bypassed flow that still
// reaches the worker with the same packet inspected.
func BenchmarkBypassedPacket(b *testing.B) {
	for _, bypassed := range []bool{true, false} {
		name := "inspected"
		if bypassed {
			name = "bypassed"
		}
		b.Run(name, func(b *testing.B) {
			k := newBypFakeKernel(4)
			h := newBypHarness(b, bypSetup{rules: []string{tcpRule("b", "BYPASS-ME", "bypass; ", 1), tcpRule("x", "NEVER-THERE", "", 2)},
				triggers: BypassTriggers{Rule: true}, kernel: k})
			a := h.tcp("10.11.0.1:1000", "10.11.0.2:80", 0)
			a.handshake()
			if bypassed {
				a.data(true, "BYPASS-ME")
			}
			frame := append([]byte(nil), a.send(false, fACK|fPSH, bytes.Repeat([]byte("x"), 1400)).Data...)
			var p packet.Packet
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Same segment again: a retransmission for the stream
				// tracker, the same frame for the bypass path.
				p = packet.Packet{Data: frame, WireLen: len(frame), LinkType: packet.LinkEthernet, TimeNs: h.now}
				h.s.process(&p)
			}
		})
	}
}

// FuzzBypassFrames feeds arbitrary frames through a pipeline that bypasses
// every flow on its first packet (a rule matching anything), with a kernel
// that refuses every other flow: nothing panics, every flow is counted
// once, and the flow state is empty after the flows end.
func FuzzBypassFrames(f *testing.F) {
	h := newBypHarness(f, bypSetup{})
	a := h.tcp("10.12.0.1:1000", "10.12.0.2:80", 0)
	f.Add(a.send(true, fSYN, nil).Data, []byte{})
	v := h.tcp("[fd00::1]:1000", "[fd00::2]:80", 7)
	f.Add(v.send(true, fACK|fFIN, []byte("x")).Data, a.send(false, fRST, nil).Data)
	f.Fuzz(func(t *testing.T, f1, f2 []byte) {
		k := newBypFakeKernel(1)
		h := newBypHarness(t, bypSetup{rules: []string{`alert ip any any -> any any (msg:"all"; bypass; sid:1;)`},
			triggers: BypassTriggers{Rule: true, StreamDepth: true, PassRule: true, TLSEncrypted: true, ExceptionPolicy: true}, kernel: k})
		for i := 0; i < 3; i++ {
			for _, fr := range [][]byte{f1, f2} {
				h.process(append([]byte(nil), fr...), time.Millisecond)
			}
		}
		h.s.Bypass.sync()
		st := h.s.Bypass.Stats()
		var trig uint64
		for _, n := range st.Triggered {
			trig += n
		}
		if trig != st.Capture+st.Local || st.Active != st.Capture+st.Local {
			t.Fatalf("counts disagree: %+v", st)
		}
		if err := h.s.finish(nil); err != nil {
			t.Fatal(err)
		}
		if st := h.s.Bypass.Stats(); st.Active != 0 || len(h.s.Bypass.flows) != 0 || len(k.m) != 0 {
			t.Fatalf("state left after the flows ended: %+v, %d flows, kernel %v", st, len(h.s.Bypass.flows), k.m)
		}
	})
}
