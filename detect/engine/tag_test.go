package engine

import (
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// tagRun inspects the packets in order and returns, per packet, whether it
// alerted ("A"), was tagged ("T"), both ("AT") or neither (".").
func tagRun(t *testing.T, e *Engine, pkts []*packet.Packet, flows []*flow.Flow) string {
	t.Helper()
	th := e.NewThread()
	var out []string
	for i, p := range pkts {
		s := ""
		if len(th.Inspect(p, flows[i])) > 0 {
			s += "A"
		}
		if th.Tagged() {
			s += "T"
		}
		if s == "" {
			s = "."
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestTagSession(t *testing.T) {
	f1, f2 := &flow.Flow{ID: 1}, &flow.Flow{ID: 2}
	mk := func(payload string, ns int64) *packet.Packet {
		p := tcp(payload).build()
		p.TimeNs = ns
		return p
	}
	const sec = int64(1e9)
	cases := []struct {
		name, tag string
		pkts      []*packet.Packet
		flows     []*flow.Flow
		want      string
	}{
		{"packets", "tag:session,2,packets;",
			[]*packet.Packet{mk("a", 0), mk("evil", 1), mk("b", 2), mk("c", 3), mk("d", 4)},
			[]*flow.Flow{f1, f1, f1, f1, f1}, ". A T T ."},
		{"other flow not tagged", "tag:session,5,packets;",
			[]*packet.Packet{mk("evil", 0), mk("b", 1), mk("c", 2)},
			[]*flow.Flow{f1, f2, f1}, "A . T"},
		{"default 256 packets", "tag:session;",
			[]*packet.Packet{mk("evil", 0), mk("b", 1)},
			[]*flow.Flow{f1, f1}, "A T"},
		{"seconds", "tag:session,2,seconds;",
			[]*packet.Packet{mk("evil", 10*sec), mk("b", 11*sec), mk("c", 12*sec-1), mk("d", 12*sec)},
			[]*flow.Flow{f1, f1, f1, f1}, "A T T ."},
		{"bytes", "tag:session,100,bytes;",
			[]*packet.Packet{mk("evil", 0), mk("b", 1), mk("c", 2), mk("d", 3)},
			// Frames are 54 header bytes + payload: 55 + 55 >= 100.
			[]*flow.Flow{f1, f1, f1, f1}, "A T T ."},
		{"alert again extends", "tag:session,1,packets;",
			[]*packet.Packet{mk("evil", 0), mk("evil", 1), mk("b", 2), mk("c", 3)},
			[]*flow.Flow{f1, f1, f1, f1}, "A AT T ."},
		{"no flow: no session tag", "tag:session,3,packets;",
			[]*packet.Packet{mk("evil", 0), mk("b", 1)},
			[]*flow.Flow{nil, nil}, "A ."},
	}
	for _, c := range cases {
		e := compile(t, `alert tcp any any -> any any (msg:"t"; content:"evil"; `+c.tag+` sid:1;)`)
		if got := tagRun(t, e, c.pkts, c.flows); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestTagHost(t *testing.T) {
	mk := func(src, dst, payload string) *packet.Packet {
		q := tcp(payload)
		q.src, q.dst = src, dst
		return q.build()
	}
	e := compile(t, `alert tcp any any -> any any (msg:"t"; content:"evil"; tag:host,2,packets,src; sid:1;)`)
	pkts := []*packet.Packet{
		mk("10.0.0.1", "10.0.0.2", "evil"),
		mk("10.0.0.3", "10.0.0.4", "x"), // other hosts
		mk("10.0.0.9", "10.0.0.1", "x"), // to the tagged host
		mk("10.0.0.1", "10.0.0.7", "x"), // from it
		mk("10.0.0.1", "10.0.0.7", "x"), // count used up
	}
	if got := tagRun(t, e, pkts, make([]*flow.Flow, len(pkts))); got != "A . T T ." {
		t.Errorf("host src: got %q", got)
	}
	// Default host direction is dst; host tags are shared by threads.
	e = compile(t, `alert tcp any any -> any any (msg:"t"; content:"evil"; tag:host; sid:1;)`)
	th1, th2 := e.NewThread(), e.NewThread()
	th1.Inspect(mk("10.0.0.1", "10.0.0.2", "evil"), nil)
	th2.Inspect(mk("10.0.0.5", "10.0.0.2", "x"), nil)
	if !th2.Tagged() {
		t.Error("host tag on the destination not seen by another thread")
	}
	th2.Inspect(mk("10.0.0.1", "10.0.0.5", "x"), nil)
	if th2.Tagged() {
		t.Error("source of the alert tagged by a dst host tag")
	}
	if c := th2.Counters(); c.Tagged != 1 {
		t.Errorf("Counters.Tagged = %d, want 1", c.Tagged)
	}
}

func TestTagParse(t *testing.T) {
	for _, c := range []struct{ opts, err string }{
		{`tag:session,10,packets;`, ""},
		{`tag:host,60,seconds,src;`, ""},
		{`tag:host,100,bytes,dst;`, ""},
		{`tag:session,10,packets,src;`, "only valid with tag:host"},
		{`tag:flow;`, `unknown tag type "flow"`},
		{`tag:session,0,packets;`, "invalid count"},
		{`tag:session,10,frames;`, `unknown metric "frames"`},
		{`tag:session,10;`, "invalid value"},
		{`tag:host,10,packets,both;`, `unknown direction "both"`},
	} {
		_, errs := Compile(parse(t, rule(c.opts)), Config{})
		switch {
		case c.err == "" && len(errs) > 0:
			t.Errorf("%s: %v", c.opts, errs[0])
		case c.err != "" && (len(errs) == 0 || !strings.Contains(errs[0].Error(), c.err)):
			t.Errorf("%s: errors %v, want %q", c.opts, errs, c.err)
		}
	}
}

// TestTagAllocs: checking and counting tags allocates nothing per packet.
func TestTagAllocs(t *testing.T) {
	e := compile(t, `alert tcp any any -> any any (msg:"t"; content:"evil"; tag:session,1000000,packets; tag:host,1000000,packets; sid:1;)`)
	th := e.NewThread()
	f := &flow.Flow{ID: 7}
	th.Inspect(tcp("evil").build(), f)
	p := tcp("plain").build()
	n := testing.AllocsPerRun(200, func() {
		th.Inspect(p, f)
		if !th.Tagged() {
			t.Fatal("not tagged")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per tagged packet", n)
	}
}
