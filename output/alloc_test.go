package output

import (
	"bytes"
	"io"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// fullAlert carries everything an alert record can hold.
var fullAlert = AlertInfo{
	Action: ActionBlocked, GID: 1, SID: 2024217, Rev: 3,
	Signature: `ET EXPLOIT Possible ETERNALBLUE "MS17-010" Echo Response \ tab	end`,
	Category:  "Attempted Administrator Privilege Gain", Severity: 1,
	Metadata: []string{"attack_target Client_Endpoint", "created_at 2017_05_18", "deployment Perimeter",
		"deployment Internal", "signature_severity Major", "updated_at 2019_07_26"},
	Drop: true, Stream: true, HasTx: true, TxID: 7, AppProto: "smb",
}

func benchPacket(tb testing.TB) *packet.Packet {
	payload := bytes.Repeat([]byte("SMB\x00\xff\r\nabc\"\\"), 40) // 440 bytes, every escape kind
	return tcp6Packet(tb, payload)
}

// TestAlertWritersDoNotAllocate proves the per-alert path allocates
// nothing: EVE with every option on (payload, printable, packet, metadata,
// local time zone) and fast.log, with flushes happening inside the loop.
func TestAlertWritersDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	p := benchPacket(t)
	a := fullAlert
	e := NewEVE(io.Discard, EVEConfig{Payload: true, PayloadPrintable: true, PayloadLength: true,
		Packet: true, Metadata: true, SensorName: "sensor-1", BufferSize: 8 << 10})
	f := NewFastLog(io.Discard)
	for i := 0; i < 100; i++ { // grow the buffers once
		e.Alert(p, 42, &a)
		f.Alert(p, &a)
	}
	if n := testing.AllocsPerRun(2000, func() {
		if err := e.Alert(p, 42, &a); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("EVE.Alert allocates %.2f times per record", n)
	}
	if n := testing.AllocsPerRun(2000, func() {
		if err := f.Alert(p, &a); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("FastLog.Alert allocates %.2f times per line", n)
	}
	arp := arpPacket(t)
	if n := testing.AllocsPerRun(500, func() {
		e.Alert(arp, 0, &a)
		f.Alert(arp, &a)
		e.Flush()
		f.Flush()
	}); n != 0 {
		t.Errorf("non-IP alert and Flush allocate %.2f times", n)
	}
}

func BenchmarkEVEAlert(b *testing.B) {
	p := tcp4Packet(b, []byte("uid=0(root)"))
	e := NewEVE(io.Discard, EVEConfig{})
	b.ReportAllocs()
	for b.Loop() {
		e.Alert(p, 1234567890123456, &gplRoot)
	}
}

func BenchmarkEVEAlertFull(b *testing.B) {
	p := benchPacket(b)
	a := fullAlert
	e := NewEVE(io.Discard, EVEConfig{Payload: true, PayloadPrintable: true, PayloadLength: true,
		Packet: true, Metadata: true})
	b.ReportAllocs()
	for b.Loop() {
		e.Alert(p, 42, &a)
	}
}

func BenchmarkFastLogAlert(b *testing.B) {
	p := tcp4Packet(b, nil)
	f := NewFastLog(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		f.Alert(p, &gplRoot)
	}
}
