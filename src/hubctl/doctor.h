/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl doctor: the checks of SPEC's Doctor table. The rules are pure
 * functions over what doctor.c gathered (the config, the daemon's status, the
 * kernel's links, addresses and routes, the nftables ruleset as JSON), so the
 * unit tests run them on canned input.
 */
#ifndef HUBD_HUBCTL_DOCTOR_H
#define HUBD_HUBCTL_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct json_object;

enum doctor_sev { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_check {
	const char *id; /* one of SPEC's stable IDs */
	enum doctor_sev sev;
	char *msg; /* "what was found; how to fix it" */
};

struct doctor_report {
	struct doctor_check *items;
	size_t n, cap;
};

/* Append one check; msg is printf-formatted. Out of memory drops the line (the exit code still
 * counts a FAIL). */
void doctor_add(struct doctor_report *r, const char *id, enum doctor_sev sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void doctor_report_free(struct doctor_report *r);
/* The first check with this id, or NULL. */
const struct doctor_check *doctor_find(const struct doctor_report *r, const char *id);
const char *doctor_sev_name(enum doctor_sev s); /* "ok", "warn", "FAIL" */

/*
 * One packet as the firewall rules see it. NULL / 0 / -1 fields are unknown,
 * and a rule that tests them may or may not match.
 */
struct doctor_probe {
	int family; /* AF_INET or AF_INET6 */
	const char *iif, *oif;
	const struct hubd_prefix *saddr, *daddr;
	int l4proto; /* IPPROTO_UDP ..., 0 unknown */
	int dport;   /* -1 unknown */
	bool reply;  /* ct state established (a reply) rather than new */
};

enum doctor_fw_verdict { DOCTOR_FW_PASS, DOCTOR_FW_MAYBE_DROP, DOCTOR_FW_DROP };

/* Where a base chain drops the probe. */
struct doctor_fw_drop {
	enum doctor_fw_verdict verdict;
	char family[8], table[64], chain[64]; /* the base chain */
	char where[160];		      /* "its policy drop", "rule handle 7 in chain X" */
};

/*
 * Run the probe through every base chain of type filter on hook ("forward" or
 * "input") in ruleset (the JSON of `nft -j list ruleset`), except hubd's own
 * table inet hubd. Fills ret[0..max) with the chains that drop it, or may;
 * returns how many (at most max), or -EINVAL when ruleset is not such a listing.
 */
int doctor_fw_drops(struct json_object *ruleset, const char *hook, const struct doctor_probe *p,
		    struct doctor_fw_drop *ret, size_t max);

/* Does ruleset hold the chain family table name (Docker's DOCKER-USER, say)? */
bool doctor_fw_has_chain(struct json_object *ruleset, const char *family, const char *table,
			 const char *name);

/*
 * Does some nat postrouting chain of ruleset masquerade (or SNAT) the probe,
 * certainly or maybe? hubd's own table counts.
 */
bool doctor_fw_masqueraded(struct json_object *ruleset, const struct doctor_probe *p);

/* What doctor.c gathered about the machine, for the network rules. */
struct doctor_route {
	struct hubd_prefix dst;
	char dev[IF_NAMESIZE]; /* "" when the route has no device (blackhole ...) */
	uint32_t metric;
};

struct doctor_addr {
	struct hubd_prefix prefix; /* the address with its prefix length */
	char dev[IF_NAMESIZE];
};

struct doctor_handshake {
	wgnl_key public_key;
	int64_t last; /* unix seconds, 0 never */
};

struct doctor_net {
	bool link_exists, link_up;
	uint32_t link_mtu;
	struct hubd_prefix *link_addrs;
	size_t n_link_addrs;
	struct doctor_addr *addrs; /* global addresses on every other link but lo */
	size_t n_addrs;
	struct doctor_route *routes; /* the main table's unicast routes */
	size_t n_routes;
	char uplink[IF_NAMESIZE]; /* the default route's device, "" when none */
	uint32_t uplink_mtu;
	int ip_forward, ip6_forward;	   /* -1 unknown */
	int rp_filter_all, rp_filter_link; /* -1 unknown */
	struct json_object *ruleset;	   /* NULL when it could not be read */
	char ruleset_error[160];
	/* The kernel's handshakes on the link (a WireGuard dump), when it could be read. */
	bool handshakes_known;
	struct doctor_handshake *handshakes;
	size_t n_handshakes;
};

/* The rules (doctor-net.c, doctor-peers.c). Each appends exactly one line for its ID. */
void doctor_check_link(const struct hubd_config *cfg, const struct doctor_net *net,
		       struct doctor_report *r);
void doctor_check_forwarding(const struct hubd_config *cfg, const struct doctor_net *net,
			     struct doctor_report *r);
void doctor_check_routes(const struct hubd_config *cfg, const struct doctor_net *net,
			 struct doctor_report *r);
void doctor_check_firewall(const struct hubd_config *cfg, const struct doctor_net *net,
			   struct doctor_report *r);
void doctor_check_return_path(const struct hubd_config *cfg, const struct doctor_net *net,
			      struct doctor_report *r);
void doctor_check_rp_filter(const struct hubd_config *cfg, const struct doctor_net *net,
			    struct doctor_report *r);
void doctor_check_mtu(const struct hubd_config *cfg, const struct doctor_net *net,
		      struct doctor_report *r);
/*
 * The handshakes from the kernel (net->handshakes), or else from status, the
 * daemon's status reply (NULL when it did not answer). now: unix seconds.
 */
void doctor_check_handshakes(const struct hubd_config *cfg, const struct doctor_net *net,
			     struct json_object *status, int64_t now, struct doctor_report *r);
/* resolve: NULL when host resolves, else why not (gai_strerror); tests pass a fake. */
void doctor_check_endpoints(const struct hubd_config *cfg, const char *(*resolve)(const char *host),
			    struct doctor_report *r);
void doctor_check_keepalive(const struct hubd_config *cfg, struct doctor_report *r);
void doctor_check_public_endpoint(const struct hubd_config *cfg, struct doctor_report *r);

/* A gateway (a site) dials out: some peer has an Endpoint. A hub is dialed. */
bool doctor_is_gateway(const struct hubd_config *cfg);
/* Does the peer route something beyond the interface's own subnets (a LAN: it is a site)? */
bool doctor_peer_is_site(const struct hubd_config *cfg, const struct hubd_peer_conf *p);

#endif
