package pipeline

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
)

// injectSource records the frames a worker injects.
type injectSource struct {
	capture.Source
	frames   [][]byte
	toSource []bool
}

func (s *injectSource) Inject(p *packet.Packet, toSource bool, frame []byte) error {
	s.frames = append(s.frames, append([]byte(nil), frame...))
	s.toSource = append(s.toSource, toSource)
	return nil
}

// countInjector only counts (allocation checks).
type countInjector struct {
	capture.Source
	n int
}

func (s *countInjector) Inject(*packet.Packet, bool, []byte) error { s.n++; return nil }

// A rejectboth rule: the packet is dropped and a RST goes to each end,
// the one toward the client answering its sequence numbers.
func TestRejectSendsResets(t *testing.T) {
	h := ipsHarness(t, true, stream.ExceptionDropFlow, false,
		`rejectboth tcp any any -> any 80 (msg:"reject"; content:"/forbidden"; sid:5;)`)
	src := &injectSource{}
	h.s.Source = src
	c := h.tcp("10.0.0.1:40050", "10.0.0.2:80", 0)
	c.handshake()
	cseq, sseq := c.cseq, c.sseq
	seg := c.send(true, fACK|fPSH, []byte("GET /forbidden HTTP/1.1\r\n\r\n"))
	if seg.Verdict != packet.VerdictReject || seg.Reject != packet.RejectBoth {
		t.Fatalf("verdict %d reject %d", seg.Verdict, seg.Reject)
	}
	cs := h.s.Counters
	if cs.Rejected != 1 || cs.RejectSent != 2 || len(src.frames) != 2 || !src.toSource[0] || src.toSource[1] {
		t.Fatalf("counters %+v, %d frames %v", cs, len(src.frames), src.toSource)
	}
	toClient := gopacket.NewPacket(src.frames[0], layers.LayerTypeEthernet, gopacket.Default)
	tcp, _ := toClient.Layer(layers.LayerTypeTCP).(*layers.TCP)
	ip, _ := toClient.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if tcp == nil || ip == nil || !tcp.RST || ip.DstIP.String() != "10.0.0.1" || tcp.DstPort != 40050 ||
		tcp.Seq != sseq || tcp.Ack != cseq+uint32(len("GET /forbidden HTTP/1.1\r\n\r\n")) {
		t.Errorf("reset to the client: %v", toClient)
	}
	// A reject rule on a RST answers nothing.
	h2 := ipsHarness(t, true, stream.ExceptionDropFlow, false, `reject tcp any any -> any 80 (flags:RA; sid:6;)`)
	h2.s.Source = src
	c = h2.tcp("10.0.0.1:40051", "10.0.0.2:80", 0)
	c.handshake()
	c.send(true, fRST|fACK, nil)
	if cs := h2.s.Counters; cs.Rejected != 1 || cs.RejectNoReply != 1 || cs.RejectSent != 0 {
		t.Errorf("reject of a RST: %+v", cs)
	}
	// No injector (pcap, --simulate-ips): counted as not sent.
	h3 := ipsHarness(t, true, stream.ExceptionDropFlow, false, `reject tcp any any -> any 80 (content:"x"; sid:7;)`)
	c = h3.tcp("10.0.0.1:40052", "10.0.0.2:80", 0)
	c.handshake()
	c.send(true, fACK|fPSH, []byte("x"))
	if cs := h3.s.Counters; cs.Rejected != 1 || cs.RejectFailed != 1 {
		t.Errorf("reject without injector: %+v", cs)
	}
	h.s.Source = &countInjector{}
	if n := testing.AllocsPerRun(100, func() { h.s.reject(seg, seg) }); n != 0 {
		t.Errorf("reject allocates %.1f times", n)
	}
}

// A worker that fell behind forwards (fail-open) or drops (fail-closed)
// the packets older than MaxLatencyNs, without inspecting them.
func TestOverloadPolicy(t *testing.T) {
	for _, open := range []bool{true, false} {
		h := ipsHarness(t, true, stream.ExceptionDropFlow, false)
		h.s.Opts.MaxLatencyNs, h.s.Opts.FailOpen = 1e8, open
		b := packet.NewBatch(4)
		now := int64(10e9)
		for i, age := range []int64{0, 5e7, 2e8, 3e9} {
			p := b.Slot(i)
			*p = packet.Packet{TimeNs: now - age}
		}
		b.SetLen(4)
		h.s.shed(b, now)
		c := h.s.Counters
		for i, p := range b.Pkts {
			old := i >= 2
			if (p.Flags&packet.FlagOverload != 0) != old {
				t.Errorf("fail-open %v: packet %d overload flag %v", open, i, !old)
			}
			if old && !open && (p.Verdict != packet.VerdictDrop || p.DropReason != packet.DropReasonOverload) {
				t.Errorf("fail-closed: packet %d verdict %d", i, p.Verdict)
			}
			if old && open && p.Verdict != packet.VerdictForward {
				t.Errorf("fail-open: packet %d verdict %d", i, p.Verdict)
			}
		}
		if open && (c.OverloadPassed != 2 || c.OverloadDropped != 0) || !open && (c.OverloadDropped != 2 || c.Dropped != 2) {
			t.Errorf("fail-open %v: counters %+v", open, c)
		}
	}
}
