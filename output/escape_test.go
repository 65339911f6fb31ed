package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// suricataBytesString is what a JSON decoder must read back from
// appendJSONString(s): s itself when it is valid UTF-8, otherwise s with
// each byte of 0x80 or above replaced by the text \xNN.
func suricataBytesString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 {
			fmt.Fprintf(&b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// randomString mixes printable ASCII, control characters, quote and
// backslash, valid multi-byte runes and stray bytes.
func randomString(r *rand.Rand) string {
	n := r.IntN(40)
	var b []byte
	for i := 0; i < n; i++ {
		switch r.IntN(6) {
		case 0:
			b = append(b, byte(r.IntN(0x20)))
		case 1:
			b = append(b, `"\/`[r.IntN(3)])
		case 2:
			b = utf8.AppendRune(b, rune(0x80+r.IntN(0x10ff00)))
		case 3:
			b = append(b, byte(0x80+r.IntN(0x80)))
		case 4:
			b = append(b, 0x7f)
		default:
			b = append(b, byte(0x20+r.IntN(0x5f)))
		}
	}
	return string(b)
}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	out := appendJSONString(nil, s)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON for %q: %s", s, out)
	}
	for _, c := range out {
		if c < 0x20 {
			t.Fatalf("raw control byte %#x in output for %q", c, s)
		}
	}
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if want := suricataBytesString(s); got != want {
		t.Fatalf("round trip of %q: got %q want %q", s, got, want)
	}
}

func TestJSONStringEscapingProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		checkJSONString(t, randomString(r))
	}
	// Every single byte on its own and inside text.
	for c := 0; c < 256; c++ {
		checkJSONString(t, string([]byte{byte(c)}))
		checkJSONString(t, "a"+string([]byte{byte(c)})+"é")
	}
}

func TestJSONStringExactEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"":                     `""`,
		"plain":                `"plain"`,
		`q"b\s/`:               `"q\"b\\s/"`,
		"\b\t\n\f\r":           `"\b\t\n\f\r"`,
		"\x00\x01\x1f\x0b\x7f": "\"\\u0000\\u0001\\u001f\\u000b\x7f\"",
		"ünï\u2028":            "\"ünï\u2028\"",
		"a\xffb\xc3":           `"a\\xffb\\xc3"`,
		"é\xff":                `"\\xc3\\xa9\\xff"`, // invalid as a whole: every high byte as \xNN
	} {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}

func TestEVEAlertRandomStringsAlwaysValidJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var out bytes.Buffer
	p := tcp4Packet(t, []byte("payload \x00\xff"))
	for i := 0; i < 3000; i++ {
		cfg := EVEConfig{Payload: true, PayloadPrintable: true, Packet: true, Metadata: true,
			SensorName: randomString(r), Location: cet}
		e := NewEVE(&out, cfg)
		a := AlertInfo{Action: randomString(r), GID: r.Uint32(), SID: r.Uint32(), Rev: r.Uint32(),
			Signature: randomString(r), Category: randomString(r), Severity: r.IntN(1000) - 500,
			AppProto: randomString(r), HasTx: r.IntN(2) == 0, TxID: r.Uint64()}
		for k := r.IntN(6); k > 0; k-- {
			a.Metadata = append(a.Metadata, randomString(r)+" "+randomString(r))
		}
		out.Reset()
		if err := e.Alert(p, r.Uint64(), &a); err != nil {
			t.Fatal(err)
		}
		e.Flush()
		var m struct {
			Alert struct {
				Signature string `json:"signature"`
				Category  string `json:"category"`
			} `json:"alert"`
			Host string `json:"host"`
		}
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("invalid record: %v\n%q", err, out.Bytes())
		}
		if m.Alert.Signature != suricataBytesString(a.Signature) || m.Alert.Category != suricataBytesString(a.Category) ||
			(cfg.SensorName != "" && m.Host != suricataBytesString(cfg.SensorName)) {
			t.Fatalf("strings changed: %+v from %q %q %q", m, a.Signature, a.Category, cfg.SensorName)
		}
	}
}

// FuzzJSONString checks the string encoder on arbitrary input.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "abc", `"\`, "\x00\x1f\x7f", "é", "\xff\xfe", "é\xff", "\u2028\ufeff", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkJSONString(t, s)
	})
}

// FuzzAlertWriters writes EVE and fast.log alerts for packets with
// arbitrary frames, offsets and fields: no input may panic, and every EVE
// line must be valid JSON.
func FuzzAlertWriters(f *testing.F) {
	tcp := tcp4Packet(f, []byte("GET / HTTP/1.1\r\n"))
	arp := arpPacket(f)
	f.Add(tcp.Data, 54, 16, uint8(6), packet.FlagIPv4|packet.FlagTCP, uint8(0), "sig", "cat", "k v,k2 v2", uint16(80))
	f.Add(arp.Data, 0, 0, uint8(0), uint32(0), uint8(1), "SURICATA \"x\"", "", "", uint16(0))
	f.Add([]byte{}, -1, 5, uint8(58), packet.FlagIPv6|packet.FlagICMPv6, uint8(3), "\xff\x00", "\n", " , ,a", uint16(1))
	f.Add(make([]byte, 70), 60, 1<<20, uint8(200), packet.FlagIPv4|packet.FlagIPv6, uint8(255), "m", "c", "x  y", uint16(65535))
	f.Fuzz(func(t *testing.T, data []byte, off, n int, proto uint8, flags uint32, vlans uint8, sig, cat, md string, port uint16) {
		p := &packet.Packet{Data: data, TimeNs: int64(off) * 1e9, LinkType: packet.LinkType(port), Num: uint64(n),
			Origin: packet.Origin(vlans), Flags: flags, VLANCount: vlans, VLAN: [packet.MaxVLAN]uint16{port, port / 2},
			IPProto: proto, SrcPort: port, DstPort: ^port, ICMPType: vlans, ICMPCode: proto,
			PayloadOff: off, PayloadLen: n}
		if len(data) >= 4 {
			p.SrcIP = netip.AddrFrom4([4]byte(data[:4]))
		}
		if len(data) >= 16 {
			p.DstIP = netip.AddrFrom16([16]byte(data[:16]))
		}
		a := &AlertInfo{Action: cat, GID: uint32(off), SID: uint32(n), Rev: uint32(port), Signature: sig,
			Category: cat, Severity: n, Metadata: strings.Split(md, ","), Drop: flags&1 != 0,
			Stream: flags&2 != 0, HasTx: flags&4 != 0, AppProto: sig}
		var out bytes.Buffer
		e := NewEVE(&out, EVEConfig{Payload: true, PayloadPrintable: true, PayloadLength: true,
			Packet: true, Metadata: true, SensorName: md, Location: cet})
		if err := e.Alert(p, uint64(port), a); err != nil {
			t.Fatal(err)
		}
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
		line := out.Bytes()
		if len(line) == 0 || line[len(line)-1] != '\n' || bytes.Count(line, []byte{'\n'}) != 1 {
			t.Fatalf("EVE output is not one line: %q", line)
		}
		if !json.Valid(line) {
			t.Fatalf("invalid EVE JSON: %s", line)
		}
		out.Reset()
		fl := NewFastLog(&out)
		fl.SetLocation(cet)
		fl.SetIPS(flags&8 != 0)
		if err := fl.Alert(p, a); err != nil {
			t.Fatal(err)
		}
		if err := fl.Flush(); err != nil {
			t.Fatal(err)
		}
		if l := out.Bytes(); len(l) == 0 || l[len(l)-1] != '\n' {
			t.Fatalf("fast.log output does not end in a newline: %q", l)
		}
	})
}
