/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Address arithmetic for `hubctl peer add`: pick the next free tunnel address
 * in the hub's subnet, or check one given with --address. Pure: no I/O.
 */
#ifndef HUBD_ALLOC_H
#define HUBD_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * Find the lowest free host address in subnet (a hub Address such as
 * 10.8.0.1/24; its host bits are ignored). An address is taken when any
 * prefix in used covers it: pass the hub's own addresses and every peer's
 * AllowedIPs. The subnet's first address (IPv4 network, IPv6 subnet-router
 * anycast) and, for IPv4, its broadcast address are never handed out.
 * *ret is a host prefix (/32 or /128). Returns 0, or -ENOSPC when the subnet
 * is full, -EINVAL on a bad family.
 */
int hubctl_alloc_next(const struct hubd_prefix *subnet, const struct hubd_prefix *used,
		      size_t n_used, struct hubd_prefix *ret);

/*
 * Check an address chosen by the user. Returns 0 when free; -EDOM when it is
 * not inside subnet (or of another family); -EADDRNOTAVAIL for the network or
 * broadcast address; -EEXIST when used[*ret_conflict] covers it.
 */
int hubctl_alloc_check(const struct hubd_prefix *subnet, const struct hubd_prefix *used,
		       size_t n_used, const struct hubd_prefix *addr, size_t *ret_conflict);

/* p with its host bits cleared. */
struct hubd_prefix hubctl_prefix_masked(const struct hubd_prefix *p);

/* Does outer cover all of inner? Does a share an address with b? (Same family only.) */
bool hubctl_prefix_covers(const struct hubd_prefix *outer, const struct hubd_prefix *inner);
bool hubctl_prefix_overlaps(const struct hubd_prefix *a, const struct hubd_prefix *b);

/* "10.8.0.2/32" into buf (at least INET6_ADDRSTRLEN + 4 bytes); with_cidr false: address only. */
void hubctl_prefix_str(const struct hubd_prefix *p, bool with_cidr, char *buf, size_t len);

/*
 * Parse "ADDR" or "ADDR/CIDR" (a bare address is a host prefix). The address
 * is kept as written (host bits not cleared). Returns 0 or -EINVAL.
 */
int hubctl_prefix_parse(const char *s, struct hubd_prefix *ret);

#endif
