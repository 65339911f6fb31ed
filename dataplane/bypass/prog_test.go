package bypass

import (
	"errors"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// TestKeyLayout checks the Go encoding against the C structs bpf2go
// generated from bpf/bypass.c.
func TestKeyLayout(t *testing.T) {
	if s := unsafe.Sizeof(bypassFlowKeyV4{}); s != keySizeV4 {
		t.Errorf("flow_key_v4 is %d bytes, Go encodes %d", s, keySizeV4)
	}
	if s := unsafe.Sizeof(bypassFlowKeyV6{}); s != keySizeV6 {
		t.Errorf("flow_key_v6 is %d bytes, Go encodes %d", s, keySizeV6)
	}
	if s := unsafe.Sizeof(bypassFlowCounters{}); s != countersSize {
		t.Errorf("flow_counters is %d bytes, Go decodes %d", s, countersSize)
	}
	var k4 bypassFlowKeyV4
	var k6 bypassFlowKeyV6
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"v4 sport", unsafe.Offsetof(k4.Sport), 8},
		{"v4 vlan_outer", unsafe.Offsetof(k4.VlanOuter), 12},
		{"v4 vlan_inner", unsafe.Offsetof(k4.VlanInner), 14},
		{"v4 proto", unsafe.Offsetof(k4.Proto), 16},
		{"v6 sport", unsafe.Offsetof(k6.Sport), 32},
		{"v6 vlan_outer", unsafe.Offsetof(k6.VlanOuter), 36},
		{"v6 proto", unsafe.Offsetof(k6.Proto), 40},
	} {
		if c.got != c.want {
			t.Errorf("%s at offset %d, Go uses %d", c.name, c.got, c.want)
		}
	}
	for _, k := range []FlowKey{tcpKey4(), udpKey6(), {Src: mustAddr("1.2.3.4"), Dst: mustAddr("5.6.7.8"),
		SrcPort: 1, DstPort: 65535, Proto: packet.ProtoUDP, VLAN: [2]uint16{4095, 7}}} {
		var b keyBuf
		n := b.encode(k)
		if got := decodeKey(b[:n]); got != k {
			t.Errorf("decode(encode(%v)) = %v", k, got)
		}
	}
}

func TestKeyValidity(t *testing.T) {
	bad := []FlowKey{
		{},
		{Src: mustAddr("1.2.3.4"), Dst: mustAddr("::1"), Proto: packet.ProtoTCP},
		{Src: mustAddr("1.2.3.4"), Dst: mustAddr("1.2.3.5"), Proto: packet.ProtoICMP},
		{Src: mustAddr("1.2.3.4"), Dst: mustAddr("1.2.3.5"), Proto: packet.ProtoTCP, VLAN: [2]uint16{4096, 0}},
	}
	for _, k := range bad {
		if k.valid() {
			t.Errorf("%v: valid, want invalid", k)
		}
	}
	// KeyFromPacket
	p := &packet.Packet{LinkType: packet.LinkEthernet, Flags: packet.FlagIPv4 | packet.FlagTCP,
		SrcIP: mustAddr("10.0.0.1"), DstIP: mustAddr("10.0.0.2"), SrcPort: 1, DstPort: 2, IPProto: packet.ProtoTCP,
		VLANCount: 2, VLAN: [packet.MaxVLAN]uint16{10, 20}}
	k, ok := KeyFromPacket(p)
	want := FlowKey{Src: p.SrcIP, Dst: p.DstIP, SrcPort: 1, DstPort: 2, Proto: packet.ProtoTCP, VLAN: [2]uint16{10, 20}}
	if !ok || k != want {
		t.Errorf("KeyFromPacket = %v, %v; want %v", k, ok, want)
	}
	for name, mod := range map[string]func(*packet.Packet){
		"3 vlans":  func(p *packet.Packet) { p.VLANCount = 3 },
		"fragment": func(p *packet.Packet) { p.Flags |= packet.FlagFragment },
		"icmp":     func(p *packet.Packet) { p.Flags = packet.FlagIPv4 | packet.FlagICMPv4; p.IPProto = packet.ProtoICMP },
		"v6 ext": func(p *packet.Packet) {
			p.Flags = packet.FlagIPv6 | packet.FlagTCP
			p.SrcIP, p.DstIP = mustAddr("::1"), mustAddr("::2")
			p.IPv6Exts = packet.ExtHopByHop
		},
		"tunnel": func(p *packet.Packet) { p.Origin = packet.OriginTunnel },
	} {
		q := *p
		mod(&q)
		if k, ok := KeyFromPacket(&q); ok {
			t.Errorf("%s: KeyFromPacket = %v, want no key", name, k)
		}
	}
}

func TestProgramIDS(t *testing.T) {
	p := newTestProgram(t, Options{Mode: ModeIDS, MaxFlows: 64})
	k4 := tcpKey4()
	k6 := udpKey6()
	kv := FlowKey{Src: mustAddr("192.0.2.1"), Dst: mustAddr("192.0.2.2"), SrcPort: 1111, DstPort: 2222,
		Proto: packet.ProtoUDP, VLAN: [2]uint16{100, 0}}
	kq := FlowKey{Src: mustAddr("2001:db8::10"), Dst: mustAddr("2001:db8::20"), SrcPort: 3333, DstPort: 443,
		Proto: packet.ProtoTCP, VLAN: [2]uint16{200, 300}}
	flows := []FlowKey{k4, k6, kv, kq}

	// Nothing bypassed yet: everything passes.
	for _, k := range flows {
		if a := run(t, p, buildFrame(t, frameSpec{key: k, payload: 100})); a != xdpPass {
			t.Errorf("%v before Add: %s, want XDP_PASS", k, xdpActionName(a))
		}
	}
	if s := mustStats(t, p); s.Passed != uint64(len(flows)) || s.BypassPackets != 0 {
		t.Errorf("stats before Add: %+v", s)
	}
	for _, k := range flows {
		if err := p.Add(k); err != nil {
			t.Fatalf("Add(%v): %v", k, err)
		}
	}
	var wantBytes uint64
	for _, k := range flows {
		for _, dir := range []FlowKey{k, k.Reverse()} {
			f := buildFrame(t, frameSpec{key: dir, payload: 100})
			if a := run(t, p, f); a != xdpDrop {
				t.Errorf("%v bypassed: %s, want XDP_DROP", dir, xdpActionName(a))
			}
			wantBytes += uint64(len(f))
		}
		pk, by, ls, err := p.Counters(k)
		if err != nil {
			t.Fatalf("Counters(%v): %v", k, err)
		}
		f := buildFrame(t, frameSpec{key: k, payload: 100})
		if pk != 2 || by != 2*uint64(len(f)) {
			t.Errorf("Counters(%v) = %d packets %d bytes, want 2, %d", k, pk, by, 2*len(f))
		}
		// The clock anchor is exact to a few µs (clock.go).
		if d := time.Since(ls); d < -time.Millisecond || d > 5*time.Second {
			t.Errorf("Counters(%v) last seen %v, %v ago", k, ls, d)
		}
		fwd, rev, err := p.CountersByDirection(k.Reverse())
		if err != nil || fwd.Packets != 1 || rev.Packets != 1 {
			t.Errorf("CountersByDirection(%v) = %+v %+v %v", k.Reverse(), fwd, rev, err)
		}
	}
	s := mustStats(t, p)
	if s.BypassPackets != 2*uint64(len(flows)) || s.BypassBytes != wantBytes {
		t.Errorf("stats after bypass: %d packets %d bytes, want %d %d", s.BypassPackets, s.BypassBytes, 2*len(flows), wantBytes)
	}

	// Frames that must reach user space although their flow is bypassed.
	pass := map[string]frameSpec{
		"FIN":           {key: k4, tcpFlags: packet.TCPFin},
		"RST":           {key: k4.Reverse(), tcpFlags: packet.TCPRst},
		"FIN v6 qinq":   {key: kq, tcpFlags: packet.TCPFin},
		"fragment MF":   {key: kv, fragMF: true, payload: 64},
		"fragment off":  {key: kv, fragOff: 8, payload: 64},
		"v6 hop-by-hop": {key: k6, hopByHop: true},
		"wrong vlan":    {key: kv, vlans: []uint16{101}},
		"no vlan":       {key: kv, vlans: []uint16{}},
		"third vlan":    {key: kq, vlans: []uint16{200, 300, 400}},
		"inner only":    {key: kq, vlans: []uint16{200}},
		"other port":    {key: FlowKey{Src: k4.Src, Dst: k4.Dst, SrcPort: 40001, DstPort: 80, Proto: packet.ProtoTCP}},
		"udp not tcp":   {key: FlowKey{Src: k4.Src, Dst: k4.Dst, SrcPort: 40000, DstPort: 80, Proto: packet.ProtoUDP}},
	}
	for name, f := range pass {
		if a := run(t, p, buildFrame(t, f)); a != xdpPass {
			t.Errorf("%s: %s, want XDP_PASS", name, xdpActionName(a))
		}
	}
	// 802.1AD outer tag and IPv4 options are parsed.
	for name, f := range map[string]frameSpec{
		"802.1ad outer": {key: kq, outerAD: true},
		"ipv4 options":  {key: k4, ipOpts: true, payload: 10},
	} {
		if a := run(t, p, buildFrame(t, f)); a != xdpDrop {
			t.Errorf("%s: %s, want XDP_DROP", name, xdpActionName(a))
		}
	}
	s2 := mustStats(t, p)
	if s2.FlowEnds != 3 || s2.Fragments != 2 || s2.IPv6ExtHeaders != 1 {
		t.Errorf("stats: flow ends %d fragments %d ipv6 ext %d, want 3 2 1", s2.FlowEnds, s2.Fragments, s2.IPv6ExtHeaders)
	}
	if s2.Passed != s.Passed+uint64(len(pass)) {
		t.Errorf("stats: passed %d, want %d", s2.Passed, s.Passed+uint64(len(pass)))
	}

	// Truncated headers: parse errors, passed.
	full := buildFrame(t, frameSpec{key: k4})
	for _, n := range []int{14, 14 + 19, 14 + 20 + 3} {
		if a := run(t, p, full[:n]); a != xdpPass {
			t.Errorf("truncated to %d: %s", n, xdpActionName(a))
		}
	}
	// 14 bytes: EtherType IPv4 without a header; 33: short IPv4 header;
	// 37: IPv4 complete, only 3 of the 4 port bytes.
	if s3 := mustStats(t, p); s3.ParseErrors != 3 {
		t.Errorf("parse errors %d, want 3", s3.ParseErrors)
	}

	// Fail-open: everything passes, counted.
	if err := p.SetFailOpen(true); err != nil {
		t.Fatal(err)
	}
	if on, err := p.FailOpen(); err != nil || !on {
		t.Fatalf("FailOpen() = %v, %v", on, err)
	}
	before := mustStats(t, p)
	for _, k := range flows {
		if a := run(t, p, buildFrame(t, frameSpec{key: k})); a != xdpPass {
			t.Errorf("fail-open %v: %s, want XDP_PASS", k, xdpActionName(a))
		}
	}
	after := mustStats(t, p)
	if after.FailOpen-before.FailOpen != uint64(len(flows)) || after.BypassPackets != before.BypassPackets {
		t.Errorf("fail-open stats: %+v -> %+v", before, after)
	}
	if err := p.SetFailOpen(false); err != nil {
		t.Fatal(err)
	}
	if a := run(t, p, buildFrame(t, frameSpec{key: k4})); a != xdpDrop {
		t.Errorf("after fail-open off: %s, want XDP_DROP", xdpActionName(a))
	}

	// Delete: back to user space.
	if err := p.Delete(k4.Reverse()); err != nil {
		t.Fatal(err)
	}
	if a := run(t, p, buildFrame(t, frameSpec{key: k4})); a != xdpPass {
		t.Errorf("after Delete: %s, want XDP_PASS", xdpActionName(a))
	}
	if _, _, _, err := p.Counters(k4); !errors.Is(err, ErrNoFlow) {
		t.Errorf("Counters after Delete: %v, want ErrNoFlow", err)
	}
	if err := p.Delete(k4); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func TestProgramBridge(t *testing.T) {
	p := newTestProgram(t, Options{Mode: ModeBridge, MaxFlows: 16})
	k := tcpKey4()
	if err := p.Add(k); err != nil {
		t.Fatal(err)
	}
	// No peer for the ingress interface yet: to user space, counted.
	if a := run(t, p, buildFrame(t, frameSpec{key: k})); a != xdpPass {
		t.Errorf("no peer: %s, want XDP_PASS", xdpActionName(a))
	}
	if s := mustStats(t, p); s.NoPeer != 1 || s.BypassPackets != 0 {
		t.Errorf("no peer stats: %+v", s)
	}
	if pk, _, _, _ := p.Counters(k); pk != 0 {
		t.Errorf("no peer: flow counted %d packets", pk)
	}
	// BPF_PROG_TEST_RUN runs on the loopback device (ifindex 1).
	if err := p.setPeer(1, 1); err != nil {
		t.Fatal(err)
	}
	if a := run(t, p, buildFrame(t, frameSpec{key: k.Reverse()})); a != xdpRedirect {
		t.Errorf("bypassed: %s, want XDP_REDIRECT", xdpActionName(a))
	}
	if a := run(t, p, buildFrame(t, frameSpec{key: k, tcpFlags: packet.TCPFin})); a != xdpPass {
		t.Errorf("FIN: %s, want XDP_PASS", xdpActionName(a))
	}
	other := FlowKey{Src: k.Src, Dst: k.Dst, SrcPort: 1, DstPort: 2, Proto: packet.ProtoTCP}
	if a := run(t, p, buildFrame(t, frameSpec{key: other})); a != xdpPass {
		t.Errorf("not bypassed: %s, want XDP_PASS", xdpActionName(a))
	}
	if pk, _, _, _ := p.Counters(k); pk != 1 {
		t.Errorf("bridge counters: %d packets, want 1", pk)
	}
	// Fail-open in bridge mode redirects everything, even non-IP.
	if err := p.SetFailOpen(true); err != nil {
		t.Fatal(err)
	}
	arp := make([]byte, 60)
	copy(arp, macB)
	copy(arp[6:], macA)
	arp[12], arp[13] = 0x08, 0x06
	for name, f := range map[string][]byte{"arp": arp, "other": buildFrame(t, frameSpec{key: other}),
		"fin": buildFrame(t, frameSpec{key: k, tcpFlags: packet.TCPFin})} {
		if a := run(t, p, f); a != xdpRedirect {
			t.Errorf("fail-open %s: %s, want XDP_REDIRECT", name, xdpActionName(a))
		}
	}
	if s := mustStats(t, p); s.FailOpen != 3 {
		t.Errorf("fail-open count %d, want 3", s.FailOpen)
	}
}

func TestProgramRedirectToXSKMiss(t *testing.T) {
	p := newTestProgram(t, Options{Mode: ModeIDS, RedirectToXSK: true, XSKQueues: 4})
	if p.XSKMap() == nil || p.XSKMap().MaxEntries() != 4 {
		t.Fatalf("XSKMap: %v", p.XSKMap())
	}
	if a := run(t, p, buildFrame(t, frameSpec{key: tcpKey4()})); a != xdpPass {
		t.Errorf("empty xsks slot: %s, want XDP_PASS", xdpActionName(a))
	}
	if s := mustStats(t, p); s.XSKMiss != 1 || s.Passed != 1 || s.ToXSK != 0 {
		t.Errorf("stats: %+v", s)
	}
}

func TestMapFull(t *testing.T) {
	p := newTestProgram(t, Options{Mode: ModeIDS, MaxFlows: 1})
	k1 := tcpKey4()
	k2 := k1
	k2.SrcPort++
	if err := p.Add(k1); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(k1); err != nil {
		t.Errorf("Add of a present flow: %v", err)
	}
	if err := p.Add(k2); !errors.Is(err, ErrMapFull) {
		t.Fatalf("Add into full map: %v, want ErrMapFull", err)
	}
	if s := mustStats(t, p); s.MapFull != 1 {
		t.Errorf("MapFull = %d, want 1", s.MapFull)
	}
	n := 0
	if err := p.Iterate(func(k FlowKey, c Counters) bool {
		if k != k1 && k != k1.Reverse() {
			t.Errorf("unexpected entry %v", k)
		}
		n++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
	// The IPv6 map is separate.
	if err := p.Add(udpKey6()); err != nil {
		t.Errorf("Add v6 while v4 full: %v", err)
	}
	if a := run(t, p, buildFrame(t, frameSpec{key: k2})); a != xdpPass {
		t.Errorf("flow refused by a full map: %s, want XDP_PASS", xdpActionName(a))
	}
}

func TestIterateExpire(t *testing.T) {
	p := newTestProgram(t, Options{Mode: ModeIDS, MaxFlows: 4096})
	const n = 1000 // more than one batch
	keys := make([]FlowKey, 0, n)
	for i := range n {
		k := tcpKey4()
		k.SrcPort = uint16(10000 + i)
		if i%2 == 1 {
			k = udpKey6()
			k.SrcPort = uint16(10000 + i)
		}
		keys = append(keys, k)
		if err := p.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	// Traffic on the first flow only, reverse direction.
	active := keys[0]
	run(t, p, buildFrame(t, frameSpec{key: active.Reverse(), payload: 10}))

	seen := map[FlowKey]Counters{}
	if err := p.Iterate(func(k FlowKey, c Counters) bool { seen[k] = c; return true }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2*n {
		t.Fatalf("Iterate saw %d entries, want %d", len(seen), 2*n)
	}
	if c := seen[active.Reverse()]; c.Packets != 1 {
		t.Errorf("active reverse counters %+v", c)
	}
	stop := 0
	p.Iterate(func(FlowKey, Counters) bool { stop++; return stop < 3 })
	if stop != 3 {
		t.Errorf("Iterate did not stop: %d calls", stop)
	}

	now := time.Now()
	// Nothing idle for an hour.
	if got, err := p.Expire(time.Hour, now, nil); err != nil || got != 0 {
		t.Fatalf("Expire(1h) = %d, %v", got, err)
	}
	time.Sleep(20 * time.Millisecond)
	run(t, p, buildFrame(t, frameSpec{key: active.Reverse(), payload: 10})) // keeps it active
	var expired []FlowKey
	got, err := p.Expire(10*time.Millisecond, time.Now(), func(k FlowKey, fwd, rev Counters) {
		expired = append(expired, k)
		if fwd.Packets != 0 || rev.Packets != 0 {
			t.Errorf("idle flow %v had packets %+v %+v", k, fwd, rev)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != n-1 || len(expired) != n-1 {
		t.Errorf("Expire removed %d (%d reported), want %d", got, len(expired), n-1)
	}
	left := 0
	p.Iterate(func(k FlowKey, c Counters) bool {
		if k != active && k != active.Reverse() {
			t.Errorf("left over %v", k)
		}
		left++
		return true
	})
	if left != 2 {
		t.Errorf("%d entries left, want 2", left)
	}
	// Expire the active one with its final counters.
	var fin [2]Counters
	if got, _ := p.Expire(0, time.Now().Add(time.Second), func(k FlowKey, fwd, rev Counters) {
		if k == active.Reverse() {
			fwd, rev = rev, fwd
		}
		fin = [2]Counters{fwd, rev}
	}); got != 1 {
		t.Errorf("final Expire removed %d", got)
	}
	if fin[1].Packets != 2 || fin[0].Packets != 0 {
		t.Errorf("final counters %+v", fin)
	}
}

func TestClosed(t *testing.T) {
	p := newTestProgram(t, Options{Mode: ModeIDS})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := p.Add(tcpKey4()); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if err := p.Iterate(func(FlowKey, Counters) bool { return true }); !errors.Is(err, ErrClosed) {
		t.Errorf("Iterate after Close: %v", err)
	}
}

func TestUnsupportedBackend(t *testing.T) {
	err := UnsupportedBackend("nfqueue")
	if !errors.Is(err, ErrUnsupportedBackend) {
		t.Fatal("does not wrap ErrUnsupportedBackend")
	}
	t.Log(err)
}

// TestNoAlloc: Add, Delete and Counters allocate nothing.
func TestNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful with -race (sync.Pool drops items)")
	}
	p := newTestProgram(t, Options{Mode: ModeIDS, MaxFlows: 1024})
	k := udpKey6()
	k4 := tcpKey4()
	var err error
	allocs := testing.AllocsPerRun(1000, func() {
		if err = p.Add(k); err != nil {
			return
		}
		if _, _, _, err = p.Counters(k); err != nil {
			return
		}
		if err = p.Delete(k); err != nil {
			return
		}
		if err = p.Add(k4); err != nil {
			return
		}
		err = p.Delete(k4)
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("Add+Counters+Delete allocate %.1f times per run", allocs)
	}
}

func BenchmarkAddDelete(b *testing.B) {
	p := newTestProgram(b, Options{Mode: ModeIDS, MaxFlows: 1024})
	k := tcpKey4()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Add(k); err != nil {
			b.Fatal(err)
		}
		if err := p.Delete(k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCounters(b *testing.B) {
	p := newTestProgram(b, Options{Mode: ModeIDS, MaxFlows: 1024})
	k := tcpKey4()
	if err := p.Add(k); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := p.Counters(k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkXDPProgram measures the program itself on a bypassed frame with
// BPF_PROG_TEST_RUN (kernel-reported time per run).
func BenchmarkXDPProgram(b *testing.B) {
	p := newTestProgram(b, Options{Mode: ModeIDS, MaxFlows: 1024})
	k := tcpKey4()
	if err := p.Add(k); err != nil {
		b.Fatal(err)
	}
	f := buildFrame(b, frameSpec{key: k, payload: 64})
	var ret uint32
	var per time.Duration
	for b.Loop() {
		var err error
		ret, per, err = p.objs.VigilBypass.Benchmark(f, 1000, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	if ret != xdpDrop {
		b.Fatalf("verdict %s", xdpActionName(ret))
	}
	b.ReportMetric(float64(per.Nanoseconds()), "ns/frame")
}

// TestConcurrentUse runs Add, Delete, Counters, Iterate and Expire from
// several goroutines and closes the program under them (run with -race).
func TestConcurrentUse(t *testing.T) {
	p := newTestProgram(t, Options{Mode: ModeIDS, MaxFlows: 4096})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 16)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := tcpKey4()
			k.DstPort = uint16(1000 + w)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k.SrcPort = uint16(i % 500)
				// Counters may find the flow expired by the other goroutine.
				for _, err := range []error{p.Add(k), func() error { _, _, _, err := p.Counters(k); return err }(), p.Delete(k)} {
					if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrNoFlow) {
						errc <- err
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			err := p.Iterate(func(FlowKey, Counters) bool { return true })
			if err == nil {
				_, err = p.Expire(0, time.Now(), func(k FlowKey, _, _ Counters) { p.Delete(k) })
			}
			if err != nil && !errors.Is(err, ErrClosed) {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
