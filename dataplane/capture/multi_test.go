package capture

import (
	"errors"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// fakeSource hands out n packets, one per Next, then empty batches.
type fakeSource struct {
	left, out, done int
	pkts            []packet.Packet
}

func (f *fakeSource) Next(b *packet.Batch) error {
	if f.out != f.done {
		return errors.New("Next before Done")
	}
	f.out++
	if f.left == 0 {
		b.Reset()
		return nil
	}
	f.left--
	*b.Slot(0) = packet.Packet{Num: uint64(f.left)}
	b.SetLen(1)
	return nil
}
func (f *fakeSource) Done(b *packet.Batch) { f.done++ }
func (f *fakeSource) Stats() Stats         { return Stats{Packets: uint64(f.out)} }
func (f *fakeSource) Close() error         { return nil }

// Multi reads every source in turn, gives each batch back to its source,
// and an idle round ends with an empty batch.
func TestMulti(t *testing.T) {
	a, b := &fakeSource{left: 3}, &fakeSource{left: 1}
	m := NewMulti(a, b)
	batch := packet.NewBatch(4)
	got := 0
	for i := 0; i < 10; i++ {
		if err := m.Next(batch); err != nil {
			t.Fatal(err)
		}
		got += len(batch.Pkts)
		m.Done(batch)
	}
	if got != 4 {
		t.Fatalf("%d packets, want 4", got)
	}
	if a.out != a.done || b.out != b.done {
		t.Fatalf("batches not given back: a %d/%d b %d/%d", a.out, a.done, b.out, b.done)
	}
	if len(m.owner) != 0 {
		t.Fatalf("%d owners left", len(m.owner))
	}
	if allocs := testing.AllocsPerRun(100, func() { m.Next(batch); m.Done(batch) }); allocs != 0 {
		t.Errorf("%.1f allocations per Next+Done", allocs)
	}
}
