/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state record (src/hubd/record.h): parsing, who holds what, who is contested. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

static char k1[WGNL_KEY_B64_LEN + 1], k2[WGNL_KEY_B64_LEN + 1], k3[WGNL_KEY_B64_LEN + 1];

static void make_keys(void)
{
	wgnl_key k;

	memset(k, 0x11, sizeof(k));
	wgnl_key_to_base64(k1, k);
	memset(k, 0x22, sizeof(k));
	wgnl_key_to_base64(k2, k);
	memset(k, 0x33, sizeof(k));
	wgnl_key_to_base64(k3, k);
}

/* A peer with key b64 claiming the comma-separated prefixes (masked, as the parser leaves
 * them). */
static struct hubd_peer_conf *peer(const char *b64, const char *prefixes)
{
	struct hubd_peer_conf *p = calloc(1, sizeof(*p));
	char *copy = strdup(prefixes), *save = NULL;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(wgnl_key_from_base64(p->public_key, b64), 0);
	p->allowed_ips = calloc(8, sizeof(*p->allowed_ips));
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		ck_assert_int_eq(hubd_prefix_parse(t, &p->allowed_ips[p->n_allowed_ips], NULL), 0);
		hubd_prefix_mask(&p->allowed_ips[p->n_allowed_ips++]);
	}
	free(copy);
	return p;
}

static void peer_free(struct hubd_peer_conf *p)
{
	free(p->allowed_ips);
	free(p);
}

static struct hubd_record *record(void)
{
	struct hubd_record *r = NULL;
	char *text = NULL;

	/* A comment, a line with a bad key, a bad prefix among good ones, a key given twice. */
	ck_assert_int_ge(asprintf(&text,
				  "# hubd\n"
				  "notakey 10.9.9.9/32\n"
				  "%s 10.8.0.2/32 fd00::2/128 10.8.0.300/32\n"
				  "%s 10.8.0.3/32 192.168.1.0/24\n"
				  "%s 10.8.0.77/32\n",
				  k1, k2, k1),
			 0);
	ck_assert_int_eq(hubd_record_parse(text, strlen(text), &r), 0);
	free(text);
	return r;
}

static const struct {
	const char *name;
	int key; /* 1..3 */
	const char *prefixes;
	bool holds, contests;
} rows[] = {
    {"all it had", 1, "10.8.0.2/32,fd00::2/128", true, false},
    {"part of what it had", 1, "10.8.0.2/32", true, false},
    {"nothing at all", 1, "", true, false},
    {"the second line for a key counts not", 1, "10.8.0.77/32", false, true},
    {"its key with a new prefix", 1, "10.8.0.2/32,10.8.0.50/32", false, true},
    {"a new key on a recorded address", 3, "10.8.0.2/32", false, true},
    {"a new key inside a recorded LAN", 3, "192.168.1.77/32", false, true},
    {"a new key covering a recorded LAN", 3, "192.168.0.0/16", false, true},
    {"a new key covering a recorded address", 3, "10.8.0.0/24", false, true},
    {"a new key on a recorded IPv6 address", 3, "fd00::/64", false, true},
    {"a new key on free addresses", 3, "10.8.0.9/32,192.168.2.0/24,fd00:1::/64", false, false},
    {"a line that did not parse holds nothing", 3, "10.9.9.9/32", false, false},
};

START_TEST(test_holds_contests)
{
	const char *keys[] = {k1, k2, k3};
	struct hubd_record *r = record();
	struct hubd_peer_conf *p = peer(keys[rows[_i].key - 1], rows[_i].prefixes);

	ck_assert_uint_eq(hubd_record_size(r), 2);
	ck_assert_msg(hubd_record_holds(r, p) == rows[_i].holds, "%s: holds", rows[_i].name);
	ck_assert_msg(hubd_record_contests(r, p) == rows[_i].contests, "%s: contests",
		      rows[_i].name);
	peer_free(p);
	hubd_record_free(r);
}
END_TEST

/* What hubd_record_format writes, hubd_record_parse reads back. */
START_TEST(test_round_trip)
{
	struct hubd_peer_conf *a = peer(k1, "10.8.0.2/32,fd00::2/128"),
			      *b = peer(k2, "10.8.0.3/32");
	struct hubd_peer_conf *c;
	struct hubd_peer_conf peers[2] = {*a, *b};
	struct hubd_config cfg = {.iface = {.name = "wg7"}, .peers = peers, .n_peers = 2};
	struct hubd_record *r = NULL;
	char *text = NULL;
	size_t len = 0;

	ck_assert_int_eq(hubd_record_format(&cfg, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "wg7"));
	ck_assert_int_eq(hubd_record_parse(text, len, &r), 0);
	ck_assert_uint_eq(hubd_record_size(r), 2);
	ck_assert(hubd_record_holds(r, a));
	ck_assert(hubd_record_holds(r, b));
	c = peer(k3, "10.8.0.3/32");
	ck_assert(hubd_record_contests(r, c));
	peer_free(c);
	free(text);
	hubd_record_free(r);
	peer_free(a);
	peer_free(b);
}
END_TEST

/* Saved into a directory that does not exist yet, loaded back; no record is no error. */
START_TEST(test_save_load)
{
	char dir[] = "/tmp/test-record.XXXXXX", sub[64];
	struct hubd_peer_conf *a = peer(k1, "10.8.0.2/32");
	struct hubd_config cfg = {.iface = {.name = "wg0"}, .peers = a, .n_peers = 1};
	struct hubd_record *r = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);
	ck_assert_int_eq(hubd_record_load(sub, "wg0", &r), 0);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(hubd_record_save(sub, &cfg), 0);
	ck_assert_int_eq(hubd_record_load(sub, "wg0", &r), 0);
	ck_assert_ptr_nonnull(r);
	ck_assert(hubd_record_holds(r, a));
	hubd_record_free(r);
	ck_assert_int_eq(system((snprintf(sub, sizeof(sub), "rm -rf %s", dir), sub)), 0);
	peer_free(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("record");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, make_keys, NULL);
	tcase_add_loop_test(tc, test_holds_contests, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_save_load);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
