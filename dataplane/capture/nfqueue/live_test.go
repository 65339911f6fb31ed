package nfqueue

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// tcpTransfer sends n random bytes from client to server through the
// router and reports whether the server got them intact.
func (tp *topo) tcpTransfer(n int) error {
	tp.t.Helper()
	var ln net.Listener
	if err := inNetns(tp.server, func() error {
		var err error
		ln, err = net.Listen("tcp", serverIP+":5001")
		return err
	}); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	sums := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sums <- nil
			return
		}
		defer c.Close()
		h := sha256.New()
		io.Copy(h, c)
		sum := h.Sum(nil)
		c.Write(sum)
		sums <- sum
	}()
	data := make([]byte, n)
	rand.Read(data)
	want := sha256.Sum256(data)
	var conn net.Conn
	if err := inNetns(tp.client, func() error {
		var err error
		conn, err = net.DialTimeout("tcp", serverIP+":5001", 5*time.Second)
		return err
	}); err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	conn.(*net.TCPConn).CloseWrite()
	echo, err := io.ReadAll(conn)
	if err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	if got := <-sums; !bytes.Equal(got, want[:]) || !bytes.Equal(echo, want[:]) {
		return fmt.Errorf("server got different bytes: %w", errMismatch)
	}
	return nil
}

// TestLiveAccept: ping, a TCP transfer and IPv6 UDP pass the queue intact;
// every packet is accepted once and counted.
func TestLiveAccept(t *testing.T) {
	tp := newTopo(t, true)
	tp.ipt("-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "3")
	tp.iptBin("ip6tables", "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "3")
	u6 := tp.udpServer("[" + server6 + "]:7006")
	for _, gso := range []bool{false, true} {
		t.Run(fmt.Sprintf("gso=%v", gso), func(t *testing.T) {
			tp.t = t
			tp.ipt("-Z", "FORWARD")
			s := tp.open(Options{Queue: 3, GSO: gso, RecvBuffer: 4 << 20})
			var maxLen, v6 atomic.Int64
			var badMeta atomic.Value
			l := runLoop(s, func(p *packet.Packet, m Meta) packet.Verdict {
				if int64(len(p.Data)) > maxLen.Load() {
					maxLen.Store(int64(len(p.Data)))
				}
				ver := p.Data[0] >> 4
				ok := m.Hook == HookForward && m.InDev != 0 && m.OutDev != 0 && m.InDev != m.OutDev &&
					p.LinkType == packet.LinkRaw && p.Handle == uint64(m.ID) && p.WireLen == len(p.Data) &&
					((ver == 4 && m.HWProtocol == 0x0800) || (ver == 6 && m.HWProtocol == 0x86dd))
				if len(p.Data) > 1500 && m.SkbInfo&SkbGSO == 0 {
					ok = false
				}
				if !ok {
					badMeta.Store(fmt.Sprintf("len %d meta %+v", len(p.Data), m))
				}
				if ver == 6 {
					v6.Add(1)
				}
				return packet.VerdictForward
			})
			if n := tp.ping(5); n != 5 {
				t.Errorf("%d of 5 pings answered", n)
			}
			t0 := time.Now()
			if err := tp.tcpTransfer(4 << 20); err != nil {
				t.Errorf("TCP transfer: %v", err)
			}
			t.Logf("tcp transfer took %v", time.Since(t0))
			before := u6.count()
			c6 := tp.udpClient("", "["+server6+"]:7006")
			sendUDP(t, c6, 5, time.Millisecond, func(i int) []byte { return []byte("six") })
			if got := u6.waitCount(before+5, 3*time.Second) - before; got != 5 {
				t.Errorf("%d of 5 IPv6 datagrams arrived", got)
			}
			waitFor(time.Second, func() bool { return s.Stats().Packets == s.Counters().Accepted })
			l.halt(t)
			if v := badMeta.Load(); v != nil {
				t.Errorf("unexpected packet/meta: %v", v)
			}
			c := s.Counters()
			st := s.Stats()
			t.Logf("gso=%v: %+v, largest packet %d bytes", gso, c, maxLen.Load())
			if c.Received < 10+5+100 || c.Accepted != c.Received || c.Dropped != 0 {
				t.Errorf("received %d accepted %d dropped %d", c.Received, c.Accepted, c.Dropped)
			}
			if c.VerdictErrors != 0 || c.VerdictNacks != 0 || c.ParseErrors != 0 || c.InvalidDrops != 0 || st.KernelDrops != 0 {
				t.Errorf("errors or drops: %+v, stats %+v", c, st)
			}
			if v6.Load() < 5 {
				t.Errorf("%d IPv6 packets queued, want >= 5", v6.Load())
			}
			if !gso && maxLen.Load() > 1500 {
				t.Errorf("without GSO a %d-byte packet was queued", maxLen.Load())
			}
			// With GSO every queued skb is one packet for us, so the rule's
			// counter (IPv4) plus the IPv6 ones equals what we received.
			if gso {
				if n := tp.ruleCount("filter", "FORWARD", 1) + uint64(v6.Load()); n != c.Received {
					t.Errorf("iptables queued %d packets, source received %d", n, c.Received)
				}
			}
			if st.Packets != c.Received || st.Bytes != c.Bytes {
				t.Errorf("stats %+v disagree with counters", st)
			}
		})
	}
}

// TestLiveDrop: packets to one UDP port are dropped, others pass.
func TestLiveDrop(t *testing.T) {
	tp := newTopo(t, false)
	tp.ipt("-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "0")
	s := tp.open(Options{})
	l := runLoop(s, func(p *packet.Packet, m Meta) packet.Verdict {
		if _, dst, _, ok := ipv4UDP(p.Data); ok && dst == 7001 {
			return packet.VerdictDrop
		}
		return packet.VerdictForward
	})
	if n := tp.ping(2); n != 2 { // also resolves the neighbours
		t.Fatalf("%d of 2 pings answered", n)
	}
	blocked, open := tp.udpServer(serverIP+":7001"), tp.udpServer(serverIP+":7002")
	cb, co := tp.udpClient("", serverIP+":7001"), tp.udpClient("", serverIP+":7002")
	for i := 0; i < 50; i++ {
		sendUDP(t, cb, 1, 0, func(int) []byte { return []byte("blocked") })
		sendUDP(t, co, 1, 0, func(int) []byte { return []byte("open") })
	}
	if n := open.waitCount(50, 3*time.Second); n != 50 {
		t.Errorf("%d of 50 datagrams to the open port arrived", n)
	}
	time.Sleep(200 * time.Millisecond)
	if n := blocked.count(); n != 0 {
		t.Errorf("%d datagrams to the dropped port arrived", n)
	}
	l.halt(t)
	c := s.Counters()
	if c.Dropped != 50 || c.Accepted != 54 || c.Received != 104 || c.VerdictErrors != 0 {
		t.Errorf("counters %+v, want 50 dropped, 54 accepted (50 UDP + 4 ICMP)", c)
	}
}

// TestLiveRepeat: with NF_REPEAT and the mark, the chain's later rules see
// each packet, and the queueing rule matches each packet exactly once.
func TestLiveRepeat(t *testing.T) {
	tp := newTopo(t, false)
	tp.ipt("-t", "mangle", "-A", "PREROUTING", "-j", "MARK", "--set-xmark", "0x100/0x100")
	tp.ipt("-A", "FORWARD", "-m", "mark", "!", "--mark", "0x1/0x1", "-j", "NFQUEUE", "--queue-num", "0")
	tp.ipt("-A", "FORWARD", "-m", "mark", "--mark", "0x101/0xffffffff", "-j", "ACCEPT")
	tp.ipt("-A", "FORWARD", "-j", "DROP")
	s := tp.open(Options{VerdictMode: ModeRepeat, Mark: 0x1, Mask: 0x1})
	var wrongMark atomic.Uint32
	l := runLoop(s, func(p *packet.Packet, m Meta) packet.Verdict {
		if m.Mark != 0x100 {
			wrongMark.Store(m.Mark | 0x80000000)
		}
		return packet.VerdictForward
	})
	if n := tp.ping(5); n != 5 {
		t.Errorf("%d of 5 pings answered", n)
	}
	u := tp.udpServer(serverIP + ":7003")
	sendUDP(t, tp.udpClient("", serverIP+":7003"), 20, time.Millisecond, func(int) []byte { return []byte("r") })
	if n := u.waitCount(20, 3*time.Second); n != 20 {
		t.Errorf("%d of 20 datagrams arrived", n)
	}
	time.Sleep(100 * time.Millisecond)
	l.halt(t)
	if m := wrongMark.Load(); m != 0 {
		t.Errorf("queued packet had mark %#x, want 0x100", m&^0x80000000)
	}
	c := s.Counters()
	if c.Received != 30 || c.Repeated != 30 || c.BatchVerdicts+c.SingleVerdicts == 0 {
		t.Errorf("counters %+v, want 30 received and repeated (10 ICMP + 20 UDP)", c)
	}
	if q, a, d := tp.ruleCount("filter", "FORWARD", 1), tp.ruleCount("filter", "FORWARD", 2), tp.ruleCount("filter", "FORWARD", 3); q != 30 || a != 30 || d != 0 {
		t.Errorf("rule counters: queued %d, accepted with mark 0x101 %d, dropped %d; want 30 30 0", q, a, d)
	}
}

// TestLiveBypass: the bypass mark lets the documented connmark ruleset take
// the rest of a flow past the queue.
func TestLiveBypass(t *testing.T) {
	tp := newTopo(t, false)
	tp.ipt("-t", "mangle", "-A", "PREROUTING", "-j", "CONNMARK", "--restore-mark", "--mask", "0x2")
	tp.ipt("-A", "FORWARD", "-m", "mark", "--mark", "0x2/0x2", "-j", "ACCEPT")
	tp.ipt("-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "0")
	tp.ipt("-t", "mangle", "-A", "POSTROUTING", "-m", "mark", "--mark", "0x2/0x2", "-j", "CONNMARK", "--save-mark", "--mask", "0x2")
	s := tp.open(Options{BypassMark: 0x2})
	var udpSeen atomic.Int64
	l := runLoop(s, func(p *packet.Packet, m Meta) packet.Verdict {
		if _, _, _, ok := ipv4UDP(p.Data); ok {
			udpSeen.Add(1)
			return packet.VerdictBypass
		}
		return packet.VerdictForward
	})
	if n := tp.ping(2); n != 2 {
		t.Fatalf("%d of 2 pings answered", n)
	}
	u := tp.udpServer(serverIP + ":7004")
	sendUDP(t, tp.udpClient("", serverIP+":7004"), 10, 5*time.Millisecond, func(int) []byte { return []byte("bypass me") })
	if n := u.waitCount(10, 3*time.Second); n != 10 {
		t.Errorf("%d of 10 datagrams arrived", n)
	}
	l.halt(t)
	c := s.Counters()
	if udpSeen.Load() != 1 || c.Bypassed != 1 || c.Accepted != 4 {
		t.Errorf("UDP packets queued %d (want only the first of the flow), counters %+v", udpSeen.Load(), c)
	}
	if n := tp.ruleCount("filter", "FORWARD", 1); n != 9 {
		t.Errorf("connmark bypass rule matched %d packets, want 9", n)
	}
}

// TestLiveQueueBalance: --queue-balance 0:1 spreads flows over two sources,
// each flow (address pair) staying on one.
func TestLiveQueueBalance(t *testing.T) {
	tp := newTopo(t, false)
	tp.ipt("-A", "FORWARD", "-j", "NFQUEUE", "--queue-balance", "0:1")
	queues, err := ParseQueues("0:1")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	srcByQueue := map[uint16]map[string]bool{}
	var loops []*verdictLoop
	var srcs []*Source
	for _, q := range queues {
		s := tp.open(Options{Queue: q})
		srcs = append(srcs, s)
		srcByQueue[q] = map[string]bool{}
		loops = append(loops, runLoop(s, func(p *packet.Packet, m Meta) packet.Verdict {
			mu.Lock()
			srcByQueue[p.Queue][net.IP(p.Data[12:16]).String()] = true
			mu.Unlock()
			return packet.VerdictForward
		}))
	}
	u := tp.udpServer(serverIP + ":7020")
	const flows = 24
	for i := 0; i < flows; i++ {
		addr := fmt.Sprintf("10.91.1.%d", 10+i)
		tp.run("ip", "-n", tp.client, "addr", "add", addr+"/24", "dev", tp.cIf)
		sendUDP(t, tp.udpClient(addr+":0", serverIP+":7020"), 2, time.Millisecond, func(int) []byte { return []byte("bal") })
	}
	if n := u.waitCount(2*flows, 3*time.Second); n != 2*flows {
		t.Errorf("%d of %d datagrams arrived", n, 2*flows)
	}
	for _, l := range loops {
		l.halt(t)
	}
	c0, c1 := srcs[0].Counters(), srcs[1].Counters()
	t.Logf("queue 0: %d packets from %d addresses, queue 1: %d from %d", c0.Received, len(srcByQueue[0]), c1.Received, len(srcByQueue[1]))
	if c0.Received == 0 || c1.Received == 0 || c0.Received+c1.Received != 2*flows {
		t.Errorf("queue 0 got %d, queue 1 got %d, want both > 0 and %d in all", c0.Received, c1.Received, 2*flows)
	}
	for a := range srcByQueue[0] {
		if srcByQueue[1][a] {
			t.Errorf("flow from %s seen on both queues", a)
		}
	}
}

// TestLiveRoute: queue 4 routes every forwarded packet to queue 5, whose
// source accepts it; without a reader on queue 5 the packets are dropped.
func TestLiveRoute(t *testing.T) {
	tp := newTopo(t, false)
	tp.ipt("-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "4")
	a := tp.open(Options{Queue: 4, VerdictMode: ModeRoute, RouteQueue: 5})
	b := tp.open(Options{Queue: 5})
	la, lb := runLoop(a, acceptAll), runLoop(b, acceptAll)
	if n := tp.ping(3); n != 3 {
		t.Errorf("%d of 3 pings answered", n)
	}
	u := tp.udpServer(serverIP + ":7030")
	c := tp.udpClient("", serverIP+":7030")
	sendUDP(t, c, 10, time.Millisecond, func(int) []byte { return []byte("route") })
	if n := u.waitCount(10, 3*time.Second); n != 10 {
		t.Errorf("%d of 10 datagrams arrived", n)
	}
	time.Sleep(100 * time.Millisecond)
	lb.halt(t)
	b.Close()
	ca, cb := a.Counters(), b.Counters()
	if ca.Received != 16 || ca.Routed != 16 || cb.Received != 16 || cb.Accepted != 16 {
		t.Errorf("queue 4 %+v\nqueue 5 %+v\nwant 16 routed and 16 accepted", ca, cb)
	}
	// No reader on queue 5 any more: routed packets die there.
	sendUDP(t, c, 5, time.Millisecond, func(int) []byte { return []byte("lost") })
	time.Sleep(300 * time.Millisecond)
	if n := u.count(); n != 10 {
		t.Errorf("%d datagrams arrived with queue 5 closed, want still 10", n)
	}
	la.halt(t)
	if ca := a.Counters(); ca.Routed != 21 {
		t.Errorf("queue 4 routed %d, want 21", ca.Routed)
	}
}

// TestLiveModifyAndTruncate: a rewritten payload reaches the server; a
// packet captured truncated by CopyRange is still forwarded whole.
func TestLiveModifyAndTruncate(t *testing.T) {
	tp := newTopo(t, false)
	tp.ipt("-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "0")
	s := tp.open(Options{CopyRange: 200})
	var truncSeen atomic.Int64
	var badTrunc atomic.Value
	l := runLoop(s, func(p *packet.Packet, m Meta) packet.Verdict {
		_, dst, off, ok := ipv4UDP(p.Data)
		if !ok {
			return packet.VerdictForward
		}
		switch dst {
		case 7040: // rewrite lower case to upper case, drop the UDP checksum
			for i := off; i < len(p.Data); i++ {
				if c := p.Data[i]; c >= 'a' && c <= 'z' {
					p.Data[i] = c - 32
				}
			}
			p.Data[off-2], p.Data[off-1] = 0, 0
			p.Flags |= packet.FlagModified
		case 7041:
			truncSeen.Add(1)
			if len(p.Data) != 200 || p.WireLen != 20+8+1000 || m.CapLen != 1028 {
				badTrunc.Store(fmt.Sprintf("len %d wire %d caplen %d", len(p.Data), p.WireLen, m.CapLen))
			}
		}
		return packet.VerdictForward
	})
	if n := tp.ping(1); n != 1 {
		t.Fatalf("ping unanswered")
	}
	um, ut := tp.udpServer(serverIP+":7040"), tp.udpServer(serverIP+":7041")
	sendUDP(t, tp.udpClient("", serverIP+":7040"), 5, time.Millisecond, func(i int) []byte { return []byte(fmt.Sprintf("hello-%d", i)) })
	big := bytes.Repeat([]byte("0123456789"), 100)
	sendUDP(t, tp.udpClient("", serverIP+":7041"), 5, time.Millisecond, func(int) []byte { return big })
	um.waitCount(5, 3*time.Second)
	ut.waitCount(5, 3*time.Second)
	l.halt(t)
	um.mu.Lock()
	for i, g := range um.got {
		if want := fmt.Sprintf("HELLO-%d", i); string(g) != want {
			t.Errorf("datagram %d arrived as %q, want %q", i, g, want)
		}
	}
	if len(um.got) != 5 {
		t.Errorf("%d of 5 rewritten datagrams arrived", len(um.got))
	}
	um.mu.Unlock()
	ut.mu.Lock()
	if len(ut.got) != 5 || !bytes.Equal(ut.got[0], big) {
		t.Errorf("%d of 5 truncated-capture datagrams arrived whole", len(ut.got))
	}
	ut.mu.Unlock()
	if v := badTrunc.Load(); v != nil || truncSeen.Load() != 5 {
		t.Errorf("truncated capture: %v, seen %d", v, truncSeen.Load())
	}
	c := s.Counters()
	if c.Modified != 5 || c.Truncated != 5 || c.ModifyFailed != 0 || c.Accepted != 12 || s.Stats().Truncated != 5 {
		t.Errorf("counters %+v", c)
	}
}

// BenchmarkLiveFlood measures verdicts per second: a UDP flood from the
// client through the router's queue, every packet accepted.
//
//	go test -run '^$' -bench LiveFlood -benchtime 300000x ./dataplane/capture/nfqueue/
func BenchmarkLiveFlood(b *testing.B) {
	tp := newTopo(b, false)
	tp.ipt("-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "0")
	s := tp.open(Options{RecvBuffer: 4 << 20, MaxLen: 16384})
	u := tp.udpServer(serverIP + ":7050")
	const senders = 2
	conns := make([]*net.UDPConn, senders)
	for i := range conns {
		conns[i] = tp.udpClient("", serverIP+":7050")
	}
	l := runLoop(s, acceptAll)
	if n := tp.ping(1); n != 1 { // neighbours resolved before the flood
		b.Fatalf("ping through the router unanswered")
	}
	payload := make([]byte, 64)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func(c *net.UDPConn, n int) {
			defer wg.Done()
			for j := 0; j < n; j++ {
				c.Write(payload)
			}
		}(conns[i], b.N/senders)
	}
	wg.Wait()
	sent := uint64(b.N / senders * senders)
	var last uint64
	for {
		time.Sleep(50 * time.Millisecond)
		st := s.Stats()
		done := st.Packets + st.KernelDrops
		if done >= sent || done == last {
			break
		}
		last = done
	}
	elapsed := time.Since(start)
	b.StopTimer()
	l.halt(b)
	c, st := s.Counters(), s.Stats()
	b.ReportMetric(float64(c.Accepted)/elapsed.Seconds(), "verdicts/s")
	b.ReportMetric(float64(l.cpu.Nanoseconds())/float64(c.Received+1), "loop-cpu-ns/pkt")
	b.ReportMetric(float64(l.user.Nanoseconds())/float64(c.Received+1), "loop-user-ns/pkt")
	b.ReportMetric(float64(st.KernelDrops), "kdrops")
	b.ReportMetric(float64(c.Received)/float64(c.Recvs+1), "pkts/recv")
	b.ReportMetric(float64(c.Received)/float64(c.Writes+1), "pkts/write")
	b.Logf("sent %d, received %d, delivered %d, kernel drops %d, ENOBUFS %d, batch verdicts %d, single %d, writes %d, in %v, loop thread CPU %v",
		sent, c.Received, u.count(), st.KernelDrops, c.ENOBUFS, c.BatchVerdicts, c.SingleVerdicts, c.Writes, elapsed, l.cpu)
}
