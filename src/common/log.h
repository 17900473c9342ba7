/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's logging: one journal entry per event, with the structured
 * fields that hubd(8) lists under JOURNAL (HUBD_EVENT=, HUBD_INTERFACE=, HUBD_PEER=,
 * CONFIG_FILE=, CONFIG_LINE=). Without the journal the same information goes
 * to stderr, one line per event. Nothing here may ever be handed a key.
 */
#ifndef HUBD_LOG_H
#define HUBD_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_setup(bool foreground);
void log_set_interface(const char *ifname);
void log_set_debug(bool on);

/* A plain message. */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An event: event is one of the HUBD_EVENT values in hubd(8); peer may be NULL. */
void log_event(int prio, const char *event, const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A configuration diagnostic naming file and line (line 0: the whole file). */
void log_config_error(int prio, const char *file, unsigned line, const char *message);

/*
 * A message with ": " and the error's text appended; returns r as a negative
 * errno. Where an error is decided, "return log_err_errno(r, ...)" logs it
 * once, and the callers pass it on without logging it again.
 */
int log_msg_errno(int prio, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_err_errno(r, ...)  log_msg_errno(LOG_ERR, (r), __VA_ARGS__)
#define log_warn_errno(r, ...) log_msg_errno(LOG_WARNING, (r), __VA_ARGS__)

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
