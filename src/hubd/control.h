/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's request format (docs/control-protocol.md). */
#ifndef HUBD_CONTROL_H
#define HUBD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

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

/*
 * Add p's policy to its status object o: "access", its Access entries in
 * hubd's own form ([] for "Access = none", absent without Access), and
 * "expires_at", RFC 3339 in UTC (absent without ExpiresAt). With expired
 * (a peer kept out of the kernel, hubd_config_split_expired), "health" is
 * set to "expired".
 */
void control_peer_policy_json(struct json_object *o, const struct hubd_peer_conf *p, bool expired);

#endif
