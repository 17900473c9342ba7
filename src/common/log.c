/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

static bool use_journal;
static bool debug;
static char ifname[64] = "wg0";

/*
 * Under systemd, stderr is already connected to the journal (JOURNAL_STREAM);
 * we then log natively so that the structured fields survive.
 */
void log_setup(bool foreground)
{
	use_journal = !foreground && getenv("JOURNAL_STREAM") != NULL;
}

void log_set_interface(const char *name)
{
	snprintf(ifname, sizeof(ifname), "%s", name);
}

void log_set_debug(bool on)
{
	debug = on;
}

static const char *prio_name(int prio)
{
	switch (prio) {
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

/* Only the fields that apply go out: an empty HUBD_PEER= would match every filter. */
static void journal_send(int prio, const char *event, const char *peer, const char *file,
			 unsigned line, const char *text)
{
	char f[7][1100];
	struct iovec iov[7];
	int n = 0;

	snprintf(f[n++], sizeof(f[0]), "MESSAGE=%s", text);
	snprintf(f[n++], sizeof(f[0]), "PRIORITY=%d", prio);
	snprintf(f[n++], sizeof(f[0]), "HUBD_INTERFACE=%s", ifname);
	if (event)
		snprintf(f[n++], sizeof(f[0]), "HUBD_EVENT=%s", event);
	if (peer)
		snprintf(f[n++], sizeof(f[0]), "HUBD_PEER=%s", peer);
	if (file) {
		snprintf(f[n++], sizeof(f[0]), "CONFIG_FILE=%s", file);
		snprintf(f[n++], sizeof(f[0]), "CONFIG_LINE=%u", line);
	}
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){.iov_base = f[i], .iov_len = strlen(f[i])};
	sd_journal_sendv(iov, n);
}

static void emit(int prio, const char *event, const char *peer, const char *file, unsigned line,
		 const char *text)
{
	if (prio == LOG_DEBUG && !debug)
		return;
	if (!use_journal) {
		/* One write per line: stderr is unbuffered and cold starts log thousands of lines.
		 */
		char tag[256] = "", buf[1400];

		if (event)
			snprintf(tag, sizeof(tag), " [%s%s%s]", event, peer ? " peer=" : "",
				 peer ? peer : "");
		snprintf(buf, sizeof(buf), "hubd[%s]: %s%s%s\n", ifname, prio_name(prio), text,
			 tag);
		fputs(buf, stderr);
		return;
	}
	journal_send(prio, event, peer, file, line, text);
}

void log_msg(int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(prio, NULL, NULL, NULL, 0, buf);
}

void log_event(int prio, const char *event, const char *peer, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(prio, event, peer, NULL, 0, buf);
}

void log_config_error(int prio, const char *file, unsigned line, const char *message)
{
	char buf[1024];

	if (line)
		snprintf(buf, sizeof(buf), "%s:%u: %s", file, line, message);
	else
		snprintf(buf, sizeof(buf), "%s: %s", file, message);
	emit(prio, "config-error", NULL, file, line, buf);
}

int log_msg_errno(int prio, int r, const char *fmt, ...)
{
	char buf[1024];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(r < 0 ? -r : r));
	emit(prio, NULL, NULL, NULL, 0, buf);
	return r < 0 ? r : -r;
}
