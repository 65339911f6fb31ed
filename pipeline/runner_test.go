package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/output"
	"github.com/vigil-ids/vigil/pipeline/ring"
)

// alertKeys runs the sample through a runner and returns its alerts as
// "sid pcap_cnt" strings, sorted, plus the summed counters.
func runSample(t *testing.T, mode string, workers int) ([]string, *Snapshot) {
	t.Helper()
	var eve syncBuf
	r := &Runner{Mode: mode, RingSize: 8}
	var sigsOut []string
	_ = sigsOut
	newWorker := func() *Single {
		st, _ := newStages(t, nil)
		st.EVE = output.NewEVE(&eve, output.EVEConfig{})
		return &Single{Stages: st}
	}
	_, sigs := newStages(t, nil)
	for i := 0; i < workers; i++ {
		r.Workers = append(r.Workers, newWorker())
	}
	open := func() *pcapfile.Reader {
		src, err := pcapfile.Open(samplePcap, pcapfile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	switch mode {
	case ModeAutoFP:
		reasm, err := defrag.New(defrag.Config{})
		if err != nil {
			t.Fatal(err)
		}
		r.Receivers = []*Receiver{{Source: open(), Decoder: decode.NewDecoder(decode.Options{Checksums: true}), Defrag: reasm, BatchSize: 4}}
	default:
		r.Workers[0].Source = open()
	}
	var mu sync.Mutex
	pinned := map[string]int{}
	r.Pin = func(role string, i int) error {
		mu.Lock()
		pinned[role]++
		mu.Unlock()
		return nil
	}
	if err := r.Run(context.Background(), sigs); err != nil {
		t.Fatal(err)
	}
	if pinned[RoleWorker] != workers || (mode == ModeAutoFP && pinned[RoleReceive] != 1) {
		t.Errorf("pinned %v", pinned)
	}
	m := NewStatsManager(StatsConfig{}, r.Threads())
	total := m.Sum()
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(eve.String()), "\n") {
		var rec struct {
			EventType string `json:"event_type"`
			PcapCnt   uint64 `json:"pcap_cnt"`
			Alert     struct {
				SID int `json:"signature_id"`
			} `json:"alert"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if rec.EventType == "alert" {
			keys = append(keys, fmt.Sprintf("%d %d", rec.Alert.SID, rec.PcapCnt))
		}
	}
	sort.Strings(keys)
	return keys, total
}

// autofp over 1 and 3 workers finds the same alerts on the same packets as
// the single runmode, and every packet is accounted for.
func TestAutoFPMatchesSingle(t *testing.T) {
	want, single := runSample(t, ModeSingle, 1)
	if len(want) != 7 {
		t.Fatalf("single: %d alerts, want 7", len(want))
	}
	for _, n := range []int{1, 3} {
		got, total := runSample(t, ModeAutoFP, n)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("autofp %d workers: alerts %v, want %v", n, got, want)
		}
		c := total.Counters
		if c.Packets != single.Counters.Packets || c.IP+c.NotIP != c.Packets || total.Ring.Enqueued != c.Packets+c.Reassembled || total.Ring.Full != 0 {
			t.Errorf("autofp %d workers: counters %+v ring %+v", n, c, total.Ring)
		}
		if total.Flow.Created != single.Flow.Created {
			t.Errorf("autofp %d workers: %d flows, single %d (a flow split across workers?)", n, total.Flow.Created, single.Flow.Created)
		}
	}
}

// A pinning error stops the run before any packet is read.
func TestRunnerPinErrorStops(t *testing.T) {
	src, err := pcapfile.Open(samplePcap, pcapfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, sigs := newStages(t, nil)
	st.Source = src
	w := &Single{Stages: st}
	r := &Runner{Mode: ModeWorkers, Workers: []*Single{w}, Pin: func(string, int) error { return errors.New("cpu 7 is not online") }}
	if err := r.Run(context.Background(), sigs); err == nil || !strings.Contains(err.Error(), "cpu 7") {
		t.Fatalf("err = %v", err)
	}
	if w.Counters.Packets != 0 {
		t.Errorf("%d packets read after a pinning error", w.Counters.Packets)
	}
}

// Misconfigured runners are refused with the reason.
func TestRunnerCheck(t *testing.T) {
	st, _ := newStages(t, nil)
	cases := []struct {
		r    *Runner
		want string
	}{
		{&Runner{Mode: "turbo", Workers: []*Single{{Stages: st}}}, "unknown runmode"},
		{&Runner{Mode: ModeAutoFP, Workers: []*Single{{Stages: st, Opts: Options{IPS: true}}}, Receivers: []*Receiver{{}}}, "inline"},
		{&Runner{Mode: ModeWorkers, Workers: []*Single{{Stages: st}}}, "no capture queue"},
	}
	for _, c := range cases {
		if err := c.r.Run(context.Background(), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.r.Mode, err, c.want)
		}
	}
}

// The autofp hand-over (copy into a slot, ring, inspect, give back)
// allocates nothing per packet once the slots' buffers have grown.
func TestAutoFPZeroAlloc(t *testing.T) {
	frames, times := loadFrames(t)
	st, sigs := newStages(t, nil)
	w := &Single{Stages: st}
	w.prepare(sigs)
	in, err := ring.NewMPSC[*packet.Packet](64, ring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.in = in
	rc := &Receiver{Decoder: decode.NewDecoder(decode.Options{Checksums: true})}
	if err := rc.setup(0, []*Single{w}, 64); err != nil {
		t.Fatal(err)
	}
	rs := []*Receiver{rc}
	ctx := context.Background()
	buf := make([]*packet.Packet, 64)
	var p packet.Packet
	pass := func() {
		for i, f := range frames {
			p = packet.Packet{Data: f, WireLen: len(f), TimeNs: times[i], LinkType: packet.LinkEthernet, Num: uint64(i + 1)}
			rc.receive(ctx, &p)
			rc.flush(ctx)
			n := w.in.DequeueBatch(buf)
			for _, q := range buf[:n] {
				w.inspect(q)
				rs[q.Queue].giveBack(q)
			}
		}
	}
	pass()
	if allocs := testing.AllocsPerRun(20, pass); allocs != 0 {
		t.Errorf("autofp hand-over allocates %.1f times per pass over %d packets", allocs, len(frames))
	}
}
