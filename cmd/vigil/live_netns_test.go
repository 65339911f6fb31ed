package main

// Helpers of the end-to-end live tests (live_test.go, live_dpdk_test.go):
// the vigil binary built once, network namespaces and veth pairs named
// vlive*, traffic from sockets opened inside those namespaces, and a vigil
// subprocess run with `ip netns exec`, stopped with SIGINT and judged by its
// eve.json and summary.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// livePrefix starts the name of every namespace and interface the live
// tests create (other packages' live tests use other prefixes).
const livePrefix = "vlive"

// The vigil binary is built once per test process (liveBinary) into
// liveBinDir, which TestMain removes.
var (
	liveBinOnce sync.Once
	liveBinDir  string
	liveBinPath string
	liveBinErr  error
	// liveBuildTags are the build tags of the binary under test
	// (live_dpdk_test.go adds "dpdk" when the tests are built with it).
	liveBuildTags []string
)

// liveBinary builds ./cmd/vigil (this package) with the test's build tags
// and returns the path of the binary.
func liveBinary(t testing.TB) string {
	t.Helper()
	liveBinOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		liveBinDir, liveBinErr = os.MkdirTemp("", livePrefix+"-bin-")
		if liveBinErr != nil {
			return
		}
		liveBinPath = filepath.Join(liveBinDir, "vigil")
		args := []string{"build", "-o", liveBinPath}
		if len(liveBuildTags) > 0 {
			args = append(args, "-tags", strings.Join(liveBuildTags, ","))
		}
		out, err := exec.Command(goBin, append(args, ".")...).CombinedOutput()
		if err != nil {
			liveBinErr = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if liveBinErr != nil {
		t.Fatalf("building vigil: %v", liveBinErr)
	}
	return liveBinPath
}

// requireLive skips the test unless it runs as root with the tools it
// needs (ip is always needed).
func requireLive(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("live end-to-end test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("live end-to-end test needs root (network namespaces, packet sockets, iptables)")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("live end-to-end test needs %s: %v", tool, err)
		}
	}
}

// liveName is a namespace or interface name: the prefix, a short tag and
// this process's id (at most 15 bytes, IFNAMSIZ-1, for tags of up to 6).
func liveName(tag string) string {
	return fmt.Sprintf("%s%s%d", livePrefix, tag, os.Getpid()%10000)
}

// sh runs a command and fails the test with its output if it fails.
func sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// shSkip runs a command and skips the test if it fails (a kernel module or
// tool feature missing).
func shSkip(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Skipf("%s failed (kernel feature missing?): %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns creates namespace name (replacing a leftover of a killed run),
// with IPv6 off (no autoconfiguration chatter) and lo up. It is deleted,
// with the veths in it, when the test ends, also on failure.
func newNetns(t testing.TB, name string) {
	t.Helper()
	exec.Command("ip", "netns", "del", name).Run()
	sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	sh(t, "ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	sh(t, "ip", "-n", name, "link", "set", "dev", "lo", "up")
}

// vethPair creates veth a in nsA <-> b in nsB and brings both up. With
// noOffload, checksum offload, TSO, GSO and GRO are off on both ends, so
// that frames carry complete checksums and no super-frames: what an inline
// sensor forwards must be a valid frame on its own.
func vethPair(t testing.TB, nsA, a, nsB, b string, noOffload bool) {
	t.Helper()
	sh(t, "ip", "-n", nsA, "link", "add", a, "type", "veth", "peer", "name", b, "netns", nsB)
	for _, x := range [][2]string{{nsA, a}, {nsB, b}} {
		if noOffload {
			sh(t, "ip", "netns", "exec", x[0], "ethtool", "-K", x[1], "tx", "off", "tso", "off", "gso", "off", "gro", "off")
		}
		sh(t, "ip", "-n", x[0], "link", "set", "dev", x[1], "up")
	}
	for _, x := range [][2]string{{nsA, a}, {nsB, b}} {
		waitLinkActive(t, x[0], x[1])
	}
}

// waitLinkActive waits until dev has carrier and its real qdisc (until the
// kernel's link watch activates it, the device sends into noop, which
// drops silently).
func waitLinkActive(t testing.TB, ns, dev string) {
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

// inNetns runs fn on an OS thread switched into namespace ns. Sockets fn
// opens belong to ns and may be used from any goroutine afterwards. If
// switching back fails the goroutine exits with its thread locked, and the
// runtime throws the thread away.
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
			errc <- errors.Join(ferr, fmt.Errorf("setns back from %s: %w", ns, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Markers in the traffic and the rules that match them.
const (
	sidUDPMark = 1000001 // alert udp to port 7001, content VLIVE-UDP-MARK
	sidTCPMark = 1000002 // alert tcp to port 7002, established to_server, VLIVE-TCP-MARK
	sidUDPDrop = 1000003 // drop udp to port 7003, content VLIVE-DROP-MARK
	sidPing    = 1000004 // alert icmp echo request with VLIVE-PING
	sidNever   = 1000009 // content nothing sends: must never fire

	portUDPMark  = 7001
	portTCP      = 7002
	portUDPDrop  = 7003
	portUDPPlain = 7004 // unmarked UDP: no rule
)

const liveRules = `alert udp any any -> any 7001 (msg:"vlive udp marker"; content:"VLIVE-UDP-MARK"; sid:1000001; rev:1;)
alert tcp any any -> any 7002 (msg:"vlive tcp marker"; flow:established,to_server; content:"VLIVE-TCP-MARK"; sid:1000002; rev:1;)
drop udp any any -> any 7003 (msg:"vlive udp drop marker"; content:"VLIVE-DROP-MARK"; sid:1000003; rev:1;)
alert icmp any any -> any any (msg:"vlive ping marker"; itype:8; content:"VLIVE-PING"; sid:1000004; rev:1;)
alert ip any any -> any any (msg:"vlive never"; content:"VLIVE-NEVER-SENT"; sid:1000009; rev:1;)
`

// writeLiveRules writes liveRules into dir and returns the file's path.
func writeLiveRules(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "vlive.rules")
	if err := os.WriteFile(p, []byte(liveRules), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// udpSink is a UDP server in a namespace counting the datagrams that
// arrive intact (payload equal to what udpPayload makes for their index).
type udpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  map[int]int // index -> times received
	bad  int         // datagrams that are not a payload of this test
}

func listenUDP(t testing.TB, ns, addr string) *udpSink {
	t.Helper()
	u := &udpSink{got: map[int]int{}}
	err := inNetns(ns, func() error {
		c, err := net.ListenPacket("udp4", addr)
		if err == nil {
			u.conn = c.(*net.UDPConn)
		}
		return err
	})
	if err != nil {
		t.Fatalf("UDP listen %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { u.conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, err := u.conn.Read(buf)
			if err != nil {
				return
			}
			i, ok := parseUDPPayload(buf[:n])
			u.mu.Lock()
			if ok {
				u.got[i]++
			} else {
				u.bad++
			}
			u.mu.Unlock()
		}
	}()
	return u
}

// counts returns how many distinct datagrams arrived, how many twice or
// more, and how many foreign ones.
func (u *udpSink) counts() (distinct, dups, bad int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, n := range u.got {
		distinct++
		if n > 1 {
			dups++
		}
	}
	return distinct, dups, u.bad
}

// udpPayload is datagram i of a series: marker, index, a pattern.
func udpPayload(marker string, i int) []byte {
	b := []byte(fmt.Sprintf("vlive %s #%04d ", marker, i))
	for len(b) < 200 {
		b = append(b, byte('a'+(i+len(b))%26))
	}
	return b
}

func parseUDPPayload(b []byte) (int, bool) {
	f := strings.Fields(string(b))
	if len(f) < 4 || f[0] != "vlive" || !strings.HasPrefix(f[2], "#") {
		return 0, false
	}
	i, err := strconv.Atoi(f[2][1:])
	if err != nil || !bytes.Equal(b, udpPayload(f[1], i)) {
		return 0, false
	}
	return i, true
}

// sendUDP sends n datagrams udpPayload(marker, 0..n-1) from namespace ns
// to raddr, a millisecond apart (bounded, and no burst to overflow a ring).
func sendUDP(t testing.TB, ns, raddr, marker string, n int) {
	t.Helper()
	var c net.Conn
	if err := inNetns(ns, func() (err error) { c, err = net.Dial("udp4", raddr); return err }); err != nil {
		t.Fatalf("UDP dial %s from %s: %v", raddr, ns, err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		if _, err := c.Write(udpPayload(marker, i)); err != nil {
			t.Fatalf("UDP send %d to %s: %v", i, raddr, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// tcpTransfer connects from clientNS to addr (a listener it opens in
// serverNS), sends "VLIVE-TCP-MARK" and size random bytes, and checks the
// SHA-256 the server answers with. It returns an error when the transfer
// did not complete intact.
func tcpTransfer(t testing.TB, clientNS, serverNS, addr string, size int) error {
	t.Helper()
	var ln net.Listener
	if err := inNetns(serverNS, func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatalf("TCP listen %s in %s: %v", addr, serverNS, err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		h := sha256.New()
		io.Copy(h, c)
		c.Write(h.Sum(nil))
	}()
	data := make([]byte, size)
	rand.Read(data)
	data = append([]byte("VLIVE-TCP-MARK "), data...)
	var conn net.Conn
	if err := inNetns(clientNS, func() (err error) { conn, err = net.DialTimeout("tcp4", addr, 5*time.Second); return err }); err != nil {
		return fmt.Errorf("TCP connect to %s: %w", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(data); err != nil {
		return fmt.Errorf("TCP send to %s: %w", addr, err)
	}
	conn.(*net.TCPConn).CloseWrite()
	sum, err := io.ReadAll(conn)
	if err != nil {
		return fmt.Errorf("TCP read of the checksum from %s: %w", addr, err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(sum, want[:]) {
		return fmt.Errorf("TCP transfer of %d bytes to %s arrived corrupted or cut: server's SHA-256 %x, want %x", len(data), addr, sum, want)
	}
	return nil
}

// ping sends count ICMP echo requests carrying "VLIVE-PING" from src (in
// namespace ns) to dst, one at a time, and returns how many were answered
// with the same payload within a second each.
func ping(t testing.TB, ns, src, dst string, count int) int {
	t.Helper()
	return pingWith(t, ns, src, dst, count, "VLIVE-PING")
}

// pingWith is ping with another payload marker.
func pingWith(t testing.TB, ns, src, dst string, count int, marker string) int {
	t.Helper()
	var c net.PacketConn
	if err := inNetns(ns, func() (err error) { c, err = net.ListenPacket("ip4:icmp", src); return err }); err != nil {
		t.Fatalf("ICMP socket on %s in %s: %v", src, ns, err)
	}
	defer c.Close()
	var idb [2]byte
	rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	buf := make([]byte, 1500)
	replies := 0
	for seq := 1; seq <= count; seq++ {
		msg := make([]byte, 8, 64)
		msg[0] = 8
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], uint16(seq))
		msg = append(msg, fmt.Sprintf("%s %04d vigil end-to-end", marker, seq)...)
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
			t.Fatalf("ping %s: %v", dst, err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			r := buf[:n]
			if n == len(msg) && r[0] == 0 && binary.BigEndian.Uint16(r[4:]) == id && binary.BigEndian.Uint16(r[6:]) == uint16(seq) && bytes.Equal(r[8:], msg[8:]) {
				replies++
				break
			}
		}
	}
	return replies
}

func icmpChecksum(b []byte) uint16 {
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

// vigilProc is a vigil subprocess writing into its own log directory.
type vigilProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	dir    string       // -l: eve.json, stats.log, fast.log
	stdout bytes.Buffer // read only after exited is closed
	stderr syncBuffer   // may be read while vigil runs
	exited chan struct{}
	err    error // Wait's result, set before exited is closed
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startVigil runs the vigil binary with args, inside namespace ns (with
// `ip netns exec`, which execs it: the process is vigil itself) or here
// when ns is empty, logging into a new directory, with a stats record
// every second. A vigil still running when the test ends is killed.
func startVigil(t testing.TB, ns string, args ...string) *vigilProc {
	t.Helper()
	bin := liveBinary(t)
	v := &vigilProc{t: t, dir: t.TempDir(), exited: make(chan struct{})}
	argv := append([]string{bin}, args...)
	argv = append(argv, "-l", v.dir, "--set", "outputs.stats.interval=1s")
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	v.cmd = exec.Command(argv[0], argv[1:]...)
	v.cmd.Stdout, v.cmd.Stderr = &v.stdout, &v.stderr
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	t.Logf("started: %s", strings.Join(argv, " "))
	go func() {
		v.err = v.cmd.Wait()
		close(v.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-v.exited:
		default:
			v.cmd.Process.Kill()
			<-v.exited
		}
	})
	return v
}

// waitReady waits until vigil writes its first stats record: rules are
// loaded, the capture is open and the pipeline runs. It fails the test if
// vigil exits first or takes longer than 30 seconds.
func (v *vigilProc) waitReady() {
	v.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-v.exited:
			v.t.Fatalf("vigil exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", v.err, v.stdout.String(), v.stderr.String())
		default:
		}
		if _, ok := v.lastStats(); ok {
			return
		}
		if time.Now().After(deadline) {
			v.stop()
			v.t.Fatalf("vigil wrote no stats record within 30s\nstdout:\n%s\nstderr:\n%s", v.stdout.String(), v.stderr.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitStats polls the periodic stats records until cond holds for the
// latest one or timeout passes, and reports whether it held.
func (v *vigilProc) waitStats(timeout time.Duration, cond func(st map[string]any) bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if st, ok := v.lastStats(); ok && cond(st) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lastStats returns the "stats" object of the last stats record in
// eve.json so far.
func (v *vigilProc) lastStats() (map[string]any, bool) {
	var last map[string]any
	for _, ev := range readEVEFile(filepath.Join(v.dir, "eve.json")) {
		if ev["event_type"] == "stats" {
			if st, ok := ev["stats"].(map[string]any); ok {
				last = st
			}
		}
	}
	return last, last != nil
}

// stop sends SIGINT and waits for vigil to exit (it flushes its outputs
// and prints its summary). A vigil that does not stop within 15 seconds is
// killed and fails the test; an exit status other than 0 fails it too.
func (v *vigilProc) stop() {
	v.t.Helper()
	select {
	case <-v.exited:
	default:
		v.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-v.exited:
		case <-time.After(15 * time.Second):
			v.cmd.Process.Kill()
			<-v.exited
			v.t.Fatalf("vigil did not stop within 15s of SIGINT\nstdout:\n%s\nstderr:\n%s", v.stdout.String(), v.stderr.String())
		}
	}
	if v.err != nil {
		v.t.Fatalf("vigil: %v\nstdout:\n%s\nstderr:\n%s", v.err, v.stdout.String(), v.stderr.String())
	}
	v.t.Logf("vigil summary:\n%s", v.stdout.String())
}

// readEVEFile parses eve.json, skipping a last line still being written.
func readEVEFile(path string) []map[string]any {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var evs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			evs = append(evs, m)
		}
	}
	return evs
}

// liveResult is what a stopped vigil left: its alerts and final counters.
type liveResult struct {
	alerts  []map[string]any // the alert records
	bySID   map[int]int      // alerts per signature id
	final   map[string]any   // the last stats record's "stats"
	summary string           // stdout
	lines   int              // eve.json records
}

// result reads eve.json of a stopped vigil; every line must be JSON.
func (v *vigilProc) result() *liveResult {
	v.t.Helper()
	data, err := os.ReadFile(filepath.Join(v.dir, "eve.json"))
	if err != nil {
		v.t.Fatalf("eve.json: %v", err)
	}
	r := &liveResult{bySID: map[int]int{}, summary: v.stdout.String()}
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			v.t.Fatalf("eve.json line %d is not JSON: %v: %.200s", i+1, err, line)
		}
		r.lines++
		switch ev["event_type"] {
		case "alert":
			r.alerts = append(r.alerts, ev)
			a, _ := ev["alert"].(map[string]any)
			sid, _ := a["signature_id"].(float64)
			r.bySID[int(sid)]++
		case "stats":
			r.final, _ = ev["stats"].(map[string]any)
		}
	}
	if r.final == nil {
		v.t.Fatalf("eve.json has no stats record")
	}
	return r
}

// statNum returns the counter at a dotted path of a stats object
// ("ips.blocked"), or -1 when there is none.
func statNum(st map[string]any, path string) int64 {
	var cur any = st
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return -1
		}
		cur = m[k]
	}
	f, ok := cur.(float64)
	if !ok {
		return -1
	}
	return int64(f)
}

var (
	summaryAlerts  = regexp.MustCompile(`rules loaded, \d+ failed; (\d+) alerts(?:, (\d+) packets dropped)?`)
	summaryPackets = regexp.MustCompile(`: (\d+) packets, \d+ bytes in `)
)

// summaryCounts reads the alerts, dropped and packets numbers of vigil's
// summary (dropped is 0 when the line does not mention drops).
func summaryCounts(t testing.TB, s string) (alerts, dropped, packets int) {
	t.Helper()
	m := summaryAlerts.FindStringSubmatch(s)
	p := summaryPackets.FindStringSubmatch(s)
	if m == nil || p == nil {
		t.Fatalf("summary lacks the packets or alerts line:\n%s", s)
	}
	alerts, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		dropped, _ = strconv.Atoi(m[2])
	}
	packets, _ = strconv.Atoi(p[1])
	return
}

// alertRange is how many alerts a signature must raise: min to max.
type alertRange struct{ min, max int }

// checkAlerts compares the alerts per signature with want (signatures not
// in want must not have fired) and checks every alert's action and, for
// the marker rules, its addresses and ports.
func checkAlerts(t testing.TB, r *liveResult, want map[int]alertRange, blocked bool, client, server string) {
	t.Helper()
	for sid, w := range want {
		if n := r.bySID[sid]; n < w.min || n > w.max {
			t.Errorf("signature %d: %d alerts, want %d to %d (all: %v)", sid, n, w.min, w.max, r.bySID)
			shown := 0
			for _, ev := range r.alerts {
				if a := ev["alert"].(map[string]any); int(a["signature_id"].(float64)) == sid && shown < 4 {
					b, _ := json.Marshal(ev)
					t.Logf("alert: %.1500s", b)
					shown++
				}
			}
		}
	}
	for sid, n := range r.bySID {
		if _, ok := want[sid]; !ok {
			t.Errorf("signature %d: %d unexpected alerts", sid, n)
		}
	}
	for _, ev := range r.alerts {
		a := ev["alert"].(map[string]any)
		sid := int(a["signature_id"].(float64))
		action := "allowed"
		if blocked && sid == sidUDPDrop {
			action = "blocked"
		}
		if a["action"] != action {
			t.Errorf("signature %d: alert action %v, want %s", sid, a["action"], action)
		}
		if client == "" {
			continue
		}
		if ev["src_ip"] != client || ev["dest_ip"] != server {
			t.Errorf("signature %d: alert from %v to %v, want %s -> %s", sid, ev["src_ip"], ev["dest_ip"], client, server)
		}
		wantPort := map[int]int{sidUDPMark: portUDPMark, sidTCPMark: portTCP, sidUDPDrop: portUDPDrop}[sid]
		if p, _ := ev["dest_port"].(float64); wantPort != 0 && int(p) != wantPort {
			t.Errorf("signature %d: alert dest_port %v, want %d", sid, ev["dest_port"], wantPort)
		}
	}
	// The summary agrees with eve.json.
	if n, _, _ := summaryCounts(t, r.summary); n != len(r.alerts) {
		t.Errorf("summary says %d alerts, eve.json has %d", n, len(r.alerts))
	}
	if n := statNum(r.final, "detect.alert"); n != int64(len(r.alerts)) {
		t.Errorf("final stats detect.alert = %d, eve.json has %d alerts", n, len(r.alerts))
	}
}

// checkNoLoss fails the test when the final counters show packets lost
// before inspection (kernel, ring, invalid records, output).
func checkNoLoss(t testing.TB, r *liveResult) {
	t.Helper()
	for _, k := range []string{"capture.kernel_drops", "capture.invalid", "pipeline.ring.full_drops", "pipeline.source_failures",
		"pipeline.output_errors", "pipeline.eve_lost", "pipeline.malformed"} {
		if n := statNum(r.final, k); n != 0 {
			t.Errorf("final stats %s = %d, want 0", k, n)
		}
	}
}
