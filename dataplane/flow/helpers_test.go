package flow

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

const sec = int64(1e9)

// pkt builds a packet as the decoder would leave it: IP addresses, protocol,
// ports (or ICMP type), flags announcing the decoded layers, a frame of
// frameLen bytes.
func pkt(src, dst string, proto uint8, sp, dp uint16) *packet.Packet {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	p := &packet.Packet{Data: make([]byte, 60), SrcIP: s, DstIP: d, IPProto: proto, SrcPort: sp, DstPort: dp}
	if s.Is4() {
		p.Flags |= packet.FlagIPv4
		p.EtherType = 0x0800
	} else {
		p.Flags |= packet.FlagIPv6
		p.EtherType = 0x86dd
	}
	switch proto {
	case packet.ProtoTCP:
		p.Flags |= packet.FlagTCP
	case packet.ProtoUDP:
		p.Flags |= packet.FlagUDP
	case packet.ProtoICMP:
		p.Flags |= packet.FlagICMPv4
		p.ICMPType, p.ICMPCode = uint8(sp), uint8(dp)
		p.SrcPort, p.DstPort = 0, 0
	case packet.ProtoICMPv6:
		p.Flags |= packet.FlagICMPv6
		p.ICMPType, p.ICMPCode = uint8(sp), uint8(dp)
		p.SrcPort, p.DstPort = 0, 0
	}
	return p
}

func tcpPkt(src, dst string, sp, dp uint16, flags uint8, ts int64) *packet.Packet {
	p := pkt(src, dst, packet.ProtoTCP, sp, dp)
	p.TCPFlags = flags
	p.TimeNs = ts
	return p
}

func at(p *packet.Packet, ts int64) *packet.Packet { p.TimeNs = ts; return p }

func newTable(t testing.TB, cfg Config) *Table {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 12345
	}
	tb, err := NewTable(cfg)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tb
}

func mustLookup(t *testing.T, tb *Table, p *packet.Packet) *Flow {
	t.Helper()
	f := tb.Lookup(p)
	if f == nil {
		t.Fatalf("Lookup(%v:%d -> %v:%d proto %d) = nil, flags %#x, stats %+v",
			p.SrcIP, p.SrcPort, p.DstIP, p.DstPort, p.IPProto, p.Flags, tb.Stats())
	}
	if err := tb.check(); err != nil {
		t.Fatalf("table inconsistent after Lookup: %v", err)
	}
	return f
}

// dir returns "ts", "tc", or an error text when the packet does not carry
// exactly one direction flag.
func dir(p *packet.Packet) string {
	ts, tc := p.Flags&packet.FlagToServer != 0, p.Flags&packet.FlagToClient != 0
	switch {
	case ts && !tc:
		return "ts"
	case tc && !ts:
		return "tc"
	}
	return fmt.Sprintf("bad direction flags %#x", p.Flags)
}

// check verifies the table's internal structure: every live flow is in its
// bucket chain once and in the timeout list of its class and state, free
// slots are in the free list, no connection has two live flows, and the
// counters add up.
func (t *Table) check() error {
	live := 0
	conns := map[Key]uint64{}
	for _, c := range t.chunks {
		for i := range c {
			f := &c[i]
			if f.list == listFree {
				continue
			}
			live++
			if f.list != listIndex(f.Proto, f.State) {
				return fmt.Errorf("flow %d on list %d, want %d (proto %v state %v)", f.ID, f.list, listIndex(f.Proto, f.State), f.Proto, f.State)
			}
			if h := HashSeed(&f.Key, t.seed); h != f.hash {
				return fmt.Errorf("flow %d hash %#x, key hashes to %#x", f.ID, f.hash, h)
			}
			n := 0
			for j := t.buckets[f.hash&t.mask]; j != 0; j = t.flow(j).hnext {
				if j == f.self {
					n++
				}
				if t.flow(j).list == listFree {
					return fmt.Errorf("free slot %d in bucket chain", j)
				}
			}
			if n != 1 {
				return fmt.Errorf("flow %d found %d times in its bucket chain", f.ID, n)
			}
			if id, dup := conns[f.Key]; dup {
				return fmt.Errorf("flows %d and %d have the same connection %+v", id, f.ID, f.Key)
			}
			if id, dup := conns[f.Key.Reverse()]; dup {
				return fmt.Errorf("flows %d and %d have the same connection %+v", id, f.ID, f.Key)
			}
			conns[f.Key] = f.ID
			if f.LastNs < f.StartNs {
				return fmt.Errorf("flow %d LastNs %d < StartNs %d", f.ID, f.LastNs, f.StartNs)
			}
			if f.ID == 0 || f.ID >= 1<<53 {
				return fmt.Errorf("flow id %d out of range", f.ID)
			}
		}
	}
	if uint64(live) != t.stats.Active {
		return fmt.Errorf("%d live slots, Active %d", live, t.stats.Active)
	}
	inLists := 0
	for l := range t.lists {
		var prev uint32
		for j := t.lists[l].head; j != 0; j = t.flow(j).tnext {
			f := t.flow(j)
			if int(f.list) != l {
				return fmt.Errorf("flow %d on list %d says list %d", f.ID, l, f.list)
			}
			if f.tprev != prev {
				return fmt.Errorf("list %d: flow %d tprev %d, want %d", l, f.ID, f.tprev, prev)
			}
			if f.queuedNs > f.LastNs {
				return fmt.Errorf("flow %d queued at %d after its last packet %d", f.ID, f.queuedNs, f.LastNs)
			}
			prev = j
			inLists++
			if inLists > live {
				return fmt.Errorf("timeout lists hold more entries than live flows (cycle?)")
			}
		}
		if t.lists[l].tail != prev {
			return fmt.Errorf("list %d tail %d, last entry %d", l, t.lists[l].tail, prev)
		}
	}
	if inLists != live {
		return fmt.Errorf("%d flows in timeout lists, %d live", inLists, live)
	}
	nfree := 0
	for j := t.free; j != 0; j = t.flow(j).hnext {
		if t.flow(j).list != listFree {
			return fmt.Errorf("live slot %d in free list", j)
		}
		nfree++
		if nfree > int(t.alloc) {
			return fmt.Errorf("free list longer than the pool (cycle?)")
		}
	}
	if nfree+live != int(t.alloc) {
		return fmt.Errorf("free %d + live %d != allocated %d", nfree, live, t.alloc)
	}
	if t.alloc > t.maxFlows {
		return fmt.Errorf("allocated %d above cap %d", t.alloc, t.maxFlows)
	}
	s := t.stats
	if ended := s.Active + s.ExpiredNew + s.ExpiredEstablished + s.ExpiredClosed + s.Reused + s.Flushed; ended != s.Created {
		return fmt.Errorf("created %d != active+ended %d (%+v)", s.Created, ended, s)
	}
	return nil
}
