/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The metrics text (metrics-text.h). A peer that never completed a handshake
 * has no hubd_peer_handshake_age_seconds sample at all: NaN or a huge number
 * would trip "age > X" alerts as if the peer had been lost, while
 * hubd_peer_health{state="never"} says what is really the case. The
 * wireguard_* series follow mdlayher/wireguard_exporter instead, whose
 * dashboards and alerts expect wireguard_peer_last_handshake_seconds 0 then.
 *
 * The exposition format wants each family's lines together, so the renderer
 * walks family by family and, within one, peer by peer (allowed IP by allowed
 * IP), keeping its place between slices.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics-text.h"

#define N_HEALTH 4
static const char *const health_states[N_HEALTH] = {"up", "stale", "never", "idle"};

/* Strings are offsets into one buffer, so that growing it moves nothing that points in. */
struct metrics_peer {
	size_t name, public_key, endpoint;
	size_t ips, n_ips; /* the first of n_ips consecutive strings */
	int64_t latest_handshake, handshake_age, rx_bytes, tx_bytes;
	bool has_age;
	int health; /* index into health_states, -1: none of them */
};

struct metrics_snapshot {
	size_t ifname, device_key;
	struct metrics_counters counters;
	struct metrics_peer *peers;
	size_t n_peers, cap_peers;
	char *str;
	size_t str_len, str_cap;
};

/* The families, in the order of the text. */
enum family {
	F_AGE,
	F_RX,
	F_TX,
	F_UP,
	F_HEALTH,
	F_RECONCILES,
	F_DRIFT,
	F_NETLINK,
	F_CONFIG_ERRORS,
	F_DEVICE,
	F_ALLOWED_IPS,
	F_PEER_INFO,
	F_WG_LAST,
	F_WG_RX,
	F_WG_TX,
	F_END,
};

/*
 * mdlayher/wireguard_exporter's families, HELP texts, types and label names
 * (its collector.go), in the order its client library writes them: families
 * and labels sorted by name.
 */
static const struct {
	const char *name, *type, *help;
} families[F_END] = {
    [F_AGE] = {"hubd_peer_handshake_age_seconds", "gauge",
	       "Seconds since the peer's latest handshake; no sample before the first one."},
    [F_RX] = {"hubd_peer_receive_bytes_total", "counter", "Bytes received from the peer."},
    [F_TX] = {"hubd_peer_transmit_bytes_total", "counter", "Bytes sent to the peer."},
    [F_UP] = {"hubd_peer_up", "gauge", "1 when the peer's health is up, else 0."},
    [F_HEALTH] = {"hubd_peer_health", "gauge",
		  "The peer's health: 1 for its current state (up, stale, never, idle), 0 for "
		  "the others."},
    [F_RECONCILES] = {"hubd_reconciles_total", "counter",
		      "Reconciles run since the daemon started."},
    [F_DRIFT] = {"hubd_drift_repairs_total", "counter",
		 "Kernel state changed behind hubd's back and repaired."},
    [F_NETLINK] = {"hubd_netlink_messages_total", "counter",
		   "WireGuard netlink messages sent to the kernel."},
    [F_CONFIG_ERRORS] = {"hubd_config_errors_total", "counter", "Config files rejected."},
    [F_DEVICE] = {"wireguard_device_info", "gauge", "Metadata about a device."},
    [F_ALLOWED_IPS] = {"wireguard_peer_allowed_ips_info", "gauge",
		       "Metadata about each of a peer's allowed IP subnets for a given device."},
    [F_PEER_INFO] = {"wireguard_peer_info", "gauge",
		     "Metadata about a peer. The public_key label on peer metrics refers to the "
		     "peer's public key; not the device's public key."},
    /* 0 before the first handshake, as the exporter has it. */
    [F_WG_LAST] = {"wireguard_peer_last_handshake_seconds", "gauge",
		   "UNIX timestamp for the last handshake with a given peer."},
    [F_WG_RX] = {"wireguard_peer_receive_bytes_total", "counter",
		 "Number of bytes received from a given peer."},
    [F_WG_TX] = {"wireguard_peer_transmit_bytes_total", "counter",
		 "Number of bytes transmitted to a given peer."},
};

struct metrics_render {
	struct metrics_snapshot *s;
	size_t slice_bytes;
	enum family fam;
	bool head_done;	 /* fam's HELP and TYPE are out */
	size_t peer, ip; /* where fam is at */
	char *buf;	 /* the current slice */
	size_t len, cap; /* its length, its room */
	size_t off;	 /* how much of it metrics_render_read() gave out */
	bool oom;
};

/* ---- the snapshot ---- */

static int intern(struct metrics_snapshot *s, const char *v, size_t *ret)
{
	size_t n = strlen(v ? v : "") + 1;

	if (s->str_len + n > s->str_cap) {
		size_t cap = s->str_cap ? 2 * s->str_cap : 4096;
		char *p;

		while (cap < s->str_len + n)
			cap *= 2;
		p = realloc(s->str, cap);
		if (!p)
			return -ENOMEM;
		s->str = p;
		s->str_cap = cap;
	}
	memcpy(s->str + s->str_len, v ? v : "", n);
	*ret = s->str_len;
	s->str_len += n;
	return 0;
}

static const char *str(const struct metrics_snapshot *s, size_t off)
{
	return s->str + off;
}

struct metrics_snapshot *metrics_snapshot_new(const char *ifname, const char *device_key,
					      const struct metrics_counters *c)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (c)
		s->counters = *c;
	if (intern(s, ifname, &s->ifname) < 0 || intern(s, device_key, &s->device_key) < 0) {
		metrics_snapshot_free(s);
		return NULL;
	}
	return s;
}

static int health_index(const char *h)
{
	for (int i = 0; h && i < N_HEALTH; i++)
		if (!strcmp(h, health_states[i]))
			return i;
	return -1;
}

int metrics_snapshot_add_peer(struct metrics_snapshot *s, const struct metrics_peer_info *p)
{
	struct metrics_peer *mp;

	if (s->n_peers == s->cap_peers) {
		size_t cap = s->cap_peers ? 2 * s->cap_peers : 64;

		mp = reallocarray(s->peers, cap, sizeof(*mp));
		if (!mp)
			return -ENOMEM;
		s->peers = mp;
		s->cap_peers = cap;
	}
	mp = &s->peers[s->n_peers];
	*mp = (struct metrics_peer){
	    .latest_handshake = p->latest_handshake,
	    .handshake_age = p->handshake_age,
	    .rx_bytes = p->rx_bytes,
	    .tx_bytes = p->tx_bytes,
	    .has_age = p->has_age,
	    .health = health_index(p->health),
	};
	if (intern(s, p->name, &mp->name) < 0 || intern(s, p->public_key, &mp->public_key) < 0 ||
	    intern(s, p->endpoint, &mp->endpoint) < 0)
		return -ENOMEM;
	mp->ips = s->str_len;
	s->n_peers++;
	return 0;
}

int metrics_snapshot_add_allowed_ip(struct metrics_snapshot *s, const char *ip)
{
	size_t off;

	if (!s->n_peers)
		return -EINVAL;
	if (intern(s, ip, &off) < 0)
		return -ENOMEM;
	s->peers[s->n_peers - 1].n_ips++;
	return 0;
}

void metrics_snapshot_free(struct metrics_snapshot *s)
{
	if (!s)
		return;
	free(s->peers);
	free(s->str);
	free(s);
}

/* ---- from a status reply ---- */

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	return json_object_get_int64(v);
}

static bool jnull(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return !o || !json_object_object_get_ex(o, key, &v) || !v;
}

static int peer_from_json(struct metrics_snapshot *s, struct json_object *peer)
{
	struct metrics_peer_info p = {
	    .name = jstr(peer, "name"),
	    .public_key = jstr(peer, "public_key"),
	    .endpoint = jstr(peer, "endpoint"),
	    .health = jstr(peer, "health"),
	    .latest_handshake = jint(peer, "latest_handshake"),
	    .has_age = !jnull(peer, "handshake_age"),
	    .handshake_age = jint(peer, "handshake_age"),
	    .rx_bytes = jint(peer, "rx_bytes"),
	    .tx_bytes = jint(peer, "tx_bytes"),
	};
	struct json_object *a = NULL;
	int r;

	/* Past its ExpiresAt: listed by status, but not on the device these series describe. */
	if (p.health && !strcmp(p.health, "expired"))
		return 0;
	r = metrics_snapshot_add_peer(s, &p);

	if (r < 0 || !peer || !json_object_object_get_ex(peer, "allowed_ips", &a) ||
	    !json_object_is_type(a, json_type_array))
		return r;
	for (size_t i = 0, n = json_object_array_length(a); i < n && r >= 0; i++)
		r = metrics_snapshot_add_allowed_ip(
		    s, json_object_get_string(json_object_array_get_idx(a, i)));
	return r;
}

int metrics_snapshot_from_json(struct json_object *status, struct metrics_snapshot **ret)
{
	struct json_object *iface = NULL, *counters = NULL, *peers = NULL;
	struct metrics_counters c;
	struct metrics_snapshot *s;
	size_t n;

	json_object_object_get_ex(status, "interface", &iface);
	json_object_object_get_ex(status, "counters", &counters);
	if (!json_object_object_get_ex(status, "peers", &peers) ||
	    !json_object_is_type(peers, json_type_array))
		peers = NULL;
	c = (struct metrics_counters){
	    .reconciles = jint(counters, "reconciles"),
	    .drift_repairs = jint(counters, "drift_repairs"),
	    .netlink_messages = jint(counters, "netlink_messages"),
	    .config_errors = jint(counters, "config_errors"),
	};
	s = metrics_snapshot_new(jstr(iface, "name"), jstr(iface, "public_key"), &c);
	if (!s)
		return -ENOMEM;
	n = peers ? json_object_array_length(peers) : 0;
	for (size_t i = 0; i < n; i++)
		if (peer_from_json(s, json_object_array_get_idx(peers, i)) < 0) {
			metrics_snapshot_free(s);
			return -ENOMEM;
		}
	*ret = s;
	return 0;
}

/* ---- the text ---- */

char *metrics_label_escape(const char *value)
{
	char *out = malloc(2 * strlen(value) + 1), *p = out;

	if (!out)
		return NULL;
	for (; *value; value++) {
		if (*value == '\\' || *value == '"' || *value == '\n') {
			*p++ = '\\';
			*p++ = *value == '\n' ? 'n' : *value;
		} else {
			*p++ = *value;
		}
	}
	*p = '\0';
	return out;
}

/* Room for n more bytes in the slice; false (and r->oom) when there is none to be had. */
static bool room(struct metrics_render *r, size_t n)
{
	size_t cap = r->cap ? r->cap : 4096;
	char *p;

	if (r->oom)
		return false;
	if (r->len + n <= r->cap)
		return true;
	while (cap < r->len + n)
		cap *= 2;
	p = realloc(r->buf, cap);
	if (!p) {
		r->oom = true;
		return false;
	}
	r->buf = p;
	r->cap = cap;
	return true;
}

static void put(struct metrics_render *r, const char *v)
{
	size_t n = strlen(v);

	if (room(r, n)) {
		memcpy(r->buf + r->len, v, n);
		r->len += n;
	}
}

/* v escaped as a label value (metrics_label_escape). */
static void put_esc(struct metrics_render *r, const char *v)
{
	if (!room(r, 2 * strlen(v)))
		return;
	for (; *v; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n') {
			r->buf[r->len++] = '\\';
			r->buf[r->len++] = *v == '\n' ? 'n' : *v;
		} else {
			r->buf[r->len++] = *v;
		}
	}
}

static void put_int(struct metrics_render *r, int64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRId64, v);
	put(r, b);
}

/* name="value", value escaped. */
static void put_label(struct metrics_render *r, const char *name, const char *value)
{
	put(r, name);
	put(r, "=\"");
	put_esc(r, value);
	put(r, "\"");
}

/* interface="wg0",peer="phone" */
static void put_hubd_labels(struct metrics_render *r, const struct metrics_peer *p)
{
	put_label(r, "interface", str(r->s, r->s->ifname));
	put(r, ",");
	put_label(r, "peer", str(r->s, p->name));
}

/* NAME{LABELS} VALUE\n, with LABELS as hubd's or the exporter's device="..",public_key=".." */
static void put_sample(struct metrics_render *r, const struct metrics_peer *p, bool hubd, int64_t v)
{
	put(r, families[r->fam].name);
	put(r, "{");
	if (hubd) {
		put_hubd_labels(r, p);
	} else {
		put_label(r, "device", str(r->s, r->s->ifname));
		put(r, ",");
		put_label(r, "public_key", str(r->s, p->public_key));
	}
	put(r, "} ");
	put_int(r, v);
	put(r, "\n");
}

static void put_health(struct metrics_render *r, const struct metrics_peer *p)
{
	for (int s = 0; s < N_HEALTH; s++) {
		put(r, "hubd_peer_health{");
		put_hubd_labels(r, p);
		put(r, ",state=\"");
		put(r, health_states[s]);
		put(r, "\"} ");
		put(r, p->health == s ? "1\n" : "0\n");
	}
}

/* One line per allowed IP, with its family spelled as the exporter does (IPv4, IPv6). */
static void put_allowed_ip(struct metrics_render *r, const struct metrics_peer *p, size_t i)
{
	const char *ip = str(r->s, p->ips);

	while (i--)
		ip += strlen(ip) + 1;
	put(r, "wireguard_peer_allowed_ips_info{");
	put_label(r, "allowed_ips", ip);
	put(r, ",");
	put_label(r, "device", str(r->s, r->s->ifname));
	put(r, strchr(ip, ':') ? ",family=\"IPv6\"," : ",family=\"IPv4\",");
	put_label(r, "public_key", str(r->s, p->public_key));
	put(r, "} 1\n");
}

static void put_peer_info(struct metrics_render *r, const struct metrics_peer *p)
{
	put(r, "wireguard_peer_info{");
	put_label(r, "device", str(r->s, r->s->ifname));
	put(r, ",");
	put_label(r, "endpoint", str(r->s, p->endpoint));
	put(r, ",");
	put_label(r, "name", str(r->s, p->name));
	put(r, ",");
	put_label(r, "public_key", str(r->s, p->public_key));
	put(r, "} 1\n");
}

/* A family of one line for the whole device (hubd's counters, the device's info). */
static void put_device_line(struct metrics_render *r)
{
	const struct metrics_counters *c = &r->s->counters;
	int64_t v = r->fam == F_RECONCILES ? c->reconciles
		    : r->fam == F_DRIFT	   ? c->drift_repairs
		    : r->fam == F_NETLINK  ? c->netlink_messages
					   : c->config_errors;

	put(r, families[r->fam].name);
	put(r, "{");
	if (r->fam == F_DEVICE) {
		put_label(r, "device", str(r->s, r->s->ifname));
		put(r, ",");
		put_label(r, "public_key", str(r->s, r->s->device_key));
		put(r, "} 1\n");
		return;
	}
	put_label(r, "interface", str(r->s, r->s->ifname));
	put(r, "} ");
	put_int(r, v);
	put(r, "\n");
}

/* One peer's lines of the current family (or one of its allowed IPs); false: the family is done. */
static bool put_peer_step(struct metrics_render *r)
{
	const struct metrics_peer *p;

	if (r->peer >= r->s->n_peers)
		return false;
	p = &r->s->peers[r->peer];
	switch (r->fam) {
	case F_AGE:
		if (p->latest_handshake != 0 && p->has_age)
			put_sample(r, p, true, p->handshake_age);
		break;
	case F_RX:
		put_sample(r, p, true, p->rx_bytes);
		break;
	case F_TX:
		put_sample(r, p, true, p->tx_bytes);
		break;
	case F_UP:
		put_sample(r, p, true, p->health == 0);
		break;
	case F_HEALTH:
		put_health(r, p);
		break;
	case F_ALLOWED_IPS:
		if (r->ip < p->n_ips) {
			put_allowed_ip(r, p, r->ip++);
			if (r->ip < p->n_ips)
				return true;
		}
		break;
	case F_PEER_INFO:
		put_peer_info(r, p);
		break;
	case F_WG_LAST:
		put_sample(r, p, false, p->latest_handshake);
		break;
	case F_WG_RX:
		put_sample(r, p, false, p->rx_bytes);
		break;
	case F_WG_TX:
		put_sample(r, p, false, p->tx_bytes);
		break;
	default:
		return false;
	}
	r->peer++;
	r->ip = 0;
	return true;
}

/* The next step of the text: a family's HELP and TYPE, or some of its lines. False at the end. */
static bool step(struct metrics_render *r)
{
	const char *name;

	if (r->fam >= F_END)
		return false;
	name = families[r->fam].name;
	if (!r->head_done) {
		put(r, "# HELP ");
		put(r, name);
		put(r, " ");
		put(r, families[r->fam].help);
		put(r, "\n# TYPE ");
		put(r, name);
		put(r, " ");
		put(r, families[r->fam].type);
		put(r, "\n");
		r->head_done = true;
		return true;
	}
	if (r->fam >= F_RECONCILES && r->fam <= F_DEVICE)
		put_device_line(r);
	else if (put_peer_step(r))
		return true;
	r->fam++;
	r->head_done = false;
	r->peer = r->ip = 0;
	return true;
}

struct metrics_render *metrics_render_new(struct metrics_snapshot *s, size_t slice_bytes)
{
	struct metrics_render *r = calloc(1, sizeof(*r));

	if (!r) {
		metrics_snapshot_free(s);
		return NULL;
	}
	r->s = s;
	r->slice_bytes = slice_bytes ? slice_bytes : 1;
	return r;
}

int metrics_render_slice(struct metrics_render *r, const char **text, size_t *len)
{
	r->len = r->off = 0;
	while (r->len < r->slice_bytes && step(r))
		;
	if (r->oom)
		return -ENOMEM;
	*text = r->buf ? r->buf : "";
	*len = r->len;
	return 0;
}

ssize_t metrics_render_read(struct metrics_render *r, char *buf, size_t max)
{
	const char *text;
	size_t n;

	if (r->off == r->len) {
		int k = metrics_render_slice(r, &text, &n);

		if (k < 0)
			return k;
	}
	n = r->len - r->off < max ? r->len - r->off : max;
	if (n)
		memcpy(buf, r->buf + r->off, n);
	r->off += n;
	return (ssize_t)n;
}

void metrics_render_free(struct metrics_render *r)
{
	if (!r)
		return;
	metrics_snapshot_free(r->s);
	free(r->buf);
	free(r);
}

int metrics_text_write(FILE *f, struct json_object *status)
{
	struct metrics_snapshot *s;
	struct metrics_render *r;
	const char *text;
	size_t len;
	int k = metrics_snapshot_from_json(status, &s);

	if (k < 0)
		return k;
	r = metrics_render_new(s, METRICS_SLICE_BYTES);
	if (!r)
		return -ENOMEM;
	while ((k = metrics_render_slice(r, &text, &len)) >= 0 && len)
		fwrite(text, 1, len, f);
	metrics_render_free(r);
	if (k >= 0 && (fflush(f) != 0 || ferror(f)))
		k = -EIO;
	return k < 0 ? k : 0;
}
