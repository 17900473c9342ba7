/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The metrics text (metrics-text.c) for canned status replies: the exact
 * lines of hubd's own series and of mdlayher/wireguard_exporter's, label
 * escaping, the never-seen peer, and Prometheus' own parser and linter
 * (promtool check metrics, from Debian's prometheus package) accepting it.
 */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "metrics-text.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define HUB_PUB	  "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
#define GW_PUB	  "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PHONE_PUB "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="

/* A hub with a gateway that shook hands and a phone that never did. */
static const char canned[] =
    "{\"ok\":true,\"config_dir\":\"/etc/hubd\","
    "\"interface\":{\"name\":\"wg0\",\"public_key\":\"" HUB_PUB "\",\"listen_port\":51820},"
    "\"counters\":{\"reconciles\":12,\"drift_repairs\":3,\"netlink_messages\":40,"
    "\"config_errors\":1},"
    "\"peers\":["
    "{\"name\":\"gw\",\"public_key\":\"" GW_PUB "\",\"endpoint\":\"203.0.113.5:51820\","
    "\"allowed_ips\":[\"10.8.0.3/32\",\"192.168.1.0/24\"],\"persistent_keepalive\":25,"
    "\"latest_handshake\":1764930000,\"handshake_age\":65,\"rx_bytes\":1536,"
    "\"tx_bytes\":5242880,\"health\":\"up\"},"
    "{\"name\":\"phone\",\"public_key\":\"" PHONE_PUB "\",\"endpoint\":null,"
    "\"allowed_ips\":[\"10.8.0.2/32\",\"fd00:8::2/128\"],\"persistent_keepalive\":0,"
    "\"latest_handshake\":0,\"handshake_age\":null,\"rx_bytes\":0,\"tx_bytes\":0,"
    "\"health\":\"never\"},"
    "{\"name\":\"we\\\"ird\\\\name\",\"public_key\":\"" GW_PUB "x\","
    "\"endpoint\":\"[2001:db8::1]:51820\",\"allowed_ips\":[],\"latest_handshake\":1764926395,"
    "\"handshake_age\":3605,\"rx_bytes\":7,\"tx_bytes\":8,\"health\":\"stale\"},"
    /* past its ExpiresAt: in status, not on the device, so in no series */
    "{\"name\":\"gone\",\"public_key\":\"" GW_PUB "y\",\"endpoint\":null,"
    "\"allowed_ips\":[\"10.8.0.9/32\"],\"latest_handshake\":0,\"handshake_age\":null,"
    "\"rx_bytes\":0,\"tx_bytes\":0,\"health\":\"expired\","
    "\"expires_at\":\"2001-02-04T00:00:00Z\"}]}";

static const char *const want_lines[] = {
    /* hubd's own */
    "hubd_peer_handshake_age_seconds{interface=\"wg0\",peer=\"gw\"} 65",
    "hubd_peer_handshake_age_seconds{interface=\"wg0\",peer=\"we\\\"ird\\\\name\"} 3605",
    "hubd_peer_receive_bytes_total{interface=\"wg0\",peer=\"gw\"} 1536",
    "hubd_peer_transmit_bytes_total{interface=\"wg0\",peer=\"gw\"} 5242880",
    "hubd_peer_up{interface=\"wg0\",peer=\"gw\"} 1",
    "hubd_peer_up{interface=\"wg0\",peer=\"phone\"} 0",
    "hubd_peer_health{interface=\"wg0\",peer=\"phone\",state=\"never\"} 1",
    "hubd_peer_health{interface=\"wg0\",peer=\"phone\",state=\"up\"} 0",
    "hubd_reconciles_total{interface=\"wg0\"} 12",
    "hubd_drift_repairs_total{interface=\"wg0\"} 3",
    "hubd_config_errors_total{interface=\"wg0\"} 1",
    /* mdlayher/wireguard_exporter's, HELP and TYPE as its collector.go has them */
    "# HELP wireguard_device_info Metadata about a device.",
    "# TYPE wireguard_device_info gauge",
    "wireguard_device_info{device=\"wg0\",public_key=\"" HUB_PUB "\"} 1",
    "# HELP wireguard_peer_info Metadata about a peer. The public_key label on peer metrics "
    "refers to the peer's public key; not the device's public key.",
    "# TYPE wireguard_peer_info gauge",
    "wireguard_peer_info{device=\"wg0\",endpoint=\"203.0.113.5:51820\",name=\"gw\","
    "public_key=\"" GW_PUB "\"} 1",
    "wireguard_peer_info{device=\"wg0\",endpoint=\"\",name=\"phone\",public_key=\"" PHONE_PUB
    "\"} 1",
    "wireguard_peer_info{device=\"wg0\",endpoint=\"[2001:db8::1]:51820\","
    "name=\"we\\\"ird\\\\name\",public_key=\"" GW_PUB "x\"} 1",
    "# HELP wireguard_peer_allowed_ips_info Metadata about each of a peer's allowed IP subnets "
    "for a given device.",
    "# TYPE wireguard_peer_allowed_ips_info gauge",
    "wireguard_peer_allowed_ips_info{allowed_ips=\"192.168.1.0/24\",device=\"wg0\","
    "family=\"IPv4\",public_key=\"" GW_PUB "\"} 1",
    "wireguard_peer_allowed_ips_info{allowed_ips=\"fd00:8::2/128\",device=\"wg0\","
    "family=\"IPv6\",public_key=\"" PHONE_PUB "\"} 1",
    "# HELP wireguard_peer_last_handshake_seconds UNIX timestamp for the last handshake with a "
    "given peer.",
    "# TYPE wireguard_peer_last_handshake_seconds gauge",
    "wireguard_peer_last_handshake_seconds{device=\"wg0\",public_key=\"" GW_PUB "\"} 1764930000",
    "wireguard_peer_last_handshake_seconds{device=\"wg0\",public_key=\"" PHONE_PUB "\"} 0",
    "# HELP wireguard_peer_receive_bytes_total Number of bytes received from a given peer.",
    "# TYPE wireguard_peer_receive_bytes_total counter",
    "wireguard_peer_receive_bytes_total{device=\"wg0\",public_key=\"" GW_PUB "\"} 1536",
    "wireguard_peer_receive_bytes_total{device=\"wg0\",public_key=\"" PHONE_PUB "\"} 0",
    "# HELP wireguard_peer_transmit_bytes_total Number of bytes transmitted to a given peer.",
    "# TYPE wireguard_peer_transmit_bytes_total counter",
    "wireguard_peer_transmit_bytes_total{device=\"wg0\",public_key=\"" GW_PUB "\"} 5242880",
};

/* Lines that must not be there. */
static const char *const unwanted[] = {
    /* a never-seen peer has no age (an "age > X" alert would fire for it) */
    "hubd_peer_handshake_age_seconds{interface=\"wg0\",peer=\"phone\"}",
    /* an expired peer is not on the device */
    "peer=\"gone\"",
    GW_PUB "y",
    "10.8.0.9/32",
};

static char *render(const char *json)
{
	struct json_object *o = json_tokener_parse(json);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(o);
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(metrics_text_write(f, o), 0);
	fclose(f);
	json_object_put(o);
	return text;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

START_TEST(test_lines)
{
	char *text = render(canned);

	ck_assert_msg(has_line(text, want_lines[_i]), "missing: %s\nin:\n%s", want_lines[_i], text);
	free(text);
}
END_TEST

START_TEST(test_unwanted)
{
	char *text = render(canned);

	ck_assert_msg(!strstr(text, unwanted[_i]), "present: %s", unwanted[_i]);
	free(text);
}
END_TEST

/* Every family once, and a line per peer (and per allowed IP) in each of its families. */
START_TEST(test_counts)
{
	char *text = render(canned);
	size_t helps = 0, allowed = 0, last = 0;

	for (char *p = text; (p = strchr(p, '\n')); p++) {
		helps += !strncmp(p + 1, "# HELP ", 7);
		allowed += !strncmp(p + 1, "wireguard_peer_allowed_ips_info{", 32);
		last += !strncmp(p + 1, "wireguard_peer_last_handshake_seconds{", 38);
	}
	helps += !strncmp(text, "# HELP ", 7);
	ck_assert_uint_eq(helps, 15); /* 5 per peer, 4 counters, 6 wireguard_* */
	ck_assert_uint_eq(allowed, 4);
	ck_assert_uint_eq(last, 3);
	free(text);
}
END_TEST

/* promtool parses and lints the text as Prometheus would scrape it. */
static void promtool_accepts(const char *text)
{
	FILE *p = popen("promtool check metrics", "w");
	int st;

	ck_assert_msg(p, "popen: %s", strerror(errno));
	fputs(text, p);
	st = pclose(p);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 127,
		      "promtool not found: install Debian's prometheus (scripts/install-deps.sh)");
	ck_assert_msg(WEXITSTATUS(st) == 0, "promtool check metrics rejects:\n%s", text);
}

START_TEST(test_promtool)
{
	char *text = render(canned);

	promtool_accepts(text);
	free(text);
}
END_TEST

/* No peers yet: every family is still well-formed, and the device is there. */
START_TEST(test_no_peers)
{
	char *text = render("{\"interface\":{\"name\":\"wg1\",\"public_key\":\"" HUB_PUB "\"},"
			    "\"counters\":{},\"peers\":[]}");

	ck_assert(
	    has_line(text, "wireguard_device_info{device=\"wg1\",public_key=\"" HUB_PUB "\"} 1"));
	ck_assert(has_line(text, "hubd_reconciles_total{interface=\"wg1\"} 0"));
	promtool_accepts(text);
	free(text);
}
END_TEST

static const struct {
	const char *in, *out;
} escapes[] = {
    {"plain", "plain"}, {"a\"b", "a\\\"b"}, {"a\\b", "a\\\\b"}, {"a\nb", "a\\nb"}, {"", ""},
};

START_TEST(test_escape)
{
	char *got = metrics_label_escape(escapes[_i].in);

	ck_assert_str_eq(got, escapes[_i].out);
	free(got);
}
END_TEST

/* ---- slices: the text in bounded pieces, the same text whole ---- */

/* The whole text of s in one slice (its bound past any size), malloc'd. */
static char *one_shot(struct metrics_snapshot *s, size_t *ret_len)
{
	struct metrics_render *r = metrics_render_new(s, SIZE_MAX);
	const char *text, *end;
	size_t len;
	char *copy;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(metrics_render_slice(r, &text, &len), 0);
	copy = strndup(text, len);
	ck_assert_int_eq(metrics_render_slice(r, &end, &len), 0);
	ck_assert_uint_eq(len, 0); /* nothing after the one slice */
	*ret_len = strlen(copy);
	metrics_render_free(r);
	return copy;
}

static size_t longest_line(const char *text)
{
	size_t max = 0;

	for (const char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1)
		if ((size_t)(nl - p) + 1 > max)
			max = nl - p + 1;
	return max;
}

/*
 * Render s in slices of bound: each slice whole lines, none longer than
 * bound plus one step (a line; hubd_peer_health's four lines of a peer),
 * every one but the last at least bound, and together the one-shot text.
 */
static void check_slices(struct metrics_snapshot *s, const char *whole, size_t whole_len,
			 size_t bound)
{
	struct metrics_render *r = metrics_render_new(s, bound);
	size_t step = 4 * longest_line(whole), off = 0, len, slices = 0;
	const char *text;

	ck_assert_ptr_nonnull(r);
	for (;;) {
		ck_assert_int_eq(metrics_render_slice(r, &text, &len), 0);
		if (!len)
			break;
		slices++;
		ck_assert_msg(len < bound + step, "a slice of %zu bytes for a bound of %zu", len,
			      bound);
		ck_assert_msg(text[len - 1] == '\n', "a slice ends within a line");
		ck_assert_msg(off + len <= whole_len && !memcmp(whole + off, text, len),
			      "slice %zu (at %zu) is not the one-shot text", slices, off);
		if (off + len < whole_len)
			ck_assert_msg(len >= bound, "a short slice (%zu) before the end", len);
		off += len;
	}
	ck_assert_uint_eq(off, whole_len);
	ck_assert_uint_ge(slices, whole_len / (bound + step));
	metrics_render_free(r);
}

static struct metrics_snapshot *canned_snapshot(void)
{
	struct json_object *o = json_tokener_parse(canned);
	struct metrics_snapshot *s = NULL;

	ck_assert_int_eq(metrics_snapshot_from_json(o, &s), 0);
	json_object_put(o);
	return s;
}

static const size_t bounds[] = {1, 64, 300, 1000, 4096, METRICS_SLICE_BYTES};

/* The canned hub in slices of every size: the same bytes as metrics_text_write() writes. */
START_TEST(test_slices_canned)
{
	char *written = render(canned), *whole;
	size_t len;

	whole = one_shot(canned_snapshot(), &len);
	ck_assert_str_eq(whole, written);
	check_slices(canned_snapshot(), whole, len, bounds[_i]);
	free(whole);
	free(written);
}
END_TEST

/* A hub of n peers built through the snapshot API, as hubd fills it from its state. */
static struct metrics_snapshot *big_snapshot(size_t n)
{
	static const char *const health[] = {"up", "stale", "never", "idle"};
	struct metrics_counters c = {.reconciles = 7, .config_errors = 2};
	struct metrics_snapshot *s = metrics_snapshot_new("wg0", HUB_PUB, &c);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++) {
		char name[32], key[64], ep[32], ip[32];
		struct metrics_peer_info p = {
		    .name = name,
		    .public_key = key,
		    .endpoint = i % 3 ? ep : NULL,
		    .health = health[i % 4],
		    .latest_handshake = i % 4 == 2 ? 0 : 1764930000 - (int64_t)i,
		    .has_age = i % 4 != 2,
		    .handshake_age = (int64_t)i,
		    .rx_bytes = (int64_t)i * 1000,
		    .tx_bytes = (int64_t)i * 3000,
		};

		snprintf(name, sizeof(name), i % 7 ? "peer-%zu" : "we\"ird\\%zu", i);
		snprintf(key, sizeof(key), "%043zu=", i);
		snprintf(ep, sizeof(ep), "198.51.100.%zu:%zu", i % 200 + 1, 10000 + i);
		ck_assert_int_eq(metrics_snapshot_add_peer(s, &p), 0);
		for (size_t k = 0; k < i % 3; k++) {
			snprintf(ip, sizeof(ip), k ? "fd00:8::%zx/128" : "10.8.%zu.%zu/32", i / 250,
				 i % 250 + 1);
			ck_assert_int_eq(metrics_snapshot_add_allowed_ip(s, ip), 0);
		}
	}
	return s;
}

/*
 * 5,000 peers (5 MB of text): hubd's slices stay within METRICS_SLICE_BYTES
 * and a step, so that no slice holds its loop for long whatever the peer count,
 * and together they are the text made in one go.
 */
START_TEST(test_slices_many)
{
	size_t len;
	char *whole = one_shot(big_snapshot(5000), &len);

	ck_assert_uint_gt(len, 50 * METRICS_SLICE_BYTES);
	ck_assert(has_line(whole, "hubd_peer_up{interface=\"wg0\",peer=\"peer-4996\"} 1"));
	ck_assert(has_line(whole, "wireguard_peer_allowed_ips_info{allowed_ips=\"fd00:8::13/128\","
				  "device=\"wg0\",family=\"IPv6\",public_key=\"" /* peer 4997 */
				  "0000000000000000000000000000000000000004997=\"} 1"));
	check_slices(big_snapshot(5000), whole, len, METRICS_SLICE_BYTES);
	check_slices(big_snapshot(5000), whole, len, bounds[_i]);
	free(whole);
}
END_TEST

/* metrics_render_read(), what libmicrohttpd calls, in reads of any size: the same text. */
START_TEST(test_read)
{
	static const size_t sizes[] = {1, 7, 4096, 16384, 1 << 20};
	size_t len, off = 0;
	char *whole = one_shot(big_snapshot(300), &len), *buf = malloc(sizes[_i]);
	struct metrics_render *r = metrics_render_new(big_snapshot(300), 1000);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	while ((n = metrics_render_read(r, buf, sizes[_i])) > 0) {
		ck_assert_uint_le(n, sizes[_i]);
		ck_assert_msg(off + n <= len && !memcmp(whole + off, buf, n), "at %zu", off);
		off += n;
	}
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(off, len);
	ck_assert_int_eq(metrics_render_read(r, buf, sizes[_i]), 0); /* and stays at the end */
	metrics_render_free(r);
	free(buf);
	free(whole);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *t = tcase_create("text");
	SRunner *r;
	int failed;

	tcase_set_timeout(t, 60);
	tcase_add_loop_test(t, test_lines, 0, N(want_lines));
	tcase_add_loop_test(t, test_unwanted, 0, N(unwanted));
	tcase_add_test(t, test_counts);
	tcase_add_test(t, test_promtool);
	tcase_add_test(t, test_no_peers);
	tcase_add_loop_test(t, test_escape, 0, N(escapes));
	tcase_add_loop_test(t, test_slices_canned, 0, N(bounds));
	tcase_add_loop_test(t, test_slices_many, 0, N(bounds));
	tcase_add_loop_test(t, test_read, 0, 5);
	suite_add_tcase(s, t);
	r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
