package flow_test

import (
	"fmt"
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// A worker looks up every decoded packet, calls Expire once per second of
// packet time and Flush at the end of input; ended flows become EVE flow
// records.
func Example() {
	cfg := flow.DefaultConfig()
	cfg.Seed = 1 // fixed for the example; leave 0 for a random seed
	record := func(f *flow.Flow) {
		fmt.Printf("flow %s:%d -> %s:%d state=%v reason=%v pkts=%d/%d\n",
			f.Key.SrcAddr(), f.Key.SrcPort, f.Key.DstAddr(), f.Key.DstPort,
			f.State, f.Reason, f.PktsToServer, f.PktsToClient)
	}
	cfg.OnEnd = record
	table, err := flow.NewTable(cfg)
	if err != nil {
		panic(err)
	}
	udp := func(src, dst string, sp, dp uint16, sec int64) *packet.Packet {
		return &packet.Packet{
			Data: make([]byte, 80), TimeNs: sec * 1e9, Flags: packet.FlagIPv4 | packet.FlagUDP,
			SrcIP: netip.MustParseAddr(src), DstIP: netip.MustParseAddr(dst),
			IPProto: packet.ProtoUDP, SrcPort: sp, DstPort: dp,
		}
	}
	q := udp("10.0.0.1", "10.0.0.53", 33000, 53, 100)
	r := udp("10.0.0.53", "10.0.0.1", 53, 33000, 100)
	table.Lookup(q)
	table.Lookup(r)
	fmt.Println(q.Flags&packet.FlagToServer != 0, r.Flags&packet.FlagToClient != 0, r.Flags&packet.FlagEstablished != 0)

	table.Lookup(udp("10.0.0.2", "10.0.0.53", 33001, 53, 101))
	table.Expire(200, record) // nothing idle long enough yet
	table.Expire(132e9, record)
	table.Flush(record)
	// Output:
	// true true true
	// flow 10.0.0.2:33001 -> 10.0.0.53:53 state=new reason=timeout pkts=1/0
	// flow 10.0.0.1:33000 -> 10.0.0.53:53 state=established reason=shutdown pkts=1/1
}
