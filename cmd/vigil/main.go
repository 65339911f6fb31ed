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
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/capture"
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
	if len(argv) > 0 && argv[0] == "config" {
		return configCheckCommand(argv[1:], stdout, stderr)
	}
	if len(argv) > 0 && argv[0] == "profiles" {
		return profilesCommand(argv[1:], stdout, stderr)
	}
	if len(argv) > 0 && argv[0] == "bypass" {
		return bypassCommand(argv[1:], stdout, stderr)
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
	statsCfg statsSettings
	cfg      *profiles.Config
	bypass   *bypassPlan // flow bypass (bypass.go); nil when off
}

func (e *engineRun) start() error {
	began := time.Now()
	if err := e.configure(); err != nil {
		return err
	}
	return e.startRest(began)
}

// configure loads the configuration: a built-in profile (--profile, else
// pcap-offline), the -c file (a vigil.yaml, or a suricata.yaml recognised
// by its keys and mapped), VIGIL_* environment variables and --set.
func (e *engineRun) configure() error {
	a := e.args
	cfg, err := profiles.Load(profiles.LoadOptions{Profile: a.profile, File: a.config, Sets: a.sets, Environ: os.Environ()})
	if err != nil {
		return err
	}
	e.cfg = cfg
	s := cfg.Settings()
	e.settings = s
	e.statsCfg = statsSettings{Enabled: s.Stats.Enabled || s.Stats.EVE, Interval: s.Stats.Interval, EVE: s.Stats.EVE,
		Prometheus: cfg.Prometheus.Listen}
	if s.Stats.Enabled {
		e.statsCfg.LogFile = s.Stats.Filename
		if e.statsCfg.LogFile == "" {
			e.statsCfg.LogFile = "stats.log"
		}
	}
	return nil
}

func (e *engineRun) startRest(began time.Time) error {
	a := e.args
	switch a.runmode {
	case "", pipeline.ModeSingle, pipeline.ModeWorkers, pipeline.ModeAutoFP:
	default:
		return fmt.Errorf("--runmode %s: expected single, workers or autofp", a.runmode)
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
	if a.pcap != "" {
		if len(a.iface) > 0 || a.backend != "" {
			return errors.New("-r reads a file: leave out the live capture options (-i, --af-packet, --af-xdp, --dpdk, -q)")
		}
		return e.runPcap(began)
	}
	if len(a.iface) > 0 || a.backend != "" || len(e.cfg.Capture.Interfaces) > 0 {
		plan, err := e.livePlan()
		if err != nil {
			return err
		}
		return e.runSources(began, plan)
	}
	return errors.New("nothing to read: give a pcap file with -r FILE or an interface with -i IF (vigil --help)")
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

// runPcap reads the -r capture under the chosen runmode.
func (e *engineRun) runPcap(began time.Time) error {
	src, err := pcapfile.Open(e.args.pcap, pcapfile.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	mode := e.args.runmode
	if mode == "" {
		mode = e.cfg.Runmode
	}
	if mode == "" || mode == pipeline.ModeWorkers {
		// A file is one capture queue: one worker, as Suricata runs it.
		mode = pipeline.ModeSingle
	}
	if mode == pipeline.ModeAutoFP && e.args.simulateIPS {
		// Drops must act on the packet being inspected (inline
		// normalization, flow drops); the single thread does that.
		mode = pipeline.ModeSingle
	}
	workers := 1
	if mode == pipeline.ModeAutoFP {
		workers = int(e.cfg.Workers)
		if workers <= 0 {
			workers = runtime.NumCPU()
		}
	}
	return e.runSources(began, capturePlan{mode: mode, name: e.args.pcap, sources: []capture.Source{src}, workers: workers,
		ips: e.args.simulateIPS})
}

// capturePlan is what a run reads from: the runmode, the sources (one per
// worker in the workers runmode, one per receiver in autofp), and the
// number of autofp workers.
type capturePlan struct {
	mode    string
	name    string // the -r file or the interfaces, for the summary
	sources []capture.Source
	workers int  // autofp workers
	live    bool // live sources: a full autofp ring drops instead of waiting
	ips     bool // inline: drop and reject verdicts are enforced
}

// sharedOutputs are the files and pipes every worker writes to.
type sharedOutputs struct {
	eve, fast         *output.SharedFile
	eveFile, fastFile string
	pipes             []*pipe.Pipe
}

func (e *engineRun) openOutputs() (*sharedOutputs, error) {
	a, s := e.args, e.settings
	logDir := a.logDir
	if logDir == "" {
		logDir = s.LogDir
	}
	if logDir == "" {
		logDir = "."
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	o := &sharedOutputs{}
	var err error
	if s.EVE.Enabled {
		o.eveFile = filepath.Join(logDir, s.EVE.Filename)
		if o.eve, err = output.OpenShared(o.eveFile, "eve"); err != nil {
			return nil, err
		}
	}
	if s.Fast.Enabled {
		o.fastFile = filepath.Join(logDir, s.Fast.Filename)
		if o.fast, err = output.OpenShared(o.fastFile, "fast.log"); err != nil {
			o.close(e, true)
			return nil, err
		}
	}
	for i := range s.Pipes {
		pp, err := openPipe(&s.Pipes[i])
		if err != nil {
			o.close(e, true)
			return nil, err
		}
		o.pipes = append(o.pipes, pp)
	}
	return o, nil
}

func (o *sharedOutputs) close(e *engineRun, quiet bool) {
	for _, pp := range o.pipes {
		if err := pp.Close(); err != nil {
			fmt.Fprintf(e.stderr, "vigil: %v\n", err)
		}
		if !quiet {
			ps := pp.Stats()
			fmt.Fprintf(e.stdout, "vigil: pipe %s: %d lines sent, %d dropped\n", pp.Name(), ps.Sent, ps.Dropped)
		}
	}
	for _, f := range []*output.SharedFile{o.eve, o.fast} {
		if f != nil {
			if err := f.Close(); err != nil {
				fmt.Fprintf(e.stderr, "vigil: %v\n", err)
			}
		}
	}
}

func (e *engineRun) eveConfig() output.EVEConfig {
	ev := &e.settings.EVE
	return output.EVEConfig{
		Payload: ev.Payload, PayloadPrintable: ev.PayloadPrintable,
		Packet: ev.Packet, Metadata: ev.Metadata, NoFlow: !ev.Flow,
		HTTPBasic: !ev.HTTPExtended, HTTPRequestHeaders: ev.HTTPDumpRequest, HTTPResponseHeaders: ev.HTTPDumpResponse,
		DNSNoRequests: !ev.DNSRequests, DNSNoResponses: !ev.DNSResponses,
		TLSBasic: !ev.TLSExtended,
		JA3:      fingerprintOn(ev.JA3, e, "ja3"), JA4: fingerprintOn(ev.JA4, e, "ja4"),
		AnomalyDecode: ev.AnomalyDecode, AnomalyStream: ev.AnomalyStream, AnomalyNoAppLayer: !ev.AnomalyAppLayer,
		Ethernet: ev.Ethernet, PcapFilename: pcapName(ev.PcapFile, e.args.pcap), Verdict: ev.Verdict,
	}
}

// pcapName is the pcap_filename EVE field: the -r file, when asked for.
func pcapName(on bool, file string) string {
	if !on || file == "" || file == "-" {
		return ""
	}
	return file
}

// newThread builds one pipeline thread: its own decoder, defragmenter, flow
// table, stream tracker, app layer and detection state, and writers over
// the shared outputs. src is nil for an autofp worker. shard numbers the
// thread's flow table, so that flow IDs are unique across threads.
func (e *engineRun) newThread(o *sharedOutputs, src capture.Source, shard int, ips bool) (*pipeline.Single, error) {
	a, s := e.args, e.settings
	p := &pipeline.Single{}
	fcfg := flowConfig(&s.Flow, shard)
	fcfg.OnEnd = func(f *flow.Flow) { p.FlowEnded(f) }
	flows, err := flow.NewTable(fcfg)
	if err != nil {
		return nil, err
	}
	dcfg, err := defragConfig(&s.Defrag)
	if err != nil {
		return nil, err
	}
	reasm, err := defrag.New(dcfg)
	if err != nil {
		return nil, err
	}
	scfg, err := streamConfig(&s.Stream, ips)
	if err != nil {
		return nil, err
	}
	app := applayer.New(appConfig(&s.AppLayer))
	scfg.Consumer = app
	tracker, err := stream.NewTracker(scfg)
	if err != nil {
		return nil, err
	}
	p.Stages = pipeline.Stages{
		Defrag:  reasm,
		Source:  src,
		Decoder: decode.NewDecoder(decode.Options{Checksums: a.checksum != "none"}),
		Flows:   flows,
		Stream:  tracker,
		App:     app,
		Pipes:   o.pipes,
		Bypass:  e.newBypasser(),
	}
	if o.eve != nil {
		p.EVE = output.NewEVE(o.eve, e.eveConfig())
	}
	if o.fast != nil {
		p.Fast = output.NewFastLog(o.fast)
	}
	if e.engine != nil && !a.disableDetect {
		p.Detect = e.engine.NewThread()
	}
	p.Opts = pipeline.Options{IPS: ips, FlowRecords: s.EVE.FlowRecords,
		NoAlertRecords: !s.EVE.Alerts, HTTPRecords: s.EVE.HTTP, DNSRecords: s.EVE.DNS, TLSRecords: s.EVE.TLS,
		AnomalyRecords: s.EVE.Anomaly, TaggedPackets: s.EVE.TaggedPackets,
		DropRecords: s.EVE.Drop, DropAlerts: s.EVE.DropAlerts, DropFlowsStart: s.EVE.DropFlowsStart,
		MaxLatencyNs: int64(e.cfg.IPS.MaxLatency), FailOpen: e.cfg.IPS.FailPolicy != "fail-closed"}
	return p, nil
}

// runSources builds the threads of the plan and runs them to the end.
func (e *engineRun) runSources(began time.Time, plan capturePlan) error {
	a := e.args
	defer e.stopBypass()
	o, err := e.openOutputs()
	if err != nil {
		return err
	}
	defer o.close(e, a.quiet)
	r := &pipeline.Runner{Mode: plan.mode}
	switch plan.mode {
	case pipeline.ModeAutoFP:
		dcfg, err := defragConfig(&e.settings.Defrag)
		if err != nil {
			return err
		}
		for _, src := range plan.sources {
			reasm, err := defrag.New(dcfg)
			if err != nil {
				return err
			}
			r.Receivers = append(r.Receivers, &pipeline.Receiver{Source: src, Live: plan.live, Defrag: reasm,
				Decoder: decode.NewDecoder(decode.Options{Checksums: a.checksum != "none"})})
		}
		for i := 0; i < max(plan.workers, 1); i++ {
			w, err := e.newThread(o, nil, i, plan.ips)
			if err != nil {
				return err
			}
			w.Defrag = nil // the receivers reassemble
			r.Workers = append(r.Workers, w)
		}
	default:
		for i, src := range plan.sources {
			w, err := e.newThread(o, src, i, plan.ips)
			if err != nil {
				return err
			}
			r.Workers = append(r.Workers, w)
		}
	}
	var sigs []*engine.Signature
	if e.engine != nil && !a.disableDetect {
		sigs = e.engine.Signatures()
	}
	if e.cfg.Routing.AlertsToOutputStage && (o.eve != nil || o.fast != nil) {
		// One output thread writes eve.json and fast.log; the workers
		// only hand it their buffers.
		r.Output = output.NewStage(0)
		r.Output.Attach(o.eve, o.fast)
	}
	verdictThreads := 0
	if r.Output != nil {
		verdictThreads = 1
	}
	if r.Pin, err = pinner(e.cfg, len(r.Receivers), len(r.Workers), verdictThreads); err != nil {
		return err
	}
	r.RingSize, r.BusyPoll = int(e.cfg.Rings.Size), 0
	if e.cfg.Rings.BusyPoll {
		r.BusyPoll = 1000
	}
	for _, rc := range r.Receivers {
		if e.cfg.Routing.By == "ip-version" {
			rc.Route = pipeline.RouteIPVersion
		}
	}
	stats, err := e.statsManager(o, r)
	if err != nil {
		return err
	}

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
	sctx, stopStats := context.WithCancel(context.Background())
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		if stats.periodic {
			stats.m.Run(sctx, func(err error) { fmt.Fprintf(e.stderr, "vigil: %v\n", err) })
		}
	}()
	finishBypass := e.runBypass(ctx)
	runErr := r.Run(ctx, sigs)
	finishBypass()
	stopStats()
	<-statsDone
	if a.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	elapsed := time.Since(t0)
	total := stats.m.Sum()
	if err := stats.finish(total); err != nil {
		fmt.Fprintf(e.stderr, "vigil: stats: %v\n", err)
	}
	for _, w := range r.Workers {
		if w.EVE != nil {
			w.EVE.Close()
		}
		if w.Fast != nil {
			w.Fast.Close()
		}
	}
	if !a.quiet {
		e.summary(plan.name, total, r.Workers, sigs, startup, elapsed, o.eveFile, o.fastFile)
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

func (e *engineRun) summary(name string, total *pipeline.Snapshot, workers []*pipeline.Single, sigs []*engine.Signature, startup, elapsed time.Duration, eveFile, fastFile string) {
	c := &total.Counters
	w := e.stdout
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	fmt.Fprintf(w, "vigil: %s: %d packets, %d bytes in %s\n", name, c.Packets, c.Bytes, elapsed.Round(time.Microsecond))
	fmt.Fprintf(w, "vigil: %.0f packets/s, %.1f Mbit/s, startup %s, peak memory %.1f MiB\n",
		float64(c.Packets)/secs, float64(c.Bytes)*8/secs/1e6, startup.Round(time.Millisecond), peakRSSMiB())
	if e.engine != nil {
		fmt.Fprintf(w, "vigil: %d rules loaded, %d failed; %d alerts", e.loaded, e.failed, c.Alerts)
		if c.Dropped > 0 {
			fmt.Fprintf(w, ", %d packets dropped", c.Dropped)
		}
		fmt.Fprintln(w)
	}
	e.bypassSummary(w, total)
	if total.Capture.KernelDrops > 0 || total.Ring.Full > 0 {
		fmt.Fprintf(w, "vigil: %d packets dropped by the kernel, %d by full worker rings\n", total.Capture.KernelDrops, total.Ring.Full)
	}
	type row struct {
		sig *engine.Signature
		n   uint64
	}
	var rows []row
	for _, sig := range sigs {
		var n uint64
		for _, t := range workers {
			if sig.Num < len(t.AlertsBySig) {
				n += t.AlertsBySig[sig.Num]
			}
		}
		if n > 0 {
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
