package pipe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// chunkBytes is the most a stream write hands the kernel at once, so the
// queue bound (Send's room check) shrinks as a slow reader takes bytes.
const chunkBytes = 64 << 10

// destination is where the writer's bytes go: a *net.UnixConn or the
// write end of a command's stdin pipe (*os.File). Both support deadlines,
// which is how Close interrupts a write blocked by a stalled reader.
type destination interface {
	io.Writer
	SetWriteDeadline(time.Time) error
	Close() error
}

// process is one run of the configured command.
type process struct {
	cmd    *exec.Cmd
	stdin  *os.File      // write end of its standard input
	exited chan struct{} // closed once Wait returned and its output is logged
	err    error         // Wait's result; read after exited is closed
	stdout *outputLog
	stderr *outputLog
}

// writer is the state of the writer goroutine; only that goroutine uses it.
type writer struct {
	p         *Pipe
	out       []byte        // the batch being written (swapped with p.fill)
	dst       destination   // nil while not connected
	uc        *net.UnixConn // stream socket, for liveness checks; else nil
	proc      *process      // running command; else nil
	since     time.Time     // when dst was connected
	ever      bool          // a connection was made before
	delay     time.Duration // next reconnect delay
	nextDial  time.Time     // no connection attempt before this
	failing   bool          // in a streak of failed attempts (logged once)
	lastErr   error         // last connect or write error
	timer     *time.Timer
	discard   [512]byte
	recvN     int
	recvErr   error
	recvProbe func(fd uintptr) bool
}

func (p *Pipe) run() {
	defer close(p.done)
	w := &writer{p: p, out: p.out, delay: p.cfg.RetryMin}
	w.recvProbe = w.probe
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	w.loop()
}

func (w *writer) loop() {
	p := w.p
	for {
		p.mu.Lock()
		closing, pending := p.closing, len(p.fill) > 0
		p.mu.Unlock()
		if closing {
			w.finish()
			return
		}
		if w.dst == nil && !time.Now().Before(w.nextDial) {
			w.connect(time.Time{})
		}
		if w.dst != nil && pending {
			if w.alive() {
				w.drain()
			}
			continue
		}

		var wait time.Duration
		var exited <-chan struct{}
		if w.dst != nil {
			wait = p.cfg.LivenessInterval
			if w.proc != nil {
				exited = w.proc.exited
			}
		} else {
			wait = max(time.Until(w.nextDial), 0)
		}
		w.timer.Reset(wait)
		select {
		case <-p.wake:
		case <-w.timer.C:
			if w.dst != nil {
				w.alive()
			}
		case <-exited:
			w.disconnect(nil)
		}
		w.timer.Stop()
	}
}

// target describes the destination for log lines and errors.
func (w *writer) target() string {
	c := &w.p.cfg
	if c.Socket != "" {
		if c.Datagram {
			return "datagram socket " + c.Socket
		}
		return "socket " + c.Socket
	}
	return fmt.Sprintf("command %q", c.Command)
}

// connect makes one attempt to connect the socket or start the command.
// A non-zero deadline bounds the attempt and every later write.
func (w *writer) connect(deadline time.Time) bool {
	p := w.p
	var (
		dst  destination
		uc   *net.UnixConn
		proc *process
		err  error
	)
	if p.cfg.Socket != "" {
		network := "unix"
		if p.cfg.Datagram {
			network = "unixgram"
		}
		d := net.Dialer{Timeout: time.Second, Deadline: deadline}
		var c net.Conn
		if c, err = d.Dial(network, p.cfg.Socket); err == nil {
			uc = c.(*net.UnixConn)
			dst = uc
			if p.cfg.Datagram {
				uc = nil
			}
		}
	} else {
		if proc, err = w.startCommand(); err == nil {
			dst = proc.stdin
		}
	}
	now := time.Now()
	if err != nil {
		w.lastErr = err
		w.nextDial = now.Add(w.delay)
		p.mu.Lock()
		p.st.ConnectErrors++
		p.accept = false
		p.mu.Unlock()
		if !w.failing {
			p.log.printf("cannot connect to %s: %v (retrying, first in %v)", w.target(), err, w.delay)
			w.failing = true
		}
		w.delay = min(2*w.delay, p.cfg.RetryMax)
		return false
	}

	p.dstMu.Lock()
	p.dst = dst
	if !p.deadline.IsZero() {
		dst.SetWriteDeadline(p.deadline)
	}
	p.dstMu.Unlock()
	w.dst, w.uc, w.proc, w.since = dst, uc, proc, now

	p.mu.Lock()
	if w.ever {
		p.st.Reconnects++
	}
	if !p.closing {
		p.accept = true
	}
	p.mu.Unlock()
	if w.ever || w.failing {
		p.log.printf("connected to %s", w.target())
	}
	w.ever = true
	w.failing = false
	return true
}

func (w *writer) startCommand() (*process, error) {
	p := w.p
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	cmd := exec.Command(p.path, p.cfg.Command[1:]...)
	cmd.Args[0] = p.cfg.Command[0]
	cmd.Stdin = r
	pr := &process{
		cmd:    cmd,
		stdin:  wr,
		exited: make(chan struct{}),
		stdout: &outputLog{l: p.log, extra: "command stdout: "},
		stderr: &outputLog{l: p.log, extra: "command stderr: "},
	}
	cmd.Stdout = pr.stdout
	cmd.Stderr = pr.stderr
	// Wait returns at most this long after the command exits even if a
	// child of it keeps stdout or stderr open.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		r.Close()
		wr.Close()
		return nil, err
	}
	r.Close()
	go func() {
		pr.err = cmd.Wait()
		pr.stdout.flush()
		pr.stderr.flush()
		close(pr.exited)
	}()
	return pr, nil
}

// alive checks, without blocking, that the reader is still there, and
// disconnects if it is not. A stream socket's peer that closed shows as
// end-of-file; bytes the reader sent are read and discarded.
func (w *writer) alive() bool {
	switch {
	case w.proc != nil:
		select {
		case <-w.proc.exited:
			w.disconnect(nil)
			return false
		default:
			return true
		}
	case w.uc != nil:
		rc, err := w.uc.SyscallConn()
		if err != nil {
			w.disconnect(err)
			return false
		}
		for range 64 {
			if err := rc.Read(w.recvProbe); err != nil {
				w.disconnect(err)
				return false
			}
			switch {
			case w.recvErr == syscall.EAGAIN || w.recvErr == syscall.EINTR:
				return true
			case w.recvErr != nil:
				w.disconnect(fmt.Errorf("check reader: %w", w.recvErr))
				return false
			case w.recvN == 0:
				w.disconnect(errors.New("the reader closed the connection"))
				return false
			}
		}
	}
	return true
}

// probe is the raw receive alive uses; it never waits (it returns true so
// the runtime does not park on readability).
func (w *writer) probe(fd uintptr) bool {
	w.recvN, _, w.recvErr = syscall.Recvfrom(int(fd), w.discard[:], syscall.MSG_DONTWAIT)
	return true
}

// disconnect closes the destination, reaps a command, and schedules the
// next connection attempt. why is nil when a command exited by itself.
func (w *writer) disconnect(why error) {
	p := w.p
	p.dstMu.Lock()
	p.dst = nil
	p.dstMu.Unlock()
	p.mu.Lock()
	p.accept = false
	p.mu.Unlock()

	w.dst.Close()
	if w.proc != nil {
		status := w.reap(p.cfg.FlushTimeout)
		if why == nil {
			why = fmt.Errorf("command exited: %s", status)
		} else {
			why = fmt.Errorf("%w; command exited: %s", why, status)
		}
	}
	w.lastErr = why
	now := time.Now()
	if now.Sub(w.since) >= p.cfg.RetryMax {
		w.delay = p.cfg.RetryMin
	}
	w.nextDial = now.Add(w.delay)
	p.log.printf("lost %s: %v (reconnecting in %v)", w.target(), why, w.delay)
	w.delay = min(2*w.delay, p.cfg.RetryMax)
	w.dst, w.uc, w.proc = nil, nil, nil
}

// reap waits up to grace for the command to exit after its stdin was
// closed, kills it if it has not, and describes how it ended.
func (w *writer) reap(grace time.Duration) string {
	pr := w.proc
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-pr.exited:
	case <-t.C:
		pr.cmd.Process.Kill()
		<-pr.exited
	}
	if pr.err != nil {
		return pr.err.Error()
	}
	return "exit status 0"
}

// drain takes the queue and writes it.
func (w *writer) drain() error {
	p := w.p
	p.mu.Lock()
	p.fill, w.out = w.out[:0], p.fill
	p.outLeft, p.outLines = len(w.out), p.fillLines
	p.fillLines = 0
	p.mu.Unlock()
	if p.cfg.Datagram {
		return w.writeDatagrams()
	}
	return w.writeStream()
}

func (w *writer) writeStream() error {
	p := w.p
	out := w.out
	for off := 0; off < len(out); {
		n, err := w.dst.Write(out[off:min(off+chunkBytes, len(out))])
		lines := uint64(bytes.Count(out[off:off+n], []byte{'\n'}))
		off += n
		p.mu.Lock()
		p.st.Sent += lines
		p.st.Bytes += uint64(n)
		p.outLines -= lines
		p.outLeft = len(out) - off
		if err != nil {
			p.st.WriteErrors++
			p.st.Dropped += p.outLines // the cut line and all after it
			p.outLines, p.outLeft = 0, 0
		}
		p.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("write: %w", err)
			w.disconnect(err)
			return err
		}
	}
	return nil
}

// writeDatagrams sends each line as one datagram. A line too large for a
// datagram is dropped on its own; any other error loses the connection.
func (w *writer) writeDatagrams() error {
	p := w.p
	out := w.out
	for off := 0; off < len(out); {
		end := off + bytes.IndexByte(out[off:], '\n') + 1
		n, err := w.dst.Write(out[off:end])
		off = end
		p.mu.Lock()
		p.outLines--
		p.outLeft = len(out) - off
		if err == nil {
			p.st.Sent++
			p.st.Bytes += uint64(n)
		} else {
			p.st.WriteErrors++
			p.st.Dropped++
			if !errors.Is(err, syscall.EMSGSIZE) {
				p.st.Dropped += p.outLines
				p.outLines, p.outLeft = 0, 0
			}
		}
		p.mu.Unlock()
		if err != nil {
			if errors.Is(err, syscall.EMSGSIZE) {
				w.lastErr = err
				continue
			}
			err = fmt.Errorf("write: %w", err)
			w.disconnect(err)
			return err
		}
	}
	return nil
}

// finish runs once Close was called: it writes what is queued before the
// flush deadline (connecting once if needed), counts what it could not
// write, closes the destination and reaps the command.
func (w *writer) finish() {
	p := w.p
	p.dstMu.Lock()
	deadline := p.deadline
	p.dstMu.Unlock()

	p.mu.Lock()
	queued, sentBefore := p.fillLines, p.st.Sent
	p.mu.Unlock()

	tried := false
	var err error
	for {
		p.mu.Lock()
		pending := len(p.fill) > 0
		p.mu.Unlock()
		if !pending {
			break
		}
		if w.dst == nil {
			if tried || !time.Now().Before(deadline) {
				err = w.lastErr
				if err == nil {
					err = os.ErrDeadlineExceeded
				}
				break
			}
			tried = true
			if !w.connect(deadline) {
				err = w.lastErr
				break
			}
		}
		if !w.alive() {
			continue
		}
		if err = w.drain(); err != nil {
			break
		}
	}

	p.mu.Lock()
	p.st.Dropped += p.fillLines
	p.fill = p.fill[:0]
	p.fillLines = 0
	lost := queued - (p.st.Sent - sentBefore)
	p.mu.Unlock()
	if lost > 0 {
		if err == nil {
			err = w.lastErr
		}
		if err == nil {
			err = errors.New("reader gone")
		}
		p.lostAtEnd, p.flushErr = lost, err
	}

	if w.dst != nil {
		p.dstMu.Lock()
		p.dst = nil
		p.dstMu.Unlock()
		w.dst.Close()
		if w.proc != nil {
			if status := w.reap(p.cfg.FlushTimeout); status != "exit status 0" {
				p.log.printf("%s ended: %s", w.target(), status)
			}
		}
		w.dst, w.uc, w.proc = nil, nil, nil
	}
}

// outputLog writes a command's output to the pipe's log, one prefixed log
// line per output line. One os/exec copier goroutine writes to it; flush
// runs after Wait, which waits for that goroutine.
type outputLog struct {
	l     *logger
	extra string
	buf   []byte
}

const maxLogLine = 4096

func (o *outputLog) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			o.buf = append(o.buf, b...)
			if len(o.buf) >= maxLogLine {
				o.flush()
			}
			break
		}
		o.buf = append(o.buf, b[:i]...)
		o.flush()
		b = b[i+1:]
	}
	return n, nil
}

func (o *outputLog) flush() {
	if len(o.buf) > 0 {
		o.l.writeLine(o.extra, o.buf)
		o.buf = o.buf[:0]
	}
}
