//go:build !dpdk

package main

import (
	"errors"

	"github.com/vigil-ids/vigil/dataplane/capture"
	"github.com/vigil-ids/vigil/profiles"
)

// openDPDK: this binary was built without DPDK.
func openDPDK(*profiles.Config, []string, int) ([]capture.Source, bool, error) {
	return nil, false, errors.New("dpdk: this vigil was built without DPDK support (make build-dpdk, with libdpdk-dev installed)")
}
