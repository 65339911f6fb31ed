package gen

import (
	"encoding/binary"
	"net/netip"
)

// flowKind is the application of a flow.
type flowKind uint8

const (
	kindHTTP flowKind = iota
	kindDNS
	kindTLS
	kindUDP
	kindTCP
	kindSYN
	numKinds
)

var kindNames = [numKinds]string{"http", "dns", "tls", "udp", "tcp", "syn"}

func (k flowKind) String() string { return kindNames[k] }

func (k flowKind) isTCP() bool { return k != kindDNS && k != kindUDP }

// TCP phases of a flow.
const (
	phSYN uint8 = iota
	phSYNACK
	phACK
	phData
	phFIN1
	phFIN2
	phLastACK
	phRST
	phDone
)

// planSeg is one packet of an evasion plan for the planted message.
type planSeg struct {
	seqOff  int    // sequence offset from the message's first byte
	a, b    int    // payload: arena[a:b]
	markAt  int    // offset of the marker in the payload, -1 if none
	ttl     uint8  // 0: the flow's normal TTL
	urg     uint16 // urgent pointer; URG flag when nonzero
	frag    bool   // send as overlapping IP fragments (variant's shape)
	expired bool   // the target never receives it (TTL)
}

// fragSpec is one IP fragment of a datagram in flight.
type fragSpec struct {
	off, end int
	decoy    bool // bytes from the decoy datagram
}

// flow is the state of one generated flow. Flows are pooled: their
// buffers (arena, msgs, plan, dgram) are kept when a flow ends and reused
// by the next one, so steady-state generation allocates nothing.
type flow struct {
	num  int
	kind flowKind
	v6   bool
	addr [2][16]byte // client, server (IPv4 in the first 4 bytes)
	port [2]uint16
	mss  int // largest segment payload (the scenario's MSS, less 20 for IPv6)
	rng  rng

	arena []byte
	msgs  []message
	mi    int
	off   int
	phase uint8

	seq     [2]uint32
	ipid    [2]uint16
	unacked int
	needAck bool
	ackDir  int
	rst     bool // SYN flow: answered, client resets

	// Plain UDP flows: datagrams still to send, a reply due, its size.
	udpLeft  int
	udpReply bool
	udpSize  int

	// Evasion plan of the planted message (msgs[planMsg]).
	plant   *plantAssign
	planMsg int
	plan    []planSeg
	pi      int
	planSeq uint32 // sequence number of the planted message's first byte
	wire    int    // sequence space the plan covers
	decoyAt int    // arena offset of the decoy copy of the planted message
	frags   []fragSpec
	fi      int
	dgram   []byte // transport datagram of the fragmented piece (real)
	dgramD  []byte // the same with the decoy
	fragID  uint32

	rec *FlowRecord // manifest record, when collected
}

// reset prepares a pooled flow for reuse, keeping its buffers.
func (f *flow) reset() {
	*f = flow{arena: f.arena[:0], msgs: f.msgs[:0], plan: f.plan[:0], frags: f.frags[:0],
		dgram: f.dgram[:0], dgramD: f.dgramD[:0], planMsg: -1}
}

func (f *flow) addMsg(m message) { f.msgs = append(f.msgs, m) }

// ip returns the flow's address of side i as a netip.Addr.
func (f *flow) ip(i int) netip.Addr {
	if f.v6 {
		return netip.AddrFrom16(f.addr[i])
	}
	return netip.AddrFrom4([4]byte(f.addr[i][:4]))
}

// addrInPrefix returns the address at index idx (wrapping) of prefix p,
// skipping the network and broadcast addresses of small IPv4 networks.
func addrInPrefix(p netip.Prefix, idx uint64) [16]byte {
	var out [16]byte
	bits := p.Addr().BitLen() - p.Bits()
	if bits > 32 {
		bits = 32
	}
	size := uint64(1) << bits
	var off uint64
	switch {
	case size > 2:
		off = 1 + idx%(size-2)
	case size == 2:
		off = idx % 2
	}
	if p.Addr().Is4() {
		b := p.Addr().As4()
		v := binary.BigEndian.Uint32(b[:]) + uint32(off)
		binary.BigEndian.PutUint32(out[:4], v)
		return out
	}
	out = p.Addr().As16()
	v := binary.BigEndian.Uint32(out[12:]) + uint32(off)
	binary.BigEndian.PutUint32(out[12:], v)
	return out
}

func prefixSize(p netip.Prefix) uint64 {
	bits := p.Addr().BitLen() - p.Bits()
	if bits > 32 {
		bits = 32
	}
	size := uint64(1) << bits
	if size > 2 {
		size -= 2
	}
	return size
}
