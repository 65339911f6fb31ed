package bypass

// The XDP program is compiled by bpf2go into bypass_bpfel.o / bypass_bpfeb.o
// and the Go files that embed them; all four are committed, so building
// Vigil needs no clang. Regenerate after editing bpf/bypass.c (needs clang
// and libbpf-dev; the asm/ include directory is the host's multiarch one):
//
//	go generate ./dataplane/bypass/
//
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -mcpu=v3 -Wall -Werror" -type flow_key_v4 -type flow_key_v6 -type flow_counters -type stats -type watchdog -type iface_cfg bypass bpf/bypass.c -- -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu
