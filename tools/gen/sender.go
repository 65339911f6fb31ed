package gen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// Sender transmits Ethernet frames on an interface: AFPacketSender or
// AFXDPSender.
//
// Ownership: Send copies the frames (the kernel copies them, or the
// sender into its ring or UMEM) before it returns; the caller keeps its
// buffers and may reuse them at once. A Sender is used by one goroutine
// at a time.
type Sender interface {
	// Send transmits frames in order and returns how many were handed to
	// the kernel. When it returns n < len(frames) with an error, the error
	// is about frames[n] (too large, rejected by the device, interface
	// down); the caller counts it and may go on with frames[n+1:].
	// Transient back-pressure (a full buffer, ring or queue) is waited out
	// inside Send, not reported.
	Send(frames [][]byte) (int, error)
	// Stats returns the counters so far.
	Stats() SendStats
	// Close releases the socket and its memory.
	Close() error
}

// SendStats are a Sender's counters.
type SendStats struct {
	Packets uint64 `json:"packets"` // frames handed to the kernel
	Bytes   uint64 `json:"bytes"`   // their bytes
	Errors  uint64 `json:"errors"`  // frames refused (Send returned an error for them)
	Waits   uint64 `json:"waits"`   // times Send waited for room (full socket buffer or driver queue)
	// KernelDrops are frames the kernel took but did not put on the wire,
	// as far as the sender can tell (an AF_XDP completion ring, say); the
	// interface's own tx_dropped is in Report.IfaceTxDropped.
	KernelDrops uint64 `json:"kernel_drops"`
}

// RunConfig bounds and paces a Run.
type RunConfig struct {
	// PPS and BPS limit the rate in packets and bits (frame bytes times 8)
	// per second; 0 is no limit. With both, the stricter one holds.
	PPS, BPS float64
	// Burst is how many frames go in one Send call and how many the token
	// bucket lets out at once when on time; default 32.
	Burst int
	// CatchUp is how far behind its schedule a paced run may fall (a
	// late wake-up) and still make it up by sending at once: the token
	// bucket's depth is the larger of Burst and the rate times CatchUp.
	// 0 means DefaultCatchUp; negative: none (the depth is Burst).
	CatchUp time.Duration
	// Duration and Count stop the run (0: no bound; the source's end stops
	// it too).
	Duration time.Duration
	Count    uint64
	// Pipeline makes frames in a second goroutine while the previous
	// batch is being sent. It helps only with a core to spare: measured on
	// a busy two-core machine it cost 20-50% more CPU per frame (goroutine
	// hand-offs) for no gain, so it is off by default.
	Pipeline bool
}

// Report is the load report of a Run.
type Report struct {
	Source    string  `json:"source,omitempty"`
	Interface string  `json:"interface,omitempty"`
	Sender    string  `json:"sender,omitempty"`
	Packets   uint64  `json:"packets"`     // frames sent
	Bytes     uint64  `json:"bytes"`       // frame bytes sent
	Errors    uint64  `json:"send_errors"` // frames the sender refused
	Seconds   float64 `json:"duration_s"`
	PPS       float64 `json:"pps"` // achieved
	BPS       float64 `json:"bps"` // achieved, frame bytes times 8
	TargetPPS float64 `json:"target_pps,omitempty"`
	TargetBPS float64 `json:"target_bps,omitempty"`
	Waits     uint64  `json:"sender_waits"`
	// KernelDrops: see SendStats. IfaceTxDropped is the growth of the
	// interface's tx_dropped counter during the run (-1 if unknown).
	KernelDrops    uint64 `json:"kernel_drops"`
	IfaceTxDropped int64  `json:"iface_tx_dropped"`
}

// String formats the report for people.
func (r Report) String() string {
	s := fmt.Sprintf("sent %d packets, %d bytes in %.3fs: %.0f packets/s, %.1f Mbit/s; %d send errors",
		r.Packets, r.Bytes, r.Seconds, r.PPS, r.BPS/1e6, r.Errors)
	if r.KernelDrops > 0 || r.IfaceTxDropped > 0 {
		s += fmt.Sprintf(", %d kernel drops, %d interface tx drops", r.KernelDrops, max(r.IfaceTxDropped, 0))
	}
	return s
}

// WriteFile writes the report as JSON.
func (r Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("gen: report: %w", err)
	}
	return nil
}

// DefaultCatchUp is RunConfig.CatchUp's default.
const DefaultCatchUp = 100 * time.Millisecond

// maxErrorRun is how many frames in a row may fail before Run gives up.
const maxErrorRun = 1000

// batch is a set of frames made by the source, in buffers Run owns.
type batch struct {
	bufs   [][]byte
	frames [][]byte
	n      int
	bits   float64
	eof    bool
	err    error
}

func newBatch(size int) *batch {
	b := &batch{bufs: make([][]byte, size), frames: make([][]byte, size)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, MaxFrameLen)
	}
	return b
}

// fill makes up to want frames.
func (b *batch) fill(src FrameSource, want int) {
	b.n, b.bits, b.eof, b.err = 0, 0, false, nil
	for b.n < want {
		l, _, err := src.NextFrame(b.bufs[b.n])
		if errors.Is(err, io.EOF) {
			b.eof = true
			return
		}
		if err != nil {
			b.err = err
			return
		}
		b.frames[b.n] = b.bufs[b.n][:l]
		b.bits += float64(l) * 8
		b.n++
	}
}

// producer makes batches in a goroutine of its own (RunConfig.Pipeline):
// free batches come in, full ones go out, until the source ends, count
// frames are made, or stop is closed.
type producer struct {
	free, full chan *batch
	stop, done chan struct{}
}

func startProducer(src FrameSource, burst int, count uint64) *producer {
	p := &producer{free: make(chan *batch, 4), full: make(chan *batch, 4), stop: make(chan struct{}), done: make(chan struct{})}
	for i := 0; i < 3; i++ {
		p.free <- newBatch(burst)
	}
	go func() {
		defer close(p.done)
		made := uint64(0)
		for {
			var b *batch
			select {
			case b = <-p.free:
			case <-p.stop:
				return
			}
			want := burst
			if count > 0 {
				want = int(min(uint64(want), count-made))
			}
			if want == 0 {
				b.n, b.eof, b.err = 0, true, nil
			} else {
				b.fill(src, want)
				made += uint64(b.n)
			}
			select {
			case p.full <- b:
			case <-p.stop:
				return
			}
			if b.eof || b.err != nil {
				return
			}
		}
	}()
	return p
}

func (p *producer) close() {
	close(p.stop)
	<-p.done
}

// Run sends the frames of src through s, paced by cfg, until src ends,
// cfg's count or duration is reached, or ctx is done. Frames are made in
// batches of cfg.Burst into buffers Run owns and reuses: the loop
// allocates nothing per frame. With cfg.Pipeline the source runs in a
// goroutine of its own (it must not be used by anyone else meanwhile), so
// that making frames overlaps sending them; Run stops that goroutine
// before it returns.
func Run(ctx context.Context, src FrameSource, s Sender, cfg RunConfig) (Report, error) {
	burst := cfg.Burst
	if burst <= 0 {
		burst = 32
	}
	if cfg.PPS < 0 || cfg.BPS < 0 {
		return Report{}, errors.New("gen: Run: negative rate")
	}
	var p pacer
	p.init(cfg.PPS, cfg.BPS, burst, cfg.CatchUp)
	rep := Report{TargetPPS: cfg.PPS, TargetBPS: cfg.BPS}
	var prod *producer
	var own *batch
	if cfg.Pipeline {
		prod = startProducer(src, burst, cfg.Count)
		defer prod.close()
	} else {
		own = newBatch(burst)
	}
	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	errRun := 0
	var lastErr error
	done := ctx.Done()
	made := uint64(0)
	for {
		var b *batch
		if prod != nil {
			select {
			case b = <-prod.full:
			case <-done:
				return finish(rep, s, start), nil
			}
		} else {
			select {
			case <-done:
				return finish(rep, s, start), nil
			default:
			}
			want := burst
			if cfg.Count > 0 {
				want = int(min(uint64(want), cfg.Count-made))
			}
			b = own
			if want == 0 {
				b.n, b.eof, b.err = 0, true, nil
			} else {
				b.fill(src, want)
				made += uint64(b.n)
			}
		}
		if b.err != nil {
			return finish(rep, s, start), b.err
		}
		stop := b.eof
		if b.n > 0 {
			now := p.wait(float64(b.n), b.bits)
			if !deadline.IsZero() && now.After(deadline) {
				break
			}
			for off := 0; off < b.n; {
				k, err := s.Send(b.frames[off:b.n])
				for _, f := range b.frames[off : off+k] {
					rep.Bytes += uint64(len(f))
				}
				rep.Packets += uint64(k)
				off += k
				if k > 0 {
					errRun = 0
				}
				if err != nil {
					rep.Errors++
					off++
					errRun++
					lastErr = err
					if errRun >= maxErrorRun {
						return finish(rep, s, start), fmt.Errorf("gen: %d send errors in a row, giving up: %w", errRun, lastErr)
					}
				}
			}
		}
		if prod != nil {
			prod.free <- b
		}
		if stop {
			break
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
	}
	return finish(rep, s, start), nil
}

func finish(rep Report, s Sender, start time.Time) Report {
	d := time.Since(start)
	rep.Seconds = d.Seconds()
	if rep.Seconds > 0 {
		rep.PPS = float64(rep.Packets) / rep.Seconds
		rep.BPS = float64(rep.Bytes) * 8 / rep.Seconds
	}
	st := s.Stats()
	rep.Waits, rep.KernelDrops = st.Waits, st.KernelDrops
	rep.IfaceTxDropped = -1
	return rep
}

// pacer is a token bucket per limit (packets and bits). The bucket holds
// Burst frames, or what the rate sends in RunConfig.CatchUp if that is
// more, so that a late wake-up (timer overshoot, a busy machine) is made
// up by sending the frames that fell due at once instead of being lost:
// the long-run rate stays exact. Waits longer than spinMax sleep; only
// shorter ones spin (yielding the processor), so low rates cost little CPU.
type pacer struct {
	pps, bps   bucket
	limited    bool
	spinYields uint64
	sleeps     uint64
	// The clock; tests replace it.
	now   func() time.Time
	sleep func(time.Duration)
	yield func()
}

// spinMax is the longest wait that is spun rather than slept.
const spinMax = 50 * time.Microsecond

type bucket struct {
	rate, depth, tokens float64
	last                time.Time
}

func (p *pacer) init(pps, bps float64, burst int, catchUp time.Duration) {
	if p.now == nil {
		p.now, p.sleep, p.yield = time.Now, time.Sleep, runtime.Gosched
	}
	now := p.now()
	if catchUp == 0 {
		catchUp = DefaultCatchUp
	}
	if catchUp < 0 {
		catchUp = 0
	}
	if pps > 0 {
		p.pps = bucket{rate: pps, depth: max(float64(burst), pps*catchUp.Seconds()), last: now}
		p.limited = true
	}
	if bps > 0 {
		d := float64(burst) * 1514 * 8
		p.bps = bucket{rate: bps, depth: max(d, bps*catchUp.Seconds()), last: now}
		p.limited = true
	}
}

// need refills b and returns how long until cost tokens are there.
func (b *bucket) need(cost float64, now time.Time) time.Duration {
	if b.rate == 0 {
		return 0
	}
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*b.rate, max(b.depth, cost))
	b.last = now
	if b.tokens >= cost {
		return 0
	}
	return time.Duration((cost - b.tokens) / b.rate * 1e9)
}

func (b *bucket) take(cost float64) {
	if b.rate != 0 {
		b.tokens -= cost
	}
}

// wait blocks until packets and bits may go, takes them, and returns the
// time it let them go.
func (p *pacer) wait(packets, bits float64) time.Time {
	now := p.now()
	if !p.limited {
		return now
	}
	for {
		w := max(p.pps.need(packets, now), p.bps.need(bits, now))
		if w <= 0 {
			break
		}
		if w > spinMax {
			p.sleep(w)
			p.sleeps++
		} else {
			p.yield()
			p.spinYields++
		}
		now = p.now()
	}
	p.pps.take(packets)
	p.bps.take(bits)
	return now
}
