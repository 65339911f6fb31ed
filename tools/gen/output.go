package gen

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// FrameSource yields Ethernet frames one at a time: the Generator and the
// Replayer.
type FrameSource interface {
	// NextFrame writes the next frame into buf (at least MaxFrameLen
	// bytes, owned by the caller) and returns its length and timestamp in
	// ns since the epoch; io.EOF when there are no more.
	NextFrame(buf []byte) (n int, timeNs int64, err error)
}

// WriteCapture writes every frame of src to path: pcapng if the name ends
// in ".pcapng", else pcap with nanosecond timestamps. It returns the
// number of frames and bytes written.
func WriteCapture(src FrameSource, path string) (frames, bytes uint64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, fmt.Errorf("gen: output: %w", err)
	}
	frames, bytes, err = WriteTo(src, f, strings.HasSuffix(strings.ToLower(path), ".pcapng"))
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("gen: output %s: %w", path, cerr)
	}
	return frames, bytes, err
}

// WriteTo writes every frame of src to w as pcap (ng: pcapng).
func WriteTo(src FrameSource, w io.Writer, ng bool) (frames, bytes uint64, err error) {
	buf := make([]byte, MaxFrameLen)
	var write func(ts int64, b []byte) error
	var flush func() error
	if ng {
		nw, err := pcapfile.NewNgWriter(w)
		if err != nil {
			return 0, 0, err
		}
		iface, err := nw.AddInterface(packet.LinkEthernet, 0, 9, 0)
		if err != nil {
			return 0, 0, err
		}
		write = func(ts int64, b []byte) error { return nw.WritePacket(iface, ts, b, len(b)) }
		flush = nw.Flush
	} else {
		pw, err := pcapfile.NewWriter(w, packet.LinkEthernet, 0, true)
		if err != nil {
			return 0, 0, err
		}
		write = func(ts int64, b []byte) error { return pw.WritePacket(ts, b, len(b)) }
		flush = pw.Flush
	}
	for {
		n, ts, err := src.NextFrame(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return frames, bytes, err
		}
		if err := write(ts, buf[:n]); err != nil {
			return frames, bytes, err
		}
		frames++
		bytes += uint64(n)
	}
	return frames, bytes, flush()
}
