/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host-name endpoints, resolved off the event loop. libsystemd does not
 * export sd-resolve, so glibc's getaddrinfo_a(3) does the lookups in its own
 * threads, and each completion writes to an eventfd that the loop watches: a
 * resolver that hangs delays no reconcile, no status and no other peer. After
 * every reconcile and health check the loop calls resolve_kick(), which asks
 * for the names that have no address yet (or that a stale peer may have moved
 * to) and are not waiting out a back-off; an answer that changes an address
 * schedules a reconcile, which sends it. The model is systemd-networkd's
 * peer_resolve_endpoint() in netdev/wireguard.c, with its back-off.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "diff.h"
#include "log.h"
#include "loop.h"

/* Queries out at once: a hung resolver ties up this many lookup threads at most. */
#define RESOLVE_MAX_OUT 8
/* After a failure, wait 1 s, doubled with each failure in a row, up to 5 minutes. */
#define RESOLVE_BACKOFF_MIN_USEC (1000 * 1000ULL)
#define RESOLVE_BACKOFF_MAX_USEC (300 * 1000 * 1000ULL)

struct query {
	struct gaicb cb; /* first: glibc's request */
	struct addrinfo hints;
	char service[8];
	char *host;
	uint16_t port;
	wgnl_key key;
	struct query *next;
};

/* The queries out, and those that could not be cancelled at exit (glibc's threads still use
 * them: they stay reachable, never freed under a thread). */
static struct query *out, *abandoned;
static int wake_fd = -1;

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void query_free(struct query *q)
{
	if (q->cb.ar_result)
		freeaddrinfo(q->cb.ar_result);
	free(q->host);
	free(q);
}

/* In a glibc thread, when a lookup is done: wake the loop. */
static void notify(union sigval v)
{
	uint64_t one = 1;

	(void)v;
	if (write(wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is full only if the loop has not read it for 2^64 answers. */
	}
}

/* The state that asked, if it still wants this very name. */
static struct hubd_peer_state *asker(struct hubd_loop *l, const struct query *q)
{
	struct hubd_peer_state *s = hubd_peer_find(l->h, q->key);

	return s && s->ep_host && !strcmp(s->ep_host, q->host) && s->ep_port == q->port ? s : NULL;
}

static void resolved(struct hubd_loop *l, struct hubd_peer_state *s, const struct addrinfo *ai)
{
	union wgnl_endpoint ep = {0};

	memcpy(&ep, ai->ai_addr, ai->ai_addrlen < sizeof(ep) ? ai->ai_addrlen : sizeof(ep));
	s->resolve_failures = 0;
	s->reresolve = false;
	if (hubd_endpoint_equal(&ep, &s->resolved))
		return;
	s->resolved = ep;
	log_event(LOG_INFO, "endpoint-resolved", s->name, "peer %s: %s resolved", s->name,
		  s->ep_host);
	loop_schedule(l, RECONCILE_RESOLVED, DEBOUNCE_KERNEL_USEC);
}

static void failed(struct hubd_peer_state *s, int ret)
{
	unsigned shift = s->resolve_failures < 9 ? s->resolve_failures : 9;
	uint64_t backoff = RESOLVE_BACKOFF_MIN_USEC << shift;

	if (backoff > RESOLVE_BACKOFF_MAX_USEC)
		backoff = RESOLVE_BACKOFF_MAX_USEC;
	if (!s->resolve_failures++)
		log_event(LOG_WARNING, "endpoint-resolved", s->name,
			  "peer %s: cannot resolve %s (%s), will retry", s->name, s->ep_host,
			  gai_strerror(ret));
	s->resolve_after = now_usec() + backoff;
	s->reresolve = false; /* a stale peer keeps the address it had */
}

static void answered(struct hubd_loop *l, struct query *q, int ret)
{
	struct hubd_peer_state *s = asker(l, q);

	l->resolving--;
	if (!s)
		return; /* the peer went, or its Endpoint changed meanwhile */
	s->resolving = false;
	if (ret == 0 && q->cb.ar_result)
		resolved(l, s, q->cb.ar_result);
	else
		failed(s, ret);
}

static void resolve_kick(struct hubd_loop *l);

static int on_wake(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct hubd_loop *l = userdata;
	uint64_t n;
	struct query **pp = &out;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return 0;
	while (*pp) {
		struct query *q = *pp;
		int ret = gai_error(&q->cb);

		if (ret == EAI_INPROGRESS) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		answered(l, q, ret);
		query_free(q);
	}
	resolve_kick(l);
	return 0;
}

static int ask(struct hubd_loop *l, struct hubd_peer_state *s)
{
	struct query *q = calloc(1, sizeof(*q));
	struct gaicb *list[1];
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = notify};
	int r;

	if (!q || !(q->host = strdup(s->ep_host))) {
		free(q);
		return -ENOMEM;
	}
	q->port = s->ep_port;
	memcpy(q->key, s->key, WGNL_KEY_LEN);
	snprintf(q->service, sizeof(q->service), "%u", s->ep_port);
	q->hints.ai_socktype = SOCK_DGRAM;
	q->hints.ai_flags = AI_NUMERICSERV;
	q->cb.ar_name = q->host;
	q->cb.ar_service = q->service;
	q->cb.ar_request = &q->hints;
	list[0] = &q->cb;
	r = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
	if (r != 0) {
		query_free(q);
		return -EAGAIN;
	}
	q->next = out;
	out = q;
	s->resolving = true;
	l->resolving++;
	return 0;
}

static bool wants_lookup(const struct hubd_peer_state *s)
{
	return s->ep_host && !s->resolving && (!s->resolved.addr.sa_family || s->reresolve);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	resolve_kick(userdata);
	return 0;
}

/* Ask for what is due; wake up when the earliest back-off ends. */
static void resolve_kick(struct hubd_loop *l)
{
	struct hubd *h = l->h;
	uint64_t now = now_usec(), next = UINT64_MAX;

	for (size_t i = 0; i < h->n_peers && l->resolving < RESOLVE_MAX_OUT; i++) {
		struct hubd_peer_state *s = &h->peers[i];

		if (!wants_lookup(s))
			continue;
		if (s->resolve_after > now) {
			next = s->resolve_after < next ? s->resolve_after : next;
			continue;
		}
		if (ask(l, s) < 0)
			break;
	}
	if (next == UINT64_MAX)
		return;
	sd_event_source_set_time(l->resolve_timer, next);
	sd_event_source_set_enabled(l->resolve_timer, SD_EVENT_ONESHOT);
}

int resolve_start(struct hubd_loop *l)
{
	int r;

	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wake_fd < 0)
		return -errno;
	r = sd_event_add_io(l->event, &l->resolve_io, wake_fd, EPOLLIN, on_wake, l);
	if (r >= 0)
		r = sd_event_add_time(l->event, &l->resolve_timer, CLOCK_MONOTONIC, UINT64_MAX,
				      1000, on_timer, l);
	if (r < 0)
		return r;
	sd_event_source_set_enabled(l->resolve_timer, SD_EVENT_OFF);
	l->after = resolve_kick;
	return 0;
}

void resolve_stop(struct hubd_loop *l)
{
	l->after = NULL;
	l->resolve_timer = sd_event_source_disable_unref(l->resolve_timer);
	l->resolve_io = sd_event_source_disable_unref(l->resolve_io);
	while (out) {
		struct query *q = out;

		out = q->next;
		if (gai_cancel(&q->cb) == EAI_NOTCANCELED) {
			q->next = abandoned; /* a thread still looks it up: keep it and the fd */
			abandoned = q;
		} else {
			query_free(q);
		}
	}
	if (!abandoned && wake_fd >= 0) {
		close(wake_fd);
		wake_fd = -1;
	}
}
