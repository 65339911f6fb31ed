package main

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/vigil-ids/vigil/dataplane/applayer"
	"github.com/vigil-ids/vigil/dataplane/applayer/http"
	"github.com/vigil-ids/vigil/dataplane/defrag"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/profiles"
)

// streamConfig maps the stream settings onto the tracker's config. ips
// says whether the engine runs inline (stream.inline: auto follows it).
func streamConfig(st *profiles.StreamSettings, ips bool) (stream.Config, error) {
	cfg := stream.Config{
		Memcap:           st.Memcap,
		ReassemblyMemcap: st.ReassemblyMemcap,
		Depth:            st.Depth,
		Midstream:        st.Midstream,
		AsyncOneside:     st.AsyncOneside,
		Inline:           st.Inline == "yes" || (st.Inline == "auto" && ips),
	}
	if st.Depth == 0 {
		cfg.Depth = -1 // Suricata: depth 0 means unlimited
	}
	pol, err := stream.ParseExceptionPolicy(st.MemcapPolicy)
	if err != nil {
		return cfg, fmt.Errorf("stream.memcap-policy: %w", err)
	}
	cfg.MemcapPolicy = pol
	// midstream-policy auto is Suricata's exception-policy auto: drop the
	// flow inline, ignore otherwise. In IDS mode nothing can be dropped,
	// so drop-flow acts as ignore there.
	mp := st.MidstreamPolicy
	switch {
	case mp == "" || mp == "auto":
		mp = "ignore"
		if ips {
			mp = "drop-flow"
		}
	case mp == "drop-flow" && !ips:
		mp = "ignore"
	}
	if cfg.MidstreamPolicy, err = stream.ParseExceptionPolicy(mp); err != nil {
		return cfg, fmt.Errorf("stream.midstream-policy: %w", err)
	}
	if len(st.HostOSPolicy) > 0 {
		hp, err := hostPolicy(st.HostOSPolicy)
		if err != nil {
			return cfg, err
		}
		cfg.HostPolicy = hp
	}
	return cfg, nil
}

// hostPolicy builds the per-destination policy lookup of host-os-policy:
// the longest matching network wins; other hosts get bsd (Suricata's
// default).
func hostPolicy(m map[string][]string) (func(netip.Addr) stream.Policy, error) {
	type entry struct {
		p   netip.Prefix
		pol stream.Policy
	}
	var es []entry
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		pol, err := stream.ParsePolicy(strings.ToLower(name))
		if err != nil {
			return nil, fmt.Errorf("host-os-policy: %w", err)
		}
		for _, a := range m[name] {
			a = strings.Trim(a, "[] \"")
			if a == "" {
				continue
			}
			var p netip.Prefix
			if strings.Contains(a, "/") {
				p, err = netip.ParsePrefix(a)
			} else {
				var ad netip.Addr
				ad, err = netip.ParseAddr(a)
				p = netip.PrefixFrom(ad, ad.BitLen())
			}
			if err != nil {
				return nil, fmt.Errorf("host-os-policy.%s: %q is not an address or network", name, a)
			}
			es = append(es, entry{p.Masked(), pol})
		}
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].p.Bits() > es[j].p.Bits() })
	return func(a netip.Addr) stream.Policy {
		a = a.Unmap()
		for _, e := range es {
			if e.p.Contains(a) {
				return e.pol
			}
		}
		return stream.PolicyBSD
	}, nil
}

// appConfig maps the app-layer settings onto the app layer's config.
func appConfig(a *profiles.AppLayerSettings) applayer.Config {
	cfg := applayer.Config{
		HTTP:   http.Config{RequestBodyLimit: a.RequestBodyLimit, ResponseBodyLimit: a.ResponseBodyLimit},
		NoHTTP: !a.HTTP, NoDNS: !a.DNS, NoTLS: !a.TLS,
	}
	switch a.TLSEncryption {
	case "bypass":
		cfg.Encryption = applayer.EncryptionBypass
	case "full":
		cfg.Encryption = applayer.EncryptionFull
	}
	return cfg
}

// flowConfig maps the flow settings onto the flow table's config.
func flowConfig(f *profiles.FlowSettings, shard int) flow.Config {
	c := flow.DefaultConfig()
	if f.Memcap > 0 {
		c.Memcap = f.Memcap
	}
	if f.HashSize > 0 {
		c.HashSize = f.HashSize
	}
	if f.Prealloc > 0 {
		c.Prealloc = f.Prealloc
	}
	if f.EmergencyRecovery > 0 {
		c.EmergencyRecovery = f.EmergencyRecovery
	}
	set := func(dst *flow.Timeouts, t profiles.Timeouts) {
		if t.New == 0 && t.Established == 0 && t.Closed == 0 {
			return // keep the default of this class
		}
		*dst = flow.Timeouts{New: t.New, Established: t.Established, Closed: t.Closed,
			EmergencyNew: t.EmergencyNew, EmergencyEstablished: t.EmergencyEstablished, EmergencyClosed: t.EmergencyClosed}
	}
	set(&c.Default, f.Default)
	set(&c.TCP, f.TCP)
	set(&c.UDP, f.UDP)
	set(&c.ICMP, f.ICMP)
	c.Shard = uint8(shard)
	return c
}

// defragConfig maps the defrag settings (and host-os-policy) onto the
// reassembler's config.
func defragConfig(d *profiles.DefragSettings) (defrag.Config, error) {
	c := defrag.Config{Memcap: d.Memcap, Timeout: d.Timeout, MaxTrackers: d.Trackers, MaxFrags: d.MaxFrags}
	if d.Policy != "" {
		p, err := defrag.ParsePolicy(strings.ToLower(d.Policy))
		if err != nil {
			return c, fmt.Errorf("defrag.policy: %w", err)
		}
		c.DefaultPolicy = p
	}
	if len(d.HostOSPolicy) > 0 {
		t := &defrag.PolicyTable{}
		names := make([]string, 0, len(d.HostOSPolicy))
		for k := range d.HostOSPolicy {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, os := range names {
			if err := t.AddOS(strings.ToLower(os), d.HostOSPolicy[os]); err != nil {
				return c, fmt.Errorf("host-os-policy: %w", err)
			}
		}
		c.HostPolicy = t.Lookup
	}
	return c, nil
}
