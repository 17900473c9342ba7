/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl doctor: would the machine's nftables ruleset drop a packet? The whole
 * ruleset is read as libnftables' JSON listing (iptables-nft rules are there
 * too), and a probe packet is walked through each base chain on a hook, rule by
 * rule, following jumps and gotos. A rule's match is true, false or "maybe"
 * (it tests something the probe leaves unknown, or an xtables match we cannot
 * read): a certain drop is a FAIL, a drop that may apply a warning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

/*
 * A match is YES, NO, MAYBE (some of the probe's packets match: it leaves the
 * field unknown, or its prefix straddles the rule's) or OPAQUE (we cannot tell:
 * an xtables match, a key we do not model).
 */
enum tri { NO = 0, YES = 1, MAYBE = 2, OPAQUE = 3 };

/* Both: NO wins, then OPAQUE, then MAYBE. */
static enum tri tri_and(enum tri a, enum tri b)
{
	if (a == NO || b == NO)
		return NO;
	return a > b ? a : b;
}

/* Either: YES wins, then OPAQUE, then MAYBE. */
static enum tri tri_or(enum tri a, enum tri b)
{
	if (a == YES || b == YES)
		return YES;
	return a > b ? a : b;
}

#define MAX_DEPTH 32 /* nft refuses deeper jumps anyway; this bounds a hostile listing */

struct fw {
	struct json_object *items; /* the "nftables" array */
	const struct doctor_probe *p;
	char maybe_where[160]; /* the first drop that may apply */
	bool accepted_maybe;   /* a rule we cannot read may have accepted the probe */
};

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* The listing's object of kind ("chain", "set") with this family, table and name. */
static struct json_object *find_object(const struct fw *f, const char *kind, const char *family,
				       const char *table, const char *name)
{
	size_t n = json_object_array_length(f->items);

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = member(json_object_array_get_idx(f->items, i), kind);

		if (o && same(str(o, "family"), family) && same(str(o, "table"), table) &&
		    same(str(o, "name"), name))
			return o;
	}
	return NULL;
}

/* --- one value against the probe --- */

static enum tri name_match(const char *have, const char *pattern)
{
	if (!have)
		return MAYBE;
	/* nft writes iptables' "docker+" as "docker*". */
	return fnmatch(pattern, have, 0) == 0 ? YES : NO;
}

static int parse_prefix_json(struct json_object *v, struct hubd_prefix *ret)
{
	struct json_object *pre = member(v, "prefix");
	char buf[HUBD_PREFIX_STRLEN + 8];

	if (pre) {
		const char *a = str(pre, "addr");
		int len = json_object_get_int(member(pre, "len"));

		if (!a)
			return -EINVAL;
		snprintf(buf, sizeof(buf), "%s/%d", a, len);
	} else if (json_object_is_type(v, json_type_string)) {
		snprintf(buf, sizeof(buf), "%s", json_object_get_string(v));
	} else {
		return -EINVAL;
	}
	if (hubd_prefix_parse(buf, ret, NULL) < 0)
		return -EINVAL;
	hubd_prefix_mask(ret);
	return 0;
}

/* Does the probe's prefix lie in v (a prefix, an address or a range)? */
static enum tri addr_match(const struct hubd_prefix *have, struct json_object *v)
{
	struct json_object *range = member(v, "range");
	struct hubd_prefix want;

	if (!have)
		return MAYBE;
	if (range)
		return OPAQUE; /* address ranges are rare in filters; do not guess */
	if (parse_prefix_json(v, &want) < 0 || want.family != have->family)
		return want.family && want.family != have->family ? NO : OPAQUE;
	if (hubd_prefix_contains(&want, have))
		return YES;
	return hubd_prefix_overlap(&want, have) ? MAYBE : NO;
}

static enum tri int_match(int have, struct json_object *v)
{
	struct json_object *range = member(v, "range");

	if (have < 0)
		return MAYBE;
	if (range && json_object_array_length(range) == 2)
		return have >= json_object_get_int(json_object_array_get_idx(range, 0)) &&
			       have <= json_object_get_int(json_object_array_get_idx(range, 1))
			   ? YES
			   : NO;
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int(v) == have ? YES : NO;
	return OPAQUE;
}

static int proto_number(const char *name)
{
	static const struct {
		const char *name;
		int n;
	} protos[] = {
	    {"tcp", IPPROTO_TCP},	   {"udp", IPPROTO_UDP},       {"icmp", IPPROTO_ICMP},
	    {"ipv6-icmp", IPPROTO_ICMPV6}, {"icmpv6", IPPROTO_ICMPV6}, {"icmp6", IPPROTO_ICMPV6},
	    {"sctp", IPPROTO_SCTP},	   {"gre", IPPROTO_GRE},       {"esp", IPPROTO_ESP}};

	for (size_t i = 0; name && i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(protos[i].name, name))
			return protos[i].n;
	return -1;
}

static enum tri proto_match(int have, struct json_object *v)
{
	if (have <= 0)
		return MAYBE;
	if (json_object_is_type(v, json_type_string)) {
		int n = proto_number(json_object_get_string(v));

		return n < 0 ? OPAQUE : n == have ? YES : NO;
	}
	return int_match(have, v);
}

/* ct state: the probe is "new", or "established" for a reply. */
static enum tri ct_state_match(bool reply, struct json_object *v)
{
	const char *want = reply ? "established" : "new";

	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), want) ? NO : YES;
	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (ct_state_match(reply, json_object_array_get_idx(v, i)) == YES)
				return YES;
		return NO;
	}
	return OPAQUE;
}

/* A "left" the probe knows, and how to match one value of "right" against it. */
enum key {
	K_UNKNOWN,
	K_IIF,
	K_OIF,
	K_SADDR,
	K_DADDR,
	K_L4PROTO,
	K_DPORT,
	K_CTSTATE,
	K_CTSTATUS,
	K_NFPROTO,
	K_L4FIELD, /* another field of a transport header: sport, icmp type, tcp flags */
};

static enum key classify(struct json_object *left, int family, enum tri *ret_family_ok)
{
	struct json_object *meta = member(left, "meta"), *pl = member(left, "payload");
	struct json_object *ct = member(left, "ct");
	const char *k;

	*ret_family_ok = YES;
	if (meta) {
		k = str(meta, "key");
		if (same(k, "iifname") || same(k, "iif"))
			return K_IIF;
		if (same(k, "oifname") || same(k, "oif"))
			return K_OIF;
		if (same(k, "l4proto"))
			return K_L4PROTO;
		if (same(k, "nfproto"))
			return K_NFPROTO;
		return K_UNKNOWN;
	}
	if (ct)
		return same(str(ct, "key"), "state")	? K_CTSTATE
		       : same(str(ct, "key"), "status") ? K_CTSTATUS
							: K_UNKNOWN;
	if (!pl)
		return K_UNKNOWN;
	k = str(pl, "field");
	if (same(str(pl, "protocol"), "ip") || same(str(pl, "protocol"), "ip6")) {
		/* An ip test never matches an IPv6 packet, and the other way round. */
		if (same(str(pl, "protocol"), "ip") != (family == AF_INET))
			*ret_family_ok = NO;
		if (same(k, "saddr"))
			return K_SADDR;
		if (same(k, "daddr"))
			return K_DADDR;
		if (same(k, "protocol") || same(k, "nexthdr"))
			return K_L4PROTO;
		return K_UNKNOWN;
	}
	/* "udp dport" implies udp (value_match tests it); "th dport" any transport. */
	if (same(k, "dport"))
		return K_DPORT;
	return proto_number(str(pl, "protocol")) > 0 ? K_L4FIELD : K_UNKNOWN;
}

static enum tri value_match(const struct fw *f, enum key key, struct json_object *left,
			    struct json_object *v)
{
	const struct doctor_probe *p = f->p;
	struct json_object *pl = member(left, "payload");

	switch (key) {
	case K_IIF:
		return json_object_is_type(v, json_type_string)
			   ? name_match(p->iif, json_object_get_string(v))
			   : OPAQUE;
	case K_OIF:
		return json_object_is_type(v, json_type_string)
			   ? name_match(p->oif, json_object_get_string(v))
			   : OPAQUE;
	case K_SADDR:
		return addr_match(p->saddr, v);
	case K_DADDR:
		return addr_match(p->daddr, v);
	case K_L4PROTO:
		return proto_match(p->l4proto, v);
	case K_DPORT: {
		int proto = proto_number(str(pl, "protocol"));

		if (proto > 0 && p->l4proto > 0 && proto != p->l4proto)
			return NO;
		if (proto > 0 && p->l4proto <= 0)
			return MAYBE;
		return int_match(p->dport, v);
	}
	case K_CTSTATE:
		return ct_state_match(p->reply, v);
	case K_CTSTATUS:
		/* The probes are not DNATed (firewalld and Docker accept what is). */
		return json_object_is_type(v, json_type_string) &&
			       same(json_object_get_string(v), "dnat")
			   ? NO
			   : OPAQUE;
	case K_L4FIELD: {
		int proto = proto_number(str(pl, "protocol"));

		/* Some of the probe's packets of that protocol match (icmp type 3, sport 67). */
		if (p->l4proto > 0 && proto != p->l4proto)
			return NO;
		return MAYBE;
	}
	case K_NFPROTO:
		return json_object_is_type(v, json_type_string)
			   ? (same(json_object_get_string(v),
				   p->family == AF_INET ? "ipv4" : "ipv6")
				  ? YES
				  : NO)
			   : OPAQUE;
	default:
		return OPAQUE;
	}
}

/* Any of a set's elements (an anonymous {"set": [...]} or a named "@set" of this table). */
static enum tri set_match(const struct fw *f, struct json_object *rule, enum key key,
			  struct json_object *left, struct json_object *right)
{
	struct json_object *elems = member(right, "set");
	enum tri any = NO;

	if (json_object_is_type(right, json_type_string) &&
	    json_object_get_string(right)[0] == '@') {
		struct json_object *set =
		    find_object(f, "set", str(rule, "family"), str(rule, "table"),
				json_object_get_string(right) + 1);

		elems = member(set, "elem");
		if (!elems)
			return OPAQUE; /* an empty or unreadable set: do not guess */
	}
	if (!elems)
		return value_match(f, key, left, right);
	if (!json_object_is_type(elems, json_type_array))
		return value_match(f, key, left, elems);
	for (size_t i = 0; i < json_object_array_length(elems); i++) {
		struct json_object *e = json_object_array_get_idx(elems, i);
		struct json_object *inner = member(e, "elem");
		enum tri t = value_match(f, key, left, inner ? member(inner, "val") : e);

		any = tri_or(any, t);
	}
	return any;
}

static enum tri match_expr(const struct fw *f, struct json_object *rule, struct json_object *m)
{
	const char *op = str(m, "op");
	struct json_object *left = member(m, "left"), *right = member(m, "right");
	enum tri family_ok, t;
	enum key key = classify(left, f->p->family, &family_ok);

	if (family_ok == NO)
		return NO;
	if (key == K_UNKNOWN || !right)
		return OPAQUE;
	t = set_match(f, rule, key, left, right);
	if (same(op, "!="))
		return t == YES ? NO : t == NO ? YES : t;
	if (same(op, "==") || same(op, "in") || (!op && key == K_CTSTATE))
		return t;
	return OPAQUE; /* <, >, bit tests on what we model: do not guess */
}

/* --- a rule and a chain --- */

enum outcome { OUT_CONTINUE, OUT_ACCEPT, OUT_DROP, OUT_RETURN };

struct result {
	enum outcome out;
	char where[160]; /* for a drop */
};

static enum outcome eval_chain(struct fw *f, const char *family, const char *table,
			       const char *chain, bool unsure, int depth, struct result *res);

/*
 * An xtables conntrack (or state) match: the listing names it without its
 * states, so take it as Docker, ufw and most iptables rulesets use it. Before
 * an accept it is RELATED,ESTABLISHED: a reply matches, and new traffic only
 * when the rest of the rule singles it out (`-p udp --dport 51820 -m conntrack
 * --ctstate NEW -j ACCEPT`). Before a drop or a jump it is INVALID, which none
 * of the probes is.
 */
static enum tri xt_conntrack(const struct fw *f, const char *verdict, bool singled_out)
{
	if (!verdict || strcmp(verdict, "accept"))
		return NO;
	return f->p->reply || singled_out ? YES : NO;
}

static bool is_xt_conntrack(struct json_object *xt)
{
	return xt && same(str(xt, "type"), "match") &&
	       (same(str(xt, "name"), "conntrack") || same(str(xt, "name"), "state"));
}

/* The rule's matches together: NO as soon as one is NO. */
static enum tri rule_matches(const struct fw *f, struct json_object *rule, const char *verdict)
{
	struct json_object *expr = member(rule, "expr");
	enum tri all = YES;
	bool conntrack = false, singled_out = false;

	for (size_t i = 0; expr && i < json_object_array_length(expr); i++) {
		struct json_object *e = json_object_array_get_idx(expr, i);
		struct json_object *m = member(e, "match"), *xt = member(e, "xt");
		enum tri t = YES;

		if (m) {
			t = match_expr(f, rule, m);
			singled_out |= t == YES && !same(str(m, "op"), "!=");
		} else if (is_xt_conntrack(xt)) {
			conntrack = true;
		} else if (xt && same(str(xt, "type"), "match") &&
			   proto_number(str(xt, "name")) > 0) {
			/* -p icmp --icmp-type 3: a subset of the packets -p already chose. */
			t = MAYBE;
		} else if ((xt && same(str(xt, "type"), "match")) || member(e, "limit") ||
			   member(e, "quota")) {
			t = OPAQUE; /* an xtables match we cannot read, a rate */
		}
		all = tri_and(all, t);
		if (all == NO)
			return NO;
	}
	if (conntrack && xt_conntrack(f, verdict, singled_out) == NO)
		return NO;
	return all;
}

/* The rule's verdict statement: "accept", "drop", "jump" (target set) ..., or NULL. */
static const char *rule_verdict(struct json_object *rule, const char **ret_target)
{
	static const char *const verdicts[] = {"accept", "drop",       "reject", "jump", "goto",
					       "return", "masquerade", "snat",	 "queue"};
	struct json_object *expr = member(rule, "expr");

	*ret_target = NULL;
	for (size_t i = 0; expr && i < json_object_array_length(expr); i++) {
		struct json_object *e = json_object_array_get_idx(expr, i), *xt = member(e, "xt");

		for (size_t k = 0; k < sizeof(verdicts) / sizeof(verdicts[0]); k++)
			if (json_object_is_type(e, json_type_object) &&
			    json_object_object_get_ex(e, verdicts[k], NULL)) {
				*ret_target = str(member(e, verdicts[k]), "target");
				return verdicts[k];
			}
		/* iptables-nft's xtables targets: REJECT drops, MASQUERADE and SNAT translate. */
		if (xt && same(str(xt, "type"), "target")) {
			if (same(str(xt, "name"), "REJECT"))
				return "reject";
			if (same(str(xt, "name"), "MASQUERADE") || same(str(xt, "name"), "SNAT"))
				return "masquerade";
		}
	}
	return NULL;
}

static enum outcome note_drop(struct fw *f, struct result *res, bool unsure, const char *where)
{
	if (unsure) {
		if (!f->maybe_where[0])
			snprintf(f->maybe_where, sizeof(f->maybe_where), "%s", where);
		return OUT_CONTINUE;
	}
	res->out = OUT_DROP;
	snprintf(res->where, sizeof(res->where), "%s", where);
	return OUT_DROP;
}

/*
 * One rule: OUT_CONTINUE to go on with the next, or how the chain ends.
 * unsure: the probe may not be here at all (it may have been accepted or have
 * returned earlier), so a drop is only a "may drop". A rule that matches some
 * of the probe's packets (MAYBE) lets those go and the walk follows the rest;
 * one we cannot read (OPAQUE) makes the walk unsure from there on: after an
 * accept for the whole base chain (f->accepted_maybe), after a return or goto
 * for the rest of this chain (*chain_unsure).
 */
static enum outcome eval_rule(struct fw *f, struct json_object *rule, bool unsure, int depth,
			      struct result *res, bool *chain_unsure)
{
	const char *target, *v = rule_verdict(rule, &target);
	enum tri m = v ? rule_matches(f, rule, v) : NO;
	bool certain = m == YES, may = unsure || !certain;
	char where[160];

	if (m == NO)
		return OUT_CONTINUE;
	snprintf(where, sizeof(where), "rule handle %d in chain %s (%s)",
		 json_object_get_int(member(rule, "handle")), str(rule, "chain"), v);
	if (!strcmp(v, "accept") || !strcmp(v, "queue")) {
		if (m == OPAQUE || unsure)
			f->accepted_maybe = true;
		return may ? OUT_CONTINUE : OUT_ACCEPT;
	}
	if (!strcmp(v, "drop") || !strcmp(v, "reject"))
		return note_drop(f, res, may, where);
	if (!strcmp(v, "return")) {
		*chain_unsure |= m == OPAQUE;
		return may ? OUT_CONTINUE : OUT_RETURN;
	}
	if ((!strcmp(v, "jump") || !strcmp(v, "goto")) && target && depth < MAX_DEPTH) {
		enum outcome sub = eval_chain(f, str(rule, "family"), str(rule, "table"), target,
					      may, depth + 1, res);

		if (sub == OUT_ACCEPT || sub == OUT_DROP)
			return sub;
		/* A goto that comes back ends the calling chain too. */
		if (!strcmp(v, "goto")) {
			*chain_unsure |= m == OPAQUE;
			return may ? OUT_CONTINUE : OUT_RETURN;
		}
	}
	return OUT_CONTINUE;
}

static enum outcome eval_chain(struct fw *f, const char *family, const char *table,
			       const char *chain, bool unsure, int depth, struct result *res)
{
	size_t n = json_object_array_length(f->items);
	bool chain_unsure = false;

	for (size_t i = 0; i < n; i++) {
		struct json_object *rule = member(json_object_array_get_idx(f->items, i), "rule");
		enum outcome o;

		if (!rule || !same(str(rule, "family"), family) ||
		    !same(str(rule, "table"), table) || !same(str(rule, "chain"), chain))
			continue;
		o = eval_rule(f, rule, unsure || chain_unsure || f->accepted_maybe, depth, res,
			      &chain_unsure);
		if (o != OUT_CONTINUE)
			return o;
	}
	return OUT_RETURN;
}

static bool family_applies(const char *family, int af)
{
	return same(family, "inet") || (af == AF_INET && same(family, "ip")) ||
	       (af == AF_INET6 && same(family, "ip6"));
}

static struct json_object *listing(struct json_object *ruleset)
{
	struct json_object *items = member(ruleset, "nftables");

	return items && json_object_is_type(items, json_type_array) ? items : NULL;
}

/* One base chain: does it drop the probe? */
static enum doctor_fw_verdict eval_base(struct fw *f, struct json_object *chain,
					struct doctor_fw_drop *d)
{
	struct result res = {0};
	enum outcome o;

	f->maybe_where[0] = '\0';
	f->accepted_maybe = false;
	o = eval_chain(f, str(chain, "family"), str(chain, "table"), str(chain, "name"), false, 0,
		       &res);
	snprintf(d->family, sizeof(d->family), "%s", str(chain, "family"));
	snprintf(d->table, sizeof(d->table), "%s", str(chain, "table"));
	snprintf(d->chain, sizeof(d->chain), "%s", str(chain, "name"));
	if (o == OUT_DROP) {
		snprintf(d->where, sizeof(d->where), "%s", res.where);
		return d->verdict = DOCTOR_FW_DROP;
	}
	if (o == OUT_RETURN && same(str(chain, "policy"), "drop") && f->accepted_maybe) {
		snprintf(d->where, sizeof(d->where),
			 "its policy drop, unless a rule it cannot read "
			 "accepts first");
		return d->verdict = DOCTOR_FW_MAYBE_DROP;
	}
	if (o == OUT_RETURN && same(str(chain, "policy"), "drop")) {
		snprintf(d->where, sizeof(d->where), "its policy drop");
		return d->verdict = DOCTOR_FW_DROP;
	}
	if (o == OUT_RETURN && f->maybe_where[0]) {
		snprintf(d->where, sizeof(d->where), "%s", f->maybe_where);
		return d->verdict = DOCTOR_FW_MAYBE_DROP;
	}
	return d->verdict = DOCTOR_FW_PASS;
}

int doctor_fw_drops(struct json_object *ruleset, const char *hook, const struct doctor_probe *p,
		    struct doctor_fw_drop *ret, size_t max)
{
	struct fw f = {.items = listing(ruleset), .p = p};
	size_t n, found = 0;

	if (!f.items)
		return -EINVAL;
	n = json_object_array_length(f.items);
	for (size_t i = 0; i < n && found < max; i++) {
		struct json_object *c = member(json_object_array_get_idx(f.items, i), "chain");

		if (!c || !same(str(c, "hook"), hook) || !same(str(c, "type"), "filter") ||
		    !family_applies(str(c, "family"), p->family))
			continue;
		/* hubd's own table is what hubd makes true; the isolate drop there is wanted. */
		if (same(str(c, "family"), "inet") && same(str(c, "table"), "hubd"))
			continue;
		if (eval_base(&f, c, &ret[found]) != DOCTOR_FW_PASS)
			found++;
	}
	return (int)found;
}

bool doctor_fw_has_chain(struct json_object *ruleset, const char *family, const char *table,
			 const char *name)
{
	struct fw f = {.items = listing(ruleset)};

	return f.items && find_object(&f, "chain", family, table, name);
}

bool doctor_fw_masqueraded(struct json_object *ruleset, const struct doctor_probe *p)
{
	struct fw f = {.items = listing(ruleset), .p = p};
	size_t n = f.items ? json_object_array_length(f.items) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *c = member(json_object_array_get_idx(f.items, i), "chain");

		if (!c || !same(str(c, "hook"), "postrouting") || !same(str(c, "type"), "nat") ||
		    !family_applies(str(c, "family"), p->family))
			continue;
		for (size_t k = 0; k < n; k++) {
			struct json_object *rule =
			    member(json_object_array_get_idx(f.items, k), "rule");
			const char *target, *v;

			if (!rule || !same(str(rule, "family"), str(c, "family")) ||
			    !same(str(rule, "table"), str(c, "table")) ||
			    !same(str(rule, "chain"), str(c, "name")))
				continue;
			v = rule_verdict(rule, &target);
			if (v && (!strcmp(v, "masquerade") || !strcmp(v, "snat")) &&
			    rule_matches(&f, rule, v) != NO)
				return true;
		}
	}
	return false;
}
