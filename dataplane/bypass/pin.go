package bypass

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Pins, takeover and the operator's detach (see "Outliving the process" in
// the package doc).

// ErrInUse: the interface's Vigil bypass program has a live owner (its
// heartbeat is fresh, or it has no watchdog and so is held by a running
// process). It is wrapped together with unix.EBUSY.
var ErrInUse = errors.New("bypass: Vigil bypass program in use by a running Vigil")

// bpffsMountPoint is where Load mounts bpffs when the pin root is under it
// and it is not mounted.
const bpffsMountPoint = "/sys/fs/bpf"

// pinnedMaps are the maps pinned next to each interface's link.
var pinnedMaps = [...]string{bypassMapFlowsV4, bypassMapFlowsV6, bypassMapBypassConfig, bypassMapBypassPeers,
	bypassMapBypassIfaces, bypassMapBypassWatchdog, bypassMapBypassStats, bypassMapXsks}

// onBPFFS reports whether the nearest existing ancestor of path (path
// itself included) is on a bpffs.
func onBPFFS(path string) (bool, string, error) {
	dir := filepath.Clean(path)
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, dir, fmt.Errorf("bypass: statfs %s: %w", dir, err)
	}
	return st.Type == unix.BPF_FS_MAGIC, dir, nil
}

// ensureBPFFS makes root a directory on a bpffs, mounting bpffs on
// /sys/fs/bpf first when root is under it and nothing is mounted there (as
// bpftool does). It returns the mount point when it mounted one. Processes
// that race to mount serialize on a lock of the mount point's directory, so
// only one mounts.
func ensureBPFFS(root string) (mounted string, err error) {
	ok, dir, err := onBPFFS(root)
	if err != nil {
		return "", err
	}
	if !ok {
		if root != bpffsMountPoint && !strings.HasPrefix(root, bpffsMountPoint+"/") {
			return "", fmt.Errorf("bypass: pin root %s: %s is not on a bpffs (mount one: mount -t bpf bpf DIR)", root, dir)
		}
		if mounted, err = mountBPFFS(); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return mounted, fmt.Errorf("bypass: pin root: %w", err)
	}
	return mounted, nil
}

func mountBPFFS() (string, error) {
	fd, err := unix.Open(bpffsMountPoint, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("bypass: open %s: %w", bpffsMountPoint, err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("bypass: lock %s: %w", bpffsMountPoint, err)
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	var st unix.Statfs_t
	if err := unix.Statfs(bpffsMountPoint, &st); err != nil {
		return "", fmt.Errorf("bypass: statfs %s: %w", bpffsMountPoint, err)
	}
	if st.Type == unix.BPF_FS_MAGIC {
		return "", nil // another process mounted it meanwhile
	}
	if err := unix.Mount("bpf", bpffsMountPoint, "bpf", 0, "mode=0700"); err != nil {
		return "", fmt.Errorf("bypass: mount bpffs on %s: %w", bpffsMountPoint, err)
	}
	return bpffsMountPoint, nil
}

// netnsPinDir returns root/net<inode of the calling thread's network
// namespace>: interface names are per namespace, bpffs is not.
func netnsPinDir(root string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return "", fmt.Errorf("bypass: network namespace of this thread: %w", err)
	}
	return filepath.Join(root, fmt.Sprintf("net%d", st.Ino)), nil
}

// pin pins l as dir/link and every map as dir/<map name>.
func (p *Program) pin(dir string, l link.Link) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pin directory: %w", err)
	}
	if err := l.Pin(filepath.Join(dir, "link")); err != nil {
		return fmt.Errorf("pin link in %s: %w", dir, err)
	}
	maps := map[string]*ebpf.Map{
		bypassMapFlowsV4: p.objs.FlowsV4, bypassMapFlowsV6: p.objs.FlowsV6, bypassMapBypassConfig: p.objs.BypassConfig,
		bypassMapBypassPeers: p.objs.BypassPeers, bypassMapBypassIfaces: p.objs.BypassIfaces,
		bypassMapBypassWatchdog: p.objs.BypassWatchdog, bypassMapBypassStats: p.objs.BypassStats, bypassMapXsks: p.objs.Xsks,
	}
	for _, name := range pinnedMaps {
		// A clone has no pin path of its own yet: Pin creates a new pin
		// rather than moving one (the maps of a bridge are pinned for
		// each interface).
		c, err := maps[name].Clone()
		if err != nil {
			return fmt.Errorf("map %s: %w", name, err)
		}
		err = c.Pin(filepath.Join(dir, name))
		c.Close()
		if err != nil {
			return fmt.Errorf("pin map %s in %s: %w", name, dir, err)
		}
	}
	return nil
}

// removePins removes an interface's pin directory (the link it holds is
// detached unless something else holds it too). A missing directory is no
// error.
func removePins(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pins %s: %w", dir, err)
	}
	return nil
}

// removeEmptyParents removes the namespace directory above an interface's
// pin directory, and the pin root, when they are empty.
func removeEmptyParents(dir string) {
	ns := filepath.Dir(dir)
	if os.Remove(ns) == nil {
		os.Remove(filepath.Dir(ns))
	}
}

// ownerState reads the watchdog of a Vigil bypass program: whether its
// owner is alive (heartbeat no older than the timeout, or no watchdog at
// all: then only a running process can be holding the link) and the
// heartbeat's age (-1 when unknown).
func ownerState(prog *ebpf.Program) (alive bool, age time.Duration, err error) {
	m, err := progMap(prog, watchdogMapName)
	if err != nil {
		return false, -1, err
	}
	defer m.Close()
	var wd bypassWatchdog
	if err := m.Lookup(uint32(0), &wd); err != nil {
		return false, -1, fmt.Errorf("%s lookup: %w", watchdogMapName, err)
	}
	if wd.TimeoutNs == 0 {
		return true, -1, nil
	}
	if wd.HeartbeatNs == 0 {
		return false, -1, nil // CloseKeepPinned: the owner left
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return false, -1, fmt.Errorf("clock_gettime: %w", err)
	}
	age = time.Duration(ts.Nano() - int64(wd.HeartbeatNs))
	return age <= time.Duration(wd.TimeoutNs), age, nil
}

// progMap opens the map called name among prog's maps.
func progMap(prog *ebpf.Program, name string) (*ebpf.Map, error) {
	info, err := prog.Info()
	if err != nil {
		return nil, err
	}
	ids, ok := info.MapIDs()
	if !ok {
		return nil, errors.New("kernel does not report the program's maps")
	}
	for _, mid := range ids {
		m, err := ebpf.NewMapFromID(mid)
		if err != nil {
			return nil, fmt.Errorf("map %d: %w", mid, err)
		}
		mi, err := m.Info()
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("map %d info: %w", mid, err)
		}
		if mi.Name == name {
			return m, nil
		}
		m.Close()
	}
	return nil, fmt.Errorf("%s map not found among the program's maps", name)
}

// claimLink is called for an interface that carries an XDP program. When
// it is a Vigil bypass program whose owner is gone, claimLink returns the
// program's bpf_link (found by ifindex and program ID among all links, so
// also one pinned in another mount namespace) and the program's ID. It
// fails with EBUSY when the program is another one, has a live owner
// (ErrInUse), or is attached without a link.
func claimLink(ifname string, ifindex int, li linkXDP) (link.Link, ebpf.ProgramID, error) {
	busy := func(format string, a ...any) (link.Link, ebpf.ProgramID, error) {
		return nil, 0, fmt.Errorf("bypass: interface %s: %s: %w", ifname, fmt.Sprintf(format, a...), unix.EBUSY)
	}
	id := li.progID
	if id == 0 || li.attached == xdpAttachedMulti {
		return busy("XDP programs are already attached (driver %d, generic %d)", li.drvProgID, li.skbProgID)
	}
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return busy("an XDP program (id %d) is already attached (%v)", id, err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		return busy("an XDP program (id %d) is already attached (%v)", id, err)
	}
	if info.Name != progName {
		return busy("an XDP program (id %d, %s) is already attached", id, info.Name)
	}
	alive, age, err := ownerState(prog)
	if err != nil {
		return busy("Vigil bypass program %d: %v", id, err)
	}
	if alive {
		how := "no watchdog: a running process holds it"
		if age >= 0 {
			how = fmt.Sprintf("heartbeat %v ago", age.Round(time.Millisecond))
		}
		return nil, 0, fmt.Errorf("%w: interface %s: program %d (%s): %w", ErrInUse, ifname, id, how, unix.EBUSY)
	}
	l, err := findXDPLink(ifindex, ebpf.ProgramID(id))
	if err != nil {
		return busy("Vigil bypass program %d: looking for its link: %v", id, err)
	}
	if l == nil {
		return busy("Vigil bypass program %d is attached without a bpf_link", id)
	}
	return l, ebpf.ProgramID(id), nil
}

// findXDPLink returns the XDP link that attaches program id to ifindex,
// or nil.
func findXDPLink(ifindex int, id ebpf.ProgramID) (link.Link, error) {
	var it link.Iterator
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil || info.Type != link.XDPType || info.Program != id {
			continue
		}
		if x := info.XDP(); x != nil && int(x.Ifindex) == ifindex {
			return it.Take(), nil
		}
	}
	return nil, it.Err()
}

// Detached says what DetachInterface did.
type Detached struct {
	// ProgramID is the Vigil bypass program detached from the interface;
	// 0 when none was attached (only stale pins were removed).
	ProgramID uint32
	// PinDir is the pin directory removed, or "".
	PinDir string
}

// DetachInterface removes the Vigil bypass program from ifname (in the
// calling thread's network namespace) and its pins under pinRoot: the
// operator's `vigil bypass detach`. It refuses (ErrInUse, EBUSY) while the
// program's owner runs, and returns ErrNotAttached when there is neither a
// program nor a pin. A program pinned in another mount namespace (not
// visible here) is detached all the same; its pin there then holds a
// defunct link until removed.
func DetachInterface(ifname, pinRoot string) (Detached, error) {
	var d Detached
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return d, fmt.Errorf("bypass: interface %s: %w", ifname, err)
	}
	li, err := queryLink(ifname, ifi.Index)
	if err != nil {
		return d, err
	}
	dir := ""
	if pinRoot != "" {
		if ok, _, err := onBPFFS(pinRoot); err == nil && ok {
			ns, err := netnsPinDir(pinRoot)
			if err != nil {
				return d, err
			}
			dir = filepath.Join(ns, ifname)
			if _, err := os.Stat(dir); err != nil {
				dir = ""
			}
		}
	}
	if li.attached != xdpAttachedNone {
		l, id, err := claimLink(ifname, ifi.Index, li)
		if err != nil {
			if dir == "" && errors.Is(err, unix.EBUSY) && !errors.Is(err, ErrInUse) {
				return d, fmt.Errorf("%w (%v)", ErrNotAttached, err)
			}
			return d, err
		}
		err = l.Detach()
		l.Close()
		if err != nil {
			return d, fmt.Errorf("bypass: interface %s: detach program %d: %w", ifname, id, err)
		}
		d.ProgramID = uint32(id)
	}
	if dir != "" {
		if err := removePins(dir); err != nil {
			return d, fmt.Errorf("bypass: interface %s: %w", ifname, err)
		}
		removeEmptyParents(dir)
		d.PinDir = dir
	}
	if d.ProgramID == 0 && d.PinDir == "" {
		return d, fmt.Errorf("%w to %s", ErrNotAttached, ifname)
	}
	return d, nil
}
