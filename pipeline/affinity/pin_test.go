package affinity

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// taskCPUs reads Cpus_allowed_list of every thread of the process from
// /proc/self/task/*/status, keyed by thread id, as the raw string.
func taskCPUs(t *testing.T) map[int]string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/self/task/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("list /proc/self/task: %v", err)
	}
	out := map[int]string{}
	for _, d := range dirs {
		tid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			t.Fatalf("task directory %s: %v", d, err)
		}
		list, err := statusCPUs(filepath.Join(d, "status"))
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread exited meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		out[tid] = list
	}
	return out
}

func statusCPUs(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return "", fmt.Errorf("%s: no Cpus_allowed_list line", path)
}

func TestOnline(t *testing.T) {
	online, err := Online()
	if err != nil {
		t.Fatal(err)
	}
	want, err := statusCPUs("/proc/self/status") // the main thread, never pinned here
	if err != nil {
		t.Fatal(err)
	}
	if online.String() != want {
		t.Fatalf("Online() = %s, /proc/self/status Cpus_allowed_list %s", online, want)
	}
	if online.Count() > runtime.NumCPU() {
		t.Fatalf("Online() has %d CPUs, runtime.NumCPU() = %d", online.Count(), runtime.NumCPU())
	}
}

// TestPinThreads pins goroutines to different CPU sets and checks in /proc
// that exactly those threads, found by the tid each goroutine recorded,
// carry exactly their set, and that every other thread of the process kept
// the process's CPUs.
func TestPinThreads(t *testing.T) {
	online, err := Online()
	if err != nil {
		t.Fatal(err)
	}
	cpus := online.List()
	if len(cpus) < 2 {
		t.Skipf("needs 2 CPUs, the process may use %s", online)
	}
	var sets []CPUSet
	for _, c := range cpus[:min(len(cpus), 4)] {
		s, _ := CPUSetOf(c)
		sets = append(sets, s)
	}
	two, _ := CPUSetOf(cpus[0], cpus[1])
	sets = append(sets, two, sets[1])

	type pinned struct {
		tid int
		set CPUSet
		err error
	}
	ready := make(chan pinned, len(sets))
	release := make(chan struct{})
	unpinned := make(chan error, len(sets))
	var wg sync.WaitGroup
	for _, s := range sets {
		wg.Go(func() {
			err := Pin(s)
			ready <- pinned{unix.Gettid(), s, err}
			if err != nil {
				return
			}
			<-release
			// Still on the same thread, still pinned.
			got, err := ThreadCPUs()
			if err == nil && got != s {
				err = fmt.Errorf("thread %d: ThreadCPUs %s, pinned to %s", unix.Gettid(), got, s)
			}
			if err == nil {
				err = Unpin()
			}
			unpinned <- err
		})
	}
	byTid := map[int]CPUSet{}
	for range sets {
		p := <-ready
		if p.err != nil {
			close(release)
			t.Fatalf("Pin(%s): %v", p.set, p.err)
		}
		if prev, dup := byTid[p.tid]; dup {
			t.Errorf("goroutines pinned to %s and %s share thread %d", prev, p.set, p.tid)
		}
		byTid[p.tid] = p.set
	}
	tasks := taskCPUs(t)
	close(release)
	for tid, s := range byTid {
		got, ok := tasks[tid]
		if !ok {
			t.Errorf("pinned thread %d (%s) not in /proc/self/task", tid, s)
			continue
		}
		if got != s.String() {
			t.Errorf("thread %d: Cpus_allowed_list %q, pinned to %q", tid, got, s)
		}
	}
	for tid, got := range tasks {
		if _, mine := byTid[tid]; !mine && got != online.String() {
			t.Errorf("unpinned thread %d: Cpus_allowed_list %q, want the process's %q", tid, got, online)
		}
	}
	wg.Wait()
	close(unpinned)
	for err := range unpinned {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestUnpin checks that Unpin restores the process's CPUs on the thread.
func TestUnpin(t *testing.T) {
	online, err := Online()
	if err != nil {
		t.Fatal(err)
	}
	cpus := online.List()
	if len(cpus) < 2 {
		t.Skipf("needs 2 CPUs, the process may use %s", online)
	}
	last, _ := CPUSetOf(cpus[len(cpus)-1])
	done := make(chan error)
	go func() {
		// An outer lock keeps the goroutine on this thread after Unpin.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		status := fmt.Sprintf("/proc/self/task/%d/status", unix.Gettid())
		if err := Pin(last); err != nil {
			done <- err
			return
		}
		if got, err := statusCPUs(status); err != nil || got != last.String() {
			done <- fmt.Errorf("after Pin(%s): Cpus_allowed_list %q, %v", last, got, err)
			return
		}
		if err := Unpin(); err != nil {
			done <- err
			return
		}
		if got, err := statusCPUs(status); err != nil || got != online.String() {
			done <- fmt.Errorf("after Unpin: Cpus_allowed_list %q, %v; want %s", got, err, online)
			return
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPinErrors(t *testing.T) {
	online, err := Online()
	if err != nil {
		t.Fatal(err)
	}
	if err := Pin(CPUSet{}); !errors.Is(err, ErrEmptySet) {
		t.Errorf("Pin(empty): %v", err)
	}
	var outside CPUSet
	for c := MaxCPUs - 1; c >= 0; c-- {
		if !online.Has(c) {
			outside.Add(c)
			break
		}
	}
	err = Pin(outside)
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), outside.String()) {
		t.Errorf("Pin(%s): %v, want ErrNotAllowed naming the CPU", outside, err)
	}
	var p Plan
	if err := p.Pin(Worker, 0); err == nil || !strings.Contains(err.Error(), "worker thread 0") {
		t.Errorf("Plan.Pin on empty plan: %v", err)
	}
}
