/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>

#include "addr-alloc.h"

/*
 * Addresses as 128-bit integers: IPv4 in the low 32 bits. Comparing and
 * stepping integers is simpler and safer than byte arrays, and lets the
 * allocator jump over a whole used prefix at once (an IPv6 /64 cannot be
 * walked address by address).
 */
typedef unsigned __int128 u128;

struct range {
	u128 lo, hi;
};

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static u128 prefix_value(const struct hubd_prefix *p)
{
	u128 v = 0;

	if (p->family == AF_INET)
		return ntohl(p->addr.in.s_addr);
	for (int i = 0; i < 16; i++)
		v = (v << 8) | p->addr.in6.s6_addr[i];
	return v;
}

static void prefix_set_value(struct hubd_prefix *p, u128 v)
{
	if (p->family == AF_INET) {
		p->addr.in.s_addr = htonl((uint32_t)v);
		return;
	}
	for (int i = 15; i >= 0; i--, v >>= 8)
		p->addr.in6.s6_addr[i] = (uint8_t)v;
}

static u128 all_ones(unsigned bits)
{
	return bits == 128 ? ~(u128)0 : ((u128)1 << bits) - 1;
}

static struct range prefix_range(const struct hubd_prefix *p)
{
	unsigned bits = family_bits(p->family);
	unsigned cidr = p->cidr > bits ? bits : p->cidr;
	u128 host = cidr == 0 ? all_ones(bits) : all_ones(bits - cidr);
	u128 lo = prefix_value(p) & ~host & all_ones(bits);

	return (struct range){lo, lo | host};
}

/* The usable host range: the first address and the IPv4 broadcast address are kept back. */
static struct range usable_range(const struct hubd_prefix *subnet)
{
	unsigned bits = family_bits(subnet->family);
	struct range r = prefix_range(subnet);

	if (subnet->cidr + 2U <= bits)
		r.lo++;
	if (subnet->family == AF_INET && subnet->cidr <= 30)
		r.hi--;
	return r;
}

static const struct hubd_prefix *find_used(u128 v, int family, const struct hubd_prefix *used,
					   size_t n_used, size_t *ret_index)
{
	for (size_t i = 0; i < n_used; i++) {
		struct range r;

		if (used[i].family != family)
			continue;
		r = prefix_range(&used[i]);
		if (r.lo <= v && v <= r.hi) {
			if (ret_index)
				*ret_index = i;
			return &used[i];
		}
	}
	return NULL;
}

int hubctl_alloc_next(const struct hubd_prefix *subnet, const struct hubd_prefix *used,
		      size_t n_used, struct hubd_prefix *ret)
{
	unsigned bits = family_bits(subnet->family);
	struct range r;
	u128 v;

	if (!bits || subnet->cidr > bits)
		return -EINVAL;
	r = usable_range(subnet);
	v = r.lo;
	while (v <= r.hi) {
		const struct hubd_prefix *u = find_used(v, subnet->family, used, n_used, NULL);
		u128 end;

		if (!u) {
			*ret = (struct hubd_prefix){.family = subnet->family, .cidr = bits};
			prefix_set_value(ret, v);
			return 0;
		}
		/* Jump past the whole used prefix; stop before wrapping around. */
		end = prefix_range(u).hi;
		if (end >= r.hi)
			break;
		v = end + 1;
	}
	return -ENOSPC;
}

int hubctl_alloc_check(const struct hubd_prefix *subnet, const struct hubd_prefix *used,
		       size_t n_used, const struct hubd_prefix *addr, size_t *ret_conflict)
{
	unsigned bits = family_bits(subnet->family);
	struct range r;
	u128 v;

	if (!bits || addr->family != subnet->family || !hubd_prefix_contains(subnet, addr))
		return -EDOM;
	v = prefix_value(addr);
	r = usable_range(subnet);
	if (v < r.lo || v > r.hi)
		return -EADDRNOTAVAIL;
	if (find_used(v, addr->family, used, n_used, ret_conflict))
		return -EEXIST;
	return 0;
}
