package rules

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAddrSet(t *testing.T) {
	vars := &Vars{Addr: map[string]string{
		"HOME_NET":     "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
		"EXTERNAL_NET": "!$HOME_NET",
		"$DMZ":         "[10.1.0.0/16, !10.1.2.0/24]", // key written with '$'
		"V6NET":        "2001:db8::/32",
		"MIXED":        "[$V6NET, 192.0.2.0/24]",
		"ANYVAR":       "any",
	}}
	tests := []struct {
		text string
		in   []string
		out  []string
		any  bool
	}{
		{"any", []string{"0.0.0.0", "255.255.255.255", "::", "2001:db8::1"}, nil, true},
		{"ANY", []string{"1.2.3.4"}, nil, true},
		{"$ANYVAR", []string{"1.2.3.4", "::1"}, nil, true},
		{"[0.0.0.0/0, ::/0]", []string{"1.2.3.4", "::1"}, nil, true},
		{"[0.0.0.0/1, 128.0.0.0/1, ::/0]", []string{"1.2.3.4", "::1"}, nil, true},
		{"1.2.3.4", []string{"1.2.3.4"}, []string{"1.2.3.5", "1.2.3.3", "::ffff:1.2.3.4"}, false},
		{"0.0.0.0/0", []string{"0.0.0.0", "255.255.255.255"}, []string{"::", "::1"}, false},
		{"::/0", []string{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:1.2.3.4"}, []string{"1.2.3.4"}, false},
		{"10.0.0.0/8", []string{"10.0.0.0", "10.255.255.255"}, []string{"9.255.255.255", "11.0.0.0"}, false},
		{"10.1.2.3/8", []string{"10.0.0.0", "10.255.255.255"}, []string{"11.0.0.0"}, false}, // host bits masked
		{"192.168.1.0/255.255.255.0", []string{"192.168.1.0", "192.168.1.255"}, []string{"192.168.2.0"}, false},
		{"1.2.3.4/32", []string{"1.2.3.4"}, []string{"1.2.3.5"}, false},
		{"1.2.3.10-1.2.3.20", []string{"1.2.3.10", "1.2.3.15", "1.2.3.20"}, []string{"1.2.3.9", "1.2.3.21"}, false},
		{"2001:db8::1-2001:db8::ff", []string{"2001:db8::1", "2001:db8::ff"}, []string{"2001:db8::", "2001:db8::100"}, false},
		{"2001:db8::/32", []string{"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"2001:db9::", "2001:db7:ffff::"}, false},
		{"2001:db8:0:1::/64", []string{"2001:db8:0:1::5", "2001:db8:0:1:ffff:ffff:ffff:ffff"}, []string{"2001:db8:0:2::"}, false},
		{"2001:db8::1:0:0:0/80", []string{"2001:db8::1:0:0:0", "2001:db8::1:ffff:ffff:ffff"}, []string{"2001:db8::2:0:0:0"}, false},
		{"::1/128", []string{"::1"}, []string{"::2", "::"}, false},
		{"!1.2.3.4", []string{"1.2.3.3", "1.2.3.5", "::1"}, []string{"1.2.3.4"}, false},
		{"![1.2.3.4,5.6.7.8]", []string{"1.2.3.5", "::1"}, []string{"1.2.3.4", "5.6.7.8"}, false},
		{"[1.2.3.0/24,!1.2.3.4]", []string{"1.2.3.3", "1.2.3.5"}, []string{"1.2.3.4", "1.2.4.1", "::1"}, false},
		{"[!1.2.3.4]", []string{"1.2.3.5", "::1"}, []string{"1.2.3.4"}, false},
		{"[!1.2.3.4, !1.2.3.5]", []string{"1.2.3.6"}, []string{"1.2.3.4", "1.2.3.5"}, false},
		// nested: 10/8 minus (10.1/16 minus 10.1.2/24)
		{"[10.0.0.0/8,![10.1.0.0/16,!10.1.2.0/24]]", []string{"10.0.0.1", "10.1.2.3", "10.2.0.0"}, []string{"10.1.0.1", "10.1.3.0", "11.0.0.0"}, false},
		{"[[1.1.1.1,[2.2.2.2,[3.3.3.3]]],4.4.4.4]", []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"}, []string{"5.5.5.5"}, false},
		{"!![1.1.1.1]", []string{"1.1.1.1"}, []string{"1.1.1.2"}, false},
		{"$HOME_NET", []string{"192.168.1.1", "10.9.9.9", "172.31.255.255"}, []string{"172.32.0.0", "8.8.8.8", "::1"}, false},
		{"HOME_NET", nil, nil, false}, // not a variable reference: invalid address (checked below)
		{"$EXTERNAL_NET", []string{"8.8.8.8", "172.32.0.0", "2001:db8::1"}, []string{"192.168.1.1", "10.0.0.1"}, false},
		{"!$HOME_NET", []string{"8.8.8.8"}, []string{"10.0.0.1"}, false},
		{"![$HOME_NET]", []string{"8.8.8.8"}, []string{"10.0.0.1"}, false},
		{"[$EXTERNAL_NET,10.0.0.1]", []string{"8.8.8.8", "10.0.0.1"}, []string{"10.0.0.2"}, false},
		{"[$HOME_NET,!$DMZ]", []string{"10.1.2.3", "10.2.0.0"}, []string{"10.1.3.3", "8.8.8.8"}, false},
		{"$DMZ", []string{"10.1.3.3"}, []string{"10.1.2.3"}, false},
		{"$MIXED", []string{"2001:db8::5", "192.0.2.7"}, []string{"192.0.3.1", "2001:db9::"}, false},
		{"[ 1.1.1.1 , ! 2.2.2.0/24 , 2.2.2.2 ]", []string{"1.1.1.1"}, []string{"2.2.2.2", "2.2.2.3", "3.3.3.3"}, false},
	}
	for _, tt := range tests {
		s, err := ParseAddrSet(tt.text, vars)
		if tt.text == "HOME_NET" {
			if err == nil {
				t.Errorf("%q accepted", tt.text)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.text, err)
			continue
		}
		if s.IsAny() != tt.any {
			t.Errorf("%q: IsAny %v", tt.text, s.IsAny())
		}
		if s.String() != strings.TrimSpace(tt.text) {
			t.Errorf("%q: String %q", tt.text, s.String())
		}
		for _, a := range tt.in {
			if !s.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%q should contain %s", tt.text, a)
			}
		}
		for _, a := range tt.out {
			if s.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%q should not contain %s", tt.text, a)
			}
		}
		if !tt.any && s.Contains(netip.Addr{}) {
			t.Errorf("%q contains the invalid Addr", tt.text)
		}
	}
	var zero AddrSet
	if !zero.IsAny() || !zero.Contains(netip.MustParseAddr("1.2.3.4")) || zero.String() != "any" {
		t.Error("zero AddrSet is not any")
	}
}

func TestAddrSetErrors(t *testing.T) {
	vars := &Vars{Addr: map[string]string{
		"LOOP_A": "$LOOP_B", "LOOP_B": "[1.2.3.4,$LOOP_A]", "SELF": "$SELF",
		"BAD": "[1.2.3.4", "EMPTYV": "",
	}}
	tests := []struct{ text, want string }{
		{"", "empty address"},
		{"   ", "empty address"},
		{"!any", `"!any" matches no address`},
		{"[1.2.3.4,!any]", `"!any" in list`},
		{"[1.2.3.4,!1.2.3.4]", "matches no address"},
		{"![0.0.0.0/0,::/0]", "matches no address"},
		{"$NOPE", `undefined address variable "$NOPE"`},
		{"[1.2.3.4,$NOPE]", `undefined address variable "$NOPE"`},
		{"$LOOP_A", "variable loop: $LOOP_A -> $LOOP_B -> $LOOP_A"},
		{"$SELF", "variable loop: $SELF -> $SELF"},
		{"$BAD", `in $BAD ("[1.2.3.4"): missing "]"`},
		{"$EMPTYV", "empty address"},
		{"$", "invalid variable name"},
		{"$A B", "invalid variable name"},
		{"[1.2.3.4", `missing "]"`},
		{"[1.2.3.4]]", `unexpected "]"`},
		{"[1.2.3.4]x", `unexpected "x" after "]"`},
		{"1.2.3.4]", "invalid IP address"},
		{"[]", "empty element"},
		{"[1.2.3.4,,5.6.7.8]", "empty element"},
		{"1.2.3", "invalid IP address"},
		{"1.2.3.4/33", "invalid prefix length"},
		{"1.2.3.4/-1", "invalid IP address"},
		{"1.2.3.4/+1", "invalid prefix length"},
		{"1.2.3.4/", "invalid prefix length"},
		{"::/129", "invalid prefix length"},
		{"1.2.3.4/255.0.255.0", "not contiguous"},
		{"::1/255.0.0.0", "IPv4 only"},
		{"1.2.3.4/255.0.0", "invalid netmask"},
		{"1.2.3.9-1.2.3.1", "start is above end"},
		{"1.2.3.4-::1", "mixes IPv4 and IPv6"},
		{"1.2.3.4-", "invalid IP address"},
		{"fe80::1%eth0", "zones are not allowed"},
		{"example.com", "invalid IP address"},
		{strings.Repeat("[", 100) + "1.1.1.1" + strings.Repeat("]", 100), "nested too deeply"},
	}
	for _, tt := range tests {
		_, err := ParseAddrSet(tt.text, vars)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestAddrSetPrefixes(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"any", "0.0.0.0/0 ::/0"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"1.2.3.4-1.2.3.7", "1.2.3.4/30"},
		{"1.2.3.3-1.2.3.8", "1.2.3.3/32 1.2.3.4/30 1.2.3.8/32"},
		{"![0.0.0.0/1]", "128.0.0.0/1 ::/0"},
		{"!::/1", "0.0.0.0/0 8000::/1"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::1-::4", "::1/128 ::2/127 ::4/128"},
		{"[::/128, ::1]", "::/127"},
		{"255.255.255.255", "255.255.255.255/32"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"},
		{"0:0:0:1::-0:0:0:2::", "0:0:0:1::/64 0:0:0:2::/128"},
	} {
		s, err := ParseAddrSet(tt.text, nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		var got []string
		for _, p := range s.Prefixes() {
			got = append(got, p.String())
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("%q: prefixes %q, want %q", tt.text, g, tt.want)
		}
	}
}

func TestPortSet(t *testing.T) {
	vars := &Vars{Port: map[string]string{
		"HTTP_PORTS":      "[80,8080,8000:8100]",
		"SHELLCODE_PORTS": "!80",
		"FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
		"$SSH_PORTS":      "22",
	}}
	tests := []struct {
		text    string
		in, out []uint16
		any     bool
	}{
		{"any", []uint16{0, 1, 65535}, nil, true},
		{"0:", []uint16{0, 65535}, nil, true},
		{"[0:100,101:65535]", []uint16{0, 100, 101, 65535}, nil, true},
		{"80", []uint16{80}, []uint16{79, 81, 0, 65535}, false},
		{"0", []uint16{0}, []uint16{1}, false},
		{"65535", []uint16{65535}, []uint16{65534}, false},
		{"80:90", []uint16{80, 85, 90}, []uint16{79, 91}, false},
		{"1024:", []uint16{1024, 65535}, []uint16{1023, 0}, false},
		{":1023", []uint16{0, 1023}, []uint16{1024}, false},
		{"!80", []uint16{0, 79, 81, 65535}, []uint16{80}, false},
		{"![80,443]", []uint16{81, 442, 444}, []uint16{80, 443}, false},
		{"[1024:,!8080]", []uint16{1024, 8079, 8081, 65535}, []uint16{1023, 8080}, false},
		{"[!80]", []uint16{81}, []uint16{80}, false},
		{"[1:100,![50:60,!55]]", []uint16{1, 49, 55, 61, 100}, []uint16{0, 50, 54, 56, 60, 101}, false},
		{"$HTTP_PORTS", []uint16{80, 8080, 8050}, []uint16{81, 443}, false},
		{"$SHELLCODE_PORTS", []uint16{81}, []uint16{80}, false},
		{"$FILE_DATA_PORTS", []uint16{80, 110, 143, 8000}, []uint16{111}, false},
		{"!$HTTP_PORTS", []uint16{81, 443}, []uint16{80, 8080}, false},
		{"[$SSH_PORTS, 2222]", []uint16{22, 2222}, []uint16{23}, false},
		{"[ 80 , 443 ]", []uint16{80, 443}, []uint16{8080}, false},
	}
	for _, tt := range tests {
		s, err := ParsePortSet(tt.text, vars)
		if err != nil {
			t.Errorf("%q: %v", tt.text, err)
			continue
		}
		if s.IsAny() != tt.any || s.String() != strings.TrimSpace(tt.text) {
			t.Errorf("%q: IsAny %v String %q", tt.text, s.IsAny(), s.String())
		}
		for _, p := range tt.in {
			if !s.Contains(p) {
				t.Errorf("%q should contain %d", tt.text, p)
			}
		}
		for _, p := range tt.out {
			if s.Contains(p) {
				t.Errorf("%q should not contain %d", tt.text, p)
			}
		}
	}
	s, _ := ParsePortSet("[1:100,![50:60,!55]]", nil)
	if got := s.Ranges(); len(got) != 3 || got[0] != [2]uint16{1, 49} || got[1] != [2]uint16{55, 55} || got[2] != [2]uint16{61, 100} {
		t.Errorf("Ranges %v", got)
	}
	var zero PortSet
	if !zero.IsAny() || !zero.Contains(12345) || zero.String() != "any" {
		t.Error("zero PortSet is not any")
	}
}

func TestPortSetErrors(t *testing.T) {
	vars := &Vars{Port: map[string]string{"A": "$B", "B": "$A", "HTTP": "80"}}
	for _, tt := range []struct{ text, want string }{
		{"", "empty port"},
		{"!any", `"!any" matches no port`},
		{"[80,!80]", "matches no port"},
		{"![0:]", "matches no port"},
		{"65536", `port "65536" out of range`},
		{"123456", `invalid port "123456"`},
		{"-1", `invalid port "-1"`},
		{"+80", `invalid port "+80"`},
		{"http", `invalid port "http"`},
		{"90:80", "start is above end"},
		{":", "invalid port range"},
		{"1:2:3", `invalid port "1:2:3"`},
		{"[80", `missing "]"`},
		{"[80,]", "empty element"},
		{"$NOPE", `undefined port variable "$NOPE"`},
		{"$A", "variable loop: $A -> $B -> $A"},
		{"$HOME_NET", `undefined port variable "$HOME_NET"`},
	} {
		_, err := ParsePortSet(tt.text, vars)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestDefaultVars(t *testing.T) {
	v := DefaultVars()
	for _, name := range []string{"HOME_NET", "EXTERNAL_NET", "HTTP_SERVERS", "SMTP_SERVERS", "SQL_SERVERS",
		"DNS_SERVERS", "TELNET_SERVERS", "AIM_SERVERS", "DC_SERVERS", "DNP3_SERVER", "DNP3_CLIENT",
		"MODBUS_CLIENT", "MODBUS_SERVER", "ENIP_CLIENT", "ENIP_SERVER"} {
		val, ok := v.LookupAddr("$" + name)
		if !ok {
			t.Errorf("address var %s missing", name)
			continue
		}
		if _, err := ParseAddrSet(val, v); err != nil {
			t.Errorf("%s=%q: %v", name, val, err)
		}
	}
	want := map[string]string{"HTTP_PORTS": "80", "SHELLCODE_PORTS": "!80", "ORACLE_PORTS": "1521", "SSH_PORTS": "22",
		"DNP3_PORTS": "20000", "MODBUS_PORTS": "502", "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]", "FTP_PORTS": "21",
		"GENEVE_PORTS": "6081", "VXLAN_PORTS": "4789", "TEREDO_PORTS": "3544"}
	for name, w := range want {
		if got, ok := v.LookupPort(name); !ok || got != w {
			t.Errorf("port var %s = %q, want %q", name, got, w)
		}
		if _, err := ParsePortSet("$"+name, v); err != nil {
			t.Errorf("$%s: %v", name, err)
		}
	}
	if h, _ := v.LookupAddr("HOME_NET"); h != "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]" {
		t.Errorf("HOME_NET %q", h)
	}
	if e, _ := v.LookupAddr("EXTERNAL_NET"); e != "!$HOME_NET" {
		t.Errorf("EXTERNAL_NET %q", e)
	}
	var nilVars *Vars
	if _, ok := nilVars.LookupAddr("HOME_NET"); ok {
		t.Error("nil Vars found a variable")
	}
}

func TestSetContainsAllocs(t *testing.T) {
	a, err := ParseAddrSet("[$HOME_NET,2001:db8::/32,!10.1.0.0/16]", DefaultVars())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ParsePortSet("[80,443,1024:2048,!1500]", nil)
	if err != nil {
		t.Fatal(err)
	}
	v4 := netip.MustParseAddr("10.2.3.4")
	v6 := netip.MustParseAddr("2001:db8::77")
	n := testing.AllocsPerRun(1000, func() {
		if !a.Contains(v4) || !a.Contains(v6) || !ps.Contains(1025) || ps.Contains(1500) {
			t.Fatal("wrong result")
		}
	})
	if n != 0 {
		t.Errorf("Contains allocates %v times per run", n)
	}
}

func BenchmarkAddrSetContains(b *testing.B) {
	var list []string
	for i := 0; i < 200; i++ {
		list = append(list, netip.AddrFrom4([4]byte{byte(i), byte(i * 7), 0, 0}).String()+"/16")
	}
	s, err := ParseAddrSet("["+strings.Join(list, ",")+",2001:db8::/32]", nil)
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("100.188.1.1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:db8::1")}
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		if s.Contains(addrs[i%3]) {
			hits++
		}
	}
	if hits == 0 {
		b.Fatal("no hits")
	}
}

func BenchmarkPortSetContains(b *testing.B) {
	s, err := ParsePortSet("[80,443,8000:8100,1024:2048,!1500,3306,5432]", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	hits := 0
	for i := 0; i < b.N; i++ {
		if s.Contains(uint16(i)) {
			hits++
		}
	}
	_ = hits
}
