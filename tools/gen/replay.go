package gen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/capture/pcapfile"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// ReplayOptions configure a Replayer.
type ReplayOptions struct {
	// Loops is how many times the capture is played (default 1; negative:
	// without end).
	Loops int
	// Clients selects the addresses to rewrite: every address inside it.
	// The zero Prefix learns them from the capture: the senders of TCP
	// SYNs, and for other TCP and UDP packets the side with the higher
	// (ephemeral) port.
	Clients netip.Prefix
}

// Replayer plays an Ethernet capture in a loop. In loop L (from 0) every
// client address has L added to it (IPv4: the whole address, IPv6: its
// last 32 bits), with the IP and transport checksums updated
// incrementally (RFC 1624), so each loop is a new set of flows. The
// capture is read into memory once; NextFrame allocates nothing.
type Replayer struct {
	frames [][]byte
	times  []int64
	masks  []uint8 // per frame: rewrite source (1), destination (2)
	loops  int
	loop   int
	idx    int
	span   int64 // time one loop takes (last - first + mean gap)
	stats  RewriteStats
}

// RewriteStats count what the rewriting did.
type RewriteStats struct {
	Rewritten uint64 // frames with an address changed
	NoIP      uint64 // frames that are not IPv4 or IPv6 (sent unchanged)
	Short     uint64 // frames cut before the headers to rewrite (sent unchanged)
}

// NewReplayer reads the capture at path (pcap or pcapng, Ethernet).
func NewReplayer(path string, opts ReplayOptions) (*Replayer, error) {
	src, err := pcapfile.Open(path, pcapfile.Options{})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var frames [][]byte
	var times []int64
	b := packet.NewBatch(64)
	for {
		err := src.Next(b)
		for _, p := range b.Pkts {
			if p.LinkType != packet.LinkEthernet {
				src.Done(b)
				return nil, fmt.Errorf("gen: replay %s: packet %d has link type %d; only Ethernet captures can be replayed", path, p.Num, p.LinkType)
			}
			if len(p.Data) > MaxFrameLen {
				src.Done(b)
				return nil, fmt.Errorf("gen: replay %s: packet %d has %d bytes, more than %d", path, p.Num, len(p.Data), MaxFrameLen)
			}
			frames = append(frames, append([]byte(nil), p.Data...))
			times = append(times, p.TimeNs)
		}
		src.Done(b)
		if errors.Is(err, capture.ErrEndOfInput) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("gen: replay %s: no packets", path)
	}
	return newReplayer(frames, times, opts), nil
}

// Prebuild takes the first n frames of src into memory and returns a
// Replayer looping over them: a scenario sent at top speed then costs a
// copy and an address rewrite per frame instead of making each frame,
// and every loop is a new set of flows (client addresses plus the loop
// number). Flows still open after the n-th frame are cut there.
func Prebuild(src FrameSource, n int, opts ReplayOptions) (*Replayer, error) {
	if n < 1 {
		return nil, fmt.Errorf("gen: Prebuild: %d frames", n)
	}
	var frames [][]byte
	var times []int64
	buf := make([]byte, MaxFrameLen)
	for len(frames) < n {
		l, ts, err := src.NextFrame(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		frames = append(frames, append([]byte(nil), buf[:l]...))
		times = append(times, ts)
	}
	if len(frames) == 0 {
		return nil, errors.New("gen: Prebuild: the source made no frames")
	}
	return newReplayer(frames, times, opts), nil
}

func newReplayer(frames [][]byte, times []int64, opts ReplayOptions) *Replayer {
	r := &Replayer{loops: opts.Loops, frames: frames, times: times}
	if r.loops == 0 {
		r.loops = 1
	}
	n := len(r.times)
	r.span = r.times[n-1] - r.times[0]
	if n > 1 {
		r.span += r.span / int64(n-1)
	}
	if r.span <= 0 {
		r.span = 1000
	}
	r.masks = make([]uint8, n)
	var learned map[netip.Addr]bool
	if !opts.Clients.IsValid() {
		learned = learnClients(r.frames)
	}
	for i, f := range r.frames {
		var h l3view
		if !h.parse(f) {
			continue
		}
		src, dst := h.addr(f, true), h.addr(f, false)
		in := func(a netip.Addr) bool {
			if learned != nil {
				return learned[a]
			}
			return opts.Clients.Contains(a)
		}
		if in(src) {
			r.masks[i] |= 1
		}
		if in(dst) {
			r.masks[i] |= 2
		}
	}
	return r
}

// learnClients returns the client addresses of a capture: TCP SYN
// senders, and the higher-port side of other TCP and UDP packets of
// connections whose SYN was not seen.
func learnClients(frames [][]byte) map[netip.Addr]bool {
	type key struct {
		a, b   netip.Addr
		pa, pb uint16
	}
	synSeen := map[key]bool{}
	clients := map[netip.Addr]bool{}
	for _, f := range frames {
		var h l3view
		if !h.parse(f) || h.l4 < 0 || h.proto == protoTCP && len(f) < h.l4+14 {
			continue
		}
		if h.proto == protoTCP && f[h.l4+13]&(flSYN|flACK) == flSYN {
			src := h.addr(f, true)
			clients[src] = true
			sp, dp := binary.BigEndian.Uint16(f[h.l4:]), binary.BigEndian.Uint16(f[h.l4+2:])
			synSeen[key{src, h.addr(f, false), sp, dp}] = true
		}
	}
	for _, f := range frames {
		var h l3view
		if !h.parse(f) || h.l4 < 0 || len(f) < h.l4+4 || (h.proto != protoTCP && h.proto != protoUDP) {
			continue
		}
		src, dst := h.addr(f, true), h.addr(f, false)
		sp, dp := binary.BigEndian.Uint16(f[h.l4:]), binary.BigEndian.Uint16(f[h.l4+2:])
		if synSeen[key{src, dst, sp, dp}] || synSeen[key{dst, src, dp, sp}] {
			continue
		}
		switch {
		case sp > dp:
			clients[src] = true
		case dp > sp:
			clients[dst] = true
		default:
			clients[src] = true
		}
	}
	return clients
}

// Len returns the number of frames in one loop.
func (r *Replayer) Len() int { return len(r.frames) }

// Stats returns the rewriting counters.
func (r *Replayer) Stats() RewriteStats { return r.stats }

// NextFrame copies the next frame into buf, rewritten for the current
// loop, and returns its length and timestamp (the capture's, shifted by
// one capture length per loop).
func (r *Replayer) NextFrame(buf []byte) (int, int64, error) {
	if r.idx == len(r.frames) {
		r.idx = 0
		r.loop++
	}
	if r.loops > 0 && r.loop >= r.loops {
		return 0, 0, io.EOF
	}
	f := r.frames[r.idx]
	n := copy(buf, f)
	if n < len(f) {
		return 0, 0, fmt.Errorf("gen: replay: buffer of %d bytes for a %d-byte frame", len(buf), len(f))
	}
	ts := r.times[r.idx] + int64(r.loop)*r.span
	if m := r.masks[r.idx]; m != 0 && r.loop > 0 {
		switch RewriteFrame(buf[:n], uint32(r.loop), m&1 != 0, m&2 != 0) {
		case rewriteOK:
			r.stats.Rewritten++
		case rewriteNoIP:
			r.stats.NoIP++
		case rewriteShort:
			r.stats.Short++
		}
	}
	r.idx++
	return n, ts, nil
}

// l3view locates the IP and transport headers of an Ethernet frame.
type l3view struct {
	l3, l4 int // offsets; l4 -1 when the transport header is absent (later fragment, unknown)
	v6     bool
	proto  uint8
	first  bool // not a fragment, or the first one
}

// parse reads Ethernet (with up to two VLAN tags), then IPv4 or IPv6 and
// IPv6 extension headers. false: not IP, or cut short.
func (h *l3view) parse(f []byte) bool {
	if len(f) < ethLen {
		return false
	}
	et := binary.BigEndian.Uint16(f[12:])
	off := ethLen
	for i := 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++ {
		if len(f) < off+4 {
			return false
		}
		et = binary.BigEndian.Uint16(f[off+2:])
		off += 4
	}
	h.l3, h.l4, h.first = off, -1, true
	switch et {
	case 0x0800:
		if len(f) < off+ipv4Len || f[off]>>4 != 4 {
			return false
		}
		ihl := int(f[off]&0x0f) * 4
		if ihl < ipv4Len || len(f) < off+ihl {
			return false
		}
		h.proto = f[off+9]
		fo := binary.BigEndian.Uint16(f[off+6:])
		h.first = fo&0x1fff == 0
		if h.first {
			h.l4 = off + ihl
		}
		return true
	case 0x86dd:
		if len(f) < off+ipv6Len || f[off]>>4 != 6 {
			return false
		}
		h.v6 = true
		nh := f[off+6]
		p := off + ipv6Len
		for hops := 0; hops < 8; hops++ {
			switch nh {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(f) < p+8 {
					return true
				}
				nh = f[p]
				p += 8 + int(f[p+1])*8
			case protoFrag6:
				if len(f) < p+8 {
					return true
				}
				nh = f[p]
				h.first = binary.BigEndian.Uint16(f[p+2:])&0xfff8 == 0
				p += 8
			default:
				h.proto = nh
				if h.first && p <= len(f) {
					h.l4 = p
				}
				return true
			}
		}
		return true
	}
	return false
}

// addr returns the source (src) or destination address.
func (h *l3view) addr(f []byte, src bool) netip.Addr {
	if h.v6 {
		o := h.l3 + 24
		if src {
			o = h.l3 + 8
		}
		return netip.AddrFrom16([16]byte(f[o : o+16]))
	}
	o := h.l3 + 16
	if src {
		o = h.l3 + 12
	}
	return netip.AddrFrom4([4]byte(f[o : o+4]))
}

// Results of RewriteFrame.
const (
	rewriteOK = iota
	rewriteNoIP
	rewriteShort
)

// RewriteFrame adds add to the source and/or destination address of an
// Ethernet frame's IPv4 or IPv6 header (IPv6: to its last 32 bits) and
// updates the IPv4 header checksum and the TCP, UDP or ICMPv6 checksum
// (when this fragment holds it) incrementally. Malformed or cut frames are
// left as they are. It returns rewriteOK, rewriteNoIP or rewriteShort.
func RewriteFrame(f []byte, add uint32, src, dst bool) int {
	var h l3view
	if !h.parse(f) {
		if len(f) >= ethLen {
			return rewriteNoIP
		}
		return rewriteShort
	}
	// Where the transport checksum is, if this frame holds it.
	csumAt := -1
	if h.l4 >= 0 {
		switch {
		case h.proto == protoTCP && len(f) >= h.l4+18:
			csumAt = h.l4 + 16
		case h.proto == protoUDP && len(f) >= h.l4+8:
			csumAt = h.l4 + 6
			if !h.v6 && binary.BigEndian.Uint16(f[csumAt:]) == 0 {
				csumAt = -1 // IPv4 UDP without checksum
			}
		case h.proto == 58 && h.v6 && len(f) >= h.l4+4:
			csumAt = h.l4 + 2
		}
	}
	one := func(o int) {
		old := binary.BigEndian.Uint32(f[o:])
		nv := old + add
		binary.BigEndian.PutUint32(f[o:], nv)
		if !h.v6 {
			c := binary.BigEndian.Uint16(f[h.l3+10:])
			binary.BigEndian.PutUint16(f[h.l3+10:], csumUpdate32(c, old, nv))
		}
		if csumAt >= 0 {
			c := csumUpdate32(binary.BigEndian.Uint16(f[csumAt:]), old, nv)
			if h.proto == protoUDP && c == 0 {
				c = 0xffff
			}
			binary.BigEndian.PutUint16(f[csumAt:], c)
		}
	}
	if src {
		if h.v6 {
			one(h.l3 + 20)
		} else {
			one(h.l3 + 12)
		}
	}
	if dst {
		if h.v6 {
			one(h.l3 + 36)
		} else {
			one(h.l3 + 16)
		}
	}
	return rewriteOK
}
