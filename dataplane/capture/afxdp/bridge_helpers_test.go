//go:build linux

package afxdp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// bridgeNet is client ns <-> [A | vigil | B] <-> server ns:
// vxa-cli:vxac (10.77.0.1) - vxaba ~ vxabb - vxas (10.77.0.2):vxa-srv.
type bridgeNet struct {
	cliNS, srvNS string
	a, b         string // the bridge's interfaces, here
	cli, srv     string // the hosts' interfaces, in their namespaces
}

const (
	cliIP = "10.77.0.1"
	srvIP = "10.77.0.2"
)

func newBridgeNet(t testing.TB) *bridgeNet {
	t.Helper()
	n := &bridgeNet{cliNS: "vxa-cli", srvNS: "vxa-srv", a: "vxaba", b: "vxabb", cli: "vxac", srv: "vxas"}
	netns(t, n.cliNS)
	netns(t, n.srvNS)
	veth(t, n.a, n.cli, n.cliNS)
	veth(t, n.b, n.srv, n.srvNS)
	run(t, "ip", "-n", n.cliNS, "addr", "add", cliIP+"/24", "dev", n.cli)
	run(t, "ip", "-n", n.srvNS, "addr", "add", srvIP+"/24", "dev", n.srv)
	// veth leaves TCP/UDP checksums to "hardware" (CHECKSUM_PARTIAL) and
	// sends 64 KB GSO segments; a frame copied out through AF_XDP and
	// sent again has neither, as on a real wire. Make the hosts send
	// finished frames.
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("ethtool not installed (needed to turn off veth checksum offload)")
	}
	for _, h := range [][2]string{{n.cliNS, n.cli}, {n.srvNS, n.srv}} {
		run(t, "ip", "netns", "exec", h[0], "ethtool", "-K", h[1], "tx", "off", "tso", "off", "gso", "off")
	}
	return n
}

// engine runs the receive/verdict/Done loop of a bridge in a goroutine,
// as a pipeline worker would.
type engine struct {
	stop    atomic.Bool
	done    chan error
	batches atomic.Uint64
}

// runEngine starts the loop; verdict decides each packet; with audit the
// frame accounting is checked after every batch. The loop is stopped in
// t.Cleanup (before the Source's Close, registered earlier).
func runEngine(t testing.TB, s *Source, verdict func(*packet.Packet) packet.Verdict, audit bool) *engine {
	e := &engine{done: make(chan error, 1)}
	go func() {
		b := packet.NewBatch(64)
		for !e.stop.Load() {
			if err := s.Next(b); err != nil {
				e.done <- err
				return
			}
			for _, p := range b.Pkts {
				if err := packetError(s, p); err != nil {
					e.done <- err
					return
				}
				if verdict != nil {
					p.Verdict = verdict(p)
				}
			}
			s.Done(b)
			e.batches.Add(1)
			if audit {
				if err := s.u.audit(); err != nil {
					e.done <- fmt.Errorf("after batch %d: %w", e.batches.Load(), err)
					return
				}
			}
		}
		e.done <- nil
	}()
	t.Cleanup(func() { e.halt(t) })
	return e
}

// halt stops the loop and fails the test if it had failed.
func (e *engine) halt(t testing.TB) {
	t.Helper()
	if e.stop.Swap(true) {
		return
	}
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("engine: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("engine did not stop")
	}
}

// icmpEchoLen returns the ICMP payload length of an IPv4 echo request, or
// -1 for anything else.
func icmpEchoLen(f []byte) int {
	if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[23] != 1 {
		return -1
	}
	ihl := int(f[14]&15) * 4
	if len(f) < 14+ihl+8 || f[14+ihl] != 8 {
		return -1
	}
	return int(binary.BigEndian.Uint16(f[16:])) - ihl - 8
}

// ping sends count ICMP echo requests with size payload bytes from the
// client to the server (a raw socket in the client namespace; no ping
// binary needed) and returns how many replies came back.
func (n *bridgeNet) ping(t testing.TB, count, size int) int {
	t.Helper()
	var fd int
	if err := inNetns(n.cliNS, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return err
	}); err != nil {
		t.Fatalf("ICMP socket in %s: %v", n.cliNS, err)
	}
	defer unix.Close(fd)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	dst := &unix.SockaddrInet4{Addr: [4]byte(net.ParseIP(srvIP).To4())}
	id := uint16(size)
	replies := 0
	buf := make([]byte, 2048)
	for seq := 0; seq < count; seq++ {
		req := make([]byte, 8+size)
		req[0] = 8 // echo request
		binary.BigEndian.PutUint16(req[4:], id)
		binary.BigEndian.PutUint16(req[6:], uint16(seq))
		for i := 8; i < len(req); i++ {
			req[i] = byte(i)
		}
		binary.BigEndian.PutUint16(req[2:], ^onesSum(req))
		if err := unix.Sendto(fd, req, 0, dst); err != nil {
			t.Fatalf("send echo request: %v", err)
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			m, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue // timeout tick
			}
			ihl := int(buf[0]&15) * 4
			r := buf[ihl:m]
			if len(r) == 8+size && r[0] == 0 && binary.BigEndian.Uint16(r[4:]) == id &&
				binary.BigEndian.Uint16(r[6:]) == uint16(seq) && bytes.Equal(r[8:], req[8:]) {
				replies++
				break
			}
		}
	}
	return replies
}

func onesSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// tcpTransfer sends up bytes client -> server and down bytes back over one
// TCP connection and checks both arrive intact.
func (n *bridgeNet) tcpTransfer(t testing.TB, up, down int) {
	t.Helper()
	upData, downData := make([]byte, up), make([]byte, down)
	rand.Read(upData)
	rand.Read(downData)
	var ln net.Listener
	if err := inNetns(n.srvNS, func() (err error) {
		ln, err = net.Listen("tcp4", srvIP+":5001")
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", n.srvNS, err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		h := sha256.New()
		if _, err := io.CopyN(h, c, int64(up)); err != nil {
			srvErr <- fmt.Errorf("server read: %w", err)
			return
		}
		if want := sha256.Sum256(upData); !bytes.Equal(h.Sum(nil), want[:]) {
			srvErr <- fmt.Errorf("server received different bytes")
			return
		}
		if _, err := c.Write(downData); err != nil {
			srvErr <- fmt.Errorf("server write: %w", err)
			return
		}
		srvErr <- nil
	}()
	var c net.Conn
	if err := inNetns(n.cliNS, func() (err error) {
		c, err = net.DialTimeout("tcp4", srvIP+":5001", 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connect from %s: %v", n.cliNS, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	wErr := make(chan error, 1)
	go func() { _, err := c.Write(upData); wErr <- err }()
	got := make([]byte, down)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if err := <-wErr; err != nil {
		t.Fatalf("client write: %v", err)
	}
	if err := <-srvErr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, downData) {
		t.Fatal("client received different bytes")
	}
}
