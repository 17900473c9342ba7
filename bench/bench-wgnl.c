/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-wgnl IFNAME WGNL_TOOL [NPEERS...]: libwgnl against wg(8) on the same
 * peers, in one run. For each size, the median of BENCH_REPS (default 3)
 * runs of `wg setconf` and of `wgnl-tool set` (same file, same process
 * start-up, peers emptied before each untimed), then one full get each way:
 * `wg show IFNAME dump` vs `wgnl-tool dump`, and the library's get alone.
 * Prints figures and ours/wg ratios; it is not a test.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Run argv with stdout to out_path (or /dev/null); seconds taken, < 0 on failure. */
static double run(char *const argv[], const char *out_path)
{
	posix_spawn_file_actions_t fa;
	double t0 = now();
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
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

/* Median time of argv over reps runs, each from an empty device. */
static double timed_set(struct wgnl *nl, const char *ifname, char *const argv[], int reps)
{
	double t[16];

	for (int i = 0; i < reps; i++) {
		if (empty_device(nl, ifname) < 0)
			return -1;
		t[i] = run(argv, NULL);
		if (t[i] < 0)
			return -1;
	}
	return median(t, reps);
}

static int bench_size(struct wgnl *nl, const char *ifname, const char *tool, unsigned long n,
		      int reps)
{
	char nstr[32], conf[] = "/tmp/bench-wgnl-XXXXXX";
	int fd = mkstemp(conf);
	double t_wg, t_ours;

	if (fd < 0)
		return -1;
	close(fd);
	snprintf(nstr, sizeof(nstr), "%lu", n);
	{
		/* Without a private key the kernel skips each peer's static
		 * Diffie-Hellman, the same cost for both tools: what is left is
		 * what the tools differ in. */
		char cmd[1024];
		char *gen[] = {"sh", "-c", cmd, NULL};

		snprintf(cmd, sizeof(cmd), "'%s' gen %s 1 7 | grep -v '^PrivateKey'", tool, nstr);
		if (run(gen, conf) < 0)
			return -1;
	}
	{
		char *wg[] = {"wg", "setconf", (char *)ifname, conf, NULL};
		char *ours[] = {(char *)tool, "set", (char *)ifname, conf, NULL};

		t_wg = timed_set(nl, ifname, wg, reps);
		t_ours = timed_set(nl, ifname, ours, reps);
	}
	unlink(conf);
	if (t_wg <= 0 || t_ours <= 0)
		return -1;
	printf("set %6lu peers: wgnl %8.3f s   wg setconf %8.3f s   ratio %.2fx\n", n, t_ours, t_wg,
	       t_ours / t_wg);
	return 0;
}

static int bench_get(struct wgnl *nl, const char *ifname, const char *tool, int reps)
{
	char *wg[] = {"wg", "show", (char *)ifname, "dump", NULL};
	char *ours[] = {(char *)tool, "dump", (char *)ifname, NULL};
	double tw[16], to[16], tl[16];

	for (int i = 0; i < reps; i++) {
		struct wgnl_device *dev = NULL;
		double t0;

		tw[i] = run(wg, NULL);
		to[i] = run(ours, NULL);
		t0 = now();
		if (wgnl_get_device(nl, ifname, &dev) < 0 || tw[i] < 0 || to[i] < 0)
			return -1;
		tl[i] = now() - t0;
		if (i == 0)
			printf("get of %zu peers:\n", dev->n_peers);
		wgnl_device_free(dev);
	}
	printf(
	    "  full get (process): wgnl-tool dump %8.3f s   wg show dump %8.3f s   ratio %.2fx\n",
	    median(to, reps), median(tw, reps), median(to, reps) / median(tw, reps));
	printf("  full get (library, no printing): %8.3f s\n", median(tl, reps));
	return 0;
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
			fprintf(stderr, "bench-wgnl: set of %lu peers failed\n", n);
			r = 1;
			break;
		}
	}
	/* The device now holds the last size's peers. */
	if (r == 0 && bench_get(nl, argv[1], argv[2], reps) < 0) {
		fprintf(stderr, "bench-wgnl: get failed\n");
		r = 1;
	}
	empty_device(nl, argv[1]);
	wgnl_close(nl);
	return r;
}
