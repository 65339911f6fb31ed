package http

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

var bufNames = [NumBuffers]string{
	"uri", "uri_raw", "method", "protocol", "request_line", "host", "host_raw", "user_agent",
	"header", "header_raw", "header_names", "cookie", "content_type", "content_len", "referer",
	"accept", "accept_enc", "accept_lang", "connection", "start", "request_body", "stat_code",
	"stat_msg", "response_line", "response_protocol", "response_header", "response_header_raw",
	"response_header_names", "response_cookie", "response_content_type", "response_content_len",
	"response_connection", "response_start", "response_body", "server", "location",
}

// view is a copy of a transaction's observable state.
type view struct {
	ID     uint64
	Bufs   map[string]string
	Events []string
	Status int
	Flags  string
}

func (v view) String() string {
	keys := make([]string, 0, len(v.Bufs))
	for k := range v.Bufs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "tx %d status %d flags %s events %v\n", v.ID, v.Status, v.Flags, v.Events)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s=%q\n", k, v.Bufs[k])
	}
	return b.String()
}

func snap(tx *Tx) view {
	v := view{ID: tx.ID, Bufs: map[string]string{}, Status: tx.Status}
	for b := Buffer(0); b < NumBuffers; b++ {
		if d := tx.Buffer(b); d != nil {
			v.Bufs[bufNames[b]] = string(d)
		}
	}
	for _, e := range tx.Events.List(nil) {
		v.Events = append(v.Events, e.String())
	}
	v.Flags = fmt.Sprintf("req[c%v t%v g%v bt%v cl%d len%d ch%v] resp[c%v t%v g%v bt%v cl%d len%d ch%v]",
		tx.Request.complete, tx.Request.Truncated, tx.Request.Gap, tx.Request.BodyTruncated, tx.Request.ContentLength, tx.Request.BodyLen, tx.Request.Chunked,
		tx.Response.complete, tx.Response.Truncated, tx.Response.Gap, tx.Response.BodyTruncated, tx.Response.ContentLength, tx.Response.BodyLen, tx.Response.Chunked)
	return v
}

// feedAll feeds req and resp in pieces of chunk bytes (0: whole), closes
// both sides and returns the transactions popped.
func feedAll(t testing.TB, cfg *Config, req, resp string, chunk int) []view {
	p := NewParser(cfg)
	var out []view
	pop := func() {
		for tx := p.Pop(); tx != nil; tx = p.Pop() {
			out = append(out, snap(tx))
			p.Recycle(tx)
		}
	}
	feed := func(d Dir, s string) {
		b := []byte(s)
		if chunk <= 0 {
			if n := p.Feed(d, b, false); n != len(b) && p.side[d].state != stTunnel {
				t.Fatalf("consumed %d of %d", n, len(b))
			}
			return
		}
		for len(b) > 0 {
			k := min(chunk, len(b))
			p.Feed(d, b[:k], false)
			b = b[k:]
			pop()
		}
	}
	feed(ToServer, req)
	pop()
	feed(ToClient, resp)
	pop()
	p.Close(ToServer)
	p.Close(ToClient)
	pop()
	if len(p.Txs()) != 0 {
		t.Fatalf("%d transactions left after close", len(p.Txs()))
	}
	return out
}

// checkSplits asserts that feeding whole, byte by byte and in odd chunks
// gives the same transactions, and returns them.
func checkSplits(t *testing.T, cfg *Config, req, resp string) []view {
	t.Helper()
	whole := feedAll(t, cfg, req, resp, 0)
	for _, n := range []int{1, 2, 3, 7, 64} {
		got := feedAll(t, cfg, req, resp, n)
		if len(got) != len(whole) {
			t.Fatalf("chunk %d: %d txs, whole: %d", n, len(got), len(whole))
		}
		for i := range got {
			if got[i].String() != whole[i].String() {
				t.Fatalf("chunk %d tx %d differs:\n%s\nwhole:\n%s", n, i, got[i], whole[i])
			}
		}
	}
	return whole
}

func hasEvent(v view, name string) bool {
	for _, e := range v.Events {
		if e == name {
			return true
		}
	}
	return false
}
