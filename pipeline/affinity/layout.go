package affinity

import (
	"fmt"
	"strings"
)

// Role is what a pipeline thread does; each role has its own CPU set
// (Suricata's management-, receive-, worker- and verdict-cpu-set).
type Role int

const (
	// Management threads: counters, heartbeat stats, flow timeouts of idle
	// flows, reloads. Not on the packet path.
	Management Role = iota
	// Receive threads: capture in the autofp runmode, hashing packets
	// into the workers' rings.
	Receive
	// Worker threads: decode, flow, stream, detect, output (and capture in
	// the workers runmode).
	Worker
	// Verdict threads: send verdicts back (NFQUEUE) or transmit (inline
	// bridges) when that is not done by the workers.
	Verdict
	// NumRoles is the number of roles, for arrays indexed by Role.
	NumRoles
)

var roleNames = [NumRoles]string{"management", "receive", "worker", "verdict"}

// String returns the role's name as used in configuration ("worker").
func (r Role) String() string {
	if r >= 0 && r < NumRoles {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole parses a role name: "management", "receive", "worker" or
// "verdict", also with Suricata's "-cpu-set" suffix ("worker-cpu-set").
func ParseRole(s string) (Role, error) {
	name := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "-cpu-set")
	for r, n := range roleNames {
		if name == n {
			return Role(r), nil
		}
	}
	return 0, fmt.Errorf("affinity: unknown thread role %q (want management, receive, worker or verdict)", s)
}

// RoleCounts is how many threads of each role a runmode starts. Worker 0
// (or less) means "one per CPU of the worker set" (see Layout); the other
// counts are taken as they are, 0 meaning no thread of that role.
type RoleCounts struct {
	Management, Receive, Worker, Verdict int
}

// count returns the count of role r.
func (c RoleCounts) count(r Role) int {
	switch r {
	case Management:
		return c.Management
	case Receive:
		return c.Receive
	case Worker:
		return c.Worker
	case Verdict:
		return c.Verdict
	}
	return 0
}

// Plan says where every thread runs.
type Plan struct {
	// Sets holds the CPUs each role uses: an explicit set as given, for
	// the others the union of their threads' CPUs (empty for a role with
	// no threads, except Management, which always has its set).
	Sets [NumRoles]CPUSet
	// Threads holds, for each role, one CPU set per thread (as many as
	// the role's count; for an automatic worker count, as many as Layout
	// chose). Management threads get the whole management set and let
	// the scheduler balance them; receive, worker and verdict threads get
	// one CPU each.
	Threads [NumRoles][]CPUSet
}

// Count returns the number of threads of role r in the plan.
func (p *Plan) Count(r Role) int {
	if r < 0 || r >= NumRoles {
		return 0
	}
	return len(p.Threads[r])
}

// Thread returns the CPUs of the i-th thread of role r, or the empty set
// when there is no such thread.
func (p *Plan) Thread(r Role, i int) CPUSet {
	if r < 0 || r >= NumRoles || i < 0 || i >= len(p.Threads[r]) {
		return CPUSet{}
	}
	return p.Threads[r][i]
}

// Pin pins the calling goroutine's thread for the i-th thread of role r
// (see Pin).
func (p *Plan) Pin(r Role, i int) error {
	if i < 0 || i >= p.Count(r) {
		return fmt.Errorf("affinity: pin %s thread %d: the plan has %d %s threads", r, i, p.Count(r), r)
	}
	return Pin(p.Threads[r][i])
}

// String describes the plan for logs: "management 0 [0]; worker 0-1 [1 0]"
// lists, per role with threads, its set and each thread's CPUs.
func (p *Plan) String() string {
	var b strings.Builder
	for r := range NumRoles {
		if len(p.Threads[r]) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s [", r, p.Sets[r])
		for i, s := range p.Threads[r] {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s.String())
		}
		b.WriteByte(']')
	}
	return b.String()
}

// AutoSharedBelow is the number of CPUs from which the automatic layout
// keeps the first CPU for management alone; with fewer CPUs the management
// CPU also takes packet-path threads.
const AutoSharedBelow = 4

// Layout assigns CPUs to the threads of each role.
//
// online is the set of CPUs to use (usually Online()). explicit gives a set
// for some roles (from configuration); every CPU in it must be in online.
// For the other roles Layout decides (the "auto" layout), with c0 the
// lowest online CPU:
//
//   - Management runs on {c0}.
//   - The packet path (receive, verdict, worker threads) uses the data
//     CPUs: every online CPU but c0 when there are at least AutoSharedBelow
//     (4) CPUs, so management and the kernel's housekeeping on c0 never
//     take time from a worker. Below that there are too few CPUs to leave
//     one idle: the data CPUs are c1, c2, ... followed by c0, so c0 is
//     shared with management only when the threads need it (on 2 CPUs:
//     management on 0, workers on 1 and 0). On 1 CPU everything runs on it.
//     CPUs of an explicit receive, verdict or worker set are left out of
//     the data CPUs unless that leaves none.
//   - Threads are dealt one CPU each, in the order receive, verdict,
//     worker, going round the data CPUs; when there are more threads than
//     data CPUs they wrap around and share.
//   - An automatic worker count (RoleCounts.Worker <= 0) is one worker per
//     data CPU not taken by receive and verdict threads, at least one;
//     with an explicit worker set it is one worker per CPU of the set.
//
// Threads of a role with an explicit set are dealt round its CPUs in
// ascending order; management threads always get the whole management set.
func Layout(roles RoleCounts, online CPUSet, explicit map[Role]CPUSet) (Plan, error) {
	var p Plan
	if online.IsEmpty() {
		return p, fmt.Errorf("affinity: layout: %w: no online CPUs", ErrEmptySet)
	}
	for r := range NumRoles {
		if n := roles.count(r); n < 0 && r != Worker {
			return p, fmt.Errorf("affinity: layout: %s thread count %d is negative", r, n)
		}
	}
	for r, s := range explicit {
		if r < 0 || r >= NumRoles {
			return p, fmt.Errorf("affinity: layout: explicit CPU set %s for unknown %v", s, r)
		}
		if s.IsEmpty() {
			return p, fmt.Errorf("affinity: layout: %s CPU set: %w", r, ErrEmptySet)
		}
		if !s.SubsetOf(online) {
			return p, fmt.Errorf("affinity: layout: %s CPU set %s: CPUs %s: %w (online %s)",
				r, s, s.Difference(online), ErrNotAllowed, online)
		}
	}

	cpus := online.List()
	first := cpus[0]
	var data []int
	switch {
	case len(cpus) == 1:
		data = cpus
	case len(cpus) >= AutoSharedBelow:
		data = cpus[1:]
	default:
		data = append(append([]int(nil), cpus[1:]...), first)
	}
	var spoken CPUSet
	for _, r := range []Role{Receive, Verdict, Worker} {
		if s, ok := explicit[r]; ok {
			spoken = spoken.Union(s)
		}
	}
	if free := filter(data, spoken); len(free) > 0 {
		data = free
	}

	// Management: the whole set for each thread.
	mgmt, ok := explicit[Management]
	if !ok {
		mgmt, _ = CPUSetOf(first)
	}
	p.Sets[Management] = mgmt
	for range roles.Management {
		p.Threads[Management] = append(p.Threads[Management], mgmt)
	}

	// Packet path: one CPU per thread.
	next := 0 // position in data of the next automatically placed thread
	for _, r := range []Role{Receive, Verdict, Worker} {
		n := roles.count(r)
		set, isExplicit := explicit[r]
		if r == Worker && n <= 0 {
			if isExplicit {
				n = set.Count()
			} else {
				n = max(1, len(data)-next)
			}
		}
		var pool []int
		start := 0
		if isExplicit {
			pool = set.List()
		} else {
			pool = data
			start = next
			next += n
		}
		var used CPUSet
		for i := range n {
			c := pool[(start+i)%len(pool)]
			var one CPUSet
			one.w[c/64] |= 1 << (c % 64)
			p.Threads[r] = append(p.Threads[r], one)
			used = used.Union(one)
		}
		if isExplicit {
			used = set
		}
		p.Sets[r] = used
	}
	return p, nil
}

// filter returns the CPUs of list that are not in out, in list's order.
func filter(list []int, out CPUSet) []int {
	var keep []int
	for _, c := range list {
		if !out.Has(c) {
			keep = append(keep, c)
		}
	}
	return keep
}
