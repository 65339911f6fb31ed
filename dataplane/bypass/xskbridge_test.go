package bypass

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// TestXSKRedirectBridge: in a bridge with RedirectToXSK both interfaces
// share one XSKMap, each at its own offset (the program looks it up by
// ingress ifindex): every frame that is not bypassed reaches the AF_XDP
// socket of the interface it arrived on, none the other's; a bypassed
// flow's frames reach neither and leave through the peer interface
// (devmap), in both directions. Namespaces and veths are named vxc*.
func TestXSKRedirectBridge(t *testing.T) {
	requireLive(t)
	for _, xmode := range []XDPMode{XDPDriver, XDPGeneric} {
		t.Run(xmode.String(), func(t *testing.T) {
			id := newID()
			outer, mid := "vxc"+id+"o", "vxc"+id+"m"
			a, b, ta, tb := "vxc"+id+"a", "vxc"+id+"b", "vxc"+id+"ta", "vxc"+id+"tb"
			addNetns(t, outer)
			addNetns(t, mid)
			for _, pair := range [][2]string{{a, ta}, {b, tb}} {
				// One queue each way: the test sockets serve queue 0.
				sh(t, "ip", "-n", mid, "link", "add", pair[0], "numtxqueues", "1", "numrxqueues", "1", "type", "veth",
					"peer", "name", pair[1], "netns", outer, "numtxqueues", "1", "numrxqueues", "1")
				sh(t, "ip", "-n", outer, "link", "set", "dev", pair[1], "up")
				sh(t, "ip", "-n", mid, "link", "set", "dev", pair[0], "up")
				noOffloads(t, outer, pair[1])
				noOffloads(t, mid, pair[0])
				// GRO gives the outer veth the NAPI it needs to receive
				// frames redirected into its peer in driver mode.
				sh(t, "ip", "netns", "exec", outer, "ethtool", "-K", pair[1], "gro", "on")
			}
			prog := loadInNetns(t, mid, Options{Interfaces: []string{a, b}, Mode: ModeBridge, XDPMode: xmode,
				RedirectToXSK: true, MaxFlows: 64})
			as := prog.Attachments()
			if as[0].XSKOffset != 0 || as[1].XSKOffset != 1 || prog.XSKMap().MaxEntries() != 2 {
				t.Fatalf("offsets %d, %d; XSKMap of %d slots", as[0].XSKOffset, as[1].XSKOffset, prog.XSKMap().MaxEntries())
			}
			xa, xb := openTestXSK(t, mid, a), openTestXSK(t, mid, b)
			for _, x := range []struct {
				sock *testXSK
				key  uint32
			}{{xa, as[0].XSKOffset}, {xb, as[1].XSKOffset}} {
				if err := prog.XSKMap().Update(x.key, uint32(x.sock.fd), 0); err != nil {
					t.Fatalf("insert AF_XDP socket at %d: %v", x.key, err)
				}
			}
			var fdA, fdB int
			mustInNetns(t, outer, func() error {
				var err error
				if fdA, err = openPacketSocket(ta); err != nil {
					return err
				}
				fdB, err = openPacketSocket(tb)
				return err
			})
			defer unix.Close(fdA)
			defer unix.Close(fdB)

			fromA := FlowKey{Src: mustAddr("198.51.100.1"), Dst: mustAddr("198.51.100.2"), SrcPort: 1000, DstPort: 80, Proto: packet.ProtoTCP}
			fromB := FlowKey{Src: mustAddr("2001:db8::2"), Dst: mustAddr("2001:db8::1"), SrcPort: 53, DstPort: 2000, Proto: packet.ProtoUDP}
			byp := FlowKey{Src: mustAddr("198.51.100.7"), Dst: mustAddr("198.51.100.8"), SrcPort: 4000, DstPort: 443, Proto: packet.ProtoTCP}
			if err := prog.Add(byp); err != nil {
				t.Fatal(err)
			}
			send := func(fd int, k FlowKey, n int) {
				f := buildFrame(t, frameSpec{key: k, payload: 64})
				for range n {
					if _, err := unix.Write(fd, f); err != nil {
						t.Fatalf("inject: %v", err)
					}
				}
			}
			const n = 25 // below the test sockets' ring size
			// The interfaces' own IPv6 chatter (router solicitations,
			// MLD) may have missed the sockets before they were in.
			s0, _ := prog.Stats()
			send(fdA, fromA, n)
			send(fdB, fromB, n)
			send(fdA, byp, n)
			send(fdB, byp.Reverse(), n)
			seenA, seenB := xa.drain(), xb.drain()
			if seenA[fromA] != n || seenA[fromB] != 0 || seenB[fromB] != n || seenB[fromA] != 0 {
				t.Errorf("AF_XDP sockets: A got %d of A's and %d of B's frames, B got %d of B's and %d of A's; want %d, 0, %d, 0",
					seenA[fromA], seenA[fromB], seenB[fromB], seenB[fromA], n, n)
			}
			if seenA[byp]+seenA[byp.Reverse()]+seenB[byp]+seenB[byp.Reverse()] != 0 {
				t.Errorf("bypassed frames reached the AF_XDP sockets: A %v, B %v", seenA, seenB)
			}
			outB, outA := drainCapture(t, fdB), drainCapture(t, fdA)
			if outB[byp] != n || outA[byp.Reverse()] != n {
				t.Errorf("bypassed flow: %d of %d frames left through B, %d of %d (reverse) through A", outB[byp], n, outA[byp.Reverse()], n)
			}
			// That chatter goes to the sockets too.
			s, _ := prog.Stats()
			if s.ToXSK-s0.ToXSK < 2*n || s.XSKMiss != s0.XSKMiss || s.BypassPackets != 2*n || s.NoPeer != 0 {
				t.Errorf("stats %+v, before sending %+v", s, s0)
			}
		})
	}
}
