/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What hubd knows of each running peer besides its file (struct
 * hubd_peer_state): its resolved and learned endpoints, handshake, traffic and
 * health. Kept in an array sorted by key (hubd_state_cmp).
 */
#ifndef HUBD_PEER_STATE_H
#define HUBD_PEER_STATE_H

#include "daemon.h"

int hubd_state_cmp(const void *a, const void *b);
struct hubd_peer_state *hubd_state_find(struct hubd_peer_state *v, size_t n, const wgnl_key key);
/* A state for c, carrying over what old knew (learned endpoint, handshake, health). */
int hubd_state_init(struct hubd_peer_state *s, const struct hubd_peer_conf *c,
		    const struct hubd_peer_state *old);
void hubd_state_clear(struct hubd_peer_state *s);
void hubd_states_free(struct hubd_peer_state *v, size_t n);
/* New states for cfg's peers, sorted by key, carrying over what h knew of each. */
int hubd_states_build(const struct hubd *h, const struct hubd_config *cfg,
		      struct hubd_peer_state **ret, size_t *ret_n);
/* st (sorted by key) become h's states; the old ones are freed. */
void hubd_states_replace(struct hubd *h, struct hubd_peer_state *st, size_t n);
/* What the kernel reports of a peer: its learned endpoint, handshake and counters. */
void hubd_state_observe(struct hubd_peer_state *s, const struct wgnl_peer *p);

struct hubd_namer_ctx {
	struct hubd_peer_state *v;
	size_t n;
};
/* A hubd_peer_namer over a hubd_namer_ctx. */
const char *hubd_state_namer(const wgnl_key key, void *user);

/* host:port as a socket address when host is a literal IPv4 or IPv6 address; -EINVAL for a
 * name, which resolve.c looks up off the loop. */
int hubd_endpoint_literal(const char *host, uint16_t port, union wgnl_endpoint *ret);

#endif
