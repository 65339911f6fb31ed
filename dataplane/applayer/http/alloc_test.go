package http

import (
	"strings"
	"testing"
)

var benchReq = []byte("GET /search/results.php?q=vigil&page=2 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Cookie: session=0123456789abcdef; theme=dark\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n")

var benchResp = []byte("HTTP/1.1 200 OK\r\n" +
	"Server: nginx/1.24.0\r\n" +
	"Date: Mon, 23 Nov 2026 12:00:00 GMT\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"Connection: keep-alive\r\n" +
	"Set-Cookie: id=42; Path=/\r\n" +
	"\r\n" +
	"400\r\n" + strings.Repeat("<p>hello world</p>\n", 1024/19) + strings.Repeat("x", 1024-1024/19*19) + "\r\n" +
	"0\r\n\r\n")

// exchange feeds one request/response pair in segments of seg bytes and
// takes the transaction off.
func exchange(p *Parser, seg int) *Tx {
	for _, d := range []struct {
		dir Dir
		b   []byte
	}{{ToServer, benchReq}, {ToClient, benchResp}} {
		b := d.b
		for len(b) > 0 {
			k := min(seg, len(b))
			p.Feed(d.dir, b[:k], false)
			b = b[k:]
		}
	}
	tx := p.Pop()
	if tx != nil {
		p.Recycle(tx)
	}
	return tx
}

func TestNoAllocsPerTransaction(t *testing.T) {
	for _, seg := range []int{1460, 100, 1} {
		p := NewParser(nil)
		for i := 0; i < 3; i++ { // warm the buffers
			if exchange(p, seg) == nil {
				t.Fatal("no transaction")
			}
		}
		n := testing.AllocsPerRun(200, func() {
			if exchange(p, seg) == nil {
				t.Fatal("no transaction")
			}
		})
		if n != 0 {
			t.Errorf("segments of %d: %v allocs per transaction", seg, n)
		}
	}
	// gzip bodies: the inflaters are reused too
	p := NewParser(nil)
	resp := []byte(respWith("gzip", gz(t, strings.Repeat("abcdefgh", 2000)), true))
	req := []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	run := func() {
		p.Feed(ToServer, req, false)
		p.Feed(ToClient, resp, false)
		tx := p.Pop()
		if tx == nil || len(tx.Response.Body()) != 16000 {
			t.Fatal("gzip tx wrong")
		}
		p.Recycle(tx)
	}
	for i := 0; i < 3; i++ {
		run()
	}
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Errorf("gzip: %v allocs per transaction", n)
	}
}

func BenchmarkExchange(b *testing.B) {
	for _, seg := range []int{1460, 1} {
		b.Run("seg"+itoa(seg), func(b *testing.B) {
			p := NewParser(nil)
			exchange(p, seg)
			b.SetBytes(int64(len(benchReq) + len(benchResp)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				exchange(p, seg)
			}
		})
	}
}

func BenchmarkGzipResponse(b *testing.B) {
	p := NewParser(nil)
	resp := []byte(respWith("gzip", gz(b, strings.Repeat("<div>some html text</div>\n", 2000)), false))
	req := []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Feed(ToServer, req, false)
		p.Feed(ToClient, resp, false)
		p.Recycle(p.Pop())
	}
}
