package gen

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// StreamPolicies are the target OS policies of Vigil's stream package, in
// the names of Suricata's host-os-policy. A target host reassembles
// overlapping TCP data by one of them.
var StreamPolicies = []string{"bsd", "first", "last", "linux", "old-linux", "windows", "vista",
	"solaris", "hpux10", "hpux11", "irix", "macos"}

// FragPolicies are the IP fragment overlap policies of Vigil's defrag
// package.
var FragPolicies = []string{"bsd", "bsd-right", "linux", "windows", "solaris", "first", "last"}

// fragPolicyOf maps a host OS policy to the defrag policy the host uses,
// as dataplane/defrag's osPolicies (Suricata's DefragGetOsPolicy).
var fragPolicyOf = map[string]string{
	"bsd": "bsd", "hpux10": "bsd", "irix": "bsd",
	"linux": "linux", "old-linux": "linux",
	"first": "first", "hpux11": "first", "macos": "first",
	"solaris": "solaris",
	"windows": "windows", "vista": "windows",
	"last": "last",
}

// FragPolicyOf returns the IP defrag policy of a host OS policy.
func FragPolicyOf(osPolicy string) (string, bool) {
	p, ok := fragPolicyOf[osPolicy]
	return p, ok
}

func policyIndex(name string) (int, bool) {
	i := slices.Index(StreamPolicies, name)
	return i, i >= 0
}

// VariantKind is the family of an evasion variant.
type VariantKind uint8

// Variant kinds.
const (
	KindPlain      VariantKind = iota // the marker sent as ordinary segments
	KindTiny                          // the message cut into Evasion.TinySize-byte segments
	KindOutOfOrder                    // Evasion.OOOSize-byte segments in shuffled order
	KindOverlap                       // two TCP segments overlap over the marker, one with decoy bytes
	KindFrag                          // the marker's IP datagram in fragments, two overlapping over the marker
	KindTTL                           // a decoy segment that expires before the target, sent before the real one
	KindTTLAfter                      // the same decoy sent after the real segment
	KindUrgent                        // a byte inside the marker sent as TCP urgent (out-of-band) data
)

// Shape is how a later ("new") segment or fragment overlaps an earlier
// ("old") one. The common core of both covers the marker; the ends move by
// one unit (8 bytes) left or right of it.
type Shape struct {
	Name string
	// OldStart, OldEnd, NewStart, NewEnd are -1, 0 or +1 units off the
	// core's start and end.
	OldStart, OldEnd, NewStart, NewEnd int
}

// Shapes are the overlap cases of Novak's target-based reassembly tables.
var Shapes = []Shape{
	{"same-start-shorter", 0, 1, 0, 0}, // new starts with old and ends before it
	{"same-start-longer", 0, 0, 0, 1},  // new starts with old and ends after it
	{"same", 0, 0, 0, 0},               // same start and end
	{"before-inside", 0, 1, -1, 0},     // new starts before old and ends inside it
	{"before-after", 0, 0, -1, 1},      // new starts before old and ends after it
	{"before-same-end", 0, 0, -1, 0},   // new starts before old and ends with it
	{"after-after", -1, 0, 0, 1},       // new starts inside old and ends after it
	{"inside", -1, 1, 0, 0},            // new lies strictly inside old
	{"after-same-end", -1, 0, 0, 0},    // new starts inside old and ends with it
}

// Variant is one way of sending a planted marker.
type Variant struct {
	Name  string
	Kind  VariantKind
	Shape int // index into Shapes (overlap and frag variants)
	// NewReal: the later of the two overlapping segments (fragments)
	// carries the real marker and the earlier one the decoy; otherwise
	// the other way round.
	NewReal bool
}

var variants = func() []Variant {
	vs := []Variant{{Name: "plain", Kind: KindPlain}, {Name: "tiny", Kind: KindTiny}, {Name: "out-of-order", Kind: KindOutOfOrder}}
	for _, k := range []struct {
		kind   VariantKind
		prefix string
	}{{KindOverlap, "overlap"}, {KindFrag, "frag"}} {
		for i, s := range Shapes {
			vs = append(vs, Variant{Name: k.prefix + "-" + s.Name + "-old", Kind: k.kind, Shape: i})
			vs = append(vs, Variant{Name: k.prefix + "-" + s.Name + "-new", Kind: k.kind, Shape: i, NewReal: true})
		}
	}
	return append(vs, Variant{Name: "ttl", Kind: KindTTL}, Variant{Name: "ttl-after", Kind: KindTTLAfter},
		Variant{Name: "urgent", Kind: KindUrgent})
}()

// Variants returns every variant. Overlap and frag variants are named
// KIND-SHAPE-old or KIND-SHAPE-new: the suffix says which of the two
// overlapping pieces (the one sent first, or the one sent later) carries
// the real marker.
func Variants() []Variant { return slices.Clone(variants) }

// VariantNames returns the names of all variants.
func VariantNames() []string {
	out := make([]string, len(variants))
	for i, v := range variants {
		out[i] = v.Name
	}
	return out
}

// LookupVariant finds a variant by name.
func LookupVariant(name string) (Variant, bool) {
	for _, v := range variants {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// AppliesTo reports whether the variant can carry a marker at place: DNS
// queries go over UDP, so only plain and frag variants apply to them.
func (v Variant) AppliesTo(place string) bool {
	if place == PlaceDNSQuery {
		return v.Kind == KindPlain || v.Kind == KindFrag
	}
	return true
}

func (v Variant) placesNote() string {
	if v.Kind == KindPlain || v.Kind == KindFrag {
		return "every place"
	}
	return "TCP places only: http-uri, http-body, tls-sni, tcp-payload"
}

// tcpNewWins is the TCP overlap table (Judy Novak, "Target-Based TCP
// Stream Reassembly", 2007, as Suricata and dataplane/stream implement
// it): does the receiver keep the later segment's bytes where two queued
// segments overlap? Columns:
//
//	A same start, new ends before old      E new starts before, ends after or with old
//	B same start, new ends after old       F new starts after old, ends after old
//	C same start, same end                 G new starts after old, ends before or with old
//	D new starts before, ends before old's end
//
//	                                 A    B    C    D    E    F    G
//	first, vista                     old  old  old  old  old  old  old
//	last                             new  new  new  new  new  new  new
//	bsd, macos, windows, hpux10, irix old old  old  new  new  old  old
//	linux                            old  new  old  new  new  old  old
//	old-linux                        old  new  new  new  new  old  old
//	solaris, hpux11                  old  new  new  old  new  new  old
func tcpNewWins(policy string, s Shape) bool {
	var col byte
	switch {
	case s.NewStart == s.OldStart && s.NewEnd < s.OldEnd:
		col = 'A'
	case s.NewStart == s.OldStart && s.NewEnd > s.OldEnd:
		col = 'B'
	case s.NewStart == s.OldStart:
		col = 'C'
	case s.NewStart < s.OldStart && s.NewEnd < s.OldEnd:
		col = 'D'
	case s.NewStart < s.OldStart:
		col = 'E'
	case s.NewEnd > s.OldEnd:
		col = 'F'
	default:
		col = 'G'
	}
	var row string
	switch policy {
	case "first", "vista":
		row = "ooooooo"
	case "last":
		row = "nnnnnnn"
	case "linux":
		row = "ononnoo"
	case "old-linux":
		row = "onnnnoo"
	case "solaris", "hpux11":
		row = "onnonno"
	default: // bsd, macos, windows, hpux10, irix
		row = "ooonnoo"
	}
	return row[col-'A'] == 'n'
}

// fragNewWins is the IP fragment overlap rule of a defrag policy
// (dataplane/defrag's Policy doc, after Novak's "Target-Based
// Fragmentation Reassembly", 2005): does a later fragment replace the
// bytes of an earlier one?
func fragNewWins(policy string, s Shape) bool {
	nOff, nEnd, oOff, oEnd := s.NewStart, s.NewEnd, s.OldStart, s.OldEnd
	switch policy {
	case "linux":
		return nOff <= oOff
	case "windows":
		return nOff < oOff && nEnd > oEnd
	case "solaris":
		return nOff < oOff && nEnd >= oEnd
	case "first":
		return false
	case "last":
		return true
	case "bsd-right":
		return nEnd > oEnd
	}
	return nOff < oOff // bsd
}

// TargetSees reports whether a target host with the given OS policy
// (StreamPolicies) receives the real marker in its reassembled data.
//
// Assumptions, stated per kind: overlap and frag follow the policy tables
// above (historic stacks: RFC 5722 IPv6 stacks and Linux since 4.19 drop
// overlapping fragments altogether, so none of them sees a frag variant's
// marker); ttl variants' decoy never reaches the target; urgent data is
// taken out of band by the target's socket (the default: no SO_OOBINLINE,
// BSD urgent pointer, Linux tcp_stdurg=0), so the byte inserted into the
// marker is not part of the stream the application reads.
func (v Variant) TargetSees(policy string) bool {
	switch v.Kind {
	case KindOverlap:
		return tcpNewWins(policy, Shapes[v.Shape]) == v.NewReal
	case KindFrag:
		return fragNewWins(fragPolicyOf[policy], Shapes[v.Shape]) == v.NewReal
	}
	return true
}

// IDSSees reports whether an IDS that reassembles with the given policy
// (as Vigil does with host-os-policy) sees the real marker. It differs
// from TargetSees where the IDS cannot know what the target drops: an IDS
// without a TTL normalizer takes the expiring decoy of the ttl variants
// into its stream like any segment, and Vigil (like Suricata's default
// urgent policy "inline") keeps urgent bytes in the stream, so the urgent
// variant's marker is broken for it.
func (v Variant) IDSSees(policy string) bool {
	same := Shapes[2]
	switch v.Kind {
	case KindTTL: // decoy first (old), real later (new)
		return tcpNewWins(policy, same)
	case KindTTLAfter: // real first, decoy later
		return !tcpNewWins(policy, same)
	case KindUrgent:
		return false
	}
	return v.TargetSees(policy)
}

// SeenBy lists the OS policies under which the target sees the marker.
func (v Variant) SeenBy() []string {
	out := []string{}
	for _, p := range StreamPolicies {
		if v.TargetSees(p) {
			out = append(out, p)
		}
	}
	return out
}

// IDSSeenBy lists the policies under which the IDS sees the marker.
func (v Variant) IDSSeenBy() []string {
	out := []string{}
	for _, p := range StreamPolicies {
		if v.IDSSees(p) {
			out = append(out, p)
		}
	}
	return out
}

// Description says in words what the variant sends.
func (v Variant) Description() string {
	real, decoy := "first", "later"
	if v.NewReal {
		real, decoy = "later", "first"
	}
	switch v.Kind {
	case KindPlain:
		return "ordinary segments"
	case KindTiny:
		return "the message in tiny segments"
	case KindOutOfOrder:
		return "the message in small segments sent in shuffled order"
	case KindOverlap:
		return fmt.Sprintf("two out-of-order TCP segments overlap (%s) over the marker: the %s carries it, the %s a decoy; the bytes before them come last", Shapes[v.Shape].Name, real, decoy)
	case KindFrag:
		return fmt.Sprintf("the segment in IP fragments, two overlapping (%s) over the marker: the %s carries it, the %s a checksum-neutral decoy", Shapes[v.Shape].Name, real, decoy)
	case KindTTL:
		return "a decoy copy of the marker's segment with a TTL that expires before the target, then the real segment"
	case KindTTLAfter:
		return "the real segment, then a decoy copy with a TTL that expires before the target"
	case KindUrgent:
		return "an extra byte inside the marker sent as TCP urgent data (URG, urgent pointer on it)"
	}
	return ""
}

// makeDecoy returns a copy of m that differs from it while keeping the
// ones-complement sum of any byte string it is placed into: bytes at
// positions of the same parity change by +d and -d, so the 16-bit word sum
// stays the same and a fragment carrying the decoy needs no other change
// for the transport checksum to hold in either reassembly. Only letters
// and digits are changed, into letters and digits.
func makeDecoy(m []byte) ([]byte, error) {
	d := slices.Clone(m)
	changed := 0
	for s := 0; s+2 < len(d); s += 4 {
		for a := s; a <= s+1 && a+2 < len(d); a++ {
			b := a + 2
			if !isAlnum(d[a]) || !isAlnum(d[b]) {
				continue
			}
			for _, delta := range []int{1, 2, 3, -1, -2, -3} {
				na, nb := int(d[a])+delta, int(d[b])-delta
				if na < 0 || na > 255 || nb < 0 || nb > 255 || !isAlnum(byte(na)) || !isAlnum(byte(nb)) {
					continue
				}
				d[a], d[b] = byte(na), byte(nb)
				changed++
				break
			}
		}
	}
	if changed == 0 {
		return nil, errors.New("no decoy possible (needs letters or digits two apart)")
	}
	if strings.Contains(string(d), string(m)) {
		return nil, errors.New("decoy still holds the marker")
	}
	return d, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
