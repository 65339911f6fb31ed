package profiles

import (
	"bufio"
	"bytes"
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Machine is what a profile's "auto" values are computed from.
//
// The formulas (C = CPUs, M = MemoryBytes, W = workers):
//
//	workers                   runmode single: 1; else C-1 when C >= 4, else C
//	cpu.management            "0"
//	cpu.worker                "1-W" when W < C, else "0-(C-1)" (all CPUs, shared)
//	cpu.receive, cpu.verdict  the worker set (workers receive and issue verdicts)
//	"all" in a CPU set        "0-(C-1)"
//	rings.size                1024 when M < 8 GiB, 4096 when M < 64 GiB, else 8192
//	afpacket.blocks           clamp(M/512/W, 4 MiB, 64 MiB) / block-size, at least 8
//	afxdp.ring-size           2048 when M < 8 GiB, else 4096
//	afxdp.frames              2 x ring-size per queue (fill + rx); 4 x with ips (+ tx, completion)
//	nfqueue.queues            "0" when W = 1, else "0:(W-1)"
//	dpdk.rx-/tx-descriptors   1024 when M < 8 GiB, else 4096
//	dpdk.mempool-size         2^n-1 >= 2 x (rx + tx) x W x ports
//	flow.memcap               clamp(M/32,  32 MiB, 4 GiB)
//	flow.hash-size            clamp(largest power of two <= memcap/2 KiB, 4096, 2^24)
//	stream.memcap             clamp(M/64,  64 MiB, 2 GiB)
//	stream.reassembly.memcap  clamp(M/16, 256 MiB, 8 GiB)
//	defrag.memcap             clamp(M/128, 32 MiB, 1 GiB)
//
// Memcaps are totals for the engine; the pipeline divides them among the
// workers. Together the four memcaps take about 12% of memory between the
// floors and ceilings.
type Machine struct {
	CPUs        int    // CPUs this process may run on
	MemoryBytes uint64 // memory it may use
}

// String describes the machine: "8 CPUs, 24 GiB".
func (m Machine) String() string {
	return fmt.Sprintf("%d CPUs, %s", m.CPUs, humanBytes(m.MemoryBytes))
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%d MiB", n>>20)
	}
}

// ThisMachine reads the CPUs this process may run on (its affinity mask)
// and its memory: MemTotal from /proc/meminfo, or the cgroup v2 limit
// (memory.max) when lower.
func ThisMachine() (Machine, error) {
	var m Machine
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return m, fmt.Errorf("sched_getaffinity: %w", err)
	}
	m.CPUs = set.Count()
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return m, fmt.Errorf("machine memory: %w", err)
	}
	m.MemoryBytes, err = memTotal(data)
	if err != nil {
		return m, fmt.Errorf("/proc/meminfo: %w", err)
	}
	if limit, ok := cgroupMemoryLimit(); ok && limit < m.MemoryBytes {
		m.MemoryBytes = limit
	}
	return m, nil
}

// memTotal reads "MemTotal:  16314004 kB" from /proc/meminfo.
func memTotal(data []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("MemTotal %q: %w", f[1], err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal line")
}

// cgroupMemoryLimit reads this process's cgroup v2 memory.max.
func cgroupMemoryLimit() (uint64, bool) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		path, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		v, err := os.ReadFile("/sys/fs/cgroup" + strings.TrimSpace(path) + "/memory.max")
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(v)), 10, 64)
		if err != nil { // "max"
			return 0, false
		}
		return n, true
	}
	return 0, false
}

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

func clampU(v, lo, hi uint64) uint64 { return max(lo, min(v, hi)) }

// pow2floor is the largest power of two <= v (v >= 1).
func pow2floor(v uint64) uint64 { return 1 << (63 - bits.LeadingZeros64(v|1)) }

// pow2ceil is the smallest power of two >= v.
func pow2ceil(v uint64) uint64 {
	if v <= 1 {
		return 1
	}
	return 1 << (64 - bits.LeadingZeros64(v-1))
}

// autoWorkers is the worker count of a machine.
func autoWorkers(m Machine, runmode string) int {
	switch {
	case runmode == "single" || m.CPUs <= 1:
		return 1
	case m.CPUs >= 4:
		return m.CPUs - 1
	}
	return m.CPUs
}

func autoWorkerCPUs(m Machine, workers int) CPUList {
	if workers < m.CPUs {
		return cpuRange(1, workers)
	}
	return cpuRange(0, m.CPUs-1)
}

func autoRingSize(m Machine) int {
	switch {
	case m.MemoryBytes < 8*gib:
		return 1024
	case m.MemoryBytes < 64*gib:
		return 4096
	}
	return 8192
}

func autoDescriptors(m Machine) int {
	if m.MemoryBytes < 8*gib {
		return 1024
	}
	return 4096
}

func autoXDPRing(m Machine) int {
	if m.MemoryBytes < 8*gib {
		return 2048
	}
	return 4096
}

func autoFlowMemcap(m Machine) uint64   { return clampU(m.MemoryBytes/32, 32*mib, 4*gib) }
func autoStreamMemcap(m Machine) uint64 { return clampU(m.MemoryBytes/64, 64*mib, 2*gib) }
func autoReasmMemcap(m Machine) uint64  { return clampU(m.MemoryBytes/16, 256*mib, 8*gib) }
func autoDefragMemcap(m Machine) uint64 { return clampU(m.MemoryBytes/128, 32*mib, 1*gib) }

func autoHashSize(memcap uint64) int {
	return int(clampU(pow2floor(max(memcap/(2*kib), 1)), 4096, 1<<24))
}

// autoBlocks is the AF_PACKET block count per socket.
func autoBlocks(m Machine, workers int, blockSize uint64) int {
	ring := clampU(m.MemoryBytes/512/uint64(max(workers, 1)), 4*mib, 64*mib)
	if blockSize == 0 {
		return 8
	}
	return int(max(ring/blockSize, 8))
}

// resolve replaces every auto of c by its value for m, in dependency order
// (workers first, memcaps before the hash size that follows them).
func (c *Config) resolve(m Machine) error {
	if m.CPUs < 1 {
		return fmt.Errorf("machine: %d CPUs", m.CPUs)
	}
	if m.MemoryBytes < 64*mib {
		return fmt.Errorf("machine: %d bytes of memory is too little to size for", m.MemoryBytes)
	}
	c.Machine = m
	if c.Workers == AutoCount {
		c.Workers = Count(autoWorkers(m, c.Runmode))
	}
	w := int(c.Workers)
	if w < 1 {
		return fmt.Errorf("workers: %d: want at least 1 (or auto)", w)
	}
	all := cpuRange(0, m.CPUs-1)
	worker := autoWorkerCPUs(m, w)
	for _, s := range []struct {
		key  string
		v    *CPUList
		auto CPUList
	}{
		{"cpu.management", &c.CPU.Management, "0"},
		{"cpu.worker", &c.CPU.Worker, worker},
		{"cpu.receive", &c.CPU.Receive, worker},
		{"cpu.verdict", &c.CPU.Verdict, worker},
	} {
		switch *s.v {
		case "auto":
			*s.v = s.auto
		case "all":
			*s.v = all
		}
		cpus, err := s.v.CPUs()
		if err != nil {
			return fmt.Errorf("%s: %w", s.key, err)
		}
		if last := cpus[len(cpus)-1]; last >= m.CPUs {
			return fmt.Errorf("%s: CPU %d is not on this machine (%d CPUs: 0-%d)", s.key, last, m.CPUs, m.CPUs-1)
		}
		*s.v = formatCPUs(cpus)
	}
	if c.Rings.Size == AutoCount {
		c.Rings.Size = Count(autoRingSize(m))
	}
	ap := &c.Capture.AFPacket
	if ap.Blocks == AutoCount {
		if ap.BlockSize == AutoSize {
			return fmt.Errorf("capture.afpacket.block-size: auto is not allowed here")
		}
		ap.Blocks = Count(autoBlocks(m, w, uint64(ap.BlockSize)))
	}
	x := &c.Capture.AFXDP
	if x.RingSize == AutoCount {
		x.RingSize = Count(autoXDPRing(m))
	}
	if x.Frames == AutoCount {
		mult := 2
		if c.IPS.Enabled {
			mult = 4
		}
		x.Frames = Count(mult * int(x.RingSize))
	}
	if strings.EqualFold(strings.TrimSpace(c.Capture.NFQueue.Queues), "auto") {
		if w == 1 {
			c.Capture.NFQueue.Queues = "0"
		} else {
			c.Capture.NFQueue.Queues = fmt.Sprintf("0:%d", w-1)
		}
	}
	d := &c.Capture.DPDK
	if d.RxDescriptors == AutoCount {
		d.RxDescriptors = Count(autoDescriptors(m))
	}
	if d.TxDescriptors == AutoCount {
		d.TxDescriptors = Count(autoDescriptors(m))
	}
	if d.MempoolSize == AutoCount {
		ports := max(len(d.Ports), len(c.Capture.Interfaces), 1)
		n := 2 * uint64(d.RxDescriptors+d.TxDescriptors) * uint64(w) * uint64(ports)
		d.MempoolSize = Count(pow2ceil(n+1) - 1)
	}
	for _, s := range []struct {
		v    *Size
		auto uint64
	}{
		{&c.Flow.Memcap, autoFlowMemcap(m)},
		{&c.Stream.Memcap, autoStreamMemcap(m)},
		{&c.Stream.Reassembly.Memcap, autoReasmMemcap(m)},
		{&c.Defrag.Memcap, autoDefragMemcap(m)},
	} {
		if *s.v == AutoSize {
			*s.v = Size(s.auto)
		}
	}
	if c.Flow.HashSize == AutoCount {
		c.Flow.HashSize = Count(autoHashSize(uint64(c.Flow.Memcap)))
	}
	if c.IPS.Enabled && len(c.IPS.Bridge) == 0 && len(c.Capture.Interfaces) == 2 &&
		(c.Capture.Backend == "afxdp" || c.Capture.Backend == "afpacket" || c.Capture.Backend == "dpdk") {
		c.IPS.Bridge = append([]string(nil), c.Capture.Interfaces...)
	}
	return nil
}
