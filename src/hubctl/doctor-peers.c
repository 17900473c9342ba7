/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl doctor: the report, and the rules on peers (handshakes, endpoints,
 * keepalive, PublicEndpoint). Pure but for the resolver the caller passes.
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"
#include "format.h"
#include "hubctl-internal.h"

#define MSG_MAX 1024

void doctor_add(struct doctor_report *r, const char *id, enum doctor_sev sev, const char *fmt, ...)
{
	struct doctor_check *c;
	va_list ap;
	char *msg;
	int n;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;

		c = realloc(r->items, cap * sizeof(*c));
		if (!c)
			return;
		r->items = c;
		r->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	r->items[r->n++] = (struct doctor_check){.id = id, .sev = sev, .msg = n < 0 ? NULL : msg};
}

void doctor_report_free(struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->items[i].msg);
	free(r->items);
	*r = (struct doctor_report){0};
}

const struct doctor_check *doctor_find(const struct doctor_report *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->items[i].id, id))
			return &r->items[i];
	return NULL;
}

const char *doctor_sev_name(enum doctor_sev s)
{
	return s == DOCTOR_OK ? "ok" : s == DOCTOR_WARN ? "warn" : "FAIL";
}

static void append(char *buf, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t *n, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 3 >= MSG_MAX)
		return;
	if ((*n)++)
		len += (size_t)snprintf(buf + len, MSG_MAX - len, ", ");
	va_start(ap, fmt);
	vsnprintf(buf + len, MSG_MAX - len, fmt, ap);
	va_end(ap);
}

static struct json_object *status_peer(struct json_object *status, const char *name)
{
	struct json_object *peers = hubctl_json_array(status, "peers");
	size_t n = peers ? json_object_array_length(peers) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(peers, i);
		const char *pn = hubctl_json_str(p, "name");

		if (pn && !strcmp(pn, name))
			return p;
	}
	return NULL;
}

/* The peer's last handshake: the kernel's, or the daemon's view; -1 when neither knows it. */
static int64_t last_handshake(const struct doctor_net *net, struct json_object *status,
			      const struct hubd_peer_conf *p)
{
	struct json_object *sp;

	if (net->handshakes_known) {
		for (size_t i = 0; i < net->n_handshakes; i++)
			if (!memcmp(net->handshakes[i].public_key, p->public_key, WGNL_KEY_LEN))
				return net->handshakes[i].last;
		return -1; /* not on the link at all */
	}
	sp = status_peer(status, p->name);
	return sp ? hubctl_json_int(sp, "latest_handshake", 0) : -1;
}

void doctor_check_handshakes(const struct hubd_config *cfg, const struct doctor_net *net,
			     struct json_object *status, int64_t now, struct doctor_report *r)
{
	char bad[MSG_MAX] = "", age[48];
	size_t n_bad = 0, watched = 0;

	if (!status && !net->handshakes_known) {
		doctor_add(r, "handshakes", DOCTOR_WARN,
			   "not checked: hubd is not running and the link cannot be read");
		return;
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_conf *p = &cfg->peers[i];
		int64_t latest, since;

		if (!p->keepalive && !doctor_peer_is_site(cfg, p))
			continue; /* a phone may be idle for days */
		watched++;
		latest = last_handshake(net, status, p);
		if (latest < 0) {
			append(bad, &n_bad, "%s is not on %s", p->name, cfg->iface.name);
			continue;
		}
		if (latest == 0) {
			append(bad, &n_bad, "%s never shook hands", p->name);
			continue;
		}
		since = now - latest;
		if (since > (int64_t)cfg->iface.stale_after) {
			hubctl_format_age(since, age, sizeof(age));
			append(bad, &n_bad, "%s is stale (last handshake %s ago)", p->name, age);
		}
	}
	if (n_bad)
		doctor_add(
		    r, "handshakes", DOCTOR_FAIL,
		    "%s; check that side: its Endpoint, its keepalive, and the firewall-input "
		    "check on the side that listens",
		    bad);
	else
		doctor_add(r, "handshakes", DOCTOR_OK, "%zu site or keepalive peer%s, all up",
			   watched, watched == 1 ? "" : "s");
}

static bool is_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

void doctor_check_endpoints(const struct hubd_config *cfg, const char *(*resolve)(const char *host),
			    struct doctor_report *r)
{
	char bad[MSG_MAX] = "";
	size_t n_bad = 0, names = 0;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_conf *p = &cfg->peers[i];
		const char *why;

		if (!p->endpoint_host || is_literal(p->endpoint_host))
			continue;
		names++;
		why = resolve(p->endpoint_host);
		if (why)
			append(bad, &n_bad, "%s's Endpoint %s does not resolve (%s)", p->name,
			       p->endpoint_host, why);
	}
	if (n_bad)
		doctor_add(r, "endpoints", DOCTOR_FAIL,
			   "%s; fix the name in the peer file or this machine's DNS", bad);
	else
		doctor_add(r, "endpoints", DOCTOR_OK, "%zu host-name Endpoint%s, %s", names,
			   names == 1 ? "" : "s", names ? "all resolve" : "nothing to resolve");
}

void doctor_check_keepalive(const struct hubd_config *cfg, struct doctor_report *r)
{
	char bad[MSG_MAX] = "";
	size_t n_bad = 0;

	for (size_t i = 0; i < cfg->n_peers; i++)
		if (cfg->peers[i].endpoint_host && !cfg->peers[i].keepalive)
			append(bad, &n_bad, "%s", cfg->peers[i].name);
	if (n_bad)
		doctor_add(
		    r, "keepalive", DOCTOR_WARN,
		    "%s ha%s an Endpoint but no PersistentKeepalive: behind NAT the other side "
		    "cannot reach this machine once the mapping expires; add "
		    "PersistentKeepalive = 25 to the peer file",
		    bad, n_bad == 1 ? "s" : "ve");
	else
		doctor_add(r, "keepalive", DOCTOR_OK,
			   "every peer with an Endpoint keeps its NAT open");
}

void doctor_check_public_endpoint(const struct hubd_config *cfg, struct doctor_report *r)
{
	if (doctor_is_gateway(cfg))
		doctor_add(r, "public-endpoint", DOCTOR_OK, "a gateway (it dials out): not needed");
	else if (!cfg->iface.public_endpoint)
		doctor_add(r, "public-endpoint", DOCTOR_WARN,
			   "no PublicEndpoint: hubctl peer add needs --endpoint each time; add "
			   "PublicEndpoint = HOST:%u to hubd.conf",
			   cfg->iface.listen_port ? cfg->iface.listen_port : 51820);
	else
		doctor_add(r, "public-endpoint", DOCTOR_OK, "peers are told to reach %s",
			   cfg->iface.public_endpoint);
}
