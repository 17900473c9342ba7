/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Access and ExpiresAt: the values (access.h), the expired peers kept aside
 * (config.h), and the nftables elements a policy becomes (policy.h), checked
 * against the policy itself packet by packet.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "changes.h"
#include "config.h"
#include "nft.h"
#include "policy.h"

static struct hubd_access entry(const char *s)
{
	struct hubd_access a;
	const char *msg = NULL;

	ck_assert_msg(hubd_access_parse(s, &a, &msg) == 0, "%s: %s", s, msg);
	return a;
}

START_TEST(test_access_values)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
	    {"192.168.1.100 tcp/3000", "192.168.1.100/32 tcp/3000"},
	    {"192.168.1.0/24", "192.168.1.0/24"},
	    {"10.0.0.0/8 ICMP", "10.0.0.0/8 icmp"},
	    {"fd00::/64 udp/53-54", "fd00::/64 udp/53-54"},
	    {"fd00::1  tcp", "fd00::1/128 tcp"},
	};
	char buf[HUBD_ACCESS_STRLEN];

	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		struct hubd_access a = entry(rows[i].in), b;

		hubd_access_format(&a, buf, sizeof(buf));
		ck_assert_str_eq(buf, rows[i].out);
		b = entry(buf); /* what format writes, parse takes back */
		ck_assert(!hubd_prefix_cmp(&a.dst, &b.dst) && a.proto == b.proto &&
			  a.port_lo == b.port_lo && a.port_hi == b.port_hi);
	}
	{
		struct hubd_access v6 = entry("fd00::1 icmp"), v4 = entry("10.0.0.1 icmp");

		ck_assert_uint_eq(hubd_access_ipproto(&v6), IPPROTO_ICMPV6);
		ck_assert_uint_eq(hubd_access_ipproto(&v4), IPPROTO_ICMP);
	}
}
END_TEST

START_TEST(test_expiry_values)
{
	static const struct {
		const char *in;
		long long at;
	} rows[] = {
	    {"2026-12-31T23:59:59Z", 1798761599},
	    {"2026-12-31", 1798761600}, /* the end of that day, UTC */
	    {"2026-12-31T23:59:59+01:00", 1798757999},
	    {"2026-12-31T23:59:59.999-00:30", 1798763399},
	    {"2024-02-29", 1709251200},
	};
	const char *msg;
	char buf[HUBD_EXPIRY_STRLEN];
	int64_t t;

	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		ck_assert_msg(hubd_expiry_parse(rows[i].in, &t, &msg) == 0, "%s", rows[i].in);
		ck_assert_msg(t == rows[i].at, "%s: %lld", rows[i].in, (long long)t);
	}
	for (const char *const *bad =
		 (const char *const[]){"2025-02-29", "2026-13-01", "2026-12-31T23:60:00Z",
				       "26-12-31", "2026-12-31Z", "2026-12-31T23:59Z",
				       "2026-12-31T23:59:59+1:00", NULL};
	     *bad; bad++)
		ck_assert_msg(hubd_expiry_parse(*bad, &t, &msg) < 0, "%s accepted", *bad);
	hubd_expiry_format(1798761599, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-12-31T23:59:59Z");
	ck_assert_int_eq(hubd_expiry_from_arg("7d", 1000, &t, &msg), 0);
	ck_assert_int_eq(t, 1000 + 7 * 86400);
	ck_assert_int_eq(hubd_expiry_from_arg("30m", 1000, &t, &msg), 0);
	ck_assert_int_eq(t, 1000 + 1800);
	ck_assert_int_eq(hubd_expiry_from_arg("2026-12-31", 1000, &t, &msg), 0);
	ck_assert_int_eq(t, 1798761600);
	ck_assert_int_lt(hubd_expiry_from_arg("0h", 1000, &t, &msg), 0);
	ck_assert_int_lt(hubd_expiry_from_arg("7y", 1000, &t, &msg), 0);
	ck_assert_int_lt(hubd_expiry_from_arg("soon", 1000, &t, &msg), 0);
}
END_TEST

static struct hubd_peer_conf peer(const char *name, const char *aips, const char *access,
				  int64_t expires)
{
	struct hubd_peer_conf p = {.name = strdup(name), .expires_at = expires};
	char *list = strdup(aips), *save = NULL;

	p.allowed_ips = calloc(16, sizeof(*p.allowed_ips));
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		ck_assert_int_eq(hubd_prefix_parse(t, &p.allowed_ips[p.n_allowed_ips++], NULL), 0);
	free(list);
	if (access) {
		list = strdup(access);
		p.has_access = true;
		p.access = calloc(16, sizeof(*p.access));
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
			p.access[p.n_access++] = entry(t);
		free(list);
	}
	return p;
}

/* Expired peers leave the running list, keep their order, and claim nothing. */
START_TEST(test_split_expired)
{
	struct hubd_config cfg = {0};

	cfg.peers = calloc(4, sizeof(*cfg.peers));
	cfg.peers[cfg.n_peers++] = peer("a", "10.8.0.2/32", NULL, 100);
	cfg.peers[cfg.n_peers++] = peer("b", "10.8.0.3/32", NULL, 0);
	cfg.peers[cfg.n_peers++] = peer("c", "10.8.0.4/32", NULL, 300);
	ck_assert_int_eq(hubd_config_next_expiry(&cfg, 50), 100);
	ck_assert_int_eq(hubd_config_split_expired(&cfg, 99), 0);
	ck_assert_int_eq(hubd_config_split_expired(&cfg, 100), 1);
	ck_assert_uint_eq(cfg.n_peers, 2);
	ck_assert_str_eq(cfg.peers[0].name, "b");
	ck_assert_str_eq(cfg.expired[0].name, "a");
	ck_assert_int_eq(hubd_config_next_expiry(&cfg, 100), 300);
	ck_assert_int_eq(hubd_config_split_expired(&cfg, 1000), 1);
	ck_assert_uint_eq(cfg.n_expired, 2);
	ck_assert_str_eq(cfg.expired[1].name, "c");
	ck_assert_int_eq(hubd_config_next_expiry(&cfg, 1000), 0);
	hubd_config_drop_expired(&cfg, "a");
	ck_assert_uint_eq(cfg.n_expired, 1);
	ck_assert_str_eq(cfg.expired[0].name, "c");
	for (size_t i = 0; i < cfg.n_peers; i++)
		hubd_peer_conf_clear(&cfg.peers[i]);
	for (size_t i = 0; i < cfg.n_expired; i++)
		hubd_peer_conf_clear(&cfg.expired[i]);
	free(cfg.peers);
	free(cfg.expired);
}
END_TEST

/* An element "accessN SRC . DST . PROTO . PORT" as ranges, to test packets against. */
struct range_elem {
	int family;
	unsigned __int128 src_lo, src_hi, dst_lo, dst_hi;
	unsigned proto_lo, proto_hi, port_lo, port_hi;
};

static unsigned __int128 addr_of(int family, const char *s)
{
	uint8_t b[16];
	unsigned __int128 v = 0;

	ck_assert_int_eq(inet_pton(family, s, b), 1);
	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		v = v << 8 | b[i];
	return v;
}

static void parse_addr_range(int family, char *s, unsigned __int128 *lo, unsigned __int128 *hi)
{
	char *dash = strchr(s, '-'), *slash = strchr(s, '/');
	int bits = family == AF_INET ? 32 : 128;

	if (dash) {
		*dash = '\0';
		*lo = addr_of(family, s);
		*hi = addr_of(family, dash + 1);
	} else if (slash) {
		int cidr = atoi(slash + 1);

		*slash = '\0';
		*lo = addr_of(family, s);
		*hi = *lo | (cidr == 0 ? ~(unsigned __int128)0 >> (128 - bits)
				       : (((unsigned __int128)1 << (bits - cidr)) - 1));
	} else {
		*lo = *hi = addr_of(family, s);
	}
}

static void parse_num_range(const char *s, unsigned *lo, unsigned *hi)
{
	if (sscanf(s, "%u-%u", lo, hi) != 2)
		*hi = *lo = (unsigned)atoi(s);
}

static struct range_elem parse_elem(const char *e)
{
	struct range_elem r = {0};
	char set[16], src[64], dst[96], pr[16], po[16];

	ck_assert_int_eq(sscanf(e, "%15s %63s . %95s . %15s . %15s", set, src, dst, pr, po), 5);
	r.family = set[6] == '4' ? AF_INET : AF_INET6;
	parse_addr_range(r.family, src, &r.src_lo, &r.src_hi);
	parse_addr_range(r.family, dst, &r.dst_lo, &r.dst_hi);
	parse_num_range(pr, &r.proto_lo, &r.proto_hi);
	parse_num_range(po, &r.port_lo, &r.port_hi);
	return r;
}

static bool in_elem(const struct range_elem *r, unsigned __int128 src, unsigned __int128 dst,
		    unsigned proto, unsigned port)
{
	return r->src_lo <= src && src <= r->src_hi && r->dst_lo <= dst && dst <= r->dst_hi &&
	       r->proto_lo <= proto && proto <= r->proto_hi && r->port_lo <= port &&
	       port <= r->port_hi;
}

/* What the policy says of a packet, straight from the entries. */
static bool allowed(const struct hubd_peer_conf *p, int family, unsigned __int128 dst,
		    unsigned proto, unsigned port)
{
	for (size_t i = 0; i < p->n_access; i++) {
		const struct hubd_access *a = &p->access[i];
		struct range_elem r = {0};
		char buf[HUBD_PREFIX_STRLEN];

		if (a->dst.family != family)
			continue;
		hubd_prefix_format(&a->dst, buf, sizeof(buf));
		parse_addr_range(family, buf, &r.dst_lo, &r.dst_hi);
		if (dst < r.dst_lo || dst > r.dst_hi)
			continue;
		if (a->proto && hubd_access_ipproto(a) != proto)
			continue;
		if (port < a->port_lo || port > a->port_hi)
			continue;
		return true;
	}
	return false;
}

/*
 * Overlapping entries become disjoint elements (the kernel refuses overlaps
 * in a concatenated interval set) whose union is the policy: every packet on
 * a grid around the entries' edges matches exactly one element when the
 * policy allows it, and none when it does not.
 */
START_TEST(test_policy_disjoint)
{
	struct hubd_peer_conf p =
	    peer("gw", "10.8.0.3/32,192.168.7.0/24,10.8.0.3/32,fd00:8::3/128",
		 "192.168.1.0/24 tcp/1000-2000,192.168.1.100 tcp,192.168.1.96/28 udp/53,"
		 "192.168.1.100 tcp/1500-3000,192.168.0.0/16 icmp,192.168.1.0/25,fd00::/64 tcp/22",
		 0);
	struct hubd_elems e = {0};
	struct range_elem el[256];
	size_t n = 0, limited = 0;
	const char *dsts[] = {"192.168.0.1",   "192.168.1.0",	"192.168.1.95",	 "192.168.1.96",
			      "192.168.1.99",  "192.168.1.100", "192.168.1.101", "192.168.1.111",
			      "192.168.1.112", "192.168.1.127", "192.168.1.128", "192.168.1.255",
			      "192.168.2.0",   "10.0.0.1"};
	unsigned protos[] = {1, 6, 17, 47},
		 ports[] = {0, 1, 22, 53, 999, 1000, 1499, 1500, 2000, 2001, 3000, 3001, 65535};

	ck_assert_int_eq(hubd_policy_elements(&p, "wg0", &e), 0);
	hubd_elems_sort(&e);
	for (size_t i = 0; i < e.n; i++) {
		if (!strncmp(e.v[i], "limited", 7)) {
			limited++;
			continue;
		}
		ck_assert_uint_lt(n, 256);
		el[n++] = parse_elem(e.v[i]);
	}
	/* the duplicate 10.8.0.3/32 once; every source, each family in its own set */
	ck_assert_uint_eq(limited, 3);
	ck_assert(hubd_elems_has(&e, "limited4 192.168.7.0/24 . \"wg0\""));
	ck_assert(hubd_elems_has(&e, "limited6 fd00:8::3/128 . \"wg0\""));
	ck_assert(hubd_elems_has(&e, "access6 fd00:8::3/128 . fd00::-fd00::ffff:ffff:ffff:ffff . "
				     "6 . 22"));
	for (size_t d = 0; d < sizeof(dsts) / sizeof(*dsts); d++)
		for (size_t q = 0; q < 4; q++)
			for (size_t o = 0; o < sizeof(ports) / sizeof(*ports); o++) {
				unsigned __int128 dst = addr_of(AF_INET, dsts[d]);
				unsigned __int128 src = addr_of(AF_INET, "192.168.7.9");
				unsigned port = protos[q] == 6 || protos[q] == 17 ? ports[o] : 0;
				size_t hits = 0;

				for (size_t i = 0; i < n; i++)
					hits += in_elem(&el[i], src, dst, protos[q], port);
				ck_assert_msg(
				    hits == (allowed(&p, AF_INET, dst, protos[q], port) ? 1u : 0u),
				    "%s proto %u port %u: %zu elements match", dsts[d], protos[q],
				    port, hits);
			}
	hubd_elems_free(&e);
	hubd_peer_conf_clear(&p);
}
END_TEST

/* No Access: no elements. Access = none: limited, with nothing allowed. */
START_TEST(test_policy_none)
{
	struct hubd_peer_conf open = peer("a", "10.8.0.2/32", NULL, 0);
	struct hubd_peer_conf none = peer("b", "10.8.0.3/32", "", 0);
	struct hubd_elems e = {0};

	ck_assert_int_eq(hubd_policy_elements(&open, "wg0", &e), 0);
	ck_assert_uint_eq(e.n, 0);
	ck_assert_int_eq(hubd_policy_elements(&none, "wg0", &e), 0);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(e.v[0], "limited4 10.8.0.3/32 . \"wg0\"");
	hubd_elems_free(&e);
	hubd_peer_conf_clear(&open);
	hubd_peer_conf_clear(&none);
}
END_TEST

/* One peer's change is a diff of its own elements. */
START_TEST(test_elems_diff)
{
	struct hubd_peer_conf was =
	    peer("a", "10.8.0.2/32", "192.168.1.100 tcp/3000,10.0.0.0/8", 0);
	struct hubd_peer_conf now = peer("a", "10.8.0.2/32", "192.168.1.100 tcp/3000", 0);
	struct hubd_elems a = {0}, b = {0}, del = {0}, add = {0};

	ck_assert_int_eq(hubd_policy_elements(&was, "wg0", &a), 0);
	ck_assert_int_eq(hubd_policy_elements(&now, "wg0", &b), 0);
	hubd_elems_sort(&a);
	hubd_elems_sort(&b);
	ck_assert_int_eq(hubd_elems_diff(&a, &b, &del, &add), 0);
	ck_assert_uint_eq(add.n, 0);
	ck_assert_uint_eq(del.n, 1);
	ck_assert_str_eq(del.v[0],
			 "access4 10.8.0.2/32 . 10.0.0.0-10.255.255.255 . 0-255 . 0-65535");
	free(del.v);
	free(add.v);
	hubd_elems_free(&a);
	hubd_elems_free(&b);
	hubd_peer_conf_clear(&was);
	hubd_peer_conf_clear(&now);
}
END_TEST

/* The delta as nft commands: one line per set and verb, every element in it, deletions first. */
START_TEST(test_delta_text)
{
	char *v_del[] = {"access4 10.8.0.2/32 . 10.0.0.1 . 6 . 22", "limited6 fd00::2/128"};
	char *v_add[] = {"access4 10.8.0.2/32 . 10.0.0.2 . 6 . 22",
			 "access4 10.8.0.2/32 . 10.0.0.3 . 6 . 22",
			 "access6 fd00::2/128 . fd00::1 . 58 . 0-65535", "limited4 10.8.0.2/32"};
	struct hubd_elems del = {v_del, 2, 2}, add = {v_add, 4, 4}, none = {0};
	char *t = hubd_nft_delta_text(&del, &add);

	ck_assert_str_eq(t,
			 "delete element inet hubd access4 { 10.8.0.2/32 . 10.0.0.1 . 6 . 22 }\n"
			 "delete element inet hubd limited6 { fd00::2/128 }\n"
			 "add element inet hubd access4 { 10.8.0.2/32 . 10.0.0.2 . 6 . 22, "
			 "10.8.0.2/32 . 10.0.0.3 . 6 . 22 }\n"
			 "add element inet hubd access6 { fd00::2/128 . fd00::1 . 58 . 0-65535 }\n"
			 "add element inet hubd limited4 { 10.8.0.2/32 }\n");
	free(t);
	t = hubd_nft_delta_text(&none, &none);
	ck_assert_str_eq(t, "");
	free(t);
}
END_TEST

/* The table: the policy's sets and chains only when some peer has Access, and its elements
 * never in the rendered text (they change one peer at a time). */
START_TEST(test_policy_render)
{
	struct hubd_iface_conf c = {.name = "wg0", .forward = HUBD_FORWARD_OFF};
	char *t = hubd_nft_render(&c, NULL, 0, false);

	ck_assert_ptr_null(strstr(t, "chain"));
	free(t);
	t = hubd_nft_render(&c, NULL, 0, true);
	ck_assert_ptr_nonnull(strstr(t, "set access4 {\n\t\ttype ipv4_addr . ipv4_addr . "
					"inet_proto . inet_service\n\t\tflags interval\n\t}"));
	ck_assert_ptr_nonnull(strstr(t, "ct direction reply accept\n"));
	ck_assert_ptr_nonnull(
	    strstr(t, "type filter hook input priority filter; policy accept;\n"
		      "\t\tiifname \"wg0\" ip saddr . iifname @limited4 jump access\n"));
	ck_assert_ptr_nonnull(
	    strstr(t, "type filter hook forward priority filter; policy accept;\n"
		      "\t\tiifname \"wg0\" ip saddr . iifname @limited4 jump access\n"
		      "\t\tiifname \"wg0\" ip6 saddr . iifname @limited6 jump access\n\t}"));
	ck_assert_ptr_null(strstr(t, "elements"));
	free(t);
	c.forward = HUBD_FORWARD_ISOLATE;
	t = hubd_nft_render(&c, NULL, 0, true);
	/* before isolate's drop: what Access allows, Forward does not take back */
	ck_assert(strstr(t, "@limited6 jump access\n\t\tiifname") <
		  strstr(t, "oifname \"wg0\" counter drop"));
	free(t);
}
END_TEST

/* The policy elements of peers[0..n) on wg0, sorted. */
static void all_elements(const struct hubd_peer_conf *peers, size_t n, struct hubd_elems *e)
{
	*e = (struct hubd_elems){0};
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(hubd_policy_elements(&peers[i], "wg0", e), 0);
	hubd_elems_sort(e);
}

/* How many elements the kernel holds in the set, by nft's own listing. */
static int kernel_count(const char *set)
{
	char cmd[128], line[4096];
	int n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nft list set inet hubd %s", set);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	bool in = false;

	while (fgets(line, sizeof(line), f)) {
		char *c = in ? line : strstr(line, "elements = {");

		for (in = c != NULL; c && *c && *c != '}'; c++)
			n += *c == '{' || *c == ',';
		if (c && *c == '}')
			in = false;
	}
	pclose(f);
	return n;
}

/*
 * Against the kernel, in a network namespace of its own (root only; CI runs as
 * root): the table with three peers' policies, then one peer's Access narrowed,
 * widened and dropped, and a peer removed, each as a delta of its own
 * elements. After each, the kernel holds what hubd holds (a full sync finds
 * nothing to send), and the table was never replaced.
 */
START_TEST(test_delta_kernel)
{
	struct hubd_iface_conf c = {.name = "wg0", .forward = HUBD_FORWARD_ISOLATE};
	struct hubd_peer_conf peers[3] = {
	    peer("a", "10.8.0.2/32", "192.168.1.0/24 tcp/1000-2000,192.168.1.0/25", 0),
	    peer("b", "10.8.0.3/32,fd00:8::3/128", "192.168.1.100 tcp/3000,fd00::/64 tcp/22", 0),
	    peer("c", "10.8.0.4/32,192.168.9.0/24", "", 0)};
	const char *steps[][2] = {{"b", "192.168.1.100 tcp/3000"},
				  {"b", "192.168.1.100 tcp/3000,192.168.1.101 icmp,fd00::1"},
				  {"a", NULL},
				  {"c", "10.0.0.0/8"}};
	struct hubd_changes ch = {0};
	struct hubd_nft *n;
	struct hubd_elems want;
	char *table;

	if (unshare(CLONE_NEWNET) < 0 || system("nft list ruleset >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_delta_kernel: skipped: no network namespace or nft (%s)\n",
			strerror(errno));
		return;
	}
	ck_assert_int_eq(hubd_nft_open(&n), 0);
	table = hubd_nft_render(&c, NULL, 0, true);
	all_elements(peers, 3, &want);
	ck_assert_int_eq(hubd_nft_sync(n, table, &want, false, &ch), 1);
	ck_assert_int_eq(kernel_count("limited4"), 4);
	hubd_elems_free(&want);
	for (size_t s = 0; s < sizeof(steps) / sizeof(*steps); s++) {
		size_t i = (size_t)(steps[s][0][0] - 'a');
		struct hubd_peer_conf next = steps[s][1]
						 ? peer(steps[s][0],
							i == 0	 ? "10.8.0.2/32"
							: i == 1 ? "10.8.0.3/32,fd00:8::3/128"
								 : "10.8.0.4/32,192.168.9.0/24",
							steps[s][1], 0)
						 : (struct hubd_peer_conf){0};
		struct hubd_elems was = {0}, now = {0}, del = {0}, add = {0};
		size_t before = ch.n;

		ck_assert_int_eq(hubd_policy_elements(&peers[i], "wg0", &was), 0);
		if (next.name)
			ck_assert_int_eq(hubd_policy_elements(&next, "wg0", &now), 0);
		hubd_elems_sort(&was);
		hubd_elems_sort(&now);
		ck_assert_int_eq(hubd_elems_diff(&was, &now, &del, &add), 0);
		ck_assert_int_eq(hubd_nft_policy_delta(n, &del, &add, false, &ch), 1);
		ck_assert_uint_eq(ch.n, before); /* no restore: the kernel took the delta */
		free(del.v);
		free(add.v);
		hubd_elems_free(&was);
		hubd_elems_free(&now);
		hubd_peer_conf_clear(&peers[i]);
		peers[i] = next.name ? next : peer(steps[s][0], "10.8.0.99/32", NULL, 0);
		all_elements(peers, 3, &want);
		/* what a full sync would send: nothing */
		ck_assert_int_eq(hubd_nft_sync(n, table, &want, false, &ch), 0);
		ck_assert_uint_eq(ch.n, before);
		ck_assert_int_eq(kernel_count("limited4") + kernel_count("limited6") +
				     kernel_count("access4") + kernel_count("access6"),
				 (int)want.n);
		hubd_elems_free(&want);
	}
	/* An element deleted behind hubd's back: the count tells, and the table is put back. */
	all_elements(peers, 3, &want);
	ck_assert_int_eq(system("nft flush set inet hubd access4"), 0);
	ck_assert_int_eq(hubd_nft_sync(n, table, &want, false, &ch), 1);
	ck_assert_str_eq(ch.items[ch.n - 1].text, "nftables table inet hubd: restore");
	ck_assert_int_eq(kernel_count("limited4") + kernel_count("limited6") +
			     kernel_count("access4") + kernel_count("access6"),
			 (int)want.n);
	hubd_elems_free(&want);
	for (size_t i = 0; i < 3; i++)
		hubd_peer_conf_clear(&peers[i]);
	changes_clear(&ch);
	free(table);
	hubd_nft_close(n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("access");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_access_values);
	tcase_add_test(tc, test_expiry_values);
	tcase_add_test(tc, test_split_expired);
	tcase_add_test(tc, test_policy_disjoint);
	tcase_add_test(tc, test_policy_none);
	tcase_add_test(tc, test_elems_diff);
	tcase_add_test(tc, test_policy_render);
	tcase_add_test(tc, test_delta_text);
	tcase_add_test(tc, test_delta_kernel);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
