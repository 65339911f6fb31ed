package nfqueue

import (
	"bytes"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// procPath is the kernel's per-namespace table of queue instances. It is
// opened through thread-self so that a caller who switched the thread into
// another network namespace (setns) gets that namespace's table; the open
// file keeps reporting on that namespace afterwards.
const procPath = "/proc/thread-self/net/netfilter/nfnetlink_queue"

// recvmmsg receives up to len(hdrs) datagrams without blocking. It retries
// on EINTR and returns the errno otherwise.
func recvmmsg(fd uintptr, hdrs []unix.Mmsghdr) (int, unix.Errno) {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), 0
	}
}

// write sends b as one datagram. It retries on EINTR.
func write(fd uintptr, b []byte) (int, unix.Errno) {
	for {
		n, _, e := unix.Syscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), 0
	}
}

// procQueue is one line of /proc/net/netfilter/nfnetlink_queue.
type procQueue struct {
	queue       uint16
	portid      uint32
	waiting     uint64 // packets queued, waiting for a verdict
	dropped     uint64 // queue_dropped: queue full (without fail-open)
	userDropped uint64 // queue_user_dropped: netlink delivery failed (socket buffer full)
	idSequence  uint64 // last packet id
}

// parseProcQueues finds queue in the text of the proc table. Its lines are
// "queue portid waiting copy_mode copy_range queue_dropped user_dropped
// id_sequence 1", whitespace separated.
func parseProcQueues(data []byte, queue uint16) (procQueue, bool) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		f := bytes.Fields(line)
		if len(f) < 8 {
			continue
		}
		var v [8]uint64
		ok := true
		for i := range v {
			n, err := strconv.ParseUint(string(f[i]), 10, 64)
			if err != nil {
				ok = false
				break
			}
			v[i] = n
		}
		if !ok || v[0] != uint64(queue) {
			continue
		}
		return procQueue{queue: queue, portid: uint32(v[1]), waiting: v[2], dropped: v[5], userDropped: v[6], idSequence: v[7]}, true
	}
	return procQueue{}, false
}
