/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A peer's Access as nftables set elements (policy.h). */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"

typedef unsigned __int128 u128;

/* One disjoint piece of a policy: inclusive ranges in three dimensions. */
enum { DIM_ADDR, DIM_PROTO, DIM_PORT, DIMS };
struct box {
	u128 lo[DIMS], hi[DIMS];
};

struct boxes {
	struct box *v;
	size_t n, cap;
};

static u128 addr_value(const struct hubd_prefix *p)
{
	const uint8_t *b = (const uint8_t *)&p->addr;
	size_t n = p->family == AF_INET ? 4 : 16;
	u128 v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

static struct box entry_box(const struct hubd_access *a)
{
	unsigned bits = a->dst.family == AF_INET ? 32 : 128;
	u128 lo = addr_value(&a->dst), size_mask;
	struct box b;

	/* cidr 0 of 128 bits: every bit is a host bit (a shift by 128 would be undefined) */
	size_mask = a->dst.cidr == 0 ? (bits == 128 ? ~(u128)0 : ((u128)1 << 32) - 1)
				     : (((u128)1 << (bits - a->dst.cidr)) - 1);
	b.lo[DIM_ADDR] = lo;
	b.hi[DIM_ADDR] = lo | size_mask;
	b.lo[DIM_PROTO] = a->proto ? hubd_access_ipproto(a) : 0;
	b.hi[DIM_PROTO] = a->proto ? hubd_access_ipproto(a) : 255;
	b.lo[DIM_PORT] = a->port_lo;
	b.hi[DIM_PORT] = a->port_hi;
	return b;
}

static bool overlap(const struct box *a, const struct box *b)
{
	for (int d = 0; d < DIMS; d++)
		if (a->hi[d] < b->lo[d] || b->hi[d] < a->lo[d])
			return false;
	return true;
}

static int push(struct boxes *s, const struct box *b)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct box *v;

		if (cap > HUBD_POLICY_MAX_ELEMENTS)
			return -E2BIG;
		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *b;
	return 0;
}

/* p minus e, as at most 2 x DIMS disjoint boxes appended to out: slice off what lies
 * outside e in each dimension in turn; what is left is inside e and goes. */
static int subtract(struct box p, const struct box *e, struct boxes *out)
{
	int r = 0;

	if (!overlap(&p, e))
		return push(out, &p);
	for (int d = 0; d < DIMS && r == 0; d++) {
		struct box piece = p;

		if (p.lo[d] < e->lo[d]) {
			piece.hi[d] = e->lo[d] - 1;
			r = push(out, &piece);
			p.lo[d] = e->lo[d];
		}
		piece = p;
		if (r == 0 && p.hi[d] > e->hi[d]) {
			piece.lo[d] = e->hi[d] + 1;
			r = push(out, &piece);
			p.hi[d] = e->hi[d];
		}
	}
	return r;
}

/* Add b to the disjoint set s: only the parts of b that no box of s holds yet. */
static int add_disjoint(struct boxes *s, const struct box *b)
{
	struct boxes cur = {0}, next = {0};
	int r = push(&cur, b);

	for (size_t i = 0; i < s->n && r == 0 && cur.n; i++) {
		next.n = 0;
		for (size_t k = 0; k < cur.n && r == 0; k++)
			r = subtract(cur.v[k], &s->v[i], &next);
		struct boxes t = cur;
		cur = next;
		next = t;
	}
	for (size_t k = 0; k < cur.n && r == 0; k++)
		r = push(s, &cur.v[k]);
	free(cur.v);
	free(next.v);
	return r;
}

/* How many bits of freedom an entry leaves: host bits, protocol bits, port bits. */
static int entry_bits(const struct hubd_access *a)
{
	unsigned ports = (unsigned)a->port_hi - a->port_lo + 1;
	int bits = (a->dst.family == AF_INET ? 32 : 128) - a->dst.cidr;

	return bits + (a->proto ? 0 : 8) + (31 - __builtin_clz(ports)); /* floor(log2) */
}

/* Bigger entries first, so that the smaller ones inside or across them are cut to what they
 * add rather than cutting the big ones into slivers. */
static int cmp_wider(const void *x, const void *y)
{
	return entry_bits(y) - entry_bits(x);
}

/* The disjoint boxes of p's entries of one family. */
static int family_boxes(const struct hubd_peer_conf *p, int family, struct boxes *out)
{
	struct hubd_access *sorted = calloc(p->n_access + 1, sizeof(*sorted));
	size_t n = 0;
	int r = 0;

	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_access; i++)
		if (p->access[i].dst.family == family)
			sorted[n++] = p->access[i];
	qsort(sorted, n, sizeof(*sorted), cmp_wider);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct box b = entry_box(&sorted[i]);

		r = add_disjoint(out, &b);
	}
	free(sorted);
	return r;
}

static void format_addr(int family, u128 v, char *buf, size_t len)
{
	uint8_t b[16];
	size_t n = family == AF_INET ? 4 : 16;

	for (size_t i = n; i-- > 0; v >>= 8)
		b[i] = (uint8_t)v;
	inet_ntop(family, b, buf, (socklen_t)len);
}

/* An address range as nft takes it: "A" or "A-B". */
static void format_range(int family, u128 lo, u128 hi, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	format_addr(family, lo, a, sizeof(a));
	if (lo == hi) {
		snprintf(buf, len, "%s", a);
		return;
	}
	format_addr(family, hi, b, sizeof(b));
	snprintf(buf, len, "%s-%s", a, b);
}

static int num_range(char *buf, size_t len, unsigned lo, unsigned hi)
{
	return lo == hi ? snprintf(buf, len, "%u", lo) : snprintf(buf, len, "%u-%u", lo, hi);
}

/* "access4 SRC . DST . PROTO . PORT" for one source and one box. */
static int push_access(struct hubd_elems *e, const struct hubd_prefix *src, const struct box *b)
{
	char s[HUBD_PREFIX_STRLEN], d[2 * INET6_ADDRSTRLEN + 2], pr[16], po[16], *out;

	hubd_prefix_format(src, s, sizeof(s));
	format_range(src->family, b->lo[DIM_ADDR], b->hi[DIM_ADDR], d, sizeof(d));
	num_range(pr, sizeof(pr), (unsigned)b->lo[DIM_PROTO], (unsigned)b->hi[DIM_PROTO]);
	num_range(po, sizeof(po), (unsigned)b->lo[DIM_PORT], (unsigned)b->hi[DIM_PORT]);
	if (asprintf(&out, "access%c %s . %s . %s . %s", src->family == AF_INET ? '4' : '6', s, d,
		     pr, po) < 0)
		out = NULL;
	return hubd_elems_add(e, out);
}

/* A peer's own AllowedIPs may nest (a warning, not an error): the set takes the outer. */
static bool nested(const struct hubd_peer_conf *p, size_t i)
{
	for (size_t k = 0; k < p->n_allowed_ips; k++)
		if (k != i && hubd_prefix_contains(&p->allowed_ips[k], &p->allowed_ips[i]) &&
		    (hubd_prefix_cmp(&p->allowed_ips[k], &p->allowed_ips[i]) || k < i))
			return true;
	return false;
}

int hubd_policy_elements(const struct hubd_peer_conf *p, const char *ifname, struct hubd_elems *e)
{
	struct boxes fam[2] = {{0}};
	size_t count = 0;
	int r = 0;

	if (!p->has_access)
		return 0;
	r = family_boxes(p, AF_INET, &fam[0]);
	if (r == 0)
		r = family_boxes(p, AF_INET6, &fam[1]);
	for (size_t i = 0; i < p->n_allowed_ips && r == 0; i++) {
		const struct hubd_prefix *src = &p->allowed_ips[i];
		const struct boxes *b = &fam[src->family == AF_INET6];
		char s[HUBD_PREFIX_STRLEN], *out;

		if (nested(p, i))
			continue;
		count += 1 + b->n;
		if (count > HUBD_POLICY_MAX_ELEMENTS) {
			r = -E2BIG;
			break;
		}
		hubd_prefix_format(src, s, sizeof(s));
		r = hubd_elems_add(e, asprintf(&out, "limited%c %s . \"%s\"",
					       src->family == AF_INET ? '4' : '6', s, ifname) < 0
					  ? NULL
					  : out);
		for (size_t k = 0; k < b->n && r == 0; k++)
			r = push_access(e, src, &b->v[k]);
	}
	free(fam[0].v);
	free(fam[1].v);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void hubd_elems_sort(struct hubd_elems *e)
{
	size_t k = 0;

	if (!e->n)
		return;
	qsort(e->v, e->n, sizeof(*e->v), cmp_str);
	for (size_t i = 0; i < e->n; i++) {
		if (k && !strcmp(e->v[k - 1], e->v[i])) {
			free(e->v[i]);
			continue;
		}
		e->v[k++] = e->v[i];
	}
	e->n = k;
}

void hubd_elems_free(struct hubd_elems *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	*e = (struct hubd_elems){0};
}

bool hubd_elems_has(const struct hubd_elems *e, const char *s)
{
	return e->n && bsearch(&s, e->v, e->n, sizeof(*e->v), cmp_str);
}

/* Append a borrowed string: the caller frees only the array. */
static int borrow(struct hubd_elems *e, char *s)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		char **v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = s;
	return 0;
}

int hubd_elems_add(struct hubd_elems *e, char *s)
{
	if (!s)
		return -ENOMEM;
	if (borrow(e, s) < 0) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}

int hubd_elems_diff(const struct hubd_elems *a, const struct hubd_elems *b, struct hubd_elems *del,
		    struct hubd_elems *add)
{
	size_t i = 0, k = 0;
	int r = 0;

	while (r == 0 && (i < a->n || k < b->n)) {
		int c = i == a->n ? 1 : k == b->n ? -1 : strcmp(a->v[i], b->v[k]);

		if (c < 0)
			r = borrow(del, a->v[i++]);
		else if (c > 0)
			r = borrow(add, b->v[k++]);
		else
			i++, k++;
	}
	return r;
}

bool hubd_policy_wanted(const struct hubd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (cfg->peers[i].has_access)
			return true;
	return false;
}
