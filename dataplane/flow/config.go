package flow

import (
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// Timeouts are the idle times after which a flow of one protocol class ends,
// per state, in normal and in emergency mode. A flow times out when more than
// the timeout has passed, in packet time, since its last packet.
type Timeouts struct {
	New, Established, Closed                            time.Duration
	EmergencyNew, EmergencyEstablished, EmergencyClosed time.Duration
}

// Config configures a Table. The zero value of a field means its default;
// DefaultConfig returns all defaults filled in.
type Config struct {
	// Per-class timeouts. A class whose Timeouts are all zero gets the
	// default (Suricata's flow-timeouts defaults).
	TCP, UDP, ICMP, Default Timeouts

	// Memcap bounds the table's memory in bytes: the hash buckets plus the
	// flow pool. Default 32 MiB. MaxFlows, when set, bounds the number of
	// flows instead (or as well, if both are set: the lower bound wins).
	Memcap   uint64
	MaxFlows int
	// HashSize is the number of hash buckets, rounded up to a power of two.
	// Default 65536.
	HashSize int
	// Prealloc is how many flows are allocated up front (the pool grows in
	// chunks up to the cap later). Default 10000, at most the cap.
	Prealloc int

	// Seed keys the hash (flooding resistance). 0 picks a random seed.
	Seed uint64
	// Shard is the number of this table among the run's tables (a worker
	// id); it is the low 8 bits of every flow ID, so tables of one run never
	// hand out the same ID.
	Shard uint8

	// EmergencyRecovery is the percentage of the flow cap that must be free
	// again before emergency mode ends. Default 30 (Suricata's).
	EmergencyRecovery int

	// OnEnd sees each flow that Lookup itself ends: a timed-out flow whose
	// key comes back, a closed TCP flow whose ports are reused by a new SYN,
	// and timed-out flows reclaimed when the pool is full. Flows ended by
	// Expire and Flush go to their callbacks instead. It must not call the
	// table. Nil: such flows end unseen.
	OnEnd func(*Flow)
}

// Defaults of Suricata 7 (suricata.yaml flow / flow-timeouts).
const (
	DefaultMemcap            = 32 << 20
	DefaultHashSize          = 65536
	DefaultPrealloc          = 10000
	DefaultEmergencyRecovery = 30
	maxHashSize              = 1 << 26
	maxFlowsLimit            = 1<<32 - 2
)

// DefaultTimeouts returns Suricata's default timeouts of a protocol class.
func DefaultTimeouts(p Proto) Timeouts {
	s := time.Second
	switch p {
	case ProtoTCP:
		return Timeouts{New: 60 * s, Established: 600 * s, Closed: 60 * s,
			EmergencyNew: 5 * s, EmergencyEstablished: 100 * s, EmergencyClosed: 10 * s}
	case ProtoUDP, ProtoICMP:
		return Timeouts{New: 30 * s, Established: 300 * s,
			EmergencyNew: 10 * s, EmergencyEstablished: 100 * s}
	}
	return Timeouts{New: 30 * s, Established: 300 * s,
		EmergencyNew: 10 * s, EmergencyEstablished: 100 * s}
}

// DefaultConfig returns a Config with every default filled in (Seed 0: a
// random seed per table).
func DefaultConfig() Config {
	return Config{
		TCP:               DefaultTimeouts(ProtoTCP),
		UDP:               DefaultTimeouts(ProtoUDP),
		ICMP:              DefaultTimeouts(ProtoICMP),
		Default:           DefaultTimeouts(ProtoOther),
		Memcap:            DefaultMemcap,
		HashSize:          DefaultHashSize,
		Prealloc:          DefaultPrealloc,
		EmergencyRecovery: DefaultEmergencyRecovery,
	}
}

// FlowBytes is the memory one pooled flow takes, as counted against Memcap.
const FlowBytes = int(unsafe.Sizeof(Flow{}))

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("flow: invalid config")

func (t *Timeouts) validate(name string) error {
	vals := [...]struct {
		n string
		d time.Duration
	}{
		{"new", t.New}, {"established", t.Established}, {"closed", t.Closed},
		{"emergency-new", t.EmergencyNew}, {"emergency-established", t.EmergencyEstablished},
		{"emergency-closed", t.EmergencyClosed},
	}
	for _, v := range vals {
		if v.d < 0 {
			return fmt.Errorf("%w: flow-timeouts.%s.%s is negative (%v)", ErrConfig, name, v.n, v.d)
		}
	}
	return nil
}

// normalize fills defaults and checks c, returning the flow cap and the
// bucket count.
func (c *Config) normalize() (maxFlows, hashSize int, err error) {
	for _, tc := range [...]struct {
		t *Timeouts
		p Proto
	}{{&c.TCP, ProtoTCP}, {&c.UDP, ProtoUDP}, {&c.ICMP, ProtoICMP}, {&c.Default, ProtoOther}} {
		if *tc.t == (Timeouts{}) {
			*tc.t = DefaultTimeouts(tc.p)
		}
		if err := tc.t.validate(tc.p.String()); err != nil {
			return 0, 0, err
		}
	}
	if c.HashSize < 0 || c.HashSize > maxHashSize {
		return 0, 0, fmt.Errorf("%w: hash-size %d is outside 1..%d", ErrConfig, c.HashSize, maxHashSize)
	}
	if c.HashSize == 0 {
		c.HashSize = DefaultHashSize
	}
	hashSize = 1
	for hashSize < c.HashSize {
		hashSize <<= 1
	}
	c.HashSize = hashSize
	if c.MaxFlows < 0 {
		return 0, 0, fmt.Errorf("%w: max-flows %d is negative", ErrConfig, c.MaxFlows)
	}
	if c.Prealloc < 0 {
		return 0, 0, fmt.Errorf("%w: prealloc %d is negative", ErrConfig, c.Prealloc)
	}
	if c.EmergencyRecovery < 0 || c.EmergencyRecovery > 100 {
		return 0, 0, fmt.Errorf("%w: emergency-recovery %d is outside 0..100", ErrConfig, c.EmergencyRecovery)
	}
	if c.EmergencyRecovery == 0 {
		c.EmergencyRecovery = DefaultEmergencyRecovery
	}
	if c.Memcap == 0 && c.MaxFlows == 0 {
		c.Memcap = DefaultMemcap
	}
	maxFlows = maxFlowsLimit
	if c.MaxFlows > 0 && c.MaxFlows < maxFlows {
		maxFlows = c.MaxFlows
	}
	if c.Memcap > 0 {
		buckets := uint64(hashSize) * 4
		if c.Memcap < buckets+uint64(FlowBytes) {
			return 0, 0, fmt.Errorf("%w: memcap %d bytes does not hold the %d hash buckets (%d bytes) and one flow (%d bytes)",
				ErrConfig, c.Memcap, hashSize, buckets, FlowBytes)
		}
		if n := (c.Memcap - buckets) / uint64(FlowBytes); n < uint64(maxFlows) {
			maxFlows = int(n)
		}
	}
	if c.Prealloc == 0 {
		c.Prealloc = DefaultPrealloc
	}
	if c.Prealloc > maxFlows {
		c.Prealloc = maxFlows
	}
	return maxFlows, hashSize, nil
}
