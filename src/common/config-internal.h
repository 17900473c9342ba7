/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the config source files; not part of the API. */
#ifndef HUBD_CONFIG_INTERNAL_H
#define HUBD_CONFIG_INTERNAL_H

#include "config.h"

#define HUBD_ESCAPE_LEN	    160 /* an escaped, shortened value for a message */
#define HUBD_MAX_ADDRESSES  256
#define HUBD_MAX_MASQUERADE 64
#define HUBD_STALE_MIN_SANE 150 /* s: REKEY_AFTER_TIME (120) plus retries and jitter */
#define HUBD_KEY_FILE_MAX   256 /* bytes read from a key file */

/* Printable ASCII of s, others as \xNN, cut with "..." when long. */
const char *hubd_escape(const char *s, char buf[HUBD_ESCAPE_LEN]);
int hubd_parse_u32(const char *s, bool hex, uint32_t *ret);

/*
 * Open path beneath dirfd one component at a time, never leaving it: the
 * fallback of openat2(RESOLVE_BENEATH) for kernels without it (before 5.6).
 * A symbolic link is followed only while it stays beneath dirfd; an absolute
 * target or a ".." above dirfd is -EXDEV, found before anything outside is
 * looked at; more than 40 links is -ELOOP. flags are open(2)'s. Returns the
 * descriptor or -errno.
 */
int hubd_open_beneath_walk(int dirfd, const char *path, int flags);

#endif
