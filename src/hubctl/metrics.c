/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl metrics: Prometheus text exposition (version 0.0.4) for
 * node_exporter's textfile collector; the same text that hubd serves on
 * MetricsListen, as both come from the one renderer of metrics-text.c (here
 * over a snapshot of the status reply, in hubd over one of its own state).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "hubctl-internal.h"
#include "metrics-text.h"

int hubctl_metrics(const struct hubctl_opts *o, int argc, char **argv)
{
	struct json_object *reply = NULL;
	int r;

	if (hubctl_extra_args(argc, argv, "metrics"))
		return HUBCTL_EXIT_ERROR;
	/* Metrics are a view of the status reply: one protocol request, two renderings. */
	r = hubctl_call(o, "status", &reply);
	if (r)
		return r;
	r = metrics_text_write(stdout, reply);
	if (r < 0) {
		fprintf(stderr, "hubctl: %s\n",
			r == -ENOMEM ? "out of memory" : "stdout: write error");
		r = HUBCTL_EXIT_ERROR;
	}
	json_object_put(reply);
	return r;
}
