/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubctl: one file per verb, dispatched from the table in hubctl.c. */
#ifndef HUBD_HUBCTL_H
#define HUBD_HUBCTL_H

#include <stdbool.h>

struct json_object;

/* Exit codes, as hubctl(8) documents them under EXIT STATUS. */
enum {
	HUBCTL_EXIT_OK = 0,
	HUBCTL_EXIT_ERROR = 1,
	HUBCTL_EXIT_PENDING = 2, /* diff: changes pending */
	HUBCTL_EXIT_NODAEMON = 3,
};

struct hubctl_opts {
	const char *config_dir;	 /* default /etc/hubd */
	const char *socket_path; /* default /run/hubd/control.sock */
	bool json;
};

struct hubctl_verb {
	const char *name;
	int (*run)(const struct hubctl_opts *o, int argc, char **argv); /* returns an exit code */
	const char *usage;
};

int hubctl_check(const struct hubctl_opts *o, int argc, char **argv);

/*
 * Send one request {"command": command} to the daemon and read its reply
 * (see docs/control-protocol.md). Returns 0, or -ENOENT/-ECONNREFUSED when
 * no daemon listens (exit 3), or another -errno.
 */
int hubctl_request(const struct hubctl_opts *o, const char *command,
		   struct json_object **ret_reply);
/* The same, with the open file pass_fd (unless -1) sent along (SCM_RIGHTS): takeover. */
int hubctl_request_fd(const struct hubctl_opts *o, const char *command, int pass_fd,
		      struct json_object **ret_reply);

#endif
