package stream

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

const (
	S   = packet.TCPSyn
	A   = packet.TCPAck
	F   = packet.TCPFin
	R   = packet.TCPRst
	P   = packet.TCPPsh
	SA  = S | A
	FA  = F | A
	PA  = P | A
	cli = 1000 // client ISN
	srv = 5000 // server ISN
)

// recorder is a Consumer that keeps every byte (it consumes all unless
// hold says how many bytes to leave unconsumed).
type recorder struct {
	data [2]bytes.Buffer
	gaps [2][]uint32
	hold int
}

func (r *recorder) Data(s *Session, dir Dir, data []byte) int {
	n := len(data) - r.hold
	if n < 0 {
		n = 0
	}
	r.data[dir].Write(data[:n])
	return n
}

func (r *recorder) Gap(s *Session, dir Dir, n uint32) { r.gaps[dir] = append(r.gaps[dir], n) }

// conn drives one flow through a tracker.
type conn struct {
	t   *testing.T
	tr  *Tracker
	f   *flow.Flow
	rec *recorder
	s   *Session
}

var nextFlowID uint64

func newConn(t *testing.T, cfg Config) *conn {
	t.Helper()
	rec := &recorder{}
	if cfg.Consumer == nil {
		cfg.Consumer = rec
	}
	tr, err := NewTracker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nextFlowID++
	return &conn{t: t, tr: tr, f: &flow.Flow{ID: nextFlowID}, rec: rec}
}

type popt func(*packet.Packet)

func ts(val, ecr uint32) popt {
	return func(p *packet.Packet) { p.Flags |= packet.FlagTCPTS; p.TCPTSVal, p.TCPTSEcr = val, ecr }
}
func wscale(n uint8) popt {
	return func(p *packet.Packet) { p.Flags |= packet.FlagTCPWScale; p.TCPWScale = n }
}
func win(w uint16) popt { return func(p *packet.Packet) { p.TCPWindow = w } }

var cliIP, srvIP = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")

func mkpkt(dir Dir, flags uint8, seq, ack uint32, data string, opts ...popt) *packet.Packet {
	p := &packet.Packet{
		Flags:    packet.FlagIPv4 | packet.FlagTCP,
		TCPFlags: flags, TCPSeq: seq, TCPAck: ack, TCPWindow: 65535,
		Data: []byte(data), PayloadLen: len(data),
	}
	if dir == ToServer {
		p.Flags |= packet.FlagToServer
		p.SrcIP, p.DstIP = cliIP, srvIP
	} else {
		p.Flags |= packet.FlagToClient
		p.SrcIP, p.DstIP = srvIP, cliIP
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// send processes one packet and returns it (for its events).
func (c *conn) send(dir Dir, flags uint8, seq, ack uint32, data string, opts ...popt) *packet.Packet {
	c.t.Helper()
	p := mkpkt(dir, flags, seq, ack, data, opts...)
	if s := c.tr.Process(p, c.f); s != nil {
		c.s = s
	}
	return p
}

func (c *conn) handshake(opts ...popt) {
	c.t.Helper()
	c.send(ToServer, S, cli, 0, "", opts...)
	c.send(ToClient, SA, srv, cli+1, "", opts...)
	c.send(ToServer, A, cli+1, srv+1, "")
	c.wantState(StateEstablished)
}

func (c *conn) wantState(st State) {
	c.t.Helper()
	if c.s == nil {
		c.t.Fatalf("no session, want state %v", st)
	}
	if c.s.State != st {
		c.t.Fatalf("state %v, want %v", c.s.State, st)
	}
}

func wantEvent(t *testing.T, p *packet.Packet, e packet.EventID) {
	t.Helper()
	if !p.HasEvent(e) {
		var got []string
		for i := uint8(0); i < p.NumEvents; i++ {
			got = append(got, EventName(p.Events[i]))
		}
		t.Fatalf("event %s not raised; have %v", EventName(e), got)
	}
}

func wantNoEvents(t *testing.T, p *packet.Packet) {
	t.Helper()
	if p.NumEvents != 0 {
		t.Fatalf("unexpected event %s", EventName(p.Events[0]))
	}
}

func hostPolicy(p Policy) func(netip.Addr) Policy { return func(netip.Addr) Policy { return p } }
