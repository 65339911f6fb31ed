package nfqueue

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// TestLiveLossAccounting overfills a queue whose reader is away, then
// drains it, and checks that every packet the NFQUEUE rule matched is
// accounted for exactly: sent = Packets + KernelDrops + Uninspected.
//
//   - queue-full: MaxLen 8, no fail-open: the kernel drops the rest
//     (queue_dropped), without numbering them.
//   - socket-full: a 16 KiB socket buffer, no fail-open: the kernel numbers
//     and drops what does not fit (user_dropped).
//   - fail-open, socket-full: the same buffer with fail-open: the kernel
//     lets the rest through uninspected, counted from the missing ids.
//   - fail-open, MaxLen 1: with fail-open the queue length limit is lifted
//     (the kernel would count nothing over it), so the buffer is the limit.
func TestLiveLossAccounting(t *testing.T) {
	tp := newTopo(t, false)
	tp.ipt("-A", "FORWARD", "-p", "udp", "-j", "NFQUEUE", "--queue-num", "0")
	cases := []struct {
		name     string
		o        Options
		failOpen bool
	}{
		{"queue-full", Options{MaxLen: 8}, false},
		{"socket-full", Options{MaxLen: 100000, RecvBuffer: 8 << 10}, false},
		{"fail-open-socket-full", Options{FailOpen: true, RecvBuffer: 8 << 10}, true},
		{"fail-open-maxlen-1", Options{FailOpen: true, MaxLen: 1, RecvBuffer: 8 << 10}, true},
	}
	const burst = 300
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tp.t = t
			before := tp.ruleCount("filter", "FORWARD", 1)
			s := tp.open(c.o)
			port := 7100 + i
			u := tp.udpServer(fmt.Sprintf("%s:%d", serverIP, port))
			cl := tp.udpClient("", fmt.Sprintf("%s:%d", serverIP, port))
			// The client resolves the router's address before the burst,
			// so the burst is not held (and cut) by ARP.
			tp.ping(1)
			sendUDP(t, cl, burst, 0, func(i int) []byte { return []byte(fmt.Sprintf("datagram %d", i)) })
			time.Sleep(100 * time.Millisecond) // the reader is away

			// Drain: accept everything until the queue stays idle.
			b := packet.NewBatch(64)
			idle := 0
			for idle < 5 {
				if err := s.Next(b); err != nil {
					t.Fatalf("Next: %v", err)
				}
				if len(b.Pkts) == 0 {
					idle++
				} else {
					idle = 0
				}
				s.Done(b)
			}
			sent := tp.ruleCount("filter", "FORWARD", 1) - before
			st, ctr := s.Stats(), s.Counters()
			u.waitCount(int(st.Packets+st.Uninspected), 2*time.Second)
			got := u.count()
			t.Logf("sent %d: packets %d, kernel drops %d, uninspected %d (id gaps %d, ENOBUFS %d); server got %d",
				sent, st.Packets, st.KernelDrops, st.Uninspected, ctr.IDGaps, ctr.ENOBUFS, got)
			if sent == 0 || st.Packets == 0 || st.Packets == sent {
				t.Fatalf("the burst did not overfill the queue: sent %d, received %d", sent, st.Packets)
			}
			if st.Packets+st.InvalidDrops+st.KernelDrops+st.Uninspected != sent {
				t.Errorf("packets %d + invalid %d + kernel drops %d + uninspected %d != %d sent through the rule",
					st.Packets, st.InvalidDrops, st.KernelDrops, st.Uninspected, sent)
			}
			if c.failOpen {
				if st.KernelDrops != 0 || st.Uninspected == 0 {
					t.Errorf("fail-open: kernel drops %d, uninspected %d", st.KernelDrops, st.Uninspected)
				}
				// What passed uninspected reached the server too.
				if uint64(got) != st.Packets+st.Uninspected {
					t.Errorf("server got %d, want packets %d + uninspected %d", got, st.Packets, st.Uninspected)
				}
			} else {
				if st.Uninspected != 0 || st.KernelDrops == 0 {
					t.Errorf("kernel drops %d, uninspected %d", st.KernelDrops, st.Uninspected)
				}
				if uint64(got) != st.Packets {
					t.Errorf("server got %d, want the %d accepted", got, st.Packets)
				}
			}
			s.Close()
			if st2 := s.Stats(); st2.KernelDrops != st.KernelDrops || st2.Uninspected != st.Uninspected || st2.Packets != st.Packets {
				t.Errorf("after Close: %+v, want the last values %+v", st2, st)
			}
		})
	}
}

// TestLiveLossWhileReading: packets keep coming while a slow reader works
// and Stats is read from another goroutine; at the end the accounting is
// exact and the counters never went down.
func TestLiveLossWhileReading(t *testing.T) {
	tp := newTopo(t, false)
	tp.ipt("-A", "FORWARD", "-p", "udp", "-j", "NFQUEUE", "--queue-num", "0")
	s := tp.open(Options{FailOpen: true, RecvBuffer: 8 << 10})
	u := tp.udpServer(serverIP + ":7200")
	cl := tp.udpClient("", serverIP+":7200")
	tp.ping(1)
	l := runLoop(s, func(*packet.Packet, Meta) packet.Verdict {
		time.Sleep(50 * time.Microsecond) // a slow engine
		return packet.VerdictForward
	})
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		var last uint64
		for {
			select {
			case <-stop:
				errc <- nil
				return
			default:
			}
			st := s.Stats()
			if sum := st.Packets + st.Uninspected + st.KernelDrops; sum < last {
				errc <- fmt.Errorf("accounted packets went down from %d to %d", last, sum)
				return
			} else {
				last = sum
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for i := 0; i < 5; i++ {
		sendUDP(t, cl, 400, 0, func(int) []byte { return []byte("x") })
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(3*time.Second, func() bool {
		st := s.Stats()
		return st.Packets+st.Uninspected >= tp.ruleCount("filter", "FORWARD", 1)
	})
	close(stop)
	if err := <-errc; err != nil {
		t.Error(err)
	}
	l.halt(t)
	sent := tp.ruleCount("filter", "FORWARD", 1)
	st := s.Stats()
	t.Logf("sent %d: packets %d, uninspected %d, kernel drops %d; server got %d", sent, st.Packets, st.Uninspected, st.KernelDrops, u.waitCount(int(sent), time.Second))
	if st.Packets+st.Uninspected+st.KernelDrops+st.InvalidDrops != sent {
		t.Errorf("packets %d + uninspected %d + kernel drops %d != %d sent", st.Packets, st.Uninspected, st.KernelDrops, sent)
	}
}
