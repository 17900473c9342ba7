/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl init: a config directory from nothing, for a hub or (with
 * --masquerade) a gateway. The key is made here, from the system's CSPRNG
 * (libsodium), and written straight to its 0600 file: it never passes
 * through a shell, a pipe or a stdio buffer. Nothing that exists is ever
 * replaced: every file is created with O_EXCL (mkdir for peers.d/).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "hubctl-internal.h"
#include "macro.h"
#include "render.h"

#define INIT_DEFAULT_ADDRESS "10.8.0.1/24"
#define INIT_DEFAULT_PORT    51820
#define INIT_MAX_MASQUERADE  16

static const char init_usage[] = "init [--address PREFIX[,PREFIX]] [--listen-port N] "
				 "[--endpoint HOST:PORT]\n"
				 "                 [--masquerade IFACE|PREFIX[,...]]";

struct init_args {
	const char *address, *port, *endpoint;
	const char *masquerade[INIT_MAX_MASQUERADE];
	size_t n_masquerade;
};

static int parse_init_args(int argc, char **argv, struct init_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v = NULL;

		if (hubctl_take_value(argc, argv, &i, "--address", &v))
			a->address = v;
		else if (hubctl_take_value(argc, argv, &i, "--listen-port", &v) ||
			 hubctl_take_value(argc, argv, &i, "--port", &v))
			a->port = v;
		else if (hubctl_take_value(argc, argv, &i, "--endpoint", &v))
			a->endpoint = v;
		else if (hubctl_take_value(argc, argv, &i, "--masquerade", &v)) {
			if (a->n_masquerade >= INIT_MAX_MASQUERADE) {
				fprintf(stderr, "hubctl: more than %d --masquerade options\n",
					INIT_MAX_MASQUERADE);
				return -EINVAL;
			}
			a->masquerade[a->n_masquerade++] = v;
		} else {
			fprintf(stderr, "hubctl: unexpected argument '%s'\n", arg);
			goto usage;
		}
		if (!v || !*v) {
			fprintf(stderr, "hubctl: %s needs a value\n", arg);
			goto usage;
		}
	}
	return 0;
usage:
	fprintf(stderr, "usage: hubctl %s\n", init_usage);
	return -EINVAL;
}

/* Each item of a comma (or space) separated list, in turn; stops at the first refusal. */
static int for_each_item(const char *list, int (*fn)(const char *item, FILE *out), FILE *out)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;
	int r = -EINVAL;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		r = fn(t, out);
		if (r < 0)
			return r;
	}
	return r; /* -EINVAL for an empty list */
}

/* An interface Address: a host address with its subnet's length, as hubd.conf(5) has it. */
static int add_address(const char *item, FILE *out)
{
	struct hubd_prefix p;
	bool host_bits = false;

	if (hubd_prefix_parse(item, &p, &host_bits) < 0) {
		fprintf(stderr, "hubctl: --address %s is not ADDRESS/LENGTH\n", item);
		return -EINVAL;
	}
	if (!host_bits && !hubd_prefix_is_host(&p)) {
		fprintf(stderr,
			"hubctl: --address %s is a network, not the hub's address in it "
			"(such as 10.8.0.1/24)\n",
			item);
		return -EINVAL;
	}
	fprintf(out, "Address = %s\n", item);
	return 0;
}

/* An interface name, or a prefix: traffic from the tunnel towards it is masqueraded. */
static int add_masquerade(const char *item, FILE *out)
{
	struct hubd_prefix p;

	if (hubd_prefix_parse(item, &p, NULL) < 0 && !hubd_is_valid_ifname(item)) {
		fprintf(stderr,
			"hubctl: --masquerade %s is neither an interface name nor a prefix\n",
			item);
		return -EINVAL;
	}
	fprintf(out, "Masquerade = %s\n", item);
	return 0;
}

static int check_port(const char *text, unsigned long *ret)
{
	char *end;

	errno = 0;
	*ret = strtoul(text, &end, 10);
	if (errno || *end || text[0] < '0' || text[0] > '9' || *ret == 0 || *ret > 65535) {
		fprintf(stderr, "hubctl: --listen-port %s is not a port number (1 to 65535)\n",
			text);
		return -EINVAL;
	}
	return 0;
}

/* hubd.conf's text from the options, each checked so that the message names the option. */
static int render_conf(const struct init_args *a, char **ret)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	unsigned long port = INIT_DEFAULT_PORT;
	int r = 0;

	if (!f)
		return -ENOMEM;
	fputs("# Written by hubctl init; see hubd.conf(5).\n"
	      "# The private key is private.key in this directory.\n[Interface]\n",
	      f);
	r = for_each_item(a->address ? a->address : INIT_DEFAULT_ADDRESS, add_address, f);
	if (r == -EINVAL && a->address && strspn(a->address, ", \t") == strlen(a->address))
		fputs("hubctl: --address needs an address\n", stderr);
	if (r >= 0 && a->port)
		r = check_port(a->port, &port);
	if (r >= 0)
		fprintf(f, "ListenPort = %lu\n", port);
	if (r >= 0 && a->endpoint) {
		r = hubctl_endpoint_valid(a->endpoint);
		if (r < 0)
			fprintf(stderr, "hubctl: --endpoint %s is not HOST:PORT\n", a->endpoint);
		else
			fprintf(f, "PublicEndpoint = %s\n", a->endpoint);
	}
	for (size_t i = 0; r >= 0 && i < a->n_masquerade; i++)
		r = for_each_item(a->masquerade[i], add_masquerade, f);
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return r;
	}
	*ret = text;
	return 0;
}

/*
 * The daemon's own parser reads the text before anything is written: init
 * must never leave a config that hubd refuses (a duplicate Masquerade, two
 * IPv4 addresses in one subnet...).
 */
static int verify_conf(const char *path, const char *text)
{
	struct hubd_iface_conf c = {0};
	struct hubd_diags diags = {0};
	int r = hubd_parse_interface(path, text, strlen(text), &c, &diags);

	if (r < 0 || hubd_diags_errors(&diags)) {
		fputs("hubctl: these options make a hubd.conf that hubd refuses:\n", stderr);
		hubd_diags_print(&diags, stderr);
		r = -EINVAL;
	}
	hubd_iface_conf_clear(&c);
	hubd_diags_free(&diags);
	return r;
}

static int print_key(const struct hubctl_opts *o, const char *dir, const char *pub_b64)
{
	if (o->json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "config_dir", json_object_new_string(dir));
		json_object_object_add(j, "public_key", json_object_new_string(pub_b64));
		hubctl_print_json(j);
		json_object_put(j);
	} else {
		puts(pub_b64);
	}
	return fflush(stdout) == 0 ? 0 : -errno;
}

int hubctl_init(const struct hubctl_opts *o, int argc, char **argv)
{
	const char *dir = o->config_dir ? o->config_dir : HUBD_DEFAULT_CONFIG_DIR;
	struct init_args a = {0};
	_cleanup_free_ char *conf = NULL, *path = NULL;
	wgnl_key priv, pub;
	char pub_b64[WGNL_KEY_B64_LEN + 1];
	int r;

	if (parse_init_args(argc, argv, &a) < 0 || render_conf(&a, &conf) < 0)
		return HUBCTL_EXIT_ERROR;
	if (asprintf(&path, "%s/hubd.conf", dir) < 0) {
		path = NULL;
		return HUBCTL_EXIT_ERROR;
	}
	if (verify_conf(path, conf) < 0 || hubctl_config_dir_free(dir) < 0)
		return HUBCTL_EXIT_ERROR;
	/* This process is about to hold a private key: no core dump, no ptrace. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		fprintf(stderr, "hubctl: prctl(PR_SET_DUMPABLE): %s\n", strerror(errno));
		return HUBCTL_EXIT_ERROR;
	}
	r = wgnl_key_generate_private(priv);
	if (r < 0) {
		fprintf(stderr, "hubctl: cannot generate a key: %s\n", strerror(-r));
		return HUBCTL_EXIT_ERROR;
	}
	wgnl_key_public_from_private(pub, priv);
	wgnl_key_to_base64(pub_b64, pub);
	r = hubctl_write_config_dir(dir, conf, priv, NULL, NULL);
	wgnl_key_wipe(priv);
	if (r < 0)
		return HUBCTL_EXIT_ERROR;
	fprintf(stderr, "hubctl: wrote %s/hubd.conf, %s/private.key and %s/peers.d/\n", dir, dir,
		dir);
	if (!a.endpoint)
		fputs("hubctl: no --endpoint: `hubctl peer add` will need --endpoint HOST:PORT, "
		      "or set PublicEndpoint in hubd.conf\n",
		      stderr);
	return print_key(o, dir, pub_b64) < 0 ? HUBCTL_EXIT_ERROR : HUBCTL_EXIT_OK;
}
