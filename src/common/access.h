/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A peer's Access (what it may reach through the hub) and ExpiresAt (until
 * when it is in the kernel): the value syntax, shared by the config parser,
 * hubctl and hubd. Pure: text in, structs out.
 */
#ifndef HUBD_ACCESS_H
#define HUBD_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * One Access entry, "PREFIX [PROTO[/PORT[-PORT]]]". proto 0 is every
 * protocol; otherwise IPPROTO_TCP, IPPROTO_UDP, or IPPROTO_ICMP, which stands
 * for ICMPv6 when dst is IPv6 (hubd_access_ipproto gives the number on the
 * wire). Ports only with tcp and udp: port_lo..port_hi, 0..65535 when none
 * was written.
 */
struct hubd_access {
	struct hubd_prefix dst; /* masked */
	uint8_t proto;
	uint16_t port_lo, port_hi;
};

/* "PROTO/PORT" longest form plus the prefix: enough for hubd_access_format. */
#define HUBD_ACCESS_STRLEN (HUBD_PREFIX_STRLEN + 24)

/*
 * Parse one entry (already split at commas and trimmed). Returns 0, or
 * -EINVAL with *ret_msg set to a static message that never repeats the input
 * ("the protocol must be tcp, udp or icmp", ...). Host bits in the prefix are
 * an error here, unlike AllowedIPs: a policy that means something else than
 * it says is worse than a refused file.
 */
int hubd_access_parse(const char *s, struct hubd_access *ret, const char **ret_msg);
/* "192.168.1.100/32 tcp/3000", "192.168.1.0/24", "10.0.0.0/8 icmp": what parse takes back. */
void hubd_access_format(const struct hubd_access *a, char *buf, size_t len);
/* The protocol number a packet carries for this entry: ICMPv6 for icmp on an IPv6 prefix. */
uint8_t hubd_access_ipproto(const struct hubd_access *a);

/*
 * ExpiresAt: RFC 3339 with a Z or a numeric offset ("2026-12-31T23:59:59Z",
 * "2026-12-31T23:59:59+01:00", fractions of a second dropped), or a date
 * alone ("2026-12-31"), which means the end of that day, UTC: the peer is in
 * until 2027-01-01T00:00:00Z. *ret is the first second the peer is out, in
 * Unix time. Returns 0 or -EINVAL (*ret_msg static, as above).
 */
int hubd_expiry_parse(const char *s, int64_t *ret, const char **ret_msg);
/* "2026-12-31T23:59:59Z" style, UTC; needs 32 bytes. */
#define HUBD_EXPIRY_STRLEN 32
void hubd_expiry_format(int64_t t, char *buf, size_t len);
/*
 * hubctl's --expires: a duration from now ("7d", "12h", "30m", "90s") or
 * anything hubd_expiry_parse takes. Returns 0 or -EINVAL.
 */
int hubd_expiry_from_arg(const char *s, int64_t now, int64_t *ret, const char **ret_msg);

/* The clock hubd judges expiry by (time(NULL)); tests set their own with hubd_clock_set. */
int64_t hubd_clock_now(void);
void hubd_clock_set(int64_t (*now)(void));

#endif
