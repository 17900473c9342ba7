/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diff.h"
#include "log.h"

static int nlerr(int e)
{
	switch (e < 0 ? -e : e) {
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENOENT;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

struct nl_sock *hubd_rtnl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk)
		return NULL;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	/* Dumps of 10,000 routes must not overrun the default 32 KiB. */
	nl_socket_set_buffer_size(sk, 4 << 20, 1 << 20);
	return sk;
}

uint32_t hubd_rtnl_port(struct nl_sock *sk)
{
	return sk ? nl_socket_get_local_port(sk) : 0;
}

void hubd_rtnl_close(struct nl_sock *sk)
{
	nl_socket_free(sk);
}

static bool link_is_wg(struct rtnl_link *l)
{
	const char *kind = rtnl_link_get_type(l);

	return kind && !strcmp(kind, "wireguard");
}

int hubd_link_lookup(struct nl_sock *sk, const char *name, int *ret_ifindex, bool *ret_is_wg)
{
	struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, &l);

	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
		*ret_ifindex = 0;
		*ret_is_wg = false;
		return 0;
	}
	if (r < 0)
		return nlerr(r);
	*ret_ifindex = rtnl_link_get_ifindex(l);
	*ret_is_wg = link_is_wg(l);
	rtnl_link_put(l);
	return 0;
}

static int link_create(struct nl_sock *sk, const struct hubd_iface_conf *c)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int r;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, c->name);
	r = rtnl_link_set_type(l, "wireguard");
	if (r >= 0) {
		rtnl_link_set_mtu(l, c->mtu);
		r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	}
	rtnl_link_put(l);
	return r < 0 ? nlerr(r) : 0;
}

/* Bring the MTU and the up flag in line; returns the number of changes. */
static int link_update(struct nl_sock *sk, struct rtnl_link *cur, const struct hubd_iface_conf *c,
		       bool dry, struct hubd_changes *ch)
{
	struct rtnl_link *want;
	int n = 0, r = 0;

	if (rtnl_link_get_mtu(cur) != c->mtu) {
		changes_add(ch, "link %s: mtu %u -> %u", c->name, rtnl_link_get_mtu(cur), c->mtu);
		n++;
	}
	if (!(rtnl_link_get_flags(cur) & IFF_UP)) {
		changes_add(ch, "link %s: up", c->name);
		n++;
	}
	if (!n || dry)
		return n;
	want = rtnl_link_alloc();
	if (!want)
		return -ENOMEM;
	rtnl_link_set_mtu(want, c->mtu);
	rtnl_link_set_flags(want, IFF_UP);
	r = rtnl_link_change(sk, cur, want, 0);
	rtnl_link_put(want);
	return r < 0 ? nlerr(r) : n;
}

int hubd_link_sync(struct nl_sock *sk, const struct hubd_iface_conf *c, bool dry, int *ret_ifindex,
		   bool *ret_created, struct hubd_changes *ch)
{
	struct rtnl_link *cur = NULL;
	int r, created = 0;

	r = rtnl_link_get_kernel(sk, 0, c->name, &cur);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
		changes_add(ch, "link %s: create (wireguard, mtu %u)", c->name, c->mtu);
		if (dry) {
			*ret_ifindex = 0;
			return 1;
		}
		r = link_create(sk, c);
		if (r < 0)
			return r;
		created = 1;
		*ret_created = true;
		r = rtnl_link_get_kernel(sk, 0, c->name, &cur);
	}
	if (r < 0)
		return nlerr(r);
	if (!link_is_wg(cur)) {
		/* Someone else's link of that name: never take it over. */
		rtnl_link_put(cur);
		return -EEXIST;
	}
	/*
	 * A link we just created stays down until the caller has configured it
	 * (hubd_link_up), as wg-quick does: WireGuard takes peers faster on a
	 * link that is down. Its MTU was set on creation.
	 */
	r = created ? 0 : link_update(sk, cur, c, dry, ch);
	if (r >= 0) {
		*ret_ifindex = rtnl_link_get_ifindex(cur);
		r += created;
	}
	rtnl_link_put(cur);
	return r;
}

int hubd_link_up(struct nl_sock *sk, const struct hubd_iface_conf *c)
{
	struct rtnl_link *cur = NULL;
	struct hubd_changes quiet = {0}; /* part of "create", not news */
	int r = rtnl_link_get_kernel(sk, 0, c->name, &cur);

	if (r < 0)
		return nlerr(r);
	r = link_update(sk, cur, c, false, &quiet);
	changes_clear(&quiet);
	rtnl_link_put(cur);
	return r < 0 ? r : 0;
}

int hubd_link_delete(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *cur = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, &cur);

	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	if (r < 0)
		return nlerr(r);
	if (!link_is_wg(cur)) {
		rtnl_link_put(cur);
		return -EEXIST;
	}
	r = rtnl_link_delete(sk, cur);
	rtnl_link_put(cur);
	return r < 0 ? nlerr(r) : 1;
}

static struct nl_addr *prefix_to_nl(const struct hubd_prefix *p)
{
	struct nl_addr *a =
	    nl_addr_build(p->family, &p->addr,
			  p->family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr));

	if (a)
		nl_addr_set_prefixlen(a, p->cidr);
	return a;
}

static bool nl_to_prefix(struct nl_addr *a, struct hubd_prefix *p)
{
	size_t len;

	if (!a)
		return false;
	len = nl_addr_get_len(a);
	memset(p, 0, sizeof(*p));
	p->family = nl_addr_get_family(a);
	p->cidr = nl_addr_get_prefixlen(a);
	if (len != (p->family == AF_INET ? 4u : 16u) && !(len == 0 && p->cidr == 0))
		return false;
	memcpy(&p->addr, nl_addr_get_binary_addr(a), len);
	return true;
}

/*
 * Addresses and routes are kept the same way: list the kernel's objects,
 * remove those of ours that are not wanted, add the wanted ones missing.
 * The ops say what "ours" means and how to add and remove one.
 */
struct sync_ops {
	const char *what;
	int (*cache)(struct nl_sock *sk, struct nl_cache **ret);
	/* The object's prefix, when it is ours on ifindex. */
	bool (*ours)(struct nl_object *o, int ifindex, struct hubd_prefix *ret);
	int (*add)(struct nl_sock *sk, int ifindex, const struct hubd_prefix *p);
	int (*del)(struct nl_sock *sk, struct nl_object *o);
};

static int addr_cache(struct nl_sock *sk, struct nl_cache **ret)
{
	return rtnl_addr_alloc_cache(sk, ret);
}

static bool addr_ours(struct nl_object *o, int ifindex, struct hubd_prefix *ret)
{
	struct rtnl_addr *a = (struct rtnl_addr *)o;

	/* IPv6 link-local addresses belong to the kernel, not to the config. */
	if (rtnl_addr_get_ifindex(a) != ifindex ||
	    (rtnl_addr_get_family(a) == AF_INET6 && rtnl_addr_get_scope(a) == RT_SCOPE_LINK))
		return false;
	return nl_to_prefix(rtnl_addr_get_local(a), ret);
}

static int addr_add(struct nl_sock *sk, int ifindex, const struct hubd_prefix *p)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = prefix_to_nl(p);
	int r = -ENOMEM;

	if (a && local) {
		rtnl_addr_set_ifindex(a, ifindex);
		rtnl_addr_set_local(a, local);
		rtnl_addr_set_prefixlen(a, p->cidr);
		r = rtnl_addr_add(sk, a, NLM_F_CREATE | NLM_F_REPLACE);
		r = r < 0 ? nlerr(r) : 0;
	}
	nl_addr_put(local);
	rtnl_addr_put(a);
	return r;
}

static int addr_del(struct nl_sock *sk, struct nl_object *o)
{
	int r = rtnl_addr_delete(sk, (struct rtnl_addr *)o, 0);

	return r < 0 ? nlerr(r) : 0;
}

static int route_cache(struct nl_sock *sk, struct nl_cache **ret)
{
	return rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, ret);
}

static bool route_ours(struct nl_object *o, int ifindex, struct hubd_prefix *ret)
{
	struct rtnl_route *rt = (struct rtnl_route *)o;
	struct rtnl_nexthop *nh =
	    rtnl_route_get_nnexthops(rt) == 1 ? rtnl_route_nexthop_n(rt, 0) : NULL;

	if (rtnl_route_get_protocol(rt) != HUBD_RTPROT ||
	    rtnl_route_get_table(rt) != RT_TABLE_MAIN || !nh ||
	    rtnl_route_nh_get_ifindex(nh) != ifindex)
		return false;
	return nl_to_prefix(rtnl_route_get_dst(rt), ret);
}

/* hubd's route to p via the link, as it adds them: NULL when out of memory. */
static struct rtnl_route *route_new(int ifindex, const struct hubd_prefix *p)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = prefix_to_nl(p);

	if (rt && nh && dst) {
		rtnl_route_set_family(rt, p->family);
		rtnl_route_set_table(rt, RT_TABLE_MAIN);
		rtnl_route_set_protocol(rt, HUBD_RTPROT);
		rtnl_route_set_scope(rt, RT_SCOPE_LINK);
		rtnl_route_set_type(rt, RTN_UNICAST);
		rtnl_route_set_dst(rt, dst);
		rtnl_route_nh_set_ifindex(nh, ifindex);
		rtnl_route_add_nexthop(rt, nh); /* the route owns it now */
		nl_addr_put(dst);
		return rt;
	}
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	rtnl_route_put(rt);
	return NULL;
}

static int route_add(struct nl_sock *sk, int ifindex, const struct hubd_prefix *p)
{
	struct rtnl_route *rt = route_new(ifindex, p);
	int r;

	if (!rt)
		return -ENOMEM;
	/* EXCL: a route someone else installed for that prefix is theirs, not ours to
	 * replace. */
	r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_route_put(rt);
	return r < 0 ? nlerr(r) : 0;
}

/* Remove hubd's route to p via the link: the kernel matches the protocol, so a route of the
 * same prefix that someone else added is not touched. */
static int route_remove(struct nl_sock *sk, int ifindex, const struct hubd_prefix *p)
{
	struct rtnl_route *rt = route_new(ifindex, p);
	int r;

	if (!rt)
		return -ENOMEM;
	r = rtnl_route_delete(sk, rt, 0);
	rtnl_route_put(rt);
	return r < 0 ? nlerr(r) : 0;
}

static int route_del(struct nl_sock *sk, struct nl_object *o)
{
	int r = rtnl_route_delete(sk, (struct rtnl_route *)o, 0);

	return r < 0 ? nlerr(r) : 0;
}

static const struct sync_ops addr_ops = {"address", addr_cache, addr_ours, addr_add, addr_del};
static const struct sync_ops route_ops = {"route", route_cache, route_ours, route_add, route_del};

/* Remove our objects that are not in want (sorted); mark in present those that are. */
static int sync_remove(struct nl_sock *sk, const struct sync_ops *ops, struct nl_cache *cache,
		       int ifindex, const struct hubd_prefix *want, size_t n, bool dry,
		       struct hubd_changes *ch, bool *present)
{
	int changed = 0;

	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct hubd_prefix key;
		const struct hubd_prefix *hit;
		char buf[HUBD_PREFIX_STRLEN];

		if (!ops->ours(o, ifindex, &key))
			continue;
		hit = n ? bsearch(&key, want, n, sizeof(*want), hubd_prefix_cmp) : NULL;
		if (hit) {
			present[hit - want] = true;
			continue;
		}
		hubd_prefix_format(&key, buf, sizeof(buf));
		changes_add(ch, "%s %s: remove", ops->what, buf);
		changed++;
		if (!dry && ops->del(sk, o) < 0)
			log_warn("cannot remove %s %s", ops->what, buf);
	}
	return changed;
}

static int sync_objects(struct nl_sock *sk, const struct sync_ops *ops, int ifindex,
			const struct hubd_prefix *wanted, size_t n, bool dry,
			struct hubd_changes *ch)
{
	struct hubd_prefix *want = calloc(n + 1, sizeof(*want));
	bool *present = calloc(n + 1, sizeof(bool));
	struct nl_cache *cache = NULL;
	int r = 0, changed = 0;

	if (!want || !present) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(want, wanted, n * sizeof(*want));
	qsort(want, n, sizeof(*want), hubd_prefix_cmp);
	if (ifindex > 0) {
		r = ops->cache(sk, &cache);
		if (r < 0) {
			r = nlerr(r);
			goto out;
		}
		changed = sync_remove(sk, ops, cache, ifindex, want, n, dry, ch, present);
	}
	for (size_t i = 0; i < n; i++) {
		char buf[HUBD_PREFIX_STRLEN];
		int e;

		if (present[i] || (i && !hubd_prefix_cmp(&want[i - 1], &want[i])))
			continue;
		hubd_prefix_format(&want[i], buf, sizeof(buf));
		changes_add(ch, "%s %s: add", ops->what, buf);
		changed++;
		if (dry)
			continue;
		e = ops->add(sk, ifindex, &want[i]);
		if (e == -EEXIST)
			log_warn("%s %s exists and is not hubd's: left alone", ops->what, buf);
		else if (e < 0 && r >= 0)
			r = e;
	}
out:
	nl_cache_free(cache);
	free(present);
	free(want);
	return r < 0 ? r : changed;
}

int hubd_addr_sync(struct nl_sock *sk, int ifindex, const struct hubd_prefix *addrs, size_t n,
		   bool dry, struct hubd_changes *ch)
{
	return sync_objects(sk, &addr_ops, ifindex, addrs, n, dry, ch);
}

int hubd_route_sync(struct nl_sock *sk, int ifindex, const struct hubd_prefix *dsts, size_t n,
		    bool dry, struct hubd_changes *ch)
{
	return sync_objects(sk, &route_ops, ifindex, dsts, n, dry, ch);
}

int hubd_route_change(struct nl_sock *sk, int ifindex, const struct hubd_prefix *del, size_t n_del,
		      const struct hubd_prefix *add, size_t n_add, struct hubd_changes *ch)
{
	char buf[HUBD_PREFIX_STRLEN];
	int r = 0, changed = 0;

	for (size_t i = 0; i < n_del; i++) {
		int e = route_remove(sk, ifindex, &del[i]);

		hubd_prefix_format(&del[i], buf, sizeof(buf));
		if (e == -ENOENT) /* gone already (ESRCH, which libnl reads as not found) */
			continue;
		changes_add(ch, "route %s: remove", buf);
		changed++;
		if (e < 0)
			log_warn("cannot remove route %s", buf);
	}
	for (size_t i = 0; i < n_add; i++) {
		int e = route_add(sk, ifindex, &add[i]);

		hubd_prefix_format(&add[i], buf, sizeof(buf));
		changes_add(ch, "route %s: add", buf);
		changed++;
		if (e == -EEXIST)
			log_warn("route %s exists and is not hubd's: left alone", buf);
		else if (e < 0 && r >= 0)
			r = e;
	}
	return r < 0 ? r : changed;
}

int hubd_rtnl_filter_port(int fd, uint32_t port)
{
	/* Classic BPF loads words in network order: compare with the port so read. */
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(port), 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	    BPF_STMT(BPF_RET | BPF_K, UINT32_MAX),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

	if (!port)
		return -EINVAL; /* the kernel's own notifications carry 0: never drop those */
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ? -errno : 0;
}

static int sysctl_on(const char *path, bool dry, struct hubd_changes *ch)
{
	char c = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (read(fd, &c, 1) == 1 && c == '1')
		goto out;
	changes_add(ch, "sysctl %s: 1", path + strlen("/proc/sys/"));
	r = 1;
	if (!dry && pwrite(fd, "1\n", 2, 0) != 2)
		r = -errno;
out:
	close(fd);
	return r;
}

int hubd_forwarding_sync(bool v6, bool dry, struct hubd_changes *ch)
{
	int r = sysctl_on("/proc/sys/net/ipv4/ip_forward", dry, ch);

	if (r >= 0 && v6) {
		int r6 = sysctl_on("/proc/sys/net/ipv6/conf/all/forwarding", dry, ch);

		r = r6 < 0 ? r6 : r + r6;
	}
	return r;
}
