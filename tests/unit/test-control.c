/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's request parser, table-driven, and the status reply's policy fields. */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "control.h"

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

START_TEST(test_policy_json)
{
	struct hubd_access acc[3];
	struct hubd_peer_conf p = {.access = acc, .has_access = policy_rows[_i].has_access};
	json_object *o = json_object_new_object();
	const char *msg = NULL;

	for (size_t k = 0; policy_rows[_i].access[k]; k++)
		ck_assert_msg(
		    hubd_access_parse(policy_rows[_i].access[k], &acc[p.n_access++], &msg) == 0,
		    "%s: %s", policy_rows[_i].access[k], msg);
	if (policy_rows[_i].expires)
		ck_assert_int_eq(hubd_expiry_parse(policy_rows[_i].expires, &p.expires_at, &msg),
				 0);
	json_object_object_add(o, "health", json_object_new_string("up"));
	control_peer_policy_json(o, &p, policy_rows[_i].expired);
	/* Without the daemon's "\/": the same JSON, easier to read here. */
	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE),
			 policy_rows[_i].want);
	json_object_put(o);
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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
