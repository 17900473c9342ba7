/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

void hubctl_format_age(int64_t seconds, char *buf, size_t len)
{
	static const struct {
		int64_t size;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t off = 0;
	bool started = false;

	if (seconds < 0)
		seconds = 0; /* clock skew between daemon and kernel: not "in the future" */
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && off < len; i++) {
		int64_t n = seconds / units[i].size;

		seconds %= units[i].size;
		/* Once a larger unit is printed, the smaller ones follow, so columns read alike. */
		if (!n && !started && units[i].size != 1)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%" PRId64 "%c", started ? " " : "",
					n, units[i].unit);
		started = true;
	}
}

void hubctl_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.2f %s", v, units[u]);
}

char *hubctl_prom_escape(const char *value)
{
	size_t n = strlen(value);
	char *out = malloc(2 * n + 1), *p = out;

	if (!out)
		return NULL;
	for (; *value; value++) {
		switch (*value) {
		case '\\':
			*p++ = '\\';
			*p++ = '\\';
			break;
		case '"':
			*p++ = '\\';
			*p++ = '"';
			break;
		case '\n':
			*p++ = '\\';
			*p++ = 'n';
			break;
		default:
			*p++ = *value;
		}
	}
	*p = '\0';
	return out;
}

char *hubctl_format_wrapped(const char *label, const char *const *items, size_t n, size_t width)
{
	size_t indent = strlen(label), col = indent, len = 0;
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fputs(label, f);
	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(items[i]) + (i + 1 < n); /* the comma stays on the item's line */

		if (i && col + 1 + w > width) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (i) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%s%s", items[i], i + 1 < n ? "," : "");
		col += w;
	}
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
