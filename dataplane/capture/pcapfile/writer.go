package pcapfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

const writeBufferSize = 64 << 10

// Writer writes a classic pcap file in little-endian byte order.
// WritePacket does not allocate. Call Flush when done.
type Writer struct {
	w       *bufio.Writer
	snaplen int
	nano    bool
	hdr     [pcapRecordLen]byte
}

// NewWriter writes a classic pcap file header to w: link type link, snap
// length snaplen (0 means DefaultMaxRecord), and nanosecond timestamps if
// nano, else microseconds.
func NewWriter(w io.Writer, link packet.LinkType, snaplen int, nano bool) (*Writer, error) {
	if w == nil {
		return nil, errors.New("pcapfile: NewWriter: nil io.Writer")
	}
	if snaplen == 0 {
		snaplen = DefaultMaxRecord
	}
	if snaplen < 0 || snaplen > DefaultMaxRecord {
		return nil, fmt.Errorf("pcapfile: NewWriter: snap length %d outside 1..%d", snaplen, DefaultMaxRecord)
	}
	pw := &Writer{w: bufio.NewWriterSize(w, writeBufferSize), snaplen: snaplen, nano: nano}
	var h [pcapHeaderLen]byte
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	le := binary.LittleEndian
	le.PutUint32(h[0:], magic)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	// thiszone and sigfigs stay 0.
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], uint32(link))
	if _, err := pw.w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcapfile: writing file header: %w", err)
	}
	return pw, nil
}

// WritePacket writes one record. data longer than the snap length is cut to
// it; wireLen below the captured length is raised to it. timeNs must lie
// between 1970 and 2106 (the format's 32-bit seconds).
func (w *Writer) WritePacket(timeNs int64, data []byte, wireLen int) error {
	if timeNs < 0 || timeNs/1e9 > 0xffffffff {
		return fmt.Errorf("pcapfile: WritePacket: timestamp %d ns outside the pcap range", timeNs)
	}
	if len(data) > w.snaplen {
		data = data[:w.snaplen]
	}
	if wireLen < len(data) {
		wireLen = len(data)
	}
	if uint64(wireLen) > 0xffffffff {
		return fmt.Errorf("pcapfile: WritePacket: wire length %d too large", wireLen)
	}
	frac := timeNs % 1e9
	if !w.nano {
		frac /= 1e3
	}
	le := binary.LittleEndian
	le.PutUint32(w.hdr[0:], uint32(timeNs/1e9))
	le.PutUint32(w.hdr[4:], uint32(frac))
	le.PutUint32(w.hdr[8:], uint32(len(data)))
	le.PutUint32(w.hdr[12:], uint32(wireLen))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return fmt.Errorf("pcapfile: writing packet record: %w", err)
	}
	if _, err := w.w.Write(data); err != nil {
		return fmt.Errorf("pcapfile: writing packet record: %w", err)
	}
	return nil
}

// Flush writes buffered records to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("pcapfile: flush: %w", err)
	}
	return nil
}

// NgWriter writes a little-endian pcapng file with one section: interface
// description blocks and enhanced packet blocks. WritePacket does not
// allocate. Call Flush when done.
type NgWriter struct {
	w      *bufio.Writer
	ifaces []ngOutIface
	hdr    [28]byte
	tail   [8]byte
}

type ngOutIface struct {
	snaplen  int
	resol    uint8
	offsetNs int64
}

// NewNgWriter writes a section header block to w.
func NewNgWriter(w io.Writer) (*NgWriter, error) {
	if w == nil {
		return nil, errors.New("pcapfile: NewNgWriter: nil io.Writer")
	}
	nw := &NgWriter{w: bufio.NewWriterSize(w, writeBufferSize)}
	var b [28]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], blockSHB)
	le.PutUint32(b[4:], 28)
	le.PutUint32(b[8:], ngByteOrderMagic)
	le.PutUint16(b[12:], 1)
	le.PutUint16(b[14:], 0)
	le.PutUint64(b[16:], ^uint64(0)) // section length unknown
	le.PutUint32(b[24:], 28)
	if _, err := nw.w.Write(b[:]); err != nil {
		return nil, fmt.Errorf("pcapfile: writing section header block: %w", err)
	}
	return nw, nil
}

// AddInterface writes an interface description block and returns the
// interface's id for WritePacket. snaplen 0 means no limit. tsresol is the
// if_tsresol value (bit 7 clear: 10^-n seconds, set: 2^-n seconds); 0
// means the default, microseconds. tsoffset is if_tsoffset in seconds,
// added by readers to every timestamp of the interface.
func (w *NgWriter) AddInterface(link packet.LinkType, snaplen int, tsresol uint8, tsoffset int64) (int, error) {
	if snaplen < 0 || snaplen > DefaultMaxRecord {
		return 0, fmt.Errorf("pcapfile: AddInterface: snap length %d outside 0..%d", snaplen, DefaultMaxRecord)
	}
	if tsresol == 0 {
		tsresol = 6
	}
	if tsresol&0x80 == 0 && tsresol > 19 || tsresol&0x80 != 0 && tsresol&0x7f > 63 {
		return 0, fmt.Errorf("pcapfile: AddInterface: timestamp resolution 0x%02x not supported", tsresol)
	}
	n := 20
	if tsresol != 6 {
		n += 8
	}
	if tsoffset != 0 {
		n += 12
	}
	if n > 20 {
		n += 4 // opt_endofopt
	}
	b := make([]byte, n)
	le := binary.LittleEndian
	le.PutUint32(b[0:], blockIDB)
	le.PutUint32(b[4:], uint32(n))
	le.PutUint16(b[8:], uint16(link))
	le.PutUint32(b[12:], uint32(snaplen))
	o := 16
	if tsresol != 6 {
		le.PutUint16(b[o:], optTSResol)
		le.PutUint16(b[o+2:], 1)
		b[o+4] = tsresol
		o += 8
	}
	if tsoffset != 0 {
		le.PutUint16(b[o:], optTSOffset)
		le.PutUint16(b[o+2:], 8)
		le.PutUint64(b[o+4:], uint64(tsoffset))
		o += 12
	}
	// The end-of-options marker, when there are options, is left zero.
	le.PutUint32(b[n-4:], uint32(n))
	if _, err := w.w.Write(b); err != nil {
		return 0, fmt.Errorf("pcapfile: writing interface description block: %w", err)
	}
	w.ifaces = append(w.ifaces, ngOutIface{snaplen: snaplen, resol: tsresol, offsetNs: tsoffset * 1e9})
	return len(w.ifaces) - 1, nil
}

// units converts nanoseconds since the epoch to the interface's timestamp
// units (rounding down); ^uint64(0) if they do not fit in 64 bits.
func (in *ngOutIface) units(ns uint64) uint64 {
	n := uint(in.resol & 0x7f)
	if in.resol&0x80 != 0 {
		// ns * 2^n / 1e9 in 128 bits (a shift by 64 or more gives 0).
		hi, lo := ns>>(64-n), ns<<n
		if n >= 64 {
			hi, lo = ns<<(n-64), 0
		}
		if hi >= 1e9 {
			return ^uint64(0)
		}
		q, _ := bits.Div64(hi, lo, 1e9)
		return q
	}
	if n <= 9 {
		return ns / pow10(9-n)
	}
	f := pow10(n - 9)
	if ns > ^uint64(0)/f {
		return ^uint64(0)
	}
	return ns * f
}

// WritePacket writes an enhanced packet block for interface iface. data
// longer than the interface's snap length is cut to it; wireLen below the
// captured length is raised to it.
func (w *NgWriter) WritePacket(iface int, timeNs int64, data []byte, wireLen int) error {
	if iface < 0 || iface >= len(w.ifaces) {
		return fmt.Errorf("pcapfile: WritePacket: no interface %d (have %d)", iface, len(w.ifaces))
	}
	in := &w.ifaces[iface]
	if in.snaplen > 0 && len(data) > in.snaplen {
		data = data[:in.snaplen]
	}
	if len(data) > DefaultMaxRecord {
		data = data[:DefaultMaxRecord]
	}
	if wireLen < len(data) {
		wireLen = len(data)
	}
	if uint64(wireLen) > 0xffffffff {
		return fmt.Errorf("pcapfile: WritePacket: wire length %d too large", wireLen)
	}
	rel := timeNs - in.offsetNs
	if rel < 0 {
		return fmt.Errorf("pcapfile: WritePacket: timestamp %d ns is before the interface's time offset", timeNs)
	}
	ts := in.units(uint64(rel))
	if ts == ^uint64(0) {
		return fmt.Errorf("pcapfile: WritePacket: timestamp %d ns does not fit interface %d's resolution 0x%02x", timeNs, iface, in.resol)
	}
	pad := (4 - len(data)%4) % 4
	blen := 32 + len(data) + pad
	le := binary.LittleEndian
	le.PutUint32(w.hdr[0:], blockEPB)
	le.PutUint32(w.hdr[4:], uint32(blen))
	le.PutUint32(w.hdr[8:], uint32(iface))
	le.PutUint32(w.hdr[12:], uint32(ts>>32))
	le.PutUint32(w.hdr[16:], uint32(ts))
	le.PutUint32(w.hdr[20:], uint32(len(data)))
	le.PutUint32(w.hdr[24:], uint32(wireLen))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return fmt.Errorf("pcapfile: writing enhanced packet block: %w", err)
	}
	if _, err := w.w.Write(data); err != nil {
		return fmt.Errorf("pcapfile: writing enhanced packet block: %w", err)
	}
	w.tail = [8]byte{}
	le.PutUint32(w.tail[pad:], uint32(blen))
	if _, err := w.w.Write(w.tail[:pad+4]); err != nil {
		return fmt.Errorf("pcapfile: writing enhanced packet block: %w", err)
	}
	return nil
}

// Flush writes buffered blocks to the underlying writer.
func (w *NgWriter) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("pcapfile: flush: %w", err)
	}
	return nil
}
