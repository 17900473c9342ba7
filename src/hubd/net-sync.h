/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every reconcile path sends the kernel besides the link: WireGuard set
 * requests, and the addresses, routes, forwarding and nftables table that a
 * configuration implies.
 */
#ifndef HUBD_NET_SYNC_H
#define HUBD_NET_SYNC_H

#include "daemon.h"

/*
 * Peers go to a device without any in runs of this many: nothing is removed
 * then, so each run's request stands alone, and a cold start of 10,000 peers
 * never holds all of them as one request besides the config and the states.
 */
#define HUBD_WG_RUN 1024

/* Send a set request, counting its messages and time. */
int hubd_send_set(struct hubd *h, struct wgnl_device *set);
/* k's private key, port and fwmark as c asks: what the kernel holds once they are sent. */
void hubd_device_as_configured(struct wgnl_device *k, const struct hubd_iface_conf *c);

enum {
	HUBD_NET_ADDRESSES = 1 << 0,
	HUBD_NET_ROUTES = 1 << 1, /* these need the link up */
	HUBD_NET_FORWARDING = 1 << 2,
	HUBD_NET_NFT = 1 << 3,
	HUBD_NET_ALL = (1 << 4) - 1,
};
/*
 * The parts asked for, for cfg on ifindex. Returns the first error; the other
 * parts are still tried, but forwarding is turned on only once the table asked
 * for with it is in place. Each error is logged here.
 */
int hubd_net_sync_parts(struct hubd *h, const struct hubd_config *cfg, int ifindex, unsigned parts,
			bool dry, struct hubd_changes *ch);

#endif
