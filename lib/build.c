/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * WG_CMD_SET_DEVICE message builder. A set is split into as many messages as
 * the peers and allowed IPs need; each message is filled until either the
 * buffer or the u16 length of the WGDEVICE_A_PEERS nest would overflow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <sodium.h>

#include "hubd/wgnl.h"
#include "wgnl-internal.h"

struct builder {
	const struct wgnl_device *dev;
	char *buf;
	size_t buf_size;
	uint16_t family_id;
	uint32_t seq;
	unsigned n_msgs;
	struct nlmsghdr *nlh;
	struct nlattr *peers; /* open WGDEVICE_A_PEERS nest, or NULL */
	size_t peers_in_msg;
	wgnl_emit_fn emit;
	void *user;
};

/* How far the current message may grow: the buffer, and while the peers nest
 * is open, the largest length its u16 nla_len can describe. */
static size_t limit(const struct builder *b)
{
	size_t lim = b->buf_size;

	if (b->peers) {
		size_t nest_lim = (size_t)((char *)b->peers - b->buf) + WGNL_NEST_MAX;

		if (nest_lim < lim)
			lim = nest_lim;
	}
	return lim;
}

static int put_device_attrs(struct builder *b)
{
	const struct wgnl_device *dev = b->dev;
	struct nlmsghdr *nlh = b->nlh;
	size_t lim = limit(b);
	bool ok = true;

	if (dev->name[0])
		ok = mnl_attr_put_strz_check(nlh, lim, WGDEVICE_A_IFNAME, dev->name);
	else
		ok = mnl_attr_put_u32_check(nlh, lim, WGDEVICE_A_IFINDEX, dev->ifindex);
	/* Device settings and REPLACE_PEERS go in the first message only:
	 * repeating REPLACE_PEERS would drop the peers sent before. */
	if (b->n_msgs > 0)
		return ok ? 0 : -EMSGSIZE;
	if (ok && (dev->flags & WGNL_DEV_REPLACE_PEERS))
		ok = mnl_attr_put_u32_check(nlh, lim, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
	if (ok && (dev->flags & WGNL_DEV_HAS_PRIVATE_KEY))
		ok = mnl_attr_put_check(nlh, lim, WGDEVICE_A_PRIVATE_KEY, WGNL_KEY_LEN,
					dev->private_key);
	if (ok && (dev->flags & WGNL_DEV_HAS_LISTEN_PORT))
		ok = mnl_attr_put_u16_check(nlh, lim, WGDEVICE_A_LISTEN_PORT, dev->listen_port);
	if (ok && (dev->flags & WGNL_DEV_HAS_FWMARK))
		ok = mnl_attr_put_u32_check(nlh, lim, WGDEVICE_A_FWMARK, dev->fwmark);
	return ok ? 0 : -EMSGSIZE;
}

static int start_msg(struct builder *b)
{
	struct genlmsghdr *genl;

	b->nlh = mnl_nlmsg_put_header(b->buf);
	b->nlh->nlmsg_type = b->family_id;
	b->nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	b->nlh->nlmsg_seq = b->seq + b->n_msgs;
	genl = mnl_nlmsg_put_extra_header(b->nlh, sizeof(*genl));
	genl->cmd = WG_CMD_SET_DEVICE;
	genl->version = WG_GENL_VERSION;
	b->peers = NULL;
	b->peers_in_msg = 0;
	return put_device_attrs(b);
}

/* Close the message, hand it over and start the next one. */
static int flush_msg(struct builder *b, bool start_next)
{
	int r;

	if (b->peers)
		mnl_attr_nest_end(b->nlh, b->peers);
	b->peers = NULL;
	r = b->emit(b->nlh, b->user);
	/* The buffer held keys; it is reused, so wipe what was sent. */
	sodium_memzero(b->buf, b->nlh->nlmsg_len);
	if (r < 0)
		return r;
	b->n_msgs++;
	return start_next ? start_msg(b) : 0;
}

static bool open_peers(struct builder *b)
{
	if (!b->peers)
		b->peers = mnl_attr_nest_start_check(b->nlh, limit(b), WGDEVICE_A_PEERS);
	return b->peers != NULL;
}

static bool put_endpoint(struct builder *b, const union wgnl_endpoint *ep)
{
	if (ep->addr.sa_family == AF_INET)
		return mnl_attr_put_check(b->nlh, limit(b), WGPEER_A_ENDPOINT, sizeof(ep->addr4),
					  &ep->addr4);
	if (ep->addr.sa_family == AF_INET6)
		return mnl_attr_put_check(b->nlh, limit(b), WGPEER_A_ENDPOINT, sizeof(ep->addr6),
					  &ep->addr6);
	return false;
}

/* The peer's own attributes. A continuation (more allowed IPs of a peer
 * begun in the previous message) repeats the key only. It must not carry
 * REPLACE_ALLOWEDIPS, which would drop the IPs just sent; and it keeps the
 * caller's flags rather than adding UPDATE_ONLY, so that a peer the caller
 * adds is never silently half-applied because the flag turned its second part
 * into a no-op. */
static bool put_peer_head(struct builder *b, const struct wgnl_peer *p, bool cont)
{
	struct nlmsghdr *nlh = b->nlh;
	uint32_t flags = 0;
	bool ok;

	if (p->flags & WGNL_PEER_REMOVE)
		flags = WGPEER_F_REMOVE_ME;
	else {
		if ((p->flags & WGNL_PEER_REPLACE_ALLOWEDIPS) && !cont)
			flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
		if (p->flags & WGNL_PEER_UPDATE_ONLY)
			flags |= WGPEER_F_UPDATE_ONLY;
	}
	ok = mnl_attr_put_check(nlh, limit(b), WGPEER_A_PUBLIC_KEY, WGNL_KEY_LEN, p->public_key);
	if (ok && flags)
		ok = mnl_attr_put_u32_check(nlh, limit(b), WGPEER_A_FLAGS, flags);
	if (cont || (p->flags & WGNL_PEER_REMOVE))
		return ok;
	if (ok && (p->flags & WGNL_PEER_HAS_PSK))
		ok = mnl_attr_put_check(nlh, limit(b), WGPEER_A_PRESHARED_KEY, WGNL_KEY_LEN,
					p->preshared_key);
	if (ok && (p->flags & WGNL_PEER_HAS_ENDPOINT))
		ok = put_endpoint(b, &p->endpoint);
	if (ok && (p->flags & WGNL_PEER_HAS_KEEPALIVE))
		ok = mnl_attr_put_u16_check(nlh, limit(b), WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
					    p->persistent_keepalive);
	return ok;
}

static bool put_allowedip(struct builder *b, const struct wgnl_allowedip *a)
{
	struct nlattr *nest = mnl_attr_nest_start_check(b->nlh, limit(b), 0);
	bool ok = nest != NULL;

	if (ok)
		ok = mnl_attr_put_u16_check(b->nlh, limit(b), WGALLOWEDIP_A_FAMILY, a->family);
	if (ok)
		ok = a->family == AF_INET
			 ? mnl_attr_put_check(b->nlh, limit(b), WGALLOWEDIP_A_IPADDR,
					      sizeof(a->ip4), &a->ip4)
			 : mnl_attr_put_check(b->nlh, limit(b), WGALLOWEDIP_A_IPADDR,
					      sizeof(a->ip6), &a->ip6);
	if (ok)
		ok = mnl_attr_put_u8_check(b->nlh, limit(b), WGALLOWEDIP_A_CIDR_MASK, a->cidr);
	if (nest && !ok)
		mnl_attr_nest_cancel(b->nlh, nest);
	else if (ok)
		mnl_attr_nest_end(b->nlh, nest);
	return ok;
}

/* Open the peer nest and write its head and, when allowed IPs follow, their
 * nest with the first of them, so that no peer part is ever empty. */
static int open_peer(struct builder *b, const struct wgnl_peer *p, bool cont,
		     const struct wgnl_allowedip *first, struct nlattr **ret_peer,
		     struct nlattr **ret_aips)
{
	struct nlattr *peer = NULL, *aips = NULL;
	bool ok = open_peers(b);

	if (ok)
		peer = mnl_attr_nest_start_check(b->nlh, limit(b), 0);
	ok = peer && put_peer_head(b, p, cont);
	if (ok && first) {
		aips = mnl_attr_nest_start_check(b->nlh, limit(b), WGPEER_A_ALLOWEDIPS);
		ok = aips && put_allowedip(b, first);
	}
	if (!ok) {
		if (peer)
			mnl_attr_nest_cancel(b->nlh, peer);
		return -EMSGSIZE;
	}
	*ret_peer = peer;
	*ret_aips = aips;
	return 0;
}

static int add_peer(struct builder *b, const struct wgnl_peer *p)
{
	size_t n = (p->flags & WGNL_PEER_REMOVE) ? 0 : p->n_allowedips, i = 0;
	bool cont = false;
	int r;

	for (;;) {
		struct nlattr *peer, *aips;

		r = open_peer(b, p, cont, i < n ? &p->allowedips[i] : NULL, &peer, &aips);
		if (r == -EMSGSIZE && b->peers_in_msg > 0) {
			/* Full: move the whole part to a fresh message. */
			r = flush_msg(b, true);
			if (r < 0)
				return r;
			continue;
		}
		if (r < 0)
			return r; /* does not fit even an empty message */
		b->peers_in_msg++;
		if (aips) {
			for (i++; i < n && put_allowedip(b, &p->allowedips[i]); i++)
				;
			mnl_attr_nest_end(b->nlh, aips);
		}
		mnl_attr_nest_end(b->nlh, peer);
		if (i >= n)
			return 0;
		r = flush_msg(b, true);
		if (r < 0)
			return r;
		cont = true;
	}
}

/* Reject what the kernel would reject or misread, before sending anything. */
static int validate(const struct wgnl_device *dev)
{
	size_t i, j;

	if (!dev->name[0] && !dev->ifindex)
		return -EINVAL;
	if (strnlen(dev->name, IFNAMSIZ) >= IFNAMSIZ)
		return -EINVAL;
	for (i = 0; i < dev->n_peers; i++) {
		const struct wgnl_peer *p = &dev->peers[i];
		sa_family_t fam = p->endpoint.addr.sa_family;

		if ((p->flags & WGNL_PEER_HAS_ENDPOINT) && fam != AF_INET && fam != AF_INET6)
			return -EAFNOSUPPORT;
		if (p->n_allowedips && !p->allowedips)
			return -EINVAL;
		for (j = 0; j < p->n_allowedips; j++) {
			const struct wgnl_allowedip *a = &p->allowedips[j];

			if ((a->family != AF_INET || a->cidr > 32) &&
			    (a->family != AF_INET6 || a->cidr > 128))
				return -EINVAL;
		}
	}
	return 0;
}

/*
 * A bound on the bytes dev's message takes whole: the headers and device
 * attributes, then per peer every attribute it may carry and per allowed IP
 * its nest. A set of one peer then zeroes and wipes a few hundred bytes, not
 * the 65 KiB buffer that hundreds of peers need.
 */
static size_t set_bound(const struct wgnl_device *dev)
{
	size_t n = 256;

	for (size_t i = 0; i < dev->n_peers; i++)
		n += 160 + 48 * dev->peers[i].n_allowedips;
	return n;
}

int wgnl_build_set(const struct wgnl_device *dev, uint16_t family_id, uint32_t seq, size_t buf_size,
		   wgnl_emit_fn emit, void *user)
{
	struct builder b = {.dev = dev,
			    .buf_size = buf_size,
			    .family_id = family_id,
			    .seq = seq,
			    .emit = emit,
			    .user = user};
	int pass, r;
	size_t i;

	if (!dev || !emit || buf_size < MNL_NLMSG_HDRLEN + MNL_ALIGN(GENL_HDRLEN))
		return -EINVAL;
	r = validate(dev);
	if (r < 0)
		return r;
	/* Whatever fits in the bound fits in any larger buffer too: the same messages. */
	if (set_bound(dev) < buf_size)
		b.buf_size = buf_size = set_bound(dev);
	/* Zeroed: libmnl before 1.0.5 leaves attribute padding unset, and it is sent. */
	b.buf = calloc(1, buf_size);
	if (!b.buf)
		return -ENOMEM;
	r = start_msg(&b);
	/* Removals first and together: each one costs the kernel a
	 * synchronize_net(), and doing them before additions frees their
	 * allowed IPs before other peers claim them. */
	for (pass = 0; pass < 2 && r >= 0; pass++)
		for (i = 0; i < dev->n_peers && r >= 0; i++)
			if (!(dev->peers[i].flags & WGNL_PEER_REMOVE) == (pass == 1))
				r = add_peer(&b, &dev->peers[i]);
	if (r >= 0)
		r = flush_msg(&b, false);
	sodium_memzero(b.buf, buf_size);
	free(b.buf);
	return r < 0 ? r : (int)b.n_msgs;
}
