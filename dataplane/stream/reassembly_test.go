package stream

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// overlapCase is one pair of conflicting segments, offsets relative to the
// case's 10-byte slot; newWins lists the policies under which the new
// segment's bytes are kept (transcribed from Suricata's
// stream-tcp-list.c DoHandleDataOverlap, independently of newDataWins).
type overlapCase struct {
	name             string
	oldOff, newOff   int
	oldData, newData string
	newWins          []Policy
}

var allPolicies = []Policy{PolicyBSD, PolicyFirst, PolicyLast, PolicyLinux, PolicyOldLinux,
	PolicyWindows, PolicyVista, PolicySolaris, PolicyHPUX10, PolicyHPUX11, PolicyIRIX, PolicyMacOS}

func except(ex ...Policy) []Policy {
	var out []Policy
outer:
	for _, p := range allPolicies {
		for _, e := range ex {
			if p == e {
				continue outer
			}
		}
		out = append(out, p)
	}
	return out
}

var overlapCases = []overlapCase{
	{"after,ends after", 1, 3, "AAAA", "BBBB", []Policy{PolicySolaris, PolicyHPUX11, PolicyLast}},
	{"before,ends after", 2, 1, "CC", "DDDD", except(PolicyFirst, PolicyVista)},
	{"same,ends before", 1, 1, "EEEE", "FF", []Policy{PolicyLast}},
	{"same,ends after", 1, 1, "GG", "HHHH", []Policy{PolicyLinux, PolicyOldLinux, PolicySolaris, PolicyHPUX11, PolicyLast}},
	{"same,same", 1, 1, "III", "JJJ", []Policy{PolicyOldLinux, PolicySolaris, PolicyHPUX11, PolicyLast}},
	{"before,ends before", 2, 1, "KKK", "LLL", except(PolicyFirst, PolicyVista, PolicySolaris, PolicyHPUX11)},
	{"after,ends before", 1, 2, "MMMM", "NN", []Policy{PolicyLast}},
	{"after,ends same", 1, 2, "OOO", "PP", []Policy{PolicyLast}},
	{"before,ends same", 2, 1, "QQ", "RRR", except(PolicyFirst, PolicyVista)},
}

func wins(list []Policy, p Policy) bool {
	for _, q := range list {
		if q == p {
			return true
		}
	}
	return false
}

// TestOverlapPolicies sends, for every policy, conflicting out-of-order
// segments after a one-byte hole and checks the stream the consumer gets
// is what that host OS would see.
func TestOverlapPolicies(t *testing.T) {
	for _, pol := range allPolicies {
		t.Run(pol.String(), func(t *testing.T) {
			c := newConn(t, Config{HostPolicy: hostPolicy(pol)})
			c.handshake()
			const slot = 10
			total := 1 + slot*len(overlapCases)
			want := bytes.Repeat([]byte{'.'}, total)
			want[0] = 'X'
			covered := make([]bool, total)
			covered[0] = true
			seq := func(off int) uint32 { return cli + 1 + uint32(off) }
			for i, oc := range overlapCases {
				b := 1 + i*slot
				copy(want[b+oc.oldOff:], oc.oldData)
				for j := range oc.oldData {
					covered[b+oc.oldOff+j] = true
				}
				c.send(ToServer, PA, seq(b+oc.oldOff), srv+1, oc.oldData)
			}
			for i, oc := range overlapCases {
				b := 1 + i*slot
				w := wins(oc.newWins, pol)
				for j := range oc.newData {
					k := b + oc.newOff + j
					if !covered[k] || w {
						want[k] = oc.newData[j]
					}
					covered[k] = true
				}
				p := c.send(ToServer, PA, seq(b+oc.newOff), srv+1, oc.newData)
				wantEvent(t, p, EvReassemblyOverlapDifferentData)
			}
			for k := 1; k < total; k++ {
				if !covered[k] {
					c.send(ToServer, PA, seq(k), srv+1, ".")
				}
			}
			c.send(ToServer, PA, seq(0), srv+1, "X")
			if c.rec.data[ToServer].Len() != 0 {
				t.Fatal("data before ACK")
			}
			c.send(ToClient, A, srv+1, seq(total), "")
			if got := c.rec.data[ToServer].String(); got != string(want) {
				t.Fatalf("policy %v:\n got %q\nwant %q", pol, got, want)
			}
			if raw, _ := c.s.RawData(ToServer); string(raw) != string(want) {
				t.Fatalf("raw %q", raw)
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range allPolicies {
		q, err := ParsePolicy(p.String())
		if err != nil || q != p {
			t.Fatalf("%v: %v %v", p, q, err)
		}
	}
	if p, _ := ParsePolicy("windows2k3"); p != PolicyWindows {
		t.Fatal("windows2k3")
	}
	if _, err := ParsePolicy("beos"); err == nil || !strings.Contains(err.Error(), "beos") {
		t.Fatalf("error %v", err)
	}
	for _, n := range []string{"ignore", "drop-flow", "pass-flow", "bypass"} {
		if e, err := ParseExceptionPolicy(n); err != nil || e.String() != n {
			t.Fatalf("%s: %v %v", n, e, err)
		}
	}
	if _, err := ParseExceptionPolicy("reject"); err == nil {
		t.Fatal("reject accepted")
	}
}

func TestOutOfOrderTinySegments(t *testing.T) {
	c := newConn(t, Config{})
	c.handshake()
	msg := "abcdefghijklmnop"
	for i := len(msg) - 1; i >= 0; i-- {
		c.send(ToServer, PA, cli+1+uint32(i), srv+1, msg[i:i+1])
	}
	c.send(ToClient, A, srv+1, cli+1+uint32(len(msg)), "")
	if got := c.rec.data[ToServer].String(); got != msg {
		t.Fatalf("got %q", got)
	}
	if st := c.tr.Stats(); st.Segments != uint64(len(msg)) || st.Overlaps != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetransmissionDifferentData(t *testing.T) {
	c := newConn(t, Config{})
	c.handshake()
	c.send(ToServer, PA, cli+1, srv+1, "USER alice\r\n")
	c.send(ToClient, A, srv+1, cli+13, "")
	p := c.send(ToServer, PA, cli+1, srv+1, "USER admin\r\n")
	wantEvent(t, p, EvReassemblyOverlapDifferentData)
	wantEvent(t, p, EvPktSpuriousRetransmission)
	p = c.send(ToServer, PA, cli+1, srv+1, "USER alice\r\n")
	if p.HasEvent(EvReassemblyOverlapDifferentData) {
		t.Fatal("same data flagged different")
	}
	c.send(ToServer, PA, cli+13, srv+1, "PASS x\r\n")
	// Unacknowledged retransmission (before the ACK): pkt_retransmission.
	p = c.send(ToServer, PA, cli+13, srv+1, "PASS y\r\n")
	wantEvent(t, p, EvPktRetransmission)
	wantEvent(t, p, EvReassemblyOverlapDifferentData)
	c.send(ToClient, A, srv+1, cli+21, "")
	if got := c.rec.data[ToServer].String(); got != "USER alice\r\nPASS x\r\n" {
		t.Fatalf("stream %q", got)
	}
	if st := c.tr.Stats(); st.Retransmission != 3 || st.OverlapDiff != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestGap(t *testing.T) {
	c := newConn(t, Config{})
	c.handshake()
	c.send(ToServer, PA, cli+1, srv+1, "aaaa")
	c.send(ToServer, PA, cli+9, srv+1, "cccc")
	p := c.send(ToClient, A, srv+1, cli+13, "")
	wantEvent(t, p, EvReassemblySeqGap)
	if got := c.rec.data[ToServer].String(); got != "aaaacccc" {
		t.Fatalf("stream %q", got)
	}
	if len(c.rec.gaps[ToServer]) != 1 || c.rec.gaps[ToServer][0] != 4 || c.s.Gaps(ToServer) != 1 {
		t.Fatalf("gaps %v", c.rec.gaps[ToServer])
	}
	raw, off := c.s.RawData(ToServer)
	if string(raw) != "aaaa" || off != 0 {
		t.Fatalf("raw %q %d", raw, off)
	}
	c.s.RawConsume(ToServer, 4)
	raw, off = c.s.RawData(ToServer)
	if string(raw) != "cccc" || off != 8 {
		t.Fatalf("raw after gap %q %d", raw, off)
	}
	// Lost data at the end, acknowledged: a gap too.
	c.send(ToClient, A, srv+1, cli+20, "")
	if st := c.tr.Stats(); st.Gaps != 2 || st.GapBytes != 11 {
		t.Fatalf("stats %+v", st)
	}
	c.send(ToServer, PA, cli+20, srv+1, "dd")
	c.send(ToClient, A, srv+1, cli+22, "")
	if got := c.rec.data[ToServer].String(); got != "aaaaccccdd" {
		t.Fatalf("stream %q", got)
	}
}

func TestDepth(t *testing.T) {
	c := newConn(t, Config{Depth: 10})
	c.handshake()
	c.send(ToServer, PA, cli+1, srv+1, "01234567")
	p := c.send(ToServer, PA, cli+9, srv+1, "89abcdef")
	wantEvent(t, p, EvReassemblyDepthReached)
	c.send(ToServer, PA, cli+17, srv+1, "ghij")
	c.send(ToClient, A, srv+1, cli+21, "")
	if got := c.rec.data[ToServer].String(); got != "0123456789" {
		t.Fatalf("stream %q", got)
	}
	if !c.s.DepthReached(ToServer) || c.s.DepthReached(ToClient) || c.s.Flags&FlagDepthToServer == 0 {
		t.Fatal("depth flags")
	}
	if c.s.Gaps(ToServer) != 0 {
		t.Fatal("data beyond depth counted as a gap")
	}
	if st := c.tr.Stats(); st.DepthReached != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPartialConsume(t *testing.T) {
	c := newConn(t, Config{})
	c.rec.hold = 2
	c.handshake()
	c.send(ToServer, PA, cli+1, srv+1, "abcd")
	c.send(ToClient, A, srv+1, cli+5, "")
	if c.rec.data[ToServer].String() != "ab" {
		t.Fatalf("%q", c.rec.data[ToServer].String())
	}
	c.rec.hold = 0
	c.send(ToServer, PA, cli+5, srv+1, "ef")
	c.send(ToClient, A, srv+1, cli+7, "")
	if c.rec.data[ToServer].String() != "abcdef" {
		t.Fatalf("%q", c.rec.data[ToServer].String())
	}
}

func TestInlineRawWindow(t *testing.T) {
	c := newConn(t, Config{Inline: true, InlineWindow: 4})
	c.handshake()
	c.send(ToServer, PA, cli+1, srv+1, "abcdef")
	if c.rec.data[ToServer].String() != "abcdef" {
		t.Fatal("inline data not given before the ACK")
	}
	raw, off := c.s.RawData(ToServer)
	if string(raw) != "abcdef" || off != 0 {
		t.Fatalf("raw %q %d", raw, off)
	}
	c.s.RawConsume(ToServer, len(raw))
	c.send(ToServer, PA, cli+7, srv+1, "ghi")
	raw, off = c.s.RawData(ToServer)
	if string(raw) != "cdefghi" || off != 2 {
		t.Fatalf("sliding window %q %d", raw, off)
	}
}

func TestFlowEnd(t *testing.T) {
	c := newConn(t, Config{})
	c.handshake()
	c.send(ToServer, PA, cli+1, srv+1, "acked")
	c.send(ToClient, PA, srv+1, cli+6, "reply")
	c.s.RawConsume(ToServer, 5)
	c.send(ToServer, PA, cli+6, srv+6, "tail")
	c.send(ToServer, PA, cli+14, srv+6, "after-hole")
	got := map[Dir]string{}
	c.tr.FlowEnd(c.f, func(s *Session, d Dir, data []byte) { got[d] = string(data) })
	if c.rec.data[ToServer].String() != "ackedtailafter-hole" || c.rec.data[ToClient].String() != "reply" {
		t.Fatalf("consumer %q %q", c.rec.data[ToServer].String(), c.rec.data[ToClient].String())
	}
	if got[ToServer] != "tail" || got[ToClient] != "reply" {
		t.Fatalf("raw at flow end %q", got)
	}
	if c.tr.Session(c.f) != nil || c.f.StreamSession != 0 {
		t.Fatal("session still attached")
	}
	if st := c.tr.Stats(); st.Active != 0 || st.ReassemblyMem != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStaleHandle: a flow struct reused for another flow does not get the
// old flow's session.
func TestStaleHandle(t *testing.T) {
	c := newConn(t, Config{})
	c.handshake()
	f2 := &flow.Flow{ID: c.f.ID + 1000, StreamSession: c.f.StreamSession}
	if c.tr.Session(f2) != nil {
		t.Fatal("stale handle resolved")
	}
}

func TestMemcapPolicies(t *testing.T) {
	for _, pol := range []ExceptionPolicy{ExceptionIgnore, ExceptionDropFlow, ExceptionPassFlow, ExceptionBypass} {
		t.Run(pol.String(), func(t *testing.T) {
			tr, err := NewTracker(Config{ReassemblyMemcap: 2 * minBufSize, MemcapPolicy: pol})
			if err != nil {
				t.Fatal(err)
			}
			var last *packet.Packet
			var lastS *Session
			for i := 0; i < 3; i++ {
				f := &flow.Flow{ID: uint64(i + 1)}
				for _, p := range []*packet.Packet{
					mkpkt(ToServer, S, cli, 0, ""),
					mkpkt(ToClient, SA, srv, cli+1, ""),
					mkpkt(ToServer, A, cli+1, srv+1, ""),
				} {
					tr.Process(p, f)
				}
				last = mkpkt(ToServer, PA, cli+1, srv+1, strings.Repeat("x", 1500))
				lastS = tr.Process(last, f)
			}
			st := tr.Stats()
			if st.ReassemblyMemcap != 1 || st.MemcapByPolicy[pol] != 1 || st.ReassemblyMem > 2*minBufSize {
				t.Fatalf("stats %+v", st)
			}
			next := mkpkt(ToServer, PA, cli+1501, srv+1, "y")
			tr.Process(next, &flow.Flow{ID: 3, StreamSession: lastS.handle})
			switch pol {
			case ExceptionDropFlow:
				if last.Verdict != packet.VerdictDrop || lastS.Flags&FlagDropFlow == 0 || next.Verdict != packet.VerdictDrop {
					t.Fatalf("verdicts %v %v flags %x", last.Verdict, next.Verdict, lastS.Flags)
				}
			case ExceptionPassFlow:
				if lastS.Flags&FlagPassFlow == 0 || last.Verdict != packet.VerdictForward {
					t.Fatal("pass-flow not applied")
				}
			case ExceptionBypass:
				if last.Verdict != packet.VerdictBypass || next.Verdict != packet.VerdictBypass {
					t.Fatal("bypass not applied")
				}
			case ExceptionIgnore:
				if lastS.Flags&(FlagDropFlow|FlagPassFlow) != 0 || last.Verdict != packet.VerdictForward {
					t.Fatal("ignore changed the flow")
				}
			}
		})
	}
}

// TestHalfOpenFlood: a million half-open connections stay within a small
// session memcap; the excess is counted by policy.
func TestHalfOpenFlood(t *testing.T) {
	const keep = 1000
	tr, err := NewTracker(Config{Memcap: keep * SessionSize})
	if err != nil {
		t.Fatal(err)
	}
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	var f flow.Flow
	p := mkpkt(ToServer, S, cli, 0, "")
	for i := 0; i < n; i++ {
		f = flow.Flow{ID: uint64(i + 1)}
		p.TCPSeq = uint32(i)
		tr.Process(p, &f)
	}
	st := tr.Stats()
	if st.Active != keep || st.Sessions != keep || st.SessionMemcap != uint64(n-keep) ||
		st.MemcapByPolicy[ExceptionIgnore] != uint64(n-keep) || st.SessionMem > keep*SessionSize {
		t.Fatalf("stats %+v", st)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{MemcapPolicy: 9},
		{Memcap: 1},
		{InlineWindow: -1},
		{MaxBuffer: 100},
	} {
		if _, err := NewTracker(cfg); err == nil || !strings.HasPrefix(err.Error(), "stream: config") {
			t.Fatalf("%+v: error %v", cfg, err)
		}
	}
}

// Inline, a retransmission with different data is rewritten to carry the
// bytes already inspected and forwarded (Suricata's inline
// normalization), whether the first copy is still pending or exposed.
func TestInlineNormalizesOverlaps(t *testing.T) {
	c := newConn(t, Config{Inline: true})
	c.handshake()
	c.send(ToServer, PA, cli+1, srv+1, "GOOD")
	p := c.send(ToServer, PA, cli+1, srv+1, "EVIL")
	wantEvent(t, p, EvReassemblyOverlapDifferentData)
	if string(p.Data) != "GOOD" || p.Flags&packet.FlagModified == 0 {
		t.Fatalf("retransmission carries %q (modified %v), want GOOD", p.Data, p.Flags&packet.FlagModified != 0)
	}
	// Partial overlap: only the overlapping bytes are rewritten.
	p = c.send(ToServer, PA, cli+3, srv+1, "XXMORE")
	if string(p.Data) != "ODMORE" {
		t.Fatalf("partial overlap carries %q, want ODMORE", p.Data)
	}
	if got := c.rec.data[ToServer].String(); got != "GOODMORE" {
		t.Fatalf("stream %q", got)
	}
	// IDS mode leaves packets alone.
	c2 := newConn(t, Config{})
	c2.handshake()
	c2.send(ToServer, PA, cli+1, srv+1, "GOOD")
	p = c2.send(ToServer, PA, cli+1, srv+1, "EVIL")
	if string(p.Data) != "EVIL" || p.Flags&packet.FlagModified != 0 {
		t.Fatalf("IDS rewrote the packet: %q", p.Data)
	}
}
