/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inotify on the config directory, peers.d and the directory above them.
 *
 * Watches follow the current inode of each path and are re-established after
 * every event batch: an atomic rename, a Kubernetes ConfigMap "..data" symlink
 * swap or a deleted and recreated directory all leave us watching what the
 * paths now name. The parent watch only exists to see the config directory
 * itself come back.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "loop.h"

#define DIR_MASK                                                                                   \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB |        \
	 IN_DELETE_SELF | IN_MOVE_SELF)
#define PARENT_MASK (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)

static void rewatch(int fd, int *wd, const char *path, uint32_t mask)
{
	int nwd = inotify_add_watch(fd, path, mask);

	if (*wd >= 0 && nwd != *wd)
		inotify_rm_watch(fd, *wd); /* the path names another inode now */
	*wd = nwd;
}

void watch_refresh(struct hubd_loop *l)
{
	char parent[PATH_MAX], peers[PATH_MAX];

	snprintf(parent, sizeof(parent), "%s", l->h->config_dir);
	snprintf(peers, sizeof(peers), "%s/peers.d", l->h->config_dir);
	rewatch(l->inotify_fd, &l->wd_parent, dirname(parent), PARENT_MASK | IN_ONLYDIR);
	rewatch(l->inotify_fd, &l->wd_dir, l->h->config_dir, DIR_MASK | IN_ONLYDIR);
	rewatch(l->inotify_fd, &l->wd_peers, peers, DIR_MASK | IN_ONLYDIR);
}

/* Does an event on the parent directory concern the config directory? */
static bool parent_event_relevant(struct hubd_loop *l, const struct inotify_event *ev)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", l->h->config_dir);
	return ev->len && !strcmp(ev->name, basename(copy));
}

/* An editor's backup or a package manager's leftover: never read, never a reason to reload. */
static bool is_leftover(const char *name)
{
	static const char *const suffixes[] = {"~",	  ".swp",      ".bak",	    ".tmp",
					       ".orig",	  ".dpkg-new", ".dpkg-old", ".dpkg-dist",
					       ".rpmnew", ".rpmsave",  ".ucf-dist", ".ucf-old"};
	size_t n = strlen(name);

	if (name[0] == '.' && name[1] != '.')
		return true; /* dotfiles: hubctl's and editors' temporaries, but not "..data" */
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t k = strlen(suffixes[i]);

		if (n > k && !strcmp(name + n - k, suffixes[i]))
			return true;
	}
	return false;
}

/*
 * What an event in peers.d asks for: a peer file changed (RECONCILE_FILES,
 * noted by the loop), nothing (a temporary or a backup), or reading
 * everything (RECONCILE_CONFIG): peers.d itself moved or went, a ConfigMap
 * "..data" swap, or any other file, which might be a PSK.
 */
static unsigned peers_event(struct hubd_loop *l, const struct inotify_event *ev)
{
	if (!ev->len || (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)))
		return RECONCILE_CONFIG;
	if (hubd_is_peer_filename(ev->name))
		return loop_note_file(l, ev->name);
	return is_leftover(ev->name) ? 0 : RECONCILE_CONFIG;
}

static unsigned event_flags(struct hubd_loop *l, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW)
		return RECONCILE_CONFIG; /* events were lost: read everything to be sure */
	if (ev->wd == l->wd_parent)
		return parent_event_relevant(l, ev) ? RECONCILE_CONFIG : 0;
	if (ev->wd == l->wd_peers)
		return peers_event(l, ev);
	return RECONCILE_CONFIG; /* hubd.conf, a key file, peers.d itself */
}

/*
 * Peer files created in this batch and not yet closed: their writer may still
 * be writing. A file renamed into place, closed after writing, or removed is
 * complete and can be read at once.
 */
struct opened {
	char names[8][NAME_MAX + 1];
	size_t n;
	bool overflow;
};

static void track_open(struct opened *o, const struct inotify_event *ev)
{
	if (!ev->len || !hubd_is_peer_filename(ev->name))
		return;
	if (ev->mask & IN_CREATE) {
		if (o->n < 8)
			snprintf(o->names[o->n++], sizeof(o->names[0]), "%s", ev->name);
		else
			o->overflow = true;
		return;
	}
	if (!(ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)))
		return;
	for (size_t i = 0; i < o->n; i++) {
		if (strcmp(o->names[i], ev->name))
			continue;
		o->n--;
		memmove(o->names[i], o->names[i + 1], (o->n - i) * sizeof(o->names[0]));
		break;
	}
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hubd_loop *l = userdata;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct opened open = {0};
	unsigned flags = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			flags |= event_flags(l, ev);
			if (ev->wd == l->wd_peers)
				track_open(&open, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (flags & RECONCILE_CONFIG)
		watch_refresh(l); /* a directory may have been replaced */
	if (!flags)
		return 0;
	loop_schedule(l, flags,
		      flags == RECONCILE_FILES && !open.n && !open.overflow ? DEBOUNCE_SETTLED_USEC
									    : DEBOUNCE_CONFIG_USEC);
	return 0;
}

int watch_start(struct hubd_loop *l)
{
	l->wd_parent = l->wd_dir = l->wd_peers = -1;
	l->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (l->inotify_fd < 0)
		return -errno;
	watch_refresh(l);
	if (l->wd_dir < 0)
		log_warn("cannot watch %s: %s", l->h->config_dir, strerror(errno));
	return sd_event_add_io(l->event, NULL, l->inotify_fd, EPOLLIN, on_inotify, l);
}

void watch_stop(struct hubd_loop *l)
{
	if (l->inotify_fd >= 0)
		close(l->inotify_fd);
	l->inotify_fd = -1;
}
