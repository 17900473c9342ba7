/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl takeover (takeover.h). How a handshake is started from here:
 * WireGuard's netlink API has no "initiate" command, but a peer whose
 * persistent keepalive goes from 0 to non-zero on a running link is sent a
 * keepalive at once (drivers/net/wireguard/netlink.c, set_peer), and a packet
 * for a peer without a usable session queues a handshake initiation first
 * (send.c, wg_packet_send_staged_packets). So each peer gets, in one request,
 * its endpoint with a keepalive value that differs from its configured one,
 * then its configured value: the kernel sends the handshake, and ends with
 * exactly the keepalive the file says, so no reconcile sees drift.
 */
#include "takeover.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diff.h"
#include "log.h"
#include "macro.h"
#include "net-sync.h"
#include "peer-state.h"

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(((const struct hubd_takeover_entry *)a)->key,
		      ((const struct hubd_takeover_entry *)b)->key, WGNL_KEY_LEN);
}

static const char *member_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* One element of "endpoints": 1 taken, 0 skipped (no endpoint), -EINVAL malformed. */
static int parse_entry(json_object *o, struct hubd_takeover_entry *e)
{
	const char *key = member_str(o, "public_key"), *ep = member_str(o, "endpoint");
	_cleanup_free_ char *host = NULL;
	json_object *hs;
	uint16_t port;

	if (!json_object_is_type(o, json_type_object) || !key ||
	    wgnl_key_from_base64(e->key, key) < 0)
		return -EINVAL;
	if (!ep)
		return 0;
	/* Only a literal address: a name here would mean a lookup on the loop. */
	if (hubd_endpoint_parse(ep, &host, &port) < 0 ||
	    hubd_endpoint_literal(host, port, &e->endpoint) < 0)
		return -EINVAL;
	e->latest_handshake = 0;
	if (json_object_object_get_ex(o, "latest_handshake", &hs)) {
		if (!json_object_is_type(hs, json_type_int) || json_object_get_int64(hs) < 0)
			return -EINVAL;
		e->latest_handshake = json_object_get_int64(hs);
	}
	return 1;
}

static int parse_entries(json_object *arr, struct hubd_takeover_entry **ret, size_t *ret_n)
{
	size_t n = json_object_array_length(arr), k = 0;
	_cleanup_free_ struct hubd_takeover_entry *v = calloc(n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = parse_entry(json_object_array_get_idx(arr, i), &v[k]);

		if (r < 0)
			return r;
		k += (size_t)r;
	}
	qsort(v, k, sizeof(*v), entry_cmp);
	*ret = TAKE_PTR(v);
	*ret_n = k;
	return 0;
}

int hubd_takeover_parse(const char *text, size_t len, const wgnl_key hub_pub,
			struct hubd_takeover_entry **ret, size_t *ret_n)
{
	/* {"endpoints":[{...}]} is depth 3; a little room, and a bound on recursion. */
	json_tokener *tok = json_tokener_new_ex(8);
	json_object *root = NULL, *arr;
	const char *hub;
	wgnl_key key;
	int r = -EINVAL;

	if (!tok)
		return -ENOMEM;
	if (len <= HUBD_TAKEOVER_FILE_MAX)
		root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "endpoints", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		goto out;
	hub = member_str(root, "public_key");
	if (hub && (wgnl_key_from_base64(key, hub) < 0 || memcmp(key, hub_pub, WGNL_KEY_LEN))) {
		r = -EXDEV;
		goto out;
	}
	r = parse_entries(arr, ret, ret_n);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}

/* The whole file behind fd, which the client opened with its own rights. */
static int read_file(int fd, char **ret, size_t *ret_len)
{
	struct stat st;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	/* A FIFO or a socket could block the loop: only a regular file is read. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	if (st.st_size > (off_t)HUBD_TAKEOVER_FILE_MAX)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + len, (size_t)st.st_size - len, (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* truncated meanwhile: parse what is there */
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static struct wgnl_peer *add_peer(struct wgnl_device *set, const wgnl_key key, unsigned flags)
{
	struct wgnl_peer *p = wgnl_device_add_peer(set);

	if (p) {
		memcpy(p->public_key, key, WGNL_KEY_LEN);
		p->flags = flags;
	}
	return p;
}

/*
 * The peer, removed and added afresh as its file says, with the partner's
 * endpoint: without a session here, the keepalive that a new peer with a
 * keepalive is sent must start a handshake.
 */
static int renew(struct wgnl_device *set, const struct hubd_peer_conf *c,
		 const union wgnl_endpoint *ep)
{
	struct wgnl_peer *p;

	if (!add_peer(set, c->public_key, WGNL_PEER_REMOVE))
		return -ENOMEM;
	p = add_peer(set, c->public_key, WGNL_PEER_HAS_ENDPOINT | WGNL_PEER_HAS_KEEPALIVE);
	if (!p)
		return -ENOMEM;
	p->endpoint = *ep;
	p->persistent_keepalive = c->keepalive ? c->keepalive : 1;
	if (c->has_psk) {
		p->flags |= WGNL_PEER_HAS_PSK;
		memcpy(p->preshared_key, c->psk, WGNL_KEY_LEN);
	}
	return hubd_peer_add_allowedips(p, c);
}

/* Endpoint, then the keepalive kick: a value other than the file's, then the file's. */
static int contact(struct wgnl_device *set, const struct hubd_peer_conf *c,
		   const union wgnl_endpoint *ep, bool fresh_session)
{
	unsigned upd = WGNL_PEER_UPDATE_ONLY | WGNL_PEER_HAS_KEEPALIVE;
	struct wgnl_peer *p;
	int r;

	if (fresh_session) {
		r = renew(set, c, ep);
		if (r < 0 || c->keepalive)
			return r; /* a new peer with a keepalive is sent one at once */
	} else {
		p = add_peer(set, c->public_key, upd | WGNL_PEER_HAS_ENDPOINT);
		if (!p)
			return -ENOMEM;
		p->endpoint = *ep;
		p->persistent_keepalive = c->keepalive ? 0 : 1;
	}
	p = add_peer(set, c->public_key, upd);
	if (!p)
		return -ENOMEM;
	p->persistent_keepalive = c->keepalive;
	return 0;
}

/* Decide for one configured peer, and add what it needs to set. */
static int takeover_peer(struct hubd *h, const struct hubd_peer_conf *c,
			 const struct hubd_takeover_entry *e, int64_t now, struct wgnl_device *set,
			 struct hubd_takeover_result *res)
{
	struct hubd_peer_state *s = hubd_peer_find(h, c->public_key);
	bool recent;
	int r;

	if (c->endpoint_host) {
		res->configured++;
		return 0;
	}
	if (s && s->last_handshake >= e->latest_handshake) {
		res->fresher++;
		return 0;
	}
	recent = s && s->last_handshake && now - s->last_handshake < HUBD_TAKEOVER_SESSION_SEC;
	r = contact(set, c, &e->endpoint, recent);
	if (r < 0)
		return r;
	if (s)
		s->learned = e->endpoint; /* restored if the peer is ever re-added */
	res->contacted++;
	res->renewed += recent;
	return 0;
}

static int takeover_apply(struct hubd *h, const struct hubd_takeover_entry *v, size_t n,
			  struct hubd_takeover_result *res)
{
	struct wgnl_device *set = wgnl_device_new(h->cfg->iface.name);
	int64_t now = time(NULL);
	size_t matched = 0;
	int r = 0;

	if (!set)
		return -ENOMEM;
	for (size_t i = 0; i < h->cfg->n_peers && r >= 0; i++) {
		const struct hubd_peer_conf *c = &h->cfg->peers[i];
		struct hubd_takeover_entry probe;
		const struct hubd_takeover_entry *e;

		memcpy(probe.key, c->public_key, WGNL_KEY_LEN);
		e = n ? bsearch(&probe, v, n, sizeof(*v), entry_cmp) : NULL;
		if (!e)
			continue;
		matched++;
		r = takeover_peer(h, c, e, now, set, res);
	}
	res->unknown = n - matched;
	if (r >= 0 && set->n_peers)
		r = hubd_send_set(h, set);
	wgnl_device_free(set);
	return r;
}

int hubd_takeover(struct hubd *h, int fd, struct hubd_takeover_result *ret)
{
	_cleanup_free_ struct hubd_takeover_entry *v = NULL;
	_cleanup_free_ char *text = NULL;
	struct hubd_takeover_result res = {0};
	size_t len = 0, n = 0;
	wgnl_key pub;
	int r;

	if (!h->cfg)
		return -ENODATA;
	r = read_file(fd, &text, &len);
	if (r < 0)
		return r;
	wgnl_key_public_from_private(pub, h->cfg->iface.private_key);
	r = hubd_takeover_parse(text, len, pub, &v, &n);
	if (r < 0)
		return r;
	/* This hub's own handshakes, as of now: a peer that found us already is left alone. */
	r = hubd_refresh(h);
	if (r < 0)
		return log_err_errno(r, "takeover: cannot read %s", h->cfg->iface.name);
	r = takeover_apply(h, v, n, &res);
	if (r < 0)
		return log_err_errno(r, "takeover: cannot set the endpoints");
	log_event(LOG_NOTICE, "takeover", NULL,
		  "takeover: %zu peers re-contacted (%zu re-added), %zu with a fresher handshake "
		  "here, %zu with a configured Endpoint, %zu unknown",
		  res.contacted, res.renewed, res.fresher, res.configured, res.unknown);
	*ret = res;
	return 0;
}
