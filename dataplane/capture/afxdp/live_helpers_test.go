//go:build linux

package afxdp

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// Live tests build veth pairs whose vigil end stays in this process's
// network namespace and whose far end goes into a namespace named vxa-*.
// Every name starts with "vxa"; everything is deleted in t.Cleanup.

// requireLive skips the test unless it runs as root on a kernel with
// AF_XDP and the ip tool.
func requireLive(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live AF_XDP test needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF)")
	}
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("kernel has no AF_XDP sockets: %v", err)
	}
	unix.Close(fd)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
}

// run runs a command and fails the test if it fails.
func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// quiet runs a command and ignores failure (cleanup of leftovers).
func quiet(args ...string) {
	exec.Command(args[0], args[1:]...).Run()
}

// netns creates namespace name (removing a leftover of an earlier run)
// with IPv6 off, so that only the test's own frames are on the wire.
func netns(t testing.TB, name string) {
	t.Helper()
	quiet("ip", "netns", "del", name)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { quiet("ip", "netns", "del", name) })
	run(t, "ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	run(t, "ip", "-n", name, "link", "set", "dev", "lo", "up")
}

// veth creates a veth pair a (here) <-> b (moved into namespace ns), both
// up, IPv6 off on a. extra are options for "ip link add" (numrxqueues ...).
func veth(t testing.TB, a, b, ns string, extra ...string) {
	t.Helper()
	quiet("ip", "link", "del", a)
	args := append([]string{"ip", "link", "add", a}, extra...)
	args = append(args, "type", "veth", "peer", "name", b)
	args = append(args, extra...)
	run(t, args...)
	t.Cleanup(func() { quiet("ip", "link", "del", a) })
	quiet("sysctl", "-qw", "net.ipv6.conf."+a+".disable_ipv6=1")
	run(t, "ip", "link", "set", "dev", b, "netns", ns)
	run(t, "ip", "link", "set", "dev", a, "up")
	run(t, "ip", "-n", ns, "link", "set", "dev", b, "up")
}

// inNetns runs fn on an OS thread switched into namespace ns. Sockets fn
// creates belong to ns and can be used from any goroutine afterwards. The
// thread is thrown away when fn returns.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// rawSocket opens an AF_PACKET socket bound to ifname in namespace ns.
func rawSocket(t testing.TB, ns, ifname string) int {
	t.Helper()
	var fd int
	err := inNetns(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatalf("raw socket on %s in %s: %v", ifname, ns, err)
	}
	// Only send on it: a tiny receive buffer keeps it from queueing.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// sendPaced writes frames on fd, sleeping a little every burst frames so
// the veth's receive queue (256 entries in XDP mode) does not overflow.
func sendPaced(t testing.TB, fd int, frames [][]byte, burst int, pause time.Duration) {
	t.Helper()
	for i, f := range frames {
		for {
			_, err := unix.Write(fd, f)
			if err == nil {
				break
			}
			if err != unix.ENOBUFS && err != unix.EAGAIN {
				t.Fatalf("send frame %d: %v", i, err)
			}
			time.Sleep(100 * time.Microsecond)
		}
		if burst > 0 && (i+1)%burst == 0 {
			time.Sleep(pause)
		}
	}
}

func mac(t testing.TB, ns, ifname string) net.HardwareAddr {
	t.Helper()
	var hw net.HardwareAddr
	err := func() error {
		if ns == "" {
			ifi, err := net.InterfaceByName(ifname)
			if err == nil {
				hw = ifi.HardwareAddr
			}
			return err
		}
		return inNetns(ns, func() error {
			ifi, err := net.InterfaceByName(ifname)
			if err == nil {
				hw = ifi.HardwareAddr
			}
			return err
		})
	}()
	if err != nil {
		t.Fatalf("MAC of %s: %v", ifname, err)
	}
	return hw
}

// testMagic marks the test's UDP payloads.
const testMagic = 0x76786470 // "vxdp"

// udpTestFrame builds Ethernet/IPv4/UDP with a payload of n bytes that
// carries testMagic, seq and a pattern derived from seq; srcPort varies
// the flow.
func udpTestFrame(t testing.TB, src, dst net.HardwareAddr, seq uint32, srcPort uint16, n int) []byte {
	t.Helper()
	if n < 8 {
		n = 8
	}
	pl := make([]byte, n)
	binary.BigEndian.PutUint32(pl, testMagic)
	binary.BigEndian.PutUint32(pl[4:], seq)
	for i := 8; i < n; i++ {
		pl[i] = byte(seq) + byte(i)
	}
	eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 99, 0, 1}, DstIP: net.IP{10, 99, 0, 2}, Id: uint16(seq)}
	udp := &layers.UDP{SrcPort: layers.UDPPort(srcPort), DstPort: 7777}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(pl)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// testSeq returns the sequence number of a frame built by udpTestFrame,
// or false for any other frame.
func testSeq(f []byte) (uint32, bool) {
	if len(f) < 14+20+8+8 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[23] != 17 {
		return 0, false
	}
	ihl := int(f[14]&15) * 4
	off := 14 + ihl
	if len(f) < off+16 || binary.BigEndian.Uint16(f[off+2:]) != 7777 || binary.BigEndian.Uint32(f[off+8:]) != testMagic {
		return 0, false
	}
	return binary.BigEndian.Uint32(f[off+12:]), true
}

// linkStats returns the kernel's counters of ifname (in ns, or here when
// ns is empty) from "ip -s -j link show".
type linkCounters struct {
	RxPackets, RxDropped, TxPackets, TxDropped uint64
}

func linkStats(t testing.TB, ns, ifname string) linkCounters {
	t.Helper()
	args := []string{"ip", "-s", "-j"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	out := run(t, append(args, "link", "show", "dev", ifname)...)
	var v []struct {
		Stats64 struct {
			Rx struct{ Packets, Dropped uint64 }
			Tx struct{ Packets, Dropped uint64 }
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("ip link stats of %s: %v in %q", ifname, err, out)
	}
	s := v[0].Stats64
	return linkCounters{s.Rx.Packets, s.Rx.Dropped, s.Tx.Packets, s.Tx.Dropped}
}

// collect reads from s until want test frames arrived or timeout passed,
// copying each test frame by sequence number. It checks every batch's
// packets and the frame accounting.
func collect(t testing.TB, s *Source, want int, timeout time.Duration, got map[uint32][]byte) {
	t.Helper()
	if err := collectErr(s, want, timeout, got); err != nil {
		t.Fatal(err)
	}
}

// collectErr is collect for goroutines other than the test's.
func collectErr(s *Source, want int, timeout time.Duration, got map[uint32][]byte) error {
	b := newTestBatch(64)
	deadline := time.Now().Add(timeout)
	for len(got) < want && time.Now().Before(deadline) {
		if err := s.Next(b); err != nil {
			return fmt.Errorf("Next: %w", err)
		}
		for _, p := range b.Pkts {
			if err := packetError(s, p); err != nil {
				return err
			}
			if seq, ok := testSeq(p.Data); ok {
				if _, dup := got[seq]; dup {
					return fmt.Errorf("frame %d received twice", seq)
				}
				got[seq] = bytes.Clone(p.Data)
			}
		}
		s.Done(b)
		if err := s.u.audit(); err != nil {
			return fmt.Errorf("frame accounting: %w", err)
		}
	}
	return nil
}
