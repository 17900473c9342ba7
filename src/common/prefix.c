/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IP prefixes and endpoints as written in hubd's configuration. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

static size_t prefix_bytes(const struct hubd_prefix *p)
{
	return p->family == AF_INET ? 4 : 16;
}

static const uint8_t *prefix_addr(const struct hubd_prefix *p)
{
	return (const uint8_t *)&p->addr;
}

/* Are the first cidr bits of a and b equal? */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned cidr)
{
	unsigned full = cidr / 8, rest = cidr % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (!rest)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool has_host_bits(const struct hubd_prefix *p)
{
	const uint8_t *a = prefix_addr(p);
	size_t n = prefix_bytes(p);

	for (size_t i = 0; i < n; i++) {
		unsigned first = i * 8;
		uint8_t keep;

		if (first + 8 <= p->cidr)
			continue;
		keep = first >= p->cidr ? 0 : (uint8_t)(0xff << (8 - (p->cidr - first)));
		if (a[i] & ~keep)
			return true;
	}
	return false;
}

/* Digits only, no sign, no leading zeros beyond "0" itself, at most 3 of them. */
static int parse_cidr(const char *s, unsigned *ret)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

int hubd_prefix_parse(const char *s, struct hubd_prefix *ret, bool *ret_host_bits)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct hubd_prefix p = {0};
	unsigned cidr, max;

	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, &p.addr.in) == 1)
		p.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &p.addr.in6) == 1)
		p.family = AF_INET6;
	else
		return -EINVAL;
	max = p.family == AF_INET ? 32 : 128;
	cidr = max;
	if (slash && parse_cidr(slash + 1, &cidr) < 0)
		return -EINVAL;
	if (cidr > max)
		return -ERANGE;
	p.cidr = (uint8_t)cidr;
	if (ret_host_bits)
		*ret_host_bits = has_host_bits(&p);
	*ret = p;
	return 0;
}

void hubd_prefix_mask(struct hubd_prefix *p)
{
	uint8_t *a = (uint8_t *)&p->addr;
	size_t n = prefix_bytes(p);

	for (size_t i = 0; i < n; i++) {
		unsigned first = i * 8;

		if (first + 8 <= p->cidr)
			continue;
		a[i] &= first >= p->cidr ? 0 : (uint8_t)(0xff << (8 - (p->cidr - first)));
	}
}

void hubd_prefix_format(const struct hubd_prefix *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, &p->addr, addr, sizeof(addr)))
		strcpy(addr, "?");
	snprintf(buf, len, "%s/%u", addr, p->cidr);
}

bool hubd_prefix_contains(const struct hubd_prefix *outer, const struct hubd_prefix *inner)
{
	if (outer->family != inner->family || outer->cidr > inner->cidr)
		return false;
	return bits_equal(prefix_addr(outer), prefix_addr(inner), outer->cidr);
}

bool hubd_prefix_overlap(const struct hubd_prefix *a, const struct hubd_prefix *b)
{
	return hubd_prefix_contains(a, b) || hubd_prefix_contains(b, a);
}

bool hubd_prefix_is_host(const struct hubd_prefix *p)
{
	return p->cidr == prefix_bytes(p) * 8;
}

void hubd_prefix_format_addr(const struct hubd_prefix *p, char *buf, size_t len)
{
	if (!inet_ntop(p->family, &p->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/*
 * Address before length: among masked prefixes, each one then sorts right
 * before the prefixes it contains, so one sweep over a sorted list finds
 * nesting. Any total order would do for qsort and bsearch alone.
 */
int hubd_prefix_cmp(const void *pa, const void *pb)
{
	const struct hubd_prefix *a = pa, *b = pb;
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(prefix_addr(a), prefix_addr(b), prefix_bytes(a));
	if (r)
		return r < 0 ? -1 : 1;
	return a->cidr < b->cidr ? -1 : a->cidr > b->cidr;
}

static int parse_port(const char *s, uint16_t *ret)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -ERANGE;
	*ret = (uint16_t)v;
	return 0;
}

/* Host names as resolvers accept them: letters, digits, '-', '_' and dots. */
static bool valid_hostname(const char *h, size_t n)
{
	if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* "[v6]" or "[v6%zone]" */
static bool valid_bracketed(const char *h, size_t n)
{
	char buf[INET6_ADDRSTRLEN + IFNAMSIZ + 1];
	struct in6_addr a;
	char *pct;

	if (n < 2 || n - 2 >= sizeof(buf))
		return false;
	memcpy(buf, h + 1, n - 2);
	buf[n - 2] = '\0';
	pct = strchr(buf, '%');
	if (pct) {
		*pct = '\0';
		if (!hubd_is_valid_ifname(pct + 1))
			return false;
	}
	return inet_pton(AF_INET6, buf, &a) == 1;
}

int hubd_endpoint_parse(const char *s, char **ret_host, uint16_t *ret_port)
{
	const char *colon = strrchr(s, ':');
	size_t hlen;
	uint16_t port;
	char *host;
	int r;

	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 2 || s[hlen - 1] != ']' || !valid_bracketed(s, hlen))
			return -EINVAL;
	} else if (memchr(s, ':', hlen) || !valid_hostname(s, hlen)) {
		/* An unbracketed IPv6 address is ambiguous with its port. */
		return -EINVAL;
	}
	r = parse_port(colon + 1, &port);
	if (r < 0)
		return r;
	if (s[0] == '[')
		host = strndup(s + 1, hlen - 2);
	else
		host = strndup(s, hlen);
	if (!host)
		return -ENOMEM;
	*ret_host = host;
	*ret_port = port;
	return 0;
}

static uint64_t load_be64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

void hubd_prefix_u128(const struct hubd_prefix *p, uint64_t ret[2])
{
	uint8_t a[16] = {0};

	memcpy(a, &p->addr, p->family == AF_INET ? 4 : 16);
	ret[0] = load_be64(a);
	ret[1] = load_be64(a + 8);
}
