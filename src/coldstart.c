/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cold start: no configuration runs yet and the link does not exist.
 *
 * The kernel's work on a new peer (an X25519 precomputation among it) costs
 * more than reading and parsing its file does, and the full reconcile does
 * them one after the other: read everything, then send everything. Here this
 * thread creates the link and sends, while a second thread lists peers.d,
 * reads the files in name order and judges them as it goes. The verifier
 * takes peers in name order and judges each against the ones before it, so
 * the verdicts on the first m files are final whatever files follow
 * (hubd_config_judge): nothing is ever sent that the full reconcile would
 * have refused. The reader never waits for the sender, so it stays ahead.
 * This thread sets the addresses and forwarding (from hubd.conf alone) while
 * the first files are read. Once it has taken the last peers, the reader
 * settles the config and sets the nftables table (which names the peers'
 * routed prefixes) while the last request is still in the kernel; this
 * thread then brings the link up and routes it.
 *
 * The end state is the full reconcile's: the same running config, states,
 * diagnostics (in the same order) and kernel state. Only the time differs.
 */
#include <errno.h>
#include <inttypes.h>
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
	struct hubd *h;
	int ifindex;
	char **files; /* peers.d's peer files by peer name */
	size_t n_files;
	struct hubd_config *cfg;	  /* hubd.conf; peers: each file read cleanly, in order */
	bool *reject;			  /* per peer read: the verdict, once judged */
	bool *scratch;			  /* the reader's verdicts on the whole prefix */
	struct hubd_peer_state *st;	  /* per peer read: its state, when accepted */
	struct hubd_peer_state *accepted; /* in the end: the accepted peers' states, by key */
	size_t n_accepted;
	char **unreadable; /* names of the files rejected on reading */
	size_t n_unreadable;
	struct hubd_diags diags; /* the reader's: listing, reading, the final judgement */
	struct hubd_changes ch;	 /* the reader's: addresses, forwarding, nftables */
	uint64_t t_list, t_read, t_judge, t_net;
	int net_err; /* the reader's error setting the nftables table */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock. */
	size_t n_judged; /* cfg->peers[0..n_judged) judged, their states made */
	bool all_judged; /* every file: n_judged is final */
	bool taken;	 /* the sender needs cfg->peers no more: the reader may move them */
	bool done;	 /* the reader has finished */
	int err;	 /* what stopped the reader early */
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
	if (c->accepted)
		hubd_states_free(c->accepted, c->n_accepted);
	hubd_config_free(c->cfg);
	free(c->reject);
	free(c->scratch);
	hubd_diags_free(&c->diags);
	changes_clear(&c->ch);
}

/* The reader's side: publish what is judged; all: nothing more will be. */
static void publish(struct cold *c, size_t n, bool all)
{
	pthread_mutex_lock(&c->lock);
	c->n_judged = n;
	c->all_judged = all;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void finish_reader(struct cold *c, int err)
{
	pthread_mutex_lock(&c->lock);
	c->all_judged = c->done = true;
	c->err = err;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* The sender's side: block until peers past sent are judged or no more will be. */
static size_t wait_judged(struct cold *c, size_t sent, bool *all, uint64_t *waited)
{
	uint64_t t = hubd_now_us();
	size_t n;

	pthread_mutex_lock(&c->lock);
	while (c->n_judged == sent && !c->all_judged)
		pthread_cond_wait(&c->cond, &c->lock);
	n = c->n_judged;
	*all = c->all_judged;
	pthread_mutex_unlock(&c->lock);
	*waited += hubd_now_us() - t;
	return n;
}

/* The sender has built its last request: the reader may settle the config. */
static void set_taken(struct cold *c)
{
	pthread_mutex_lock(&c->lock);
	c->taken = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void wait_taken(struct cold *c)
{
	pthread_mutex_lock(&c->lock);
	while (!c->taken)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

/* Read files[from..to) into cfg->peers, as the full reconcile's loader would. */
static int read_files(struct cold *c, size_t from, size_t to)
{
	struct hubd_config *cfg = c->cfg;

	for (size_t i = from; i < to; i++) {
		int r = hubd_config_read_peer(c->h->config_dir, c->files[i],
					      &cfg->peers[cfg->n_peers], &c->diags);

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
 * Judge every peer read so far; keep the verdicts on peers[from..) (those
 * before were final already, and the sender reads them) and make states for
 * the newly accepted.
 */
static int judge_prefix(struct cold *c, size_t from, bool last)
{
	struct hubd_config *cfg = c->cfg;
	int r = hubd_config_judge(&cfg->iface, cfg->peers, cfg->n_peers, c->scratch,
				  last ? &c->diags : NULL);

	for (size_t i = from; r >= 0 && i < cfg->n_peers; i++) {
		c->reject[i] = c->scratch[i];
		if (!c->reject[i] && hubd_state_init(&c->st[i], &cfg->peers[i], NULL) < 0)
			r = -ENOMEM;
	}
	return r;
}

static int reader_files(struct cold *c)
{
	size_t read = 0, judged = 0, next = FIRST_BATCH, n;
	uint64_t t = hubd_now_us();
	int r = hubd_config_list_peers(c->h->config_dir, &c->files, &c->n_files, &c->diags);

	c->t_list = hubd_now_us() - t;
	if (r < 0)
		return r;
	n = c->n_files + 1;
	c->cfg->peers = calloc(n, sizeof(*c->cfg->peers));
	c->st = calloc(n, sizeof(*c->st));
	c->reject = calloc(n, sizeof(*c->reject));
	c->scratch = calloc(n, sizeof(*c->scratch));
	c->unreadable = calloc(n, sizeof(*c->unreadable));
	if (!c->cfg->peers || !c->st || !c->reject || !c->scratch || !c->unreadable)
		return -ENOMEM;
	do {
		size_t to = next < c->n_files ? next : c->n_files;

		t = hubd_now_us();
		r = read_files(c, read, to);
		c->t_read += hubd_now_us() - t;
		read = to;
		next *= 2;
		t = hubd_now_us();
		/* The last judgement is the one whose diagnostics are reported. */
		r = r < 0 ? r : judge_prefix(c, judged, read == c->n_files);
		c->t_judge += hubd_now_us() - t;
		if (r < 0)
			break;
		judged = c->cfg->n_peers;
		publish(c, judged, read == c->n_files);
	} while (read < c->n_files);
	if (c->n_files == 0)
		publish(c, 0, true);
	return r;
}

/* The accepted peers' states, sorted by key as hubd_commit wants them; c->st is consumed. */
static void accepted_states(struct cold *c)
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
	c->accepted = st;
	c->n_accepted = n;
}

/* Every file judged: the config as the full reconcile would hold it (accepted peers, the
 * names of the rejected), and the accepted peers' states. */
static int settle(struct cold *c)
{
	accepted_states(c); /* before the peers move */
	for (size_t i = 0; i < c->n_unreadable; i++)
		if (hubd_config_add_rejected(c->cfg, c->unreadable[i]) < 0)
			return -ENOMEM;
	hubd_config_drop_rejected(c->cfg, c->reject);
	return 0;
}

static void *reader(void *arg)
{
	struct cold *c = arg;
	uint64_t t;
	int r = reader_files(c);

	if (r < 0) {
		finish_reader(c, r);
		return NULL;
	}
	/* The table (it names the peers' routed prefixes), while the sender's last request is
	 * in the kernel. */
	wait_taken(c);
	t = hubd_now_us();
	r = settle(c);
	if (r >= 0)
		c->net_err =
		    hubd_net_sync_parts(c->h, c->cfg, c->ifindex, HUBD_NET_NFT, false, &c->ch);
	c->t_net = hubd_now_us() - t;
	finish_reader(c, r);
	return NULL;
}

/*
 * Send the accepted among the judged peers as they come, in runs of at most
 * HUBD_WG_RUN; the first request also sets the device's key, port and fwmark
 * (and goes out even without peers). Returns the number of operations or the
 * kernel's first error; after an error nothing more is sent, and the next
 * reconcile (the health timer's) dumps the device and completes it.
 */
static int send_judged(struct hubd *h, struct cold *c, struct hubd_changes *ch)
{
	struct hubd_peer_want *want = calloc(HUBD_WG_RUN, sizeof(*want));
	struct hubd_namer_ctx names = {NULL, 0};
	struct wgnl_device *kernel = NULL, *set = NULL;
	size_t sent = 0, judged = 0, ops = 0;
	bool all = false;
	int r = want ? 0 : -ENOMEM;

	while (r >= 0 && (!kernel || sent < judged || !all)) {
		size_t k = 0;
		uint64_t t;

		if (sent == judged && !all)
			judged = wait_judged(c, sent, &all, &h->timing.wait);
		for (; sent < judged && k < HUBD_WG_RUN; sent++)
			if (!c->reject[sent])
				want[k++] = (struct hubd_peer_want){
				    .conf = &c->cfg->peers[sent], .endpoint = c->st[sent].resolved};
		if (!k && kernel)
			continue;
		t = hubd_now_us();
		r = hubd_diff_device(&c->cfg->iface, want, k, kernel, hubd_state_namer, &names,
				     &set, ch);
		h->timing.diff += hubd_now_us() - t;
		if (all && sent == judged)
			set_taken(c); /* built from the peers: the reader may move them now */
		if (r > 0) {
			int e = hubd_send_set(h, set);

			r = e < 0 ? e : r;
		}
		wgnl_device_free(set);
		set = NULL;
		ops += r > 0 ? (size_t)r : 0;
		if (!kernel && r >= 0) { /* from now on the device has its fields set */
			kernel = wgnl_device_new(c->cfg->iface.name);
			if (!kernel)
				r = -ENOMEM;
			else
				hubd_device_as_configured(kernel, &c->cfg->iface);
		}
	}
	set_taken(c); /* also when stopped early: the reader must not wait forever */
	wgnl_device_free(kernel);
	free(want);
	return r < 0 ? r : (int)ops;
}

/* The reader's diagnostics after the caller's, as the full reconcile would give them. */
static void take_diags(struct cold *c, struct hubd_diags *diags)
{
	for (size_t i = 0; i < c->diags.n; i++) {
		const struct hubd_diag *g = &c->diags.items[i];

		hubd_diag_add(diags, g->path, g->line, g->warning, "%s", g->message);
	}
}

/* Up now that its peers are set, then the routes, which need it up. */
static int finish_link(struct hubd *h, const struct hubd_config *cfg, int ifindex,
		       struct hubd_changes *ch)
{
	uint64_t t;
	int r = hubd_link_up(h->rtnl, &cfg->iface);

	if (r < 0)
		log_err("link %s: cannot bring it up: %s", cfg->iface.name, strerror(-r));
	t = hubd_now_us();
	r = hubd_net_sync_parts(h, cfg, ifindex, HUBD_NET_ROUTES, false, ch) ?: r;
	h->timing.net += hubd_now_us() - t;
	return r;
}

/* hubd.conf read and usable, the link created: the cold start applies. */
static int cold_prepare(struct hubd *h, struct cold *c, struct hubd_changes *ch)
{
	uint64_t t = hubd_now_us();
	bool created = false;
	int r = hubd_config_read_iface(h->config_dir, &c->cfg, &c->diags);

	h->timing.read += hubd_now_us() - t;
	if (r < 0 || !c->cfg->iface_ok)
		return -EAGAIN; /* the full reconcile reports it, or holds what runs */
	t = hubd_now_us();
	/* Made here, or found: not if_nametoindex() first, whose socket may make the kernel
	 * look for a protocol module (270 ms under TCG). */
	r = hubd_link_sync(h->rtnl, &c->cfg->iface, false, &c->ifindex, &created, ch);
	h->timing.link += hubd_now_us() - t;
	if (r < 0 || !created) /* it exists and may hold peers: the ordinary path */
		return -EAGAIN;
	c->h = h;
	h->ifindex = c->ifindex;
	log_set_interface(c->cfg->iface.name); /* for what the reader logs */
	return 0;
}

int hubd_cold_start(struct hubd *h, struct hubd_changes *ch, struct hubd_diags *diags)
{
	struct cold c = {0};
	size_t before = changes_count(ch);
	int r, sent, net_err;
	pthread_t t;

	r = cold_prepare(h, &c, ch);
	if (r < 0) {
		cold_free(&c);
		return r;
	}
	c.ch.keep = ch->keep; /* the reader's changes are logged after the peers */
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	if (pthread_create(&t, NULL, reader, &c) != 0) {
		r = -EAGAIN; /* the link exists now: the full reconcile finds it empty */
		goto out;
	}
	/* While the reader reads the first files: addresses and forwarding depend on hubd.conf
	 * alone, and later each would wait for the rtnl lock that every set request holds. */
	net_err = hubd_net_sync_parts(h, c.cfg, c.ifindex, HUBD_NET_ADDRESSES | HUBD_NET_FORWARDING,
				      false, ch);
	sent = send_judged(h, &c, ch);
	if (sent < 0)
		log_err("WireGuard device %s: %s", c.cfg->iface.name, strerror(-sent));
	pthread_join(t, NULL);
	/* The reader's own thread: on the total only where the sender waited for it. */
	log_debug("cold start: the reader listed %zu files in %" PRIu64 " us, read them in %" PRIu64
		  " us and judged them in %" PRIu64 " us, then settled and set the "
		  "nftables table in %" PRIu64 " us",
		  c.n_files, c.t_list, c.t_read, c.t_judge, c.t_net);
	if (c.err) {
		r = c.err;
		goto out;
	}
	take_diags(&c, diags);
	if (changes_move(ch, &c.ch) < 0) {
		r = -ENOMEM;
		goto out;
	}
	hubd_report_diags(h, diags);
	h->held = false;
	hubd_install_config(h, c.cfg);
	c.cfg = NULL;
	r = finish_link(h, h->cfg, h->ifindex, ch) ?: net_err ?: c.net_err;
	r = hubd_commit(h, c.accepted, c.n_accepted, RECONCILE_CONFIG, sent < 0 ? sent : r, ch,
			before);
	c.accepted = NULL;
out:
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
	cold_free(&c);
	return r;
}
