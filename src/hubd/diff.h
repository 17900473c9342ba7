/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The diff engine: desired state against kernel state, giving exactly the
 * operations that turn one into the other. Pure: no I/O, no logging.
 */
#ifndef HUBD_DIFF_H
#define HUBD_DIFF_H

#include "changes.h"
#include "config.h"
#include "hubd/wgnl.h"

struct hubd_peer_want {
	const struct hubd_peer_conf *conf;
	/* The configured endpoint, resolved; AF 0 when the peer has none (keep what the kernel
	 * learned). */
	union wgnl_endpoint endpoint;
	/* For a peer the kernel lacks: the endpoint last learned from it, to restore; AF 0 if
	 * unknown. */
	union wgnl_endpoint restore;
};

/* Names kernel-only peers in change reports; may return NULL. */
typedef const char *(*hubd_peer_namer)(const wgnl_key key, void *user);

/*
 * Compute the set request turning kernel (NULL: a device with nothing set)
 * into iface + want[0..n). *ret_set gets a device to pass to
 * wgnl_set_device(), or NULL when nothing differs. Each operation is also
 * described in ch, with its journal event and peer. Returns the number of
 * operations or -errno.
 */
int hubd_diff_device(const struct hubd_iface_conf *iface, const struct hubd_peer_want *want,
		     size_t n, const struct wgnl_device *kernel, hubd_peer_namer namer, void *user,
		     struct wgnl_device **ret_set, struct hubd_changes *ch);

/*
 * The same diff against a dump walked peer by peer (wgnl_walk_device), so
 * that the kernel's peers are never all held at once: init, then
 * hubd_diff_walk_step as the walk's function, then hubd_diff_walk_next until
 * it gives no set. want[0..n) must outlive the walk, and have unique keys.
 */
struct hubd_diff_walk {
	const struct hubd_iface_conf *iface;
	const struct hubd_peer_want *want;
	size_t n;
	const struct hubd_peer_want **by_key; /* want, sorted by public key */
	bool *found;			      /* per want: the kernel has that peer */
	hubd_peer_namer namer;
	void *user;
	struct hubd_changes *ch;
	size_t ch_before;
	struct wgnl_device *set; /* the walk's operations: device fields, updates, removals */
	int ops;
	bool walked;	 /* a device was seen: without one, the device has nothing set */
	size_t next_new; /* hubd_diff_walk_next's place in want */
};

int hubd_diff_walk_init(struct hubd_diff_walk *w, const struct hubd_iface_conf *iface,
			const struct hubd_peer_want *want, size_t n, hubd_peer_namer namer,
			void *user, struct hubd_changes *ch);
/* A wgnl_peer_fn (user: the walk). A device (peer NULL) starts over: the dump restarted. */
int hubd_diff_walk_step(const struct wgnl_device *dev, const struct wgnl_peer *peer, void *user);
/*
 * After the walk: the next set request, the walk's operations and then the
 * peers the kernel lacks, at most max of those a request. Returns its number
 * of operations (0 and *ret_set NULL: nothing more) or -errno.
 */
int hubd_diff_walk_next(struct hubd_diff_walk *w, size_t max, struct wgnl_device **ret_set);
void hubd_diff_walk_free(struct hubd_diff_walk *w);

/*
 * The prefixes to route via the link: every AllowedIPs prefix of peers[0..n)
 * that none of the interface's own Address prefixes covers, without
 * duplicates. These are also the LANs behind peers.
 */
int hubd_routed_prefixes(const struct hubd_iface_conf *iface, const struct hubd_peer_conf *peers,
			 size_t n, struct hubd_prefix **ret, size_t *ret_n);

/* Does one of the interface's own Address prefixes cover p? Then p needs no route. */
bool hubd_iface_covers(const struct hubd_iface_conf *iface, const struct hubd_prefix *p);

void hubd_prefix_to_aip(const struct hubd_prefix *p, struct wgnl_allowedip *a);
/* Append c's AllowedIPs to p's allowed IPs. */
int hubd_peer_add_allowedips(struct wgnl_peer *p, const struct hubd_peer_conf *c);

/* Do a and b hold the same endpoint (family, address, port)? */
bool hubd_endpoint_equal(const union wgnl_endpoint *a, const union wgnl_endpoint *b);

#endif
