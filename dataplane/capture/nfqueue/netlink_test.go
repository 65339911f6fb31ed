package nfqueue

import (
	"bytes"
	"errors"
	"testing"
)

func TestParsePacketRoundTrip(t *testing.T) {
	payload := ipPayload(5, 77)
	msg := packetMsg(pkt{queue: 300, id: 0xdeadbeef, payload: payload, mark: 9, inDev: 1, outDev: 2, capLen: 1000,
		skbInfo: SkbGSO | SkbCsumNotReady, ts: true, tsSec: 5, tsUsec: 6, hook: HookPrerouting})
	var a pktAttrs
	m, h, next, err := nextMessage(msg, 0)
	if err != nil || h.Type != typePacket || next != len(msg) {
		t.Fatalf("nextMessage: %v type %#x next %d/%d", err, h.Type, next, len(msg))
	}
	if err := parsePacket(m, &a); err != nil {
		t.Fatalf("parsePacket: %v", err)
	}
	if a.queue != 300 || a.id != 0xdeadbeef || a.hwProto != 0x0800 || a.hook != HookPrerouting || a.mark != 9 ||
		a.inDev != 1 || a.outDev != 2 || a.capLen != 1000 || a.skbInfo != SkbGSO|SkbCsumNotReady ||
		!a.hasTS || a.tsSec != 5 || a.tsUsec != 6 || !bytes.Equal(a.payload, payload) {
		t.Errorf("parsed %+v", a)
	}
	// Attribute type flag bits are ignored.
	msg2 := append([]byte(nil), msg...)
	msg2[nlmsgHdrLen+nfgenHdrLen+3] |= 0x80 // NLA_F_NESTED on the packet header
	if err := parsePacket(msg2, &a); err != nil || a.id != 0xdeadbeef {
		t.Errorf("flagged attribute: %v %+v", err, a)
	}
}

func TestParsePacketErrors(t *testing.T) {
	good := packetMsg(pkt{id: 3, payload: ipPayload(0, 20)})
	cases := []struct {
		name  string
		msg   []byte
		err   error
		hasID bool
	}{
		{"short", good[:18], errShortNfgen, false},
		{"no header", packetMsg(pkt{payload: ipPayload(0, 20), noHdr: true}), errNoPacketHdr, false},
		{"no payload", packetMsg(pkt{id: 4}), errNoPayload, true},
		{"cut payload", good[:len(good)-5], errAttrLen, true},
		{"short packet hdr", func() []byte {
			b := appendHeader(nil, typePacket, 0, 0, 0)
			b = appendAttr(b, attrPacketHdr, []byte{0, 0, 0, 1})
			finishMsg(b, 0)
			return b
		}(), errAttrShort, false},
		{"short mark", func() []byte {
			b := append([]byte(nil), good...)
			b = appendAttr(b, attrMark, []byte{1, 2})
			finishMsg(b, 0)
			return b
		}(), errAttrShort, true},
		{"zero attr len", func() []byte {
			b := append([]byte(nil), good[:24]...)
			finishMsg(b, 0)
			return b
		}(), errAttrLen, false},
	}
	for _, c := range cases {
		var a pktAttrs
		err := parsePacket(c.msg, &a)
		if !errors.Is(err, c.err) || a.hasID != c.hasID {
			t.Errorf("%s: err %v hasID %v, want %v %v", c.name, err, a.hasID, c.err, c.hasID)
		}
	}
}

func TestNextMessage(t *testing.T) {
	a := packetMsg(pkt{id: 1, payload: []byte{0x45, 1, 2}}) // 3-byte payload: unpadded end
	b := packetMsg(pkt{id: 2, payload: []byte{0x45}})
	dg := append([]byte(nil), a...)
	for len(dg)%4 != 0 {
		dg = append(dg, 0)
	}
	dg = append(dg, b...)
	m, _, next, err := nextMessage(dg, 0)
	if err != nil || len(m) != len(a) || next != align4(len(a)) {
		t.Fatalf("first: %v len %d next %d", err, len(m), next)
	}
	m, _, next, err = nextMessage(dg, next)
	if err != nil || len(m) != len(b) || next != len(dg) {
		t.Fatalf("second: %v len %d next %d/%d", err, len(m), next, len(dg))
	}
	if _, _, next, err := nextMessage(dg, len(dg)-3); err != errShortMsg || next != len(dg) {
		t.Errorf("tail: %v %d", err, next)
	}
	// Length beyond the datagram: cut message and errMsgLen.
	m, _, next, err = nextMessage(a[:30], 0)
	if err != errMsgLen || len(m) != 30 || next != 30 {
		t.Errorf("cut: %v len %d next %d", err, len(m), next)
	}
	bad := append([]byte(nil), a...)
	ne.PutUint32(bad, 8)
	if _, _, next, err := nextMessage(bad, 0); err != errShortMsg || next != len(bad) {
		t.Errorf("length below header: %v %d", err, next)
	}
}

func TestBuildConfig(t *testing.T) {
	b := appendConfig(nil, 9, 513, 1500, 4096, cfgFFailOpen|cfgFGSO, cfgFFailOpen|cfgFGSO)
	m, h, _, err := nextMessage(b, 0)
	if err != nil || h.Type != typeConfig || h.Seq != 9 || h.Flags != nlmFRequest || int(h.Len) != len(b) {
		t.Fatalf("header %+v %v", h, err)
	}
	if m[16] != 0 || m[17] != nfnetlinkV0 || be.Uint16(m[18:20]) != 513 {
		t.Errorf("nfgenmsg % x", m[16:20])
	}
	got := map[uint16][]byte{}
	attrs := m[20:]
	for off := 0; off < len(attrs); {
		typ, d, next, err := nextAttr(attrs, off)
		if err != nil {
			t.Fatal(err)
		}
		got[typ] = d
		off = next
	}
	if !bytes.Equal(got[cfgCmd], []byte{cmdBind, 0, 0, 0}) {
		t.Errorf("cmd % x", got[cfgCmd])
	}
	if p := got[cfgParams]; len(p) != 5 || be.Uint32(p) != 1500 || p[4] != copyPacket {
		t.Errorf("params % x", p)
	}
	if be.Uint32(got[cfgQueueLen]) != 4096 || be.Uint32(got[cfgFlags]) != 5 || be.Uint32(got[cfgMask]) != 5 {
		t.Errorf("len/flags/mask % x % x % x", got[cfgQueueLen], got[cfgFlags], got[cfgMask])
	}
	b = appendConfig(nil, 1, 0, 100, 0, 0, 0)
	m, _, _, _ = nextMessage(b, 0)
	if len(m) != 20+8+12 {
		t.Errorf("minimal config is %d bytes, want bind and params only", len(m))
	}
}

func TestBuildVerdict(t *testing.T) {
	b := appendVerdict(nil, false, 5, 2, nfRepeat, 77, true, 0x101, []byte{1, 2, 3, 4, 5})
	b = appendVerdict(b, true, 6, 2, nfDrop, 90, false, 0, []byte{9})
	if len(b) != verdictMsgLen(true, 5)+verdictMsgLen(false, 0) {
		t.Errorf("length %d, verdictMsgLen says %d", len(b), verdictMsgLen(true, 5)+verdictMsgLen(false, 0))
	}
	vs, err := parseVerdicts(b)
	if err != nil || len(vs) != 2 {
		t.Fatalf("%v %+v", err, vs)
	}
	if v := vs[0]; v.batch || v.queue != 2 || v.code != nfRepeat || v.id != 77 || !v.hasMark || v.mark != 0x101 || !bytes.Equal(v.payload, []byte{1, 2, 3, 4, 5}) {
		t.Errorf("single %+v", v)
	}
	if v := vs[1]; !v.batch || v.code != nfDrop || v.id != 90 || v.hasMark || v.payload != nil {
		t.Errorf("batch %+v", v)
	}
}

func TestParseQueues(t *testing.T) {
	good := map[string][]uint16{
		"2":           {2},
		"0:3":         {0, 1, 2, 3},
		"0:1,4":       {0, 1, 4},
		" 5 , 7:8":    {5, 7, 8},
		"65535":       {65535},
		"65534:65535": {65534, 65535},
	}
	for in, want := range good {
		got, err := ParseQueues(in)
		if err != nil || len(got) != len(want) {
			t.Errorf("%q: %v %v", in, got, err)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%q: %v, want %v", in, got, want)
				break
			}
		}
	}
	bad := map[string]string{
		"":      "empty",
		"1,,2":  "empty element",
		"x":     `"x"`,
		"3:1":   "above end",
		"1:x":   `"x"`,
		"65536": "above 65535",
		"0:2,1": "listed twice",
		":4":    "missing",
		"-1":    `"-1"`,
		"1:2:3": `"2:3"`,
	}
	for in, frag := range bad {
		_, err := ParseQueues(in)
		if !errors.Is(err, ErrQueueList) || !bytes.Contains([]byte(err.Error()), []byte(frag)) {
			t.Errorf("%q: error %v, want ErrQueueList mentioning %s", in, err, frag)
		}
	}
}
