/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A list of human-readable changes: what a reconcile did, or what a diff would do. */
#ifndef HUBD_CHANGES_H
#define HUBD_CHANGES_H

#include <stddef.h>

/*
 * Each item may carry the journal event it stands for (hubd(8)'s HUBD_EVENT) and
 * the peer it concerns, so the daemon can log it once with the right fields.
 */
struct hubd_change {
	char *text;
	const char *event; /* static string or NULL */
	char *peer;	   /* NULL when no peer is meant */
};

struct hubd_changes {
	struct hubd_change *items;
	size_t n, cap;
	/*
	 * 0 keeps every change. Otherwise only the first keep are kept and the
	 * rest only counted in dropped: the daemon logs no more than that many
	 * anyway, and a cold start of 10,000 peers would hold megabytes of them.
	 */
	size_t keep, dropped;
};

void changes_add(struct hubd_changes *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void changes_add_event(struct hubd_changes *c, const char *event, const char *peer, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));
/* Every change, kept or not. */
size_t changes_count(const struct hubd_changes *c);
void changes_truncate(struct hubd_changes *c, size_t count); /* back to the first count */
void changes_clear(struct hubd_changes *c);
/* Append src's changes to dst (as far as dst keeps them), leaving src empty. -1 when out of
 * memory (both unchanged). */
int changes_move(struct hubd_changes *dst, struct hubd_changes *src);

#endif
