//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -go-package afxdp -output-dir . -output-stem xsk -target bpfel,bpfeb xsk bpf/xsk_redirect.c -- -O2 -Wall -Werror

// XDP attach modes (Options.XDPMode, Source.XDPMode).
const (
	XDPModeAuto    = "auto"    // try driver mode, fall back to generic
	XDPModeDriver  = "driver"  // native XDP in the driver (XDP_FLAGS_DRV_MODE)
	XDPModeGeneric = "generic" // generic/SKB XDP (XDP_FLAGS_SKB_MODE)
	XDPModeNone    = "none"    // reported by Source.XDPMode when Options.XSKMap was given
)

// minXSKMapEntries is the smallest XSKMAP the loader creates; it grows to
// the interface's receive queue count when that is larger.
const minXSKMapEntries = 64

// program is the redirect program loaded and attached to one interface,
// shared by every Source of this process on that interface (one per
// queue): XDP allows one program per interface, so the sockets of all
// queues must live in one XSKMAP. The bpf_link detaches the program when
// the last user releases it, or when the process dies.
type program struct {
	ifindex int
	ifname  string
	objs    xskObjects
	lnk     link.Link
	mode    string // XDPModeDriver or XDPModeGeneric
	entries uint32 // XSKMAP size
	refs    int
}

var programs = struct {
	sync.Mutex
	m map[int]*program
}{m: map[int]*program{}}

// acquireProgram returns the redirect program attached to ifindex, loading
// and attaching it on first use. want is Options.XDPMode.
func acquireProgram(ifname string, ifindex int, want string) (*program, error) {
	programs.Lock()
	defer programs.Unlock()
	if p := programs.m[ifindex]; p != nil {
		if want != XDPModeAuto && want != p.mode {
			return nil, &OpError{Op: "attach XDP program", Interface: ifname,
				Err: fmt.Errorf("already attached by this process in %s mode, %s requested", p.mode, want)}
		}
		p.refs++
		return p, nil
	}

	spec, err := loadXsk()
	if err != nil {
		return nil, &OpError{Op: "load XDP program spec", Interface: ifname, Err: err}
	}
	entries := uint32(minXSKMapEntries)
	if n := rxQueueCount(ifname); n > int(entries) {
		entries = uint32(n)
	}
	spec.Maps[xskMapXsks].MaxEntries = entries
	p := &program{ifindex: ifindex, ifname: ifname, entries: entries}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		return nil, &OpError{Op: "load XDP program", Interface: ifname, Err: err}
	}
	var modes []string
	switch want {
	case XDPModeAuto:
		modes = []string{XDPModeDriver, XDPModeGeneric}
	default:
		modes = []string{want}
	}
	var errs []error
	for _, m := range modes {
		flags := link.XDPDriverMode
		if m == XDPModeGeneric {
			flags = link.XDPGenericMode
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: p.objs.XskRedirect, Interface: ifindex, Flags: flags})
		if err == nil {
			p.lnk, p.mode = l, m
			break
		}
		errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
	}
	if p.lnk == nil {
		p.objs.Close()
		return nil, &OpError{Op: "attach XDP program", Interface: ifname, Err: errors.Join(errs...)}
	}
	p.refs = 1
	programs.m[ifindex] = p
	return p, nil
}

// release drops one reference; the last one detaches and unloads.
func (p *program) release() error {
	programs.Lock()
	defer programs.Unlock()
	p.refs--
	if p.refs > 0 {
		return nil
	}
	delete(programs.m, p.ifindex)
	err := p.lnk.Close()
	if e := p.objs.Close(); err == nil {
		err = e
	}
	if err != nil {
		return &OpError{Op: "detach XDP program", Interface: p.ifname, Err: err}
	}
	return nil
}

// rxQueueCount counts /sys/class/net/IF/queues/rx-*; 0 if unknown.
func rxQueueCount(ifname string) int {
	ents, err := os.ReadDir("/sys/class/net/" + ifname + "/queues")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "rx-") {
			n++
		}
	}
	return n
}

// insertSocket puts fd into m at key. The kernel removes it again when
// the socket is closed.
func insertSocket(m *ebpf.Map, ifname string, queue, key uint32, fd int) error {
	if err := m.Update(key, uint32(fd), ebpf.UpdateAny); err != nil {
		return &OpError{Op: fmt.Sprintf("insert socket into XSKMAP %s at key %d", m, key), Interface: ifname, Queue: queue, Err: err}
	}
	return nil
}
