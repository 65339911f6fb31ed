package defrag

import (
	"bytes"
	"encoding/base64"
	"github.com/vigil-ids/vigil/internal/testpcap"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

const verifyDir = "../../../shared/conformance/suricata-verify/defrag"

// readPcap returns the link type and frames of a capture file.
func readPcap(t *testing.T, path string) (packet.LinkType, [][]byte) {
	fs := testpcap.Frames(t, path)
	if len(fs) == 0 {
		t.Fatalf("%s: no packets", path)
	}
	frames := make([][]byte, len(fs))
	for i, f := range fs {
		frames[i] = f.Data
	}
	return fs[0].Link, frames
}

var packetField = regexp.MustCompile(`packet: "([A-Za-z0-9+/=]+)"`)

// TestSuricataVerifyDefrag reassembles the pcaps of suricata-verify's defrag
// tests and compares the result with the packet Suricata logs in the alert
// (EVE "packet": the reassembled frame), then checks what the rule matches.
func TestSuricataVerifyDefrag(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(verifyDir, "*"))
	if len(dirs) == 0 {
		t.Skip("suricata-verify defrag tests not present")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			yml, err := os.ReadFile(filepath.Join(dir, "test.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			m := packetField.FindSubmatch(yml)
			if m == nil {
				t.Fatal("no packet in test.yaml")
			}
			want, err := base64.StdEncoding.DecodeString(string(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			pcaps, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
			if len(pcaps) != 1 {
				t.Fatalf("%d pcaps", len(pcaps))
			}
			lt, frames := readPcap(t, pcaps[0])
			h := newHarness(t, Config{})
			var got []byte
			for _, f := range frames {
				if r := h.feed(lt, f); r != nil {
					if got != nil {
						t.Fatal("two datagrams reassembled")
					}
					got = r
				}
			}
			if got == nil {
				t.Fatalf("nothing reassembled from %d frames (%+v)", len(frames), h.r.Stats)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("reassembled frame differs from Suricata's\n got %x\nwant %x", got, want)
			}
			// What the rule looks at: dsize:1000 or tcp.flags:S.
			var p packet.Packet
			p = packet.Packet{Data: got, LinkType: h.out.LinkType}
			h.dec.Decode(&p)
			rules, _ := os.ReadFile(filepath.Join(dir, "test.rules"))
			if !p.IsTCP() {
				t.Fatal("reassembled packet is not TCP")
			}
			if bytes.Contains(rules, []byte("dsize:1000")) && p.PayloadLen != 1000 {
				t.Errorf("dsize %d, rule wants 1000", p.PayloadLen)
			}
			if bytes.Contains(rules, []byte("tcp.flags:S")) && p.TCPFlags != packet.TCPSyn {
				t.Errorf("tcp flags %#x, rule wants S", p.TCPFlags)
			}
		})
	}
}

// TestSuricataVerifyIPv6Evasion checks the defrag events the ipv6-evasion
// tests' rules alert on.
func TestSuricataVerifyIPv6Evasion(t *testing.T) {
	base := filepath.Join(verifyDir, "..", "ipv6-evasion")
	for _, tc := range []struct {
		dir, pcap string
		ev        string
	}{
		{"ipv6-malformed-fragments-1", "frag-1.pcap", "overlap"},
		{"ipv6-malformed-fragments-3", "frag-3.pcap", "overlap"},
		{"ipv6-malformed-fragments-7", "frag-7.pcap", "overlap"},
		{"ipv6-malformed-fragments-16", "frag-16.pcap", "too_large"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			path := filepath.Join(base, tc.dir, tc.pcap)
			if _, err := os.Stat(path); err != nil {
				t.Skip("not present")
			}
			lt, frames := readPcap(t, path)
			h := newHarness(t, Config{})
			n := 0
			for _, f := range frames {
				h.feed(lt, f)
				if (tc.ev == "overlap" && h.has(decodeEvV6Overlap)) || (tc.ev == "too_large" && h.has(decodeEvV6TooLarge)) {
					n++
				}
			}
			if n == 0 {
				t.Errorf("no ipv6.frag_%s event in %d frames (%+v)", tc.ev, len(frames), h.r.Stats)
			}
			t.Logf("%d packets with the event, stats %+v", n, h.r.Stats)
		})
	}
}
