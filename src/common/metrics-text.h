/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Prometheus text exposition (format 0.0.4) of a hub: what `hubctl metrics`
 * prints and what hubd serves on MetricsListen, made by this one renderer so
 * the two never differ.
 *
 * The renderer works from a snapshot: a flat copy of what the text needs
 * (per peer its name, public key, endpoint, allowed IPs, handshake, counters
 * and health; the interface and hubd's counters), which hubd fills from its
 * state and hubctl from the status reply (docs/control-protocol.md). It
 * renders in slices of about a bounded size, so that hubd can hand the text
 * out a slice at a time between the other events of its loop, however many
 * peers there are.
 */
#ifndef HUBD_METRICS_TEXT_H
#define HUBD_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct json_object;

/* The slice size hubd renders at: a few milliseconds of work under TCG. */
#define METRICS_SLICE_BYTES (64 * 1024)

struct metrics_snapshot;
struct metrics_render;

struct metrics_counters {
	int64_t reconciles, drift_repairs, netlink_messages, config_errors;
};

/* One peer, as metrics_snapshot_add_peer() copies it; NULL strings stand for "". */
struct metrics_peer_info {
	const char *name, *public_key, *endpoint;
	const char *health;	  /* up, stale, never, idle; anything else is none of them */
	int64_t latest_handshake; /* UNIX seconds, 0 = never */
	bool has_age;		  /* an age sample only with this and a latest_handshake */
	int64_t handshake_age;
	int64_t rx_bytes, tx_bytes;
};

/* A snapshot of a device named ifname with public key device_key; NULL when out of memory. */
struct metrics_snapshot *metrics_snapshot_new(const char *ifname, const char *device_key,
					      const struct metrics_counters *c);
/* Copy p in as the next peer; 0 or -ENOMEM. */
int metrics_snapshot_add_peer(struct metrics_snapshot *s, const struct metrics_peer_info *p);
/* Copy ip in as the next allowed IP of the last peer added; 0, -ENOMEM or -EINVAL (no peer). */
int metrics_snapshot_add_allowed_ip(struct metrics_snapshot *s, const char *ip);
void metrics_snapshot_free(struct metrics_snapshot *s);

/*
 * The snapshot of status (the reply to {"command":"status"}, with its
 * "interface", "counters" and "peers" members). A status carries public keys
 * only, so the text never holds a private or preshared key. 0 or -ENOMEM.
 */
int metrics_snapshot_from_json(struct json_object *status, struct metrics_snapshot **ret);

/*
 * A renderer of s's text in slices of slice_bytes or a little more: a slice
 * ends at the first line (or, for hubd_peer_health, a peer's group of lines)
 * that reaches slice_bytes. It owns s from here on, and frees it even when it
 * fails (NULL: out of memory).
 */
struct metrics_render *metrics_render_new(struct metrics_snapshot *s, size_t slice_bytes);
/* The next slice in *text, *len bytes, valid until the next call; *len 0 at the end. 0 or -ENOMEM.
 */
int metrics_render_slice(struct metrics_render *r, const char **text, size_t *len);
/* Up to max bytes of the text into buf, rendering a slice when the last is used up: 0 at the end.
 */
ssize_t metrics_render_read(struct metrics_render *r, char *buf, size_t max);
void metrics_render_free(struct metrics_render *r);

/*
 * Write the metrics for status to f: hubd's own series (hubd_*) and those of
 * mdlayher/wireguard_exporter (wireguard_*), with the same names, types,
 * labels and units. Returns 0, -ENOMEM, or -EIO when f reports an error.
 */
int metrics_text_write(FILE *f, struct json_object *status);

/*
 * value escaped for a label value of the text format: backslash, double
 * quote and newline get a backslash. NULL when out of memory; free() it.
 */
char *metrics_label_escape(const char *value);

#endif
