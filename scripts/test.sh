#!/usr/bin/env bash
# Builds bocker and runs its whole test suite (debug), then checks that the tests left nothing behind.
# Usage: scripts/test.sh [swift test args...]     e.g. scripts/test.sh --filter EndToEnd
# Exit status: swift test's; 1 if the tests passed but leaked mounts, loop devices or cgroups.
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"

need_root "$0" "$@"
give_back_checkout
use_swift
"$BOCKER_REPO/scripts/dev/install-packages.sh" -q --tests
cd "$BOCKER_REPO"

# What tests can leak: mounts and loop devices of test roots (/tmp/bocker-*), network
# namespaces, container cgroups.
leftovers() {
    # mountinfo field 5 is the mount point
    awk '$5 ~ "^/tmp/bocker-" { print "mount   " $5 }' /proc/self/mountinfo
    local f dev
    for f in /sys/block/loop*/loop/backing_file; do
        [[ -r "$f" ]] || continue
        dev=${f#/sys/block/}; dev=/dev/${dev%%/*}
        grep -q '^/tmp/bocker-' "$f" && echo "loop    $dev -> $(cat "$f")"
    done
    # network namespaces the tests made (bocker-e2e-*)
    ip netns list 2>/dev/null | awk '$1 ~ /^bocker-e2e-/ { print "netns   " $1 }'
    # cgroup v1 (/sys/fs/cgroup/<controller>/bocker/...) and v2 (/sys/fs/cgroup/bocker/...)
    find /sys/fs/cgroup/bocker /sys/fs/cgroup/*/bocker -mindepth 1 -type d -printf 'cgroup  %p\n' 2>/dev/null
    return 0
}

# Indents a list, folding one container's cgroup dirs (one per hierarchy) into one line.
indent() {
    awk '$1 == "cgroup" { n = split($2, p, "/bocker/"); h = p[1]; sub(".*/", "", h); id = p[n]
                          if (!(id in seen)) order[++k] = id; seen[id] = seen[id] (seen[id] ? "," : "") h; next }
         { print "    " $0 }
         END { for (i = 1; i <= k; i++) print "    cgroup  bocker/" order[i] " (" seen[order[i]] ")" }'
}

before=$(leftovers | sort)
# The shared parent cgroups (bocker/ in each hierarchy) the tests' containers live under: the
# ones this run creates are removed again at the end, once empty.
parents_before=$(ls -d /sys/fs/cgroup/bocker /sys/fs/cgroup/*/bocker 2>/dev/null || true)
if [[ -n "$before" ]]; then
    echo "warning: leftovers from before this run (not counted against it; clean them up by hand):" >&2
    indent <<<"$before" >&2
fi

# The Kubernetes schema validator the kube-export tests use (PyPI, into .build; once).
scripts/dev/kube-validator.sh >/dev/null ||
    echo "warning: kubernetes-validate could not be installed; the kube-export tests will fail" >&2

echo "==> swift build"
swift build
BOCKER_BIN="$(swift build --show-bin-path)/bocker"
export BOCKER_BIN
echo "==> swift test $* (BOCKER_BIN=$BOCKER_BIN)"
rc=0
swift test "$@" || rc=$?

for parent in /sys/fs/cgroup/bocker /sys/fs/cgroup/*/bocker; do
    if [[ -d "$parent" ]] && ! grep -qxF "$parent" <<<"$parents_before"; then
        rmdir "$parent" 2>/dev/null || true   # not empty: a container of another run lives there
    fi
done

# Only what appeared during this run counts: the tests' own roots, not someone's earlier mess.
leaked=$(comm -13 <(echo "$before") <(leftovers | sort) | sed '/^$/d')
if [[ -n "$leaked" ]]; then
    echo "error: these appeared during the tests and are still there (a test does not clean up;" >&2
    echo "       another bocker test run on this machine at the same time would show here too):" >&2
    indent <<<"$leaked" >&2
    ((rc != 0)) || rc=1
else
    echo "==> no leftover mounts, loop devices or cgroups"
fi
exit "$rc"
