/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Access entries and ExpiresAt values (access.h). */
#include "access.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct {
	const char *name;
	uint8_t proto;
	bool ports;
} protocols[] = {
    {"tcp", IPPROTO_TCP, true},
    {"udp", IPPROTO_UDP, true},
    {"icmp", IPPROTO_ICMP, false},
};

/* A decimal port 1..65535, the whole of s..end. */
static bool parse_port(const char *s, const char *end, uint16_t *ret)
{
	unsigned v = 0;

	if (s == end || end - s > 5)
		return false;
	for (; s < end; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*ret = (uint16_t)v;
	return true;
}

/* "PORT" or "PORT-PORT" into a. */
static int parse_ports(const char *s, struct hubd_access *a, const char **msg)
{
	const char *dash = strchr(s, '-'), *end = s + strlen(s);

	if (!parse_port(s, dash ? dash : end, &a->port_lo) ||
	    (dash && !parse_port(dash + 1, end, &a->port_hi))) {
		*msg = "a port must be a number 1..65535, or a range such as 8000-8080";
		return -EINVAL;
	}
	if (!dash)
		a->port_hi = a->port_lo;
	if (a->port_hi < a->port_lo) {
		*msg = "the port range is reversed: write the lower port first";
		return -EINVAL;
	}
	return 0;
}

/* "PROTO" or "PROTO/PORTS" into a. */
static int parse_proto(char *s, struct hubd_access *a, const char **msg)
{
	char *slash = strchr(s, '/');

	if (slash)
		*slash = '\0';
	for (size_t i = 0; i < sizeof(protocols) / sizeof(*protocols); i++) {
		if (strcasecmp(s, protocols[i].name))
			continue;
		a->proto = protocols[i].proto;
		if (!slash)
			return 0;
		if (!protocols[i].ports) {
			*msg = "icmp has no ports: write the prefix and icmp alone";
			return -EINVAL;
		}
		return parse_ports(slash + 1, a, msg);
	}
	*msg = "the protocol must be tcp, udp or icmp (left out: every protocol)";
	return -EINVAL;
}

int hubd_access_parse(const char *s, struct hubd_access *ret, const char **ret_msg)
{
	struct hubd_access a = {.port_lo = 0, .port_hi = 65535};
	char buf[128], *sp, *proto;
	bool host_bits;
	int r;

	size_t len;

	s += strspn(s, " \t"); /* an entry may come with the blanks around it */
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= sizeof(buf)) {
		*ret_msg = "the entry is too long";
		return -EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	sp = strpbrk(buf, " \t");
	proto = NULL;
	if (sp) {
		*sp = '\0';
		proto = sp + 1;
		proto += strspn(proto, " \t");
		if (strpbrk(proto, " \t")) {
			*ret_msg = "an entry is PREFIX, PREFIX PROTO, or PREFIX PROTO/PORT[-PORT]";
			return -EINVAL;
		}
	}
	r = hubd_prefix_parse(buf, &a.dst, &host_bits);
	if (r < 0) {
		*ret_msg = r == -ERANGE
			       ? "the prefix length is over /32 (IPv4) or /128 (IPv6)"
			       : "the destination is not an IP address or ADDRESS/LENGTH prefix";
		return -EINVAL;
	}
	if (host_bits) {
		*ret_msg = "the destination prefix has host bits set: write the network address, "
			   "or the host alone";
		return -EINVAL;
	}
	if (proto && *proto && parse_proto(proto, &a, ret_msg) < 0)
		return -EINVAL;
	*ret = a;
	return 0;
}

void hubd_access_format(const struct hubd_access *a, char *buf, size_t len)
{
	char pfx[HUBD_PREFIX_STRLEN];
	const char *name = a->proto == IPPROTO_TCP   ? "tcp"
			   : a->proto == IPPROTO_UDP ? "udp"
						     : "icmp";

	hubd_prefix_format(&a->dst, pfx, sizeof(pfx));
	if (!a->proto)
		snprintf(buf, len, "%s", pfx);
	else if (a->proto == IPPROTO_ICMP || (a->port_lo == 0 && a->port_hi == 65535))
		snprintf(buf, len, "%s %s", pfx, name);
	else if (a->port_lo == a->port_hi)
		snprintf(buf, len, "%s %s/%u", pfx, name, a->port_lo);
	else
		snprintf(buf, len, "%s %s/%u-%u", pfx, name, a->port_lo, a->port_hi);
}

uint8_t hubd_access_ipproto(const struct hubd_access *a)
{
	return a->proto == IPPROTO_ICMP && a->dst.family == AF_INET6 ? IPPROTO_ICMPV6 : a->proto;
}

/* n digits exactly at *s, advancing it. */
static bool digits(const char **s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*s)++) {
		if (!isdigit((unsigned char)**s))
			return false;
		v = v * 10 + (**s - '0');
	}
	*ret = v;
	return true;
}

static bool expect(const char **s, char c)
{
	if (**s != c)
		return false;
	(*s)++;
	return true;
}

/* "+HH:MM", "-HH:MM", "Z": the offset east of UTC in seconds. */
static bool parse_offset(const char **s, long *ret)
{
	int sign, hh, mm;

	if (**s == 'Z' || **s == 'z') {
		(*s)++;
		*ret = 0;
		return true;
	}
	if (**s != '+' && **s != '-')
		return false;
	sign = **s == '-' ? -1 : 1;
	(*s)++;
	if (!digits(s, 2, &hh) || !expect(s, ':') || !digits(s, 2, &mm) || hh > 23 || mm > 59)
		return false;
	*ret = sign * (hh * 3600L + mm * 60L);
	return true;
}

/* tm as the calendar has it (no 30 February), in UTC. */
static bool to_time(struct tm *tm, int64_t *ret)
{
	struct tm check;
	time_t t;
	int mday = tm->tm_mday, mon = tm->tm_mon;

	tm->tm_isdst = 0;
	t = timegm(tm);
	if (t == (time_t)-1 || !gmtime_r(&t, &check) || check.tm_mday != mday ||
	    check.tm_mon != mon)
		return false;
	*ret = (int64_t)t;
	return true;
}

int hubd_expiry_parse(const char *s, int64_t *ret, const char **ret_msg)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec;
	long off = 0;
	int64_t t;

	*ret_msg = "ExpiresAt must be a date (2026-12-31) or an RFC 3339 time "
		   "(2026-12-31T23:59:59Z, 2026-12-31T23:59:59+01:00)";
	if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) || !expect(&s, '-') ||
	    !digits(&s, 2, &d) || y < 1970 || mo < 1 || mo > 12 || d < 1)
		return -EINVAL;
	tm = (struct tm){.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d};
	if (!*s) {
		/* A date alone: the peer is in for all of that day, UTC. */
		if (!to_time(&tm, &t))
			return -EINVAL;
		*ret = t + 86400;
		return 0;
	}
	if ((*s != 'T' && *s != 't' && *s != ' ') || !(++s, digits(&s, 2, &h)) ||
	    !expect(&s, ':') || !digits(&s, 2, &mi) || !expect(&s, ':') || !digits(&s, 2, &sec) ||
	    h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (*s == '.') /* fractions of a second: the timer has a second's granularity */
		for (s++; isdigit((unsigned char)*s); s++)
			;
	if (!parse_offset(&s, &off) || *s)
		return -EINVAL;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec; /* a leap second: its end */
	if (!to_time(&tm, &t))
		return -EINVAL;
	*ret = t + (sec == 60) - off;
	return 0;
}

void hubd_expiry_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%lld", (long long)t);
}

int hubd_expiry_from_arg(const char *s, int64_t now, int64_t *ret, const char **ret_msg)
{
	static const struct {
		char unit;
		int64_t seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		goto date;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || !*end || end[1])
		goto date;
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
		if (*end != units[i].unit)
			continue;
		if (errno || v == 0 ||
		    v > (unsigned long long)(100LL * 366 * 86400) / units[i].seconds) {
			*ret_msg = "the duration must be more than 0 and at most 100 years";
			return -EINVAL;
		}
		*ret = now + (int64_t)v * units[i].seconds;
		return 0;
	}
	*ret_msg = "a duration is a number and a unit: s, m, h, d or w (7d, 12h, 30m)";
	return -EINVAL;
date:
	if (hubd_expiry_parse(s, ret, ret_msg) < 0) {
		*ret_msg = "give a duration (7d, 12h, 30m) or a date (2026-12-31) or an RFC 3339 "
			   "time (2026-12-31T23:59:59Z)";
		return -EINVAL;
	}
	return 0;
}

static int64_t clock_real(void)
{
	return (int64_t)time(NULL);
}

static int64_t (*clock_fn)(void) = clock_real;

int64_t hubd_clock_now(void)
{
	return clock_fn();
}

void hubd_clock_set(int64_t (*now)(void))
{
	clock_fn = now ? now : clock_real;
}
