package stream

import (
	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// EventBase is the first event id of this package: stream events take the
// ids EventBase, EventBase+1, ... in the order of Suricata's
// stream-events.rules (see eventNames).
const EventBase = decode.FirstExternalEvent + 200

// Stream events. The comment of each gives its Suricata name (the value of
// the stream-event rule keyword).
const (
	Ev3WHSAckInWrongDir                packet.EventID = EventBase + iota // 3whs_ack_in_wrong_dir
	Ev3WHSAsyncWrongSeq                                                  // 3whs_async_wrong_seq
	Ev3WHSRightSeqWrongAckEvasion                                        // 3whs_right_seq_wrong_ack_evasion
	Ev3WHSSynAckInWrongDirection                                         // 3whs_synack_in_wrong_direction
	Ev3WHSSynAckResendWithDifferentAck                                   // 3whs_synack_resend_with_different_ack
	Ev3WHSSynAckResendWithDiffSeq                                        // 3whs_synack_resend_with_diff_seq
	Ev3WHSSynAckToServerOnSynRecv                                        // 3whs_synack_toserver_on_syn_recv
	Ev3WHSSynAckWithWrongAck                                             // 3whs_synack_with_wrong_ack
	Ev3WHSSynAckFlood                                                    // 3whs_synack_flood
	Ev3WHSSynAckTFODataIgnored                                           // 3whs_synack_tfo_data_ignored
	Ev3WHSSynFlood                                                       // 3whs_syn_flood
	Ev3WHSSynResendDiffSeqOnSynRecv                                      // 3whs_syn_resend_diff_seq_on_syn_recv
	Ev3WHSSynToClientOnSynRecv                                           // 3whs_syn_toclient_on_syn_recv
	Ev3WHSWrongSeqWrongAck                                               // 3whs_wrong_seq_wrong_ack
	Ev3WHSAckDataInject                                                  // 3whs_ack_data_inject
	Ev4WHSSynAckWithWrongAck                                             // 4whs_synack_with_wrong_ack
	Ev4WHSSynAckWithWrongSyn                                             // 4whs_synack_with_wrong_syn
	Ev4WHSWrongSeq                                                       // 4whs_wrong_seq
	Ev4WHSInvalidAck                                                     // 4whs_invalid_ack
	EvCloseWaitAckOutOfWindow                                            // closewait_ack_out_of_window
	EvCloseWaitFinOutOfWindow                                            // closewait_fin_out_of_window
	EvCloseWaitInvalidAck                                                // closewait_invalid_ack
	EvClosingAckWrongSeq                                                 // closing_ack_wrong_seq
	EvClosingInvalidAck                                                  // closing_invalid_ack
	EvEstPacketOutOfWindow                                               // est_packet_out_of_window
	EvEstSynAckResend                                                    // est_synack_resend
	EvEstSynAckResendWithDifferentAck                                    // est_synack_resend_with_different_ack
	EvEstSynAckResendWithDiffSeq                                         // est_synack_resend_with_diff_seq
	EvEstSynAckToServer                                                  // est_synack_toserver
	EvEstSynResend                                                       // est_syn_resend
	EvEstSynResendDiffSeq                                                // est_syn_resend_diff_seq
	EvEstSynToClient                                                     // est_syn_toclient
	EvEstInvalidAck                                                      // est_invalid_ack
	EvFinInvalidAck                                                      // fin_invalid_ack
	EvFin1AckWrongSeq                                                    // fin1_ack_wrong_seq
	EvFin1FinWrongSeq                                                    // fin1_fin_wrong_seq
	EvFin1InvalidAck                                                     // fin1_invalid_ack
	EvFin2AckWrongSeq                                                    // fin2_ack_wrong_seq
	EvFin2FinWrongSeq                                                    // fin2_fin_wrong_seq
	EvFin2InvalidAck                                                     // fin2_invalid_ack
	EvFinButNoSession                                                    // fin_but_no_session
	EvFinOutOfWindow                                                     // fin_out_of_window
	EvLastAckAckWrongSeq                                                 // lastack_ack_wrong_seq
	EvLastAckInvalidAck                                                  // lastack_invalid_ack
	EvRstButNoSession                                                    // rst_but_no_session
	EvTimeWaitAckWrongSeq                                                // timewait_ack_wrong_seq
	EvTimeWaitInvalidAck                                                 // timewait_invalid_ack
	EvPktInvalidTimestamp                                                // pkt_invalid_timestamp
	EvPktInvalidAck                                                      // pkt_invalid_ack
	EvPktBrokenAck                                                       // pkt_broken_ack
	EvRstInvalidAck                                                      // rst_invalid_ack
	EvShutdownSynResend                                                  // shutdown_syn_resend
	EvReassemblySeqGap                                                   // reassembly_seq_gap
	EvReassemblyOverlapDifferentData                                     // reassembly_overlap_different_data
	EvPktBadWindowUpdate                                                 // pkt_bad_window_update
	EvSuspectedRstInject                                                 // suspected_rst_inject
	EvEstPktBeforeLastAck                                                // est_pkt_before_last_ack
	EvCloseWaitPktBeforeLastAck                                          // closewait_pkt_before_last_ack
	EvReassemblySegmentBeforeBaseSeq                                     // reassembly_segment_before_base_seq
	EvPktRetransmission                                                  // pkt_retransmission
	EvWrongThread                                                        // wrong_thread
	EvFinSyn                                                             // fin_syn
	EvPktSpuriousRetransmission                                          // pkt_spurious_retransmission
	EvReassemblyDepthReached                                             // reassembly_depth_reached
	EvReassemblyUrgentOOBLimitReached                                    // reassembly_urgent_oob_limit_reached
	evEnd
)

// NumEvents is the number of stream events.
const NumEvents = int(evEnd - EventBase)

// eventNames are the registered names, indexed by id-EventBase.
var eventNames = [NumEvents]string{
	"stream.3whs_ack_in_wrong_dir",
	"stream.3whs_async_wrong_seq",
	"stream.3whs_right_seq_wrong_ack_evasion",
	"stream.3whs_synack_in_wrong_direction",
	"stream.3whs_synack_resend_with_different_ack",
	"stream.3whs_synack_resend_with_diff_seq",
	"stream.3whs_synack_toserver_on_syn_recv",
	"stream.3whs_synack_with_wrong_ack",
	"stream.3whs_synack_flood",
	"stream.3whs_synack_tfo_data_ignored",
	"stream.3whs_syn_flood",
	"stream.3whs_syn_resend_diff_seq_on_syn_recv",
	"stream.3whs_syn_toclient_on_syn_recv",
	"stream.3whs_wrong_seq_wrong_ack",
	"stream.3whs_ack_data_inject",
	"stream.4whs_synack_with_wrong_ack",
	"stream.4whs_synack_with_wrong_syn",
	"stream.4whs_wrong_seq",
	"stream.4whs_invalid_ack",
	"stream.closewait_ack_out_of_window",
	"stream.closewait_fin_out_of_window",
	"stream.closewait_invalid_ack",
	"stream.closing_ack_wrong_seq",
	"stream.closing_invalid_ack",
	"stream.est_packet_out_of_window",
	"stream.est_synack_resend",
	"stream.est_synack_resend_with_different_ack",
	"stream.est_synack_resend_with_diff_seq",
	"stream.est_synack_toserver",
	"stream.est_syn_resend",
	"stream.est_syn_resend_diff_seq",
	"stream.est_syn_toclient",
	"stream.est_invalid_ack",
	"stream.fin_invalid_ack",
	"stream.fin1_ack_wrong_seq",
	"stream.fin1_fin_wrong_seq",
	"stream.fin1_invalid_ack",
	"stream.fin2_ack_wrong_seq",
	"stream.fin2_fin_wrong_seq",
	"stream.fin2_invalid_ack",
	"stream.fin_but_no_session",
	"stream.fin_out_of_window",
	"stream.lastack_ack_wrong_seq",
	"stream.lastack_invalid_ack",
	"stream.rst_but_no_session",
	"stream.timewait_ack_wrong_seq",
	"stream.timewait_invalid_ack",
	"stream.pkt_invalid_timestamp",
	"stream.pkt_invalid_ack",
	"stream.pkt_broken_ack",
	"stream.rst_invalid_ack",
	"stream.shutdown_syn_resend",
	"stream.reassembly_seq_gap",
	"stream.reassembly_overlap_different_data",
	"stream.pkt_bad_window_update",
	"stream.suspected_rst_inject",
	"stream.est_pkt_before_last_ack",
	"stream.closewait_pkt_before_last_ack",
	"stream.reassembly_segment_before_base_seq",
	"stream.pkt_retransmission",
	"stream.wrong_thread",
	"stream.fin_syn",
	"stream.pkt_spurious_retransmission",
	"stream.reassembly_depth_reached",
	"stream.reassembly_urgent_oob_limit_reached",
}

// registerErr is the outcome of registering the event names; NewTracker
// reports it.
var registerErr = decode.RegisterEvents(EventBase, eventNames[:]...)

// EventName returns the Suricata name of a stream event ("stream.fin_syn"),
// or "" when id is not a stream event.
func EventName(id packet.EventID) string {
	if id < EventBase || id >= evEnd {
		return ""
	}
	return eventNames[id-EventBase]
}
