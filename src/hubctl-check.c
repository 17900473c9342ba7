/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubctl check: parse and verify the configuration, without a daemon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hubctl.h"

int hubctl_check(const struct hubctl_opts *o, int argc, char **argv)
{
	const char *dir = o->config_dir ? o->config_dir : HUBD_DEFAULT_CONFIG_DIR;
	struct hubd_diags diags = {0};
	struct hubd_config *cfg = NULL;
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
	if (r >= 0)
		printf("%s: interface %s %s, %zu peer%s accepted, %zu rejected\n", dir,
		       cfg->iface.name, cfg->iface_ok ? "ok" : "REJECTED", cfg->n_peers,
		       cfg->n_peers == 1 ? "" : "s", cfg->n_rejected);
	hubd_config_free(cfg);
	hubd_diags_free(&diags);
	return r < 0 || errors ? HUBCTL_EXIT_ERROR : HUBCTL_EXIT_OK;
}
