package tls

import (
	"fmt"
	"github.com/vigil-ids/vigil/internal/testpcap"
	"net/netip"
	"path/filepath"
	"testing"
)

type flowKey struct {
	a, b netip.AddrPort // a: client (sent the SYN)
}

// tcpFlow is a crude in-order reassembler: it keeps data that arrives at
// the expected sequence number, trims retransmitted bytes and stops a
// direction at the first gap.
type tcpFlow struct {
	next   [2]uint32
	synced [2]bool
	gap    [2]bool
	p      *Parser
}

const (
	flagFIN = 0x01
	flagSYN = 0x02
)

func (f *tcpFlow) segment(dir Direction, k testpcap.L4) {
	if k.Flags&flagSYN != 0 {
		f.next[dir] = k.Seq + 1
		f.synced[dir] = true
		return
	}
	if !f.synced[dir] || f.gap[dir] || len(k.Payload) == 0 {
		return
	}
	data := k.Payload
	off := int32(k.Seq - f.next[dir])
	if off > 0 {
		f.gap[dir] = true // lost or out-of-order segment: give up
		return
	}
	if -off >= int32(len(data)) {
		return // retransmission
	}
	data = data[-off:]
	f.next[dir] += uint32(len(data))
	f.p.Feed(dir, data)
}

// TestSharedPcaps parses the TLS flows (port 443) of the shared captures:
// every flow seen from its SYN that starts with a ClientHello parses
// without a record-layer failure, and
// the ClientHellos yield SNIs.
func TestSharedPcaps(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/pcaps/*.pcap*")
	if len(files) == 0 {
		t.Skip("no shared pcaps")
	}
	totalSNI := 0
	for _, file := range files {
		flows := map[flowKey]*tcpFlow{}
		var order []*tcpFlow
		for _, k := range testpcap.L4Packets(t, file) {
			if k.Proto != 6 || (k.SPort != 443 && k.DPort != 443) {
				continue
			}
			src, dst := netip.AddrPortFrom(k.Src, k.SPort), netip.AddrPortFrom(k.Dst, k.DPort)
			dir := ToServer
			key := flowKey{src, dst}
			if k.SPort == 443 {
				dir, key = ToClient, flowKey{dst, src}
			}
			f := flows[key]
			if f == nil {
				if k.Flags&flagSYN == 0 || dir != ToServer {
					continue // flows must start with the client's SYN
				}
				f = &tcpFlow{p: NewParser(Options{})}
				flows[key] = f
				order = append(order, f)
			}
			f.segment(dir, k)
		}
		snis, hellos, certs, enc, failed, gaps := 0, 0, 0, 0, 0, 0
		var versions = map[string]int{}
		for _, f := range order {
			p := f.p
			if p.ClientHello.Present {
				hellos++
				if len(p.ClientHello.SNI) > 0 {
					snis++
				}
			}
			certs += len(p.Certificates)
			for _, c := range p.Certificates {
				if c.Err != nil {
					t.Errorf("%s: %v", filepath.Base(file), c.Err)
				}
			}
			if p.Encrypted() {
				enc++
			}
			if f.gap[0] || f.gap[1] {
				gaps++
			}
			if p.State(ToServer) == StateFailed || p.State(ToClient) == StateFailed {
				failed++
				if !p.ClientHello.Present {
					// e.g. a server alert with record version 0x0000 to
					// a client that sent no hello: an anomaly, reported.
					t.Logf("%s: non-TLS flow: events %s", filepath.Base(file), eventList(p.Events))
					continue
				}
				t.Errorf("%s: flow failed: events %s\n%s", filepath.Base(file), eventList(p.Events), summary(p))
			}
			if p.ServerHello.Present {
				versions[VersionString(p.Version())]++
			}
		}
		t.Logf("%s: %d flows, %d client hellos, %d SNIs, %d certificates, %d encrypted, %d failed, %d with gaps, versions %v",
			filepath.Base(file), len(order), hellos, snis, certs, enc, failed, gaps, versions)
		totalSNI += snis
	}
	if totalSNI == 0 {
		t.Error("no SNI found in the shared pcaps")
	}
}

// Example of the values one flow yields, for the EVE writer.
func ExampleParser() {
	p := NewParser(Options{})
	p.Feed(ToServer, clientHello(0x0303, []uint16{0x1301, 0xc02f}, []ext{{ExtServerName, sniExt("vigil.example")}}))
	fmt.Println(string(p.ClientHello.SNI))
	fmt.Println(string(p.ClientHello.JA3))
	fmt.Println(string(p.ClientHello.JA4[:10]))
	// Output:
	// vigil.example
	// 771,4865-49199,0,,
	// t12d020100
}
