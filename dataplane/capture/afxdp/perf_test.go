//go:build linux

package afxdp

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// TestLivePerf measures receive and bridge-forwarding packet rates on veth
// in copy mode with 60-byte frames (64 on the wire with FCS) from trafgen
// in the peer namespace. It runs only with VIGIL_AFXDP_PERF=1:
//
//	VIGIL_AFXDP_PERF=1 go test -run TestLivePerf -v ./dataplane/capture/afxdp/
//
// One trafgen process sends; the engine loop runs here, doing nothing but
// Next and Done (forward). On a shared 2-core machine the sender, the
// kernel's copy and the receiver compete for the same CPUs.
func TestLivePerf(t *testing.T) {
	requireLive(t)
	if os.Getenv("VIGIL_AFXDP_PERF") == "" {
		t.Skip("set VIGIL_AFXDP_PERF=1 to measure throughput (needs trafgen)")
	}
	if _, err := exec.LookPath("trafgen"); err != nil {
		t.Skip("trafgen not installed")
	}
	const dur = 3 * time.Second
	for _, xdpMode := range []string{XDPModeDriver, XDPModeGeneric} {
		t.Run("rx-"+xdpMode, func(t *testing.T) {
			const ns, here, there = "vxa-perf", "vxaq0", "vxaq1"
			netns(t, ns)
			veth(t, here, there, ns)
			s, err := Open(Options{Interface: here, Mode: ModeCopy, XDPMode: xdpMode, PollTimeout: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stop := trafgen(t, ns, there, mac(t, "", here).String())
			defer stop()
			pps, c, cpu := measure(t, s, dur, nil, nil)
			t.Logf("IDS receive, %s XDP, copy mode: %.0f pkts/s received; kernel drops %.0f/s; receiver CPU %.0f%%",
				xdpMode, pps, float64(c.KernelDrops)/dur.Seconds(), cpu*100)
		})
		t.Run("bridge-"+xdpMode, func(t *testing.T) {
			n := newBridgeNet(t)
			s, err := OpenBridge(n.a, n.b, Options{Mode: ModeCopy, XDPMode: xdpMode, PollTimeout: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stop := trafgen(t, n.cliNS, n.cli, mac(t, n.srvNS, n.srv).String())
			defer stop()
			var before, after linkCounters
			pps, c, cpu := measure(t, s, dur,
				func() { before = linkStats(t, n.srvNS, n.srv) },
				func() { after = linkStats(t, n.srvNS, n.srv) })
			t.Logf("bridge, %s XDP, copy mode: %.0f pkts/s received, %.0f/s forwarded, server got %.0f/s; kernel drops %.0f/s, device drops %d; bridge CPU %.0f%%",
				xdpMode, pps, float64(c.Forwarded)/dur.Seconds(), float64(after.RxPackets-before.RxPackets)/dur.Seconds(),
				float64(c.KernelDrops)/dur.Seconds(), c.TxDeviceDrops, cpu*100)
		})
	}
}

// trafgen starts one trafgen process in ns sending 60-byte UDP frames to
// dst on ifname as fast as it can; the returned func stops it.
func trafgen(t *testing.T, ns, ifname, dst string) func() {
	cfg := filepath.Join(t.TempDir(), "udp.cfg")
	// Ethernet + IPv4 + UDP + 18 bytes = 60; source port varies.
	conf := fmt.Sprintf(`{ eth(da=%s, sa=02:00:00:00:00:01, type=0x0800),
  ipv4(saddr=10.99.0.1, daddr=10.99.0.2, ttl=64, proto=17),
  udp(sp=dinc(1024, 2047), dp=7777),
  fill(0x41, 18) }`, dst)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// --no-sock-mem and -Q: leave the host's socket memory sysctls and
	// IRQ affinities alone; -q: through the qdisc layer (on veth several
	// times faster here than trafgen's default qdisc bypass).
	cmd := exec.Command("ip", "netns", "exec", ns, "trafgen", "-o", ifname, "-i", cfg, "-P", "1", "--no-sock-mem", "-Q", "-q", "-C")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

// measure runs the engine loop (forward everything) for a warm-up and then
// dur, and returns the receive rate, the counters and the CPU time (user +
// system, in CPUs) of this process during the measured part. start and end
// run at its edges.
func measure(t *testing.T, s *Source, dur time.Duration, start, end func()) (float64, Counters, float64) {
	b := packet.NewBatch(64)
	loop := func(d time.Duration) {
		stop := time.Now().Add(d)
		for time.Now().Before(stop) {
			if err := s.Next(b); err != nil {
				t.Fatal(err)
			}
			s.Done(b)
		}
	}
	loop(500 * time.Millisecond)
	if start != nil {
		start()
	}
	c0 := s.Counters()
	var ru0, ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	loop(dur)
	el := time.Since(t0)
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	c1 := s.Counters()
	if end != nil {
		end()
	}
	c := Counters{Forwarded: c1.Forwarded - c0.Forwarded, TxDeviceDrops: c1.TxDeviceDrops - c0.TxDeviceDrops}
	c.Packets = c1.Packets - c0.Packets
	c.KernelDrops = c1.KernelDrops - c0.KernelDrops
	if c.Packets == 0 {
		t.Fatalf("no packets received in %v: is trafgen sending? counters %+v", dur, c1)
	}
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	return float64(c.Packets) / el.Seconds(), c, cpu.Seconds() / el.Seconds()
}
