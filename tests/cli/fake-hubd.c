/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A stand-in for hubd's control socket, for testing hubctl without a kernel:
 *   fake-hubd SOCKET DIR
 * answers each request {"command":"X"} with the file DIR/X.json as it is and
 * appends the raw request line to DIR/requests.log. Runs until killed.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REQUEST_MAX 4096

static void reply_file(int fd, const char *dir, const char *command)
{
	char path[4096], buf[65536];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.json", dir, command);
	f = fopen(path, "re");
	if (!f) {
		dprintf(fd, "{\"ok\":false,\"error\":\"unknown command\"}\n");
		return;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (write(fd, buf, n) != (ssize_t)n)
			break;
	fclose(f);
}

static void serve(int fd, const char *dir)
{
	char req[REQUEST_MAX + 1], path[4096];
	size_t len = 0;
	struct json_object *o, *cmd;
	FILE *log;

	while (len < REQUEST_MAX && !memchr(req, '\n', len)) {
		ssize_t n = read(fd, req + len, REQUEST_MAX - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	req[len] = '\0';
	snprintf(path, sizeof(path), "%s/requests.log", dir);
	log = fopen(path, "ae");
	if (log) {
		fputs(req, log);
		fclose(log);
	}
	o = json_tokener_parse(req);
	if (o && json_object_object_get_ex(o, "command", &cmd) &&
	    json_object_is_type(cmd, json_type_string) && !strchr(json_object_get_string(cmd), '/'))
		reply_file(fd, dir, json_object_get_string(cmd));
	else
		dprintf(fd, "{\"ok\":false,\"error\":\"bad request\"}\n");
	json_object_put(o);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fputs("usage: fake-hubd SOCKET DIR\n", stderr);
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0) {
		perror("fake-hubd");
		return 1;
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0) {
			perror("fake-hubd: accept");
			return 1;
		}
		serve(fd, argv[2]);
		close(fd);
	}
}
