/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubctl check: parse and verify the configuration, without a daemon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "config.h"
#include "hubctl.h"
#include "hubctl-internal.h"

static struct json_object *strings(char **v, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* The --json answer: what was accepted, what was rejected, and every diagnostic. */
static void print_json(const struct hubd_config *cfg, const struct hubd_diags *d)
{
	struct json_object *o = json_object_new_object(), *diags = json_object_new_array();
	struct json_object *peers = json_object_new_array();

	for (size_t i = 0; i < d->n; i++) {
		struct json_object *g = json_object_new_object();

		json_object_object_add(g, "file", json_object_new_string(d->items[i].path));
		json_object_object_add(g, "line", json_object_new_int64(d->items[i].line));
		json_object_object_add(g, "warning", json_object_new_boolean(d->items[i].warning));
		json_object_object_add(g, "message", json_object_new_string(d->items[i].message));
		json_object_array_add(diags, g);
	}
	for (size_t i = 0; cfg && i < cfg->n_peers; i++)
		json_object_array_add(peers, json_object_new_string(cfg->peers[i].name));
	if (cfg) {
		struct json_object *expired = json_object_new_array();

		/* Valid, but past their ExpiresAt: hubd keeps them out of the kernel. */
		for (size_t i = 0; i < cfg->n_expired; i++)
			json_object_array_add(expired,
					      json_object_new_string(cfg->expired[i].name));
		json_object_object_add(o, "expired", expired);
		json_object_object_add(o, "interface", json_object_new_string(cfg->iface.name));
		json_object_object_add(o, "interface_ok", json_object_new_boolean(cfg->iface_ok));
		json_object_object_add(o, "rejected", strings(cfg->rejected, cfg->n_rejected));
	}
	json_object_object_add(o, "peers", peers);
	json_object_object_add(o, "diagnostics", diags);
	hubctl_print_json(o);
	json_object_put(o);
}

/* ", 2 expired (not applied)" when files are past their ExpiresAt: a notice, not an error. */
static const char *expired_note(const struct hubd_config *cfg, char *buf, size_t len)
{
	if (!cfg->n_expired)
		return "";
	snprintf(buf, len, ", %zu expired (not applied)", cfg->n_expired);
	return buf;
}

int hubctl_check(const struct hubctl_opts *o, int argc, char **argv)
{
	const char *dir = o->config_dir ? o->config_dir : HUBD_DEFAULT_CONFIG_DIR;
	struct hubd_diags diags = {0};
	struct hubd_config *cfg = NULL;
	char note[48];
	size_t errors;
	int r;

	if (argc > 1) {
		fprintf(stderr, "hubctl check: unexpected argument '%s'\n", argv[1]);
		return HUBCTL_EXIT_ERROR;
	}
	r = hubd_config_load(dir, &cfg, &diags);
	hubd_diags_print(&diags, stderr);
	errors = hubd_diags_errors(&diags);
	if (r < 0 && errors == 0)
		fprintf(stderr, "%s: cannot load the configuration: %s\n", dir, strerror(-r));
	if (o->json)
		print_json(r < 0 ? NULL : cfg, &diags);
	else if (r >= 0)
		printf("%s: interface %s %s, %zu peer%s accepted, %zu rejected%s\n", dir,
		       cfg->iface.name, cfg->iface_ok ? "ok" : "rejected", cfg->n_peers,
		       cfg->n_peers == 1 ? "" : "s", cfg->n_rejected,
		       expired_note(cfg, note, sizeof(note)));
	hubd_config_free(cfg);
	hubd_diags_free(&diags);
	return r < 0 || errors ? HUBCTL_EXIT_ERROR : HUBCTL_EXIT_OK;
}
