package profiles

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// StreamSettings are the stream: section (Suricata's names and defaults).
type StreamSettings struct {
	Memcap           uint64 // stream.memcap (64mb)
	ReassemblyMemcap uint64 // stream.reassembly.memcap (256mb)
	Depth            int64  // stream.reassembly.depth (1mb; 0 = unlimited)
	Midstream        bool   // stream.midstream
	AsyncOneside     bool   // stream.async-oneside
	// Inline is stream.inline: "auto" (inline when running as an IPS),
	// "yes" or "no".
	Inline string
	// MemcapPolicy is stream.memcap-policy (ignore, drop-flow, pass-flow,
	// bypass; Suricata's drop-packet and reject act as drop-flow here).
	MemcapPolicy string
	// MidstreamPolicy is stream.midstream-policy (auto, ignore, drop-flow,
	// pass-flow, bypass).
	MidstreamPolicy string
	// HostOSPolicy maps a policy name (bsd, linux, windows, ...) to the
	// addresses and networks of host-os-policy.
	HostOSPolicy map[string][]string
}

// AppLayerSettings are the app-layer: switches Vigil honours.
type AppLayerSettings struct {
	HTTP, DNS, TLS bool // app-layer.protocols.X.enabled (default yes)
	// TLSEncryption is app-layer.protocols.tls.encryption-handling:
	// default, bypass or full.
	TLSEncryption string
	// RequestBodyLimit and ResponseBodyLimit are libhtp's
	// default-config request-body-limit / response-body-limit (100kb).
	RequestBodyLimit, ResponseBodyLimit int
}

func defaultStream() StreamSettings {
	return StreamSettings{Memcap: 64 << 20, ReassemblyMemcap: 256 << 20, Depth: 1 << 20, Inline: "auto", MemcapPolicy: "ignore", MidstreamPolicy: "auto"}
}

func defaultAppLayer() AppLayerSettings {
	return AppLayerSettings{HTTP: true, DNS: true, TLS: true, TLSEncryption: "default",
		RequestBodyLimit: 100 << 10, ResponseBodyLimit: 100 << 10}
}

// ParseSize reads a size as Suricata writes them: "64mb", "1gb", "4kb",
// "1048576".
func ParseSize(v string) (uint64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mul := uint64(1)
	for _, u := range []struct {
		suf string
		m   uint64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mul = strings.TrimSpace(strings.TrimSuffix(s, u.suf)), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a size (like 64mb)", v)
	}
	if f*float64(mul) >= 1<<63 {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return uint64(f * float64(mul)), nil
}
