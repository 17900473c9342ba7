/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a reconcile tells the journal: its changes, its timing and the configuration's errors. */
#ifndef HUBD_REPORT_H
#define HUBD_REPORT_H

#include "daemon.h"

/* Monotonic microseconds, for the per-phase timing --debug logs after each reconcile. */
uint64_t hubd_now_us(void);

/* Log each distinct diagnostic once, however many reconciles find it again. */
void hubd_report_diags(struct hubd *h, const struct hubd_diags *d);
/* The peer file name.conf read cleanly: its diagnostics are logged again if they come back. */
void hubd_forget_reported(struct hubd *h, const char *name);

void hubd_log_changes(const struct hubd_changes *ch, size_t from, bool drift);
void hubd_log_timing(const struct hubd *h, const char *what, uint64_t total);

#endif
