/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's request format (docs/control-protocol.md). */
#ifndef HUBD_CONTROL_H
#define HUBD_CONTROL_H

#include <stddef.h>

#define CONTROL_REQUEST_MAX 4096

enum control_command { CONTROL_RELOAD, CONTROL_DIFF, CONTROL_STATUS };

/*
 * Parse one request: a JSON object {"command": NAME}, at most
 * CONTROL_REQUEST_MAX bytes, optionally ended by a newline. Returns the
 * command, -E2BIG for an oversize request, -EINVAL for anything malformed
 * and -EOPNOTSUPP for an unknown command. Pure, so it can be fuzzed.
 */
int control_parse_request(const char *buf, size_t len);

#endif
