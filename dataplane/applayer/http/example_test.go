package http_test

import (
	"fmt"

	"github.com/vigil-ids/vigil/dataplane/applayer/http"
)

func Example() {
	p := http.AcquireParser(nil)
	defer http.ReleaseParser(p)

	p.Feed(http.ToServer, []byte("GET /a/../b%2Fc HTTP/1.1\r\nHost: Example.com:8080\r\n\r\n"), false)
	p.Feed(http.ToClient, []byte("HTTP/1.1 200 OK\r\nServer: demo\r\nContent-Length: 2\r\n\r\nhi"), false)
	for tx := p.Pop(); tx != nil; tx = p.Pop() {
		fmt.Printf("tx %d %s %s host=%s status=%s server=%s body=%q events=%d\n",
			tx.ID, tx.Method(), tx.URI(), tx.Host(), tx.StatCode(),
			tx.Buffer(http.BufServer), tx.Response.Body(), tx.Events.Len())
		p.Recycle(tx)
	}
	// Output:
	// tx 0 GET /b/c host=example.com status=200 server=demo body="hi" events=0
}
