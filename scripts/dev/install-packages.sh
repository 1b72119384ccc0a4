#!/usr/bin/env bash
# Installs the Debian packages in scripts/dev/packages.txt that are missing.
# Fast when everything is installed (dpkg-query only; no apt-get update).
# Usage: scripts/dev/install-packages.sh [-q] [--tests]
#   -q        say nothing when nothing is missing
#   --tests   also the packages only the test suite needs (the part of packages.txt after the
#             line "# tests"): a local registry and its tools, which a user does not want
set -euo pipefail

list="$(dirname "${BASH_SOURCE[0]}")/packages.txt"
quiet=0 tests=0
for a in "$@"; do
    case $a in
        -q) quiet=1 ;;
        --tests) tests=1 ;;
        *) echo "install-packages.sh: unknown option $a" >&2; exit 2 ;;
    esac
done

if ((tests)); then
    mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list")
else
    mapfile -t wanted < <(sed -e '/^# tests/,$d' -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list")
fi

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    [[ "$status" == ii* ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    ((quiet)) || echo "packages: all ${#wanted[@]} from $list are installed"
    exit 0
fi

if ((EUID != 0)); then
    echo "packages: missing ${missing[*]}; run as root to install them" >&2
    exit 1
fi

echo "packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
out=/dev/stdout
((quiet)) && out=/dev/null
apt-get update -q </dev/null >"$out"
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >"$out"
echo "packages: done"
