package nfqueue

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/reject"
)

var rejectPayload = []byte("REJECTME")

// rejectLoop is an engine on the router's queue: it forwards everything
// except packets whose payload is rejectPayload, which get a reject verdict
// and the replies reject.Build makes (toward the source, and for TCP
// toward the destination too), sent with Inject before Done.
type rejectLoop struct {
	s        *Source
	b        reject.Builder
	mu       sync.Mutex
	errs     []error
	rejected int
	own      int // packets the loop saw that it injected itself
	stop     chan struct{}
	done     chan struct{}
}

func startRejectLoop(s *Source, b reject.Builder) *rejectLoop {
	l := &rejectLoop{s: s, b: b, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		dec := decode.NewDecoder(decode.Options{})
		bt := packet.NewBatch(64)
		var buf [reject.MaxFrameLen]byte
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			if err := s.Next(bt); err != nil {
				l.fail(err)
				return
			}
			for i, p := range bt.Pkts {
				dec.Decode(p)
				if s.Meta(bt, i).Hook == HookOutput && p.IsTCP() && p.TCPFlags&packet.TCPRst != 0 {
					// A reset the router sent: one of ours, queued
					// again because it lacks the mark.
					l.mu.Lock()
					l.own++
					l.mu.Unlock()
				}
				if !bytes.Equal(p.Payload(), rejectPayload) {
					continue
				}
				p.Verdict, p.Reject = packet.VerdictReject, packet.RejectToSource
				targets := []bool{true}
				if p.IsTCP() {
					p.Reject = packet.RejectBoth
					targets = append(targets, false)
				}
				for _, toSource := range targets {
					n, err := l.b.Build(buf[:], p, toSource)
					if err == nil {
						err = s.Inject(p, toSource, buf[:n])
					}
					if err != nil {
						l.fail(err)
					}
				}
				l.mu.Lock()
				l.rejected++
				l.mu.Unlock()
			}
			s.Done(bt)
		}
	}()
	return l
}

func (l *rejectLoop) fail(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *rejectLoop) halt(t *testing.T) {
	t.Helper()
	close(l.stop)
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		t.Fatal("reject loop did not stop")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) > 0 {
		t.Fatalf("reject loop: %v", l.errs)
	}
}

// TestLiveRejectTCP: a TCP connection through the router; the client's
// segment "REJECTME" is rejected, and the resets injected through raw
// sockets reset both ends. The ruleset also queues the router's own output
// unless it carries the mark: the resets carry it (SO_MARK), so they are
// not queued.
func TestLiveRejectTCP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		name := "ipv4"
		if v6 {
			name = "ipv6"
		}
		t.Run(name, func(t *testing.T) {
			tp := newTopo(t, v6)
			bin, srv := "iptables", serverIP+":8190"
			if v6 {
				bin, srv = "ip6tables", "["+server6+"]:8190"
			}
			tp.iptBin(bin, "-A", "FORWARD", "-m", "mark", "!", "--mark", "0x1/0x1", "-j", "NFQUEUE", "--queue-num", "0")
			tp.iptBin(bin, "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST", "-m", "mark", "--mark", "0x1/0x1")
			tp.iptBin(bin, "-A", "OUTPUT", "-m", "mark", "!", "--mark", "0x1/0x1", "-j", "NFQUEUE", "--queue-num", "0")
			s := tp.open(Options{VerdictMode: ModeRepeat})
			l := startRejectLoop(s, reject.Builder{})
			defer func() {
				select {
				case <-l.done:
				default:
					l.halt(t)
				}
			}()

			var ln net.Listener
			if err := inNetns(tp.server, func() (err error) { ln, err = net.Listen("tcp", srv); return err }); err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			acc := make(chan net.Conn, 1)
			go func() {
				c, _ := ln.Accept()
				acc <- c
			}()
			var client net.Conn
			if err := inNetns(tp.client, func() (err error) { client, err = net.DialTimeout("tcp", srv, 5*time.Second); return err }); err != nil {
				t.Fatalf("connect through the router: %v", err)
			}
			defer client.Close()
			server := <-acc
			if server == nil {
				t.Fatal("no connection accepted")
			}
			defer server.Close()
			client.SetDeadline(time.Now().Add(10 * time.Second))
			server.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := client.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(server, buf); err != nil {
				t.Fatalf("first exchange: %v", err)
			}
			if _, err := client.Write(rejectPayload); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				who  string
				conn net.Conn
			}{{"client", client}, {"server", server}} {
				c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.conn.Read(make([]byte, 64)); !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("%s: read returned %v, want ECONNRESET", c.who, err)
				}
			}
			l.halt(t)
			ctr := s.Counters()
			if l.rejected < 1 || ctr.Injected != uint64(2*l.rejected) || ctr.InjectErrors != 0 || s.Stats().TxDrops != 0 {
				t.Errorf("rejected %d; counters injected %d errors %d", l.rejected, ctr.Injected, ctr.InjectErrors)
			}
			if marked := tp.ruleCountBin(bin, "filter", "OUTPUT", 1); marked != ctr.Injected {
				t.Errorf("%d marked resets left the router, want the %d injected", marked, ctr.Injected)
			}
			if l.own != 0 {
				t.Errorf("the loop received %d of its own injected packets", l.own)
			}
			t.Logf("rejected %d segment(s), injected %d resets, marked %d own %d", l.rejected, ctr.Injected, tp.ruleCountBin(bin, "filter", "OUTPUT", 1), l.own)
		})
	}
}

// TestLiveRejectUDP: a datagram "REJECTME" from a connected UDP socket is
// rejected; the ICMP unreachable injected toward the client makes the
// socket's next read fail: EHOSTUNREACH for Suricata's code (host
// administratively prohibited), ECONNREFUSED for port unreachable, and
// EACCES / ECONNREFUSED for the ICMPv6 codes.
func TestLiveRejectUDP(t *testing.T) {
	cases := []struct {
		name string
		v6   bool
		code reject.Unreachable
		want error
	}{
		{"ipv4-admin", false, reject.AdminProhibited, syscall.EHOSTUNREACH},
		{"ipv4-port", false, reject.PortUnreachable, syscall.ECONNREFUSED},
		{"ipv6-admin", true, reject.AdminProhibited, syscall.EACCES},
		{"ipv6-port", true, reject.PortUnreachable, syscall.ECONNREFUSED},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tp := newTopo(t, c.v6)
			bin, srv := "iptables", serverIP+":8191"
			if c.v6 {
				bin, srv = "ip6tables", "["+server6+"]:8191"
			}
			tp.iptBin(bin, "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "0")
			s := tp.open(Options{})
			l := startRejectLoop(s, reject.Builder{Unreachable: c.code})
			u := tp.udpServer(srv)
			conn := tp.udpClient("", srv)
			if _, err := conn.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if n := u.waitCount(1, 3*time.Second); n != 1 {
				t.Fatalf("first datagram did not pass (%d)", n)
			}
			if _, err := conn.Write(rejectPayload); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := conn.Read(make([]byte, 64))
			if !errors.Is(err, c.want) {
				t.Errorf("read returned %v, want %v", err, c.want)
			}
			l.halt(t)
			if u.count() != 1 {
				t.Errorf("server got %d datagrams, want only the first", u.count())
			}
			if ctr := s.Counters(); l.rejected != 1 || ctr.Injected != 1 || ctr.InjectErrors != 0 {
				t.Errorf("rejected %d, counters %+v", l.rejected, ctr)
			}
		})
	}
}

// ruleCountBin is ruleCount for iptables or ip6tables.
func (tp *topo) ruleCountBin(bin, table, chain string, num int) uint64 {
	tp.t.Helper()
	out := tp.exec(tp.router, bin, "-w", "-t", table, "-L", chain, strconv.Itoa(num), "-v", "-x", "-n")
	f := strings.Fields(out)
	if len(f) == 0 {
		tp.t.Fatalf("no rule %d in %s %s/%s", num, bin, table, chain)
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		tp.t.Fatalf("rule %d of %s %s/%s: %q", num, bin, table, chain, out)
	}
	return n
}

// TestInjectErrors: a frame that is not IP, a source without raw sockets
// and a closed source are refused and counted.
func TestInjectErrors(t *testing.T) {
	s, _ := newFake(t, Options{})
	p := &packet.Packet{}
	if err := s.Inject(p, true, []byte{0x45, 0}); !errors.Is(err, ErrBadFrame) {
		t.Errorf("short frame: %v", err)
	}
	ip := make([]byte, 40)
	ip[0] = 0x45
	if err := s.Inject(p, true, ip); !errors.Is(err, errNoRaw) {
		t.Errorf("no raw socket: %v", err)
	}
	s.Close()
	if err := s.Inject(p, true, ip); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
	if c := s.Counters(); c.InjectErrors != 3 || c.Injected != 0 || s.Stats().TxDrops != 3 {
		t.Errorf("counters %+v, TxDrops %d", c, s.Stats().TxDrops)
	}
}

// TestInjectAllocs sends resets to 127.0.0.1 through the raw sockets of a
// source opened in a namespace of its own: Inject allocates nothing.
func TestInjectAllocs(t *testing.T) {
	tp := newTopo(t, true)
	tp.exec(tp.router, "ip", "link", "set", "dev", "lo", "up")
	s := tp.open(Options{Queue: 9})
	v4 := make([]byte, 40)
	v4[0], v4[8], v4[9] = 0x45, 64, unix.IPPROTO_TCP
	v4[2], v4[3] = 0, 40
	copy(v4[12:], []byte{127, 0, 0, 1})
	copy(v4[16:], []byte{127, 0, 0, 1})
	v6 := make([]byte, 60)
	v6[0], v6[5], v6[6], v6[7] = 0x60, 20, unix.IPPROTO_TCP, 64
	v6[23], v6[39] = 1, 1 // ::1 -> ::1
	p := &packet.Packet{}
	n := testing.AllocsPerRun(100, func() {
		if err := s.Inject(p, true, v4); err != nil {
			t.Fatal(err)
		}
		if err := s.Inject(p, false, v6); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Inject allocates %.1f times per pair", n)
	}
}

// BenchmarkInject: one IPv4 reset through the raw socket to 127.0.0.1.
func BenchmarkInject(b *testing.B) {
	tp := newTopo(b, false)
	tp.exec(tp.router, "ip", "link", "set", "dev", "lo", "up")
	s := tp.open(Options{Queue: 9})
	v4 := make([]byte, 40)
	v4[0], v4[8], v4[9] = 0x45, 64, unix.IPPROTO_TCP
	v4[3] = 40
	copy(v4[12:], []byte{127, 0, 0, 1})
	copy(v4[16:], []byte{127, 0, 0, 1})
	p := &packet.Packet{}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Inject(p, true, v4); err != nil {
			b.Fatal(err)
		}
	}
}
