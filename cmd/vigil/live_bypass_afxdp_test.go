package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Live tests of the XDP bypass in an AF_XDP bridge. Namespaces and veths
// are named vxc*.

// bypRequireAFXDP skips when the kernel has no AF_XDP sockets.
func bypRequireAFXDP(t *testing.T) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("kernel has no AF_XDP sockets: %v", err)
	}
	unix.Close(fd)
}

// TestBypassLiveAFXDPBridge is TestBypassLive's download through vigil
// --af-xdp=A,B: the bypass program runs on both interfaces, redirects what
// is not bypassed to the AF_XDP sockets of its interface (one XSKMAP, the
// second interface's sockets at its offset) and forwards bypassed flows to
// the peer through the devmap, both directions. For IPv4 (bypass rule),
// IPv6 (stream depth) and a VLAN-tagged IPv4 flow: the download arrives
// intact, vigil sees no packets of it after the trigger but those in
// flight and the FINs, the flow record counts every byte both ends sent,
// and a second flow is still inspected and alerts.
func TestBypassLiveAFXDPBridge(t *testing.T) {
	bypRequireLive(t)
	bypRequireAFXDP(t)
	bin := bypBinary(t, t.TempDir())
	rulesFile := writeBypRules(t)
	for _, c := range bypLiveCases {
		t.Run(c.name, func(t *testing.T) { runBypLiveCase(t, bin, rulesFile, "vxc", "--af-xdp", c) })
	}
}

// TestBypassLiveAFXDPBridgeThroughput measures, in one run of vigil
// --af-xdp=A,B, the packets per second of a UDP flow inspected in user
// space against the same flow bypassed in XDP (testBypassThroughput).
func TestBypassLiveAFXDPBridgeThroughput(t *testing.T) {
	bypRequireLive(t)
	bypRequireAFXDP(t)
	testBypassThroughput(t, bypBinary(t, t.TempDir()), writeBypRules(t), "vxc", "--af-xdp")
}
