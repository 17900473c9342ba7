/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A growable byte buffer: text made whole before it goes out (the control
 * replies, hubctl's status table). The capacity doubles, so appending N
 * bytes in pieces costs O(N).
 */
#pragma once

#include <stddef.h>

struct hubd_buf {
	char *data; /* not NUL-terminated */
	size_t len, cap;
};

/* Append n bytes of s. 0, or -ENOMEM with the buffer as it was. */
int hubd_buf_add(struct hubd_buf *b, const char *s, size_t n);
