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
#include "access.h"

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
	free(p->access);
	free(p->access_lines);
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
	for (size_t i = 0; i < cfg->n_expired; i++)
		hubd_peer_conf_clear(&cfg->expired[i]);
	free(cfg->expired);
	free(cfg);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

/* *dst: a copy of n elements of size at src (NULL src: zeroes); one more is allocated so that
 * n == 0 is not a NULL that means out of memory. */
static int dup_array(void *dst, const void *src, size_t n, size_t size)
{
	void *v = calloc(n + 1, size);

	*(void **)dst = v;
	if (!v)
		return -ENOMEM;
	if (src)
		memcpy(v, src, n * size);
	return 0;
}

int hubd_peer_conf_dup(struct hubd_peer_conf *dst, const struct hubd_peer_conf *src)
{
	size_t n = src->n_allowed_ips, na = src->n_access;

	*dst = *src;
	dst->name = dst->path = dst->psk_file = dst->endpoint_host = NULL;
	dst->allowed_ips = NULL;
	dst->allowed_ips_lines = NULL;
	dst->access = NULL;
	dst->access_lines = NULL;
	if (dup_str(&dst->name, src->name) < 0 || dup_str(&dst->path, src->path) < 0 ||
	    dup_str(&dst->psk_file, src->psk_file) < 0 ||
	    dup_str(&dst->endpoint_host, src->endpoint_host) < 0)
		goto fail;
	if (dup_array(&dst->allowed_ips, src->allowed_ips, n, sizeof(*src->allowed_ips)) < 0 ||
	    dup_array(&dst->allowed_ips_lines, src->allowed_ips_lines, n,
		      sizeof(*src->allowed_ips_lines)) < 0 ||
	    dup_array(&dst->access, src->access, na, sizeof(*src->access)) < 0 ||
	    dup_array(&dst->access_lines, src->access_lines, na, sizeof(*src->access_lines)) < 0)
		goto fail;
	return 0;
fail:
	hubd_peer_conf_clear(dst);
	return -ENOMEM;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool access_same(const struct hubd_peer_conf *p, const struct hubd_peer_conf *q)
{
	if (p->has_access != q->has_access || p->n_access != q->n_access)
		return false;
	for (size_t i = 0; i < p->n_access; i++) {
		const struct hubd_access *a = &p->access[i], *b = &q->access[i];

		if (hubd_prefix_cmp(&a->dst, &b->dst) || a->proto != b->proto ||
		    a->port_lo != b->port_lo || a->port_hi != b->port_hi)
			return false;
	}
	return true;
}

bool hubd_peer_conf_same(const struct hubd_peer_conf *p, const struct hubd_peer_conf *q)
{
	return p->expires_at == q->expires_at && access_same(p, q) &&
	       !memcmp(p->public_key, q->public_key, WGNL_KEY_LEN) && p->has_psk == q->has_psk &&
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

int hubd_config_split_expired(struct hubd_config *cfg, int64_t now)
{
	struct hubd_peer_conf *v;
	size_t n = 0, k = 0, e;

	for (size_t i = 0; i < cfg->n_peers; i++)
		n += hubd_peer_expired(&cfg->peers[i], now);
	if (!n)
		return 0;
	v = realloc(cfg->expired, (cfg->n_expired + n) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	cfg->expired = v;
	e = cfg->n_expired;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		if (hubd_peer_expired(&cfg->peers[i], now))
			cfg->expired[e++] = cfg->peers[i];
		else
			cfg->peers[k++] = cfg->peers[i];
	}
	cfg->n_peers = k;
	cfg->n_expired = e;
	qsort(cfg->expired, e, sizeof(*cfg->expired), hubd_peer_conf_name_cmp);
	return (int)n;
}

int64_t hubd_config_next_expiry(const struct hubd_config *cfg, int64_t now)
{
	int64_t next = 0;

	for (size_t i = 0; cfg && i < cfg->n_peers; i++) {
		int64_t t = cfg->peers[i].expires_at;

		if (t > now && (!next || t < next))
			next = t;
	}
	return next;
}

int hubd_config_put_expired(struct hubd_config *cfg, struct hubd_peer_conf *p)
{
	struct hubd_peer_conf *v;
	size_t at = 0;

	for (size_t i = 0; i < cfg->n_expired; i++) {
		int c = strcmp(cfg->expired[i].name, p->name);

		if (c == 0) { /* a newer version of the same file */
			hubd_peer_conf_clear(&cfg->expired[i]);
			cfg->expired[i] = *p;
			memset(p, 0, sizeof(*p));
			return 0;
		}
		at += c < 0;
	}
	v = realloc(cfg->expired, (cfg->n_expired + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	cfg->expired = v;
	memmove(v + at + 1, v + at, (cfg->n_expired - at) * sizeof(*v));
	v[at] = *p;
	cfg->n_expired++;
	memset(p, 0, sizeof(*p));
	return 0;
}

void hubd_config_drop_expired(struct hubd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_expired; i++) {
		if (strcmp(cfg->expired[i].name, name))
			continue;
		hubd_peer_conf_clear(&cfg->expired[i]);
		memmove(cfg->expired + i, cfg->expired + i + 1,
			(cfg->n_expired - i - 1) * sizeof(*cfg->expired));
		cfg->n_expired--;
		return;
	}
}

#if __SIZEOF_POINTER__ == 8
/* A field added in the wrong place costs every peer of a big hub its padding. */
_Static_assert(sizeof(struct hubd_peer_conf) == 176, "struct hubd_peer_conf has padding");
#endif
