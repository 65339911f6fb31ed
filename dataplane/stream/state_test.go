package stream

import (
	"testing"

	"github.com/vigil-ids/vigil/dataplane/decode"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

func TestEventsRegistered(t *testing.T) {
	if registerErr != nil {
		t.Fatal(registerErr)
	}
	for i, n := range eventNames {
		id, ok := decode.EventByName(n)
		if !ok || id != EventBase+packet.EventID(i) {
			t.Fatalf("%s: registered as %d %v", n, id, ok)
		}
	}
	if EventName(EvFinSyn) != "stream.fin_syn" || EventName(evEnd) != "" {
		t.Fatal("EventName")
	}
}

func TestThreeWayHandshakeAndClientClose(t *testing.T) {
	c := newConn(t, Config{})
	p := c.send(ToServer, S, cli, 0, "")
	c.wantState(StateSynSent)
	wantNoEvents(t, p)
	c.send(ToClient, SA, srv, cli+1, "")
	c.wantState(StateSynRecv)
	c.send(ToServer, A, cli+1, srv+1, "")
	c.wantState(StateEstablished)
	c.send(ToServer, PA, cli+1, srv+1, "GET / HTTP/1.0\r\n\r\n")
	if c.rec.data[ToServer].Len() != 0 {
		t.Fatal("IDS mode gave unacknowledged data to the consumer")
	}
	if raw, _ := c.s.RawData(ToServer); len(raw) != 0 {
		t.Fatal("raw data before ACK")
	}
	c.send(ToClient, PA, srv+1, cli+19, "HTTP/1.0 200 OK\r\n")
	if got := c.rec.data[ToServer].String(); got != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("to server %q", got)
	}
	raw, off := c.s.RawData(ToServer)
	if string(raw) != "GET / HTTP/1.0\r\n\r\n" || off != 0 {
		t.Fatalf("raw %q at %d", raw, off)
	}
	c.s.RawConsume(ToServer, len(raw))
	if c.s.RawPending(ToServer) != 0 {
		t.Fatal("raw pending after consume")
	}
	c.send(ToServer, FA, cli+19, srv+18, "")
	c.wantState(StateFinWait1)
	if c.rec.data[ToClient].String() != "HTTP/1.0 200 OK\r\n" {
		t.Fatalf("to client %q", c.rec.data[ToClient].String())
	}
	c.send(ToClient, A, srv+18, cli+20, "")
	c.wantState(StateFinWait2)
	c.send(ToClient, FA, srv+18, cli+20, "")
	c.wantState(StateTimeWait)
	c.send(ToServer, A, cli+20, srv+19, "")
	c.wantState(StateClosed)
	c.tr.FlowEnd(c.f, nil)
	st := c.tr.Stats()
	if st.Active != 0 || st.Sessions != 1 || st.ReassemblyMem != 0 || st.Invalid != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServerClosesFirst(t *testing.T) {
	c := newConn(t, Config{})
	c.handshake()
	c.send(ToClient, FA, srv+1, cli+1, "")
	c.wantState(StateCloseWait)
	c.send(ToServer, A, cli+1, srv+2, "")
	c.wantState(StateCloseWait)
	c.send(ToServer, FA, cli+1, srv+2, "")
	c.wantState(StateLastAck)
	c.send(ToClient, A, srv+2, cli+2, "")
	c.wantState(StateClosed)
}

func TestSimultaneousClose(t *testing.T) {
	c := newConn(t, Config{})
	c.handshake()
	c.send(ToServer, FA, cli+1, srv+1, "")
	c.send(ToClient, FA, srv+1, cli+1, "")
	c.wantState(StateClosing)
	c.send(ToClient, A, srv+2, cli+2, "")
	c.wantState(StateTimeWait)
	c.send(ToServer, A, cli+2, srv+2, "")
	c.wantState(StateClosed)
}

func TestSplitHandshake(t *testing.T) {
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "")
	c.send(ToClient, S, srv, 0, "")
	c.wantState(StateSynSent)
	if c.s.Flags&Flag4WHS == 0 {
		t.Fatal("4WHS flag not set")
	}
	p := c.send(ToServer, SA, cli+7, srv+1, "")
	wantEvent(t, p, Ev4WHSSynAckWithWrongSyn)
	p = c.send(ToServer, SA, cli, srv+9, "")
	wantEvent(t, p, Ev4WHSSynAckWithWrongAck)
	c.send(ToServer, SA, cli, srv+1, "")
	c.wantState(StateSynRecv)
	p = c.send(ToClient, A, srv+1, cli+5, "")
	wantEvent(t, p, Ev4WHSInvalidAck)
	p = c.send(ToClient, A, srv+3, cli+1, "")
	wantEvent(t, p, Ev4WHSWrongSeq)
	c.send(ToClient, A, srv+1, cli+1, "")
	c.wantState(StateEstablished)
}

func TestSimultaneousOpen(t *testing.T) {
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "")
	c.send(ToClient, S, srv, 0, "")
	c.send(ToServer, SA, cli, srv+1, "")
	c.send(ToClient, SA, srv, cli+1, "")
	c.wantState(StateEstablished)
	c.send(ToServer, PA, cli+1, srv+1, "abc")
	c.send(ToClient, A, srv+1, cli+4, "")
	if c.rec.data[ToServer].String() != "abc" {
		t.Fatalf("data %q", c.rec.data[ToServer].String())
	}
}

func TestHandshakeAnomalies(t *testing.T) {
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "")
	wantEvent(t, c.send(ToClient, SA, srv, cli+5, ""), Ev3WHSSynAckWithWrongAck)
	wantEvent(t, c.send(ToServer, SA, cli, srv+1, ""), Ev3WHSSynAckInWrongDirection)
	c.wantState(StateSynSent)
	c.send(ToClient, SA, srv, cli+1, "")
	c.wantState(StateSynRecv)
	wantEvent(t, c.send(ToClient, SA, srv, cli+2, ""), Ev3WHSSynAckResendWithDifferentAck)
	wantEvent(t, c.send(ToClient, SA, srv+3, cli+1, ""), Ev3WHSSynAckResendWithDiffSeq)
	wantEvent(t, c.send(ToServer, SA, cli, srv+1, ""), Ev3WHSSynAckToServerOnSynRecv)
	wantEvent(t, c.send(ToServer, S, cli+9, 0, ""), Ev3WHSSynResendDiffSeqOnSynRecv)
	wantEvent(t, c.send(ToClient, S, srv, 0, ""), Ev3WHSSynToClientOnSynRecv)
	wantEvent(t, c.send(ToClient, A, srv+1, cli+1, ""), Ev3WHSAckInWrongDir)
	wantEvent(t, c.send(ToServer, A, cli+1, srv+7, ""), Ev3WHSRightSeqWrongAckEvasion)
	wantEvent(t, c.send(ToServer, A, cli+3, srv+7, ""), Ev3WHSWrongSeqWrongAck)
	wantEvent(t, c.send(ToServer, PA, cli+50, srv+1, "evil"), Ev3WHSAckDataInject)
	c.wantState(StateSynRecv)
	c.send(ToServer, A, cli+1, srv+1, "")
	c.wantState(StateEstablished)
	wantEvent(t, c.send(ToServer, S, cli, 0, ""), EvEstSynResend)
	wantEvent(t, c.send(ToServer, S, cli+4, 0, ""), EvEstSynResendDiffSeq)
	wantEvent(t, c.send(ToClient, S, srv, 0, ""), EvEstSynToClient)
	wantEvent(t, c.send(ToClient, SA, srv, cli+1, ""), EvEstSynAckResend)
	wantEvent(t, c.send(ToClient, SA, srv+2, cli+1, ""), EvEstSynAckResendWithDiffSeq)
	wantEvent(t, c.send(ToClient, SA, srv, cli+3, ""), EvEstSynAckResendWithDifferentAck)
	wantEvent(t, c.send(ToServer, SA, cli, srv+1, ""), EvEstSynAckToServer)
	wantEvent(t, c.send(ToServer, S|F, cli, 0, ""), EvFinSyn)
	wantEvent(t, c.send(ToServer, P, cli+1, 77, ""), EvPktBrokenAck)
	p := c.send(ToServer, A, cli+1, srv+100000, "")
	wantEvent(t, p, EvPktInvalidAck)
	wantEvent(t, p, EvEstInvalidAck)
	wantEvent(t, c.send(ToServer, PA, cli+1+200000, srv+1, "x"), EvEstPacketOutOfWindow)
	wantEvent(t, c.send(ToServer, FA, cli+1+200000, srv+1, ""), EvFinOutOfWindow)
	c.wantState(StateEstablished)
	if got := c.tr.Stats().Events[EvEstSynResend-EventBase]; got != 1 {
		t.Fatalf("event counter %d", got)
	}
}

func TestNoSessionEvents(t *testing.T) {
	c := newConn(t, Config{})
	wantEvent(t, c.send(ToServer, R, 1, 0, ""), EvRstButNoSession)
	wantEvent(t, c.send(ToServer, FA, 1, 2, ""), EvFinButNoSession)
	c.send(ToServer, PA, 1, 2, "data")
	if c.s != nil || c.tr.Stats().NoSession != 3 {
		t.Fatalf("session %v, stats %+v", c.s, c.tr.Stats())
	}
}

func TestSynFlood(t *testing.T) {
	c := newConn(t, Config{MaxSynQueued: 3})
	c.send(ToServer, S, cli, 0, "")
	var p *packet.Packet
	for i := 0; i < 3; i++ {
		p = c.send(ToServer, S, cli, 0, "")
		wantNoEvents(t, p)
	}
	wantEvent(t, c.send(ToServer, S, cli, 0, ""), Ev3WHSSynFlood)
	c.send(ToClient, SA, srv, cli+1, "")
	for i := 0; i < 3; i++ {
		c.send(ToClient, SA, srv, cli+1, "")
	}
	wantEvent(t, c.send(ToClient, SA, srv, cli+1, ""), Ev3WHSSynAckFlood)
}

func TestTFO(t *testing.T) {
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "early")
	c.send(ToClient, SA, srv, cli+6, "")
	c.send(ToServer, A, cli+6, srv+1, "")
	c.wantState(StateEstablished)
	if c.rec.data[ToServer].String() != "early" || c.s.Flags&FlagTFO == 0 {
		t.Fatalf("TFO data %q flags %x", c.rec.data[ToServer].String(), c.s.Flags)
	}

	c = newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "early")
	p := c.send(ToClient, SA, srv, cli+1, "")
	wantEvent(t, p, Ev3WHSSynAckTFODataIgnored)
	c.send(ToServer, A, cli+1, srv+1, "")
	c.wantState(StateEstablished)
	c.send(ToServer, PA, cli+1, srv+1, "late")
	c.send(ToClient, A, srv+1, cli+5, "")
	if c.rec.data[ToServer].String() != "late" {
		t.Fatalf("data %q", c.rec.data[ToServer].String())
	}
}

func TestRST(t *testing.T) {
	// Refused connection.
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "")
	wantEvent(t, c.send(ToClient, R|A, 0, cli+100000, ""), EvRstInvalidAck)
	wantEvent(t, c.send(ToClient, R|A, 0, cli, ""), EvSuspectedRstInject)
	c.wantState(StateSynSent)
	c.send(ToClient, R|A, 0, cli+1, "")
	c.wantState(StateClosed)

	// BSD (default): only the exact next sequence number.
	c = newConn(t, Config{})
	c.handshake()
	c.send(ToServer, PA, cli+1, srv+1, "hello")
	wantEvent(t, c.send(ToServer, R, cli+100, 0, ""), EvSuspectedRstInject)
	c.wantState(StateEstablished)
	wantEvent(t, c.send(ToServer, R|A, cli+6, srv+100000, ""), EvRstInvalidAck)
	c.wantState(StateEstablished)
	c.send(ToServer, R, cli+6, 0, "")
	c.wantState(StateClosed)
	if c.s.Flags&FlagRst == 0 {
		t.Fatal("FlagRst")
	}
	// Closing delivers what was sent, acknowledged or not.
	if c.rec.data[ToServer].String() != "hello" {
		t.Fatalf("data %q", c.rec.data[ToServer].String())
	}

	// Linux: in-window RST accepted.
	c = newConn(t, Config{HostPolicy: hostPolicy(PolicyLinux)})
	c.handshake()
	c.send(ToServer, R, cli+100, 0, "")
	c.wantState(StateClosed)

	// RST with data: the data is taken.
	c = newConn(t, Config{})
	c.handshake()
	c.send(ToClient, R|A, srv+1, cli+1, "bye")
	c.wantState(StateClosed)
	if c.rec.data[ToClient].String() != "bye" {
		t.Fatalf("RST data %q", c.rec.data[ToClient].String())
	}
}

func TestTimestampsPAWS(t *testing.T) {
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "", ts(100, 0))
	c.send(ToClient, SA, srv, cli+1, "", ts(900, 100))
	c.send(ToServer, A, cli+1, srv+1, "", ts(101, 900))
	c.wantState(StateEstablished)
	if c.s.Flags&FlagTimestamps == 0 {
		t.Fatal("timestamps not negotiated")
	}
	c.send(ToServer, PA, cli+1, srv+1, "good", ts(105, 900))
	p := c.send(ToServer, PA, cli+5, srv+1, "evil", ts(50, 900))
	wantEvent(t, p, EvPktInvalidTimestamp)
	p = c.send(ToServer, PA, cli+5, srv+1, "evil")
	wantEvent(t, p, EvPktInvalidTimestamp)
	c.send(ToServer, PA, cli+5, srv+1, "more", ts(106, 900))
	c.send(ToClient, A, srv+1, cli+9, "", ts(901, 106))
	if c.rec.data[ToServer].String() != "goodmore" {
		t.Fatalf("data %q", c.rec.data[ToServer].String())
	}
}

func TestWindowScaling(t *testing.T) {
	// Server window 512 << 7 = 65536: a segment 60000 bytes ahead is inside.
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "", wscale(7))
	c.send(ToClient, SA, srv, cli+1, "", wscale(7))
	c.send(ToServer, A, cli+1, srv+1, "", win(512))
	c.send(ToClient, A, srv+1, cli+1, "", win(512))
	p := c.send(ToServer, PA, cli+1+60000, srv+1, "x", win(512))
	wantNoEvents(t, p)
	// Without the option on both SYNs, the same segment is out of window.
	c = newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "", wscale(7))
	c.send(ToClient, SA, srv, cli+1, "")
	c.send(ToServer, A, cli+1, srv+1, "", win(512))
	c.send(ToClient, A, srv+1, cli+1, "", win(512))
	p = c.send(ToServer, PA, cli+1+60000, srv+1, "x", win(512))
	wantEvent(t, p, EvEstPacketOutOfWindow)
}

func TestMidstream(t *testing.T) {
	c := newConn(t, Config{})
	c.send(ToServer, PA, 7000, 9000, "abc")
	if c.s != nil {
		t.Fatal("session without midstream")
	}
	c = newConn(t, Config{Midstream: true})
	c.send(ToServer, PA, 7000, 9000, "abc")
	c.wantState(StateEstablished)
	if c.s.Flags&FlagMidstream == 0 {
		t.Fatal("midstream flag")
	}
	c.send(ToClient, PA, 9000, 7003, "xyz")
	c.send(ToServer, A, 7003, 9003, "")
	if c.rec.data[ToServer].String() != "abc" || c.rec.data[ToClient].String() != "xyz" {
		t.Fatalf("data %q %q", c.rec.data[ToServer].String(), c.rec.data[ToClient].String())
	}
	// Picked up at the SYN/ACK.
	c = newConn(t, Config{Midstream: true})
	c.send(ToClient, SA, srv, cli+1, "")
	c.wantState(StateSynRecv)
	c.send(ToServer, A, cli+1, srv+1, "")
	c.wantState(StateEstablished)
}

func TestAsyncOneside(t *testing.T) {
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "")
	c.send(ToServer, A, cli+1, srv+1, "")
	c.wantState(StateSynSent)

	c = newConn(t, Config{AsyncOneside: true})
	c.send(ToServer, S, cli, 0, "")
	wantEvent(t, c.send(ToServer, A, cli+9, srv+1, ""), Ev3WHSAsyncWrongSeq)
	c.send(ToServer, A, cli+1, srv+1, "")
	c.wantState(StateEstablished)
	if c.s.Flags&FlagAsync == 0 {
		t.Fatal("async flag")
	}
	c.send(ToServer, PA, cli+1, srv+1, "one")
	c.send(ToServer, PA, cli+4, srv+1, "two")
	if c.rec.data[ToServer].String() != "onetwo" {
		t.Fatalf("async data %q", c.rec.data[ToServer].String())
	}
}

// A session's packets carry FlagEstablished from the handshake's end to
// the session's end, FIN packets included.
func TestEstablishedFlag(t *testing.T) {
	c := newConn(t, Config{})
	p := c.send(ToServer, S, cli, 0, "")
	if p.Flags&packet.FlagEstablished != 0 {
		t.Fatal("SYN marked established")
	}
	c.handshake()
	p = c.send(ToServer, PA, cli+1, srv+1, "x")
	if p.Flags&packet.FlagEstablished == 0 {
		t.Fatal("data packet not established")
	}
	p = c.send(ToServer, FA, cli+2, srv+1, "")
	if p.Flags&packet.FlagEstablished == 0 {
		t.Fatal("FIN of an established session not established")
	}
}

// Suricata bug 3286, "linux evasion": in SYN_SENT, a RST and a FIN from
// the server echo a timestamp the client never sent, and the client sends a
// RST with seq isn+1. None of them ends the session: the first two raise
// pkt_invalid_timestamp and are ignored, the client RST is ignored, and the
// real handshake that follows establishes the session.
func TestSynSentEvasion(t *testing.T) {
	c := newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "", ts(1000, 0))
	p := c.send(ToClient, R|A, srv, cli+1, "", ts(100, 100))
	wantEvent(t, p, EvPktInvalidTimestamp)
	p = c.send(ToClient, F|A, srv, cli+1, "", ts(100, 100))
	wantEvent(t, p, EvPktInvalidTimestamp)
	c.wantState(StateSynSent)
	c.send(ToServer, R, cli+1, 0, "")
	c.wantState(StateSynSent)
	c.send(ToClient, SA, srv, cli+1, "", ts(2000, 1000))
	c.send(ToServer, A, cli+1, srv+1, "", ts(1001, 2000))
	c.wantState(StateEstablished)
	// The client's RST that Suricata honours in SYN_SENT: the SYN's
	// sequence number, window 0, ack isn+1.
	c = newConn(t, Config{})
	c.send(ToServer, S, cli, 0, "")
	c.send(ToServer, R|A, cli, cli+1, "", win(0))
	c.wantState(StateClosed)
}

// A RST that carries a TCP-AO or MD5 signature cannot be checked by a
// passive observer: it raises suspected_rst_inject and does not end the
// session (Suricata security ticket 4710).
func TestRstWithAuthOptionIgnored(t *testing.T) {
	c := newConn(t, Config{})
	c.handshake()
	auth := func(p *packet.Packet) { p.Flags |= packet.FlagTCPAuth }
	p := c.send(ToServer, R|A, cli+1, srv+1, "", auth)
	wantEvent(t, p, EvSuspectedRstInject)
	c.wantState(StateEstablished)
	c.send(ToServer, PA, cli+1, srv+1, "GET / HTTP/1.1\r\n\r\n")
	c.send(ToClient, A, srv+1, cli+19, "")
	if got := c.rec.data[ToServer].String(); got != "GET / HTTP/1.1\r\n\r\n" {
		t.Fatalf("stream %q", got)
	}
}
