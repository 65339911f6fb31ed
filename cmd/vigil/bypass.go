package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

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
//   - afxdp: the same program redirects the packets that are not bypassed
//     to the AF_XDP sockets (its XSKMAP, given to the sources). In a bridge
//     the program runs on both interfaces and they share the XSKMAP: the
//     second interface's sockets go in at its offset (the program looks the
//     offset up by ingress interface), and bypassed flows are redirected to
//     the peer through the devmap in both directions.
//   - nfqueue: no XDP path; with capture.nfqueue.bypass-mark set the
//     verdict of a bypassed flow's packets carries the mark (Suricata's
//     way) and the ruleset accepts the rest of the flow; without it, an
//     error (bypass.UnsupportedBackend).
//   - dpdk: an error.
//
// The program is attached in capture.afxdp.xdp-mode (auto, native,
// generic). Without bypass.fail-open-on-exit it is detached when Vigil
// exits, however it exits. With it, the program outlives Vigil:
//
//   - its links and maps are pinned under /sys/fs/bpf/vigil (bpffs is
//     mounted on /sys/fs/bpf when it is not, and the log says so), so the
//     kernel keeps the program attached when Vigil exits or is killed;
//   - Vigil stamps the program's watchdog every 100 ms (a goroutine from
//     the load to the end of the run); when the stamp is older than
//     bypassWatchdog the program fails open by itself: a bridge forwards
//     every frame to the peer, an IDS passes every frame to the stack;
//   - on SIGINT/SIGTERM the fail-open switch goes on before the workers
//     stop, and at exit Vigil leaves the program attached, failing open;
//   - the next Vigil on the same interfaces takes the program over: it
//     replaces the program in the pinned links with its own, which starts
//     failing open and stops once the capture sockets are open
//     (bypassReady);
//   - `vigil bypass detach IF` removes the program and its pins.
//
// `vigil bypass fail-open on|off IF` flips the switch of a running Vigil.

// bypassWatchdog is how old the heartbeat may get before the program fails
// open (the profiles have no key for it yet: bypass.fail-open-timeout).
const bypassWatchdog = bypass.DefaultWatchdog

// bypassPinRoot is where the programs are pinned.
const bypassPinRoot = bypass.DefaultPinRoot

// bypassPlan is the flow bypass of one run.
type bypassPlan struct {
	triggers pipeline.BypassTriggers
	// prog is the XDP program; nil when flows are bypassed locally only.
	prog           *bypass.Program
	failOpenOnExit bool
	// tookOver: the program replaced a gone Vigil's in its links and
	// fails open until bypassReady.
	tookOver bool
	// stopHeartbeat ends the watchdog's heartbeat goroutine (nil: none).
	stopHeartbeat func()
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
	if !on || !cfg.Bypass.Enabled {
		if backend == "afpacket" || backend == "afxdp" {
			if err := e.removeOrphanBypass(ifaces); err != nil {
				return err
			}
		}
	}
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
	opts := bypass.Options{Interfaces: ifaces, XDPMode: xmode, PinRoot: bypassPinRoot}
	if cfg.Bypass.FailOpenOnExit {
		opts.Persist, opts.Watchdog = true, bypassWatchdog
	}
	switch backend {
	case "afpacket":
		if len(ifaces) == 2 {
			opts.Mode = bypass.ModeBridge
		}
	case "afxdp":
		if len(ifaces) == 2 {
			opts.Mode = bypass.ModeBridge
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
	if m := prog.MountedBPFFS(); m != "" {
		fmt.Fprintf(e.stderr, "vigil: bypass: mounted bpffs on %s (it was not mounted) to pin the XDP program\n", m)
		if ns := ipNetnsExecName(); ns != "" {
			fmt.Fprintf(e.stderr, "vigil: warning: bypass: running under \"ip netns exec %s\", whose private mount namespace "+
				"(and the bpffs in it) ends with vigil: the XDP program will not outlive it; run vigil with nsenter --net=/run/netns/%s\n", ns, ns)
		}
	}
	var modes, pinned []string
	for _, a := range prog.Attachments() {
		modes = append(modes, a.Interface+" "+a.Mode.String())
		if a.TookOver != 0 {
			plan.tookOver = true
			fmt.Fprintf(e.stderr, "vigil: bypass: %s: took over the XDP link of a Vigil that is gone (program %d replaced); "+
				"failing open until the capture is ready\n", a.Interface, a.TookOver)
		}
		if a.PinDir != "" {
			pinned = append(pinned, a.PinDir)
		}
	}
	plan.how = fmt.Sprintf("XDP %s on %s", opts.Mode, strings.Join(modes, ", "))
	if len(pinned) > 0 {
		plan.how += "; pinned in " + strings.Join(pinned, ", ")
	}
	if opts.Watchdog > 0 {
		plan.stopHeartbeat = e.heartbeat(prog)
	}
	return nil
}

// removeOrphanBypass removes the XDP bypass program a Vigil with
// bypass.fail-open-on-exit left on the capture interfaces, for a run that
// loads none: failing open, it would carry the traffic past the capture.
// It fails when a running Vigil owns the program; another XDP program is
// left for the capture backend to report.
func (e *engineRun) removeOrphanBypass(ifaces []string) error {
	for _, ifc := range ifaces {
		d, err := bypass.DetachInterface(ifc, bypassPinRoot)
		switch {
		case err == nil:
			fmt.Fprintf(e.stderr, "vigil: bypass: %s: removed the XDP bypass program a previous Vigil left (program %d, pins %q): this run loads none\n",
				ifc, d.ProgramID, d.PinDir)
		case errors.Is(err, bypass.ErrInUse):
			return err
		}
	}
	return nil
}

// heartbeat stamps the program's watchdog every bypass.HeartbeatInterval
// until the returned function is called (which waits for the goroutine).
func (e *engineRun) heartbeat(prog *bypass.Program) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(bypass.HeartbeatInterval)
		defer tick.Stop()
		failing := false
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			err := prog.Heartbeat()
			switch {
			case err != nil && !failing:
				fmt.Fprintf(e.stderr, "vigil: bypass: heartbeat: %v (the program fails open after %v without one)\n", err, bypassWatchdog)
			case err == nil && failing:
				fmt.Fprintln(e.stderr, "vigil: bypass: heartbeat: working again")
			}
			failing = err != nil
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// ipNetnsExecName returns the network namespace name when this process
// runs under "ip netns exec NAME" (which mounts a sysfs named NAME on /sys
// in a private mount namespace), or "".
func ipNetnsExecName() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		// ID parent major:minor root mountpoint options [optional...] - fstype source super-options
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 5 || sep < 5 || sep+2 >= len(f) || f[4] != "/sys" || f[sep+1] != "sysfs" {
			continue
		}
		src := f[sep+2]
		if src == "sysfs" || strings.Contains(src, "/") {
			continue
		}
		if _, err := os.Stat("/run/netns/" + src); err == nil {
			return src
		}
	}
	return ""
}

// bypassReady is called once the capture sources are open: a program that
// took over a gone Vigil's links stops failing open and hands the traffic
// to the sources.
func (e *engineRun) bypassReady() error {
	if e.bypass == nil || e.bypass.prog == nil || !e.bypass.tookOver {
		return nil
	}
	if err := e.bypass.prog.SetFailOpen(false); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "vigil: bypass: capture ready: fail-open off")
	return nil
}

// bypassXSKOffset is where the AF_XDP sockets of the run's interface i go
// in the program's XSKMAP.
func (e *engineRun) bypassXSKOffset(i int) uint32 {
	if e.bypass == nil || e.bypass.prog == nil {
		return 0
	}
	if as := e.bypass.prog.Attachments(); i < len(as) {
		return as[i].XSKOffset
	}
	return 0
}

// bypassXSKMap is the XSKMAP the AF_XDP sources insert their sockets into
// (nil: they load their own redirect program).
func (e *engineRun) bypassXSKMap() *ebpf.Map {
	if e.bypass == nil || e.bypass.prog == nil {
		return nil
	}
	return e.bypass.prog.XSKMap()
}

// stopBypass ends the XDP program's part in the run (after a failed
// start, or at the end of the run): with bypass.fail-open-on-exit it
// leaves the program attached and failing open, otherwise it detaches and
// frees it.
func (e *engineRun) stopBypass() {
	if e.bypass == nil || e.bypass.prog == nil {
		return
	}
	plan := e.bypass
	if plan.stopHeartbeat != nil {
		plan.stopHeartbeat()
		plan.stopHeartbeat = nil
	}
	prog := plan.prog
	plan.prog = nil
	if st, err := prog.Stats(); err == nil && (st.FailOpen > 0 || st.XSKMiss > 0 || st.NoPeer > 0) {
		fmt.Fprintf(e.stderr, "vigil: bypass: the XDP program let %d packets through failing open (%d of them because the heartbeat was late); "+
			"%d found no AF_XDP socket, %d no peer interface\n", st.FailOpen, st.Watchdog, st.XSKMiss, st.NoPeer)
	}
	if !plan.failOpenOnExit {
		if err := prog.Close(); err != nil {
			fmt.Fprintf(e.stderr, "vigil: %v\n", err)
		}
		return
	}
	if err := prog.SetFailOpen(true); err != nil {
		fmt.Fprintf(e.stderr, "vigil: %v\n", err)
	}
	var ifs, dirs []string
	for _, a := range prog.Attachments() {
		ifs = append(ifs, a.Interface)
		dirs = append(dirs, a.PinDir)
	}
	if err := prog.CloseKeepPinned(); err != nil {
		fmt.Fprintf(e.stderr, "vigil: %v\n", err)
		return
	}
	fmt.Fprintf(e.stderr, "vigil: bypass: XDP program left attached to %s, failing open (pinned in %s); "+
		"`vigil bypass detach %s` removes it\n", strings.Join(ifs, ", "), strings.Join(dirs, ", "), strings.Join(ifs, " "))
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
       vigil bypass detach IF [IF...]

fail-open turns the fail-open switch of the Vigil XDP bypass program
attached to each interface on or off (in this process's network namespace).
While it is on, the program lets every packet through in the kernel: a
bridge forwards everything to the peer interface, an IDS sensor passes
everything to the stack.

detach removes the Vigil XDP bypass program from each interface, and its
pins under ` + bypassPinRoot + ` (a program left attached by a Vigil that
ran with bypass.fail-open-on-exit and has exited or died). It refuses while
a running Vigil owns the program. Run it in the mount namespace Vigil ran
in (not under "ip netns exec", which has a bpffs of its own: use
"nsenter --net=/run/netns/NAME").

Both need CAP_BPF and CAP_NET_ADMIN.
`

// bypassCommand runs `vigil bypass ...`; args are the words after
// "bypass". Exit codes: 0 done, 1 failed, 2 usage.
func bypassCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, bypassUsage)
		return exitOK
	}
	if len(args) >= 2 && args[0] == "detach" {
		code := exitOK
		for _, ifc := range args[1:] {
			d, err := bypass.DetachInterface(ifc, bypassPinRoot)
			if err != nil {
				fmt.Fprintf(stderr, "vigil: %v\n", err)
				code = exitError
				continue
			}
			var did []string
			if d.ProgramID != 0 {
				did = append(did, fmt.Sprintf("detached XDP bypass program %d", d.ProgramID))
			}
			if d.PinDir != "" {
				did = append(did, "removed its pins "+d.PinDir)
			}
			fmt.Fprintf(stdout, "vigil: %s: %s\n", ifc, strings.Join(did, ", "))
		}
		return code
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
