/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubctl's pure helpers: address allocation, the client config, formatting, QR codes. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr-alloc.h"
#include "format.h"
#include "qr.h"
#include "render.h"

#define MAX_USED 8

static struct hubd_prefix P(const char *s) {
	struct hubd_prefix p;

	ck_assert_msg(hubd_prefix_parse(s, &p, NULL) == 0, "bad test prefix %s", s);
	return p;
}

static size_t
parse_list(const char *const *in, struct hubd_prefix *out)
{
	size_t n = 0;

	for (; in && in[n]; n++)
		out[n] = P(in[n]);
	return n;
}

static void assert_prefix(const struct hubd_prefix *p, const char *want)
{
	char got[HUBD_PREFIX_STRLEN];

	hubd_prefix_format(p, got, sizeof(got));
	ck_assert_str_eq(got, want);
}

/* ---- allocation ---- */

static const struct {
	const char *subnet;
	const char *used[MAX_USED];
	const char *want; /* NULL: subnet full */
} next_cases[] = {
    {"10.8.0.1/24", {"10.8.0.1"}, "10.8.0.2/32"},
    {"10.8.0.1/24", {"10.8.0.1", "10.8.0.2/32", "10.8.0.4/32"}, "10.8.0.3/32"},
    /* the hub's own address is not the first one */
    {"10.8.0.3/24", {"10.8.0.3", "10.8.0.1/32", "10.8.0.2/32"}, "10.8.0.4/32"},
    {"10.8.0.1/24", {"10.8.0.1", "192.168.1.0/24", "fd00::2/128"}, "10.8.0.2/32"},
    {"10.8.0.1/24", {"10.8.0.1", "10.8.0.0/25"}, "10.8.0.128/32"},
    {"10.8.0.1/24", {"10.8.0.0/24"}, NULL},
    {"10.8.0.1/30", {"10.8.0.1", "10.8.0.2/32"}, NULL}, /* .3 is the broadcast address */
    {"10.8.0.0/31", {"10.8.0.0"}, "10.8.0.1/32"},	/* RFC 3021: both are hosts */
    {"10.8.0.1/32", {"10.8.0.1"}, NULL},
    {"10.8.0.1/24", {"10.8.0.1", "10.8.0.128/25", "10.8.0.2/31", "10.8.0.4/30"}, "10.8.0.8/32"},
    {"fd00::1/64", {"fd00::1"}, "fd00::2/128"},
    {"fd00::1/64", {"fd00::1", "fd00::2/127", "fd00::4/128"}, "fd00::5/128"},
    {"fd00::1/64", {"fd00::1", "fd00::/65"}, "fd00::8000:0:0:0/128"},
    {"fd00::1/64", {"fd00::/64"}, NULL},
    {"fd00::/127", {"fd00::", "fd00::1"}, NULL},
    {"fd00::1/120", {"fd00::1", "10.8.0.2/32"}, "fd00::2/128"},
};

START_TEST(test_alloc_next)
{
	struct hubd_prefix used[MAX_USED], subnet = P(next_cases[_i].subnet), got;
	size_t n = parse_list(next_cases[_i].used, used);
	int r = hubctl_alloc_next(&subnet, used, n, &got);

	if (!next_cases[_i].want) {
		ck_assert_int_eq(r, -ENOSPC);
		return;
	}
	ck_assert_int_eq(r, 0);
	assert_prefix(&got, next_cases[_i].want);
}
END_TEST

/* A subnet filled one peer at a time: the 254th allocation fails, cleanly. */
START_TEST(test_alloc_fill)
{
	struct hubd_prefix subnet = P("10.8.0.1/24"), used[256], got;
	size_t n = 0;

	used[n++] = P("10.8.0.1");
	for (int i = 0; i < 253; i++) {
		ck_assert_int_eq(hubctl_alloc_next(&subnet, used, n, &got), 0);
		used[n++] = got;
	}
	assert_prefix(&used[n - 1], "10.8.0.254/32");
	ck_assert_int_eq(hubctl_alloc_next(&subnet, used, n, &got), -ENOSPC);
}
END_TEST

static const struct {
	const char *subnet, *addr;
	int want;
	size_t conflict;
} check_cases[] = {
    {"10.8.0.1/24", "10.8.0.7", 0, 0},
    {"10.8.0.1/24", "10.8.1.7", -EDOM, 0},
    {"10.8.0.1/24", "fd00::7", -EDOM, 0},
    {"10.8.0.1/24", "10.8.0.0", -EADDRNOTAVAIL, 0},
    {"10.8.0.1/24", "10.8.0.255", -EADDRNOTAVAIL, 0},
    {"10.8.0.1/24", "10.8.0.1", -EEXIST, 0},
    {"10.8.0.1/24", "10.8.0.3", -EEXIST, 1},
    {"10.8.0.1/24", "10.8.0.20", -EEXIST, 2},
    {"fd00::1/64", "fd00::7", 0, 0},
    {"fd00::1/64", "fd00::", -EADDRNOTAVAIL, 0},
    {"fd00::1/64", "fd00::ffff:ffff:ffff:ffff", 0, 0}, /* IPv6 has no broadcast */
    {"fd00::1/64", "fd00::a", -EEXIST, 3},
};

START_TEST(test_alloc_check)
{
	static const char *const used_s[] = {"10.8.0.1", "10.8.0.3", "10.8.0.16/28", "fd00::a",
					     NULL};
	struct hubd_prefix used[MAX_USED], subnet = P(check_cases[_i].subnet),
					   addr = P(check_cases[_i].addr);
	size_t n = parse_list(used_s, used), conflict = 99;

	ck_assert_int_eq(hubctl_alloc_check(&subnet, used, n, &addr, &conflict),
			 check_cases[_i].want);
	if (check_cases[_i].want == -EEXIST)
		ck_assert_uint_eq(conflict, check_cases[_i].conflict);
}
END_TEST

/* ---- the client config ---- */

static const struct {
	const char *hub[3];
	const char *peers[MAX_USED];
	const char *want;
} allowed_cases[] = {
    {{"10.8.0.1/24"}, {NULL}, "10.8.0.0/24"},
    {{"10.8.0.1/24"},
     {"10.8.0.3/32", "192.168.1.0/24", "10.8.0.2/32", "192.168.1.0/24", "192.168.1.128/25",
      "172.16.0.0/16"},
     "10.8.0.0/24, 192.168.1.0/24, 172.16.0.0/16"},
    {{"10.8.0.1/24"}, {"192.168.1.128/25", "192.168.0.0/16"}, "10.8.0.0/24, 192.168.0.0/16"},
    {{"10.8.0.1/24", "fd00::1/64"},
     {"fd00::3/128", "10.8.0.3/32", "fd10::/48"},
     "10.8.0.0/24, fd00::/64, fd10::/48"},
    /* a LAN that overlaps the hub subnet only partly is still routed through the hub */
    {{"10.8.0.1/25"}, {"10.8.0.0/24"}, "10.8.0.0/24"},
};

START_TEST(test_default_allowed_ips)
{
	struct hubd_prefix hub[3], peers[MAX_USED], *got = NULL;
	size_t n_hub = parse_list(allowed_cases[_i].hub, hub);
	size_t n_peers = parse_list(allowed_cases[_i].peers, peers), n = 0;
	struct hubctl_client_conf c = {
	    .private_key = "k", .hub_public_key = "h", .endpoint = "e:1", .n_addresses = 1};
	char *text = NULL, want[256];

	ck_assert_int_eq(hubctl_default_allowed_ips(hub, n_hub, peers, n_peers, &got, &n), 0);
	c.addresses = hub;
	c.allowed_ips = got;
	c.n_allowed_ips = n;
	ck_assert_int_eq(hubctl_render_client(&c, &text), 0);
	snprintf(want, sizeof(want), "\nAllowedIPs = %s\n", allowed_cases[_i].want);
	ck_assert_msg(strstr(text, want), "want %s in:\n%s", want, text);
	hubctl_secret_free(text);
	free(got);
}
END_TEST

static const struct {
	const char *in, *want; /* want NULL: -EINVAL */
} list_cases[] = {
    {"0.0.0.0/0,::/0", "0.0.0.0/0, ::/0"},
    {"192.168.1.5/24", "192.168.1.0/24"},
    {" 10.8.0.0/24 ,\t192.168.1.0/24 ", "10.8.0.0/24, 192.168.1.0/24"},
    {"10.8.0.7", "10.8.0.7/32"},
    {"10.0.0.1/33", NULL},
    {"10.0.0.0/024", NULL},
    {"10.8.0.0/24, 10.9.0.0/024", NULL},
    {"10.0.0.1/", NULL},
    {"example.org", NULL},
    {"", NULL},
    {" , ", NULL},
};

START_TEST(test_prefix_list)
{
	struct hubd_prefix *got = NULL;
	size_t n = 0;
	char buf[256] = "", s[HUBD_PREFIX_STRLEN];
	int r = hubctl_parse_prefix_list(list_cases[_i].in, &got, &n, NULL);

	if (!list_cases[_i].want) {
		ck_assert_int_eq(r, -EINVAL);
		return;
	}
	ck_assert_int_eq(r, 0);
	for (size_t i = 0; i < n; i++) {
		hubd_prefix_format(&got[i], s, sizeof(s));
		strcat(buf, i ? ", " : "");
		strcat(buf, s);
	}
	ck_assert_str_eq(buf, list_cases[_i].want);
	free(got);
}
END_TEST

/*
 * The CLI refuses and accepts exactly what the daemon does: each row is
 * hubd_prefix_parse's verdict, and --allowed-ips (hubctl_parse_prefix_list)
 * must agree and name the refused item.
 */
static const struct {
	const char *in;
	int want; /* hubd_prefix_parse's return */
} cli_prefix_cases[] = {
    {"10.8.0.0/24", 0},
    {"10.8.0.0/0", 0},
    {"10.8.0.7", 0},
    {"10.8.0.7/32", 0},
    {"fd00::/64", 0},
    {"fd00::1/128", 0},
    {"::/0", 0},
    {"10.8.0.0/024", -EINVAL}, /* a leading zero: was accepted by hubctl's own parser */
    {"10.8.0.0/00", -EINVAL},
    {"10.8.0.0/0032", -EINVAL},
    {"fd00::/064", -EINVAL},
    {"10.8.0.0/+24", -EINVAL},
    {"10.8.0.0/-1", -EINVAL},
    {"10.8.0.0/2a", -EINVAL},
    {"10.8.0.0/", -EINVAL},
    {"10.8.0.0/1000", -EINVAL},
    {"010.8.0.0/24", -EINVAL},
    {"10.8.0/24", -EINVAL},
    {"/24", -EINVAL},
    {"vpn.example.org/24", -EINVAL},
    {"10.8.0.0/33", -ERANGE},
    {"fd00::/129", -ERANGE},
};

START_TEST(test_cli_prefix_is_daemon_prefix)
{
	const char *in = cli_prefix_cases[_i].in;
	struct hubd_prefix p, *got = NULL;
	size_t n = 0;
	char *bad = NULL;
	int r;

	ck_assert_int_eq(hubd_prefix_parse(in, &p, NULL), cli_prefix_cases[_i].want);
	r = hubctl_parse_prefix_list(in, &got, &n, &bad);
	if (cli_prefix_cases[_i].want < 0) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_ptr_nonnull(bad);
		ck_assert_str_eq(bad, in);
	} else {
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_ptr_null(bad);
	}
	free(bad);
	free(got);
}
END_TEST

/* The refused item is named even after good ones; an empty list names none. */
START_TEST(test_prefix_list_bad_item)
{
	struct hubd_prefix *got = NULL;
	size_t n = 0;
	char *bad = NULL;

	ck_assert_int_eq(hubctl_parse_prefix_list("10.8.0.0/24, 10.9.0.0/024", &got, &n, &bad),
			 -EINVAL);
	ck_assert_str_eq(bad, "10.9.0.0/024");
	free(bad);
	bad = NULL;
	ck_assert_int_eq(hubctl_parse_prefix_list(" , ", &got, &n, &bad), -EINVAL);
	ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_render_full_text)
{
	struct hubd_prefix addrs[] = {P("10.8.0.2"), P("fd00::2")};
	struct hubd_prefix allowed[] = {P("0.0.0.0/0"), P("::/0")};
	struct hubctl_client_conf c = {
	    .private_key = "cGhvbmUtcHJpdmF0ZS1rZXktLS0tLS0tLS0tLS0tLS0=",
	    .addresses = addrs,
	    .n_addresses = 2,
	    .dns = "10.8.0.1, lan",
	    .hub_public_key = "aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=",
	    .endpoint = "vpn.example.org:51820",
	    .allowed_ips = allowed,
	    .n_allowed_ips = 2,
	    .keepalive = HUBCTL_CLIENT_KEEPALIVE,
	};
	char *text = NULL;

	ck_assert_int_eq(hubctl_render_client(&c, &text), 0);
	ck_assert_str_eq(text, "[Interface]\n"
			       "PrivateKey = cGhvbmUtcHJpdmF0ZS1rZXktLS0tLS0tLS0tLS0tLS0=\n"
			       "Address = 10.8.0.2/32, fd00::2/128\n"
			       "DNS = 10.8.0.1, lan\n"
			       "\n"
			       "[Peer]\n"
			       "PublicKey = aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=\n"
			       "Endpoint = vpn.example.org:51820\n"
			       "AllowedIPs = 0.0.0.0/0, ::/0\n"
			       "PersistentKeepalive = 25\n");
	hubctl_secret_free(text);
	/* No DNS line without --dns; no config without an address. */
	c.dns = NULL;
	ck_assert_int_eq(hubctl_render_client(&c, &text), 0);
	ck_assert_ptr_null(strstr(text, "DNS"));
	hubctl_secret_free(text);
	c.n_addresses = 0;
	ck_assert_int_eq(hubctl_render_client(&c, &text), -EINVAL);
}
END_TEST

/* A site gateway, both formats: the whole text, so that any change to it is a decision. */
START_TEST(test_render_site)
{
	struct hubd_prefix addrs[] = {P("10.8.0.3")}, addrs24[] = {P("10.8.0.3/24")};
	struct hubd_prefix allowed[] = {P("10.8.0.0/24"), P("192.168.2.0/24")};
	struct hubd_prefix lans[] = {P("192.168.1.0/24"), P("fd00:1::/64")};
	struct hubctl_client_conf c = {
	    .private_key = "cGhvbmUtcHJpdmF0ZS1rZXktLS0tLS0tLS0tLS0tLS0=",
	    .addresses = addrs,
	    .n_addresses = 1,
	    .hub_public_key = "aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=",
	    .endpoint = "vpn.example.org:51820",
	    .allowed_ips = allowed,
	    .n_allowed_ips = 2,
	    .keepalive = HUBCTL_CLIENT_KEEPALIVE,
	    .lans = lans,
	    .n_lans = 2,
	};
	char *text = NULL, *conf = NULL, *peer = NULL;

	ck_assert_int_eq(hubctl_render_client(&c, &text), 0);
	ck_assert_str_eq(
	    text,
	    "[Interface]\n"
	    "PrivateKey = cGhvbmUtcHJpdmF0ZS1rZXktLS0tLS0tLS0tLS0tLS0=\n"
	    "Address = 10.8.0.3/32\n"
	    "PostUp = test -f /run/hubd-site-%i.ip_forward || cat /proc/sys/net/ipv4/ip_forward > "
	    "/run/hubd-site-%i.ip_forward\n"
	    "PostUp = echo 1 > /proc/sys/net/ipv4/ip_forward\n"
	    "PostUp = test -f /run/hubd-site-%i.forwarding6 || cat "
	    "/proc/sys/net/ipv6/conf/all/forwarding > /run/hubd-site-%i.forwarding6\n"
	    "PostUp = echo 1 > /proc/sys/net/ipv6/conf/all/forwarding\n"
	    "PostUp = nft add table inet hubd-site-%i; nft flush table inet hubd-site-%i\n"
	    "PostUp = nft add chain inet hubd-site-%i postrouting '{ type nat hook postrouting "
	    "priority srcnat; policy accept; }'\n"
	    "PostUp = nft add rule inet hubd-site-%i postrouting iifname %i oifname != %i ip daddr "
	    "192.168.1.0/24 masquerade\n"
	    "PostUp = nft add rule inet hubd-site-%i postrouting iifname %i oifname != %i ip6 "
	    "daddr "
	    "fd00:1::/64 masquerade\n"
	    "PostDown = nft delete table inet hubd-site-%i || true\n"
	    "PostDown = test ! -f /run/hubd-site-%i.ip_forward || cat /run/hubd-site-%i.ip_forward "
	    "> "
	    "/proc/sys/net/ipv4/ip_forward\n"
	    "PostDown = rm -f /run/hubd-site-%i.ip_forward\n"
	    "PostDown = test ! -f /run/hubd-site-%i.forwarding6 || cat "
	    "/run/hubd-site-%i.forwarding6 > /proc/sys/net/ipv6/conf/all/forwarding\n"
	    "PostDown = rm -f /run/hubd-site-%i.forwarding6\n"
	    "\n"
	    "[Peer]\n"
	    "PublicKey = aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=\n"
	    "Endpoint = vpn.example.org:51820\n"
	    "AllowedIPs = 10.8.0.0/24, 192.168.2.0/24\n"
	    "PersistentKeepalive = 25\n");
	hubctl_secret_free(text);

	c.addresses = addrs24;
	ck_assert_int_eq(hubctl_render_site_hubd(&c, &conf, &peer), 0);
	ck_assert_ptr_null(strstr(conf, "PrivateKey"));
	ck_assert_ptr_nonnull(strstr(conf, "\n[Interface]\nAddress = 10.8.0.3/24\n"
					   "Masquerade = 192.168.1.0/24, fd00:1::/64\n"));
	ck_assert_ptr_nonnull(strstr(peer,
				     "\n[Peer]\n"
				     "PublicKey = aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=\n"
				     "Endpoint = vpn.example.org:51820\n"
				     "AllowedIPs = 10.8.0.0/24, 192.168.2.0/24\n"
				     "PersistentKeepalive = 25\n"));
	free(conf);
	free(peer);
	c.n_lans = 0; /* a site has a LAN */
	ck_assert_int_eq(hubctl_render_site_hubd(&c, &conf, &peer), -EINVAL);
}
END_TEST

static const struct {
	const char *option, *public_endpoint;
	int want_r;
	const char *want;
} endpoint_cases[] = {
    {NULL, NULL, -ENOENT, NULL},
    {NULL, "vpn.example.org:51820", 0, "vpn.example.org:51820"},
    {"203.0.113.1:51820", "vpn.example.org:51820", 0, "203.0.113.1:51820"},
    {"[2001:db8::1]:51820", NULL, 0, "[2001:db8::1]:51820"},
    {"2001:db8::1:51820", NULL, -EINVAL, NULL},
    {"vpn.example.org", NULL, -EINVAL, NULL},
    {"vpn.example.org:0", NULL, -EINVAL, NULL},
    {"vpn.example.org:65536", NULL, -EINVAL, NULL},
    {"vpn.example.org:51820\nPostUp = x", NULL, -EINVAL, NULL},
    {":51820", NULL, -EINVAL, NULL},
    {"[]:51820", NULL, -EINVAL, NULL},
    {NULL, "bad endpoint:1", -EINVAL, NULL},
};

START_TEST(test_endpoint)
{
	const char *got = NULL;

	ck_assert_int_eq(hubctl_client_endpoint(endpoint_cases[_i].option,
						endpoint_cases[_i].public_endpoint, &got),
			 endpoint_cases[_i].want_r);
	if (endpoint_cases[_i].want)
		ck_assert_str_eq(got, endpoint_cases[_i].want);
}
END_TEST

static const struct {
	const char *in, *want;
} dns_cases[] = {
    {"10.8.0.1", "10.8.0.1"},
    {"10.8.0.1,fd00::1 home.lan", "10.8.0.1, fd00::1, home.lan"},
    {"10.8.0.300", NULL},
    {"10.0.0.0/8", NULL},
    {"1.1.1.1\nPostUp=evil", NULL},
    {"", NULL},
    {"-x", NULL},
};

START_TEST(test_dns)
{
	char *got = NULL;
	int r = hubctl_normalize_dns(dns_cases[_i].in, &got);

	if (!dns_cases[_i].want) {
		ck_assert_int_eq(r, -EINVAL);
		return;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_str_eq(got, dns_cases[_i].want);
	free(got);
}
END_TEST

/* ---- formatting ---- */

static const struct {
	int64_t seconds;
	const char *want;
} age_cases[] = {
    {0, "0s"},	{5, "5s"}, {60, "1m 0s"}, {65, "1m 5s"}, {3605, "1h 0m 5s"}, {90061, "1d 1h 1m 1s"},
    {-3, "0s"},
};

START_TEST(test_format_age)
{
	char buf[64];

	hubctl_format_age(age_cases[_i].seconds, buf, sizeof(buf));
	ck_assert_str_eq(buf, age_cases[_i].want);
}
END_TEST

static const struct {
	uint64_t bytes;
	const char *want;
} bytes_cases[] = {
    {0, "0 B"},
    {1023, "1023 B"},
    {1024, "1.00 KiB"},
    {1536, "1.50 KiB"},
    {5ULL << 20, "5.00 MiB"},
    {3ULL << 30, "3.00 GiB"},
    {UINT64_MAX, "16.00 EiB"},
};

START_TEST(test_format_bytes)
{
	char buf[64];

	hubctl_format_bytes(bytes_cases[_i].bytes, buf, sizeof(buf));
	ck_assert_str_eq(buf, bytes_cases[_i].want);
}
END_TEST

static const struct {
	const char *in, *want;
} escape_cases[] = {
    {"phone", "phone"}, {"a\"b", "a\\\"b"}, {"a\\b", "a\\\\b"}, {"a\nb", "a\\nb"}, {"", ""},
};

START_TEST(test_prom_escape)
{
	char *got = hubctl_prom_escape(escape_cases[_i].in);

	ck_assert_str_eq(got, escape_cases[_i].want);
	free(got);
}
END_TEST

/* status's Access lines: wrapped at the width, continuation under the first item. */
static const struct {
	const char *items[4];
	size_t width;
	const char *want;
} wrap_cases[] = {
    {{"none (may start no connection)"}, 80, "  access:  none (may start no connection)\n"},
    {{"192.168.1.100/32 tcp/3000", "192.168.1.0/24 icmp"},
     80,
     "  access:  192.168.1.100/32 tcp/3000, 192.168.1.0/24 icmp\n"},
    /* "  access:  aaaa, bbbb," is 22 columns: at 22 it fits, at 21 bbbb moves down. */
    {{"aaaa", "bbbb", "cc"}, 22, "  access:  aaaa, bbbb,\n           cc\n"},
    {{"aaaa", "bbbb", "cc"}, 21, "  access:  aaaa,\n           bbbb, cc\n"},
    /* Longer than a line: alone on its line, never cut. */
    {{"a", "fd00:1234:5678:9abc::/64 udp/10000-20000", "b"},
     30,
     "  access:  a,\n           fd00:1234:5678:9abc::/64 udp/10000-20000,\n           b\n"},
};

START_TEST(test_format_wrapped)
{
	size_t n = 0;
	char *got;

	while (n < 4 && wrap_cases[_i].items[n])
		n++;
	got = hubctl_format_wrapped("  access:  ", wrap_cases[_i].items, n, wrap_cases[_i].width);
	ck_assert_str_eq(got, wrap_cases[_i].want);
	free(got);
}
END_TEST

/* ---- QR codes ---- */

static char *capture(int (*fn)(const char *, FILE *), const char *text, int *ret_r, size_t *ret_len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, ret_len);

	ck_assert_ptr_nonnull(f);
	*ret_r = fn(text, f);
	fclose(f);
	return buf;
}

START_TEST(test_qr_ansi)
{
	int r;
	size_t len, lines = 0;
	char *out = capture(hubctl_qr_write_ansi, "[Interface]\nPrivateKey = x\n", &r, &len);

	ck_assert_int_eq(r, 0);
	for (char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	/* Version 2 (25 modules) plus the quiet zone on both sides, two module rows a line. */
	ck_assert_uint_eq(lines, (25 + 2 * HUBCTL_QR_QUIET + 1) / 2);
	ck_assert(strncmp(out, "\033[97;40m", 8) == 0);
	/* The top line is the quiet zone: all light, full blocks only. */
	ck_assert(strncmp(out + 8, "\u2588\u2588\u2588\u2588", 12) == 0);
	free(out);
}
END_TEST

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

START_TEST(test_qr_png)
{
	int r;
	size_t len;
	unsigned char *out = (unsigned char *)capture(hubctl_qr_write_png,
						      "[Interface]\nPrivateKey = x\n", &r, &len);

	ck_assert_int_eq(r, 0);
	ck_assert_uint_gt(len, 33);
	ck_assert(memcmp(out, "\x89PNG\r\n\x1a\n", 8) == 0);
	ck_assert(memcmp(out + 12, "IHDR", 4) == 0);
	ck_assert_uint_eq(be32(out + 16), (25 + 2 * HUBCTL_QR_QUIET) * HUBCTL_QR_MODULE);
	ck_assert_uint_eq(be32(out + 20), (25 + 2 * HUBCTL_QR_QUIET) * HUBCTL_QR_MODULE);
	free(out);
}
END_TEST

START_TEST(test_qr_too_long)
{
	char *text = malloc(4000);
	int r;
	size_t len;
	char *out;

	memset(text, 'x', 3999);
	text[3999] = '\0';
	out = capture(hubctl_qr_write_ansi, text, &r, &len);
	ck_assert_int_eq(r, -EINVAL);
	free(out);
	free(text);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *hubctl_suite(void)
{
	Suite *s = suite_create("hubctl");
	TCase *t = tcase_create("alloc");

	tcase_add_loop_test(t, test_alloc_next, 0, N(next_cases));
	tcase_add_test(t, test_alloc_fill);
	tcase_add_loop_test(t, test_alloc_check, 0, N(check_cases));
	suite_add_tcase(s, t);
	t = tcase_create("render");
	tcase_add_loop_test(t, test_default_allowed_ips, 0, N(allowed_cases));
	tcase_add_loop_test(t, test_prefix_list, 0, N(list_cases));
	tcase_add_loop_test(t, test_cli_prefix_is_daemon_prefix, 0, N(cli_prefix_cases));
	tcase_add_test(t, test_prefix_list_bad_item);
	tcase_add_test(t, test_render_full_text);
	tcase_add_test(t, test_render_site);
	tcase_add_loop_test(t, test_endpoint, 0, N(endpoint_cases));
	tcase_add_loop_test(t, test_dns, 0, N(dns_cases));
	suite_add_tcase(s, t);
	t = tcase_create("format");
	tcase_add_loop_test(t, test_format_age, 0, N(age_cases));
	tcase_add_loop_test(t, test_format_bytes, 0, N(bytes_cases));
	tcase_add_loop_test(t, test_prom_escape, 0, N(escape_cases));
	tcase_add_loop_test(t, test_format_wrapped, 0, N(wrap_cases));
	suite_add_tcase(s, t);
	t = tcase_create("qr");
	tcase_add_test(t, test_qr_ansi);
	tcase_add_test(t, test_qr_png);
	tcase_add_test(t, test_qr_too_long);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hubctl_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
