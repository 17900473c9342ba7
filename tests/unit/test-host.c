/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the machine relies on outside the tunnel (src/common/host.h): reading
 * it from /proc and resolv.conf text, and the verifier refusing any peer
 * prefix that covers it.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "host.h"

static char key1[WGNL_KEY_B64_LEN + 1], key2[WGNL_KEY_B64_LEN + 1];

static void make_keys(void)
{
	wgnl_key k;

	memset(k, 0x11, sizeof(k));
	wgnl_key_to_base64(key1, k);
	memset(k, 0x22, sizeof(k));
	wgnl_key_to_base64(key2, k);
}

/* /proc/net/route of a VPS: a default route via 203.0.113.1 on eth0, the LAN of a docker
 * bridge, and a route through the tunnel with a gateway of its own (left out). */
static const char routes4[] =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t017100CB\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t007100CB\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    "wg0\t0001A8C0\t0300080A\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
/* /proc/net/ipv6_route: a default route via fe80::1 on eth0, a connected /64. */
static const char routes6[] =
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n"
    "20010db8000000010000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
static const char resolv[] = "# comment\nsearch example.org\nnameserver 192.168.7.53\n"
			     "nameserver fd00:53::1%eth0\noptions ndots:1\n";

static void canned_host(struct hubd_host *h)
{
	struct hubd_prefix a;

	ck_assert_int_eq(hubd_prefix_parse("172.16.5.10", &a, NULL), 0);
	ck_assert_int_eq(hubd_host_add(h, &a, HUBD_HOST_ADDRESS, "eth1"), 0);
	ck_assert_int_eq(hubd_host_add_routes4(h, routes4, "wg0"), 0);
	ck_assert_int_eq(hubd_host_add_routes6(h, routes6, "wg0"), 0);
	ck_assert_int_eq(hubd_host_add_resolv(h, resolv, "/etc/resolv.conf"), 0);
}

static bool has_fact(const struct hubd_host *h, const char *addr, enum hubd_host_kind kind,
		     const char *where)
{
	for (size_t i = 0; i < h->n; i++) {
		char buf[INET6_ADDRSTRLEN];

		hubd_prefix_format_addr(&h->facts[i].addr, buf, sizeof(buf));
		if (!strcmp(buf, addr) && h->facts[i].kind == kind &&
		    !strcmp(h->facts[i].where, where))
			return true;
	}
	return false;
}

START_TEST(test_read_text)
{
	struct hubd_host h = {0};

	canned_host(&h);
	ck_assert(has_fact(&h, "172.16.5.10", HUBD_HOST_ADDRESS, "eth1"));
	ck_assert(has_fact(&h, "203.0.113.1", HUBD_HOST_GATEWAY, "eth0"));
	ck_assert(has_fact(&h, "fe80::1", HUBD_HOST_GATEWAY, "eth0"));
	ck_assert(has_fact(&h, "192.168.7.53", HUBD_HOST_NAMESERVER, "/etc/resolv.conf"));
	ck_assert(has_fact(&h, "fd00:53::1", HUBD_HOST_NAMESERVER, "/etc/resolv.conf"));
	/* Nothing else: no connected route, no route through the tunnel. */
	ck_assert_uint_eq(h.n, 5);
	hubd_host_free(&h);
}
END_TEST

/* The machine this runs on: at least loopback's address, never the tunnel's. */
START_TEST(test_read_machine)
{
	struct hubd_host h = {0};

	ck_assert_int_eq(hubd_host_read(&h, "lo"), 0);
	ck_assert(!has_fact(&h, "127.0.0.1", HUBD_HOST_ADDRESS, "lo"));
	ck_assert_int_eq(hubd_host_read(&h, "wg-none"), 0);
	ck_assert(has_fact(&h, "127.0.0.1", HUBD_HOST_ADDRESS, "lo"));
	hubd_host_free(&h);
}
END_TEST

static const struct {
	const char *routes; /* PeerRoutes, or NULL for the default */
	const char *aips;
	const char *msg; /* the start of the message, NULL when accepted */
} rows[] = {
    {NULL, "10.8.0.2/32, 192.168.1.0/24", NULL},
    {NULL, "172.16.0.0/12",
     "AllowedIPs 172.16.0.0/12 covers 172.16.5.10, an address of this "
     "machine (eth1)"},
    {NULL, "192.168.7.0/24",
     "AllowedIPs 192.168.7.0/24 covers 192.168.7.53, a name server of "
     "this machine (/etc/resolv.conf)"},
    {NULL, "fd00:53::/64", "AllowedIPs fd00:53::/64 covers fd00:53::1, a name server"},
    {"0.0.0.0/0", "203.0.113.0/24",
     "AllowedIPs 203.0.113.0/24 covers 203.0.113.1, the gateway "
     "of one of this machine's routes (eth0)"},
    {"0.0.0.0/0", "200.0.0.0/5", "AllowedIPs 200.0.0.0/5 covers 203.0.113.1"},
    /* A default route is what a gateway sending everything to its hub asks for. */
    {"0.0.0.0/0", "0.0.0.0/0", NULL},
    {"0.0.0.0/0", "192.168.7.52/32, 192.168.7.54/31", NULL},
};

START_TEST(test_verify)
{
	char text[512];
	struct hubd_config *cfg = calloc(1, sizeof(*cfg));
	struct hubd_diags d = {0};
	struct hubd_host h = {0};

	canned_host(&h);
	snprintf(text, sizeof(text), "[Interface]\nAddress = 10.8.0.1/24\n%s%s\n",
		 rows[_i].routes ? "PeerRoutes = " : "", rows[_i].routes ? rows[_i].routes : "");
	ck_assert_int_eq(hubd_parse_interface("hubd.conf", text, strlen(text), &cfg->iface, &d), 0);
	cfg->iface_ok = true;
	cfg->iface.host = &h;
	cfg->peers = calloc(2, sizeof(*cfg->peers));
	snprintf(text, sizeof(text), "[Peer]\nPublicKey = %s\nAllowedIPs = %s\n", key1,
		 rows[_i].aips);
	ck_assert_int_eq(
	    hubd_parse_peer("peers.d/p.conf", "p", text, strlen(text), &cfg->peers[0], &d), 0);
	cfg->n_peers = 1;
	hubd_config_verify(cfg, &d);
	if (!rows[_i].msg) {
		ck_assert_msg(d.n == 0, "row %d: %s", _i, d.n ? d.items[0].message : "");
		ck_assert_uint_eq(cfg->n_peers, 1);
	} else {
		ck_assert_uint_eq(cfg->n_rejected, 1);
		ck_assert_uint_ge(d.n, 1);
		ck_assert_str_eq(d.items[0].path, "peers.d/p.conf");
		ck_assert_uint_eq(d.items[0].line, 3);
		ck_assert_msg(!strncmp(d.items[0].message, rows[_i].msg, strlen(rows[_i].msg)),
			      "row %d: %s", _i, d.items[0].message);
	}
	/* Without facts nothing is refused for them. */
	hubd_diags_free(&d);
	hubd_config_free(cfg);
	hubd_host_free(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("host");
	TCase *tc = tcase_create("host");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, make_keys, NULL);
	tcase_add_test(tc, test_read_text);
	tcase_add_test(tc, test_read_machine);
	tcase_add_loop_test(tc, test_verify, 0, sizeof(rows) / sizeof(rows[0]));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
