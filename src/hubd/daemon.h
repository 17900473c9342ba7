/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's state and its reconcile: read the desired state, read the
 * kernel, send only the difference.
 */
#ifndef HUBD_DAEMON_H
#define HUBD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "changes.h"
#include "config.h"
#include "hubd/wgnl.h"

enum hubd_health { HEALTH_NEVER, HEALTH_UP, HEALTH_STALE, HEALTH_IDLE };

/* What hubd remembers of each configured peer, by public key. */
struct hubd_peer_state {
	wgnl_key key;
	char *name;
	char *ep_host; /* configured Endpoint host, NULL when none */
	uint16_t ep_port;
	union wgnl_endpoint resolved; /* ep_host resolved */
	union wgnl_endpoint learned;  /* last endpoint the kernel reported */
	int64_t last_handshake;	      /* unix seconds, 0 = never */
	uint64_t rx_bytes, tx_bytes;
	enum hubd_health health;
	unsigned stale_seen; /* consecutive checks that saw it stale */
	bool keepalive;
};

struct hubd_counters {
	uint64_t reconciles;
	uint64_t drift_repairs;
	uint64_t netlink_messages;
	uint64_t config_errors;
};

/* Where the last reconcile's time went, in microseconds (logged with --debug). */
struct hubd_timing {
	uint64_t read, verify, states, link, dump, diff, set, wait, net, addr, nft, log;
};

struct hubd {
	const char *config_dir;
	const char *socket_path;
	gid_t socket_gid;

	struct wgnl *wg;
	struct nl_sock *rtnl;
	struct hubd_nft *nft;

	struct hubd_config *cfg; /* effective: accepted peers plus last good of rejected ones */
	struct hubd_peer_state *peers; /* sorted by key */
	size_t n_peers;
	char **reported; /* config errors already logged, so each is logged once */
	size_t n_reported;
	struct hubd_counters counters;
	int ifindex;
	bool converged; /* the last reconcile applied everything: the kernel is h->cfg */
	bool held;	/* the last full read found hubd.conf unusable: nothing new applies */
	char **dirty;	/* peer file names changed since the last reconcile (RECONCILE_FILES) */
	size_t n_dirty;
	struct hubd_timing timing;
};

/*
 * One journal entry per change, up to this many per reconcile, then a count:
 * a cold start with 10,000 peers must not trip journald's rate limit and lose
 * the entries that matter. The loop's reconciles keep no more changes than
 * that (hubd_changes.keep); a client's reload gets them all.
 */
#define HUBD_LOG_CHANGES_MAX 1000

/*
 * At most this many changed peer files are applied one by one; beyond it,
 * or after anything else changed, everything is re-read.
 */
#define HUBD_DIRTY_MAX 64

enum {
	RECONCILE_CONFIG = 1 << 0, /* re-read the configuration first */
	RECONCILE_DRY = 1 << 1,	   /* report, change nothing (hubctl diff) */
	RECONCILE_DRIFT = 1 << 2,  /* triggered by the kernel or the timer: changes are repairs */
	RECONCILE_FILES = 1 << 3,  /* only the peer files in h->dirty changed */
	RECONCILE_TIMER = 1 << 4,  /* with DRIFT: the health timer's, not a notification's */
};

/*
 * Note that peers.d/file changed, for RECONCILE_FILES. Returns false when
 * too many did (HUBD_DIRTY_MAX) or on ENOMEM: reconcile everything instead.
 */
bool hubd_note_file(struct hubd *h, const char *file);
void hubd_forget_files(struct hubd *h);

int hubd_init(struct hubd *h);
void hubd_done(struct hubd *h);

/*
 * Reconcile. ch gets every change made (or, dry, that would be made), diags
 * the configuration's errors. Returns the number of changes, or -errno when
 * nothing usable could be applied.
 */
int hubd_reconcile(struct hubd *h, unsigned flags, struct hubd_changes *ch,
		   struct hubd_diags *diags);

/* Refresh handshake data from a dump, update health, log transitions, re-resolve stale endpoints.
 */
int hubd_health_check(struct hubd *h);
void hubd_health_counts(const struct hubd *h, size_t *up, size_t *stale);
const char *hubd_health_name(enum hubd_health s);

/* hubd --down: remove the nftables table and the link, nothing else. */
int hubd_down(struct hubd *h, const char *ifname);

/* Refresh handshake times and counters from a dump, changing nothing. */
int hubd_refresh(struct hubd *h);

struct hubd_peer_state *hubd_peer_find(const struct hubd *h, const wgnl_key key);

#endif
