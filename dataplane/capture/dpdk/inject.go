//go:build dpdk

package dpdk

/*
#include <stdint.h>
#include "vigil_dpdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Errors of Inject.
var (
	// ErrForeignPacket: Inject was given a packet that is not in a batch
	// this Source lent out (another Source's, one already given back with
	// Done, or one the engine made up).
	ErrForeignPacket = errors.New("dpdk: packet not lent out by this source")
	// ErrFrameSize: the frame is empty or longer than 65535 bytes.
	ErrFrameSize = errors.New("dpdk: frame size out of range")
)

// InjectStats count the frames given to Inject.
type InjectStats struct {
	Injected      uint64 // frames the tx queue took
	InjectedBytes uint64 // their bytes
	// Errors counts frames not sent (also in Stats().TxDrops): pool empty,
	// frame longer than an mbuf, tx queue full, bad arguments.
	Errors uint64
}

var _ capture.Injector = (*Source)(nil)

// Inject transmits frame, a complete Ethernet frame such as the reset or
// ICMP unreachable of a reject verdict (package reject): it takes an mbuf
// from the transmitting port's pool, copies frame into it (the caller keeps
// frame) and hands it to that port's tx queue of the Source's queue number.
//
// In IPS mode (a bridge of Port and PeerPort) toSource transmits on Port,
// where p arrived, toward its sender; otherwise on PeerPort, toward p's
// destination, where p would have been forwarded. In IDS mode both go out
// of Port. Injected frames go out before the packets Done forwards
// afterwards.
//
// p must be a packet of a batch this Source lent out and that has not come
// back through Done. Errors name the port and queue and wrap ErrClosed,
// ErrForeignPacket, ErrFrameSize or the errno (ENOBUFS: pool empty,
// EMSGSIZE: frame longer than the pool's data room, EAGAIN: tx queue
// full); every frame not sent is counted in InjectStats.Errors and
// Stats().TxDrops. Inject belongs to the goroutine that calls Next and
// Done; it takes the tx queue's mutex, which Done of the bridge's other
// Source shares, and allocates nothing when it succeeds.
func (s *Source) Inject(p *packet.Packet, toSource bool, frame []byte) error {
	port := s.port
	if !toSource && s.peer != nil {
		port = s.peer
	}
	if err := s.inject(port, p, frame); err != nil {
		s.inj.Errors++
		return err
	}
	s.inj.Injected++
	s.inj.InjectedBytes += uint64(len(frame))
	return nil
}

func (s *Source) inject(port *Port, p *packet.Packet, frame []byte) error {
	if s.closed || s.q == nil {
		return fmt.Errorf("dpdk: port %s queue %d: Inject: %w", s.port.name, s.queue, ErrClosed)
	}
	if !s.lends(p) {
		return fmt.Errorf("dpdk: port %s queue %d: Inject: %w", s.port.name, s.queue, ErrForeignPacket)
	}
	if len(frame) == 0 || len(frame) > 0xffff {
		return fmt.Errorf("dpdk: port %s queue %d: Inject of %d bytes: %w", port.name, s.queue, len(frame), ErrFrameSize)
	}
	mu := &port.txMu[s.queue]
	mu.Lock()
	ret := C.vigil_inject(C.uint16_t(port.id), C.uint16_t(s.queue), port.pool.mp, unsafe.Pointer(&frame[0]), C.uint16_t(len(frame)))
	mu.Unlock()
	if ret != 0 {
		return fmt.Errorf("dpdk: port %s tx queue %d: Inject: %w", port.name, s.queue, errno(ret))
	}
	return nil
}

// lends reports whether p is a packet of a batch this Source lent out.
func (s *Source) lends(p *packet.Packet) bool {
	if p == nil {
		return false
	}
	for _, l := range s.lent {
		for i := 0; i < l.n; i++ {
			if l.b.Slot(i) == p {
				return true
			}
		}
	}
	return false
}

// InjectStats returns the counters of Inject.
func (s *Source) InjectStats() InjectStats { return s.inj }
