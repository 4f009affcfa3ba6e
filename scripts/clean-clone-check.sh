#!/usr/bin/env bash
# The "fresh machine" check: clone the current commit (HEAD, not the work tree) into a
# temp dir — no node_modules, .tools or .build — and run `npm test` there with nothing
# else, as the README promises. Needs what the README's Quick start needs (Node, Python 3
# with pip, Redis and PostgreSQL running); everything else, nginx included, must come
# from `npm test` itself.
#
#   scripts/clean-clone-check.sh                 # nginx must already be absent
#   scripts/clean-clone-check.sh --remove-nginx  # root: apt-get remove nginx first (a truly fresh machine)
#   KEEP=1 scripts/clean-clone-check.sh          # keep the clone for a look afterwards
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
commit=$(git -C "$repo" rev-parse HEAD)
remove_nginx=0
for arg in "$@"; do
  case "$arg" in
    --remove-nginx) remove_nginx=1 ;;
    *) echo "usage: $0 [--remove-nginx]" >&2; exit 2 ;;
  esac
done

nginx_present() { [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1; }
if nginx_present; then
  if [ "$remove_nginx" -eq 1 ]; then
    echo "clean-clone: removing nginx (apt-get remove nginx nginx-common)"
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq nginx nginx-common </dev/null >/dev/null
  else
    echo "clean-clone: nginx is installed, so this is not a fresh machine; rerun with --remove-nginx (root) to remove it first" >&2
    exit 2
  fi
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/firebreak-clean-clone.XXXXXX")
log="$dir.log"
cleanup() { if [ "${KEEP:-0}" != 1 ]; then rm -rf "$dir"; fi; }
trap cleanup EXIT

echo "clean-clone: $commit into $dir (log: $log)"
git clone -q --no-checkout "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)" "$dir"
git -C "$dir" checkout -q --detach "$commit"
for p in node_modules .tools .build dist; do
  if [ -e "$dir/$p" ]; then echo "clean-clone: $p exists in a fresh clone (tracked by git?)" >&2; exit 1; fi
done

# Nothing from this shell may point the run at tools installed elsewhere.
unset TEMPORAL_CLI_PATH TEMPORAL_TEST_SERVER_PATH NGINX_BIN FIREBREAK_CONFIG
start=$SECONDS
rc=0
(cd "$dir" && CI=true npm test </dev/null) >"$log" 2>&1 || rc=$?
took=$((SECONDS - start))
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +(Test Files|Tests) ' || true
if [ "$rc" -ne 0 ]; then
  echo "clean-clone: FAILED: npm test exited $rc after ${took}s; last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit "$rc"
fi
nginx_present || { echo "clean-clone: FAILED: npm test passed but nginx is still not installed" >&2; exit 1; }
echo "clean-clone: OK: npm test passed in a fresh clone of $commit in ${took}s"
