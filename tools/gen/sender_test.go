package gen

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// memSender is a Sender that hashes what it is given; every failEvery-th
// frame is refused.
type memSender struct {
	h         hash.Hash
	stats     SendStats
	failEvery uint64
	seen      uint64
}

func newMemSender() *memSender { return &memSender{h: sha256.New()} }

var errRefused = errors.New("refused")

func (s *memSender) Send(frames [][]byte) (int, error) {
	for i, f := range frames {
		s.seen++
		if s.failEvery > 0 && s.seen%s.failEvery == 0 {
			s.stats.Errors++
			return i, errRefused
		}
		s.h.Write(f)
		s.stats.Packets++
		s.stats.Bytes += uint64(len(f))
	}
	return len(frames), nil
}
func (s *memSender) Stats() SendStats { return s.stats }
func (s *memSender) Close() error     { return nil }

func udp64(t testing.TB) *Generator {
	sc := loadScenario(t, "mix: {udp: {weight: 1, datagrams: 1000, size: 22}}\nconcurrency: 16\nflows: 100000\n", 0)
	g, err := New(sc, Options{Endless: true})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// A count is met exactly, with the bytes the sender saw; the pipelined
// run sends the same frames in the same order.
func TestRunCountAndPipeline(t *testing.T) {
	var sums [2][]byte
	for i, pipe := range []bool{false, true} {
		s := newMemSender()
		g := benchGen(t, "web-mix")
		before := runtime.NumGoroutine()
		rep, err := Run(context.Background(), g, s, RunConfig{Count: 10007, Burst: 64, Pipeline: pipe})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Packets != 10007 || rep.Packets != s.stats.Packets || rep.Bytes != s.stats.Bytes || rep.Errors != 0 {
			t.Fatalf("pipeline %v: report %+v, sender %+v", pipe, rep, s.stats)
		}
		if g.Frames() != 10007 {
			t.Fatalf("pipeline %v: %d frames made for 10007 sent", pipe, g.Frames())
		}
		time.Sleep(10 * time.Millisecond)
		if n := runtime.NumGoroutine(); n > before {
			t.Fatalf("pipeline %v: %d goroutines after Run, %d before", pipe, n, before)
		}
		sums[i] = s.h.Sum(nil)
	}
	if string(sums[0]) != string(sums[1]) {
		t.Fatal("pipelined run sent other frames")
	}
}

// Refused frames are counted and skipped; the run goes on.
func TestRunCountsSendErrors(t *testing.T) {
	s := newMemSender()
	s.failEvery = 10
	rep, err := Run(context.Background(), udp64(t), s, RunConfig{Count: 1000, Burst: 32})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 100 || rep.Packets != 900 {
		t.Fatalf("report %+v, want 900 sent and 100 errors", rep)
	}
	// A sender that refuses everything ends the run with its error.
	s = newMemSender()
	s.failEvery = 1
	if _, err := Run(context.Background(), udp64(t), s, RunConfig{Count: 5000}); !errors.Is(err, errRefused) {
		t.Fatalf("run over a dead sender: %v", err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Paced runs hold the rate (packets or bits), never run ahead of it by
// more than the burst, and sleep rather than spin at low rates.
func TestRunPacing(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   RunConfig
		check func(Report) float64 // achieved / target
	}{
		{"pps", RunConfig{PPS: 20000, Count: 4000, Burst: 32}, func(r Report) float64 { return r.PPS / 20000 }},
		{"bps", RunConfig{BPS: 10e6, Count: 4000, Burst: 16}, func(r Report) float64 { return r.BPS / 10e6 }},
		{"both", RunConfig{PPS: 50000, BPS: 5e6, Count: 3000, Burst: 8}, func(r Report) float64 { return r.BPS / 5e6 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cpu0 := cpuTime()
			rep, err := Run(context.Background(), udp64(t), newMemSender(), c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cpu := cpuTime() - cpu0
			ratio := c.check(rep)
			t.Logf("%d packets in %.3fs: %.0f pps, %.2f Mbit/s (%.3f of target), CPU %v", rep.Packets, rep.Seconds, rep.PPS, rep.BPS/1e6, ratio, cpu)
			if ratio > 1.03 {
				t.Fatalf("ran ahead of the rate: %.3f of target", ratio)
			}
			if ratio < 0.6 {
				t.Fatalf("fell behind the rate: %.3f of target", ratio)
			}
		})
	}
	// Low rate: mostly asleep.
	cpu0 := cpuTime()
	rep, err := Run(context.Background(), udp64(t), newMemSender(), RunConfig{PPS: 2000, Duration: 400 * time.Millisecond, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	cpu := cpuTime() - cpu0
	if rep.Packets < 600 || rep.Packets > 820 {
		t.Fatalf("2000 pps for 0.4 s sent %d packets", rep.Packets)
	}
	if frac := cpu.Seconds() / rep.Seconds; frac > 0.35 {
		t.Fatalf("pacing 2000 pps used %.0f%% of a CPU", frac*100)
	}
	t.Logf("2000 pps: %d packets in %.3fs, CPU %v", rep.Packets, rep.Seconds, cpu)
}

// Duration and cancellation stop an endless source.
func TestRunStops(t *testing.T) {
	t0 := time.Now()
	rep, err := Run(context.Background(), udp64(t), newMemSender(), RunConfig{PPS: 100000, Duration: 150 * time.Millisecond, Pipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 400*time.Millisecond || rep.Packets == 0 {
		t.Fatalf("duration 150ms: ran %v, %d packets", el, rep.Packets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 = time.Now()
	if _, err := Run(ctx, udp64(t), newMemSender(), RunConfig{Pipeline: true}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 400*time.Millisecond {
		t.Fatalf("cancelled run took %v", el)
	}
}

// Run's allocations do not grow with the number of frames.
func TestRunAllocatesNothingPerFrame(t *testing.T) {
	for _, pipe := range []bool{false, true} {
		g := udp64(t)
		warm := make([]byte, MaxFrameLen)
		for i := 0; i < 20000; i++ {
			g.Next(warm)
		}
		s := newMemSender()
		small := testing.AllocsPerRun(3, func() {
			Run(context.Background(), g, s, RunConfig{Count: 1000, Burst: 64, Pipeline: pipe})
		})
		large := testing.AllocsPerRun(3, func() {
			Run(context.Background(), g, s, RunConfig{Count: 50000, Burst: 64, Pipeline: pipe})
		})
		if large > small+2 {
			t.Fatalf("pipeline %v: %v allocations for 1000 frames, %v for 50000", pipe, small, large)
		}
	}
}

func BenchmarkRunMemSender(b *testing.B) {
	for _, pipe := range []bool{false, true} {
		name := "sequential"
		if pipe {
			name = "pipeline"
		}
		b.Run(name, func(b *testing.B) {
			g := udp64(b)
			s := newMemSender()
			b.ReportAllocs()
			b.ResetTimer()
			Run(context.Background(), g, s, RunConfig{Count: uint64(b.N), Burst: 256, Pipeline: pipe})
		})
	}
}

// fakeClock drives a pacer deterministically: sleeps advance time by the
// amount asked plus an oversleep, yields by a fixed step.
type fakeClock struct {
	t         time.Time
	oversleep time.Duration
	slept     time.Duration
	yields    int
}

func (c *fakeClock) install(p *pacer) {
	p.now = func() time.Time { return c.t }
	p.sleep = func(d time.Duration) { c.t = c.t.Add(d + c.oversleep); c.slept += d }
	p.yield = func() { c.t = c.t.Add(time.Microsecond); c.yields++ }
}

// The pacer keeps the exact long-run rate whatever the oversleep (made up
// from the bucket), never sends more than the rate allows plus one
// bucket, and spins only for waits below spinMax.
func TestPacerSchedule(t *testing.T) {
	for _, c := range []struct {
		name      string
		pps       float64
		burst     int
		oversleep time.Duration
		catchUp   time.Duration
		wantRatio float64 // achieved / target, at least
	}{
		{"on time", 10000, 10, 0, 0, 0.999},
		{"late 3ms", 10000, 10, 3 * time.Millisecond, 0, 0.999},
		{"late 3ms, no catch-up", 10000, 10, 3 * time.Millisecond, -1, 0.2},
		{"1 Mpps", 1e6, 32, 20 * time.Microsecond, 0, 0.999},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1000, 0), oversleep: c.oversleep}
			var p pacer
			clk.install(&p)
			p.init(c.pps, 0, c.burst, c.catchUp)
			start := clk.t
			sent := 0
			for i := 0; i < 2000; i++ {
				now := p.wait(float64(c.burst), 0)
				sent += c.burst
				// Never ahead: what was let out by now is at most what the
				// rate allows (the bucket starts empty).
				if allowed := c.pps*now.Sub(start).Seconds() + 1e-6; float64(sent) > allowed+0.5 {
					t.Fatalf("batch %d: %d frames out at %v, the rate allows %.1f", i, sent, now.Sub(start), allowed)
				}
			}
			ratio := float64(sent) / clk.t.Sub(start).Seconds() / c.pps
			if ratio < c.wantRatio || ratio > 1.0001 {
				t.Fatalf("achieved %.4f of the rate, want at least %.3f", ratio, c.wantRatio)
			}
			if c.burst*int(time.Second)/int(c.pps) > int(spinMax) && clk.yields > 0 {
				t.Fatalf("%d spins although every wait (%v) is longer than spinMax", clk.yields, time.Duration(float64(c.burst)/c.pps*1e9))
			}
			t.Logf("ratio %.4f, %d sleeps (%v asked), %d spins", ratio, p.sleeps, clk.slept, clk.yields)
		})
	}
}
