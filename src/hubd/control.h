/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's request format (docs/control-protocol.md). */
#ifndef HUBD_CONTROL_H
#define HUBD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CONTROL_REQUEST_MAX 4096

struct json_object;
struct hubd_peer_conf;

enum control_command { CONTROL_RELOAD, CONTROL_DIFF, CONTROL_STATUS, CONTROL_TAKEOVER };

/*
 * Parse one request: a JSON object {"command": NAME}, at most
 * CONTROL_REQUEST_MAX bytes, optionally ended by a newline. Returns the
 * command, -E2BIG for an oversize request, -EINVAL for anything malformed
 * and -EOPNOTSUPP for an unknown command. Pure, so it can be fuzzed.
 */
int control_parse_request(const char *buf, size_t len);

/*
 * Does a hubd answer on the control socket at path for config_dir? 1 when
 * one does (or something answers without naming its directory), 0 when
 * nothing listens there or the daemon there runs for another directory,
 * -errno when that cannot be told.
 */
int control_daemon_running(const char *path, const char *config_dir);

/* The status reply is written into a buffer (buf.h), peer by peer. */
struct hubd_peer_state;

/* Append s as a JSON string, quoted and escaped as json-c writes it (without "\/"). */
int control_json_string(struct hubd_buf *b, const char *s);

/*
 * Append p's object of the status reply (docs/control-protocol.md), its keys
 * in the documented order: its public key as b64 (the caller's: this file
 * links without libwgnl), the kernel's view from s (NULL: none, as for a
 * peer kept out of the kernel) with handshake_age counted to now, health as
 * given ("expired" for such a peer), then "access", its Access entries in
 * hubd's own form ([] for "Access = none", absent without Access), and
 * "expires_at", RFC 3339 in UTC (absent without ExpiresAt). 0 or -ENOMEM.
 */
int control_peer_status(struct hubd_buf *b, const struct hubd_peer_conf *p,
			const struct hubd_peer_state *s, int64_t now, const char *b64,
			const char *health);

#endif
