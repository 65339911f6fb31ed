package afpacket

import (
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// FuzzRing feeds arbitrary bytes to the block walker as the contents of a
// two-block ring: it must not panic, must hand out only bytes inside the
// ring, must count every packet a block announces as delivered or invalid,
// and must give every block back once all its packets are done.
func FuzzRing(f *testing.F) {
	const bs, nb = 1024, 2
	seed := newFakeRing(bs, nb)
	writeBlock(f, seed, 0, fakePkt{data: frame(1, 60), status: unix.TP_STATUS_VLAN_VALID, tci: 3}, fakePkt{data: frame(2, 100), wire: 1500})
	writeBlock(f, seed, 1, fakePkt{data: frame(3, 14)}, fakePkt{data: frame(4, 11), status: unix.TP_STATUS_VLAN_VALID})
	f.Add(append([]byte(nil), seed.mem...), uint8(3))
	f.Add(append([]byte(nil), seed.mem[:bs]...), uint8(1))
	f.Add([]byte{}, uint8(0))

	f.Fuzz(func(t *testing.T, in []byte, batchSize uint8) {
		r := newFakeRing(bs, nb)
		copy(r.mem, in)
		announced := uint64(0)
		for i := range nb {
			atomic.StoreUint32(r.status(i), unix.TP_STATUS_USER)
			announced += uint64(binary.NativeEndian.Uint32(r.block(i)[bdNumPkts:]))
		}
		var out []*packet.Batch
		for rounds := 0; rounds < 64; rounds++ {
			b := packet.NewBatch(int(batchSize%16) + 1)
			n := fill(r, b)
			for _, p := range b.Pkts {
				if !ringDataWithin(r.mem, p.Data) {
					t.Fatalf("packet data outside the ring")
				}
				if p.WireLen < len(p.Data) {
					t.Fatalf("WireLen %d < len(Data) %d", p.WireLen, len(p.Data))
				}
				if !r.owns(p.Handle) {
					t.Fatalf("handle %#x not ours", p.Handle)
				}
			}
			out = append(out, b)
			if n == 0 {
				break
			}
		}
		// Both blocks walked: everything announced is delivered or invalid.
		if r.open {
			t.Fatalf("block %d still open after the reader stopped", r.rd)
		}
		if r.packets+r.invalid != announced {
			t.Fatalf("delivered %d + invalid %d != announced %d", r.packets, r.invalid, announced)
		}
		for _, b := range out {
			done(r, b)
		}
		for i := range nb {
			if r.lent[i] != 0 || !kernelOwns(r, i) {
				t.Fatalf("block %d not back: lent %d", i, r.lent[i])
			}
		}
	})
}
