package engine

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/detect/rules"
)

// xbits are named bits kept per host (track ip_src / ip_dst) or per host
// pair (track ip_pair), with an expiry:
//
//	xbits:<set|unset|toggle|isset|isnotset>,<name>,track <ip_src|ip_dst|ip_pair>[,expire <seconds>]
//
// Unlike flowbits they outlive flows and are seen by every worker, so they
// live in one store per Engine behind a mutex, touched only by signatures
// that use xbits. A set bit without expire lasts defaultXbitExpire
// seconds (Suricata's default). Setting a bit for a new host allocates its
// map entry once; expired entries are dropped when read and swept when the
// store grows past xbitSweepAt.

const (
	defaultXbitExpire = 30 // seconds
	xbitSweepAt       = 1 << 16
)

type xbitTrack uint8

const (
	trackIPSrc xbitTrack = iota
	trackIPDst
	trackIPPair
)

type xbitOp struct {
	cmd    fbCmd
	id     uint32
	track  xbitTrack
	expire int64 // ns
}

type xbitKey struct {
	id   uint32
	a, b netip.Addr
}

// xbitStore holds the xbits of an Engine: key -> expiry time (ns).
type xbitStore struct {
	mu   sync.Mutex
	bits map[xbitKey]int64
	ids  map[string]uint32
}

func (op *xbitOp) key(p *packet.Packet) xbitKey {
	k := xbitKey{id: op.id}
	switch op.track {
	case trackIPSrc:
		k.a = p.SrcIP
	case trackIPDst:
		k.a = p.DstIP
	case trackIPPair:
		// A pair is the same in both directions.
		k.a, k.b = p.SrcIP, p.DstIP
		if k.b.Less(k.a) {
			k.a, k.b = k.b, k.a
		}
	}
	return k
}

// isSet reports whether the bit is set and not expired at time now.
func (st *xbitStore) isSet(k xbitKey, now int64) bool {
	exp, ok := st.bits[k]
	if !ok {
		return false
	}
	if exp <= now {
		delete(st.bits, k)
		return false
	}
	return true
}

// xbitsMatch evaluates the signature's xbits tests.
func (t *Thread) xbitsMatch(s *Signature, p *packet.Packet) bool {
	st := t.e.xbits
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := range s.xbRead {
		op := &s.xbRead[i]
		set := st.isSet(op.key(p), p.TimeNs)
		if set != (op.cmd == fbIsset) {
			return false
		}
	}
	return true
}

// xbitsWrite applies the signature's xbits changes after it matched.
func (t *Thread) xbitsWrite(s *Signature, p *packet.Packet) {
	st := t.e.xbits
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.bits) >= xbitSweepAt {
		for k, exp := range st.bits {
			if exp <= p.TimeNs {
				delete(st.bits, k)
			}
		}
	}
	for i := range s.xbWrite {
		op := &s.xbWrite[i]
		k := op.key(p)
		switch op.cmd {
		case fbSet:
			st.bits[k] = p.TimeNs + op.expire
		case fbUnset:
			delete(st.bits, k)
		case fbToggle:
			if st.isSet(k, p.TimeNs) {
				delete(st.bits, k)
			} else {
				st.bits[k] = p.TimeNs + op.expire
			}
		}
	}
}

func setupXbits(b *builder, o rules.Option) error {
	parts := rules.SplitArgs(o.Value)
	if len(parts) < 3 || len(parts) > 4 {
		return errFmt("invalid value %q (want CMD,NAME,track ip_src|ip_dst|ip_pair[,expire N])", o.Value)
	}
	op := xbitOp{expire: defaultXbitExpire * 1e9}
	cmd, ok := bitCommands[strings.ToLower(strings.TrimSpace(parts[0]))]
	if !ok {
		return errFmt("unknown command %q (want set, unset, toggle, isset or isnotset)", parts[0])
	}
	op.cmd = cmd
	name := strings.TrimSpace(parts[1])
	if !validVarName(name) {
		return errFmt("invalid name %q", name)
	}
	tk, tv, _ := strings.Cut(strings.TrimSpace(parts[2]), " ")
	if strings.ToLower(tk) != "track" {
		return errFmt("want \"track ip_src|ip_dst|ip_pair\", got %q", parts[2])
	}
	switch strings.ToLower(strings.TrimSpace(tv)) {
	case "ip_src":
		op.track = trackIPSrc
	case "ip_dst":
		op.track = trackIPDst
	case "ip_pair":
		op.track = trackIPPair
	default:
		return errFmt("unknown track %q (want ip_src, ip_dst or ip_pair)", tv)
	}
	if len(parts) == 4 {
		ek, ev, _ := strings.Cut(strings.TrimSpace(parts[3]), " ")
		if strings.ToLower(ek) != "expire" {
			return errFmt("want \"expire N\", got %q", parts[3])
		}
		n, err := strconv.ParseUint(strings.TrimSpace(ev), 10, 32)
		if err != nil || n == 0 {
			return errFmt("invalid expire %q (want seconds > 0)", ev)
		}
		op.expire = int64(n) * 1e9
	}
	op.id = b.cc.xbit(name)
	if op.cmd == fbIsset || op.cmd == fbIsnotset {
		b.sig.xbRead = append(b.sig.xbRead, op)
	} else {
		b.sig.xbWrite = append(b.sig.xbWrite, op)
	}
	return nil
}

func (c *compileCtx) xbit(name string) uint32 {
	if c.xbits == nil {
		c.xbits = map[string]uint32{}
	}
	if id, ok := c.xbits[name]; ok {
		return id
	}
	id := uint32(len(c.xbits))
	c.xbits[name] = id
	return id
}

func init() {
	register(&keyword{name: "xbits", setup: setupXbits})
}
