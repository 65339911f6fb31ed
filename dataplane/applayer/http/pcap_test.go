package http

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// conn is a crude TCP reassembly of one connection: in-order delivery per
// direction, overlaps trimmed, holes reported as gaps.
type conn struct {
	p       *Parser
	next    [2]uint32
	seen    [2]bool
	clientA string // endpoint that opened the connection
	txs     int
	events  map[string]int
	uris    []string
}

func (c *conn) pop() {
	for tx := c.p.Pop(); tx != nil; tx = c.p.Pop() {
		c.txs++
		for _, e := range tx.Events.List(nil) {
			c.events[e.String()]++
		}
		c.uris = append(c.uris, string(tx.Method())+" "+string(tx.URI())+" "+string(tx.StatCode()))
		c.p.Recycle(tx)
	}
}

func (c *conn) segment(dir Dir, seq uint32, syn, fin bool, data []byte) {
	if syn {
		c.next[dir] = seq + 1
		c.seen[dir] = true
		return
	}
	if !c.seen[dir] {
		c.next[dir] = seq
		c.seen[dir] = true
	}
	d := int32(seq - c.next[dir])
	switch {
	case d < 0:
		if int(-d) >= len(data) {
			data = nil
		} else {
			data = data[-d:]
		}
	case d > 0:
		c.p.Feed(dir, make([]byte, d), true)
		c.next[dir] += uint32(d)
	}
	if len(data) > 0 {
		c.p.Feed(dir, data, false)
		c.next[dir] += uint32(len(data))
	}
	if fin {
		c.p.Close(dir)
	}
	c.pop()
}

func httpPort(p layers.TCPPort) bool { return p == 80 || p == 8080 }

func readPcap(t *testing.T, name string, each func(data []byte)) {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Skipf("%s: not a little-endian Ethernet pcap", name)
	}
	for off := 24; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		off += 16
		if off+n > len(b) {
			t.Fatalf("%s: record at %d runs past the end", name, off)
		}
		each(b[off : off+n])
		off += n
	}
}

func TestSharedPcaps(t *testing.T) {
	runPcaps(t, true, "/work/shared/pcaps/sv-http-*.pcap", "/work/shared/pcaps/zeek-206_example_b.pcap")
}

// TestMixedPcaps parses the HTTP of captures with mixed, sometimes odd
// traffic (port 80 is not always HTTP there): it must not panic and must
// find transactions; events are only logged.
func TestMixedPcaps(t *testing.T) {
	runPcaps(t, false, "/work/shared/pcaps/ndpi-1kxun.pcap", "/work/shared/pcaps/ndpi-netflix.pcap")
}

func runPcaps(t *testing.T, strict bool, globs ...string) {
	var files []string
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no shared pcaps")
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			conns := map[string]*conn{}
			var order []*conn
			readPcap(t, name, func(data []byte) {
				pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
				tl, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
				nl := pkt.NetworkLayer()
				if tl == nil || nl == nil {
					return
				}
				if !strict && !httpPort(tl.SrcPort) && !httpPort(tl.DstPort) {
					return
				}
				src := fmt.Sprintf("%v:%d", nl.NetworkFlow().Src(), tl.SrcPort)
				dst := fmt.Sprintf("%v:%d", nl.NetworkFlow().Dst(), tl.DstPort)
				key := src + "-" + dst
				if dst < src {
					key = dst + "-" + src
				}
				c := conns[key]
				if c == nil {
					if tl.RST {
						return
					}
					client := src
					if !tl.SYN && (tl.SrcPort == 80 || tl.SrcPort == 8080) {
						client = dst
					}
					if tl.SYN && tl.ACK {
						client = dst
					}
					c = &conn{p: NewParser(nil), clientA: client, events: map[string]int{}}
					conns[key] = c
					order = append(order, c)
				}
				dir := ToServer
				if src != c.clientA {
					dir = ToClient
				}
				c.segment(dir, tl.Seq, tl.SYN, tl.FIN, tl.Payload)
			})
			total := 0
			events := map[string]int{}
			for _, c := range order {
				c.p.Close(ToServer)
				c.p.Close(ToClient)
				c.pop()
				total += c.txs
				for e, n := range c.events {
					events[e] += n
				}
			}
			var ev []string
			for e, n := range events {
				ev = append(ev, fmt.Sprintf("%s:%d", e, n))
			}
			sort.Strings(ev)
			t.Logf("%d connections, %d transactions, events %v", len(order), total, ev)
			if testing.Verbose() && os.Getenv("HTTP_PCAP_DUMP") != "" {
				for _, c := range order {
					t.Logf("%s: %v %v", c.clientA, c.uris, c.events)
				}
			}
			if len(order) > 0 && len(order[0].uris) > 0 {
				t.Logf("first: %v", order[0].uris[:min(3, len(order[0].uris))])
			}
			if total == 0 {
				t.Fatal("no transactions")
			}
			// Real traffic from these captures is well formed.
			if !strict {
				return
			}
			for _, bad := range []string{"request_line_invalid", "response_invalid_protocol", "response_invalid_status",
				"invalid_request_chunk_len", "invalid_response_chunk_len", "request_field_missing_colon",
				"response_field_missing_colon", "unable_to_match_response_to_request", "gzip_decompression_failed"} {
				if events[bad] > 0 {
					t.Errorf("%d %s events", events[bad], bad)
				}
			}
		})
	}
}
