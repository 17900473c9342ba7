/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake kernel for libwgnl's socket, shared by the unit tests.
 *
 * A test linked with -Wl,--wrap for libmnl's socket calls (mnl_socket_open2,
 * _bind, _get_portid, _setsockopt, _sendto, _recvfrom, _close; see
 * lib/local.mk) gets its socket from the __wrap_ functions in fake-kernel.c.
 * The socket wgnl_open() opens after fake_kernel_connect(k) is k: it answers
 * the generic netlink family lookup, dumps k->dev for WG_CMD_GET_DEVICE (as
 * drivers/net/wireguard/netlink.c writes it), and for WG_CMD_SET_DEVICE
 * records the request, applies it to k->dev as the kernel's set_device() and
 * set_peer() do, and ACKs it. Each test may hold several kernels, one per
 * socket. With no kernel connected, the calls go on to libmnl (__real_).
 */
#ifndef HUBD_TESTS_FAKE_KERNEL_H
#define HUBD_TESTS_FAKE_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

#include "hubd/wgnl.h"

#define FAKE_FAMILY  0x1d /* the "wireguard" generic netlink family id it hands out */
#define FAKE_PORTID  0x4242u
#define FAKE_IFINDEX 7 /* every device's WGDEVICE_A_IFINDEX */

/* Netlink messages, as the kernel would write them into a socket. */
struct kmsgs {
	size_t n;
	struct nlmsghdr *m[1024];
};

/*
 * The kernel's dump writer: dev as WG_CMD_GET_DEVICE messages of at most max
 * bytes each. A peer whose allowed IPs do not fit continues in the next
 * message, with its key and the rest of its allowed IPs only.
 */
void kernel_dump(const struct wgnl_device *dev, size_t max, struct kmsgs *out);
void kmsgs_free(struct kmsgs *k);

/*
 * A strict walk over one nesting level, for decoders of what the kernel is
 * sent or writes: every byte of a level belongs to a well-formed attribute
 * (the test fails otherwise); only the last one's padding may be missing.
 */
struct nlattr;
bool attr_here(const struct nlattr *a, const void *end);
#define for_each_strict(a, payload, len)                                                           \
	for (const struct nlattr *a = (payload),                                                   \
				 *end_##a = (const void *)((const char *)(payload) + (len));       \
	     attr_here(a, end_##a); a = mnl_attr_next(a))

struct fake_kernel {
	bool active, open;
	/*
	 * The first n_intr dumps are of old, and interrupted: the kernel flags
	 * NLM_F_DUMP_INTR on what it writes once the device changed under the
	 * dump, from message intr_from on (SIZE_MAX: only on NLMSG_DONE). Then
	 * the dumps are of dev, clean. A set request changes dev.
	 */
	struct wgnl_device *dev;
	const struct wgnl_device *old;
	size_t max_msg, intr_from;
	unsigned n_intr, dumps;
	uint32_t seq;
	/* Every WG_CMD_SET_DEVICE message, decoded (wgnl_device flags as wgnl_build_set takes
	 * them), in the order received. */
	struct wgnl_device **sets;
	size_t n_sets;
	/* The reply to the last request; recvfrom takes from q_next on. */
	struct kmsgs q;
	size_t q_next;
};

/*
 * The next socket opened (wgnl_open) is k's, until it is closed; k must
 * stay in place until then. k->active must be set.
 */
void fake_kernel_connect(struct fake_kernel *k);
/* Free what k recorded (its set requests and any unread reply); k->dev stays the caller's. */
void fake_kernel_clear(struct fake_kernel *k);

/*
 * A canonical text of a device, to compare two with one string compare and
 * to read in a failure message. request: d is a set request (what
 * k->sets holds): the device attributes it sends and each peer's operation,
 * flags and the attributes it sends. Otherwise d is a device's state: its
 * fields and each peer's. Peers are sorted by public key, a peer's allowed
 * IPs by family, address and length: the kernel's order and the builder's
 * are nobody's promise. Keys appear in base64 (test keys only). Free the
 * result.
 */
char *fake_device_text(const struct wgnl_device *d, bool request);

#endif
