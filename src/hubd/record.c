/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state record (record.h): parsed into indexes by key and by prefix. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "macro.h"
#include "record.h"

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

int hubd_record_format(const struct hubd_config *cfg, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	fprintf(f, "# hubd: the peers that ran on %s, for who keeps what after a reboot\n",
		cfg->iface.name);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_conf *p = &cfg->peers[i];
		char b64[WGNL_KEY_B64_LEN + 1], pf[HUBD_PREFIX_STRLEN];

		wgnl_key_to_base64(b64, p->public_key);
		fputs(b64, f);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			hubd_prefix_format(&p->allowed_ips[j], pf, sizeof(pf));
			fprintf(f, " %s", pf);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int hubd_record_save(const char *dir, const struct hubd_config *cfg)
{
	_cleanup_free_ char *path = record_path(dir, cfg->iface.name, "");
	_cleanup_free_ char *tmp = record_path(dir, cfg->iface.name, ".");
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1, dfd = -1;
	size_t len;
	int r;

	if (!path || !tmp)
		return -ENOMEM;
	r = hubd_record_format(cfg, &text, &len);
	if (r < 0)
		return r;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_full(fd, text, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* The rename itself is on disk only once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

void hubd_record_write(struct hubd *h)
{
	int r;

	if (!h->record_dirty || !h->state_dir || !h->cfg)
		return;
	h->record_dirty = false; /* a failure is tried again with the next change, not before */
	r = hubd_record_save(h->state_dir, h->cfg);
	if (r < 0 && !h->record_warned)
		log_warn("%s: cannot keep the state record (%s): after a reboot, a clash between "
			 "peer files goes to the name that sorts first",
			 h->state_dir, strerror(-r));
	h->record_warned |= r < 0;
}
