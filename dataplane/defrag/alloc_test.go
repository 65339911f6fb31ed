package defrag

import (
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// threeFrags is an Ethernet TCP datagram of 1400 payload bytes in three fragments.
func threeFrags() [][]byte {
	seg := tcpSegment(40000, 80, packet.TCPAck|packet.TCPPsh, fill('p', 1380)) // 1400 bytes
	return [][]byte{
		ether(ipv4Frag(77, 0, true, packet.ProtoTCP, seg[:480])),
		ether(ipv4Frag(77, 480, true, packet.ProtoTCP, seg[480:960])),
		ether(ipv4Frag(77, 960, false, packet.ProtoTCP, seg[960:])),
	}
}

func runThree(h *harness, frames [][]byte) bool {
	done := false
	for _, f := range frames {
		h.in = packet.Packet{Data: f, LinkType: packet.LinkEthernet, TimeNs: h.ns}
		h.dec.Decode(&h.in)
		done = h.r.Process(&h.in, &h.out)
	}
	return done
}

func TestNoAllocsWhenWarm(t *testing.T) {
	h := newHarness(t, Config{})
	frames := threeFrags()
	ov := [][]byte{frames[0], frames[2], frames[0], frames[1]} // with a duplicate: the overlap path
	for i := 0; i < 10; i++ {
		runThree(h, frames)
		runThree(h, ov)
	}
	if a := testing.AllocsPerRun(200, func() {
		if !runThree(h, frames) {
			t.Fatal("not reassembled")
		}
	}); a != 0 {
		t.Errorf("%v allocs per in-order datagram, want 0", a)
	}
	if a := testing.AllocsPerRun(200, func() {
		if !runThree(h, ov) {
			t.Fatal("not reassembled")
		}
	}); a != 0 {
		t.Errorf("%v allocs per overlapping datagram, want 0", a)
	}
}

func BenchmarkInOrder3Frags(b *testing.B) {
	h := newHarness(b, Config{})
	frames := threeFrags()
	runThree(h, frames)
	b.ReportAllocs()
	b.SetBytes(1400)
	b.ResetTimer()
	for b.Loop() {
		if !runThree(h, frames) {
			b.Fatal("not reassembled")
		}
	}
}

func BenchmarkOverlap4Frags(b *testing.B) {
	h := newHarness(b, Config{})
	f := threeFrags()
	frames := [][]byte{f[0], f[2], f[0], f[1]}
	runThree(h, frames)
	b.ReportAllocs()
	b.SetBytes(1400)
	b.ResetTimer()
	for b.Loop() {
		if !runThree(h, frames) {
			b.Fatal("not reassembled")
		}
	}
}
