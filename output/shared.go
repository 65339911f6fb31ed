package output

import (
	"fmt"
	"sync"
)

// SharedFile is a log file that several writers append to, one per
// pipeline worker. Each worker keeps its own EVE or FastLog (NewEVE,
// NewFastLog) over the SharedFile; those writers hand over whole lines only,
// and SharedFile serialises the hand-overs, so records of different workers
// never interleave inside a line. Workers write their buffers at most every
// DefaultBufferSize bytes, so the lock is taken once per many records.
//
// With a Stage attached (Stage.Attach), Write only queues a copy of the
// lines for the stage's thread, which writes them.
type SharedFile struct {
	mu     sync.Mutex
	f      writeCloser
	path   string
	closed bool
	stage  *Stage
}

type writeCloser interface {
	Write([]byte) (int, error)
	Close() error
}

// OpenShared opens path for appending (creating it) for several writers.
func OpenShared(path, what string) (*SharedFile, error) {
	f, err := openAppend(path, what)
	if err != nil {
		return nil, err
	}
	return &SharedFile{f: f, path: path}, nil
}

// Path is the file's path.
func (s *SharedFile) Path() string { return s.path }

// Write appends p (whole lines) under the file's lock, or queues a copy
// for the attached Stage (a file error is then counted in the stage's
// StageStats.Errors instead of returned).
func (s *SharedFile) Write(p []byte) (int, error) {
	s.mu.Lock()
	st, closed := s.stage, s.closed
	s.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	if st != nil && st.submit(s, p) {
		return len(p), nil
	}
	return s.writeFile(p)
}

// writeFile appends p to the file under its lock.
func (s *SharedFile) writeFile(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.f.Write(p)
}

// Close closes the file once every writer over it has been flushed.
func (s *SharedFile) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("output: close %s: %w", s.path, err)
	}
	return nil
}
