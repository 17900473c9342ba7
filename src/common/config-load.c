/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loading: read hubd.conf, its private key, peers.d/NAME.conf and their
 * preshared keys, with bounds on every read, then verify. The only I/O here
 * is reading files and checking who may read the key files.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-internal.h"

/*
 * Open a file without blocking on a FIFO and without becoming its
 * controlling terminal. Symbolic links are followed: a Kubernetes ConfigMap
 * or Secret mount is made of them.
 */
static int open_regular(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return S_ISDIR(st->st_mode) ? -EISDIR : -EBADFD;
	}
	return fd;
}

/*
 * Read at most max bytes; -EFBIG when there are more. Having read exactly
 * the size fstat() gave (expect) is taken as the end: that saves the read()
 * that would return 0, a noticeable share of the system calls of loading
 * many peer files. A file that grew meanwhile yields more than expect and is read on.
 */
static int read_bounded(int fd, char *buf, size_t max, size_t expect, size_t *ret_len)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
		if (len == expect && expect < max)
			break;
	}
	*ret_len = len;
	return 0;
}

static const char *open_error(int r)
{
	switch (r) {
	case -EISDIR:
		return "is a directory, not a file";
	case -EBADFD:
		return "is not a regular file";
	case -EFBIG:
		return "is too large";
	default:
		return strerror(-r);
	}
}

/* The whole text of a config file, or a diagnostic naming the file. */
static int read_config_file(const char *path, char **ret, size_t *ret_len, struct hubd_diags *diags)
{
	struct stat st;
	char *buf = NULL;
	int fd = open_regular(path, &st), r;

	if (fd < 0) {
		hubd_diag_add(diags, path, 0, false, "cannot read: %s", open_error(fd));
		return fd;
	}
	/* One byte more than the limit tells a file at the limit from a larger one. */
	buf = malloc(st.st_size < HUBD_CONFIG_MAX_FILE_SIZE ? (size_t)st.st_size + 2
							    : HUBD_CONFIG_MAX_FILE_SIZE + 1);
	if (!buf) {
		close(fd);
		hubd_diag_add(diags, path, 0, false, "cannot read: out of memory");
		return -ENOMEM;
	}
	r = read_bounded(fd, buf,
			 st.st_size < HUBD_CONFIG_MAX_FILE_SIZE ? (size_t)st.st_size + 1
								: HUBD_CONFIG_MAX_FILE_SIZE,
			 (size_t)st.st_size, ret_len);
	close(fd);
	if (r == -EFBIG && st.st_size < HUBD_CONFIG_MAX_FILE_SIZE)
		r = -EAGAIN; /* it grew while we read it: an editor is writing it */
	if (r < 0) {
		free(buf);
		if (r == -EFBIG)
			hubd_diag_add(diags, path, 0, false, "file is larger than %u bytes",
				      HUBD_CONFIG_MAX_FILE_SIZE);
		else
			hubd_diag_add(diags, path, 0, false, "cannot read: %s",
				      r == -EAGAIN ? "it changed while being read" : strerror(-r));
		return r;
	}
	*ret = buf;
	return 0;
}

/* Where a diagnostic about a key file goes: the line naming it, or the file itself. */
struct key_ref {
	const char *what;      /* "PrivateKeyFile" or "PresharedKeyFile" */
	const char *conf_path; /* the config file naming it, NULL for the default */
	unsigned line;
};

static void __attribute__((format(printf, 3, 4)))
key_err(struct hubd_diags *diags, const struct key_ref *ref, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hubd_diag_add(diags, ref->conf_path, ref->line, false, "%s", msg);
}

/* Only root may own a key file, and only its owner may read it. */
static bool key_file_safe(const char *file, const struct stat *st, const struct key_ref *ref,
			  struct hubd_diags *diags)
{
	bool ok = true;

	if (st->st_uid != 0) {
		key_err(diags, ref, "%s %s is owned by uid %u, not root: refused (chown root %s)",
			ref->what, file, (unsigned)st->st_uid, file);
		ok = false;
	}
	if (st->st_mode & 077) {
		key_err(diags, ref,
			"%s %s has mode %04o, which lets group or others read it: refused "
			"(chmod 600 %s)",
			ref->what, file, (unsigned)(st->st_mode & 07777), file);
		ok = false;
	}
	return ok;
}

static int load_key_file(const char *file, wgnl_key key, const struct key_ref *ref,
			 struct hubd_diags *diags)
{
	char buf[HUBD_KEY_FILE_MAX + 1], *s, *e;
	struct stat st;
	size_t len = 0;
	int fd = open_regular(file, &st), r;

	if (fd < 0) {
		key_err(diags, ref, "%s %s: cannot read: %s", ref->what, file, open_error(fd));
		return fd;
	}
	if (!key_file_safe(file, &st, ref, diags)) {
		close(fd);
		return -EPERM;
	}
	r = read_bounded(fd, buf, HUBD_KEY_FILE_MAX, (size_t)st.st_size, &len);
	close(fd);
	if (r < 0) {
		key_err(diags, ref, "%s %s: cannot read: %s", ref->what, file, open_error(r));
		explicit_bzero(buf, sizeof(buf));
		return r;
	}
	buf[len] = '\0';
	for (s = buf; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'; s++)
		;
	for (e = s + strlen(s);
	     e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r');)
		*--e = '\0';
	r = wgnl_key_from_base64(key, s);
	explicit_bzero(buf, sizeof(buf));
	if (r < 0)
		key_err(diags, ref,
			"%s %s does not hold a WireGuard key (44 characters of base64, as 'wg "
			"genkey' writes)",
			ref->what, file);
	return r;
}

/* A relative key path is relative to the config dir, so a config dir can be moved whole. */
static char *resolve(const char *dir, const char *file)
{
	char *p = NULL;

	if (file[0] == '/')
		return strdup(file);
	return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

static void iface_defaults(struct hubd_iface_conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->name, HUBD_DEFAULT_IFNAME);
	c->mtu = HUBD_DEFAULT_MTU;
	c->forward = HUBD_FORWARD_HUB;
	c->health_interval = HUBD_DEFAULT_HEALTH;
	c->stale_after = HUBD_DEFAULT_STALE;
}

static void load_iface(struct hubd_config *cfg, const char *dir, struct hubd_diags *diags)
{
	struct hubd_iface_conf *c = &cfg->iface;
	struct key_ref ref = {.what = "PrivateKeyFile"};
	char *path = NULL, *text = NULL, *key = NULL;
	size_t len;

	iface_defaults(c);
	if (asprintf(&path, "%s/hubd.conf", dir) < 0) {
		hubd_diag_add(diags, dir, 0, false, "out of memory");
		return;
	}
	if (read_config_file(path, &text, &len, diags) < 0 ||
	    hubd_parse_interface(path, text, len, c, diags) < 0) {
		iface_defaults(c);
		goto out;
	}
	key = resolve(dir, c->private_key_file ? c->private_key_file : "private.key");
	if (!key) {
		hubd_diag_add(diags, path, 0, false, "out of memory");
		goto out;
	}
	/* The default key file has no line of its own: name the file itself. */
	ref.conf_path = c->private_key_file ? path : key;
	ref.line = c->private_key_file_line;
	if (load_key_file(key, c->private_key, &ref, diags) < 0)
		goto out;
	free(c->private_key_file);
	c->private_key_file = key;
	key = NULL;
	c->has_private_key = true;
	wgnl_key_public_from_private(c->public_key, c->private_key);
	cfg->iface_ok = true;
out:
	free(key);
	free(text);
	free(path);
}

/*
 * Peer file names by peer name, the order the verifier takes peers in (by
 * file name "a-b.conf" would come before "a.conf", by peer name after "a"):
 * a cold start that acts on the first files while the rest are read needs
 * every peer named before a file among the files before it.
 */
static int cmp_name(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t lx = strlen(x) - strlen(".conf"), ly = strlen(y) - strlen(".conf");
	int r = memcmp(x, y, lx < ly ? lx : ly);

	return r ? r : (lx > ly) - (lx < ly);
}

/* The peer file names in dir, sorted; editor leftovers and dotfiles left out. */
static int list_peer_files(const char *dir, char ***ret, size_t *ret_n)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		char **grown;

		if (!hubd_is_peer_filename(de->d_name))
			continue;
		if ((n & (n - 1)) == 0) {
			grown = realloc(names, (n ? n * 2 : 16) * sizeof(*names));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			names = grown;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (!r && errno)
		r = -errno;
	closedir(d);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return r;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_name);
	*ret = names;
	*ret_n = n;
	return 0;
}

static int load_psk(const char *dir, struct hubd_peer_conf *p, struct hubd_diags *diags)
{
	struct key_ref ref = {"PresharedKeyFile", p->path, p->psk_file_line};
	char *file;
	int r;

	if (!p->psk_file)
		return 0;
	file = resolve(dir, p->psk_file);
	if (!file) {
		hubd_diag_add(diags, p->path, p->psk_file_line, false, "out of memory");
		return -ENOMEM;
	}
	r = load_key_file(file, p->psk, &ref, diags);
	if (r < 0) {
		free(file);
		return r;
	}
	free(p->psk_file);
	p->psk_file = file;
	p->has_psk = true;
	return 0;
}

/* Parse one peer file into *ret; -errno when it is rejected (diagnostics say why). */
static int load_peer(const char *dir, const char *pdir, const char *file,
		     struct hubd_peer_conf *ret, struct hubd_diags *diags)
{
	char e[HUBD_ESCAPE_LEN], *name, *path = NULL, *text = NULL;
	size_t len;
	int r;

	name = strndup(file, strlen(file) - strlen(".conf"));
	if (!name || asprintf(&path, "%s/%s", pdir, file) < 0) {
		free(name);
		hubd_diag_add(diags, pdir, 0, false, "out of memory");
		return -ENOMEM;
	}
	if (!hubd_is_valid_peer_name(name)) {
		hubd_diag_add(diags, pdir, 0, false,
			      "peer file '%s' is not NAME.conf with a NAME of 1 to %d letters, "
			      "digits, '-', '_', '.' or '@'",
			      hubd_escape(file, e), HUBD_PEER_NAME_MAX);
		r = -EINVAL;
		goto out;
	}
	r = read_config_file(path, &text, &len, diags);
	if (r < 0)
		goto out;
	r = hubd_parse_peer(path, name, text, len, ret, diags);
	if (r < 0)
		goto out;
	r = load_psk(dir, ret, diags);
	if (r < 0)
		hubd_peer_conf_clear(ret);
out:
	free(text);
	free(path);
	free(name);
	return r;
}

int hubd_config_read_peer(const char *dir, const char *file, struct hubd_peer_conf *ret,
			  struct hubd_diags *diags)
{
	char *pdir = NULL, *path = NULL;
	struct stat st;
	int r;

	if (asprintf(&pdir, "%s/peers.d", dir) < 0)
		return -ENOMEM;
	if (asprintf(&path, "%s/%s", pdir, file) < 0) {
		free(pdir);
		return -ENOMEM;
	}
	/* Gone is not an error: the peer was removed (or renamed away). */
	r = stat(path, &st) < 0 && errno == ENOENT ? -ENOENT : 0;
	if (r == 0)
		r = load_peer(dir, pdir, file, ret, diags);
	free(path);
	free(pdir);
	return r;
}

/* A run of peer files loaded by one thread: its own peers, diagnostics and verdicts. */
struct load_part {
	const char *dir, *pdir;
	char **files;
	size_t n;
	struct hubd_peer_conf *peers; /* room for n */
	size_t n_peers;
	bool *rejected; /* per file */
	struct hubd_diags *diags;
};

static void *load_part(void *arg)
{
	struct load_part *p = arg;

	for (size_t i = 0; i < p->n; i++) {
		p->rejected[i] =
		    load_peer(p->dir, p->pdir, p->files[i], &p->peers[p->n_peers], p->diags) != 0;
		if (!p->rejected[i])
			p->n_peers++;
	}
	return NULL;
}

/* From this many files on, a second thread reads half of them: a large cold start spends
 * much of its user time in open, read and close. It only reads and parses. */
#define LOAD_PARALLEL_MIN 512

/*
 * Load files[0..n) into cfg->peers, in order, as if one by one: the second
 * half's peers and diagnostics come after the first half's.
 */
static void load_files(struct hubd_config *cfg, const char *dir, const char *pdir, char **files,
		       size_t n, bool *rejected, struct hubd_diags *diags)
{
	struct hubd_diags later = {0};
	struct load_part a = {dir, pdir, files, n, cfg->peers, 0, rejected, diags};
	struct load_part b = a;
	pthread_t t;
	bool two = false;

	if (n >= LOAD_PARALLEL_MIN) {
		a.n = n / 2;
		b = (struct load_part){dir, pdir,	    files + a.n, n - a.n, cfg->peers + a.n,
				       0,   rejected + a.n, &later};
		two = pthread_create(&t, NULL, load_part, &b) == 0;
		if (!two)
			a.n = n;
	}
	load_part(&a);
	cfg->n_peers = a.n_peers;
	if (!two)
		return;
	pthread_join(t, NULL);
	memmove(cfg->peers + a.n_peers, b.peers, b.n_peers * sizeof(*cfg->peers));
	cfg->n_peers += b.n_peers;
	for (size_t i = 0; i < later.n; i++)
		hubd_diag_add(diags, later.items[i].path, later.items[i].line,
			      later.items[i].warning, "%s", later.items[i].message);
	hubd_diags_free(&later);
}

int hubd_config_list_peers(const char *dir, char ***ret, size_t *ret_n, struct hubd_diags *diags)
{
	char *pdir = NULL;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (asprintf(&pdir, "%s/peers.d", dir) < 0)
		return -ENOMEM;
	r = list_peer_files(pdir, ret, ret_n);
	if (r == -ENOENT)
		r = 0; /* a hub without peers yet */
	else if (r < 0)
		hubd_diag_add(diags, pdir, 0, false, "cannot list: %s", strerror(-r));
	free(pdir);
	return r;
}

static int load_peers(struct hubd_config *cfg, const char *dir, struct hubd_diags *diags)
{
	char **files = NULL, *pdir = NULL;
	bool *rejected = NULL;
	size_t n = 0;
	int r;

	r = hubd_config_list_peers(dir, &files, &n, diags);
	if (r < 0)
		goto out;
	if (asprintf(&pdir, "%s/peers.d", dir) < 0) {
		r = -ENOMEM;
		goto out;
	}
	cfg->peers = calloc(n ? n : 1, sizeof(*cfg->peers));
	rejected = calloc(n ? n : 1, sizeof(*rejected));
	if (!cfg->peers || !rejected) {
		r = -ENOMEM;
		goto out;
	}
	load_files(cfg, dir, pdir, files, n, rejected, diags);
	for (size_t i = 0; i < n; i++) {
		if (!rejected[i])
			continue;
		files[i][strlen(files[i]) - strlen(".conf")] = '\0';
		if (hubd_config_add_rejected(cfg, files[i]) < 0)
			r = -ENOMEM;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	free(rejected);
	free(pdir);
	return r;
}

int hubd_config_read_iface(const char *dir, struct hubd_config **ret, struct hubd_diags *diags)
{
	struct hubd_config *cfg;
	struct stat st;
	int r;

	r = stat(dir, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (r < 0) {
		hubd_diag_add(diags, dir, 0, false, "cannot open the config directory: %s",
			      strerror(-r));
		return r;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	load_iface(cfg, dir, diags);
	*ret = cfg;
	return 0;
}

int hubd_config_read(const char *dir, struct hubd_config **ret, struct hubd_diags *diags)
{
	struct hubd_config *cfg;
	int r = hubd_config_read_iface(dir, &cfg, diags);

	if (r < 0)
		return r;
	r = load_peers(cfg, dir, diags);
	if (r < 0) {
		hubd_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

int hubd_config_load(const char *dir, struct hubd_config **ret, struct hubd_diags *diags)
{
	int r = hubd_config_read(dir, ret, diags);

	if (r >= 0)
		hubd_config_verify(*ret, diags);
	return r;
}
