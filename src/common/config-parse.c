/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pure parser of hubd.conf and peers.d/NAME.conf: text in, structs out.
 * The syntax is wg-quick's: "[Section]" headers, "Key = Value" lines, '#'
 * comments, keys and section names case-insensitive. Every problem is a
 * diagnostic with its line; parsing goes on after one so that a user sees all
 * of a file's problems in one run.
 *
 * A message never quotes the text of a line: a peer file may be a link to a
 * key, or hold one by a typo. It names keys from our own tables, an unknown
 * key only when it is a short word of letters, and values only once parsed
 * (a number, an address), never as written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "access.h"
#include "config-internal.h"

enum section { SEC_NONE, SEC_OURS, SEC_SKIP };

/* Indexes into iface_keys and peer_keys for the required keys. */
enum { IFACE_KEY_ADDRESS = 3, PEER_KEY_PUBLICKEY = 0, PEER_KEY_ALLOWEDIPS = 2 };

struct parser {
	const char *path;
	struct hubd_diags *diags;
	unsigned n_errors, n_warnings;
	bool gave_up;
	size_t first_diag; /* this file's diagnostics start here */
	enum section section;
	unsigned section_line; /* where our section started, 0 when never */
	unsigned seen[16];     /* per key: the line it was first set on */
	const struct key_def *keys;
	void *conf;
};

struct key_def {
	const char *name;
	void (*set)(struct parser *p, unsigned line, const char *key, char *value);
	bool list;
};

static void report(struct parser *p, unsigned line, bool warning, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void report(struct parser *p, unsigned line, bool warning, const char *fmt, va_list ap)
{
	char msg[512];

	if (p->gave_up || (warning && ++p->n_warnings > HUBD_CONFIG_MAX_ERRORS))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!warning && ++p->n_errors > HUBD_CONFIG_MAX_ERRORS) {
		/* A binary file would otherwise yield an error per line. */
		hubd_diag_add(p->diags, p->path, line, false,
			      "too many errors, ignoring the rest of the file");
		p->gave_up = true;
		return;
	}
	hubd_diag_add(p->diags, p->path, line, warning, "%s", msg);
}

static void __attribute__((format(printf, 3, 4)))
perr(struct parser *p, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(p, line, false, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 3, 4)))
pwarn(struct parser *p, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(p, line, true, fmt, ap);
	va_end(ap);
}

const char *hubd_escape(const char *s, char buf[HUBD_ESCAPE_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; s[i] && o + 8 < HUBD_ESCAPE_LEN; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (s[i])
		memcpy(buf + o, "...", 4);
	else
		buf[o] = '\0';
	return buf;
}

/* Decimal, or hexadecimal after "0x" when hex is allowed; -ERANGE past UINT32_MAX. */
int hubd_parse_u32(const char *s, bool hex, uint32_t *ret)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (hex && (s[0] == '0') && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		v = v * base + d;
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*ret = (uint32_t)v;
	return 0;
}

/* A number in [min, max], with the key named in the error. */
static bool parse_ranged(struct parser *p, unsigned line, const char *key, const char *value,
			 uint32_t min, uint32_t max, uint32_t *ret)
{
	uint32_t v;
	int r = hubd_parse_u32(value, false, &v);

	if (r == -EINVAL) {
		perr(p, line, "%s must be a number", key);
		return false;
	}
	if (r < 0) {
		perr(p, line, "%s is out of range %u..%u", key, min, max);
		return false;
	}
	if (v < min || v > max) {
		perr(p, line, "%s %u is out of range %u..%u", key, v, min, max);
		return false;
	}
	*ret = v;
	return true;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07;
		else
			return false;
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		/* Overlong forms, surrogates and code points past U+10FFFF. */
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
			   end[-1] == '\v' || end[-1] == '\f'))
		*--end = '\0';
	return s;
}

/* wg-quick keys that hubd does not take, with what to write instead. */
static const struct {
	const char *key, *hint;
} key_hints[] = {
    {"PrivateKey", "write the key to a file (mode 0600, owned by root) and name it with "
		   "PrivateKeyFile"},
    {"PresharedKey", "write the key to a file (mode 0600, owned by root) and name it with "
		     "PresharedKeyFile"},
    {"DNS", "DNS is a client setting: pass it to 'hubctl peer add --dns'"},
    {"Table", "hubd adds routes for AllowedIPs itself"},
    {"SaveConfig", "hubd never writes its configuration back"},
    {"PreUp", "hubd runs no hook commands"},
    {"PostUp", "hubd runs no hook commands"},
    {"PreDown", "hubd runs no hook commands"},
    {"PostDown", "hubd runs no hook commands"},
};

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

#define SAFE_WORD_MAX 32

/* s if it is a word fit to repeat in a message (1..32 letters), else NULL: anything longer
 * or with other characters could be a secret. */
static const char *safe_word(const char *s)
{
	size_t n = 0;

	while (is_letter(s[n]) && n <= SAFE_WORD_MAX)
		n++;
	return n && n <= SAFE_WORD_MAX && !s[n] ? s : NULL;
}

/* The key that text starts with, when it is one of ours (*ret_hint NULL) or one of
 * wg-quick's that hubd does not take (*ret_hint says what to write instead); its name is
 * from our tables, never the line's own text. */
static const char *leading_key(const struct parser *p, const char *text, const char **ret_hint)
{
	size_t n = 0;

	while (is_letter(text[n]))
		n++;
	*ret_hint = NULL;
	for (size_t i = 0; n && p->keys[i].name; i++)
		if (strlen(p->keys[i].name) == n && strncasecmp(text, p->keys[i].name, n) == 0)
			return p->keys[i].name;
	for (size_t i = 0; n && i < sizeof(key_hints) / sizeof(key_hints[0]); i++)
		if (strlen(key_hints[i].key) == n && strncasecmp(text, key_hints[i].key, n) == 0) {
			*ret_hint = key_hints[i].hint;
			return key_hints[i].key;
		}
	return NULL;
}

/*
 * A line that is not "Key = Value": say so without repeating it. A known key
 * at its start is named from our tables ("PresharedKey: KEY" is a typo whose
 * line must not be printed).
 */
static void bad_line(struct parser *p, unsigned line, const char *text)
{
	const char *hint, *known = leading_key(p, text, &hint);

	if (known && hint)
		perr(p, line,
		     "line is not KEY = VALUE (it starts like %s, which hubd does not take: %s)",
		     known, hint);
	else if (known)
		perr(p, line, "line is not KEY = VALUE (it starts like %s: write %s = ...)", known,
		     known);
	else
		perr(p, line, "line is not KEY = VALUE or a [Section]");
}

static void unknown_key(struct parser *p, unsigned line, const char *key, const char *section)
{
	const char *word = safe_word(key);

	for (size_t i = 0; i < sizeof(key_hints) / sizeof(key_hints[0]); i++)
		if (strcasecmp(key, key_hints[i].key) == 0) {
			perr(p, line, "%s is not supported in [%s]: %s", key_hints[i].key, section,
			     key_hints[i].hint);
			return;
		}
	if (word)
		perr(p, line, "unknown key '%s' in [%s]", word, section);
	else
		perr(p, line, "unknown key in [%s]", section);
}

/* Call set once per comma-separated element of a list value. */
static void set_list(struct parser *p, const struct key_def *k, unsigned line, char *value)
{
	char *elem = value;

	for (;;) {
		char *comma = strchr(elem, ',');
		char *item;

		if (comma)
			*comma = '\0';
		item = trim(elem);
		if (!*item)
			perr(p, line, "%s has an empty element", k->name);
		else
			k->set(p, line, k->name, item);
		if (!comma)
			break;
		elem = comma + 1;
	}
}

static void key_line(struct parser *p, unsigned line, char *text, const char *section)
{
	char *eq = strchr(text, '='), *key, *value;
	size_t i;

	if (!eq) {
		bad_line(p, line, text);
		return;
	}
	*eq = '\0';
	key = trim(text);
	value = trim(eq + 1);
	/* Keys are words: "PresharedKey: KEY=" splits at the key's own '='. */
	if (!*key ||
	    strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != strlen(key)) {
		bad_line(p, line, key);
		return;
	}
	if (p->section == SEC_NONE) {
		perr(p, line, "%s comes before any section: start the file with [%s]",
		     safe_word(key) ? safe_word(key) : "a key", section);
		return;
	}
	if (p->section == SEC_SKIP)
		return; /* the section header already got its error */
	for (i = 0; p->keys[i].name; i++)
		if (strcasecmp(key, p->keys[i].name) == 0)
			break;
	if (!p->keys[i].name) {
		unknown_key(p, line, key, section);
		return;
	}
	if (!*value) {
		perr(p, line, "%s has no value", p->keys[i].name);
		return;
	}
	if (p->seen[i] && !p->keys[i].list) {
		perr(p, line, "%s is already set on line %u", p->keys[i].name, p->seen[i]);
		return;
	}
	if (!p->seen[i])
		p->seen[i] = line;
	if (p->keys[i].list)
		set_list(p, &p->keys[i], line, value);
	else
		p->keys[i].set(p, line, p->keys[i].name, value);
}

static void section_line(struct parser *p, unsigned line, char *text, const char *ours)
{
	size_t n = strlen(text);
	char *name;

	p->section = SEC_SKIP;
	if (text[n - 1] != ']') {
		perr(p, line, "malformed section header: write [%s]", ours);
		return;
	}
	text[n - 1] = '\0';
	name = trim(text + 1);
	if (strcasecmp(name, ours) == 0) {
		if (p->section_line) {
			perr(p, line, "a second [%s] section (the first is on line %u)%s", ours,
			     p->section_line,
			     strcmp(ours, "Peer") == 0
				 ? ": each peer goes in its own peers.d/NAME.conf"
				 : "");
			return;
		}
		p->section = SEC_OURS;
		p->section_line = line;
	} else if (strcasecmp(name, "Peer") == 0) {
		perr(p, line,
		     "[Peer] does not belong in hubd.conf: each peer goes in its own "
		     "peers.d/NAME.conf");
	} else if (strcasecmp(name, "Interface") == 0) {
		perr(p, line, "[Interface] does not belong in a peer file: it goes in hubd.conf");
	} else if (safe_word(name)) {
		perr(p, line, "unknown section [%s]", name);
	} else {
		perr(p, line, "unknown section: write [%s]", ours);
	}
}

/* Split text into lines and hand each meaningful one to the section or key handler. */
static void parse_text(struct parser *p, const char *text, size_t len, const char *ours)
{
	char buf[HUBD_CONFIG_MAX_LINE + 1];
	size_t pos = 0;
	unsigned line = 0;

	if (len > HUBD_CONFIG_MAX_FILE_SIZE) {
		perr(p, 0, "file is larger than %u bytes", HUBD_CONFIG_MAX_FILE_SIZE);
		p->gave_up = true;
		return;
	}
	while (pos < len && !p->gave_up) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
		char *s, *hash;

		line++;
		if (n && text[end - 1] == '\r')
			n--;
		if (n > HUBD_CONFIG_MAX_LINE)
			perr(p, line, "line is longer than %u bytes", HUBD_CONFIG_MAX_LINE);
		else if (memchr(text + pos, '\0', n))
			perr(p, line, "line contains a NUL byte: not a text file?");
		else if (!utf8_valid((const unsigned char *)text + pos, n))
			perr(p, line, "line is not valid UTF-8");
		else {
			memcpy(buf, text + pos, n);
			buf[n] = '\0';
			hash = strchr(buf, '#');
			if (hash)
				*hash = '\0';
			s = trim(buf);
			if (*s == '[')
				section_line(p, line, s, ours);
			else if (*s)
				key_line(p, line, s, ours);
		}
		pos = end + 1;
	}
}

/* Append to an array whose capacity is the next power of two of its length. */
static bool grow(void **arr, size_t n, size_t size)
{
	void *a;

	if (n && (n & (n - 1)))
		return true;
	/* From one: most peers have one or two AllowedIPs, and a big hub keeps them all. */
	a = realloc(*arr, (n ? n * 2 : 1) * size);
	if (!a)
		return false;
	*arr = a;
	return true;
}

static bool push_prefix(struct parser *p, unsigned line, struct hubd_prefix **arr, unsigned **lines,
			size_t *n, const struct hubd_prefix *pfx)
{
	if (!grow((void **)arr, *n, sizeof(**arr)) || !grow((void **)lines, *n, sizeof(**lines))) {
		perr(p, line, "out of memory");
		return false;
	}
	(*arr)[*n] = *pfx;
	(*lines)[*n] = line;
	(*n)++;
	return true;
}

static bool parse_prefix_value(struct parser *p, unsigned line, const char *key, const char *value,
			       struct hubd_prefix *ret, bool *ret_host_bits)
{
	int r = hubd_prefix_parse(value, ret, ret_host_bits);

	if (r == -ERANGE)
		perr(p, line, "%s: the prefix length is over /32 (IPv4) or /128 (IPv6)", key);
	else if (r < 0)
		perr(p, line, "%s is not an IP address or ADDRESS/LENGTH prefix", key);
	return r >= 0;
}

static bool check_endpoint(struct parser *p, unsigned line, const char *key, const char *value,
			   char **ret_host, uint16_t *ret_port)
{
	int r = hubd_endpoint_parse(value, ret_host, ret_port);

	if (r == -ERANGE)
		perr(p, line, "%s: the port must be 1..65535", key);
	else if (r == -ENOMEM)
		perr(p, line, "out of memory");
	else if (r < 0 && (!strchr(value, ':') || (value[0] == '[' && !strstr(value, "]:"))))
		perr(p, line, "%s has no port: write host:port, or [address]:port for IPv6", key);
	else if (r < 0 && value[0] != '[' && strchr(value, ':') != strrchr(value, ':'))
		perr(p, line, "%s: write an IPv6 address in brackets, as [address]:port", key);
	else if (r < 0)
		perr(p, line, "%s is not host:port", key);
	return r >= 0;
}

/* [Interface] keys. */

#define IFNAME_RULE "(1 to %d letters, digits, '_', '.', '@', '+' or '-')"

static void set_name(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;

	if (!hubd_is_valid_ifname(value)) {
		perr(p, line, "Name is not a valid interface name " IFNAME_RULE, IFNAMSIZ - 1);
		return;
	}
	strcpy(c->name, value);
}

static void set_strdup(struct parser *p, unsigned line, char **dst, const char *value)
{
	free(*dst);
	*dst = strdup(value);
	if (!*dst)
		perr(p, line, "out of memory");
}

static void set_private_key_file(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;

	set_strdup(p, line, &c->private_key_file, value);
	c->private_key_file_line = line;
}

static void set_listen_port(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;
	uint32_t v;

	if (parse_ranged(p, line, key, value, 0, 65535, &v))
		c->listen_port = (uint16_t)v;
}

static void set_address(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;
	char f[HUBD_PREFIX_STRLEN];
	struct hubd_prefix a;

	if (!parse_prefix_value(p, line, key, value, &a, NULL))
		return;
	if (c->n_addresses >= HUBD_MAX_ADDRESSES) {
		perr(p, line, "more than %d Address entries", HUBD_MAX_ADDRESSES);
		return;
	}
	for (size_t i = 0; i < c->n_addresses; i++)
		if (c->addresses[i].family == a.family &&
		    memcmp(&c->addresses[i].addr, &a.addr, sizeof(a.addr)) == 0) {
			hubd_prefix_format(&a, f, sizeof(f));
			perr(p, line, "Address %s is already given on line %u", f,
			     c->address_lines[i]);
			return;
		}
	push_prefix(p, line, &c->addresses, &c->address_lines, &c->n_addresses, &a);
}

static void set_peer_routes(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;
	struct hubd_prefix a;

	if (!parse_prefix_value(p, line, key, value, &a, NULL))
		return;
	if (c->n_peer_routes >= HUBD_MAX_ADDRESSES) {
		perr(p, line, "more than %d PeerRoutes entries", HUBD_MAX_ADDRESSES);
		return;
	}
	hubd_prefix_mask(&a);
	push_prefix(p, line, &c->peer_routes, &c->peer_route_lines, &c->n_peer_routes, &a);
}

static void set_mtu(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;

	if (parse_ranged(p, line, key, value, HUBD_MTU_MIN, HUBD_MTU_MAX, &c->mtu))
		c->mtu_line = line;
}

static void set_fwmark(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;

	/* wg(8) spells "no mark" as "off". */
	if (strcasecmp(value, "off") == 0) {
		c->fwmark = 0;
		return;
	}
	if (hubd_parse_u32(value, true, &c->fwmark) < 0)
		perr(p, line, "FirewallMark is not a 32-bit number (decimal or 0x hex) or off");
}

/* Masquerade = PREFIX: the LAN behind this machine, whatever its interface is called. */
static void set_masquerade_prefix(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;
	char f[HUBD_PREFIX_STRLEN];
	struct hubd_prefix a;

	if (!parse_prefix_value(p, line, key, value, &a, NULL))
		return;
	hubd_prefix_mask(&a);
	for (size_t i = 0; i < c->n_masquerade_prefixes; i++)
		if (hubd_prefix_cmp(&c->masquerade_prefixes[i], &a) == 0) {
			hubd_prefix_format(&a, f, sizeof(f));
			perr(p, line, "Masquerade %s is already given on line %u", f,
			     c->masquerade_prefix_lines[i]);
			return;
		}
	if (c->n_masquerade_prefixes >= HUBD_MAX_MASQUERADE) {
		perr(p, line, "more than %d Masquerade prefixes", HUBD_MAX_MASQUERADE);
		return;
	}
	push_prefix(p, line, &c->masquerade_prefixes, &c->masquerade_prefix_lines,
		    &c->n_masquerade_prefixes, &a);
}

static void set_masquerade(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;

	/*
	 * Interface names hold no '/' or ':'; digits and dots alone are an
	 * address, mistyped or not ("192.168.1.300" is no interface).
	 */
	if (strpbrk(value, "/:") ||
	    (strspn(value, "0123456789.") == strlen(value) && strpbrk(value, "0123456789"))) {
		set_masquerade_prefix(p, line, key, value);
		return;
	}
	if (!hubd_is_valid_ifname(value)) {
		perr(p, line,
		     "Masquerade is not a valid interface name " IFNAME_RULE " nor a prefix",
		     IFNAMSIZ - 1);
		return;
	}
	/* Not repeated in the message: a name is the line's own text, and messages quote none. */
	for (size_t i = 0; i < c->n_masquerade; i++)
		if (strcmp(c->masquerade[i], value) == 0) {
			perr(p, line, "Masquerade names an interface given before in this file");
			return;
		}
	if (c->n_masquerade >= HUBD_MAX_MASQUERADE) {
		perr(p, line, "more than %d Masquerade interfaces", HUBD_MAX_MASQUERADE);
		return;
	}
	if (!grow((void **)&c->masquerade, c->n_masquerade, sizeof(char *))) {
		perr(p, line, "out of memory");
		return;
	}
	c->masquerade[c->n_masquerade] = strdup(value);
	if (!c->masquerade[c->n_masquerade])
		perr(p, line, "out of memory");
	else
		c->n_masquerade++;
}

static void set_forward(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;

	if (strcasecmp(value, "hub") == 0)
		c->forward = HUBD_FORWARD_HUB;
	else if (strcasecmp(value, "isolate") == 0)
		c->forward = HUBD_FORWARD_ISOLATE;
	else if (strcasecmp(value, "off") == 0)
		c->forward = HUBD_FORWARD_OFF;
	else
		perr(p, line, "Forward must be hub, isolate or off");
}

static void set_health(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;
	uint32_t v;

	if (parse_ranged(p, line, key, value, 1, HUBD_HEALTH_MAX, &v))
		c->health_interval = v;
}

static void set_stale(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;
	uint32_t v;

	if (!parse_ranged(p, line, key, value, 1, HUBD_STALE_MAX, &v))
		return;
	c->stale_after = v;
	/* WireGuard re-handshakes only every 2 minutes (REKEY_AFTER_TIME) plus jitter. */
	if (v < HUBD_STALE_MIN_SANE)
		pwarn(p, line,
		      "StaleAfter %u is shorter than WireGuard's %u s between handshakes: "
		      "healthy peers will be reported stale",
		      v, HUBD_STALE_MIN_SANE);
}

static void set_max_peer_prefixes(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;

	parse_ranged(p, line, key, value, 1, HUBD_MAX_PEER_PREFIXES_LIMIT, &c->max_peer_prefixes);
}

static void set_max_prefixes(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;

	parse_ranged(p, line, key, value, 1, HUBD_MAX_PREFIXES_LIMIT, &c->max_prefixes);
}

static void set_public_endpoint(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;
	char *host = NULL;
	uint16_t port;

	if (!check_endpoint(p, line, key, value, &host, &port))
		return;
	free(host);
	set_strdup(p, line, &c->public_endpoint, value);
}

/*
 * MetricsListen: a literal address, never a name, as hubd binds exactly it; "off" (the default)
 * serves nothing.
 */
static void set_metrics_listen(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_iface_conf *c = p->conf;
	union wgnl_endpoint ep = {0};
	char *host = NULL;
	uint16_t port;

	if (strcasecmp(value, "off") == 0) {
		c->metrics_listen = ep;
		return;
	}
	if (!check_endpoint(p, line, key, value, &host, &port))
		return;
	if (inet_pton(AF_INET, host, &ep.addr4.sin_addr) == 1) {
		ep.addr4.sin_family = AF_INET;
		ep.addr4.sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &ep.addr6.sin6_addr) == 1) {
		ep.addr6.sin6_family = AF_INET6;
		ep.addr6.sin6_port = htons(port);
	}
	free(host);
	if (!ep.addr.sa_family) {
		perr(p, line, "%s must be an IP address and a port (e.g. 10.8.0.1:9586), or off",
		     key);
		return;
	}
	if ((ep.addr.sa_family == AF_INET && ep.addr4.sin_addr.s_addr == htonl(INADDR_ANY)) ||
	    (ep.addr.sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&ep.addr6.sin6_addr)))
		pwarn(p, line,
		      "%s on every address: the metrics are reachable from outside the tunnel",
		      key);
	c->metrics_listen = ep;
}

/* clang-format off */
static const struct key_def iface_keys[] = {
	{"Name", set_name, false},
	{"PrivateKeyFile", set_private_key_file, false},
	{"ListenPort", set_listen_port, false},
	{"Address", set_address, true},
	{"MTU", set_mtu, false},
	{"FirewallMark", set_fwmark, false},
	{"Masquerade", set_masquerade, true},
	{"Forward", set_forward, false},
	{"HealthInterval", set_health, false},
	{"StaleAfter", set_stale, false},
	{"PublicEndpoint", set_public_endpoint, false},
	{"MaxPeerPrefixes", set_max_peer_prefixes, false},
	{"MaxPrefixes", set_max_prefixes, false},
	{"PeerRoutes", set_peer_routes, true},
	{"MetricsListen", set_metrics_listen, false},
	{NULL, NULL, false},
};
/* clang-format on */

/* [Peer] keys. */

static void set_public_key(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_peer_conf *c = p->conf;

	if (wgnl_key_from_base64(c->public_key, value) < 0) {
		perr(p, line,
		     "PublicKey is not a WireGuard key (44 characters of base64 encoding "
		     "32 bytes, as 'wg pubkey' prints)");
		return;
	}
	c->public_key_line = line;
}

static void set_psk_file(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_peer_conf *c = p->conf;

	set_strdup(p, line, &c->psk_file, value);
	c->psk_file_line = line;
}

static void set_allowed_ips(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_peer_conf *c = p->conf;
	char given[HUBD_PREFIX_STRLEN], masked[HUBD_PREFIX_STRLEN];
	struct hubd_prefix a;
	bool host_bits;

	if (!parse_prefix_value(p, line, key, value, &a, &host_bits))
		return;
	if (host_bits) {
		/* The kernel masks it anyway; say so rather than surprise. Both are printed
		 * from the parsed address, not from the text. */
		hubd_prefix_format(&a, given, sizeof(given));
		hubd_prefix_mask(&a);
		hubd_prefix_format(&a, masked, sizeof(masked));
		pwarn(p, line, "AllowedIPs %s has host bits set; using %s", given, masked);
	}
	push_prefix(p, line, &c->allowed_ips, &c->allowed_ips_lines, &c->n_allowed_ips, &a);
}

static void set_endpoint(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_peer_conf *c = p->conf;
	char *host = NULL;

	if (!check_endpoint(p, line, key, value, &host, &c->endpoint_port))
		return;
	free(c->endpoint_host);
	c->endpoint_host = host;
}

static void set_keepalive(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_peer_conf *c = p->conf;
	uint32_t v;

	if (strcasecmp(value, "off") == 0)
		c->keepalive = 0;
	else if (parse_ranged(p, line, key, value, 0, 65535, &v))
		c->keepalive = (uint16_t)v;
}

static bool push_access(struct parser *p, unsigned line, struct hubd_peer_conf *c,
			const struct hubd_access *a)
{
	if (!grow((void **)&c->access, c->n_access, sizeof(*c->access)) ||
	    !grow((void **)&c->access_lines, c->n_access, sizeof(*c->access_lines))) {
		perr(p, line, "out of memory");
		return false;
	}
	c->access[c->n_access] = *a;
	c->access_lines[c->n_access++] = line;
	return true;
}

/* One Access entry; "none" alone says the peer may start no connection at all. */
static void set_access(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_peer_conf *c = p->conf;
	struct hubd_access a;
	const char *msg;

	if (strcasecmp(value, "none") == 0) {
		if (c->n_access)
			perr(p, line, "Access none cannot be combined with other entries");
		c->has_access = true;
		c->access_none_line = line;
		return;
	}
	if (c->access_none_line) {
		perr(p, line, "Access none on line %u cannot be combined with other entries",
		     c->access_none_line);
		return;
	}
	if (hubd_access_parse(value, &a, &msg) < 0) {
		perr(p, line, "Access: %s", msg);
		return;
	}
	c->has_access = true;
	push_access(p, line, c, &a);
}

static void set_expires(struct parser *p, unsigned line, const char *key, char *value)
{
	struct hubd_peer_conf *c = p->conf;
	const char *msg;

	if (hubd_expiry_parse(value, &c->expires_at, &msg) < 0) {
		perr(p, line, "%s", msg);
		c->expires_at = 0;
		return;
	}
	c->expires_line = line;
}

/* clang-format off */
static const struct key_def peer_keys[] = {
	{"PublicKey", set_public_key, false},
	{"PresharedKeyFile", set_psk_file, false},
	{"AllowedIPs", set_allowed_ips, true},
	{"Endpoint", set_endpoint, false},
	{"PersistentKeepalive", set_keepalive, false},
	{"Access", set_access, true},
	{"ExpiresAt", set_expires, false},
	{NULL, NULL, false},
};
/* clang-format on */

/* Checks at the end add diagnostics for earlier lines: put the file's in line order. */
static void sort_diags(struct parser *p)
{
	struct hubd_diag *it = p->diags->items;

	for (size_t i = p->first_diag + 1; i < p->diags->n; i++) {
		struct hubd_diag x = it[i];
		size_t j = i;

		for (; j > p->first_diag && it[j - 1].line > x.line; j--)
			it[j] = it[j - 1];
		it[j] = x;
	}
}

/* Checks that need the whole [Interface]. */
/*
 * A Masquerade prefix names a LAN outside the tunnel: one that overlaps the
 * tunnel subnet would make spokes' traffic to each other look as if it came
 * from this machine, and break the return path it was meant to fix.
 */
static void check_masquerade_prefixes(struct parser *p, const struct hubd_iface_conf *c)
{
	char m[HUBD_PREFIX_STRLEN];

	for (size_t i = 0; i < c->n_masquerade_prefixes; i++)
		for (size_t k = 0; k < c->n_addresses; k++) {
			if (!hubd_prefix_overlap(&c->masquerade_prefixes[i], &c->addresses[k]))
				continue;
			hubd_prefix_format(&c->masquerade_prefixes[i], m, sizeof(m));
			perr(p, c->masquerade_prefix_lines[i],
			     "Masquerade %s overlaps the tunnel subnet of the Address on line %u: "
			     "name the LAN behind this machine",
			     m, c->address_lines[k]);
			break;
		}
}

static void finish_iface(struct parser *p, struct hubd_iface_conf *c)
{
	if (!p->section_line) {
		if (!p->gave_up)
			perr(p, 0, "no [Interface] section");
		return;
	}
	if (!p->seen[IFACE_KEY_ADDRESS])
		perr(p, p->section_line,
		     "[Interface] needs at least one Address, such as "
		     "10.8.0.1/24");
	for (size_t i = 0; i < c->n_addresses; i++)
		if (c->addresses[i].family == AF_INET6 && c->mtu < HUBD_MTU_MIN_IPV6) {
			perr(p, c->mtu_line,
			     "MTU %u is below %u, the minimum for IPv6 (Address on "
			     "line %u is IPv6)",
			     c->mtu, HUBD_MTU_MIN_IPV6, c->address_lines[i]);
			break;
		}
	check_masquerade_prefixes(p, c);
}

int hubd_parse_interface(const char *path, const char *text, size_t len,
			 struct hubd_iface_conf *ret, struct hubd_diags *diags)
{
	struct hubd_iface_conf c = {
	    .name = HUBD_DEFAULT_IFNAME,
	    .mtu = HUBD_DEFAULT_MTU,
	    .forward = HUBD_FORWARD_HUB,
	    .health_interval = HUBD_DEFAULT_HEALTH,
	    .stale_after = HUBD_DEFAULT_STALE,
	    .max_peer_prefixes = HUBD_DEFAULT_MAX_PEER_PREFIXES,
	    .max_prefixes = HUBD_DEFAULT_MAX_PREFIXES,
	};
	struct parser p = {
	    .path = path, .diags = diags, .keys = iface_keys, .conf = &c, .first_diag = diags->n};

	parse_text(&p, text, len, "Interface");
	finish_iface(&p, &c);
	sort_diags(&p);
	if (p.n_errors) {
		hubd_iface_conf_clear(&c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

/*
 * A prefix the same file already covers is harmless to the kernel but a sign
 * of a typo. Sorting puts each prefix right after the one that covers it.
 */
static void warn_nested(struct parser *p, struct hubd_peer_conf *c)
{
	struct lined {
		struct hubd_prefix pfx; /* first, so hubd_prefix_cmp sorts these */
		unsigned line;
	} * s;
	const struct lined *root = NULL;
	char a[HUBD_PREFIX_STRLEN], b[HUBD_PREFIX_STRLEN];
	size_t n = c->n_allowed_ips;

	if (n < 2)
		return;
	s = malloc(n * sizeof(*s));
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		s[i] = (struct lined){c->allowed_ips[i], c->allowed_ips_lines[i]};
	qsort(s, n, sizeof(*s), hubd_prefix_cmp);
	for (size_t i = 0; i < n; i++) {
		if (root && hubd_prefix_contains(&root->pfx, &s[i].pfx)) {
			hubd_prefix_format(&s[i].pfx, a, sizeof(a));
			hubd_prefix_format(&root->pfx, b, sizeof(b));
			pwarn(p, s[i].line, "AllowedIPs %s is already covered by %s on line %u", a,
			      b, root->line);
		} else {
			root = &s[i];
		}
	}
	free(s);
}

static void finish_peer(struct parser *p, struct hubd_peer_conf *c)
{
	if (!p->section_line) {
		if (!p->gave_up)
			perr(p, 0, "no [Peer] section");
		return;
	}
	/* A key given but invalid already has its error; do not add "missing". */
	if (!p->seen[PEER_KEY_PUBLICKEY])
		perr(p, p->section_line, "[Peer] has no PublicKey");
	if (!p->seen[PEER_KEY_ALLOWEDIPS])
		perr(p, p->section_line,
		     "[Peer] has no AllowedIPs: give at least its tunnel address, such as "
		     "10.8.0.2/32");
	if (!p->n_errors)
		warn_nested(p, c);
}

int hubd_parse_peer(const char *path, const char *name, const char *text, size_t len,
		    struct hubd_peer_conf *ret, struct hubd_diags *diags)
{
	struct hubd_peer_conf c = {0};
	struct parser p = {
	    .path = path, .diags = diags, .keys = peer_keys, .conf = &c, .first_diag = diags->n};

	c.name = strdup(name ? name : "");
	c.path = strdup(path ? path : "");
	if (!c.name || !c.path)
		perr(&p, 0, "out of memory");
	parse_text(&p, text, len, "Peer");
	finish_peer(&p, &c);
	sort_diags(&p);
	if (p.n_errors) {
		hubd_peer_conf_clear(&c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}
