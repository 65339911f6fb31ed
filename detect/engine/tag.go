package engine

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/rules"
)

// The tag keyword (Suricata's detect-tag.c):
//
//	tag:<session|host>[,<count>,<packets|bytes|seconds>[,<src|dst>]]
//
// When a signature with tag alerts, the packets that follow it in the
// same flow (session) or to and from the same address (host, the
// packet's source or destination address, destination by default) are
// tagged for the next count packets, bytes or seconds (default 256
// packets). Thread.Tagged reports whether the last inspected packet was
// tagged, so the pipeline can log it; the alerting packet itself carries
// the alert and is not reported as tagged.
//
// Session tags live in a per-thread table keyed by flow ID (a flow is
// always inspected by the same thread); host tags in one store per Engine
// behind a mutex, consulted only while it holds a tag. A new tag on an
// already tagged session or host extends each limit to the larger value.
// Both tables are bounded (tagTableMax entries); entries that are used up,
// expired or idle for tagIdleNs are swept when a table is full, and a tag
// that still does not fit is dropped and counted in Counters.TagsDropped.

const (
	defaultTagCount = 256
	tagTableMax     = 1 << 16
	tagIdleNs       = int64(3600) * 1e9
)

type tagScope uint8

const (
	tagSession tagScope = iota
	tagHostSrc
	tagHostDst
)

type tagMetric uint8

const (
	tagPackets tagMetric = iota
	tagBytes
	tagSeconds
)

// tagSpec is one compiled tag keyword.
type tagSpec struct {
	scope  tagScope
	metric tagMetric
	count  uint64
}

// tagState is the live tag of one session or host: each limit that is
// set (non-zero) keeps it alive.
type tagState struct {
	pkts, bytes uint64 // remaining packets / bytes
	untilNs     int64  // tagged while the packet time is before this
	lastNs      int64  // time of the latest packet seen
}

// extend merges a new tag into st, set at time now.
func (st *tagState) extend(sp *tagSpec, now int64) {
	switch sp.metric {
	case tagPackets:
		st.pkts = max(st.pkts, sp.count)
	case tagBytes:
		st.bytes = max(st.bytes, sp.count)
	case tagSeconds:
		d := int64(min(sp.count, 1<<32)) * 1e9
		st.untilNs = max(st.untilNs, now+d)
	}
	st.lastNs = max(st.lastNs, now)
}

// use counts one packet of n bytes at time now against st and reports
// whether the packet is tagged and whether the tag is still alive after it.
func (st *tagState) use(n int, now int64) (tagged, alive bool) {
	tagged = st.pkts > 0 || st.bytes > 0 || now < st.untilNs
	if st.pkts > 0 {
		st.pkts--
	}
	if st.bytes > 0 {
		st.bytes -= min(st.bytes, uint64(n))
	}
	st.lastNs = max(st.lastNs, now)
	alive = st.pkts > 0 || st.bytes > 0 || now < st.untilNs
	return tagged, alive
}

// stale reports whether st can be dropped at time now.
func (st *tagState) stale(now int64) bool {
	return (st.pkts == 0 && st.bytes == 0 && now >= st.untilNs) || now-st.lastNs > tagIdleNs
}

// hostTags is the Engine's host tag store.
type hostTags struct {
	n  atomic.Int64 // len(m), read without the lock
	mu sync.Mutex
	m  map[netip.Addr]*tagState
}

func setupTag(b *builder, o rules.Option) error {
	parts := rules.SplitArgs(o.Value)
	for i := range parts {
		parts[i] = strings.ToLower(strings.TrimSpace(parts[i]))
	}
	if len(parts) == 0 || parts[0] == "" {
		return errFmt("missing value (want session|host[,count,packets|seconds|bytes[,src|dst]])")
	}
	sp := tagSpec{metric: tagPackets, count: defaultTagCount}
	switch parts[0] {
	case "session":
		sp.scope = tagSession
	case "host":
		sp.scope = tagHostDst
	default:
		return errFmt("unknown tag type %q (want session or host)", parts[0])
	}
	switch len(parts) {
	case 1:
	case 3, 4:
		n, err := strconv.ParseUint(parts[1], 10, 32)
		if err != nil || n == 0 {
			return errFmt("invalid count %q (want 1 to 4294967295)", parts[1])
		}
		sp.count = n
		switch parts[2] {
		case "packets":
			sp.metric = tagPackets
		case "bytes":
			sp.metric = tagBytes
		case "seconds":
			sp.metric = tagSeconds
		default:
			return errFmt("unknown metric %q (want packets, bytes or seconds)", parts[2])
		}
		if len(parts) == 4 {
			if sp.scope == tagSession {
				return errFmt("a direction (%q) is only valid with tag:host", parts[3])
			}
			switch parts[3] {
			case "src":
				sp.scope = tagHostSrc
			case "dst":
				sp.scope = tagHostDst
			default:
				return errFmt("unknown direction %q (want src or dst)", parts[3])
			}
		}
	default:
		return errFmt("invalid value %q (want session|host[,count,packets|seconds|bytes[,src|dst]])", o.Value)
	}
	b.sig.tag = true
	b.sig.tags = append(b.sig.tags, sp)
	return nil
}

func init() {
	register(&keyword{name: "tag", setup: setupTag})
}

// Tagged reports whether the last inspected packet was tagged: it follows,
// in its flow or to or from its host, the alert of a signature with the tag
// keyword, within that tag's count. The pipeline logs tagged packets.
func (t *Thread) Tagged() bool { return t.tagged }

// checkTags decides whether p is tagged by a live session or host tag and
// counts it against them.
func (t *Thread) checkTags(p *packet.Packet, f *flow.Flow) {
	now, n := p.TimeNs, len(p.Data)
	if f != nil && len(t.sessTags) > 0 {
		if st, ok := t.sessTags[f.ID]; ok {
			tagged, alive := st.use(n, now)
			t.tagged = t.tagged || tagged
			if !alive {
				delete(t.sessTags, f.ID)
			}
		}
	}
	ht := &t.e.hostTags
	if ht.n.Load() > 0 && p.IsIP() {
		ht.mu.Lock()
		for i, a := range [2]netip.Addr{p.SrcIP, p.DstIP} {
			if i == 1 && a == p.SrcIP {
				break // count a packet to itself once
			}
			if st, ok := ht.m[a]; ok {
				tagged, alive := st.use(n, now)
				t.tagged = t.tagged || tagged
				if !alive {
					delete(ht.m, a)
				}
			}
		}
		ht.n.Store(int64(len(ht.m)))
		ht.mu.Unlock()
	}
	if t.tagged {
		t.c.Tagged++
	}
}

// applyTags records the tags of signature s, which alerted on p.
func (t *Thread) applyTags(s *Signature, p *packet.Packet, f *flow.Flow) {
	now := p.TimeNs
	for i := range s.tags {
		sp := &s.tags[i]
		if sp.scope == tagSession {
			if f == nil {
				continue
			}
			st, ok := t.sessTags[f.ID]
			if !ok {
				if t.sessTags == nil {
					t.sessTags = make(map[uint64]*tagState)
				}
				if len(t.sessTags) >= tagTableMax {
					for k, v := range t.sessTags {
						if v.stale(now) {
							delete(t.sessTags, k)
						}
					}
				}
				if len(t.sessTags) >= tagTableMax {
					t.c.TagsDropped++
					continue
				}
				st = &tagState{}
				t.sessTags[f.ID] = st
			}
			st.extend(sp, now)
			continue
		}
		if !p.IsIP() {
			continue
		}
		a := p.DstIP
		if sp.scope == tagHostSrc {
			a = p.SrcIP
		}
		ht := &t.e.hostTags
		ht.mu.Lock()
		st, ok := ht.m[a]
		if !ok {
			if len(ht.m) >= tagTableMax {
				for k, v := range ht.m {
					if v.stale(now) {
						delete(ht.m, k)
					}
				}
			}
			if len(ht.m) < tagTableMax {
				st = &tagState{}
				ht.m[a] = st
			}
		}
		if st != nil {
			st.extend(sp, now)
		} else {
			t.c.TagsDropped++
		}
		ht.n.Store(int64(len(ht.m)))
		ht.mu.Unlock()
	}
}
