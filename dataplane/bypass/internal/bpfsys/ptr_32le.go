//go:build 386 || arm || mipsle

package bpfsys

import "unsafe"

// The pointer is the low half of the little-endian 64-bit field.
type ptr struct {
	p unsafe.Pointer
	_ uint32
}
