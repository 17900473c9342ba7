/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The generic netlink socket: family resolution, the device dump with its
 * restarts, and sets acknowledged message by message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <sodium.h>

#include "hubd/wgnl.h"
#include "wgnl-internal.h"

/* A dump interrupted this many times in a row is given up with -EAGAIN:
 * something rewrites the device faster than it can be read. */
#define DUMP_RETRIES 64

struct wgnl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	uint16_t family_id;
	char *buf; /* WGNL_RECV_BUF_SIZE; may hold keys, wiped after use */
};

typedef int (*msg_fn)(const struct nlmsghdr *nlh, void *data);

/* Receive until the reply to seq ends: the ACK of a request, or NLMSG_DONE
 * of a dump. Each data message goes to fn; an error is returned only after
 * the whole reply is read, so that the socket stays in step. */
static int recv_reply(struct wgnl *nl, uint32_t seq, msg_fn fn, void *data)
{
	int err = 0;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, WGNL_RECV_BUF_SIZE);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)nl->buf;
		int len = (int)n;

		if (n < 0)
			return errno == ENOSPC ? -EMSGSIZE : -errno;
		/* mnl_nlmsg_ok casts nlmsg_len to int: a length of 2 GiB or more would pass. */
		for (; mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= (uint32_t)len;
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_pid != nl->portid || nlh->nlmsg_seq != seq)
				continue; /* stale reply to a request given up on */
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
				const int *code = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(int))
					return -EBADMSG;
				if (*code < 0 && !err)
					err = *code;
				if (!err && nlh->nlmsg_type == NLMSG_DONE &&
				    (nlh->nlmsg_flags & NLM_F_DUMP_INTR))
					err = -EINTR;
				return err;
			}
			if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_OVERRUN)
				continue;
			if (!err && fn)
				err = fn(nlh, data);
		}
		if (len != 0)
			return -EBADMSG;
	}
}

static int send_msg(struct wgnl *nl, const struct nlmsghdr *nlh)
{
	ssize_t n = mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len);

	if (n < 0)
		return -errno;
	return (size_t)n == nlh->nlmsg_len ? 0 : -EIO;
}

static int family_attr(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID) {
		if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		*(uint16_t *)data = mnl_attr_get_u16(attr);
	}
	return MNL_CB_OK;
}

static int family_reply(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + GENL_HDRLEN)
		return -EBADMSG;
	if (mnl_attr_parse(nlh, GENL_HDRLEN, family_attr, data) != MNL_CB_OK)
		return -EBADMSG;
	return 0;
}

static int resolve_family(struct wgnl *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	/* Zeroed: libmnl before 1.0.5 leaves attribute padding unset, and it is sent. */
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf)));
	struct genlmsghdr *genl;
	uint16_t id = 0;
	int r;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	r = send_msg(nl, nlh);
	if (r >= 0)
		r = recv_reply(nl, nl->seq, family_reply, &id);
	if (r >= 0 && id == 0)
		r = -EPROTONOSUPPORT;
	if (r >= 0)
		nl->family_id = id;
	return r;
}

void wgnl_close(struct wgnl *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	if (nl->buf) {
		sodium_memzero(nl->buf, WGNL_RECV_BUF_SIZE);
		free(nl->buf);
	}
	free(nl);
}

int wgnl_open(struct wgnl **ret)
{
	struct wgnl *nl = calloc(1, sizeof(*nl));
	int one = 1, r;

	if (!nl)
		return -ENOMEM;
	nl->buf = malloc(WGNL_RECV_BUF_SIZE);
	nl->sock = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	r = nl->buf && nl->sock ? 0 : (nl->buf ? -errno : -ENOMEM);
	if (r >= 0 && mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		r = -errno;
	/* Error ACKs would otherwise echo each (up to 64 KiB) request back. */
	if (r >= 0)
		mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (r >= 0) {
		nl->portid = mnl_socket_get_portid(nl->sock);
		nl->seq = (uint32_t)time(NULL);
		r = resolve_family(nl);
	}
	if (r < 0) {
		wgnl_close(nl);
		return r == -ENOENT ? -EPROTONOSUPPORT : r;
	}
	*ret = nl;
	return 0;
}

struct dump_ctx {
	uint16_t family_id;
	struct wgnl_device *dev;
	wgnl_peer_fn fn; /* a walk: peers handed out as they complete */
	void *user;
	bool device_done; /* a walk: fn has had the device (peer NULL) in this dump */
};

static int dump_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;
	int r;

	if (nlh->nlmsg_type != c->family_id)
		return -EBADMSG;
	r = wgnl_parse_dump_msg(nlh, c->dev);
	if (r < 0 || !c->fn)
		return r;
	return wgnl_hand_out_peers(c->dev, false, &c->device_done, c->fn, c->user);
}

/* One complete dump into a fresh device; -EINTR if the kernel flagged it. With fn, the peers
 * are handed out as they come and *ret holds none of them; a fresh dump_ctx also makes a
 * restarted walk hand out the device again. */
static int dump_once(struct wgnl *nl, const char *ifname, unsigned flags, wgnl_peer_fn fn,
		     void *user, struct wgnl_device **ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf))); /* see above */
	struct dump_ctx c = {.family_id = nl->family_id, .fn = fn, .user = user};
	struct genlmsghdr *genl;
	int r;

	c.dev = wgnl_device_new(ifname);
	if (!c.dev)
		return -ENOMEM;
	c.dev->flags = flags & WGNL_DEV_NO_ALLOWEDIPS;
	nlh->nlmsg_type = nl->family_id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++nl->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = WG_CMD_GET_DEVICE;
	genl->version = WG_GENL_VERSION;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	r = send_msg(nl, nlh);
	if (r >= 0)
		r = recv_reply(nl, nl->seq, dump_msg, &c);
	if (r >= 0 && fn) /* the last peer, which no later message continued */
		r = wgnl_hand_out_peers(c.dev, true, &c.device_done, fn, user);
	sodium_memzero(nl->buf, WGNL_RECV_BUF_SIZE);
	if (r < 0) {
		wgnl_device_free(c.dev);
		return r;
	}
	*ret = c.dev;
	return 0;
}

/*
 * Dump until a dump comes through uninterrupted, DUMP_RETRIES times at most.
 * A get (no fn) keeps the device in *ret. A walk has handed its peers to fn
 * already and passes no ret: its device, emptied, is freed.
 */
static int dump_retry(struct wgnl *nl, const char *ifname, unsigned flags, wgnl_peer_fn fn,
		      void *user, struct wgnl_device **ret)
{
	struct wgnl_device *dev = NULL;
	int i, r;

	if (!nl || !ifname || !ifname[0] || strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ || (!fn && !ret))
		return -EINVAL;
	for (i = 0; i < DUMP_RETRIES; i++) {
		r = dump_once(nl, ifname, flags, fn, user, &dev);
		if (r == -EINTR)
			continue; /* dump_once freed the interrupted device */
		if (r >= 0 && ret)
			*ret = dev;
		else
			wgnl_device_free(dev); /* NULL unless a walk's */
		return r;
	}
	return -EAGAIN;
}

int wgnl_get_device_flags(struct wgnl *nl, const char *ifname, unsigned flags,
			  struct wgnl_device **ret)
{
	return dump_retry(nl, ifname, flags, NULL, NULL, ret);
}

int wgnl_walk_device(struct wgnl *nl, const char *ifname, unsigned flags, wgnl_peer_fn fn,
		     void *user)
{
	return dump_retry(nl, ifname, flags, fn, user, NULL);
}

int wgnl_get_device(struct wgnl *nl, const char *ifname, struct wgnl_device **ret)
{
	return wgnl_get_device_flags(nl, ifname, 0, ret);
}

struct set_ctx {
	struct wgnl *nl;
	struct wgnl_set_stats *stats;
	uint32_t sent;
};

static int send_acked(const struct nlmsghdr *nlh, void *user)
{
	struct set_ctx *c = user;
	int r = send_msg(c->nl, nlh);

	c->sent++;
	if (r >= 0)
		r = recv_reply(c->nl, nlh->nlmsg_seq, NULL, NULL);
	if (r >= 0 && c->stats) {
		c->stats->messages++;
		c->stats->bytes += nlh->nlmsg_len;
	}
	return r;
}

int wgnl_set_device(struct wgnl *nl, const struct wgnl_device *dev, struct wgnl_set_stats *stats)
{
	struct set_ctx c = {.nl = nl, .stats = stats};
	uint32_t first;
	int r;

	if (!nl || !dev)
		return -EINVAL;
	if (stats)
		*stats = (struct wgnl_set_stats){0};
	first = nl->seq + 1;
	r = wgnl_build_set(dev, nl->family_id, first, WGNL_SET_BUF_SIZE, send_acked, &c);
	/* Sequence numbers stay unique even when a set stops half-way. */
	nl->seq = first + c.sent;
	return r < 0 ? r : 0;
}
