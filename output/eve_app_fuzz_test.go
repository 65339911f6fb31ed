package output

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/applayer/dns"
	"github.com/vigil-ids/vigil/dataplane/applayer/http"
	"github.com/vigil-ids/vigil/dataplane/applayer/tls"
)

// FuzzAppRecordsJSON feeds arbitrary bytes to the HTTP, DNS and TLS
// parsers and checks that every record written from what they produce is
// one line of valid JSON.
func FuzzAppRecordsJSON(f *testing.F) {
	f.Add([]byte(httpReq), []byte(httpResp), []byte{})
	f.Add([]byte("GET /\xff\x00\"\\ HTTP/1.1\r\nHost: [::1]:81\r\nUser-Agent: \xc3\x28\r\n\r\n"),
		[]byte("HTTP/1.1 99999999999999999999999 x\r\nContent-Range: bytes */5\r\nLocation: \x01\r\n\r\n"), []byte{})
	f.Add([]byte{}, []byte{}, dnsWire(9, 0x8583, 1, 1, 0, 1, dnsName("a\xff"), u16b(1), u16b(1),
		rr(dnsName("a\xff"), 16, 1, []byte("\x02\xfe\""))))
	f.Add(rawClientHello([]byte{1, 2}, "sni\xff\"x"), rawServerHello([]byte{1, 2}), []byte{})
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		p := tcp4Packet(t, nil)
		u := udp4Packet(t, nil)
		var out bytes.Buffer
		e := NewEVE(&out, EVEConfig{HTTPRequestHeaders: true, HTTPResponseHeaders: true, JA3: true, JA4: true,
			TLSCustom: ^TLSField(0), AnomalyDecode: true})

		hp := http.NewParser(nil)
		hp.Feed(http.ToServer, a, false)
		hp.Feed(http.ToClient, b, false)
		hp.Close(http.ToServer)
		hp.Close(http.ToClient)
		for _, tx := range hp.Txs() {
			if err := e.HTTP(p, 1, &clientFlow, tx); err != nil {
				t.Fatal(err)
			}
			al := AlertInfo{HasTx: true, HTTP: tx}
			e.Alert(p, 1, &al)
		}
		m, _ := dns.NewParser(nil).ParseUDP(dns.ToClient, c)
		if err := e.DNS(u, 1, nil, m, 0); err != nil {
			t.Fatal(err)
		}
		tp := tls.NewParser(tls.Options{})
		tp.Feed(tls.ToServer, a)
		tp.Feed(tls.ToClient, b)
		if err := e.TLS(p, 1, nil, tp); err != nil {
			t.Fatal(err)
		}
		an := AnomalyInfo{Type: AnomalyAppLayer, Event: string(a), Layer: string(b), AppProto: string(c)}
		e.Anomaly(p, 1, &an)
		e.Flush()
		for _, line := range bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte{'\n'}), []byte{'\n'}) {
			if len(line) == 0 && out.Len() == 0 {
				continue
			}
			if !json.Valid(line) {
				t.Fatalf("invalid JSON line: %q", line)
			}
		}
	})
}
