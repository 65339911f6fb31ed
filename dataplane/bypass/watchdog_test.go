package bypass

import (
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/bypass/internal/bpfsys"
)

// setHeartbeat writes a raw heartbeat stamp (CLOCK_MONOTONIC ns) into the
// program's watchdog, keeping its timeout.
func setHeartbeat(t *testing.T, p *Program, stamp int64) {
	t.Helper()
	if err := p.writeWatchdog(stamp); err != nil {
		t.Fatal(err)
	}
}

func readWatchdog(t *testing.T, p *Program) bypassWatchdog {
	t.Helper()
	var key uint32
	var wd bypassWatchdog
	if err := bpfsys.Lookup(p.objs.BypassWatchdog.FD(), unsafe.Pointer(&key), unsafe.Pointer(&wd)); err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestWatchdog: with Options.Watchdog the program fails open on its own
// when the heartbeat is older than the timeout (IDS: a bypassed flow's
// frame passes instead of being dropped; bridge: every frame, bypassed or
// not, ARP too, goes to the peer) and goes back to normal with the next
// Heartbeat. A stamp a little ahead of the kernel's clock is fresh.
func TestWatchdog(t *testing.T) {
	const timeout = 200 * time.Millisecond
	k := tcpKey4()
	other := FlowKey{Src: k.Src, Dst: k.Dst, SrcPort: 1, DstPort: 2, Proto: k.Proto}
	t.Run("ids", func(t *testing.T) {
		p := newTestProgram(t, Options{Mode: ModeIDS, MaxFlows: 16, Watchdog: timeout})
		if err := p.Add(k); err != nil {
			t.Fatal(err)
		}
		wd := readWatchdog(t, p)
		if wd.TimeoutNs != uint64(timeout) || wd.HeartbeatNs == 0 {
			t.Fatalf("watchdog after load: %+v", wd)
		}
		f := buildFrame(t, frameSpec{key: k, payload: 10})
		if a := run(t, p, f); a != xdpDrop {
			t.Fatalf("fresh heartbeat: %s, want XDP_DROP", xdpActionName(a))
		}
		now := p.clock.now().mono
		setHeartbeat(t, p, now-int64(2*timeout))
		if a := run(t, p, f); a != xdpPass {
			t.Errorf("stale heartbeat: %s, want XDP_PASS (fail-open)", xdpActionName(a))
		}
		s := mustStats(t, p)
		if s.FailOpen != 1 || s.Watchdog != 1 || s.BypassPackets != 1 {
			t.Errorf("stats after the stale frame: %+v", s)
		}
		// Ahead of the kernel's clock (user space's estimate runs a few
		// µs off): not stale, whatever the unsigned difference says.
		setHeartbeat(t, p, p.clock.now().mono+int64(time.Millisecond))
		if a := run(t, p, f); a != xdpDrop {
			t.Errorf("heartbeat 1ms ahead: %s, want XDP_DROP", xdpActionName(a))
		}
		// The owner marked gone (CloseKeepPinned writes 0).
		setHeartbeat(t, p, 0)
		if a := run(t, p, f); a != xdpPass {
			t.Errorf("heartbeat 0: %s, want XDP_PASS", xdpActionName(a))
		}
		if err := p.Heartbeat(); err != nil {
			t.Fatal(err)
		}
		if a := run(t, p, f); a != xdpDrop {
			t.Errorf("after Heartbeat: %s, want XDP_DROP", xdpActionName(a))
		}
		// Real time: the stamp ages past the timeout by itself.
		time.Sleep(timeout + 50*time.Millisecond)
		if a := run(t, p, f); a != xdpPass {
			t.Errorf("%v after the last Heartbeat: %s, want XDP_PASS", timeout+50*time.Millisecond, xdpActionName(a))
		}
		if s := mustStats(t, p); s.Watchdog != 3 || s.FailOpen != 3 {
			t.Errorf("watchdog count %d, fail-open %d, want 3, 3", s.Watchdog, s.FailOpen)
		}
	})
	t.Run("bridge", func(t *testing.T) {
		p := newTestProgram(t, Options{Mode: ModeBridge, MaxFlows: 16, Watchdog: timeout})
		if err := p.setPeer(1, 1); err != nil { // BPF_PROG_TEST_RUN: loopback
			t.Fatal(err)
		}
		if err := p.Add(k); err != nil {
			t.Fatal(err)
		}
		arp := make([]byte, 60)
		copy(arp, macB)
		copy(arp[6:], macA)
		arp[12], arp[13] = 0x08, 0x06
		frames := map[string][]byte{"arp": arp, "other": buildFrame(t, frameSpec{key: other}),
			"fin": buildFrame(t, frameSpec{key: k, tcpFlags: 0x01})}
		for name, f := range frames {
			if a := run(t, p, f); a != xdpPass {
				t.Errorf("fresh heartbeat, %s: %s, want XDP_PASS (to user space)", name, xdpActionName(a))
			}
		}
		setHeartbeat(t, p, p.clock.now().mono-int64(2*timeout))
		for name, f := range frames {
			if a := run(t, p, f); a != xdpRedirect {
				t.Errorf("stale heartbeat, %s: %s, want XDP_REDIRECT to the peer", name, xdpActionName(a))
			}
		}
		if s := mustStats(t, p); s.Watchdog != 3 || s.FailOpen != 3 || s.NoPeer != 0 {
			t.Errorf("stats: %+v", s)
		}
	})
	t.Run("off", func(t *testing.T) {
		p := newTestProgram(t, Options{Mode: ModeIDS, MaxFlows: 16})
		if err := p.Add(k); err != nil {
			t.Fatal(err)
		}
		setHeartbeat(t, p, 1) // ancient, but the watchdog is off
		if a := run(t, p, buildFrame(t, frameSpec{key: k})); a != xdpDrop {
			t.Errorf("watchdog off, old heartbeat: %s, want XDP_DROP", xdpActionName(a))
		}
	})
}

// TestHeartbeatNoAlloc: the heartbeat the owner sends every 100 ms costs
// one syscall and no allocation.
func TestHeartbeatNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful with -race")
	}
	p := newTestProgram(t, Options{Mode: ModeIDS, MaxFlows: 16, Watchdog: time.Second})
	if n := testing.AllocsPerRun(100, func() {
		if err := p.Heartbeat(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Heartbeat allocates %v times", n)
	}
	p.Close()
	if err := p.Heartbeat(); err != ErrClosed {
		t.Errorf("Heartbeat after Close: %v, want ErrClosed", err)
	}
}

// TestOptionsCheck: the new options' limits.
func TestOptionsCheck(t *testing.T) {
	base := Options{Interfaces: []string{"x"}}
	for name, o := range map[string]Options{
		"watchdog too short": {Watchdog: time.Millisecond},
		"relative pin root":  {PinRoot: "vigil", Watchdog: time.Second, Persist: true},
		"persist, no root":   {Watchdog: time.Second, Persist: true},
		"persist, no watch":  {PinRoot: DefaultPinRoot, Persist: true},
	} {
		o.Interfaces = base.Interfaces
		if err := o.check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, ifs := range map[string][]string{"slash": {"a/b"}, "dotdot": {".."}, "twice": {"a", "a"}} {
		o := Options{Interfaces: ifs}
		if err := o.check(); err == nil {
			t.Errorf("interfaces %s: accepted", name)
		}
	}
	ok := Options{Interfaces: []string{"x"}, PinRoot: DefaultPinRoot, Watchdog: DefaultWatchdog, Persist: true}
	if err := ok.check(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

// BenchmarkXDPProgramWatchdog is BenchmarkXDPProgram with the watchdog on
// (heartbeat fresh): the cost of the per-frame heartbeat check.
func BenchmarkXDPProgramWatchdog(b *testing.B) {
	p := newTestProgram(b, Options{Mode: ModeIDS, MaxFlows: 1024, Watchdog: time.Second})
	k := tcpKey4()
	if err := p.Add(k); err != nil {
		b.Fatal(err)
	}
	f := buildFrame(b, frameSpec{key: k, payload: 64})
	var ret uint32
	var per time.Duration
	for b.Loop() {
		if err := p.Heartbeat(); err != nil {
			b.Fatal(err)
		}
		var err error
		ret, per, err = p.objs.VigilBypass.Benchmark(f, 1000, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	if ret != xdpDrop {
		b.Fatalf("verdict %s", xdpActionName(ret))
	}
	b.ReportMetric(float64(per.Nanoseconds()), "ns/frame")
}

// BenchmarkHeartbeat: the owner's call every 100 ms.
func BenchmarkHeartbeat(b *testing.B) {
	p := newTestProgram(b, Options{Mode: ModeIDS, MaxFlows: 16, Watchdog: time.Second})
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Heartbeat(); err != nil {
			b.Fatal(err)
		}
	}
}
