package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// FuzzReader reads arbitrary bytes as a capture file with small buffers and
// batches, and checks the reader's promises: no panic, an end, packets that
// hold together, errors that name the file and an offset inside it.
func FuzzReader(f *testing.F) {
	le, be := binary.LittleEndian, binary.BigEndian
	fr := frames(f, 6, 11)
	file, _ := writePcap(f, fr, packet.LinkEthernet, 0, false)
	f.Add(file, uint16(64))
	f.Add(file[:len(file)-7], uint16(100))
	nfile, _ := writePcap(f, fr, packet.LinkRaw, 64, true)
	f.Add(nfile, uint16(0))
	bp := newPcap(be, magicNano, 65535, 113)
	for _, d := range fr[:3] {
		bp.record(1, 2, d, uint32(len(d)+1))
	}
	f.Add(bp.buf, uint16(80))
	ng1, _ := buildNg(f, le, le)
	f.Add(ng1, uint16(64))
	ng2, _ := buildNg(f, be, le)
	f.Add(ng2, uint16(300))
	f.Add(ng2[:len(ng2)-30], uint16(300))
	var buf bytes.Buffer
	w, _ := NewNgWriter(&buf)
	w.AddInterface(packet.LinkEthernet, 0, 0x80|24, 3)
	w.AddInterface(packet.LinkLinuxSLL2, 128, 9, 0)
	for i, d := range fr {
		w.WritePacket(i%2, baseTime, d, len(d))
	}
	w.Flush()
	f.Add(buf.Bytes(), uint16(128))
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1}, uint16(0))

	f.Fuzz(func(t *testing.T, data []byte, bufSize uint16) {
		// Small buffers exercise compaction and growth (and avoid a 1 MiB
		// default buffer per run).
		r, err := NewReader(bytes.NewReader(data), "fuzz", Options{BufferSize: 1 + int(bufSize)%2048, MaxRecord: 4096})
		if err != nil {
			checkFileError(t, err, len(data))
			return
		}
		b := packet.NewBatch(1 + int(bufSize)%9)
		var n uint64
		for iter := 0; ; iter++ {
			if iter > len(data)+2 {
				t.Fatalf("no end after %d calls on %d bytes", iter, len(data))
			}
			err := r.Next(b)
			for _, p := range b.Pkts {
				n++
				if p.Num != n || len(p.Data) > 4096 || p.WireLen < len(p.Data) || p.Origin != packet.OriginWire || p.Handle >= uint64(len(data)) {
					t.Fatalf("packet %d: num %d len %d wire %d handle %d", n, p.Num, len(p.Data), p.WireLen, p.Handle)
				}
			}
			if err == nil && len(b.Pkts) == 0 {
				t.Fatal("no packets and no error")
			}
			r.Done(b)
			if err != nil {
				if err2 := r.Next(b); err2 != err || len(b.Pkts) != 0 {
					t.Fatalf("after %v: %v with %d packets", err, err2, len(b.Pkts))
				}
				if !errors.Is(err, capture.ErrEndOfInput) {
					checkFileError(t, err, len(data))
				}
				break
			}
		}
		if st := r.Stats(); st.Packets != n || st.InvalidDrops > 1 {
			t.Fatalf("stats %+v after %d packets", st, n)
		}
	})
}

func checkFileError(t *testing.T, err error, size int) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) || fe.Name != "fuzz" || fe.Offset < 0 || fe.Offset > int64(size) {
		t.Fatalf("error %v (%T) does not name the file and an offset within %d bytes", err, err, size)
	}
	if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v wraps no sentinel", err)
	}
}
