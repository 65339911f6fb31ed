package afpacket

import (
	"errors"
	"fmt"
)

// Sentinel errors an *Error wraps, for errors.Is. The package returns
// them only inside an *Error, whose message adds the package and interface.
var (
	// ErrClosed: the source was used after Close.
	ErrClosed = errors.New("source closed")
	// ErrOption: Options hold a value Open cannot use (the Error says which
	// field and why).
	ErrOption = errors.New("invalid option")
	// ErrInterfaceDown: the kernel reported that the capture interface went
	// down or away (ENETDOWN on the socket). Next returns it wrapped; the
	// source resumes when the interface comes back up.
	ErrInterfaceDown = errors.New("interface down")
)

// Error says which interface and which operation (a syscall and its socket
// option, an option check) failed, and wraps the cause: an errno
// (syscall.Errno, so errors.Is(err, unix.EPERM) works) or one of the
// sentinels above.
type Error struct {
	Interface string // capture or copy interface the operation was for
	Op        string // e.g. "setsockopt PACKET_RX_RING", "mmap ring", "option BlockSize"
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("afpacket: %s: %s: %v", e.Interface, e.Op, e.Err)
}

// Unwrap returns the cause for errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Err }
