/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-poll: the timing half of bench/bench-hubd.sh, so that no process
 * start-up (about 0.3 s each under qemu TCG) lands inside a measurement.
 *
 *   bench-poll wait-line FILE STRING TIMEOUT
 *	Wait until FILE holds a line containing STRING; print the wall-clock
 *	time (CLOCK_REALTIME seconds, like bash's $EPOCHREALTIME) when it was
 *	first seen. FILE's new bytes are read every 2 ms.
 *
 *   bench-poll drops IFNAME SPEC GAP_MS TIMEOUT [HUBD_LOG]
 *	SPEC has one line per step: "SRC DST PUBKEY PREFIX". For each step,
 *	rename(SRC, DST); with HUBD_LOG (hubd --debug's stderr), wait for
 *	hubd's "reconcile (...) took" line, written once the kernel has
 *	acknowledged the change: that is the applied time. Then poll the
 *	WireGuard device (a full dump through libwgnl) until peer PUBKEY
 *	(base64) has PREFIX among its allowed IPs, which proves it; then sleep
 *	GAP_MS before the next step. Prints a line per step, then
 *	"median M min A max B dump D [seen S min A max B]" (milliseconds): M
 *	is the applied time with HUBD_LOG, else the dump-seen time, an upper
 *	bound whose resolution is one dump.
 *
 *   bench-poll probe SOCKET INTERVAL_MS LONG_MS [HUBD_LOG]
 *	How long hubd's loop keeps a control request waiting: until SIGTERM,
 *	connect to SOCKET, send a request hubd answers without any work (an
 *	unknown command: docs/control-protocol.md), read the reply to its end,
 *	sleep INTERVAL_MS, again. With HUBD_LOG, first wait for its "[ready]"
 *	line. Prints a line "long W at T cpu C starved S" per wait of LONG_MS
 *	or more (W in ms, T the wall-clock second it began, like
 *	$EPOCHREALTIME; C the CPU ms hubd's process used meanwhile, from
 *	/proc, so a busy loop shows C near W; S the longest the probe itself
 *	went unscheduled while it waited, polling every 20 ms: the machine's
 *	stall, not hubd's), each followed by the lines of HUBD_LOG written
 *	meanwhile that say what hubd did (a reconcile's "took", a state record,
 *	an overrun), then "probes N failed F median M p99 P max X at T".
 *
 * Prints figures; it is not a test. Exit 0, 1 on a failure or timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hubd/wgnl.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(double ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};

	nanosleep(&ts, NULL);
}

/*
 * Does path hold needle in its bytes from *offset on? Only new bytes are read,
 * so polling a long log does not steal the CPU from the daemon being timed.
 * *offset advances to the last line start read, so a line being written is
 * read again whole.
 */
static int file_has(const char *path, const char *needle, long *offset)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	char *last;
	size_t n = 0;

	if (!f)
		return 0;
	if (fseek(f, *offset, SEEK_SET) == 0)
		n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (strstr(buf, needle))
		return 1;
	last = strrchr(buf, '\n');
	if (last)
		*offset += last + 1 - buf;
	return 0;
}

/*
 * Woken by inotify when the log grows, not by polling: during a cold start
 * the daemon's two threads want both CPUs, and a 2 ms poll loop would take
 * its share from them (wg setconf, the reference, is timed with nothing
 * polling). A 20 ms timeout covers a log that inotify cannot watch.
 */
static int wait_line(const char *path, const char *needle, double timeout)
{
	double end = mono() + timeout;
	int fd = inotify_init1(IN_CLOEXEC);
	long offset = 0;
	char ev[4096];

	if (fd >= 0 && inotify_add_watch(fd, path, IN_MODIFY) < 0) {
		close(fd);
		fd = -1;
	}
	while (mono() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (file_has(path, needle, &offset)) {
			printf("%.6f\n", wall());
			if (fd >= 0)
				close(fd);
			return 0;
		}
		if (fd < 0 || poll(&p, 1, 20) < 0)
			sleep_ms(2);
		else if (p.revents & POLLIN && read(fd, ev, sizeof(ev)) < 0)
			sleep_ms(2);
	}
	if (fd >= 0)
		close(fd);
	fprintf(stderr, "bench-poll: no '%s' in %s after %.0f s\n", needle, path, timeout);
	return 1;
}

static int parse_prefix(const char *s, struct wgnl_allowedip *a)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);

	if (len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, len);
	addr[len] = 0;
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, addr, &a->ip4) == 1) {
		a->family = AF_INET;
		a->cidr = slash ? (uint8_t)atoi(slash + 1) : 32;
	} else if (inet_pton(AF_INET6, addr, &a->ip6) == 1) {
		a->family = AF_INET6;
		a->cidr = slash ? (uint8_t)atoi(slash + 1) : 128;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int has_prefix(const struct wgnl_device *dev, const wgnl_key key,
		      const struct wgnl_allowedip *want)
{
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wgnl_peer *p = &dev->peers[i];

		if (memcmp(p->public_key, key, WGNL_KEY_LEN))
			continue;
		for (size_t j = 0; j < p->n_allowedips; j++) {
			const struct wgnl_allowedip *a = &p->allowedips[j];

			if (a->family == want->family && a->cidr == want->cidr &&
			    !memcmp(&a->ip6, &want->ip6,
				    want->family == AF_INET ? sizeof(a->ip4) : sizeof(a->ip6)))
				return 1;
		}
		return 0;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * hubd --debug logs "reconcile (...) took" once its netlink requests are
 * acknowledged: the kernel holds the change from then on. Watching for it
 * costs a read of the log's new bytes per millisecond, where a dump of N
 * peers would take the device's lock away from hubd while it polls.
 */
static long log_size(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	long n;

	if (!f)
		return 0;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

static int wait_ack(const char *path, long from, double end)
{
	static char buf[1 << 16];

	while (mono() < end) {
		FILE *f = fopen(path, "r");
		size_t n = 0;

		if (f && fseek(f, from, SEEK_SET) == 0)
			n = fread(buf, 1, sizeof(buf) - 1, f);
		if (f)
			fclose(f);
		buf[n] = 0;
		if (strstr(buf, "reconcile (") && strstr(buf, ") took "))
			return 0;
		sleep_ms(1);
	}
	return -ETIMEDOUT;
}

/* Dump until the peer shows the prefix; *dump gets the last dump's seconds. */
static int wait_seen(struct wgnl *nl, const char *ifname, const wgnl_key key,
		     const struct wgnl_allowedip *want, double end, double *dump, unsigned *dumps)
{
	while (mono() < end) {
		struct wgnl_device *dev = NULL;
		double d0 = mono();
		int seen;

		if (wgnl_get_device(nl, ifname, &dev) < 0)
			return -EIO;
		seen = has_prefix(dev, key, want);
		wgnl_device_free(dev);
		*dump = mono() - d0;
		++*dumps;
		if (seen)
			return 0;
		sleep_ms(1);
	}
	return -ETIMEDOUT;
}

static void summary(const char *what, double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf(" %s %.1f min %.1f max %.1f", what, v[n / 2], v[0], v[n - 1]);
}

static int drops(const char *ifname, const char *spec, double gap_ms, double timeout,
		 const char *log)
{
	char src[4096], dst[4096], pub[64], pfx[64];
	double ack[1024], seen[1024], dump = 0, dump_sum = 0;
	unsigned n = 0, dumps = 0;
	struct wgnl *nl = NULL;
	FILE *f = fopen(spec, "r");
	int r = 0;

	if (!f) {
		perror(spec);
		return 1;
	}
	if (wgnl_open(&nl) < 0) {
		fprintf(stderr, "bench-poll: no WireGuard here\n");
		fclose(f);
		return 1;
	}
	while (n < 1024 && fscanf(f, "%4095s %4095s %63s %63s", src, dst, pub, pfx) == 4) {
		struct wgnl_allowedip want;
		wgnl_key key;
		long from = log_size(log);
		double t0;

		if (wgnl_key_from_base64(key, pub) < 0 || parse_prefix(pfx, &want) < 0) {
			fprintf(stderr, "bench-poll: bad spec line: %s %s\n", pub, pfx);
			r = 1;
			break;
		}
		t0 = mono();
		if (rename(src, dst) < 0) {
			perror(dst);
			r = 1;
			break;
		}
		if (log && wait_ack(log, from, t0 + timeout) < 0) {
			fprintf(stderr, "bench-poll: no reconcile in %s after %.0f s\n", log,
				timeout);
			r = 1;
			break;
		}
		ack[n] = (mono() - t0) * 1000;
		if (wait_seen(nl, ifname, key, &want, t0 + timeout, &dump, &dumps) < 0) {
			fprintf(stderr, "bench-poll: %s not seen with %s after %.0f s\n", pub, pfx,
				timeout);
			r = 1;
			break;
		}
		seen[n] = (mono() - t0) * 1000;
		dump_sum += dump;
		if (log)
			printf("step %u: applied %.1f ms, seen by a dump at %.1f ms (a dump takes "
			       "%.1f ms)\n",
			       n + 1, ack[n], seen[n], dump * 1000);
		else
			printf("step %u: %.1f ms (the dump that saw it took %.1f ms)\n", n + 1,
			       seen[n], dump * 1000);
		n++;
		sleep_ms(gap_ms);
	}
	fclose(f);
	wgnl_close(nl);
	if (n) {
		/* "median M min A max B dump D [seen S min A max B]": M is the applied time when
		 * the log is watched, the dump-seen time otherwise. */
		summary("median", log ? ack : seen, n);
		printf(" dump %.1f", dumps ? dump_sum / n * 1000 : 0);
		if (log)
			summary("seen", seen, n);
		printf("\n");
	}
	return r;
}

/* --- probe: the loop's responsiveness --------------------------------------------------- */

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/*
 * One request, from connect to the reply's EOF: its seconds, or -1 when it
 * failed (no socket, no reply within 120 s, or stopped meanwhile). Unix
 * stream connects complete in the kernel's backlog even while hubd is busy,
 * so the time is the loop's delay, not ours.
 */
/* The CPU time (user + system) of process pid so far, in ms; -1 if /proc does not say. */
static double cpu_ms(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = pid > 0 ? fopen(path, "r") : NULL;
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000 / (double)sysconf(_SC_CLK_TCK);
}

struct probe_result {
	double wait, cpu, starved; /* ms: the answer's wait, hubd's CPU, the probe's own stall */
};

static double probe_once(const char *path, struct probe_result *res)
{
	static const char req[] = "{\"command\":\"bench-probe\"}\n";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	double t0 = mono(), last = t0, cpu0 = -1;
	struct ucred cred = {0};
	socklen_t clen = sizeof(cred);
	char buf[512];
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok = 0;

	res->starved = 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	/* The listening socket's owner: hubd, whose CPU time tells a busy loop from a wait. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		cpu0 = cpu_ms(cred.pid);
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		goto out;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int k;

		if (stopping || mono() - t0 > 120)
			goto out;
		k = poll(&p, 1, 20);
		if (mono() - last > res->starved / 1000 + 0.020)
			res->starved = (mono() - last - 0.020) * 1000;
		last = mono();
		if (k < 0)
			goto out;
		if (k == 0)
			continue;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			got = 0; /* only the end matters: a complete line */
	}
	buf[got] = 0;
	ok = got && buf[got - 1] == '\n' && strstr(buf, "\"ok\"");
out:
	res->wait = (mono() - t0) * 1000;
	res->cpu = cpu0 >= 0 && cpu_ms(cred.pid) >= 0 ? cpu_ms(cred.pid) - cpu0 : -1;
	if (fd >= 0)
		close(fd);
	return ok ? res->wait / 1000 : -1;
}

/* hubd's log lines between from and to that say what held the loop: at most 6. */
static void print_log_between(const char *path, long from, long to)
{
	static const char *const telling[] = {" took ", "state record", "overran", "health"};
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[1024];
	int shown = 0;

	if (!f)
		return;
	if (fseek(f, from, SEEK_SET) == 0)
		while (shown < 6 && ftell(f) < to && fgets(line, sizeof(line), f))
			for (size_t i = 0; i < sizeof(telling) / sizeof(telling[0]); i++)
				if (strstr(line, telling[i])) {
					printf("  log: %s%s", line, strchr(line, '\n') ? "" : "\n");
					shown++;
					break;
				}
	fclose(f);
}

static int probe(const char *sock, double interval_ms, double long_ms, const char *log)
{
	struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: poll returns EINTR */
	double *w = NULL, max = 0, max_at = 0;
	size_t n = 0, cap = 0, failed = 0;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (log && wait_line(log, "[ready]", 3600) != 0)
		return 1;
	while (!stopping) {
		long from = log_size(log);
		struct probe_result res;
		double at = wall(), t = probe_once(sock, &res);

		if (stopping)
			break;
		if (t < 0) {
			failed++;
		} else {
			if (n == cap) {
				double *g = realloc(w, (cap = cap ? 2 * cap : 4096) * sizeof(*w));

				if (!g)
					return 1;
				w = g;
			}
			w[n++] = t * 1000;
			if (t * 1000 > max)
				max = t * 1000, max_at = at;
			if (t * 1000 >= long_ms) {
				printf("long %.1f at %.6f cpu %.0f starved %.0f\n", t * 1000, at,
				       res.cpu, res.starved);
				print_log_between(log, from, log_size(log));
			}
		}
		sleep_ms(interval_ms);
	}
	if (n)
		qsort(w, n, sizeof(*w), cmp_double);
	printf("probes %zu failed %zu median %.1f p99 %.1f max %.1f at %.6f\n", n, failed,
	       n ? w[n / 2] : 0, n ? w[n * 99 / 100] : 0, max, max_at);
	free(w);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "wait-line"))
		return wait_line(argv[2], argv[3], atof(argv[4]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "drops"))
		return drops(argv[2], argv[3], atof(argv[4]), atof(argv[5]),
			     argc == 7 ? argv[6] : NULL);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "probe"))
		return probe(argv[2], atof(argv[3]), atof(argv[4]), argc == 6 ? argv[5] : NULL);
	fprintf(stderr, "usage: bench-poll wait-line FILE STRING TIMEOUT\n"
			"       bench-poll drops IFNAME SPEC GAP_MS TIMEOUT [HUBD_LOG]\n"
			"       bench-poll probe SOCKET INTERVAL_MS LONG_MS [HUBD_LOG]\n");
	return 2;
}
