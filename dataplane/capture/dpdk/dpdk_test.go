//go:build dpdk

package dpdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// The EAL can be initialised once per process, so TestMain creates every
// virtual device the tests and benchmarks use, each used by one test.
const (
	devRx       = "net_pcap0" // TestPcapRx: rx.pcap in order
	devIPSA     = "net_pcap1" // TestIPS: a_in.pcap -> b_out.pcap
	devIPSB     = "net_pcap2" // TestIPS: b_in.pcap -> a_out.pcap
	devMultiSeg = "net_pcap3" // TestMultiSegment: jumbo frames
	devNoMbuf   = "net_pcap4" // TestKernelDropsNoMbuf: tiny pool
	devQueues   = "net_null0" // TestMultiQueue
	devAllocA   = "net_null1" // TestNoAllocs (rx)
	devAllocB   = "net_null2" // TestNoAllocs (IPS peer)
	devBenchA   = "net_null3" // benchmarks (rx)
	devBenchB   = "net_null4" // benchmarks (IPS peer)
	devRingIn   = "net_pcap5" // TestRingLoop: ring_in.pcap forwarded into net_ring0
	devRing     = "net_ring0" // TestRingLoop: tx and rx share one ring
	devInjA     = "net_pcap6" // TestInjectIPS: inj_a_in.pcap; injected toward the source -> inj_a_out.pcap
	devInjB     = "net_pcap7" // TestInjectIPS: peer; forwarded and injected toward the destination -> inj_b_out.pcap
	devInjIDS   = "net_pcap8" // TestInjectIDS: inj_ids_in.pcap; both directions -> inj_ids_out.pcap
	devInjNullA = "net_null5" // TestInjectNoAllocs, BenchmarkInject (rx)
	devInjNullB = "net_null6" // TestInjectNoAllocs, BenchmarkInject (peer)
)

const (
	nRx     = 1000
	nIPS    = 300
	nNoMbuf = 100
	nRing   = 1500
	nInj    = 200
)

var (
	testDir string
	ealErr  error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vigil-dpdk-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dpdk test: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	testDir = dir
	files := map[string][][]byte{
		"rx.pcap":         framesN(nRx, 1),
		"a_in.pcap":       framesN(nIPS, 2),
		"b_in.pcap":       framesN(nIPS, 3),
		"jumbo.pcap":      jumboFrames(),
		"nombuf.pcap":     framesN(nNoMbuf, 4),
		"ring_in.pcap":    framesN(nRing, 6),
		"inj_a_in.pcap":   framesN(nInj, 7),
		"inj_b_in.pcap":   framesN(1, 8),
		"inj_ids_in.pcap": framesN(nInj, 9),
	}
	for name, frames := range files {
		if err := writePcap(filepath.Join(dir, name), frames); err != nil {
			fmt.Fprintln(os.Stderr, "dpdk test:", err)
			return 1
		}
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	args := []string{
		"-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=notice",
		"--vdev=" + devRx + ",rx_pcap=" + p("rx.pcap"),
		"--vdev=" + devIPSA + ",rx_pcap=" + p("a_in.pcap") + ",tx_pcap=" + p("a_out.pcap"),
		"--vdev=" + devIPSB + ",rx_pcap=" + p("b_in.pcap") + ",tx_pcap=" + p("b_out.pcap"),
		"--vdev=" + devMultiSeg + ",rx_pcap=" + p("jumbo.pcap"),
		"--vdev=" + devNoMbuf + ",rx_pcap=" + p("nombuf.pcap"),
		"--vdev=" + devQueues, "--vdev=" + devAllocA, "--vdev=" + devAllocB,
		"--vdev=" + devBenchA + ",size=64", "--vdev=" + devBenchB,
		"--vdev=" + devRingIn + ",rx_pcap=" + p("ring_in.pcap"),
		"--vdev=" + devRing,
		"--vdev=" + devInjA + ",rx_pcap=" + p("inj_a_in.pcap") + ",tx_pcap=" + p("inj_a_out.pcap"),
		"--vdev=" + devInjB + ",rx_pcap=" + p("inj_b_in.pcap") + ",tx_pcap=" + p("inj_b_out.pcap"),
		"--vdev=" + devInjIDS + ",rx_pcap=" + p("inj_ids_in.pcap") + ",tx_pcap=" + p("inj_ids_out.pcap"),
		"--vdev=" + devInjNullA, "--vdev=" + devInjNullB,
	}
	if err := InitEAL(args); err != nil {
		ealErr = err
		if os.Geteuid() == 0 {
			// As root the EAL must come up here: that is a failure.
			fmt.Fprintln(os.Stderr, "dpdk test: InitEAL failed as root:", err)
			return 1
		}
	}
	return m.Run()
}

func needEAL(tb testing.TB) {
	tb.Helper()
	if ealErr != nil {
		tb.Skipf("DPDK EAL could not be initialised (not root?): %v", ealErr)
	}
}

// frame builds an Ethernet/IPv4/UDP frame of size bytes whose payload
// starts with stream and index, followed by a byte pattern.
func frame(size int, stream, index int) []byte {
	if size < 60 {
		size = 60
	}
	f := make([]byte, size)
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 2})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size-14))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], []byte{10, 0, byte(stream), 1})
	copy(ip[16:20], []byte{10, 0, byte(stream), 2})
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], uint16(1000+stream))
	binary.BigEndian.PutUint16(udp[2:], 53)
	binary.BigEndian.PutUint16(udp[4:], uint16(size-34))
	pl := udp[8:]
	binary.BigEndian.PutUint32(pl[0:], uint32(stream))
	binary.BigEndian.PutUint32(pl[4:], uint32(index))
	for i := 8; i < len(pl); i++ {
		pl[i] = byte(i*7 + index)
	}
	return f
}

// framesN returns n frames with sizes cycling through 60..1514.
func framesN(n, stream int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = frame(60+(i*97)%1455, stream, i)
	}
	return out
}

// jumboFrames alternates frames that fit one mbuf with frames that do not
// (the default data room holds 2048 bytes).
func jumboFrames() [][]byte {
	return [][]byte{frame(100, 5, 0), frame(4000, 5, 1), frame(1514, 5, 2), frame(9000, 5, 3), frame(200, 5, 4)}
}

func writePcap(path string, frames [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := pcapfile.NewWriter(f, packet.LinkEthernet, 65535, true)
	if err != nil {
		f.Close()
		return err
	}
	for i, fr := range frames {
		if err := w.WritePacket(int64(1700000000e9+i*1000), fr, len(fr)); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readPcap(t *testing.T, path string) [][]byte {
	t.Helper()
	r, err := pcapfile.Open(path, pcapfile.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	var out [][]byte
	b := packet.NewBatch(64)
	for {
		err := r.Next(b)
		for _, p := range b.Pkts {
			out = append(out, append([]byte(nil), p.Data...))
		}
		r.Done(b)
		if errors.Is(err, capture.ErrEndOfInput) || errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
	}
}

// collect reads from s until want packets arrived or the deadline passed,
// checking each against f(i) and the per-packet fields.
func collect(t *testing.T, s *Source, b *packet.Batch, want int, check func(i int, p *packet.Packet)) (got, maxBurst int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got < want && time.Now().Before(deadline) {
		before := time.Now().UnixNano()
		if err := s.Next(b); err != nil {
			t.Fatalf("Next: %v", err)
		}
		after := time.Now().UnixNano()
		maxBurst = max(maxBurst, len(b.Pkts))
		for _, p := range b.Pkts {
			if p.TimeNs < before || p.TimeNs > after {
				t.Errorf("packet %d: TimeNs %d outside the Next call [%d, %d]", got, p.TimeNs, before, after)
			}
			if check != nil {
				check(got, p)
			}
			got++
		}
		s.Done(b)
		if len(b.Pkts) != 0 {
			t.Fatalf("Done left %d packets in the batch", len(b.Pkts))
		}
	}
	return got, maxBurst
}

func TestEALOnce(t *testing.T) {
	needEAL(t)
	if err := InitEAL([]string{"--no-huge"}); !errors.Is(err, ErrEALInitialized) {
		t.Fatalf("second InitEAL: got %v, want ErrEALInitialized", err)
	}
	if !EALInitialized() {
		t.Fatal("EALInitialized false after InitEAL")
	}
	args := EALArgs()
	if args[0] != "vigil" || args[len(args)-1] != "--no-telemetry" {
		t.Errorf("EAL args %q: want argv[0] vigil and --no-telemetry added", args)
	}
}

func TestEALArgsDefaults(t *testing.T) {
	cases := []struct {
		in   []string
		want []string
	}{
		{nil, []string{"vigil", "--no-pci", "--no-shconf", "--no-telemetry"}},
		{[]string{"-a", "0000:3b:00.0"}, []string{"vigil", "-a", "0000:3b:00.0", "--no-shconf", "--no-telemetry"}},
		{[]string{"--allow=0000:3b:00.0", "--in-memory"}, []string{"vigil", "--allow=0000:3b:00.0", "--in-memory", "--no-telemetry"}},
		{[]string{"--no-pci", "--file-prefix=x", "--telemetry"}, []string{"vigil", "--no-pci", "--file-prefix=x", "--telemetry"}},
		{[]string{"--vdev=net_null0"}, []string{"vigil", "--vdev=net_null0", "--no-pci", "--no-shconf", "--no-telemetry"}},
	}
	for _, c := range cases {
		got := EALArgsWithDefaults(c.in)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("EALArgsWithDefaults(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	needEAL(t)
	if _, err := Open(Options{Port: "net_nosuchdev0"}); !errors.Is(err, ErrPortNotFound) {
		t.Errorf("Open unknown port: got %v, want ErrPortNotFound", err)
	}
	if _, err := Open(Options{Port: "4000"}); !errors.Is(err, ErrPortNotFound) {
		t.Errorf("Open unknown port id: got %v, want ErrPortNotFound", err)
	}
	if _, err := Open(Options{Port: devRx, BurstSize: MaxBurst + 1}); err == nil {
		t.Error("Open with burst size above MaxBurst succeeded")
	}
	if LookupPort(devRx) != nil {
		t.Errorf("a failed Open left port %s configured", devRx)
	}
}

// TestPcapRx reads a pcap through net_pcap: every packet arrives intact, in
// order, with the fields the Source promises.
func TestPcapRx(t *testing.T) {
	needEAL(t)
	want := framesN(nRx, 1)
	s, err := Open(Options{Port: devRx, BurstSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port := s.Port()
	if port.Driver() != "net_pcap" {
		t.Errorf("driver %q, want net_pcap", port.Driver())
	}
	b := packet.NewBatch(64) // larger than the burst: bursts are 32
	got, maxBurst := collect(t, s, b, nRx, func(i int, p *packet.Packet) {
		if i >= len(want) {
			t.Fatalf("packet %d beyond the %d in the file", i, len(want))
		}
		if !bytes.Equal(p.Data, want[i]) {
			t.Fatalf("packet %d: %d bytes differ from the %d written", i, len(p.Data), len(want[i]))
		}
		if p.WireLen != len(want[i]) || p.Num != uint64(i+1) || p.LinkType != packet.LinkEthernet ||
			p.Queue != 0 || p.Handle == 0 || p.Origin != packet.OriginWire {
			t.Fatalf("packet %d: WireLen %d Num %d LinkType %d Queue %d Handle %#x Origin %v",
				i, p.WireLen, p.Num, p.LinkType, p.Queue, p.Handle, p.Origin)
		}
	})
	if got != nRx {
		t.Fatalf("received %d packets, want %d", got, nRx)
	}
	if maxBurst != 32 {
		t.Errorf("largest burst %d, want BurstSize 32 (the batch holds 64)", maxBurst)
	}
	// The file is exhausted: no more packets.
	if err := s.Next(b); err != nil || len(b.Pkts) != 0 {
		t.Fatalf("Next after the end: %d packets, err %v", len(b.Pkts), err)
	}
	s.Done(b)
	var wantBytes uint64
	for _, f := range want {
		wantBytes += uint64(len(f))
	}
	st := s.Stats()
	if st.Packets != nRx || st.Bytes != wantBytes || st.KernelDrops != 0 || st.InvalidDrops != 0 {
		t.Errorf("Stats %+v, want %d packets, %d bytes, no drops", st, nRx, wantBytes)
	}
	ps, err := port.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if ps.RxPackets != nRx {
		t.Errorf("port rx packets %d, want %d", ps.RxPackets, nRx)
	}
	if n := port.Pool().InUse(); n != 0 {
		t.Errorf("%d mbufs still in use after every Done", n)
	}
}

// TestIPS runs IPS between two net_pcap ports in both directions: the
// packets let through appear in the peer's tx pcap, in order; the dropped
// and rejected ones do not.
func TestIPS(t *testing.T) {
	needEAL(t)
	sa, err := Open(Options{Port: devIPSA, PeerPort: devIPSB, BurstSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Open(Options{Port: devIPSB, PeerPort: devIPSA, BurstSize: 16})
	if err != nil {
		sa.Close()
		t.Fatal(err)
	}
	// A second Source may not transmit on the same peer queue.
	if _, err := Open(Options{Port: devIPSA, PeerPort: devIPSB}); !errors.Is(err, ErrQueueInUse) {
		t.Errorf("second Source on %s: got %v, want ErrQueueInUse", devIPSA, err)
	}
	verdict := func(i int) packet.Verdict {
		switch {
		case i%7 == 0:
			return packet.VerdictReject
		case i%3 == 0:
			return packet.VerdictDrop
		case i%3 == 1:
			return packet.VerdictBypass
		}
		return packet.VerdictForward
	}
	var wantA, wantB [][]byte // expected in a_out (from B) and b_out (from A)
	inA, inB := framesN(nIPS, 2), framesN(nIPS, 3)
	fwd := 0
	for i := 0; i < nIPS; i++ {
		if v := verdict(i); v == packet.VerdictForward || v == packet.VerdictBypass {
			wantB = append(wantB, inA[i])
			wantA = append(wantA, inB[i])
			fwd++
		}
	}
	ba, bb := packet.NewBatch(16), packet.NewBatch(16)
	ga, gb := 0, 0
	deadline := time.Now().Add(10 * time.Second)
	for (ga < nIPS || gb < nIPS) && time.Now().Before(deadline) {
		for _, side := range []struct {
			s   *Source
			b   *packet.Batch
			g   *int
			in  [][]byte
			dev string
		}{{sa, ba, &ga, inA, devIPSA}, {sb, bb, &gb, inB, devIPSB}} {
			if err := side.s.Next(side.b); err != nil {
				t.Fatal(err)
			}
			for _, p := range side.b.Pkts {
				if !bytes.Equal(p.Data, side.in[*side.g]) {
					t.Fatalf("%s packet %d differs from the file", side.dev, *side.g)
				}
				p.Verdict = verdict(*side.g)
				*side.g++
			}
			side.s.Done(side.b)
		}
	}
	if ga != nIPS || gb != nIPS {
		t.Fatalf("received %d and %d packets, want %d each", ga, gb, nIPS)
	}
	for _, s := range []*Source{sa, sb} {
		st, ips := s.Stats(), s.IPSStats()
		if st.Packets != nIPS || ips.Forwarded != uint64(fwd) || ips.VerdictDrops != uint64(nIPS-fwd) || ips.TxDrops != 0 {
			t.Errorf("%s: Stats %+v IPSStats %+v, want %d packets, %d forwarded, %d verdict drops",
				s.Port().Name(), st, ips, nIPS, fwd, nIPS-fwd)
		}
	}
	poolA, poolB := sa.Port().Pool(), sb.Port().Pool()
	if n := poolA.InUse() + poolB.InUse(); n != 0 {
		t.Errorf("%d mbufs still in use after every Done", n)
	}
	// Closing both Sources closes the ports Open configured, which flushes
	// and closes the tx pcap files.
	if err := sa.Close(); err != nil {
		t.Fatal(err)
	}
	if LookupPort(devIPSA) == nil {
		t.Errorf("port %s closed while Source on %s still forwards to it", devIPSA, devIPSB)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if LookupPort(devIPSA) != nil || LookupPort(devIPSB) != nil {
		t.Error("implicitly configured ports still open after their last Source closed")
	}
	for _, c := range []struct {
		file string
		want [][]byte
	}{{"b_out.pcap", wantB}, {"a_out.pcap", wantA}} {
		got := readPcap(t, filepath.Join(testDir, c.file))
		if len(got) != len(c.want) {
			t.Errorf("%s: %d packets, want %d (the forwarded ones)", c.file, len(got), len(c.want))
			continue
		}
		for i := range got {
			if !bytes.Equal(got[i], c.want[i]) {
				t.Errorf("%s: packet %d is not forwarded packet %d", c.file, i, i)
				break
			}
		}
	}
}

// TestMultiSegment: frames longer than the mbuf data room arrive chained;
// the Source drops and counts them, the others arrive in order.
func TestMultiSegment(t *testing.T) {
	needEAL(t)
	all := jumboFrames()
	want := [][]byte{all[0], all[2], all[4]}
	s, err := Open(Options{Port: devMultiSeg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := packet.NewBatch(8)
	got, _ := collect(t, s, b, len(want), func(i int, p *packet.Packet) {
		if !bytes.Equal(p.Data, want[i]) {
			t.Errorf("packet %d: %d bytes, want frame of %d bytes", i, len(p.Data), len(want[i]))
		}
	})
	// Poll a little more: nothing else may come.
	for i := 0; i < 10; i++ {
		if err := s.Next(b); err != nil || len(b.Pkts) != 0 {
			t.Fatalf("extra packets: %d, err %v", len(b.Pkts), err)
		}
	}
	if got != len(want) {
		t.Fatalf("received %d packets, want %d", got, len(want))
	}
	st := s.Stats()
	if st.InvalidDrops != 2 || st.Packets != 3 {
		t.Errorf("Stats %+v, want 3 packets and 2 invalid drops (multi-segment)", st)
	}
	if n := s.Port().Pool().InUse(); n != 0 {
		t.Errorf("%d mbufs still in use", n)
	}
}

// TestKernelDropsNoMbuf: with the pool exhausted by batches still lent out,
// the driver cannot allocate and the loss shows in KernelDrops.
func TestKernelDropsNoMbuf(t *testing.T) {
	needEAL(t)
	port, err := ConfigurePort(devNoMbuf, PortConfig{RxDesc: 64, TxDesc: 64,
		PoolOptions: PoolOptions{Name: "vigil_test_tiny", Size: 32, Cache: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := port.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := ConfigurePort(devNoMbuf, PortConfig{}); err == nil {
		t.Error("configuring a configured port again succeeded")
	}
	s, err := Open(Options{Port: devNoMbuf, BurstSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := port.Close(); !errors.Is(err, ErrPortInUse) {
		t.Errorf("Close with a Source open: got %v, want ErrPortInUse", err)
	}
	b1, b2, b3 := packet.NewBatch(16), packet.NewBatch(16), packet.NewBatch(16)
	for _, b := range []*packet.Batch{b1, b2} {
		if err := s.Next(b); err != nil || len(b.Pkts) != 16 {
			t.Fatalf("Next: %d packets, err %v; want 16", len(b.Pkts), err)
		}
	}
	if n := port.Pool().Available(); n != 0 {
		t.Fatalf("pool has %d mbufs free with 32 lent out, want 0", n)
	}
	if err := s.Next(b3); err != nil || len(b3.Pkts) != 0 {
		t.Fatalf("Next with the pool empty: %d packets, err %v", len(b3.Pkts), err)
	}
	ps, err := port.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if ps.RxNoMbuf == 0 {
		t.Fatalf("port stats %+v: want rx_nombuf > 0", ps)
	}
	s.Done(b1)
	// Next on a batch still lent out gives its packets back first.
	rest, _ := collect(t, s, b2, nNoMbuf-32-int(ps.RxNoMbuf), nil)
	got := 32 + rest
	for i := 0; i < 10; i++ {
		if err := s.Next(b2); err != nil || len(b2.Pkts) != 0 {
			t.Fatalf("more packets than the file minus the drops: %d, err %v", len(b2.Pkts), err)
		}
	}
	st := s.Stats()
	if st.KernelDrops != ps.RxNoMbuf {
		t.Errorf("KernelDrops %d, want rx_nombuf %d", st.KernelDrops, ps.RxNoMbuf)
	}
	// The pcap driver had read the frame it found no mbuf for: every
	// frame of the file is either received or counted as dropped.
	if st.Packets != uint64(got) || st.Packets+st.KernelDrops != nNoMbuf {
		t.Errorf("received %d (Stats %+v): received + KernelDrops must be %d", got, st, nNoMbuf)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := port.Pool().InUse(); n != 0 {
		t.Errorf("%d mbufs in use after Close", n)
	}
}

// TestMultiQueue: one Source per queue of a two-queue port; queues are
// exclusive.
func TestMultiQueue(t *testing.T) {
	needEAL(t)
	port, err := ConfigurePort(devQueues, PortConfig{Queues: 2, RxDesc: 128, TxDesc: 128, Promisc: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	if port.Queues() != 2 || LookupPort(devQueues) != port || LookupPort(fmt.Sprint(port.ID())) != port {
		t.Fatalf("port %s: %d queues, lookup by name/id does not find it", port.Name(), port.Queues())
	}
	var srcs []*Source
	for q, name := range []string{devQueues, fmt.Sprint(port.ID())} { // by name, by id
		s, err := Open(Options{Port: name, Queue: q, Promisc: true})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	if _, err := Open(Options{Port: devQueues, Queue: 1}); !errors.Is(err, ErrQueueInUse) {
		t.Errorf("second Source on queue 1: got %v, want ErrQueueInUse", err)
	}
	if _, err := Open(Options{Port: devQueues, Queue: 2}); err == nil {
		t.Error("Source on queue 2 of a 2-queue port opened")
	}
	if _, err := Open(Options{Port: devQueues, Queue: 0, RxDesc: 512}); err == nil {
		t.Error("Open asking for other descriptor counts than the port's succeeded")
	}
	b := packet.NewBatch(32)
	for q, s := range srcs {
		if err := s.Next(b); err != nil || len(b.Pkts) == 0 {
			t.Fatalf("queue %d: %d packets, err %v", q, len(b.Pkts), err)
		}
		for _, p := range b.Pkts {
			if p.Queue != uint16(q) {
				t.Fatalf("queue %d: packet says queue %d", q, p.Queue)
			}
		}
		s.Done(b)
	}
	if err := port.Close(); !errors.Is(err, ErrPortInUse) {
		t.Errorf("Close with Sources open: got %v, want ErrPortInUse", err)
	}
	// A batch still lent out when its Source closes: Close frees it.
	if err := srcs[1].Next(b); err != nil || len(b.Pkts) == 0 {
		t.Fatalf("Next: %d packets, err %v", len(b.Pkts), err)
	}
	if port.Pool().InUse() == 0 {
		t.Fatal("pool reports no mbufs in use with a batch lent out")
	}
	for _, s := range srcs {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := port.Pool().InUse(); n != 0 {
		t.Errorf("%d mbufs in use after the Sources closed", n)
	}
	if err := srcs[0].Next(b); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: got %v, want ErrClosed", err)
	}
	if err := port.Close(); err != nil {
		t.Fatalf("Close after the Sources closed: %v", err)
	}
	if _, err := port.Stats(); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats of a closed port: got %v, want ErrClosed", err)
	}
}

// TestRingLoop forwards net_pcap packets into net_ring0, whose tx and rx
// share one ring of 1023 slots: what the ring does not take is counted in
// TxDrops, what it took comes back on net_ring0's rx with the in-place
// modification made before Done.
func TestRingLoop(t *testing.T) {
	needEAL(t)
	in, err := Open(Options{Port: devRingIn, PeerPort: devRing, BurstSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := Open(Options{Port: devRing})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	b := packet.NewBatch(64)
	// Nothing in the ring yet.
	if err := out.Next(b); err != nil || len(b.Pkts) != 0 {
		t.Fatalf("empty ring: %d packets, err %v", len(b.Pkts), err)
	}
	out.Done(b)
	frames := framesN(nRing, 6)
	got, _ := collect(t, in, b, nRing, func(i int, p *packet.Packet) {
		p.Data[14+8]-- // TTL, changed in the mbuf itself
		p.Verdict = packet.VerdictForward
	})
	if got != nRing {
		t.Fatalf("received %d packets from %s, want %d", got, devRingIn, nRing)
	}
	ips := in.IPSStats()
	if ips.Forwarded+ips.TxDrops != nRing || ips.TxDrops == 0 || ips.VerdictDrops != 0 {
		t.Fatalf("IPSStats %+v: want forwarded + tx drops = %d, tx drops > 0 (the ring holds 1023)", ips, nRing)
	}
	n, _ := collect(t, out, b, int(ips.Forwarded), func(i int, p *packet.Packet) {
		want := append([]byte(nil), frames[i]...)
		want[14+8]--
		if !bytes.Equal(p.Data, want) {
			t.Fatalf("looped packet %d differs from frame %d with TTL-1", i, i)
		}
	})
	if uint64(n) != ips.Forwarded {
		t.Errorf("%d packets came back through the ring, %d were forwarded", n, ips.Forwarded)
	}
	t.Logf("forwarded %d, tx drops %d", ips.Forwarded, ips.TxDrops)
}

// TestNoAllocs: Next and Done allocate nothing, in IDS and IPS mode.
func TestNoAllocs(t *testing.T) {
	needEAL(t)
	// Configured explicitly: closing a Source must not close (and so
	// release) the virtual devices between the two rounds.
	for _, dev := range []string{devAllocA, devAllocB} {
		port, err := ConfigurePort(dev, PortConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { port.Close() })
	}
	for _, peer := range []string{"", devAllocB} {
		s, err := Open(Options{Port: devAllocA, PeerPort: peer})
		if err != nil {
			t.Fatal(err)
		}
		b := packet.NewBatch(64)
		n := 0
		allocs := testing.AllocsPerRun(200, func() {
			if err := s.Next(b); err != nil {
				t.Fatal(err)
			}
			for i, p := range b.Pkts {
				p.Verdict = packet.Verdict(i % 4)
			}
			n += len(b.Pkts)
			s.Done(b)
		})
		st := s.Stats()
		s.Close()
		if n == 0 {
			t.Fatalf("peer %q: net_null gave no packets", peer)
		}
		if allocs != 0 {
			t.Errorf("peer %q: %.1f allocations per burst, want 0", peer, allocs)
		}
		if peer != "" && s.IPSStats().Forwarded == 0 {
			t.Errorf("IPS: nothing forwarded (%+v)", s.IPSStats())
		}
		t.Logf("peer %q: %d packets, stats %+v", peer, n, st)
	}
}

var benchPorts struct {
	once sync.Once
	a, b *Port
	err  error
}

func benchSetup(b *testing.B) {
	needEAL(b)
	benchPorts.once.Do(func() {
		benchPorts.a, benchPorts.err = ConfigurePort(devBenchA, PortConfig{})
		if benchPorts.err == nil {
			benchPorts.b, benchPorts.err = ConfigurePort(devBenchB, PortConfig{})
		}
	})
	if benchPorts.err != nil {
		b.Fatal(benchPorts.err)
	}
}

func benchRx(b *testing.B, peer string, burst int, register bool) {
	benchSetup(b)
	if register {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if _, err := RegisterThread(); err != nil {
			b.Fatal(err)
		}
		defer UnregisterThread()
	}
	s, err := Open(Options{Port: devBenchA, PeerPort: peer, BurstSize: burst})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := packet.NewBatch(burst)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var n uint64
	for i := 0; i < b.N; i++ {
		if err := s.Next(batch); err != nil {
			b.Fatal(err)
		}
		n += uint64(len(batch.Pkts))
		s.Done(batch)
	}
	el := time.Since(start)
	b.StopTimer()
	if n == 0 {
		b.Fatal("no packets")
	}
	b.ReportMetric(float64(n)/el.Seconds(), "pkts/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(n), "ns/pkt")
}

// BenchmarkRx: net_null rx bursts of 64-byte frames through Next and Done
// (IDS: free in bulk). One op is one burst.
func BenchmarkRx(b *testing.B) {
	for _, burst := range []int{32, 64, 256} {
		b.Run(fmt.Sprintf("burst%d", burst), func(b *testing.B) { benchRx(b, "", burst, false) })
	}
	b.Run("burst64-registered", func(b *testing.B) { benchRx(b, "", 64, true) })
}

// BenchmarkIPS: net_null rx, every packet forwarded to net_null tx.
func BenchmarkIPS(b *testing.B) {
	b.Run("burst64", func(b *testing.B) { benchRx(b, devBenchB, 64, false) })
	b.Run("burst64-registered", func(b *testing.B) { benchRx(b, devBenchB, 64, true) })
}
