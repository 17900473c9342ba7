/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cleanup attributes, in the manner of systemd's: a variable declared
 * _cleanup_free_ is freed when it goes out of scope, on every exit of the
 * function, so several exits need no repeated frees. TAKE_PTR hands the
 * pointer on and leaves NULL behind, so nothing is freed twice.
 */
#ifndef HUBD_MACRO_H
#define HUBD_MACRO_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_(f)	__attribute__((cleanup(f)))
#define _cleanup_free_	_cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* Write all of buf, going on after a short write or EINTR. Returns 0 or -errno. */
static inline int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

#endif
