// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Vigil XDP flow bypass.
//
// Every frame is parsed (Ethernet, up to two 802.1Q/802.1AD tags, IPv4 or
// IPv6, TCP or UDP) into a flow key. When the key is in flows_v4/flows_v6
// the flow has been "bypassed" by user space: its packets are counted in the
// entry and then dropped (IDS mode: the capture is a copy) or redirected to
// the peer interface (bridge mode: bypass_peers[ingress ifindex]) without
// reaching the capture socket. Every other frame continues to user space:
// redirected to the AF_XDP socket of its receive queue (xsks) when
// redirect_to_xsk is set, otherwise XDP_PASS (AF_PACKET, the stack). Several
// interfaces share one xsks map: the socket of queue q of an interface is at
// bypass_ifaces[ingress ifindex].xsk_offset + q (offset 0 when the
// interface has no entry).
//
// Frames the program does not understand (IPv4 fragments, IPv6 extension
// headers, a third VLAN tag, truncated headers, other protocols) always go to
// user space, as do TCP FIN and RST segments of bypassed flows, so that the
// flow manager sees the flow end and removes the entries.
//
// The fail-open switch (bypass_config[CFG_FAIL_OPEN]) lets everything through
// in the kernel: bridge mode redirects every frame to the peer, IDS mode
// returns XDP_PASS. The watchdog (bypass_watchdog) does the same by itself
// when user space is gone: user space stamps heartbeat_ns with
// CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns) every 100 ms, and when
// timeout_ns is not 0 and the stamp is older than that, the program fails
// open until the next heartbeat.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MODE_IDS_DROP 0
#define MODE_BRIDGE_REDIRECT 1

// Slots of bypass_config (one __u32 each).
#define CFG_MODE 0
#define CFG_FAIL_OPEN 1
#define CFG_REDIRECT_XSK 2
#define CFG_MAX 3

// The watchdog: the one entry of bypass_watchdog.
struct watchdog {
	__u64 heartbeat_ns; // bpf_ktime_get_ns of user space's last heartbeat
	__u64 timeout_ns;   // fail open when the heartbeat is older; 0: off
};

// Per-interface settings: bypass_ifaces[ingress ifindex].
struct iface_cfg {
	__u32 xsk_offset; // the interface's queue q is at xsks[xsk_offset + q]
	__u32 pad;
};

// Flow key of an IPv4 flow, one direction. Addresses and ports are in
// network byte order, VLAN IDs in host order (0 = no tag). Padding is zero.
struct flow_key_v4 {
	__u8 saddr[4];
	__u8 daddr[4];
	__be16 sport;
	__be16 dport;
	__u16 vlan_outer;
	__u16 vlan_inner;
	__u8 proto;
	__u8 pad[3];
};

// Flow key of an IPv6 flow, one direction; layout as flow_key_v4.
struct flow_key_v6 {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u16 vlan_outer;
	__u16 vlan_inner;
	__u8 proto;
	__u8 pad[3];
};

// Per-CPU counters of one direction of a bypassed flow.
struct flow_counters {
	__u64 packets;
	__u64 bytes;        // frame length seen by XDP (L2 header included)
	__u64 last_seen_ns; // bpf_ktime_get_ns (CLOCK_MONOTONIC) of the last packet
};

// Per-CPU program counters (bypass_stats[0]).
struct stats {
	__u64 bypass_packets; // packets of bypassed flows dropped (IDS) or redirected (bridge)
	__u64 bypass_bytes;
	__u64 passed;         // XDP_PASS to the stack (not fail-open)
	__u64 to_xsk;         // redirected to xsks[rx_queue_index]
	__u64 xsk_miss;       // redirect_to_xsk set but no socket at that queue: passed
	__u64 fail_open;      // let through by the fail-open switch or the watchdog
	__u64 parse_errors;   // truncated or malformed headers: to user space
	__u64 fragments;      // IPv4 fragments: to user space
	__u64 ipv6_ext;       // IPv6 with an extension header: to user space
	__u64 flow_ends;      // FIN/RST of a bypassed TCP flow: to user space
	__u64 no_peer;        // bridge mode, no devmap entry for the ingress interface: to user space (fail-open: XDP_PASS)
	__u64 watchdog;       // of fail_open: let through because the heartbeat was stale
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct flow_key_v4);
	__type(value, struct flow_counters);
	__uint(max_entries, 131072); // set by user space at load time
} flows_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct flow_key_v6);
	__type(value, struct flow_counters);
	__uint(max_entries, 131072); // set by user space at load time
} flows_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CFG_MAX);
} bypass_config SEC(".maps");

// Peer interface for bridge mode, keyed by ingress ifindex.
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 8);
} bypass_peers SEC(".maps");

// Per-interface settings (struct iface_cfg), keyed by ifindex.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct iface_cfg);
	__uint(max_entries, 64);
} bypass_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct watchdog);
	__uint(max_entries, 1);
} bypass_watchdog SEC(".maps");

// AF_XDP sockets by interface offset + receive queue index; filled by the
// AF_XDP backend.
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64); // set by user space at load time
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct stats);
	__uint(max_entries, 1);
} bypass_stats SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct ipv4_hdr {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__be16 check;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct ipv6_hdr {
	__be32 ver_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct ports_hdr {
	__be16 sport;
	__be16 dport;
};

#define TCP_FLAGS_OFF 13
#define TCP_FIN 0x01
#define TCP_RST 0x04

static __always_inline __u32 cfg_get(__u32 slot)
{
	__u32 *v = bpf_map_lookup_elem(&bypass_config, &slot);
	return v ? *v : 0;
}

// to_user hands a frame on to user space: the AF_XDP socket of its queue
// when configured (falling back to the stack when that slot is empty), or
// the stack.
static __always_inline int to_user(struct xdp_md *ctx, struct stats *st)
{
	if (cfg_get(CFG_REDIRECT_XSK)) {
		__u32 ifindex = ctx->ingress_ifindex;
		struct iface_cfg *ic = bpf_map_lookup_elem(&bypass_ifaces, &ifindex);
		__u32 slot = ctx->rx_queue_index + (ic ? ic->xsk_offset : 0);
		int act = bpf_redirect_map(&xsks, slot, XDP_PASS);
		if (act == XDP_REDIRECT) {
			st->to_xsk++;
			return act;
		}
		st->xsk_miss++;
	}
	st->passed++;
	return XDP_PASS;
}

// user_gone reports whether the watchdog is on and user space's heartbeat
// is older than its timeout; *now is the time it read (0: none). The age is
// signed: a heartbeat stamped a hair ahead of this CPU's clock is fresh,
// not 584 years old.
static __always_inline int user_gone(__u64 *now)
{
	__u32 zero = 0;
	struct watchdog *wd = bpf_map_lookup_elem(&bypass_watchdog, &zero);
	if (!wd || !wd->timeout_ns)
		return 0;
	*now = bpf_ktime_get_ns();
	__s64 age = (__s64)(*now - wd->heartbeat_ns);
	return age > (__s64)wd->timeout_ns;
}

// count_flow adds one frame to a flow entry (this CPU's slot); now is the
// time already read for this frame, or 0.
static __always_inline void count_flow(struct flow_counters *fc, __u64 len, __u64 now)
{
	fc->packets++;
	fc->bytes += len;
	fc->last_seen_ns = now ? now : bpf_ktime_get_ns();
}

SEC("xdp")
int vigil_bypass(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	__u32 zero = 0;
	struct stats *st = bpf_map_lookup_elem(&bypass_stats, &zero);
	if (!st)
		return XDP_PASS; // cannot happen: a one-entry array

	__u32 mode = cfg_get(CFG_MODE);
	int gone = 0;
	__u64 now = 0;
	if (cfg_get(CFG_FAIL_OPEN) || (gone = user_gone(&now))) {
		st->fail_open++;
		if (gone)
			st->watchdog++;
		if (mode != MODE_BRIDGE_REDIRECT)
			return XDP_PASS;
		int act = bpf_redirect_map(&bypass_peers, ctx->ingress_ifindex, XDP_PASS);
		if (act != XDP_REDIRECT)
			st->no_peer++;
		return act;
	}

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end) {
		st->parse_errors++;
		return to_user(ctx, st);
	}
	void *cur = eth + 1;
	__u16 proto = eth->h_proto;
	__u16 vlan[2] = {0, 0};

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vh = cur;
		if ((void *)(vh + 1) > end) {
			st->parse_errors++;
			return to_user(ctx, st);
		}
		vlan[i] = bpf_ntohs(vh->tci) & 0x0fff;
		proto = vh->proto;
		cur = vh + 1;
	}

	__u8 l4proto;
	void *l4;
	struct flow_counters *fc;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct ipv4_hdr *ip = cur;
		if ((void *)(ip + 1) > end) {
			st->parse_errors++;
			return to_user(ctx, st);
		}
		__u32 ihl = (ip->ver_ihl & 0x0f) * 4;
		if ((ip->ver_ihl >> 4) != 4 || ihl < sizeof(*ip)) {
			st->parse_errors++;
			return to_user(ctx, st);
		}
		// More-fragments flag or a fragment offset: not the whole flow
		// key (later fragments) or not the whole packet.
		if (ip->frag_off & bpf_htons(0x3fff)) {
			st->fragments++;
			return to_user(ctx, st);
		}
		l4proto = ip->protocol;
		if (l4proto != IPPROTO_TCP && l4proto != IPPROTO_UDP)
			return to_user(ctx, st);
		l4 = (void *)ip + ihl;
		struct ports_hdr *ph = l4;
		if ((void *)(ph + 1) > end) {
			st->parse_errors++;
			return to_user(ctx, st);
		}
		struct flow_key_v4 k4 = {};
		__builtin_memcpy(k4.saddr, ip->saddr, 4);
		__builtin_memcpy(k4.daddr, ip->daddr, 4);
		k4.sport = ph->sport;
		k4.dport = ph->dport;
		k4.vlan_outer = vlan[0];
		k4.vlan_inner = vlan[1];
		k4.proto = l4proto;
		fc = bpf_map_lookup_elem(&flows_v4, &k4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6_hdr *ip6 = cur;
		if ((void *)(ip6 + 1) > end) {
			st->parse_errors++;
			return to_user(ctx, st);
		}
		if ((bpf_ntohl(ip6->ver_tc_flow) >> 28) != 6) {
			st->parse_errors++;
			return to_user(ctx, st);
		}
		l4proto = ip6->nexthdr;
		if (l4proto != IPPROTO_TCP && l4proto != IPPROTO_UDP) {
			// Hop-by-hop (0), routing (43), fragment (44), ESP (50),
			// AH (51), destination options (60), mobility (135),
			// HIP (139), shim6 (140) and experimental (253, 254).
			switch (l4proto) {
			case 0: case 43: case 44: case 50: case 51: case 60:
			case 135: case 139: case 140: case 253: case 254:
				st->ipv6_ext++;
			}
			return to_user(ctx, st);
		}
		l4 = ip6 + 1;
		struct ports_hdr *ph = l4;
		if ((void *)(ph + 1) > end) {
			st->parse_errors++;
			return to_user(ctx, st);
		}
		struct flow_key_v6 k6 = {};
		__builtin_memcpy(k6.saddr, ip6->saddr, 16);
		__builtin_memcpy(k6.daddr, ip6->daddr, 16);
		k6.sport = ph->sport;
		k6.dport = ph->dport;
		k6.vlan_outer = vlan[0];
		k6.vlan_inner = vlan[1];
		k6.proto = l4proto;
		fc = bpf_map_lookup_elem(&flows_v6, &k6);
	} else {
		// ARP, a third VLAN tag, anything else.
		return to_user(ctx, st);
	}

	if (!fc)
		return to_user(ctx, st);

	if (l4proto == IPPROTO_TCP) {
		__u8 *flags = l4 + TCP_FLAGS_OFF;
		if ((void *)(flags + 1) > end) {
			st->parse_errors++;
			return to_user(ctx, st);
		}
		if (*flags & (TCP_FIN | TCP_RST)) {
			st->flow_ends++;
			return to_user(ctx, st);
		}
	}

	if (mode == MODE_BRIDGE_REDIRECT) {
		int act = bpf_redirect_map(&bypass_peers, ctx->ingress_ifindex, 0);
		if (act != XDP_REDIRECT) {
			st->no_peer++;
			return to_user(ctx, st);
		}
		count_flow(fc, len, now);
		st->bypass_packets++;
		st->bypass_bytes += len;
		return act;
	}

	count_flow(fc, len, now);
	st->bypass_packets++;
	st->bypass_bytes += len;
	return XDP_DROP;
}

char __license[] SEC("license") = "Dual BSD/GPL";
