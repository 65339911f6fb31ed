package pcapfile

import (
	"errors"
	"fmt"
)

// Sentinel errors a *FileError wraps, for errors.Is.
var (
	// ErrFormat: the file is not a pcap or pcapng file this reader knows
	// (bad magic, unsupported version).
	ErrFormat = errors.New("pcapfile: unsupported file format")
	// ErrCorrupt: a header or block is inconsistent (length beyond the
	// limit, block lengths that disagree, unknown interface).
	ErrCorrupt = errors.New("pcapfile: corrupt file")
	// ErrTruncated: the file ends in the middle of a header or record.
	ErrTruncated = errors.New("pcapfile: truncated file")
	// ErrClosed: the reader was used after Close.
	ErrClosed = errors.New("pcapfile: reader closed")
)

// FileError describes a bad file header or record: which file, at which
// byte offset the bad header or record starts, and what is wrong with it.
type FileError struct {
	Name   string // file name as given to Open or NewReader
	Offset int64  // byte offset of the bad header, record or block
	Reason string // what is wrong, e.g. "truncated packet record: header says 1514 bytes, 300 remain"
	Err    error  // ErrFormat, ErrCorrupt or ErrTruncated; or the underlying read error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.Name, e.Offset, e.Reason)
}

// Unwrap returns the sentinel (or read error) for errors.Is / errors.As.
func (e *FileError) Unwrap() error { return e.Err }
