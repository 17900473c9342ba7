/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wgnl: hubd's client for WireGuard's generic netlink family, built on libmnl.
 *
 * Written from include/uapi/linux/wireguard.h and the documented kernel
 * behaviour. Every function returns >= 0 on success and -errno on failure,
 * never logs and never exits. Keys live in fixed arrays and are wiped when the
 * object holding them is freed.
 */
#ifndef HUBD_WGNL_H
#define HUBD_WGNL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#define WGNL_KEY_LEN	 32
#define WGNL_KEY_B64_LEN 44 /* without the terminating NUL */

typedef uint8_t wgnl_key[WGNL_KEY_LEN];

struct wgnl_allowedip {
	uint16_t family; /* AF_INET or AF_INET6 */
	uint8_t cidr;
	union {
		struct in_addr ip4;
		struct in6_addr ip6;
	};
};

union wgnl_endpoint {
	struct sockaddr addr; /* addr.sa_family == 0: no endpoint */
	struct sockaddr_in addr4;
	struct sockaddr_in6 addr6;
};

/*
 * Peer flags. The WGNL_PEER_HAS_* flags describe what a get returned or what
 * a set should send; the others map onto WGPEER_F_* and select the operation.
 */
enum {
	WGNL_PEER_REMOVE = 1U << 0,		/* WGPEER_F_REMOVE_ME */
	WGNL_PEER_REPLACE_ALLOWEDIPS = 1U << 1, /* WGPEER_F_REPLACE_ALLOWEDIPS */
	WGNL_PEER_UPDATE_ONLY = 1U << 2,	/* WGPEER_F_UPDATE_ONLY */
	WGNL_PEER_HAS_PSK = 1U << 3,		/* send preshared_key (all zero clears); a get sets
					       it only for a non-zero key */
	WGNL_PEER_HAS_ENDPOINT = 1U << 4,	/* send/received endpoint */
	WGNL_PEER_HAS_KEEPALIVE = 1U << 5,	/* send/received persistent_keepalive */
};

struct wgnl_peer {
	wgnl_key public_key;
	wgnl_key preshared_key;
	uint32_t flags;
	union wgnl_endpoint endpoint;
	uint16_t persistent_keepalive; /* seconds, 0 = off */
	/* Read-only statistics, filled by a get. */
	int64_t last_handshake_sec;
	int64_t last_handshake_nsec;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint32_t protocol_version;
	struct wgnl_allowedip *allowedips;
	size_t n_allowedips;
	size_t cap_allowedips;
};

enum {
	WGNL_DEV_HAS_PRIVATE_KEY = 1U << 0, /* send/received private key (all zero clears) */
	WGNL_DEV_HAS_PUBLIC_KEY = 1U << 1,  /* received only */
	WGNL_DEV_HAS_LISTEN_PORT = 1U << 2,
	WGNL_DEV_HAS_FWMARK = 1U << 3,
	WGNL_DEV_REPLACE_PEERS = 1U << 4, /* WGDEVICE_F_REPLACE_PEERS */
	/* get only (wgnl_get_device_flags): leave the allowed IPs out, for a caller that wants
	 * handshakes and counters; 10,000 peers' allowed IPs are most of a dump's memory */
	WGNL_DEV_NO_ALLOWEDIPS = 1U << 5,
};

struct wgnl_device {
	char name[IFNAMSIZ];
	uint32_t ifindex;
	uint32_t flags;
	wgnl_key private_key;
	wgnl_key public_key;
	uint16_t listen_port;
	uint32_t fwmark;
	struct wgnl_peer *peers;
	size_t n_peers;
	size_t cap_peers;
};

/* Counters a set fills in, for benchmarks and the daemon's metrics. */
struct wgnl_set_stats {
	unsigned messages; /* netlink messages sent (each acknowledged) */
	size_t bytes;	   /* their total size */
};

struct wgnl; /* an open generic netlink socket with WireGuard's family resolved */

/*
 * Open a NETLINK_GENERIC socket and resolve the "wireguard" family.
 * Returns -EPROTONOSUPPORT when the kernel has no WireGuard (the controller's
 * -ENOENT is mapped to it), or the -errno of the socket calls.
 */
int wgnl_open(struct wgnl **ret);
void wgnl_close(struct wgnl *nl);

/*
 * Dump the device named ifname (WG_CMD_GET_DEVICE with NLM_F_DUMP) into a new
 * wgnl_device. Peers and allowed IPs continued across messages are merged;
 * an NLM_F_DUMP_INTR dump is restarted from scratch, and after 64 interrupted
 * dumps in a row -EAGAIN is returned. -ENODEV: no such link; -EOPNOTSUPP: the
 * link is not WireGuard. Free with wgnl_device_free().
 */
int wgnl_get_device(struct wgnl *nl, const char *ifname, struct wgnl_device **ret);
/* The same; flags may hold WGNL_DEV_NO_ALLOWEDIPS. */
int wgnl_get_device_flags(struct wgnl *nl, const char *ifname, unsigned flags,
			  struct wgnl_device **ret);

/*
 * The same dump, handed out peer by peer rather than held whole, for a caller
 * that looks at each peer once (counters, handshakes, printing): fn first
 * gets the device with its fields (peer NULL; read the fields only: dev->peers
 * may hold the first message's peers, not yet handed out), then each peer in
 * the kernel's order, complete (one the kernel splits across messages is
 * merged first). Only the peers of one message are held at a time. fn's
 * return < 0 stops the walk, which returns it. If the kernel flags the dump
 * as interrupted (the device changed meanwhile), the walk starts over, with
 * the device again: a caller that collects should start afresh there.
 */
typedef int (*wgnl_peer_fn)(const struct wgnl_device *dev, const struct wgnl_peer *peer,
			    void *user);
int wgnl_walk_device(struct wgnl *nl, const char *ifname, unsigned flags, wgnl_peer_fn fn,
		     void *user);

/*
 * Apply dev to the kernel device dev->name: the device fields selected by
 * dev->flags, then each peer in dev->peers with the operation its flags select.
 * The request is split across as many messages as needed, each as large as
 * the kernel accepts, each acknowledged; a peer whose allowed IPs do not fit
 * continues in the next message without REPLACE_ALLOWEDIPS. Removals are
 * sent first and together, in as few messages as possible (the kernel still
 * pays one synchronize_net() per removed peer; only WGNL_DEV_REPLACE_PEERS
 * pays one for all). The device attributes and REPLACE_PEERS go in the first
 * message only. Stops at the first message the kernel refuses and returns its
 * error: earlier messages stay applied. stats may be NULL.
 */
int wgnl_set_device(struct wgnl *nl, const struct wgnl_device *dev, struct wgnl_set_stats *stats);

/* List the names of all WireGuard links (rtnetlink, IFLA_INFO_KIND). Free with wgnl_names_free. */
int wgnl_list_devices(char ***ret_names, size_t *ret_n);
void wgnl_names_free(char **names, size_t n);

/*
 * Object helpers. Free functions accept NULL and wipe keys.
 * wgnl_device_new: NULL if ifname is not shorter than IFNAMSIZ or on ENOMEM.
 * wgnl_device_add_peer: the returned pointer (and any earlier peer pointer)
 * stays valid only until the next wgnl_device_add_peer on dev: the peer array
 * grows by copying (the old block is wiped, not left to realloc).
 * wgnl_peer_add_allowedip: -EINVAL for a family other than AF_INET/AF_INET6
 * or a cidr longer than the address; -ENOMEM.
 */
struct wgnl_device *wgnl_device_new(const char *ifname);
struct wgnl_peer *wgnl_device_add_peer(struct wgnl_device *dev); /* zeroed peer, or NULL */
int wgnl_peer_add_allowedip(struct wgnl_peer *peer, const struct wgnl_allowedip *aip);
void wgnl_device_free(struct wgnl_device *dev);

/*
 * Message building and parsing, exposed for tests and fuzzing.
 *
 * wgnl_build_set: build the messages for dev, each at most buf_size bytes,
 * calling emit(msg, user) for each; emit returns >= 0 to go on, and a negative
 * return stops the build and is returned. family_id is the resolved generic
 * netlink family, seq the first sequence number (each message gets the next).
 * Each message carries NLM_F_REQUEST|NLM_F_ACK and is wiped after emit.
 * Returns the number of messages; -EINVAL for an invalid dev (no name nor
 * ifindex, bad allowed IP), -EAFNOSUPPORT for an endpoint that is neither
 * IPv4 nor IPv6, -EMSGSIZE when buf_size cannot hold one peer.
 * wgnl_set_device uses WGNL_SET_BUF_SIZE.
 *
 * wgnl_parse_dump_msg: parse one WG_CMD_GET_DEVICE reply message into dev,
 * merging with what earlier messages of the same dump added. Returns
 * -EINTR when the message has NLM_F_DUMP_INTR set; -EINVAL on malformed input
 * (then dev holds a partial result and should be freed). The caller checks
 * that msg->nlmsg_len lies within its buffer (mnl_nlmsg_ok) and that
 * nlmsg_type is the family; msg must be 4-byte aligned.
 */
#define WGNL_SET_BUF_SIZE (65532u + 1024u) /* a full WGDEVICE_A_PEERS nest + headers */
typedef int (*wgnl_emit_fn)(const struct nlmsghdr *msg, void *user);
int wgnl_build_set(const struct wgnl_device *dev, uint16_t family_id, uint32_t seq, size_t buf_size,
		   wgnl_emit_fn emit, void *user);
int wgnl_parse_dump_msg(const struct nlmsghdr *msg, struct wgnl_device *dev);

/*
 * Keys (libsodium). wgnl_key_from_base64 accepts only the canonical 44-char
 * spelling (padding '=' and zero padding bits) and writes key only on success.
 * wgnl_key_generate_private returns -EIO if libsodium cannot initialise.
 * wgnl_key_public_from_private clamps as Curve25519 does (like `wg pubkey`).
 */
void wgnl_key_to_base64(char out[WGNL_KEY_B64_LEN + 1], const wgnl_key key);
int wgnl_key_from_base64(wgnl_key key, const char *b64); /* -EINVAL unless 44 chars of 32 bytes */
int wgnl_key_generate_private(wgnl_key key);
void wgnl_key_public_from_private(wgnl_key pub, const wgnl_key priv);
bool wgnl_key_is_zero(const wgnl_key key);
void wgnl_key_wipe(wgnl_key key);

#endif
