/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state record (src/hubd/record.h): parsing, who holds what, who is contested. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "record.h"

static char k1[WGNL_KEY_B64_LEN + 1], k2[WGNL_KEY_B64_LEN + 1], k3[WGNL_KEY_B64_LEN + 1];

static void make_keys(void)
{
	wgnl_key k;

	memset(k, 0x11, sizeof(k));
	wgnl_key_to_base64(k1, k);
	memset(k, 0x22, sizeof(k));
	wgnl_key_to_base64(k2, k);
	memset(k, 0x33, sizeof(k));
	wgnl_key_to_base64(k3, k);
}

/* A peer with key b64 claiming the comma-separated prefixes (masked, as the parser leaves
 * them). */
static struct hubd_peer_conf *peer(const char *b64, const char *prefixes)
{
	struct hubd_peer_conf *p = calloc(1, sizeof(*p));
	char *copy = strdup(prefixes), *save = NULL;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(wgnl_key_from_base64(p->public_key, b64), 0);
	p->allowed_ips = calloc(8, sizeof(*p->allowed_ips));
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		ck_assert_int_eq(hubd_prefix_parse(t, &p->allowed_ips[p->n_allowed_ips], NULL), 0);
		hubd_prefix_mask(&p->allowed_ips[p->n_allowed_ips++]);
	}
	free(copy);
	return p;
}

static void peer_free(struct hubd_peer_conf *p)
{
	free(p->allowed_ips);
	free(p);
}

static struct hubd_record *record(void)
{
	struct hubd_record *r = NULL;
	char *text = NULL;

	/* A comment, a line with a bad key, a bad prefix among good ones, a key given twice. */
	ck_assert_int_ge(asprintf(&text,
				  "# hubd\n"
				  "notakey 10.9.9.9/32\n"
				  "%s 10.8.0.2/32 fd00::2/128 10.8.0.300/32\n"
				  "%s 10.8.0.3/32 192.168.1.0/24\n"
				  "%s 10.8.0.77/32\n",
				  k1, k2, k1),
			 0);
	ck_assert_int_eq(hubd_record_parse(text, strlen(text), &r), 0);
	free(text);
	return r;
}

static const struct {
	const char *name;
	int key; /* 1..3 */
	const char *prefixes;
	bool holds, contests;
} rows[] = {
    {"all it had", 1, "10.8.0.2/32,fd00::2/128", true, false},
    {"part of what it had", 1, "10.8.0.2/32", true, false},
    {"nothing at all", 1, "", true, false},
    {"the second line for a key counts not", 1, "10.8.0.77/32", false, true},
    {"its key with a new prefix", 1, "10.8.0.2/32,10.8.0.50/32", false, true},
    {"a new key on a recorded address", 3, "10.8.0.2/32", false, true},
    {"a new key inside a recorded LAN", 3, "192.168.1.77/32", false, true},
    {"a new key covering a recorded LAN", 3, "192.168.0.0/16", false, true},
    {"a new key covering a recorded address", 3, "10.8.0.0/24", false, true},
    {"a new key on a recorded IPv6 address", 3, "fd00::/64", false, true},
    {"a new key on free addresses", 3, "10.8.0.9/32,192.168.2.0/24,fd00:1::/64", false, false},
    {"a line that did not parse holds nothing", 3, "10.9.9.9/32", false, false},
};

START_TEST(test_holds_contests)
{
	const char *keys[] = {k1, k2, k3};
	struct hubd_record *r = record();
	struct hubd_peer_conf *p = peer(keys[rows[_i].key - 1], rows[_i].prefixes);

	ck_assert_uint_eq(hubd_record_size(r), 2);
	ck_assert_msg(hubd_record_holds(r, p) == rows[_i].holds, "%s: holds", rows[_i].name);
	ck_assert_msg(hubd_record_contests(r, p) == rows[_i].contests, "%s: contests",
		      rows[_i].name);
	peer_free(p);
	hubd_record_free(r);
}
END_TEST

/* What hubd_record_format writes, hubd_record_parse reads back. */
START_TEST(test_round_trip)
{
	struct hubd_peer_conf *a = peer(k1, "10.8.0.2/32,fd00::2/128"),
			      *b = peer(k2, "10.8.0.3/32");
	struct hubd_peer_conf *c;
	struct hubd_peer_conf peers[2] = {*a, *b};
	struct hubd_config cfg = {.iface = {.name = "wg7"}, .peers = peers, .n_peers = 2};
	struct hubd_record *r = NULL;
	char *text = NULL;
	size_t len = 0;

	ck_assert_int_eq(hubd_record_format(&cfg, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "wg7"));
	ck_assert_int_eq(hubd_record_parse(text, len, &r), 0);
	ck_assert_uint_eq(hubd_record_size(r), 2);
	ck_assert(hubd_record_holds(r, a));
	ck_assert(hubd_record_holds(r, b));
	c = peer(k3, "10.8.0.3/32");
	ck_assert(hubd_record_contests(r, c));
	peer_free(c);
	free(text);
	hubd_record_free(r);
	peer_free(a);
	peer_free(b);
}
END_TEST

/* Saved into a directory that does not exist yet, loaded back; no record is no error. */
START_TEST(test_save_load)
{
	char dir[] = "/tmp/test-record.XXXXXX", sub[64];
	struct hubd_peer_conf *a = peer(k1, "10.8.0.2/32");
	struct hubd_config cfg = {.iface = {.name = "wg0"}, .peers = a, .n_peers = 1};
	struct hubd_record *r = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);
	ck_assert_int_eq(hubd_record_load(sub, "wg0", &r), 0);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(hubd_record_save(sub, &cfg), 0);
	ck_assert_int_eq(hubd_record_load(sub, "wg0", &r), 0);
	ck_assert_ptr_nonnull(r);
	ck_assert(hubd_record_holds(r, a));
	hubd_record_free(r);
	ck_assert_int_eq(system((snprintf(sub, sizeof(sub), "rm -rf %s", dir), sub)), 0);
	peer_free(a);
}
END_TEST

/* ---- writing the record off the loop ---- */

/* n peers with a /32 and a /128 each: at 3,000, about 250 KB of text, more than one chunk
 * of the writer and more than a pipe holds. Keys from i, so each config is its own. */
static struct hubd_config *big_config(size_t n, unsigned seed)
{
	struct hubd_config *cfg = calloc(1, sizeof(*cfg));

	ck_assert_ptr_nonnull(cfg);
	snprintf(cfg->iface.name, sizeof(cfg->iface.name), "wg0");
	cfg->peers = calloc(n, sizeof(*cfg->peers));
	ck_assert_ptr_nonnull(cfg->peers);
	cfg->n_peers = n;
	for (size_t i = 0; i < n; i++) {
		struct hubd_peer_conf *p = &cfg->peers[i];
		char v4[32], v6[64];

		memset(p->public_key, (int)seed, sizeof(p->public_key));
		memcpy(p->public_key, &i, sizeof(i));
		p->public_key[31] &= 0x7f;
		snprintf(v4, sizeof(v4), "10.%zu.%zu.%zu/32", i >> 16, (i >> 8) & 255, i & 255);
		snprintf(v6, sizeof(v6), "fd00:%x::%zx/128", seed, i);
		p->allowed_ips = calloc(2, sizeof(*p->allowed_ips));
		ck_assert_int_eq(hubd_prefix_parse(v4, &p->allowed_ips[0], NULL), 0);
		ck_assert_int_eq(hubd_prefix_parse(v6, &p->allowed_ips[1], NULL), 0);
		p->n_allowed_ips = 2;
	}
	return cfg;
}

static void big_free(struct hubd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		free(cfg->peers[i].allowed_ips);
	free(cfg->peers);
	free(cfg);
}

static char *read_all(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return NULL;
	do {
		if (*len + 65536 + 1 > cap)
			ck_assert_ptr_nonnull(buf = realloc(buf, cap = (*len + 65536 + 1) * 2));
		n = read(fd, buf + *len, 65536);
		*len += n > 0 ? (size_t)n : 0;
	} while (n > 0);
	close(fd);
	buf[*len] = '\0';
	return buf;
}

/* The file at path holds exactly cfg's record as hubd_record_format makes it. */
static void assert_file_is(const char *path, const struct hubd_config *cfg)
{
	char *want = NULL, *got;
	size_t want_len = 0, got_len;

	ck_assert_int_eq(hubd_record_format(cfg, &want, &want_len), 0);
	got = read_all(path, &got_len);
	ck_assert_msg(got, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(got_len, want_len);
	ck_assert_msg(!memcmp(got, want, want_len), "%s differs from hubd_record_format", path);
	free(got);
	free(want);
}

struct fixture {
	char dir[64], path[96], tmp[96];
	sd_event *e;
	struct hubd h;
	unsigned done; /* the done callbacks so far */
};

static struct fixture fx;

static void on_done(void *userdata)
{
	struct fixture *f = userdata;

	f->done++;
	/* As the loop does, but at once: what is dirty again goes out now. */
	hubd_record_write_async(&f->h, f->e, on_done, f);
}

static void fixture_up(void)
{
	sigset_t mask;

	make_keys();
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test-record.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/wg0.peers", fx.dir);
	snprintf(fx.tmp, sizeof(fx.tmp), "%s/.wg0.peers", fx.dir);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ck_assert_int_ge(sd_event_new(&fx.e), 0);
	fx.h.state_dir = fx.dir;
}

static void fixture_down(void)
{
	char cmd[96];

	fx.h.cfg = NULL;
	hubd_record_write(&fx.h); /* waits for any child, drops its source */
	fx.e = sd_event_unref(fx.e);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Turn the loop until n done callbacks came, 20 s at most. */
static void run_until_done(unsigned n)
{
	for (int i = 0; i < 2000 && fx.done < n; i++)
		ck_assert_int_ge(sd_event_run(fx.e, 10000), 0);
	ck_assert_uint_eq(fx.done, n);
}

/* The writer, in process, in chunks: what it writes is hubd_record_format's text. */
START_TEST(test_save_is_format)
{
	struct hubd_config *cfg = big_config(3000, 1);

	ck_assert_int_eq(hubd_record_save(fx.dir, cfg), 0);
	assert_file_is(fx.path, cfg);
	ck_assert_int_eq(access(fx.tmp, F_OK), -1);
	big_free(cfg);
}
END_TEST

/* A child writes it; the loop reaps it and calls done; no temporary file is left. */
START_TEST(test_async_write)
{
	struct hubd_config *cfg = big_config(3000, 2);
	struct hubd_record *r = NULL;

	fx.h.cfg = cfg;
	fx.h.record_dirty = true;
	hubd_record_write_async(&fx.h, fx.e, on_done, &fx);
	ck_assert_int_gt(hubd_record_writer(), 0);
	ck_assert(!fx.h.record_dirty);
	run_until_done(1);
	ck_assert_int_eq(hubd_record_writer(), 0);
	assert_file_is(fx.path, cfg);
	ck_assert_int_eq(access(fx.tmp, F_OK), -1);
	ck_assert(!fx.h.record_warned);
	ck_assert_int_eq(hubd_record_load(fx.dir, "wg0", &r), 0);
	ck_assert_uint_eq(hubd_record_size(r), 3000);
	ck_assert(hubd_record_holds(r, &cfg->peers[2999]));
	hubd_record_free(r);
	big_free(cfg);
}
END_TEST

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	++*(unsigned *)userdata;
	return 0;
}

/*
 * A write that cannot end (its temporary file is a FIFO nobody reads: the
 * child blocks in open) holds up nothing: the loop turns, a second request
 * starts no second child and leaves the record dirty. Once read, the FIFO
 * gave hubd_record_format's text; its fsync fails (a FIFO cannot be synced),
 * which is logged, and the dirty record is then written for real.
 */
START_TEST(test_loop_turns_while_writing)
{
	struct hubd_config *cfg = big_config(3000, 3);
	char *want = NULL, *got;
	size_t want_len = 0, got_len;
	unsigned ticks = 0;
	siginfo_t si = {0};
	pid_t pid;

	ck_assert_int_eq(mkfifo(fx.tmp, 0600), 0);
	fx.h.cfg = cfg;
	fx.h.record_dirty = true;
	hubd_record_write_async(&fx.h, fx.e, on_done, &fx);
	pid = hubd_record_writer();
	ck_assert_int_gt(pid, 0);
	ck_assert_int_ge(
	    sd_event_add_time_relative(fx.e, NULL, CLOCK_MONOTONIC, 20000, 1000, on_tick, &ticks),
	    0);
	while (!ticks)
		ck_assert_int_ge(sd_event_run(fx.e, 5000000), 0);
	ck_assert_uint_eq(fx.done, 0);
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
	ck_assert_int_eq(si.si_pid, 0); /* still at work */
	fx.h.record_dirty = true;
	hubd_record_write_async(&fx.h, fx.e, on_done, &fx);
	ck_assert_int_eq(hubd_record_writer(), pid);
	ck_assert(fx.h.record_dirty);

	got = read_all(fx.tmp, &got_len);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(hubd_record_format(cfg, &want, &want_len), 0);
	ck_assert_uint_eq(got_len, want_len);
	ck_assert(!memcmp(got, want, want_len));
	run_until_done(2); /* the failed write, then the one on_done started */
	ck_assert(fx.h.record_warned);
	ck_assert(!fx.h.record_dirty);
	assert_file_is(fx.path, cfg);
	ck_assert_int_eq(access(fx.tmp, F_OK), -1);
	free(got);
	free(want);
	big_free(cfg);
}
END_TEST

/*
 * A crash halfway through a write (the child killed with 1,000 bytes of
 * 250 KB read out of its FIFO) leaves the old record as it was; a partial
 * temporary file left behind is overwritten by the next write.
 */
START_TEST(test_crash_mid_write)
{
	struct hubd_config *old = big_config(10, 4), *cfg = big_config(3000, 5);
	char buf[1000];
	size_t got = 0;
	int fd;

	ck_assert_int_eq(hubd_record_save(fx.dir, old), 0);
	ck_assert_int_eq(mkfifo(fx.tmp, 0600), 0);
	fx.h.cfg = cfg;
	fx.h.record_dirty = true;
	hubd_record_write_async(&fx.h, fx.e, NULL, NULL);
	ck_assert_int_gt(hubd_record_writer(), 0);
	fd = open(fx.tmp, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_int_eq(kill(hubd_record_writer(), SIGKILL), 0);
	close(fd);
	for (int i = 0; i < 2000 && hubd_record_writer(); i++)
		ck_assert_int_ge(sd_event_run(fx.e, 10000), 0);
	ck_assert_int_eq(hubd_record_writer(), 0);
	ck_assert(fx.h.record_warned);
	assert_file_is(fx.path, old);

	ck_assert_int_eq(unlink(fx.tmp), 0);
	fd = open(fx.tmp, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	fx.h.record_dirty = true;
	hubd_record_write_async(&fx.h, fx.e, on_done, &fx);
	run_until_done(1);
	assert_file_is(fx.path, cfg);
	ck_assert_int_eq(access(fx.tmp, F_OK), -1);
	big_free(old);
	big_free(cfg);
}
END_TEST

/* At exit, hubd_record_write waits for the child, then writes what changed after it began. */
START_TEST(test_exit_waits_for_writer)
{
	struct hubd_config *a = big_config(3000, 6), *b = big_config(2000, 7);

	fx.h.cfg = a;
	fx.h.record_dirty = true;
	hubd_record_write_async(&fx.h, fx.e, on_done, &fx);
	ck_assert_int_gt(hubd_record_writer(), 0);
	fx.h.cfg = b;
	fx.h.record_dirty = true;
	hubd_record_write(&fx.h);
	ck_assert_int_eq(hubd_record_writer(), 0);
	ck_assert(!fx.h.record_dirty);
	assert_file_is(fx.path, b);
	big_free(a);
	big_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("record");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, make_keys, NULL);
	tcase_add_loop_test(tc, test_holds_contests, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_save_load);
	suite_add_tcase(s, tc);
	tc = tcase_create("writer");
	tcase_add_checked_fixture(tc, fixture_up, fixture_down);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_save_is_format);
	tcase_add_test(tc, test_async_write);
	tcase_add_test(tc, test_loop_turns_while_writing);
	tcase_add_test(tc, test_crash_mid_write);
	tcase_add_test(tc, test_exit_waits_for_writer);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
