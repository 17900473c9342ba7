/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A peer's object in the status reply (docs/control-protocol.md), written as
 * text straight into a buffer. A json-c object per peer, serialized and freed,
 * cost hubd more than the kernel's dump on a 10,000-peer hub; this writes the
 * same keys in the same order, and the same bytes as json-c's
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE (test-control
 * compares the two). Apart from control.c so that the unit tests can check it
 * without a daemon. Pure: a peer's config and state in, text out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "control.h"
#include "daemon.h"

static int add_str(struct hubd_buf *b, const char *s)
{
	return hubd_buf_add(b, s, strlen(s));
}

/* What json-c writes for the bytes below 0x20, '"' and '\\'; the rest goes as it is. */
static const char *escape(unsigned char c, char tmp[7])
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		snprintf(tmp, 7, "\\u00%c%c", hex[c >> 4], hex[c & 0xf]);
		return tmp;
	}
}

/*
 * s as a JSON string. Names come from file names anybody with write access to
 * the directory chose: every control byte, quote and backslash is escaped;
 * bytes from 0x20 up (UTF-8 included) are copied, as json-c does.
 */
int control_json_string(struct hubd_buf *b, const char *s)
{
	const char *run = s;
	char tmp[7];
	int r = hubd_buf_add(b, "\"", 1);

	for (; *s && r >= 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		r = hubd_buf_add(b, run, (size_t)(s - run));
		if (r >= 0)
			r = add_str(b, escape(c, tmp));
		run = s + 1;
	}
	if (r >= 0)
		r = hubd_buf_add(b, run, (size_t)(s - run));
	return r < 0 ? r : hubd_buf_add(b, "\"", 1);
}

/* ,"key": before a value. */
static int key(struct hubd_buf *b, const char *k)
{
	int r = hubd_buf_add(b, ",\"", 2);

	if (r >= 0)
		r = add_str(b, k);
	return r < 0 ? r : hubd_buf_add(b, "\":", 2);
}

static int key_str(struct hubd_buf *b, const char *k, const char *v)
{
	int r = key(b, k);

	return r < 0 ? r : control_json_string(b, v);
}

/* v in decimal, without printf: its format parsing was most of a peer's cost. */
static int add_u64(struct hubd_buf *b, uint64_t v)
{
	char d[20], *p = d + sizeof(d);

	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return hubd_buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

static int key_null(struct hubd_buf *b, const char *k)
{
	int r = key(b, k);

	return r < 0 ? r : add_str(b, "null");
}

static int key_u64(struct hubd_buf *b, const char *k, uint64_t v)
{
	int r = key(b, k);

	return r < 0 ? r : add_u64(b, v);
}

static int key_i64(struct hubd_buf *b, const char *k, int64_t v)
{
	int r = key(b, k);

	if (r >= 0 && v < 0)
		r = hubd_buf_add(b, "-", 1);
	return r < 0 ? r : add_u64(b, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

/* An address from inet_ntop after a quote and open: digits, hex, dots and colons need no
 * escaping. The caller closes the string. */
static int add_addr(struct hubd_buf *b, int family, const void *addr, const char *open)
{
	char host[INET6_ADDRSTRLEN];
	int r = hubd_buf_add(b, "\"", 1);

	if (!inet_ntop(family, addr, host, sizeof(host)))
		strcpy(host, "?");
	r = r < 0 ? r : add_str(b, open);
	return r < 0 ? r : add_str(b, host);
}

/* "ADDR:PORT" or "[ADDR]:PORT"; null without an endpoint. */
static int endpoint(struct hubd_buf *b, const union wgnl_endpoint *ep)
{
	int r;

	if (ep && ep->addr.sa_family == AF_INET) {
		r = add_addr(b, AF_INET, &ep->addr4.sin_addr, "");
		r = r < 0 ? r : hubd_buf_add(b, ":", 1);
		r = r < 0 ? r : add_u64(b, ntohs(ep->addr4.sin_port));
	} else if (ep && ep->addr.sa_family == AF_INET6) {
		r = add_addr(b, AF_INET6, &ep->addr6.sin6_addr, "[");
		r = r < 0 ? r : hubd_buf_add(b, "]:", 2);
		r = r < 0 ? r : add_u64(b, ntohs(ep->addr6.sin6_port));
	} else {
		return add_str(b, "null");
	}
	return r < 0 ? r : hubd_buf_add(b, "\"", 1);
}

/* ["ADDR/CIDR",...], as hubd_prefix_format writes each. */
static int prefixes(struct hubd_buf *b, const struct hubd_prefix *p, size_t n)
{
	int r = hubd_buf_add(b, "[", 1);

	for (size_t i = 0; i < n && r >= 0; i++) {
		r = i ? hubd_buf_add(b, ",", 1) : 0;
		r = r < 0 ? r : add_addr(b, p[i].family, &p[i].addr, "");
		r = r < 0 ? r : hubd_buf_add(b, "/", 1);
		r = r < 0 ? r : add_u64(b, p[i].cidr);
		r = r < 0 ? r : hubd_buf_add(b, "\"", 1);
	}
	return r < 0 ? r : hubd_buf_add(b, "]", 1);
}

/* Absent: Forward alone applies; [] ("Access = none"): no connection may start. */
static int policy(struct hubd_buf *b, const struct hubd_peer_conf *p)
{
	char buf[HUBD_ACCESS_STRLEN], t[HUBD_EXPIRY_STRLEN];
	int r = 0;

	if (p->has_access) {
		r = key(b, "access");
		r = r < 0 ? r : hubd_buf_add(b, "[", 1);
		for (size_t i = 0; i < p->n_access && r >= 0; i++) {
			hubd_access_format(&p->access[i], buf, sizeof(buf));
			r = i ? hubd_buf_add(b, ",", 1) : 0;
			r = r < 0 ? r : control_json_string(b, buf);
		}
		r = r < 0 ? r : hubd_buf_add(b, "]", 1);
	}
	if (r >= 0 && p->expires_at) {
		hubd_expiry_format(p->expires_at, t, sizeof(t));
		r = key_str(b, "expires_at", t);
	}
	return r;
}

/* The endpoint the kernel last saw, else the configured one resolved; none without a state. */
static const union wgnl_endpoint *shown_endpoint(const struct hubd_peer_state *s)
{
	if (!s)
		return NULL;
	return s->learned.addr.sa_family ? &s->learned : &s->resolved;
}

int control_peer_status(struct hubd_buf *b, const struct hubd_peer_conf *p,
			const struct hubd_peer_state *s, int64_t now, const char *b64,
			const char *health)
{
	int r = add_str(b, "{\"name\":");

	r = r < 0 ? r : control_json_string(b, p->name);
	r = r < 0 ? r : key_str(b, "public_key", b64);
	r = r < 0 ? r : key(b, "endpoint");
	r = r < 0 ? r : endpoint(b, shown_endpoint(s));
	r = r < 0 ? r : key(b, "allowed_ips");
	r = r < 0 ? r : prefixes(b, p->allowed_ips, p->n_allowed_ips);
	r = r < 0 ? r : key_u64(b, "persistent_keepalive", p->keepalive);
	r = r < 0 ? r : key_i64(b, "latest_handshake", s ? s->last_handshake : 0);
	if (s && s->last_handshake)
		r = r < 0 ? r : key_i64(b, "handshake_age", now - s->last_handshake);
	else
		r = r < 0 ? r : key_null(b, "handshake_age");
	r = r < 0 ? r : key_u64(b, "rx_bytes", s ? s->rx_bytes : 0);
	r = r < 0 ? r : key_u64(b, "tx_bytes", s ? s->tx_bytes : 0);
	r = r < 0 ? r : key_str(b, "health", health);
	r = r < 0 ? r : policy(b, p);
	return r < 0 ? r : hubd_buf_add(b, "}", 1);
}
