package decode

import (
	"encoding/base64"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// ipv4GRE is an IPv4 header (no options) carrying gre.
func ipv4GRE(gre []byte) []byte {
	h := []byte{0x45, 0, 0, 0, 0, 1, 0, 0, 64, 47, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}
	n := len(h) + len(gre)
	h[2], h[3] = byte(n>>8), byte(n)
	return cat(h, gre)
}

// ipv6GRE is an IPv6 header carrying gre.
func ipv6GRE(gre []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	h[4], h[5] = byte(len(gre)>>8), byte(len(gre))
	h[6], h[7] = 47, 64
	h[8], h[23] = 0xfd, 1
	h[24], h[39] = 0xfd, 2
	return cat(h, gre)
}

func TestGRE(t *testing.T) {
	ipPayload := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	cases := []struct {
		name string
		gre  []byte
		ev   packet.EventID // 0: valid
	}{
		{"v0 plain", cat([]byte{0x00, 0x00, 0x08, 0x00}, ipPayload), 0},
		{"v0 key seq csum", cat([]byte{0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2}, ipPayload), 0},
		{"v0 routing", cat([]byte{0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0}, ipPayload), 0},
		{"v1 pptp", []byte{0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0x03, 0, 0x21}, 0},
		{"too small", []byte{0x00, 0x00}, EvGREPktTooSmall},
		{"wrong version", []byte{0x00, 0x02, 0x08, 0x00}, EvGREWrongVersion},
		{"v0 recur", []byte{0x01, 0x00, 0x08, 0x00}, EvGREVersion0Recur},
		{"v0 flags", []byte{0x00, 0x08, 0x08, 0x00}, EvGREVersion0Flags},
		{"v0 hdr too big", []byte{0x20, 0x00, 0x08, 0x00, 0, 0}, EvGREVersion0HdrTooBig},
		{"v0 sre cut", []byte{0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0x08, 0x00}, EvGREVersion0MalformedSREHdr},
		{"v0 sre too long", []byte{0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0x08, 0x00, 0, 40, 1, 2}, EvGREVersion0MalformedSREHdr},
		{"v1 csum", []byte{0xa0, 0x01, 0x88, 0x0b, 0, 0, 0, 0}, EvGREVersion1Chksum},
		{"v1 route", []byte{0x60, 0x01, 0x88, 0x0b, 0, 0, 0, 0}, EvGREVersion1Route},
		{"v1 ssr", []byte{0x28, 0x01, 0x88, 0x0b, 0, 0, 0, 0}, EvGREVersion1SSR},
		{"v1 recur", []byte{0x21, 0x01, 0x88, 0x0b, 0, 0, 0, 0}, EvGREVersion1Recur},
		{"v1 flags", []byte{0x20, 0x09, 0x88, 0x0b, 0, 0, 0, 0}, EvGREVersion1Flags},
		{"v1 wrong proto", []byte{0x20, 0x01, 0x08, 0x00, 0, 0, 0, 0}, EvGREVersion1WrongProtocol},
		{"v1 no key", []byte{0x00, 0x01, 0x88, 0x0b, 0, 0, 0, 0}, EvGREVersion1NoKey},
		{"v1 hdr too big", []byte{0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1}, EvGREVersion1HdrTooBig},
	}
	for _, c := range cases {
		for _, v6 := range []bool{false, true} {
			frame, lt := ipv4GRE(c.gre), packet.LinkIPv4
			if v6 {
				frame, lt = ipv6GRE(c.gre), packet.LinkIPv6
			}
			p, d := decodeFrame(t, lt, frame)
			if d.Stats.GRE != 1 || p.IPProto != 47 {
				t.Errorf("%s (v6 %v): GRE count %d proto %d", c.name, v6, d.Stats.GRE, p.IPProto)
			}
			if c.ev == 0 {
				if p.NumEvents != 0 || p.Flags&packet.FlagMalformed != 0 {
					t.Errorf("%s (v6 %v): events %v flags %#x", c.name, v6, p.Events[:p.NumEvents], p.Flags)
				}
				if p.PayloadLen != len(c.gre) {
					t.Errorf("%s (v6 %v): payload %d bytes, want the %d-byte GRE packet", c.name, v6, p.PayloadLen, len(c.gre))
				}
				continue
			}
			if !p.HasEvent(c.ev) || p.NumEvents != 1 || p.Flags&packet.FlagMalformed == 0 {
				t.Errorf("%s (v6 %v): events %v flags %#x, want only %s and malformed",
					c.name, v6, p.Events[:p.NumEvents], p.Flags, EventName(c.ev))
			}
		}
	}
	if EventName(EvGREVersion0MalformedSREHdr) != "gre.version0_malformed_sre_hdr" {
		t.Errorf("name %q", EventName(EvGREVersion0MalformedSREHdr))
	}
}

// The frame of suricata-verify's bug-7414-decoder-event-01 (its 12 bytes
// of IPv4 options hold a 2-byte security option and an option longer
// than what is left): Suricata raises opt_pad_required and
// opt_invalid_len, and the packet is invalid.
func TestIPv4SecOptBug7414(t *testing.T) {
	frame, err := base64.StdEncoding.DecodeString("/i3PrShU9joEKCZ3CABIAABoAAEAAEARWEoeHh4eFBQUFIIC8TUAAN6tvu+qABPEE8QASB76g3Jy/3MMn6/gl+2PaHNYfvkOoBoRYsUb5ZV3mCocwk9Xbm1VI6ZMlgQ+xZbugYD/RB0xtXrOiZQ43SvBfdo36g==")
	if err != nil {
		t.Fatal(err)
	}
	p, d := decodeFrame(t, packet.LinkEthernet, frame)
	if !p.HasEvent(EvIPv4OptPadRequired) || !p.HasEvent(EvIPv4OptInvalidLen) || p.NumEvents != 2 {
		names := []string{}
		for _, e := range p.Events[:p.NumEvents] {
			names = append(names, EventName(e))
		}
		t.Fatalf("events %v, want ipv4.opt_pad_required and ipv4.opt_invalid_len", names)
	}
	if p.Flags&packet.FlagMalformed == 0 || d.Stats.Invalid != 1 {
		t.Fatalf("flags %#x invalid %d: want a malformed packet", p.Flags, d.Stats.Invalid)
	}
}

func FuzzGRE(f *testing.F) {
	for _, s := range [][]byte{
		{0x00, 0x00, 0x08, 0x00, 0x45},
		{0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2},
		{0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0},
		{0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0x03},
		{0x00},
	} {
		f.Add(false, s)
		f.Add(true, s)
	}
	f.Fuzz(func(t *testing.T, v6 bool, gre []byte) {
		if len(gre) > 60000 {
			return
		}
		if v6 {
			fuzzDecode(t, packet.LinkIPv6, ipv6GRE(gre))
		} else {
			fuzzDecode(t, packet.LinkIPv4, ipv4GRE(gre))
		}
	})
}
