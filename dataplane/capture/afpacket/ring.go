package afpacket

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"golang.org/x/sys/unix"
)

// Layout of a TPACKET_V3 receive ring (linux/if_packet.h). All fields are
// in host byte order.
const (
	// struct tpacket_block_desc { u32 version; u32 offset_to_priv;
	// struct tpacket_hdr_v1 hdr; }
	bdStatus    = 8  // hdr.block_status
	bdNumPkts   = 12 // hdr.num_pkts
	bdFirstPkt  = 16 // hdr.offset_to_first_pkt
	blockHdrLen = 48 // sizeof(struct tpacket_block_desc)

	// struct tpacket3_hdr
	phNextOffset = 0  // u32 tp_next_offset
	phSec        = 4  // u32 tp_sec
	phNsec       = 8  // u32 tp_nsec
	phSnaplen    = 12 // u32 tp_snaplen
	phLen        = 16 // u32 tp_len
	phStatus     = 20 // u32 tp_status
	phMac        = 24 // u16 tp_mac
	phVlanTCI    = 32 // u32 hv1.tp_vlan_tci
	phVlanTPID   = 36 // u16 hv1.tp_vlan_tpid
	pktHdrLen    = 48 // sizeof(struct tpacket3_hdr)

	// vlanReserve is the headroom asked for with PACKET_RESERVE, so a VLAN
	// tag the kernel took out of the frame (TP_STATUS_VLAN_VALID) can be
	// put back in front of the frame without moving its payload.
	vlanReserve = 4
	// ethAddrsLen is the length of the destination and source MAC
	// addresses, the part of an Ethernet header in front of a VLAN tag.
	ethAddrsLen = 12
)

// ring walks the blocks of a TPACKET_V3 receive ring in the order the
// kernel fills them and lends their packets out.
//
// Lending rule: a block is the reader's from the moment the kernel marks it
// TP_STATUS_USER. The ring hands out its packets (each Packet.Handle names
// the block) and counts them in lent. The block goes back to the kernel
// (TP_STATUS_KERNEL) once the reader has walked past its last packet and
// every packet lent from it came back through done, in any batch and any
// order. Blocks are read strictly in ring order: if the next block is still
// lent out from the previous round, reading stops there until it comes back
// (the kernel meanwhile drops and counts what it cannot store).
type ring struct {
	mem       []byte // numBlocks blocks of blockSize bytes
	blockSize int
	numBlocks int
	lent      []int32 // per block: packets handed out and not yet done

	rd   int    // block being read or to be opened next
	open bool   // block rd was opened and has packets left to walk
	left uint32 // packets of block rd not yet walked
	off  int    // offset in block rd of the next packet header

	link  packet.LinkType
	queue uint16
	tag   uint64 // upper 32 bits of every Handle, unique per source
	num   uint64 // packets delivered so far (Packet.Num of the last)

	// Counters since the owner last drained them.
	packets, bytes, truncated, invalid uint64
	vlans                              uint64 // tags put back (tests read it)
}

// newRing prepares a ring over mem, which holds numBlocks blocks.
func newRing(mem []byte, blockSize, numBlocks int, link packet.LinkType, queue uint16, tag uint32) *ring {
	return &ring{
		mem: mem, blockSize: blockSize, numBlocks: numBlocks,
		lent: make([]int32, numBlocks),
		link: link, queue: queue, tag: uint64(tag) << 32,
	}
}

// block returns block i of the ring.
func (r *ring) block(i int) []byte {
	lo := i * r.blockSize
	return r.mem[lo : lo+r.blockSize : lo+r.blockSize]
}

// status points at block i's block_status word, which the kernel and the
// reader hand over to each other; it is only accessed atomically.
func (r *ring) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[i*r.blockSize+bdStatus]))
}

// fill puts ready packets into b's slots n, n+1, ... up to b.Cap() and
// returns the new count. It never waits.
func (r *ring) fill(b *packet.Batch, n int) int {
	max := b.Cap()
	for n < max {
		if !r.open {
			if !r.openBlock() {
				break
			}
			if r.left == 0 {
				r.closeBlock()
				continue
			}
		}
		if r.take(b.Slot(n)) {
			n++
		}
		if r.left == 0 {
			r.closeBlock()
		}
	}
	return n
}

// openBlock makes block rd the one being read if the kernel has handed it
// over and no packet of its previous round is still lent out.
func (r *ring) openBlock() bool {
	if r.lent[r.rd] != 0 {
		return false
	}
	if atomic.LoadUint32(r.status(r.rd))&unix.TP_STATUS_USER == 0 {
		return false
	}
	blk := r.block(r.rd)
	r.left = binary.NativeEndian.Uint32(blk[bdNumPkts:])
	r.off = int(binary.NativeEndian.Uint32(blk[bdFirstPkt:]))
	r.open = true
	return true
}

// closeBlock ends the walk of block rd and moves to the next block. The
// block goes back to the kernel now if nothing of it is lent out.
func (r *ring) closeBlock() {
	r.open = false
	if r.lent[r.rd] == 0 {
		r.release(r.rd)
	}
	r.rd++
	if r.rd == r.numBlocks {
		r.rd = 0
	}
}

// release gives block i back to the kernel.
func (r *ring) release(i int) {
	atomic.StoreUint32(r.status(i), unix.TP_STATUS_KERNEL)
}

// take fills p with the next packet of the open block. It returns false,
// counting the packets it gives up in invalid, when the block's headers are
// inconsistent; the rest of such a block is skipped.
func (r *ring) take(p *packet.Packet) bool {
	blk := r.block(r.rd)
	off := r.off
	if off < blockHdrLen || off > len(blk)-pktHdrLen {
		r.skipRest()
		return false
	}
	h := blk[off : off+pktHdrLen]
	snap := binary.NativeEndian.Uint32(h[phSnaplen:])
	mac := int(binary.NativeEndian.Uint16(h[phMac:]))
	if mac < pktHdrLen || uint64(off)+uint64(mac)+uint64(snap) > uint64(len(blk)) {
		r.skipRest()
		return false
	}
	wire := int(binary.NativeEndian.Uint32(h[phLen:]))
	status := binary.NativeEndian.Uint32(h[phStatus:])
	ts := int64(binary.NativeEndian.Uint32(h[phSec:]))*1e9 + int64(binary.NativeEndian.Uint32(h[phNsec:]))

	r.left--
	if r.left > 0 {
		next := int(binary.NativeEndian.Uint32(h[phNextOffset:]))
		if next < pktHdrLen || next > len(blk)-off {
			// This packet is whole, but the chain to the next is broken.
			r.invalid += uint64(r.left)
			r.left = 0
		} else {
			r.off = off + next
		}
	}

	start, end := off+mac, off+mac+int(snap)
	if int(snap) < wire {
		r.truncated++
	}
	if status&unix.TP_STATUS_VLAN_VALID != 0 && r.link == packet.LinkEthernet &&
		snap >= ethAddrsLen && mac >= pktHdrLen+vlanReserve {
		// The kernel took the outer 802.1Q tag out of the frame: put it
		// back between the MAC addresses and the EtherType, in the
		// headroom in front of the frame.
		tpid := uint16(0x8100)
		if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			if t := binary.NativeEndian.Uint16(h[phVlanTPID:]); t != 0 {
				tpid = t
			}
		}
		tci := uint16(binary.NativeEndian.Uint32(h[phVlanTCI:]))
		copy(blk[start-vlanReserve:], blk[start:start+ethAddrsLen])
		start -= vlanReserve
		binary.BigEndian.PutUint16(blk[start+ethAddrsLen:], tpid)
		binary.BigEndian.PutUint16(blk[start+ethAddrsLen+2:], tci)
		wire += vlanReserve
		r.vlans++
	}
	if wire < end-start {
		wire = end - start
	}

	r.num++
	r.packets++
	r.bytes += uint64(end - start)
	r.lent[r.rd]++
	*p = packet.Packet{
		Data:     blk[start:end:end],
		WireLen:  wire,
		TimeNs:   ts,
		LinkType: r.link,
		Num:      r.num,
		Queue:    r.queue,
		Handle:   r.tag | uint64(r.rd+1),
		Origin:   packet.OriginWire,
	}
	return true
}

// skipRest gives up the rest of the open block, counting its packets.
func (r *ring) skipRest() {
	r.invalid += uint64(r.left)
	r.left = 0
}

// owns reports whether handle h names a block of this ring.
func (r *ring) owns(h uint64) bool {
	i := int(uint32(h)) - 1
	return h&^0xffffffff == r.tag && i >= 0 && i < r.numBlocks
}

// done takes back one packet lent out with handle h; handles of other
// sources, of packets the engine made up (Handle 0) and of blocks with
// nothing lent are ignored. The block goes back to the kernel when it was
// the last one lent and the reader has walked past the block.
func (r *ring) done(h uint64) {
	if !r.owns(h) {
		return
	}
	i := int(uint32(h)) - 1
	if r.lent[i] <= 0 {
		return
	}
	r.lent[i]--
	if r.lent[i] == 0 && !(r.open && r.rd == i) {
		r.release(i)
	}
}
