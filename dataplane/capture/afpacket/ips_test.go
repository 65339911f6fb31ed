package afpacket

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// ipsBridge is client ns <-> (v0 | vigil ns | v1) <-> server ns, with a
// copy-mode source on each vigil interface forwarding to the other.
type ipsBridge struct {
	nsC, nsV, nsS string
	c, v0, v1, s  string
	a, b          *Source // a: v0 -> v1 (client to server), b: v1 -> v0
}

func newIPSBridge(t testing.TB, tag string, mode string, o Options) *ipsBridge {
	t.Helper()
	br := &ipsBridge{
		nsC: uniq(tag + "c"), nsV: uniq(tag + "v"), nsS: uniq(tag + "s"),
		c: uniq(tag + "c"), v0: uniq(tag + "0"), v1: uniq(tag + "1"), s: uniq(tag + "s"),
	}
	for _, ns := range []string{br.nsC, br.nsV, br.nsS} {
		newNS(t, ns)
	}
	veth(t, br.nsC, br.c, br.nsV, br.v0)
	veth(t, br.nsV, br.v1, br.nsS, br.s)
	addr(t, br.nsC, br.c, "10.202.0.1/24")
	addr(t, br.nsS, br.s, "10.202.0.2/24")
	o.CopyMode, o.Interface, o.CopyInterface = mode, br.v0, br.v1
	br.a = openIn(t, br.nsV, o)
	o.Interface, o.CopyInterface = br.v1, br.v0
	br.b = openIn(t, br.nsV, o)
	return br
}

// run starts a worker per source that applies verdict to every packet,
// until the returned stop function is called.
func (br *ipsBridge) run(t testing.TB, batch int, verdict func(src int, p *packet.Packet)) (stop func()) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i, s := range []*Source{br.a, br.b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bt := packet.NewBatch(batch)
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := s.Next(bt); err != nil {
					t.Errorf("%s: Next: %v", s.Interface(), err)
					return
				}
				for _, p := range bt.Pkts {
					verdict(i, p)
				}
				s.Done(bt)
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// TestLiveIPSCopy bridges a client and a server through two copy-mode
// sources: ping and a 1 MiB TCP transfer pass intact, UDP to port 9999 is
// dropped by verdict and counted, UDP to 9998 passes, and frames one
// source forwards are not captured again by the other.
func TestLiveIPSCopy(t *testing.T) {
	requireLive(t)
	br := newIPSBridge(t, "i", CopyIPS, Options{BlockSize: 64 << 10, NumBlocks: 32, BlockTimeout: 2 * time.Millisecond, PollTimeout: 20 * time.Millisecond})

	var udpA [2]atomic.Int64 // UDP to 9998, 9999 seen by source a
	var udpB atomic.Int64    // UDP to 9998/9999 seen by source b (must stay 0)
	stop := br.run(t, 64, func(src int, p *packet.Packet) {
		u, ok := parseIPv4(p.Data)
		if !ok || u.proto != unix.IPPROTO_UDP || (u.dstPort != 9998 && u.dstPort != 9999) {
			return
		}
		if src == 1 {
			udpB.Add(1)
			return
		}
		udpA[u.dstPort-9998].Add(1)
		if u.dstPort == 9999 {
			p.Verdict = packet.VerdictDrop
		}
	})
	defer stop()

	// Ping 5 times.
	var icmpConn net.PacketConn
	if err := inNS(br.nsC, func() (err error) { icmpConn, err = net.ListenPacket("ip4:icmp", "10.202.0.1"); return err }); err != nil {
		t.Fatal(err)
	}
	defer icmpConn.Close()
	dst := &net.IPAddr{IP: net.IPv4(10, 202, 0, 2)}
	buf := make([]byte, 1500)
	tping := time.Now()
	for seq := 1; seq <= 5; seq++ {
		req := echoRequest(0x4242, uint16(seq), []byte("vigil afpacket ping"))
		if _, err := icmpConn.WriteTo(req, dst); err != nil {
			t.Fatal(err)
		}
		icmpConn.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			n, _, err := icmpConn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("ping %d: no reply through the bridge: %v", seq, err)
			}
			r := buf[:n]
			if len(r) >= 8 && r[0] == 0 && binary.BigEndian.Uint16(r[4:]) == 0x4242 && binary.BigEndian.Uint16(r[6:]) == uint16(seq) {
				if !bytes.Equal(r[8:], req[8:]) {
					t.Fatalf("ping %d: reply payload differs", seq)
				}
				break
			}
		}
	}

	t.Logf("ping through the bridge: 5 echoes, %v average round trip", time.Since(tping)/5)

	// 1 MiB over TCP; the server answers with its SHA-256.
	var ln net.Listener
	if err := inNS(br.nsS, func() (err error) { ln, err = net.Listen("tcp4", "10.202.0.2:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		h := sha256.New()
		io.Copy(h, c)
		c.Write(h.Sum(nil))
	}()
	data := make([]byte, 1<<20)
	rand.Read(data)
	var conn net.Conn
	if err := inNS(br.nsC, func() (err error) { conn, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second); return err }); err != nil {
		t.Fatalf("TCP connect through the bridge: %v", err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	t0 := time.Now()
	if _, err := conn.Write(data); err != nil {
		t.Fatalf("TCP send: %v", err)
	}
	conn.(*net.TCPConn).CloseWrite()
	sum, err := io.ReadAll(conn)
	conn.Close()
	want := sha256.Sum256(data)
	if err != nil || !bytes.Equal(sum, want[:]) {
		t.Fatalf("TCP transfer corrupted or cut: %v (sum %x)", err, sum)
	}
	t.Logf("1 MiB TCP transfer through the bridge in %v", time.Since(t0))

	// UDP: 20 datagrams to 9998 (pass) and 20 to 9999 (dropped).
	var pc [2]net.PacketConn
	for i := range pc {
		port := []string{"9998", "9999"}[i]
		if err := inNS(br.nsS, func() (err error) { pc[i], err = net.ListenPacket("udp4", "10.202.0.2:"+port); return err }); err != nil {
			t.Fatal(err)
		}
		defer pc[i].Close()
	}
	var cl net.PacketConn
	if err := inNS(br.nsC, func() (err error) { cl, err = net.ListenPacket("udp4", "10.202.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < 20; i++ {
		for port := 9998; port <= 9999; port++ {
			if _, err := cl.WriteTo([]byte{byte(i)}, &net.UDPAddr{IP: net.IPv4(10, 202, 0, 2), Port: port}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	var got [2]int
	for i := range pc {
		pc[i].SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			if _, _, err := pc[i].ReadFrom(buf); err != nil {
				break
			}
			got[i]++
		}
	}
	if got[0] != 20 || got[1] != 0 {
		t.Fatalf("server got %d datagrams on 9998 (want 20) and %d on 9999 (want 0: dropped)", got[0], got[1])
	}
	stop()
	ca, cb := br.a.CopyStats(), br.b.CopyStats()
	t.Logf("a (%s->%s): %+v; b: %+v", br.v0, br.v1, ca, cb)
	if ca.Dropped != 20 || cb.Dropped != 0 {
		t.Fatalf("dropped by verdict: a %d (want 20), b %d (want 0)", ca.Dropped, cb.Dropped)
	}
	if udpA[0].Load() != 20 || udpA[1].Load() != 20 {
		t.Fatalf("source a saw %d/%d UDP datagrams to 9998/9999, want 20/20", udpA[0].Load(), udpA[1].Load())
	}
	if udpB.Load() != 0 {
		t.Fatalf("source b captured %d datagrams that a forwarded out of its interface", udpB.Load())
	}
	if ca.SendErrors+cb.SendErrors+ca.Oversize+cb.Oversize != 0 {
		t.Fatalf("send errors / oversize: %+v %+v", ca, cb)
	}
	sa, sb := br.a.Stats(), br.b.Stats()
	if sa.Packets != ca.Forwarded+ca.Dropped || sb.Packets != cb.Forwarded+cb.Dropped {
		t.Fatalf("captured %d/%d packets, forwarded+dropped %d/%d", sa.Packets, sb.Packets, ca.Forwarded+ca.Dropped, cb.Forwarded+cb.Dropped)
	}
	if sa.KernelDrops+sb.KernelDrops != 0 {
		t.Fatalf("kernel drops %d/%d", sa.KernelDrops, sb.KernelDrops)
	}
}

// echoRequest builds an ICMP echo request.
func echoRequest(id, seq uint16, payload []byte) []byte {
	m := make([]byte, 8+len(payload))
	m[0] = 8
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[8:], payload)
	var sum uint32
	for i := 0; i+1 < len(m); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(m[i:]))
	}
	if len(m)%2 == 1 {
		sum += uint32(m[len(m)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(m[2:], ^uint16(sum))
	return m
}

// TestLiveTapCopy checks tap mode: every frame is forwarded whatever its
// verdict, and 802.1Q-tagged frames leave the bridge with their tag, byte
// for byte as they entered (captured behind the bridge by a plain source).
func TestLiveTapCopy(t *testing.T) {
	requireLive(t)
	br := newIPSBridge(t, "t", CopyTap, Options{BlockSize: 64 << 10, NumBlocks: 8, BlockTimeout: 2 * time.Millisecond, PollTimeout: 20 * time.Millisecond})
	behind := openIn(t, br.nsS, Options{Interface: br.s, BlockSize: 64 << 10, NumBlocks: 8, PollTimeout: 20 * time.Millisecond})
	stop := br.run(t, 16, func(_ int, p *packet.Packet) { p.Verdict = packet.VerdictDrop })
	defer stop()

	fd := rawSocket(t, br.nsC, br.c)
	const n = 200
	frames := map[uint32][]byte{}
	for i := 0; i < n; i++ {
		vlan := uint16(0)
		if i%2 == 0 {
			vlan = uint16(10 + i%50)
		}
		f := testFrame(uint32(i), 60+i*7, vlan)
		frames[uint32(i)] = f
		if _, err := unix.Write(fd, f); err != nil {
			t.Fatal(err)
		}
	}
	got := map[uint32]bool{}
	bt := packet.NewBatch(32)
	err := drain(behind, bt, time.Now().Add(10*time.Second), func(p *packet.Packet) {
		seq, ok := frameSeq(p.Data)
		if !ok {
			return
		}
		if !bytes.Equal(p.Data, frames[seq]) {
			t.Errorf("frame %d changed on its way through the bridge:\n got %x\nwant %x", seq, head(p.Data), head(frames[seq]))
		}
		got[seq] = true
	}, func() bool { return len(got) == n })
	if err != nil || len(got) != n {
		t.Fatalf("%d of %d frames behind the bridge (%v)", len(got), n, err)
	}
	stop()
	if c := br.a.CopyStats(); c.Forwarded < n || c.Dropped != 0 {
		t.Fatalf("tap stats %+v", c)
	}
}
