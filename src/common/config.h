/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Configuration: /etc/hubd/hubd.conf and /etc/hubd/peers.d/NAME.conf.
 *
 * Parse, then verify. Parsing is pure (text in, structs out). Loading reads
 * files and stats key files, nothing more. Every problem becomes a diagnostic
 * "path:line: message"; a file with an error is rejected whole and the others
 * are kept (hubd.conf(5), WHAT HAPPENS TO A REJECTED FILE).
 */
#ifndef HUBD_CONFIG_H
#define HUBD_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hubd/wgnl.h"

#define HUBD_DEFAULT_CONFIG_DIR "/etc/hubd"
#define HUBD_DEFAULT_IFNAME	"wg0"
#define HUBD_DEFAULT_MTU	1420
#define HUBD_DEFAULT_HEALTH	10
#define HUBD_DEFAULT_STALE	180

/* Bounds that keep memory and time finite on hostile input. */
#define HUBD_CONFIG_MAX_FILE_SIZE (1024 * 1024) /* bytes per config file */
#define HUBD_CONFIG_MAX_LINE	  4096		/* bytes per line, without the newline */
#define HUBD_CONFIG_MAX_ERRORS	  20		/* errors reported per file before giving up */
#define HUBD_PEER_NAME_MAX	  64		/* bytes in a peer name (file name without .conf) */
#define HUBD_MTU_MIN		  576
#define HUBD_MTU_MIN_IPV6	  1280 /* the kernel drops IPv6 from a link below this */
#define HUBD_MTU_MAX		  65535
#define HUBD_HEALTH_MAX		  3600	/* seconds */
#define HUBD_STALE_MAX		  86400 /* seconds */
/* What one peer file and all of them together may hold (MaxPeerPrefixes, MaxPrefixes). */
#define HUBD_DEFAULT_MAX_PEER_PREFIXES 256
#define HUBD_DEFAULT_MAX_PREFIXES      1000000
#define HUBD_MAX_PEER_PREFIXES_LIMIT   1000000	 /* the largest MaxPeerPrefixes accepted */
#define HUBD_MAX_PREFIXES_LIMIT	       100000000 /* the largest MaxPrefixes accepted */

struct hubd_host;
struct hubd_access;

struct hubd_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t cidr;
	union {
		struct in_addr in;
		struct in6_addr in6;
	} addr; /* for Address: the host address as written; for AllowedIPs: masked */
};

enum hubd_forward { HUBD_FORWARD_HUB, HUBD_FORWARD_ISOLATE, HUBD_FORWARD_OFF };

struct hubd_iface_conf {
	char name[IFNAMSIZ];
	char *private_key_file;
	wgnl_key private_key; /* loaded from private_key_file by hubd_config_load */
	wgnl_key public_key;  /* derived from private_key when has_private_key */
	bool has_private_key;
	uint16_t listen_port; /* 0 = kernel picks */
	struct hubd_prefix *addresses;
	size_t n_addresses;
	uint32_t mtu;
	uint32_t fwmark;
	char **masquerade; /* Masquerade interface names */
	size_t n_masquerade;
	/* Masquerade prefixes (masked): traffic from the tunnel towards them is NATed. */
	struct hubd_prefix *masquerade_prefixes;
	unsigned *masquerade_prefix_lines;
	size_t n_masquerade_prefixes;
	enum hubd_forward forward;
	unsigned health_interval;	    /* seconds */
	unsigned stale_after;		    /* seconds */
	char *public_endpoint;		    /* NULL when unset */
	union wgnl_endpoint metrics_listen; /* MetricsListen; sa_family 0: off */
	/* Where each value was written, for diagnostics (0 = not written). */
	unsigned *address_lines; /* parallel to addresses */
	unsigned private_key_file_line;
	unsigned mtu_line;
	/*
	 * At most this many AllowedIPs prefixes in one peer file, and in all
	 * accepted peers together (later files in name order are rejected).
	 * 0 means the default, so a zeroed struct has the defaults.
	 */
	uint32_t max_peer_prefixes;
	uint32_t max_prefixes;
	/*
	 * Where peers' AllowedIPs may lie (PeerRoutes, masked). None written: the
	 * private ranges (hubd_default_peer_routes), so a peer file cannot route
	 * public space, or the hub's default route, into the tunnel.
	 */
	struct hubd_prefix *peer_routes;
	unsigned *peer_route_lines;
	size_t n_peer_routes;
	/*
	 * What the machine relies on outside the tunnel (host.h): no peer may
	 * route it. Not owned, not parsed: the daemon or hubctl points it at what
	 * it read of the machine before verifying. NULL: nothing known.
	 */
	const struct hubd_host *host;
};

struct hubd_peer_conf {
	/* Laid out without padding (176 bytes): a big hub holds one per peer, and the files
	 * path moves them with memmove. */
	char *name; /* file name without .conf */
	char *path; /* the file it came from */
	wgnl_key public_key;
	char *psk_file; /* NULL when unset */
	wgnl_key psk;	/* with has_psk */
	struct hubd_prefix *allowed_ips;
	size_t n_allowed_ips;
	char *endpoint_host; /* NULL when unset; a literal address or a host name, no brackets */
	uint16_t endpoint_port;
	uint16_t keepalive; /* 0 = off */
	/* Where each value was written, for diagnostics (0 = not written). */
	unsigned public_key_line;
	unsigned *allowed_ips_lines; /* parallel to allowed_ips */
	/*
	 * Access (access.h): with has_access, the only destinations the peer may
	 * start connections towards (none at all for "Access = none"); without
	 * it, the interface's Forward mode alone applies.
	 */
	struct hubd_access *access;
	unsigned *access_lines; /* parallel to access */
	size_t n_access;
	/* ExpiresAt: the Unix time from which the peer is out of the kernel; 0: never. */
	int64_t expires_at;
	unsigned psk_file_line;
	unsigned access_none_line; /* where "Access = none" was written; 0: not */
	unsigned expires_line;
	bool has_psk;
	bool has_access;
	/*
	 * Set by the daemon for a peer running unchanged: the verifier takes these
	 * first, so a new or edited file can never take a running peer's key or
	 * AllowedIPs, whatever its name. The parser leaves it false.
	 */
	bool incumbent;
	/*
	 * Set by the cold start for a file whose claim the state record contests
	 * (record.h): hubd_config_judge rejects it silently until it is cleared
	 * for the last judgement, so it is never sent before that.
	 */
	bool deferred;
};

struct hubd_diag {
	char *path;
	unsigned line; /* 0 when the message is about the file as a whole */
	bool warning;  /* warnings do not reject the file */
	char *message;
};

struct hubd_diags {
	struct hubd_diag *items;
	size_t n, cap;
};

struct hubd_config {
	struct hubd_iface_conf iface;
	bool iface_ok;		      /* false: hubd.conf or its key is unusable */
	struct hubd_peer_conf *peers; /* accepted peers only, sorted by name */
	size_t n_peers;
	char **rejected; /* names of peers whose file was rejected */
	size_t n_rejected;
	/*
	 * Peers whose ExpiresAt has passed (hubd_config_split_expired): valid
	 * files kept out of the kernel, and out of the verifier, so they hold
	 * no claim. Sorted by name.
	 */
	struct hubd_peer_conf *expired;
	size_t n_expired;
};

/* Diagnostics. */
void hubd_diag_add(struct hubd_diags *d, const char *path, unsigned line, bool warning,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
size_t hubd_diags_errors(const struct hubd_diags *d);
void hubd_diags_print(const struct hubd_diags *d, FILE *f); /* "path:line: message" lines */
void hubd_diags_free(struct hubd_diags *d);
void hubd_diags_truncate(struct hubd_diags *d, size_t n); /* drop all but the first n */

/* Pure parsers: text (not necessarily NUL terminated) in, struct out. Return 0 or -EINVAL. */
int hubd_parse_interface(const char *path, const char *text, size_t len,
			 struct hubd_iface_conf *ret, struct hubd_diags *diags);
int hubd_parse_peer(const char *path, const char *name, const char *text, size_t len,
		    struct hubd_peer_conf *ret, struct hubd_diags *diags);

/*
 * Is this peers.d entry meant as a peer file? True for any name ending in
 * ".conf" that is not a dotfile; editor leftovers ("x.conf~", ".#x", "x.swp")
 * are false. The name before ".conf" must still pass hubd_is_valid_peer_name,
 * or the loader reports the file as an error rather than ignoring it.
 */
bool hubd_is_peer_filename(const char *filename);

/* A sane peer name: 1..HUBD_PEER_NAME_MAX of [A-Za-z0-9_.@-], not starting with '.'. */
bool hubd_is_valid_peer_name(const char *name);

/*
 * A name hubd accepts for a network interface: 1..15 bytes of [A-Za-z0-9_.@+-],
 * not "." or "..". Narrower than the kernel's rule, so that a name is safe
 * wherever it goes (nftables rules, messages).
 */
bool hubd_is_valid_ifname(const char *name);

/*
 * Cross-file verification: duplicate public keys, overlapping AllowedIPs,
 * duplicate tunnel addresses, a peer with the interface's own key or address.
 * Offending peers are moved from cfg->peers to cfg->rejected.
 */
void hubd_config_verify(struct hubd_config *cfg, struct hubd_diags *diags);
/*
 * The verdicts alone: reject[i] says whether hubd_config_verify would reject
 * peers[0..n), which are sorted by name. Nothing is moved; diags may be NULL.
 * Incumbents are judged first, then the rest in the order given; a deferred
 * peer is rejected without a message. A peer is judged against the peers
 * before it only, so without incumbents the verdicts on a prefix of a
 * name-ordered list stay the same however many files follow. Returns 0 or
 * -ENOMEM.
 */
int hubd_config_judge(const struct hubd_iface_conf *iface, struct hubd_peer_conf *peers, size_t n,
		      bool *reject, struct hubd_diags *diags);
/* Append a copy of name to cfg->rejected (hubd_config_drop_rejected sorts them). */
int hubd_config_add_rejected(struct hubd_config *cfg, const char *name);
/* Move the peers that reject[] (parallel to cfg->peers) names to cfg->rejected. */
void hubd_config_drop_rejected(struct hubd_config *cfg, const bool *reject);

/*
 * Read dir/hubd.conf, its private key, dir/peers.d/\*.conf and their PSKs,
 * then verify. Returns 0 with *ret set even when files were rejected (see
 * diags and (*ret)->iface_ok); -errno only when nothing could be read.
 */
int hubd_config_load(const char *dir, struct hubd_config **ret, struct hubd_diags *diags);
/* The same without the cross-file verification, for a caller that verifies itself. */
int hubd_config_read(const char *dir, struct hubd_config **ret, struct hubd_diags *diags);
/* Only hubd.conf and its key: a config with no peers, iface_ok saying whether it is usable. */
int hubd_config_read_iface(const char *dir, struct hubd_config **ret, struct hubd_diags *diags);
/*
 * The peer file names in dir/peers.d (hubd_is_peer_filename), sorted by peer
 * name, the order hubd_config_verify takes peers in. No peers.d is no files.
 */
int hubd_config_list_peers(const char *dir, char ***ret, size_t *ret_n, struct hubd_diags *diags);
/*
 * Read and parse one peer file, dir/peers.d/file (a name for which
 * hubd_is_peer_filename holds), with its PSK, without any cross-file check:
 * for a caller that knows only this file changed. Returns 0, -ENOENT (no
 * diagnostic) when the file does not exist, or -errno with diagnostics.
 */
int hubd_config_read_peer(const char *dir, const char *file, struct hubd_peer_conf *ret,
			  struct hubd_diags *diags);

/* Lifecycle (config.c): each is safe on NULL and wipes the keys it held. */
void hubd_config_free(struct hubd_config *cfg);
void hubd_iface_conf_clear(struct hubd_iface_conf *c);
void hubd_peer_conf_clear(struct hubd_peer_conf *p);
/* A deep copy, so that the last good version of a rejected peer outlives the config it came
 * from. */
int hubd_peer_conf_dup(struct hubd_peer_conf *dst, const struct hubd_peer_conf *src);
/* Is p exactly q as the kernel would be given it (key, PSK, endpoint, keepalive, prefixes,
 * Access), with the same ExpiresAt? */
bool hubd_peer_conf_same(const struct hubd_peer_conf *p, const struct hubd_peer_conf *q);
/*
 * Move the peers whose ExpiresAt is at or before now from cfg->peers to
 * cfg->expired, keeping both sorted by name. Returns how many moved, or
 * -ENOMEM (nothing moved).
 */
int hubd_config_split_expired(struct hubd_config *cfg, int64_t now);
/* Move p (zeroed after) into cfg->expired, in its place by name, replacing a version of the
 * same name. 0 or -ENOMEM (p untouched). */
int hubd_config_put_expired(struct hubd_config *cfg, struct hubd_peer_conf *p);
/* Forget the expired peer called name, if there is one. */
void hubd_config_drop_expired(struct hubd_config *cfg, const char *name);
/* The earliest ExpiresAt after now among cfg's peers; 0: none. */
int64_t hubd_config_next_expiry(const struct hubd_config *cfg, int64_t now);
/* Is p out of the kernel at now? */
static inline bool hubd_peer_expired(const struct hubd_peer_conf *p, int64_t now)
{
	return p->expires_at && p->expires_at <= now;
}
/* A qsort comparator of peers by name. */
int hubd_peer_conf_name_cmp(const void *a, const void *b);
/* The peer called name in cfg, whose peers are sorted by name (hubd_peer_conf_name_cmp). */
const struct hubd_peer_conf *hubd_config_peer_by_name(const struct hubd_config *cfg,
						      const char *name);
/* The PeerRoutes that apply when hubd.conf names none: RFC 1918, RFC 6598 and RFC 4193 space.
 * Fills ret (HUBD_DEFAULT_PEER_ROUTES entries) and returns their number. */
#define HUBD_DEFAULT_PEER_ROUTES 5
size_t hubd_default_peer_routes(struct hubd_prefix ret[HUBD_DEFAULT_PEER_ROUTES]);
/* Is s one of v[0..n)? */
bool strv_contains(char *const *v, size_t n, const char *s);

/*
 * Helpers shared with hubctl.
 *
 * hubd_prefix_parse: "ADDR" or "ADDR/CIDR" (no CIDR: /32 or /128). The
 * address is kept as written (not masked); *ret_host_bits (may be NULL) says
 * whether bits beyond CIDR are set. Returns -EINVAL for a malformed address or
 * length, -ERANGE for a length over /32 or /128.
 *
 * hubd_prefix_mask clears the host bits. hubd_prefix_contains compares the
 * masked prefixes, so an Address such as 10.8.0.1/24 contains 10.8.0.7/32.
 *
 * hubd_prefix_is_host: is p a single address (/32 or /128)?
 * hubd_prefix_format_addr writes p's address alone, without "/CIDR", into buf
 * (INET6_ADDRSTRLEN bytes are enough); hubd_prefix_format writes "ADDR/CIDR"
 * (HUBD_PREFIX_STRLEN bytes are enough).
 *
 * hubd_prefix_cmp: the one order of prefixes, for qsort and bsearch over
 * arrays of struct hubd_prefix: family (AF_INET first), then the address
 * bytes as stored, then the length, shorter first. Among masked prefixes a
 * prefix so sorts right before every prefix it contains; equal means same
 * family, address and length. Returns <0, 0 or >0, as qsort wants.
 *
 * hubd_prefix_u128: p's address as a 128-bit number in two halves, most
 * significant first, IPv4 in the top 32 bits: integers that compare and mask
 * fast, in hubd_prefix_cmp's order of addresses within a family.
 *
 * hubd_endpoint_parse: "host:port" or "[v6]:port" into a malloc'd host without
 * brackets and a port 1..65535. Returns -EINVAL when malformed, -ERANGE for a
 * port out of range, -ENOMEM.
 */
int hubd_prefix_parse(const char *s, struct hubd_prefix *ret, bool *ret_host_bits);
void hubd_prefix_mask(struct hubd_prefix *p);
#define HUBD_PREFIX_STRLEN (INET6_ADDRSTRLEN + 4) /* "ADDR/CIDR" and the NUL */
void hubd_prefix_format(const struct hubd_prefix *p, char *buf, size_t len);
bool hubd_prefix_contains(const struct hubd_prefix *outer, const struct hubd_prefix *inner);
bool hubd_prefix_overlap(const struct hubd_prefix *a, const struct hubd_prefix *b);
bool hubd_prefix_is_host(const struct hubd_prefix *p);
void hubd_prefix_format_addr(const struct hubd_prefix *p, char *buf, size_t len);
int hubd_prefix_cmp(const void *a, const void *b);
void hubd_prefix_u128(const struct hubd_prefix *p, uint64_t ret[2]);
int hubd_endpoint_parse(const char *s, char **ret_host, uint16_t *ret_port);

#endif
