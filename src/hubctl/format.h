/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text formatting shared by hubctl's verbs. Pure: no I/O. */
#ifndef HUBD_FORMAT_H
#define HUBD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* A duration for people, largest unit first: "0s", "5s", "1m 5s", "2h 0m 3s", "3d 4h 0m 0s". */
void hubctl_format_age(int64_t seconds, char *buf, size_t len);

/* A byte count for people, in IEC units as wg(8) shows them: "512 B", "1.50 KiB", "3.21 GiB". */
void hubctl_format_bytes(uint64_t bytes, char *buf, size_t len);

/*
 * A Prometheus label value, escaped as the text exposition format asks
 * (backslash, double quote and newline). Returns a new string or NULL.
 */
char *hubctl_prom_escape(const char *value);

/*
 * LABEL followed by items separated by ", ", wrapped so that no line passes
 * width columns where it can be helped: continuation lines are indented
 * under the first item, and an item longer than a line stands alone on its
 * own. For status's lines under a peer ("  access:  a, b, c"). Returns a new
 * string ending in a newline, or NULL.
 */
char *hubctl_format_wrapped(const char *label, const char *const *items, size_t n, size_t width);

#endif
