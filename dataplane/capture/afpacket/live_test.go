package afpacket

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// TestLiveReceive sends known frames (some 802.1Q-tagged, sizes 60..1459)
// from a peer namespace and checks that every one arrives once with the
// bytes that were sent, the VLAN tag back in place, and exact counters; a
// second source on the same interface with SnapLen 100 sees the same
// frames truncated. It then checks that Next and Done allocate nothing,
// with packets and when idle.
func TestLiveReceive(t *testing.T) {
	requireLive(t)
	nsA, nsB := uniq("ra"), uniq("rb")
	a, b := uniq("r0"), uniq("r1")
	newNS(t, nsA)
	newNS(t, nsB)
	veth(t, nsA, a, nsB, b)
	// 2 MiB per ring holds all the frames sent, so a reader starved of
	// CPU on a loaded machine loses nothing.
	opts := Options{Interface: b, Queue: 5, BlockSize: 64 << 10, NumBlocks: 32, PollTimeout: 20 * time.Millisecond}
	full := openIn(t, nsB, opts)
	opts.SnapLen, opts.Queue = 100, 6
	snap := openIn(t, nsB, opts)
	if full.LinkType() != packet.LinkEthernet {
		t.Fatalf("link type %d", full.LinkType())
	}
	fd := rawSocket(t, nsA, a)

	const n = 1000
	frames := make([][]byte, n)
	var sentBytes uint64
	wantTrunc := 0
	for i := range frames {
		vlan := uint16(0)
		if i%5 == 0 {
			vlan = uint16(0x2000 | (100 + i%7)) // priority 1, VLAN 100..106
		}
		frames[i] = testFrame(uint32(i), 60+(i*37)%1400, vlan)
		sentBytes += uint64(len(frames[i]))
		untagged := len(frames[i])
		if vlan != 0 {
			untagged -= 4
		}
		if untagged > 100 {
			wantTrunc++
		}
	}

	type result struct {
		got  map[uint32][]byte
		wire map[uint32]int
		err  error
	}
	start := time.Now().UnixNano()
	read := func(s *Source, queue uint16, res *result, wg *sync.WaitGroup) {
		defer wg.Done()
		res.got, res.wire = map[uint32][]byte{}, map[uint32]int{}
		bt := packet.NewBatch(32)
		res.err = drain(s, bt, time.Now().Add(15*time.Second), func(p *packet.Packet) {
			seq, ok := frameSeq(p.Data)
			if !ok || p.Queue != queue || p.Handle == 0 || p.TimeNs < start || p.TimeNs > time.Now().UnixNano() {
				res.err = errors.Join(res.err, errors.New("unexpected packet or fields"))
				return
			}
			if _, dup := res.got[seq]; dup {
				res.err = errors.Join(res.err, errors.New("duplicate packet"))
			}
			res.got[seq] = append([]byte(nil), p.Data...)
			res.wire[seq] = p.WireLen
		}, func() bool { return len(res.got) == n })
	}
	var wg sync.WaitGroup
	var rf, rs result
	wg.Add(2)
	go read(full, 5, &rf, &wg)
	go read(snap, 6, &rs, &wg)
	for i, f := range frames {
		if _, err := unix.Write(fd, f); err != nil {
			t.Fatalf("send frame %d: %v", i, err)
		}
		if i%100 == 99 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	wg.Wait()
	if rf.err != nil || rs.err != nil {
		t.Fatalf("readers: %v / %v", rf.err, rs.err)
	}
	if len(rf.got) != n || len(rs.got) != n {
		t.Fatalf("received %d and %d of %d frames\n%s\n%s", len(rf.got), len(rs.got), n, linkCounters(nsA, a), linkCounters(nsB, b))
	}
	for i, f := range frames {
		seq := uint32(i)
		if !bytes.Equal(rf.got[seq], f) || rf.wire[seq] != len(f) {
			t.Fatalf("frame %d: got %d bytes (wire %d), want %d bytes as sent\n got %x\nwant %x", i, len(rf.got[seq]), rf.wire[seq], len(f), head(rf.got[seq]), head(f))
		}
		keep := 100
		if i%5 == 0 {
			keep += 4 // the tag is put back on top of the snap length
		}
		if keep > len(f) {
			keep = len(f)
		}
		if !bytes.Equal(rs.got[seq], f[:keep]) || rs.wire[seq] != len(f) {
			t.Fatalf("snap frame %d: %d bytes wire %d, want %d bytes wire %d", i, len(rs.got[seq]), rs.wire[seq], keep, len(f))
		}
	}
	if full.r.vlans != n/5 || snap.r.vlans != n/5 {
		t.Fatalf("VLAN tags put back: %d and %d, want %d (kernel stripped them?)", full.r.vlans, snap.r.vlans, n/5)
	}
	st := full.Stats()
	if st.Packets != n || st.Bytes != sentBytes || st.KernelDrops != 0 || st.Truncated != 0 || st.InvalidDrops != 0 {
		t.Fatalf("full stats %+v, want %d packets, %d bytes, no drops", st, n, sentBytes)
	}
	if k := full.KernelStats(); k.Packets != n || k.Drops != 0 {
		t.Fatalf("kernel stats %+v, want %d packets", k, n)
	}
	if st := snap.Stats(); st.Packets != n || st.Truncated != uint64(wantTrunc) || st.KernelDrops != 0 {
		t.Fatalf("snap stats %+v, want %d truncated", st, wantTrunc)
	}

	// Zero allocations in Next+Done with packets ready...
	for i := 0; i < 400; i++ {
		if _, err := unix.Write(fd, testFrame(uint32(n+i), 60, 0)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // let the block timeout hand the blocks over
	bt := packet.NewBatch(8)
	got := 0
	allocs := testing.AllocsPerRun(40, func() {
		if err := full.Next(bt); err != nil {
			t.Fatal(err)
		}
		got += len(bt.Pkts)
		full.Done(bt)
	})
	if allocs != 0 {
		t.Fatalf("Next+Done allocate %.2f times per batch", allocs)
	}
	if got < 41*8 {
		t.Fatalf("allocation check read only %d packets", got)
	}
	// ... and when idle (Next waits PollTimeout in ppoll, returns empty).
	drain(full, bt, time.Now().Add(2*time.Second), func(*packet.Packet) {}, func() bool { return full.Stats().Packets == n+400 })
	allocs = testing.AllocsPerRun(5, func() {
		if err := full.Next(bt); err != nil || len(bt.Pkts) != 0 {
			t.Fatalf("idle Next: %v, %d packets", err, len(bt.Pkts))
		}
	})
	if allocs != 0 {
		t.Fatalf("idle Next allocates %.2f times", allocs)
	}
}

func head(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// TestLiveInterfaceDownAndClose checks that Next reports the interface
// going down (and resumes when it is up again), that Close wakes a Next
// blocked in poll, and that the source refuses use after Close.
func TestLiveInterfaceDownAndClose(t *testing.T) {
	requireLive(t)
	nsA, nsB := uniq("da"), uniq("db")
	a, b := uniq("d0"), uniq("d1")
	newNS(t, nsA)
	newNS(t, nsB)
	veth(t, nsA, a, nsB, b)
	s := openIn(t, nsB, Options{Interface: b, PollTimeout: 5 * time.Second, Promisc: true})
	bt := packet.NewBatch(8)
	if !strings.Contains(linkDetails(nsB, b), "promiscuity 1 ") {
		t.Fatalf("Promisc: %s not promiscuous while the source is open", b)
	}

	errc := make(chan error, 1)
	go func() { errc <- s.Next(bt) }()
	time.Sleep(100 * time.Millisecond)
	sh(t, "ip", "-n", nsB, "link", "set", "dev", b, "down")
	select {
	case err := <-errc:
		if !errors.Is(err, ErrInterfaceDown) || !errors.Is(err, unix.ENETDOWN) {
			t.Fatalf("Next after link down: %v", err)
		}
		t.Logf("link down reported: %v", err)
	case <-time.After(3 * time.Second):
		t.Fatal("Next did not report the interface going down")
	}
	sh(t, "ip", "-n", nsB, "link", "set", "dev", b, "up")
	fd := rawSocket(t, nsA, a)
	time.Sleep(50 * time.Millisecond)
	if _, err := unix.Write(fd, testFrame(77, 60, 0)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(bt.Pkts) == 0 && time.Now().Before(deadline) {
		if err := s.Next(bt); err != nil {
			t.Fatalf("Next after link up: %v", err)
		}
	}
	if seq, ok := frameSeq(firstData(bt)); !ok || seq != 77 {
		t.Fatal("capture did not resume after the link came back")
	}
	s.Done(bt)

	go func() { errc <- s.Next(bt) }()
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Next returned %v, want ErrClosed", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Close did not wake Next")
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err := s.Next(bt); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if !strings.Contains(linkDetails(nsB, b), "promiscuity 0 ") {
		t.Fatalf("%s still promiscuous after Close", b)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	s.Done(bt) // harmless
	if st := s.Stats(); st.Packets != 1 {
		t.Fatalf("stats after Close %+v", st)
	}
}

func firstData(b *packet.Batch) []byte {
	if len(b.Pkts) == 0 {
		return nil
	}
	return b.Pkts[0].Data
}

// TestLiveKernelDrops floods a tiny ring nobody reads and checks that every
// frame sent is either delivered or counted as a kernel drop.
func TestLiveKernelDrops(t *testing.T) {
	requireLive(t)
	nsA, nsB := uniq("ka"), uniq("kb")
	a, b := uniq("k0"), uniq("k1")
	newNS(t, nsA)
	newNS(t, nsB)
	veth(t, nsA, a, nsB, b)
	s := openIn(t, nsB, Options{Interface: b, BlockSize: 4096, NumBlocks: 2, BlockTimeout: time.Millisecond, PollTimeout: 10 * time.Millisecond})
	fd := rawSocket(t, nsA, a)
	const n = 2000
	for i := 0; i < n; i++ {
		if _, err := unix.Write(fd, testFrame(uint32(i), 60, 0)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	st := s.Stats()
	if st.KernelDrops == 0 {
		t.Fatalf("no kernel drops counted after %d frames into a 8 KiB ring: %+v", n, st)
	}
	bt := packet.NewBatch(64)
	seen := map[uint32]bool{}
	var delivered uint64
	drain(s, bt, time.Now().Add(2*time.Second), func(p *packet.Packet) {
		if seq, ok := frameSeq(p.Data); ok && !seen[seq] {
			seen[seq] = true
			delivered++
		}
	}, func() bool { return false })
	st = s.Stats()
	k := s.KernelStats()
	t.Logf("%d frames sent into a 2x4 KiB ring: %d delivered, %d kernel drops, kernel stats %+v", n, delivered, st.KernelDrops, k)
	if delivered != st.Packets || delivered+st.KernelDrops != n || k.Packets != n {
		t.Fatalf("delivered %d (stats %d) + drops %d != %d sent (kernel packets %d)\n%s\n%s", delivered, st.Packets, st.KernelDrops, n, k.Packets,
			linkCounters(nsA, a), linkCounters(nsB, b))
	}
	if k.FreezeQueue == 0 {
		t.Fatalf("the kernel never froze the full ring: %+v", k)
	}
}
