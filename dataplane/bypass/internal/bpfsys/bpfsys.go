// Package bpfsys issues the few bpf(2) map commands the bypass uses per flow
// (update, lookup, delete, lookup-and-delete, batch lookup) directly, without
// allocating. cilium/ebpf marshals per-CPU values through reflection and a
// fresh buffer on every call, which the flow manager's per-flow calls should
// not pay for.
//
// The functions take the map's file descriptor and pointers to caller-owned
// key and value buffers of the map's exact key size and (per-CPU) value size.
// The kernel reads or writes the buffers only during the call; the caller
// keeps ownership throughout. Errors are the raw unix.Errno of the syscall;
// callers name the map and the operation when they wrap it.
package bpfsys

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf(2) commands (include/uapi/linux/bpf.h, enum bpf_cmd).
const (
	cmdMapLookupElem          = 1
	cmdMapUpdateElem          = 2
	cmdMapDeleteElem          = 3
	cmdMapLookupAndDeleteElem = 21
	cmdMapLookupBatch         = 24
)

// Map update flags.
const (
	UpdateAny     = 0 // BPF_ANY: create or replace
	UpdateNoExist = 1 // BPF_NOEXIST: create only
	UpdateExist   = 2 // BPF_EXIST: replace only
)

// ptr (ptr_*.go) is a 64-bit field of a bpf_attr that holds a user-space
// pointer. It stays an unsafe.Pointer so the garbage collector sees (and,
// for stack memory, adjusts) the reference until the syscall.
var _ [8 - unsafe.Sizeof(ptr{})]byte // compile-time check: 8 bytes
var _ [unsafe.Sizeof(ptr{}) - 8]byte

// mapElemAttr is the bpf_attr layout of the BPF_MAP_*_ELEM commands.
type mapElemAttr struct {
	mapFD uint32
	_     uint32
	key   ptr
	value ptr // value, or next_key
	flags uint64
}

// mapBatchAttr is the bpf_attr layout of the BPF_MAP_*_BATCH commands.
type mapBatchAttr struct {
	inBatch   ptr
	outBatch  ptr
	keys      ptr
	values    ptr
	count     uint32
	mapFD     uint32
	elemFlags uint64
	flags     uint64
}

func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (uintptr, unix.Errno) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	return r, errno
}

func errOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// Update creates or replaces the element at key with value (BPF_MAP_UPDATE_ELEM).
// For a per-CPU map, value holds one 8-byte-aligned value per possible CPU.
// A full hash map answers unix.E2BIG; BPF_NOEXIST on an existing key
// unix.EEXIST.
func Update(fd int, key, value unsafe.Pointer, flags uint64) error {
	attr := mapElemAttr{mapFD: uint32(fd), key: ptr{p: key}, value: ptr{p: value}, flags: flags}
	_, e := bpf(cmdMapUpdateElem, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return errOrNil(e)
}

// Lookup copies the element at key into value (BPF_MAP_LOOKUP_ELEM).
// A missing key answers unix.ENOENT.
func Lookup(fd int, key, value unsafe.Pointer) error {
	attr := mapElemAttr{mapFD: uint32(fd), key: ptr{p: key}, value: ptr{p: value}}
	_, e := bpf(cmdMapLookupElem, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return errOrNil(e)
}

// Delete removes the element at key (BPF_MAP_DELETE_ELEM). A missing key
// answers unix.ENOENT.
func Delete(fd int, key unsafe.Pointer) error {
	attr := mapElemAttr{mapFD: uint32(fd), key: ptr{p: key}}
	_, e := bpf(cmdMapDeleteElem, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(key)
	return errOrNil(e)
}

// LookupAndDelete copies the element at key into value and removes it in
// one step (BPF_MAP_LOOKUP_AND_DELETE_ELEM; hash maps since Linux 5.14), so
// no update between the two is lost. A missing key answers unix.ENOENT.
func LookupAndDelete(fd int, key, value unsafe.Pointer) error {
	attr := mapElemAttr{mapFD: uint32(fd), key: ptr{p: key}, value: ptr{p: value}}
	_, e := bpf(cmdMapLookupAndDeleteElem, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return errOrNil(e)
}

// LookupBatch reads up to count elements into keys and values
// (BPF_MAP_LOOKUP_BATCH). inBatch is nil for the first call and the previous
// call's outBatch after that; outBatch points to the batch token (for hash
// maps a 4-byte bucket index; give it 8 bytes). It returns how many
// elements were copied; done is true when the map has no more elements (the
// kernel's ENOENT, which can come with a last partial batch). unix.ENOSPC
// means a single hash bucket holds more elements than count: retry with
// larger buffers.
func LookupBatch(fd int, inBatch, outBatch, keys, values unsafe.Pointer, count uint32) (n uint32, done bool, err error) {
	attr := mapBatchAttr{
		inBatch:  ptr{p: inBatch},
		outBatch: ptr{p: outBatch},
		keys:     ptr{p: keys},
		values:   ptr{p: values},
		count:    count,
		mapFD:    uint32(fd),
	}
	_, e := bpf(cmdMapLookupBatch, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(inBatch)
	runtime.KeepAlive(outBatch)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(values)
	switch e {
	case 0:
		return attr.count, false, nil
	case unix.ENOENT:
		return attr.count, true, nil
	}
	return 0, false, e
}
