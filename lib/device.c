/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wgnl_device and wgnl_peer: allocation, growth and wiping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "hubd/wgnl.h"
#include "wgnl-internal.h"

struct wgnl_device *wgnl_device_new(const char *ifname)
{
	struct wgnl_device *dev;

	if (!ifname || strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ)
		return NULL;
	dev = calloc(1, sizeof(*dev));
	if (dev)
		memcpy(dev->name, ifname, strlen(ifname));
	return dev;
}

/* Grow a key-holding array without leaving a copy of the keys behind in
 * freed memory, which realloc() would do when it moves the block. */
static void *grow_wiped(void *old, size_t n, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p;

	if (ncap > SIZE_MAX / elem)
		return NULL;
	p = calloc(ncap, elem);
	if (!p)
		return NULL;
	if (old) {
		memcpy(p, old, n * elem);
		sodium_memzero(old, n * elem);
		free(old);
	}
	*cap = ncap;
	return p;
}

struct wgnl_peer *wgnl_device_add_peer(struct wgnl_device *dev)
{
	struct wgnl_peer *peer;

	if (dev->n_peers == dev->cap_peers) {
		void *p = grow_wiped(dev->peers, dev->n_peers, &dev->cap_peers, sizeof(*peer));

		if (!p)
			return NULL;
		dev->peers = p;
	}
	peer = &dev->peers[dev->n_peers++];
	memset(peer, 0, sizeof(*peer));
	return peer;
}

int wgnl_peer_add_allowedip(struct wgnl_peer *peer, const struct wgnl_allowedip *aip)
{
	if ((aip->family != AF_INET || aip->cidr > 32) &&
	    (aip->family != AF_INET6 || aip->cidr > 128))
		return -EINVAL;
	if (peer->n_allowedips == peer->cap_allowedips) {
		/* Allowed IPs are not secret: plain doubling realloc. */
		size_t ncap = peer->cap_allowedips ? peer->cap_allowedips * 2 : 4;
		void *p;

		if (ncap > SIZE_MAX / sizeof(*aip))
			return -ENOMEM;
		p = realloc(peer->allowedips, ncap * sizeof(*aip));
		if (!p)
			return -ENOMEM;
		peer->allowedips = p;
		peer->cap_allowedips = ncap;
	}
	peer->allowedips[peer->n_allowedips++] = *aip;
	return 0;
}

void wgnl_peer_clear(struct wgnl_peer *peer)
{
	free(peer->allowedips);
	sodium_memzero(peer, sizeof(*peer));
}

void wgnl_device_free(struct wgnl_device *dev)
{
	size_t i;

	if (!dev)
		return;
	for (i = 0; i < dev->n_peers; i++)
		wgnl_peer_clear(&dev->peers[i]);
	free(dev->peers);
	sodium_memzero(dev, sizeof(*dev));
	free(dev);
}
