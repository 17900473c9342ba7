/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubd_takeover_parse: the endpoints file that `hubctl takeover` hands the daemon. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "takeover.h"

#define K1  "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2  "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define HUB "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="

static const struct {
	const char *text;
	int want; /* the return value */
	size_t n; /* entries taken, when want == 0 */
} cases[] = {
    /* As `hubctl endpoints --json` writes it; a peer without an endpoint is skipped. */
    {"{\"interface\":\"wg0\",\"public_key\":\"" HUB "\",\"time\":5,\"endpoints\":["
     "{\"name\":\"b\",\"public_key\":\"" K2 "\",\"endpoint\":\"[2001:db8::1]:51820\","
     "\"latest_handshake\":200},"
     "{\"name\":\"a\",\"public_key\":\"" K1 "\",\"endpoint\":\"198.51.100.1:40000\","
     "\"latest_handshake\":100},"
     "{\"name\":\"c\",\"public_key\":\"" HUB "\",\"endpoint\":null}]}",
     0, 2},
    {"{\"endpoints\":[]}", 0, 0},
    /* No hub key: taken (an older file, or one made by hand). */
    {"{\"endpoints\":[{\"public_key\":\"" K1 "\",\"endpoint\":\"192.0.2.2:1\"}]}", 0, 1},
    /* Another hub's file: the hubs must share their key. */
    {"{\"public_key\":\"" K1 "\",\"endpoints\":[]}", -EXDEV, 0},
    {"{\"public_key\":\"not a key\",\"endpoints\":[]}", -EXDEV, 0},
    /* Malformed. */
    {"", -EINVAL, 0},
    {"[]", -EINVAL, 0},
    {"{\"endpoints\":{}}", -EINVAL, 0},
    {"{\"endpoints\":[1]}", -EINVAL, 0},
    {"{\"endpoints\":[{\"endpoint\":\"192.0.2.2:1\"}]}", -EINVAL, 0},
    {"{\"endpoints\":[{\"public_key\":\"AQE=\",\"endpoint\":\"192.0.2.2:1\"}]}", -EINVAL, 0},
    /* A name would need a lookup on the daemon's loop: only literal addresses. */
    {"{\"endpoints\":[{\"public_key\":\"" K1 "\",\"endpoint\":\"vpn.example.org:1\"}]}", -EINVAL,
     0},
    {"{\"endpoints\":[{\"public_key\":\"" K1 "\",\"endpoint\":\"192.0.2.2\"}]}", -EINVAL, 0},
    {"{\"endpoints\":[{\"public_key\":\"" K1 "\",\"endpoint\":\"192.0.2.2:1\","
     "\"latest_handshake\":-1}]}",
     -EINVAL, 0},
    {"{\"endpoints\":[{\"public_key\":\"" K1 "\",\"endpoint\":\"192.0.2.2:1\","
     "\"latest_handshake\":\"5\"}]}",
     -EINVAL, 0},
    {"{\"endpoints\":[[[[[[[[[[[]]]]]]]]]]]}", -EINVAL, 0},
};

static void hub_key(wgnl_key key)
{
	ck_assert_int_eq(wgnl_key_from_base64(key, HUB), 0);
}

START_TEST(test_parse_table)
{
	struct hubd_takeover_entry *v = NULL;
	size_t n = 99;
	wgnl_key hub;
	int r;

	hub_key(hub);
	r = hubd_takeover_parse(cases[_i].text, strlen(cases[_i].text), hub, &v, &n);
	ck_assert_msg(r == cases[_i].want, "case %d: %d, want %d", _i, r, cases[_i].want);
	if (r == 0)
		ck_assert_uint_eq(n, cases[_i].n);
	free(v);
}
END_TEST

START_TEST(test_parse_values)
{
	const char *text = cases[0].text;
	struct hubd_takeover_entry *v = NULL;
	wgnl_key hub, k1, k2;
	size_t n;

	hub_key(hub);
	ck_assert_int_eq(wgnl_key_from_base64(k1, K1), 0);
	ck_assert_int_eq(wgnl_key_from_base64(k2, K2), 0);
	ck_assert_int_eq(hubd_takeover_parse(text, strlen(text), hub, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	/* Sorted by key, whatever the file's order. */
	ck_assert(!memcmp(v[0].key, k1, WGNL_KEY_LEN));
	ck_assert_int_eq(v[0].endpoint.addr4.sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(v[0].endpoint.addr4.sin_port), 40000);
	ck_assert_uint_eq(ntohl(v[0].endpoint.addr4.sin_addr.s_addr), 0xc6336401);
	ck_assert_int_eq(v[0].latest_handshake, 100);
	ck_assert(!memcmp(v[1].key, k2, WGNL_KEY_LEN));
	ck_assert_int_eq(v[1].endpoint.addr6.sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(v[1].endpoint.addr6.sin6_port), 51820);
	ck_assert_int_eq(v[1].latest_handshake, 200);
	free(v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("takeover");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_parse_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_parse_values);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
