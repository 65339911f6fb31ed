package afpacket

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

func TestOptionsChecked(t *testing.T) {
	cases := []struct {
		o     Options
		field string
	}{
		{Options{}, "Interface"},
		{Options{Interface: "x", BlockSize: 1000}, "BlockSize"},
		{Options{Interface: "x", NumBlocks: 1}, "NumBlocks"},
		{Options{Interface: "x", SnapLen: -1}, "SnapLen"},
		{Options{Interface: "x", BlockTimeout: 70 * time.Second}, "BlockTimeout"},
		{Options{Interface: "x", FanoutMode: "rr"}, "FanoutMode"},
		{Options{Interface: "x", CopyMode: "bridge", CopyInterface: "y"}, "CopyMode"},
		{Options{Interface: "x", CopyMode: CopyIPS}, "CopyInterface"},
		{Options{Interface: "x", CopyMode: CopyIPS, CopyInterface: "x"}, "CopyInterface"},
		{Options{Interface: "x", CopyInterface: "y"}, "CopyInterface"},
		{Options{Interface: "x", CopyMode: CopyTap, CopyInterface: "y", SnapLen: 128}, "SnapLen"},
	}
	for _, c := range cases {
		_, err := Open(c.o)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrOption) || e.Op != "option "+c.field {
			t.Errorf("%+v: got %v, want an option error for %s", c.o, err, c.field)
		}
	}
	o, err := Options{Interface: "x", CopyMode: CopyIPS, CopyInterface: "y"}.withDefaults()
	if err != nil || !o.IgnoreOutgoing || !o.NoDefrag || o.BlockSize != DefaultBlockSize ||
		o.NumBlocks != DefaultNumBlocks || o.BlockTimeout != DefaultBlockTimeout || o.PollTimeout != DefaultPollTimeout {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	if got := fanoutTypeFlags(Options{FanoutMode: FanoutHash}); got != unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG {
		t.Fatalf("hash flags %#x", got)
	}
	if got := fanoutTypeFlags(o); got != unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING {
		t.Fatalf("copy-mode hash flags %#x", got)
	}
	if got := fanoutTypeFlags(Options{FanoutMode: FanoutCPU}); got != unix.PACKET_FANOUT_CPU {
		t.Fatalf("cpu flags %#x", got)
	}
}

func TestOpenUnknownInterfaceNamed(t *testing.T) {
	_, err := Open(Options{Interface: "vafp-nonexist"})
	if err == nil {
		t.Fatal("Open of a missing interface succeeded")
	}
	if !strings.Contains(err.Error(), "vafp-nonexist") {
		t.Fatalf("error does not name the interface: %v", err)
	}
	if !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Fatalf("error does not wrap the errno: %v", err)
	}
}

func TestLinkTypeOf(t *testing.T) {
	for hw, want := range map[uint16]packet.LinkType{
		unix.ARPHRD_ETHER: packet.LinkEthernet, unix.ARPHRD_LOOPBACK: packet.LinkEthernet,
		unix.ARPHRD_NONE: packet.LinkRaw, unix.ARPHRD_RAWIP: packet.LinkRaw, unix.ARPHRD_TUNNEL6: packet.LinkRaw,
	} {
		if got, ok := linkTypeOf(hw); !ok || got != want {
			t.Errorf("ARPHRD %d: %d %v, want %d", hw, got, ok, want)
		}
	}
	if _, ok := linkTypeOf(unix.ARPHRD_IPGRE); ok {
		t.Error("ARPHRD_IPGRE (header may carry the outer IP) accepted")
	}
}

// TestCopierVerdicts checks the forwarding decisions and counters on a
// datagram socket pair standing in for the copy interface.
func TestCopierVerdicts(t *testing.T) {
	for _, mode := range []string{CopyIPS, CopyTap} {
		t.Run(mode, func(t *testing.T) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[1])
			c := &copier{tap: mode == CopyTap, ifname: "pair", fd: fds[0]}
			for i := range c.msgs {
				c.msgs[i].Hdr.Iov = &c.iovs[i]
				c.msgs[i].Hdr.Iovlen = 1
			}
			defer c.close()

			r := newFakeRing(1<<16, 2)
			verdicts := []packet.Verdict{packet.VerdictForward, packet.VerdictDrop, packet.VerdictBypass, packet.VerdictReject}
			var pk []fakePkt
			for i := 0; i < 300; i++ {
				p := fakePkt{data: frame(byte(i), 60+i%7)}
				if i == 4 {
					p.wire = 1500 // only part of it in the ring
				}
				pk = append(pk, p)
			}
			writeBlock(t, r, 0, pk...)
			b := packet.NewBatch(300)
			if n := fill(r, b); n != 300 {
				t.Fatalf("fill %d", n)
			}
			var want [][]byte
			drops, over := 0, 0
			for i, p := range b.Pkts {
				p.Verdict = verdicts[i%4]
				switch {
				case i == 296:
					p.Handle = 0 // made up by the engine: never sent
				case i == 4:
					over++
				case mode == CopyIPS && (p.Verdict == packet.VerdictDrop || p.Verdict == packet.VerdictReject):
					drops++
				default:
					want = append(want, append([]byte(nil), p.Data...))
				}
			}
			// The receiver's queue is short (net.unix.max_dgram_qlen):
			// drain it while forward sends.
			got := make(chan [][]byte, 1)
			go func() {
				var frames [][]byte
				buf := make([]byte, 2048)
				for range want {
					n, _, err := unix.Recvfrom(fds[1], buf, 0)
					if err != nil {
						break
					}
					frames = append(frames, append([]byte(nil), buf[:n]...))
				}
				got <- frames
			}()
			c.forward(r, b.Pkts)
			frames := <-got
			st := c.stats()
			if st.Forwarded != uint64(len(want)) || st.Dropped != uint64(drops) || st.Oversize != uint64(over) || st.SendErrors != 0 {
				t.Fatalf("stats %+v, want forwarded %d dropped %d oversize %d", st, len(want), drops, over)
			}
			if calls := (len(want) + sendBatch - 1) / sendBatch; st.SendCalls < uint64(calls) {
				t.Fatalf("%d sendmmsg calls for %d frames, want at least %d", st.SendCalls, len(want), calls)
			}
			for i, w := range want {
				if i >= len(frames) || !bytes.Equal(frames[i], w) {
					t.Fatalf("frame %d differs or missing (%d received)", i, len(frames))
				}
			}
			buf := make([]byte, 2048)
			if _, _, err := unix.Recvfrom(fds[1], buf, unix.MSG_DONTWAIT); err != unix.EAGAIN {
				t.Fatalf("extra frame sent (%v)", err)
			}
		})
	}
}

func TestCopierSendErrorCounted(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[1]) // peer gone: every send fails with ENOTCONN
	c := &copier{ifname: "pair", fd: fds[0]}
	for i := range c.msgs {
		c.msgs[i].Hdr.Iov = &c.iovs[i]
		c.msgs[i].Hdr.Iovlen = 1
	}
	defer c.close()
	r := newFakeRing(4096, 2)
	writeBlock(t, r, 0, fakePkt{data: frame(1, 60)}, fakePkt{data: frame(2, 60)}, fakePkt{data: frame(3, 60)})
	b := packet.NewBatch(8)
	fill(r, b)
	c.forward(r, b.Pkts)
	st := c.stats()
	if st.SendErrors != 3 || st.Forwarded != 0 || st.LastSendError == nil ||
		!strings.Contains(st.LastSendError.Error(), "pair") || !errors.Is(st.LastSendError, unix.ENOTCONN) {
		t.Fatalf("stats %+v (%v)", st, st.LastSendError)
	}
}

func TestCopierForwardAllocs(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	c := &copier{ifname: "pair", fd: fds[0]}
	for i := range c.msgs {
		c.msgs[i].Hdr.Iov = &c.iovs[i]
		c.msgs[i].Hdr.Iovlen = 1
	}
	defer c.close()
	r := newFakeRing(4096, 2)
	writeBlock(t, r, 0, fakePkt{data: frame(1, 60)}, fakePkt{data: frame(2, 60)})
	b := packet.NewBatch(8)
	fill(r, b)
	buf := make([]byte, 256)
	allocs := testing.AllocsPerRun(100, func() {
		c.forward(r, b.Pkts)
		unix.Read(fds[1], buf)
		unix.Read(fds[1], buf)
	})
	if allocs != 0 {
		t.Fatalf("forward allocates %.1f times per batch", allocs)
	}
}
