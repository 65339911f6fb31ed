package bypass

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Tests of pinning, takeover and detach (Options.Persist). Namespaces and
// veths are named vxc*; the pins go under /sys/fs/bpf/vxc-test-<pid>,
// removed at cleanup.

// abandon does to p what the kernel does when its process dies: every file
// descriptor closes, nothing is detached or unpinned, no heartbeat is
// written.
func abandon(p *Program) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, l := range p.links {
		l.Close()
	}
	p.objs.Close()
}

// persistTopo is one namespace with the veth pair a <-> b.
type persistTopo struct {
	ns, a, b string
	root     string // pin root of the test
}

func newPersistTopo(t *testing.T) *persistTopo {
	t.Helper()
	requireLive(t)
	id := newID()
	tp := &persistTopo{ns: "vxc" + id + "n", a: "vxc" + id + "a", b: "vxc" + id + "b",
		root: fmt.Sprintf("/sys/fs/bpf/vxc-test-%d-%s", os.Getpid(), id)}
	addNetns(t, tp.ns)
	sh(t, "ip", "-n", tp.ns, "link", "add", tp.a, "type", "veth", "peer", "name", tp.b)
	sh(t, "ip", "-n", tp.ns, "link", "set", "dev", tp.a, "up")
	sh(t, "ip", "-n", tp.ns, "link", "set", "dev", tp.b, "up")
	t.Cleanup(func() {
		if err := os.RemoveAll(tp.root); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	return tp
}

func (tp *persistTopo) load(t *testing.T, o Options) (*Program, error) {
	t.Helper()
	var p *Program
	err := inNetns(tp.ns, func() error {
		var err error
		p, err = Load(o)
		return err
	})
	if err == nil {
		t.Cleanup(func() { p.Close() })
	}
	return p, err
}

func (tp *persistTopo) mustLoad(t *testing.T, o Options) *Program {
	t.Helper()
	p, err := tp.load(t, o)
	if err != nil {
		t.Fatalf("Load %v: %v", o.Interfaces, err)
	}
	return p
}

// attached returns the XDP program attached to dev (0: none).
func (tp *persistTopo) attached(t *testing.T, dev string) (uint32, uint8) {
	t.Helper()
	var li linkXDP
	mustInNetns(t, tp.ns, func() error {
		ifi, err := netInterface(dev)
		if err != nil {
			return err
		}
		li, err = queryLink(dev, ifi)
		return err
	})
	return li.progID, li.attached
}

func (tp *persistTopo) detach(t *testing.T, dev string) (Detached, error) {
	t.Helper()
	var d Detached
	err := inNetns(tp.ns, func() error {
		var err error
		d, err = DetachInterface(dev, tp.root)
		return err
	})
	return d, err
}

func progID(t *testing.T, p *Program) uint32 {
	t.Helper()
	info, err := p.objs.VigilBypass.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}

func mapID(t *testing.T, m *ebpf.Map) ebpf.MapID {
	t.Helper()
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return id
}

// checkPins checks that dir holds the link and every map, pinned from p.
func checkPins(t *testing.T, dir string, p *Program) {
	t.Helper()
	for _, name := range append([]string{"link"}, pinnedMaps[:]...) {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("pin %s: %v", name, err)
		}
	}
	m, err := ebpf.LoadPinnedMap(filepath.Join(dir, bypassMapBypassConfig), nil)
	if err != nil {
		t.Fatalf("load pinned %s: %v", bypassMapBypassConfig, err)
	}
	defer m.Close()
	if got, want := mapID(t, m), mapID(t, p.objs.BypassConfig); got != want {
		t.Errorf("pinned %s is map %d, the program's is %d", bypassMapBypassConfig, got, want)
	}
}

func noPinDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin directory %s still there (%v)", dir, err)
	}
}

// TestPersistTakeover: a persistent program stays attached through its pins
// when its owner dies, fails open once the heartbeat is stale, and the next
// Load takes it over (same link, new program and maps, starting fail-open);
// a live owner's program is refused with ErrInUse, a foreign program with
// EBUSY; Close removes program and pins.
func TestPersistTakeover(t *testing.T) {
	tp := newPersistTopo(t)
	o := Options{Interfaces: []string{tp.a}, Mode: ModeIDS, XDPMode: XDPGeneric, MaxFlows: 64,
		Watchdog: time.Second, PinRoot: tp.root, Persist: true}
	p1 := tp.mustLoad(t, o)
	a1 := p1.Attachments()[0]
	if a1.PinDir == "" || a1.TookOver != 0 {
		t.Fatalf("attachment %+v", a1)
	}
	checkPins(t, a1.PinDir, p1)
	t.Logf("pinned in %s; bpffs mounted by Load: %q", a1.PinDir, p1.MountedBPFFS())
	k := tcpKey4()
	if err := p1.Add(k); err != nil {
		t.Fatal(err)
	}

	// A live owner: a second Load and the operator's detach are refused.
	if err := p1.Heartbeat(); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.load(t, o); !errors.Is(err, ErrInUse) || !errors.Is(err, unix.EBUSY) {
		t.Errorf("Load while the owner lives: %v, want ErrInUse and EBUSY", err)
	} else {
		t.Logf("second Load: %v", err)
	}
	if _, err := tp.detach(t, tp.a); !errors.Is(err, ErrInUse) {
		t.Errorf("DetachInterface while the owner lives: %v, want ErrInUse", err)
	}

	// The owner dies: the program stays attached and, once the heartbeat
	// is older than the watchdog, lets the bypassed flow through.
	oldID := progID(t, p1)
	if err := p1.Heartbeat(); err != nil {
		t.Fatal(err)
	}
	abandon(p1)
	if id, _ := tp.attached(t, tp.a); id != oldID {
		t.Fatalf("after the owner died: program %d attached, want %d (pinned)", id, oldID)
	}
	old, err := ebpf.NewProgramFromID(ebpf.ProgramID(oldID))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	frame := buildFrame(t, frameSpec{key: k, payload: 10})
	runOld := func() uint32 {
		ret, err := old.Run(&ebpf.RunOptions{Data: frame})
		if err != nil {
			t.Fatal(err)
		}
		return ret
	}
	if a := runOld(); a != xdpDrop {
		t.Errorf("orphan, heartbeat fresh: %s, want XDP_DROP", xdpActionName(a))
	}
	time.Sleep(o.Watchdog + 100*time.Millisecond)
	if a := runOld(); a != xdpPass {
		t.Errorf("orphan, heartbeat stale: %s, want XDP_PASS (fail-open)", xdpActionName(a))
	}

	// Takeover: same link (pin), new program, fail-open until told.
	p2 := tp.mustLoad(t, o)
	a2 := p2.Attachments()[0]
	newID := progID(t, p2)
	if a2.TookOver != oldID || a2.PinDir != a1.PinDir {
		t.Errorf("takeover attachment %+v, want TookOver %d in %s", a2, oldID, a1.PinDir)
	}
	if id, _ := tp.attached(t, tp.a); id != newID {
		t.Errorf("after takeover: program %d attached, want the new %d", id, newID)
	}
	checkPins(t, a2.PinDir, p2)
	if on, err := p2.FailOpen(); err != nil || !on {
		t.Errorf("after takeover: fail-open %v, %v; want on", on, err)
	}
	if err := p2.SetFailOpen(false); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := p2.Counters(k); !errors.Is(err, ErrNoFlow) {
		t.Errorf("the new maps hold the old flow: %v", err)
	}

	// A clean exit that keeps the program: the owner is gone at once.
	if err := p2.CloseKeepPinned(); err != nil {
		t.Fatal(err)
	}
	if id, _ := tp.attached(t, tp.a); id != newID {
		t.Fatalf("after CloseKeepPinned: program %d attached, want %d", id, newID)
	}
	p3 := tp.mustLoad(t, o)
	if a3 := p3.Attachments()[0]; a3.TookOver != newID {
		t.Errorf("Load right after CloseKeepPinned: %+v, want a takeover of %d", a3, newID)
	}
	if err := p3.Close(); err != nil {
		t.Fatal(err)
	}
	if id, _ := tp.attached(t, tp.a); id != 0 {
		t.Errorf("after Close: program %d still attached", id)
	}
	noPinDir(t, a1.PinDir)
	noPinDir(t, filepath.Dir(a1.PinDir)) // the namespace's directory, empty

	// A program that is not Vigil's is never taken over.
	attachPassProgram(t, tp.ns, tp.a)
	if _, err := tp.load(t, o); !errors.Is(err, unix.EBUSY) || errors.Is(err, ErrInUse) {
		t.Errorf("Load over a foreign XDP program: %v, want EBUSY", err)
	}
	if _, err := tp.detach(t, tp.a); !errors.Is(err, ErrNotAttached) {
		t.Errorf("DetachInterface of a foreign XDP program: %v, want ErrNotAttached", err)
	}
}

// TestPersistDetach: `vigil bypass detach` removes a program left attached
// and its pins, refuses a second time with ErrNotAttached; a takeover in
// another XDP mode reattaches; a run without Persist that takes over
// removes the old pins, so its Close leaves nothing behind; a bridge pins
// both interfaces.
func TestPersistDetach(t *testing.T) {
	tp := newPersistTopo(t)
	o := Options{Interfaces: []string{tp.a, tp.b}, Mode: ModeBridge, XDPMode: XDPGeneric, MaxFlows: 64,
		Watchdog: time.Second, PinRoot: tp.root, Persist: true}
	p := tp.mustLoad(t, o)
	as := p.Attachments()
	if len(as) != 2 || as[0].PinDir == as[1].PinDir || as[0].XSKOffset != 0 || as[1].XSKOffset == 0 ||
		as[1].XSKOffset != p.XSKMap().MaxEntries()/2 {
		t.Fatalf("bridge attachments %+v", as)
	}
	for _, a := range as {
		checkPins(t, a.PinDir, p)
	}
	id := progID(t, p)
	if err := p.CloseKeepPinned(); err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		d, err := tp.detach(t, a.Interface)
		if err != nil || d.ProgramID != id || d.PinDir != a.PinDir {
			t.Errorf("DetachInterface(%s) = %+v, %v; want program %d, pins %s", a.Interface, d, err, id, a.PinDir)
		}
		if got, _ := tp.attached(t, a.Interface); got != 0 {
			t.Errorf("%s: program %d attached after detach", a.Interface, got)
		}
		noPinDir(t, a.PinDir)
		if _, err := tp.detach(t, a.Interface); !errors.Is(err, ErrNotAttached) {
			t.Errorf("second DetachInterface(%s): %v, want ErrNotAttached", a.Interface, err)
		}
	}

	// Left in generic mode, taken over in driver mode: reattached.
	o = Options{Interfaces: []string{tp.a}, Mode: ModeIDS, XDPMode: XDPGeneric, MaxFlows: 64,
		Watchdog: time.Second, PinRoot: tp.root, Persist: true}
	p = tp.mustLoad(t, o)
	if err := p.CloseKeepPinned(); err != nil {
		t.Fatal(err)
	}
	o.XDPMode = XDPDriver
	p = tp.mustLoad(t, o)
	if a := p.Attachments()[0]; a.Mode != XDPDriver || a.TookOver != 0 {
		t.Errorf("generic -> driver: %+v, want a fresh driver-mode attachment", a)
	}
	if _, mode := tp.attached(t, tp.a); mode != xdpAttachedDrv {
		t.Errorf("attached mode %d, want driver", mode)
	}
	checkPins(t, p.Attachments()[0].PinDir, p)
	dir := p.Attachments()[0].PinDir
	if err := p.CloseKeepPinned(); err != nil {
		t.Fatal(err)
	}

	// A run without Persist takes over and drops the old pins.
	o.Persist, o.Watchdog = false, 0
	p = tp.mustLoad(t, o)
	if a := p.Attachments()[0]; a.TookOver == 0 || a.PinDir != "" {
		t.Errorf("non-persistent takeover: %+v", a)
	}
	noPinDir(t, dir)
	if on, _ := p.FailOpen(); !on {
		t.Errorf("non-persistent takeover does not start failing open")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if id, _ := tp.attached(t, tp.a); id != 0 {
		t.Errorf("program %d attached after Close", id)
	}
	// Its owner had no watchdog: a live non-persistent run is in use.
	p = tp.mustLoad(t, o)
	if _, err := tp.detach(t, tp.a); !errors.Is(err, ErrInUse) {
		t.Errorf("DetachInterface of a running non-persistent program: %v, want ErrInUse", err)
	}
	p.Close()
}

// TestPersistNoAlloc: the per-flow calls stay allocation-free with a
// persistent, watched program.
func TestPersistNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful with -race (sync.Pool drops items)")
	}
	tp := newPersistTopo(t)
	p := tp.mustLoad(t, Options{Interfaces: []string{tp.a}, Mode: ModeIDS, XDPMode: XDPGeneric, MaxFlows: 64,
		Watchdog: time.Second, PinRoot: tp.root, Persist: true})
	k := FlowKey{Src: mustAddr("10.9.9.1"), Dst: mustAddr("10.9.9.2"), SrcPort: 1, DstPort: 2, Proto: packet.ProtoUDP}
	if n := testing.AllocsPerRun(50, func() {
		if err := p.Add(k); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := p.Counters(k); err != nil {
			t.Fatal(err)
		}
		if err := p.Delete(k); err != nil {
			t.Fatal(err)
		}
		if err := p.Heartbeat(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Add/Counters/Delete/Heartbeat allocate %v times", n)
	}
}

func netInterface(dev string) (int, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}
