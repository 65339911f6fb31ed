package stream

import (
	"encoding/binary"
	"testing"

	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// canon is the byte every honest segment carries at sequence number seq.
func canon(seq uint32) byte { return byte(seq*131 + seq>>9) }

// checker is a consumer that verifies every byte it gets is the canonical
// byte of its sequence number (unless corrupt data was sent).
type checker struct {
	t       *testing.T
	corrupt bool
	hold    int
	bytes   int
}

func (c *checker) Data(s *Session, dir Dir, data []byte) int {
	h := &s.half[dir]
	if !c.corrupt {
		for i, b := range data {
			if b != canon(h.appNext+uint32(i)) {
				c.t.Fatalf("dir %v byte at seq %d = %d, want %d", dir, h.appNext+uint32(i), b, canon(h.appNext+uint32(i)))
			}
		}
	}
	n := len(data) - c.hold
	if n < 0 {
		n = 0
	}
	c.bytes += n
	return n
}

func (c *checker) Gap(s *Session, dir Dir, n uint32) {
	if n == 0 {
		c.t.Fatal("empty gap")
	}
}

var fuzzFlags = [...]uint8{S, SA, A, PA, FA, R, R | A, S | F, P, A, PA, PA, PA, FA, F, A}

// FuzzTracker feeds random segment sequences of one flow (both directions)
// through a tracker. Input: a config byte, then 6-byte ops: flags/dir,
// 16-bit sequence offset, length, 16-bit acknowledgement offset.
func FuzzTracker(f *testing.F) {
	op := func(flags uint8, dir Dir, seqOff uint16, n uint8, ackOff uint16) []byte {
		fi := 0
		for i, fl := range fuzzFlags {
			if fl == flags {
				fi = i
				break
			}
		}
		b := []byte{byte(fi) | byte(dir)<<4, 0, 0, n, 0, 0}
		binary.BigEndian.PutUint16(b[1:], seqOff)
		binary.BigEndian.PutUint16(b[4:], ackOff)
		return b
	}
	join := func(cfg byte, ops ...[]byte) []byte {
		out := []byte{cfg}
		for _, o := range ops {
			out = append(out, o...)
		}
		return out
	}
	hs := [][]byte{op(S, ToServer, 0, 0, 0), op(SA, ToClient, 0, 0, 1), op(A, ToServer, 1, 0, 1)}
	f.Add(join(0, append(hs, op(PA, ToServer, 1, 20, 1), op(A, ToClient, 1, 0, 21))...))
	f.Add(join(0, append(hs, op(PA, ToServer, 30, 20, 1), op(PA, ToServer, 10, 30, 1), op(PA, ToServer, 1, 15, 1), op(A, ToClient, 1, 0, 60), op(FA, ToServer, 50, 0, 1))...))
	f.Add(join(1, op(PA, ToServer, 100, 50, 7), op(PA, ToClient, 7, 10, 150), op(R, ToServer, 150, 0, 0)))
	f.Add(join(2, append(hs, op(PA, ToServer, 1, 200, 1), op(PA, ToServer, 300, 10, 1), op(A, ToClient, 1, 0, 400))...))
	f.Add(join(4|8, append(hs, op(PA, ToServer, 1, 255, 1), op(PA, ToServer, 256, 255, 1), op(A, ToClient, 1, 0, 600))...))
	f.Add(join(16|32, op(S, ToServer, 0, 0, 0), op(A, ToServer, 1, 0, 1), op(PA, ToServer, 1, 30, 1)))
	f.Add(join(64, append(hs, op(PA, ToServer, 1, 20, 1), op(PA|0, ToServer, 5, 10, 1), op(A, ToClient, 1, 0, 30), op(FA, ToClient, 1, 0, 30), op(A, ToServer, 30, 0, 2))...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 1 {
			return
		}
		cfgb := in[0]
		in = in[1:]
		chk := &checker{t: t}
		cfg := Config{
			Inline:       cfgb&1 != 0,
			Midstream:    cfgb&2 != 0,
			AsyncOneside: cfgb&16 != 0,
			Consumer:     chk,
			HostPolicy:   hostPolicy(Policy(cfgb>>5) * 2 % numPolicies),
		}
		if cfgb&4 != 0 {
			cfg.Depth = 300
		}
		if cfgb&8 != 0 {
			cfg.ReassemblyMemcap = 2 * minBufSize
			cfg.MaxBuffer = minBufSize
		}
		if cfgb&64 != 0 {
			chk.hold = 3
		}
		if cfgb&128 != 0 {
			cfg.NoRaw = true
		}
		tr, err := NewTracker(cfg)
		if err != nil {
			t.Fatal(err)
		}
		fl := &flow.Flow{ID: 1}
		var payload [256]byte
		isn := [2]uint32{0xfffff000, 0x7ffffff0} // wrap both ways
		for len(in) >= 6 {
			b := in[:6]
			in = in[6:]
			dir := Dir(b[0] >> 4 & 1)
			flags := fuzzFlags[b[0]&15]
			corrupt := b[0]&0x80 != 0
			seq := isn[dir] + uint32(binary.BigEndian.Uint16(b[1:]))
			ack := isn[dir^1] + uint32(binary.BigEndian.Uint16(b[4:]))
			n := int(b[3])
			if flags&packet.TCPSyn != 0 {
				seq = isn[dir]
			}
			dseq := seq // sequence number of the first data byte
			if flags&packet.TCPSyn != 0 {
				dseq++
			}
			for i := 0; i < n; i++ {
				payload[i] = canon(dseq + uint32(i))
				if corrupt {
					payload[i] ^= 0x5a
					chk.corrupt = true
				}
			}
			p := mkpkt(dir, flags, seq, ack, string(payload[:n]))
			if b[0]&0x40 != 0 {
				p.Flags |= packet.FlagTCPWScale
				p.TCPWScale = b[3] & 15
			}
			s := tr.Process(p, fl)
			if st := tr.Stats(); st.ReassemblyMem > cfg.ReassemblyMemcap && cfg.ReassemblyMemcap != 0 {
				t.Fatalf("reassembly memory %d over memcap", st.ReassemblyMem)
			}
			if s == nil {
				continue
			}
			for d := ToServer; d <= ToClient; d++ {
				h := &s.half[d]
				if h.started && (seqGT(h.appNext, h.contig) || seqGT(h.rawNext, h.frozen) || seqLT(h.appNext, h.base)) {
					t.Fatalf("dir %v: base %d app %d raw %d contig %d frozen %d", d, h.base, h.appNext, h.rawNext, h.contig, h.frozen)
				}
				raw, off := s.RawData(d)
				if !chk.corrupt {
					for i, c := range raw {
						if q := h.start + uint32(off) + uint32(i); c != canon(q) {
							t.Fatalf("raw dir %v seq %d = %d want %d", d, q, c, canon(q))
						}
					}
				}
				s.RawConsume(d, len(raw)/2+1)
			}
		}
		tr.FlowEnd(fl, func(s *Session, d Dir, data []byte) {})
		if st := tr.Stats(); st.Active != 0 || st.ReassemblyMem != 0 {
			t.Fatalf("after flow end: %+v", st)
		}
	})
}
