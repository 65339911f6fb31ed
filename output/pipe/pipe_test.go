package pipe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sockPath returns a short socket path in a fresh directory (sun_path is
// limited to 107 bytes, and t.TempDir paths can be long).
func sockPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// syncBuf is a goroutine-safe log destination.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server accepts one connection at a time on a Unix stream listener and
// collects the lines it reads.
type server struct {
	ln    *net.UnixListener
	mu    sync.Mutex
	lines []string
	read  chan struct{} // closed to let the reader start (stalled-reader tests)
	conns chan *net.UnixConn
	done  chan struct{}
}

func listen(t *testing.T, path string, startReading bool) *server {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, read: make(chan struct{}), conns: make(chan *net.UnixConn, 16), done: make(chan struct{})}
	if startReading {
		close(s.read)
	}
	go s.serve()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *server) serve() {
	defer close(s.done)
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		s.conns <- c
		<-s.read
		sc := bufio.NewScanner(c)
		sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
		}
		c.Close()
	}
}

// stop closes the listener (which removes the socket file) and every
// connection it accepted.
func (s *server) stop() {
	s.ln.Close()
	for {
		select {
		case c := <-s.conns:
			c.Close()
		default:
			return
		}
	}
}

func (s *server) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func (s *server) waitLines(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := s.got(); len(got) >= n {
			return got
		}
		time.Sleep(2 * time.Millisecond)
	}
	got := s.got()
	t.Fatalf("got %d lines, want %d", len(got), n)
	return nil
}

func openPipe(t *testing.T, cfg Config) *Pipe {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	if cfg.Fields == nil {
		cfg.Fields = []string{"http.user_agent", "dns.query"}
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	p, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func checkBalance(t *testing.T, p *Pipe, calls uint64) Stats {
	t.Helper()
	st := p.Stats()
	if st.Sent+st.Dropped+st.Queued != calls {
		t.Fatalf("Sent %d + Dropped %d + Queued %d = %d, want %d calls", st.Sent, st.Dropped, st.Queued,
			st.Sent+st.Dropped+st.Queued, calls)
	}
	return st
}

func TestOpenValidates(t *testing.T) {
	good := func() Config {
		return Config{Name: "p", Fields: []string{"dns.query"}, Socket: "/tmp/x.sock", Log: io.Discard}
	}
	cases := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Name = "" }, "name is empty"},
		{func(c *Config) { c.Name = "a\nb" }, "control character"},
		{func(c *Config) { c.Fields = nil }, "no fields"},
		{func(c *Config) { c.Fields = []string{"dns"} }, "at least two"},
		{func(c *Config) { c.Fields = []string{"DNS.query"} }, "offset 0"},
		{func(c *Config) { c.Fields = []string{"dns..query"} }, "empty part at offset 4"},
		{func(c *Config) { c.Fields = []string{"dns.query."} }, "empty part"},
		{func(c *Config) { c.Fields = []string{"1dns.query"} }, "start with a letter"},
		{func(c *Config) { c.Fields = []string{"dns.qu ery"} }, "offset 6"},
		{func(c *Config) { c.Fields = []string{"dns.query", "dns.query"} }, "listed twice"},
		{func(c *Config) { c.Socket = "" }, "neither socket nor command"},
		{func(c *Config) { c.Command = []string{"cat"} }, "both socket and command"},
		{func(c *Config) { c.Socket = "/" + strings.Repeat("a", 107) }, "longer than"},
		{func(c *Config) { c.Socket = ""; c.Command = []string{"cat"}; c.Datagram = true }, "datagram applies"},
		{func(c *Config) { c.Socket = ""; c.Command = []string{"no-such-program-vigil"} }, "no-such-program-vigil"},
		{func(c *Config) { c.Socket = ""; c.Command = []string{""} }, "empty"},
		{func(c *Config) { c.Format = "xml" }, `format "xml"`},
		{func(c *Config) { c.QueueBytes = -1 }, "negative"},
		{func(c *Config) { c.RetryMin = time.Second; c.RetryMax = time.Millisecond }, "below retry min"},
		{func(c *Config) { c.FlushTimeout = -time.Second }, "flush timeout"},
	}
	for _, tc := range cases {
		c := good()
		tc.mod(&c)
		p, err := Open(c)
		if err == nil {
			p.Close()
			t.Errorf("config %+v: no error, want %q", c, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %+v: error %q, want it to contain %q", c, err, tc.want)
		}
		if c.Name != "" && !strings.Contains(err.Error(), strconv.Quote(c.Name)) {
			t.Errorf("error %q does not name the pipe", err)
		}
	}
	c := good()
	c.Fields = []string{"http.user_agent", "ja3.hash", "tls.sni", "x-y.z_1.w"}
	p, err := Open(c)
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if !p.Wants("ja3.hash") || p.Wants("dns.query") || p.Wants("") {
		t.Error("Wants answers wrongly")
	}
	p.Close()
	if err := p.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}

// TestSocketInOrder sends lines, closes at once (Close must flush), and
// checks that every line arrived complete and in order.
func TestSocketInOrder(t *testing.T) {
	path := sockPath(t)
	srv := listen(t, path, true)
	p := openPipe(t, Config{Socket: path})
	const n = 20000
	var want []string
	var bytesWant uint64
	for i := range n {
		v := fmt.Sprintf("agent-%d/%s", i, strings.Repeat("x", i%50))
		if i%97 == 0 {
			v += "\nhttp.user_agent\tinjected\\"
		}
		if !p.Send("http.user_agent", []byte(v), int64(i), uint64(i)) {
			t.Fatalf("Send %d refused: %+v", i, p.Stats())
		}
		line := string(appendText(nil, "http.user_agent", []byte(v)))
		bytesWant += uint64(len(line))
		want = append(want, strings.TrimSuffix(line, "\n"))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	got := srv.waitLines(t, n)
	if len(got) != n {
		t.Fatalf("got %d lines, want %d", len(got), n)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %q want %q", i, got[i], want[i])
		}
		tab := strings.IndexByte(got[i], '\t')
		v, err := unescapeText(got[i][tab+1:])
		if err != nil || !strings.HasPrefix(string(v), "agent-"+strconv.Itoa(i)+"/") {
			t.Fatalf("line %d decodes to %q, %v", i, v, err)
		}
	}
	st := checkBalance(t, p, n)
	if st.Sent != n || st.Dropped != 0 || st.Bytes != bytesWant || st.Queued != 0 {
		t.Fatalf("stats %+v, want Sent %d Bytes %d", st, n, bytesWant)
	}
}

// TestSlowReaderDrops stalls the reader until Send refuses lines, checks
// the drops are counted exactly, then lets the reader go and checks it
// received exactly the accepted lines, in order.
func TestSlowReaderDrops(t *testing.T) {
	path := sockPath(t)
	srv := listen(t, path, false)
	p := openPipe(t, Config{Socket: path, QueueBytes: 8 << 10})
	var calls, refused uint64
	var accepted []string
	value := []byte(strings.Repeat("u", 100))
	streak := 0
	start := time.Now()
	// Wait until the pipe is connected, so the drops below come from the
	// stalled reader (socket buffer full, then queue full).
	for p.Stats().ConnectErrors == 0 && len(srv.conns) == 0 {
		if time.Since(start) > 10*time.Second {
			t.Fatal("never connected")
		}
		time.Sleep(time.Millisecond)
	}
	for streak < 2000 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("Send never stopped accepting: %+v", p.Stats())
		}
		v := strconv.AppendUint(value[:100], calls, 10)
		calls++
		if p.Send("dns.query", v, 0, 0) {
			accepted = append(accepted, "dns.query\t"+string(v))
			streak = 0
		} else {
			refused++
			streak++
		}
		if calls%256 == 0 {
			time.Sleep(50 * time.Microsecond) // let the writer fill the socket buffer
		}
	}
	st := checkBalance(t, p, calls)
	if st.Dropped != refused {
		t.Fatalf("Dropped %d, Send returned false %d times", st.Dropped, refused)
	}
	if st.Queued == 0 || st.Queued*110 > 8<<10 {
		t.Fatalf("Queued %d lines, want the queue full but within 8 KiB", st.Queued)
	}

	close(srv.read)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st = checkBalance(t, p, calls)
	if st.Queued != 0 || st.Dropped != refused || st.Sent != uint64(len(accepted)) {
		t.Fatalf("after Close: %+v; want Sent %d Dropped %d", st, len(accepted), refused)
	}
	got := srv.waitLines(t, len(accepted))
	if len(got) != len(accepted) {
		t.Fatalf("reader got %d lines, want %d", len(got), len(accepted))
	}
	for i := range got {
		if got[i] != accepted[i] {
			t.Fatalf("line %d: got %q want %q", i, got[i], accepted[i])
		}
	}
}

// TestCloseBoundedWithStalledReader checks Close returns within its flush
// timeout when the reader never reads, and counts what it could not write.
func TestCloseBoundedWithStalledReader(t *testing.T) {
	path := sockPath(t)
	listen(t, path, false)
	p := openPipe(t, Config{Socket: path, QueueBytes: 64 << 10, FlushTimeout: 200 * time.Millisecond})
	v := []byte(strings.Repeat("z", 200))
	// Wait for the connection, then fill the socket buffer and the queue.
	p.Send("dns.query", v, 0, 0)
	calls := uint64(1)
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Sent == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("never connected: %+v", p.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	for streak := 0; streak < 2000; calls++ {
		if time.Now().After(deadline) {
			t.Fatalf("Send never stopped accepting: %+v", p.Stats())
		}
		if p.Send("dns.query", v, 0, 0) {
			streak = 0
		} else {
			streak++
		}
		if calls%256 == 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	start := time.Now()
	err := p.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err == nil || !strings.Contains(err.Error(), "not written") || !strings.Contains(err.Error(), `"test"`) {
		t.Fatalf("Close = %v, want a not-written error naming the pipe", err)
	}
	st := checkBalance(t, p, calls)
	if st.Queued != 0 || st.Sent+st.Dropped != calls || st.WriteErrors == 0 {
		t.Fatalf("stats %+v", st)
	}
	if p.Send("dns.query", v, 0, 0) {
		t.Fatal("Send accepted after Close")
	}
	if st2 := p.Stats(); st2.Dropped != st.Dropped+1 {
		t.Fatalf("Send after Close not counted: %+v", st2)
	}
}

// TestReconnect restarts the listener and checks the pipe reconnects and
// delivers, and that every line it counts as sent arrived.
func TestReconnect(t *testing.T) {
	path := sockPath(t)
	log := &syncBuf{}
	srv1 := listen(t, path, true)
	p := openPipe(t, Config{Socket: path, RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		LivenessInterval: 10 * time.Millisecond, Log: log})
	var calls uint64
	send := func() bool {
		ok := p.Send("tls.sni", []byte("host-"+strconv.FormatUint(calls, 10)), 0, 0)
		calls++
		return ok
	}
	for range 100 {
		if !send() {
			t.Fatal("Send refused before the restart")
		}
	}
	srv1.waitLines(t, 100)
	srv1.stop()
	<-srv1.done

	// The pipe notices the reader is gone while idle and refuses lines.
	deadline := time.Now().Add(5 * time.Second)
	for send() {
		if time.Now().After(deadline) {
			t.Fatal("Send still accepts with no reader")
		}
		time.Sleep(time.Millisecond)
	}

	srv2 := listen(t, path, true)
	for len(srv2.got()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no line reached the new listener: %+v\n%s", p.Stats(), log)
		}
		send()
		time.Sleep(time.Millisecond)
	}
	for range 50 {
		send()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st := checkBalance(t, p, calls)
	if st.Reconnects < 1 {
		t.Fatalf("Reconnects %d, want >= 1", st.Reconnects)
	}
	got2 := srv2.waitLines(t, int(st.Sent)-100)
	if uint64(100+len(got2)) != st.Sent {
		t.Fatalf("listeners got 100+%d lines, pipe counts %d sent", len(got2), st.Sent)
	}
	prev := -1
	for _, l := range got2 {
		n, err := strconv.Atoi(strings.TrimPrefix(l, "tls.sni\thost-"))
		if err != nil || n <= prev || n < 100 {
			t.Fatalf("line %q out of order or damaged (after %d)", l, prev)
		}
		prev = n
	}
	if !strings.Contains(log.String(), "vigil: pipe test: lost socket") || !strings.Contains(log.String(), "connected to socket") {
		t.Errorf("log does not report the reconnect:\n%s", log)
	}
}

// TestNoListenerAtStart: lines queued before the first connect attempt
// fails are kept for the connection made later.
func TestNoListenerAtStart(t *testing.T) {
	path := sockPath(t)
	p := openPipe(t, Config{Socket: path, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().ConnectErrors == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no connect error")
		}
		time.Sleep(time.Millisecond)
	}
	if p.Send("dns.query", []byte("x"), 0, 0) {
		t.Fatal("Send accepted while the socket is absent")
	}
	srv := listen(t, path, true)
	var calls uint64 = 1
	for !p.Send("dns.query", []byte("late"), 0, 0) {
		calls++
		if time.Now().After(deadline) {
			t.Fatal("never reconnected")
		}
		time.Sleep(time.Millisecond)
	}
	calls++
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st := checkBalance(t, p, calls)
	if st.Sent != 1 || st.Dropped != calls-1 {
		t.Fatalf("stats %+v", st)
	}
	if got := srv.waitLines(t, 1); got[0] != "dns.query\tlate" {
		t.Fatalf("got %q", got)
	}
}

func TestCommandReceivesLines(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	log := &syncBuf{}
	p := openPipe(t, Config{
		Name:    "cmd",
		Command: []string{"sh", "-c", `echo started; echo warn >&2; cat > "$0"`, out},
		Log:     log,
	})
	const n = 5000
	var want strings.Builder
	for i := range n {
		v := []byte("q" + strconv.Itoa(i) + ".example\n")
		if !p.Send("dns.query", v, 0, 0) {
			t.Fatalf("Send %d refused", i)
		}
		want.Write(appendText(nil, "dns.query", v))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf("file has %d bytes, want %d", len(got), want.Len())
	}
	st := checkBalance(t, p, n)
	if st.Sent != n || st.Bytes != uint64(want.Len()) {
		t.Fatalf("stats %+v", st)
	}
	l := log.String()
	for _, s := range []string{"vigil: pipe cmd: command stdout: started\n", "vigil: pipe cmd: command stderr: warn\n"} {
		if !strings.Contains(l, s) {
			t.Errorf("log lacks %q:\n%s", s, l)
		}
	}
}

// TestCommandRestart uses a command that takes one line and exits; the
// pipe must restart it for each further line.
func TestCommandRestart(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	log := &syncBuf{}
	p := openPipe(t, Config{
		Command:  []string{"sh", "-c", `IFS= read -r line && printf '%s\n' "$line" >> "$0"`, out},
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		Log: log,
	})
	deadline := time.Now().Add(15 * time.Second)
	for i := range 4 {
		want := "dns.query\tq" + strconv.Itoa(i)
		for {
			if time.Now().After(deadline) {
				t.Fatalf("line %d never arrived: %+v\n%s", i, p.Stats(), log)
			}
			p.Send("dns.query", []byte("q"+strconv.Itoa(i)), 0, 0)
			time.Sleep(20 * time.Millisecond)
			b, _ := os.ReadFile(out)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if lines[len(lines)-1] == want {
				break
			}
		}
	}
	p.Close()
	if st := p.Stats(); st.Reconnects < 3 {
		t.Fatalf("Reconnects %d, want >= 3", st.Reconnects)
	}
	if !strings.Contains(log.String(), "command exited: exit status 0") {
		t.Errorf("log does not report the exit:\n%s", log)
	}
}

func TestCommandKilledOnClose(t *testing.T) {
	p := openPipe(t, Config{
		Command:      []string{"sh", "-c", `trap '' TERM; exec sleep 60 </dev/null`},
		FlushTimeout: 100 * time.Millisecond,
	})
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

func TestDatagram(t *testing.T) {
	path := sockPath(t)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := openPipe(t, Config{Socket: path, Datagram: true, Format: "json", QueueBytes: 4 << 20})
	huge := bytes.Repeat([]byte("h"), 1<<20) // larger than any unix datagram
	values := [][]byte{[]byte("one"), []byte("two\nlines"), huge, []byte("four")}
	for _, v := range values {
		if !p.Send("http.host", v, 1e18, 42) {
			t.Fatal("Send refused")
		}
	}
	buf := make([]byte, 1<<16)
	var got [][]byte
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < 3 {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", len(got), err)
		}
		got = append(got, append([]byte(nil), buf[:n]...))
	}
	for i, v := range [][]byte{values[0], values[1], values[3]} {
		checkJSONLine(t, "http.host", v, got[i])
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st := checkBalance(t, p, 4)
	if st.Sent != 3 || st.Dropped != 1 || st.WriteErrors != 1 {
		t.Fatalf("stats %+v, want the huge line dropped alone", st)
	}
}

func TestSendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, format := range []string{"text", "json"} {
		path := sockPath(t)
		listen(t, path, true)
		p := openPipe(t, Config{Socket: path, Format: format, Location: time.FixedZone("", 3600)})
		v := []byte("Mozilla/5.0 (Windows NT 10.0; Win64; x64)\n\x01")
		for range 100 {
			p.Send("http.user_agent", v, 1, 1)
		}
		if n := testing.AllocsPerRun(2000, func() { p.Send("http.user_agent", v, 1258994763604227000, 77) }); n != 0 {
			t.Errorf("%s: Send allocates %v times per call", format, n)
		}
	}
	// The refusing path (reader gone) allocates nothing either.
	p := openPipe(t, Config{Socket: sockPath(t)})
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().ConnectErrors == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := testing.AllocsPerRun(1000, func() { p.Send("dns.query", []byte("x"), 0, 0) }); n != 0 {
		t.Errorf("refused Send allocates %v times per call", n)
	}
}

func TestConcurrentStatsAndSend(t *testing.T) {
	path := sockPath(t)
	listen(t, path, true)
	p := openPipe(t, Config{Socket: path, QueueBytes: 4096})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				st := p.Stats()
				_ = st.Sent + st.Dropped + st.Queued
			}
		}
	}()
	const n = 20000
	for i := range n {
		p.Send("dns.query", []byte(strconv.Itoa(i)), 0, 0)
	}
	close(stop)
	wg.Wait()
	p.Close()
	if st := checkBalance(t, p, n); st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func BenchmarkSend(b *testing.B) {
	for _, format := range []string{"text", "json"} {
		b.Run(format, func(b *testing.B) {
			dir, err := os.MkdirTemp("", "vp")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			path := filepath.Join(dir, "s")
			ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.Copy(io.Discard, c)
				c.Close()
			}()
			p, err := Open(Config{Name: "bench", Fields: []string{"http.user_agent"}, Socket: path, Format: format, Log: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			v := []byte("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Send("http.user_agent", v, int64(i), uint64(i))
			}
			b.StopTimer()
			p.Close()
			st := p.Stats()
			b.ReportMetric(float64(st.Dropped)/float64(st.Sent+st.Dropped), "dropped/op")
		})
	}
}

func TestOversizedLineRefused(t *testing.T) {
	path := sockPath(t)
	srv := listen(t, path, true)
	p := openPipe(t, Config{Socket: path, QueueBytes: 1024})
	if p.Send("dns.query", bytes.Repeat([]byte("a"), 1100), 0, 0) {
		t.Fatal("line larger than the queue accepted")
	}
	if p.Send("dns.query", bytes.Repeat([]byte("\n"), 600), 0, 0) { // escapes to 1200+ bytes
		t.Fatal("escaped line larger than the queue accepted")
	}
	if cap(p.scratch) > 8*1024 {
		t.Fatalf("scratch grew to %d bytes", cap(p.scratch))
	}
	if !p.Send("dns.query", []byte("ok"), 0, 0) {
		t.Fatal("small line refused")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st := checkBalance(t, p, 3); st.Dropped != 2 || st.Sent != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := srv.waitLines(t, 1); got[0] != "dns.query\tok" {
		t.Fatalf("got %q", got)
	}
}
