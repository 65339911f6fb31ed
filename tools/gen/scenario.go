package gen

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario describes the traffic to generate. It is read from YAML (see
// the bundled files in scenarios/ and Load); zero fields take the defaults
// Normalize fills in.
type Scenario struct {
	// Name identifies the scenario (the file name without .yaml when empty).
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Seed makes the run reproducible: same scenario, same seed, same bytes.
	Seed uint64 `yaml:"seed"`
	// Flows is how many flows (connections, UDP conversations) to generate.
	Flows int `yaml:"flows"`
	// Concurrency is how many flows are open at once; their packets are
	// interleaved.
	Concurrency int `yaml:"concurrency"`
	// IPv6Share is the share of flows (0..1) that use IPv6.
	IPv6Share float64 `yaml:"ipv6_share"`
	// Address ranges (CIDR) of clients and servers, IPv4 and IPv6.
	Clients  string `yaml:"clients"`
	Servers  string `yaml:"servers"`
	Clients6 string `yaml:"clients6"`
	Servers6 string `yaml:"servers6"`
	// MAC addresses of the client and server side ("02:00:00:00:00:01").
	ClientMAC string `yaml:"client_mac"`
	ServerMAC string `yaml:"server_mac"`
	// MSS is the largest TCP payload per IPv4 segment (IPv6 segments carry
	// 20 bytes less: the same MTU); UDP payloads stay within MSS+12.
	MSS int `yaml:"mss"`
	// StartTime is the first packet's timestamp (RFC 3339).
	StartTime string `yaml:"start_time"`
	// PacketGap is the mean time between two packets ("20us").
	PacketGap string `yaml:"packet_gap"`
	// Mix is the protocol mix.
	Mix Mix `yaml:"mix"`
	// Plant lists the attacks to plant.
	Plant []Plant `yaml:"plant"`
	// Target describes the attacked hosts and the sensor's view of them.
	Target Target `yaml:"target"`
	// Evasion holds the evasion variants' parameters.
	Evasion EvasionOptions `yaml:"evasion"`

	// Parsed forms, filled by Normalize.
	clients, servers, clients6, servers6 netip.Prefix
	clientMAC, serverMAC                 [6]byte
	start                                time.Time
	gap                                  time.Duration
}

// Mix gives each kind of flow a weight (relative share of flows) and its
// parameters. A kind without an entry, or with weight 0, is not generated
// (planted flows of that kind still are).
type Mix struct {
	HTTP *HTTPMix `yaml:"http"`
	DNS  *DNSMix  `yaml:"dns"`
	TLS  *TLSMix  `yaml:"tls"`
	UDP  *UDPMix  `yaml:"udp"`
	TCP  *TCPMix  `yaml:"tcp"`
	SYN  *SYNMix  `yaml:"syn"`
}

// HTTPMix: HTTP/1.1 connections with keep-alive requests and responses.
type HTTPMix struct {
	Weight       float64 `yaml:"weight"`
	Port         uint16  `yaml:"port"`          // server port, default 80
	Requests     Range   `yaml:"requests"`      // requests per connection, default 1-3
	PostShare    float64 `yaml:"post_share"`    // share of POST requests (0..1)
	RequestBody  Range   `yaml:"request_body"`  // POST body bytes, default 64-2048
	ResponseBody Range   `yaml:"response_body"` // response body bytes, default 200-20000
}

// DNSMix: DNS over UDP, queries and answers.
type DNSMix struct {
	Weight  float64 `yaml:"weight"`
	Port    uint16  `yaml:"port"`    // default 53
	Queries Range   `yaml:"queries"` // queries per flow, default 1-2
	// AnswerShare is the share of queries answered (0..1, default 1; a
	// pointer so that 0 can be said).
	AnswerShare *float64 `yaml:"answer_share"`
}

// TLSMix: TLS 1.3 handshakes with SNI, then encrypted-looking records.
type TLSMix struct {
	Weight     float64 `yaml:"weight"`
	Port       uint16  `yaml:"port"`        // default 443
	Requests   Range   `yaml:"requests"`    // application round trips, default 1-2
	AppData    Range   `yaml:"app_data"`    // server application bytes per round trip, default 500-50000
	RecordSize int     `yaml:"record_size"` // largest record payload, default 16384
}

// UDPMix: plain UDP datagrams from client to server, some answered.
type UDPMix struct {
	Weight     float64 `yaml:"weight"`
	Port       uint16  `yaml:"port"`        // default 5001
	Datagrams  Range   `yaml:"datagrams"`   // per flow, default 1-20
	Size       Range   `yaml:"size"`        // payload bytes, default 64-1400
	ReplyShare float64 `yaml:"reply_share"` // share of datagrams answered with one of the same size
}

// TCPMix: TCP connections carrying bulk data from client to server.
type TCPMix struct {
	Weight float64 `yaml:"weight"`
	Port   uint16  `yaml:"port"`  // default 5002
	Bytes  Range   `yaml:"bytes"` // client bytes per connection, default 1000-100000
}

// SYNMix: lone SYNs (a SYN flood); a share is answered with a SYN/ACK and
// reset by the client.
type SYNMix struct {
	Weight        float64 `yaml:"weight"`
	Port          uint16  `yaml:"port"` // default 80
	AnsweredShare float64 `yaml:"answered_share"`
}

// Range is an inclusive range of sizes or counts. In YAML: a number ("5"),
// "lo-hi", or a map {min, max, log}. Log draws log-uniformly (heavy-tailed
// sizes), otherwise uniformly.
type Range struct {
	Min int  `yaml:"min"`
	Max int  `yaml:"max"`
	Log bool `yaml:"log"`
}

// UnmarshalYAML accepts the three forms.
func (r *Range) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s := strings.TrimSpace(n.Value)
		lo, hi, ok := strings.Cut(s, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return fmt.Errorf("line %d: range %q: want N, LO-HI or {min, max}", n.Line, s)
		}
		b := a
		if ok {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				return fmt.Errorf("line %d: range %q: want N, LO-HI or {min, max}", n.Line, s)
			}
		}
		*r = Range{Min: a, Max: b}
		return nil
	}
	type plain Range
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*r = Range(p)
	return nil
}

func (r Range) zero() bool { return r.Min == 0 && r.Max == 0 }

func (r Range) orDefault(lo, hi int) Range {
	if r.zero() {
		return Range{Min: lo, Max: hi}
	}
	if r.Max < r.Min {
		r.Max = r.Min
	}
	return r
}

// draw picks a value of the range.
func (r Range) draw(g *rng) int {
	if r.Max <= r.Min {
		return r.Min
	}
	if r.Log && r.Min >= 1 {
		lo, hi := math.Log(float64(r.Min)), math.Log(float64(r.Max)+1)
		v := int(math.Exp(lo + g.float()*(hi-lo)))
		return min(max(v, r.Min), r.Max)
	}
	return g.between(r.Min, r.Max)
}

func (r Range) check(what string, lo, hi int) error {
	if r.Min < lo || r.Max > hi || r.Min > r.Max {
		return fmt.Errorf("%s: range %d-%d outside %d-%d", what, r.Min, r.Max, lo, hi)
	}
	return nil
}

// Plant asks for a marker string at a place of some flows.
type Plant struct {
	// Place: http-uri, http-body, dns-query, tls-sni or tcp-payload.
	Place string `yaml:"place"`
	// Marker is the string the rule looks for. Default: VGN-<PLACE>-ATTACK.
	Marker string `yaml:"marker"`
	// Flows is how many flows get it (default: one per variant).
	Flows int `yaml:"flows"`
	// Variants are given to the planted flows in turn; default [plain].
	// "all" stands for every variant the place supports.
	Variants []string `yaml:"variants"`
	// At lists the flow numbers (0-based) to plant in; default: spread
	// evenly over the run.
	At []int `yaml:"at"`
}

// Target describes the attacked hosts as the evasion variants see them.
type Target struct {
	// Policy is the target hosts' OS policy (stream policy names: bsd,
	// linux, windows, ...; default bsd).
	Policy string `yaml:"policy"`
	// IDSPolicy is the policy the IDS applies to the target hosts (Vigil's
	// default is bsd); the manifest's expect_alert follows it.
	IDSPolicy string `yaml:"ids_policy"`
	// Hops is the number of routers between the sensor and the target: a
	// packet whose TTL (hop limit) is at most Hops at the sensor expires
	// before it reaches the target. Default 3.
	Hops int `yaml:"hops"`
}

// EvasionOptions parameterise the evasion variants.
type EvasionOptions struct {
	TinySize int `yaml:"tiny_size"` // bytes per segment of the tiny variant (default 2)
	OOOSize  int `yaml:"ooo_size"`  // bytes per segment of out-of-order (default 16)
}

// Places a marker can go.
const (
	PlaceHTTPURI    = "http-uri"
	PlaceHTTPBody   = "http-body"
	PlaceDNSQuery   = "dns-query"
	PlaceTLSSNI     = "tls-sni"
	PlaceTCPPayload = "tcp-payload"
)

// Places lists the places in SID order.
var Places = []string{PlaceHTTPURI, PlaceHTTPBody, PlaceDNSQuery, PlaceTLSSNI, PlaceTCPPayload}

// SIDBase is the sid of the first place's rule; place i has SIDBase+i.
const SIDBase = 9100001

//go:embed scenarios/*.yaml
var bundled embed.FS

// List returns the names of the bundled scenarios, sorted.
func List() []string {
	ents, err := bundled.ReadDir("scenarios")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Bundled returns the YAML text of a bundled scenario.
func Bundled(name string) ([]byte, error) {
	b, err := bundled.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("gen: no bundled scenario %q (have %s)", name, strings.Join(List(), ", "))
	}
	return b, nil
}

// Load reads a scenario: a bundled name (see List) or a YAML file path.
func Load(nameOrFile string) (*Scenario, error) {
	if b, err := Bundled(nameOrFile); err == nil {
		return Parse(b, nameOrFile)
	}
	b, err := os.ReadFile(nameOrFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(nameOrFile, "/.") {
			return nil, fmt.Errorf("gen: scenario %q is neither bundled (%s) nor a file", nameOrFile, strings.Join(List(), ", "))
		}
		return nil, fmt.Errorf("gen: reading scenario: %w", err)
	}
	name := strings.TrimSuffix(path.Base(nameOrFile), path.Ext(nameOrFile))
	return Parse(b, name)
}

// Parse decodes scenario YAML (unknown keys are errors) and normalizes
// it. name is used when the YAML has no name.
func Parse(b []byte, name string) (*Scenario, error) {
	var sc Scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("gen: scenario %s: %w", name, err)
	}
	if sc.Name == "" {
		sc.Name = name
	}
	if err := sc.Normalize(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Normalize fills defaults and checks the scenario; errors name the key.
func (sc *Scenario) Normalize() error {
	e := func(format string, a ...any) error {
		return fmt.Errorf("gen: scenario %s: "+format, append([]any{sc.Name}, a...)...)
	}
	if sc.Flows == 0 {
		sc.Flows = 1000
	}
	if sc.Flows < 0 || sc.Flows > 1<<30 {
		return e("flows: %d outside 1..%d", sc.Flows, 1<<30)
	}
	if sc.Concurrency == 0 {
		sc.Concurrency = 64
	}
	if sc.Concurrency < 1 || sc.Concurrency > 1<<16 {
		return e("concurrency: %d outside 1..%d", sc.Concurrency, 1<<16)
	}
	if sc.IPv6Share < 0 || sc.IPv6Share > 1 {
		return e("ipv6_share: %v outside 0..1", sc.IPv6Share)
	}
	var err error
	pfx := func(key, s, def string, v6 bool) (netip.Prefix, error) {
		if s == "" {
			s = def
		}
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			return p, e("%s: %v", key, perr)
		}
		if p.Addr().Is6() != v6 {
			return p, e("%s: %s is not an IPv%c network", key, s, map[bool]rune{false: '4', true: '6'}[v6])
		}
		return p.Masked(), nil
	}
	if sc.clients, err = pfx("clients", sc.Clients, "10.10.0.0/16", false); err != nil {
		return err
	}
	if sc.servers, err = pfx("servers", sc.Servers, "10.20.0.0/24", false); err != nil {
		return err
	}
	if sc.clients6, err = pfx("clients6", sc.Clients6, "fd00:10::/64", true); err != nil {
		return err
	}
	if sc.servers6, err = pfx("servers6", sc.Servers6, "fd00:20::/64", true); err != nil {
		return err
	}
	mac := func(key, s, def string) ([6]byte, error) {
		var m [6]byte
		if s == "" {
			s = def
		}
		parts := strings.Split(s, ":")
		if len(parts) != 6 {
			return m, e("%s: %q is not a MAC address", key, s)
		}
		for i, p := range parts {
			v, perr := strconv.ParseUint(p, 16, 8)
			if perr != nil {
				return m, e("%s: %q is not a MAC address", key, s)
			}
			m[i] = byte(v)
		}
		return m, nil
	}
	if sc.clientMAC, err = mac("client_mac", sc.ClientMAC, "02:00:00:00:00:01"); err != nil {
		return err
	}
	if sc.serverMAC, err = mac("server_mac", sc.ServerMAC, "02:00:00:00:00:02"); err != nil {
		return err
	}
	if sc.MSS == 0 {
		sc.MSS = 1460
	}
	if sc.MSS < 536 || sc.MSS > MaxFrameLen-ethLen-ipv6Len-tcpSynLen {
		return e("mss: %d outside 536..%d", sc.MSS, MaxFrameLen-ethLen-ipv6Len-tcpSynLen)
	}
	if sc.StartTime == "" {
		sc.StartTime = "2024-01-01T00:00:00Z"
	}
	if sc.start, err = time.Parse(time.RFC3339Nano, sc.StartTime); err != nil {
		return e("start_time: %v", err)
	}
	if sc.start.Unix() < 0 || sc.start.Unix() > 1<<32-1<<24 {
		return e("start_time: %s outside what pcap can hold", sc.StartTime)
	}
	if sc.PacketGap == "" {
		sc.PacketGap = "20us"
	}
	if sc.gap, err = time.ParseDuration(sc.PacketGap); err != nil {
		return e("packet_gap: %v", err)
	}
	if sc.gap < 2*time.Nanosecond || sc.gap > time.Minute {
		return e("packet_gap: %s outside 2ns..1m", sc.PacketGap)
	}
	if err := sc.Mix.normalize(sc.MSS); err != nil {
		return e("%v", err)
	}
	if sc.Target.Policy == "" {
		sc.Target.Policy = "bsd"
	}
	if sc.Target.IDSPolicy == "" {
		sc.Target.IDSPolicy = "bsd"
	}
	if _, ok := policyIndex(sc.Target.Policy); !ok {
		return e("target.policy: unknown policy %q (known: %s)", sc.Target.Policy, strings.Join(StreamPolicies, ", "))
	}
	if _, ok := policyIndex(sc.Target.IDSPolicy); !ok {
		return e("target.ids_policy: unknown policy %q (known: %s)", sc.Target.IDSPolicy, strings.Join(StreamPolicies, ", "))
	}
	if sc.Target.Hops == 0 {
		sc.Target.Hops = 3
	}
	if sc.Target.Hops < 1 || sc.Target.Hops > 60 {
		return e("target.hops: %d outside 1..60", sc.Target.Hops)
	}
	if sc.Evasion.TinySize == 0 {
		sc.Evasion.TinySize = 2
	}
	if sc.Evasion.OOOSize == 0 {
		sc.Evasion.OOOSize = 16
	}
	if sc.Evasion.TinySize < 1 || sc.Evasion.TinySize > 64 {
		return e("evasion.tiny_size: %d outside 1..64", sc.Evasion.TinySize)
	}
	if sc.Evasion.OOOSize < 1 || sc.Evasion.OOOSize > sc.MSS {
		return e("evasion.ooo_size: %d outside 1..mss", sc.Evasion.OOOSize)
	}
	markers := map[string]string{}
	for i := range sc.Plant {
		p := &sc.Plant[i]
		key := fmt.Sprintf("plant[%d]", i)
		if err := p.normalize(key, sc); err != nil {
			return err
		}
		if other, ok := markers[p.Place]; ok && other != p.Marker {
			return e("%s: place %s already has marker %q: one marker per place (one rule per place)", key, p.Place, other)
		}
		markers[p.Place] = p.Marker
	}
	for pa, ma := range markers {
		for pb, mb := range markers {
			if pa != pb && strings.Contains(ma, mb) {
				return e("plant: marker %q of %s contains marker %q of %s", ma, pa, mb, pb)
			}
		}
	}
	if sc.Mix.total() == 0 && len(sc.Plant) == 0 {
		return e("mix: no kind of flow has a weight")
	}
	return nil
}

func (m *Mix) total() float64 {
	t := 0.0
	if m.HTTP != nil {
		t += m.HTTP.Weight
	}
	if m.DNS != nil {
		t += m.DNS.Weight
	}
	if m.TLS != nil {
		t += m.TLS.Weight
	}
	if m.UDP != nil {
		t += m.UDP.Weight
	}
	if m.TCP != nil {
		t += m.TCP.Weight
	}
	if m.SYN != nil {
		t += m.SYN.Weight
	}
	return t
}

func (m *Mix) normalize(mss int) error {
	// Every kind gets parameters (planted flows may need a kind the mix
	// does not weigh).
	if m.HTTP == nil {
		m.HTTP = &HTTPMix{}
	}
	if m.DNS == nil {
		m.DNS = &DNSMix{}
	}
	if m.TLS == nil {
		m.TLS = &TLSMix{}
	}
	if m.UDP == nil {
		m.UDP = &UDPMix{}
	}
	if m.TCP == nil {
		m.TCP = &TCPMix{}
	}
	if m.SYN == nil {
		m.SYN = &SYNMix{}
	}
	for _, w := range []struct {
		k string
		v float64
	}{{"http", m.HTTP.Weight}, {"dns", m.DNS.Weight}, {"tls", m.TLS.Weight}, {"udp", m.UDP.Weight}, {"tcp", m.TCP.Weight}, {"syn", m.SYN.Weight}} {
		if w.v < 0 || math.IsNaN(w.v) || math.IsInf(w.v, 0) {
			return fmt.Errorf("mix.%s.weight: %v is not a weight", w.k, w.v)
		}
	}
	h := m.HTTP
	h.Port = portOr(h.Port, 80)
	h.Requests = h.Requests.orDefault(1, 3)
	h.RequestBody = h.RequestBody.orDefault(64, 2048)
	h.ResponseBody = h.ResponseBody.orDefault(200, 20000)
	if err := h.Requests.check("mix.http.requests", 1, 100); err != nil {
		return err
	}
	if err := h.RequestBody.check("mix.http.request_body", 0, 1<<30); err != nil {
		return err
	}
	if err := h.ResponseBody.check("mix.http.response_body", 0, 1<<30); err != nil {
		return err
	}
	if h.PostShare < 0 || h.PostShare > 1 {
		return fmt.Errorf("mix.http.post_share: %v outside 0..1", h.PostShare)
	}
	d := m.DNS
	d.Port = portOr(d.Port, 53)
	d.Queries = d.Queries.orDefault(1, 2)
	if err := d.Queries.check("mix.dns.queries", 1, 100); err != nil {
		return err
	}
	if d.AnswerShare == nil {
		one := 1.0
		d.AnswerShare = &one
	}
	if *d.AnswerShare < 0 || *d.AnswerShare > 1 {
		return fmt.Errorf("mix.dns.answer_share: %v outside 0..1", *d.AnswerShare)
	}
	t := m.TLS
	t.Port = portOr(t.Port, 443)
	t.Requests = t.Requests.orDefault(1, 2)
	t.AppData = t.AppData.orDefault(500, 50000)
	if t.RecordSize == 0 {
		t.RecordSize = 16384
	}
	if err := t.Requests.check("mix.tls.requests", 1, 100); err != nil {
		return err
	}
	if err := t.AppData.check("mix.tls.app_data", 1, 1<<30); err != nil {
		return err
	}
	if t.RecordSize < 64 || t.RecordSize > 16384 {
		return fmt.Errorf("mix.tls.record_size: %d outside 64..16384", t.RecordSize)
	}
	u := m.UDP
	u.Port = portOr(u.Port, 5001)
	u.Datagrams = u.Datagrams.orDefault(1, 20)
	u.Size = u.Size.orDefault(64, min(1400, mss))
	if err := u.Datagrams.check("mix.udp.datagrams", 1, 1<<30); err != nil {
		return err
	}
	if err := u.Size.check("mix.udp.size", 0, mss+12); err != nil {
		return err
	}
	if u.ReplyShare < 0 || u.ReplyShare > 1 {
		return fmt.Errorf("mix.udp.reply_share: %v outside 0..1", u.ReplyShare)
	}
	c := m.TCP
	c.Port = portOr(c.Port, 5002)
	c.Bytes = c.Bytes.orDefault(1000, 100000)
	if err := c.Bytes.check("mix.tcp.bytes", 1, 1<<30); err != nil {
		return err
	}
	s := m.SYN
	s.Port = portOr(s.Port, 80)
	if s.AnsweredShare < 0 || s.AnsweredShare > 1 {
		return fmt.Errorf("mix.syn.answered_share: %v outside 0..1", s.AnsweredShare)
	}
	return nil
}

func portOr(p, def uint16) uint16 {
	if p == 0 {
		return def
	}
	return p
}

// markerChars says which bytes a marker may hold at a place.
func markerOK(place string, c byte) bool {
	alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	switch place {
	case PlaceHTTPURI, PlaceDNSQuery, PlaceTLSSNI:
		return alnum || c == '-'
	}
	return alnum || c == '-' || c == '_' || c == '.' || c == ':' || c == '/'
}

func (p *Plant) normalize(key string, sc *Scenario) error {
	e := func(format string, a ...any) error {
		return fmt.Errorf("gen: scenario %s: %s: "+format, append([]any{sc.Name, key}, a...)...)
	}
	known := false
	for _, pl := range Places {
		known = known || pl == p.Place
	}
	if !known {
		return e("place %q unknown (known: %s)", p.Place, strings.Join(Places, ", "))
	}
	if p.Marker == "" {
		p.Marker = "VGN-" + strings.ToUpper(strings.ReplaceAll(p.Place, "-", "")) + "-ATTACK"
	}
	if len(p.Marker) < 8 || len(p.Marker) > 48 {
		return e("marker %q: want 8..48 characters", p.Marker)
	}
	upper := false
	for i := 0; i < len(p.Marker); i++ {
		c := p.Marker[i]
		if !markerOK(p.Place, c) {
			return e("marker %q: character %q not allowed at %s", p.Marker, c, p.Place)
		}
		upper = upper || c >= 'A' && c <= 'Z'
	}
	if !upper {
		return e("marker %q: needs an uppercase letter (generated names and text are lowercase, so the marker cannot occur by chance)", p.Marker)
	}
	if where := occursInFiller(p.Marker); where != "" {
		return e("marker %q occurs in the generator's %s: choose another", p.Marker, where)
	}
	if _, err := makeDecoy([]byte(p.Marker)); err != nil {
		return e("marker %q: %v", p.Marker, err)
	}
	if len(p.Variants) == 0 {
		p.Variants = []string{"plain"}
	}
	var vs []string
	for _, v := range p.Variants {
		if v == "all" {
			for _, x := range Variants() {
				if x.AppliesTo(p.Place) {
					vs = append(vs, x.Name)
				}
			}
			continue
		}
		x, ok := LookupVariant(v)
		if !ok {
			return e("variant %q unknown (known: all, %s)", v, strings.Join(VariantNames(), ", "))
		}
		if !x.AppliesTo(p.Place) {
			return e("variant %s does not apply to %s (%s)", v, p.Place, x.placesNote())
		}
		vs = append(vs, v)
	}
	p.Variants = vs
	if p.Flows == 0 {
		p.Flows = len(p.Variants)
		if len(p.At) > 0 {
			p.Flows = len(p.At)
		}
	}
	if p.Flows < 1 || p.Flows > sc.Flows {
		return e("flows: %d outside 1..%d (the scenario's flows)", p.Flows, sc.Flows)
	}
	if len(p.At) > 0 && len(p.At) != p.Flows {
		return e("at: %d flow numbers for %d flows", len(p.At), p.Flows)
	}
	for _, a := range p.At {
		if a < 0 || a >= sc.Flows {
			return e("at: flow %d outside 0..%d", a, sc.Flows-1)
		}
	}
	return nil
}

// occursInFiller reports where s occurs in what the generator writes on
// its own (filler tables, fixed strings), or "".
func occursInFiller(s string) string {
	b := []byte(s)
	wrapped := func(t *[tableSize]byte) bool {
		if bytes.Contains(t[:], b) {
			return true
		}
		ends := append(append([]byte(nil), t[tableSize-len(b):]...), t[:len(b)]...)
		return bytes.Contains(ends, b)
	}
	if wrapped(&randTable) {
		return "random filler"
	}
	if wrapped(&textTable) {
		return "text filler"
	}
	for _, f := range fixedStrings() {
		if strings.Contains(f, s) {
			return "fixed strings"
		}
	}
	return ""
}
