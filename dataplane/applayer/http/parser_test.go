package http

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"strings"
	"testing"
)

const simpleReq = "GET /index.html?a=1 HTTP/1.1\r\n" +
	"Host: WWW.Example.COM:8080\r\n" +
	"User-Agent: curl/8.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"Accept-Language: en\r\n" +
	"Cookie: a=b\r\n" +
	"Referer: http://x/\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

const simpleResp = "HTTP/1.1 200 OK\r\n" +
	"Server: nginx\r\n" +
	"Content-Type: text/html\r\n" +
	"Set-Cookie: s=1\r\n" +
	"Content-Length: 5\r\n" +
	"\r\n" +
	"hello"

func TestSimpleTransaction(t *testing.T) {
	txs := checkSplits(t, nil, simpleReq, simpleResp)
	if len(txs) != 1 {
		t.Fatalf("%d txs", len(txs))
	}
	v := txs[0]
	want := map[string]string{
		"method":                "GET",
		"uri":                   "/index.html?a=1",
		"uri_raw":               "/index.html?a=1",
		"protocol":              "HTTP/1.1",
		"request_line":          "GET /index.html?a=1 HTTP/1.1",
		"host":                  "www.example.com",
		"host_raw":              "WWW.Example.COM:8080",
		"user_agent":            "curl/8.0",
		"accept":                "*/*",
		"accept_enc":            "gzip, deflate",
		"accept_lang":           "en",
		"cookie":                "a=b",
		"referer":               "http://x/",
		"connection":            "keep-alive",
		"header":                "Host: WWW.Example.COM:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en\r\nReferer: http://x/\r\nConnection: keep-alive\r\n\r\n",
		"header_names":          "\r\nHost\r\nUser-Agent\r\nAccept\r\nAccept-Encoding\r\nAccept-Language\r\nCookie\r\nReferer\r\nConnection\r\n\r\n",
		"header_raw":            simpleReq[len("GET /index.html?a=1 HTTP/1.1\r\n"):],
		"start":                 simpleReq,
		"stat_code":             "200",
		"stat_msg":              "OK",
		"response_line":         "HTTP/1.1 200 OK",
		"response_protocol":     "HTTP/1.1",
		"server":                "nginx",
		"response_content_type": "text/html",
		"response_content_len":  "5",
		"response_cookie":       "s=1",
		"response_body":         "hello",
		"response_header":       "Server: nginx\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n",
		"response_start":        simpleResp[:len(simpleResp)-5],
	}
	for k, w := range want {
		if g, ok := v.Bufs[k]; !ok || g != w {
			t.Errorf("%s = %q (present %v), want %q", k, g, ok, w)
		}
	}
	if _, ok := v.Bufs["request_body"]; ok && v.Bufs["request_body"] != "" {
		t.Errorf("request body %q", v.Bufs["request_body"])
	}
	if v.Status != 200 || len(v.Events) != 0 || v.ID != 0 {
		t.Errorf("status %d events %v id %d", v.Status, v.Events, v.ID)
	}
}

func TestPipelining(t *testing.T) {
	req := "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /3 HTTP/1.1\r\nHost: a\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx" +
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nyz\r\n0\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	txs := checkSplits(t, nil, req, resp)
	if len(txs) != 3 {
		t.Fatalf("%d txs", len(txs))
	}
	for i, w := range []struct{ uri, body, rbody, code string }{
		{"/1", "", "x", "200"}, {"/2", "abc", "yz", "201"}, {"/3", "", "", "404"},
	} {
		v := txs[i]
		if v.ID != uint64(i) || v.Bufs["uri"] != w.uri || v.Bufs["request_body"] != w.body ||
			v.Bufs["response_body"] != w.rbody || v.Bufs["stat_code"] != w.code || len(v.Events) != 0 {
			t.Errorf("tx %d: %s", i, v)
		}
	}
}

func TestPopOrderAndProgress(t *testing.T) {
	p := NewParser(nil)
	p.Feed(ToServer, []byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHo"), false)
	txs := p.Txs()
	if len(txs) != 2 || !txs[0].Request.Complete() || txs[1].Request.HeadersDone() {
		t.Fatalf("progress wrong: %d txs", len(txs))
	}
	if p.Pop() != nil {
		t.Fatal("popped a tx without response")
	}
	p.Feed(ToClient, []byte("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), false)
	tx := p.Pop()
	if tx == nil || string(tx.URI()) != "/a" || string(tx.Response.Body()) != "ok" {
		t.Fatal("first tx not complete")
	}
	p.Recycle(tx)
	p.Feed(ToServer, []byte("st: h\r\n\r\n"), false)
	p.Feed(ToClient, []byte("HTTP/1.1 200 OK\r\n\r\nuntil close"), false)
	if p.Pop() != nil {
		t.Fatal("close-delimited body completed early")
	}
	p.Close(ToClient)
	tx = p.Pop()
	if tx == nil || tx.ID != 1 || string(tx.Response.Body()) != "until close" || string(tx.Host()) != "h" {
		t.Fatalf("second tx wrong: %+v", tx)
	}
}

func TestURINormalization(t *testing.T) {
	cases := []struct {
		raw, uri string
		event    string
	}{
		{"/a/b/../c", "/a/c", ""},
		{"/a/./b/.", "/a/b/", ""},
		{"/../../etc/passwd", "/etc/passwd", ""},
		{"//a///b", "/a/b", ""},
		{`/a\b\..\c`, "/a/c", ""},
		{"/%61%62c", "/abc", ""},
		{"/a%2fb%5cc", "/a/b/c", ""},
		{"/a%2e%2e/x/%2e%2e/y", "/a../y", ""},
		{"/%u0041%u002F", "/A/", ""},
		{"/%uFF41x", "/ax", ""},
		{"/%u1234", "/?", ""},
		{"/%zz%4", "/%zz%4", ""},
		{"/%2541", "/%41", "double_encoded_uri"},
		{"/x?q=%41&b=..//", "/x?q=%41&b=..//", ""},
		{"/\xef\xbc\xa1", "/A", ""},
		{"/caf\xc3\xa9", "/caf\xe9", ""},
		{"/bad\xc3", "/bad\xc3", ""},
		{"/Mixed/CASE", "/Mixed/CASE", ""},
		{"http://Host.Example:81/p/../q?x", "/q?x", ""},
		{"http://host.example", "/", ""},
		{"/f#fr%41g", "/f#frAg", ""},
		{"*", "*", ""},
	}
	for _, c := range cases {
		req := "GET " + c.raw + " HTTP/1.1\r\nHost: host.example:81\r\n\r\n"
		v := feedAll(t, nil, req, "", 0)[0]
		if v.Bufs["uri"] != c.uri || v.Bufs["uri_raw"] != c.raw {
			t.Errorf("%q: uri %q raw %q, want %q", c.raw, v.Bufs["uri"], v.Bufs["uri_raw"], c.uri)
		}
		if c.event != "" && !hasEvent(v, c.event) {
			t.Errorf("%q: missing event %s in %v", c.raw, c.event, v.Events)
		}
		if c.event == "" && len(v.Events) != 0 {
			t.Errorf("%q: events %v", c.raw, v.Events)
		}
	}
}

func TestRemoveDotSegmentsRFC(t *testing.T) {
	// RFC 3986 section 5.2.4 examples and a few edges
	for in, want := range map[string]string{
		"/a/b/c/./../../g":   "/a/g",
		"mid/content=5/../6": "mid/6",
		"/..":                "/",
		"/.":                 "/",
		"..":                 "",
		"/a/..":              "/",
		"/a/b/..":            "/a/",
		"":                   "",
	} {
		b := []byte(in)
		if got := string(b[:removeDotSegments(b)]); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestHostHandling(t *testing.T) {
	cases := []struct {
		line, hosthdr string
		host, hostRaw string
		events        []string
		serverPort    int
	}{
		{"/", "Example.COM.", "example.com", "Example.COM.", nil, 0},
		{"/", "a.b:8080", "a.b", "a.b:8080", []string{"request_server_port_tcp_port_mismatch"}, 80},
		{"/", "a.b:99999", "a.b", "a.b:99999", []string{"invalid_authority_port"}, 0},
		{"/", "a b", "a b", "a b", []string{"request_header_host_invalid"}, 0},
		{"http://one.example/", "two.example", "one.example", "one.example", []string{"host_header_ambiguous"}, 0},
		{"http://One.Example/", "one.example", "one.example", "One.Example", nil, 0},
		{"http://bad_host!/", "bad_host!", "bad_host!", "bad_host!", []string{"request_uri_host_invalid", "request_header_host_invalid"}, 0},
		{"http://h:xx/", "h", "h", "h", []string{"invalid_server_port_in_request"}, 0},
		{"/", "[::1]:80", "[::1]", "[::1]:80", nil, 80},
	}
	for _, c := range cases {
		cfg := &Config{}
		p := NewParser(cfg)
		p.ServerPort = c.serverPort
		p.Feed(ToServer, []byte("GET "+c.line+" HTTP/1.1\r\nHost: "+c.hosthdr+"\r\n\r\n"), false)
		tx := p.Txs()[0]
		if string(tx.Host()) != c.host || string(tx.HostRaw()) != c.hostRaw {
			t.Errorf("%s/%s: host %q raw %q", c.line, c.hosthdr, tx.Host(), tx.HostRaw())
		}
		for _, e := range c.events {
			ev, _ := EventByName(e)
			if !tx.Events.Has(ev) {
				t.Errorf("%s/%s: missing %s in %v", c.line, c.hosthdr, e, tx.Events.List(nil))
			}
		}
		if tx.Events.Len() != len(c.events) {
			t.Errorf("%s/%s: events %v, want %v", c.line, c.hosthdr, tx.Events.List(nil), c.events)
		}
	}
	v := feedAll(t, nil, "GET / HTTP/1.1\r\n\r\n", "", 0)[0]
	if !hasEvent(v, "missing_host_header") || v.Bufs["host"] != "" {
		t.Errorf("missing host: %s", v)
	}
	v = feedAll(t, nil, "GET / HTTP/1.0\r\n\r\n", "", 0)[0]
	if len(v.Events) != 0 {
		t.Errorf("1.0 without host: %v", v.Events)
	}
}

func TestHeaders(t *testing.T) {
	req := "GET / HTTP/1.1\r\n" +
		"Host: h\r\n" +
		"X-A: one\r\n" +
		"X-Fold: first\r\n" +
		"  second\r\n" +
		"\tthird\r\n" +
		"x-a: two\r\n" +
		"Empty:\r\n" +
		"NoColonHere\r\n" +
		"Bad Name : v\r\n" +
		"\r\n"
	v := checkSplits(t, nil, req, "")[0]
	wantHdr := "Host: h\r\nX-A: one, two\r\nX-Fold: first second third\r\nEmpty: \r\n: NoColonHere\r\nBad Name: v\r\n\r\n"
	if v.Bufs["header"] != wantHdr {
		t.Errorf("header block %q\nwant %q", v.Bufs["header"], wantHdr)
	}
	if v.Bufs["header_names"] != "\r\nHost\r\nX-A\r\nX-Fold\r\nEmpty\r\n\r\nBad Name\r\n\r\n" {
		t.Errorf("names %q", v.Bufs["header_names"])
	}
	for _, e := range []string{"request_header_repetition", "request_field_missing_colon", "request_header_invalid"} {
		if !hasEvent(v, e) {
			t.Errorf("missing %s: %v", e, v.Events)
		}
	}
	v = feedAll(t, nil, "GET / HTTP/1.1\r\n folded-first: x\r\nHost: h\r\n\r\n", "", 0)[0]
	if !hasEvent(v, "invalid_request_field_folding") {
		t.Errorf("first-line folding: %v", v.Events)
	}
	v = feedAll(t, nil, "", "HTTP/1.1 200 OK\r\n folded-first: x\r\nServer: s\r\nServer: t\r\nContent-Length: 0\r\n\r\n", 0)[0]
	for _, e := range []string{"invalid_response_field_folding", "response_header_repetition", "unable_to_match_response_to_request"} {
		if !hasEvent(v, e) {
			t.Errorf("response: missing %s in %v", e, v.Events)
		}
	}
	if v.Bufs["server"] != "s, t" {
		t.Errorf("server %q", v.Bufs["server"])
	}
}

func TestLimits(t *testing.T) {
	long := strings.Repeat("a", 300)
	cfg := &Config{FieldLimit: 100, MaxHeaders: 3, RequestBodyLimit: 10, ResponseBodyLimit: 4}
	req := "GET /" + long + " HTTP/1.1\r\nHost: h\r\nX-Long: " + long + "\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 20\r\n\r\n" + strings.Repeat("b", 20)
	resp := "HTTP/1.1 200 OK\r\nX: " + long + "\r\nContent-Length: 8\r\n\r\n12345678"
	v := checkSplits(t, cfg, req, resp)[0]
	for _, e := range []string{"request_field_too_long", "request_too_many_headers", "response_field_too_long"} {
		if !hasEvent(v, e) {
			t.Errorf("missing %s: %v", e, v.Events)
		}
	}
	if len(v.Bufs["request_line"]) != 100 {
		t.Errorf("request line kept %d bytes", len(v.Bufs["request_line"]))
	}
	// Content-Length was the 7th header and is dropped by MaxHeaders, so
	// the request has no body and the 20 bytes are an invalid request.
	if v.Bufs["response_body"] != "1234" || !strings.Contains(v.Flags, "bttrue cl8 len8") {
		t.Errorf("response body %q flags %s", v.Bufs["response_body"], v.Flags)
	}
	v = feedAll(t, &Config{RequestBodyLimit: 10}, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n"+strings.Repeat("b", 20), "", 0)[0]
	if v.Bufs["request_body"] != strings.Repeat("b", 10) || !strings.Contains(v.Flags, "req[ctrue tfalse gfalse bttrue cl20 len20") {
		t.Errorf("request body %q flags %s", v.Bufs["request_body"], v.Flags)
	}
}

func TestChunked(t *testing.T) {
	req := "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"4;name=val\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	v := checkSplits(t, nil, req, resp)[0]
	if v.Bufs["request_body"] != "Wikipedia in\r\n\r\nchunks." || v.Bufs["response_body"] != "abc" {
		t.Errorf("bodies %q %q", v.Bufs["request_body"], v.Bufs["response_body"])
	}
	if !hasEvent(v, "request_chunk_extension") || len(v.Events) != 1 {
		t.Errorf("events %v", v.Events)
	}
	if !strings.Contains(v.Bufs["header"], "X-Trailer: yes\r\n") {
		t.Errorf("trailer not in headers: %q", v.Bufs["header"])
	}
	// invalid chunk length, then the parser finds the next request
	req = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\ngarbage\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n"
	txs := checkSplits(t, nil, req, "")
	if len(txs) != 2 || !hasEvent(txs[0], "invalid_request_chunk_len") || txs[1].Bufs["uri"] != "/next" {
		t.Fatalf("resync after bad chunk: %v", txs)
	}
	v = feedAll(t, nil, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 0)[0]
	if !hasEvent(v, "response_chunked_old_proto") || v.Bufs["response_body"] != "x" {
		t.Errorf("old proto chunked: %s", v)
	}
	v = feedAll(t, nil, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 0)[0]
	if !hasEvent(v, "response_abnormal_transfer_encoding") {
		t.Errorf("abnormal te: %s", v)
	}
}

func gz(t testing.TB, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func deflateRaw(s string) string {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func zlibbed(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func respWith(ce, body string, chunked bool) string {
	h := "HTTP/1.1 200 OK\r\nContent-Encoding: " + ce + "\r\n"
	if chunked {
		return h + "Transfer-Encoding: chunked\r\n\r\n" + chunk(body) + "0\r\n\r\n"
	}
	return h + "Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}

func chunk(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := min(len(s), 7)
		b.WriteString(strings.ToLower(strings.TrimLeft(strings.ToUpper(hex(n)), "0")) + "\r\n" + s[:n] + "\r\n")
		s = s[n:]
	}
	return b.String()
}

func hex(n int) string {
	const d = "0123456789abcdef"
	s := ""
	for n > 0 {
		s = string(d[n&15]) + s
		n >>= 4
	}
	return s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestDecompression(t *testing.T) {
	text := strings.Repeat("the quick brown fox ", 50)
	req := "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, c := range []struct {
		name, ce, body string
		chunked        bool
		want           string
		events         []string
	}{
		{"gzip", "gzip", gz(t, text), false, text, nil},
		{"gzip chunked", "x-gzip", gz(t, text), true, text, nil},
		{"raw deflate", "deflate", deflateRaw(text), false, text, nil},
		{"zlib deflate", "deflate", zlibbed(text), true, text, nil},
		{"two layers", "deflate, gzip", gz(t, deflateRaw(text)), false, text, nil},
		{"three layers", "gzip, gzip, gzip", gz(t, gz(t, text)), false, text, []string{"too_many_encoding_layers"}},
		{"unknown coding", "br, gzip", gz(t, text), false, text, []string{"abnormal_ce_header"}},
		{"corrupt", "gzip", "not gzip at all", false, "not gzip at all", []string{"gzip_decompression_failed"}},
		{"truncated", "gzip", gz(t, text)[:40], false, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := checkSplits(t, nil, req, respWith(c.ce, c.body, c.chunked))[0]
			if c.name == "truncated" {
				if !strings.HasPrefix(text, v.Bufs["response_body"]) {
					t.Errorf("truncated body %q", v.Bufs["response_body"])
				}
			} else if v.Bufs["response_body"] != c.want {
				t.Errorf("body %q", v.Bufs["response_body"])
			}
			for _, e := range c.events {
				if !hasEvent(v, e) {
					t.Errorf("missing %s in %v", e, v.Events)
				}
			}
			if len(v.Events) != len(c.events) {
				t.Errorf("events %v, want %v", v.Events, c.events)
			}
		})
	}
	// bomb: 8 MiB of zeros compressed twice is a few hundred bytes
	bomb := gz(t, gz(t, strings.Repeat("\x00", 8<<20)))
	v := feedAll(t, nil, req, respWith("gzip, gzip", bomb, false), 0)[0]
	if !hasEvent(v, "compression_bomb") || len(v.Bufs["response_body"]) != DefaultBodyLimit {
		t.Errorf("bomb: events %v body %d", v.Events, len(v.Bufs["response_body"]))
	}
	// Request bodies are decoded only when asked.
	post := "POST / HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\nContent-Length: " + itoa(len(gz(t, "abc"))) + "\r\n\r\n" + gz(t, "abc")
	v = feedAll(t, &Config{DecompressRequests: true}, post, "", 0)[0]
	if v.Bufs["request_body"] != "abc" {
		t.Errorf("request decompression: %q", v.Bufs["request_body"])
	}
	v = feedAll(t, nil, post, "", 0)[0]
	if v.Bufs["request_body"] != gz(t, "abc") {
		t.Errorf("request body decoded without config")
	}
}

func TestMalformed(t *testing.T) {
	cases := []struct {
		name, req, resp string
		events          []string
	}{
		{"leading ws", "  GET / HTTP/1.1\r\nHost: h\r\n\r\n", "", []string{"request_line_leading_whitespace"}},
		{"method tab", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", "", []string{"method_delim_non_compliant"}},
		{"uri tab", "GET /\tHTTP/1.1\r\nHost: h\r\n\r\n", "", []string{"uri_delim_non_compliant"}},
		{"missing proto", "GET /\r\n", "", []string{"request_line_missing_protocol"}},
		{"method only", "GET\r\n", "", []string{"request_line_incomplete", "request_line_missing_protocol"}},
		{"bad proto", "GET / HTTP/x\r\nHost: h\r\n\r\n", "", []string{"request_line_invalid"}},
		{"bad cl", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12a\r\n\r\n", "", []string{"invalid_content_length_field_in_request"}},
		{"dup cl", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", "", []string{"duplicate_content_length_field_in_request", "request_header_repetition"}},
		{"bad te", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo\r\n\r\n", "", []string{"invalid_transfer_encoding_value_in_request"}},
		{"resp bad status", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", []string{"response_invalid_status"}},
		{"resp bad proto", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "FOO 200 OK\r\n\r\n", []string{"response_invalid_protocol"}},
		{"resp bad cl", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc", []string{"invalid_content_length_field_in_response"}},
		{"resp bad te", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: x\r\n\r\n", []string{"invalid_transfer_encoding_value_in_response"}},
		{"bad resp chunk", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", []string{"invalid_response_chunk_len"}},
		{"resp missing colon", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nbroken\r\nContent-Length: 0\r\n\r\n", []string{"response_field_missing_colon"}},
		{"two 100", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", []string{"100_continue_already_seen"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			txs := checkSplits(t, nil, c.req, c.resp)
			if len(txs) == 0 {
				t.Fatal("no tx")
			}
			v := txs[0]
			for _, e := range c.events {
				if !hasEvent(v, e) {
					t.Errorf("missing %s in %v", e, v.Events)
				}
			}
			if len(v.Events) != len(c.events) {
				t.Errorf("events %v, want %v", v.Events, c.events)
			}
		})
	}
}

func TestHTTP09AndContinue(t *testing.T) {
	v := checkSplits(t, nil, "GET /old\r\n", "<html>raw</html>")[0]
	if v.Bufs["uri"] != "/old" || v.Bufs["response_body"] != "<html>raw</html>\r\n" && v.Bufs["response_body"] != "<html>raw</html>" {
		t.Errorf("0.9: %s", v)
	}
	v = checkSplits(t, nil, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes")[0]
	if v.Bufs["stat_code"] != "200" || v.Bufs["response_body"] != "yes" || len(v.Events) != 0 {
		t.Errorf("continue: %s", v)
	}
	v = feedAll(t, nil, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n", 0)[1]
	if v.Bufs["stat_code"] != "304" {
		t.Errorf("HEAD body: %s", v)
	}
}

func TestTunnel(t *testing.T) {
	p := NewParser(nil)
	p.Feed(ToServer, []byte("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), false)
	resp := []byte("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01")
	n := p.Feed(ToClient, resp, false)
	if n != len(resp)-3 {
		t.Fatalf("consumed %d, want %d", n, len(resp)-3)
	}
	if p.Feed(ToServer, []byte("\x16\x03\x01"), false) != 0 {
		t.Fatal("tunnel data consumed")
	}
	tx := p.Pop()
	if tx == nil || string(tx.Host()) != "example.com" || tx.Port != 443 || string(tx.URI()) != "/" {
		t.Fatalf("connect tx: %+v", tx)
	}
}

func TestGap(t *testing.T) {
	p := NewParser(nil)
	p.Feed(ToServer, []byte("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab"), false)
	p.Feed(ToServer, make([]byte, 5), true)
	p.Feed(ToServer, []byte("xyz"), false)
	p.Feed(ToServer, []byte("GET /b HTTP/1.1\r\nHo"), false)
	p.Feed(ToServer, make([]byte, 100), true) // lost inside headers
	p.Feed(ToServer, []byte("junk\r\nmore junk\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n"), false)
	p.Close(ToClient)
	var uris []string
	for tx := p.Pop(); tx != nil; tx = p.Pop() {
		uris = append(uris, string(tx.URI()))
		if tx.ID == 0 && (string(tx.Request.Body()) != "abxyz" || !tx.Request.Gap || tx.Request.BodyLen != 10) {
			t.Errorf("gap body %q gap %v len %d", tx.Request.Body(), tx.Request.Gap, tx.Request.BodyLen)
		}
		if tx.ID == 1 && !tx.Request.Truncated {
			t.Error("tx cut by gap not truncated")
		}
	}
	if strings.Join(uris, " ") != "/a /b /c" {
		t.Errorf("uris %v", uris)
	}
}

func TestEventNames(t *testing.T) {
	for e := Event(0); e < NumEvents; e++ {
		got, ok := EventByName("http." + e.String())
		if !ok || got != e {
			t.Errorf("%d %s round trip", e, e)
		}
	}
	if NumEvents > 64 {
		t.Fatal("Events set too small")
	}
}

func TestReuseAndReset(t *testing.T) {
	p := AcquireParser(nil)
	for round := 0; round < 3; round++ {
		p.Feed(ToServer, []byte(simpleReq), false)
		p.Feed(ToClient, []byte(simpleResp), false)
		tx := p.Pop()
		if tx == nil || tx.ID != uint64(round) || string(tx.Response.Body()) != "hello" || string(tx.Host()) != "www.example.com" {
			t.Fatalf("round %d: %+v", round, tx)
		}
		p.Recycle(tx)
	}
	ReleaseParser(p)
	p = AcquireParser(&Config{ResponseBodyLimit: 2})
	p.Feed(ToServer, []byte(simpleReq), false)
	p.Feed(ToClient, []byte(simpleResp), false)
	tx := p.Pop()
	if tx == nil || tx.ID != 0 || string(tx.Response.Body()) != "he" {
		t.Fatalf("after reset: %+v", tx)
	}
	ReleaseParser(p)
}

func TestMaxTxs(t *testing.T) {
	p := NewParser(&Config{MaxTxs: 3})
	req := []byte(strings.Repeat("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 5))
	if n := p.Feed(ToServer, req, false); n != len(req) {
		t.Fatalf("consumed %d", n)
	}
	if len(p.Txs()) != 3 || !p.Txs()[2].Events.Has(EventUnknownError) {
		t.Fatalf("%d txs held", len(p.Txs()))
	}
	p.Feed(ToServer, req, false)
	if len(p.Txs()) != 3 {
		t.Fatalf("parsing went on: %d txs", len(p.Txs()))
	}
	p.Feed(ToClient, []byte(strings.Repeat("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4)), false)
	n := 0
	for tx := p.Pop(); tx != nil; tx = p.Pop() {
		n++
	}
	if n != 3 {
		t.Fatalf("popped %d", n)
	}
}

// An empty line right after a request (its body, or its headers when it
// has none) is data the request did not announce (libhtp: "Unexpected
// request body"); before the first request it is only skipped.
func TestRequestBodyUnexpected(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	txs := checkSplits(t, nil, "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\r\nGET /b HTTP/1.1\r\n\r\n", resp)
	if len(txs) != 2 || !hasEvent(txs[0], "request_body_unexpected") || hasEvent(txs[1], "request_body_unexpected") {
		t.Fatalf("txs %v", txs)
	}
	txs = checkSplits(t, nil, "\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n", resp)
	if len(txs) != 2 || hasEvent(txs[0], "request_body_unexpected") || hasEvent(txs[1], "request_body_unexpected") {
		t.Fatalf("txs %v", txs)
	}
}
