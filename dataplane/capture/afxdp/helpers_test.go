//go:build linux

package afxdp

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

func newTestBatch(n int) *packet.Batch { return packet.NewBatch(n) }

// checkPacket checks what Next promises about a packet: Data is the frame
// at Handle inside the UMEM, within one frame, with nothing left over from
// earlier use of the slot.
func checkPacket(t testing.TB, s *Source, p *packet.Packet) {
	t.Helper()
	if err := packetError(s, p); err != nil {
		t.Fatal(err)
	}
}

func packetError(s *Source, p *packet.Packet) error {
	end := p.Handle + uint64(len(p.Data))
	if end > s.u.size || p.Handle>>s.u.shift != (end-1)>>s.u.shift && len(p.Data) > 0 {
		return fmt.Errorf("packet %d: Data [%#x, %#x) leaves its frame or the UMEM", p.Num, p.Handle, end)
	}
	if len(p.Data) > 0 && unsafe.Pointer(&p.Data[0]) != unsafe.Pointer(&s.u.mem[p.Handle]) {
		return fmt.Errorf("packet %d: Data does not point at its UMEM frame", p.Num)
	}
	if cap(p.Data) != len(p.Data) || p.WireLen != len(p.Data) || p.LinkType != packet.LinkEthernet ||
		p.Origin != packet.OriginWire || p.TimeNs == 0 || p.Num == 0 {
		return fmt.Errorf("packet %d: bad fields: cap %d len %d wire %d link %d origin %d time %d",
			p.Num, cap(p.Data), len(p.Data), p.WireLen, p.LinkType, p.Origin, p.TimeNs)
	}
	if p.Flags != 0 || p.L3Off != 0 || p.NumEvents != 0 || p.Verdict != 0 || p.FlowHash != 0 {
		return fmt.Errorf("packet %d: stale decoded fields", p.Num)
	}
	if s.Side(p) < 0 {
		return fmt.Errorf("packet %d: frame not lent out", p.Num)
	}
	return nil
}
