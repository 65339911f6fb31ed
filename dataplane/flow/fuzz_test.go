package flow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

var fuzzHosts = [...]netip.Addr{
	netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
	netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("192.168.7.7"),
	netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
	netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("fe80::1"),
}

var fuzzPorts = [...]uint16{0, 53, 80, 443, 1024, 40000, 65535, 80}

// fuzzPacket builds a packet from 6 op bytes: which hosts, ports, protocol,
// flags, VLAN, ICMP type. Some packets are ICMPv4 errors quoting a datagram
// between two of the hosts, some have layers missing.
func fuzzPacket(op []byte, now int64) *packet.Packet {
	src, dst := fuzzHosts[op[1]&7], fuzzHosts[op[1]>>3&7]
	if op[1]&0x40 != 0 && src.Is4() == dst.Is4() {
		// Swap now and then so both directions of a connection occur.
		src, dst = dst, src
	}
	p := &packet.Packet{TimeNs: now, SrcIP: src, DstIP: dst, Data: make([]byte, 40+int(op[5]&63))}
	if src.Is4() {
		p.Flags |= packet.FlagIPv4
	} else {
		p.Flags |= packet.FlagIPv6
	}
	p.SrcPort, p.DstPort = fuzzPorts[op[2]&7], fuzzPorts[op[2]>>3&7]
	p.TCPFlags = op[3]
	p.TCPSeq = uint32(op[5] & 3)
	if op[5]&0x80 != 0 {
		p.VLANCount = 1 + op[5]>>6&1
		p.VLAN = [packet.MaxVLAN]uint16{uint16(op[4] & 3), uint16(op[3] & 1)}
	}
	switch op[0] % 8 {
	case 0, 1, 2:
		p.IPProto, p.Flags = packet.ProtoTCP, p.Flags|packet.FlagTCP
	case 3, 4:
		p.IPProto, p.Flags = packet.ProtoUDP, p.Flags|packet.FlagUDP
	case 5:
		if src.Is4() {
			p.IPProto, p.Flags = packet.ProtoICMP, p.Flags|packet.FlagICMPv4
		} else {
			p.IPProto, p.Flags = packet.ProtoICMPv6, p.Flags|packet.FlagICMPv6
		}
		p.ICMPType = []uint8{0, 8, 13, 14, 3, 11, 128, 129, 135, 136, 1, 200}[op[4]%12]
		if p.ICMPType == 3 && src.Is4() && dst.Is4() && op[4]&0x80 != 0 {
			// Port unreachable quoting a UDP/TCP datagram dst -> src.
			q := make([]byte, 34+8+20+4)
			q[34] = 3
			ip := q[42:]
			ip[0] = 0x45
			ip[9] = []uint8{packet.ProtoUDP, packet.ProtoTCP}[op[3]&1]
			copy(ip[12:16], dst.AsSlice())
			copy(ip[16:20], src.AsSlice())
			binary.BigEndian.PutUint16(ip[20:], fuzzPorts[op[2]>>3&7])
			binary.BigEndian.PutUint16(ip[22:], fuzzPorts[op[2]&7])
			p.Data, p.L4Off = q[:len(q)-int(op[5]&1)*3], 34
		}
	case 6:
		p.IPProto = []uint8{47, 50, packet.ProtoSCTP, 0}[op[4]&3]
	case 7:
		// Broken: protocol says TCP/UDP/ICMP but the header is missing, or
		// no IP at all.
		p.IPProto = []uint8{packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP, packet.ProtoICMPv6}[op[4]&3]
		if op[4]&4 != 0 {
			p.Flags &^= packet.FlagIPv4 | packet.FlagIPv6
		}
	}
	if op[3]&0x80 != 0 {
		p.Flags |= packet.FlagToClient | packet.FlagNoFlow // stale flags must be cleared
	}
	return p
}

type fuzzModel struct {
	live    map[uint64]uint64 // id -> packets counted so far
	everIDs map[uint64]bool
	ended   int
}

func (m *fuzzModel) end(t *testing.T, what string, want Reason) func(*Flow) {
	return func(f *Flow) {
		if _, ok := m.live[f.ID]; !ok {
			t.Fatalf("%s ended flow %d that is not live", what, f.ID)
		}
		if f.Reason != want {
			t.Fatalf("%s ended flow %d with reason %v, want %v", what, f.ID, f.Reason, want)
		}
		if got := f.PktsToServer + f.PktsToClient; got != m.live[f.ID] {
			t.Fatalf("%s: flow %d has %d packets, model %d", what, f.ID, got, m.live[f.ID])
		}
		delete(m.live, f.ID)
		m.ended++
	}
}

// FuzzTable feeds sequences of packets, expiries and flushes to a small
// table (few buckets, low cap, so chains, reclaim and emergency mode are
// exercised) and checks its invariants after every step.
func FuzzTable(f *testing.F) {
	f.Add([]byte{0, 4, 0, 0})
	f.Add([]byte{3, 8, 1, 2, 0, 9, 0, 0, 0, 0, 0, 0, 3, 0x41, 0x08, 0, 0, 0})
	// SYN, SYN/ACK, ACK, FIN then an idle gap and a SYN reusing the ports.
	f.Add([]byte{1, 16, 0,
		0, 0x08, 0x10, packet.TCPSyn, 0, 1,
		0, 0x48, 0x10, packet.TCPSyn | packet.TCPAck, 0, 1,
		0, 0x08, 0x10, packet.TCPAck, 0, 1,
		0, 0x08, 0x10, packet.TCPFin | packet.TCPAck, 0, 1,
		0, 0x08, 0x10, packet.TCPSyn, 0, 2,
		0xf0, 200, 0, 0, 0, 0})
	// Echo request/reply, a port unreachable for a UDP flow.
	f.Add([]byte{2, 0, 1,
		5, 0x08, 0, 0, 1, 0,
		5, 0x48, 0, 0, 0, 0,
		3, 0x48, 0x08, 0, 0, 0,
		5, 0x08, 0x01, 0, 0x84, 0})
	// Many flows into a tiny table, expiries in between.
	seed := []byte{0, 1, 0}
	for i := 0; i < 60; i++ {
		seed = append(seed, byte(i), byte(i*7), byte(i*13), byte(i*3), byte(i), byte(i*5))
		if i%10 == 9 {
			seed = append(seed, 0xf1, 40, 0, 0, 0, 0)
		}
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		cfg := Config{
			MaxFlows: 1 + int(data[0]&15),
			HashSize: 1 << (data[1] & 3),
			Prealloc: int(data[2] & 7),
			Seed:     uint64(data[2]) + 1,
			Shard:    data[1],
		}
		if data[0]&0x10 != 0 {
			cfg.TCP = Timeouts{New: 3e9, Established: 9e9, Closed: 1e9, EmergencyNew: 1e9, EmergencyEstablished: 2e9}
		}
		tb, err := NewTable(cfg)
		if err != nil {
			t.Fatalf("NewTable(%+v): %v", cfg, err)
		}
		m := &fuzzModel{live: map[uint64]uint64{}, everIDs: map[uint64]bool{}}
		tb.cfg.OnEnd = m.end(t, "Lookup", ReasonTimeout)
		now := int64(1e9)
		data = data[3:]
		for step := 0; len(data) >= 6; step++ {
			op := data[:6]
			data = data[6:]
			// Time moves by 0..127 s (or back by up to 3 s now and then).
			if op[5]&0x40 != 0 && op[4]&1 != 0 {
				now -= int64(op[4]&3) * 1e9
			} else {
				now += int64(op[4]>>1) * 1e9
			}
			switch {
			case op[0] >= 0xf0 && op[0] < 0xfe:
				if n := tb.Expire(now, m.end(t, "Expire", ReasonTimeout)); n < 0 {
					t.Fatalf("Expire returned %d", n)
				}
			case op[0] >= 0xfe:
				before := len(m.live)
				if n := tb.Flush(m.end(t, "Flush", ReasonShutdown)); n != before || len(m.live) != 0 {
					t.Fatalf("Flush ended %d of %d", n, before)
				}
			default:
				fuzzLookup(t, tb, m, fuzzPacket(op, now))
			}
			if err := tb.check(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if tb.Len() != len(m.live) {
				t.Fatalf("step %d: table has %d flows, model %d", step, tb.Len(), len(m.live))
			}
		}
		tb.Flush(m.end(t, "final Flush", ReasonShutdown))
		st := tb.Stats()
		if len(m.live) != 0 || st.Active != 0 || st.Created != uint64(len(m.everIDs)) || uint64(m.ended) != st.Created {
			t.Fatalf("after final flush: model live %d ended %d ids %d, stats %+v", len(m.live), m.ended, len(m.everIDs), st)
		}
		if err := tb.check(); err != nil {
			t.Fatal(err)
		}
	})
}

func fuzzLookup(t *testing.T, tb *Table, m *fuzzModel, p *packet.Packet) {
	before := tb.Stats()
	k, hasKey := KeyFromPacket(p)
	f := tb.Lookup(p)
	after := tb.Stats()
	if f == nil {
		if p.Flags&packet.FlagNoFlow == 0 || p.Flags&(packet.FlagToServer|packet.FlagToClient|packet.FlagEstablished) != 0 {
			t.Fatalf("no flow but flags %#x", p.Flags)
		}
		refusals := func(s Stats) uint64 { return s.NoFlowNotIP + s.NoFlowNoL4 + s.NoFlowICMPError + s.MemcapDrops }
		if refusals(after) != refusals(before)+1 {
			t.Fatalf("refused packet not counted once: %+v -> %+v", before, after)
		}
		return
	}
	if !hasKey {
		t.Fatalf("flow %d for a packet KeyFromPacket rejects", f.ID)
	}
	if p.Flags&packet.FlagNoFlow != 0 {
		t.Fatalf("flow and FlagNoFlow: %#x", p.Flags)
	}
	d := dir(p)
	if d != "ts" && d != "tc" {
		t.Fatal(d)
	}
	if (p.Flags&packet.FlagEstablished != 0) != (f.State == StateEstablished) {
		t.Fatalf("FlagEstablished %#x with state %v", p.Flags, f.State)
	}
	if p.FlowHash != HashSeed(&k, tb.Seed()) || p.FlowHash != f.hash {
		t.Fatalf("FlowHash %#x, key hash %#x, flow hash %#x", p.FlowHash, HashSeed(&k, tb.Seed()), f.hash)
	}
	if !sameConn(&f.Key, &k) {
		t.Fatalf("packet key %+v not the flow's %+v", k, f.Key)
	}
	isErr := p.IPProto == packet.ProtoICMP && k.Proto != packet.ProtoICMP
	if !isErr {
		wantTS := k.Src == f.Key.Src && k.SrcPort == f.Key.SrcPort
		if (d == "ts") != wantTS {
			t.Fatalf("direction %s for packet %+v on flow %+v", d, k, f.Key)
		}
	}
	if f.ID == 0 || f.ID >= 1<<53 || f.ID&0xff != uint64(tb.cfg.Shard) {
		t.Fatalf("bad id %#x", f.ID)
	}
	if n, ok := m.live[f.ID]; ok {
		if after.Created != before.Created {
			t.Fatalf("known flow %d but Created moved", f.ID)
		}
		m.live[f.ID] = n + 1
	} else {
		if m.everIDs[f.ID] {
			t.Fatalf("flow id %d handed out twice", f.ID)
		}
		if after.Created != before.Created+1 {
			t.Fatalf("new flow %d but Created %d -> %d", f.ID, before.Created, after.Created)
		}
		if isErr {
			t.Fatal("an ICMP error created a flow")
		}
		m.everIDs[f.ID] = true
		m.live[f.ID] = 1
	}
	if got := f.PktsToServer + f.PktsToClient; got != m.live[f.ID] {
		t.Fatalf("flow %d has %d packets, model %d", f.ID, got, m.live[f.ID])
	}
	if f.BytesToServer < f.PktsToServer*40 || f.BytesToClient < f.PktsToClient*34 {
		t.Fatalf("byte counters %d/%d below packet counts %d/%d", f.BytesToServer, f.BytesToClient, f.PktsToServer, f.PktsToClient)
	}
}

// FuzzKeyFromPacket feeds arbitrary frame bytes and offsets, as a broken or
// hostile decoder result might carry, to the key extraction (including the
// ICMP-error quote parser): it must not panic, and a key it returns must be
// well formed.
func FuzzKeyFromPacket(f *testing.F) {
	quote := make([]byte, 34+8+20+4)
	quote[34] = 3
	quote[42] = 0x45
	quote[42+9] = packet.ProtoUDP
	f.Add(quote, 34, uint8(packet.ProtoICMP), uint8(3), uint8(0), uint32(packet.FlagIPv4|packet.FlagICMPv4))
	f.Add(quote[:50], 34, uint8(packet.ProtoICMP), uint8(3), uint8(0), uint32(packet.FlagIPv4|packet.FlagICMPv4))
	f.Add([]byte{}, -1, uint8(packet.ProtoTCP), uint8(0), uint8(0), uint32(packet.FlagIPv4|packet.FlagTCP))
	f.Add([]byte{1, 2, 3}, 1<<30, uint8(packet.ProtoICMP), uint8(3), uint8(1), uint32(packet.FlagIPv6|packet.FlagICMPv4))
	f.Add(make([]byte, 80), 20, uint8(packet.ProtoICMPv6), uint8(128), uint8(1), uint32(packet.FlagIPv6|packet.FlagICMPv6))
	f.Fuzz(func(t *testing.T, data []byte, l4off int, proto, icmpType, which uint8, flags uint32) {
		p := &packet.Packet{Data: data, L4Off: l4off, IPProto: proto, ICMPType: icmpType, Flags: flags}
		switch which % 4 {
		case 0:
			p.SrcIP, p.DstIP = fuzzHosts[0], fuzzHosts[1]
		case 1:
			p.SrcIP, p.DstIP = fuzzHosts[4], fuzzHosts[5]
		case 2:
			p.SrcIP, p.DstIP = fuzzHosts[0], fuzzHosts[5]
		}
		p.SrcPort, p.DstPort = uint16(l4off), uint16(len(data))
		k, ok := KeyFromPacket(p)
		if !ok {
			return
		}
		if k.Family != Family4 && k.Family != Family6 {
			t.Fatalf("family %d", k.Family)
		}
		if k.Family == Family4 {
			for _, a := range [][16]byte{k.Src, k.Dst} {
				if !netip.AddrFrom16(a).Is4In6() {
					t.Fatalf("IPv4 key with address %x", a)
				}
			}
		}
		if !k.SrcAddr().IsValid() || !k.DstAddr().IsValid() || (k.Family == Family4) != k.SrcAddr().Is4() {
			t.Fatalf("key addresses %v %v family %d", k.SrcAddr(), k.DstAddr(), k.Family)
		}
		r := k.Reverse()
		if Hash(&k) != Hash(&r) || !sameConn(&k, &r) {
			t.Fatal("reverse key differs")
		}
		tb, err := NewTable(Config{MaxFlows: 2, HashSize: 1, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if g := tb.Lookup(p); g != nil && !sameConn(&g.Key, &k) {
			t.Fatal(fmt.Sprintf("flow key %+v, packet key %+v", g.Key, k))
		}
	})
}
