/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The wg-quick config that `hubctl peer add` hands to a new client, and the
 * choices that go into it. Pure: no I/O.
 */
#ifndef HUBD_RENDER_H
#define HUBD_RENDER_H

#include <stddef.h>

#include "config.h"

#define HUBCTL_CLIENT_KEEPALIVE 25 /* phones and gateways sit behind NAT */

struct hubctl_client_conf {
	const char *private_key;	     /* base64 */
	const struct hubd_prefix *addresses; /* host addresses, written as /32 or /128 */
	size_t n_addresses;
	const char *dns;	    /* as hubctl_normalize_dns returns it, or NULL */
	const char *hub_public_key; /* base64 */
	const char *endpoint;	    /* host:port */
	const struct hubd_prefix *allowed_ips;
	size_t n_allowed_ips;
	unsigned keepalive; /* 0: no PersistentKeepalive line */
	/*
	 * A site gateway's LANs (peer add --lan): the wg-quick config then gets
	 * PostUp/PostDown hooks that turn forwarding on and masquerade tunnel
	 * traffic into them (nft), and undo both on down.
	 */
	const struct hubd_prefix *lans;
	size_t n_lans;
};

/*
 * The client's config text. It holds a private key: free it with
 * hubctl_secret_free(). Returns 0, -EINVAL on an empty address or allowed IP
 * list, or -ENOMEM.
 */
int hubctl_render_client(const struct hubctl_client_conf *c, char **ret);

/*
 * A site gateway that runs hubd (peer add --lan --format hubd): its hubd.conf
 * (c->addresses with the hub subnet's length, Masquerade = each LAN) and its
 * peers.d/hub.conf (the hub as its one peer, keepalive c->keepalive). Neither
 * holds a key: c->private_key is not used. Returns 0, -EINVAL or -ENOMEM.
 */
int hubctl_render_site_hubd(const struct hubctl_client_conf *c, char **ret_conf,
			    char **ret_hub_peer);

/* Wipe a NUL-terminated secret string, then free it. NULL is fine. */
void hubctl_secret_free(char *s);

/*
 * The split-tunnel default AllowedIPs: every hub subnet (host bits cleared),
 * then every peer AllowedIPs prefix that no hub subnet covers (the LANs
 * routed through the hub), in order, without duplicates or prefixes another
 * one in the list already covers. Returns 0 or -ENOMEM; free *ret.
 */
int hubctl_default_allowed_ips(const struct hubd_prefix *hub, size_t n_hub,
			       const struct hubd_prefix *peer_ips, size_t n_peer_ips,
			       struct hubd_prefix **ret, size_t *ret_n);

/*
 * The client's Endpoint: option (--endpoint) when given, else the hub's
 * PublicEndpoint. Returns 0, or -ENOENT when both are NULL, -EINVAL when the
 * chosen one is not HOST:PORT ([V6]:PORT for IPv6 literals).
 */
int hubctl_client_endpoint(const char *option, const char *public_endpoint, const char **ret);
int hubctl_endpoint_valid(const char *endpoint);

/*
 * Parse a comma (or space) separated prefix list such as --allowed-ips, each
 * one as hubd_prefix_parse takes it (what the daemon accepts in AllowedIPs).
 * Host bits are cleared, as wg(8) does. Returns 0, -EINVAL or -ENOMEM. On
 * -EINVAL, *ret_bad (when ret_bad is not NULL) is a malloc'd copy of the
 * refused item, or NULL when the list holds none; free it.
 */
int hubctl_parse_prefix_list(const char *list, struct hubd_prefix **ret, size_t *ret_n,
			     char **ret_bad);

/*
 * Check and normalise --dns: IP addresses (DNS servers) or host names
 * (search domains), as wg-quick's DNS= takes them. Returns a new
 * "a, b" string in *ret, or -EINVAL / -ENOMEM.
 */
int hubctl_normalize_dns(const char *list, char **ret);

#endif
