/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GET /metrics on MetricsListen (hubd.conf(5)), served by libmicrohttpd in
 * its external epoll mode: its one epoll descriptor (and, while there is
 * room, the listening socket: mhd_turn) is a source on our sd-event loop and
 * its timeout a timer there, so it has no thread of its own and every answer
 * is made on the loop, between reconciles.
 *
 * A scrape never holds the loop for long, whatever the number of peers: the
 * request takes a flat snapshot of what the text needs (O(N) copies, no
 * JSON), and the text (metrics-text.c, the same as hubctl metrics) is
 * rendered from it a slice of METRICS_SLICE_BYTES at a time, when
 * libmicrohttpd asks for more because the client's socket can take it; the
 * loop turns between slices. It costs at most one walk of the device: the
 * handshakes and counters of a dump younger than FRESH_USEC are used as
 * they are, so any number of scrapers cause no more than one walk per
 * FRESH_USEC. Clients are bounded: REQUEST_MAX bytes of request (a longer
 * header is refused by libmicrohttpd), IDLE_SEC without progress, and
 * CLIENTS_MAX at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "metrics-text.h"
#include "report.h"

#define FRESH_USEC   (5 * 1000000ULL)
#define REQUEST_MAX  (16 * 1024) /* libmicrohttpd's per-connection memory: headers and all */
#define IDLE_SEC     10
#define CLIENTS_MAX  32
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define READ_BLOCK   (16 * 1024) /* what libmicrohttpd asks of on_read at most */

/* What the scrapes since the last quiet moment cost the loop, for --debug. */
struct scrape_stats {
	uint64_t snapshot_max_us; /* on_request: the walk (if due) and the snapshot */
	uint64_t slice_max_us;	  /* one on_read: a slice rendered, or a copy */
	uint64_t turn_max_us;	  /* one mhd_turn, all it did */
	size_t bytes;
	bool done; /* a response was freed: log when none is left */
};

/* One listener per process, as there is one MetricsListen. */
static struct {
	struct hubd_loop *l;
	void (*chained)(struct hubd_loop *l); /* the loop's after-hook before ours */
	struct MHD_Daemon *d;
	sd_event_source *io, *listen_io, *timer;
	bool listen_rest; /* a run woken by listen_io took no client: wait for libmicrohttpd */
	union wgnl_endpoint bound;  /* what d listens on (family 0: nothing) */
	union wgnl_endpoint failed; /* the address whose bind failed last, logged once */
	int failed_err;
	unsigned scrapes; /* responses not yet freed */
	struct scrape_stats stats;
} srv;

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("metrics: %s", buf);
}

static bool same_endpoint(const union wgnl_endpoint *a, const union wgnl_endpoint *b)
{
	if (a->addr.sa_family != b->addr.sa_family)
		return false;
	if (a->addr.sa_family == AF_INET)
		return a->addr4.sin_port == b->addr4.sin_port &&
		       a->addr4.sin_addr.s_addr == b->addr4.sin_addr.s_addr;
	if (a->addr.sa_family == AF_INET6)
		return a->addr6.sin6_port == b->addr6.sin6_port &&
		       !memcmp(&a->addr6.sin6_addr, &b->addr6.sin6_addr, sizeof(struct in6_addr));
	return true;
}

static void endpoint_text(const union wgnl_endpoint *ep, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "";

	if (ep->addr.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->addr6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(ep->addr6.sin6_port));
	} else {
		inet_ntop(AF_INET, &ep->addr4.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(ep->addr4.sin_port));
	}
}

static int64_t clamp64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v; /* as the status reply's JSON reads back */
}

/* One peer as the status reply has it (control.c's peer_json), copied into m. */
static int snapshot_peer(struct metrics_snapshot *m, const struct hubd *h,
			 const struct hubd_peer_conf *p, int64_t now)
{
	const struct hubd_peer_state *s = hubd_peer_find(h, p->public_key);
	const union wgnl_endpoint *ep = s && s->learned.addr.sa_family ? &s->learned
					: s			       ? &s->resolved
								       : NULL;
	char key[WGNL_KEY_B64_LEN + 1], where[INET6_ADDRSTRLEN + 10] = "";
	char prefix[INET6_ADDRSTRLEN + 8];
	struct metrics_peer_info i;
	int r;

	wgnl_key_to_base64(key, p->public_key);
	if (ep && (ep->addr.sa_family == AF_INET || ep->addr.sa_family == AF_INET6))
		endpoint_text(ep, where, sizeof(where));
	i = (struct metrics_peer_info){
	    .name = p->name,
	    .public_key = key,
	    .endpoint = where,
	    .health = hubd_health_name(s ? s->health : HEALTH_NEVER),
	    .latest_handshake = s ? s->last_handshake : 0,
	    .has_age = s && s->last_handshake,
	    .handshake_age = s && s->last_handshake ? now - s->last_handshake : 0,
	    .rx_bytes = s ? clamp64(s->rx_bytes) : 0,
	    .tx_bytes = s ? clamp64(s->tx_bytes) : 0,
	};
	r = metrics_snapshot_add_peer(m, &i);
	for (size_t k = 0; k < p->n_allowed_ips && r >= 0; k++) {
		hubd_prefix_format(&p->allowed_ips[k], prefix, sizeof(prefix));
		r = metrics_snapshot_add_allowed_ip(m, prefix);
	}
	return r;
}

/*
 * What the metrics text needs, copied flat (no JSON), or NULL (no
 * configuration yet, or out of memory): the same values as the status reply
 * that hubctl metrics renders. The text is rendered from it slice by slice
 * later, so a reconcile meanwhile changes nothing in this scrape.
 */
static struct metrics_snapshot *snapshot(struct hubd *h)
{
	const struct hubd_iface_conf *c;
	struct metrics_counters mc;
	struct metrics_snapshot *m;
	char key[WGNL_KEY_B64_LEN + 1];
	int64_t now = time(NULL);
	wgnl_key pub;

	if (!h->cfg)
		return NULL;
	/* The health timer's dump, or the last scrape's or status request's walk, if recent. */
	if (!h->observed_us || hubd_now_us() - h->observed_us > FRESH_USEC)
		hubd_refresh(h);
	c = &h->cfg->iface;
	wgnl_key_public_from_private(pub, c->private_key);
	wgnl_key_to_base64(key, pub);
	mc = (struct metrics_counters){
	    .reconciles = clamp64(h->counters.reconciles),
	    .drift_repairs = clamp64(h->counters.drift_repairs),
	    .netlink_messages = clamp64(h->counters.netlink_messages),
	    .config_errors = clamp64(h->counters.config_errors),
	};
	m = metrics_snapshot_new(c->name, key, &mc);
	for (size_t i = 0; m && i < h->cfg->n_peers; i++)
		if (snapshot_peer(m, h, &h->cfg->peers[i], now) < 0) {
			metrics_snapshot_free(m);
			m = NULL;
		}
	return m;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET");
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* libmicrohttpd asks for more of the text when the client's socket can take it. */
static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	uint64_t t0 = hubd_now_us();
	ssize_t n = metrics_render_read(cls, buf, max);

	if (n > 0)
		srv.stats.bytes += n;
	if (hubd_now_us() - t0 > srv.stats.slice_max_us)
		srv.stats.slice_max_us = hubd_now_us() - t0;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void on_done(void *cls)
{
	metrics_render_free(cls);
	malloc_trim(0); /* the snapshot was O(N) */
	srv.scrapes--;
	srv.stats.done = true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct metrics_snapshot *m;
	struct metrics_render *r;
	struct MHD_Response *resp;
	enum MHD_Result k;
	uint64_t t0 = hubd_now_us();

	if (strcmp(method, MHD_HTTP_METHOD_GET))
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n");
	if (strcmp(url, "/metrics"))
		return respond(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	m = snapshot(srv.l->h);
	r = m ? metrics_render_new(m, METRICS_SLICE_BYTES) : NULL;
	if (!r)
		return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			       "no metrics: no usable configuration yet, or out of memory\n");
	if (!srv.scrapes)
		srv.stats = (struct scrape_stats){0};
	if (hubd_now_us() - t0 > srv.stats.snapshot_max_us)
		srv.stats.snapshot_max_us = hubd_now_us() - t0;
	/* The text a slice at a time, as the client takes it (chunked: its length is not known). */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, READ_BLOCK, on_read, r, on_done);
	if (!resp) {
		metrics_render_free(r);
		return MHD_NO;
	}
	srv.scrapes++;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	k = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return k;
}

static unsigned connections(void)
{
	const union MHD_DaemonInfo *i =
	    MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

/*
 * How long the loop was held for scrapes: once the last response is freed,
 * the longest walk and snapshot, the longest slice and the longest turn of
 * libmicrohttpd (bench/run-metrics.sh reads this line).
 */
static void scrape_account(uint64_t turn_us)
{
	if (turn_us > srv.stats.turn_max_us)
		srv.stats.turn_max_us = turn_us;
	if (!srv.stats.done || srv.scrapes)
		return;
	log_debug("metrics: served %zu bytes; longest hold of the loop: %.1f ms (walk and "
		  "snapshot %.1f ms, slice %.1f ms)",
		  srv.stats.bytes, srv.stats.turn_max_us / 1000.0,
		  srv.stats.snapshot_max_us / 1000.0, srv.stats.slice_max_us / 1000.0);
	srv.stats = (struct scrape_stats){0};
}

/*
 * Let libmicrohttpd work, then wake it again when its next timeout is due (or
 * never). At CLIENTS_MAX it takes its listening socket out of its epoll set
 * and puts it back only at the start of a later run, which nothing else
 * would bring about once its last client is gone: so while there is room,
 * the listening socket is a source of ours too (level-triggered), and a
 * client waiting in the kernel's queue makes libmicrohttpd run. Should a run
 * take none of them, the source rests until libmicrohttpd's own descriptor or
 * timer wakes it, rather than spin.
 */
static void mhd_turn(bool from_listen)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	unsigned before = connections();
	uint64_t t0 = hubd_now_us();

	MHD_run(srv.d);
	scrape_account(hubd_now_us() - t0);
	if (from_listen && connections() <= before)
		srv.listen_rest = true;
	else if (!from_listen)
		srv.listen_rest = false;
	sd_event_source_set_enabled(srv.listen_io, connections() < CLIENTS_MAX && !srv.listen_rest
						       ? SD_EVENT_ON
						       : SD_EVENT_OFF);
	if (MHD_get_timeout(srv.d, &ms) != MHD_YES) {
		sd_event_source_set_enabled(srv.timer, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time_relative(srv.timer, (uint64_t)ms * 1000);
	sd_event_source_set_enabled(srv.timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	mhd_turn(false);
	return 0;
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	mhd_turn(true);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	mhd_turn(false);
	return 0;
}

static void server_close(void)
{
	srv.io = sd_event_source_disable_unref(srv.io);
	srv.listen_io = sd_event_source_disable_unref(srv.listen_io);
	srv.timer = sd_event_source_disable_unref(srv.timer);
	if (srv.d)
		MHD_stop_daemon(srv.d); /* closes the listening socket and every client */
	srv.d = NULL;
	srv.bound = (union wgnl_endpoint){0};
}

/* A listening socket on exactly ep: our own, so that a failure has its errno. */
static int listen_on(const union wgnl_endpoint *ep)
{
	int fd = socket(ep->addr.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ep->addr.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &ep->addr,
		 ep->addr.sa_family == AF_INET6 ? sizeof(ep->addr6) : sizeof(ep->addr4)) < 0 ||
	    listen(fd, CLIENTS_MAX) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int server_open(const union wgnl_endpoint *ep)
{
	const union MHD_DaemonInfo *info;
	int fd = listen_on(ep), r;

	if (fd < 0)
		return fd;
	srv.d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
				 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				 MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				 (unsigned)CLIENTS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
				 (unsigned)IDLE_SEC, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				 (size_t)REQUEST_MAX, MHD_OPTION_END);
	if (!srv.d) {
		/* Whether libmicrohttpd closed a socket it was given, on failing, differs between
		 * its versions. */
		if (fcntl(fd, F_GETFD) >= 0)
			close(fd);
		return -ENOMEM;
	}
	info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_EPOLL_FD);
	r = info ? sd_event_add_io(srv.l->event, &srv.io, info->epoll_fd, EPOLLIN, on_io, NULL)
		 : -EINVAL;
	if (r >= 0)
		r = sd_event_add_io(srv.l->event, &srv.listen_io, fd, EPOLLIN, on_listen, NULL);
	/* Accuracy 1 us, not sd-event's default 250 ms: libmicrohttpd says "0 ms" when a client's
	 * socket can take the next slice at once, and 250 ms a slice would make a scrape of 10 MB
	 * take minutes. */
	if (r >= 0)
		r = sd_event_add_time_relative(srv.l->event, &srv.timer, CLOCK_MONOTONIC, 0, 1,
					       on_timer, NULL);
	if (r < 0) {
		server_close();
		return r;
	}
	sd_event_source_set_enabled(srv.timer, SD_EVENT_OFF);
	srv.bound = *ep;
	return 0;
}

/*
 * Follow the running configuration. A MetricsListen that hubd.conf(5) rejects
 * never gets here (the last good configuration runs on), so the last good
 * listener stays; an address that cannot be bound (not yet on any link) is
 * tried again after each reconcile and health check, its error logged once.
 */
static void metrics_sync(struct hubd_loop *l)
{
	const union wgnl_endpoint none = {0},
				  *want = l->h->cfg ? &l->h->cfg->iface.metrics_listen : &none;
	char text[INET6_ADDRSTRLEN + 10];
	int r;

	if (same_endpoint(want, &srv.bound) && (srv.d || !want->addr.sa_family))
		return;
	if (srv.d)
		log_info("metrics: no longer serving on the old MetricsListen");
	server_close();
	if (!want->addr.sa_family)
		return;
	endpoint_text(want, text, sizeof(text));
	r = server_open(want);
	if (r >= 0) {
		srv.failed = none;
		log_info("metrics: serving http://%s/metrics", text);
	} else if (!same_endpoint(want, &srv.failed) || r != srv.failed_err) {
		srv.failed = *want;
		srv.failed_err = r;
		log_err_errno(r, "metrics: cannot listen on %s (tried again after each reconcile)",
			      text);
	}
}

static void metrics_after(struct hubd_loop *l)
{
	if (srv.chained)
		srv.chained(l);
	metrics_sync(l);
}

int metrics_http_start(struct hubd_loop *l)
{
	srv.l = l;
	srv.chained = l->after;
	l->after = metrics_after;
	return 0;
}

void metrics_http_stop(struct hubd_loop *l)
{
	server_close();
	if (l->after == metrics_after)
		l->after = srv.chained;
	srv.chained = NULL;
}
