/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "macro.h"
#include "render.h"

#define PREFIX_STR_MAX HUBD_PREFIX_STRLEN

/*
 * A buffer sized once from an upper bound: growing it would leave copies of
 * the private key in freed heap memory.
 */
struct textbuf {
	char *p;
	size_t len, cap;
};

static void tb_printf(struct textbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void tb_printf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
	if (b->len >= b->cap) /* cannot happen with the bound below; keep the string terminated */
		b->len = b->cap - 1;
}

static void tb_prefixes(struct textbuf *b, const char *key, const struct hubd_prefix *p, size_t n)
{
	char s[PREFIX_STR_MAX];

	tb_printf(b, "%s = ", key);
	for (size_t i = 0; i < n; i++) {
		hubd_prefix_format(&p[i], s, sizeof(s));
		tb_printf(b, "%s%s", i ? ", " : "", s);
	}
	tb_printf(b, "\n");
}

/* The hub's peer section, as wg-quick and hubd both read it. */
static void tb_hub_peer(struct textbuf *b, const struct hubctl_client_conf *c)
{
	tb_printf(b, "[Peer]\nPublicKey = %s\nEndpoint = %s\n", c->hub_public_key, c->endpoint);
	tb_prefixes(b, "AllowedIPs", c->allowed_ips, c->n_allowed_ips);
	if (c->keepalive)
		tb_printf(b, "PersistentKeepalive = %u\n", c->keepalive);
}

/* The hooks a site's wg-quick config runs: per family, /proc's forwarding switch and nft. */
static const struct site_family {
	int family;
	const char *tag, *sysctl, *nft;
} site_families[] = {
    {AF_INET, "ip_forward", "/proc/sys/net/ipv4/ip_forward", "ip"},
    {AF_INET6, "forwarding6", "/proc/sys/net/ipv6/conf/all/forwarding", "ip6"},
};

#define SITE_TABLE     "inet hubd-site-%%i"
#define SITE_SAVED     "/run/hubd-site-%%i"
#define SITE_HOOKS_MAX 1200		      /* the fixed lines below */
#define SITE_RULE_MAX  (120 + PREFIX_STR_MAX) /* one masquerade rule */

static bool lans_have(const struct hubd_prefix *lans, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (lans[i].family == family)
			return true;
	return false;
}

/*
 * PostUp/PostDown for a stock Debian gateway: /proc rather than sysctl(8)
 * (procps may be missing), nft (Debian's default firewall). Forwarding is
 * put back as it was, from a copy under /run; the table is flushed first so
 * that a second `up` after an unclean stop does not double the rules. No '#'
 * anywhere: wg-quick cuts a line there.
 */
static void tb_site_hooks(struct textbuf *b, const struct hubd_prefix *lans, size_t n)
{
	char s[PREFIX_STR_MAX];

	for (size_t f = 0; f < 2; f++) {
		const struct site_family *sf = &site_families[f];

		if (!lans_have(lans, n, sf->family))
			continue;
		/* The value before the first up: a second up must not save its own 1. */
		tb_printf(b, "PostUp = test -f " SITE_SAVED ".%s || cat %s > " SITE_SAVED ".%s\n",
			  sf->tag, sf->sysctl, sf->tag);
		tb_printf(b, "PostUp = echo 1 > %s\n", sf->sysctl);
	}
	tb_printf(b, "PostUp = nft add table " SITE_TABLE "; nft flush table " SITE_TABLE "\n");
	tb_printf(b,
		  "PostUp = nft add chain " SITE_TABLE
		  " postrouting '{ type nat hook postrouting priority srcnat; policy accept; }'\n");
	for (size_t i = 0; i < n; i++) {
		hubd_prefix_format(&lans[i], s, sizeof(s));
		tb_printf(b,
			  "PostUp = nft add rule " SITE_TABLE
			  " postrouting iifname %%i oifname != %%i %s daddr %s masquerade\n",
			  site_families[lans[i].family == AF_INET ? 0 : 1].nft, s);
	}
	tb_printf(b, "PostDown = nft delete table " SITE_TABLE " || true\n");
	for (size_t f = 0; f < 2; f++) {
		const struct site_family *sf = &site_families[f];

		if (!lans_have(lans, n, sf->family))
			continue;
		tb_printf(b,
			  "PostDown = test ! -f " SITE_SAVED ".%s || cat " SITE_SAVED ".%s > %s\n",
			  sf->tag, sf->tag, sf->sysctl);
		tb_printf(b, "PostDown = rm -f " SITE_SAVED ".%s\n", sf->tag);
	}
}

int hubctl_render_client(const struct hubctl_client_conf *c, char **ret)
{
	struct textbuf b = {0};

	if (!c->n_addresses || !c->n_allowed_ips || !c->private_key || !c->hub_public_key ||
	    !c->endpoint)
		return -EINVAL;
	b.cap = 256 + strlen(c->private_key) + strlen(c->hub_public_key) + strlen(c->endpoint) +
		(c->dns ? strlen(c->dns) : 0) +
		(c->n_addresses + c->n_allowed_ips) * (PREFIX_STR_MAX + 2) +
		(c->n_lans ? SITE_HOOKS_MAX + c->n_lans * SITE_RULE_MAX : 0);
	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	b.p[0] = '\0';
	tb_printf(&b, "[Interface]\nPrivateKey = %s\n", c->private_key);
	/* Host addresses: routing on the client then follows AllowedIPs alone. */
	tb_prefixes(&b, "Address", c->addresses, c->n_addresses);
	if (c->dns)
		tb_printf(&b, "DNS = %s\n", c->dns);
	if (c->n_lans)
		tb_site_hooks(&b, c->lans, c->n_lans);
	tb_printf(&b, "\n");
	tb_hub_peer(&b, c);
	*ret = b.p;
	return 0;
}

int hubctl_render_site_hubd(const struct hubctl_client_conf *c, char **ret_conf,
			    char **ret_hub_peer)
{
	struct textbuf conf = {0}, peer = {0};

	if (!c->n_addresses || !c->n_allowed_ips || !c->n_lans || !c->hub_public_key ||
	    !c->endpoint)
		return -EINVAL;
	conf.cap = 256 + (c->n_addresses + c->n_lans) * (PREFIX_STR_MAX + 16);
	peer.cap = 256 + strlen(c->hub_public_key) + strlen(c->endpoint) +
		   c->n_allowed_ips * (PREFIX_STR_MAX + 2);
	conf.p = malloc(conf.cap);
	peer.p = malloc(peer.cap);
	if (!conf.p || !peer.p) {
		free(conf.p);
		free(peer.p);
		return -ENOMEM;
	}
	conf.p[0] = peer.p[0] = '\0';
	tb_printf(&conf, "# Written by hubctl peer add --lan --format hubd; see hubd.conf(5).\n"
			 "# The private key is private.key in this directory; the hub is "
			 "peers.d/hub.conf.\n[Interface]\n");
	/* The subnet's length: the tunnel subnet is then on the link, as on the hub. */
	tb_prefixes(&conf, "Address", c->addresses, c->n_addresses);
	/* By prefix: hubd on the gateway needs no name for its LAN interface. */
	tb_prefixes(&conf, "Masquerade", c->lans, c->n_lans);
	tb_printf(&peer, "# The hub, written by hubctl peer add --lan --format hubd.\n");
	tb_hub_peer(&peer, c);
	*ret_conf = conf.p;
	*ret_hub_peer = peer.p;
	return 0;
}

void hubctl_secret_free(char *s)
{
	if (!s)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

static bool list_covers(const struct hubd_prefix *list, size_t n, const struct hubd_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (hubd_prefix_contains(&list[i], p))
			return true;
	return false;
}

/* Add p unless the list covers it already; drop entries p covers. */
static void list_merge(struct hubd_prefix *list, size_t *n, const struct hubd_prefix *p)
{
	size_t k = 0;

	if (list_covers(list, *n, p))
		return;
	for (size_t i = 0; i < *n; i++)
		if (!hubd_prefix_contains(p, &list[i]))
			list[k++] = list[i];
	list[k++] = *p;
	*n = k;
}

int hubctl_default_allowed_ips(const struct hubd_prefix *hub, size_t n_hub,
			       const struct hubd_prefix *peer_ips, size_t n_peer_ips,
			       struct hubd_prefix **ret, size_t *ret_n)
{
	struct hubd_prefix *list = calloc(n_hub + n_peer_ips + 1, sizeof(*list));
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n_hub; i++) {
		struct hubd_prefix m = hub[i];

		hubd_prefix_mask(&m);
		list_merge(list, &n, &m);
	}
	for (size_t i = 0; i < n_peer_ips; i++) {
		struct hubd_prefix m = peer_ips[i];

		hubd_prefix_mask(&m);
		if (!list_covers(hub, n_hub, &m))
			list_merge(list, &n, &m);
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

int hubctl_endpoint_valid(const char *e)
{
	const char *colon = strrchr(e, ':');
	size_t host_len = colon ? (size_t)(colon - e) : 0;
	char v6[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;
	unsigned long port;
	char *end;

	if (!colon || host_len == 0)
		return -EINVAL;
	for (const char *p = e; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == ',')
			return -EINVAL;
	if (e[0] == '[') {
		/* An IPv6 literal needs brackets, or its last colon would read as the port. */
		if (host_len < 3 || colon[-1] != ']' || host_len - 2 >= sizeof(v6))
			return -EINVAL;
		memcpy(v6, e + 1, host_len - 2);
		v6[host_len - 2] = '\0';
		if (inet_pton(AF_INET6, v6, &a) != 1)
			return -EINVAL;
	} else if (memchr(e, ':', host_len) || memchr(e, '[', host_len) ||
		   memchr(e, ']', host_len)) {
		return -EINVAL;
	}
	if (!isdigit((unsigned char)colon[1]))
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535)
		return -EINVAL;
	return 0;
}

int hubctl_client_endpoint(const char *option, const char *public_endpoint, const char **ret)
{
	const char *e = option ? option : public_endpoint;

	if (!e)
		return -ENOENT;
	if (hubctl_endpoint_valid(e) < 0)
		return -EINVAL;
	*ret = e;
	return 0;
}

/* Split on commas and white space; calls fn for each token. */
static int for_each_token(const char *list, int (*fn)(const char *tok, void *user), void *user)
{
	char *copy = strdup(list), *save = NULL;
	int r = 0, count = 0;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		r = fn(t, user);
		if (r < 0)
			break;
		count++;
	}
	free(copy);
	if (r >= 0 && count == 0)
		r = -EINVAL;
	return r;
}

struct prefix_list {
	struct hubd_prefix *items;
	size_t n;
	char *bad; /* the token refused */
};

/* The daemon's parser, so that hubctl never writes a prefix hubd would refuse. */
static int add_prefix(const char *tok, void *user)
{
	struct prefix_list *l = user;
	struct hubd_prefix p, *items;

	if (hubd_prefix_parse(tok, &p, NULL) < 0) {
		l->bad = strdup(tok);
		return -EINVAL;
	}
	items = realloc(l->items, (l->n + 1) * sizeof(*items));
	if (!items)
		return -ENOMEM;
	hubd_prefix_mask(&p);
	l->items = items;
	l->items[l->n++] = p;
	return 0;
}

int hubctl_parse_prefix_list(const char *list, struct hubd_prefix **ret, size_t *ret_n,
			     char **ret_bad)
{
	struct prefix_list l = {0};
	int r = for_each_token(list, add_prefix, &l);

	if (r < 0) {
		free(l.items);
		if (ret_bad)
			*ret_bad = TAKE_PTR(l.bad);
		free(l.bad);
		return r;
	}
	*ret = l.items;
	*ret_n = l.n;
	return 0;
}

static bool is_domain(const char *s)
{
	if (!*s || *s == '.' || *s == '-' || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-')
			return false;
	return true;
}

static int add_dns(const char *tok, void *user)
{
	FILE *f = user;
	struct hubd_prefix p;

	bool ip = !strchr(tok, '/') && hubd_prefix_parse(tok, &p, NULL) == 0;

	/* "10.0.0.300" is a mistyped server, not a search domain. */
	if (!ip && (!is_domain(tok) || strspn(tok, "0123456789.") == strlen(tok)))
		return -EINVAL;
	fprintf(f, "%s%s", ftell(f) ? ", " : "", tok);
	return 0;
}

int hubctl_normalize_dns(const char *list, char **ret)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	int r;

	if (!f)
		return -ENOMEM;
	r = for_each_token(list, add_dns, f);
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	return 0;
}
