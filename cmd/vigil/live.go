package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/capture/afpacket"
	"github.com/vigil-ids/vigil/dataplane/capture/afxdp"
	"github.com/vigil-ids/vigil/dataplane/capture/nfqueue"
	"github.com/vigil-ids/vigil/pipeline"
	"github.com/vigil-ids/vigil/pipeline/affinity"
	"github.com/vigil-ids/vigil/profiles"
)

// bridgePoll is the poll timeout of each side of a bridge worker
// (capture.Multi reads the sides in turn).
const bridgePoll = 2 * time.Millisecond

// livePlan opens the live sources of the run: the backend named on the
// command line (or the config's capture.backend), the interfaces (-i or
// capture.interfaces; two interfaces are an inline bridge), one source per
// worker.
func (e *engineRun) livePlan() (capturePlan, error) {
	a, cfg := e.args, e.cfg
	backend := a.backend
	if backend == "" {
		backend = cfg.Capture.Backend
	}
	if backend == "" || backend == "pcap" {
		backend = "afpacket"
	}
	ifaces := a.iface
	if len(ifaces) == 0 {
		ifaces = cfg.Capture.Interfaces
	}
	if len(cfg.IPS.Bridge) == 2 && len(ifaces) < 2 {
		ifaces = cfg.IPS.Bridge
	}
	workers := int(cfg.Workers)
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	plan := capturePlan{mode: pipeline.ModeWorkers, live: true, name: strings.Join(ifaces, ",")}
	fail := func(err error) (capturePlan, error) {
		for _, s := range plan.sources {
			s.Close()
		}
		e.stopBypass()
		return capturePlan{}, err
	}
	if err := e.startBypass(backend, ifaces); err != nil {
		return fail(err)
	}
	switch backend {
	case "afpacket":
		if len(ifaces) == 0 || len(ifaces) > 2 {
			return fail(fmt.Errorf("afpacket: give one interface (IDS) or two (inline bridge), not %d", len(ifaces)))
		}
		ac := &cfg.Capture.AFPacket
		group := uint16(os.Getpid())
		bridge := len(ifaces) == 2
		copyMode := ""
		if bridge {
			copyMode = afpacket.CopyIPS
			if ac.CopyMode == afpacket.CopyTap {
				copyMode = afpacket.CopyTap
			}
			plan.ips = copyMode == afpacket.CopyIPS
		}
		for w := 0; w < workers; w++ {
			var side []capture.Source
			for k, ifc := range ifaces {
				o := afpacket.Options{Interface: ifc, Queue: uint16(w), FanoutGroup: group + uint16(k), FanoutMode: ac.Fanout,
					BlockSize: int(ac.BlockSize), NumBlocks: int(ac.Blocks), BlockTimeout: ac.BlockTimeout, Promisc: true,
					NoDefrag: !ac.Defrag}
				if ac.Fanout == "none" || workers == 1 {
					o.FanoutGroup, o.FanoutMode = 0, ""
				}
				if bridge {
					o.CopyMode, o.CopyInterface = copyMode, ifaces[1-k]
					o.PollTimeout = bridgePoll
				}
				src, err := afpacket.Open(o)
				if err != nil {
					return fail(err)
				}
				side = append(side, src)
			}
			if len(side) == 1 {
				plan.sources = append(plan.sources, side[0])
			} else {
				plan.sources = append(plan.sources, capture.NewMulti(side...))
			}
		}
	case "afxdp":
		if len(ifaces) == 0 || len(ifaces) > 2 {
			return fail(fmt.Errorf("afxdp: give one interface (IDS) or two (inline bridge), not %d", len(ifaces)))
		}
		xc := &cfg.Capture.AFXDP
		queues := rxQueues(ifaces[0])
		for q := 0; q < queues; q++ {
			o := afxdp.Options{Interface: ifaces[0], QueueID: uint32(q), NumFrames: int(xc.Frames), FrameSize: int(xc.FrameSize),
				RingSize: int(xc.RingSize), Mode: xc.Mode, XDPMode: afxdpXDPMode(xc.XDPMode), BusyPoll: xc.BusyPoll}
			o.XSKMap = e.bypassXSKMap() // nil unless the XDP bypass program is loaded
			var src *afxdp.Source
			var err error
			if len(ifaces) == 2 {
				o.PeerQueueID = uint32(q)
				// One XSKMAP for both sides: the program keys the peer's
				// sockets apart by its interface offset.
				o.PeerXSKMap, o.PeerXSKMapOffset = o.XSKMap, e.bypassXSKOffset(1)
				src, err = afxdp.OpenBridge(ifaces[0], ifaces[1], o)
				plan.ips = true
			} else {
				src, err = afxdp.Open(o)
			}
			if err != nil {
				return fail(err)
			}
			plan.sources = append(plan.sources, src)
		}
	case "nfqueue":
		nc := &cfg.Capture.NFQueue
		specs := a.queues
		if len(specs) == 0 {
			specs = []string{nc.Queues}
		}
		var ids []uint16
		for _, sp := range specs {
			q, err := nfqueue.ParseQueues(sp)
			if err != nil {
				return fail(fmt.Errorf("nfqueue: %w", err))
			}
			ids = append(ids, q...)
		}
		plan.ips = true
		plan.name = "nfqueue " + strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ids)), ","), "[]")
		for _, q := range ids {
			mode := nfqueue.ModeAccept
			if nc.VerdictMode == "repeat" {
				mode = nfqueue.ModeRepeat
			}
			// The socket buffer holds a full queue of MTU-sized packets:
			// with the system default (208 KiB) a TCP burst overruns it,
			// and the kernel drops those packets or, fail-open, passes
			// them uninspected and uncounted.
			src, err := nfqueue.Open(nfqueue.Options{Queue: q, MaxLen: uint32(nc.MaxLen), FailOpen: nc.FailOpen,
				VerdictMode: mode, Mark: nc.Mark, Mask: nc.Mask, BypassMark: nc.BypassMark, BypassMask: nc.BypassMask,
				RecvBuffer: nfqRecvBuffer(nc.MaxLen)})
			if err != nil {
				return fail(err)
			}
			plan.sources = append(plan.sources, src)
		}
	case "dpdk":
		srcs, ips, err := openDPDK(cfg, ifaces, workers)
		if err != nil {
			return fail(err)
		}
		plan.sources, plan.ips = srcs, ips
		if len(cfg.Capture.DPDK.Ports) > 0 {
			plan.name = strings.Join(cfg.Capture.DPDK.Ports, ",") // the ports openDPDK used
		}
	default:
		return fail(fmt.Errorf("capture.backend %q: expected afpacket, afxdp, nfqueue or dpdk", backend))
	}
	if cfg.IPS.Enabled {
		plan.ips = true
	}
	if err := e.bypassReady(); err != nil {
		return fail(err)
	}
	mode := a.runmode
	if mode == "" {
		mode = cfg.Runmode
		if mode == pipeline.ModeAutoFP && (a.profile == "" || a.profile == "pcap-offline") {
			// pcap-offline's autofp is for files; live capture has a
			// queue per worker (DESIGN.md: workers is the live default).
			mode = pipeline.ModeWorkers
		}
	}
	switch mode {
	case pipeline.ModeAutoFP:
		if plan.ips {
			// A receiver gives frames back before a worker decides.
			fmt.Fprintln(e.stderr, "vigil: runmode autofp cannot enforce inline verdicts; using workers")
		} else {
			plan.mode, plan.workers = pipeline.ModeAutoFP, workers
		}
	case pipeline.ModeSingle:
		if len(plan.sources) > 1 {
			plan.sources = []capture.Source{capture.NewMulti(plan.sources...)}
		}
	}
	return plan, nil
}

// nfqRecvBuffer sizes an NFQUEUE socket's receive buffer for maxLen
// queued packets of up to an MTU each (4 KiB of socket memory per message),
// between 4 MiB and 256 MiB.
func nfqRecvBuffer(maxLen int) int {
	return min(max(maxLen, 1024)*4096, 256<<20)
}

// afxdpXDPMode maps the profile's names onto the backend's.
func afxdpXDPMode(m string) string {
	if m == "native" {
		return "driver"
	}
	return m
}

// rxQueues counts an interface's receive queues, at least 1: the ethtool
// channel counts (rx + combined), which the kernel answers in this
// process's network namespace; else sysfs. (/sys shows the namespace of
// whoever mounted it: the host's when vigil runs under nsenter --net, as a
// run whose XDP bypass must outlive it does.)
func rxQueues(ifc string) int {
	if n, err := ethtoolRxQueues(ifc); err == nil && n > 0 {
		return n
	}
	ents, err := os.ReadDir("/sys/class/net/" + ifc + "/queues")
	if err != nil {
		return 1
	}
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "rx-") {
			n++
		}
	}
	return max(n, 1)
}

// ethtoolChannels is struct ethtool_channels (uapi linux/ethtool.h).
type ethtoolChannels struct {
	cmd                                         uint32
	maxRx, maxTx, maxOther, maxCombined         uint32
	rxCount, txCount, otherCount, combinedCount uint32
}

// ethtoolRxQueues returns the receive queues of ifc in use (ETHTOOL_GCHANNELS:
// rx-only plus combined channels).
func ethtoolRxQueues(ifc string) (int, error) {
	if len(ifc) >= unix.IFNAMSIZ {
		return 0, unix.EINVAL
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ch := ethtoolChannels{cmd: unix.ETHTOOL_GCHANNELS}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [16]byte // the rest of struct ifreq's union
	}
	copy(ifr.name[:], ifc)
	ifr.data = unsafe.Pointer(&ch)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return 0, e
	}
	runtime.KeepAlive(&ch)
	return int(ch.rxCount + ch.combinedCount), nil
}

// pinner lays the run's threads out on the configured CPU sets and returns
// the Runner's Pin function.
func pinner(cfg *profiles.Config, receivers, workers, verdict int) (func(role string, i int) error, error) {
	online, err := affinity.Online()
	if err != nil {
		return nil, err
	}
	explicit := map[affinity.Role]affinity.CPUSet{}
	for role, l := range map[affinity.Role]profiles.CPUList{affinity.Management: cfg.CPU.Management,
		affinity.Receive: cfg.CPU.Receive, affinity.Worker: cfg.CPU.Worker, affinity.Verdict: cfg.CPU.Verdict} {
		v := strings.TrimSpace(string(l))
		switch v {
		case "", "auto":
			continue
		case "all":
			explicit[role] = online
			continue
		}
		set, err := affinity.ParseCPUSet(v)
		if err != nil {
			return nil, fmt.Errorf("cpu.%s: %w", role, err)
		}
		explicit[role] = set
	}
	plan, err := affinity.Layout(affinity.RoleCounts{Management: 1, Receive: receivers, Worker: workers, Verdict: verdict}, online, explicit)
	if err != nil {
		return nil, err
	}
	return func(role string, i int) error {
		switch role {
		case pipeline.RoleWorker:
			return plan.Pin(affinity.Worker, i)
		case pipeline.RoleReceive:
			return plan.Pin(affinity.Receive, i)
		case pipeline.RoleVerdict:
			return plan.Pin(affinity.Verdict, i)
		}
		return errors.New("unknown thread role " + role)
	}, nil
}
