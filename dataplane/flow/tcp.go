package flow

import "github.com/vigil-ids/vigil/dataplane/packet"

// TCPState is how far a TCP flow's handshake has got.
type TCPState uint8

const (
	TCPNone        TCPState = iota // no handshake start seen (fresh, or picked up mid-stream)
	TCPSynSent                     // client SYN seen
	TCPSynRecv                     // server SYN/ACK seen after the SYN
	TCPEstablished                 // client ACK completing the three-way handshake seen
	TCPClosed                      // FIN or RST seen
)

// String names the state as EVE's tcp.state does.
func (s TCPState) String() string {
	switch s {
	case TCPSynSent:
		return "syn_sent"
	case TCPSynRecv:
		return "syn_recv"
	case TCPEstablished:
		return "established"
	case TCPClosed:
		return "closed"
	}
	return "none"
}

// TCPTracker follows the three-way handshake and connection teardown from
// the TCP flags alone. It does not check sequence numbers; the stream engine
// replaces it with full state tracking.
type TCPTracker struct {
	State TCPState
	// Midstream is set when the flow did not start with a client SYN: such a
	// flow never becomes established here.
	Midstream bool
	// HasISN is set once the client SYN was seen; ISN is its sequence number.
	HasISN bool
	ISN    uint32
	// started is set once the first packet went through Update.
	started bool
}

// Update advances the tracker with one packet's flags and sequence number;
// toServer tells the packet's direction.
func (t *TCPTracker) Update(flags uint8, seq uint32, toServer bool) {
	if t.State == TCPClosed {
		return
	}
	first := !t.started
	t.started = true
	if flags&(packet.TCPRst|packet.TCPFin) != 0 {
		// A FIN or RST closes a connection whose opening was seen. One
		// whose start was never seen stays new: as in Suricata, where
		// the TCP session (none here) moves a flow's state, it times out
		// as a new flow.
		if t.State != TCPNone {
			t.State = TCPClosed
		} else {
			t.Midstream = true
		}
		return
	}
	syn := flags&packet.TCPSyn != 0
	ack := flags&packet.TCPAck != 0
	switch t.State {
	case TCPNone:
		if first && toServer && syn && !ack {
			t.State = TCPSynSent
			t.HasISN, t.ISN = true, seq
			return
		}
		t.Midstream = true
	case TCPSynSent:
		if !toServer && syn && ack {
			t.State = TCPSynRecv
		}
	case TCPSynRecv:
		if toServer && ack && !syn {
			t.State = TCPEstablished
		}
	}
}

// isReuse reports whether a packet with these flags and sequence number,
// arriving on a closed flow, opens a new connection on the same ports: a
// bare SYN that is not a retransmission of the flow's own SYN.
func (t *TCPTracker) isReuse(flags uint8, seq uint32) bool {
	if t.State != TCPClosed {
		return false
	}
	if flags&(packet.TCPSyn|packet.TCPAck|packet.TCPRst|packet.TCPFin) != packet.TCPSyn {
		return false
	}
	return !t.HasISN || seq != t.ISN
}
