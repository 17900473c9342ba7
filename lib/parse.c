/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * WG_CMD_GET_DEVICE dump parser. One callback per nesting level; every
 * attribute's type and length are checked before it is read, and bytes left
 * over after the last attribute of a level make the message malformed.
 */
#include <errno.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <sodium.h>

#include "hubd/wgnl.h"
#include "wgnl-internal.h"

typedef int (*attr_fn)(const struct nlattr *attr, void *data);

/* Walk the attributes of [payload, payload + len) strictly. */
static int for_each_attr(const void *payload, size_t len, attr_fn fn, void *data)
{
	const struct nlattr *attr;
	int rem = (int)len, r;

	if (len > INT32_MAX)
		return -EINVAL;
	for (attr = payload; mnl_attr_ok(attr, rem); attr = mnl_attr_next(attr)) {
		rem -= MNL_ALIGN(attr->nla_len);
		r = fn(attr, data);
		if (r < 0)
			return r;
	}
	/* The last attribute may lack its padding; anything else is junk. */
	return rem > 0 ? -EINVAL : 0;
}

static int for_each_nested(const struct nlattr *nest, attr_fn fn, void *data)
{
	if (mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0)
		return -EINVAL;
	return for_each_attr(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), fn, data);
}

static bool is_type(const struct nlattr *attr, enum mnl_attr_data_type t)
{
	return mnl_attr_validate(attr, t) == 0;
}

static bool is_len(const struct nlattr *attr, size_t len)
{
	return mnl_attr_get_payload_len(attr) == len;
}

struct aip_ctx {
	struct wgnl_allowedip aip;
	bool has_family, has_addr, has_cidr;
	const struct nlattr *addr;
};

static int allowedip_attr(const struct nlattr *attr, void *data)
{
	struct aip_ctx *c = data;

	switch (mnl_attr_get_type(attr)) {
	case WGALLOWEDIP_A_FAMILY:
		if (!is_type(attr, MNL_TYPE_U16))
			return -EINVAL;
		c->aip.family = mnl_attr_get_u16(attr);
		c->has_family = true;
		break;
	case WGALLOWEDIP_A_IPADDR:
		c->addr = attr;
		break;
	case WGALLOWEDIP_A_CIDR_MASK:
		if (!is_type(attr, MNL_TYPE_U8))
			return -EINVAL;
		c->aip.cidr = mnl_attr_get_u8(attr);
		c->has_cidr = true;
		break;
	}
	return 0;
}

/* One allowed IP: all three attributes, an address as long as its family
 * says and a prefix no longer than the address. */
static int allowedip_entry(const struct nlattr *attr, void *data)
{
	struct wgnl_peer *peer = data;
	struct aip_ctx c = {0};
	int r = for_each_nested(attr, allowedip_attr, &c);

	if (r < 0)
		return r;
	if (!c.has_family || !c.has_cidr || !c.addr)
		return -EINVAL;
	if (c.aip.family == AF_INET && is_len(c.addr, sizeof(c.aip.ip4)) && c.aip.cidr <= 32)
		memcpy(&c.aip.ip4, mnl_attr_get_payload(c.addr), sizeof(c.aip.ip4));
	else if (c.aip.family == AF_INET6 && is_len(c.addr, sizeof(c.aip.ip6)) && c.aip.cidr <= 128)
		memcpy(&c.aip.ip6, mnl_attr_get_payload(c.addr), sizeof(c.aip.ip6));
	else
		return -EINVAL;
	return wgnl_peer_add_allowedip(peer, &c.aip);
}

static int parse_endpoint(const struct nlattr *attr, struct wgnl_peer *peer)
{
	const struct sockaddr *sa = mnl_attr_get_payload(attr);
	size_t len = mnl_attr_get_payload_len(attr);

	if (len >= sizeof(sa_family_t) && sa->sa_family == AF_INET &&
	    len == sizeof(struct sockaddr_in))
		memcpy(&peer->endpoint.addr4, sa, len);
	else if (len >= sizeof(sa_family_t) && sa->sa_family == AF_INET6 &&
		 len == sizeof(struct sockaddr_in6))
		memcpy(&peer->endpoint.addr6, sa, len);
	else
		return -EINVAL;
	peer->flags |= WGNL_PEER_HAS_ENDPOINT;
	return 0;
}

static int parse_handshake(const struct nlattr *attr, struct wgnl_peer *peer)
{
	int64_t ts[2]; /* struct __kernel_timespec: two s64 */

	if (!is_len(attr, sizeof(ts)))
		return -EINVAL;
	memcpy(ts, mnl_attr_get_payload(attr), sizeof(ts));
	peer->last_handshake_sec = ts[0];
	peer->last_handshake_nsec = ts[1];
	return 0;
}

static int peer_attr(const struct nlattr *attr, void *data)
{
	struct wgnl_peer *peer = data;

	switch (mnl_attr_get_type(attr)) {
	case WGPEER_A_PUBLIC_KEY:
		return 0; /* matched by peer_entry */
	case WGPEER_A_PRESHARED_KEY:
		if (!is_len(attr, WGNL_KEY_LEN))
			return -EINVAL;
		memcpy(peer->preshared_key, mnl_attr_get_payload(attr), WGNL_KEY_LEN);
		if (!wgnl_key_is_zero(peer->preshared_key))
			peer->flags |= WGNL_PEER_HAS_PSK;
		return 0;
	case WGPEER_A_ENDPOINT:
		return parse_endpoint(attr, peer);
	case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
		if (!is_type(attr, MNL_TYPE_U16))
			return -EINVAL;
		peer->persistent_keepalive = mnl_attr_get_u16(attr);
		peer->flags |= WGNL_PEER_HAS_KEEPALIVE;
		return 0;
	case WGPEER_A_LAST_HANDSHAKE_TIME:
		return parse_handshake(attr, peer);
	case WGPEER_A_RX_BYTES:
	case WGPEER_A_TX_BYTES:
		if (!is_type(attr, MNL_TYPE_U64))
			return -EINVAL;
		*(mnl_attr_get_type(attr) == WGPEER_A_RX_BYTES ? &peer->rx_bytes
							       : &peer->tx_bytes) =
		    mnl_attr_get_u64(attr);
		return 0;
	case WGPEER_A_PROTOCOL_VERSION:
		if (!is_type(attr, MNL_TYPE_U32))
			return -EINVAL;
		peer->protocol_version = mnl_attr_get_u32(attr);
		return 0;
	case WGPEER_A_ALLOWEDIPS:
		return for_each_nested(attr, allowedip_entry, peer);
	}
	return 0; /* unknown attributes of newer kernels, and padding */
}

static int peer_attr_no_aips(const struct nlattr *attr, void *data)
{
	return mnl_attr_get_type(attr) == WGPEER_A_ALLOWEDIPS ? 0 : peer_attr(attr, data);
}

static int find_public_key(const struct nlattr *attr, void *data)
{
	const struct nlattr **key = data;

	if (mnl_attr_get_type(attr) != WGPEER_A_PUBLIC_KEY)
		return 0;
	if (!is_len(attr, WGNL_KEY_LEN) || *key)
		return -EINVAL;
	*key = attr;
	return 0;
}

/* A peer entry whose key equals the last peer's continues it: the kernel
 * resumes a peer's allowed IPs in the next message under the same key. */
static int peer_entry(const struct nlattr *attr, void *data)
{
	struct wgnl_device *dev = data;
	const struct nlattr *key = NULL;
	struct wgnl_peer *peer;
	int r = for_each_nested(attr, find_public_key, &key);

	if (r < 0)
		return r;
	if (!key)
		return -EINVAL;
	peer = dev->n_peers ? &dev->peers[dev->n_peers - 1] : NULL;
	if (!peer || memcmp(peer->public_key, mnl_attr_get_payload(key), WGNL_KEY_LEN)) {
		peer = wgnl_device_add_peer(dev);
		if (!peer)
			return -ENOMEM;
		memcpy(peer->public_key, mnl_attr_get_payload(key), WGNL_KEY_LEN);
	}
	return for_each_nested(
	    attr, dev->flags & WGNL_DEV_NO_ALLOWEDIPS ? peer_attr_no_aips : peer_attr, peer);
}

static int device_key(const struct nlattr *attr, wgnl_key key)
{
	if (!is_len(attr, WGNL_KEY_LEN))
		return -EINVAL;
	memcpy(key, mnl_attr_get_payload(attr), WGNL_KEY_LEN);
	return 0;
}

static int device_attr(const struct nlattr *attr, void *data)
{
	struct wgnl_device *dev = data;

	switch (mnl_attr_get_type(attr)) {
	case WGDEVICE_A_IFINDEX:
		if (!is_type(attr, MNL_TYPE_U32))
			return -EINVAL;
		dev->ifindex = mnl_attr_get_u32(attr);
		return 0;
	case WGDEVICE_A_IFNAME:
		if (!is_type(attr, MNL_TYPE_NUL_STRING) ||
		    mnl_attr_get_payload_len(attr) > IFNAMSIZ ||
		    strlen(mnl_attr_get_str(attr)) + 1 != mnl_attr_get_payload_len(attr))
			return -EINVAL;
		memcpy(dev->name, mnl_attr_get_str(attr), mnl_attr_get_payload_len(attr));
		return 0;
	case WGDEVICE_A_PRIVATE_KEY:
		dev->flags |= WGNL_DEV_HAS_PRIVATE_KEY;
		return device_key(attr, dev->private_key);
	case WGDEVICE_A_PUBLIC_KEY:
		dev->flags |= WGNL_DEV_HAS_PUBLIC_KEY;
		return device_key(attr, dev->public_key);
	case WGDEVICE_A_LISTEN_PORT:
		if (!is_type(attr, MNL_TYPE_U16))
			return -EINVAL;
		dev->listen_port = mnl_attr_get_u16(attr);
		dev->flags |= WGNL_DEV_HAS_LISTEN_PORT;
		return 0;
	case WGDEVICE_A_FWMARK:
		if (!is_type(attr, MNL_TYPE_U32))
			return -EINVAL;
		dev->fwmark = mnl_attr_get_u32(attr);
		dev->flags |= WGNL_DEV_HAS_FWMARK;
		return 0;
	case WGDEVICE_A_PEERS:
		return for_each_nested(attr, peer_entry, dev);
	}
	return 0;
}

int wgnl_parse_dump_msg(const struct nlmsghdr *msg, struct wgnl_device *dev)
{
	const struct genlmsghdr *genl;

	if (!msg || !dev || msg->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*genl)))
		return -EINVAL;
	if (msg->nlmsg_flags & NLM_F_DUMP_INTR)
		return -EINTR;
	genl = mnl_nlmsg_get_payload(msg);
	if (genl->cmd != WG_CMD_GET_DEVICE)
		return -EINVAL;
	return for_each_attr(mnl_nlmsg_get_payload_offset(msg, sizeof(*genl)),
			     msg->nlmsg_len - MNL_NLMSG_HDRLEN - MNL_ALIGN(sizeof(*genl)),
			     device_attr, dev);
}
