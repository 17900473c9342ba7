/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's state and its one entry point for changing the kernel:
 * hubd_reconcile(), which reads the desired state, reads the kernel where it
 * must, and sends only the difference. docs/ARCHITECTURE.md shows the parts.
 */
#ifndef HUBD_DAEMON_H
#define HUBD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "changes.h"
#include "config.h"
#include "host.h"
#include "peer-index.h"
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
	/* A host-name endpoint is resolved off the loop (resolve.c); these say when next. */
	bool resolving;		   /* a query for ep_host is out */
	bool reresolve;		   /* stale: look the name up again */
	unsigned resolve_failures; /* in a row: the back-off grows with them */
	uint64_t resolve_after;	   /* CLOCK_MONOTONIC usec before which no query is made */
};

struct hubd_counters {
	uint64_t reconciles;
	uint64_t drift_repairs;
	uint64_t netlink_messages;
	uint64_t config_errors;
};

/*
 * The ways a reconcile can go; reconcile_choose() in reconcile.c picks one.
 *   COLD:  nothing runs and the link is new: build everything while reading.
 *   FILES: only some peer files changed since a converged reconcile: read
 *          those, send their difference.
 *   FULL:  read everything (or take what runs) and compare with the kernel.
 */
enum hubd_path { HUBD_PATH_COLD, HUBD_PATH_FILES, HUBD_PATH_FULL, HUBD_PATH_MAX };

/* How often a path ran (not counting dry runs) and how long it took, in microseconds. */
struct hubd_path_stats {
	uint64_t count, last_us, total_us;
};

/* Where the last reconcile's time went, in microseconds (logged with --debug). */
struct hubd_timing {
	uint64_t read, verify, states, link, dump, diff, set, wait, net, addr, nft, commit, log;
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
	struct hubd_pindex pindex; /* cfg's AllowedIPs, for the changed-files reconcile */
	char **reported;	   /* config errors already logged, so each is logged once */
	size_t n_reported;
	struct hubd_counters counters;
	struct hubd_path_stats paths[HUBD_PATH_MAX];
	int last_path; /* enum hubd_path of the last reconcile that was not a dry run, -1: none */
	int ifindex;
	bool converged;	      /* the last reconcile applied everything: the kernel is h->cfg */
	bool held;	      /* the last full read found hubd.conf unusable: nothing new applies */
	uint64_t observed_us; /* CLOCK_MONOTONIC usec of the last walk that saw every peer */
	/* The state record (record.h): where it is kept (NULL: none), and whether what runs
	 * changed since it was last written. */
	const char *state_dir;
	bool record_dirty;
	bool record_warned; /* a failure to save it was logged */
	bool recheck; /* the cold start sent a verdict its record overturned: reconcile again */
	/* What the machine relies on outside the tunnel, read again with every full read of
	 * the configuration; the running config's iface.host points here. */
	struct hubd_host host;
	struct hubd_timing timing;
	uint64_t health_cost_us; /* the last health timer's reconcile took this long */
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
#define HUBD_FILES_MAX 64

/* What asked for a reconcile. */
enum {
	RECONCILE_CONFIG = 1 << 0,   /* the configuration may have changed: read it all */
	RECONCILE_DRY = 1 << 1,	     /* report, change nothing (hubctl diff) */
	RECONCILE_DRIFT = 1 << 2,    /* the kernel or the timer: what changes is a repair */
	RECONCILE_FILES = 1 << 3,    /* these peer files changed (request.files) */
	RECONCILE_TIMER = 1 << 4,    /* with DRIFT: the health timer's, not a notification's */
	RECONCILE_RESOLVED = 1 << 5, /* a host-name endpoint resolved to a new address */
};

struct hubd_reconcile_request {
	unsigned triggers;  /* RECONCILE_* */
	char *const *files; /* with RECONCILE_FILES: the peer files (NAME.conf) that changed */
	size_t n_files;
};

int hubd_init(struct hubd *h);
void hubd_done(struct hubd *h);

/*
 * Reconcile. ch gets every change made (or, dry, that would be made), diags
 * the configuration's errors. Returns the number of changes, or -errno when
 * nothing usable could be applied.
 */
int hubd_reconcile(struct hubd *h, const struct hubd_reconcile_request *req,
		   struct hubd_changes *ch, struct hubd_diags *diags);
const char *hubd_path_name(enum hubd_path p);

/* Refresh health from the last dump's handshakes, log transitions, and mark stale peers whose
 * endpoint is a host name to be looked up again (resolve.c does it, off the loop). */
void hubd_health_check(struct hubd *h);
void hubd_health_counts(const struct hubd *h, size_t *up, size_t *stale);
const char *hubd_health_name(enum hubd_health s);
/* How long until the next health check: HealthInterval, or 20 times what the last one cost
 * when that is longer and the check took 0.5 s or more, so that the timer takes about 5 % of
 * a CPU at most at the default interval. */
uint64_t hubd_health_delay_us(unsigned interval_s, uint64_t cost_us);
uint64_t hubd_health_next_us(const struct hubd *h);

/* hubd --down: remove the nftables table and the link, nothing else. */
int hubd_down(struct hubd *h, const char *ifname);

/* Refresh handshake times and counters from a dump, changing nothing. */
int hubd_refresh(struct hubd *h);

struct hubd_peer_state *hubd_peer_find(const struct hubd *h, const wgnl_key key);

/*
 * cfg becomes the running configuration (the old one is freed). A valid
 * configuration is installed at once, even if part of it then fails to apply
 * (the next reconcile retries): the old one need not be held through the
 * apply, which at 10,000 peers is megabytes.
 */
void hubd_install_config(struct hubd *h, struct hubd_config *cfg);
/* Log p's expiry (HUBD_EVENT=peer-expired), unless old has it expired already; running: it
 * was in the kernel until now. */
void hubd_note_expired(const struct hubd_config *old, const struct hubd_peer_conf *p, bool running);

#endif
