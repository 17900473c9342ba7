/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The running peers' states (peer-state.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer-state.h"

int hubd_state_cmp(const void *a, const void *b)
{
	return memcmp(((const struct hubd_peer_state *)a)->key,
		      ((const struct hubd_peer_state *)b)->key, WGNL_KEY_LEN);
}

struct hubd_peer_state *hubd_state_find(struct hubd_peer_state *v, size_t n, const wgnl_key key)
{
	struct hubd_peer_state probe;

	memcpy(probe.key, key, WGNL_KEY_LEN);
	return n ? bsearch(&probe, v, n, sizeof(*v), hubd_state_cmp) : NULL;
}

struct hubd_peer_state *hubd_peer_find(const struct hubd *h, const wgnl_key key)
{
	return hubd_state_find(h->peers, h->n_peers, key);
}

void hubd_states_free(struct hubd_peer_state *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].ep_host);
	}
	free(v);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

int hubd_endpoint_literal(const char *host, uint16_t port, union wgnl_endpoint *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, host, &ret->addr4.sin_addr) == 1) {
		ret->addr4.sin_family = AF_INET;
		ret->addr4.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &ret->addr6.sin6_addr) == 1) {
		ret->addr6.sin6_family = AF_INET6;
		ret->addr6.sin6_port = htons(port);
		return 0;
	}
	return -EINVAL;
}

int hubd_state_init(struct hubd_peer_state *s, const struct hubd_peer_conf *c,
		    const struct hubd_peer_state *old)
{
	bool same_host;

	if (old)
		*s = *old;
	else
		memset(s, 0, sizeof(*s));
	memcpy(s->key, c->public_key, WGNL_KEY_LEN);
	s->keepalive = c->keepalive != 0;
	same_host = old && old->ep_host && c->endpoint_host &&
		    !strcmp(old->ep_host, c->endpoint_host) && old->ep_port == c->endpoint_port;
	if (dup_str(&s->name, c->name) < 0 || dup_str(&s->ep_host, c->endpoint_host) < 0)
		return -ENOMEM;
	s->ep_port = c->endpoint_port;
	if (same_host)
		return 0; /* resolved, or being resolved, as it was */
	/* A new host: whatever was resolved or asked for the old one is void. A literal address
	 * is taken at once; a name stays unresolved until resolve.c has looked it up off the
	 * loop (the peer goes to the kernel without an endpoint meanwhile, as with
	 * systemd-networkd). */
	memset(&s->resolved, 0, sizeof(s->resolved));
	s->resolving = s->reresolve = false;
	s->resolve_failures = 0;
	s->resolve_after = 0;
	if (c->endpoint_host)
		hubd_endpoint_literal(c->endpoint_host, c->endpoint_port, &s->resolved);
	return 0;
}

int hubd_states_build(const struct hubd *h, const struct hubd_config *cfg,
		      struct hubd_peer_state **ret, size_t *ret_n)
{
	struct hubd_peer_state *v = calloc(cfg->n_peers + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_state *old = hubd_peer_find(h, cfg->peers[i].public_key);

		if (hubd_state_init(&v[n], &cfg->peers[i], old) < 0) {
			hubd_states_free(v, n + 1);
			return -ENOMEM;
		}
		n++;
	}
	qsort(v, n, sizeof(*v), hubd_state_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* What the kernel reports is remembered: the learned endpoint is restored if the peer is ever
 * re-added. */
void hubd_state_observe(struct hubd_peer_state *s, const struct wgnl_peer *p)
{
	if (p->endpoint.addr.sa_family)
		s->learned = p->endpoint;
	s->last_handshake = p->last_handshake_sec;
	s->rx_bytes = p->rx_bytes;
	s->tx_bytes = p->tx_bytes;
}

const char *hubd_state_namer(const wgnl_key key, void *user)
{
	struct hubd_namer_ctx *c = user;
	struct hubd_peer_state *s = hubd_state_find(c->v, c->n, key);

	return s ? s->name : NULL;
}

void hubd_state_clear(struct hubd_peer_state *s)
{
	free(s->name);
	free(s->ep_host);
	memset(s, 0, sizeof(*s));
}

void hubd_states_replace(struct hubd *h, struct hubd_peer_state *st, size_t n)
{
	hubd_states_free(h->peers, h->n_peers);
	h->peers = st;
	h->n_peers = n;
}
