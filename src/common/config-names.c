/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which names hubd accepts for peer files and interfaces. */
#include <string.h>

#include "config.h"

#define CONF_SUFFIX ".conf"

bool hubd_is_peer_filename(const char *filename)
{
	size_t n = strlen(filename), s = strlen(CONF_SUFFIX);

	/* Dotfiles cover ".#x" locks, ".x.swp" and ConfigMap's "..data";
	 * "x.conf~", "x.swp" and "x.conf.bak" do not end in .conf. */
	if (filename[0] == '.' || n <= s)
		return false;
	return strcmp(filename + n - s, CONF_SUFFIX) == 0;
}

bool hubd_is_valid_peer_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > HUBD_PEER_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '@'))
			return false;
	}
	return true;
}

/*
 * Narrower than the kernel's dev_valid_name(): the name goes into nftables
 * rules and messages, where a quote or a semicolon could say more than a name.
 */
bool hubd_is_valid_ifname(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '@' || c == '+' || c == '-'))
			return false;
	}
	return true;
}
