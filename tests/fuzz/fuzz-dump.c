/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the dump parser: the input is a stream of netlink
 * messages as one recv() would return them, parsed into one device the way
 * wgnl_get_device does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>

#include "hubd/wgnl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The parser may assume 4-byte alignment, as a recv buffer has. */
	uint32_t *buf = malloc(size + sizeof(uint32_t));
	struct wgnl_device *dev = wgnl_device_new("fuzz0");
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int len = (int)size;

	if (!buf || !dev || size > INT32_MAX)
		goto out;
	memcpy(buf, data, size);
	/* mnl_nlmsg_ok casts nlmsg_len to int: a length of 2 GiB or more passes it. */
	for (; mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= (uint32_t)len;
	     nlh = mnl_nlmsg_next(nlh, &len))
		if (wgnl_parse_dump_msg(nlh, dev) < 0)
			break;
out:
	wgnl_device_free(dev);
	free(buf);
	return 0;
}
