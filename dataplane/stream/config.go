package stream

import (
	"fmt"
	"net/netip"
	"unsafe"
)

// ExceptionPolicy is what happens to a flow when the stream engine runs out
// of memory for it (a memcap is reached), as Suricata's
// stream.memcap-policy / stream.reassembly.memcap-policy.
type ExceptionPolicy uint8

const (
	// ExceptionIgnore: carry on without the session or the segment; the
	// event is only counted.
	ExceptionIgnore ExceptionPolicy = iota
	// ExceptionDropFlow: drop the packet and mark the session DropFlow, so
	// the caller drops every later packet of the flow (inline mode).
	ExceptionDropFlow
	// ExceptionPassFlow: stop inspecting the flow; the session is marked
	// PassFlow and its packets are forwarded.
	ExceptionPassFlow
	// ExceptionBypass: like PassFlow, and the packet's verdict asks the
	// capture layer to bypass the flow (packet.VerdictBypass).
	ExceptionBypass
	numExceptionPolicies
)

var exceptionNames = [numExceptionPolicies]string{"ignore", "drop-flow", "pass-flow", "bypass"}

// String gives the configuration name of the policy.
func (e ExceptionPolicy) String() string {
	if e < numExceptionPolicies {
		return exceptionNames[e]
	}
	return fmt.Sprintf("exception(%d)", uint8(e))
}

// ParseExceptionPolicy maps a memcap-policy or midstream-policy name to an
// ExceptionPolicy.
func ParseExceptionPolicy(name string) (ExceptionPolicy, error) {
	for i, n := range exceptionNames {
		if n == name {
			return ExceptionPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("stream: unknown exception policy %q (want ignore, drop-flow, pass-flow or bypass)", name)
}

// Consumer is the application layer's side of reassembly: it reads each
// direction of a session as a program reads a socket. In IDS mode a
// direction's data is given while the tracker processes the packet that
// acknowledges it (a packet of the other direction); in inline mode while
// it processes the packet that completes it. Methods must not call the
// tracker's Process or FlowEnd.
type Consumer interface {
	// Data is given the next in-order bytes of one direction and returns
	// how many it consumed (0..len(data)). Bytes not consumed are given
	// again, followed by newer ones, the next time the direction has more
	// data. data is valid only during the call.
	Data(s *Session, dir Dir, data []byte) (consumed int)
	// Gap tells that n bytes of the direction were lost (the receiver
	// acknowledged data the sensor never saw); the stream goes on after
	// them.
	Gap(s *Session, dir Dir, n uint32)
}

// Config configures a Tracker. The zero value is usable: every zero field
// means its default.
type Config struct {
	// Memcap bounds the memory of sessions in bytes (stream.memcap).
	// Default 64 MiB.
	Memcap uint64
	// ReassemblyMemcap bounds the memory of reassembly buffers in bytes
	// (stream.reassembly.memcap). Default 256 MiB.
	ReassemblyMemcap uint64
	// MemcapPolicy is applied when either memcap is reached.
	MemcapPolicy ExceptionPolicy
	// Depth is how many bytes of each direction are reassembled
	// (stream.reassembly.depth); default 1 MiB; negative means unlimited.
	Depth int64
	// Midstream picks up sessions whose handshake was not seen.
	Midstream bool
	// MidstreamPolicy is applied, when Midstream is off, to a flow's first
	// TCP packet that is not a SYN (and not a RST), as Suricata's
	// stream.midstream-policy: ExceptionDropFlow drops it and every later
	// packet of the flow (the flow's Action), ExceptionPassFlow stops
	// detection on the flow, ExceptionBypass also asks for a bypass;
	// ExceptionIgnore lets the packet go on without a session.
	MidstreamPolicy ExceptionPolicy
	// AsyncOneside tracks sessions of which only one direction is seen.
	AsyncOneside bool
	// Inline selects inline (IPS) semantics: data is given to the consumer
	// and to raw inspection as soon as it is in order, not when the peer
	// acknowledges it.
	Inline bool
	// InlineWindow is how many bytes before the current position raw
	// inspection sees again in inline mode (a sliding window, so patterns
	// spanning packets match). Default 2048.
	InlineWindow int
	// NoRaw disables keeping data for raw stream inspection (RawData is
	// then always empty and data is released once the consumer took it).
	NoRaw bool
	// Consumer receives the reassembled data; nil means none (data is
	// released once raw inspection is done with it).
	Consumer Consumer
	// HostPolicy gives the reassembly policy of a destination address; nil
	// means PolicyBSD for every host.
	HostPolicy func(netip.Addr) Policy
	// MaxSynQueued is how many SYN (or SYN/ACK) retransmissions a session
	// takes before it raises 3whs_syn_flood (3whs_synack_flood). Default 10.
	MaxSynQueued int
	// MaxBuffer bounds the bytes one direction keeps buffered (unconsumed
	// or out of order); default 16 MiB. Data beyond it is handled as a
	// reassembly memcap hit.
	MaxBuffer int
}

// Defaults (Suricata 7's suricata.yaml values where it has them).
const (
	DefaultMemcap           = 64 << 20
	DefaultReassemblyMemcap = 256 << 20
	DefaultDepth            = 1 << 20
	DefaultInlineWindow     = 2048
	DefaultMaxSynQueued     = 10
	DefaultMaxBuffer        = 16 << 20
	maxMaxBuffer            = 1 << 30
)

// SessionSize is the memory one session accounts against Config.Memcap.
const SessionSize = uint64(unsafe.Sizeof(Session{}))

func (c *Config) fill() error {
	if c.Memcap == 0 {
		c.Memcap = DefaultMemcap
	}
	if c.ReassemblyMemcap == 0 {
		c.ReassemblyMemcap = DefaultReassemblyMemcap
	}
	if c.Depth == 0 {
		c.Depth = DefaultDepth
	}
	if c.InlineWindow == 0 {
		c.InlineWindow = DefaultInlineWindow
	}
	if c.MaxSynQueued == 0 {
		c.MaxSynQueued = DefaultMaxSynQueued
	}
	if c.MaxBuffer == 0 {
		c.MaxBuffer = DefaultMaxBuffer
	}
	switch {
	case c.MemcapPolicy >= numExceptionPolicies:
		return fmt.Errorf("stream: config MemcapPolicy: unknown value %d", c.MemcapPolicy)
	case c.MidstreamPolicy >= numExceptionPolicies:
		return fmt.Errorf("stream: config MidstreamPolicy: unknown value %d", c.MidstreamPolicy)
	case c.Memcap < SessionSize:
		return fmt.Errorf("stream: config Memcap: %d bytes is less than one session (%d)", c.Memcap, SessionSize)
	case c.InlineWindow < 0:
		return fmt.Errorf("stream: config InlineWindow: negative (%d)", c.InlineWindow)
	case c.MaxSynQueued < 0:
		return fmt.Errorf("stream: config MaxSynQueued: negative (%d)", c.MaxSynQueued)
	case c.MaxBuffer < 0 || c.MaxBuffer > maxMaxBuffer:
		return fmt.Errorf("stream: config MaxBuffer: %d out of range (1..%d)", c.MaxBuffer, maxMaxBuffer)
	case uint64(c.MaxBuffer) < minBufSize:
		return fmt.Errorf("stream: config MaxBuffer: %d is below the smallest buffer (%d)", c.MaxBuffer, minBufSize)
	}
	return nil
}

// Stats are the tracker's counters.
type Stats struct {
	Sessions       uint64 // sessions created
	Active         uint64 // sessions live now
	Midstream      uint64 // sessions picked up mid-stream
	Async          uint64 // sessions tracked one-sided
	NoSession      uint64 // TCP packets for which no session was created (no SYN, midstream off)
	Segments       uint64 // data segments taken into reassembly
	Bytes          uint64 // payload bytes taken into reassembly
	Retransmission uint64 // retransmitted segments
	Overlaps       uint64 // segments overlapping queued data
	OverlapDiff    uint64 // overlaps whose data differed
	Gaps           uint64 // gaps in a stream (lost data)
	GapBytes       uint64 // bytes lost in gaps
	DepthReached   uint64 // directions that reached Config.Depth
	Invalid        uint64 // packets the state machine refused
	// Memcap hits (sessions or reassembly memory), by the policy applied.
	SessionMemcap    uint64 // sessions not created for Memcap
	ReassemblyMemcap uint64 // segments not stored for ReassemblyMemcap or MaxBuffer
	MemcapByPolicy   [numExceptionPolicies]uint64
	// MidstreamByPolicy counts flows whose first packet was a mid-stream
	// one (Midstream off), by the MidstreamPolicy applied.
	MidstreamByPolicy [numExceptionPolicies]uint64
	// Events counts each raised stream event, index id-EventBase.
	Events [NumEvents]uint64
	// SessionMem and ReassemblyMem are the bytes in use now.
	SessionMem, ReassemblyMem uint64
}
