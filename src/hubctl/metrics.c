/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl metrics: Prometheus text exposition (version 0.0.4) for
 * node_exporter's textfile collector. A peer that never completed a
 * handshake has no hubd_peer_handshake_age_seconds sample at all: NaN or a
 * huge number would trip "age > X" alerts as if the peer had been lost,
 * while hubd_peer_health{state="never"} says what is really the case.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "hubctl-internal.h"

static const char *const health_states[] = {"up", "stale", "never", "idle"};

struct peer_labels {
	struct json_object *peer;
	char *labels; /* interface="wg0",peer="phone" */
};

static void family(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static char *make_labels(const char *iface, const char *peer)
{
	char *i = hubctl_prom_escape(iface), *p = peer ? hubctl_prom_escape(peer) : NULL, *s = NULL;

	if (i && (p || !peer) &&
	    asprintf(&s, "interface=\"%s\"%s%s%s", i, p ? ",peer=\"" : "", p ? p : "",
		     p ? "\"" : "") < 0)
		s = NULL;
	free(i);
	free(p);
	return s;
}

static void peer_samples(const struct peer_labels *pl, size_t n)
{
	family("hubd_peer_handshake_age_seconds", "gauge",
	       "Seconds since the peer's latest handshake; no sample before the first one.");
	for (size_t i = 0; i < n; i++)
		if (hubctl_json_int(pl[i].peer, "latest_handshake", 0) != 0 &&
		    !hubctl_json_is_null(pl[i].peer, "handshake_age"))
			printf("hubd_peer_handshake_age_seconds{%s} %" PRId64 "\n", pl[i].labels,
			       hubctl_json_int(pl[i].peer, "handshake_age", 0));
	family("hubd_peer_receive_bytes_total", "counter", "Bytes received from the peer.");
	for (size_t i = 0; i < n; i++)
		printf("hubd_peer_receive_bytes_total{%s} %" PRId64 "\n", pl[i].labels,
		       hubctl_json_int(pl[i].peer, "rx_bytes", 0));
	family("hubd_peer_transmit_bytes_total", "counter", "Bytes sent to the peer.");
	for (size_t i = 0; i < n; i++)
		printf("hubd_peer_transmit_bytes_total{%s} %" PRId64 "\n", pl[i].labels,
		       hubctl_json_int(pl[i].peer, "tx_bytes", 0));
	family("hubd_peer_up", "gauge", "1 when the peer's health is up, else 0.");
	for (size_t i = 0; i < n; i++) {
		const char *h = hubctl_json_str(pl[i].peer, "health");

		printf("hubd_peer_up{%s} %d\n", pl[i].labels, h && !strcmp(h, "up"));
	}
	family("hubd_peer_health", "gauge",
	       "The peer's health: 1 for its current state (up, stale, never, idle), 0 for the "
	       "others.");
	for (size_t i = 0; i < n; i++) {
		const char *h = hubctl_json_str(pl[i].peer, "health");

		for (size_t s = 0; s < sizeof(health_states) / sizeof(health_states[0]); s++)
			printf("hubd_peer_health{%s,state=\"%s\"} %d\n", pl[i].labels,
			       health_states[s], h && !strcmp(h, health_states[s]));
	}
}

static void daemon_samples(struct json_object *counters, const char *labels)
{
	static const struct {
		const char *metric, *key, *help;
	} c[] = {
	    {"hubd_reconciles_total", "reconciles", "Reconciles run since the daemon started."},
	    {"hubd_drift_repairs_total", "drift_repairs",
	     "Kernel state changed behind hubd's back and repaired."},
	    {"hubd_netlink_messages_total", "netlink_messages",
	     "WireGuard netlink messages sent to the kernel."},
	    {"hubd_config_errors_total", "config_errors", "Config files rejected."},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		family(c[i].metric, "counter", c[i].help);
		printf("%s{%s} %" PRId64 "\n", c[i].metric, labels,
		       hubctl_json_int(counters, c[i].key, 0));
	}
}

static int print_metrics(struct json_object *reply)
{
	struct json_object *iface = NULL, *counters = NULL,
			   *peers = hubctl_json_array(reply, "peers");
	size_t n = peers ? json_object_array_length(peers) : 0;
	struct peer_labels *pl = calloc(n + 1, sizeof(*pl));
	const char *ifname;
	char *labels;
	int r = -1;

	json_object_object_get_ex(reply, "interface", &iface);
	json_object_object_get_ex(reply, "counters", &counters);
	ifname = hubctl_json_str(iface, "name");
	labels = make_labels(ifname ? ifname : "", NULL);
	if (!pl || !labels)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *name;

		pl[i].peer = json_object_array_get_idx(peers, i);
		name = hubctl_json_str(pl[i].peer, "name");
		pl[i].labels = make_labels(ifname ? ifname : "", name ? name : "");
		if (!pl[i].labels)
			goto out;
	}
	peer_samples(pl, n);
	daemon_samples(counters, labels);
	r = 0;
out:
	for (size_t i = 0; pl && i < n; i++)
		free(pl[i].labels);
	free(pl);
	free(labels);
	return r;
}

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
	if (print_metrics(reply) < 0) {
		fputs("hubctl: out of memory\n", stderr);
		r = HUBCTL_EXIT_ERROR;
	} else if (fflush(stdout) != 0) {
		perror("hubctl: stdout");
		r = HUBCTL_EXIT_ERROR;
	}
	json_object_put(reply);
	return r;
}
