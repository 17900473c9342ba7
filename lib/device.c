/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wgnl_device and wgnl_peer: allocation, growth and wiping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
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

/*
 * The peer array holds keys, so it may not grow by realloc(), which leaves
 * the old block unwiped when it moves it. Small arrays grow by copying and
 * wiping the old block. From PEERS_MAP_MIN bytes on the array is its own
 * mapping, and mremap() moves its pages to the larger mapping without
 * copying them, so no copy is left behind. Copying grew a large array through
 * every doubling and touched well beyond its final size in fresh pages (and
 * the heap's mmap threshold, raised by the first free, made calloc zero them
 * too); bench/README.md has the figures.
 */
#define PEERS_MAP_MIN (256u * 1024u)

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (n + page - 1) / page * page;
}

static bool is_mapped(size_t cap)
{
	return cap * sizeof(struct wgnl_peer) >= PEERS_MAP_MIN;
}

/* A zeroed array of cap peers, holding the n of old (of capacity old_cap). */
static void *peers_realloc(struct wgnl_peer *old, size_t n, size_t old_cap, size_t cap)
{
	size_t bytes = cap * sizeof(*old);
	void *p;

	if (!is_mapped(cap))
		p = calloc(cap, sizeof(*old));
	else if (old && is_mapped(old_cap))
		/* The pages added at the end come zeroed from the kernel. */
		return mremap(old, page_round(old_cap * sizeof(*old)), page_round(bytes),
			      MREMAP_MAYMOVE);
	else
		p = mmap(NULL, page_round(bytes), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!p || p == MAP_FAILED)
		return MAP_FAILED;
	if (old) {
		memcpy(p, old, n * sizeof(*old));
		sodium_memzero(old, n * sizeof(*old));
		free(old); /* never mapped: the mapped sizes come after all heap ones */
	}
	return p;
}

static void peers_free(struct wgnl_peer *peers, size_t cap)
{
	if (peers && is_mapped(cap))
		munmap(peers, page_round(cap * sizeof(*peers)));
	else
		free(peers);
}

struct wgnl_peer *wgnl_device_add_peer(struct wgnl_device *dev)
{
	struct wgnl_peer *peer;

	if (dev->n_peers == dev->cap_peers) {
		size_t cap = dev->cap_peers ? dev->cap_peers * 2 : 8;
		void *p;

		if (cap > SIZE_MAX / 2 / sizeof(*peer))
			return NULL;
		p = peers_realloc(dev->peers, dev->n_peers, dev->cap_peers, cap);
		if (p == MAP_FAILED)
			return NULL;
		dev->peers = p;
		dev->cap_peers = cap;
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
		/* Allowed IPs are not secret: plain doubling realloc. Most
		 * peers have one; starting with room for more cost a large
		 * device noticeable memory and page faults. */
		size_t ncap = peer->cap_allowedips ? peer->cap_allowedips * 2 : 1;
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
	peers_free(dev->peers, dev->cap_peers);
	sodium_memzero(dev, sizeof(*dev));
	free(dev);
}

int wgnl_hand_out_peers(struct wgnl_device *dev, bool all, bool *device_done, wgnl_peer_fn fn,
			void *user)
{
	size_t n = all ? dev->n_peers : (dev->n_peers ? dev->n_peers - 1 : 0);
	int r = 0;

	if (!*device_done) {
		*device_done = true;
		r = fn(dev, NULL, user);
	}
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = fn(dev, &dev->peers[i], user);
	for (size_t i = 0; i < n; i++)
		wgnl_peer_clear(&dev->peers[i]);
	/* The last peer may continue in the next message: it moves to the front. */
	if (n > 0 && n < dev->n_peers) {
		dev->peers[0] = dev->peers[n];
		sodium_memzero(&dev->peers[n], sizeof(dev->peers[n]));
	}
	dev->n_peers -= n;
	return r;
}
