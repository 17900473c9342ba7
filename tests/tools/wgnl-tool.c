/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wgnl-tool: a small CLI over libwgnl for the VM scenarios and benchmarks.
 *
 *   wgnl-tool set IFNAME FILE      apply a wg-setconf file, replacing all peers
 *   wgnl-tool addconf IFNAME FILE  apply a file without replacing peers
 *   wgnl-tool dump IFNAME          print like `wg show IFNAME dump`
 *   wgnl-tool list                 print the WireGuard links, one a line
 *   wgnl-tool gen NPEERS [NAIPS [SEED]]
 *                                  print a random config exactly as
 *                                  `wg showconf` prints it back
 *
 * The config syntax is wg(8)'s, plus per-peer keys for the cases setconf
 * cannot express: "PresharedKey = clear", "UpdateOnly = true",
 * "Remove = true" and "ReplaceAllowedIPs = false".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "hubd/wgnl.h"

static int fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: %s\n", file, line, what);
	return -EINVAL;
}

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_aips(struct wgnl_peer *p, char *v)
{
	char *save = NULL, *tok;

	for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct wgnl_allowedip a = {0};
		char *slash;
		long cidr;

		tok = strip(tok);
		slash = strchr(tok, '/');
		if (slash)
			*slash++ = '\0';
		if (inet_pton(AF_INET, tok, &a.ip4) == 1)
			a.family = AF_INET;
		else if (inet_pton(AF_INET6, tok, &a.ip6) == 1)
			a.family = AF_INET6;
		else
			return -EINVAL;
		cidr = slash ? strtol(slash, NULL, 10) : (a.family == AF_INET ? 32 : 128);
		a.cidr = (uint8_t)cidr;
		if (cidr < 0 || wgnl_peer_add_allowedip(p, &a) < 0)
			return -EINVAL;
	}
	return 0;
}

/* A numeric port: all digits, at most 65535; -1 otherwise. */
static long numeric_port(const char *s)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > 65535)
			return -1;
	}
	return v;
}

/* A numeric address and port are read directly: getaddrinfo() cost about
 * 800 instructions an endpoint of a 50,000-peer config to find the same
 * address. Names, scoped addresses and service names still go through it. */
static bool parse_numeric_endpoint(union wgnl_endpoint *ep, const char *host, bool bracketed,
				   const char *port)
{
	long p = numeric_port(port);

	if (p < 0)
		return false;
	memset(ep, 0, sizeof(*ep));
	if (!bracketed && inet_pton(AF_INET, host, &ep->addr4.sin_addr) == 1) {
		ep->addr4.sin_family = AF_INET;
		ep->addr4.sin_port = htons((uint16_t)p);
		return true;
	}
	if (bracketed && inet_pton(AF_INET6, host, &ep->addr6.sin6_addr) == 1) {
		ep->addr6.sin6_family = AF_INET6;
		ep->addr6.sin6_port = htons((uint16_t)p);
		return true;
	}
	return false;
}

static int parse_endpoint(union wgnl_endpoint *ep, char *v)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
	char *port = strrchr(v, ':');
	bool bracketed = false;
	int r;

	if (!port)
		return -EINVAL;
	*port++ = '\0';
	if (v[0] == '[' && port - v >= 3 && port[-2] == ']') {
		port[-2] = '\0';
		v++;
		bracketed = true;
	}
	if (parse_numeric_endpoint(ep, v, bracketed, port))
		return 0;
	r = getaddrinfo(v, port, &hints, &res);
	if (r != 0)
		return -EINVAL;
	if (res->ai_addrlen <= sizeof(*ep))
		memcpy(ep, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static bool is_true(const char *v)
{
	return !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1");
}

static int peer_key(struct wgnl_peer *p, const char *k, char *v)
{
	if (!strcasecmp(k, "PublicKey"))
		return wgnl_key_from_base64(p->public_key, v);
	if (!strcasecmp(k, "PresharedKey")) {
		p->flags |= WGNL_PEER_HAS_PSK;
		if (!strcasecmp(v, "clear")) {
			wgnl_key_wipe(p->preshared_key);
			return 0;
		}
		return wgnl_key_from_base64(p->preshared_key, v);
	}
	if (!strcasecmp(k, "AllowedIPs"))
		return parse_aips(p, v);
	if (!strcasecmp(k, "Endpoint")) {
		p->flags |= WGNL_PEER_HAS_ENDPOINT;
		return parse_endpoint(&p->endpoint, v);
	}
	if (!strcasecmp(k, "PersistentKeepalive")) {
		p->flags |= WGNL_PEER_HAS_KEEPALIVE;
		p->persistent_keepalive = !strcasecmp(v, "off") ? 0 : (uint16_t)atoi(v);
		return 0;
	}
	if (!strcasecmp(k, "UpdateOnly"))
		p->flags = is_true(v) ? p->flags | WGNL_PEER_UPDATE_ONLY
				      : p->flags & ~(uint32_t)WGNL_PEER_UPDATE_ONLY;
	else if (!strcasecmp(k, "Remove"))
		p->flags = is_true(v) ? p->flags | WGNL_PEER_REMOVE
				      : p->flags & ~(uint32_t)WGNL_PEER_REMOVE;
	else if (!strcasecmp(k, "ReplaceAllowedIPs"))
		p->flags = is_true(v) ? p->flags | WGNL_PEER_REPLACE_ALLOWEDIPS
				      : p->flags & ~(uint32_t)WGNL_PEER_REPLACE_ALLOWEDIPS;
	else
		return -EINVAL;
	return 0;
}

static int device_key(struct wgnl_device *dev, const char *k, char *v)
{
	if (!strcasecmp(k, "PrivateKey")) {
		dev->flags |= WGNL_DEV_HAS_PRIVATE_KEY;
		return wgnl_key_from_base64(dev->private_key, v);
	}
	if (!strcasecmp(k, "ListenPort")) {
		dev->flags |= WGNL_DEV_HAS_LISTEN_PORT;
		dev->listen_port = (uint16_t)atoi(v);
		return 0;
	}
	if (!strcasecmp(k, "FwMark")) {
		dev->flags |= WGNL_DEV_HAS_FWMARK;
		dev->fwmark = !strcasecmp(v, "off") ? 0 : (uint32_t)strtoul(v, NULL, 0);
		return 0;
	}
	return -EINVAL;
}

/* The peer being read is always the last one: wgnl_device_add_peer may move
 * the array, so it is looked up again for each line. */
static int parse_config(FILE *f, const char *file, struct wgnl_device *dev)
{
	char *line = NULL;
	size_t cap = 0;
	bool in_peer = false;
	int n = 0, r = 0;

	while (r >= 0 && getline(&line, &cap, f) >= 0) {
		char *s, *eq, *hash = strchr(line, '#');

		n++;
		if (hash)
			*hash = '\0';
		s = strip(line);
		if (!*s)
			continue;
		/* Most lines are Key = Value: compare section names only on '['. */
		if (*s == '[' && !strcasecmp(s, "[Interface]")) {
			in_peer = false;
			continue;
		}
		if (*s == '[' && !strcasecmp(s, "[Peer]")) {
			struct wgnl_peer *p = wgnl_device_add_peer(dev);

			if (!p) {
				r = -ENOMEM;
				break;
			}
			p->flags = WGNL_PEER_REPLACE_ALLOWEDIPS;
			in_peer = true;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			r = fail(file, n, "expected Key = Value");
			break;
		}
		*eq = '\0';
		if ((in_peer ? peer_key(&dev->peers[dev->n_peers - 1], strip(s), strip(eq + 1))
			     : device_key(dev, strip(s), strip(eq + 1))) < 0)
			r = fail(file, n, "invalid line");
	}
	if (line)
		sodium_memzero(line, cap);
	free(line);
	return r;
}

static int cmd_set(const char *ifname, const char *file, bool replace)
{
	struct wgnl_device *dev = wgnl_device_new(ifname);
	struct wgnl_set_stats st;
	struct wgnl *nl = NULL;
	FILE *f = fopen(file, "re");
	int r = dev && f ? 0 : -errno;

	if (r >= 0)
		r = parse_config(f, file, dev);
	if (r >= 0 && replace)
		dev->flags |= WGNL_DEV_REPLACE_PEERS;
	if (r >= 0)
		r = wgnl_open(&nl);
	if (r >= 0)
		r = wgnl_set_device(nl, dev, &st);
	if (r < 0)
		fprintf(stderr, "wgnl-tool: set %s: %s\n", ifname, strerror(-r));
	else if (getenv("WGNL_TOOL_STATS"))
		fprintf(stderr, "wgnl-tool: %u messages, %zu bytes\n", st.messages, st.bytes);
	if (f)
		fclose(f);
	wgnl_close(nl);
	wgnl_device_free(dev);
	return r < 0 ? 1 : 0;
}

/*
 * Dump printing. A 50,000-peer dump printed with printf, inet_ntop (which
 * itself sprintf()s each IPv6 group) and getnameinfo took about 9,400
 * instructions a peer, more than receiving and parsing it: each field is
 * formatted here by hand into one buffer instead, written out when nearly
 * full. The text is the same as `wg show IFNAME dump` prints.
 */
struct out {
	FILE *f;
	size_t len;
	bool started; /* the device line is out */
	char buf[1 << 16];
};

#define OUT_FIELD_MAX 128 /* the longest field: an IPv6 endpoint with scope, or a key */

/* Room for one more field: write out what the buffer holds when it is nearly full. */
static char *out_room(struct out *o)
{
	if (o->len + OUT_FIELD_MAX > sizeof(o->buf)) {
		fwrite(o->buf, 1, o->len, o->f);
		o->len = 0;
	}
	return o->buf + o->len;
}

static void out_str(struct out *o, const char *s)
{
	size_t n = strlen(s);
	char *p = out_room(o);

	memcpy(p, s, n);
	o->len += n;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static void out_u64(struct out *o, uint64_t v)
{
	o->len = (size_t)(put_u64(out_room(o), v) - o->buf);
}

static void out_key(struct out *o, const wgnl_key k, bool has)
{
	if (!has) {
		out_str(o, "(none)");
		return;
	}
	wgnl_key_to_base64(out_room(o), k);
	o->len += WGNL_KEY_B64_LEN;
}

static char *put_ip4(char *p, const struct in_addr *a)
{
	const uint8_t *b = (const uint8_t *)&a->s_addr;

	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = put_u64(p, b[i]);
	}
	return p;
}

/* RFC 5952 text, as glibc's inet_ntop writes it: the longest run of two or
 * more zero groups (the first of equal ones) becomes "::", hex in lower case
 * without leading zeroes, and an IPv4-compatible or -mapped address ends in
 * dotted decimal. */
static char *put_ip6(char *p, const struct in6_addr *a)
{
	static const char hex[] = "0123456789abcdef";
	int best = -1, best_len = 0, run = -1;
	uint16_t w[8];

	for (int i = 0; i < 8; i++) {
		w[i] = (uint16_t)(a->s6_addr[2 * i] << 8 | a->s6_addr[2 * i + 1]);
		if (w[i] == 0 && run < 0)
			run = i;
		if (run >= 0 && (w[i] != 0 || i == 7)) {
			int len = (w[i] == 0 ? i + 1 : i) - run;

			if (len > best_len && len >= 2)
				best = run, best_len = len;
			run = -1;
		}
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*p++ = ':';
			i += best_len - 1;
			if (i == 7)
				*p++ = ':';
			continue;
		}
		if (i)
			*p++ = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return put_ip4(p, (const struct in_addr *)&a->s6_addr[12]);
		for (int sh = 12, lead = 1; sh >= 0; sh -= 4) {
			int d = w[i] >> sh & 15;

			if (d || !lead || sh == 0) {
				*p++ = hex[d];
				lead = 0;
			}
		}
	}
	return p;
}

/* An IPv6 endpoint with a scope is left to getnameinfo, which names it. */
static void out_endpoint(struct out *o, const union wgnl_endpoint *ep)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV], *p = out_room(o);

	if (ep->addr.sa_family == AF_INET) {
		p = put_ip4(p, &ep->addr4.sin_addr);
		*p++ = ':';
		p = put_u64(p, ntohs(ep->addr4.sin_port));
	} else if (ep->addr.sa_family == AF_INET6 && !ep->addr6.sin6_scope_id) {
		*p++ = '[';
		p = put_ip6(p, &ep->addr6.sin6_addr);
		*p++ = ']';
		*p++ = ':';
		p = put_u64(p, ntohs(ep->addr6.sin6_port));
	} else if (ep->addr.sa_family == AF_INET6 &&
		   getnameinfo(&ep->addr, sizeof(ep->addr6), host, sizeof(host), serv, sizeof(serv),
			       NI_DGRAM | NI_NUMERICHOST | NI_NUMERICSERV) == 0 &&
		   strlen(host) + strlen(serv) + 3 < OUT_FIELD_MAX) {
		p += sprintf(p, "[%s]:%s", host, serv);
	} else {
		p = memcpy(p, "(none)", 6) + 6;
	}
	o->len = (size_t)(p - o->buf);
}

static void out_aips(struct out *o, const struct wgnl_peer *p)
{
	if (!p->n_allowedips)
		out_str(o, "(none)");
	for (size_t j = 0; j < p->n_allowedips; j++) {
		const struct wgnl_allowedip *a = &p->allowedips[j];
		char *q = out_room(o);

		if (j)
			*q++ = ',';
		q = a->family == AF_INET ? put_ip4(q, &a->ip4) : put_ip6(q, &a->ip6);
		*q++ = '/';
		q = put_u64(q, a->cidr);
		o->len = (size_t)(q - o->buf);
	}
}

static void out_peer(struct out *o, const struct wgnl_peer *p)
{
	out_key(o, p->public_key, true);
	out_str(o, "\t");
	out_key(o, p->preshared_key, p->flags & WGNL_PEER_HAS_PSK);
	out_str(o, "\t");
	out_endpoint(o, &p->endpoint);
	out_str(o, "\t");
	out_aips(o, p);
	out_str(o, "\t");
	if (p->last_handshake_sec < 0) {
		out_str(o, "-");
		out_u64(o, -(uint64_t)p->last_handshake_sec);
	} else
		out_u64(o, (uint64_t)p->last_handshake_sec);
	out_str(o, "\t");
	out_u64(o, p->rx_bytes);
	out_str(o, "\t");
	out_u64(o, p->tx_bytes);
	out_str(o, "\t");
	if (p->persistent_keepalive)
		out_u64(o, p->persistent_keepalive);
	else
		out_str(o, "off");
	out_str(o, "\n");
}

/* The device's line of `wg show IFNAME dump`. */
static void out_device(struct out *o, const struct wgnl_device *dev)
{
	out_key(o, dev->private_key, dev->flags & WGNL_DEV_HAS_PRIVATE_KEY);
	out_str(o, "\t");
	out_key(o, dev->public_key, dev->flags & WGNL_DEV_HAS_PUBLIC_KEY);
	out_str(o, "\t");
	out_u64(o, dev->listen_port);
	out_str(o, "\t");
	if (dev->fwmark) {
		char *p = out_room(o);

		o->len += (size_t)sprintf(p, "0x%x", dev->fwmark);
	} else
		out_str(o, "off");
	out_str(o, "\n");
}

/* A walk's step: the device line, then a line per peer, each printed as it comes. */
static int print_walked(const struct wgnl_device *dev, const struct wgnl_peer *p, void *user)
{
	struct out *o = user;

	if (p) {
		out_peer(o, p);
		return 0;
	}
	if (o->started) /* the walk starts over (the device changed) after lines went out */
		return -EAGAIN;
	o->started = true;
	out_device(o, dev);
	return 0;
}

/* The device in `wg show IFNAME dump` format, printed as the kernel's messages come in:
 * only one message's peers are held at a time. */
static int cmd_dump(const char *ifname)
{
	struct out *o = calloc(1, sizeof(*o));
	struct wgnl *nl = NULL;
	int r = o ? wgnl_open(&nl) : -ENOMEM;

	if (r >= 0) {
		o->f = stdout;
		r = wgnl_walk_device(nl, ifname, 0, print_walked, o);
	}
	wgnl_close(nl);
	if (r >= 0)
		fwrite(o->buf, 1, o->len, stdout);
	if (o) /* the buffer held keys, the private one among them */
		sodium_memzero(o, sizeof(*o));
	free(o);
	if (r < 0) {
		fprintf(stderr, "wgnl-tool: dump %s: %s\n", ifname, strerror(-r));
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_list(void)
{
	char **names = NULL;
	size_t n = 0;
	int r = wgnl_list_devices(&names, &n);

	if (r < 0) {
		fprintf(stderr, "wgnl-tool: list: %s\n", strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", names[i]);
	wgnl_names_free(names, n);
	return 0;
}

/* xorshift: reproducible configs from a seed, independent of libc. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void rnd_key(wgnl_key k)
{
	for (int i = 0; i < WGNL_KEY_LEN; i += 8) {
		uint64_t v = rnd();

		memcpy(k + i, &v, 8);
	}
}

static void gen_key_line(const char *name)
{
	char b64[WGNL_KEY_B64_LEN + 1];
	wgnl_key k;

	rnd_key(k);
	/* The kernel stores a private key clamped; print it the way it reads back. */
	if (!strcmp(name, "PrivateKey")) {
		k[0] &= 248;
		k[31] = (k[31] & 127) | 64;
	}
	wgnl_key_to_base64(b64, k);
	printf("%s = %s\n", name, b64);
}

/* Allowed IP number k of the whole device: unique and in canonical form, so
 * that the kernel keeps every one, in order, unchanged. */
static void gen_aip(unsigned long k, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	struct in6_addr a6 = {{{0xfd, 0x00}}};
	uint32_t v4;

	switch (k % 4) {
	case 0:
	case 1:
		v4 = htonl(0x0a000000u + (uint32_t)(k / 4 * 2 + k % 4));
		inet_ntop(AF_INET, &v4, ip, sizeof(ip));
		snprintf(out, len, "%s/32", ip);
		break;
	case 2:
		v4 = htonl(0xac100000u + (uint32_t)((k / 4) << 8));
		inet_ntop(AF_INET, &v4, ip, sizeof(ip));
		snprintf(out, len, "%s/24", ip);
		break;
	default:
		a6.s6_addr[1] = (uint8_t)(k % 3);
		for (int i = 0; i < 6; i++)
			a6.s6_addr[15 - i] = (uint8_t)(k >> (8 * i));
		inet_ntop(AF_INET6, &a6, ip, sizeof(ip));
		snprintf(out, len, "%s/128", ip);
	}
}

static int cmd_gen(unsigned long n, unsigned long naips, unsigned long seed)
{
	unsigned long k = 0;

	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	printf("[Interface]\nListenPort = %u\n", (unsigned)(20000 + rnd() % 40000));
	if (rnd() % 2)
		printf("FwMark = 0x%x\n", (unsigned)(rnd() % 0xffff + 1));
	gen_key_line("PrivateKey");
	printf("\n");
	for (unsigned long i = 0; i < n; i++) {
		char aip[64];

		printf("[Peer]\n");
		gen_key_line("PublicKey");
		if (rnd() % 2)
			gen_key_line("PresharedKey");
		if (naips)
			printf("AllowedIPs = ");
		for (unsigned long j = 0; j < naips; j++, k++) {
			gen_aip(k, aip, sizeof(aip));
			printf("%s%s", j ? ", " : "", aip);
		}
		if (naips)
			printf("\n");
		switch (rnd() % 3) {
		case 0:
			printf("Endpoint = 198.51.%u.%u:%u\n", (unsigned)(rnd() % 256),
			       (unsigned)(rnd() % 256), (unsigned)(1 + rnd() % 65535));
			break;
		case 1:
			printf("Endpoint = [2001:db8::%x]:%u\n", (unsigned)(1 + rnd() % 0xffff),
			       (unsigned)(1 + rnd() % 65535));
			break;
		}
		if (rnd() % 2)
			printf("PersistentKeepalive = %u\n", (unsigned)(1 + rnd() % 65535));
		if (i + 1 < n)
			printf("\n");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: wgnl-tool set|addconf IFNAME FILE | dump IFNAME | list |\n"
			"       gen NPEERS [NAIPS [SEED]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "set"))
		return cmd_set(argv[2], argv[3], true);
	if (argc == 4 && !strcmp(argv[1], "addconf"))
		return cmd_set(argv[2], argv[3], false);
	if (argc == 3 && !strcmp(argv[1], "dump"))
		return cmd_dump(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "list"))
		return cmd_list();
	if (argc >= 3 && argc <= 5 && !strcmp(argv[1], "gen"))
		return cmd_gen(strtoul(argv[2], NULL, 10),
			       argc > 3 ? strtoul(argv[3], NULL, 10) : 1,
			       argc > 4 ? strtoul(argv[4], NULL, 10) : 1);
	return usage();
}
