/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A new hubd config directory: hubd.conf, private.key and peers.d/, written
 * by `hubctl init` on a hub and by `hubctl peer add --lan --format hubd` for
 * a gateway. Every file is created with O_EXCL, so nothing that exists is
 * ever replaced, and a failure half-way removes what this call made.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hubd/wgnl.h"
#include "hubctl-internal.h"
#include "macro.h"

static const char *const entries[] = {"hubd.conf", "private.key", "peers.d"};

/* An empty directory, as the Debian package installs /etc/hubd/peers.d: nothing to overwrite. */
static bool is_empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

int hubctl_config_dir_free(const char *dir)
{
	struct stat st;
	int r = 0;

	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "hubctl: %s exists and is not a directory\n", dir);
		return -ENOTDIR;
	}
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s/%s", dir, entries[i]) < 0) {
			path = NULL;
			return -ENOMEM;
		}
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode) && !strcmp(entries[i], "peers.d") &&
			    is_empty_dir(path))
				continue;
			fprintf(stderr, "hubctl: %s exists; not overwriting\n", path);
			r = -EEXIST;
		} else if (errno != ENOENT) {
			fprintf(stderr, "hubctl: %s: %s\n", path, strerror(errno));
			r = -errno;
		}
	}
	return r;
}

/* mkdir -p: the parents the admin has not made yet, 0755 like any /etc directory. */
static int mkdir_parents(const char *dir)
{
	_cleanup_free_ char *copy = strdup(dir);

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(copy, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A new file with exactly this mode, whatever the umask; never an existing one or a symlink. */
static int write_new(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r >= 0)
		r = write_full(fd, text, strlen(text));
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

struct made {
	char *paths[4];
	bool is_dir[4];
	size_t n;
};

static int make_one(struct made *m, const char *dir, const char *name, const char *text,
		    mode_t mode)
{
	char *path = NULL;
	int r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = text ? write_new(path, text, mode) : (mkdir(path, mode) < 0 ? -errno : 0);
	if (r == -EEXIST && !text && is_empty_dir(path)) {
		free(path); /* an empty peers.d that was there: kept as it is, never removed */
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "hubctl: %s: %s\n", path,
			r == -EEXIST ? "exists; not overwriting" : strerror(-r));
		free(path);
		return r;
	}
	m->is_dir[m->n] = !text;
	m->paths[m->n++] = path;
	return 0;
}

int hubctl_write_config_dir(const char *dir, const char *conf, const wgnl_key priv,
			    const char *peer_name, const char *peer_text)
{
	char key[WGNL_KEY_B64_LEN + 2];
	_cleanup_free_ char *peer_file = NULL;
	struct made m = {0};
	int r = mkdir_parents(dir);

	if (r < 0) {
		fprintf(stderr, "hubctl: %s: %s\n", dir, strerror(-r));
		return r;
	}
	if (peer_name && asprintf(&peer_file, "peers.d/%s.conf", peer_name) < 0) {
		peer_file = NULL;
		return -ENOMEM;
	}
	wgnl_key_to_base64(key, priv);
	strcat(key, "\n"); /* as `wg genkey` writes it */
	r = make_one(&m, dir, "private.key", key, 0600);
	sodium_memzero(key, sizeof(key));
	if (r >= 0)
		r = make_one(&m, dir, "hubd.conf", conf, 0644);
	if (r >= 0)
		r = make_one(&m, dir, "peers.d", NULL, 0755);
	if (r >= 0 && peer_file)
		r = make_one(&m, dir, peer_file, peer_text, 0644);
	/* Undo in reverse: a half-made directory would make the next try refuse. */
	for (size_t i = m.n; i-- > 0;) {
		if (r < 0)
			(m.is_dir[i] ? rmdir : unlink)(m.paths[i]);
		free(m.paths[i]);
	}
	if (r >= 0) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0) {
			fsync(fd); /* the files are complete; this only makes the names durable */
			close(fd);
		}
	}
	return r;
}
