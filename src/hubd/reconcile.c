/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one reconcile. Whatever asked for it (a changed file, the kernel, the
 * health timer, a signal, hubctl), hubd_reconcile() chooses a path in one
 * place, reconcile_choose(), runs it, and ends it with one commit. A path that
 * declines sends the choice back to reconcile_choose(), which then knows more.
 */
#include <errno.h>
#include <malloc.h>
#include <string.h>

#include "log.h"
#include "reconcile.h"
#include "report.h"

#define PATH_BIT(p) (1u << (p))

const char *hubd_path_name(enum hubd_path p)
{
	static const char *const names[HUBD_PATH_MAX] = {
	    [HUBD_PATH_COLD] = "cold",
	    [HUBD_PATH_FILES] = "files",
	    [HUBD_PATH_FULL] = "full",
	};

	return p < HUBD_PATH_MAX ? names[p] : "none";
}

static bool reads_files(const struct hubd_reconcile_request *req)
{
	return req->triggers & (RECONCILE_CONFIG | RECONCILE_FILES);
}

/* Can the changed files alone give what the full reconcile would? Only when what runs is
 * exactly what the kernel was given: everything accepted, applied, and hubd.conf usable. */
static bool files_path_applies(const struct hubd *h, const struct hubd_reconcile_request *req)
{
	return req->triggers == RECONCILE_FILES && h->cfg && !h->cfg->n_rejected && h->converged &&
	       !h->held && h->ifindex > 0 && req->n_files <= HUBD_FILES_MAX;
}

/* The one place that decides how a reconcile goes; declined holds the paths that said no. */
static enum hubd_path reconcile_choose(const struct hubd *h,
				       const struct hubd_reconcile_request *req, unsigned declined)
{
	bool dry = req->triggers & RECONCILE_DRY;

	if (!dry && !h->cfg && reads_files(req) && !(declined & PATH_BIT(HUBD_PATH_COLD)))
		return HUBD_PATH_COLD;
	if (files_path_applies(h, req) && !(declined & PATH_BIT(HUBD_PATH_FILES)))
		return HUBD_PATH_FILES;
	return HUBD_PATH_FULL;
}

/* The --debug line's name for it, which scenarios grep. */
static const char *kind_name(enum hubd_path path, unsigned triggers)
{
	if (path == HUBD_PATH_COLD)
		return "cold start";
	if (path == HUBD_PATH_FILES)
		return "changed files";
	if (triggers & RECONCILE_DRY)
		return "dry run";
	if (triggers & (RECONCILE_CONFIG | RECONCILE_FILES))
		return "all files";
	/* Told apart in the log so that a test can see which notifications cost a dump. */
	if (triggers & RECONCILE_TIMER)
		return "health timer";
	return triggers & RECONCILE_DRIFT ? "kernel" : "resolved endpoints";
}

static int run_path(struct hubd *h, enum hubd_path path, const struct hubd_reconcile_request *req,
		    bool *applied, struct hubd_changes *ch, struct hubd_diags *diags)
{
	switch (path) {
	case HUBD_PATH_COLD:
		return reconcile_cold(h, applied, ch, diags);
	case HUBD_PATH_FILES:
		return reconcile_files(h, req->files, req->n_files, applied, ch);
	default:
		return reconcile_full(h, reads_files(req), req->triggers & RECONCILE_DRY, applied,
				      ch, diags);
	}
}

/* The end of every reconcile that changed something: what it did is counted and logged. */
static int commit(struct hubd *h, const struct hubd_reconcile_request *req, enum hubd_path path,
		  int r, struct hubd_changes *ch, size_t before, uint64_t t0)
{
	/* A repair is what the kernel or the timer asked for; a re-read config's changes are
	 * the admin's. */
	bool drift = (req->triggers & RECONCILE_DRIFT) && !reads_files(req);
	size_t n = changes_count(ch) - before;
	uint64_t t = hubd_now_us(), took;

	h->converged = r >= 0;
	h->record_dirty |= n > 0;
	h->counters.reconciles++;
	if (drift)
		h->counters.drift_repairs += n;
	hubd_log_changes(ch, before, drift);
	/* A cold start or a full reconcile of N peers allocated and freed O(N): give the pages
	 * back rather than keep the peak as RSS for the daemon's lifetime. */
	if (path != HUBD_PATH_FILES)
		malloc_trim(0);
	h->timing.log += hubd_now_us() - t;
	took = hubd_now_us() - t0;
	h->paths[path].count++;
	h->paths[path].last_us = took;
	h->paths[path].total_us += took;
	h->last_path = (int)path;
	hubd_log_timing(h, kind_name(path, req->triggers), took);
	return r < 0 ? r : (int)n;
}

/*
 * The cold start sent a peer that its last judgement then refused, for an
 * incumbent by the state record whose file sorts later (reconcile-cold.c).
 * What runs is right; the kernel is made so at once, as a repair.
 */
static int recheck(struct hubd *h, const struct hubd_reconcile_request *req, int r,
		   struct hubd_changes *ch, struct hubd_diags *diags)
{
	struct hubd_reconcile_request fix = {.triggers = RECONCILE_DRIFT};
	int n;

	h->recheck = false;
	if (r < 0)
		return r;
	log_info("reconcile: the state record overturned a verdict the cold start had sent");
	n = hubd_reconcile(h, &fix, ch, diags);
	return n < 0 ? n : r + n;
}

int hubd_reconcile(struct hubd *h, const struct hubd_reconcile_request *req,
		   struct hubd_changes *ch, struct hubd_diags *diags)
{
	size_t before = changes_count(ch);
	unsigned declined = 0;

	for (;;) {
		enum hubd_path path = reconcile_choose(h, req, declined);
		uint64_t t0 = hubd_now_us();
		bool applied = false;
		int r;

		memset(&h->timing, 0, sizeof(h->timing));
		r = run_path(h, path, req, &applied, ch, diags);
		if (req->triggers & RECONCILE_TIMER) /* what spaces the timer (health.c) */
			h->health_cost_us = hubd_now_us() - t0;
		if (r == -EAGAIN && !applied && path != HUBD_PATH_FULL) {
			log_debug("reconcile: the %s path declined", hubd_path_name(path));
			declined |= PATH_BIT(path);
			continue;
		}
		if (applied && path == HUBD_PATH_COLD && h->recheck)
			return recheck(h, req, commit(h, req, path, r, ch, before, t0), ch, diags);
		if (applied)
			return commit(h, req, path, r, ch, before, t0);
		hubd_log_timing(h, kind_name(path, req->triggers), hubd_now_us() - t0);
		return r < 0 ? r : (int)(changes_count(ch) - before);
	}
}
