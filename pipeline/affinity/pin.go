package affinity

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrNotAllowed is wrapped when a set names CPUs the process may not run on.
var ErrNotAllowed = errors.New("CPUs not available to the process")

// ErrEmptySet is wrapped when a thread would be pinned to no CPU.
var ErrEmptySet = errors.New("empty CPU set")

// processCPUs is the process's affinity mask as sched_getaffinity reported
// it for the main thread during package initialization, when the Go
// runtime runs init functions locked to the main thread and before Pin
// could have restricted any thread.
var processCPUs, processErr = initialCPUs()

func initialCPUs() (CPUSet, error) {
	s, err := threadCPUs(0)
	if err != nil {
		return s, fmt.Errorf("affinity: process CPUs: %w", err)
	}
	if s.IsEmpty() {
		return s, fmt.Errorf("affinity: process CPUs: sched_getaffinity returned %w", ErrEmptySet)
	}
	return s, nil
}

// Online returns the CPUs this process may run on: the affinity mask
// (sched_getaffinity) the process had when the program started, which the
// kernel limits to online CPUs and the process's cpuset (taskset, cgroups).
// It is read once at start because later the main thread itself may be one
// that Pin restricted.
func Online() (CPUSet, error) { return processCPUs, processErr }

// ThreadCPUs returns the affinity mask of the calling OS thread. It is
// meaningful only on a goroutine locked to its thread (for example after
// Pin).
func ThreadCPUs() (CPUSet, error) {
	s, err := threadCPUs(0)
	if err != nil {
		return s, fmt.Errorf("affinity: thread %d CPUs: %w", unix.Gettid(), err)
	}
	return s, nil
}

// threadCPUs calls sched_getaffinity for tid (0: the calling thread).
func threadCPUs(tid int) (CPUSet, error) {
	var u unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &u); err != nil {
		return CPUSet{}, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var s CPUSet
	for c := range MaxCPUs {
		if u.IsSet(c) {
			s.w[c/64] |= 1 << (c % 64)
		}
	}
	return s, nil
}

// setThreadCPUs calls sched_setaffinity for the calling thread.
func setThreadCPUs(s CPUSet) error {
	var u unix.CPUSet
	for _, c := range s.List() {
		u.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &u); err != nil {
		return fmt.Errorf("affinity: pin thread %d to CPUs %s: sched_setaffinity: %w", unix.Gettid(), s, err)
	}
	return nil
}

// Pin locks the calling goroutine to its OS thread (runtime.LockOSThread)
// and restricts that thread, and no other, to the CPUs of set
// (sched_setaffinity with tid 0, the calling thread). Every CPU of set must
// be one the process may run on (Online). On error the goroutine is not
// left locked. Call Unpin on the same goroutine to undo it; a goroutine
// that ends while pinned takes its thread with it (the Go runtime then
// terminates the thread instead of reusing it). Threads the runtime starts
// later do not inherit the mask: the runtime creates them from an unlocked
// thread.
func Pin(set CPUSet) error {
	if set.IsEmpty() {
		return fmt.Errorf("affinity: pin thread %d: %w", unix.Gettid(), ErrEmptySet)
	}
	if processErr == nil && !set.SubsetOf(processCPUs) {
		return fmt.Errorf("affinity: pin thread %d to CPUs %s: CPUs %s: %w (process CPUs %s)",
			unix.Gettid(), set, set.Difference(processCPUs), ErrNotAllowed, processCPUs)
	}
	runtime.LockOSThread()
	if err := setThreadCPUs(set); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	return nil
}

// Unpin gives the calling thread back the process's CPUs (Online) and
// unlocks the goroutine from it (runtime.UnlockOSThread). It must be called
// on the goroutine that called Pin. If the mask cannot be restored the
// goroutine stays locked, so the restricted thread is not reused for other
// goroutines, and Unpin returns the error.
func Unpin() error {
	if processErr != nil {
		return fmt.Errorf("affinity: unpin thread %d: %w", unix.Gettid(), processErr)
	}
	if err := setThreadCPUs(processCPUs); err != nil {
		return err
	}
	runtime.UnlockOSThread()
	return nil
}
