// Package pcapfile is the offline capture source: it reads classic pcap and
// pcapng files into packet batches without copying or allocating per packet,
// and writes classic pcap (Writer) and simple pcapng (NgWriter) files.
//
// Ownership: packets returned by Reader.Next point into the reader's read
// buffer. A buffer region is overwritten only after every batch holding
// packets in it came back through Done. A caller may keep several batches
// out at once; the reader then switches to another buffer instead of
// overwriting one that is still lent out.
package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Defaults and limits.
const (
	// DefaultBufferSize is the read buffer size when Options.BufferSize is 0.
	DefaultBufferSize = 1 << 20
	// DefaultMaxRecord is the largest captured length of one packet when
	// Options.MaxRecord is 0 (libpcap's largest snap length).
	DefaultMaxRecord = 256 << 10
	// MaxBlockLen is the largest pcapng block of any type the reader accepts;
	// a longer block length is treated as corruption.
	MaxBlockLen = 16 << 20

	minBufferSize = 64
	maxSpares     = 2
)

// Magic numbers of the formats read here.
const (
	magicMicro        = 0xa1b2c3d4 // classic pcap, microsecond timestamps
	magicNano         = 0xa1b23c4d // classic pcap, nanosecond timestamps
	magicMicroSwapped = 0xd4c3b2a1
	magicNanoSwapped  = 0x4d3cb2a1
	ngByteOrderMagic  = 0x1a2b3c4d

	pcapHeaderLen = 24
	pcapRecordLen = 16
)

// pcapng block types.
const (
	blockSHB = 0x0a0d0d0a // section header
	blockIDB = 0x00000001 // interface description
	blockPB  = 0x00000002 // packet (obsolete)
	blockSPB = 0x00000003 // simple packet
	blockEPB = 0x00000006 // enhanced packet
)

// Options tune a Reader. The zero value is ready to use.
type Options struct {
	// BufferSize is the initial read buffer size in bytes (default
	// DefaultBufferSize). Larger buffers mean fewer read calls; the buffer
	// grows on its own when one record does not fit.
	BufferSize int
	// MaxRecord is the largest captured length one packet may have; a
	// record claiming more is corrupt (default DefaultMaxRecord).
	MaxRecord int
}

type format uint8

const (
	formatPcap format = iota + 1
	formatPcapng
)

// buffer is a read buffer and the number of batches lent out of it.
type buffer struct {
	data []byte
	refs int
}

// lease records that batch b holds packets pointing into buf.
type lease struct {
	b   *packet.Batch
	buf *buffer
}

// iface is one pcapng interface of the current section.
type iface struct {
	link    packet.LinkType
	snaplen uint32
	ts      tsConv
}

// Reader reads a pcap or pcapng file. It implements capture.Source.
// A Reader is used by one goroutine at a time.
//
// Packets get Data (pointing into the read buffer), WireLen (the record's
// original length, at least len(Data)), TimeNs, LinkType (the file's, or the
// pcapng interface's), Num (1-based across the whole file, as Suricata's
// pcap_cnt), Origin OriginWire, and Handle: the file offset of the record.
// Every other field is zero.
type Reader struct {
	name   string
	src    io.Reader
	closer io.Closer
	opts   Options

	cur    *buffer   // buffer being read into
	spares []*buffer // buffers no batch holds, for reuse
	rd, wr int       // unread bytes are cur.data[rd:wr]
	base   int64     // file offset of cur.data[0]
	eof    bool
	rdErr  error // read error other than EOF, reported after the data before it
	zeros  int   // consecutive empty reads
	err    error // sticky: returned by every Next once set
	leases []lease

	format format
	big    bool // byte order: of the file (pcap) or current section (pcapng)

	// classic pcap
	link packet.LinkType
	nano bool

	// pcapng
	ifaces   []iface
	lastTime int64

	num   uint64
	stats capture.Stats
}

var _ capture.Source = (*Reader)(nil)

// Open opens a pcap or pcapng file; path "-" reads standard input. It reads
// and checks the file header before returning.
func Open(path string, opts Options) (*Reader, error) {
	if path == "-" {
		return NewReader(os.Stdin, "stdin", opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a pcap or pcapng stream from src; name is used in error
// messages. It reads and checks the file header before returning. Close does
// not close src.
func NewReader(src io.Reader, name string, opts Options) (*Reader, error) {
	if src == nil {
		return nil, fmt.Errorf("pcapfile: %s: nil reader", name)
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.BufferSize < minBufferSize {
		opts.BufferSize = minBufferSize
	}
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = DefaultMaxRecord
	}
	if opts.MaxRecord > MaxBlockLen-64 {
		opts.MaxRecord = MaxBlockLen - 64
	}
	r := &Reader{
		name: name,
		src:  src,
		opts: opts,
		cur:  &buffer{data: make([]byte, opts.BufferSize)},
	}
	if err := r.readHeader(); err != nil {
		return nil, err
	}
	return r, nil
}

// readHeader identifies the format and checks the file header (classic
// pcap) or first section header block (pcapng).
func (r *Reader) readHeader() error {
	if r.fill(4, false) != fillOK {
		return r.shortHeader("file header", 4)
	}
	m := r.cur.data[r.rd : r.rd+4]
	if binary.LittleEndian.Uint32(m) == blockSHB {
		r.format = formatPcapng
		r.ngBlock(nil, false)
		return r.err
	}
	r.format = formatPcap
	switch binary.LittleEndian.Uint32(m) {
	case magicMicro:
	case magicNano:
		r.nano = true
	case magicMicroSwapped:
		r.big = true
	case magicNanoSwapped:
		r.big, r.nano = true, true
	default:
		return r.fail(ErrFormat, fmt.Sprintf("not a pcap or pcapng file: unknown magic 0x%02x%02x%02x%02x", m[0], m[1], m[2], m[3]))
	}
	if r.fill(pcapHeaderLen, false) != fillOK {
		return r.shortHeader("file header", pcapHeaderLen)
	}
	h := r.cur.data[r.rd : r.rd+pcapHeaderLen]
	major, minor := r.u16(h[4:]), r.u16(h[6:])
	if major != 2 {
		return r.fail(ErrFormat, fmt.Sprintf("unsupported pcap version %d.%d", major, minor))
	}
	// The link type field carries FCS information in its upper bits.
	r.link = packet.LinkType(r.u32(h[20:]) & 0xffff)
	r.rd += pcapHeaderLen
	return nil
}

// shortHeader fails for a header of want bytes that the input cut short.
func (r *Reader) shortHeader(what string, want int) error {
	if r.rdErr != nil {
		return r.fail(r.rdErr, "read: "+r.rdErr.Error())
	}
	return r.fail(ErrTruncated, fmt.Sprintf("truncated %s: %d of %d bytes", what, r.wr-r.rd, want))
}

// fail records a sticky error about the record at the read position.
func (r *Reader) fail(sentinel error, reason string) error {
	r.err = &FileError{Name: r.name, Offset: r.base + int64(r.rd), Reason: reason, Err: sentinel}
	return r.err
}

// bad fails for a record that cannot become a packet, counting it.
func (r *Reader) bad(sentinel error, reason string) bool {
	r.stats.InvalidDrops++
	r.fail(sentinel, reason)
	return false
}

// finish ends the input at a record boundary: end of input or read error.
func (r *Reader) finish() bool {
	if r.rdErr != nil {
		r.fail(r.rdErr, "read: "+r.rdErr.Error())
		return false
	}
	r.err = capture.ErrEndOfInput
	return false
}

// truncated fails for a record of want bytes of which fewer remain.
func (r *Reader) truncated(what string, want int) bool {
	if r.rdErr != nil {
		return r.bad(r.rdErr, "read: "+r.rdErr.Error())
	}
	return r.bad(ErrTruncated, fmt.Sprintf("truncated %s: header says %d bytes, %d remain", what, want, r.wr-r.rd))
}

// Results of fill.
const (
	fillOK    = iota // the bytes are buffered
	fillYield        // no room without moving packets of the batch being filled
	fillShort        // the input ended (or failed) first
)

// fill makes sure need bytes are buffered from the read position. pinned
// says that the batch being filled already points into the current buffer,
// so its bytes may not move.
func (r *Reader) fill(need int, pinned bool) int {
	for r.wr-r.rd < need {
		if r.eof || r.rdErr != nil {
			return fillShort
		}
		if r.wr == len(r.cur.data) {
			if pinned {
				return fillYield
			}
			r.makeRoom(need)
		}
		n, err := r.src.Read(r.cur.data[r.wr:])
		if n < 0 || n > len(r.cur.data)-r.wr {
			r.rdErr = fmt.Errorf("reader returned invalid count %d", n)
			return fillShort
		}
		r.wr += n
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			r.rdErr = err
		} else if n == 0 {
			if r.zeros++; r.zeros >= 100 {
				r.rdErr = io.ErrNoProgress
			}
			continue
		}
		r.zeros = 0
	}
	return fillOK
}

// makeRoom frees space at the end of the current buffer by moving the unread
// tail to the front, into the same buffer if no batch holds it, else into
// another one. If need is more than the buffer holds, the new buffer is
// bigger (at most twice as big per call, so a bogus length in a short file
// does not allocate a huge buffer before the truncation shows).
func (r *Reader) makeRoom(need int) {
	size := len(r.cur.data)
	if need > size {
		size = min(2*size, need)
	}
	tail := r.wr - r.rd
	if r.cur.refs == 0 && size == len(r.cur.data) {
		copy(r.cur.data, r.cur.data[r.rd:r.wr])
	} else {
		nb := r.getBuffer(size)
		copy(nb.data, r.cur.data[r.rd:r.wr])
		old := r.cur
		r.cur = nb
		if old.refs == 0 {
			r.retire(old)
		}
	}
	r.base += int64(r.rd)
	r.rd, r.wr = 0, tail
}

// getBuffer returns a free buffer of exactly size bytes.
func (r *Reader) getBuffer(size int) *buffer {
	for i, b := range r.spares {
		if len(b.data) == size {
			last := len(r.spares) - 1
			r.spares[i] = r.spares[last]
			r.spares[last] = nil
			r.spares = r.spares[:last]
			return b
		}
	}
	return &buffer{data: make([]byte, size)}
}

// retire keeps a buffer no batch holds for reuse, if it is worth keeping.
func (r *Reader) retire(b *buffer) {
	if len(b.data) != len(r.cur.data) || len(r.spares) >= maxSpares {
		return
	}
	r.spares = append(r.spares, b)
}

func (r *Reader) u16(b []byte) uint16 {
	if r.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *Reader) u32(b []byte) uint32 {
	if r.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *Reader) u64(b []byte) uint64 {
	if r.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// Next fills b with up to b.Cap() packets. At the end of the file it
// returns capture.ErrEndOfInput; on a truncated or corrupt record it returns
// a *FileError naming the file and offset. Either may come together with the
// packets read before it; every later call returns the same error.
func (r *Reader) Next(b *packet.Batch) error {
	r.release(b)
	b.Reset()
	if r.err != nil {
		return r.err
	}
	n, max := 0, b.Cap()
	if max == 0 {
		return fmt.Errorf("pcapfile: %s: Next: batch has no packet slots", r.name)
	}
	for n < max {
		var ok bool
		if r.format == formatPcap {
			ok = r.pcapRecord(b.Slot(n), n > 0)
		} else {
			ok = r.ngPacket(b.Slot(n), n > 0)
		}
		if !ok {
			break
		}
		n++
	}
	b.SetLen(n)
	if n > 0 {
		r.cur.refs++
		r.leases = append(r.leases, lease{b: b, buf: r.cur})
	}
	return r.err
}

// Done gives the frames of b back to the reader and empties b.
func (r *Reader) Done(b *packet.Batch) {
	r.release(b)
	b.Reset()
}

// release ends b's lease on a buffer, if it has one.
func (r *Reader) release(b *packet.Batch) {
	for i := range r.leases {
		if r.leases[i].b != b {
			continue
		}
		buf := r.leases[i].buf
		last := len(r.leases) - 1
		r.leases[i] = r.leases[last]
		r.leases[last] = lease{}
		r.leases = r.leases[:last]
		buf.refs--
		if buf.refs == 0 && buf != r.cur {
			r.retire(buf)
		}
		return
	}
}

// Stats returns the reader's counters. KernelDrops is always 0 (a file
// records no drops the reader could trust).
func (r *Reader) Stats() capture.Stats { return r.stats }

// Close closes the file opened by Open (not standard input, and not the
// io.Reader given to NewReader). Next returns ErrClosed afterwards.
func (r *Reader) Close() error {
	if r.err == nil || r.err == capture.ErrEndOfInput {
		r.err = fmt.Errorf("%s: %w", r.name, ErrClosed)
	}
	r.spares = nil
	c := r.closer
	r.closer = nil
	if c != nil {
		return c.Close()
	}
	return nil
}

// Name returns the name used in error messages.
func (r *Reader) Name() string { return r.name }

// LinkType returns the link type of a classic pcap file, or of the first
// interface of the current pcapng section (0 before one was read). Each
// packet carries its own LinkType; this is for callers that need one value.
func (r *Reader) LinkType() packet.LinkType {
	if r.format == formatPcapng {
		if len(r.ifaces) > 0 {
			return r.ifaces[0].link
		}
		return 0
	}
	return r.link
}

// deliver fills p with one packet.
func (r *Reader) deliver(p *packet.Packet, data []byte, wire uint32, ts int64, link packet.LinkType, off int64) {
	r.num++
	w := int(wire)
	if uint64(wire) < uint64(len(data)) {
		w = len(data)
	} else if uint64(wire) > uint64(len(data)) {
		r.stats.Truncated++
	}
	*p = packet.Packet{
		Data:     data,
		WireLen:  w,
		TimeNs:   ts,
		LinkType: link,
		Num:      r.num,
		Handle:   uint64(off),
		Origin:   packet.OriginWire,
	}
	r.stats.Packets++
	r.stats.Bytes += uint64(len(data))
}

// pcapRecord reads one classic pcap record into p.
func (r *Reader) pcapRecord(p *packet.Packet, pinned bool) bool {
	switch r.fill(pcapRecordLen, pinned) {
	case fillYield:
		return false
	case fillShort:
		if r.wr == r.rd {
			return r.finish()
		}
		if r.rdErr != nil {
			return r.bad(r.rdErr, "read: "+r.rdErr.Error())
		}
		return r.bad(ErrTruncated, fmt.Sprintf("truncated record header: %d of %d bytes", r.wr-r.rd, pcapRecordLen))
	}
	h := r.cur.data[r.rd : r.rd+pcapRecordLen]
	sec, frac := r.u32(h[0:]), r.u32(h[4:])
	caplen, orig := r.u32(h[8:]), r.u32(h[12:])
	if uint64(caplen) > uint64(r.opts.MaxRecord) {
		return r.bad(ErrCorrupt, fmt.Sprintf("packet record length %d exceeds the limit of %d bytes", caplen, r.opts.MaxRecord))
	}
	total := pcapRecordLen + int(caplen)
	switch r.fill(total, pinned) {
	case fillYield:
		return false
	case fillShort:
		if r.rdErr != nil {
			return r.bad(r.rdErr, "read: "+r.rdErr.Error())
		}
		return r.bad(ErrTruncated, fmt.Sprintf("truncated packet record: header says %d bytes, %d remain", caplen, r.wr-r.rd-pcapRecordLen))
	}
	ts := int64(sec) * 1e9
	if r.nano {
		ts += int64(frac)
	} else {
		ts += int64(frac) * 1e3
	}
	start, end := r.rd+pcapRecordLen, r.rd+total
	r.deliver(p, r.cur.data[start:end:end], orig, ts, r.link, r.base+int64(r.rd))
	r.rd = end
	return true
}
