/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The net sync fails closed: forwarding is turned on only after the nftables
 * table that filters it (Forward = isolate among its rules) is in place, and
 * not at all when the table cannot be set. The kernel calls are stubbed with
 * -Wl,--wrap (src/hubd/local.mk); each stub records its turn.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "net-sync.h"
#include "nft.h"
#include "rtnl.h"

static struct {
	int nft_result; /* what the table's sync returns */
	char order[16]; /* the calls made, in turn: a(ddresses) r(outes) n(ft) f(orwarding) */
	size_t n;
} k;

static void called(char c)
{
	ck_assert_uint_lt(k.n, sizeof(k.order) - 1);
	k.order[k.n++] = c;
}

int __wrap_hubd_addr_sync(struct nl_sock *sk, int ifindex, const struct hubd_prefix *addrs,
			  size_t n, bool dry, struct hubd_changes *ch);
int __wrap_hubd_route_sync(struct nl_sock *sk, int ifindex, const struct hubd_prefix *dsts,
			   size_t n, bool dry, struct hubd_changes *ch);
int __wrap_hubd_forwarding_sync(bool v6, bool dry, struct hubd_changes *ch);
int __wrap_hubd_nft_sync(struct hubd_nft *n, const char *rendered, const struct hubd_elems *elems,
			 bool dry, struct hubd_changes *ch);

int __wrap_hubd_addr_sync(struct nl_sock *sk, int ifindex, const struct hubd_prefix *addrs,
			  size_t n, bool dry, struct hubd_changes *ch)
{
	called('a');
	return 0;
}

int __wrap_hubd_route_sync(struct nl_sock *sk, int ifindex, const struct hubd_prefix *dsts,
			   size_t n, bool dry, struct hubd_changes *ch)
{
	called('r');
	return 0;
}

int __wrap_hubd_forwarding_sync(bool v6, bool dry, struct hubd_changes *ch)
{
	called('f');
	return 0;
}

int __wrap_hubd_nft_sync(struct hubd_nft *n, const char *rendered, const struct hubd_elems *elems,
			 bool dry, struct hubd_changes *ch)
{
	called('n');
	ck_assert_ptr_nonnull(strstr(rendered, "table inet"));
	return k.nft_result;
}

/* A hub with Forward = isolate on 10.8.0.1/24 and no peers. */
static struct hubd_config *hub_config(void)
{
	struct hubd_config *cfg = calloc(1, sizeof(*cfg));

	ck_assert_ptr_nonnull(cfg);
	strcpy(cfg->iface.name, "wg0");
	cfg->iface.forward = HUBD_FORWARD_ISOLATE;
	cfg->iface.addresses = calloc(1, sizeof(*cfg->iface.addresses));
	ck_assert_ptr_nonnull(cfg->iface.addresses);
	ck_assert_int_eq(hubd_prefix_parse("10.8.0.1/24", &cfg->iface.addresses[0], NULL), 0);
	cfg->iface.n_addresses = 1;
	cfg->iface_ok = true;
	return cfg;
}

static const struct {
	const char *name;
	unsigned parts;
	int nft_result;
	const char *order; /* the calls expected, in turn */
	int result;
} cases[] = {
    {"everything: the table before forwarding", HUBD_NET_ALL, 0, "arnf", 0},
    {"a table that changed: still before forwarding", HUBD_NET_ALL, 1, "arnf", 0},
    {"the table refused: forwarding left as it was", HUBD_NET_ALL, -EIO, "arn", -EIO},
    {"table and forwarding alone (a cold start's end)", HUBD_NET_NFT | HUBD_NET_FORWARDING, 0, "nf",
     0},
    {"table refused at a cold start's end", HUBD_NET_NFT | HUBD_NET_FORWARDING, -EIO, "n", -EIO},
    {"addresses alone touch nothing else", HUBD_NET_ADDRESSES, 0, "a", 0},
};

START_TEST(test_fails_closed)
{
	struct hubd h = {0};
	struct hubd_config *cfg = hub_config();
	struct hubd_changes ch = {0};
	int r;

	memset(&k, 0, sizeof(k));
	k.nft_result = cases[_i].nft_result;
	r = hubd_net_sync_parts(&h, cfg, 7, cases[_i].parts, false, &ch);
	ck_assert_msg(!strcmp(k.order, cases[_i].order), "%s: calls '%s', want '%s'",
		      cases[_i].name, k.order, cases[_i].order);
	ck_assert_msg(r == cases[_i].result, "%s: returned %d, want %d", cases[_i].name, r,
		      cases[_i].result);
	changes_clear(&ch);
	hubd_config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net-sync");
	TCase *tc = tcase_create("fails closed");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_fails_closed, 0, sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
