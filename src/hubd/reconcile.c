/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <stdio.h>
#include <time.h>

#include "reconcile.h"
#include "diff.h"
#include "log.h"
#include "nft.h"
#include "rtnl.h"

/* Monotonic microseconds, for the per-phase timing --debug logs after each reconcile. */
uint64_t hubd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int hubd_state_cmp(const void *a, const void *b)
{
	return memcmp(((const struct hubd_peer_state *)a)->key,
		      ((const struct hubd_peer_state *)b)->key, WGNL_KEY_LEN);
}

struct hubd_peer_state *hubd_state_find(struct hubd_peer_state *v, size_t n, const wgnl_key key)
{
	struct hubd_peer_state probe;

	memcpy(probe.key, key, WGNL_KEY_LEN);
	return n ? bsearch(&probe, v, n, sizeof(*v), hubd_state_cmp) : NULL;
}

struct hubd_peer_state *hubd_peer_find(const struct hubd *h, const wgnl_key key)
{
	return hubd_state_find(h->peers, h->n_peers, key);
}

void hubd_states_free(struct hubd_peer_state *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].ep_host);
	}
	free(v);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

/* A deep copy, so that the last good version of a rejected peer outlives the config it came from.
 */
int hubd_peer_conf_dup(struct hubd_peer_conf *dst, const struct hubd_peer_conf *src)
{
	size_t n = src->n_allowed_ips;

	*dst = *src;
	dst->name = dst->path = dst->psk_file = dst->endpoint_host = NULL;
	dst->allowed_ips = NULL;
	dst->allowed_ips_lines = NULL;
	if (dup_str(&dst->name, src->name) < 0 || dup_str(&dst->path, src->path) < 0 ||
	    dup_str(&dst->psk_file, src->psk_file) < 0 ||
	    dup_str(&dst->endpoint_host, src->endpoint_host) < 0)
		goto fail;
	dst->allowed_ips = calloc(n + 1, sizeof(*dst->allowed_ips));
	dst->allowed_ips_lines = calloc(n + 1, sizeof(*dst->allowed_ips_lines));
	if (!dst->allowed_ips || !dst->allowed_ips_lines)
		goto fail;
	memcpy(dst->allowed_ips, src->allowed_ips, n * sizeof(*dst->allowed_ips));
	if (src->allowed_ips_lines)
		memcpy(dst->allowed_ips_lines, src->allowed_ips_lines,
		       n * sizeof(*dst->allowed_ips_lines));
	return 0;
fail:
	hubd_peer_conf_clear(dst);
	return -ENOMEM;
}

static const struct hubd_peer_conf *conf_by_name(const struct hubd_config *cfg, const char *name)
{
	for (size_t i = 0; cfg && i < cfg->n_peers; i++)
		if (!strcmp(cfg->peers[i].name, name))
			return &cfg->peers[i];
	return NULL;
}

static int name_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct hubd_peer_conf *)elem)->name);
}

/* The running config's peers are sorted by name (hubd_reconcile keeps them so). */
const struct hubd_peer_conf *hubd_running_peer(const struct hubd_config *run, const char *name)
{
	return run && run->n_peers
		   ? bsearch(name, run->peers, run->n_peers, sizeof(*run->peers), name_key_cmp)
		   : NULL;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hubd_peer_conf *)a)->name,
		      ((const struct hubd_peer_conf *)b)->name);
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Is p, as just read, exactly what is running as q? */
bool hubd_peer_conf_same(const struct hubd_peer_conf *p, const struct hubd_peer_conf *q)
{
	return !memcmp(p->public_key, q->public_key, WGNL_KEY_LEN) && p->has_psk == q->has_psk &&
	       (!p->has_psk || !memcmp(p->psk, q->psk, WGNL_KEY_LEN)) &&
	       str_eq(p->endpoint_host, q->endpoint_host) && p->endpoint_port == q->endpoint_port &&
	       p->keepalive == q->keepalive && p->n_allowed_ips == q->n_allowed_ips &&
	       !memcmp(p->allowed_ips, q->allowed_ips, p->n_allowed_ips * sizeof(*p->allowed_ips));
}

static bool in_names(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/*
 * Put back the last good version of each rejected peer that had one, once
 * per name (done remembers them). Returns how many were put back.
 */
static int restore_last_good(const struct hubd_config *old, struct hubd_config *cfg, char **done,
			     size_t *n_done)
{
	int added = 0;

	for (size_t i = 0; i < cfg->n_rejected; i++) {
		const struct hubd_peer_conf *good = hubd_running_peer(old, cfg->rejected[i]);
		struct hubd_peer_conf *peers;

		if (!good || in_names(done, *n_done, good->name) || conf_by_name(cfg, good->name))
			continue;
		peers = realloc(cfg->peers, (cfg->n_peers + 1) * sizeof(*peers));
		if (!peers)
			return -ENOMEM;
		cfg->peers = peers;
		if (hubd_peer_conf_dup(&cfg->peers[cfg->n_peers], good) < 0)
			return -ENOMEM;
		cfg->peers[cfg->n_peers++].incumbent = true;
		done[(*n_done)++] = good->name; /* owned by old, which outlives this */
		added++;
	}
	return added;
}

/*
 * Verify so that nothing running is lost. Peers running unchanged, and the
 * last good versions of rejected ones, are incumbents: the verifier takes them
 * first, so a new or edited file that clashes with them is the one refused,
 * whatever its name. A refused edit brings its last good version back, which
 * may refuse another newcomer in turn; each name comes back once at most, so
 * this ends.
 */
static int verify_keeping_running(const struct hubd_config *old, struct hubd_config *cfg,
				  struct hubd_diags *diags)
{
	size_t n_done = 0;
	char **done = calloc((old ? old->n_peers : 0) + 1, sizeof(*done));
	int r;

	if (!done)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_conf *run = hubd_running_peer(old, cfg->peers[i].name);

		cfg->peers[i].incumbent = run && hubd_peer_conf_same(&cfg->peers[i], run);
	}
	r = restore_last_good(old, cfg, done, &n_done);
	while (r >= 0) {
		hubd_config_verify(cfg, diags);
		r = restore_last_good(old, cfg, done, &n_done);
		if (r == 0)
			break;
	}
	free(done);
	if (r < 0)
		return r;
	qsort(cfg->peers, cfg->n_peers, sizeof(*cfg->peers), name_cmp);
	return 0;
}

static bool in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/* Each distinct diagnostic is logged once, not on every reload while the file stays broken. */
void hubd_report_diags(struct hubd *h, const struct hubd_diags *d)
{
	char **now = calloc(d->n + 1, sizeof(*now));
	size_t n = 0;

	if (!now)
		return;
	for (size_t i = 0; i < d->n; i++) {
		const struct hubd_diag *g = &d->items[i];
		char *key;

		if (asprintf(&key, "%s:%u:%d:%s", g->path, g->line, g->warning, g->message) < 0)
			continue;
		if (!in_list(h->reported, h->n_reported, key)) {
			log_config_error(g->warning ? LOG_WARNING : LOG_ERR, g->path, g->line,
					 g->message);
			if (!g->warning)
				h->counters.config_errors++;
		}
		now[n++] = key;
	}
	for (size_t i = 0; i < h->n_reported; i++)
		free(h->reported[i]);
	free(h->reported);
	h->reported = now;
	h->n_reported = n;
}

/*
 * Load the configuration and merge in the last good version of rejected
 * peers. *ret is NULL when hubd.conf is unusable and the running state must
 * be kept as it is.
 */
static int load_effective(struct hubd *h, struct hubd_diags *diags, struct hubd_config **ret)
{
	struct hubd_config *cfg = NULL;
	uint64_t t = hubd_now_us();
	int r = hubd_config_read(h->config_dir, &cfg, diags);

	h->timing.read += hubd_now_us() - t;
	*ret = NULL;
	if (r < 0)
		return r;
	if (!cfg->iface_ok) {
		hubd_config_free(cfg);
		return h->cfg ? 0 : -EINVAL;
	}
	t = hubd_now_us();
	r = verify_keeping_running(h->cfg, cfg, diags);
	h->timing.verify += hubd_now_us() - t;
	if (r < 0) {
		hubd_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

static int resolve(const char *host, uint16_t port, union wgnl_endpoint *ret)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char service[8];
	int r;

	/* A literal address needs no resolver at all: 10,000 getaddrinfo() calls are a visible
	 * part of a cold start. Scoped IPv6 ("fe80::1%eth0") is left to getaddrinfo. */
	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, host, &ret->addr4.sin_addr) == 1) {
		ret->addr4.sin_family = AF_INET;
		ret->addr4.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &ret->addr6.sin6_addr) == 1) {
		ret->addr6.sin6_family = AF_INET6;
		ret->addr6.sin6_port = htons(port);
		return 0;
	}
	snprintf(service, sizeof(service), "%u", port);
	hints.ai_flags |= AI_NUMERICHOST;
	r = getaddrinfo(host, service, &hints, &res);
	if (r == EAI_NONAME) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		r = getaddrinfo(host, service, &hints, &res);
	}
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	memset(ret, 0, sizeof(*ret));
	memcpy(ret, res->ai_addr, res->ai_addrlen < sizeof(*ret) ? res->ai_addrlen : sizeof(*ret));
	freeaddrinfo(res);
	return 0;
}

int hubd_state_init(struct hubd_peer_state *s, const struct hubd_peer_conf *c,
		    const struct hubd_peer_state *old)
{
	bool same_host;

	if (old)
		*s = *old;
	else
		memset(s, 0, sizeof(*s));
	memcpy(s->key, c->public_key, WGNL_KEY_LEN);
	s->keepalive = c->keepalive != 0;
	same_host = old && old->ep_host && c->endpoint_host &&
		    !strcmp(old->ep_host, c->endpoint_host) && old->ep_port == c->endpoint_port;
	if (dup_str(&s->name, c->name) < 0 || dup_str(&s->ep_host, c->endpoint_host) < 0)
		return -ENOMEM;
	s->ep_port = c->endpoint_port;
	if (!c->endpoint_host) {
		memset(&s->resolved, 0, sizeof(s->resolved));
	} else if (!same_host || !s->resolved.addr.sa_family) {
		int r = resolve(c->endpoint_host, c->endpoint_port, &s->resolved);

		if (r < 0) {
			log_event(LOG_WARNING, "endpoint-resolved", c->name,
				  "peer %s: cannot resolve %s, will retry", c->name,
				  c->endpoint_host);
			memset(&s->resolved, 0, sizeof(s->resolved));
		}
	}
	return 0;
}

/* New per-peer states for cfg, carrying over what was known by key. */
static int states_build(const struct hubd *h, const struct hubd_config *cfg,
			struct hubd_peer_state **ret, size_t *ret_n)
{
	struct hubd_peer_state *v = calloc(cfg->n_peers + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_state *old = hubd_peer_find(h, cfg->peers[i].public_key);

		if (hubd_state_init(&v[n], &cfg->peers[i], old) < 0) {
			hubd_states_free(v, n + 1);
			return -ENOMEM;
		}
		n++;
	}
	qsort(v, n, sizeof(*v), hubd_state_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* What the kernel reports is remembered: the learned endpoint is restored if the peer is ever
 * re-added. */
static void state_observe(struct hubd_peer_state *s, const struct wgnl_peer *p)
{
	if (p->endpoint.addr.sa_family)
		s->learned = p->endpoint;
	s->last_handshake = p->last_handshake_sec;
	s->rx_bytes = p->rx_bytes;
	s->tx_bytes = p->tx_bytes;
}

const char *hubd_state_namer(const wgnl_key key, void *user)
{
	struct hubd_namer_ctx *c = user;
	struct hubd_peer_state *s = hubd_state_find(c->v, c->n, key);

	return s ? s->name : NULL;
}

int hubd_send_set(struct hubd *h, struct wgnl_device *set)
{
	struct wgnl_set_stats stats = {0};
	uint64_t t = hubd_now_us();
	int r = wgnl_set_device(h->wg, set, &stats);

	h->timing.set += hubd_now_us() - t;
	h->counters.netlink_messages += stats.messages;
	return r;
}

void hubd_device_as_configured(struct wgnl_device *k, const struct hubd_iface_conf *c)
{
	k->flags |= WGNL_DEV_HAS_PRIVATE_KEY;
	memcpy(k->private_key, c->private_key, WGNL_KEY_LEN);
	if (c->listen_port)
		k->listen_port = c->listen_port;
	k->fwmark = c->fwmark;
}

/* The walk's function: the diff's step, and each running peer's state observed. */
struct sync_walk {
	struct hubd_diff_walk diff;
	struct hubd_peer_state *st;
	size_t nst;
};

static int sync_step(const struct wgnl_device *dev, const struct wgnl_peer *p, void *user)
{
	struct sync_walk *w = user;
	struct hubd_peer_state *s = p ? hubd_state_find(w->st, w->nst, p->public_key) : NULL;

	if (s)
		state_observe(s, p);
	return hubd_diff_walk_step(dev, p, &w->diff);
}

/*
 * The device against cfg: the kernel's peers are compared as the dump walks
 * them, never all held (at 10,000 peers a whole dump is megabytes); then the
 * changes go out, the peers the kernel lacks in runs of HUBD_WG_RUN.
 */
static int wg_sync(struct hubd *h, const struct hubd_config *cfg, struct hubd_peer_state *st,
		   size_t nst, int ifindex, bool dry, struct hubd_changes *ch)
{
	struct hubd_peer_want *want = calloc(cfg->n_peers + 1, sizeof(*want));
	struct hubd_namer_ctx names = {h->peers, h->n_peers};
	struct sync_walk w = {.st = st, .nst = nst};
	struct wgnl_device *set = NULL;
	size_t ops = 0;
	uint64_t t;
	int r;

	if (!want)
		return -ENOMEM;
	/* The learned endpoints to restore are those of peers the kernel lacks: the walk does
	 * not change them. */
	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct hubd_peer_state *s = hubd_state_find(st, nst, cfg->peers[i].public_key);

		want[i].conf = &cfg->peers[i];
		if (s) {
			want[i].endpoint = s->resolved;
			want[i].restore = s->learned;
		}
	}
	r = hubd_diff_walk_init(&w.diff, &cfg->iface, want, cfg->n_peers, hubd_state_namer, &names,
				ch);
	t = hubd_now_us();
	if (r >= 0 && ifindex > 0)
		r = wgnl_walk_device(h->wg, cfg->iface.name, 0, sync_step, &w);
	h->timing.dump += hubd_now_us() - t;
	while (r >= 0) {
		t = hubd_now_us();
		r = hubd_diff_walk_next(&w.diff, HUBD_WG_RUN, &set);
		h->timing.diff += hubd_now_us() - t;
		if (r <= 0)
			break;
		ops += (size_t)r;
		if (!dry) {
			int e = hubd_send_set(h, set);

			r = e < 0 ? e : r;
		}
		wgnl_device_free(set);
		set = NULL;
	}
	hubd_diff_walk_free(&w.diff);
	free(want);
	return r < 0 ? r : (int)ops;
}

static bool has_ipv6(const struct hubd_iface_conf *c)
{
	for (size_t i = 0; i < c->n_addresses; i++)
		if (c->addresses[i].family == AF_INET6)
			return true;
	return false;
}

int hubd_net_sync_parts(struct hubd *h, const struct hubd_config *cfg, int ifindex, unsigned parts,
			bool dry, struct hubd_changes *ch)
{
	const struct hubd_iface_conf *c = &cfg->iface;
	struct hubd_prefix *lans = NULL;
	size_t n_lans = 0;
	char *table;
	uint64_t t = hubd_now_us();
	int r, first = 0;

	if (parts & HUBD_NET_ADDRESSES) {
		r = hubd_addr_sync(h->rtnl, ifindex, c->addresses, c->n_addresses, dry, ch);
		if (r < 0)
			log_err("addresses on %s: %s", c->name, strerror(-r)), first = first ?: r;
		h->timing.addr += hubd_now_us() - t;
	}
	/* Only the routes and the table depend on the peers (a cold start sets the addresses
	 * while another thread still adds peers to cfg). */
	r = parts & (HUBD_NET_ROUTES | HUBD_NET_NFT)
		? hubd_routed_prefixes(c, cfg->peers, cfg->n_peers, &lans, &n_lans)
		: 0;
	if (r < 0)
		return r;
	r = parts & HUBD_NET_ROUTES ? hubd_route_sync(h->rtnl, ifindex, lans, n_lans, dry, ch) : 0;
	if (r < 0)
		log_err("routes via %s: %s", c->name, strerror(-r)), first = first ?: r;
	r = parts & HUBD_NET_FORWARDING ? hubd_forwarding_sync(has_ipv6(c), dry, ch) : 0;
	if (r < 0)
		log_err("forwarding sysctls: %s", strerror(-r)), first = first ?: r;
	if (parts & HUBD_NET_NFT) {
		t = hubd_now_us();
		table = hubd_nft_render(c, lans, n_lans);
		r = table ? hubd_nft_sync(h->nft, table, dry, ch) : -ENOMEM;
		h->timing.nft += hubd_now_us() - t;
		if (r < 0)
			log_err("nftables table inet %s: %s", HUBD_NFT_TABLE, strerror(-r)),
			    first = first ?: r;
		free(table);
	}
	free(lans);
	return first;
}

int hubd_net_sync(struct hubd *h, const struct hubd_config *cfg, int ifindex, bool dry,
		  struct hubd_changes *ch)
{
	return hubd_net_sync_parts(h, cfg, ifindex, HUBD_NET_ALL, dry, ch);
}

static int apply_all(struct hubd *h, const struct hubd_config *cfg, struct hubd_peer_state *st,
		     size_t nst, bool dry, struct hubd_changes *ch)
{
	int ifindex = 0, r, first;
	uint64_t t = hubd_now_us();
	bool created = false;

	r = hubd_link_sync(h->rtnl, &cfg->iface, dry, &ifindex, &created, ch);
	h->timing.link += hubd_now_us() - t;
	if (r == -EEXIST) {
		log_err("%s exists and is not a WireGuard link: not touching it", cfg->iface.name);
		return r;
	}
	if (r < 0) {
		log_err("link %s: %s", cfg->iface.name, strerror(-r));
		return r;
	}
	if (!dry)
		h->ifindex = ifindex;
	first = wg_sync(h, cfg, st, nst, ifindex, dry, ch);
	if (first < 0)
		log_err("WireGuard device %s: %s", cfg->iface.name, strerror(-first));
	/* Up only now that it is configured, and before its routes, which need it up. */
	r = created ? hubd_link_up(h->rtnl, &cfg->iface) : 0;
	if (r < 0) {
		log_err("link %s: cannot bring it up: %s", cfg->iface.name, strerror(-r));
		first = first ?: r;
	}
	t = hubd_now_us();
	r = hubd_net_sync(h, cfg, ifindex, dry, ch);
	h->timing.net += hubd_now_us() - t;
	return first < 0 ? first : (r < 0 ? r : 0);
}

void hubd_log_changes(const struct hubd_changes *ch, size_t from, bool drift)
{
	size_t logged = 0, total = changes_count(ch) - from;

	for (size_t i = from; i < ch->n && logged < HUBD_LOG_CHANGES_MAX; i++, logged++) {
		const struct hubd_change *c = &ch->items[i];

		if (drift)
			log_event(LOG_NOTICE, "drift-repaired", c->peer, "repaired: %s", c->text);
		else
			log_event(LOG_INFO, c->event ? c->event : "reconcile", c->peer, "%s",
				  c->text);
	}
	if (total > logged)
		log_info("... and %zu more changes", total - logged);
}

void hubd_log_timing(const struct hubd *h, const char *what, uint64_t total)
{
	const struct hubd_timing *t = &h->timing;

	log_debug("reconcile (%s) took %" PRIu64 " us: read %" PRIu64 " verify %" PRIu64
		  " states %" PRIu64 " link %" PRIu64 " wg-dump %" PRIu64 " diff %" PRIu64
		  " wg-set %" PRIu64 " wait %" PRIu64 " net %" PRIu64 " (addresses %" PRIu64
		  " nft %" PRIu64 ") log %" PRIu64,
		  what, total, t->read, t->verify, t->states, t->link, t->dump, t->diff, t->set,
		  t->wait, t->net, t->addr, t->nft, t->log);
}

static const char *flags_name(unsigned flags)
{
	if (flags & RECONCILE_DRY)
		return "dry run";
	if (flags & RECONCILE_CONFIG)
		return "all files";
	/* Told apart in the log so that a test can see which notifications cost a dump. */
	return flags & RECONCILE_TIMER ? "health timer" : "kernel";
}

int hubd_reconcile(struct hubd *h, unsigned flags, struct hubd_changes *ch,
		   struct hubd_diags *diags)
{
	bool dry = flags & RECONCILE_DRY;
	struct hubd_config *fresh = NULL;
	const struct hubd_config *cfg;
	struct hubd_peer_state *st = NULL;
	size_t nst = 0, before = changes_count(ch);
	uint64_t t0 = hubd_now_us(), t;
	int r;

	memset(&h->timing, 0, sizeof(h->timing));
	if (flags == RECONCILE_FILES) {
		r = hubd_reconcile_files(h, ch);
		hubd_forget_files(h);
		if (r != -EAGAIN)
			return r;
		flags = RECONCILE_CONFIG; /* not sure of the shortcut: read everything */
	}
	if (flags & RECONCILE_CONFIG) {
		if (!dry)
			hubd_forget_files(h); /* everything is read, the changed files with it */
		if (!dry && !h->cfg) {
			r = hubd_cold_start(h, ch, diags);
			if (r != -EAGAIN) {
				hubd_log_timing(h, "cold start", hubd_now_us() - t0);
				return r;
			}
			memset(&h->timing, 0, sizeof(h->timing));
		}
		r = load_effective(h, diags, &fresh);
		if (!dry) {
			hubd_report_diags(h, diags);
			/* hubd.conf unusable: the running state stays as it is, peer files too */
			h->held = !fresh;
		}
		if (r < 0)
			return r;
	}
	/*
	 * A valid configuration becomes the running one at once, even if part of
	 * it then fails to apply (the next reconcile retries): the old one need
	 * not be held through the apply, which at 10,000 peers is megabytes.
	 */
	if (fresh && !dry) {
		hubd_install_config(h, fresh);
		fresh = NULL;
	}
	cfg = fresh ? fresh : h->cfg;
	if (!cfg)
		return -EINVAL;
	t = hubd_now_us();
	r = states_build(h, cfg, &st, &nst);
	h->timing.states += hubd_now_us() - t;
	if (r < 0) {
		hubd_config_free(fresh);
		h->converged = false;
		return r;
	}
	r = apply_all(h, cfg, st, nst, dry, ch);
	if (dry) {
		hubd_log_timing(h, flags_name(flags), hubd_now_us() - t0);
		hubd_states_free(st, nst);
		hubd_config_free(fresh);
		return r < 0 ? r : (int)(changes_count(ch) - before);
	}
	r = hubd_commit(h, st, nst, flags, r, ch, before);
	hubd_log_timing(h, flags_name(flags), hubd_now_us() - t0);
	return r;
}

void hubd_install_config(struct hubd *h, struct hubd_config *cfg)
{
	hubd_config_free(h->cfg);
	h->cfg = cfg;
	log_set_interface(cfg->iface.name);
}

int hubd_commit(struct hubd *h, struct hubd_peer_state *st, size_t nst, unsigned flags, int r,
		struct hubd_changes *ch, size_t before)
{
	hubd_states_free(h->peers, h->n_peers);
	h->peers = st;
	h->n_peers = nst;
	uint64_t t = hubd_now_us();

	h->converged = r >= 0;
	h->counters.reconciles++;
	if ((flags & RECONCILE_DRIFT) && changes_count(ch) > before)
		h->counters.drift_repairs += changes_count(ch) - before;
	hubd_log_changes(ch, before, (flags & RECONCILE_DRIFT) && !(flags & RECONCILE_CONFIG));
	/* A full reconcile of N peers allocated and freed O(N): give the pages back rather than
	 * keep the peak as RSS for the daemon's lifetime. */
	malloc_trim(0);
	h->timing.log += hubd_now_us() - t;
	return r < 0 ? r : (int)(changes_count(ch) - before);
}

const char *hubd_health_name(enum hubd_health s)
{
	static const char *const names[] = {
	    [HEALTH_NEVER] = "never",
	    [HEALTH_UP] = "up",
	    [HEALTH_STALE] = "stale",
	    [HEALTH_IDLE] = "idle",
	};

	return names[s];
}

/*
 * The next health state. A peer must be seen stale on two checks in a row
 * before it is called stale, so a single late handshake does not flap.
 */
static enum hubd_health health_next(struct hubd_peer_state *s, int64_t now, unsigned stale_after)
{
	if (!s->last_handshake)
		return HEALTH_NEVER;
	if (now - s->last_handshake <= (int64_t)stale_after) {
		s->stale_seen = 0;
		return HEALTH_UP;
	}
	if (!s->keepalive)
		return HEALTH_IDLE;
	if (++s->stale_seen < 2 && s->health == HEALTH_UP)
		return HEALTH_UP;
	return HEALTH_STALE;
}

/* reresolve-dns: a stale peer whose Endpoint is a name may have moved. */
static bool reresolve(struct hubd_peer_state *s)
{
	union wgnl_endpoint ep;

	if (!s->ep_host || resolve(s->ep_host, s->ep_port, &ep) < 0)
		return false;
	if (hubd_endpoint_equal(&ep, &s->resolved))
		return false;
	s->resolved = ep;
	log_event(LOG_INFO, "endpoint-resolved", s->name, "peer %s: %s resolved anew", s->name,
		  s->ep_host);
	return true;
}

int hubd_health_check(struct hubd *h)
{
	int64_t now = time(NULL);
	unsigned stale_after = h->cfg ? h->cfg->iface.stale_after : HUBD_DEFAULT_STALE;
	int moved = 0;

	for (size_t i = 0; i < h->n_peers; i++) {
		struct hubd_peer_state *s = &h->peers[i];
		enum hubd_health next = health_next(s, now, stale_after);

		if (next != s->health && s->keepalive) {
			if (next == HEALTH_UP)
				log_event(LOG_INFO, "peer-up", s->name, "peer %s: up", s->name);
			else if (next == HEALTH_STALE)
				log_event(LOG_WARNING, "peer-stale", s->name,
					  "peer %s: stale, last handshake %llds ago", s->name,
					  (long long)(now - s->last_handshake));
		}
		s->health = next;
		if (next == HEALTH_STALE)
			moved += reresolve(s);
	}
	return moved;
}

void hubd_health_counts(const struct hubd *h, size_t *up, size_t *stale)
{
	*up = *stale = 0;
	for (size_t i = 0; i < h->n_peers; i++) {
		*up += h->peers[i].health == HEALTH_UP;
		*stale += h->peers[i].health == HEALTH_STALE;
	}
}

/*
 * A fresh handshake needs no second look: a peer seen handshaking is up at
 * once, so status never shows "never" next to a handshake age. Only the way
 * down waits for the health checks' hysteresis.
 */
static void health_promote(struct hubd *h)
{
	int64_t now = time(NULL);
	unsigned stale_after = h->cfg ? h->cfg->iface.stale_after : HUBD_DEFAULT_STALE;

	for (size_t i = 0; i < h->n_peers; i++) {
		struct hubd_peer_state *s = &h->peers[i];

		if (!s->last_handshake || now - s->last_handshake > (int64_t)stale_after ||
		    s->health == HEALTH_UP)
			continue;
		if (s->keepalive)
			log_event(LOG_INFO, "peer-up", s->name, "peer %s: up", s->name);
		s->health = HEALTH_UP;
		s->stale_seen = 0;
	}
}

static int observe_one(const struct wgnl_device *dev, const struct wgnl_peer *p, void *user)
{
	struct hubd *h = user;
	struct hubd_peer_state *s = p ? hubd_state_find(h->peers, h->n_peers, p->public_key) : NULL;

	(void)dev;
	if (s)
		state_observe(s, p);
	return 0;
}

int hubd_refresh(struct hubd *h)
{
	int r;

	if (!h->cfg)
		return -EINVAL;
	/* Handshakes and counters only, peer by peer: a status or metrics request on a big hub
	 * must not hold the whole device, nor allocate any peer's allowed IPs. */
	r = wgnl_walk_device(h->wg, h->cfg->iface.name, WGNL_DEV_NO_ALLOWEDIPS, observe_one, h);
	if (r < 0)
		return r;
	health_promote(h);
	return 0;
}

int hubd_init(struct hubd *h)
{
	int r;

	if (sodium_init() < 0)
		return -EIO;
	r = wgnl_open(&h->wg);
	if (r < 0)
		return r;
	h->rtnl = hubd_rtnl_open();
	if (!h->rtnl)
		return -EIO;
	return hubd_nft_open(&h->nft);
}

bool hubd_note_file(struct hubd *h, const char *file)
{
	char **grown;

	for (size_t i = 0; i < h->n_dirty; i++)
		if (!strcmp(h->dirty[i], file))
			return true;
	if (h->n_dirty >= HUBD_DIRTY_MAX)
		return false;
	grown = realloc(h->dirty, (h->n_dirty + 1) * sizeof(*grown));
	if (!grown)
		return false;
	h->dirty = grown;
	h->dirty[h->n_dirty] = strdup(file);
	if (!h->dirty[h->n_dirty])
		return false;
	h->n_dirty++;
	return true;
}

void hubd_forget_files(struct hubd *h)
{
	for (size_t i = 0; i < h->n_dirty; i++)
		free(h->dirty[i]);
	free(h->dirty);
	h->dirty = NULL;
	h->n_dirty = 0;
}

void hubd_done(struct hubd *h)
{
	hubd_forget_files(h);
	wgnl_close(h->wg);
	hubd_rtnl_close(h->rtnl);
	hubd_nft_close(h->nft);
	hubd_config_free(h->cfg);
	hubd_states_free(h->peers, h->n_peers);
	for (size_t i = 0; i < h->n_reported; i++)
		free(h->reported[i]);
	free(h->reported);
	memset(h, 0, sizeof(*h));
}

/* Routes go with the link; forwarding sysctls stay, as hubd did not create them. */
int hubd_down(struct hubd *h, const char *ifname)
{
	int r = hubd_nft_delete(h->nft);
	int l;

	if (r < 0)
		log_err("cannot delete table inet %s", HUBD_NFT_TABLE);
	else if (r > 0)
		log_info("deleted table inet %s", HUBD_NFT_TABLE);
	l = hubd_link_delete(h->rtnl, ifname);
	if (l == -EEXIST)
		log_err("%s is not a WireGuard link: left alone", ifname);
	else if (l < 0)
		log_err("cannot delete %s: %s", ifname, strerror(-l));
	else if (l > 0)
		log_info("deleted link %s", ifname);
	return r < 0 ? r : (l < 0 ? l : 0);
}
