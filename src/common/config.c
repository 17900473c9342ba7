/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configuration objects' lifecycle: clearing, freeing, copying and
 * comparing them. The parser, the verifier and the loader all use these, so
 * they live apart from all three.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void hubd_iface_conf_clear(struct hubd_iface_conf *c)
{
	if (!c)
		return;
	free(c->private_key_file);
	free(c->addresses);
	free(c->address_lines);
	for (size_t i = 0; i < c->n_masquerade; i++)
		free(c->masquerade[i]);
	free(c->masquerade);
	free(c->masquerade_prefixes);
	free(c->masquerade_prefix_lines);
	free(c->public_endpoint);
	free(c->peer_routes);
	free(c->peer_route_lines);
	wgnl_key_wipe(c->private_key);
	memset(c, 0, sizeof(*c));
}

void hubd_peer_conf_clear(struct hubd_peer_conf *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->path);
	free(p->psk_file);
	free(p->allowed_ips);
	free(p->allowed_ips_lines);
	free(p->endpoint_host);
	wgnl_key_wipe(p->psk);
	memset(p, 0, sizeof(*p));
}

void hubd_config_free(struct hubd_config *cfg)
{
	if (!cfg)
		return;
	hubd_iface_conf_clear(&cfg->iface);
	for (size_t i = 0; i < cfg->n_peers; i++)
		hubd_peer_conf_clear(&cfg->peers[i]);
	free(cfg->peers);
	for (size_t i = 0; i < cfg->n_rejected; i++)
		free(cfg->rejected[i]);
	free(cfg->rejected);
	free(cfg);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

int hubd_peer_conf_dup(struct hubd_peer_conf *dst, const struct hubd_peer_conf *src)
{
	size_t n = src->n_allowed_ips;

	*dst = *src;
	dst->name = dst->path = dst->psk_file = dst->endpoint_host = NULL;
	dst->allowed_ips = NULL;
	dst->allowed_ips_lines = NULL;
	if (dup_str(&dst->name, src->name) < 0 || dup_str(&dst->path, src->path) < 0 ||
	    dup_str(&dst->psk_file, src->psk_file) < 0 ||
	    dup_str(&dst->endpoint_host, src->endpoint_host) < 0)
		goto fail;
	dst->allowed_ips = calloc(n + 1, sizeof(*dst->allowed_ips));
	dst->allowed_ips_lines = calloc(n + 1, sizeof(*dst->allowed_ips_lines));
	if (!dst->allowed_ips || !dst->allowed_ips_lines)
		goto fail;
	memcpy(dst->allowed_ips, src->allowed_ips, n * sizeof(*dst->allowed_ips));
	if (src->allowed_ips_lines)
		memcpy(dst->allowed_ips_lines, src->allowed_ips_lines,
		       n * sizeof(*dst->allowed_ips_lines));
	return 0;
fail:
	hubd_peer_conf_clear(dst);
	return -ENOMEM;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool hubd_peer_conf_same(const struct hubd_peer_conf *p, const struct hubd_peer_conf *q)
{
	return !memcmp(p->public_key, q->public_key, WGNL_KEY_LEN) && p->has_psk == q->has_psk &&
	       (!p->has_psk || !memcmp(p->psk, q->psk, WGNL_KEY_LEN)) &&
	       str_eq(p->endpoint_host, q->endpoint_host) && p->endpoint_port == q->endpoint_port &&
	       p->keepalive == q->keepalive && p->n_allowed_ips == q->n_allowed_ips &&
	       !memcmp(p->allowed_ips, q->allowed_ips, p->n_allowed_ips * sizeof(*p->allowed_ips));
}

int hubd_peer_conf_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hubd_peer_conf *)a)->name,
		      ((const struct hubd_peer_conf *)b)->name);
}

static int name_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct hubd_peer_conf *)elem)->name);
}

const struct hubd_peer_conf *hubd_config_peer_by_name(const struct hubd_config *cfg,
						      const char *name)
{
	return cfg && cfg->n_peers
		   ? bsearch(name, cfg->peers, cfg->n_peers, sizeof(*cfg->peers), name_key_cmp)
		   : NULL;
}

size_t hubd_default_peer_routes(struct hubd_prefix ret[HUBD_DEFAULT_PEER_ROUTES])
{
	static const char *const routes[HUBD_DEFAULT_PEER_ROUTES] = {
	    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7",
	};
	size_t n = 0;

	for (size_t i = 0; i < HUBD_DEFAULT_PEER_ROUTES; i++)
		if (hubd_prefix_parse(routes[i], &ret[n], NULL) == 0)
			n++;
	return n;
}

bool strv_contains(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}
