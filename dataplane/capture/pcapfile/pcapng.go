package pcapfile

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Interface description options used here.
const (
	optEndOfOpt = 0
	optTSResol  = 9  // if_tsresol: 1 byte
	optTSOffset = 14 // if_tsoffset: 8 bytes, signed seconds
)

// tsConv converts a pcapng timestamp in interface units to nanoseconds.
type tsConv struct {
	mode     uint8
	factor   uint64 // tsMul: ns = ts*factor; tsDiv: ns = ts/factor
	shift    uint   // tsPow2: ns = ts*1e9 >> shift
	offsetNs int64  // if_tsoffset in nanoseconds
}

const (
	tsMul = iota
	tsDiv
	tsPow2
	tsZero // resolution so fine that every timestamp is below 1 ns
)

// newTSConv builds the conversion for an if_tsresol value and an
// if_tsoffset in seconds.
func newTSConv(resol uint8, offsetSec int64) tsConv {
	c := tsConv{offsetNs: offsetSec * 1e9}
	n := uint(resol & 0x7f)
	switch {
	case resol&0x80 != 0:
		c.mode, c.shift = tsPow2, n
	case n <= 9:
		c.mode, c.factor = tsMul, pow10(9-n)
	case n-9 <= 19:
		c.mode, c.factor = tsDiv, pow10(n-9)
	default:
		c.mode = tsZero
	}
	return c
}

func pow10(n uint) uint64 {
	v := uint64(1)
	for ; n > 0; n-- {
		v *= 10
	}
	return v
}

// ns converts a timestamp. Values beyond the int64 range wrap; they come
// only from nonsense files and must not stop the reader.
func (c *tsConv) ns(ts uint64) int64 {
	var v uint64
	switch c.mode {
	case tsMul:
		v = ts * c.factor
	case tsDiv:
		v = ts / c.factor
	case tsPow2:
		hi, lo := bits.Mul64(ts, 1e9)
		switch {
		case c.shift == 0:
			v = lo
		case c.shift < 64:
			v = lo>>c.shift | hi<<(64-c.shift)
		default:
			v = hi >> (c.shift - 64)
		}
	}
	return int64(v) + c.offsetNs
}

// Results of ngBlock.
const (
	ngStop   = iota // yield or error (r.err says which)
	ngPacket        // p was filled
	ngOther         // a non-packet block was consumed
)

// ngPacket reads blocks until one packet is in p.
func (r *Reader) ngPacket(p *packet.Packet, pinned bool) bool {
	for {
		switch r.ngBlock(p, pinned) {
		case ngStop:
			return false
		case ngPacket:
			return true
		}
	}
}

// ngBlock reads one pcapng block. p may be nil when the block is known not
// to be a packet (the first section header).
func (r *Reader) ngBlock(p *packet.Packet, pinned bool) int {
	switch r.fill(8, pinned) {
	case fillYield:
		return ngStop
	case fillShort:
		if r.wr == r.rd {
			r.finish()
			return ngStop
		}
		r.truncated("block header", 8)
		return ngStop
	}
	typ := r.u32(r.cur.data[r.rd:])
	if typ == blockSHB {
		// The byte-order magic decides how to read everything in the
		// section, this block's length included.
		switch r.fill(12, pinned) {
		case fillYield:
			return ngStop
		case fillShort:
			r.truncated("section header block", 12)
			return ngStop
		}
		switch bom := r.cur.data[r.rd+8 : r.rd+12]; {
		case binary.LittleEndian.Uint32(bom) == ngByteOrderMagic:
			r.big = false
		case binary.BigEndian.Uint32(bom) == ngByteOrderMagic:
			r.big = true
		default:
			r.bad(ErrFormat, fmt.Sprintf("section header block: unknown byte-order magic 0x%02x%02x%02x%02x", bom[0], bom[1], bom[2], bom[3]))
			return ngStop
		}
	}
	blen := r.u32(r.cur.data[r.rd+4:])
	if blen < 12 || blen%4 != 0 || blen > MaxBlockLen {
		r.bad(ErrCorrupt, fmt.Sprintf("block type 0x%08x: invalid block length %d", typ, blen))
		return ngStop
	}
	n := int(blen)
	switch r.fill(n, pinned) {
	case fillYield:
		return ngStop
	case fillShort:
		r.truncated("block", n)
		return ngStop
	}
	blk := r.cur.data[r.rd : r.rd+n]
	if t := r.u32(blk[n-4:]); t != blen {
		r.bad(ErrCorrupt, fmt.Sprintf("block type 0x%08x: block length mismatch: header says %d, trailer says %d", typ, blen, t))
		return ngStop
	}
	res := ngOther
	switch typ {
	case blockSHB:
		if !r.ngSection(blk) {
			return ngStop
		}
	case blockIDB:
		if !r.ngInterface(blk) {
			return ngStop
		}
	case blockEPB, blockPB:
		if !r.ngEnhanced(p, blk, typ) {
			return ngStop
		}
		res = ngPacket
	case blockSPB:
		if !r.ngSimple(p, blk) {
			return ngStop
		}
		res = ngPacket
	}
	r.rd += n
	return res
}

// ngSection starts a new section: interfaces of the previous one are gone.
func (r *Reader) ngSection(blk []byte) bool {
	if len(blk) < 28 {
		return r.bad(ErrCorrupt, fmt.Sprintf("section header block too short: %d bytes", len(blk)))
	}
	major, minor := r.u16(blk[12:]), r.u16(blk[14:])
	if major != 1 {
		return r.bad(ErrFormat, fmt.Sprintf("unsupported pcapng version %d.%d", major, minor))
	}
	r.ifaces = r.ifaces[:0]
	return true
}

// ngInterface adds an interface description to the section.
func (r *Reader) ngInterface(blk []byte) bool {
	if len(blk) < 20 {
		return r.bad(ErrCorrupt, fmt.Sprintf("interface description block too short: %d bytes", len(blk)))
	}
	in := iface{link: packet.LinkType(r.u16(blk[8:])), snaplen: r.u32(blk[12:])}
	resol, offset := uint8(6), int64(0)
	opts := blk[16 : len(blk)-4]
	for len(opts) >= 4 {
		code, olen := r.u16(opts), int(r.u16(opts[2:]))
		if code == optEndOfOpt {
			break
		}
		padded := (olen + 3) &^ 3
		if 4+padded > len(opts) {
			return r.bad(ErrCorrupt, fmt.Sprintf("interface description block: option %d of %d bytes overruns the block", code, olen))
		}
		val := opts[4 : 4+olen]
		switch {
		case code == optTSResol && olen == 1:
			resol = val[0]
		case code == optTSOffset && olen == 8:
			offset = int64(r.u64(val))
		}
		opts = opts[4+padded:]
	}
	in.ts = newTSConv(resol, offset)
	r.ifaces = append(r.ifaces, in)
	return true
}

// ngEnhanced reads an enhanced packet block or an obsolete packet block;
// both have the captured and original length at the same place.
func (r *Reader) ngEnhanced(p *packet.Packet, blk []byte, typ uint32) bool {
	name := "enhanced packet block"
	if typ == blockPB {
		name = "packet block"
	}
	if len(blk) < 32 {
		return r.bad(ErrCorrupt, fmt.Sprintf("%s too short: %d bytes", name, len(blk)))
	}
	var id uint32
	if typ == blockPB {
		id = uint32(r.u16(blk[8:]))
	} else {
		id = r.u32(blk[8:])
	}
	if uint64(id) >= uint64(len(r.ifaces)) {
		return r.bad(ErrCorrupt, fmt.Sprintf("%s refers to interface %d, the section has %d", name, id, len(r.ifaces)))
	}
	caplen, orig := r.u32(blk[20:]), r.u32(blk[24:])
	if uint64(caplen) > uint64(r.opts.MaxRecord) {
		return r.bad(ErrCorrupt, fmt.Sprintf("%s: captured length %d exceeds the limit of %d bytes", name, caplen, r.opts.MaxRecord))
	}
	if uint64(caplen) > uint64(len(blk)-32) {
		return r.bad(ErrCorrupt, fmt.Sprintf("%s: captured length %d overruns the block of %d bytes", name, caplen, len(blk)))
	}
	in := &r.ifaces[id]
	ts := in.ts.ns(uint64(r.u32(blk[12:]))<<32 | uint64(r.u32(blk[16:])))
	r.lastTime = ts
	end := 28 + int(caplen)
	r.deliver(p, blk[28:end:end], orig, ts, in.link, r.base+int64(r.rd))
	return true
}

// ngSimple reads a simple packet block. It has no timestamp: the packet
// gets the time of the packet before it (0 if none), so that time never
// jumps back to 1970 in the middle of a capture.
func (r *Reader) ngSimple(p *packet.Packet, blk []byte) bool {
	if len(blk) < 16 {
		return r.bad(ErrCorrupt, fmt.Sprintf("simple packet block too short: %d bytes", len(blk)))
	}
	if len(r.ifaces) == 0 {
		return r.bad(ErrCorrupt, "simple packet block before any interface description")
	}
	in := &r.ifaces[0]
	orig := r.u32(blk[8:])
	caplen := uint64(orig)
	if in.snaplen > 0 && caplen > uint64(in.snaplen) {
		caplen = uint64(in.snaplen)
	}
	if room := uint64(len(blk) - 16); caplen > room {
		caplen = room
	}
	if caplen > uint64(r.opts.MaxRecord) {
		return r.bad(ErrCorrupt, fmt.Sprintf("simple packet block: captured length %d exceeds the limit of %d bytes", caplen, r.opts.MaxRecord))
	}
	end := 12 + int(caplen)
	r.deliver(p, blk[12:end:end], orig, r.lastTime, in.link, r.base+int64(r.rd))
	return true
}
