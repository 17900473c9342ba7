/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Diagnostics: "path:line: message", collected so that a caller decides where they go. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define REDACTED "(key hidden)"

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* How long a key looks at s: 43 base64 characters and '=' (as wg genkey writes), or 64 hex
 * digits (as the kernel's UAPI), else 0. */
static size_t key_at(const char *s, size_t left)
{
	size_t i;

	if (left >= WGNL_KEY_B64_LEN) {
		for (i = 0; i < WGNL_KEY_B64_LEN - 1 && is_b64(s[i]); i++)
			;
		if (i == WGNL_KEY_B64_LEN - 1 && s[i] == '=')
			return WGNL_KEY_B64_LEN;
	}
	if (left >= 2 * WGNL_KEY_LEN) {
		for (i = 0; i < 2 * WGNL_KEY_LEN && is_hex(s[i]); i++)
			;
		if (i == 2 * WGNL_KEY_LEN)
			return i;
	}
	return 0;
}

/*
 * Hide whatever looks like a key, in place (the replacement is shorter).
 * Done here, where every diagnostic passes, so that no message can print a
 * key whatever typo or file put it there (hubd.conf(5), SECURITY).
 */
static void redact_keys(char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t k = key_at(s + i, n - i);

		if (!k) {
			i++;
			continue;
		}
		explicit_bzero(s + i, k);
		memmove(s + i + strlen(REDACTED), s + i + k, n - i - k + 1);
		memcpy(s + i, REDACTED, strlen(REDACTED));
		n -= k - strlen(REDACTED);
		i += strlen(REDACTED);
	}
}

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
	redact_keys(msg);
	redact_keys(item->path);
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
