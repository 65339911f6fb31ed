package profiles

import (
	"fmt"
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
	return StreamSettings{Memcap: 64 << 20, ReassemblyMemcap: 256 << 20, Depth: 1 << 20, Inline: "auto", MemcapPolicy: "ignore"}
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
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (like 64mb)", v)
	}
	return uint64(f * float64(mul)), nil
}

func (t *Tree) size(path string, def uint64) (uint64, error) {
	v, ok := t.String(path)
	if !ok {
		return def, nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return def, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

func (t *Tree) readStream(s *Settings) error {
	st := &s.Stream
	var err error
	if st.Memcap, err = t.size("stream.memcap", st.Memcap); err != nil {
		return err
	}
	if st.ReassemblyMemcap, err = t.size("stream.reassembly.memcap", st.ReassemblyMemcap); err != nil {
		return err
	}
	d, err := t.size("stream.reassembly.depth", uint64(st.Depth))
	if err != nil {
		return err
	}
	st.Depth = int64(d)
	if st.Midstream, err = t.Bool("stream.midstream", st.Midstream); err != nil {
		return err
	}
	if st.AsyncOneside, err = t.Bool("stream.async-oneside", st.AsyncOneside); err != nil {
		return err
	}
	if v, ok := t.String("stream.inline"); ok {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "auto" {
			b, ok := ParseBool(v)
			if !ok {
				return fmt.Errorf("stream.inline: %q is not auto, yes or no", v)
			}
			v = "no"
			if b {
				v = "yes"
			}
		}
		st.Inline = v
	}
	for _, k := range []string{"stream.memcap-policy", "stream.reassembly.memcap-policy"} {
		if v, ok := t.String(k); ok {
			v = strings.ToLower(strings.TrimSpace(v))
			switch v {
			case "ignore", "drop-flow", "pass-flow", "bypass":
			case "drop-packet", "reject":
				v = "drop-flow"
			case "auto":
				v = "ignore"
			default:
				return fmt.Errorf("%s: %q is not ignore, drop-flow, pass-flow, bypass, drop-packet or reject", k, v)
			}
			st.MemcapPolicy = v
		}
	}
	if m, ok := t.Map("host-os-policy"); ok {
		st.HostOSPolicy = map[string][]string{}
		for pol, v := range m {
			l, ok := v.([]any)
			if !ok {
				if v == nil {
					continue
				}
				return fmt.Errorf("host-os-policy.%s: want a list of addresses", pol)
			}
			for _, x := range l {
				a, ok := x.(string)
				if !ok {
					return fmt.Errorf("host-os-policy.%s: entry %v is not an address", pol, x)
				}
				st.HostOSPolicy[pol] = append(st.HostOSPolicy[pol], strings.TrimSpace(a))
			}
		}
	}
	return nil
}

func (t *Tree) readAppLayer(s *Settings) error {
	a := &s.AppLayer
	var err error
	if a.HTTP, err = t.protoEnabled("http", a.HTTP); err != nil {
		return err
	}
	if a.DNS, err = t.protoEnabled("dns", a.DNS); err != nil {
		return err
	}
	if a.TLS, err = t.protoEnabled("tls", a.TLS); err != nil {
		return err
	}
	if v, ok := t.String("app-layer.protocols.tls.encryption-handling"); ok {
		v = strings.ToLower(strings.TrimSpace(v))
		switch v {
		case "default", "bypass", "full":
		default:
			return fmt.Errorf("app-layer.protocols.tls.encryption-handling: %q is not default, bypass or full", v)
		}
		a.TLSEncryption = v
	}
	for _, k := range []struct {
		path string
		dst  *int
	}{
		{"app-layer.protocols.http.libhtp.default-config.request-body-limit", &a.RequestBodyLimit},
		{"app-layer.protocols.http.libhtp.default-config.response-body-limit", &a.ResponseBodyLimit},
	} {
		n, err := t.size(k.path, uint64(*k.dst))
		if err != nil {
			return err
		}
		*k.dst = int(n)
	}
	return nil
}

// protoEnabled reads app-layer.protocols.NAME.enabled (yes, no, or
// detection-only, which Vigil treats as yes); DNS also has per-transport
// switches (dns.tcp.enabled, dns.udp.enabled): either on keeps it on.
func (t *Tree) protoEnabled(name string, def bool) (bool, error) {
	path := "app-layer.protocols." + name + ".enabled"
	v, ok := t.String(path)
	if !ok {
		if name == "dns" {
			u, err1 := t.Bool("app-layer.protocols.dns.udp.enabled", def)
			c, err2 := t.Bool("app-layer.protocols.dns.tcp.enabled", def)
			if err1 != nil {
				return def, err1
			}
			return u || c, err2
		}
		return def, nil
	}
	if strings.EqualFold(strings.TrimSpace(v), "detection-only") {
		return true, nil
	}
	b, ok := ParseBool(v)
	if !ok {
		return def, fmt.Errorf("%s: %q is not yes, no or detection-only", path, v)
	}
	return b, nil
}
