#!/usr/bin/env bash
# Benchmark (not a test): median wall time of `bocker run IMG true` beside the floor
# (`unshare -fmuip --mount-proc chroot ROOTFS /bin/true`) and, where installed, `crun run`
# on the same busybox rootfs, without and with a seccomp filter (Docker's default profile for
# the default capabilities, as bocker applies it, written into crun's config.json). Everything lives in a temporary root under /tmp, removed at exit.
#
# Usage: sudo scripts/bench.sh [-n RUNS] [--driver overlay|btrfs] [--no-crun]
#   -n RUNS      timed runs per command after 3 warm-ups (default $BENCH_RUNS or 30)
#   --driver D   passed to bocker as BOCKER_DRIVER (default: $BOCKER_DRIVER, else bocker's choice);
#                btrfs puts the temporary state root on a loop-mounted 300 MB btrfs
#   BOCKER_BIN   the binary to time (default: bocker on PATH, else .build/release/bocker)
#   HYPERFINE    the hyperfine to use (default: hyperfine if installed; empty: a plain date loop)
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"

runs=${BENCH_RUNS:-30}
driver=${BOCKER_DRIVER:-}
use_crun=1
while (($#)); do
    case $1 in
        -n | --runs) runs=${2:?-n needs a number}; shift 2 ;;
        --driver) driver=${2:?--driver needs a name}; shift 2 ;;
        --driver=*) driver=${1#--driver=}; shift ;;
        --no-crun) use_crun=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: RUNS must be a positive number" >&2; exit 2; }
need_root "$0" "$@"
warmup=3
hyperfine=${HYPERFINE-$(command -v hyperfine || true)}

bocker=${BOCKER_BIN:-$(command -v bocker || echo "$BOCKER_REPO/.build/release/bocker")}
[[ -x "$bocker" ]] || { echo "note: no bocker binary ($bocker); timing the floor and crun only" >&2; bocker=; }
command -v crun >/dev/null 2>&1 || use_crun=0

# --- its own network namespace: bocker's bridge, veths and NAT rules are made there and vanish
# with it; the machine's network is never touched ---------------------------------------------
in_private_netns "$0" "$@"

# --- temporary world, torn down by cleanup() whatever happens ------------------------------
work=$(mktemp -d /tmp/bench-bocker.XXXXXX)
export BOCKER_ROOT=$work/root   # set at once, so no bocker call here can reach /var/bocker
loopdev='' hugetlb_mounted='' hugetlb_made='' crun_id="bench-$$"

cleanup() {
    set +e
    if [[ -n "$bocker" && -d "$work/root" ]]; then   # containers first, through bocker itself
        for id in $(bocker_ps_ids "$bocker"); do "$bocker" rm "$id" >/dev/null 2>&1 </dev/null; done
    fi
    [[ -d "$work/crun-state" ]] && crun --root "$work/crun-state" delete -f "$crun_id" >/dev/null 2>&1
    # Anything still mounted under $work (the btrfs root last: deepest first).
    local m
    while read -r m; do
        [[ -n "$loopdev" && "$m" == "$work/root" ]] || echo "cleanup: unmounting leftover $m" >&2
        umount "$m" || umount -l "$m"
    done < <(awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    [[ -n "$loopdev" ]] && losetup -d "$loopdev"
    if awk -v w="$work/" 'index($5, w) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        echo "cleanup: mounts remain under $work; not removing it" >&2
    else
        rm -rf --one-file-system "$work"
    fi
    [[ -n "$hugetlb_mounted" ]] && umount /sys/fs/cgroup/hugetlb
    [[ -n "$hugetlb_made" ]] && rmdir /sys/fs/cgroup/hugetlb
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> busybox rootfs in $work"
"$BOCKER_REPO/scripts/dev/make-rootfs.sh" "$work/rootfs"

# --- timing --------------------------------------------------------------------------------
declare -A median_ms=()
failed=()

# median: reads numbers (one a line) and prints their median.

# measure KEY CMD...: sets median_ms[KEY] to CMD's median wall time.
measure() {
    local key=$1 ms t0 i
    shift
    echo "==> $key: $*"
    if [[ -n "$hyperfine" ]]; then
        local cmdline json=$work/hyperfine-$key.json
        cmdline=$(printf '%q ' "$@")
        "$hyperfine" -N --warmup "$warmup" --runs "$runs" --export-json "$json" "$cmdline" </dev/null || return 1
        # median of the "times" array (seconds), in ms
        ms=$(tr -d ' \t\n' <"$json" | sed -n 's/.*"times":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' |
            median | awk '{ printf "%.2f", $1 * 1000 }') || return 1
    else
        for ((i = 0; i < warmup; i++)); do "$@" >/dev/null </dev/null || return 1; done
        local times=()
        for ((i = 0; i < runs; i++)); do
            t0=$(date +%s%N)
            "$@" >/dev/null </dev/null || return 1
            times+=($(($(date +%s%N) - t0)))
        done
        ms=$(printf '%s\n' "${times[@]}" | median | awk '{ printf "%.2f", $1 / 1e6 }') || return 1
    fi
    median_ms[$key]=$ms
    echo "    median ${ms} ms"
}

# The floor: namespaces + chroot and nothing else.
measure floor unshare -fmuip --mount-proc chroot "$work/rootfs" /bin/true ||
    failed+=(floor)
measure floor_net unshare -fmuipn --mount-proc chroot "$work/rootfs" /bin/true ||
    failed+=(floor_net)

# crun on the same rootfs.
crun_label=
if ((use_crun)); then
    mkdir -p "$work/bundle" "$work/crun-state"
    (cd "$work/bundle" && crun spec)
    sed -i -e 's/"terminal": true/"terminal": false/' -e 's/^\([[:space:]]*\)"sh"$/\1"\/bin\/true"/' \
        -e "s|\"path\": \"rootfs\"|\"path\": \"$work/rootfs\"|" "$work/bundle/config.json"
    if ! grep -q '"/bin/true"' "$work/bundle/config.json" || ! grep -q "\"$work/rootfs\"" "$work/bundle/config.json"; then
        echo "error: could not adapt crun's config.json" >&2
        exit 1
    fi
    # crun 1.8 on a cgroup v1/hybrid host wants the hugetlb hierarchy mounted.
    if [[ "$(stat -fc %T /sys/fs/cgroup)" == tmpfs ]] && ! mountpoint -q /sys/fs/cgroup/hugetlb &&
        grep -q '^hugetlb' /proc/cgroups; then
        [[ -d /sys/fs/cgroup/hugetlb ]] || { mkdir /sys/fs/cgroup/hugetlb && hugetlb_made=1; }
        if mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb; then
            hugetlb_mounted=1
        else
            echo "warning: could not mount the hugetlb cgroup; crun may fail" >&2
        fi
    fi
    crun_label="crun $(crun --version | awk 'NR == 1 { print $3 }')"
    measure crun crun --root "$work/crun-state" run --bundle "$work/bundle" "$crun_id" ||
        failed+=(crun)
    # The same bundle with Docker's default seccomp profile, resolved for the default
    # capabilities into the OCI form (no includes/excludes): the allow-list is read from
    # bocker's own copy (Sources/BockerSeccomp/DefaultProfile.swift), so both filter alike.
    mkdir -p "$work/bundle-seccomp"
    if python3 - "$BOCKER_REPO/Sources/BockerSeccomp/DefaultProfile.swift" "$work/bundle/config.json" \
        "$work/bundle-seccomp/config.json" <<'PY'
import json, re, sys
src, spec_in, spec_out = sys.argv[1:4]
text = open(src).read()
names = re.search(r'defaultAllowed: \[String\] = """(.*?)"""', text, re.S).group(1).split()
allow = lambda n, args=None: dict(names=n, action="SCMP_ACT_ALLOW", **({"args": args} if args else {}))
eq = lambda v: [dict(index=0, value=v, op="SCMP_CMP_EQ")]
rules = [allow(names), allow(["process_vm_readv", "process_vm_writev", "ptrace"]),
         allow(["socket"], [dict(index=0, value=40, op="SCMP_CMP_NE")]),
         allow(["arch_prctl", "modify_ldt"]),
         allow(["clone"], [dict(index=0, value=0x7E020000, valueTwo=0, op="SCMP_CMP_MASKED_EQ")]),
         dict(names=["clone3"], action="SCMP_ACT_ERRNO", errnoRet=38), allow(["chroot"])]
rules += [allow(["personality"], eq(v)) for v in (0, 8, 0x20000, 0x20008, 0xffffffff)]
spec = json.load(open(spec_in))
spec["linux"]["seccomp"] = dict(defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=1,
    architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], syscalls=rules)
json.dump(spec, open(spec_out, "w"), indent=1)
PY
    then
        measure crun_seccomp crun --root "$work/crun-state" run --bundle "$work/bundle-seccomp" "$crun_id" ||
            failed+=(crun_seccomp)
    else
        echo "warning: could not write crun's seccomp config (python3 missing?); skipping it" >&2
    fi
    # Put the hugetlb hierarchy back as it was before bocker's turn.
    [[ -n "$hugetlb_mounted" ]] && umount /sys/fs/cgroup/hugetlb && hugetlb_mounted=''
    [[ -n "$hugetlb_made" && -z "$hugetlb_mounted" ]] && rmdir /sys/fs/cgroup/hugetlb && hugetlb_made=''
fi

# bocker, in its own temporary state root (never /var/bocker).
bocker_label=
if [[ -n "$bocker" ]]; then
    if [[ "$driver" == btrfs ]]; then
        echo "==> 300 MB loop-mounted btrfs as the state root"
        truncate -s 300M "$work/btrfs.img"
        mkfs.btrfs -q "$work/btrfs.img" >/dev/null
        loopdev=$(losetup --find --show "$work/btrfs.img")
        mkdir -p "$work/root"
        mount "$loopdev" "$work/root"
    fi
    mkdir -p "$work/root"
    [[ -n "$driver" ]] && export BOCKER_DRIVER=$driver
    out=$("$bocker" init "$work/rootfs" </dev/null)
    img=$(grep -o 'img_[0-9a-f]\{12\}' <<<"$out" | head -n1 || true)
    [[ -n "$img" ]] || { echo "error: no image id in bocker init's output: $out" >&2; exit 1; }
    rm_flag=()
    bocker_has_rm "$bocker" && rm_flag=(--rm)
    bocker_label="bocker run${rm_flag[*]:+ ${rm_flag[*]}} (${driver:-default driver})"
    measure bocker_none "$bocker" run "${rm_flag[@]}" --network none "$img" true || failed+=(bocker_none)
    # The same without the seccomp filter: what the filter itself costs.
    if "$bocker" run --rm --network none --security-opt seccomp=unconfined "$img" true </dev/null >/dev/null 2>&1; then
        measure bocker_unconfined "$bocker" run "${rm_flag[@]}" --network none --security-opt seccomp=unconfined "$img" true ||
            failed+=(bocker_unconfined)
    fi
    measure bocker "$bocker" run "${rm_flag[@]}" "$img" true || failed+=(bocker)
    if ((${#rm_flag[@]} == 0)); then   # no --rm: remove the containers the runs made
        ids=$(bocker_ps_ids "$bocker")
        echo "==> removing $(wc -w <<<"$ids") containers"
        for id in $ids; do "$bocker" rm "$id" >/dev/null </dev/null; done
    fi
fi

# --- report --------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b }'; }
echo
echo "median wall time, $runs runs after $warmup warm-ups ($(nproc) cores, $(uname -r))"
row() { printf '  %-38s %9s ms  %s\n' "$1" "$2" "$3"; }
f=${median_ms[floor]:-} fn=${median_ms[floor_net]:-} c=${median_ms[crun]:-} b=${median_ms[bocker]:-}
cs=${median_ms[crun_seccomp]:-}
bn=${median_ms[bocker_none]:-} bu=${median_ms[bocker_unconfined]:-}
[[ -n "$f" ]] && row "floor (unshare -fmuip + chroot)" "$f" ""
[[ -n "$fn" ]] && row "floor with netns (unshare -fmuipn)" "$fn" "${f:+$(ratio "$fn" "$f") floor}"
[[ -n "$c" ]] && row "$crun_label (no network)" "$c" "${f:+$(ratio "$c" "$f") floor}"
[[ -n "$cs" ]] && row "$crun_label with seccomp (no network)" "$cs" "${f:+$(ratio "$cs" "$f") floor}"
if [[ -n "$bn" ]]; then
    row "${bocker_label/run/run --network none} (seccomp)" "$bn" \
        "${f:+$(ratio "$bn" "$f") floor}${c:+, $(ratio "$bn" "$c") crun}${cs:+, $(ratio "$bn" "$cs") crun+seccomp}"
fi
if [[ -n "$bu" ]]; then
    row "${bocker_label/run/run --network none} (seccomp=unconfined)" "$bu" \
        "${f:+$(ratio "$bu" "$f") floor}${c:+, $(ratio "$bu" "$c") crun}"
fi
if [[ -n "$b" ]]; then
    row "$bocker_label, bridge" "$b" "${fn:+$(ratio "$b" "$fn") floor-net}${c:+, $(ratio "$b" "$c") crun}"
fi
if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]} (see above)" >&2
    exit 1
fi
