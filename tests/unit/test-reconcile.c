/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The changed-files path is a shortcut, never a different answer
 * (reconcile-files.c). This differential test holds it to that: two daemons
 * start from the same converged state on two fake kernels (fake-kernel.c),
 * the peer files change, and daemon 1 is told which files changed
 * (RECONCILE_FILES) while daemon 2 re-reads everything (RECONCILE_CONFIG,
 * the full path). Both must send the kernel the same set requests and end
 * with the same device, running config, peer states, diagnostics and changes.
 * Each row also says which path daemon 1 must commit: the files path for
 * what it can do alone, the full path where it must decline (an error or a
 * warning in a file, a clash with a running peer or between changed files).
 *
 * The rest of the kernel is stubbed with -Wl,--wrap (src/hubd/local.mk):
 * the link exists with ifindex FAKE_IFINDEX (or is created, for a cold
 * start), and net sync only records the parts and routes it was asked for.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "daemon.h"
#include "diff.h"
#include "fake-kernel.h"
#include "net-sync.h"
#include "policy.h"
#include "record.h"
#include "rtnl.h"

/* ---- the config dir ---- */

/* Peer keys @K1@..@K5@, the hub's public key @KH@, PSK files @P1@ and @P2@. */
static char keys[6][WGNL_KEY_B64_LEN + 1];
static const char *hub_priv_b64 = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";

static void make_keys(void)
{
	wgnl_key k, priv;

	for (int i = 0; i < 5; i++) {
		memset(k, 0x11 * (i + 1), sizeof(k));
		wgnl_key_to_base64(keys[i], k);
	}
	ck_assert_int_eq(wgnl_key_from_base64(priv, hub_priv_b64), 0);
	wgnl_key_public_from_private(k, priv);
	wgnl_key_to_base64(keys[5], k);
}

/* t with @Kn@, @KH@ and @Pn@ replaced. */
static char *expand(const char *dir, const char *t)
{
	char *out = malloc(strlen(t) * 4 + 512), *o = out;

	ck_assert_ptr_nonnull(out);
	while (*t) {
		if (t[0] == '@' && t[1] == 'K' && t[2] && t[3] == '@') {
			o = stpcpy(o, keys[t[2] == 'H' ? 5 : t[2] - '1']);
			t += 4;
		} else if (t[0] == '@' && t[1] == 'P' && t[2] && t[3] == '@') {
			o += sprintf(o, "%s/psk%c.key", dir, t[2]);
			t += 4;
		} else {
			*o++ = *t++;
		}
	}
	*o = '\0';
	return out;
}

/* Key files must be root's and 0600 (the loader refuses others): the test runs as root. */
static void write_file(const char *dir, const char *rel, const char *text, mode_t mode)
{
	char path[512], *t = expand(dir, text);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(t, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	free(t);
}

static void setup_dir(char *dir, size_t len)
{
	char path[512];
	wgnl_key psk;
	char b64[WGNL_KEY_B64_LEN + 1];

	snprintf(dir, len, "/tmp/test-reconcile.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/peers.d", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	write_file(dir, "private.key", hub_priv_b64, 0600);
	for (char c = '1'; c <= '2'; c++) {
		memset(psk, 0x60 + c, sizeof(psk));
		wgnl_key_to_base64(b64, psk);
		snprintf(path, sizeof(path), "psk%c.key", c);
		write_file(dir, path, b64, 0600);
	}
	snprintf(path, sizeof(path),
		 "[Interface]\nAddress = 10.8.0.1/24\nListenPort = 51820\n"
		 "PrivateKeyFile = %s/private.key\n",
		 dir);
	write_file(dir, "hubd.conf", path, 0644);
}

static void remove_dir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* ---- a daemon on its own fake kernel ---- */

struct instance {
	struct hubd h;
	struct fake_kernel k; /* its socket is this address: the instance never moves */
	bool link_exists;
	unsigned links_created, links_up;
	unsigned net_parts; /* HUBD_NET_* asked for since the step began */
	char *routes;	    /* the routed prefixes the nftables table last named */
	char *kroutes;	    /* the routes the kernel holds, as routes_text writes them */
	size_t sets_before; /* k.n_sets when the step began */
	bool policy_on;	    /* the nftables table has the Access sets (a stubbed nft.c) */
	char *policy_delta; /* the last element delta sent, "-del +add" */
	struct hubd_changes ch;
	struct hubd_diags diags;
	int r;
};

/* The instance reconciling now: the stubs below act on it. */
static struct instance *cur;

static struct instance *instance_new(const char *dir, bool link_exists)
{
	struct instance *in = calloc(1, sizeof(*in));

	ck_assert_ptr_nonnull(in);
	in->h.config_dir = dir;
	in->h.last_path = -1; /* what hubd_init would set; it would also open rtnl and nft */
	in->k.active = true;
	in->k.max_msg = 32768;
	in->k.dev = wgnl_device_new("wg0");
	ck_assert_ptr_nonnull(in->k.dev);
	in->link_exists = link_exists;
	fake_kernel_connect(&in->k);
	ck_assert_int_eq(wgnl_open(&in->h.wg), 0);
	return in;
}

static void instance_free(struct instance *in)
{
	hubd_done(&in->h);
	ck_assert(!in->k.open);
	fake_kernel_clear(&in->k);
	wgnl_device_free(in->k.dev);
	changes_clear(&in->ch);
	hubd_diags_free(&in->diags);
	free(in->routes);
	free(in->kroutes);
	free(in->policy_delta);
	free(in);
}

static void reconcile(struct instance *in, const struct hubd_reconcile_request *req)
{
	changes_clear(&in->ch);
	hubd_diags_free(&in->diags);
	in->sets_before = in->k.n_sets;
	in->net_parts = 0;
	cur = in;
	in->r = hubd_reconcile(&in->h, req, &in->ch, &in->diags);
	cur = NULL;
}

/* ---- the kernel besides WireGuard, stubbed ---- */

int __wrap_hubd_link_sync(struct nl_sock *sk, const struct hubd_iface_conf *c, bool dry,
			  int *ret_ifindex, bool *ret_created, struct hubd_changes *ch);
int __wrap_hubd_link_up(struct nl_sock *sk, const struct hubd_iface_conf *c);
int __wrap_hubd_net_sync_parts(struct hubd *h, const struct hubd_config *cfg, int ifindex,
			       unsigned parts, bool dry, struct hubd_changes *ch);

int __wrap_hubd_link_sync(struct nl_sock *sk, const struct hubd_iface_conf *c, bool dry,
			  int *ret_ifindex, bool *ret_created, struct hubd_changes *ch)
{
	ck_assert_ptr_nonnull(cur);
	ck_assert_str_eq(c->name, "wg0");
	*ret_created = !cur->link_exists;
	*ret_ifindex = dry && !cur->link_exists ? 0 : FAKE_IFINDEX;
	if (!dry && !cur->link_exists) {
		cur->link_exists = true;
		cur->links_created++;
	}
	return 0;
}

/* The machine's own addresses, gateways and name servers: none (the one running the test has
 * its own, which may lie in what the rows route). */
int __wrap_hubd_host_read(struct hubd_host *host, const char *tunnel_ifname);
int __wrap_hubd_host_read(struct hubd_host *host, const char *tunnel_ifname)
{
	hubd_host_free(host);
	return 0;
}

int __wrap_hubd_link_up(struct nl_sock *sk, const struct hubd_iface_conf *c)
{
	ck_assert_ptr_nonnull(cur);
	cur->links_up++;
	return 0;
}

static char *routes_text(const struct hubd_config *cfg)
{
	struct hubd_prefix *lans = NULL;
	size_t n = 0, len = 0;
	char *text = NULL, buf[HUBD_PREFIX_STRLEN];
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(hubd_routed_prefixes(&cfg->iface, cfg->peers, cfg->n_peers, &lans, &n), 0);
	for (size_t i = 0; i < n; i++) {
		hubd_prefix_format(&lans[i], buf, sizeof(buf));
		fprintf(f, "%s ", buf);
	}
	fclose(f);
	free(lans);
	return text;
}

int __wrap_hubd_net_sync_parts(struct hubd *h, const struct hubd_config *cfg, int ifindex,
			       unsigned parts, bool dry, struct hubd_changes *ch)
{
	ck_assert_ptr_nonnull(cur);
	ck_assert_ptr_eq(h, &cur->h);
	ck_assert_int_eq(ifindex, FAKE_IFINDEX);
	ck_assert(!dry);
	cur->net_parts |= parts;
	/* The nftables table names the peers' routed prefixes for Forward = isolate alone (its
	 * lan sets); the routes follow them always. */
	if (parts & HUBD_NET_NFT) {
		free(cur->routes);
		cur->routes =
		    cfg->iface.forward == HUBD_FORWARD_ISOLATE ? routes_text(cfg) : strdup("");
	}
	if (parts & HUBD_NET_ROUTES) {
		free(cur->kroutes);
		cur->kroutes = routes_text(cfg);
	}
	return 0;
}

bool __wrap_hubd_nft_has_policy(const struct hubd_nft *n);
int __wrap_hubd_nft_policy_delta(struct hubd_nft *n, const struct hubd_elems *del,
				 const struct hubd_elems *add, bool dry, struct hubd_changes *ch);

bool __wrap_hubd_nft_has_policy(const struct hubd_nft *n)
{
	return cur && cur->policy_on;
}

int __wrap_hubd_nft_policy_delta(struct hubd_nft *n, const struct hubd_elems *del,
				 const struct hubd_elems *add, bool dry, struct hubd_changes *ch)
{
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(cur);
	if (!cur->policy_on)
		return -EAGAIN;
	free(cur->policy_delta);
	f = open_memstream(&cur->policy_delta, &len);
	for (size_t i = 0; i < del->n; i++)
		fprintf(f, "-%s\n", del->v[i]);
	for (size_t i = 0; i < add->n; i++)
		fprintf(f, "+%s\n", add->v[i]);
	fclose(f);
	return 1;
}

static int word_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define MAX_ROUTES 64

/* text's space-separated words (text is cut up), appended to words[*n]. */
static void split_words(char *text, char **words, size_t *n)
{
	char *save = NULL;

	for (char *w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		ck_assert_uint_lt(*n, MAX_ROUTES);
		words[(*n)++] = w;
	}
}

/* words sorted as strings, joined as routes_text joins them: one order for both paths. */
static char *join_sorted(char **words, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	qsort(words, n, sizeof(*words), word_cmp);
	for (size_t k = 0; k < n; k++)
		fprintf(f, "%s ", words[k]);
	fclose(f);
	return out;
}

static char *normalized(const char *text)
{
	char *copy = strdup(text ? text : ""), *words[MAX_ROUTES], *out;
	size_t n = 0;

	ck_assert_ptr_nonnull(copy);
	split_words(copy, words, &n);
	out = join_sorted(words, n);
	free(copy);
	return out;
}

/* The changed-files path's routes, one at a time: each removed one must be in the kernel,
 * each added one not yet. */
int __wrap_hubd_route_change(struct nl_sock *sk, int ifindex, const struct hubd_prefix *del,
			     size_t n_del, const struct hubd_prefix *add, size_t n_add,
			     struct hubd_changes *ch);
int __wrap_hubd_route_change(struct nl_sock *sk, int ifindex, const struct hubd_prefix *del,
			     size_t n_del, const struct hubd_prefix *add, size_t n_add,
			     struct hubd_changes *ch)
{
	char *words[MAX_ROUTES], bufs[MAX_ROUTES][HUBD_PREFIX_STRLEN], *out;
	size_t n = 0;

	ck_assert_ptr_nonnull(cur);
	ck_assert_int_eq(ifindex, FAKE_IFINDEX);
	ck_assert_ptr_nonnull(cur->kroutes);
	split_words(cur->kroutes, words, &n);
	for (size_t i = 0; i < n_del; i++) {
		size_t k = 0;

		hubd_prefix_format(&del[i], bufs[0], sizeof(bufs[0]));
		while (k < n && strcmp(words[k], bufs[0]))
			k++;
		ck_assert_msg(k < n, "route %s removed, but the kernel has none", bufs[0]);
		words[k] = words[--n];
	}
	for (size_t i = 0; i < n_add; i++) {
		ck_assert_uint_lt(n, MAX_ROUTES);
		hubd_prefix_format(&add[i], bufs[i], sizeof(bufs[i]));
		for (size_t k = 0; k < n; k++)
			ck_assert_msg(strcmp(words[k], bufs[i]), "route %s added twice", bufs[i]);
		words[n++] = bufs[i];
	}
	out = join_sorted(words, n);
	free(cur->kroutes);
	cur->kroutes = out;
	(void)sk;
	(void)ch;
	return (int)(n_del + n_add);
}

/* ---- what the two daemons are compared by ---- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text's lines, sorted. */
static char *sorted_lines(char *text)
{
	char **lines = NULL, *save = NULL, *out = NULL;
	size_t n = 0, len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		lines = realloc(lines, (n + 1) * sizeof(*lines));
		ck_assert_ptr_nonnull(lines);
		lines[n++] = l;
	}
	if (n)
		qsort(lines, n, sizeof(*lines), str_cmp);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	fclose(f);
	free(lines);
	free(text);
	return out;
}

/*
 * The set requests of the last reconcile, canonical: per request (one
 * netlink message: at these sizes every request fits one), the device
 * attributes it sends, then its peer operations sorted by public key, each
 * with its flags and attributes and its allowed IPs sorted
 * (fake_device_text). Requests stay in the order sent, since an operation's
 * effect may depend on one before it. merged: all requests' lines sorted
 * together, for paths that may split the same operations differently (the
 * cold start sends in batches as it reads).
 */
static char *requests_text(const struct instance *in, bool merged)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = in->sets_before; i < in->k.n_sets; i++) {
		char *t = fake_device_text(in->k.sets[i], true);

		fputs(t, f);
		free(t);
	}
	fclose(f);
	return merged ? sorted_lines(text) : text;
}

/* The running config: each accepted peer by name with its key, then the rejected names. */
static char *config_text(const struct hubd *h)
{
	char *text = NULL, b64[WGNL_KEY_B64_LEN + 1];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; h->cfg && i < h->cfg->n_peers; i++) {
		const struct hubd_peer_conf *p = &h->cfg->peers[i];

		wgnl_key_to_base64(b64, p->public_key);
		fprintf(f,
			"peer %s key=%s allowedips=%zu psk=%d endpoint=%s:%u keepalive=%u "
			"expires=%lld access=%s",
			p->name, b64, p->n_allowed_ips, p->has_psk,
			p->endpoint_host ? p->endpoint_host : "none", p->endpoint_port,
			p->keepalive, (long long)p->expires_at, p->has_access ? "" : "-");
		for (size_t k = 0; k < p->n_access; k++) {
			char a[HUBD_ACCESS_STRLEN];

			hubd_access_format(&p->access[k], a, sizeof(a));
			fprintf(f, "%s%s", k ? "," : "", a);
		}
		fputc('\n', f);
	}
	for (size_t i = 0; h->cfg && i < h->cfg->n_rejected; i++)
		fprintf(f, "rejected %s\n", h->cfg->rejected[i]);
	for (size_t i = 0; h->cfg && i < h->cfg->n_expired; i++)
		fprintf(f, "expired %s\n", h->cfg->expired[i].name);
	fclose(f);
	return text;
}

/* The peer states, by key: the name each key runs under, what it resolved to. */
static char *states_text(const struct hubd *h)
{
	char *text = NULL, b64[WGNL_KEY_B64_LEN + 1];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < h->n_peers; i++) {
		const struct hubd_peer_state *s = &h->peers[i];

		wgnl_key_to_base64(b64, s->key);
		fprintf(f, "state %s name=%s endpoint=%s:%u keepalive=%d family=%d\n", b64, s->name,
			s->ep_host ? s->ep_host : "none", s->ep_port, s->keepalive,
			s->resolved.addr.sa_family);
	}
	fclose(f);
	return text;
}

/* The changes made, sorted: the paths list a request's operations in different orders. */
static char *changes_text(const struct hubd_changes *ch)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(ch->dropped, 0);
	for (size_t i = 0; i < ch->n; i++)
		fprintf(f, "%s [%s]\n", ch->items[i].text,
			ch->items[i].event ? ch->items[i].event : "-");
	fclose(f);
	return sorted_lines(text);
}

static char *diags_text(const struct hubd_diags *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	hubd_diags_print(d, f);
	fclose(f);
	return text;
}

/* The diagnostics logged once (hubd_report_diags), which the next reconcile does not log
 * again, and the count of errors logged. */
static char *reported_text(const struct hubd *h)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < h->n_reported; i++)
		fprintf(f, "%s\n", h->reported[i]);
	fprintf(f, "errors logged: %" PRIu64 "\n", h->counters.config_errors);
	fclose(f);
	return text;
}

/* One fact: a's text and b's are the same. Both are freed. */
static void same_text(const char *what, const char *where, char *a, char *b)
{
	ck_assert_msg(!strcmp(a, b), "%s: %s differ.\nfiles path / instance 1:\n%s\nfull path:\n%s",
		      where, what, a, b);
	free(a);
	free(b);
}

/*
 * Everything a reconcile leaves behind is the same on both daemons. The
 * diagnostics a reconcile returns are compared when both read everything:
 * the files path reads only the changed files, so it cannot return an
 * unchanged file's warning, and the loop drops what an inotify reconcile
 * returns anyway (loop.c on_debounce). What the daemon logged, and so will not
 * log again, is compared always.
 */
static void assert_same(const char *where, struct instance *a, struct instance *b, bool merged)
{
	bool both_full = a->h.last_path != HUBD_PATH_FILES;

	same_text("kernel set requests", where, requests_text(a, merged), requests_text(b, merged));
	same_text("kernel devices", where, fake_device_text(a->k.dev, false),
		  fake_device_text(b->k.dev, false));
	same_text("running configs", where, config_text(&a->h), config_text(&b->h));
	same_text("peer states", where, states_text(&a->h), states_text(&b->h));
	same_text("changes", where, changes_text(&a->ch), changes_text(&b->ch));
	if (both_full)
		same_text("diagnostics", where, diags_text(&a->diags), diags_text(&b->diags));
	else /* it declines on any diagnostic of the files it reads */
		ck_assert_msg(a->diags.n == 0, "%s: the files path returned diagnostics", where);
	same_text("reported diagnostics", where, reported_text(&a->h), reported_text(&b->h));
	ck_assert_msg(a->r == b->r, "%s: reconcile returned %d and %d", where, a->r, b->r);
	ck_assert_msg(a->h.converged == b->h.converged, "%s: converged differs", where);
	ck_assert_msg(a->routes && b->routes && !strcmp(a->routes, b->routes),
		      "%s: routed prefixes differ: '%s' and '%s'", where, a->routes, b->routes);
	same_text("the kernel's routes", where, normalized(a->kroutes), normalized(b->kroutes));
	/* The kernel holds exactly the accepted peers: both daemons did not miss the same one. */
	ck_assert_msg(b->k.dev->n_peers == b->h.cfg->n_peers,
		      "%s: %zu peers in the kernel, %zu run", where, b->k.dev->n_peers,
		      b->h.cfg->n_peers);
}

/* ---- the rows ---- */

#define MAX_FILES 6
#define MAX_STEPS 3

struct peer_file {
	const char *name; /* peers.d/NAME.conf */
	const char *text;
};

struct step {
	struct peer_file files[MAX_FILES]; /* all of peers.d; the first NULL name ends it */
	enum hubd_path want;		   /* the path daemon 1 must commit */
	bool sends;			   /* the step sends the kernel something */
	/* A name inotify reports too though its file did not change (saved as it was, or
	 * created and deleted again): NULL for none. */
	const char *touched;
};

struct diff_case {
	const char *name;
	bool cold; /* daemon 1 starts cold (no link yet), daemon 2 full */
	struct peer_file start[MAX_FILES];
	struct step steps[MAX_STEPS]; /* the first without files ends them */
};

#define PEER(key, aips) "[Peer]\nPublicKey = @" key "@\nAllowedIPs = " aips "\n"
#define A		PEER("K1", "10.8.0.2/32")
#define B		PEER("K2", "10.8.0.3/32")
#define C		PEER("K3", "10.8.0.4/32")
#define D		PEER("K4", "10.8.0.5/32")
#define BROKEN		PEER("K2", "10.8.0.3/32") "Bogus = 1\n"
#define FILES		HUBD_PATH_FILES
#define FULL		HUBD_PATH_FULL

/* clang-format off */
static const struct diff_case cases[] = {
    /* What the files path commits. */
    {"add a peer", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", B}, {"c", C}}, FILES, true}}},
    {"add two peers", false, {{"a", A}},
     {{{{"a", A}, {"b", B}, {"c", C}}, FILES, true}}},
    {"first peer", false, {{NULL, NULL}},
     {{{{"a", A}}, FILES, true}}},
    {"new AllowedIPs", false, {{"a", A}, {"b", B}},
     {{{{"a", PEER("K1", "10.8.0.2/32, 10.8.0.20/32, fd00::2/128")}, {"b", B}}, FILES, true}}},
    {"AllowedIPs routed beyond the interface", false, {{"a", A}, {"b", B}},
     {{{{"a", PEER("K1", "10.8.0.2/32, 192.168.10.0/24")}, {"b", B}}, FILES, true}}},
    {"routed AllowedIPs dropped", false,
     {{"a", PEER("K1", "10.8.0.2/32, 192.168.10.0/24")}, {"b", B}},
     {{{{"a", A}, {"b", B}}, FILES, true}}},
    {"new endpoint", false, {{"a", A "Endpoint = 192.0.2.1:51820\n"}},
     {{{{"a", A "Endpoint = 192.0.2.2:51821\n"}}, FILES, true}}},
    {"endpoint added", false, {{"a", A}, {"b", B}},
     {{{{"a", A "Endpoint = 192.0.2.1:51820\n"}, {"b", B}}, FILES, true}}},
    {"IPv6 endpoint", false, {{"a", A "Endpoint = 192.0.2.1:51820\n"}},
     {{{{"a", A "Endpoint = [2001:db8::1]:51820\n"}}, FILES, true}}},
    {"endpoint dropped", false, {{"a", A "Endpoint = 192.0.2.1:51820\n"}},
     {{{{"a", A}}, FILES, false}}},
    {"new PSK", false, {{"a", A}, {"b", B}},
     {{{{"a", A "PresharedKeyFile = @P1@\n"}, {"b", B}}, FILES, true}}},
    {"PSK changed", false, {{"a", A "PresharedKeyFile = @P1@\n"}},
     {{{{"a", A "PresharedKeyFile = @P2@\n"}}, FILES, true}}},
    {"PSK dropped", false, {{"a", A "PresharedKeyFile = @P1@\n"}},
     {{{{"a", A}}, FILES, true}}},
    {"keepalive set", false, {{"a", A}},
     {{{{"a", A "PersistentKeepalive = 25\n"}}, FILES, true}}},
    {"keepalive off", false, {{"a", A "PersistentKeepalive = 25\n"}},
     {{{{"a", A "PersistentKeepalive = off\n"}}, FILES, true}}},
    {"removal", false, {{"a", A}, {"b", B}},
     {{{{"a", A}}, FILES, true}}},
    {"last peer removed", false, {{"a", A}},
     {{{{NULL, NULL}}, FILES, true}}},
    {"rename", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"c", B}}, FILES, false}}},
    {"rename with new AllowedIPs", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"c", PEER("K2", "10.8.0.30/32")}}, FILES, true}}},
    {"two peers swap names", false, {{"a", A}, {"b", B}},
     {{{{"a", B}, {"b", A}}, FILES, false}}},
    {"two peers swap AllowedIPs", false, {{"a", A}, {"b", B}},
     {{{{"a", PEER("K1", "10.8.0.3/32")}, {"b", PEER("K2", "10.8.0.2/32")}}, FILES, true}}},
    {"a freed AllowedIP taken by a new peer", false, {{"a", A}, {"b", B}},
     {{{{"a", PEER("K1", "10.8.0.20/32")}, {"b", B}, {"c", PEER("K3", "10.8.0.2/32")}},
       FILES, true}}},
    {"new key under the same name", false, {{"a", A}, {"b", B}},
     {{{{"a", PEER("K4", "10.8.0.2/32")}, {"b", B}}, FILES, true}}},
    {"add, edit and remove at once", false, {{"a", A}, {"b", B}, {"c", C}},
     {{{{"a", A "PersistentKeepalive = 15\n"}, {"c", C}, {"d", D}}, FILES, true}}},
    {"a file saved unchanged", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", B}}, FILES, false, "a"}}},
    {"a file created and deleted again", false, {{"a", A}},
     {{{{"a", A}}, FILES, false, "ghost"}}},
    {"names that sort differently as files", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", B}, {"a-b", C}, {"a.b", D}, {"B", PEER("K5", "10.8.0.6/32")}},
       FILES, true},
      {{{"b", B}, {"a-b", C "PersistentKeepalive = 9\n"}, {"a.b", D},
        {"B", PEER("K5", "10.8.0.6/32")}}, FILES, true}}},
    {"several steps", false, {{"a", A}},
     {{{{"a", A}, {"b", B}}, FILES, true},
      {{{"a", A}, {"b", B "Endpoint = 192.0.2.9:1\n"}}, FILES, true},
      {{{"b", B}}, FILES, true}}},

    /* Access and ExpiresAt: the files path keeps both, and expired peers aside. */
    {"Access added", false, {{"a", A}, {"b", B}},
     {{{{"a", A "Access = 192.168.1.100 tcp/3000\n"}, {"b", B}}, FILES, false}}},
    {"Access narrowed, then dropped", false, {{"a", A "Access = 192.168.1.0/24, fd00::/64\n"}},
     {{{{"a", A "Access = 192.168.1.100 tcp/3000\n"}}, FILES, false},
      {{{"a", A}}, FILES, false}}},
    {"a date moved ahead", false, {{"a", A "ExpiresAt = 2999-01-01\n"}, {"b", B}},
     {{{{"a", A "ExpiresAt = 3000-01-01\n"}, {"b", B}}, FILES, false}}},
    {"a peer expires", false, {{"a", A "ExpiresAt = 2999-01-01\n"}, {"b", B}},
     {{{{"a", A "ExpiresAt = 2020-01-01\n"}, {"b", B}}, FILES, true}}},
    {"an expired file, its address taken, then its date moved", false,
     {{"a", A "ExpiresAt = 2020-01-01\n"}, {"b", B}},
     {{{{"a", A "ExpiresAt = 2020-01-01\n"}, {"b", B}, {"c", PEER("K3", "10.8.0.2/32")}},
       FILES, true},
      {{{"a", A "ExpiresAt = 2999-01-01\n"}, {"b", B}, {"c", PEER("K3", "10.8.0.2/32")}},
       FULL, false}}},
    {"an expired file comes back", false, {{"a", A "ExpiresAt = 2020-01-01\n"}, {"b", B}},
     {{{{"a", A "ExpiresAt = 2999-01-01\n"}, {"b", B}}, FILES, true}}},
    {"cold start with an expired file", true, {{"a", A "ExpiresAt = 2020-01-01\n"}, {"b", B}},
     {{{{"a", A}, {"b", B}}, FILES, true}}},

    /* What the files path must leave to the full one. */
    {"syntax error in a new file", false, {{"a", A}},
     {{{{"a", A}, {"b", BROKEN}, {"c", C}}, FULL, true}}},
    {"syntax error in an edited file", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", BROKEN}, {"c", C}}, FULL, true}}},
    {"a file name that is no peer name", false, {{"a", A}},
     {{{{"a", A}, {"b c", B}, {"d", D}}, FULL, true}}},
    {"warning in a file", false, {{"a", A}},
     {{{{"a", A}, {"b", PEER("K2", "192.168.7.5/24")}}, FULL, true}}},
    {"key clash with a running peer", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", B}, {"c", PEER("K1", "10.8.0.4/32")}, {"d", D}}, FULL, true}}},
    {"edit takes a running peer's key", false, {{"a", A}, {"b", B}},
     {{{{"a", PEER("K2", "10.8.0.2/32")}, {"b", B}}, FULL, false}}},
    {"AllowedIPs overlap a running peer's", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", B}, {"c", PEER("K3", "10.8.0.0/30")}, {"d", D}}, FULL, true}}},
    {"AllowedIP of a running peer", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", B}, {"c", PEER("K3", "10.8.0.2/32")}, {"d", D}}, FULL, true}}},
    {"the hub's own key", false, {{"a", A}},
     {{{{"a", A}, {"c", PEER("KH", "10.8.0.4/32")}, {"d", D}}, FULL, true}}},
    {"two changed files with one key", false, {{"a", A}},
     {{{{"a", A}, {"c", C}, {"d", PEER("K3", "10.8.0.5/32")}}, FULL, true}}},
    {"two changed files with overlapping AllowedIPs", false, {{"a", A}},
     {{{{"a", A}, {"c", C}, {"d", PEER("K4", "10.8.0.4/31")}}, FULL, true}}},
    {"an edit clashing with a new file", false, {{"a", A}, {"b", B}},
     {{{{"a", PEER("K1", "10.8.0.2/32, 10.8.0.40/32")}, {"b", B},
        {"c", PEER("K3", "10.8.0.40/32")}}, FULL, true}}},
    /* The index of running prefixes follows each commit of the files path (peer-index.c). */
    {"a new peer, then a wider file over its prefix", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", B}, {"c", C}}, FILES, true},
      {{{"a", A}, {"b", B}, {"c", C}, {"d", PEER("K4", "10.8.0.4/30")}}, FULL, false}}},
    {"an edit's new prefix, then a narrower file inside it", false, {{"a", A}, {"b", B}},
     {{{{"a", PEER("K1", "10.8.0.2/32, 10.9.0.0/16")}, {"b", B}}, FILES, true},
      {{{"a", PEER("K1", "10.8.0.2/32, 10.9.0.0/16")}, {"b", B},
        {"c", PEER("K3", "10.9.1.1/32")}, {"d", D}}, FULL, true}}},
    {"a prefix moved out, then taken by a new file", false,
     {{"a", PEER("K1", "10.8.0.2/32, 10.8.0.40/32")}, {"b", B}},
     {{{{"a", A}, {"b", B}}, FILES, true},
      {{{"a", A}, {"b", B}, {"c", PEER("K3", "10.8.0.40/32")}}, FILES, true}}},
    {"a peer removed, then its key and address taken", false, {{"a", A}, {"b", B}},
     {{{{"a", A}}, FILES, true},
      {{{"a", A}, {"c", B}}, FILES, true},
      {{{"a", A}, {"c", B}, {"d", PEER("K4", "10.8.0.3/32")}}, FULL, false}}},
    {"IPv6: a file inside a running /64", false,
     {{"a", PEER("K1", "10.8.0.2/32, fd00:1::/64")}, {"b", B}},
     {{{{"a", PEER("K1", "10.8.0.2/32, fd00:1::/64")}, {"b", B},
        {"c", PEER("K3", "fd00:1::5/128")}, {"d", D}}, FULL, true}}},
    {"a warning, then other edits, then its fix", false, {{"a", A}, {"b", B}},
     {{{{"a", A}, {"b", B}, {"c", PEER("K3", "192.168.7.5/24")}}, FULL, true},
      {{{"a", A "PersistentKeepalive = 5\n"}, {"b", B}, {"c", PEER("K3", "192.168.7.5/24")}},
       FILES, true},
      {{{"a", A "PersistentKeepalive = 5\n"}, {"b", B}, {"c", PEER("K3", "192.168.7.0/24")}},
       FILES, false}}},
    {"the fix of a rejected file, then an edit", false, {{"a", A}},
     {{{{"a", A}, {"b", BROKEN}}, FULL, false},
      {{{"a", A}, {"b", B}}, FULL, true},
      {{{"a", A "PersistentKeepalive = 5\n"}, {"b", B}}, FILES, true}}},

    /* A cold start ends where the full reconcile does, and the files path goes on from it. */
    {"cold start, then an edit", true, {{"a", A}, {"b", B}, {"c", C}},
     {{{{"a", A "Endpoint = 192.0.2.1:51820\n"}, {"b", B}, {"c", C}}, FILES, true}}},
    {"cold start with rejected files", true,
     {{"a", A}, {"b", BROKEN}, {"c", PEER("K1", "10.8.0.4/32")}, {"d", D}},
     {{{{"a", A}, {"b", B}, {"c", C}, {"d", D}}, FULL, true}}},
};
/* clang-format on */

static size_t n_files(const struct peer_file *v)
{
	size_t n = 0;

	while (n < MAX_FILES && v[n].name)
		n++;
	return n;
}

static const char *text_of(const struct peer_file *v, const char *name)
{
	for (size_t i = 0; i < n_files(v); i++)
		if (!strcmp(v[i].name, name))
			return v[i].text;
	return NULL;
}

/*
 * Make peers.d hold files instead of prev; *ret gets the names of the files
 * that changed (NAME.conf, as inotify names them), ret_n their count.
 */
static void change_files(const char *dir, const struct peer_file *prev,
			 const struct peer_file *files, const char *touched, char ***ret,
			 size_t *ret_n)
{
	char **names = calloc(2 * MAX_FILES + 1, sizeof(*names)), rel[128];
	size_t n = 0;

	ck_assert_ptr_nonnull(names);
	for (size_t i = 0; i < n_files(prev); i++) {
		if (text_of(files, prev[i].name))
			continue;
		snprintf(rel, sizeof(rel), "%s/peers.d/%s.conf", dir, prev[i].name);
		ck_assert_int_eq(unlink(rel), 0);
		ck_assert_int_ge(asprintf(&names[n++], "%s.conf", prev[i].name), 0);
	}
	for (size_t i = 0; i < n_files(files); i++) {
		const char *was = text_of(prev, files[i].name);

		if (was && !strcmp(was, files[i].text))
			continue;
		snprintf(rel, sizeof(rel), "peers.d/%s.conf", files[i].name);
		write_file(dir, rel, files[i].text, 0644);
		ck_assert_int_ge(asprintf(&names[n++], "%s.conf", files[i].name), 0);
	}
	if (touched) {
		const char *now = text_of(files, touched), *was = text_of(prev, touched);

		/* the row means a file that did not change */
		ck_assert(!now == !was && (!now || !strcmp(now, was)));
		ck_assert_int_ge(asprintf(&names[n++], "%s.conf", touched), 0);
	}
	*ret = names;
	*ret_n = n;
}

static void assert_path(const char *where, const struct instance *in, enum hubd_path want)
{
	ck_assert_msg(in->h.last_path == (int)want, "%s: the %s path committed, not the %s path",
		      where, in->h.last_path < 0 ? "no" : hubd_path_name(in->h.last_path),
		      hubd_path_name(want));
}

/* Both daemons read the start files; daemon 1 cold when the row says so. */
static void start(const struct diff_case *c, const char *dir, struct instance *one,
		  struct instance *two)
{
	const struct hubd_reconcile_request req = {.triggers = RECONCILE_CONFIG};
	char where[256], **names;
	size_t n;

	change_files(dir, (const struct peer_file[MAX_FILES]){{NULL, NULL}}, c->start, NULL, &names,
		     &n);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	reconcile(one, &req);
	reconcile(two, &req);
	snprintf(where, sizeof(where), "%s, start", c->name);
	assert_path(where, one, c->cold ? HUBD_PATH_COLD : HUBD_PATH_FULL);
	assert_path(where, two, HUBD_PATH_FULL);
	ck_assert_msg(one->links_up == (c->cold ? 1u : 0u), "%s: link up %u times", where,
		      one->links_up);
	assert_same(where, one, two, c->cold);
}

START_TEST(test_differential)
{
	const struct diff_case *c = &cases[_i];
	char dir[64];
	struct instance *one, *two;
	const struct peer_file *prev = c->start;

	setup_dir(dir, sizeof(dir));
	one = instance_new(dir, !c->cold);
	two = instance_new(dir, true);
	start(c, dir, one, two);
	for (size_t s = 0; s < MAX_STEPS && c->steps[s].want; s++) {
		const struct step *st = &c->steps[s];
		struct hubd_reconcile_request files = {.triggers = RECONCILE_FILES};
		const struct hubd_reconcile_request all = {.triggers = RECONCILE_CONFIG};
		char where[256], **names;
		size_t n;

		snprintf(where, sizeof(where), "%s, step %zu", c->name, s + 1);
		change_files(dir, prev, st->files, st->touched, &names, &n);
		files.files = names;
		files.n_files = n;
		reconcile(one, &files);
		reconcile(two, &all);
		assert_path(where, one, st->want);
		assert_path(where, two, HUBD_PATH_FULL);
		ck_assert_msg((two->k.n_sets > two->sets_before) == st->sends,
			      "%s: %zu set requests", where, two->k.n_sets - two->sets_before);
		assert_same(where, one, two, false);
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		prev = st->files;
	}
	ck_assert_uint_eq(one->links_created, c->cold ? 1 : 0);
	instance_free(one);
	instance_free(two);
	remove_dir(dir);
}
END_TEST

/*
 * With the Access sets in the table, one peer's Access change is that peer's
 * elements alone, sent as a delta: no table sync, no WireGuard message, and
 * the other peers' policies untouched.
 */
START_TEST(test_access_delta)
{
	const struct hubd_reconcile_request all = {.triggers = RECONCILE_CONFIG};
	char dir[64], *names[] = {"b.conf"};
	struct hubd_reconcile_request files = {
	    .triggers = RECONCILE_FILES, .files = names, .n_files = 1};
	struct instance *in;

	setup_dir(dir, sizeof(dir));
	write_file(dir, "peers.d/a.conf", A "Access = 192.168.1.0/24\n", 0644);
	write_file(dir, "peers.d/b.conf", B "Access = 192.168.1.100 tcp/3000, 192.168.1.7\n", 0644);
	write_file(dir, "peers.d/c.conf", C "Access = none\n", 0644);
	in = instance_new(dir, true);
	reconcile(in, &all);
	ck_assert_int_ge(in->r, 0);
	in->policy_on = true;
	write_file(dir, "peers.d/b.conf", B "Access = 192.168.1.100 tcp/3000\n", 0644);
	reconcile(in, &files);
	ck_assert_int_ge(in->r, 0);
	assert_path("narrowed", in, HUBD_PATH_FILES);
	ck_assert_uint_eq(in->net_parts, 0);
	ck_assert_uint_eq(in->k.n_sets, in->sets_before);
	ck_assert_ptr_nonnull(in->policy_delta);
	ck_assert_str_eq(in->policy_delta,
			 "-access4 10.8.0.3/32 . 192.168.1.7 . 0-255 . 0-65535\n");
	/* the peer goes: its elements go with it, and only its */
	ck_assert_int_eq(unlink(strcat(strcpy((char[128]){0}, dir), "/peers.d/b.conf")), 0);
	reconcile(in, &files);
	assert_path("removed", in, HUBD_PATH_FILES);
	ck_assert_uint_eq(in->net_parts, 0);
	ck_assert_str_eq(in->policy_delta, "-access4 10.8.0.3/32 . 192.168.1.100 . 6 . 3000\n"
					   "-limited4 10.8.0.3/32 . \"wg0\"\n");
	instance_free(in);
	remove_dir(dir);
}
END_TEST

/*
 * A routed prefix dropped in: its route, and the nftables table only when the
 * table names routed prefixes (Forward = isolate's lan sets). Rendering the
 * table is a pass over every peer, which a one-peer change must not pay for
 * nothing.
 */
START_TEST(test_routed_drop_syncs_table_for_isolate_only)
{
	const struct hubd_reconcile_request all = {.triggers = RECONCILE_CONFIG};
	char dir[64], *names[] = {"c.conf"}, conf[512];
	struct hubd_reconcile_request files = {
	    .triggers = RECONCILE_FILES, .files = names, .n_files = 1};
	bool isolate = _i == 1;
	struct instance *in;
	char *kroutes;

	setup_dir(dir, sizeof(dir));
	snprintf(conf, sizeof(conf),
		 "[Interface]\nAddress = 10.8.0.1/24\nListenPort = 51820\n"
		 "PrivateKeyFile = %s/private.key\nForward = %s\n",
		 dir, isolate ? "isolate" : "hub");
	write_file(dir, "hubd.conf", conf, 0644);
	write_file(dir, "peers.d/a.conf", A, 0644);
	in = instance_new(dir, true);
	reconcile(in, &all);
	ck_assert_int_ge(in->r, 0);
	write_file(dir, "peers.d/c.conf", PEER("K3", "10.8.0.4/32, 192.168.20.0/24"), 0644);
	reconcile(in, &files);
	ck_assert_int_ge(in->r, 0);
	assert_path("routed drop", in, HUBD_PATH_FILES);
	kroutes = normalized(in->kroutes);
	ck_assert_str_eq(kroutes, "192.168.20.0/24 ");
	free(kroutes);
	ck_assert_uint_eq(!!(in->net_parts & HUBD_NET_NFT), isolate);
	ck_assert_str_eq(in->routes, isolate ? "192.168.20.0/24 " : "");
	instance_free(in);
	remove_dir(dir);
}
END_TEST

/* ---- a restart: the kernel is the record of who holds what ---- */

/* The AllowedIPs the fake kernel gives the peer with key @Kn@ (n = 1..5), "" if none. */
static char *kernel_aips(const struct instance *in, int n)
{
	wgnl_key k;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(wgnl_key_from_base64(k, keys[n - 1]), 0);
	for (size_t i = 0; i < in->k.dev->n_peers; i++) {
		const struct wgnl_peer *p = &in->k.dev->peers[i];

		if (memcmp(p->public_key, k, WGNL_KEY_LEN))
			continue;
		for (size_t j = 0; j < p->n_allowedips; j++) {
			char a[INET6_ADDRSTRLEN];

			inet_ntop(p->allowedips[j].family, &p->allowedips[j].ip6, a, sizeof(a));
			fprintf(f, "%s%s/%u", j ? " " : "", a, p->allowedips[j].cidr);
		}
	}
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

/* hubd stops (the kernel keeps its state) and starts again on the same kernel. */
static void restart(struct instance *in, const char *dir)
{
	hubd_done(&in->h);
	in->h.config_dir = dir;
	in->h.last_path = -1;
	in->k.seq = 0; /* a new socket counts from the clock again: maybe the old one's numbers */
	fake_kernel_connect(&in->k);
	ck_assert_int_eq(wgnl_open(&in->h.wg), 0);
}

static const struct {
	const char *name;
	bool restart; /* the newcomer is written while hubd is stopped, not on a first start */
	const char *phone, *aaa; /* K2's and K1's AllowedIPs in the kernel at the end */
	const char *rejected;
} restarts[] = {
    /* On a first start there is no record: name order decides, aaa sorts first. */
    {"first start: name order", false, "", "10.8.0.2/32", "phone"},
    /* After a restart the kernel says the phone holds 10.8.0.2: the newcomer loses. */
    {"restart: the running peer keeps its address", true, "10.8.0.2/32", "", "aaa"},
};

START_TEST(test_restart_keeps_holder)
{
	const struct hubd_reconcile_request all = {.triggers = RECONCILE_CONFIG};
	char dir[64], *phone, *aaa;
	struct instance *in;

	setup_dir(dir, sizeof(dir));
	in = instance_new(dir, false);
	write_file(dir, "peers.d/phone.conf",
		   "[Peer]\nPublicKey = @K2@\nAllowedIPs = 10.8.0.2/32\n", 0644);
	if (restarts[_i].restart) {
		reconcile(in, &all);
		ck_assert_int_ge(in->r, 0);
		restart(in, dir);
	}
	write_file(dir, "peers.d/aaa.conf", "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n",
		   0644);
	reconcile(in, &all);
	phone = kernel_aips(in, 2);
	aaa = kernel_aips(in, 1);
	ck_assert_msg(!strcmp(phone, restarts[_i].phone), "%s: the phone holds '%s'",
		      restarts[_i].name, phone);
	ck_assert_msg(!strcmp(aaa, restarts[_i].aaa), "%s: the newcomer holds '%s'",
		      restarts[_i].name, aaa);
	ck_assert_uint_eq(in->h.cfg->n_rejected, 1);
	ck_assert_str_eq(in->h.cfg->rejected[0], restarts[_i].rejected);
	free(phone);
	free(aaa);
	instance_free(in);
	remove_dir(dir);
}
END_TEST

/* ---- a reboot: the link is new, the state record says who held what ---- */

/* hubd stops, the machine reboots: the kernel has no link and no peers. The record is what the
 * loop wrote after the last change (hubd_record_write). */
static void reboot(struct instance *in, const char *dir)
{
	const char *state = in->h.state_dir; /* hubd_done forgets it */

	ck_assert(in->h.record_dirty);
	hubd_record_write(&in->h);
	ck_assert(!in->h.record_dirty || !state);
	restart(in, dir);
	in->h.state_dir = state;
	wgnl_device_free(in->k.dev);
	in->k.dev = wgnl_device_new("wg0");
	ck_assert_ptr_nonnull(in->k.dev);
	in->link_exists = false;
}

static const struct {
	const char *name;
	bool record;	 /* hubd keeps a state record */
	bool keep_phone; /* the phone's file is still there after the reboot */
	const char *phone, *aaa, *rejected;
} reboots[] = {
    {"no record: name order", false, true, "", "10.8.0.2/32", "phone"},
    {"the record keeps the phone's address", true, true, "10.8.0.2/32", "", "aaa"},
    /* The record names no file: a holder whose file went is no incumbent. */
    {"the holder's file went while down", true, false, "", "10.8.0.2/32", NULL},
};

START_TEST(test_reboot_keeps_holder)
{
	const struct hubd_reconcile_request all = {.triggers = RECONCILE_CONFIG};
	char dir[64], state[128], *phone, *aaa;
	struct instance *in;

	setup_dir(dir, sizeof(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	in = instance_new(dir, false);
	in->h.state_dir = reboots[_i].record ? state : NULL;
	write_file(dir, "peers.d/phone.conf",
		   "[Peer]\nPublicKey = @K2@\nAllowedIPs = 10.8.0.2/32\n", 0644);
	reconcile(in, &all);
	ck_assert_int_ge(in->r, 0);
	reboot(in, dir);
	ck_assert_int_eq(access(state, F_OK) == 0, reboots[_i].record);
	if (!reboots[_i].keep_phone) {
		snprintf(state, sizeof(state), "%s/peers.d/phone.conf", dir);
		ck_assert_int_eq(unlink(state), 0);
	}
	write_file(dir, "peers.d/aaa.conf", "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n",
		   0644);
	reconcile(in, &all);
	ck_assert_int_ge(in->r, 0);
	ck_assert_int_eq(in->h.last_path, HUBD_PATH_COLD);
	phone = kernel_aips(in, 2);
	aaa = kernel_aips(in, 1);
	ck_assert_msg(!strcmp(phone, reboots[_i].phone), "%s: the phone holds '%s'",
		      reboots[_i].name, phone);
	ck_assert_msg(!strcmp(aaa, reboots[_i].aaa), "%s: the newcomer holds '%s'",
		      reboots[_i].name, aaa);
	ck_assert_uint_eq(in->h.cfg->n_rejected, reboots[_i].rejected ? 1 : 0);
	if (reboots[_i].rejected)
		ck_assert_str_eq(in->h.cfg->rejected[0], reboots[_i].rejected);
	free(phone);
	free(aaa);
	instance_free(in);
	remove_dir(dir);
}
END_TEST

/*
 * The cold start streams what it has judged. Here aaa's claim is contested
 * by the record (the phone held 10.8.0.2), so it waits for the last
 * judgement, and bbb, which overlaps only aaa, goes out in the first batch.
 * But the phone's file went while the hub was down: aaa wins at last, and bbb,
 * already sent, loses to it. The full reconcile that follows at once takes
 * bbb out of the kernel and puts aaa in, as if the start had been full.
 */
START_TEST(test_reboot_overturned)
{
	const struct hubd_reconcile_request all = {.triggers = RECONCILE_CONFIG};
	char dir[64], state[128], name[128], *a, *b;
	struct instance *in;

	setup_dir(dir, sizeof(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	in = instance_new(dir, false);
	in->h.state_dir = state;
	write_file(dir, "peers.d/phone.conf",
		   "[Peer]\nPublicKey = @K2@\nAllowedIPs = 10.8.0.2/32\n", 0644);
	reconcile(in, &all);
	reboot(in, dir);
	snprintf(name, sizeof(name), "%s/peers.d/phone.conf", dir);
	ck_assert_int_eq(unlink(name), 0);
	write_file(dir, "peers.d/aaa.conf",
		   "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32, 10.8.0.9/32\n", 0644);
	write_file(dir, "peers.d/bbb.conf", "[Peer]\nPublicKey = @K3@\nAllowedIPs = 10.8.0.9/32\n",
		   0644);
	/* Enough files after them that the first judgement is not the last (FIRST_BATCH). */
	for (int i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "peers.d/c%02d.conf", i);
		write_file(dir, name, "[Peer]\nBogus = 1\n", 0644);
	}
	reconcile(in, &all);
	ck_assert_int_ge(in->r, 0);
	ck_assert_uint_eq(in->h.paths[HUBD_PATH_COLD].count, 1);
	ck_assert_uint_eq(in->h.paths[HUBD_PATH_FULL].count, 1);
	ck_assert(!in->h.recheck);
	a = kernel_aips(in, 1);
	b = kernel_aips(in, 3);
	ck_assert_str_eq(a, "10.8.0.2/32 10.8.0.9/32");
	ck_assert_str_eq(b, "");
	ck_assert_ptr_null(hubd_config_peer_by_name(in->h.cfg, "bbb"));
	ck_assert(strv_contains(in->h.cfg->rejected, in->h.cfg->n_rejected, "bbb"));
	free(a);
	free(b);
	instance_free(in);
	remove_dir(dir);
}
END_TEST

static Suite *reconcile_suite(void)
{
	Suite *s = suite_create("reconcile");
	TCase *tc = tcase_create("differential");
	TCase *tr = tcase_create("restart");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, make_keys, NULL);
	tcase_add_loop_test(tc, test_differential, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_access_delta);
	tcase_add_loop_test(tc, test_routed_drop_syncs_table_for_isolate_only, 0, 2);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tr, make_keys, NULL);
	tcase_add_loop_test(tr, test_restart_keeps_holder, 0,
			    sizeof(restarts) / sizeof(restarts[0]));
	tcase_add_loop_test(tr, test_reboot_keeps_holder, 0, sizeof(reboots) / sizeof(reboots[0]));
	tcase_add_test(tr, test_reboot_overturned);
	suite_add_tcase(s, tr);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Key files must be root's (config-load.c refuses others): without root, skip. */
	if (geteuid() != 0) {
		fprintf(stderr, "test-reconcile: needs root for root-owned key files, skipped\n");
		return 77;
	}
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(reconcile_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
