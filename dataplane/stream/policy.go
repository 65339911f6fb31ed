package stream

import "fmt"

// Policy is a target-based reassembly policy: how the host a segment is
// sent to resolves overlapping TCP data, and how strictly it checks RST
// sequence numbers. The names are those of Suricata's host-os-policy.
type Policy uint8

// Policies. PolicyBSD is the default (Suricata's).
const (
	PolicyBSD Policy = iota
	PolicyFirst
	PolicyLast
	PolicyLinux
	PolicyOldLinux
	PolicyWindows
	PolicyVista
	PolicySolaris
	PolicyHPUX10
	PolicyHPUX11
	PolicyIRIX
	PolicyMacOS
	numPolicies
)

var policyNames = [numPolicies]string{
	PolicyBSD:      "bsd",
	PolicyFirst:    "first",
	PolicyLast:     "last",
	PolicyLinux:    "linux",
	PolicyOldLinux: "old-linux",
	PolicyWindows:  "windows",
	PolicyVista:    "vista",
	PolicySolaris:  "solaris",
	PolicyHPUX10:   "hpux10",
	PolicyHPUX11:   "hpux11",
	PolicyIRIX:     "irix",
	PolicyMacOS:    "macos",
}

// String gives the policy's configuration name.
func (p Policy) String() string {
	if p < numPolicies {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// ParsePolicy maps a host-os-policy name to a Policy. "windows2k3" is
// windows, "default" is bsd, as in Suricata.
func ParsePolicy(name string) (Policy, error) {
	switch name {
	case "windows2k3":
		return PolicyWindows, nil
	case "default":
		return PolicyBSD, nil
	}
	for i, n := range policyNames {
		if n == name {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("stream: unknown reassembly policy %q", name)
}

// newDataWins decides an overlap between a new segment [ns, ne) and a
// segment already queued [os, oe) (sequence numbers, ends exclusive): true
// when the host keeps the new segment's bytes in the overlapping range.
//
// The table, after Judy Novak's "Target-Based TCP Stream Reassembly" (2007)
// as Suricata's stream-tcp-list.c implements it; "new" means the new bytes
// win, "old" the queued ones:
//
//	new starts ...          same,       same,      same,      before,    before,    after,
//	new ends ...            before old  after old  with old   before old after/with after old   otherwise
//	first, vista            old         old        old        old        old        old         old
//	last                    new         new        new        new        new        new         new
//	bsd, macos, windows,
//	  hpux10, irix          old         old        old        new        new        old         old
//	linux                   old         new        old        new        new        old         old
//	old-linux               old         new        new        new        new        old         old
//	solaris, hpux11         old         new        new        old        new        new         old
func newDataWins(p Policy, ns, ne, os, oe uint32) bool {
	switch p {
	case PolicyLast:
		return true
	case PolicyFirst, PolicyVista:
		return false
	}
	switch {
	case ns == os:
		if seqLT(ne, oe) {
			return false
		}
		switch p {
		case PolicyOldLinux, PolicySolaris, PolicyHPUX11:
			return true
		case PolicyLinux:
			return seqGT(ne, oe)
		}
		return false
	case seqLT(ns, os):
		switch p {
		case PolicySolaris, PolicyHPUX11:
			return !seqLT(ne, oe)
		}
		return true
	default: // new starts after the queued segment
		switch p {
		case PolicySolaris, PolicyHPUX11:
			return seqGT(ne, oe)
		}
		return false
	}
}

// rstSeqValid applies the host's RST acceptance rule: seq is the RST's
// sequence number, next the sender's next expected sequence number, lastAck
// the highest sequence number the receiver acknowledged and win the
// receiver's window. As Suricata's StreamTcpValidateRst: hpux11 accepts a
// RST at or beyond next; linux, old-linux and solaris accept one inside the
// window; all others require it exactly at next.
func rstSeqValid(p Policy, seq uint32, payload int, next, lastAck, win uint32) bool {
	switch p {
	case PolicyHPUX11:
		return seqGEQ(seq, next)
	case PolicyLinux, PolicyOldLinux, PolicySolaris:
		return seqGEQ(seq+uint32(payload), lastAck) && seqLT(seq, next+win)
	}
	return seq == next
}

// Sequence number comparisons modulo 2^32 (RFC 1982 serial arithmetic).
func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool  { return int32(a-b) > 0 }
func seqGEQ(a, b uint32) bool { return int32(a-b) >= 0 }
func seqMax(a, b uint32) uint32 {
	if seqGT(a, b) {
		return a
	}
	return b
}
func seqMin(a, b uint32) uint32 {
	if seqLT(a, b) {
		return a
	}
	return b
}
