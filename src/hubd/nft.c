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
#include "policy.h"

struct hubd_nft {
	struct nft_ctx *ctx;
	/*
	 * One peer's element delta goes through a context of its own. libnftables
	 * keeps what a command needed in its context's cache and fetches it all
	 * again once the kernel's ruleset changed: after a listing, that would be
	 * every element of the table, on every delta, making one peer's change cost
	 * O(peers). This one never lists, so its cache stays the table's skeleton.
	 */
	struct nft_ctx *delta_ctx;
	char *applied; /* the rendered text last applied (without the policy's elements) */
	char *listing; /* the kernel's listing right after that apply, policy elements cut out */
	struct hubd_elems elems; /* the policy's elements in the kernel, sorted (policy.h) */
	bool policy;		 /* the applied table has the policy's sets and chains */
};

/* The policy's sets, whose elements change one peer at a time. */
static const char *const policy_sets[] = {"limited4", "limited6", "access4", "access6"};
#define N_POLICY_SETS (sizeof(policy_sets) / sizeof(*policy_sets))

int hubd_nft_open(struct hubd_nft **ret)
{
	struct hubd_nft *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	n->delta_ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!n->ctx || !n->delta_ctx) {
		if (n->ctx)
			nft_ctx_free(n->ctx);
		if (n->delta_ctx)
			nft_ctx_free(n->delta_ctx);
		free(n);
		return -ENOMEM;
	}
	nft_ctx_buffer_output(n->delta_ctx);
	nft_ctx_buffer_error(n->delta_ctx);
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
	nft_ctx_free(n->delta_ctx);
	free(n->applied);
	free(n->listing);
	hubd_elems_free(&n->elems);
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

/* Packets from a peer with Access go through the access chain, forwarded or not. */
static void render_policy_jumps(FILE *f, const struct hubd_iface_conf *c)
{
	fprintf(f, "\t\tiifname \"%s\" ip saddr . iifname @limited4 jump access\n", c->name);
	fprintf(f, "\t\tiifname \"%s\" ip6 saddr . iifname @limited6 jump access\n", c->name);
}

/*
 * Access (policy.h): the sets whose elements change one peer at a time, and
 * the chain every packet from a limited peer passes, in the original direction
 * too, so that a narrowed policy stops flows already open. Replies to
 * connections others opened towards the peer pass.
 */
static void render_policy(FILE *f, const struct hubd_iface_conf *c)
{
	for (int v6 = 0; v6 < 2; v6++) {
		const char *t = v6 ? "ipv6_addr" : "ipv4_addr";

		fprintf(f, "\tset limited%d {\n\t\ttype %s . ifname\n\t\tflags interval\n\t}\n",
			v6 ? 6 : 4, t);
		fprintf(f,
			"\tset access%d {\n\t\ttype %s . %s . inet_proto . inet_service\n\t\tflags "
			"interval\n\t}\n",
			v6 ? 6 : 4, t, t);
	}
	fputs("\tchain access {\n\t\tct direction reply accept\n"
	      "\t\tip saddr . ip daddr . meta l4proto . th dport @access4 accept\n"
	      "\t\tip6 saddr . ip6 daddr . meta l4proto . th dport @access6 accept\n"
	      "\t\tcounter drop\n\t}\n",
	      f);
	fputs("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n", f);
	render_policy_jumps(f, c);
	fputs("\t}\n", f);
}

static void render_forward(FILE *f, const struct hubd_iface_conf *c, const struct hubd_prefix *lans,
			   size_t n, bool policy)
{
	const char *wg = c->name;

	fputs("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n",
	      f);
	if (policy)
		render_policy_jumps(f, c);
	if (c->forward == HUBD_FORWARD_OFF) {
		fputs("\t}\n", f);
		return;
	}
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

char *hubd_nft_render(const struct hubd_iface_conf *c, const struct hubd_prefix *lans, size_t n,
		      bool policy)
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
	if (policy)
		render_policy(f, c);
	if (c->forward != HUBD_FORWARD_OFF || policy)
		render_forward(f, c, lans, n, policy);
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

static int run_in(struct nft_ctx *ctx, const char *cmd)
{
	int r = nft_run_cmd_from_buffer(ctx, cmd);

	if (r != 0) {
		const char *err = nft_ctx_get_error_buffer(ctx);

		/* Logged here, once, with libnftables' own words: the callers only pass it on. */
		log_err("nftables table inet %s: %s", HUBD_NFT_TABLE,
			err && *err ? err : "command failed");
		return -EIO;
	}
	return 0;
}

static int run(struct hubd_nft *n, const char *cmd)
{
	return run_in(n->ctx, cmd);
}

/*
 * Cut the policy sets' elements out of a listing, counting them into
 * counts[] (parallel to policy_sets). What is left changes only with the
 * rendered table, so one peer's Access change leaves it as it was; the counts
 * tell a set emptied or filled behind hubd's back.
 */
static void strip_policy(char *text, size_t counts[N_POLICY_SETS])
{
	for (size_t i = 0; i < N_POLICY_SETS; i++) {
		char head[32], *set, *end, *el, *close;

		counts[i] = 0;
		snprintf(head, sizeof(head), "\tset %s {\n", policy_sets[i]);
		set = strstr(text, head);
		end = set ? strstr(set, "\n\t}") : NULL;
		el = set ? strstr(set, "elements = {") : NULL;
		if (!el || !end || el > end || !(close = strchr(el, '}')))
			continue;
		counts[i] = 1;
		for (const char *c = el; c < close; c++)
			counts[i] += *c == ',';
		/* the line's own indentation and newline go with it */
		while (el > set && el[-1] == '\t')
			el--;
		memmove(el, close + 2, strlen(close + 2) + 1);
	}
}

/* The kernel's view of our table, or NULL when it does not exist; counts as strip_policy. */
static char *list_table(struct hubd_nft *n, size_t counts[N_POLICY_SETS])
{
	const char *out;
	char *text;

	if (nft_run_cmd_from_buffer(n->ctx, "list table inet " HUBD_NFT_TABLE) != 0) {
		nft_ctx_get_error_buffer(n->ctx); /* drain */
		return NULL;
	}
	out = nft_ctx_get_output_buffer(n->ctx);
	text = strdup(out ? out : "");
	if (text)
		strip_policy(text, counts);
	return text;
}

/* "add element inet hubd SET { a, b }" (or delete) for each policy set that e has strings of.
 * e's strings are "SET ELEMENT" and sorted, so each set's are together. */
static void write_elements(FILE *f, const char *verb, const struct hubd_elems *e)
{
	for (size_t i = 0; i < e->n;) {
		const char *set = e->v[i];
		size_t len = strcspn(set, " ");
		const char *sep = "";

		fprintf(f, "%s element inet %s %.*s { ", verb, HUBD_NFT_TABLE, (int)len, set);
		do {
			fprintf(f, "%s%s", sep, e->v[i] + len + (e->v[i][len] == ' '));
			sep = ", ";
			i++;
		} while (i < e->n && !strncmp(e->v[i], set, len) && e->v[i][len] == ' ');
		fputs(" }\n", f);
	}
}

/* Keep a sorted copy of e as what the kernel holds. */
static int keep_elements(struct hubd_nft *n, const struct hubd_elems *e)
{
	struct hubd_elems copy = {.v = calloc(e->n + 1, sizeof(char *)), .cap = e->n + 1};

	if (!copy.v)
		return -ENOMEM;
	for (; copy.n < e->n; copy.n++)
		if (!(copy.v[copy.n] = strdup(e->v[copy.n]))) {
			hubd_elems_free(&copy);
			return -ENOMEM;
		}
	hubd_elems_free(&n->elems);
	n->elems = copy;
	return 0;
}

static size_t count_set(const struct hubd_elems *e, const char *set)
{
	size_t len = strlen(set), c = 0;

	for (size_t i = 0; i < e->n; i++)
		c += !strncmp(e->v[i], set, len) && e->v[i][len] == ' ';
	return c;
}

/* Does the kernel hold as many elements in each policy set as hubd put there? */
static bool counts_match(const struct hubd_nft *n, const size_t counts[N_POLICY_SETS])
{
	for (size_t i = 0; i < N_POLICY_SETS; i++)
		if (counts[i] != count_set(&n->elems, policy_sets[i]))
			return false;
	return true;
}

/* Replace the whole table: rendered, then the policy's elements, in one transaction. */
static int apply(struct hubd_nft *n, const char *rendered, const struct hubd_elems *elems)
{
	static const struct hubd_elems none;
	size_t counts[N_POLICY_SETS];
	char *cmd = NULL, *copy;
	size_t len = 0;
	FILE *f = open_memstream(&cmd, &len);
	int r;

	if (!f)
		return -ENOMEM;
	/* add + delete + define in one buffer is one transaction: never a moment without rules. */
	fprintf(f, "table inet %s\ndelete table inet %s\n%s", HUBD_NFT_TABLE, HUBD_NFT_TABLE,
		rendered);
	write_elements(f, "add", elems ? elems : &none);
	if (fclose(f) != 0) {
		free(cmd);
		return -ENOMEM;
	}
	r = run(n, cmd);
	free(cmd);
	if (r < 0)
		return r;
	copy = strdup(rendered); /* first: rendered may be n->applied itself */
	free(n->applied);
	free(n->listing);
	n->applied = copy;
	n->listing = list_table(n, counts);
	n->policy = elems != NULL;
	r = keep_elements(n, elems ? elems : &none);
	return n->applied && n->listing && r == 0 ? 0 : -ENOMEM;
}

char *hubd_nft_delta_text(const struct hubd_elems *del, const struct hubd_elems *add)
{
	char *cmd = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&cmd, &len);

	if (!f)
		return NULL;
	write_elements(f, "delete", del);
	write_elements(f, "add", add);
	if (fclose(f) != 0) {
		free(cmd);
		return NULL;
	}
	return cmd;
}

/* The elements that take what the kernel holds to elems, as one transaction. */
static int send_delta(struct hubd_nft *n, const struct hubd_elems *del,
		      const struct hubd_elems *add)
{
	char *cmd = hubd_nft_delta_text(del, add);
	int r;

	if (!cmd)
		return -ENOMEM;
	r = run_in(n->delta_ctx, cmd);
	free(cmd);
	return r;
}

/* m was not adopted: free its own strings (those of add) and its array. */
static void drop_merged(const struct hubd_elems *add, struct hubd_elems *m)
{
	for (size_t j = 0; j < m->n; j++)
		if (hubd_elems_has(add, m->v[j]))
			free(m->v[j]);
	free(m->v);
}

/* Where s is, or goes, in the sorted v[0..n). */
static size_t position(char *const *v, size_t n, const char *s)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid], s) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * What n->elems becomes with del (sorted, in it) out and add (sorted, not in
 * it) in. The strings of n->elems are found by binary search and the pointers
 * around them moved in blocks, so one peer's change costs its own elements'
 * searches and a pass of memmove, not a comparison per element of the table.
 * ret borrows the strings it keeps from n->elems; those of add are its own
 * copies (adopt_merged and drop_merged settle which is freed).
 */
static int merged(const struct hubd_nft *n, const struct hubd_elems *del,
		  const struct hubd_elems *add, struct hubd_elems *ret)
{
	size_t cap = n->elems.n + add->n + 1, from = 0;
	struct hubd_elems m = {.v = malloc(cap * sizeof(char *)), .cap = cap};

	if (!m.v)
		return -ENOMEM;
	for (size_t k = 0; k <= del->n; k++) {
		size_t to = k < del->n ? position(n->elems.v, n->elems.n, del->v[k]) : n->elems.n;

		memcpy(m.v + m.n, n->elems.v + from, (to - from) * sizeof(char *));
		m.n += to - from;
		from = to + 1;
	}
	for (size_t k = 0; k < add->n; k++) {
		size_t at = position(m.v, m.n, add->v[k]);
		char *s = strdup(add->v[k]);

		if (!s) {
			drop_merged(add, &m);
			return -ENOMEM;
		}
		memmove(m.v + at + 1, m.v + at, (m.n - at) * sizeof(char *));
		m.v[at] = s;
		m.n++;
	}
	*ret = m;
	return 0;
}

/* The kernel took the delta: m becomes what hubd holds; the strings that went are freed. */
static void adopt_merged(struct hubd_nft *n, const struct hubd_elems *del, struct hubd_elems *m)
{
	/* Each string that went is found while the array still holds only live ones, and
	 * cut out of it before the next search: del's strings may be those very strings. */
	for (size_t k = 0; k < del->n; k++) {
		size_t at = position(n->elems.v, n->elems.n, del->v[k]);
		char *gone;

		if (at == n->elems.n || strcmp(n->elems.v[at], del->v[k]))
			continue;
		gone = n->elems.v[at];
		memmove(n->elems.v + at, n->elems.v + at + 1,
			(n->elems.n - at - 1) * sizeof(char *));
		n->elems.n--;
		free(gone);
	}
	free(n->elems.v);
	n->elems = *m;
}

bool hubd_nft_has_policy(const struct hubd_nft *n)
{
	return n && n->applied && n->policy;
}

int hubd_nft_policy_delta(struct hubd_nft *n, const struct hubd_elems *del,
			  const struct hubd_elems *add, bool dry, struct hubd_changes *ch)
{
	struct hubd_elems next;
	int r;

	if (!hubd_nft_has_policy(n))
		return -EAGAIN;
	if (!del->n && !add->n)
		return 0;
	if (dry)
		return 1;
	r = merged(n, del, add, &next);
	if (r < 0)
		return r;
	if (send_delta(n, del, add) < 0) {
		/* The kernel's set is not what hubd thought: put the whole table right, from a
		 * copy, as apply lets go of the strings next borrows. */
		struct hubd_elems full = {0};

		changes_add(ch, "nftables table inet %s: restore", HUBD_NFT_TABLE);
		r = 0;
		for (size_t i = 0; i < next.n && r == 0; i++)
			r = hubd_elems_add(&full, strdup(next.v[i]));
		drop_merged(add, &next);
		if (r == 0)
			r = apply(n, n->applied, &full);
		hubd_elems_free(&full);
		return r < 0 ? -EIO : 1;
	}
	adopt_merged(n, del, &next);
	return 1;
}

int hubd_nft_sync(struct hubd_nft *n, const char *rendered, const struct hubd_elems *elems,
		  bool dry, struct hubd_changes *ch)
{
	struct hubd_elems del = {0}, add = {0};
	size_t counts[N_POLICY_SETS];
	char *now;
	bool same;
	int r;

	if (!n->applied || strcmp(n->applied, rendered) != 0) {
		changes_add(ch, "nftables table inet %s: replace", HUBD_NFT_TABLE);
		return dry ? 1 : (apply(n, rendered, elems) < 0 ? -EIO : 1);
	}
	now = list_table(n, counts);
	same = now && n->listing && !strcmp(now, n->listing) && counts_match(n, counts);
	free(now);
	if (!same) {
		changes_add(ch, "nftables table inet %s: restore", HUBD_NFT_TABLE);
		return dry ? 1 : (apply(n, rendered, elems) < 0 ? -EIO : 1);
	}
	if (!elems)
		return 0;
	r = hubd_elems_diff(&n->elems, elems, &del, &add);
	if (r == 0 && (del.n || add.n)) {
		changes_add(ch, "nftables access policy: %zu elements added, %zu removed", add.n,
			    del.n);
		r = hubd_nft_policy_delta(n, &del, &add, dry, ch);
		r = r < 0 ? -EIO : 1;
	}
	free(del.v);
	free(add.v);
	return r;
}

int hubd_nft_delete(struct hubd_nft *n)
{
	size_t counts[N_POLICY_SETS];
	char *now = list_table(n, counts);

	if (!now)
		return 0;
	free(now);
	return run(n, "delete table inet " HUBD_NFT_TABLE) < 0 ? -EIO : 1;
}
