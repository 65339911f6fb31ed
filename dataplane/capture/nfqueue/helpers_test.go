package nfqueue

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// pkt describes a packet message the fake kernel sends.
type pkt struct {
	queue   uint16
	id      uint32
	payload []byte
	mark    uint32
	inDev   uint32
	outDev  uint32
	capLen  uint32
	skbInfo uint32
	ts      bool
	tsSec   uint64
	tsUsec  uint64
	hook    uint8
	noHdr   bool // leave out NFQA_PACKET_HDR
}

// packetMsg builds an NFQNL_MSG_PACKET message as the kernel does.
func packetMsg(p pkt) []byte {
	b := appendHeader(nil, typePacket, 0, 0, p.queue)
	b[16] = unix.AF_INET
	if !p.noHdr {
		var h [7]byte
		be.PutUint32(h[0:4], p.id)
		be.PutUint16(h[4:6], 0x0800)
		h[6] = p.hook
		b = appendAttr(b, attrPacketHdr, h[:])
	}
	if p.inDev != 0 {
		b = appendAttrU32(b, attrIfIndexIn, p.inDev)
	}
	if p.outDev != 0 {
		b = appendAttrU32(b, attrIfIndexOut, p.outDev)
	}
	if p.mark != 0 {
		b = appendAttrU32(b, attrMark, p.mark)
	}
	if p.ts {
		var ts [16]byte
		be.PutUint64(ts[0:8], p.tsSec)
		be.PutUint64(ts[8:16], p.tsUsec)
		b = appendAttr(b, attrTimestamp, ts[:])
	}
	if p.capLen != 0 {
		b = appendAttrU32(b, attrCapLen, p.capLen)
	}
	if p.skbInfo != 0 {
		b = appendAttrU32(b, attrSkbInfo, p.skbInfo)
	}
	if p.payload != nil {
		// As the kernel: the payload attribute is last and not padded.
		b = ne.AppendUint16(b, uint16(nlaHdrLen+len(p.payload)))
		b = ne.AppendUint16(b, attrPayload)
		b = append(b, p.payload...)
	}
	finishMsg(b, 0)
	return b
}

// ipPayload returns a fake IPv4 packet of n bytes whose bytes encode i.
func ipPayload(i, n int) []byte {
	b := make([]byte, n)
	b[0] = 0x45
	for j := 1; j < n; j++ {
		b[j] = byte(i*7 + j)
	}
	return b
}

// gotVerdict is a verdict message as the kernel would read it.
type gotVerdict struct {
	batch   bool
	queue   uint16
	code    uint32
	id      uint32
	hasMark bool
	mark    uint32
	payload []byte
}

// parseVerdicts decodes the verdict messages of one datagram.
func parseVerdicts(dg []byte) ([]gotVerdict, error) {
	var out []gotVerdict
	for off := 0; off < len(dg); {
		msg, h, next, err := nextMessage(dg, off)
		if err != nil {
			return out, fmt.Errorf("offset %d: %v", off, err)
		}
		off = next
		var v gotVerdict
		switch h.Type {
		case typeVerdict:
		case typeVerdictBatch:
			v.batch = true
		default:
			return out, fmt.Errorf("offset %d: message type %#x", off, h.Type)
		}
		if h.Flags&nlmFRequest == 0 {
			return out, fmt.Errorf("verdict without NLM_F_REQUEST")
		}
		if len(msg) < nlmsgHdrLen+nfgenHdrLen {
			return out, fmt.Errorf("short verdict")
		}
		v.queue = be.Uint16(msg[18:20])
		attrs := msg[nlmsgHdrLen+nfgenHdrLen:]
		hasHdr := false
		for ao := 0; ao < len(attrs); {
			typ, d, n, err := nextAttr(attrs, ao)
			if err != nil {
				return out, err
			}
			ao = n
			switch typ {
			case attrVerdictHdr:
				if len(d) != 8 {
					return out, fmt.Errorf("verdict hdr len %d", len(d))
				}
				v.code, v.id = be.Uint32(d[0:4]), be.Uint32(d[4:8])
				hasHdr = true
			case attrMark:
				v.hasMark, v.mark = true, be.Uint32(d)
			case attrPayload:
				if v.batch {
					return out, fmt.Errorf("batch verdict with payload")
				}
				v.payload = append([]byte(nil), d...)
			default:
				return out, fmt.Errorf("unexpected attribute %d", typ)
			}
		}
		if !hasHdr {
			return out, fmt.Errorf("verdict without NFQA_VERDICT_HDR")
		}
		out = append(out, v)
	}
	return out, nil
}

// fakeKernel stands in for nfnetlink_queue at the other end of a
// SOCK_SEQPACKET socketpair, and keeps the queue as the kernel does: ids in
// the order sent, a batch verdict taking every id up to the given one.
type fakeKernel struct {
	t      testing.TB
	fd     int
	queue  uint16
	nextID uint32
	queued []uint32
	final  map[uint32]gotVerdict
	writes int
	rbuf   []byte
}

func newFake(t testing.TB, o Options) (*Source, *fakeKernel) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	// Room for bursts of full-size messages in both directions.
	for _, fd := range fds {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	}
	o, err = o.normalize()
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	s, err := newSource(fds[0], o, 4242, -1)
	if err != nil {
		t.Fatalf("newSource: %v", err)
	}
	k := &fakeKernel{t: t, fd: fds[1], queue: o.Queue, final: map[uint32]gotVerdict{}, rbuf: make([]byte, 1<<20)}
	t.Cleanup(func() {
		s.Close()
		unix.Close(fds[1])
	})
	return s, k
}

// sendRaw writes one datagram.
func (k *fakeKernel) sendRaw(dg []byte) {
	k.t.Helper()
	if _, err := unix.Write(k.fd, dg); err != nil {
		k.t.Fatalf("fake kernel write: %v", err)
	}
}

// queuePkts sends n packets (one datagram each) with consecutive ids and
// returns the ids.
func (k *fakeKernel) queuePkts(n, size int) []uint32 {
	k.t.Helper()
	ids := make([]uint32, n)
	for i := range ids {
		k.nextID++
		ids[i] = k.nextID
		k.sendRaw(packetMsg(pkt{queue: k.queue, id: k.nextID, payload: ipPayload(int(k.nextID), size)}))
		k.queued = append(k.queued, k.nextID)
	}
	return ids
}

// note records that id is queued (for packets sent with sendRaw).
func (k *fakeKernel) note(ids ...uint32) { k.queued = append(k.queued, ids...) }

// readVerdicts reads every pending datagram, applies the verdicts to the
// emulated queue and returns them. A verdict for an id that is not queued
// fails the test, as the kernel would answer ENOENT.
func (k *fakeKernel) readVerdicts() []gotVerdict {
	k.t.Helper()
	var all []gotVerdict
	for {
		n, err := unix.Read(k.fd, k.rbuf)
		if err == unix.EAGAIN {
			return all
		}
		if err != nil {
			k.t.Fatalf("fake kernel read: %v", err)
		}
		k.writes++
		vs, err := parseVerdicts(k.rbuf[:n])
		if err != nil {
			k.t.Fatalf("bad verdict datagram: %v", err)
		}
		for _, v := range vs {
			if v.queue != k.queue {
				k.t.Fatalf("verdict for queue %d, want %d", v.queue, k.queue)
			}
			k.apply(v)
		}
		all = append(all, vs...)
	}
}

func (k *fakeKernel) apply(v gotVerdict) {
	k.t.Helper()
	if !v.batch {
		for i, id := range k.queued {
			if id == v.id {
				k.queued = append(k.queued[:i], k.queued[i+1:]...)
				k.final[id] = v
				return
			}
		}
		k.t.Fatalf("single verdict for id %d, not queued (queued %v)", v.id, k.queued)
	}
	n := 0
	for n < len(k.queued) && int32(k.queued[n]-v.id) <= 0 {
		k.final[k.queued[n]] = v
		n++
	}
	if n == 0 {
		k.t.Fatalf("batch verdict up to id %d matches nothing (queued %v)", v.id, k.queued)
	}
	k.queued = k.queued[n:]
}
