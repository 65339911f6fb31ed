package engine

import (
	"strings"

	// The stream package registers the stream.* event names with the
	// decoder's event table, which stream-event resolves against.
	"github.com/vigil-ids/vigil/dataplane/decode"
	_ "github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/detect/rules"
)

// payloadMode is what a signature's pkt_data inspection sees on a TCP
// packet whose flow is tracked by stream reassembly. Suricata's rule types
// (userguide "Rule Types and Categorization"): a "stream" rule (plain
// payload keywords) inspects reassembled stream chunks only, a
// "pkt_stream" rule (a payload content anchored with depth, offset or
// startswith, or plain content with a packet header keyword such as flags)
// inspects both the stream and the packet, and a "pkt" rule (tcp-pkt,
// flow:no_stream, dsize, or a header keyword with anchored content) only
// the packet. Packets whose payload
// was not taken into a stream (no session, UDP, memcap) are inspected by
// every signature as packets.
type payloadMode uint8

const (
	payloadStream    payloadMode = iota // stream chunks (packet payload when not stateful)
	payloadPktStream                    // stream chunks and packet payload
	payloadPkt                          // packet payload only
)

func payloadModeOf(s *Signature) payloadMode {
	for i := range s.bufs {
		if s.bufs[i].id == BufPktData {
			s.inspectsPayload = true
		}
	}
	switch {
	case s.flow.stream < 0 || strings.EqualFold(s.Rule.Proto, "tcp-pkt"):
		return payloadPkt
	case s.flow.stream > 0 || strings.EqualFold(s.Rule.Proto, "tcp-stream"):
		return payloadStream
	}
	// Packet header keywords (flags, ttl, seq/ack, window, ipopts, ...)
	// make Suricata require a packet (SIG_FLAG_REQUIRE_PACKET): with
	// plain content, which requires the stream, the rule is pkt_stream;
	// with only anchored content it is a packet rule.
	reqPacket := false
	for _, m := range s.pkt {
		switch m.(type) {
		case *dsizeMatch:
			return payloadPkt
		case *flagsMatch, *ttlMatch, *seqAckMatch, *windowMatch, *ipoptsMatch, *mssMatch, *fragbitsMatch, *fragoffMatch:
			reqPacket = true
		}
	}
	anchored := false
	for i := range s.bufs {
		bl := &s.bufs[i]
		if bl.id != BufPktData {
			continue
		}
		for j := range bl.steps {
			st := &bl.steps[j]
			if st.kind == stepContent && st.flags&(fDepth|fOffset|fStartsWith) != 0 {
				anchored = true
			}
		}
	}
	switch {
	case reqPacket && anchored:
		return payloadPkt
	case reqPacket || anchored:
		return payloadPktStream
	}
	return payloadStream
}

// stream-event: a stream engine event (stream.*) was raised for the packet.
func init() {
	register(&keyword{name: "stream-event", setup: func(b *builder, o rules.Option) error {
		name := strings.ToLower(strings.TrimSpace(o.Value))
		if name == "" {
			return errFmt("missing event name")
		}
		id, ok := decode.EventByName("stream." + strings.TrimPrefix(name, "stream."))
		if !ok {
			return errFmt("unknown stream event %q", name)
		}
		b.sig.pkt = append(b.sig.pkt, &eventMatch{id})
		return nil
	}})
}

// streamInput is the reassembled stream data detection sees with a packet.
type streamInput struct {
	data []byte
	// stateful: the packet's own payload went into the stream, so
	// stream-only signatures do not inspect it as a packet.
	stateful bool
}
