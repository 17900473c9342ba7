/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel change notifications: rtnetlink (links, addresses, routes) and
 * nftables. A change someone else makes to what hubd owns schedules a drift
 * reconcile. hubd's own changes come back here too and are recognised, so
 * they do not cost a dump of every peer: an rtnetlink notification carries
 * the port of the socket whose request caused it (a socket filter drops
 * those in the kernel, before they take buffer room), and an nftables
 * transaction ends in a NEWGEN message naming the process that made it. An
 * overrun socket (ENOBUFS) means notifications were lost, so it schedules a
 * full resync instead of trusting what it saw.
 * WireGuard itself sends no notifications: the health timer covers it.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "nft.h"
#include "rtnl.h"

static bool link_relevant(struct hubd_loop *l, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return false;
	if (l->h->ifindex && ifi->ifi_index == l->h->ifindex)
		return true;
	/* A link of our name appearing (or our link gone before we knew its index). */
	mnl_attr_for_each(a, nlh, sizeof(*ifi))
	{
		if (mnl_attr_get_type(a) == IFLA_IFNAME &&
		    mnl_attr_validate(a, MNL_TYPE_STRING) >= 0 && l->h->cfg &&
		    !strcmp(mnl_attr_get_str(a), l->h->cfg->iface.name))
			return true;
	}
	return false;
}

static bool rt_relevant(struct hubd_loop *l, const struct nlmsghdr *nlh)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return link_relevant(l, nlh);
	case RTM_NEWADDR:
	case RTM_DELADDR: {
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

		return nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*ifa)) &&
		       (int)ifa->ifa_index == l->h->ifindex;
	}
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

		return nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*rtm)) &&
		       rtm->rtm_protocol == HUBD_RTPROT;
	}
	default:
		return false;
	}
}

/* Our link as configured: up, with its name and MTU. */
static bool link_as_wanted(const struct hubd_loop *l, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct hubd_iface_conf *c = &l->h->cfg->iface;
	bool name = false, mtu = false;
	const struct nlattr *a;

	if (ifi->ifi_index != l->h->ifindex || !(ifi->ifi_flags & IFF_UP))
		return false;
	mnl_attr_for_each(a, nlh, sizeof(*ifi))
	{
		if (mnl_attr_get_type(a) == IFLA_IFNAME &&
		    mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
			name = !strcmp(mnl_attr_get_str(a), c->name);
		else if (mnl_attr_get_type(a) == IFLA_MTU &&
			 mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			mtu = mnl_attr_get_u32(a) == c->mtu;
	}
	return name && mtu;
}

/* One of the configured addresses, with its prefix length. */
static bool addr_wanted(const struct hubd_loop *l, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct hubd_iface_conf *c = &l->h->cfg->iface;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*ifa))
	{
		/* IFA_LOCAL is an IPv4 address itself (IFA_ADDRESS may be a point-to-point
		 * peer); IPv6 has only IFA_ADDRESS. */
		int type = mnl_attr_get_type(a);
		size_t len = ifa->ifa_family == AF_INET ? 4 : 16;

		if ((ifa->ifa_family == AF_INET ? type != IFA_LOCAL : type != IFA_ADDRESS) ||
		    mnl_attr_get_payload_len(a) != len)
			continue;
		for (size_t i = 0; i < c->n_addresses; i++)
			if (c->addresses[i].family == ifa->ifa_family &&
			    c->addresses[i].cidr == ifa->ifa_prefixlen &&
			    !memcmp(&c->addresses[i].addr, mnl_attr_get_payload(a), len))
				return true;
	}
	return false;
}

/*
 * A notification saying that something is as hubd wants it is no drift,
 * whoever caused it. This covers what the port check cannot: the kernel
 * sends some notifications of hubd's own requests with port 0 (before 6.3,
 * a link's flags and MTU; an IPv6 address added or removed, again when its
 * DAD ends).
 */
static bool as_wanted(const struct hubd_loop *l, const struct nlmsghdr *nlh)
{
	if (!l->h->cfg)
		return false;
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
		return link_as_wanted(l, nlh);
	case RTM_NEWADDR:
		return addr_wanted(l, nlh);
	case RTM_DELADDR: /* one hubd does not want is gone: hubd would remove it */
		return !addr_wanted(l, nlh);
	default:
		return false;
	}
}

static int rt_cb(const struct nlmsghdr *nlh, void *data)
{
	struct hubd_loop *l = data;

	if (nlh->nlmsg_pid && nlh->nlmsg_pid == l->own_port)
		return MNL_CB_OK; /* our own request's echo */
	if (!rt_relevant(l, nlh))
		return MNL_CB_OK;
	/* The link's messages describe its state at the time: only the last one read counts,
	 * so a link created down and then brought up (both told with port 0) is no drift. */
	if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
		l->link_seen = true;
		l->link_drift = !as_wanted(l, nlh);
		return MNL_CB_OK;
	}
	if (as_wanted(l, nlh))
		return MNL_CB_OK;
	log_debug("kernel change: rtnetlink message %u from port %u", nlh->nlmsg_type,
		  nlh->nlmsg_pid);
	loop_schedule(l, RECONCILE_DRIFT, DEBOUNCE_KERNEL_USEC);
	return MNL_CB_OK;
}

/* The pid in a NEWGEN message: the process whose transaction just ended (0 if not said). */
static uint32_t gen_pid(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) == NFTA_GEN_PROC_PID &&
		    mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			return ntohl(mnl_attr_get_u32(a));
	}
	return 0;
}

static int nf_cb(const struct nlmsghdr *nlh, void *data)
{
	struct hubd_loop *l = data;
	uint32_t pid;

	/* Our table's listing is compared on reconcile; any ruleset change may have touched it.
	 * The messages of one transaction come first, its NEWGEN last. */
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
		l->nf_changed = true;
		return MNL_CB_OK;
	}
	pid = gen_pid(nlh);
	/* Every transaction of ours is made on the loop's thread, whose id is the process's. */
	if (l->nf_changed && pid != (uint32_t)getpid()) {
		log_debug("kernel change: nftables, by pid %u", pid);
		loop_schedule(l, RECONCILE_DRIFT, DEBOUNCE_KERNEL_USEC);
	}
	l->nf_changed = false;
	return MNL_CB_OK;
}

static int drain(struct mnl_socket *nl, mnl_cb_t cb, struct hubd_loop *l)
{
	char buf[65536] __attribute__((aligned(NLMSG_ALIGNTO)));

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS) {
				log_warn("kernel notifications overran: full resync");
				loop_schedule(l, RECONCILE_DRIFT, DEBOUNCE_KERNEL_USEC);
				continue;
			}
			return -errno;
		}
		mnl_cb_run(buf, n, 0, 0, cb, l);
	}
}

static int on_rt(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hubd_loop *l = userdata;

	l->link_seen = false;
	drain(l->rtmon, rt_cb, l);
	if (l->link_seen && l->link_drift) {
		log_debug("kernel change: link %s", l->h->cfg ? l->h->cfg->iface.name : "");
		loop_schedule(l, RECONCILE_DRIFT, DEBOUNCE_KERNEL_USEC);
	}
	return 0;
}

static int on_nf(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hubd_loop *l = userdata;

	drain(l->nfmon, nf_cb, l);
	return 0;
}

static struct mnl_socket *open_monitor(int bus, unsigned groups)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int size = 4 << 20;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	/* A generous buffer makes overruns rare; SO_RCVBUFFORCE needs CAP_NET_ADMIN, which we have.
	 */
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return nl;
}

int monitor_start(struct hubd_loop *l)
{
	unsigned rt_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			     RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	int r;

	l->own_port = hubd_rtnl_port(l->h->rtnl);
	l->rtmon = open_monitor(NETLINK_ROUTE, rt_groups);
	if (!l->rtmon)
		return -errno;
	/* Our own echoes, dropped by the kernel: a cold start's tens of thousands of routes
	 * would fill the buffer with them, and the overrun would cost a full resync after
	 * READY. rt_cb still checks the port, should the filter be refused. */
	r = hubd_rtnl_filter_port(mnl_socket_get_fd(l->rtmon), l->own_port);
	if (r < 0)
		log_debug("no filter for our own rtnetlink echoes: %s", strerror(-r));
	r = sd_event_add_io(l->event, NULL, mnl_socket_get_fd(l->rtmon), EPOLLIN, on_rt, l);
	if (r < 0)
		return r;
	l->nfmon = open_monitor(NETLINK_NETFILTER, 1U << (NFNLGRP_NFTABLES - 1));
	if (!l->nfmon) {
		log_warn("no nftables notifications: %s; the health timer still checks the table",
			 strerror(errno));
		return 0;
	}
	return sd_event_add_io(l->event, NULL, mnl_socket_get_fd(l->nfmon), EPOLLIN, on_nf, l);
}

void monitor_stop(struct hubd_loop *l)
{
	if (l->rtmon)
		mnl_socket_close(l->rtmon);
	if (l->nfmon)
		mnl_socket_close(l->nfmon);
	l->rtmon = l->nfmon = NULL;
}
