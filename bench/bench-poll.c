/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-poll: the timing half of bench/bench-hubd.sh, so that no process
 * start-up (about 0.3 s each under qemu TCG) lands inside a measurement.
 *
 *   bench-poll wait-line FILE STRING TIMEOUT
 *	Wait until FILE holds a line containing STRING; print the wall-clock
 *	time (CLOCK_REALTIME seconds, like bash's $EPOCHREALTIME) when it was
 *	first seen. FILE is re-read every millisecond.
 *
 *   bench-poll drops IFNAME SPEC GAP_MS TIMEOUT
 *	SPEC has one line per step: "SRC DST PUBKEY PREFIX". For each step,
 *	rename(SRC, DST) and poll the WireGuard device (a full dump through
 *	libwgnl) until peer PUBKEY (base64) has PREFIX among its allowed IPs;
 *	then sleep GAP_MS before the next step. Per step it prints
 *	"step N: X ms (seen by the dump that ended then; that dump took D ms)",
 *	then a summary line "median M min A max B dump D" (milliseconds).
 *	The change can have landed at most one dump earlier than reported: the
 *	figure is an upper bound, its resolution the dump time.
 *
 * Prints figures; it is not a test. Exit 0, 1 on a failure or timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int file_has(const char *path, const char *needle)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

static int wait_line(const char *path, const char *needle, double timeout)
{
	double end = mono() + timeout;

	while (mono() < end) {
		if (file_has(path, needle)) {
			printf("%.6f\n", wall());
			return 0;
		}
		sleep_ms(1);
	}
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

static int drops(const char *ifname, const char *spec, double gap_ms, double timeout)
{
	char src[4096], dst[4096], pub[64], pfx[64];
	double lat[1024], dump_sum = 0;
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
		double t0, end, last_dump = 0;
		int seen = 0;

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
		end = t0 + timeout;
		while (!seen && mono() < end) {
			struct wgnl_device *dev = NULL;
			double d0 = mono();

			if (wgnl_get_device(nl, ifname, &dev) < 0) {
				fprintf(stderr, "bench-poll: cannot dump %s\n", ifname);
				r = 1;
				break;
			}
			seen = has_prefix(dev, key, &want);
			wgnl_device_free(dev);
			last_dump = mono() - d0;
			dump_sum += last_dump;
			dumps++;
			if (!seen)
				sleep_ms(1);
		}
		if (!seen) {
			if (!r)
				fprintf(stderr, "bench-poll: %s not seen with %s after %.0f s\n",
					pub, pfx, timeout);
			r = 1;
			break;
		}
		lat[n] = (mono() - t0) * 1000;
		printf("step %u: %.1f ms (the dump that saw it took %.1f ms)\n", n + 1, lat[n],
		       last_dump * 1000);
		fflush(stdout);
		n++;
		sleep_ms(gap_ms);
	}
	fclose(f);
	wgnl_close(nl);
	if (n) {
		double min, max, med;

		qsort(lat, n, sizeof(*lat), cmp_double);
		min = lat[0];
		max = lat[n - 1];
		med = lat[n / 2];
		printf("median %.1f min %.1f max %.1f dump %.1f\n", med, min, max,
		       dumps ? dump_sum / dumps * 1000 : 0);
	}
	return r;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "wait-line"))
		return wait_line(argv[2], argv[3], atof(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "drops"))
		return drops(argv[2], argv[3], atof(argv[4]), atof(argv[5]));
	fprintf(stderr, "usage: bench-poll wait-line FILE STRING TIMEOUT\n"
			"       bench-poll drops IFNAME SPEC GAP_MS TIMEOUT\n");
	return 2;
}
