// Package affinity decides which CPUs the pipeline's threads run on and pins
// them there.
//
// A CPUSet is a bitset of CPU numbers written in the kernel's list form
// ("0-3,6,8-9", as in /proc/self/status Cpus_allowed_list and taskset -c).
// Online returns the CPUs the process may use, Layout turns thread counts
// per Role (management, receive, worker, verdict) and optional explicit sets
// into a Plan that gives every thread its CPUs, and Pin locks the calling
// goroutine to its OS thread and restricts that thread, and only that
// thread, to a set.
package affinity

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// MaxCPUs is the number of CPUs a CPUSet can hold (CPU numbers 0 to
// MaxCPUs-1), the size of glibc's cpu_set_t and of unix.CPUSet.
const MaxCPUs = 1024

// ErrCPUList is wrapped by the errors of ParseCPUSet and CPUSet.Add.
var ErrCPUList = errors.New("bad CPU list")

// CPUSet is a set of CPU numbers. The zero value is the empty set; CPUSet
// values are comparable with ==.
type CPUSet struct {
	w [MaxCPUs / 64]uint64
}

// CPUSetOf returns the set of the given CPUs.
func CPUSetOf(cpus ...int) (CPUSet, error) {
	var s CPUSet
	for _, c := range cpus {
		if err := s.Add(c); err != nil {
			return CPUSet{}, err
		}
	}
	return s, nil
}

// Add adds cpu to the set. It fails for a CPU number outside [0, MaxCPUs).
func (s *CPUSet) Add(cpu int) error {
	if cpu < 0 || cpu >= MaxCPUs {
		return fmt.Errorf("affinity: CPU %d not in [0, %d]: %w", cpu, MaxCPUs-1, ErrCPUList)
	}
	s.w[cpu/64] |= 1 << (cpu % 64)
	return nil
}

// Remove removes cpu from the set (nothing happens for a CPU not in it).
func (s *CPUSet) Remove(cpu int) {
	if cpu >= 0 && cpu < MaxCPUs {
		s.w[cpu/64] &^= 1 << (cpu % 64)
	}
}

// Has reports whether cpu is in the set.
func (s CPUSet) Has(cpu int) bool {
	return cpu >= 0 && cpu < MaxCPUs && s.w[cpu/64]&(1<<(cpu%64)) != 0
}

// Count returns the number of CPUs in the set.
func (s CPUSet) Count() int {
	n := 0
	for _, w := range s.w {
		n += bits.OnesCount64(w)
	}
	return n
}

// IsEmpty reports whether the set has no CPU.
func (s CPUSet) IsEmpty() bool { return s == CPUSet{} }

// List returns the CPUs in ascending order.
func (s CPUSet) List() []int {
	out := make([]int, 0, s.Count())
	for i, w := range s.w {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, i*64+b)
			w &^= 1 << b
		}
	}
	return out
}

// Union returns the CPUs in s or o.
func (s CPUSet) Union(o CPUSet) CPUSet {
	for i := range s.w {
		s.w[i] |= o.w[i]
	}
	return s
}

// Intersect returns the CPUs in both s and o.
func (s CPUSet) Intersect(o CPUSet) CPUSet {
	for i := range s.w {
		s.w[i] &= o.w[i]
	}
	return s
}

// Difference returns the CPUs in s and not in o.
func (s CPUSet) Difference(o CPUSet) CPUSet {
	for i := range s.w {
		s.w[i] &^= o.w[i]
	}
	return s
}

// SubsetOf reports whether every CPU of s is in o.
func (s CPUSet) SubsetOf(o CPUSet) bool { return s.Difference(o).IsEmpty() }

// String returns the set in the kernel's list form: ascending, runs of two
// or more consecutive CPUs as "first-last", separated by commas ("0-3,6",
// "" for the empty set). ParseCPUSet reads it back.
func (s CPUSet) String() string {
	var b strings.Builder
	start := -1
	for c := 0; c <= MaxCPUs; c++ {
		in := c < MaxCPUs && s.Has(c)
		switch {
		case in && start < 0:
			start = c
		case !in && start >= 0:
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(start))
			if c-1 > start {
				b.WriteByte('-')
				b.WriteString(strconv.Itoa(c - 1))
			}
			start = -1
		}
	}
	return b.String()
}

// MarshalText returns String() so a CPUSet is written as a list in YAML
// and JSON.
func (s CPUSet) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a list with ParseCPUSet.
func (s *CPUSet) UnmarshalText(text []byte) error {
	v, err := ParseCPUSet(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseCPUSet parses a CPU list: comma-separated CPU numbers and inclusive
// ranges "first-last" in any order, with optional spaces around parts
// ("0-3,6,8-9", the form of Cpus_allowed_list and taskset -c). Errors name
// the list and the part at fault and wrap ErrCPUList. An empty list is an
// error: no thread can run on no CPU.
func ParseCPUSet(list string) (CPUSet, error) {
	var s CPUSet
	if strings.TrimSpace(list) == "" {
		return s, fmt.Errorf("affinity: CPU list %q: empty: %w", list, ErrCPUList)
	}
	for i, part := range strings.Split(list, ",") {
		p := strings.TrimSpace(part)
		bad := func(why string) error {
			return fmt.Errorf("affinity: CPU list %q: part %d %q: %s: %w", list, i+1, p, why, ErrCPUList)
		}
		if p == "" {
			return CPUSet{}, bad("empty")
		}
		lo, hi, isRange := strings.Cut(p, "-")
		first, err := parseCPU(strings.TrimSpace(lo))
		if err != nil {
			return CPUSet{}, bad(err.Error())
		}
		last := first
		if isRange {
			if last, err = parseCPU(strings.TrimSpace(hi)); err != nil {
				return CPUSet{}, bad(err.Error())
			}
			if last < first {
				return CPUSet{}, bad("range ends before it starts")
			}
		}
		for c := first; c <= last; c++ {
			s.w[c/64] |= 1 << (c % 64)
		}
	}
	return s, nil
}

// parseCPU parses one decimal CPU number below MaxCPUs.
func parseCPU(f string) (int, error) {
	if f == "" {
		return 0, errors.New("missing CPU number")
	}
	n := 0
	for _, c := range []byte(f) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a CPU number", f)
		}
		n = n*10 + int(c-'0')
		if n >= MaxCPUs {
			return 0, fmt.Errorf("CPU %s not in [0, %d]", f, MaxCPUs-1)
		}
	}
	return n, nil
}
