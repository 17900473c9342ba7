/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct hubd_nft {
	struct nft_ctx *ctx;
	char *applied; /* the rendered text last applied */
	char *listing; /* the kernel's listing right after that apply */
};

int hubd_nft_open(struct hubd_nft **ret)
{
	struct hubd_nft *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!n->ctx) {
		free(n);
		return -ENOMEM;
	}
	/* Listings without counter values: they are compared to tell drift, and a counted
	 * packet is none (replacing the table for it would also reset the counters). */
	nft_ctx_output_set_flags(n->ctx, NFT_CTX_OUTPUT_STATELESS);
	nft_ctx_buffer_output(n->ctx);
	nft_ctx_buffer_error(n->ctx);
	*ret = n;
	return 0;
}

void hubd_nft_close(struct hubd_nft *n)
{
	if (!n)
		return;
	nft_ctx_free(n->ctx);
	free(n->applied);
	free(n->listing);
	free(n);
}

static void render_elements(FILE *f, int family, const struct hubd_prefix *lans, size_t n)
{
	const char *sep = "";

	for (size_t i = 0; i < n; i++) {
		char buf[INET6_ADDRSTRLEN + 8];

		if (lans[i].family != family)
			continue;
		hubd_prefix_format(&lans[i], buf, sizeof(buf));
		fprintf(f, "%s%s", sep, buf);
		sep = ", ";
	}
}

static bool has_family(const struct hubd_prefix *lans, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (lans[i].family == family)
			return true;
	return false;
}

static void render_forward(FILE *f, const struct hubd_iface_conf *c, const struct hubd_prefix *lans,
			   size_t n)
{
	const char *wg = c->name;

	fputs("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n",
	      f);
	if (c->forward == HUBD_FORWARD_ISOLATE) {
		/* Replies always pass; new spoke-to-spoke flows only towards LANs behind peers. */
		fprintf(f,
			"\t\tiifname \"%s\" oifname \"%s\" ct state established,related accept\n",
			wg, wg);
		if (has_family(lans, n, AF_INET))
			fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" ip daddr @lan4 accept\n", wg,
				wg);
		if (has_family(lans, n, AF_INET6))
			fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" ip6 daddr @lan6 accept\n", wg,
				wg);
		fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" counter drop\n", wg, wg);
	}
	fprintf(f, "\t\tiifname \"%s\" accept\n", wg);
	fprintf(f, "\t\toifname \"%s\" ct state established,related accept\n", wg);
	fputs("\t}\n", f);
}

/*
 * Masquerade = PREFIX: whatever interface leads there. Traffic that goes back
 * into the tunnel is left alone: spokes keep seeing each other's addresses.
 */
static void render_masquerade_prefixes(FILE *f, const struct hubd_iface_conf *c)
{
	char buf[HUBD_PREFIX_STRLEN];

	for (size_t i = 0; i < c->n_masquerade_prefixes; i++) {
		const struct hubd_prefix *p = &c->masquerade_prefixes[i];

		hubd_prefix_format(p, buf, sizeof(buf));
		fprintf(f, "\t\tiifname \"%s\" oifname != \"%s\" %s daddr %s masquerade\n", c->name,
			c->name, p->family == AF_INET ? "ip" : "ip6", buf);
	}
}

char *hubd_nft_render(const struct hubd_iface_conf *c, const struct hubd_prefix *lans, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "table inet %s {\n", HUBD_NFT_TABLE);
	for (int fam = 0; fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;

		if (c->forward != HUBD_FORWARD_ISOLATE || !has_family(lans, n, family))
			continue;
		fprintf(f,
			"\tset lan%d {\n\t\ttype %s\n\t\tflags "
			"interval\n\t\tauto-merge\n\t\telements = { ",
			fam ? 6 : 4, fam ? "ipv6_addr" : "ipv4_addr");
		render_elements(f, family, lans, n);
		fputs(" }\n\t}\n", f);
	}
	if (c->forward != HUBD_FORWARD_OFF)
		render_forward(f, c, lans, n);
	if (c->n_masquerade || c->n_masquerade_prefixes) {
		fputs("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; "
		      "policy accept;\n",
		      f);
		for (size_t i = 0; i < c->n_masquerade; i++)
			fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" masquerade\n", c->name,
				c->masquerade[i]);
		render_masquerade_prefixes(f, c);
		fputs("\t}\n", f);
	}
	fputs("}\n", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int run(struct hubd_nft *n, const char *cmd)
{
	int r = nft_run_cmd_from_buffer(n->ctx, cmd);

	if (r != 0) {
		const char *err = nft_ctx_get_error_buffer(n->ctx);

		/* Logged here, once, with libnftables' own words: the callers only pass it on. */
		log_err("nftables table inet %s: %s", HUBD_NFT_TABLE,
			err && *err ? err : "command failed");
		return -EIO;
	}
	return 0;
}

/* The kernel's view of our table, or NULL when it does not exist. */
static char *list_table(struct hubd_nft *n)
{
	const char *out;

	if (nft_run_cmd_from_buffer(n->ctx, "list table inet " HUBD_NFT_TABLE) != 0) {
		nft_ctx_get_error_buffer(n->ctx); /* drain */
		return NULL;
	}
	out = nft_ctx_get_output_buffer(n->ctx);
	return strdup(out ? out : "");
}

static int apply(struct hubd_nft *n, const char *rendered)
{
	char *cmd;
	int r;

	/* add + delete + define in one buffer is one transaction: never a moment without rules. */
	if (asprintf(&cmd, "table inet %s\ndelete table inet %s\n%s", HUBD_NFT_TABLE,
		     HUBD_NFT_TABLE, rendered) < 0)
		return -ENOMEM;
	r = run(n, cmd);
	free(cmd);
	if (r < 0)
		return r;
	free(n->applied);
	free(n->listing);
	n->applied = strdup(rendered);
	n->listing = list_table(n);
	return n->applied && n->listing ? 0 : -ENOMEM;
}

int hubd_nft_sync(struct hubd_nft *n, const char *rendered, bool dry, struct hubd_changes *ch)
{
	char *now;
	bool same;

	if (!n->applied || strcmp(n->applied, rendered) != 0) {
		changes_add(ch, "nftables table inet %s: replace", HUBD_NFT_TABLE);
		return dry ? 1 : (apply(n, rendered) < 0 ? -EIO : 1);
	}
	now = list_table(n);
	same = now && n->listing && !strcmp(now, n->listing);
	free(now);
	if (same)
		return 0;
	changes_add(ch, "nftables table inet %s: restore", HUBD_NFT_TABLE);
	return dry ? 1 : (apply(n, rendered) < 0 ? -EIO : 1);
}

int hubd_nft_delete(struct hubd_nft *n)
{
	char *now = list_table(n);

	if (!now)
		return 0;
	free(now);
	return run(n, "delete table inet " HUBD_NFT_TABLE) < 0 ? -EIO : 1;
}
