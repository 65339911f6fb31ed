package output

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrClosed is returned by a writer's methods after Close.
var ErrClosed = errors.New("output: writer is closed")

// DefaultBufferSize is how many bytes of complete records a writer keeps
// before it hands them to the underlying io.Writer.
const DefaultBufferSize = 64 << 10

// lineSink buffers complete newline-terminated records and writes them out
// in whole lines. The record under construction is appended directly to
// the same buffer (j.b), so nothing is copied between encoding and writing.
type lineSink struct {
	j       jsonBuf   // pending complete records, then the one being built
	w       io.Writer // destination
	c       io.Closer // the file the writer opened itself, closed by close
	what    string    // "eve" or "fast.log", for error messages
	target  string    // file path, or "" for a caller's io.Writer
	limit   int       // flush once this many bytes are pending
	pending uint64    // complete records in j.b
	lost    uint64    // records dropped because a write failed
	broken  bool      // the last write stopped in the middle of a line
	closed  bool
}

func (s *lineSink) init(w io.Writer, what, target string, size int) {
	if size <= 0 {
		size = DefaultBufferSize
	}
	s.w = w
	s.what = what
	s.target = target
	s.limit = size
	s.j.b = make([]byte, 0, size+size/2)
}

// openAppend opens (creating it if needed) a log file for appending.
func openAppend(path, what string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("output: %s: open log file: %w", what, err)
	}
	return f, nil
}

// endRecord counts the record just built (which ends in '\n') and flushes
// when enough is pending.
func (s *lineSink) endRecord() error {
	s.pending++
	if len(s.j.b) >= s.limit {
		return s.flush()
	}
	return nil
}

var newline = []byte{'\n'}

// flush writes every pending record. On a failed or short write the records
// that did not reach the writer completely are dropped and counted in lost.
func (s *lineSink) flush() error {
	if len(s.j.b) == 0 {
		return nil
	}
	data := s.j.b
	if s.broken {
		// Terminate the line a failed write left unfinished, so the
		// records that follow start on a line of their own.
		if _, err := s.w.Write(newline); err != nil {
			return s.fail(0, err)
		}
		s.broken = false
	}
	n, err := s.w.Write(data)
	if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return s.fail(n, err)
	}
	s.j.b = s.j.b[:0]
	s.pending = 0
	return nil
}

// fail accounts for a write of the pending buffer that stopped after n bytes.
func (s *lineSink) fail(n int, err error) error {
	if n < 0 || n > len(s.j.b) {
		n = 0
	}
	done := uint64(bytes.Count(s.j.b[:n], newline))
	if done > s.pending {
		done = s.pending
	}
	s.lost += s.pending - done
	if n > 0 && s.j.b[n-1] != '\n' {
		s.broken = true
	}
	s.j.b = s.j.b[:0]
	s.pending = 0
	if s.target != "" {
		return fmt.Errorf("output: %s: write %s: %w", s.what, s.target, err)
	}
	return fmt.Errorf("output: %s: write: %w", s.what, err)
}

// close flushes and closes the file the writer opened. It is safe to call
// twice; the second call returns nil.
func (s *lineSink) close() error {
	if s.closed {
		return nil
	}
	err := s.flush()
	s.closed = true
	if s.c != nil {
		if cerr := s.c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("output: %s: close %s: %w", s.what, s.target, cerr)
		}
	}
	s.j.b = nil
	return err
}
