// Package evasion holds end-to-end evasion tests of the packet path: traffic
// built in Go (TCP sessions cut into tiny, reordered, overlapping or missing
// segments; IPv4 and IPv6 fragments that overlap with different data) runs
// through a pipeline.Single with stream reassembly, defragmentation and
// detection, and the tests assert exactly which alerts the EVE output holds.
//
// The expected results are derived in the tests from the target-based
// policies as documented (Novak's TCP and IP fragment reassembly tables, as
// Suricata implements them), not by calling the reassemblers' own policy
// functions, so a wrong policy table in dataplane/stream or dataplane/defrag
// fails here.
//
// The package has no code of its own besides this comment.
package evasion
