/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The paths a reconcile can take (enum hubd_path). hubd_reconcile() in
 * reconcile.c chooses one and ends every reconcile with the same commit; the
 * paths only use the toolbox (peer-state.h, net-sync.h, report.h) and never
 * call back into reconcile.c or each other.
 *
 * Each path sets *applied once it has changed anything. A path that finds it
 * cannot give what the full reconcile would (a file with an error, a clash,
 * a link that already exists) returns -EAGAIN with *applied false and
 * nothing changed, and reconcile_choose() picks another.
 */
#ifndef HUBD_RECONCILE_H
#define HUBD_RECONCILE_H

#include "daemon.h"

/*
 * Everything: read the configuration (read) or take the running one, walk the
 * kernel's dump and send the difference (dry: only say what it would be).
 */
int reconcile_full(struct hubd *h, bool read, bool dry, bool *applied, struct hubd_changes *ch,
		   struct hubd_diags *diags);

/* Only the peer files files[0..n) changed since a reconcile that converged. */
int reconcile_files(struct hubd *h, char *const *files, size_t n, bool *applied,
		    struct hubd_changes *ch);

/*
 * Nothing runs yet and the link does not exist: create it and send the peers
 * while their files are still being read.
 */
int reconcile_cold(struct hubd *h, bool *applied, struct hubd_changes *ch,
		   struct hubd_diags *diags);

#endif
