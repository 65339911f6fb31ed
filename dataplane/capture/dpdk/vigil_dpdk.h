//go:build dpdk

// C helpers of package dpdk (build tag dpdk). The Go side makes one cgo
// call per burst: these functions take whole arrays, read rte_errno on the
// thread that set it, and wrap the DPDK inline functions and macros cgo
// cannot call.

#ifndef VIGIL_DPDK_H
#define VIGIL_DPDK_H

#include <stdint.h>

struct rte_mempool;

// One received packet as the Go side reads it.
struct vigil_pkt {
	void *data;       // rte_pktmbuf_mtod of a single-segment mbuf
	uint64_t handle;  // the struct rte_mbuf pointer
	uint32_t len;     // data_len (== pkt_len: multi-segment mbufs never get here)
	uint32_t pkt_len; // pkt_len
};

// Per-queue state, allocated once by vigil_queue_new (C memory, owned by
// one Go Source, used by one goroutine at a time).
struct vigil_queue {
	uint16_t port;
	uint16_t queue;
	uint16_t peer;     // transmit port of forwarded packets (IPS)
	uint16_t has_peer; // 1 when peer is set
	uint16_t burst;    // size of every array below
	int64_t time_ns;   // CLOCK_REALTIME of the last non-empty burst
	uint64_t multiseg; // multi-segment mbufs freed by vigil_rx (cumulative)
	uint64_t tx_sent;  // packets rte_eth_tx_burst took (cumulative)
	uint64_t tx_unsent; // forwarded packets tx did not take, freed (cumulative)
	struct rte_mbuf **rx;  // rx_burst target
	struct vigil_pkt *pkts; // filled by vigil_rx
	uintptr_t *fwd;   // mbufs to transmit, filled by Go before vigil_done
	uintptr_t *rel;   // mbufs to free, filled by Go before vigil_done
};

// vigil_eal_init runs rte_eal_init; negative rte_errno on failure.
int vigil_eal_init(int argc, char **argv);

// vigil_thread_register / unregister wrap rte_thread_register; negative
// rte_errno on failure.
int vigil_thread_register(void);
void vigil_thread_unregister(void);

// vigil_pool_create wraps rte_pktmbuf_pool_create; *err = rte_errno on NULL.
struct rte_mempool *vigil_pool_create(const char *name, unsigned n, unsigned cache,
	uint16_t data_room, int socket, int *err);
void vigil_pool_free(struct rte_mempool *mp);
unsigned vigil_pool_avail(struct rte_mempool *mp);
unsigned vigil_pool_in_use(struct rte_mempool *mp);

// Steps of vigil_port_setup, reported through *step on failure.
enum {
	VIGIL_STEP_INFO = 1,
	VIGIL_STEP_CONFIGURE,
	VIGIL_STEP_ADJUST_DESC,
	VIGIL_STEP_RXQ,
	VIGIL_STEP_TXQ,
	VIGIL_STEP_START,
	VIGIL_STEP_PROMISC,
	VIGIL_STEP_STATS,
};

// Facts vigil_port_setup reports back.
struct vigil_port_info {
	uint16_t rx_desc;      // descriptors per rx queue after adjustment
	uint16_t tx_desc;      // descriptors per tx queue after adjustment
	uint16_t max_rx_queues;
	uint16_t max_tx_queues;
	uint64_t rss_hf;       // hash functions in use (0: no RSS)
	int socket;            // NUMA socket of the device (SOCKET_ID_ANY if unknown)
	char driver[64];       // driver name
};

// vigil_port_setup configures port with nq rx/tx queue pairs, sets the
// queues up with mp, starts the port and enables promiscuous mode if asked.
// Returns 0 or a negative errno and sets *step (and *qidx for queue steps).
int vigil_port_setup(uint16_t port, uint16_t nq, uint16_t rx_desc, uint16_t tx_desc,
	struct rte_mempool *mp, int promisc, struct vigil_port_info *info, int *step, int *qidx);

// vigil_port_close stops and closes port.
int vigil_port_close(uint16_t port);

// Counters of rte_eth_stats_get that Vigil uses.
struct vigil_port_stats {
	uint64_t ipackets, ibytes, imissed, ierrors, rx_nombuf;
	uint64_t opackets, obytes, oerrors;
};

int vigil_port_stats(uint16_t port, struct vigil_port_stats *st);

// vigil_port_by_name wraps rte_eth_dev_get_port_by_name.
int vigil_port_by_name(const char *name, uint16_t *port);
// vigil_port_name wraps rte_eth_dev_get_name_by_port.
int vigil_port_name(uint16_t port, char *name);
int vigil_port_valid(uint16_t port);

struct vigil_queue *vigil_queue_new(uint16_t port, uint16_t queue, uint16_t peer,
	int has_peer, uint16_t burst);
void vigil_queue_free(struct vigil_queue *q);

// vigil_rx receives up to max packets (max <= q->burst) into q->pkts and
// returns how many. Multi-segment mbufs are freed and counted in
// q->multiseg; the clock is read once when the burst is not empty.
uint16_t vigil_rx(struct vigil_queue *q, uint16_t max);

// vigil_done transmits q->fwd[0:nfwd] on the peer's queue q->queue
// (calling rte_eth_tx_burst again while it takes packets), frees what it
// did not take (q->tx_unsent) and frees q->rel[0:nrel], all in bulk.
// Returns how many packets were transmitted.
uint16_t vigil_done(struct vigil_queue *q, uint16_t nfwd, uint16_t nrel);

// vigil_inject copies len bytes at data into an mbuf from mp and transmits
// it on port's tx queue queue. Returns 0, -ENOBUFS (pool empty),
// -EMSGSIZE (longer than the mbuf's data room) or -EAGAIN (the tx queue
// did not take it; the mbuf is freed).
int vigil_inject(uint16_t port, uint16_t queue, struct rte_mempool *mp, const void *data, uint16_t len);

#endif
