/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client side of docs/control-protocol.md. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hubctl-internal.h"
#include "macro.h"

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = HUBCTL_TIMEOUT_SEC};
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A daemon that hangs must not hang the reload unit or a monitoring script. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Send len bytes; pass_fd (unless -1) goes along with the first of them (SCM_RIGHTS). */
static ssize_t send_first(int fd, const char *buf, size_t len, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {(void *)buf, len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (pass_fd < 0)
		return send(fd, buf, len, MSG_NOSIGNAL);
	memset(&control, 0, sizeof(control));
	msg.msg_control = &control;
	msg.msg_controllen = sizeof(control);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

static int send_request(int fd, const char *command, int pass_fd)
{
	struct json_object *req = json_object_new_object();
	const char *s;
	char *line;
	int r = 0;

	if (!req)
		return -ENOMEM;
	json_object_object_add(req, "command", json_object_new_string(command));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (asprintf(&line, "%s\n", s) < 0) {
		json_object_put(req);
		return -ENOMEM;
	}
	for (size_t off = 0, len = strlen(line); off < len;) {
		ssize_t n = send_first(fd, line + off, len - off, pass_fd);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
		pass_fd = -1; /* it went with the first bytes */
	}
	free(line);
	json_object_put(req);
	shutdown(fd, SHUT_WR);
	/* A daemon refusing us may close before reading: its reply still says why. */
	return r == -EPIPE || r == -ECONNRESET ? 0 : r;
}

static int read_reply(int fd, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	_cleanup_free_ char *buf = malloc(cap);
	char *nbuf;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			if (cap >= HUBCTL_REPLY_MAX)
				return -EMSGSIZE;
			nbuf = realloc(buf, cap * 2);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1); /* room for a NUL */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* The reply's text, unparsed (NUL-terminated besides). */
static int request_text(const struct hubctl_opts *o, const char *command, int pass_fd, char **ret,
			size_t *ret_len)
{
	int fd, r;

	fd = connect_socket(o->socket_path);
	if (fd < 0)
		return fd;
	r = send_request(fd, command, pass_fd);
	if (r >= 0)
		r = read_reply(fd, ret, ret_len);
	close(fd);
	return r;
}

int hubctl_request_fd(const struct hubctl_opts *o, const char *command, int pass_fd,
		      struct json_object **ret_reply)
{
	struct json_tokener *tok;
	struct json_object *reply;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	r = request_text(o, command, pass_fd, &buf, &len);
	if (r < 0)
		return r;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	reply = json_tokener_parse_ex(tok, buf, (int)len);
	if (!reply || !json_object_is_type(reply, json_type_object)) {
		json_object_put(reply);
		r = -EBADMSG;
	}
	json_tokener_free(tok);
	if (r < 0)
		return r;
	*ret_reply = reply;
	return 0;
}

int hubctl_request(const struct hubctl_opts *o, const char *command, struct json_object **ret_reply)
{
	return hubctl_request_fd(o, command, -1, ret_reply);
}

/* What a verb prints when the request failed. */
static int request_failed(const struct hubctl_opts *o, int r)
{
	switch (r) {
	case -ENOENT:
	case -ECONNREFUSED:
		fputs("hubctl: hubd is not running (start it with: systemctl start hubd)\n",
		      stderr);
		return HUBCTL_EXIT_NODAEMON;
	case -EACCES:
	case -EPERM:
		fprintf(stderr,
			"hubctl: %s: permission denied (run as root or as a member of the socket's "
			"group)\n",
			o->socket_path);
		return HUBCTL_EXIT_ERROR;
	case -ETIMEDOUT:
		fprintf(stderr, "hubctl: hubd did not answer within %d s\n", HUBCTL_TIMEOUT_SEC);
		return HUBCTL_EXIT_ERROR;
	case -EBADMSG:
		fputs("hubctl: hubd sent a reply that is not a JSON object\n", stderr);
		return HUBCTL_EXIT_ERROR;
	case -EMSGSIZE:
		fputs("hubctl: hubd's reply is too large\n", stderr);
		return HUBCTL_EXIT_ERROR;
	default:
		fprintf(stderr, "hubctl: %s: %s\n", o->socket_path, strerror(-r));
		return HUBCTL_EXIT_ERROR;
	}
}

int hubctl_reply_failed(struct json_object *reply)
{
	struct json_object *ok;

	/* A reload with rejected files may answer ok:false with its lists: the verb prints them. */
	if (json_object_object_get_ex(reply, "ok", &ok) && !json_object_get_boolean(ok) &&
	    !hubctl_json_array(reply, "changes") && !hubctl_json_array(reply, "errors")) {
		const char *e = hubctl_json_str(reply, "error");

		fprintf(stderr, "hubctl: hubd: %s\n", e ? e : "request failed");
		return HUBCTL_EXIT_ERROR;
	}
	return 0;
}

int hubctl_call_fd(const struct hubctl_opts *o, const char *command, int pass_fd,
		   struct json_object **ret_reply)
{
	struct json_object *reply = NULL;
	int r = hubctl_request_fd(o, command, pass_fd, &reply);

	if (r < 0)
		return request_failed(o, r);
	r = hubctl_reply_failed(reply);
	if (r) {
		json_object_put(reply);
		return r;
	}
	*ret_reply = reply;
	return 0;
}

int hubctl_call_text(const struct hubctl_opts *o, const char *command, char **ret, size_t *ret_len)
{
	int r = request_text(o, command, -1, ret, ret_len);

	return r < 0 ? request_failed(o, r) : 0;
}

int hubctl_bad_reply(void)
{
	return request_failed(NULL, -EBADMSG); /* which names no socket: o unused */
}

bool hubctl_extra_args(int argc, char **argv, const char *usage)
{
	if (argc <= 1)
		return false;
	fprintf(stderr, "hubctl: unexpected argument '%s'\nusage: hubctl %s\n", argv[1], usage);
	return true;
}

const char *hubctl_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64_t hubctl_json_int(struct json_object *o, const char *key, int64_t def)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return def;
	return json_object_get_int64(v);
}

bool hubctl_json_is_null(struct json_object *o, const char *key)
{
	struct json_object *v;

	return !o || !json_object_object_get_ex(o, key, &v) || !v;
}

struct json_object *hubctl_json_array(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

void hubctl_print_json(struct json_object *o)
{
	struct json_object *copy = NULL;

	/* The exit code already says ok; the rest is the machine-readable answer. */
	if (json_object_deep_copy(o, &copy, NULL) == 0) {
		json_object_object_del(copy, "ok");
		o = copy;
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(copy);
}

static size_t print_strings(struct json_object *arr, FILE *f, const char *prefix)
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i);

		fprintf(f, "%s%s\n", prefix, s ? json_object_get_string(s) : "null");
	}
	return n;
}

int hubctl_print_changes(const struct hubctl_opts *o, struct json_object *reply,
			 size_t *ret_changes, size_t *ret_errors)
{
	struct json_object *changes = hubctl_json_array(reply, "changes");
	struct json_object *errors = hubctl_json_array(reply, "errors");
	struct json_object *ok = NULL;
	const char *error = hubctl_json_str(reply, "error");

	if (o->json) {
		hubctl_print_json(reply);
		*ret_changes = changes ? json_object_array_length(changes) : 0;
		*ret_errors = errors ? json_object_array_length(errors) : 0;
		return 0;
	}
	*ret_changes = print_strings(changes, stdout, "");
	*ret_errors = print_strings(errors, stderr, "");
	print_strings(hubctl_json_array(reply, "warnings"), stderr, "warning: ");
	/* A reconcile that failed as a whole (say, netlink refused) says so besides its lists. */
	if (json_object_object_get_ex(reply, "ok", &ok) && !json_object_get_boolean(ok) && error)
		fprintf(stderr, "hubctl: hubd: %s\n", error);
	return 0;
}

int hubctl_call(const struct hubctl_opts *o, const char *command, struct json_object **ret_reply)
{
	return hubctl_call_fd(o, command, -1, ret_reply);
}
