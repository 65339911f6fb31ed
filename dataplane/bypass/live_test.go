package bypass

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

const (
	downloadSize = 50 << 20
	bypassAfter  = 10 << 20 // client bytes read before the flow is bypassed
)

// TestBridgeDownload: a TCP download crosses the bridge, first through the
// user-space forwarder, then bypassed in XDP part way. After the bypass the
// forwarder sees no packet of the flow except FIN/RST, the file arrives
// intact, and the kernel counters account for the bypassed bytes.
func TestBridgeDownload(t *testing.T) {
	requireLive(t)
	for _, c := range []struct {
		name  string
		fam6  bool
		vlan  bool
		xmode XDPMode
	}{
		{"ipv4", false, false, XDPDriver},
		{"ipv6", true, false, XDPDriver},
		{"ipv4-vlan", false, true, XDPDriver},
		{"ipv6-vlan-generic", true, true, XDPGeneric},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := newBridgeTopo(t, bridgeOpts{outer: "xdp", vlan: c.vlan})
			prog := loadInNetns(t, tp.m, Options{Interfaces: []string{tp.a, tp.b}, Mode: ModeBridge, XDPMode: c.xmode, MaxFlows: 1024})
			for _, a := range prog.Attachments() {
				if a.Mode != c.xmode {
					t.Errorf("%s attached in %s mode, want %s", a.Interface, a.Mode, c.xmode)
				}
			}
			fwd := startForwarder(t, tp.m, tp.a, tp.b)
			cl, sv := tp.c4, tp.s4
			if c.fam6 {
				cl, sv = tp.c6, tp.s6
			}
			var vlan [2]uint16
			if c.vlan {
				vlan[0] = testVLAN
			}
			runDownload(t, tp, prog, fwd, cl, sv, vlan)
		})
	}
}

func runDownload(t *testing.T, tp *bridgeTopo, prog *Program, fwd *packetForwarder, cl, sv netip.Addr, vlan [2]uint16) {
	// Server: sends downloadSize pseudo-random bytes and closes.
	var ln net.Listener
	mustInNetns(t, tp.s, func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(sv, 0).String())
		return err
	})
	defer ln.Close()
	srv := ln.Addr().(*net.TCPAddr).AddrPort()
	srv = netip.AddrPortFrom(srv.Addr().Unmap(), srv.Port())
	fwd.watch.Store(&srv) // before the first data segment can cross
	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	served := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Minute))
		h := sha256.New()
		rng := rand.NewChaCha8([32]byte{1, 2, 3})
		buf := make([]byte, 64<<10)
		var n int64
		for n < downloadSize {
			rng.Read(buf)
			w, err := c.Write(buf)
			h.Write(buf[:w])
			n += int64(w)
			if err != nil {
				served <- result{n: n, err: err}
				return
			}
		}
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.n = n
		served <- r
	}()

	var conn net.Conn
	mustInNetns(t, tp.c, func() error {
		var err error
		conn, err = net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
		return err
	})
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Minute))
	la := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	ra := conn.RemoteAddr().(*net.TCPAddr).AddrPort()
	key := FlowKey{Src: la.Addr().Unmap(), Dst: ra.Addr().Unmap(), SrcPort: la.Port(), DstPort: ra.Port(),
		Proto: packet.ProtoTCP, VLAN: vlan}

	var progress atomic.Int64
	received := make(chan result, 1)
	go func() {
		h := sha256.New()
		buf := make([]byte, 256<<10)
		var n int64
		for {
			r, err := conn.Read(buf)
			h.Write(buf[:r])
			n += int64(r)
			progress.Store(n)
			if err == io.EOF {
				var res result
				copy(res.sum[:], h.Sum(nil))
				res.n = n
				received <- res
				return
			}
			if err != nil {
				received <- result{n: n, err: err}
				return
			}
		}
	}()

	if !waitFor(60*time.Second, func() bool { return progress.Load() >= bypassAfter }) {
		t.Fatalf("download stuck at %d bytes before the bypass (forwarder %d/%d frames)",
			progress.Load(), fwd.dir[0].frames.Load(), fwd.dir[1].frames.Load())
	}
	before, err := prog.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := prog.Add(key); err != nil {
		t.Fatalf("Add(%v): %v", key, err)
	}
	atAdd := progress.Load()
	sendMarker(t, tp.c, sv)
	sendMarker(t, tp.s, cl)
	if !waitFor(10*time.Second, func() bool { return fwd.dir[0].marker.Load() && fwd.dir[1].marker.Load() }) {
		t.Fatalf("markers not seen by the forwarder: A->B %v, B->A %v", fwd.dir[0].marker.Load(), fwd.dir[1].marker.Load())
	}
	fwdPktsAtMarker := fwd.dir[1].flowPkts.Load()

	var got, want result
	select {
	case got = <-received:
	case <-time.After(3 * time.Minute):
		t.Fatalf("download did not finish: %d bytes", progress.Load())
	}
	want = <-served
	if want.err != nil || got.err != nil {
		t.Fatalf("server: %d bytes, %v; client: %d bytes, %v", want.n, want.err, got.n, got.err)
	}
	if got.n != downloadSize || got.sum != want.sum {
		t.Fatalf("download corrupt: %d bytes (want %d), sha256 %x (want %x)", got.n, downloadSize, got.sum, want.sum)
	}
	// Close the client too and let the close handshake (FIN/ACK through
	// the forwarder) finish.
	conn.Close()
	waitFor(5*time.Second, func() bool { return fwd.dir[0].ctlAfter.Load() > 0 && fwd.dir[1].ctlAfter.Load() > 0 })
	time.Sleep(100 * time.Millisecond)

	c2s, s2c := &fwd.dir[0], &fwd.dir[1]
	t.Logf("client had %d bytes at Add; forwarder: flow %d/%d frames (c->s/s->c), %d s->c frames before the marker; after the marker %d/%d data frames, %d/%d FIN/RST",
		atAdd, c2s.flowPkts.Load(), s2c.flowPkts.Load(), fwdPktsAtMarker,
		c2s.afterMarker.Load(), s2c.afterMarker.Load(), c2s.ctlAfter.Load(), s2c.ctlAfter.Load())
	if n := c2s.afterMarker.Load() + s2c.afterMarker.Load(); n != 0 {
		t.Errorf("user space saw %d packets of the bypassed flow (other than FIN/RST)", n)
	}
	if c2s.ctlAfter.Load() == 0 || s2c.ctlAfter.Load() == 0 {
		t.Errorf("user space saw %d/%d FIN/RST of the bypassed flow, want both FINs", c2s.ctlAfter.Load(), s2c.ctlAfter.Load())
	}
	for i := range fwd.dir {
		if n := fwd.dir[i].csumPartial.Load() + fwd.dir[i].sendErrs.Load(); n != 0 {
			t.Errorf("forwarder dir %d: %d frames with partial checksum or failed send", i, n)
		}
	}

	// Kernel counters: the server->client direction carried the payload the
	// forwarder did not.
	fc, rc, err := prog.CountersByDirection(key)
	if err != nil {
		t.Fatalf("CountersByDirection: %v", err)
	}
	after, _ := prog.Stats()
	hdr := uint64(14 + 20 + 32) // Ethernet, IPv4, TCP with timestamps
	if key.Is6() {
		hdr += 20
	}
	if vlan[0] != 0 {
		hdr += 4
	}
	kernelPayload := rc.Bytes - rc.Packets*hdr
	userPayload := s2c.flowPayload.Load()
	t.Logf("kernel: c->s %d packets %d bytes; s->c %d packets %d bytes = %d payload bytes; user-space payload %d; total %d of %d",
		fc.Packets, fc.Bytes, rc.Packets, rc.Bytes, kernelPayload, userPayload, kernelPayload+userPayload, downloadSize)
	if rc.Packets == 0 || kernelPayload < downloadSize/2 {
		t.Errorf("kernel carried only %d payload bytes in %d packets", kernelPayload, rc.Packets)
	}
	if tot := kernelPayload + userPayload; tot < downloadSize || tot > downloadSize+downloadSize/20 {
		t.Errorf("kernel %d + user space %d payload bytes = %d, want %d (+ retransmissions)", kernelPayload, userPayload, tot, downloadSize)
	}
	if d := after.BypassPackets - before.BypassPackets; d != fc.Packets+rc.Packets {
		t.Errorf("Stats.BypassPackets grew by %d, flow counters say %d", d, fc.Packets+rc.Packets)
	}
	if d := after.BypassBytes - before.BypassBytes; d != fc.Bytes+rc.Bytes {
		t.Errorf("Stats.BypassBytes grew by %d, flow counters say %d", d, fc.Bytes+rc.Bytes)
	}
	if after.FlowEnds == 0 {
		t.Errorf("Stats.FlowEnds = 0 after the flow closed")
	}
	if d := time.Since(rc.LastSeen); d < 0 || d > 30*time.Second {
		t.Errorf("last seen %v (%v ago)", rc.LastSeen, d)
	}
	if err := prog.Delete(key); err != nil {
		t.Fatal(err)
	}
}

// TestIDSDropBeforeSocket: in IDS mode the packets of a bypassed flow are
// dropped before an AF_PACKET socket on the interface sees them; FIN/RST
// still reach it, and so does everything else.
func TestIDSDropBeforeSocket(t *testing.T) {
	requireLive(t)
	for _, xmode := range []XDPMode{XDPDriver, XDPGeneric} {
		t.Run(xmode.String(), func(t *testing.T) {
			id := newID()
			tx, rx := "vbyp"+id+"t", "vbyp"+id+"r"
			devT, devR := "vbyp"+id+"tx", "vbyp"+id+"rx"
			addNetns(t, tx)
			addNetns(t, rx)
			sh(t, "ip", "-n", rx, "link", "add", devR, "type", "veth", "peer", "name", devT, "netns", tx)
			sh(t, "ip", "-n", tx, "link", "set", "dev", devT, "up")
			sh(t, "ip", "-n", rx, "link", "set", "dev", devR, "up")
			noOffloads(t, tx, devT)
			noOffloads(t, rx, devR)
			prog := loadInNetns(t, rx, Options{Interfaces: []string{devR}, Mode: ModeIDS, XDPMode: xmode, MaxFlows: 256})

			var capFD, injFD int
			mustInNetns(t, rx, func() error {
				var err error
				capFD, err = openPacketSocket(devR)
				return err
			})
			defer closeFD(capFD)
			mustInNetns(t, tx, func() error {
				var err error
				injFD, err = openPacketSocket(devT)
				return err
			})
			defer closeFD(injFD)

			udpV := FlowKey{Src: mustAddr("192.0.2.1"), Dst: mustAddr("192.0.2.2"), SrcPort: 1111, DstPort: 2222,
				Proto: packet.ProtoUDP, VLAN: [2]uint16{10, 0}}
			tcp6 := FlowKey{Src: mustAddr("2001:db8::1"), Dst: mustAddr("2001:db8::2"), SrcPort: 40000, DstPort: 443,
				Proto: packet.ProtoTCP}
			other := FlowKey{Src: mustAddr("192.0.2.1"), Dst: mustAddr("192.0.2.3"), SrcPort: 1111, DstPort: 2222,
				Proto: packet.ProtoUDP}
			frames := func(k FlowKey, n int, flags uint8) [][]byte {
				var out [][]byte
				for range n {
					out = append(out, buildFrame(t, frameSpec{key: k, payload: 200, tcpFlags: flags | packet.TCPAck}))
				}
				return out
			}
			count := func(frs ...[][]byte) map[FlowKey]int {
				for _, fs := range frs {
					for _, f := range fs {
						if _, err := unix.Write(injFD, f); err != nil {
							t.Fatalf("inject: %v", err)
						}
					}
				}
				return drainCapture(t, capFD)
			}
			const n = 100
			seen := count(frames(udpV, n, 0), frames(tcp6.Reverse(), n, 0), frames(other, n, 0))
			if seen[udpV] != n || seen[tcp6.Reverse()] != n || seen[other] != n {
				t.Fatalf("before bypass the socket saw %v, want %d of each", seen, n)
			}
			for _, k := range []FlowKey{udpV, tcp6} {
				if err := prog.Add(k); err != nil {
					t.Fatal(err)
				}
			}
			seen = count(frames(udpV, n, 0), frames(udpV.Reverse(), n, 0), frames(tcp6, n, 0),
				frames(other, n, 0), frames(tcp6.Reverse(), 1, packet.TCPFin), frames(tcp6, 1, packet.TCPRst))
			if seen[udpV]+seen[udpV.Reverse()] != 0 {
				t.Errorf("bypassed UDP flow: socket saw %d+%d packets", seen[udpV], seen[udpV.Reverse()])
			}
			if seen[tcp6] != 1 || seen[tcp6.Reverse()] != 1 {
				t.Errorf("bypassed TCP flow: socket saw %d/%d packets, want only the FIN and the RST", seen[tcp6], seen[tcp6.Reverse()])
			}
			if seen[other] != n {
				t.Errorf("other flow: socket saw %d, want %d", seen[other], n)
			}
			pk, by, _, err := prog.Counters(udpV)
			if err != nil || pk != 2*n || by != 2*n*uint64(len(frames(udpV, 1, 0)[0])) {
				t.Errorf("Counters(udp) = %d packets %d bytes, %v", pk, by, err)
			}
			if pk, _, _, _ := prog.Counters(tcp6); pk != n {
				t.Errorf("Counters(tcp6) = %d packets, want %d", pk, n)
			}
			s, _ := prog.Stats()
			if s.BypassPackets != 3*n || s.FlowEnds != 2 {
				t.Errorf("stats %+v", s)
			}
			// Fail-open in IDS mode: everything reaches the socket again.
			if err := prog.SetFailOpen(true); err != nil {
				t.Fatal(err)
			}
			seen = count(frames(udpV, n, 0))
			if seen[udpV] != n {
				t.Errorf("fail-open: socket saw %d of %d", seen[udpV], n)
			}
		})
	}
}

func closeFD(fd int) { unix.Close(fd) }

// drainCapture reads the capture socket until it stays empty for 200 ms and
// counts the frames per flow key.
func drainCapture(t *testing.T, fd int) map[FlowKey]int {
	t.Helper()
	seen := map[FlowKey]int{}
	buf := make([]byte, 70000)
	idleSince := time.Now()
	for time.Since(idleSince) < 200*time.Millisecond {
		n, err := unix.Read(fd, buf) // SO_RCVTIMEO 50 ms
		if err != nil || n <= 0 {
			continue
		}
		idleSince = time.Now()
		// The stack moved the VLAN tag into metadata; the key's VLAN part
		// does not matter here (each test flow has distinct addresses).
		k, _, ok, _ := refParse(buf[:n])
		if ok {
			seen[canonVLAN(k)]++
		}
	}
	return seen
}

// canonVLAN gives the key the VLAN of the test's tagged flow (192.0.2.1
// <-> .2): the capture socket gets the tag as metadata, not in the frame.
func canonVLAN(k FlowKey) FlowKey {
	if k.Src.Is4() && (k.Dst == mustAddr("192.0.2.2") || k.Src == mustAddr("192.0.2.2")) {
		return withVLAN(k, 10)
	}
	return k
}

func withVLAN(k FlowKey, v uint16) FlowKey { k.VLAN = [2]uint16{v, 0}; return k }

// TestBridgeFailOpen: with the user-space forwarder paused, nothing crosses
// the bridge; the operator's fail-open switch (found through rtnetlink, as
// another process would) makes the kernel forward everything.
func TestBridgeFailOpen(t *testing.T) {
	requireLive(t)
	tp := newBridgeTopo(t, bridgeOpts{outer: "xdp"})
	prog := loadInNetns(t, tp.m, Options{Interfaces: []string{tp.a, tp.b}, Mode: ModeBridge, XDPMode: XDPDriver})
	fwd := startForwarder(t, tp.m, tp.a, tp.b)
	fwd.pause.Store(true)
	dev := openDevCounters(t, tp.s)
	var sink *net.UDPConn
	mustInNetns(t, tp.s, func() error {
		var err error
		sink, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.s4, 7777)))
		return err
	})
	defer sink.Close()
	sinkGot := func(n int) int {
		got := 0
		buf := make([]byte, 2048)
		for {
			sink.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := sink.Read(buf); err != nil {
				return got
			}
			got++
		}
	}
	send := func(n int) {
		mustInNetns(t, tp.c, func() error {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.s4, 7777)))
			if err != nil {
				return err
			}
			defer c.Close()
			for range n {
				if _, err := c.Write([]byte("hello")); err != nil {
					return err
				}
			}
			return nil
		})
	}
	send(20)
	if got := sinkGot(20); got != 0 {
		t.Fatalf("forwarder paused, fail-open off: server got %d datagrams", got)
	}
	var err error
	mustInNetns(t, tp.m, func() error { err = SetFailOpenOnInterface(tp.a, true); return nil })
	if err != nil {
		t.Fatalf("SetFailOpenOnInterface: %v", err)
	}
	if on, _ := prog.FailOpen(); !on {
		t.Fatal("operator switch did not reach the program")
	}
	rx0, _ := dev.rx(t, tp.sb)
	send(20)
	if got := sinkGot(20); got != 20 {
		t.Errorf("fail-open: server got %d of 20 datagrams", got)
	}
	rx1, _ := dev.rx(t, tp.sb)
	if rx1-rx0 < 20 {
		t.Errorf("fail-open: %s received %d frames", tp.sb, rx1-rx0)
	}
	if s, _ := prog.Stats(); s.FailOpen < 20 {
		t.Errorf("Stats.FailOpen = %d", s.FailOpen)
	}
	mustInNetns(t, tp.m, func() error { err = SetFailOpenOnInterface(tp.b, false); return nil })
	if err != nil {
		t.Fatal(err)
	}
	send(20)
	if got := sinkGot(20); got != 0 {
		t.Errorf("fail-open off again: server got %d", got)
	}
	// An interface without the program.
	mustInNetns(t, tp.c, func() error { err = SetFailOpenOnInterface("lo", true); return nil })
	if !errors.Is(err, ErrNotAttached) {
		t.Errorf("SetFailOpenOnInterface(lo) = %v, want ErrNotAttached", err)
	}
}

// TestBridgeVethModes documents which veth setups deliver XDP_REDIRECT
// frames: a bypassed UDP flow is sent across the bridge with the forwarder
// paused, and the server counts what arrives.
func TestBridgeVethModes(t *testing.T) {
	requireLive(t)
	for _, c := range []struct {
		xmode   XDPMode
		outer   string
		deliver bool
	}{
		{XDPDriver, "xdp", true},
		{XDPDriver, "gro", true},
		{XDPDriver, "none", false},
		{XDPGeneric, "none", true},
	} {
		t.Run(fmt.Sprintf("%s-outer-%s", c.xmode, c.outer), func(t *testing.T) {
			tp := newBridgeTopo(t, bridgeOpts{outer: c.outer})
			prog := loadInNetns(t, tp.m, Options{Interfaces: []string{tp.a, tp.b}, Mode: ModeBridge, XDPMode: c.xmode})
			fwd := startForwarder(t, tp.m, tp.a, tp.b)
			fwd.pause.Store(true)
			var sink *net.UDPConn
			mustInNetns(t, tp.s, func() error {
				var err error
				sink, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.s4, 7777)))
				return err
			})
			defer sink.Close()
			var cc *net.UDPConn
			mustInNetns(t, tp.c, func() error {
				var err error
				cc, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.c4, 6666)),
					net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.s4, 7777)))
				return err
			})
			defer cc.Close()
			k := FlowKey{Src: tp.c4, Dst: tp.s4, SrcPort: 6666, DstPort: 7777, Proto: packet.ProtoUDP}
			if err := prog.Add(k); err != nil {
				t.Fatal(err)
			}
			const n = 50
			for range n {
				cc.Write([]byte("x"))
			}
			got := 0
			buf := make([]byte, 100)
			for {
				sink.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				if _, err := sink.Read(buf); err != nil {
					break
				}
				got++
			}
			pk, _, _, _ := prog.Counters(k)
			t.Logf("%s mode, outer peers %s: redirected %d, server received %d of %d", c.xmode, c.outer, pk, got, n)
			if c.deliver && got != n {
				t.Errorf("server received %d of %d", got, n)
			}
			if !c.deliver && got != 0 {
				t.Errorf("expected the veth to drop redirected frames, server received %d", got)
			}
		})
	}
}

// TestBridgeThroughput measures, in one run, the packets per second a UDP
// flow gets across the bridge when user space forwards it (the AF_PACKET
// forwarder) and when the XDP bypass does. trafgen in the client namespace
// offers the load; the server interface's receive counter measures what
// arrives.
func TestBridgeThroughput(t *testing.T) {
	requireLive(t)
	if testing.Short() {
		t.Skip("measurement; skipped in -short")
	}
	if _, err := exec.LookPath("trafgen"); err != nil {
		t.Skipf("needs trafgen: %v", err)
	}
	tp := newBridgeTopo(t, bridgeOpts{outer: "xdp"})
	prog := loadInNetns(t, tp.m, Options{Interfaces: []string{tp.a, tp.b}, Mode: ModeBridge, XDPMode: XDPDriver})
	fwd := startForwarder(t, tp.m, tp.a, tp.b)
	var sink *net.UDPConn
	mustInNetns(t, tp.s, func() error {
		var err error
		sink, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.s4, 7777)))
		return err
	})
	defer sink.Close()
	k := FlowKey{Src: tp.c4, Dst: tp.s4, SrcPort: 6666, DstPort: 7777, Proto: packet.ProtoUDP}
	frame := buildFrame(t, frameSpec{key: k, payload: 18}) // 60-byte frame
	copy(frame[0:6], tp.macSB)
	copy(frame[6:12], tp.macCA)
	var cfg strings.Builder
	cfg.WriteString("{ ")
	for i, b := range frame {
		if i > 0 {
			cfg.WriteString(", ")
		}
		fmt.Fprintf(&cfg, "0x%02x", b)
	}
	cfg.WriteString(" }\n")
	cfgPath := filepath.Join(t.TempDir(), "udp.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 300_000
	devS := openDevCounters(t, tp.s)
	devM := openDevCounters(t, tp.m)
	measure := func(name string) (offeredPPS, deliveredPPS float64, delivered uint64) {
		rx0, _ := devS.rx(t, tp.sb)
		in0, _ := devM.rx(t, tp.a)
		start := time.Now()
		// -P 1: one sender process; leave IRQ affinity and socket
		// memory sysctls alone; no CPU statistics.
		sh(t, "ip", "netns", "exec", tp.c, "trafgen", "-o", tp.ca, "-i", cfgPath, "-n", fmt.Sprint(n), "-P", "1", "--notouch-irq", "--no-sock-mem", "--no-cpu-stats")
		sendDur := time.Since(start)
		// Wait until delivery stops (user space drains its socket queue;
		// on a loaded machine the forwarder may stall for a while).
		last, lastChange := rx0, time.Now()
		for time.Since(lastChange) < time.Second {
			time.Sleep(20 * time.Millisecond)
			if rx, _ := devS.rx(t, tp.sb); rx != last {
				last, lastChange = rx, time.Now()
			}
		}
		in1, _ := devM.rx(t, tp.a)
		delivered = last - rx0
		deliveredPPS = float64(delivered) / lastChange.Sub(start).Seconds()
		offeredPPS = float64(in1-in0) / sendDur.Seconds()
		t.Logf("%-10s offered %d frames at %.0f pps; delivered %d (%.1f%%) at %.0f pps",
			name, in1-in0, offeredPPS, delivered, 100*float64(delivered)/float64(n), deliveredPPS)
		return
	}
	_, userPPS, userN := measure("user space")
	fwdLost := fwd.dir[0].frames.Load() - fwd.dir[0].sent.Load()
	if err := prog.Add(k); err != nil {
		t.Fatal(err)
	}
	_, bypassPPS, bypassN := measure("bypass")
	pk, _, _, _ := prog.Counters(k)
	t.Logf("bypass/user space: %.1fx; forwarder lost %d frames in send; kernel counted %d bypassed", bypassPPS/userPPS, fwdLost, pk)
	if userN == 0 || bypassN == 0 {
		t.Fatalf("nothing delivered: user space %d, bypass %d", userN, bypassN)
	}
	// The server's receive counter also counts the odd stray frame (IPv6
	// multicast listener reports and the like).
	if pk > n || pk+10 < bypassN {
		t.Errorf("kernel counted %d bypassed packets of %d sent; server received %d", pk, n, bypassN)
	}
}
