package afpacket

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// startTrafgen runs trafgen (netsniff-ng) in ns, sending the frame of cfg
// out of dev as fast as it can on one CPU, until cleanup.
func startTrafgen(b *testing.B, ns, dev, cfg string) {
	b.Helper()
	if _, err := exec.LookPath("trafgen"); err != nil {
		b.Skip("needs trafgen (netsniff-ng)")
	}
	path := filepath.Join(b.TempDir(), "frame.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	// Leave socket memory sysctls and IRQ affinity alone.
	cmd := exec.Command("ip", "netns", "exec", ns, "trafgen", "--dev", dev, "--conf", path, "-P", "1", "--no-sock-mem", "--notouch-irq", "-C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pgid := cmd.Process.Pid
	b.Cleanup(func() {
		syscall.Kill(-pgid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
	})
}

// frame60 is a 60-byte frame (64 bytes on the wire with the FCS) to a
// unicast MAC nobody owns, EtherType 0x88b5.
const frame60 = `{ 0x02,0x00,0x00,0x00,0x00,0x99, 0x02,0x00,0x00,0x00,0x00,0x01, c16(0x88b5), fill(0x55, 46) }`

// readLoop consumes one packet per b.Loop iteration from s, with batches
// of size batch, and reports packets/s read, packets/s offered to the
// socket by the kernel (read + dropped) and kernel drops/s.
func readLoop(b *testing.B, s *Source, batch int) {
	bt := packet.NewBatch(batch)
	deadline := time.Now().Add(5 * time.Second)
	for len(bt.Pkts) == 0 {
		if time.Now().After(deadline) {
			b.Fatal("no traffic from trafgen")
		}
		if err := s.Next(bt); err != nil {
			b.Fatal(err)
		}
	}
	st0, k0 := s.Stats(), s.KernelStats()
	i := 0
	var sink byte
	b.ReportAllocs()
	t0 := time.Now()
	for b.Loop() {
		for i >= len(bt.Pkts) {
			s.Done(bt)
			if err := s.Next(bt); err != nil {
				b.Fatal(err)
			}
			i = 0
		}
		sink ^= bt.Pkts[i].Data[0]
		i++
	}
	el := time.Since(t0).Seconds()
	s.Done(bt)
	st, k := s.Stats(), s.KernelStats()
	b.ReportMetric(float64(st.Packets-st0.Packets)/el, "pkts/s")
	b.ReportMetric(float64(k.Packets-k0.Packets)/el, "offered/s")
	b.ReportMetric(float64(st.KernelDrops-st0.KernelDrops)/el, "kdrops/s")
	_ = sink
}

// BenchmarkLiveReceive measures receive packets/s on a veth with one
// reader, 60-byte frames (64 on the wire) from trafgen in a peer namespace.
func BenchmarkLiveReceive(b *testing.B) {
	requireLive(b)
	nsA, nsB := uniq("ba"), uniq("bb")
	a, d := uniq("b0"), uniq("b1")
	newNS(b, nsA)
	newNS(b, nsB)
	veth(b, nsA, a, nsB, d)
	s := openIn(b, nsB, Options{Interface: d, PollTimeout: 50 * time.Millisecond})
	startTrafgen(b, nsA, a, frame60)
	readLoop(b, s, 64)
}

// BenchmarkLiveForward measures IPS copy-mode forwarding: trafgen in the
// client namespace sends 60-byte frames through the bridge; the source on
// v0 forwards each out of v1 with sendmmsg in Done.
func BenchmarkLiveForward(b *testing.B) {
	requireLive(b)
	br := newIPSBridge(b, "w", CopyIPS, Options{PollTimeout: 50 * time.Millisecond})
	startTrafgen(b, br.nsC, br.c, frame60)
	c0 := br.a.CopyStats()
	readLoop(b, br.a, 64)
	c := br.a.CopyStats()
	if c.SendCalls > c0.SendCalls {
		b.ReportMetric(float64(c.Forwarded-c0.Forwarded)/float64(c.SendCalls-c0.SendCalls), "frames/sendmmsg")
	}
	if c.SendErrors != c0.SendErrors {
		b.Logf("send errors: %d (last: %v)", c.SendErrors-c0.SendErrors, c.LastSendError)
	}
}
