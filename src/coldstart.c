/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cold start: no configuration runs yet and the link does not exist.
 *
 * The kernel's work on a new peer (an X25519 precomputation among it) costs
 * several times what reading and parsing its file does, and the full
 * reconcile does them one after the other: read everything, then send
 * everything. Here a second thread reads the peer files, in name order, and
 * judges them as it goes, while this thread sends the peers already judged.
 * The verifier takes peers in name order and judges each against the ones
 * before it, so the verdicts on the first m files are final whatever files
 * follow (hubd_config_judge): nothing is ever sent that the full reconcile
 * would have refused.
 *
 * The end state is the full reconcile's: the same running config, states,
 * diagnostics (in the same order) and kernel state. Only the time differs.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-private.h"
#include "diff.h"
#include "log.h"
#include "rtnl.h"

/* The reader judges what it has read at these counts of files: 64, 128, 256, ... A judgement
 * costs O(m log m) for m files, so the doubling keeps the total O(n log n), and the first
 * peers go out after a few milliseconds. */
#define FIRST_BATCH 64

struct cold {
	const char *dir;
	char **files; /* peers.d's peer files by peer name */
	size_t n_files;
	struct hubd_config *cfg;    /* hubd.conf; peers: each file read cleanly, in order */
	bool *reject;		    /* per peer read: the verdict, once judged */
	bool *scratch;		    /* the reader's verdicts on the whole prefix */
	struct hubd_peer_state *st; /* per peer read: its state, when accepted */
	char **unreadable;	    /* names of the files rejected on reading */
	size_t n_unreadable;
	struct hubd_diags diags; /* the reader's: reading, then the final judgement */
	uint64_t t_read, t_judge;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t n_judged; /* cfg->peers[0..n_judged) judged, their states made; under lock */
	bool done;	 /* the reader has finished; under lock */
	int err;	 /* what stopped the reader early; under lock */
};

static void cold_free(struct cold *c)
{
	for (size_t i = 0; i < c->n_files; i++)
		free(c->files[i]);
	free(c->files);
	for (size_t i = 0; i < c->n_unreadable; i++)
		free(c->unreadable[i]);
	free(c->unreadable);
	if (c->st)
		hubd_states_free(c->st, c->cfg ? c->cfg->n_peers : 0);
	hubd_config_free(c->cfg);
	free(c->reject);
	free(c->scratch);
	hubd_diags_free(&c->diags);
}

/* Read files[from..to) into cfg->peers, as the full reconcile's loader would. */
static int read_files(struct cold *c, size_t from, size_t to)
{
	struct hubd_config *cfg = c->cfg;

	for (size_t i = from; i < to; i++) {
		int r = hubd_config_read_peer(c->dir, c->files[i], &cfg->peers[cfg->n_peers],
					      &c->diags);

		if (r == 0) {
			cfg->n_peers++;
		} else if (r != -ENOENT) { /* gone since it was listed: removed, not rejected */
			char *name = strndup(c->files[i], strlen(c->files[i]) - strlen(".conf"));

			if (!name)
				return -ENOMEM;
			c->unreadable[c->n_unreadable++] = name;
		}
	}
	return 0;
}

/*
 * Judge every peer read so far, keep the verdicts on those not judged
 * before, and make states for the newly accepted. Only peers past the
 * published count are written: the sender reads the ones before.
 */
static int judge_prefix(struct cold *c, size_t from, bool last)
{
	struct hubd_config *cfg = c->cfg;
	int r = hubd_config_judge(&cfg->iface, cfg->peers, cfg->n_peers, c->scratch,
				  last ? &c->diags : NULL);

	if (r < 0)
		return r;
	for (size_t i = from; i < cfg->n_peers; i++) {
		c->reject[i] = c->scratch[i];
		if (!c->reject[i] && hubd_state_init(&c->st[i], &cfg->peers[i], NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void publish(struct cold *c, size_t n, bool done, int err)
{
	pthread_mutex_lock(&c->lock);
	c->n_judged = n;
	c->done = done;
	c->err = err;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void *reader(void *arg)
{
	struct cold *c = arg;
	size_t read = 0, judged = 0, next = FIRST_BATCH;
	int r = 0;

	while (r >= 0 && read < c->n_files) {
		uint64_t t = hubd_now_us();
		size_t to = next < c->n_files ? next : c->n_files;

		r = read_files(c, read, to);
		c->t_read += hubd_now_us() - t;
		read = to;
		next *= 2;
		if (r < 0)
			break;
		t = hubd_now_us();
		/* The last judgement is the one whose diagnostics are reported. */
		r = judge_prefix(c, judged, read == c->n_files);
		c->t_judge += hubd_now_us() - t;
		if (r < 0)
			break;
		judged = c->cfg->n_peers;
		publish(c, judged, read == c->n_files, 0);
	}
	if (r < 0 || c->n_files == 0)
		publish(c, judged, true, r);
	return NULL;
}

/* Block until peers past sent are judged or the reader is done; returns the judged count. */
static size_t wait_judged(struct cold *c, size_t sent, bool *done, int *err)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	while (c->n_judged == sent && !c->done)
		pthread_cond_wait(&c->cond, &c->lock);
	n = c->n_judged;
	*done = c->done;
	*err = c->err;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/*
 * Send the accepted among the judged peers as they come, in runs of at most
 * HUBD_WG_RUN; the first request also sets the device's key, port and fwmark.
 * Returns the number of operations or the first error of the kernel's; a
 * reader's error is left in c->err.
 */
static int send_judged(struct hubd *h, struct cold *c, struct hubd_changes *ch)
{
	struct hubd_peer_want *want = calloc(HUBD_WG_RUN, sizeof(*want));
	struct hubd_namer_ctx names = {NULL, 0};
	struct wgnl_device *kernel = NULL, *set = NULL;
	size_t sent = 0, judged = 0, ops = 0;
	bool done = false, first = true;
	int r = 0, err = 0;

	if (!want)
		return -ENOMEM;
	while (r >= 0 && !err && (first || sent < judged || !done)) {
		size_t k = 0;
		uint64_t t = hubd_now_us();

		if (sent == judged && !done)
			judged = wait_judged(c, sent, &done, &err);
		h->timing.wait += hubd_now_us() - t;
		if (err)
			break;
		for (; sent < judged && k < HUBD_WG_RUN; sent++) {
			if (c->reject[sent])
				continue;
			want[k].conf = &c->cfg->peers[sent];
			want[k++].endpoint = c->st[sent].resolved;
		}
		if (!k && !first)
			continue;
		r = hubd_diff_device(&c->cfg->iface, want, k, kernel, hubd_state_namer, &names,
				     &set, ch);
		if (r > 0) {
			int e = hubd_send_set(h, set);

			r = e < 0 ? e : r;
		}
		wgnl_device_free(set);
		set = NULL;
		ops += r > 0 ? (size_t)r : 0;
		if (first && r >= 0) { /* from now on the device has its fields set */
			kernel = wgnl_device_new(c->cfg->iface.name);
			if (!kernel)
				r = -ENOMEM;
			else
				hubd_device_as_configured(kernel, &c->cfg->iface);
			first = false;
		}
	}
	wgnl_device_free(kernel);
	free(want);
	return r < 0 ? r : (int)ops;
}

/* Everything needed before the reader starts; -EAGAIN when the cold start does not apply. */
static int cold_prepare(struct hubd *h, struct cold *c)
{
	int r = hubd_config_read_iface(h->config_dir, &c->cfg, &c->diags);

	if (r < 0)
		return -EAGAIN; /* the full reconcile reports it */
	if (!c->cfg->iface_ok || if_nametoindex(c->cfg->iface.name) > 0)
		return -EAGAIN;
	r = hubd_config_list_peers(h->config_dir, &c->files, &c->n_files, &c->diags);
	if (r < 0)
		return -EAGAIN;
	c->cfg->peers = calloc(c->n_files + 1, sizeof(*c->cfg->peers));
	c->st = calloc(c->n_files + 1, sizeof(*c->st));
	c->reject = calloc(c->n_files + 1, sizeof(*c->reject));
	c->scratch = calloc(c->n_files + 1, sizeof(*c->scratch));
	c->unreadable = calloc(c->n_files + 1, sizeof(*c->unreadable));
	if (!c->cfg->peers || !c->st || !c->reject || !c->scratch || !c->unreadable)
		return -ENOMEM;
	c->dir = h->config_dir;
	return 0;
}

/* The accepted peers' states, sorted by key as hubd_commit wants them; c->st is consumed. */
static struct hubd_peer_state *accepted_states(struct cold *c, size_t *ret_n)
{
	struct hubd_peer_state *st = c->st;
	size_t n = 0;

	for (size_t i = 0; i < c->cfg->n_peers; i++) {
		if (c->reject[i])
			continue;
		st[n++] = st[i];
	}
	memset(st + n, 0, (c->cfg->n_peers - n) * sizeof(*st));
	qsort(st, n, sizeof(*st), hubd_state_cmp);
	c->st = NULL;
	*ret_n = n;
	return st;
}

/* The config as the full reconcile would hold it: accepted peers, rejected names. */
static int finish_config(struct cold *c, struct hubd_diags *diags)
{
	for (size_t i = 0; i < c->n_unreadable; i++)
		if (hubd_config_add_rejected(c->cfg, c->unreadable[i]) < 0)
			return -ENOMEM;
	hubd_config_drop_rejected(c->cfg, c->reject);
	for (size_t i = 0; i < c->diags.n; i++) {
		const struct hubd_diag *g = &c->diags.items[i];

		hubd_diag_add(diags, g->path, g->line, g->warning, "%s", g->message);
	}
	return 0;
}

/* Up now that it is configured, then what needs it up (routes), as apply_all does. */
static int finish_link(struct hubd *h, const struct hubd_config *cfg, int ifindex,
		       struct hubd_changes *ch)
{
	uint64_t t;
	int r = hubd_link_up(h->rtnl, &cfg->iface);

	if (r < 0)
		log_err("link %s: cannot bring it up: %s", cfg->iface.name, strerror(-r));
	t = hubd_now_us();
	r = hubd_net_sync(h, cfg, ifindex, false, ch) ?: r;
	h->timing.net += hubd_now_us() - t;
	return r;
}

int hubd_cold_start(struct hubd *h, struct hubd_changes *ch, struct hubd_diags *diags)
{
	struct cold c = {0};
	struct hubd_peer_state *st;
	size_t nst, before = ch->n;
	bool created = false;
	int ifindex = 0, r, sent;
	pthread_t t;
	uint64_t t0 = hubd_now_us();

	r = cold_prepare(h, &c);
	h->timing.read += hubd_now_us() - t0;
	if (r >= 0) {
		t0 = hubd_now_us();
		r = hubd_link_sync(h->rtnl, &c.cfg->iface, false, &ifindex, &created, ch);
		h->timing.link += hubd_now_us() - t0;
		if (r >= 0 && !created) /* someone else made it meanwhile: it may hold peers */
			r = -EAGAIN;
	}
	if (r < 0) {
		cold_free(&c);
		return r;
	}
	h->ifindex = ifindex;
	log_set_interface(c.cfg->iface.name); /* for what the reader logs */
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	if (pthread_create(&t, NULL, reader, &c) != 0) {
		r = -EAGAIN; /* the link exists now: the full reconcile finds it empty */
		goto out;
	}
	sent = send_judged(h, &c, ch);
	if (sent < 0) /* the reader must finish before c goes away */
		log_err("WireGuard device %s: %s", c.cfg->iface.name, strerror(-sent));
	pthread_join(t, NULL);
	h->timing.read += c.t_read;
	h->timing.verify += c.t_judge;
	if (c.err) {
		r = c.err;
		goto out;
	}
	st = accepted_states(&c, &nst); /* before finish_config moves the peers */
	r = finish_config(&c, diags);
	if (r < 0) {
		hubd_states_free(st, nst);
		goto out;
	}
	hubd_report_diags(h, diags);
	h->held = false;
	hubd_install_config(h, c.cfg);
	c.cfg = NULL;
	r = finish_link(h, h->cfg, ifindex, ch);
	r = hubd_commit(h, st, nst, RECONCILE_CONFIG, sent < 0 ? sent : r, ch, before);
out:
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
	cold_free(&c);
	return r;
}
