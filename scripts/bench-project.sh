#!/usr/bin/env bash
# Benchmark (not a test): `up` of a 10-service project, where independent services start
# together and their conditions are polled together, beside `up --sequential` of the same
# project (one service at a time, each once the last reached its condition), in the same run.
# The project: 5 services whose healthcheck passes about 1 s after start, and 5 more that each
# wait for one of them to be healthy and have the same healthcheck (5 independent chains of 2).
# Everything runs in a private network namespace and a temporary state root, removed at the end.
#
# Usage: sudo scripts/bench-project.sh [-n RUNS]      (default 3; BOCKER_BIN overrides the binary)
# Measured 2026-12-03 (release, 2 shared cores, -n 3, medians): up 2.56 s, up --sequential
# 11.37 s (4.4x).
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"

runs=3
while (($#)); do
    case $1 in
        -n | --runs) runs=${2:?-n needs a number}; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "bench-project.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-project.sh: RUNS must be a positive number" >&2; exit 2; }
need_root "$0" "$@"

# Its own network namespace: the project's bridge, veths and NAT rules vanish with it.
in_private_netns "$0" "$@"

bocker=${BOCKER_BIN:-$(command -v bocker || echo "$BOCKER_REPO/.build/release/bocker")}
[[ -x "$bocker" ]] || { echo "error: no bocker binary ($bocker); build one or set BOCKER_BIN" >&2; exit 1; }
work=$(mktemp -d /tmp/bench-project.XXXXXX)
export BOCKER_ROOT=$work/root   # at once, so that no bocker call here can reach /var/bocker
mkdir -p "$BOCKER_ROOT"

cleanup() {
    set +e
    [[ -f "$work/project.lua" ]] && "$bocker" script "$work/project.lua" down -v -t 1 >/dev/null 2>&1 </dev/null
    for id in $(bocker_ps_ids "$bocker"); do "$bocker" rm -f "$id" >/dev/null 2>&1 </dev/null; done
    if awk -v w="$work/" 'index($5, w) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        echo "cleanup: mounts remain under $work; not removing it" >&2
    else
        rm -rf --one-file-system "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> busybox rootfs and image in $work"
"$BOCKER_REPO/scripts/dev/make-rootfs.sh" "$work/rootfs" >/dev/null
img=$("$bocker" init "$work/rootfs" </dev/null | grep -o 'img_[0-9a-f]\{12\}' | head -n1)
[[ -n "$img" ]] || { echo "error: bocker init gave no image id" >&2; exit 1; }

cat >"$work/project.lua" <<LUA
local project = require "bocker.project"
local p = project.new { name = "bench", stop_timeout = 1 }
-- Healthy about a second after start: a service that takes a moment to be ready.
local function svc(deps)
  return {
    image = "$img", init = true,
    command = "sleep 1 && touch /tmp/ready && exec sleep 600",
    healthcheck = { test = "test -f /tmp/ready", interval = 0.1, retries = 100 },
    depends_on = deps,
  }
end
for i = 1, 5 do
  p:service("base" .. i)(svc(nil))
  p:service("top" .. i)(svc({ ["base" .. i] = "healthy" }))
end
return p:main(arg)
LUA


# time_up MODE-FLAGS...: seconds one `up` takes (then `down`, untimed).
time_up() {
    local t0 t1
    t0=$(date +%s%N)
    "$bocker" script "$work/project.lua" up "$@" >"$work/up.log" 2>&1 </dev/null ||
        { cat "$work/up.log" >&2; return 1; }
    t1=$(date +%s%N)
    "$bocker" script "$work/project.lua" down -t 1 >/dev/null </dev/null
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) / 1e9 }'
}

par=() seq=()
for ((i = 1; i <= runs; i++)); do
    p=$(time_up) && s=$(time_up --sequential) || exit 1
    echo "    run $i: up ${p}s, up --sequential ${s}s"
    par+=("$p") seq+=("$s")
done
mp=$(printf '%s\n' "${par[@]}" | median)
ms=$(printf '%s\n' "${seq[@]}" | median)
echo
echo "median of $runs runs, 10 services (5 chains of 2, each healthy ~1 s after start), $(nproc) cores, $(uname -r)"
printf '  %-24s %6.2f s\n' "up" "$mp" "up --sequential" "$ms"
awk -v a="$ms" -v b="$mp" 'BEGIN { printf "  sequential / parallel   %6.1fx\n", a / b }'
