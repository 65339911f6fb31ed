package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/vigil-ids/vigil/detect/rules"
)

// ruleStats describes one rule load, for -T and `vigil rules check`.
type ruleStats struct {
	files     int
	parsed    int // rules parsed (before compilation)
	parseTime time.Duration
	compile   time.Duration
	errs      []error // rule errors (not warnings)
}

// blockerName is the table key of one rule error: the keyword or protocol
// that kept the rule out.
func blockerName(err error) string {
	var re *rules.Error
	if !errors.As(err, &re) {
		return "(other)"
	}
	msg := re.Msg
	switch {
	case strings.HasPrefix(msg, "unsupported protocol "):
		return "protocol " + strings.Trim(strings.TrimPrefix(msg, "unsupported protocol "), `"`)
	case strings.Contains(msg, "unsupported pcre feature"):
		return "pcre (unsupported regex feature)"
	case re.Keyword != "":
		return re.Keyword
	}
	return "(syntax)"
}

// blockers counts the rules each keyword blocks, most first.
func blockers(errs []error) []struct {
	name string
	n    int
} {
	counts := map[string]int{}
	for _, err := range errs {
		counts[blockerName(err)]++
	}
	out := make([]struct {
		name string
		n    int
	}, 0, len(counts))
	for k, n := range counts {
		out = append(out, struct {
			name string
			n    int
		}{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].name < out[j].name
	})
	return out
}

// printRuleReport writes the load summary and the top blockers.
func (e *engineRun) printRuleReport(w io.Writer, top int) {
	st := &e.stats
	total := e.loaded + e.failed
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(e.loaded) / float64(total)
	}
	fmt.Fprintf(w, "vigil: rules: %d loaded, %d failed (%.2f%% loaded) from %d files\n", e.loaded, e.failed, pct, st.files)
	fmt.Fprintf(w, "vigil: load time %s (parse %s, compile %s), peak memory %.1f MiB RSS\n",
		(st.parseTime + st.compile).Round(time.Millisecond), st.parseTime.Round(time.Millisecond),
		st.compile.Round(time.Millisecond), peakRSSMiB())
	b := blockers(st.errs)
	if len(b) == 0 {
		return
	}
	fmt.Fprintf(w, "vigil: keyword -> rules it blocks (top %d):\n", min(top, len(b)))
	for i, x := range b {
		if i == top {
			break
		}
		fmt.Fprintf(w, "  %6d  %s\n", x.n, x.name)
	}
}

// setLoadGC makes the garbage collector run less often while rules load
// (the load builds large, long-lived tables) and returns a function that
// restores the previous setting.
func setLoadGC() func() {
	old := debug.SetGCPercent(400)
	return func() {
		debug.SetGCPercent(old)
		runtime.GC()
	}
}

const rulesUsage = `usage: vigil rules check [-S FILE]... [-s FILE]... [-c suricata.yaml] [--set KEY=VALUE]...
                         [--init-errors-fatal] [--top N] [--quiet]

Loads the rules as a start would and reports: rules loaded and failed,
load time, peak memory, and the keywords that kept rules out (top N,
default 20). Each failing rule is reported on stderr as FILE:LINE: error
(--quiet: only the summary). Exit status 0, or 1 with --init-errors-fatal
when a rule failed.
`

// runRules is the `vigil rules` subcommand.
func runRules(argv []string, stdout, stderr io.Writer) int {
	if len(argv) == 0 || argv[0] == "-h" || argv[0] == "--help" {
		fmt.Fprint(stdout, rulesUsage)
		if len(argv) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if argv[0] != "check" {
		fmt.Fprintf(stderr, "vigil: unknown rules command %q (want check)\n", argv[0])
		return exitUsage
	}
	top := 20
	quiet := false
	var rest []string
	for i := 1; i < len(argv); i++ {
		arg := argv[i]
		switch {
		case arg == "--top" || strings.HasPrefix(arg, "--top="):
			v := strings.TrimPrefix(arg, "--top=")
			if arg == "--top" {
				if i+1 >= len(argv) {
					fmt.Fprintln(stderr, "vigil: option --top needs a value")
					return exitUsage
				}
				i++
				v = argv[i]
			}
			n, err := fmt.Sscanf(v, "%d", &top)
			if err != nil || n != 1 || top < 0 {
				fmt.Fprintf(stderr, "vigil: --top %q: want a number >= 0\n", v)
				return exitUsage
			}
		case arg == "--quiet" || arg == "-q":
			quiet = true
		case arg == "-h" || arg == "--help":
			fmt.Fprint(stdout, rulesUsage)
			return exitOK
		default:
			rest = append(rest, arg)
		}
	}
	a, err := parseArgs(rest)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: rules check: %v\n", err)
		return exitUsage
	}
	if a.pcap != "" || len(a.iface) > 0 || a.disableDetect {
		fmt.Fprintln(stderr, "vigil: rules check takes rule and configuration options only (-S, -s, -c, --set, --init-errors-fatal)")
		return exitUsage
	}
	errw := stderr
	if quiet {
		errw = io.Discard
	}
	e := &engineRun{args: a, stdout: stdout, stderr: errw}
	if err := e.configure(); err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	loadErr := e.loadRules()
	if e.engine != nil {
		e.printRuleReport(stdout, top)
	}
	if loadErr != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", loadErr)
		return exitError
	}
	return exitOK
}
