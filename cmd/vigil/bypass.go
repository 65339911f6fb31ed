package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/vigil-ids/vigil/dataplane/bypass"
	"github.com/vigil-ids/vigil/pipeline"
	"github.com/vigil-ids/vigil/profiles"
)

// Flow bypass for a run (profiles: the bypass section, plus the two
// policies that ask for it on their own: stream.memcap-policy bypass and
// app-layer.protocols.tls.encryption-handling bypass).
//
// Live capture with bypass.enabled loads the XDP bypass program
// (dataplane/bypass) on the capture interfaces before the sources open:
//
//   - afpacket: the program on the interface (IDS: bypassed packets are
//     dropped before the socket sees them, so the interface must carry a
//     copy of the traffic, a SPAN port or a TAP) or on both interfaces of a
//     bridge (bypassed packets are redirected to the peer in the kernel);
//     every other packet goes on to the stack, where AF_PACKET reads it.
//   - afxdp with one interface: the same program redirects the packets
//     that are not bypassed to the AF_XDP sockets (its XSKMAP, given to the
//     sources). An AF_XDP bridge is bypassed locally only (see
//     bypassUnsupportedAFXDPBridge).
//   - nfqueue: no XDP path; with capture.nfqueue.bypass-mark set the
//     verdict of a bypassed flow's packets carries the mark (Suricata's
//     way) and the ruleset accepts the rest of the flow; without it, an
//     error (bypass.UnsupportedBackend).
//   - dpdk: an error.
//
// The program is attached in capture.afxdp.xdp-mode (auto, native,
// generic). On shutdown (SIGINT/SIGTERM) bypass.fail-open-on-exit turns
// the program's fail-open switch on before the workers stop, so traffic
// keeps flowing in the kernel while Vigil drains and writes its records;
// the program is detached when Vigil exits. `vigil bypass fail-open on|off
// IF` flips the switch of a running Vigil.

// bypassUnsupportedAFXDPBridge says why an AF_XDP bridge gets local bypass
// only: the program keys its XSKMAP by receive queue alone, so the sockets
// of the two interfaces' queue N would need the same slot.
const bypassUnsupportedAFXDPBridge = "afxdp bridge: the XDP bypass program keys AF_XDP sockets by receive queue only, " +
	"so both sides of a bridge cannot share it; flows are bypassed in user space only (not inspected, still forwarded by Vigil)"

// bypassPlan is the flow bypass of one run.
type bypassPlan struct {
	triggers pipeline.BypassTriggers
	// prog is the XDP program; nil when flows are bypassed locally only.
	prog           *bypass.Program
	failOpenOnExit bool
	// how says where bypassed flows go, for the summary.
	how string
}

// bypassTriggers maps the configuration onto the pipeline's triggers and
// reports whether any bypass is asked for at all.
func bypassTriggers(cfg *profiles.Config) (pipeline.BypassTriggers, bool) {
	var t pipeline.BypassTriggers
	b := &cfg.Bypass
	if b.Enabled {
		t.StreamDepth = slices.Contains(b.Triggers, "stream-depth")
		t.Rule = slices.Contains(b.Triggers, "rule")
		t.PassRule = t.Rule
		t.TLSEncrypted = slices.Contains(b.Triggers, "tls-encrypted")
	}
	if cfg.AppLayer.Protocols.TLS.EncryptionHandling == "bypass" {
		t.TLSEncrypted = true
	}
	t.ExceptionPolicy = cfg.Stream.MemcapPolicy == "bypass"
	return t, b.Enabled || t.TLSEncrypted || t.ExceptionPolicy
}

// bypassXDPMode maps capture.afxdp.xdp-mode onto the program's attach mode.
func bypassXDPMode(m string) (bypass.XDPMode, error) {
	switch m {
	case "", "auto":
		return bypass.XDPAuto, nil
	case "native", "driver":
		return bypass.XDPDriver, nil
	case "generic":
		return bypass.XDPGeneric, nil
	}
	return 0, fmt.Errorf("capture.afxdp.xdp-mode %q: expected auto, native or generic", m)
}

// startBypass prepares the run's flow bypass for live capture with backend
// on ifaces (two interfaces: an inline bridge), loading the XDP program
// when bypass.enabled and the backend has an XDP path. It sets e.bypass
// (nil when no bypass is configured).
func (e *engineRun) startBypass(backend string, ifaces []string) error {
	cfg := e.cfg
	trig, on := bypassTriggers(cfg)
	if !on {
		return nil
	}
	plan := &bypassPlan{triggers: trig, failOpenOnExit: cfg.Bypass.FailOpenOnExit, how: "local"}
	e.bypass = plan
	if !cfg.Bypass.Enabled {
		return nil // only a policy asks for bypass: local
	}
	xmode, err := bypassXDPMode(cfg.Capture.AFXDP.XDPMode)
	if err != nil {
		return err
	}
	opts := bypass.Options{Interfaces: ifaces, XDPMode: xmode}
	switch backend {
	case "afpacket":
		if len(ifaces) == 2 {
			opts.Mode = bypass.ModeBridge
		}
	case "afxdp":
		if len(ifaces) == 2 {
			fmt.Fprintf(e.stderr, "vigil: warning: bypass: %s\n", bypassUnsupportedAFXDPBridge)
			return nil
		}
		opts.RedirectToXSK = true
	case "nfqueue":
		if cfg.Capture.NFQueue.BypassMark == 0 {
			return fmt.Errorf("bypass.enabled: %w; set capture.nfqueue.bypass-mark (and bypass-mask)", bypass.UnsupportedBackend("nfqueue"))
		}
		plan.how = fmt.Sprintf("netfilter mark %#x", cfg.Capture.NFQueue.BypassMark)
		return nil
	case "dpdk":
		return errors.New("bypass.enabled: dpdk: the DPDK backend has no kernel path to bypass flows in; set bypass.enabled: no")
	default:
		return nil // livePlan reports the unknown backend
	}
	if len(ifaces) == 0 {
		return nil // livePlan reports the missing interface
	}
	prog, err := bypass.Load(opts)
	if err != nil {
		e.bypass = nil
		return err
	}
	plan.prog = prog
	var modes []string
	for _, a := range prog.Attachments() {
		modes = append(modes, a.Interface+" "+a.Mode.String())
	}
	plan.how = fmt.Sprintf("XDP %s on %s", opts.Mode, strings.Join(modes, ", "))
	return nil
}

// bypassXSKMap is the XSKMAP the AF_XDP sources insert their sockets into
// (nil: they load their own redirect program).
func (e *engineRun) bypassXSKMap() *ebpf.Map {
	if e.bypass == nil || e.bypass.prog == nil {
		return nil
	}
	return e.bypass.prog.XSKMap()
}

// stopBypass detaches and frees the XDP program (after a failed start, or
// at the end of the run).
func (e *engineRun) stopBypass() {
	if e.bypass == nil || e.bypass.prog == nil {
		return
	}
	if err := e.bypass.prog.Close(); err != nil {
		fmt.Fprintf(e.stderr, "vigil: %v\n", err)
	}
	e.bypass.prog = nil
}

// newBypasser returns a worker's Bypasser, or nil when the run has no
// bypass. A run without live capture (pcap files) bypasses locally.
func (e *engineRun) newBypasser() *pipeline.Bypasser {
	if e.bypass == nil {
		trig, on := bypassTriggers(e.cfg)
		if !on {
			return nil
		}
		e.bypass = &bypassPlan{triggers: trig, how: "local"}
	}
	o := pipeline.BypassOptions{Triggers: e.bypass.triggers}
	if e.bypass.prog != nil {
		o.Kernel = e.bypass.prog
	}
	return pipeline.NewBypasser(o)
}

// runBypass watches the run: when ctx ends (SIGINT/SIGTERM) and
// bypass.fail-open-on-exit is set, it turns fail-open on before the
// workers finish. The returned function, called once the runner returned,
// stops the watch and detaches the program.
func (e *engineRun) runBypass(ctx context.Context) func() {
	if e.bypass == nil || e.bypass.prog == nil {
		return func() {}
	}
	prog := e.bypass.prog
	done := make(chan struct{})
	var wg sync.WaitGroup
	if e.bypass.failOpenOnExit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-ctx.Done():
				if err := prog.SetFailOpen(true); err != nil {
					fmt.Fprintf(e.stderr, "vigil: shutdown: %v\n", err)
					return
				}
				fmt.Fprintln(e.stderr, "vigil: shutdown: XDP bypass fail-open on: traffic passes in the kernel")
			case <-done:
			}
		}()
	}
	return func() {
		close(done)
		wg.Wait()
		e.stopBypass()
	}
}

// bypassSummary prints the bypass counters of the run.
func (e *engineRun) bypassSummary(w io.Writer, total *pipeline.Snapshot) {
	if e.bypass == nil {
		return
	}
	b := &total.Bypass
	var trig []string
	for i, n := range b.Triggered {
		if n > 0 {
			trig = append(trig, fmt.Sprintf("%s %d", pipeline.BypassTrigger(i), n))
		}
	}
	by := ""
	if len(trig) > 0 {
		by = " (" + strings.Join(trig, ", ") + ")"
	}
	fmt.Fprintf(w, "vigil: bypass (%s): %d flows bypassed%s, %d in the kernel, %d local; %d packets %d bytes bypassed in the kernel; %d kernel map full\n",
		e.bypass.how, b.Capture+b.Local, by, b.Capture, b.Local, b.Pkts, b.Bytes, b.MapFull)
	if b.Errors > 0 {
		fmt.Fprintf(w, "vigil: bypass: %d kernel map errors\n", b.Errors)
	}
}

const bypassUsage = `usage: vigil bypass fail-open on|off IF [IF...]

Turns the fail-open switch of the Vigil XDP bypass program attached to each
interface on or off (in this process's network namespace). While it is on,
the program lets every packet through in the kernel: a bridge forwards
everything to the peer interface, an IDS sensor passes everything to the
stack. Needs CAP_BPF and CAP_NET_ADMIN.
`

// bypassCommand runs `vigil bypass ...`; args are the words after
// "bypass". Exit codes: 0 done, 1 failed, 2 usage.
func bypassCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, bypassUsage)
		return exitOK
	}
	if len(args) < 3 || args[0] != "fail-open" {
		fmt.Fprint(stderr, bypassUsage)
		return exitUsage
	}
	var on bool
	switch args[1] {
	case "on":
		on = true
	case "off":
	default:
		fmt.Fprintf(stderr, "vigil bypass fail-open: %q: expected on or off\n%s", args[1], bypassUsage)
		return exitUsage
	}
	code := exitOK
	for _, ifc := range args[2:] {
		if err := bypass.SetFailOpenOnInterface(ifc, on); err != nil {
			fmt.Fprintf(stderr, "vigil: %v\n", err)
			code = exitError
			continue
		}
		fmt.Fprintf(stdout, "vigil: %s: fail-open %s\n", ifc, args[1])
	}
	return code
}
