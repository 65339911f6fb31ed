package http

import (
	"math/rand/v2"
	"testing"
)

var fuzzCfg = Config{FieldLimit: 200, HeaderLimit: 512, MaxHeaders: 8, RequestBodyLimit: 64,
	ResponseBodyLimit: 64, BombLimit: 4096, DecompressRequests: true}

// FuzzParser feeds a request stream and a response stream. Split anyhow,
// the parse must equal the parse of whole feeding; fed interleaved with
// gaps, it must not panic and must keep its invariants.
func FuzzParser(f *testing.F) {
	f.Add(simpleReq, simpleResp, uint64(1))
	f.Add("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2;e=1\r\nyz\r\n0\r\nT: 1\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\nrest", uint64(7))
	f.Add("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n1f\r\n"+gz(f, "hello hello hello")[:31]+"\r\n0\r\n\r\n",
		respWith("deflate, gzip", gz(f, deflateRaw("body text body text")), true), uint64(3))
	f.Add("GET /%2e%2e/%u002F\\a//b/./c/../d?q#f HTTP/1.1\r\nHost: [::1]:8080\r\n folded\r\nX: 1\r\nx: 2\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n", uint64(9))
	f.Add("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03", "HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01", uint64(4))
	f.Add("GET /old\r\n", "<html>", uint64(5))
	f.Add("  GET\t/x\tHTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\nNoColon\r\n\r\n12345", "FOO\r\n", uint64(11))
	f.Add("GET http://u:p@Host.Example.:81/ HTTP/1.1\r\nHost: other:82\r\n\r\n", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", uint64(12))
	f.Fuzz(func(t *testing.T, req, resp string, seed uint64) {
		whole := fuzzRun(t, []byte(req), []byte(resp), 0)
		split := fuzzRun(t, []byte(req), []byte(resp), seed|1)
		if len(whole) != len(split) {
			t.Fatalf("whole %d txs, split %d", len(whole), len(split))
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("tx %d differs:\n%s\nwhole:\n%s", i, split[i], whole[i])
			}
		}
		fuzzInterleaved(t, []byte(req), []byte(resp), seed)
	})
}

func fuzzRun(t *testing.T, req, resp []byte, seed uint64) []string {
	p := NewParser(&fuzzCfg)
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []string
	pop := func() {
		for tx := p.Pop(); tx != nil; tx = p.Pop() {
			checkTx(t, tx)
			out = append(out, snap(tx).String())
			p.Recycle(tx)
		}
	}
	for d, b := range [2][]byte{req, resp} {
		for len(b) > 0 {
			k := len(b)
			if seed != 0 {
				k = min(1+rng.IntN(16), len(b))
			}
			n := p.Feed(Dir(d), b[:k], false)
			if n < 0 || n > k {
				t.Fatalf("consumed %d of %d", n, k)
			}
			if n < k && p.side[d].state != stTunnel {
				t.Fatalf("consumed %d of %d outside a tunnel", n, k)
			}
			b = b[k:]
			pop()
		}
	}
	p.Close(ToServer)
	p.Close(ToClient)
	pop()
	if len(p.Txs()) != 0 {
		t.Fatalf("%d txs left after close", len(p.Txs()))
	}
	return out
}

func fuzzInterleaved(t *testing.T, req, resp []byte, seed uint64) {
	p := NewParser(&fuzzCfg)
	rng := rand.New(rand.NewPCG(seed, 2))
	bufs := [2][]byte{req, resp}
	var lastID int64 = -1
	for len(bufs[0])+len(bufs[1]) > 0 {
		d := rng.IntN(2)
		if len(bufs[d]) == 0 {
			d ^= 1
		}
		k := min(1+rng.IntN(32), len(bufs[d]))
		p.Feed(Dir(d), bufs[d][:k], rng.IntN(16) == 0)
		bufs[d] = bufs[d][k:]
		for _, tx := range p.Txs() {
			checkTx(t, tx)
		}
		for tx := p.Pop(); tx != nil; tx = p.Pop() {
			if int64(tx.ID) <= lastID {
				t.Fatalf("tx id %d after %d", tx.ID, lastID)
			}
			lastID = int64(tx.ID)
			p.Recycle(tx)
		}
	}
	p.Close(ToClient)
	p.Close(ToServer)
	for tx := p.Pop(); tx != nil; tx = p.Pop() {
		p.Recycle(tx)
	}
	if len(p.Txs()) != 0 {
		t.Fatalf("%d txs left after close", len(p.Txs()))
	}
}

func checkTx(t *testing.T, tx *Tx) {
	if len(tx.Request.Body()) > fuzzCfg.RequestBodyLimit || len(tx.Response.Body()) > fuzzCfg.ResponseBodyLimit {
		t.Fatalf("body over limit: %d %d", len(tx.Request.Body()), len(tx.Response.Body()))
	}
	if len(tx.Request.Line()) > fuzzCfg.FieldLimit || len(tx.Response.Line()) > fuzzCfg.FieldLimit {
		t.Fatalf("line over limit")
	}
	if len(tx.Request.HeaderRaw()) > fuzzCfg.HeaderLimit || len(tx.Response.HeaderRaw()) > fuzzCfg.HeaderLimit {
		t.Fatalf("raw headers over limit")
	}
	if tx.Request.NumHeaders() > fuzzCfg.MaxHeaders || tx.Response.NumHeaders() > fuzzCfg.MaxHeaders {
		t.Fatalf("too many headers kept")
	}
	for b := Buffer(0); b < NumBuffers; b++ {
		_ = tx.Buffer(b)
	}
	if tx.Status >= 0 && (tx.Status < 100 || tx.Status > 999) {
		t.Fatalf("status %d", tx.Status)
	}
}
