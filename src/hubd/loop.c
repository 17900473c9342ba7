/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event loop: one sd-event loop whose sources (the config directory
 * watch, the kernel monitors, the health timer, signals, the control socket)
 * all end in loop_schedule(). The pending triggers and the changed peer files
 * are the loop's scheduling state; the debounce timer hands them to
 * hubd_reconcile() as one request.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "loop.h"
#include "record.h"

#ifndef USEC_PER_MSEC
#define USEC_PER_MSEC 1000ULL
#endif

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void notify_status(struct hubd_loop *l)
{
	size_t up, stale;

	if (!l->h->cfg) {
		sd_notify(0, "STATUS=waiting for a usable configuration");
		return;
	}
	hubd_health_counts(l->h, &up, &stale);
	sd_notifyf(0, "STATUS=%zu peers, %zu up, %zu stale", l->h->cfg->n_peers, up, stale);
}

static void forget_files(struct hubd_loop *l)
{
	for (size_t i = 0; i < l->n_files; i++)
		free(l->files[i]);
	free(l->files);
	l->files = NULL;
	l->n_files = 0;
}

unsigned loop_note_file(struct hubd_loop *l, const char *file)
{
	char **grown;

	if (strv_contains(l->files, l->n_files, file))
		return RECONCILE_FILES;
	if (l->n_files >= HUBD_FILES_MAX)
		return RECONCILE_CONFIG;
	grown = realloc(l->files, (l->n_files + 1) * sizeof(*grown));
	if (!grown)
		return RECONCILE_CONFIG;
	l->files = grown;
	l->files[l->n_files] = strdup(file);
	if (!l->files[l->n_files])
		return RECONCILE_CONFIG;
	l->n_files++;
	return RECONCILE_FILES;
}

static void record_later(struct hubd_loop *l);

/* The child that wrote the record ended: what changed meanwhile is written in turn. */
static void record_done(void *userdata)
{
	record_later(userdata);
}

/* Written by a child process: the loop never waits for the disk (record.h). */
static int on_record(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hubd_loop *l = userdata;

	hubd_record_write_async(l->h, l->event, record_done, l);
	return 0;
}

/* A change since the record was written: write it RECORD_DELAY_USEC from now, unless a
 * write is already due or under way (its end comes back here). */
static void record_later(struct hubd_loop *l)
{
	int on = SD_EVENT_OFF;

	if (!l->h->record_dirty || !l->h->state_dir || hubd_record_writer())
		return;
	if (!l->record_timer) {
		if (sd_event_add_time_relative(l->event, &l->record_timer, CLOCK_MONOTONIC,
					       RECORD_DELAY_USEC, USEC_PER_MSEC, on_record, l) < 0)
			hubd_record_write(l->h); /* no timer: now, rather than never */
		return;
	}
	sd_event_source_get_enabled(l->record_timer, &on);
	if (on != SD_EVENT_OFF)
		return;
	sd_event_source_set_time_relative(l->record_timer, RECORD_DELAY_USEC);
	sd_event_source_set_enabled(l->record_timer, SD_EVENT_ONESHOT);
}

/* Run a reconcile for triggers now. A reconcile that reads everything reads the changed files
 * with it: what the loop still had pending for them is done. */
static int reconcile_now(struct hubd_loop *l, const struct hubd_reconcile_request *req,
			 struct hubd_changes *ch, struct hubd_diags *diags)
{
	unsigned flags = req->triggers;
	bool reload =
	    (flags & (RECONCILE_CONFIG | RECONCILE_FILES)) && !(flags & RECONCILE_DRY) && l->ready;
	int r;

	if (reload)
		sd_notify(0, "RELOADING=1");
	if ((flags & RECONCILE_CONFIG) && !(flags & RECONCILE_DRY)) {
		l->pending &= ~RECONCILE_FILES;
		if (req->files != l->files)
			forget_files(l);
	}
	r = hubd_reconcile(l->h, req, ch, diags);
	record_later(l);
	if (l->after)
		l->after(l);
	if (r < 0 && r != -EINVAL)
		log_err("reconcile: %s", strerror(-r));
	if (!(flags & RECONCILE_DRY) && r > 0)
		log_event(LOG_INFO, "reconcile", NULL, "reconcile: %d change%s", r,
			  r == 1 ? "" : "s");
	if (reload)
		sd_notify(0, "READY=1");
	notify_status(l);
	return r;
}

int loop_reconcile_now(struct hubd_loop *l, unsigned flags, struct hubd_changes *ch,
		       struct hubd_diags *diags)
{
	struct hubd_reconcile_request req = {.triggers = flags};

	return reconcile_now(l, &req, ch, diags);
}

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hubd_loop *l = userdata;
	unsigned flags = l->pending;
	struct hubd_changes ch = {.keep = HUBD_LOG_CHANGES_MAX};
	struct hubd_diags diags = {0};

	struct hubd_reconcile_request req = {flags, l->files, l->n_files};

	/* The pending triggers and files are handed over: what comes in while this reconcile
	 * runs is the next one's. */
	l->pending = 0;
	l->files = NULL;
	l->n_files = 0;
	if (flags)
		reconcile_now(l, &req, &ch, &diags);
	l->last_reconcile = now_us(); /* the spacing counts from its end */
	for (size_t i = 0; i < req.n_files; i++)
		free(req.files[i]);
	free((char **)req.files);
	changes_clear(&ch);
	hubd_diags_free(&diags);
	return 0;
}

void loop_schedule(struct hubd_loop *l, unsigned flags, uint64_t delay_usec)
{
	int enabled = SD_EVENT_OFF;
	uint64_t now = 0, when, armed = 0;

	l->pending |= flags;
	sd_event_now(l->event, CLOCK_MONOTONIC, &now);
	when = now + delay_usec;
	/* Never closer than DEBOUNCE_SPACING_USEC to the last reconcile: a storm of events
	 * reconciles 20 times a second at most. SIGHUP and hubctl (delay 0) do not wait. */
	if (delay_usec && when < l->last_reconcile + DEBOUNCE_SPACING_USEC)
		when = l->last_reconcile + DEBOUNCE_SPACING_USEC;
	sd_event_source_get_enabled(l->debounce, &enabled);
	sd_event_source_get_time(l->debounce, &armed);
	/* Armed already: that deadline may come earlier, never later, so a storm of events
	 * cannot postpone it forever. */
	if (enabled != SD_EVENT_OFF && armed <= when)
		return;
	sd_event_source_set_time(l->debounce, when);
	sd_event_source_set_enabled(l->debounce, SD_EVENT_ONESHOT);
}

/* HealthInterval, or longer on a hub whose dump is slow (health.c). */
static uint64_t health_usec(const struct hubd *h)
{
	return hubd_health_next_us(h);
}

/* WireGuard sends no notifications: a periodic dump is the only way to see its drift. */
static int on_health(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hubd_loop *l = userdata;
	struct hubd_changes ch = {.keep = HUBD_LOG_CHANGES_MAX};
	struct hubd_diags diags = {0};

	struct hubd_reconcile_request req = {.triggers = RECONCILE_DRIFT | RECONCILE_TIMER};

	if (l->h->cfg) {
		/* Its full walk saw every peer: a scrape soon after needs no walk of its own. */
		if (hubd_reconcile(l->h, &req, &ch, &diags) >= 0)
			l->h->observed_us = now_us();
		hubd_health_check(l->h);
	}
	if (l->after)
		l->after(l);
	changes_clear(&ch);
	hubd_diags_free(&diags);
	notify_status(l);
	sd_event_source_set_time_relative(s, health_usec(l->h));
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct hubd_loop *l = userdata;

	if (si->ssi_signo == SIGHUP) {
		loop_schedule(l, RECONCILE_CONFIG, 0);
		return 0;
	}
	/* SIGTERM leaves the kernel as it is, so sessions survive a restart or upgrade. */
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int loop_init(struct hubd_loop *l, struct hubd *h)
{
	sigset_t mask;
	int r;

	*l = (struct hubd_loop){.h = h, .inotify_fd = -1, .control_fd = -1, .expiry_fd = -1};
	r = sd_event_default(&l->event);
	if (r < 0)
		return r;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD); /* sd_event_add_child wants it blocked: the record's writer */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sd_event_add_signal(l->event, NULL, SIGTERM, on_signal, l);
	sd_event_add_signal(l->event, NULL, SIGINT, on_signal, l);
	sd_event_add_signal(l->event, NULL, SIGHUP, on_signal, l);
	/* With WatchdogSec= set, sd-event pings the watchdog for us as long as the loop turns. */
	sd_event_set_watchdog(l->event, true);
	/* Accuracy 1 ms: sd-event's default (0) lets a timer slip by up to 250 ms, five times the
	 * debounce itself. */
	r = sd_event_add_time_relative(l->event, &l->debounce, CLOCK_MONOTONIC, 0, USEC_PER_MSEC,
				       on_debounce, l);
	if (r < 0)
		return r;
	sd_event_source_set_enabled(l->debounce, SD_EVENT_OFF);
	return 0;
}

/* Milliseconds since the kernel started this process (for --debug: what start-up costs before
 * main, in the dynamic loader, and after). -1 when /proc does not say. */
static long ms_since_exec(void)
{
	unsigned long long start = 0;
	struct timespec now;
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	/* after ")": state is field 3, starttime field 22 */
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &start) != 1)
		return -1;
	clock_gettime(CLOCK_BOOTTIME, &now);
	return (long)(now.tv_sec * 1000 + now.tv_nsec / 1000000 -
		      (long long)(start * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK)));
}

int loop_run(struct hubd_loop *l)
{
	struct hubd *h = l->h;
	struct hubd_changes ch = {.keep = HUBD_LOG_CHANGES_MAX};
	struct hubd_diags diags = {0};
	sd_event_source *health = NULL;
	int r;

	log_debug("set up %ld ms after exec", ms_since_exec());
	r = loop_reconcile_now(l, RECONCILE_CONFIG, &ch, &diags);
	if (r < 0 && !h->cfg)
		log_err("no usable configuration in %s: waiting for one", h->config_dir);
	hubd_health_check(h);
	if (l->after)
		l->after(l);
	l->ready = true;
	log_event(LOG_INFO, "ready", NULL, "ready: %zu peers on %s", h->cfg ? h->cfg->n_peers : 0,
		  h->cfg ? h->cfg->iface.name : "(none)");
	sd_notify(0, "READY=1");
	log_debug("ready %ld ms after exec", ms_since_exec());
	notify_status(l);
	changes_clear(&ch);
	hubd_diags_free(&diags);
	malloc_trim(0); /* a change record per peer of a cold start */
	r = sd_event_add_time_relative(l->event, &health, CLOCK_MONOTONIC, health_usec(h), 0,
				       on_health, l);
	if (r >= 0)
		r = sd_event_loop(l->event);
	sd_event_source_disable_unref(health);
	return r;
}

void loop_done(struct hubd_loop *l)
{
	hubd_record_write(l->h); /* a child's write ended, and what changed since, here and now */
	sd_event_source_disable_unref(l->record_timer);
	l->record_timer = NULL;
	sd_event_source_disable_unref(l->debounce);
	l->debounce = NULL;
	forget_files(l);
	l->event = sd_event_unref(l->event);
}
