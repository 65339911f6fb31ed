package gen

import (
	"errors"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// frame is one generated frame, copied.
type frame struct {
	data []byte
	ts   int64
}

// loadScenario loads a bundled scenario (or YAML text when it contains a
// newline) with flows set (0: keep).
func loadScenario(t testing.TB, nameOrYAML string, flows int) *Scenario {
	t.Helper()
	var sc *Scenario
	var err error
	if strings.Contains(nameOrYAML, "\n") {
		sc, err = Parse([]byte(nameOrYAML), "test")
	} else {
		sc, err = Load(nameOrYAML)
	}
	if err != nil {
		t.Fatal(err)
	}
	if flows > 0 {
		sc.Flows = flows
		if err := sc.Normalize(); err != nil {
			t.Fatal(err)
		}
	}
	return sc
}

// generate runs a generator over sc to the end and returns its frames and
// manifest.
func generate(t testing.TB, sc *Scenario) ([]frame, *Manifest) {
	t.Helper()
	g, err := New(sc, Options{Manifest: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxFrameLen)
	var out []frame
	for {
		n, ts, err := g.Next(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame{append([]byte(nil), buf[:n]...), ts})
	}
	m := g.Manifest()
	m.Sort()
	return out, m
}

// decodeFrame decodes an Ethernet frame with checksum validation.
func decodeFrame(d *decode.Decoder, b []byte) *packet.Packet {
	p := &packet.Packet{Data: b, WireLen: len(b), LinkType: packet.LinkEthernet}
	d.Decode(p)
	return p
}

// events lists a packet's decoder event names.
func events(p *packet.Packet) []string {
	var out []string
	for i := uint8(0); i < p.NumEvents; i++ {
		out = append(out, decode.EventName(p.Events[i]))
	}
	return out
}

// tupleKey identifies a flow by its client endpoint (unique per run).
type tupleKey struct {
	ip   netip.Addr
	port uint16
}

// clientOf returns the client side of a decoded packet given the set of
// server ports.
func clientKey(p *packet.Packet, serverPorts map[uint16]bool) tupleKey {
	if serverPorts[p.DstPort] && !serverPorts[p.SrcPort] {
		return tupleKey{p.SrcIP, p.SrcPort}
	}
	if serverPorts[p.SrcPort] && !serverPorts[p.DstPort] {
		return tupleKey{p.DstIP, p.DstPort}
	}
	if p.SrcPort > p.DstPort {
		return tupleKey{p.SrcIP, p.SrcPort}
	}
	return tupleKey{p.DstIP, p.DstPort}
}

// need skips the test when a program is missing.
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s not installed", prog)
	}
	return p
}
