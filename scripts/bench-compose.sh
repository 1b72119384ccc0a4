#!/usr/bin/env bash
# Benchmark (not a test): the YAML layer's overhead. `bocker compose up -d` of a 5-service
# compose file beside `bocker script` of the same project written in Lua (`up --no-wait`, what
# `up -d` does), in the same run, alternating; then the same for the translation alone
# (`compose config -q` against the Lua script's `config`, which both read and check the whole
# project without touching a container).
# The project: db (healthcheck) and cache; web and worker wait for db to be healthy; proxy
# waits for web. Ports, a named volume, environment, an .env variable.
# Everything runs in a private network namespace and a temporary state root, removed at the end.
#
# Usage: sudo scripts/bench-compose.sh [-n RUNS]      (default 5; BOCKER_BIN overrides the binary)
# Measured 2026-12-03 (release, 2 shared cores, -n 3): up -d compose / Lua 1.01x; config
# compose / Lua 1.12x (the YAML layer: read, merge, interpolate, check).
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"

runs=5
while (($#)); do
    case $1 in
        -n | --runs) runs=${2:?-n needs a number}; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "bench-compose.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-compose.sh: RUNS must be a positive number" >&2; exit 2; }
need_root "$0" "$@"
in_private_netns "$0" "$@"

bocker=${BOCKER_BIN:-$(command -v bocker || echo "$BOCKER_REPO/.build/release/bocker")}
[[ -x "$bocker" ]] || { echo "error: no bocker binary ($bocker); build one or set BOCKER_BIN" >&2; exit 1; }
work=$(mktemp -d /tmp/bench-compose.XXXXXX)
export BOCKER_ROOT=$work/root   # at once, so that no bocker call here can reach /var/bocker
mkdir -p "$BOCKER_ROOT" "$work/app"

cleanup() {
    set +e
    [[ -f "$work/app/compose.yaml" ]] && (cd "$work/app" && "$bocker" compose down -v -t 1 >/dev/null 2>&1 </dev/null)
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

echo "GREETING=hello" >"$work/app/.env"
cat >"$work/app/compose.yaml" <<YAML
name: bench
x-svc: &svc
  image: $img
  init: true
  stop_grace_period: 1s
services:
  db:
    <<: *svc
    command: sh -c 'touch /data/ready && exec sleep 600'
    volumes: [data:/data]
    healthcheck: {test: test -f /data/ready, interval: 100ms, retries: 100}
  cache:
    <<: *svc
    command: sleep 600
  web:
    <<: *svc
    command: httpd -f -p 80 -h /tmp
    environment: {GREETING: "\${GREETING}"}
    ports: ["8080:80"]
    depends_on: {db: {condition: service_healthy}, cache: {condition: service_started}}
  worker:
    <<: *svc
    command: sleep 600
    volumes: [data:/data]
    depends_on: {db: {condition: service_healthy}}
  proxy:
    <<: *svc
    command: httpd -f -p 81 -h /tmp
    ports: ["8081:81"]
    depends_on: [web]
volumes:
  data:
YAML

cat >"$work/app/project.lua" <<LUA
local project = require "bocker.project"
local p = project.new { name = "bench", stop_timeout = 1 }
p:volume "data"
local function svc(t)
  t.image, t.init, t.stop_timeout = "$img", true, 1
  return t
end
p:service "cache" (svc { command = { "sleep", "600" } })
p:service "db" (svc { command = { "sh", "-c", "touch /data/ready && exec sleep 600" }, volumes = { "data:/data" },
                      healthcheck = { test = { "CMD-SHELL", "test -f /data/ready" }, interval = 0.1, retries = 100 } })
p:service "proxy" (svc { command = { "httpd", "-f", "-p", "81", "-h", "/tmp" }, ports = { "8081:81" }, depends_on = { "web" } })
p:service "web" (svc { command = { "httpd", "-f", "-p", "80", "-h", "/tmp" }, env = { GREETING = "hello" }, ports = { "8080:80" },
                       depends_on = { db = "service_healthy", cache = "service_started" } })
p:service "worker" (svc { command = { "sleep", "600" }, volumes = { "data:/data" }, depends_on = { db = "service_healthy" } })
return p:main(arg)
LUA


# seconds CMD...: how long one command takes (its output in up.log; a failure ends the run).
seconds() {
    local t0 t1
    t0=$(date +%s%N)
    (cd "$work/app" && "$@") >"$work/up.log" 2>&1 </dev/null || { cat "$work/up.log" >&2; return 1; }
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}
down() { (cd "$work/app" && "$bocker" compose down -v -t 1 >/dev/null </dev/null); }

cu=() lu=() cc=() lc=()
for ((i = 1; i <= runs; i++)); do
    c=$(seconds "$bocker" compose up -d) && down || exit 1
    l=$(seconds "$bocker" script project.lua up --no-wait) && down || exit 1
    cq=$(seconds "$bocker" compose config -q) || exit 1
    lq=$(seconds "$bocker" script project.lua config) || exit 1
    echo "    run $i: compose up -d ${c}s, script up ${l}s; compose config -q ${cq}s, script config ${lq}s"
    cu+=("$c") lu+=("$l") cc+=("$cq") lc+=("$lq")
done
mcu=$(printf '%s\n' "${cu[@]}" | median)
mlu=$(printf '%s\n' "${lu[@]}" | median)
mcc=$(printf '%s\n' "${cc[@]}" | median)
mlc=$(printf '%s\n' "${lc[@]}" | median)
echo
echo "median of $runs runs, 5 services (db healthy at once; web and worker wait for it), $(nproc) cores, $(uname -r)"
printf '  %-28s %7.3f s\n' "compose up -d" "$mcu" "script project.lua up" "$mlu" "compose config -q" "$mcc" "script project.lua config" "$mlc"
awk -v a="$mcu" -v b="$mlu" 'BEGIN { printf "  up: compose / Lua          %7.2fx\n", a / b }'
awk -v a="$mcc" -v b="$mlc" 'BEGIN { printf "  config: compose / Lua      %7.2fx (the YAML layer: read, merge, interpolate, check)\n", a / b }'
