package gen

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// writeScenario generates sc into dir/name and returns the path and the
// manifest.
func writeScenario(t *testing.T, sc *Scenario, dir, name string) (string, *Manifest) {
	t.Helper()
	g, err := New(sc, Options{Manifest: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if _, _, err := WriteCapture(g, path); err != nil {
		t.Fatal(err)
	}
	m := g.Manifest()
	m.Sort()
	return path, m
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// capinfos reads pcap and pcapng output, with the frame count the
// generator reports.
func TestCapinfosReadsOutput(t *testing.T) {
	capinfos := need(t, "capinfos")
	dir := t.TempDir()
	for _, name := range []string{"out.pcap", "out.pcapng"} {
		path, m := writeScenario(t, loadScenario(t, "web-mix", 300), dir, name)
		out := runTool(t, capinfos, "-c", "-M", path)
		if !strings.Contains(out, fmt.Sprintf("Number of packets:   %d", m.Frames)) {
			t.Fatalf("%s: capinfos does not count %d packets:\n%s", name, m.Frames, out)
		}
		if strings.HasSuffix(name, "ng") != strings.Contains(runTool(t, capinfos, "-t", path), "pcapng") {
			t.Fatalf("%s: wrong file type", name)
		}
	}
}

// tshark, with checksum validation on, finds no bad checksum, malformed
// packet or error in web-mix, and its HTTP URI, DNS query name and TLS SNI
// fields equal the manifest's, flow by flow.
func TestTsharkAgreesWithManifest(t *testing.T) {
	tshark := need(t, "tshark")
	if testing.Short() {
		t.Skip("tshark run takes a while")
	}
	dir := t.TempDir()
	path, m := writeScenario(t, loadScenario(t, "web-mix", 1500), dir, "web.pcap")
	check := []string{"-n", "-r", path, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"}
	bad := runTool(t, tshark, append(check, "-T", "fields", "-e", "frame.number", "-Y",
		`_ws.malformed || _ws.expert.severity >= "warning" || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad"`)...)
	if lines := strings.Fields(bad); len(lines) > 0 {
		t.Fatalf("tshark flags %d frames (bad checksum, malformed, warning), first %s", len(lines), lines[0])
	}
	// Checksums were validated, not skipped.
	out := runTool(t, tshark, append(check, "-T", "fields", "-e", "frame.number", "-Y", `tcp.checksum.status == "Good"`, "-c", "50")...)
	if len(strings.Fields(out)) == 0 {
		t.Fatal("tshark validated no TCP checksum at all")
	}
	type vals struct{ uris, queries, sni []string }
	got := map[tupleKey]*vals{}
	fields := runTool(t, tshark, "-n", "-r", path, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f",
		"-Y", "http.request || (dns && dns.flags.response == 0) || tls.handshake.type == 1",
		"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "udp.srcport",
		"-e", "http.request.uri", "-e", "dns.qry.name", "-e", "tls.handshake.extensions_server_name")
	for _, line := range strings.Split(strings.TrimSpace(fields), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 7 {
			t.Fatalf("tshark line %q", line)
		}
		ip := f[0]
		if ip == "" {
			ip = f[1]
		}
		ps := f[2]
		if ps == "" {
			ps = f[3]
		}
		port, err := strconv.Atoi(ps)
		if err != nil {
			t.Fatalf("tshark line %q: %v", line, err)
		}
		k := tupleKey{netip.MustParseAddr(ip), uint16(port)}
		v := got[k]
		if v == nil {
			v = &vals{}
			got[k] = v
		}
		switch {
		case f[4] != "":
			v.uris = append(v.uris, f[4])
		case f[5] != "":
			v.queries = append(v.queries, f[5])
		case f[6] != "":
			v.sni = append(v.sni, f[6])
		}
	}
	n := map[string]int{}
	for _, fr := range m.Flows {
		k := tupleKey{netip.MustParseAddr(fr.SrcIP), fr.SrcPort}
		v := got[k]
		if v == nil {
			v = &vals{}
		}
		want := vals{uris: fr.URIs, queries: fr.Queries}
		if fr.SNI != "" {
			want.sni = []string{fr.SNI}
		}
		if !slices.Equal(v.uris, want.uris) || !slices.Equal(v.queries, want.queries) || !slices.Equal(v.sni, want.sni) {
			t.Fatalf("flow %d (%s %s:%d): tshark %+v, manifest %+v", fr.Flow, fr.App, fr.SrcIP, fr.SrcPort, *v, want)
		}
		n["uri"] += len(v.uris)
		n["query"] += len(v.queries)
		n["sni"] += len(v.sni)
	}
	if n["uri"] < 500 || n["query"] < 200 || n["sni"] < 200 {
		t.Fatalf("too few values compared: %v", n)
	}
	t.Logf("tshark agrees on %v", n)
}
