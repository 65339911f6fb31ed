package defrag

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Policy is a target-based overlap policy: which bytes a host keeps when
// fragments of one datagram overlap (Novak, "Target-Based Fragmentation
// Reassembly", 2005; Suricata's defrag policies). The zero value is
// PolicyBSD, Suricata's default.
//
// Each policy is defined by when a later fragment's byte replaces the byte
// already held from an earlier one ("new" and "old" below are the two
// fragments as they arrived, with their original offsets and ends):
//
//	bsd        new.off <  old.off
//	linux      new.off <= old.off
//	windows    new.off <  old.off and new.end >  old.end
//	solaris    new.off <  old.off and new.end >= old.end
//	first      never (the first data received wins)
//	last       always (the last data received wins)
//	bsd-right  new.end >  old.end
//
// The first six reproduce Suricata's Sturges/Novak results byte for byte.
// Suricata has no implementation of its own for bsd-right; the rule above
// is the mirror image of bsd (favour the fragment that reaches further to
// the right).
type Policy uint8

// The overlap policies.
const (
	PolicyBSD Policy = iota
	PolicyBSDRight
	PolicyLinux
	PolicyWindows
	PolicySolaris
	PolicyFirst
	PolicyLast
	numPolicies
)

var policyNames = [numPolicies]string{"bsd", "bsd-right", "linux", "windows", "solaris", "first", "last"}

// String returns the policy's configuration name.
func (p Policy) String() string {
	if p < numPolicies {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// osPolicies maps Suricata's host-os-policy names onto defrag policies, as
// Suricata's DefragGetOsPolicy does.
var osPolicies = map[string]Policy{
	"bsd":         PolicyBSD,
	"hpux10":      PolicyBSD,
	"irix":        PolicyBSD,
	"bsd-right":   PolicyBSDRight,
	"old-linux":   PolicyLinux,
	"linux":       PolicyLinux,
	"old-solaris": PolicyFirst,
	"hpux11":      PolicyFirst,
	"macos":       PolicyFirst,
	"first":       PolicyFirst,
	"solaris":     PolicySolaris,
	"windows":     PolicyWindows,
	"vista":       PolicyWindows,
	"windows2k3":  PolicyWindows,
	"last":        PolicyLast,
}

// ParsePolicy maps a policy or host-os-policy name (case-insensitive) to its
// Policy: bsd, bsd-right, linux, windows, solaris, first, last, and the OS
// names old-linux, old-solaris, vista, windows2k3, hpux10, hpux11, irix,
// macos.
func ParsePolicy(name string) (Policy, error) {
	if p, ok := osPolicies[strings.ToLower(strings.TrimSpace(name))]; ok {
		return p, nil
	}
	names := make([]string, 0, len(osPolicies))
	for n := range osPolicies {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("defrag: unknown policy %q (known: %s)", name, strings.Join(names, ", "))
}

// newWins reports whether a later fragment [nOff,nEnd) replaces the bytes of
// an earlier one [oOff,oEnd) where they overlap.
func (p Policy) newWins(nOff, nEnd, oOff, oEnd int32) bool {
	switch p {
	case PolicyLinux:
		return nOff <= oOff
	case PolicyWindows:
		return nOff < oOff && nEnd > oEnd
	case PolicySolaris:
		return nOff < oOff && nEnd >= oEnd
	case PolicyFirst:
		return false
	case PolicyLast:
		return true
	case PolicyBSDRight:
		return nEnd > oEnd
	default: // PolicyBSD and anything unknown
		return nOff < oOff
	}
}

// PolicyTable maps destination prefixes to policies (Suricata's
// host-os-policy section); the longest matching prefix wins. Build it with
// Add, then use Lookup as Config.HostPolicy. It is read-only once in use.
type PolicyTable struct {
	entries []policyEntry // sorted by prefix length, longest first
}

type policyEntry struct {
	prefix netip.Prefix
	policy Policy
}

// Add maps an address ("10.0.0.1", "2001:db8::1") or prefix ("10.0.0.0/8")
// to a policy.
func (t *PolicyTable) Add(addrOrPrefix string, p Policy) error {
	s := strings.TrimSpace(addrOrPrefix)
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		v, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("defrag: policy table: %w", err)
		}
		pfx = v.Masked()
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("defrag: policy table: %w", err)
		}
		a = a.Unmap()
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if pfx.Addr().Is4In6() {
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
	}
	t.entries = append(t.entries, policyEntry{pfx, p})
	sort.SliceStable(t.entries, func(i, j int) bool { return t.entries[i].prefix.Bits() > t.entries[j].prefix.Bits() })
	return nil
}

// AddOS adds every address or prefix of a host-os-policy entry for the OS
// name os (see ParsePolicy).
func (t *PolicyTable) AddOS(os string, addrs []string) error {
	p, err := ParsePolicy(os)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := t.Add(a, p); err != nil {
			return fmt.Errorf("%w (host-os-policy %s)", err, os)
		}
	}
	return nil
}

// Lookup returns the policy of the longest prefix containing dst.
func (t *PolicyTable) Lookup(dst netip.Addr) (Policy, bool) {
	dst = dst.Unmap()
	for i := range t.entries {
		if t.entries[i].prefix.Contains(dst) {
			return t.entries[i].policy, true
		}
	}
	return 0, false
}
