package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/output"
)

// syncBuf is a bytes.Buffer several goroutines may write.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The management thread collects while the worker runs (race detector),
// and the final totals account for every packet under Suricata's names.
func TestStatsManager(t *testing.T) {
	src, err := pcapfile.Open(samplePcap, pcapfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, sigs := newStages(t, nil)
	st.Source = src
	s := &Single{Stages: st}
	var eveBuf, logBuf syncBuf
	eve := output.NewEVE(&eveBuf, output.EVEConfig{})
	slog := output.NewStatsLog(&logBuf)
	prom := &output.Prometheus{}
	m := NewStatsManager(StatsConfig{Interval: time.Millisecond, EVE: eve, Log: slog, Prometheus: prom}, []Thread{s})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx, func(err error) { t.Error(err) }); close(done) }()
	if err := s.Run(context.Background(), sigs); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // a few heartbeats after the traffic
	cancel()
	<-done
	total := m.Sum()
	if err := m.Write(total); err != nil {
		t.Fatal(err)
	}
	values := map[string]uint64{}
	for _, c := range total.CounterList(nil) {
		if _, dup := values[c.Name]; dup {
			t.Errorf("counter %s listed twice", c.Name)
		}
		values[c.Name] = c.Value
	}
	if values["decoder.pkts"] != 58 || values["pipeline.packets"] != 58 || values["capture.kernel_packets"] != 58 {
		t.Errorf("packets: decoder %d pipeline %d capture %d, want 58", values["decoder.pkts"], values["pipeline.packets"], values["capture.kernel_packets"])
	}
	if values["detect.alert"] != 7 {
		t.Errorf("detect.alert = %d, want 7", values["detect.alert"])
	}
	if values["flow.total"] == 0 || values["tcp.sessions"] == 0 {
		t.Errorf("flow.total %d tcp.sessions %d", values["flow.total"], values["tcp.sessions"])
	}

	// Every EVE line is a stats record with the counters nested.
	lines := strings.Split(strings.TrimSpace(eveBuf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("%d stats records, want several heartbeats", len(lines))
	}
	var rec struct {
		EventType string `json:"event_type"`
		Stats     struct {
			Uptime  *uint64 `json:"uptime"`
			Decoder struct {
				Pkts uint64 `json:"pkts"`
			} `json:"decoder"`
			Flow struct {
				End struct {
					State map[string]uint64 `json:"state"`
				} `json:"end"`
			} `json:"flow"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rec); err != nil {
		t.Fatalf("last stats record: %v\n%s", err, lines[len(lines)-1])
	}
	if rec.EventType != "stats" || rec.Stats.Uptime == nil || rec.Stats.Decoder.Pkts != 58 || rec.Stats.Flow.End.State == nil {
		t.Errorf("stats record: %s", lines[len(lines)-1])
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("invalid JSON: %s", l)
		}
	}

	// stats.log has Suricata's table.
	log := logBuf.String()
	if !strings.Contains(log, "Counter                                       | TM Name                   | Value") ||
		!strings.Contains(log, "decoder.pkts                                  | Total                     | 58\n") {
		t.Errorf("stats.log:\n%s", log)
	}

	// Prometheus exposition.
	rr := httptest.NewRecorder()
	prom.ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rr.Body.String(), "\nvigil_decoder_pkts 58\n") {
		t.Errorf("prometheus:\n%s", rr.Body.String())
	}
}

// Add sums counters and keeps the largest Max* value.
func TestSnapshotAdd(t *testing.T) {
	var a, b Snapshot
	a.Counters.Packets, b.Counters.Packets = 3, 4
	a.Flow.MaxChain, b.Flow.MaxChain = 7, 5
	a.Decode.Events[2], b.Decode.Events[2] = 1, 1
	a.Add(&b)
	if a.Counters.Packets != 7 || a.Flow.MaxChain != 7 || a.Decode.Events[2] != 2 {
		t.Errorf("%+v %+v %v", a.Counters, a.Flow, a.Decode.Events[2])
	}
}

// The EVE stats record nests counters by their dotted names, so counters
// sharing a prefix must be adjacent in the list: a prefix that came back
// after another one would open a second object of the same name, and JSON
// readers keep only the last.
func TestCounterListPrefixesAdjacent(t *testing.T) {
	var s Snapshot
	// Make every optional counter appear.
	for i := range s.Counters.DroppedBy {
		s.Counters.DroppedBy[i] = 1
	}
	for i := range s.Stream.MidstreamByPolicy {
		s.Stream.MidstreamByPolicy[i] = 1
	}
	for i := range s.Stream.Events {
		s.Stream.Events[i] = 1
	}
	for i := range s.App.Detected {
		s.App.Detected[i] = 1
	}
	cs := s.CounterList(nil)
	closed := map[string]bool{}
	var open []string
	for _, c := range cs {
		parts := strings.Split(c.Name, ".")
		path := parts[:len(parts)-1]
		same := 0
		for same < len(open) && same < len(path) && open[same] == path[same] {
			same++
		}
		for len(open) > same {
			closed[strings.Join(open, ".")] = true
			open = open[:len(open)-1]
		}
		for _, p := range path[same:] {
			open = append(open, p)
			if k := strings.Join(open, "."); closed[k] {
				t.Errorf("counter %s reopens %q after other counters", c.Name, k)
			}
		}
	}
}
