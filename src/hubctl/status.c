/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubctl status: the interface and a table of its peers, or the daemon's JSON. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "format.h"
#include "hubctl-internal.h"

/* The lines under a peer (its Access) are wrapped to this, as a terminal's width. */
#define POLICY_WIDTH 80

enum { COL_NAME, COL_ENDPOINT, COL_ALLOWED, COL_HANDSHAKE, COL_RX, COL_TX, COL_HEALTH, N_COLS };

static const char *const headers[N_COLS] = {"NAME", "ENDPOINT", "ALLOWED IPS", "HANDSHAKE",
					    "RX",   "TX",	"HEALTH"};

static const char *elem(struct json_object *arr, size_t i)
{
	const char *s = json_object_get_string(json_object_array_get_idx(arr, i));

	return s ? s : "null";
}

/* "a, b, c" from a JSON array of strings; "-" when empty. */
static char *join_strings(struct json_object *arr)
{
	size_t n = arr ? json_object_array_length(arr) : 0, len = 2;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(elem(arr, i)) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	strcpy(s, n ? "" : "-");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, elem(arr, i));
	}
	return s;
}

static void print_interface(struct json_object *iface)
{
	const char *name = hubctl_json_str(iface, "name");
	const char *key = hubctl_json_str(iface, "public_key");
	int64_t port = hubctl_json_int(iface, "listen_port", 0);
	char *addrs = join_strings(hubctl_json_array(iface, "addresses"));

	printf("interface %s", name ? name : "?");
	if (port > 0)
		printf(", listening on %" PRId64, port);
	printf(", address %s", addrs ? addrs : "?");
	if (key)
		printf(", public key %s", key);
	printf(", %" PRId64 " peers: %" PRId64 " up, %" PRId64 " stale",
	       hubctl_json_int(iface, "peers_total", 0), hubctl_json_int(iface, "peers_up", 0),
	       hubctl_json_int(iface, "peers_stale", 0));
	/* Expired peers are not among peers_total: they are not in the kernel. */
	if (hubctl_json_int(iface, "peers_expired", 0) > 0)
		printf(", %" PRId64 " expired", hubctl_json_int(iface, "peers_expired", 0));
	putchar('\n');
	free(addrs);
}

static int peer_row(struct json_object *peer, char *cells[N_COLS])
{
	const char *name = hubctl_json_str(peer, "name");
	const char *endpoint = hubctl_json_str(peer, "endpoint");
	const char *health = hubctl_json_str(peer, "health");
	int64_t latest = hubctl_json_int(peer, "latest_handshake", 0);
	char buf[64], age[48];

	cells[COL_NAME] = strdup(name ? name : "?");
	cells[COL_ENDPOINT] = strdup(endpoint ? endpoint : "-");
	cells[COL_ALLOWED] = join_strings(hubctl_json_array(peer, "allowed_ips"));
	if (latest == 0 || hubctl_json_is_null(peer, "handshake_age")) {
		snprintf(buf, sizeof(buf), "never");
	} else {
		hubctl_format_age(hubctl_json_int(peer, "handshake_age", 0), age, sizeof(age));
		snprintf(buf, sizeof(buf), "%s ago", age);
	}
	cells[COL_HANDSHAKE] = strdup(buf);
	hubctl_format_bytes((uint64_t)hubctl_json_int(peer, "rx_bytes", 0), buf, sizeof(buf));
	cells[COL_RX] = strdup(buf);
	hubctl_format_bytes((uint64_t)hubctl_json_int(peer, "tx_bytes", 0), buf, sizeof(buf));
	cells[COL_TX] = strdup(buf);
	cells[COL_HEALTH] = strdup(health ? health : "?");
	for (int c = 0; c < N_COLS; c++)
		if (!cells[c])
			return -1;
	return 0;
}

static void print_row(char *const cells[N_COLS], const size_t width[N_COLS])
{
	for (int c = 0; c < N_COLS; c++) {
		if (c == N_COLS - 1)
			printf("%s\n", cells[c]);
		else
			printf("%-*s  ", (int)width[c], cells[c]);
	}
}

/*
 * Under a peer's row, what the table has no room for: its Access, wrapped to
 * the terminal, and its ExpiresAt with the time left. A peer with neither
 * gets no lines, so the table reads as before.
 */
static int print_policy(struct json_object *peer)
{
	struct json_object *acc = hubctl_json_array(peer, "access");
	const char *expires = hubctl_json_str(peer, "expires_at");
	const char *health = hubctl_json_str(peer, "health");
	size_t n = acc ? json_object_array_length(acc) : 0;
	const char **items = calloc(n + 1, sizeof(*items));
	char *text = NULL, left[48];

	if (!items)
		return -1;
	for (size_t i = 0; i < n; i++)
		items[i] = elem(acc, i);
	if (acc && n == 0)
		items[n++] = "none (may start no connection)";
	if (acc)
		text = hubctl_format_wrapped("  access:  ", items, n, POLICY_WIDTH);
	free(items);
	if (acc && !text)
		return -1;
	fputs(text ? text : "", stdout);
	free(text);
	if (expires && health && !strcmp(health, "expired")) {
		printf("  expired: %s (not in the kernel until ExpiresAt moves)\n", expires);
	} else if (expires) {
		int64_t t;
		const char *msg;

		/* Left to run by this machine's clock, the one the daemon next to it uses. */
		if (hubd_expiry_parse(expires, &t, &msg) == 0) {
			hubctl_format_age(t - hubd_clock_now(), left, sizeof(left));
			printf("  expires: %s (in %s)\n", expires, left);
		} else {
			printf("  expires: %s\n", expires);
		}
	}
	return 0;
}

static int print_peers(struct json_object *peers)
{
	size_t n = peers ? json_object_array_length(peers) : 0, width[N_COLS];
	char *(*rows)[N_COLS] = calloc(n + 1, sizeof(*rows));
	int r = 0;

	if (!rows)
		return -1;
	for (int c = 0; c < N_COLS; c++)
		width[c] = strlen(headers[c]);
	for (size_t i = 0; i < n && r == 0; i++) {
		r = peer_row(json_object_array_get_idx(peers, i), rows[i]);
		for (int c = 0; c < N_COLS && r == 0; c++)
			if (strlen(rows[i][c]) > width[c])
				width[c] = strlen(rows[i][c]);
	}
	if (r == 0 && n > 0) {
		putchar('\n');
		print_row((char *const *)headers, width);
		for (size_t i = 0; i < n && r == 0; i++) {
			print_row(rows[i], width);
			r = print_policy(json_object_array_get_idx(peers, i));
		}
	}
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < N_COLS; c++)
			free(rows[i][c]);
	free(rows);
	return r;
}

int hubctl_status(const struct hubctl_opts *o, int argc, char **argv)
{
	struct json_object *reply = NULL, *iface = NULL;
	int r;

	if (hubctl_extra_args(argc, argv, "status"))
		return HUBCTL_EXIT_ERROR;
	r = hubctl_call(o, "status", &reply);
	if (r)
		return r;
	if (o->json) {
		hubctl_print_json(reply);
	} else {
		json_object_object_get_ex(reply, "interface", &iface);
		print_interface(iface);
		if (print_peers(hubctl_json_array(reply, "peers")) < 0) {
			fputs("hubctl: out of memory\n", stderr);
			r = HUBCTL_EXIT_ERROR;
		}
	}
	json_object_put(reply);
	return r;
}
