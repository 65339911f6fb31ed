// Package pipe sends chosen fields of parsed traffic (every http.user_agent,
// every dns.query, ...) as lines to a Unix socket or to the standard input of
// an external command, without ever blocking the packet path.
//
// # Model
//
// A Pipe is opened from a Config. Send formats one line into a scratch
// buffer, then copies it into a bounded in-memory queue under a mutex that
// is held only for that copy. One writer goroutine per Pipe swaps the queue
// with its own buffer (a double buffer: the two are exchanged, never copied)
// and writes the batch to the reader. If the reader is slow, the writer
// blocks in its write while Send keeps filling the queue; when the queue is
// full, Send refuses the line, returns false and counts it as dropped.
// Nothing on the packet path ever waits for the reader.
//
// Send is meant for one packet-path goroutine (it takes a small mutex of its
// own, so concurrent calls are safe but serialise). It does not filter:
// call Wants first (a map lookup, no allocation) and Send only the fields
// the pipe was configured with.
//
// # Delivery
//
// Lines that Send accepted are written in order. A line is counted Sent
// once the kernel accepted all of its bytes, and Dropped when Send refused
// it, when a write failed while it was being written (the reader went
// away), or when Close's flush deadline passed before it could be written.
// Lines still in the queue when a connection breaks are kept for the next
// connection. While the reader is gone (before a reconnect succeeds), Send
// refuses new lines. At every moment Sent + Dropped + Queued equals the
// number of Send calls that have returned (Stats takes one consistent
// snapshot), and after Close, Queued is 0.
//
// # Reconnects
//
// A socket is reconnected, and a command restarted, after a delay that
// starts at RetryMin and doubles up to RetryMax on each consecutive
// failure; a connection (or a command run) that lasted at least RetryMax
// resets the delay. A stream socket whose reader closed it is noticed
// before the next batch is written and, while idle, at least every
// LivenessInterval.
//
// # Line formats
//
// "text": "<field>\t<value>\n". Every byte that could break the line or
// be misread is escaped: newline as \n, tab as \t, backslash as \\, and
// every other byte that is not printable as \xNN (two lower-case hex
// digits), including control characters, DEL, bytes of invalid UTF-8 and
// the bytes of non-printable Unicode characters (U+0085, U+2028, U+00A0,
// ...). Printable UTF-8 is written as it is. A line therefore contains no
// newline other than its last byte, and the value can be recovered exactly.
//
// "json": {"timestamp":"2009-11-24T21:26:03.604227+0100","field":"dns.query",
// "value":"example.com","flow_id":123}\n, with timestamps as EVE writes them
// and the value escaped as EVE escapes strings (invalid UTF-8 bytes as the
// characters \xNN). flow_id is left out when it is 0.
//
// In datagram mode every line (with its newline) is one datagram.
//
// # Goroutines
//
// Open starts exactly one writer goroutine per Pipe. A command additionally
// has the goroutines os/exec needs to copy its stdout and stderr, and one
// that reaps it; all of them end when the command exits. Close stops and
// reaps everything.
package pipe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultQueueBytes       = 1 << 20
	DefaultRetryMin         = 100 * time.Millisecond
	DefaultRetryMax         = 5 * time.Second
	DefaultFlushTimeout     = 2 * time.Second
	DefaultLivenessInterval = time.Second
)

// maxSocketPath is the longest path a sockaddr_un holds (108 bytes with
// the terminating NUL on Linux).
const maxSocketPath = 107

// ErrClosed is what Close returns when called again.
var ErrClosed = errors.New("pipe: already closed")

// Config describes one output pipe. Exactly one of Socket and Command is set.
type Config struct {
	// Name identifies the pipe in errors, log lines and stats.
	Name string
	// Fields are the field names the pipe takes, such as "http.user_agent"
	// or "dns.query": two or more dot-separated parts of lower-case ASCII
	// letters, digits, '_' or '-', each part non-empty, the first starting
	// with a letter. Only the syntax is checked.
	Fields []string
	// Socket is the path of a Unix socket to connect to (a leading '@'
	// names a socket in the abstract namespace).
	Socket string
	// Datagram selects a SOCK_DGRAM socket (unixgram) instead of a stream.
	Datagram bool
	// Command is an external command (argv; the program is looked up in
	// PATH) started once, whose standard input receives the lines. Its
	// stdout and stderr go to Log, each line prefixed with the pipe's name.
	Command []string
	// Format is "text" (the default when empty) or "json".
	Format string
	// QueueBytes bounds the bytes of lines waiting to be written, the
	// writer's current batch included; 0 means DefaultQueueBytes.
	QueueBytes int

	// RetryMin and RetryMax bound the reconnect/restart delay; 0 means
	// DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// FlushTimeout bounds how long Close writes what is queued, and then
	// how long it waits for a command to exit before killing it; 0 means
	// DefaultFlushTimeout.
	FlushTimeout time.Duration
	// LivenessInterval is how often an idle stream socket is checked for a
	// reader that went away; 0 means DefaultLivenessInterval.
	LivenessInterval time.Duration
	// Location is the time zone of "json" timestamps; nil means time.Local,
	// as EVE uses.
	Location *time.Location
	// Log receives connection events and the command's output; nil means
	// os.Stderr.
	Log io.Writer
}

// Stats are a Pipe's counters. Sent + Dropped + Queued equals the number of
// lines offered to Send.
type Stats struct {
	Sent          uint64 // lines written completely to the reader
	Dropped       uint64 // lines refused by Send or lost after being queued
	Bytes         uint64 // bytes written to the reader
	Reconnects    uint64 // connections made (commands started) after the first
	WriteErrors   uint64 // writes that failed
	ConnectErrors uint64 // connection or command start attempts that failed
	Queued        uint64 // lines accepted and not yet written
}

// Pipe is an open output pipe. Create it with Open.
type Pipe struct {
	cfg   Config
	text  bool
	want  map[string]struct{}
	loc   *time.Location
	limit int
	path  string // resolved program path (Command)
	log   *logger

	// sendMu serialises Send's use of scratch.
	sendMu  sync.Mutex
	scratch []byte

	// mu guards the queue, the counters and the flags below. It is held
	// only to copy a line in, to swap buffers, and to update counters.
	mu        sync.Mutex
	fill      []byte // queued lines, in order
	fillLines uint64
	outLeft   int    // bytes of the writer's batch not yet written
	outLines  uint64 // lines of the writer's batch not yet written completely
	accept    bool   // Send takes lines (false while the reader is gone or after Close)
	closing   bool
	st        Stats

	wake chan struct{} // capacity 1: the writer has something to do
	done chan struct{} // closed when the writer goroutine returns

	// dstMu guards dst and deadline, so Close can interrupt a write that
	// a stalled reader blocks.
	dstMu    sync.Mutex
	dst      destination
	deadline time.Time // flush deadline, set by Close

	closeOnce sync.Once
	closeErr  error
	lostAtEnd uint64 // lines the final flush could not write (writer-owned until done)
	flushErr  error  // why (writer-owned until done)

	// out is the writer's initial batch buffer (the other half of the
	// double buffer); the writer goroutine owns it.
	out []byte
}

// Open validates cfg and starts the pipe's writer goroutine, which connects
// to the socket (or starts the command) in the background: Open never waits
// for the reader. Lines sent before the first connection is made are
// queued; if it fails, Send refuses lines until a retry succeeds.
func Open(cfg Config) (*Pipe, error) {
	p := &Pipe{cfg: cfg}
	if err := p.configure(); err != nil {
		return nil, err
	}
	p.fill = make([]byte, 0, p.limit)
	p.out = make([]byte, 0, p.limit)
	p.scratch = make([]byte, 0, 256)
	p.accept = true
	p.wake = make(chan struct{}, 1)
	p.done = make(chan struct{})
	go p.run()
	return p, nil
}

func (p *Pipe) configure() error {
	c := &p.cfg
	if c.Name == "" {
		return errors.New("pipe: config: name is empty")
	}
	if strings.ContainsFunc(c.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("pipe %q: config: name contains a control character", c.Name)
	}
	if len(c.Fields) == 0 {
		return fmt.Errorf("pipe %q: config: no fields", c.Name)
	}
	p.want = make(map[string]struct{}, len(c.Fields))
	for i, f := range c.Fields {
		if err := checkFieldName(f); err != nil {
			return fmt.Errorf("pipe %q: config: fields[%d] %q: %w", c.Name, i, f, err)
		}
		if _, dup := p.want[f]; dup {
			return fmt.Errorf("pipe %q: config: fields[%d] %q: listed twice", c.Name, i, f)
		}
		p.want[f] = struct{}{}
	}
	switch {
	case c.Socket != "" && len(c.Command) > 0:
		return fmt.Errorf("pipe %q: config: both socket and command are set; choose one", c.Name)
	case c.Socket == "" && len(c.Command) == 0:
		return fmt.Errorf("pipe %q: config: neither socket nor command is set", c.Name)
	case c.Socket != "":
		if len(c.Socket) > maxSocketPath {
			return fmt.Errorf("pipe %q: config: socket path %q is %d bytes, longer than the %d a Unix socket address holds",
				c.Name, c.Socket, len(c.Socket), maxSocketPath)
		}
		if strings.IndexByte(c.Socket, 0) >= 0 {
			return fmt.Errorf("pipe %q: config: socket path contains a NUL byte", c.Name)
		}
	default:
		if c.Datagram {
			return fmt.Errorf("pipe %q: config: datagram applies to a socket, not to a command", c.Name)
		}
		if c.Command[0] == "" {
			return fmt.Errorf("pipe %q: config: command[0] (the program) is empty", c.Name)
		}
		path, err := exec.LookPath(c.Command[0])
		if err != nil {
			return fmt.Errorf("pipe %q: config: command %q: %w", c.Name, c.Command[0], err)
		}
		p.path = path
	}
	switch c.Format {
	case "", "text":
		p.text = true
	case "json":
	default:
		return fmt.Errorf("pipe %q: config: format %q: want \"text\" or \"json\"", c.Name, c.Format)
	}
	switch {
	case c.QueueBytes < 0:
		return fmt.Errorf("pipe %q: config: queue bytes %d is negative", c.Name, c.QueueBytes)
	case c.QueueBytes == 0:
		p.limit = DefaultQueueBytes
	default:
		p.limit = c.QueueBytes
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"retry min", &c.RetryMin, DefaultRetryMin},
		{"retry max", &c.RetryMax, DefaultRetryMax},
		{"flush timeout", &c.FlushTimeout, DefaultFlushTimeout},
		{"liveness interval", &c.LivenessInterval, DefaultLivenessInterval},
	} {
		if *d.v < 0 {
			return fmt.Errorf("pipe %q: config: %s %v is negative", c.Name, d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.RetryMax < c.RetryMin {
		return fmt.Errorf("pipe %q: config: retry max %v is below retry min %v", c.Name, c.RetryMax, c.RetryMin)
	}
	p.loc = c.Location
	if p.loc == nil {
		p.loc = time.Local
	}
	w := c.Log
	if w == nil {
		w = os.Stderr
	}
	p.log = &logger{w: w, prefix: "vigil: pipe " + c.Name + ": "}
	return nil
}

// checkFieldName checks the syntax of a field name (see Config.Fields).
func checkFieldName(f string) error {
	if f == "" {
		return errors.New("empty field name")
	}
	parts := 0
	start := 0
	for i := 0; i <= len(f); i++ {
		if i < len(f) && f[i] != '.' {
			c := f[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return fmt.Errorf("byte %q at offset %d: want lower-case letters, digits, '_', '-' or '.'", c, i)
			}
			continue
		}
		if i == start {
			return fmt.Errorf("empty part at offset %d", i)
		}
		if parts == 0 && !(f[0] >= 'a' && f[0] <= 'z') {
			return errors.New("must start with a letter")
		}
		parts++
		start = i + 1
	}
	if parts < 2 {
		return errors.New("want at least two dot-separated parts, like \"dns.query\"")
	}
	return nil
}

// Name returns the pipe's configured name.
func (p *Pipe) Name() string { return p.cfg.Name }

// Wants reports whether field is one of the pipe's configured fields. It
// is a map lookup and allocates nothing.
func (p *Pipe) Wants(field string) bool {
	_, ok := p.want[field]
	return ok
}

// Send formats one line for field and value and queues it for the writer.
// value is copied; the caller keeps it. tsNs is the capture time in
// nanoseconds since the Unix epoch, flowID the flow's id (0 for none);
// both are used by the "json" format only. Send returns false, and counts
// the line as dropped, when the queue has no room for it, when the reader
// is gone, or after Close. It never blocks on the reader, and allocates
// nothing once the scratch buffer has grown to the longest line.
//
// Send does not check field against the configured fields (see Wants);
// in "text" lines a field name is escaped like a value.
func (p *Pipe) Send(field string, value []byte, tsNs int64, flowID uint64) bool {
	// A line is at least field, separator, value and newline long: one
	// that can never fit the queue is refused without being formatted, so
	// the scratch buffer stays bounded by a few times QueueBytes.
	if len(field)+len(value)+2 > p.limit {
		p.mu.Lock()
		p.st.Dropped++
		p.mu.Unlock()
		return false
	}
	p.sendMu.Lock()
	if p.text {
		p.scratch = appendText(p.scratch[:0], field, value)
	} else {
		p.scratch = appendJSON(p.scratch[:0], field, value, tsNs, flowID, p.loc)
	}
	line := p.scratch

	p.mu.Lock()
	ok := p.accept && len(p.fill)+p.outLeft+len(line) <= p.limit
	if ok {
		p.fill = append(p.fill, line...)
		p.fillLines++
	} else {
		p.st.Dropped++
	}
	p.mu.Unlock()
	p.sendMu.Unlock()

	if ok {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return ok
}

// Stats returns a consistent snapshot of the counters. It is safe to call
// from any goroutine.
func (p *Pipe) Stats() Stats {
	p.mu.Lock()
	s := p.st
	s.Queued = p.fillLines + p.outLines
	p.mu.Unlock()
	return s
}

// Close stops taking lines, writes what is queued (for at most
// FlushTimeout), stops the writer goroutine, closes the socket or the
// command's standard input and reaps the command (killing it if it has not
// exited FlushTimeout later). It returns an error when queued lines could
// not be written. Later calls return ErrClosed.
func (p *Pipe) Close() error {
	err := ErrClosed
	p.closeOnce.Do(func() {
		deadline := time.Now().Add(p.cfg.FlushTimeout)
		p.mu.Lock()
		p.closing = true
		p.accept = false
		p.mu.Unlock()

		// Bound the write a stalled reader may be blocking right now; the
		// writer sets the same deadline on any connection it makes later.
		p.dstMu.Lock()
		p.deadline = deadline
		if p.dst != nil {
			p.dst.SetWriteDeadline(deadline)
		}
		p.dstMu.Unlock()

		select {
		case p.wake <- struct{}{}:
		default:
		}
		<-p.done
		if p.lostAtEnd > 0 {
			p.closeErr = fmt.Errorf("pipe %q: close: %d queued lines not written: %w", p.cfg.Name, p.lostAtEnd, p.flushErr)
		} else {
			p.closeErr = nil
		}
		err = p.closeErr
	})
	return err
}

// logger writes whole lines, with a prefix, to the log writer; it is shared
// by the writer goroutine and the command's output copiers.
type logger struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s"+format+"\n", append([]any{l.prefix}, args...)...)
}

// writeLine writes prefix+extra+line+"\n" in one Write.
func (l *logger) writeLine(extra string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := make([]byte, 0, len(l.prefix)+len(extra)+len(line)+1)
	b = append(b, l.prefix...)
	b = append(b, extra...)
	b = append(b, line...)
	b = append(b, '\n')
	l.w.Write(b)
}
