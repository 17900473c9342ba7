/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hubctl: the command line of hubd. Global options, then a verb from the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hubctl-internal.h"

#ifndef HUBCTL_VERSION
#define HUBCTL_VERSION "unknown"
#endif

static const struct hubctl_verb verbs[] = {
    {"reload", hubctl_reload, "reload"},
    {"check", hubctl_check, "check"},
    {"diff", hubctl_diff, "diff"},
    {"status", hubctl_status, "status"},
    {"metrics", hubctl_metrics, "metrics"},
    {"endpoints", hubctl_endpoints, "endpoints [--json]"},
    {"takeover", hubctl_takeover, "takeover FILE"},
    {"doctor", hubctl_doctor, "doctor [--json]"},
    {"init", hubctl_init,
     "init [--address PREFIX[,PREFIX]] [--listen-port N] [--endpoint HOST:PORT]\n"
     "                 [--masquerade IFACE|PREFIX[,...]]"},
    {"peer", hubctl_peer,
     "peer add NAME [--address IP] [--allowed-ips LIST] [--dns IP] [--endpoint HOST:PORT]\n"
     "                 [--qr ansi|png FILE|none] [--output FILE]\n"
     "       hubctl peer add NAME --lan PREFIX[,PREFIX...] [--format wg-quick|hubd]\n"
     "                 [--output FILE|DIR] [--address IP] [--endpoint HOST:PORT]\n"
     "       hubctl peer remove NAME\n"
     "       hubctl peer list"},
};

static void usage(FILE *f)
{
	fputs("usage: hubctl [--config-dir DIR] [--socket PATH] [--json] VERB ...\n\n", f);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "       hubctl %s\n", verbs[i].usage);
	fputs("\nGlobal options (before or after the verb):\n"
	      "  --config-dir DIR  configuration directory (default " HUBD_DEFAULT_CONFIG_DIR ")\n"
	      "  --socket PATH     control socket (default /run/hubd/control.sock)\n"
	      "  --json            machine-readable output\n"
	      "  --help, --version\n"
	      "\nSee hubctl(8).\n",
	      f);
}

bool hubctl_take_value(int argc, char **argv, int *i, const char *opt, const char **ret)
{
	size_t n = strlen(opt);
	const char *a = argv[*i];

	if (strncmp(a, opt, n) != 0 || (a[n] && a[n] != '='))
		return false;
	if (a[n] == '=')
		*ret = a + n + 1;
	else
		*ret = *i + 1 < argc ? argv[++*i] : NULL;
	return true;
}

static const struct hubctl_verb *find_verb(const char *name)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

enum { WANT_RUN, WANT_HELP, WANT_VERSION, WANT_ERROR };

/* Does arg name option opt, as "--opt VALUE" or "--opt=VALUE"? Sets *value (NULL: next argv). */
static bool match_valued(const char *arg, const char *opt, const char **value)
{
	size_t n = strlen(opt);

	if (strncmp(arg, opt, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
		return false;
	*value = arg[n] == '=' ? arg + n + 1 : NULL;
	return true;
}

/*
 * Take the global options out of argv, wherever they are, so that
 * "hubctl status --json" works like "hubctl --json status". What remains
 * (the verb and its own arguments) is left in argv[1..*argc-1].
 */
static int parse_globals(int *argc, char **argv, struct hubctl_opts *o)
{
	int k = 1, want = WANT_RUN;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *value = NULL;
		const char **target = NULL;

		if (!strcmp(a, "--")) {
			while (++i < *argc)
				argv[k++] = argv[i];
			break;
		}
		if (match_valued(a, "--config-dir", &value))
			target = &o->config_dir;
		else if (match_valued(a, "--socket", &value))
			target = &o->socket_path;
		if (target) {
			if (!value && i + 1 < *argc)
				value = argv[++i];
			if (!value || !*value) {
				fprintf(stderr, "hubctl: %s needs a value\n", a);
				return WANT_ERROR;
			}
			*target = value;
		} else if (!strcmp(a, "--json"))
			o->json = true;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			want = WANT_HELP;
		else if (!strcmp(a, "--version") && want == WANT_RUN)
			want = WANT_VERSION;
		else
			argv[k++] = argv[i];
	}
	*argc = k;
	argv[k] = NULL;
	return want;
}

int main(int argc, char **argv)
{
	struct hubctl_opts o = {
	    .config_dir = HUBD_DEFAULT_CONFIG_DIR,
	    .socket_path = "/run/hubd/control.sock",
	};
	const struct hubctl_verb *v;
	int want = parse_globals(&argc, argv, &o);

	if (want == WANT_ERROR)
		return HUBCTL_EXIT_ERROR;
	if (want == WANT_VERSION) {
		printf("hubctl %s\n", HUBCTL_VERSION);
		return HUBCTL_EXIT_OK;
	}
	if (argc >= 2 && !strcmp(argv[1], "help")) {
		want = WANT_HELP;
		argv++;
		argc--;
	}
	v = argc >= 2 ? find_verb(argv[1]) : NULL;
	if (want == WANT_HELP) {
		if (v)
			printf("usage: hubctl %s\n", v->usage);
		else
			usage(stdout);
		return HUBCTL_EXIT_OK;
	}
	if (!v) {
		if (argc >= 2)
			fprintf(stderr, "hubctl: unknown verb '%s'\n", argv[1]);
		usage(stderr);
		return HUBCTL_EXIT_ERROR;
	}
	return v->run(&o, argc - 1, argv + 1);
}
