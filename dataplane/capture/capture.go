// Package capture defines the Source interface every packet input implements:
// pcap files (pcapfile), and later AF_PACKET, AF_XDP, NFQUEUE and DPDK.
package capture

import (
	"errors"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// ErrEndOfInput is returned by Source.Next when an offline source has no
// more packets. Live sources never return it.
var ErrEndOfInput = errors.New("capture: end of input")

// Stats are a source's counters. Every packet a source loses is counted in
// one of the drop fields.
type Stats struct {
	Packets      uint64 // packets handed to the engine
	Bytes        uint64 // captured bytes handed to the engine
	KernelDrops  uint64 // packets the kernel or NIC dropped before the source saw them
	Truncated    uint64 // packets whose captured length is below their wire length
	InvalidDrops uint64 // records the source could not turn into a packet
	// TxDrops counts frames an inline source was told to forward (or to
	// inject) that never left: transmit ring full, device or send errors.
	TxDrops uint64
	// Uninspected counts packets the kernel let through without handing
	// them to the engine (NFQUEUE fail-open when the queue was full).
	// They are not lost, but nothing inspected them.
	Uninspected uint64
}

// Injector is implemented by inline sources that can send frames of their
// own, such as the TCP resets and ICMP unreachables of a reject verdict.
//
// Inject sends frame out of the interface that faces the sender of p when
// toSource is set, or the one that faces p's destination otherwise (in a
// bridge, the interface p arrived on and its peer). frame is a complete
// frame of p's link type (Ethernet for a bridge, raw IP for NFQUEUE); the
// source copies it before Inject returns, so the caller keeps ownership.
// p must belong to a batch of this source that has not been given back
// with Done. An error names the interface and wraps the cause; a frame
// that was not sent is counted in Stats.TxDrops.
type Injector interface {
	Inject(p *packet.Packet, toSource bool, frame []byte) error
}

// Source produces batches of packets.
//
// Ownership: Next fills the batch's slots (Batch.Slot, Batch.SetLen) with
// packets whose Data points into frames the source owns. The caller must
// give every batch back with Done before the next call to Next on the same
// batch; after Done the packets and their Data are the source's again.
// A source is used by one goroutine at a time.
type Source interface {
	// Next fills b with up to b.Cap() packets. It returns ErrEndOfInput
	// when an offline source is exhausted (b may still hold packets then:
	// process them first), or another error that names what went wrong.
	Next(b *packet.Batch) error
	// Done returns the frames of b to the source.
	Done(b *packet.Batch)
	// Stats returns the source's counters so far.
	Stats() Stats
	// Close releases the source.
	Close() error
}
