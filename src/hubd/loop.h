/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one sd-event loop and its sources: the config directory watch, the
 * kernel monitors, the health timer, signals and the control socket. Every
 * trigger ends in loop_schedule(), which merges bursts into one reconcile.
 */
#ifndef HUBD_LOOP_H
#define HUBD_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon.h"

struct mnl_socket;

struct hubd_loop {
	struct hubd *h;
	sd_event *event;
	sd_event_source *debounce;
	unsigned pending; /* RECONCILE_* flags waiting for the debounce timer */
	char **files;	  /* with RECONCILE_FILES pending: the peer files that changed */
	size_t n_files;
	uint64_t last_reconcile; /* CLOCK_MONOTONIC usec when the debounce timer last fired */
	bool ready;

	int inotify_fd;
	int wd_parent, wd_dir, wd_peers;

	struct mnl_socket *rtmon;
	struct mnl_socket *nfmon;
	uint32_t own_port; /* our rtnetlink socket's port: its echoes are not drift */
	bool nf_changed;   /* nftables messages seen, their transaction's NEWGEN not yet */
	bool link_seen;	   /* in this read of rtmon: a message about our link */
	bool link_drift;   /* the last of them says it is not as configured */

	int control_fd;
	int expiry_fd; /* ExpiresAt's CLOCK_REALTIME timerfd (expiry.c) */
	sd_event_source *expiry_io;
	void (*expiry_chained)(struct hubd_loop *l); /* the after-hook before expiry's */
	sd_event_source *record_timer; /* saves the state record a while after a change */

	/* Host-name endpoints, resolved off the loop (resolve.c). */
	sd_event_source *resolve_io;	/* answers are in */
	sd_event_source *resolve_timer; /* the next back-off's end */
	size_t resolving;		/* queries out */
	/* Called after every reconcile and health check: how a source that acts on the
	 * peer states (resolve.c) learns of new ones without the loop calling it by name. */
	void (*after)(struct hubd_loop *l);
};

/*
 * When a change is reconciled. A peer file that is complete (renamed into
 * place, closed after writing, or removed) waits DEBOUNCE_SETTLED_USEC, just
 * long enough to take the other events of the same operation along. Anything
 * else (a file created and still open, hubd.conf, a directory swap) waits
 * DEBOUNCE_CONFIG_USEC from its first event, so an editor's or kubelet's
 * burst becomes one reconcile; kernel notifications wait DEBOUNCE_KERNEL_USEC.
 * A deadline only ever moves earlier, never later, and no reconcile starts
 * within DEBOUNCE_SPACING_USEC of the previous one: a storm of events still
 * reconciles 20 times a second at most and never waits forever.
 */
#define DEBOUNCE_SETTLED_USEC (5 * 1000)
#define DEBOUNCE_CONFIG_USEC  (50 * 1000)
#define DEBOUNCE_KERNEL_USEC  (50 * 1000)
#define DEBOUNCE_SPACING_USEC (50 * 1000)
/* The state record (record.h) is written this long after the change that dirtied it, so a
 * burst of changes costs one write. A crash within it loses only that burst's record. */
#define RECORD_DELAY_USEC (2 * 1000 * 1000)

void loop_schedule(struct hubd_loop *l, unsigned flags, uint64_t delay_usec);

/*
 * Note that the peer file peers.d/file changed, for the next reconcile.
 * Returns RECONCILE_FILES, or RECONCILE_CONFIG when too many did
 * (HUBD_FILES_MAX) or on ENOMEM: everything is read then.
 */
unsigned loop_note_file(struct hubd_loop *l, const char *file);

/*
 * The loop's life: loop_init sets up the event loop, its signals and timers;
 * the sources then attach themselves (watch_start, monitor_start,
 * control_start); loop_run reconciles once, sends READY=1 and runs until
 * SIGTERM; loop_done frees what loop_init made, once the sources stopped.
 */
int loop_init(struct hubd_loop *l, struct hubd *h);
int loop_run(struct hubd_loop *l);
void loop_done(struct hubd_loop *l);

/* Run a reconcile now, as the debounce timer does; used by the control socket. */
int loop_reconcile_now(struct hubd_loop *l, unsigned flags, struct hubd_changes *ch,
		       struct hubd_diags *diags);

int watch_start(struct hubd_loop *l);
void watch_refresh(struct hubd_loop *l);
void watch_stop(struct hubd_loop *l);

int monitor_start(struct hubd_loop *l);
void monitor_stop(struct hubd_loop *l);

/* Look up host-name endpoints off the loop (getaddrinfo_a), with a back-off per name. */
int resolve_start(struct hubd_loop *l);
void resolve_stop(struct hubd_loop *l);

/* ExpiresAt: a wall-clock timer at the next one, re-armed after every reconcile (the
 * after-hook, chained) and on every step of the clock (expiry.c). */
int expiry_start(struct hubd_loop *l);
void expiry_stop(struct hubd_loop *l);

int control_start(struct hubd_loop *l, const char *path, gid_t gid);
void control_stop(struct hubd_loop *l, const char *path);

/* GET /metrics on MetricsListen (libmicrohttpd on this loop), following every reconcile's
 * configuration; metrics_http_stop closes it. */
int metrics_http_start(struct hubd_loop *l);
void metrics_http_stop(struct hubd_loop *l);

#endif
