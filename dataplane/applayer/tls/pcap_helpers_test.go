package tls

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// pkt is the copy of a decoded packet's L4 facts a test needs.
type pkt struct {
	proto        uint8
	src, dst     netip.Addr
	sport, dport uint16
	seq          uint32
	flags        uint8
	payload      []byte
}

// readPcap decodes every packet of a capture file and returns the TCP and
// UDP ones.
func readPcap(t testing.TB, path string) []pkt {
	t.Helper()
	r, err := pcapfile.Open(path, pcapfile.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	d := decode.NewDecoder(decode.Options{})
	b := packet.NewBatch(64)
	var out []pkt
	for {
		err := r.Next(b)
		for _, p := range b.Pkts {
			d.Decode(p)
			if p.IPProto != packet.ProtoTCP && p.IPProto != packet.ProtoUDP {
				continue
			}
			out = append(out, pkt{
				proto: p.IPProto, src: p.SrcIP, dst: p.DstIP,
				sport: p.SrcPort, dport: p.DstPort, seq: p.TCPSeq, flags: p.TCPFlags,
				payload: append([]byte(nil), p.Payload()...),
			})
		}
		r.Done(b)
		if errors.Is(err, capture.ErrEndOfInput) {
			return out
		}
		if err != nil {
			// Some shared captures end in a cut record: keep what was read.
			t.Logf("read %s: %v", path, err)
			return out
		}
	}
}
