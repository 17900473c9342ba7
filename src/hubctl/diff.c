/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl diff: what a reload would change in the kernel. Exit 0 when nothing,
 * 2 when changes are pending, 1 when files are rejected (errors win, as a
 * script must look at them before it applies anything).
 */
#include <json-c/json.h>
#include <stdio.h>

#include "hubctl-internal.h"

int hubctl_diff(const struct hubctl_opts *o, int argc, char **argv)
{
	struct json_object *reply = NULL, *ok = NULL;
	size_t changes = 0, errors = 0;
	int r;

	if (hubctl_extra_args(argc, argv, "diff"))
		return HUBCTL_EXIT_ERROR;
	r = hubctl_call(o, "diff", &reply);
	if (r)
		return r;
	hubctl_print_changes(o, reply, &changes, &errors);
	json_object_object_get_ex(reply, "ok", &ok);
	if (errors || (ok && !json_object_get_boolean(ok)))
		r = HUBCTL_EXIT_ERROR;
	else
		r = changes ? HUBCTL_EXIT_PENDING : HUBCTL_EXIT_OK;
	json_object_put(reply);
	return r;
}
