//go:build dpdk

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vigil_dpdk.h"

int vigil_eal_init(int argc, char **argv)
{
	int ret = rte_eal_init(argc, argv);
	if (ret < 0)
		return rte_errno > 0 ? -rte_errno : -EINVAL;
	return ret;
}

int vigil_thread_register(void)
{
	if (rte_thread_register() < 0)
		return rte_errno > 0 ? -rte_errno : -EINVAL;
	return (int)rte_lcore_id();
}

void vigil_thread_unregister(void)
{
	rte_thread_unregister();
}

struct rte_mempool *vigil_pool_create(const char *name, unsigned n, unsigned cache,
	uint16_t data_room, int socket, int *err)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket);
	if (mp == NULL)
		*err = rte_errno > 0 ? rte_errno : ENOMEM;
	return mp;
}

void vigil_pool_free(struct rte_mempool *mp)
{
	rte_mempool_free(mp);
}

unsigned vigil_pool_avail(struct rte_mempool *mp)
{
	return rte_mempool_avail_count(mp);
}

unsigned vigil_pool_in_use(struct rte_mempool *mp)
{
	return rte_mempool_in_use_count(mp);
}

// A symmetric Toeplitz key (the 16-bit pattern 0x6d5a repeated): a flow's
// two directions hash to the same queue. 52 bytes covers every key size
// drivers report (40 or 52).
static uint8_t vigil_sym_rss_key[52] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

int vigil_port_setup(uint16_t port, uint16_t nq, uint16_t rx_desc, uint16_t tx_desc,
	struct rte_mempool *mp, int promisc, struct vigil_port_info *info, int *step, int *qidx)
{
	struct rte_eth_dev_info dev;
	struct rte_eth_conf conf;
	int ret;
	uint16_t q;

	*qidx = -1;
	*step = VIGIL_STEP_INFO;
	ret = rte_eth_dev_info_get(port, &dev);
	if (ret != 0)
		return ret;
	info->max_rx_queues = dev.max_rx_queues;
	info->max_tx_queues = dev.max_tx_queues;
	snprintf(info->driver, sizeof(info->driver), "%s", dev.driver_name ? dev.driver_name : "");
	info->socket = rte_eth_dev_socket_id(port);

	memset(&conf, 0, sizeof(conf));
	info->rss_hf = 0;
	if (nq > 1) {
		uint64_t hf = dev.flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
		if (hf != 0) {
			uint8_t klen = dev.hash_key_size ? dev.hash_key_size : 40;
			if (klen > sizeof(vigil_sym_rss_key))
				klen = sizeof(vigil_sym_rss_key);
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_key = vigil_sym_rss_key;
			conf.rx_adv_conf.rss_conf.rss_key_len = klen;
			conf.rx_adv_conf.rss_conf.rss_hf = hf;
			info->rss_hf = hf;
		}
	}

	*step = VIGIL_STEP_CONFIGURE;
	ret = rte_eth_dev_configure(port, nq, nq, &conf);
	if (ret != 0)
		return ret;

	*step = VIGIL_STEP_ADJUST_DESC;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc);
	if (ret != 0)
		return ret;
	info->rx_desc = rx_desc;
	info->tx_desc = tx_desc;

	for (q = 0; q < nq; q++) {
		*step = VIGIL_STEP_RXQ;
		*qidx = q;
		ret = rte_eth_rx_queue_setup(port, q, rx_desc, info->socket, NULL, mp);
		if (ret != 0)
			return ret;
		*step = VIGIL_STEP_TXQ;
		ret = rte_eth_tx_queue_setup(port, q, tx_desc, info->socket, NULL);
		if (ret != 0)
			return ret;
	}
	*qidx = -1;

	*step = VIGIL_STEP_START;
	ret = rte_eth_dev_start(port);
	if (ret != 0)
		return ret;

	if (promisc) {
		*step = VIGIL_STEP_PROMISC;
		ret = rte_eth_promiscuous_enable(port);
		if (ret != 0) {
			rte_eth_dev_stop(port);
			return ret;
		}
	}
	*step = 0;
	return 0;
}

int vigil_port_close(uint16_t port)
{
	int ret = rte_eth_dev_stop(port);
	int ret2 = rte_eth_dev_close(port);
	return ret != 0 ? ret : ret2;
}

int vigil_port_stats(uint16_t port, struct vigil_port_stats *st)
{
	struct rte_eth_stats s;
	int ret = rte_eth_stats_get(port, &s);
	if (ret != 0)
		return ret;
	st->ipackets = s.ipackets;
	st->ibytes = s.ibytes;
	st->imissed = s.imissed;
	st->ierrors = s.ierrors;
	st->rx_nombuf = s.rx_nombuf;
	st->opackets = s.opackets;
	st->obytes = s.obytes;
	st->oerrors = s.oerrors;
	return 0;
}

int vigil_port_by_name(const char *name, uint16_t *port)
{
	return rte_eth_dev_get_port_by_name(name, port);
}

int vigil_port_name(uint16_t port, char *name)
{
	return rte_eth_dev_get_name_by_port(port, name);
}

int vigil_port_valid(uint16_t port)
{
	return rte_eth_dev_is_valid_port(port);
}

struct vigil_queue *vigil_queue_new(uint16_t port, uint16_t queue, uint16_t peer,
	int has_peer, uint16_t burst)
{
	struct vigil_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->port = port;
	q->queue = queue;
	q->peer = peer;
	q->has_peer = has_peer ? 1 : 0;
	q->burst = burst;
	q->rx = calloc(burst, sizeof(*q->rx));
	q->pkts = calloc(burst, sizeof(*q->pkts));
	q->fwd = calloc(burst, sizeof(*q->fwd));
	q->rel = calloc(burst, sizeof(*q->rel));
	if (q->rx == NULL || q->pkts == NULL || q->fwd == NULL || q->rel == NULL) {
		vigil_queue_free(q);
		return NULL;
	}
	return q;
}

void vigil_queue_free(struct vigil_queue *q)
{
	if (q == NULL)
		return;
	free(q->rx);
	free(q->pkts);
	free(q->fwd);
	free(q->rel);
	free(q);
}

uint16_t vigil_rx(struct vigil_queue *q, uint16_t max)
{
	uint16_t n, i, k = 0;
	struct timespec ts;

	if (max > q->burst)
		max = q->burst;
	n = rte_eth_rx_burst(q->port, q->queue, q->rx, max);
	if (n == 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	q->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = q->rx[i];
		if (m->nb_segs != 1) {
			rte_pktmbuf_free(m);
			q->multiseg++;
			continue;
		}
		q->pkts[k].data = rte_pktmbuf_mtod(m, void *);
		q->pkts[k].handle = (uint64_t)(uintptr_t)m;
		q->pkts[k].len = m->data_len;
		q->pkts[k].pkt_len = m->pkt_len;
		k++;
	}
	return k;
}

uint16_t vigil_done(struct vigil_queue *q, uint16_t nfwd, uint16_t nrel)
{
	uint16_t sent = 0;

	if (nfwd > q->burst)
		nfwd = q->burst;
	if (nrel > q->burst)
		nrel = q->burst;
	if (nfwd > 0) {
		struct rte_mbuf **tx = (struct rte_mbuf **)q->fwd;
		if (q->has_peer) {
			for (;;) {
				uint16_t n = rte_eth_tx_burst(q->peer, q->queue, tx + sent, nfwd - sent);
				sent += n;
				if (n == 0 || sent == nfwd)
					break;
			}
		}
		if (sent < nfwd) {
			rte_pktmbuf_free_bulk(tx + sent, nfwd - sent);
			q->tx_unsent += nfwd - sent;
		}
		q->tx_sent += sent;
	}
	if (nrel > 0)
		rte_pktmbuf_free_bulk((struct rte_mbuf **)q->rel, nrel);
	return sent;
}

int vigil_inject(uint16_t port, uint16_t queue, struct rte_mempool *mp, const void *data, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	char *dst;

	if (m == NULL)
		return -ENOBUFS;
	dst = rte_pktmbuf_append(m, len);
	if (dst == NULL) {
		rte_pktmbuf_free(m);
		return -EMSGSIZE;
	}
	memcpy(dst, data, len);
	if (rte_eth_tx_burst(port, queue, &m, 1) != 1) {
		rte_pktmbuf_free(m);
		return -EAGAIN;
	}
	return 0;
}
