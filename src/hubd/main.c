/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubd: the WireGuard hub daemon. main only wires: parse arguments, open the
 * kernel interfaces, then either take everything down (--down) or hand over
 * to the loop (loop.c), whose sources all end in a (debounced) reconcile.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <grp.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "config.h"
#include "control.h"
#include "daemon.h"
#include "log.h"
#include "loop.h"

#define DEFAULT_SOCKET	  "/run/hubd/control.sock"
#define DEFAULT_STATE_DIR "/var/lib/hubd"

struct options {
	const char *config_dir;
	const char *socket_path;
	const char *state_dir;
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
	    "  --state-dir DIR    where the state record is kept (default $STATE_DIRECTORY,\n"
	    "                     else " DEFAULT_STATE_DIR ")\n"
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
	    {"state-dir", required_argument, NULL, 'S'},
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
		case 'S':
			o->state_dir = optarg;
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

/* The loop and the sources that feed it, wired here: none of them knows the others. */
static int run_daemon(struct hubd *h, const struct options *o)
{
	struct hubd_loop l;
	int r = loop_init(&l, h);

	if (r < 0)
		log_err_errno(r, "event loop");
	else if ((r = control_start(&l, o->socket_path, o->gid)) < 0)
		log_err_errno(r, "control socket %s", o->socket_path);
	if (r >= 0) {
		int e = watch_start(&l);

		if (e < 0)
			log_warn("config directory watch: %s; use hubctl reload", strerror(-e));
		e = monitor_start(&l);
		if (e < 0)
			log_warn("kernel notifications: %s; relying on the health timer",
				 strerror(-e));
		e = resolve_start(&l);
		if (e < 0)
			log_warn("name resolution: %s; host-name endpoints stay unresolved",
				 strerror(-e));
		e = expiry_start(&l);
		if (e < 0)
			log_warn("ExpiresAt timer: %s; peers expire at the next reconcile",
				 strerror(-e));
		/* After resolve_start: it chains the after-hook that resolve_start set. */
		metrics_http_start(&l);
		r = loop_run(&l);
	}
	control_stop(&l, o->socket_path);
	metrics_http_stop(&l); /* the after-hooks come off in the reverse of their order */
	expiry_stop(&l);
	resolve_stop(&l);
	monitor_stop(&l);
	watch_stop(&l);
	loop_done(&l);
	return r < 0 ? 1 : 0;
}

/*
 * --state-dir, else what systemd made for StateDirectory= (the first of a
 * colon-separated list), else /var/lib/hubd. The returned string lives as long
 * as the process.
 */
static const char *state_dir(const struct options *o)
{
	static char env[PATH_MAX];
	const char *e = getenv("STATE_DIRECTORY");

	if (o->state_dir)
		return o->state_dir;
	if (!e || !*e)
		return DEFAULT_STATE_DIR;
	snprintf(env, sizeof(env), "%.*s", (int)strcspn(e, ":"), e);
	return env;
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
	/* hubd holds the hub's private key and the peers' preshared keys: no core dump, and no
	 * ptrace or /proc/PID/mem for anyone but root with CAP_SYS_PTRACE. */
	prctl(PR_SET_DUMPABLE, 0);
	log_setup(o.foreground);
	log_set_debug(o.debug);
	h.config_dir = o.config_dir;
	h.socket_path = o.socket_path;
	h.socket_gid = o.gid;
	h.state_dir = state_dir(&o);
	h.record_dirty = true; /* written once per run at least, even if nothing changes */
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
