package output

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Counter is one named statistics counter. Names are dotted paths in
// Suricata's stats vocabulary ("capture.kernel_drops", "decoder.pkts",
// "tcp.reassembly_gap"); the EVE stats record nests them by their dots.
type Counter struct {
	Name  string
	Value uint64
}

// WriteStats writes an EVE "stats" record: {"timestamp", "event_type":
// "stats", "stats": {"uptime": N, ...the counters nested by name...}}.
// Counters sharing a prefix must be adjacent in cs (they are grouped into
// one object); the pipeline's counter list is built that way.
func (e *EVE) WriteStats(tsNs int64, uptime time.Duration, cs []Counter) error {
	if e.s.closed {
		return ErrClosed
	}
	j := &e.s.j
	j.b = append(j.b, '{')
	j.key("timestamp")
	j.b = append(j.b, '"')
	j.b = appendISOTime(j.b, tsNs, e.loc)
	j.b = append(j.b, '"')
	j.str("event_type", "stats")
	j.openObject("stats")
	j.uint("uptime", uint64(uptime/time.Second))
	var open []string // the object path open now
	for _, c := range cs {
		parts := strings.Split(c.Name, ".")
		path, leaf := parts[:len(parts)-1], parts[len(parts)-1]
		same := 0
		for same < len(open) && same < len(path) && open[same] == path[same] {
			same++
		}
		for len(open) > same {
			j.closeObject()
			open = open[:len(open)-1]
		}
		for _, p := range path[same:] {
			j.openObject(p)
			open = append(open, p)
		}
		j.uint(leaf, c.Value)
	}
	for range open {
		j.closeObject()
	}
	j.closeObject()
	j.b = append(j.b, '}', '\n')
	return e.s.endRecord()
}

// StatsLog writes Suricata's stats.log: a table of every counter, one
// block per interval.
type StatsLog struct {
	s   lineSink
	loc *time.Location
}

// NewStatsLog returns a stats.log writer on w (Close does not close w).
func NewStatsLog(w io.Writer) *StatsLog {
	l := &StatsLog{loc: time.Local}
	l.s.init(w, "stats.log", "", 0)
	return l
}

// OpenStatsLog opens path for appending and returns a stats.log writer
// that closes it on Close.
func OpenStatsLog(path string) (*StatsLog, error) {
	f, err := openAppend(path, "stats.log")
	if err != nil {
		return nil, err
	}
	l := NewStatsLog(f)
	l.s.c = f
	l.s.target = path
	return l, nil
}

const statsRule = "------------------------------------------------------------------------------------\n"

// Write appends one block (the whole table) and flushes it.
func (l *StatsLog) Write(tsNs int64, uptime time.Duration, cs []Counter) error {
	if l.s.closed {
		return ErrClosed
	}
	j := &l.s.j
	t := time.Unix(0, tsNs).In(l.loc)
	up := int64(uptime / time.Second)
	j.b = append(j.b, statsRule...)
	j.b = fmt.Appendf(j.b, "Date: %s (uptime: %dd, %02dh %02dm %02ds)\n", t.Format("1/2/2006 -- 15:04:05"),
		up/86400, up/3600%24, up/60%60, up%60)
	j.b = append(j.b, statsRule...)
	j.b = fmt.Appendf(j.b, "%-45s | %-25s | %s\n", "Counter", "TM Name", "Value")
	j.b = append(j.b, statsRule...)
	for _, c := range cs {
		j.b = fmt.Appendf(j.b, "%-45s | %-25s | %d\n", c.Name, "Total", c.Value)
	}
	l.s.pending++
	return l.s.flush()
}

// Close flushes and closes.
func (l *StatsLog) Close() error { return l.s.close() }

// Prometheus serves the latest counters in the Prometheus text exposition
// format. Each counter "a.b_c" becomes the metric "vigil_a_b_c".
type Prometheus struct {
	mu   sync.Mutex
	text []byte
}

// Update replaces the served counters.
func (p *Prometheus) Update(uptime time.Duration, cs []Counter) {
	b := make([]byte, 0, 64*len(cs)+64)
	b = append(b, "# TYPE vigil_uptime_seconds gauge\nvigil_uptime_seconds "...)
	b = strconv.AppendInt(b, int64(uptime/time.Second), 10)
	b = append(b, '\n')
	for _, c := range cs {
		name := PromName(c.Name)
		b = append(b, "# TYPE "...)
		b = append(b, name...)
		b = append(b, " untyped\n"...)
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, c.Value, 10)
		b = append(b, '\n')
	}
	p.mu.Lock()
	p.text = b
	p.mu.Unlock()
}

// PromName turns a dotted counter name into a Prometheus metric name.
func PromName(name string) string {
	var sb strings.Builder
	sb.WriteString("vigil_")
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			sb.WriteByte(c)
		default:
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

// ServeHTTP writes the counters of the last Update.
func (p *Prometheus) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	text := p.text
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.Write(text)
}
