package main

// End-to-end live tests: the vigil binary captures in network namespaces
// with each backend (AF_PACKET, AF_XDP, NFQUEUE; DPDK in live_dpdk_test.go)
// while the test sends bounded traffic with rule hits; the alerts in
// eve.json, the traffic that must arrive intact, the traffic inline drop
// rules must stop, and the final counters are checked. They need root and
// skip otherwise. Names start with "vlive".

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain removes the vigil binary the live tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if liveBinDir != "" {
		os.RemoveAll(liveBinDir)
	}
	os.Exit(code)
}

// liveTraffic is what every test sends from the client to the server.
const (
	liveUDPCount = 10        // datagrams per UDP series
	livePings    = 5         // echo requests
	liveTCPBytes = 512 << 10 // random bytes after the TCP marker
)

// trafficResult says what reached the server.
type trafficResult struct {
	mark, drop, plain *udpSink // UDP to 7001, 7003, 7004
	pings             int      // echo replies
	tcpErr            error    // the TCP transfer's failure, or nil
}

// sendLiveTraffic sends, from clientNS (address client) to server (in
// serverNS): pings, a TCP transfer with the marker on port 7002, and three
// UDP series (marked to 7001, drop-marked to 7003, unmarked to 7004). When
// it returns, the datagrams that were going to arrive have.
func sendLiveTraffic(t *testing.T, clientNS, client, serverNS, server string) *trafficResult {
	t.Helper()
	tr := &trafficResult{
		mark:  listenUDP(t, serverNS, fmt.Sprintf("%s:%d", server, portUDPMark)),
		drop:  listenUDP(t, serverNS, fmt.Sprintf("%s:%d", server, portUDPDrop)),
		plain: listenUDP(t, serverNS, fmt.Sprintf("%s:%d", server, portUDPPlain)),
	}
	tr.pings = ping(t, clientNS, client, server, livePings)
	tr.tcpErr = tcpTransfer(t, clientNS, serverNS, fmt.Sprintf("%s:%d", server, portTCP), liveTCPBytes)
	sendUDP(t, clientNS, fmt.Sprintf("%s:%d", server, portUDPMark), "VLIVE-UDP-MARK", liveUDPCount)
	sendUDP(t, clientNS, fmt.Sprintf("%s:%d", server, portUDPDrop), "VLIVE-DROP-MARK", liveUDPCount)
	sendUDP(t, clientNS, fmt.Sprintf("%s:%d", server, portUDPPlain), "plain", liveUDPCount)
	// The unmarked series went last: once it is in (or after 3s), give
	// stragglers of the other series a moment.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if n, _, _ := tr.plain.counts(); n == liveUDPCount {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	return tr
}

// check verifies what arrived: everything, except the drop-marked series
// when inline is set (none of it may arrive then).
func (tr *trafficResult) check(t *testing.T, inline bool) {
	t.Helper()
	if tr.pings != livePings {
		t.Errorf("ping: %d of %d echo requests answered", tr.pings, livePings)
	}
	if tr.tcpErr != nil {
		t.Errorf("TCP: %v", tr.tcpErr)
	}
	for _, s := range []struct {
		name string
		sink *udpSink
		want int
	}{{"marked UDP (alert)", tr.mark, liveUDPCount}, {"unmarked UDP", tr.plain, liveUDPCount},
		{"drop-marked UDP", tr.drop, map[bool]int{false: liveUDPCount, true: 0}[inline]}} {
		n, dups, bad := s.sink.counts()
		if n != s.want || dups != 0 || bad != 0 {
			t.Errorf("%s: %d of %d datagrams arrived intact (want %d), %d duplicated, %d foreign or corrupted",
				s.name, n, liveUDPCount, s.want, dups, bad)
		}
	}
}

// liveWant are the alerts the traffic raises: every marked datagram, every
// echo request, the TCP marker once. Inline, raw stream inspection sees a
// sliding window of the data before each segment again (Suricata's
// stream.inline; stream.Config.InlineWindow, 2 KiB), so the segment after
// the marker's may match again: up to 2 then.
func liveWant(inline bool) map[int]alertRange {
	tcp := alertRange{1, 1}
	if inline {
		tcp.max = 2
	}
	return map[int]alertRange{sidUDPMark: {liveUDPCount, liveUDPCount}, sidUDPDrop: {liveUDPCount, liveUDPCount},
		sidTCPMark: tcp, sidPing: {livePings, livePings}}
}

func totalAlerts(want map[int]alertRange) int64 {
	n := 0
	for _, v := range want {
		n += v.min
	}
	return int64(n)
}

// finish waits until vigil has inspected the traffic, stops it and
// returns what it left. Inspected means: the periodic stats count the
// expected alerts, or (autofp, whose idle workers answer a stats request
// only when their next packet comes) two successive stats records show
// the same number of captured packets: the capture has read everything,
// and the rings to the workers are drained at exit.
func finish(t *testing.T, v *vigilProc, want map[int]alertRange) *liveResult {
	t.Helper()
	n := totalAlerts(want)
	var prevUptime, prevPkts int64 = -1, -1
	settled := v.waitStats(15*time.Second, func(st map[string]any) bool {
		if statNum(st, "detect.alert") >= n {
			return true
		}
		up, pkts := statNum(st, "uptime"), statNum(st, "capture.kernel_packets")
		if up == prevUptime {
			return false
		}
		same := pkts > 0 && pkts == prevPkts
		prevUptime, prevPkts = up, pkts
		return same
	})
	if !settled {
		st, _ := v.lastStats()
		t.Errorf("vigil was still capturing 15s after the traffic ended: %d packets, %d alerts",
			statNum(st, "capture.kernel_packets"), statNum(st, "detect.alert"))
	}
	v.stop()
	return v.result()
}

// checkIDS checks a run of an IDS (passive) capture.
func checkIDS(t *testing.T, r *liveResult, client, server string) {
	t.Helper()
	checkAlerts(t, r, liveWant(false), false, client, server)
	checkNoLoss(t, r)
	if n := statNum(r.final, "ips.blocked"); n != 0 {
		t.Errorf("IDS run: ips.blocked = %d, want 0", n)
	}
	if _, dropped, _ := summaryCounts(t, r.summary); dropped != 0 {
		t.Errorf("IDS run: summary reports %d packets dropped", dropped)
	}
	// The whole TCP stream was seen and reassembled (to the depth).
	if n := statNum(r.final, "tcp.sessions"); n != 1 {
		t.Errorf("tcp.sessions = %d, want 1", n)
	}
}

// checkIPS checks an inline run: the drop-marked datagrams were dropped,
// alerted as blocked, and counted in the final stats and the summary.
func checkIPS(t *testing.T, r *liveResult, client, server string) {
	t.Helper()
	checkAlerts(t, r, liveWant(true), true, client, server)
	// The first TCP marker alert is raised on the packet that carries
	// the marker (SYN, ACK, then the data): a drop rule drops that one.
	for _, ev := range r.alerts {
		if int(ev["alert"].(map[string]any)["signature_id"].(float64)) != sidTCPMark {
			continue
		}
		if f, _ := ev["flow"].(map[string]any); f == nil || f["pkts_toserver"] != float64(3) {
			t.Errorf("first TCP marker alert not on the first data packet (the flow's 3rd to the server): flow %v", ev["flow"])
		}
		break
	}
	checkNoLoss(t, r)
	if n := statNum(r.final, "ips.blocked"); n != liveUDPCount {
		t.Errorf("final stats ips.blocked = %d, want %d (the drop-marked datagrams)", n, liveUDPCount)
	}
	if _, dropped, _ := summaryCounts(t, r.summary); dropped != liveUDPCount {
		t.Errorf("summary reports %d packets dropped, want %d\n%s", dropped, liveUDPCount, r.summary)
	}
}

// TestLiveAFPacketIDS: vigil with -i on the server's end of a veth pair
// (default offloads, as on a host) sees the client's traffic.
func TestLiveAFPacketIDS(t *testing.T) {
	requireLive(t)
	nsC, nsV := liveName("aic"), liveName("aiv")
	newNetns(t, nsC)
	newNetns(t, nsV)
	vethPair(t, nsC, nsC, nsV, nsV, false)
	const client, server = "10.213.1.1", "10.213.1.2"
	sh(t, "ip", "-n", nsC, "addr", "add", client+"/24", "dev", nsC)
	sh(t, "ip", "-n", nsV, "addr", "add", server+"/24", "dev", nsV)

	v := startVigil(t, nsV, "-i", nsV, "-S", writeLiveRules(t, t.TempDir()))
	v.waitReady()
	tr := sendLiveTraffic(t, nsC, client, nsV, server)
	r := finish(t, v, liveWant(false))
	tr.check(t, false)
	checkIDS(t, r, client, server)
	if n := statNum(r.final, "tcp.bytes"); n < liveTCPBytes {
		t.Errorf("tcp.bytes = %d, want the whole transfer (>= %d)", n, liveTCPBytes)
	}
}

// bridgeTopo is client ns <-> (a | vigil ns | b) <-> server ns, with no IP
// forwarding and no Linux bridge in the vigil namespace: only vigil
// carries frames from a to b. Offloads are off on the bridged path.
type bridgeTopo struct {
	nsC, nsV, nsS string
	a, b          string // vigil's interfaces (client side, server side)
}

func newBridgeTopo(t *testing.T, tag, subnet string) (*bridgeTopo, string, string) {
	t.Helper()
	requireLive(t, "ethtool")
	bt := &bridgeTopo{nsC: liveName(tag + "c"), nsV: liveName(tag + "v"), nsS: liveName(tag + "s"),
		a: liveName(tag + "a"), b: liveName(tag + "b")}
	for _, ns := range []string{bt.nsC, bt.nsV, bt.nsS} {
		newNetns(t, ns)
	}
	vethPair(t, bt.nsC, bt.nsC, bt.nsV, bt.a, true)
	vethPair(t, bt.nsV, bt.b, bt.nsS, bt.nsS, true)
	sh(t, "ip", "netns", "exec", bt.nsV, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	client, server := subnet+".1", subnet+".2"
	sh(t, "ip", "-n", bt.nsC, "addr", "add", client+"/24", "dev", bt.nsC)
	sh(t, "ip", "-n", bt.nsS, "addr", "add", server+"/24", "dev", bt.nsS)
	return bt, client, server
}

// checkNothingPasses makes sure the topology does not forward without
// vigil: a ping must go unanswered. (Its request waits for ARP in the
// client's neighbour queue and may pass once vigil runs: it carries no
// marker.)
func (bt *bridgeTopo) checkNothingPasses(t *testing.T, client, server string) {
	t.Helper()
	if n := pingWith(t, bt.nsC, client, server, 1, "VLIVE-PROBE"); n != 0 {
		t.Fatalf("the client reaches the server without vigil in between: the test would prove nothing")
	}
}

// TestLiveAFPacketBridge: vigil -i A,B is the only path between client and
// server (AF_PACKET copy-mode ips); the drop rule's datagrams do not pass.
func TestLiveAFPacketBridge(t *testing.T) {
	bt, client, server := newBridgeTopo(t, "ab", "10.213.2")
	bt.checkNothingPasses(t, client, server)
	v := startVigil(t, bt.nsV, "-i", bt.a+","+bt.b, "-S", writeLiveRules(t, t.TempDir()))
	v.waitReady()
	tr := sendLiveTraffic(t, bt.nsC, client, bt.nsS, server)
	r := finish(t, v, liveWant(true))
	tr.check(t, true)
	checkIPS(t, r, client, server)
}

// requireAFXDP skips when the kernel has no AF_XDP sockets.
func requireAFXDP(t *testing.T) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("kernel has no AF_XDP sockets: %v", err)
	}
	unix.Close(fd)
}

// TestLiveAFXDPIDS: vigil --af-xdp=IF on a monitoring port. The XDP program
// takes every frame of the port away from the stack, so the port carries a
// mirror (tc mirred, a SPAN port) of the server's interface, both
// directions; client and server talk over their own veth pair.
func TestLiveAFXDPIDS(t *testing.T) {
	requireLive(t, "ethtool", "tc")
	requireAFXDP(t)
	nsC, nsS, nsV := liveName("xic"), liveName("xis"), liveName("xiv")
	mirror, port := liveName("xim"), liveName("xip")
	for _, ns := range []string{nsC, nsS, nsV} {
		newNetns(t, ns)
	}
	vethPair(t, nsC, nsC, nsS, nsS, true)
	vethPair(t, nsS, mirror, nsV, port, true)
	const client, server = "10.213.3.1", "10.213.3.2"
	sh(t, "ip", "-n", nsC, "addr", "add", client+"/24", "dev", nsC)
	sh(t, "ip", "-n", nsS, "addr", "add", server+"/24", "dev", nsS)
	shSkip(t, "tc", "-n", nsS, "qdisc", "add", "dev", nsS, "clsact")
	for _, dir := range []string{"ingress", "egress"} {
		shSkip(t, "tc", "-n", nsS, "filter", "add", "dev", nsS, dir, "protocol", "all", "u32", "match", "u32", "0", "0",
			"action", "mirred", "egress", "mirror", "dev", mirror)
	}

	v := startVigil(t, nsV, "--af-xdp="+port, "-S", writeLiveRules(t, t.TempDir()))
	v.waitReady()
	tr := sendLiveTraffic(t, nsC, client, nsS, server)
	r := finish(t, v, liveWant(false))
	tr.check(t, false)
	checkIDS(t, r, client, server)
	if n := statNum(r.final, "tcp.bytes"); n < liveTCPBytes {
		t.Errorf("tcp.bytes = %d, want the whole transfer (>= %d)", n, liveTCPBytes)
	}
}

// TestLiveAFXDPBridge: vigil --af-xdp=A,B (shared-UMEM bridge) is the only
// path between client and server; the drop rule's datagrams do not pass.
func TestLiveAFXDPBridge(t *testing.T) {
	requireAFXDP(t)
	bt, client, server := newBridgeTopo(t, "xb", "10.213.4")
	bt.checkNothingPasses(t, client, server)
	v := startVigil(t, bt.nsV, "--af-xdp="+bt.a+","+bt.b, "-S", writeLiveRules(t, t.TempDir()))
	v.waitReady()
	tr := sendLiveTraffic(t, bt.nsC, client, bt.nsS, server)
	r := finish(t, v, liveWant(true))
	tr.check(t, true)
	checkIPS(t, r, client, server)
}

// routerTopo is client ns <-> router ns (ip_forward) <-> server ns; the
// router's FORWARD chain queues to NFQUEUE.
type routerTopo struct {
	nsC, nsR, nsS string
}

const (
	nfqClient = "10.213.5.2"
	nfqServer = "10.213.6.2"
	nfqQueue  = "7"
)

func newRouterTopo(t *testing.T) *routerTopo {
	t.Helper()
	requireLive(t, "iptables", "ethtool")
	rt := &routerTopo{nsC: liveName("nqc"), nsR: liveName("nqr"), nsS: liveName("nqs")}
	for _, ns := range []string{rt.nsC, rt.nsR, rt.nsS} {
		newNetns(t, ns)
	}
	rc, rs := liveName("nqrc"), liveName("nqrs")
	// Offloads off: a GSO packet is one skb for iptables' counters but
	// several queued packets (the kernel segments it for a queue without
	// NFQA_CFG_F_GSO), so the counts would not compare.
	vethPair(t, rt.nsC, rt.nsC, rt.nsR, rc, true)
	vethPair(t, rt.nsR, rs, rt.nsS, rt.nsS, true)
	for _, c := range [][]string{
		{rt.nsC, "addr", "add", nfqClient + "/24", "dev", rt.nsC},
		{rt.nsR, "addr", "add", "10.213.5.1/24", "dev", rc},
		{rt.nsR, "addr", "add", "10.213.6.1/24", "dev", rs},
		{rt.nsS, "addr", "add", nfqServer + "/24", "dev", rt.nsS},
		{rt.nsC, "route", "add", "default", "via", "10.213.5.1"},
		{rt.nsS, "route", "add", "default", "via", "10.213.6.1"},
	} {
		sh(t, append([]string{"ip", "-n", c[0]}, c[1:]...)...)
	}
	sh(t, "ip", "netns", "exec", rt.nsR, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return rt
}

// ipt runs iptables in the router; a missing module skips the test.
func (rt *routerTopo) ipt(t *testing.T, args ...string) {
	t.Helper()
	shSkip(t, append([]string{"ip", "netns", "exec", rt.nsR, "iptables", "-w"}, args...)...)
}

// ruleCount returns the packet counter of rule num of the FORWARD chain.
func (rt *routerTopo) ruleCount(t *testing.T, num int) int64 {
	t.Helper()
	out := sh(t, "ip", "netns", "exec", rt.nsR, "iptables", "-w", "-L", "FORWARD", strconv.Itoa(num), "-v", "-x", "-n")
	f := strings.Fields(out)
	if len(f) == 0 {
		t.Fatalf("no FORWARD rule %d", num)
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatalf("FORWARD rule %d: %q", num, out)
	}
	return n
}

// TestLiveNFQueue: vigil -q N on a router whose FORWARD chain queues every
// packet. accept: the verdict is NF_ACCEPT; repeat: NF_REPEAT with mark
// 0x1/0x1, the chain's second pass accepts marked packets and its policy
// drops anything else. Both: drop-marked datagrams are dropped and counted,
// everything else passes intact.
func TestLiveNFQueue(t *testing.T) {
	rt := newRouterTopo(t)
	rules := writeLiveRules(t, t.TempDir())

	t.Run("accept", func(t *testing.T) {
		rt.ipt(t, "-F", "FORWARD")
		rt.ipt(t, "-P", "FORWARD", "ACCEPT")
		rt.ipt(t, "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", nfqQueue)
		if n := pingWith(t, rt.nsC, nfqClient, nfqServer, 1, "VLIVE-PROBE"); n != 0 {
			t.Fatalf("the queue passes packets without vigil: the test would prove nothing")
		}
		queued0 := rt.ruleCount(t, 1)
		v := startVigil(t, rt.nsR, "-q", nfqQueue, "-S", rules)
		v.waitReady()
		tr := sendLiveTraffic(t, rt.nsC, nfqClient, rt.nsS, nfqServer)
		r := finish(t, v, liveWant(true))
		tr.check(t, true)
		checkIPS(t, r, nfqClient, nfqServer)
		// Every packet queued while vigil ran reached it.
		if q, got := rt.ruleCount(t, 1)-queued0, statNum(r.final, "capture.kernel_packets"); q != got {
			t.Errorf("iptables queued %d packets while vigil ran, vigil received %d", q, got)
		}
	})

	t.Run("repeat", func(t *testing.T) {
		rt.ipt(t, "-F", "FORWARD")
		rt.ipt(t, "-P", "FORWARD", "DROP")
		rt.ipt(t, "-A", "FORWARD", "-m", "mark", "!", "--mark", "0x1/0x1", "-j", "NFQUEUE", "--queue-num", nfqQueue)
		rt.ipt(t, "-A", "FORWARD", "-m", "mark", "--mark", "0x1/0x1", "-j", "ACCEPT")
		v := startVigil(t, rt.nsR, "-q", nfqQueue, "-S", rules, "--set", "capture.nfqueue.verdict-mode=repeat",
			"--set", "capture.nfqueue.mark=1", "--set", "capture.nfqueue.mask=1")
		v.waitReady()
		tr := sendLiveTraffic(t, rt.nsC, nfqClient, rt.nsS, nfqServer)
		r := finish(t, v, liveWant(true))
		tr.check(t, true)
		checkIPS(t, r, nfqClient, nfqServer)
		queued, accepted := rt.ruleCount(t, 1), rt.ruleCount(t, 2)
		if got := statNum(r.final, "capture.kernel_packets"); queued != got {
			t.Errorf("iptables queued %d packets, vigil received %d", queued, got)
		}
		// Each packet was queued once and came back marked, except the
		// dropped ones.
		if blocked := statNum(r.final, "ips.blocked"); accepted != queued-blocked {
			t.Errorf("repeat: %d packets queued, %d blocked, %d accepted on the second pass with the mark; want queued-blocked",
				queued, blocked, accepted)
		}
	})
}
