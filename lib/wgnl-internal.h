/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the files of lib/, not part of the API. */
#ifndef HUBD_WGNL_INTERNAL_H
#define HUBD_WGNL_INTERNAL_H

#include <stdbool.h>

#include "hubd/wgnl.h"

/*
 * A walk's step: hand dev's complete peers to fn (all, or all but the last,
 * which the next message may continue), then drop them, keeping the last.
 * Until *device_done, the device itself goes first (peer NULL) and
 * *device_done is set. The walk keeps that mark beside dev, not in
 * dev->flags: fn reads dev, and all of its flags are the API's.
 */
int wgnl_hand_out_peers(struct wgnl_device *dev, bool all, bool *device_done, wgnl_peer_fn fn,
			void *user);

/* Free what a peer owns and wipe it; the peer itself stays in its array. */
void wgnl_peer_clear(struct wgnl_peer *peer);

/* Largest length of a nested attribute: nla_len is a u16 and attributes
 * are padded to 4 bytes. */
#define WGNL_NEST_MAX 65532u

/* WGNL_SET_BUF_SIZE (wgnl.h): a header, device attributes and a peers nest
 * that may not exceed WGNL_NEST_MAX. */

/* Receive buffer: the kernel's dump messages are at most 32 KiB; twice that
 * leaves room for the NLMSG_DONE it may append and for future kernels. */
#ifndef WGNL_RECV_BUF_SIZE /* overridable for bench-wgnl's experiments */
#define WGNL_RECV_BUF_SIZE (64u * 1024u)
#endif

#endif
