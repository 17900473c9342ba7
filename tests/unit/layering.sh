#!/bin/sh
# The daemon's files call each other without a cycle: the loop's sources call the
# loop, the loop calls the reconcile, the reconcile calls its paths, the paths call
# the toolbox, and nothing calls back up (docs/ARCHITECTURE.md). Read off the
# object files' symbols: A -> B when A uses a function or variable B defines.
set -eu
b=${HUBD_BUILDDIR:?run from make check}
objs=$(ls "$b"/src/hubd/*.o "$b"/src/common/libhubconf_a-*.o 2>/dev/null | grep -v -e test- -e fuzz-)
[ -n "$objs" ] || { echo "layering: no object files under $b/src" >&2; exit 1; }
edges=$(for o in $objs; do
	f=${o##*/}
	f=${f#*-}
	f=${f%.o}
	nm "$o" | awk -v f="$f" '$1 == "U" { print "U", f, $2 } NF == 3 && $2 ~ /^[TDBR]$/ { print "D", f, $3 }'
done | awk '$1 == "D" { def[$3] = $2; next } { use[NR] = $2 " " $3 }
	END { for (i in use) { split(use[i], u, " "); if ((u[2] in def) && def[u[2]] != u[1]) print u[1], def[u[2]] } }' |
	sort -u)
n=$(printf '%s\n' "$edges" | grep -c . || true)
[ "$n" -gt 20 ] || { echo "layering: only $n dependencies found: the objects were not read" >&2; exit 1; }
# The sources and the loop must stand in this order, whatever else changes.
for want in "watch loop" "monitor loop" "control loop" "loop reconcile" "reconcile reconcile-full" \
	"reconcile reconcile-files" "reconcile reconcile-cold" "reconcile-full net-sync"; do
	printf '%s\n' "$edges" | grep -qx "$want" || { echo "layering: no dependency '$want'" >&2; exit 1; }
done
if ! out=$(printf '%s\n' "$edges" | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
	echo "layering: the daemon's files depend on each other in a cycle:" >&2
	printf '%s\n' "$out" >&2
	exit 1
fi
echo "layering: $n dependencies between the daemon's files, no cycle"
