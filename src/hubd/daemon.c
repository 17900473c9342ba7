/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's kernel handles, and hubd --down. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "access.h"
#include "log.h"
#include "nft.h"
#include "peer-state.h"
#include "rtnl.h"

int hubd_init(struct hubd *h)
{
	int r;

	h->last_path = -1;
	if (sodium_init() < 0)
		return -EIO;
	r = wgnl_open(&h->wg);
	if (r < 0)
		return r;
	h->rtnl = hubd_rtnl_open();
	if (!h->rtnl)
		return -EIO;
	return hubd_nft_open(&h->nft);
}

void hubd_done(struct hubd *h)
{
	wgnl_close(h->wg);
	hubd_rtnl_close(h->rtnl);
	hubd_nft_close(h->nft);
	hubd_config_free(h->cfg);
	hubd_pindex_clear(&h->pindex);
	hubd_states_free(h->peers, h->n_peers);
	for (size_t i = 0; i < h->n_reported; i++)
		free(h->reported[i]);
	free(h->reported);
	hubd_host_free(&h->host);
	memset(h, 0, sizeof(*h));
}

/* Routes go with the link; forwarding sysctls stay, as hubd did not create them. */
int hubd_down(struct hubd *h, const char *ifname)
{
	int r = hubd_nft_delete(h->nft);
	int l;

	if (r < 0)
		log_err("cannot delete table inet %s", HUBD_NFT_TABLE);
	else if (r > 0)
		log_info("deleted table inet %s", HUBD_NFT_TABLE);
	l = hubd_link_delete(h->rtnl, ifname);
	if (l == -EEXIST)
		log_err("%s is not a WireGuard link: left alone", ifname);
	else if (l < 0)
		log_err("cannot delete %s: %s", ifname, strerror(-l));
	else if (l > 0)
		log_info("deleted link %s", ifname);
	return r < 0 ? r : (l < 0 ? l : 0);
}

static bool expired_before(const struct hubd_config *old, const char *name)
{
	for (size_t i = 0; old && i < old->n_expired; i++)
		if (!strcmp(old->expired[i].name, name))
			return true;
	return false;
}

void hubd_note_expired(const struct hubd_config *old, const struct hubd_peer_conf *p, bool running)
{
	char at[HUBD_EXPIRY_STRLEN];

	if (expired_before(old, p->name))
		return;
	hubd_expiry_format(p->expires_at, at, sizeof(at));
	log_event(LOG_NOTICE, "peer-expired", p->name, "peer %s: expired at %s%s", p->name, at,
		  running ? ": out of the kernel, the file stays" : ": not applied");
}

void hubd_install_config(struct hubd *h, struct hubd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_expired; i++)
		hubd_note_expired(h->cfg, &cfg->expired[i],
				  hubd_config_peer_by_name(h->cfg, cfg->expired[i].name));
	hubd_pindex_clear(&h->pindex); /* it names the old config's peers */
	hubd_config_free(h->cfg);
	h->cfg = cfg;
	log_set_interface(cfg->iface.name);
}
