package afpacket

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// fakePkt is one packet as the kernel would write it into a block.
type fakePkt struct {
	data   []byte // frame bytes as stored in the ring (VLAN tag taken out)
	wire   uint32 // tp_len; 0 means len(data)
	sec    uint32
	nsec   uint32
	status uint32
	tci    uint32
	tpid   uint16
}

// fakeMac is where the kernel puts an Ethernet frame behind its header
// with PACKET_RESERVE 4: TPACKET_ALIGN(68+16) + 4 - 14.
const fakeMac = 86

func align16(n int) int { return (n + 15) &^ 15 }

// writeBlock lays out pkts in block i of r as the kernel does and marks the
// block TP_STATUS_USER.
func writeBlock(t testing.TB, r *ring, i int, pkts ...fakePkt) {
	t.Helper()
	blk := r.block(i)
	clear(blk)
	off := blockHdrLen
	binary.NativeEndian.PutUint32(blk[bdNumPkts:], uint32(len(pkts)))
	binary.NativeEndian.PutUint32(blk[bdFirstPkt:], uint32(off))
	for k, p := range pkts {
		h := blk[off:]
		next := align16(fakeMac + len(p.data))
		if off+next > len(blk) {
			t.Fatalf("fake block %d: packet %d does not fit", i, k)
		}
		if k < len(pkts)-1 {
			binary.NativeEndian.PutUint32(h[phNextOffset:], uint32(next))
		}
		wire := p.wire
		if wire == 0 {
			wire = uint32(len(p.data))
		}
		binary.NativeEndian.PutUint32(h[phSec:], p.sec)
		binary.NativeEndian.PutUint32(h[phNsec:], p.nsec)
		binary.NativeEndian.PutUint32(h[phSnaplen:], uint32(len(p.data)))
		binary.NativeEndian.PutUint32(h[phLen:], wire)
		binary.NativeEndian.PutUint32(h[phStatus:], p.status|unix.TP_STATUS_USER)
		binary.NativeEndian.PutUint16(h[phMac:], fakeMac)
		binary.NativeEndian.PutUint32(h[phVlanTCI:], p.tci)
		binary.NativeEndian.PutUint16(h[phVlanTPID:], p.tpid)
		copy(h[fakeMac:], p.data)
		off += next
	}
	atomic.StoreUint32(r.status(i), unix.TP_STATUS_USER)
}

func newFakeRing(blockSize, numBlocks int) *ring {
	mem := make([]byte, blockSize*numBlocks)
	return newRing(mem, blockSize, numBlocks, packet.LinkEthernet, 3, 7)
}

func kernelOwns(r *ring, i int) bool {
	return atomic.LoadUint32(r.status(i)) == unix.TP_STATUS_KERNEL
}

// frame makes a recognisable Ethernet frame of n bytes.
func frame(id byte, n int) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = id ^ byte(i)
	}
	return f
}

func fill(r *ring, b *packet.Batch) int {
	n := r.fill(b, 0)
	b.SetLen(n)
	return n
}

func done(r *ring, b *packet.Batch) {
	for _, p := range b.Pkts {
		r.done(p.Handle)
	}
	b.Reset()
}

func TestRingBatchesSpanBlocksAndBlocksReturnWhenAllDone(t *testing.T) {
	r := newFakeRing(4096, 3)
	for i := range 3 {
		atomic.StoreUint32(r.status(i), unix.TP_STATUS_KERNEL)
	}
	writeBlock(t, r, 0, fakePkt{data: frame(1, 60), sec: 10, nsec: 5}, fakePkt{data: frame(2, 61)})
	writeBlock(t, r, 1, fakePkt{data: frame(3, 62)}, fakePkt{data: frame(4, 63)}, fakePkt{data: frame(5, 64)})
	writeBlock(t, r, 2, fakePkt{data: frame(6, 65)})

	b1 := packet.NewBatch(4)
	if n := fill(r, b1); n != 4 {
		t.Fatalf("first fill: %d packets, want 4", n)
	}
	for i, p := range b1.Pkts {
		want := frame(byte(i+1), 60+i)
		if !bytes.Equal(p.Data, want) || p.WireLen != len(want) {
			t.Fatalf("packet %d: data %x wire %d, want %x", i, p.Data, p.WireLen, want)
		}
		if p.Num != uint64(i+1) || p.Queue != 3 || p.LinkType != packet.LinkEthernet || p.Origin != packet.OriginWire {
			t.Fatalf("packet %d: Num %d Queue %d Link %d Origin %d", i, p.Num, p.Queue, p.LinkType, p.Origin)
		}
		if cap(p.Data) != len(p.Data) {
			t.Fatalf("packet %d: cap %d > len %d: append would write into the ring", i, cap(p.Data), len(p.Data))
		}
	}
	if b1.Pkts[0].TimeNs != 10*1e9+5 {
		t.Fatalf("TimeNs %d", b1.Pkts[0].TimeNs)
	}
	if kernelOwns(r, 0) || kernelOwns(r, 1) {
		t.Fatal("a block went back to the kernel while its packets are lent out")
	}

	// A second batch while the first is still out.
	b2 := packet.NewBatch(4)
	if n := fill(r, b2); n != 2 {
		t.Fatalf("second fill: %d packets, want 2 (rest of block 1, block 2)", n)
	}
	if !bytes.Equal(b2.Pkts[0].Data, frame(5, 64)) || !bytes.Equal(b2.Pkts[1].Data, frame(6, 65)) {
		t.Fatal("second batch has the wrong packets")
	}
	// Give back b1: block 0 is entirely back, block 1 is not (b2 holds one).
	done(r, b1)
	if !kernelOwns(r, 0) {
		t.Fatal("block 0 not returned after all its packets came back")
	}
	if kernelOwns(r, 1) || kernelOwns(r, 2) {
		t.Fatal("block 1 or 2 returned while b2 holds packets of them")
	}
	// The kernel fills block 0 again; the reader continues there.
	writeBlock(t, r, 0, fakePkt{data: frame(7, 66)})
	b3 := packet.NewBatch(4)
	if n := fill(r, b3); n != 1 || !bytes.Equal(b3.Pkts[0].Data, frame(7, 66)) {
		t.Fatalf("third fill: %d packets", n)
	}
	// Packets may come back in another grouping than they left: return
	// b2's second packet and b3's packet in one batch, b2's first alone.
	mixed := packet.NewBatch(4)
	*mixed.Slot(0) = *b2.Pkts[1]
	*mixed.Slot(1) = *b3.Pkts[0]
	mixed.SetLen(2)
	done(r, mixed)
	if !kernelOwns(r, 2) || !kernelOwns(r, 0) {
		t.Fatal("blocks 2 and 0 should be back")
	}
	if kernelOwns(r, 1) {
		t.Fatal("block 1 back while one packet is out")
	}
	b2.SetLen(1)
	done(r, b2)
	if !kernelOwns(r, 1) {
		t.Fatal("block 1 not back")
	}
	if r.packets != 7 || r.invalid != 0 || r.truncated != 0 {
		t.Fatalf("counters: packets %d invalid %d truncated %d", r.packets, r.invalid, r.truncated)
	}
}

func TestRingOpenBlockNotReturnedEarly(t *testing.T) {
	r := newFakeRing(4096, 2)
	atomic.StoreUint32(r.status(1), unix.TP_STATUS_KERNEL)
	writeBlock(t, r, 0, fakePkt{data: frame(1, 60)}, fakePkt{data: frame(2, 60)})
	b := packet.NewBatch(1)
	fill(r, b)
	done(r, b)
	if kernelOwns(r, 0) {
		t.Fatal("block returned while the reader still walks it")
	}
	fill(r, b)
	done(r, b)
	if !kernelOwns(r, 0) {
		t.Fatal("block not returned after its last packet")
	}
	// Doing a batch twice, or returning foreign and made-up packets, must
	// not touch the ring.
	done(r, b)
	fake := packet.NewBatch(2)
	fake.Slot(0).Handle = 0
	fake.Slot(1).Handle = 8<<32 | 1 // another source's block 0
	fake.SetLen(2)
	done(r, fake)
	if r.lent[0] != 0 || r.lent[1] != 0 {
		t.Fatalf("lent %v", r.lent)
	}
}

func TestRingStallsOnHeldBlock(t *testing.T) {
	r := newFakeRing(4096, 2)
	writeBlock(t, r, 0, fakePkt{data: frame(1, 60)})
	writeBlock(t, r, 1, fakePkt{data: frame(2, 60)})
	b := packet.NewBatch(8)
	if n := fill(r, b); n != 2 {
		t.Fatalf("fill %d", n)
	}
	// Both blocks are held, still marked USER with their old packets: the
	// reader must not read them again.
	b2 := packet.NewBatch(8)
	if n := fill(r, b2); n != 0 {
		t.Fatalf("read %d stale packets from held blocks", n)
	}
	done(r, b)
	if !kernelOwns(r, 0) || !kernelOwns(r, 1) {
		t.Fatal("blocks not returned")
	}
	if n := fill(r, b2); n != 0 {
		t.Fatalf("read %d packets from kernel-owned blocks", n)
	}
	writeBlock(t, r, 0, fakePkt{data: frame(3, 60)})
	if n := fill(r, b2); n != 1 || !bytes.Equal(b2.Pkts[0].Data, frame(3, 60)) {
		t.Fatalf("after refill: %d packets", n)
	}
}

func TestRingVLANReinserted(t *testing.T) {
	r := newFakeRing(4096, 2)
	atomic.StoreUint32(r.status(1), unix.TP_STATUS_KERNEL)
	inner := frame(9, 64) // as stored: tag taken out
	binary.BigEndian.PutUint16(inner[12:], 0x0800)
	writeBlock(t, r, 0,
		fakePkt{data: inner, status: unix.TP_STATUS_VLAN_VALID, tci: 0x2064},
		fakePkt{data: inner, status: unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, tci: 0x0005, tpid: 0x88a8},
		fakePkt{data: inner, wire: 100}, // truncated, no tag
	)
	b := packet.NewBatch(8)
	if n := fill(r, b); n != 3 {
		t.Fatalf("fill %d", n)
	}
	want := func(tpid, tci uint16) []byte {
		w := append([]byte{}, inner[:12]...)
		w = binary.BigEndian.AppendUint16(w, tpid)
		w = binary.BigEndian.AppendUint16(w, tci)
		return append(w, inner[12:]...)
	}
	if got := b.Pkts[0]; !bytes.Equal(got.Data, want(0x8100, 0x2064)) || got.WireLen != 68 {
		t.Fatalf("802.1Q: %x wire %d", got.Data, got.WireLen)
	}
	if got := b.Pkts[1]; !bytes.Equal(got.Data, want(0x88a8, 0x0005)) || got.WireLen != 68 {
		t.Fatalf("802.1ad: %x wire %d", got.Data, got.WireLen)
	}
	if got := b.Pkts[2]; !bytes.Equal(got.Data, inner) || got.WireLen != 100 {
		t.Fatalf("untagged: %x wire %d", got.Data, got.WireLen)
	}
	if r.truncated != 1 {
		t.Fatalf("truncated %d, want 1", r.truncated)
	}
}

func TestRingInvalidBlocksCounted(t *testing.T) {
	r := newFakeRing(4096, 2)
	writeBlock(t, r, 0, fakePkt{data: frame(1, 60)}, fakePkt{data: frame(2, 60)}, fakePkt{data: frame(3, 60)})
	// Break the chain after the first packet.
	binary.NativeEndian.PutUint32(r.block(0)[blockHdrLen+phNextOffset:], 5000)
	writeBlock(t, r, 1, fakePkt{data: frame(4, 60)}, fakePkt{data: frame(5, 60)})
	// First packet claims more bytes than the block holds.
	binary.NativeEndian.PutUint32(r.block(1)[blockHdrLen+phSnaplen:], 4000)
	b := packet.NewBatch(8)
	n := fill(r, b)
	if n != 1 || !bytes.Equal(b.Pkts[0].Data, frame(1, 60)) {
		t.Fatalf("fill %d", n)
	}
	if r.invalid != 4 {
		t.Fatalf("invalid %d, want 4 (2 after the broken chain, 2 in the bad block)", r.invalid)
	}
	if !kernelOwns(r, 1) || kernelOwns(r, 0) {
		t.Fatal("the bad block should be back, the one with a lent packet not")
	}
	done(r, b)
	if !kernelOwns(r, 0) {
		t.Fatal("block 0 not back")
	}
}

func TestRingEmptyBlock(t *testing.T) {
	r := newFakeRing(4096, 2)
	writeBlock(t, r, 0)
	writeBlock(t, r, 1, fakePkt{data: frame(1, 60)})
	b := packet.NewBatch(8)
	if n := fill(r, b); n != 1 {
		t.Fatalf("fill %d", n)
	}
	if !kernelOwns(r, 0) {
		t.Fatal("empty block kept")
	}
}

// ringDataWithin reports whether d lies inside mem.
func ringDataWithin(mem, d []byte) bool {
	if len(d) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(&mem[0]))
	p := uintptr(unsafe.Pointer(&d[0]))
	return p >= lo && p+uintptr(len(d)) <= lo+uintptr(len(mem))
}

func TestRingFillDoneAllocs(t *testing.T) {
	r := newFakeRing(1<<16, 4)
	pkts := make([]fakePkt, 200)
	for i := range pkts {
		pkts[i] = fakePkt{data: frame(byte(i), 60), status: unix.TP_STATUS_VLAN_VALID, tci: 7}
	}
	for i := range 4 {
		writeBlock(t, r, i, pkts...)
	}
	b := packet.NewBatch(64)
	allocs := testing.AllocsPerRun(200, func() {
		n := r.fill(b, 0)
		b.SetLen(n)
		for _, p := range b.Pkts {
			r.done(p.Handle)
		}
		b.Reset()
		// Play kernel: hand blocks back filled (packets left as they are;
		// the VLAN re-insertion rewrites in place, which is fine here).
		for i := range 4 {
			if kernelOwns(r, i) {
				atomic.StoreUint32(r.status(i), unix.TP_STATUS_USER)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("fill+done allocate %.1f times per batch", allocs)
	}
	if r.packets < 200*64 {
		t.Fatalf("only %d packets went through", r.packets)
	}
}

func BenchmarkRingFillDone(b *testing.B) {
	r := newFakeRing(1<<20, 4)
	pkts := make([]fakePkt, 0, 6000)
	for i := 0; i < cap(pkts); i++ {
		pkts = append(pkts, fakePkt{data: frame(byte(i), 60)})
	}
	for i := range 4 {
		writeBlock(b, r, i, pkts...)
	}
	batch := packet.NewBatch(64)
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for total < b.N {
		n := r.fill(batch, 0)
		batch.SetLen(n)
		for _, p := range batch.Pkts {
			r.done(p.Handle)
		}
		batch.Reset()
		total += n
		if n == 0 {
			for i := range 4 {
				if kernelOwns(r, i) {
					atomic.StoreUint32(r.status(i), unix.TP_STATUS_USER)
				}
			}
		}
	}
}
