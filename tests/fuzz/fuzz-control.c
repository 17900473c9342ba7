/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: the control socket's request parser over arbitrary bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int r = control_parse_request((const char *)data, size);

	if (!(r == CONTROL_RELOAD || r == CONTROL_DIFF || r == CONTROL_STATUS ||
	      r == CONTROL_TAKEOVER || r == -EINVAL || r == -E2BIG || r == -EOPNOTSUPP ||
	      r == -ENOMEM))
		abort();
	return 0;
}
