// Package dns parses DNS messages carried over UDP (one message per
// datagram) and over TCP (RFC 1035 4.2.2: each message behind a 2-byte
// big-endian length, messages split anywhere across stream chunks).
//
// # Use
//
//	p := dns.NewParser(handler)
//	m, err := p.ParseUDP(dns.ToServer, payload) // one datagram
//	p.Feed(dns.ToClient, chunk)                 // TCP: calls handler.DNSMessage per message
//
// A Parser belongs to one flow (TCP framing state is per direction) or, for
// UDP, to one worker; it is not safe for concurrent use.
//
// # Ownership
//
// The *Message handed out (return value of ParseUDP, argument of
// Handler.DNSMessage) and every slice in it (names, rdata) are owned by the
// Parser and valid only until the next ParseUDP or Feed call on it. Names
// live in a buffer the parser reuses; Data slices point into the bytes the
// caller passed (or into the parser's TCP reassembly buffer for messages that
// were split across chunks). Copy what must outlive the call.
//
// # Allocation
//
// Once the parser's buffers have grown to the size of the traffic, parsing
// a message allocates nothing: questions and records are kept in reused
// slices, names are decoded into one reused byte buffer, and a parse error is
// reported through a *ParseError owned by the parser.
//
// # Names
//
// Names are decoded with compression (RFC 1035 4.1.4) into the dotted form
// Suricata logs and matches: labels joined by '.', no trailing dot, the root
// name as the empty string, label bytes as they are on the wire (no escaping
// in the buffer). Decoding follows Suricata's limits: at most 255 labels and
// pointers per name (event dns.too_many_labels), at most 1025 bytes
// (truncated, event dns.name_too_long), a pointer that revisits a pointer
// already followed ends the name (event dns.infinite_loop). A name that ends
// outside the message, a pointer beyond the message or a reserved label type
// (0x40, 0x80) is malformed data. All names of a message together may take
// StepsPerByte steps (labels and pointers followed) per message byte plus
// 4096; a message that needs more (crafted pointer chains) is malformed.
// Opcodes 3 and 7-15 raise dns.invalid_opcode.
//
// # Detection buffers
//
//	dns.query        Message.Questions[i].Name (one buffer per question)
//	dns.answer.name  Message.Answers[i].Name
//	dns.opcode       Message.Opcode()
//	dns.rcode        Message.Rcode()
//	dns.rrtype       Message.Questions[i].Type (and Record.Type in responses)
//
// # Events
//
// Suricata's app-layer event names (rules/dns-events.rules): Event.String
// returns them. dns.malformed_data, dns.not_request, dns.not_response,
// dns.z_flag_set, dns.invalid_opcode, dns.name_too_long,
// dns.infinite_loop, dns.too_many_labels, dns.invalid_additionals,
// dns.invalid_authorities.
//
// # EVE (Suricata 8, dns version 3)
//
// The output stage writes one "dns" object per message from a Message, with
// these fields (the helpers in eve.go format the values exactly):
//
//	"version": 3
//	"type":    "request" (QR clear) or "response" (QR set)
//	"tx_id":   transaction number in the flow (owned by the caller)
//	"id":      header ID (number)
//	"flags":   header flags as lower-case hex without padding (AppendFlags)
//	"qr","aa","tc","rd","ra","z": true when the bit is set, absent otherwise
//	"opcode":  number
//	"rcode":   name (AppendRcode: "NOERROR", "NXDOMAIN", ... or the number)
//	"queries":     [{"rrname", "rrtype"}]
//	"answers":     [{"rrname", "rrtype", "ttl", "rdata" | "soa"{} | "srv"{}}]
//	"authorities": same shape as answers
//	"additionals": same shape as answers (OPT records included)
//	"grouped":     {"A": ["1.2.3.4", ...], "CNAME": [...], ...} when the
//	               grouped format is enabled: rdata strings by rrtype name
//
// rrname and rdata strings are written as Suricata's JSON builder writes
// bytes (AppendEVEString): valid UTF-8 unchanged (JSON escaping still
// applies), otherwise each byte >= 0x80 as \xNN. "rrtype" is the type name
// (AppendRRType) or its number as a string. A and AAAA rdata are printed
// by AppendRData (IPv6 as eight groups of four hex digits, as Suricata's
// dns_print_addr does). SOA: {"mname","rname","serial","refresh","retry",
// "expire","minimum"}; SRV: {"priority","weight","port","name"}. A TXT
// record with several strings becomes one record per string, as in
// Suricata.
package dns
