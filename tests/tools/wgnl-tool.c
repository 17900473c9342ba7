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

static int parse_endpoint(union wgnl_endpoint *ep, char *v)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
	char *port = strrchr(v, ':');
	int r;

	if (!port)
		return -EINVAL;
	*port++ = '\0';
	if (v[0] == '[' && port - v >= 3 && port[-2] == ']') {
		port[-2] = '\0';
		v++;
	}
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
		if (!strcasecmp(s, "[Interface]")) {
			in_peer = false;
			continue;
		}
		if (!strcasecmp(s, "[Peer]")) {
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

static const char *key_or_none(const wgnl_key k, bool has, char buf[WGNL_KEY_B64_LEN + 1])
{
	if (!has)
		return "(none)";
	wgnl_key_to_base64(buf, k);
	return buf;
}

static void print_endpoint(FILE *out, const union wgnl_endpoint *ep)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t len = ep->addr.sa_family == AF_INET ? sizeof(ep->addr4) : sizeof(ep->addr6);

	if ((ep->addr.sa_family != AF_INET && ep->addr.sa_family != AF_INET6) ||
	    getnameinfo(&ep->addr, len, host, sizeof(host), serv, sizeof(serv),
			NI_DGRAM | NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		fputs("(none)", out);
	else if (ep->addr.sa_family == AF_INET6 && strchr(host, ':'))
		fprintf(out, "[%s]:%s", host, serv);
	else
		fprintf(out, "%s:%s", host, serv);
}

static void print_aips(FILE *out, const struct wgnl_peer *p)
{
	char ip[INET6_ADDRSTRLEN];

	if (!p->n_allowedips)
		fputs("(none)", out);
	for (size_t j = 0; j < p->n_allowedips; j++) {
		const struct wgnl_allowedip *a = &p->allowedips[j];

		inet_ntop(a->family,
			  a->family == AF_INET ? (const void *)&a->ip4 : (const void *)&a->ip6, ip,
			  sizeof(ip));
		fprintf(out, "%s%s/%u", j ? "," : "", ip, a->cidr);
	}
}

static int cmd_dump(const char *ifname)
{
	char b1[WGNL_KEY_B64_LEN + 1], b2[WGNL_KEY_B64_LEN + 1];
	struct wgnl_device *dev = NULL;
	struct wgnl *nl = NULL;
	int r = wgnl_open(&nl);

	if (r >= 0)
		r = wgnl_get_device(nl, ifname, &dev);
	wgnl_close(nl);
	if (r < 0) {
		fprintf(stderr, "wgnl-tool: dump %s: %s\n", ifname, strerror(-r));
		return 1;
	}
	printf("%s\t%s\t%u\t",
	       key_or_none(dev->private_key, dev->flags & WGNL_DEV_HAS_PRIVATE_KEY, b1),
	       key_or_none(dev->public_key, dev->flags & WGNL_DEV_HAS_PUBLIC_KEY, b2),
	       dev->listen_port);
	if (dev->fwmark)
		printf("0x%x\n", dev->fwmark);
	else
		printf("off\n");
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wgnl_peer *p = &dev->peers[i];

		printf("%s\t%s\t", key_or_none(p->public_key, true, b1),
		       key_or_none(p->preshared_key, p->flags & WGNL_PEER_HAS_PSK, b2));
		print_endpoint(stdout, &p->endpoint);
		putchar('\t');
		print_aips(stdout, p);
		printf("\t%lld\t%llu\t%llu\t", (long long)p->last_handshake_sec,
		       (unsigned long long)p->rx_bytes, (unsigned long long)p->tx_bytes);
		if (p->persistent_keepalive)
			printf("%u\n", p->persistent_keepalive);
		else
			printf("off\n");
	}
	sodium_memzero(b1, sizeof(b1));
	sodium_memzero(b2, sizeof(b2));
	wgnl_device_free(dev);
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
