/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl takeover FILE: hand the partner hub's `hubctl endpoints --json` to
 * the daemon, which sets them and starts the handshakes (docs/HA.md). The
 * file is opened here, with the caller's rights, and passed as a descriptor:
 * the daemon never opens a path that a client names.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hubctl-internal.h"

#define USAGE "takeover FILE"

int hubctl_takeover(const struct hubctl_opts *o, int argc, char **argv)
{
	json_object *reply = NULL;
	int fd, r;

	if (argc < 2) {
		fputs("hubctl: takeover needs the partner's endpoints file\nusage: hubctl " USAGE
		      "\n",
		      stderr);
		return HUBCTL_EXIT_ERROR;
	}
	if (hubctl_extra_args(argc - 1, argv + 1, USAGE))
		return HUBCTL_EXIT_ERROR;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "hubctl: %s: %s\n", argv[1], strerror(errno));
		return HUBCTL_EXIT_ERROR;
	}
	r = hubctl_call_fd(o, "takeover", fd, &reply);
	close(fd);
	if (r)
		return r;
	if (o->json)
		hubctl_print_json(reply);
	else
		printf("takeover: %" PRId64 " peers re-contacted (%" PRId64 " re-added), %" PRId64
		       " with a fresher handshake here, %" PRId64
		       " with a configured Endpoint, %" PRId64 " unknown\n",
		       hubctl_json_int(reply, "contacted", 0), hubctl_json_int(reply, "renewed", 0),
		       hubctl_json_int(reply, "fresher_here", 0),
		       hubctl_json_int(reply, "configured_endpoint", 0),
		       hubctl_json_int(reply, "unknown", 0));
	json_object_put(reply);
	return HUBCTL_EXIT_OK;
}
