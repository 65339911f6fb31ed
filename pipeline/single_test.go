package pipeline

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/detect/engine"
	"github.com/vigil-ids/vigil/detect/rules"
	"github.com/vigil-ids/vigil/output"
)

const samplePcap = "../testdata/sample.pcap"
const sampleRules = "../testdata/sample.rules"

// loadFrames reads the sample capture into memory: frames and times.
func loadFrames(t testing.TB) ([][]byte, []int64) {
	t.Helper()
	src, err := pcapfile.Open(samplePcap, pcapfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var frames [][]byte
	var times []int64
	b := packet.NewBatch(64)
	for {
		err := src.Next(b)
		for _, p := range b.Pkts {
			frames = append(frames, append([]byte(nil), p.Data...))
			times = append(times, p.TimeNs)
		}
		src.Done(b)
		if err != nil {
			if err != capture.ErrEndOfInput {
				t.Fatal(err)
			}
			break
		}
	}
	return frames, times
}

func newStages(t testing.TB, eve io.Writer) (Stages, []*engine.Signature) {
	t.Helper()
	p := &rules.Parser{Vars: rules.DefaultVars(), Classes: rules.DefaultClassifications()}
	rs, errs := p.ParseFile(sampleRules)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	eng, errs := engine.Compile(rs, engine.Config{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	flows, err := flow.NewTable(flow.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	app := applayer.New(applayer.Config{})
	tracker, err := stream.NewTracker(stream.Config{Consumer: app})
	if err != nil {
		t.Fatal(err)
	}
	st := Stages{
		Decoder: decode.NewDecoder(decode.Options{Checksums: true}),
		Flows:   flows,
		Stream:  tracker,
		App:     app,
		Detect:  eng.NewThread(),
	}
	if eve != nil {
		st.EVE = output.NewEVE(eve, output.EVEConfig{})
		st.Fast = output.NewFastLog(eve)
	}
	return st, eng.Signatures()
}

// The whole packet path (decode, flow, detection, EVE and fast.log
// formatting) allocates nothing per packet once flows exist.
func TestPacketPathZeroAlloc(t *testing.T) {
	frames, times := loadFrames(t)
	st, sigs := newStages(t, io.Discard)
	s := &Single{Stages: st}
	s.AlertsBySig = make([]uint64, len(sigs))
	pkts := make([]packet.Packet, len(frames))
	fill := func() {
		for i := range pkts {
			pkts[i] = packet.Packet{Data: frames[i], WireLen: len(frames[i]), TimeNs: times[i], LinkType: packet.LinkEthernet, Num: uint64(i + 1)}
		}
	}
	fill()
	for i := range pkts {
		s.process(&pkts[i])
	}
	if s.Counters.Alerts != 7 {
		t.Fatalf("warm-up pass raised %d alerts, want 7", s.Counters.Alerts)
	}
	allocs := testing.AllocsPerRun(50, func() {
		fill()
		for i := range pkts {
			s.process(&pkts[i])
		}
	})
	if allocs != 0 {
		t.Errorf("packet path allocates %.1f times per pass over %d packets", allocs, len(pkts))
	}
}

// Run drains a source, accounts for every packet and flushes the outputs.
func TestRunCounts(t *testing.T) {
	src, err := pcapfile.Open(samplePcap, pcapfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := os.CreateTemp(t.TempDir(), "eve")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, sigs := newStages(t, f)
	st.Source = src
	s := &Single{Stages: st}
	if err := s.Run(context.Background(), sigs); err != nil {
		t.Fatal(err)
	}
	c := s.Counters
	if c.Packets != 58 || c.IP+c.NotIP != c.Packets || c.Alerts != 7 || c.NoFlow != 0 || c.Inspected != c.Packets {
		t.Errorf("counters %+v", c)
	}
	if c.FlowsAtEnd+c.FlowsExpired == 0 {
		t.Errorf("no flow ended: %+v", c)
	}
	fi, _ := f.Stat()
	if fi.Size() == 0 {
		t.Errorf("outputs not flushed")
	}
}

// BenchmarkPacketPath measures decode+flow+detect+EVE per packet on the
// sample traffic.
func BenchmarkPacketPath(b *testing.B) {
	frames, times := loadFrames(b)
	st, sigs := newStages(b, io.Discard)
	s := &Single{Stages: st}
	s.AlertsBySig = make([]uint64, len(sigs))
	var p packet.Packet
	var bytes int64
	for _, f := range frames {
		bytes += int64(len(f))
	}
	b.SetBytes(bytes / int64(len(frames)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(frames)
		p = packet.Packet{Data: frames[j], WireLen: len(frames[j]), TimeNs: times[j], LinkType: packet.LinkEthernet, Num: uint64(i + 1)}
		s.process(&p)
	}
}
