//go:build mips || ppc

package bpfsys

import "unsafe"

// The pointer is the low half of the big-endian 64-bit field.
type ptr struct {
	_ uint32
	p unsafe.Pointer
}
