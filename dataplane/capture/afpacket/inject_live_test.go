package afpacket

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/reject"
	"golang.org/x/sys/unix"
)

// rejectPayload marks the TCP segment the tests reject.
var rejectPayload = []byte("REJECTME")

// tcpPair connects a client in nsC to a server in nsS at addr and checks
// that a first exchange passes. It returns both ends.
func tcpPair(t *testing.T, nsC, nsS, addr string) (client, server net.Conn) {
	t.Helper()
	var ln net.Listener
	if err := inNS(nsS, func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acc <- nil
			return
		}
		acc <- c
	}()
	if err := inNS(nsC, func() (err error) { client, err = net.DialTimeout("tcp4", addr, 5*time.Second); return err }); err != nil {
		t.Fatalf("TCP connect: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	select {
	case server = <-acc:
	case <-time.After(5 * time.Second):
	}
	if server == nil {
		t.Fatal("server accepted nothing")
	}
	t.Cleanup(func() { server.Close() })
	client.SetDeadline(time.Now().Add(10 * time.Second))
	server.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("server read %q, %v", buf, err)
	}
	return client, server
}

// rejecter is the engine of the live tests: it decodes every packet and
// rejects (both ways) the TCP segment carrying rejectPayload.
type rejecter struct {
	t        *testing.T
	dec      [2]*decode.Decoder
	buf      [2][reject.MaxFrameLen]byte
	rejected atomic.Int32
	mu       sync.Mutex
	errs     []error
	frames   [][]byte // the frames injected, toward the source first
}

func newRejecter(t *testing.T) *rejecter {
	return &rejecter{t: t, dec: [2]*decode.Decoder{decode.NewDecoder(decode.Options{}), decode.NewDecoder(decode.Options{})}}
}

// verdict handles packet p of source s (worker i).
func (r *rejecter) verdict(i int, s *Source, p *packet.Packet) {
	r.dec[i].Decode(p)
	if !p.IsTCP() || !bytes.Equal(p.Payload(), rejectPayload) {
		return
	}
	p.Verdict, p.Reject = packet.VerdictReject, packet.RejectBoth
	r.rejected.Add(1)
	for _, toSource := range []bool{true, false} {
		n, err := reject.Build(r.buf[i][:], p, toSource)
		if err == nil {
			err = s.Inject(p, toSource, r.buf[i][:n])
		}
		r.mu.Lock()
		if err != nil {
			r.errs = append(r.errs, err)
		} else {
			r.frames = append(r.frames, append([]byte(nil), r.buf[i][:n]...))
		}
		r.mu.Unlock()
	}
}

func (r *rejecter) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("reject: %v", r.errs)
	}
}

// expectReset waits for c to fail with ECONNRESET.
func expectReset(t *testing.T, who string, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 100))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("%s: read returned %v, want ECONNRESET", who, err)
	}
}

// TestLiveInjectResetBridge: through a copy-mode bridge, the client's
// segment "REJECTME" gets a reject verdict; the resets reject.Build makes
// for it, injected toward each end, reset both sockets.
func TestLiveInjectResetBridge(t *testing.T) {
	requireLive(t)
	br := newIPSBridge(t, "r", CopyIPS, Options{BlockSize: 64 << 10, NumBlocks: 16, BlockTimeout: 2 * time.Millisecond, PollTimeout: 20 * time.Millisecond})
	r := newRejecter(t)
	srcs := [2]*Source{br.a, br.b}
	stop := br.run(t, 64, func(i int, p *packet.Packet) { r.verdict(i, srcs[i], p) })
	defer stop()

	client, server := tcpPair(t, br.nsC, br.nsS, "10.202.0.2:8181")
	if _, err := client.Write(rejectPayload); err != nil {
		t.Fatal(err)
	}
	expectReset(t, "client", client)
	expectReset(t, "server", server)
	stop()
	r.check(t)
	if n := r.rejected.Load(); n < 1 {
		t.Fatalf("no segment rejected")
	}
	st := br.a.InjectStats()
	if st.Injected != 2*uint64(r.rejected.Load()) || st.Errors != 0 || br.a.Stats().TxDrops != 0 {
		t.Fatalf("inject stats of %s: %+v, TxDrops %d (rejected %d)", br.v0, st, br.a.Stats().TxDrops, r.rejected.Load())
	}
	if b := br.b.InjectStats(); b.Injected != 0 {
		t.Fatalf("%s injected %d frames", br.v1, b.Injected)
	}
	// The rejected segment itself was not forwarded.
	if ca := br.a.CopyStats(); ca.Dropped != uint64(r.rejected.Load()) {
		t.Fatalf("copy stats %+v, want %d dropped", ca, r.rejected.Load())
	}
	t.Logf("rejected %d segment(s); %s inject stats %+v", r.rejected.Load(), br.v0, st)
}

// TestLiveInjectIDS: a capture-only source on a Linux bridge device (br0,
// promiscuous, so it sees the forwarded frames) injects the resets out of
// br0, and the bridge delivers each by MAC address: the client's socket is
// reset, and the reset toward the server reaches the server's interface
// (read there with a packet socket). The server's socket stays open: its
// reset carries the sequence number of the segment that already reached
// it, which RFC 5961 makes it ignore.
func TestLiveInjectIDS(t *testing.T) {
	requireLive(t)
	nsC, nsV, nsS := uniq("dc"), uniq("dv"), uniq("ds")
	for _, ns := range []string{nsC, nsV, nsS} {
		newNS(t, ns)
	}
	c, v0, v1, s, bridge := uniq("dc"), uniq("d0"), uniq("d1"), uniq("ds"), uniq("db")
	veth(t, nsC, c, nsV, v0)
	veth(t, nsV, v1, nsS, s)
	sh(t, "ip", "-n", nsV, "link", "add", bridge, "type", "bridge")
	sh(t, "ip", "-n", nsV, "link", "set", "dev", v0, "master", bridge)
	sh(t, "ip", "-n", nsV, "link", "set", "dev", v1, "master", bridge)
	sh(t, "ip", "-n", nsV, "link", "set", "dev", bridge, "up")
	waitActive(t, nsV, bridge)
	addr(t, nsC, c, "10.203.0.1/24")
	addr(t, nsS, s, "10.203.0.2/24")
	src := openIn(t, nsV, Options{Interface: bridge, Promisc: true, BlockSize: 64 << 10, NumBlocks: 8, BlockTimeout: 2 * time.Millisecond, PollTimeout: 20 * time.Millisecond})

	// A packet socket on the server's interface, to see the reset arrive.
	sniff := -1
	if err := inNS(nsS, func() (err error) {
		sniff, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		ifr, _ := unix.NewIfreq(s)
		if err := unix.IoctlIfreq(sniff, unix.SIOCGIFINDEX, ifr); err != nil {
			return err
		}
		return unix.Bind(sniff, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: int(ifr.Uint32())})
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sniff)

	r := newRejecter(t)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b := packet.NewBatch(64)
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := src.Next(b); err != nil {
				t.Errorf("Next: %v", err)
				return
			}
			for _, p := range b.Pkts {
				r.verdict(0, src, p)
			}
			src.Done(b)
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(done)
			wg.Wait()
		}
	}
	defer stop()

	client, _ := tcpPair(t, nsC, nsS, "10.203.0.2:8182")
	if _, err := client.Write(rejectPayload); err != nil {
		t.Fatal(err)
	}
	expectReset(t, "client", client)
	stop()
	r.check(t)
	if r.rejected.Load() < 1 || len(r.frames) < 2 {
		t.Fatalf("rejected %d, frames %d", r.rejected.Load(), len(r.frames))
	}
	// The reset toward the server reached its interface.
	toServer := r.frames[1]
	unix.SetsockoptTimeval(sniff, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	buf := make([]byte, 2048)
	found := false
	for !found {
		n, _, err := unix.Recvfrom(sniff, buf, 0)
		if err != nil {
			break
		}
		found = bytes.Equal(buf[:n], toServer)
	}
	if !found {
		t.Errorf("the reset toward the server did not arrive on %s", s)
	}
	if st := src.InjectStats(); st.Injected != 2*uint64(r.rejected.Load()) || st.Errors != 0 {
		t.Errorf("inject stats %+v", st)
	}
}
