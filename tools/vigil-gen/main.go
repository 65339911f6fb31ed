// Command vigil-gen generates traffic for testing and benchmarking Vigil:
// scenarios (a protocol mix of HTTP, DNS, TLS, UDP and TCP bulk flows with
// planted attacks and evasion variants) written to a pcap/pcapng file or
// sent live on an interface at a controlled rate, and replay of existing
// captures with per-loop address rewriting.
//
//	vigil-gen --list                 # bundled scenarios
//	vigil-gen --list-variants        # evasion variants and the policies that see each
//	vigil-gen --scenario web-mix --flows 10000 -w out.pcap --manifest out.json --rules out.rules
//	vigil-gen --scenario syn-flood -i eth1 --pps 1M --duration 10s --report load.json
//	vigil-gen --scenario web-mix -i eth1 --prebuild 100000 --count 50000000   # top speed
//	vigil-gen --scenario web-mix -i eth1 --via afxdp --pps 200k --duration 5s # AF_XDP socket
//	vigil-gen --replay small.pcap --loops 100 -i eth1 --bps 5G
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vigil-ids/vigil/tools/gen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	list, listVariants   bool
	scenario             string
	flows, concurrency   int
	seed                 string
	out, manifest, rules string
	iface                string
	pps, bps             string
	burst                int
	duration             time.Duration
	count                uint64
	replay               string
	loops                int
	clients              string
	report               string
	noBypass, pipeline   bool
	prebuild             int
	via, xdpMode         string
	queue                uint
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("vigil-gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.list, "list", false, "list the bundled scenarios")
	fs.BoolVar(&o.listVariants, "list-variants", false, "list the evasion variants and the target policies that see each")
	fs.StringVar(&o.scenario, "scenario", "web-mix", "bundled scenario `NAME` or YAML `FILE`")
	fs.IntVar(&o.flows, "flows", 0, "number of flows (overrides the scenario's)")
	fs.IntVar(&o.concurrency, "concurrency", 0, "flows open at once (overrides the scenario's)")
	fs.StringVar(&o.seed, "seed", "", "random seed (overrides the scenario's)")
	fs.StringVar(&o.out, "w", "", "write the frames to `FILE` (pcapng if it ends in .pcapng, else pcap)")
	fs.StringVar(&o.manifest, "manifest", "", "write the manifest (flows, planted attacks, expectations) as JSON to `FILE`")
	fs.StringVar(&o.rules, "rules", "", "write rules detecting the planted markers to `FILE`")
	fs.StringVar(&o.iface, "i", "", "send live on `IFACE` (through --via)")
	fs.StringVar(&o.via, "via", "afpacket", "live sending through `SOCKET`: afpacket (AF_PACKET, sendmmsg) or afxdp (a transmit-only AF_XDP socket on --queue; copy mode on drivers without zero-copy, such as veth)")
	fs.StringVar(&o.xdpMode, "xdp-mode", "auto", "--via afxdp: bind the socket in `MODE` auto (zero-copy, else copy), copy or zerocopy")
	fs.UintVar(&o.queue, "queue", 0, "--via afxdp: the interface queue `N` to send on")
	fs.StringVar(&o.pps, "pps", "", "rate limit in packets/s (k, M, G suffixes); none: top speed")
	fs.StringVar(&o.bps, "bps", "", "rate limit in bits/s of frame bytes (k, M, G suffixes)")
	fs.IntVar(&o.burst, "burst", 0, "frames per send call and token-bucket depth (default 32 when paced, 256 at top speed)")
	fs.DurationVar(&o.duration, "duration", 0, "stop live sending after this long")
	fs.Uint64Var(&o.count, "count", 0, "stop after this many frames")
	fs.StringVar(&o.replay, "replay", "", "replay the capture `FILE` instead of a scenario")
	fs.IntVar(&o.loops, "loops", 1, "replay loops (each adds its number to the client addresses); 0: until --count/--duration")
	fs.StringVar(&o.clients, "clients", "", "replay: rewrite the addresses in this `CIDR` (default: learn clients from the capture)")
	fs.StringVar(&o.report, "report", "", "write the load report as JSON to `FILE`")
	fs.BoolVar(&o.noBypass, "no-qdisc-bypass", false, "--via afpacket: send through the interface's qdisc (default: PACKET_QDISC_BYPASS)")
	fs.IntVar(&o.prebuild, "prebuild", 0, "live: make the scenario's first `N` frames once and send them in loops, the client addresses moved by the loop number (fastest)")
	fs.BoolVar(&o.pipeline, "pipeline", false, "make the next batch of frames in a second goroutine while one is sent (helps with a core to spare)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch o.via {
	case "afpacket", "afxdp":
	default:
		return nil, fmt.Errorf("--via %q: want afpacket or afxdp", o.via)
	}
	switch o.xdpMode {
	case "auto", "copy", "zerocopy":
	default:
		return nil, fmt.Errorf("--xdp-mode %q: want auto, copy or zerocopy", o.xdpMode)
	}
	if o.queue > 1<<16 {
		return nil, fmt.Errorf("--queue %d: not a queue number", o.queue)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "vigil-gen: %v\n", err)
		return 2
	}
	if err := o.run(stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "vigil-gen: %v\n", err)
		return 1
	}
	return 0
}

func (o *options) run(stdout, stderr io.Writer) error {
	if o.list {
		for _, n := range gen.List() {
			sc, err := gen.Load(n)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-14s %s\n", n, sc.Description)
		}
		return nil
	}
	if o.listVariants {
		return listVariants(stdout)
	}
	if o.out == "" && o.iface == "" && o.manifest == "" && o.rules == "" {
		return errors.New("nothing to do: give -w FILE, -i IFACE, --manifest FILE or --rules FILE (vigil-gen -h)")
	}
	if o.out != "" && o.iface != "" {
		return errors.New("-w and -i: write a file or send live, not both")
	}
	if o.replay != "" && o.loops == 0 && o.count == 0 && (o.out != "" || o.duration == 0) {
		return errors.New("--loops 0 replays without end: bound it with --count (or --duration when sending live)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var src gen.FrameSource
	var g *gen.Generator
	name := o.replay
	if o.replay != "" {
		var pfx netip.Prefix
		if o.clients != "" {
			p, err := netip.ParsePrefix(o.clients)
			if err != nil {
				return fmt.Errorf("--clients: %w", err)
			}
			pfx = p.Masked()
		}
		loops := o.loops
		if loops == 0 {
			loops = -1
		}
		r, err := gen.NewReplayer(o.replay, gen.ReplayOptions{Loops: loops, Clients: pfx})
		if err != nil {
			return err
		}
		src = r
	} else {
		sc, err := gen.Load(o.scenario)
		if err != nil {
			return err
		}
		if o.flows != 0 || o.concurrency != 0 || o.seed != "" {
			if o.flows != 0 {
				sc.Flows = o.flows
			}
			if o.concurrency != 0 {
				sc.Concurrency = o.concurrency
			}
			if o.seed != "" {
				s, err := strconv.ParseUint(o.seed, 0, 64)
				if err != nil {
					return fmt.Errorf("--seed: %w", err)
				}
				sc.Seed = s
			}
			if err := sc.Normalize(); err != nil {
				return err
			}
		}
		if o.rules != "" {
			if err := os.WriteFile(o.rules, []byte(gen.Rules(sc)), 0o644); err != nil {
				return fmt.Errorf("--rules: %w", err)
			}
		}
		endless := o.iface != "" && (o.count > 0 || o.duration > 0)
		g, err = gen.New(sc, gen.Options{Manifest: o.manifest != "", Endless: endless})
		if err != nil {
			return err
		}
		src = g
		name = sc.Name
		if o.prebuild > 0 {
			if o.iface == "" || o.manifest != "" {
				return errors.New("--prebuild is for live sending (-i) without --manifest")
			}
			loops := -1
			if !endless {
				loops = 1
			}
			if src, err = gen.Prebuild(g, o.prebuild, gen.ReplayOptions{Loops: loops}); err != nil {
				return err
			}
			g = nil
		}
	}
	switch {
	case o.out != "":
		if o.count > 0 {
			src = &limited{src: src, left: o.count}
		}
		t0 := time.Now()
		frames, bytes, err := gen.WriteCapture(src, o.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "vigil-gen: %s: wrote %d frames, %d bytes to %s in %s\n", name, frames, bytes, o.out, time.Since(t0).Round(time.Millisecond))
	case o.iface != "":
		rep, err := o.send(ctx, src, name)
		if rep.Sender == "" { // nothing was sent: no sender
			return err
		}
		fmt.Fprintf(stdout, "vigil-gen: %s on %s (%s): %s\n", name, o.iface, rep.Sender, rep)
		if o.report != "" {
			if werr := rep.WriteFile(o.report); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return err
		}
	case g != nil && o.manifest != "":
		// Manifest only: run the generator without writing frames.
		buf := make([]byte, gen.MaxFrameLen)
		for {
			if _, _, err := g.Next(buf); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return err
			}
		}
	}
	if g != nil && o.manifest != "" {
		if err := g.Manifest().WriteFile(o.manifest); err != nil {
			return err
		}
	}
	return nil
}

func (o *options) send(ctx context.Context, src gen.FrameSource, name string) (gen.Report, error) {
	var cfg gen.RunConfig
	var err error
	if cfg.PPS, err = parseRate(o.pps); err != nil {
		return gen.Report{}, fmt.Errorf("--pps: %w", err)
	}
	if cfg.BPS, err = parseRate(o.bps); err != nil {
		return gen.Report{}, fmt.Errorf("--bps: %w", err)
	}
	if o.burst == 0 {
		o.burst = 256
		if cfg.PPS > 0 || cfg.BPS > 0 {
			o.burst = 32
		}
	}
	if o.burst < 1 || o.burst > 4096 {
		return gen.Report{}, fmt.Errorf("--burst %d: want 1..4096", o.burst)
	}
	cfg.Burst, cfg.Duration, cfg.Count = o.burst, o.duration, o.count
	cfg.Pipeline = o.pipeline
	s, err := o.sender()
	if err != nil {
		return gen.Report{}, err
	}
	drop0, derr := gen.IfaceCounter(o.iface, "tx_dropped")
	rep, err := gen.Run(ctx, src, s, cfg)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	// Close may find frames that never left (an AF_XDP TX ring).
	rep.KernelDrops = s.Stats().KernelDrops
	rep.Source, rep.Interface, rep.Sender = name, o.iface, s.Name()
	if drop1, err2 := gen.IfaceCounter(o.iface, "tx_dropped"); derr == nil && err2 == nil {
		rep.IfaceTxDropped = int64(drop1 - drop0)
	}
	return rep, err
}

// namedSender is a Sender that says what it is.
type namedSender interface {
	gen.Sender
	Name() string
}

// sender opens the socket --via asks for.
func (o *options) sender() (namedSender, error) {
	if o.via == "afxdp" {
		return gen.NewAFXDPSender(o.iface, gen.AFXDPOptions{QueueID: uint32(o.queue), Mode: o.xdpMode})
	}
	return gen.NewAFPacketSender(o.iface, gen.AFPacketOptions{QdiscBypass: !o.noBypass})
}

// parseRate reads "250000", "1.5M", "10G", "100k" (powers of 1000).
func parseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	mul := 1.0
	switch s[len(s)-1] {
	case 'k', 'K':
		mul = 1e3
	case 'm', 'M':
		mul = 1e6
	case 'g', 'G':
		mul = 1e9
	}
	if mul != 1 {
		s = s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a rate", s)
	}
	return v * mul, nil
}

// limited stops a source after a number of frames (for -w with --count).
type limited struct {
	src  gen.FrameSource
	left uint64
}

func (l *limited) NextFrame(buf []byte) (int, int64, error) {
	if l.left == 0 {
		return 0, 0, io.EOF
	}
	l.left--
	return l.src.NextFrame(buf)
}

func listVariants(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tTARGET SEES IT UNDER\tIDS SEES IT UNDER\tWHAT IS SENT")
	short := func(ps []string) string {
		switch len(ps) {
		case 0:
			return "(none)"
		case len(gen.StreamPolicies):
			return "(all)"
		}
		return strings.Join(ps, ",")
	}
	for _, v := range gen.Variants() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, short(v.SeenBy()), short(v.IDSSeenBy()), v.Description())
	}
	return tw.Flush()
}
