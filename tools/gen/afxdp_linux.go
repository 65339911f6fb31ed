package gen

import (
	"fmt"

	"github.com/vigil-ids/vigil/dataplane/capture/afxdp"
)

// AFXDPOptions configure an AF_XDP sender (see afxdp.TxOptions).
type AFXDPOptions struct {
	// QueueID is the interface queue the socket binds to.
	QueueID uint32
	// Mode is afxdp.ModeAuto (default: zero-copy where the driver
	// supports it, else copy), afxdp.ModeZeroCopy or afxdp.ModeCopy.
	Mode string
	// Frames and RingSize size the UMEM and the TX ring (defaults: 4096
	// and 2048).
	Frames, RingSize int
	// NoNeedWakeup makes every Send end in a sendto, whether the kernel
	// asked for one or not.
	NoNeedWakeup bool
}

// AFXDPSender sends frames on one interface queue through a
// transmit-only AF_XDP socket (afxdp.Tx): Send copies each frame into a
// UMEM frame, posts the batch on the TX ring and kicks the kernel; frames
// come back on the completion ring. In copy mode (veth, or a driver
// without zero-copy) the kernel builds an skb per frame inside sendto and
// hands it straight to the driver's queue, skipping the qdisc layer like
// AFPacketSender with PACKET_QDISC_BYPASS.
type AFXDPSender struct {
	tx    *afxdp.Tx
	iface string
}

// NewAFXDPSender opens a sender on iface.
func NewAFXDPSender(iface string, opts AFXDPOptions) (*AFXDPSender, error) {
	tx, err := afxdp.OpenTx(afxdp.TxOptions{Interface: iface, QueueID: opts.QueueID, Mode: opts.Mode,
		Frames: opts.Frames, RingSize: opts.RingSize, NoNeedWakeup: opts.NoNeedWakeup})
	if err != nil {
		return nil, fmt.Errorf("af_xdp sender on %s: %w", iface, err)
	}
	return &AFXDPSender{tx: tx, iface: iface}, nil
}

// Name says which sender this is and how its socket is bound.
func (s *AFXDPSender) Name() string { return "af_xdp/" + s.tx.Mode() }

// Mode returns afxdp.ModeCopy or afxdp.ModeZeroCopy.
func (s *AFXDPSender) Mode() string { return s.tx.Mode() }

// Send transmits frames; see Sender. Each frame is copied into the UMEM
// before Send returns. Frames the kernel cannot take yet (no free UMEM
// frame or TX slot) are waited for, counted in SendStats.Waits.
func (s *AFXDPSender) Send(frames [][]byte) (int, error) { return s.tx.Send(frames) }

// Stats returns the counters: Packets are frames put on the TX ring,
// KernelDrops those the device dropped (copy mode), the kernel found
// invalid, or Close found never taken.
func (s *AFXDPSender) Stats() SendStats {
	st := s.tx.Stats()
	return SendStats{Packets: st.Sent, Bytes: st.Bytes, Errors: st.Refused, Waits: st.RingFullWaits,
		KernelDrops: st.DeviceDrops + st.InvalidDescs + st.Lost}
}

// Close waits briefly for the frames still on the TX ring to go (see
// afxdp.Tx.Close), then releases the socket and its UMEM.
func (s *AFXDPSender) Close() error {
	if err := s.tx.Close(); err != nil {
		return fmt.Errorf("af_xdp sender on %s: %w", s.iface, err)
	}
	return nil
}
