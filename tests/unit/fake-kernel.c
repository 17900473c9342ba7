/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fake kernel behind libwgnl's socket (fake-kernel.h): a model of
 * WireGuard's generic netlink family, written from
 * drivers/net/wireguard/netlink.c and include/uapi/linux/wireguard.h.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include "fake-kernel.h"
#include "../../lib/wgnl-internal.h"

/* ---- the dump writer ---- */

static bool kput_peer(struct nlmsghdr *nlh, size_t max, const struct wgnl_peer *p, size_t *cursor)
{
	struct nlattr *peer = mnl_attr_nest_start_check(nlh, max, 0), *aips;
	int64_t ts[2] = {p->last_handshake_sec, p->last_handshake_nsec};
	bool ok = peer && mnl_attr_put_check(nlh, max, WGPEER_A_PUBLIC_KEY, 32, p->public_key);

	if (ok && *cursor == 0) {
		ok = mnl_attr_put_check(nlh, max, WGPEER_A_PRESHARED_KEY, 32, p->preshared_key) &&
		     mnl_attr_put_check(nlh, max, WGPEER_A_LAST_HANDSHAKE_TIME, 16, ts) &&
		     mnl_attr_put_u16_check(nlh, max, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
					    p->persistent_keepalive) &&
		     mnl_attr_put_u64_check(nlh, max, WGPEER_A_TX_BYTES, p->tx_bytes) &&
		     mnl_attr_put_u64_check(nlh, max, WGPEER_A_RX_BYTES, p->rx_bytes) &&
		     mnl_attr_put_u32_check(nlh, max, WGPEER_A_PROTOCOL_VERSION, 1);
		if (ok && p->endpoint.addr.sa_family == AF_INET)
			ok = mnl_attr_put_check(nlh, max, WGPEER_A_ENDPOINT,
						sizeof(p->endpoint.addr4), &p->endpoint.addr4);
		else if (ok && p->endpoint.addr.sa_family == AF_INET6)
			ok = mnl_attr_put_check(nlh, max, WGPEER_A_ENDPOINT,
						sizeof(p->endpoint.addr6), &p->endpoint.addr6);
	}
	if (!ok) {
		if (peer)
			mnl_attr_nest_cancel(nlh, peer);
		return false;
	}
	if (*cursor < p->n_allowedips) {
		aips = mnl_attr_nest_start_check(nlh, max, WGPEER_A_ALLOWEDIPS);
		if (!aips) {
			mnl_attr_nest_cancel(nlh, peer);
			return false;
		}
		for (; *cursor < p->n_allowedips; ++*cursor) {
			const struct wgnl_allowedip *a = &p->allowedips[*cursor];
			struct nlattr *e = mnl_attr_nest_start_check(nlh, max, 0);

			if (!e ||
			    !mnl_attr_put_u8_check(nlh, max, WGALLOWEDIP_A_CIDR_MASK, a->cidr) ||
			    !mnl_attr_put_u16_check(nlh, max, WGALLOWEDIP_A_FAMILY, a->family) ||
			    !mnl_attr_put_check(nlh, max, WGALLOWEDIP_A_IPADDR,
						a->family == AF_INET ? 4 : 16, &a->ip6)) {
				if (e)
					mnl_attr_nest_cancel(nlh, e);
				/* the kernel keeps what fitted and resumes here */
				mnl_attr_nest_end(nlh, aips);
				mnl_attr_nest_end(nlh, peer);
				return false;
			}
			mnl_attr_nest_end(nlh, e);
		}
		mnl_attr_nest_end(nlh, aips);
	}
	mnl_attr_nest_end(nlh, peer);
	*cursor = 0;
	return true;
}

void kernel_dump(const struct wgnl_device *dev, size_t max, struct kmsgs *out)
{
	size_t next = 0, cursor = 0;

	do {
		struct nlmsghdr *nlh = calloc(1, max);
		struct genlmsghdr *genl;
		struct nlattr *peers;

		mnl_nlmsg_put_header(nlh);
		nlh->nlmsg_type = FAKE_FAMILY;
		nlh->nlmsg_flags = NLM_F_MULTI;
		genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
		genl->cmd = WG_CMD_GET_DEVICE;
		genl->version = 1;
		if (out->n == 0) {
			mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, dev->listen_port);
			mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, dev->fwmark);
			mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, FAKE_IFINDEX);
			mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, dev->name);
			mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 32, dev->private_key);
			mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, 32, dev->public_key);
		}
		peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
		for (; next < dev->n_peers; next++)
			if (!kput_peer(nlh, max, &dev->peers[next], &cursor))
				break;
		mnl_attr_nest_end(nlh, peers);
		ck_assert_uint_lt(out->n, 1024);
		out->m[out->n++] = nlh;
	} while (next < dev->n_peers);
}

void kmsgs_free(struct kmsgs *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->m[i]);
	k->n = 0;
}

/* ---- decoding a set request, strictly: what the kernel's policy would refuse fails the test
 * ---- */

bool attr_here(const struct nlattr *a, const void *end)
{
	int rem = (int)((const char *)end - (const char *)a);

	if (rem <= 0)
		return false;
	ck_assert_msg(mnl_attr_ok(a, rem), "malformed attribute, %d bytes left", rem);
	return true;
}

#define for_each_nested(a, nest)                                                                   \
	for_each_strict(a, mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest))

static void need_len(const struct nlattr *a, size_t len)
{
	ck_assert_uint_eq(mnl_attr_get_payload_len(a), len);
}

static void decode_set_aip(const struct nlattr *nest, struct wgnl_peer *p)
{
	struct wgnl_allowedip aip = {0};
	int seen = 0;

	for_each_nested(a, nest)
	{
		switch (mnl_attr_get_type(a)) {
		case WGALLOWEDIP_A_FAMILY:
			need_len(a, 2);
			aip.family = mnl_attr_get_u16(a);
			seen |= 1;
			break;
		case WGALLOWEDIP_A_IPADDR:
			ck_assert(mnl_attr_get_payload_len(a) == 4 ||
				  mnl_attr_get_payload_len(a) == 16);
			memcpy(&aip.ip6, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
			seen |= 2;
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			need_len(a, 1);
			aip.cidr = mnl_attr_get_u8(a);
			seen |= 4;
			break;
		default:
			ck_abort_msg("unexpected allowed IP attribute %d", mnl_attr_get_type(a));
		}
	}
	ck_assert_int_eq(seen, 7);
	/* wgnl_peer_add_allowedip refuses what the kernel's set_allowedip() would */
	ck_assert_int_eq(wgnl_peer_add_allowedip(p, &aip), 0);
}

static void decode_set_endpoint(const struct nlattr *a, struct wgnl_peer *p)
{
	const struct sockaddr *sa = mnl_attr_get_payload(a);
	size_t len = mnl_attr_get_payload_len(a);

	ck_assert((len == sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) ||
		  (len == sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6));
	memcpy(&p->endpoint, sa, len);
	p->flags |= WGNL_PEER_HAS_ENDPOINT;
}

static void decode_set_peer_flags(const struct nlattr *a, struct wgnl_peer *p)
{
	uint32_t f;

	need_len(a, 4);
	f = mnl_attr_get_u32(a);
	ck_assert_uint_eq(f & ~(uint32_t)__WGPEER_F_ALL, 0); /* the kernel: -EOPNOTSUPP */
	p->flags |= (f & WGPEER_F_REMOVE_ME ? WGNL_PEER_REMOVE : 0) |
		    (f & WGPEER_F_REPLACE_ALLOWEDIPS ? WGNL_PEER_REPLACE_ALLOWEDIPS : 0) |
		    (f & WGPEER_F_UPDATE_ONLY ? WGNL_PEER_UPDATE_ONLY : 0);
}

static void decode_set_peer(const struct nlattr *nest, struct wgnl_device *set)
{
	struct wgnl_peer *p = wgnl_device_add_peer(set);
	bool has_key = false;

	ck_assert_ptr_nonnull(p);
	for_each_nested(a, nest)
	{
		switch (mnl_attr_get_type(a)) {
		case WGPEER_A_PUBLIC_KEY:
			need_len(a, WGNL_KEY_LEN);
			memcpy(p->public_key, mnl_attr_get_payload(a), WGNL_KEY_LEN);
			has_key = true;
			break;
		case WGPEER_A_FLAGS:
			decode_set_peer_flags(a, p);
			break;
		case WGPEER_A_PRESHARED_KEY:
			need_len(a, WGNL_KEY_LEN);
			memcpy(p->preshared_key, mnl_attr_get_payload(a), WGNL_KEY_LEN);
			p->flags |= WGNL_PEER_HAS_PSK;
			break;
		case WGPEER_A_ENDPOINT:
			decode_set_endpoint(a, p);
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			need_len(a, 2);
			p->persistent_keepalive = mnl_attr_get_u16(a);
			p->flags |= WGNL_PEER_HAS_KEEPALIVE;
			break;
		case WGPEER_A_ALLOWEDIPS:
			for_each_nested(b, a)
			{
				decode_set_aip(b, p);
			}
			break;
		default:
			ck_abort_msg("unexpected peer attribute %d in a set", mnl_attr_get_type(a));
		}
	}
	ck_assert(has_key); /* the kernel: -EINVAL */
}

static void decode_set_attr(const struct nlattr *a, struct wgnl_device *set, const char *ifname)
{
	switch (mnl_attr_get_type(a)) {
	case WGDEVICE_A_IFNAME:
		ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
		/* the kernel: -ENODEV for any other link */
		ck_assert_str_eq(mnl_attr_get_str(a), ifname);
		break;
	case WGDEVICE_A_FLAGS:
		need_len(a, 4);
		ck_assert_uint_eq(mnl_attr_get_u32(a) & ~(uint32_t)__WGDEVICE_F_ALL, 0);
		if (mnl_attr_get_u32(a) & WGDEVICE_F_REPLACE_PEERS)
			set->flags |= WGNL_DEV_REPLACE_PEERS;
		break;
	case WGDEVICE_A_PRIVATE_KEY:
		need_len(a, WGNL_KEY_LEN);
		memcpy(set->private_key, mnl_attr_get_payload(a), WGNL_KEY_LEN);
		set->flags |= WGNL_DEV_HAS_PRIVATE_KEY;
		break;
	case WGDEVICE_A_LISTEN_PORT:
		need_len(a, 2);
		set->listen_port = mnl_attr_get_u16(a);
		set->flags |= WGNL_DEV_HAS_LISTEN_PORT;
		break;
	case WGDEVICE_A_FWMARK:
		need_len(a, 4);
		set->fwmark = mnl_attr_get_u32(a);
		set->flags |= WGNL_DEV_HAS_FWMARK;
		break;
	case WGDEVICE_A_PEERS:
		for_each_nested(p, a)
		{
			decode_set_peer(p, set);
		}
		break;
	default:
		ck_abort_msg("unexpected device attribute %d in a set", mnl_attr_get_type(a));
	}
}

static struct wgnl_device *decode_set(const struct nlmsghdr *req, const char *ifname)
{
	struct wgnl_device *set = wgnl_device_new(ifname);
	size_t off = MNL_ALIGN(GENL_HDRLEN);

	ck_assert_ptr_nonnull(set);
	ck_assert_uint_eq(req->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	for_each_strict(a, mnl_nlmsg_get_payload_offset(req, off),
			req->nlmsg_len - MNL_NLMSG_HDRLEN - off)
	{
		decode_set_attr(a, set, ifname);
	}
	return set;
}

/* ---- applying it, as set_device() and set_peer() do ---- */

static struct wgnl_peer *find_peer(struct wgnl_device *dev, const wgnl_key key)
{
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!memcmp(dev->peers[i].public_key, key, WGNL_KEY_LEN))
			return &dev->peers[i];
	return NULL;
}

static void remove_peer(struct wgnl_device *dev, struct wgnl_peer *p)
{
	size_t i = (size_t)(p - dev->peers);

	wgnl_peer_clear(p);
	memmove(p, p + 1, (dev->n_peers - i - 1) * sizeof(*p));
	dev->n_peers--;
	memset(&dev->peers[dev->n_peers], 0, sizeof(*p));
}

static void mask_aip(struct wgnl_allowedip *a)
{
	uint8_t *b = (uint8_t *)&a->ip6;
	unsigned bytes = a->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = a->cidr > i * 8 ? a->cidr - i * 8 : 0;

		b[i] &= keep >= 8 ? 0xff : (uint8_t)(0xff00 >> keep);
	}
	if (a->family == AF_INET)
		memset((uint8_t *)&a->ip6 + 4, 0, 12);
}

static bool aip_same(const struct wgnl_allowedip *a, const struct wgnl_allowedip *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       !memcmp(&a->ip6, &b->ip6, a->family == AF_INET ? 4 : 16);
}

static void drop_aip(struct wgnl_peer *p, const struct wgnl_allowedip *a)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n_allowedips; i++)
		if (!aip_same(&p->allowedips[i], a))
			p->allowedips[k++] = p->allowedips[i];
	p->n_allowedips = k;
}

/* The trie holds one node per prefix: inserting one that another peer has moves it here. */
static void insert_aip(struct wgnl_device *dev, struct wgnl_peer *p,
		       const struct wgnl_allowedip *in)
{
	struct wgnl_allowedip a = *in;

	mask_aip(&a);
	for (size_t i = 0; i < dev->n_peers; i++)
		drop_aip(&dev->peers[i], &a);
	ck_assert_int_eq(wgnl_peer_add_allowedip(p, &a), 0);
}

/* A new peer: the array may move, so it is looked up again by key after this. */
static bool create_peer(struct wgnl_device *dev, const struct wgnl_peer *op)
{
	struct wgnl_peer *p;

	/* set_peer() ignores a peer with the device's own public key */
	if (!wgnl_key_is_zero(dev->private_key) &&
	    !memcmp(op->public_key, dev->public_key, WGNL_KEY_LEN))
		return false;
	p = wgnl_device_add_peer(dev);
	ck_assert_ptr_nonnull(p);
	memcpy(p->public_key, op->public_key, WGNL_KEY_LEN);
	return true;
}

static void apply_peer(struct wgnl_device *dev, const struct wgnl_peer *op)
{
	struct wgnl_peer *p = find_peer(dev, op->public_key);
	uint32_t flags = op->flags;

	if (!p) {
		/* Nothing to remove or update; a new peer has no allowed IPs to replace. */
		if (flags & (WGNL_PEER_REMOVE | WGNL_PEER_UPDATE_ONLY))
			return;
		flags &= ~(uint32_t)WGNL_PEER_REPLACE_ALLOWEDIPS;
		if (!create_peer(dev, op))
			return;
		p = find_peer(dev, op->public_key);
	}
	if (flags & WGNL_PEER_REMOVE) {
		remove_peer(dev, p);
		return;
	}
	if (flags & WGNL_PEER_HAS_PSK)
		memcpy(p->preshared_key, op->preshared_key, WGNL_KEY_LEN);
	if (flags & WGNL_PEER_HAS_ENDPOINT)
		p->endpoint = op->endpoint;
	if (flags & WGNL_PEER_REPLACE_ALLOWEDIPS)
		p->n_allowedips = 0;
	for (size_t i = 0; i < op->n_allowedips; i++)
		insert_aip(dev, p, &op->allowedips[i]);
	if (flags & WGNL_PEER_HAS_KEEPALIVE)
		p->persistent_keepalive = op->persistent_keepalive;
}

static void apply_set(struct wgnl_device *dev, const struct wgnl_device *set)
{
	if (set->flags & WGNL_DEV_HAS_LISTEN_PORT)
		dev->listen_port = set->listen_port;
	if (set->flags & WGNL_DEV_REPLACE_PEERS)
		while (dev->n_peers)
			remove_peer(dev, &dev->peers[dev->n_peers - 1]);
	if ((set->flags & WGNL_DEV_HAS_PRIVATE_KEY) &&
	    memcmp(dev->private_key, set->private_key, WGNL_KEY_LEN)) {
		struct wgnl_peer *self;

		memcpy(dev->private_key, set->private_key, WGNL_KEY_LEN);
		memset(dev->public_key, 0, WGNL_KEY_LEN);
		if (!wgnl_key_is_zero(dev->private_key))
			wgnl_key_public_from_private(dev->public_key, dev->private_key);
		/* a peer with the device's new public key is removed */
		self = wgnl_key_is_zero(dev->private_key) ? NULL : find_peer(dev, dev->public_key);
		if (self)
			remove_peer(dev, self);
	}
	if (set->flags & WGNL_DEV_HAS_FWMARK)
		dev->fwmark = set->fwmark;
	for (size_t i = 0; i < set->n_peers; i++)
		apply_peer(dev, &set->peers[i]);
}

/* ---- the socket ---- */

#define MAX_OPEN 8

static struct fake_kernel *next_kernel;		   /* what the next open2 connects to */
static struct fake_kernel *open_kernels[MAX_OPEN]; /* each socket is its kernel's address */

void fake_kernel_connect(struct fake_kernel *k)
{
	ck_assert(k->active);
	next_kernel = k;
}

void fake_kernel_clear(struct fake_kernel *k)
{
	for (size_t i = 0; i < k->n_sets; i++)
		wgnl_device_free(k->sets[i]);
	free(k->sets);
	k->sets = NULL;
	k->n_sets = 0;
	kmsgs_free(&k->q);
	k->q_next = 0;
}

static struct fake_kernel *kernel_of(const struct mnl_socket *nl)
{
	for (size_t i = 0; i < MAX_OPEN; i++)
		if (open_kernels[i] && (const void *)open_kernels[i] == (const void *)nl)
			return open_kernels[i];
	return NULL;
}

/* Replies carry the requester's port and the request's sequence number. */
static void fake_queue(struct fake_kernel *k, struct nlmsghdr *m, const struct nlmsghdr *req)
{
	m->nlmsg_pid = FAKE_PORTID;
	m->nlmsg_seq = req->nlmsg_seq;
	ck_assert_uint_lt(k->q.n, 1024);
	k->q.m[k->q.n++] = m;
}

static struct nlmsghdr *fake_msg(uint16_t type, uint16_t flags)
{
	struct nlmsghdr *m = mnl_nlmsg_put_header(calloc(1, 512));

	m->nlmsg_type = type;
	m->nlmsg_flags = flags;
	return m;
}

/* The ACK a request asked for, capped (NETLINK_CAP_ACK): the header, not the request. */
static void fake_ack(struct fake_kernel *k, const struct nlmsghdr *req)
{
	struct nlmsghdr *m = fake_msg(NLMSG_ERROR, NLM_F_CAPPED);
	struct nlmsgerr *ack = mnl_nlmsg_put_extra_header(m, sizeof(*ack));

	ack->error = 0;
	ack->msg = *req;
	fake_queue(k, m, req);
}

struct find_attr {
	uint16_t type;
	const struct nlattr *attr;
};

static int find_attr_cb(const struct nlattr *a, void *data)
{
	struct find_attr *f = data;

	if (mnl_attr_get_type(a) == f->type)
		f->attr = a;
	return MNL_CB_OK;
}

/* The request's string attribute of type, which it must have. */
static const char *req_str(const struct nlmsghdr *req, uint16_t type)
{
	struct find_attr f = {.type = type};

	ck_assert_int_eq(mnl_attr_parse(req, GENL_HDRLEN, find_attr_cb, &f), MNL_CB_OK);
	ck_assert_ptr_nonnull(f.attr);
	ck_assert_int_eq(mnl_attr_validate(f.attr, MNL_TYPE_NUL_STRING), 0);
	return mnl_attr_get_str(f.attr);
}

/* CTRL_CMD_GETFAMILY: the family, then the ACK it asked for. */
static void fake_family_reply(struct fake_kernel *k, const struct nlmsghdr *req)
{
	struct nlmsghdr *m = fake_msg(GENL_ID_CTRL, 0);
	struct genlmsghdr *genl = mnl_nlmsg_put_extra_header(m, sizeof(*genl));

	ck_assert_uint_eq(req->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	ck_assert_str_eq(req_str(req, CTRL_ATTR_FAMILY_NAME), WG_GENL_NAME);
	genl->cmd = CTRL_CMD_NEWFAMILY;
	genl->version = 2;
	mnl_attr_put_strz(m, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	mnl_attr_put_u16(m, CTRL_ATTR_FAMILY_ID, FAKE_FAMILY);
	mnl_attr_put_u32(m, CTRL_ATTR_VERSION, WG_GENL_VERSION);
	fake_queue(k, m, req);
	fake_ack(k, req);
}

/* WG_CMD_GET_DEVICE: kernel_dump's messages and NLMSG_DONE, flagged if interrupted. */
static void fake_dump_reply(struct fake_kernel *k, const struct nlmsghdr *req)
{
	bool intr = k->dumps++ < k->n_intr;
	uint16_t intr_flag = intr ? NLM_F_DUMP_INTR : 0;
	struct kmsgs *d = calloc(1, sizeof(*d));
	struct nlmsghdr *done;

	ck_assert_uint_eq(req->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	ck_assert_str_eq(req_str(req, WGDEVICE_A_IFNAME), k->dev->name);
	ck_assert_uint_le(k->max_msg, WGNL_RECV_BUF_SIZE);
	kernel_dump(intr ? k->old : k->dev, k->max_msg, d);
	for (size_t i = 0; i < d->n; i++) {
		if (i >= k->intr_from)
			d->m[i]->nlmsg_flags |= intr_flag;
		fake_queue(k, d->m[i], req);
	}
	done = fake_msg(NLMSG_DONE, NLM_F_MULTI | intr_flag);
	*(int *)mnl_nlmsg_put_extra_header(done, sizeof(int)) = 0;
	fake_queue(k, done, req);
	free(d); /* its messages are the queue's now */
}

/* WG_CMD_SET_DEVICE: recorded, applied to the device, acknowledged. */
static void fake_set_reply(struct fake_kernel *k, const struct nlmsghdr *req)
{
	struct wgnl_device *set = decode_set(req, k->dev->name);
	struct wgnl_device **v = realloc(k->sets, (k->n_sets + 1) * sizeof(*v));

	ck_assert_ptr_nonnull(v);
	k->sets = v;
	k->sets[k->n_sets++] = set;
	apply_set(k->dev, set);
	fake_ack(k, req);
}

static ssize_t fake_sendto(struct fake_kernel *k, const void *buf, size_t len)
{
	const struct nlmsghdr *req = buf;
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(req);

	/* The last reply was read to its end: the socket is in step. */
	ck_assert_uint_eq(k->q_next, k->q.n);
	kmsgs_free(&k->q);
	k->q_next = 0;
	ck_assert(mnl_nlmsg_ok(req, (int)len));
	ck_assert_uint_eq(req->nlmsg_len, len);
	ck_assert_uint_ge(len, MNL_NLMSG_HDRLEN + GENL_HDRLEN);
	ck_assert_uint_ne(req->nlmsg_seq, k->seq); /* each request its own */
	k->seq = req->nlmsg_seq;
	if (req->nlmsg_type == GENL_ID_CTRL) {
		ck_assert_int_eq(genl->cmd, CTRL_CMD_GETFAMILY);
		fake_family_reply(k, req);
	} else if (genl->cmd == WG_CMD_SET_DEVICE) {
		ck_assert_uint_eq(req->nlmsg_type, FAKE_FAMILY);
		fake_set_reply(k, req);
	} else {
		ck_assert_uint_eq(req->nlmsg_type, FAKE_FAMILY);
		ck_assert_int_eq(genl->cmd, WG_CMD_GET_DEVICE);
		fake_dump_reply(k, req);
	}
	return (ssize_t)len;
}

/* A datagram of as many whole messages as fit: recv_reply has to find
 * several in one, as it does the kernel's NLMSG_DONE after a dump's last. */
static ssize_t fake_recvfrom(struct fake_kernel *k, void *buf, size_t len)
{
	size_t off = 0;

	ck_assert_uint_eq(len, WGNL_RECV_BUF_SIZE);
	ck_assert_msg(k->q_next < k->q.n, "recv with no reply queued would block");
	while (k->q_next < k->q.n) {
		struct nlmsghdr *m = k->q.m[k->q_next];

		if (off + NLMSG_ALIGN(m->nlmsg_len) > len)
			break;
		memcpy((char *)buf + off, m, m->nlmsg_len);
		off += NLMSG_ALIGN(m->nlmsg_len);
		free(m);
		k->q.m[k->q_next++] = NULL;
	}
	ck_assert_uint_gt(off, 0); /* no message is larger than the buffer */
	return (ssize_t)off;
}

struct mnl_socket *__real_mnl_socket_open2(int bus, int flags);
int __real_mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid);
unsigned int __real_mnl_socket_get_portid(const struct mnl_socket *nl);
int __real_mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf, socklen_t len);
ssize_t __real_mnl_socket_sendto(const struct mnl_socket *nl, const void *req, size_t siz);
ssize_t __real_mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t siz);
int __real_mnl_socket_close(struct mnl_socket *nl);
struct mnl_socket *__wrap_mnl_socket_open2(int bus, int flags);
int __wrap_mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid);
unsigned int __wrap_mnl_socket_get_portid(const struct mnl_socket *nl);
int __wrap_mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf, socklen_t len);
ssize_t __wrap_mnl_socket_sendto(const struct mnl_socket *nl, const void *req, size_t siz);
ssize_t __wrap_mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t siz);
int __wrap_mnl_socket_close(struct mnl_socket *nl);

struct mnl_socket *__wrap_mnl_socket_open2(int bus, int flags)
{
	struct fake_kernel *k = next_kernel;

	if (!k || !k->active)
		return __real_mnl_socket_open2(bus, flags);
	ck_assert_int_eq(bus, NETLINK_GENERIC);
	ck_assert(!k->open);
	for (size_t i = 0; i < MAX_OPEN; i++)
		if (!open_kernels[i]) {
			open_kernels[i] = k;
			next_kernel = NULL;
			k->open = true;
			return (struct mnl_socket *)k;
		}
	ck_abort_msg("more than %d fake kernel sockets", MAX_OPEN);
	return NULL;
}

int __wrap_mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid)
{
	return kernel_of(nl) ? 0 : __real_mnl_socket_bind(nl, groups, pid);
}

unsigned int __wrap_mnl_socket_get_portid(const struct mnl_socket *nl)
{
	return kernel_of(nl) ? FAKE_PORTID : __real_mnl_socket_get_portid(nl);
}

int __wrap_mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf, socklen_t len)
{
	return kernel_of(nl) ? 0 : __real_mnl_socket_setsockopt(nl, type, buf, len);
}

ssize_t __wrap_mnl_socket_sendto(const struct mnl_socket *nl, const void *req, size_t siz)
{
	struct fake_kernel *k = kernel_of(nl);

	return k ? fake_sendto(k, req, siz) : __real_mnl_socket_sendto(nl, req, siz);
}

ssize_t __wrap_mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t siz)
{
	struct fake_kernel *k = kernel_of(nl);

	return k ? fake_recvfrom(k, buf, siz) : __real_mnl_socket_recvfrom(nl, buf, siz);
}

int __wrap_mnl_socket_close(struct mnl_socket *nl)
{
	struct fake_kernel *k = kernel_of(nl);

	if (!k)
		return __real_mnl_socket_close(nl);
	ck_assert(k->open);
	for (size_t i = 0; i < MAX_OPEN; i++)
		if (open_kernels[i] == k)
			open_kernels[i] = NULL;
	k->open = false;
	kmsgs_free(&k->q);
	k->q_next = 0;
	return 0;
}

/* ---- canonical text ---- */

static int peer_ptr_cmp(const void *a, const void *b)
{
	return memcmp((*(const struct wgnl_peer *const *)a)->public_key,
		      (*(const struct wgnl_peer *const *)b)->public_key, WGNL_KEY_LEN);
}

static int aip_cmp(const void *pa, const void *pb)
{
	const struct wgnl_allowedip *a = pa, *b = pb;
	int r = (int)a->family - (int)b->family;

	if (!r)
		r = memcmp(&a->ip6, &b->ip6, a->family == AF_INET ? 4 : 16);
	return r ? r : (int)a->cidr - (int)b->cidr;
}

static void put_key(FILE *f, const char *what, const wgnl_key key)
{
	char b64[WGNL_KEY_B64_LEN + 1];

	wgnl_key_to_base64(b64, key);
	fprintf(f, " %s=%s", what, b64);
}

static void put_endpoint(FILE *f, const union wgnl_endpoint *ep)
{
	char buf[INET6_ADDRSTRLEN];

	if (ep->addr.sa_family == AF_INET)
		fprintf(f, " endpoint=%s:%u",
			inet_ntop(AF_INET, &ep->addr4.sin_addr, buf, sizeof(buf)),
			ntohs(ep->addr4.sin_port));
	else if (ep->addr.sa_family == AF_INET6)
		fprintf(f, " endpoint=[%s]:%u",
			inet_ntop(AF_INET6, &ep->addr6.sin6_addr, buf, sizeof(buf)),
			ntohs(ep->addr6.sin6_port));
	else
		fprintf(f, " endpoint=none");
}

static void put_aips(FILE *f, const struct wgnl_peer *p)
{
	struct wgnl_allowedip *v = calloc(p->n_allowedips + 1, sizeof(*v));
	char buf[INET6_ADDRSTRLEN];

	ck_assert_ptr_nonnull(v);
	if (p->n_allowedips)
		memcpy(v, p->allowedips, p->n_allowedips * sizeof(*v));
	qsort(v, p->n_allowedips, sizeof(*v), aip_cmp);
	fprintf(f, " allowedips=");
	for (size_t i = 0; i < p->n_allowedips; i++)
		fprintf(f, "%s%s/%u", i ? "," : "",
			inet_ntop(v[i].family, &v[i].ip6, buf, sizeof(buf)), v[i].cidr);
	free(v);
}

static void put_request_peer(FILE *f, const struct wgnl_peer *p)
{
	if (p->flags & WGNL_PEER_REMOVE)
		fprintf(f, " remove");
	if (p->flags & WGNL_PEER_REPLACE_ALLOWEDIPS)
		fprintf(f, " replace-allowedips");
	if (p->flags & WGNL_PEER_UPDATE_ONLY)
		fprintf(f, " update-only");
	if (p->flags & WGNL_PEER_HAS_PSK)
		put_key(f, "psk", p->preshared_key);
	if (p->flags & WGNL_PEER_HAS_ENDPOINT)
		put_endpoint(f, &p->endpoint);
	if (p->flags & WGNL_PEER_HAS_KEEPALIVE)
		fprintf(f, " keepalive=%u", p->persistent_keepalive);
	if (p->n_allowedips)
		put_aips(f, p);
}

static void put_state_peer(FILE *f, const struct wgnl_peer *p)
{
	put_key(f, "psk", p->preshared_key);
	put_endpoint(f, &p->endpoint);
	fprintf(f, " keepalive=%u", p->persistent_keepalive);
	put_aips(f, p);
}

static void put_device(FILE *f, const struct wgnl_device *d, bool request)
{
	fprintf(f, "%s %s", request ? "set" : "device", d->name);
	if (request && (d->flags & WGNL_DEV_REPLACE_PEERS))
		fprintf(f, " replace-peers");
	if (!request || (d->flags & WGNL_DEV_HAS_PRIVATE_KEY))
		put_key(f, "private-key", d->private_key);
	if (!request || (d->flags & WGNL_DEV_HAS_LISTEN_PORT))
		fprintf(f, " listen-port=%u", d->listen_port);
	if (!request || (d->flags & WGNL_DEV_HAS_FWMARK))
		fprintf(f, " fwmark=0x%x", d->fwmark);
	fprintf(f, "\n");
}

char *fake_device_text(const struct wgnl_device *d, bool request)
{
	const struct wgnl_peer **by_key = calloc(d->n_peers + 1, sizeof(*by_key));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(by_key);
	ck_assert_ptr_nonnull(f);
	put_device(f, d, request);
	for (size_t i = 0; i < d->n_peers; i++)
		by_key[i] = &d->peers[i];
	qsort(by_key, d->n_peers, sizeof(*by_key), peer_ptr_cmp);
	for (size_t i = 0; i < d->n_peers; i++) {
		fprintf(f, "  peer");
		put_key(f, "key", by_key[i]->public_key);
		if (request)
			put_request_peer(f, by_key[i]);
		else
			put_state_peer(f, by_key[i]);
		fprintf(f, "\n");
	}
	fclose(f);
	free(by_key);
	return text;
}
