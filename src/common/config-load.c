/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loading: read hubd.conf, its private key, peers.d/NAME.conf and their
 * preshared keys, with bounds on every read, then verify. The only I/O here
 * is reading files and checking who may read the key files.
 *
 * hubd.conf and its PrivateKeyFile are root's and are opened by path. What
 * peers.d holds may come from someone less trusted, so a peer file is opened
 * beneath peers.d and a PresharedKeyFile beneath the config directory: a
 * symbolic link may lead anywhere inside (a ConfigMap's "..data" links do),
 * never out of it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "access.h"
#include "config-internal.h"
#include "host.h"
#include "macro.h"

/* What every loader function needs to find files: the directories, open. */
struct load_ctx {
	const char *dir;   /* the config directory as given */
	int dirfd, pdirfd; /* the config directory and peers.d (-1 when missing) */
	bool has_key_id;   /* the private key file's identity, refused as a PSK */
	dev_t key_dev;
	ino_t key_ino;
};

/* fd if it is a regular file (st says what it is), else it is closed: -EISDIR or -EBADFD. */
static int regular_fd(int fd, struct stat *st)
{
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
 * Open a file without blocking on a FIFO and without becoming its
 * controlling terminal. Symbolic links are followed: a Kubernetes ConfigMap
 * or Secret mount is made of them.
 */
static int open_regular(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	return regular_fd(fd, st);
}

#define WALK_MAX_DEPTH 64 /* directories deep */
#define WALK_MAX_LINKS 40 /* symbolic links followed, as the kernel's MAXSYMLINKS */

/* Replace *rest by target + "/" + tail: a symbolic link's target goes before what follows it. */
static int walk_splice(char **rest, const char *target, const char *tail)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s%s", target, *tail ? "/" : "", tail) < 0)
		return -ENOMEM;
	free(*rest);
	*rest = s;
	return 0;
}

/* Step into the directory comp of the current one: push an O_PATH descriptor. */
static int walk_push(int *stack, size_t *depth, int cur, const char *comp)
{
	int fd;

	if (*depth == WALK_MAX_DEPTH)
		return -ENAMETOOLONG;
	fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ELOOP : -errno; /* swapped for a link meanwhile */
	stack[(*depth)++] = fd;
	return 0;
}

/*
 * One component at a time, each opened with O_NOFOLLOW: a link is read and
 * its target walked in turn, so that an absolute target or a ".." above
 * dirfd is refused (-EXDEV) before anything outside is looked at.
 */
int hubd_open_beneath_walk(int dirfd, const char *path, int flags)
{
	int stack[WALK_MAX_DEPTH], r = 0;
	size_t depth = 0, off = 0;
	unsigned links = 0;
	char *rest;

	if (path[0] == '/')
		return -EXDEV;
	rest = strdup(path);
	if (!rest)
		return -ENOMEM;
	for (;;) {
		int cur = depth ? stack[depth - 1] : dirfd;
		char *comp = rest + off, *slash, *tail, target[PATH_MAX];
		bool last;
		ssize_t n;

		while (*comp == '/')
			comp++;
		slash = strchr(comp, '/');
		tail = slash ? slash + 1 : comp + strlen(comp);
		if (slash)
			*slash = '\0';
		while (*tail == '/')
			tail++;
		last = !*tail;
		off = (size_t)(tail - rest);
		if (!*comp) {
			r = -ENOENT;
			break;
		}
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			if (comp[1] == '.' && depth == 0) {
				r = -EXDEV;
				break;
			}
			if (comp[1] == '.')
				close(stack[--depth]);
			if (last) {
				r = openat(depth ? stack[depth - 1] : dirfd, ".", flags);
				r = r < 0 ? -errno : r;
				break;
			}
			continue;
		}
		n = readlinkat(cur, comp, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = '\0';
			if (++links > WALK_MAX_LINKS) {
				r = -ELOOP;
				break;
			}
			if (target[0] == '/') {
				r = -EXDEV;
				break;
			}
			r = walk_splice(&rest, target, tail);
			if (r < 0)
				break;
			off = 0;
			continue;
		}
		if (errno != EINVAL) {
			r = -errno;
			break;
		}
		if (last) {
			r = openat(cur, comp, flags | O_NOFOLLOW);
			r = r < 0 ? -errno : r;
			break;
		}
		r = walk_push(stack, &depth, cur, comp);
		if (r < 0)
			break;
	}
	while (depth)
		close(stack[--depth]);
	free(rest);
	return r;
}

/* openat2(2) resolving beneath dirfd; -ENOSYS where the kernel (or a seccomp filter) lacks it. */
static int openat2_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)flags,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	/* A rename elsewhere on the system during the lookup gives EAGAIN: try again. */
	for (int i = 0; i < 8; i++) {
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd < 0)
		return errno == EPERM ? -ENOSYS : -errno;
	return (int)fd;
}

/*
 * open_regular, but path is resolved beneath dirfd: -EXDEV when it (or a
 * symbolic link on the way) leads out. Nothing that is not a regular file is
 * read: a FIFO or a device is opened without blocking, looked at and closed.
 */
static int open_beneath(int dirfd, const char *path, struct stat *st)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd = openat2_beneath(dirfd, path, flags);

	if (fd == -ENOSYS)
		fd = hubd_open_beneath_walk(dirfd, path, flags);
	if (fd < 0)
		return fd;
	return regular_fd(fd, st);
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
		return "is not a regular file: refused without reading it";
	case -EXDEV:
		return "refused: it is a symbolic link leading out of its directory";
	case -ELOOP:
		return "refused: too many symbolic links";
	case -EFBIG:
		return "is too large";
	default:
		return strerror(-r);
	}
}

/* The whole text of the open config file fd (closed here), or a diagnostic naming path. */
static int read_config_fd(int fd, const struct stat *st_in, const char *path, char **ret,
			  size_t *ret_len, struct hubd_diags *diags)
{
	struct stat st = *st_in;
	char *buf = NULL;
	int r;

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

static int read_config_file(const char *path, char **ret, size_t *ret_len, struct hubd_diags *diags)
{
	struct stat st;
	int fd = open_regular(path, &st);

	return read_config_fd(fd, &st, path, ret, ret_len, diags);
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

/* The key in the open key file fd (closed here): -EINVAL when it holds none. */
static int read_key_fd(int fd, const struct stat *st, wgnl_key key)
{
	char buf[HUBD_KEY_FILE_MAX + 1], *s, *e;
	size_t len = 0;
	int r = read_bounded(fd, buf, HUBD_KEY_FILE_MAX, (size_t)st->st_size, &len);

	close(fd);
	if (r < 0) {
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
	return r < 0 ? -EINVAL : 0;
}

static int load_key_file(const char *file, wgnl_key key, struct stat *ret_st,
			 const struct key_ref *ref, struct hubd_diags *diags)
{
	struct stat st;
	int fd = open_regular(file, &st), r;

	if (fd < 0) {
		key_err(diags, ref, "%s %s: cannot read: %s", ref->what, file, open_error(fd));
		return fd;
	}
	if (!key_file_safe(file, &st, ref, diags)) {
		close(fd);
		return -EPERM;
	}
	r = read_key_fd(fd, &st, key);
	if (r == -EINVAL)
		key_err(diags, ref,
			"%s %s does not hold a WireGuard key (44 characters of base64, as 'wg "
			"genkey' writes)",
			ref->what, file);
	else if (r < 0)
		key_err(diags, ref, "%s %s: cannot read: %s", ref->what, file, open_error(r));
	else
		*ret_st = st;
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
	c->max_peer_prefixes = HUBD_DEFAULT_MAX_PEER_PREFIXES;
	c->max_prefixes = HUBD_DEFAULT_MAX_PREFIXES;
}

static void load_iface(struct hubd_config *cfg, const char *dir, struct hubd_diags *diags)
{
	struct hubd_iface_conf *c = &cfg->iface;
	struct key_ref ref = {.what = "PrivateKeyFile"};
	char *path = NULL, *text = NULL, *key = NULL;
	struct stat st;
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
	if (load_key_file(key, c->private_key, &st, &ref, diags) < 0)
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

/* The part of file beneath root, or NULL when file does not start with root's path. */
static const char *strip_root(const char *root, const char *file)
{
	size_t n = root ? strlen(root) : 0;

	if (!root || root[0] != '/')
		return NULL;
	while (n && root[n - 1] == '/')
		n--;
	if (strncmp(file, root, n) != 0 || file[n] != '/')
		return NULL;
	for (file += n; *file == '/'; file++)
		;
	return file;
}

/*
 * PresharedKeyFile, relative to the config directory, or absolute inside it
 * (as given, or its canonical path): the part beneath it, NULL when the path
 * lies elsewhere. Only the text is compared; links are resolved beneath.
 */
static const char *psk_beneath(const struct load_ctx *ctx, const char *file)
{
	_cleanup_free_ char *real = NULL;
	const char *rel;

	if (file[0] != '/')
		return file;
	rel = strip_root(ctx->dir, file);
	if (rel)
		return rel;
	real = realpath(ctx->dir, NULL);
	return strip_root(real, file);
}

/*
 * One message for every way a PresharedKeyFile can be unusable, so that a
 * peer file cannot learn whether some path exists, whose it is or what it
 * holds; the path itself is not repeated either, as it came from the line.
 */
static void psk_refused(const struct load_ctx *ctx, const struct hubd_peer_conf *p,
			struct hubd_diags *diags)
{
	hubd_diag_add(diags, p->path, p->psk_file_line, false,
		      "PresharedKeyFile is not a usable key file under %s: it must be a regular "
		      "file there, owned by root, mode 0600 or stricter, holding one WireGuard key",
		      ctx->dir);
}

static int load_psk(const struct load_ctx *ctx, struct hubd_peer_conf *p, struct hubd_diags *diags)
{
	const char *rel;
	char *file;
	struct stat st;
	int fd, r;

	if (!p->psk_file)
		return 0;
	rel = psk_beneath(ctx, p->psk_file);
	if (!rel) {
		hubd_diag_add(diags, p->path, p->psk_file_line, false,
			      "PresharedKeyFile must name a file under %s (relative to it, or an "
			      "absolute path inside it)",
			      ctx->dir);
		return -EXDEV;
	}
	fd = ctx->dirfd < 0 ? -ENOENT : open_beneath(ctx->dirfd, rel, &st);
	if (fd >= 0 &&
	    (st.st_uid != 0 || (st.st_mode & 077) ||
	     (ctx->has_key_id && st.st_dev == ctx->key_dev && st.st_ino == ctx->key_ino))) {
		close(fd);
		fd = -EPERM;
	}
	r = fd < 0 ? fd : read_key_fd(fd, &st, p->psk);
	if (r < 0) {
		explicit_bzero(p->psk, sizeof(p->psk));
		psk_refused(ctx, p, diags);
		return r;
	}
	p->has_psk = true;
	file = resolve(ctx->dir, rel);
	if (file) {
		free(p->psk_file);
		p->psk_file = file;
	}
	return 0;
}

/* Parse one peer file, peers.d/file, into *ret; -errno when it is rejected (diagnostics say
 * why). */
static int load_peer(const struct load_ctx *ctx, const char *pdir, const char *file,
		     struct hubd_peer_conf *ret, struct hubd_diags *diags)
{
	char e[HUBD_ESCAPE_LEN], *name, *path = NULL, *text = NULL;
	struct stat st;
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
	r = ctx->pdirfd < 0 ? -ENOENT : open_beneath(ctx->pdirfd, file, &st);
	r = read_config_fd(r, &st, path, &text, &len, diags);
	if (r < 0)
		goto out;
	r = hubd_parse_peer(path, name, text, len, ret, diags);
	if (r < 0)
		goto out;
	r = load_psk(ctx, ret, diags);
	if (r < 0)
		hubd_peer_conf_clear(ret);
out:
	free(text);
	free(path);
	free(name);
	return r;
}

static void load_ctx_done(struct load_ctx *ctx)
{
	if (ctx->dirfd >= 0)
		close(ctx->dirfd);
	if (ctx->pdirfd >= 0)
		close(ctx->pdirfd);
}

/*
 * Open the config directory and peers.d (each may be missing: a file in it
 * then reads as missing). peers.d itself is root's and may be a symbolic link
 * anywhere (a git-sync checkout); what it holds is opened beneath it.
 */
static int load_ctx_init(struct load_ctx *ctx, const char *dir, const char *private_key_file)
{
	struct stat st;

	*ctx = (struct load_ctx){.dir = dir, .dirfd = -1, .pdirfd = -1};
	ctx->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->dirfd >= 0)
		ctx->pdirfd = openat(ctx->dirfd, "peers.d", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (private_key_file && stat(private_key_file, &st) == 0) {
		ctx->has_key_id = true;
		ctx->key_dev = st.st_dev;
		ctx->key_ino = st.st_ino;
	}
	return 0;
}

int hubd_config_read_peer(const char *dir, const char *file, struct hubd_peer_conf *ret,
			  struct hubd_diags *diags)
{
	_cleanup_free_ char *pdir = NULL, *key = NULL;
	struct load_ctx ctx;
	struct stat st;
	int r, fd;

	if (asprintf(&pdir, "%s/peers.d", dir) < 0 || asprintf(&key, "%s/private.key", dir) < 0)
		return -ENOMEM;
	/* The default key file's identity; a PSK equal to a key named elsewhere is refused by
	 * the verifier, which compares the keys themselves. */
	r = load_ctx_init(&ctx, dir, key);
	if (r < 0)
		return r;
	/* Gone is not an error: the peer was removed (or renamed away). */
	fd = ctx.pdirfd < 0 ? -ENOENT : open_beneath(ctx.pdirfd, file, &st);
	if (fd >= 0)
		close(fd);
	r = fd == -ENOENT ? -ENOENT : load_peer(&ctx, pdir, file, ret, diags);
	load_ctx_done(&ctx);
	return r;
}

/* A run of peer files loaded by one thread: its own peers, diagnostics and verdicts. */
struct load_part {
	const struct load_ctx *ctx;
	const char *pdir;
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
		    load_peer(p->ctx, p->pdir, p->files[i], &p->peers[p->n_peers], p->diags) != 0;
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
static void load_files(struct hubd_config *cfg, const struct load_ctx *ctx, const char *pdir,
		       char **files, size_t n, bool *rejected, struct hubd_diags *diags)
{
	struct hubd_diags later = {0};
	struct load_part a = {ctx, pdir, files, n, cfg->peers, 0, rejected, diags};
	struct load_part b = a;
	pthread_t t;
	bool two = false;

	if (n >= LOAD_PARALLEL_MIN) {
		a.n = n / 2;
		b = (struct load_part){ctx, pdir,	    files + a.n, n - a.n, cfg->peers + a.n,
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
	struct load_ctx ctx;
	size_t n = 0;
	int r;

	r = load_ctx_init(&ctx, dir,
			  cfg->iface.has_private_key ? cfg->iface.private_key_file : NULL);
	if (r < 0)
		return r;
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
	load_files(cfg, &ctx, pdir, files, n, rejected, diags);
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
	load_ctx_done(&ctx);
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
	/* A file past its ExpiresAt is valid and stays, but runs nowhere and claims nothing. */
	if (r >= 0)
		r = hubd_config_split_expired(cfg, hubd_clock_now());
	if (r < 0) {
		hubd_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

int hubd_config_load(const char *dir, struct hubd_config **ret, struct hubd_diags *diags)
{
	/* Read once per process: hubctl's verbs load once, and hubd keeps its own (reconcile). */
	static struct hubd_host host;
	static bool host_read;
	int r = hubd_config_read(dir, ret, diags);

	if (r < 0)
		return r;
	if (!host_read && hubd_host_read(&host, (*ret)->iface.name) >= 0)
		host_read = true;
	(*ret)->iface.host = host_read ? &host : NULL;
	hubd_config_verify(*ret, diags);
	return r;
}
