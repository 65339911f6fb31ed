package rules

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ThresholdKind says what a threshold.config line (or rule keyword) does.
type ThresholdKind uint8

const (
	KindThreshold       ThresholdKind = iota // threshold
	KindEventFilter                          // event_filter (same as threshold)
	KindSuppress                             // suppress
	KindRateFilter                           // rate_filter
	KindDetectionFilter                      // detection_filter rule keyword
)

var thresholdKindNames = [...]string{"threshold", "event_filter", "suppress", "rate_filter", "detection_filter"}

func (k ThresholdKind) String() string {
	if int(k) < len(thresholdKindNames) {
		return thresholdKindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// ThresholdType is the "type" of a threshold or event_filter.
type ThresholdType uint8

const (
	TypeNone      ThresholdType = iota // not given (suppress, rate_filter, detection_filter)
	TypeLimit                          // alert at most count times per seconds
	TypeThreshold                      // alert every count-th match within seconds
	TypeBoth                           // alert once per seconds after count matches
	TypeBackoff                        // alert on the count-th, count*multiplier-th, count*multiplier²-th, ... match (by_flow)
)

var thresholdTypeNames = [...]string{"", "limit", "threshold", "both", "backoff"}

func (t ThresholdType) String() string {
	if int(t) < len(thresholdTypeNames) {
		return thresholdTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", t)
}

// Track is what a threshold counts by.
type Track uint8

const (
	TrackNone     Track = iota // not given (suppress of every alert)
	TrackBySrc                 // by_src
	TrackByDst                 // by_dst
	TrackByRule                // by_rule
	TrackByBoth                // by_both: source and destination pair
	TrackByEither              // by_either (suppress only)
	TrackByFlow                // by_flow
)

var trackNames = [...]string{"", "by_src", "by_dst", "by_rule", "by_both", "by_either", "by_flow"}

func (t Track) String() string {
	if int(t) < len(trackNames) {
		return trackNames[t]
	}
	return fmt.Sprintf("track(%d)", t)
}

// ThresholdEntry is one line of threshold.config, or the value of a rule's
// threshold / detection_filter keyword (then File, Line, GID and SID are
// zero).
type ThresholdEntry struct {
	File string
	Line int

	Kind ThresholdKind
	// GID and SID select the rules: SID 0 means every rule of GID, and GID
	// 0 with SID 0 every rule.
	GID, SID uint32

	Type    ThresholdType // threshold and event_filter
	Track   Track
	Count   uint32
	Seconds uint32
	// Multiplier is the growth factor of type backoff.
	Multiplier uint32

	NewAction string // rate_filter: alert, drop, pass, log, sdrop or reject
	Timeout   uint32 // rate_filter: seconds the new action lasts

	// IP is the address a suppress applies to (with Track by_src, by_dst or
	// by_either); the zero AddrSet (any) when the suppress has no ip.
	IP AddrSet
}

// LoadThresholds reads a threshold.config file. See ParseThresholds.
func (p *Parser) LoadThresholds(path string) ([]ThresholdEntry, []error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []error{err}
	}
	defer f.Close()
	return p.ParseThresholds(f, path)
}

// ParseThresholds reads threshold.config lines:
//
//	threshold gen_id 1, sig_id 10, type limit, track by_src, count 1, seconds 60
//	event_filter gen_id 1, sig_id 10, type both, track by_dst, count 5, seconds 60
//	suppress gen_id 1, sig_id 10[, track by_src|by_dst|by_either, ip ADDR|$VAR|[list]]
//	rate_filter gen_id 1, sig_id 10, track by_rule, count 10, seconds 1, new_action drop, timeout 30
//
// Parameters may come in any order. Comments, blank lines and "\"
// continuations are handled as in rule files. Each bad line gives one
// *Error; the others are still returned. Suppress addresses are resolved
// with the parser's variables.
func (p *Parser) ParseThresholds(r io.Reader, name string) ([]ThresholdEntry, []error) {
	var out []ThresholdEntry
	var errs []error
	ioErr := eachConfigLine(r, func(line int, text string) {
		e, err := p.parseThresholdLine(text)
		if err != nil {
			errs = append(errs, &Error{File: name, Line: line, Keyword: e.Kind.String(), Msg: err.Error()})
			return
		}
		e.File, e.Line = name, line
		out = append(out, e)
	})
	if ioErr != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, ioErr))
	}
	return out, errs
}

func (p *Parser) parseThresholdLine(text string) (ThresholdEntry, error) {
	var e ThresholdEntry
	word, rest, _ := strings.Cut(strings.TrimSpace(text), " ")
	word = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(word)), ":")
	switch word {
	case "threshold":
		e.Kind = KindThreshold
	case "event_filter":
		e.Kind = KindEventFilter
	case "suppress":
		e.Kind = KindSuppress
	case "rate_filter":
		e.Kind = KindRateFilter
	default:
		return e, fmt.Errorf("unknown directive %q (want threshold, event_filter, suppress or rate_filter)", word)
	}
	if err := p.fillThreshold(&e, rest, true); err != nil {
		return e, fmt.Errorf("%s: %w", e.Kind, err)
	}
	return e, nil
}

// ParseThresholdOption parses the value of a rule's threshold keyword
// ("type limit, track by_src, count 1, seconds 60").
func ParseThresholdOption(v string) (ThresholdEntry, error) {
	e := ThresholdEntry{Kind: KindThreshold}
	var p Parser
	if err := p.fillThreshold(&e, v, false); err != nil {
		return e, fmt.Errorf("threshold: %w", err)
	}
	return e, nil
}

// ParseDetectionFilterOption parses the value of a rule's detection_filter
// keyword ("track by_src, count 5, seconds 60").
func ParseDetectionFilterOption(v string) (ThresholdEntry, error) {
	e := ThresholdEntry{Kind: KindDetectionFilter}
	var p Parser
	if err := p.fillThreshold(&e, v, false); err != nil {
		return e, fmt.Errorf("detection_filter: %w", err)
	}
	return e, nil
}

// splitParams splits on commas outside brackets and quotes.
func splitParams(s string) []string {
	var out []string
	depth := 0
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '[':
			if !inQuote {
				depth++
			}
		case ']':
			if !inQuote && depth > 0 {
				depth--
			}
		case ',':
			if !inQuote && depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func parseU32Param(key, v string) (uint32, error) {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || v == "" || v[0] == '+' {
		return 0, fmt.Errorf("%s: invalid number %q", key, v)
	}
	return uint32(n), nil
}

// fillThreshold parses "key value, key value, ..." into e according to
// e.Kind. inConfig is true for threshold.config lines (gen_id and sig_id
// required there, forbidden in rule keywords).
func (p *Parser) fillThreshold(e *ThresholdEntry, s string, inConfig bool) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("missing parameters")
	}
	seen := map[string]bool{}
	var ipText string
	for _, part := range splitParams(s) {
		if part == "" {
			return errors.New("empty parameter (stray \",\")")
		}
		key, val := part, ""
		if i := strings.IndexAny(part, " \t"); i >= 0 {
			key, val = part[:i], part[i+1:]
		}
		key = strings.ToLower(key)
		val = strings.TrimSpace(val)
		if val == "" {
			return fmt.Errorf("parameter %q has no value", key)
		}
		if seen[key] {
			return fmt.Errorf("parameter %q given twice", key)
		}
		seen[key] = true
		allowed := false
		switch e.Kind {
		case KindThreshold, KindEventFilter:
			allowed = key == "type" || key == "track" || key == "count" || key == "seconds" || key == "multiplier"
		case KindDetectionFilter:
			allowed = key == "track" || key == "count" || key == "seconds"
		case KindSuppress:
			allowed = key == "track" || key == "ip"
		case KindRateFilter:
			allowed = key == "track" || key == "count" || key == "seconds" || key == "new_action" || key == "timeout"
		}
		if inConfig && (key == "gen_id" || key == "sig_id") {
			allowed = true
		}
		if !allowed {
			return fmt.Errorf("unknown parameter %q", key)
		}
		var err error
		switch key {
		case "gen_id":
			e.GID, err = parseU32Param(key, val)
		case "sig_id":
			e.SID, err = parseU32Param(key, val)
		case "count":
			e.Count, err = parseU32Param(key, val)
		case "seconds":
			e.Seconds, err = parseU32Param(key, val)
		case "timeout":
			e.Timeout, err = parseU32Param(key, val)
		case "multiplier":
			e.Multiplier, err = parseU32Param(key, val)
		case "type":
			switch strings.ToLower(val) {
			case "limit":
				e.Type = TypeLimit
			case "threshold":
				e.Type = TypeThreshold
			case "both":
				e.Type = TypeBoth
			case "backoff":
				e.Type = TypeBackoff
			default:
				err = fmt.Errorf("type: %q is not limit, threshold, both or backoff", val)
			}
		case "track":
			e.Track = TrackNone
			for i, n := range trackNames {
				if i > 0 && strings.EqualFold(val, n) {
					e.Track = Track(i)
				}
			}
			ok := e.Track != TrackNone
			switch e.Kind {
			case KindSuppress:
				ok = ok && (e.Track == TrackBySrc || e.Track == TrackByDst || e.Track == TrackByEither)
			case KindRateFilter:
				ok = ok && e.Track != TrackByEither
			default:
				ok = ok && e.Track != TrackByEither
			}
			if !ok {
				err = fmt.Errorf("track: %q is not valid for %s", val, e.Kind)
			}
		case "new_action":
			switch a := strings.ToLower(val); a {
			case "alert", "drop", "pass", "log", "sdrop", "reject":
				e.NewAction = a
			default:
				err = fmt.Errorf("new_action: %q is not alert, drop, pass, log, sdrop or reject", val)
			}
		case "ip":
			ipText = val
		}
		if err != nil {
			return err
		}
	}
	var need []string
	if inConfig {
		need = append(need, "gen_id", "sig_id")
	}
	switch e.Kind {
	case KindThreshold, KindEventFilter:
		if e.Type == TypeBackoff {
			need = append(need, "type", "track", "count", "multiplier")
			if seen["seconds"] {
				return errors.New("type backoff takes no seconds")
			}
			if e.Track != TrackByFlow {
				return errors.New("type backoff needs track by_flow")
			}
			if e.Multiplier < 2 {
				return errors.New("multiplier must be at least 2")
			}
		} else {
			if seen["multiplier"] {
				return errors.New("multiplier is only valid with type backoff")
			}
			need = append(need, "type", "track", "count", "seconds")
		}
	case KindDetectionFilter:
		need = append(need, "track", "count", "seconds")
	case KindRateFilter:
		need = append(need, "track", "count", "seconds", "new_action", "timeout")
	case KindSuppress:
		if seen["track"] != seen["ip"] {
			return errors.New("track and ip must be given together")
		}
	}
	for _, k := range need {
		if !seen[k] {
			return fmt.Errorf("missing parameter %q", k)
		}
	}
	if (e.Kind == KindThreshold || e.Kind == KindEventFilter || e.Kind == KindDetectionFilter || e.Kind == KindRateFilter) && e.Count == 0 {
		return errors.New("count must be at least 1")
	}
	if inConfig && e.GID == 0 && e.SID != 0 {
		return errors.New("gen_id 0 is only valid with sig_id 0 (all rules)")
	}
	if ipText != "" {
		set, err := p.Addr(ipText)
		if err != nil {
			return fmt.Errorf("ip: %w", err)
		}
		e.IP = set
	}
	return nil
}
