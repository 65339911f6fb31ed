package engine

import (
	"net/netip"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/rules"
)

// Thresholding follows Suricata's detect-engine-threshold.c: a signature
// has at most one threshold-like setting (threshold / event_filter,
// detection_filter or rate_filter; from the rule or, overriding it, from
// threshold.config) and any number of suppress entries. It is applied to a
// signature that matched, in signature order, and gives one of three
// outcomes: alert and apply the action, apply the action silently, or
// neither (the match does not count). Time is packet time.
//
// The counting state is per Thread (one per worker). Suricata keeps it in
// shared host/ippair/flow tables; with several workers each counts the
// packets it sees.

// thrResult is the outcome of thresholding one match.
type thrResult uint8

const (
	thrDrop   thrResult = iota // no alert, no action
	thrAlert                   // alert and apply the action
	thrSilent                  // apply the action, no alert
)

// thrSpec is a signature's threshold, detection_filter or rate_filter.
type thrSpec struct {
	kind      rules.ThresholdKind
	typ       rules.ThresholdType
	track     rules.Track
	count     uint32
	seconds   uint32
	newAction rules.Action // rate_filter
	newSilent bool         // rate_filter new_action sdrop
	timeout   uint32       // rate_filter, seconds
	mult      uint32       // backoff multiplier
	fromRule  bool
}

type suppressSpec struct {
	track rules.Track
	ip    rules.AddrSet
}

func specFromEntry(e *rules.ThresholdEntry) *thrSpec {
	ts := &thrSpec{kind: e.Kind, typ: e.Type, track: e.Track, count: e.Count, seconds: e.Seconds, timeout: e.Timeout, mult: e.Multiplier}
	if e.Kind == rules.KindEventFilter {
		ts.kind = rules.KindThreshold
	}
	switch e.NewAction {
	case "drop":
		ts.newAction = rules.ActionDrop
	case "sdrop":
		ts.newAction, ts.newSilent = rules.ActionDrop, true
	case "reject":
		ts.newAction = rules.ActionReject
	case "pass":
		ts.newAction = rules.ActionPass
	default: // alert, log
		ts.newAction = rules.ActionAlert
	}
	return ts
}

func setupThreshold(b *builder, o rules.Option) error {
	if b.sig.thr != nil {
		return errFmt("only one threshold or detection_filter per rule")
	}
	e, err := rules.ParseThresholdOption(o.Value)
	if err != nil {
		return errFmt("%s", trimKwPrefix(err.Error(), "threshold: "))
	}
	b.sig.thr = specFromEntry(&e)
	b.sig.thr.fromRule = true
	return nil
}

func setupDetectionFilter(b *builder, o rules.Option) error {
	if b.sig.thr != nil {
		return errFmt("only one threshold or detection_filter per rule")
	}
	e, err := rules.ParseDetectionFilterOption(o.Value)
	if err != nil {
		return errFmt("%s", trimKwPrefix(err.Error(), "detection_filter: "))
	}
	b.sig.thr = specFromEntry(&e)
	b.sig.thr.fromRule = true
	return nil
}

func trimKwPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// applyThresholdConfig attaches threshold.config entries to the signatures
// they select. A threshold, event_filter or rate_filter for one signature
// replaces the rule's own threshold or detection_filter; one for all rules
// (sig_id 0) leaves signatures that have their own alone. Suppress entries
// add up.
func applyThresholdConfig(sigs []*Signature, entries []rules.ThresholdEntry) {
	for i := range entries {
		e := &entries[i]
		for _, s := range sigs {
			if e.SID != 0 && (s.SID != e.SID || s.GID != e.GID) {
				continue
			}
			if e.SID == 0 && e.GID != 0 && s.GID != e.GID {
				continue
			}
			if e.Kind == rules.KindSuppress {
				s.suppress = append(s.suppress, suppressSpec{track: e.Track, ip: e.IP})
				continue
			}
			if e.SID == 0 && s.thr != nil && s.thr.fromRule {
				continue
			}
			s.thr = specFromEntry(e)
		}
	}
}

// thrKey identifies one threshold counter.
type thrKey struct {
	sig  uint32
	a, b netip.Addr
	flow uint64
}

// thrState is one counter: Suricata's DetectThresholdEntry.
type thrState struct {
	tv1       int64 // start of the current window, packet time (ns)
	count     uint32
	timeoutAt int64  // rate_filter: seconds of the packet that enabled the new action, 0 = off
	next      uint32 // backoff: the match count that alerts next
}

// maxThresholdEntries bounds the counter table; past it, expired entries
// are swept.
const maxThresholdEntries = 1 << 16

func (t *Thread) thrKeyOf(s *Signature, track rules.Track, p *packet.Packet, f *flow.Flow) thrKey {
	k := thrKey{sig: uint32(s.Num)}
	switch track {
	case rules.TrackBySrc:
		k.a = p.SrcIP
	case rules.TrackByDst:
		k.a = p.DstIP
	case rules.TrackByBoth:
		k.a, k.b = p.SrcIP, p.DstIP
		if k.b.Less(k.a) {
			k.a, k.b = k.b, k.a
		}
	case rules.TrackByFlow:
		if f != nil {
			k.flow = f.ID
		}
	}
	return k
}

// threshold applies suppress and threshold settings to a match of s and
// returns the outcome and the action to apply (changed by a rate_filter).
func (t *Thread) threshold(s *Signature, p *packet.Packet, f *flow.Flow) (thrResult, rules.Action, bool) {
	act := s.Action
	for i := range s.suppress {
		sp := &s.suppress[i]
		switch sp.track {
		case rules.TrackBySrc:
			if sp.ip.Contains(p.SrcIP) {
				return thrSilent, act, false
			}
		case rules.TrackByDst:
			if sp.ip.Contains(p.DstIP) {
				return thrSilent, act, false
			}
		case rules.TrackByEither:
			if sp.ip.Contains(p.SrcIP) || sp.ip.Contains(p.DstIP) {
				return thrSilent, act, false
			}
		default:
			return thrSilent, act, false
		}
	}
	td := s.thr
	if td == nil {
		return thrAlert, act, false
	}
	if td.kind == rules.KindThreshold && td.typ == rules.TypeThreshold && td.count == 1 {
		return thrAlert, act, false
	}
	now := p.TimeNs
	key := t.thrKeyOf(s, td.track, p, f)
	st, ok := t.thr[key]
	if !ok {
		if len(t.thr) >= maxThresholdEntries {
			t.sweepThresholds(now)
		}
		t.thr[key] = thrState{tv1: now, count: 1, next: td.count}
		switch {
		case td.typ == rules.TypeBackoff:
			// Alerts at match count, count*mult, count*mult², ... (the
			// first match only when count is 1; with a larger count the
			// first match has no action either, as in Suricata).
			if td.count > 1 {
				return thrDrop, act, false
			}
			t.thr[key] = thrState{tv1: now, count: 1, next: backoffNext(1, td.mult)}
			return thrAlert, act, false
		case td.kind == rules.KindRateFilter:
			return thrAlert, act, false
		case td.kind == rules.KindDetectionFilter:
			return thrDrop, act, false
		case td.typ == rules.TypeLimit:
			return thrAlert, act, false
		case td.typ == rules.TypeBoth && td.count == 1:
			return thrAlert, act, false
		}
		return thrDrop, act, false
	}
	res := thrDrop
	silent := false
	within := now <= st.tv1+int64(td.seconds)*1e9
	switch {
	case td.typ == rules.TypeBackoff:
		if st.count < 1<<32-1 {
			st.count++
		}
		if st.count == st.next {
			res = thrAlert
			st.next = backoffNext(st.next, td.mult)
		} else {
			res = thrSilent
		}
	case td.kind == rules.KindRateFilter:
		res = thrAlert
		if st.timeoutAt != 0 {
			if now/1e9-st.timeoutAt > int64(td.timeout) {
				st.timeoutAt = 0
			} else {
				act, silent = td.newAction, td.newSilent
			}
		} else if within {
			st.count++
			if st.count > td.count {
				st.timeoutAt = now / 1e9
				if st.timeoutAt == 0 {
					st.timeoutAt = 1
				}
				act, silent = td.newAction, td.newSilent
			}
		} else {
			st.tv1, st.count = now, 1
		}
	case td.kind == rules.KindDetectionFilter:
		if within {
			st.count++
			if st.count > td.count {
				res = thrAlert
			}
		} else {
			st.tv1, st.count = now, 1
		}
	case td.typ == rules.TypeLimit:
		if within {
			st.count++
			if st.count <= td.count {
				res = thrAlert
			} else {
				res = thrSilent
			}
		} else {
			st.tv1, st.count = now, 1
			res = thrAlert
		}
	case td.typ == rules.TypeThreshold:
		if within {
			st.count++
			if st.count >= td.count {
				res = thrAlert
				st.count = 0
			}
		} else {
			st.tv1, st.count = now, 1
		}
	case td.typ == rules.TypeBoth:
		if within {
			st.count++
			if st.count == td.count {
				res = thrAlert
			} else if st.count > td.count {
				res = thrSilent
			}
		} else {
			st.tv1, st.count = now, 1
			if td.count == 1 {
				res = thrAlert
			}
		}
	}
	t.thr[key] = st
	return res, act, silent
}

// sweepThresholds removes counters whose window and rate_filter timeout
// have passed.
func (t *Thread) sweepThresholds(now int64) {
	for k, st := range t.thr {
		s := t.e.sigs[k.sig]
		if s.thr == nil {
			delete(t.thr, k)
			continue
		}
		if st.timeoutAt != 0 && now/1e9-st.timeoutAt <= int64(s.thr.timeout) {
			continue
		}
		if s.thr.typ == rules.TypeBackoff {
			continue // lives as long as its flow; dropped only on signature change
		}
		if now > st.tv1+int64(s.thr.seconds)*1e9 {
			delete(t.thr, k)
		}
	}
}

// backoffNext is the match count of the backoff alert after the one at
// n; 0 (never) once it passes 2^32-1.
func backoffNext(n, mult uint32) uint32 {
	if v := uint64(n) * uint64(mult); v < 1<<32 {
		return uint32(v)
	}
	return 0
}
