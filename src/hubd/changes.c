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

	if (c->keep && c->n >= c->keep) {
		c->dropped++;
		return;
	}
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

size_t changes_count(const struct hubd_changes *c)
{
	return c->n + c->dropped;
}

void changes_truncate(struct hubd_changes *c, size_t count)
{
	if (count >= c->n) {
		if (count - c->n < c->dropped)
			c->dropped = count - c->n;
		return;
	}
	for (size_t i = count; i < c->n; i++) {
		free(c->items[i].text);
		free(c->items[i].peer);
	}
	c->n = count;
	c->dropped = 0;
}

void changes_clear(struct hubd_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].text);
		free(c->items[i].peer);
	}
	free(c->items);
	*c = (struct hubd_changes){.keep = c->keep};
}

int changes_move(struct hubd_changes *dst, struct hubd_changes *src)
{
	size_t take = src->n;

	if (dst->keep)
		take = dst->n >= dst->keep
			   ? 0
			   : (dst->keep - dst->n < take ? dst->keep - dst->n : take);
	if (dst->n + take > dst->cap) {
		size_t cap = dst->n + take;
		struct hubd_change *items = realloc(dst->items, cap * sizeof(*items));

		if (!items)
			return -1;
		dst->items = items;
		dst->cap = cap;
	}
	if (take)
		memcpy(dst->items + dst->n, src->items, take * sizeof(*src->items));
	dst->n += take;
	dst->dropped += src->dropped + (src->n - take);
	src->n -= take;
	memmove(src->items, src->items + take, src->n * sizeof(*src->items));
	src->dropped = 0;
	changes_clear(src); /* the items not taken */
	return 0;
}
