/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* WireGuard set requests, addresses, routes, forwarding and the nftables table (net-sync.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "log.h"
#include "net-sync.h"
#include "nft.h"
#include "policy.h"
#include "report.h"
#include "rtnl.h"

int hubd_send_set(struct hubd *h, struct wgnl_device *set)
{
	struct wgnl_set_stats stats = {0};
	uint64_t t = hubd_now_us();
	int r = wgnl_set_device(h->wg, set, &stats);

	h->timing.set += hubd_now_us() - t;
	h->counters.netlink_messages += stats.messages;
	return r;
}

void hubd_device_as_configured(struct wgnl_device *k, const struct hubd_iface_conf *c)
{
	k->flags |= WGNL_DEV_HAS_PRIVATE_KEY;
	memcpy(k->private_key, c->private_key, WGNL_KEY_LEN);
	if (c->listen_port)
		k->listen_port = c->listen_port;
	k->fwmark = c->fwmark;
}

static bool has_ipv6(const struct hubd_iface_conf *c)
{
	for (size_t i = 0; i < c->n_addresses; i++)
		if (c->addresses[i].family == AF_INET6)
			return true;
	return false;
}

/* The table for cfg and lans, replaced if it differs. nft.c logs libnftables' own words for a
 * failure. */
static int nft_sync(struct hubd *h, const struct hubd_config *cfg, const struct hubd_prefix *lans,
		    size_t n_lans, bool dry, struct hubd_changes *ch)
{
	uint64_t t = hubd_now_us();
	bool policy = hubd_policy_wanted(cfg);
	struct hubd_elems elems = {0};
	char *table = hubd_nft_render(&cfg->iface, lans, n_lans, policy);
	int r = table ? 0 : -ENOMEM;

	for (size_t i = 0; policy && r == 0 && i < cfg->n_peers; i++) {
		r = hubd_policy_elements(&cfg->peers[i], cfg->iface.name, &elems);
		/* A policy too big to send keeps the part made so far: that peer reaches less
		 * than its file says, never more. */
		if (r == -E2BIG) {
			log_err("peer %s: Access needs over %d nftables elements; only part of it "
				"is allowed",
				cfg->peers[i].name, HUBD_POLICY_MAX_ELEMENTS);
			r = 0;
		}
	}
	hubd_elems_sort(&elems);
	if (r == 0)
		r = hubd_nft_sync(h->nft, table, policy ? &elems : NULL, dry, ch);
	h->timing.nft += hubd_now_us() - t;
	hubd_elems_free(&elems);
	free(table);
	return r;
}

int hubd_net_sync_parts(struct hubd *h, const struct hubd_config *cfg, int ifindex, unsigned parts,
			bool dry, struct hubd_changes *ch)
{
	const struct hubd_iface_conf *c = &cfg->iface;
	struct hubd_prefix *lans = NULL;
	size_t n_lans = 0;
	uint64_t t = hubd_now_us();
	int r, first = 0, nft = 0;

	if (parts & HUBD_NET_ADDRESSES) {
		r = hubd_addr_sync(h->rtnl, ifindex, c->addresses, c->n_addresses, dry, ch);
		if (r < 0)
			first = log_err_errno(r, "addresses on %s", c->name);
		h->timing.addr += hubd_now_us() - t;
	}
	/* Only the routes and the table depend on the peers: a cold start sets the addresses
	 * while the peers are still being read. */
	r = parts & (HUBD_NET_ROUTES | HUBD_NET_NFT)
		? hubd_routed_prefixes(c, cfg->peers, cfg->n_peers, &lans, &n_lans)
		: 0;
	if (r < 0)
		return r;
	r = parts & HUBD_NET_ROUTES ? hubd_route_sync(h->rtnl, ifindex, lans, n_lans, dry, ch) : 0;
	if (r < 0)
		first = first ?: log_err_errno(r, "routes via %s", c->name);
	/* The table before forwarding: its rules (Forward = isolate among them) must be in
	 * place before anything is forwarded, and if they cannot be, forwarding is not turned
	 * on: hubd fails closed. */
	nft = parts & HUBD_NET_NFT ? nft_sync(h, cfg, lans, n_lans, dry, ch) : 0;
	first = first ?: (nft < 0 ? nft : 0);
	if ((parts & HUBD_NET_FORWARDING) && nft < 0)
		log_err("forwarding left as it was: the nftables table that filters it is not in "
			"place");
	r = (parts & HUBD_NET_FORWARDING) && nft >= 0 ? hubd_forwarding_sync(has_ipv6(c), dry, ch)
						      : 0;
	if (r < 0)
		first = first ?: log_err_errno(r, "forwarding sysctls");
	free(lans);
	return first;
}
