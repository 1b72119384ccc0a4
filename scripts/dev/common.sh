# shellcheck shell=bash
# Helpers shared by scripts/setup.sh, scripts/test.sh and scripts/bench.sh (sourced, not run).

# The repository root, whatever the caller's cwd.
# shellcheck disable=SC2034  # used by the scripts that source this file
BOCKER_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Puts the Swift toolchain on PATH (/opt/swift/usr/bin if swift is not there yet); fails clearly.
use_swift() {
    if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null 2>&1 || {
        echo "error: no Swift toolchain (swift not on PATH, no /opt/swift/usr/bin/swift)." >&2
        echo "       Install one from swift.org into /opt/swift (see the Vagrantfile's comment)." >&2
        return 1
    }
}

# Fails with a message unless running as root.
need_root() {
    ((EUID == 0)) || {
        echo "error: $1 must run as root (try: sudo $1): bocker needs namespaces, mounts and cgroups." >&2
        exit 1
    }
}

# True when `BIN run` accepts --rm (its help or usage mentions it).
bocker_has_rm() {
    local bin=$1 help
    help=$({ "$bin" run --help; "$bin" help run; "$bin" --help; } 2>&1 </dev/null || true)
    grep -q -- '--rm' <<<"$help"
}

# Prints the container ids (ps_…) that `BIN ps` lists, one per line.
bocker_ps_ids() {
    "$1" ps </dev/null 2>/dev/null | awk '$1 ~ /^ps_[0-9a-f]+$/ { print $1 }' || true
}
