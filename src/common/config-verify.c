/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rules that span files: duplicate public keys, a peer with the interface's
 * own key, an AllowedIPs prefix over the hub's own address, and AllowedIPs
 * overlapping between peers. The kernel silently moves an identical prefix
 * to whichever peer was set last, so an overlap would let one peer file take
 * another's traffic.
 *
 * Peers are taken in name order and a peer is accepted only when it clashes
 * with no peer accepted before it, so the earlier file wins and the later one
 * is named. Prefixes are nested or disjoint; sorted by start address, then by
 * length, every prefix is followed by those it contains, so "contained in an
 * accepted prefix" and "contains an accepted prefix" are a point and a range
 * query over that order, kept in Fenwick trees: O(n log n) over all prefixes.
 *
 * Bounds come first: a peer with more than MaxPeerPrefixes prefixes, or whose
 * prefixes would take the accepted peers' total past MaxPrefixes, is rejected
 * whole, so a later file cannot crowd out an earlier one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config-internal.h"
#include "host.h"
#include "macro.h"

#define NONE ((size_t)-1)

struct entry {
	uint64_t start[2]; /* the masked address as a 128-bit number (IPv4 in the top bits) */
	uint32_t flat;	   /* which prefix: pos[peer] + its index in the peer's AllowedIPs */
	uint8_t family, cidr;
}; /* 24 bytes: small enough for qsort to move entries rather than pointers */

struct fenwick {
	uint64_t *t;
	size_t n;
};

static void fw_add(struct fenwick *f, size_t i, uint64_t v)
{
	for (i++; i <= f->n; i += i & -i)
		f->t[i] += v;
}

static uint64_t fw_sum(const struct fenwick *f, size_t i) /* sum of [0, i] */
{
	uint64_t s = 0;

	for (i++; i > 0; i -= i & -i)
		s += f->t[i];
	return s;
}

/* Smallest i with fw_sum(i) >= target (target >= 1); the tree holds no negatives. */
static size_t fw_search(const struct fenwick *f, uint64_t target)
{
	size_t pos = 0, step = 1;

	while (step * 2 <= f->n)
		step *= 2;
	for (; step; step /= 2)
		if (pos + step <= f->n && f->t[pos + step] < target) {
			pos += step;
			target -= f->t[pos];
		}
	return pos; /* 1-based pos + 1 turned 0-based */
}

/* Counts and sums of peer numbers of the accepted prefixes covering a position, kept together
 * so that one walk over the tree answers both. */
struct cover {
	uint64_t n, sum;
};

struct fenwick2 {
	struct cover *t;
	size_t n;
};

static void fw2_add(struct fenwick2 *f, size_t i, uint64_t n, uint64_t sum)
{
	for (i++; i <= f->n; i += i & -i) {
		f->t[i].n += n;
		f->t[i].sum += sum;
	}
}

static struct cover fw2_sum(const struct fenwick2 *f, size_t i)
{
	struct cover c = {0, 0};

	for (i++; i > 0; i -= i & -i) {
		c.n += f->t[i].n;
		c.sum += f->t[i].sum;
	}
	return c;
}

static void entry_init(struct entry *e, const struct hubd_prefix *p, uint32_t flat)
{
	hubd_prefix_u128(p, e->start);
	e->family = (uint8_t)p->family;
	e->cidr = p->cidr;
	e->flat = flat;
}

/* The last address e covers. */
static void entry_last(const struct entry *e, uint64_t last[2])
{
	/* Host bits in the 128-bit space: IPv4's 32 bits sit at the top. */
	unsigned host = (e->family == AF_INET ? 32 + 96 : 128) - e->cidr;

	last[0] = e->start[0] | (host >= 128 ? ~0ULL : host > 64 ? ~0ULL >> (128 - host) : 0);
	last[1] = e->start[1] | (host >= 64 ? ~0ULL : host ? ~0ULL >> (64 - host) : 0);
}

/* Compare a's start with b's start (or last): family, then the address. */
static int cmp_addr(uint8_t fa, const uint64_t *a, uint8_t fb, const uint64_t *b)
{
	if (fa != fb)
		return fa < fb ? -1 : 1;
	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	if (a[1] != b[1])
		return a[1] < b[1] ? -1 : 1;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int r = cmp_addr(x->family, x->start, y->family, y->start);

	if (r)
		return r;
	if (x->cidr != y->cidr)
		return x->cidr < y->cidr ? -1 : 1;
	return x->flat < y->flat ? -1 : x->flat > y->flat;
}

/* Running peers first (see incumbent in config.h), then by name: the earlier one wins a clash. */
static int cmp_peer_name(const void *a, const void *b)
{
	const struct hubd_peer_conf *x = a, *y = b;

	if (x->incumbent != y->incumbent)
		return x->incumbent ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct verify {
	struct hubd_config *cfg;
	struct hubd_diags *diags;
	struct entry *e; /* every AllowedIPs prefix of every peer, sorted */
	size_t n;
	size_t *sub_end;       /* per sorted entry: the last entry it contains */
	size_t *pos;	       /* per peer: where its first prefix's index starts in pos_of */
	size_t *pos_of;	       /* per flat index: its sorted position */
	uint32_t *peer_of;     /* per flat index: its peer */
	size_t *key_group;     /* per peer: the first peer (in key order) with its key */
	size_t *key_owner;     /* per key group: the accepted peer holding it, or NONE */
	struct fenwick here;   /* accepted prefixes at their position */
	struct fenwick2 cover; /* per position: accepted prefixes covering it */
	bool *reject;
	/* PeerRoutes: hubd.conf's, or the private ranges when it names none. */
	const struct hubd_prefix *routes;
	size_t n_routes;
	struct hubd_prefix default_routes[HUBD_DEFAULT_PEER_ROUTES];
	struct hubd_prefix link_local[2]; /* 169.254.0.0/16 and fe80::/10, parsed once */
};

static int cmp_peer_key(const void *a, const void *b, void *peers)
{
	const struct hubd_peer_conf *p = peers;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int r = memcmp(p[x].public_key, p[y].public_key, WGNL_KEY_LEN);

	return r ? r : (x < y ? -1 : x > y);
}

static int build_key_groups(struct verify *v)
{
	size_t n = v->cfg->n_peers;
	size_t *order = malloc((n ? n : 1) * sizeof(*order));

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), cmp_peer_key, v->cfg->peers);
	for (size_t i = 0, g = 0; i < n; i++) {
		if (i == 0 || memcmp(v->cfg->peers[order[i]].public_key,
				     v->cfg->peers[order[i - 1]].public_key, WGNL_KEY_LEN) != 0)
			g = i;
		v->key_group[order[i]] = g;
		v->key_owner[i] = NONE;
	}
	free(order);
	return 0;
}

/* Last sorted index whose start is <= e[i].last: everything e[i] contains. */
static size_t find_sub_end(const struct verify *v, size_t i)
{
	size_t lo = i, hi = v->n; /* e[lo].start <= last; answer in [lo, hi) */
	uint64_t last[2];

	entry_last(&v->e[i], last);
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_addr(v->e[mid].family, v->e[mid].start, v->e[i].family, last) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int build_entries(struct verify *v)
{
	struct hubd_config *cfg = v->cfg;
	uint32_t k = 0;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		v->pos[i] = v->n;
		v->n += cfg->peers[i].n_allowed_ips;
	}
	v->e = malloc((v->n ? v->n : 1) * sizeof(*v->e));
	v->sub_end = malloc((v->n ? v->n : 1) * sizeof(size_t));
	v->pos_of = malloc((v->n ? v->n : 1) * sizeof(size_t));
	v->peer_of = malloc((v->n ? v->n : 1) * sizeof(uint32_t));
	if (v->n >= UINT32_MAX || !v->e || !v->sub_end || !v->pos_of || !v->peer_of)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_peers; i++)
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++, k++) {
			entry_init(&v->e[k], &cfg->peers[i].allowed_ips[j], k);
			v->peer_of[k] = (uint32_t)i;
		}
	qsort(v->e, v->n, sizeof(*v->e), cmp_entry);
	for (size_t i = 0; i < v->n; i++) {
		v->sub_end[i] = find_sub_end(v, i);
		v->pos_of[v->e[i].flat] = i;
	}
	return 0;
}

static int fw_init(struct fenwick *f, size_t n)
{
	f->n = n;
	f->t = calloc(n + 1, sizeof(*f->t));
	return f->t ? 0 : -ENOMEM;
}

static int verify_init(struct verify *v)
{
	size_t np = v->cfg->n_peers ? v->cfg->n_peers : 1;

	v->pos = malloc(np * sizeof(size_t));
	v->key_group = malloc(np * sizeof(size_t));
	v->key_owner = malloc(np * sizeof(size_t));
	v->reject = calloc(np, sizeof(bool));
	if (!v->pos || !v->key_group || !v->key_owner || !v->reject)
		return -ENOMEM;
	if (build_key_groups(v) < 0 || build_entries(v) < 0)
		return -ENOMEM;
	v->cover.n = v->n;
	v->cover.t = calloc(v->n + 1, sizeof(*v->cover.t));
	if (fw_init(&v->here, v->n) < 0 || !v->cover.t)
		return -ENOMEM;
	return 0;
}

static void verify_done(struct verify *v)
{
	free(v->e);
	free(v->sub_end);
	free(v->pos);
	free(v->pos_of);
	free(v->peer_of);
	free(v->key_group);
	free(v->key_owner);
	free(v->here.t);
	free(v->cover.t);
	free(v->reject);
}

static void __attribute__((format(printf, 5, 6)))
verr(struct verify *v, const struct hubd_peer_conf *p, unsigned line, unsigned *errs,
     const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (++*errs > HUBD_CONFIG_MAX_ERRORS || !v->diags)
		return; /* counted: without diagnostics only the verdict is wanted */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hubd_diag_add(v->diags, p->path, line, false, "%s", msg);
}

static void check_key(struct verify *v, size_t i, unsigned *errs)
{
	const struct hubd_iface_conf *ic = &v->cfg->iface;
	const struct hubd_peer_conf *p = &v->cfg->peers[i];
	size_t owner = v->key_owner[v->key_group[i]];

	if (ic->has_private_key && memcmp(p->public_key, ic->public_key, WGNL_KEY_LEN) == 0)
		verr(v, p, p->public_key_line, errs,
		     "PublicKey is the hub's own public key (from its PrivateKeyFile)");
	/* The loader's wording: the peer file learns nothing of which key file it named. */
	if (ic->has_private_key && p->has_psk && memcmp(p->psk, ic->private_key, WGNL_KEY_LEN) == 0)
		verr(
		    v, p, p->psk_file_line, errs,
		    "PresharedKeyFile is not a usable key file under the config directory: it must "
		    "be a regular file there, owned by root, mode 0600 or stricter, holding one "
		    "WireGuard key");
	if (owner != NONE)
		verr(v, p, p->public_key_line, errs, "PublicKey is already used by peer %s (%s:%u)",
		     v->cfg->peers[owner].name, v->cfg->peers[owner].path,
		     v->cfg->peers[owner].public_key_line);
}

static void check_hub_address(struct verify *v, const struct hubd_peer_conf *p, size_t j,
			      unsigned *errs)
{
	const struct hubd_iface_conf *ic = &v->cfg->iface;
	char a[HUBD_PREFIX_STRLEN], h[INET6_ADDRSTRLEN];

	for (size_t k = 0; k < ic->n_addresses; k++) {
		struct hubd_prefix host = ic->addresses[k];

		host.cidr = host.family == AF_INET ? 32 : 128;
		/*
		 * The whole tunnel subnet or a supernet of it is how a spoke names its
		 * hub (client mode, e.g. a home gateway's one peer). A narrower prefix
		 * holding our address would let that peer send as us.
		 */
		if (p->allowed_ips[j].cidr <= ic->addresses[k].cidr ||
		    !hubd_prefix_contains(&p->allowed_ips[j], &host))
			continue;
		hubd_prefix_format(&p->allowed_ips[j], a, sizeof(a));
		inet_ntop(host.family, &host.addr, h, sizeof(h));
		verr(v, p, p->allowed_ips_lines[j], errs,
		     "AllowedIPs %s contains this interface's own address %s: the peer could send "
		     "packets as this host",
		     a, h);
		return;
	}
}

/*
 * A Masquerade prefix is a LAN behind this machine: a peer that routes any of
 * it would pull that LAN's traffic into the tunnel.
 */
static void check_masquerade_lan(struct verify *v, const struct hubd_peer_conf *p, size_t j,
				 unsigned *errs)
{
	const struct hubd_iface_conf *ic = &v->cfg->iface;
	char a[HUBD_PREFIX_STRLEN], m[HUBD_PREFIX_STRLEN];

	for (size_t k = 0; k < ic->n_masquerade_prefixes; k++) {
		if (!hubd_prefix_overlap(&p->allowed_ips[j], &ic->masquerade_prefixes[k]))
			continue;
		hubd_prefix_format(&p->allowed_ips[j], a, sizeof(a));
		hubd_prefix_format(&ic->masquerade_prefixes[k], m, sizeof(m));
		verr(v, p, p->allowed_ips_lines[j], errs,
		     "AllowedIPs %s overlaps Masquerade %s of hubd.conf (line %u), a LAN behind "
		     "this machine: no peer may route it",
		     a, m, ic->masquerade_prefix_lines[k]);
		return;
	}
}

static const char *const link_local[] = {"169.254.0.0/16", "fe80::/10"};

static void routes_init(struct verify *v)
{
	const struct hubd_iface_conf *ic = &v->cfg->iface;

	for (size_t k = 0; k < sizeof(link_local) / sizeof(*link_local); k++)
		hubd_prefix_parse(link_local[k], &v->link_local[k], NULL);

	v->routes = ic->peer_routes;
	v->n_routes = ic->n_peer_routes;
	if (!v->n_routes) {
		v->n_routes = hubd_default_peer_routes(v->default_routes);
		v->routes = v->default_routes;
	}
}

/*
 * A peer routes only what PeerRoutes allows, and never link-local space (the
 * cloud metadata address 169.254.169.254 among it) short of a default route
 * (/0), which a PeerRoutes of 0.0.0.0/0 or ::/0 has to allow explicitly.
 */
static void check_peer_routes(struct verify *v, const struct hubd_peer_conf *p, size_t j,
			      unsigned *errs)
{
	const struct hubd_prefix *a = &p->allowed_ips[j];
	char f[HUBD_PREFIX_STRLEN];

	/* Formatted for a message only: this runs for every prefix of every peer. */
	for (size_t k = 0; a->cidr && k < sizeof(link_local) / sizeof(*link_local); k++)
		if (hubd_prefix_overlap(a, &v->link_local[k])) {
			hubd_prefix_format(a, f, sizeof(f));
			verr(v, p, p->allowed_ips_lines[j], errs,
			     "AllowedIPs %s overlaps link-local space %s (the cloud metadata "
			     "address "
			     "among it): no peer may route it",
			     f, link_local[k]);
			return;
		}
	for (size_t k = 0; k < v->n_routes; k++)
		if (hubd_prefix_contains(&v->routes[k], a))
			return;
	hubd_prefix_format(a, f, sizeof(f));
	verr(v, p, p->allowed_ips_lines[j], errs,
	     "AllowedIPs %s lies outside PeerRoutes (%s): set PeerRoutes in hubd.conf to let peers "
	     "route it",
	     f,
	     v->cfg->iface.n_peer_routes
		 ? "as hubd.conf sets it"
		 : "by default the private ranges 10.0.0.0/8, 172.16.0.0/12, "
		   "192.168.0.0/16, 100.64.0.0/10 and fc00::/7");
}

/*
 * No peer may route what the machine itself relies on outside the tunnel: its
 * own addresses, its routes' gateways, its name servers (host.h). Short of a
 * default route (/0), which only a PeerRoutes of 0.0.0.0/0 or ::/0 allows.
 */
static void check_host(struct verify *v, const struct hubd_peer_conf *p, size_t j, unsigned *errs)
{
	const struct hubd_host *host = v->cfg->iface.host;
	const struct hubd_prefix *a = &p->allowed_ips[j];
	char f[HUBD_PREFIX_STRLEN], ip[INET6_ADDRSTRLEN];

	for (size_t k = 0; host && a->cidr && k < host->n; k++) {
		const struct hubd_host_fact *h = &host->facts[k];

		if (!hubd_prefix_contains(a, &h->addr))
			continue;
		hubd_prefix_format(a, f, sizeof(f));
		hubd_prefix_format_addr(&h->addr, ip, sizeof(ip));
		verr(v, p, p->allowed_ips_lines[j], errs,
		     "AllowedIPs %s covers %s, %s (%s): no peer may take traffic this machine "
		     "itself relies on",
		     f, ip, hubd_host_kind_name(h->kind), h->where);
		return;
	}
}

/* Which of peer q's prefixes overlaps pfx? Scanned only for small peers. */
static size_t find_aip(const struct hubd_peer_conf *q, const struct hubd_prefix *pfx)
{
	if (q->n_allowed_ips > 64)
		return NONE;
	for (size_t j = 0; j < q->n_allowed_ips; j++)
		if (hubd_prefix_overlap(&q->allowed_ips[j], pfx))
			return j;
	return NONE;
}

static void report_overlap(struct verify *v, const struct hubd_peer_conf *p, size_t j, size_t q,
			   size_t qj, unsigned *errs)
{
	const struct hubd_peer_conf *o = &v->cfg->peers[q];
	char a[HUBD_PREFIX_STRLEN], b[HUBD_PREFIX_STRLEN];
	const char *tail = "the kernel would route it to only one of them";

	hubd_prefix_format(&p->allowed_ips[j], a, sizeof(a));
	if (qj == NONE) {
		verr(v, p, p->allowed_ips_lines[j], errs,
		     "AllowedIPs %s overlaps the AllowedIPs of peer %s (%s): %s", a, o->name,
		     o->path, tail);
		return;
	}
	hubd_prefix_format(&o->allowed_ips[qj], b, sizeof(b));
	if (strcmp(a, b) == 0)
		verr(v, p, p->allowed_ips_lines[j], errs,
		     "AllowedIPs %s is already given to peer %s (%s:%u)", a, o->name, o->path,
		     o->allowed_ips_lines[qj]);
	else
		verr(v, p, p->allowed_ips_lines[j], errs,
		     "AllowedIPs %s overlaps %s of peer %s (%s:%u): %s", a, b, o->name, o->path,
		     o->allowed_ips_lines[qj], tail);
}

static void check_overlap(struct verify *v, size_t i, size_t j, unsigned *errs)
{
	const struct hubd_peer_conf *p = &v->cfg->peers[i];
	size_t pos = v->pos_of[v->pos[i] + j];
	struct cover c = fw2_sum(&v->cover, pos);
	uint64_t below, inside;
	size_t q, k;

	if (c.n) {
		/* Accepted prefixes covering one point all belong to one peer,
		 * as accepted peers never overlap: the sum names it. */
		q = (size_t)(c.sum / c.n) - 1;
		report_overlap(v, p, j, q, find_aip(&v->cfg->peers[q], &p->allowed_ips[j]), errs);
		return;
	}
	below = pos ? fw_sum(&v->here, pos - 1) : 0;
	inside = fw_sum(&v->here, v->sub_end[pos]) - below;
	if (!inside)
		return;
	k = fw_search(&v->here, below + 1);
	q = v->peer_of[v->e[k].flat];
	report_overlap(v, p, j, q, v->e[k].flat - v->pos[q], errs);
}

static void accept_peer(struct verify *v, size_t i)
{
	const struct hubd_peer_conf *p = &v->cfg->peers[i];

	for (size_t j = 0; j < p->n_allowed_ips; j++) {
		size_t pos = v->pos_of[v->pos[i] + j], end = v->sub_end[pos];

		fw_add(&v->here, pos, 1);
		fw2_add(&v->cover, pos, 1, i + 1);
		/* Unsigned wrap-around makes this the subtraction it means. */
		if (end + 1 < v->n)
			fw2_add(&v->cover, end + 1, (uint64_t)-1, -(uint64_t)(i + 1));
	}
	v->key_owner[v->key_group[i]] = i;
}

int hubd_config_add_rejected(struct hubd_config *cfg, const char *name)
{
	char **r;

	if ((cfg->n_rejected & (cfg->n_rejected - 1)) == 0) {
		r = realloc(cfg->rejected,
			    (cfg->n_rejected ? cfg->n_rejected * 2 : 4) * sizeof(*r));
		if (!r)
			return -ENOMEM;
		cfg->rejected = r;
	}
	cfg->rejected[cfg->n_rejected] = strdup(name);
	if (!cfg->rejected[cfg->n_rejected])
		return -ENOMEM;
	cfg->n_rejected++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Move the rejected peers out of cfg->peers, keeping the name order. */
static void compact(struct hubd_config *cfg, const bool *reject)
{
	size_t k = 0;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		if (!reject[i]) {
			if (k != i)
				cfg->peers[k] = cfg->peers[i];
			k++;
			continue;
		}
		/* Without memory for the name the peer is still dropped. */
		(void)hubd_config_add_rejected(cfg, cfg->peers[i].name);
		hubd_peer_conf_clear(&cfg->peers[i]);
	}
	cfg->n_peers = k;
	if (cfg->n_rejected > 1)
		qsort(cfg->rejected, cfg->n_rejected, sizeof(char *), cmp_str);
}

static void reject_all(struct hubd_config *cfg, struct hubd_diags *diags)
{
	bool *reject = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof(bool));

	for (size_t i = 0; i < cfg->n_peers; i++)
		hubd_diag_add(diags, cfg->peers[i].path, 0, false,
			      "out of memory while verifying; peer not applied");
	if (reject) {
		memset(reject, 1, cfg->n_peers * sizeof(bool));
		compact(cfg, reject);
		free(reject);
	} else {
		/* Not even that: drop every peer rather than apply unverified ones. */
		for (size_t i = 0; i < cfg->n_peers; i++)
			hubd_peer_conf_clear(&cfg->peers[i]);
		cfg->n_peers = 0;
	}
}

/*
 * MaxPeerPrefixes and MaxPrefixes; total is what the peers accepted before
 * hold. Named at the first prefix over the bound. False when p is over one.
 */
static bool check_caps(struct verify *v, const struct hubd_peer_conf *p, uint64_t total,
		       unsigned *errs)
{
	const struct hubd_iface_conf *ic = &v->cfg->iface;
	uint64_t per =
	    ic->max_peer_prefixes ? ic->max_peer_prefixes : HUBD_DEFAULT_MAX_PEER_PREFIXES;
	uint64_t all = ic->max_prefixes ? ic->max_prefixes : HUBD_DEFAULT_MAX_PREFIXES;

	if (p->n_allowed_ips > per) {
		verr(v, p, p->allowed_ips_lines[per], errs,
		     "more than %llu AllowedIPs prefixes in one peer file (MaxPeerPrefixes in "
		     "hubd.conf): peer not applied",
		     (unsigned long long)per);
		return false;
	}
	if (total + p->n_allowed_ips > all) {
		verr(v, p, p->allowed_ips_lines[all > total ? all - total : 0], errs,
		     "the peers before this one already hold %llu of the %llu AllowedIPs prefixes "
		     "allowed in all (MaxPrefixes in hubd.conf): peer not applied",
		     (unsigned long long)total, (unsigned long long)all);
		return false;
	}
	return true;
}

/* Judge v->cfg->peers in their order; verify_init has run. */
static void judge(struct verify *v)
{
	uint64_t total = 0; /* prefixes of the peers accepted so far */

	routes_init(v);
	for (size_t i = 0; i < v->cfg->n_peers; i++) {
		const struct hubd_peer_conf *p = &v->cfg->peers[i];
		unsigned errs = 0;

		if (p->deferred) { /* not yet: the cold start judges it last (record.h) */
			v->reject[i] = true;
			continue;
		}
		check_key(v, i, &errs);
		if (check_caps(v, p, total, &errs))
			for (size_t j = 0; j < p->n_allowed_ips; j++) {
				check_peer_routes(v, p, j, &errs);
				check_host(v, p, j, &errs);
				check_hub_address(v, p, j, &errs);
				check_masquerade_lan(v, p, j, &errs);
				check_overlap(v, i, j, &errs);
			}
		if (errs > HUBD_CONFIG_MAX_ERRORS && v->diags)
			hubd_diag_add(v->diags, p->path, 0, false, "%u more errors not shown",
				      errs - HUBD_CONFIG_MAX_ERRORS);
		if (errs) {
			v->reject[i] = true;
		} else {
			accept_peer(v, i);
			total += p->n_allowed_ips;
		}
	}
}

static int judge_view(const struct hubd_iface_conf *iface, struct hubd_peer_conf *peers, size_t n,
		      bool *reject, struct hubd_diags *diags)
{
	struct hubd_config view = {.iface = *iface, .iface_ok = true, .peers = peers, .n_peers = n};
	struct verify v = {.cfg = &view, .diags = diags};
	int r = verify_init(&v);

	if (r >= 0) {
		judge(&v);
		memcpy(reject, v.reject, n * sizeof(*reject));
	}
	verify_done(&v);
	return r;
}

/* With incumbents: judge a shallow copy that puts them first (keeping the order otherwise),
 * and hand the verdicts back in the caller's order. */
int hubd_config_judge(const struct hubd_iface_conf *iface, struct hubd_peer_conf *peers, size_t n,
		      bool *reject, struct hubd_diags *diags)
{
	_cleanup_free_ struct hubd_peer_conf *order = NULL;
	_cleanup_free_ size_t *from = NULL;
	_cleanup_free_ bool *verdict = NULL;
	size_t k = 0;
	int r;

	for (size_t i = 0; i < n && !k; i++)
		k = peers[i].incumbent;
	if (!k)
		return judge_view(iface, peers, n, reject, diags);
	order = malloc(n * sizeof(*order));
	from = malloc(n * sizeof(*from));
	verdict = malloc(n * sizeof(*verdict));
	if (!order || !from || !verdict)
		return -ENOMEM;
	k = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++)
			if (peers[i].incumbent == !pass) {
				from[k] = i;
				order[k++] = peers[i];
			}
	r = judge_view(iface, order, n, verdict, diags);
	for (size_t i = 0; r >= 0 && i < n; i++)
		reject[from[i]] = verdict[i];
	return r;
}

void hubd_config_drop_rejected(struct hubd_config *cfg, const bool *reject)
{
	compact(cfg, reject);
}

void hubd_config_verify(struct hubd_config *cfg, struct hubd_diags *diags)
{
	struct verify v = {.cfg = cfg, .diags = diags};

	if (cfg->n_peers > 1)
		qsort(cfg->peers, cfg->n_peers, sizeof(*cfg->peers), cmp_peer_name);
	if (verify_init(&v) < 0) {
		verify_done(&v);
		reject_all(cfg, diags);
		return;
	}
	judge(&v);
	compact(cfg, v.reject);
	verify_done(&v);
}
