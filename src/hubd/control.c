/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control socket for hubctl (docs/control-protocol.md). It trusts
 * nobody: SO_PEERCRED must show root or a member of the socket's group, a
 * request is at most 4096 bytes and one of a few commands, and no reply ever
 * carries a private or preshared key, though the kernel's dump holds both.
 * Nor can a client hold up the loop: every socket is non-blocking, a reply
 * waits in its connection's buffer for the socket to drain, each connection
 * has a deadline, and only CLIENTS_MAX are served at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <json-c/json.h>
#include <malloc.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "loop.h"
#include "takeover.h"

/*
 * A client has REQUEST_TIMEOUT_USEC to send its request and, once the reply
 * is made, REPLY_TIMEOUT_USEC to take all of it; past either it is dropped. The
 * reply waits in the connection's buffer and goes out as the socket drains,
 * so a slow reader only ever delays itself.
 */
#define USEC_PER_MSEC	     1000ULL
#define REQUEST_TIMEOUT_USEC (2000 * USEC_PER_MSEC)
#define REPLY_TIMEOUT_USEC   (10000 * USEC_PER_MSEC)
/* Connections served at once; see make_room() for what happens to more. */
#define CLIENTS_MAX 16
/* Out of file descriptors: how long accepting pauses instead of spinning. */
#define ACCEPT_PAUSE_USEC (100 * USEC_PER_MSEC)

struct conn {
	struct hubd_loop *l;
	int fd;
	sd_event_source *io, *timer;
	struct conn *prev, *next; /* in accept order: the oldest first */
	size_t len;
	bool denied;   /* answered "permission denied" once its request is read */
	bool replying; /* the request is read; out holds (the rest of) the reply */
	int passed_fd; /* a file the client opened and passed (SCM_RIGHTS), or -1 */
	struct hubd_buf out;
	size_t out_sent;
	char buf[CONTROL_REQUEST_MAX + 1];
};

/*
 * The listening socket's state. One per process, as there is one control
 * socket, and struct hubd_loop only carries its descriptor.
 */
static struct {
	sd_event_source *accept, *pause;
	struct conn *first, *last;
	size_t n;
} server;

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	*(c->prev ? &c->prev->next : &server.first) = c->next;
	*(c->next ? &c->next->prev : &server.last) = c->prev;
	server.n--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->timer);
	close(c->fd);
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	free(c->out.data);
	free(c);
}

static bool in_group(uid_t uid, gid_t gid, gid_t want)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256;

	if (gid == want)
		return true;
	pw = getpwuid(uid);
	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

static bool allowed(struct conn *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == 0)
		return true;
	return c->l->h->socket_gid && in_group(cred.uid, cred.gid, c->l->h->socket_gid);
}

/* Send what the socket takes now. 1: all sent, 0: more to send, -errno: the client is gone. */
static int out_send(struct conn *c)
{
	while (c->out_sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		c->out_sent += (size_t)n;
	}
	return 1;
}

/*
 * The reply is complete in c->out: send what fits at once (most replies, and
 * every reply to a client that reads), the rest whenever the socket drains.
 */
static void reply_flush(struct conn *c)
{
	if (out_send(c) != 0 || sd_event_source_set_io_events(c->io, EPOLLOUT) < 0)
		conn_free(c);
}

static void reply(struct conn *c, json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	if (hubd_buf_add(&c->out, text, strlen(text)) < 0 || hubd_buf_add(&c->out, "\n", 1) < 0)
		c->out.len = 0; /* out of memory: the client gets no answer, and an EOF */
	json_object_put(o);
}

static json_object *error_reply(const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static json_object *strings(const struct hubd_changes *ch)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < ch->n; i++)
		json_object_array_add(a, json_object_new_string(ch->items[i].text));
	return a;
}

static json_object *diag_strings(const struct hubd_diags *d, bool warnings)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct hubd_diag *g = &d->items[i];
		char *s;
		int k;

		if (g->warning != warnings)
			continue;
		k = g->line ? asprintf(&s, "%s:%u: %s", g->path, g->line, g->message)
			    : asprintf(&s, "%s: %s", g->path, g->message);
		if (k < 0)
			continue;
		json_object_array_add(a, json_object_new_string(s));
		free(s);
	}
	return a;
}

static json_object *do_reconcile(struct conn *c, bool dry)
{
	struct hubd_changes ch = {0};
	struct hubd_diags diags = {0};
	unsigned flags = RECONCILE_CONFIG | (dry ? RECONCILE_DRY : 0);
	int r = loop_reconcile_now(c->l, flags, &ch, &diags);
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(r >= 0));
	if (r < 0)
		json_object_object_add(o, "error", json_object_new_string(strerror(-r)));
	json_object_object_add(o, "changes", strings(&ch));
	json_object_object_add(o, "errors", diag_strings(&diags, false));
	json_object_object_add(o, "warnings", diag_strings(&diags, true));
	changes_clear(&ch);
	hubd_diags_free(&diags);
	return o;
}

static json_object *prefixes(const struct hubd_prefix *p, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		char buf[INET6_ADDRSTRLEN + 8];

		hubd_prefix_format(&p[i], buf, sizeof(buf));
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

/*
 * hubctl takeover FILE: the file comes as a descriptor that hubctl opened.
 * Root only, unlike the other requests: it changes where the hub sends its
 * peers' packets, which the socket's group has no say in otherwise.
 */
static json_object *do_takeover(struct conn *c)
{
	struct hubd_takeover_result res;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	json_object *o;
	int r;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0)
		return error_reply("permission denied: takeover is for root");
	if (c->passed_fd < 0)
		return error_reply("takeover needs the endpoints file passed with the request");
	r = hubd_takeover(c->l->h, c->passed_fd, &res);
	if (r == -EXDEV)
		return error_reply("the endpoints file is from a hub with another key");
	if (r == -EINVAL)
		return error_reply(
		    "the endpoints file is not the output of hubctl endpoints --json");
	if (r == -ENODATA)
		return error_reply("no usable configuration yet");
	if (r < 0)
		return error_reply(strerror(-r));
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	json_object_object_add(o, "contacted", json_object_new_uint64(res.contacted));
	json_object_object_add(o, "renewed", json_object_new_uint64(res.renewed));
	json_object_object_add(o, "fresher_here", json_object_new_uint64(res.fresher));
	json_object_object_add(o, "configured_endpoint", json_object_new_uint64(res.configured));
	json_object_object_add(o, "unknown", json_object_new_uint64(res.unknown));
	return o;
}

static const char *forward_name(enum hubd_forward f)
{
	return f == HUBD_FORWARD_HUB ? "hub" : f == HUBD_FORWARD_ISOLATE ? "isolate" : "off";
}

static json_object *iface_json(const struct hubd *h)
{
	const struct hubd_iface_conf *c = &h->cfg->iface;
	json_object *o = json_object_new_object();
	char b64[WGNL_KEY_B64_LEN + 1];
	wgnl_key pub;
	size_t up, stale;

	wgnl_key_public_from_private(pub, c->private_key);
	wgnl_key_to_base64(b64, pub);
	hubd_health_counts(h, &up, &stale);
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "public_key", json_object_new_string(b64));
	json_object_object_add(o, "listen_port", json_object_new_int(c->listen_port));
	json_object_object_add(o, "addresses", prefixes(c->addresses, c->n_addresses));
	json_object_object_add(o, "mtu", json_object_new_int(c->mtu));
	json_object_object_add(o, "fwmark", json_object_new_int64(c->fwmark));
	json_object_object_add(o, "forward", json_object_new_string(forward_name(c->forward)));
	json_object_object_add(o, "peers_total", json_object_new_int64(h->cfg->n_peers));
	json_object_object_add(o, "peers_up", json_object_new_int64(up));
	json_object_object_add(o, "peers_stale", json_object_new_int64(stale));
	json_object_object_add(o, "peers_expired", json_object_new_int64(h->cfg->n_expired));
	return o;
}

/* Which way the reconciles went (hubd_reconcile's choice), how often and how long. */
static json_object *paths_json(const struct hubd *h)
{
	json_object *o = json_object_new_object();

	json_object_object_add(
	    o, "last_path",
	    h->last_path < 0 ? NULL : json_object_new_string(hubd_path_name(h->last_path)));
	for (int p = 0; p < HUBD_PATH_MAX; p++) {
		json_object *s = json_object_new_object();

		json_object_object_add(s, "count", json_object_new_uint64(h->paths[p].count));
		json_object_object_add(s, "last_us", json_object_new_uint64(h->paths[p].last_us));
		json_object_object_add(s, "total_us", json_object_new_uint64(h->paths[p].total_us));
		json_object_object_add(o, hubd_path_name(p), s);
	}
	return o;
}

/* Resolved, so that hubd --down, wherever it runs from, can compare it with its own. */
static json_object *config_dir_json(const struct hubd *h)
{
	char *dir = realpath(h->config_dir, NULL);
	json_object *o = json_object_new_string(dir ? dir : h->config_dir);

	free(dir);
	return o;
}

static json_object *status_head(const struct hubd *h)
{
	json_object *o = json_object_new_object(), *counters = json_object_new_object();

	json_object_object_add(counters, "reconciles",
			       json_object_new_uint64(h->counters.reconciles));
	json_object_object_add(counters, "drift_repairs",
			       json_object_new_uint64(h->counters.drift_repairs));
	json_object_object_add(counters, "netlink_messages",
			       json_object_new_uint64(h->counters.netlink_messages));
	json_object_object_add(counters, "config_errors",
			       json_object_new_uint64(h->counters.config_errors));
	json_object_object_add(counters, "reconcile", paths_json(h));
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	json_object_object_add(o, "config_dir", config_dir_json(h));
	json_object_object_add(o, "interface", iface_json(h));
	json_object_object_add(o, "counters", counters);
	return o;
}

/*
 * The status of every peer, written one peer at a time: a reply for 10,000
 * peers built as one JSON tree would take tens of megabytes of heap, which
 * the daemon would then keep. The text is made whole before any of it goes
 * out, so a client draining it slowly still reads one consistent picture,
 * though a reconcile replaces the config meanwhile.
 */
static void reply_status(struct conn *c)
{
	struct hubd *h = c->l->h;
	json_object *head;
	struct hubd_buf peer = {0};
	char b64[WGNL_KEY_B64_LEN + 1];
	const char *text;
	int64_t now = time(NULL);
	int r;

	if (!h->cfg) {
		json_object *o = error_reply("no usable configuration yet");

		/* hubd --down asks too: it refuses when this daemon runs for its config. */
		json_object_object_add(o, "config_dir", config_dir_json(h));
		reply(c, o);
		return;
	}
	hubd_refresh(h);
	head = status_head(h);
	text = json_object_to_json_string_ext(head, JSON_C_TO_STRING_PLAIN);
	r = hubd_buf_add(&c->out, text, strlen(text) - 1); /* without its closing brace */
	json_object_put(head);
	if (r >= 0)
		r = hubd_buf_add(&c->out, ",\"peers\":[", strlen(",\"peers\":["));
	/* Both lists are sorted by name: merged, the expired peers stand where they belong. */
	for (size_t i = 0, e = 0; (i < h->cfg->n_peers || e < h->cfg->n_expired) && r >= 0;) {
		bool expired =
		    i == h->cfg->n_peers ||
		    (e < h->cfg->n_expired &&
		     hubd_peer_conf_name_cmp(&h->cfg->expired[e], &h->cfg->peers[i]) < 0);
		const struct hubd_peer_conf *p =
		    expired ? &h->cfg->expired[e++] : &h->cfg->peers[i++];
		const struct hubd_peer_state *s = expired ? NULL : hubd_peer_find(h, p->public_key);

		/* Text written directly (control-status.c): a json-c object per peer cost more
		 * than the kernel's dump. One buffer, reused: the peer's text, then a copy. */
		peer.len = 0;
		wgnl_key_to_base64(b64, p->public_key);
		r = control_peer_status(&peer, p, s, now, b64,
					expired ? "expired"
						: hubd_health_name(s ? s->health : HEALTH_NEVER));
		if (r >= 0 && i + e > 1)
			r = hubd_buf_add(&c->out, ",", 1);
		if (r >= 0)
			r = hubd_buf_add(&c->out, peer.data, peer.len);
	}
	free(peer.data);
	if (r >= 0)
		r = hubd_buf_add(&c->out, "]}\n", 3);
	malloc_trim(0); /* the dump's messages were O(N); the peers' text reuses one buffer */
	if (r < 0) {
		c->out.len = 0;
		reply(c, error_reply("out of memory"));
	}
}

static void answer_request(struct conn *c)
{
	if (c->denied) {
		reply(c, error_reply("permission denied"));
		return;
	}
	/* A buffer full without a newline: the request goes on beyond what we take. */
	if (!memchr(c->buf, '\n', c->len) && c->len == sizeof(c->buf) - 1) {
		reply(c, error_reply("request too large"));
		return;
	}
	switch (control_parse_request(c->buf, c->len)) {
	case CONTROL_RELOAD:
		reply(c, do_reconcile(c, false));
		break;
	case CONTROL_DIFF:
		reply(c, do_reconcile(c, true));
		break;
	case CONTROL_STATUS:
		reply_status(c);
		break;
	case CONTROL_TAKEOVER:
		reply(c, do_takeover(c));
		break;
	case -E2BIG:
		reply(c, error_reply("request too large"));
		break;
	case -EOPNOTSUPP:
		reply(c, error_reply("unknown command"));
		break;
	default:
		reply(c, error_reply("malformed request"));
	}
}

static void answer(struct conn *c)
{
	c->replying = true;
	answer_request(c);
	/* One deadline for the whole reply, however slowly the client reads, counted from when
	 * the reply is made: a reload or status of 100,000 peers can take longer than that to
	 * make on a slow machine, and the client waits for it (HUBCTL_TIMEOUT_SEC). */
	sd_event_source_set_time_relative(c->timer, REPLY_TIMEOUT_USEC);
}

/*
 * Keep the first descriptor a client passed with its request (takeover reads
 * the file through it, with the client's rights, never a path it names); any
 * other is closed at once, and those that did not fit the buffer the kernel
 * closed itself.
 */
static void take_fds(struct conn *c, struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			if (c->passed_fd < 0)
				c->passed_fd = fds[i];
			else
				close(fds[i]);
		}
	}
}

/* Read the request; 1 once it is complete, 0 while more may come, -errno when it never will. */
static int read_request(struct conn *c)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {c->buf + c->len, sizeof(c->buf) - 1 - c->len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = &control,
			     .msg_controllen = sizeof(control)};
	ssize_t n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n >= 0)
		take_fds(c, &msg);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return c->len ? 1 : -ENODATA; /* no request at all: no answer */
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	/* A request that fills the buffer without its newline is answered "too large". */
	return memchr(c->buf, '\n', c->len) || c->len == sizeof(c->buf) - 1 ? 1 : 0;
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = userdata;
	int r;

	if (c->replying) {
		if (out_send(c) != 0)
			conn_free(c);
		return 0;
	}
	r = read_request(c);
	if (r < 0) {
		conn_free(c);
	} else if (r > 0) {
		answer(c);
		reply_flush(c);
	}
	return 0;
}

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	conn_free(userdata);
	return 0;
}

/*
 * Turn a client away with a reason: its request, if it came yet, is read
 * first, as closing on unread data would make the kernel reset the
 * connection before the client reads the answer.
 */
static void refuse(int fd, const char *why)
{
	char drain[CONTROL_REQUEST_MAX], msg[128];
	int n = snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"%s\"}\n", why);

	while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Has c sent nothing at all yet? */
static bool conn_idle(const struct conn *c)
{
	char b;

	return !c->replying && c->len == 0 && recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
	       errno == EAGAIN;
}

/*
 * With CLIENTS_MAX connections open, a new one takes the place of the oldest
 * that has not sent a request yet (else the oldest still sending one): a
 * flood of idle connections cannot lock hubctl out. When every connection is
 * being answered, the newcomer is refused. Returns whether there is room.
 */
static bool make_room(void)
{
	struct conn *victim = NULL;

	if (server.n < CLIENTS_MAX)
		return true;
	for (struct conn *c = server.first; c && !victim; c = c->next)
		if (conn_idle(c))
			victim = c;
	for (struct conn *c = server.first; c && !victim; c = c->next)
		if (!c->replying)
			victim = c;
	if (!victim)
		return false;
	log_debug("control socket: %d clients, dropping the oldest idle one", CLIENTS_MAX);
	refuse(victim->fd, "too many clients");
	conn_free(victim);
	return true;
}

static int on_accept_pause(sd_event_source *s, uint64_t usec, void *userdata)
{
	server.pause = sd_event_source_disable_unref(server.pause);
	sd_event_source_set_enabled(server.accept, SD_EVENT_ON);
	return 0;
}

/* Out of descriptors or memory: accepting again at once would only spin. */
static void accept_pause(struct hubd_loop *l, int err)
{
	log_warn_errno(err, "control socket: accept: pausing %llu ms",
		       ACCEPT_PAUSE_USEC / USEC_PER_MSEC);
	sd_event_source_set_enabled(server.accept, SD_EVENT_OFF);
	if (!server.pause &&
	    sd_event_add_time_relative(l->event, &server.pause, CLOCK_MONOTONIC, ACCEPT_PAUSE_USEC,
				       0, on_accept_pause, NULL) < 0)
		sd_event_source_set_enabled(server.accept, SD_EVENT_ON);
}

static int conn_new(struct hubd_loop *l, int cfd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(cfd);
		return -ENOMEM;
	}
	c->l = l;
	c->fd = cfd;
	c->passed_fd = -1;
	c->prev = server.last;
	*(server.last ? &server.last->next : &server.first) = c;
	server.last = c;
	server.n++;
	/*
	 * A refused client still gets its request read before the answer: closing
	 * on unread data makes the kernel reset the connection, and the client
	 * would lose the reason.
	 */
	c->denied = !allowed(c);
	if (sd_event_add_io(l->event, &c->io, cfd, EPOLLIN, on_conn, c) < 0 ||
	    sd_event_add_time_relative(l->event, &c->timer, CLOCK_MONOTONIC, REQUEST_TIMEOUT_USEC,
				       0, on_conn_timeout, c) < 0) {
		conn_free(c);
		return -ENOMEM;
	}
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hubd_loop *l = userdata;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			accept_pause(l, -errno);
		return 0;
	}
	if (!make_room()) {
		refuse(cfd, "too many clients");
		close(cfd);
	} else if (conn_new(l, cfd) < 0)
		accept_pause(l, -ENOMEM);
	return 0;
}

/*
 * Bind under a temporary name and rename into place once owner and mode are
 * right, so nobody ever meets the socket with the wrong permissions.
 */
static int bind_socket(int fd, const char *path, gid_t gid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int r = 0;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.new", path) >= (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	unlink(sa.sun_path);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	umask(old);
	if (r < 0)
		return r;
	if (chown(sa.sun_path, 0, gid) < 0 || chmod(sa.sun_path, 0660) < 0 ||
	    rename(sa.sun_path, path) < 0) {
		r = -errno;
		unlink(sa.sun_path);
	}
	return r;
}

int control_start(struct hubd_loop *l, const char *path, gid_t gid)
{
	char dir[PATH_MAX];
	int fd, r;

	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/')) {
		*strrchr(dir, '/') = '\0';
		if (*dir)
			mkdir(dir, 0755);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = bind_socket(fd, path, gid);
	if (r >= 0 && listen(fd, 16) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	l->control_fd = fd;
	return sd_event_add_io(l->event, &server.accept, fd, EPOLLIN, on_accept, l);
}

void control_stop(struct hubd_loop *l, const char *path)
{
	while (server.first)
		conn_free(server.first);
	server.accept = sd_event_source_disable_unref(server.accept);
	server.pause = sd_event_source_disable_unref(server.pause);
	if (l->control_fd >= 0) {
		close(l->control_fd);
		unlink(path);
	}
	l->control_fd = -1;
}

/* Is the daemon that answered for config_dir? Paths are compared resolved: "/etc/hubd/" and
 * "/etc//hubd" are the same directory. A reply that names no directory is taken as ours. */
static bool same_config_dir(const char *reply, const char *config_dir)
{
	json_object *o = json_tokener_parse(reply), *dir;
	char *a = NULL, *b = NULL;
	bool same = true;

	if (o && json_object_object_get_ex(o, "config_dir", &dir) &&
	    json_object_is_type(dir, json_type_string)) {
		a = realpath(json_object_get_string(dir), NULL);
		b = realpath(config_dir, NULL);
		same = a && b ? !strcmp(a, b) : !strcmp(json_object_get_string(dir), config_dir);
	}
	free(a);
	free(b);
	json_object_put(o);
	return same;
}

int control_daemon_running(const char *path, const char *config_dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	static const char req[] = "{\"command\":\"status\"}\n";
	char head[4096];
	size_t len = 0;
	ssize_t n;
	int fd, r;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == ENOENT || errno == ECONNREFUSED ? 0 : -errno;
		close(fd);
		return r;
	}
	/* Something listens there: only a reply for another config dir lets --down go on. A
	 * status reply can be megabytes; its head names the directory. */
	if (write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1)
		while (len < sizeof(head) - 1 &&
		       (n = read(fd, head + len, sizeof(head) - 1 - len)) > 0)
			len += (size_t)n;
	close(fd);
	head[len] = '\0';
	if (len && head[len - 1] != '\n' && strchr(head, ',')) {
		/* Cut after the first members: {"ok":..,"config_dir":"..", */
		char *end = strstr(head, ",\"interface\"");

		if (end)
			strcpy(end, "}");
	}
	return same_config_dir(head, config_dir) ? 1 : 0;
}
