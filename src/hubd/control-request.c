/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "control.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

static const char *const commands[] = {
    [CONTROL_RELOAD] = "reload",
    [CONTROL_DIFF] = "diff",
    [CONTROL_STATUS] = "status",
    [CONTROL_TAKEOVER] = "takeover",
};

int control_parse_request(const char *buf, size_t len)
{
	json_tokener *tok;
	json_object *req, *cmd;
	int r = -EINVAL;

	if (len > CONTROL_REQUEST_MAX)
		return -E2BIG;
	/* Depth 4 is plenty for {"command": "..."} and bounds the parser's recursion. */
	tok = json_tokener_new_ex(4);
	if (!tok)
		return -ENOMEM;
	req = json_tokener_parse_ex(tok, buf, (int)len);
	/* Trailing bytes other than the newline are garbage, not a second request. */
	if (req && tok->char_offset < (int)len &&
	    strspn(buf + tok->char_offset, "\r\n") != len - (size_t)tok->char_offset)
		goto out;
	if (!req || !json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "command", &cmd) ||
	    !json_object_is_type(cmd, json_type_string))
		goto out;
	r = -EOPNOTSUPP;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(json_object_get_string(cmd), commands[i]))
			r = (int)i;
out:
	json_object_put(req);
	json_tokener_free(tok);
	return r;
}
