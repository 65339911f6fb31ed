package bypass

import (
	"time"

	"golang.org/x/sys/unix"
)

// Time of a flow entry.
//
// The program stamps last_seen_ns with bpf_ktime_get_ns, which reads
// CLOCK_MONOTONIC: nanoseconds since boot, not counting suspend, never
// stepped by NTP or settimeofday. Go's time.Time carries a monotonic
// reading from the same clock, but relative to the process start, so it
// cannot be compared with kernel stamps directly. A monoClock reads
// CLOCK_MONOTONIC once (clock_gettime, at load) between two time.Now calls;
// after that the current CLOCK_MONOTONIC value is that reading plus the Go
// monotonic time elapsed since (time.Since: vDSO, no syscall, exact).
//
// A kernel stamp t becomes wall time as now.wall - (now.mono - t) with both
// halves of "now" taken from one time.Now: the wall time the packet was
// seen, exact up to half the time between the bracketing reads at load (a
// few µs), and shifted like every other wall time by any wall-clock step
// since. Idle durations (Expire) are computed in the monotonic domain and
// are immune to wall-clock steps when the caller's "now" comes from
// time.Now (it carries a monotonic reading).
type monoClock struct {
	wall time.Time // time.Now at load (with its monotonic reading)
	mono int64     // CLOCK_MONOTONIC ns at that instant
}

func newMonoClock() monoClock {
	// Bracket clock_gettime between two time.Now calls and keep the
	// tightest of a few tries; the wall time of the reading is the middle.
	var best monoClock
	bestSpan := time.Duration(1<<63 - 1)
	for range 5 {
		var ts unix.Timespec
		t1 := time.Now()
		// CLOCK_MONOTONIC cannot fail on Linux.
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		t2 := time.Now()
		if span := t2.Sub(t1); span < bestSpan {
			bestSpan = span
			best = monoClock{wall: t1.Add(span / 2), mono: ts.Nano()}
		}
	}
	return best
}

// clockAnchor is one reading of both clocks.
type clockAnchor struct {
	wall time.Time
	mono int64 // CLOCK_MONOTONIC ns, the clock of bpf_ktime_get_ns
}

// now reads both clocks (one time.Now, no syscall).
func (c *monoClock) now() clockAnchor {
	w := time.Now()
	return clockAnchor{wall: w, mono: c.mono + int64(w.Sub(c.wall))}
}

// wallTime converts a bpf_ktime_get_ns stamp to wall time; 0 (never seen)
// gives the zero Time.
func (a clockAnchor) wallTime(ktimeNs uint64) time.Time {
	if ktimeNs == 0 {
		return time.Time{}
	}
	return a.wall.Add(-time.Duration(a.mono - int64(ktimeNs)))
}

// monoAt returns the CLOCK_MONOTONIC stamp that corresponds to the wall time t.
func (a clockAnchor) monoAt(t time.Time) int64 {
	return a.mono - int64(a.wall.Sub(t))
}
