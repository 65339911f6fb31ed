package packet

import "testing"

func TestEvents(t *testing.T) {
	var p Packet
	for i := 1; i <= MaxEvents+3; i++ {
		p.SetEvent(EventID(i))
		p.SetEvent(EventID(i)) // duplicates are kept once
	}
	// Lost events cannot be deduplicated (they are not stored): each call counts.
	if int(p.NumEvents) != MaxEvents || p.EventsLost != 6 {
		t.Fatalf("NumEvents %d EventsLost %d", p.NumEvents, p.EventsLost)
	}
	if !p.HasEvent(1) || !p.HasEvent(MaxEvents) || p.HasEvent(MaxEvents+1) {
		t.Errorf("HasEvent wrong: %v", p.Events)
	}
}

func TestResetDecodedKeepsSourceFields(t *testing.T) {
	data := []byte{1, 2, 3}
	p := Packet{Data: data, WireLen: 9, TimeNs: 7, LinkType: LinkRaw, Num: 4, Queue: 2, Handle: 99, Origin: OriginDefrag,
		Flags: FlagTCP, L4Off: 20, PayloadLen: 5, Verdict: VerdictDrop, NumEvents: 1}
	p.ResetDecoded()
	if &p.Data[0] != &data[0] || p.WireLen != 9 || p.TimeNs != 7 || p.LinkType != LinkRaw || p.Num != 4 || p.Queue != 2 || p.Handle != 99 || p.Origin != OriginDefrag {
		t.Errorf("source fields lost: %+v", p)
	}
	if p.Flags != 0 || p.L4Off != 0 || p.PayloadLen != 0 || p.Verdict != VerdictForward || p.NumEvents != 0 {
		t.Errorf("decoded fields kept: %+v", p)
	}
	if p.Payload() != nil {
		t.Errorf("payload of an undecoded packet")
	}
}

func TestBatch(t *testing.T) {
	b := NewBatch(4)
	if b.Cap() != 4 || len(b.Pkts) != 0 {
		t.Fatal("new batch")
	}
	b.Slot(1).Num = 5
	b.SetLen(2)
	if len(b.Pkts) != 2 || b.Pkts[1].Num != 5 {
		t.Errorf("SetLen/Slot: %v", b.Pkts)
	}
	b.Reset()
	if len(b.Pkts) != 0 || b.Slot(1).Num != 5 {
		t.Errorf("Reset must keep the slots")
	}
	if got := allocs(func() { b.SetLen(3); b.Reset() }); got != 0 {
		t.Errorf("batch reuse allocates %v", got)
	}
	if OriginFlowTimeout.String() != "stream (flow timeout)" || OriginWire.String() != "wire/pcap" {
		t.Errorf("origin names")
	}
}

func allocs(f func()) float64 { return testing.AllocsPerRun(100, f) }
