// Package output writes Vigil's events: EVE JSON records in the format
// Suricata 8 writes them, and the one-line-per-alert fast.log.
//
// Both writers are built for the packet path: a record is appended into a
// reused byte buffer by a hand-rolled JSON encoder (no encoding/json, no
// reflection, no fmt), so writing an alert allocates nothing once the
// buffer has grown to the size of the largest record.
//
// A writer is used by one goroutine (one per worker). Records are buffered
// and handed to the underlying io.Writer in whole lines only: a write never
// ends in the middle of a record, so several writers may append to the same
// file opened with O_APPEND without their lines interleaving. Call Flush
// at the end of each batch (or on a timer) so consumers see events promptly.
//
// Write errors (a full disk, a closed pipe) are returned by the call that
// hit them, never panic, and are not sticky: the records that could not be
// written are counted (Lost) and the next call tries again. If a write was
// cut short in the middle of a line, the next successful write starts with
// a newline so the broken line stays on its own and every later line is
// valid JSON.
//
// Layout: jsonenc.go holds the encoder, timefmt.go the timestamp formats,
// names.go the protocol and link-type names, eve.go the EVE writer and the
// common header every event type shares, eve_alert.go the alert event,
// eve_flow.go, eve_anomaly.go, eve_http.go, eve_dns.go and eve_tls.go the
// other event types (the app-layer ones also give alerts their "http",
// "dns" and "tls" objects). Further event types are added as
// eve_<type>.go files that use the same header and encoder.
package output
