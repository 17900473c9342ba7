/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's request parser, table-driven. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("request");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_rows, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_embedded_nul);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
