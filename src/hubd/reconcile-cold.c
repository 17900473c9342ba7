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
 * have refused. The reader also builds the set requests from what it has
 * judged, a few ahead of this thread (QUEUE_MAX), which only sends them: a
 * request is built while the one before it is in the kernel. While reading,
 * the reader builds only when there is room, so it never waits for the
 * sender and stays ahead. This thread sets the addresses (from hubd.conf
 * alone) while the first files are read. Once it has built the last request,
 * the reader settles the config and ends; this thread then sets the nftables
 * table (which names the peers' routed prefixes) and then forwarding, brings
 * the link up and routes it. The reader never talks to the kernel: every netlink and
 * nftables call is this thread's, the loop's.
 *
 * The end state is the full reconcile's: the same running config, states,
 * diagnostics (in the same order) and kernel state. Only the time differs.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "access.h"
#include "log.h"
#include "net-sync.h"
#include "peer-state.h"
#include "reconcile.h"
#include "record.h"
#include "report.h"
#include "rtnl.h"

/* The reader judges what it has read at these counts of files: 64, 128, 256, ... A judgement
 * costs O(m log m) for m files, so the doubling keeps the total O(n log n), and the first
 * peers go out after a few milliseconds. */
#define FIRST_BATCH 64
/* Between judgements the reader looks for room in the queue every this many files. */
#define BUILD_CHECK 64
/* Requests built and waiting to be sent: enough that the sender never waits for one being
 * built, few enough not to hold the peers twice (each is HUBD_WG_RUN peers at most). */
#define QUEUE_MAX 2

/* A set request built by the reader, with the changes it makes, in the order built. */
struct request {
	struct wgnl_device *set;
	struct hubd_changes ch;
	int ops;
	struct request *next;
};

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
	struct hubd_diags diags;    /* the reader's: listing, reading, the final judgement */
	struct hubd_record *record; /* who held what when hubd last ran; NULL: no record */
	bool recheck;		    /* the last judgement overturned a verdict already sent */
	int64_t now;		    /* the wall clock ExpiresAt is judged by, taken once */
	uint64_t t_list, t_read, t_judge, t_build, t_settle;
	/* The reader's, building requests. */
	size_t judged;		     /* cfg->peers[0..judged) judged, their states made */
	size_t built;		     /* cfg->peers[0..built) are in requests */
	struct wgnl_device *kernel;  /* the device as the requests built so far leave it */
	struct hubd_peer_want *want; /* HUBD_WG_RUN */
	size_t keep;		     /* of the requests' changes: the caller's */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock. */
	struct request *head, **tail; /* built, not yet taken by the sender */
	size_t queued;
	int go;		/* 1: a cold start, read on; -1: not one, stop after listing */
	bool built_all; /* the last request is queued */
	bool stop;	/* the sender stopped on an error: build no more */
	int err;	/* what stopped the reader early */
};

static void request_free(struct request *q)
{
	if (!q)
		return;
	wgnl_device_free(q->set);
	changes_clear(&q->ch);
	free(q);
}

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
	hubd_record_free(c->record);
	free(c->reject);
	free(c->scratch);
	hubd_diags_free(&c->diags);
	wgnl_device_free(c->kernel);
	free(c->want);
	while (c->head) { /* left when the sender stopped early */
		struct request *q = c->head;

		c->head = q->next;
		request_free(q);
	}
}

/* src's diagnostics after dst's, in their order. */
static void append_diags(struct hubd_diags *dst, const struct hubd_diags *src)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct hubd_diag *g = &src->items[i];

		hubd_diag_add(dst, g->path, g->line, g->warning, "%s", g->message);
	}
}

static void set_go(struct cold *c, bool go)
{
	pthread_mutex_lock(&c->lock);
	c->go = go ? 1 : -1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static bool wait_go(struct cold *c)
{
	bool go;

	pthread_mutex_lock(&c->lock);
	while (!c->go)
		pthread_cond_wait(&c->cond, &c->lock);
	go = c->go > 0;
	pthread_mutex_unlock(&c->lock);
	return go;
}

static void finish_reader(struct cold *c, int err)
{
	pthread_mutex_lock(&c->lock);
	c->built_all = true;
	c->err = err;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Room for one more request? With wait, block until there is; false once the sender has
 * stopped. */
static bool queue_room(struct cold *c, bool wait)
{
	bool room;

	pthread_mutex_lock(&c->lock);
	while (wait && !c->stop && c->queued >= QUEUE_MAX)
		pthread_cond_wait(&c->cond, &c->lock);
	room = !c->stop && c->queued < QUEUE_MAX;
	pthread_mutex_unlock(&c->lock);
	return room;
}

static void enqueue(struct cold *c, struct request *q)
{
	pthread_mutex_lock(&c->lock);
	*c->tail = q;
	c->tail = &q->next;
	c->queued++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void set_built_all(struct cold *c)
{
	pthread_mutex_lock(&c->lock);
	c->built_all = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* The sender's side: the next request, waiting for it; NULL when no more will come. */
static struct request *dequeue(struct cold *c, uint64_t *waited)
{
	uint64_t t = hubd_now_us();
	struct request *q;

	pthread_mutex_lock(&c->lock);
	while (!c->head && !c->built_all)
		pthread_cond_wait(&c->cond, &c->lock);
	q = c->head;
	if (q) {
		c->head = q->next;
		if (!c->head)
			c->tail = &c->head;
		c->queued--;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	*waited += hubd_now_us() - t;
	return q;
}

static void stop_sending(struct cold *c)
{
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/*
 * The next request: the accepted among the judged peers not yet in one,
 * HUBD_WG_RUN at most. The first also sets the device's key, port and fwmark
 * (and is built even without peers); the later ones diff against the device
 * as the first leaves it.
 */
static int build_one(struct cold *c, struct request **ret)
{
	struct request *q = calloc(1, sizeof(*q));
	struct hubd_namer_ctx names = {NULL, 0};
	size_t k = 0;
	int r;

	if (!q)
		return -ENOMEM;
	q->ch.keep = c->keep;
	for (; c->built < c->judged && k < HUBD_WG_RUN; c->built++)
		if (!c->reject[c->built])
			c->want[k++] = (struct hubd_peer_want){
			    .conf = &c->cfg->peers[c->built], .endpoint = c->st[c->built].resolved};
	r = hubd_diff_device(&c->cfg->iface, c->want, k, c->kernel, hubd_state_namer, &names,
			     &q->set, &q->ch);
	if (r >= 0 && !c->kernel) {
		c->kernel = wgnl_device_new(c->cfg->iface.name);
		if (c->kernel)
			hubd_device_as_configured(c->kernel, &c->cfg->iface);
		else
			r = -ENOMEM;
	}
	if (r < 0) {
		request_free(q);
		return r;
	}
	q->ops = r;
	*ret = q;
	return 0;
}

/* Build requests from the judged peers while there is room (with wait: all of them). */
static int build_ready(struct cold *c, bool wait)
{
	int r = 0;

	while ((c->built < c->judged || !c->kernel) && queue_room(c, wait)) {
		uint64_t t = hubd_now_us(); /* the building, not the waiting for room */
		struct request *q = NULL;

		r = build_one(c, &q);
		c->t_build += hubd_now_us() - t;
		if (r < 0)
			break;
		if (q->set)
			enqueue(c, q);
		else
			request_free(q); /* only rejected peers: nothing to send */
	}
	return r;
}

/*
 * A file the record gives all it claims is an incumbent, as the kernel's
 * peers are when hubd restarts. One whose claim the record contests waits for
 * the last judgement: it may lose to an incumbent whose file sorts later, and
 * what the stream sends is never taken back.
 */
static void by_record(struct cold *c, struct hubd_peer_conf *p)
{
	if (!c->record)
		return;
	p->incumbent = hubd_record_holds(c->record, p);
	p->deferred = !p->incumbent && hubd_record_contests(c->record, p);
}

/* Read files[from..to) into cfg->peers, as the full reconcile's loader would. */
static int read_files(struct cold *c, size_t from, size_t to)
{
	struct hubd_config *cfg = c->cfg;

	for (size_t i = from; i < to; i++) {
		int r;

		r = i > from && (i - from) % BUILD_CHECK == 0 ? build_ready(c, false) : 0;
		if (r < 0)
			return r;
		r = hubd_config_read_peer(c->h->config_dir, c->files[i], &cfg->peers[cfg->n_peers],
					  &c->diags);

		if (r == 0 && hubd_peer_expired(&cfg->peers[cfg->n_peers], c->now)) {
			/* past its ExpiresAt: kept aside, never judged nor sent */
			r = hubd_config_put_expired(cfg, &cfg->peers[cfg->n_peers]);
			if (r < 0)
				return r;
		} else if (r == 0) {
			by_record(c, &cfg->peers[cfg->n_peers++]);
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
 * the newly accepted. With a state record, the last judgement may overturn an
 * earlier verdict: an incumbent read late comes first, a deferred file is
 * judged at last. A verdict on a peer not yet built simply changes; one on a
 * peer already sent asks for a full reconcile right after (h->recheck).
 */
static int judge_prefix(struct cold *c, size_t from, bool last)
{
	struct hubd_config *cfg = c->cfg;
	int r;

	for (size_t i = 0; last && i < cfg->n_peers; i++)
		cfg->peers[i].deferred = false; /* the last judgement is the full reconcile's */
	r = hubd_config_judge(&cfg->iface, cfg->peers, cfg->n_peers, c->scratch,
			      last ? &c->diags : NULL);
	for (size_t i = last && c->record ? 0 : from; r >= 0 && i < cfg->n_peers; i++) {
		if (i < from && c->reject[i] == c->scratch[i])
			continue;
		if (i < from) { /* overturned by an incumbent read later (by_record) */
			c->recheck |= i < c->built;
			if (!c->reject[i])
				hubd_state_clear(&c->st[i]);
		}
		c->reject[i] = c->scratch[i];
		if (!c->reject[i] && hubd_state_init(&c->st[i], &cfg->peers[i], NULL) < 0)
			r = -ENOMEM;
	}
	return r;
}

static int reader_files(struct cold *c)
{
	size_t read = 0, next = FIRST_BATCH, n = c->n_files + 1;
	uint64_t t, b;
	int r;

	c->cfg->peers = calloc(n, sizeof(*c->cfg->peers));
	c->st = calloc(n, sizeof(*c->st));
	c->reject = calloc(n, sizeof(*c->reject));
	c->scratch = calloc(n, sizeof(*c->scratch));
	c->unreadable = calloc(n, sizeof(*c->unreadable));
	c->want = calloc(HUBD_WG_RUN, sizeof(*c->want));
	if (!c->cfg->peers || !c->st || !c->reject || !c->scratch || !c->unreadable || !c->want)
		return -ENOMEM;
	do {
		size_t to = next < c->n_files ? next : c->n_files;

		t = hubd_now_us();
		b = c->t_build;
		r = read_files(c, read, to);
		c->t_read += hubd_now_us() - t - (c->t_build - b); /* less the building between */
		read = to;
		next *= 2;
		t = hubd_now_us();
		/* The last judgement is the one whose diagnostics are reported. */
		r = r < 0 ? r : judge_prefix(c, c->judged, read == c->n_files);
		c->t_judge += hubd_now_us() - t;
		if (r < 0)
			break;
		c->judged = c->cfg->n_peers;
		r = build_ready(c, false);
	} while (r >= 0 && read < c->n_files);
	return r < 0 ? r : build_ready(c, true); /* the rest, as the sender takes them */
}

/* The accepted peers' states, sorted by key as h->peers keeps them; c->st is consumed. */
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

static void load_record(struct cold *c)
{
	const char *dir = c->h->state_dir;
	int r = dir ? hubd_record_load(dir, c->cfg->iface.name, &c->record) : 0;

	if (r < 0)
		log_warn("%s/%s.peers: cannot read the state record (%s): a clash goes to the "
			 "name that sorts first",
			 dir, c->cfg->iface.name, strerror(-r));
}

static void *reader(void *arg)
{
	struct cold *c = arg;
	struct hubd_diags listed = {0};
	uint64_t t = hubd_now_us();
	/* Listed while the other thread reads hubd.conf and creates the link: the first files
	 * can be read only once all are listed, in name order. */
	int r = hubd_config_list_peers(c->h->config_dir, &c->files, &c->n_files, &listed);

	c->t_list = hubd_now_us() - t;
	if (!wait_go(c)) { /* the link existed, or hubd.conf is unusable: the ordinary path */
		hubd_diags_free(&listed);
		return NULL;
	}
	append_diags(&c->diags, &listed); /* after hubd.conf's, as the full reconcile has them */
	hubd_diags_free(&listed);
	load_record(c);
	r = r < 0 ? r : reader_files(c);
	if (r < 0) {
		finish_reader(c, r);
		return NULL;
	}
	/* The requests own copies of what they send: the peers may move now. */
	set_built_all(c);
	t = hubd_now_us();
	r = settle(c);
	c->t_settle = hubd_now_us() - t;
	finish_reader(c, r);
	return NULL;
}

/*
 * Send the reader's requests as they come, their changes after the caller's.
 * Returns the number of operations or the kernel's first error; after an
 * error nothing more is sent, and the next reconcile (the health timer's)
 * dumps the device and completes it.
 */
static int send_built(struct hubd *h, struct cold *c, struct hubd_changes *ch)
{
	struct request *q;
	size_t ops = 0;
	int r = 0;

	while (r >= 0 && (q = dequeue(c, &h->timing.wait))) {
		r = hubd_send_set(h, q->set);
		if (changes_move(ch, &q->ch) < 0 && r >= 0)
			r = -ENOMEM;
		ops += r >= 0 ? (size_t)q->ops : 0;
		request_free(q);
	}
	if (r < 0)
		stop_sending(c); /* the reader must not wait for room that never comes */
	return r < 0 ? r : (int)ops;
}

/*
 * Every file judged and the reader gone: the table (it names the peers'
 * routed prefixes) and, once it is in place, forwarding; then the link up now
 * that its peers are set, then the routes, which need it up.
 */
static int finish_link(struct hubd *h, const struct hubd_config *cfg, int ifindex,
		       struct hubd_changes *ch)
{
	uint64_t t = hubd_now_us();
	int r = hubd_net_sync_parts(h, cfg, ifindex, HUBD_NET_NFT | HUBD_NET_FORWARDING, false, ch);
	int e = hubd_link_up(h->rtnl, &cfg->iface);

	h->timing.net += hubd_now_us() - t;
	if (e < 0)
		r = r ?: log_err_errno(e, "link %s: cannot bring it up", cfg->iface.name);
	t = hubd_now_us();
	r = hubd_net_sync_parts(h, cfg, ifindex, HUBD_NET_ROUTES, false, ch) ?: r;
	h->timing.net += hubd_now_us() - t;
	return r;
}

/* hubd.conf read and usable, the link created: the cold start applies. */
static int cold_prepare(struct hubd *h, struct cold *c, bool *applied, struct hubd_changes *ch)
{
	uint64_t t = hubd_now_us();
	bool created = false;
	int r = hubd_config_read_iface(h->config_dir, &c->cfg, &c->diags);

	h->timing.read += hubd_now_us() - t;
	if (r < 0 || !c->cfg->iface_ok)
		return -EAGAIN; /* the full reconcile reports it, or holds what runs */
	/* Before the link exists, as its own addresses are not the machine's others. */
	if (hubd_host_read(&h->host, c->cfg->iface.name) < 0)
		log_warn("cannot read this machine's addresses and routes");
	c->cfg->iface.host = &h->host;
	t = hubd_now_us();
	/* Made here, or found: not if_nametoindex() first, whose socket may make the kernel
	 * look for a protocol module, which is slow on a small machine. */
	r = hubd_link_sync(h->rtnl, &c->cfg->iface, false, &c->ifindex, &created, ch);
	h->timing.link += hubd_now_us() - t;
	if (r < 0 || !created) /* it exists and may hold peers: the ordinary path */
		return -EAGAIN;
	*applied = true;
	h->ifindex = c->ifindex;
	log_set_interface(c->cfg->iface.name); /* for what the reader logs */
	return 0;
}

/* The reader is done: its verdicts, the config and the states become what runs. */
static int cold_install(struct hubd *h, struct cold *c, struct hubd_diags *diags)
{
	append_diags(diags, &c->diags); /* after the caller's, as the full reconcile gives them */
	hubd_report_diags(h, diags);
	h->held = false;
	hubd_install_config(h, c->cfg);
	c->cfg = NULL;
	hubd_states_replace(h, c->accepted, c->n_accepted);
	c->accepted = NULL;
	return 0;
}

int reconcile_cold(struct hubd *h, bool *applied, struct hubd_changes *ch, struct hubd_diags *diags)
{
	struct cold c = {0};
	int r, sent, net_err;
	pthread_t t;

	c.h = h;
	c.keep = ch->keep;
	c.now = hubd_clock_now();
	c.tail = &c.head;
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	if (pthread_create(&t, NULL, reader, &c) != 0) {
		r = -EAGAIN; /* nothing made yet: the ordinary path */
		goto out;
	}
	r = cold_prepare(h, &c, applied, ch);
	set_go(&c, r >= 0);
	if (r < 0) {
		pthread_join(t, NULL);
		goto out;
	}
	/* While the reader reads the first files: the addresses depend on hubd.conf alone, and
	 * later each would wait for the rtnl lock that every set request holds. Forwarding waits
	 * for the table (finish_link). */
	net_err = hubd_net_sync_parts(h, c.cfg, c.ifindex, HUBD_NET_ADDRESSES, false, ch);
	sent = send_built(h, &c, ch);
	if (sent < 0)
		log_err("WireGuard device %s: %s", c.cfg->iface.name, strerror(-sent));
	pthread_join(t, NULL);
	/* The reader's own thread: on the total only where the sender waited for it. */
	log_debug("cold start: the reader listed %zu files in %" PRIu64 " us, read them in %" PRIu64
		  " us, judged them in %" PRIu64 " us, built the requests in %" PRIu64
		  " us and settled in %" PRIu64 " us",
		  c.n_files, c.t_list, c.t_read, c.t_judge, c.t_build, c.t_settle);
	r = c.err ?: cold_install(h, &c, diags);
	h->recheck = c.recheck;
	if (r < 0)
		goto out;
	r = finish_link(h, h->cfg, h->ifindex, ch) ?: net_err;
	r = sent < 0 ? sent : r;
	/* The changed-files path's index, as after a full reconcile: a few milliseconds per
	 * 10,000 peers here, rather than on the first phone added after the start. Without
	 * memory it is left out, and built when next asked. */
	hubd_pindex_build(&h->pindex, h->cfg);
out:
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
	cold_free(&c);
	return r;
}
