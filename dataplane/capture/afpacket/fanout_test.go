package afpacket

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// TestLiveFanout puts two sources in one PACKET_FANOUT hash group and
// checks that every frame arrives exactly once across them, that a flow
// stays on one source, and whether both directions of TCP connections land
// on the same source (the kernel's fanout hash is symmetric).
func TestLiveFanout(t *testing.T) {
	requireLive(t)
	nsA, nsB := uniq("fa"), uniq("fb")
	a, b := uniq("f0"), uniq("f1")
	newNS(t, nsA)
	newNS(t, nsB)
	veth(t, nsA, a, nsB, b)
	addr(t, nsA, a, "10.201.0.1/24")
	addr(t, nsB, b, "10.201.0.2/24")

	var src [2]*Source
	for q := range src {
		src[q] = openIn(t, nsB, Options{Interface: b, Queue: uint16(q), FanoutGroup: 42,
			BlockSize: 64 << 10, NumBlocks: 32, PollTimeout: 20 * time.Millisecond})
	}

	type rec struct {
		queue uint16
		udp   bool
		seq   uint32
		tcp   tuple
	}
	var (
		mu   sync.Mutex
		recs []rec
		stop = make(chan struct{})
		wg   sync.WaitGroup
		errs [2]error
	)
	for q := range src {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bt := packet.NewBatch(64)
			errs[q] = drain(src[q], bt, time.Now().Add(30*time.Second), func(p *packet.Packet) {
				r := rec{queue: p.Queue}
				if seq, ok := udpSeq(p.Data); ok {
					r.udp, r.seq = true, seq
				} else if u, ok := parseIPv4(p.Data); ok && u.proto == unix.IPPROTO_TCP {
					r.tcp = u
				} else {
					return
				}
				mu.Lock()
				recs = append(recs, r)
				mu.Unlock()
			}, func() bool {
				select {
				case <-stop:
					return true
				default:
					return false
				}
			})
		}()
	}

	// UDP: 64 flows x 30 frames, to a MAC that is not B's (the stack
	// ignores them; the capture sees them).
	const flows, per = 64, 30
	fd := rawSocket(t, nsA, a)
	other := [6]byte{0x02, 0, 0, 0, 0, 0x99}
	seq := uint32(0)
	flowOf := map[uint32]int{}
	for k := 0; k < per; k++ {
		for f := 0; f < flows; f++ {
			fr := ipv4UDPFrame(other, [4]byte{10, 201, 1, byte(f)}, uint16(1000+f), [4]byte{10, 201, 0, 2}, 5000, seq)
			flowOf[seq] = f
			seq++
			if _, err := unix.Write(fd, fr); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Millisecond)
	}

	// TCP: 16 connections from A to B, 20 KB each way.
	var ln net.Listener
	if err := inNS(nsB, func() (err error) { ln, err = net.Listen("tcp4", "10.201.0.2:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	const conns = 16
	msg := make([]byte, 20000)
	for i := 0; i < conns; i++ {
		var c net.Conn
		if err := inNS(nsA, func() (err error) { c, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second); return err }); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		if n, err := io.Copy(io.Discard, c); err != nil || n != int64(len(msg)) {
			t.Fatalf("connection %d: echoed %d bytes, %v", i, n, err)
		}
		c.Close()
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("readers: %v %v", errs[0], errs[1])
	}

	// Exactly once, one source per flow, both sources used.
	count := map[uint32]int{}
	flowQueue := map[int]uint16{}
	perQueue := [2]int{}
	conn := map[tuple]map[uint16]int{}
	dirs := map[tuple]*[2]int{}
	tcpPkts := 0
	for _, r := range recs {
		perQueue[r.queue]++
		if r.udp {
			count[r.seq]++
			f := flowOf[r.seq]
			if q, ok := flowQueue[f]; ok && q != r.queue {
				t.Errorf("UDP flow %d split over sources %d and %d", f, q, r.queue)
			}
			flowQueue[f] = r.queue
			continue
		}
		key, dir := r.tcp, 0
		if rev := key.reverse(); fmt.Sprint(rev) < fmt.Sprint(key) {
			key, dir = rev, 1
		}
		if conn[key] == nil {
			conn[key] = map[uint16]int{}
			dirs[key] = new([2]int)
		}
		dirs[key][dir]++
		conn[key][r.queue]++
		tcpPkts++
	}
	for s := uint32(0); s < seq; s++ {
		if count[s] != 1 {
			t.Fatalf("UDP frame %d arrived %d times across the group", s, count[s])
		}
	}
	onFirst := 0
	for _, q := range flowQueue {
		if q == 0 {
			onFirst++
		}
	}
	if onFirst == 0 || onFirst == flows {
		t.Fatalf("all %d UDP flows went to one source", flows)
	}
	st0, st1 := src[0].Stats(), src[1].Stats()
	if st0.KernelDrops+st1.KernelDrops != 0 {
		t.Fatalf("kernel drops %d/%d", st0.KernelDrops, st1.KernelDrops)
	}
	if got := st0.Packets + st1.Packets; got < uint64(len(recs)) {
		t.Fatalf("stats count %d packets, readers saw %d", got, len(recs))
	}
	split := 0
	for key, qs := range conn {
		if d := dirs[key]; d[0] == 0 || d[1] == 0 {
			t.Errorf("TCP connection %v: one direction not captured %v", key, *d)
		}
		if len(qs) > 1 {
			split++
			t.Errorf("TCP connection %v: packets on both sources %v", key, qs)
		}
	}
	if len(conn) < conns {
		t.Fatalf("saw %d TCP connections, want %d", len(conn), conns)
	}
	t.Logf("fanout hash: %d UDP flows split %d/%d; %d TCP connections (%d packets, both directions captured on %s): %d had both directions on one source, %d split",
		flows, onFirst, flows-onFirst, len(conn), tcpPkts, b, len(conn)-split, split)
}
