package output

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowFile is a file whose writes take a while, as a busy disk's.
type slowFile struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	delay time.Duration
}

func (f *slowFile) Write(p []byte) (int, error) {
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}
func (f *slowFile) Close() error { return nil }

// Several workers write through one staged file: every line arrives
// whole, each worker's lines in order, and a stage that falls behind makes
// writers wait (counted) rather than lose anything.
func TestStageKeepsEveryLineInOrder(t *testing.T) {
	sf := &slowFile{delay: 200 * time.Microsecond}
	f := &SharedFile{f: sf, path: "mem"}
	st := NewStage(2)
	st.Attach(f)
	go st.Run()
	const workers, lines = 4, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b []byte
			for i := 0; i < lines; i++ {
				b = fmt.Appendf(b, "{\"worker\":%d,\"n\":%d,\"pad\":%q}\n", w, i, strings.Repeat("x", i%50))
				if i%7 == 6 { // a writer hands over several lines at once
					if _, err := f.Write(b); err != nil {
						t.Error(err)
					}
					b = b[:0]
				}
			}
			if _, err := f.Write(b); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st.Close()
	// After Close, writes go straight to the file, after what was queued.
	if _, err := f.Write([]byte("{\"last\":true}\n")); err != nil {
		t.Fatal(err)
	}
	next := make([]int, workers)
	all := strings.Split(strings.TrimSuffix(sf.buf.String(), "\n"), "\n")
	if len(all) != workers*lines+1 || all[len(all)-1] != "{\"last\":true}" {
		t.Fatalf("%d lines, last %q", len(all), all[len(all)-1])
	}
	for _, l := range all[:len(all)-1] {
		var w, n int
		if _, err := fmt.Sscanf(l, "{\"worker\":%d,\"n\":%d,", &w, &n); err != nil {
			t.Fatalf("broken line %q", l)
		}
		if n != next[w] {
			t.Fatalf("worker %d: line %d after %d", w, n, next[w]-1)
		}
		next[w]++
	}
	s := st.Stats()
	if s.Bytes != uint64(sf.buf.Len()-len("{\"last\":true}\n")) || s.Errors != 0 || s.MaxQueued == 0 || s.MaxQueued > 2 {
		t.Errorf("stats %+v, file has %d bytes", s, sf.buf.Len())
	}
	if s.Waits == 0 {
		t.Errorf("a slow file with 2 buffers made no writer wait: %+v", s)
	}
}

// Closing the files after the stage: nothing written twice or lost on a
// real file.
func TestStageRealFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	f, err := OpenShared(path, "eve")
	if err != nil {
		t.Fatal(err)
	}
	st := NewStage(0)
	st.Attach(f, nil)
	go st.Run()
	e := NewEVE(f, EVEConfig{Location: cet})
	p := tcp4Packet(t, []byte("x"))
	for i := 0; i < 1000; i++ {
		if err := e.Drop(p, uint64(i+1), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != 1000 {
		t.Errorf("%d records in the file, want 1000", n)
	}
	if st.Stats().Writes == 0 {
		t.Error("nothing went through the stage")
	}
}

// BenchmarkWorkerWrite is the time a worker spends handing over one 64 KiB
// buffer: writing it itself (direct) or queueing it for the stage, in
// bursts the stage drains between (the stage's own writes are not timed).
// The file is a real one in the temp directory.
func BenchmarkWorkerWrite(b *testing.B) {
	buf := bytes.Repeat([]byte(strings.Repeat("y", 127)+"\n"), DefaultBufferSize/128)
	for _, staged := range []bool{false, true} {
		name := "direct"
		if staged {
			name = "staged"
		}
		b.Run(name, func(b *testing.B) {
			f, err := OpenShared(filepath.Join(b.TempDir(), "eve.json"), "eve")
			if err != nil {
				b.Fatal(err)
			}
			var st *Stage
			if staged {
				st = NewStage(0)
				st.Attach(f)
				go st.Run()
			}
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				// Bursts of 64 buffers (4 MiB) with the stage keeping up
				// between them: the worker's cost, not the disk's rate.
				if st != nil && i%64 == 63 {
					b.StopTimer()
					for st.Stats().Writes < uint64(i+1) {
						time.Sleep(50 * time.Microsecond)
					}
					b.StartTimer()
				}
			}
			b.StopTimer()
			if st != nil {
				st.Close()
			}
			f.Close()
		})
	}
}
