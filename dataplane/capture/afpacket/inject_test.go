package afpacket

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// fakeInjectSource is a Source whose capture socket and copy socket are
// datagram socket pairs, with one packet lent out of a fake ring.
type fakeInjectSource struct {
	s        *Source
	capPeer  int // reads what Inject sends on the capture interface
	copyPeer int // reads what Inject sends on the copy interface (-1: no copy mode)
	p        *packet.Packet
}

func newFakeInjectSource(t testing.TB, copyMode bool) *fakeInjectSource {
	t.Helper()
	pair := func() [2]int {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fds[1]) })
		return fds
	}
	c := pair()
	f := &fakeInjectSource{copyPeer: -1, capPeer: c[1]}
	f.s = &Source{ifname: "cap0", fd: c[0], fdOpen: true, efd: -1, r: newFakeRing(4096, 2)}
	if copyMode {
		x := pair()
		f.copyPeer = x[1]
		f.s.tx = &copier{ifname: "copy0", fd: x[0]}
	}
	t.Cleanup(func() { f.s.teardown() })
	writeBlock(t, f.s.r, 0, fakePkt{data: frame(1, 60)})
	b := packet.NewBatch(4)
	if fill(f.s.r, b) != 1 {
		t.Fatal("fake ring gave no packet")
	}
	f.p = b.Pkts[0]
	return f
}

// recv reads one datagram from fd without waiting (nil if none).
func recv(fd int) []byte {
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func TestInjectDirections(t *testing.T) {
	rst := frame(9, 60)
	for _, copyMode := range []bool{true, false} {
		f := newFakeInjectSource(t, copyMode)
		if err := f.s.Inject(f.p, true, rst); err != nil {
			t.Fatalf("copy=%v: Inject toward the source: %v", copyMode, err)
		}
		if got := recv(f.capPeer); !bytes.Equal(got, rst) {
			t.Fatalf("copy=%v: toward the source: capture interface got %x", copyMode, got)
		}
		if err := f.s.Inject(f.p, false, rst[:54]); err != nil {
			t.Fatalf("copy=%v: Inject toward the destination: %v", copyMode, err)
		}
		want := f.capPeer // IDS: the capture interface
		if copyMode {
			want = f.copyPeer
		}
		if got := recv(want); !bytes.Equal(got, rst[:54]) {
			t.Fatalf("copy=%v: toward the destination got %x", copyMode, got)
		}
		if extra := recv(f.capPeer); extra != nil {
			t.Fatalf("copy=%v: extra frame on the capture interface", copyMode)
		}
		st := f.s.InjectStats()
		if st.Injected != 2 || st.InjectedBytes != 114 || st.Errors != 0 || f.s.Stats().TxDrops != 0 {
			t.Fatalf("copy=%v: stats %+v, TxDrops %d", copyMode, st, f.s.Stats().TxDrops)
		}
	}
}

func TestInjectErrorsCounted(t *testing.T) {
	f := newFakeInjectSource(t, true)
	foreign := &packet.Packet{Handle: 0}
	if err := f.s.Inject(foreign, true, frame(1, 60)); !errors.Is(err, ErrForeignPacket) || !strings.Contains(err.Error(), "cap0") {
		t.Errorf("foreign packet: %v", err)
	}
	if err := f.s.Inject(f.p, true, nil); !errors.Is(err, ErrEmptyFrame) {
		t.Errorf("empty frame: %v", err)
	}
	unix.Close(f.copyPeer) // the copy interface's peer is gone: ECONNREFUSED
	err := f.s.Inject(f.p, false, frame(2, 60))
	var e *Error
	if !errors.As(err, &e) || e.Interface != "copy0" || !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("send error: %v", err)
	}
	f.s.teardown()
	if err := f.s.Inject(f.p, true, frame(3, 60)); !errors.Is(err, ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	st := f.s.InjectStats()
	if st.Errors != 4 || st.Injected != 0 {
		t.Errorf("stats %+v, want 4 errors", st)
	}
	if d := f.s.Stats().TxDrops; d != 4 {
		t.Errorf("TxDrops %d, want 4", d)
	}
}

func TestInjectAllocatesNothing(t *testing.T) {
	f := newFakeInjectSource(t, true)
	rst := frame(9, 60)
	allocs := testing.AllocsPerRun(100, func() {
		if err := f.s.Inject(f.p, true, rst); err != nil {
			t.Fatal(err)
		}
		if err := f.s.Inject(f.p, false, rst); err != nil {
			t.Fatal(err)
		}
		recvInto(f.capPeer)
		recvInto(f.copyPeer)
	})
	if allocs != 0 {
		t.Errorf("Inject allocates %.1f times per pair", allocs)
	}
}

var recvBuf [4096]byte

func recvInto(fd int) {
	unix.Read(fd, recvBuf[:])
}

func BenchmarkInject(b *testing.B) {
	f := newFakeInjectSource(b, true)
	rst := frame(9, 60)
	b.ReportAllocs()
	for b.Loop() {
		if err := f.s.Inject(f.p, true, rst); err != nil {
			b.Fatal(err)
		}
		recvInto(f.capPeer)
	}
}
