package affinity

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func mustSet(t testing.TB, list string) CPUSet {
	t.Helper()
	s, err := ParseCPUSet(list)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseCPUSet(t *testing.T) {
	for _, c := range []struct {
		in   string
		cpus []int
		str  string
	}{
		{"0", []int{0}, "0"},
		{"0-3,6,8-9", []int{0, 1, 2, 3, 6, 8, 9}, "0-3,6,8-9"},
		{"0,1", []int{0, 1}, "0-1"},
		{"3,1,2", []int{1, 2, 3}, "1-3"},
		{" 0 - 2 , 5 ", []int{0, 1, 2, 5}, "0-2,5"},
		{"7-7", []int{7}, "7"},
		{"0-3,2-5", []int{0, 1, 2, 3, 4, 5}, "0-5"},
		{"63,64,127-128", []int{63, 64, 127, 128}, "63-64,127-128"},
		{"1023", []int{1023}, "1023"},
		{"0,2,4", []int{0, 2, 4}, "0,2,4"},
		{"007", []int{7}, "7"},
	} {
		s, err := ParseCPUSet(c.in)
		if err != nil {
			t.Errorf("ParseCPUSet(%q): %v", c.in, err)
			continue
		}
		if got := s.List(); !slices.Equal(got, c.cpus) {
			t.Errorf("ParseCPUSet(%q) = %v, want %v", c.in, got, c.cpus)
		}
		if s.String() != c.str {
			t.Errorf("ParseCPUSet(%q).String() = %q, want %q", c.in, s.String(), c.str)
		}
		if s.Count() != len(c.cpus) {
			t.Errorf("ParseCPUSet(%q).Count() = %d", c.in, s.Count())
		}
	}
}

func TestParseCPUSetErrors(t *testing.T) {
	for _, c := range []struct{ in, part string }{
		{"", "empty"},
		{"  ", "empty"},
		{"0-3,x", `part 2 "x"`},
		{"0,,2", `part 2 ""`},
		{"0,", `part 2 ""`},
		{"5-3", `part 1 "5-3": range ends before it starts`},
		{"1024", `part 1 "1024"`},
		{"0-99999999999999999999", `part 1 "0-99999999999999999999"`},
		{"-1", `part 1 "-1": missing CPU number`},
		{"1-", `part 1 "1-": missing CPU number`},
		{"1-2-3", `part 1 "1-2-3"`},
		{"+1", `part 1 "+1"`},
		{"0x1", `part 1 "0x1"`},
		{"all", `part 1 "all"`},
	} {
		_, err := ParseCPUSet(c.in)
		if err == nil {
			t.Errorf("ParseCPUSet(%q) succeeded", c.in)
			continue
		}
		if !errors.Is(err, ErrCPUList) || !strings.Contains(err.Error(), c.part) {
			t.Errorf("ParseCPUSet(%q) error %q, want it to name %q and wrap ErrCPUList", c.in, err, c.part)
		}
	}
}

func TestCPUSetOps(t *testing.T) {
	a, b := mustSet(t, "0-3"), mustSet(t, "2-5")
	for _, c := range []struct {
		name string
		got  CPUSet
		want string
	}{
		{"union", a.Union(b), "0-5"},
		{"intersect", a.Intersect(b), "2-3"},
		{"difference", a.Difference(b), "0-1"},
	} {
		if c.got.String() != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	if a.String() != "0-3" {
		t.Errorf("operations modified their receiver: %s", a)
	}
	if !mustSet(t, "1-2").SubsetOf(a) || b.SubsetOf(a) {
		t.Error("SubsetOf wrong")
	}
	var e CPUSet
	if !e.IsEmpty() || e.String() != "" || e.Count() != 0 || len(e.List()) != 0 {
		t.Error("zero CPUSet is not empty")
	}
	if !e.SubsetOf(a) {
		t.Error("empty set is not a subset")
	}
	if err := e.Add(1024); !errors.Is(err, ErrCPUList) {
		t.Errorf("Add(1024): %v", err)
	}
	if err := e.Add(-1); !errors.Is(err, ErrCPUList) {
		t.Errorf("Add(-1): %v", err)
	}
	if err := e.Add(700); err != nil || !e.Has(700) || e.Has(699) || e.Has(-1) || e.Has(5000) {
		t.Errorf("Add(700): %v, set %s", err, e)
	}
	e.Remove(700)
	if !e.IsEmpty() {
		t.Errorf("Remove(700) left %s", e)
	}
	s, err := CPUSetOf(5, 1, 3)
	if err != nil || s != mustSet(t, "1,3,5") {
		t.Errorf("CPUSetOf(5,1,3) = %s, %v", s, err)
	}
	if _, err := CPUSetOf(1, 2000); err == nil {
		t.Error("CPUSetOf(2000) succeeded")
	}
}

func TestCPUSetText(t *testing.T) {
	var cfg struct {
		Worker CPUSet `yaml:"worker-cpu-set"`
	}
	if err := yaml.Unmarshal([]byte(`worker-cpu-set: "1-3,7"`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Worker.String() != "1-3,7" {
		t.Fatalf("yaml decoded %s", cfg.Worker)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil || strings.TrimSpace(string(out)) != "worker-cpu-set: 1-3,7" {
		t.Fatalf("yaml encoded %q, %v", out, err)
	}
	if err := yaml.Unmarshal([]byte(`worker-cpu-set: "1-x"`), &cfg); !errors.Is(err, ErrCPUList) {
		t.Fatalf("bad list decoded: %v", err)
	}
}

// FuzzParseCPUSet checks that the parser never panics and that whatever it
// accepts prints in canonical form and parses back to the same set.
func FuzzParseCPUSet(f *testing.F) {
	for _, s := range []string{"0", "0-3,6,8-9", " 1 , 2-4", "5-3", "", ",", "1023", "0-1023", "1-2-3", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseCPUSet(in)
		if err != nil {
			if !errors.Is(err, ErrCPUList) {
				t.Fatalf("ParseCPUSet(%q) error does not wrap ErrCPUList: %v", in, err)
			}
			return
		}
		if s.IsEmpty() {
			t.Fatalf("ParseCPUSet(%q) accepted an empty set", in)
		}
		str := s.String()
		back, err := ParseCPUSet(str)
		if err != nil || back != s {
			t.Fatalf("ParseCPUSet(%q) = %s, which parses back as %s, %v", in, str, back, err)
		}
		if back.String() != str {
			t.Fatalf("String not canonical: %q -> %q", str, back.String())
		}
		list := s.List()
		if len(list) != s.Count() || !slices.IsSorted(list) {
			t.Fatalf("List %v, Count %d", list, s.Count())
		}
	})
}
