//go:build linux

package afxdp

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rxSocket opens an AF_PACKET socket that receives on ifname in namespace
// ns, with a large receive buffer and a 50 ms read timeout.
func rxSocket(t testing.TB, ns, ifname string) int {
	t.Helper()
	var fd int
	err := inNetns(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20); err != nil {
			return err
		}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 50000}); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatalf("receive socket on %s in %s: %v", ifname, ns, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// readTestFrames reads from fd until want test frames (udpTestFrame)
// arrived or nothing came for idle; it returns them in arrival order.
func readTestFrames(fd int, want int, idle time.Duration) [][]byte {
	var got [][]byte
	buf := make([]byte, 65536)
	last := time.Now()
	for len(got) < want && time.Since(last) < idle {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if _, ok := testSeq(buf[:n]); ok {
			got = append(got, bytes.Clone(buf[:n]))
			last = time.Now()
		}
	}
	return got
}

// TestLiveTx: frames sent through a transmit-only socket arrive on the
// peer, all, in order and intact, with and without need_wakeup; a frame
// larger than a UMEM frame is refused with EMSGSIZE naming the interface.
func TestLiveTx(t *testing.T) {
	requireLive(t)
	for _, noWake := range []bool{false, true} {
		name := "need-wakeup"
		if noWake {
			name = "always-kick"
		}
		t.Run(name, func(t *testing.T) {
			const ns, here, there = "vxa-tx", "vxat0", "vxat1"
			netns(t, ns)
			veth(t, here, there, ns)
			tx, err := OpenTx(TxOptions{Interface: here, RingSize: 256, Frames: 512, NoNeedWakeup: noWake})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tx.Close() })
			t.Logf("mode %s (zero-copy refused: %v)", tx.Mode(), tx.FallbackReason())
			rx := rxSocket(t, ns, there)
			src, dst := mac(t, "", here), mac(t, ns, there)
			const n = 5000
			frames := make([][]byte, n)
			var bytesSent uint64
			for i := range frames {
				frames[i] = udpTestFrame(t, src, dst, uint32(i), uint16(1000+i%50), 18+i%1400)
				bytesSent += uint64(len(frames[i]))
			}
			done := make(chan [][]byte, 1)
			go func() { done <- readTestFrames(rx, n, time.Second) }()
			for off := 0; off < n; {
				k, err := tx.Send(frames[off:min(off+64, n)])
				if err != nil {
					t.Fatalf("Send at frame %d: %v", off+k, err)
				}
				off += k
			}
			if !tx.Flush(time.Second) {
				t.Fatalf("TX ring not drained: %+v", tx.Frames())
			}
			got := <-done
			if len(got) != n {
				t.Fatalf("received %d of %d frames; stats %+v", len(got), n, tx.Stats())
			}
			for i := range got {
				if !bytes.Equal(got[i], frames[i]) {
					t.Fatalf("frame %d differs or out of order", i)
				}
			}
			st := tx.Stats()
			if st.Sent != n || st.Bytes != bytesSent || st.DeviceDrops != 0 || st.Refused != 0 || st.Errors != 0 || st.Wakeups == 0 {
				t.Fatalf("stats %+v", st)
			}
			if fc := tx.Frames(); fc.Free+fc.Tx != 512 || fc.Held != 0 || fc.Fill != 0 {
				t.Fatalf("frames %+v", fc)
			}
			if err := tx.s.u.audit(); err != nil {
				t.Fatal(err)
			}
			// Too large: refused, nothing sent, the next frames go.
			big := make([]byte, tx.MaxFrame()+1)
			k, err := tx.Send([][]byte{frames[0], big, frames[1]})
			if k != 1 || !errors.Is(err, unix.EMSGSIZE) || !strings.Contains(err.Error(), here) {
				t.Fatalf("oversize frame: %d, %v", k, err)
			}
			if st := tx.Stats(); st.Refused != 1 || st.Sent != n+1 {
				t.Fatalf("after refusal: %+v", st)
			}
			t.Logf("stats %+v", tx.Stats())
			if err := tx.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Send(frames[:1]); !errors.Is(err, ErrClosed) {
				t.Fatalf("Send after Close: %v", err)
			}
		})
	}
}

// txPair is a transmit-only socket on vxat0 whose peer vxat1 sits in
// namespace vxa-tx, for the allocation test and the benchmark.
func txPair(tb testing.TB) (*Tx, [][]byte) {
	const ns, here, there = "vxa-tx", "vxat0", "vxat1"
	netns(tb, ns)
	veth(tb, here, there, ns)
	tx, err := OpenTx(TxOptions{Interface: here})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tx.Close() })
	src, dst := mac(tb, "", here), mac(tb, ns, there)
	frames := make([][]byte, 64)
	for i := range frames {
		frames[i] = udpTestFrame(tb, src, dst, uint32(i), 6000, 18) // 60 bytes
	}
	return tx, frames
}

// TestLiveTxNoAllocs: Send (copy into the UMEM, descriptors, sendto,
// completion reaping) allocates nothing.
func TestLiveTxNoAllocs(t *testing.T) {
	requireLive(t)
	tx, frames := txPair(t)
	send := func() {
		if n, err := tx.Send(frames); n != len(frames) || err != nil {
			t.Fatalf("Send: %d, %v", n, err)
		}
	}
	send()
	if a := testing.AllocsPerRun(200, send); a != 0 {
		t.Fatalf("%.1f allocations per Send of %d frames", a, len(frames))
	}
}

// BenchmarkLiveTxSend measures Send of 64 60-byte frames on veth (copy
// mode: the kernel builds an skb per frame inside sendto and the peer
// receives it on the same CPU).
func BenchmarkLiveTxSend(b *testing.B) {
	requireLive(b)
	tx, frames := txPair(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := tx.Send(frames); n != len(frames) || err != nil {
			b.Fatalf("Send: %d, %v", n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(frames))/b.Elapsed().Seconds(), "pkts/s")
	if st := tx.Stats(); st.DeviceDrops != 0 {
		b.Logf("device drops: %+v", st)
	}
}
