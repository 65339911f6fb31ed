// Package gen is Vigil's traffic generator: the library behind the
// vigil-gen command and the benchmarks in bench/.
//
// # Scenarios
//
// A Scenario (YAML, see Load, Parse and the bundled files listed by List:
// web-mix, dns-flood, tls-heavy, evasion-suite, syn-flood) sets the
// protocol mix (HTTP/1.1 requests and responses with bodies, DNS queries
// and answers over UDP, TLS 1.3 handshakes with SNI followed by
// encrypted-looking records, plain UDP datagrams, TCP bulk transfers, lone
// SYNs), the number of flows and how many are open at once, flow sizes,
// client and server address ranges (IPv4 and IPv6, with the IPv6 share),
// and the attacks to plant.
//
// A Generator turns a scenario into Ethernet frames, deterministically
// (same scenario and seed, same bytes): every TCP flow has a three-way
// handshake, data at the right sequence numbers acknowledged by the peer
// every second segment and at the end of each message, and a FIN close;
// IPv4, TCP and UDP checksums are valid; timestamps only grow; the flows'
// packets are interleaved. Once warm it allocates nothing per frame.
//
// # Planted attacks and evasions
//
// Scenario.Plant puts a marker string at a place (http-uri, http-body,
// dns-query, tls-sni, tcp-payload) of some flows, each sent with an
// evasion Variant: tiny segments, out-of-order segments, two overlapping
// TCP segments or IP fragments of which one carries a decoy (every shape
// of Novak's tables, the real marker in the earlier or the later piece),
// a decoy segment whose TTL expires before the target (before or after
// the real one), or a byte of urgent data inside the marker. Rules writes
// one rule per place (sid SIDBase+i); the Manifest lists every flow and,
// for each planted flow, whether the target (Target.Policy) receives the
// marker and whether an IDS reassembling like Target.IDSPolicy must alert
// (ExpectAlert), with the policies under which each sees it. Variant's
// TargetSees and IDSSees state the mapping and its assumptions.
//
// # Output
//
// WriteCapture writes pcap or pcapng. For live sending, Run pulls frames
// from a FrameSource (a Generator, a Replayer of a capture file with
// per-loop client address rewriting, or Prebuild's loop of generated
// frames) and hands them in batches to a Sender (AFPacketSender, over an
// AF_PACKET socket and sendmmsg, or AFXDPSender, over a transmit-only
// AF_XDP socket and its UMEM), paced by token buckets
// in packets and bits per second, bounded by a count or a duration, and
// returns a Report (packets, bytes, achieved rates, send errors).
//
// Buffers: a FrameSource writes into a buffer its caller owns and keeps no
// reference to it; a Sender copies the frames before Send returns, so Run
// reuses its batch buffers at once.
package gen
