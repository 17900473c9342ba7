/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's request parser, table-driven, and the status reply's peer objects. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "control.h"
#include "daemon.h"

static const struct {
	const char *in;
	int want;
} rows[] = {
    {"{\"command\":\"reload\"}\n", CONTROL_RELOAD},
    {"{\"command\":\"diff\"}", CONTROL_DIFF},
    {" { \"command\" : \"status\" } \r\n", CONTROL_STATUS},
    {"{\"command\":\"status\",\"extra\":1}\n", CONTROL_STATUS},
    {"{\"command\":\"takeover\"}\n", CONTROL_TAKEOVER},
    {"{\"command\":\"shutdown\"}\n", -EOPNOTSUPP},
    {"{\"command\":\"\"}\n", -EOPNOTSUPP},
    {"{\"command\":7}\n", -EINVAL},
    {"{\"cmd\":\"reload\"}\n", -EINVAL},
    {"[\"reload\"]\n", -EINVAL},
    {"\"reload\"\n", -EINVAL},
    {"{\"command\":\"reload\"", -EINVAL},
    {"{\"command\":\"reload\"}{\"command\":\"diff\"}\n", -EINVAL},
    {"{\"command\":\"reload\"} trailing\n", -EINVAL},
    {"", -EINVAL},
    {"\n", -EINVAL},
    {"{\"command\":{\"a\":{\"b\":{\"c\":{}}}}}\n", -EINVAL},
};

START_TEST(test_rows)
{
	int r = control_parse_request(rows[_i].in, strlen(rows[_i].in));

	ck_assert_msg(r == rows[_i].want, "'%s': %d, expected %d", rows[_i].in, r, rows[_i].want);
}
END_TEST

START_TEST(test_oversize)
{
	size_t len = CONTROL_REQUEST_MAX + 1;
	char *buf = malloc(len);

	memset(buf, ' ', len);
	ck_assert_int_eq(control_parse_request(buf, len), -E2BIG);
	/* At the limit it is parsed (and rejected for what it is, not its size). */
	ck_assert_int_eq(control_parse_request(buf, CONTROL_REQUEST_MAX), -EINVAL);
	free(buf);
}
END_TEST

START_TEST(test_embedded_nul)
{
	static const char req[] = "{\"command\":\"reload\0x\"}\n";

	ck_assert_int_ne(control_parse_request(req, sizeof(req) - 1), CONTROL_RELOAD);
}
END_TEST

/*
 * A peer's "access" and "expires_at" in status: entries in hubd's own form
 * whatever was written, [] for none, absent when unset; "health" "expired"
 * only for a peer kept out of the kernel.
 */
static const struct {
	const char *access[3]; /* NULL-ended; {NULL} with has_access: Access = none */
	bool has_access;
	const char *expires; /* ExpiresAt as written, or NULL */
	bool expired;
	const char *want; /* the object after {"health":"up"} went in */
} policy_rows[] = {
    {{NULL}, false, NULL, false, "{\"health\":\"up\"}"},
    {{NULL}, true, NULL, false, "{\"health\":\"up\",\"access\":[]}"},
    {{"192.168.1.100 tcp/3000", "192.168.1.0/24 icmp", NULL},
     true,
     NULL,
     false,
     "{\"health\":\"up\",\"access\":[\"192.168.1.100/32 tcp/3000\",\"192.168.1.0/24 icmp\"]}"},
    {{"fd00::/64 udp/53-54", "10.0.0.0/8", NULL},
     true,
     NULL,
     false,
     "{\"health\":\"up\",\"access\":[\"fd00::/64 udp/53-54\",\"10.0.0.0/8\"]}"},
    {{NULL},
     false,
     "2026-12-31",
     false,
     "{\"health\":\"up\",\"expires_at\":\"2027-01-01T00:00:00Z\"}"},
    {{NULL},
     false,
     "2026-12-31T23:59:59+01:00",
     true,
     "{\"health\":\"expired\",\"expires_at\":\"2026-12-31T22:59:59Z\"}"},
    {{"10.1.0.0/16 udp", NULL},
     true,
     "2020-01-01T00:00:00Z",
     true,
     "{\"health\":\"expired\",\"access\":[\"10.1.0.0/16 udp\"],"
     "\"expires_at\":\"2020-01-01T00:00:00Z\"}"},
};

/* A peer with p's policy through control_peer_status: its keys from "health" on, re-serialized. */
static char *policy_tail(const struct hubd_peer_conf *p, bool expired)
{
	struct hubd_buf b = {0};
	json_object *o, *tail = json_object_new_object();
	bool on = false;
	char *ret;

	ck_assert_int_eq(control_peer_status(&b, p, NULL, 0, "k", expired ? "expired" : "up"), 0);
	ck_assert_int_eq(hubd_buf_add(&b, "", 1), 0);
	o = json_tokener_parse(b.data);
	ck_assert_ptr_nonnull(o);
	json_object_object_foreach(o, k, v)
	{
		on = on || !strcmp(k, "health");
		if (on)
			json_object_object_add(tail, k, json_object_get(v));
	}
	ret = strdup(json_object_to_json_string_ext(tail, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(tail);
	json_object_put(o);
	free(b.data);
	return ret;
}

START_TEST(test_policy_json)
{
	struct hubd_access acc[3];
	struct hubd_peer_conf p = {
	    .name = (char *)"p", .access = acc, .has_access = policy_rows[_i].has_access};
	const char *msg = NULL;
	char *got;

	for (size_t k = 0; policy_rows[_i].access[k]; k++)
		ck_assert_msg(
		    hubd_access_parse(policy_rows[_i].access[k], &acc[p.n_access++], &msg) == 0,
		    "%s: %s", policy_rows[_i].access[k], msg);
	if (policy_rows[_i].expires)
		ck_assert_int_eq(hubd_expiry_parse(policy_rows[_i].expires, &p.expires_at, &msg),
				 0);
	got = policy_tail(&p, policy_rows[_i].expired);
	ck_assert_str_eq(got, policy_rows[_i].want);
	free(got);
}
END_TEST

/*
 * control_peer_status writes text by hand instead of through json-c objects:
 * it must be the very bytes json-c writes (PLAIN, no "\/") for the same peer,
 * names that need escaping included, as those come from untrusted file names.
 */
static const char *const tricky_names[] = {
    "laptop",	    "quote\"in",
    "back\\slash",  "tab\tnl\nret\rbs\bff\f",
    "\x01\x1f\x7f", "utf8-\xc3\xa9\xe2\x9c\x93",
    "slash/ok",	    "",
    "\"\\\"",	    "end\\",
};

/* The status object of a peer as control.c built it with json-c before. */
static json_object *reference(const struct hubd_peer_conf *p, const struct hubd_peer_state *s,
			      const char *endpoint, int64_t now)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	char buf[HUBD_PREFIX_STRLEN];

	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		hubd_prefix_format(&p->allowed_ips[i], buf, sizeof(buf));
		json_object_array_add(a, json_object_new_string(buf));
	}
	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "public_key", json_object_new_string("k+/="));
	json_object_object_add(o, "endpoint", endpoint ? json_object_new_string(endpoint) : NULL);
	json_object_object_add(o, "allowed_ips", a);
	json_object_object_add(o, "persistent_keepalive", json_object_new_int(p->keepalive));
	json_object_object_add(o, "latest_handshake",
			       json_object_new_int64(s ? s->last_handshake : 0));
	json_object_object_add(
	    o, "handshake_age",
	    s && s->last_handshake ? json_object_new_int64(now - s->last_handshake) : NULL);
	json_object_object_add(o, "rx_bytes", json_object_new_uint64(s ? s->rx_bytes : 0));
	json_object_object_add(o, "tx_bytes", json_object_new_uint64(s ? s->tx_bytes : 0));
	json_object_object_add(o, "health", json_object_new_string("st\"ale"));
	return o;
}

static void set_endpoint(struct hubd_peer_state *s, int which)
{
	memset(&s->learned, 0, sizeof(s->learned));
	memset(&s->resolved, 0, sizeof(s->resolved));
	if (which == 1) { /* learned, IPv4 */
		s->learned.addr4.sin_family = AF_INET;
		s->learned.addr4.sin_port = htons(51820);
		inet_pton(AF_INET, "198.51.100.7", &s->learned.addr4.sin_addr);
	} else if (which == 2) { /* only the configured one, resolved: IPv6 */
		s->resolved.addr6.sin6_family = AF_INET6;
		s->resolved.addr6.sin6_port = htons(1);
		inet_pton(AF_INET6, "2001:db8::1", &s->resolved.addr6.sin6_addr);
	}
}

START_TEST(test_peer_text)
{
	static const char *const endpoints[] = {NULL, "198.51.100.7:51820", "[2001:db8::1]:1"};
	struct hubd_prefix ips[2];
	struct hubd_peer_conf p = {
	    .name = (char *)tricky_names[_i], .allowed_ips = ips, .keepalive = 25};
	struct hubd_peer_state st = {
	    .last_handshake = 1796000000, .rx_bytes = UINT64_MAX, .tx_bytes = 4096};

	ck_assert_int_eq(hubd_prefix_parse("10.100.0.2/32", &ips[0], NULL), 0);
	ck_assert_int_eq(hubd_prefix_parse("fd00::2/128", &ips[1], NULL), 0);
	/* Without a state, with no prefix, one, two; with each kind of endpoint. */
	for (int v = 0; v < 6; v++) {
		struct hubd_peer_state *s = v < 2 ? NULL : &st;
		struct hubd_buf b = {0};
		json_object *want, *parsed;

		p.n_allowed_ips = (size_t)v % 3;
		if (s)
			set_endpoint(s, v - 3 < 0 ? 0 : v - 3);
		st.last_handshake = v == 2 ? 0 : 1796000000;
		want = reference(&p, s, s && v >= 3 ? endpoints[v - 3] : NULL, 1796000100);
		ck_assert_int_eq(control_peer_status(&b, &p, s, 1796000100, "k+/=", "st\"ale"), 0);
		ck_assert_int_eq(hubd_buf_add(&b, "", 1), 0);
		ck_assert_str_eq(
		    b.data, json_object_to_json_string_ext(
				want, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		/* And json-c reads back the very name, byte for byte. */
		parsed = json_tokener_parse(b.data);
		ck_assert_ptr_nonnull(parsed);
		ck_assert(json_object_equal(parsed, want));
		json_object_put(parsed);
		json_object_put(want);
		free(b.data);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("request");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_rows, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_loop_test(tc, test_policy_json, 0, sizeof(policy_rows) / sizeof(policy_rows[0]));
	tcase_add_loop_test(tc, test_peer_text, 0, sizeof(tricky_names) / sizeof(tricky_names[0]));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
