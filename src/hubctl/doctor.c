/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl doctor: gather the config, the daemon's status, the kernel's links,
 * addresses and routes (libnl-route-3), a few sysctls and the whole nftables
 * ruleset (libnftables, JSON), then run the rules of doctor-*.c and print one
 * line per check. Everything here reads; nothing is changed.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <netdb.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "doctor.h"
#include "hubctl-internal.h"

#define USAGE "doctor [--json]"

/* --- gathering --- */

static int read_sysctl(const char *path)
{
	FILE *f = fopen(path, "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void gather_sysctls(const char *link, struct doctor_net *net)
{
	char path[PATH_MAX];

	net->ip_forward = read_sysctl("/proc/sys/net/ipv4/ip_forward");
	net->ip6_forward = read_sysctl("/proc/sys/net/ipv6/conf/all/forwarding");
	net->rp_filter_all = read_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter");
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", link);
	net->rp_filter_link = read_sysctl(path);
}

static bool to_prefix(struct nl_addr *a, struct hubd_prefix *ret)
{
	int family = a ? nl_addr_get_family(a) : 0;
	size_t len = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

	if (!len || nl_addr_get_len(a) != len)
		return false;
	*ret = (struct hubd_prefix){.family = family, .cidr = (uint8_t)nl_addr_get_prefixlen(a)};
	memcpy(&ret->addr, nl_addr_get_binary_addr(a), len);
	return true;
}

static void gather_addrs(struct nl_sock *sk, struct nl_cache *links, int link_index,
			 struct doctor_net *net)
{
	struct nl_cache *cache;
	struct nl_object *o;

	if (rtnl_addr_alloc_cache(sk, &cache) < 0)
		return;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct hubd_prefix p;
		int idx = rtnl_addr_get_ifindex(a);
		void *grown;

		if (!to_prefix(rtnl_addr_get_local(a), &p))
			continue;
		p.cidr = (uint8_t)rtnl_addr_get_prefixlen(a);
		if (idx == link_index) {
			grown = realloc(net->link_addrs, (net->n_link_addrs + 1) * sizeof(p));
			if (grown) {
				net->link_addrs = grown;
				net->link_addrs[net->n_link_addrs++] = p;
			}
			continue;
		}
		if (rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE)
			continue; /* lo's, link-local */
		grown = realloc(net->addrs, (net->n_addrs + 1) * sizeof(*net->addrs));
		if (!grown)
			continue;
		net->addrs = grown;
		net->addrs[net->n_addrs].prefix = p;
		rtnl_link_i2name(links, idx, net->addrs[net->n_addrs].dev, IF_NAMESIZE);
		net->n_addrs++;
	}
	nl_cache_free(cache);
}

static bool route_entry(struct rtnl_route *rt, struct nl_cache *links, struct doctor_route *ret)
{
	struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
	int type = rtnl_route_get_type(rt);

	if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
	    (type != RTN_UNICAST && type != RTN_BLACKHOLE && type != RTN_UNREACHABLE &&
	     type != RTN_PROHIBIT))
		return false;
	/* A default route's destination has no address bytes. */
	if (nl_addr_get_len(rtnl_route_get_dst(rt)) == 0 &&
	    nl_addr_get_prefixlen(rtnl_route_get_dst(rt)) == 0)
		ret->dst = (struct hubd_prefix){.family = rtnl_route_get_family(rt)};
	else if (!to_prefix(rtnl_route_get_dst(rt), &ret->dst))
		return false;
	ret->dev[0] = '\0';
	if (nh && type == RTN_UNICAST)
		rtnl_link_i2name(links, rtnl_route_nh_get_ifindex(nh), ret->dev, IF_NAMESIZE);
	ret->metric = rtnl_route_get_priority(rt);
	return true;
}

static void gather_routes(struct nl_sock *sk, struct nl_cache *links, struct doctor_net *net)
{
	struct nl_cache *cache;
	struct nl_object *o;
	uint32_t best_metric = UINT32_MAX;

	if (rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache) < 0)
		return;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct doctor_route rt;
		void *grown;

		if (!route_entry((struct rtnl_route *)o, links, &rt))
			continue;
		/* The uplink: the IPv4 default route with the lowest metric. */
		if (rt.dst.family == AF_INET && rt.dst.cidr == 0 && rt.dev[0] &&
		    rt.metric < best_metric) {
			struct rtnl_link *l = rtnl_link_get_by_name(links, rt.dev);

			best_metric = rt.metric;
			memcpy(net->uplink, rt.dev, sizeof(net->uplink));
			net->uplink_mtu = l ? rtnl_link_get_mtu(l) : 0;
			rtnl_link_put(l);
		}
		grown = realloc(net->routes, (net->n_routes + 1) * sizeof(rt));
		if (!grown)
			continue;
		net->routes = grown;
		net->routes[net->n_routes++] = rt;
	}
	nl_cache_free(cache);
}

static void gather_kernel(const char *name, struct doctor_net *net)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *links = NULL;
	struct rtnl_link *link;
	int index = 0;

	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0 ||
	    rtnl_link_alloc_cache(sk, AF_UNSPEC, &links) < 0) {
		nl_socket_free(sk);
		return;
	}
	link = rtnl_link_get_by_name(links, name);
	if (link) {
		net->link_exists = true;
		net->link_up = rtnl_link_get_flags(link) & IFF_UP;
		net->link_mtu = rtnl_link_get_mtu(link);
		index = rtnl_link_get_ifindex(link);
		rtnl_link_put(link);
	}
	gather_addrs(sk, links, index, net);
	gather_routes(sk, links, net);
	nl_cache_free(links);
	nl_socket_free(sk);
}

/* `nft -j list ruleset` through libnftables. */
static void gather_ruleset(struct doctor_net *net)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *out, *err;

	if (!ctx) {
		snprintf(net->ruleset_error, sizeof(net->ruleset_error), "out of memory");
		return;
	}
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_STATELESS);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, "list ruleset") != 0) {
		err = nft_ctx_get_error_buffer(ctx);
		snprintf(net->ruleset_error, sizeof(net->ruleset_error), "%.*s",
			 err ? (int)strcspn(err, "\n") : 0, err ? err : "");
	} else {
		out = nft_ctx_get_output_buffer(ctx);
		net->ruleset = out ? json_tokener_parse(out) : NULL;
		if (!net->ruleset)
			snprintf(net->ruleset_error, sizeof(net->ruleset_error),
				 "the listing is not JSON");
	}
	nft_ctx_free(ctx);
}

static void net_free(struct doctor_net *net)
{
	free(net->link_addrs);
	free(net->addrs);
	free(net->routes);
	json_object_put(net->ruleset);
	free(net->handshakes);
}

static int collect_handshake(const struct wgnl_device *dev, const struct wgnl_peer *peer,
			     void *user)
{
	struct doctor_net *net = user;
	struct doctor_handshake *grown;

	(void)dev;
	if (!peer) {
		net->n_handshakes = 0; /* a restarted dump starts afresh */
		return 0;
	}
	grown = realloc(net->handshakes, (net->n_handshakes + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	net->handshakes = grown;
	memcpy(grown[net->n_handshakes].public_key, peer->public_key, WGNL_KEY_LEN);
	grown[net->n_handshakes++].last = peer->last_handshake_sec;
	return 0;
}

/* The kernel's handshakes: the same as `wg show wg0 latest-handshakes`, with no daemon. */
static void gather_handshakes(const char *name, struct doctor_net *net)
{
	struct wgnl *nl;

	if (!net->link_exists || wgnl_open(&nl) < 0)
		return;
	net->handshakes_known =
	    wgnl_walk_device(nl, name, WGNL_DEV_NO_ALLOWEDIPS, collect_handshake, net) >= 0;
	wgnl_close(nl);
}

static const char *resolve(const char *host)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
	int e = getaddrinfo(host, NULL, &hints, &res);

	if (res)
		freeaddrinfo(res);
	return e ? gai_strerror(e) : NULL;
}

/* --- the checks that need the daemon or only the config --- */

static void check_daemon(const struct hubctl_opts *o, const char *dir, struct json_object **status,
			 struct doctor_report *r)
{
	struct json_object *reply = NULL, *ok;
	char want[PATH_MAX];
	const char *got;
	int e = hubctl_request(o, "status", &reply);

	if (e < 0) {
		doctor_add(r, "daemon", DOCTOR_FAIL,
			   "hubd does not answer on %s (%s); start it: "
			   "systemctl start hubd",
			   o->socket_path, strerror(-e));
		return;
	}
	if (json_object_object_get_ex(reply, "ok", &ok) && !json_object_get_boolean(ok)) {
		const char *err = hubctl_json_str(reply, "error");

		doctor_add(r, "daemon", DOCTOR_FAIL, "hubd answers but %s; see journalctl -u hubd",
			   err ? err : "its status failed");
		json_object_put(reply);
		return;
	}
	got = hubctl_json_str(reply, "config_dir");
	if (got && realpath(dir, want) && strcmp(got, want)) {
		/* Its peers are another config's: the handshakes check must not use them. */
		doctor_add(r, "daemon", DOCTOR_WARN,
			   "the hubd on %s runs %s, not %s; pass the matching --socket",
			   o->socket_path, got, want);
		json_object_put(reply);
		return;
	}
	doctor_add(r, "daemon", DOCTOR_OK, "hubd answers on %s", o->socket_path);
	*status = reply;
}

static void check_config(const char *dir, int loaded, const struct hubd_config *cfg,
			 const struct hubd_diags *d, struct doctor_report *r)
{
	char *text = NULL;
	size_t len = 0, errors = hubd_diags_errors(d);
	FILE *f;

	if (loaded < 0) {
		doctor_add(r, "config", DOCTOR_FAIL, "cannot read %s (%s); hubctl init makes one",
			   dir, strerror(-loaded));
		return;
	}
	if (!d->n) {
		doctor_add(r, "config", DOCTOR_OK, "%s: interface %s, %zu peer%s", dir,
			   cfg->iface.name, cfg->n_peers, cfg->n_peers == 1 ? "" : "s");
		return;
	}
	f = open_memstream(&text, &len);
	if (f) {
		hubd_diags_print(d, f);
		fclose(f);
	}
	/* One line: the diagnostics, already "file:line: message" without any line's text. */
	for (char *c = text; c && *c; c++)
		if (*c == '\n')
			*c = c[1] ? ';' : '\0';
	doctor_add(r, "config", errors ? DOCTOR_FAIL : DOCTOR_WARN, "%s; fix %s (hubctl check)",
		   text ? text : "diagnostics", errors ? "them" : "these");
	free(text);
}

/* --- output --- */

static void print_text(const struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		printf("%-4s  %-16s  %s\n", doctor_sev_name(r->items[i].sev), r->items[i].id,
		       r->items[i].msg ? r->items[i].msg : "(out of memory)");
}

static void print_json(const struct doctor_report *r)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (size_t i = 0; i < r->n; i++) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "id", json_object_new_string(r->items[i].id));
		json_object_object_add(c, "status",
				       json_object_new_string(r->items[i].sev == DOCTOR_OK ? "ok"
							      : r->items[i].sev == DOCTOR_WARN
								  ? "warn"
								  : "fail"));
		json_object_object_add(
		    c, "message", json_object_new_string(r->items[i].msg ? r->items[i].msg : ""));
		json_object_array_add(a, c);
	}
	json_object_object_add(o, "checks", a);
	hubctl_print_json(o);
	json_object_put(o);
}

static void run_checks(const struct hubd_config *cfg, struct json_object *status,
		       struct doctor_report *r)
{
	struct doctor_net net = {0};

	gather_sysctls(cfg->iface.name, &net);
	gather_kernel(cfg->iface.name, &net);
	gather_ruleset(&net);
	gather_handshakes(cfg->iface.name, &net);
	doctor_check_link(cfg, &net, r);
	doctor_check_forwarding(cfg, &net, r);
	doctor_check_routes(cfg, &net, r);
	doctor_check_firewall(cfg, &net, r);
	doctor_check_return_path(cfg, &net, r);
	doctor_check_rp_filter(cfg, &net, r);
	doctor_check_mtu(cfg, &net, r);
	doctor_check_handshakes(cfg, &net, status, (int64_t)time(NULL), r);
	doctor_check_endpoints(cfg, resolve, r);
	doctor_check_keepalive(cfg, r);
	doctor_check_public_endpoint(cfg, r);
	net_free(&net);
}

int hubctl_doctor(const struct hubctl_opts *o, int argc, char **argv)
{
	const char *dir = o->config_dir ? o->config_dir : HUBD_DEFAULT_CONFIG_DIR;
	struct doctor_report r = {0};
	struct hubd_diags diags = {0};
	struct hubd_config *cfg = NULL;
	struct json_object *status = NULL;
	bool failed = false;
	int loaded;

	if (hubctl_extra_args(argc, argv, USAGE))
		return HUBCTL_EXIT_ERROR;
	check_daemon(o, dir, &status, &r);
	loaded = hubd_config_load(dir, &cfg, &diags);
	check_config(dir, loaded, cfg, &diags, &r);
	if (loaded >= 0)
		run_checks(cfg, status, &r);
	if (o->json)
		print_json(&r);
	else
		print_text(&r);
	for (size_t i = 0; i < r.n; i++)
		failed |= r.items[i].sev == DOCTOR_FAIL;
	doctor_report_free(&r);
	json_object_put(status);
	hubd_config_free(cfg);
	hubd_diags_free(&diags);
	return failed ? HUBCTL_EXIT_ERROR : HUBCTL_EXIT_OK;
}
