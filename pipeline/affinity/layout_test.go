package affinity

import (
	"errors"
	"strings"
	"testing"
)

// threads renders a plan's threads of one role as "1 0".
func threads(p Plan, r Role) string {
	var parts []string
	for _, s := range p.Threads[r] {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, " ")
}

func TestLayoutAuto(t *testing.T) {
	for _, c := range []struct {
		name   string
		online string
		roles  RoleCounts
		// Expected threads per role (management, receive, worker, verdict).
		mgmt, recv, work, verd string
	}{
		{"1cpu-workers", "0", RoleCounts{Management: 1}, "0", "", "0", ""},
		{"2cpu-workers", "0-1", RoleCounts{Management: 1}, "0", "", "1 0", ""},
		{"2cpu-autofp", "0-1", RoleCounts{Management: 1, Receive: 1}, "0", "1", "0", ""},
		{"2cpu-autofp-2w", "0-1", RoleCounts{Management: 1, Receive: 1, Worker: 2}, "0", "1", "0 1", ""},
		{"3cpu-workers", "0-2", RoleCounts{Management: 1}, "0", "", "1 2 0", ""},
		{"3cpu-2workers", "0-2", RoleCounts{Management: 1, Worker: 2}, "0", "", "1 2", ""},
		{"4cpu-workers", "0-3", RoleCounts{Management: 1}, "0", "", "1 2 3", ""},
		{"8cpu-autofp", "0-7", RoleCounts{Management: 2, Receive: 1}, "0 0", "1", "2 3 4 5 6 7", ""},
		{"8cpu-nfq", "0-7", RoleCounts{Management: 1, Verdict: 1, Worker: 4}, "0", "", "2 3 4 5", "1"},
		{"4cpu-oversubscribed", "0-3", RoleCounts{Management: 1, Worker: 5}, "0", "", "1 2 3 1 2", ""},
		{"sparse", "2,5,9-10", RoleCounts{Management: 1}, "2", "", "5 9 10", ""},
		{"2cpu-sparse", "4,6", RoleCounts{Management: 1}, "4", "", "6 4", ""},
		{"no-mgmt-thread", "0-3", RoleCounts{Worker: 2}, "", "", "1 2", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Layout(c.roles, mustSet(t, c.online), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []struct {
				r    Role
				want string
			}{{Management, c.mgmt}, {Receive, c.recv}, {Worker, c.work}, {Verdict, c.verd}} {
				if got := threads(p, e.r); got != e.want {
					t.Errorf("%s threads %q, want %q (plan %s)", e.r, got, e.want, &p)
				}
				// A role's set is the union of its threads' CPUs.
				var u CPUSet
				for _, s := range p.Threads[e.r] {
					if s.Count() != 1 && e.r != Management {
						t.Errorf("%s thread pinned to %s, want one CPU", e.r, s)
					}
					u = u.Union(s)
				}
				if e.r != Management && u != p.Sets[e.r] {
					t.Errorf("%s set %s, threads use %s", e.r, p.Sets[e.r], u)
				}
			}
			if want, _ := CPUSetOf(mustSet(t, c.online).List()[0]); p.Sets[Management] != want {
				t.Errorf("management set %s, want %s", p.Sets[Management], want)
			}
		})
	}
}

func TestLayoutExplicit(t *testing.T) {
	online := mustSet(t, "0-7")
	p, err := Layout(RoleCounts{Management: 2, Receive: 1},
		online, map[Role]CPUSet{Management: mustSet(t, "0-1"), Worker: mustSet(t, "4-7")})
	if err != nil {
		t.Fatal(err)
	}
	// Management threads get the whole explicit set; workers one CPU each
	// of theirs (auto count = 4); receive avoids the explicit worker CPUs.
	if got := threads(p, Management); got != "0-1 0-1" {
		t.Errorf("management threads %q", got)
	}
	if got := threads(p, Worker); got != "4 5 6 7" {
		t.Errorf("worker threads %q", got)
	}
	if got := threads(p, Receive); got != "1" {
		t.Errorf("receive threads %q", got)
	}
	if p.Sets[Worker].String() != "4-7" || p.Sets[Management].String() != "0-1" {
		t.Errorf("sets %v", p.Sets)
	}
	if p.Count(Worker) != 4 || p.Thread(Worker, 2).String() != "6" || !p.Thread(Worker, 4).IsEmpty() || !p.Thread(NumRoles, 0).IsEmpty() {
		t.Errorf("Count/Thread wrong: %s", &p)
	}
	if s := p.String(); s != "management 0-1 [0-1 0-1]; receive 1 [1]; worker 4-7 [4 5 6 7]" {
		t.Errorf("String() = %q", s)
	}

	// An explicit worker set with a fixed count wraps around it.
	p, err = Layout(RoleCounts{Worker: 3}, online, map[Role]CPUSet{Worker: mustSet(t, "6-7")})
	if err != nil {
		t.Fatal(err)
	}
	if got := threads(p, Worker); got != "6 7 6" {
		t.Errorf("worker threads %q", got)
	}

	// Explicit sets covering every data CPU: the auto roles share them.
	p, err = Layout(RoleCounts{Receive: 1}, mustSet(t, "0-3"), map[Role]CPUSet{Worker: mustSet(t, "1-3")})
	if err != nil {
		t.Fatal(err)
	}
	if got := threads(p, Receive); got != "1" {
		t.Errorf("receive threads %q", got)
	}
}

func TestLayoutErrors(t *testing.T) {
	online := mustSet(t, "0-3")
	for _, c := range []struct {
		name     string
		roles    RoleCounts
		online   CPUSet
		explicit map[Role]CPUSet
		want     string
		is       error
	}{
		{"not online", RoleCounts{}, online, map[Role]CPUSet{Worker: mustSet(t, "2-5")}, "worker CPU set 2-5: CPUs 4-5", ErrNotAllowed},
		{"empty explicit", RoleCounts{}, online, map[Role]CPUSet{Verdict: {}}, "verdict CPU set", ErrEmptySet},
		{"no online", RoleCounts{}, CPUSet{}, nil, "no online CPUs", ErrEmptySet},
		{"negative", RoleCounts{Receive: -1}, online, nil, "receive thread count -1", nil},
		{"unknown role", RoleCounts{}, online, map[Role]CPUSet{Role(9): mustSet(t, "1")}, "Role(9)", nil},
	} {
		_, err := Layout(c.roles, c.online, c.explicit)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: error %v, want one naming %q (wrapping %v)", c.name, err, c.want, c.is)
		}
	}
}

func TestParseRole(t *testing.T) {
	for r := range NumRoles {
		for _, s := range []string{r.String(), strings.ToUpper(r.String()), r.String() + "-cpu-set"} {
			got, err := ParseRole(s)
			if err != nil || got != r {
				t.Errorf("ParseRole(%q) = %v, %v", s, got, err)
			}
		}
	}
	if _, err := ParseRole("capture"); err == nil || !strings.Contains(err.Error(), `"capture"`) {
		t.Errorf("ParseRole(capture): %v", err)
	}
}
