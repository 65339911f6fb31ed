package profiles

import (
	"embed"
	"fmt"
	"strings"
	"sync"
)

// The built-in profiles. pcap-offline.yaml is the complete default; every
// other profile is an overlay on it holding only what differs.
//
//go:embed builtin/*.yaml
var builtinFS embed.FS

// ProfileInfo describes a built-in profile.
type ProfileInfo struct {
	Name        string
	Description string // one line
}

var profileList = []ProfileInfo{
	{"pcap-offline", "read pcap files (-r), autofp, Suricata's default memcaps (the default)"},
	{"ids-afpacket", "passive sensor on AF_PACKET with a flow-hash fanout, one socket per worker"},
	{"ids-afxdp", "passive sensor on AF_XDP (zero-copy where possible) with XDP flow bypass"},
	{"ips-afxdp-bridge", "inline IPS, bump in the wire between two interfaces over AF_XDP"},
	{"ips-nfqueue", "inline IPS on netfilter queues, one queue per worker, fail-open"},
	{"ips-dpdk", "inline IPS between two DPDK ports, one queue pair per worker"},
	{"lab-single", "one thread on one AF_PACKET interface, everything logged: labs and debugging"},
}

// Profiles lists the built-in profiles.
func Profiles() []ProfileInfo { return append([]ProfileInfo(nil), profileList...) }

func profileInfo(name string) (ProfileInfo, error) {
	names := make([]string, len(profileList))
	for i, p := range profileList {
		if p.Name == name {
			return p, nil
		}
		names[i] = p.Name
	}
	best, _ := closest(name, names)
	return ProfileInfo{}, fmt.Errorf("unknown profile %q (did you mean %q? profiles: %s)", name, best, strings.Join(names, ", "))
}

// builtinDocs parses every embedded profile once.
var builtinDocs = sync.OnceValues(func() (map[string]*yamlDoc, error) {
	docs := map[string]*yamlDoc{}
	for _, p := range profileList {
		file := "builtin/" + p.Name + ".yaml"
		src, err := builtinFS.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		d, err := parseYAMLDoc(p.Name+".yaml", src)
		if err != nil {
			return nil, err
		}
		docs[p.Name] = d
	}
	return docs, nil
})

// profileLayers returns the layers of a profile: the default and, for
// any other profile, its overlay. Each call returns fresh copies.
func profileLayers(name string) (base, over *layer, err error) {
	if _, err := profileInfo(name); err != nil {
		return nil, nil, err
	}
	docs, err := builtinDocs()
	if err != nil {
		return nil, nil, err
	}
	copyLayer := func(d *yamlDoc) *layer {
		l := d.layer()
		l.data = deepCopy(d.data).(map[string]any)
		return l
	}
	base = copyLayer(docs[DefaultProfile])
	if name != DefaultProfile {
		over = copyLayer(docs[name])
	}
	return base, over, nil
}

// ProfileYAML returns the complete YAML of a built-in profile with its
// auto values resolved for this machine; see ProfileYAMLFor.
func ProfileYAML(name string) ([]byte, error) {
	m, err := ThisMachine()
	if err != nil {
		return nil, err
	}
	return ProfileYAMLFor(name, m)
}

// ProfileYAMLFor returns the complete YAML of a built-in profile with its
// auto values resolved for m: every key, with the comments of the default
// configuration, and a header naming the profile and the machine. Loaded
// as a file on the same machine it gives the same Config as the profile.
func ProfileYAMLFor(name string, m Machine) ([]byte, error) {
	info, err := profileInfo(name)
	if err != nil {
		return nil, err
	}
	cfg, err := Load(LoadOptions{Profile: name, Machine: &m})
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	header := fmt.Sprintf("Vigil profile %s: %s.\n\nThe complete configuration, with the profile's auto values resolved for\na machine with %s. Use it as a vigil.yaml (vigil -c FILE)\nor keep only the keys you change.", name, info.Description, m)
	return cfg.yaml(header)
}
