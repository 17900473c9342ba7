/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The full reconcile: read every file (or take the running configuration),
 * compare with the kernel as its dump walks by, send the difference. Any
 * trigger can take it, and it is where the other paths fall back to.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "log.h"
#include "net-sync.h"
#include "peer-state.h"
#include "reconcile.h"
#include "record.h"
#include "report.h"
#include "rtnl.h"

/* cfg's peers are not sorted yet while it is verified: a scan. */
static const struct hubd_peer_conf *conf_by_name(const struct hubd_config *cfg, const char *name)
{
	for (size_t i = 0; cfg && i < cfg->n_peers; i++)
		if (!strcmp(cfg->peers[i].name, name))
			return &cfg->peers[i];
	return NULL;
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
		const struct hubd_peer_conf *good = hubd_config_peer_by_name(old, cfg->rejected[i]);
		struct hubd_peer_conf *peers;

		if (!good || strv_contains(done, *n_done, good->name) ||
		    conf_by_name(cfg, good->name))
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
		const struct hubd_peer_conf *run =
		    hubd_config_peer_by_name(old, cfg->peers[i].name);

		/* An incumbent by the kernel's record (kernel_incumbents) stays one. */
		cfg->peers[i].incumbent |= run && hubd_peer_conf_same(&cfg->peers[i], run);
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
	qsort(cfg->peers, cfg->n_peers, sizeof(*cfg->peers), hubd_peer_conf_name_cmp);
	return 0;
}

/* cfg's peers by key, to find each of the kernel's peers in. */
struct kernel_record {
	struct hubd_peer_conf **by_key;
	size_t n;
};

static int conf_key_cmp(const void *a, const void *b)
{
	return memcmp((*(struct hubd_peer_conf *const *)a)->public_key,
		      (*(struct hubd_peer_conf *const *)b)->public_key, WGNL_KEY_LEN);
}

static bool aip_in(const struct wgnl_allowedip *a, const struct hubd_peer_conf *c)
{
	for (size_t i = 0; i < c->n_allowed_ips; i++) {
		const struct hubd_prefix *q = &c->allowed_ips[i];

		if (q->family == a->family && q->cidr == a->cidr &&
		    !memcmp(&q->addr, &a->ip6, a->family == AF_INET ? 4 : 16))
			return true;
	}
	return false;
}

/* A file holds what the kernel holds for its key when each of its prefixes is one of the
 * kernel's for that key: it claims nothing new. */
static bool holds_only_kernel_prefixes(const struct hubd_peer_conf *c, const struct wgnl_peer *p)
{
	size_t found = 0;

	for (size_t i = 0; i < p->n_allowedips; i++)
		found += aip_in(&p->allowedips[i], c);
	return found == c->n_allowed_ips;
}

static int record_step(const struct wgnl_device *dev, const struct wgnl_peer *p, void *user)
{
	struct kernel_record *k = user;
	struct hubd_peer_conf probe, *pp = &probe, **c;

	if (!p) { /* the walk (re)starts: what an interrupted pass marked does not count */
		for (size_t i = 0; i < k->n; i++)
			k->by_key[i]->incumbent = false;
		return 0;
	}
	memcpy(probe.public_key, p->public_key, WGNL_KEY_LEN);
	c = k->n ? bsearch(&pp, k->by_key, k->n, sizeof(*k->by_key), conf_key_cmp) : NULL;
	if (c && holds_only_kernel_prefixes(*c, p))
		(*c)->incumbent = true;
	return 0;
}

/*
 * When nothing runs yet (hubd just started) but the link exists, the kernel's
 * state is the record of who holds what: a file whose key the kernel has,
 * claiming only prefixes the kernel gives that key, is an incumbent. So a new
 * file that claims a running phone's address while hubd was stopped loses to
 * the phone, whatever the two files' names, as it would have while hubd ran.
 */
static int kernel_incumbents(struct hubd *h, struct hubd_config *cfg)
{
	struct kernel_record k = {calloc(cfg->n_peers + 1, sizeof(*k.by_key)), cfg->n_peers};
	int r;

	if (!k.by_key)
		return -ENOMEM; /* without the record, name order decides, as on a first start */
	for (size_t i = 0; i < k.n; i++)
		k.by_key[i] = &cfg->peers[i];
	qsort(k.by_key, k.n, sizeof(*k.by_key), conf_key_cmp);
	r = wgnl_walk_device(h->wg, cfg->iface.name, 0, record_step, &k);
	if (r < 0 && r != -ENODEV)
		log_warn("%s: cannot read the running peers (%s): a clash goes to the name that "
			 "sorts first",
			 cfg->iface.name, strerror(-r));
	if (r < 0)
		for (size_t i = 0; i < k.n; i++)
			k.by_key[i]->incumbent = false;
	free(k.by_key);
	return r;
}

/*
 * No link, so the machine rebooted (or someone deleted it): the state record
 * says who held what when hubd last ran, and stands in for the kernel's.
 */
static void record_incumbents(struct hubd *h, struct hubd_config *cfg)
{
	struct hubd_record *rec = NULL;
	int r = hubd_record_load(h->state_dir, cfg->iface.name, &rec);

	if (r < 0)
		log_warn("%s/%s.peers: cannot read the state record (%s): a clash goes to the "
			 "name that sorts first",
			 h->state_dir, cfg->iface.name, strerror(-r));
	for (size_t i = 0; rec && i < cfg->n_peers; i++)
		cfg->peers[i].incumbent = hubd_record_holds(rec, &cfg->peers[i]);
	hubd_record_free(rec);
}

/* What the machine relies on now (its addresses, gateways, name servers), for the verifier. */
static void use_host(struct hubd *h, struct hubd_config *cfg)
{
	int r = hubd_host_read(&h->host, cfg->iface.name);

	if (r < 0)
		log_warn_errno(r, "cannot read this machine's addresses and routes");
	cfg->iface.host = &h->host;
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
	use_host(h, cfg);
	if (!h->cfg && kernel_incumbents(h, cfg) == -ENODEV && h->state_dir)
		record_incumbents(h, cfg);
	r = verify_keeping_running(h->cfg, cfg, diags);
	h->timing.verify += hubd_now_us() - t;
	if (r < 0) {
		hubd_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
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
		hubd_state_observe(s, p);
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
	r = hubd_net_sync_parts(h, cfg, ifindex, HUBD_NET_ALL, dry, ch);
	h->timing.net += hubd_now_us() - t;
	return first < 0 ? first : (r < 0 ? r : 0);
}

static int read_config(struct hubd *h, bool dry, struct hubd_diags *diags,
		       struct hubd_config **ret_fresh)
{
	int r = load_effective(h, diags, ret_fresh);

	if (!dry) {
		hubd_report_diags(h, diags);
		/* hubd.conf unusable: the running state stays as it is, peer files too */
		h->held = !*ret_fresh;
	}
	if (r >= 0 && *ret_fresh && !dry) {
		hubd_install_config(h, *ret_fresh);
		*ret_fresh = NULL;
	}
	return r;
}

int reconcile_full(struct hubd *h, bool read, bool dry, bool *applied, struct hubd_changes *ch,
		   struct hubd_diags *diags)
{
	struct hubd_config *fresh = NULL; /* a dry run's own: the running one stays */
	struct hubd_peer_state *st = NULL;
	size_t nst = 0;
	uint64_t t;
	int r = read ? read_config(h, dry, diags, &fresh) : 0;
	const struct hubd_config *cfg = fresh ? fresh : h->cfg;

	if (r < 0)
		return r;
	if (!cfg)
		return -EINVAL;
	t = hubd_now_us();
	r = hubd_states_build(h, cfg, &st, &nst);
	h->timing.states += hubd_now_us() - t;
	if (r < 0) {
		hubd_config_free(fresh);
		h->converged = false;
		return r;
	}
	if (!dry)
		*applied = true;
	r = apply_all(h, cfg, st, nst, dry, ch);
	if (dry)
		hubd_states_free(st, nst);
	else
		hubd_states_replace(h, st, nst);
	/* A new config was installed: the changed-files path's index of it is made now, with
	 * the O(N) work, rather than by the next one-file change (without memory, it will). */
	if (!dry && !h->pindex.valid) {
		t = hubd_now_us();
		hubd_pindex_build(&h->pindex, h->cfg);
		h->timing.verify += hubd_now_us() - t;
	}
	hubd_config_free(fresh);
	return r;
}
