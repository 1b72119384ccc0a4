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

# Runs the calling script as root: as it is when root already (a root-only machine has no sudo),
# else again through sudo with this PATH (so a Swift toolchain on the user's PATH is found) and
# bocker's variables. Usage: need_root "$0" "$@"
need_root() {
    local script=$1
    shift
    ((EUID == 0)) && return 0
    command -v sudo >/dev/null 2>&1 || {
        echo "error: $script must run as root (bocker needs namespaces, mounts and cgroups), and there is no sudo." >&2
        exit 1
    }
    local keep=("PATH=$PATH") v
    for v in BOCKER_ROOT BOCKER_PREFIX BOCKER_DRIVER BOCKER_BIN CI; do
        [[ -n "${!v:-}" ]] && keep+=("$v=${!v}")
    done
    exec sudo env "${keep[@]}" "$script" "$@"
}

# Under sudo, gives the files root made in the checkout (.build, caches) back to the user who
# ran sudo, so that their own builds keep working. Call once; it runs at exit.
give_back_checkout() {
    [[ -n "${SUDO_UID:-}" && "${SUDO_UID}" != 0 ]] || return 0
    # Only a checkout that user owns.
    [[ "$(stat -c %u "$BOCKER_REPO")" == "$SUDO_UID" ]] || return 0
    trap 'find "$BOCKER_REPO" -xdev -user 0 -exec chown -h "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" {} + 2>/dev/null || true' EXIT
}

# Runs the calling benchmark again in a private network namespace with only loopback (up), so
# its bridges, NAT rules, registries and ports never touch the host's. Usage:
# in_private_netns "$0" "$@" (returns in the namespace; execs before that).
in_private_netns() {
    local script=$1
    shift
    if [[ -z "${BENCH_IN_NETNS:-}" ]]; then
        exec unshare --net -- env BENCH_IN_NETNS=1 bash "$script" "$@"
    fi
    ip link set lo up
}

# Fills DIR with 5,000 small files (50 directories of 100): the many-files layer of the pull and
# push benchmarks.
make_small_files() {
    local d f
    mkdir -p "$1"
    for d in $(seq 1 50); do
        mkdir -p "$1/d$d"
        for f in $(seq 1 100); do echo "file $d/$f" > "$1/d$d/f$f"; done
    done
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

# Timing helpers shared by the benchmarks.
ms() { date +%s%N; }   # nanoseconds (the name is historical)
# The median of the numbers on stdin, one per line (fails on no input).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timeit NAME SETUP-FUNCTION COMMAND...: runs SETUP then COMMAND `$runs` times and records the
# median wall time and the median CPU time (user + sys of the command and its children) in the
# caller's associative arrays `times` and `cpus`. On a shared, loaded machine the wall time
# mostly measures the neighbours; the CPU time is what the work costs.
timeit() {
    local name=$1 setup=$2; shift 2
    local all=() cpu=() i s e c0 c1
    for ((i = 0; i < runs; i++)); do
        $setup
        sync
        c0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
        s=$(ms); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; return 1; }; e=$(ms)
        c1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
        all+=("$(( (e - s) / 1000000 ))")
        cpu+=("$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) ))")
    done
    times[$name]=$(printf '%s\n' "${all[@]}" | median)
    cpus[$name]=$(printf '%s\n' "${cpu[@]}" | median)
    printf '  %-44s median %6s ms wall, %6s ms cpu\n' "$name" "${times[$name]}" "${cpus[$name]}"
}
