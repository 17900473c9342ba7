/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "diff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool hubd_endpoint_equal(const union wgnl_endpoint *a, const union wgnl_endpoint *b)
{
	if (a->addr.sa_family != b->addr.sa_family)
		return false;
	switch (a->addr.sa_family) {
	case AF_INET:
		return a->addr4.sin_port == b->addr4.sin_port &&
		       a->addr4.sin_addr.s_addr == b->addr4.sin_addr.s_addr;
	case AF_INET6:
		return a->addr6.sin6_port == b->addr6.sin6_port &&
		       !memcmp(&a->addr6.sin6_addr, &b->addr6.sin6_addr, sizeof(struct in6_addr)) &&
		       a->addr6.sin6_scope_id == b->addr6.sin6_scope_id;
	default:
		return true;
	}
}

void hubd_prefix_to_aip(const struct hubd_prefix *p, struct wgnl_allowedip *a)
{
	*a = (struct wgnl_allowedip){.family = p->family, .cidr = p->cidr};
	memcpy(&a->ip6, &p->addr, p->family == AF_INET ? 4 : 16);
}

static void aip_to_prefix(const struct wgnl_allowedip *a, struct hubd_prefix *p)
{
	*p = (struct hubd_prefix){.family = a->family, .cidr = a->cidr};
	memcpy(&p->addr, &a->ip6, a->family == AF_INET ? 4 : 16);
}

/* Compare as sets: the kernel returns allowed IPs in trie order, not ours. */
static bool allowedips_equal(const struct hubd_peer_conf *c, const struct wgnl_peer *k)
{
	struct hubd_prefix *want, *have;
	bool eq;

	if (c->n_allowed_ips != k->n_allowedips)
		return false;
	if (!c->n_allowed_ips)
		return true;
	want = malloc(c->n_allowed_ips * sizeof(*want));
	have = calloc(k->n_allowedips, sizeof(*have));
	if (!want || !have) {
		free(want);
		free(have);
		return false; /* resending is always safe */
	}
	memcpy(want, c->allowed_ips, c->n_allowed_ips * sizeof(*want));
	for (size_t i = 0; i < k->n_allowedips; i++)
		aip_to_prefix(&k->allowedips[i], &have[i]);
	qsort(want, c->n_allowed_ips, sizeof(*want), hubd_prefix_cmp);
	qsort(have, k->n_allowedips, sizeof(*have), hubd_prefix_cmp);
	eq = true;
	for (size_t i = 0; i < c->n_allowed_ips && eq; i++)
		eq = hubd_prefix_cmp(&want[i], &have[i]) == 0;
	free(want);
	free(have);
	return eq;
}

int hubd_peer_add_allowedips(struct wgnl_peer *p, const struct hubd_peer_conf *c)
{
	for (size_t i = 0; i < c->n_allowed_ips; i++) {
		struct wgnl_allowedip a;
		int r;

		hubd_prefix_to_aip(&c->allowed_ips[i], &a);
		r = wgnl_peer_add_allowedip(p, &a);
		if (r < 0)
			return r;
	}
	return 0;
}

static int peer_set_allowedips(struct wgnl_peer *p, const struct hubd_peer_conf *c)
{
	p->flags |= WGNL_PEER_REPLACE_ALLOWEDIPS;
	return hubd_peer_add_allowedips(p, c);
}

static int peer_new(struct wgnl_device *set, const struct hubd_peer_want *w,
		    struct hubd_changes *ch)
{
	const struct hubd_peer_conf *c = w->conf;
	struct wgnl_peer *p = wgnl_device_add_peer(set);

	if (!p)
		return -ENOMEM;
	memcpy(p->public_key, c->public_key, WGNL_KEY_LEN);
	if (c->has_psk) {
		p->flags |= WGNL_PEER_HAS_PSK;
		memcpy(p->preshared_key, c->psk, WGNL_KEY_LEN);
	}
	if (c->keepalive) {
		p->flags |= WGNL_PEER_HAS_KEEPALIVE;
		p->persistent_keepalive = c->keepalive;
	}
	if (w->endpoint.addr.sa_family || w->restore.addr.sa_family) {
		p->flags |= WGNL_PEER_HAS_ENDPOINT;
		p->endpoint = w->endpoint.addr.sa_family ? w->endpoint : w->restore;
	}
	changes_add_event(ch, "peer-added", c->name, "peer %s: add%s", c->name,
			  !w->endpoint.addr.sa_family && w->restore.addr.sa_family
			      ? " (learned endpoint restored)"
			      : "");
	return peer_set_allowedips(p, c);
}

static bool psk_differs(const struct hubd_peer_conf *c, const struct wgnl_peer *k)
{
	static const wgnl_key zero;

	return memcmp(c->has_psk ? c->psk : zero, k->preshared_key, WGNL_KEY_LEN) != 0;
}

/* Only what differs goes out, so the peer keeps its session. Returns 1 when anything does. */
static int peer_update(struct wgnl_device *set, const struct hubd_peer_want *w,
		       const struct wgnl_peer *k, struct hubd_changes *ch)
{
	const struct hubd_peer_conf *c = w->conf;
	bool psk = psk_differs(c, k);
	bool ka = c->keepalive != k->persistent_keepalive;
	bool ep = w->endpoint.addr.sa_family && !hubd_endpoint_equal(&w->endpoint, &k->endpoint);
	bool aips = !allowedips_equal(c, k);
	struct wgnl_peer *p;

	if (!psk && !ka && !ep && !aips)
		return 0;
	p = wgnl_device_add_peer(set);
	if (!p)
		return -ENOMEM;
	memcpy(p->public_key, c->public_key, WGNL_KEY_LEN);
	p->flags = WGNL_PEER_UPDATE_ONLY;
	if (psk) {
		p->flags |= WGNL_PEER_HAS_PSK;
		if (c->has_psk)
			memcpy(p->preshared_key, c->psk, WGNL_KEY_LEN);
	}
	if (ka) {
		p->flags |= WGNL_PEER_HAS_KEEPALIVE;
		p->persistent_keepalive = c->keepalive;
	}
	if (ep) {
		p->flags |= WGNL_PEER_HAS_ENDPOINT;
		p->endpoint = w->endpoint;
	}
	changes_add_event(ch, "peer-changed", c->name, "peer %s: update%s%s%s%s", c->name,
			  aips ? " allowed-ips" : "", ep ? " endpoint" : "", ka ? " keepalive" : "",
			  psk ? " preshared-key" : "");
	if (aips) {
		int r = peer_set_allowedips(p, c);

		if (r < 0)
			return r;
	}
	return 1;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp((*(const struct wgnl_peer *const *)a)->public_key,
		      (*(const struct wgnl_peer *const *)b)->public_key, WGNL_KEY_LEN);
}

static int key_find(const void *key, const void *elem)
{
	return memcmp(key, (*(const struct wgnl_peer *const *)elem)->public_key, WGNL_KEY_LEN);
}

static int device_fields(const struct hubd_iface_conf *iface, const struct wgnl_device *k,
			 struct wgnl_device *set, struct hubd_changes *ch)
{
	int n = 0;

	if (!k || !(k->flags & WGNL_DEV_HAS_PRIVATE_KEY) ||
	    memcmp(k->private_key, iface->private_key, WGNL_KEY_LEN)) {
		set->flags |= WGNL_DEV_HAS_PRIVATE_KEY;
		memcpy(set->private_key, iface->private_key, WGNL_KEY_LEN);
		changes_add(ch, "interface %s: private key", iface->name);
		n++;
	}
	if (iface->listen_port && (!k || k->listen_port != iface->listen_port)) {
		set->flags |= WGNL_DEV_HAS_LISTEN_PORT;
		set->listen_port = iface->listen_port;
		changes_add(ch, "interface %s: listen port %u", iface->name, iface->listen_port);
		n++;
	}
	if (k ? k->fwmark != iface->fwmark : iface->fwmark != 0) {
		set->flags |= WGNL_DEV_HAS_FWMARK;
		set->fwmark = iface->fwmark;
		changes_add(ch, "interface %s: fwmark 0x%x", iface->name, iface->fwmark);
		n++;
	}
	return n;
}

/* A peer the kernel has and the config does not. Returns 1 (one operation) or -errno. */
static int remove_peer(const struct wgnl_peer *k, hubd_peer_namer namer, void *user,
		       struct wgnl_device *set, struct hubd_changes *ch)
{
	struct wgnl_peer *p = wgnl_device_add_peer(set);
	char b64[WGNL_KEY_B64_LEN + 1];
	const char *name;

	if (!p)
		return -ENOMEM;
	memcpy(p->public_key, k->public_key, WGNL_KEY_LEN);
	p->flags = WGNL_PEER_REMOVE;
	name = namer ? namer(k->public_key, user) : NULL;
	wgnl_key_to_base64(b64, k->public_key);
	changes_add_event(ch, "peer-removed", name, "peer %s: remove", name ? name : b64);
	return 1;
}

static int remove_unwanted(const struct wgnl_device *k, const bool *kept, hubd_peer_namer namer,
			   void *user, struct wgnl_device *set, struct hubd_changes *ch)
{
	int n = 0;

	for (size_t i = 0; k && i < k->n_peers; i++) {
		int r = kept[i] ? 0 : remove_peer(&k->peers[i], namer, user, set, ch);

		if (r < 0)
			return r;
		n += r;
	}
	return n;
}

static int diff_peers(const struct hubd_peer_want *want, size_t n, const struct wgnl_device *k,
		      struct wgnl_peer **index, bool *kept, struct wgnl_device *set,
		      struct hubd_changes *ch)
{
	int ops = 0;

	for (size_t i = 0; i < n; i++) {
		struct wgnl_peer **found = NULL;
		int r;

		if (k && k->n_peers)
			found = bsearch(want[i].conf->public_key, index, k->n_peers, sizeof(*index),
					key_find);
		if (found) {
			kept[*found - k->peers] = true;
			r = peer_update(set, &want[i], *found, ch);
		} else {
			r = peer_new(set, &want[i], ch);
			r = r < 0 ? r : 1;
		}
		if (r < 0)
			return r;
		ops += r;
	}
	return ops;
}

int hubd_diff_device(const struct hubd_iface_conf *iface, const struct hubd_peer_want *want,
		     size_t n, const struct wgnl_device *k, hubd_peer_namer namer, void *user,
		     struct wgnl_device **ret_set, struct hubd_changes *ch)
{
	size_t nk = k ? k->n_peers : 0;
	struct wgnl_peer **index = calloc(nk + 1, sizeof(*index));
	bool *kept = calloc(nk + 1, sizeof(*kept));
	struct wgnl_device *set = wgnl_device_new(iface->name);
	int r, ops = 0;

	if (!index || !kept || !set) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nk; i++)
		index[i] = &k->peers[i];
	qsort(index, nk, sizeof(*index), key_cmp);
	ops = device_fields(iface, k, set, ch);
	r = diff_peers(want, n, k, index, kept, set, ch);
	if (r < 0)
		goto out;
	ops += r;
	r = remove_unwanted(k, kept, namer, user, set, ch);
	if (r < 0)
		goto out;
	ops += r;
	if (ops) {
		*ret_set = set;
		set = NULL;
	} else {
		*ret_set = NULL;
	}
	r = ops;
out:
	wgnl_device_free(set);
	free(index);
	free(kept);
	return r;
}

static int want_key_cmp(const void *a, const void *b)
{
	return memcmp((*(const struct hubd_peer_want *const *)a)->conf->public_key,
		      (*(const struct hubd_peer_want *const *)b)->conf->public_key, WGNL_KEY_LEN);
}

static int want_key_find(const void *key, const void *elem)
{
	return memcmp(key, (*(const struct hubd_peer_want *const *)elem)->conf->public_key,
		      WGNL_KEY_LEN);
}

int hubd_diff_walk_init(struct hubd_diff_walk *w, const struct hubd_iface_conf *iface,
			const struct hubd_peer_want *want, size_t n, hubd_peer_namer namer,
			void *user, struct hubd_changes *ch)
{
	*w = (struct hubd_diff_walk){.iface = iface,
				     .want = want,
				     .n = n,
				     .namer = namer,
				     .user = user,
				     .ch = ch,
				     .ch_before = changes_count(ch)};
	w->by_key = calloc(n + 1, sizeof(*w->by_key));
	w->found = calloc(n + 1, sizeof(*w->found));
	w->set = wgnl_device_new(iface->name);
	if (!w->by_key || !w->found || !w->set) {
		hubd_diff_walk_free(w);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		w->by_key[i] = &want[i];
	qsort(w->by_key, n, sizeof(*w->by_key), want_key_cmp);
	return 0;
}

/* The dump (re)starts: forget what an interrupted one found. */
static int walk_restart(struct hubd_diff_walk *w, const struct wgnl_device *dev)
{
	wgnl_device_free(w->set);
	w->set = wgnl_device_new(w->iface->name);
	if (!w->set)
		return -ENOMEM;
	memset(w->found, 0, w->n * sizeof(*w->found));
	changes_truncate(w->ch, w->ch_before);
	w->walked = true;
	w->ops = device_fields(w->iface, dev, w->set, w->ch);
	return 0;
}

int hubd_diff_walk_step(const struct wgnl_device *dev, const struct wgnl_peer *peer, void *user)
{
	struct hubd_diff_walk *w = user;
	const struct hubd_peer_want **found;
	int r;

	if (!peer)
		return walk_restart(w, dev);
	found = bsearch(peer->public_key, w->by_key, w->n, sizeof(*w->by_key), want_key_find);
	if (found) {
		w->found[*found - w->want] = true;
		r = peer_update(w->set, *found, peer, w->ch);
	} else {
		r = remove_peer(peer, w->namer, w->user, w->set, w->ch);
	}
	if (r > 0)
		w->ops += r;
	return r < 0 ? r : 0;
}

int hubd_diff_walk_next(struct hubd_diff_walk *w, size_t max, struct wgnl_device **ret_set)
{
	struct wgnl_device *set = w->set;
	int ops = w->ops, r = 0;

	*ret_set = NULL;
	if (!set) {
		set = wgnl_device_new(w->iface->name);
		if (!set)
			return -ENOMEM;
	} else if (!w->walked) { /* no device was dumped: it has nothing set */
		ops = device_fields(w->iface, NULL, set, w->ch);
	}
	w->set = NULL;
	w->ops = 0;
	for (size_t k = 0; w->next_new < w->n && k < max && r >= 0; w->next_new++) {
		if (w->found[w->next_new])
			continue;
		r = peer_new(set, &w->want[w->next_new], w->ch);
		ops += r >= 0;
		k++;
	}
	if (r < 0 || !ops) {
		wgnl_device_free(set);
		return r < 0 ? r : 0;
	}
	*ret_set = set;
	return ops;
}

void hubd_diff_walk_free(struct hubd_diff_walk *w)
{
	free(w->by_key);
	free(w->found);
	wgnl_device_free(w->set);
	*w = (struct hubd_diff_walk){0};
}

bool hubd_iface_covers(const struct hubd_iface_conf *iface, const struct hubd_prefix *p)
{
	for (size_t i = 0; i < iface->n_addresses; i++)
		if (hubd_prefix_contains(&iface->addresses[i], p))
			return true;
	return false;
}

int hubd_routed_prefixes(const struct hubd_iface_conf *iface, const struct hubd_peer_conf *peers,
			 size_t n, struct hubd_prefix **ret, size_t *ret_n)
{
	size_t total = 0, k = 0;
	struct hubd_prefix *out;

	for (size_t i = 0; i < n; i++)
		total += peers[i].n_allowed_ips;
	out = calloc(total + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < peers[i].n_allowed_ips; j++)
			if (!hubd_iface_covers(iface, &peers[i].allowed_ips[j]))
				out[k++] = peers[i].allowed_ips[j];
	qsort(out, k, sizeof(*out), hubd_prefix_cmp);
	/* Drop duplicates in place. */
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (!u || hubd_prefix_cmp(&out[u - 1], &out[i]))
			out[u++] = out[i];
	*ret = out;
	*ret_n = u;
	return 0;
}
