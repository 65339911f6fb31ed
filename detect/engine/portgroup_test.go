package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// TestPortGroups compares Inspect, which looks signatures up by the
// packet's server-side port, with full evaluation on random ports, for
// port-restricted rules of every kind.
func TestPortGroups(t *testing.T) {
	portFields := []string{
		"any", "80", "[80,443]", "[1024:]", "[:1023]", "!80", "![80,8080]", "$HTTP_PORTS",
		"[1:10,20:30]", "[0:65535]", "[100:200,!150]", "65535", "0", "[79:81]", "![1:65534]",
	}
	dirs := []string{"", "flow:to_server;", "flow:to_client;"}
	var lines []string
	sid := 1
	for _, sp := range portFields {
		for _, dp := range portFields {
			for _, d := range dirs {
				for _, proto := range []string{"tcp", "udp"} {
					arrow := "->"
					if sid%7 == 0 {
						arrow = "<>"
					}
					opts := `content:"x";`
					if sid%3 == 0 {
						opts = "" // no prefilter: always list
					}
					lines = append(lines, fmt.Sprintf(`alert %s any %s %s any %s (msg:"p"; %s %s sid:%d;)`,
						proto, sp, arrow, dp, opts, d, sid))
					sid++
				}
			}
		}
	}
	e := compile(t, lines...)
	nsub := 0
	for _, gs := range e.Groups() {
		nsub += gs.PortGroups
	}
	if nsub == 0 {
		t.Fatal("no port subgroups built")
	}
	th := e.NewThread()
	r := rand.New(rand.NewPCG(7, 8))
	special := []uint16{0, 1, 10, 11, 79, 80, 81, 149, 150, 151, 443, 1023, 1024, 8080, 65534, 65535}
	port := func() uint16 {
		if r.IntN(2) == 0 {
			return special[r.IntN(len(special))]
		}
		return uint16(r.IntN(65536))
	}
	alertsSeen := 0
	for i := 0; i < 4000; i++ {
		q := pkt{proto: packet.ProtoTCP, sp: port(), dp: port(), payload: "x"}
		if r.IntN(2) == 0 {
			q.proto = packet.ProtoUDP
		}
		switch r.IntN(3) {
		case 1:
			q.flags = packet.FlagToServer
		case 2:
			q.flags = packet.FlagToClient
		}
		if r.IntN(4) == 0 {
			q.payload = ""
		}
		p := q.build()
		got := sids(th.Inspect(p, nil))
		slices.Sort(got)
		// Full evaluation ignores PacketAlertMax: compare against the
		// complete candidate result through the hits.
		want := fullEval(e, th, p)
		slices.Sort(want)
		gotAll := make([]uint32, 0, len(th.hits))
		for _, num := range th.hits {
			gotAll = append(gotAll, e.sigs[num].SID)
		}
		slices.Sort(gotAll)
		if !slices.Equal(gotAll, want) {
			t.Fatalf("packet %s sp %d dp %d flags %#x payload %q: Inspect matched %v, full evaluation %v",
				map[uint8]string{packet.ProtoTCP: "tcp", packet.ProtoUDP: "udp"}[q.proto], q.sp, q.dp, q.flags, q.payload, gotAll, want)
		}
		alertsSeen += len(got)
	}
	if alertsSeen == 0 {
		t.Fatal("no alerts at all: the test does not exercise matching")
	}
}
