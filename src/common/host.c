/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What this machine relies on outside the tunnel (host.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "macro.h"

#define HOST_FILE_MAX (64u * 1024 * 1024) /* /proc/net/route with a million routes */

const char *hubd_host_kind_name(enum hubd_host_kind kind)
{
	switch (kind) {
	case HUBD_HOST_ADDRESS:
		return "an address of this machine";
	case HUBD_HOST_GATEWAY:
		return "the gateway of one of this machine's routes";
	default:
		return "a name server of this machine";
	}
}

int hubd_host_add(struct hubd_host *host, const struct hubd_prefix *addr, enum hubd_host_kind kind,
		  const char *where)
{
	struct hubd_host_fact *f;

	for (size_t i = 0; i < host->n; i++) /* a gateway shared by many routes counts once */
		if (host->facts[i].kind == kind && !hubd_prefix_cmp(&host->facts[i].addr, addr))
			return 0;
	f = realloc(host->facts, (host->n + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	host->facts = f;
	f = &host->facts[host->n++];
	*f = (struct hubd_host_fact){.addr = *addr, .kind = kind};
	snprintf(f->where, sizeof(f->where), "%s", where);
	return 0;
}

static int add_raw(struct hubd_host *host, int family, const void *a, enum hubd_host_kind kind,
		   const char *where)
{
	struct hubd_prefix p = {.family = family, .cidr = family == AF_INET ? 32 : 128};

	memcpy(&p.addr, a, family == AF_INET ? 4 : 16);
	return hubd_host_add(host, &p, kind, where);
}

static int add_addresses(struct hubd_host *host, const char *tunnel_ifname)
{
	struct ifaddrs *ifa = NULL;
	int r = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (struct ifaddrs *i = ifa; i && r >= 0; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa || !strcmp(i->ifa_name, tunnel_ifname))
			continue;
		if (sa->sa_family == AF_INET)
			r = add_raw(host, AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
				    HUBD_HOST_ADDRESS, i->ifa_name);
		else if (sa->sa_family == AF_INET6)
			r = add_raw(host, AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
				    HUBD_HOST_ADDRESS, i->ifa_name);
	}
	freeifaddrs(ifa);
	return r;
}

/* Call fn on each line of text (a copy: the lines are cut in place) until it fails. */
static int each_line(struct hubd_host *host, const char *text, const char *arg,
		     int (*fn)(struct hubd_host *host, const char *line, const char *arg))
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *l = strtok_r(copy, "\n", &save); l && r >= 0; l = strtok_r(NULL, "\n", &save))
		r = fn(host, l, arg);
	return r;
}

/* /proc/net/route: "Iface Destination Gateway Flags ...", addresses in hex, host order of
 * the bytes as the kernel stores them (network order read as a native integer). */
static int route4_line(struct hubd_host *host, const char *l, const char *tunnel_ifname)
{
	char ifname[IFNAMSIZ + 1];
	unsigned dst, gw;

	if (sscanf(l, "%16s %x %x", ifname, &dst, &gw) != 3 || !gw ||
	    !strcmp(ifname, tunnel_ifname))
		return 0;
	return add_raw(host, AF_INET, &gw, HUBD_HOST_GATEWAY, ifname);
}

int hubd_host_add_routes4(struct hubd_host *host, const char *text, const char *tunnel_ifname)
{
	return each_line(host, text, tunnel_ifname, route4_line);
}

static bool parse_hex16(const char *s, unsigned char out[16])
{
	for (int i = 0; i < 16; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return false;
	return true;
}

/* /proc/net/ipv6_route: "dest destlen src srclen nexthop metric refcnt use flags iface". */
static int route6_line(struct hubd_host *host, const char *l, const char *tunnel_ifname)
{
	static const unsigned char zero[16];
	char nh[33], ifname[IFNAMSIZ + 1];
	unsigned char a[16];

	if (sscanf(l, "%*32s %*x %*32s %*x %32s %*x %*x %*x %*x %16s", nh, ifname) != 2 ||
	    strlen(nh) != 32 || !parse_hex16(nh, a) || !memcmp(a, zero, 16) ||
	    !strcmp(ifname, tunnel_ifname))
		return 0;
	return add_raw(host, AF_INET6, a, HUBD_HOST_GATEWAY, ifname);
}

int hubd_host_add_routes6(struct hubd_host *host, const char *text, const char *tunnel_ifname)
{
	return each_line(host, text, tunnel_ifname, route6_line);
}

/* "nameserver ADDR" lines; a scoped IPv6 address ("fe80::1%eth0") loses its scope. */
static int resolv_line(struct hubd_host *host, const char *l, const char *file)
{
	char addr[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
	unsigned char a[16];

	if (sscanf(l, " nameserver %63s", addr) != 1)
		return 0;
	addr[strcspn(addr, "%")] = '\0';
	if (inet_pton(AF_INET, addr, a) == 1)
		return add_raw(host, AF_INET, a, HUBD_HOST_NAMESERVER, file);
	if (inet_pton(AF_INET6, addr, a) == 1)
		return add_raw(host, AF_INET6, a, HUBD_HOST_NAMESERVER, file);
	return 0;
}

int hubd_host_add_resolv(struct hubd_host *host, const char *text, const char *file)
{
	return each_line(host, text, file, resolv_line);
}

/* A whole small file as a string; NULL when it cannot be read. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		char *b;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			b = cap <= HOST_FILE_MAX ? realloc(buf, cap + 1) : NULL;
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

int hubd_host_read(struct hubd_host *host, const char *tunnel_ifname)
{
	static const char *const resolv[] = {HUBD_RESOLV_CONF, HUBD_RESOLVED_RESOLV_CONF};
	_cleanup_free_ char *r4 = slurp("/proc/net/route");
	_cleanup_free_ char *r6 = slurp("/proc/net/ipv6_route");
	int r;

	hubd_host_free(host);
	r = add_addresses(host, tunnel_ifname);
	if (r >= 0 && r4)
		r = hubd_host_add_routes4(host, r4, tunnel_ifname);
	if (r >= 0 && r6)
		r = hubd_host_add_routes6(host, r6, tunnel_ifname);
	for (size_t i = 0; r >= 0 && i < sizeof(resolv) / sizeof(*resolv); i++) {
		_cleanup_free_ char *text = slurp(resolv[i]);

		if (text)
			r = hubd_host_add_resolv(host, text, resolv[i]);
	}
	return r;
}

void hubd_host_free(struct hubd_host *host)
{
	free(host->facts);
	host->facts = NULL;
	host->n = 0;
}
