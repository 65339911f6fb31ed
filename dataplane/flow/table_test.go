package flow

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

func TestBothDirectionsOneFlow(t *testing.T) {
	tests := []struct {
		name     string
		fwd, rev *packet.Packet
	}{
		{"tcp4", pkt("10.0.0.1", "10.0.0.2", packet.ProtoTCP, 40000, 80), pkt("10.0.0.2", "10.0.0.1", packet.ProtoTCP, 80, 40000)},
		{"udp4", pkt("192.168.1.9", "8.8.8.8", packet.ProtoUDP, 5353, 53), pkt("8.8.8.8", "192.168.1.9", packet.ProtoUDP, 53, 5353)},
		{"tcp6", pkt("2001:db8::1", "2001:db8::2", packet.ProtoTCP, 1234, 443), pkt("2001:db8::2", "2001:db8::1", packet.ProtoTCP, 443, 1234)},
		{"udp6", pkt("fe80::1", "ff02::fb", packet.ProtoUDP, 5353, 5353), pkt("ff02::fb", "fe80::1", packet.ProtoUDP, 5353, 5353)},
		{"gre4", pkt("10.1.1.1", "10.2.2.2", 47, 0, 0), pkt("10.2.2.2", "10.1.1.1", 47, 0, 0)},
		{"sctp4", pkt("10.1.1.1", "10.2.2.2", packet.ProtoSCTP, 7, 9), pkt("10.2.2.2", "10.1.1.1", packet.ProtoSCTP, 9, 7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTable(t, Config{})
			f1 := mustLookup(t, tb, at(tc.fwd, 1*sec))
			f2 := mustLookup(t, tb, at(tc.rev, 2*sec))
			if f1 != f2 {
				t.Fatalf("reverse packet got another flow (ids %d, %d)", f1.ID, f2.ID)
			}
			if tc.fwd.FlowHash != tc.rev.FlowHash {
				t.Errorf("FlowHash differs: %#x vs %#x", tc.fwd.FlowHash, tc.rev.FlowHash)
			}
			if d := dir(tc.fwd); d != "ts" {
				t.Errorf("first packet direction %s, want ts", d)
			}
			if d := dir(tc.rev); d != "tc" {
				t.Errorf("reply direction %s, want tc", d)
			}
			if f1.PktsToServer != 1 || f1.PktsToClient != 1 || f1.BytesToServer != 60 || f1.BytesToClient != 60 {
				t.Errorf("counters ts %d/%dB tc %d/%dB, want 1/60B each", f1.PktsToServer, f1.BytesToServer, f1.PktsToClient, f1.BytesToClient)
			}
			if f1.StartNs != 1*sec || f1.LastNs != 2*sec {
				t.Errorf("times start %d last %d", f1.StartNs, f1.LastNs)
			}
			if got := f1.Key.SrcAddr(); got != tc.fwd.SrcIP {
				t.Errorf("Key.SrcAddr %v, want client %v", got, tc.fwd.SrcIP)
			}
			if got := f1.Key.DstAddr(); got != tc.fwd.DstIP {
				t.Errorf("Key.DstAddr %v, want %v", got, tc.fwd.DstIP)
			}
			if tb.Len() != 1 || tb.Stats().Created != 1 {
				t.Errorf("Len %d Created %d, want 1 and 1", tb.Len(), tb.Stats().Created)
			}
			if tc.name != "tcp4" && tc.name != "tcp6" && f1.State != StateEstablished {
				t.Errorf("state %v after both directions, want established", f1.State)
			}
		})
	}
}

func TestDistinctConnectionsDistinctFlows(t *testing.T) {
	tb := newTable(t, Config{})
	base := pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1000, 2000)
	variants := []*packet.Packet{
		pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1000, 2001),
		pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1001, 2000),
		pkt("10.0.0.1", "10.0.0.3", packet.ProtoUDP, 1000, 2000),
		pkt("10.0.0.1", "10.0.0.2", packet.ProtoTCP, 1000, 2000),
		pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 2000, 1000), // ports swapped, addresses not
		pkt("::ffff:10.0.0.1", "::ffff:10.0.0.2", packet.ProtoUDP, 1000, 2000),
	}
	f0 := mustLookup(t, tb, base)
	seen := map[*Flow]bool{f0: true}
	for i, p := range variants {
		f := mustLookup(t, tb, p)
		if seen[f] {
			t.Errorf("variant %d shares a flow with an earlier packet", i)
		}
		seen[f] = true
	}
}

func TestVLANSeparatesFlows(t *testing.T) {
	tb := newTable(t, Config{})
	mk := func(vlans ...uint16) *packet.Packet {
		p := pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1000, 53)
		for i, v := range vlans {
			p.VLAN[i] = v
		}
		p.VLANCount = uint8(len(vlans))
		return p
	}
	none := mustLookup(t, tb, mk())
	v10 := mustLookup(t, tb, mk(10))
	v20 := mustLookup(t, tb, mk(20))
	q := mustLookup(t, tb, mk(10, 20))
	if none == v10 || v10 == v20 || v10 == q || none == q {
		t.Fatal("VLAN ids do not separate flows")
	}
	// Reply on VLAN 10 joins the VLAN 10 flow.
	r := pkt("10.0.0.2", "10.0.0.1", packet.ProtoUDP, 53, 1000)
	r.VLAN[0], r.VLANCount = 10, 1
	if f := mustLookup(t, tb, r); f != v10 {
		t.Fatal("reply on VLAN 10 did not join the VLAN 10 flow")
	}
	// A stale id beyond VLANCount is ignored.
	s := mk(10)
	s.VLAN[1] = 99
	if f := mustLookup(t, tb, s); f != v10 {
		t.Fatal("VLAN id beyond VLANCount changed the key")
	}
	if f := v10.Key.VLAN; f != [packet.MaxVLAN]uint16{10, 0} {
		t.Errorf("flow VLAN %v", f)
	}
}

func TestICMPKeying(t *testing.T) {
	tb := newTable(t, Config{})
	req := pkt("10.0.0.1", "10.0.0.2", packet.ProtoICMP, 8, 0)
	req.ICMPID = 77
	f := mustLookup(t, tb, req)
	if f.Key.SrcPort != 8 || f.Key.DstPort != 0 || f.Proto != ProtoICMP {
		t.Fatalf("echo request key ports %d/%d proto %v, want 8/0 icmp", f.Key.SrcPort, f.Key.DstPort, f.Proto)
	}
	rep := pkt("10.0.0.2", "10.0.0.1", packet.ProtoICMP, 0, 0)
	rep.ICMPID = 77
	if g := mustLookup(t, tb, rep); g != f {
		t.Fatal("echo reply did not join the echo request's flow")
	}
	if dir(rep) != "tc" || f.State != StateEstablished || rep.Flags&packet.FlagEstablished == 0 {
		t.Errorf("reply: direction %s state %v flags %#x", dir(rep), f.State, rep.Flags)
	}
	if !f.HasResp || f.RespICMPType != 0 || f.ICMPType != 8 {
		t.Errorf("icmp types: first %d resp %d (has %v)", f.ICMPType, f.RespICMPType, f.HasResp)
	}
	// As in Suricata, the echo id is not part of the key.
	other := pkt("10.0.0.1", "10.0.0.2", packet.ProtoICMP, 8, 0)
	other.ICMPID = 78
	if g := mustLookup(t, tb, other); g != f {
		t.Error("echo request with another id got another flow")
	}
	// Another message type between the same hosts is another flow.
	ts := mustLookup(t, tb, pkt("10.0.0.1", "10.0.0.2", packet.ProtoICMP, 13, 0))
	if ts == f {
		t.Error("timestamp request joined the echo flow")
	}
	if g := mustLookup(t, tb, pkt("10.0.0.2", "10.0.0.1", packet.ProtoICMP, 14, 0)); g != ts {
		t.Error("timestamp reply did not join the timestamp flow")
	}
	// A reply type in the same direction as the request is not the same flow.
	if g := mustLookup(t, tb, pkt("10.0.0.1", "10.0.0.2", packet.ProtoICMP, 0, 0)); g == f {
		t.Error("echo reply sent by the requester joined the request flow")
	}

	// ICMPv6 echo.
	r6 := mustLookup(t, tb, pkt("2001:db8::1", "2001:db8::2", packet.ProtoICMPv6, 128, 0))
	if g := mustLookup(t, tb, pkt("2001:db8::2", "2001:db8::1", packet.ProtoICMPv6, 129, 0)); g != r6 {
		t.Error("ICMPv6 echo reply did not join its request")
	}
	if g := mustLookup(t, tb, pkt("2001:db8::1", "2001:db8::2", packet.ProtoICMPv6, 135, 0)); g == r6 {
		t.Error("neighbor solicitation joined the echo flow")
	}
	// Inconsistent: ICMPv6 over IPv4 and ICMPv4 over IPv6 get no flow.
	bad := pkt("10.0.0.1", "10.0.0.2", packet.ProtoICMPv6, 128, 0)
	if tb.Lookup(bad) != nil || bad.Flags&packet.FlagNoFlow == 0 {
		t.Error("ICMPv6 over IPv4 got a flow")
	}
}

// icmpUnreach builds an ICMPv4 port unreachable from router to the original
// sender, quoting the IPv4/UDP header of the datagram orig (src -> dst).
func icmpUnreach(t *testing.T, router, origSrc, origDst string, sp, dp uint16, proto uint8) *packet.Packet {
	t.Helper()
	p := pkt(router, origSrc, packet.ProtoICMP, 3, 3)
	p.L4Off = 34 // Ethernet + IPv4 without options
	icmp := make([]byte, 8+20+8)
	icmp[0], icmp[1] = 3, 3
	ip := icmp[8:]
	ip[0] = 0x45
	ip[9] = proto
	copy(ip[12:16], pkt(origSrc, origDst, 0, 0, 0).SrcIP.AsSlice())
	copy(ip[16:20], pkt(origDst, origSrc, 0, 0, 0).SrcIP.AsSlice())
	ip[20], ip[21], ip[22], ip[23] = byte(sp>>8), byte(sp), byte(dp>>8), byte(dp)
	p.Data = append(make([]byte, 34), icmp...)
	return p
}

func TestICMPErrorJoinsFlow(t *testing.T) {
	tb := newTable(t, Config{})
	u := mustLookup(t, tb, pkt("10.0.0.1", "10.9.9.9", packet.ProtoUDP, 3333, 161))
	e := icmpUnreach(t, "10.9.9.9", "10.0.0.1", "10.9.9.9", 3333, 161, packet.ProtoUDP)
	if f := mustLookup(t, tb, e); f != u {
		t.Fatal("port unreachable did not join the UDP flow it reports on")
	}
	if dir(e) != "tc" {
		t.Errorf("error direction %s, want tc", dir(e))
	}
	if u.PktsToClient != 1 || u.State != StateNew {
		t.Errorf("after error: tc packets %d state %v (an error does not establish a flow)", u.PktsToClient, u.State)
	}
	// From a router in the middle, still to the client.
	e2 := icmpUnreach(t, "172.16.0.1", "10.0.0.1", "10.9.9.9", 3333, 161, packet.ProtoUDP)
	if f := mustLookup(t, tb, e2); f != u || dir(e2) != "tc" {
		t.Error("error from a router did not join the flow to the client")
	}
	// No flow for the quoted datagram: errors never create flows.
	before := tb.Stats()
	e3 := icmpUnreach(t, "10.9.9.9", "10.0.0.1", "10.9.9.9", 3334, 161, packet.ProtoUDP)
	if tb.Lookup(e3) != nil || e3.Flags&packet.FlagNoFlow == 0 {
		t.Fatal("error without a flow got one")
	}
	// Time exceeded, redirect, ...: no flow.
	te := pkt("172.16.0.1", "10.0.0.1", packet.ProtoICMP, 11, 0)
	if tb.Lookup(te) != nil {
		t.Fatal("time exceeded got a flow")
	}
	// Truncated quote: no flow.
	tr := icmpUnreach(t, "10.9.9.9", "10.0.0.1", "10.9.9.9", 3333, 161, packet.ProtoUDP)
	tr.Data = tr.Data[:34+8+20+2]
	if tb.Lookup(tr) != nil {
		t.Fatal("truncated quote got a flow")
	}
	if s := tb.Stats(); s.NoFlowICMPError != before.NoFlowICMPError+3 || s.Created != before.Created {
		t.Errorf("NoFlowICMPError %d (was %d), created %d (was %d)", s.NoFlowICMPError, before.NoFlowICMPError, s.Created, before.Created)
	}
}

func TestNoFlow(t *testing.T) {
	tb := newTable(t, Config{})
	arp := &packet.Packet{Data: make([]byte, 42), EtherType: 0x0806}
	if tb.Lookup(arp) != nil || arp.Flags&packet.FlagNoFlow == 0 {
		t.Fatal("non-IP packet got a flow")
	}
	frag := pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 0, 0)
	frag.Flags &^= packet.FlagUDP
	frag.Flags |= packet.FlagFragment
	if tb.Lookup(frag) != nil || frag.Flags&packet.FlagNoFlow == 0 {
		t.Fatal("UDP packet without UDP header got a flow")
	}
	s := tb.Stats()
	if s.NoFlowNotIP != 1 || s.NoFlowNoL4 != 1 || s.Created != 0 {
		t.Errorf("stats %+v", s)
	}
	// FlagNoFlow and direction flags from an earlier run are cleared.
	p := pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1, 2)
	p.Flags |= packet.FlagNoFlow | packet.FlagToClient | packet.FlagEstablished
	mustLookup(t, tb, p)
	if p.Flags&(packet.FlagNoFlow|packet.FlagEstablished) != 0 || dir(p) != "ts" {
		t.Errorf("stale flags not cleared: %#x", p.Flags)
	}
}

func TestTCPHandshakeEstablishes(t *testing.T) {
	tb := newTable(t, Config{})
	c, s := "10.0.0.1", "10.0.0.2"
	syn := tcpPkt(c, s, 40000, 80, packet.TCPSyn, 1*sec)
	f := mustLookup(t, tb, syn)
	steps := []struct {
		p     *packet.Packet
		dir   string
		tcp   TCPState
		state State
	}{
		{syn, "ts", TCPSynSent, StateNew},
		{tcpPkt(s, c, 80, 40000, packet.TCPSyn|packet.TCPAck, 2*sec), "tc", TCPSynRecv, StateNew},
		{tcpPkt(c, s, 40000, 80, packet.TCPAck, 3*sec), "ts", TCPEstablished, StateEstablished},
		{tcpPkt(c, s, 40000, 80, packet.TCPAck|packet.TCPPsh, 4*sec), "ts", TCPEstablished, StateEstablished},
		{tcpPkt(s, c, 80, 40000, packet.TCPAck|packet.TCPFin, 5*sec), "tc", TCPClosed, StateClosed},
		{tcpPkt(c, s, 40000, 80, packet.TCPAck, 6*sec), "ts", TCPClosed, StateClosed},
	}
	for i, st := range steps {
		if i > 0 {
			if g := mustLookup(t, tb, st.p); g != f {
				t.Fatalf("step %d: another flow", i)
			}
		}
		if d := dir(st.p); d != st.dir {
			t.Errorf("step %d: direction %s, want %s", i, d, st.dir)
		}
		if f.TCP.State != st.tcp || f.State != st.state {
			t.Errorf("step %d: tcp %v state %v, want %v %v", i, f.TCP.State, f.State, st.tcp, st.state)
		}
		if est := st.p.Flags&packet.FlagEstablished != 0; est != (st.state == StateEstablished) {
			t.Errorf("step %d: FlagEstablished %v", i, est)
		}
	}
	if f.TCPFlagsToServer != packet.TCPSyn|packet.TCPAck|packet.TCPPsh || f.TCPFlagsToClient != packet.TCPSyn|packet.TCPAck|packet.TCPFin {
		t.Errorf("flags ts %#x tc %#x", f.TCPFlagsToServer, f.TCPFlagsToClient)
	}
}

func TestTCPNotEstablished(t *testing.T) {
	c, s := "10.0.0.1", "10.0.0.2"
	t.Run("midstream", func(t *testing.T) {
		tb := newTable(t, Config{})
		f := mustLookup(t, tb, tcpPkt(c, s, 40000, 80, packet.TCPAck, 1))
		mustLookup(t, tb, tcpPkt(s, c, 80, 40000, packet.TCPAck, 2))
		p := tcpPkt(c, s, 40000, 80, packet.TCPAck|packet.TCPPsh, 3)
		mustLookup(t, tb, p)
		if f.State != StateNew || !f.TCP.Midstream || p.Flags&packet.FlagEstablished != 0 {
			t.Errorf("mid-stream flow: state %v midstream %v flags %#x", f.State, f.TCP.Midstream, p.Flags)
		}
	})
	t.Run("synack first", func(t *testing.T) {
		tb := newTable(t, Config{})
		sa := tcpPkt(s, c, 80, 40000, packet.TCPSyn|packet.TCPAck, 1)
		f := mustLookup(t, tb, sa)
		if f.Key.SrcAddr().String() != c || f.Key.SrcPort != 40000 || f.Key.DstPort != 80 {
			t.Fatalf("SYN/ACK first: client %v:%d -> %d, want the receiver %s:40000 -> 80", f.Key.SrcAddr(), f.Key.SrcPort, f.Key.DstPort, c)
		}
		if dir(sa) != "tc" || f.PktsToClient != 1 {
			t.Errorf("SYN/ACK direction %s", dir(sa))
		}
		a := tcpPkt(c, s, 40000, 80, packet.TCPAck, 2)
		mustLookup(t, tb, a)
		if dir(a) != "ts" || f.State != StateNew {
			t.Errorf("ACK after SYN/ACK pickup: direction %s state %v", dir(a), f.State)
		}
	})
	t.Run("syn from server side ignored", func(t *testing.T) {
		tb := newTable(t, Config{})
		f := mustLookup(t, tb, tcpPkt(c, s, 40000, 80, packet.TCPSyn, 1))
		mustLookup(t, tb, tcpPkt(c, s, 40000, 80, packet.TCPAck, 2)) // ACK without SYN/ACK
		if f.State != StateNew || f.TCP.State != TCPSynSent {
			t.Errorf("state %v tcp %v", f.State, f.TCP.State)
		}
	})
	t.Run("rst", func(t *testing.T) {
		tb := newTable(t, Config{})
		f := mustLookup(t, tb, tcpPkt(c, s, 40000, 81, packet.TCPSyn, 1))
		mustLookup(t, tb, tcpPkt(s, c, 81, 40000, packet.TCPRst|packet.TCPAck, 2))
		if f.State != StateClosed {
			t.Errorf("after RST state %v", f.State)
		}
	})
}

func TestTCPPortReuse(t *testing.T) {
	tb := newTable(t, Config{})
	var ended []*Flow
	tb.cfg.OnEnd = func(f *Flow) { c := *f; ended = append(ended, &c) }
	c, s := "10.0.0.1", "10.0.0.2"
	syn := tcpPkt(c, s, 40000, 80, packet.TCPSyn, 1*sec)
	syn.TCPSeq = 1000
	f := mustLookup(t, tb, syn)
	id := f.ID
	mustLookup(t, tb, tcpPkt(s, c, 80, 40000, packet.TCPRst|packet.TCPAck, 2*sec))
	// Retransmitted SYN (same ISN) stays on the closed flow.
	re := tcpPkt(c, s, 40000, 80, packet.TCPSyn, 3*sec)
	re.TCPSeq = 1000
	if g := mustLookup(t, tb, re); g.ID != id {
		t.Fatal("retransmitted SYN started a new flow")
	}
	// A new SYN with another ISN reuses the ports: new flow.
	nsyn := tcpPkt(c, s, 40000, 80, packet.TCPSyn, 4*sec)
	nsyn.TCPSeq = 5000
	g := mustLookup(t, tb, nsyn)
	if g.ID == id || g.TCP.State != TCPSynSent || g.PktsToServer != 1 {
		t.Fatalf("port reuse: id %d (old %d) tcp %v pkts %d", g.ID, id, g.TCP.State, g.PktsToServer)
	}
	if len(ended) != 1 || ended[0].ID != id || ended[0].Reason != ReasonTimeout || ended[0].PktsToServer != 2 {
		t.Fatalf("OnEnd saw %+v", ended)
	}
	if st := tb.Stats(); st.Reused != 1 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestTimeouts checks every class and state: a flow survives exactly its
// timeout of idle packet time and ends one nanosecond later.
func TestTimeouts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed = 1
	type setup func(tb *Table, t *testing.T, ts int64) *Flow
	udp := func(est bool) setup {
		return func(tb *Table, t *testing.T, ts int64) *Flow {
			f := mustLookup(t, tb, at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1, 2), ts))
			if est {
				mustLookup(t, tb, at(pkt("10.0.0.2", "10.0.0.1", packet.ProtoUDP, 2, 1), ts))
			}
			return f
		}
	}
	icmp := func(est bool) setup {
		return func(tb *Table, t *testing.T, ts int64) *Flow {
			f := mustLookup(t, tb, at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoICMP, 8, 0), ts))
			if est {
				mustLookup(t, tb, at(pkt("10.0.0.2", "10.0.0.1", packet.ProtoICMP, 0, 0), ts))
			}
			return f
		}
	}
	other := func(est bool) setup {
		return func(tb *Table, t *testing.T, ts int64) *Flow {
			f := mustLookup(t, tb, at(pkt("10.0.0.1", "10.0.0.2", 50, 0, 0), ts))
			if est {
				mustLookup(t, tb, at(pkt("10.0.0.2", "10.0.0.1", 50, 0, 0), ts))
			}
			return f
		}
	}
	tcp := func(upto int) setup {
		return func(tb *Table, t *testing.T, ts int64) *Flow {
			f := mustLookup(t, tb, tcpPkt("10.0.0.1", "10.0.0.2", 1, 2, packet.TCPSyn, ts))
			if upto >= 1 {
				mustLookup(t, tb, tcpPkt("10.0.0.2", "10.0.0.1", 2, 1, packet.TCPSyn|packet.TCPAck, ts))
				mustLookup(t, tb, tcpPkt("10.0.0.1", "10.0.0.2", 1, 2, packet.TCPAck, ts))
			}
			if upto >= 2 {
				mustLookup(t, tb, tcpPkt("10.0.0.1", "10.0.0.2", 1, 2, packet.TCPFin|packet.TCPAck, ts))
			}
			return f
		}
	}
	s := time.Second
	tests := []struct {
		name  string
		setup setup
		state State
		want  time.Duration
	}{
		{"tcp new", tcp(0), StateNew, 60 * s},
		{"tcp established", tcp(1), StateEstablished, 600 * s},
		{"tcp closed", tcp(2), StateClosed, 60 * s},
		{"udp new", udp(false), StateNew, 30 * s},
		{"udp established", udp(true), StateEstablished, 300 * s},
		{"icmp new", icmp(false), StateNew, 30 * s},
		{"icmp established", icmp(true), StateEstablished, 300 * s},
		{"other new", other(false), StateNew, 30 * s},
		{"other established", other(true), StateEstablished, 300 * s},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := NewTable(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := 1000 * sec
			f := tc.setup(tb, t, start)
			if f.State != tc.state {
				t.Fatalf("state %v, want %v", f.State, tc.state)
			}
			id := f.ID
			var got []uint64
			fn := func(f *Flow) {
				if f.Reason != ReasonTimeout {
					t.Errorf("reason %v", f.Reason)
				}
				got = append(got, f.ID)
			}
			limit := start + int64(tc.want)
			if n := tb.Expire(limit, fn); n != 0 || tb.Len() != 1 {
				t.Fatalf("expired %d at exactly the timeout", n)
			}
			if n := tb.Expire(limit+1, fn); n != 1 || len(got) != 1 || got[0] != id || tb.Len() != 0 {
				t.Fatalf("at timeout+1ns: expired %d (%v), len %d", n, got, tb.Len())
			}
			st := tb.Stats()
			byState := map[State]uint64{StateNew: st.ExpiredNew, StateEstablished: st.ExpiredEstablished, StateClosed: st.ExpiredClosed}
			if byState[tc.state] != 1 {
				t.Errorf("expired counters %+v", st)
			}
			if err := tb.check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestActivityPostponesExpiry(t *testing.T) {
	tb := newTable(t, Config{})
	a := mustLookup(t, tb, at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1, 2), 0))
	bID := mustLookup(t, tb, at(pkt("10.0.0.1", "10.0.0.3", packet.ProtoUDP, 1, 2), 0)).ID
	// a keeps sending every 20 s; b is idle. Expire every second.
	var ended []uint64
	for ts := int64(1); ts <= 100; ts++ {
		if ts%20 == 0 {
			mustLookup(t, tb, at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1, 2), ts*sec))
		}
		tb.Expire(ts*sec, func(f *Flow) { ended = append(ended, f.ID) })
		if err := tb.check(); err != nil {
			t.Fatal(err)
		}
	}
	if len(ended) != 1 || ended[0] != bID {
		t.Fatalf("ended %v, want only the idle flow %d", ended, bID)
	}
	if tb.Len() != 1 || a.LastNs != 100*sec {
		t.Errorf("len %d last %d", tb.Len(), a.LastNs)
	}
}

func TestLookupOfTimedOutKeyStartsNewFlow(t *testing.T) {
	tb := newTable(t, Config{})
	var ended []Flow
	tb.cfg.OnEnd = func(f *Flow) { ended = append(ended, *f) }
	f := mustLookup(t, tb, at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1, 2), 0))
	old := f.ID
	g := mustLookup(t, tb, at(pkt("10.0.0.2", "10.0.0.1", packet.ProtoUDP, 2, 1), 31*sec))
	if g.ID == old {
		t.Fatal("packet after the timeout joined the timed-out flow")
	}
	if len(ended) != 1 || ended[0].ID != old || ended[0].Reason != ReasonTimeout || ended[0].PktsToServer != 1 {
		t.Fatalf("OnEnd saw %+v", ended)
	}
	// The new flow's client is the sender of its first packet.
	if g.Key.SrcAddr().String() != "10.0.0.2" || g.PktsToServer != 1 || g.StartNs != 31*sec {
		t.Errorf("new flow key %+v pkts %d start %d", g.Key, g.PktsToServer, g.StartNs)
	}
	if st := tb.Stats(); st.ExpiredNew != 1 || st.Created != 2 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPacketTimeGoingBackwards(t *testing.T) {
	tb := newTable(t, Config{})
	f := mustLookup(t, tb, at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, 1, 2), 10*sec))
	mustLookup(t, tb, at(pkt("10.0.0.2", "10.0.0.1", packet.ProtoUDP, 2, 1), 5*sec))
	if f.LastNs != 10*sec || f.StartNs != 10*sec {
		t.Errorf("start %d last %d", f.StartNs, f.LastNs)
	}
	if n := tb.Expire(5*sec, nil); n != 0 {
		t.Errorf("Expire in the past ended %d flows", n)
	}
}

func TestMemcap(t *testing.T) {
	tb := newTable(t, Config{MaxFlows: 4, Prealloc: 1})
	var ended []uint64
	tb.cfg.OnEnd = func(f *Flow) { ended = append(ended, f.ID) }
	hosts := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}
	for i := 0; i < 4; i++ {
		mustLookup(t, tb, at(pkt(hosts[i], "10.9.9.9", packet.ProtoUDP, 1, 2), int64(i)*sec))
	}
	// Full: a fifth flow is refused, idle flows are younger than even the
	// emergency timeout (10 s).
	p := at(pkt(hosts[4], "10.9.9.9", packet.ProtoUDP, 1, 2), 5*sec)
	if tb.Lookup(p) != nil || p.Flags&packet.FlagNoFlow == 0 {
		t.Fatal("flow beyond the cap was created")
	}
	st := tb.Stats()
	if st.MemcapDrops != 1 || !st.Emergency || st.EmergencyEntries != 1 || st.Active != 4 {
		t.Fatalf("stats after refusal %+v", st)
	}
	// Known flows still work while full.
	mustLookup(t, tb, at(pkt("10.9.9.9", hosts[3], packet.ProtoUDP, 2, 1), 6*sec))
	// At 12.5 s flows 0 and 1 (last seen 0 s, 1 s) passed the emergency
	// new-UDP timeout (10 s), far below the normal 30 s: Lookup reclaims one.
	p = at(pkt(hosts[4], "10.9.9.9", packet.ProtoUDP, 1, 2), 12*sec+sec/2)
	f := mustLookup(t, tb, p)
	if len(ended) < 1 || tb.Stats().ExpiredNew != uint64(len(ended)) {
		t.Fatalf("emergency reclaim ended %v, stats %+v", ended, tb.Stats())
	}
	if f.Key.SrcAddr().String() != hosts[4] {
		t.Errorf("new flow %v", f.Key.SrcAddr())
	}
	// Expire with emergency timeouts frees the rest of the idle flows and,
	// with enough room again, ends emergency mode.
	tb.Expire(14*sec, func(f *Flow) { ended = append(ended, f.ID) })
	if tb.Emergency() {
		t.Errorf("still in emergency with %d of %d flows", tb.Len(), tb.MaxFlows())
	}
	for i := 0; i < 2; i++ {
		mustLookup(t, tb, at(pkt(hosts[5], "10.9.9.9", packet.ProtoUDP, uint16(i), 2), 15*sec))
	}
	if st := tb.Stats(); st.Allocated != 4 || st.Active > 4 {
		t.Errorf("pool %d active %d", st.Allocated, st.Active)
	}
}

func TestMemcapBytes(t *testing.T) {
	cfg := Config{Memcap: 1 << 20, HashSize: 1024, Prealloc: 1}
	tb := newTable(t, cfg)
	want := (1<<20 - 1024*4) / FlowBytes
	if tb.MaxFlows() != want {
		t.Fatalf("MaxFlows %d, want %d", tb.MaxFlows(), want)
	}
	for i := 0; i < want; i++ {
		p := at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, uint16(i), 53), sec)
		if tb.Lookup(p) == nil {
			t.Fatalf("flow %d of %d refused", i, want)
		}
	}
	if tb.Lookup(at(pkt("10.0.0.1", "10.0.0.3", packet.ProtoUDP, 1, 53), sec)) != nil {
		t.Fatal("flow beyond the memcap created")
	}
	if n := tb.Expire(100*sec, nil); n != want {
		t.Fatalf("Expire ended %d, want %d", n, want)
	}
	if tb.Lookup(at(pkt("10.0.0.1", "10.0.0.3", packet.ProtoUDP, 1, 53), 101*sec)) == nil {
		t.Fatal("no new flow after expiry freed the pool")
	}
	if err := tb.check(); err != nil {
		t.Fatal(err)
	}
}

func TestFlowIDs(t *testing.T) {
	tb := newTable(t, Config{MaxFlows: 1000, Shard: 7})
	ids := map[uint64]bool{}
	for round := 0; round < 5; round++ {
		for i := 0; i < 1000; i++ {
			base := int64(round) * 1000 * sec
			f := tb.Lookup(at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, uint16(i), 53), base))
			if f == nil {
				t.Fatal("refused")
			}
			if ids[f.ID] {
				t.Fatalf("id %d handed out twice", f.ID)
			}
			if f.ID == 0 || f.ID >= 1<<53 || f.ID&0xff != 7 {
				t.Fatalf("id %#x: zero, too large or without shard 7", f.ID)
			}
			ids[f.ID] = true
			// Stable for the flow's life.
			if g := tb.Lookup(at(pkt("10.0.0.2", "10.0.0.1", packet.ProtoUDP, 53, uint16(i)), base+sec)); g.ID != f.ID {
				t.Fatal("id changed")
			}
		}
		if round%2 == 0 {
			if n := tb.Expire(int64(round)*1000*sec+999*sec, nil); n != 1000 {
				t.Fatalf("round %d: expired %d", round, n)
			}
		} else {
			tb.Flush(nil)
		}
	}
	if len(ids) != 5000 {
		t.Errorf("%d ids", len(ids))
	}
	// Two shards never collide.
	t2 := newTable(t, Config{MaxFlows: 1000, Shard: 8})
	for i := 0; i < 1000; i++ {
		if f := t2.Lookup(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, uint16(i), 53)); ids[f.ID] {
			t.Fatalf("shard 8 repeated id %d of shard 7", f.ID)
		}
	}
}

func TestFlush(t *testing.T) {
	tb := newTable(t, Config{})
	for i := 0; i < 100; i++ {
		mustLookup(t, tb, pkt("10.0.0.1", "10.0.0.2", packet.ProtoTCP, uint16(i), 80))
	}
	seen := map[uint64]bool{}
	n := tb.Flush(func(f *Flow) {
		if f.Reason != ReasonShutdown || f.PktsToServer != 1 {
			t.Errorf("flushed flow reason %v pkts %d", f.Reason, f.PktsToServer)
		}
		seen[f.ID] = true
	})
	if n != 100 || len(seen) != 100 || tb.Len() != 0 {
		t.Fatalf("flushed %d (%d distinct), len %d", n, len(seen), tb.Len())
	}
	if st := tb.Stats(); st.Flushed != 100 {
		t.Errorf("stats %+v", st)
	}
	if err := tb.check(); err != nil {
		t.Fatal(err)
	}
	// The same keys start fresh flows.
	f := mustLookup(t, tb, pkt("10.0.0.2", "10.0.0.1", packet.ProtoTCP, 80, 5))
	if seen[f.ID] || f.PktsToServer != 1 || f.Key.SrcPort != 80 {
		t.Errorf("flow after flush: id %d reused? pkts %d", f.ID, f.PktsToServer)
	}
}

func TestFlushOrderIndependentOfSeed(t *testing.T) {
	order := func(seed uint64) []uint16 {
		tb := newTable(t, Config{Seed: seed})
		for i := 0; i < 300; i++ {
			tb.Lookup(at(pkt("10.0.0.1", "10.0.0.2", packet.ProtoUDP, uint16(i*7919), 53), int64(i)*sec/10))
		}
		tb.Expire(20*sec, nil)
		var out []uint16
		tb.Flush(func(f *Flow) { out = append(out, f.Key.SrcPort) })
		return out
	}
	a, b := order(1), order(2)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("lengths %d %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("flush order depends on the seed at %d", i)
		}
	}
}

func TestConfig(t *testing.T) {
	bad := []Config{
		{HashSize: -1},
		{HashSize: maxHashSize + 1},
		{MaxFlows: -1},
		{Prealloc: -5},
		{EmergencyRecovery: 101},
		{Memcap: 100},
		{TCP: Timeouts{New: -time.Second}},
	}
	for i, c := range bad {
		if _, err := NewTable(c); err == nil || !errors.Is(err, ErrConfig) {
			t.Errorf("config %d %+v: err %v", i, c, err)
		}
	}
	tb := newTable(t, Config{HashSize: 1000, UDP: Timeouts{New: time.Second}})
	if len(tb.buckets) != 1024 {
		t.Errorf("buckets %d", len(tb.buckets))
	}
	if tb.timeouts[0][listIndex(ProtoUDP, StateNew)] != uint64(time.Second) || tb.timeouts[0][listIndex(ProtoUDP, StateEstablished)] != 0 {
		t.Error("UDP timeouts not taken as given")
	}
	if tb.timeouts[0][listIndex(ProtoTCP, StateEstablished)] != uint64(600*time.Second) {
		t.Error("TCP timeouts not defaulted")
	}
	d := newTable(t, Config{})
	if d.MaxFlows() != (DefaultMemcap-DefaultHashSize*4)/FlowBytes || d.Stats().Allocated < DefaultPrealloc {
		t.Errorf("defaults: max %d allocated %d", d.MaxFlows(), d.Stats().Allocated)
	}
	r1, _ := NewTable(Config{})
	r2, _ := NewTable(Config{})
	if r1.Seed() == r2.Seed() {
		t.Error("two tables without a seed got the same random seed")
	}
}
