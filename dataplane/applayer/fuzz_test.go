package applayer

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/engine"
)

// fuzzBufs are the buffers a fuzzed view is read through.
var fuzzBufs = []string{
	"http.uri", "http.uri.raw", "http.method", "http.protocol", "http.request_line", "http.host",
	"http.user_agent", "http.header", "http.header.raw", "http.header_names", "http.cookie",
	"http.request_body", "http.stat_code", "http.response_line", "file.data",
	"http.request_header", "http.response_header",
	"dns.query", "dns.answer.name", "dns.response.rrname",
	"tls.sni", "tls.cert_subject", "tls.certs", "tls.alpn", "ja3.hash", "ja3s.hash", "ja4.hash",
}

func touchViews(tb testing.TB, vs []*View) {
	for _, v := range vs {
		for _, name := range fuzzBufs {
			id := bufID(tb, name)
			for i := 0; ; i++ {
				b, ok := v.Buffer(id, i)
				if !ok {
					break
				}
				_ = len(b)
			}
		}
		for f := engine.FieldID(0); f < 16; f++ {
			v.Field(f)
		}
		if v.HTTP != nil {
			_ = v.HTTP.URI()
		}
		_ = v.TxState()
	}
}

func touchRecords(recs []Record) {
	for _, r := range recs {
		switch r.Kind {
		case RecordHTTP:
			_ = len(r.HTTP.URI()) + len(r.HTTP.Request.Body()) + len(r.HTTP.Response.Body())
		case RecordDNS:
			for _, q := range r.DNS.Questions {
				_ = len(q.Name)
			}
		case RecordTLS:
			_ = len(r.TLS.ClientHello.SNI)
		}
	}
}

var fuzzPorts = [...]uint16{80, 443, 53, 7777}

// FuzzLayer drives a TCP flow and a UDP flow through the Layer: ops picks
// the server port and a script of packets (which direction's data each
// delivers, in what chunk sizes, gaps, packets without data, pseudo
// packets), ts and tc are the two streams (and the UDP datagrams). Views,
// Records and Done are interleaved as the pipeline calls them; the flow
// ends with FlowEnding and Release. Nothing may panic and state must be
// returned.
func FuzzLayer(f *testing.F) {
	ts, tc := tlsHandshake(f, "fuzz.example")
	q, r := dnsPair(f, 5, "fuzz.example", layers.DNSResponseCodeNoErr)
	tq := append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)
	tr := append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...)
	script := []byte{0, 1 | 7<<3, 0 | 31<<3, 5, 6, 2 | 3<<3, 3 | 8<<3, 4 | 2<<3, 5 | 1<<3, 7, 0 | 31<<3, 1 | 31<<3, 6 | 1<<3}
	for port := byte(0); port < 4; port++ {
		ops := append([]byte{port}, script...)
		f.Add(ops, []byte(httpReq+httpReq), []byte(httpResp+httpResp))
		f.Add(ops, ts, tc)
		f.Add(ops, tq, tr)
	}
	f.Add([]byte{0, 0 | 31<<3, 1 | 31<<3, 0 | 31<<3, 1 | 31<<3}, []byte("POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte{2, 4 | 1<<3, 0 | 31<<3, 1 | 31<<3}, q, r)

	f.Fuzz(func(t *testing.T, ops, ts, tc []byte) {
		port := uint16(80)
		if len(ops) > 0 {
			port = fuzzPorts[ops[0]&3]
			ops = ops[1:]
		}
		l := New(Config{})
		tab := newTable(t)
		c := newConn(t, l, tab, packet.ProtoTCP, 40000, port)
		streams := [2][]byte{ts, tc}
		take := func(d, n int) []byte {
			n = min(n, len(streams[d]))
			b := streams[d][:n]
			streams[d] = streams[d][n:]
			return b
		}
		run := func(pd int, pseudo bool) {
			p := c.pkts[pd]
			if pseudo {
				p.Flags |= packet.FlagPseudo
			}
			touchViews(t, l.Views(p, c.f))
			touchRecords(l.Records())
			l.Done(c.f)
		}
		for _, op := range ops {
			k := int(op>>3) + 1
			size := k * k
			switch op & 7 {
			case 0, 1: // IDS: a packet of the other direction delivers data
				sd := int(op & 1)
				c.begin(sd ^ 1)
				c.data(sd, take(sd, size))
				run(sd^1, false)
			case 2, 3: // inline: a packet delivers its own direction's data
				sd := int(op & 1)
				c.begin(sd)
				c.data(sd, take(sd, size))
				run(sd, false)
			case 4: // a hole in one direction
				sd := k & 1
				c.begin(sd ^ 1)
				l.Gap(nil, 0, uint32(size))
				if k&2 != 0 {
					l.Gap(nil, 1, uint32(size*37))
				}
				run(sd^1, false)
			case 5: // both directions delivered on one packet
				c.begin(k & 1)
				c.data(0, take(0, size))
				c.data(1, take(1, size))
				run(k&1, false)
			case 6: // a packet without new data
				c.begin(k & 1)
				run(k&1, false)
			case 7: // a pseudo packet
				c.begin(k & 1)
				run(k&1, true)
			}
		}
		// Flow end: the rest of both streams, pseudo packets, records.
		c.begin(0)
		c.data(0, streams[0])
		c.data(1, streams[1])
		run(0, true)
		c.begin(1)
		run(1, true)
		l.FlowEnding(c.f)
		touchRecords(l.Records())
		l.Release(c.f)
		if c.f.AppState != 0 || len(l.free) != len(l.states) {
			t.Fatalf("after Release: AppState %d, %d states, %d free", c.f.AppState, len(l.states), len(l.free))
		}

		// The same bytes as UDP datagrams, alternating directions.
		u := newConn(t, l, tab, packet.ProtoUDP, 40000, port)
		for i, pl := range [][]byte{ts, tc, ts, tc} {
			d := i & 1
			p := u.udp(d, pl)
			touchViews(t, l.Views(p, u.f))
			touchRecords(l.Records())
			l.Done(u.f)
		}
		l.FlowEnding(u.f)
		touchRecords(l.Records())
		l.Release(u.f)
		if len(l.free) != len(l.states) {
			t.Fatalf("after UDP Release: %d states, %d free", len(l.states), len(l.free))
		}
	})
}
