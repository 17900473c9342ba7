/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl peer add|remove|list: manage peers.d/ directly, so onboarding works
 * whether or not the daemon runs; a running hubd sees the new file through
 * inotify. The client's private key exists only in this process, on stdout
 * (or --output / --qr png files the user names) and is wiped before exit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "addr-alloc.h"
#include "config.h"
#include "hubctl-internal.h"
#include "macro.h"
#include "qr.h"
#include "render.h"

#define PEER_FILE_MAX HUBD_CONFIG_MAX_FILE_SIZE
/* What hubd_prefix_parse takes, for messages: the same as AllowedIPs in a peer file. */
#define PREFIX_SYNTAX                                                                              \
	"write ADDRESS or ADDRESS/LENGTH, LENGTH at most 32 (128 for IPv6) without leading zeros"

static const char add_usage[] =
    "peer add NAME [--address IP] [--allowed-ips LIST] [--dns IP] [--endpoint HOST:PORT]\n"
    "                 [--qr ansi|png FILE|none] [--output FILE]\n"
    "                 [--access LIST|none] [--expires DURATION|DATE]\n"
    "       hubctl peer add NAME --lan PREFIX[,PREFIX...] [--format wg-quick|hubd]\n"
    "                 [--output FILE|DIR] [--address IP] [--endpoint HOST:PORT]\n"
    "                 [--access LIST|none] [--expires DURATION|DATE]";

static int check_name(const char *name)
{
	if (hubd_is_valid_peer_name(name))
		return 0;
	fprintf(
	    stderr,
	    "hubctl: invalid peer name '%s': use 1 to %d letters, digits, '-', '_', '.' or '@', "
	    "not starting with '.'\n",
	    name, HUBD_PEER_NAME_MAX);
	return -EINVAL;
}

static char *peers_path(const struct hubctl_opts *o, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/peers.d%s%s%s", o->config_dir, name ? "/" : "", name ? name : "",
		     name ? ".conf" : "") < 0)
		return NULL;
	return p;
}

static int read_text(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = malloc(PEER_FILE_MAX + 1);
	FILE *f;
	size_t n;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, PEER_FILE_MAX + 1, f);
	if (ferror(f))
		r = -EIO;
	else if (n > PEER_FILE_MAX)
		r = -EFBIG;
	fclose(f);
	if (r < 0)
		return r;
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = n;
	return 0;
}

/* Parse one peers.d file on its own, whether or not the daemon would accept it. */
static int load_peer_file(const struct hubctl_opts *o, const char *name, struct hubd_peer_conf *ret,
			  struct hubd_diags *diags)
{
	_cleanup_free_ char *path = peers_path(o, name), *text = NULL;
	size_t len = 0;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_text(path, &text, &len);
	if (r < 0)
		hubd_diag_add(diags, path, 0, false, "%s", strerror(-r));
	else
		r = hubd_parse_peer(path, name, text, len, ret, diags);
	return r;
}

/* ---- peer list ---- */

static int peer_filter(const struct dirent *d)
{
	return hubd_is_peer_filename(d->d_name);
}

/* Access and ExpiresAt in peer list --json, as status has them: absent when not set. */
static void list_policy_json(const struct hubd_peer_conf *p, bool expired, struct json_object *e)
{
	char t[HUBD_ACCESS_STRLEN > HUBD_EXPIRY_STRLEN ? HUBD_ACCESS_STRLEN : HUBD_EXPIRY_STRLEN];

	if (p->has_access) {
		struct json_object *acc = json_object_new_array();

		for (size_t i = 0; i < p->n_access; i++) {
			hubd_access_format(&p->access[i], t, sizeof(t));
			json_object_array_add(acc, json_object_new_string(t));
		}
		json_object_object_add(e, "access", acc);
	}
	if (p->expires_at) {
		hubd_expiry_format(p->expires_at, t, sizeof(t));
		json_object_object_add(e, "expires_at", json_object_new_string(t));
	}
	json_object_object_add(e, "expired", json_object_new_boolean(expired));
}

static void list_one(const struct hubctl_opts *o, const char *name, struct json_object *arr)
{
	struct hubd_peer_conf p = {0};
	struct hubd_diags diags = {0};
	struct json_object *ips = json_object_new_array();
	char s[HUBD_PREFIX_STRLEN], t[HUBD_EXPIRY_STRLEN];
	int r = load_peer_file(o, name, &p, &diags);
	/* Judged by the clock hubd judges by: what the daemon does with the file now. */
	bool expired = r >= 0 && hubd_peer_expired(&p, hubd_clock_now());

	if (!o->json)
		printf("%-20s ", name);
	for (size_t i = 0; r >= 0 && i < p.n_allowed_ips; i++) {
		hubd_prefix_format(&p.allowed_ips[i], s, sizeof(s));
		if (!o->json)
			printf("%s%s", i ? ", " : "", s);
		json_object_array_add(ips, json_object_new_string(s));
	}
	if (!o->json && expired) {
		hubd_expiry_format(p.expires_at, t, sizeof(t));
		printf("  (expired since %s)\n", t);
	} else if (!o->json) {
		puts(r < 0 ? "(invalid: see hubctl check)" : "");
	}
	if (o->json) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "name", json_object_new_string(name));
		json_object_object_add(e, "allowed_ips", ips);
		json_object_object_add(e, "valid", json_object_new_boolean(r >= 0));
		if (r >= 0)
			list_policy_json(&p, expired, e);
		json_object_array_add(arr, e);
	} else {
		json_object_put(ips);
	}
	hubd_peer_conf_clear(&p);
	hubd_diags_free(&diags);
}

static int peer_list(const struct hubctl_opts *o, int argc, char **argv)
{
	struct dirent **ents = NULL;
	struct json_object *arr = json_object_new_array();
	_cleanup_free_ char *dir = peers_path(o, NULL);
	int n;

	if (hubctl_extra_args(argc, argv, "peer list") || !dir || !arr) {
		json_object_put(arr);
		return HUBCTL_EXIT_ERROR;
	}
	n = scandir(dir, &ents, peer_filter, alphasort);
	if (n < 0 && errno != ENOENT) {
		fprintf(stderr, "hubctl: %s: %s\n", dir, strerror(errno));
		json_object_put(arr);
		return HUBCTL_EXIT_ERROR;
	}
	if (!o->json && n > 0)
		printf("%-20s %s\n", "NAME", "ALLOWED IPS");
	for (int i = 0; i < n; i++) {
		char *name = strndup(ents[i]->d_name, strlen(ents[i]->d_name) - strlen(".conf"));

		if (name)
			list_one(o, name, arr);
		free(name);
		free(ents[i]);
	}
	free(ents);
	if (o->json)
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_SPACED |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return HUBCTL_EXIT_OK;
}

/* ---- peer remove ---- */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int peer_remove(const struct hubctl_opts *o, int argc, char **argv)
{
	char *path, *dir;
	int r = HUBCTL_EXIT_OK;

	if (argc != 2) {
		fputs("usage: hubctl peer remove NAME\n", stderr);
		return HUBCTL_EXIT_ERROR;
	}
	if (check_name(argv[1]) < 0)
		return HUBCTL_EXIT_ERROR;
	path = peers_path(o, argv[1]);
	dir = peers_path(o, NULL);
	if (!path || !dir) {
		r = HUBCTL_EXIT_ERROR;
	} else if (unlink(path) < 0) {
		if (errno == ENOENT)
			fprintf(stderr, "hubctl: no peer named '%s' (%s)\n", argv[1], path);
		else
			fprintf(stderr, "hubctl: %s: %s\n", path, strerror(errno));
		r = HUBCTL_EXIT_ERROR;
	} else {
		fsync_dir(dir); /* the removal is done either way; this only makes it durable */
		fprintf(stderr, "hubctl: removed peer '%s'\n", argv[1]);
	}
	free(path);
	free(dir);
	return r;
}

/* ---- peer add ---- */

struct add_args {
	const char *name, *address, *allowed_ips, *dns, *endpoint, *qr, *qr_file, *output;
	const char *lan, *format; /* a site gateway: its LANs, and what its side is written as */
	const char *access, *expires; /* the peer file's Access and ExpiresAt */
	bool hubd_dir;		      /* --format hubd: --output is a config directory for hubd */
};

/* Addresses already taken, with who holds each (NULL: the hub itself). */
struct used_list {
	struct hubd_prefix *p;
	char **owner;
	size_t n;
};

struct add_state {
	struct hubd_config *cfg;
	struct hubd_diags diags;
	struct used_list used;
	struct hubd_prefix addrs[2]; /* at most one IPv4 and one IPv6 address */
	size_t n_addrs;
	struct hubd_prefix *allowed;
	size_t n_allowed;
	struct hubd_prefix *lans; /* --lan: routed to this peer, masqueraded on its side */
	size_t n_lans;
	char *site_conf,
	    *site_hub_peer; /* --format hubd: the gateway's hubd.conf, peers.d/hub.conf */
	char *dns;
	const char *endpoint;
	wgnl_key priv, pub;
	char priv_b64[WGNL_KEY_B64_LEN + 1], pub_b64[WGNL_KEY_B64_LEN + 1];
	char hub_pub_b64[WGNL_KEY_B64_LEN + 1];
	char *client; /* the rendered client config: secret */
	char *peer_file;
	char *access;	    /* --access, normalized: the Access line's value; NULL: none given */
	int64_t expires_at; /* --expires: Unix time; 0: none given */
};

static void add_state_free(struct add_state *s)
{
	wgnl_key_wipe(s->priv);
	sodium_memzero(s->priv_b64, sizeof(s->priv_b64));
	hubctl_secret_free(s->client);
	for (size_t i = 0; i < s->used.n; i++)
		free(s->used.owner[i]);
	free(s->used.owner);
	free(s->used.p);
	free(s->allowed);
	free(s->lans);
	free(s->site_conf);
	free(s->site_hub_peer);
	free(s->dns);
	free(s->peer_file);
	free(s->access);
	hubd_diags_free(&s->diags);
	hubd_config_free(s->cfg);
}

/* --lan and --format: which combinations mean something. */
static int check_site_args(struct add_args *a)
{
	if (a->format && strcmp(a->format, "wg-quick") && strcmp(a->format, "hubd")) {
		fprintf(stderr, "hubctl: --format takes wg-quick or hubd\n");
		return -EINVAL;
	}
	if (a->format && !a->lan) {
		fputs("hubctl: --format is for a site gateway: give its --lan\n", stderr);
		return -EINVAL;
	}
	a->hubd_dir = a->format && !strcmp(a->format, "hubd");
	if (a->hubd_dir && !a->output) {
		fputs("hubctl: --format hubd writes a config directory: give it as --output DIR\n",
		      stderr);
		return -EINVAL;
	}
	if (a->hubd_dir && (a->qr || a->dns)) {
		fprintf(stderr, "hubctl: --format hubd takes no %s\n", a->qr ? "--qr" : "--dns");
		return -EINVAL;
	}
	return 0;
}

static int parse_add_args(int argc, char **argv, struct add_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v = NULL;

		if (arg[0] != '-' && !a->name) {
			a->name = arg;
			continue;
		}
		if (hubctl_take_value(argc, argv, &i, "--address", &v))
			a->address = v;
		else if (hubctl_take_value(argc, argv, &i, "--allowed-ips", &v))
			a->allowed_ips = v;
		else if (hubctl_take_value(argc, argv, &i, "--dns", &v))
			a->dns = v;
		else if (hubctl_take_value(argc, argv, &i, "--endpoint", &v))
			a->endpoint = v;
		else if (hubctl_take_value(argc, argv, &i, "--output", &v))
			a->output = v;
		else if (hubctl_take_value(argc, argv, &i, "--lan", &v))
			a->lan = v;
		else if (hubctl_take_value(argc, argv, &i, "--format", &v))
			a->format = v;
		else if (hubctl_take_value(argc, argv, &i, "--access", &v))
			a->access = v;
		else if (hubctl_take_value(argc, argv, &i, "--expires", &v))
			a->expires = v;
		else if (hubctl_take_value(argc, argv, &i, "--qr", &v)) {
			a->qr = v;
			if (v && !strcmp(v, "png")) {
				v = a->qr_file = i + 1 < argc ? argv[++i] : NULL;
			} else if (v && strcmp(v, "ansi") && strcmp(v, "none")) {
				fprintf(stderr, "hubctl: --qr takes ansi, png FILE or none\n");
				goto usage;
			}
		} else {
			fprintf(stderr, "hubctl: unexpected argument '%s'\n", arg);
			goto usage;
		}
		if (!v || !*v) {
			fprintf(stderr, "hubctl: %s needs a value\n", arg);
			goto usage;
		}
	}
	if (a->name)
		return check_site_args(a);
usage:
	fprintf(stderr, "usage: hubctl %s\n", add_usage);
	return -EINVAL;
}

static int used_add(struct used_list *u, const struct hubd_prefix *p, const char *owner)
{
	struct hubd_prefix *np = realloc(u->p, (u->n + 1) * sizeof(*np));
	char **no;

	if (!np)
		return -ENOMEM;
	u->p = np;
	no = realloc(u->owner, (u->n + 1) * sizeof(*no));
	if (!no)
		return -ENOMEM;
	u->owner = no;
	u->owner[u->n] = owner ? strdup(owner) : NULL;
	if (owner && !u->owner[u->n])
		return -ENOMEM;
	u->p[u->n++] = *p;
	return 0;
}

/*
 * Everything taken: the hub's own addresses, every accepted peer's
 * AllowedIPs, those of expired peers, and those of peer files the daemon
 * rejects but that still parse (a name clash fixed tomorrow must not become
 * an address clash).
 */
static int collect_used(const struct hubctl_opts *o, struct add_state *s)
{
	const struct hubd_iface_conf *ifc = &s->cfg->iface;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < ifc->n_addresses; i++) {
		struct hubd_prefix host = ifc->addresses[i];

		host.cidr = host.family == AF_INET ? 32 : 128;
		r = used_add(&s->used, &host, NULL);
	}
	for (size_t i = 0; r >= 0 && i < s->cfg->n_peers; i++)
		for (size_t j = 0; r >= 0 && j < s->cfg->peers[i].n_allowed_ips; j++)
			r = used_add(&s->used, &s->cfg->peers[i].allowed_ips[j],
				     s->cfg->peers[i].name);
	/* Expired peers hold no claim in hubd, but moving the date must not meet a clash. */
	for (size_t i = 0; r >= 0 && i < s->cfg->n_expired; i++)
		for (size_t j = 0; r >= 0 && j < s->cfg->expired[i].n_allowed_ips; j++)
			r = used_add(&s->used, &s->cfg->expired[i].allowed_ips[j],
				     s->cfg->expired[i].name);
	for (size_t i = 0; r >= 0 && i < s->cfg->n_rejected; i++) {
		struct hubd_peer_conf p = {0};
		struct hubd_diags ignored = {0};

		if (load_peer_file(o, s->cfg->rejected[i], &p, &ignored) >= 0)
			for (size_t j = 0; r >= 0 && j < p.n_allowed_ips; j++)
				r = used_add(&s->used, &p.allowed_ips[j], s->cfg->rejected[i]);
		hubd_peer_conf_clear(&p);
		hubd_diags_free(&ignored);
	}
	return r;
}

static void address_error(const struct add_state *s, const char *text, int r, size_t conflict)
{
	if (r == -EEXIST && s->used.owner[conflict])
		fprintf(stderr, "hubctl: address %s is already used by peer '%s'\n", text,
			s->used.owner[conflict]);
	else if (r == -EEXIST)
		fprintf(stderr, "hubctl: address %s is the hub's own address\n", text);
	else if (r == -EADDRNOTAVAIL)
		fprintf(stderr, "hubctl: address %s is its subnet's network or broadcast address\n",
			text);
	else
		fprintf(stderr, "hubctl: address %s is not inside the hub's subnet%s\n", text,
			s->cfg->iface.n_addresses > 1 ? "s" : "");
}

/* --address: each one a host address inside a hub subnet, and free. */
static int check_given_address(struct add_state *s, const char *text)
{
	const struct hubd_iface_conf *ifc = &s->cfg->iface;
	struct hubd_prefix a;
	size_t conflict = 0;
	int r = -EDOM;

	if (hubd_prefix_parse(text, &a, NULL) < 0) {
		fprintf(stderr, "hubctl: --address %s is not an IP address (%s)\n", text,
			PREFIX_SYNTAX);
		return -EINVAL;
	}
	if (!hubd_prefix_is_host(&a)) {
		fprintf(stderr, "hubctl: --address %s is a prefix, not one address\n", text);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->n_addrs; i++)
		if (s->addrs[i].family == a.family) {
			fprintf(stderr,
				"hubctl: --address takes one IPv4 and one IPv6 address at most\n");
			return -EINVAL;
		}
	for (size_t i = 0; i < ifc->n_addresses && r == -EDOM; i++)
		r = hubctl_alloc_check(&ifc->addresses[i], s->used.p, s->used.n, &a, &conflict);
	if (r < 0) {
		address_error(s, text, r, conflict);
		return r;
	}
	s->addrs[s->n_addrs++] = a;
	return 0;
}

/* Without --address: the next free address in the first subnet of each family. */
static int allocate_addresses(struct add_state *s)
{
	const struct hubd_iface_conf *ifc = &s->cfg->iface;
	static const int families[] = {AF_INET, AF_INET6};
	char text[HUBD_PREFIX_STRLEN];

	for (size_t f = 0; f < 2; f++)
		for (size_t i = 0; i < ifc->n_addresses; i++) {
			const struct hubd_prefix *subnet = &ifc->addresses[i];
			struct hubd_prefix m;

			if (subnet->family != families[f])
				continue;
			if (hubctl_alloc_next(subnet, s->used.p, s->used.n, &s->addrs[s->n_addrs]) <
			    0) {
				m = *subnet;
				hubd_prefix_mask(&m);
				hubd_prefix_format(&m, text, sizeof(text));
				fprintf(stderr, "hubctl: no free address left in %s\n", text);
				return -ENOSPC;
			}
			s->n_addrs++;
			break;
		}
	if (s->n_addrs == 0) {
		fputs("hubctl: hubd.conf has no Address to take a peer address from\n", stderr);
		return -EINVAL;
	}
	return 0;
}

static int choose_addresses(struct add_state *s, const char *option)
{
	char *copy, *save = NULL;
	int r = 0;

	if (!option)
		return allocate_addresses(s);
	copy = strdup(option);
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ", ", &save); t && r >= 0; t = strtok_r(NULL, ", ", &save))
		r = check_given_address(s, t);
	free(copy);
	if (r >= 0 && s->n_addrs == 0) {
		fputs("hubctl: --address needs an address\n", stderr);
		r = -EINVAL;
	}
	return r;
}

/*
 * --lan: each prefix outside the tunnel's subnets. Overlaps with other peers,
 * PeerRoutes and the rest are the daemon's verdict (verify_new_peer).
 */
static int site_lans(struct add_state *s, const char *option)
{
	const struct hubd_iface_conf *ifc = &s->cfg->iface;
	_cleanup_free_ char *bad = NULL;
	char l[HUBD_PREFIX_STRLEN], t[HUBD_PREFIX_STRLEN];
	int r = hubctl_parse_prefix_list(option, &s->lans, &s->n_lans, &bad);

	if (r == -EINVAL && bad)
		fprintf(stderr, "hubctl: --lan: %s is not an IP prefix (%s)\n", bad, PREFIX_SYNTAX);
	else if (r == -EINVAL)
		fputs("hubctl: --lan needs at least one prefix\n", stderr);
	for (size_t i = 0; r >= 0 && i < s->n_lans; i++)
		for (size_t k = 0; k < ifc->n_addresses; k++) {
			struct hubd_prefix subnet = ifc->addresses[k];

			if (!hubd_prefix_overlap(&s->lans[i], &subnet))
				continue;
			hubd_prefix_mask(&subnet);
			hubd_prefix_format(&s->lans[i], l, sizeof(l));
			hubd_prefix_format(&subnet, t, sizeof(t));
			fprintf(stderr, "hubctl: --lan %s overlaps the tunnel subnet %s\n", l, t);
			r = -EINVAL;
			break;
		}
	return r;
}

/* One --access entry, normalized onto f; the message names the entry by its place only. */
static int access_entry(FILE *f, const char *entry, size_t pos)
{
	struct hubd_access acc;
	char text[HUBD_ACCESS_STRLEN];
	const char *msg = NULL;

	if (!*entry) {
		fprintf(stderr, "hubctl: --access: entry %zu is empty\n", pos);
		return -EINVAL;
	}
	if (!strcasecmp(entry, "none")) {
		fputs("hubctl: --access: none stands alone: it cannot be combined with other "
		      "entries\n",
		      stderr);
		return -EINVAL;
	}
	if (hubd_access_parse(entry, &acc, &msg) < 0) {
		fprintf(stderr, "hubctl: --access: entry %zu: %s\n", pos, msg ? msg : "invalid");
		return -EINVAL;
	}
	hubd_access_format(&acc, text, sizeof(text));
	fprintf(f, "%s%s", pos > 1 ? ", " : "", text);
	return 0;
}

/*
 * --access LIST|none: each comma-separated entry checked as hubd will check
 * the Access line, and written back in hubd's own form. An error never
 * repeats what was typed: the option may have been pasted from anywhere.
 */
static int access_option(struct add_state *s, const char *option)
{
	_cleanup_free_ char *copy = strdup(option);
	char *text = NULL;
	size_t len = 0, pos = 0;
	FILE *f;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	if (!strcasecmp(option, "none")) {
		s->access = strdup("none");
		return s->access ? 0 : -ENOMEM;
	}
	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	/* strsep, not strtok: "a,,b" has an empty entry, which is a mistake worth naming. */
	for (char *e, *rest = copy; r >= 0 && (e = strsep(&rest, ",")) != NULL;) {
		e += strspn(e, " \t");
		for (size_t n = strlen(e); n && (e[n - 1] == ' ' || e[n - 1] == '\t'); n--)
			e[n - 1] = '\0';
		r = access_entry(f, e, ++pos);
	}
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0)
		free(text);
	else
		s->access = text;
	return r;
}

/* --expires DURATION|DATE: a moment still to come, from this machine's clock. */
static int expires_option(struct add_state *s, const char *option)
{
	int64_t now = hubd_clock_now(), t;
	const char *msg = NULL;

	if (hubd_expiry_from_arg(option, now, &t, &msg) < 0) {
		fprintf(stderr, "hubctl: --expires: %s\n", msg ? msg : "invalid");
		return -EINVAL;
	}
	if (t <= now) {
		fputs("hubctl: --expires: that moment has passed: the peer would never be "
		      "applied\n",
		      stderr);
		return -EINVAL;
	}
	s->expires_at = t;
	return 0;
}

static int policy_options(struct add_state *s, const struct add_args *a)
{
	int r = 0;

	if (a->access)
		r = access_option(s, a->access);
	if (r >= 0 && a->expires)
		r = expires_option(s, a->expires);
	return r;
}

/* AllowedIPs, DNS and Endpoint of the client config. */
static int client_options(struct add_state *s, const struct add_args *a)
{
	const struct hubd_iface_conf *ifc = &s->cfg->iface;
	struct used_list peer_ips = {0};
	int r;

	if (a->allowed_ips) {
		_cleanup_free_ char *bad = NULL;

		r = hubctl_parse_prefix_list(a->allowed_ips, &s->allowed, &s->n_allowed, &bad);
		if (r == -EINVAL && bad)
			fprintf(stderr, "hubctl: --allowed-ips: %s is not an IP prefix (%s)\n", bad,
				PREFIX_SYNTAX);
		else if (r == -EINVAL)
			fputs("hubctl: --allowed-ips needs at least one prefix\n", stderr);
	} else {
		/* Only accepted peers: their LANs are the ones the hub really routes. */
		r = 0;
		for (size_t i = 0; r >= 0 && i < s->cfg->n_peers; i++)
			for (size_t j = 0; r >= 0 && j < s->cfg->peers[i].n_allowed_ips; j++)
				r = used_add(&peer_ips, &s->cfg->peers[i].allowed_ips[j], NULL);
		if (r >= 0)
			r = hubctl_default_allowed_ips(ifc->addresses, ifc->n_addresses, peer_ips.p,
						       peer_ips.n, &s->allowed, &s->n_allowed);
		free(peer_ips.p);
		free(peer_ips.owner);
	}
	if (r < 0)
		return r;
	if (a->dns && (r = hubctl_normalize_dns(a->dns, &s->dns)) < 0) {
		fprintf(stderr, "hubctl: --dns %s: not a list of IP addresses\n", a->dns);
		return r;
	}
	r = hubctl_client_endpoint(a->endpoint, ifc->public_endpoint, &s->endpoint);
	if (r == -ENOENT)
		fputs("hubctl: no Endpoint for the client: pass --endpoint HOST:PORT or set "
		      "PublicEndpoint in hubd.conf\n",
		      stderr);
	else if (r < 0)
		fprintf(stderr, "hubctl: endpoint '%s' is not HOST:PORT\n",
			a->endpoint ? a->endpoint : ifc->public_endpoint);
	return r;
}

/*
 * The gateway's hubd must accept what it is given, as it would on its next
 * start: its hubd.conf, and the hub as its one peer (judged as hubd judges
 * peers, e.g. against its PeerRoutes), before anything is written.
 */
static int verify_site_hubd(struct add_state *s)
{
	struct hubd_config gw = {0};
	struct hubd_peer_conf hub = {0};
	struct hubd_diags diags = {0};
	bool reject = false;
	int r = hubd_parse_interface("hubd.conf", s->site_conf, strlen(s->site_conf), &gw.iface,
				     &diags);

	if (r >= 0)
		r = hubd_parse_peer("peers.d/hub.conf", "hub", s->site_hub_peer,
				    strlen(s->site_hub_peer), &hub, &diags);
	if (r >= 0)
		r = hubd_config_judge(&gw.iface, &hub, 1, &reject, &diags);
	if (r >= 0 && (reject || hubd_diags_errors(&diags)))
		r = -EINVAL;
	if (r == -EINVAL) {
		fputs("hubctl: hubd on the gateway would refuse the config made for it:\n", stderr);
		hubd_diags_print(&diags, stderr);
	}
	hubd_peer_conf_clear(&hub);
	hubd_iface_conf_clear(&gw.iface);
	hubd_diags_free(&diags);
	return r;
}

/*
 * --format hubd: the gateway's Address carries its hub subnet's length, so
 * that its hubd puts the tunnel subnet on the link as the hub's does.
 */
static int make_site_hubd(struct add_state *s, struct hubctl_client_conf *c)
{
	const struct hubd_iface_conf *ifc = &s->cfg->iface;
	struct hubd_prefix addrs[2];

	for (size_t i = 0; i < s->n_addrs; i++) {
		addrs[i] = s->addrs[i];
		for (size_t k = 0; k < ifc->n_addresses; k++)
			if (hubd_prefix_contains(&ifc->addresses[k], &s->addrs[i])) {
				addrs[i].cidr = ifc->addresses[k].cidr;
				break;
			}
	}
	c->addresses = addrs;
	return hubctl_render_site_hubd(c, &s->site_conf, &s->site_hub_peer);
}

static int make_client(struct add_state *s, bool hubd_dir)
{
	struct hubctl_client_conf c;
	int r = wgnl_key_generate_private(s->priv);

	if (r < 0) {
		fprintf(stderr, "hubctl: cannot generate a key: %s\n", strerror(-r));
		return r;
	}
	wgnl_key_public_from_private(s->pub, s->priv);
	wgnl_key_to_base64(s->priv_b64, s->priv);
	wgnl_key_to_base64(s->pub_b64, s->pub);
	wgnl_key_to_base64(s->hub_pub_b64, s->cfg->iface.public_key);
	c = (struct hubctl_client_conf){
	    .private_key = s->priv_b64,
	    .addresses = s->addrs,
	    .n_addresses = s->n_addrs,
	    .dns = s->dns,
	    .hub_public_key = s->hub_pub_b64,
	    .endpoint = s->endpoint,
	    .allowed_ips = s->allowed,
	    .n_allowed_ips = s->n_allowed,
	    .keepalive = HUBCTL_CLIENT_KEEPALIVE,
	    .lans = s->lans,
	    .n_lans = s->n_lans,
	};
	/* hubd reads its key from private.key: s->priv stays until that file is written. */
	if (hubd_dir)
		r = make_site_hubd(s, &c);
	else
		r = hubctl_render_client(&c, &s->client);
	/* The config text holds the key now; the raw forms are no longer needed. */
	if (!hubd_dir)
		wgnl_key_wipe(s->priv);
	sodium_memzero(s->priv_b64, sizeof(s->priv_b64));
	return r;
}

/* The hub's file: the peer's tunnel addresses, then the LANs behind it (a site). */
static char *peer_file_text(const struct add_state *s)
{
	char a[HUBD_PREFIX_STRLEN], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "# Added by hubctl peer add%s.\n[Peer]\nPublicKey = %s\nAllowedIPs = ",
		s->n_lans ? " --lan: a site gateway and the LANs behind it" : "", s->pub_b64);
	for (size_t i = 0; i < s->n_addrs + s->n_lans; i++) {
		const struct hubd_prefix *p =
		    i < s->n_addrs ? &s->addrs[i] : &s->lans[i - s->n_addrs];

		hubd_prefix_format(p, a, sizeof(a));
		fprintf(f, "%s%s", i ? ", " : "", a);
	}
	fputc('\n', f);
	if (s->access)
		fprintf(f, "Access = %s\n", s->access);
	if (s->expires_at) {
		char t[HUBD_EXPIRY_STRLEN];

		hubd_expiry_format(s->expires_at, t, sizeof(t));
		fprintf(f, "ExpiresAt = %s\n", t);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * The daemon's verdict on the file about to be written, before it is: every
 * accepted peer counts as running (incumbent), so the new file is judged
 * against all of them, as hubd would judge it on its next reload. A LAN that
 * overlaps another site's is refused here, not found later in the journal.
 */
static int verify_new_peer(const struct hubctl_opts *o, struct add_state *s, const char *name)
{
	_cleanup_free_ char *text = peer_file_text(s), *path = peers_path(o, name);
	_cleanup_free_ struct hubd_peer_conf *all = NULL;
	_cleanup_free_ bool *reject = NULL;
	struct hubd_diags diags = {0};
	size_t n = s->cfg->n_peers;
	int r;

	all = calloc(n + 1, sizeof(*all));
	reject = calloc(n + 1, sizeof(*reject));
	if (!text || !path || !all || !reject)
		return -ENOMEM;
	r = hubd_parse_peer(path, name, text, strlen(text), &all[n], &diags);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		all[i] = s->cfg->peers[i]; /* shallow: only read */
		all[i].incumbent = true;
	}
	if (r >= 0)
		r = hubd_config_judge(&s->cfg->iface, all, n + 1, reject, &diags);
	if (r >= 0 && reject[n])
		r = -EINVAL;
	if (r == -EINVAL) {
		fprintf(stderr, "hubctl: hubd would refuse peer '%s':\n", name);
		for (size_t i = 0; i < diags.n; i++)
			if (!strcmp(diags.items[i].path, path) && !diags.items[i].warning)
				fprintf(stderr, "hubctl:   %s\n", diags.items[i].message);
	}
	hubd_peer_conf_clear(&all[n]);
	hubd_diags_free(&diags);
	return r;
}

/* Put tmp in place as path unless path exists: a concurrent add of the same name must fail. */
static int rename_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* File systems without RENAME_NOREPLACE: link() fails on an existing name too. */
	if (link(tmp, path) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

/*
 * Write peers.d/NAME.conf so that hubd never reads half a file: a dotfile
 * (which hubd ignores) in the same directory, fsync, then rename.
 */
static int write_peer_file(const struct hubctl_opts *o, struct add_state *s, const char *name)
{
	char *dir = peers_path(o, NULL), *tmp = NULL, *text = peer_file_text(s);
	int fd = -1, r = -ENOMEM;

	s->peer_file = peers_path(o, name);
	if (!dir || !text || !s->peer_file ||
	    asprintf(&tmp, "%s/.%s.conf.tmpXXXXXX", dir, name) < 0) {
		tmp = NULL;
		goto out;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = fchmod(fd, 0644) < 0 ? -errno : 0; /* it holds only a public key */
	if (r >= 0)
		r = write_full(fd, text, strlen(text));
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0)
		r = rename_noreplace(tmp, s->peer_file);
	if (r < 0)
		unlink(tmp);
	else
		fsync_dir(dir);
out:
	if (r < 0)
		fprintf(stderr, "hubctl: %s: %s\n", s->peer_file ? s->peer_file : name,
			r == -EEXIST ? "a peer of that name exists" : strerror(-r));
	free(dir);
	free(tmp);
	free(text);
	return r;
}

/*
 * --output FILE: a new file, mode 0600, as it holds the client's private key.
 * Never an existing one (nor a symlink): whoever made it could have kept it
 * open, or made it readable, and would read the key.
 */
static int write_secret_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600), r;

	if (fd < 0)
		return -errno;
	r = write_full(fd, text, strlen(text));
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

static void output_error(const char *path, int r)
{
	if (r == -EEXIST)
		fprintf(stderr, "hubctl: %s exists; not overwriting\n", path);
	else
		fprintf(stderr, "hubctl: %s: %s\n", path, strerror(-r));
}

/* Before any key is made: an output file that exists already is refused. */
static int check_new_outputs(const struct add_args *a)
{
	const char *paths[] = {a->output, a->qr_file};
	struct stat st;

	if (a->hubd_dir)
		return hubctl_config_dir_free(a->output);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (paths[i] && lstat(paths[i], &st) == 0) {
			output_error(paths[i], -EEXIST);
			return -EEXIST;
		}
	return 0;
}

/* The files first: when one cannot be written, nothing has been printed yet. */
static int write_output_files(const struct add_state *s, const struct add_args *a)
{
	int r = 0;

	if (a->output && (r = write_secret_file(a->output, s->client)) < 0) {
		output_error(a->output, r);
		return r;
	}
	if (a->qr_file && (r = hubctl_qr_write_png_file(s->client, a->qr_file)) < 0) {
		output_error(a->qr_file, r);
		if (a->output)
			unlink(a->output); /* a key for a peer that is about to be removed again */
	}
	return r;
}

static int write_outputs(const struct add_state *s, const struct add_args *a)
{
	/* A gateway is set up from a file, not a phone's camera. */
	const char *qr = a->qr ? a->qr : isatty(STDOUT_FILENO) && !a->lan ? "ansi" : "none";
	int r;

	if (a->hubd_dir)
		return hubctl_write_config_dir(a->output, s->site_conf, s->priv, "hub",
					       s->site_hub_peer);
	r = write_output_files(s, a);

	if (r < 0)
		return r;
	if (!a->output) {
		/* write(2), not stdio: no copy of the key left in a stdio buffer. */
		r = write_full(STDOUT_FILENO, s->client, strlen(s->client));
		if (r < 0) {
			fprintf(stderr, "hubctl: stdout: %s\n", strerror(-r));
			return r;
		}
	}
	if (!strcmp(qr, "ansi")) {
		if (!a->output)
			putchar('\n');
		r = hubctl_qr_write_ansi(s->client, stdout);
		if (fflush(stdout) != 0 && r >= 0)
			r = -errno;
		if (r < 0)
			fprintf(stderr, "hubctl: QR code: %s\n", strerror(-r));
	}
	return r;
}

static int load_hub(const struct hubctl_opts *o, struct add_state *s, const char *name)
{
	char *path = peers_path(o, name);
	int r;

	if (!path)
		return -ENOMEM;
	r = access(path, F_OK) == 0 ? -EEXIST : 0;
	if (r < 0)
		fprintf(stderr, "hubctl: a peer named '%s' exists (%s)\n", name, path);
	free(path);
	if (r < 0)
		return r;
	r = hubd_config_load(o->config_dir, &s->cfg, &s->diags);
	if (r < 0) {
		fprintf(stderr, "hubctl: %s: %s\n", o->config_dir, strerror(-r));
		return r;
	}
	/* The daemon's view of the files: the user should know before onboarding a phone. */
	hubd_diags_print(&s->diags, stderr);
	if (!s->cfg->iface_ok || !s->cfg->iface.has_private_key) {
		fprintf(stderr, "hubctl: %s/hubd.conf or its private key is unusable\n",
			o->config_dir);
		return -EINVAL;
	}
	return 0;
}

static void report_added(const struct add_state *s, const struct add_args *args, const char *name)
{
	char a[INET6_ADDRSTRLEN];

	fprintf(stderr, "hubctl: added peer '%s' with address", name);
	for (size_t i = 0; i < s->n_addrs; i++) {
		hubd_prefix_format_addr(&s->addrs[i], a, sizeof(a));
		fprintf(stderr, "%s %s", i ? "," : "", a);
	}
	fprintf(stderr, " to %s\n", s->peer_file);
	if (args->hubd_dir)
		fprintf(stderr,
			"hubctl: the gateway's hubd config is in %s: copy it to /etc/hubd on the "
			"gateway (private.key stays mode 0600, owned by root)\n",
			args->output);
}

static int peer_add(const struct hubctl_opts *o, int argc, char **argv)
{
	struct add_args a = {0};
	struct add_state s = {0};
	int r;

	if (o->json) {
		fputs("hubctl: peer add prints a wg-quick config, not JSON\n", stderr);
		return HUBCTL_EXIT_ERROR;
	}
	if (parse_add_args(argc, argv, &a) < 0 || check_name(a.name) < 0 ||
	    check_new_outputs(&a) < 0)
		return HUBCTL_EXIT_ERROR;
	/* Before any key exists: a typo in the policy costs nothing. */
	r = policy_options(&s, &a);
	if (r < 0) {
		add_state_free(&s);
		return HUBCTL_EXIT_ERROR;
	}
	/* This process is about to hold a client's private key: no core dump, no ptrace. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		fprintf(stderr, "hubctl: prctl(PR_SET_DUMPABLE): %s\n", strerror(errno));
		return HUBCTL_EXIT_ERROR;
	}
	r = load_hub(o, &s, a.name);
	if (r >= 0)
		r = collect_used(o, &s);
	if (r >= 0)
		r = choose_addresses(&s, a.address);
	if (r >= 0 && a.lan)
		r = site_lans(&s, a.lan);
	if (r >= 0)
		r = client_options(&s, &a);
	if (r >= 0)
		r = make_client(&s, a.hubd_dir);
	if (r >= 0)
		r = verify_new_peer(o, &s, a.name);
	if (r >= 0 && a.hubd_dir)
		r = verify_site_hubd(&s);
	if (r >= 0)
		r = write_peer_file(o, &s, a.name);
	if (r >= 0) {
		r = write_outputs(&s, &a);
		/* Nobody got the private key: a peer nobody can use must not stay. */
		if (r < 0 && unlink(s.peer_file) == 0)
			fprintf(stderr, "hubctl: removed %s again\n", s.peer_file);
	}
	if (r == -ENOMEM)
		fputs("hubctl: out of memory\n", stderr);
	if (r >= 0)
		report_added(&s, &a, a.name);
	add_state_free(&s);
	return r < 0 ? HUBCTL_EXIT_ERROR : HUBCTL_EXIT_OK;
}

int hubctl_peer(const struct hubctl_opts *o, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return peer_add(o, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "remove"))
		return peer_remove(o, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return peer_list(o, argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "hubctl: unknown peer command '%s'\n", argv[1]);
	fprintf(stderr,
		"usage: hubctl %s\n       hubctl peer remove NAME\n       hubctl peer list\n",
		add_usage);
	return HUBCTL_EXIT_ERROR;
}
