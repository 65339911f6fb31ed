package applayer

import (
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// httpCycle runs one keep-alive request/response through the Layer with
// IDS timing: the request is parsed on the server's acknowledgement, the
// response on the client's, and the next to-client packet inspects the
// completed transaction, which Done then recycles. It returns the views
// and records seen, so nothing is optimised away.
func httpCycle(c *conn, req, resp []byte) int {
	l := c.l
	n := 0
	// Request acknowledged by the server.
	c.begin(1)
	l.Data(nil, 0, req)
	n += len(l.Views(c.pkts[1], c.f)) + len(l.Records())
	l.Done(c.f)
	// Response acknowledged by the client.
	c.begin(0)
	l.Data(nil, 1, resp)
	n += len(l.Views(c.pkts[0], c.f)) + len(l.Records())
	l.Done(c.f)
	// The next to-client packet.
	c.begin(1)
	n += len(l.Views(c.pkts[1], c.f)) + len(l.Records())
	l.Done(c.f)
	return n
}

func newKeepAlive(tb testing.TB) *conn {
	l := New(Config{})
	c := newConn(tb, l, nil, packet.ProtoTCP, 40000, 80)
	req, resp := []byte(httpReq), []byte(httpResp)
	for i := 0; i < 64; i++ {
		if n := httpCycle(c, req, resp); n != 4 {
			tb.Fatalf("warm-up cycle %d: %d views+records, want 4", i, n)
		}
	}
	if n := len(l.peek(c.f).http.Txs()); n != 0 {
		tb.Fatalf("%d live transactions after warm-up", n)
	}
	return c
}

func TestHTTPTransactionAllocs(t *testing.T) {
	c := newKeepAlive(t)
	req, resp := []byte(httpReq), []byte(httpResp)
	allocs := testing.AllocsPerRun(1000, func() { httpCycle(c, req, resp) })
	if allocs != 0 {
		t.Fatalf("keep-alive HTTP cycle: %v allocations, want 0", allocs)
	}
}

func TestDNSUDPAllocs(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoUDP, 53000, 53)
	q, r := dnsPair(t, 1, "alloc.example", 0)
	cycle := func() {
		for d, pl := range [][]byte{q, r} {
			p := c.udp(d, pl)
			l.Views(p, c.f)
			l.Records()
			l.Done(c.f)
		}
	}
	for i := 0; i < 16; i++ {
		cycle()
	}
	if allocs := testing.AllocsPerRun(1000, cycle); allocs != 0 {
		t.Fatalf("DNS query/response: %v allocations, want 0", allocs)
	}
}

func BenchmarkHTTPTransaction(b *testing.B) {
	c := newKeepAlive(b)
	req, resp := []byte(httpReq), []byte(httpResp)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		httpCycle(c, req, resp)
	}
}

func BenchmarkDNSUDP(b *testing.B) {
	l := New(Config{})
	c := newConn(b, l, nil, packet.ProtoUDP, 53000, 53)
	q, r := dnsPair(b, 1, "bench.example", 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for d, pl := range [][]byte{q, r} {
			p := c.udp(d, pl)
			l.Views(p, c.f)
			l.Records()
			l.Done(c.f)
		}
	}
}
