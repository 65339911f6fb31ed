package rules

import (
	"net/netip"
	"strings"
	"testing"
)

// Seeds: real rules from the ET Open set and Suricata's own rule files,
// plus edge cases of the syntax.
var ruleSeeds = []string{
	`alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"ET WEB_SERVER Muieblackcat scanner"; flow:established,to_server; content:"GET /muieblackcat HTTP/1.1"; depth:26; classtype:attempted-recon; sid:2013115; rev:3; metadata:created_at 2011_06_24, updated_at 2019_07_26;)`,
	`alert udp $EXTERNAL_NET any -> $HOME_NET 53 (msg:"GPL DNS named iquery attempt"; content:"|09 80 00 00 00 01 00 00 00 00|"; depth:16; offset:2; reference:bugtraq,134; reference:cve,1999-0009; classtype:attempted-recon; sid:2100252; rev:9;)`,
	`alert udp $EXTERNAL_NET any -> $HOME_NET 5060 (msg:"ET SCAN SipCLI VOIP Scan"; content:"|0D 0A|User-Agent|3A 20|sipcli/"; fast_pattern; threshold: type limit, count 1, seconds 60, track by_src; classtype:attempted-recon; sid:2017162; rev:3;)`,
	`alert udp $EXTERNAL_NET any -> $HOME_NET 500 (msg:"ET EXPLOIT Possible Cisco IKEv1 Information Disclosure"; dsize:>828; content:"|00 00 00 00 00 00 00 00 01 10|"; offset:8; depth:10; byte_test:1,<,3,0,relative; reference:cve,2016-6415; classtype:attempted-user; sid:2023311; rev:1;)`,
	`alert tcp $EXTERNAL_NET $HTTP_PORTS -> $HOME_NET any (msg:"ET EXPLOIT libPNG"; flow: established; content:"|89 50 4E 47 0D 0A 1A 0A|"; depth:8; content:"sPLT"; isdataat:80,relative; content:!"|00|"; distance: 0; classtype:misc-activity; sid:2001195; rev:9;)`,
	`alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"ET PHISHING x"; flow:established,to_server; http.method; content:"POST"; http.request_body; pcre:"/^["']?post/Ri"; classtype:social-engineering; sid:2029732; rev:1;)`,
	`alert dns $HOME_NET any -> any any (msg:"ET DNS Query"; dns.query; content:"evil.example"; nocase; endswith; classtype:bad-unknown; sid:2000001; rev:1;)`,
	`alert tls $EXTERNAL_NET any -> $HOME_NET any (msg:"ET TLS"; tls.cert_subject; content:"CN=x"; ja3_hash; content:"abc"; sid:2000002;)`,
	`alert tcp any any -> any any (msg:"SURICATA STREAM reassembly depth reached"; stream-event:reassembly_depth_reached; classtype:protocol-command-decode; sid:2210062; rev:1;)`,
	`alert tcp [10.0.0.0/8,![10.1.0.0/16,!10.1.2.3]] [1024:,!8080] <> [2001:db8::/32, 1.2.3.4-1.2.3.9] :1023 (msg:"a\;b\"c\\d\:e"; content:"a;b"; sid:1;)`,
	`drop ip !$HOME_NET any -> $HOME_NET !$HTTP_PORTS (msg:"x"; priority:2; gid:3; sid:4; rev:5;)`,
	`alert tcp any any -> any any (msg:"x"; sid:1)`,
	`alert tcp any any <- any any (sid:1;)`,
	`alert tcp any any -> any any (content:"|41 4|"; sid:1;)`,
	`alert tcp any any -> any any (sid:1; msg:"unterminated;)`,
	`alert tcp any any -> any any ( sid : 1 ; msg : "spaced" ; )`,
}

func FuzzParseRule(f *testing.F) {
	for _, s := range ruleSeeds {
		f.Add(s)
	}
	var p Parser
	f.Fuzz(func(t *testing.T, text string) {
		r, err := p.ParseRule(text, "fuzz.rules", 1)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.rules:1: ") {
				t.Fatalf("error without location: %q", err)
			}
			return
		}
		if r.SID == 0 || r.Priority < 1 || r.Priority > 255 || r.GID == 0 && !strings.Contains(r.Raw, "gid") {
			t.Fatalf("bad fields: sid %d prio %d gid %d", r.SID, r.Priority, r.GID)
		}
		for _, o := range r.Options {
			if !KnownKeyword(o.Name) {
				t.Fatalf("unknown keyword %q accepted", o.Name)
			}
			if !o.HasValue && o.Value != "" {
				t.Fatalf("option %q has a value without HasValue", o.Name)
			}
			// The helpers the engine applies to values must not panic.
			_, _, _ = DecodeContent(o.Value)
			_, _ = Unquote(o.Value)
			_ = SplitArgs(o.Value)
		}
		// Parsing the rule's own text again gives the same rule.
		r2, err := p.ParseRule(r.Raw, "fuzz.rules", 1)
		if err != nil {
			t.Fatalf("reparse of %q: %v", r.Raw, err)
		}
		if r2.SID != r.SID || r2.Msg != r.Msg || len(r2.Options) != len(r.Options) {
			t.Fatalf("reparse differs")
		}
		a := netip.MustParseAddr("10.1.2.3")
		_ = r.Src.Contains(a) || r.Dst.Contains(a) || r.SrcPorts.Contains(80) || r.DstPorts.Contains(80)
	})
}

func FuzzAddrSet(f *testing.F) {
	for _, s := range []string{"any", "1.2.3.4", "!$HOME_NET", "[10.0.0.0/8,![10.1.0.0/16,!10.1.2.3]]",
		"2001:db8::/32", "1.2.3.4-1.2.3.9", "::1-::ff", "192.168.0.0/255.255.0.0", "[$EXTERNAL_NET,10.0.0.1]",
		"[[1.1.1.1,[2.2.2.2]],!3.3.3.3]", "!![::/1]"} {
		f.Add(s)
	}
	vars := DefaultVars()
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseAddrSet(text, vars)
		if err != nil {
			return
		}
		// Every prefix the set reports is in it, and the addresses just
		// outside a prefix are in it only if a neighbouring prefix says so.
		ps := s.Prefixes()
		if len(ps) == 0 {
			t.Fatal("accepted set has no prefixes")
		}
		for _, p := range ps {
			if !s.Contains(p.Addr()) {
				t.Fatalf("%q: %v not contained", text, p)
			}
			if prev := p.Addr().Prev(); prev.IsValid() && s.Contains(prev) {
				found := false
				for _, q := range ps {
					if q.Contains(prev) {
						found = true
					}
				}
				if !found {
					t.Fatalf("%q: %v contained but in no prefix", text, prev)
				}
			}
		}
	})
}

func FuzzPortSet(f *testing.F) {
	for _, s := range []string{"any", "80", "!80", "1024:", ":1023", "[80:90,!85]", "$HTTP_PORTS", "[1:100,![50:60,!55]]"} {
		f.Add(s)
	}
	vars := DefaultVars()
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParsePortSet(text, vars)
		if err != nil {
			return
		}
		rs := s.Ranges()
		for i, r := range rs {
			if r[0] > r[1] || i > 0 && uint32(rs[i-1][1])+1 >= uint32(r[0]) {
				t.Fatalf("%q: ranges not sorted/disjoint/merged: %v", text, rs)
			}
			if !s.Contains(r[0]) || !s.Contains(r[1]) {
				t.Fatalf("%q: range ends not contained", text)
			}
			if r[0] > 0 && s.Contains(r[0]-1) {
				t.Fatalf("%q: %d contained outside ranges", text, r[0]-1)
			}
		}
	})
}

func FuzzDecodeContent(f *testing.F) {
	for _, s := range []string{`"abc"`, `!"abc"`, `"|41 42|c"`, `"a\;b\"c\\d\:e"`, `"|4|"`, `"a|0d0a|"`, `""`, `"\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		pat, _, err := DecodeContent(v)
		if err == nil && len(pat) == 0 {
			t.Fatal("empty pattern accepted")
		}
		_, _ = Unquote(v)
		_ = SplitArgs(v)
	})
}

func FuzzParseThresholds(f *testing.F) {
	f.Add("threshold gen_id 1, sig_id 100, type limit, track by_src, count 1, seconds 60\n" +
		"suppress gen_id 1, sig_id 103, track by_either, ip [$HOME_NET,1.2.3.4]\n" +
		"rate_filter gen_id 1, sig_id 105, track by_rule, count 10, seconds 1, new_action drop, timeout 30\n")
	f.Add("event_filter gen_id 1, sig_id 101, type both, track by_dst, \\\ncount 5, seconds 30\n# c\n")
	var p Parser
	f.Fuzz(func(t *testing.T, src string) {
		entries, errs := p.ParseThresholds(strings.NewReader(src), "t.config")
		for _, e := range errs {
			if _, ok := e.(*Error); !ok {
				t.Fatalf("error %T", e)
			}
		}
		for _, e := range entries {
			if e.Line < 1 {
				t.Fatal("entry without line")
			}
		}
	})
}

func FuzzParseReader(f *testing.F) {
	f.Add(strings.Join(ruleSeeds, "\n"))
	f.Add("# c\nalert tcp any any -> any any (msg:\"a\"; \\\n sid:1;)\nalert tcp any any -> any any (sid:1; rev:2;)\n\\")
	var p Parser
	f.Fuzz(func(t *testing.T, src string) {
		rules, _ := p.ParseReader(strings.NewReader(src), "f.rules")
		seen := map[[2]uint32]bool{}
		for _, r := range rules {
			k := [2]uint32{r.GID, r.SID}
			if seen[k] {
				t.Fatalf("duplicate gid %d sid %d loaded", r.GID, r.SID)
			}
			seen[k] = true
			if r.Line < 1 {
				t.Fatal("rule without line")
			}
		}
	})
}
