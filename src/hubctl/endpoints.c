/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl endpoints: the endpoints this hub has learned, for a standby hub's
 * `hubctl takeover` (docs/HA.md). Read off the daemon's status, which holds no
 * secrets: name, public key, endpoint and latest handshake of each peer that
 * has an endpoint, and the hub's own public key, which takeover checks.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "hubctl-internal.h"

#define USAGE "endpoints [--json]"

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* The file that takeover reads: {"interface","public_key","time","endpoints":[...]}. */
static json_object *endpoints_json(json_object *status)
{
	json_object *iface = NULL, *o = json_object_new_object(), *arr = json_object_new_array();
	json_object *peers = hubctl_json_array(status, "peers");
	size_t n = peers ? json_object_array_length(peers) : 0;

	json_object_object_get_ex(status, "interface", &iface);
	json_object_object_add(o, "interface", str_or_null(hubctl_json_str(iface, "name")));
	json_object_object_add(o, "public_key", str_or_null(hubctl_json_str(iface, "public_key")));
	json_object_object_add(o, "time", json_object_new_int64(time(NULL)));
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(peers, i), *e;

		if (!hubctl_json_str(p, "endpoint"))
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "name", str_or_null(hubctl_json_str(p, "name")));
		json_object_object_add(e, "public_key",
				       str_or_null(hubctl_json_str(p, "public_key")));
		json_object_object_add(e, "endpoint", str_or_null(hubctl_json_str(p, "endpoint")));
		json_object_object_add(
		    e, "latest_handshake",
		    json_object_new_int64(hubctl_json_int(p, "latest_handshake", 0)));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "endpoints", arr);
	return o;
}

static int width_of(json_object *arr, const char *key, const char *header)
{
	size_t w = strlen(header), n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++) {
		const char *s = hubctl_json_str(json_object_array_get_idx(arr, i), key);

		if (s && strlen(s) > w)
			w = strlen(s);
	}
	return (int)w;
}

static void print_text(json_object *o)
{
	json_object *arr = hubctl_json_array(o, "endpoints");
	size_t n = json_object_array_length(arr);
	int wn = width_of(arr, "name", "NAME"), we = width_of(arr, "endpoint", "ENDPOINT");
	int64_t now = time(NULL);

	if (!n)
		return;
	printf("%-*s  %-*s  %-14s  %s\n", wn, "NAME", we, "ENDPOINT", "HANDSHAKE", "PUBLIC KEY");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		int64_t hs = hubctl_json_int(e, "latest_handshake", 0);
		char age[48], cell[64];

		if (hs) {
			hubctl_format_age(now > hs ? now - hs : 0, age, sizeof(age));
			snprintf(cell, sizeof(cell), "%s ago", age);
		} else {
			snprintf(cell, sizeof(cell), "never");
		}
		printf("%-*s  %-*s  %-14s  %s\n", wn, hubctl_json_str(e, "name"), we,
		       hubctl_json_str(e, "endpoint"), cell, hubctl_json_str(e, "public_key"));
	}
}

int hubctl_endpoints(const struct hubctl_opts *o, int argc, char **argv)
{
	json_object *reply = NULL, *out;
	int r;

	if (hubctl_extra_args(argc, argv, USAGE))
		return HUBCTL_EXIT_ERROR;
	r = hubctl_call(o, "status", &reply);
	if (r)
		return r;
	out = endpoints_json(reply);
	if (o->json)
		puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_SPACED |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_text(out);
	json_object_put(out);
	json_object_put(reply);
	return fflush(stdout) == 0 ? HUBCTL_EXIT_OK : HUBCTL_EXIT_ERROR;
}
