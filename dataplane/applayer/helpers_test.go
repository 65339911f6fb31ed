package applayer

import (
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/detect/engine"
)

// conn drives a Layer as the pipeline and the stream tracker do, without a
// tracker: packets of both directions go through a flow table, and each
// direction's stream data is offered with the tracker's re-offer rule
// (bytes not consumed come again, followed by newer ones).
type conn struct {
	tb   testing.TB
	l    *Layer
	tab  *flow.Table
	f    *flow.Flow
	pkts [2]*packet.Packet // [0] client to server, [1] server to client
	pend [2][]byte
	now  int64
}

func newTable(tb testing.TB) *flow.Table {
	tb.Helper()
	tab, err := flow.NewTable(flow.Config{Seed: 1, MaxFlows: 4096, Prealloc: 64, HashSize: 1024})
	if err != nil {
		tb.Fatalf("flow.NewTable: %v", err)
	}
	return tab
}

// newConn makes a flow from client port cport to server port sport
// (proto 6 or 17) in tab (a new table if nil) and returns its driver.
func newConn(tb testing.TB, l *Layer, tab *flow.Table, proto uint8, cport, sport uint16) *conn {
	tb.Helper()
	if tab == nil {
		tab = newTable(tb)
	}
	c := &conn{tb: tb, l: l, tab: tab, now: 1_700_000_000 * 1e9}
	cli, srv := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	mk := func(src, dst netip.Addr, sp, dp uint16) *packet.Packet {
		p := &packet.Packet{Data: make([]byte, 64), SrcIP: src, DstIP: dst, IPProto: proto, SrcPort: sp, DstPort: dp, EtherType: 0x0800}
		p.Flags = packet.FlagIPv4
		if proto == packet.ProtoTCP {
			p.Flags |= packet.FlagTCP
			p.TCPFlags = packet.TCPAck
		} else {
			p.Flags |= packet.FlagUDP
		}
		return p
	}
	c.pkts[0] = mk(cli, srv, cport, sport)
	c.pkts[1] = mk(srv, cli, sport, cport)
	c.pkts[0].TimeNs, c.pkts[1].TimeNs = c.now, c.now
	if proto == packet.ProtoTCP {
		c.pkts[0].TCPFlags = packet.TCPSyn
	}
	c.f = tab.Lookup(c.pkts[0])
	if c.f == nil {
		tb.Fatalf("flow Lookup returned nil, stats %+v", tab.Stats())
	}
	if proto == packet.ProtoTCP {
		// Complete the handshake so the flow is established.
		c.pkts[1].TCPFlags = packet.TCPSyn | packet.TCPAck
		c.tab.Lookup(c.pkts[1])
		c.pkts[0].TCPFlags, c.pkts[1].TCPFlags = packet.TCPAck, packet.TCPAck
		c.tab.Lookup(c.pkts[0])
	}
	return c
}

// begin starts packet processing of a packet of direction d (0 to server).
func (c *conn) begin(d int) *packet.Packet {
	p := c.pkts[d]
	c.now += 1e6
	p.TimeNs = c.now
	p.Flags &^= packet.FlagPseudo
	id := c.f.ID
	if f := c.tab.Lookup(p); f != c.f || f.ID != id {
		c.tb.Fatalf("Lookup gave another flow (%p id %d, want %p id %d)", f, f.ID, c.f, id)
	}
	if got := dirOf(p); got != d {
		c.tb.Fatalf("packet of direction %d has flags %#x", d, p.Flags)
	}
	c.l.Begin(p, c.f)
	return p
}

// data offers chunk as the next bytes of stream direction d.
func (c *conn) data(d int, chunk []byte) int {
	c.pend[d] = append(c.pend[d], chunk...)
	n := c.l.Data(nil, stream.Dir(d), c.pend[d])
	if n < 0 || n > len(c.pend[d]) {
		c.tb.Fatalf("Data consumed %d of %d", n, len(c.pend[d]))
	}
	c.pend[d] = append(c.pend[d][:0], c.pend[d][n:]...)
	return n
}

// udp runs one UDP packet of direction d with payload pl.
func (c *conn) udp(d int, pl []byte) *packet.Packet {
	p := c.begin(d)
	p.Data = append(p.Data[:0], pl...)
	p.PayloadOff, p.PayloadLen = 0, len(pl)
	c.l.UDP(p, c.f)
	return p
}

// views returns the views on the packet of direction d.
func (c *conn) views(d int) []*View { return c.l.Views(c.pkts[d], c.f) }

// packet runs a whole packet of direction pd that delivers chunk of
// stream direction sd (none when chunk is nil), and returns the views and
// the records it produced (records copied).
func (c *conn) packet(pd, sd int, chunk []byte) ([]*View, []Record) {
	c.begin(pd)
	if chunk != nil {
		c.data(sd, chunk)
	}
	v := c.views(pd)
	recs := append([]Record(nil), c.l.Records()...)
	c.l.Done(c.f)
	return v, recs
}

func bufID(tb testing.TB, name string) engine.BufferID {
	tb.Helper()
	id, ok := engine.LookupBuffer(name)
	if !ok {
		tb.Fatalf("engine has no buffer %q", name)
	}
	return id
}

// buf returns instance 0 of the named buffer of v.
func buf(tb testing.TB, v *View, name string) (string, bool) {
	tb.Helper()
	b, ok := v.Buffer(bufID(tb, name), 0)
	return string(b), ok
}

func wantBuf(tb testing.TB, v *View, name, want string) {
	tb.Helper()
	got, ok := buf(tb, v, name)
	if !ok {
		tb.Errorf("view of tx %d: no %s buffer, want %q", v.TxID, name, want)
	} else if got != want {
		tb.Errorf("view of tx %d: %s = %q, want %q", v.TxID, name, got, want)
	}
}

func noBuf(tb testing.TB, v *View, name string) {
	tb.Helper()
	if got, ok := buf(tb, v, name); ok {
		tb.Errorf("view of tx %d: %s = %q, want none", v.TxID, name, got)
	}
}

func countKind(recs []Record, k RecordKind) int {
	n := 0
	for _, r := range recs {
		if r.Kind == k {
			n++
		}
	}
	return n
}
