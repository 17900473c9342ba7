/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What keeps a big hub cheap: the health timer spaced by its own cost
 * (health.c), the routes of a few changed peers alone (route-delta.c), and
 * the socket filter that keeps hubd's own rtnetlink echoes out of its
 * monitor socket (rtnl.c).
 */
#include <check.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon.h"
#include "diff.h"
#include "route-delta.h"
#include "peer-index.h"
#include "rtnl.h"

/* ---- the health timer ---- */

START_TEST(health_delay_is_the_interval_on_a_small_hub)
{
	/* A 10 ms check at 10 s: the configured interval holds. */
	ck_assert_uint_eq(hubd_health_delay_us(10, 10000), 10000000);
	ck_assert_uint_eq(hubd_health_delay_us(10, 0), 10000000);
	/* Exactly a twentieth: still the interval. */
	ck_assert_uint_eq(hubd_health_delay_us(10, 500000), 10000000);
	/* Under half a second a check never stretches the interval, however short: a 2 s
	 * HealthInterval asked for on purpose keeps its meaning on a slow machine. */
	ck_assert_uint_eq(hubd_health_delay_us(2, 499999), 2000000);
	ck_assert_uint_eq(hubd_health_delay_us(1, 200000), 1000000);
}
END_TEST

START_TEST(health_delay_grows_with_the_cost)
{
	/* A 3 s dump at 10 s would keep a CPU busy 30 % of the time: 60 s instead, 5 %. */
	ck_assert_uint_eq(hubd_health_delay_us(10, 3000000), 60000000);
	ck_assert_uint_eq(hubd_health_delay_us(3600, 3000000), 3600000000ULL);
	ck_assert_uint_eq(hubd_health_delay_us(2, 500000), 10000000);
	/* No overflow for an absurd cost. */
	ck_assert_uint_eq(hubd_health_delay_us(10, UINT64_MAX / 2), 86400ULL * 1000000ULL);
	ck_assert_uint_eq(hubd_health_delay_us(10, 86400ULL * 1000000ULL / 20 + 1),
			  86400ULL * 1000000ULL);
}
END_TEST

START_TEST(health_share_stays_under_a_twentieth)
{
	static const uint64_t costs[] = {0, 1, 499999, 500001, 2700000, 6400000, 60000000};

	/* At the default interval, a check and then the wait: the check's share of that period
	 * stays at 5 % or less. */
	for (size_t i = 0; i < sizeof(costs) / sizeof(costs[0]); i++) {
		uint64_t delay = hubd_health_delay_us(HUBD_DEFAULT_HEALTH, costs[i]);

		ck_assert_msg(costs[i] * 20 <= costs[i] + delay,
			      "cost %llu us: next check in %llu us", (unsigned long long)costs[i],
			      (unsigned long long)delay);
	}
}
END_TEST

START_TEST(health_next_reads_the_config_and_the_last_cost)
{
	struct hubd h = {0};
	struct hubd_config cfg = {0};

	/* No config yet: the default interval. */
	ck_assert_uint_eq(hubd_health_next_us(&h), HUBD_DEFAULT_HEALTH * 1000000ULL);
	cfg.iface.health_interval = 60;
	h.cfg = &cfg;
	ck_assert_uint_eq(hubd_health_next_us(&h), 60000000);
	h.health_cost_us = 7000000;
	ck_assert_uint_eq(hubd_health_next_us(&h), 140000000);
}
END_TEST

/* ---- a few peers' routes ---- */

static const struct hubd_iface_conf *iface(void)
{
	static struct hubd_iface_conf ic;
	static struct hubd_prefix addr;

	if (!ic.n_addresses) {
		ck_assert_int_eq(hubd_prefix_parse("10.100.0.1/16", &addr, NULL), 0);
		ic.addresses = &addr;
		ic.n_addresses = 1;
	}
	return &ic;
}

/* A peer routing the comma-separated prefixes (masked, as the parser leaves them). */
static struct hubd_peer_conf peer(const char *name, const char *prefixes)
{
	struct hubd_peer_conf p = {.name = (char *)name};
	char *copy = strdup(prefixes), *save = NULL;

	ck_assert_ptr_nonnull(copy);
	p.allowed_ips = calloc(8, sizeof(*p.allowed_ips));
	ck_assert_ptr_nonnull(p.allowed_ips);
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		ck_assert_int_eq(hubd_prefix_parse(t, &p.allowed_ips[p.n_allowed_ips], NULL), 0);
		hubd_prefix_mask(&p.allowed_ips[p.n_allowed_ips++]);
	}
	free(copy);
	return p;
}

static char *prefixes_text(const struct hubd_prefix *v, size_t n)
{
	static char out[512];
	char buf[HUBD_PREFIX_STRLEN];

	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		hubd_prefix_format(&v[i], buf, sizeof(buf));
		strcat(out, i ? " " : "");
		strcat(out, buf);
	}
	return out;
}

struct delta_case {
	const char *name;
	const char *old[3];   /* the running versions' prefixes, NULL: a new file */
	const char *fresh[3]; /* as read now, NULL: the file is gone */
	bool changed[3];
	const char *del, *add;
};

static const struct delta_case delta_cases[] = {
    {"a new peer inside the subnet needs no route", {NULL}, {"10.100.3.4/32"}, {true}, "", ""},
    {"a new peer outside it needs its route",
     {NULL},
     {"10.101.0.9/32, fd00::9/128"},
     {true},
     "",
     "10.101.0.9/32 fd00::9/128"},
    {"a removed peer's routes go",
     {"10.101.0.9/32, 10.100.0.9/32"},
     {NULL},
     {true},
     "10.101.0.9/32",
     ""},
    {"an edit keeps the routes both versions have",
     {"10.101.0.9/32, 192.168.1.0/24"},
     {"10.101.0.9/32, 192.168.2.0/24"},
     {true},
     "192.168.1.0/24",
     "192.168.2.0/24"},
    {"an unchanged file is left alone", {"10.101.0.9/32"}, {"10.101.0.9/32"}, {false}, "", ""},
    {"a prefix moving between two changed peers stays",
     {"10.101.0.9/32", NULL},
     {NULL, "10.101.0.9/32, 10.102.0.1/32"},
     {true, true},
     "",
     "10.102.0.1/32"},
};

START_TEST(route_delta_of_changed_peers)
{
	const struct delta_case *c = &delta_cases[_i];
	struct hubd_peer_conf olds[3] = {{0}}, fresh[3] = {{0}};
	const struct hubd_peer_conf *old[3] = {NULL};
	struct hubd_route_delta d = {0};
	size_t n = 0;

	for (; n < 3 && (c->old[n] || c->fresh[n]); n++) {
		if (c->old[n]) {
			olds[n] = peer("p", c->old[n]);
			old[n] = &olds[n];
		}
		if (c->fresh[n])
			fresh[n] = peer("p", c->fresh[n]);
	}
	ck_assert_int_eq(hubd_route_delta_make(iface(), n, old, fresh, c->changed, &d), 0);
	ck_assert_msg(!strcmp(prefixes_text(d.del, d.n_del), c->del), "%s: removes '%s'", c->name,
		      prefixes_text(d.del, d.n_del));
	ck_assert_msg(!strcmp(prefixes_text(d.add, d.n_add), c->add), "%s: adds '%s'", c->name,
		      prefixes_text(d.add, d.n_add));
	hubd_route_delta_free(&d);
	for (size_t i = 0; i < 3; i++) {
		free(olds[i].allowed_ips);
		free(fresh[i].allowed_ips);
	}
}
END_TEST

/* ---- the index of running prefixes (peer-index.c), against a scan ---- */

#define IX_PEERS 200

/* A random prefix from a small space, so that nesting and equal prefixes are common. */
static struct hubd_prefix random_prefix(void)
{
	struct hubd_prefix p = {0};

	if (rand() % 4) {
		p.family = AF_INET;
		p.addr.in.s_addr = htonl(0x0a000000u | (uint32_t)(rand() % 4096));
		p.cidr = (uint8_t)(rand() % 7 ? 20 + rand() % 13 : rand() % 20);
	} else {
		p.family = AF_INET6;
		p.addr.in6.s6_addr[0] = 0xfd;
		p.addr.in6.s6_addr[15] = (uint8_t)rand();
		p.addr.in6.s6_addr[8] = (uint8_t)(rand() % 2);
		p.cidr = (uint8_t)(rand() % 5 ? 120 + rand() % 9 : rand() % 120);
	}
	hubd_prefix_mask(&p);
	return p;
}

static void random_peer(struct hubd_peer_conf *c, unsigned id)
{
	char name[32];

	snprintf(name, sizeof(name), "p%u", id);
	c->name = strdup(name);
	c->n_allowed_ips = (size_t)(rand() % 4); /* none, one, or a few, a twice-listed one too */
	c->allowed_ips = calloc(c->n_allowed_ips + 1, sizeof(*c->allowed_ips));
	for (size_t j = 0; j < c->n_allowed_ips; j++)
		c->allowed_ips[j] = j && rand() % 8 == 0 ? c->allowed_ips[0] : random_prefix();
}

/* A new version of old with the same AllowedIPs, and one more now and then. */
static void same_prefixes(struct hubd_peer_conf *c, const struct hubd_peer_conf *old, unsigned id)
{
	char name[32];

	snprintf(name, sizeof(name), "p%u", id);
	c->name = strdup(name);
	c->n_allowed_ips = old->n_allowed_ips + (rand() % 3 == 0);
	c->allowed_ips = calloc(c->n_allowed_ips + 1, sizeof(*c->allowed_ips));
	for (size_t j = 0; j < old->n_allowed_ips; j++)
		c->allowed_ips[j] = old->allowed_ips[j];
	if (c->n_allowed_ips > old->n_allowed_ips)
		c->allowed_ips[old->n_allowed_ips] = random_prefix();
}

static void drop_peer(struct hubd_peer_conf *c)
{
	free(c->name);
	free(c->allowed_ips);
	memset(c, 0, sizeof(*c));
}

static bool skipped(const char *owner, void *user)
{
	const bool *skip = user;

	return skip[atoi(owner + 1) % IX_PEERS];
}

/* The index's answer for q holds what a scan of every peer finds. */
static void check_query(const struct hubd_pindex *x, const struct hubd_peer_conf *v,
			const struct hubd_prefix *q, bool *skip)
{
	const char *o = hubd_pindex_overlap(x, q, skipped, skip);
	bool any = false, ok = false;

	for (size_t i = 0; i < IX_PEERS; i++)
		for (size_t j = 0; v[i].name && j < v[i].n_allowed_ips; j++) {
			if (!hubd_prefix_overlap(q, &v[i].allowed_ips[j]) ||
			    skipped(v[i].name, skip))
				continue;
			any = true;
			ok = ok || o == v[i].name; /* the very string: owners are by identity */
		}
	ck_assert_msg(any == (o != NULL), "found %s, a scan %s", o ? o : "none",
		      any ? "finds one" : "none");
	ck_assert(!o || ok);
}

START_TEST(prefix_index_answers_as_a_scan)
{
	struct hubd_peer_conf v[IX_PEERS] = {0};
	struct hubd_config cfg = {0};
	struct hubd_pindex x = {0};
	unsigned next = 0;

	srand(2112 + (unsigned)_i);
	for (size_t i = 0; i < IX_PEERS; i++)
		random_peer(&v[i], next++ * IX_PEERS + (unsigned)i);
	cfg.peers = v;
	cfg.n_peers = IX_PEERS;
	ck_assert_int_eq(hubd_pindex_build(&x, &cfg), 0);
	for (int round = 0; round < 40; round++) {
		const struct hubd_peer_conf *gone[8], *came[8];
		struct hubd_peer_conf old[8];
		size_t at[8], k = (size_t)(rand() % 8), g = 0, n_came = 0, total = 0;
		bool skip[IX_PEERS];

		/* Replace, add or drop a few peers, each by its slot. */
		for (size_t i = 0; i < k; i++) {
			at[i] = (size_t)(rand() % IX_PEERS);
			for (size_t j = 0; j < i; j++)
				if (at[j] == at[i])
					at[i] = SIZE_MAX;
		}
		for (size_t i = 0; i < k; i++) {
			if (at[i] == SIZE_MAX)
				continue;
			old[g] = v[at[i]];
			gone[g] = &old[g];
			g++;
			memset(&v[at[i]], 0, sizeof(v[0]));
			if (rand() % 2)
				random_peer(&v[at[i]], next++ * IX_PEERS + (unsigned)at[i]);
			else if (rand() %
				 2) /* an edit that keeps its AllowedIPs: a new name string */
				same_prefixes(&v[at[i]], &old[g - 1],
					      next++ * IX_PEERS + (unsigned)at[i]);
			if (v[at[i]].name)
				came[n_came++] = &v[at[i]];
		}
		ck_assert_int_eq(hubd_pindex_update(&x, gone, g, came, n_came), 0);
		for (size_t i = 0; i < g; i++)
			drop_peer(&old[i]);
		for (size_t i = 0; i < IX_PEERS; i++) {
			skip[i] = rand() % 3 == 0;
			total += v[i].name ? v[i].n_allowed_ips : 0;
		}
		ck_assert_uint_eq(x.n, total);
		for (int t = 0; t < 50; t++) {
			struct hubd_prefix q = random_prefix();

			check_query(&x, v, &q, skip);
		}
	}
	hubd_pindex_clear(&x);
	for (size_t i = 0; i < IX_PEERS; i++)
		drop_peer(&v[i]);
}
END_TEST

/* ---- our own echoes, dropped ---- */

/* Send a netlink header with port pid through a datagram pair whose receiver has the filter. */
static bool passes(int fds[2], uint32_t pid)
{
	struct nlmsghdr nlh = {.nlmsg_len = sizeof(nlh), .nlmsg_type = 24, .nlmsg_pid = pid};
	struct nlmsghdr got;

	ck_assert_int_eq(send(fds[0], &nlh, sizeof(nlh), 0), (ssize_t)sizeof(nlh));
	if (recv(fds[1], &got, sizeof(got), MSG_DONTWAIT) != (ssize_t)sizeof(got))
		return false;
	ck_assert_uint_eq(got.nlmsg_pid, pid);
	return true;
}

START_TEST(echo_filter_drops_only_our_port)
{
	int fds[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, fds), 0);
	ck_assert_int_eq(hubd_rtnl_filter_port(fds[1], 0x12345678), 0);
	ck_assert(!passes(fds, 0x12345678)); /* ours */
	ck_assert(passes(fds, 0));	     /* the kernel's own */
	ck_assert(passes(fds, 0x78563412));  /* someone else's, our port's bytes swapped */
	ck_assert(passes(fds, 4242));
	/* Port 0 would drop the kernel's own: refused. */
	ck_assert_int_eq(hubd_rtnl_filter_port(fds[1], 0), -EINVAL);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scale");
	TCase *t = tcase_create("health");

	tcase_add_test(t, health_delay_is_the_interval_on_a_small_hub);
	tcase_add_test(t, health_delay_grows_with_the_cost);
	tcase_add_test(t, health_share_stays_under_a_twentieth);
	tcase_add_test(t, health_next_reads_the_config_and_the_last_cost);
	suite_add_tcase(s, t);
	t = tcase_create("index");
	tcase_add_loop_test(t, prefix_index_answers_as_a_scan, 0, 8);
	suite_add_tcase(s, t);
	t = tcase_create("routes");
	tcase_add_loop_test(t, route_delta_of_changed_peers, 0,
			    sizeof(delta_cases) / sizeof(delta_cases[0]));
	tcase_add_test(t, echo_filter_drops_only_our_port);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
