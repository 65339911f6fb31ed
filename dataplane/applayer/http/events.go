package http

// Event is an HTTP app-layer event, named as Suricata names it (the
// app-layer-event:http.<name> keyword). Events are recorded per
// transaction as a set: each fires at most once per transaction.
type Event uint8

// Events in the order of Suricata's http-events.rules.
const (
	EventUnknownError Event = iota
	EventGzipDecompressionFailed
	EventRequestFieldMissingColon
	EventResponseFieldMissingColon
	EventInvalidRequestChunkLen
	EventInvalidResponseChunkLen
	EventInvalidTransferEncodingValueInRequest
	EventInvalidTransferEncodingValueInResponse
	EventInvalidContentLengthFieldInRequest
	EventInvalidContentLengthFieldInResponse
	Event100ContinueAlreadySeen
	EventUnableToMatchResponseToRequest
	EventInvalidServerPortInRequest
	EventInvalidAuthorityPort
	EventRequestHeaderInvalid
	EventResponseHeaderInvalid
	EventMissingHostHeader
	EventHostHeaderAmbiguous
	EventInvalidRequestFieldFolding
	EventInvalidResponseFieldFolding
	EventRequestFieldTooLong
	EventResponseFieldTooLong
	EventMultipartGenericError
	EventMultipartNoFiledata
	EventMultipartInvalidHeader
	EventRequestServerPortTCPPortMismatch
	EventRequestURIHostInvalid
	EventRequestHeaderHostInvalid
	EventURIDelimNonCompliant
	EventMethodDelimNonCompliant
	EventRequestLineLeadingWhitespace
	EventTooManyEncodingLayers
	EventAbnormalCEHeader
	EventRequestAuthUnrecognized
	EventRequestHeaderRepetition
	EventResponseHeaderRepetition
	EventResponseMultipartByteranges
	EventResponseAbnormalTransferEncoding
	EventResponseChunkedOldProto
	EventResponseInvalidProtocol
	EventResponseInvalidStatus
	EventRequestLineIncomplete
	EventDoubleEncodedURI
	EventRequestLineInvalid
	EventRequestBodyUnexpected
	EventLzmaMemlimitReached
	EventDuplicateContentLengthFieldInRequest
	EventDuplicateContentLengthFieldInResponse
	EventCompressionBomb
	EventTooManyWarnings
	EventRangeInvalid
	EventFileNameTooLong
	EventFailedProtocolChange
	EventRequestChunkExtension
	EventRequestLineMissingProtocol
	EventRequestTooManyHeaders
	EventResponseTooManyHeaders
	EventResponseChunkExtension
	EventCompressionBombLimitReached
	NumEvents
)

var eventNames = [NumEvents]string{
	"unknown_error",
	"gzip_decompression_failed",
	"request_field_missing_colon",
	"response_field_missing_colon",
	"invalid_request_chunk_len",
	"invalid_response_chunk_len",
	"invalid_transfer_encoding_value_in_request",
	"invalid_transfer_encoding_value_in_response",
	"invalid_content_length_field_in_request",
	"invalid_content_length_field_in_response",
	"100_continue_already_seen",
	"unable_to_match_response_to_request",
	"invalid_server_port_in_request",
	"invalid_authority_port",
	"request_header_invalid",
	"response_header_invalid",
	"missing_host_header",
	"host_header_ambiguous",
	"invalid_request_field_folding",
	"invalid_response_field_folding",
	"request_field_too_long",
	"response_field_too_long",
	"multipart_generic_error",
	"multipart_no_filedata",
	"multipart_invalid_header",
	"request_server_port_tcp_port_mismatch",
	"request_uri_host_invalid",
	"request_header_host_invalid",
	"uri_delim_non_compliant",
	"method_delim_non_compliant",
	"request_line_leading_whitespace",
	"too_many_encoding_layers",
	"abnormal_ce_header",
	"request_auth_unrecognized",
	"request_header_repetition",
	"response_header_repetition",
	"response_multipart_byteranges",
	"response_abnormal_transfer_encoding",
	"response_chunked_old_proto",
	"response_invalid_protocol",
	"response_invalid_status",
	"request_line_incomplete",
	"double_encoded_uri",
	"request_line_invalid",
	"request_body_unexpected",
	"lzma_memlimit_reached",
	"duplicate_content_length_field_in_request",
	"duplicate_content_length_field_in_response",
	"compression_bomb",
	"too_many_warnings",
	"range_invalid",
	"file_name_too_long",
	"failed_protocol_change",
	"request_chunk_extension",
	"request_line_missing_protocol",
	"request_too_many_headers",
	"response_too_many_headers",
	"response_chunk_extension",
	"compression_bomb_limit_reached",
}

// String returns the event's name without the "http." prefix, e.g.
// "request_field_too_long"; "unknown" for an out-of-range value.
func (e Event) String() string {
	if e >= NumEvents {
		return "unknown"
	}
	return eventNames[e]
}

// EventByName looks an event up by its name, with or without the "http."
// prefix.
func EventByName(name string) (Event, bool) {
	if len(name) > 5 && name[:5] == "http." {
		name = name[5:]
	}
	for i, n := range eventNames {
		if n == name {
			return Event(i), true
		}
	}
	return 0, false
}

// Events is a set of events.
type Events uint64

// Has reports whether e is in the set.
func (s Events) Has(e Event) bool { return e < NumEvents && s&(1<<e) != 0 }

// Add puts e into the set.
func (s *Events) Add(e Event) {
	if e < NumEvents {
		*s |= 1 << e
	}
}

// Len is the number of events in the set.
func (s Events) Len() int {
	n := 0
	for v := uint64(s); v != 0; v &= v - 1 {
		n++
	}
	return n
}

// List appends the set's events to dst in id order.
func (s Events) List(dst []Event) []Event {
	for e := Event(0); e < NumEvents; e++ {
		if s.Has(e) {
			dst = append(dst, e)
		}
	}
	return dst
}
