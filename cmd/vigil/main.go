// Command vigil is the Vigil network intrusion detection and prevention
// engine. It takes Suricata's command-line flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/detect/engine"
	"github.com/vigil-ids/vigil/detect/rules"
	"github.com/vigil-ids/vigil/output"
	"github.com/vigil-ids/vigil/output/pipe"
	"github.com/vigil-ids/vigil/pipeline"
	"github.com/vigil-ids/vigil/profiles"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exit codes
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func run(argv []string, stdout, stderr io.Writer) int {
	if len(argv) > 0 && argv[0] == "version" {
		fmt.Fprintf(stdout, "vigil %s\n", version)
		return exitOK
	}
	if len(argv) > 0 && argv[0] == "rules" {
		return runRules(argv[1:], stdout, stderr)
	}
	a, err := parseArgs(argv)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitUsage
	}
	if a.help {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if a.showVersion {
		fmt.Fprintf(stdout, "vigil %s\n", version)
		return exitOK
	}
	e := &engineRun{args: a, stdout: stdout, stderr: stderr}
	if err := e.start(); err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	return exitOK
}

// engineRun is one start of the engine: configuration, rules, capture,
// pipeline, summary.
type engineRun struct {
	args     *cliArgs
	stdout   io.Writer
	stderr   io.Writer
	settings *profiles.Settings
	engine   *engine.Engine
	loaded   int // rules parsed and compiled
	failed   int // rules that did not load
	stats    ruleStats
}

func (e *engineRun) start() error {
	began := time.Now()
	if err := e.configure(); err != nil {
		return err
	}
	return e.startRest(began)
}

// configure loads the configuration file and --set overrides.
func (e *engineRun) configure() error {
	a := e.args
	tree := profiles.NewTree()
	if a.config != "" {
		t, err := profiles.LoadFile(a.config)
		if err != nil {
			return err
		}
		tree = t
	}
	for _, kv := range a.sets {
		k, v, _ := strings.Cut(kv, "=")
		if err := tree.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return err
		}
	}
	s, err := tree.Settings()
	if err != nil {
		if a.config != "" {
			return fmt.Errorf("%s: %w", a.config, err)
		}
		return err
	}
	e.settings = s
	return nil
}

func (e *engineRun) startRest(began time.Time) error {
	a := e.args
	if a.runmode != "" && a.runmode != "single" {
		return fmt.Errorf("--runmode %s: only the single runmode is built so far", a.runmode)
	}
	if len(a.iface) > 0 {
		return fmt.Errorf("live capture (%s) is not built yet; read a pcap with -r", strings.Join(a.iface, ","))
	}

	if !a.disableDetect {
		if err := e.loadRules(); err != nil {
			return err
		}
	}
	if a.testConfig {
		fmt.Fprintf(e.stdout, "vigil: configuration OK: %d rules loaded, %d failed\n", e.loaded, e.failed)
		if e.engine != nil {
			e.printRuleReport(e.stdout, 20)
		}
		return nil
	}
	if a.pcap == "" {
		return errors.New("nothing to read: give a pcap file with -r FILE (vigil --help)")
	}
	return e.runPcap(began)
}

// loadRules parses the rule files and compiles the engine. Bad rules are
// reported one per line and skipped, unless --init-errors-fatal.
func (e *engineRun) loadRules() error {
	a, s := e.args, e.settings
	vars := rules.DefaultVars()
	for k, v := range s.AddrVars {
		vars.Addr[k] = v
	}
	for k, v := range s.PortVars {
		vars.Port[k] = v
	}
	classes := rules.DefaultClassifications()
	if s.ClassificationFile != "" {
		c, err := rules.LoadClassifications(s.ClassificationFile)
		switch {
		case err == nil:
			classes = c
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(e.stderr, "vigil: warning: classification-file %s not found, using the built-in classification.config\n", s.ClassificationFile)
		default:
			return err
		}
	}
	parser := &rules.Parser{Vars: vars, Classes: classes}
	files := s.RuleFiles
	if len(a.exclusiveRules) > 0 {
		files = a.exclusiveRules
	}
	files = append(append([]string(nil), files...), a.extraRules...)
	restoreGC := setLoadGC()
	defer restoreGC()
	t0 := time.Now()
	var all []*rules.Rule
	var errs []error
	for _, f := range files {
		rs, ferrs := parser.ParseFile(f)
		all = append(all, rs...)
		errs = append(errs, ferrs...)
	}
	e.stats.files = len(files)
	e.stats.parsed = len(all)
	var thresholds []rules.ThresholdEntry
	if s.ThresholdFile != "" {
		th, terrs := parser.LoadThresholds(s.ThresholdFile)
		if len(terrs) == 1 && errors.Is(terrs[0], os.ErrNotExist) {
			fmt.Fprintf(e.stderr, "vigil: warning: threshold-file %s not found, no thresholds loaded\n", s.ThresholdFile)
		} else {
			thresholds = th
			errs = append(errs, terrs...)
		}
	}
	t1 := time.Now()
	e.stats.parseTime = t1.Sub(t0)
	eng, cerrs := engine.Compile(all, engine.Config{PacketAlertMax: s.PacketAlertMax, Thresholds: thresholds})
	e.stats.compile = time.Since(t1)
	errs = append(errs, cerrs...)
	// Warnings (a duplicate sid whose higher rev replaced the earlier
	// rule) are reported but are not failures.
	nerr := 0
	for _, err := range errs {
		var re *rules.Error
		if errors.As(err, &re) && re.Warning {
			fmt.Fprintf(e.stderr, "vigil: rule warning: %v\n", err)
			continue
		}
		nerr++
		e.stats.errs = append(e.stats.errs, err)
		fmt.Fprintf(e.stderr, "vigil: rule error: %v\n", err)
	}
	e.engine = eng
	e.loaded = len(eng.Signatures())
	e.failed = nerr
	if nerr > 0 && a.initErrorsFatal {
		return fmt.Errorf("%d rule errors and --init-errors-fatal is set", nerr)
	}
	if len(files) == 0 {
		fmt.Fprintln(e.stderr, "vigil: warning: no rule files given (-S FILE or rule-files in the config): detection has nothing to match")
	}
	return nil
}

func (e *engineRun) runPcap(began time.Time) error {
	a, s := e.args, e.settings
	src, err := pcapfile.Open(a.pcap, pcapfile.Options{})
	if err != nil {
		return err
	}
	defer src.Close()

	logDir := a.logDir
	if logDir == "" {
		logDir = s.LogDir
	}
	if logDir == "" {
		logDir = "."
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("log directory: %w", err)
	}
	var p *pipeline.Single
	fcfg := flow.DefaultConfig()
	fcfg.OnEnd = func(f *flow.Flow) { p.FlowEnded(f) }
	flows, err := flow.NewTable(fcfg)
	if err != nil {
		return err
	}
	reasm, err := defrag.New(defrag.Config{})
	if err != nil {
		return err
	}
	scfg, err := streamConfig(&s.Stream, a.simulateIPS)
	if err != nil {
		return err
	}
	app := applayer.New(appConfig(&s.AppLayer))
	scfg.Consumer = app
	tracker, err := stream.NewTracker(scfg)
	if err != nil {
		return err
	}
	st := pipeline.Stages{
		Defrag:  reasm,
		Source:  src,
		Decoder: decode.NewDecoder(decode.Options{Checksums: a.checksum != "none"}),
		Flows:   flows,
		Stream:  tracker,
		App:     app,
	}
	var eveFile, fastFile string
	if s.EVE.Enabled {
		eveFile = filepath.Join(logDir, s.EVE.Filename)
		ev := &s.EVE
		st.EVE, err = output.OpenEVE(eveFile, output.EVEConfig{
			Payload: ev.Payload, PayloadPrintable: ev.PayloadPrintable,
			Packet: ev.Packet, Metadata: ev.Metadata, NoFlow: !ev.Flow,
			HTTPBasic: !ev.HTTPExtended, HTTPRequestHeaders: ev.HTTPDumpRequest, HTTPResponseHeaders: ev.HTTPDumpResponse,
			DNSNoRequests: !ev.DNSRequests, DNSNoResponses: !ev.DNSResponses,
			TLSBasic: !ev.TLSExtended,
			JA3:      fingerprintOn(ev.JA3, e, "ja3"), JA4: fingerprintOn(ev.JA4, e, "ja4"),
			AnomalyDecode: ev.AnomalyDecode, AnomalyStream: ev.AnomalyStream, AnomalyNoAppLayer: !ev.AnomalyAppLayer,
		})
		if err != nil {
			return err
		}
		defer st.EVE.Close()
	}
	if s.Fast.Enabled {
		fastFile = filepath.Join(logDir, s.Fast.Filename)
		st.Fast, err = output.OpenFastLog(fastFile)
		if err != nil {
			return err
		}
		defer st.Fast.Close()
	}
	for i := range s.Pipes {
		pp, err := openPipe(&s.Pipes[i])
		if err != nil {
			for _, o := range st.Pipes {
				o.Close()
			}
			return err
		}
		st.Pipes = append(st.Pipes, pp)
	}
	defer func() {
		for _, pp := range st.Pipes {
			if err := pp.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "vigil: %v\n", err)
			}
			if !a.quiet {
				ps := pp.Stats()
				fmt.Printf("vigil: pipe %s: %d lines sent, %d dropped\n", pp.Name(), ps.Sent, ps.Dropped)
			}
		}
	}()
	var sigs []*engine.Signature
	if e.engine != nil && !a.disableDetect {
		st.Detect = e.engine.NewThread()
		sigs = e.engine.Signatures()
	}
	p = &pipeline.Single{Stages: st, Opts: pipeline.Options{IPS: a.simulateIPS, FlowRecords: s.EVE.FlowRecords,
		NoAlertRecords: !s.EVE.Alerts, HTTPRecords: s.EVE.HTTP, DNSRecords: s.EVE.DNS, TLSRecords: s.EVE.TLS,
		AnomalyRecords: s.EVE.Anomaly, TaggedPackets: s.EVE.TaggedPackets}}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startup := time.Since(began)
	t0 := time.Now()
	if a.cpuProfile != "" {
		pf, err := os.Create(a.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	runErr := p.Run(ctx, sigs)
	if a.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	elapsed := time.Since(t0)
	if !a.quiet {
		e.summary(p, sigs, startup, elapsed, eveFile, fastFile)
	}
	if runErr != nil && errors.Is(runErr, context.Canceled) {
		fmt.Fprintln(e.stderr, "vigil: interrupted; outputs flushed")
		return nil
	}
	return runErr
}

// peakRSSMiB is the process's peak resident set size.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

func (e *engineRun) summary(p *pipeline.Single, sigs []*engine.Signature, startup, elapsed time.Duration, eveFile, fastFile string) {
	c := &p.Counters
	w := e.stdout
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	fmt.Fprintf(w, "vigil: %s: %d packets, %d bytes in %s\n", e.args.pcap, c.Packets, c.Bytes, elapsed.Round(time.Microsecond))
	fmt.Fprintf(w, "vigil: %.0f packets/s, %.1f Mbit/s, startup %s, peak memory %.1f MiB\n",
		float64(c.Packets)/secs, float64(c.Bytes)*8/secs/1e6, startup.Round(time.Millisecond), peakRSSMiB())
	if e.engine != nil {
		fmt.Fprintf(w, "vigil: %d rules loaded, %d failed; %d alerts", e.loaded, e.failed, c.Alerts)
		if c.Dropped > 0 {
			fmt.Fprintf(w, ", %d packets dropped", c.Dropped)
		}
		fmt.Fprintln(w)
	}
	type row struct {
		sig *engine.Signature
		n   uint64
	}
	var rows []row
	for _, sig := range sigs {
		if n := p.AlertsBySig[sig.Num]; n > 0 {
			rows = append(rows, row{sig, n})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].n != rows[j].n {
			return rows[i].n > rows[j].n
		}
		return rows[i].sig.SID < rows[j].sig.SID
	})
	for _, r := range rows {
		fmt.Fprintf(w, "  %6d  [%d:%d:%d] %s\n", r.n, r.sig.GID, r.sig.SID, r.sig.Rev, r.sig.Msg)
	}
	if c.Malformed > 0 || c.NoFlow > 0 || c.OutputErrors > 0 {
		fmt.Fprintf(w, "vigil: %d malformed packets, %d packets without flow (memcap), %d output errors\n", c.Malformed, c.NoFlow, c.OutputErrors)
	}
	if eveFile != "" {
		fmt.Fprintf(w, "vigil: events written to %s", eveFile)
		if fastFile != "" {
			fmt.Fprintf(w, " and %s", fastFile)
		}
		fmt.Fprintln(w)
	}
}

// fingerprintOn resolves app-layer.protocols.tls.ja3-fingerprints (or ja4):
// yes/no, or auto (Suricata's default): on when a loaded rule uses the
// fingerprint's keywords.
func fingerprintOn(v string, e *engineRun, kw string) bool {
	if b, ok := profiles.ParseBool(v); ok {
		return b
	}
	if e == nil || e.engine == nil {
		return false
	}
	for _, sig := range e.engine.Signatures() {
		if sig.Rule == nil {
			continue
		}
		for _, o := range sig.Rule.Options {
			if strings.HasPrefix(strings.ToLower(o.Name), kw) {
				return true
			}
		}
	}
	return false
}

// openPipe opens an output pipe after checking its fields.
func openPipe(ps *profiles.PipeSettings) (*pipe.Pipe, error) {
	for _, f := range ps.Fields {
		if !slices.Contains(pipeline.PipeFields, f) {
			return nil, fmt.Errorf("outputs: pipe %s: unknown field %q (known: %s)", ps.Name, f, strings.Join(pipeline.PipeFields, ", "))
		}
	}
	return pipe.Open(pipe.Config{Name: ps.Name, Fields: ps.Fields, Socket: ps.Socket, Datagram: ps.Datagram,
		Command: ps.Command, Format: ps.Format, QueueBytes: ps.QueueBytes})
}
