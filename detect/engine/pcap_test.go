package engine

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/rules"
)

// TestETOpenPcapCandidates runs ET Open over the shared pcaps (skipped
// when absent or in -short mode) with and without the direction and port
// splits of signature groups, and checks that the splits never change the
// alerts while reporting how many signatures each evaluates.
func TestETOpenPcapCandidates(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/rules/et-open/*.rules")
	pcaps, _ := filepath.Glob("/work/shared/pcaps/*.pcap*")
	if len(files) == 0 || len(pcaps) == 0 || testing.Short() {
		t.Skip("needs /work/shared rules and pcaps, and no -short")
	}
	rs, _ := (&rules.Parser{}).ParseFiles(files...)
	split, _ := Compile(rs, Config{})
	flat, _ := Compile(rs, Config{noDirSplit: true})
	dirOnly, _ := Compile(rs, Config{noPortSplit: true})
	type result struct {
		c      Counters
		alerts int
		dur    time.Duration
	}
	run := func(e *Engine) result {
		th := e.NewThread()
		var res result
		start := time.Now()
		for _, path := range pcaps {
			src, err := pcapfile.Open(path, pcapfile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			table, err := flow.NewTable(flow.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			dec := decode.NewDecoder(decode.Options{})
			b := packet.NewBatch(64)
			for {
				err := src.Next(b)
				for _, p := range b.Pkts {
					dec.Decode(p)
					var f *flow.Flow
					if p.IsIP() {
						f = table.Lookup(p)
					}
					res.alerts += len(th.Inspect(p, f))
				}
				src.Done(b)
				if err != nil {
					if !errors.Is(err, capture.ErrEndOfInput) {
						t.Logf("stopped reading: %v", err)
					}
					break
				}
			}
			src.Close()
		}
		res.dur = time.Since(start)
		res.c = th.Counters()
		return res
	}
	a, d, b := run(flat), run(dirOnly), run(split)
	t.Logf("%d packets from %d pcaps", a.c.Packets, len(pcaps))
	t.Logf("one group per protocol:       candidates %8d evaluations %9d alerts %d (%v)", a.c.Candidates, a.c.Evaluations, a.alerts, a.dur.Round(time.Millisecond))
	t.Logf("split by packet direction:    candidates %8d evaluations %9d alerts %d (%v)", d.c.Candidates, d.c.Evaluations, d.alerts, d.dur.Round(time.Millisecond))
	t.Logf("split by direction and port:  candidates %8d evaluations %9d alerts %d (%v)", b.c.Candidates, b.c.Evaluations, b.alerts, b.dur.Round(time.Millisecond))
	if d.alerts != b.alerts {
		t.Errorf("the port split changed the alert count: %d vs %d", d.alerts, b.alerts)
	}
	if b.c.Evaluations > d.c.Evaluations {
		t.Errorf("the port split evaluates more signatures (%d > %d)", b.c.Evaluations, d.c.Evaluations)
	}
	if a.alerts != b.alerts {
		t.Errorf("the direction split changed the alert count: %d vs %d", a.alerts, b.alerts)
	}
	if b.c.Evaluations > a.c.Evaluations {
		t.Errorf("the split evaluates more signatures (%d > %d)", b.c.Evaluations, a.c.Evaluations)
	}
}
