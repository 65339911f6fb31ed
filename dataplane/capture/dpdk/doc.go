// Package dpdk is the DPDK capture backend: a thin cgo binding to DPDK's
// ethdev API (Debian's libdpdk-dev 22.11, through pkg-config) that receives
// bursts of mbufs into packet batches without copying, and in IPS mode
// transmits the packets the engine lets through on a peer port.
//
// The binding is built only with the build tag "dpdk" (go build -tags dpdk);
// without it this file is the whole package and nothing needs DPDK.
//
// # Usage
//
// Initialise the EAL once per process, configure each port with one rx/tx
// queue pair per worker, then open one Source per worker queue:
//
//	err := dpdk.InitEAL([]string{"-l", "0", "-a", "0000:3b:00.0", "-a", "0000:3b:00.1"})
//	a, err := dpdk.ConfigurePort("0000:3b:00.0", dpdk.PortConfig{Queues: 4, Promisc: true})
//	b, err := dpdk.ConfigurePort("0000:3b:00.1", dpdk.PortConfig{Queues: 4, Promisc: true})
//	// worker i, IPS between a and b (the other direction is a second
//	// Source on b with PeerPort a):
//	src, err := dpdk.Open(dpdk.Options{Port: a.Name(), Queue: i, PeerPort: b.Name()})
//	batch := packet.NewBatch(64)
//	for {
//		err := src.Next(batch)   // one rte_eth_rx_burst; empty when idle
//		... decode, detect, set p.Verdict ...
//		src.Done(batch)          // free, or forward on b's tx queue i
//	}
//
// InitEAL adds --no-pci (unless PCI devices are named with -a/-b),
// --no-shconf and --no-telemetry to the arguments. Virtual devices work
// without hugepages or NICs, e.g.
//
//	-l 0 --no-huge -m 256 --vdev=net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap
//	--vdev=net_null0 --vdev=net_af_packet0,iface=eth1
//
// A single-queue port need not be configured: Open sets it up (one queue
// pair, Options.RxDesc/TxDesc/Promisc) and closes it with its last Source.
//
// Ownership: packets' Data points into mbufs of the port's mempool; they
// belong to the Source until Done, which frees them or hands the forwarded
// ones to the peer's tx queue. Each rx queue has one Source; a tx queue is
// used by the Source forwarding to it and by the Source receiving on the
// same port and queue when it injects frames toward a sender (Inject: the
// resets and unreachables of reject verdicts), so each tx queue has a mutex,
// taken once per burst. Next and Done make one cgo call per burst and
// allocate nothing.
//
// Counting: Stats().Packets/Bytes are the packets handed out; InvalidDrops
// the multi-segment mbufs dropped (not linearized); KernelDrops the port's
// imissed + ierrors + rx_nombuf, reported by the queue-0 Source only
// (devices count them per port); TxDrops the forwarded packets and
// injected frames the tx queue did not take. IPSStats() counts forwarded
// packets, verdict drops and packets the tx queue did not take (freed);
// InjectStats() the injected frames.
//
// Tests: go test -tags dpdk ./dataplane/capture/dpdk/ (they use net_pcap,
// net_null and net_ring virtual devices with --no-huge, which also works
// without root).
package dpdk
