//go:build linux

package afxdp

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// The packet path: Next, Done and the ring bookkeeping they share. Nothing
// here allocates; counters are added once per call.

// Next fills b with up to min(b.Cap(), BatchSize) packets. When none are
// ready it waits up to PollTimeout (ppoll on the socket(s), or busy-polls
// with recvfrom when busy polling is on) and returns nil with an empty
// batch if still nothing came. It returns ErrClosed after Close, and a
// sticky *OpError when a socket fails (for example ENETDOWN after its
// interface went away).
//
// Packets get Data (the frame in the UMEM), WireLen = len(Data), TimeNs
// (one clock read per batch), LinkType Ethernet, Num (1-based count),
// Queue (the receiving socket's queue), Handle (the UMEM address) and
// Origin wire; every other field is zero.
func (s *Source) Next(b *packet.Batch) error {
	b.Reset()
	if s.closed {
		return ErrClosed
	}
	if s.err != nil {
		return s.err
	}
	limit := b.Cap()
	if limit > s.batch {
		limit = s.batch
	}
	s.service()
	n := s.pull(b, limit)
	if n == 0 && s.timeout > 0 {
		n = s.wait(b, limit)
	}
	b.SetLen(n)
	if n == 0 && s.err != nil {
		return s.err
	}
	return nil
}

// pull reads up to limit descriptors from the RX ring(s) into b. In a
// bridge the side read first alternates between calls.
func (s *Source) pull(b *packet.Batch, limit int) int {
	n := 0
	var now int64
	var bytes, bad uint64
	first := s.turn
	if s.nsock == 2 {
		s.turn ^= 1
	}
	u := s.u
	for k := 0; k < s.nsock && n < limit; k++ {
		x := &s.socks[(first+k)%s.nsock]
		avail := int(x.rx.available())
		if avail == 0 {
			continue
		}
		if now == 0 {
			now = time.Now().UnixNano()
		}
		if avail > limit-n {
			avail = limit - n
		}
		n0 := n
		for i := 0; i < avail; i++ {
			d := x.rx.desc(x.rx.local)
			addr, ln := d.Addr, uint64(d.Len)
			x.rx.local++
			idx, ok := u.index(addr)
			if !ok || !u.is(idx, locFill, x.side) {
				// Not a frame this socket's fill ring gave the
				// kernel: leave it where it is.
				bad++
				continue
			}
			x.inFill--
			if addr&s.fmask+ln > s.fmask+1 {
				u.pushFree(idx)
				bad++
				continue
			}
			u.move(idx, locHeld, x.side)
			s.num++
			p := b.Slot(n)
			*p = packet.Packet{
				Data:     u.mem[addr : addr+ln : addr+ln],
				WireLen:  int(ln),
				TimeNs:   now,
				LinkType: packet.LinkEthernet,
				Num:      s.num,
				Queue:    uint16(x.queue),
				Handle:   addr,
				Origin:   packet.OriginWire,
			}
			bytes += ln
			n++
		}
		x.rx.release()
		if n > n0 {
			s.ctr.sock[x.side].rxPackets.Add(uint64(n - n0))
		}
	}
	if n > 0 {
		s.ctr.packets.Add(uint64(n))
		s.ctr.bytes.Add(bytes)
	}
	if bad > 0 {
		s.ctr.badDescs.Add(bad)
	}
	return n
}

// txRetryInterval is how long an idle Next sleeps between TX kicks while
// frames are stuck on a TX ring.
const txRetryInterval = 200 * time.Microsecond

// wait blocks (or busy-polls) until packets arrive or PollTimeout passes.
func (s *Source) wait(b *packet.Batch, limit int) int {
	start := time.Now()
	n := 0
	var polls, wakeups uint64
	for {
		rem := s.timeout - time.Since(start)
		if rem <= 0 {
			// Idle for a whole timeout: make sure the sockets are
			// still alive (an unregistered device sets ENETDOWN).
			for i := 0; i < s.nsock; i++ {
				if err := s.socks[i].sockError(); err != nil {
					s.err = err
				}
			}
			break
		}
		if s.busy {
			for i := 0; i < s.nsock; i++ {
				wakeRx(s.socks[i].fd)
				wakeups++
			}
		} else if s.mode == ModeCopy && s.txPending() {
			// In copy mode poll() transmits too, and a frame the
			// device drops there would go uncounted: while frames
			// wait on a TX ring (the device queue is busy), sleep
			// briefly and let service() kick again.
			time.Sleep(min(rem, txRetryInterval))
		} else if !s.poll(rem) {
			polls++
			break
		} else {
			polls++
		}
		s.service()
		if n = s.pull(b, limit); n > 0 {
			break
		}
	}
	s.ctr.polls.Add(polls)
	s.ctr.rxWakeups.Add(wakeups)
	return n
}

// poll waits in ppoll for up to d; it returns false after setting s.err
// when ppoll or a socket failed.
func (s *Source) poll(d time.Duration) bool {
	s.ts = unix.NsecToTimespec(int64(d))
	for i := 0; i < s.nsock; i++ {
		s.pollFds[i].Revents = 0
	}
	if _, e := ppoll(s.pollFds[:s.nsock], &s.ts); e != 0 && e != unix.EINTR {
		s.err = &OpError{Op: "ppoll", Interface: s.opts.Interface, Queue: s.opts.QueueID, Err: e}
		return false
	}
	for i := 0; i < s.nsock; i++ {
		if s.pollFds[i].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			if err := s.socks[i].sockError(); err != nil {
				s.err = err
				return false
			}
		}
	}
	return true
}

// Done takes back the frames of b. IDS: every frame returns to the fill
// ring. Bridge: VerdictForward and VerdictBypass frames go to the other
// side's TX ring as they are (len(Data) bytes from Handle), VerdictDrop and
// VerdictReject frames return to the fill rings (no reset or ICMP is sent
// for Reject). A packet whose frame is not lent out is counted in BadDone
// and ignored. b is empty afterwards.
func (s *Source) Done(b *packet.Batch) {
	if s.closed {
		b.Reset()
		return
	}
	u := s.u
	var fwd [2]uint64
	var drops, full, bad uint64
	for _, p := range b.Pkts {
		idx, ok := u.index(p.Handle)
		if !ok || u.loc(idx) != locHeld {
			bad++
			continue
		}
		if !s.bridge {
			u.pushFree(idx)
			continue
		}
		ln := uint64(len(p.Data))
		if room := s.fmask + 1 - p.Handle&s.fmask; ln > room {
			ln = room
		}
		if p.Verdict == packet.VerdictDrop || p.Verdict == packet.VerdictReject || ln == 0 {
			u.pushFree(idx)
			drops++
			continue
		}
		side := u.side(idx) ^ 1
		out := &s.socks[side]
		if out.tx.freeSlots(1) == 0 {
			// Let the kernel drain the ring (copy mode transmits in
			// sendto), then look once more; never wait.
			out.tx.submit()
			s.kick(out)
			if out.tx.freeSlots(1) == 0 {
				u.pushFree(idx)
				full++
				continue
			}
		}
		d := out.tx.desc(out.tx.local)
		d.Addr, d.Len, d.Options = p.Handle, uint32(ln), 0
		out.tx.local++
		u.move(idx, locTx, side)
		fwd[side]++
	}
	b.Reset()
	if s.bridge {
		for i := 0; i < s.nsock; i++ {
			x := &s.socks[i]
			if x.tx.pending() != 0 {
				x.tx.submit()
				s.kick(x)
			}
		}
		for i, n := range fwd {
			if n > 0 {
				s.ctr.forwarded.Add(n)
				s.ctr.sock[i].txFrames.Add(n)
			}
		}
		if drops > 0 {
			s.ctr.verdictDrops.Add(drops)
		}
		if full > 0 {
			s.ctr.txRingFull.Add(full)
		}
	}
	if bad > 0 {
		s.ctr.badDone.Add(bad)
	}
	s.service()
}

// kick makes the kernel transmit what x's TX ring holds, when the ring's
// need_wakeup flag asks for it (always, on a socket bound without
// need_wakeup). In copy mode sendto transmits up to the socket's budget
// per call and returns 0 once the ring is empty, EAGAIN when frames remain
// (budget used up, completion ring full, or the device queue busy -
// nothing lost), and EBUSY when the device dropped one frame (it still
// completes; it is the last descriptor the kernel consumed, which tells
// whether it was one of our own). EBUSY always consumes a descriptor, so
// kick goes on until the ring is empty; EAGAIN is retried at most maxKicks
// times. It never blocks. It returns the errno of a sendto that failed
// otherwise (ENETDOWN, ENXIO, ...; counted in TxErrors), or 0.
func (s *Source) kick(x *xsk) unix.Errno {
	if x.fd < 0 {
		return 0
	}
	var wakeups, devDrops, ownDrops, errs uint64
	var hard unix.Errno
	retries := 0
	limit := int(x.tx.size) + s.maxKicks // bounds the loop even if the kernel misbehaves
loop:
	for i := 0; i < limit; i++ {
		if !x.alwaysKick && !x.tx.needWakeup() {
			break
		}
		e := wakeTx(x.fd)
		wakeups++
		switch {
		case e == 0:
			break loop
		case e == unix.EBUSY && !x.zeroCopy:
			devDrops++ // one frame dropped by the device; it completes
			if s.droppedOwn(x) {
				ownDrops++
			}
		case e == unix.EAGAIN || e == unix.EINTR:
			if retries++; retries >= s.maxKicks {
				break loop
			}
		case e == unix.EBUSY:
			break loop // zero-copy driver busy: next time
		default:
			errs++
			hard = e
			break loop
		}
		s.reap(x) // EAGAIN may mean a full completion ring
	}
	s.ctr.txWakeups.Add(wakeups)
	if devDrops > 0 {
		s.ctr.sock[x.side].txDeviceDrops.Add(devDrops)
	}
	if ownDrops > 0 {
		s.ctr.sock[x.side].ownDeviceDrops.Add(ownDrops)
	}
	if errs > 0 {
		s.ctr.txErrors.Add(errs)
	}
	return hard
}

// droppedOwn reports whether the descriptor the kernel consumed last on
// x's TX ring (the frame a copy-mode sendto just reported dropped) names
// a frame of our own. Nothing has written the TX ring since that sendto.
func (s *Source) droppedOwn(x *xsk) bool {
	c := atomic.LoadUint32(x.tx.consumer)
	idx, ok := s.u.index(x.tx.desc(c - 1).Addr)
	return ok && s.u.loc(idx) == locTx && s.u.own(idx)
}

// postCopy copies frame into a free UMEM frame and writes a TX descriptor
// for it on x's ring (published by the caller with submit). The frame is
// marked as our own. It returns false, changing nothing, when there is no
// free frame or no TX slot. The caller checks len(frame) against the
// frame size.
func (s *Source) postCopy(x *xsk, frame []byte) bool {
	u := s.u
	if len(u.free) == 0 || x.tx.freeSlots(1) == 0 {
		return false
	}
	a, _ := u.popFree()
	copy(u.mem[a:a+uint64(len(frame))], frame)
	d := x.tx.desc(x.tx.local)
	d.Addr, d.Len, d.Options = a, uint32(len(frame)), 0
	x.tx.local++
	idx := a >> u.shift
	u.move(idx, locTx, x.side)
	u.markOwn(idx)
	return true
}

// txPending reports whether a TX ring still holds descriptors the kernel
// has not taken (as of the last look).
func (s *Source) txPending() bool {
	for i := 0; i < s.nsock; i++ {
		if x := &s.socks[i]; x.hasTx && x.tx.local != x.tx.cached {
			return true
		}
	}
	return false
}

// service reaps completions, retries TX descriptors an earlier bounded
// kick left on a ring, and tops up the fill rings.
func (s *Source) service() {
	for i := 0; i < s.nsock; i++ {
		x := &s.socks[i]
		if x.hasTx {
			s.reap(x)
			if x.tx.local != x.tx.cached && x.tx.pending() != 0 {
				s.kick(x)
			}
		}
	}
	for i := 0; i < s.nsock; i++ {
		s.refill(&s.socks[i])
	}
}

// reap moves the frames of x's completion ring to the free list.
func (s *Source) reap(x *xsk) {
	n := x.comp.available()
	if n == 0 {
		return
	}
	u := s.u
	var bad uint64
	for i := uint32(0); i < n; i++ {
		a := *x.comp.addr(x.comp.local)
		x.comp.local++
		idx, ok := u.index(a)
		if !ok || !u.is(idx, locTx, x.side) {
			bad++
			continue
		}
		u.pushFree(idx)
	}
	x.comp.release()
	if bad > 0 {
		s.ctr.badDescs.Add(bad)
	}
}

// refill moves free frames to x's fill ring up to its quota, and wakes the
// driver if it asked to be.
func (s *Source) refill(x *xsk) {
	u := s.u
	want := x.fillQuota - x.inFill
	if want > len(u.free) {
		want = len(u.free)
	}
	if want > 0 {
		if free := int(x.fill.freeSlots(uint32(want))); want > free {
			want = free
		}
		for i := 0; i < want; i++ {
			a, _ := u.popFree()
			*x.fill.addr(x.fill.local) = a
			x.fill.local++
			u.move(a>>u.shift, locFill, x.side)
		}
		x.inFill += want
		x.fill.submit()
	}
	if x.fd >= 0 && x.inFill > 0 && x.fill.needWakeup() {
		wakeRx(x.fd)
		s.ctr.rxWakeups.Add(1)
	}
}

// drainTx publishes and kicks what x's TX ring holds until the kernel has
// taken it all or d has passed, then counts the descriptors it never took
// as lost (Close). The frames stay where they are: the UMEM goes away.
func (s *Source) drainTx(x *xsk, d time.Duration) {
	if !x.hasTx {
		return
	}
	x.tx.submit()
	deadline := time.Now().Add(d)
	for x.fd >= 0 && x.tx.pending() != 0 {
		if s.kick(x) != 0 || !time.Now().Before(deadline) {
			break
		}
		s.reap(x)
		if x.tx.pending() != 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	s.reap(x)
	x.tx.pending() // refreshes cached: the kernel's consumer index
	sc := &s.ctr.sock[x.side]
	for i := x.tx.cached; i != x.tx.local; i++ {
		if idx, ok := s.u.index(x.tx.desc(i).Addr); ok && s.u.own(idx) {
			sc.lostOwn.Add(1)
		} else {
			sc.lostFwd.Add(1)
		}
	}
}
