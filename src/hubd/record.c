/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state record (record.h): parsed into indexes by key and by prefix. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "macro.h"
#include "record.h"
#include "report.h"

#define RECORD_MAX_SIZE (256u * 1024 * 1024) /* far beyond MaxPrefixes' default in text */

struct rec_peer {
	wgnl_key key;
	size_t first, n; /* its prefixes: pfx[first..first+n), sorted */
};

struct rec_pfx {
	struct hubd_prefix p;
	size_t peer;
};

struct hubd_record {
	struct rec_peer *peers; /* by key */
	size_t n_peers;
	struct hubd_prefix *pfx; /* each peer's, in its own run */
	struct rec_pfx *flat;	 /* all prefixes in hubd_prefix_cmp order */
	size_t n_pfx;
	bool cidr4[33], cidr6[129]; /* the lengths recorded: the only ones worth looking up */
};

static int rec_peer_cmp(const void *a, const void *b)
{
	return memcmp(((const struct rec_peer *)a)->key, ((const struct rec_peer *)b)->key,
		      WGNL_KEY_LEN);
}

static int rec_pfx_cmp(const void *a, const void *b)
{
	return hubd_prefix_cmp(&((const struct rec_pfx *)a)->p, &((const struct rec_pfx *)b)->p);
}

/* Grow *v to hold n + 1 elements of size sz. */
static int grow(void *v, size_t *cap, size_t n, size_t sz)
{
	void *p;

	if (n < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(*(void **)v, *cap * sz);
	if (!p)
		return -ENOMEM;
	*(void **)v = p;
	return 0;
}

/* One line: a key and its prefixes. A line that does not parse adds nothing. */
static int parse_line(struct hubd_record *r, char *line, size_t *cap_peers, size_t *cap_pfx)
{
	char *save = NULL, *tok = strtok_r(line, " \t", &save);
	struct rec_peer peer = {0};

	if (!tok || *tok == '#' || wgnl_key_from_base64(peer.key, tok) < 0)
		return 0;
	peer.first = r->n_pfx;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		struct hubd_prefix p;

		if (hubd_prefix_parse(tok, &p, NULL) < 0)
			continue;
		hubd_prefix_mask(&p);
		if (grow(&r->pfx, cap_pfx, r->n_pfx, sizeof(*r->pfx)) < 0)
			return -ENOMEM;
		r->pfx[r->n_pfx++] = p;
	}
	peer.n = r->n_pfx - peer.first;
	qsort(r->pfx + peer.first, peer.n, sizeof(*r->pfx), hubd_prefix_cmp);
	if (grow(&r->peers, cap_peers, r->n_peers, sizeof(*r->peers)) < 0)
		return -ENOMEM;
	r->peers[r->n_peers++] = peer;
	return 0;
}

/* The indexes: peers by key (a key recorded twice counts once: the first), prefixes flat. */
static int index_record(struct hubd_record *r)
{
	size_t n = 0;

	qsort(r->peers, r->n_peers, sizeof(*r->peers), rec_peer_cmp);
	for (size_t i = 0; i < r->n_peers; i++)
		if (!n || rec_peer_cmp(&r->peers[n - 1], &r->peers[i]))
			r->peers[n++] = r->peers[i];
	r->n_peers = n;
	r->flat = calloc(r->n_pfx ? r->n_pfx : 1, sizeof(*r->flat));
	if (!r->flat)
		return -ENOMEM;
	r->n_pfx = 0;
	for (size_t i = 0; i < r->n_peers; i++)
		for (size_t j = 0; j < r->peers[i].n; j++) {
			const struct hubd_prefix *p = &r->pfx[r->peers[i].first + j];

			r->flat[r->n_pfx++] = (struct rec_pfx){*p, i};
			if (p->family == AF_INET)
				r->cidr4[p->cidr] = true;
			else
				r->cidr6[p->cidr] = true;
		}
	qsort(r->flat, r->n_pfx, sizeof(*r->flat), rec_pfx_cmp);
	return 0;
}

int hubd_record_parse(const char *text, size_t len, struct hubd_record **ret)
{
	_cleanup_free_ char *copy = strndup(text, len);
	struct hubd_record *r = calloc(1, sizeof(*r));
	size_t cap_peers = 0, cap_pfx = 0;
	char *save = NULL;
	int e = copy && r ? 0 : -ENOMEM;

	for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; line && e >= 0;
	     line = strtok_r(NULL, "\n", &save))
		e = parse_line(r, line, &cap_peers, &cap_pfx);
	if (e >= 0)
		e = index_record(r);
	if (e < 0) {
		hubd_record_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

static char *record_path(const char *dir, const char *ifname, const char *prefix)
{
	char *path;

	if (asprintf(&path, "%s/%s%s.peers", dir, prefix, ifname) < 0)
		return NULL;
	return path;
}

int hubd_record_load(const char *dir, const char *ifname, struct hubd_record **ret)
{
	_cleanup_free_ char *path = record_path(dir, ifname, "");
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t got;
	size_t len = 0;

	*ret = NULL;
	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size > RECORD_MAX_SIZE)
		return -EINVAL;
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return -ENOMEM;
	while (len < (size_t)st.st_size &&
	       (got = read(fd, text + len, (size_t)st.st_size - len)) != 0) {
		if (got < 0 && errno != EINTR)
			return -errno;
		len += got > 0 ? (size_t)got : 0;
	}
	return hubd_record_parse(text, len, ret);
}

void hubd_record_free(struct hubd_record *r)
{
	if (!r)
		return;
	free(r->peers);
	free(r->pfx);
	free(r->flat);
	free(r);
}

size_t hubd_record_size(const struct hubd_record *r)
{
	return r ? r->n_peers : 0;
}

static const struct rec_peer *find_peer(const struct hubd_record *r, const wgnl_key key)
{
	struct rec_peer probe;

	if (!r || !r->n_peers)
		return NULL;
	memcpy(probe.key, key, WGNL_KEY_LEN);
	return bsearch(&probe, r->peers, r->n_peers, sizeof(*r->peers), rec_peer_cmp);
}

bool hubd_record_holds(const struct hubd_record *r, const struct hubd_peer_conf *c)
{
	const struct rec_peer *p = find_peer(r, c->public_key);

	if (!p)
		return false;
	for (size_t i = 0; i < c->n_allowed_ips; i++)
		if (!bsearch(&c->allowed_ips[i], r->pfx + p->first, p->n, sizeof(*r->pfx),
			     hubd_prefix_cmp))
			return false;
	return true;
}

/* Is any recorded prefix inside q, or q itself? They sort from q's place on, q first. */
static bool covers_recorded(const struct hubd_record *r, const struct hubd_prefix *q)
{
	size_t lo = 0, hi = r->n_pfx;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (hubd_prefix_cmp(&r->flat[mid].p, q) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n_pfx && hubd_prefix_contains(q, &r->flat[lo].p);
}

/* Is q inside a recorded prefix? Each length recorded that is shorter than q's is looked up. */
static bool inside_recorded(const struct hubd_record *r, const struct hubd_prefix *q)
{
	const bool *lens = q->family == AF_INET ? r->cidr4 : r->cidr6;
	struct rec_pfx probe = {.p = *q};

	for (unsigned c = 0; c < q->cidr; c++) {
		if (!lens[c])
			continue;
		probe.p = *q;
		probe.p.cidr = (uint8_t)c;
		hubd_prefix_mask(&probe.p);
		if (bsearch(&probe, r->flat, r->n_pfx, sizeof(*r->flat), rec_pfx_cmp))
			return true;
	}
	return false;
}

bool hubd_record_contests(const struct hubd_record *r, const struct hubd_peer_conf *c)
{
	if (!r || hubd_record_holds(r, c))
		return false;
	if (find_peer(r, c->public_key))
		return true;
	for (size_t i = 0; i < c->n_allowed_ips; i++)
		if (covers_recorded(r, &c->allowed_ips[i]) ||
		    inside_recorded(r, &c->allowed_ips[i]))
			return true;
	return false;
}

/*
 * The record's text goes out in chunks: into memory (hubd_record_format), or
 * straight into the file, so that the writer needs no memory of the text's
 * size, and the child process that writes it (below) no malloc at all.
 */
struct rec_out {
	int fd;	   /* >= 0: each full chunk is written to it */
	char *mem; /* else: appended here */
	size_t mem_len, mem_cap, used;
	int err; /* the first failure, -errno */
	char chunk[1 << 16];
};

static void out_flush(struct rec_out *o)
{
	if (o->err || !o->used)
		goto done;
	if (o->fd >= 0) {
		o->err = write_full(o->fd, o->chunk, o->used);
	} else {
		if (o->mem_len + o->used + 1 > o->mem_cap) {
			size_t cap = (o->mem_len + o->used + 1) * 2;
			char *m = realloc(o->mem, cap);

			if (!m) {
				o->err = -ENOMEM;
				goto done;
			}
			o->mem = m;
			o->mem_cap = cap;
		}
		memcpy(o->mem + o->mem_len, o->chunk, o->used);
		o->mem_len += o->used;
		o->mem[o->mem_len] = '\0';
	}
done:
	o->used = 0;
}

static void out_put(struct rec_out *o, const char *s, size_t n)
{
	while (n) {
		size_t k = sizeof(o->chunk) - o->used < n ? sizeof(o->chunk) - o->used : n;

		memcpy(o->chunk + o->used, s, k);
		o->used += k;
		s += k;
		n -= k;
		if (o->used == sizeof(o->chunk))
			out_flush(o);
	}
}

static void out_str(struct rec_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* The text: a comment naming the interface, then "KEY PREFIX ..." per peer. */
static int format_to(const struct hubd_config *cfg, struct rec_out *o)
{
	out_str(o, "# hubd: the peers that ran on ");
	out_str(o, cfg->iface.name);
	out_str(o, ", for who keeps what after a reboot\n");
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_conf *p = &cfg->peers[i];
		char b64[WGNL_KEY_B64_LEN + 1], pf[HUBD_PREFIX_STRLEN + 1];

		wgnl_key_to_base64(b64, p->public_key);
		out_put(o, b64, WGNL_KEY_B64_LEN);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			pf[0] = ' ';
			hubd_prefix_format(&p->allowed_ips[j], pf + 1, sizeof(pf) - 1);
			out_str(o, pf);
		}
		out_put(o, "\n", 1);
	}
	out_flush(o);
	return o->err;
}

int hubd_record_format(const struct hubd_config *cfg, char **ret, size_t *ret_len)
{
	struct rec_out *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return -ENOMEM;
	o->fd = -1;
	r = format_to(cfg, o);
	if (r == 0 && !o->mem)
		r = (o->mem = strdup("")) ? 0 : -ENOMEM;
	if (r < 0) {
		free(o->mem);
		free(o);
		return r;
	}
	*ret = o->mem;
	*ret_len = o->mem_len;
	free(o);
	return 0;
}

/*
 * Write the record to tmp, fsync it, rename it over path, fsync the directory:
 * a crash at any point leaves the old record or the new one, whole. Only
 * system calls and formatting, no malloc: the writer child runs it too.
 */
static int write_file(const char *dir, const char *tmp, const char *path,
		      const struct hubd_config *cfg, struct rec_out *o)
{
	int r, dfd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	o->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (o->fd < 0)
		return -errno;
	r = format_to(cfg, o);
	if (r == 0 && fsync(o->fd) < 0)
		r = -errno;
	close(o->fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* The rename itself is on disk only once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

int hubd_record_save(const char *dir, const struct hubd_config *cfg)
{
	_cleanup_free_ char *path = record_path(dir, cfg->iface.name, "");
	_cleanup_free_ char *tmp = record_path(dir, cfg->iface.name, ".");
	_cleanup_free_ struct rec_out *o = calloc(1, sizeof(*o));

	if (!path || !tmp || !o)
		return -ENOMEM;
	return write_file(dir, tmp, path, cfg, o);
}

/*
 * The writer child: one at a time, per process (as there is one state record).
 * fork() gives it the configuration as it stands, copy-on-write, for free: the
 * loop spends only the fork on a record, and never waits for the disk.
 */
static struct {
	pid_t pid; /* 0: none running */
	sd_event_source *source;
	struct hubd *h;
	uint64_t started_us, fork_us;
	size_t n_peers; /* in the configuration it writes */
	/* Its paths, not malloc'd: the child leaks nothing at _exit (valgrind checks it too). */
	char path[PATH_MAX], tmp[PATH_MAX];
	void (*done)(void *userdata);
	void *userdata;
} writer;

/* A failure to save is logged once per run; it is tried again with the next change. */
static void saved(struct hubd *h, int r, size_t n_peers, uint64_t took_us, uint64_t loop_us)
{
	if (r == 0)
		log_debug("state record: %zu peers saved in %llu us (the loop's share: %llu us)",
			  n_peers, (unsigned long long)took_us, (unsigned long long)loop_us);
	if (r < 0 && !h->record_warned)
		log_warn("%s: cannot keep the state record (%s): after a reboot, a clash between "
			 "peer files goes to the name that sorts first",
			 h->state_dir, strerror(-r));
	h->record_warned |= r < 0;
}

/* The child's exit: 0, its errno, or -EINTR when it was killed. */
static int child_result(int code, int status)
{
	if (code != CLD_EXITED)
		return -EINTR;
	return status ? -status : 0;
}

/* The child is reaped (by sd-event, after its callback; or by writer_wait). Its source is
 * left for the next start or writer_wait to drop: sd-event reaps through it after the
 * callback returns. */
static void writer_finish(int r)
{
	writer.pid = 0;
	saved(writer.h, r, writer.n_peers, hubd_now_us() - writer.started_us, writer.fork_us);
}

static int on_writer_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	(void)s;
	(void)userdata;
	writer_finish(child_result(si->si_code, si->si_status));
	if (writer.done)
		writer.done(writer.userdata); /* what changed meanwhile is saved in turn */
	return 0;
}

/* Wait for a running child (at exit, or when it could not be watched); drop its source. */
static void writer_wait(void)
{
	siginfo_t si = {0};
	int r;

	if (writer.pid) {
		do
			r = waitid(P_PID, (id_t)writer.pid, &si, WEXITED);
		while (r < 0 && errno == EINTR);
		writer_finish(r < 0 ? -errno : child_result(si.si_code, si.si_status));
	}
	writer.source = sd_event_source_disable_unref(writer.source);
}

pid_t hubd_record_writer(void)
{
	return writer.pid;
}

/* In the child: write, and say how it went by the exit status (an errno fits in it). */
static _Noreturn void child_write(const char *dir, const char *tmp, const char *path,
				  const struct hubd_config *cfg)
{
	static struct rec_out o; /* the child's own copy: no malloc after fork */
	int r = write_file(dir, tmp, path, cfg, &o);

	_exit(r < 0 && -r < 256 ? -r : r < 0 ? EIO : 0);
}

void hubd_record_write_async(struct hubd *h, sd_event *e, void (*done)(void *), void *userdata)
{
	uint64_t t0 = hubd_now_us();
	pid_t pid;

	if (writer.pid || !h->record_dirty || !h->state_dir || !h->cfg)
		return; /* a child at work: its done() comes back for what is dirty */
	writer.source = sd_event_source_disable_unref(writer.source); /* the last child's */
	if (!e ||
	    (size_t)snprintf(writer.path, sizeof(writer.path), "%s/%s.peers", h->state_dir,
			     h->cfg->iface.name) >= sizeof(writer.path) ||
	    (size_t)snprintf(writer.tmp, sizeof(writer.tmp), "%s/.%s.peers", h->state_dir,
			     h->cfg->iface.name) >= sizeof(writer.tmp)) {
		hubd_record_write(h);
		return;
	}
	pid = fork();
	if (pid == 0)
		child_write(h->state_dir, writer.tmp, writer.path, h->cfg);
	if (pid < 0) {
		log_debug("state record: no child process (%s): saved on the loop",
			  strerror(errno));
		hubd_record_write(h);
		return;
	}
	h->record_dirty = false; /* a failure is tried again with the next change, not before */
	writer.pid = pid;
	writer.h = h;
	writer.started_us = t0;
	writer.done = done;
	writer.userdata = userdata;
	writer.n_peers = h->cfg->n_peers;
	writer.fork_us = hubd_now_us() - t0;
	/* SIGCHLD is blocked (loop_init), as sd-event wants; without a watch, wait here. */
	if (sd_event_add_child(e, &writer.source, pid, WEXITED, on_writer_exit, NULL) < 0)
		writer_wait();
}

void hubd_record_write(struct hubd *h)
{
	uint64_t t0;
	int r;

	writer_wait(); /* the last child's record first, then what changed since */
	if (!h->record_dirty || !h->state_dir || !h->cfg)
		return;
	t0 = hubd_now_us();
	h->record_dirty = false; /* a failure is tried again with the next change, not before */
	r = hubd_record_save(h->state_dir, h->cfg);
	t0 = hubd_now_us() - t0;
	saved(h, r, h->cfg->n_peers, t0, t0);
}
