/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libwgnl unit tests: the set-message builder (read back with an independent
 * decoder), the dump parser (fed by the fake kernel's dump writer,
 * fake-kernel.c), the socket against the fake kernel, and the key helpers.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include "hubd/wgnl.h"
#include "../../lib/wgnl-internal.h"
#include "fake-kernel.h"

#define FAMILY FAKE_FAMILY

/* ---- fixtures ---- */

static void make_key(wgnl_key k, unsigned seed, unsigned salt)
{
	for (unsigned i = 0; i < WGNL_KEY_LEN; i++)
		k[i] = (uint8_t)((seed * 2654435761u + salt * 40503u + i * 97u) >> (i % 8));
	k[0] = (uint8_t)seed;
	k[1] = (uint8_t)(seed >> 8);
	k[2] = (uint8_t)(seed >> 16);
	k[3] = (uint8_t)salt;
}

static void make_aip(struct wgnl_allowedip *a, unsigned peer, unsigned j)
{
	memset(a, 0, sizeof(*a));
	if (j % 3 == 2) {
		a->family = AF_INET6;
		a->cidr = 128;
		a->ip6.s6_addr[0] = 0xfd;
		memcpy(&a->ip6.s6_addr[8], &peer, sizeof(peer));
		memcpy(&a->ip6.s6_addr[12], &j, sizeof(j));
	} else {
		a->family = AF_INET;
		a->cidr = 32;
		a->ip4.s_addr = htonl(0x0a000000u + peer * 100000u + j);
	}
}

/* n peers; peer 0 has big_aips allowed IPs if non-zero, the others n_aips; a
 * PSK when i is odd, an endpoint alternating v4/v6, a keepalive. The last
 * n_remove peers are removals, which the builder must move to the front. */
static struct wgnl_device *make_device(size_t n, size_t n_aips, size_t big_aips, size_t n_remove)
{
	struct wgnl_device *dev = wgnl_device_new("wgtest0");

	ck_assert_ptr_nonnull(dev);
	dev->flags = WGNL_DEV_HAS_PRIVATE_KEY | WGNL_DEV_HAS_LISTEN_PORT | WGNL_DEV_HAS_FWMARK |
		     WGNL_DEV_REPLACE_PEERS;
	make_key(dev->private_key, 999999, 1);
	dev->listen_port = 51820;
	dev->fwmark = 0x42;
	for (size_t i = 0; i < n; i++) {
		struct wgnl_peer *p = wgnl_device_add_peer(dev);
		size_t na = i == 0 && big_aips ? big_aips : n_aips;

		ck_assert_ptr_nonnull(p);
		make_key(p->public_key, (unsigned)i, 2);
		if (i >= n - n_remove) {
			p->flags = WGNL_PEER_REMOVE;
			continue;
		}
		p->flags =
		    WGNL_PEER_REPLACE_ALLOWEDIPS | WGNL_PEER_HAS_KEEPALIVE | WGNL_PEER_HAS_ENDPOINT;
		if (i % 2) {
			p->flags |= WGNL_PEER_HAS_PSK;
			make_key(p->preshared_key, (unsigned)i, 3);
		}
		p->persistent_keepalive = (uint16_t)(i % 60);
		if (i % 2) {
			p->endpoint.addr6.sin6_family = AF_INET6;
			p->endpoint.addr6.sin6_port = htons((uint16_t)(1000 + i));
			p->endpoint.addr6.sin6_addr.s6_addr[15] = (uint8_t)i;
		} else {
			p->endpoint.addr4.sin_family = AF_INET;
			p->endpoint.addr4.sin_port = htons((uint16_t)(2000 + i));
			p->endpoint.addr4.sin_addr.s_addr = htonl(0xc0000200u + (uint32_t)i);
		}
		for (size_t j = 0; j < na; j++) {
			struct wgnl_allowedip a;

			make_aip(&a, (unsigned)i, (unsigned)j);
			ck_assert_int_eq(wgnl_peer_add_allowedip(&dev->peers[i], &a), 0);
		}
	}
	return dev;
}

/* ---- an independent decoder of built set messages ---- */

struct dpeer {
	wgnl_key key;
	uint32_t flags;
	bool has_psk, has_endpoint, has_keepalive;
	size_t n_aips;
	struct wgnl_allowedip *aips;
};

struct dmsg {
	uint32_t len, seq;
	uint16_t flags;
	bool ifname, privkey, port, fwmark, devflags;
	size_t peers_nest_len;
	size_t n_peers;
	struct dpeer *peers;
};

struct decoded {
	size_t n;
	struct dmsg m[4096];
	size_t buf_size;
};

static void decode_aip(const struct nlattr *nest, struct wgnl_allowedip *out)
{
	int seen = 0;

	memset(out, 0, sizeof(*out));
	for_each_strict(a, mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest))
	{
		switch (mnl_attr_get_type(a)) {
		case WGALLOWEDIP_A_FAMILY:
			ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_U16), 0);
			out->family = mnl_attr_get_u16(a);
			seen |= 1;
			break;
		case WGALLOWEDIP_A_IPADDR:
			ck_assert(mnl_attr_get_payload_len(a) == 4 ||
				  mnl_attr_get_payload_len(a) == 16);
			memcpy(&out->ip6, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
			seen |= 2;
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_U8), 0);
			out->cidr = mnl_attr_get_u8(a);
			seen |= 4;
			break;
		default:
			ck_abort_msg("unexpected allowed IP attribute %d", mnl_attr_get_type(a));
		}
	}
	ck_assert_int_eq(seen, 7);
}

static void decode_peer(const struct nlattr *nest, struct dpeer *p)
{
	bool has_key = false;

	memset(p, 0, sizeof(*p));
	for_each_strict(a, mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest))
	{
		switch (mnl_attr_get_type(a)) {
		case WGPEER_A_PUBLIC_KEY:
			ck_assert_int_eq(mnl_attr_get_payload_len(a), WGNL_KEY_LEN);
			memcpy(p->key, mnl_attr_get_payload(a), WGNL_KEY_LEN);
			has_key = true;
			break;
		case WGPEER_A_FLAGS:
			ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_U32), 0);
			p->flags = mnl_attr_get_u32(a);
			break;
		case WGPEER_A_PRESHARED_KEY:
			ck_assert_int_eq(mnl_attr_get_payload_len(a), WGNL_KEY_LEN);
			p->has_psk = true;
			break;
		case WGPEER_A_ENDPOINT:
			p->has_endpoint = true;
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			p->has_keepalive = true;
			break;
		case WGPEER_A_ALLOWEDIPS: {
			size_t cap = mnl_attr_get_payload_len(a) / 28 + 1;

			p->aips = calloc(cap, sizeof(*p->aips));
			for_each_strict(b, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a))
			{
				ck_assert_uint_lt(p->n_aips, cap);
				decode_aip(b, &p->aips[p->n_aips++]);
			}
			break;
		}
		default:
			ck_abort_msg("unexpected peer attribute %d", mnl_attr_get_type(a));
		}
	}
	ck_assert(has_key);
}

static int decode_emit(const struct nlmsghdr *nlh, void *user)
{
	struct decoded *d = user;
	struct dmsg *m = &d->m[d->n++];
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
	size_t off = MNL_ALIGN(sizeof(*genl));

	ck_assert_uint_lt(d->n, 4096);
	ck_assert_uint_le(nlh->nlmsg_len, d->buf_size);
	ck_assert_int_eq(nlh->nlmsg_type, FAMILY);
	ck_assert_int_eq(genl->cmd, WG_CMD_SET_DEVICE);
	m->len = nlh->nlmsg_len;
	m->seq = nlh->nlmsg_seq;
	m->flags = nlh->nlmsg_flags;
	for_each_strict(a, mnl_nlmsg_get_payload_offset(nlh, off),
			nlh->nlmsg_len - MNL_NLMSG_HDRLEN - off)
	{
		switch (mnl_attr_get_type(a)) {
		case WGDEVICE_A_IFNAME:
			ck_assert_str_eq(mnl_attr_get_str(a), "wgtest0");
			m->ifname = true;
			break;
		case WGDEVICE_A_PRIVATE_KEY:
			m->privkey = true;
			break;
		case WGDEVICE_A_LISTEN_PORT:
			m->port = true;
			break;
		case WGDEVICE_A_FWMARK:
			m->fwmark = true;
			break;
		case WGDEVICE_A_FLAGS:
			ck_assert_uint_eq(mnl_attr_get_u32(a), WGDEVICE_F_REPLACE_PEERS);
			m->devflags = true;
			break;
		case WGDEVICE_A_PEERS: {
			size_t cap = mnl_attr_get_payload_len(a) / 40 + 1;

			m->peers_nest_len = a->nla_len;
			m->peers = calloc(cap, sizeof(*m->peers));
			for_each_strict(p, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a))
			{
				ck_assert_uint_lt(m->n_peers, cap);
				decode_peer(p, &m->peers[m->n_peers++]);
			}
			break;
		}
		default:
			ck_abort_msg("unexpected device attribute %d", mnl_attr_get_type(a));
		}
	}
	return 0;
}

static void decoded_free(struct decoded *d)
{
	for (size_t i = 0; i < d->n; i++) {
		for (size_t j = 0; j < d->m[i].n_peers; j++)
			free(d->m[i].peers[j].aips);
		free(d->m[i].peers);
	}
	free(d);
}

/* ---- builder tests ---- */

struct build_case {
	const char *name;
	size_t n_peers, n_aips, big_aips, n_remove, buf_size;
	bool multi; /* the set must need more than one message */
};

static const struct build_case build_cases[] = {
    {"no peers", 0, 0, 0, 0, WGNL_SET_BUF_SIZE, false},
    {"one peer", 1, 3, 0, 0, WGNL_SET_BUF_SIZE, false},
    {"one removal", 1, 0, 0, 1, WGNL_SET_BUF_SIZE, false},
    {"many peers", 2000, 2, 0, 0, WGNL_SET_BUF_SIZE, true},
    {"many peers, small buffer", 300, 2, 0, 0, 4096, true},
    {"removals and additions", 3000, 1, 0, 1500, WGNL_SET_BUF_SIZE, true},
    {"peer with 5000 allowed IPs", 1, 0, 5000, 0, WGNL_SET_BUF_SIZE, true},
    {"big peer among others", 50, 4, 20000, 0, WGNL_SET_BUF_SIZE, true},
    {"big peer, small buffer", 3, 2, 3000, 0, 1024, true},
};

static bool aip_eq(const struct wgnl_allowedip *a, const struct wgnl_allowedip *b)
{
	size_t len = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && a->cidr == b->cidr && !memcmp(&a->ip6, &b->ip6, len);
}

/* Does message m end one fragment early? Every message but the last must be
 * nearly full: the buffer or the u16 peers nest is the limit. */
static void check_full(const struct decoded *d, size_t i)
{
	const struct dmsg *m = &d->m[i];
	const size_t slack = 256;

	ck_assert_msg(m->len + slack > d->buf_size || m->peers_nest_len + slack > 65535,
		      "message %zu of %zu only %u bytes (nest %zu)", i, d->n, m->len,
		      m->peers_nest_len);
}

START_TEST(test_build)
{
	const struct build_case *c = &build_cases[_i];
	struct wgnl_device *dev = make_device(c->n_peers, c->n_aips, c->big_aips, c->n_remove);
	struct decoded *d = calloc(1, sizeof(*d));
	size_t *seen = calloc(c->n_peers + 1, sizeof(*seen)), cur = SIZE_MAX;
	bool adding = false;
	int r;

	d->buf_size = c->buf_size;
	r = wgnl_build_set(dev, FAMILY, 100, c->buf_size, decode_emit, d);
	ck_assert_int_eq(r, (int)d->n);
	ck_assert_int_ge(r, 1);
	ck_assert_msg(c->multi == (r > 1), "%s: %d messages", c->name, r);
	for (size_t i = 0; i < d->n; i++) {
		const struct dmsg *m = &d->m[i];

		ck_assert_uint_eq(m->seq, 100 + i);
		ck_assert_uint_eq(m->flags, NLM_F_REQUEST | NLM_F_ACK);
		ck_assert(m->ifname);
		/* device settings and REPLACE_PEERS: first message only */
		ck_assert(m->privkey == (i == 0) && m->port == (i == 0) && m->fwmark == (i == 0) &&
			  m->devflags == (i == 0));
		ck_assert_uint_le(m->peers_nest_len, 65535);
		if (i + 1 < d->n)
			check_full(d, i);
		for (size_t j = 0; j < m->n_peers; j++) {
			const struct dpeer *p = &m->peers[j];
			size_t idx =
			    (size_t)p->key[0] | (size_t)p->key[1] << 8 | (size_t)p->key[2] << 16;
			const struct wgnl_peer *src = &dev->peers[idx];
			bool cont = idx == cur;

			ck_assert_uint_lt(idx, c->n_peers);
			ck_assert_mem_eq(p->key, src->public_key, WGNL_KEY_LEN);
			/* a continuation only ever starts a message */
			ck_assert(!cont || j == 0);
			if (src->flags & WGNL_PEER_REMOVE) {
				ck_assert_uint_eq(p->flags, WGPEER_F_REMOVE_ME);
				ck_assert(!adding); /* removals before additions */
				ck_assert_uint_eq(p->n_aips, 0);
				seen[idx]++;
				continue;
			}
			adding = true;
			ck_assert_uint_eq(p->flags, cont ? 0 : WGPEER_F_REPLACE_ALLOWEDIPS);
			ck_assert(p->has_psk == (!cont && (src->flags & WGNL_PEER_HAS_PSK)));
			ck_assert(p->has_endpoint == !cont && p->has_keepalive == !cont);
			if (!cont) {
				ck_assert_uint_eq(seen[idx], 0);
				cur = idx;
			}
			ck_assert(src->n_allowedips == 0 || p->n_aips > 0);
			for (size_t k = 0; k < p->n_aips; k++) {
				ck_assert_uint_lt(seen[idx], src->n_allowedips);
				ck_assert(aip_eq(&p->aips[k], &src->allowedips[seen[idx]]));
				seen[idx]++;
			}
		}
	}
	/* every allowed IP arrived exactly once, every removal once */
	for (size_t i = 0; i < c->n_peers; i++)
		ck_assert_uint_eq(seen[i],
				  i >= c->n_peers - c->n_remove ? 1 : dev->peers[i].n_allowedips);
	free(seen);
	decoded_free(d);
	wgnl_device_free(dev);
}
END_TEST

static int count_emit(const struct nlmsghdr *nlh, void *user)
{
	(*(int *)user)++;
	return *(int *)user >= 2 ? -EIO : 0;
}

START_TEST(test_build_errors)
{
	struct wgnl_device *dev = make_device(3, 2, 5000, 0);
	struct wgnl_allowedip bad = {.family = AF_INET, .cidr = 33};
	int n = 0;

	/* emit's error stops the build and is returned */
	ck_assert_int_eq(wgnl_build_set(dev, FAMILY, 1, WGNL_SET_BUF_SIZE, count_emit, &n), -EIO);
	ck_assert_int_eq(n, 2);
	/* a buffer too small for one peer */
	ck_assert_int_eq(wgnl_build_set(dev, FAMILY, 1, 128, count_emit, &n), -EMSGSIZE);
	dev->peers[1].endpoint.addr.sa_family = AF_UNIX;
	ck_assert_int_eq(wgnl_build_set(dev, FAMILY, 1, WGNL_SET_BUF_SIZE, count_emit, &n),
			 -EAFNOSUPPORT);
	ck_assert_int_eq(wgnl_peer_add_allowedip(&dev->peers[1], &bad), -EINVAL);
	bad.family = AF_INET6;
	bad.cidr = 129;
	ck_assert_int_eq(wgnl_peer_add_allowedip(&dev->peers[1], &bad), -EINVAL);
	bad.family = AF_UNIX;
	bad.cidr = 0;
	ck_assert_int_eq(wgnl_peer_add_allowedip(&dev->peers[1], &bad), -EINVAL);
	wgnl_device_free(dev);
	ck_assert_ptr_null(wgnl_device_new("0123456789abcdef"));
	wgnl_device_free(NULL);
}
END_TEST

/* The peer array grows from the heap into its own mapping and on by
 * mremap(): every peer keeps its contents, each new one starts zeroed. */
START_TEST(test_device_growth)
{
	struct wgnl_device *dev = wgnl_device_new("wg0");
	const size_t n = 20000;

	ck_assert_ptr_nonnull(dev);
	for (size_t i = 0; i < n; i++) {
		struct wgnl_peer *p = wgnl_device_add_peer(dev);
		struct wgnl_allowedip a = {.family = AF_INET, .cidr = 32};

		ck_assert_ptr_nonnull(p);
		ck_assert(wgnl_key_is_zero(p->public_key));
		ck_assert_uint_eq(p->n_allowedips, 0);
		memcpy(p->public_key, &i, sizeof(i));
		for (uint32_t j = 0; j < i % 4; j++) {
			a.ip4.s_addr = htonl((uint32_t)i * 4 + j);
			ck_assert_int_eq(wgnl_peer_add_allowedip(p, &a), 0);
		}
	}
	ck_assert_uint_eq(dev->n_peers, n);
	ck_assert_uint_ge(dev->cap_peers, n);
	for (size_t i = 0; i < n; i++) {
		const struct wgnl_peer *p = &dev->peers[i];

		ck_assert_mem_eq(p->public_key, &i, sizeof(i));
		ck_assert_uint_eq(p->n_allowedips, i % 4);
		for (uint32_t j = 0; j < i % 4; j++)
			ck_assert_uint_eq(ntohl(p->allowedips[j].ip4.s_addr), (uint32_t)i * 4 + j);
	}
	wgnl_device_free(dev);
}
END_TEST

/* ---- the parser, on the fake kernel's dump writer (fake-kernel.c) ---- */

/* q, read back from kernel_dump's messages, is p: complete, allowed IPs in order. */
static void assert_same_peer(const struct wgnl_peer *p, const struct wgnl_peer *q)
{
	ck_assert_mem_eq(p->public_key, q->public_key, 32);
	ck_assert_mem_eq(p->preshared_key, q->preshared_key, 32);
	ck_assert(!(p->flags & WGNL_PEER_HAS_PSK) == !(q->flags & WGNL_PEER_HAS_PSK));
	ck_assert_int_eq(p->endpoint.addr.sa_family, q->endpoint.addr.sa_family);
	ck_assert_mem_eq(&p->endpoint, &q->endpoint, sizeof(p->endpoint));
	ck_assert_uint_eq(p->persistent_keepalive, q->persistent_keepalive);
	ck_assert_uint_eq(p->rx_bytes, q->rx_bytes);
	ck_assert_uint_eq(p->tx_bytes, q->tx_bytes);
	ck_assert_int_eq(p->last_handshake_sec, q->last_handshake_sec);
	ck_assert_int_eq(p->last_handshake_nsec, q->last_handshake_nsec);
	ck_assert_uint_eq(q->protocol_version, 1);
	ck_assert_uint_eq(p->n_allowedips, q->n_allowedips);
	for (size_t j = 0; j < p->n_allowedips; j++)
		ck_assert(aip_eq(&p->allowedips[j], &q->allowedips[j]));
}

static void assert_same_device(const struct wgnl_device *a, const struct wgnl_device *b)
{
	ck_assert_str_eq(a->name, b->name);
	ck_assert_uint_eq(b->ifindex, 7);
	ck_assert_uint_eq(a->listen_port, b->listen_port);
	ck_assert_uint_eq(a->fwmark, b->fwmark);
	ck_assert_mem_eq(a->private_key, b->private_key, 32);
	ck_assert(b->flags & WGNL_DEV_HAS_PRIVATE_KEY && b->flags & WGNL_DEV_HAS_PUBLIC_KEY);
	ck_assert_uint_eq(a->n_peers, b->n_peers);
	for (size_t i = 0; i < a->n_peers; i++)
		assert_same_peer(&a->peers[i], &b->peers[i]);
}

/* With WGNL_SEED_DIR set, each dump is also written there as one file of
 * concatenated messages: the fuzzer's seed corpus (tests/fuzz/corpus/dump). */
static void write_seed(const char *name, const struct kmsgs *k)
{
	const char *dir = getenv("WGNL_SEED_DIR");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/model-%s", dir, name);
	for (char *s = path + strlen(dir) + 1; *s; s++)
		if (*s == ' ')
			*s = '-';
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < k->n; i++)
		ck_assert_uint_eq(fwrite(k->m[i], k->m[i]->nlmsg_len, 1, f), 1);
	fclose(f);
}

struct parse_case {
	const char *name;
	size_t n_peers, n_aips, big_aips, max_msg;
	bool split_peer; /* some peer must continue in a later message */
};

static const struct parse_case parse_cases[] = {
    {"no peers", 0, 0, 0, 32768, false},
    {"one peer", 1, 2, 0, 32768, false},
    {"many peers", 3000, 3, 0, 32768, false},
    {"peer split across two messages", 1, 0, 1500, 32768, true},
    {"peer split across many messages", 5, 3, 20000, 4096, true},
};

START_TEST(test_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	struct wgnl_device *src = make_device(c->n_peers, c->n_aips, c->big_aips, 0);
	struct wgnl_device *got = wgnl_device_new("x");
	struct kmsgs *k = calloc(1, sizeof(*k));

	wgnl_key_public_from_private(src->public_key, src->private_key);
	for (size_t i = 0; i < src->n_peers; i++) {
		src->peers[i].rx_bytes = i * 1000 + 1;
		src->peers[i].tx_bytes = (uint64_t)i << 40;
		src->peers[i].last_handshake_sec = (int64_t)i + 1700000000;
		src->peers[i].last_handshake_nsec = (int64_t)i;
	}
	kernel_dump(src, c->max_msg, k);
	write_seed(c->name, k);
	for (size_t i = 0; i < k->n; i++)
		ck_assert_int_eq(wgnl_parse_dump_msg(k->m[i], got), 0);
	/* more messages than peers: some peer really did continue */
	ck_assert_msg(!c->split_peer || k->n > c->n_peers, "%s: %zu messages", c->name, k->n);
	ck_assert_msg(c->n_peers < 1000 || k->n > 1, "%s: one message", c->name);
	assert_same_device(src, got);
	wgnl_device_free(got);
	kmsgs_free(k);
	free(k);
	wgnl_device_free(src);
}
END_TEST

/* WGNL_DEV_NO_ALLOWEDIPS: everything but the allowed IPs, even for a peer split across
 * messages (its continuation carries only allowed IPs). */
START_TEST(test_parse_no_allowedips)
{
	struct wgnl_device *src = make_device(5, 3, 20000, 0), *got = wgnl_device_new("x");
	struct kmsgs k = {0};

	for (size_t i = 0; i < src->n_peers; i++) {
		src->peers[i].rx_bytes = i + 11;
		src->peers[i].last_handshake_sec = (int64_t)i + 1700000000;
	}
	kernel_dump(src, 4096, &k);
	ck_assert_uint_gt(k.n, src->n_peers);
	got->flags = WGNL_DEV_NO_ALLOWEDIPS;
	for (size_t i = 0; i < k.n; i++)
		ck_assert_int_eq(wgnl_parse_dump_msg(k.m[i], got), 0);
	ck_assert_uint_eq(got->n_peers, src->n_peers);
	for (size_t i = 0; i < src->n_peers; i++) {
		ck_assert_mem_eq(got->peers[i].public_key, src->peers[i].public_key, 32);
		ck_assert_uint_eq(got->peers[i].rx_bytes, i + 11);
		ck_assert_int_eq(got->peers[i].last_handshake_sec, (int64_t)i + 1700000000);
		ck_assert_uint_eq(got->peers[i].n_allowedips, 0);
	}
	wgnl_device_free(got);
	kmsgs_free(&k);
	wgnl_device_free(src);
}
END_TEST

/* What a walk handed out, checked against the device the messages came from as it goes. */
struct walked {
	const struct wgnl_device *src;
	size_t devices, peers, held_max;
};

static int check_walked(const struct wgnl_device *dev, const struct wgnl_peer *p, void *user)
{
	struct walked *w = user;
	const struct wgnl_peer *want;

	/* what the dump said, and nothing of the walk's own */
	ck_assert_uint_eq(dev->flags, WGNL_DEV_HAS_PRIVATE_KEY | WGNL_DEV_HAS_PUBLIC_KEY |
					  WGNL_DEV_HAS_LISTEN_PORT | WGNL_DEV_HAS_FWMARK);
	if (!p) {
		ck_assert_uint_eq(w->peers, 0); /* the device comes first */
		ck_assert_uint_eq(dev->listen_port, w->src->listen_port);
		ck_assert_mem_eq(dev->private_key, w->src->private_key, 32);
		w->devices++;
		return 0;
	}
	ck_assert_uint_lt(w->peers, w->src->n_peers);
	want = &w->src->peers[w->peers++];
	ck_assert_mem_eq(p->public_key, want->public_key, 32);
	ck_assert_uint_eq(p->persistent_keepalive, want->persistent_keepalive);
	/* complete: a peer split across messages is merged before it is handed out */
	ck_assert_uint_eq(p->n_allowedips, want->n_allowedips);
	for (size_t j = 0; j < p->n_allowedips; j++)
		ck_assert_mem_eq(&p->allowedips[j], &want->allowedips[j], sizeof(p->allowedips[j]));
	return 0;
}

/*
 * wgnl_walk_device's steps on the messages a kernel would send: a peer with
 * 20,000 allowed IPs spans several messages, the others share them. Each
 * peer comes out once, complete and in order, the device first; no more
 * than one message's peers are held at a time.
 */
START_TEST(test_walk_messages)
{
	struct wgnl_device *src = make_device(300, 3, 20000, 0), *dev = wgnl_device_new("x");
	struct walked w = {.src = src};
	struct kmsgs k = {0};
	bool device_done = false;

	kernel_dump(src, 4096, &k);
	ck_assert_uint_gt(k.n, 20);
	for (size_t i = 0; i < k.n; i++) {
		ck_assert_int_eq(wgnl_parse_dump_msg(k.m[i], dev), 0);
		w.held_max = dev->n_peers > w.held_max ? dev->n_peers : w.held_max;
		ck_assert_int_eq(wgnl_hand_out_peers(dev, false, &device_done, check_walked, &w),
				 0);
		ck_assert(device_done);
		ck_assert_uint_le(dev->n_peers, 1); /* only the last, which may go on */
	}
	ck_assert_int_eq(wgnl_hand_out_peers(dev, true, &device_done, check_walked, &w), 0);
	ck_assert_uint_eq(w.devices, 1);
	ck_assert_uint_eq(w.peers, src->n_peers);
	ck_assert_uint_eq(dev->n_peers, 0);
	ck_assert_uint_lt(w.held_max, 60); /* a 4 KiB message holds a few dozen peers */
	kmsgs_free(&k);
	wgnl_device_free(dev);
	wgnl_device_free(src);
}
END_TEST

/* A walk stops at the first error its function returns, and that is what it returns. */
static int fail_third(const struct wgnl_device *dev, const struct wgnl_peer *p, void *user)
{
	size_t *n = user;

	(void)dev;
	return p && ++*n == 3 ? -ECANCELED : 0;
}

START_TEST(test_walk_stops)
{
	struct wgnl_device *src = make_device(10, 1, 0, 0), *dev = wgnl_device_new("x");
	struct kmsgs k = {0};
	bool device_done = false;
	size_t n = 0;

	kernel_dump(src, 32768, &k);
	ck_assert_int_eq(wgnl_parse_dump_msg(k.m[0], dev), 0);
	ck_assert_int_eq(wgnl_hand_out_peers(dev, true, &device_done, fail_third, &n), -ECANCELED);
	ck_assert_uint_eq(n, 3);
	ck_assert(device_done);
	kmsgs_free(&k);
	wgnl_device_free(dev);
	wgnl_device_free(src);
}
END_TEST

START_TEST(test_parse_dump_intr)
{
	struct wgnl_device *src = make_device(2000, 2, 0, 0), *got = wgnl_device_new("x");
	struct kmsgs k = {0};

	kernel_dump(src, 32768, &k);
	ck_assert_uint_gt(k.n, 2);
	ck_assert_int_eq(wgnl_parse_dump_msg(k.m[0], got), 0);
	k.m[1]->nlmsg_flags |= NLM_F_DUMP_INTR;
	ck_assert_int_eq(wgnl_parse_dump_msg(k.m[1], got), -EINTR);
	kmsgs_free(&k);
	wgnl_device_free(got);
	wgnl_device_free(src);
}
END_TEST

/* ---- the socket, against a fake kernel ----
 *
 * The test is linked with --wrap for libmnl's socket calls (lib/local.mk):
 * libwgnl.a's calls into the shared libmnl come to fake-kernel.c's __wrap_
 * functions, and the socket connected to fake answers them, with
 * kernel_dump()'s messages for a device dump.
 */

#define DUMP_RETRIES 64 /* wgnl.h: after 64 interrupted dumps in a row, -EAGAIN */

static struct fake_kernel fake;

/* A wgnl whose socket is the fake kernel, which dumps dev clean after n_intr dumps of old. */
static struct wgnl *fake_open(struct wgnl_device *dev, const struct wgnl_device *old,
			      size_t max_msg, unsigned n_intr, size_t intr_from)
{
	struct wgnl *nl = NULL;

	fake = (struct fake_kernel){.active = true,
				    .dev = dev,
				    .old = old,
				    .max_msg = max_msg,
				    .n_intr = n_intr,
				    .intr_from = intr_from};
	fake_kernel_connect(&fake);
	ck_assert_int_eq(wgnl_open(&nl), 0);
	ck_assert_ptr_nonnull(nl);
	return nl;
}

static void fake_close(struct wgnl *nl)
{
	wgnl_close(nl);
	ck_assert(!fake.open);
	fake_kernel_clear(&fake);
	fake.active = false;
}

/* The socket is still in step: got, or else a get now, is the clean device. Frees all. */
static void end_in_step(struct wgnl *nl, struct wgnl_device *got, struct wgnl_device *src,
			struct wgnl_device *old)
{
	if (!got)
		ck_assert_int_eq(wgnl_get_device(nl, "wgtest0", &got), 0);
	ck_assert_uint_eq(got->n_peers, src->n_peers);
	wgnl_device_free(got);
	fake_close(nl);
	wgnl_device_free(old);
	wgnl_device_free(src);
}

/* The device the walk tests dump: its big peer, whose allowed IPs span many
 * 4 KiB messages, in the middle, with whole peers before and after it. */
static struct wgnl_device *walk_device(size_t n)
{
	struct wgnl_device *dev = make_device(n, 3, 20000, 0);
	struct wgnl_peer big = dev->peers[0];

	dev->peers[0] = dev->peers[n / 2];
	dev->peers[n / 2] = big;
	for (size_t i = 0; i < n; i++) {
		dev->peers[i].rx_bytes = i * 1000 + 1;
		dev->peers[i].last_handshake_sec = (int64_t)i + 1700000000;
	}
	return dev;
}

/* What the interrupted dumps held: another device, so that nothing of a pass over it
 * can pass for the clean one. */
static struct wgnl_device *old_device(void)
{
	struct wgnl_device *old = make_device(100, 2, 0, 0);

	old->listen_port = 4000;
	make_key(old->private_key, 5, 1);
	return old;
}

/* What a restarting walk handed out, pass by pass; a pass starts with the device. */
struct passes {
	size_t n;			/* passes so far: device calls */
	size_t peers[DUMP_RETRIES + 1]; /* peers handed out in each pass */
	size_t fail_pass, fail_call;	/* fn fails at this call (0: the device) */
	bool failed;
};

static int record_pass(const struct wgnl_device *dev, const struct wgnl_peer *p, void *user)
{
	struct passes *w = user;
	size_t pass = p ? w->n : w->n + 1; /* the device call starts one */
	/* pass n (from 1) is dump n: of the old device while the kernel interrupts them */
	const struct wgnl_device *want = pass <= fake.n_intr ? fake.old : fake.dev;

	ck_assert_msg(!w->failed, "fn called after it failed");
	ck_assert_uint_eq(dev->flags, WGNL_DEV_HAS_PRIVATE_KEY | WGNL_DEV_HAS_PUBLIC_KEY |
					  WGNL_DEV_HAS_LISTEN_PORT | WGNL_DEV_HAS_FWMARK);
	if (!p) {
		ck_assert_uint_lt(w->n, DUMP_RETRIES);
		ck_assert_uint_eq(fake.dumps, w->n + 1); /* once per dump, at its start */
		w->n++;
		ck_assert_uint_eq(dev->listen_port, want->listen_port);
		ck_assert_mem_eq(dev->private_key, want->private_key, 32);
	} else {
		ck_assert_uint_ge(w->n, 1); /* the device comes first */
		ck_assert_uint_lt(w->peers[w->n - 1], want->n_peers);
		/* in order, each once, complete */
		assert_same_peer(&want->peers[w->peers[w->n - 1]++], p);
	}
	if (w->n == w->fail_pass && (p ? w->peers[w->n - 1] : 0) == w->fail_call) {
		w->failed = true;
		return -ECANCELED;
	}
	return 0;
}

struct restart_case {
	const char *name;
	size_t intr_from;
};

static const struct restart_case restart_cases[] = {
    {"flagged from the second message", 1},
    {"flagged from the fourth message", 3},
    {"only NLMSG_DONE flagged", SIZE_MAX},
};

/*
 * One interrupted dump, then a clean one: fn gets the device again and then
 * every peer of the clean dump once, complete and in order, though the first
 * pass had handed out some of another device's.
 */
START_TEST(test_walk_restart)
{
	const struct restart_case *c = &restart_cases[_i];
	struct wgnl_device *src = walk_device(300), *old = old_device();
	struct wgnl *nl = fake_open(src, old, 4096, 1, c->intr_from);
	struct passes w = {0};
	struct kmsgs k = {0};

	kernel_dump(old, 4096, &k);
	ck_assert_uint_gt(k.n, 4); /* the interrupted dump has messages after intr_from */
	kmsgs_free(&k);
	ck_assert_int_eq(wgnl_walk_device(nl, "wgtest0", 0, record_pass, &w), 0);
	ck_assert_uint_eq(fake.dumps, 2);
	ck_assert_uint_eq(w.n, 2);
	/* the first pass stopped where the kernel flagged it (the last peer is held back) */
	ck_assert_uint_gt(w.peers[0], 0);
	ck_assert_uint_lt(w.peers[0], old->n_peers);
	if (c->intr_from == SIZE_MAX)
		ck_assert_uint_eq(w.peers[0], old->n_peers - 1);
	ck_assert_uint_eq(w.peers[1], src->n_peers);
	fake_close(nl);
	wgnl_device_free(old);
	wgnl_device_free(src);
}
END_TEST

/* wgnl_get_device after 1 to 3 interrupted dumps: the clean one, nothing of the others. */
START_TEST(test_get_restart)
{
	struct wgnl_device *src = walk_device(300), *old = old_device(), *got = NULL;
	struct wgnl *nl = fake_open(src, old, 4096, (unsigned)_i, _i == 3 ? SIZE_MAX : (size_t)_i);

	wgnl_key_public_from_private(src->public_key, src->private_key);
	ck_assert_int_eq(wgnl_get_device(nl, "wgtest0", &got), 0);
	ck_assert_uint_eq(fake.dumps, (unsigned)_i + 1);
	assert_same_device(src, got);
	wgnl_device_free(got);
	fake_close(nl);
	wgnl_device_free(old);
	wgnl_device_free(src);
}
END_TEST

/*
 * DUMP_RETRIES dumps, no more: after 63 interrupted ones the 64th is taken,
 * after 64 both the get and the walk give up with -EAGAIN, having freed every
 * device (LeakSanitizer checks), and the socket still works.
 */
START_TEST(test_dump_give_up)
{
	bool walk = _i & 1, give_up = _i & 2;
	unsigned n_intr = give_up ? DUMP_RETRIES : DUMP_RETRIES - 1;
	struct wgnl_device *src = make_device(100, 2, 0, 0), *old = old_device(), *got = NULL;
	struct wgnl *nl = fake_open(src, old, 4096, n_intr, 1);
	struct passes w = {0};
	int r = walk ? wgnl_walk_device(nl, "wgtest0", 0, record_pass, &w)
		     : wgnl_get_device(nl, "wgtest0", &got);

	ck_assert_int_eq(r, (give_up ? -EAGAIN : 0));
	ck_assert_uint_eq(fake.dumps, DUMP_RETRIES);
	ck_assert_uint_eq(w.n, walk ? DUMP_RETRIES : 0);
	if (walk && give_up) /* the last pass, too, stopped at the kernel's flag */
		ck_assert_uint_lt(w.peers[DUMP_RETRIES - 1], old->n_peers);
	else
		ck_assert_uint_eq(w.peers[DUMP_RETRIES - 1], walk ? src->n_peers : 0);
	ck_assert(!got == (walk || give_up));
	end_in_step(nl, got, src, old);
}
END_TEST

struct fail_case {
	const char *name;
	size_t pass, call; /* call 0 is the device's */
	unsigned dumps;	   /* dumps the walk made */
};

static const struct fail_case fail_cases[] = {
    {"at the restarted pass's device", 2, 0, 2},
    {"at the restarted pass's third peer", 2, 3, 2},
    {"at the restarted pass's big peer", 2, 151, 2},
    {"in the interrupted pass, before the flag", 1, 2, 1},
};

/* fn's error stops the walk, which returns it, whether the pass is a restart or is
 * interrupted later (no restart then); the socket stays in step for the next request. */
START_TEST(test_walk_restart_fails)
{
	const struct fail_case *c = &fail_cases[_i];
	struct wgnl_device *src = walk_device(300), *old = old_device();
	struct wgnl *nl = fake_open(src, old, 4096, 1, 3);
	struct passes w = {.fail_pass = c->pass, .fail_call = c->call};

	ck_assert_int_eq(wgnl_walk_device(nl, "wgtest0", 0, record_pass, &w), -ECANCELED);
	ck_assert(w.failed);
	ck_assert_uint_eq(w.n, c->pass);
	ck_assert_uint_eq(w.peers[c->pass - 1], c->call);
	ck_assert_uint_eq(fake.dumps, c->dumps);
	fake.n_intr = 0;
	end_in_step(nl, NULL, src, old);
}
END_TEST

static struct wgnl_peer *set_peer(struct wgnl_device *set, unsigned seed, uint32_t flags,
				  const char *aips)
{
	struct wgnl_peer *p = wgnl_device_add_peer(set);
	char buf[64], *save = NULL;

	ck_assert_ptr_nonnull(p);
	make_key(p->public_key, seed, 2);
	p->flags = flags;
	snprintf(buf, sizeof(buf), "%s", aips);
	for (char *a = strtok_r(buf, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
		struct wgnl_allowedip aip = {.family = AF_INET, .cidr = 32};

		ck_assert_int_eq(inet_pton(AF_INET, a, &aip.ip4), 1);
		ck_assert_int_eq(wgnl_peer_add_allowedip(p, &aip), 0);
	}
	return p;
}

/* Send set, then check that the fake kernel recorded it as sent and that a dump shows dev. */
static void set_and_check(struct wgnl *nl, struct wgnl_device *set, const struct wgnl_device *dev)
{
	struct wgnl_device *got = NULL;
	char *sent = fake_device_text(set, true), *recorded, *want, *dumped;

	ck_assert_int_eq(wgnl_set_device(nl, set, NULL), 0);
	recorded = fake_device_text(fake.sets[fake.n_sets - 1], true);
	ck_assert_str_eq(recorded, sent);
	ck_assert_int_eq(wgnl_get_device(nl, "wgtest0", &got), 0);
	want = fake_device_text(dev, false);
	dumped = fake_device_text(got, false);
	ck_assert_str_eq(dumped, want);
	free(sent);
	free(recorded);
	free(want);
	free(dumped);
	wgnl_device_free(got);
	wgnl_device_free(set);
}

static const struct wgnl_peer *model_peer(unsigned seed)
{
	wgnl_key key;

	make_key(key, seed, 2);
	for (size_t i = 0; i < fake.dev->n_peers; i++)
		if (!memcmp(fake.dev->peers[i].public_key, key, WGNL_KEY_LEN))
			return &fake.dev->peers[i];
	return NULL;
}

/*
 * The fake kernel applies set requests as drivers/net/wireguard/netlink.c
 * does (test-reconcile relies on it): it adds peers, updates only what is
 * sent, ignores UPDATE_ONLY and REMOVE_ME for a peer it lacks, moves an
 * allowed IP to the peer that claims it last, and REPLACE_PEERS drops the rest.
 */
START_TEST(test_set_applied)
{
	struct wgnl_device *dev = wgnl_device_new("wgtest0"), *set = wgnl_device_new("wgtest0");
	struct wgnl *nl = fake_open(dev, NULL, 4096, 0, 0);
	struct wgnl_peer *p;

	set->flags = WGNL_DEV_HAS_PRIVATE_KEY | WGNL_DEV_HAS_LISTEN_PORT;
	make_key(set->private_key, 999999, 1);
	set->listen_port = 51820;
	p = set_peer(set, 1, WGNL_PEER_HAS_PSK | WGNL_PEER_HAS_KEEPALIVE, "10.0.0.1");
	make_key(p->preshared_key, 1, 3);
	p->persistent_keepalive = 25;
	set_peer(set, 2, 0, "10.0.0.2 10.0.0.3");
	set_and_check(nl, set, dev);
	ck_assert_uint_eq(dev->listen_port, 51820);
	ck_assert_uint_eq(dev->n_peers, 2);
	ck_assert_uint_eq(model_peer(1)->persistent_keepalive, 25);

	set = wgnl_device_new("wgtest0");
	p = set_peer(set, 1,
		     WGNL_PEER_UPDATE_ONLY | WGNL_PEER_REPLACE_ALLOWEDIPS | WGNL_PEER_HAS_ENDPOINT,
		     "10.0.0.3");
	p->endpoint.addr4.sin_family = AF_INET;
	p->endpoint.addr4.sin_port = htons(1234);
	set_peer(set, 3, WGNL_PEER_UPDATE_ONLY, "10.0.0.9");
	set_peer(set, 4, WGNL_PEER_REMOVE, "");
	set_and_check(nl, set, dev);
	ck_assert_uint_eq(dev->n_peers, 2);			    /* 3 and 4 never were */
	ck_assert_uint_eq(model_peer(1)->n_allowedips, 1);	    /* replaced */
	ck_assert_uint_eq(model_peer(2)->n_allowedips, 1);	    /* 10.0.0.3 moved to 1 */
	ck_assert_uint_eq(model_peer(1)->persistent_keepalive, 25); /* not sent: kept */
	ck_assert_uint_eq(model_peer(1)->endpoint.addr.sa_family, AF_INET);

	set = wgnl_device_new("wgtest0");
	set->flags = WGNL_DEV_REPLACE_PEERS;
	set_peer(set, 5, 0, "10.0.0.5");
	set_and_check(nl, set, dev);
	ck_assert_uint_eq(dev->n_peers, 1);
	ck_assert_ptr_nonnull(model_peer(5));
	ck_assert_uint_eq(fake.n_sets, 3);
	fake_close(nl);
	wgnl_device_free(dev);
}
END_TEST

/* Bad arguments are refused before anything is sent. */
START_TEST(test_dump_einval)
{
	struct wgnl_device *src = make_device(3, 1, 0, 0), *got = NULL;
	struct wgnl *nl = fake_open(src, NULL, 4096, 0, 0);
	struct passes w = {0};

	ck_assert_int_eq(wgnl_walk_device(nl, "wgtest0", 0, NULL, &w), -EINVAL);
	ck_assert_int_eq(wgnl_walk_device(NULL, "wgtest0", 0, record_pass, &w), -EINVAL);
	ck_assert_int_eq(wgnl_walk_device(nl, "", 0, record_pass, &w), -EINVAL);
	ck_assert_int_eq(wgnl_get_device(nl, NULL, &got), -EINVAL);
	ck_assert_int_eq(wgnl_get_device(nl, "0123456789abcdef", &got), -EINVAL);
	ck_assert_int_eq(wgnl_get_device(nl, "wgtest0", NULL), -EINVAL);
	ck_assert_int_eq(wgnl_get_device(NULL, "wgtest0", &got), -EINVAL);
	ck_assert_ptr_null(got);
	ck_assert_uint_eq(w.n, 0);
	ck_assert_uint_eq(fake.dumps, 0);
	fake_close(nl);
	wgnl_device_free(src);
}
END_TEST

/* Malformed messages: a hand-written device attribute payload after the
 * genl header. Each must be rejected with -EINVAL. */
struct bad_case {
	const char *name;
	void (*fill)(struct nlmsghdr *nlh);
};

static struct nlattr *peer_start(struct nlmsghdr *nlh, const void *key, size_t key_len)
{
	struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	struct nlattr *peer = mnl_attr_nest_start(nlh, 0);

	(void)peers;
	if (key)
		mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, key_len, key);
	return peer;
}

static void end_all(struct nlmsghdr *nlh)
{
	/* close the peers nest and peer nest: they start right after genl */
	struct nlattr *peers = mnl_nlmsg_get_payload_offset(nlh, GENL_HDRLEN);
	struct nlattr *peer = mnl_attr_get_payload(peers);

	peer->nla_len = (uint16_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)peer);
	peers->nla_len = (uint16_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)peers);
}

static const uint8_t key32[64] = {1, 2, 3}; /* longer than a key, for the too-long cases */

static void bad_key_len(struct nlmsghdr *nlh)
{
	peer_start(nlh, key32, 31);
	end_all(nlh);
}
static void bad_no_key(struct nlmsghdr *nlh)
{
	peer_start(nlh, NULL, 0);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 5);
	end_all(nlh);
}
static void bad_port_len(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
}
static void bad_privkey_len(struct nlmsghdr *nlh)
{
	mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 33, key32);
}
static void bad_ifname_nul(struct nlmsghdr *nlh)
{
	mnl_attr_put(nlh, WGDEVICE_A_IFNAME, 3, "wg0");
}
static void bad_ifname_long(struct nlmsghdr *nlh)
{
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "0123456789abcdefgh");
}
static void bad_truncated(struct nlmsghdr *nlh)
{
	struct nlattr *a = mnl_nlmsg_get_payload_tail(nlh);

	mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 1);
	a->nla_len = 200; /* runs past the message */
}
static void bad_trailing(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 1);
	memset(mnl_nlmsg_get_payload_tail(nlh), 0xff, 4);
	nlh->nlmsg_len += 2; /* half an attribute header */
}
static void aip(struct nlmsghdr *nlh, int fam, int len, int cidr, bool with_fam)
{
	struct nlattr *aips, *e;
	uint8_t addr[16] = {10};

	peer_start(nlh, key32, 32);
	aips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	e = mnl_attr_nest_start(nlh, 0);
	if (with_fam)
		mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, (uint16_t)fam);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, (size_t)len, addr);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, (uint8_t)cidr);
	mnl_attr_nest_end(nlh, e);
	mnl_attr_nest_end(nlh, aips);
	end_all(nlh);
}
static void bad_aip_v4_len(struct nlmsghdr *nlh)
{
	aip(nlh, AF_INET, 16, 24, true);
}
static void bad_aip_cidr(struct nlmsghdr *nlh)
{
	aip(nlh, AF_INET, 4, 33, true);
}
static void bad_aip_v6_cidr(struct nlmsghdr *nlh)
{
	aip(nlh, AF_INET6, 16, 129, true);
}
static void bad_aip_family(struct nlmsghdr *nlh)
{
	aip(nlh, AF_UNIX, 4, 8, true);
}
static void bad_aip_no_family(struct nlmsghdr *nlh)
{
	aip(nlh, AF_INET, 4, 8, false);
}
static void bad_endpoint(struct nlmsghdr *nlh)
{
	struct sockaddr_in sin = {.sin_family = AF_INET6};

	peer_start(nlh, key32, 32);
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
	end_all(nlh);
}
static void bad_handshake(struct nlmsghdr *nlh)
{
	peer_start(nlh, key32, 32);
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, 8, key32);
	end_all(nlh);
}
static void bad_rx_len(struct nlmsghdr *nlh)
{
	peer_start(nlh, key32, 32);
	mnl_attr_put_u32(nlh, WGPEER_A_RX_BYTES, 5);
	end_all(nlh);
}
static void bad_peers_not_nested(struct nlmsghdr *nlh)
{
	mnl_attr_put_u16(nlh, WGDEVICE_A_PEERS, 1);
}

static const struct bad_case bad_cases[] = {
    {"public key of 31 bytes", bad_key_len},
    {"peer without public key", bad_no_key},
    {"listen port as u32", bad_port_len},
    {"private key of 33 bytes", bad_privkey_len},
    {"ifname without NUL", bad_ifname_nul},
    {"ifname too long", bad_ifname_long},
    {"attribute past the end", bad_truncated},
    {"trailing half attribute", bad_trailing},
    {"IPv4 allowed IP of 16 bytes", bad_aip_v4_len},
    {"IPv4 cidr 33", bad_aip_cidr},
    {"IPv6 cidr 129", bad_aip_v6_cidr},
    {"allowed IP of family AF_UNIX", bad_aip_family},
    {"allowed IP without family", bad_aip_no_family},
    {"endpoint length/family mismatch", bad_endpoint},
    {"handshake time of 8 bytes", bad_handshake},
    {"rx bytes as u32", bad_rx_len},
    {"peers attribute not a nest", bad_peers_not_nested},
};

START_TEST(test_parse_malformed)
{
	const struct bad_case *c = &bad_cases[_i];
	uint32_t *buf = calloc(1, 4096);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	struct wgnl_device *dev = wgnl_device_new("x");

	nlh->nlmsg_type = FAMILY;
	genl->cmd = WG_CMD_GET_DEVICE;
	c->fill(nlh);
	ck_assert_msg(wgnl_parse_dump_msg(nlh, dev) == -EINVAL, "%s accepted", c->name);
	wgnl_device_free(dev);
	free(buf);
}
END_TEST

START_TEST(test_parse_wrong_cmd)
{
	uint32_t buf[64] = {0};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	struct wgnl_device *dev = wgnl_device_new("x");

	genl->cmd = WG_CMD_SET_DEVICE;
	ck_assert_int_eq(wgnl_parse_dump_msg(nlh, dev), -EINVAL);
	nlh->nlmsg_len = 8; /* shorter than its own header */
	ck_assert_int_eq(wgnl_parse_dump_msg(nlh, dev), -EINVAL);
	wgnl_device_free(dev);
}
END_TEST

/* ---- keys ---- */

START_TEST(test_key_roundtrip)
{
	for (int i = 0; i < 200; i++) {
		wgnl_key k, back;
		char b64[WGNL_KEY_B64_LEN + 1];

		ck_assert_int_eq(wgnl_key_generate_private(k), 0);
		ck_assert_int_eq(k[0] & 7, 0);
		ck_assert_int_eq(k[31] & 0xc0, 0x40);
		wgnl_key_to_base64(b64, k);
		ck_assert_uint_eq(strlen(b64), WGNL_KEY_B64_LEN);
		ck_assert_int_eq(wgnl_key_from_base64(back, b64), 0);
		ck_assert_mem_eq(k, back, WGNL_KEY_LEN);
		ck_assert(!wgnl_key_is_zero(k));
		wgnl_key_wipe(k);
		ck_assert(wgnl_key_is_zero(k));
	}
}
END_TEST

static const char *const bad_b64[] = {
    "",
    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo",     /* 43 chars */
    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==",   /* 45 chars */
    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC!=",    /* bad char */
    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=",    /* padding bits set */
    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoA",    /* no padding */
    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkq Xf7pR25LCo=",    /* space */
    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L-o=",    /* url-safe alphabet */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",    /* 31 bytes */
    "\x80wdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=", /* not ASCII */
    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC\xff=", /* not ASCII */
};

START_TEST(test_key_invalid)
{
	wgnl_key k;

	memset(k, 0xaa, sizeof(k));
	ck_assert_msg(wgnl_key_from_base64(k, bad_b64[_i]) == -EINVAL, "accepted \"%s\"",
		      bad_b64[_i]);
	for (size_t i = 0; i < sizeof(k); i++)
		ck_assert_uint_eq(k[i], 0xaa); /* untouched on failure */
}
END_TEST

/* Known spellings, and every byte value in every place: a key decodes
 * exactly when each of its 43 digits is in the standard alphabet. */
START_TEST(test_key_vectors)
{
	static const char *alphabet =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char b64[WGNL_KEY_B64_LEN + 1];
	wgnl_key k, back;

	for (int i = 0; i < WGNL_KEY_LEN; i++)
		k[i] = (uint8_t)i;
	wgnl_key_to_base64(b64, k);
	ck_assert_str_eq(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	memset(k, 0xff, sizeof(k));
	wgnl_key_to_base64(b64, k);
	ck_assert_str_eq(b64, "//////////////////////////////////////////8=");
	for (int pos = 0; pos < WGNL_KEY_B64_LEN - 1; pos++)
		for (int c = 1; c < 256; c++) {
			bool digit = strchr(alphabet, c) != NULL;

			strcpy(b64, "//////////////////////////////////////////8=");
			b64[pos] = (char)c;
			/* The last digit carries 2 padding bits that must be zero. */
			if (pos == WGNL_KEY_B64_LEN - 2 && digit &&
			    (strchr(alphabet, c) - alphabet) % 4)
				digit = false;
			ck_assert_int_eq(wgnl_key_from_base64(back, b64), digit ? 0 : -EINVAL);
			if (!digit)
				continue;
			wgnl_key_to_base64(b64, back);
			ck_assert_int_eq(b64[pos], c);
		}
}
END_TEST

/* RFC 7748 section 6.1, Alice; `wg pubkey` gives the same. */
START_TEST(test_key_public)
{
	static const char *priv = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
	static const uint8_t want[32] = {0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54,
					 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
					 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4,
					 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
	wgnl_key k, pub;

	ck_assert_int_eq(wgnl_key_from_base64(k, priv), 0);
	wgnl_key_public_from_private(pub, k);
	ck_assert_mem_eq(pub, want, 32);
}
END_TEST

static Suite *wgnl_suite(void)
{
	Suite *s = suite_create("wgnl");
	TCase *tc = tcase_create("build");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_build, 0, sizeof(build_cases) / sizeof(build_cases[0]));
	tcase_add_test(tc, test_build_errors);
	tcase_add_test(tc, test_device_growth);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_parse, 0, sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, test_parse_dump_intr);
	tcase_add_test(tc, test_parse_no_allowedips);
	tcase_add_test(tc, test_walk_messages);
	tcase_add_test(tc, test_walk_stops);
	tcase_add_loop_test(tc, test_parse_malformed, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_parse_wrong_cmd);
	suite_add_tcase(s, tc);
	tc = tcase_create("socket");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_walk_restart, 0,
			    sizeof(restart_cases) / sizeof(restart_cases[0]));
	tcase_add_loop_test(tc, test_get_restart, 1, 4);
	tcase_add_loop_test(tc, test_dump_give_up, 0, 4);
	tcase_add_loop_test(tc, test_walk_restart_fails, 0,
			    sizeof(fail_cases) / sizeof(fail_cases[0]));
	tcase_add_test(tc, test_dump_einval);
	tcase_add_test(tc, test_set_applied);
	suite_add_tcase(s, tc);
	tc = tcase_create("keys");
	tcase_add_test(tc, test_key_roundtrip);
	tcase_add_loop_test(tc, test_key_invalid, 0, sizeof(bad_b64) / sizeof(bad_b64[0]));
	tcase_add_test(tc, test_key_public);
	tcase_add_test(tc, test_key_vectors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wgnl_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
