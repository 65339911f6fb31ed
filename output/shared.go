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
type SharedFile struct {
	mu     sync.Mutex
	f      writeCloser
	path   string
	closed bool
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

// Write appends p (whole lines) under the file's lock.
func (s *SharedFile) Write(p []byte) (int, error) {
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
