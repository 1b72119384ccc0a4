#!/usr/bin/env bash
# Newcomer setup: installs what bocker needs, builds and installs it, and runs a first container.
# Usage: scripts/setup.sh     (safe to re-run)
#   BOCKER_ROOT   state root (default /var/bocker)
#   BOCKER_PREFIX install prefix (default /usr/local): bin/bocker and share/bocker/busybox-rootfs
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"

need_root "$0" "$@"
give_back_checkout
use_swift
export BOCKER_ROOT=${BOCKER_ROOT:-/var/bocker}
prefix=${BOCKER_PREFIX:-/usr/local}
install_to=$prefix/bin/bocker
# A stable source dir, so a re-run finds the image it made last time instead of adding one.
rootfs=$prefix/share/bocker/busybox-rootfs

echo "==> 1/4 Debian packages, subordinate ids for --userns=auto"
"$BOCKER_REPO/scripts/dev/install-packages.sh"
# --userns=auto takes its ranges from the 'bocker' lines of /etc/subuid and /etc/subgid. Add
# one (2^28 ids from 2^31: 4,096 containers) unless there is one already or it would overlap
# another line; so a re-run changes nothing.
for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if grep -q '^bocker:' "$f"; then
        echo "    $f: keeping its bocker line"
    elif awk -F: -v s=2147483648 -v n=268435456 'NF == 3 && $2 < s + n && s < $2 + $3 { bad = 1 } END { exit !bad }' "$f"; then
        echo "    $f: bocker:2147483648:268435456 would overlap a line there; add a bocker line yourself for --userns=auto" >&2
    else
        echo "bocker:2147483648:268435456" >>"$f"
        echo "    $f: added bocker:2147483648:268435456"
    fi
done

echo "==> 2/4 swift build -c release --static-swift-stdlib ($(swift --version 2>/dev/null | head -n1))"
cd "$BOCKER_REPO"
# The Swift runtime linked in statically: about 3 ms less start-up on every command.
swift build -c release --static-swift-stdlib
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/bocker"
install -D -m 0755 "$bin" "$install_to"
echo "    installed $install_to"

echo "==> 3/4 busybox image (state root $BOCKER_ROOT)"
"$BOCKER_REPO/scripts/dev/make-rootfs.sh" "$rootfs"
img=$("$install_to" images </dev/null 2>/dev/null | grep -F -- "$rootfs" | grep -o 'img_[0-9a-f]\{12\}' | head -n1 || true)
if [[ -n "$img" ]]; then
    echo "    reusing $img (from $rootfs)"
else
    out=$("$install_to" init "$rootfs" </dev/null)
    echo "    $out"
    img=$(grep -o 'Created: img_[0-9a-f]\{12\}' <<<"$out" | head -n1 | cut -d' ' -f2 || true)
    [[ -n "$img" ]] || { echo "error: could not find 'Created: img_…' in bocker init's output" >&2; exit 1; }
fi

echo "==> 4/4 bocker run $img cat /etc/os-release"
if bocker_has_rm "$install_to"; then
    "$install_to" run --rm "$img" cat /etc/os-release </dev/null
else
    # No --rm: remove the container this run made (the ids that were not there before).
    before=$(bocker_ps_ids "$install_to")
    "$install_to" run "$img" cat /etc/os-release </dev/null
    for id in $(bocker_ps_ids "$install_to"); do
        grep -qx -- "$id" <<<"$before" || "$install_to" rm "$id" >/dev/null
    done
fi

echo
echo "bocker is ready: $install_to, image $img (busybox), state in $BOCKER_ROOT."
env=''
[[ "$BOCKER_ROOT" == /var/bocker ]] || env="BOCKER_ROOT=$BOCKER_ROOT "
echo "Try: $env$install_to run $img echo hello      Tests: scripts/test.sh"
