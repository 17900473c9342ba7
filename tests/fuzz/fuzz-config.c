/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness: the config parser and verifier over arbitrary bytes.
 * The input is split at "\n%%\n": the first part is hubd.conf, each further
 * part a peer file. Beyond not crashing, the verifier's promises are checked:
 * accepted peers never share a key or overlapping AllowedIPs, never hold the
 * hub's own address in a prefix narrower than its subnet, and every file
 * ends up accepted or rejected.
 *
 * And messages never repeat what a file holds (issue 16): each input is also
 * parsed with a key and a marker planted in it, at a place the input picks
 * (its first byte), and no message may then hold the marker, the key, or any
 * 24 characters of the key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "policy.h"

#define SEP	  "\n%%\n"
#define MAX_PEERS 16
/* A private key as wg genkey writes it, and a marker that is no safe token. */
#define PLANT_KEY  "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define PLANT_MARK "zq-MARKER-9x"

static void check_invariants(const struct hubd_config *cfg, size_t parsed)
{
	const struct hubd_iface_conf *ic = &cfg->iface;

	if (cfg->n_peers > parsed)
		abort();
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct hubd_peer_conf *p = &cfg->peers[i];

		if (i && strcmp(cfg->peers[i - 1].name, p->name) >= 0)
			abort(); /* sorted by name, no duplicates */
		for (size_t k = 0; k < ic->n_addresses; k++) {
			struct hubd_prefix host = ic->addresses[k];

			host.cidr = host.family == AF_INET ? 32 : 128;
			for (size_t a = 0; a < p->n_allowed_ips; a++)
				/* The whole subnet or wider is allowed (client mode). */
				if (p->allowed_ips[a].cidr > ic->addresses[k].cidr &&
				    hubd_prefix_contains(&p->allowed_ips[a], &host))
					abort();
		}
		for (size_t j = 0; j < i; j++) {
			const struct hubd_peer_conf *q = &cfg->peers[j];

			if (!memcmp(p->public_key, q->public_key, WGNL_KEY_LEN))
				abort();
			for (size_t a = 0; a < p->n_allowed_ips; a++)
				for (size_t b = 0; b < q->n_allowed_ips; b++)
					if (hubd_prefix_overlap(&p->allowed_ips[a],
								&q->allowed_ips[b]))
						abort();
		}
	}
}

/*
 * An accepted peer's Access becomes nftables elements without a crash, within
 * the bound, and with no element twice (the kernel would refuse the set).
 */
static void check_policy(const struct hubd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct hubd_elems e = {0};
		size_t n;
		int r = hubd_policy_elements(&cfg->peers[i], cfg->iface.name, &e);

		if (r < 0 && r != -E2BIG && r != -ENOMEM)
			abort();
		n = e.n;
		hubd_elems_sort(&e); /* drops duplicates */
		if (r == 0 &&
		    (e.n != n || e.n > HUBD_POLICY_MAX_ELEMENTS + HUBD_DEFAULT_MAX_PEER_PREFIXES))
			abort();
		if (r == 0 && cfg->peers[i].has_access != (e.n > 0))
			abort(); /* a peer with Access is limited through every source it has */
		hubd_elems_free(&e);
	}
}

static void add_peer(struct hubd_config *cfg, const uint8_t *data, size_t len, size_t idx,
		     struct hubd_diags *d)
{
	char name[16], path[32];

	snprintf(name, sizeof(name), "p%02zu", idx);
	snprintf(path, sizeof(path), "peers.d/%s.conf", name);
	if (hubd_parse_peer(path, name, (const char *)data, len, &cfg->peers[cfg->n_peers], d) == 0)
		cfg->n_peers++;
}

/* Does any message or path hold the marker, or 24 characters of the key in a row? */
static bool leaks(const struct hubd_diags *d)
{
	const char *k = PLANT_KEY;
	char part[25];

	for (size_t i = 0; i < d->n; i++) {
		if (strstr(d->items[i].message, PLANT_MARK) || strstr(d->items[i].path, PLANT_MARK))
			return true;
		for (size_t o = 0; o + 24 <= strlen(k); o++) {
			memcpy(part, k + o, 24);
			part[24] = '\0';
			if (strstr(d->items[i].message, part) || strstr(d->items[i].path, part))
				return true;
		}
	}
	return false;
}

/*
 * The input with the key and the marker inserted at some byte of it (chosen
 * by data[0]), in one of a few shapes that typos take, then parsed as a peer
 * file and as hubd.conf.
 */
static void check_planted(const uint8_t *data, size_t size)
{
	static const char *const shapes[] = {
	    PLANT_KEY,
	    PLANT_MARK,
	    "PresharedKey: " PLANT_KEY,
	    "PrivateKey " PLANT_KEY,
	    "PresharedKeyFile = " PLANT_KEY,
	    PLANT_MARK " = " PLANT_KEY,
	    "[" PLANT_MARK "]",
	    "Endpoint = " PLANT_MARK ":1",
	    "Name = " PLANT_MARK,
	    "AllowedIPs = " PLANT_MARK,
	    PLANT_KEY " " PLANT_MARK,
	};
	size_t at, n, shape;
	struct hubd_diags d = {0};
	struct hubd_peer_conf pc;
	struct hubd_iface_conf ic;
	char *buf;

	if (size < 2 || size > 65536)
		return;
	at = data[0] % size;
	shape = data[1] % (sizeof(shapes) / sizeof(shapes[0]));
	n = strlen(shapes[shape]);
	buf = malloc(size + n + 2);
	if (!buf)
		return;
	memcpy(buf, data, at);
	memcpy(buf + at, shapes[shape], n);
	buf[at + n] = '\n';
	memcpy(buf + at + n + 1, data + at, size - at);
	if (hubd_parse_peer("peers.d/x.conf", "x", buf, size + n + 1, &pc, &d) == 0)
		hubd_peer_conf_clear(&pc);
	if (hubd_parse_interface("hubd.conf", buf, size + n + 1, &ic, &d) == 0)
		hubd_iface_conf_clear(&ic);
	if (leaks(&d))
		abort();
	hubd_diags_free(&d);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hubd_config *cfg = calloc(1, sizeof(*cfg));
	struct hubd_diags d = {0};
	const uint8_t *part = data, *end = data + size;
	size_t parts = 0, parsed;

	cfg->peers = calloc(MAX_PEERS, sizeof(*cfg->peers));
	while (part <= end && parts <= MAX_PEERS) {
		const uint8_t *sep = memmem(part, (size_t)(end - part), SEP, strlen(SEP));
		size_t len = sep ? (size_t)(sep - part) : (size_t)(end - part);

		if (parts == 0) {
			if (hubd_parse_interface("hubd.conf", (const char *)part, len, &cfg->iface,
						 &d) == 0) {
				/* A fixed key, so that "a peer with the hub's key" can happen. */
				memset(cfg->iface.private_key, 0x42, WGNL_KEY_LEN);
				wgnl_key_public_from_private(cfg->iface.public_key,
							     cfg->iface.private_key);
				cfg->iface.has_private_key = true;
				cfg->iface_ok = true;
			}
		} else {
			add_peer(cfg, part, len, parts, &d);
		}
		parts++;
		if (!sep)
			break;
		part = sep + strlen(SEP);
	}
	parsed = cfg->n_peers;
	hubd_config_verify(cfg, &d);
	check_invariants(cfg, parsed);
	check_policy(cfg);
	if (cfg->n_peers + cfg->n_rejected != parsed)
		abort();
	for (size_t i = 0; i < d.n; i++)
		if (!d.items[i].message[0] || !d.items[i].path[0])
			abort();
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	check_planted(data, size);
	return 0;
}
