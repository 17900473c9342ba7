/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A peer's Access and ExpiresAt in the status reply (docs/control-protocol.md),
 * apart from control.c so that the unit tests can check the JSON without a
 * daemon. Pure: a peer's config in, JSON fields out.
 */
#include <json-c/json.h>

#include "access.h"
#include "control.h"

static json_object *access_json(const struct hubd_peer_conf *p)
{
	json_object *a = json_object_new_array();
	char buf[HUBD_ACCESS_STRLEN];

	for (size_t i = 0; a && i < p->n_access; i++) {
		hubd_access_format(&p->access[i], buf, sizeof(buf));
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

void control_peer_policy_json(struct json_object *o, const struct hubd_peer_conf *p, bool expired)
{
	char t[HUBD_EXPIRY_STRLEN];

	/* Absent: Forward alone applies; [] ("Access = none"): no connection may start. */
	if (p->has_access)
		json_object_object_add(o, "access", access_json(p));
	if (p->expires_at) {
		hubd_expiry_format(p->expires_at, t, sizeof(t));
		json_object_object_add(o, "expires_at", json_object_new_string(t));
	}
	/* Replaces whatever the kernel's view said: an expired peer is not in the kernel. */
	if (expired)
		json_object_object_add(o, "health", json_object_new_string("expired"));
}
