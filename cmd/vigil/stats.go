package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/vigil-ids/vigil/output"
	"github.com/vigil-ids/vigil/pipeline"
)

// statsSettings say where the management thread writes counters.
type statsSettings struct {
	Enabled    bool          // outputs.stats.enabled
	Interval   time.Duration // outputs.stats.interval (8s)
	LogFile    string        // stats.log ("" = none)
	EVE        bool          // "stats" records in eve.json
	Prometheus string        // listen address of the /metrics endpoint ("" = none)
}

// defaultStats are Suricata's stock settings: stats every 8 seconds to
// stats.log and as EVE "stats" records.
func defaultStats() statsSettings {
	return statsSettings{Enabled: true, Interval: 8 * time.Second, LogFile: "stats.log", EVE: true}
}

// statsRun is the running management side of one engine run.
type statsRun struct {
	m        *pipeline.StatsManager
	periodic bool
	eve      *output.EVE
	log      *output.StatsLog
	srv      *http.Server
}

func (e *engineRun) statsManager(o *sharedOutputs, r *pipeline.Runner) (*statsRun, error) {
	st := e.statsCfg
	sr := &statsRun{}
	cfg := pipeline.StatsConfig{Interval: st.Interval, OutputStage: r.Output}
	if st.Enabled {
		if st.EVE && o.eve != nil {
			sr.eve = output.NewEVE(o.eve, output.EVEConfig{})
			cfg.EVE = sr.eve
		}
		if st.LogFile != "" {
			path := st.LogFile
			if !filepath.IsAbs(path) && o.eveFile != "" {
				path = filepath.Join(filepath.Dir(o.eveFile), path)
			}
			l, err := output.OpenStatsLog(path)
			if err != nil {
				return nil, err
			}
			sr.log = l
			cfg.Log = l
		}
		if st.Prometheus != "" {
			prom := &output.Prometheus{}
			cfg.Prometheus = prom
			ln, err := net.Listen("tcp", st.Prometheus)
			if err != nil {
				return nil, fmt.Errorf("prometheus listen %s: %w", st.Prometheus, err)
			}
			mux := http.NewServeMux()
			mux.Handle("/metrics", prom)
			sr.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go sr.srv.Serve(ln)
		}
		sr.periodic = cfg.EVE != nil || cfg.Log != nil || cfg.Prometheus != nil
	}
	sr.m = pipeline.NewStatsManager(cfg, r.Threads())
	return sr, nil
}

// finish writes the final totals and closes the stats outputs.
func (s *statsRun) finish(total *pipeline.Snapshot) error {
	var errs []error
	if s.periodic {
		errs = append(errs, s.m.Write(total))
	}
	if s.eve != nil {
		errs = append(errs, s.eve.Close())
	}
	if s.log != nil {
		errs = append(errs, s.log.Close())
	}
	if s.srv != nil {
		errs = append(errs, s.srv.Close())
	}
	return errors.Join(errs...)
}
