/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl takeover: the partner hub's learned endpoints (its `hubctl endpoints
 * --json`) set on this hub's peers, and a handshake started with each, so that
 * peers behind NAT and roaming phones are back as soon as this hub holds the
 * floating address (docs/HA.md).
 */
#ifndef HUBD_TAKEOVER_H
#define HUBD_TAKEOVER_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

/* The largest endpoints file taken: some 100,000 peers. */
#define HUBD_TAKEOVER_FILE_MAX (16U << 20)

/*
 * A session younger than WireGuard's REJECT_AFTER_TIME (180 s) may still be
 * used to send, though the peer has since replaced it by one with the
 * partner: such a peer is re-added, so that this hub has no session and must
 * start a handshake.
 */
#define HUBD_TAKEOVER_SESSION_SEC 180

struct hubd_takeover_entry {
	wgnl_key key;
	union wgnl_endpoint endpoint;
	int64_t latest_handshake; /* unix seconds on the partner, 0 = never */
};

struct hubd_takeover_result {
	size_t contacted;  /* endpoint set, handshake started */
	size_t renewed;	   /* of those, re-added first (a recent session here) */
	size_t fresher;	   /* left alone: a handshake here as fresh as the partner's */
	size_t configured; /* left alone: an Endpoint in its file */
	size_t unknown;	   /* not a peer here */
};

/*
 * Parse an endpoints file: {"public_key": HUB, "endpoints": [{"public_key",
 * "endpoint", "latest_handshake"}, ...]} (other members ignored). hub_pub is
 * this hub's public key: a file naming another hub is refused (-EXDEV), as
 * both hubs must share their key. Entries without an endpoint are skipped.
 * Returns 0 with the entries sorted by key, -EINVAL for a malformed file,
 * -ENOMEM. Pure, so it can be tested and fuzzed.
 */
int hubd_takeover_parse(const char *text, size_t len, const wgnl_key hub_pub,
			struct hubd_takeover_entry **ret, size_t *ret_n);

/*
 * Read an endpoints file from fd (a regular file, at most
 * HUBD_TAKEOVER_FILE_MAX), set the endpoints on the peers that have no
 * configured Endpoint and no handshake here as fresh as the partner's, and
 * start a handshake with each. Logs HUBD_EVENT=takeover. Returns 0 with *ret
 * filled, or -errno.
 */
int hubd_takeover(struct hubd *h, int fd, struct hubd_takeover_result *ret);

#endif
