package output

import (
	"sync"
	"sync/atomic"
)

// Stage is a separate output thread (profiles' routing.alerts-to-output-
// stage): the workers' EVE and fast.log writers hand their filled buffers
// to it instead of writing the files themselves, so no worker waits on a
// write(2) or on another worker's lock. A SharedFile attached to a Stage
// copies each Write into a buffer of the stage's pool and queues it; the
// stage's thread (Run) writes the buffers in the order they were queued,
// which keeps the records of each worker in order and never splits a
// record (a Write is queued whole).
//
// Nothing is lost: when every buffer is queued, Write waits for the stage
// (counted in StageStats.Waits). Verdicts do not go through the stage: a
// frame goes back to its capture queue from the worker that owns it.
type Stage struct {
	work chan stageWrite
	free chan []byte
	done chan struct{}

	mu     sync.Mutex // guards closed, and a closing stage against new writes
	closed bool

	writes, bytes, waits, errors atomic.Uint64
	maxQueued                    atomic.Uint64
}

type stageWrite struct {
	f *SharedFile
	b []byte
}

// StageStats are a stage's counters (stats "output_stage.*").
type StageStats struct {
	Writes    uint64 // buffers written to files
	Bytes     uint64 // bytes written
	Waits     uint64 // writes that waited for a free buffer (the stage was behind)
	Errors    uint64 // file writes that failed (the SharedFile's error)
	MaxQueued uint64 // most buffers queued at once
}

// DefaultStageBuffers is how many buffers a Stage queues when NewStage is
// given 0: at the writers' DefaultBufferSize that is 16 MiB in flight.
const DefaultStageBuffers = 256

// NewStage returns a stage with n buffers (0: DefaultStageBuffers). Run it
// on a thread of its own and attach the files with Attach.
func NewStage(n int) *Stage {
	if n <= 0 {
		n = DefaultStageBuffers
	}
	s := &Stage{work: make(chan stageWrite, n), free: make(chan []byte, n), done: make(chan struct{})}
	for i := 0; i < n; i++ {
		s.free <- make([]byte, 0, DefaultBufferSize)
	}
	return s
}

// Attach routes the Writes of files through the stage. Attach them before
// any writer uses them.
func (s *Stage) Attach(files ...*SharedFile) {
	for _, f := range files {
		if f != nil {
			f.mu.Lock()
			f.stage = s
			f.mu.Unlock()
		}
	}
}

// Run writes queued buffers until Close; it is the stage's thread.
func (s *Stage) Run() {
	defer close(s.done)
	for w := range s.work {
		if _, err := w.f.writeFile(w.b); err != nil {
			s.errors.Add(1)
		} else {
			s.writes.Add(1)
			s.bytes.Add(uint64(len(w.b)))
		}
		s.free <- w.b[:0]
	}
}

// Close stops taking buffers, waits until Run has written every queued one
// and returns. Writes to attached files after Close go to the files
// directly, after everything queued. Run must have been started.
func (s *Stage) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.work)
	s.mu.Unlock()
	<-s.done
}

// Stats returns the counters (safe from any goroutine).
func (s *Stage) Stats() StageStats {
	return StageStats{Writes: s.writes.Load(), Bytes: s.bytes.Load(), Waits: s.waits.Load(),
		Errors: s.errors.Load(), MaxQueued: s.maxQueued.Load()}
}

// submit queues a copy of p for f; ok is false when the stage is closed
// (the caller writes p itself).
func (s *Stage) submit(f *SharedFile, p []byte) (ok bool) {
	var b []byte
	select {
	case b = <-s.free:
	default:
		s.waits.Add(1)
		b = <-s.free
	}
	b = append(b[:0], p...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.free <- b[:0]
		return false
	}
	s.work <- stageWrite{f: f, b: b}
	if q := uint64(len(s.work)); q > s.maxQueued.Load() {
		s.maxQueued.Store(q)
	}
	return true
}
