package bypass

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrMapFull: the kernel flow map of the key's address family has no
	// room. The flow stays in user space (inspected or forwarded there); the
	// caller counts the miss (Stats.MapFull counts it too).
	ErrMapFull = errors.New("bypass: flow map full")
	// ErrInvalidKey: the key is not one the XDP program can match (protocol
	// not TCP/UDP, mixed or invalid address families, VLAN ID above 4095).
	ErrInvalidKey = errors.New("bypass: flow key the XDP program cannot match")
	// ErrNoFlow: neither direction of the flow is in the kernel map.
	ErrNoFlow = errors.New("bypass: flow not in the kernel map")
	// ErrClosed: the Program was used after Close.
	ErrClosed = errors.New("bypass: program closed")
	// ErrUnsupportedBackend: the capture backend cannot hand flows to the
	// XDP program (NFQUEUE sees packets after the stack, not before it).
	ErrUnsupportedBackend = errors.New("bypass: capture backend cannot bypass flows in XDP; " +
		"use the netfilter mark instead (set a verdict mark and let a conntrack/ct mark rule " +
		"accept the flow before the NFQUEUE rule)")
)

// UnsupportedBackend returns the error a capture backend that has no XDP
// path (NFQUEUE) gives for a bypass request: it names the backend and wraps
// ErrUnsupportedBackend.
func UnsupportedBackend(backend string) error {
	return fmt.Errorf("%s: %w", backend, ErrUnsupportedBackend)
}

// MapError is a failed bpf(2) operation on one of the program's maps.
type MapError struct {
	Map string // map name, e.g. "flows_v4"
	Op  string // "update", "lookup", "delete", "lookup-and-delete", "batch lookup"
	Key FlowKey
	Err error // the errno
}

func (e *MapError) Error() string {
	if e.Key.Src.IsValid() {
		return fmt.Sprintf("bypass: %s %s (%s): %v", e.Map, e.Op, e.Key, e.Err)
	}
	return fmt.Sprintf("bypass: %s %s: %v", e.Map, e.Op, e.Err)
}

// Unwrap returns the errno.
func (e *MapError) Unwrap() error { return e.Err }
