package bypass

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// testXSK is a minimal AF_XDP receive socket (copy mode, one queue) for the
// tests: a UMEM of xskFrames frames, a fill ring kept full and an RX ring.
type testXSK struct {
	fd       int
	umem     []byte
	fill     []byte
	rx       []byte
	off      unix.XDPMmapOffsets
	rxCons   uint32
	fillProd uint32
}

const (
	xskFrames    = 64
	xskFrameSize = 4096
)

func openTestXSK(t *testing.T, ns, dev string) *testXSK {
	t.Helper()
	x := &testXSK{fd: -1}
	t.Cleanup(x.close)
	mustInNetns(t, ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		x.umem, err = unix.Mmap(-1, 0, xskFrames*xskFrameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return fmt.Errorf("mmap umem: %w", err)
		}
		x.fd, err = unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("AF_XDP socket: %w", err)
		}
		reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&x.umem[0]))), Len: uint64(len(x.umem)), Size: xskFrameSize}
		if err := setsockopt(x.fd, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
			return fmt.Errorf("XDP_UMEM_REG: %w", err)
		}
		for _, o := range []int{unix.XDP_UMEM_FILL_RING, unix.XDP_UMEM_COMPLETION_RING, unix.XDP_RX_RING} {
			if err := unix.SetsockoptInt(x.fd, unix.SOL_XDP, o, xskFrames); err != nil {
				return fmt.Errorf("ring %d: %w", o, err)
			}
		}
		sz := uint32(unsafe.Sizeof(x.off))
		if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(x.fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
			uintptr(unsafe.Pointer(&x.off)), uintptr(unsafe.Pointer(&sz)), 0); e != 0 {
			return fmt.Errorf("XDP_MMAP_OFFSETS: %w", e)
		}
		x.fill, err = unix.Mmap(x.fd, unix.XDP_UMEM_PGOFF_FILL_RING, int(x.off.Fr.Desc)+xskFrames*8,
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return fmt.Errorf("mmap fill ring: %w", err)
		}
		x.rx, err = unix.Mmap(x.fd, unix.XDP_PGOFF_RX_RING, int(x.off.Rx.Desc)+xskFrames*16,
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return fmt.Errorf("mmap rx ring: %w", err)
		}
		for i := range uint32(xskFrames) {
			x.refill(uint64(i) * xskFrameSize)
		}
		return unix.Bind(x.fd, &unix.SockaddrXDP{Flags: unix.XDP_COPY, Ifindex: uint32(ifi.Index), QueueID: 0})
	})
	return x
}

func setsockopt(fd, opt int, p unsafe.Pointer, n uintptr) error {
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), n, 0); e != 0 {
		return e
	}
	return nil
}

func ringU32(ring []byte, off uint64) *uint32 { return (*uint32)(unsafe.Pointer(&ring[off])) }

// refill gives frame addr back to the kernel through the fill ring.
func (x *testXSK) refill(addr uint64) {
	i := x.fillProd % xskFrames
	*(*uint64)(unsafe.Pointer(&x.fill[x.off.Fr.Desc+uint64(i)*8])) = addr
	x.fillProd++
	atomic.StoreUint32(ringU32(x.fill, x.off.Fr.Producer), x.fillProd)
}

// drain reads the RX ring until it stays empty for 200 ms and counts frames
// per flow key.
func (x *testXSK) drain() map[FlowKey]int {
	seen := map[FlowKey]int{}
	idle := time.Now()
	for time.Since(idle) < 200*time.Millisecond {
		prod := atomic.LoadUint32(ringU32(x.rx, x.off.Rx.Producer))
		if prod == x.rxCons {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		for ; x.rxCons != prod; x.rxCons++ {
			d := (*unix.XDPDesc)(unsafe.Pointer(&x.rx[x.off.Rx.Desc+uint64(x.rxCons%xskFrames)*16]))
			if k, _, ok, _ := refParse(x.umem[d.Addr : d.Addr+uint64(d.Len)]); ok {
				seen[k]++
			}
			x.refill(d.Addr &^ (xskFrameSize - 1))
		}
		atomic.StoreUint32(ringU32(x.rx, x.off.Rx.Consumer), x.rxCons)
		idle = time.Now()
	}
	return seen
}

func (x *testXSK) close() {
	if x.fd >= 0 {
		unix.Close(x.fd)
	}
	for _, m := range [][]byte{x.rx, x.fill, x.umem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
}

// TestXSKRedirect: with RedirectToXSK, frames that are not bypassed reach
// the AF_XDP socket in XSKMap at their queue; bypassed frames do not, except
// FIN/RST.
func TestXSKRedirect(t *testing.T) {
	requireLive(t)
	for _, xmode := range []XDPMode{XDPDriver, XDPGeneric} {
		t.Run(xmode.String(), func(t *testing.T) {
			id := newID()
			tx, rx := "vbyp"+id+"t", "vbyp"+id+"r"
			devT, devR := "vbyp"+id+"tx", "vbyp"+id+"rx"
			addNetns(t, tx)
			addNetns(t, rx)
			// One queue each way: the test socket serves queue 0 only.
			sh(t, "ip", "-n", rx, "link", "add", devR, "numtxqueues", "1", "numrxqueues", "1", "type", "veth",
				"peer", "name", devT, "netns", tx, "numtxqueues", "1", "numrxqueues", "1")
			sh(t, "ip", "-n", tx, "link", "set", "dev", devT, "up")
			sh(t, "ip", "-n", rx, "link", "set", "dev", devR, "up")
			noOffloads(t, tx, devT)
			noOffloads(t, rx, devR)
			prog := loadInNetns(t, rx, Options{Interfaces: []string{devR}, Mode: ModeIDS, XDPMode: xmode, RedirectToXSK: true, MaxFlows: 64})
			var li linkXDP
			mustInNetns(t, rx, func() error {
				var err error
				li, err = queryLink(devR, prog.Attachments()[0].Ifindex)
				return err
			})
			if got := prog.XSKMap().MaxEntries(); got != li.numRxQueues || got != 1 {
				t.Errorf("XSKMap has %d slots, %s has %d rx queues", got, devR, li.numRxQueues)
			}
			x := openTestXSK(t, rx, devR)
			if err := prog.XSKMap().Update(uint32(0), uint32(x.fd), 0); err != nil {
				t.Fatalf("insert AF_XDP socket into XSKMap: %v", err)
			}
			var injFD int
			mustInNetns(t, tx, func() error {
				var err error
				injFD, err = openPacketSocket(devT)
				return err
			})
			defer unix.Close(injFD)

			byp := FlowKey{Src: mustAddr("198.51.100.1"), Dst: mustAddr("198.51.100.2"), SrcPort: 5000, DstPort: 80, Proto: packet.ProtoTCP}
			other := FlowKey{Src: mustAddr("2001:db8::5"), Dst: mustAddr("2001:db8::6"), SrcPort: 7, DstPort: 8, Proto: packet.ProtoUDP, VLAN: [2]uint16{42, 0}}
			if err := prog.Add(byp); err != nil {
				t.Fatal(err)
			}
			send := func(k FlowKey, n int, flags uint8) {
				f := buildFrame(t, frameSpec{key: k, payload: 100, tcpFlags: flags})
				for range n {
					if _, err := unix.Write(injFD, f); err != nil {
						t.Fatalf("inject: %v", err)
					}
				}
			}
			const n = 30 // below the ring size: nothing is dropped for lack of room
			send(byp, n, 0)
			send(byp.Reverse(), n, 0)
			send(other, n, 0)
			send(byp, 1, packet.TCPFin)
			seen := x.drain()
			if seen[other] != n {
				t.Errorf("AF_XDP socket got %d of %d frames of a flow that is not bypassed", seen[other], n)
			}
			if seen[byp] != 1 || seen[byp.Reverse()] != 0 {
				t.Errorf("AF_XDP socket got %d/%d frames of the bypassed flow, want only the FIN", seen[byp], seen[byp.Reverse()])
			}
			s, _ := prog.Stats()
			if s.BypassPackets != 2*n || s.ToXSK < n+1 || s.XSKMiss != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}
