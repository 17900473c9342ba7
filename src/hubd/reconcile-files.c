/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reconcile of a few changed peer files.
 *
 * A full reconcile re-reads every file and dumps the whole device: O(N) for
 * N peers however small the change, and a one-peer edit on a 10,000-peer hub
 * would cost what `wg syncconf` costs. This one reads only the files inotify
 * named, checks them against the running peers they could clash with, and
 * sends the kernel the difference from what it was last given: one message
 * for one peer.
 *
 * It is a shortcut, never a different answer. reconcile_choose() takes it
 * only after a reconcile that converged with every file accepted and
 * hubd.conf usable; and whenever it cannot be sure of reaching what the full
 * reconcile would (a file with an error or a warning, a clash), it declines
 * having changed nothing. Drift in the kernel it does not look for: that is
 * the health timer's dump, as WireGuard sends no notifications anyway.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "diff.h"
#include "log.h"
#include "macro.h"
#include "net-sync.h"
#include "nft.h"
#include "policy.h"
#include "peer-state.h"
#include "reconcile.h"
#include "report.h"
#include "route-delta.h"

/* More AllowedIPs than this across the changed files: the full verifier is cheaper. */
#define DELTA_MAX_PREFIXES 256

struct delta {
	struct hubd *h;
	char *const *files; /* as inotify named them */
	size_t n_files_in;
	size_t n;			   /* changed files, sorted by name */
	char **names;			   /* their peer names (file name without .conf) */
	struct hubd_peer_conf *fresh;	   /* as read now; .name NULL when the file is gone */
	const struct hubd_peer_conf **old; /* the running version, or NULL */
	struct hubd_peer_conf *exp;	   /* as read now, when past its ExpiresAt */
	bool *changed;			   /* fresh differs from old */
	struct hubd_peer_state *st;	   /* new states of the changed peers still present */
	size_t nst;
};

static void delta_free(struct delta *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->names ? d->names[i] : NULL);
		if (d->fresh)
			hubd_peer_conf_clear(&d->fresh[i]);
		if (d->exp)
			hubd_peer_conf_clear(&d->exp[i]);
	}
	free(d->names);
	free(d->fresh);
	free(d->exp);
	free(d->old);
	free(d->changed);
	hubd_states_free(d->st, d->nst);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dirty(const struct delta *d, const char *name)
{
	return bsearch(&name, d->names, d->n, sizeof(*d->names), cmp_str) != NULL;
}

/* Read each changed file. Any diagnostic at all, even a warning, is for the full reconcile to
 * report. */
static int delta_read(struct delta *d)
{
	struct hubd *h = d->h;
	struct hubd_diags quiet = {0};
	int64_t now = hubd_clock_now();
	int r = 0;

	d->n = d->n_files_in;
	d->names = calloc(d->n + 1, sizeof(*d->names));
	d->fresh = calloc(d->n + 1, sizeof(*d->fresh));
	d->old = calloc(d->n + 1, sizeof(*d->old));
	d->changed = calloc(d->n + 1, sizeof(*d->changed));
	d->st = calloc(d->n + 1, sizeof(*d->st));
	d->exp = calloc(d->n + 1, sizeof(*d->exp));
	if (!d->names || !d->fresh || !d->old || !d->changed || !d->st || !d->exp)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++)
		if (!(d->names[i] = strndup(d->files[i], strlen(d->files[i]) - strlen(".conf"))))
			return -ENOMEM;
	/* By peer name, as the running config is: "a-b" sorts after "a", "a-b.conf" before
	 * "a.conf". */
	qsort(d->names, d->n, sizeof(*d->names), cmp_str);
	for (size_t i = 0; i < d->n && r == 0; i++) {
		char *file;

		if (asprintf(&file, "%s.conf", d->names[i]) < 0)
			return -ENOMEM;
		r = hubd_config_read_peer(h->config_dir, file, &d->fresh[i], &quiet);
		free(file);
		if (r == -ENOENT) {
			r = 0; /* removed */
		} else if (r == 0 && quiet.n) {
			r = -EAGAIN;
		} else if (r == 0 && hubd_peer_expired(&d->fresh[i], now)) {
			/* out of the kernel as if removed; the running config keeps it aside */
			d->exp[i] = d->fresh[i];
			memset(&d->fresh[i], 0, sizeof(d->fresh[i]));
		}
		d->old[i] = hubd_config_peer_by_name(h->cfg, d->names[i]);
	}
	hubd_diags_free(&quiet);
	return r < 0 ? -EAGAIN : 0;
}

static bool owner_dirty(const char *owner, void *user)
{
	return is_dirty(user, owner);
}

/* Does the fresh peer clash with a running peer that did not change: its key, or AllowedIPs
 * overlapping theirs? */
static bool clashes_running(struct delta *d, const struct hubd_peer_conf *f)
{
	struct hubd *h = d->h;
	const struct hubd_peer_state *s = hubd_state_find(h->peers, h->n_peers, f->public_key);

	/* The states are the running peers', one each, by key. */
	if (s && !is_dirty(d, s->name))
		return true;
	for (size_t i = 0; i < f->n_allowed_ips; i++)
		if (hubd_pindex_overlap(&h->pindex, &f->allowed_ips[i], owner_dirty, d))
			return true;
	return false;
}

/* Would the verifier accept the fresh peers among themselves, next to the hub's own key and
 * addresses? Asked of copies, as the verifier drops what it rejects. */
static bool fresh_accepted(const struct delta *d)
{
	struct hubd_config mini = {.iface = d->h->cfg->iface, .iface_ok = true};
	struct hubd_diags quiet = {0};
	bool ok = true;

	mini.peers = calloc(d->n + 1, sizeof(*mini.peers));
	if (!mini.peers)
		return false;
	for (size_t i = 0; i < d->n && ok; i++)
		if (d->fresh[i].name)
			ok = hubd_peer_conf_dup(&mini.peers[mini.n_peers++], &d->fresh[i]) == 0;
	if (ok) {
		hubd_config_verify(&mini, &quiet);
		ok = mini.n_rejected == 0 && quiet.n == 0;
	}
	for (size_t i = 0; i < mini.n_peers; i++)
		hubd_peer_conf_clear(&mini.peers[i]);
	for (size_t i = 0; i < mini.n_rejected; i++)
		free(mini.rejected[i]);
	free(mini.rejected);
	free(mini.peers);
	hubd_diags_free(&quiet);
	return ok;
}

/*
 * Would the full verifier accept every fresh peer? The running peers that
 * did not change are incumbents there and go first, so any clash with one of
 * them (same key, overlapping AllowedIPs) rejects the fresh peer: the index
 * of their prefixes and the states by key find that without a scan. The rest
 * is the verifier's own answer about the fresh peers alone.
 */
static bool delta_fits(struct delta *d)
{
	struct hubd *h = d->h;
	const struct hubd_iface_conf *ic = &h->cfg->iface;
	size_t prefixes = 0, total;

	for (size_t i = 0; i < d->n; i++)
		prefixes += d->fresh[i].name ? d->fresh[i].n_allowed_ips : 0;
	if (prefixes > DELTA_MAX_PREFIXES)
		return false;
	if (!h->pindex.valid && hubd_pindex_build(&h->pindex, h->cfg) < 0)
		return false;
	/* The unchanged peers' prefixes: all indexed but the changed files' old versions. */
	total = h->pindex.n;
	for (size_t i = 0; i < d->n; i++)
		total -= d->old[i] ? d->old[i]->n_allowed_ips : 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->fresh[i].name && clashes_running(d, &d->fresh[i]))
			return false;
	/* Over MaxPrefixes in all, the verifier refuses by its own order: the full path's. */
	if (total + prefixes > (ic->max_prefixes ? ic->max_prefixes : HUBD_DEFAULT_MAX_PREFIXES))
		return false;
	return fresh_accepted(d);
}

/* Which files differ from what runs, and the new states of those still present. */
static int delta_states(struct delta *d)
{
	struct hubd *h = d->h;

	for (size_t i = 0; i < d->n; i++) {
		const struct hubd_peer_conf *f = d->fresh[i].name ? &d->fresh[i] : NULL;

		d->changed[i] = f ? !d->old[i] || !hubd_peer_conf_same(f, d->old[i]) : !!d->old[i];
		if (!d->changed[i] || !f)
			continue;
		if (hubd_state_init(&d->st[d->nst], f,
				    hubd_state_find(h->peers, h->n_peers, f->public_key)) < 0)
			return -ENOMEM;
		d->nst++;
	}
	qsort(d->st, d->nst, sizeof(*d->st), hubd_state_cmp);
	return 0;
}

static int view_add_peer(struct wgnl_device *k, const struct hubd_peer_conf *c,
			 const struct hubd_peer_state *s)
{
	struct wgnl_peer *p = wgnl_device_add_peer(k);

	if (!p)
		return -ENOMEM;
	memcpy(p->public_key, c->public_key, WGNL_KEY_LEN);
	if (c->has_psk)
		memcpy(p->preshared_key, c->psk, WGNL_KEY_LEN);
	p->persistent_keepalive = c->keepalive;
	if (s && c->endpoint_host)
		p->endpoint = s->resolved;
	return hubd_peer_add_allowedips(p, c);
}

/*
 * The kernel as hubd left it, for the changed peers only: the device fields
 * as configured (hubd.conf did not change) and the running versions of the
 * peers. The diff engine turns that into the fresh versions.
 */
static int kernel_view(const struct delta *d, struct wgnl_device **ret)
{
	const struct hubd_iface_conf *ic = &d->h->cfg->iface;
	struct wgnl_device *k = wgnl_device_new(ic->name);
	int r = 0;

	if (!k)
		return -ENOMEM;
	hubd_device_as_configured(k, ic);
	for (size_t i = 0; i < d->n && r == 0; i++)
		if (d->changed[i] && d->old[i])
			r = view_add_peer(
			    k, d->old[i],
			    hubd_state_find(d->h->peers, d->h->n_peers, d->old[i]->public_key));
	if (r < 0) {
		wgnl_device_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

static int delta_send(struct delta *d, struct hubd_changes *ch)
{
	struct hubd *h = d->h;
	struct hubd_peer_want *want = calloc(d->n + 1, sizeof(*want));
	struct hubd_namer_ctx names = {h->peers, h->n_peers};
	struct wgnl_device *k = NULL, *set = NULL;
	size_t nw = 0;
	int r;

	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		struct hubd_peer_state *s;

		if (!d->changed[i] || !d->fresh[i].name)
			continue;
		s = hubd_state_find(d->st, d->nst, d->fresh[i].public_key);
		want[nw].conf = &d->fresh[i];
		want[nw].endpoint = s->resolved;
		want[nw++].restore = s->learned;
	}
	r = kernel_view(d, &k);
	if (r >= 0)
		r = hubd_diff_device(&h->cfg->iface, want, nw, k, hubd_state_namer, &names, &set,
				     ch);
	if (r > 0) {
		int e = hubd_send_set(h, set);

		r = e < 0 ? e : r;
	}
	wgnl_device_free(set);
	wgnl_device_free(k);
	free(want);
	return r;
}

/*
 * Insert elem into the sorted array *v of *n elements (room for one more is
 * there), at its place. A memmove, not a re-sort or a new array: one changed
 * file must not cost copying 10,000 structs into fresh pages.
 */
static void insert_sorted(void *v, size_t *n, const void *elem, size_t size,
			  int (*cmp)(const void *, const void *))
{
	char *base = v;
	size_t lo = 0, hi = *n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(base + mid * size, elem) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(base + (lo + 1) * size, base + lo * size, (*n - lo) * size);
	memcpy(base + lo * size, elem, size);
	++*n;
}

/*
 * Room for n elements of size in *v: a file dropped into a big hub must not
 * cost a realloc that copies every running peer, so the array grows by an
 * eighth at a time and what malloc already gave is used first.
 */
static int reserve(void *v, size_t n, size_t size)
{
	void *p;

	if (*(void **)v && malloc_usable_size(*(void **)v) >= n * size)
		return 0;
	p = realloc(*(void **)v, (n + n / 8 + 4) * size);
	if (!p)
		return -ENOMEM;
	*(void **)v = p;
	return 0;
}

/* Drop the elements marked in gone, keeping the order. */
static size_t compact(void *v, size_t n, const bool *gone, size_t size)
{
	char *base = v;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (gone[i])
			continue;
		if (k != i)
			memcpy(base + k * size, base + i * size, size);
		k++;
	}
	return k;
}

/* The running config takes the fresh files: replaced in place, dropped, or inserted by name. */
static int commit_config(struct delta *d)
{
	struct hubd_config *run = d->h->cfg;
	bool *gone = calloc(run->n_peers + 1, sizeof(*gone));
	size_t adds = 0, drops = 0;

	if (!gone)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		size_t at = d->old[i] ? (size_t)(d->old[i] - run->peers) : 0;

		if (d->old[i])
			hubd_peer_conf_clear(&run->peers[at]);
		if (d->old[i] && d->fresh[i].name) {
			run->peers[at] = d->fresh[i]; /* run owns it now */
			memset(&d->fresh[i], 0, sizeof(d->fresh[i]));
		} else if (d->old[i]) {
			gone[at] = true;
			drops++;
		} else if (d->fresh[i].name) {
			adds++;
		}
	}
	if (drops)
		run->n_peers = compact(run->peers, run->n_peers, gone, sizeof(*run->peers));
	free(gone);
	for (size_t i = 0; i < d->n; i++) {
		if (!d->exp[i].name) {
			hubd_config_drop_expired(run, d->names[i]); /* back, or gone for good */
			continue;
		}
		hubd_note_expired(run, &d->exp[i], d->old[i] != NULL);
		if (hubd_config_put_expired(run, &d->exp[i]) < 0)
			return -ENOMEM;
	}
	if (adds && reserve(&run->peers, run->n_peers + adds, sizeof(*run->peers)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < d->n && adds; i++) {
		if (d->old[i] || !d->fresh[i].name)
			continue;
		insert_sorted(run->peers, &run->n_peers, &d->fresh[i], sizeof(*run->peers),
			      hubd_peer_conf_name_cmp);
		memset(&d->fresh[i], 0, sizeof(d->fresh[i]));
	}
	return 0;
}

/* The changed peers' old states go and their new ones come in: in place when the key stayed
 * (an edit), else dropped and inserted by key. */
static int commit_states(struct delta *d)
{
	struct hubd *h = d->h;
	_cleanup_free_ bool *gone = calloc(h->n_peers + 1, sizeof(*gone));
	_cleanup_free_ bool *placed = calloc(d->nst + 1, 1);
	size_t drops = 0, adds = 0;

	if (!gone || !placed)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		struct hubd_peer_state *s;

		if (d->changed[i] && d->old[i] &&
		    (s = hubd_state_find(h->peers, h->n_peers, d->old[i]->public_key)))
			gone[s - h->peers] = true;
	}
	for (size_t j = 0; j < d->nst; j++) {
		struct hubd_peer_state *s = hubd_state_find(h->peers, h->n_peers, d->st[j].key);

		if (s && gone[s - h->peers]) {
			hubd_state_clear(s);
			*s = d->st[j];
			gone[s - h->peers] = false;
			placed[j] = true;
		}
	}
	for (size_t k = 0; k < h->n_peers; k++)
		if (gone[k])
			hubd_state_clear(&h->peers[k]), drops++;
	if (drops)
		h->n_peers = compact(h->peers, h->n_peers, gone, sizeof(*h->peers));
	for (size_t j = 0; j < d->nst; j++)
		adds += !placed[j];
	if (adds && reserve(&h->peers, h->n_peers + adds + 1, sizeof(*h->peers)) < 0) {
		/* The placed states are h->peers' now; the unplaced stay in d->st and are freed
		 * with it. */
		for (size_t j = 0; j < d->nst; j++)
			if (placed[j])
				memset(&d->st[j], 0, sizeof(d->st[j]));
		return -ENOMEM;
	}
	for (size_t j = 0; j < d->nst; j++)
		if (!placed[j])
			insert_sorted(h->peers, &h->n_peers, &d->st[j], sizeof(*h->peers),
				      hubd_state_cmp);
	free(d->st); /* its states all belong to h->peers now */
	d->st = NULL;
	d->nst = 0;
	return 0;
}

/* Do the changed peers route anything outside the interface's own prefixes? */
static bool delta_routes(const struct delta *d)
{
	const struct hubd_iface_conf *ic = &d->h->cfg->iface;

	for (size_t i = 0; i < d->n; i++) {
		const struct hubd_peer_conf *v[] = {d->old[i],
						    d->fresh[i].name ? &d->fresh[i] : NULL};

		for (size_t k = 0; d->changed[i] && k < 2; k++)
			for (size_t j = 0; v[k] && j < v[k]->n_allowed_ips; j++)
				if (!hubd_iface_covers(ic, &v[k]->allowed_ips[j]))
					return true;
	}
	return false;
}

/* One changed peer's policy elements before and after: what goes out (del) and comes in (add). */
static int peer_policy(const struct delta *d, size_t i, struct hubd_elems *del,
		       struct hubd_elems *add, struct hubd_changes *ch)
{
	struct hubd_elems was = {0}, now = {0}, out = {0}, in = {0};
	const char *ifname = d->h->cfg->iface.name;
	int r = d->old[i] ? hubd_policy_elements(d->old[i], ifname, &was) : 0;

	if (r == 0 && d->fresh[i].name)
		r = hubd_policy_elements(&d->fresh[i], ifname, &now);
	hubd_elems_sort(&was);
	hubd_elems_sort(&now);
	if (r == 0)
		r = hubd_elems_diff(&was, &now, &out, &in);
	for (size_t k = 0; r == 0 && k < out.n; k++)
		r = hubd_elems_add(del, strdup(out.v[k]));
	for (size_t k = 0; r == 0 && k < in.n; k++)
		r = hubd_elems_add(add, strdup(in.v[k]));
	if (r == 0 && (out.n || in.n))
		changes_add(ch, "peer %s: access policy, %zu elements added, %zu removed",
			    d->names[i], in.n, out.n);
	free(out.v);
	free(in.v);
	hubd_elems_free(&was);
	hubd_elems_free(&now);
	return r;
}

/*
 * The changed peers' Access as one nftables transaction of their elements
 * alone. Returns 1 when the table has to be synced whole instead (its policy
 * part is not there yet), 0 or -errno.
 */
static int delta_policy(struct delta *d, struct hubd_changes *ch)
{
	struct hubd_elems del = {0}, add = {0};
	bool table = hubd_nft_has_policy(d->h->nft);
	int r = 0;

	for (size_t i = 0; i < d->n && r == 0; i++) {
		bool had = d->old[i] && d->old[i]->has_access,
		     has = d->fresh[i].name && d->fresh[i].has_access;

		if (!d->changed[i] || (!had && !has))
			continue;
		/* No policy in the table yet: nothing to take out, and a new one needs the sets */
		if (!table)
			r = has ? 1 : 0;
		else
			r = peer_policy(d, i, &del, &add, ch);
	}
	hubd_elems_sort(&del);
	hubd_elems_sort(&add);
	if (r == 0 && (del.n || add.n)) {
		/* A file renamed to another with the same policy: the strings that go and
		 * come back cancel out. */
		struct hubd_elems out = {0}, in = {0};

		r = hubd_elems_diff(&del, &add, &out, &in);
		if (r == 0)
			r = hubd_nft_policy_delta(d->h->nft, &out, &in, false, ch);
		r = r == -EAGAIN ? 1 : (r < 0 ? r : 0);
		free(out.v);
		free(in.v);
	}
	hubd_elems_free(&del);
	hubd_elems_free(&add);
	return r;
}

/*
 * The index follows the running config: out go the entries of every changed
 * file's running version, in come those of its fresh one, whose name string
 * the running config takes over as it is (commit_config moves the struct).
 */
static int index_update(struct delta *d)
{
	_cleanup_free_ const struct hubd_peer_conf **gone = calloc(d->n + 1, sizeof(*gone));
	_cleanup_free_ const struct hubd_peer_conf **came = calloc(d->n + 1, sizeof(*came));
	size_t ng = 0, nc = 0;

	if (!gone || !came)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		if (d->old[i])
			gone[ng++] = d->old[i];
		if (d->fresh[i].name)
			came[nc++] = &d->fresh[i];
	}
	return hubd_pindex_update(&d->h->pindex, gone, ng, came, nc);
}

/* Commit what was sent: the old versions' memory goes as the new ones take their place. */
static int delta_commit(struct delta *d, struct hubd_changes *ch)
{
	struct hubd *h = d->h;
	bool routes = delta_routes(d);
	/* The changed peers' own routes, planned while d->old still points at what ran; without
	 * a plan (no memory), every route is compared as before. */
	struct hubd_route_delta rd = {0};
	bool planned = routes && hubd_route_delta_make(&h->cfg->iface, d->n, d->old, d->fresh,
						       d->changed, &rd) == 0;
	uint64_t tp = hubd_now_us();
	int policy = delta_policy(d, ch); /* before commit_config: d->old is still there */
	uint64_t tc = hubd_now_us();
	int r = commit_states(d);

	h->timing.nft += tc - tp;
	if (r == 0)
		r = index_update(d);
	if (r == 0)
		r = commit_config(d); /* d->old points into the old config: used up above */
	if (r < 0)
		hubd_pindex_clear(&h->pindex); /* built again from what runs when next asked */
	h->timing.commit = hubd_now_us() - tc;
	if (r < 0) {
		hubd_route_delta_free(&rd);
		return r;
	}
	for (size_t i = 0; i < d->n; i++)
		hubd_forget_reported(h, d->names[i]);
	if (routes || policy > 0) {
		uint64_t t = hubd_now_us();

		/* The changed routes as planned (the table follows them, its policy part
		 * included); else everything, or the table alone when its policy part is
		 * missing. */
		if (routes && planned)
			r = hubd_route_delta_apply(h, &rd, ch);
		else
			r = hubd_net_sync_parts(h, h->cfg, h->ifindex,
						routes ? HUBD_NET_ALL : HUBD_NET_NFT, false, ch);
		h->timing.net += hubd_now_us() - t;
	}
	hubd_route_delta_free(&rd);
	return r < 0 ? r : (policy < 0 ? policy : 0);
}

int reconcile_files(struct hubd *h, char *const *files, size_t n, bool *applied,
		    struct hubd_changes *ch)
{
	struct delta d = {.h = h, .files = files, .n_files_in = n};
	size_t before = changes_count(ch);
	uint64_t t0 = hubd_now_us(), t;
	int r = delta_read(&d);

	h->timing.read = hubd_now_us() - t0;
	t = hubd_now_us();
	if (r == 0 && !delta_fits(&d))
		r = -EAGAIN;
	h->timing.verify = hubd_now_us() - t;
	if (r == 0)
		r = delta_states(&d);
	if (r == 0)
		r = delta_send(&d, ch);
	if (r < 0) {
		/* Nothing is committed: the full reconcile starts from what runs. */
		changes_truncate(ch, before);
		delta_free(&d);
		return -EAGAIN;
	}
	*applied = true;
	r = delta_commit(&d, ch);
	delta_free(&d);
	return r;
}
