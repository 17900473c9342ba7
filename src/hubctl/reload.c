/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubctl reload: reconcile now, print what changed and which files were rejected. */
#include <json-c/json.h>
#include <stdio.h>

#include "hubctl-internal.h"

int hubctl_reload(const struct hubctl_opts *o, int argc, char **argv)
{
	struct json_object *reply = NULL, *ok = NULL;
	size_t changes = 0, errors = 0;
	int r;

	if (hubctl_extra_args(argc, argv, "reload"))
		return HUBCTL_EXIT_ERROR;
	r = hubctl_call(o, "reload", &reply);
	if (r)
		return r;
	hubctl_print_changes(o, reply, &changes, &errors);
	json_object_object_get_ex(reply, "ok", &ok);
	r = errors || (ok && !json_object_get_boolean(ok)) ? HUBCTL_EXIT_ERROR : HUBCTL_EXIT_OK;
	json_object_put(reply);
	return r;
}
