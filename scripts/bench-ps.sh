#!/usr/bin/env bash
# Benchmark (not a test): `bocker ps`, `ps -a`, `images` with N containers in the store
# (goal <= 10 ms each with 1,000) and `bocker rm` of all N in one call (goal <= 2 s). The
# containers are made (state `created`, each with its root filesystem and cgroup) by one Lua
# script; everything lives in a temporary root under /tmp, removed at exit.
#
# Usage: scripts/bench-ps.sh [-n CONTAINERS] [-r RUNS] [--driver overlay|btrfs|copy]
#   -n CONTAINERS  containers to make (default 1000)
#   -r RUNS        timed runs of ps/images (default 20), after warm-ups: ps until its summary
#                  cache is steady, then 3 of each command; rm runs once
#   BOCKER_BIN     the binary to time (default: bocker on PATH, else .build/release/bocker)
#
# Measured 2026-12-03 (release, 1,000 containers, 20 runs; wall = median, CPU = perf stat
# task-clock mean; this VM's noise moves even `bocker --version` between 2.3 and 3.5 ms CPU):
#   start of the day (43.1M instructions for ps, callgrind):
#     ps 15.4-18.3 ms wall / 9.0-12.7 cpu, ps -a 13.8-15.6 / 9.6-13.3, images 6.6-6.8 / 5.2-6.5,
#     rm 1.1-2.0 s wall
#   bytecode, no lua_close at exit, bocker.text.columns (24.0M instructions for ps):
#     ps 7.4-10.8 ms wall / 6.3-9.4 cpu, ps -a 7.2-10.6 / 6.5-8.5, images 4.6-4.7 / 3.5-4.9,
#     rm 1.36-1.41 s wall / 0.83-0.86 s cpu; floor (--version) 3.3-3.5 / 2.3-3.5, /bin/true 1.0-1.2
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"

count=1000 runs=20 driver=${BOCKER_DRIVER:-overlay}
args=("$@")   # for running again under sudo / in a private netns: the options are shifted away below
while (($#)); do
    case $1 in
        -n) count=${2:?-n needs a number}; shift 2 ;;
        -r | --runs) runs=${2:?-r needs a number}; shift 2 ;;
        --driver) driver=${2:?--driver needs a name}; shift 2 ;;
        --driver=*) driver=${1#--driver=}; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "bench-ps.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$count" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-ps.sh: -n and -r take positive numbers" >&2; exit 2; }
need_root "$0" "${args[@]}"
bocker=${BOCKER_BIN:-$(command -v bocker || echo "$BOCKER_REPO/.build/release/bocker")}
[[ -x "$bocker" ]] || { echo "bench-ps.sh: no bocker binary ($bocker); build with swift build -c release --static-swift-stdlib" >&2; exit 1; }
in_private_netns "$0" "${args[@]}"

work=$(mktemp -d /tmp/bench-ps.XXXXXX)
export BOCKER_ROOT=$work/root BOCKER_DRIVER=$driver
cleanup() {
    set +e
    if [[ -d "$work/root/containers" ]]; then
        # whatever rm left (a failed run): one call, then the directories by hand
        ids=$(ls "$work/root/containers" 2>/dev/null | grep '^ps_' || true)
        [[ -n "$ids" ]] && "$bocker" rm -f $ids >/dev/null 2>&1 </dev/null
    fi
    local m
    while read -r m; do umount "$m" || umount -l "$m"; done < <(awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# now_us: bash's own clock in microseconds (no `date` process: forking one inside the timed
# span added 1-3 ms to every run on this VM).
now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo "$t"; }

# time_ms CMD...: the median wall time of RUNS runs (after 3 warm-ups), in ms; the output of
# a warm-up is kept in $work/out. The timed runs write to /dev/null: rewriting a file on ext4
# (O_TRUNC over delayed blocks) starts writeback, and the runs measured the disk.
time_ms() {
    local i t0 t1 times=()
    for i in 1 2 3; do "$@" >"$work/out" 2>&1 </dev/null; done
    for ((i = 0; i < runs; i++)); do
        t0=${EPOCHREALTIME//[!0-9]/}
        "$@" >/dev/null 2>&1 </dev/null
        t1=${EPOCHREALTIME//[!0-9]/}
        times+=($((t1 - t0)))
    done
    printf '%s\n' "${times[@]}" | median | awk '{ printf "%.2f", $1 / 1e3 }'
}

# cpu_ms CMD...: the mean CPU time (task-clock, all threads) of RUNS runs in ms, from perf
# stat when it is installed ("-" otherwise). On a loaded machine wall time mostly measures the
# wait for a core; CPU time is what the command itself costs.
cpu_ms() {
    command -v perf >/dev/null 2>&1 || { echo "-"; return; }
    perf stat -x, -e task-clock -r "$runs" "$@" 2>&1 >/dev/null </dev/null | awk -F, '/task-clock/ { printf "%.2f", $1 }'
}

echo "==> busybox rootfs and image in $work ($driver)"
"$BOCKER_REPO/scripts/dev/make-rootfs.sh" "$work/rootfs" >/dev/null
img=$("$bocker" init "$work/rootfs" | awk '/^Created: / { print $2 }')
[[ -n "$img" ]] || { echo "bench-ps.sh: bocker init failed" >&2; exit 1; }

echo "==> $count containers"
cat >"$work/make.lua" <<'EOF'
local n, img = tonumber(arg[1]), arg[2]
for i = 1, n do
  bocker.container.create { image = img, cmd = { "true" }, name = ("bench-%04d"):format(i) }
end
EOF
t0=$(now_us)
"$bocker" script "$work/make.lua" "$count" "$img"
t1=$(now_us)
made=$(ls "$work/root/containers" | grep -c '^ps_' || true)
[[ "$made" == "$count" ]] || { echo "bench-ps.sh: made $made containers, not $count" >&2; exit 1; }
awk -v d=$((t1 - t0)) 'BEGIN { printf "    made in %.1f s\n", d / 1e6 }'

sync   # the setup's writeback is not ps's cost: let it finish before the timed runs
# Warm up until ps no longer rewrites its summary cache (records changed in the last second are
# not cached yet, and every ps within that second reads them again and rewrites the cache): a
# user's ps comes long after the containers were made.
cache=$work/root/cache/containers
for ((i = 0; i < 1000; i++)); do
    before=$(stat -c '%i %y' "$cache" 2>/dev/null || echo none)
    "$bocker" ps >/dev/null 2>&1 </dev/null
    [[ "$(stat -c '%i %y' "$cache" 2>/dev/null || echo none)" == "$before" && "$before" != none ]] && break
done
echo "    summary cache steady after $((i + 1)) runs of ps"
ps_ms=$(time_ms "$bocker" ps)
psa_ms=$(time_ms "$bocker" ps -a)
rows=$(($(wc -l <"$work/out") - 1))
[[ "$rows" == "$count" ]] || { echo "bench-ps.sh: ps -a listed $rows containers, not $count" >&2; exit 1; }
images_ms=$(time_ms "$bocker" images)
ps_cpu=$(cpu_ms "$bocker" ps) psa_cpu=$(cpu_ms "$bocker" ps -a) images_cpu=$(cpu_ms "$bocker" images)
floor_ms=$(time_ms "$bocker" --version) floor_cpu=$(cpu_ms "$bocker" --version)
true_ms=$(time_ms /bin/true) true_cpu=$(cpu_ms /bin/true)

ids=$(ls "$work/root/containers" | grep '^ps_')
t0=$(now_us)
rm_cpu=-
if command -v perf >/dev/null 2>&1; then
    # shellcheck disable=SC2086  # one argument per id
    perf stat -x, -e task-clock -o "$work/rm.perf" "$bocker" rm $ids >"$work/rm.out" </dev/null
    rm_cpu=$(awk -F, '/task-clock/ { printf "%.0f", $1 }' "$work/rm.perf")
else
    # shellcheck disable=SC2086
    "$bocker" rm $ids >"$work/rm.out" </dev/null
fi
t1=$(now_us)
rm_ms=$(((t1 - t0) / 1000))
removed=$(grep -c 'ps_' "$work/rm.out" || true)
[[ "$removed" == "$count" ]] || { echo "bench-ps.sh: rm printed $removed ids, not $count" >&2; exit 1; }
left=$(ls "$work/root/containers" | grep -c '^ps_' || true)
[[ "$left" == 0 ]] || { echo "bench-ps.sh: $left containers left after rm" >&2; exit 1; }

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
printf '%-28s %12s %12s   %s\n' "command ($count containers)" "wall median" "CPU mean" "goal"
printf '%-28s %9s ms %9s ms   %s\n' "ps" "$ps_ms" "$ps_cpu" "<= 10 ms"
printf '%-28s %9s ms %9s ms   %s\n' "ps -a" "$psa_ms" "$psa_cpu" "<= 10 ms"
printf '%-28s %9s ms %9s ms   %s\n' "images" "$images_ms" "$images_cpu" "<= 10 ms"
printf '%-28s %9s ms %9s ms   %s\n' "(floor: bocker --version)" "$floor_ms" "$floor_cpu" ""
printf '%-28s %9s ms %9s ms   %s\n' "(any process: /bin/true)" "$true_ms" "$true_cpu" ""
printf '%-28s %9s ms %9s ms   %s\n' "rm (all, one call)" "$rm_ms" "$rm_cpu" "<= 2000 ms"
