/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ExpiresAt: the peer leaves the kernel at that wall-clock moment.
 *
 * One timerfd on CLOCK_REALTIME, armed at the earliest ExpiresAt still ahead.
 * An absolute realtime timer fires when the wall clock reaches the moment,
 * however the clock got there (a step forward by NTP or by hand included),
 * and TFD_TIMER_CANCEL_ON_SET wakes it on any step of the clock as well: a
 * step back may bring expired peers back in, so everything is looked at
 * again then. Either way the peers whose state flips are handed to the loop
 * as changed files: the one-file reconcile removes or restores them, and the
 * loop's debounce is not waited for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "access.h"
#include "log.h"
#include "loop.h"

/* Far enough to mean never, near enough for every time_t. */
#define EXPIRY_NEVER ((time_t)1 << 40)

static unsigned note_peer(struct hubd_loop *l, const struct hubd_peer_conf *p)
{
	char file[HUBD_PEER_NAME_MAX + sizeof(".conf")];

	snprintf(file, sizeof(file), "%s.conf", p->name);
	return loop_note_file(l, file);
}

/* The peers whose side of their ExpiresAt differs from the side they are kept on. */
static unsigned note_flipped(struct hubd_loop *l, int64_t now)
{
	const struct hubd_config *cfg = l->h->cfg;
	unsigned flags = 0;

	for (size_t i = 0; cfg && i < cfg->n_peers; i++)
		if (hubd_peer_expired(&cfg->peers[i], now))
			flags |= note_peer(l, &cfg->peers[i]);
	for (size_t i = 0; cfg && i < cfg->n_expired; i++)
		if (!hubd_peer_expired(&cfg->expired[i], now))
			flags |= note_peer(l, &cfg->expired[i]);
	return flags;
}

static void expiry_arm(struct hubd_loop *l);

static int on_expiry(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hubd_loop *l = userdata;
	uint64_t ticks;
	ssize_t n = read(fd, &ticks, sizeof(ticks));
	unsigned flags;

	if (n < 0 && errno == ECANCELED)
		log_debug("the wall clock was set: ExpiresAt looked at again");
	flags = note_flipped(l, hubd_clock_now());
	if (flags)
		loop_schedule(l, flags, 0);
	expiry_arm(l); /* re-arming also clears the cancelled state */
	return 0;
}

static void expiry_arm(struct hubd_loop *l)
{
	int64_t now = hubd_clock_now(), next;
	struct itimerspec its = {0};

	if (l->expiry_fd < 0)
		return;
	next = hubd_config_next_expiry(l->h->cfg, now);
	its.it_value.tv_sec = next ? (time_t)next : EXPIRY_NEVER;
	if (timerfd_settime(l->expiry_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) <
	    0)
		log_warn("ExpiresAt timer: %s; expiry waits for the next reconcile",
			 strerror(errno));
}

/* After every reconcile and health check: the peers, and so the next ExpiresAt, may differ. */
static void expiry_after(struct hubd_loop *l)
{
	if (l->expiry_chained)
		l->expiry_chained(l);
	expiry_arm(l);
}

int expiry_start(struct hubd_loop *l)
{
	int r;

	l->expiry_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->expiry_fd < 0)
		return -errno;
	r = sd_event_add_io(l->event, &l->expiry_io, l->expiry_fd, EPOLLIN, on_expiry, l);
	if (r < 0) {
		close(l->expiry_fd);
		l->expiry_fd = -1;
		return r;
	}
	l->expiry_chained = l->after;
	l->after = expiry_after;
	expiry_arm(l);
	return 0;
}

void expiry_stop(struct hubd_loop *l)
{
	if (l->after == expiry_after)
		l->after = l->expiry_chained;
	l->expiry_chained = NULL;
	l->expiry_io = sd_event_source_disable_unref(l->expiry_io);
	if (l->expiry_fd >= 0)
		close(l->expiry_fd);
	l->expiry_fd = -1;
}
