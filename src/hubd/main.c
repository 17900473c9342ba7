/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubd: the WireGuard hub daemon. main is linear: parse arguments, open the
 * kernel interfaces, reconcile once, send READY=1, then run one sd-event loop
 * whose sources all end in a (debounced) reconcile.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "control.h"
#include "reconcile.h"
#include "log.h"
#include "loop.h"

#ifndef USEC_PER_MSEC
#define USEC_PER_MSEC 1000ULL
#endif
#define DEFAULT_SOCKET "/run/hubd/control.sock"

struct options {
	const char *config_dir;
	const char *socket_path;
	gid_t gid;
	bool foreground;
	bool down;
	bool debug;
};

static void usage(FILE *f)
{
	fputs(
	    "Usage: hubd [OPTIONS]\n"
	    "  --config-dir DIR   configuration directory (default /etc/hubd)\n"
	    "  --socket PATH      control socket (default " DEFAULT_SOCKET ")\n"
	    "  --group NAME       group allowed on the control socket besides root\n"
	    "  --foreground       log to stderr even under systemd\n"
	    "  --down             remove the link and the nftables table hubd created, then exit\n"
	    "  --debug            log debug messages\n"
	    "  --help, --version\n",
	    f);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"config-dir", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"group", required_argument, NULL, 'g'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"down", no_argument, NULL, 'd'},
	    {"debug", no_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {},
	};
	struct group *gr;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			o->config_dir = optarg;
			break;
		case 's':
			o->socket_path = optarg;
			break;
		case 'g':
			gr = getgrnam(optarg);
			if (!gr) {
				fprintf(stderr, "hubd: unknown group '%s'\n", optarg);
				return -EINVAL;
			}
			o->gid = gr->gr_gid;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'd':
			o->down = true;
			break;
		case 'D':
			o->debug = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			puts(PACKAGE_STRING);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hubd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
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

int loop_reconcile_now(struct hubd_loop *l, unsigned flags, struct hubd_changes *ch,
		       struct hubd_diags *diags)
{
	bool reload =
	    (flags & (RECONCILE_CONFIG | RECONCILE_FILES)) && !(flags & RECONCILE_DRY) && l->ready;
	int r;

	if (reload)
		sd_notify(0, "RELOADING=1");
	r = hubd_reconcile(l->h, flags, ch, diags);
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

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hubd_loop *l = userdata;
	unsigned flags = l->pending;
	struct hubd_changes ch = {.keep = HUBD_LOG_CHANGES_MAX};
	struct hubd_diags diags = {0};

	l->pending = 0;
	/* Changed peer files alone take the shortcut; with anything else, everything is read. */
	if ((flags & RECONCILE_FILES) && flags != RECONCILE_FILES)
		flags = (flags & ~RECONCILE_FILES) | RECONCILE_CONFIG;
	/* A config reload compares everything anyway; drift alone must not re-read files. */
	if (flags & RECONCILE_CONFIG)
		flags &= ~RECONCILE_DRIFT;
	loop_reconcile_now(l, flags, &ch, &diags);
	l->last_reconcile = hubd_now_us(); /* the spacing counts from its end */
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

static uint64_t health_usec(const struct hubd *h)
{
	return (uint64_t)(h->cfg ? h->cfg->iface.health_interval : HUBD_DEFAULT_HEALTH) *
	       1000000ULL;
}

/* WireGuard sends no notifications: a periodic dump is the only way to see its drift. */
static int on_health(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hubd_loop *l = userdata;
	struct hubd_changes ch = {.keep = HUBD_LOG_CHANGES_MAX};
	struct hubd_diags diags = {0};

	if (l->h->cfg) {
		hubd_reconcile(l->h, RECONCILE_DRIFT | RECONCILE_TIMER, &ch, &diags);
		if (hubd_health_check(l->h) > 0)
			hubd_reconcile(l->h, RECONCILE_DRIFT | RECONCILE_TIMER, &ch, &diags);
	}
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

static int run_down(struct hubd *h)
{
	struct hubd_config *cfg = NULL;
	struct hubd_diags diags = {0};
	const char *name = HUBD_DEFAULT_IFNAME;
	int r = control_daemon_running(h->socket_path, h->config_dir);

	/* A running hubd would put everything back at once, without the learned endpoints. */
	if (r != 0) {
		if (r > 0)
			log_err("a hubd is running for %s (it answers on %s): stop it first, "
				"e.g. systemctl stop hubd, then run hubd --down",
				h->config_dir, h->socket_path);
		else
			log_err("cannot tell whether a hubd runs on %s: %s; not removing anything",
				h->socket_path, strerror(-r));
		return 1;
	}

	/* The name comes from hubd.conf; a broken config still names its interface if it parsed
	 * that far. */
	if (hubd_config_load(h->config_dir, &cfg, &diags) >= 0 && cfg && cfg->iface.name[0])
		name = cfg->iface.name;
	r = hubd_down(h, name);
	hubd_config_free(cfg);
	hubd_diags_free(&diags);
	return r < 0 ? 1 : 0;
}

static int setup_loop(struct hubd_loop *l, const struct options *o)
{
	sigset_t mask;
	int r;

	r = sd_event_default(&l->event);
	if (r < 0)
		return r;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
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
	r = control_start(l, o->socket_path, o->gid);
	if (r < 0) {
		log_err("control socket %s: %s", o->socket_path, strerror(-r));
		return r;
	}
	r = watch_start(l);
	if (r < 0)
		log_warn("config directory watch: %s; use hubctl reload", strerror(-r));
	r = monitor_start(l);
	if (r < 0)
		log_warn("kernel notifications: %s; relying on the health timer", strerror(-r));
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

static int run_daemon(struct hubd *h, const struct options *o)
{
	struct hubd_loop l = {.h = h, .inotify_fd = -1, .control_fd = -1};
	struct hubd_changes ch = {.keep = HUBD_LOG_CHANGES_MAX};
	struct hubd_diags diags = {0};
	sd_event_source *health = NULL;
	int r;

	r = setup_loop(&l, o);
	if (r < 0)
		goto out;
	log_debug("set up %ld ms after exec", ms_since_exec());
	r = loop_reconcile_now(&l, RECONCILE_CONFIG, &ch, &diags);
	if (r < 0 && !h->cfg)
		log_err("no usable configuration in %s: waiting for one", h->config_dir);
	hubd_health_check(h);
	l.ready = true;
	log_event(LOG_INFO, "ready", NULL, "ready: %zu peers on %s", h->cfg ? h->cfg->n_peers : 0,
		  h->cfg ? h->cfg->iface.name : "(none)");
	sd_notify(0, "READY=1");
	log_debug("ready %ld ms after exec", ms_since_exec());
	notify_status(&l);
	changes_clear(&ch);
	hubd_diags_free(&diags);
	malloc_trim(0); /* a change record per peer of a cold start */
	r = sd_event_add_time_relative(l.event, &health, CLOCK_MONOTONIC, health_usec(h), 0,
				       on_health, &l);
	if (r >= 0)
		r = sd_event_loop(l.event);
out:
	sd_event_source_disable_unref(health);
	sd_event_source_disable_unref(l.debounce);
	control_stop(&l, o->socket_path);
	monitor_stop(&l);
	watch_stop(&l);
	sd_event_unref(l.event);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o = {.config_dir = HUBD_DEFAULT_CONFIG_DIR, .socket_path = DEFAULT_SOCKET};
	struct hubd h = {0};
	int r;

	/*
	 * A fixed mmap threshold: glibc's adapts it upwards to the largest block
	 * freed (a 10,000-peer array is megabytes), after which such arrays come
	 * from the heap, whose freed middle a long-running daemon never returns.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	log_setup(o.foreground);
	log_set_debug(o.debug);
	log_debug("main %ld ms after exec", ms_since_exec());
	h.config_dir = o.config_dir;
	h.socket_path = o.socket_path;
	h.socket_gid = o.gid;
	r = hubd_init(&h);
	if (r < 0) {
		log_err("cannot open the kernel interfaces: %s%s", strerror(-r),
			r == -ENOENT || r == -EPROTONOSUPPORT ? " (no WireGuard in this kernel?)"
							      : "");
		hubd_done(&h);
		return 1;
	}
	r = o.down ? run_down(&h) : run_daemon(&h, &o);
	hubd_done(&h);
	return r;
}
