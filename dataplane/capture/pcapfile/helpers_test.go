package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// rec is a packet as a test expects or saw it (Data copied).
type rec struct {
	Data   []byte
	Wire   int
	TimeNs int64
	Link   packet.LinkType
	Num    uint64
}

// udpFrame builds an Ethernet/IPv4/UDP frame with a payload of n bytes.
func udpFrame(t testing.TB, i, n int) []byte {
	t.Helper()
	payload := make([]byte, n)
	for j := range payload {
		payload[j] = byte(i + j)
	}
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, byte(i >> 8), byte(i)},
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(1024 + i%1000), DstPort: 53}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// frames returns n test frames of assorted sizes (0 to ~1500 bytes).
func frames(t testing.TB, n int, seed int64) [][]byte {
	rng := rand.New(rand.NewSource(seed))
	out := make([][]byte, n)
	for i := range out {
		switch rng.Intn(5) {
		case 0:
			out[i] = nil // empty record
		case 1:
			out[i] = []byte{byte(i), 0xee, 0xff}
		default:
			out[i] = udpFrame(t, i, rng.Intn(1460))
		}
	}
	return out
}

// readAll reads r to its end, copying every packet, with batches of size bs.
// It checks the sticky-error contract on the way.
func readAll(t testing.TB, r *Reader, bs int) ([]rec, error) {
	t.Helper()
	b := packet.NewBatch(bs)
	var out []rec
	for i := 0; ; i++ {
		err := r.Next(b)
		for _, p := range b.Pkts {
			if p.Origin != packet.OriginWire || p.Flags != 0 || p.L3Off != 0 || p.NumEvents != 0 || p.Verdict != 0 {
				t.Fatalf("packet %d: stale or wrong fields: %+v", p.Num, p)
			}
			if cap(p.Data) != len(p.Data) {
				t.Fatalf("packet %d: Data capacity %d exceeds its length %d", p.Num, cap(p.Data), len(p.Data))
			}
			out = append(out, rec{Data: append([]byte{}, p.Data...), Wire: p.WireLen, TimeNs: p.TimeNs, Link: p.LinkType, Num: p.Num})
			// Later stages write into the slot; the next fill must clear it.
			p.Flags, p.L3Off, p.NumEvents, p.Verdict = 0xffff, 14, 3, packet.VerdictDrop
		}
		if err == nil && len(b.Pkts) == 0 {
			t.Fatalf("Next returned no packets and no error")
		}
		r.Done(b)
		if err != nil {
			if err2 := r.Next(b); err2 != err || len(b.Pkts) != 0 {
				t.Fatalf("second Next after error: got %v with %d packets, want %v again", err2, len(b.Pkts), err)
			}
			return out, err
		}
		if i > 1e7 {
			t.Fatalf("reader does not end")
		}
	}
}

// checkRecs compares what was read with what was expected.
func checkRecs(t testing.TB, got, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("packet %d: data differs: got %d bytes %x..., want %d bytes", i+1, len(g.Data), head(g.Data), len(w.Data))
		}
		if g.Wire != w.Wire || g.TimeNs != w.TimeNs || g.Link != w.Link || g.Num != uint64(i+1) {
			t.Fatalf("packet %d: got wire=%d time=%d link=%d num=%d, want wire=%d time=%d link=%d num=%d",
				i+1, g.Wire, g.TimeNs, g.Link, g.Num, w.Wire, w.TimeNs, w.Link, i+1)
		}
	}
}

func head(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

// endOK fails unless err is the clean end of input.
func endOK(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, capture.ErrEndOfInput) {
		t.Fatalf("got error %v, want end of input", err)
	}
}

// pcapBuilder writes classic pcap files by hand, in either byte order.
type pcapBuilder struct {
	bo  order
	buf []byte
}

func newPcap(bo order, magic uint32, snaplen uint32, link uint32) *pcapBuilder {
	b := &pcapBuilder{bo: bo}
	b.buf = bo.AppendUint32(b.buf, magic)
	b.buf = bo.AppendUint16(b.buf, 2)
	b.buf = bo.AppendUint16(b.buf, 4)
	b.buf = bo.AppendUint32(b.buf, 0)
	b.buf = bo.AppendUint32(b.buf, 0)
	b.buf = bo.AppendUint32(b.buf, snaplen)
	b.buf = bo.AppendUint32(b.buf, link)
	return b
}

func (b *pcapBuilder) record(sec, frac uint32, data []byte, orig uint32) *pcapBuilder {
	b.buf = b.bo.AppendUint32(b.buf, sec)
	b.buf = b.bo.AppendUint32(b.buf, frac)
	b.buf = b.bo.AppendUint32(b.buf, uint32(len(data)))
	b.buf = b.bo.AppendUint32(b.buf, orig)
	b.buf = append(b.buf, data...)
	return b
}

// ngBuilder writes pcapng files by hand, in either byte order.
type ngBuilder struct {
	bo  order
	buf []byte
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (g *ngBuilder) block(typ uint32, body []byte) *ngBuilder {
	body = pad4(append([]byte(nil), body...))
	n := uint32(12 + len(body))
	g.buf = g.bo.AppendUint32(g.buf, typ)
	g.buf = g.bo.AppendUint32(g.buf, n)
	g.buf = append(g.buf, body...)
	g.buf = g.bo.AppendUint32(g.buf, n)
	return g
}

// opt encodes one option (padded).
func (g *ngBuilder) opt(code uint16, val []byte) []byte {
	var o []byte
	o = g.bo.AppendUint16(o, code)
	o = g.bo.AppendUint16(o, uint16(len(val)))
	return pad4(append(o, val...))
}

func (g *ngBuilder) shb(opts ...[]byte) *ngBuilder {
	var body []byte
	body = g.bo.AppendUint32(body, ngByteOrderMagic)
	body = g.bo.AppendUint16(body, 1)
	body = g.bo.AppendUint16(body, 0)
	body = g.bo.AppendUint64(body, ^uint64(0))
	for _, o := range opts {
		body = append(body, o...)
	}
	return g.block(blockSHB, body)
}

func (g *ngBuilder) idb(link uint16, snaplen uint32, opts ...[]byte) *ngBuilder {
	var body []byte
	body = g.bo.AppendUint16(body, link)
	body = g.bo.AppendUint16(body, 0)
	body = g.bo.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, 0, 0, 0, 0)
	}
	return g.block(blockIDB, body)
}

func (g *ngBuilder) epb(id uint32, ts uint64, data []byte, orig uint32) *ngBuilder {
	var body []byte
	body = g.bo.AppendUint32(body, id)
	body = g.bo.AppendUint32(body, uint32(ts>>32))
	body = g.bo.AppendUint32(body, uint32(ts))
	body = g.bo.AppendUint32(body, uint32(len(data)))
	body = g.bo.AppendUint32(body, orig)
	body = pad4(append(body, data...))
	// An epb_flags option, to show options after the data are skipped.
	body = append(body, g.opt(2, g.bo.AppendUint32(nil, 1))...)
	body = append(body, 0, 0, 0, 0)
	return g.block(blockEPB, body)
}

func (g *ngBuilder) pb(id uint16, ts uint64, data []byte, orig uint32) *ngBuilder {
	var body []byte
	body = g.bo.AppendUint16(body, id)
	body = g.bo.AppendUint16(body, 0)
	body = g.bo.AppendUint32(body, uint32(ts>>32))
	body = g.bo.AppendUint32(body, uint32(ts))
	body = g.bo.AppendUint32(body, uint32(len(data)))
	body = g.bo.AppendUint32(body, orig)
	return g.block(blockPB, append(body, data...))
}

func (g *ngBuilder) spb(orig uint32, data []byte) *ngBuilder {
	body := g.bo.AppendUint32(nil, orig)
	return g.block(blockSPB, append(body, data...))
}

// loopReader serves head once, then body over and over: an endless capture
// for allocation tests and benchmarks.
type loopReader struct {
	head, body []byte
	off        int
	inBody     bool
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		src := l.head
		if l.inBody {
			src = l.body
		}
		c := copy(p[n:], src[l.off:])
		n += c
		l.off += c
		if l.off == len(src) {
			l.off, l.inBody = 0, true
		}
	}
	return n, nil
}

var _ io.Reader = (*loopReader)(nil)

// order is a byte order that can also append.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}
