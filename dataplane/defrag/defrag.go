// Package defrag reassembles IPv4 and IPv6 fragments into whole datagrams,
// resolving overlaps the way the destination host would (target-based
// policies, see Policy), so that an attacker cannot show the IDS one payload
// and the host another.
//
// A Reassembler belongs to one worker and is not safe for concurrent use.
// Feed it every decoded packet that carries packet.FlagFragment; when a
// datagram becomes complete, Process fills a new frame (link-layer header and
// IP header of the first fragment, then the reassembled payload) that the
// caller decodes again and inspects. Fragments themselves still go through
// detection (header rules, decoder events) but not through flow tracking.
//
// Memory: all reassembly state (trackers, fragment lists, copied fragment
// bytes) is accounted against Config.Memcap. Once warm the Reassembler
// allocates nothing per fragment: trackers and their buffers are reused.
// Time is packet time (packet.TimeNs), never the wall clock.
package defrag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"time"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Defaults (Suricata 7 suricata.yaml defrag section where it has one).
const (
	DefaultMemcap      = 32 << 20
	DefaultTimeout     = 60 * time.Second
	DefaultMaxTrackers = 65535
	DefaultMaxFrags    = 1024
)

// Largest IP datagram: IPv4 total length and IPv6 payload length are 16 bits.
const maxDatagram = 65535

// Config configures a Reassembler. Zero fields take their defaults.
type Config struct {
	// Memcap bounds the bytes of reassembly state (Suricata defrag.memcap,
	// default 32 MiB). A fragment that would exceed it is dropped, counted
	// in Stats.MemcapDrops and marked ipv4/ipv6.frag_ignored.
	Memcap uint64
	// Timeout is how long, in packet time, a datagram under reassembly
	// waits for its next fragment (Suricata defrag.timeout, 60 s).
	Timeout time.Duration
	// MaxTrackers bounds the datagrams under reassembly at once (Suricata
	// defrag.trackers, 65535).
	MaxTrackers int
	// MaxFrags bounds the fragments kept for one datagram (default 1024;
	// a 64 KiB datagram needs at most 47 at a 1500 byte MTU). More are
	// dropped and counted in Stats.TooManyFrags.
	MaxFrags int
	// DefaultPolicy is the overlap policy of hosts HostPolicy does not know
	// (zero value: PolicyBSD, Suricata's default).
	DefaultPolicy Policy
	// HostPolicy, if set, gives the policy of a destination host; false
	// means "unknown, use DefaultPolicy". PolicyTable.Lookup fits.
	HostPolicy func(dst netip.Addr) (Policy, bool)
}

func (c *Config) setDefaults() error {
	if c.Memcap == 0 {
		c.Memcap = DefaultMemcap
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxTrackers == 0 {
		c.MaxTrackers = DefaultMaxTrackers
	}
	if c.MaxFrags == 0 {
		c.MaxFrags = DefaultMaxFrags
	}
	switch {
	case c.Timeout < 0:
		return fmt.Errorf("defrag: config: timeout %v is negative", c.Timeout)
	case c.MaxTrackers < 0 || c.MaxTrackers > 1<<24:
		return fmt.Errorf("defrag: config: max trackers %d out of range 1..%d", c.MaxTrackers, 1<<24)
	case c.MaxFrags < 0 || c.MaxFrags > maxDatagram:
		return fmt.Errorf("defrag: config: max frags %d out of range 1..%d", c.MaxFrags, maxDatagram)
	case c.DefaultPolicy >= numPolicies:
		return fmt.Errorf("defrag: config: default policy %d unknown", c.DefaultPolicy)
	case c.Memcap < 1<<16:
		return fmt.Errorf("defrag: config: memcap %d below the minimum of 65536 bytes (one datagram)", c.Memcap)
	}
	return nil
}

// Stats are the counters of one Reassembler. Plain fields: the owning worker
// reads them; a management thread sums copies with Add.
type Stats struct {
	Fragments4    uint64 // IPv4 fragments given to Process
	Fragments6    uint64 // IPv6 fragments given to Process
	Reassembled4  uint64 // IPv4 datagrams completed
	Reassembled6  uint64 // IPv6 datagrams completed
	Timeouts      uint64 // datagrams dropped incomplete after Timeout
	Overlaps      uint64 // fragments overlapping data already held
	MemcapDrops   uint64 // fragments dropped because of the memcap
	TooLarge      uint64 // fragments or datagrams beyond 65535 bytes
	TooManyFrags  uint64 // fragments dropped by MaxFrags
	TrackersFull  uint64 // fragments dropped: MaxTrackers datagrams in progress
	InvalidLength uint64 // IPv6 non-last fragments not a multiple of 8 bytes
	Ignored       uint64 // fragments not used for other reasons (empty, past the end, bad header)
}

// Add adds o's counters to s.
func (s *Stats) Add(o *Stats) {
	s.Fragments4 += o.Fragments4
	s.Fragments6 += o.Fragments6
	s.Reassembled4 += o.Reassembled4
	s.Reassembled6 += o.Reassembled6
	s.Timeouts += o.Timeouts
	s.Overlaps += o.Overlaps
	s.MemcapDrops += o.MemcapDrops
	s.TooLarge += o.TooLarge
	s.TooManyFrags += o.TooManyFrags
	s.TrackersFull += o.TrackersFull
	s.InvalidLength += o.InvalidLength
	s.Ignored += o.Ignored
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("defrag: invalid configuration")

// trackerKey identifies a datagram: addresses, IP ID, family, IPv4
// protocol (RFC 791 scopes the ID to it) and the VLAN tags.
type trackerKey struct {
	src, dst [16]byte
	id       uint32
	vlan     [packet.MaxVLAN]uint16
	proto    uint8
	v6       bool
}

// fragment is one fragment kept by a tracker: its byte range in the
// fragmentable part and where its data (and, for offset 0, its headers)
// sit in the tracker's arena.
type fragment struct {
	off, end int32 // data range, end exclusive
	data     int32 // arena index of the data
	hdr      int32 // arena index of the headers (offset-0 fragments)
	hdrLen   int32 // bytes from frame start to the fragmentable part (offset 0 only)
	l3Off    int32 // IP header offset within those headers
	nhPos    int32 // IPv6: index in the headers of the next-header byte naming the fragment header
	nh       uint8 // IPv6: next header after the fragment header
	seq      int32 // arrival order within the tracker
	link     packet.LinkType
}

type tracker struct {
	key     trackerKey
	next    int32 // hash chain (tracker index), -1 ends
	inUse   bool
	v6      bool
	overlap bool
	policy  Policy
	lastNs  int64
	total   int32 // datagram payload length, -1 until the last fragment arrives
	frags   []fragment
	arena   []byte
}

// trackerOverhead approximates a tracker's fixed memory for the memcap.
const trackerOverhead = 160

// fragmentSize is the memory of one fragment record.
const fragmentSize = 48

// Reassembler reassembles fragmented datagrams. See the package doc.
type Reassembler struct {
	cfg       Config
	timeoutNs int64
	seed      maphash.Seed
	buckets   []int32 // tracker index of each chain's head, -1 empty
	mask      uint32
	trackers  []*tracker
	free      []int32 // indexes of unused trackers
	mem       uint64  // accounted bytes

	keyBuf [64]byte
	owner  []int32 // per payload byte: index of the fragment that wins it
	order  []int32 // fragment index by arrival sequence
	out    []byte  // the reassembled frame of the last completed datagram

	// Stats are this Reassembler's counters.
	Stats Stats
}

// New returns a Reassembler for cfg.
func New(cfg Config) (*Reassembler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	n := 16
	for n < cfg.MaxTrackers {
		n <<= 1
	}
	r := &Reassembler{
		cfg:       cfg,
		timeoutNs: int64(cfg.Timeout),
		seed:      maphash.MakeSeed(),
		buckets:   make([]int32, n),
		mask:      uint32(n - 1),
		owner:     make([]int32, maxDatagram),
		order:     make([]int32, 0, 64),
	}
	for i := range r.buckets {
		r.buckets[i] = -1
	}
	return r, nil
}

// MemUsed returns the bytes of reassembly state accounted against the memcap.
func (r *Reassembler) MemUsed() uint64 { return r.mem }

// Pending returns the number of datagrams under reassembly.
func (r *Reassembler) Pending() int { return len(r.trackers) - len(r.free) }

// fragInfo is what Process reads from a fragment's headers.
type fragInfo struct {
	v6       bool
	off, end int32
	mf       bool
	dataOff  int // frame offset of the fragment data
	hdrLen   int // frame offset of the fragmentable part (= dataOff)
	nhPos    int // IPv6: frame offset of the next-header byte that names the fragment header
	nh       uint8
	proto    uint8
	id       uint32
	ipHdrLen int // IPv4 header length; IPv6: 40 + unfragmentable extension headers
}

// parse reads the fragment fields straight from the frame, checking every
// bound; false means the headers do not describe a usable fragment.
func parse(p *packet.Packet, fi *fragInfo) bool {
	d := p.Data
	l3 := p.L3Off
	if l3 < 0 || l3 >= len(d) {
		return false
	}
	switch {
	case p.Flags&packet.FlagIPv4 != 0 && p.Flags&packet.FlagIPv6 == 0:
		if len(d)-l3 < 20 || d[l3]>>4 != 4 {
			return false
		}
		hlen := int(d[l3]&0x0f) * 4
		iplen := int(binary.BigEndian.Uint16(d[l3+2:]))
		if hlen < 20 || iplen < hlen || l3+iplen > len(d) {
			return false
		}
		fo := binary.BigEndian.Uint16(d[l3+6:])
		fi.v6 = false
		fi.mf = fo&0x2000 != 0
		fi.off = int32(fo&0x1fff) * 8
		fi.end = fi.off + int32(iplen-hlen)
		fi.dataOff = l3 + hlen
		fi.hdrLen = l3 + hlen
		fi.ipHdrLen = hlen
		fi.proto = d[l3+9]
		fi.id = uint32(binary.BigEndian.Uint16(d[l3+4:]))
		return fi.mf || fi.off != 0
	case p.Flags&packet.FlagIPv6 != 0:
		if len(d)-l3 < 40 || d[l3]>>4 != 6 {
			return false
		}
		end := l3 + 40 + int(binary.BigEndian.Uint16(d[l3+4:]))
		if end > len(d) {
			return false
		}
		nhPos := l3 + 6
		pos := l3 + 40
		for {
			nh := d[nhPos]
			if nh == 44 {
				break
			}
			var hl int
			switch nh {
			case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, dest opts, mobility, HIP, shim6
				if end-pos < 2 {
					return false
				}
				hl = (int(d[pos+1]) + 1) * 8
			case 51: // AH
				if end-pos < 2 {
					return false
				}
				hl = (int(d[pos+1]) + 2) * 4
			default:
				return false // no fragment header before the upper layer
			}
			if end-pos < hl {
				return false
			}
			nhPos = pos
			pos += hl
		}
		if end-pos < 8 {
			return false
		}
		fo := binary.BigEndian.Uint16(d[pos+2:])
		fi.v6 = true
		fi.mf = fo&1 != 0
		fi.off = int32(fo & 0xfff8)
		fi.end = fi.off + int32(end-pos-8)
		fi.dataOff = pos + 8
		fi.hdrLen = pos // the fragment header itself is dropped
		fi.nhPos = nhPos
		fi.nh = d[pos]
		fi.ipHdrLen = pos - l3
		fi.id = binary.BigEndian.Uint32(d[pos+4:])
		return fi.mf || fi.off != 0
	}
	return false
}

// Event ids raised on fragments.
var (
	evV4Ignored, evV6Ignored packet.EventID
)

func init() {
	var err error
	evV4Ignored, evV6Ignored, err = registerIgnored()
	if err != nil {
		panic(err)
	}
}

// registerIgnored finds or registers ipv4.frag_ignored and ipv6.frag_ignored,
// which Suricata lists among its decoder events but package decode does not
// define. A free pair of ids from FirstExternalEvent+900 upwards is used.
func registerIgnored() (packet.EventID, packet.EventID, error) {
	a, okA := decode.EventByName("ipv4.frag_ignored")
	b, okB := decode.EventByName("ipv6.frag_ignored")
	if okA && okB {
		return a, b, nil
	}
	var last error
	for base := decode.FirstExternalEvent + 900; base < decode.FirstExternalEvent+2000; base += 2 {
		if decode.EventName(base) != "" || decode.EventName(base+1) != "" {
			continue
		}
		if err := decode.RegisterEvents(base, "ipv4.frag_ignored", "ipv6.frag_ignored"); err != nil {
			last = err
			continue
		}
		return base, base + 1, nil
	}
	return 0, 0, fmt.Errorf("defrag: cannot register frag_ignored events: %v", last)
}

func (r *Reassembler) event(p *packet.Packet, v6 bool, e4, e6 packet.EventID) {
	if v6 {
		p.SetEvent(e6)
	} else {
		p.SetEvent(e4)
	}
}

// Process takes a decoded fragment p (packet.FlagFragment set). When p
// completes its datagram, Process fills out with the reassembled frame and
// returns true: out.Data holds the link-layer header and IP header of the
// first fragment (IPv6: with its unfragmentable extension headers, without
// the fragment header), then the payload; the IPv4 total length, flags and
// offset (cleared) and checksum, or the IPv6 payload length and next header,
// are rewritten. out.Origin is packet.OriginDefrag, out.LinkType the first
// fragment's (its link header is the one copied, as Suricata's
// tracker->datalink), out.TimeNs, Num and Queue the completing fragment's.
// (Suricata's reassembled pseudo packet has pcap_cnt 0, so its EVE records
// carry no pcap_cnt; an output that wants to match byte for byte should omit
// it for OriginDefrag.) out is otherwise reset: decode it before use.
//
// Datagrams are keyed by source, destination, IP ID, family, VLAN tags and,
// for IPv4, protocol. A completed datagram's state is freed at once, as a
// host frees it: a late duplicate starts a new datagram (which times out),
// so a reused IP ID is never ignored.
//
// out.Data points into memory the Reassembler owns; it is valid until the
// next call of Process. p's frame is not kept: bytes needed later are copied.
//
// Events (overlap, too large, invalid length, ignored) are raised on p.
// Packets without FlagFragment, and IPv6 atomic fragments, are not touched
// and Process returns false.
func (r *Reassembler) Process(p *packet.Packet, out *packet.Packet) bool {
	if p.Flags&packet.FlagFragment == 0 {
		return false
	}
	var fi fragInfo
	if !parse(p, &fi) {
		r.Stats.Ignored++
		return false
	}
	v6 := fi.v6
	if v6 {
		r.Stats.Fragments6++
	} else {
		r.Stats.Fragments4++
	}
	if fi.end > maxDatagram || (!v6 && 20+fi.end > maxDatagram) {
		r.Stats.TooLarge++
		r.event(p, v6, decode.EvIPv4FragPktTooLarge, decode.EvIPv6FragPktTooLarge)
		return false
	}
	if v6 && fi.mf && (fi.end-fi.off)%8 != 0 {
		r.Stats.InvalidLength++
		p.SetEvent(decode.EvIPv6FragInvalidLength)
		return false
	}
	if fi.end == fi.off {
		r.Stats.Ignored++
		return false
	}

	var k trackerKey
	src, dst := p.SrcIP.As16(), p.DstIP.As16()
	if !p.SrcIP.IsValid() || !p.DstIP.IsValid() {
		r.Stats.Ignored++
		return false
	}
	k.src, k.dst, k.id, k.v6, k.vlan = src, dst, fi.id, v6, p.VLAN
	for i := int(p.VLANCount); i < packet.MaxVLAN; i++ {
		k.vlan[i] = 0
	}
	if !v6 {
		k.proto = fi.proto
	}
	now := p.TimeNs
	h := r.hash(&k)
	ti := r.lookup(&k, h)
	if ti >= 0 && r.expired(r.trackers[ti], now) {
		r.Stats.Timeouts++
		r.release(ti, h)
		ti = -1
	}
	if ti < 0 {
		ti = r.newTracker(&k, h, p, now)
		if ti < 0 {
			r.event(p, v6, evV4Ignored, evV6Ignored)
			return false
		}
	}
	t := r.trackers[ti]
	t.lastNs = now

	if t.total >= 0 && fi.off >= t.total {
		// Past the end the last fragment announced: a host ignores it.
		r.Stats.Ignored++
		r.event(p, v6, evV4Ignored, evV6Ignored)
		return false
	}
	if len(t.frags) >= r.cfg.MaxFrags {
		r.Stats.TooManyFrags++
		r.event(p, v6, evV4Ignored, evV6Ignored)
		return false
	}
	overlap := false
	for i := range t.frags {
		f := &t.frags[i]
		if fi.off < f.end && f.off < fi.end {
			overlap = true
			break
		}
	}
	d := p.Data
	hdrLen := 0
	if fi.off == 0 {
		hdrLen = fi.hdrLen
	}
	dataLen := int(fi.end - fi.off)
	need := len(t.arena) + hdrLen + dataLen
	extraRec := uint64(0)
	if len(t.frags) == cap(t.frags) {
		extraRec = uint64(max(cap(t.frags), 4)) * fragmentSize
	}
	if !r.grow(t, need, extraRec, now) {
		r.Stats.MemcapDrops++
		r.event(p, v6, evV4Ignored, evV6Ignored)
		if len(t.frags) == 0 {
			r.release(ti, h)
		}
		return false
	}
	f := fragment{off: fi.off, end: fi.end, seq: int32(len(t.frags)), link: p.LinkType}
	if hdrLen > 0 {
		f.hdr = int32(len(t.arena))
		f.hdrLen = int32(hdrLen)
		f.l3Off = int32(p.L3Off)
		f.nhPos = int32(fi.nhPos)
		f.nh = fi.nh
		t.arena = append(t.arena, d[:hdrLen]...)
	}
	f.data = int32(len(t.arena))
	t.arena = append(t.arena, d[fi.dataOff:fi.dataOff+dataLen]...)
	// Keep frags sorted by offset (arrival order among equal offsets).
	t.frags = append(t.frags, f)
	for i := len(t.frags) - 1; i > 0 && t.frags[i-1].off > f.off; i-- {
		t.frags[i], t.frags[i-1] = t.frags[i-1], t.frags[i]
	}
	if overlap {
		t.overlap = true
		r.Stats.Overlaps++
		r.event(p, v6, decode.EvIPv4FragOverlap, decode.EvIPv6FragOverlap)
	}
	if !fi.mf && t.total < 0 {
		t.total = fi.end
	}
	if !r.complete(t) {
		return false
	}
	ok := r.assemble(t, p, out)
	r.release(ti, h)
	if !ok {
		r.Stats.TooLarge++
		r.event(p, v6, decode.EvIPv4FragPktTooLarge, decode.EvIPv6FragPktTooLarge)
		return false
	}
	if v6 {
		r.Stats.Reassembled6++
	} else {
		r.Stats.Reassembled4++
	}
	return true
}

func (r *Reassembler) expired(t *tracker, now int64) bool {
	return now-t.lastNs > r.timeoutNs
}

func (r *Reassembler) hash(k *trackerKey) uint32 {
	b := r.keyBuf[:]
	copy(b[0:16], k.src[:])
	copy(b[16:32], k.dst[:])
	binary.LittleEndian.PutUint32(b[32:], k.id)
	binary.LittleEndian.PutUint16(b[36:], k.vlan[0])
	binary.LittleEndian.PutUint16(b[38:], k.vlan[1])
	binary.LittleEndian.PutUint16(b[40:], k.vlan[2])
	b[42] = k.proto
	b[43] = 0
	if k.v6 {
		b[43] = 1
	}
	return uint32(maphash.Bytes(r.seed, b[:44]))
}

func (r *Reassembler) lookup(k *trackerKey, h uint32) int32 {
	for i := r.buckets[h&r.mask]; i >= 0; i = r.trackers[i].next {
		if r.trackers[i].key == *k {
			return i
		}
	}
	return -1
}

// newTracker takes a tracker for k, reusing a free one, allocating one
// within MaxTrackers and the memcap, or reclaiming timed-out ones. It
// returns -1 (and counts why) when none can be had.
func (r *Reassembler) newTracker(k *trackerKey, h uint32, p *packet.Packet, now int64) int32 {
	if len(r.free) == 0 && len(r.trackers) >= r.cfg.MaxTrackers {
		r.Expire(now)
	}
	var ti int32
	switch {
	case len(r.free) > 0:
		ti = r.free[len(r.free)-1]
		r.free = r.free[:len(r.free)-1]
	case len(r.trackers) < r.cfg.MaxTrackers:
		if !r.reserve(trackerOverhead, now) {
			r.Stats.MemcapDrops++
			return -1
		}
		r.mem += trackerOverhead
		r.trackers = append(r.trackers, &tracker{})
		ti = int32(len(r.trackers) - 1)
	default:
		r.Stats.TrackersFull++
		return -1
	}
	t := r.trackers[ti]
	t.key = *k
	t.inUse = true
	t.v6 = k.v6
	t.overlap = false
	t.total = -1
	t.frags = t.frags[:0]
	t.arena = t.arena[:0]
	t.lastNs = now
	t.policy = r.cfg.DefaultPolicy
	if r.cfg.HostPolicy != nil {
		if pol, ok := r.cfg.HostPolicy(p.DstIP); ok && pol < numPolicies {
			t.policy = pol
		}
	}
	b := &r.buckets[h&r.mask]
	t.next = *b
	*b = ti
	return ti
}

// grow makes room in t for an arena of need bytes and extraRec more bytes
// of fragment records, within the memcap.
func (r *Reassembler) grow(t *tracker, need int, extraRec uint64, now int64) bool {
	var add uint64
	newCap := cap(t.arena)
	if need > newCap {
		newCap = max(need, 2*newCap, 512)
		add = uint64(newCap - cap(t.arena))
	}
	add += extraRec
	if add == 0 {
		return true
	}
	if !r.reserve(add, now) {
		return false
	}
	if newCap > cap(t.arena) {
		a := make([]byte, len(t.arena), newCap)
		copy(a, t.arena)
		t.arena = a
	}
	if extraRec > 0 {
		fr := make([]fragment, len(t.frags), cap(t.frags)+int(extraRec/fragmentSize))
		copy(fr, t.frags)
		t.frags = fr
	}
	r.mem += add
	return true
}

// reserve reports whether add more bytes fit under the memcap, first
// dropping buffers kept by free trackers, then timed-out datagrams. The
// caller adds the bytes to r.mem.
func (r *Reassembler) reserve(add uint64, now int64) bool {
	if r.mem+add <= r.cfg.Memcap || r.shed(add) {
		return true
	}
	return r.Expire(now) > 0 && r.shed(add)
}

// shed drops the buffers free trackers keep for reuse until add more bytes
// fit under the memcap.
func (r *Reassembler) shed(add uint64) bool {
	for _, i := range r.free {
		if r.mem+add <= r.cfg.Memcap {
			break
		}
		t := r.trackers[i]
		r.mem -= uint64(cap(t.arena)) + uint64(cap(t.frags))*fragmentSize
		t.arena, t.frags = nil, nil
	}
	return r.mem+add <= r.cfg.Memcap
}

// release unlinks tracker ti (hash h) and returns it to the free list,
// keeping its buffers for reuse.
func (r *Reassembler) release(ti int32, h uint32) {
	t := r.trackers[ti]
	for pp := &r.buckets[h&r.mask]; *pp >= 0; pp = &r.trackers[*pp].next {
		if *pp == ti {
			*pp = t.next
			break
		}
	}
	t.next = -1
	t.inUse = false
	t.frags = t.frags[:0]
	t.arena = t.arena[:0]
	r.free = append(r.free, ti)
}

// Expire drops the datagrams whose last fragment is older than the timeout
// at packet time now, counting them in Stats.Timeouts, and returns how many
// it dropped. Process expires what it meets on its own; a pipeline calls
// Expire from time to time (on its flow-manager tick) to free memory of
// datagrams nobody finishes.
func (r *Reassembler) Expire(now int64) int {
	n := 0
	for i, t := range r.trackers {
		if t.inUse && r.expired(t, now) {
			r.release(int32(i), r.hash(&t.key))
			r.Stats.Timeouts++
			n++
		}
	}
	return n
}

// complete reports whether t holds its first and last fragments and no
// hole between them (t.frags is sorted by offset).
func (r *Reassembler) complete(t *tracker) bool {
	if t.total < 0 || len(t.frags) == 0 || t.frags[0].off != 0 {
		return false
	}
	var reach int32
	for i := range t.frags {
		f := &t.frags[i]
		if f.off > reach {
			return false
		}
		reach = max(reach, f.end)
		if reach >= t.total {
			return true
		}
	}
	return false
}

// assemble writes t's datagram into r.out and describes it in out. false:
// the datagram would exceed the IP length limit.
func (r *Reassembler) assemble(t *tracker, p *packet.Packet, out *packet.Packet) bool {
	total := t.total
	frags := t.frags
	// Who wins each payload byte. Without overlaps every byte has one
	// fragment; otherwise the policy decides, fragments taken in arrival
	// order.
	var first *fragment
	if t.overlap {
		owner := r.owner[:total]
		for i := range owner {
			owner[i] = -1
		}
		order := r.order[:0]
		for range frags {
			order = append(order, 0)
		}
		r.order = order
		for i := range frags {
			order[frags[i].seq] = int32(i)
		}
		for _, fi := range order {
			f := &frags[fi]
			end := min(f.end, total)
			// Decide once per run of bytes held by the same fragment.
			for b := f.off; b < end; {
				o := owner[b]
				e := b + 1
				for e < end && owner[e] == o {
					e++
				}
				if o < 0 || t.policy.newWins(f.off, f.end, frags[o].off, frags[o].end) {
					for i := b; i < e; i++ {
						owner[i] = fi
					}
				}
				b = e
			}
		}
		first = &frags[owner[0]]
	} else {
		first = &frags[0]
	}
	hdrLen := int(first.hdrLen)
	ipHdr := hdrLen - int(first.l3Off) // IPv4 header, or IPv6 header + unfragmentable part
	if ipHdr+int(total) > maxDatagram+boolInt(t.v6)*40 {
		return false
	}
	n := hdrLen + int(total)
	if cap(r.out) < n {
		r.out = make([]byte, n, max(n, 2048))
	}
	buf := r.out[:n]
	copy(buf, t.arena[first.hdr:first.hdr+first.hdrLen])
	pay := buf[hdrLen:]
	if t.overlap {
		owner := r.owner[:total]
		for b := int32(0); b < total; {
			f := &frags[owner[b]]
			e := b + 1
			for e < total && owner[e] == owner[b] {
				e++
			}
			copy(pay[b:e], t.arena[f.data+(b-f.off):])
			b = e
		}
	} else {
		for i := range frags {
			f := &frags[i]
			end := min(f.end, total)
			if end > f.off {
				copy(pay[f.off:end], t.arena[f.data:f.data+end-f.off])
			}
		}
	}
	l3 := int(first.l3Off)
	if t.v6 {
		binary.BigEndian.PutUint16(buf[l3+4:], uint16(ipHdr-40+int(total)))
		buf[first.nhPos] = first.nh
	} else {
		binary.BigEndian.PutUint16(buf[l3+2:], uint16(ipHdr+int(total)))
		buf[l3+6], buf[l3+7] = 0, 0
		buf[l3+10], buf[l3+11] = 0, 0
		binary.BigEndian.PutUint16(buf[l3+10:], ipChecksum(buf[l3:l3+ipHdr]))
	}
	*out = packet.Packet{
		Data:     buf,
		WireLen:  n,
		TimeNs:   p.TimeNs,
		LinkType: first.link,
		Num:      p.Num,
		Queue:    p.Queue,
		Origin:   packet.OriginDefrag,
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ipChecksum computes the Internet checksum of an IPv4 header whose
// checksum field is zero.
func ipChecksum(h []byte) uint16 {
	var acc uint32
	for i := 0; i+1 < len(h); i += 2 {
		acc += uint32(h[i])<<8 | uint32(h[i+1])
	}
	if len(h)%2 == 1 {
		acc += uint32(h[len(h)-1]) << 8
	}
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}
