/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What hubctl's verb files share beyond the contract in hubctl.h. */
#ifndef HUBD_HUBCTL_INTERNAL_H
#define HUBD_HUBCTL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "hubctl.h"

#define HUBCTL_REPLY_MAX   (256U << 20) /* a status of 100,000 peers is ~25 MiB: fits */
#define HUBCTL_TIMEOUT_SEC 60		/* a reload of a large peer set is not instant */

/* The verbs, each in hubctl-VERB.c. */
/* "--opt VALUE" or "--opt=VALUE" at argv[*i]: true if it is opt, *ret the value (NULL when
 * missing), *i past it. */
bool hubctl_take_value(int argc, char **argv, int *i, const char *opt, const char **ret);

int hubctl_reload(const struct hubctl_opts *o, int argc, char **argv);
int hubctl_diff(const struct hubctl_opts *o, int argc, char **argv);
int hubctl_status(const struct hubctl_opts *o, int argc, char **argv);
int hubctl_metrics(const struct hubctl_opts *o, int argc, char **argv);
int hubctl_peer(const struct hubctl_opts *o, int argc, char **argv);
int hubctl_endpoints(const struct hubctl_opts *o, int argc, char **argv);
int hubctl_takeover(const struct hubctl_opts *o, int argc, char **argv);
int hubctl_init(const struct hubctl_opts *o, int argc, char **argv);
int hubctl_doctor(const struct hubctl_opts *o, int argc, char **argv);

/*
 * hubctl_request() for a verb: on failure print why (the daemon not running
 * names `systemctl start hubd`) and return the exit code; on success return
 * 0 with *ret_reply set. A reply {"ok":false,"error":...} without changes or
 * errors arrays is printed and exits 1 too.
 */
int hubctl_call(const struct hubctl_opts *o, const char *command, struct json_object **ret_reply);
/* The same, passing the open file pass_fd along with the request (SCM_RIGHTS). */
int hubctl_call_fd(const struct hubctl_opts *o, const char *command, int pass_fd,
		   struct json_object **ret_reply);

/*
 * The reply as text, NUL-terminated, not parsed: for a long reply that a verb
 * reads piece by piece (status). On failure prints why and returns the exit code.
 * hubctl_reply_failed: for a parsed reply {"ok":false,"error":...} (without
 * changes or errors arrays) print the error and return the exit code, else 0.
 * hubctl_bad_reply: say that the reply is not JSON, return the exit code.
 */
int hubctl_call_text(const struct hubctl_opts *o, const char *command, char **ret, size_t *ret_len);
int hubctl_reply_failed(struct json_object *reply);
int hubctl_bad_reply(void);

/* Refuse arguments a verb does not take: prints usage, returns true when there were any. */
bool hubctl_extra_args(int argc, char **argv, const char *usage);

/* Tolerant accessors: a field the daemon left out reads as def / NULL. */
const char *hubctl_json_str(struct json_object *o, const char *key);
int64_t hubctl_json_int(struct json_object *o, const char *key, int64_t def);
bool hubctl_json_is_null(struct json_object *o, const char *key);
struct json_object *hubctl_json_array(struct json_object *o, const char *key);

/*
 * A new config directory (confdir.c). hubctl_config_dir_free prints each of
 * dir's hubd.conf, private.key and peers.d (but an empty peers.d directory,
 * as a package installs it) that exists and returns -EEXIST
 * then. hubctl_write_config_dir makes dir (and its parents), private.key
 * (0600, priv in base64), hubd.conf (0644, conf), peers.d/ and, when
 * peer_name is set, peers.d/peer_name.conf holding peer_text; all with
 * O_EXCL, undoing its own work on failure. Both print why they fail.
 */
int hubctl_config_dir_free(const char *dir);
int hubctl_write_config_dir(const char *dir, const char *conf, const uint8_t priv[32],
			    const char *peer_name, const char *peer_text);

/* Pretty JSON of o on stdout, without its "ok" member. */
void hubctl_print_json(struct json_object *o);

/*
 * reload and diff: print "changes" on stdout and "errors" on stderr (or the
 * reply as JSON). Sets the counts; returns 0 or an exit code on a bad reply.
 */
int hubctl_print_changes(const struct hubctl_opts *o, struct json_object *reply,
			 size_t *ret_changes, size_t *ret_errors);

#endif
