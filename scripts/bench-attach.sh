#!/usr/bin/env bash
# Benchmark (not a test): stdin through a detached container's monitor. SIZE MB of zeros piped
# into `bocker start -ai` of a `create -i ... wc -c` container (attacher -> attach.sock ->
# monitor -> the container's stdin pipe), against `bocker run --rm -i` (this process's stdin is
# the container's), and the time of `start -a` of `true` (start detached, then attach).
# Everything lives in a temporary root under /tmp, removed at exit.
#
# Usage: scripts/bench-attach.sh [-s SIZE_MB] [-r RUNS]
#   -s SIZE_MB  megabytes piped in (default 200)
#   -r RUNS     timed runs of each (default 5)
#   BOCKER_BIN  the binary to time (default: bocker on PATH, else .build/release/bocker)
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"

size=200 runs=5 args=("$@")
while (($#)); do
    case $1 in
        -s) size=${2:?-s needs a number}; shift 2 ;;
        -r | --runs) runs=${2:?-r needs a number}; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "bench-attach.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$size" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-attach.sh: -s and -r take positive numbers" >&2; exit 2; }
need_root "$0" "${args[@]}"
bocker=${BOCKER_BIN:-$(command -v bocker || echo "$BOCKER_REPO/.build/release/bocker")}
[[ -x "$bocker" ]] || { echo "bench-attach.sh: no bocker binary ($bocker); build with swift build -c release --static-swift-stdlib" >&2; exit 1; }
in_private_netns "$0" "${args[@]}"

work=$(mktemp -d /tmp/bench-attach.XXXXXX)
export BOCKER_ROOT=$work/root
cleanup() {
    set +e
    ids=$(ls "$work/root/containers" 2>/dev/null | grep '^ps_' || true)
    [[ -n "$ids" ]] && "$bocker" rm -f $ids >/dev/null 2>&1 </dev/null
    local m
    while read -r m; do umount "$m" || umount -l "$m"; done < <(awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sh "$BOCKER_REPO/scripts/dev/make-rootfs.sh" "$work/rootfs" >/dev/null
img=$("$bocker" init "$work/rootfs" | grep -o 'img_[0-9a-f]*' | head -1)
"$bocker" create -i --name wc "$img" wc -c >/dev/null
"$bocker" create --name t "$img" true >/dev/null
bytes=$((size * 1000000))
# The byte count must come back whole, or the numbers mean nothing.
got=$(head -c "$bytes" /dev/zero | "$bocker" start -ai wc)
[[ "$got" == "$bytes" ]] || { echo "bench-attach.sh: start -ai counted '$got' bytes, not $bytes" >&2; exit 1; }

declare -A times cpus
nothing() { :; }
echo "stdin, $size MB (bocker: $bocker)"
# (cpu: the attacher and what it waits for; the monitor runs apart and is not counted)
timeit "start -ai (through the monitor)" nothing sh -c "head -c $bytes /dev/zero | '$bocker' start -ai wc"
timeit "run --rm -i (the caller's stdin)" nothing sh -c "head -c $bytes /dev/zero | '$bocker' run --rm -i $img wc -c"
echo "start latency"
timeit "start -a true" nothing "$bocker" start -a t
