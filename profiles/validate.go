package profiles

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// hostOSPolicies are Suricata's host-os-policy names.
var hostOSPolicies = []string{"bsd", "bsd-right", "linux", "old-linux", "windows", "vista", "windows2k3",
	"solaris", "old-solaris", "hpux10", "hpux11", "irix", "macos", "first", "last", "default"}

// Validate checks a loaded configuration: every value in its range,
// every name one of its key's choices, no auto left. Each problem names
// its key and value; all of them are returned.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	oneOf := func(key, v string, choices ...string) {
		if !slices.Contains(choices, v) {
			bad(key, "%q is not %s", v, orList(choices))
		}
	}
	pow2 := func(key string, n int, lo, hi int) {
		if n < lo || n > hi || n&(n-1) != 0 {
			bad(key, "%d is not a power of two in %d..%d", n, lo, hi)
		}
	}
	between := func(key string, n, lo, hi int) {
		if n < lo || n > hi {
			bad(key, "%d is outside %d..%d", n, lo, hi)
		}
	}
	atLeast := func(key string, s Size, lo uint64) {
		if uint64(s) < lo {
			bad(key, "%s is below the minimum of %s", s, Size(lo))
		}
	}
	errs = append(errs, c.checkNoAuto()...)

	if _, err := profileInfo(c.Profile); err != nil {
		bad("profile", "%v", err)
	}
	oneOf("runmode", c.Runmode, "single", "workers", "autofp")
	between("workers", int(c.Workers), 1, 4096)
	if c.Runmode == "single" && c.Workers != 1 {
		bad("workers", "%d with runmode single: want 1", c.Workers)
	}

	cp := &c.Capture
	oneOf("capture.backend", cp.Backend, "pcap", "afpacket", "afxdp", "nfqueue", "dpdk")
	between("capture.batch-size", cp.BatchSize, 1, 1024)
	for i, name := range cp.Interfaces {
		if strings.TrimSpace(name) == "" {
			bad(fmt.Sprintf("capture.interfaces.%d", i), "empty interface name")
		}
	}
	ap := &cp.AFPacket
	if bs := uint64(ap.BlockSize); bs < 4096 || bs&(bs-1) != 0 || bs > 1<<30 {
		bad("capture.afpacket.block-size", "%s is not a power of two from 4kb to 1gb", ap.BlockSize)
	}
	between("capture.afpacket.blocks", int(ap.Blocks), 1, 1<<16)
	if ap.BlockTimeout < 0 {
		bad("capture.afpacket.block-timeout", "%s is negative", formatDuration(ap.BlockTimeout))
	}
	oneOf("capture.afpacket.fanout", ap.Fanout, "hash", "cpu", "qm", "lb", "none")
	between("capture.afpacket.fanout-group", ap.FanoutGroup, 0, 65535)
	oneOf("capture.afpacket.copy-mode", ap.CopyMode, "none", "tap", "ips")
	x := &cp.AFXDP
	oneOf("capture.afxdp.mode", x.Mode, "auto", "zerocopy", "copy")
	oneOf("capture.afxdp.xdp-mode", x.XDPMode, "auto", "native", "generic")
	if x.FrameSize != 2048 && x.FrameSize != 4096 {
		bad("capture.afxdp.frame-size", "%s is not 2kb or 4kb", x.FrameSize)
	}
	pow2("capture.afxdp.ring-size", int(x.RingSize), 64, 1<<16)
	if int(x.Frames) < 2*int(x.RingSize) || x.Frames > 1<<20 {
		bad("capture.afxdp.frames", "%d: want 2 x ring-size (%d) to 1048576", x.Frames, 2*x.RingSize)
	}
	between("capture.afxdp.busy-poll-budget", x.BusyPollBudget, 0, 1<<16)
	if x.BusyPollTime < 0 {
		bad("capture.afxdp.busy-poll-time", "%s is negative", formatDuration(x.BusyPollTime))
	}
	nq := &cp.NFQueue
	if _, _, err := ParseQueues(nq.Queues); err != nil {
		bad("capture.nfqueue.queues", "%v", err)
	}
	oneOf("capture.nfqueue.verdict-mode", nq.VerdictMode, "accept", "repeat")
	if nq.VerdictMode == "repeat" && nq.Mark&nq.Mask == 0 {
		bad("capture.nfqueue.mark", "verdict-mode repeat needs a mark under a mask (mark %#x, mask %#x)", nq.Mark, nq.Mask)
	}
	if nq.BypassMark&^nq.BypassMask != 0 {
		bad("capture.nfqueue.bypass-mark", "%#x has bits outside bypass-mask %#x", nq.BypassMark, nq.BypassMask)
	}
	between("capture.nfqueue.max-len", nq.MaxLen, 1, 1<<24)
	d := &cp.DPDK
	pow2("capture.dpdk.rx-descriptors", int(d.RxDescriptors), 64, 1<<15)
	pow2("capture.dpdk.tx-descriptors", int(d.TxDescriptors), 64, 1<<15)
	between("capture.dpdk.mempool-size", int(d.MempoolSize), 1023, 1<<26)

	oneOf("ips.fail-policy", c.IPS.FailPolicy, "fail-open", "fail-closed")
	if c.IPS.MaxLatency < 0 {
		bad("ips.max-latency", "%v is negative (0s turns the check off)", c.IPS.MaxLatency)
	}
	if b := c.IPS.Bridge; len(b) != 0 && (len(b) != 2 || b[0] == b[1] || b[0] == "" || b[1] == "") {
		bad("ips.bridge", "%q: want two different interfaces [a, b]", b)
	}
	if cp.Backend == "nfqueue" && !c.IPS.Enabled {
		bad("ips.enabled", "no with backend nfqueue: a netfilter queue is inline, every packet needs a verdict")
	}
	if c.IPS.Enabled && cp.Backend == "afpacket" && ap.CopyMode == "none" {
		bad("capture.afpacket.copy-mode", "none with ips.enabled: want ips or tap (AF_PACKET forwards by copying to the peer)")
	}

	pow2("rings.size", int(c.Rings.Size), 64, 1<<20)
	oneOf("routing.by", c.Routing.By, "flow-hash", "ip-version")

	atLeast("flow.memcap", c.Flow.Memcap, 1)
	between("flow.hash-size", int(c.Flow.HashSize), 1, 1<<26)
	between("flow.prealloc", c.Flow.Prealloc, 0, 1<<26)
	between("flow.emergency-recovery", c.Flow.EmergencyRecovery, 1, 100)
	for _, p := range []struct {
		name string
		t    *Timeouts
	}{{"default", &c.Flow.Timeouts.Default}, {"tcp", &c.Flow.Timeouts.TCP}, {"udp", &c.Flow.Timeouts.UDP}, {"icmp", &c.Flow.Timeouts.ICMP}} {
		v := reflect.ValueOf(p.t).Elem()
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).Int() < 0 {
				bad("flow.timeouts."+p.name+"."+v.Type().Field(i).Tag.Get("mapstructure"), "negative")
			}
		}
	}

	st := &c.Stream
	atLeast("stream.memcap", st.Memcap, 1)
	atLeast("stream.reassembly.memcap", st.Reassembly.Memcap, 1)
	if st.Reassembly.Depth > 1<<40 {
		bad("stream.reassembly.depth", "%s is too large (0 is unlimited)", st.Reassembly.Depth)
	}
	oneOf("stream.memcap-policy", st.MemcapPolicy, "ignore", "drop-flow", "pass-flow", "bypass")
	oneOf("stream.midstream-policy", st.MidstreamPolicy, "auto", "ignore", "drop-flow", "pass-flow", "bypass")
	// Suricata takes any boolean word here (suricata-verify sets
	// stream.inline=true); keep the canonical yes/no.
	if b, ok := ParseBool(st.Inline); ok && st.Inline != "auto" {
		st.Inline = map[bool]string{true: "yes", false: "no"}[b]
	}
	oneOf("stream.inline", st.Inline, "auto", "yes", "no")

	atLeast("defrag.memcap", c.Defrag.Memcap, 1<<16)
	if c.Defrag.Timeout <= 0 {
		bad("defrag.timeout", "%s: want more than 0s", formatDuration(c.Defrag.Timeout))
	}
	between("defrag.trackers", c.Defrag.Trackers, 1, 1<<24)
	between("defrag.max-frags", c.Defrag.MaxFrags, 1, 65535)
	oneOf("defrag.policy", c.Defrag.Policy, hostOSPolicies...)
	for name, nets := range c.HostOSPolicy {
		oneOf("host-os-policy", name, hostOSPolicies...)
		for _, a := range nets {
			if !isAddrOrNet(a) {
				bad("host-os-policy."+name, "%q is not an address or network", a)
			}
		}
	}

	tls := &c.AppLayer.Protocols.TLS
	oneOf("app-layer.protocols.tls.encryption-handling", tls.EncryptionHandling, "default", "bypass", "full")
	oneOf("app-layer.protocols.tls.ja3-fingerprints", tls.JA3Fingerprints, "auto", "yes", "no")
	oneOf("app-layer.protocols.tls.ja4-fingerprints", tls.JA4Fingerprints, "auto", "yes", "no")
	if n := c.AppLayer.Protocols.HTTP.RequestBodyLimit; n > 1<<30 {
		bad("app-layer.protocols.http.request-body-limit", "%s is above 1gb", n)
	}
	if n := c.AppLayer.Protocols.HTTP.ResponseBodyLimit; n > 1<<30 {
		bad("app-layer.protocols.http.response-body-limit", "%s is above 1gb", n)
	}

	dt := &c.Detect
	between("detect.packet-alert-max", dt.PacketAlertMax, 1, 65535)
	oneOf("detect.profile", dt.Profile, "low", "medium", "high")
	oneOf("detect.mpm", dt.MPM, "auto", "ac", "hs")
	for i, f := range dt.RuleFiles {
		if strings.TrimSpace(f) == "" {
			bad(fmt.Sprintf("detect.rule-files.%d", i), "empty file name")
		}
	}
	for _, g := range []struct {
		key string
		m   map[string]string
	}{{"detect.vars.address-groups", dt.Vars.AddressGroups}, {"detect.vars.port-groups", dt.Vars.PortGroups}} {
		for name := range g.m {
			if !validVarName(name) {
				bad(g.key, "%q is not a variable name (letters, digits, _)", name)
			}
		}
	}

	out := &c.Outputs
	if out.EVE.Enabled && out.EVE.Filename == "" {
		bad("outputs.eve.filename", "empty with eve enabled")
	}
	for _, t := range out.EVE.Types {
		oneOf("outputs.eve.types", t, "alert", "anomaly", "http", "dns", "tls", "flow", "drop")
	}
	oneOf("outputs.eve.drop.flows", out.EVE.Drop.Flows, "start", "all")
	oneOf("outputs.eve.http.dump-all-headers", out.EVE.HTTP.DumpAllHeaders, "none", "request", "response", "both")
	if out.Fast.Enabled && out.Fast.Filename == "" {
		bad("outputs.fast.filename", "empty with fast enabled")
	}
	if (out.Stats.Enabled || out.Stats.EVE) && out.Stats.Interval <= 0 {
		bad("outputs.stats.interval", "%s: want more than 0s", formatDuration(out.Stats.Interval))
	}
	if out.Stats.Enabled && out.Stats.Filename == "" {
		bad("outputs.stats.filename", "empty with stats enabled")
	}
	names := map[string]bool{}
	for i, p := range out.Pipes {
		key := fmt.Sprintf("outputs.pipes.%d", i)
		if p.Name == "" {
			bad(key+".name", "empty")
		} else if names[p.Name] {
			bad(key+".name", "%q is used by another pipe", p.Name)
		}
		names[p.Name] = true
		if len(p.Fields) == 0 {
			bad(key+".fields", "empty: name the fields to send")
		}
		if (p.Socket == "") == (len(p.Command) == 0) {
			bad(key, "give either socket or command")
		}
		oneOf(key+".format", p.Format, "", "text", "json")
	}

	for _, t := range c.Bypass.Triggers {
		oneOf("bypass.triggers", t, "stream-depth", "tls-encrypted", "rule")
	}
	if l := c.Prometheus.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil || port == "" {
			bad("prometheus.listen", "%q is not host:port", l)
		}
	}
	return errors.Join(errs...)
}

// ParseQueues reads an nfqueue queue spec: "3" or "0:3" (first and last).
func ParseQueues(s string) (first, last uint16, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), ":")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y := x
	var err2 error
	if isRange {
		y, err2 = strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	}
	if err1 != nil || err2 != nil || y < x {
		return 0, 0, fmt.Errorf("%q is not a queue number or range (like 0:3)", s)
	}
	return uint16(x), uint16(y), nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func isAddrOrNet(s string) bool {
	s = strings.Trim(strings.TrimSpace(s), "\"[] ")
	if _, _, err := net.ParseCIDR(s); err == nil {
		return true
	}
	return net.ParseIP(s) != nil
}

func orList(choices []string) string {
	switch len(choices) {
	case 1:
		return choices[0]
	case 2:
		return choices[0] + " or " + choices[1]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// checkNoAuto finds auto values where the key does not allow them (a
// Size or Count that resolve did not fill).
func (c *Config) checkNoAuto() []error {
	var errs []error
	var walk func(v reflect.Value, n *schemaNode, key string)
	walk = func(v reflect.Value, n *schemaNode, key string) {
		switch n.kind {
		case kindSection:
			for _, name := range n.order {
				ch := n.children[name]
				walk(v.Field(ch.index[0]), ch, join(key, name))
			}
		case kindList:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), n.elem, fmt.Sprintf("%s.%d", key, i))
			}
		case kindLeaf:
			if (v.Type() == typeSize && Size(v.Uint()) == AutoSize) || (v.Type() == typeCount && Count(v.Int()) == AutoCount) ||
				(v.Type() == typeCPUList && v.String() == "auto") {
				errs = append(errs, fmt.Errorf("%s: auto is not allowed here", key))
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), schema(), "")
	return errs
}
