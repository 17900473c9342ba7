/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl doctor's rules. The firewall rules run on real `nft -j list ruleset`
 * listings of Docker's, ufw's and firewalld's rules (tests/unit/doctor/, made
 * in a network namespace by make-fixtures.sh, which says how each was made);
 * the other rules on canned configs and machine state.
 */
#include <arpa/inet.h>
#include <check.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

/* --- fixtures --- */

static struct json_object *fixture(const char *name)
{
	char path[512];
	struct json_object *o;

	snprintf(path, sizeof(path), "%s/%s.json", DOCTOR_FIXTURES, name);
	o = json_object_from_file(path);
	ck_assert_msg(o, "cannot read %s", path);
	return o;
}

static struct hubd_prefix pfx(const char *s)
{
	struct hubd_prefix p;

	ck_assert_int_eq(hubd_prefix_parse(s, &p, NULL), 0);
	return p;
}

static struct hubd_prefix tun4, lan4, tun6;

static void setup(void)
{
	tun4 = pfx("10.8.0.0/24");
	lan4 = pfx("192.168.1.0/24");
	tun6 = pfx("fd00:8::/64");
}

enum probe_kind { FWD_NEW_WG, FWD_REPLY_WG, FWD_NEW_ETH, FWD_REPLY_ETH, IN_UDP, IN_UDP6 };

static struct doctor_probe probe(enum probe_kind k)
{
	switch (k) {
	case FWD_NEW_WG:
		return (struct doctor_probe){AF_INET, "wg0", "wg0", &tun4, &lan4, 0, -1, false};
	case FWD_REPLY_WG:
		return (struct doctor_probe){AF_INET, "wg0", "wg0", &lan4, &tun4, 0, -1, true};
	case FWD_NEW_ETH:
		return (struct doctor_probe){AF_INET, "wg0", "eth0", &tun4, &lan4, 0, -1, false};
	case FWD_REPLY_ETH:
		return (struct doctor_probe){AF_INET, "eth0", "wg0", &lan4, &tun4, 0, -1, true};
	case IN_UDP:
		return (struct doctor_probe){AF_INET, "eth0",	   NULL,  NULL,
					     NULL,    IPPROTO_UDP, 51820, false};
	case IN_UDP6:
	default:
		return (struct doctor_probe){AF_INET6, "eth0",	    NULL,  NULL,
					     &tun6,    IPPROTO_UDP, 51820, false};
	}
}

/* What each listing does to each probe: the chain that drops it, or none. */
static const struct fw_case {
	const char *fixture;
	const char *hook;
	enum probe_kind probe;
	int n; /* chains that drop it, or may */
	enum doctor_fw_verdict verdict;
	const char *family, *table, *chain, *where;
} fw_cases[] = {
    /* Docker: FORWARD policy DROP; nothing for wg0 in DOCKER-USER. */
    {"docker", "forward", FWD_NEW_WG, 1, DOCTOR_FW_DROP, "ip", "filter", "FORWARD", "policy drop"},
    {"docker", "forward", FWD_REPLY_WG, 1, DOCTOR_FW_DROP, "ip", "filter", "FORWARD",
     "policy drop"},
    {"docker", "forward", FWD_NEW_ETH, 1, DOCTOR_FW_DROP, "ip", "filter", "FORWARD", "policy drop"},
    {"docker", "input", IN_UDP, 0, 0, NULL, NULL, NULL, NULL},
    /* The fix doctor prints, in DOCKER-USER. */
    {"docker-user", "forward", FWD_NEW_WG, 0, 0, NULL, NULL, NULL, NULL},
    {"docker-user", "forward", FWD_REPLY_WG, 0, 0, NULL, NULL, NULL, NULL},
    /* ufw: deny incoming, deny routed, allow 22/tcp. */
    {"ufw", "input", IN_UDP, 1, DOCTOR_FW_DROP, "ip", "filter", "INPUT", "policy drop"},
    {"ufw", "input", IN_UDP6, 1, DOCTOR_FW_DROP, "ip6", "filter", "INPUT", "policy drop"},
    {"ufw", "forward", FWD_NEW_ETH, 1, DOCTOR_FW_DROP, "ip", "filter", "FORWARD", "policy drop"},
    {"ufw", "forward", FWD_REPLY_ETH, 0, 0, NULL, NULL, NULL, NULL},
    /* ufw allow 51820/udp, ufw route allow in/out on wg0. */
    {"ufw-allow", "input", IN_UDP, 0, 0, NULL, NULL, NULL, NULL},
    {"ufw-allow", "forward", FWD_NEW_ETH, 0, 0, NULL, NULL, NULL, NULL},
    {"ufw-allow", "forward", FWD_REPLY_ETH, 0, 0, NULL, NULL, NULL, NULL},
    /* firewalld, public zone: the final reject of its base chains. */
    {"firewalld", "input", IN_UDP, 1, DOCTOR_FW_DROP, "inet", "firewalld", "filter_INPUT",
     "(reject)"},
    {"firewalld", "forward", FWD_NEW_WG, 1, DOCTOR_FW_DROP, "inet", "firewalld", "filter_FORWARD",
     "(reject)"},
    {"firewalld", "forward", FWD_REPLY_WG, 0, 0, NULL, NULL, NULL, NULL},
    /* --add-port=51820/udp, wg0 in the trusted zone. */
    {"firewalld-open", "input", IN_UDP, 0, 0, NULL, NULL, NULL, NULL},
    {"firewalld-open", "forward", FWD_NEW_WG, 0, 0, NULL, NULL, NULL, NULL},
    {"firewalld-open", "forward", FWD_NEW_ETH, 0, 0, NULL, NULL, NULL, NULL},
    /* An inet input chain, policy drop, that accepts ssh only. */
    {"nft-input-drop", "input", IN_UDP, 1, DOCTOR_FW_DROP, "inet", "filter", "input",
     "policy drop"},
    {"nft-input-drop", "input", IN_UDP6, 1, DOCTOR_FW_DROP, "inet", "filter", "input",
     "policy drop"},
    {"nft-input-drop", "forward", FWD_NEW_WG, 0, 0, NULL, NULL, NULL, NULL},
    /* hubd's own isolate drop is wanted: its table is not judged. */
    {"hubd-isolate", "forward", FWD_NEW_WG, 0, 0, NULL, NULL, NULL, NULL},
};

START_TEST(test_fw_fixtures)
{
	const struct fw_case *c = &fw_cases[_i];
	struct json_object *rs = fixture(c->fixture);
	struct doctor_probe p = probe(c->probe);
	struct doctor_fw_drop d[4];
	int n = doctor_fw_drops(rs, c->hook, &p, d, 4);

	ck_assert_msg(n == c->n, "%s %s probe %d: %d chains drop it (first: %s %s %s, %s)",
		      c->fixture, c->hook, c->probe, n, n > 0 ? d[0].family : "",
		      n > 0 ? d[0].table : "", n > 0 ? d[0].chain : "", n > 0 ? d[0].where : "");
	if (c->n) {
		ck_assert_int_eq(d[0].verdict, c->verdict);
		ck_assert_str_eq(d[0].family, c->family);
		ck_assert_str_eq(d[0].table, c->table);
		ck_assert_str_eq(d[0].chain, c->chain);
		ck_assert_msg(strstr(d[0].where, c->where), "where: %s", d[0].where);
	}
	json_object_put(rs);
}
END_TEST

START_TEST(test_fw_not_a_listing)
{
	struct json_object *o = json_tokener_parse("{\"x\": 1}");
	struct doctor_probe p = probe(IN_UDP);
	struct doctor_fw_drop d[1];

	ck_assert_int_lt(doctor_fw_drops(o, "input", &p, d, 1), 0);
	ck_assert(!doctor_fw_masqueraded(o, &p));
	json_object_put(o);
}
END_TEST

/* A rule we cannot read (an xtables match) before the drop: a warning, not a failure. */
START_TEST(test_fw_opaque_accept)
{
	struct json_object *o = json_tokener_parse(
	    "{\"nftables\": ["
	    "{\"chain\": {\"family\": \"ip\", \"table\": \"filter\", \"name\": \"INPUT\", "
	    "\"type\": \"filter\", \"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}},"
	    "{\"rule\": {\"family\": \"ip\", \"table\": \"filter\", \"chain\": \"INPUT\", "
	    "\"handle\": 2, "
	    "\"expr\": [{\"xt\": {\"type\": \"match\", \"name\": \"multiport\"}}, {\"accept\": "
	    "null}]}}"
	    "]}");
	struct doctor_probe p = probe(IN_UDP);
	struct doctor_fw_drop d[1];

	ck_assert_int_eq(doctor_fw_drops(o, "input", &p, d, 1), 1);
	ck_assert_int_eq(d[0].verdict, DOCTOR_FW_MAYBE_DROP);
	json_object_put(o);
}
END_TEST

START_TEST(test_fw_masquerade)
{
	struct json_object *hubd = fixture("hubd-isolate"), *docker = fixture("docker");
	struct doctor_probe p = probe(FWD_NEW_ETH);

	ck_assert(doctor_fw_masqueraded(hubd, &p));    /* iifname wg0 oifname eth0 masquerade */
	ck_assert(!doctor_fw_masqueraded(docker, &p)); /* only 172.17.0.0/16 leaving docker0 */
	p.oif = "eth1";
	ck_assert(!doctor_fw_masqueraded(hubd, &p));
	json_object_put(hubd);
	json_object_put(docker);
}
END_TEST

/* --- canned configs and machines --- */

static struct hubd_config *config(const char *iface, const char *const *peers)
{
	struct hubd_config *cfg = calloc(1, sizeof(*cfg));
	struct hubd_diags d = {0};
	size_t n = 0;

	while (peers && peers[n])
		n++;
	ck_assert_int_eq(hubd_parse_interface("hubd.conf", iface, strlen(iface), &cfg->iface, &d),
			 0);
	cfg->peers = calloc(n + 1, sizeof(*cfg->peers));
	for (size_t i = 0; i < n; i++) {
		const char *text = strchr(peers[i], '\n') + 1;
		char name[32];

		snprintf(name, sizeof(name), "%.*s", (int)(text - peers[i] - 1), peers[i]);
		ck_assert_msg(hubd_parse_peer(name, name, text, strlen(text), &cfg->peers[i], &d) ==
				  0,
			      "peer %s", name);
	}
	cfg->n_peers = n;
	cfg->iface_ok = true;
	hubd_diags_free(&d);
	return cfg;
}

#define KEY1 "PublicKey = HkrZZ8FUUzZG+Hh2hfxQzorfRxsonCqCcbIaDRGN4W4=\n"
#define KEY2 "PublicKey = 2x/xbNZnTuRCMSkBHFzR0PcC6AO810b2Ro1UH/Qg1HQ=\n"

static const char hub_conf[] = "[Interface]\nPrivateKeyFile = /k\nAddress = 10.8.0.1/24\n"
			       "ListenPort = 51820\n";
/* name, newline, the file. */
static const char *const hub_peers[] = {
    "home\n[Peer]\n" KEY1 "AllowedIPs = 10.8.0.3/32, 192.168.1.0/24\n",
    "phone\n[Peer]\n" KEY2 "AllowedIPs = 10.8.0.2/32\n",
    NULL,
};
static const char gw_conf[] = "[Interface]\nPrivateKeyFile = /k\nAddress = 10.8.0.3/24\n";
static const char gw_conf_masq[] = "[Interface]\nPrivateKeyFile = /k\nAddress = 10.8.0.3/24\n"
				   "Masquerade = eth0\n";
static const char *const gw_peers[] = {
    "hub\n[Peer]\n" KEY1 "AllowedIPs = 10.8.0.0/24\nEndpoint = 203.0.113.1:51820\n"
    "PersistentKeepalive = 25\n",
    NULL,
};

static void config_free(struct hubd_config *cfg)
{
	hubd_config_free(cfg);
}

/* The hub as hubd leaves it: link up, routes via wg0, forwarding on, eth0 the uplink. */
static struct doctor_route hub_routes[] = {
    {.dev = "eth0"}, /* default, filled in below */
    {.dev = "eth0"}, /* 203.0.113.0/24 */
    {.dev = "wg0"},  /* 10.8.0.0/24 */
    {.dev = "wg0"},  /* 192.168.1.0/24 */
    {.dev = "eth1"}, /* 192.168.1.0/25: the hijack, counted only when asked */
};
static struct hubd_prefix hub_link_addr[1];

static struct doctor_net hub_net(bool hijack)
{
	hub_routes[0].dst = pfx("0.0.0.0/0");
	hub_routes[1].dst = pfx("203.0.113.0/24");
	hub_routes[2].dst = pfx("10.8.0.0/24");
	hub_routes[3].dst = pfx("192.168.1.0/24");
	hub_routes[4].dst = pfx("192.168.1.0/25");
	hub_link_addr[0] = pfx("10.8.0.1/24");
	return (struct doctor_net){
	    .link_exists = true,
	    .link_up = true,
	    .link_mtu = 1420,
	    .link_addrs = hub_link_addr,
	    .n_link_addrs = 1,
	    .routes = hub_routes,
	    .n_routes = hijack ? 5 : 4,
	    .uplink = "eth0",
	    .uplink_mtu = 1500,
	    .ip_forward = 1,
	    .ip6_forward = 0,
	    .rp_filter_all = 0,
	    .rp_filter_link = 0,
	};
}

static struct doctor_addr gw_addrs[1];
static struct doctor_route gw_routes[2];

static struct doctor_net gw_net(void)
{
	struct doctor_net net = hub_net(false);

	gw_addrs[0] = (struct doctor_addr){.prefix = pfx("192.168.1.2/24"), .dev = "eth0"};
	gw_routes[0] = (struct doctor_route){.dst = pfx("0.0.0.0/0"), .dev = "eth0"};
	gw_routes[1] = (struct doctor_route){.dst = pfx("192.168.1.0/24"), .dev = "eth0"};
	hub_link_addr[0] = pfx("10.8.0.3/24");
	net.addrs = gw_addrs;
	net.n_addrs = 1;
	net.routes = gw_routes;
	net.n_routes = 2;
	return net;
}

/* The one line a rule added: its severity, and every needle in its message. */
static void expect(const struct doctor_report *r, const char *id, enum doctor_sev sev,
		   const char *needle, const char *needle2)
{
	const struct doctor_check *c = doctor_find(r, id);

	ck_assert_msg(c, "no %s line", id);
	ck_assert_msg(c->sev == sev, "%s is %s: %s", id, doctor_sev_name(c->sev), c->msg);
	ck_assert_msg(!needle || strstr(c->msg, needle), "%s: %s lacks \"%s\"", id, c->msg, needle);
	ck_assert_msg(!needle2 || strstr(c->msg, needle2), "%s: %s lacks \"%s\"", id, c->msg,
		      needle2);
}

START_TEST(test_link)
{
	struct hubd_config *cfg = config(hub_conf, hub_peers);
	struct doctor_net net = hub_net(false);
	struct doctor_report r = {0};

	doctor_check_link(cfg, &net, &r);
	expect(&r, "link", DOCTOR_OK, "wg0 is up", NULL);
	doctor_report_free(&r);
	net.link_mtu = 1500;
	net.link_up = false;
	doctor_check_link(cfg, &net, &r);
	expect(&r, "link", DOCTOR_FAIL, "wg0 is down", "MTU 1500, the config says 1420");
	doctor_report_free(&r);
	net.link_exists = false;
	doctor_check_link(cfg, &net, &r);
	expect(&r, "link", DOCTOR_FAIL, "wg0 does not exist", NULL);
	doctor_report_free(&r);
	config_free(cfg);
}
END_TEST

START_TEST(test_forwarding)
{
	struct hubd_config *cfg = config(hub_conf, hub_peers);
	struct doctor_net net = hub_net(false);
	struct doctor_report r = {0};

	doctor_check_forwarding(cfg, &net, &r);
	expect(&r, "forwarding", DOCTOR_OK, "IPv4 forwarding is on", NULL);
	doctor_report_free(&r);
	net.ip_forward = 0;
	doctor_check_forwarding(cfg, &net, &r);
	expect(&r, "forwarding", DOCTOR_FAIL, "IPv4 forwarding is off", "net.ipv4.ip_forward=1");
	doctor_report_free(&r);
	config_free(cfg);
}
END_TEST

START_TEST(test_routes)
{
	struct hubd_config *cfg = config(hub_conf, hub_peers);
	struct doctor_net net = hub_net(false);
	struct doctor_report r = {0};

	doctor_check_routes(cfg, &net, &r);
	expect(&r, "routes", DOCTOR_OK, "1 routed prefix via wg0", NULL);
	doctor_report_free(&r);
	/* A more specific route steals half the LAN. */
	net = hub_net(true);
	doctor_check_routes(cfg, &net, &r);
	expect(&r, "routes", DOCTOR_FAIL,
	       "192.168.1.0/25 dev eth1 takes part of 192.168.1.0/24 (home)",
	       "ip route del 192.168.1.0/25");
	doctor_report_free(&r);
	/* The LAN's route is gone. */
	net = hub_net(false);
	net.n_routes = 3;
	doctor_check_routes(cfg, &net, &r);
	expect(&r, "routes", DOCTOR_FAIL, "no route for 192.168.1.0/24 (home) via wg0", NULL);
	doctor_report_free(&r);
	config_free(cfg);
}
END_TEST

START_TEST(test_firewall_docker)
{
	struct hubd_config *cfg = config(hub_conf, hub_peers);
	struct doctor_net net = hub_net(false);
	struct doctor_report r = {0};

	net.ruleset = fixture("docker");
	doctor_check_firewall(cfg, &net, &r);
	expect(&r, "firewall-forward", DOCTOR_FAIL, "table ip filter chain FORWARD drops",
	       "iptables -I DOCKER-USER -i wg0 -j ACCEPT");
	expect(&r, "firewall-input", DOCTOR_OK, "UDP to port 51820", NULL);
	json_object_put(net.ruleset);
	doctor_report_free(&r);
	net.ruleset = fixture("docker-user");
	doctor_check_firewall(cfg, &net, &r);
	expect(&r, "firewall-forward", DOCTOR_OK, NULL, NULL);
	json_object_put(net.ruleset);
	doctor_report_free(&r);
	config_free(cfg);
}
END_TEST

/* Not Docker: the fix names the chain itself; an IPv6 tunnel is probed over IPv6 too. */
START_TEST(test_firewall_ufw_forward)
{
	static const char v6_conf[] = "[Interface]\nPrivateKeyFile = /k\n"
				      "Address = 10.8.0.1/24, fd00:8::1/64\nListenPort = 51820\n";
	struct hubd_config *cfg = config(v6_conf, hub_peers);
	struct doctor_net net = hub_net(false);
	struct doctor_report r = {0};
	const struct doctor_check *c;

	net.ruleset = fixture("ufw");
	doctor_check_firewall(cfg, &net, &r);
	expect(&r, "firewall-forward", DOCTOR_FAIL,
	       "nft insert rule ip filter FORWARD iifname \"wg0\" accept",
	       "table ip6 filter chain FORWARD drops new traffic from wg0 to wg0");
	c = doctor_find(&r, "firewall-forward");
	ck_assert_msg(!strstr(c->msg, "DOCKER-USER"), "%s", c->msg);
	json_object_put(net.ruleset);
	doctor_report_free(&r);
	config_free(cfg);
}
END_TEST

START_TEST(test_firewall_input)
{
	static const char *const fixtures[] = {"ufw", "firewalld", "nft-input-drop"};
	static const char *const names[] = {"table ip filter chain INPUT drops UDP to port 51820",
					    "table inet firewalld chain filter_INPUT drops",
					    "table inet filter chain input drops"};
	struct hubd_config *cfg = config(hub_conf, hub_peers);
	struct doctor_net net = hub_net(false);
	struct doctor_report r = {0};

	for (size_t i = 0; i < 3; i++) {
		net.ruleset = fixture(fixtures[i]);
		doctor_check_firewall(cfg, &net, &r);
		expect(&r, "firewall-input", DOCTOR_FAIL, names[i], "udp dport 51820 accept");
		json_object_put(net.ruleset);
		doctor_report_free(&r);
	}
	net.ruleset = NULL;
	doctor_check_firewall(cfg, &net, &r);
	expect(&r, "firewall-input", DOCTOR_WARN, "cannot read the nftables ruleset", NULL);
	doctor_report_free(&r);
	config_free(cfg);
}
END_TEST

START_TEST(test_return_path)
{
	struct hubd_config *bare = config(gw_conf, gw_peers),
			   *masq = config(gw_conf_masq, gw_peers);
	struct doctor_net net = gw_net();
	struct doctor_report r = {0};

	/* A gateway on the LAN without Masquerade: LAN hosts answer via their router. */
	net.ruleset = fixture("docker");
	doctor_check_return_path(bare, &net, &r);
	expect(&r, "return-path", DOCTOR_FAIL, "192.168.1.0/24 on eth0 is not masqueraded",
	       "Masquerade");
	doctor_report_free(&r);
	/* Masquerade = eth0, and hubd's table does it. */
	json_object_put(net.ruleset);
	net.ruleset = fixture("hubd-isolate");
	doctor_check_return_path(masq, &net, &r);
	expect(&r, "return-path", DOCTOR_OK, "masqueraded into 192.168.1.0/24 on eth0", NULL);
	doctor_report_free(&r);
	/* Masquerade = eth0, but no rule does it. */
	json_object_put(net.ruleset);
	net.ruleset = fixture("docker");
	doctor_check_return_path(masq, &net, &r);
	expect(&r, "return-path", DOCTOR_FAIL, "in Masquerade but no rule masquerades", NULL);
	doctor_report_free(&r);
	/* Forwarding off: the LAN is not served at all (the forwarding check says so). */
	net.ip_forward = 0;
	doctor_check_return_path(bare, &net, &r);
	expect(&r, "return-path", DOCTOR_OK, "no LAN", NULL);
	doctor_report_free(&r);
	json_object_put(net.ruleset);
	config_free(bare);
	config_free(masq);
}
END_TEST

START_TEST(test_mtu_rp_filter)
{
	struct hubd_config *cfg = config(hub_conf, hub_peers);
	struct doctor_net net = hub_net(false);
	struct doctor_report r = {0};

	doctor_check_mtu(cfg, &net, &r);
	doctor_check_rp_filter(cfg, &net, &r);
	expect(&r, "mtu", DOCTOR_OK, "fits under eth0's 1500", NULL);
	expect(&r, "rp-filter", DOCTOR_OK, NULL, NULL);
	doctor_report_free(&r);
	net.link_mtu = 1500;
	net.rp_filter_all = 1;
	doctor_check_mtu(cfg, &net, &r);
	doctor_check_rp_filter(cfg, &net, &r);
	expect(&r, "mtu", DOCTOR_WARN, "wg0 MTU 1500 leaves 0 bytes under eth0's 1500",
	       "MTU = 1420");
	expect(&r, "rp-filter", DOCTOR_WARN, "rp_filter=2", NULL);
	doctor_report_free(&r);
	config_free(cfg);
}
END_TEST

START_TEST(test_handshakes)
{
	struct hubd_config *cfg = config(hub_conf, hub_peers);
	struct doctor_net net = {0};
	struct doctor_handshake hs[1];
	struct doctor_report r = {0};
	struct json_object *never =
	    json_tokener_parse("{\"peers\": [{\"name\": \"home\", \"latest_handshake\": 0},"
			       "{\"name\": \"phone\", \"latest_handshake\": 0}]}");
	struct json_object *stale =
	    json_tokener_parse("{\"peers\": [{\"name\": \"home\", \"latest_handshake\": 1000},"
			       "{\"name\": \"phone\", \"latest_handshake\": 0}]}");

	/* home routes a LAN: a site. The phone may stay away. */
	doctor_check_handshakes(cfg, &net, never, 1100, &r);
	expect(&r, "handshakes", DOCTOR_FAIL, "home never shook hands", NULL);
	ck_assert(!strstr(doctor_find(&r, "handshakes")->msg, "phone"));
	doctor_report_free(&r);
	doctor_check_handshakes(cfg, &net, stale, 1100, &r);
	expect(&r, "handshakes", DOCTOR_OK, "1 site or keepalive peer, all up", NULL);
	doctor_report_free(&r);
	doctor_check_handshakes(cfg, &net, stale, 1000 + 181, &r);
	expect(&r, "handshakes", DOCTOR_FAIL, "home is stale (last handshake", NULL);
	doctor_report_free(&r);
	doctor_check_handshakes(cfg, &net, NULL, 0, &r);
	expect(&r, "handshakes", DOCTOR_WARN, "hubd is not running", NULL);
	doctor_report_free(&r);
	/* The kernel's view wins: home shook hands at 1050, the phone is not on the link. */
	net.handshakes_known = true;
	net.handshakes = hs;
	net.n_handshakes = 1;
	memcpy(hs[0].public_key, cfg->peers[0].public_key, WGNL_KEY_LEN);
	hs[0].last = 1050;
	doctor_check_handshakes(cfg, &net, never, 1100, &r);
	expect(&r, "handshakes", DOCTOR_OK, NULL, NULL);
	doctor_report_free(&r);
	hs[0].last = 0;
	doctor_check_handshakes(cfg, &net, NULL, 1100, &r);
	expect(&r, "handshakes", DOCTOR_FAIL, "home never shook hands", NULL);
	doctor_report_free(&r);
	json_object_put(never);
	json_object_put(stale);
	config_free(cfg);
}
END_TEST

static const char *fake_resolve(const char *host)
{
	return strcmp(host, "hub.example.org") ? "Name or service not known" : NULL;
}

START_TEST(test_peer_rules)
{
	static const char *const peers[] = {
	    "hub\n[Peer]\n" KEY1 "AllowedIPs = 10.8.0.0/24\nEndpoint = nowhere.invalid:51820\n",
	    "hub2\n[Peer]\n" KEY2 "AllowedIPs = 10.9.0.0/24\nEndpoint = hub.example.org:51820\n"
	    "PersistentKeepalive = 25\n",
	    NULL,
	};
	struct hubd_config *gw = config(gw_conf, peers), *hub = config(hub_conf, hub_peers);
	struct doctor_report r = {0};

	doctor_check_endpoints(gw, fake_resolve, &r);
	doctor_check_keepalive(gw, &r);
	doctor_check_public_endpoint(gw, &r);
	expect(&r, "endpoints", DOCTOR_FAIL, "hub's Endpoint nowhere.invalid does not resolve",
	       NULL);
	ck_assert(!strstr(doctor_find(&r, "endpoints")->msg, "hub2"));
	expect(&r, "keepalive", DOCTOR_WARN, "hub has an Endpoint but no PersistentKeepalive",
	       "PersistentKeepalive = 25");
	expect(&r, "public-endpoint", DOCTOR_OK, "a gateway", NULL);
	doctor_report_free(&r);
	doctor_check_endpoints(hub, fake_resolve, &r);
	doctor_check_keepalive(hub, &r);
	doctor_check_public_endpoint(hub, &r);
	expect(&r, "endpoints", DOCTOR_OK, NULL, NULL);
	expect(&r, "keepalive", DOCTOR_OK, NULL, NULL);
	expect(&r, "public-endpoint", DOCTOR_WARN, "no PublicEndpoint", NULL);
	doctor_report_free(&r);
	config_free(gw);
	config_free(hub);
}
END_TEST

static Suite *doctor_suite(void)
{
	Suite *s = suite_create("doctor");
	TCase *tc = tcase_create("rules");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_fw_fixtures, 0, sizeof(fw_cases) / sizeof(fw_cases[0]));
	tcase_add_test(tc, test_fw_not_a_listing);
	tcase_add_test(tc, test_fw_opaque_accept);
	tcase_add_test(tc, test_fw_masquerade);
	tcase_add_test(tc, test_link);
	tcase_add_test(tc, test_forwarding);
	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_firewall_docker);
	tcase_add_test(tc, test_firewall_input);
	tcase_add_test(tc, test_firewall_ufw_forward);
	tcase_add_test(tc, test_return_path);
	tcase_add_test(tc, test_mtu_rp_filter);
	tcase_add_test(tc, test_handshakes);
	tcase_add_test(tc, test_peer_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(doctor_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
