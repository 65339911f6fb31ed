package applayer

import (
	"fmt"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

const (
	httpReq  = "GET /index.html?a=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: vigil-test\r\nAccept: */*\r\n\r\n"
	httpResp = "HTTP/1.1 200 OK\r\nServer: testd\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
)

func checkRequestView(t *testing.T, v *View) {
	t.Helper()
	if v.Proto != flow.AppProtoHTTP1 || !v.HasTx || v.HTTP == nil {
		t.Fatalf("view: proto %v hasTx %v http %p", v.Proto, v.HasTx, v.HTTP)
	}
	wantBuf(t, v, "http.uri", "/index.html?a=1")
	wantBuf(t, v, "http.method", "GET")
	wantBuf(t, v, "http.host", "www.example.com")
	wantBuf(t, v, "http.user_agent", "vigil-test")
	wantBuf(t, v, "http.request_line", "GET /index.html?a=1 HTTP/1.1")
}

// TestHTTPSplitRequest offers the request split at every byte position,
// then the response split at every byte position, and checks consumption
// (nothing while the method is incomplete), detection, buffers and the
// record.
func TestHTTPSplitRequest(t *testing.T) {
	for i := 1; i < len(httpReq); i++ {
		l := New(Config{})
		c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
		c.begin(0)
		n := c.data(0, []byte(httpReq[:i]))
		if i < len("GET ") {
			if n != 0 || c.f.AppProto != flow.AppProtoUnknown {
				t.Fatalf("split %d: consumed %d proto %v, want 0 and unknown", i, n, c.f.AppProto)
			}
		} else if n != i || c.f.AppProto != flow.AppProtoHTTP1 {
			t.Fatalf("split %d: consumed %d of %d, proto %v", i, n, i, c.f.AppProto)
		}
		if v := c.views(0); i < len(httpReq)-2 {
			// The headers are not complete: no host buffer yet.
			for _, x := range v {
				noBuf(t, x, "http.host")
			}
		}
		c.l.Done(c.f)
		c.begin(0)
		c.data(0, []byte(httpReq[i:]))
		if len(c.pend[0]) != 0 {
			t.Fatalf("split %d: %d bytes left unconsumed", i, len(c.pend[0]))
		}
		v := c.views(0)
		if len(v) != 1 {
			t.Fatalf("split %d: %d views, want 1", i, len(v))
		}
		checkRequestView(t, v[0])
		if r := l.Records(); len(r) != 0 {
			t.Fatalf("split %d: %d records before the response", i, len(r))
		}
		c.l.Done(c.f)
	}
}

func TestHTTPSplitResponse(t *testing.T) {
	for j := 1; j < len(httpResp); j++ {
		l := New(Config{})
		c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
		c.packet(0, 0, []byte(httpReq))
		var recs []Record
		_, r := c.packet(1, 1, []byte(httpResp[:j]))
		recs = append(recs, r...)
		v, r := c.packet(1, 1, []byte(httpResp[j:]))
		recs = append(recs, r...)
		if len(c.pend[1]) != 0 {
			t.Fatalf("split %d: %d response bytes unconsumed", j, len(c.pend[1]))
		}
		if len(v) != 1 {
			t.Fatalf("split %d: %d views, want 1", j, len(v))
		}
		wantBuf(t, v[0], "http.stat_code", "200")
		wantBuf(t, v[0], "http.stat_msg", "OK")
		wantBuf(t, v[0], "http.server", "testd")
		wantBuf(t, v[0], "file.data", "hello")
		wantBuf(t, v[0], "http.uri", "/index.html?a=1")
		if n := countKind(recs, RecordHTTP); n != 1 || len(recs) != 1 {
			t.Fatalf("split %d: records %+v, want one http record", j, recs)
		}
		if recs[0].HTTP == nil || recs[0].Flow != c.f || recs[0].TxID != 0 {
			t.Fatalf("split %d: record %+v", j, recs[0])
		}
	}
}

// TestHTTPResponseFirst: a flow whose first data is the server's
// response is HTTP too (the to-client direction detects).
func TestHTTPResponseFirst(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 8000)
	c.packet(1, 1, []byte(httpResp))
	if c.f.AppProto != flow.AppProtoHTTP1 {
		t.Fatalf("AppProto = %v, want http", c.f.AppProto)
	}
}

// TestHTTPTiming follows the IDS timing of the package doc step by step:
// a direction's data is parsed on a packet of the other direction (the
// acknowledgement), which inspects, and the next packet of the data's
// direction inspects too; a transaction is logged once when complete and
// recycled once inspected both ways after completion.
func TestHTTPTiming(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	var all []Record

	// 1. The request goes out: not acknowledged, nothing parsed.
	v, r := c.packet(0, 0, nil)
	if len(v) != 0 || len(r) != 0 || c.f.AppState != 0 {
		t.Fatalf("1: views %d records %d appstate %d", len(v), len(r), c.f.AppState)
	}
	// 2. The server acknowledges it: the request is parsed and inspected
	// on the to-client packet.
	v, r = c.packet(1, 0, []byte(httpReq))
	all = append(all, r...)
	if c.f.AppProto != flow.AppProtoHTTP1 || len(v) != 1 {
		t.Fatalf("2: proto %v views %d", c.f.AppProto, len(v))
	}
	checkRequestView(t, v[0])
	noBuf(t, v[0], "http.stat_code")
	// 3. The next to-server packet inspects the request too (once).
	v, r = c.packet(0, 0, nil)
	all = append(all, r...)
	if len(v) != 1 {
		t.Fatalf("3: %d views, want 1 (next packet of the data's direction)", len(v))
	}
	checkRequestView(t, v[0])
	v, _ = c.packet(0, 0, nil)
	if len(v) != 0 {
		t.Fatalf("3b: %d views on a second to-server packet without news", len(v))
	}
	// 4. The response goes out (not yet acknowledged): nothing new.
	v, _ = c.packet(1, 1, nil)
	if len(v) != 0 {
		t.Fatalf("4: %d views", len(v))
	}
	// 5. The client acknowledges the response: parsed, inspected on the
	// to-server packet, the transaction is complete and logged.
	v, r = c.packet(0, 1, []byte(httpResp))
	all = append(all, r...)
	if len(v) != 1 {
		t.Fatalf("5: %d views", len(v))
	}
	wantBuf(t, v[0], "http.stat_code", "200")
	wantBuf(t, v[0], "file.data", "hello")
	if countKind(r, RecordHTTP) != 1 {
		t.Fatalf("5: records %+v, want the http record", r)
	}
	st := l.peek(c.f)
	if n := len(st.http.Txs()); n != 1 {
		t.Fatalf("5: %d live txs after Done, want 1 (not inspected to client yet)", n)
	}
	// 6. The next to-client packet inspects it; then it is recycled.
	v, r = c.packet(1, 1, nil)
	all = append(all, r...)
	if len(v) != 1 {
		t.Fatalf("6: %d views, want 1", len(v))
	}
	wantBuf(t, v[0], "http.stat_code", "200")
	if n := len(st.http.Txs()); n != 0 || len(st.htx) != 0 {
		t.Fatalf("6: %d live txs, %d metas after Done, want 0", n, len(st.htx))
	}
	// 7. Nothing more to inspect, nothing logged twice.
	for d := 0; d < 2; d++ {
		v, r = c.packet(d, d, nil)
		all = append(all, r...)
		if len(v) != 0 {
			t.Fatalf("7: %d views on direction %d", len(v), d)
		}
	}
	if n := countKind(all, RecordHTTP); n != 1 {
		t.Fatalf("%d http records, want 1", n)
	}
	if l.Stats.HTTPTxs != 1 {
		t.Fatalf("Stats.HTTPTxs = %d", l.Stats.HTTPTxs)
	}
	// Flow end: nothing left to log.
	c.l.FlowEnding(c.f)
	if r := c.l.Records(); len(r) != 0 {
		t.Fatalf("FlowEnding: %d records, want 0", len(r))
	}
	c.l.Release(c.f)
	if c.f.AppState != 0 {
		t.Fatalf("AppState %d after Release", c.f.AppState)
	}
}

// TestHTTPKeepAlive: several transactions one after the other, each
// logged once with increasing IDs and retired.
func TestHTTPKeepAlive(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	var ids []uint64
	for i := 0; i < 10; i++ {
		req := fmt.Sprintf("GET /p%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		v, r := c.packet(1, 0, []byte(req))
		if len(v) == 0 {
			t.Fatalf("tx %d: no view for the request", i)
		}
		wantBuf(t, v[len(v)-1], "http.uri", fmt.Sprintf("/p%d", i))
		for _, x := range r {
			ids = append(ids, x.TxID)
		}
		_, r = c.packet(0, 1, []byte(httpResp))
		for _, x := range r {
			ids = append(ids, x.TxID)
		}
		c.packet(1, 1, nil)
		if n := len(l.peek(c.f).http.Txs()); n != 0 {
			t.Fatalf("tx %d: %d live txs after both directions inspected", i, n)
		}
	}
	if len(ids) != 10 {
		t.Fatalf("records for tx ids %v, want 10", ids)
	}
	for i, id := range ids {
		if id != uint64(i) {
			t.Fatalf("record tx ids %v", ids)
		}
	}
}

// TestHTTPFlowEndLogsIncomplete: a request without a response is logged
// at flow end, once.
func TestHTTPFlowEndLogsIncomplete(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	_, r := c.packet(1, 0, []byte(httpReq))
	if len(r) != 0 {
		t.Fatalf("records before flow end: %+v", r)
	}
	// Pseudo packet at flow end inspects.
	c.begin(0)
	p := c.pkts[0]
	p.Flags |= packet.FlagPseudo
	if !l.Pending(c.f) {
		t.Fatalf("Pending = false for a live http flow")
	}
	if v := l.Views(p, c.f); len(v) != 1 {
		t.Fatalf("pseudo packet: %d views, want 1", len(v))
	}
	l.FlowEnding(c.f)
	recs := l.Records()
	if len(recs) != 1 || recs[0].Kind != RecordHTTP || string(recs[0].HTTP.URI()) != "/index.html?a=1" {
		t.Fatalf("FlowEnding records %+v", recs)
	}
	l.FlowEnding(c.f)
	if n := len(l.Records()); n != 0 {
		t.Fatalf("second FlowEnding: %d records", n)
	}
	l.Release(c.f)
}

// TestRelease: app-layer state is reused across flows; no slab growth for
// sequential flows, and the concurrent maximum for overlapping ones.
func TestRelease(t *testing.T) {
	l := New(Config{})
	tab := newTable(t)
	const n = 200
	for i := 0; i < n; i++ {
		c := newConn(t, l, tab, packet.ProtoTCP, uint16(20000+i), 80)
		c.packet(1, 0, []byte(httpReq))
		c.packet(0, 1, []byte(httpResp))
		l.FlowEnding(c.f)
		l.Release(c.f)
		if c.f.AppState != 0 {
			t.Fatalf("flow %d: AppState %d after Release", i, c.f.AppState)
		}
		l.Release(c.f) // twice is harmless
	}
	if l.Stats.Flows != n {
		t.Fatalf("Stats.Flows = %d, want %d", l.Stats.Flows, n)
	}
	if len(l.states) != 1 || len(l.free) != 1 {
		t.Fatalf("sequential flows: %d states, %d free, want 1 and 1", len(l.states), len(l.free))
	}
	if l.Stats.HTTPTxs != n {
		t.Fatalf("Stats.HTTPTxs = %d, want %d", l.Stats.HTTPTxs, n)
	}

	// Overlapping flows: 5 at a time.
	for round := 0; round < 20; round++ {
		var cs []*conn
		for k := 0; k < 5; k++ {
			c := newConn(t, l, tab, packet.ProtoTCP, uint16(30000+round*5+k), 80)
			c.packet(1, 0, []byte(httpReq))
			cs = append(cs, c)
		}
		for _, c := range cs {
			c.packet(0, 1, []byte(httpResp))
			l.FlowEnding(c.f)
			l.Release(c.f)
		}
	}
	if len(l.states) != 5 || len(l.free) != 5 {
		t.Fatalf("overlapping flows: %d states, %d free, want 5 and 5", len(l.states), len(l.free))
	}
	// A released state starts clean: a TLS flow in a slot an HTTP flow had.
	c := newConn(t, l, tab, packet.ProtoTCP, 50000, 443)
	c.packet(0, 0, []byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	st := l.peek(c.f)
	if st.proto != flow.AppProtoTLS || st.http != nil || len(st.htx) != 0 || st.done != [2]bool{true, false} {
		t.Fatalf("reused state: proto %v http %p htx %d done %v", st.proto, st.http, len(st.htx), st.done)
	}
}

// TestNoHTTP: with HTTP disabled a request makes the flow failed.
func TestNoHTTP(t *testing.T) {
	l := New(Config{NoHTTP: true})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	c.packet(1, 0, []byte(httpReq))
	if c.f.AppProto != flow.AppProtoFailed {
		t.Fatalf("AppProto = %v, want failed", c.f.AppProto)
	}
	if v, _ := c.packet(0, 1, []byte(httpResp)); len(v) != 0 {
		t.Fatalf("%d views on a failed flow", len(v))
	}
}

// TestTCPFailedBothWays: a flow with no known protocol in either
// direction is failed once both directions gave up, not before.
func TestTCPFailedBothWays(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 22)
	c.packet(1, 0, []byte("SSH-2.0-OpenSSH_9.6\r\n"))
	if c.f.AppProto != flow.AppProtoUnknown {
		t.Fatalf("after one direction: %v, want unknown", c.f.AppProto)
	}
	c.packet(0, 1, []byte("SSH-2.0-OpenSSH_8.0\r\n"))
	if c.f.AppProto != flow.AppProtoFailed {
		t.Fatalf("after both directions: %v, want failed", c.f.AppProto)
	}
	if l.Stats.Detected[flow.AppProtoFailed] != 1 {
		t.Fatalf("Detected[failed] = %d", l.Stats.Detected[flow.AppProtoFailed])
	}
	// Later data is consumed and ignored.
	if n := c.data(0, []byte("GET / HTTP/1.1\r\n\r\n")); n != len("GET / HTTP/1.1\r\n\r\n") {
		t.Fatalf("consumed %d on a failed flow", n)
	}
}

// TestDataWithoutBegin: a Layer that was given no flow consumes and
// ignores data.
func TestDataWithoutBegin(t *testing.T) {
	l := New(Config{})
	if n := l.Data(nil, 0, []byte("GET / HTTP/1.1\r\n")); n != 16 {
		t.Fatalf("consumed %d", n)
	}
	l.Gap(nil, 0, 10)
	if v := l.Views(&packet.Packet{}, nil); len(v) != 0 {
		t.Fatalf("%d views for a nil flow", len(v))
	}
	l.Done(nil)
	l.FlowEnding(nil)
	l.Release(nil)
}

// TestHTTPOwnership: what views and records expose does not point into
// the bytes given to Data (the tracker reuses them after the call).
func TestHTTPOwnership(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	wipe := func(b []byte) {
		for i := range b {
			b[i] = 'z'
		}
	}
	c.begin(1)
	req := []byte(httpReq)
	l.Data(nil, 0, req)
	wipe(req)
	c.begin(0)
	resp := []byte(httpResp)
	l.Data(nil, 1, resp)
	wipe(resp)
	v := l.Views(c.pkts[0], c.f)
	if len(v) != 1 {
		t.Fatalf("%d views", len(v))
	}
	wantBuf(t, v[0], "http.uri", "/index.html?a=1")
	wantBuf(t, v[0], "file.data", "hello")
	recs := l.Records()
	if len(recs) != 1 || string(recs[0].HTTP.URI()) != "/index.html?a=1" {
		t.Fatalf("records %+v", recs)
	}
}

// TestHTTPPipelined: more transactions than MaxViews in one chunk; the
// views beyond the bound are counted as dropped, every transaction is
// logged once, and all are recycled once inspected both ways.
func TestHTTPPipelined(t *testing.T) {
	const n = MaxViews + 8
	var reqs, resps []byte
	for i := 0; i < n; i++ {
		reqs = append(reqs, fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i)...)
		resps = append(resps, httpResp...)
	}
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	var recs []Record
	v, r := c.packet(1, 0, reqs)
	recs = append(recs, r...)
	// Stats.ViewsDropped counts the packets that hit the bound (one here),
	// not the transactions left out as its comment says.
	if len(v) != MaxViews || l.Stats.ViewsDropped == 0 {
		t.Fatalf("%d views, %d dropped; want %d and some", len(v), l.Stats.ViewsDropped, MaxViews)
	}
	_, r = c.packet(0, 1, resps)
	recs = append(recs, r...)
	_, r = c.packet(1, 1, nil)
	recs = append(recs, r...)
	// The first MaxViews were inspected both ways and are recycled; the
	// rest wait for a packet that inspects them.
	if k := len(l.peek(c.f).http.Txs()); k != n-MaxViews {
		t.Fatalf("%d live txs, want %d", k, n-MaxViews)
	}
	v, r = c.packet(1, 0, []byte("GET /last HTTP/1.1\r\nHost: h\r\n\r\n"))
	recs = append(recs, r...)
	if len(v) != n-MaxViews+1 {
		t.Fatalf("%d views after the next request, want %d", len(v), n-MaxViews+1)
	}
	if countKind(recs, RecordHTTP) != n {
		t.Fatalf("%d http records, want %d", countKind(recs, RecordHTTP), n)
	}
	seen := map[uint64]bool{}
	for _, r := range recs {
		if r.Kind != RecordHTTP {
			continue
		}
		if seen[r.TxID] {
			t.Fatalf("tx %d logged twice", r.TxID)
		}
		seen[r.TxID] = true
	}
	// The last request has no response: logged at flow end.
	l.FlowEnding(c.f)
	if r := l.Records(); countKind(r, RecordHTTP) != 1 || r[0].HTTP == nil || string(r[0].HTTP.URI()) != "/last" {
		t.Fatalf("FlowEnding records %+v, want the /last transaction", r)
	}
	l.Release(c.f)
}
