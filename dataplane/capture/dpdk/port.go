//go:build dpdk

package dpdk

/*
#include <stdlib.h>
#include <rte_ethdev.h>
#include "vigil_dpdk.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"sync"
	"unsafe"
)

// Port defaults.
const (
	DefaultRxDesc = 1024 // rx descriptors per queue
	DefaultTxDesc = 1024 // tx descriptors per queue
	// MaxQueues is the most rx/tx queue pairs ConfigurePort accepts.
	MaxQueues = C.RTE_MAX_QUEUES_PER_PORT
)

// PortConfig says how ConfigurePort sets a port up. Zero fields take the
// defaults.
type PortConfig struct {
	// Queues is the number of rx/tx queue pairs, one per worker (default
	// 1). With more than one, RSS spreads flows over the rx queues with a
	// symmetric key (both directions of a flow on the same queue) when the
	// device supports RSS.
	Queues int
	// RxDesc and TxDesc are the descriptors per queue (defaults
	// DefaultRxDesc, DefaultTxDesc); the device may adjust them to its
	// limits (Port.RxDesc, Port.TxDesc report what it took).
	RxDesc, TxDesc int
	// Promisc enables promiscuous mode.
	Promisc bool
	// Pool is the mbuf pool the rx queues fill from. Nil: the port creates
	// its own pool from PoolOptions (sized for the queues if PoolOptions.Size
	// is 0) and frees it on Close.
	Pool *Mempool
	// PoolOptions size the port's own pool when Pool is nil.
	PoolOptions PoolOptions
}

// PortStats are a port's rte_eth_stats counters since ConfigurePort.
type PortStats struct {
	RxPackets, RxBytes uint64 // ipackets, ibytes
	RxMissed           uint64 // imissed: dropped by the device, rx queue full
	RxErrors           uint64 // ierrors: erroneous frames the device dropped
	RxNoMbuf           uint64 // rx_nombuf: mbuf allocation failures
	TxPackets, TxBytes uint64 // opackets, obytes
	TxErrors           uint64 // oerrors
}

// Dropped returns the frames the port lost before software saw them:
// RxMissed + RxErrors + RxNoMbuf (as Suricata counts them).
func (s PortStats) Dropped() uint64 { return s.RxMissed + s.RxErrors + s.RxNoMbuf }

// Port is a configured and started ethdev port with Queues() rx/tx queue
// pairs. Sources (Open) receive on one rx queue each; a Source that forwards
// to a peer port transmits on the peer's tx queue of the same number.
// Source.Inject may also transmit on the tx queue of the Source's own port,
// which the opposite Source of a bridge forwards to, so each tx queue has a
// mutex, taken once per burst.
type Port struct {
	id       uint16
	name     string
	driver   string
	queues   int
	rxDesc   int
	txDesc   int
	reqRx    int // RxDesc as asked for (before the device's adjustment)
	reqTx    int
	promisc  bool
	rssHF    uint64
	pool     *Mempool
	ownPool  bool
	implicit bool // configured by Open, closed with its last user

	// txMu serialises the tx queues (per queue): a Source forwarding to
	// this port and a Source injecting toward the sender of a packet it
	// received here may use the same queue from different goroutines.
	txMu []sync.Mutex

	// guarded by registry.mu
	rxUsers []*Source // per queue: the Source receiving on it
	txUsers []*Source // per queue: the Source transmitting on it
	closed  bool
	base    C.struct_vigil_port_stats
}

var registry struct {
	mu    sync.Mutex
	ports map[uint16]*Port
}

// resolvePort finds the port id of a device name ("net_pcap0",
// "0000:3b:00.0") or of a decimal port id.
func resolvePort(name string) (uint16, error) {
	if name == "" {
		return 0, fmt.Errorf("dpdk: empty port name: %w", ErrPortNotFound)
	}
	if id, err := strconv.ParseUint(name, 10, 16); err == nil {
		if C.vigil_port_valid(C.uint16_t(id)) == 0 {
			return 0, fmt.Errorf("dpdk: port id %d: %w", id, ErrPortNotFound)
		}
		return uint16(id), nil
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var id C.uint16_t
	if ret := C.vigil_port_by_name(cname, &id); ret != 0 {
		return 0, fmt.Errorf("dpdk: port %q: %w (%w)", name, ErrPortNotFound, errno(ret))
	}
	return uint16(id), nil
}

func portName(id uint16) string {
	var buf [C.RTE_ETH_NAME_MAX_LEN]C.char
	if C.vigil_port_name(C.uint16_t(id), &buf[0]) != 0 {
		return strconv.Itoa(int(id))
	}
	return C.GoString(&buf[0])
}

var setupSteps = [...]string{
	C.VIGIL_STEP_INFO:        "rte_eth_dev_info_get",
	C.VIGIL_STEP_CONFIGURE:   "rte_eth_dev_configure",
	C.VIGIL_STEP_ADJUST_DESC: "rte_eth_dev_adjust_nb_rx_tx_desc",
	C.VIGIL_STEP_RXQ:         "rte_eth_rx_queue_setup",
	C.VIGIL_STEP_TXQ:         "rte_eth_tx_queue_setup",
	C.VIGIL_STEP_START:       "rte_eth_dev_start",
	C.VIGIL_STEP_PROMISC:     "rte_eth_promiscuous_enable",
	C.VIGIL_STEP_STATS:       "rte_eth_stats_get",
}

// ConfigurePort configures the port named name (device name or decimal
// port id) with cfg, sets its queues up and starts it. A port can be
// configured once until it is closed.
func ConfigurePort(name string, cfg PortConfig) (*Port, error) {
	if err := ealReady(); err != nil {
		return nil, err
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return configureLocked(name, cfg, false)
}

func configureLocked(name string, cfg PortConfig, implicit bool) (*Port, error) {
	id, err := resolvePort(name)
	if err != nil {
		return nil, err
	}
	dev := portName(id)
	if p := registry.ports[id]; p != nil {
		return nil, fmt.Errorf("dpdk: port %s (%d) is already configured", dev, id)
	}
	q := cfg.Queues
	if q == 0 {
		q = 1
	}
	if q < 1 || q > MaxQueues {
		return nil, fmt.Errorf("dpdk: port %s: %d queues outside 1..%d", dev, q, MaxQueues)
	}
	rxd, txd := cfg.RxDesc, cfg.TxDesc
	if rxd == 0 {
		rxd = DefaultRxDesc
	}
	if txd == 0 {
		txd = DefaultTxDesc
	}
	if rxd < 1 || rxd > 0xffff || txd < 1 || txd > 0xffff {
		return nil, fmt.Errorf("dpdk: port %s: descriptors rx %d tx %d outside 1..65535", dev, rxd, txd)
	}
	p := &Port{
		id: id, name: dev, queues: q, reqRx: cfg.RxDesc, reqTx: cfg.TxDesc,
		promisc: cfg.Promisc, pool: cfg.Pool, implicit: implicit,
	}
	if p.pool == nil {
		po := cfg.PoolOptions
		if po.Size == 0 {
			// Every rx and tx descriptor full, two bursts of 512
			// lent out per queue, and the caches.
			need := q*(rxd+txd+2*512) + 2*DefaultPoolCache
			size := DefaultPoolSize
			for size < need {
				size = size*2 + 1
			}
			po.Size = size
		}
		if p.pool, err = NewMempool(po); err != nil {
			return nil, fmt.Errorf("dpdk: port %s: %w", dev, err)
		}
		p.ownPool = true
	} else if p.pool.mp == nil {
		return nil, fmt.Errorf("dpdk: port %s: mempool %s: %w", dev, p.pool.name, ErrClosed)
	}
	var info C.struct_vigil_port_info
	var step, qidx C.int
	ret := C.vigil_port_setup(C.uint16_t(id), C.uint16_t(q), C.uint16_t(rxd), C.uint16_t(txd),
		p.pool.mp, boolInt(cfg.Promisc), &info, &step, &qidx)
	if ret != 0 {
		if p.ownPool {
			p.pool.Free()
		}
		what := "setup"
		if int(step) < len(setupSteps) && setupSteps[step] != "" {
			what = setupSteps[step]
		}
		where := ""
		if qidx >= 0 {
			where = fmt.Sprintf(" queue %d", qidx)
		}
		return nil, fmt.Errorf("dpdk: port %s (%d, driver %s, max %d rx / %d tx queues): %s%s: %w",
			dev, id, C.GoString(&info.driver[0]), info.max_rx_queues, info.max_tx_queues, what, where, errno(ret))
	}
	p.driver = C.GoString(&info.driver[0])
	p.rxDesc, p.txDesc = int(info.rx_desc), int(info.tx_desc)
	p.rssHF = uint64(info.rss_hf)
	if ret := C.vigil_port_stats(C.uint16_t(id), &p.base); ret != 0 {
		C.vigil_port_close(C.uint16_t(id))
		if p.ownPool {
			p.pool.Free()
		}
		return nil, fmt.Errorf("dpdk: port %s (%d): rte_eth_stats_get: %w", dev, id, errno(ret))
	}
	p.rxUsers = make([]*Source, q)
	p.txUsers = make([]*Source, q)
	p.txMu = make([]sync.Mutex, q)
	if registry.ports == nil {
		registry.ports = make(map[uint16]*Port)
	}
	registry.ports[id] = p
	return p, nil
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// LookupPort returns the configured port with the given device name or
// decimal id, or nil.
func LookupPort(name string) *Port {
	if ealReady() != nil {
		return nil
	}
	id, err := resolvePort(name)
	if err != nil {
		return nil
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return registry.ports[id]
}

// ID returns the ethdev port id.
func (p *Port) ID() uint16 { return p.id }

// Name returns the device name.
func (p *Port) Name() string { return p.name }

// Driver returns the driver name (e.g. "net_pcap").
func (p *Port) Driver() string { return p.driver }

// Queues returns the number of rx/tx queue pairs.
func (p *Port) Queues() int { return p.queues }

// RxDesc returns the rx descriptors per queue the device took.
func (p *Port) RxDesc() int { return p.rxDesc }

// TxDesc returns the tx descriptors per queue the device took.
func (p *Port) TxDesc() int { return p.txDesc }

// RSS returns the RSS hash functions in use (RTE_ETH_RSS_* bits); 0 when
// the port has one queue or the device has no RSS.
func (p *Port) RSS() uint64 { return p.rssHF }

// Pool returns the mbuf pool the port's rx queues fill from.
func (p *Port) Pool() *Mempool { return p.pool }

// Stats returns the port's counters since ConfigurePort.
func (p *Port) Stats() (PortStats, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return p.statsLocked()
}

func (p *Port) statsLocked() (PortStats, error) {
	if p.closed {
		return PortStats{}, fmt.Errorf("dpdk: port %s: %w", p.name, ErrClosed)
	}
	var s C.struct_vigil_port_stats
	if ret := C.vigil_port_stats(C.uint16_t(p.id), &s); ret != 0 {
		return PortStats{}, fmt.Errorf("dpdk: port %s (%d): rte_eth_stats_get: %w", p.name, p.id, errno(ret))
	}
	b := &p.base
	d := func(now, base C.uint64_t) uint64 {
		if now < base {
			return 0
		}
		return uint64(now - base)
	}
	return PortStats{
		RxPackets: d(s.ipackets, b.ipackets), RxBytes: d(s.ibytes, b.ibytes),
		RxMissed: d(s.imissed, b.imissed), RxErrors: d(s.ierrors, b.ierrors),
		RxNoMbuf:  d(s.rx_nombuf, b.rx_nombuf),
		TxPackets: d(s.opackets, b.opackets), TxBytes: d(s.obytes, b.obytes),
		TxErrors: d(s.oerrors, b.oerrors),
	}, nil
}

func (p *Port) usersLocked() int {
	n := 0
	for i := range p.rxUsers {
		if p.rxUsers[i] != nil {
			n++
		}
		if p.txUsers[i] != nil {
			n++
		}
	}
	return n
}

// Close stops and closes the port (rte_eth_dev_stop, rte_eth_dev_close)
// and frees the pool the port created. Every Source receiving on it or
// forwarding to it must be closed first (else ErrPortInUse). A virtual
// device is released by the close: it cannot be configured again in this
// process.
func (p *Port) Close() error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if p.closed {
		return nil
	}
	if n := p.usersLocked(); n > 0 {
		return fmt.Errorf("dpdk: port %s: %d sources still use it: %w", p.name, n, ErrPortInUse)
	}
	return p.closeLocked()
}

func (p *Port) closeLocked() error {
	p.closed = true
	delete(registry.ports, p.id)
	ret := C.vigil_port_close(C.uint16_t(p.id))
	if p.ownPool {
		p.pool.Free()
	}
	if ret != 0 {
		return fmt.Errorf("dpdk: port %s (%d): closing: %w", p.name, p.id, errno(ret))
	}
	return nil
}
