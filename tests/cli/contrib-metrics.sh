#!/bin/sh
# contrib/ for Prometheus and Grafana: the alert rules pass promtool check rules and fire as
# meant on canned series (promtool test rules, tests/cli/hubd-alerts-test.yml); every query
# of the Grafana dashboard is valid PromQL; and the rules and the dashboard name only series
# that hubd's metrics text (src/common/metrics-text.c) writes.
set -eu
src=${HUBD_SRCDIR:?run from make check}
command -v promtool >/dev/null || { echo "promtool is not installed (Debian's prometheus)"; exit 77; }
command -v jq >/dev/null || { echo "jq is not installed"; exit 77; }
rules=$src/contrib/prometheus/hubd-alerts.yml
dash=$src/contrib/grafana/hubd.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "# promtool check rules"
promtool check rules "$rules" || fail "promtool check rules $rules"

echo "# promtool test rules: the alerts fire when, and only when, they should"
(cd "$src/tests/cli" && promtool test rules hubd-alerts-test.yml) || fail "promtool test rules"

echo "# the dashboard: JSON, and each query valid PromQL (as a recording rule)"
jq -e '.panels | length > 0' "$dash" >/dev/null || fail "$dash is not a dashboard"
jq -r '.panels[].targets[].expr' "$dash" | sed -e 's/\$__rate_interval/5m/g' \
	-e 's/\$instance/.*/g' >"$tmp/exprs"
[ "$(wc -l <"$tmp/exprs")" -ge 10 ] || fail "the dashboard has only $(wc -l <"$tmp/exprs") queries"
{
	echo "groups:"
	echo "  - name: dashboard"
	echo "    rules:"
	n=0
	while IFS= read -r e; do
		n=$((n + 1))
		printf "      - record: dashboard:query%d\n        expr: '%s'\n" "$n" \
			"$(printf '%s' "$e" | sed "s/'/''/g")"
	done <"$tmp/exprs"
} >"$tmp/dash-rules.yml"
promtool check rules "$tmp/dash-rules.yml" || fail "a dashboard query is not valid PromQL"

echo "# every series named is one that hubd writes"
names=$({ cat "$tmp/exprs"; grep 'expr:' -A8 "$rules"; } |
	grep -oE '\b(hubd|wireguard)_[a-z_]+' | sort -u)
[ -n "$names" ] || fail "no series found in the rules and the dashboard"
for n in $names; do
	grep -q "\"$n\"\|\"$n{\|\"$n\\\\n" "$src/src/common/metrics-text.c" ||
		fail "$n is used in contrib/ but hubd never writes it"
	echo "ok $n"
done
