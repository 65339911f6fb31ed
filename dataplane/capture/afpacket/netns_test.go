package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// Live tests build their own network namespaces and veth pairs named
// vxra<test><pid>..., and remove them in t.Cleanup.

// requireLive skips the test unless it can create namespaces and packet
// sockets.
func requireLive(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live AF_PACKET test needs root (network namespaces, packet sockets)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("live AF_PACKET test needs iproute2's ip")
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Skipf("no AF_PACKET sockets: %v", err)
	}
	unix.Close(fd)
}

func sh(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// uniq makes names unique to this process, so a leftover of a killed run
// does not collide.
func uniq(tag string) string { return fmt.Sprintf("vxra%s%d", tag, os.Getpid()%100000) }

// newNS creates network namespace name with IPv6 off (no autoconfiguration
// chatter in the captures) and lo up.
func newNS(t testing.TB, name string) {
	t.Helper()
	sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	sh(t, "ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	sh(t, "ip", "-n", name, "link", "set", "dev", "lo", "up")
}

// veth creates a veth pair a (in nsA) <-> b (in nsB), both up. Offloads
// are turned off so frames on the wire are what the stacks see (no partial
// checksums, no GSO super-frames), as an inline sensor needs.
func veth(t testing.TB, nsA, a, nsB, b string) {
	t.Helper()
	sh(t, "ip", "-n", nsA, "link", "add", a, "type", "veth", "peer", "name", b, "netns", nsB)
	for _, x := range [][2]string{{nsA, a}, {nsB, b}} {
		if _, err := exec.LookPath("ethtool"); err == nil {
			sh(t, "ip", "netns", "exec", x[0], "ethtool", "-K", x[1], "tx", "off", "tso", "off", "gso", "off", "gro", "off")
		}
		sh(t, "ip", "-n", x[0], "link", "set", "dev", x[1], "up")
	}
	for _, x := range [][2]string{{nsA, a}, {nsB, b}} {
		waitActive(t, x[0], x[1])
	}
}

// waitActive waits until dev has carrier and its real qdisc: until the
// kernel's link watch activates it (asynchronously, late on a loaded
// machine), the device sends through noop, which drops every frame
// without telling a packet socket sender.
func waitActive(t testing.TB, ns, dev string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("ip", "-n", ns, "link", "show", "dev", dev).CombinedOutput()
		if err == nil && strings.Contains(string(out), "state UP") && !strings.Contains(string(out), "qdisc noop") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s not active after 10s: %s", dev, ns, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func addr(t testing.TB, ns, dev, cidr string) {
	t.Helper()
	sh(t, "ip", "-n", ns, "addr", "add", cidr, "dev", dev)
}

// inNS runs fn on a thread switched into network namespace ns; sockets it
// creates stay in ns.
func inNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(orig)
	target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine instead
		// of running other code in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("setns back: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// openIn opens a Source inside ns and closes it at cleanup.
func openIn(t testing.TB, ns string, o Options) *Source {
	t.Helper()
	var s *Source
	err := inNS(ns, func() (err error) {
		s, err = Open(o)
		return err
	})
	if err != nil {
		t.Fatalf("Open %s in %s: %v", o.Interface, ns, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawSocket opens a packet socket in ns bound to dev for sending frames.
func rawSocket(t testing.TB, ns, dev string) int {
	t.Helper()
	fd := -1
	err := inNS(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, _ := unix.NewIfreq(dev)
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: int(ifr.Uint32())})
	})
	if err != nil {
		t.Fatalf("raw socket on %s in %s: %v", dev, ns, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// testFrame makes a frame with EtherType 0x88b5 (local experimental: no
// stack answers it) carrying seq, of n bytes, optionally 802.1Q-tagged.
func testFrame(seq uint32, n int, vlan uint16) []byte {
	f := make([]byte, n)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1})
	off := 12
	if vlan != 0 {
		binary.BigEndian.PutUint16(f[12:], 0x8100)
		binary.BigEndian.PutUint16(f[14:], vlan)
		off = 16
	}
	binary.BigEndian.PutUint16(f[off:], 0x88b5)
	binary.BigEndian.PutUint32(f[off+2:], seq)
	for i := off + 6; i < n; i++ {
		f[i] = byte(seq) ^ byte(i)
	}
	return f
}

// frameSeq returns the seq of a testFrame, or false.
func frameSeq(d []byte) (uint32, bool) {
	off := 12
	if len(d) >= 16 && binary.BigEndian.Uint16(d[12:]) == 0x8100 {
		off = 16
	}
	if len(d) < off+6 || binary.BigEndian.Uint16(d[off:]) != 0x88b5 {
		return 0, false
	}
	return binary.BigEndian.Uint32(d[off+2:]), true
}

// tuple is an IPv4 5-tuple read from an Ethernet frame.
type tuple struct {
	src, dst         [4]byte
	proto            uint8
	srcPort, dstPort uint16
}

func (u tuple) reverse() tuple {
	return tuple{src: u.dst, dst: u.src, proto: u.proto, srcPort: u.dstPort, dstPort: u.srcPort}
}

// parseIPv4 reads the 5-tuple of an untagged Ethernet/IPv4 TCP or UDP
// frame (ICMP: ports 0).
func parseIPv4(d []byte) (tuple, bool) {
	if len(d) < 34 || binary.BigEndian.Uint16(d[12:]) != 0x0800 {
		return tuple{}, false
	}
	ip := d[14:]
	ihl := int(ip[0]&0xf) * 4
	var u tuple
	copy(u.src[:], ip[12:16])
	copy(u.dst[:], ip[16:20])
	u.proto = ip[9]
	if (u.proto == unix.IPPROTO_TCP || u.proto == unix.IPPROTO_UDP) && len(ip) >= ihl+4 {
		u.srcPort = binary.BigEndian.Uint16(ip[ihl:])
		u.dstPort = binary.BigEndian.Uint16(ip[ihl+2:])
	}
	return u, true
}

// drain reads from s until stop returns true or the deadline passes,
// calling each for every packet before giving the batch back.
func drain(s *Source, b *packet.Batch, deadline time.Time, each func(*packet.Packet), stop func() bool) error {
	for !stop() && time.Now().Before(deadline) {
		if err := s.Next(b); err != nil {
			return err
		}
		for _, p := range b.Pkts {
			each(p)
		}
		s.Done(b)
	}
	return nil
}

// ipv4UDPFrame builds an Ethernet/IPv4/UDP frame of 60 bytes carrying seq.
func ipv4UDPFrame(dstMAC [6]byte, src [4]byte, sport uint16, dst [4]byte, dport uint16, seq uint32) []byte {
	f := make([]byte, 60)
	copy(f, dstMAC[:])
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(ip[2:], 20+8+8)
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := f[34:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], 16)
	binary.BigEndian.PutUint32(udp[8:], seq)
	return f
}

// udpSeq returns the seq of an ipv4UDPFrame.
func udpSeq(d []byte) (uint32, bool) {
	u, ok := parseIPv4(d)
	if !ok || u.proto != unix.IPPROTO_UDP || len(d) < 46 {
		return 0, false
	}
	return binary.BigEndian.Uint32(d[42:]), true
}

// linkCounters returns "ip -s -s link show" of dev in ns, for failure
// messages that tell where frames were lost.
func linkCounters(ns, dev string) string {
	out, _ := exec.Command("ip", "-n", ns, "-s", "-s", "link", "show", "dev", dev).CombinedOutput()
	return string(out)
}

// linkDetails returns "ip -d link show" of dev in ns (shows the
// promiscuity count that packet sockets' memberships raise).
func linkDetails(ns, dev string) string {
	out, _ := exec.Command("ip", "-n", ns, "-d", "link", "show", "dev", dev).CombinedOutput()
	return string(out)
}
