package nfqueue

import (
	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// vdec is a verdict decided for one packet.
type vdec struct {
	code     uint32
	mark     uint32
	setMark  bool
	modified bool // send Packet.Data back as the new payload
	kind     uint8
}

const (
	kAccepted = iota
	kDropped
	kRepeated
	kRouted
	kBypassed
)

func (v *vdec) sameAs(w *vdec) bool {
	return v.code == w.code && v.setMark == w.setMark && (!v.setMark || v.mark == w.mark) && !v.modified && !w.modified
}

// forward decides the verdict of a forwarded packet whose mark was old.
func (s *Source) forward(old uint32) vdec {
	o := &s.opts
	var v vdec
	switch o.VerdictMode {
	case ModeRepeat:
		v = vdec{code: nfRepeat, kind: kRepeated}
	case ModeRoute:
		v = vdec{code: nfQueue | uint32(o.RouteQueue)<<nfVerdictQueueShift, kind: kRouted}
		if o.FailOpen {
			v.code |= nfVerdictQueueBypss
		}
	default:
		v = vdec{code: nfAccept, kind: kAccepted}
	}
	if o.Mask != 0 {
		v.setMark, v.mark = true, old&^o.Mask|o.Mark
	}
	return v
}

func (s *Source) decide(p *packet.Packet, m *Meta) vdec {
	var v vdec
	switch p.Verdict {
	case packet.VerdictForward:
		v = s.forward(m.Mark)
	case packet.VerdictBypass:
		v = s.forward(m.Mark)
		v.kind = kBypassed
		if s.opts.BypassMask != 0 {
			base := m.Mark
			if v.setMark {
				base = v.mark
			}
			v.setMark, v.mark = true, base&^s.opts.BypassMask|s.opts.BypassMark
		}
	default: // drop, reject, and anything unknown: an IPS fails closed
		return vdec{code: nfDrop, kind: kDropped}
	}
	if p.Flags&packet.FlagModified != 0 {
		v.modified = true
	}
	return v
}

// Done gives every packet of b (every packet Next put in it, whatever the
// engine did to b.Pkts) its verdict, then takes the packets and their
// buffer back: b is empty afterwards. A batch Next did not fill is only
// reset. Failures to send are counted (Counters.VerdictErrors), as Done has
// no caller that could do better.
func (s *Source) Done(b *packet.Batch) {
	li := s.leaseOf(b)
	if li < 0 {
		b.Reset()
		return
	}
	l := s.lent[li]
	var kinds [5]uint64
	var modified, modFailed uint64
	for i := 0; i < l.n; i++ {
		p := b.Slot(i)
		v := s.decide(p, &l.meta[i])
		if v.modified && (l.meta[i].CapLen > 0 || len(p.Data) == 0 || len(p.Data) > MaxCopyRange) {
			v.modified = false
			modFailed++
		}
		if v.modified {
			modified++
		}
		kinds[v.kind]++
		l.vd[i] = v
	}
	// A batch verdict covers every queued id up to the one given. That is
	// exactly a run of this batch only if no older packet is still out:
	// packets of batches lent later, and unread messages, have higher ids.
	batchOK := li == 0
	for i := 0; i < l.n; {
		v := &l.vd[i]
		j := i + 1
		if batchOK {
			for j < l.n && l.vd[j].sameAs(v) {
				j++
			}
		}
		if j-i > 1 {
			s.addVerdict(true, v, l.meta[j-1].ID, nil, j-i)
		} else {
			var payload []byte
			if v.modified {
				payload = b.Slot(i).Data
			}
			s.addVerdict(false, v, l.meta[i].ID, payload, 1)
		}
		i = j
	}
	s.flush()

	s.ctr.accepted.Add(kinds[kAccepted])
	s.ctr.dropped.Add(kinds[kDropped])
	s.ctr.repeated.Add(kinds[kRepeated])
	s.ctr.routed.Add(kinds[kRouted])
	s.ctr.bypassed.Add(kinds[kBypassed])
	if modified > 0 {
		s.ctr.modified.Add(modified)
	}
	if modFailed > 0 {
		s.ctr.modifyFailed.Add(modFailed)
	}

	l.buf.refs--
	copy(s.lent[li:], s.lent[li+1:])
	s.lent[len(s.lent)-1] = nil
	s.lent = s.lent[:len(s.lent)-1]
	l.b, l.buf, l.n = nil, nil, 0
	s.free = append(s.free, l)
	b.Reset()
}

// addVerdict appends one verdict message covering pkts packets, writing
// out what is pending first when the message would not fit.
func (s *Source) addVerdict(batch bool, v *vdec, id uint32, payload []byte, pkts int) {
	need := verdictMsgLen(v.setMark, len(payload))
	if len(s.sbuf) > 0 && len(s.sbuf)+need > s.sendMax {
		s.flush()
	}
	s.seq++
	s.sbuf = appendVerdict(s.sbuf, batch, s.seq, s.queue, v.code, id, v.setMark, v.mark, payload)
	s.sbufPkts += pkts
	if batch {
		s.ctr.batch.Add(1)
	} else {
		s.ctr.single.Add(1)
	}
}

// flush writes the pending verdict messages in one datagram. Transient
// failures (no memory) are retried; otherwise the packets they cover are
// counted in VerdictErrors.
func (s *Source) flush() {
	if len(s.sbuf) == 0 {
		return
	}
	// The kernel takes the verdicts inside the write: count them before
	// Stats can see the queue shrink (acctMu).
	s.acctMu.Lock()
	failed := false
	for attempt := 0; ; attempt++ {
		if err := s.rc.Write(s.sendFn); err != nil {
			failed = true
			break
		}
		if s.sndErr == 0 {
			break
		}
		if attempt == 3 || (s.sndErr != unix.ENOBUFS && s.sndErr != unix.ENOMEM && s.sndErr != unix.EAGAIN) {
			failed = true
			break
		}
	}
	if !failed {
		s.verdicted += uint64(s.sbufPkts)
	}
	s.acctMu.Unlock()
	if failed {
		s.ctr.verdictErrors.Add(uint64(s.sbufPkts))
	} else {
		s.ctr.writes.Add(1)
	}
	s.sbuf = s.sbuf[:0]
	s.sbufPkts = 0
}
