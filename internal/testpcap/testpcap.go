// Package testpcap reads capture files for tests: every frame, or the
// decoded TCP and UDP packets, through the project's own pcap reader and
// decoder. Captures that end in a cut record (some of ../shared/pcaps do)
// give what was read before the damage, with a log line.
package testpcap

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Frame is one captured frame, copied out of the reader's buffer.
type Frame struct {
	Data   []byte
	Link   packet.LinkType
	TimeNs int64
}

// Frames returns every frame of the capture at path.
func Frames(t testing.TB, path string) []Frame {
	t.Helper()
	var out []Frame
	each(t, path, func(p *packet.Packet) {
		out = append(out, Frame{Data: append([]byte(nil), p.Data...), Link: p.LinkType, TimeNs: p.TimeNs})
	})
	return out
}

// L4 is what a test needs of a decoded TCP or UDP packet.
type L4 struct {
	Proto        uint8
	Src, Dst     netip.Addr
	SPort, DPort uint16
	Seq          uint32
	Flags        uint8
	Payload      []byte
}

// L4Packets decodes the capture at path and returns its TCP and UDP
// packets.
func L4Packets(t testing.TB, path string) []L4 {
	t.Helper()
	d := decode.NewDecoder(decode.Options{})
	var out []L4
	each(t, path, func(p *packet.Packet) {
		d.Decode(p)
		if p.IPProto != packet.ProtoTCP && p.IPProto != packet.ProtoUDP {
			return
		}
		out = append(out, L4{
			Proto: p.IPProto, Src: p.SrcIP, Dst: p.DstIP,
			SPort: p.SrcPort, DPort: p.DstPort, Seq: p.TCPSeq, Flags: p.TCPFlags,
			Payload: append([]byte(nil), p.Payload()...),
		})
	})
	return out
}

func each(t testing.TB, path string, fn func(*packet.Packet)) {
	t.Helper()
	r, err := pcapfile.Open(path, pcapfile.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	b := packet.NewBatch(64)
	for {
		err := r.Next(b)
		for _, p := range b.Pkts {
			fn(p)
		}
		r.Done(b)
		if errors.Is(err, capture.ErrEndOfInput) {
			return
		}
		if err != nil {
			t.Logf("read %s: %v (keeping what came before)", path, err)
			return
		}
	}
}
