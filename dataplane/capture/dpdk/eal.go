//go:build dpdk

package dpdk

/*
#cgo pkg-config: libdpdk
#include <stdlib.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include "vigil_dpdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"unsafe"
)

// Sentinel errors, for errors.Is.
var (
	// ErrEALInitialized: InitEAL was already called in this process (DPDK's
	// environment can be set up only once, even after a failed attempt).
	ErrEALInitialized = errors.New("dpdk: EAL already initialised")
	// ErrEALNotInitialized: a function that needs the EAL ran before InitEAL.
	ErrEALNotInitialized = errors.New("dpdk: EAL not initialised (call InitEAL first)")
	// ErrPortNotFound: no ethdev port has the given name or id.
	ErrPortNotFound = errors.New("dpdk: no such port")
	// ErrQueueInUse: another Source already receives on (or transmits to)
	// this port queue.
	ErrQueueInUse = errors.New("dpdk: queue in use")
	// ErrPortInUse: the port still has Sources that use it.
	ErrPortInUse = errors.New("dpdk: port in use")
	// ErrClosed: the Source, Port or Mempool was closed.
	ErrClosed = errors.New("dpdk: closed")
)

// DPDK's own errno values above the system ones (rte_errno.h).
const (
	errRTESecondary = 1001 // E_RTE_SECONDARY
	errRTENoConfig  = 1002 // E_RTE_NO_CONFIG
)

// Errno is an errno value a DPDK function returned (negated back to
// positive). Values below 1000 are system errnos (Errno.Unwrap gives the
// syscall.Errno, so errors.Is(err, syscall.ENODEV) works).
type Errno int

func (e Errno) Error() string {
	switch e {
	case errRTESecondary:
		return "operation not allowed in secondary processes"
	case errRTENoConfig:
		return "missing rte_config"
	}
	return syscall.Errno(e).Error()
}

// Unwrap returns the syscall.Errno of a system errno value.
func (e Errno) Unwrap() error {
	if e < 1000 {
		return syscall.Errno(e)
	}
	return nil
}

// errno turns a negative DPDK return value (or a positive errno) into an
// Errno.
func errno(ret C.int) error {
	if ret < 0 {
		ret = -ret
	}
	return Errno(ret)
}

var eal struct {
	mu      sync.Mutex
	tried   bool
	ok      bool
	args    []string // what rte_eal_init got, argv[0] included
	lastErr error
}

// EALArgs returns the arguments the EAL was initialised with (argv[0]
// included, the added defaults too), or nil before InitEAL.
func EALArgs() []string {
	eal.mu.Lock()
	defer eal.mu.Unlock()
	return append([]string(nil), eal.args...)
}

// EALInitialized reports whether InitEAL succeeded.
func EALInitialized() bool {
	eal.mu.Lock()
	defer eal.mu.Unlock()
	return eal.ok
}

func ealReady() error {
	eal.mu.Lock()
	defer eal.mu.Unlock()
	if !eal.ok {
		return ErrEALNotInitialized
	}
	return nil
}

// EALArgsWithDefaults returns args as InitEAL passes them to rte_eal_init:
// argv[0] "vigil" first, then args, then each default the caller did not
// override (see InitEAL).
func EALArgsWithDefaults(args []string) []string {
	has := func(names ...string) bool {
		for _, a := range args {
			for _, n := range names {
				if a == n || len(a) > len(n) && a[:len(n)] == n && (a[len(n)] == '=' || n[1] != '-') {
					return true
				}
			}
		}
		return false
	}
	out := make([]string, 0, len(args)+4)
	out = append(out, "vigil")
	out = append(out, args...)
	if !has("--no-pci", "-a", "--allow", "-b", "--block", "--pci-whitelist", "--pci-blacklist") {
		out = append(out, "--no-pci")
	}
	if !has("--no-shconf", "--in-memory", "--proc-type", "--file-prefix") {
		out = append(out, "--no-shconf")
	}
	if !has("--no-telemetry", "--telemetry") {
		out = append(out, "--no-telemetry")
	}
	return out
}

// InitEAL initialises DPDK's environment abstraction layer. It may be called
// once per process: a second call returns ErrEALInitialized, also after a
// failed first call (rte_eal_init cannot be retried).
//
// args are EAL arguments without argv[0] (e.g. "-l", "0", "--vdev",
// "net_pcap0,rx_pcap=in.pcap"). InitEAL adds, unless args already say
// otherwise:
//   - "--no-pci" unless args name PCI devices (-a/--allow, -b/--block):
//     Vigil never grabs every PCI NIC of the machine by accident;
//   - "--no-shconf" unless args choose --in-memory, --proc-type or
//     --file-prefix: no shared config file in /var/run/dpdk, so several
//     Vigil processes (and tests) do not collide;
//   - "--no-telemetry" unless args mention --telemetry.
//
// No lcore list is added: pass "-l N" (the cores DPDK's own threads may
// use). rte_eal_init pins the thread that calls it to the main lcore, so
// InitEAL runs it on a locked OS thread that is discarded afterwards; Go's
// other threads keep their CPU affinity. Capture runs on ordinary goroutines
// (non-EAL threads, see RegisterThread).
//
// Whether root is needed depends on the arguments: with --no-huge and
// virtual devices DPDK only needs what the devices need (net_pcap: the
// files; net_af_packet/net_af_xdp: CAP_NET_RAW/CAP_NET_ADMIN); the tests
// pass as an unprivileged user. Hugepages and PCI devices need root (or
// VFIO permissions).
func InitEAL(args []string) error {
	eal.mu.Lock()
	defer eal.mu.Unlock()
	if eal.tried {
		if eal.lastErr != nil {
			return fmt.Errorf("%w (first attempt failed: %v)", ErrEALInitialized, eal.lastErr)
		}
		return ErrEALInitialized
	}
	eal.tried = true
	full := EALArgsWithDefaults(args)

	done := make(chan C.int)
	go func() {
		// Never unlocked: the thread rte_eal_init pinned to the main
		// lcore ends with this goroutine.
		runtime.LockOSThread()
		argv := C.calloc(C.size_t(len(full)+1), C.size_t(unsafe.Sizeof((*C.char)(nil))))
		av := unsafe.Slice((**C.char)(argv), len(full)+1)
		for i, a := range full {
			// The strings stay allocated: the EAL may keep pointers
			// into argv for the life of the process.
			av[i] = C.CString(a)
		}
		done <- C.vigil_eal_init(C.int(len(full)), (**C.char)(argv))
	}()
	ret := <-done
	if ret < 0 {
		eal.lastErr = fmt.Errorf("dpdk: rte_eal_init %q: %w", full[1:], errno(ret))
		return eal.lastErr
	}
	eal.ok = true
	eal.args = full
	return nil
}

// RegisterThread gives the calling OS thread a DPDK lcore id
// (rte_thread_register), so mempool operations on it use a per-lcore cache
// instead of the shared ring. Call it from a goroutine locked to its thread
// (runtime.LockOSThread) that runs one Source, and UnregisterThread before
// unlocking. Without it everything works, only mbuf alloc/free go to the
// pool's ring every time. Returns the lcore id given.
func RegisterThread() (int, error) {
	if err := ealReady(); err != nil {
		return 0, err
	}
	ret := C.vigil_thread_register()
	if ret < 0 {
		return 0, fmt.Errorf("dpdk: rte_thread_register: %w", errno(ret))
	}
	return int(ret), nil
}

// UnregisterThread releases the lcore id RegisterThread gave the calling
// thread.
func UnregisterThread() {
	if ealReady() == nil {
		C.vigil_thread_unregister()
	}
}

// Mempool defaults.
const (
	// DefaultPoolSize is the default number of mbufs of a pool (2^n-1 is
	// what DPDK's ring-based pools use best).
	DefaultPoolSize = 8191
	// DefaultPoolCache is the default per-lcore cache size.
	DefaultPoolCache = 256
	// DefaultDataRoom is the default mbuf data room: 2048 bytes of frame
	// plus RTE_PKTMBUF_HEADROOM (128).
	DefaultDataRoom = C.RTE_MBUF_DEFAULT_BUF_SIZE
	// maxPoolCache is RTE_MEMPOOL_CACHE_MAX_SIZE.
	maxPoolCache = C.RTE_MEMPOOL_CACHE_MAX_SIZE
	// Headroom is the space rte_pktmbuf reserves in front of the frame.
	Headroom = C.RTE_PKTMBUF_HEADROOM
)

// PoolOptions size an mbuf pool. Zero fields take the defaults.
type PoolOptions struct {
	// Name of the pool, unique in the process (default: generated).
	Name string
	// Size is the number of mbufs (default DefaultPoolSize). It must cover
	// every rx descriptor of the ports using the pool, the tx descriptors
	// of the ports forwarded to, the packets lent out in batches, and the
	// per-lcore caches.
	Size int
	// Cache is the per-lcore cache size (default DefaultPoolCache, at most
	// 512 and Size/1.5); -1 means no cache.
	Cache int
	// DataRoom is each mbuf's data room in bytes, headroom included
	// (default DefaultDataRoom). Frames longer than DataRoom-Headroom
	// arrive as multi-segment mbufs, which Sources drop (and count).
	DataRoom int
	// Socket is the NUMA socket to allocate on (default -1: any).
	Socket *int
}

// Mempool is a pool of packet mbufs (rte_pktmbuf_pool_create). It owns C
// memory; Free returns it, after every port using it is closed.
type Mempool struct {
	mp   *C.struct_rte_mempool
	name string
	size int
}

var poolSeq struct {
	sync.Mutex
	n int
}

// NewMempool creates an mbuf pool.
func NewMempool(opts PoolOptions) (*Mempool, error) {
	if err := ealReady(); err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		poolSeq.Lock()
		poolSeq.n++
		name = fmt.Sprintf("vigil_pool%d", poolSeq.n)
		poolSeq.Unlock()
	}
	if len(name) >= C.RTE_MEMPOOL_NAMESIZE-len(C.RTE_MEMPOOL_MZ_PREFIX) {
		return nil, fmt.Errorf("dpdk: mempool name %q longer than %d bytes", name, C.RTE_MEMPOOL_NAMESIZE-len(C.RTE_MEMPOOL_MZ_PREFIX)-1)
	}
	size := opts.Size
	if size == 0 {
		size = DefaultPoolSize
	}
	if size < 1 || size > 1<<30 {
		return nil, fmt.Errorf("dpdk: mempool %s: size %d outside 1..2^30", name, size)
	}
	cache := opts.Cache
	switch {
	case cache == 0:
		cache = DefaultPoolCache
	case cache < 0:
		cache = 0
	}
	if cache > maxPoolCache {
		cache = maxPoolCache
	}
	if float64(cache)*1.5 > float64(size) {
		cache = int(float64(size) / 1.5)
	}
	room := opts.DataRoom
	if room == 0 {
		room = DefaultDataRoom
	}
	if room <= Headroom || room > 0xffff {
		return nil, fmt.Errorf("dpdk: mempool %s: data room %d outside %d..65535", name, room, Headroom+1)
	}
	socket := C.int(C.SOCKET_ID_ANY)
	if opts.Socket != nil {
		socket = C.int(*opts.Socket)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var cerr C.int
	mp := C.vigil_pool_create(cname, C.uint(size), C.uint(cache), C.uint16_t(room), socket, &cerr)
	if mp == nil {
		return nil, fmt.Errorf("dpdk: rte_pktmbuf_pool_create %s (%d mbufs of %d bytes): %w", name, size, room, errno(cerr))
	}
	return &Mempool{mp: mp, name: name, size: size}, nil
}

// Name returns the pool's name.
func (m *Mempool) Name() string { return m.name }

// Size returns the number of mbufs in the pool.
func (m *Mempool) Size() int { return m.size }

// Available returns how many mbufs are free (in the ring and the caches).
func (m *Mempool) Available() int {
	if m.mp == nil {
		return 0
	}
	return int(C.vigil_pool_avail(m.mp))
}

// InUse returns how many mbufs are allocated (in rx rings, batches, tx
// rings).
func (m *Mempool) InUse() int {
	if m.mp == nil {
		return 0
	}
	return int(C.vigil_pool_in_use(m.mp))
}

// Free releases the pool. No port may still use it.
func (m *Mempool) Free() {
	if m.mp != nil {
		C.vigil_pool_free(m.mp)
		m.mp = nil
	}
}
