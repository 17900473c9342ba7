/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "changes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocation failure drops the line: a change report is never worth aborting a reconcile. */
__attribute__((format(printf, 4, 0))) static void
vadd(struct hubd_changes *c, const char *event, const char *peer, const char *fmt, va_list ap)
{
	struct hubd_change *it;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct hubd_change *items = realloc(c->items, cap * sizeof(*items));

		if (!items)
			return;
		c->items = items;
		c->cap = cap;
	}
	it = &c->items[c->n];
	*it = (struct hubd_change){.event = event};
	if (vasprintf(&it->text, fmt, ap) < 0)
		return;
	if (peer && !(it->peer = strdup(peer))) {
		free(it->text);
		return;
	}
	c->n++;
}

void changes_add(struct hubd_changes *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(c, NULL, NULL, fmt, ap);
	va_end(ap);
}

void changes_add_event(struct hubd_changes *c, const char *event, const char *peer, const char *fmt,
		       ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(c, event, peer, fmt, ap);
	va_end(ap);
}

void changes_truncate(struct hubd_changes *c, size_t n)
{
	for (size_t i = n; i < c->n; i++) {
		free(c->items[i].text);
		free(c->items[i].peer);
	}
	if (n < c->n)
		c->n = n;
}

void changes_clear(struct hubd_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].text);
		free(c->items[i].peer);
	}
	free(c->items);
	*c = (struct hubd_changes){0};
}

int changes_move(struct hubd_changes *dst, struct hubd_changes *src)
{
	if (dst->n + src->n > dst->cap) {
		size_t cap = dst->n + src->n;
		struct hubd_change *items = realloc(dst->items, cap * sizeof(*items));

		if (!items)
			return -1;
		dst->items = items;
		dst->cap = cap;
	}
	if (src->n)
		memcpy(dst->items + dst->n, src->items, src->n * sizeof(*src->items));
	dst->n += src->n;
	free(src->items);
	*src = (struct hubd_changes){0};
	return 0;
}
