/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-wgnl IFNAME WGNL_TOOL [NPEERS...]: libwgnl against wg(8) on the same
 * peers, in one run. For each size, the median of BENCH_REPS (default 3)
 * runs of `wg setconf` and of `wgnl-tool set` on the same config file (both
 * parse the text and send it; peers emptied, untimed, before each run), then
 * of `wg show IFNAME dump` and `wgnl-tool dump` (both receive the whole
 * device and print it; checked to print the same text), and of the library's
 * get alone. wg and ours alternate run by run, each first in every other
 * rep; the ratio of the medians is printed with the median of the reps' own
 * ratios. Each figure is a process's wall time with its own user and system
 * CPU time (wait4), so that a difference can be placed in the tool or in the
 * kernel. Prints figures and ours/wg ratios; it is not a test.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hubd/wgnl.h"

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One timed process: wall clock, and its own user and system CPU time, so
 * that a difference can be placed in the tool or in the kernel. */
struct timing {
	double wall, user, sys;
};

static double tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Run argv with stdout to out_path (or /dev/null); wall seconds taken, < 0
 * on failure. tm, if not NULL, gets the wall, user and system times. */
static double run(char *const argv[], const char *out_path, struct timing *tm)
{
	posix_spawn_file_actions_t fa;
	double t0 = now();
	struct rusage ru;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	if (tm)
		*tm = (struct timing){now() - t0, tv_sec(ru.ru_utime), tv_sec(ru.ru_stime)};
	return now() - t0;
}

static int empty_device(struct wgnl *nl, const char *ifname)
{
	struct wgnl_device *dev = wgnl_device_new(ifname);
	int r;

	if (!dev)
		return -ENOMEM;
	dev->flags = WGNL_DEV_REPLACE_PEERS;
	r = wgnl_set_device(nl, dev, NULL);
	wgnl_device_free(dev);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* The medians of each component over reps runs: a run's user and system
 * times are not always those of its median wall time. */
static struct timing median_timing(struct timing *t, int reps)
{
	double w[16], u[16], s[16];

	for (int i = 0; i < reps; i++) {
		w[i] = t[i].wall;
		u[i] = t[i].user;
		s[i] = t[i].sys;
	}
	return (struct timing){median(w, reps), median(u, reps), median(s, reps)};
}

/* The ratio of the medians, and the median of each rep's own ratio: a pair
 * runs back to back, so the second figure is less moved by the load of a
 * shared machine drifting during the run. */
static void print_pair(const char *what, const char *ours_name, struct timing *to,
		       const char *ref_name, struct timing *tr, int reps)
{
	struct timing ours = median_timing(to, reps), ref = median_timing(tr, reps);
	double pair[16];

	for (int i = 0; i < reps; i++)
		pair[i] = to[i].wall / tr[i].wall;
	printf("  %-5s %-14s %8.3f s (user %7.3f sys %7.3f)   %-14s %8.3f s (user %7.3f sys "
	       "%7.3f)   ratio %.2fx (paired %.2fx)\n",
	       what, ours_name, ours.wall, ours.user, ours.sys, ref_name, ref.wall, ref.user,
	       ref.sys, ours.wall / ref.wall, median(pair, reps));
}

/* wg and ours alternate, each run from an empty device and each first in
 * every other rep, so that a change in the machine's load during the run
 * weighs on both alike. */
static int bench_set(struct wgnl *nl, const char *ifname, const char *tool, const char *conf,
		     int reps)
{
	char *wg[] = {"wg", "setconf", (char *)ifname, (char *)conf, NULL};
	char *ours[] = {(char *)tool, "set", (char *)ifname, (char *)conf, NULL};
	struct timing tw[16], to[16];

	for (int i = 0; i < reps; i++)
		for (int k = 0; k < 2; k++) {
			bool is_wg = (k + i) % 2 == 0;

			if (empty_device(nl, ifname) < 0 ||
			    run(is_wg ? wg : ours, NULL, is_wg ? &tw[i] : &to[i]) < 0)
				return -1;
		}
	print_pair("set", "wgnl-tool set", to, "wg setconf", tw, reps);
	return 0;
}

/* Both dumps must print the same text: the same work, byte for byte. */
static int same_output(char *const a[], char *const b[])
{
	char fa[] = "/tmp/bench-wgnl-a-XXXXXX", fb[] = "/tmp/bench-wgnl-b-XXXXXX", cmd[256];
	int da = mkstemp(fa), db = mkstemp(fb), r = -1;
	char *sh[] = {"sh", "-c", cmd, NULL};

	if (da >= 0 && db >= 0 && run(a, fa, NULL) >= 0 && run(b, fb, NULL) >= 0) {
		snprintf(cmd, sizeof(cmd), "cmp -s %s %s", fa, fb);
		r = run(sh, NULL, NULL) >= 0 ? 0 : -1;
	}
	if (da >= 0)
		close(da), unlink(fa);
	if (db >= 0)
		close(db), unlink(fb);
	return r;
}

static int bench_get(struct wgnl *nl, const char *ifname, const char *tool, int reps)
{
	char *wg[] = {"wg", "show", (char *)ifname, "dump", NULL};
	char *ours[] = {(char *)tool, "dump", (char *)ifname, NULL};
	struct timing tw[16], to[16];
	double tl[16];

	if (same_output(ours, wg) < 0)
		printf("  NOTE: wgnl-tool dump and wg show dump printed different text\n");
	for (int i = 0; i < reps; i++) {
		struct wgnl_device *dev = NULL;
		bool wg_first = i % 2 == 0;
		double t0;

		if (run(wg_first ? wg : ours, NULL, wg_first ? &tw[i] : &to[i]) < 0 ||
		    run(wg_first ? ours : wg, NULL, wg_first ? &to[i] : &tw[i]) < 0)
			return -1;
		t0 = now();
		if (wgnl_get_device(nl, ifname, &dev) < 0)
			return -1;
		tl[i] = now() - t0;
		wgnl_device_free(dev);
	}
	print_pair("get", "wgnl-tool dump", to, "wg show dump", tw, reps);
	printf("  get   library alone, no process, no printing: %8.3f s\n", median(tl, reps));
	return 0;
}

static int bench_size(struct wgnl *nl, const char *ifname, const char *tool, unsigned long n,
		      int reps)
{
	char cmd[1024], conf[] = "/tmp/bench-wgnl-XXXXXX";
	char *gen[] = {"sh", "-c", cmd, NULL};
	int fd = mkstemp(conf), r;

	if (fd < 0)
		return -1;
	close(fd);
	/* Without a private key the kernel skips each peer's static
	 * Diffie-Hellman, the same cost for both tools: what is left is
	 * what the tools differ in. */
	snprintf(cmd, sizeof(cmd), "'%s' gen %lu 1 7 | grep -v '^PrivateKey'", tool, n);
	printf("%lu peers:\n", n);
	r = run(gen, conf, NULL) < 0 ? -1 : bench_set(nl, ifname, tool, conf, reps);
	unlink(conf);
	/* The device holds the peers of the last set, ours. */
	return r < 0 ? r : bench_get(nl, ifname, tool, reps);
}

int main(int argc, char **argv)
{
	const char *reps_env = getenv("BENCH_REPS");
	int reps = reps_env ? atoi(reps_env) : 3, r = 0;
	struct wgnl *nl = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-wgnl IFNAME WGNL_TOOL [NPEERS...]\n");
		return 2;
	}
	if (reps < 1 || reps > 16)
		reps = 3;
	if (wgnl_open(&nl) < 0) {
		fprintf(stderr, "bench-wgnl: no WireGuard here\n");
		return 77;
	}
	printf("bench-wgnl: median of %d runs each\n", reps);
	for (int i = 3; i < argc || (argc == 3 && i < 5); i++) {
		unsigned long n = argc > 3 ? strtoul(argv[i], NULL, 10) : (i == 3 ? 10000 : 50000);

		if (bench_size(nl, argv[1], argv[2], n, reps) < 0) {
			fprintf(stderr, "bench-wgnl: %lu peers failed\n", n);
			r = 1;
			break;
		}
	}
	empty_device(nl, argv[1]);
	wgnl_close(nl);
	return r;
}
