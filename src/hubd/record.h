/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state record: which key held which AllowedIPs when hubd last ran, kept
 * in the state directory (/var/lib/hubd, the unit's StateDirectory=) as
 * IFNAME.peers. After a reboot the link is new and the kernel remembers
 * nothing; the record then says who the incumbents are, so a peer file added
 * while the hub was down cannot take a running phone's address by sorting
 * first (hubd.conf(5), TRUST).
 *
 * The file is one line per peer, "KEY PREFIX PREFIX ...", keys in base64 (a
 * public key is no secret). It is root's and written atomically; a line that
 * does not parse is skipped, so a damaged record only weakens incumbency.
 */
#ifndef HUBD_RECORD_H
#define HUBD_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"

struct hubd_record;

/* Parse a record's text. Never fails on content; -ENOMEM only. */
int hubd_record_parse(const char *text, size_t len, struct hubd_record **ret);
/* Load dir/IFNAME.peers: 0 with *ret NULL when there is none, -errno when unreadable. */
int hubd_record_load(const char *dir, const char *ifname, struct hubd_record **ret);
void hubd_record_free(struct hubd_record *r);
size_t hubd_record_size(const struct hubd_record *r); /* peers recorded */

/* Does the record give c's key every prefix c claims? Then c claims nothing new. */
bool hubd_record_holds(const struct hubd_record *r, const struct hubd_peer_conf *c);
/*
 * Could c lose to an incumbent? True when c is no incumbent itself but uses a
 * recorded key, or claims a prefix that overlaps one recorded for another key.
 */
bool hubd_record_contests(const struct hubd_record *r, const struct hubd_peer_conf *c);

/* The record of cfg's peers, as text (malloc'd, *ret_len bytes). */
int hubd_record_format(const struct hubd_config *cfg, char **ret, size_t *ret_len);
/* Write cfg's record to dir/IFNAME.peers atomically (a temporary file .IFNAME.peers, fsync,
 * rename, fsync of dir): a crash at any point leaves the old record or the new one, whole. */
int hubd_record_save(const char *dir, const struct hubd_config *cfg);

struct hubd;
/*
 * Save what runs, if it changed since last saved (h->record_dirty), off the
 * loop: a child process (fork: the configuration as it stands, copy-on-write)
 * writes it as hubd_record_save does, so the loop spends only the fork and
 * never waits for the disk. e watches the child (SIGCHLD must be blocked, as
 * sd_event_add_child wants) and once it ended calls done(userdata), for the
 * caller to save what changed meanwhile. One child at a time: while one runs,
 * this does nothing and record_dirty stays set. Without e, or if fork fails,
 * the record is written here and now. A failure is logged once per run.
 */
void hubd_record_write_async(struct hubd *h, sd_event *e, void (*done)(void *userdata),
			     void *userdata);
/* The child writing the record, or 0. */
pid_t hubd_record_writer(void);
/* Wait for a child writing the record, then save here and now what is still dirty: at exit. */
void hubd_record_write(struct hubd *h);

#endif
