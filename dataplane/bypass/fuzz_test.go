package bypass

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// refParse is a Go model of the program's parser (bpf/bypass.c): it returns
// the flow key of frame, the offset of the L4 header, and whether the
// program would look the key up at all (ok), with parseErr set when it
// counts a parse error.
func refParse(b []byte) (k FlowKey, l4 int, ok, parseErr bool) {
	if len(b) < 14 {
		return k, 0, false, true
	}
	et := binary.BigEndian.Uint16(b[12:])
	off := 14
	for i := 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++ {
		if len(b) < off+4 {
			return k, 0, false, true
		}
		k.VLAN[i] = binary.BigEndian.Uint16(b[off:]) & 0x0fff
		et = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	switch et {
	case 0x0800:
		if len(b) < off+20 {
			return k, 0, false, true
		}
		ihl := int(b[off]&0x0f) * 4
		if b[off]>>4 != 4 || ihl < 20 {
			return k, 0, false, true
		}
		if binary.BigEndian.Uint16(b[off+6:])&0x3fff != 0 {
			return k, 0, false, false
		}
		k.Proto = b[off+9]
		k.Src = netip.AddrFrom4([4]byte(b[off+12 : off+16]))
		k.Dst = netip.AddrFrom4([4]byte(b[off+16 : off+20]))
		l4 = off + ihl
	case 0x86dd:
		if len(b) < off+40 {
			return k, 0, false, true
		}
		if b[off]>>4 != 6 {
			return k, 0, false, true
		}
		k.Proto = b[off+6]
		k.Src = netip.AddrFrom16([16]byte(b[off+8 : off+24]))
		k.Dst = netip.AddrFrom16([16]byte(b[off+24 : off+40]))
		l4 = off + 40
	default:
		return k, 0, false, false
	}
	if k.Proto != packet.ProtoTCP && k.Proto != packet.ProtoUDP {
		return k, 0, false, false
	}
	if len(b) < l4+4 {
		return k, 0, false, true
	}
	k.SrcPort = binary.BigEndian.Uint16(b[l4:])
	k.DstPort = binary.BigEndian.Uint16(b[l4+2:])
	return k, l4, true, false
}

// refVerdict is the verdict the program gives frame in IDS mode when the
// flows in bypassed are bypassed (one entry per direction).
func refVerdict(b []byte, bypassed map[FlowKey]bool) uint32 {
	k, l4, ok, _ := refParse(b)
	if !ok || !bypassed[k] {
		return xdpPass
	}
	if k.Proto == packet.ProtoTCP {
		if len(b) < l4+14 || b[l4+13]&(packet.TCPFin|packet.TCPRst) != 0 {
			return xdpPass
		}
	}
	return xdpDrop
}

// FuzzXDPProgram runs the kernel program on arbitrary frames
// (BPF_PROG_TEST_RUN) and compares its verdict with refVerdict.
func FuzzXDPProgram(f *testing.F) {
	p := newTestProgram(f, Options{Mode: ModeIDS, MaxFlows: 64})
	flows := []FlowKey{
		tcpKey4(), udpKey6(),
		{Src: mustAddr("192.0.2.1"), Dst: mustAddr("192.0.2.2"), SrcPort: 1111, DstPort: 2222,
			Proto: packet.ProtoUDP, VLAN: [2]uint16{100, 0}},
		{Src: mustAddr("2001:db8::10"), Dst: mustAddr("2001:db8::20"), SrcPort: 3333, DstPort: 443,
			Proto: packet.ProtoTCP, VLAN: [2]uint16{200, 300}},
	}
	bypassed := map[FlowKey]bool{}
	for _, k := range flows {
		if err := p.Add(k); err != nil {
			f.Fatal(err)
		}
		bypassed[k], bypassed[k.Reverse()] = true, true
	}
	for _, k := range flows {
		f.Add(buildFrame(f, frameSpec{key: k, payload: 8}))
		f.Add(buildFrame(f, frameSpec{key: k.Reverse(), tcpFlags: packet.TCPFin}))
		f.Add(buildFrame(f, frameSpec{key: k, fragMF: true}))
		f.Add(buildFrame(f, frameSpec{key: k, outerAD: true, vlans: []uint16{1, 2, 3}}))
	}
	f.Add(buildFrame(f, frameSpec{key: udpKey6(), hopByHop: true}))
	f.Add(buildFrame(f, frameSpec{key: tcpKey4(), ipOpts: true}))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 {
			return // BPF_PROG_TEST_RUN needs an Ethernet header
		}
		if len(frame) > 1500 {
			frame = frame[:1500]
		}
		got := run(t, p, frame)
		if want := refVerdict(frame, bypassed); got != want {
			k, _, ok, _ := refParse(frame)
			t.Fatalf("frame %x: program %s, model %s (key %v ok %v)", frame, xdpActionName(got), xdpActionName(want), k, ok)
		}
	})
}

// FuzzParseLinkReply feeds arbitrary bytes to the rtnetlink reply parser.
func FuzzParseLinkReply(f *testing.F) {
	// A well-formed RTM_NEWLINK with IFLA_NUM_RX_QUEUES and IFLA_XDP.
	ne := binary.NativeEndian
	msg := make([]byte, 16+16+8+20)
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], 16) // RTM_NEWLINK
	ne.PutUint32(msg[8:], 1)
	a := msg[32:]
	ne.PutUint16(a[0:], 8)
	ne.PutUint16(a[2:], 32) // IFLA_NUM_RX_QUEUES
	ne.PutUint32(a[4:], 4)
	x := a[8:]
	ne.PutUint16(x[0:], 20)
	ne.PutUint16(x[2:], 43|0x8000) // IFLA_XDP, nested
	ne.PutUint16(x[4:], 5)
	ne.PutUint16(x[6:], 2) // IFLA_XDP_ATTACHED
	x[8] = xdpAttachedDrv
	ne.PutUint16(x[12:], 8)
	ne.PutUint16(x[14:], 4) // IFLA_XDP_PROG_ID
	ne.PutUint32(x[16:], 77)
	info, found, err := parseLinkReply(msg, 1)
	if err != nil || !found || info.numRxQueues != 4 || info.attached != xdpAttachedDrv || info.progID != 77 {
		f.Fatalf("seed parse: %+v %v %v", info, found, err)
	}
	f.Add(msg, uint32(1))
	errMsg := make([]byte, 36)
	ne.PutUint32(errMsg[0:], 36)
	ne.PutUint16(errMsg[4:], 2) // NLMSG_ERROR
	ne.PutUint32(errMsg[8:], 1)
	ne.PutUint32(errMsg[16:], uint32(0xffffffed)) // -19 ENODEV
	f.Add(errMsg, uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, seq uint32) {
		info, found, err := parseLinkReply(b, seq)
		if err != nil && (found || info != (linkXDP{})) {
			t.Fatalf("error %v with result %+v found=%v", err, info, found)
		}
	})
}
