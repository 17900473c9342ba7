/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Table-driven tests of the config parser, verifier and loader: one row per
 * rule, accepted and rejected, each with the file:line it must report.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

/* By path: "config.h" alone would find autoconf's header in the build dir. */
#include "config.h"
#include "config-internal.h"

/* Keys for "@K1@".."@K4@" in the rows; @KH@ is the hub's own public key. */
static char keys[5][WGNL_KEY_B64_LEN + 1];
static wgnl_key hub_priv;
static const char *hub_priv_b64 = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";

static void make_keys(void)
{
	wgnl_key k, pub;

	for (int i = 0; i < 4; i++) {
		memset(k, 0x11 * (i + 1), sizeof(k));
		wgnl_key_to_base64(keys[i], k);
	}
	if (wgnl_key_from_base64(hub_priv, hub_priv_b64) < 0)
		abort();
	wgnl_key_public_from_private(pub, hub_priv);
	wgnl_key_to_base64(keys[4], pub);
}

/* The row's text with @Kn@ replaced by key n. */
static char *expand(const char *t)
{
	char *out = malloc(strlen(t) * 2 + 256), *o = out;

	while (*t) {
		if (t[0] == '@' && t[1] == 'K' && t[2] && t[3] == '@') {
			int i = t[2] == 'H' ? 4 : t[2] - '1';

			o = stpcpy(o, keys[i]);
			t += 4;
		} else {
			*o++ = *t++;
		}
	}
	*o = '\0';
	return out;
}

/* Is there a diagnostic at exactly "where" ("path:line" or "path") containing msg? */
static bool has_diag(const struct hubd_diags *d, const char *where, const char *msg)
{
	char buf[4096];

	for (size_t i = 0; i < d->n; i++) {
		if (d->items[i].line)
			snprintf(buf, sizeof(buf), "%s:%u", d->items[i].path, d->items[i].line);
		else
			snprintf(buf, sizeof(buf), "%s", d->items[i].path);
		if (strcmp(buf, where) == 0 && strstr(d->items[i].message, msg))
			return true;
	}
	return false;
}

static void dump(const struct hubd_diags *d)
{
	hubd_diags_print(d, stderr);
}

struct row {
	const char *text;
	bool ok;
	const char *where; /* expected diagnostic location, NULL: none at all */
	const char *msg;   /* substring of its message */
};

#define IF "[Interface]\nAddress = 10.8.0.1/24\n"

static const struct row iface_rows[] = {
    /* syntax */
    {IF, true, NULL, NULL},
    {"[interface]\r\naddress=10.8.0.1/24 # the hub\r\nLISTENPORT = 51820\r\n", true, NULL, NULL},
    {"  # comment\n\n[ Interface ]\n\tAddress\t=\t10.8.0.1/24\t\n", true, NULL, NULL},
    {"Address = 10.8.0.1/24\n[Interface]\n", false, "hubd.conf:1", "before any section"},
    {IF "Foo = bar\n", false, "hubd.conf:3", "unknown key 'Foo' in [Interface]"},
    {IF "[Foo]\n", false, "hubd.conf:3", "unknown section [Foo]"},
    {IF "[Interface\n", false, "hubd.conf:3", "malformed section header"},
    {IF "[Interface]\n", false, "hubd.conf:3", "a second [Interface] section"},
    {IF "[Peer]\nPublicKey = @K1@\n", false, "hubd.conf:3", "[Peer] does not belong"},
    {IF "just words\n", false, "hubd.conf:3", "line is not KEY = VALUE or a [Section]"},
    {IF "MTU =\n", false, "hubd.conf:3", "MTU has no value"},
    {IF "ListenPort = 1\nListenPort = 2\n", false, "hubd.conf:4", "already set on line 3"},
    {IF "PrivateKey = @K1@\n", false, "hubd.conf:3", "PrivateKeyFile"},
    {"", false, "hubd.conf", "no [Interface] section"},
    {"# only a comment\n", false, "hubd.conf", "no [Interface] section"},
    {"[Interface]\nMTU = 1420\n", false, "hubd.conf:1", "needs at least one Address"},
    /* Address */
    {"[Interface]\nAddress = 10.8.0.1/24, fd00::1/64\nAddress = 10.9.0.1\n", true, NULL, NULL},
    {"[Interface]\nAddress = 10.8.0.300/24\n", false, "hubd.conf:2", "not an IP address"},
    {"[Interface]\nAddress = 10.8.0.1/33\n", false, "hubd.conf:2", "over /32"},
    {"[Interface]\nAddress = fd00::1/129\n", false, "hubd.conf:2", "over /32 (IPv4) or /128"},
    {"[Interface]\nAddress = 10.8.0.1/\n", false, "hubd.conf:2", "not an IP address"},
    {"[Interface]\nAddress = 10.8.0.1/24,,10.9.0.1/24\n", false, "hubd.conf:2", "empty element"},
    {"[Interface]\nAddress = 10.8.0.1/24\nAddress = 10.8.0.1/16\n", false, "hubd.conf:3",
     "already given on line 2"},
    /* ListenPort */
    {IF "ListenPort = 0\n", true, NULL, NULL},
    {IF "ListenPort = 65535\n", true, NULL, NULL},
    {IF "ListenPort = 65536\n", false, "hubd.conf:3", "out of range 0..65535"},
    {IF "ListenPort = -1\n", false, "hubd.conf:3", "must be a number"},
    {IF "ListenPort = 99999999999999999999\n", false, "hubd.conf:3", "out of range"},
    /* MTU */
    {IF "MTU = 576\n", true, NULL, NULL},
    {IF "MTU = 575\n", false, "hubd.conf:3", "out of range 576..65535"},
    {IF "MTU = 65536\n", false, "hubd.conf:3", "out of range"},
    {IF "Address = fd00::1/64\nMTU = 1280\n", true, NULL, NULL},
    {IF "MTU = 1279\nAddress = fd00::1/64\n", false, "hubd.conf:3",
     "minimum for IPv6 (Address on line 4"},
    /* FirewallMark */
    {IF "FirewallMark = 0x10\n", true, NULL, NULL},
    {IF "FirewallMark = 4294967295\n", true, NULL, NULL},
    {IF "FirewallMark = off\n", true, NULL, NULL},
    {IF "FirewallMark = 0x100000000\n", false, "hubd.conf:3", "not a 32-bit number"},
    {IF "FirewallMark = 12ab\n", false, "hubd.conf:3", "not a 32-bit number"},
    /* Forward */
    {IF "Forward = isolate\n", true, NULL, NULL},
    {IF "forward = OFF\n", true, NULL, NULL},
    {IF "Forward = bridge\n", false, "hubd.conf:3", "hub, isolate or off"},
    /* HealthInterval, StaleAfter */
    {IF "HealthInterval = 1\n", true, NULL, NULL},
    {IF "HealthInterval = 0\n", false, "hubd.conf:3", "out of range 1..3600"},
    {IF "HealthInterval = 3601\n", false, "hubd.conf:3", "out of range 1..3600"},
    {IF "StaleAfter = 86400\n", true, NULL, NULL},
    {IF "StaleAfter = 0\n", false, "hubd.conf:3", "out of range 1..86400"},
    {IF "StaleAfter = 86401\n", false, "hubd.conf:3", "out of range"},
    {IF "StaleAfter = 100\n", true, "hubd.conf:3", "shorter than WireGuard's"},
    /* PublicEndpoint */
    {IF "PublicEndpoint = vpn.example.org:51820\n", true, NULL, NULL},
    {IF "PublicEndpoint = [2001:db8::1]:51820\n", true, NULL, NULL},
    {IF "PublicEndpoint = vpn.example.org\n", false, "hubd.conf:3", "has no port"},
    {IF "PublicEndpoint = 2001:db8::1:51820\n", false, "hubd.conf:3", "in brackets"},
    {IF "PublicEndpoint = vpn.example.org:0\n", false, "hubd.conf:3", "port must be 1..65535"},
    {IF "PublicEndpoint = bad host:1\n", false, "hubd.conf:3", "is not host:port"},
    /* MetricsListen: an address hubd binds, never a name */
    {IF "MetricsListen = 10.8.0.1:9586\n", true, NULL, NULL},
    {IF "MetricsListen = [fd00::1]:9586\n", true, NULL, NULL},
    {IF "MetricsListen = off\n", true, NULL, NULL},
    {IF "MetricsListen = 10.8.0.1:9586\nMetricsListen = off\n", false, "hubd.conf:4",
     "already set"},
    {IF "MetricsListen = metrics.example:9586\n", false, "hubd.conf:3", "must be an IP address"},
    {IF "MetricsListen = 10.8.0.1\n", false, "hubd.conf:3", "has no port"},
    {IF "MetricsListen = 10.8.0.1:0\n", false, "hubd.conf:3", "port must be 1..65535"},
    {IF "MetricsListen = 0.0.0.0:9586\n", true, "hubd.conf:3", "outside the tunnel"},
    {IF "MetricsListen = [::]:9586\n", true, "hubd.conf:3", "outside the tunnel"},
    /* Masquerade, Name */
    {IF "Masquerade = eth0, wlan0\nMasquerade = ens3\n", true, NULL, NULL},
    {IF "Masquerade = eth0/x\n", false, "hubd.conf:3", "Masquerade is not an IP address"},
    /* Masquerade by prefix: the LAN behind a gateway, whatever its interface's name. */
    {IF "Masquerade = 192.168.1.0/24, eth0\nMasquerade = fd00:1::/64, 172.16.0.0/12\n", true, NULL,
     NULL},
    {IF "Masquerade = 192.168.1.0/24\nMasquerade = 192.168.1.7/24\n", false, "hubd.conf:4",
     "Masquerade 192.168.1.0/24 is already given on line 3"},
    {IF "Masquerade = 192.168.1.300\n", false, "hubd.conf:3", "Masquerade is not an IP address"},
    {IF "Masquerade = 192.168.1.0/33\n", false, "hubd.conf:3", "over /32"},
    {IF "Masquerade = 10.8.0.0/16\n", false, "hubd.conf:3",
     "Masquerade 10.8.0.0/16 overlaps the tunnel subnet of the Address on line 2"},
    {IF "Masquerade = 10.8.0.7\n", false, "hubd.conf:3", "overlaps the tunnel subnet"},
    {IF "Masquerade = eth0\nMasquerade = eth0\n", false, "hubd.conf:4", "given before"},
    {IF "Masquerade = abcdefghijklmnop\n", false, "hubd.conf:3", "not a valid interface"},
    {IF "Name = wg-hub\n", true, NULL, NULL},
    {IF "Name = abcdefghijklmnop\n", false, "hubd.conf:3", "not a valid interface name"},
    {IF "Name = a:b\n", false, "hubd.conf:3", "not a valid interface name"},
    {IF "PrivateKeyFile = /etc/hubd/private.key\n", true, NULL, NULL},
    /* Interface names go into nftables rules: nothing but [A-Za-z0-9_.@+-] (issue 16). */
    {IF "Masquerade = eth0.100, br-lan, a@b, a+b, a_b, ABCDEFGHIJKLMNO\n", true, NULL, NULL},
    {IF "Masquerade = e\";drop;oif\"lo\n", false, "hubd.conf:3", "not a valid interface name"},
    {IF "Masquerade = eth0 x\n", false, "hubd.conf:3", "not a valid interface name"},
    {IF "Masquerade = eth{0}\n", false, "hubd.conf:3", "not a valid interface name"},
    {IF "Masquerade = ..\n", false, "hubd.conf:3", "not a valid interface name"},
    {IF "Name = wg$0\n", false, "hubd.conf:3", "not a valid interface name"},
    {IF "Name = wg\\0\n", false, "hubd.conf:3", "not a valid interface name"},
    {IF "Name = wg'0\n", false, "hubd.conf:3", "not a valid interface name"},
    /* MaxPeerPrefixes, MaxPrefixes */
    {IF "MaxPeerPrefixes = 1\nMaxPrefixes = 100000000\n", true, NULL, NULL},
    {IF "MaxPeerPrefixes = 0\n", false, "hubd.conf:3",
     "MaxPeerPrefixes 0 is out of range 1..1000000"},
    {IF "MaxPrefixes = 100000001\n", false, "hubd.conf:3", "out of range 1..100000000"},
    {IF "MaxPrefixes = lots\n", false, "hubd.conf:3", "MaxPrefixes must be a number"},
    /* hostile bytes */
    {IF "MTU = 1420\xff\n", false, "hubd.conf:3", "not valid UTF-8"},
    {IF "# caf\xc3\xa9 is fine in a comment\n", true, NULL, NULL},
    {IF "# \xc0\xaf overlong\n", false, "hubd.conf:3", "not valid UTF-8"},
    {IF "Name = w\xc3\xa9\n", false, "hubd.conf:3", "Name is not a valid interface name"},
};

static const struct row peer_rows[] = {
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n", true, NULL, NULL},
    {"[peer]\r\npublickey=@K1@ # phone\r\nallowedips = 10.8.0.2/32, fd00::2/128\r\n"
     "ALLOWEDIPS = 192.168.1.0/24\r\nEndpoint = [2001:db8::2]:51820\r\n"
     "PersistentKeepalive = 25\r\nPresharedKeyFile = psk/x.psk\r\n",
     true, NULL, NULL},
    {"PublicKey = @K1@\n[Peer]\n", false, "peers.d/x.conf:1",
     "before any section: start the "
     "file with [Peer]"},
    {"", false, "peers.d/x.conf", "no [Peer] section"},
    {"\x7f"
     "ELF\x02\x01\x01\x00\x00\x00",
     false, "peers.d/x.conf:1", "NUL byte"},
    {"[Peer]\nAllowedIPs = 10.8.0.2/32\n", false, "peers.d/x.conf:1", "has no PublicKey"},
    {"[Peer]\nPublicKey = @K1@\n", false, "peers.d/x.conf:1", "has no AllowedIPs"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n[Peer]\n", false, "peers.d/x.conf:4",
     "each peer goes in its own peers.d/NAME.conf"},
    {"[Interface]\n[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n", false, "peers.d/x.conf:1",
     "[Interface] does not belong in a peer file"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nBogus = 1\n", false, "peers.d/x.conf:4",
     "unknown key 'Bogus' in [Peer]"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPresharedKey = @K2@\n", false,
     "peers.d/x.conf:4", "PresharedKeyFile"},
    /* PublicKey */
    {"[Peer]\nPublicKey = abc\nAllowedIPs = 10.8.0.2/32\n", false, "peers.d/x.conf:2",
     "not a WireGuard key"},
    {"[Peer]\nPublicKey = ERERERERERERERERERERERERERERERERERERERERERE\nAllowedIPs = 10.8.0.2/32\n",
     false, "peers.d/x.conf:2", "not a WireGuard key"},
    {"[Peer]\nPublicKey = ERERERERERERERERERERERERERERERERERERERERERF=\nAllowedIPs = 10.8.0.2/32\n",
     false, "peers.d/x.conf:2", "not a WireGuard key"},
    {"[Peer]\nPublicKey = @K1@\nPublicKey = @K2@\nAllowedIPs = 10.8.0.2/32\n", false,
     "peers.d/x.conf:3", "PublicKey is already set on line 2"},
    /* AllowedIPs */
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/33\n", false, "peers.d/x.conf:3", "over /32"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = fd00::2/200\n", false, "peers.d/x.conf:3", "/128"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.3/24\n", true, "peers.d/x.conf:3",
     "host bits set; using 10.8.0.0/24"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32,\n", false, "peers.d/x.conf:3",
     "empty element"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 192.168.0.0/16\nAllowedIPs = 192.168.1.0/24\n", true,
     "peers.d/x.conf:4", "already covered by 192.168.0.0/16 on line 3"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 0.0.0.0/0, ::/0\n", true, NULL, NULL},
    /* Endpoint */
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nEndpoint = home.example.org:51820\n",
     true, NULL, NULL},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nEndpoint = 203.0.113.7:1\n", true, NULL,
     NULL},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nEndpoint = 203.0.113.7\n", false,
     "peers.d/x.conf:4", "has no port"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nEndpoint = 2001:db8::1:51820\n", false,
     "peers.d/x.conf:4", "[address]:port"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nEndpoint = [2001:db8::1]\n", false,
     "peers.d/x.conf:4", "has no port"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nEndpoint = [nothex]:1\n", false,
     "peers.d/x.conf:4", "is not host:port"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nEndpoint = h.example:65536\n", false,
     "peers.d/x.conf:4", "port must be 1..65535"},
    /* PersistentKeepalive */
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPersistentKeepalive = 0\n", true, NULL,
     NULL},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPersistentKeepalive = off\n", true, NULL,
     NULL},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPersistentKeepalive = 65535\n", true,
     NULL, NULL},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPersistentKeepalive = 65536\n", false,
     "peers.d/x.conf:4", "out of range 0..65535"},
    {"[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPersistentKeepalive = 2x\n", false,
     "peers.d/x.conf:4", "must be a number"},
    /* all of a file's errors in one run */
    {"[Peer]\nPublicKey = bad\nAllowedIPs = 10.8.0.2/40\nPersistentKeepalive = -1\n", false,
     "peers.d/x.conf:4",
     "must be a number"}, /* Access: every entry form, and each way an entry can be wrong */
#define PA "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n"
    {PA "Access = 192.168.1.100 tcp/3000, 192.168.1.0/24 icmp\n", true, NULL, NULL},
    {PA "Access = 192.168.1.0/24\nAccess = fd00::/64 udp/53-54, fd00::1 ICMP\n", true, NULL, NULL},
    {PA "access = none\n", true, NULL, NULL},
    {PA "Access = 192.168.1.0/24, none\n", false, "peers.d/x.conf:4", "cannot be combined"},
    {PA "Access = none\nAccess = 10.0.0.0/8\n", false, "peers.d/x.conf:5", "none on line 4"},
    {PA "Access = 192.168.1.300 tcp/80\n", false, "peers.d/x.conf:4", "not an IP address"},
    {PA "Access = 192.168.1.1/24\n", false, "peers.d/x.conf:4", "host bits set"},
    {PA "Access = 10.0.0.0/33\n", false, "peers.d/x.conf:4", "over /32"},
    {PA "Access = 10.0.0.1 sctp\n", false, "peers.d/x.conf:4", "tcp, udp or icmp"},
    {PA "Access = 10.0.0.1 icmp/8\n", false, "peers.d/x.conf:4", "icmp has no ports"},
    {PA "Access = 10.0.0.1 tcp/0\n", false, "peers.d/x.conf:4", "1..65535"},
    {PA "Access = 10.0.0.1 tcp/65536\n", false, "peers.d/x.conf:4", "1..65535"},
    {PA "Access = 10.0.0.1 tcp/\n", false, "peers.d/x.conf:4", "1..65535"},
    {PA "Access = 10.0.0.1 udp/90-80\n", false, "peers.d/x.conf:4", "reversed"},
    {PA "Access = 10.0.0.1 tcp 80\n", false, "peers.d/x.conf:4", "PREFIX PROTO/PORT"},
    {PA "Access = 10.0.0.1,,10.0.0.2\n", false, "peers.d/x.conf:4", "empty element"},
    /* ExpiresAt */
    {PA "ExpiresAt = 2026-12-31\n", true, NULL, NULL},
    {PA "ExpiresAt = 2026-12-31T23:59:59Z\n", true, NULL, NULL},
    {PA "ExpiresAt = 2026-12-31t23:59:59.250+01:00\n", true, NULL, NULL},
    {PA "ExpiresAt = 2026-02-30\n", false, "peers.d/x.conf:4", "RFC 3339"},
    {PA "ExpiresAt = 2026-12-31T24:00:00Z\n", false, "peers.d/x.conf:4", "RFC 3339"},
    {PA "ExpiresAt = 2026-12-31T23:59:59\n", false, "peers.d/x.conf:4", "RFC 3339"},
    {PA "ExpiresAt = tomorrow\n", false, "peers.d/x.conf:4", "RFC 3339"},
    {PA "ExpiresAt = 2026-12-31\nExpiresAt = 2027-01-01\n", false, "peers.d/x.conf:5",
     "already set on line 4"},
#undef PA
};

static void check_row(const struct row *r, int rc, const struct hubd_diags *d)
{
	if (r->ok != (rc == 0) || (r->where && !has_diag(d, r->where, r->msg)) ||
	    (!r->where && d->n)) {
		dump(d);
		ck_abort_msg("row \"%s\": rc %d, expected %s at %s: %s", r->text, rc,
			     r->ok ? "ok" : "rejection", r->where ? r->where : "-",
			     r->msg ? r->msg : "-");
	}
	if (r->ok)
		ck_assert_uint_eq(hubd_diags_errors(d), 0);
}

START_TEST(test_iface_rows)
{
	const struct row *r = &iface_rows[_i];
	struct hubd_iface_conf c;
	struct hubd_diags d = {0};
	char *text = expand(r->text);
	int rc = hubd_parse_interface("hubd.conf", text, strlen(text), &c, &d);

	check_row(r, rc, &d);
	if (rc == 0)
		hubd_iface_conf_clear(&c);
	hubd_diags_free(&d);
	free(text);
}
END_TEST

START_TEST(test_peer_rows)
{
	const struct row *r = &peer_rows[_i];
	struct hubd_peer_conf c;
	struct hubd_diags d = {0};
	char *text = expand(r->text);
	/* Sizes include the NUL so binary rows keep their bytes after it. */
	size_t len = strlen(text) ? strlen(text) : 0;
	int rc;

	if (r->text[0] == '\x7f')
		len = 10;
	rc = hubd_parse_peer("peers.d/x.conf", "x", r->text[0] == '\x7f' ? r->text : text, len, &c,
			     &d);
	check_row(r, rc, &d);
	if (rc == 0)
		hubd_peer_conf_clear(&c);
	hubd_diags_free(&d);
	free(text);
}
END_TEST

/* MetricsListen's address and port, in network order as bind() takes them; off by default. */
START_TEST(test_metrics_listen)
{
	static const char *const texts[] = {IF, IF "MetricsListen = 10.8.0.1:9586\n",
					    IF "MetricsListen = [fd00::1]:9100\n",
					    IF "MetricsListen = OFF\n"};
	struct hubd_iface_conf c[4];
	struct hubd_diags d = {0};
	struct in6_addr a6;

	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(
		    hubd_parse_interface("hubd.conf", texts[i], strlen(texts[i]), &c[i], &d), 0);
	ck_assert_int_eq(c[0].metrics_listen.addr.sa_family, 0);
	ck_assert_int_eq(c[1].metrics_listen.addr.sa_family, AF_INET);
	ck_assert_uint_eq(c[1].metrics_listen.addr4.sin_addr.s_addr, htonl(0x0a080001));
	ck_assert_uint_eq(c[1].metrics_listen.addr4.sin_port, htons(9586));
	ck_assert_int_eq(c[2].metrics_listen.addr.sa_family, AF_INET6);
	inet_pton(AF_INET6, "fd00::1", &a6);
	ck_assert_mem_eq(&c[2].metrics_listen.addr6.sin6_addr, &a6, sizeof(a6));
	ck_assert_uint_eq(c[2].metrics_listen.addr6.sin6_port, htons(9100));
	ck_assert_int_eq(c[3].metrics_listen.addr.sa_family, 0);
	ck_assert_uint_eq(d.n, 0);
	for (size_t i = 0; i < 4; i++)
		hubd_iface_conf_clear(&c[i]);
	hubd_diags_free(&d);
}
END_TEST

START_TEST(test_iface_values)
{
	const char *t = "[Interface]\nname = hub0\nAddress = 10.8.0.1/24, fd00::1/64\n"
			"ADDRESS = 10.9.0.1\nListenPort=51820\nMTU = 1380\nFirewallMark = 0x2a\n"
			"Masquerade = eth0,wlan0\nForward = isolate\nHealthInterval = 5\n"
			"StaleAfter = 300\nPublicEndpoint = vpn.example.org:51820\n";
	struct hubd_iface_conf c;
	struct hubd_diags d = {0};
	char buf[HUBD_PREFIX_STRLEN];

	ck_assert_int_eq(hubd_parse_interface("hubd.conf", t, strlen(t), &c, &d), 0);
	ck_assert_str_eq(c.name, "hub0");
	ck_assert_uint_eq(c.n_addresses, 3);
	hubd_prefix_format(&c.addresses[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.8.0.1/24"); /* the host as written, not masked */
	hubd_prefix_format(&c.addresses[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "fd00::1/64");
	hubd_prefix_format(&c.addresses[2], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.9.0.1/32");
	ck_assert_uint_eq(c.address_lines[2], 4);
	ck_assert_uint_eq(c.listen_port, 51820);
	ck_assert_uint_eq(c.mtu, 1380);
	ck_assert_uint_eq(c.fwmark, 42);
	ck_assert_uint_eq(c.n_masquerade, 2);
	ck_assert_str_eq(c.masquerade[1], "wlan0");
	ck_assert_uint_eq(c.n_masquerade_prefixes, 0);
	ck_assert_int_eq(c.forward, HUBD_FORWARD_ISOLATE);
	ck_assert_uint_eq(c.health_interval, 5);
	ck_assert_uint_eq(c.stale_after, 300);
	ck_assert_str_eq(c.public_endpoint, "vpn.example.org:51820");
	ck_assert_ptr_null(c.private_key_file);
	hubd_iface_conf_clear(&c);

	/* Defaults. */
	t = "[Interface]\nAddress = 10.8.0.1/24\n";
	ck_assert_int_eq(hubd_parse_interface("hubd.conf", t, strlen(t), &c, &d), 0);
	ck_assert_str_eq(c.name, "wg0");
	ck_assert_uint_eq(c.mtu, 1420);
	ck_assert_uint_eq(c.listen_port, 0);
	ck_assert_int_eq(c.forward, HUBD_FORWARD_HUB);
	ck_assert_uint_eq(c.health_interval, 10);
	ck_assert_uint_eq(c.stale_after, 180);
	ck_assert_uint_eq(c.max_peer_prefixes, 256);
	ck_assert_uint_eq(c.max_prefixes, 1000000);
	ck_assert_uint_eq(d.n, 0);
	hubd_iface_conf_clear(&c);
	hubd_diags_free(&d);
}
END_TEST

START_TEST(test_peer_values)
{
	char *t = expand("[Peer]\nPublicKey = @K2@\nAllowedIPs = 10.8.0.3/32, 192.168.1.7/24\n"
			 "Endpoint = [fe80::1%eth0]:51820\nPersistentKeepalive = 25\n"
			 "PresharedKeyFile = psk/home.psk\n");
	struct hubd_peer_conf c;
	struct hubd_diags d = {0};
	char buf[HUBD_PREFIX_STRLEN];
	wgnl_key k;

	ck_assert_int_eq(hubd_parse_peer("p/home.conf", "home", t, strlen(t), &c, &d), 0);
	ck_assert_str_eq(c.name, "home");
	ck_assert_str_eq(c.path, "p/home.conf");
	memset(k, 0x22, sizeof(k));
	ck_assert_mem_eq(c.public_key, k, sizeof(k));
	ck_assert_uint_eq(c.n_allowed_ips, 2);
	hubd_prefix_format(&c.allowed_ips[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.168.1.0/24"); /* masked, with a warning */
	ck_assert(has_diag(&d, "p/home.conf:3", "host bits set; using 192.168.1.0/24"));
	ck_assert_uint_eq(hubd_diags_errors(&d), 0);
	ck_assert_str_eq(c.endpoint_host, "fe80::1%eth0");
	ck_assert_uint_eq(c.endpoint_port, 51820);
	ck_assert_uint_eq(c.keepalive, 25);
	ck_assert_str_eq(c.psk_file, "psk/home.psk");
	ck_assert_uint_eq(c.psk_file_line, 6);
	ck_assert_uint_eq(c.public_key_line, 2);
	hubd_peer_conf_clear(&c);
	hubd_diags_free(&d);
	free(t);
}
END_TEST

START_TEST(test_all_errors_of_a_file)
{
	const char *t = "[Peer]\nPublicKey = bad\nAllowedIPs = 10.8.0.2/40\nEndpoint = x\n"
			"PersistentKeepalive = -1\n";
	struct hubd_peer_conf c;
	struct hubd_diags d = {0};

	ck_assert_int_eq(hubd_parse_peer("x.conf", "x", t, strlen(t), &c, &d), -EINVAL);
	ck_assert(has_diag(&d, "x.conf:2", "not a WireGuard key"));
	ck_assert(has_diag(&d, "x.conf:3", "over /32"));
	ck_assert(has_diag(&d, "x.conf:4", "has no port"));
	ck_assert(has_diag(&d, "x.conf:5", "must be a number"));
	ck_assert(!has_diag(&d, "x.conf:1", "has no PublicKey")); /* it has a bad one */
	ck_assert_uint_eq(d.n, 4);
	hubd_diags_free(&d);
}
END_TEST

/* Hostile input: each gets a clear error, and the error count stays bounded. */
START_TEST(test_hostile)
{
	size_t big = 2 * 1024 * 1024;
	char *buf = malloc(big + 1);
	struct hubd_iface_conf c;
	struct hubd_diags d = {0};

	/* A 1 MB line. */
	memcpy(buf, "[Interface]\nName = ", 19);
	memset(buf + 19, 'a', 1000000);
	ck_assert_int_eq(hubd_parse_interface("h", buf, 1000019, &c, &d), -EINVAL);
	ck_assert(has_diag(&d, "h:2", "line is longer than 4096 bytes"));
	hubd_diags_free(&d);
	/* Over the file size limit. */
	memset(buf, '\n', big);
	ck_assert_int_eq(hubd_parse_interface("h", buf, big, &c, &d), -EINVAL);
	ck_assert(has_diag(&d, "h", "file is larger than 1048576 bytes"));
	ck_assert_uint_eq(d.n, 1);
	hubd_diags_free(&d);
	/* Binary garbage: an error per line, then it gives up. */
	srand(1);
	for (size_t i = 0; i < 100000; i++)
		buf[i] = (char)(rand() & 0xff);
	ck_assert_int_eq(hubd_parse_interface("h", buf, 100000, &c, &d), -EINVAL);
	ck_assert_uint_le(d.n, HUBD_CONFIG_MAX_ERRORS + 1);
	ck_assert(has_diag(&d, "h", "no [Interface] section") ||
		  strstr(d.items[d.n - 1].message, "too many errors"));
	hubd_diags_free(&d);
	free(buf);
}
END_TEST

START_TEST(test_prefix)
{
	struct hubd_prefix a, b;
	bool hb;
	char buf[HUBD_PREFIX_STRLEN];

	ck_assert_int_eq(hubd_prefix_parse("10.8.0.7/24", &a, &hb), 0);
	ck_assert(hb);
	hubd_prefix_mask(&a);
	hubd_prefix_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.8.0.0/24");
	ck_assert_int_eq(hubd_prefix_parse("10.8.0.0/24", &a, &hb), 0);
	ck_assert(!hb);
	ck_assert_int_eq(hubd_prefix_parse("10.8.0.9", &b, &hb), 0);
	ck_assert_uint_eq(b.cidr, 32);
	ck_assert(hubd_prefix_contains(&a, &b));
	ck_assert(!hubd_prefix_contains(&b, &a));
	ck_assert(hubd_prefix_overlap(&b, &a));
	ck_assert_int_eq(hubd_prefix_parse("10.9.0.9", &b, NULL), 0);
	ck_assert(!hubd_prefix_overlap(&a, &b));
	ck_assert_int_eq(hubd_prefix_parse("::/0", &a, &hb), 0);
	ck_assert(!hb);
	ck_assert(!hubd_prefix_contains(&a, &b)); /* families never overlap */
	ck_assert_int_eq(hubd_prefix_parse("fd00::1:2/127", &a, &hb), 0);
	ck_assert(!hb);
	ck_assert_int_eq(hubd_prefix_parse("fd00::1:3/127", &a, &hb), 0);
	ck_assert(hb);
	ck_assert_int_eq(hubd_prefix_parse("10.0.0.1/33", &a, NULL), -ERANGE);
	ck_assert_int_eq(hubd_prefix_parse("10.0.0.1/032", &a, NULL), -EINVAL);
	ck_assert_int_eq(hubd_prefix_parse("10.0.0.0/024", &a, NULL), -EINVAL);
	ck_assert_int_eq(hubd_prefix_parse("10.0.0.0/00", &a, NULL), -EINVAL);
	ck_assert_int_eq(hubd_prefix_parse("fd00::/064", &a, NULL), -EINVAL);
	ck_assert_int_eq(hubd_prefix_parse("fd00::/129", &a, NULL), -ERANGE);
	ck_assert_int_eq(hubd_prefix_parse("10.0.0.1/+3", &a, NULL), -EINVAL);
	ck_assert_int_eq(hubd_prefix_parse("010.0.0.1", &a, NULL), -EINVAL);
	ck_assert_int_eq(hubd_prefix_parse("/8", &a, NULL), -EINVAL);
}
END_TEST

/* hubd_prefix_cmp: family, then address, then length; inputs given in scrambled order. */
static const struct {
	const char *in[6];
	const char *want; /* the sorted list, formatted */
} cmp_rows[] = {
    {{"192.168.1.0/24", "10.8.0.0/24", "10.9.0.0/16"}, "10.8.0.0/24 10.9.0.0/16 192.168.1.0/24"},
    /* the same address: shorter first, so a prefix sorts before what it contains */
    {{"10.8.0.0/32", "10.8.0.0/24", "10.8.0.0/16", "10.8.0.0/0"},
     "10.8.0.0/0 10.8.0.0/16 10.8.0.0/24 10.8.0.0/32"},
    {{"10.8.0.128/25", "10.8.0.0/25", "10.8.0.0/24"}, "10.8.0.0/24 10.8.0.0/25 10.8.0.128/25"},
    /* IPv4 before IPv6, whatever the addresses */
    {{"fd00::/64", "255.255.255.255/32", "::/0", "0.0.0.0/0"},
     "0.0.0.0/0 255.255.255.255/32 ::/0 fd00::/64"},
    {{"fd00::2/128", "fd00::1/128", "fd00::/127", "fc00::/7"},
     "fc00::/7 fd00::/127 fd00::1/128 fd00::2/128"},
    /* bytes compare unsigned: 128.0.0.0 after 1.0.0.0 */
    {{"128.0.0.0/1", "1.0.0.0/8"}, "1.0.0.0/8 128.0.0.0/1"},
};

START_TEST(test_prefix_cmp_rows)
{
	struct hubd_prefix p[6];
	char got[256] = "", buf[HUBD_PREFIX_STRLEN];
	size_t n = 0;

	for (; n < 6 && cmp_rows[_i].in[n]; n++)
		ck_assert_int_eq(hubd_prefix_parse(cmp_rows[_i].in[n], &p[n], NULL), 0);
	qsort(p, n, sizeof(*p), hubd_prefix_cmp);
	for (size_t i = 0; i < n; i++) {
		hubd_prefix_format(&p[i], buf, sizeof(buf));
		strcat(got, i ? " " : "");
		strcat(got, buf);
		/* a total order: equal to itself, strictly ordered against its neighbour */
		ck_assert_int_eq(hubd_prefix_cmp(&p[i], &p[i]), 0);
		if (i) {
			ck_assert_int_lt(hubd_prefix_cmp(&p[i - 1], &p[i]), 0);
			ck_assert_int_gt(hubd_prefix_cmp(&p[i], &p[i - 1]), 0);
		}
	}
	ck_assert_str_eq(got, cmp_rows[_i].want);
}
END_TEST

/* Only the bytes of the family count: what lies beyond an IPv4 address is ignored. */
START_TEST(test_prefix_cmp_ignores_padding)
{
	struct hubd_prefix a, b;

	ck_assert_int_eq(hubd_prefix_parse("10.8.0.0/24", &a, NULL), 0);
	b = a;
	memset((uint8_t *)&b.addr + 4, 0xab, sizeof(b.addr) - 4);
	ck_assert_int_eq(hubd_prefix_cmp(&a, &b), 0);
	ck_assert_ptr_eq(bsearch(&b, &a, 1, sizeof(a), hubd_prefix_cmp), &a);
}
END_TEST

START_TEST(test_prefix_host_and_addr)
{
	static const struct {
		const char *in, *addr;
		bool host;
	} rows[] = {
	    {"10.8.0.7", "10.8.0.7", true},	{"10.8.0.7/32", "10.8.0.7", true},
	    {"10.8.0.7/24", "10.8.0.7", false}, {"fd00::7", "fd00::7", true},
	    {"fd00::7/128", "fd00::7", true},	{"fd00::/64", "fd00::", false},
	    {"0.0.0.0/0", "0.0.0.0", false},
	};
	char buf[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct hubd_prefix p;

		ck_assert_int_eq(hubd_prefix_parse(rows[i].in, &p, NULL), 0);
		ck_assert_msg(hubd_prefix_is_host(&p) == rows[i].host, "%s", rows[i].in);
		hubd_prefix_format_addr(&p, buf, sizeof(buf));
		ck_assert_str_eq(buf, rows[i].addr);
	}
}
END_TEST

START_TEST(test_filenames)
{
	ck_assert(hubd_is_peer_filename("phone.conf"));
	ck_assert(hubd_is_peer_filename("alice@laptop.conf"));
	ck_assert(!hubd_is_peer_filename("phone.conf~"));
	ck_assert(!hubd_is_peer_filename(".#phone.conf"));
	ck_assert(!hubd_is_peer_filename("phone.swp"));
	ck_assert(!hubd_is_peer_filename(".phone.conf.swp"));
	ck_assert(!hubd_is_peer_filename(".hidden.conf"));
	ck_assert(!hubd_is_peer_filename("..data"));
	ck_assert(!hubd_is_peer_filename(".conf"));
	ck_assert(!hubd_is_peer_filename("phone.conf.bak"));
	ck_assert(!hubd_is_peer_filename("phone"));
	ck_assert(hubd_is_valid_peer_name("home-gw_1.lan@x"));
	ck_assert(!hubd_is_valid_peer_name("bad name"));
	ck_assert(!hubd_is_valid_peer_name(""));
	ck_assert(!hubd_is_valid_peer_name("a/b"));
	ck_assert(!hubd_is_valid_peer_name("caf\xc3\xa9"));
	ck_assert(hubd_is_valid_peer_name(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	ck_assert(!hubd_is_valid_peer_name(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

/* Cross-file rules: peers as "name:text", the names expected rejected. */
struct vrow {
	const char *peers[4];
	const char *rejected; /* space separated, sorted */
	const char *where, *msg;
	const char *routes; /* hubd.conf's PeerRoutes; NULL: none written (the private ranges) */
};

#define P(name, key, aips) name ":[Peer]\nPublicKey = " key "\nAllowedIPs = " aips "\n"

static const struct vrow verify_rows[] = {
    {{P("a", "@K1@", "10.8.0.2/32"), P("b", "@K2@", "10.8.0.3/32")}, "", NULL, NULL},
    {{P("b", "@K1@", "10.8.0.3/32"), P("a", "@K1@", "10.8.0.2/32")},
     "b",
     "peers.d/b.conf:2",
     "PublicKey is already used by peer a (peers.d/a.conf:2)"},
    {{P("a", "@K1@", "10.8.0.2/32"), P("b", "@K2@", "10.8.0.2/32")},
     "b",
     "peers.d/b.conf:3",
     "AllowedIPs 10.8.0.2/32 is already given to peer a (peers.d/a.conf:3)"},
    {{P("a", "@K1@", "10.8.0.2/32"), P("b", "@K2@", "10.8.0.0/30")},
     "b",
     "peers.d/b.conf:3",
     "AllowedIPs 10.8.0.0/30 overlaps 10.8.0.2/32 of peer a (peers.d/a.conf:3)"},
    {{P("a", "@K1@", "10.8.0.2/32, 192.168.0.0/16"), P("b", "@K2@", "192.168.1.0/24")},
     "b",
     "peers.d/b.conf:3",
     "AllowedIPs 192.168.1.0/24 overlaps 192.168.0.0/16 of peer a"},
    {{P("a", "@K1@", "fd00::2/128, fd00:1::/48"), P("b", "@K2@", "fd00:1:0:5::/64")},
     "b",
     "peers.d/b.conf:3",
     "overlaps fd00:1::/48 of peer a"},
    {{P("a", "@K1@", "10.8.0.2/32"), P("b", "@K2@", "10.8.0.0/24")},
     "b",
     "peers.d/b.conf:3",
     "AllowedIPs 10.8.0.0/24 overlaps 10.8.0.2/32 of peer a"},
    /* The whole tunnel subnet, or more, is how a spoke names its one hub (client mode). */
    {{P("hub", "@K1@", "10.8.0.0/24")}, "", NULL, NULL},
    /* A spoke that routes everything through its hub says so in PeerRoutes. */
    {{P("hub", "@K1@", "0.0.0.0/0")},
     "hub",
     "peers.d/hub.conf:3",
     "AllowedIPs 0.0.0.0/0 lies outside PeerRoutes (by default the private ranges"},
    {{P("hub", "@K1@", "0.0.0.0/0, ::/0")}, "", NULL, NULL, "0.0.0.0/0, ::/0"},
    /* PeerRoutes: public space, the hub's default route in pieces, link-local. */
    {{P("a", "@K1@", "10.8.0.2/32, 8.8.8.0/24"), P("b", "@K2@", "10.8.0.3/32")},
     "a",
     "peers.d/a.conf:3",
     "AllowedIPs 8.8.8.0/24 lies outside PeerRoutes"},
    {{P("a", "@K1@", "0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8, 128.0.0.0/1")},
     "a",
     "peers.d/a.conf:3",
     "AllowedIPs 0.0.0.0/5 lies outside PeerRoutes"},
    {{P("a", "@K1@", "169.254.169.254/32")},
     "a",
     "peers.d/a.conf:3",
     "AllowedIPs 169.254.169.254/32 overlaps link-local space 169.254.0.0/16"},
    {{P("a", "@K1@", "169.254.169.254/32")},
     "a",
     "peers.d/a.conf:3",
     "overlaps link-local space 169.254.0.0/16",
     "0.0.0.0/0"},
    {{P("a", "@K1@", "169.0.0.0/8")},
     "a",
     "peers.d/a.conf:3",
     "overlaps link-local space 169.254.0.0/16",
     "0.0.0.0/0"},
    {{P("a", "@K1@", "fe80::1/128")},
     "a",
     "peers.d/a.conf:3",
     "overlaps link-local space fe80::/10",
     "::/0"},
    {{P("a", "@K1@", "100.64.0.5/32, 172.16.9.0/24, fd12::/48"), P("b", "@K2@", "192.168.9.9/32")},
     "",
     NULL,
     NULL},
    {{P("a", "@K1@", "203.0.113.5/32"), P("b", "@K2@", "10.8.0.2/32")},
     "b",
     "peers.d/b.conf:3",
     "AllowedIPs 10.8.0.2/32 lies outside PeerRoutes (as hubd.conf sets it)",
     "203.0.113.0/24"},
    {{P("a", "@K1@", "10.8.0.0/25")}, "a", "peers.d/a.conf:3", "own address 10.8.0.1"},
    {{P("a", "@K1@", "10.8.0.1/32")},
     "a",
     "peers.d/a.conf:3",
     "AllowedIPs 10.8.0.1/32 contains this interface's own address 10.8.0.1"},
    {{P("a", "@KH@", "10.8.0.2/32")}, "a", "peers.d/a.conf:2", "the hub's own public key"},
    /* The earlier file wins; a peer rejected is no longer in anyone's way. */
    {{P("a", "@K1@", "10.8.0.2/32"), P("b", "@K2@", "10.8.0.2/32, 10.8.0.3/32"),
      P("c", "@K3@", "10.8.0.3/32")},
     "b",
     "peers.d/b.conf:3",
     "already given to peer a"},
    {{P("a", "@K1@", "10.8.0.2/32"), P("b", "@K1@", "10.8.0.3/32"), P("c", "@K1@", "10.8.0.4/32")},
     "b c",
     "peers.d/c.conf:2",
     "already used by peer a"},
    /* Overlaps inside one peer are its own business. */
    {{P("a", "@K1@", "10.8.0.2/32, 192.168.0.0/16, 192.168.1.0/24"), P("b", "@K2@", "10.8.0.3/32")},
     "",
     NULL,
     NULL},
    /* Adjacent is not overlapping. */
    {{P("a", "@K1@", "10.8.0.2/31"), P("b", "@K2@", "10.8.0.4/31")}, "", NULL, NULL},
    {{P("a", "@K1@", "10.8.0.2/32, fc00::/8"), P("b", "@K2@", "10.8.0.3/32, fd00::/8")},
     "",
     NULL,
     NULL},
};

static void add_peer_text(struct hubd_config *cfg, const char *spec, struct hubd_diags *d)
{
	const char *colon = strchr(spec, ':');
	char *name = strndup(spec, (size_t)(colon - spec)), *text = expand(colon + 1), path[128];

	snprintf(path, sizeof(path), "peers.d/%s.conf", name);
	cfg->peers = realloc(cfg->peers, (cfg->n_peers + 1) * sizeof(*cfg->peers));
	ck_assert_int_eq(
	    hubd_parse_peer(path, name, text, strlen(text), &cfg->peers[cfg->n_peers], d), 0);
	cfg->n_peers++;
	free(name);
	free(text);
}

/* The hub's config, with routes as its PeerRoutes when not NULL. */
static struct hubd_config *hub_config_routes(const char *routes)
{
	char t[512];
	struct hubd_config *cfg = calloc(1, sizeof(*cfg));
	struct hubd_diags d = {0};

	snprintf(t, sizeof(t), "[Interface]\nAddress = 10.8.0.1/24, fd00::1/64\n%s%s%s",
		 routes ? "PeerRoutes = " : "", routes ? routes : "", routes ? "\n" : "");
	ck_assert_int_eq(hubd_parse_interface("hubd.conf", t, strlen(t), &cfg->iface, &d), 0);
	memcpy(cfg->iface.private_key, hub_priv, sizeof(hub_priv));
	wgnl_key_public_from_private(cfg->iface.public_key, hub_priv);
	cfg->iface.has_private_key = true;
	cfg->iface_ok = true;
	hubd_diags_free(&d);
	return cfg;
}

static struct hubd_config *hub_config(void)
{
	return hub_config_routes(NULL);
}

static void joined(char *buf, size_t len, char **names, size_t n)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(buf, " ", len - strlen(buf) - 1);
		strncat(buf, names[i], len - strlen(buf) - 1);
	}
}

/* A Masquerade prefix is a LAN behind this machine: no peer may route any of it. */
START_TEST(test_verify_masquerade_lan)
{
	const char *t = "[Interface]\nAddress = 10.8.0.3/24\nMasquerade = 192.168.1.0/24\n";
	struct hubd_config *cfg = calloc(1, sizeof(*cfg));
	struct hubd_diags d = {0};
	char buf[HUBD_PREFIX_STRLEN];

	ck_assert_int_eq(hubd_parse_interface("hubd.conf", t, strlen(t), &cfg->iface, &d), 0);
	ck_assert_uint_eq(cfg->iface.n_masquerade_prefixes, 1);
	hubd_prefix_format(&cfg->iface.masquerade_prefixes[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.168.1.0/24");
	ck_assert_uint_eq(cfg->iface.masquerade_prefix_lines[0], 3);
	cfg->iface_ok = true;
	add_peer_text(cfg, P("hub", "@K1@", "10.8.0.0/24, 192.168.2.0/24"), &d);
	add_peer_text(cfg, P("lan", "@K2@", "192.168.1.128/25"), &d);
	hubd_config_verify(cfg, &d);
	ck_assert_uint_eq(cfg->n_peers, 1);
	ck_assert_str_eq(cfg->peers[0].name, "hub");
	ck_assert_uint_eq(cfg->n_rejected, 1);
	ck_assert(has_diag(&d, "peers.d/lan.conf:3",
			   "AllowedIPs 192.168.1.128/25 overlaps Masquerade 192.168.1.0/24 of "
			   "hubd.conf (line 3)"));
	hubd_diags_free(&d);
	hubd_config_free(cfg);
}
END_TEST

START_TEST(test_verify_rows)
{
	const struct vrow *r = &verify_rows[_i];
	struct hubd_config *cfg = hub_config_routes(r->routes);
	struct hubd_diags d = {0};
	size_t total = 0;
	char rej[256];

	for (int i = 0; i < 4 && r->peers[i]; i++, total++)
		add_peer_text(cfg, r->peers[i], &d);
	hubd_diags_free(&d);
	hubd_config_verify(cfg, &d);
	joined(rej, sizeof(rej), cfg->rejected, cfg->n_rejected);
	if (strcmp(rej, r->rejected) != 0 || (r->where && !has_diag(&d, r->where, r->msg)) ||
	    (!r->where && d.n)) {
		dump(&d);
		ck_abort_msg("verify row %d: rejected \"%s\", expected \"%s\"", _i, rej,
			     r->rejected);
	}
	ck_assert_uint_eq(cfg->n_peers + cfg->n_rejected, total);
	for (size_t i = 1; i < cfg->n_peers; i++)
		ck_assert_str_lt(cfg->peers[i - 1].name, cfg->peers[i].name);
	hubd_config_free(cfg);
	hubd_diags_free(&d);
}
END_TEST

/* Many peers with several prefixes each: verify must stay O(n log n). */
START_TEST(test_verify_scale)
{
	/* Its prefixes span all of IPv4 and IPv6: PeerRoutes lets them, this is about overlap. */
	struct hubd_config *cfg = hub_config_routes("0.0.0.0/0, ::/0");
	struct hubd_diags d = {0};
	size_t n = 100000;
	struct timespec t0, t1;
	clock_t cpu;

	cfg->peers = calloc(n, sizeof(*cfg->peers));
	for (size_t i = 0; i < n; i++) {
		struct hubd_peer_conf *p = &cfg->peers[i];
		uint32_t ip = htonl(0x0a000000u | (uint32_t)(i + 0x10000)); /* 10.1.0.0 up */

		asprintf(&p->name, "peer%06zu", n - i); /* not in name order */
		asprintf(&p->path, "peers.d/%s.conf", p->name);
		memcpy(p->public_key, &i, sizeof(i));
		p->public_key[31] = 1;
		p->n_allowed_ips = 4;
		p->allowed_ips = calloc(4, sizeof(*p->allowed_ips));
		p->allowed_ips_lines = calloc(4, sizeof(unsigned));
		p->allowed_ips[0] = (struct hubd_prefix){.family = AF_INET, .cidr = 32};
		p->allowed_ips[0].addr.in.s_addr = ip;
		p->allowed_ips[1] = (struct hubd_prefix){.family = AF_INET, .cidr = 24};
		p->allowed_ips[1].addr.in.s_addr = htonl(0xac000000u | (uint32_t)i << 8);
		p->allowed_ips[2] = (struct hubd_prefix){.family = AF_INET6, .cidr = 128};
		p->allowed_ips[2].addr.in6.s6_addr[0] = 0xfd;
		memcpy(&p->allowed_ips[2].addr.in6.s6_addr[8], &i, sizeof(i));
		p->allowed_ips[3] = (struct hubd_prefix){.family = AF_INET6, .cidr = 64};
		p->allowed_ips[3].addr.in6.s6_addr[0] = 0xfc;
		memcpy(&p->allowed_ips[3].addr.in6.s6_addr[1], &i, 4);
		cfg->n_peers++;
	}
	/* One clash at the very end of the name order. */
	cfg->peers[0].allowed_ips[0] = cfg->peers[n - 1].allowed_ips[0];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cpu = clock();
	hubd_config_verify(cfg, &d);
	cpu = clock() - cpu;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("verify: %zu peers, %zu prefixes: %.3f s (%.3f s CPU)\n", n, 4 * n,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (double)cpu / CLOCKS_PER_SEC);
	ck_assert_uint_eq(cfg->n_rejected, 1);
	ck_assert_str_eq(cfg->rejected[0], "peer100000");
	ck_assert_uint_eq(cfg->n_peers, n - 1);
	ck_assert(has_diag(&d, "peers.d/peer100000.conf", "already given to peer peer000001"));
	hubd_config_free(cfg);
	hubd_diags_free(&d);
}
END_TEST

/* A small xorshift: the same random configs on every run. */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state % n;
}

/*
 * Random peers crowded into a small space (10.8.0.0/22 and 10.9.0.0/22,
 * prefixes /22 to /32, a few keys shared, the hub's address and key now and
 * then), so that most clash with something earlier in name order.
 */
static struct hubd_config *random_config(size_t n)
{
	struct hubd_config *cfg = hub_config();

	cfg->peers = calloc(n, sizeof(*cfg->peers));
	for (size_t i = 0; i < n; i++) {
		struct hubd_peer_conf *p = &cfg->peers[cfg->n_peers++];
		size_t na = 1 + rnd(3);

		asprintf(&p->name, "p%04zu", i);
		asprintf(&p->path, "peers.d/%s.conf", p->name);
		memset(p->public_key, 0, sizeof(p->public_key));
		p->public_key[0] = (uint8_t)rnd(rnd(10) == 0 ? 8 : 250);
		p->public_key[1] = (uint8_t)(i & 0xff);
		p->public_key[2] = (uint8_t)(i >> 8);
		if (rnd(10) == 0) /* a key some other peer has too */
			p->public_key[1] = p->public_key[2] = 0;
		if (rnd(50) == 0)
			memcpy(p->public_key, cfg->iface.public_key, WGNL_KEY_LEN);
		p->n_allowed_ips = na;
		p->allowed_ips = calloc(na, sizeof(*p->allowed_ips));
		p->allowed_ips_lines = calloc(na, sizeof(unsigned));
		for (size_t j = 0; j < na; j++) {
			struct hubd_prefix *a = &p->allowed_ips[j];
			uint32_t base = rnd(2) ? 0x0a080000u : 0x0a090000u;

			*a = (struct hubd_prefix){.family = AF_INET,
						  .cidr = (uint8_t)(22 + rnd(11))};
			a->addr.in.s_addr = htonl(base | rnd(1024));
			if (a->cidr < 32 && rnd(4))
				a->cidr = 32; /* mostly hosts: many accepted, too */
			hubd_prefix_mask(a);
			p->allowed_ips_lines[j] = 3;
		}
	}
	return cfg;
}

/*
 * The cold start sends the first files' peers while the rest are being read,
 * on the strength of this: the verdicts on a name-ordered prefix never change
 * as files are added after it, and the full list's verdicts are
 * hubd_config_verify's, diagnostics included.
 */
START_TEST(test_judge_prefix)
{
	size_t n = 400, rejected = 0;
	struct hubd_config *cfg = random_config(n);
	bool *full = calloc(n, sizeof(bool)), *part = calloc(n, sizeof(bool));
	struct hubd_diags dj = {0}, dv = {0};

	ck_assert_int_eq(hubd_config_judge(&cfg->iface, cfg->peers, n, full, &dj), 0);
	for (size_t m = 0; m <= n; m += 1 + m / 8) {
		ck_assert_int_eq(hubd_config_judge(&cfg->iface, cfg->peers, m, part, NULL), 0);
		for (size_t i = 0; i < m; i++)
			if (part[i] != full[i])
				ck_abort_msg("peer %zu: verdict %d on the first %zu, %d on all %zu",
					     i, part[i], m, full[i], n);
	}
	for (size_t i = 0; i < n; i++)
		rejected += full[i];
	/* Neither nothing nor everything clashes, or the test proves little. */
	ck_assert_uint_gt(rejected, n / 10);
	ck_assert_uint_lt(rejected, n - n / 10);
	/* hubd_config_verify on the same peers: the same verdicts and diagnostics. */
	hubd_config_verify(cfg, &dv);
	ck_assert_uint_eq(cfg->n_rejected, rejected);
	for (size_t i = 0, k = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%04zu", i);
		if (full[i])
			ck_assert_str_eq(cfg->rejected[k++], name);
	}
	ck_assert_uint_eq(dj.n, dv.n);
	for (size_t i = 0; i < dj.n; i++) {
		ck_assert_str_eq(dj.items[i].path, dv.items[i].path);
		ck_assert_uint_eq(dj.items[i].line, dv.items[i].line);
		ck_assert_str_eq(dj.items[i].message, dv.items[i].message);
	}
	free(full);
	free(part);
	hubd_diags_free(&dj);
	hubd_diags_free(&dv);
	hubd_config_free(cfg);
}
END_TEST

/* hubd_config_drop_rejected moves exactly the judged peers, keeping the order. */
START_TEST(test_drop_rejected)
{
	struct hubd_config *cfg = random_config(50);
	bool reject[50];
	size_t kept = 0;

	ck_assert_int_eq(hubd_config_judge(&cfg->iface, cfg->peers, 50, reject, NULL), 0);
	for (size_t i = 0; i < 50; i++)
		kept += !reject[i];
	hubd_config_drop_rejected(cfg, reject);
	ck_assert_uint_eq(cfg->n_peers, kept);
	ck_assert_uint_eq(cfg->n_rejected, 50 - kept);
	for (size_t i = 1; i < cfg->n_peers; i++)
		ck_assert_str_lt(cfg->peers[i - 1].name, cfg->peers[i].name);
	for (size_t i = 1; i < cfg->n_rejected; i++)
		ck_assert_str_lt(cfg->rejected[i - 1], cfg->rejected[i]);
	hubd_config_free(cfg);
}
END_TEST

/* Filesystem tests: a temporary config dir, real modes and owners. */
static char tmpdir[64];

static void write_file(const char *rel, const char *text, mode_t mode, uid_t uid)
{
	char path[512];
	char *t = expand(text);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(t, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	ck_assert_int_eq(chown(path, uid, 0), 0);
	free(t);
}

static void setup_dir(void)
{
	char path[512];

	strcpy(tmpdir, "/tmp/test-config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/peers.d", tmpdir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/psk", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	write_file("private.key", hub_priv_b64, 0600, 0);
	write_file("hubd.conf", "[Interface]\nAddress = 10.8.0.1/24\n", 0644, 0);
}

static void teardown_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct hubd_config *load(struct hubd_diags *d)
{
	struct hubd_config *cfg = NULL;

	ck_assert_int_eq(hubd_config_load(tmpdir, &cfg, d), 0);
	return cfg;
}

static void where(char *buf, size_t len, const char *rel, unsigned line)
{
	if (line)
		snprintf(buf, len, "%s/%s:%u", tmpdir, rel, line);
	else
		snprintf(buf, len, "%s/%s", tmpdir, rel);
}

struct perm_row {
	mode_t mode;
	uid_t uid;
	bool ok;
	const char *msg;
};

static const struct perm_row perm_rows[] = {
    {0600, 0, true, NULL},
    {0400, 0, true, NULL},
    {0700, 0, true, NULL},
    {0640, 0, false, "has mode 0640, which lets group or others read it: refused"},
    {0644, 0, false, "has mode 0644"},
    {0604, 0, false, "has mode 0604"},
    {0600, 65534, false, "is owned by uid 65534, not root: refused"},
};

/* The private key, named explicitly (diagnostic on its line) or by default (on the file). */
START_TEST(test_private_key_perms)
{
	const struct perm_row *r = &perm_rows[_i % 7];
	bool explicit = _i >= 7;
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	char w[512], keyfile[512];

	setup_dir();
	if (explicit)
		write_file(
		    "hubd.conf",
		    "[Interface]\nAddress = 10.8.0.1/24\nPrivateKeyFile = k/../private.key\n", 0644,
		    0);
	snprintf(keyfile, sizeof(keyfile), "%s/private.key", tmpdir);
	mkdir(strcat(strcpy(w, tmpdir), "/k"), 0700);
	ck_assert_int_eq(chmod(keyfile, r->mode), 0);
	ck_assert_int_eq(chown(keyfile, r->uid, 0), 0);
	cfg = load(&d);
	ck_assert_int_eq(cfg->iface_ok, r->ok);
	ck_assert_int_eq(cfg->iface.has_private_key, r->ok);
	if (explicit)
		where(w, sizeof(w), "hubd.conf", 3);
	else
		where(w, sizeof(w), "private.key", 0);
	if (r->ok) {
		ck_assert_uint_eq(d.n, 0);
		ck_assert_mem_eq(cfg->iface.private_key, hub_priv, sizeof(hub_priv));
	} else if (!has_diag(&d, w, r->msg) || !strstr(d.items[0].message, "private.key")) {
		dump(&d);
		ck_abort_msg("perm row %d: expected %s: %s", _i, w, r->msg);
	}
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	teardown_dir();
}
END_TEST

START_TEST(test_private_key_bad)
{
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	char w[512];

	setup_dir();
	write_file("private.key", "not a key\n", 0600, 0);
	cfg = load(&d);
	ck_assert(!cfg->iface_ok);
	where(w, sizeof(w), "private.key", 0);
	ck_assert(has_diag(&d, w, "does not hold a WireGuard key"));
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	/* Missing, named on a line. */
	write_file("hubd.conf",
		   "[Interface]\nPrivateKeyFile = /nonexistent/key\nAddress = 10.8.0.1/24\n", 0644,
		   0);
	cfg = load(&d);
	ck_assert(!cfg->iface_ok);
	where(w, sizeof(w), "hubd.conf", 2);
	ck_assert(has_diag(&d, w, "PrivateKeyFile /nonexistent/key: cannot read: No such file"));
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	/* A key with a trailing newline, as wg genkey writes it, is fine. */
	write_file("hubd.conf", "[Interface]\nAddress = 10.8.0.1/24\n", 0644, 0);
	write_file("private.key", "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n", 0600, 0);
	cfg = load(&d);
	ck_assert(cfg->iface_ok);
	ck_assert_uint_eq(d.n, 0);
	hubd_config_free(cfg);
	teardown_dir();
}
END_TEST

START_TEST(test_psk_perms)
{
	const struct perm_row *r = &perm_rows[_i];
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	char w[512];

	setup_dir();
	write_file(
	    "peers.d/a.conf",
	    "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPresharedKeyFile = psk/a.psk\n",
	    0644, 0);
	write_file("peers.d/b.conf", "[Peer]\nPublicKey = @K2@\nAllowedIPs = 10.8.0.3/32\n", 0644,
		   0);
	write_file("psk/a.psk", "@K3@", r->mode, r->uid);
	cfg = load(&d);
	ck_assert(cfg->iface_ok);
	if (r->ok) {
		ck_assert_uint_eq(cfg->n_peers, 2);
		ck_assert(cfg->peers[0].has_psk);
		ck_assert_uint_eq(cfg->peers[0].psk[0], 0x33);
	} else {
		ck_assert_uint_eq(cfg->n_peers, 1);
		ck_assert_str_eq(cfg->peers[0].name, "b");
		ck_assert_uint_eq(cfg->n_rejected, 1);
		ck_assert_str_eq(cfg->rejected[0], "a");
		where(w, sizeof(w), "peers.d/a.conf", 4);
		/* One message whatever is wrong: it tells nothing of the file's owner or mode. */
		if (!has_diag(&d, w, "PresharedKeyFile is not a usable key file under") ||
		    has_diag(&d, w, "has mode") || has_diag(&d, w, "uid 65534")) {
			dump(&d);
			ck_abort_msg("psk row %d", _i);
		}
	}
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	teardown_dir();
}
END_TEST

START_TEST(test_peers_dir)
{
	const char *ok = "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n";
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	char w[512];

	setup_dir();
	write_file("peers.d/phone.conf", ok, 0644, 0);
	/* Leftovers and dotfiles, all broken: none may be read. */
	write_file("peers.d/phone.conf~", "junk", 0644, 0);
	write_file("peers.d/.#phone.conf", "junk", 0644, 0);
	write_file("peers.d/phone.swp", "junk", 0644, 0);
	write_file("peers.d/.phone.conf.swp", "junk", 0644, 0);
	write_file("peers.d/.hidden.conf", "junk", 0644, 0);
	write_file("peers.d/phone.conf.bak", "junk", 0644, 0);
	/* A bad name and a broken file: each rejected alone. */
	write_file("peers.d/bad name.conf", ok, 0644, 0);
	write_file("peers.d/broken.conf",
		   "[Peer]\nPublicKey = @K2@\nAllowedIPs = 10.8.0.3/33\nEndpoint = nope\n", 0644,
		   0);
	write_file("peers.d/home.conf", "[Peer]\nPublicKey = @K3@\nAllowedIPs = 10.8.0.4/32\n",
		   0644, 0);
	snprintf(w, sizeof(w), "%s/peers.d/dir.conf", tmpdir);
	ck_assert_int_eq(mkdir(w, 0755), 0);
	cfg = load(&d);
	ck_assert(cfg->iface_ok);
	ck_assert_uint_eq(cfg->n_peers, 2);
	ck_assert_str_eq(cfg->peers[0].name, "home");
	ck_assert_str_eq(cfg->peers[1].name, "phone");
	ck_assert_uint_eq(cfg->n_rejected, 3);
	ck_assert_str_eq(cfg->rejected[0], "bad name");
	ck_assert_str_eq(cfg->rejected[1], "broken");
	ck_assert_str_eq(cfg->rejected[2], "dir");
	where(w, sizeof(w), "peers.d", 0);
	ck_assert(has_diag(&d, w, "peer file 'bad name.conf' is not NAME.conf"));
	where(w, sizeof(w), "peers.d/broken.conf", 3);
	ck_assert(has_diag(&d, w, "over /32"));
	where(w, sizeof(w), "peers.d/broken.conf", 4);
	ck_assert(has_diag(&d, w, "has no port"));
	where(w, sizeof(w), "peers.d/dir.conf", 0);
	ck_assert(has_diag(&d, w, "is a directory"));
	if (hubd_diags_errors(&d) != 4)
		dump(&d);
	ck_assert_uint_eq(hubd_diags_errors(&d), 4);
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	teardown_dir();
}
END_TEST

START_TEST(test_broken_iface)
{
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	char w[512];

	setup_dir();
	write_file("hubd.conf", "[Interface]\nAddress = 10.8.0.1/24\nMTU = 9\n", 0644, 0);
	write_file("peers.d/a.conf", "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n", 0644,
		   0);
	cfg = load(&d);
	ck_assert(!cfg->iface_ok);
	ck_assert_str_eq(cfg->iface.name, "wg0");
	ck_assert_uint_eq(cfg->n_peers, 1); /* peers are still checked and reported */
	where(w, sizeof(w), "hubd.conf", 3);
	ck_assert(has_diag(&d, w, "MTU 9 is out of range"));
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	/* No hubd.conf at all. */
	snprintf(w, sizeof(w), "%s/hubd.conf", tmpdir);
	unlink(w);
	cfg = load(&d);
	ck_assert(!cfg->iface_ok);
	ck_assert(has_diag(&d, w, "cannot read: No such file"));
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	/* No config dir at all. */
	ck_assert_int_eq(hubd_config_load("/nonexistent/hubd", &cfg, &d), -ENOENT);
	ck_assert(has_diag(&d, "/nonexistent/hubd", "cannot open the config directory"));
	hubd_diags_free(&d);
	teardown_dir();
}
END_TEST

/* Files that cannot be text: each gets one clear error, the others load. */
START_TEST(test_hostile_files)
{
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	char w[512];
	size_t big = HUBD_CONFIG_MAX_FILE_SIZE + 10;
	char *buf = malloc(big);
	FILE *f;

	setup_dir();
	memset(buf, 'x', big);
	snprintf(w, sizeof(w), "%s/peers.d/huge.conf", tmpdir);
	f = fopen(w, "w");
	fwrite(buf, 1, big, f);
	fclose(f);
	snprintf(w, sizeof(w), "%s/peers.d/bin.conf", tmpdir);
	f = fopen(w, "w");
	for (size_t i = 0; i < 200000; i++)
		buf[i] = (char)(i * 7919 % 251);
	fwrite(buf, 1, 200000, f);
	fclose(f);
	snprintf(w, sizeof(w), "%s/peers.d/fifo.conf", tmpdir);
	ck_assert_int_eq(mkfifo(w, 0600), 0);
	write_file("peers.d/ok.conf", "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n", 0644,
		   0);
	cfg = load(&d);
	ck_assert_uint_eq(cfg->n_peers, 1);
	ck_assert_uint_eq(cfg->n_rejected, 3);
	where(w, sizeof(w), "peers.d/huge.conf", 0);
	ck_assert(has_diag(&d, w, "file is larger than 1048576 bytes"));
	where(w, sizeof(w), "peers.d/fifo.conf", 0);
	ck_assert(has_diag(&d, w, "is not a regular file"));
	ck_assert_uint_le(d.n, 2 + HUBD_CONFIG_MAX_ERRORS + 1);
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	free(buf);
	teardown_dir();
}
END_TEST

/* 100,000 peer files: loads, with the figure printed (no time asserted). */
/*
 * 1,000 files are read by two threads, half each: the result must be what
 * one thread gives. Broken files in both halves: the diagnostics come in file
 * order, the peers sorted by name, the rejected names all there.
 */
START_TEST(test_load_two_halves)
{
	static const size_t broken[] = {3, 499, 500, 998};
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	size_t n = 1000, nb = sizeof(broken) / sizeof(broken[0]), at = 0;
	char path[512], b64[WGNL_KEY_B64_LEN + 1], want[600];
	wgnl_key k = {0};

	setup_dir();
	for (size_t i = 0; i < n; i++) {
		bool bad = at < nb && broken[at] == i;
		FILE *f;

		at += bad;
		memcpy(k, &i, sizeof(i));
		k[31] = 9;
		wgnl_key_to_base64(b64, k);
		/* p0000..p0999: name order is file order */
		snprintf(path, sizeof(path), "%s/peers.d/p%04zu.conf", tmpdir, i);
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "[Peer]\nPublicKey = %s\nAllowedIPs = 10.9.%zu.%zu/32%s\n", b64, i / 250,
			i % 250, bad ? "/7" : "");
		fclose(f);
	}
	cfg = load(&d);
	ck_assert_uint_eq(cfg->n_peers, n - nb);
	ck_assert_uint_eq(cfg->n_rejected, nb);
	ck_assert_uint_eq(hubd_diags_errors(&d), nb);
	for (size_t j = 0; j < nb; j++) {
		snprintf(want, sizeof(want), "p%04zu", broken[j]);
		ck_assert_str_eq(cfg->rejected[j], want);
		snprintf(want, sizeof(want), "%s/peers.d/p%04zu.conf", tmpdir, broken[j]);
		ck_assert_str_eq(d.items[j].path, want);
		ck_assert_uint_eq(d.items[j].line, 3);
	}
	for (size_t i = 1; i < cfg->n_peers; i++)
		ck_assert_int_lt(strcmp(cfg->peers[i - 1].name, cfg->peers[i].name), 0);
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	teardown_dir();
}
END_TEST

/*
 * Peer files are listed by peer name, the verifier's order, not by file name:
 * "a-b.conf" sorts before "a.conf", but peer "a" before "a-b".
 */
START_TEST(test_list_peer_order)
{
	static const char *want[] = {"a.conf", "a-b.conf", "a.b.conf", "ab.conf", "b.conf"};
	static const char *made[] = {"ab.conf", "a.b.conf", "b.conf", "a-b.conf",
				     "a.conf",	".x.conf",  "c.conf~"};
	struct hubd_diags d = {0};
	char **files, rel[64];
	size_t n;

	setup_dir();
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(rel, sizeof(rel), "peers.d/%s", made[i]);
		write_file(rel, "[Peer]\n", 0644, 0);
	}
	ck_assert_int_eq(hubd_config_list_peers(tmpdir, &files, &n, &d), 0);
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(files[i], want[i]);
		free(files[i]);
	}
	free(files);
	ck_assert_uint_eq(d.n, 0);
	teardown_dir();
}
END_TEST

START_TEST(test_load_100k)
{
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	struct timespec t0, t1;
	size_t n = 100000;
	char path[512], b64[WGNL_KEY_B64_LEN + 1];
	wgnl_key k = {0};

	setup_dir();
	write_file("hubd.conf", "[Interface]\nAddress = 10.0.0.1/8, fd00::1/64\n", 0644, 0);
	for (size_t i = 0; i < n; i++) {
		FILE *f;

		memcpy(k, &i, sizeof(i));
		k[31] = 7;
		wgnl_key_to_base64(b64, k);
		snprintf(path, sizeof(path), "%s/peers.d/p%zu.conf", tmpdir, i);
		f = fopen(path, "w");
		fprintf(
		    f,
		    "[Peer]\nPublicKey = %s\nAllowedIPs = 10.%zu.%zu.%zu/32, fd02::%zx:%zx/128\n"
		    "AllowedIPs = fd01:0:%zx:%zx::/64\nPersistentKeepalive = 25\n",
		    b64, 1 + (i >> 16), (i >> 8) & 255, i & 255, i >> 16, i & 0xffff, i >> 16,
		    i & 0xffff);
		fclose(f);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cfg = load(&d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("load: %zu peer files: %.3f s, %zu accepted, %zu rejected\n", n,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       cfg->n_peers, cfg->n_rejected);
	ck_assert(cfg->iface_ok);
	ck_assert_uint_eq(cfg->n_peers, n);
	ck_assert_uint_eq(d.n, 0);
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	teardown_dir();
}
END_TEST

/*
 * Issue 16: nothing a peer file holds may come back in a message. Each row is
 * a file that must be rejected with a file:line error, and no message may hold
 * the marker, key K2, or even K2 without its '=' (which a split at '=' leaves).
 */
#define MARK "s3cr3t-MARK"

struct secret_row {
	bool iface;
	const char *text;
};

static const struct secret_row secret_rows[] = {
    {false, "[Peer]\nPresharedKey: @K2@\n"},
    {false, "[Peer]\nPresharedKey @K2@\n"},
    {false, "[Peer]\nPresharedKeyFile: @K2@\n"},
    {true, IF "PrivateKey @K2@\n"},
    {true, IF "PrivateKey: @K2@\n"},
    {true, IF "PrivateKeyFile @K2@\n"},
    {false, "[Peer]\n@K2@\n"}, /* a key file read as a peer file */
    {false, "@K2@\n"},
    {true, "@K2@\n"},
    {false, "[Peer]\nPublicKey = @K2@ " MARK "\n"},
    {false, "[Peer]\n" MARK "\n"},
    {false, "[Peer]\n" MARK " = 1\n"},
    {false, "[Peer]\nUnknownKeyThatIsFarTooLongToRepeatX = 1\n"},
    {false, "[" MARK "]\n"},
    {false, "[Peer\n" MARK "\n"},
    {false, "[Peer]\nAllowedIPs = " MARK "\nEndpoint = " MARK "\nPersistentKeepalive = " MARK
	    "\nPublicKey = " MARK "\n"},
    {false, "[Peer]\nEndpoint = " MARK ":99999\nEndpoint = [" MARK "]\nAllowedIPs = 1/99\n"},
    {false, "[Peer]\nAllowedIPs = 10.8.0.2/32\nAllowedIPs = 10.8.0.2/" MARK "\n"},
    {true, IF "Name = " MARK ";x\nMasquerade = " MARK ";x\nForward = " MARK "\nFirewallMark = " MARK
	      "\nListenPort = " MARK "\nPublicEndpoint = " MARK "\nAddress = " MARK
	      "\nMaxPrefixes = " MARK "\n"},
    {true, IF "Masquerade = @K2@\nName = @K2@\nForward = @K2@\nListenPort = @K2@\n"},
};

/* Does any message, or path, hold the marker or any 20 characters of K2? */
static bool leaks(const struct hubd_diags *d)
{
	char part[21];

	for (size_t i = 0; i < d->n; i++)
		for (size_t o = 0; o + 20 <= WGNL_KEY_B64_LEN; o++) {
			memcpy(part, keys[1] + o, 20);
			part[20] = '\0';
			if (strstr(d->items[i].message, MARK) ||
			    strstr(d->items[i].message, part) || strstr(d->items[i].path, part))
				return true;
		}
	return false;
}

START_TEST(test_no_line_text)
{
	const struct secret_row *r = &secret_rows[_i];
	struct hubd_diags d = {0};
	char *text = expand(r->text);
	int rc;

	if (r->iface) {
		struct hubd_iface_conf c;

		rc = hubd_parse_interface("hubd.conf", text, strlen(text), &c, &d);
		if (rc == 0)
			hubd_iface_conf_clear(&c);
	} else {
		struct hubd_peer_conf c;

		rc = hubd_parse_peer("peers.d/x.conf", "x", text, strlen(text), &c, &d);
		if (rc == 0)
			hubd_peer_conf_clear(&c);
	}
	if (rc == 0 || leaks(&d) || hubd_diags_errors(&d) == 0) {
		dump(&d);
		ck_abort_msg("secret row %d: rc %d", _i, rc);
	}
	hubd_diags_free(&d);
	free(text);
}
END_TEST

/* A typo's key names the key from our table, and says what to write. */
START_TEST(test_typo_hints)
{
	char *t = expand("[Peer]\nPresharedKey: @K2@\nPublicKey @K1@\n");
	struct hubd_peer_conf c;
	struct hubd_diags d = {0};

	ck_assert_int_eq(hubd_parse_peer("x.conf", "x", t, strlen(t), &c, &d), -EINVAL);
	ck_assert(has_diag(&d, "x.conf:2", "line is not KEY = VALUE (it starts like PresharedKey"));
	ck_assert(has_diag(&d, "x.conf:2", "PresharedKeyFile"));
	ck_assert(has_diag(&d, "x.conf:3", "it starts like PublicKey: write PublicKey = ..."));
	ck_assert(!leaks(&d));
	hubd_diags_free(&d);
	free(t);
}
END_TEST

/* Every diagnostic, whoever adds it, hides what looks like a key. */
START_TEST(test_diag_redacts_keys)
{
	static const char hex[] =
	    "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef";
	struct hubd_diags d = {0};
	char path[128];

	snprintf(path, sizeof(path), "psk/%s", keys[1]);
	hubd_diag_add(&d, path, 1, false, "a %s b %s c %s", keys[1], hex, hub_priv_b64);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_ptr_null(strstr(d.items[0].message, keys[1]));
	ck_assert_ptr_null(strstr(d.items[0].message, hex));
	ck_assert_ptr_null(strstr(d.items[0].message, hub_priv_b64));
	ck_assert_str_eq(d.items[0].message, "a (key hidden) b (key hidden) c (key hidden)");
	ck_assert_str_eq(d.items[0].path, "psk/(key hidden)");
	/* Shorter runs, and base64 without the '=', stay. */
	hubd_diag_add(&d, "x", 1, false, "AllowedIPs fd00::1/128 abcdefABCDEF0123 %.43s", keys[1]);
	ck_assert_ptr_nonnull(strstr(d.items[1].message, "fd00::1/128 abcdefABCDEF0123"));
	hubd_diags_free(&d);
}
END_TEST

/* MaxPeerPrefixes and MaxPrefixes: later files in name order lose. */
START_TEST(test_prefix_caps)
{
	struct hubd_config *cfg = hub_config();
	struct hubd_diags d = {0};
	char big[257 * 32 + 64], *o = big;

	cfg->iface.max_peer_prefixes = 2;
	cfg->iface.max_prefixes = 3;
	add_peer_text(cfg, P("a", "@K1@", "10.8.0.2/32, 10.8.0.3/32"), &d);
	add_peer_text(cfg,
		      "b:[Peer]\nPublicKey = @K2@\nAllowedIPs = 10.8.0.4/32\nAllowedIPs = "
		      "10.8.0.5/32\nAllowedIPs = 10.8.0.6/32\n",
		      &d);
	add_peer_text(cfg,
		      "c:[Peer]\nPublicKey = @K3@\nAllowedIPs = 10.8.0.7/32\nAllowedIPs = "
		      "10.8.0.8/32\n",
		      &d);
	add_peer_text(cfg, P("d", "@K4@", "10.8.0.9/32"), &d);
	hubd_config_verify(cfg, &d);
	ck_assert_uint_eq(cfg->n_peers, 2);
	ck_assert_str_eq(cfg->peers[0].name, "a");
	ck_assert_str_eq(cfg->peers[1].name, "d");
	ck_assert_uint_eq(cfg->n_rejected, 2);
	ck_assert(has_diag(&d, "peers.d/b.conf:5", "more than 2 AllowedIPs prefixes"));
	ck_assert(has_diag(&d, "peers.d/c.conf:4", "already hold 2 of the 3 AllowedIPs prefixes"));
	ck_assert(has_diag(&d, "peers.d/c.conf:4", "MaxPrefixes"));
	hubd_config_free(cfg);
	hubd_diags_free(&d);

	/* The default: 256 a peer. */
	cfg = hub_config();
	o += sprintf(o, "e:[Peer]\nPublicKey = @K1@\n");
	for (int i = 0; i < 257; i++)
		o += sprintf(o, "AllowedIPs = 10.9.%d.%d/32\n", i / 200, i % 200);
	add_peer_text(cfg, big, &d);
	big[strlen(big) - strlen("AllowedIPs = 10.9.1.56/32\n")] = '\0';
	big[0] = 'f';
	add_peer_text(cfg, big, &d); /* 256, and an overlap with e, which is not in the way */
	hubd_config_verify(cfg, &d);
	ck_assert_uint_eq(cfg->n_peers, 1);
	ck_assert_str_eq(cfg->peers[0].name, "f");
	ck_assert(has_diag(&d, "peers.d/e.conf:259", "more than 256 AllowedIPs prefixes"));
	ck_assert_uint_eq(d.n, 1);
	hubd_config_free(cfg);
	hubd_diags_free(&d);
}
END_TEST

/* The fallback of openat2: the same rules, one component at a time. */
struct walk_row {
	const char *path;
	int want; /* 0: opens, else -errno */
};

static const struct walk_row walk_rows[] = {
    {"a/f", 0},
    {"./a/./f", 0},
    {"a//f", 0},
    {"l1", 0},
    {"a/up", 0},
    {"a/../a/f", 0},
    {"k", 0},
    {"a/deep", 0},
    {"l2", -EXDEV},
    {"l3", -EXDEV},
    {"../x", -EXDEV},
    {"a/../../x", -EXDEV},
    {"/etc/passwd", -EXDEV},
    {"a/out", -EXDEV},
    {"loop", -ELOOP},
    {"missing", -ENOENT},
    {"a/f/x", -ENOTDIR},
    {"", -ENOENT},
};

static void make_tree(const char *root)
{
	char p[1024];
	static const char *links[][2] = {
	    {"l1", "a/f"},	{"l2", "../x"},	      {"l3", "/etc/passwd"},
	    {"a/up", "../a/f"}, {"a/out", "../../x"}, {"loop", "loop"},
	    {"..data", "..v1"}, {"k", "..data/k"},    {"a/deep", "../l1"},
	};
	FILE *f;

	snprintf(p, sizeof(p), "%s/a", root);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/..v1", root);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/f", root);
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	fclose(f);
	snprintf(p, sizeof(p), "%s/..v1/k", root);
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	fclose(f);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, links[i][0]);
		ck_assert_int_eq(symlink(links[i][1], p), 0);
	}
}

START_TEST(test_open_beneath_walk)
{
	char root[128];
	int dfd;

	setup_dir();
	snprintf(root, sizeof(root), "%s/w", tmpdir);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	make_tree(root);
	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	for (size_t i = 0; i < sizeof(walk_rows) / sizeof(walk_rows[0]); i++) {
		int fd = hubd_open_beneath_walk(dfd, walk_rows[i].path, O_RDONLY | O_CLOEXEC);

		if ((walk_rows[i].want == 0) != (fd >= 0) || (fd < 0 && fd != walk_rows[i].want))
			ck_abort_msg("walk %s: %d, want %d", walk_rows[i].path, fd,
				     walk_rows[i].want);
		if (fd >= 0)
			close(fd);
	}
	close(dfd);
	teardown_dir();
}
END_TEST

static void link_at(const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	ck_assert_int_eq(symlink(target, p), 0);
}

/*
 * A peer file that is a link out of peers.d, or no regular file, is refused
 * unread, alone: `ln -s ../private.key peers.d/leak.conf` once printed the key.
 */
START_TEST(test_peer_file_links)
{
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	struct hubd_peer_conf pc;
	char w[512], outside[512];
	FILE *f;

	setup_dir();
	snprintf(outside, sizeof(outside), "%s-outside", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(outside, "w"));
	fputs("[Peer]\n" MARK "\n", f);
	fclose(f);
	write_file("peers.d/ok.conf", "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\n", 0644,
		   0);
	link_at("../private.key", "peers.d/leak.conf");
	link_at(outside, "peers.d/abs.conf");
	link_at("../peers.d/../../x", "peers.d/dots.conf");
	link_at("/dev/zero", "peers.d/zero.conf");
	snprintf(w, sizeof(w), "%s/peers.d/null.conf", tmpdir);
	ck_assert_int_eq(mknod(w, S_IFCHR | 0644, makedev(1, 3)), 0);
	cfg = load(&d);
	ck_assert_uint_eq(cfg->n_peers, 1);
	ck_assert_uint_eq(cfg->n_rejected, 5);
	for (size_t i = 0; i < d.n; i++) {
		ck_assert_ptr_null(strstr(d.items[i].message, MARK));
		ck_assert_ptr_null(strstr(d.items[i].message, "yAnz5TF+lXXJte14tji3zlMNq"));
	}
	where(w, sizeof(w), "peers.d/leak.conf", 0);
	ck_assert(has_diag(&d, w, "symbolic link leading out of its directory"));
	where(w, sizeof(w), "peers.d/abs.conf", 0);
	ck_assert(has_diag(&d, w, "symbolic link leading out of its directory"));
	where(w, sizeof(w), "peers.d/dots.conf", 0);
	ck_assert(has_diag(&d, w, "symbolic link leading out of its directory"));
	where(w, sizeof(w), "peers.d/zero.conf", 0);
	ck_assert(has_diag(&d, w, "symbolic link leading out of its directory"));
	where(w, sizeof(w), "peers.d/null.conf", 0);
	ck_assert(has_diag(&d, w, "is not a regular file"));
	ck_assert_uint_eq(hubd_diags_errors(&d), 5);
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	/* The one-file path the daemon takes on a change: the same refusal. */
	ck_assert_int_eq(hubd_config_read_peer(tmpdir, "leak.conf", &pc, &d), -EXDEV);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(hubd_config_read_peer(tmpdir, "gone.conf", &pc, &d), -ENOENT);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(hubd_config_read_peer(tmpdir, "ok.conf", &pc, &d), 0);
	hubd_peer_conf_clear(&pc);
	hubd_diags_free(&d);
	unlink(outside);
	teardown_dir();
}
END_TEST

/* A Kubernetes ConfigMap or Secret mount: relative "..data" links that stay inside. */
START_TEST(test_configmap_links)
{
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	struct hubd_peer_conf pc;
	char w[512];

	setup_dir();
	snprintf(w, sizeof(w), "%s/peers.d/..2024_01_01_00_00_00.1", tmpdir);
	ck_assert_int_eq(mkdir(w, 0755), 0);
	snprintf(w, sizeof(w), "%s/psk/..2024_01_01_00_00_00.2", tmpdir);
	ck_assert_int_eq(mkdir(w, 0700), 0);
	write_file("peers.d/..2024_01_01_00_00_00.1/phone.conf",
		   "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPresharedKeyFile = "
		   "psk/phone.psk\n",
		   0644, 0);
	write_file("psk/..2024_01_01_00_00_00.2/phone.psk", "@K3@\n", 0600, 0);
	link_at("..2024_01_01_00_00_00.1", "peers.d/..data");
	link_at("..data/phone.conf", "peers.d/phone.conf");
	link_at("..2024_01_01_00_00_00.2", "psk/..data");
	link_at("..data/phone.psk", "psk/phone.psk");
	cfg = load(&d);
	if (d.n)
		dump(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(cfg->n_peers, 1);
	ck_assert(cfg->peers[0].has_psk);
	ck_assert_uint_eq(cfg->peers[0].psk[0], 0x33);
	hubd_config_free(cfg);
	ck_assert_int_eq(hubd_config_read_peer(tmpdir, "phone.conf", &pc, &d), 0);
	ck_assert(pc.has_psk);
	hubd_peer_conf_clear(&pc);
	teardown_dir();
}
END_TEST

/*
 * PresharedKeyFile: only beneath the config directory, never the private key,
 * and one message that says nothing of any path's existence, owner or mode.
 */
struct psk_row {
	const char *value; /* @D@: the config dir, @B@: its last component */
	bool ok;
	const char *msg;
};

#define PSK_UNUSABLE "PresharedKeyFile is not a usable key file under "
#define PSK_OUTSIDE  "PresharedKeyFile must name a file under "

static const struct psk_row psk_rows[] = {
    {"psk/a.psk", true, NULL},
    {"@D@/psk/a.psk", true, NULL},
    {"@D@//psk/../psk/a.psk", true, NULL},
    {"@D@-keys/b.psk", false, PSK_OUTSIDE},
    {"/etc/hubd-nonexistent/b.psk", false, PSK_OUTSIDE},
    {"@D@/../x/b.psk", false, PSK_UNUSABLE},
    {"../@B@-keys/b.psk", false, PSK_UNUSABLE},
    {"psk/out.psk", false, PSK_UNUSABLE}, /* a link to the file outside */
    {"private.key", false, PSK_UNUSABLE},
    {"psk/hard.psk", false, PSK_UNUSABLE}, /* the private key, hard-linked */
    {"psk/copy.psk", false, PSK_UNUSABLE}, /* the private key, copied */
    {"psk/loose.psk", false, PSK_UNUSABLE},
    {"psk/nobody.psk", false, PSK_UNUSABLE},
    {"psk/missing.psk", false, PSK_UNUSABLE},
    {"psk", false, PSK_UNUSABLE},
    {"hubd.conf", false, PSK_UNUSABLE},
    {"@K2@", false, PSK_UNUSABLE},
};

START_TEST(test_psk_rules)
{
	const struct psk_row *r = &psk_rows[_i];
	struct hubd_diags d = {0};
	struct hubd_config *cfg;
	char w[1024], keys_dir[512], value[512], *base;
	FILE *f;

	setup_dir();
	base = strrchr(tmpdir, '/') + 1;
	snprintf(keys_dir, sizeof(keys_dir), "%s-keys", tmpdir);
	ck_assert_int_eq(mkdir(keys_dir, 0700), 0);
	snprintf(w, sizeof(w), "%s/b.psk", keys_dir);
	ck_assert_ptr_nonnull(f = fopen(w, "w"));
	fputs(keys[2], f);
	fclose(f);
	ck_assert_int_eq(chmod(w, 0600), 0);
	write_file("psk/a.psk", "@K3@", 0600, 0);
	write_file("psk/copy.psk", hub_priv_b64, 0600, 0);
	write_file("psk/loose.psk", "@K3@", 0644, 0);
	write_file("psk/nobody.psk", "@K3@", 0600, 65534);
	snprintf(w, sizeof(w), "%s/private.key", tmpdir);
	snprintf(value, sizeof(value), "%s/psk/hard.psk", tmpdir);
	ck_assert_int_eq(link(w, value), 0);
	snprintf(w, sizeof(w), "%s/b.psk", keys_dir);
	link_at(w, "psk/out.psk");
	value[0] = '\0';
	for (const char *v = r->value; *v;) {
		if (strncmp(v, "@D@", 3) == 0 || strncmp(v, "@B@", 3) == 0) {
			strcat(value, v[1] == 'D' ? tmpdir : base);
			v += 3;
		} else {
			strncat(value, v++, 1);
		}
	}
	snprintf(w, sizeof(w),
		 "[Peer]\nPublicKey = @K1@\nAllowedIPs = 10.8.0.2/32\nPresharedKeyFile = %s\n",
		 value);
	write_file("peers.d/a.conf", w, 0644, 0);
	write_file("peers.d/b.conf", "[Peer]\nPublicKey = @K2@\nAllowedIPs = 10.8.0.3/32\n", 0644,
		   0);
	cfg = load(&d);
	if (r->ok) {
		ck_assert_uint_eq(d.n, 0);
		ck_assert_uint_eq(cfg->n_peers, 2);
		ck_assert(cfg->peers[0].has_psk);
		ck_assert_uint_eq(cfg->peers[0].psk[0], 0x33);
	} else {
		where(w, sizeof(w), "peers.d/a.conf", 4);
		if (cfg->n_peers != 1 || !has_diag(&d, w, r->msg) || d.n != 1 || leaks(&d) ||
		    strstr(d.items[0].message, hub_priv_b64) ||
		    strstr(d.items[0].message, "0644") || strstr(d.items[0].message, "65534") ||
		    strstr(d.items[0].message, "No such") || strstr(d.items[0].message, ".psk") ||
		    strstr(d.items[0].message, "private.key")) {
			dump(&d);
			ck_abort_msg("psk rule %d (%s)", _i, r->value);
		}
		ck_assert_str_eq(cfg->peers[0].name, "b");
	}
	hubd_config_free(cfg);
	hubd_diags_free(&d);
	snprintf(w, sizeof(w), "rm -rf '%s'", keys_dir);
	ck_assert_int_eq(system(w), 0);
	teardown_dir();
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_iface_rows, 0, sizeof(iface_rows) / sizeof(iface_rows[0]));
	tcase_add_loop_test(tc, test_peer_rows, 0, sizeof(peer_rows) / sizeof(peer_rows[0]));
	tcase_add_test(tc, test_iface_values);
	tcase_add_test(tc, test_metrics_listen);
	tcase_add_test(tc, test_peer_values);
	tcase_add_test(tc, test_all_errors_of_a_file);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_prefix);
	tcase_add_loop_test(tc, test_prefix_cmp_rows, 0, sizeof(cmp_rows) / sizeof(cmp_rows[0]));
	tcase_add_test(tc, test_prefix_cmp_ignores_padding);
	tcase_add_test(tc, test_prefix_host_and_addr);
	tcase_add_test(tc, test_filenames);
	tcase_add_loop_test(tc, test_no_line_text, 0, sizeof(secret_rows) / sizeof(secret_rows[0]));
	tcase_add_test(tc, test_typo_hints);
	tcase_add_test(tc, test_diag_redacts_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_loop_test(tc, test_verify_rows, 0, sizeof(verify_rows) / sizeof(verify_rows[0]));
	tcase_add_test(tc, test_verify_scale);
	tcase_add_test(tc, test_verify_masquerade_lan);
	tcase_add_test(tc, test_judge_prefix);
	tcase_add_test(tc, test_drop_rejected);
	tcase_add_test(tc, test_prefix_caps);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_loop_test(tc, test_private_key_perms, 0, 14);
	tcase_add_test(tc, test_private_key_bad);
	tcase_add_loop_test(tc, test_psk_perms, 0, sizeof(perm_rows) / sizeof(perm_rows[0]));
	tcase_add_test(tc, test_peers_dir);
	tcase_add_test(tc, test_broken_iface);
	tcase_add_test(tc, test_hostile_files);
	tcase_add_test(tc, test_load_two_halves);
	tcase_add_test(tc, test_list_peer_order);
	tcase_add_test(tc, test_open_beneath_walk);
	tcase_add_test(tc, test_peer_file_links);
	tcase_add_test(tc, test_configmap_links);
	tcase_add_loop_test(tc, test_psk_rules, 0, sizeof(psk_rows) / sizeof(psk_rows[0]));
	tcase_add_test(tc, test_load_100k);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Ownership and mode rules are tested for real: that needs root. */
	if (geteuid() != 0) {
		fprintf(stderr, "test-config: needs root to chown key files\n");
		return 77;
	}
	make_keys();
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
