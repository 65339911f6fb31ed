package bypass

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Live tests: network namespaces and veth pairs named vbyp*, created per
// test and deleted in t.Cleanup.

var nameSeq atomic.Uint32

// newID returns a short identifier unique among concurrently running test
// processes (pid) and tests in this process (sequence).
func newID() string {
	return fmt.Sprintf("%03x%x", os.Getpid()&0xfff, nameSeq.Add(1)&0xf)
}

func requireLive(t *testing.T) {
	t.Helper()
	requireBPF(t)
	for _, tool := range []string{"ip", "ethtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
}

// sh runs a command and fails the test with its output on error.
func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// addNetns creates a network namespace and deletes it (and the interfaces
// in it) at cleanup.
func addNetns(t *testing.T, name string) {
	t.Helper()
	sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Logf("cleanup: ip netns del %s: %v %s", name, err, out)
		}
	})
}

// inNetns runs fn on an OS thread switched into the namespace ns. Sockets
// created in fn stay in ns; the thread is restored (or discarded) after.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it exits with the goroutine.
			errc <- fmt.Errorf("restore netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func mustInNetns(t testing.TB, ns string, fn func() error) {
	t.Helper()
	if err := inNetns(ns, fn); err != nil {
		t.Fatalf("in netns %s: %v", ns, err)
	}
}

// noOffloads makes a veth put complete frames on the wire: no TSO/GSO/GRO
// super-packets, checksums filled in, VLAN tags in the frame.
func noOffloads(t testing.TB, ns, dev string) {
	t.Helper()
	sh(t, "ip", "netns", "exec", ns, "ethtool", "-K", dev,
		"tx", "off", "tso", "off", "gso", "off", "gro", "off", "txvlan", "off", "rxvlan", "off")
}

// attachPassProgram attaches a one-instruction XDP_PASS program to dev in
// ns (driver mode). A veth needs an XDP program (or GRO) on the peer of a
// device that XDP frames are redirected into, to have NAPI running there.
func attachPassProgram(t *testing.T, ns, dev string) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "vbyp_pass", Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, xdpPass), asm.Return()},
	})
	if err != nil {
		t.Fatalf("load XDP_PASS program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	mustInNetns(t, ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifi.Index, Flags: link.XDPDriverMode})
		if err != nil {
			return fmt.Errorf("attach XDP_PASS to %s: %w", dev, err)
		}
		t.Cleanup(func() { l.Close() })
		return nil
	})
}

// bridgeTopo is client ns C <-> (A, B in the middle ns M) <-> server ns S.
type bridgeTopo struct {
	c, m, s        string // namespaces
	ca, a, b, sb   string // interfaces: ca in C, a and b in M, sb in S
	macCA, macSB   net.HardwareAddr
	c4, s4, c6, s6 netip.Addr
}

const testVLAN = 100

// bridgeOpts say how to build the topology.
type bridgeOpts struct {
	// outer is what the outer veth peers (ca, sb) get: "xdp" (an XDP_PASS
	// program), "gro" (GRO on, which enables veth NAPI), "none".
	outer string
	// vlan tags every frame between the endpoints and the middle with
	// testVLAN (tc programs push on egress and pop on ingress at ca and sb:
	// this kernel has no 802.1Q devices).
	vlan bool
}

func newBridgeTopo(t *testing.T, o bridgeOpts) *bridgeTopo {
	t.Helper()
	id := newID()
	tp := &bridgeTopo{
		c: "vbyp" + id + "c", m: "vbyp" + id + "m", s: "vbyp" + id + "s",
		ca: "vbyp" + id + "ca", a: "vbyp" + id + "a", b: "vbyp" + id + "b", sb: "vbyp" + id + "sb",
		macCA: net.HardwareAddr{0x02, 0x77, 0, 0, 0, 0x01},
		macSB: net.HardwareAddr{0x02, 0x77, 0, 0, 0, 0x02},
		c4:    mustAddr("10.77.0.1"), s4: mustAddr("10.77.0.2"),
		c6: mustAddr("fd77::1"), s6: mustAddr("fd77::2"),
	}
	for _, ns := range []string{tp.c, tp.m, tp.s} {
		addNetns(t, ns)
	}
	// The middle namespace does no IP at all: only what the test forwards
	// (or the bypass redirects) crosses it.
	sh(t, "ip", "netns", "exec", tp.m, "sysctl", "-q", "-w",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.ip_forward=0")
	sh(t, "ip", "-n", tp.m, "link", "add", tp.a, "type", "veth", "peer", "name", tp.ca, "netns", tp.c)
	sh(t, "ip", "-n", tp.m, "link", "add", tp.b, "type", "veth", "peer", "name", tp.sb, "netns", tp.s)
	sh(t, "ip", "-n", tp.c, "link", "set", "dev", tp.ca, "address", tp.macCA.String())
	sh(t, "ip", "-n", tp.s, "link", "set", "dev", tp.sb, "address", tp.macSB.String())
	for _, d := range [][2]string{{tp.c, tp.ca}, {tp.m, tp.a}, {tp.m, tp.b}, {tp.s, tp.sb}} {
		noOffloads(t, d[0], d[1])
	}
	for _, sd := range []struct {
		ns, dev      string
		a4, a6       netip.Addr
		peer4, peer6 netip.Addr
		peerMAC      net.HardwareAddr
	}{
		{tp.c, tp.ca, tp.c4, tp.c6, tp.s4, tp.s6, tp.macSB},
		{tp.s, tp.sb, tp.s4, tp.s6, tp.c4, tp.c6, tp.macCA},
	} {
		sh(t, "ip", "-n", sd.ns, "addr", "add", sd.a4.String()+"/24", "dev", sd.dev)
		sh(t, "ip", "-n", sd.ns, "addr", "add", sd.a6.String()+"/64", "dev", sd.dev, "nodad")
		for _, d := range []string{"lo", sd.dev} {
			sh(t, "ip", "-n", sd.ns, "link", "set", "dev", d, "up")
		}
		// Static neighbours: traffic must not depend on ARP/ND crossing
		// the middle (fail-open tests stop the forwarder).
		for _, n := range []string{sd.peer4.String(), sd.peer6.String()} {
			sh(t, "ip", "-n", sd.ns, "neigh", "replace", n, "lladdr", sd.peerMAC.String(), "dev", sd.dev, "nud", "permanent")
		}
		if o.vlan {
			attachVLANTagger(t, sd.ns, sd.dev, testVLAN)
		}
	}
	sh(t, "ip", "-n", tp.m, "link", "set", "dev", tp.a, "up")
	sh(t, "ip", "-n", tp.m, "link", "set", "dev", tp.b, "up")
	switch o.outer {
	case "xdp":
		attachPassProgram(t, tp.c, tp.ca)
		attachPassProgram(t, tp.s, tp.sb)
	case "gro":
		sh(t, "ip", "netns", "exec", tp.c, "ethtool", "-K", tp.ca, "gro", "on")
		sh(t, "ip", "netns", "exec", tp.s, "ethtool", "-K", tp.sb, "gro", "on")
	}
	return tp
}

// attachVLANTagger attaches tcx programs to dev in ns that push an 802.1Q
// tag with vid on every frame sent and pop the tag of every frame received.
func attachVLANTagger(t *testing.T, ns, dev string, vid int32) {
	t.Helper()
	push, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "vbyp_vlan_push", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			// bpf_skb_vlan_push(skb, htons(ETH_P_8021Q), vid)
			asm.Mov.Imm(asm.R2, int32(htons(0x8100))),
			asm.Mov.Imm(asm.R3, vid),
			asm.FnSkbVlanPush.Call(),
			asm.Mov.Imm(asm.R0, 0), // TCX_PASS
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatalf("load VLAN push program: %v", err)
	}
	t.Cleanup(func() { push.Close() })
	pop, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "vbyp_vlan_pop", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.FnSkbVlanPop.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatalf("load VLAN pop program: %v", err)
	}
	t.Cleanup(func() { pop.Close() })
	mustInNetns(t, ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		for _, a := range []struct {
			p  *ebpf.Program
			at ebpf.AttachType
		}{{push, ebpf.AttachTCXEgress}, {pop, ebpf.AttachTCXIngress}} {
			l, err := link.AttachTCX(link.TCXOptions{Interface: ifi.Index, Program: a.p, Attach: a.at})
			if err != nil {
				return fmt.Errorf("attach tcx %s to %s: %w", a.at, dev, err)
			}
			t.Cleanup(func() { l.Close() })
		}
		return nil
	})
}

// loadInNetns loads the bypass in namespace ns and closes it at cleanup.
func loadInNetns(t *testing.T, ns string, o Options) *Program {
	t.Helper()
	var p *Program
	mustInNetns(t, ns, func() error {
		var err error
		p, err = Load(o)
		return err
	})
	t.Cleanup(func() { p.Close() })
	return p
}

// ---- AF_PACKET forwarder (the "user space" of the tests) ----

const (
	tpStatusCsumNotReady = 1 << 3
	tpStatusVLANValid    = 1 << 4
	tpStatusVLANTPID     = 1 << 6
	packetIgnoreOutgoing = 23
)

var markerPayload = []byte("VIGILMARK")

// dirCounters are what the forwarder saw in one direction.
type dirCounters struct {
	frames      atomic.Uint64 // frames received
	sent        atomic.Uint64 // frames forwarded
	sendErrs    atomic.Uint64 // frames the send failed for (counted as lost)
	paused      atomic.Uint64 // frames not forwarded because forwarding was paused
	csumPartial atomic.Uint64 // frames with an unfinished checksum (should be 0)
	flowPkts    atomic.Uint64 // frames of the watched flow
	flowPayload atomic.Uint64 // their L4 payload bytes
	afterMarker atomic.Uint64 // frames of the watched flow after the marker, FIN/RST excluded
	ctlAfter    atomic.Uint64 // FIN/RST frames of the watched flow after the marker
	marker      atomic.Bool
}

// packetForwarder copies every frame between two interfaces with AF_PACKET
// sockets: dir[0] is A->B (client to server), dir[1] B->A.
type packetForwarder struct {
	fd     [2]int
	dir    [2]dirCounters
	watch  atomic.Pointer[netip.AddrPort] // server side of the watched flow
	pause  atomic.Bool
	stop   atomic.Bool
	wg     sync.WaitGroup
	rxDrop [2]uint64
}

func openPacketSocket(dev string) (int, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return -1, err
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return -1, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	for _, o := range [][3]int{
		{unix.SOL_PACKET, packetIgnoreOutgoing, 1},
		{unix.SOL_PACKET, unix.PACKET_AUXDATA, 1},
		{unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8 << 20},
	} {
		if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: setsockopt %d/%d: %w", dev, o[0], o[1], err)
		}
	}
	tv := unix.Timeval{Usec: 50000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: bind AF_PACKET: %w", dev, err)
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// startForwarder opens the sockets in ns and forwards until cleanup.
func startForwarder(t *testing.T, ns, a, b string) *packetForwarder {
	t.Helper()
	f := &packetForwarder{fd: [2]int{-1, -1}}
	mustInNetns(t, ns, func() error {
		var err error
		if f.fd[0], err = openPacketSocket(a); err != nil {
			return err
		}
		f.fd[1], err = openPacketSocket(b)
		return err
	})
	for i := range 2 {
		f.wg.Add(1)
		go f.loop(i)
	}
	t.Cleanup(f.close)
	return f
}

func (f *packetForwarder) close() {
	if f.stop.Swap(true) {
		return
	}
	f.wg.Wait()
	for _, fd := range f.fd {
		unix.Close(fd)
	}
}

func (f *packetForwarder) loop(i int) {
	defer f.wg.Done()
	in, out := f.fd[i], f.fd[1-i]
	d := &f.dir[i]
	buf := make([]byte, 4+65536)
	oob := make([]byte, 64)
	var iov unix.Iovec
	iov.Base = &buf[4]
	iov.SetLen(len(buf) - 4)
	var msg unix.Msghdr
	msg.Iov = &iov
	msg.Iovlen = 1
	msg.Control = &oob[0]
	for !f.stop.Load() {
		msg.SetControllen(len(oob))
		r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(in), uintptr(unsafe.Pointer(&msg)), 0)
		if e != 0 {
			continue // timeout (check stop) or EINTR
		}
		n := int(r)
		frame := buf[4 : 4+n]
		if msg.Controllen >= 16+20 {
			level := int32(binary.NativeEndian.Uint32(oob[8:]))
			typ := int32(binary.NativeEndian.Uint32(oob[12:]))
			if level == unix.SOL_PACKET && typ == unix.PACKET_AUXDATA {
				status := binary.NativeEndian.Uint32(oob[16:])
				if status&tpStatusCsumNotReady != 0 {
					d.csumPartial.Add(1)
				}
				if status&tpStatusVLANValid != 0 {
					// The stack took the outer tag out of the frame; put it back.
					tci := binary.NativeEndian.Uint16(oob[16+16:])
					tpid := uint16(0x8100)
					if status&tpStatusVLANTPID != 0 {
						tpid = binary.NativeEndian.Uint16(oob[16+18:])
					}
					copy(buf[0:12], buf[4:16])
					binary.BigEndian.PutUint16(buf[12:], tpid)
					binary.BigEndian.PutUint16(buf[14:], tci)
					frame = buf[0 : 4+n]
				}
			}
		}
		d.frames.Add(1)
		f.account(d, frame)
		if f.pause.Load() {
			d.paused.Add(1)
			continue
		}
		if _, err := unix.Write(out, frame); err != nil {
			d.sendErrs.Add(1)
			continue
		}
		d.sent.Add(1)
	}
}

// account updates the watched-flow and marker counters for frame.
func (f *packetForwarder) account(d *dirCounters, frame []byte) {
	k, l4, ok, _ := refParse(frame)
	if !ok {
		return
	}
	if k.Proto == packet.ProtoUDP && k.DstPort == 9 && len(frame) >= l4+8+len(markerPayload) &&
		bytes.Equal(frame[l4+8:l4+8+len(markerPayload)], markerPayload) {
		d.marker.Store(true)
		return
	}
	w := f.watch.Load()
	if w == nil || (netip.AddrPortFrom(k.Dst, k.DstPort) != *w && netip.AddrPortFrom(k.Src, k.SrcPort) != *w) {
		return
	}
	d.flowPkts.Add(1)
	ctl := false
	if k.Proto == packet.ProtoTCP && len(frame) >= l4+20 {
		ctl = frame[l4+13]&(packet.TCPFin|packet.TCPRst) != 0
		d.flowPayload.Add(uint64(tcpPayloadLen(frame, l4)))
	}
	if d.marker.Load() {
		if ctl {
			d.ctlAfter.Add(1)
		} else {
			d.afterMarker.Add(1)
		}
	}
}

// tcpPayloadLen computes the TCP payload length of a frame from the IP
// length fields (the frame may be padded).
func tcpPayloadLen(frame []byte, l4 int) int {
	doff := int(frame[l4+12]>>4) * 4
	// Find the IP header: walk back over the L3 header kinds refParse accepts.
	off := 14
	et := binary.BigEndian.Uint16(frame[12:])
	for et == 0x8100 || et == 0x88a8 {
		et = binary.BigEndian.Uint16(frame[off+2:])
		off += 4
	}
	var ipEnd int
	if et == 0x0800 {
		ipEnd = off + int(binary.BigEndian.Uint16(frame[off+2:]))
	} else {
		ipEnd = off + 40 + int(binary.BigEndian.Uint16(frame[off+4:]))
	}
	return max(0, ipEnd-l4-doff)
}

// sendMarker sends a marker datagram from namespace ns to dst: once the
// forwarder sees it on an interface, every later frame there went through
// XDP after the caller's last map update.
func sendMarker(t testing.TB, ns string, dst netip.Addr) {
	t.Helper()
	mustInNetns(t, ns, func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(markerPayload)
		return err
	})
}

// waitFor polls cond every 5 ms until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// ---- interface counters of another namespace ----

// devCounters reads /proc/net/dev of a namespace: the file is opened on a
// thread inside the namespace and re-read from there on.
type devCounters struct{ f *os.File }

func openDevCounters(t testing.TB, ns string) *devCounters {
	t.Helper()
	var f *os.File
	mustInNetns(t, ns, func() error {
		var err error
		f, err = os.Open("/proc/thread-self/net/dev")
		return err
	})
	t.Cleanup(func() { f.Close() })
	return &devCounters{f}
}

// rx returns the received packets and drops of dev.
func (d *devCounters) rx(t testing.TB, dev string) (packets, drops uint64) {
	t.Helper()
	buf := make([]byte, 16<<10)
	n, err := d.f.ReadAt(buf, 0)
	if n == 0 && err != nil {
		t.Fatalf("read /proc/net/dev: %v", err)
	}
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != dev {
			continue
		}
		fs := strings.Fields(rest)
		packets, _ = strconv.ParseUint(fs[1], 10, 64)
		drops, _ = strconv.ParseUint(fs[3], 10, 64)
		return packets, drops
	}
	t.Fatalf("/proc/net/dev: no %s", dev)
	return 0, 0
}
