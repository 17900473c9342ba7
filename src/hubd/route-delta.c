/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The routes a change of a few peers needs (route-delta.h). */
#include "route-delta.h"

#include <errno.h>
#include <stdlib.h>

#include "daemon.h"
#include "diff.h"
#include "log.h"
#include "net-sync.h"
#include "rtnl.h"

/* The routed prefixes of the changed peers' one side (old or fresh), sorted and unique. */
static int side(const struct hubd_iface_conf *ic, size_t n, const struct hubd_peer_conf *const *v,
		const bool *changed, struct hubd_prefix **ret, size_t *ret_n)
{
	size_t total = 0, k = 0, u = 0;
	struct hubd_prefix *out;

	for (size_t i = 0; i < n; i++)
		total += changed[i] && v[i] ? v[i]->n_allowed_ips : 0;
	out = calloc(total + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; changed[i] && v[i] && j < v[i]->n_allowed_ips; j++)
			if (!hubd_iface_covers(ic, &v[i]->allowed_ips[j]))
				out[k++] = v[i]->allowed_ips[j];
	qsort(out, k, sizeof(*out), hubd_prefix_cmp);
	for (size_t i = 0; i < k; i++)
		if (!u || hubd_prefix_cmp(&out[u - 1], &out[i]))
			out[u++] = out[i];
	*ret = out;
	*ret_n = u;
	return 0;
}

/* Drop from both (sorted) what both hold: a prefix routed before and after stays as it is. */
static void drop_common(struct hubd_route_delta *d)
{
	size_t i = 0, j = 0, kd = 0, ka = 0;

	while (i < d->n_del || j < d->n_add) {
		int c = i == d->n_del	? 1
			: j == d->n_add ? -1
					: hubd_prefix_cmp(&d->del[i], &d->add[j]);

		if (c < 0)
			d->del[kd++] = d->del[i++];
		else if (c > 0)
			d->add[ka++] = d->add[j++];
		else
			i++, j++;
	}
	d->n_del = kd;
	d->n_add = ka;
}

int hubd_route_delta_make(const struct hubd_iface_conf *ic, size_t n,
			  const struct hubd_peer_conf *const *old,
			  const struct hubd_peer_conf *fresh, const bool *changed,
			  struct hubd_route_delta *ret)
{
	const struct hubd_peer_conf **now = calloc(n + 1, sizeof(*now));
	struct hubd_route_delta d = {0};
	int r = now ? 0 : -ENOMEM;

	for (size_t i = 0; now && i < n; i++)
		now[i] = fresh[i].name ? &fresh[i] : NULL;
	if (r == 0)
		r = side(ic, n, old, changed, &d.del, &d.n_del);
	if (r == 0)
		r = side(ic, n, now, changed, &d.add, &d.n_add);
	free(now);
	if (r < 0) {
		hubd_route_delta_free(&d);
		return r;
	}
	drop_common(&d);
	*ret = d;
	return 0;
}

void hubd_route_delta_free(struct hubd_route_delta *d)
{
	free(d->del);
	free(d->add);
	d->del = d->add = NULL;
	d->n_del = d->n_add = 0;
}

int hubd_route_delta_apply(struct hubd *h, const struct hubd_route_delta *d,
			   struct hubd_changes *ch)
{
	int r = hubd_route_change(h->rtnl, h->ifindex, d->del, d->n_del, d->add, d->n_add, ch);
	int e;

	if (r < 0)
		log_err_errno(r, "routes via %s", h->cfg->iface.name);
	/* The addresses do not follow the peers, and the kernel tells of any drift in them. The
	 * table names routed prefixes only for Forward = isolate (its lan sets): otherwise it
	 * stays as it is, and rendering it means a pass over every peer. */
	e = hubd_net_sync_parts(h, h->cfg, h->ifindex,
				(h->cfg->iface.forward == HUBD_FORWARD_ISOLATE ? HUBD_NET_NFT : 0) |
				    HUBD_NET_FORWARDING,
				false, ch);
	return r < 0 ? r : e;
}
