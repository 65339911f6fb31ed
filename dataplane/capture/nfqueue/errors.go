package nfqueue

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrClosed: the source was used after Close (or Close interrupted a
	// waiting Next).
	ErrClosed = errors.New("nfqueue: source closed")
	// ErrBatchOutstanding: Next was given a batch whose previous packets
	// have not come back through Done yet. Their verdicts are still owed;
	// refilling the batch would lose them.
	ErrBatchOutstanding = errors.New("nfqueue: batch handed to Next before Done")
	// ErrOptions: Options are inconsistent (the OpError says which field).
	ErrOptions = errors.New("nfqueue: invalid options")
	// ErrQueueList: a --queue-balance style list could not be parsed.
	ErrQueueList = errors.New("nfqueue: invalid queue list")
)

// OpError is an error of one operation on one queue: which queue, what was
// being done (a syscall or a configuration step), and the cause (usually a
// unix.Errno, so errors.Is(err, unix.EPERM) works).
type OpError struct {
	Queue uint16 // queue number
	Op    string // e.g. "bind", "setsockopt SO_RCVBUFFORCE", "recvmmsg"
	Err   error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("nfqueue: queue %d: %s: %v", e.Queue, e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }
