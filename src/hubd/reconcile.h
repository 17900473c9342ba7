/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What daemon.c (the full reconcile) shares with reload.c (the reconcile of
 * a few changed peer files). Not an interface for anything else.
 */
#ifndef HUBD_RECONCILE_H
#define HUBD_RECONCILE_H

#include "daemon.h"

uint64_t hubd_now_us(void);

/* The running config's peers are sorted by name: a bsearch. */
const struct hubd_peer_conf *hubd_running_peer(const struct hubd_config *run, const char *name);
/* Is p, as just read, exactly what is running as q? */
bool hubd_peer_conf_same(const struct hubd_peer_conf *p, const struct hubd_peer_conf *q);
int hubd_peer_conf_dup(struct hubd_peer_conf *dst, const struct hubd_peer_conf *src);

/* Peer states, sorted by key (hubd_state_cmp). */
int hubd_state_cmp(const void *a, const void *b);
struct hubd_peer_state *hubd_state_find(struct hubd_peer_state *v, size_t n, const wgnl_key key);
/* A state for c, carrying over what old knew (learned endpoint, handshake, health). */
int hubd_state_init(struct hubd_peer_state *s, const struct hubd_peer_conf *c,
		    const struct hubd_peer_state *old);
void hubd_states_free(struct hubd_peer_state *v, size_t n);

struct hubd_namer_ctx {
	struct hubd_peer_state *v;
	size_t n;
};
/* A hubd_peer_namer over a hubd_namer_ctx. */
const char *hubd_state_namer(const wgnl_key key, void *user);

/* Addresses, routes, forwarding and the nftables table for cfg on ifindex. */
int hubd_net_sync(struct hubd *h, const struct hubd_config *cfg, int ifindex, bool dry,
		  struct hubd_changes *ch);
enum {
	HUBD_NET_ADDRESSES = 1 << 0,
	HUBD_NET_ROUTES = 1 << 1, /* these need the link up */
	HUBD_NET_FORWARDING = 1 << 2,
	HUBD_NET_NFT = 1 << 3,
	HUBD_NET_ALL = (1 << 4) - 1,
};
/* The same for some of them only. */
int hubd_net_sync_parts(struct hubd *h, const struct hubd_config *cfg, int ifindex, unsigned parts,
			bool dry, struct hubd_changes *ch);

void hubd_log_changes(const struct hubd_changes *ch, size_t from, bool drift);
void hubd_log_timing(const struct hubd *h, const char *what, uint64_t total);

/*
 * Apply the peer files in h->dirty, and nothing else, when that is certain to
 * give what a full reconcile would: every file parses cleanly and clashes with
 * nothing running. -EAGAIN means it could not be sure: do a full reconcile.
 */
int hubd_reconcile_files(struct hubd *h, struct hubd_changes *ch);

/* Log each distinct diagnostic once, however many reconciles find it again. */
void hubd_report_diags(struct hubd *h, const struct hubd_diags *d);
/* Send a set request, counting its messages and time. */
int hubd_send_set(struct hubd *h, struct wgnl_device *set);
/* k's private key, port and fwmark as c asks: what the kernel holds once they are sent. */
void hubd_device_as_configured(struct wgnl_device *k, const struct hubd_iface_conf *c);
/*
 * Peers go to a device without any in runs of this many: nothing is removed
 * then, so each run's request stands alone, and a cold start of 10,000 peers
 * never holds all of them as one request besides the config and the states.
 */
#define HUBD_WG_RUN 1024
/* cfg becomes the running configuration. */
void hubd_install_config(struct hubd *h, struct hubd_config *cfg);
/*
 * The end of a reconcile that was not a dry run, whose result was r: st
 * become the running peer states, changes are logged. Returns what
 * hubd_reconcile returns.
 */
int hubd_commit(struct hubd *h, struct hubd_peer_state *st, size_t nst, unsigned flags, int r,
		struct hubd_changes *ch, size_t before);
/*
 * The first full reconcile, when no configuration runs yet and the link does
 * not exist: the peers are sent while their files are still being read.
 * Returns like hubd_reconcile, or -EAGAIN having changed nothing when it does
 * not apply (a link already there, an unusable hubd.conf).
 */
int hubd_cold_start(struct hubd *h, struct hubd_changes *ch, struct hubd_diags *diags);

#endif
