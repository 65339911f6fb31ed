package nfqueue

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Live tests build client <-> router <-> server out of three network
// namespaces and two veth pairs, all named with the prefix vxrq. The router
// forwards (ip_forward=1) and its iptables FORWARD chain queues to
// NFQUEUE; the Source under test is opened inside the router namespace.

const (
	clientIP  = "10.91.1.2"
	routerCIP = "10.91.1.1"
	routerSIP = "10.91.2.1"
	serverIP  = "10.91.2.2"
	client6   = "fd00:91:1::2"
	server6   = "fd00:91:2::2"
)

var topoSeq atomic.Int32

type topo struct {
	t                      testing.TB
	id                     string
	client, router, server string // namespace names
	cIf                    string // client's interface
}

func requireLive(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("live NFQUEUE test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("live NFQUEUE tests need root (network namespaces, iptables, CAP_NET_ADMIN)")
	}
	for _, bin := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("live NFQUEUE tests need %s: %v", bin, err)
		}
	}
}

// newTopo creates the three namespaces; they (and with them the veths) are
// deleted when the test ends, also on failure.
func newTopo(t testing.TB, ipv6 bool) *topo {
	t.Helper()
	requireLive(t)
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, topoSeq.Add(1))
	tp := &topo{t: t, id: id, client: "vxrq" + id + "c", router: "vxrq" + id + "r", server: "vxrq" + id + "s", cIf: "vxrq" + id + "c"}
	t.Cleanup(func() {
		for _, ns := range []string{tp.client, tp.router, tp.server} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	if out, err := exec.Command("ip", "netns", "add", tp.client).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	tp.run("ip", "netns", "add", tp.router)
	tp.run("ip", "netns", "add", tp.server)
	rc, rs, s := "vxrq"+id+"rc", "vxrq"+id+"rs", "vxrq"+id+"s"
	tp.run("ip", "-n", tp.client, "link", "add", tp.cIf, "type", "veth", "peer", "name", rc, "netns", tp.router)
	tp.run("ip", "-n", tp.router, "link", "add", rs, "type", "veth", "peer", "name", s, "netns", tp.server)
	for _, c := range [][]string{
		{tp.client, "addr", "add", clientIP + "/24", "dev", tp.cIf},
		{tp.router, "addr", "add", routerCIP + "/24", "dev", rc},
		{tp.router, "addr", "add", routerSIP + "/24", "dev", rs},
		{tp.server, "addr", "add", serverIP + "/24", "dev", s},
		{tp.client, "link", "set", "dev", tp.cIf, "up"},
		{tp.client, "link", "set", "dev", "lo", "up"},
		{tp.router, "link", "set", "dev", rc, "up"},
		{tp.router, "link", "set", "dev", rs, "up"},
		{tp.server, "link", "set", "dev", s, "up"},
		{tp.server, "link", "set", "dev", "lo", "up"},
		{tp.client, "route", "add", "default", "via", routerCIP},
		{tp.server, "route", "add", "default", "via", routerSIP},
	} {
		tp.run("ip", append([]string{"-n", c[0]}, c[1:]...)...)
	}
	tp.exec(tp.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	if ipv6 {
		tp.exec(tp.router, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
		for _, c := range [][]string{
			{tp.client, "addr", "add", client6 + "/64", "dev", tp.cIf, "nodad"},
			{tp.router, "addr", "add", "fd00:91:1::1/64", "dev", rc, "nodad"},
			{tp.router, "addr", "add", "fd00:91:2::1/64", "dev", rs, "nodad"},
			{tp.server, "addr", "add", server6 + "/64", "dev", s, "nodad"},
			{tp.client, "-6", "route", "add", "default", "via", "fd00:91:1::1"},
			{tp.server, "-6", "route", "add", "default", "via", "fd00:91:2::1"},
		} {
			tp.run("ip", append([]string{"-n", c[0]}, c[1:]...)...)
		}
	}
	return tp
}

func (tp *topo) run(name string, args ...string) string {
	tp.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tp.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// exec runs a command inside namespace ns.
func (tp *topo) exec(ns string, args ...string) string {
	tp.t.Helper()
	return tp.run("ip", append([]string{"netns", "exec", ns}, args...)...)
}

// ipt runs iptables in the router namespace; a missing NFQUEUE or match
// module skips the test.
func (tp *topo) ipt(args ...string) {
	tp.t.Helper()
	tp.iptBin("iptables", args...)
}

func (tp *topo) iptBin(bin string, args ...string) {
	tp.t.Helper()
	full := append([]string{"netns", "exec", tp.router, bin, "-w"}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	if err != nil {
		tp.t.Skipf("%s %s failed (kernel lacks the module?): %v: %s", bin, strings.Join(args, " "), err, out)
	}
}

// ruleCount returns the packet counter of rule num of chain in table.
func (tp *topo) ruleCount(table, chain string, num int) uint64 {
	tp.t.Helper()
	out := tp.exec(tp.router, "iptables", "-w", "-t", table, "-L", chain, strconv.Itoa(num), "-v", "-x", "-n")
	f := strings.Fields(out)
	if len(f) == 0 {
		tp.t.Fatalf("no rule %d in %s/%s", num, table, chain)
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		tp.t.Fatalf("rule %d of %s/%s: %q", num, table, chain, out)
	}
	return n
}

// inNetns runs fn on a thread switched into namespace ns. It uses a
// goroutine of its own: if switching back fails, that goroutine exits with
// its thread locked, and the runtime discards the thread.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back from %s: %w", ns, err) // thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// open opens a Source inside the router namespace, closed at test end.
func (tp *topo) open(o Options) *Source {
	tp.t.Helper()
	if o.PollTimeout == 0 {
		o.PollTimeout = 20 * time.Millisecond
	}
	var s *Source
	err := inNetns(tp.router, func() error {
		var err error
		s, err = Open(o)
		return err
	})
	if err != nil {
		tp.t.Fatalf("Open queue %d in %s: %v", o.Queue, tp.router, err)
	}
	tp.t.Cleanup(func() { s.Close() })
	return s
}

// verdictLoop is a worker: Next, decide, Done, until halted.
type verdictLoop struct {
	s    *Source
	stop atomic.Bool
	done chan error
	cpu  time.Duration // user+system CPU time of the loop's thread, set when it ends
	user time.Duration // of which user time
}

func runLoop(s *Source, decide func(p *packet.Packet, m Meta) packet.Verdict) *verdictLoop {
	l := &verdictLoop{s: s, done: make(chan error, 1)}
	go func() {
		// A worker owns its thread (as in the workers runmode), which also
		// makes the thread's CPU time the loop's.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r0 unix.Rusage
		unix.Getrusage(unix.RUSAGE_THREAD, &r0)
		b := packet.NewBatch(64)
		var err error
		for !l.stop.Load() {
			if err = s.Next(b); err != nil {
				break
			}
			for i, p := range b.Pkts {
				p.Verdict = decide(p, s.Meta(b, i))
			}
			s.Done(b)
		}
		var r1 unix.Rusage
		unix.Getrusage(unix.RUSAGE_THREAD, &r1)
		l.user = time.Duration(r1.Utime.Nano() - r0.Utime.Nano())
		l.cpu = l.user + time.Duration(r1.Stime.Nano()-r0.Stime.Nano())
		l.done <- err
	}()
	return l
}

func (l *verdictLoop) halt(t testing.TB) {
	t.Helper()
	l.stop.Store(true)
	select {
	case err := <-l.done:
		if err != nil {
			t.Errorf("verdict loop on queue %d: %v", l.s.Queue(), err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("verdict loop on queue %d did not stop", l.s.Queue())
	}
}

func acceptAll(*packet.Packet, Meta) packet.Verdict { return packet.VerdictForward }

// ipv4UDP returns the UDP ports and payload offset of an IPv4/UDP packet.
func ipv4UDP(d []byte) (src, dst uint16, payloadOff int, ok bool) {
	if len(d) < 20 || d[0]>>4 != 4 || d[9] != packet.ProtoUDP {
		return 0, 0, 0, false
	}
	ihl := int(d[0]&0xf) * 4
	if len(d) < ihl+8 {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint16(d[ihl:]), binary.BigEndian.Uint16(d[ihl+2:]), ihl + 8, true
}

// udpServer listens on the server and counts (and keeps) what arrives.
type udpServer struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  [][]byte
	from map[string]int
}

func (tp *topo) udpServer(addr string) *udpServer {
	tp.t.Helper()
	u := &udpServer{from: map[string]int{}}
	err := inNetns(tp.server, func() error {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		u.conn = c.(*net.UDPConn)
		return nil
	})
	if err != nil {
		tp.t.Fatalf("udp listen %s: %v", addr, err)
	}
	u.conn.SetReadBuffer(4 << 20)
	tp.t.Cleanup(func() { u.conn.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := u.conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			u.mu.Lock()
			u.got = append(u.got, append([]byte(nil), buf[:n]...))
			u.from[from.IP.String()]++
			u.mu.Unlock()
		}
	}()
	return u
}

func (u *udpServer) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

// waitCount waits until the server has want datagrams (or timeout), then
// returns the count.
func (u *udpServer) waitCount(want int, timeout time.Duration) int {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) && u.count() < want {
		time.Sleep(10 * time.Millisecond)
	}
	return u.count()
}

// udpClient dials from the client namespace (from laddr if given).
func (tp *topo) udpClient(laddr, raddr string) *net.UDPConn {
	tp.t.Helper()
	var conn *net.UDPConn
	err := inNetns(tp.client, func() error {
		d := net.Dialer{}
		if laddr != "" {
			la, err := net.ResolveUDPAddr("udp", laddr)
			if err != nil {
				return err
			}
			d.LocalAddr = la
		}
		c, err := d.Dial("udp", raddr)
		if err != nil {
			return err
		}
		conn = c.(*net.UDPConn)
		return nil
	})
	if err != nil {
		tp.t.Fatalf("udp dial %s -> %s: %v", laddr, raddr, err)
	}
	tp.t.Cleanup(func() { conn.Close() })
	return conn
}

// sendUDP sends n datagrams with payload(i), spaced by gap.
func sendUDP(t testing.TB, c *net.UDPConn, n int, gap time.Duration, payload func(i int) []byte) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := c.Write(payload(i)); err != nil {
			t.Fatalf("udp send %d: %v", i, err)
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
}

// ping sends count ICMP echo requests from the client to the server, one
// at a time, and returns how many were answered within a second each.
func (tp *topo) ping(count int) int {
	tp.t.Helper()
	var c net.PacketConn
	err := inNetns(tp.client, func() error {
		var err error
		c, err = net.ListenPacket("ip4:icmp", clientIP)
		return err
	})
	if err != nil {
		tp.t.Fatalf("icmp socket: %v", err)
	}
	defer c.Close()
	var idb [2]byte
	rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	dst := &net.IPAddr{IP: net.ParseIP(serverIP)}
	buf := make([]byte, 1500)
	replies := 0
	for seq := 1; seq <= count; seq++ {
		msg := make([]byte, 8+32)
		msg[0] = 8 // echo request
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], uint16(seq))
		copy(msg[8:], "vigil nfqueue live test payload!")
		binary.BigEndian.PutUint16(msg[2:], inetChecksum(msg))
		if _, err := c.WriteTo(msg, dst); err != nil {
			tp.t.Fatalf("icmp send: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == uint16(seq) {
				replies++
				break
			}
		}
	}
	return replies
}

func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	end := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var errMismatch = errors.New("mismatch")
