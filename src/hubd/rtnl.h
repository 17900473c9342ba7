/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rtnetlink through libnl-route-3: the link, its addresses, the routes for
 * peer subnets and the forwarding sysctls. Each *_sync compares the kernel
 * with what is wanted and changes only the difference; with dry set it only
 * reports. Return >= 0 (the number of changes) or -errno.
 */
#ifndef HUBD_RTNL_H
#define HUBD_RTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "config.h"

/*
 * Routes hubd installs carry this protocol number ("ip route show proto 150"),
 * so hubd removes only routes that it added. Unassigned in rtnetlink.h and
 * iproute2's rt_protos.
 */
#define HUBD_RTPROT 150

struct nl_sock;

struct nl_sock *hubd_rtnl_open(void);
void hubd_rtnl_close(struct nl_sock *sk);
/* The socket's netlink port: the kernel's notifications of our own requests carry it. */
uint32_t hubd_rtnl_port(struct nl_sock *sk);

/* Look up a link: its ifindex (0 when absent) and whether it is a WireGuard link. */
int hubd_link_lookup(struct nl_sock *sk, const char *name, int *ret_ifindex, bool *ret_is_wg);

/*
 * Create the WireGuard link if missing (with its MTU, left down: *ret_created
 * is set, and the caller brings it up with hubd_link_up once configured), or
 * bring an existing one's MTU and up flag in line. *ret_ifindex is 0 in a dry
 * run that would create it.
 */
int hubd_link_sync(struct nl_sock *sk, const struct hubd_iface_conf *c, bool dry, int *ret_ifindex,
		   bool *ret_created, struct hubd_changes *ch);
int hubd_link_up(struct nl_sock *sk, const struct hubd_iface_conf *c);

/* Delete the link name, but only if it is a WireGuard link. */
int hubd_link_delete(struct nl_sock *sk, const char *name);

/* Make the link's addresses exactly addrs (IPv6 link-local addresses are left alone). */
int hubd_addr_sync(struct nl_sock *sk, int ifindex, const struct hubd_prefix *addrs, size_t n,
		   bool dry, struct hubd_changes *ch);

/* Make hubd's routes (proto HUBD_RTPROT) via the link exactly dsts, in the main table. */
int hubd_route_sync(struct nl_sock *sk, int ifindex, const struct hubd_prefix *dsts, size_t n,
		    bool dry, struct hubd_changes *ch);

/*
 * Remove hubd's routes to del and add routes to add via the link, and nothing
 * else: the few routes a change of a few peers needs, without reading a table
 * of tens of thousands. It trusts that the kernel had the routes of the
 * running config (drift is for the notifications and the full reconcile);
 * a route already gone counts as removed, one present and not hubd's is left
 * alone with a warning, as hubd_route_sync does.
 */
int hubd_route_change(struct nl_sock *sk, int ifindex, const struct hubd_prefix *del, size_t n_del,
		      const struct hubd_prefix *add, size_t n_add, struct hubd_changes *ch);

/*
 * Have the kernel drop, before they take room in its receive buffer, the
 * notifications that a socket of netlink port port caused: hubd's own echoes
 * on a monitor socket. A cold start that adds 35,000 routes would otherwise
 * overrun any buffer with its own echoes and force a full resync after READY.
 */
int hubd_rtnl_filter_port(int fd, uint32_t port);

/* Turn on IPv4 (and IPv6 when v6) forwarding. */
int hubd_forwarding_sync(bool v6, bool dry, struct hubd_changes *ch);

#endif
