/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl doctor: the rules on the machine's network state (link, forwarding,
 * routes, firewall, return path, rp_filter, MTU). Pure: they read the config
 * and what doctor.c gathered into struct doctor_net, and append one line each.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

/* WireGuard's overhead over IPv6 (40 IP + 8 UDP + 32 WireGuard); over IPv4 it is 60. */
#define WG_OVERHEAD 80
#define MAX_DROPS   8
#define MSG_MAX	    1024

/* A growing message: "a, b, c". */
struct msg {
	char buf[MSG_MAX];
	size_t n; /* items appended */
};

static void msg_add(struct msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_add(struct msg *m, const char *fmt, ...)
{
	size_t len = strlen(m->buf);
	va_list ap;

	if (len + 3 >= sizeof(m->buf))
		return;
	if (m->n++)
		len += (size_t)snprintf(m->buf + len, sizeof(m->buf) - len, ", ");
	va_start(ap, fmt);
	vsnprintf(m->buf + len, sizeof(m->buf) - len, fmt, ap);
	va_end(ap);
}

static const char *fmt_prefix(const struct hubd_prefix *p, char buf[HUBD_PREFIX_STRLEN])
{
	hubd_prefix_format(p, buf, HUBD_PREFIX_STRLEN);
	return buf;
}

/* The interface's Address prefixes, masked: the tunnel subnets. */
static bool in_tunnel(const struct hubd_config *cfg, const struct hubd_prefix *p)
{
	for (size_t i = 0; i < cfg->iface.n_addresses; i++) {
		struct hubd_prefix net = cfg->iface.addresses[i];

		hubd_prefix_mask(&net);
		if (hubd_prefix_contains(&net, p))
			return true;
	}
	return false;
}

static const struct hubd_prefix *tunnel_net(const struct hubd_config *cfg, int family,
					    struct hubd_prefix *buf)
{
	for (size_t i = 0; i < cfg->iface.n_addresses; i++)
		if (cfg->iface.addresses[i].family == family) {
			*buf = cfg->iface.addresses[i];
			hubd_prefix_mask(buf);
			return buf;
		}
	return NULL;
}

bool doctor_peer_is_site(const struct hubd_config *cfg, const struct hubd_peer_conf *p)
{
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		if (!in_tunnel(cfg, &p->allowed_ips[i]))
			return true;
	return false;
}

bool doctor_is_gateway(const struct hubd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (cfg->peers[i].endpoint_host)
			return true;
	return false;
}

void doctor_check_link(const struct hubd_config *cfg, const struct doctor_net *net,
		       struct doctor_report *r)
{
	const char *name = cfg->iface.name;
	struct msg m = {0};
	char b[HUBD_PREFIX_STRLEN];

	if (!net->link_exists) {
		doctor_add(r, "link", DOCTOR_FAIL,
			   "%s does not exist; start hubd (systemctl start hubd)", name);
		return;
	}
	if (!net->link_up)
		msg_add(&m, "%s is down", name);
	if (net->link_mtu != cfg->iface.mtu)
		msg_add(&m, "%s has MTU %u, the config says %u", name, net->link_mtu,
			cfg->iface.mtu);
	for (size_t i = 0; i < cfg->iface.n_addresses; i++) {
		const struct hubd_prefix *a = &cfg->iface.addresses[i];
		bool found = false;

		for (size_t k = 0; k < net->n_link_addrs && !found; k++)
			found = hubd_prefix_cmp(a, &net->link_addrs[k]) == 0;
		if (!found)
			msg_add(&m, "%s lacks its Address %s", name, fmt_prefix(a, b));
	}
	if (m.n)
		doctor_add(r, "link", DOCTOR_FAIL, "%s; hubd puts it right: hubctl reload", m.buf);
	else
		doctor_add(r, "link", DOCTOR_OK, "%s is up, MTU %u, with its %zu address%s", name,
			   net->link_mtu, cfg->iface.n_addresses,
			   cfg->iface.n_addresses == 1 ? "" : "es");
}

static bool masquerades(const struct hubd_config *cfg)
{
	return cfg->iface.n_masquerade || cfg->iface.n_masquerade_prefixes;
}

static bool has_ipv6(const struct hubd_config *cfg)
{
	for (size_t i = 0; i < cfg->iface.n_addresses; i++)
		if (cfg->iface.addresses[i].family == AF_INET6)
			return true;
	return false;
}

void doctor_check_forwarding(const struct hubd_config *cfg, const struct doctor_net *net,
			     struct doctor_report *r)
{
	bool v6 = has_ipv6(cfg);

	if (cfg->iface.forward == HUBD_FORWARD_OFF && !masquerades(cfg)) {
		doctor_add(r, "forwarding", DOCTOR_OK, "not needed (Forward = off, no Masquerade)");
		return;
	}
	if (net->ip_forward == 0 || (v6 && net->ip6_forward == 0)) {
		bool both = net->ip_forward == 0 && v6 && net->ip6_forward == 0;

		doctor_add(
		    r, "forwarding", DOCTOR_FAIL,
		    "%s forwarding is off: nothing passes between %s and the LANs; turn it on "
		    "(%s) and find what turned it off",
		    both		   ? "IPv4 and IPv6"
		    : net->ip_forward == 0 ? "IPv4"
					   : "IPv6",
		    cfg->iface.name,
		    net->ip_forward == 0 ? "sysctl -w net.ipv4.ip_forward=1"
					 : "sysctl -w net.ipv6.conf.all.forwarding=1");
		return;
	}
	if (net->ip_forward < 0)
		doctor_add(r, "forwarding", DOCTOR_WARN,
			   "cannot read /proc/sys/net/ipv4/ip_forward; check it by hand");
	else
		doctor_add(r, "forwarding", DOCTOR_OK, "%s forwarding is on",
			   v6 ? "IPv4 and IPv6" : "IPv4");
}

/* Does a route for p go via the link? */
static bool routed_via_link(const struct hubd_config *cfg, const struct doctor_net *net,
			    const struct hubd_prefix *p)
{
	for (size_t i = 0; i < net->n_routes; i++)
		if (!hubd_prefix_cmp(&net->routes[i].dst, p) &&
		    !strcmp(net->routes[i].dev, cfg->iface.name))
			return true;
	return false;
}

/* Routes that take part of p, or all of it, elsewhere than the link. */
static void hijacks(const struct hubd_config *cfg, const struct doctor_net *net,
		    const struct hubd_prefix *p, const char *whose, struct msg *m)
{
	char a[HUBD_PREFIX_STRLEN], b[HUBD_PREFIX_STRLEN];

	for (size_t i = 0; i < net->n_routes; i++) {
		const struct doctor_route *rt = &net->routes[i];

		if (!strcmp(rt->dev, cfg->iface.name) || rt->dst.cidr <= p->cidr ||
		    !hubd_prefix_contains(p, &rt->dst))
			continue;
		msg_add(m, "%s%s%s takes part of %s (%s) away from %s (ip route del %s)",
			fmt_prefix(&rt->dst, a), rt->dev[0] ? " dev " : "", rt->dev,
			fmt_prefix(p, b), whose, cfg->iface.name, a);
	}
}

void doctor_check_routes(const struct hubd_config *cfg, const struct doctor_net *net,
			 struct doctor_report *r)
{
	struct msg m = {0};
	size_t routed = 0;
	char b[HUBD_PREFIX_STRLEN];

	for (size_t i = 0; i < cfg->iface.n_addresses; i++) {
		struct hubd_prefix t = cfg->iface.addresses[i];

		hubd_prefix_mask(&t);
		hijacks(cfg, net, &t, "the tunnel", &m);
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_conf *p = &cfg->peers[i];

		for (size_t k = 0; k < p->n_allowed_ips; k++) {
			const struct hubd_prefix *a = &p->allowed_ips[k];

			if (in_tunnel(cfg, a))
				continue;
			routed++;
			if (!routed_via_link(cfg, net, a))
				msg_add(&m, "no route for %s (%s) via %s", fmt_prefix(a, b),
					p->name, cfg->iface.name);
			hijacks(cfg, net, a, p->name, &m);
		}
	}
	if (m.n)
		doctor_add(r, "routes", DOCTOR_FAIL,
			   "%s; a missing route comes back with hubctl reload", m.buf);
	else
		doctor_add(r, "routes", DOCTOR_OK,
			   "%zu routed prefix%s via %s, none taken elsewhere", routed,
			   routed == 1 ? "" : "es", cfg->iface.name);
}

/* The device that reaches p: the longest route containing it. NULL when none. */
static const char *dev_for(const struct doctor_net *net, const struct hubd_prefix *p)
{
	const struct doctor_route *best = NULL;

	for (size_t i = 0; i < net->n_routes; i++) {
		const struct doctor_route *rt = &net->routes[i];

		if (rt->dev[0] && hubd_prefix_contains(&rt->dst, p) &&
		    (!best || rt->dst.cidr > best->dst.cidr))
			best = rt;
	}
	return best ? best->dev : NULL;
}

/* A LAN behind this machine: where it is, and whether the config masquerades into it. */
struct lan {
	struct hubd_prefix net; /* family 0: unknown (a Masquerade interface without address) */
	const char *dev;
	bool masquerade_conf;
};

#define MAX_LANS 32

static size_t add_lan(struct lan *lans, size_t n, const struct hubd_prefix *p, const char *dev,
		      bool conf)
{
	for (size_t i = 0; i < n; i++)
		if (p && lans[i].net.family && !hubd_prefix_cmp(&lans[i].net, p)) {
			lans[i].masquerade_conf |= conf;
			return n;
		}
	if (n >= MAX_LANS)
		return n;
	lans[n] = (struct lan){.dev = dev, .masquerade_conf = conf};
	if (p)
		lans[n].net = *p;
	return n + 1;
}

/*
 * The LANs behind this machine: Masquerade prefixes, the networks on Masquerade
 * interfaces, and on a gateway with forwarding on, every directly connected network.
 */
static size_t collect_lans(const struct hubd_config *cfg, const struct doctor_net *net,
			   struct lan *lans)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->iface.n_masquerade_prefixes; i++) {
		const struct hubd_prefix *p = &cfg->iface.masquerade_prefixes[i];

		n = add_lan(lans, n, p, dev_for(net, p), true);
	}
	for (size_t i = 0; i < cfg->iface.n_masquerade; i++) {
		const char *mq = cfg->iface.masquerade[i];
		bool any = false;

		for (size_t k = 0; k < net->n_addrs; k++)
			if (!strcmp(net->addrs[k].dev, mq)) {
				struct hubd_prefix p = net->addrs[k].prefix;

				hubd_prefix_mask(&p);
				n = add_lan(lans, n, &p, mq, true);
				any = true;
			}
		if (!any)
			n = add_lan(lans, n, NULL, mq, true);
	}
	if (!doctor_is_gateway(cfg) || net->ip_forward == 0)
		return n;
	for (size_t k = 0; k < net->n_addrs; k++) {
		struct hubd_prefix p = net->addrs[k].prefix;

		hubd_prefix_mask(&p);
		if ((p.family == AF_INET6 && !has_ipv6(cfg)) || in_tunnel(cfg, &p))
			continue;
		n = add_lan(lans, n, &p, net->addrs[k].dev, false);
	}
	return n;
}

/* Would the kernel masquerade tunnel traffic into lan? Without a ruleset, trust the config. */
static bool masqueraded(const struct hubd_config *cfg, const struct doctor_net *net,
			const struct lan *lan)
{
	struct hubd_prefix t;
	struct doctor_probe p = {
	    .family = lan->net.family ? lan->net.family : AF_INET,
	    .iif = cfg->iface.name,
	    .oif = lan->dev,
	    .daddr = lan->net.family ? &lan->net : NULL,
	    .l4proto = 0,
	    .dport = -1,
	};

	p.saddr = tunnel_net(cfg, p.family, &t);
	if (!net->ruleset)
		return lan->masquerade_conf;
	return doctor_fw_masqueraded(net->ruleset, &p);
}

void doctor_check_return_path(const struct hubd_config *cfg, const struct doctor_net *net,
			      struct doctor_report *r)
{
	struct lan lans[MAX_LANS];
	size_t n = collect_lans(cfg, net, lans);
	struct msg bad = {0}, good = {0};
	char b[HUBD_PREFIX_STRLEN], t[HUBD_PREFIX_STRLEN];
	struct hubd_prefix tn;

	for (size_t i = 0; i < n; i++) {
		const char *what = lans[i].net.family ? fmt_prefix(&lans[i].net, b) : "the LAN";
		const char *dev = lans[i].dev ? lans[i].dev : "?";

		if (masqueraded(cfg, net, &lans[i]))
			msg_add(&good, "%s on %s", what, dev);
		else if (lans[i].masquerade_conf)
			msg_add(&bad,
				"%s on %s is in Masquerade but no rule masquerades into it "
				"(hubctl reload)",
				what, dev);
		else
			msg_add(&bad, "%s on %s is not masqueraded", what, dev);
	}
	if (bad.n) {
		const struct hubd_prefix *tp = tunnel_net(cfg, AF_INET, &tn);

		doctor_add(r, "return-path", DOCTOR_FAIL,
			   "%s: its hosts answer through their default router, not through this "
			   "machine; add Masquerade = PREFIX to hubd.conf, or route %s via this "
			   "machine on the LAN's router",
			   bad.buf, tp ? fmt_prefix(tp, t) : "the tunnel subnet");
	} else if (good.n) {
		doctor_add(r, "return-path", DOCTOR_OK, "masqueraded into %s", good.buf);
	} else {
		doctor_add(r, "return-path", DOCTOR_OK, "no LAN behind this machine");
	}
}

void doctor_check_rp_filter(const struct hubd_config *cfg, const struct doctor_net *net,
			    struct doctor_report *r)
{
	const char *name = cfg->iface.name;

	/* The kernel applies the larger of conf/all and conf/DEV; 1 is strict. */
	if (net->rp_filter_all == 1 || net->rp_filter_link == 1)
		doctor_add(
		    r, "rp-filter", DOCTOR_WARN,
		    "strict reverse-path filtering on %s drops traffic that comes back another "
		    "way; use loose mode: sysctl -w net.ipv4.conf.%s.rp_filter=2",
		    net->rp_filter_all == 1 ? "all" : name, net->rp_filter_all == 1 ? "all" : name);
	else
		doctor_add(r, "rp-filter", DOCTOR_OK, "reverse-path filtering is %s",
			   net->rp_filter_all < 0 && net->rp_filter_link < 0	 ? "unknown"
			   : net->rp_filter_all == 2 || net->rp_filter_link == 2 ? "loose"
										 : "off");
}

void doctor_check_mtu(const struct hubd_config *cfg, const struct doctor_net *net,
		      struct doctor_report *r)
{
	uint32_t mtu = net->link_exists ? net->link_mtu : cfg->iface.mtu;

	if (!net->uplink[0] || !net->uplink_mtu) {
		doctor_add(r, "mtu", DOCTOR_OK, "%s MTU %u; no default route to compare with",
			   cfg->iface.name, mtu);
		return;
	}
	if (mtu + WG_OVERHEAD > net->uplink_mtu)
		doctor_add(
		    r, "mtu", DOCTOR_WARN,
		    "%s MTU %u leaves %d bytes under %s's %u, WireGuard needs %d: big packets "
		    "are fragmented or lost; set MTU = %u in hubd.conf",
		    cfg->iface.name, mtu, (int)net->uplink_mtu - (int)mtu, net->uplink,
		    net->uplink_mtu, WG_OVERHEAD, net->uplink_mtu - WG_OVERHEAD);
	else
		doctor_add(r, "mtu", DOCTOR_OK, "%s MTU %u fits under %s's %u", cfg->iface.name,
			   mtu, net->uplink, net->uplink_mtu);
}

/* --- firewall --- */

/* "table ip filter chain FORWARD (its policy drop)", for each chain that drops p. */
static void probe_drops(const struct doctor_net *net, const char *hook,
			const struct doctor_probe *p, const char *what, struct msg *fail,
			struct msg *maybe, bool *docker, char first[192])
{
	struct doctor_fw_drop d[MAX_DROPS];
	int n = doctor_fw_drops(net->ruleset, hook, p, d, MAX_DROPS);

	for (int i = 0; i < n; i++) {
		struct msg *m = d[i].verdict == DOCTOR_FW_DROP ? fail : maybe;

		msg_add(m, "table %s %s chain %s %s %s (%s)", d[i].family, d[i].table, d[i].chain,
			d[i].verdict == DOCTOR_FW_DROP ? "drops" : "may drop", what, d[i].where);
		/* Docker wants its users' rules in DOCKER-USER, which it never flushes. */
		if (doctor_fw_has_chain(net->ruleset, d[i].family, d[i].table, "DOCKER-USER"))
			*docker = true;
		/* The fix names the first chain that surely drops. */
		if (d[i].verdict == DOCTOR_FW_DROP && !first[0])
			snprintf(first, 192, "%s %s %s", d[i].family, d[i].table, d[i].chain);
	}
}

/* Forwarded traffic both ways between the link and out, towards lan. */
static void forward_pair(const struct hubd_config *cfg, const struct doctor_net *net,
			 const char *out, const struct hubd_prefix *lan, int family,
			 struct msg *fail, struct msg *maybe, bool *docker, char first[192])
{
	struct hubd_prefix t;

	const struct hubd_prefix *tn = tunnel_net(cfg, family, &t);
	struct doctor_probe there = {.family = family,
				     .iif = cfg->iface.name,
				     .oif = out,
				     .saddr = tn,
				     .daddr = lan,
				     .dport = -1};
	struct doctor_probe back = {.family = family,
				    .iif = out,
				    .oif = cfg->iface.name,
				    .saddr = lan,
				    .daddr = tn,
				    .dport = -1,
				    .reply = true};
	char what[64];

	snprintf(what, sizeof(what), "new traffic from %s to %s", cfg->iface.name, out);
	probe_drops(net, "forward", &there, what, fail, maybe, docker, first);
	snprintf(what, sizeof(what), "replies from %s to %s", out, cfg->iface.name);
	probe_drops(net, "forward", &back, what, fail, maybe, docker, first);
}

static void check_forward_hook(const struct hubd_config *cfg, const struct doctor_net *net,
			       struct doctor_report *r)
{
	struct msg fail = {0}, maybe = {0}, outs = {0};
	struct lan lans[MAX_LANS];
	size_t n = collect_lans(cfg, net, lans);
	bool docker = false;
	const char *wg = cfg->iface.name;
	char first[192] = "";

	if (cfg->iface.forward == HUBD_FORWARD_OFF && !masquerades(cfg)) {
		doctor_add(r, "firewall-forward", DOCTOR_OK, "not forwarding (Forward = off)");
		return;
	}
	/* A hub forwards between its spokes and to the LANs behind them: wg0 to wg0. */
	if (!doctor_is_gateway(cfg) && cfg->iface.forward != HUBD_FORWARD_OFF && cfg->n_peers) {
		forward_pair(cfg, net, wg, NULL, AF_INET, &fail, &maybe, &docker, first);
		if (has_ipv6(cfg))
			forward_pair(cfg, net, wg, NULL, AF_INET6, &fail, &maybe, &docker, first);
		msg_add(&outs, "%s", wg);
	}
	for (size_t i = 0; i < n; i++) {
		if (!lans[i].dev)
			continue;
		forward_pair(cfg, net, lans[i].dev, lans[i].net.family ? &lans[i].net : NULL,
			     lans[i].net.family ? lans[i].net.family : AF_INET, &fail, &maybe,
			     &docker, first);
		msg_add(&outs, "%s", lans[i].dev);
	}
	if (fail.n && docker)
		doctor_add(
		    r, "firewall-forward", DOCTOR_FAIL,
		    "%s; accept %s's traffic before that (Docker: iptables -I DOCKER-USER -i %s "
		    "-j ACCEPT; iptables -I DOCKER-USER -o %s -m conntrack --ctstate "
		    "RELATED,ESTABLISHED -j ACCEPT)",
		    fail.buf, wg, wg, wg);
	else if (fail.n)
		doctor_add(r, "firewall-forward", DOCTOR_FAIL,
			   "%s; accept %s's traffic before that: nft insert rule %s iifname \"%s\" "
			   "accept; nft insert rule %s oifname \"%s\" ct state established,related "
			   "accept",
			   fail.buf, wg, first, wg, first, wg);
	else if (maybe.n)
		doctor_add(r, "firewall-forward", DOCTOR_WARN,
			   "%s; make sure those rules accept %s's traffic", maybe.buf, wg);
	else
		doctor_add(r, "firewall-forward", DOCTOR_OK,
			   "no base chain drops traffic between %s "
			   "and %s",
			   wg, outs.n ? outs.buf : "its LANs");
}

static void check_input_hook(const struct hubd_config *cfg, const struct doctor_net *net,
			     struct doctor_report *r)
{
	struct msg fail = {0}, maybe = {0};
	bool docker = false;
	uint16_t port = cfg->iface.listen_port;
	char first[192] = "";
	char what[64];
	/* Without a ListenPort, this machine dials out: what comes in are replies. */
	struct doctor_probe p = {.family = AF_INET,
				 .iif = net->uplink[0] ? net->uplink : NULL,
				 .l4proto = IPPROTO_UDP,
				 .dport = port ? port : -1,
				 .reply = port == 0};

	if (port)
		snprintf(what, sizeof(what), "UDP to port %u", port);
	else
		snprintf(what, sizeof(what), "UDP replies to %s", cfg->iface.name);
	probe_drops(net, "input", &p, what, &fail, &maybe, &docker, first);
	if (fail.n && port)
		doctor_add(
		    r, "firewall-input", DOCTOR_FAIL,
		    "%s; accept it before that: nft insert rule %s udp dport %u accept (ufw: "
		    "ufw allow %u/udp; firewalld: firewall-cmd --add-port=%u/udp)",
		    fail.buf, first, port, port, port);
	else if (fail.n)
		doctor_add(r, "firewall-input", DOCTOR_FAIL,
			   "%s; accept replies before that: nft insert rule %s ct state "
			   "established,related accept",
			   fail.buf, first);
	else if (maybe.n)
		doctor_add(r, "firewall-input", DOCTOR_WARN, "%s; make sure those rules accept it",
			   maybe.buf);
	else
		doctor_add(r, "firewall-input", DOCTOR_OK, "no base chain drops %s", what);
}

void doctor_check_firewall(const struct hubd_config *cfg, const struct doctor_net *net,
			   struct doctor_report *r)
{
	if (!net->ruleset) {
		doctor_add(r, "firewall-forward", DOCTOR_WARN,
			   "cannot read the nftables ruleset (%s); run hubctl doctor as root",
			   net->ruleset_error[0] ? net->ruleset_error : "no listing");
		doctor_add(r, "firewall-input", DOCTOR_WARN,
			   "cannot read the nftables ruleset; run hubctl doctor as root");
		return;
	}
	check_forward_hook(cfg, net, r);
	check_input_hook(cfg, net, r);
}
