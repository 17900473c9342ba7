/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubctl status: the interface and a table of its peers, or the daemon's JSON. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "buf.h"
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

/*
 * The table as text in one buffer, rows after each other: per row, a
 * NUL-ended cell per column, then the NUL-ended lines under it (its policy).
 * Columns are as wide as their widest cell, so nothing is printed before the
 * last peer is read; one buffer instead of seven strings a peer.
 */
struct table {
	struct hubd_buf text;
	size_t *rows; /* where each row starts in text */
	size_t n_rows, cap_rows;
	size_t width[N_COLS];
	bool oom;
};

static void add(struct table *t, const char *s, size_t n)
{
	if (!t->oom && hubd_buf_add(&t->text, s, n) < 0)
		t->oom = true;
}

static void add_str(struct table *t, const char *s)
{
	add(t, s, strlen(s));
}

/* End the cell of column col begun at start; widen the column to it. */
static void end_cell(struct table *t, int col, size_t start)
{
	if (!t->oom && t->text.len - start > t->width[col])
		t->width[col] = t->text.len - start;
	add(t, "", 1);
}

static void cell(struct table *t, int col, const char *s)
{
	size_t start = t->text.len;

	add_str(t, s);
	end_cell(t, col, start);
}

/* "a, b, c" from a JSON array of strings; "-" when empty. */
static void joined_cell(struct table *t, int col, struct json_object *arr)
{
	size_t n = arr ? json_object_array_length(arr) : 0, start = t->text.len;

	for (size_t i = 0; i < n; i++) {
		if (i)
			add(t, ", ", 2);
		add_str(t, elem(arr, i));
	}
	if (!n)
		add(t, "-", 1);
	end_cell(t, col, start);
}

static void handshake_cell(struct table *t, struct json_object *peer)
{
	char age[48];

	if (hubctl_json_int(peer, "latest_handshake", 0) == 0 ||
	    hubctl_json_is_null(peer, "handshake_age")) {
		cell(t, COL_HANDSHAKE, "never");
		return;
	}
	hubctl_format_age(hubctl_json_int(peer, "handshake_age", 0), age, sizeof(age));
	strcat(age, " ago"); /* an age is at most 4 units of 20 digits: 44 bytes with this */
	cell(t, COL_HANDSHAKE, age);
}

static void bytes_cell(struct table *t, int col, struct json_object *peer, const char *key)
{
	char buf[64];

	hubctl_format_bytes((uint64_t)hubctl_json_int(peer, key, 0), buf, sizeof(buf));
	cell(t, col, buf);
}

/*
 * Under a peer's row, what the table has no room for: its Access, wrapped to
 * the terminal, and its ExpiresAt with the time left. A peer with neither
 * gets no lines, so the table reads as before.
 */
static void policy_lines(struct table *t, struct json_object *peer)
{
	struct json_object *acc = hubctl_json_array(peer, "access");
	const char *expires = hubctl_json_str(peer, "expires_at");
	const char *health = hubctl_json_str(peer, "health");
	size_t n = acc ? json_object_array_length(acc) : 0;
	const char **items = acc ? calloc(n + 1, sizeof(*items)) : NULL;
	char *text = NULL, left[48];
	int64_t at;
	const char *msg;

	for (size_t i = 0; items && i < n; i++)
		items[i] = elem(acc, i);
	if (items && n == 0)
		items[n++] = "none (may start no connection)";
	if (items)
		text = hubctl_format_wrapped("  access:  ", items, n, POLICY_WIDTH);
	free(items);
	if (acc && !text)
		t->oom = true;
	add_str(t, text ? text : "");
	free(text);
	if (expires && health && !strcmp(health, "expired")) {
		add_str(t, "  expired: ");
		add_str(t, expires);
		add_str(t, " (not in the kernel until ExpiresAt moves)\n");
	} else if (expires) {
		add_str(t, "  expires: ");
		add_str(t, expires);
		/* Left to run by this machine's clock, the one the daemon next to it uses. */
		if (hubd_expiry_parse(expires, &at, &msg) == 0) {
			hubctl_format_age(at - hubd_clock_now(), left, sizeof(left));
			add_str(t, " (in ");
			add_str(t, left);
			add_str(t, ")");
		}
		add_str(t, "\n");
	}
	add(t, "", 1);
}

static void peer_row(struct table *t, struct json_object *peer)
{
	const char *name = hubctl_json_str(peer, "name");
	const char *endpoint = hubctl_json_str(peer, "endpoint");
	const char *health = hubctl_json_str(peer, "health");

	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? 2 * t->cap_rows : 1024;
		size_t *p = realloc(t->rows, cap * sizeof(*p));

		if (!p) {
			t->oom = true;
			return;
		}
		t->rows = p;
		t->cap_rows = cap;
	}
	t->rows[t->n_rows++] = t->text.len;
	cell(t, COL_NAME, name ? name : "?");
	cell(t, COL_ENDPOINT, endpoint ? endpoint : "-");
	joined_cell(t, COL_ALLOWED, hubctl_json_array(peer, "allowed_ips"));
	handshake_cell(t, peer);
	bytes_cell(t, COL_RX, peer, "rx_bytes");
	bytes_cell(t, COL_TX, peer, "tx_bytes");
	cell(t, COL_HEALTH, health ? health : "?");
	policy_lines(t, peer);
}

/* s, then spaces up to width and the two between columns; the last column ends the line. */
static void print_cell(const char *s, size_t len, size_t width, bool last)
{
	static const char spaces[] = "                                ";

	fwrite(s, 1, len, stdout);
	if (last) {
		putchar('\n');
		return;
	}
	for (size_t pad = width - len + 2; pad > 0;) {
		size_t k = pad < sizeof(spaces) - 1 ? pad : sizeof(spaces) - 1;

		fwrite(spaces, 1, k, stdout);
		pad -= k;
	}
}

/* Print a row's cells from p; returns where its lines under it start. */
static const char *print_row(const char *p, const size_t width[N_COLS])
{
	for (int c = 0; c < N_COLS; c++) {
		size_t len = strlen(p);

		print_cell(p, len, width[c], c == N_COLS - 1);
		p += len + 1;
	}
	return p;
}

static void print_table(struct table *t)
{
	if (t->n_rows == 0)
		return;
	putchar('\n');
	for (int c = 0; c < N_COLS; c++)
		print_cell(headers[c], strlen(headers[c]), t->width[c], c == N_COLS - 1);
	for (size_t i = 0; i < t->n_rows; i++)
		fputs(print_row(t->text.data + t->rows[i], t->width), stdout);
}

/*
 * The reply, read one value at a time by json-c: the top level key by key,
 * and "peers" one peer at a time, each put in the table and freed before the
 * next. A tree of the whole reply (about 30 json-c objects a peer) cost more
 * to build and free than the daemon took to answer; json-c still parses
 * every value, this only steps over the commas and colons between them.
 */
struct reader {
	const char *p, *end;
	struct json_tokener *tok;
};

static char skip_ws(struct reader *rd)
{
	while (rd->p < rd->end && strchr(" \t\r\n", *rd->p))
		rd->p++;
	return rd->p < rd->end ? *rd->p : '\0';
}

/* One JSON value at rd->p into *ret (NULL for null); -EBADMSG if there is none. */
static int next_value(struct reader *rd, struct json_object **ret)
{
	json_tokener_reset(rd->tok);
	*ret = json_tokener_parse_ex(rd->tok, rd->p, (int)(rd->end - rd->p));
	if (json_tokener_get_error(rd->tok) != json_tokener_success) {
		json_object_put(*ret);
		*ret = NULL;
		return -EBADMSG;
	}
	rd->p += json_tokener_get_parse_end(rd->tok);
	return 0;
}

/* The peers array, rd->p on its '['. */
static int read_peers(struct reader *rd, struct table *t)
{
	struct json_object *peer;
	char c;

	rd->p++;
	if (skip_ws(rd) == ']') {
		rd->p++;
		return 0;
	}
	do {
		if (next_value(rd, &peer) < 0)
			return -EBADMSG;
		peer_row(t, peer);
		json_object_put(peer);
		c = skip_ws(rd);
		rd->p++;
	} while (c == ',');
	return c == ']' ? 0 : -EBADMSG;
}

/* One "key": value of the top level: the peers into t, anything else into head. */
static int read_member(struct reader *rd, struct json_object *head, struct table *t)
{
	struct json_object *k, *v;
	int r = next_value(rd, &k);

	if (r < 0 || !json_object_is_type(k, json_type_string) || skip_ws(rd) != ':') {
		json_object_put(k);
		return -EBADMSG;
	}
	rd->p++;
	if (!strcmp(json_object_get_string(k), "peers") && skip_ws(rd) == '[') {
		r = read_peers(rd, t);
	} else {
		r = next_value(rd, &v);
		if (r >= 0)
			json_object_object_add(head, json_object_get_string(k), v);
	}
	json_object_put(k);
	return r;
}

static int read_reply(const char *text, size_t len, struct json_object *head, struct table *t)
{
	struct reader rd = {text, text + len, json_tokener_new()};
	int r = 0;
	char c;

	if (!rd.tok)
		return -ENOMEM;
	if (skip_ws(&rd) != '{') {
		r = -EBADMSG;
	} else {
		rd.p++;
		c = skip_ws(&rd);
		if (c == '}')
			rd.p++;
		while (c != '}' && r >= 0) {
			r = read_member(&rd, head, t);
			c = skip_ws(&rd);
			rd.p++;
			if (r >= 0 && c != ',' && c != '}')
				r = -EBADMSG;
		}
	}
	json_tokener_free(rd.tok);
	return r;
}

/* The human form: the interface line, then the peers' table. */
static int status_table(const struct hubctl_opts *o)
{
	struct json_object *head = json_object_new_object(), *iface = NULL;
	struct table t = {0};
	char *text = NULL;
	size_t len = 0;
	int r;

	for (int c = 0; c < N_COLS; c++)
		t.width[c] = strlen(headers[c]);
	r = head ? hubctl_call_text(o, "status", &text, &len) : HUBCTL_EXIT_ERROR;
	if (r == 0 && read_reply(text, len, head, &t) < 0)
		r = hubctl_bad_reply();
	free(text);
	if (r == 0)
		r = hubctl_reply_failed(head);
	if (r == 0 && t.oom) {
		fputs("hubctl: out of memory\n", stderr);
		r = HUBCTL_EXIT_ERROR;
	}
	if (r == 0) {
		json_object_object_get_ex(head, "interface", &iface);
		print_interface(iface);
		print_table(&t);
	}
	free(t.text.data);
	free(t.rows);
	json_object_put(head);
	return r;
}

int hubctl_status(const struct hubctl_opts *o, int argc, char **argv)
{
	struct json_object *reply = NULL;
	int r;

	if (hubctl_extra_args(argc, argv, "status"))
		return HUBCTL_EXIT_ERROR;
	if (!o->json)
		return status_table(o);
	r = hubctl_call(o, "status", &reply);
	if (r)
		return r;
	/* What hubctl_print_json prints, without its deep copy: a tenth of a second at 10,000
	 * peers, and this reply is not needed afterwards. */
	json_object_object_del(reply, "ok");
	puts(json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(reply);
	return 0;
}
