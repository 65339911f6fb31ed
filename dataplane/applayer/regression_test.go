package applayer

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Regression tests for defects found while testing the Layer (a gap
// before any data, DNS-over-TCP messages kept past their Feed).

// TestRegressionGapFirst: a gap that comes before any data of the flow
// (the first segment after the handshake was lost) is ignored, because
// Gap returns when the flow has no app-layer state yet: it is not
// counted, and detection then runs on bytes from the middle of the
// stream, where a hole before detection should end it for the direction.
func TestRegressionGapFirst(t *testing.T) {
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 80)
	c.begin(1)
	l.Gap(nil, 0, 100)
	c.data(0, []byte(httpReq))
	if l.Stats.Gaps != 1 {
		t.Errorf("Stats.Gaps = %d, want 1", l.Stats.Gaps)
	}
	if c.f.AppProto != flow.AppProtoUnknown {
		t.Errorf("AppProto = %v after a gap before detection, want unknown (direction given up)", c.f.AppProto)
	}
}

// TestRegressionDNSTCPTwoMessages: two DNS messages in one chunk of a TCP
// stream give two records that point to the same *dns.Message (the
// parser reuses it per message), so EVE logs the second message twice
// and the first is lost; detection (st.udpMsg) sees only the last one.
func TestRegressionDNSTCPTwoMessages(t *testing.T) {
	q1, _ := dnsPair(t, 1, "one.example", layers.DNSResponseCodeNoErr)
	q2, _ := dnsPair(t, 2, "two.example", layers.DNSResponseCodeNoErr)
	b := append(binary.BigEndian.AppendUint16(nil, uint16(len(q1))), q1...)
	b = append(binary.BigEndian.AppendUint16(b, uint16(len(q2))), q2...)
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 53)
	c.begin(1)
	c.data(0, b)
	recs := l.Records()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if recs[0].DNS.ID != 1 || string(recs[0].DNS.Questions[0].Name) != "one.example" {
		t.Errorf("first record: id %d name %q, want 1 one.example", recs[0].DNS.ID, recs[0].DNS.Questions[0].Name)
	}
	v := l.Views(c.pkts[1], c.f)
	n := 0
	for _, x := range v {
		for i := 0; ; i++ {
			if _, ok := x.Buffer(bufID(t, "dns.query"), i); !ok {
				break
			}
			n++
		}
	}
	if n != 2 {
		t.Errorf("detection sees %d dns.query buffers, want 2", n)
	}
}

// TestRegressionDNSTCPRdata: a DNS-over-TCP record's rdata (Record.Data)
// points into the bytes given to Data, which the stream tracker owns and
// reuses after the call ("data is valid only during the call"); EVE
// writes records later, so it can log other bytes.
func TestRegressionDNSTCPRdata(t *testing.T) {
	_, r := dnsPair(t, 1, "one.example", layers.DNSResponseCodeNoErr)
	b := append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...)
	l := New(Config{})
	c := newConn(t, l, nil, packet.ProtoTCP, 40000, 53)
	c.begin(0)
	l.Data(nil, 1, b)
	for i := range b {
		b[i] = 0xee // the tracker reuses its buffer
	}
	recs := l.Records()
	if len(recs) != 1 || len(recs[0].DNS.Answers) != 1 {
		t.Fatalf("records %+v", recs)
	}
	if got := recs[0].DNS.Answers[0].Data; string(got) != "\xc0\x00\x02\x07" {
		t.Errorf("answer rdata after Data returned = % x, want c0 00 02 07", got)
	}
}
