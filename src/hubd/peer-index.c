/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The running peers' AllowedIPs by prefix (peer-index.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"
#include "peer-index.h"

static struct hubd_pindex_entry entry_of(const struct hubd_prefix *p, const char *owner)
{
	struct hubd_pindex_entry e = {
	    .family = (uint8_t)p->family, .cidr = p->cidr, .owner = owner};

	hubd_prefix_u128(p, e.start);
	return e;
}

/* Keep the top cidr bits of the 128-bit number. */
static void mask_to(uint64_t v[2], unsigned cidr)
{
	v[0] &= cidr >= 64 ? ~0ULL : cidr ? ~0ULL << (64 - cidr) : 0;
	v[1] &= cidr >= 128 ? ~0ULL : cidr > 64 ? ~0ULL << (128 - cidr) : 0;
}

/* Address before length: a prefix sorts right before those it contains. */
static int prefix_cmp(const struct hubd_pindex_entry *a, const struct hubd_pindex_entry *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->start[0] != b->start[0])
		return a->start[0] < b->start[0] ? -1 : 1;
	if (a->start[1] != b->start[1])
		return a->start[1] < b->start[1] ? -1 : 1;
	return a->cidr < b->cidr ? -1 : a->cidr > b->cidr;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct hubd_pindex_entry *a = pa, *b = pb;
	int r = prefix_cmp(a, b);

	if (r)
		return r;
	/* Owners apart by identity: a NULL owner sorts first, so a probe finds the first
	 * entry of its prefix. */
	return (uintptr_t)a->owner < (uintptr_t)b->owner
		   ? -1
		   : (uintptr_t)a->owner > (uintptr_t)b->owner;
}

static bool same_prefix(const struct hubd_pindex_entry *a, const struct hubd_pindex_entry *b)
{
	return prefix_cmp(a, b) == 0;
}

/* Is e inside q (or q itself)? */
static bool contains(const struct hubd_pindex_entry *q, const struct hubd_pindex_entry *e)
{
	uint64_t v[2] = {e->start[0], e->start[1]};

	if (q->family != e->family || q->cidr > e->cidr)
		return false;
	mask_to(v, q->cidr); /* IPv4 sits in the top bits: one mask for both */
	return v[0] == q->start[0] && v[1] == q->start[1];
}

/* The first entry not below e. */
static size_t lower_bound(const struct hubd_pindex *x, const struct hubd_pindex_entry *e)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_cmp(&x->v[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static unsigned *len_count(struct hubd_pindex *x, const struct hubd_pindex_entry *e)
{
	return e->family == AF_INET ? &x->lens4[e->cidr] : &x->lens6[e->cidr];
}

void hubd_pindex_clear(struct hubd_pindex *x)
{
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static size_t count_prefixes(const struct hubd_peer_conf *const *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += v[i]->n_allowed_ips;
	return k;
}

/* Each prefix of the n peers as an entry, appended to out. */
static void entries_of(const struct hubd_peer_conf *const *v, size_t n,
		       struct hubd_pindex_entry *out)
{
	for (size_t i = 0, k = 0; i < n; i++)
		for (size_t j = 0; j < v[i]->n_allowed_ips; j++)
			out[k++] = entry_of(&v[i]->allowed_ips[j], v[i]->name);
}

int hubd_pindex_build(struct hubd_pindex *x, const struct hubd_config *cfg)
{
	_cleanup_free_ const struct hubd_peer_conf **peers =
	    calloc(cfg->n_peers + 1, sizeof(*peers));

	hubd_pindex_clear(x);
	if (!peers)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_peers; i++)
		peers[i] = &cfg->peers[i];
	x->cap = count_prefixes(peers, cfg->n_peers) + 1;
	x->v = calloc(x->cap, sizeof(*x->v));
	if (!x->v) {
		hubd_pindex_clear(x);
		return -ENOMEM;
	}
	x->n = x->cap - 1;
	entries_of(peers, cfg->n_peers, x->v);
	qsort(x->v, x->n, sizeof(*x->v), entry_cmp);
	for (size_t i = 0; i < x->n; i++)
		++*len_count(x, &x->v[i]);
	x->valid = true;
	return 0;
}

/*
 * Where the gone entries (sorted) are in the index, ascending. A prefix a file
 * lists twice is two equal entries: each distinct one takes its whole run once.
 */
static void find_gone(const struct hubd_pindex *x, const struct hubd_pindex_entry *e, size_t n,
		      size_t *at, size_t *ret_n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && entry_cmp(&e[i - 1], &e[i]) == 0)
			continue;
		for (size_t lo = lower_bound(x, &e[i]);
		     lo < x->n && k < n && entry_cmp(&x->v[lo], &e[i]) == 0; lo++)
			at[k++] = lo;
	}
	*ret_n = k;
}

/* Is e[i]'s prefix its list's only one of that prefix (both lists sorted)? */
static bool single(const struct hubd_pindex_entry *e, size_t n, size_t i)
{
	return (i == 0 || !same_prefix(&e[i - 1], &e[i])) &&
	       (i + 1 == n || !same_prefix(&e[i], &e[i + 1]));
}

/*
 * A prefix both in a file's old and new version keeps its place: only its
 * owner string changes, where it stands, when no other entry of that prefix
 * stands beside it (the order among equals is by owner). An edit that keeps
 * its AllowedIPs so moves nothing. The pairs done leave g and c (their owner
 * set to NULL).
 */
static void relabel(struct hubd_pindex *x, struct hubd_pindex_entry *g, size_t ng,
		    struct hubd_pindex_entry *c, size_t nc)
{
	for (size_t i = 0, j = 0; i < ng && j < nc;) {
		int r = prefix_cmp(&g[i], &c[j]);
		size_t at;

		if (r) {
			r < 0 ? i++ : j++;
			continue;
		}
		at = lower_bound(x, &g[i]);
		if (single(g, ng, i) && single(c, nc, j) && at < x->n &&
		    entry_cmp(&x->v[at], &g[i]) == 0 &&
		    (at == 0 || !same_prefix(&x->v[at - 1], &g[i])) &&
		    (at + 1 == x->n || !same_prefix(&x->v[at + 1], &g[i]))) {
			x->v[at].owner = c[j].owner;
			g[i].owner = c[j].owner = NULL;
		}
		i++, j++;
	}
}

/* Drop the entries whose owner relabel() cleared, keeping the order. */
static size_t unpaired(struct hubd_pindex_entry *e, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (e[i].owner)
			e[k++] = e[i];
	return k;
}

/* Drop the entries at the sorted positions at[0..n), moving only what lies after the first. */
static void remove_at(struct hubd_pindex *x, const size_t *at, size_t n)
{
	size_t w, k = 0;

	if (!n)
		return;
	w = at[0];
	for (size_t i = at[0]; i < x->n; i++) {
		if (k < n && at[k] == i) {
			--*len_count(x, &x->v[i]);
			k++;
			continue;
		}
		x->v[w++] = x->v[i];
	}
	x->n = w;
}

/* Merge the sorted a[0..n) in from the back: only the entries after the first insertion
 * point move. */
static void merge_in(struct hubd_pindex *x, const struct hubd_pindex_entry *a, size_t n)
{
	size_t i = x->n, j = n, w = x->n + n;

	while (j > 0) {
		if (i > 0 && entry_cmp(&x->v[i - 1], &a[j - 1]) > 0)
			x->v[--w] = x->v[--i];
		else
			x->v[--w] = a[--j];
	}
	for (size_t k = 0; k < n; k++)
		++*len_count(x, &a[k]);
	x->n += n;
}

static int reserve(struct hubd_pindex *x, size_t n)
{
	struct hubd_pindex_entry *v;
	size_t cap = x->cap;

	if (n <= cap)
		return 0;
	/* By a quarter: at 100,000 peers a doubling would hold megabytes for nothing. */
	while (cap < n)
		cap = cap + cap / 4 + 64;
	v = realloc(x->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	x->v = v;
	x->cap = cap;
	return 0;
}

int hubd_pindex_update(struct hubd_pindex *x, const struct hubd_peer_conf *const *gone,
		       size_t n_gone, const struct hubd_peer_conf *const *came, size_t n_came)
{
	size_t ng = count_prefixes(gone, n_gone), nc = count_prefixes(came, n_came), n_at = 0;
	_cleanup_free_ struct hubd_pindex_entry *g = calloc(ng + 1, sizeof(*g));
	_cleanup_free_ struct hubd_pindex_entry *c = calloc(nc + 1, sizeof(*c));
	_cleanup_free_ size_t *at = calloc(ng + 1, sizeof(*at));

	if (!x->valid)
		return 0; /* built whole when next asked */
	if (!g || !c || !at || reserve(x, x->n + nc) < 0) {
		hubd_pindex_clear(x);
		return -ENOMEM;
	}
	entries_of(gone, n_gone, g);
	entries_of(came, n_came, c);
	qsort(g, ng, sizeof(*g), entry_cmp);
	qsort(c, nc, sizeof(*c), entry_cmp);
	relabel(x, g, ng, c, nc);
	ng = unpaired(g, ng);
	nc = unpaired(c, nc);
	find_gone(x, g, ng, at, &n_at);
	remove_at(x, at, n_at);
	merge_in(x, c, nc);
	return 0;
}

/* The first owner not skipped among the entries from i on that q contains. */
static const char *inside(const struct hubd_pindex *x, size_t i, const struct hubd_pindex_entry *q,
			  bool (*skip)(const char *, void *), void *user)
{
	for (; i < x->n && contains(q, &x->v[i]); i++)
		if (!skip || !skip(x->v[i].owner, user))
			return x->v[i].owner;
	return NULL;
}

const char *hubd_pindex_overlap(const struct hubd_pindex *x, const struct hubd_prefix *q,
				bool (*skip)(const char *owner, void *user), void *user)
{
	const unsigned *lens = q->family == AF_INET ? x->lens4 : x->lens6;
	struct hubd_pindex_entry probe = entry_of(q, NULL), want = probe;
	const char *o;

	/* Sorted by address first, q comes right before every prefix it contains (q's own
	 * equals among them). */
	if ((o = inside(x, lower_bound(x, &probe), &want, skip, user)))
		return o;
	/* A shorter prefix holding q is q masked to that length: one lookup per length in use. */
	for (unsigned c = 0; c < q->cidr; c++) {
		if (!lens[c])
			continue;
		probe = want;
		probe.cidr = (uint8_t)c;
		mask_to(probe.start, c);
		for (size_t i = lower_bound(x, &probe); i < x->n && same_prefix(&x->v[i], &probe);
		     i++)
			if (!skip || !skip(x->v[i].owner, user))
				return x->v[i].owner;
	}
	return NULL;
}
