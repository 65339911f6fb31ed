// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// xsk_redirect hands every packet to the AF_XDP socket registered for the
// receive queue it arrived on; packets on queues without a socket go to the
// kernel stack (the XDP_PASS in bpf_redirect_map's flags is the action when
// the map has no entry for the key).
//
// The few kernel UAPI definitions it needs are declared here, so building
// it needs no architecture-specific kernel headers.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>

// From linux/bpf.h.
enum { BPF_MAP_TYPE_XSKMAP = 17 };
enum { XDP_PASS = 2 };

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

// xsks maps a receive queue index to an AF_XDP socket. The loader sets
// max_entries to the interface's queue count (at least 64).
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

SEC("xdp")
int xsk_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
