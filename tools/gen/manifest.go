package gen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Manifest describes what a run generated: every flow with its addresses
// and application values, the planted flows with what the target and the
// IDS should see, and the rules that detect the markers. Tests compare an
// engine's output with it.
type Manifest struct {
	Scenario     string `json:"scenario"`
	Seed         uint64 `json:"seed"`
	Frames       uint64 `json:"frames"`
	Bytes        uint64 `json:"bytes"`
	TargetPolicy string `json:"target_policy"`
	IDSPolicy    string `json:"ids_policy"`
	// TargetFragPolicy and IDSFragPolicy are the defrag policies of the
	// two (dataplane/defrag's mapping of OS names).
	TargetFragPolicy string         `json:"target_frag_policy"`
	IDSFragPolicy    string         `json:"ids_frag_policy"`
	Hops             int            `json:"hops_to_target"`
	Rules            []RuleRecord   `json:"rules"`
	Planted          []*PlantRecord `json:"planted"`
	Flows            []*FlowRecord  `json:"flows"`
}

// RuleRecord is one generated rule.
type RuleRecord struct {
	SID    int    `json:"sid"`
	Place  string `json:"place"`
	Marker string `json:"marker"`
	Rule   string `json:"rule"`
}

// FlowRecord is one generated flow. Src is the client, Dest the server.
type FlowRecord struct {
	Flow     int    `json:"flow"`
	App      string `json:"app"` // http, dns, tls, udp, tcp, syn
	Proto    string `json:"proto"`
	SrcIP    string `json:"src_ip"`
	SrcPort  uint16 `json:"src_port"`
	DestIP   string `json:"dest_ip"`
	DestPort uint16 `json:"dest_port"`
	// Application values, as tshark's http.request.uri, http.host,
	// dns.qry.name and tls.handshake.extensions_server_name show them.
	Host    string   `json:"host,omitempty"`
	URIs    []string `json:"uris,omitempty"`
	Queries []string `json:"queries,omitempty"`
	SNI     string   `json:"sni,omitempty"`
}

// PlantRecord is one planted flow.
type PlantRecord struct {
	Flow        int    `json:"flow"`
	Place       string `json:"place"`
	Marker      string `json:"marker"`
	SID         int    `json:"sid"`
	Variant     string `json:"variant"`
	Description string `json:"description"`
	Proto       string `json:"proto"`
	SrcIP       string `json:"src_ip"`
	SrcPort     uint16 `json:"src_port"`
	DestIP      string `json:"dest_ip"`
	DestPort    uint16 `json:"dest_port"`
	// TargetSees: the target (Manifest.TargetPolicy) gets the marker.
	TargetSees bool `json:"target_sees"`
	// ExpectAlert: an IDS reassembling as Manifest.IDSPolicy, without a
	// TTL normalizer and keeping urgent data inline (Vigil), sees the
	// marker, so its rule must alert on this flow; when false it must not.
	ExpectAlert bool `json:"expect_alert"`
	// SeenBy and IDSSeenBy list every policy under which the target,
	// respectively the IDS, sees the marker.
	SeenBy    []string `json:"seen_by"`
	IDSSeenBy []string `json:"ids_seen_by"`
	// ExpiredFrames are the 1-based frame numbers the target never
	// receives (TTL at most Hops at the sensor).
	ExpiredFrames []uint64 `json:"expired_frames,omitempty"`
}

func newManifest(sc *Scenario) *Manifest {
	tf, _ := FragPolicyOf(sc.Target.Policy)
	idf, _ := FragPolicyOf(sc.Target.IDSPolicy)
	m := &Manifest{Scenario: sc.Name, Seed: sc.Seed, TargetPolicy: sc.Target.Policy, IDSPolicy: sc.Target.IDSPolicy,
		TargetFragPolicy: tf, IDSFragPolicy: idf, Hops: sc.Target.Hops, Planted: []*PlantRecord{}}
	m.Rules = rulesFor(sc)
	return m
}

// ruleText returns the rule detecting marker at place.
func ruleText(place, marker string, sid int) string {
	var proto, opts, what string
	switch place {
	case PlaceHTTPURI:
		proto, what, opts = "http", "http uri", "flow:established,to_server; http.uri; content:\""+marker+"\"; classtype:web-application-attack;"
	case PlaceHTTPBody:
		proto, what, opts = "http", "http request body", "flow:established,to_server; http.request_body; content:\""+marker+"\"; classtype:web-application-attack;"
	case PlaceDNSQuery:
		proto, what, opts = "dns", "dns query", "dns.query; content:\""+marker+"\"; classtype:trojan-activity;"
	case PlaceTLSSNI:
		proto, what, opts = "tls", "tls sni", "tls.sni; content:\""+marker+"\"; classtype:trojan-activity;"
	default:
		proto, what, opts = "tcp", "tcp payload", "flow:established,to_server; content:\""+marker+"\"; classtype:misc-attack;"
	}
	return fmt.Sprintf("alert %s any any -> any any (msg:\"VIGIL-GEN planted marker in %s\"; %s sid:%d; rev:1;)", proto, what, opts, sid)
}

// rulesFor returns one rule per planted place of sc, in SID order.
func rulesFor(sc *Scenario) []RuleRecord {
	var out []RuleRecord
	for i, place := range Places {
		for _, p := range sc.Plant {
			if p.Place == place {
				out = append(out, RuleRecord{SID: SIDBase + i, Place: place, Marker: p.Marker, Rule: ruleText(place, p.Marker, SIDBase+i)})
				break
			}
		}
	}
	return out
}

// Rules returns the rules file text detecting the scenario's markers.
func Rules(sc *Scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Rules for the markers planted by vigil-gen scenario %s (one sid per place).\n", sc.Name)
	for _, r := range rulesFor(sc) {
		b.WriteString(r.Rule)
		b.WriteByte('\n')
	}
	return b.String()
}

func protoName(f *flow) string {
	if f.kind.isTCP() {
		return "TCP"
	}
	return "UDP"
}

func (m *Manifest) addFlow(f *flow) *FlowRecord {
	r := &FlowRecord{Flow: f.num, App: f.kind.String(), Proto: protoName(f), SrcIP: f.ip(0).String(), SrcPort: f.port[0],
		DestIP: f.ip(1).String(), DestPort: f.port[1]}
	m.Flows = append(m.Flows, r)
	return r
}

func (m *Manifest) addPlant(f *flow, pa *plantAssign) {
	v := pa.variant
	r := &PlantRecord{Flow: f.num, Place: pa.place, Marker: string(pa.marker), SID: pa.sid, Variant: v.Name,
		Description: v.Description(), Proto: protoName(f), SrcIP: f.ip(0).String(), SrcPort: f.port[0],
		DestIP: f.ip(1).String(), DestPort: f.port[1],
		TargetSees: v.TargetSees(m.TargetPolicy), ExpectAlert: v.IDSSees(m.IDSPolicy),
		SeenBy: v.SeenBy(), IDSSeenBy: v.IDSSeenBy()}
	m.Planted = append(m.Planted, r)
}

// expired records that frame (1-based) of flow f never reaches the target.
func (m *Manifest) expired(f *flow, frame uint64) {
	for _, p := range m.Planted {
		if p.Flow == f.num {
			p.ExpiredFrames = append(p.ExpiredFrames, frame)
			return
		}
	}
}

// Sort orders flows and planted flows by flow number.
func (m *Manifest) Sort() {
	slices.SortFunc(m.Flows, func(a, b *FlowRecord) int { return a.Flow - b.Flow })
	slices.SortFunc(m.Planted, func(a, b *PlantRecord) int { return a.Flow - b.Flow })
}

// WriteJSON writes the manifest as indented JSON.
func (m *Manifest) WriteJSON(w io.Writer) error {
	m.Sort()
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("gen: writing manifest: %w", err)
	}
	return nil
}

// WriteFile writes the manifest to path.
func (m *Manifest) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("gen: manifest: %w", err)
	}
	if err := m.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gen: manifest %s: %w", path, err)
	}
	return nil
}

// ReadManifest reads a manifest written by WriteFile.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gen: manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("gen: manifest %s: %w", path, err)
	}
	return &m, nil
}
