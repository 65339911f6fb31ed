package bypass

import (
	"errors"
	"fmt"
	"net"

	"github.com/cilium/ebpf"
)

// ErrNotAttached: no Vigil bypass program is attached to the interface.
var ErrNotAttached = errors.New("bypass: no Vigil bypass program attached")

// SetFailOpenOnInterface turns the fail-open switch of the Vigil bypass
// program attached to ifname on or off, from any process with CAP_BPF and
// CAP_NET_ADMIN (the operator's "let everything through" lever; no bpffs
// needed). It finds the program through rtnetlink (IFLA_XDP, in the calling
// thread's network namespace), checks its name, and writes the fail-open
// slot of its bypass_config map. It returns ErrNotAttached (wrapped, naming
// the interface) when the interface runs no such program.
func SetFailOpenOnInterface(ifname string, on bool) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("bypass: interface %s: %w", ifname, err)
	}
	li, err := queryLink(ifname, ifi.Index)
	if err != nil {
		return err
	}
	var v uint32
	if on {
		v = 1
	}
	for _, id := range [...]uint32{li.progID, li.drvProgID, li.skbProgID} {
		if id == 0 {
			continue
		}
		done, err := setFailOpenOnProgram(ebpf.ProgramID(id), v)
		if err != nil {
			return fmt.Errorf("bypass: interface %s: XDP program %d: %w", ifname, id, err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("%w to %s", ErrNotAttached, ifname)
}

func setFailOpenOnProgram(id ebpf.ProgramID, v uint32) (bool, error) {
	prog, err := ebpf.NewProgramFromID(id)
	if err != nil {
		return false, err
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		return false, err
	}
	if info.Name != progName {
		return false, nil
	}
	m, err := progMap(prog, configMapName)
	if err != nil {
		return false, err
	}
	defer m.Close()
	if err := m.Update(cfgFailOpen, v, ebpf.UpdateAny); err != nil {
		return false, fmt.Errorf("%s update fail-open: %w", configMapName, err)
	}
	return true, nil
}
