/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a reconcile tells the journal (report.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "report.h"

/* Monotonic microseconds, for the per-phase timing --debug logs after each reconcile. */
uint64_t hubd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Each distinct diagnostic is logged once, not on every reload while the file stays broken. */
void hubd_report_diags(struct hubd *h, const struct hubd_diags *d)
{
	char **now = calloc(d->n + 1, sizeof(*now));
	size_t n = 0;

	if (!now)
		return;
	for (size_t i = 0; i < d->n; i++) {
		const struct hubd_diag *g = &d->items[i];
		char *key;

		if (asprintf(&key, "%s:%u:%d:%s", g->path, g->line, g->warning, g->message) < 0)
			continue;
		if (!strv_contains(h->reported, h->n_reported, key)) {
			log_config_error(g->warning ? LOG_WARNING : LOG_ERR, g->path, g->line,
					 g->message);
			if (!g->warning)
				h->counters.config_errors++;
		}
		now[n++] = key;
	}
	for (size_t i = 0; i < h->n_reported; i++)
		free(h->reported[i]);
	free(h->reported);
	h->reported = now;
	h->n_reported = n;
}

void hubd_log_changes(const struct hubd_changes *ch, size_t from, bool drift)
{
	size_t logged = 0, total = changes_count(ch) - from;

	for (size_t i = from; i < ch->n && logged < HUBD_LOG_CHANGES_MAX; i++, logged++) {
		const struct hubd_change *c = &ch->items[i];

		if (drift)
			log_event(LOG_NOTICE, "drift-repaired", c->peer, "repaired: %s", c->text);
		else
			log_event(LOG_INFO, c->event ? c->event : "reconcile", c->peer, "%s",
				  c->text);
	}
	if (total > logged)
		log_info("... and %zu more changes", total - logged);
}

void hubd_log_timing(const struct hubd *h, const char *what, uint64_t total)
{
	const struct hubd_timing *t = &h->timing;

	log_debug("reconcile (%s) took %" PRIu64 " us: read %" PRIu64 " verify %" PRIu64
		  " states %" PRIu64 " link %" PRIu64 " wg-dump %" PRIu64 " diff %" PRIu64
		  " wg-set %" PRIu64 " wait %" PRIu64 " net %" PRIu64 " (addresses %" PRIu64
		  " nft %" PRIu64 ") commit %" PRIu64 " log %" PRIu64,
		  what, total, t->read, t->verify, t->states, t->link, t->dump, t->diff, t->set,
		  t->wait, t->net, t->addr, t->nft, t->commit, t->log);
}

void hubd_forget_reported(struct hubd *h, const char *name)
{
	char *prefix;
	size_t n = 0, len;

	if (!h->n_reported || asprintf(&prefix, "%s/peers.d/%s.conf:", h->config_dir, name) < 0)
		return;
	len = strlen(prefix);
	for (size_t i = 0; i < h->n_reported; i++) {
		if (!strncmp(h->reported[i], prefix, len))
			free(h->reported[i]);
		else
			h->reported[n++] = h->reported[i];
	}
	h->n_reported = n;
	free(prefix);
}
