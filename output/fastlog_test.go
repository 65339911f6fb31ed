package output

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

func TestFastLogGolden(t *testing.T) {
	polX := AlertInfo{GID: 1, SID: 2000001, Rev: 2, Signature: "ET POLICY x", Severity: 1, Drop: true}
	noNum := func(t testing.TB) *packet.Packet { p := arpPacket(t); p.Num = 0; return p }
	cases := []struct {
		name  string
		ips   bool
		pkt   func(t testing.TB) *packet.Packet
		alert AlertInfo
		want  string
	}{
		{"tcp4", false, func(t testing.TB) *packet.Packet { return tcp4Packet(t, nil) }, gplRoot,
			"11/24/2009-21:26:03.604227  [**] [1:2100498:7] GPL ATTACK_RESPONSE id check returned root [**] [Classification: Potentially Bad Traffic] [Priority: 2] {TCP} 1.2.3.4:80 -> 5.6.6.7:1234"},
		{"tcp6-drop-ips", true, func(t testing.TB) *packet.Packet { return tcp6Packet(t, nil) }, polX,
			"11/24/2009-21:26:03.604227  [Drop] [**] [1:2000001:2] ET POLICY x [**] [Classification: (null)] [Priority: 1] {TCP} 2001:0db8:0000:0000:0000:0000:0000:0010:51000 -> 2001:0db8:0000:0001:0000:0000:0000:0080:80"},
		{"tcp6-drop-ids", false, func(t testing.TB) *packet.Packet { return tcp6Packet(t, nil) }, polX,
			"11/24/2009-21:26:03.604227  [wDrop] [**] [1:2000001:2] ET POLICY x [**] [Classification: (null)] [Priority: 1] {TCP} 2001:0db8:0000:0000:0000:0000:0000:0010:51000 -> 2001:0db8:0000:0001:0000:0000:0000:0080:80"},
		{"udp4", false, func(t testing.TB) *packet.Packet { return udp4Packet(t, []byte("x")) },
			AlertInfo{GID: 1, SID: 1000001, Rev: 3, Signature: "LOCAL udp test", Category: "Misc activity", Severity: 3},
			"11/24/2009-21:26:03.604227  [**] [1:1000001:3] LOCAL udp test [**] [Classification: Misc activity] [Priority: 3] {UDP} 10.0.0.1:5353 -> 10.0.0.2:53"},
		{"icmp4-type-code-as-ports", false, icmp4VLANPacket,
			AlertInfo{GID: 1, SID: 2100366, Rev: 8, Signature: "GPL ICMP PING *NIX", Category: "Misc activity", Severity: 3},
			"11/24/2009-21:26:03.604227  [**] [1:2100366:8] GPL ICMP PING *NIX [**] [Classification: Misc activity] [Priority: 3] {ICMP} 192.168.1.2:8 -> 192.168.1.1:0"},
		{"icmp6", false, icmp6Packet,
			AlertInfo{GID: 1, SID: 3000001, Rev: 1, Signature: "LOCAL ICMPv6 echo", Category: "Misc activity", Severity: 3},
			"11/24/2009-21:26:03.604227  [**] [1:3000001:1] LOCAL ICMPv6 echo [**] [Classification: Misc activity] [Priority: 3] {IPv6-ICMP} 2001:0db8:0000:0000:0000:0000:0000:0001:128 -> fe80:0000:0000:0000:0202:b3ff:fe1e:8329:0"},
		{"gre", false, func(t testing.TB) *packet.Packet { return otherProtoPacket(47) },
			AlertInfo{GID: 1, SID: 10, Rev: 1, Signature: "gre", Severity: 3},
			"11/24/2009-21:26:03.604227  [**] [1:10:1] gre [**] [Classification: (null)] [Priority: 3] {GRE} 10.1.1.1:0 -> 10.2.2.2:0"},
		{"unnamed-proto", false, func(t testing.TB) *packet.Packet { return otherProtoPacket(200) },
			AlertInfo{GID: 1, SID: 11, Rev: 1, Signature: "p200", Severity: 3},
			"11/24/2009-21:26:03.604227  [**] [1:11:1] p200 [**] [Classification: (null)] [Priority: 3] {PROTO:200} 10.1.1.1:0 -> 10.2.2.2:0"},
		{"non-ip", false, arpPacket,
			AlertInfo{GID: 1, SID: 2200000, Rev: 1, Signature: "SURICATA ARP invalid", Category: "Generic Protocol Command Decode", Severity: 3},
			"11/24/2009-21:26:03.604227  [**] [1:2200000:1] SURICATA ARP invalid [**] [Classification: Generic Protocol Command Decode] [Priority: 3] [**] [Raw pkt: FF FF FF FF FF FF 00 11 22 33 44 55 08 06 00 01 08 00 06 04 00 01 00 11 22 33 44 55 0A 00 00 01 ] [pcap file packet: 9]"},
		{"non-ip-no-number", true, noNum,
			AlertInfo{GID: 1, SID: 2200000, Rev: 1, Signature: "SURICATA ARP invalid", Severity: 3, Drop: true},
			"11/24/2009-21:26:03.604227  [Drop] [**] [1:2200000:1] SURICATA ARP invalid [**] [Classification: (null)] [Priority: 3] [**] [Raw pkt: FF FF FF FF FF FF 00 11 22 33 44 55 08 06 00 01 08 00 06 04 00 01 00 11 22 33 44 55 0A 00 00 01 ]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			f := NewFastLog(&out)
			f.SetLocation(cet)
			f.SetIPS(c.ips)
			a := c.alert
			if err := f.Alert(c.pkt(t), &a); err != nil {
				t.Fatal(err)
			}
			if out.Len() != 0 {
				t.Fatal("line reached the writer before Flush")
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != c.want+"\n" {
				t.Errorf("line mismatch\n got: %q\nwant: %q", got, c.want+"\n")
			}
		})
	}
}

func TestFastLogErrorsAndFile(t *testing.T) {
	f := NewFastLog(&flakyWriter{fail: 1 << 30})
	f.SetLocation(nil)
	if err := f.Alert(tcp4Packet(t, nil), &gplRoot); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "fast.log") {
		t.Errorf("Flush = %v, want a fast.log error wrapping disk full", err)
	}
	if f.Lost() != 1 {
		t.Errorf("Lost = %d, want 1", f.Lost())
	}
	if err := f.Alert(nil, &gplRoot); err == nil {
		t.Error("nil packet: want error")
	}

	path := filepath.Join(t.TempDir(), "fast.log")
	fl, err := OpenFastLog(path)
	if err != nil {
		t.Fatal(err)
	}
	fl.SetLocation(cet)
	if err := fl.Alert(tcp4Packet(t, nil), &gplRoot); err != nil {
		t.Fatal(err)
	}
	if err := fl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fl.Alert(tcp4Packet(t, nil), &gplRoot); !errors.Is(err, ErrClosed) {
		t.Errorf("Alert after Close = %v, want ErrClosed", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "11/24/2009-21:26:03.604227  [**] [1:2100498:7]") {
		t.Errorf("file content %q", data)
	}
	if _, err := OpenFastLog(filepath.Join(path, "sub")); err == nil {
		t.Error("OpenFastLog below a regular file: want error")
	}
}
