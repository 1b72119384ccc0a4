#!/usr/bin/env bash
# Installs the Debian packages in scripts/dev/packages.txt that are missing.
# Fast when everything is installed (dpkg-query only; no apt-get update).
# Usage: scripts/dev/install-packages.sh [-q]     (-q: say nothing when nothing is missing)
set -euo pipefail

list="$(dirname "${BASH_SOURCE[0]}")/packages.txt"
quiet=0
[[ "${1:-}" == "-q" ]] && quiet=1

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list")

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
