/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Diagnostics: "path:line: message", collected so that a caller decides where they go. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void hubd_diag_add(struct hubd_diags *d, const char *path, unsigned line, bool warning,
		   const char *fmt, ...)
{
	struct hubd_diag *item;
	char *msg = NULL;
	va_list ap;
	int r;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct hubd_diag *items = realloc(d->items, cap * sizeof(*items));

		/* Out of memory: a diagnostic is lost, but the caller still
		 * rejects the file, so nothing wrong gets applied. */
		if (!items)
			return;
		d->items = items;
		d->cap = cap;
	}
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	item = &d->items[d->n];
	item->path = strdup(path ? path : "");
	if (!item->path) {
		free(msg);
		return;
	}
	item->line = line;
	item->warning = warning;
	item->message = msg;
	d->n++;
}

size_t hubd_diags_errors(const struct hubd_diags *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		n += !d->items[i].warning;
	return n;
}

void hubd_diags_print(const struct hubd_diags *d, FILE *f)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct hubd_diag *it = &d->items[i];

		if (it->line)
			fprintf(f, "%s:%u: %s%s\n", it->path, it->line,
				it->warning ? "warning: " : "", it->message);
		else
			fprintf(f, "%s: %s%s\n", it->path, it->warning ? "warning: " : "",
				it->message);
	}
}

void hubd_diags_truncate(struct hubd_diags *d, size_t n)
{
	for (size_t i = n; i < d->n; i++) {
		free(d->items[i].path);
		free(d->items[i].message);
	}
	if (n < d->n)
		d->n = n;
}

void hubd_diags_free(struct hubd_diags *d)
{
	if (!d)
		return;
	hubd_diags_truncate(d, 0);
	free(d->items);
	d->items = NULL;
	d->n = d->cap = 0;
}
