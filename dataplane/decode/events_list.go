// The decoder events, in the order of Suricata's decoder-events.rules; the
// names are the values of the decode-event rule keyword. Append new events at
// the end: the ids index Stats.Events.

package decode

import "github.com/vigil-ids/vigil/dataplane/packet"

// Decoder events. EvNone (0) is never raised.
const (
	EvNone                          packet.EventID = iota
	EvIPv4PktTooSmall                              // ipv4.pkt_too_small
	EvIPv4HLenTooSmall                             // ipv4.hlen_too_small
	EvIPv4IPLenSmallerThanHLen                     // ipv4.iplen_smaller_than_hlen
	EvIPv4TruncPkt                                 // ipv4.trunc_pkt
	EvIPv4OptInvalid                               // ipv4.opt_invalid
	EvIPv4OptInvalidLen                            // ipv4.opt_invalid_len
	EvIPv4OptMalformed                             // ipv4.opt_malformed
	EvIPv4OptPadRequired                           // ipv4.opt_pad_required
	EvIPv4ICMPv6                                   // ipv4.icmpv6
	EvIPv4OptEOLRequired                           // ipv4.opt_eol_required
	EvIPv4OptDuplicate                             // ipv4.opt_duplicate
	EvIPv4OptUnknown                               // ipv4.opt_unknown
	EvIPv4WrongIPVersion                           // ipv4.wrong_ip_version
	EvIPv6PktTooSmall                              // ipv6.pkt_too_small
	EvIPv6TruncPkt                                 // ipv6.trunc_pkt
	EvIPv6TruncExtHdr                              // ipv6.trunc_exthdr
	EvIPv6ExtHdrDuplFH                             // ipv6.exthdr_dupl_fh
	EvIPv6ExtHdrUselessFH                          // ipv6.exthdr_useless_fh
	EvIPv6ExtHdrDuplRH                             // ipv6.exthdr_dupl_rh
	EvIPv6ExtHdrDuplHH                             // ipv6.exthdr_dupl_hh
	EvIPv6ExtHdrDuplDH                             // ipv6.exthdr_dupl_dh
	EvIPv6ExtHdrDuplAH                             // ipv6.exthdr_dupl_ah
	EvIPv6ExtHdrDuplEH                             // ipv6.exthdr_dupl_eh
	EvIPv6ExtHdrInvalidOptLen                      // ipv6.exthdr_invalid_optlen
	EvIPv6WrongIPVersion                           // ipv6.wrong_ip_version
	EvIPv6ExtHdrAHResNotNull                       // ipv6.exthdr_ah_res_not_null
	EvIPv6HopOptsUnknownOpt                        // ipv6.hopopts_unknown_opt
	EvIPv6HopOptsOnlyPadding                       // ipv6.hopopts_only_padding
	EvIPv6DstOptsUnknownOpt                        // ipv6.dstopts_unknown_opt
	EvIPv6DstOptsOnlyPadding                       // ipv6.dstopts_only_padding
	EvIPv6RHType0                                  // ipv6.rh_type_0
	EvIPv6ZeroLenPadN                              // ipv6.zero_len_padn
	EvIPv6FHNonZeroReservedField                   // ipv6.fh_non_zero_reserved_field
	EvIPv6DataAfterNoneHeader                      // ipv6.data_after_none_header
	EvIPv6UnknownNextHeader                        // ipv6.unknown_next_header
	EvIPv6ICMPv4                                   // ipv6.icmpv4
	EvICMPv4PktTooSmall                            // icmpv4.pkt_too_small
	EvICMPv4UnknownType                            // icmpv4.unknown_type
	EvICMPv4UnknownCode                            // icmpv4.unknown_code
	EvICMPv4IPv4TruncPkt                           // icmpv4.ipv4_trunc_pkt
	EvICMPv4IPv4UnknownVer                         // icmpv4.ipv4_unknown_ver
	EvICMPv6PktTooSmall                            // icmpv6.pkt_too_small
	EvICMPv6UnknownType                            // icmpv6.unknown_type
	EvICMPv6UnknownCode                            // icmpv6.unknown_code
	EvICMPv6IPv6TruncPkt                           // icmpv6.ipv6_trunc_pkt
	EvICMPv6IPv6UnknownVersion                     // icmpv6.ipv6_unknown_version
	EvICMPv6MLDMessageWithInvalidHL                // icmpv6.mld_message_with_invalid_hl
	EvICMPv6UnassignedType                         // icmpv6.unassigned_type
	EvICMPv6ExperimentationType                    // icmpv6.experimentation_type
	EvTCPPktTooSmall                               // tcp.pkt_too_small
	EvTCPHLenTooSmall                              // tcp.hlen_too_small
	EvTCPInvalidOptLen                             // tcp.invalid_optlen
	EvTCPOptInvalidLen                             // tcp.opt_invalid_len
	EvTCPOptDuplicate                              // tcp.opt_duplicate
	EvUDPPktTooSmall                               // udp.pkt_too_small
	EvUDPHLenTooSmall                              // udp.hlen_too_small
	EvUDPLenInvalid                                // udp.len_invalid
	EvSLLPktTooSmall                               // sll.pkt_too_small
	EvEthernetPktTooSmall                          // ethernet.pkt_too_small
	EvEthernetUnknownEtherType                     // ethernet.unknown_ethertype
	EvPPPPktTooSmall                               // ppp.pkt_too_small
	EvPPPVJUPktTooSmall                            // ppp.vju_pkt_too_small
	EvPPPIP4PktTooSmall                            // ppp.ip4_pkt_too_small
	EvPPPIP6PktTooSmall                            // ppp.ip6_pkt_too_small
	EvPPPWrongType                                 // ppp.wrong_type
	EvPPPUnsupProto                                // ppp.unsup_proto
	EvPPPoEPktTooSmall                             // pppoe.pkt_too_small
	EvPPPoEWrongCode                               // pppoe.wrong_code
	EvPPPoEMalformedTags                           // pppoe.malformed_tags
	EvGREPktTooSmall                               // gre.pkt_too_small
	EvGREWrongVersion                              // gre.wrong_version
	EvGREVersion0Recur                             // gre.version0_recur
	EvGREVersion0Flags                             // gre.version0_flags
	EvGREVersion0HdrTooBig                         // gre.version0_hdr_too_big
	EvGREVersion1Chksum                            // gre.version1_chksum
	EvGREVersion1Route                             // gre.version1_route
	EvGREVersion1SSR                               // gre.version1_ssr
	EvGREVersion1Recur                             // gre.version1_recur
	EvGREVersion1Flags                             // gre.version1_flags
	EvGREVersion1NoKey                             // gre.version1_no_key
	EvGREVersion1WrongProtocol                     // gre.version1_wrong_protocol
	EvGREVersion1MalformedSREHdr                   // gre.version1_malformed_sre_hdr
	EvGREVersion1HdrTooBig                         // gre.version1_hdr_too_big
	EvVLANHeaderTooSmall                           // vlan.header_too_small
	EvVLANUnknownType                              // vlan.unknown_type
	EvVLANTooManyLayers                            // vlan.too_many_layers
	EvVNTagHeaderTooSmall                          // vntag.header_too_small
	EvVNTagUnknownType                             // vntag.unknown_type
	EvIEEE8021ahHeaderTooSmall                     // ieee8021ah.header_too_small
	EvIPRawInvalidIPVersion                        // ipraw.invalid_ip_version
	EvIPv4FragPktTooLarge                          // ipv4.frag_pkt_too_large
	EvIPv4FragOverlap                              // ipv4.frag_overlap
	EvIPv6FragPktTooLarge                          // ipv6.frag_pkt_too_large
	EvIPv6FragOverlap                              // ipv6.frag_overlap
	EvIPv6FragInvalidLength                        // ipv6.frag_invalid_length
	EvIPv6IPv4InIPv6TooSmall                       // ipv6.ipv4_in_ipv6_too_small
	EvIPv6IPv4InIPv6WrongVersion                   // ipv6.ipv4_in_ipv6_wrong_version
	EvIPv6IPv6InIPv6TooSmall                       // ipv6.ipv6_in_ipv6_too_small
	EvIPv6IPv6InIPv6WrongVersion                   // ipv6.ipv6_in_ipv6_wrong_version
	EvMPLSHeaderTooSmall                           // mpls.header_too_small
	EvMPLSPktTooSmall                              // mpls.pkt_too_small
	EvMPLSBadLabelRouterAlert                      // mpls.bad_label_router_alert
	EvMPLSBadLabelImplicitNull                     // mpls.bad_label_implicit_null
	EvMPLSBadLabelReserved                         // mpls.bad_label_reserved
	EvMPLSUnknownPayloadType                       // mpls.unknown_payload_type
	EvLTNullPktTooSmall                            // ltnull.pkt_too_small
	EvLTNullUnsupportedType                        // ltnull.unsupported_type
	EvERSPANHeaderTooSmall                         // erspan.header_too_small
	EvERSPANUnsupportedVersion                     // erspan.unsupported_version
	EvERSPANTooManyVLANLayers                      // erspan.too_many_vlan_layers
	EvDCEPktTooSmall                               // dce.pkt_too_small
	EvCHDLCPktTooSmall                             // chdlc.pkt_too_small
	EvTooManyLayers                                // too_many_layers
	EvAFPacketTruncPkt                             // afpacket.trunc_pkt
	EvGREVersion0MalformedSREHdr                   // gre.version0_malformed_sre_hdr

	// NumDecoderEvents is one past the last decoder event id.
	NumDecoderEvents
)

var decoderEventNames = [NumDecoderEvents]string{
	EvIPv4PktTooSmall:               "ipv4.pkt_too_small",
	EvIPv4HLenTooSmall:              "ipv4.hlen_too_small",
	EvIPv4IPLenSmallerThanHLen:      "ipv4.iplen_smaller_than_hlen",
	EvIPv4TruncPkt:                  "ipv4.trunc_pkt",
	EvIPv4OptInvalid:                "ipv4.opt_invalid",
	EvIPv4OptInvalidLen:             "ipv4.opt_invalid_len",
	EvIPv4OptMalformed:              "ipv4.opt_malformed",
	EvIPv4OptPadRequired:            "ipv4.opt_pad_required",
	EvIPv4ICMPv6:                    "ipv4.icmpv6",
	EvIPv4OptEOLRequired:            "ipv4.opt_eol_required",
	EvIPv4OptDuplicate:              "ipv4.opt_duplicate",
	EvIPv4OptUnknown:                "ipv4.opt_unknown",
	EvIPv4WrongIPVersion:            "ipv4.wrong_ip_version",
	EvIPv6PktTooSmall:               "ipv6.pkt_too_small",
	EvIPv6TruncPkt:                  "ipv6.trunc_pkt",
	EvIPv6TruncExtHdr:               "ipv6.trunc_exthdr",
	EvIPv6ExtHdrDuplFH:              "ipv6.exthdr_dupl_fh",
	EvIPv6ExtHdrUselessFH:           "ipv6.exthdr_useless_fh",
	EvIPv6ExtHdrDuplRH:              "ipv6.exthdr_dupl_rh",
	EvIPv6ExtHdrDuplHH:              "ipv6.exthdr_dupl_hh",
	EvIPv6ExtHdrDuplDH:              "ipv6.exthdr_dupl_dh",
	EvIPv6ExtHdrDuplAH:              "ipv6.exthdr_dupl_ah",
	EvIPv6ExtHdrDuplEH:              "ipv6.exthdr_dupl_eh",
	EvIPv6ExtHdrInvalidOptLen:       "ipv6.exthdr_invalid_optlen",
	EvIPv6WrongIPVersion:            "ipv6.wrong_ip_version",
	EvIPv6ExtHdrAHResNotNull:        "ipv6.exthdr_ah_res_not_null",
	EvIPv6HopOptsUnknownOpt:         "ipv6.hopopts_unknown_opt",
	EvIPv6HopOptsOnlyPadding:        "ipv6.hopopts_only_padding",
	EvIPv6DstOptsUnknownOpt:         "ipv6.dstopts_unknown_opt",
	EvIPv6DstOptsOnlyPadding:        "ipv6.dstopts_only_padding",
	EvIPv6RHType0:                   "ipv6.rh_type_0",
	EvIPv6ZeroLenPadN:               "ipv6.zero_len_padn",
	EvIPv6FHNonZeroReservedField:    "ipv6.fh_non_zero_reserved_field",
	EvIPv6DataAfterNoneHeader:       "ipv6.data_after_none_header",
	EvIPv6UnknownNextHeader:         "ipv6.unknown_next_header",
	EvIPv6ICMPv4:                    "ipv6.icmpv4",
	EvICMPv4PktTooSmall:             "icmpv4.pkt_too_small",
	EvICMPv4UnknownType:             "icmpv4.unknown_type",
	EvICMPv4UnknownCode:             "icmpv4.unknown_code",
	EvICMPv4IPv4TruncPkt:            "icmpv4.ipv4_trunc_pkt",
	EvICMPv4IPv4UnknownVer:          "icmpv4.ipv4_unknown_ver",
	EvICMPv6PktTooSmall:             "icmpv6.pkt_too_small",
	EvICMPv6UnknownType:             "icmpv6.unknown_type",
	EvICMPv6UnknownCode:             "icmpv6.unknown_code",
	EvICMPv6IPv6TruncPkt:            "icmpv6.ipv6_trunc_pkt",
	EvICMPv6IPv6UnknownVersion:      "icmpv6.ipv6_unknown_version",
	EvICMPv6MLDMessageWithInvalidHL: "icmpv6.mld_message_with_invalid_hl",
	EvICMPv6UnassignedType:          "icmpv6.unassigned_type",
	EvICMPv6ExperimentationType:     "icmpv6.experimentation_type",
	EvTCPPktTooSmall:                "tcp.pkt_too_small",
	EvTCPHLenTooSmall:               "tcp.hlen_too_small",
	EvTCPInvalidOptLen:              "tcp.invalid_optlen",
	EvTCPOptInvalidLen:              "tcp.opt_invalid_len",
	EvTCPOptDuplicate:               "tcp.opt_duplicate",
	EvUDPPktTooSmall:                "udp.pkt_too_small",
	EvUDPHLenTooSmall:               "udp.hlen_too_small",
	EvUDPLenInvalid:                 "udp.len_invalid",
	EvSLLPktTooSmall:                "sll.pkt_too_small",
	EvEthernetPktTooSmall:           "ethernet.pkt_too_small",
	EvEthernetUnknownEtherType:      "ethernet.unknown_ethertype",
	EvPPPPktTooSmall:                "ppp.pkt_too_small",
	EvPPPVJUPktTooSmall:             "ppp.vju_pkt_too_small",
	EvPPPIP4PktTooSmall:             "ppp.ip4_pkt_too_small",
	EvPPPIP6PktTooSmall:             "ppp.ip6_pkt_too_small",
	EvPPPWrongType:                  "ppp.wrong_type",
	EvPPPUnsupProto:                 "ppp.unsup_proto",
	EvPPPoEPktTooSmall:              "pppoe.pkt_too_small",
	EvPPPoEWrongCode:                "pppoe.wrong_code",
	EvPPPoEMalformedTags:            "pppoe.malformed_tags",
	EvGREPktTooSmall:                "gre.pkt_too_small",
	EvGREWrongVersion:               "gre.wrong_version",
	EvGREVersion0Recur:              "gre.version0_recur",
	EvGREVersion0Flags:              "gre.version0_flags",
	EvGREVersion0HdrTooBig:          "gre.version0_hdr_too_big",
	EvGREVersion1Chksum:             "gre.version1_chksum",
	EvGREVersion1Route:              "gre.version1_route",
	EvGREVersion1SSR:                "gre.version1_ssr",
	EvGREVersion1Recur:              "gre.version1_recur",
	EvGREVersion1Flags:              "gre.version1_flags",
	EvGREVersion1NoKey:              "gre.version1_no_key",
	EvGREVersion1WrongProtocol:      "gre.version1_wrong_protocol",
	EvGREVersion1MalformedSREHdr:    "gre.version1_malformed_sre_hdr",
	EvGREVersion1HdrTooBig:          "gre.version1_hdr_too_big",
	EvVLANHeaderTooSmall:            "vlan.header_too_small",
	EvVLANUnknownType:               "vlan.unknown_type",
	EvVLANTooManyLayers:             "vlan.too_many_layers",
	EvVNTagHeaderTooSmall:           "vntag.header_too_small",
	EvVNTagUnknownType:              "vntag.unknown_type",
	EvIEEE8021ahHeaderTooSmall:      "ieee8021ah.header_too_small",
	EvIPRawInvalidIPVersion:         "ipraw.invalid_ip_version",
	EvIPv4FragPktTooLarge:           "ipv4.frag_pkt_too_large",
	EvIPv4FragOverlap:               "ipv4.frag_overlap",
	EvIPv6FragPktTooLarge:           "ipv6.frag_pkt_too_large",
	EvIPv6FragOverlap:               "ipv6.frag_overlap",
	EvIPv6FragInvalidLength:         "ipv6.frag_invalid_length",
	EvIPv6IPv4InIPv6TooSmall:        "ipv6.ipv4_in_ipv6_too_small",
	EvIPv6IPv4InIPv6WrongVersion:    "ipv6.ipv4_in_ipv6_wrong_version",
	EvIPv6IPv6InIPv6TooSmall:        "ipv6.ipv6_in_ipv6_too_small",
	EvIPv6IPv6InIPv6WrongVersion:    "ipv6.ipv6_in_ipv6_wrong_version",
	EvMPLSHeaderTooSmall:            "mpls.header_too_small",
	EvMPLSPktTooSmall:               "mpls.pkt_too_small",
	EvMPLSBadLabelRouterAlert:       "mpls.bad_label_router_alert",
	EvMPLSBadLabelImplicitNull:      "mpls.bad_label_implicit_null",
	EvMPLSBadLabelReserved:          "mpls.bad_label_reserved",
	EvMPLSUnknownPayloadType:        "mpls.unknown_payload_type",
	EvLTNullPktTooSmall:             "ltnull.pkt_too_small",
	EvLTNullUnsupportedType:         "ltnull.unsupported_type",
	EvERSPANHeaderTooSmall:          "erspan.header_too_small",
	EvERSPANUnsupportedVersion:      "erspan.unsupported_version",
	EvERSPANTooManyVLANLayers:       "erspan.too_many_vlan_layers",
	EvDCEPktTooSmall:                "dce.pkt_too_small",
	EvCHDLCPktTooSmall:              "chdlc.pkt_too_small",
	EvTooManyLayers:                 "too_many_layers",
	EvAFPacketTruncPkt:              "afpacket.trunc_pkt",
	EvGREVersion0MalformedSREHdr:    "gre.version0_malformed_sre_hdr",
}
