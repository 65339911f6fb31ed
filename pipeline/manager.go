package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-ids/vigil/output"
)

// StatsConfig chooses where the management thread writes counters.
type StatsConfig struct {
	// Interval between stats records (default 8s, Suricata's).
	Interval time.Duration
	// EVE gets an "event_type":"stats" record per interval (nil: none).
	// The writer belongs to the management thread (over the shared
	// eve.json with output.SharedFile when workers write there too).
	EVE *output.EVE
	// Log gets Suricata's stats.log table per interval (nil: none).
	Log *output.StatsLog
	// Prometheus is updated per interval (nil: none).
	Prometheus *output.Prometheus
	// OutputStage, when set, is the output thread whose counters join the
	// totals (Snapshot.Output).
	OutputStage *output.Stage
	// Wait bounds how long a collection waits for busy threads to answer
	// (default 200ms); a thread that does not answer in time (blocked in
	// a capture call) contributes its previous snapshot.
	Wait time.Duration
}

// StatsManager is the management thread: at a fixed interval it asks every
// pipeline thread for a snapshot of its counters, sums them and writes the
// totals, whether or not traffic flowed (a heartbeat: a silent sensor tells
// an attacker nothing).
type StatsManager struct {
	cfg     StatsConfig
	threads []Thread
	start   time.Time

	snap  Snapshot
	total Snapshot
	list  []output.Counter
	seqs  []uint64
}

// Thread is a pipeline thread whose counters the management thread
// collects: a *Single (single and workers runmodes, and autofp workers) or
// a *Receiver (autofp capture threads).
type Thread interface {
	publisher() *publisher
}

// NewStatsManager returns a manager over the given threads.
func NewStatsManager(cfg StatsConfig, threads []Thread) *StatsManager {
	if cfg.Interval <= 0 {
		cfg.Interval = 8 * time.Second
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 200 * time.Millisecond
	}
	return &StatsManager{cfg: cfg, threads: threads, start: time.Now(), seqs: make([]uint64, len(threads))}
}

// Collect asks every thread for a snapshot, waits for the answers (up to
// the configured Wait) and returns the sum. The result is valid until the
// next Collect.
func (m *StatsManager) Collect() *Snapshot {
	for i, t := range m.threads {
		m.seqs[i] = t.publisher().request()
	}
	deadline := time.Now().Add(m.cfg.Wait)
	for i, t := range m.threads {
		for t.publisher().seq.Load() == m.seqs[i] && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	return m.Sum()
}

// Sum adds up the snapshots the threads published last, without asking
// for new ones (exact once the threads have returned from Run).
func (m *StatsManager) Sum() *Snapshot {
	m.total = Snapshot{}
	for _, t := range m.threads {
		t.publisher().read(&m.snap)
		m.total.Add(&m.snap)
	}
	if m.cfg.OutputStage != nil {
		m.total.Output = m.cfg.OutputStage.Stats()
	}
	return &m.total
}

// Write writes the totals s to every configured output.
func (m *StatsManager) Write(s *Snapshot) error {
	now := time.Now()
	up := now.Sub(m.start)
	m.list = s.CounterList(m.list)
	var errs []error
	if m.cfg.EVE != nil {
		if err := m.cfg.EVE.WriteStats(now.UnixNano(), up, m.list); err != nil {
			errs = append(errs, err)
		} else if err := m.cfg.EVE.Flush(); err != nil {
			errs = append(errs, err)
		}
	}
	if m.cfg.Log != nil {
		if err := m.cfg.Log.Write(now.UnixNano(), up, m.list); err != nil {
			errs = append(errs, err)
		}
	}
	if m.cfg.Prometheus != nil {
		m.cfg.Prometheus.Update(up, m.list)
	}
	return errors.Join(errs...)
}

// Run writes stats every interval until ctx is done. Write errors are
// reported through report (if not nil) and do not stop the loop.
func (m *StatsManager) Run(ctx context.Context, report func(error)) {
	tick := time.NewTicker(m.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := m.Write(m.Collect()); err != nil && report != nil {
				report(fmt.Errorf("stats: %w", err))
			}
		}
	}
}
