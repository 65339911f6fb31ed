package capture

import (
	"errors"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Multi is one worker's view of several sources: in an inline bridge the
// two directions of a flow arrive on different interfaces, and they must
// meet in the one worker that owns the flow's state. Each source of a Multi
// is one capture queue of a different interface (the same queue index, so
// that a symmetric flow hash sends both directions to the same worker).
//
// Next asks the sources in turn, starting after the one that delivered
// last, and returns the first batch that has packets (or an error). Each
// source's own poll timeout applies, so give the sources of a Multi a short
// one (a few milliseconds): while one waits, the others are not read.
// Done gives the batch back to the source that filled it.
type Multi struct {
	srcs  []Source
	next  int
	owner []batchOwner // batches out, with the source that filled each
}

type batchOwner struct {
	b   *packet.Batch
	src int
}

// NewMulti combines sources into one Source. Close closes them all.
func NewMulti(srcs ...Source) *Multi {
	return &Multi{srcs: srcs}
}

// Sources returns the combined sources.
func (m *Multi) Sources() []Source { return m.srcs }

// Next fills b from the first source that has packets.
func (m *Multi) Next(b *packet.Batch) error {
	n := len(m.srcs)
	for k := 0; k < n; k++ {
		i := (m.next + k) % n
		err := m.srcs[i].Next(b)
		if len(b.Pkts) > 0 || err != nil {
			m.next = (i + 1) % n
			m.owner = append(m.owner, batchOwner{b, i})
			return err
		}
		m.srcs[i].Done(b)
	}
	b.Reset()
	return nil
}

// Done gives b back to the source that filled it.
func (m *Multi) Done(b *packet.Batch) {
	for j, o := range m.owner {
		if o.b == b {
			m.srcs[o.src].Done(b)
			m.owner = append(m.owner[:j], m.owner[j+1:]...)
			return
		}
	}
}

// Stats sums the sources' counters.
func (m *Multi) Stats() Stats {
	var t Stats
	for _, s := range m.srcs {
		st := s.Stats()
		t.Packets += st.Packets
		t.Bytes += st.Bytes
		t.KernelDrops += st.KernelDrops
		t.Truncated += st.Truncated
		t.InvalidDrops += st.InvalidDrops
		t.TxDrops += st.TxDrops
		t.Uninspected += st.Uninspected
	}
	return t
}

// ErrNoInjector is returned by Multi.Inject when the source that lent the
// packet cannot send frames, or no batch of the Multi holds the packet.
var ErrNoInjector = errors.New("capture: the packet's source cannot inject frames")

// Inject hands the frame to the source that lent p (see Injector): in a
// bridge, that source knows which interface faces p's sender.
func (m *Multi) Inject(p *packet.Packet, toSource bool, frame []byte) error {
	for _, o := range m.owner {
		for _, q := range o.b.Pkts {
			if q == p {
				if inj, ok := m.srcs[o.src].(Injector); ok {
					return inj.Inject(p, toSource, frame)
				}
				return ErrNoInjector
			}
		}
	}
	return ErrNoInjector
}

// Close closes every source and returns their errors joined.
func (m *Multi) Close() error {
	var errs []error
	for _, s := range m.srcs {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
