/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* WireGuard links, from an rtnetlink RTM_GETLINK dump filtered on kind. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "hubd/wgnl.h"
#include "wgnl-internal.h"

struct names {
	char **v;
	size_t n, cap;
	int err;
};

struct link_attrs {
	const struct nlattr *ifname, *linkinfo, *kind;
};

static int link_attr(const struct nlattr *attr, void *data)
{
	struct link_attrs *a = data;

	if (mnl_attr_get_type(attr) == IFLA_IFNAME)
		a->ifname = attr;
	else if (mnl_attr_get_type(attr) == IFLA_LINKINFO)
		a->linkinfo = attr;
	return MNL_CB_OK;
}

static int linkinfo_attr(const struct nlattr *attr, void *data)
{
	struct link_attrs *a = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND)
		a->kind = attr;
	return MNL_CB_OK;
}

static int add_name(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 8;
		char **v = realloc(ns->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n] = strdup(name);
	if (!ns->v[ns->n])
		return -ENOMEM;
	ns->n++;
	return 0;
}

static int link_msg(const struct nlmsghdr *nlh, void *data)
{
	struct names *ns = data;
	struct link_attrs a = {0};

	if (nlh->nlmsg_type != RTM_NEWLINK || ns->err)
		return MNL_CB_OK;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifinfomsg)) ||
	    mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr, &a) < 0)
		return MNL_CB_ERROR;
	if (!a.ifname || !a.linkinfo || mnl_attr_validate(a.ifname, MNL_TYPE_NUL_STRING) < 0 ||
	    mnl_attr_validate(a.linkinfo, MNL_TYPE_NESTED) < 0 ||
	    mnl_attr_parse_nested(a.linkinfo, linkinfo_attr, &a) < 0)
		return MNL_CB_OK;
	/* Old kernels ignore the kind filter in the request: check it here. */
	if (!a.kind || mnl_attr_validate(a.kind, MNL_TYPE_NUL_STRING) < 0 ||
	    strcmp(mnl_attr_get_str(a.kind), "wireguard") != 0)
		return MNL_CB_OK;
	ns->err = add_name(ns, mnl_attr_get_str(a.ifname));
	return MNL_CB_OK;
}

static int dump_links(struct mnl_socket *sock, struct names *ns)
{
	char *buf = malloc(WGNL_RECV_BUF_SIZE);
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nlattr *info;
	uint32_t seq = (uint32_t)time(NULL), portid = mnl_socket_get_portid(sock);
	int r;

	if (!buf)
		return -ENOMEM;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "wireguard");
	mnl_attr_nest_end(nlh, info);
	r = mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
	while (r == 0) {
		ssize_t n = mnl_socket_recvfrom(sock, buf, WGNL_RECV_BUF_SIZE);

		if (n < 0) {
			r = -errno;
			break;
		}
		r = mnl_cb_run(buf, (size_t)n, seq, portid, link_msg, ns);
		if (r == MNL_CB_ERROR)
			r = errno ? -errno : -EBADMSG;
		else
			r = r == MNL_CB_STOP ? 1 : 0;
	}
	free(buf);
	return r < 0 ? r : ns->err;
}

void wgnl_names_free(char **names, size_t n)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int wgnl_list_devices(char ***ret_names, size_t *ret_n)
{
	struct mnl_socket *sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	struct names ns = {0};
	int r;

	if (!sock)
		return -errno;
	r = mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
	if (r >= 0)
		r = dump_links(sock, &ns);
	mnl_socket_close(sock);
	if (r < 0) {
		wgnl_names_free(ns.v, ns.n);
		return r;
	}
	*ret_names = ns.v;
	*ret_n = ns.n;
	return 0;
}
