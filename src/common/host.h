/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What this machine relies on outside the tunnel: its own addresses, the
 * gateways of its routes and its name servers. No peer may route any of them
 * into the tunnel (hubd.conf(5), PeerRoutes): a peer file that could would
 * take the hub's own traffic (its replies, its default route's next hop, its
 * DNS) and hand it to whoever holds that key.
 */
#ifndef HUBD_HOST_H
#define HUBD_HOST_H

#include <net/if.h>
#include <stddef.h>

#include "config.h"

enum hubd_host_kind { HUBD_HOST_ADDRESS, HUBD_HOST_GATEWAY, HUBD_HOST_NAMESERVER };

struct hubd_host_fact {
	struct hubd_prefix addr; /* a single address: /32 or /128 */
	enum hubd_host_kind kind;
	char where[48]; /* the interface, or the file that names a name server */
};

struct hubd_host {
	struct hubd_host_fact *facts;
	size_t n;
};

/* Files read for name servers; the second is systemd-resolved's list of its upstreams. */
#define HUBD_RESOLV_CONF	  "/etc/resolv.conf"
#define HUBD_RESOLVED_RESOLV_CONF "/run/systemd/resolve/resolv.conf"

/*
 * Read the facts of the current network namespace, leaving out the tunnel
 * interface itself (its addresses are the hub's tunnel addresses, which the
 * verifier handles apart). Replaces what host held. A source that cannot be
 * read adds nothing. Returns 0 or -ENOMEM.
 */
int hubd_host_read(struct hubd_host *host, const char *tunnel_ifname);
/* The parts, for tests: /proc/net/route and ipv6_route text, and resolv.conf text. */
int hubd_host_add_routes4(struct hubd_host *host, const char *text, const char *tunnel_ifname);
int hubd_host_add_routes6(struct hubd_host *host, const char *text, const char *tunnel_ifname);
int hubd_host_add_resolv(struct hubd_host *host, const char *text, const char *file);
int hubd_host_add(struct hubd_host *host, const struct hubd_prefix *addr, enum hubd_host_kind kind,
		  const char *where);
void hubd_host_free(struct hubd_host *host);
const char *hubd_host_kind_name(enum hubd_host_kind kind);

#endif
