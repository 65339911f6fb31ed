package decode

import (
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// After a payload rewrite, FixTCPChecksum makes the segment valid again.
func TestFixTCPChecksum(t *testing.T) {
	frame := tcpv4Frame(t, []byte("GOOD DATA"))
	d := NewDecoder(Options{Checksums: true})
	p := &packet.Packet{Data: frame, LinkType: packet.LinkEthernet}
	d.Decode(p)
	if p.Flags&packet.FlagL4CsumBad != 0 {
		t.Fatal("built frame has a bad checksum")
	}
	copy(p.Payload(), "EVIL")
	q := &packet.Packet{Data: frame, LinkType: packet.LinkEthernet}
	d.Decode(q)
	if q.Flags&packet.FlagL4CsumBad == 0 {
		t.Fatal("rewritten payload still passes the checksum: the test cannot fail")
	}
	FixTCPChecksum(q)
	r := &packet.Packet{Data: frame, LinkType: packet.LinkEthernet}
	d.Decode(r)
	if r.Flags&packet.FlagL4CsumBad != 0 {
		t.Fatal("checksum still bad after FixTCPChecksum")
	}
}
