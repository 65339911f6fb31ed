// Package packet defines the Packet: a view on a frame that a capture source
// owns, plus the offsets and header fields the decoders fill in. Packets move
// through the engine in batches; a source gets its frames back when the
// pipeline calls Done on the batch.
//
// Ownership: Packet.Data points into memory the source owns (a pcap read
// buffer, an AF_XDP UMEM frame, an AF_PACKET ring block, a DPDK mbuf). It is
// valid from the moment the source returns the batch until the pipeline hands
// the batch back with Source.Done. Nothing may keep a reference to Data after
// that; a stage that needs bytes longer (stream reassembly) copies them.
package packet

import "net/netip"

// LinkType is the link-layer header type of a frame, with the values of the
// pcap LINKTYPE_ registry.
type LinkType uint16

// Link types understood by the decoder.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet  LinkType = 1   // Ethernet II / 802.3
	LinkPPP       LinkType = 9   // PPP in HDLC-like framing (RFC 1662)
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte network-order family
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// Source of a packet as EVE's pkt_src reports it.
type Origin uint8

const (
	OriginWire        Origin = iota // "wire/pcap"
	OriginDefrag                    // "defrag": reassembled from fragments
	OriginStream                    // "stream": pseudo packet carrying reassembled data
	OriginFlowTimeout               // "stream (flow timeout)"
	OriginTunnel                    // "tunnel": inner packet of a tunnel
)

// String gives the pkt_src value Suricata writes for the origin.
func (o Origin) String() string {
	switch o {
	case OriginDefrag:
		return "defrag"
	case OriginStream:
		return "stream"
	case OriginFlowTimeout:
		return "stream (flow timeout)"
	case OriginTunnel:
		return "tunnel"
	}
	return "wire/pcap"
}

// Verdict is what happens to a packet once the engine is done with it.
type Verdict uint8

const (
	VerdictForward Verdict = iota // pass it on (IDS: nothing to do)
	VerdictDrop                   // drop it silently
	VerdictReject                 // drop it and send a reset / ICMP unreachable
	VerdictBypass                 // forward it and every later packet of its flow without inspection
)

// IP protocol numbers used across the engine.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
	ProtoSCTP   uint8 = 132
)

// TCP flag bits as they appear in the header's flags byte (plus ECE/CWR).
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
	TCPUrg uint8 = 0x20
	TCPEce uint8 = 0x40
	TCPCwr uint8 = 0x80
)

// Packet flags (Packet.Flags).
const (
	FlagIPv4        uint32 = 1 << iota // an IPv4 header was decoded (outermost L3 the flow uses)
	FlagIPv6                           // an IPv6 header was decoded
	FlagTCP                            // a TCP header was decoded
	FlagUDP                            // a UDP header was decoded
	FlagICMPv4                         // an ICMPv4 header was decoded
	FlagICMPv6                         // an ICMPv6 header was decoded
	FlagFragment                       // the IP packet is a fragment (MF set or offset > 0)
	FlagIPv4CsumBad                    // IPv4 header checksum was checked and is wrong
	FlagL4CsumBad                      // TCP/UDP/ICMP checksum was checked and is wrong
	FlagTCPMSS                         // TCP option MSS present (TCPMSS valid)
	FlagTCPWScale                      // TCP option window scale present (TCPWScale valid)
	FlagTCPSACKOK                      // TCP option SACK permitted present
	FlagTCPSACK                        // TCP option SACK blocks present
	FlagTCPTS                          // TCP option timestamps present (TCPTSVal/TCPTSEcr valid)
	FlagTCPTFO                         // TCP option fast open present
	FlagToServer                       // set by flow tracking: packet goes client -> server
	FlagToClient                       // set by flow tracking: packet goes server -> client
	FlagEstablished                    // set by flow tracking: flow is established
	FlagNoFlow                         // packet has no flow (not IP, or flow table full)
	FlagIPv6Frag                       // IPv6 fragment header present (IPv6FragOff/ID valid)
	FlagTCPNoOpts                      // reserved
	FlagMalformed                      // decoding stopped early: offsets past the failing layer are absent
	// FlagStreamData is set by stream tracking: the packet's TCP payload
	// was taken into reassembly (in window, within depth and memcap), so
	// detection inspects it as part of the reassembled stream.
	FlagStreamData
	// FlagPseudo marks a packet the engine made up (stream data flushed at
	// flow end or timeout) rather than one that was captured.
	FlagPseudo
	// FlagModified is set when the engine rewrote the packet's bytes
	// (inline stream normalization); its checksums must be recomputed
	// before it is forwarded (decode.FixTCPChecksum).
	FlagModified
	// FlagTCPAuth: a TCP MD5 signature (RFC 2385) or TCP-AO (RFC 5925)
	// option is present; a passive observer cannot check it.
	FlagTCPAuth
	// FlagOverload is set by a worker that fell behind on a packet it
	// then did not inspect (fail-open forward or fail-closed drop).
	FlagOverload
)

// IPv6 extension headers seen, as bits of Packet.IPv6Exts.
const (
	ExtHopByHop uint16 = 1 << iota
	ExtRouting
	ExtFragment
	ExtDestOpts
	ExtAH
	ExtESP
	ExtMobility
	ExtHIP
	ExtShim6
	ExtNone // "no next header" (59)
)

// MaxVLAN is how many VLAN tags a packet records (QinQ and one more, as
// Suricata keys flows on up to three).
const MaxVLAN = 3

// MaxEvents is how many decoder events one packet records; more are counted
// in EventsLost.
const MaxEvents = 8

// EventID identifies a decoder event. Values and names live in package decode
// (decode.EventName); the packet only stores them.
type EventID uint16

// Packet is one captured frame and what has been decoded from it. All offset
// fields are byte offsets into Data and are valid only when the flag that
// announces the layer is set; a zero value otherwise.
type Packet struct {
	// Data is the captured frame, owned by the source (see package doc).
	Data []byte
	// WireLen is the length of the frame on the wire (>= len(Data) when the
	// capture was truncated by a snap length).
	WireLen int
	// TimeNs is the capture time in nanoseconds since the Unix epoch.
	TimeNs int64
	// LinkType says how to decode Data.
	LinkType LinkType
	// Num is the 1-based number of the packet in its capture (EVE pcap_cnt);
	// 0 for pseudo packets.
	Num uint64
	// Queue is the capture queue (worker) the packet arrived on.
	Queue uint16
	// Handle is the source's own reference to the frame: a UMEM address, an
	// mbuf pointer, an NFQUEUE packet id. Only the source interprets it.
	Handle uint64
	// Origin is where the packet comes from (EVE pkt_src).
	Origin Origin

	// Flags holds the Flag* bits.
	Flags uint32

	// Link layer.
	VLAN      [MaxVLAN]uint16 // VLAN IDs, outermost first; valid up to VLANCount
	VLANCount uint8
	EtherType uint16 // EtherType of the L3 header (0x0800, 0x86dd); 0 if none

	// Network layer (IPv4 or IPv6, the innermost one decoded).
	L3Off    int        // offset of the IP header
	L3Len    int        // header length including IPv4 options / IPv6 extension headers
	IPLen    int        // total length of the IP packet per its header, clamped to what was captured
	SrcIP    netip.Addr // source address
	DstIP    netip.Addr // destination address
	TTL      uint8      // IPv4 TTL or IPv6 hop limit
	TOS      uint8      // IPv4 TOS or IPv6 traffic class
	IPProto  uint8      // transport protocol (IPv4 protocol, IPv6 last next-header)
	IPID     uint32     // IPv4 identification, or IPv6 fragment identification
	FragOff  uint16     // fragment offset in bytes (IPv4 or IPv6 fragment header)
	FragMF   bool       // more fragments
	IPv4DF   bool       // IPv4 don't fragment
	IPv4RF   bool       // IPv4 reserved bit
	IPv4Opts uint32     // bit (1<<n) set for each IPv4 option type n&31 seen (see decode.IPOpt*)
	IPv6Exts uint16     // Ext* bits
	IPv6Flow uint32     // IPv6 flow label

	// Transport layer.
	L4Off      int // offset of the TCP/UDP/ICMP header
	L4Len      int // length of that header (TCP: data offset * 4)
	SrcPort    uint16
	DstPort    uint16
	TCPSeq     uint32
	TCPAck     uint32
	TCPFlags   uint8
	TCPWindow  uint16
	TCPUrgent  uint16
	TCPMSS     uint16
	TCPWScale  uint8
	TCPTSVal   uint32
	TCPTSEcr   uint32
	ICMPType   uint8
	ICMPCode   uint8
	ICMPID     uint16 // echo id (valid for echo request/reply)
	ICMPSeq    uint16 // echo sequence
	PayloadOff int    // offset of the L4 payload (or L3 payload for other protocols)
	PayloadLen int    // length of the payload actually captured

	// Decoder events raised for this packet.
	Events     [MaxEvents]EventID
	NumEvents  uint8
	EventsLost uint8

	// Flow tracking results.
	FlowHash uint32 // symmetric hash of the flow key (both directions equal)

	// Verdict set by detection / policy.
	Verdict Verdict
	// Reject says whom a VerdictReject answers (RejectToSource,
	// RejectToDest, or both); 0 with VerdictReject means RejectToSource,
	// Suricata's "reject".
	Reject RejectTarget
	// DropReason says why a dropped or rejected packet was (EVE drop
	// records); DropReasonNone while it is not.
	DropReason DropReason
}

// DropReason is why the engine dropped a packet, with Suricata's names
// (EVE drop.reason).
type DropReason uint8

const (
	DropReasonNone              DropReason = iota
	DropReasonRules                        // a drop or reject signature matched
	DropReasonFlowDrop                     // a signature dropped the packet's flow earlier
	DropReasonExceptionFlowDrop            // an exception policy dropped the packet's flow earlier
	DropReasonStreamMidstream              // TCP packet of a session whose start was not seen (midstream policy)
	DropReasonStreamMemcap                 // stream memcap exception policy
	DropReasonStreamError                  // the stream engine refused the packet
	DropReasonOverload                     // the engine fell behind and fails closed (ips.fail-policy)
	NumDropReasons                         // the number of reasons (array sizes)
)

var dropReasonNames = [NumDropReasons]string{"", "rules", "flow drop", "exception policy flow drop",
	"stream midstream", "stream memcap", "stream error", "overload"}

// String is the reason as EVE's drop.reason writes it ("" for none).
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}

// RejectTarget is whom a rejected packet's reset or ICMP unreachable goes to.
type RejectTarget uint8

const (
	RejectToSource RejectTarget                    = 1 << iota // the packet's sender (reject, rejectsrc)
	RejectToDest                                               // the packet's destination (rejectdst)
	RejectBoth     = RejectToSource | RejectToDest             // rejectboth
)

// Payload returns the L4 payload bytes (the application data).
func (p *Packet) Payload() []byte {
	if p.PayloadLen <= 0 {
		return nil
	}
	return p.Data[p.PayloadOff : p.PayloadOff+p.PayloadLen]
}

// SetEvent records a decoder event once; at most MaxEvents distinct events
// are kept, and every call that finds no room is counted in EventsLost.
func (p *Packet) SetEvent(e EventID) {
	for i := uint8(0); i < p.NumEvents; i++ {
		if p.Events[i] == e {
			return
		}
	}
	if p.NumEvents < MaxEvents {
		p.Events[p.NumEvents] = e
		p.NumEvents++
		return
	}
	if p.EventsLost < 255 {
		p.EventsLost++
	}
}

// HasEvent reports whether event e was raised for this packet.
func (p *Packet) HasEvent(e EventID) bool {
	for i := uint8(0); i < p.NumEvents; i++ {
		if p.Events[i] == e {
			return true
		}
	}
	return false
}

// IsTCP, IsUDP, ... report which transport header was decoded.
func (p *Packet) IsTCP() bool    { return p.Flags&FlagTCP != 0 }
func (p *Packet) IsUDP() bool    { return p.Flags&FlagUDP != 0 }
func (p *Packet) IsICMPv4() bool { return p.Flags&FlagICMPv4 != 0 }
func (p *Packet) IsICMPv6() bool { return p.Flags&FlagICMPv6 != 0 }
func (p *Packet) IsIPv4() bool   { return p.Flags&FlagIPv4 != 0 }
func (p *Packet) IsIPv6() bool   { return p.Flags&FlagIPv6 != 0 }
func (p *Packet) IsIP() bool     { return p.Flags&(FlagIPv4|FlagIPv6) != 0 }

// ResetDecoded clears everything decode, flow and detection set, keeping the
// source's fields (Data, WireLen, TimeNs, LinkType, Num, Queue, Handle,
// Origin). Sources call it when they refill a packet.
func (p *Packet) ResetDecoded() {
	keep := Packet{
		Data: p.Data, WireLen: p.WireLen, TimeNs: p.TimeNs, LinkType: p.LinkType,
		Num: p.Num, Queue: p.Queue, Handle: p.Handle, Origin: p.Origin,
	}
	*p = keep
}

// Batch is a group of packets handled by one call of each stage. A source
// owns the Packet structs in Pkts and the frames they point to; after
// Source.Done(batch) none of them may be used.
type Batch struct {
	// Pkts holds the packets filled by the last Next; len(Pkts) is the count.
	Pkts []*Packet
	// pool is the backing store, allocated once by NewBatch.
	pool []Packet
	ptrs []*Packet
}

// DefaultBatchSize is the number of packets per batch when a caller does not
// choose one.
const DefaultBatchSize = 64

// NewBatch allocates a batch able to hold size packets. It is the only
// allocation a batch ever needs: packets are reused across Next calls.
func NewBatch(size int) *Batch {
	if size <= 0 {
		size = DefaultBatchSize
	}
	b := &Batch{pool: make([]Packet, size), ptrs: make([]*Packet, size)}
	for i := range b.pool {
		b.ptrs[i] = &b.pool[i]
	}
	b.Pkts = b.ptrs[:0]
	return b
}

// Cap returns how many packets the batch can hold.
func (b *Batch) Cap() int { return len(b.ptrs) }

// Slot returns the i-th packet struct of the backing store, for a source to
// fill. The source then calls SetLen.
func (b *Batch) Slot(i int) *Packet { return b.ptrs[i] }

// SetLen makes the first n slots the batch's packets.
func (b *Batch) SetLen(n int) { b.Pkts = b.ptrs[:n] }

// Reset empties the batch (the slots stay allocated).
func (b *Batch) Reset() { b.Pkts = b.ptrs[:0] }
