//go:build linux

package afxdp

import (
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// FuzzRings drives a bridge Source over fake rings with a kernel that
// follows the fuzzer's script: deliveries of frames of any length, raw RX
// and completion descriptors with arbitrary addresses and lengths (the
// untrusted input of this package), transmits, Next and Done with
// arbitrary verdicts, several batches out at once, a batch given back
// twice, frames of any length injected toward either side. After every step the frame accounting must hold and every packet
// must lie inside its own frame; nothing may panic.
func FuzzRings(f *testing.F) {
	f.Add([]byte{0, 0, 5, 2, 0, 0, 3, 1, 4, 0, 40, 2, 1, 2})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 60, 0, 2, 0, 3, 3, 6})
	f.Add([]byte{0, 1, 15, 3, 0, 0, 9, 3, 7, 4, 1, 100, 5, 0, 2, 6})
	f.Add(binary.BigEndian.AppendUint64([]byte{1, 1}, 0x100+xdpPacketHeadroom))
	f.Add([]byte{0, 0, 3, 9, 3, 7, 0, 1, 20, 7, 0, 0, 255, 5, 1, 24, 7, 0, 1, 0, 4, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		s, k := newFakeSource(t, 2, 64, 16, 8, 0xfffffff0)
		var held []*packet.Batch
		var free []*packet.Batch
		for i := 0; i < 4; i++ {
			free = append(free, packet.NewBatch(8))
		}
		var seq uint32
		next := func() byte {
			if len(script) == 0 {
				return 0
			}
			c := script[0]
			script = script[1:]
			return c
		}
		for step := 0; len(script) > 0 && step < 200; step++ {
			switch op := next(); op % 8 {
			case 0: // deliver frames
				side, n := int(next()&1), int(next()%20)
				for i := 0; i < n; i++ {
					seq++
					k.receive(side, fakeFrame(seq, 8+int(next())*7))
				}
			case 1: // a raw RX descriptor
				side := int(next() & 1)
				var a [8]byte
				for i := range a {
					a[i] = next()
				}
				ln := uint32(next())<<8 | uint32(next())
				k.injectRx(side, binary.BigEndian.Uint64(a[:]), ln)
			case 2: // Next; give the batch back with verdicts
				if len(free) == 0 {
					continue
				}
				b := free[0]
				if err := s.Next(b); err != nil {
					t.Fatal(err)
				}
				for _, p := range b.Pkts {
					checkPacket(t, s, p)
					p.Verdict = packet.Verdict(next() % 4)
					if c := next(); c < 16 {
						p.Data = p.Data[:len(p.Data)*int(c)/16] // shortened in place
					}
				}
				s.Done(b)
			case 3: // Next and keep the batch
				if len(free) == 0 {
					continue
				}
				b := free[len(free)-1]
				free = free[:len(free)-1]
				if err := s.Next(b); err != nil {
					t.Fatal(err)
				}
				for _, p := range b.Pkts {
					checkPacket(t, s, p)
				}
				held = append(held, b)
			case 4: // give a kept batch back
				if len(held) == 0 {
					continue
				}
				i := int(next()) % len(held)
				b := held[i]
				held = append(held[:i], held[i+1:]...)
				s.Done(b)
				free = append(free, b)
			case 5: // the kernel transmits
				k.transmit(t, int(next()&1), int(next()%24))
			case 6: // a raw completion, or a batch given back twice
				if c := next(); c&1 == 0 {
					var a [8]byte
					for i := range a {
						a[i] = next()
					}
					k.injectCompletion(int(c>>1&1), binary.BigEndian.Uint64(a[:]))
				} else if len(held) > 0 {
					b := held[0]
					saved := append([]*packet.Packet(nil), b.Pkts...)
					s.Done(b)
					b.Pkts = saved
					before := s.Counters().BadDone
					s.Done(b)
					if s.Counters().BadDone != before+uint64(len(saved)) {
						t.Fatal("second Done of a batch not counted")
					}
					held = held[1:]
					free = append(free, b)
				}
			case 7: // inject a frame answering a kept packet
				if len(held) == 0 || len(held[0].Pkts) == 0 {
					continue
				}
				p := held[0].Pkts[int(next())%len(held[0].Pkts)]
				toSource := next()&1 == 0
				frame := make([]byte, int(next())*9) // empty to larger than a frame
				if len(frame) >= 8 {
					frame = fakeFrame(seq, len(frame))
				}
				err := s.Inject(p, toSource, frame)
				if err != nil && !errors.Is(err, unix.ENOBUFS) && !errors.Is(err, unix.EMSGSIZE) && !errors.Is(err, ErrNotHeld) {
					t.Fatalf("Inject: %v", err)
				}
			}
			if err := s.u.audit(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			held0 := 0
			for _, b := range held {
				held0 += len(b.Pkts)
			}
			if fc := s.Frames(); fc.Held > held0 {
				// Held can be below held0 only when an injected
				// descriptor aliased a kept packet's frame.
				t.Fatalf("step %d: %d frames held, batches hold %d packets", step, fc.Held, held0)
			}
		}
		// Give everything back and drain: no frame may be lost.
		for _, b := range held {
			s.Done(b)
		}
		b := packet.NewBatch(8)
		for i := 0; i < 8; i++ {
			k.transmit(t, 0, 1<<10)
			k.transmit(t, 1, 1<<10)
			s.Next(b)
			s.Done(b)
		}
		if err := s.u.audit(); err != nil {
			t.Fatal(err)
		}
		c := s.Counters()
		if fc := s.Frames(); fc.Held != 0 || fc.Tx != 0 {
			t.Fatalf("after draining: frames %+v, counters %+v", fc, c)
		}
		if c.Packets != c.Forwarded+c.VerdictDrops+c.TxRingFull || c.TxDrops != c.TxRingFull+c.InjectDrops {
			t.Fatalf("packets %d != forwarded %d + drops %d + ring full %d (tx drops %d, inject drops %d)",
				c.Packets, c.Forwarded, c.VerdictDrops, c.TxRingFull, c.TxDrops, c.InjectDrops)
		}
	})
}
