package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/engine"
	"github.com/vigil-ids/vigil/output"
	"github.com/vigil-ids/vigil/pipeline/ring"
)

// Runmode names, as Suricata's --runmode takes them.
const (
	ModeSingle  = "single"
	ModeWorkers = "workers"
	ModeAutoFP  = "autofp"
)

// Thread roles for CPU affinity (profiles' cpu sets).
const (
	RoleManagement = "management"
	RoleReceive    = "receive"
	RoleWorker     = "worker"
	RoleVerdict    = "verdict"
)

// Runner runs pipeline threads under a runmode:
//
//   - single: one Single with its Source runs everything on one goroutine.
//   - workers: each Single owns a capture queue (its own Source), its flow
//     table, stream, app-layer and detection state, and runs the whole path
//     to completion; no state is shared but the read-only detection engine
//     and the outputs' files (output.SharedFile).
//   - autofp: Receivers read and decode; each packet's flow hash picks the
//     worker whose ring gets a copy (Receiver). Workers have no Source.
//
// The Runner owns the goroutines; stages never start their own.
type Runner struct {
	Mode      string
	Workers   []*Single
	Receivers []*Receiver
	// RingSize is the capacity of each autofp worker's ring (default 4096);
	// each receiver's slot pool holds RingSize per worker.
	RingSize int
	// BusyPoll is how often a waiting autofp worker re-checks its ring
	// before it sleeps (ring.Options.BusyPoll).
	BusyPoll int
	// Pin, if set, runs first on each thread's goroutine (which the Runner
	// has locked to its OS thread), for CPU affinity: role is RoleWorker or
	// RoleReceive, i the thread's index in its role. An error stops the
	// run before any packet is read.
	Pin func(role string, i int) error
	// Output, when set, is the output stage: the Runner runs it on a
	// thread of its own (role RoleVerdict, index 0) from before the first
	// packet until every worker has returned, then drains and stops it.
	// The files it writes must be attached to it (Stage.Attach).
	Output *output.Stage
}

// Threads lists the runner's threads for a StatsManager.
func (r *Runner) Threads() []Thread {
	var ts []Thread
	for _, rc := range r.Receivers {
		ts = append(ts, rc)
	}
	for _, w := range r.Workers {
		ts = append(ts, w)
	}
	return ts
}

func (r *Runner) check() error {
	switch r.Mode {
	case ModeSingle, "":
		if len(r.Workers) != 1 || r.Workers[0].Source == nil || len(r.Receivers) != 0 {
			return errors.New("runmode single: one thread with a source")
		}
	case ModeWorkers:
		if len(r.Workers) == 0 || len(r.Receivers) != 0 {
			return errors.New("runmode workers: at least one worker, no receivers")
		}
		for i, w := range r.Workers {
			if w.Source == nil {
				return fmt.Errorf("runmode workers: worker %d has no capture queue", i)
			}
		}
	case ModeAutoFP:
		if len(r.Workers) == 0 || len(r.Receivers) == 0 {
			return errors.New("runmode autofp: at least one receiver and one worker")
		}
		for i, w := range r.Workers {
			if w.Source != nil {
				return fmt.Errorf("runmode autofp: worker %d has a source of its own", i)
			}
			if w.Opts.IPS {
				return errors.New("runmode autofp: inline (IPS) verdicts need the workers runmode: an autofp receiver has given the frame back before a worker decides")
			}
		}
	default:
		return fmt.Errorf("unknown runmode %q (single, workers or autofp)", r.Mode)
	}
	return nil
}

// Run runs every thread until the input ends (offline sources), ctx is
// cancelled, or a thread fails; it returns the first error (nil at the end
// of input). In autofp, packets already queued when ctx ends are still
// inspected, so nothing a receiver took is lost.
func (r *Runner) Run(ctx context.Context, sigs []*engine.Signature) error {
	if err := r.check(); err != nil {
		return err
	}
	if r.RingSize <= 0 {
		r.RingSize = 4096
	}
	var pinWG sync.WaitGroup
	pinErrs := make([]error, len(r.Workers)+len(r.Receivers)+1)
	start := make(chan struct{})
	aborted := false
	// pin pins the calling thread, then waits until every thread is
	// pinned: no thread reads a packet unless all could be placed.
	pin := func(role string, i, slot int) bool {
		if r.Pin != nil {
			pinErrs[slot] = r.Pin(role, i)
		}
		pinWG.Done()
		<-start
		return !aborted
	}

	if r.Mode == ModeAutoFP {
		for _, w := range r.Workers {
			in, err := ring.NewMPSC[*packet.Packet](r.RingSize, ring.Options{BusyPoll: r.BusyPoll})
			if err != nil {
				return err
			}
			w.in = in
		}
		live := false
		for i, rc := range r.Receivers {
			if err := rc.setup(i, r.Workers, r.RingSize*len(r.Workers)); err != nil {
				return err
			}
			live = live || rc.Live
		}
		for _, w := range r.Workers {
			w.liveIdle = live
		}
	}

	errs := make([]error, len(r.Workers)+len(r.Receivers))
	var wg sync.WaitGroup
	for i, w := range r.Workers {
		wg.Add(1)
		pinWG.Add(1)
		go func() {
			defer wg.Done()
			lockThread()
			if !pin(RoleWorker, i, i) {
				if w.in != nil {
					// Drain nothing: the receivers do not start either.
					w.in.Close()
				}
				return
			}
			if r.Mode == ModeAutoFP {
				errs[i] = w.runInbound(sigs, r.Receivers)
			} else {
				errs[i] = w.Run(ctx, sigs)
			}
		}()
	}
	var rwg sync.WaitGroup
	for i, rc := range r.Receivers {
		wg.Add(1)
		rwg.Add(1)
		pinWG.Add(1)
		slot := len(r.Workers) + i
		go func() {
			defer wg.Done()
			defer rwg.Done()
			lockThread()
			if !pin(RoleReceive, i, slot) {
				return
			}
			errs[slot] = rc.run(ctx)
		}()
	}
	if len(r.Receivers) > 0 {
		go func() {
			rwg.Wait()
			for _, w := range r.Workers {
				w.in.Close()
			}
		}()
	}
	stageDone := make(chan struct{})
	if r.Output != nil {
		pinWG.Add(1)
		go func() {
			defer close(stageDone)
			lockThread()
			// Run the stage whatever pinning gives: an aborted run
			// still closes it below.
			pin(RoleVerdict, 0, len(pinErrs)-1)
			r.Output.Run()
		}()
		defer func() {
			r.Output.Close()
			<-stageDone
		}()
	}
	pinWG.Wait()
	for _, e := range pinErrs {
		if e != nil {
			aborted = true
		}
	}
	close(start)
	wg.Wait()
	if aborted {
		return errors.Join(pinErrs...)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
