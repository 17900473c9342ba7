/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The diff engine, table-driven: a desired state and a kernel state give
 * exactly the operations expected. Also the routed-prefix computation and
 * the nftables rendering.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "nft.h"

#define MAX_AIPS 4

/* A peer in a test row: key byte, allowed IPs, psk byte (0 none), keepalive, endpoint. */
struct tpeer {
	uint8_t key;
	const char *aips[MAX_AIPS];
	uint8_t psk;
	uint16_t keepalive;
	const char *endpoint; /* "a.b.c.d:port" or NULL */
};

struct expect_peer {
	uint8_t key;
	uint32_t flags;
	size_t n_aips; /* allowed IPs sent */
};

struct row {
	const char *name;
	struct tpeer want[3];
	size_t n_want;
	struct tpeer kernel[3];
	size_t n_kernel;
	const char *restore[3]; /* learned endpoint per wanted peer */
	bool kernel_absent;	/* no device yet */
	int ops;
	struct expect_peer out[3];
	size_t n_out;
	const char *event; /* first peer change's event, NULL if none */
};

static const struct row rows[] = {
    {"fresh device, no peers", .kernel_absent = true, .ops = 2},
    {"identical", .want = {{1, {"10.8.0.2/32"}}}, .n_want = 1, .kernel = {{1, {"10.8.0.2/32"}}},
     .n_kernel = 1, .ops = 0},
    {"new peer", .want = {{1, {"10.8.0.2/32", "192.168.1.0/24"}, 0, 25}}, .n_want = 1, .ops = 1,
     .out = {{1, WGNL_PEER_REPLACE_ALLOWEDIPS | WGNL_PEER_HAS_KEEPALIVE, 2}}, .n_out = 1,
     .event = "peer-added"},
    {"peer gone from config", .kernel = {{1, {"10.8.0.2/32"}}}, .n_kernel = 1, .ops = 1,
     .out = {{1, WGNL_PEER_REMOVE, 0}}, .n_out = 1, .event = "peer-removed"},
    {"allowed IPs changed only",
     .want = {{1, {"10.8.0.2/32", "10.9.0.0/16"}, 7, 25, "192.0.2.1:51820"}}, .n_want = 1,
     .kernel = {{1, {"10.8.0.2/32"}, 7, 25, "192.0.2.1:51820"}}, .n_kernel = 1, .ops = 1,
     .out = {{1, WGNL_PEER_UPDATE_ONLY | WGNL_PEER_REPLACE_ALLOWEDIPS, 2}}, .n_out = 1,
     .event = "peer-changed"},
    {"same allowed IPs in another order", .want = {{1, {"10.9.0.0/16", "10.8.0.2/32"}}},
     .n_want = 1, .kernel = {{1, {"10.8.0.2/32", "10.9.0.0/16"}}}, .n_kernel = 1, .ops = 0},
    {"preshared key removed", .want = {{1, {"10.8.0.2/32"}}}, .n_want = 1,
     .kernel = {{1, {"10.8.0.2/32"}, 9}}, .n_kernel = 1, .ops = 1,
     .out = {{1, WGNL_PEER_UPDATE_ONLY | WGNL_PEER_HAS_PSK, 0}}, .n_out = 1},
    {"keepalive changed", .want = {{1, {"10.8.0.2/32"}, 0, 25}}, .n_want = 1,
     .kernel = {{1, {"10.8.0.2/32"}, 0, 0}}, .n_kernel = 1, .ops = 1,
     .out = {{1, WGNL_PEER_UPDATE_ONLY | WGNL_PEER_HAS_KEEPALIVE, 0}}, .n_out = 1},
    {"configured endpoint moved", .want = {{1, {"10.8.0.2/32"}, 0, 0, "192.0.2.9:51820"}},
     .n_want = 1, .kernel = {{1, {"10.8.0.2/32"}, 0, 0, "192.0.2.1:51820"}}, .n_kernel = 1,
     .ops = 1, .out = {{1, WGNL_PEER_UPDATE_ONLY | WGNL_PEER_HAS_ENDPOINT, 0}}, .n_out = 1},
    {"learned endpoint is left alone", .want = {{1, {"10.8.0.2/32"}}}, .n_want = 1,
     .kernel = {{1, {"10.8.0.2/32"}, 0, 0, "198.51.100.7:40000"}}, .n_kernel = 1, .ops = 0},
    {"re-added peer gets its learned endpoint back", .want = {{1, {"10.8.0.2/32"}}}, .n_want = 1,
     .restore = {"198.51.100.7:40000"}, .ops = 1,
     .out = {{1, WGNL_PEER_REPLACE_ALLOWEDIPS | WGNL_PEER_HAS_ENDPOINT, 1}}, .n_out = 1},
    {"one of three changed",
     .want = {{1, {"10.8.0.2/32"}}, {2, {"10.8.0.3/32"}}, {3, {"10.8.0.4/32"}}}, .n_want = 3,
     .kernel = {{3, {"10.8.0.4/32"}}, {2, {"10.8.0.30/32"}}, {1, {"10.8.0.2/32"}}}, .n_kernel = 3,
     .ops = 1, .out = {{2, WGNL_PEER_UPDATE_ONLY | WGNL_PEER_REPLACE_ALLOWEDIPS, 1}}, .n_out = 1},
};

static void fill_key(wgnl_key k, uint8_t b)
{
	memset(k, b, WGNL_KEY_LEN);
}

static void parse_ep(const char *s, union wgnl_endpoint *ep)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	memset(ep, 0, sizeof(*ep));
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	ep->addr4.sin_family = AF_INET;
	ep->addr4.sin_port = htons(atoi(colon + 1));
	ck_assert_int_eq(inet_pton(AF_INET, host, &ep->addr4.sin_addr), 1);
}

static void make_conf(const struct tpeer *t, struct hubd_peer_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->name = strdup("p");
	fill_key(c->public_key, t->key);
	if (t->psk) {
		c->has_psk = true;
		fill_key(c->psk, t->psk);
	}
	c->keepalive = t->keepalive;
	c->allowed_ips = calloc(MAX_AIPS, sizeof(*c->allowed_ips));
	for (size_t i = 0; i < MAX_AIPS && t->aips[i]; i++)
		ck_assert_int_eq(
		    hubd_prefix_parse(t->aips[i], &c->allowed_ips[c->n_allowed_ips++], NULL), 0);
}

static void make_kernel_peer(const struct tpeer *t, struct wgnl_device *dev)
{
	struct wgnl_peer *p = wgnl_device_add_peer(dev);

	ck_assert_ptr_nonnull(p);
	fill_key(p->public_key, t->key);
	if (t->psk)
		fill_key(p->preshared_key, t->psk);
	p->persistent_keepalive = t->keepalive;
	if (t->endpoint)
		parse_ep(t->endpoint, &p->endpoint);
	for (size_t i = 0; i < MAX_AIPS && t->aips[i]; i++) {
		struct hubd_prefix pf;
		struct wgnl_allowedip a = {0};

		ck_assert_int_eq(hubd_prefix_parse(t->aips[i], &pf, NULL), 0);
		a.family = pf.family;
		a.cidr = pf.cidr;
		memcpy(&a.ip6, &pf.addr, pf.family == AF_INET ? 4 : 16);
		ck_assert_int_ge(wgnl_peer_add_allowedip(p, &a), 0);
	}
}

static void make_iface(struct hubd_iface_conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->name, "wg0");
	fill_key(c->private_key, 0xaa);
	c->listen_port = 51820;
	c->mtu = 1420;
}

/* A row's interface and wanted peers. */
static void row_wants(const struct row *r, struct hubd_iface_conf *iface,
		      struct hubd_peer_conf *conf, struct hubd_peer_want *want)
{
	make_iface(iface);
	for (size_t i = 0; i < r->n_want; i++) {
		make_conf(&r->want[i], &conf[i]);
		want[i].conf = &conf[i];
		if (r->want[i].endpoint)
			parse_ep(r->want[i].endpoint, &want[i].endpoint);
		if (r->restore[i])
			parse_ep(r->restore[i], &want[i].restore);
	}
}

START_TEST(test_diff_rows)
{
	const struct row *r = &rows[_i];
	struct hubd_iface_conf iface;
	struct hubd_peer_conf conf[3];
	struct hubd_peer_want want[3] = {0};
	struct wgnl_device *kernel = NULL, *set = NULL;
	struct hubd_changes ch = {0};
	int ops;

	row_wants(r, &iface, conf, want);
	if (!r->kernel_absent) {
		/* The device fields already match, so only peer operations count. */
		kernel = wgnl_device_new("wg0");
		kernel->flags = WGNL_DEV_HAS_PRIVATE_KEY;
		memcpy(kernel->private_key, iface.private_key, WGNL_KEY_LEN);
		kernel->listen_port = 51820;
		for (size_t i = 0; i < r->n_kernel; i++)
			make_kernel_peer(&r->kernel[i], kernel);
	}
	ops = hubd_diff_device(&iface, want, r->n_want, kernel, NULL, NULL, &set, &ch);
	ck_assert_msg(ops == r->ops, "%s: %d ops, expected %d", r->name, ops, r->ops);
	if (!r->ops) {
		ck_assert_ptr_null(set);
	} else {
		ck_assert_ptr_nonnull(set);
		ck_assert_uint_eq(set->n_peers, r->n_out);
		for (size_t i = 0; i < r->n_out; i++) {
			ck_assert_uint_eq(set->peers[i].public_key[0], r->out[i].key);
			ck_assert_msg(set->peers[i].flags == r->out[i].flags,
				      "%s: flags 0x%x, expected 0x%x", r->name, set->peers[i].flags,
				      r->out[i].flags);
			ck_assert_uint_eq(set->peers[i].n_allowedips, r->out[i].n_aips);
		}
	}
	if (r->event) {
		ck_assert_uint_ge(ch.n, 1);
		ck_assert_str_eq(ch.items[ch.n - 1].event, r->event);
	}
	changes_clear(&ch);
	wgnl_device_free(set);
	wgnl_device_free(kernel);
	for (size_t i = 0; i < r->n_want; i++)
		hubd_peer_conf_clear(&conf[i]);
}
END_TEST

static bool kernel_has(const struct wgnl_device *k, const wgnl_key key)
{
	for (size_t i = 0; i < k->n_peers; i++)
		if (!memcmp(k->peers[i].public_key, key, WGNL_KEY_LEN))
			return true;
	return false;
}

/* Does set hold the expected operation on the peer with first key byte e->key? */
static bool set_has(const struct wgnl_device *set, const struct expect_peer *e)
{
	for (size_t i = 0; set && i < set->n_peers; i++)
		if (set->peers[i].public_key[0] == e->key && set->peers[i].flags == e->flags &&
		    set->peers[i].n_allowedips == e->n_aips)
			return true;
	return false;
}

/*
 * The same rows through the walked diff, as wgnl_walk_device would drive it
 * when the first dump is interrupted: the operations are the
 * same (in another order: the kernel's, then the new peers), and nothing of
 * the interrupted pass is left in the requests or the change records.
 */
START_TEST(test_diff_walk_rows)
{
	const struct row *r = &rows[_i];
	struct hubd_iface_conf iface;
	struct hubd_peer_conf conf[3];
	struct hubd_peer_want want[3] = {0};
	struct wgnl_device *kernel = wgnl_device_new("wg0"), *sets[8] = {0};
	struct hubd_changes ch = {0};
	struct hubd_diff_walk w;
	size_t n_sets = 0, n_ops = 0;
	int ops;

	row_wants(r, &iface, conf, want);
	kernel->flags = WGNL_DEV_HAS_PRIVATE_KEY;
	memcpy(kernel->private_key, iface.private_key, WGNL_KEY_LEN);
	kernel->listen_port = 51820;
	for (size_t i = 0; i < r->n_kernel; i++)
		make_kernel_peer(&r->kernel[i], kernel);
	ck_assert_int_eq(hubd_diff_walk_init(&w, &iface, want, r->n_want, NULL, NULL, &ch), 0);
	if (!r->kernel_absent) {
		struct wgnl_peer ghost = {0};

		/* The interrupted pass: one of the kernel's peers, and a wanted peer that the
		 * device no longer has when the dump starts over. */
		ck_assert_int_eq(hubd_diff_walk_step(kernel, NULL, &w), 0);
		if (kernel->n_peers)
			ck_assert_int_eq(hubd_diff_walk_step(kernel, &kernel->peers[0], &w), 0);
		if (r->n_want)
			memcpy(ghost.public_key, conf[0].public_key, WGNL_KEY_LEN);
		if (r->n_want && !kernel_has(kernel, ghost.public_key))
			ck_assert_int_eq(hubd_diff_walk_step(kernel, &ghost, &w), 0);
		ck_assert_int_eq(hubd_diff_walk_step(kernel, NULL, &w), 0);
		for (size_t i = 0; i < kernel->n_peers; i++)
			ck_assert_int_eq(hubd_diff_walk_step(kernel, &kernel->peers[i], &w), 0);
	}
	/* One new peer a request: the runs. */
	while ((ops = hubd_diff_walk_next(&w, 1, &sets[n_sets])) > 0) {
		ck_assert_ptr_nonnull(sets[n_sets]);
		ck_assert_uint_lt(++n_sets, 8);
		n_ops += (size_t)ops;
	}
	ck_assert_int_eq(ops, 0);
	ck_assert_msg(n_ops == (size_t)r->ops, "%s: %zu ops, expected %d", r->name, n_ops, r->ops);
	ck_assert_uint_eq(ch.n, n_ops);
	for (size_t i = 0; i < r->n_out; i++) {
		bool seen = false;

		for (size_t k = 0; k < n_sets && !seen; k++)
			seen = set_has(sets[k], &r->out[i]);
		ck_assert_msg(seen, "%s: operation %zu missing", r->name, i);
	}
	for (size_t total = 0, k = 0; k <= n_sets; k++) {
		total += k < n_sets ? sets[k]->n_peers : 0;
		if (k == n_sets)
			ck_assert_uint_eq(total, r->n_out);
		if (k < n_sets && k > 0) /* device fields go with the first request only */
			ck_assert_uint_eq(sets[k]->flags, 0);
	}
	for (size_t k = 0; k < n_sets; k++)
		wgnl_device_free(sets[k]);
	hubd_diff_walk_free(&w);
	changes_clear(&ch);
	wgnl_device_free(kernel);
	for (size_t i = 0; i < r->n_want; i++)
		hubd_peer_conf_clear(&conf[i]);
}
END_TEST

START_TEST(test_device_fields)
{
	struct hubd_iface_conf iface;
	struct wgnl_device *kernel = wgnl_device_new("wg0"), *set = NULL;
	struct hubd_changes ch = {0};

	make_iface(&iface);
	iface.fwmark = 0x51;
	kernel->flags = WGNL_DEV_HAS_PRIVATE_KEY;
	memcpy(kernel->private_key, iface.private_key, WGNL_KEY_LEN);
	kernel->listen_port = 4000;
	ck_assert_int_eq(hubd_diff_device(&iface, NULL, 0, kernel, NULL, NULL, &set, &ch), 2);
	ck_assert_uint_eq(set->flags, WGNL_DEV_HAS_LISTEN_PORT | WGNL_DEV_HAS_FWMARK);
	ck_assert_uint_eq(set->listen_port, 51820);
	ck_assert_uint_eq(set->fwmark, 0x51);
	/* ListenPort omitted: the kernel's choice stands. */
	wgnl_device_free(set);
	iface.listen_port = 0;
	iface.fwmark = 0;
	kernel->fwmark = 0;
	ck_assert_int_eq(hubd_diff_device(&iface, NULL, 0, kernel, NULL, NULL, &set, &ch), 0);
	ck_assert_ptr_null(set);
	changes_clear(&ch);
	wgnl_device_free(kernel);
}
END_TEST

static struct hubd_iface_conf iface_with(const char *addr)
{
	struct hubd_iface_conf c;

	make_iface(&c);
	c.addresses = calloc(1, sizeof(*c.addresses));
	c.n_addresses = 1;
	ck_assert_int_eq(hubd_prefix_parse(addr, &c.addresses[0], NULL), 0);
	return c;
}

START_TEST(test_routed_prefixes)
{
	struct hubd_iface_conf iface = iface_with("10.8.0.1/24");
	struct tpeer home = {3, {"10.8.0.3/32", "192.168.1.0/24", "fd00:1::/64"}};
	struct tpeer phone = {2, {"10.8.0.2/32", "192.168.1.0/24"}};
	struct hubd_peer_conf peers[2];
	struct hubd_prefix *out;
	size_t n;
	char buf[64];

	make_conf(&home, &peers[0]);
	make_conf(&phone, &peers[1]);
	ck_assert_int_eq(hubd_routed_prefixes(&iface, peers, 2, &out, &n), 0);
	ck_assert_uint_eq(n, 2); /* tunnel addresses covered, the LAN once */
	hubd_prefix_format(&out[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.168.1.0/24");
	hubd_prefix_format(&out[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "fd00:1::/64");
	free(out);
	hubd_peer_conf_clear(&peers[0]);
	hubd_peer_conf_clear(&peers[1]);
	free(iface.addresses);
}
END_TEST

START_TEST(test_nft_render)
{
	struct hubd_iface_conf iface = iface_with("10.8.0.1/24");
	struct hubd_prefix lan;
	char *masq[] = {"eth0"};
	struct hubd_prefix masq_lans[2];
	char *t;

	ck_assert_int_eq(hubd_prefix_parse("192.168.1.0/24", &lan, NULL), 0);
	ck_assert_int_eq(hubd_prefix_parse("192.168.1.0/24", &masq_lans[0], NULL), 0);
	ck_assert_int_eq(hubd_prefix_parse("fd00:1::/64", &masq_lans[1], NULL), 0);
	iface.forward = HUBD_FORWARD_ISOLATE;
	iface.masquerade = masq;
	iface.n_masquerade = 1;
	t = hubd_nft_render(&iface, &lan, 1, false);
	ck_assert_ptr_nonnull(strstr(t, "table inet hubd {"));
	ck_assert_ptr_nonnull(strstr(t, "elements = { 192.168.1.0/24 }"));
	ck_assert_ptr_nonnull(strstr(t, "iifname \"wg0\" oifname \"wg0\" ip daddr @lan4 accept"));
	ck_assert_ptr_nonnull(strstr(t, "iifname \"wg0\" oifname \"wg0\" counter drop"));
	ck_assert_ptr_nonnull(strstr(t, "iifname \"wg0\" oifname \"eth0\" masquerade"));
	ck_assert_ptr_null(strstr(t, "lan6"));
	free(t);
	iface.forward = HUBD_FORWARD_HUB;
	t = hubd_nft_render(&iface, &lan, 1, false);
	ck_assert_ptr_null(strstr(t, "drop"));
	ck_assert_ptr_nonnull(strstr(t, "chain forward"));
	ck_assert_ptr_null(strstr(t, "daddr 192.168.1.0/24 masquerade"));
	free(t);
	/* Masquerade = PREFIX: towards the LAN by any interface but the tunnel itself. */
	iface.n_masquerade = 0;
	iface.masquerade_prefixes = masq_lans;
	iface.n_masquerade_prefixes = 2;
	t = hubd_nft_render(&iface, &lan, 1, false);
	ck_assert_ptr_nonnull(strstr(t,
				     "type nat hook postrouting priority srcnat; policy accept;\n"
				     "\t\tiifname \"wg0\" oifname != \"wg0\" ip daddr "
				     "192.168.1.0/24 masquerade\n"
				     "\t\tiifname \"wg0\" oifname != \"wg0\" ip6 daddr "
				     "fd00:1::/64 masquerade\n\t}\n"));
	ck_assert_ptr_null(strstr(t, "oifname \"eth0\""));
	free(t);
	iface.masquerade_prefixes = NULL;
	iface.n_masquerade_prefixes = 0;
	iface.forward = HUBD_FORWARD_OFF;
	iface.n_masquerade = 0;
	t = hubd_nft_render(&iface, &lan, 1, false);
	ck_assert_ptr_null(strstr(t, "chain"));
	free(t);
	free(iface.addresses);
}
END_TEST

/* A loop's change list keeps what it logs and counts the rest; moving one into another keeps
 * the order and the count. */
START_TEST(test_changes_keep)
{
	struct hubd_changes a = {.keep = 3}, b = {0};

	for (int i = 0; i < 5; i++)
		changes_add(&a, "a%d", i);
	ck_assert_uint_eq(a.n, 3);
	ck_assert_uint_eq(changes_count(&a), 5);
	ck_assert_str_eq(a.items[2].text, "a2");
	changes_truncate(&a, 4);
	ck_assert_uint_eq(changes_count(&a), 4);
	changes_truncate(&a, 1);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(changes_count(&a), 1);
	b.keep = 2;
	changes_add(&b, "b0");
	changes_add(&b, "b1");
	changes_add(&b, "b2");
	ck_assert_int_eq(changes_move(&a, &b), 0);
	ck_assert_uint_eq(a.n, 3); /* a1 + two of b's */
	ck_assert_str_eq(a.items[1].text, "b0");
	ck_assert_str_eq(a.items[2].text, "b1");
	ck_assert_uint_eq(changes_count(&a), 4); /* and b2, counted */
	ck_assert_uint_eq(changes_count(&b), 0);
	ck_assert_uint_eq(b.keep, 2);
	a.keep = 0; /* a client's list keeps everything */
	changes_add(&b, "c0");
	changes_add(&b, "c1");
	ck_assert_int_eq(changes_move(&a, &b), 0);
	ck_assert_uint_eq(a.n, 5);
	ck_assert_str_eq(a.items[4].text, "c1");
	changes_clear(&a);
	changes_clear(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("diff");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_diff_rows, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_loop_test(tc, test_diff_walk_rows, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_device_fields);
	tcase_add_test(tc, test_routed_prefixes);
	tcase_add_test(tc, test_nft_render);
	tcase_add_test(tc, test_changes_keep);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
