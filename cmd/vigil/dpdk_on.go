//go:build dpdk

package main

import (
	"fmt"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/dataplane/capture/dpdk"
	"github.com/vigil-ids/vigil/profiles"
)

// openDPDK starts DPDK's EAL with the profile's arguments and opens one
// queue per worker on each port; two ports make an inline bridge (each
// worker reads queue i of both and forwards to the other).
func openDPDK(cfg *profiles.Config, ifaces []string, workers int) ([]capture.Source, bool, error) {
	dc := &cfg.Capture.DPDK
	ports := dc.Ports
	if len(ports) == 0 {
		ports = ifaces
	}
	if len(ports) == 0 || len(ports) > 2 {
		return nil, false, fmt.Errorf("dpdk: give one port (IDS) or two (inline bridge), not %d", len(ports))
	}
	if err := dpdk.InitEAL(dc.EALArgs); err != nil {
		return nil, false, err
	}
	for _, p := range ports {
		pc := dpdk.PortConfig{Queues: workers, RxDesc: int(dc.RxDescriptors), TxDesc: int(dc.TxDescriptors), Promisc: true}
		_, err := dpdk.ConfigurePort(p, pc)
		if err != nil && workers > 1 {
			// Virtual devices (net_pcap, net_ring) have one queue:
			// fall back to one worker rather than fail.
			pc.Queues = 1
			if _, err1 := dpdk.ConfigurePort(p, pc); err1 == nil {
				err, workers = nil, 1
			}
		}
		if err != nil {
			return nil, false, err
		}
	}
	bridge := len(ports) == 2
	var srcs []capture.Source
	for q := 0; q < workers; q++ {
		var side []capture.Source
		for k, p := range ports {
			o := dpdk.Options{Port: p, Queue: q}
			if bridge {
				o.PeerPort = ports[1-k]
			}
			s, err := dpdk.Open(o)
			if err != nil {
				for _, x := range srcs {
					x.Close()
				}
				return nil, false, err
			}
			side = append(side, s)
		}
		if len(side) == 1 {
			srcs = append(srcs, side[0])
		} else {
			srcs = append(srcs, capture.NewMulti(side...))
		}
	}
	return srcs, bridge, nil
}
